//! A `get` from the stored sign-in: the cached access token, else one
//! refresh under the login's lock.
//!
//! The refresh token may rotate on every use, and sending one the IdP has
//! already rotated revokes the whole login at many IdPs. So: a refresh only
//! ever happens under the login's lock (whatever scope it is for; `cargo
//! login` takes it too); without the lock a cached token that is still valid
//! is served, or the `get` fails, but the refresh token is not sent. One
//! request, never retried. The refresh token an answer carries is stored
//! before anything else in that answer is checked or used; if it cannot be
//! stored, the old one is deleted (it is dead at the IdP) rather than sent
//! again. `invalid_grant` ends the login: it is removed, if it is still the
//! one that was sent.

use std::time::Duration;

use anyhow::{anyhow, bail};

use super::grant::{Grant, Grants};
use super::settings::SsoSettings;
use super::token::{self, Access};
use super::{
    access_key, all_stores, cache_mode, endpoints, forget_tokens, grant_lock, label, scope_for,
    target_params, who,
};
use crate::cache::{Entry, FileStore};
use crate::diag::warn;
use crate::keychain::Budgeted;
use crate::mint::flight::open_cache;
use crate::mint::{Context, Obtained};
use crate::net::http::Http;
use crate::protocol::OperationClass;
use crate::registry::Registry;

/// The lifetime assumed for an access token whose answer says none (no
/// `expires_in`, not a JWT): short, so that Cargo does not hold it long, but
/// cached, so that not every request costs a refresh (and a rotation).
pub const ASSUMED_LIFETIME_SECS: i64 = 120;

/// A short-lived token for `registry` from the stored sign-in, or
/// `Ok(None)` when nobody has signed in here yet (the next source is tried).
pub fn get(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    let keychain = Budgeted::new(cx.keychain, cx.keychain_timeout);
    let scope = scope_for(settings, class);
    let key = access_key(settings, registry, scope);
    let (store, cached) = open_cache(cache_mode(settings), &keychain, cx, &key);
    let now = (cx.now)();
    if let Some(hit) = cached
        .as_ref()
        .filter(|e| e.fresh(now, settings.refresh_ahead))
    {
        return Ok(Some(served(hit)));
    }
    let files = (cx.files)().ok();
    let Some(_lock) = grant_lock(files.as_ref(), settings, registry, cx.keychain_timeout) else {
        // Another process holds the login (refreshing, or signing in) past
        // every deadline it has, or there is no private place for the lock:
        // never send the refresh token unguarded.
        if let Some(still_valid) = cached.filter(|c| c.usable((cx.now)())) {
            return Ok(Some(served(&still_valid)));
        }
        bail!(
            "the single sign-on for {} is in use by another cargo process (or its lock file in \
             the cache folder cannot be used); retry in a moment",
            registry.display_name()
        );
    };
    // Another process may have refreshed while this one waited.
    let cached = match crate::cache::look_again(
        store.as_ref(),
        &key,
        (cx.now)(),
        settings.refresh_ahead,
        cached,
    ) {
        Ok(hit) => return Ok(Some(served(&hit))),
        Err(best) => best,
    };
    let grants = Grants::new(
        settings,
        registry,
        &keychain,
        cx.keychain_timeout,
        files.clone(),
    );
    let Some(grant) = grants.load()? else {
        return Ok(None);
    };
    let started = (cx.now)();
    match refresh(
        settings,
        registry,
        scope,
        &grant,
        files.as_ref(),
        started,
        cx,
    ) {
        Ok(access) => {
            let lifetime = access.expires_in.unwrap_or(ASSUMED_LIFETIME_SECS);
            let expires_at = started + lifetime;
            if let Some(store) = &store {
                let entry = Entry {
                    token: access.token.clone(),
                    obtained_at: started,
                    expires_at,
                };
                if let Err(e) = store.save(&key, &entry) {
                    warn(&format!("could not cache the registry token: {e:#}"));
                }
            }
            Ok(Some(Obtained {
                token: access.token,
                expires_at: Some(expires_at),
            }))
        }
        Err(Refresh::Ended(why)) => {
            // The login is dead at the IdP: drop it (if it is still the one
            // that was sent) and the tokens it gave.
            let removed = match grants.load() {
                Ok(Some(now_stored))
                    if now_stored.refresh_token.expose() != grant.refresh_token.expose() =>
                {
                    false
                }
                _ => grants.remove().unwrap_or(false),
            };
            let stores = all_stores(settings, &keychain, cx.keychain_timeout, files.as_ref());
            forget_tokens(settings, registry, &stores);
            bail!(
                "the single sign-on for {} has ended ({why}){}. Sign in again with `cargo login \
                 --registry {}`",
                who(registry, grant.account.as_deref()),
                if removed {
                    "; the stored login was removed"
                } else {
                    ""
                },
                registry.name.unwrap_or("NAME")
            )
        }
        Err(Refresh::Failed(e)) => match cached.filter(|c| c.usable((cx.now)())) {
            Some(still_valid) => {
                warn(&format!(
                    "refreshing the registry token failed, using the cached one until it \
                     expires: {e:#}"
                ));
                Ok(Some(served(&still_valid)))
            }
            None => Err(e.context(format!(
                "could not refresh the single sign-on for {}",
                who(registry, grant.account.as_deref())
            ))),
        },
    }
}

