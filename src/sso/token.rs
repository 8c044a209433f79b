//! Requests to the IdP's token, device authorization and revocation
//! endpoints for the SSO flows, under the project's HTTP policy
//! ([`crate::net::http`]): one deadline per call, no redirects, size caps.
//! Errors show only the IdP's cleaned `error` / `error_description`, never
//! a body, and never what was sent.

use anyhow::{anyhow, bail};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::net::fields::{self, Value};
use crate::net::http::Http;
use crate::net::url::display_url;
use crate::oauth::token::{clean, parse_answer};
use crate::secret::Token;

/// An access token and its lifetime in seconds, when known.
#[derive(Debug)]
pub struct Access {
    /// The access token (the registry token).
    pub token: Token,
    /// Its lifetime in seconds, when the IdP said or the token shows it.
    pub expires_in: Option<i64>,
}

/// What the token endpoint issued. The refresh token is read first and
/// kept even when the rest of the answer fails its checks: once the IdP has
/// rotated it, the old one must never be sent again.
#[derive(Debug)]
pub struct TokenSet {
    /// A refresh token, when the IdP issued (or rotated) one.
    pub refresh: Option<Token>,
    /// An OpenID Connect ID token, when issued (and readable).
    pub id_token: Option<Token>,
    /// The access token, or why the answer's access token is refused.
    pub access: anyhow::Result<Access>,
}

/// An OAuth error answer (RFC 6749 §5.2), cleaned for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: u16,
    /// The `error` code (`invalid_grant`, `authorization_pending`, …).
    pub code: String,
    /// `error_description`, cleaned and redacted, when given.
    pub description: Option<String>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(d) = &self.description {
            write!(f, " ({d})")?;
        }
        write!(f, ", HTTP {}", self.status)
    }
}

impl std::error::Error for OAuthError {}

/// What an endpoint answered: tokens, or an OAuth error.
pub type Answer<T> = Result<T, OAuthError>;

