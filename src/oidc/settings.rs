//! The `[registries.NAME.oidc]` table: raw as written, then validated.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use crate::cache::CacheMode;
use crate::schema::{KeyError, check_urls, valid_var_name};

mod presets;

pub use presets::{
    AZURE_DEVOPS_SCOPE, AZURE_IDENTITY_AUDIENCE, CRATES_IO_AUDIENCE, CRATES_IO_TOKEN_ENDPOINT,
};

/// The OAuth grant used to obtain the registry token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grant {
    /// RFC 8693 token exchange of the CI identity token.
    TokenExchange,
    /// RFC 7523 JWT bearer assertion of the CI identity token.
    JwtBearer,
    /// OAuth client credentials (a service account; no CI identity).
    ClientCredentials,
    /// JFrog Artifactory's JSON exchange (`/access/api/v1/oidc/token`,
    /// `provider-name` = the OIDC integration's name).
    JfrogArtifactory,
    /// Cloudsmith's JSON exchange (`/openid/<org>/`, `service-slug`).
    Cloudsmith,
    /// crates.io trusted publishing: the GitHub Actions or GitLab CI ID token
    /// for a 30-minute publish token, minted for publish-class operations
    /// only, on crates.io's own index (or, with its own `index`,
    /// `token-endpoint` and `identity-audience`, a crates.io-compatible
    /// registry's; see [`super::crates_io`]).
    CratesIoTrustedPublishing,
    /// Microsoft Entra ID workload identity federation: client credentials
    /// with the CI ID token as the client assertion, Azure DevOps' scope and
    /// `api://AzureADTokenExchange` as defaults. Validated into
    /// `ClientCredentials` with `client-auth = "client-assertion"`.
    AzureWorkloadIdentity,
    /// AWS CodeArtifact: AWS credentials (the CI identity through STS
    /// `AssumeRoleWithWebIdentity`, or the standard credential chain) sign
    /// `GetAuthorizationToken` (see [`super::codeartifact`]).
    AwsCodeartifact,
}

/// How the client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuth {
    /// A public client: `client_id` in the form, no secret.
    None,
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form.
    ClientSecretPost,
    /// `client_id`, and the CI identity token as a JWT client assertion
    /// (RFC 7523 §2.2, `client_assertion_type` `…:jwt-bearer`): workload
    /// identity federation (Microsoft Entra ID, Okta, Google). No secret.
    ClientAssertion,
}

/// The type of the subject token in a token exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectTokenType {
    /// `urn:ietf:params:oauth:token-type:jwt`
    Jwt,
    /// `urn:ietf:params:oauth:token-type:id_token`
    IdToken,
}

impl SubjectTokenType {
    /// The URN sent as `subject_token_type`.
    pub fn urn(self) -> &'static str {
        match self {
            SubjectTokenType::Jwt => "urn:ietf:params:oauth:token-type:jwt",
            SubjectTokenType::IdToken => "urn:ietf:params:oauth:token-type:id_token",
        }
    }
}

/// Where the CI job's own identity token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// Detected from the environment (see `docs/ci/`).
    Auto,
    /// GitHub Actions: `ACTIONS_ID_TOKEN_REQUEST_URL` + `_TOKEN`.
    GithubActions,
    /// GitLab CI: an `id_tokens` variable (`identity-env`).
    Gitlab,
    /// CircleCI: `CIRCLE_OIDC_TOKEN_V2`.
    Circleci,
    /// Azure Pipelines: `SYSTEM_OIDCREQUESTURI` + `SYSTEM_ACCESSTOKEN`.
    AzurePipelines,
    /// Buildkite: `buildkite-agent oidc request-token`.
    Buildkite,
    /// Bitbucket Pipelines: `BITBUCKET_STEP_OIDC_TOKEN` (a step with `oidc: true`).
    Bitbucket,
    /// The GCP metadata server's ID token (never detected: only when set).
    Gcp,
    /// A file re-read on every use (`identity-file`, else `AWS_WEB_IDENTITY_TOKEN_FILE`).
    File,
    /// An environment variable (`identity-env`).
    Env,
    /// A command's standard output (`identity-command`).
    Command,
    /// AWS CodeArtifact only: the standard AWS credential chain (variables,
    /// web identity token file, shared credentials file).
    Aws,
    /// AWS CodeArtifact only: the EC2 instance metadata service (IMDSv2);
    /// never used unless set.
    AwsImds,
}

