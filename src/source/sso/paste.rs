//! Paste mode, for SSH sessions and remote containers: the person opens the
//! URL wherever they have a browser, and pastes back the address it ended on
//! (the redirect to 127.0.0.1 fails there, but its address holds the code).

use anyhow::{Context as _, anyhow};

use super::pkce::{Callback, read_callback};
use crate::diag::say;

/// Shows `url` and reads the redirected address (or the bare code) back on
/// the terminal, unechoed (it holds the authorization code).
pub fn run(
    url: &str,
    registry: &str,
    state: &str,
    issuer: Option<&str>,
) -> anyhow::Result<Callback> {
    say(&format!(
        "To sign in to {registry}, open this URL in a browser on any machine:\n\n  {url}\n\n\
         After signing in, the browser ends on an address starting with http://127.0.0.1 that \
         does not load; copy that whole address."
    ));
    let pasted = crate::prompt::read_secret("paste the address here (it is not shown)")
        .context("paste mode needs a terminal to read the address from")?;
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
