//! A `get` from the stored sign-in: the cached access token, else one
//! refresh under the login's lock.
//!
//! The refresh token may rotate on every use, and sending one the IdP has
//! already rotated revokes the whole login at many IdPs. So: a refresh only
//! ever happens under the login's lock (whatever scope it is for; `cargo
//! login` takes it too); without the lock a cached token that is still valid
//! is served, or the `get` fails, but the refresh token is not sent. One
//! request, never retried. The refresh token an answer carries is stored
//! before anything else in that answer is checked or used, with a keychain
//! deadline of its own; if it cannot be stored, the old one is deleted (it
//! is dead at the IdP) rather than sent again, or, failing that, recorded
//! as spent ([`super::records`]) and never sent again. `invalid_grant` ends
//! the login: it is removed, if it is still the one that was sent. Any
//! other refusal names `cargo login`; the same refusal of the same refresh
//! token on the next run ends the login too.

use std::time::Duration;

use anyhow::anyhow;

use super::grant::{Grants, StoredLogin};
use super::settings::SsoSettings;
use super::token::{self, Access};
use super::{
    access_key, all_stores, cache_mode, endpoints, forget_tokens, grant_lock, label, scope_for,
    target_params, who,
};
use crate::cache::FileStore;
use crate::diag::warn;
use crate::keychain::{Budgeted, Keychain};
use crate::mint::flight::{self, CachePolicy, Guard, MintError, MintResult};
use crate::mint::{Context, Obtained};
use crate::net::fields::Value;
use crate::net::http::Http;
use crate::protocol::OperationClass;
use crate::registry::Registry;

/// The lifetime assumed for an access token whose answer says none (no
/// `expires_in`, not a JWT): short, so that Cargo does not hold it long, but
/// cached, so that not every request costs a refresh (and a rotation).
pub const ASSUMED_LIFETIME_SECS: i64 = 120;

/// A short-lived token for `registry` from the stored sign-in, or
/// `Ok(None)` when nobody has signed in here yet (the next source is tried).
/// The cache and single flight are [`flight::run`]'s, under the login's
/// own lock.
pub fn get(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    let keychain = Budgeted::new(cx.keychain, cx.keychain_timeout);
    let scope = scope_for(settings, class);
    let key = access_key(settings, registry, scope);
    let policy = CachePolicy {
        mode: cache_mode(settings),
        refresh_ahead: settings.refresh_ahead,
        // Unused: the login's lock has its own wait (grant_lock).
        lock_wait: Duration::ZERO,
    };
    // Another process holds the login (refreshing, or signing in) past
    // every deadline it has, or there is no private place for the lock:
    // the refresh token is never sent unguarded.
    let refused = std::cell::RefCell::new(None);
    let take = |files: Option<&FileStore>| {
        grant_lock(files, settings, registry, cx.keychain_timeout).unwrap_or_else(|e| {
            *refused.borrow_mut() = Some(e);
            None
        })
    };
    let busy = || match refused.borrow_mut().take() {
        Some(e) => e.context(format!(
            "the single sign-on for {} was not refreshed",
            registry.display_name()
        )),
        None => anyhow!(
            "the single sign-on for {} is in use by another cargo process (or its lock file \
             cannot be used); retry in a moment",
            registry.display_name()
        ),
    };
    flight::run(
        policy,
        &key,
        &keychain,
        cx,
        "registry token",
        Guard::Required {
            take: &take,
            busy: &busy,
        },
        |started, files| mint(settings, registry, scope, &keychain, cx, files, started),
        &mut |_| {},
    )
}

