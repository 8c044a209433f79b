//! RFC 9728 protected-resource metadata: which authorization servers a
//! registry names, fetched and checked before anything in it is trusted.
//!
//! Where it is looked for: the URL a registry's 401 named in its `Bearer`
//! challenge (`resource_metadata`, see [`super::challenge`]), which must be
//! on the registry's own origin; else (no headers: `cargo login`, publish)
//! `/.well-known/oauth-protected-resource` with the index URL's path
//! inserted, then at the origin (§3.1). A 404 moves on to the next place;
//! any other failure stops: a registry that serves something broken is told
//! so, not worked around.
//!
//! What is checked: the HTTP policy of [`crate::net::http`] (https, or http
//! to loopback; no redirects; a deadline; a size cap, here
//! [`MAX_METADATA_BYTES`]); a JSON object; `resource` equal to the resource
//! identifier the well-known URL was built from (§3.3; a trailing `/`
//! aside), on the index's origin, with the index URL under it; at least one
//! authorization server, each an `https` (or loopback) URL without query or
//! fragment; scopes that are RFC 6749 scope tokens. Caps keep a hostile
//! document small. Messages name URLs, never quote the body.

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;
use serde::Deserialize;

use crate::net::http::Http;
use crate::net::url::{checked_url, display_url, is_loopback};

/// The well-known suffix of RFC 9728.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
/// The largest metadata document accepted.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// The most authorization servers read from one document.
pub const MAX_AUTHORIZATION_SERVERS: usize = 4;
/// The most scopes read from one document.
pub const MAX_SCOPES: usize = 32;

/// A checked protected-resource metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMetadata {
    /// The resource identifier (RFC 8707 `resource` for the IdP).
    pub resource: String,
    /// The authorization servers' issuer URLs, in the document's order.
    pub authorization_servers: Vec<String>,
    /// `scopes_supported`, if given.
    pub scopes: Vec<String>,
    /// Where it was fetched from.
    pub fetched_from: String,
}

#[derive(Deserialize)]
struct Raw {
    resource: Option<serde_json::Value>,
    #[serde(default)]
    authorization_servers: Option<serde_json::Value>,
    #[serde(default)]
    scopes_supported: Option<serde_json::Value>,
}

/// The index URL as the HTTP policy sees it: Cargo's `sparse+` prefix
/// dropped, checked (https, or http to loopback), no query or fragment.
pub fn index_url(index: &str) -> anyhow::Result<Url> {
    let url = checked_url(index.strip_prefix("sparse+").unwrap_or(index))?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!(
            "the index URL {} has a query or fragment; no metadata is looked up for it",
            display_url(&url)
        );
    }
    Ok(url)
}

/// The well-known URLs to probe for `index` (RFC 9728 §3.1), each with the
/// resource identifier its document must name: the index's path inserted,
/// then the origin.
pub fn well_known_urls(index: &Url) -> Vec<(Url, String)> {
    let mut origin = index.clone();
    origin.set_path("");
    origin.set_query(None);
    origin.set_fragment(None);
    let origin_id = origin.as_str().trim_end_matches('/').to_owned();
    let mut out = Vec::with_capacity(2);
    let path = index.path().trim_end_matches('/');
    if !path.is_empty() {
        let mut at = origin.clone();
        at.set_path(&format!("{WELL_KNOWN}{path}"));
        out.push((at, format!("{origin_id}{path}")));
    }
    let mut at = origin;
    at.set_path(WELL_KNOWN);
    out.push((at, origin_id));
    out
}

/// Whether `a` and `b` have the same scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Finds and checks the metadata of the registry at `index` (its URL as
/// Cargo gives it): at `named` (the challenge's `resource_metadata`), else
/// at the well-known URLs.
pub fn discover(http: &Http, index: &str, named: Option<&str>) -> anyhow::Result<ResourceMetadata> {
    let index = index_url(index)?;
    if let Some(named) = named {
        let url = checked_url(named)
            .context("the registry's 401 names a `resource_metadata` URL that is refused")?;
        if !same_origin(&url, &index) {
            bail!(
                "the registry's 401 names metadata at {}, which is not on the registry's own \
                 origin ({}); refused",
                display_url(&url),
                index.origin().ascii_serialization()
            );
        }
        let body = fetch(http, &url)?.ok_or_else(|| {
            anyhow!(
                "the protected-resource metadata the registry names ({}) answered HTTP 404",
                display_url(&url)
            )
        })?;
        return check(&body, &display_url(&url), None, &index);
    }
    let mut tried = Vec::new();
    for (url, expected) in well_known_urls(&index) {
        match fetch(http, &url)? {
            Some(body) => return check(&body, &display_url(&url), Some(&expected), &index),
            None => tried.push(display_url(&url)),
        }
    }
    bail!(
        "the registry serves no protected-resource metadata (RFC 9728): {} answered HTTP 404",
        tried.join(" and ")
    )
}

