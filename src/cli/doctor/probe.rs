//! `doctor --probe`: how the registry answers Cargo's first request
//! (`config.json` of a sparse index) without a token and, where Cargo would
//! send one, with the one this provider would hand out. Cargo needs a `401`
//! with `WWW-Authenticate: Cargo …` to know that a registry requires auth;
//! some registries answer 403 or 400, which breaks Cargo.
//!
//! The token goes only where Cargo sends it: after a 401, or when
//! `config.json` says `"auth-required": true`; never to crates.io's index
//! (`index.crates.io`), which takes no token (a crates.io token is for its
//! API only).

use std::time::Duration;

use serde::Deserialize;

use super::report::{Finding, Severity, finding};
use crate::net::http::Http;
use crate::secret::Token;

/// The host of crates.io's sparse index, which never gets a token.
const CRATES_IO_INDEX_HOST: &str = "index.crates.io";

/// The part of a sparse index's `config.json` that says whether reads
/// need auth.
#[derive(Deserialize)]
struct IndexConfig {
    #[serde(rename = "auth-required", default)]
    auth_required: bool,
}

/// How `config.json` answered without a token, as far as sending the token
/// is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tokenless {
    /// 401: Cargo retries with a token.
    Unauthorized,
    /// 200 with `"auth-required": true`: Cargo sends the token.
    AuthRequired,
    /// Anything else (200 without it, 403, …): Cargo sends no token.
    NoAuth,
}

/// Whether Cargo would send a token to `url` after `answer`.
fn sends_token(url: &reqwest::Url, answer: Tokenless) -> bool {
    let crates_io = url
        .host_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(CRATES_IO_INDEX_HOST));
    !crates_io && answer != Tokenless::NoAuth
}

/// Probes the sparse index at `index` and adds findings.
pub fn registry(index: &str, token: Option<&Token>, findings: &mut Vec<Finding>) {
    let Some(base) = index.strip_prefix("sparse+") else {
        findings.push(finding(
            "probe-not-sparse",
            Severity::Info,
            "a git index is not probed (only sparse indexes)".to_owned(),
            None,
        ));
        return;
    };
    let url = format!("{}/config.json", base.trim_end_matches('/'));
    let http = match Http::new(Duration::from_secs(10)) {
        Ok(http) => http,
        Err(e) => {
            findings.push(finding(
                "probe-failed",
                Severity::Error,
                format!("{e:#}"),
                None,
            ));
            return;
        }
    };
    let ask = |auth: Option<&Token>| -> anyhow::Result<(u16, Option<String>)> {
        let (url, mut req) = http.get(&url)?;
        if let Some(t) = auth {
            req = crate::net::fields::header(req, "authorization", t);
        }
        http.send_for_status(&url, req)
    };
    let tokenless = match ask(None) {
        Err(e) => {
            findings.push(finding(
                "registry-unreachable",
                Severity::Error,
                format!("{e:#}"),
                Some("check the index URL and the network".to_owned()),
            ));
            return;
        }
        Ok((200, _)) => {
            // Cargo reads `auth-required` from the body.
            let auth_required = http
                .get(&url)
                .and_then(|(u, req)| http.send(&u, req))
                .ok()
                .filter(|r| r.status == 200)
                .and_then(|r| serde_json::from_slice::<IndexConfig>(&r.body).ok())
                .is_some_and(|c| c.auth_required);
            if auth_required {
                findings.push(finding(
                    "registry-auth-required",
                    Severity::Ok,
                    format!(
                        "{url} answers 200 with `\"auth-required\": true`: Cargo sends the \
                         token with every request"
                    ),
                    None,
                ));
                Tokenless::AuthRequired
            } else {
                findings.push(finding(
                    "registry-no-auth",
                    Severity::Info,
                    format!(
                        "{url} answers 200 without a token: the registry does not require auth \
                         for reads"
                    ),
                    None,
                ));
                Tokenless::NoAuth
            }
        }
        Ok((401, Some(challenge))) if challenge.to_ascii_lowercase().contains("cargo") => {
            findings.push(finding(
                "registry-auth-ok",
                Severity::Ok,
                format!("{url} answers 401 with `WWW-Authenticate: {challenge}`, as Cargo expects"),
                None,
            ));
            Tokenless::Unauthorized
        }
        Ok((401, challenge)) => {
            findings.push(finding(
                "registry-401-without-cargo-challenge",
                Severity::Warning,
                format!(
                    "{url} answers 401 {}; Cargo still asks for a token, but no login URL is shown",
                    challenge
                        .map(|c| format!("with `WWW-Authenticate: {c}`"))
                        .unwrap_or_else(|| "without WWW-Authenticate".to_owned())
                ),
                Some(
                    "ask the registry's operators for `WWW-Authenticate: Cargo login_url=…`"
                        .to_owned(),
                ),
            ));
            Tokenless::Unauthorized
        }
        Ok((status, _)) => {
            findings.push(finding(
                "registry-bad-auth-status",
                Severity::Error,
                format!(
                    "{url} answers HTTP {status} without a token; Cargo needs 401 to know that \
                     the registry requires auth, so it never asks for a token"
                ),
                Some("the registry (or a proxy in front of it) must answer 401".to_owned()),
            ));
            Tokenless::NoAuth
        }
    };
    let Some(token) = token else { return };
    let checked = match reqwest::Url::parse(&url) {
        Ok(u) => u,
        Err(_) => return,
    };
    if !sends_token(&checked, tokenless) {
        findings.push(finding(
            "probe-token-not-sent",
            Severity::Info,
            format!(
                "the token was not sent to {url}: Cargo sends one only after a 401 or when \
                 config.json says `\"auth-required\": true`, and never to crates.io's index"
            ),
            None,
        ));
        return;
    }
    match ask(Some(token)) {
        Ok((200, _)) => findings.push(finding(
            "token-accepted",
            Severity::Ok,
            format!("{url} accepts the token"),
            None,
        )),
        Ok((status, _)) => findings.push(finding(
            "token-rejected",
            Severity::Error,
            format!("{url} answers HTTP {status} to the token this provider hands out"),
            Some(
                "the token is wrong, expired or lacks a scope; check `auth-scheme` (some \
                 registries want `Bearer `) and the source"
                    .to_owned(),
            ),
        )),
        Err(e) => findings.push(finding(
            "registry-unreachable",
            Severity::Error,
            format!("{e:#}"),
            None,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_where_cargo_sends_it() {
        let registry = reqwest::Url::parse("https://r.example/api/v1/crates/config.json").unwrap();
        assert!(sends_token(&registry, Tokenless::Unauthorized));
        assert!(sends_token(&registry, Tokenless::AuthRequired));
        assert!(!sends_token(&registry, Tokenless::NoAuth));
        let crates_io = reqwest::Url::parse("https://INDEX.crates.io/config.json").unwrap();
        for answer in [
            Tokenless::Unauthorized,
            Tokenless::AuthRequired,
            Tokenless::NoAuth,
        ] {
            assert!(!sends_token(&crates_io, answer), "{answer:?}");
        }
    }
}
