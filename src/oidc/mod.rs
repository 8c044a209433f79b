//! Short-lived registry tokens from a corporate OIDC / OAuth 2.0 endpoint.
//!
//! For a `get`: find the CI identity (running an `identity-command` now) and
//! read the client secret, which the cache key covers; look in the
//! cross-run cache; if there is no fresh token, take the single-flight lock,
//! look again (another process may just have refreshed), exchange, store the
//! result, and answer Cargo with the real expiry. A token that is past its
//! refresh point but not expired is still served when the exchange fails; an
//! expired one never is. All keychain calls of one `get` share one
//! `keychain-timeout-ms` budget.

use std::time::Duration;

use anyhow::{Context as _, anyhow};

use crate::cache::{self, Entry, FileStore, Store};
use crate::keychain::{Budgeted, Keychain};
use crate::registry::Registry;
use crate::secret::Token;
use crate::source::env::Environment;

pub mod aws;
pub mod codeartifact;
pub mod command;
pub mod crates_io;
pub mod discovery;
pub mod exchange;
pub mod http;
pub mod identity;
pub mod network;
pub mod settings;
mod tls;

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
    /// The keychain budget of a `get`: all keychain calls made here share it.
    pub keychain_timeout: Duration,
    /// The file store (cache files and locks).
    pub files: &'a dyn Fn() -> anyhow::Result<FileStore>,
    /// The clock, in Unix seconds.
    pub now: &'a dyn Fn() -> i64,
    /// The registry's own token variables (`env = [...]`): an identity
    /// command does not get them.
    pub token_vars: &'a [String],
}

/// A short-lived token for `registry`, or `Ok(None)` when this environment
/// has no identity to exchange (so the next source is tried).
pub fn get(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    if settings.grant == Grant::CratesIoTrustedPublishing {
        return crates_io::get(settings, registry, class, cx);
    }
    if settings.grant == Grant::AwsCodeartifact {
        return codeartifact::get(settings, registry, class, cx);
    }
    get_with(settings, registry, class, cx, &mut |_| {})
}

/// What a successful exchange produced, for [`get_with`]'s caller.
pub(crate) struct Minted<'a> {
    /// The cache it was stored in and the entry stored (`None`: not stored).
    pub stored: Option<(&'a Store<'a>, &'a Entry)>,
    /// Its cache key.
    pub key: &'a str,
    /// The cached token it replaces, if there was one.
    pub superseded: Option<&'a Entry>,
}