/// One refresh of the stored login, under its lock: the access token and
/// its expiry, `None` when nobody has signed in, or why not.
fn mint(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    scope: Option<&str>,
    keychain: &dyn Keychain,
    cx: &Context<'_>,
    files: Option<&FileStore>,
    started: i64,
) -> MintResult {
    let grants = Grants::new(
        settings,
        registry,
        keychain,
        cx.keychain_timeout,
        files.cloned(),
    );
    let Some(grant) = grants.load()? else {
        return Ok(None);
    };
    let records = grants.records();
    let name = registry.name.unwrap_or("NAME");
    let whom = who(registry, grant.account.as_deref());
    let removed = |removed: bool, said: &'static str| if removed { said } else { "" };
    if records.is_spent(&grant.refresh_token) {
        // Sending it could make the IdP revoke the login (see keep_rotated).
        let ended = end_login(settings, registry, &grants, &grant, keychain, cx, files);
        return Err(MintError::Final(anyhow!(
            "the single sign-on for {whom} cannot be refreshed: in an earlier run the identity \
             provider replaced its refresh token and the new one could not be stored, so the \
             stored one is spent and was not sent{}. Sign in again with `cargo login --registry \
             {name}`",
            removed(ended, "; the stored login was removed"),
        )));
    }
    match refresh(settings, registry, scope, &grant, files, started, cx) {
        Ok(access) => {
            records.clear_refusal();
            let lifetime = access.expires_in.unwrap_or(ASSUMED_LIFETIME_SECS);
            Ok(Some((access.token, Some(started + lifetime))))
        }
        Err(Refresh::Refused(e))
            if !about_what_was_asked(&e.code) && records.refused(&grant.refresh_token, &e.code) =>
        {
            // The same refusal of the same refresh token as on the run
            // before: not a passing failure, the login has ended.
            let ended = end_login(settings, registry, &grants, &grant, keychain, cx, files);
            Err(MintError::Final(anyhow!(
                "the single sign-on for {whom} has ended: the identity provider refused its \
                 refresh again ({e}){}. Sign in again with `cargo login --registry {name}`",
                removed(ended, ", so the stored login was removed"),
            )))
        }
        Err(Refresh::Refused(e)) => {
            let e = if about_what_was_asked(&e.code) {
                anyhow!(
                    "the identity provider refused the refresh: {e}. Check the `sso` table's \
                     `scope`, `publish-scope`, `resource` and `audience`; if the login lacks what \
                     they ask for, sign in again with `cargo login --registry {name}`"
                )
            } else {
                anyhow!(
                    "the identity provider refused the refresh: {e}. If the login has ended \
                     there, sign in again with `cargo login --registry {name}` (the next \
                     identical refusal removes it); else check the `sso` table's `client-id`, \
                     `scope` and endpoints"
                )
            };
            Err(MintError::Passing(e.context(format!(
                "could not refresh the single sign-on for {whom}"
            ))))
        }
        Err(Refresh::Ended(why)) => {
            // The login is dead at the IdP: drop it (if it is still the one
            // that was sent) and the tokens it gave.
            let ended = end_login(settings, registry, &grants, &grant, keychain, cx, files);
            Err(MintError::Final(anyhow!(
                "the single sign-on for {whom} has ended ({why}){}. Sign in again with `cargo \
                 login --registry {name}`",
                removed(ended, "; the stored login was removed"),
            )))
        }
        Err(Refresh::Failed(e)) => Err(MintError::Passing(
            e.context(format!("could not refresh the single sign-on for {whom}")),
        )),
    }
}

/// Whether a refusal is about the scope or resource asked for rather than
/// the login: it never ends the login (a publish the login may not do must
/// not cost the reads it may).
fn about_what_was_asked(code: &str) -> bool {
    matches!(code, "invalid_scope" | "invalid_target")
}

/// Removes the login `grant` (if it is still the one stored) and the
/// tokens it gave; whether it was removed.
fn end_login(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    grants: &Grants<'_>,
    grant: &StoredLogin,
    keychain: &dyn Keychain,
    cx: &Context<'_>,
    files: Option<&FileStore>,
) -> bool {
    let removed = match grants.load() {
        Ok(Some(now_stored)) if now_stored.refresh_token != grant.refresh_token => false,
        _ => grants.remove().unwrap_or(false),
    };
    let stores = all_stores(settings, keychain, cx.keychain_timeout, files);
    forget_tokens(settings, registry, &stores);
    removed
}

/// Why a refresh gave no token.
enum Refresh {
    /// The login is over (`invalid_grant`): sign in again.
    Ended(String),
    /// Another refusal (4xx) of the refresh: the login may have ended (some
    /// IdPs answer `invalid_request` to a refresh token they no longer
    /// know), or the settings are wrong.
    Refused(token::OAuthError),
    /// Anything else (network, IdP failing): the login may still be good.
    Failed(anyhow::Error),
}

