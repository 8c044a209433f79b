//! Short-lived registry tokens from a corporate OIDC / OAuth 2.0 endpoint.
//!
//! For a `get`: look in the cross-run cache; if there is no fresh token, take
//! the single-flight lock, look again (another process may just have
//! refreshed), find the CI identity, exchange it, store the result, and
//! answer Cargo with the real expiry. A token that is past its refresh point
//! but not expired is still served when the exchange fails; an expired one
//! never is.

use std::time::Duration;

use anyhow::{Context as _, anyhow};

use crate::cache::{self, Entry, FileStore, Store};
use crate::keychain::Keychain;
use crate::registry::Registry;
use crate::secret::Token;
use crate::source::env::Environment;

pub mod exchange;
pub mod http;
pub mod identity;
pub mod settings;

use settings::{CacheMode, ClientSecretSource, Grant, OidcSettings};

/// Which scope a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationClass {
    /// Index and download reads.
    Read,
    /// Publish, yank, unyank, owners.
    Publish,
}

/// A token for Cargo, with its expiry in Unix seconds when known.
#[derive(Debug)]
pub struct Obtained {
    /// The registry token.
    pub token: Token,
    /// When it expires.
    pub expires_at: Option<i64>,
}

/// What the OIDC source needs from the outside world.
pub struct Context<'a> {
    /// The environment (CI variables, client secret variables).
    pub env: &'a dyn Environment,
    /// The keychain (cache, client secret).
    pub keychain: &'a dyn Keychain,
    /// The keychain deadline for a `get`.
    pub keychain_timeout: Duration,
    /// The file store (cache files and locks).
    pub files: &'a dyn Fn() -> anyhow::Result<FileStore>,
    /// The clock, in Unix seconds.
    pub now: &'a dyn Fn() -> i64,
}

/// A short-lived token for `registry`, or `Ok(None)` when this environment
/// has no identity to exchange (so the next source is tried).
pub fn get(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    let scope = match class {
        OperationClass::Publish => settings
            .publish_scope
            .as_deref()
            .or(settings.scope.as_deref()),
        OperationClass::Read => settings.scope.as_deref(),
    };
    let identity = match settings.grant {
        Grant::ClientCredentials => None,
        _ => match identity::locate(settings, cx.env)? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
    };
    let endpoint_id = match &settings.endpoint {
        settings::Endpoint::Token(u) | settings::Endpoint::Discover(u) => u.as_str(),
    };
    let key = cache::key(&[
        registry.index_url,
        endpoint_id,
        &format!("{:?}", settings.grant),
        settings.client_id.as_deref().unwrap_or(""),
        settings.audience.as_deref().unwrap_or(""),
        settings.resource.as_deref().unwrap_or(""),
        scope.unwrap_or(""),
        identity.as_ref().map_or("", |i| i.fingerprint.as_str()),
    ]);
    let (store, cached) = open_cache(settings.cache, cx, &key);
    if let Some(hit) = cached
        .as_ref()
        .filter(|e| e.fresh((cx.now)(), settings.refresh_ahead))
    {
        return Ok(Some(served(hit)));
    }
    // Single flight: wait for a process that is already exchanging, then
    // look again: it may have stored a fresh token meanwhile.
    let files = (cx.files)().ok();
    let _lock = match (&store, &files) {
        (Some(_), Some(files)) => files.lock(&key, settings.timeout * 3),
        _ => None,
    };
    let cached = match store.as_ref().and_then(|s| s.load(&key).ok().flatten()) {
        Some(hit) if hit.fresh((cx.now)(), settings.refresh_ahead) => {
            return Ok(Some(served(&hit)));
        }
        again => again.or(cached),
    };
    let started = (cx.now)();
    match obtain(settings, scope, identity, cx) {
        Ok(issued) => {
            let expires_at = issued.expires_in.map(|s| started + s);
            if let (Some(store), Some(expires_at)) = (&store, expires_at) {
                let entry = Entry {
                    token: issued.token.clone(),
                    obtained_at: started,
                    expires_at,
                };
                if let Err(e) = store.save(&key, &entry) {
                    crate::provider::warn(&format!("could not cache the registry token: {e:#}"));
                }
            }
            Ok(Some(Obtained {
                token: issued.token,
                expires_at,
            }))
        }
        Err(e) => match cached.filter(|c| c.usable((cx.now)())) {
            Some(still_valid) => {
                crate::provider::warn(&format!(
                    "refreshing the registry token failed, using the cached one until it \
                     expires: {e:#}"
                ));
                Ok(Some(served(&still_valid)))
            }
            None => Err(e),
        },
    }
}

