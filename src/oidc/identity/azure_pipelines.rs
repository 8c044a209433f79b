//! Azure Pipelines: a POST to `SYSTEM_OIDCREQUESTURI` for a service
//! connection (`azure-service-connection-id`), with the job's
//! `System.AccessToken` (mapped in as `SYSTEM_ACCESSTOKEN`) as bearer. Keyed
//! on the access token and the URL; the ID token is fetched on a cache miss.

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;

use super::{CiSystem, Fetch, Identity, ci_token, var};
use crate::cache;
use crate::child::Runner;
use crate::env::Environment;
use crate::net::http::Http;
use crate::oidc::settings::{IdentityKind, OidcSettings};
use crate::secret::Token;

/// Azure Pipelines.
pub(super) struct AzurePipelines;

impl CiSystem for AzurePipelines {
    fn kind(&self) -> IdentityKind {
        IdentityKind::AzurePipelines
    }

    fn detect(&self, _: &OidcSettings, env: &dyn Environment) -> bool {
        var(env, "SYSTEM_OIDCREQUESTURI").is_some()
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let (Some(uri), Some(bearer)) = (
            var(env, "SYSTEM_OIDCREQUESTURI"),
            var(env, "SYSTEM_ACCESSTOKEN"),
        ) else {
            bail!(
                "Azure Pipelines gives this step no OIDC token: map it in, e.g. `env: \
                 SYSTEM_ACCESSTOKEN: $(System.AccessToken)` (SYSTEM_OIDCREQUESTURI and \
                 SYSTEM_ACCESSTOKEN must be set)"
            );
        };
        let connection = settings
            .azure_service_connection_id
            .as_deref()
            .ok_or_else(|| {
                anyhow!("identity \"azure-pipelines\" needs `azure-service-connection-id`")
            })?;
        let mut url = Url::parse(&uri).context("SYSTEM_OIDCREQUESTURI is not a valid URL")?;
        url.query_pairs_mut()
            .append_pair("api-version", "7.1")
            .append_pair("serviceConnectionId", connection);
        Ok(Identity {
            kind: self.kind(),
            fingerprint: cache::key(&["azure", url.as_str(), &bearer]),
            how: Box::new(Request {
                url: url.into(),
                bearer: Token::new(bearer),
            }),
        })
    }
}

/// A POST to Azure's OIDC endpoint.
struct Request {
    url: String,
    bearer: Token,
}

impl Fetch for Request {
    fn fetch(self: Box<Self>, http: &Http, _: &Runner) -> anyhow::Result<Token> {
        let (url, req) = http.post(&self.url)?;
        let req = crate::net::fields::bearer(req, &self.bearer).header("content-length", "0");
        ci_token(
            http.send(&url, req)?,
            "oidcToken",
            "Azure Pipelines",
            "check `azure-service-connection-id` and that SYSTEM_ACCESSTOKEN is mapped",
        )
    }
}