/// The table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawOidc {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    grant: Option<Grant>,
    client_id: Option<String>,
    client_auth: Option<ClientAuth>,
    client_secret_env: Option<String>,
    #[serde(default)]
    client_secret_keychain: bool,
    audience: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    publish_scope: Option<String>,
    subject_token_type: Option<SubjectTokenType>,
    identity: Option<IdentityKind>,
    identity_audience: Option<String>,
    identity_env: Option<String>,
    identity_file: Option<PathBuf>,
    identity_command: Option<Vec<String>>,
    azure_service_connection_id: Option<String>,
    provider_name: Option<String>,
    service_slug: Option<String>,
    codeartifact_domain: Option<String>,
    codeartifact_domain_owner: Option<String>,
    codeartifact_duration_secs: Option<u64>,
    codeartifact_endpoint: Option<String>,
    aws_region: Option<String>,
    aws_role_arn: Option<String>,
    sts_endpoint: Option<String>,
    cache: Option<CacheMode>,
    refresh_ahead_secs: Option<u64>,
    timeout_ms: Option<u64>,
}

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Configured directly.
    Token(String),
    /// Found through `<issuer>/.well-known/openid-configuration`.
    Discover(String),
}

/// Where the client secret is read from (never from a config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientSecretSource {
    /// An environment variable.
    Env(String),
    /// The OS keychain (`cargo-credential-corp client-secret` stores it).
    Keychain,
}

/// The validated table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The token endpoint, or the issuer to discover it from.
    pub endpoint: Endpoint,
    /// The grant.
    pub grant: Grant,
    /// The OAuth client id.
    pub client_id: Option<String>,
    /// Client authentication.
    pub client_auth: ClientAuth,
    /// Where the client secret comes from, when `client_auth` needs one.
    pub client_secret: Option<ClientSecretSource>,
    /// `audience` parameter.
    pub audience: Option<String>,
    /// `resource` parameter (RFC 8707).
    pub resource: Option<String>,
    /// Scope for reads.
    pub scope: Option<String>,
    /// Scope for publish, yank, unyank and owners (defaults to `scope`).
    pub publish_scope: Option<String>,
    /// `subject_token_type` of a token exchange.
    pub subject_token_type: SubjectTokenType,
    /// Where the CI identity comes from.
    pub identity: IdentityKind,
    /// The audience requested from the CI system's issuer.
    pub identity_audience: Option<String>,
    /// Variable holding the identity (GitLab, `env`).
    pub identity_env: Option<String>,
    /// File holding the identity.
    pub identity_file: Option<PathBuf>,
    /// Command printing the identity.
    pub identity_command: Option<Vec<String>>,
    /// Azure service connection id.
    pub azure_service_connection_id: Option<String>,
    /// Artifactory: the OIDC integration's name.
    pub provider_name: Option<String>,
    /// Cloudsmith: the service account's slug.
    pub service_slug: Option<String>,
    /// AWS CodeArtifact's settings (`grant = "aws-codeartifact"` only).
    pub aws: Option<AwsSettings>,
    /// Cross-run cache.
    pub cache: CacheMode,
    /// Refresh this long before expiry (at most half the token's life).
    pub refresh_ahead: Duration,
    /// Deadline of each HTTP call.
    pub timeout: Duration,
    /// CA files trusted besides the OS store (`ca-file`; set by the
    /// config from the matched tables and `[defaults]`, not in this table).
    pub ca_files: Vec<std::path::PathBuf>,
    /// The `index` of the `[registries.NAME]` table this `oidc` table is in
    /// (set by the config; `None` when that table has none). crates.io
    /// trusted publishing for a registry other than crates.io is bound to it.
    pub table_index: Option<String>,
}

