//! Single sign-on for developers: `cargo login` signs the person in once at
//! the company's identity provider (device flow, browser with PKCE, or paste
//! mode); the refresh token it yields is kept in the OS keychain; every
//! `get` turns it into a short-lived registry token, through the same
//! cross-run cache and single flight as the `oidc` source; `cargo logout`
//! revokes it at the IdP and deletes it. See `docs/sso.md`.
//!
//! A refresh is never retried: replaying a refresh token the IdP has
//! rotated revokes the whole grant at many IdPs. Processes refreshing the
//! same grant take one lock (whatever scope they want), so only one of them
//! uses the refresh token at a time, and a rotated token is stored before
//! the access token is handed to Cargo.

use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};

use crate::cache::{self, Entry, FileStore, Store};
use crate::diag::{say, warn};
use crate::keychain::Budgeted;
use crate::oidc::settings::CacheMode;
use crate::oidc::{Context, Obtained, OperationClass, discovery, http::Http, open_cache};
use crate::registry::Registry;

pub mod browser;
pub mod device;
pub mod grant;
pub mod interactive;
pub mod paste;
pub mod pkce;
pub mod qr;
pub mod settings;
pub mod token;

use grant::{Grant, Grants};
use settings::{Flow, GrantStore, SsoSettings};
use token::TokenSet;

/// The SSO source.
#[derive(Debug, Clone, Copy)]
pub struct Sso;

impl super::Source for Sso {
    fn get(&self, request: &super::Request<'_>) -> anyhow::Result<super::Lookup> {
        let registry = request.registry;
        let Some(sso) = &request.settings.sso else {
            if !request.settings.sso_listed {
                // `"sso"` among the default sources and no `sso` table here.
                return Ok(super::Lookup::NONE);
            }
            bail!(
                "the sources for {} list \"sso\" but no [registries.NAME.sso] table applies \
                 ({}); add one (see docs/sso.md)",
                registry.display_name(),
                request.where_configured()
            );
        };
        Ok(
            match get(sso, registry, request.operation, &request.context())? {
                Some(o) => super::Lookup::Found(super::Found {
                    token: o.token,
                    lifetime: super::Lifetime::short(o.expires_at),
                    operation_independent: !sso.operation_dependent(),
                }),
                // Not said in CI, where nobody signs in (a CI job uses `oidc`).
                None => super::Lookup::Missing {
                    note: (!interactive::in_ci(request.env)).then(|| {
                        format!(
                            "not signed in to {} yet: `cargo login --registry {}` signs in (single \
                         sign-on)",
                            registry.display_name(),
                            registry.name.unwrap_or("NAME")
                        )
                    }),
                },
            },
        )
    }

    fn login(
        &self,
        request: &super::Request<'_>,
        login: &super::Login<'_>,
    ) -> Option<anyhow::Result<()>> {
        let sso = request.settings.sso.as_ref()?;
        // A token given explicitly goes to the keychain as usual.
        if login.options.token.is_some() && login.flow.is_none() {
            return None;
        }
        Some(self::login(
            sso,
            request.registry,
            login.flow,
            &request.context(),
        ))
    }

