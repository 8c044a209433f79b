//! Paste mode, for SSH sessions and remote containers: the person opens the
//! URL wherever they have a browser, and pastes back the address it ended on
//! (the redirect to 127.0.0.1 fails there, but its address holds the code).

use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};

use super::pkce::{Callback, read_callback};
use crate::diag::say;

/// Shows `url` and reads the redirected address (or the bare code) back on
/// the terminal, unechoed (it holds the authorization code), waiting until
/// `deadline` at most.
pub fn run(
    url: &str,
    registry: &str,
    state: &str,
    issuer: Option<&str>,
    deadline: Instant,
) -> anyhow::Result<Callback> {
    say(&format!(
        "To sign in to {registry}, open this URL in a browser on any machine:\n\n  {url}\n\n\
         After signing in, the browser ends on an address starting with http://127.0.0.1 that \
         does not load; copy that whole address."
    ));
    // The terminal read blocks; it runs on a thread so that the wait is
    // bounded (the thread ends with the process).
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(crate::prompt::read_secret(
            "paste the address here (it is not shown)",
        ));
    });
    let wait = deadline.saturating_duration_since(Instant::now());
    let pasted = match rx.recv_timeout(wait) {
        Ok(read) => read.context("paste mode needs a terminal to read the address from")?,
        Err(_) => bail!(
            "nothing was pasted within `login-timeout-secs`; nothing was stored. Run the login \
             again"
        ),
    };
    let pasted = pasted.trim();
    if pasted.is_empty() {
        return Err(anyhow!("nothing was pasted; nothing was stored"));
    }
    match pasted.split_once('?') {
        Some((_, query)) => {
            read_callback(query.split('#').next().unwrap_or(""), Some(state), issuer)
        }
        // A bare code: PKCE still binds it to this sign-in.
        None if !pasted.contains(['&', '=', ' ', '/']) => {
            Ok(Callback::Code(zeroize::Zeroizing::new(pasted.to_owned())))
        }
        None => Err(anyhow!(
            "that is neither the address the browser ended on nor a code; nothing was stored"
        )),
    }
}