#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct Failure {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// POSTs `form` to `endpoint`. `secrets` are what the form carries (a
/// refresh token, a code, a verifier), redacted from whatever the IdP says.
fn post_form(
    http: &Http,
    endpoint: &str,
    form: &[(&str, Value<'_>)],
) -> anyhow::Result<(u16, Zeroizing<Vec<u8>>, String)> {
    let (url, req) = http.post(endpoint)?;
    let resp = http.send(
        &url,
        fields::form(req.header("accept", "application/json"), form),
    )?;
    Ok((resp.status, Zeroizing::new(resp.body), display_url(&url)))
}

fn oauth_error(
    status: u16,
    body: &[u8],
    shown: &str,
    secrets: &[&str],
) -> anyhow::Result<OAuthError> {
    let Ok(failure) = serde_json::from_slice::<Failure>(body) else {
        bail!(
            "{shown} answered HTTP {status}{}",
            match status {
                404 =>
                    "; there is no endpoint at this URL: check the `sso` table's `issuer` or endpoints",
                500.. => "; the identity service is failing, retry later or ask its operators",
                _ => "; check the `sso` table's endpoints and `client-id`",
            }
        );
    };
    Ok(OAuthError {
        status,
        code: clean(&failure.error, secrets),
        description: failure.error_description.map(|d| clean(&d, secrets)),
    })
}

fn encoded_forms(form: &[(&str, Value<'_>)]) -> Vec<Zeroizing<String>> {
    form.iter()
        .filter_map(|(_, value)| match value {
            Value::Secret(token) => Some(token.echoes()),
            Value::Plain(_) => None,
        })
        .flatten()
        .collect()
}

/// A token request (`grant_type` and its parameters in `form`): the tokens
/// issued, or the IdP's OAuth error, with the form's secrets redacted.
pub fn request(
    http: &Http,
    endpoint: &str,
    form: &[(&str, Value<'_>)],
) -> anyhow::Result<Answer<TokenSet>> {
    let (status, body, shown) = post_form(http, endpoint, form)?;
    let secrets = encoded_forms(form);
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    if status != 200 {
        return oauth_error(status, &body, &shown, &secrets).map(Err);
    }
    let extra: Extra = serde_json::from_slice(&body)
        .map_err(|_| anyhow!("{shown} answered HTTP 200 but not with a JSON token response"))?;
    // A refresh token that cannot be a header value is refused; a bad ID
    // token only costs the account name.
    let refresh = match extra.refresh_token {
        Some(v) => Token::parse(v, &format!("the refresh token from {shown}"))?,
        None => None,
    };
    let id_token = extra
        .id_token
        .and_then(|v| Token::parse(v, "the ID token").ok().flatten());
    let access = parse_answer(status, &body, &shown, &secrets, hint).map(|issued| Access {
        token: issued.token,
        expires_in: issued.expires_in,
    });
    Ok(Ok(TokenSet {
        refresh,
        id_token,
        access,
    }))
}

/// What to check for an OAuth `error` of a sign-in's token request.
fn hint(error: &str) -> &'static str {
    match error {
        "invalid_client" | "unauthorized_client" => {
            "check the `sso` table's `client-id`, and that the IdP lets this client use this grant"
        }
        "invalid_scope" => "check the `sso` table's `scope`",
        "invalid_target" => "check the `sso` table's `resource` / `audience`",
        _ => "see the identity provider's documentation for this error",
    }
}

/// An RFC 8628 device authorization answer.
#[derive(Debug)]
pub struct DeviceAuthorization {
    /// The device code (a secret: only sent back to the token endpoint).
    pub device_code: Token,
    /// The code the person enters.
    pub user_code: String,
    /// Where to enter it.
    pub verification_uri: String,
    /// The same with the code filled in, when offered.
    pub verification_uri_complete: Option<String>,
    /// How long the codes live, in seconds.
    pub expires_in: u64,
    /// Seconds between polls (default 5).
    pub interval: u64,
}

#[derive(Deserialize)]
struct RawDevice {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
}

/// Starts a device authorization (RFC 8628 §3.1).
pub fn device_authorization(
    http: &Http,
    endpoint: &str,
    form: &[(&str, Value<'_>)],
) -> anyhow::Result<Answer<DeviceAuthorization>> {
    let (status, body, shown) = post_form(http, endpoint, form)?;
    if status != 200 {
        return oauth_error(status, &body, &shown, &[]).map(Err);
    }
    let raw: RawDevice = serde_json::from_slice(&body).map_err(|_| {
        anyhow!(
            "{shown} answered HTTP 200 but not with a device authorization (device_code, \
             user_code, verification_uri, expires_in); check `device-authorization-endpoint`"
        )
    })?;
    let device_code = Token::parse(raw.device_code, &format!("the device code from {shown}"))?
        .ok_or_else(|| anyhow!("{shown} answered with an empty device code"))?;
    // What is shown to the person must be plain text (a user code of
    // printable ASCII: no escape sequences, no bidi or zero-width tricks)
    // and URLs the HTTP policy accepts, shown as parsed (normalised).
    if raw.user_code.is_empty()
        || raw.user_code.len() > 64
        || !raw
            .user_code
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ')
    {
        bail!("{shown} answered with a user code that cannot be shown");
    }
    let shown_url = |uri: &str| -> anyhow::Result<String> {
        match crate::net::url::checked_url(uri) {
            Ok(url) if uri.len() <= 1024 => Ok(url.to_string()),
            _ => bail!(
                "{shown} answered with a verification URL that is not https (or too long); refused"
            ),
        }
    };
    Ok(Ok(DeviceAuthorization {
        device_code,
        verification_uri: shown_url(&raw.verification_uri)?,
        verification_uri_complete: raw
            .verification_uri_complete
            .as_deref()
            .map(shown_url)
            .transpose()?,
        user_code: raw.user_code,
        expires_in: raw.expires_in.clamp(1, 3600),
        interval: raw.interval.unwrap_or(5).clamp(1, 60),
    }))
}

/// Revokes `token` (RFC 7009). `Ok(true)` when the IdP confirmed it (HTTP
/// 200, which RFC 7009 also answers for a token it did not know).
pub fn revoke(
    http: &Http,
    endpoint: &str,
    client_id: &str,
    token: &Token,
) -> anyhow::Result<Result<(), String>> {
    let form = [
        ("token", Value::Secret(token)),
        ("token_type_hint", Value::Plain("refresh_token")),
        ("client_id", Value::Plain(client_id)),
    ];
    let (status, body, shown) = post_form(http, endpoint, &form)?;
    if status == 200 {
        return Ok(Ok(()));
    }
    let secrets = encoded_forms(&form);
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    Ok(Err(match oauth_error(status, &body, &shown, &secrets) {
        Ok(e) => format!("{shown} refused: {e}"),
        Err(e) => format!("{e}"),
    }))
}

/// What an ID token must show (OpenID Connect Core 3.1.3.7).
#[derive(Debug, Clone, Copy)]
pub struct IdTokenCheck<'a> {
    /// The issuer it must come from (the `issuer` the discovery document was
    /// checked against); `None` when only endpoints are configured.
    pub issuer: Option<&'a str>,
    /// The client it must be for (in `aud`, and `azp` when present).
    pub client_id: &'a str,
    /// The `nonce` the authorization request sent; `None` for the device
    /// flow, whose request has none.
    pub nonce: Option<&'a str>,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// How far past its `exp` an ID token is still taken (clock skew).
pub const ID_TOKEN_LEEWAY_SECS: i64 = 60;

/// Checks an ID token that came back from the token endpoint: its `nonce`
/// (when one was sent), `iss`, `aud` (and `azp`) and `exp`, and returns its
/// claims. Its signature is not verified: OpenID Connect Core 3.1.3.7 (6)
/// allows the TLS server validation of the token endpoint, from which it
/// came directly over HTTPS (loopback aside), to stand in for it. The
/// claims name the account in messages and tell accounts apart; nothing is
/// authorized by them. Errors name what to change and never show the token.
pub fn check_id_token(
    id_token: &Token,
    check: &IdTokenCheck<'_>,
) -> anyhow::Result<serde_json::Value> {
    let Some(claims) = super::id_claims(id_token) else {
        bail!(
            "the identity provider's ID token cannot be read (not a JWT with JSON claims); refused"
        );
    };
    let text = |key: &str| claims.get(key).and_then(serde_json::Value::as_str);
    if let Some(sent) = check.nonce
        && !text("nonce")
            .is_some_and(|got| super::pkce::same_secret(got.as_bytes(), sent.as_bytes()))
    {
        bail!(
            "the ID token does not carry the `nonce` this sign-in sent (the sign-in was started \
             elsewhere, or an old answer was replayed); it was refused. Run the login again"
        );
    }
    if let Some(issuer) = check.issuer
        && !text("iss").is_some_and(|iss| crate::registry::same_index(iss, issuer))
    {
        bail!(
            "the ID token was not issued by the configured `issuer` ({issuer}); refused. Check \
             `issuer` in the `sso` table (it must be exactly the IdP's issuer URL)"
        );
    }
    let for_client = match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => aud == check.client_id,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|a| a == check.client_id),
        _ => false,
    };
    if !for_client || text("azp").is_some_and(|azp| azp != check.client_id) {
        bail!(
            "the ID token is not for the client `{}` (its `aud` does not name it); refused. \
             Check `client-id` in the `sso` table",
            check.client_id
        );
    }
    match claims.get("exp").and_then(serde_json::Value::as_i64) {
        Some(exp) if exp.saturating_add(ID_TOKEN_LEEWAY_SECS) >= check.now => Ok(claims),
        Some(_) => bail!(
            "the identity provider's ID token has expired; refused. If the IdP just issued it, \
             this machine's clock is wrong: set it right and run the login again"
        ),
        None => bail!("the identity provider's ID token has no `exp`; refused"),
    }
}

/// The checked claims of a sign-in's ID token ([`check_id_token`]), or
/// `None` when none came and none was due. A sign-in whose authorization
/// request asked for `openid` (and so sent a `nonce`, `check.nonce`) must
/// get an ID token back (OpenID Connect Core 3.1.3.3): without this rule,
/// someone who saw the sign-in URL could strip `openid` from it, sign in as
/// themselves, and leave no nonce to check and no account to compare.
pub fn checked_claims(
    id_token: Option<&Token>,
    check: &IdTokenCheck<'_>,
) -> anyhow::Result<Option<serde_json::Value>> {
    match (id_token, check.nonce) {
        (Some(id_token), _) => check_id_token(id_token, check).map(Some),
        (None, Some(_)) => bail!(
            "the identity provider answered this OpenID sign-in (scope `openid`) without an ID \
             token, so neither its `nonce` nor its account could be checked (the sign-in URL may \
             have been changed on its way to the browser); it was refused. Run the login again"
        ),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_errors_are_cleaned_and_never_echo_what_was_sent() {
        let body =
            br#"{"error":"invalid_grant","error_description":"grant rt-SECRET-123 is gone"}"#;
        let e = oauth_error(400, body, "https://idp/token", &["rt-SECRET-123"]).unwrap();
        assert_eq!(e.code, "invalid_grant");
        let shown = e.to_string();
        assert!(!shown.contains("rt-SECRET-123"), "{shown}");
        assert!(shown.contains("HTTP 400"), "{shown}");
        let e = oauth_error(502, b"<html>", "https://idp/token", &[]).unwrap_err();
        assert!(e.to_string().contains("failing"), "{e}");
    }

    fn id_token(claims: serde_json::Value) -> Token {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        Token::parse(format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"), "t")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn an_id_token_must_carry_the_nonce_issuer_client_and_a_live_exp() {
        let check = IdTokenCheck {
            issuer: Some("https://idp.example"),
            client_id: "cli",
            nonce: Some("n-123"),
            now: 1_000_000,
        };
        let good = serde_json::json!({
            "iss": "https://idp.example/", "aud": ["cli", "other"], "azp": "cli",
            "exp": 1_000_000 - ID_TOKEN_LEEWAY_SECS, "nonce": "n-123", "sub": "alice",
        });
        let claims = check_id_token(&id_token(good.clone()), &check).unwrap();
        assert_eq!(claims["sub"], "alice");
        // An `exp` at the end of time is no overflow (a panic in debug builds).
        let mut far = good.clone();
        far["exp"] = serde_json::json!(i64::MAX);
        assert!(check_id_token(&id_token(far), &check).is_ok());
        for (change, needle) in [
            (serde_json::json!({"nonce": "n-124"}), "`nonce`"),
            (serde_json::json!({"nonce": null}), "`nonce`"),
            (
                serde_json::json!({"iss": "https://evil.example"}),
                "`issuer`",
            ),
            (serde_json::json!({"iss": null}), "`issuer`"),
            (serde_json::json!({"aud": "other"}), "`client-id`"),
            (
                serde_json::json!({"aud": ["other"], "azp": null}),
                "`client-id`",
            ),
            (serde_json::json!({"azp": "other"}), "`client-id`"),
            (
                serde_json::json!({"exp": 1_000_000 - ID_TOKEN_LEEWAY_SECS - 1}),
                "expired",
            ),
            (serde_json::json!({"exp": null}), "no `exp`"),
        ] {
            let mut claims = good.clone();
            for (k, v) in change.as_object().unwrap() {
                claims[k] = v.clone();
            }
            let e = check_id_token(&id_token(claims), &check)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{change}: {e}");
        }
        // The device flow sends no nonce; a token without an issuer
        // configured is not held to one.
        let mut claims = good;
        claims["nonce"] = serde_json::Value::Null;
        claims["iss"] = serde_json::json!("https://other.example");
        let lax = IdTokenCheck {
            issuer: None,
            nonce: None,
            ..check
        };
        assert!(check_id_token(&id_token(claims), &lax).is_ok());
        let e = check_id_token(
            &Token::parse("not-a-jwt".into(), "t").unwrap().unwrap(),
            &check,
        );
        assert!(e.unwrap_err().to_string().contains("cannot be read"));
    }

    #[test]
    fn an_openid_sign_in_without_an_id_token_is_refused() {
        // issue 16 F1: the URL's `openid` was stripped; no ID token came.
        let check = IdTokenCheck {
            issuer: Some("https://idp.example"),
            client_id: "cli",
            nonce: Some("n-123"),
            now: 1_000_000,
        };
        let e = checked_claims(None, &check).unwrap_err().to_string();
        assert!(e.contains("without an ID token"), "{e}");
        // The device flow sends no nonce: none is due.
        let device = IdTokenCheck {
            nonce: None,
            ..check
        };
        assert!(checked_claims(None, &device).unwrap().is_none());
        // One that comes is checked as ever.
        let wrong = id_token(
            serde_json::json!({"iss": "https://idp.example", "aud": "cli",
            "exp": 1_000_000, "nonce": "other"}),
        );
        assert!(checked_claims(Some(&wrong), &check).is_err());
    }
}