/// [`discover`] at the well-known URLs, with `None` when every one answered
/// 404 (the registry publishes no metadata: not an error, there is nothing
/// to discover); any other failure is an error.
pub fn probe(http: &Http, index: &str) -> anyhow::Result<Option<ResourceMetadata>> {
    let parsed = index_url(index)?;
    for (url, expected) in well_known_urls(&parsed) {
        if let Some(body) = fetch(http, &url)? {
            return check(&body, &display_url(&url), Some(&expected), &parsed).map(Some);
        }
    }
    Ok(None)
}

/// GETs `url`: the body of a 200, `None` for a 404, else an error.
fn fetch(http: &Http, url: &Url) -> anyhow::Result<Option<Vec<u8>>> {
    let (url, req) = http.get(url.as_str())?;
    let req = req.header(reqwest::header::ACCEPT, "application/json");
    let resp = http.send(&url, req)?;
    let shown = display_url(&url);
    match resp.status {
        200 => {}
        404 => return Ok(None),
        status => bail!("the protected-resource metadata at {shown} answered HTTP {status}"),
    }
    if resp.body.len() > MAX_METADATA_BYTES {
        bail!(
            "the protected-resource metadata at {shown} is larger than {MAX_METADATA_BYTES} \
             bytes; refused"
        );
    }
    Ok(Some(resp.body))
}

