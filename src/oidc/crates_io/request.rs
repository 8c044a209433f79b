//! The trusted publishing endpoint's requests: the exchange (`POST
//! {"jwt": …}`, answered `{"token": …}`) and the revocation (`DELETE` with
//! the token as bearer), with crates.io's errors cleaned and given a fix.

use anyhow::{anyhow, bail};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{
    LIFETIME_MARGIN_SECS, TOKEN_LIFETIME_SECS, bound_index, crates_io_endpoint_refusal,
    is_crates_io_audience, jwt_audiences,
};
use crate::net::fields::{self, Value};
use crate::net::http::Http;
use crate::net::url::display_url;
use crate::oidc::exchange;
use crate::oidc::settings::OidcSettings;
use crate::secret::Token;

/// The exchange: POST `{"jwt": <CI ID token>}`, answer `{"token": …}`.
/// `secrets` (the ID token as sent and as it may be echoed) are redacted
/// from what crates.io says. For a registry other than crates.io, an ID
/// token whose `aud` is crates.io's is not sent (GitLab's `id_tokens` sets
/// the audience, not `identity-audience`).
pub(crate) fn request(
    http: &Http,
    endpoint: &str,
    settings: &OidcSettings,
    subject: Option<&Token>,
    secrets: &[Zeroizing<String>],
) -> anyhow::Result<exchange::Issued> {
    let jwt =
        subject.ok_or_else(|| anyhow!("crates.io trusted publishing needs a CI identity token"))?;
    match bound_index(settings) {
        // A crates.io-compatible registry: an ID token crates.io would take
        // (or one whose audience cannot be read) is not sent.
        Some(bound)
            if jwt_audiences(jwt)
                .is_none_or(|auds| auds.iter().any(|a| is_crates_io_audience(a))) =>
        {
            bail!(
                "the CI ID token's audience is crates.io's (or cannot be read): it is not sent \
                 to the trusted publishing endpoint of the registry at `{bound}` (another server \
                 could exchange it at crates.io). Give the job's ID token the audience \
                 `identity-audience` names (GitLab: `aud:` under `id_tokens`)"
            );
        }
        Some(_) => {}
        // crates.io: only to crates.io (or a loopback test server).
        None => {
            if let Some((key, why)) = crates_io_endpoint_refusal(settings) {
                bail!("grant \"crates-io-trusted-publishing\": `{key}` {why}");
            }
        }
    }
    let body = fields::json(&[("jwt", Value::Secret(jwt))]);
    let (url, resp) = http.post_json(endpoint, &body)?;
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse(resp.status, &resp.body, &display_url(&url), &secrets)
}

/// Reads crates.io's answer to an exchange. An error shows crates.io's
/// `detail`s (cleaned, shortened, with `secrets` and anything token-shaped
/// redacted) and what to change; never the body itself.
pub fn parse(
    status: u16,
    body: &[u8],
    endpoint: &str,
    secrets: &[&str],
) -> anyhow::Result<exchange::Issued> {
    if status == 200 {
        #[derive(Deserialize)]
        struct Answer {
            token: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(body).map_err(|_| {
            anyhow!(
                "{endpoint} answered HTTP 200 but not with crates.io's token answer \
                 (`{{\"token\": …}}`); check `token-endpoint`"
            )
        })?;
        let raw = answer
            .token
            .ok_or_else(|| anyhow!("{endpoint} answered without a `token`"))?;
        let token = Token::parse(raw, &format!("the answer of {endpoint}"))?
            .ok_or_else(|| anyhow!("{endpoint} answered with an empty token"))?;
        return Ok(exchange::Issued {
            token,
            expires_in: Some(TOKEN_LIFETIME_SECS - LIFETIME_MARGIN_SECS),
        });
    }
    let detail = details(body)
        .map(|d| exchange::clean(&d, secrets))
        .filter(|d| !d.is_empty());
    let message = match &detail {
        Some(d) => format!(
            "crates.io ({endpoint}) refused to issue a trusted publishing token: {d} (HTTP \
             {status}); {}",
            fix(d, status)
        ),
        None => format!(
            "crates.io ({endpoint}) refused to issue a trusted publishing token (HTTP {status}); {}",
            fix("", status)
        ),
    };
    Err(anyhow!(message))
}

/// crates.io's error `detail`s (`{"errors":[{"detail":…}, …]}`), joined.
fn details(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        detail: Option<String>,
    }
    let errors: Errors = serde_json::from_slice(body).ok()?;
    let all: Vec<String> = errors.errors.into_iter().filter_map(|d| d.detail).collect();
    (!all.is_empty()).then(|| all.join("; "))
}

