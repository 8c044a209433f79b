//! Getting a registry token from the token endpoint: RFC 8693 token exchange,
//! RFC 7523 JWT bearer, or client credentials, with `none`,
//! `client_secret_basic` or `client_secret_post` client authentication, and
//! the endpoint configured or found by OIDC discovery.

use anyhow::{anyhow, bail};
use base64::Engine as _;
use serde::Deserialize;

use super::http::{Http, checked_url, display_url};
use super::settings::{ClientAuth, Endpoint, Grant, OidcSettings};
use crate::secret::Token;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A token the endpoint issued.
#[derive(Debug)]
pub struct Issued {
    /// The access token.
    pub token: Token,
    /// Its lifetime in seconds, when the endpoint said or the token shows it.
    pub expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: String,
}

/// The token endpoint: configured, or from `<issuer>/.well-known/openid-configuration`.
pub fn token_endpoint(http: &Http, settings: &OidcSettings) -> anyhow::Result<String> {
    let issuer = match &settings.endpoint {
        Endpoint::Token(url) => return Ok(url.clone()),
        Endpoint::Discover(issuer) => issuer,
    };
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let (url, req) = http.get(&url)?;
    let resp = http.send(&url, req)?;
    let shown = display_url(&url);
    if resp.status != 200 {
        bail!(
            "OIDC discovery at {shown} answered HTTP {}; check `issuer`",
            resp.status
        );
    }
    let doc: Discovery = serde_json::from_slice(&resp.body).map_err(|_| {
        anyhow!("OIDC discovery at {shown} did not return a document with `token_endpoint`")
    })?;
    checked_url(&doc.token_endpoint)
        .map_err(|e| anyhow!("the token endpoint that {shown} advertises is refused: {e}"))?;
    Ok(doc.token_endpoint)
}

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
    let mut form: Vec<(&str, &str)> = Vec::new();
    let subject = || {
        r.subject
            .map(Token::expose)
            .ok_or_else(|| anyhow!("the {:?} grant needs a CI identity token", s.grant))
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
        Grant::ClientCredentials => form.push(("grant_type", "client_credentials")),
        Grant::JfrogArtifactory | Grant::Cloudsmith => unreachable!("JSON exchanges"),
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
    parse(resp.status, &resp.body, &display_url(&url))
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
    let subject = r
        .subject
        .map(Token::expose)
        .ok_or_else(|| anyhow!("the {:?} exchange needs a CI identity token", s.grant))?;
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
    let (url, req) = http.post(endpoint)?;
    let req = req
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body.to_vec());
    let resp = http.send(&url, req)?;
    parse(resp.status, &resp.body, &display_url(&url))
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
/// only the IdP's `error` and `error_description`, cleaned and shortened.
pub fn parse(status: u16, body: &[u8], endpoint: &str) -> anyhow::Result<Issued> {
    if status == 200 {
        let ok: Success = serde_json::from_slice(body).map_err(|_| {
            anyhow!("{endpoint} answered HTTP 200 but not with a JSON token response; check the endpoint URL")
        })?;
        let Some(raw) = ok.access_token.or(ok.token) else {
            bail!("{endpoint} answered without an `access_token`");
        };
        let token = Token::parse(raw, &format!("the answer of {endpoint}"))?
            .ok_or_else(|| anyhow!("{endpoint} answered with an empty access_token"))?;
        let expires_in = match ok.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|&n| n > 0)
        .or_else(|| jwt_lifetime(token.expose()));
        return Ok(Issued { token, expires_in });
    }
    let failure: Option<Failure> = serde_json::from_slice(body).ok();
    match failure {
        Some(f) => {
            let error = clean(&f.error);
            let detail = f
                .error_description
                .map(|d| format!(" ({})", clean(&d)))
                .unwrap_or_default();
            bail!(
                "{endpoint} refused the token request: {error}{detail} (HTTP {status}); {}",
                hint(&error)
            )
        }
        None => bail!(
            "{endpoint} answered HTTP {status}{}",
            if status >= 500 {
                "; the identity service is failing, retry later or ask its operators"
            } else {
                "; check the endpoint URL and client settings"
            }
        ),
    }
}

fn hint(error: &str) -> &'static str {
    match error {
        "invalid_grant" => {
            "the CI identity token was not accepted: check that the IdP trusts this job (issuer, subject) and `identity-audience`"
        }
        "invalid_client" | "unauthorized_client" => {
            "check `client-id`, `client-auth` and the client secret, and that the client may use this grant"
        }
        "invalid_scope" => "check `scope` / `publish-scope`",
        "invalid_target" => "check `audience` / `resource`",
        "unsupported_grant_type" => "the IdP does not support this `grant`",
        _ => "see the identity provider's documentation for this error",
    }
}

/// IdP text for a message: printable characters only, at most 200 of them.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The lifetime left on a JWT (`exp - now`), read without verifying it: only
/// to know when to stop using it, never to trust it.
fn jwt_lifetime(token: &str) -> Option<i64> {
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
    Some(claims.exp - now).filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "https://idp.example/token";

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
