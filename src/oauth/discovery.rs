//! OIDC discovery: an issuer's endpoints (token, authorization, device,
//! revocation) from `<issuer>/.well-known/openid-configuration`, checked
//! (the document must describe the configured issuer, its endpoints must
//! pass the HTTP policy) and cached across runs, so that a cold exchange or
//! refresh costs one round trip to the IdP instead of two.
//!
//! The cache is a private file per issuer in the file store
//! (`discovery/<key>.json`), reused for the `Cache-Control: max-age` of the
//! document (`no-store`/`no-cache`: not reused), [`DEFAULT_MAX_AGE_SECS`]
//! when it says nothing, never longer than [`MAX_AGE_SECS`]. It is dropped
//! when the token endpoint it named answers 404 (the exchange is then tried
//! once more with a fresh document: a 404 consumed no identity) or 400 (the
//! next run rediscovers; no retry, since the identity may have been used).

use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::cache::FileStore;
use crate::net::http::Http;
use crate::net::url::{checked_url, display_url};

/// How long a discovery document is reused when its answer has no
/// `Cache-Control`.
pub const DEFAULT_MAX_AGE_SECS: i64 = 60 * 60;
/// The longest a discovery document is reused, whatever it says.
pub const MAX_AGE_SECS: i64 = 24 * 60 * 60;

const FOLDER: &str = "discovery";

/// What this provider uses of an issuer's discovery document. Every
/// endpoint in it has passed the HTTP policy ([`checked_url`]); an endpoint
/// that does not is left out (and reported when it is needed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The token endpoint.
    pub token_endpoint: String,
    /// RFC 8628 device authorization endpoint.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// The authorization endpoint (code flow).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Whether `scopes_supported` lists `offline_access`.
    #[serde(default)]
    pub offline_access: bool,
    /// Whether the server is an OpenID provider, so that a sign-in asks for
    /// `openid` (and then needs an ID token): its document came from OpenID
    /// discovery, or its `scopes_supported` lists `openid`. A plain OAuth
    /// server (RFC 8414) that does not is not asked for it. A binding stored
    /// before this field existed reads as `true`, as it was asked then.
    #[serde(default = "openid_unless_said")]
    pub openid: bool,
}

fn openid_unless_said() -> bool {
    true
}

/// The document as read. Only what the `oidc` source needs is typed
/// strictly; the fields for SSO are read leniently (a wrongly typed one is
/// as good as absent), so that they never break a working exchange.
#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    token_endpoint: String,
    #[serde(default)]
    device_authorization_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    authorization_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    revocation_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    scopes_supported: Option<serde_json::Value>,
}

/// A discovery result as cached.
#[derive(Serialize, Deserialize)]
struct Cached {
    v: u32,
    issuer: String,
    #[serde(flatten)]
    metadata: Metadata,
    fetched_at: i64,
    max_age: i64,
}

/// The cache format; files of other versions are ignored (and replaced).
const CACHE_FORMAT: u32 = 2;

/// Where the token endpoint came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointOrigin {
    /// Configured as `token-endpoint`.
    Configured,
    /// Fetched from the issuer now.
    Fetched,
    /// A document fetched by an earlier run.
    Cached,
}

