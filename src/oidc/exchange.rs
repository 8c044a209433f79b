//! Getting a registry token from the token endpoint: RFC 8693 token exchange,
//! RFC 7523 JWT bearer, or client credentials, with `none`,
//! `client_secret_basic` or `client_secret_post` client authentication, and
//! the endpoint configured or found by OIDC discovery.

use anyhow::{anyhow, bail};

use super::settings::{ClientAuth, Grant, OidcSettings};
use crate::net::fields::{self, Value};
use crate::net::http::Http;
use crate::net::url::display_url;
use crate::secret::Token;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 7523 §2.2: the client authenticates with a JWT (`client-assertion`).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub use crate::oauth::discovery::parse_discovery;
pub(crate) use crate::oauth::token::clean;
pub use crate::oauth::token::{Issued, MAX_LIFETIME_SECS, Refused, jwt_lifetime};

/// The parameters of one token request.
pub struct ExchangeRequest<'a> {
    /// The settings (grant, client, audience, resource).
    pub settings: &'a OidcSettings,
    /// The scope for this operation class.
    pub scope: Option<&'a str>,
    /// The CI identity token (for the exchange and JWT bearer grants).
    pub subject: Option<&'a Token>,
    /// The client secret, when client authentication needs one.
    pub client_secret: Option<&'a Token>,
}

/// Asks `endpoint` for a token.
pub fn request(http: &Http, endpoint: &str, r: &ExchangeRequest<'_>) -> anyhow::Result<Issued> {
    let s = r.settings;
    if matches!(s.grant, Grant::JfrogArtifactory | Grant::Cloudsmith) {
        return request_json(http, endpoint, r);
    }
    let mut form: Vec<(&str, Value<'_>)> = Vec::new();
    let subject = || {
        r.subject.map(Value::Secret).ok_or_else(|| {
            anyhow!(
                "grant \"{}\" needs a CI identity token",
                crate::diag::config_word(&s.grant)
            )
        })
    };
    match s.grant {
        Grant::TokenExchange => {
            form.push(("grant_type", Value::Plain(TOKEN_EXCHANGE)));
            form.push(("subject_token", subject()?));
            form.push((
                "subject_token_type",
                Value::Plain(s.subject_token_type.urn()),
            ));
        }
        Grant::JwtBearer => {
            form.push(("grant_type", Value::Plain(JWT_BEARER)));
            form.push(("assertion", subject()?));
        }
        Grant::ClientCredentials | Grant::AzureWorkloadIdentity => {
            form.push(("grant_type", Value::Plain("client_credentials")));
        }
        Grant::JfrogArtifactory | Grant::Cloudsmith => unreachable!("JSON exchanges"),
        Grant::CratesIoTrustedPublishing => {
            bail!("crates.io trusted publishing has its own request (oidc::crates_io)")
        }
        Grant::AwsCodeartifact => bail!("CodeArtifact has no OAuth token endpoint"),
    }
    for (key, value) in [("audience", &s.audience), ("resource", &s.resource)] {
        if let Some(v) = value {
            form.push((key, Value::Plain(v)));
        }
    }
    if let Some(scope) = r.scope {
        form.push(("scope", Value::Plain(scope)));
    }
    let (url, mut req) = http.post(endpoint)?;
    match (s.client_auth, &s.client_id) {
        (ClientAuth::None, Some(id)) => form.push(("client_id", Value::Plain(id))),
        (ClientAuth::None, None) => {}
        (ClientAuth::ClientAssertion, id) => {
            // Workload identity federation: the CI identity token is the
            // client's credential (RFC 7523 §2.2).
            let id = id
                .as_deref()
                .ok_or_else(|| anyhow!("client authentication needs `client-id`"))?;
            form.push(("client_id", Value::Plain(id)));
            form.push(("client_assertion_type", Value::Plain(CLIENT_ASSERTION_TYPE)));
            form.push(("client_assertion", subject()?));
        }
        (auth, id) => {
            let id = id
                .as_deref()
                .ok_or_else(|| anyhow!("client authentication needs `client-id`"))?;
            let secret = r
                .client_secret
                .ok_or_else(|| anyhow!("client authentication needs a client secret"))?;
            if auth == ClientAuth::ClientSecretPost {
                form.push(("client_id", Value::Plain(id)));
                form.push(("client_secret", Value::Secret(secret)));
            } else {
                req = fields::client_basic(req, id, secret);
            }
        }
    }
    let req = fields::form(req.header("accept", "application/json"), &form);
    let resp = http.send(&url, req)?;
    let secrets = r.secrets();
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse_with(resp.status, &resp.body, &display_url(&url), &secrets)
}

/// The JSON exchanges registries expose themselves (Artifactory, Cloudsmith).
fn request_json(http: &Http, endpoint: &str, r: &ExchangeRequest<'_>) -> anyhow::Result<Issued> {
    let s = r.settings;
    let subject = r.subject.map(Value::Secret).ok_or_else(|| {
        anyhow!(
            "grant \"{}\" needs a CI identity token",
            crate::diag::config_word(&s.grant)
        )
    })?;
    let body = match s.grant {
        Grant::JfrogArtifactory => fields::json(&[
            ("grant_type", Value::Plain(TOKEN_EXCHANGE)),
            (
                "subject_token_type",
                Value::Plain("urn:ietf:params:oauth:token-type:id_token"),
            ),
            ("subject_token", subject),
            (
                "provider_name",
                Value::Plain(s.provider_name.as_deref().unwrap_or_default()),
            ),
        ]),
        _ => fields::json(&[
            ("oidc_token", subject),
            (
                "service_slug",
                Value::Plain(s.service_slug.as_deref().unwrap_or_default()),
            ),
        ]),
    };
    let (url, resp) = http.post_json(endpoint, &body)?;
    let secrets = r.secrets();
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse_with(resp.status, &resp.body, &display_url(&url), &secrets)
}

impl ExchangeRequest<'_> {
    /// The secrets this request sends, to redact from what the IdP answers:
    /// each as sent and as it would be echoed (form-encoded, JSON-escaped).
    pub(crate) fn secrets(&self) -> Vec<zeroize::Zeroizing<String>> {
        [self.subject, self.client_secret]
            .into_iter()
            .flatten()
            .flat_map(Token::echoes)
            .collect()
    }
}

