//! Getting a registry token from the token endpoint: RFC 8693 token exchange,
//! RFC 7523 JWT bearer, or client credentials, with `none`,
//! `client_secret_basic` or `client_secret_post` client authentication, and
//! the endpoint configured or found by OIDC discovery.

use anyhow::{anyhow, bail};
use base64::Engine as _;
use serde::Deserialize;

use super::http::{Http, display_url};
use super::settings::{ClientAuth, Grant, OidcSettings};
use crate::secret::Token;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 7523 §2.2: the client authenticates with a JWT (`client-assertion`).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token the endpoint issued.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub token: Token,
    /// Its lifetime in seconds, when the endpoint said or the token shows it.
    pub expires_in: Option<i64>,
}

/// The longest lifetime believed for an issued token: a longer `expires_in`
/// or `exp` is cut to this, so a wrong or hostile answer cannot make a token
/// live in the cache for ever. The cache's own limit, so that what is
/// stored is also accepted when read back.
pub use crate::cache::MAX_LIFETIME_SECS;

pub use super::discovery::parse_discovery;

/// The parameters of one token request.
pub struct Request<'a> {
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
pub fn request(http: &Http, endpoint: &str, r: &Request<'_>) -> anyhow::Result<Issued> {
    let s = r.settings;
    if matches!(s.grant, Grant::JfrogArtifactory | Grant::Cloudsmith) {
        return request_json(http, endpoint, r);
    }
    if s.grant == Grant::CratesIoTrustedPublishing {
        return super::crates_io::request(http, endpoint, s, r.subject, &r.secrets());
    }
    let mut form: Vec<(&str, &str)> = Vec::new();
    let subject = || {
        r.subject.map(Token::expose).ok_or_else(|| {
            anyhow!(
                "grant \"{}\" needs a CI identity token",
                crate::config::config_word(&s.grant)
            )
        })
    };
    match s.grant {
        Grant::TokenExchange => {
            form.push(("grant_type", TOKEN_EXCHANGE));
            form.push(("subject_token", subject()?));
            form.push(("subject_token_type", s.subject_token_type.urn()));
        }
        Grant::JwtBearer => {
            form.push(("grant_type", JWT_BEARER));
            form.push(("assertion", subject()?));
        }
        Grant::ClientCredentials | Grant::AzureWorkloadIdentity => {
            form.push(("grant_type", "client_credentials"));
        }
        Grant::JfrogArtifactory | Grant::Cloudsmith | Grant::CratesIoTrustedPublishing => {
            unreachable!("JSON exchanges")
        }
        Grant::AwsCodeartifact => bail!("CodeArtifact has no OAuth token endpoint"),
    }
    for (key, value) in [("audience", &s.audience), ("resource", &s.resource)] {
        if let Some(v) = value {
            form.push((key, v));
        }
    }
    if let Some(scope) = r.scope {
        form.push(("scope", scope));
    }
    let (url, mut req) = http.post(endpoint)?;
    match (s.client_auth, &s.client_id) {
        (ClientAuth::None, Some(id)) => form.push(("client_id", id)),
        (ClientAuth::None, None) => {}
        (ClientAuth::ClientAssertion, id) => {
            // Workload identity federation: the CI identity token is the
            // client's credential (RFC 7523 §2.2).
            let id = id
                .as_deref()
                .ok_or_else(|| anyhow!("client authentication needs `client-id`"))?;
            form.push(("client_id", id));
            form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
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
                form.push(("client_id", id));
                form.push(("client_secret", secret.expose()));
            } else {
                // RFC 6749 §2.3.1: form-encode both parts before joining them.
                let enc = |v: &str| form_urlencoded(v);
                let basic =
                    zeroize::Zeroizing::new(format!("{}:{}", enc(id), enc(secret.expose())));
                let header = zeroize::Zeroizing::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(basic.as_bytes())
                ));
                req = req.header(reqwest::header::AUTHORIZATION, header.as_str());
            }
        }
    }
    let resp = http.send(&url, req.header("accept", "application/json").form(&form))?;
    let secrets = r.secrets();
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse_with(resp.status, &resp.body, &display_url(&url), &secrets)
}