/// The discovery document of `issuer`: cached in `files` by an earlier run,
/// or fetched now (and cached when `files` is given).
pub fn metadata(
    http: &Http,
    issuer: &str,
    files: Option<&FileStore>,
    now: i64,
) -> anyhow::Result<(Metadata, EndpointOrigin)> {
    if let Some(metadata) = files.and_then(|f| load(f, issuer, now)) {
        crate::trace::debug(|| format!("discovery: {issuer} from the cache"));
        return Ok((metadata, EndpointOrigin::Cached));
    }
    crate::trace::debug(|| format!("discovery: fetching {issuer}'s document"));
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let (url, req) = http.get(&url)?;
    let (resp, max_age) = http.send_cacheable(&url, req)?;
    let shown = display_url(&url);
    if resp.status != 200 {
        bail!(
            "OIDC discovery at {shown} answered HTTP {}; check `issuer`",
            resp.status
        );
    }
    let metadata = parse_metadata(&resp.body, issuer, &shown)?;
    let max_age = max_age
        .unwrap_or(DEFAULT_MAX_AGE_SECS)
        .clamp(0, MAX_AGE_SECS);
    if let Some(files) = files
        && max_age > 0
    {
        let cached = Cached {
            v: CACHE_FORMAT,
            issuer: issuer.to_owned(),
            metadata: metadata.clone(),
            fetched_at: now,
            max_age,
        };
        let text = serde_json::to_vec(&cached).expect("plain struct serializes");
        // A cache that cannot be written costs a round trip next time, no more.
        let _ = files.write_private(FOLDER, &file_name(issuer), &text);
    }
    Ok((metadata, EndpointOrigin::Fetched))
}

/// Drops the cached document of `issuer`, if any.
pub fn forget_issuer(issuer: &str, files: Option<&FileStore>) {
    if let Some(files) = files {
        let _ = files.remove_private(FOLDER, &file_name(issuer));
    }
}

fn file_name(issuer: &str) -> String {
    format!("{}.json", crate::cache::key(&["discovery", issuer]))
}

/// The cached document of `issuer`, if a fresh, valid entry is there.
fn load(files: &FileStore, issuer: &str, now: i64) -> Option<Metadata> {
    let bytes = files.read_private(FOLDER, &file_name(issuer))?;
    let cached: Cached = serde_json::from_slice(&bytes).ok()?;
    let age = now.checked_sub(cached.fetched_at)?;
    let fresh = cached.v == CACHE_FORMAT
        && cached.issuer == issuer
        && (0..cached.max_age.min(MAX_AGE_SECS)).contains(&age);
    // The endpoints pass the policy again: the file is ours, but checked
    // input all the same.
    let m = cached.metadata;
    let endpoints_ok = [
        Some(&m.token_endpoint),
        m.device_authorization_endpoint.as_ref(),
        m.authorization_endpoint.as_ref(),
        m.revocation_endpoint.as_ref(),
    ]
    .into_iter()
    .flatten()
    .all(|u| checked_url(u).is_ok());
    (fresh && endpoints_ok).then_some(m)
}

/// Reads the `token_endpoint` of an OIDC discovery document for `issuer`,
/// fetched from `shown` (a URL for messages), and checks it against the HTTP
/// policy. The body is never quoted in an error.
pub fn parse_discovery(body: &[u8], issuer: &str, shown: &str) -> anyhow::Result<String> {
    parse_metadata(body, issuer, shown).map(|m| m.token_endpoint)
}

/// Reads an OIDC discovery document for `issuer` (see [`parse_discovery`]).
/// Optional endpoints that fail the HTTP policy are left out.
pub fn parse_metadata(body: &[u8], issuer: &str, shown: &str) -> anyhow::Result<Metadata> {
    let doc: Discovery = serde_json::from_slice(body).map_err(|_| {
        anyhow!(
            "OIDC discovery at {shown} did not return a document with `token_endpoint`; check \
             `issuer` ({issuer})"
        )
    })?;
    // OpenID Connect Discovery §4.3: the document's `issuer` must be the
    // issuer it was fetched for (a trailing `/` aside), else a document served
    // for another issuer could point the exchange elsewhere.
    match &doc.issuer {
        Some(advertised) if crate::registry::same_index(advertised, issuer) => {}
        Some(_) => bail!(
            "OIDC discovery at {shown} describes another issuer than the configured `issuer` \
             ({issuer}); refused. Check `issuer` (it must be exactly the IdP's issuer URL)"
        ),
        None => bail!(
            "OIDC discovery at {shown} has no `issuer`; refused. Check `issuer`, or configure \
             `token-endpoint` directly"
        ),
    }
    checked_url(&doc.token_endpoint)
        .map_err(|e| anyhow!("the token endpoint that {shown} advertises is refused: {e}"))?;
    let allowed = |u: Option<serde_json::Value>| {
        u.and_then(|u| u.as_str().map(str::to_owned))
            .filter(|u| checked_url(u).is_ok())
    };
    Ok(Metadata {
        token_endpoint: doc.token_endpoint,
        device_authorization_endpoint: allowed(doc.device_authorization_endpoint),
        authorization_endpoint: allowed(doc.authorization_endpoint),
        revocation_endpoint: allowed(doc.revocation_endpoint),
        offline_access: doc
            .scopes_supported
            .as_ref()
            .and_then(serde_json::Value::as_array)
            .is_some_and(|s| s.iter().any(|s| s == "offline_access")),
        openid: true,
    })
}