/// What to change, from what crates.io said.
fn fix(detail: &str, status: u16) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if d.contains("no trusted publishing config") {
        "add a trusted publisher for this repository on crates.io (the crate's Settings → \
         Trusted Publishing: owner, repository and workflow file, or GitLab namespace, project \
         and CI file); a crate's first version must be published with an API token"
    } else if d.contains("owner id") || d.contains("namespace id") {
        "the trusted publisher was set up for an earlier owner of this repository or namespace: \
         remove it on crates.io and add it again"
    } else if d.contains("workflow") {
        "the workflow file (GitHub) or CI config file (GitLab) running this job must be the one \
         the crate's trusted publisher on crates.io names"
    } else if d.contains("environment") {
        "run the job in the environment the crate's trusted publisher on crates.io names, or \
         remove the environment there"
    } else if d.contains("already been used") {
        "crates.io accepts each CI ID token once. GitHub Actions tokens are fetched anew for \
         every exchange; a GitLab `id_tokens` token can be exchanged once per job (the publish \
         token it gave is cached and reused for up to 28 minutes)"
    } else if d.contains("jwt") && (d.contains("issuer") || d.contains("unsupported")) {
        "crates.io accepts ID tokens from GitHub Actions and GitLab CI (gitlab.com) only"
    } else if d.contains("jwt") {
        "crates.io could not verify the CI ID token: its audience must be `crates.io` \
         (`identity-audience`; for GitLab, `aud: crates.io` under `id_tokens`) and it must not \
         have expired"
    } else if status >= 500 {
        "crates.io is failing; retry later"
    } else if status == 404 {
        "there is no trusted publishing endpoint at this URL: check `token-endpoint`"
    } else {
        "see https://crates.io/docs/trusted-publishing"
    }
}

/// Revokes `token` at `endpoint` (`DELETE` with the token as bearer). A
/// token crates.io no longer knows (401, 403: expired or revoked already)
/// counts as revoked.
pub fn revoke_token(http: &Http, endpoint: &str, token: &Token) -> anyhow::Result<()> {
    let (url, req) = http.delete(endpoint)?;
    let req = fields::bearer(
        req.header(reqwest::header::ACCEPT, "application/json"),
        token,
    );
    let resp = http.send(&url, req)?;
    match resp.status {
        200..=299 | 401 | 403 => Ok(()),
        status => {
            let shown = display_url(&url);
            let echoes = token.echoes();
            let echoes: Vec<&str> = echoes.iter().map(|s| s.as_str()).collect();
            let detail = details(&resp.body)
                .map(|d| format!(": {}", exchange::clean(&d, &echoes)))
                .unwrap_or_default();
            bail!("{shown} refused to revoke the token (HTTP {status}){detail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "https://crates.io/api/v1/trusted_publishing/tokens";

    #[test]
    fn a_token_lives_thirty_minutes_less_the_margin() {
        let issued = parse(200, br#"{"token":"cio_tp_abc"}"#, EP, &[]).unwrap();
        assert_eq!(issued.token.expose(), "cio_tp_abc");
        assert_eq!(issued.expires_in, Some(30 * 60 - 60));
        for bad in [&b"{}"[..], b"<html>", br#"{"token":""}"#] {
            assert!(parse(200, bad, EP, &[]).is_err());
        }
    }

    #[test]
    fn crates_io_errors_are_shown_cleaned_and_redacted_with_a_fix() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiIxIn0.c2lnbmF0dXJlLXNpZw";
        for (body, needles) in [
            (
                r#"{"errors":[{"detail":"No Trusted Publishing config found for repository `o/r`."}]}"#
                    .to_owned(),
                &["No Trusted Publishing config found for repository `o/r`", "HTTP 400",
                  "add a trusted publisher"][..],
            ),
            (
                r#"{"errors":[{"detail":"JWT has already been used"}]}"#.to_owned(),
                &["JWT has already been used", "once"][..],
            ),
            (
                r#"{"errors":[{"detail":"Failed to decode JWT"}]}"#.to_owned(),
                &["Failed to decode JWT", "audience must be `crates.io`"][..],
            ),
            (
                format!(r#"{{"errors":[{{"detail":"bad token {jwt}\u001b[31m"}}]}}"#),
                &["[redacted]", "trusted-publishing"][..],
            ),
        ] {
            let msg = format!("{:#}", parse(400, body.as_bytes(), EP, &[jwt]).unwrap_err());
            for needle in needles {
                assert!(msg.contains(needle), "{needle:?} in {msg}");
            }
            assert!(!msg.contains("eyJ") && !msg.contains('\u{1b}'), "{msg}");
            assert!(msg.contains(EP), "{msg}");
        }
        let msg = format!(
            "{:#}",
            parse(502, b"<html>SECRET</html>", EP, &[]).unwrap_err()
        );
        assert!(
            msg.contains("retry later") && !msg.contains("SECRET"),
            "{msg}"
        );
    }
}
