//! The authorization code grant with PKCE (RFC 7636, S256) as native apps
//! use it (RFC 8252): the request URL, the answer that comes back to the
//! redirect URI (checked against the `state` sent), and the code exchange.

use anyhow::{anyhow, bail};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use url::Url;
use zeroize::Zeroizing;

/// Random, URL-safe text of `bytes` random bytes.
pub fn random(bytes: usize) -> anyhow::Result<Zeroizing<String>> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf).map_err(|e| anyhow!("the system's random generator failed: {e}"))?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&*buf),
    ))
}

/// One sign-in's secrets: the PKCE verifier (sent only with the code), the
/// `state` that the answer must carry back, and the OpenID `nonce` that the
/// ID token must carry back.
pub struct Pkce {
    /// The code verifier (43 characters from 32 random bytes).
    pub verifier: Zeroizing<String>,
    /// Its S256 challenge, sent in the authorization URL.
    pub challenge: String,
    /// The state.
    pub state: Zeroizing<String>,
    /// The nonce (OpenID Connect Core 3.1.2.1), sent when the request asks
    /// for `openid` ([`asks_openid`]).
    pub nonce: Zeroizing<String>,
}

impl Pkce {
    /// Fresh secrets for one sign-in.
    pub fn new() -> anyhow::Result<Pkce> {
        let verifier = random(32)?;
        let challenge = challenge(&verifier);
        Ok(Pkce {
            verifier,
            challenge,
            state: random(24)?,
            nonce: random(24)?,
        })
    }
}

/// The S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether the request parameters `extra` ask for `openid` in their scope:
/// then an ID token comes back, and the request carries a `nonce`.
pub fn asks_openid(extra: &[(&str, &str)]) -> bool {
    extra
        .iter()
        .any(|(k, v)| *k == "scope" && v.split_whitespace().any(|w| w == "openid"))
}

/// The URL the person opens: `endpoint` with the authorization request
/// parameters (`extra`: scope, resource, audience) added to any it has, and
/// the `nonce` when the scope asks for `openid` (some OpenID providers
/// refuse the request without one).
pub fn authorization_url(
    endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> anyhow::Result<String> {
    let mut url =
        Url::parse(endpoint).map_err(|_| anyhow!("the authorization endpoint is not a URL"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &pkce.state);
        if asks_openid(extra) {
            q.append_pair("nonce", &pkce.nonce);
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    Ok(url.into())
}

/// What came back to the redirect URI.
#[derive(Debug)]
pub enum Callback {
    /// An authorization code, with the state checked.
    Code(Zeroizing<String>),
    /// The IdP said no (`access_denied`, …): code and cleaned description.
    Denied(String, Option<String>),
}

/// Reads the query of the redirect (`query`: the part after `?`). The state
/// must be the one sent (`None` accepts a bare code pasted without it:
/// PKCE still binds the code to this sign-in). `issuer`, when known and the
/// answer names one (RFC 9207), must match.
pub fn read_callback(
    query: &str,
    state: Option<&str>,
    issuer: Option<&str>,
) -> anyhow::Result<Callback> {
    let mut code = None;
    let mut got_state = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(Zeroizing::new(v.into_owned())),
            "state" => got_state = Some(Zeroizing::new(v.into_owned())),
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(expected) = state
        && !got_state
            .as_deref()
            .is_some_and(|got| same_secret(got.as_bytes(), expected.as_bytes()))
    {
        bail!(
            "the sign-in answer does not carry the `state` this login sent (an old browser tab, \
             or a request this login did not make); it was refused and nothing was stored. Run \
             the login again"
        );
    }
    if let (Some(expected), Some(iss)) = (issuer, &iss)
        && !crate::registry::same_index(expected, iss)
    {
        bail!("the sign-in answer comes from another issuer than the configured one; refused");
    }
    if let Some(error) = error {
        let clean = |t: &str| crate::oauth::token::clean(t, &[]);
        return Ok(Callback::Denied(
            clean(&error),
            description.as_deref().map(clean),
        ));
    }
    match code {
        Some(code) if !code.is_empty() => Ok(Callback::Code(code)),
        _ => bail!("the sign-in answer has no authorization code"),
    }
}

/// Whether two secrets are equal, in a time that does not depend on where
/// they differ.
pub(super) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // BASE64URL(SHA-256(verifier)) without padding, as computed by
        // Python's hashlib and base64 modules.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mJ0kZ8LFf0z2U5MjwZqeu6I9yk8zjU"),
            "dQBbldNf5XdDkg5_9xMIRqmMSco-hWVlcWNFCu3jAuE"
        );
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.len(), 43);
        assert_ne!(p.verifier.as_str(), Pkce::new().unwrap().verifier.as_str());
    }

    #[test]
    fn the_state_must_come_back_unchanged() {
        let ok = read_callback("code=c1&state=s1", Some("s1"), None).unwrap();
        assert!(matches!(ok, Callback::Code(c) if c.as_str() == "c1"));
        for query in ["code=c1&state=s2", "code=c1", "state=s1x&code=c1"] {
            let e = read_callback(query, Some("s1"), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("`state`"), "{query}: {e}");
        }
        let denied = read_callback("error=access_denied&state=s1", Some("s1"), None).unwrap();
        assert!(matches!(denied, Callback::Denied(c, None) if c == "access_denied"));
        assert!(
            read_callback(
                "code=c&state=s&iss=https%3A%2F%2Fevil",
                Some("s"),
                Some("https://idp")
            )
            .is_err()
        );
        assert!(
            read_callback(
                "code=c&state=s&iss=https%3A%2F%2Fidp",
                Some("s"),
                Some("https://idp")
            )
            .is_ok()
        );
    }

    #[test]
    fn the_authorization_url_keeps_the_endpoints_own_query() {
        let p = Pkce::new().unwrap();
        let u = authorization_url(
            "https://idp.example/authorize?tenant=x",
            "cli",
            "http://127.0.0.1:5000/callback",
            &p,
            &[("scope", "openid read")],
        )
        .unwrap();
        assert!(u.starts_with("https://idp.example/authorize?tenant=x&response_type=code"));
        assert!(u.contains("code_challenge_method=S256") && u.contains("scope=openid+read"));
        assert!(!u.contains(p.verifier.as_str()));
        assert!(u.contains(&format!("&nonce={}&", p.nonce.as_str())), "{u}");
        assert_ne!(p.nonce.as_str(), Pkce::new().unwrap().nonce.as_str());
        // No `openid`, no ID token: no nonce.
        let u = authorization_url(
            "https://i/a",
            "cli",
            "http://127.0.0.1:1/callback",
            &p,
            &[("scope", "read")],
        )
        .unwrap();
        assert!(!u.contains("nonce="), "{u}");
    }
}
