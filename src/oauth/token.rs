//! A token endpoint's answer (RFC 6749 §5): the access token and its
//! lifetime, or the IdP's typed error. The body is never quoted: an error
//! shows only the IdP's `error` and `error_description`, cleaned, shortened
//! and with the secrets sent and anything token-shaped redacted.

use anyhow::{anyhow, bail};
use serde::Deserialize;

use crate::secret::Token;

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

/// Reads a token endpoint's answer; `hint` says what to check for an
/// OAuth `error` code.
pub fn parse_answer(
    status: u16,
    body: &[u8],
    endpoint: &str,
    secrets: &[&str],
    hint: fn(&str) -> &'static str,
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
        let expires_in = [said, lifetime_of(&token)].into_iter().flatten().min();
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
    lifetime_left(crate::oauth::jwt::claims(token)?)
}

/// [`jwt_lifetime`] of a token held as a secret.
fn lifetime_of(token: &Token) -> Option<i64> {
    lifetime_left(crate::oauth::jwt::claims_of(token)?)
}

fn lifetime_left(claims: crate::oauth::jwt::Object) -> Option<i64> {
    let exp = claims.integer("exp")?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Some(exp.saturating_sub(now))
}
