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

use anyhow::{Context as _, anyhow};

use crate::cache::{self, CacheMode, FileStore};
use crate::keychain::{Budgeted, Keychain};
use crate::mint::flight::{self, CachePolicy, Guard, Minted};
use crate::mint::{Context, Obtained};
use crate::protocol::OperationClass;
use crate::registry::Registry;
use crate::secret::Token;

pub mod aws;
pub mod codeartifact;
pub mod crates_io;
pub mod endpoint;
pub mod exchange;
mod family;
pub mod identity;
pub mod settings;

use family::Family;
use settings::{ClientSecretSource, Grant, OidcSettings};

/// A short-lived token for `registry`, or `Ok(None)` when this environment
/// has no identity to exchange (so the next source is tried).
pub fn get(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    family_of(settings.grant).get(settings, registry, class, cx)
}

/// `cargo logout`: `Some` when the grant's tokens are revoked (whether any
/// was), `None` when they simply expire.
pub fn logout(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    cx: &Context<'_>,
) -> Option<anyhow::Result<bool>> {
    family_of(settings.grant).logout(settings, registry, cx)
}

/// Whether `token`, as [`get`] gave it for `settings`, stands in for a
/// token that is not needed (crates.io's read placeholder): it must not
/// hide a real token from a later source.
pub fn is_placeholder(settings: &OidcSettings, token: &Token) -> bool {
    family_of(settings.grant).is_placeholder(token)
}

/// The family that serves `grant`.
fn family_of(grant: Grant) -> &'static dyn Family {
    match grant {
        Grant::TokenExchange
        | Grant::JwtBearer
        | Grant::ClientCredentials
        | Grant::AzureWorkloadIdentity
        | Grant::JfrogArtifactory
        | Grant::Cloudsmith => &OAuth,
        Grant::CratesIoTrustedPublishing => &crates_io::TrustedPublishing,
        Grant::AwsCodeartifact => &codeartifact::CodeArtifact,
    }
}

/// The grants that POST to a token endpoint (see the module's text).
struct OAuth;

impl Family for OAuth {
    fn get(
        &self,
        settings: &OidcSettings,
        registry: &Registry<'_>,
        class: OperationClass,
        cx: &Context<'_>,
    ) -> anyhow::Result<Option<Obtained>> {
        get_with(
            settings,
            registry,
            class,
            cx,
            exchange::request,
            &mut |_| {},
        )
    }
}

/// The token request of a grant that POSTs to a token endpoint.
pub(crate) type RequestFn = fn(
    &crate::net::http::Http,
    &str,
    &exchange::ExchangeRequest<'_>,
) -> anyhow::Result<exchange::Issued>;

/// A token from a token endpoint: the CI identity, the client secret, the
/// cached exchange, with `request` as the grant's request; `on_mint` is
/// called after each successful exchange, once the token is stored.
pub(crate) fn get_with(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
    request: RequestFn,
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
        .map(|s| cache::secret_key(&["client-secret"], s));
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
            request,
            scope,
            client_secret: client_secret.as_ref(),
            runner: &runner,
            discovery_cache,
            now: started,
        };
        obtain(&call, identity).map(|issued| (issued.token, issued.expires_in.map(|s| started + s)))
    };
    flight::run(
        policy(settings),
        &key,
        &keychain,
        cx,
        "registry token",
        Guard::Key,
        |started, files| Ok(Some(call(started, files)?)),
        on_mint,
    )
}

/// How the exchanges use the cache: as the table says, waiting for another
/// process's exchange up to three of its deadlines.
pub(crate) fn policy(settings: &OidcSettings) -> CachePolicy {
    CachePolicy {
        mode: settings.cache,
        refresh_ahead: settings.refresh_ahead,
        lock_wait: settings.timeout * 3,
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
) -> crate::child::Runner {
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
    crate::child::Runner::new(settings.timeout, &secret_vars, &secrets)
}

/// What one exchange needs besides the identity.
struct Call<'a> {
    settings: &'a OidcSettings,
    request: RequestFn,
    scope: Option<&'a str>,
    client_secret: Option<&'a Token>,
    runner: &'a crate::child::Runner,
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
    let http = crate::net::http::Http::new(settings.timeout)?.with_ca_files(&settings.ca_files);
    let subject = identity
        .map(|i| {
            let kind = i.kind;
            i.fetch(&http, call.runner).with_context(|| {
                format!(
                    "getting the CI identity token (identity \"{}\")",
                    crate::diag::config_word(&kind)
                )
            })
        })
        .transpose()?;
    let request = exchange::ExchangeRequest {
        settings,
        scope: call.scope,
        subject: subject.as_ref(),
        client_secret: call.client_secret,
    };
    let (endpoint, source) =
        endpoint::token_endpoint(&http, settings, call.discovery_cache, call.now)?;
    match (call.request)(&http, &endpoint, &request) {
        // The endpoint a cached document named is gone: nothing was
        // consumed by a 404, so discover again and try once more.
        Err(e)
            if refused_with(&e, 404)
                && source == crate::oauth::discovery::EndpointOrigin::Cached =>
        {
            endpoint::forget(settings, call.discovery_cache);
            let (endpoint, _) =
                endpoint::token_endpoint(&http, settings, call.discovery_cache, call.now)?;
            (call.request)(&http, &endpoint, &request)
        }
        // A 400 may mean an endpoint that moved: the next run rediscovers.
        Err(e)
            if refused_with(&e, 400)
                && source != crate::oauth::discovery::EndpointOrigin::Configured =>
        {
            endpoint::forget(settings, call.discovery_cache);
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
    use std::time::Duration;

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
            secret_vars: &[],
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