/// RFC 8414's well-known suffix.
pub const OAUTH_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
/// OpenID Connect Discovery's well-known suffix.
pub const OPENID_WELL_KNOWN: &str = "/.well-known/openid-configuration";
/// The grant type URN of RFC 8628.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// An authorization server a registry named (RFC 9728), as its own metadata
/// describes it: found with [`authorization_server`], its `issuer` exactly
/// the URL named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationServer {
    /// The issuer, exactly as named and as the document states it.
    pub issuer: String,
    /// Its endpoints (each past the HTTP policy).
    pub metadata: Metadata,
    /// RFC 7591 registration endpoint (past the HTTP policy), if offered.
    pub registration_endpoint: Option<String>,
    /// `scopes_supported`, if given.
    pub scopes: Vec<String>,
    /// Whether the code flow with PKCE (S256) can be used.
    pub code_flow: bool,
    /// Whether the device flow can be used.
    pub device_flow: bool,
    /// Where the document was fetched.
    pub fetched_from: String,
}

/// The metadata URLs of `issuer`, in the order tried: RFC 8414 (path
/// inserted after the host), then OpenID discovery (path appended).
pub fn authorization_server_urls(issuer: &str) -> anyhow::Result<Vec<reqwest::Url>> {
    let url = checked_url(issuer)?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!(
            "the issuer {} has a query or fragment (RFC 8414 §2); refused",
            display_url(&url)
        );
    }
    let path = url.path().trim_end_matches('/').to_owned();
    let mut oauth = url.clone();
    oauth.set_path(&format!("{OAUTH_WELL_KNOWN}{path}"));
    let mut openid = url;
    openid.set_path(&format!("{path}{OPENID_WELL_KNOWN}"));
    Ok(vec![oauth, openid])
}

/// Fetches and checks the metadata of the authorization server `issuer`
/// (RFC 8414, then OpenID discovery on a 404). Not cached: this runs at
/// `cargo login`, whose binding keeps the endpoints.
pub fn authorization_server(http: &Http, issuer: &str) -> anyhow::Result<AuthorizationServer> {
    let mut tried = Vec::new();
    for url in authorization_server_urls(issuer)? {
        let (url, req) = http.get(url.as_str())?;
        let resp = http.send(
            &url,
            req.header(reqwest::header::ACCEPT, "application/json"),
        )?;
        let shown = display_url(&url);
        match resp.status {
            200 => return parse_authorization_server(&resp.body, issuer, &shown),
            404 => tried.push(shown),
            status => bail!("the authorization server metadata at {shown} answered HTTP {status}"),
        }
    }
    bail!(
        "the authorization server {issuer} publishes no metadata: {} answered HTTP 404",
        tried.join(" and ")
    )
}

#[derive(Deserialize)]
struct RawServer {
    issuer: Option<serde_json::Value>,
    #[serde(default)]
    token_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    authorization_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    device_authorization_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    revocation_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    registration_endpoint: Option<serde_json::Value>,
    #[serde(default)]
    scopes_supported: Option<serde_json::Value>,
    #[serde(default)]
    grant_types_supported: Option<serde_json::Value>,
    #[serde(default)]
    code_challenge_methods_supported: Option<serde_json::Value>,
}