/// Reads and checks a metadata document fetched from `shown`: its
/// `resource` must be `expected` (a trailing `/` aside) when given, and in
/// any case on `index`'s origin with `index` under it.
pub fn check(
    body: &[u8],
    shown: &str,
    expected: Option<&str>,
    index: &Url,
) -> anyhow::Result<ResourceMetadata> {
    if body.len() > MAX_METADATA_BYTES {
        bail!("the protected-resource metadata at {shown} is too large; refused");
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|_| {
        anyhow!("the protected-resource metadata at {shown} is not a JSON object (RFC 9728)")
    })?;
    let Some(resource) = raw.resource.as_ref().and_then(|r| r.as_str()) else {
        bail!("the protected-resource metadata at {shown} has no `resource` string; refused");
    };
    if !printable(resource) {
        bail!(
            "the `resource` in the protected-resource metadata at {shown} has a control, space \
             or non-ASCII character; refused"
        );
    }
    let resource_url = Url::parse(resource)
        .ok()
        .filter(|u| u.query().is_none() && u.fragment().is_none() && u.username().is_empty())
        .ok_or_else(|| {
            anyhow!(
                "the `resource` in the protected-resource metadata at {shown} is not a plain URL"
            )
        })?;
    if let Some(expected) = expected
        && resource.trim_end_matches('/') != expected.trim_end_matches('/')
    {
        bail!(
            "the protected-resource metadata at {shown} describes {} instead of {expected} \
             (RFC 9728 §3.3); refused",
            display_url(&resource_url)
        );
    }
    if !under(index, &resource_url) {
        bail!(
            "the protected-resource metadata at {shown} describes {}, which does not contain \
             the registry's index {}; refused",
            display_url(&resource_url),
            display_url(index)
        );
    }
    let servers = strings(raw.authorization_servers.as_ref()).ok_or_else(|| {
        anyhow!("`authorization_servers` in the metadata at {shown} is not a list of strings")
    })?;
    if servers.is_empty() {
        bail!("the protected-resource metadata at {shown} names no `authorization_servers`");
    }
    if servers.len() > MAX_AUTHORIZATION_SERVERS {
        bail!(
            "the protected-resource metadata at {shown} names more than \
             {MAX_AUTHORIZATION_SERVERS} authorization servers; refused"
        );
    }
    for server in &servers {
        // Shown on the terminal and compared exactly: printable ASCII, as
        // the URL parser writes it (which would drop a CR or LF and escape
        // what a terminal acts on), a trailing `/` aside.
        if !printable(server) {
            bail!(
                "an authorization server named by the metadata at {shown} has a control, \
                 space or non-ASCII character; refused"
            );
        }
        let url = checked_url(server).with_context(|| {
            format!("an authorization server named by the metadata at {shown} is refused")
        })?;
        // A registry on a public host naming an IdP on this machine's
        // loopback: on a shared machine that port may be anyone's.
        if is_loopback(&url) && !is_loopback(index) {
            bail!(
                "the authorization server {} named by the metadata at {shown} is on this \
                 machine's loopback, but the registry is not; refused",
                display_url(&url)
            );
        }
        if url.as_str().trim_end_matches('/') != server.trim_end_matches('/') {
            bail!(
                "the authorization server {} named by the metadata at {shown} is not written as \
                 a plain URL (RFC 8414 §2); refused",
                display_url(&url)
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!(
                "the authorization server {} named by the metadata at {shown} has a query or \
                 fragment; an issuer has neither (RFC 8414 §2)",
                display_url(&url)
            );
        }
    }
    let scopes = match raw.scopes_supported.as_ref() {
        None | Some(serde_json::Value::Null) => Vec::new(),
        some => strings(some).ok_or_else(|| {
            anyhow!("`scopes_supported` in the metadata at {shown} is not a list of strings")
        })?,
    };
    if scopes.len() > MAX_SCOPES || !scopes.iter().all(|s| is_scope_token(s)) {
        bail!(
            "`scopes_supported` in the metadata at {shown} has more than {MAX_SCOPES} scopes or \
             one that is not a scope token (RFC 6749 §3.3); refused"
        );
    }
    Ok(ResourceMetadata {
        resource: resource.to_owned(),
        authorization_servers: servers,
        scopes,
        fetched_from: shown.to_owned(),
    })
}

/// A list of strings, or `None` when it is not one (absent: empty).
fn strings(value: Option<&serde_json::Value>) -> Option<Vec<String>> {
    match value {
        None | Some(serde_json::Value::Null) => Some(Vec::new()),
        Some(serde_json::Value::Array(items)) if items.len() <= 64 => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}

/// Whether `s` is printable ASCII without spaces, at most 2048 bytes.
fn printable(s: &str) -> bool {
    s.len() <= 2048 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// RFC 6749 §3.3: `1*( %x21 / %x23-5B / %x5D-7E )`, at most 128 bytes.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Whether `index` is on `resource`'s origin with its path under
/// `resource`'s, segment by segment.
pub fn under(index: &Url, resource: &Url) -> bool {
    if !same_origin(index, resource) {
        return false;
    }
    let base = resource.path().trim_end_matches('/');
    let path = index.path();
    base.is_empty()
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::test_server::{Canned, Server};
    use std::time::Duration;

    #[test]
    fn well_known_urls_insert_the_path_then_the_origin() {
        let index = index_url("sparse+https://r.example:8443/api/v1/crates/").unwrap();
        let got: Vec<(String, String)> = well_known_urls(&index)
            .into_iter()
            .map(|(u, r)| (u.to_string(), r))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "https://r.example:8443/.well-known/oauth-protected-resource/api/v1/crates"
                        .to_owned(),
                    "https://r.example:8443/api/v1/crates".to_owned()
                ),
                (
                    "https://r.example:8443/.well-known/oauth-protected-resource".to_owned(),
                    "https://r.example:8443".to_owned()
                ),
            ]
        );
        let root = index_url("https://r.example/").unwrap();
        assert_eq!(well_known_urls(&root).len(), 1);
        assert!(index_url("sparse+http://r.example/index/").is_err());
        assert!(index_url("sparse+https://r.example/index/?x=1").is_err());
    }

    #[test]
    fn the_index_must_lie_under_the_resource() {
        let u = |s: &str| Url::parse(s).unwrap();
        let index = u("https://r.example/api/v1/crates/");
        assert!(under(&index, &u("https://r.example")));
        assert!(under(&index, &u("https://r.example/api")));
        assert!(under(&index, &u("https://r.example/api/v1/crates")));
        assert!(under(&index, &u("https://r.example/api/v1/crates/")));
        assert!(!under(&index, &u("https://r.example/ap")));
        assert!(!under(&index, &u("https://r.example/other")));
        assert!(!under(&index, &u("https://r.example:444/api")));
        assert!(!under(&index, &u("http://r.example/api")));
        assert!(!under(&index, &u("https://evil.example/api")));
    }

    fn doc(resource: &str, servers: &str) -> String {
        format!(
            r#"{{"resource":"{resource}","authorization_servers":{servers},"scopes_supported":["read","publish"]}}"#
        )
    }

    #[test]
    fn documents_are_checked_before_anything_in_them_is_used() {
        let index = index_url("https://r.example/api/v1/crates/").unwrap();
        let expected = Some("https://r.example/api/v1/crates");
        let ok = check(
            doc(
                "https://r.example/api/v1/crates/",
                r#"["https://login.example"]"#,
            )
            .as_bytes(),
            "m",
            expected,
            &index,
        )
        .unwrap();
        assert_eq!(ok.authorization_servers, ["https://login.example"]);
        assert_eq!(ok.scopes, ["read", "publish"]);
        let five = r#"["https://a.example","https://b.example","https://c.example","https://d.example","https://e.example"]"#;
        for (body, needle) in [
            ("not json".to_owned(), "not a JSON object"),
            ("[]".to_owned(), "not a JSON object"),
            (r#"{"resource":1}"#.to_owned(), "no `resource`"),
            (doc("https://r.example/api", r#"["https://l.example"]"#), "instead of"),
            (doc("https://evil.example/api/v1/crates", r#"["https://l.example"]"#), "instead of"),
            (doc("https://r.example/api/v1/crates", "[]"), "names no"),
            (doc("https://r.example/api/v1/crates", r#""https://l.example""#), "not a list"),
            (doc("https://r.example/api/v1/crates", r#"["http://l.example"]"#), "refused"),
            (doc("https://r.example/api/v1/crates", r#"["https://l.example/?x"]"#), "query"),
            (doc("https://r.example/api/v1/crates", five), "more than"),
            (
                r#"{"resource":"https://r.example/api/v1/crates","authorization_servers":["https://l.example"],"scopes_supported":["a b"]}"#.to_owned(),
                "scope token",
            ),
        ] {
            let msg = format!("{:#}", check(body.as_bytes(), "m", expected, &index).unwrap_err());
            assert!(msg.contains(needle), "{body}: {msg}");
        }
        // Named by a challenge: no expected identifier, but the index must
        // still lie under the resource.
        let msg = check(
            doc("https://r.example/other", r#"["https://l.example"]"#).as_bytes(),
            "m",
            None,
            &index,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("does not contain"), "{msg}");
    }

    #[test]
    fn an_issuer_with_terminal_escapes_or_another_spelling_is_refused() {
        // review-18 F2: the URL parser drops CR, LF and TAB and escapes ESC
        // or BEL in a path, so the parsed URL passes while the string (shown
        // in the trust question) holds them.
        let index = index_url("https://r.example/api/v1/crates/").unwrap();
        let expected = Some("https://r.example/api/v1/crates");
        for server in [
            "https://l.example/\\r\\u001b[2K\\u001b[1A\\rSign in at login.corp.example? [y/N] \\u001b[8m",
            "https://l.example/\\u001b]0;pwned\\u0007",
            "https://l.exa\\tmple/",
            "https://l.example/\\u202ex",
            "https://l.example/a b",
            "https://L.Example/",
            "https://l.example:443/",
            "https://l.example/a/../b",
        ] {
            let body = doc(
                "https://r.example/api/v1/crates",
                &format!(r#"["{server}"]"#),
            );
            let msg = format!(
                "{:#}",
                check(body.as_bytes(), "m", expected, &index).unwrap_err()
            );
            assert!(msg.contains("refused"), "{server}: {msg}");
            assert!(!msg.chars().any(crate::diag::hidden), "{server}: {msg:?}");
        }
        let body = doc(
            "https://r.example/api/v1/crates\\u001b[2J",
            r#"["https://l.example"]"#,
        );
        assert!(check(body.as_bytes(), "m", expected, &index).is_err());
        // The plain spellings pass, with or without a trailing `/`.
        for server in [
            "https://l.example",
            "https://l.example/",
            "https://l.example/t/v2.0",
        ] {
            let body = doc(
                "https://r.example/api/v1/crates",
                &format!(r#"["{server}"]"#),
            );
            let m = check(body.as_bytes(), "m", expected, &index).unwrap();
            assert_eq!(m.authorization_servers, [server]);
        }
    }

    #[test]
    fn a_remote_registry_may_not_name_a_loopback_idp() {
        // review-18 F6a.
        let remote = index_url("https://r.example/api/v1/crates/").unwrap();
        for server in [
            "http://127.0.0.1:9/idp",
            "https://localhost:8443",
            "http://[::1]:9",
        ] {
            let body = doc(
                "https://r.example/api/v1/crates",
                &format!(r#"["{server}"]"#),
            );
            let msg = format!(
                "{:#}",
                check(body.as_bytes(), "m", None, &remote).unwrap_err()
            );
            assert!(msg.contains("loopback"), "{server}: {msg}");
        }
        // A loopback registry (a dev setup, the tests) may.
        let local = index_url("http://127.0.0.1:8000/api/v1/crates/").unwrap();
        let body = doc(
            "http://127.0.0.1:8000/api/v1/crates",
            r#"["http://127.0.0.1:9/idp"]"#,
        );
        check(body.as_bytes(), "m", None, &local).unwrap();
    }

    #[test]
    fn a_slow_answer_names_the_deadline_that_applies() {
        // review-18 F6c: discovery's deadline is no `timeout-ms`.
        let server = Server::start();
        server.route("/slow", Canned::slow(Duration::from_secs(3), "{}"));
        let http = Http::new(Duration::from_millis(300))
            .unwrap()
            .with_timeout_setting("discovery's fixed deadline");
        let msg = format!(
            "{:#}",
            discover(&http, &index_of(&server), Some(&server.url("/slow"))).unwrap_err()
        );
        assert!(
            msg.contains("discovery's fixed deadline") && !msg.contains("timeout-ms"),
            "{msg}"
        );
    }

    fn http() -> Http {
        Http::new(Duration::from_millis(1500)).unwrap()
    }

    fn index_of(server: &Server) -> String {
        format!("sparse+{}/api/v1/crates/", server.base())
    }

    #[test]
    fn the_path_inserted_url_is_tried_first_then_the_origin() {
        let server = Server::start();
        let base = server.base();
        server.route(
            WELL_KNOWN,
            Canned::json(200, &doc(&base, &format!(r#"["{base}/idp"]"#))),
        );
        let m = discover(&http(), &index_of(&server), None).unwrap();
        assert_eq!(m.resource, base);
        assert_eq!(
            server.paths(),
            [format!("{WELL_KNOWN}/api/v1/crates"), WELL_KNOWN.to_owned()]
        );
        // Nothing anywhere: one clear error naming both places.
        let empty = Server::start();
        let msg = discover(&http(), &index_of(&empty), None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("no protected-resource metadata") && msg.contains("404"),
            "{msg}"
        );
    }

    #[test]
    fn hostile_metadata_servers_are_refused_with_what_went_wrong() {
        let server = Server::start();
        let base = server.base();
        let path = format!("{WELL_KNOWN}/api/v1/crates");
        let good = doc(
            &format!("{base}/api/v1/crates"),
            r#"["http://127.0.0.1:9/idp"]"#,
        );
        for (route, needle) in [
            (Canned::json(200, "<html>"), "not a JSON object"),
            (
                Canned::json(200, &"x".repeat(MAX_METADATA_BYTES + 1)),
                "larger than",
            ),
            (Canned::huge(10 * 1024 * 1024), "larger than"),
            (Canned::redirect(&format!("{base}/elsewhere")), "redirect"),
            (
                Canned::slow(Duration::from_secs(5), &good),
                "within 1500 ms",
            ),
            (Canned::json(500, &good), "HTTP 500"),
            (
                Canned::json(200, &doc("http://127.0.0.1:1/api/v1/crates", "[]")),
                "instead of",
            ),
        ] {
            server.route(&path, route);
            let msg = format!(
                "{:#}",
                discover(&http(), &index_of(&server), None).unwrap_err()
            );
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        server.route(&path, Canned::json(200, &good));
        assert!(discover(&http(), &index_of(&server), None).is_ok());
    }

    #[test]
    fn a_challenge_may_only_name_metadata_on_the_registrys_own_origin() {
        let registry = Server::start();
        let other = Server::start();
        let base = registry.base();
        let good = doc(&base, r#"["http://127.0.0.1:9/idp"]"#);
        other.route("/m", Canned::json(200, &good));
        registry.route("/m", Canned::json(200, &good));
        let msg = discover(&http(), &index_of(&registry), Some(&other.url("/m")))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not on the registry's own origin"), "{msg}");
        assert!(
            other.paths().is_empty(),
            "nothing fetched from the other origin"
        );
        let msg = format!(
            "{:#}",
            discover(&http(), &index_of(&registry), Some("http://evil.example/m")).unwrap_err()
        );
        assert!(msg.contains("plain http"), "{msg}");
        let m = discover(&http(), &index_of(&registry), Some(&registry.url("/m"))).unwrap();
        assert_eq!(m.authorization_servers, ["http://127.0.0.1:9/idp"]);
        assert_eq!(registry.paths(), ["/m"]);
    }
}
