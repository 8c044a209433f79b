//! Presets: a `grant` that stands for a whole service and fills in its
//! defaults before the table is validated.
//!
//! - `crates-io-trusted-publishing`: crates.io's own exchange (token
//!   endpoint, `identity-audience = "crates.io"`), GitHub Actions or GitLab
//!   CI identities only, no OAuth keys;
//! - `azure-workload-identity`: Microsoft Entra ID workload identity
//!   federation, i.e. client credentials with the CI identity token as the
//!   client assertion, Azure DevOps' scope and Entra's federation audience.

use anyhow::bail;

use super::{ClientAuth, Grant, IdentityKind, RawOidc};

/// crates.io's trusted publishing token endpoint (exchange: POST; revoke: DELETE).
pub const CRATES_IO_TOKEN_ENDPOINT: &str = "https://crates.io/api/v1/trusted_publishing/tokens";
/// The `aud` crates.io requires in the CI ID token.
pub const CRATES_IO_AUDIENCE: &str = "crates.io";
/// The scope of an Entra ID token for Azure DevOps (Azure Artifacts feeds).
pub const AZURE_DEVOPS_SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";
/// The audience Entra ID expects in a federated credential's assertion.
pub const AZURE_IDENTITY_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The first of `keys` (in their order) that the table sets: a key a preset
/// does not take.
fn first_set(raw: &RawOidc, keys: &[&'static str]) -> Option<&'static str> {
    let set = |key: &str| match key {
        "issuer" => raw.issuer.is_some(),
        "token-endpoint" => raw.token_endpoint.is_some(),
        "client-id" => raw.client_id.is_some(),
        "client-auth" => raw.client_auth.is_some(),
        "client-secret-env" => raw.client_secret_env.is_some(),
        "client-secret-keychain" => raw.client_secret_keychain,
        "audience" => raw.audience.is_some(),
        "resource" => raw.resource.is_some(),
        "scope" => raw.scope.is_some(),
        "publish-scope" => raw.publish_scope.is_some(),
        "subject-token-type" => raw.subject_token_type.is_some(),
        "provider-name" => raw.provider_name.is_some(),
        "service-slug" => raw.service_slug.is_some(),
        "identity-file" => raw.identity_file.is_some(),
        "identity-command" => raw.identity_command.is_some(),
        "azure-service-connection-id" => raw.azure_service_connection_id.is_some(),
        other => unreachable!("`{other}` is not a key a preset refuses"),
    };
    keys.iter().copied().find(|key| set(key))
}

/// The table with the preset's defaults filled in, or `None` when `grant`
/// is not a preset. An error names a key the preset does not take.
pub(super) fn expand(raw: &RawOidc, table: &str) -> anyhow::Result<Option<RawOidc>> {
    match raw.grant {
        Some(Grant::CratesIoTrustedPublishing) => crates_io(raw, table).map(Some),
        Some(Grant::AzureWorkloadIdentity) => azure(raw, table).map(Some),
        Some(Grant::AwsCodeartifact) => codeartifact(raw, table).map(Some),
        _ => Ok(None),
    }
}

fn crates_io(raw: &RawOidc, table: &str) -> anyhow::Result<RawOidc> {
    if let Some(key) = first_set(
        raw,
        &[
            "issuer",
            "client-id",
            "client-auth",
            "client-secret-env",
            "client-secret-keychain",
            "audience",
            "resource",
            "scope",
            "publish-scope",
            "subject-token-type",
            "provider-name",
            "service-slug",
            "identity-file",
            "identity-command",
            "azure-service-connection-id",
        ],
    ) {
        bail!(
            "[{table}]: `{key}` does not apply to grant \"crates-io-trusted-publishing\" \
             (crates.io's own exchange: the CI ID token for a publish token); remove it"
        );
    }
    match raw.identity {
        None | Some(IdentityKind::Auto | IdentityKind::GithubActions | IdentityKind::Gitlab) => {}
        Some(other) => bail!(
            "[{table}]: identity {} is not supported by crates.io trusted publishing: crates.io \
             accepts ID tokens from GitHub Actions and GitLab CI only. Use identity \
             \"github-actions\", \"gitlab\" or \"auto\"",
            kebab(other)
        ),
    }
    Ok(RawOidc {
        token_endpoint: Some(
            raw.token_endpoint
                .clone()
                .unwrap_or_else(|| CRATES_IO_TOKEN_ENDPOINT.to_owned()),
        ),
        identity_audience: Some(
            raw.identity_audience
                .clone()
                .unwrap_or_else(|| CRATES_IO_AUDIENCE.to_owned()),
        ),
        ..raw.clone()
    })
}

fn azure(raw: &RawOidc, table: &str) -> anyhow::Result<RawOidc> {
    if raw
        .client_auth
        .is_some_and(|a| a != ClientAuth::ClientAssertion)
    {
        bail!(
            "[{table}]: grant \"azure-workload-identity\" authenticates the client with the CI \
             identity token (client-auth \"client-assertion\"); remove `client-auth`"
        );
    }
    if raw.client_id.is_none() {
        bail!(
            "[{table}]: grant \"azure-workload-identity\" needs `client-id` (the application \
             (client) ID of the Entra ID app registration or managed identity)"
        );
    }
    if raw.token_endpoint.is_none() && raw.issuer.is_none() {
        bail!(
            "[{table}]: grant \"azure-workload-identity\" needs `token-endpoint = \
             \"https://login.microsoftonline.com/<TENANT_ID>/oauth2/v2.0/token\"` (or `issuer = \
             \"https://login.microsoftonline.com/<TENANT_ID>/v2.0\"`)"
        );
    }
    Ok(RawOidc {
        grant: Some(Grant::ClientCredentials),
        client_auth: Some(ClientAuth::ClientAssertion),
        scope: Some(
            raw.scope
                .clone()
                .unwrap_or_else(|| AZURE_DEVOPS_SCOPE.to_owned()),
        ),
        identity_audience: Some(
            raw.identity_audience
                .clone()
                .unwrap_or_else(|| AZURE_IDENTITY_AUDIENCE.to_owned()),
        ),
        ..raw.clone()
    })
}

/// The `aud` AWS STS expects by default in a web identity token.
pub const AWS_STS_AUDIENCE: &str = "sts.amazonaws.com";

fn codeartifact(raw: &RawOidc, table: &str) -> anyhow::Result<RawOidc> {
    if let Some(key) = first_set(
        raw,
        &[
            "issuer",
            "token-endpoint",
            "client-id",
            "client-auth",
            "client-secret-env",
            "client-secret-keychain",
            "audience",
            "resource",
            "scope",
            "publish-scope",
            "subject-token-type",
            "provider-name",
            "service-slug",
        ],
    ) {
        bail!(
            "[{table}]: `{key}` does not apply to grant \"aws-codeartifact\" (AWS credentials \
             sign CodeArtifact's GetAuthorizationToken; `codeartifact-endpoint` and \
             `sts-endpoint` override the endpoints); remove it"
        );
    }
    let region = raw.aws_region.as_deref().unwrap_or_default();
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("[{table}]: grant \"aws-codeartifact\" needs `aws-region` (e.g. \"eu-west-1\")");
    }
    let owner = raw.codeartifact_domain_owner.as_deref().unwrap_or_default();
    if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "[{table}]: grant \"aws-codeartifact\" needs `codeartifact-domain-owner`: the 12-digit \
             AWS account id that owns the domain, as a string"
        );
    }
    if let Some(domain) = raw.codeartifact_domain.as_deref()
        && !is_codeartifact_domain(domain)
    {
        bail!(
            "[{table}]: `codeartifact-domain` is not a CodeArtifact domain name (2 to 50 \
             characters: lower-case letters, digits and `-`, starting with a letter and not \
             ending with `-`)"
        );
    }
    let endpoint = raw
        .codeartifact_endpoint
        .clone()
        .unwrap_or_else(|| format!("https://codeartifact.{region}.amazonaws.com"));
    Ok(RawOidc {
        // Stands for the endpoint in messages and the generic checks.
        token_endpoint: Some(endpoint.clone()),
        codeartifact_endpoint: Some(endpoint),
        identity_audience: Some(
            raw.identity_audience
                .clone()
                .unwrap_or_else(|| AWS_STS_AUDIENCE.to_owned()),
        ),
        ..raw.clone()
    })
}

