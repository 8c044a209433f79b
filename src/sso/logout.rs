//! `cargo logout` for a registry with an `sso` table: revoke at the IdP,
//! delete here, and say which of the two happened.

use super::grant::Grants;
use super::settings::SsoSettings;
use super::{all_stores, endpoints, forget_tokens, grant_lock, token, who};
use crate::diag::say;
use crate::keychain::Budgeted;
use crate::mint::Context;
use crate::net::http::Http;
use crate::registry::Registry;

/// What `cargo logout` did for the SSO login.
#[derive(Debug, PartialEq, Eq)]
pub enum LoggedOut {
    /// There was no login.
    NotSignedIn,
    /// Revoked at the IdP and deleted here.
    Revoked,
    /// Deleted here only, with the reason it was not revoked.
    DeletedOnly(String),
}

/// Signs out: revokes the refresh token at the IdP when it has a revocation
/// endpoint, deletes it and the cached access tokens, and says which. A
/// stored login that cannot be read is deleted all the same.
pub fn logout(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    cx: &Context<'_>,
) -> anyhow::Result<LoggedOut> {
    let timeout = crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT;
    let keychain = Budgeted::new(cx.keychain, timeout);
    let files = (cx.files)().ok();
    let grants = Grants::new(settings, registry, &keychain, timeout, files.clone());
    let _lock = grant_lock(files.as_ref(), settings, registry, cx.keychain_timeout)?;
    let grant = grants.load()?;
    forget_tokens(
        settings,
        registry,
        &all_stores(settings, &keychain, timeout, files.as_ref()),
    );
    let Some(grant) = grant else {
        // An item that could not be read (damaged, or from a newer version)
        // is removed too; it cannot be revoked without its token.
        return Ok(if grants.remove()? {
            say(&format!(
                "Signed out of {}: a stored login that could not be read was deleted from {} (not \
                 revoked at the identity provider).",
                registry.display_name(),
                grants.describe()
            ));
            LoggedOut::DeletedOnly("the stored login could not be read".to_owned())
        } else {
            LoggedOut::NotSignedIn
        });
    };
    let revoked = (|| -> anyhow::Result<Result<(), String>> {
        let http = Http::new(settings.timeout)?.with_ca_files(&settings.ca_files);
        let endpoints = endpoints(settings, &http, files.as_ref(), (cx.now)())?;
        match &endpoints.revocation {
            Some(endpoint) => {
                token::revoke(&http, endpoint, &settings.client_id, &grant.refresh_token)
            }
            None => Ok(Err(
                "the identity provider has no revocation endpoint".to_owned()
            )),
        }
    })();
    let whom = who(registry, grant.account.as_deref());
    if let Err(e) = grants.remove() {
        let done = match &revoked {
            Ok(Ok(())) => "the login was revoked at the identity provider (it no longer works)",
            _ => "the login was NOT revoked at the identity provider",
        };
        return Err(e.context(format!(
            "signing out of {whom}: {done}, but it could not be deleted from {}",
            grants.describe()
        )));
    }
    let outcome = match revoked {
        Ok(Ok(())) => LoggedOut::Revoked,
        Ok(Err(why)) => LoggedOut::DeletedOnly(why),
        Err(e) => LoggedOut::DeletedOnly(format!("{e:#}")),
    };
    match &outcome {
        LoggedOut::Revoked => say(&format!(
            "Signed out of {whom}: the login was revoked at the identity provider and deleted \
             from {}.",
            grants.describe()
        )),
        LoggedOut::DeletedOnly(why) => say(&format!(
            "Signed out of {whom}: the login was deleted from {}, but NOT revoked at the identity \
             provider ({why}); it stays valid there until it expires.",
            grants.describe()
        )),
        LoggedOut::NotSignedIn => {}
    }
    Ok(outcome)
}