/// The JSON exchanges registries expose themselves (Artifactory, Cloudsmith).
fn request_json(http: &Http, endpoint: &str, r: &Request<'_>) -> anyhow::Result<Issued> {
    #[derive(serde::Serialize)]
    struct Artifactory<'a> {
        grant_type: &'a str,
        subject_token_type: &'a str,
        subject_token: &'a str,
        provider_name: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Cloudsmith<'a> {
        oidc_token: &'a str,
        service_slug: &'a str,
    }
    let s = r.settings;
    let subject = r.subject.map(Token::expose).ok_or_else(|| {
        anyhow!(
            "grant \"{}\" needs a CI identity token",
            crate::config::config_word(&s.grant)
        )
    })?;
    let body = zeroize::Zeroizing::new(match s.grant {
        Grant::JfrogArtifactory => serde_json::to_vec(&Artifactory {
            grant_type: TOKEN_EXCHANGE,
            subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
            subject_token: subject,
            provider_name: s.provider_name.as_deref().unwrap_or_default(),
        })?,
        _ => serde_json::to_vec(&Cloudsmith {
            oidc_token: subject,
            service_slug: s.service_slug.as_deref().unwrap_or_default(),
        })?,
    });
    let (url, resp) = http.post_json(endpoint, &body)?;
    let secrets = r.secrets();
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse_with(resp.status, &resp.body, &display_url(&url), &secrets)
}

impl Request<'_> {
    /// The secrets this request sends, to redact from what the IdP answers:
    /// each as sent and as it would be echoed (form-encoded, JSON-escaped).
    fn secrets(&self) -> Vec<zeroize::Zeroizing<String>> {
        let mut all = Vec::new();
        for secret in [self.subject, self.client_secret].into_iter().flatten() {
            let raw = secret.expose();
            all.push(zeroize::Zeroizing::new(raw.to_owned()));
            all.push(zeroize::Zeroizing::new(form_urlencoded(raw)));
            let json = serde_json::to_string(raw).unwrap_or_default();
            all.push(zeroize::Zeroizing::new(json.trim_matches('"').to_owned()));
        }
        all
    }
}

fn form_urlencoded(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[derive(Deserialize)]
struct Success {
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
struct Failure {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
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
    if status == 200 {
        let ok: Success = serde_json::from_slice(body).map_err(|_| {
            anyhow!("{endpoint} answered HTTP 200 but not with a JSON token response; check the endpoint URL")
        })?;
        let Some(raw) = ok.access_token.or(ok.token) else {
            bail!("{endpoint} answered without an `access_token`");
        };
        let token = Token::parse(raw, &format!("the answer of {endpoint}"))?
            .ok_or_else(|| anyhow!("{endpoint} answered with an empty access_token"))?;
        let said = match ok.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|&n| n > 0);
        // The earlier of what the endpoint said and what the token says.
        let expires_in = [said, jwt_lifetime(token.expose())]
            .into_iter()
            .flatten()
            .min();
        if expires_in.is_some_and(|n| n <= 0) {
            bail!(
                "{endpoint} issued a token that has already expired (its `exp` is in the past); \
                 check this machine's clock and the identity service's"
            );
        }
        let expires_in = expires_in.map(|n| n.min(MAX_LIFETIME_SECS));
        return Ok(Issued { token, expires_in });
    }
    let failure: Option<Failure> = serde_json::from_slice(body).ok();
    let message = match failure {
        Some(f) => {
            let error = clean(&f.error, secrets);
            let detail = f
                .error_description
                .map(|d| format!(" ({})", clean(&d, secrets)))
                .unwrap_or_default();
            format!(
                "{endpoint} refused the token request: {error}{detail} (HTTP {status}); {}",
                hint(&error)
            )
        }
        None => format!(
            "{endpoint} answered HTTP {status}{}",
            match status {
                404 =>
                    "; there is no token endpoint at this URL: check `token-endpoint` or `issuer`",
                500.. => "; the identity service is failing, retry later or ask its operators",
                _ => "; check the endpoint URL and client settings",
            }
        ),
    };
    Err(Refused { status, message }.into())
}

/// The token endpoint answered with an error status. Its message never
/// quotes the body beyond the IdP's cleaned `error` / `error_description`.
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

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

/// IdP text for a message: printable characters only, at most 200 of them,
/// with `secrets` and anything token-shaped redacted (an IdP may echo the
/// request it refused).
pub(crate) fn clean(text: &str, secrets: &[&str]) -> String {
    // Redact the whole text (at most the 64 KiB response) before cutting it,
    // so that a secret at the cut is not shown in part.
    let printable: String = text.chars().filter(|c| !c.is_control()).collect();
    crate::redact::redact(&printable, secrets)
        .chars()
        .take(200)
        .collect()
}

/// The lifetime left on a JWT (`exp - now`, zero or negative when it has
/// expired), read without verifying it: only to know when to stop using it,
/// never to trust it. `None` when the token is not a JWT with an `exp`.
/// Public for the fuzz targets and property tests.
pub fn jwt_lifetime(token: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Claims {
        exp: i64,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Some(claims.exp.saturating_sub(now))
}

#[cfg(test)]
mod tests {
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
        let r = Request {
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
