//! GitHub Actions: the job asks GitHub's ID token endpoint
//! (`ACTIONS_ID_TOKEN_REQUEST_URL`, with `ACTIONS_ID_TOKEN_REQUEST_TOKEN` as
//! bearer), present only with `permissions: id-token: write`. Keyed on the
//! per-job request token and URL; the ID token is fetched on a cache miss.

use anyhow::{Context as _, bail};
use reqwest::Url;

use super::{CiSystem, Fetch, Identity, ci_token, var};
use crate::cache;
use crate::child::Runner;
use crate::env::Environment;
use crate::net::http::Http;
use crate::oidc::settings::{IdentityKind, OidcSettings};
use crate::secret::Token;

/// GitHub Actions.
pub(super) struct GithubActions;

impl CiSystem for GithubActions {
    fn kind(&self) -> IdentityKind {
        IdentityKind::GithubActions
    }

    fn detect(&self, _: &OidcSettings, env: &dyn Environment) -> bool {
        var(env, "ACTIONS_ID_TOKEN_REQUEST_URL").is_some() || var(env, "GITHUB_ACTIONS").is_some()
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let url = request_url(settings, env)?;
        let bearer = var(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN").unwrap_or_default();
        Ok(Identity {
            kind: self.kind(),
            fingerprint: cache::key(&["github", url.as_str(), &bearer]),
            how: Box::new(Request {
                url: url.into(),
                bearer: Token::new(bearer),
            }),
        })
    }
}

/// The ID token request URL, with `identity-audience` as `audience`.
fn request_url(settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Url> {
    let (Some(url), Some(_)) = (
        var(env, "ACTIONS_ID_TOKEN_REQUEST_URL"),
        var(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        bail!(
            "GitHub Actions gives this job no OIDC token: add `permissions: id-token: \
             write` to the workflow or job (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are unset)"
        );
    };
    let mut url = Url::parse(&url).context("ACTIONS_ID_TOKEN_REQUEST_URL is not a valid URL")?;
    if let Some(aud) = &settings.identity_audience {
        url.query_pairs_mut().append_pair("audience", aud);
    }
    Ok(url)
}

/// A GET of GitHub's ID token endpoint.
struct Request {
    url: String,
    bearer: Token,
}

impl Fetch for Request {
    fn fetch(self: Box<Self>, http: &Http, _: &Runner) -> anyhow::Result<Token> {
        let (url, req) = http.get(&self.url)?;
        let answer = http.send(&url, crate::net::fields::bearer(req, &self.bearer))?;
        ci_token(
            answer,
            "value",
            "GitHub Actions",
            "check `permissions: id-token: write` and `identity-audience`",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::locate;
    use super::super::test_util::{env, settings};
    use super::*;

    #[test]
    fn github_is_detected_and_needs_the_permission() {
        let s = settings("identity-audience = \"corp-registry\"\n");
        let job = env(&[
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://gh.example/token?api-version=2.0",
            ),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req-secret"),
        ]);
        let id = locate(&s, &job).unwrap().unwrap();
        assert_eq!(id.kind, IdentityKind::GithubActions);
        assert_eq!(
            request_url(&s, &job).unwrap().as_str(),
            "https://gh.example/token?api-version=2.0&audience=corp-registry"
        );
        let msg = locate(&s, &env(&[("GITHUB_ACTIONS", "true")]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("id-token: write"), "{msg}");
    }
}