/// [`get`] (without the presets' own steps), calling `on_mint` after each
/// successful exchange, once the token is stored.
pub(crate) fn get_with(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
    on_mint: &mut dyn FnMut(Minted<'_>),
) -> anyhow::Result<Option<Obtained>> {
    let keychain = Budgeted::new(cx.keychain, cx.keychain_timeout);
    let scope = match class {
        OperationClass::Publish => settings
            .publish_scope
            .as_deref()
            .or(settings.scope.as_deref()),
        OperationClass::Read => settings.scope.as_deref(),
    };
    // Client credentials with a secret need no CI identity; every other
    // grant (and a client assertion) starts from one.
    let identity = if settings.needs_identity() {
        match identity::locate(settings, cx.env)? {
            Some(id) => {
                crate::trace::debug(|| format!("oidc: CI identity from {:?}", id.kind));
                Some(id)
            }
            None => {
                crate::trace::debug(|| "oidc: no CI identity in this environment".to_owned());
                return Ok(None);
            }
        }
    } else {
        None
    };
    // The cache key covers what the token is issued for: the client secret
    // and the identity itself (an identity command's output), so both are
    // had before the cache is looked at.
    let client_secret = client_secret(settings, cx, &keychain)?;
    let runner = runner(settings, cx, client_secret.as_ref());
    let identity = identity.map(|i| i.resolve(&runner)).transpose()?;
    let secret_digest = client_secret
        .as_ref()
        .map(|s| cache::key(&["client-secret", s.expose()]));
    let key = cache_key(
        settings,
        registry,
        scope,
        identity.as_ref().map(|i| i.fingerprint.as_str()),
        secret_digest.as_deref(),
    );
    let call = |started: i64, files: Option<&FileStore>| {
        // The discovery document is cached with the tokens (not with `cache = "off"`).
        let discovery_cache = files.filter(|_| settings.cache != CacheMode::Off);
        let call = Call {
            settings,
            scope,
            client_secret: client_secret.as_ref(),
            runner: &runner,
            discovery_cache,
            now: started,
        };
        obtain(&call, identity).map(|issued| (issued.token, issued.expires_in.map(|s| started + s)))
    };
    cached_exchange(
        settings,
        &key,
        &keychain,
        cx,
        "registry token",
        call,
        on_mint,
    )
}

/// The cross-run cache and single flight around one exchange: a fresh
/// cached token for `key` is served at once; otherwise, under the
/// single-flight lock for `key`, the cache is looked at again (another
/// process may just have exchanged), then `exchange(started, files)` runs
/// and gives the token and its expiry; the token is stored (when it has an
/// expiry) and `on_mint` told. When the exchange fails, a cached token that
/// has not expired is served instead, with a warning naming `what`.
pub(crate) fn cached_exchange(
    settings: &OidcSettings,
    key: &str,
    keychain: &dyn Keychain,
    cx: &Context<'_>,
    what: &str,
    exchange: impl FnOnce(i64, Option<&FileStore>) -> anyhow::Result<(Token, Option<i64>)>,
    on_mint: &mut dyn FnMut(Minted<'_>),
) -> anyhow::Result<Option<Obtained>> {
    let (store, cached) = open_cache(settings.cache, keychain, cx, key);
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
        (Some(_), Some(files)) => files.lock(key, settings.timeout * 3),
        _ => None,
    };
    let cached = match cache::look_again(
        store.as_ref(),
        key,
        (cx.now)(),
        settings.refresh_ahead,
        cached,
    ) {
        Ok(hit) => return Ok(Some(served(&hit))),
        Err(best) => best,
    };
    let started = (cx.now)();
    match exchange(started, files.as_ref()) {
        Ok((token, expires_at)) => {
            let mut stored = None;
            if let (Some(store), Some(expires_at)) = (&store, expires_at) {
                let entry = Entry {
                    token: token.clone(),
                    obtained_at: started,
                    expires_at,
                };
                match store.save(key, &entry) {
                    Ok(()) => stored = Some((store, entry)),
                    Err(e) => {
                        crate::diag::warn(&format!("could not cache the registry token: {e:#}"))
                    }
                }
            }
            on_mint(Minted {
                stored: stored.as_ref().map(|(store, entry)| (*store, entry)),
                key,
                superseded: cached.as_ref(),
            });
            Ok(Some(Obtained { token, expires_at }))
        }
        Err(e) => match cached.filter(|c| c.usable((cx.now)())) {
            Some(still_valid) => {
                crate::diag::warn(&format!(
                    "refreshing the {what} failed, using the cached one until it expires: {e:#}"
                ));
                Ok(Some(served(&still_valid)))
            }
            None => Err(e),
        },
    }
}

/// The cache key of a token: a digest of everything it was issued for (the
/// registry, endpoint, grant, client, audience, resource, scope, the CI
/// identity's fingerprint and the client secret's digest).
pub(crate) fn cache_key(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    scope: Option<&str>,
    identity_fingerprint: Option<&str>,
    secret_digest: Option<&str>,
) -> String {
    let endpoint_id = match &settings.endpoint {
        settings::Endpoint::Token(u) | settings::Endpoint::Discover(u) => u.as_str(),
    };
    cache::key(&[
        registry.index_url,
        endpoint_id,
        &format!("{:?}", settings.grant),
        settings.client_id.as_deref().unwrap_or(""),
        settings.audience.as_deref().unwrap_or(""),
        settings.resource.as_deref().unwrap_or(""),
        scope.unwrap_or(""),
        identity_fingerprint.unwrap_or(""),
        secret_digest.unwrap_or(""),
    ])
}

fn served(entry: &Entry) -> Obtained {
    Obtained {
        token: entry.token.clone(),
        expires_at: Some(entry.expires_at),
    }
}

/// The cache for this run, and its entry for `key`. In `auto` mode the
/// keychain is used when it answers, else the private file.
pub(crate) fn open_cache<'k>(
    mode: CacheMode,
    keychain: &'k dyn Keychain,
    cx: &Context<'_>,
    key: &str,
) -> (Option<Store<'k>>, Option<Entry>) {
    let files = || (cx.files)().ok().map(Store::File);
    let store = match mode {
        CacheMode::Off => return (None, None),
        CacheMode::File => files(),
        CacheMode::Keychain | CacheMode::Auto => {
            Some(Store::Keychain(keychain, cx.keychain_timeout))
        }
    };
    let Some(store) = store else {
        return (None, None);
    };
    let loaded = store.load(key, (cx.now)());
    crate::trace::debug(|| {
        let kind = match store {
            Store::File(_) => "file",
            Store::Keychain(..) => "keychain",
        };
        let what = match &loaded {
            Ok(Some(e)) if e.usable((cx.now)()) => {
                format!("a token expiring in {} s", e.expires_at - (cx.now)())
            }
            Ok(Some(_)) => "an expired token".to_owned(),
            Ok(None) => "nothing".to_owned(),
            Err(e) => format!("unavailable ({e})"),
        };
        format!("cache ({kind}): {what}")
    });
    match loaded {
        Ok(entry) => (Some(store), entry),
        Err(_) if mode == CacheMode::Auto => {
            let files = files();
            let entry = files
                .as_ref()
                .and_then(|s| s.load(key, (cx.now)()).ok().flatten());
            (files, entry)
        }
        Err(e) => {
            crate::diag::warn(&format!(
                "the token cache in the OS keychain is unavailable: {e}"
            ));
            (None, None)
        }
    }
}

