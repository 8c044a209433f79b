//! Single sign-on for developers: `cargo login` signs the person in once at
//! the company's identity provider (device flow, browser with PKCE, or paste
//! mode); the refresh token it yields is kept in the OS keychain; every
//! `get` turns it into a short-lived registry token, through the same
//! cross-run cache and single flight as the `oidc` source; `cargo logout`
//! revokes it at the IdP and deletes it. See `docs/sso.md`.
//!
//! One file per part: [`refresh`] (a `get`), [`login`] and [`logout`]; the
//! flows ([`browser`], [`device`], [`paste`], with [`pkce`]); the IdP's
//! endpoints ([`token`]); where the login is kept ([`grant`]); whether a
//! person can answer ([`interactive`]).

use std::fs::File;
use std::time::Duration;

use anyhow::{Context as _, anyhow};

use crate::cache::CacheMode;
use crate::cache::{self, FileStore, Store};
use crate::net::http::Http;
use crate::oauth::discovery;
use crate::protocol::OperationClass;
use crate::registry::Registry;

pub mod browser;
pub mod device;
pub mod discover;
pub mod grant;
pub mod interactive;
pub mod issuers;
pub mod login;
pub mod logout;
pub mod paste;
pub mod pkce;
pub mod qr;
pub mod records;
pub mod refresh;
pub mod settings;
pub mod token;

pub use login::login;
pub use logout::{LoggedOut, logout};
pub use refresh::get;
use settings::{GrantStore, SsoSettings};

/// The IdP's endpoints: configured, else from discovery.
#[derive(Debug)]
struct Endpoints {
    token: String,
    device: Option<String>,
    authorization: Option<String>,
    revocation: Option<String>,
    offline_access: bool,
}

fn endpoints(
    settings: &SsoSettings,
    http: &Http,
    files: Option<&FileStore>,
    now: i64,
) -> anyhow::Result<Endpoints> {
    let c = &settings.endpoints;
    let complete = c.token.is_some()
        && (c.device_authorization.is_some() || c.authorization.is_some())
        && (c.revocation.is_some() || c.offline_access);
    let discovered = match &settings.issuer {
        Some(issuer) if !complete => Some(
            discovery::metadata(http, issuer, files, now)
                .context("could not read the identity provider's OIDC discovery document")?
                .0,
        ),
        _ => None,
    };
    let d = discovered.unwrap_or_default();
    let pick = |configured: &Option<String>, found: Option<String>| configured.clone().or(found);
    Ok(Endpoints {
        token: pick(&c.token, Some(d.token_endpoint).filter(|t| !t.is_empty()))
            .ok_or_else(|| anyhow!("no token endpoint: set `issuer` or `token-endpoint`"))?,
        device: pick(&c.device_authorization, d.device_authorization_endpoint),
        authorization: pick(&c.authorization, d.authorization_endpoint),
        revocation: pick(&c.revocation, d.revocation_endpoint),
        offline_access: d.offline_access || c.offline_access,
    })
}

fn scope_for(settings: &SsoSettings, class: OperationClass) -> Option<&str> {
    match class {
        OperationClass::Publish => settings
            .publish_scope
            .as_deref()
            .or(settings.scope.as_deref()),
        OperationClass::Read => settings.scope.as_deref(),
    }
}

/// The scope asked for at sign-in: both operation scopes, `openid` (for
/// the account name) when the IdP is an OpenID provider, and
/// `offline_access` when it advertises it (many IdPs issue no refresh token
/// without it).
fn login_scope(settings: &SsoSettings, offline_access: bool) -> Option<String> {
    let mut words: Vec<&str> = Vec::new();
    if settings.openid {
        words.push("openid");
    }
    if offline_access {
        words.push("offline_access");
    }
    for scope in [&settings.scope, &settings.publish_scope]
        .into_iter()
        .flatten()
    {
        words.extend(scope.split_whitespace());
    }
    let mut seen = Vec::new();
    words.retain(|w| {
        let new = !seen.contains(w);
        seen.push(*w);
        new
    });
    (!words.is_empty()).then(|| words.join(" "))
}