/// The settings of `grant = "aws-codeartifact"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// The CodeArtifact domain.
    pub domain: String,
    /// The AWS account id owning the domain (12 digits).
    pub domain_owner: String,
    /// The AWS region (of the domain, and of STS).
    pub region: String,
    /// The role assumed with the web identity (else `AWS_ROLE_ARN`).
    pub role_arn: Option<String>,
    /// The authorization token's requested lifetime (900 to 43200 s).
    pub duration_secs: u64,
    /// CodeArtifact's endpoint (default `https://codeartifact.<region>.amazonaws.com`).
    pub codeartifact_endpoint: String,
    /// STS's endpoint (default `https://sts.<region>.amazonaws.com/`).
    pub sts_endpoint: String,
}

impl OidcSettings {
    /// Whether publishes need a token of their own (different scope).
    pub fn operation_dependent(&self) -> bool {
        // crates.io: a publish token, minted for publishes only.
        self.grant == Grant::CratesIoTrustedPublishing
            || (self.publish_scope.is_some() && self.publish_scope != self.scope)
    }

    /// Whether the exchange starts from a CI identity token (as the subject,
    /// the assertion or the client's own assertion).
    pub fn needs_identity(&self) -> bool {
        self.grant != Grant::ClientCredentials || self.client_auth == ClientAuth::ClientAssertion
    }
}

impl RawOidc {
    /// Validates the table; `table` names it for messages.
    pub fn validate(&self, table: &str) -> anyhow::Result<OidcSettings> {
        // A preset (crates.io, Azure) fills in its defaults first.
        match presets::expand(self, table)? {
            Some(expanded) => expanded.validate_expanded(table),
            None => self.validate_expanded(table),
        }
    }

