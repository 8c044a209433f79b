//! `doctor --probe`: how the registry answers Cargo's first request
//! (`config.json` of a sparse index) without a token and with the one this
//! provider would hand out. Cargo needs a `401` with `WWW-Authenticate:
//! Cargo …` to know that a registry requires auth; some registries answer
//! 403 or 400, which breaks Cargo.

use std::time::Duration;

use super::{Finding, Level, finding};
use crate::net::http::Http;
use crate::secret::Token;

/// Probes the sparse index at `index` and adds findings.
pub fn registry(index: &str, token: Option<&Token>, findings: &mut Vec<Finding>) {
    let Some(base) = index.strip_prefix("sparse+") else {
        findings.push(finding(
            "probe-not-sparse",
            Level::Info,
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
                Level::Error,
                format!("{e:#}"),
                None,
            ));
            return;
        }
    };
    let ask = |auth: Option<&Token>| -> anyhow::Result<(u16, Option<String>)> {
        let (url, mut req) = http.get(&url)?;
        if let Some(t) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, t.expose());
        }
        http.send_for_status(&url, req)
    };
    match ask(None) {
        Err(e) => findings.push(finding(
            "registry-unreachable",
            Level::Error,
            format!("{e:#}"),
            Some("check the index URL and the network".to_owned()),
        )),
        Ok((200, _)) => findings.push(finding(
            "registry-no-auth",
            Level::Info,
            format!(
                "{url} answers 200 without a token: the registry does not require auth for reads"
            ),
            None,
        )),
        Ok((401, Some(challenge))) if challenge.to_ascii_lowercase().contains("cargo") => {
            findings.push(finding(
                "registry-auth-ok",
                Level::Ok,
                format!("{url} answers 401 with `WWW-Authenticate: {challenge}`, as Cargo expects"),
                None,
            ));
        }
        Ok((401, challenge)) => findings.push(finding(
            "registry-401-without-cargo-challenge",
            Level::Warning,
            format!(
                "{url} answers 401 {}; Cargo still asks for a token, but no login URL is shown",
                challenge
                    .map(|c| format!("with `WWW-Authenticate: {c}`"))
                    .unwrap_or_else(|| "without WWW-Authenticate".to_owned())
            ),
            Some(
                "ask the registry's operators for `WWW-Authenticate: Cargo login_url=…`".to_owned(),
            ),
        )),
        Ok((status, _)) => findings.push(finding(
            "registry-bad-auth-status",
            Level::Error,
            format!(
                "{url} answers HTTP {status} without a token; Cargo needs 401 to know that the \
                 registry requires auth, so it never asks for a token"
            ),
            Some("the registry (or a proxy in front of it) must answer 401".to_owned()),
        )),
    }
    let Some(token) = token else { return };
    match ask(Some(token)) {
        Ok((200, _)) => findings.push(finding(
            "token-accepted",
            Level::Ok,
            format!("{url} accepts the token"),
            None,
        )),
        Ok((status, _)) => findings.push(finding(
            "token-rejected",
            Level::Error,
            format!("{url} answers HTTP {status} to the token this provider hands out"),
            Some(
                "the token is wrong, expired or lacks a scope; check `auth-scheme` (some \
                 registries want `Bearer `) and the source"
                    .to_owned(),
            ),
        )),
        Err(e) => findings.push(finding(
            "registry-unreachable",
            Level::Error,
            format!("{e:#}"),
            None,
        )),
    }
}