/// `resource` and `audience`, as configured.
fn target_params(settings: &SsoSettings) -> Vec<(&'static str, &str)> {
    let mut params = Vec::new();
    if let Some(r) = &settings.resource {
        params.push(("resource", r.as_str()));
    }
    if let Some(a) = &settings.audience {
        params.push(("audience", a.as_str()));
    }
    params
}

fn access_key(settings: &SsoSettings, registry: &Registry<'_>, scope: Option<&str>) -> String {
    cache::key(&[
        "sso",
        registry.index_url,
        settings.idp_id(),
        &settings.client_id,
        settings.audience.as_deref().unwrap_or(""),
        settings.resource.as_deref().unwrap_or(""),
        scope.unwrap_or(""),
    ])
}

/// The lock of one registry's login: every refresh holds it, and sign-in and
/// sign-out while they replace or remove the login. Waits longer than a
/// holder can take (discovery and refresh under `timeout-ms` each, two
/// keychain calls); `Ok(None)` when it could not be had in time.
///
/// It is keyed to where the login is kept, not to the cache folder: two
/// processes with different cache folders (an IDE's sandbox and a
/// terminal) refreshing one keychain login take the same lock, in this
/// user's lock folder ([`FileStore::user_locks`]), beside the login's
/// records ([`records::Records`]). When that folder cannot be had (another user
/// made it first), an error that says so: a lock elsewhere would not keep
/// the other process out.
fn grant_lock(
    files: Option<&FileStore>,
    settings: &SsoSettings,
    registry: &Registry<'_>,
    keychain_timeout: Duration,
) -> anyhow::Result<Option<File>> {
    let keychain = keychain_timeout.max(refresh::KEEP_DEADLINE);
    let wait = settings.timeout * 2 + keychain * 2 + Duration::from_secs(5);
    let key = grant_key(settings, registry, files);
    Ok(FileStore::user_locks()?.lock(&key, wait))
}

/// The lock's name: the login's keychain item, and for `store = "file"`
/// the cache folder that holds the login's file.
fn grant_key(settings: &SsoSettings, registry: &Registry<'_>, files: Option<&FileStore>) -> String {
    let item = grant::item(settings, registry);
    match settings.store {
        GrantStore::Keychain => cache::key(&["sso-grant", "keychain", &item]),
        GrantStore::File => {
            let folder = files
                .map(|f| f.folder("sso").display().to_string())
                .unwrap_or_default();
            cache::key(&["sso-grant", "file", &item, &folder])
        }
    }
}

fn cache_mode(settings: &SsoSettings) -> CacheMode {
    match settings.store {
        GrantStore::Keychain => CacheMode::Auto,
        GrantStore::File => CacheMode::File,
    }
}

fn who(registry: &Registry<'_>, account: Option<&str>) -> String {
    match account {
        Some(a) => format!("{} ({a})", registry.display_name()),
        None => registry.display_name().to_owned(),
    }
}

fn label(registry: &Registry<'_>, account: Option<&str>) -> String {
    format!(
        "cargo-credential-corp: single sign-on for {}",
        who(registry, account)
    )
}

/// Drops the cached access tokens of this registry's grant (both scopes)
/// from the stores given.
fn forget_tokens(settings: &SsoSettings, registry: &Registry<'_>, stores: &[Store<'_>]) {
    for store in stores {
        for class in [OperationClass::Read, OperationClass::Publish] {
            let _ = store.remove(&access_key(settings, registry, scope_for(settings, class)));
        }
    }
}

/// Every store a cached access token of this grant may be in.
fn all_stores<'k>(
    settings: &SsoSettings,
    keychain: &'k dyn crate::keychain::Keychain,
    timeout: std::time::Duration,
    files: Option<&FileStore>,
) -> Vec<Store<'k>> {
    let mut stores: Vec<Store<'k>> = files.cloned().map(Store::File).into_iter().collect();
    if settings.store == GrantStore::Keychain {
        stores.push(Store::Keychain(keychain, timeout));
    }
    stores
}

/// The claims of an ID token, read without verifying it: only to name the
/// account in messages and to tell accounts apart, never to trust them.
fn id_claims(id_token: &crate::secret::Token) -> Option<serde_json::Value> {
    crate::oauth::jwt::claims_of(id_token).map(|claims| serde_json::Value::Object(claims.0))
}