fn refresh(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    scope: Option<&str>,
    grant: &StoredLogin,
    files: Option<&FileStore>,
    now: i64,
    cx: &Context<'_>,
) -> Result<Access, Refresh> {
    let http = Http::new(settings.timeout)
        .map_err(Refresh::Failed)?
        .with_ca_files(&settings.ca_files);
    let endpoints = endpoints(settings, &http, files, now).map_err(Refresh::Failed)?;
    let mut form = vec![
        ("grant_type", Value::Plain("refresh_token")),
        ("refresh_token", Value::Secret(&grant.refresh_token)),
        ("client_id", Value::Plain(&settings.client_id)),
    ];
    if let Some(scope) = scope {
        form.push(("scope", Value::Plain(scope)));
    }
    let target = target_params(settings);
    form.extend(target.iter().map(|(k, v)| (*k, Value::Plain(v))));
    // One request, never repeated (see the module documentation).
    let answer = token::request(&http, &endpoints.token, &form).map_err(Refresh::Failed)?;
    let tokens = match answer {
        Ok(tokens) => tokens,
        Err(e) if e.code == "invalid_grant" => {
            return Err(Refresh::Ended(format!(
                "the identity provider answered invalid_grant: the login expired, was revoked, or \
                 was replaced{}",
                e.description.map(|d| format!(" ({d})")).unwrap_or_default()
            )));
        }
        // Not a refusal: the IdP is busy or failing.
        Err(e)
            if e.status == 429
                || e.status >= 500
                || matches!(e.code.as_str(), "temporarily_unavailable" | "slow_down") =>
        {
            return Err(Refresh::Failed(anyhow!(
                "the identity provider did not refresh: {e}"
            )));
        }
        Err(e) => return Err(Refresh::Refused(e)),
    };
    // Rotation: the new refresh token is kept before the rest of the answer
    // is checked or the access token used.
    crate::trace::debug(|| {
        format!(
            "sso: refreshed; the IdP {} the refresh token",
            match &tokens.refresh {
                Some(r) if *r != grant.refresh_token => "rotated",
                _ => "kept",
            }
        )
    });
    if let Some(rotated) = tokens.refresh
        && rotated != grant.refresh_token
    {
        let _ = keep_rotated(settings, registry, grant, rotated, files, now, cx);
    }
    tokens.access.map_err(Refresh::Failed)
}

/// The keychain deadline for keeping a rotated refresh token (or deleting
/// the spent one): its own, at least this long, whatever is left of the
/// `get`'s `keychain-timeout-ms` budget.
pub const KEEP_DEADLINE: Duration = Duration::from_secs(5);

/// What became of a rotated refresh token that could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// Not stored; the old (spent) one was deleted.
    Removed,
    /// Neither stored nor deleted; the old one is recorded as spent
    /// ([`super::records`]), so it is never sent again.
    MarkedSpent,
    /// Neither stored nor deleted nor recorded.
    Lost,
}

/// Stores a rotated refresh token on the keychain itself, with a deadline
/// of its own ([`KEEP_DEADLINE`]; not what is left of the `get`'s budget,
/// and even after an earlier call of the `get` timed out). If it cannot be
/// stored, the old one is deleted: it is dead at the IdP, and sending it
/// again would make the IdP revoke the login. If that fails too, the old
/// one is recorded as spent ([`super::records`]). `None` when it was
/// stored, else what became of it (and the warning says so).
fn keep_rotated(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    grant: &StoredLogin,
    rotated: crate::secret::Token,
    files: Option<&FileStore>,
    now: i64,
    cx: &Context<'_>,
) -> Option<Kept> {
    let timeout = cx.keychain_timeout.max(KEEP_DEADLINE);
    let keychain = crate::keychain::with_own_deadline(cx.keychain);
    let grants = Grants::new(settings, registry, keychain, timeout, files.cloned());
    let next = StoredLogin {
        refresh_token: rotated,
        account: grant.account.clone(),
        subject: grant.subject.clone(),
    };
    let Err(e) = grants.save(&next, now, &label(registry, grant.account.as_deref())) else {
        return None;
    };
    let kept = match grants.remove() {
        Ok(_) => Kept::Removed,
        Err(_) => match grants.records().mark_spent(&grant.refresh_token) {
            Ok(()) => Kept::MarkedSpent,
            Err(_) => Kept::Lost,
        },
    };
    warn(&format!(
        "the identity provider replaced the refresh token of the single sign-on for {}, and \
         the new one could not be stored ({e:#}); {}. This cargo run goes on; sign in again \
         with `cargo login --registry {}`",
        registry.display_name(),
        kept_message(kept),
        registry.name.unwrap_or("NAME")
    ));
    Some(kept)
}

fn kept_message(kept: Kept) -> &'static str {
    match kept {
        Kept::Removed => "the login was removed",
        Kept::MarkedSpent => {
            "the login could not be removed either, and is recorded as spent: \
             it will not be sent again"
        }
        Kept::Lost => {
            "the login could neither be removed nor recorded as spent: the next cargo run will \
             send the spent refresh token and the identity provider may revoke the login, so \
             sign in again now"
        }
    }
}

#[cfg(test)]
#[path = "refresh_tests.rs"]
mod tests;
