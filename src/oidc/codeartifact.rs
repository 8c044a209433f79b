//! AWS CodeArtifact (`grant = "aws-codeartifact"`).
//!
//! AWS credentials, from the first of: the CI identity exchanged at STS
//! `AssumeRoleWithWebIdentity` (when a role is known: `aws-role-arn` or
//! `AWS_ROLE_ARN`), the variables `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`), the shared credentials
//! file (static keys), or, only with `identity = "aws-imds"`, IMDSv2 (see
//! [`super::aws`]), sign (SigV4, [`crate::net::sigv4`]) `POST
//! /v1/authorization-token?domain=…&domain-owner=…&duration=…`; its
//! `authorizationToken` is the registry token, sent as it is (no scheme),
//! and Cargo is told its `expiration`. The token is cached across runs like
//! other OIDC tokens, keyed on the registry, the domain, the role and the
//! identity (or access key), so a cache hit makes no AWS call at all.

use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;

use super::aws::{self, Credentials};
use super::settings::{AwsSettings, IdentityKind, OidcSettings};
use super::{exchange, identity};
use crate::cache::{self, MAX_LIFETIME_SECS};
use crate::keychain::Budgeted;
use crate::mint::{Context, Obtained};
use crate::net::http::Http;
use crate::net::url::display_url;
use crate::protocol::OperationClass;
use crate::registry::Registry;
use crate::secret::Token;

/// Where this run's AWS credentials come from.
enum Source {
    /// A web identity (the CI identity, or `AWS_WEB_IDENTITY_TOKEN_FILE`)
    /// for STS, with the role to assume.
    WebIdentity(identity::Identity, String),
    /// Credentials read already (variables, shared file, IMDS), and what
    /// identifies them when their keys rotate (IMDS: the role).
    Ready(Credentials, Option<String>),
}

/// A `get` for CodeArtifact: `Ok(None)` when this environment has no AWS
/// CodeArtifact as a family of grants.
pub(crate) struct CodeArtifact;

impl super::family::Family for CodeArtifact {
    fn get(
        &self,
        settings: &OidcSettings,
        registry: &Registry<'_>,
        class: OperationClass,
        cx: &Context<'_>,
    ) -> anyhow::Result<Option<Obtained>> {
        get(settings, registry, class, cx)
    }
}

/// credentials at all (with `identity = "auto"`).
pub(crate) fn get(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    _class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    let aws = settings
        .aws
        .as_ref()
        .ok_or_else(|| anyhow!("grant \"aws-codeartifact\" without its settings"))?;
    let runner = runner(settings, cx);
    let http = Http::new(settings.timeout)?.with_ca_files(&settings.ca_files);
    let Some(source) = locate(settings, aws, cx, &http)? else {
        crate::trace::debug(|| "codeartifact: no AWS credentials in this environment".to_owned());
        return Ok(None);
    };
    let (source, fingerprint) = match source {
        Source::WebIdentity(id, role) => {
            let id = id.resolve(&runner)?;
            let fp = cache::key(&["web-identity", &id.fingerprint, &role]);
            (Source::WebIdentity(id, role), fp)
        }
        Source::Ready(c, id) => {
            let fp = match &id {
                Some(id) => cache::key(&["rotating", id]),
                None => cache::key(&[
                    "static",
                    &c.access_key_id,
                    &cache::secret_key(&["secret"], &c.secret_access_key),
                ]),
            };
            (Source::Ready(c, id), fp)
        }
    };
    let key = cache::key(&[
        registry.index_url,
        "aws-codeartifact",
        &aws.codeartifact_endpoint,
        &aws.sts_endpoint,
        &aws.region,
        &aws.domain,
        &aws.domain_owner,
        &aws.duration_secs.to_string(),
        &fingerprint,
    ]);
    let keychain = Budgeted::new(cx.keychain, cx.keychain_timeout);
    let exchange = |started: i64, _files: Option<&crate::cache::FileStore>| {
        mint(&http, aws, source, &runner, started).map(|(token, expires_at)| {
            let expires_at = expires_at.min(started.saturating_add(MAX_LIFETIME_SECS));
            (token, Some(expires_at))
        })
    };
    crate::mint::flight::run(
        super::policy(settings),
        &key,
        &keychain,
        cx,
        "CodeArtifact token",
        crate::mint::flight::Guard::Key,
        |started, files| Ok(Some(exchange(started, files)?)),
        &mut |_| {},
    )
}