    fn validate_expanded(&self, table: &str) -> anyhow::Result<OidcSettings> {
        let endpoint = match (&self.token_endpoint, &self.issuer) {
            (Some(t), _) => Endpoint::Token(t.clone()),
            (None, Some(i)) => Endpoint::Discover(i.clone()),
            (None, None) => bail!(
                "[{table}] needs `token-endpoint` or `issuer` (to discover the token endpoint)"
            ),
        };
        check_urls(
            table,
            &[
                ("token-endpoint", &self.token_endpoint),
                ("issuer", &self.issuer),
            ],
        )?;
        for (key, name) in [
            ("client-secret-env", &self.client_secret_env),
            ("identity-env", &self.identity_env),
        ] {
            if let Some(name) = name
                && !valid_var_name(name)
            {
                return Err(KeyError {
                    table: table.to_owned(),
                    key,
                    why: "is not an environment variable name (letters, digits and `_`): it \
                          names the variable that holds the value, never the value itself"
                        .to_owned(),
                }
                .into());
            }
        }
        let grant = self.grant.unwrap_or(Grant::TokenExchange);
        let client_auth = self.client_auth.unwrap_or(ClientAuth::None);
        let client_secret = match (&self.client_secret_env, self.client_secret_keychain) {
            (Some(_), true) => bail!(
                "[{table}] sets both `client-secret-env` and `client-secret-keychain`; keep one"
            ),
            (Some(var), false) => Some(ClientSecretSource::Env(var.clone())),
            (None, true) => Some(ClientSecretSource::Keychain),
            (None, false) => None,
        };
        if client_auth == ClientAuth::ClientAssertion && client_secret.is_some() {
            bail!(
                "[{table}] uses client-auth \"client-assertion\" (the CI identity token \
                 authenticates the client): remove `client-secret-env` / `client-secret-keychain`"
            );
        }
        if !matches!(client_auth, ClientAuth::None | ClientAuth::ClientAssertion)
            && client_secret.is_none()
        {
            bail!(
                "[{table}] uses client-auth \"{}\" but names no secret: set `client-secret-env = \
                 \"VAR\"` or `client-secret-keychain = true` (a secret never goes in a config file)",
                crate::diag::config_word(&client_auth)
            );
        }
        if (client_auth != ClientAuth::None || grant == Grant::ClientCredentials)
            && self.client_id.is_none()
        {
            bail!("[{table}] needs `client-id`");
        }
        if grant == Grant::ClientCredentials && client_auth == ClientAuth::None {
            bail!(
                "[{table}]: grant \"client-credentials\" needs `client-auth` with a secret, or \
                 `client-auth = \"client-assertion\"` (the CI identity token)"
            );
        }
        let preset_key = match grant {
            Grant::JfrogArtifactory => Some(("provider-name", &self.provider_name)),
            Grant::Cloudsmith => Some(("service-slug", &self.service_slug)),
            _ => None,
        };
        if let Some((key, value)) = preset_key {
            if value.is_none() {
                bail!(
                    "[{table}]: grant \"{}\" needs `{key}`",
                    crate::diag::config_word(&grant)
                );
            }
            if self.token_endpoint.is_none() {
                bail!(
                    "[{table}]: grant \"{}\" needs `token-endpoint` (the registry's exchange URL)",
                    crate::diag::config_word(&grant)
                );
            }
        }
        let identity = self.identity.unwrap_or(IdentityKind::Auto);
        match identity {
            IdentityKind::Env if self.identity_env.is_none() => {
                bail!("[{table}]: identity \"env\" needs `identity-env`")
            }
            IdentityKind::Command if self.identity_command.as_ref().is_none_or(Vec::is_empty) => {
                bail!("[{table}]: identity \"command\" needs `identity-command = [\"program\", …]`")
            }
            IdentityKind::AzurePipelines if self.azure_service_connection_id.is_none() => {
                bail!("[{table}]: identity \"azure-pipelines\" needs `azure-service-connection-id`")
            }
            IdentityKind::Gcp if self.identity_audience.is_none() => {
                bail!(
                    "[{table}]: identity \"gcp\" needs `identity-audience` (the `aud` the GCP \
                     metadata server puts in the ID token)"
                )
            }
            _ => {}
        }
        let aws = self.aws_settings(grant, identity, table)?;
        let timeout_ms = self.timeout_ms.unwrap_or(10_000);
        if !(100..=120_000).contains(&timeout_ms) {
            return Err(KeyError {
                table: table.to_owned(),
                key: "timeout-ms",
                why: "is out of range; use 100 to 120000 (milliseconds)".to_owned(),
            }
            .into());
        }
        Ok(OidcSettings {
            endpoint,
            grant,
            client_id: self.client_id.clone(),
            client_auth,
            client_secret,
            audience: self.audience.clone(),
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            publish_scope: self.publish_scope.clone(),
            subject_token_type: self.subject_token_type.unwrap_or(SubjectTokenType::Jwt),
            identity,
            identity_audience: self.identity_audience.clone(),
            identity_env: self.identity_env.clone(),
            identity_file: self.identity_file.clone(),
            identity_command: self.identity_command.clone(),
            azure_service_connection_id: self.azure_service_connection_id.clone(),
            provider_name: self.provider_name.clone(),
            service_slug: self.service_slug.clone(),
            aws,
            cache: self.cache.unwrap_or(CacheMode::Auto),
            refresh_ahead: Duration::from_secs(self.refresh_ahead_secs.unwrap_or(60)),
            timeout: Duration::from_millis(timeout_ms),
            ca_files: Vec::new(),
            table_index: None,
        })
    }
}