/// Reads an authorization server's metadata fetched from `shown` for
/// `issuer`: its `issuer` must be exactly `issuer` (RFC 8414 §3.3, OpenID
/// Discovery §4.3); it must offer a grant this provider can use (the code
/// flow with S256, or the device flow) and a token endpoint. The body is
/// never quoted.
pub fn parse_authorization_server(
    body: &[u8],
    issuer: &str,
    shown: &str,
) -> anyhow::Result<AuthorizationServer> {
    let doc: RawServer = serde_json::from_slice(body).map_err(|_| {
        anyhow!("the authorization server metadata at {shown} is not a JSON object")
    })?;
    match doc.issuer.as_ref().and_then(|i| i.as_str()) {
        Some(stated) if stated == issuer => {}
        Some(_) => bail!(
            "the authorization server metadata at {shown} states another issuer than {issuer}, \
             the one the registry named; refused (they must be equal, exactly)"
        ),
        None => bail!("the authorization server metadata at {shown} has no `issuer`; refused"),
    }
    let text =
        |v: &Option<serde_json::Value>| v.as_ref().and_then(|v| v.as_str()).map(str::to_owned);
    let endpoint = |v: &Option<serde_json::Value>, name: &str| -> anyhow::Result<Option<String>> {
        match text(v) {
            None => Ok(None),
            Some(u) => checked_url(&u)
                .map(|_| Some(u))
                .map_err(|e| anyhow!("the `{name}` that {shown} advertises is refused: {e}")),
        }
    };
    let strings = |v: &Option<serde_json::Value>| -> Option<Vec<String>> {
        let items = v.as_ref()?.as_array()?;
        Some(
            items
                .iter()
                .take(64)
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
        )
    };
    let Some(token_endpoint) = endpoint(&doc.token_endpoint, "token_endpoint")? else {
        bail!("the authorization server metadata at {shown} has no `token_endpoint`");
    };
    let authorization_endpoint = endpoint(&doc.authorization_endpoint, "authorization_endpoint")?;
    let device_endpoint = endpoint(
        &doc.device_authorization_endpoint,
        "device_authorization_endpoint",
    )?;
    let revocation_endpoint = endpoint(&doc.revocation_endpoint, "revocation_endpoint")?;
    let registration_endpoint = endpoint(&doc.registration_endpoint, "registration_endpoint")?;
    let scopes = strings(&doc.scopes_supported).unwrap_or_default();
    // RFC 8414 §2: absent means ["authorization_code", "implicit"].
    let grants = strings(&doc.grant_types_supported)
        .unwrap_or_else(|| vec!["authorization_code".into(), "implicit".into()]);
    let s256 = strings(&doc.code_challenge_methods_supported)
        .is_none_or(|m| m.iter().any(|m| m == "S256"));
    let code_flow = authorization_endpoint.is_some()
        && grants.iter().any(|g| g == "authorization_code")
        && s256;
    // An OpenID document often lists no device grant but has the endpoint.
    let device_flow = device_endpoint.is_some()
        && (doc.grant_types_supported.is_none() || grants.iter().any(|g| g == DEVICE_CODE_GRANT));
    if !code_flow && !device_flow {
        bail!(
            "the authorization server {issuer} offers no sign-in this provider can use: neither \
             the authorization code flow with PKCE (S256) nor the device flow (RFC 8628), \
             according to {shown}"
        );
    }
    Ok(AuthorizationServer {
        issuer: issuer.to_owned(),
        metadata: Metadata {
            token_endpoint,
            device_authorization_endpoint: device_endpoint.filter(|_| device_flow),
            authorization_endpoint: authorization_endpoint.filter(|_| code_flow),
            revocation_endpoint,
            offline_access: scopes.iter().any(|s| s == "offline_access"),
            openid: shown.ends_with(OPENID_WELL_KNOWN) || scopes.iter().any(|s| s == "openid"),
        },
        registration_endpoint,
        scopes,
        code_flow,
        device_flow,
        fetched_from: shown.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_must_describe_the_configured_issuer() {
        let doc = |issuer: &str| {
            format!(r#"{{"issuer":"{issuer}","token_endpoint":"https://idp.example/token"}}"#)
        };
        let ok = parse_discovery(
            doc("https://idp.example").as_bytes(),
            "https://idp.example/",
            "d",
        );
        assert_eq!(ok.unwrap(), "https://idp.example/token");
        for (body, needle) in [
            (doc("https://evil.example"), "another issuer"),
            (doc("https://idp.example.evil"), "another issuer"),
            (doc("https://IDP.example"), "another issuer"),
            (
                r#"{"token_endpoint":"https://idp.example/token"}"#.to_owned(),
                "no `issuer`",
            ),
        ] {
            let msg = parse_discovery(body.as_bytes(), "https://idp.example", "d")
                .unwrap_err()
                .to_string();
            assert!(msg.contains(needle), "{body}: {msg}");
        }
    }

    fn store(files: &FileStore, issuer: &str, endpoint: &str, fetched_at: i64, max_age: i64) {
        let cached = Cached {
            v: CACHE_FORMAT,
            issuer: issuer.into(),
            metadata: Metadata {
                token_endpoint: endpoint.into(),
                ..Metadata::default()
            },
            fetched_at,
            max_age,
        };
        files
            .write_private(
                FOLDER,
                &file_name(issuer),
                &serde_json::to_vec(&cached).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn a_cached_document_is_used_within_its_age_only() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::at(dir.path().to_path_buf());
        let issuer = "https://idp.example";
        // The HTTP client is never used while the cache answers: an
        // unroutable timeout would show if it were.
        let http = Http::new(std::time::Duration::from_millis(100)).unwrap();
        store(&files, issuer, "https://idp.example/token", 1000, 300);
        let got = metadata(&http, issuer, Some(&files), 1200)
            .map(|(m, origin)| (m.token_endpoint, origin))
            .unwrap();
        assert_eq!(
            got,
            (
                "https://idp.example/token".to_owned(),
                EndpointOrigin::Cached
            )
        );
        // Too old, from the future, another issuer's, or a refused URL: not used.
        for (fetched_at, now) in [(1000, 1300), (2000, 1200)] {
            store(&files, issuer, "https://idp.example/token", fetched_at, 300);
            assert_eq!(load(&files, issuer, now), None);
        }
        store(&files, issuer, "http://idp.example/token", 1000, 300);
        assert_eq!(load(&files, issuer, 1100), None);
        store(&files, issuer, "https://idp.example/token", 1000, i64::MAX);
        assert_eq!(load(&files, issuer, 1000 + MAX_AGE_SECS), None);
        forget_issuer(issuer, Some(&files));
        assert_eq!(load(&files, issuer, 1000), None);
    }

    #[test]
    fn authorization_server_metadata_is_found_by_path_insertion_then_openid() {
        let urls: Vec<String> = authorization_server_urls("https://login.example/tenant/")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://login.example/.well-known/oauth-authorization-server/tenant",
                "https://login.example/tenant/.well-known/openid-configuration"
            ]
        );
        let urls = authorization_server_urls("https://login.example").unwrap();
        assert_eq!(
            urls[0].as_str(),
            "https://login.example/.well-known/oauth-authorization-server"
        );
        assert!(authorization_server_urls("https://login.example/?a=1").is_err());
        assert!(authorization_server_urls("http://login.example").is_err());
    }

    fn server_doc(issuer: &str, extra: &str) -> String {
        format!(
            r#"{{"issuer":"{issuer}","token_endpoint":"https://l.example/token",
                "authorization_endpoint":"https://l.example/auth"{extra}}}"#
        )
    }

    #[test]
    fn only_an_openid_provider_is_asked_for_openid() {
        // A plain OAuth server (RFC 8414) that does not list `openid` is not
        // asked for it: a browser sign-in there would otherwise wait for an
        // ID token that never comes and be refused.
        let issuer = "https://l.example";
        let parse = |extra: &str, shown: &str| {
            parse_authorization_server(server_doc(issuer, extra).as_bytes(), issuer, shown)
                .unwrap()
                .metadata
                .openid
        };
        let oauth = "https://l.example/.well-known/oauth-authorization-server";
        let openid = "https://l.example/.well-known/openid-configuration";
        assert!(!parse("", oauth));
        assert!(!parse(r#","scopes_supported":["read"]"#, oauth));
        assert!(parse(r#","scopes_supported":["openid","read"]"#, oauth));
        assert!(parse("", openid));
        // A binding stored before the field existed was asked for `openid`.
        let old: Metadata =
            serde_json::from_str(r#"{"token_endpoint":"https://l.example/t"}"#).unwrap();
        assert!(old.openid);
    }

    #[test]
    fn authorization_server_metadata_must_state_exactly_the_issuer_named() {
        let issuer = "https://l.example";
        let ok = parse_authorization_server(
            server_doc(issuer, r#","registration_endpoint":"https://l.example/reg","scopes_supported":["openid","offline_access"]"#)
                .as_bytes(),
            issuer,
            "m",
        )
        .unwrap();
        assert!(ok.code_flow && !ok.device_flow && ok.metadata.offline_access);
        assert_eq!(
            ok.registration_endpoint.as_deref(),
            Some("https://l.example/reg")
        );
        for (body, needle) in [
            (server_doc("https://l.example/", ""), "another issuer"),
            (server_doc("https://L.example", ""), "another issuer"),
            (server_doc("https://evil.example", ""), "another issuer"),
            (
                r#"{"token_endpoint":"https://l.example/t"}"#.to_owned(),
                "no `issuer`",
            ),
            ("<html>".to_owned(), "not a JSON object"),
            (
                r#"{"issuer":"https://l.example","authorization_endpoint":"https://l.example/a"}"#
                    .to_owned(),
                "no `token_endpoint`",
            ),
            (
                server_doc(issuer, r#","registration_endpoint":"http://l.example/reg""#),
                "registration_endpoint",
            ),
            (
                server_doc(issuer, r#","code_challenge_methods_supported":["plain"]"#),
                "no sign-in this provider can use",
            ),
            (
                server_doc(issuer, r#","grant_types_supported":["client_credentials"]"#),
                "no sign-in this provider can use",
            ),
        ] {
            let msg = parse_authorization_server(body.as_bytes(), issuer, "m")
                .unwrap_err()
                .to_string();
            assert!(msg.contains(needle), "{body}: {msg}");
        }
        let device = parse_authorization_server(
            br#"{"issuer":"https://l.example","token_endpoint":"https://l.example/t",
                 "device_authorization_endpoint":"https://l.example/d",
                 "grant_types_supported":["urn:ietf:params:oauth:grant-type:device_code"]}"#,
            issuer,
            "m",
        )
        .unwrap();
        assert!(device.device_flow && !device.code_flow);
        assert_eq!(device.metadata.authorization_endpoint, None);
    }

    #[test]
    fn authorization_server_metadata_falls_back_to_openid_on_404_only() {
        use crate::oauth::test_server::{Canned, Server};
        let server = Server::start();
        let issuer = server.url("/tenant");
        let http = Http::new(std::time::Duration::from_millis(1500)).unwrap();
        server.route(
            "/tenant/.well-known/openid-configuration",
            Canned::json(200, &server_doc(&issuer, "")),
        );
        let got = authorization_server(&http, &issuer).unwrap();
        assert_eq!(got.issuer, issuer);
        assert_eq!(
            server.paths(),
            [
                "/.well-known/oauth-authorization-server/tenant",
                "/tenant/.well-known/openid-configuration"
            ]
        );
        server.route(
            "/.well-known/oauth-authorization-server/tenant",
            Canned::redirect("http://127.0.0.1:9/x"),
        );
        let msg = authorization_server(&http, &issuer)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("redirect"), "{msg}");
        server.route(
            "/.well-known/oauth-authorization-server/tenant",
            Canned::json(200, &server_doc(&server.url("/other"), "")),
        );
        let msg = authorization_server(&http, &issuer)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("another issuer"), "{msg}");
    }
}