/// The client secret, when the settings name one.
fn client_secret(
    settings: &OidcSettings,
    cx: &Context<'_>,
    keychain: &dyn Keychain,
) -> anyhow::Result<Option<Token>> {
    match &settings.client_secret {
        None => Ok(None),
        Some(ClientSecretSource::Env(var)) => {
            let value = cx
                .env
                .var_os(var)
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| anyhow!("the client secret variable {var} is not set"))?;
            Ok(Some(
                Token::parse(value, &format!("environment variable {var}"))?
                    .ok_or_else(|| anyhow!("the client secret variable {var} is empty"))?,
            ))
        }
        Some(ClientSecretSource::Keychain) => {
            let service = client_secret_item(settings);
            let secret = keychain
                .read_item(&service, cx.keychain_timeout)
                .context("could not read the client secret from the OS keychain")?;
            Ok(Some(secret.ok_or_else(|| {
                anyhow!(
                    "no client secret in the OS keychain (item `{service}`); store it with \
                     `cargo-credential-corp client-secret --registry NAME`"
                )
            })?))
        }
    }
}

/// How identity programs run for this request: without the registry's
/// token variables or the client secret variable in their environment, and
/// with those secrets redacted from what they print on standard error.
fn runner(
    settings: &OidcSettings,
    cx: &Context<'_>,
    client_secret: Option<&Token>,
) -> command::Runner {
    let mut secret_vars: Vec<&str> = cx.token_vars.iter().map(String::as_str).collect();
    if let Some(ClientSecretSource::Env(var)) = &settings.client_secret {
        secret_vars.push(var);
    }
    let mut secrets: Vec<Token> = client_secret.into_iter().cloned().collect();
    secrets.extend(
        secret_vars
            .iter()
            .filter_map(|v| cx.env.var_os(v))
            .filter_map(|v| v.into_string().ok())
            .map(Token::new),
    );
    let secrets: Vec<&Token> = secrets.iter().collect();
    command::Runner::new(settings.timeout, &secret_vars, &secrets)
}