impl RawOidc {
    /// The AWS CodeArtifact settings: `Some` for that grant (filled in by
    /// its preset), and its keys refused with any other grant.
    fn aws_settings(
        &self,
        grant: Grant,
        identity: IdentityKind,
        table: &str,
    ) -> anyhow::Result<Option<AwsSettings>> {
        if grant != Grant::AwsCodeartifact {
            let set = [
                ("codeartifact-domain", self.codeartifact_domain.is_some()),
                (
                    "codeartifact-domain-owner",
                    self.codeartifact_domain_owner.is_some(),
                ),
                (
                    "codeartifact-duration-secs",
                    self.codeartifact_duration_secs.is_some(),
                ),
                (
                    "codeartifact-endpoint",
                    self.codeartifact_endpoint.is_some(),
                ),
                ("aws-region", self.aws_region.is_some()),
                ("aws-role-arn", self.aws_role_arn.is_some()),
                ("sts-endpoint", self.sts_endpoint.is_some()),
                (
                    "identity = \"aws\"",
                    matches!(identity, IdentityKind::Aws | IdentityKind::AwsImds),
                ),
            ];
            if let Some((key, _)) = set.iter().find(|(_, on)| *on) {
                bail!("[{table}]: `{key}` applies only to grant \"aws-codeartifact\"; remove it");
            }
            return Ok(None);
        }
        let (Some(domain), Some(owner), Some(region)) = (
            &self.codeartifact_domain,
            &self.codeartifact_domain_owner,
            &self.aws_region,
        ) else {
            bail!(
                "[{table}]: grant \"aws-codeartifact\" needs `codeartifact-domain`, \
                 `codeartifact-domain-owner` (the AWS account id) and `aws-region`"
            );
        };
        check_urls(
            table,
            &[
                ("codeartifact-endpoint", &self.codeartifact_endpoint),
                ("sts-endpoint", &self.sts_endpoint),
            ],
        )?;
        let duration_secs = self.codeartifact_duration_secs.unwrap_or(3600);
        if !(900..=43_200).contains(&duration_secs) {
            bail!(
                "`codeartifact-duration-secs` in [{table}] is {duration_secs}; use 900 to 43200 \
                 (CodeArtifact's limits)"
            );
        }
        Ok(Some(AwsSettings {
            domain: domain.clone(),
            domain_owner: owner.clone(),
            region: region.clone(),
            role_arn: self.aws_role_arn.clone(),
            duration_secs,
            codeartifact_endpoint: self
                .codeartifact_endpoint
                .clone()
                .unwrap_or_else(|| format!("https://codeartifact.{region}.amazonaws.com")),
            sts_endpoint: self
                .sts_endpoint
                .clone()
                .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com/")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<OidcSettings> {
        let raw: RawOidc = toml::from_str(text)?;
        raw.validate("registries.x.oidc")
    }

    #[test]
    fn minimal_token_exchange() {
        let s = parse("issuer = \"https://idp.example\"\n").unwrap();
        assert_eq!(s.endpoint, Endpoint::Discover("https://idp.example".into()));
        assert_eq!(s.grant, Grant::TokenExchange);
        assert_eq!(s.identity, IdentityKind::Auto);
        assert_eq!(s.cache, CacheMode::Auto);
        assert!(!s.operation_dependent());
    }

    #[test]
    fn rules_are_enforced_with_the_key_to_set() {
        for (text, needle) in [
            ("grant = \"jwt-bearer\"\n", "token-endpoint"),
            ("issuer = \"http://idp.example\"\n", "plain http"),
            (
                "issuer = \"https://i\"\nclient-auth = \"client-secret-basic\"\nclient-id = \"c\"\n",
                "client-secret-env",
            ),
            (
                "issuer = \"https://i\"\ngrant = \"client-credentials\"\nclient-id = \"c\"\n",
                "client-auth",
            ),
            (
                "issuer = \"https://i\"\nclient-auth = \"client-secret-post\"\nclient-secret-env = \"S\"\n",
                "client-id",
            ),
            (
                "issuer = \"https://i\"\nidentity = \"env\"\n",
                "identity-env",
            ),
            (
                "issuer = \"https://i\"\nidentity = \"command\"\nidentity-command = []\n",
                "identity-command",
            ),
            ("issuer = \"https://i\"\ntimeout-ms = 5\n", "timeout-ms"),
            (
                "token-endpoint = \"https://r/t\"\ngrant = \"jfrog-artifactory\"\n",
                "provider-name",
            ),
            (
                "issuer = \"https://i\"\ngrant = \"cloudsmith\"\nservice-slug = \"s\"\n",
                "token-endpoint",
            ),
        ] {
            let msg = format!("{:#}", parse(text).unwrap_err());
            assert!(msg.contains(needle), "{text}: {msg}");
        }
        assert!(parse("issuer = \"https://i\"\nclient-secret = \"inline\"\n").is_err());
    }

    #[test]
    fn different_publish_scope_makes_tokens_operation_dependent() {
        let s = parse("issuer = \"https://i\"\nscope = \"read\"\npublish-scope = \"publish\"\n")
            .unwrap();
        assert!(s.operation_dependent());
        let s =
            parse("issuer = \"https://i\"\nscope = \"read\"\npublish-scope = \"read\"\n").unwrap();
        assert!(!s.operation_dependent());
    }
}