    fn logout(&self, request: &super::Request<'_>) -> Option<anyhow::Result<bool>> {
        let sso = request.settings.sso.as_ref()?;
        Some(
            logout(sso, request.registry, &request.context())
                .map(|outcome| outcome != LoggedOut::NotSignedIn),
        )
    }
}

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
        && c.revocation.is_some();
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
        offline_access: d.offline_access,
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
    if settings.issuer.is_some() {
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

fn grant_key(settings: &SsoSettings, registry: &Registry<'_>) -> String {
    cache::key(&[
        "sso-grant",
        registry.index_url,
        settings.idp_id(),
        &settings.client_id,
    ])
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
    if let Some(hit) = cached
        .as_ref()
        .filter(|e| e.fresh((cx.now)(), settings.refresh_ahead))
    {
        return Ok(Some(served(hit)));
    }
    // Single flight per grant: whatever scope they need, processes take
    // turns with the refresh token (it may rotate on each use).
    let files = (cx.files)().ok();
    let _lock = files
        .as_ref()
        .and_then(|f| f.lock(&grant_key(settings, registry), settings.timeout * 3));
    let again = store
        .as_ref()
        .and_then(|s| s.load(&key, (cx.now)()).ok().flatten());
    let cached = match again {
        Some(hit) if hit.fresh((cx.now)(), settings.refresh_ahead) => {
            return Ok(Some(served(&hit)));
        }
        again => again.or(cached),
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
    let result = refresh(
        settings,
        registry,
        scope,
        &grant,
        &grants,
        files.as_ref(),
        started,
    );
    match result {
        Ok(tokens) => {
            let expires_at = tokens.expires_in.map(|s| started + s);
            if let (Some(store), Some(expires_at)) = (&store, expires_at) {
                let entry = Entry {
                    token: tokens.access.clone(),
                    obtained_at: started,
                    expires_at,
                };
                if let Err(e) = store.save(&key, &entry) {
                    warn(&format!("could not cache the registry token: {e:#}"));
                }
            }
            Ok(Some(Obtained {
                token: tokens.access,
                expires_at,
            }))
        }
        Err(Refresh::Ended(why)) => {
            // The grant is dead at the IdP: drop it and the tokens from it.
            let _ = grants.remove();
            let stores = all_stores(settings, &keychain, cx.keychain_timeout, files.as_ref());
            forget_tokens(settings, registry, &stores);
            bail!(
                "the single sign-on for {} has ended ({why}); the stored login was removed. Sign \
                 in again with `cargo login --registry {}`",
                who(registry, grant.account.as_deref()),
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
    /// The grant is over (`invalid_grant`): sign in again.
    Ended(String),
    /// Anything else (network, IdP failing): the grant may still be good.
    Failed(anyhow::Error),
}

fn refresh(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    scope: Option<&str>,
    grant: &Grant,
    grants: &Grants<'_>,
    files: Option<&FileStore>,
    now: i64,
) -> Result<TokenSet, Refresh> {
    let http = Http::new(settings.timeout).map_err(Refresh::Failed)?;
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
                "{} refused the refresh: {e}",
                crate::oidc::http::checked_url(&endpoints.token)
                    .map(|u| crate::oidc::http::display_url(&u))
                    .unwrap_or_default()
            )));
        }
    };
    // Rotation: keep the new refresh token before the access token is used.
    if let Some(rotated) = &tokens.refresh
        && rotated.expose() != grant.refresh_token.expose()
    {
        let next = Grant {
            refresh_token: rotated.clone(),
            account: grant.account.clone(),
        };
        if let Err(e) = grants.save(&next, now, &label(registry, grant.account.as_deref())) {
            warn(&format!(
                "the identity provider replaced the SSO refresh token for {}, and the new one \
                 could not be stored: {e:#}. This token works until it expires; then run `cargo \
                 login --registry {}`",
                registry.display_name(),
                registry.name.unwrap_or("NAME")
            ));
        }
    }
    Ok(tokens)
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

/// The account name in an ID token (`preferred_username`, `email` or
/// `sub`), read without verifying it: only to name the account in messages.
fn account_name(id_token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    ["preferred_username", "email", "sub"]
        .iter()
        .filter_map(|k| claims.get(k)?.as_str())
        .map(|v| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect::<String>()
        })
        .find(|v| !v.is_empty() && !crate::redact::has_long_word(v))
}

