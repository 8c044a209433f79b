//! The keychain source: the token `cargo login` stored in the OS keychain
//! for this index URL (or one Cargo's own keychain providers stored).

use anyhow::{anyhow, bail};

use super::{Found, Login, Lookup, Note, Request, Source};
use crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT;
use crate::secret::Token;

/// The keychain source.
#[derive(Debug, Clone, Copy)]
pub struct KeychainSource;

impl Source for KeychainSource {
    fn get(&self, request: &Request<'_>) -> anyhow::Result<Lookup> {
        let keychain_timeout = request.settings.keychain_timeout;
        Ok(
            match request
                .keychain
                .read(request.registry.index_url, keychain_timeout)
            {
                Ok(Some(token)) => Lookup::Found(Found::long_lived(token)),
                Ok(None) => Lookup::NONE,
                // No keychain on this machine: like an empty one.
                Err(e) if e.is_unavailable() => Lookup::NONE,
                // Said only if no other source has a token.
                Err(e) => Lookup::Missing {
                    note: Some(Note::Ready(format!(
                        "could not read the OS keychain for {}: {e}",
                        request.registry.display_name()
                    ))),
                },
            },
        )
    }

    fn login(&self, request: &Request<'_>, login: &Login<'_>) -> Option<anyhow::Result<()>> {
        Some(store(request, login))
    }

    fn logout(&self, request: &Request<'_>) -> Option<anyhow::Result<bool>> {
        Some(
            match request
                .keychain
                .remove(request.registry.index_url, INTERACTIVE_KEYCHAIN_TIMEOUT)
            {
                Ok(removed) => Ok(removed),
                Err(e) => Err(anyhow!(e).context(format!(
                    "could not remove the token for {} from the OS keychain",
                    request.registry.display_name()
                ))),
            },
        )
    }
}

/// Stores the token `cargo login` was given (or asks for it on the terminal).
fn store(request: &Request<'_>, login: &Login<'_>) -> anyhow::Result<()> {
    let registry = request.registry;
    let given = match &login.options.token {
        Some(token) => token.to_owned().expose(),
        None => {
            let message = match login.options.login_url {
                Some(url) => format!(
                    "paste the token for {} (from {url})",
                    registry.display_name()
                ),
                None => format!("paste the token for {}", registry.display_name()),
            };
            std::mem::take(&mut *crate::prompt::read_token(&message)?)
        }
    };
    let Some(token) = Token::parse(given, "`cargo login`").map_err(|e| anyhow!(e))? else {
        bail!(
            "no token was given; pass it on standard input (`cargo login --registry {}`, then \
             paste it) or as an argument",
            registry.display_name()
        );
    };
    let label = format!("Cargo registry token: {}", registry.display_name());
    request
        .keychain
        .store(
            registry.index_url,
            &label,
            &token,
            INTERACTIVE_KEYCHAIN_TIMEOUT,
        )
        .map_err(|e| {
            anyhow!(e).context(format!(
                "could not store the token for {} in the OS keychain (nothing was written \
                 anywhere else)",
                registry.display_name()
            ))
        })
}