fn served(entry: &Entry) -> Obtained {
    Obtained {
        token: entry.token.clone(),
        expires_at: Some(entry.expires_at),
    }
}

/// The cache for this run, and its entry for `key`. In `auto` mode the
/// keychain is used when it answers, else the private file.
fn open_cache<'k>(
    mode: CacheMode,
    cx: &Context<'k>,
    key: &str,
) -> (Option<Store<'k>>, Option<Entry>) {
    let files = || (cx.files)().ok().map(Store::File);
    let store = match mode {
        CacheMode::Off => return (None, None),
        CacheMode::File => files(),
        CacheMode::Keychain | CacheMode::Auto => {
            Some(Store::Keychain(cx.keychain, cx.keychain_timeout))
        }
    };
    let Some(store) = store else {
        return (None, None);
    };
    match store.load(key) {
        Ok(entry) => (Some(store), entry),
        Err(_) if mode == CacheMode::Auto => {
            let files = files();
            let entry = files.as_ref().and_then(|s| s.load(key).ok().flatten());
            (files, entry)
        }
        Err(e) => {
            crate::provider::warn(&format!(
                "the token cache in the OS keychain is unavailable: {e}"
            ));
            (None, None)
        }
    }
}

fn obtain(
    settings: &OidcSettings,
    scope: Option<&str>,
    identity: Option<identity::Identity>,
    cx: &Context<'_>,
) -> anyhow::Result<exchange::Issued> {
    let http = http::Http::new(settings.timeout)?;
    let subject = identity
        .map(|i| {
            let kind = i.kind;
            i.fetch(&http, settings.timeout)
                .with_context(|| format!("getting the CI identity token ({kind:?})"))
        })
        .transpose()?;
    let client_secret = match &settings.client_secret {
        None => None,
        Some(ClientSecretSource::Env(var)) => {
            let value = cx
                .env
                .var_os(var)
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| anyhow!("the client secret variable {var} is not set"))?;
            Some(
                Token::parse(value, &format!("environment variable {var}"))?
                    .ok_or_else(|| anyhow!("the client secret variable {var} is empty"))?,
            )
        }
        Some(ClientSecretSource::Keychain) => {
            let service = client_secret_item(settings);
            Some(
                cx.keychain
                    .read_item(&service, cx.keychain_timeout.max(Duration::from_secs(5)))?
                    .ok_or_else(|| {
                        anyhow!(
                            "no client secret in the OS keychain (item `{service}`); store it with \
                             `cargo-credential-corp client-secret --registry NAME`"
                        )
                    })?,
            )
        }
    };
    let endpoint = exchange::token_endpoint(&http, settings)?;
    exchange::request(
        &http,
        &endpoint,
        &exchange::Request {
            settings,
            scope,
            subject: subject.as_ref(),
            client_secret: client_secret.as_ref(),
        },
    )
}

/// The keychain item holding the client secret for these settings.
pub fn client_secret_item(settings: &OidcSettings) -> String {
    let endpoint = match &settings.endpoint {
        settings::Endpoint::Token(u) | settings::Endpoint::Discover(u) => u,
    };
    format!(
        "cargo-credential-corp-client:{}@{endpoint}",
        settings.client_id.as_deref().unwrap_or("")
    )
}