/// Whether `name` is a CodeArtifact domain name as AWS accepts one
/// (`[a-z][a-z0-9-]{0,48}[a-z0-9]`): what is signed is then exactly what is
/// sent, and a typo is caught here rather than as a refused signature.
fn is_codeartifact_domain(name: &str) -> bool {
    let bytes = name.as_bytes();
    (2..=50).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `kind` as written in a config file (`"circleci"`, `"azure-pipelines"`).
fn kebab(kind: IdentityKind) -> String {
    let debug = format!("{kind:?}");
    let mut out = String::from("\"");
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Endpoint, OidcSettings};
    use super::*;
    use crate::cache::CacheMode;

    fn parse(text: &str) -> anyhow::Result<OidcSettings> {
        let raw: RawOidc = toml::from_str(text)?;
        raw.validate("registries.crates-io.oidc")
    }

    #[test]
    fn crates_io_defaults_and_overrides() {
        let s = parse("grant = \"crates-io-trusted-publishing\"\n").unwrap();
        assert_eq!(
            s.endpoint,
            Endpoint::Token(CRATES_IO_TOKEN_ENDPOINT.to_owned())
        );
        assert_eq!(s.identity_audience.as_deref(), Some("crates.io"));
        assert_eq!(s.identity, IdentityKind::Auto);
        assert_eq!(s.cache, CacheMode::Auto);
        assert!(s.operation_dependent(), "publishes get their own token");
        assert!(s.needs_identity());
        let s = parse(
            "grant = \"crates-io-trusted-publishing\"\n\
             token-endpoint = \"http://127.0.0.1:9/api/v1/trusted_publishing/tokens\"\n\
             identity = \"gitlab\"\nidentity-env = \"CRATES_IO_ID_TOKEN\"\n",
        )
        .unwrap();
        assert_eq!(
            s.endpoint,
            Endpoint::Token("http://127.0.0.1:9/api/v1/trusted_publishing/tokens".into())
        );
        assert_eq!(s.identity, IdentityKind::Gitlab);
    }

    #[test]
    fn crates_io_refuses_other_identities_and_oauth_keys() {
        for (extra, needles) in [
            (
                "identity = \"circleci\"\n",
                &[
                    "\"circleci\"",
                    "not supported by crates.io",
                    "GitHub Actions",
                ][..],
            ),
            (
                "identity = \"azure-pipelines\"\n",
                &["\"azure-pipelines\"", "not supported by crates.io"][..],
            ),
            (
                "identity = \"command\"\n",
                &["not supported by crates.io"][..],
            ),
            ("identity = \"env\"\n", &["not supported by crates.io"][..]),
            ("scope = \"publish\"\n", &["`scope` does not apply"][..]),
            ("client-id = \"c\"\n", &["`client-id` does not apply"][..]),
            (
                "issuer = \"https://crates.io\"\n",
                &["`issuer` does not apply"][..],
            ),
        ] {
            let msg = format!(
                "{:#}",
                parse(&format!(
                    "grant = \"crates-io-trusted-publishing\"\n{extra}"
                ))
                .unwrap_err()
            );
            for needle in needles {
                assert!(msg.contains(needle), "{extra}: {needle:?} in {msg}");
            }
        }
    }

    #[test]
    fn a_codeartifact_domain_must_be_a_domain_name_aws_accepts() {
        // review: a space or `~` was signed in one encoding and sent in
        // another (form-encoded), so AWS refused the signature.
        let config = |domain: &str| {
            parse(&format!(
                "grant = \"aws-codeartifact\"\ncodeartifact-domain = {domain:?}\n\
                 codeartifact-domain-owner = \"123456789012\"\naws-region = \"eu-west-1\"\n"
            ))
        };
        for good in ["corp", "my-domain-2", "ab", &format!("a{}", "b".repeat(49))] {
            assert!(config(good).is_ok(), "{good}");
        }
        for bad in [
            "my domain",
            "a~b",
            "a*b",
            "Corp",
            "2corp",
            "corp-",
            "c",
            "",
            &format!("a{}", "b".repeat(50)),
        ] {
            let msg = format!("{:#}", config(bad).unwrap_err());
            assert!(
                msg.contains("`codeartifact-domain` is not a CodeArtifact domain name"),
                "{bad:?}: {msg}"
            );
        }
    }

    #[test]
    fn azure_preset_is_client_credentials_with_the_ci_identity_as_assertion() {
        let s = parse(
            "grant = \"azure-workload-identity\"\nclient-id = \"app-id\"\n\
             token-endpoint = \"https://login.microsoftonline.com/t/oauth2/v2.0/token\"\n",
        )
        .unwrap();
        assert_eq!(s.grant, Grant::ClientCredentials);
        assert_eq!(s.client_auth, ClientAuth::ClientAssertion);
        assert_eq!(s.client_secret, None);
        assert_eq!(s.scope.as_deref(), Some(AZURE_DEVOPS_SCOPE));
        assert_eq!(
            s.identity_audience.as_deref(),
            Some("api://AzureADTokenExchange")
        );
        assert!(s.needs_identity() && !s.operation_dependent());
        for (text, needle) in [
            (
                "grant = \"azure-workload-identity\"\nissuer = \"https://i\"\n",
                "client-id",
            ),
            (
                "grant = \"azure-workload-identity\"\nclient-id = \"a\"\n",
                "token-endpoint",
            ),
            (
                "grant = \"azure-workload-identity\"\nclient-id = \"a\"\nissuer = \"https://i\"\n\
                 client-auth = \"client-secret-post\"\nclient-secret-env = \"S\"\n",
                "remove `client-auth`",
            ),
            (
                "grant = \"azure-workload-identity\"\nclient-id = \"a\"\nissuer = \"https://i\"\n\
                 client-secret-env = \"S\"\n",
                "client-secret-env",
            ),
        ] {
            let msg = format!("{:#}", parse(text).unwrap_err());
            assert!(msg.contains(needle), "{text}: {msg}");
        }
    }

    #[test]
    fn generic_client_assertion_needs_a_client_id_and_no_secret() {
        let s = parse(
            "token-endpoint = \"https://idp.example/token\"\ngrant = \"client-credentials\"\n\
             client-auth = \"client-assertion\"\nclient-id = \"c\"\n",
        )
        .unwrap();
        assert!(s.needs_identity());
        let s = parse(
            "token-endpoint = \"https://idp.example/token\"\nclient-auth = \"client-assertion\"\n\
             client-id = \"c\"\n",
        )
        .unwrap();
        assert_eq!(s.grant, Grant::TokenExchange);
        let msg = format!(
            "{:#}",
            parse(
                "token-endpoint = \"https://idp.example/token\"\ngrant = \"client-credentials\"\n\
                 client-auth = \"client-assertion\"\n"
            )
            .unwrap_err()
        );
        assert!(msg.contains("client-id"), "{msg}");
        let s = parse(
            "token-endpoint = \"https://idp.example/token\"\ngrant = \"client-credentials\"\n\
             client-auth = \"client-secret-basic\"\nclient-secret-env = \"S\"\nclient-id = \"c\"\n",
        )
        .unwrap();
        assert!(!s.needs_identity());
    }
}