/// What `cargo login` runs for a registry with an `sso` table.
pub fn login(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    wanted: Option<Flow>,
    cx: &Context<'_>,
) -> anyhow::Result<()> {
    let name = registry.name.unwrap_or("NAME");
    if let Some(why) = interactive::blocker(settings, cx.env) {
        bail!(
            "cannot sign in to {} here: {why}, and a sign-in needs a person. Sign in with `cargo \
             login --registry {name}` in a terminal on your own machine; a CI job gets tokens \
             from its own identity instead: configure [registries.{name}.oidc] (see docs/ci/)",
            registry.display_name()
        );
    }
    let http = Http::new(settings.timeout)?;
    let files = (cx.files)().ok();
    let now = (cx.now)();
    let endpoints = endpoints(settings, &http, files.as_ref(), now)?;
    let (flow, why) = interactive::choose(
        wanted.unwrap_or(settings.flow),
        cx.env,
        endpoints.device.is_some(),
        endpoints.authorization.is_some(),
    )
    .ok_or_else(|| {
        anyhow!(
            "the identity provider offers neither a device authorization endpoint nor an \
             authorization endpoint; set one in the `sso` table"
        )
    })?;
    let deadline = Instant::now() + settings.login_timeout;
    let scope = login_scope(settings, endpoints.offline_access);
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(scope) = &scope {
        params.push(("scope", scope));
    }
    params.extend(target_params(settings));
    let flow_name = match flow {
        Flow::Device => "the device flow",
        Flow::Browser => "the browser",
        Flow::Paste => "paste mode",
        Flow::Auto => "auto",
    };
    say(&format!(
        "Signing in to {} with {flow_name} ({why}).",
        registry.display_name()
    ));
    let missing = |what: &str, key: &str| {
        anyhow!(
            "{flow_name} needs the IdP's {what}, which it does not advertise; set `{key}` in the \
             `sso` table or choose another flow"
        )
    };
    let tokens = match flow {
        Flow::Device => {
            let endpoint = endpoints.device.as_deref().ok_or_else(|| {
                missing(
                    "device authorization endpoint",
                    "device-authorization-endpoint",
                )
            })?;
            device::run(
                &http,
                &device::Device {
                    endpoint,
                    token_endpoint: &endpoints.token,
                    client_id: &settings.client_id,
                    params: &params,
                    registry: registry.display_name(),
                    deadline,
                },
            )?
        }
        Flow::Browser | Flow::Paste | Flow::Auto => {
            let endpoint = endpoints
                .authorization
                .as_deref()
                .ok_or_else(|| missing("authorization endpoint", "authorization-endpoint"))?;
            code_flow(
                settings,
                registry,
                &http,
                flow,
                endpoint,
                &endpoints.token,
                &params,
                deadline,
                cx,
            )?
        }
    };
    let Some(refresh_token) = tokens.refresh else {
        bail!(
            "the identity provider signed you in but issued no refresh token, so cargo could not \
             get tokens later; nothing was stored. Its client `{}` must allow the refresh_token \
             grant (and the offline_access scope; see docs/sso.md)",
            settings.client_id
        );
    };
    let account = tokens
        .id_token
        .as_ref()
        .and_then(|t| account_name(t.expose()));
    let keychain = Budgeted::new(cx.keychain, crate::source::INTERACTIVE_KEYCHAIN_TIMEOUT);
    let grants = Grants::new(
        settings,
        registry,
        &keychain,
        crate::source::INTERACTIVE_KEYCHAIN_TIMEOUT,
        files.clone(),
    );
    let previous = grants.load().ok().flatten();
    grants.save(
        &Grant {
            refresh_token,
            account: account.clone(),
        },
        now,
        &label(registry, account.as_deref()),
    )?;
    // Tokens of an earlier login (perhaps another account) are not served.
    let stores = all_stores(
        settings,
        &keychain,
        crate::source::INTERACTIVE_KEYCHAIN_TIMEOUT,
        files.as_ref(),
    );
    forget_tokens(settings, registry, &stores);
    if let (Some(previous), Some(endpoint)) = (previous, &endpoints.revocation) {
        // The login it replaces is revoked; failing that is not an error.
        let _ = token::revoke(
            &http,
            endpoint,
            &settings.client_id,
            &previous.refresh_token,
        );
    }
    if settings.store == GrantStore::File {
        warn(&format!(
            "the SSO login is kept in {} as configured; use the OS keychain where there is one",
            grants.describe()
        ));
    }
    say(&format!(
        "Signed in to {}{}. The login is kept in {}; cargo now gets short-lived tokens with it. \
         `cargo logout --registry {name}` signs out.",
        registry.display_name(),
        account.map(|a| format!(" as {a}")).unwrap_or_default(),
        grants.describe()
    ));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn code_flow(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    http: &Http,
    flow: Flow,
    endpoint: &str,
    token_endpoint: &str,
    params: &[(&str, &str)],
    deadline: Instant,
    cx: &Context<'_>,
) -> anyhow::Result<TokenSet> {
    let pkce = pkce::Pkce::new()?;
    let issuer = settings.issuer.as_deref();
    let (callback, redirect_uri) = if flow == Flow::Browser {
        let loopback = browser::Loopback::bind(settings.redirect_port)?;
        let redirect_uri = loopback.redirect_uri();
        let url =
            pkce::authorization_url(endpoint, &settings.client_id, &redirect_uri, &pkce, params)?;
        say(&format!(
            "Opening a browser to sign in to {}. If none opens, visit:\n\n  {url}\n",
            registry.display_name()
        ));
        if let Err(why) = interactive::open_browser(&url, cx.env, cx.token_vars) {
            warn(&format!(
                "could not open a browser ({why}); open the URL above yourself"
            ));
        }
        (loopback.wait(&pkce.state, issuer, deadline)?, redirect_uri)
    } else {
        let port = match settings.redirect_port {
            0 => browser::Loopback::bind(0)?
                .redirect_uri()
                .rsplit_once(':')
                .and_then(|(_, rest)| rest.split('/').next()?.parse::<u16>().ok())
                .unwrap_or(8400),
            port => port,
        };
        let redirect_uri = format!("http://127.0.0.1:{port}{}", browser::CALLBACK_PATH);
        let url =
            pkce::authorization_url(endpoint, &settings.client_id, &redirect_uri, &pkce, params)?;
        (
            paste::run(&url, registry.display_name(), &pkce.state, issuer)?,
            redirect_uri,
        )
    };
    let code = match callback {
        pkce::Callback::Code(code) => code,
        pkce::Callback::Denied(error, description) => bail!(
            "the sign-in was not completed at the identity provider: {error}{}; nothing was \
             stored",
            description.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
    };
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("client_id", settings.client_id.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    form.extend(target_params(settings));
    token::request(
        http,
        token_endpoint,
        &form,
        &[code.as_str(), pkce.verifier.as_str()],
    )?
    .map_err(|e| anyhow!("the identity provider refused the sign-in code: {e}; nothing was stored"))
}

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
/// endpoint, deletes it and the cached access tokens, and says which.
pub fn logout(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    cx: &Context<'_>,
) -> anyhow::Result<LoggedOut> {
    let timeout = crate::source::INTERACTIVE_KEYCHAIN_TIMEOUT;
    let keychain = Budgeted::new(cx.keychain, timeout);
    let files = (cx.files)().ok();
    let grants = Grants::new(settings, registry, &keychain, timeout, files.clone());
    let grant = grants.load()?;
    forget_tokens(
        settings,
        registry,
        &all_stores(settings, &keychain, timeout, files.as_ref()),
    );
    let Some(grant) = grant else {
        return Ok(LoggedOut::NotSignedIn);
    };
    let revoked = (|| -> anyhow::Result<Result<(), String>> {
        let http = Http::new(settings.timeout)?;
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
    grants.remove()?;
    let outcome = match revoked {
        Ok(Ok(())) => LoggedOut::Revoked,
        Ok(Err(why)) => LoggedOut::DeletedOnly(why),
        Err(e) => LoggedOut::DeletedOnly(format!("{e:#}")),
    };
    let whom = who(registry, grant.account.as_deref());
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
        assert_eq!(
            account_name(&jwt(r#"{"sub":"u1","email":"a@corp.example"}"#)).as_deref(),
            Some("a@corp.example")
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
}