fn served(entry: &Entry) -> Obtained {
    Obtained {
        token: entry.token.clone(),
        expires_at: Some(entry.expires_at),
    }
}

/// Why a refresh gave no token.
enum Refresh {
    /// The login is over (`invalid_grant`): sign in again.
    Ended(String),
    /// Anything else (network, IdP failing): the login may still be good.
    Failed(anyhow::Error),
}

fn refresh(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    scope: Option<&str>,
    grant: &Grant,
    files: Option<&FileStore>,
    now: i64,
    cx: &Context<'_>,
) -> Result<Access, Refresh> {
    let http = Http::new(settings.timeout)
        .map_err(Refresh::Failed)?
        .with_ca_files(&settings.ca_files);
    let endpoints = endpoints(settings, &http, files, now).map_err(Refresh::Failed)?;
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", grant.refresh_token.expose()),
        ("client_id", settings.client_id.as_str()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    form.extend(target_params(settings));
    // One request, never repeated (see the module documentation).
    let answer = token::request(
        &http,
        &endpoints.token,
        &form,
        &[grant.refresh_token.expose()],
    )
    .map_err(Refresh::Failed)?;
    let tokens = match answer {
        Ok(tokens) => tokens,
        Err(e) if e.code == "invalid_grant" => {
            return Err(Refresh::Ended(format!(
                "the identity provider answered invalid_grant: the login expired, was revoked, or \
                 was replaced{}",
                e.description.map(|d| format!(" ({d})")).unwrap_or_default()
            )));
        }
        Err(e) => {
            return Err(Refresh::Failed(anyhow!(
                "the identity provider refused the refresh: {e}"
            )));
        }
    };
    // Rotation: the new refresh token is kept before the rest of the answer
    // is checked or the access token used.
    crate::trace::debug(|| {
        format!(
            "sso: refreshed; the IdP {} the refresh token",
            match &tokens.refresh {
                Some(r) if r.expose() != grant.refresh_token.expose() => "rotated",
                _ => "kept",
            }
        )
    });
    if let Some(rotated) = tokens.refresh
        && rotated.expose() != grant.refresh_token.expose()
    {
        keep_rotated(settings, registry, grant, rotated, files, now, cx);
    }
    tokens.access.map_err(Refresh::Failed)
}

/// Stores a rotated refresh token with a keychain deadline of its own (not
/// what is left of the `get`'s budget). If it cannot be stored, the old one
/// is deleted: it is dead at the IdP, and sending it again would make the
/// IdP revoke the login.
fn keep_rotated(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    grant: &Grant,
    rotated: crate::secret::Token,
    files: Option<&FileStore>,
    now: i64,
    cx: &Context<'_>,
) {
    let timeout = cx.keychain_timeout.max(Duration::from_secs(5));
    let grants = Grants::new(settings, registry, cx.keychain, timeout, files.cloned());
    let next = Grant {
        refresh_token: rotated,
        account: grant.account.clone(),
        subject: grant.subject.clone(),
    };
    if let Err(e) = grants.save(&next, now, &label(registry, grant.account.as_deref())) {
        let _ = grants.remove();
        warn(&format!(
            "the identity provider replaced the refresh token of the single sign-on for {}, and \
             the new one could not be stored ({e:#}); the login was removed. This cargo run goes \
             on; sign in again with `cargo login --registry {}`",
            registry.display_name(),
            registry.name.unwrap_or("NAME")
        ));
    }
}