/// Reads a token endpoint's answer. The body is never quoted: an error shows
/// only the IdP's `error` and `error_description`, cleaned, shortened and
/// with anything token-shaped redacted.
pub fn parse(status: u16, body: &[u8], endpoint: &str) -> anyhow::Result<Issued> {
    parse_with(status, body, endpoint, &[])
}

/// [`parse`], also redacting `secrets` (the CI identity and client secret
/// that were sent) from what the IdP says.
pub fn parse_with(
    status: u16,
    body: &[u8],
    endpoint: &str,
    secrets: &[&str],
) -> anyhow::Result<Issued> {
    crate::oauth::token::parse_answer(status, body, endpoint, secrets, hint)
}

/// What to check for an OAuth `error` of a CI exchange's token endpoint.
fn hint(error: &str) -> &'static str {
    match error {
        "invalid_grant" => {
            "the CI identity token was not accepted: check that the IdP trusts this job (issuer, subject) and `identity-audience`"
        }
        "invalid_client" | "unauthorized_client" => {
            "check `client-id`, `client-auth` and the client secret (with client-auth \"client-assertion\": that the client has a federated credential for this CI identity's issuer, subject and audience, `identity-audience`), and that the client may use this grant"
        }
        "invalid_scope" => "check `scope` / `publish-scope`",
        "invalid_target" => "check `audience` / `resource`",
        "unsupported_grant_type" => "the IdP does not support this `grant`",
        _ => "see the identity provider's documentation for this error",
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const EP: &str = "https://idp.example/token";

    fn test_settings() -> OidcSettings {
        let raw: super::super::settings::RawOidc =
            toml::from_str("issuer = \"https://idp.example\"\n").unwrap();
        raw.validate("t").unwrap()
    }

    #[test]
    fn success_with_and_without_expiry() {
        let ok = parse(
            200,
            br#"{"access_token":"at-1","token_type":"Bearer","expires_in":300}"#,
            EP,
        )
        .unwrap();
        assert_eq!((ok.token.expose(), ok.expires_in), ("at-1", Some(300)));
        let ok = parse(200, br#"{"access_token":"at-2","expires_in":"120"}"#, EP).unwrap();
        assert_eq!(ok.expires_in, Some(120));
        let ok = parse(200, br#"{"access_token":"opaque"}"#, EP).unwrap();
        assert_eq!(ok.expires_in, None);
        // Cloudsmith-style `{"token": …}`.
        assert_eq!(
            parse(200, br#"{"token":"cs"}"#, EP).unwrap().token.expose(),
            "cs"
        );
    }

    #[test]
    fn a_jwt_without_expires_in_uses_its_exp() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = format!(r#"{{"exp":{},"iat":{now}}}"#, now + 600);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
        let body = format!(r#"{{"access_token":"h.{payload}.s"}}"#);
        let lifetime = parse(200, body.as_bytes(), EP).unwrap().expires_in.unwrap();
        assert!((595..=600).contains(&lifetime), "{lifetime}");
    }

    #[test]
    fn errors_name_the_endpoint_and_never_quote_the_body() {
        let msg = parse(
            400,
            br#"{"error":"invalid_grant","error_description":"jwt expired"}"#,
            EP,
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains(EP) && msg.contains("invalid_grant") && msg.contains("jwt expired"),
            "{msg}"
        );
        assert!(msg.contains("identity-audience"), "{msg}");
        let msg = parse(500, b"<html>stack trace with SECRET-IN-BODY</html>", EP)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("HTTP 500") && !msg.contains("SECRET-IN-BODY"),
            "{msg}"
        );
        let msg = parse(200, b"{\"access_tokn\":\"SECRET-IN-BODY\"}", EP)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("SECRET-IN-BODY"), "{msg}");
        let msg = parse(200, b"not json SECRET-IN-BODY", EP)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("SECRET-IN-BODY"), "{msg}");
        let msg = parse(
            401,
            b"{\"error\":\"invalid_client\",\"error_description\":\"bad\\n\\u001b[31m\"}",
            EP,
        )
        .unwrap_err()
        .to_string();
        assert!(
            !msg.contains('\u{1b}') && msg.contains("client-id"),
            "{msg}"
        );
    }

    fn jwt_with_exp(exp: i64) -> String {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp}}}"#));
        format!("h.{payload}.s")
    }

    #[test]
    fn the_earlier_of_expires_in_and_exp_wins_and_lifetimes_are_capped() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // A JWT expiring in 60 s, said to live an hour: 60 s.
        let body = format!(
            r#"{{"access_token":"{}","expires_in":3600}}"#,
            jwt_with_exp(now + 60)
        );
        let lifetime = parse(200, body.as_bytes(), EP).unwrap().expires_in.unwrap();
        assert!((55..=60).contains(&lifetime), "{lifetime}");
        // An already expired JWT: no lifetime believed beyond its exp.
        let body = format!(
            r#"{{"access_token":"{}","expires_in":3600}}"#,
            jwt_with_exp(now - 10)
        );
        let msg = parse(200, body.as_bytes(), EP).unwrap_err().to_string();
        assert!(msg.contains("already expired"), "{msg}");
        // Absurd values neither panic nor overflow, and are capped.
        for body in [
            format!(r#"{{"access_token":"a","expires_in":{}}}"#, i64::MAX),
            format!(r#"{{"access_token":"a","expires_in":"{}"}}"#, i64::MAX),
            format!(r#"{{"access_token":"{}"}}"#, jwt_with_exp(i64::MAX)),
            format!(
                r#"{{"access_token":"{}","expires_in":{}}}"#,
                jwt_with_exp(i64::MAX),
                u64::MAX
            ),
        ] {
            let got = parse(200, body.as_bytes(), EP).unwrap().expires_in;
            assert!(
                got.is_none_or(|n| (1..=MAX_LIFETIME_SECS).contains(&n)),
                "{body}: {got:?}"
            );
        }
    }

    #[test]
    fn an_idp_echoing_the_request_leaks_nothing() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vciJ9.c2lnbmF0dXJl";
        let body = format!(
            r#"{{"error":"invalid_grant","error_description":"bad subject_token={jwt}&client_secret=s3cr3t-value"}}"#
        );
        let msg = parse_with(400, body.as_bytes(), EP, &[jwt, "s3cr3t-value"])
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("eyJ") && !msg.contains("s3cr3t"), "{msg}");
        assert!(
            msg.contains("invalid_grant") && msg.contains("[redacted]"),
            "{msg}"
        );
        // A secret echoed form-encoded, or cut at the length limit.
        let body = format!(
            r#"{{"error":"invalid_client","error_description":"{} client_secret=Tr0ub4dor%263+horse%21 Zx9Qw8Er7Ty6Ui5Op4As3Df2"}}"#,
            "word ".repeat(76)
        );
        let r = ExchangeRequest {
            settings: &test_settings(),
            scope: None,
            subject: None,
            client_secret: Some(&Token::new("Tr0ub4dor&3 horse!".into())),
        };
        let secrets = r.secrets();
        let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
        let msg = parse_with(401, body.as_bytes(), EP, &secrets)
            .unwrap_err()
            .to_string();
        assert!(
            !msg.contains("Tr0ub4dor") && !msg.contains("Zx9Qw8Er7"),
            "{msg}"
        );
        // Token-shaped text is redacted even when the secret is not known.
        let msg = parse(400, body.as_bytes(), EP).unwrap_err().to_string();
        assert!(!msg.contains("eyJ"), "{msg}");
    }

    #[test]
    fn an_access_token_with_a_control_character_is_refused() {
        let msg = parse(200, br#"{"access_token":"SECRET\nX"}"#, EP)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("control character") && !msg.contains("SECRET"),
            "{msg}"
        );
    }
}