/// What one exchange needs besides the identity.
struct Call<'a> {
    settings: &'a OidcSettings,
    scope: Option<&'a str>,
    client_secret: Option<&'a Token>,
    runner: &'a command::Runner,
    discovery_cache: Option<&'a FileStore>,
    now: i64,
}

/// One exchange: the CI identity (if the grant needs one), the token
/// endpoint (configured, cached or discovered), the token request. One HTTP
/// client, so connections are reused within the call.
fn obtain(
    call: &Call<'_>,
    identity: Option<identity::Identity>,
) -> anyhow::Result<exchange::Issued> {
    let settings = call.settings;
    let http = http::Http::new(settings.timeout)?.with_ca_files(&settings.ca_files);
    let subject = identity
        .map(|i| {
            let kind = i.kind;
            i.fetch(&http, call.runner).with_context(|| {
                format!(
                    "getting the CI identity token (identity \"{}\")",
                    crate::config::config_word(&kind)
                )
            })
        })
        .transpose()?;
    let request = exchange::Request {
        settings,
        scope: call.scope,
        subject: subject.as_ref(),
        client_secret: call.client_secret,
    };
    let (endpoint, source) =
        discovery::token_endpoint(&http, settings, call.discovery_cache, call.now)?;
    match exchange::request(&http, &endpoint, &request) {
        // The endpoint a cached document named is gone: nothing was
        // consumed by a 404, so discover again and try once more.
        Err(e) if refused_with(&e, 404) && source == discovery::Source::Cached => {
            discovery::forget(settings, call.discovery_cache);
            let (endpoint, _) =
                discovery::token_endpoint(&http, settings, call.discovery_cache, call.now)?;
            exchange::request(&http, &endpoint, &request)
        }
        // A 400 may mean an endpoint that moved: the next run rediscovers.
        Err(e) if refused_with(&e, 400) && source != discovery::Source::Configured => {
            discovery::forget(settings, call.discovery_cache);
            Err(e)
        }
        other => other,
    }
}

fn refused_with(e: &anyhow::Error, status: u16) -> bool {
    e.downcast_ref::<exchange::Refused>()
        .is_some_and(|r| r.status == status)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keychain::budget::tests::Slow;
    use std::collections::HashMap;
    use std::time::Instant;

    fn settings(extra: &str) -> OidcSettings {
        let raw: settings::RawOidc = toml::from_str(&format!(
            "token-endpoint = \"http://127.0.0.1:9/token\"\nclient-id = \"c\"\n{extra}"
        ))
        .unwrap();
        raw.validate("t").unwrap()
    }

    #[test]
    fn a_frozen_keychain_costs_one_keychain_timeout_per_get() {
        // The client secret and the token cache both in the keychain: one
        // 300 ms budget for both, and the keychain is asked once.
        let frozen = Slow::new(Duration::from_secs(3600));
        let env: HashMap<String, String> = HashMap::new();
        let dir = tempfile::tempdir().unwrap();
        let files = || Ok(FileStore::at(dir.path().to_path_buf()));
        let now = || 1_000_000;
        let cx = Context {
            env: &env,
            keychain: &frozen,
            keychain_timeout: Duration::from_millis(300),
            files: &files,
            now: &now,
            token_vars: &[],
        };
        let s = settings(
            "grant = \"client-credentials\"\nclient-auth = \"client-secret-basic\"\n\
             client-secret-keychain = true\ncache = \"auto\"\n",
        );
        let registry = Registry {
            index_url: "sparse+https://r.example/",
            name: Some("r"),
        };
        let start = Instant::now();
        let err = format!(
            "{:#}",
            get(&s, &registry, OperationClass::Read, &cx).unwrap_err()
        );
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "{:?}",
            start.elapsed()
        );
        assert!(
            err.contains("client secret") && err.contains("300 ms"),
            "{err}"
        );
        assert_eq!(frozen.calls.lock().unwrap().len(), 1);
    }
}