/// Identity programs run without the registry's token variables and the
/// AWS secrets in their environment.
fn runner(settings: &OidcSettings, cx: &Context<'_>) -> crate::child::Runner {
    let mut vars: Vec<&str> = cx.token_vars.iter().map(String::as_str).collect();
    vars.extend(["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);
    let secrets: Vec<Token> = vars
        .iter()
        .filter_map(|v| cx.env.var_os(v))
        .filter_map(|v| v.into_string().ok())
        .map(Token::new)
        .collect();
    let secrets: Vec<&Token> = secrets.iter().collect();
    crate::child::Runner::new(settings.timeout, &vars, &secrets)
}

/// The role to assume with a web identity: `aws-role-arn`, else `AWS_ROLE_ARN`.
fn role_arn(aws: &AwsSettings, cx: &Context<'_>) -> Option<String> {
    aws.role_arn.clone().or_else(|| {
        cx.env
            .var_os("AWS_ROLE_ARN")
            .and_then(|v| v.into_string().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
}

/// Where the credentials come from (no network call, except IMDS).
fn locate(
    settings: &OidcSettings,
    aws: &AwsSettings,
    cx: &Context<'_>,
    http: &Http,
) -> anyhow::Result<Option<Source>> {
    let role = role_arn(aws, cx);
    match settings.identity {
        IdentityKind::AwsImds => {
            let base = aws::imds_base(cx.env)?;
            let (role, creds) = aws::from_imds(&base, http, settings.timeout)
                .context("getting AWS credentials from the EC2 instance metadata service")?;
            crate::trace::debug(|| format!("codeartifact: IMDSv2 credentials of role {role}"));
            // IMDS keys rotate: the instance's role is the identity.
            let id = format!("imds:{role}@{}", display_url(&base));
            Ok(Some(Source::Ready(creds, Some(id))))
        }
        IdentityKind::Aws => {
            if let Some(c) = aws::from_env(cx.env)? {
                return Ok(Some(Source::Ready(c, None)));
            }
            if cx.env.var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
                let role = role.ok_or_else(|| {
                    anyhow!("AWS_WEB_IDENTITY_TOKEN_FILE is set but no role: set AWS_ROLE_ARN or `aws-role-arn`")
                })?;
                let file = OidcSettings {
                    identity: IdentityKind::File,
                    ..settings.clone()
                };
                if let Some(id) = identity::locate(&file, cx.env)? {
                    return Ok(Some(Source::WebIdentity(id, role)));
                }
            }
            match aws::from_shared_file(cx.env)? {
                Some(c) => Ok(Some(Source::Ready(c, None))),
                None => bail!(
                    "identity \"aws\" found no AWS credentials: set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or a \
                     profile with static keys in ~/.aws/credentials (AWS_PROFILE)"
                ),
            }
        }
        IdentityKind::Auto => {
            // A CI identity goes to STS only when a role says so; else the
            // chain (a job may have AWS keys in its variables).
            if let Some(role) = role
                && let Some(id) = identity::locate(settings, cx.env)?
            {
                crate::trace::debug(|| format!("codeartifact: web identity from {:?}", id.kind));
                return Ok(Some(Source::WebIdentity(id, role)));
            }
            if let Some(c) = aws::from_env(cx.env)? {
                return Ok(Some(Source::Ready(c, None)));
            }
            Ok(aws::from_shared_file(cx.env)?.map(|c| Source::Ready(c, None)))
        }
        kind => {
            let role = role.ok_or_else(|| {
                anyhow!(
                    "identity \"{}\" with grant \"aws-codeartifact\" needs the role to assume: \
                     `aws-role-arn = \"arn:aws:iam::<account>:role/<name>\"` (or AWS_ROLE_ARN)",
                    crate::diag::config_word(&kind)
                )
            })?;
            Ok(identity::locate(settings, cx.env)?.map(|id| Source::WebIdentity(id, role)))
        }
    }
}

/// Credentials (STS on a web identity), then the authorization token and
/// its expiry (Unix seconds).
fn mint(
    http: &Http,
    aws: &AwsSettings,
    source: Source,
    runner: &crate::child::Runner,
    now: i64,
) -> anyhow::Result<(Token, i64)> {
    let creds = match source {
        Source::Ready(c, _) => c,
        Source::WebIdentity(id, role) => {
            let kind = id.kind;
            let jwt = id.fetch(http, runner).with_context(|| {
                format!(
                    "getting the CI identity token (identity \"{}\")",
                    crate::diag::config_word(&kind)
                )
            })?;
            // The session as long as the token asked for (at least STS's
            // 900 s, at most the 1 h every role allows): whether
            // CodeArtifact lets a token outlive the session that signed for
            // it is not documented clearly, so the default (3600 s) never
            // depends on it.
            let session = aws.duration_secs.clamp(900, 3600);
            aws::assume_role_with_web_identity(http, &aws.sts_endpoint, &role, &jwt, session, now)?
        }
    };
    authorization_token(http, aws, &creds, now)
}

/// The SigV4-signed `GetAuthorizationToken`.
pub fn authorization_token(
    http: &Http,
    aws: &AwsSettings,
    creds: &Credentials,
    now: i64,
) -> anyhow::Result<(Token, i64)> {
    let mut url = url::Url::parse(&format!(
        "{}/v1/authorization-token",
        aws.codeartifact_endpoint.trim_end_matches('/')
    ))
    .map_err(|_| anyhow!("`codeartifact-endpoint` is not a URL"))?;
    // Encoded the way SigV4 canonicalises it, so that the signature covers
    // exactly the query sent.
    url.set_query(Some(&crate::net::sigv4::query(&[
        ("domain", &aws.domain),
        ("domain-owner", &aws.domain_owner),
        ("duration", &aws.duration_secs.to_string()),
    ])));
    let (url, req) = http.post(url.as_str())?;
    let headers = sign(&url, aws, creds, now)?;
    let mut req = req.header(reqwest::header::ACCEPT, "application/json");
    for (name, value) in &headers {
        let mut value = reqwest::header::HeaderValue::from_str(value.as_str())
            .map_err(|_| anyhow!("the signature is not a header value"))?;
        value.set_sensitive(true);
        req = req.header(*name, value);
    }
    let resp = http.send(&url, req)?;
    let secrets = creds.secrets();
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse(resp.status, &resp.body, &display_url(&url), now, &secrets)
}

/// The SigV4 headers for an empty-bodied POST of `url` (`authorization`,
/// `x-amz-date`, `x-amz-security-token`).
fn sign(
    url: &url::Url,
    aws: &AwsSettings,
    creds: &Credentials,
    now: i64,
) -> anyhow::Result<Vec<(&'static str, zeroize::Zeroizing<String>)>> {
    let now = if now > 0 {
        now
    } else {
        time::OffsetDateTime::now_utc().unix_timestamp()
    };
    let signer = crate::net::sigv4::Signer {
        key_id: &creds.access_key_id,
        secret: &creds.secret_access_key,
        session: creds.session_token.as_ref(),
    };
    crate::net::sigv4::post_headers(url, &aws.region, "codeartifact", signer, now)
}

/// Reads CodeArtifact's answer: `{"authorizationToken", "expiration"}`.
/// An error shows its `message`, cleaned and redacted; never the body.
pub fn parse(
    status: u16,
    body: &[u8],
    endpoint: &str,
    now: i64,
    secrets: &[&str],
) -> anyhow::Result<(Token, i64)> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        authorization_token: Option<String>,
        expiration: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Failure {
        #[serde(alias = "Message")]
        message: Option<String>,
        #[serde(rename = "__type")]
        kind: Option<String>,
    }
    if status == 200 {
        let a: Answer = serde_json::from_slice(body).map_err(|_| {
            anyhow!(
                "{endpoint} answered HTTP 200 but not with CodeArtifact's answer; check \
                 `codeartifact-endpoint`"
            )
        })?;
        let raw = a
            .authorization_token
            .ok_or_else(|| anyhow!("{endpoint} answered without an `authorizationToken`"))?;
        let token = Token::parse(raw, &format!("the answer of {endpoint}"))?
            .ok_or_else(|| anyhow!("{endpoint} answered with an empty authorizationToken"))?;
        let expires_at = match a.expiration {
            Some(serde_json::Value::Number(n)) => n.as_f64().map(|f| f as i64),
            Some(serde_json::Value::String(s)) => aws::parse_time(&s),
            _ => None,
        }
        .ok_or_else(|| anyhow!("{endpoint} answered without a usable `expiration`"))?;
        if expires_at <= now {
            bail!("{endpoint} issued a token that has already expired; check this machine's clock");
        }
        return Ok((token, expires_at));
    }
    let failure: Option<Failure> = serde_json::from_slice(body).ok();
    let said = failure
        .map(|f| {
            // The error type (`…#AccessDeniedException`): a name, shown
            // only when it is one.
            let kind = f
                .kind
                .map(|k| k.rsplit('#').next().unwrap_or("").to_owned())
                .filter(|k| {
                    !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_alphanumeric())
                });
            let message = f.message.map(|m| exchange::clean(&m, secrets));
            match (kind, message) {
                (Some(k), Some(m)) => format!(": {k}: {m}"),
                (None, Some(m)) => format!(": {m}"),
                (Some(k), None) => format!(": {k}"),
                (None, None) => String::new(),
            }
        })
        .unwrap_or_default();
    let fix = match status {
        401 | 403 => {
            "check the AWS credentials, and that they may call codeartifact:GetAuthorizationToken \
             on the domain and sts:GetServiceBearerToken"
        }
        404 => "check `codeartifact-domain`, `codeartifact-domain-owner` and `aws-region`",
        400 => {
            "check `codeartifact-domain`, `codeartifact-domain-owner` and `codeartifact-duration-secs`"
        }
        500.. => "CodeArtifact is failing; retry later",
        _ => "check the codeartifact settings",
    };
    bail!(
        "{endpoint} (AWS CodeArtifact) refused an authorization token{said} (HTTP {status}); {fix}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "https://codeartifact.eu-west-1.amazonaws.com/v1/authorization-token";

    #[test]
    fn the_token_and_its_expiration_in_either_form() {
        let (t, exp) = parse(
            200,
            br#"{"authorizationToken":"ca-1","expiration":2000.5}"#,
            EP,
            1000,
            &[],
        )
        .unwrap();
        assert_eq!((t.expose(), exp), ("ca-1", 2000));
        let (_, exp) = parse(
            200,
            br#"{"authorizationToken":"ca-1","expiration":"1970-01-01T00:33:20Z"}"#,
            EP,
            1000,
            &[],
        )
        .unwrap();
        assert_eq!(exp, 2000);
        for bad in [
            &br#"{"authorizationToken":"a"}"#[..],
            br#"{"expiration":5000}"#,
            b"<x>",
        ] {
            assert!(parse(200, bad, EP, 1000, &[]).is_err());
        }
        let msg = format!(
            "{:#}",
            parse(
                200,
                br#"{"authorizationToken":"a","expiration":10}"#,
                EP,
                1000,
                &[]
            )
            .unwrap_err()
        );
        assert!(msg.contains("already expired"), "{msg}");
    }

    #[test]
    fn errors_are_cleaned_and_redacted() {
        let body = br#"{"__type":"com.amazon#AccessDeniedException","message":"denied for sk-Zz19 \u001b[0m"}"#;
        let msg = format!("{:#}", parse(403, body, EP, 0, &["sk-Zz19"]).unwrap_err());
        assert!(
            msg.contains("AccessDeniedException") && msg.contains("denied for"),
            "{msg}"
        );
        assert!(!msg.contains("sk-Zz19") && !msg.contains('\u{1b}'), "{msg}");
        assert!(msg.contains("GetAuthorizationToken"), "{msg}");
    }

    #[test]
    fn the_signature_is_sigv4_for_codeartifact_in_the_region() {
        let aws = AwsSettings {
            domain: "d".into(),
            domain_owner: "123456789012".into(),
            region: "eu-west-1".into(),
            role_arn: None,
            duration_secs: 900,
            codeartifact_endpoint: "https://codeartifact.eu-west-1.amazonaws.com".into(),
            sts_endpoint: String::new(),
        };
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Token::new("secret-Pq42".into()),
            session_token: Some(Token::new("session-Rt55".into())),
            expires_at: None,
        };
        let url = url::Url::parse(
            "https://codeartifact.eu-west-1.amazonaws.com/v1/authorization-token?domain=d",
        )
        .unwrap();
        let headers = sign(&url, &aws, &creds, 1_700_000_000).unwrap();
        let auth = headers
            .iter()
            .find(|(n, _)| *n == "authorization")
            .unwrap()
            .1
            .as_str();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/eu-west-1/codeartifact/aws4_request"
            ),
            "{auth}"
        );
        assert!(!auth.contains("secret-Pq42"));
        assert!(
            headers
                .iter()
                .any(|(n, v)| *n == "x-amz-security-token" && v.as_str() == "session-Rt55")
        );
        assert!(
            headers
                .iter()
                .any(|(n, v)| *n == "x-amz-date" && v.as_str() == "20231114T221320Z")
        );
    }
}