/// The account name in ID token claims (`preferred_username`, `email` or
/// `sub`): plain text only (no control, bidi or zero-width characters), at
/// most 80 characters, and nothing token-shaped.
fn account_name(claims: &serde_json::Value) -> Option<String> {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    ["preferred_username", "email", "sub"]
        .iter()
        .filter_map(|k| claims.get(k)?.as_str())
        .map(|v| {
            v.chars()
                .filter(|c| !invisible(*c))
                .take(80)
                .collect::<String>()
        })
        .find(|v| !v.is_empty() && !crate::redact::has_long_word(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &str) -> SsoSettings {
        let raw: settings::RawSso = toml::from_str(&format!(
            "issuer = \"https://idp.example\"\nclient-id = \"cli\"\n{extra}"
        ))
        .unwrap();
        raw.validate("t").unwrap()
    }

    #[test]
    fn the_login_asks_for_both_scopes_once_with_openid_and_offline_access() {
        let s = settings("scope = \"read\"\npublish-scope = \"read publish\"\n");
        assert_eq!(
            login_scope(&s, true).as_deref(),
            Some("openid offline_access read publish")
        );
        assert_eq!(
            login_scope(&s, false).as_deref(),
            Some("openid read publish")
        );
        assert_eq!(scope_for(&s, OperationClass::Read), Some("read"));
        assert_eq!(scope_for(&s, OperationClass::Publish), Some("read publish"));
    }

    #[test]
    fn the_account_is_read_from_the_id_token_and_never_a_token() {
        use base64::Engine as _;
        let jwt = |claims: &str| {
            format!(
                "e30.{}.sig",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims)
            )
        };
        let account_name = |t: &str| {
            id_claims(&crate::secret::Token::new(t.to_owned()))
                .as_ref()
                .and_then(super::account_name)
        };
        assert_eq!(
            account_name(&jwt(r#"{"sub":"u1","email":"a@corp.example"}"#)).as_deref(),
            Some("a@corp.example")
        );
        assert_eq!(
            account_name(&jwt(r#"{"sub":"al\u202eice\u001b[31m"}"#)).as_deref(),
            Some("alice[31m")
        );
        assert_eq!(
            account_name(&jwt(r#"{"sub":"alice"}"#)).as_deref(),
            Some("alice")
        );
        assert_eq!(
            account_name(&jwt(r#"{"sub":"Xq9vLm3pRt7wZk2nBc5hJd8fGs4yTa6e"}"#)),
            None
        );
        assert_eq!(account_name("not-a-jwt"), None);
    }

    #[test]
    fn cached_tokens_are_per_registry_idp_client_and_scope() {
        let s = settings("scope = \"read\"\npublish-scope = \"publish\"\n");
        let r = |u| Registry {
            index_url: u,
            name: Some("corp"),
        };
        let a = access_key(&s, &r("sparse+https://a/"), Some("read"));
        assert_ne!(a, access_key(&s, &r("sparse+https://b/"), Some("read")));
        assert_ne!(a, access_key(&s, &r("sparse+https://a/"), Some("publish")));
        let mut other = s.clone();
        other.client_id = "another-client".into();
        assert_ne!(a, access_key(&other, &r("sparse+https://a/"), Some("read")));
    }

    #[test]
    fn a_discovered_plain_oauth_server_is_not_asked_for_openid() {
        let endpoints = || super::settings::Endpoints {
            device_authorization: None,
            authorization: Some("https://l.example/auth".into()),
            token: Some("https://l.example/token".into()),
            revocation: None,
            offline_access: false,
        };
        let plain = SsoSettings::discovered(
            "https://l.example",
            endpoints(),
            "c",
            Some("read".into()),
            "https://r.example/",
            false,
        );
        assert_eq!(login_scope(&plain, false).as_deref(), Some("read"));
        let oidc = SsoSettings::discovered(
            "https://l.example",
            endpoints(),
            "c",
            Some("read".into()),
            "https://r.example/",
            true,
        );
        assert_eq!(
            login_scope(&oidc, true).as_deref(),
            Some("openid offline_access read")
        );
    }
}
