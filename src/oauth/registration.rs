//! RFC 7591 dynamic client registration: when a discovered authorization
//! server offers `registration_endpoint` and no issuer table names a client,
//! `cargo login` registers this provider as a public native client (RFC
//! 8252: no secret, PKCE, a loopback redirect on any port).
//!
//! The answer must give a `client_id` and no client secret: a server that
//! registers a confidential client has not done what was asked, and a
//! secret would have to be kept somewhere. Refusals are told with the
//! server's cleaned `error` / `error_description` and the table to add
//! instead; the body is never quoted otherwise.

use anyhow::{anyhow, bail};
use serde::{Deserialize, Serialize};

use super::discovery::DEVICE_CODE_GRANT;
use crate::net::http::Http;
use crate::net::url::display_url;

/// The client name sent at registration.
pub const CLIENT_NAME: &str = "cargo-credential-corp";
/// The redirect URI registered: loopback, any port (RFC 8252 §7.3).
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// The longest client id accepted.
pub const MAX_CLIENT_ID: usize = 256;

/// What is asked of the server.
#[derive(Debug, Clone, Serialize)]
struct Request<'a> {
    client_name: &'a str,
    application_type: &'a str,
    token_endpoint_auth_method: &'a str,
    grant_types: Vec<&'a str>,
    response_types: Vec<&'a str>,
    redirect_uris: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

#[derive(Deserialize)]
struct Answer {
    client_id: Option<serde_json::Value>,
    #[serde(default)]
    client_secret: Option<serde_json::Value>,
    #[serde(default)]
    token_endpoint_auth_method: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// A registered public client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// The client id the server issued.
    pub client_id: String,
}

/// Registers a public client at `endpoint` of `issuer`, for the code flow
/// and/or the device flow, asking for `scope`.
pub fn register(
    http: &Http,
    endpoint: &str,
    issuer: &str,
    code_flow: bool,
    device_flow: bool,
    scope: Option<&str>,
) -> anyhow::Result<Registered> {
    let mut grant_types = vec!["refresh_token"];
    if code_flow {
        grant_types.insert(0, "authorization_code");
    }
    if device_flow {
        grant_types.push(DEVICE_CODE_GRANT);
    }
    let request = Request {
        client_name: CLIENT_NAME,
        application_type: "native",
        token_endpoint_auth_method: "none",
        grant_types,
        response_types: if code_flow { vec!["code"] } else { Vec::new() },
        redirect_uris: if code_flow {
            vec![REDIRECT_URI]
        } else {
            Vec::new()
        },
        scope,
    };
    let body = serde_json::to_vec(&request).expect("plain struct serializes");
    let (url, resp) = http.post_json(endpoint, &body)?;
    parse(resp.status, &resp.body, issuer, &display_url(&url))
}

/// Reads a registration answer (status and body) from `shown`.
pub fn parse(status: u16, body: &[u8], issuer: &str, shown: &str) -> anyhow::Result<Registered> {
    let instead = format!(
        "add an [issuers.\"{issuer}\"] table with the `client-id` of a public client to the \
         provider's config (see docs/sso.md)"
    );
    if !(200..300).contains(&status) {
        let said = serde_json::from_slice::<ErrorAnswer>(body)
            .ok()
            .and_then(|e| {
                let error = super::token::clean(e.error.as_deref()?, &[]);
                Some(match e.error_description {
                    Some(d) => format!(": {error} ({})", super::token::clean(&d, &[])),
                    None => format!(": {error}"),
                })
            })
            .unwrap_or_default();
        bail!(
            "the authorization server {issuer} refused to register this provider as a client \
             (HTTP {status} from {shown}{said}); {instead}"
        );
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|_| {
        anyhow!("the client registration at {shown} did not answer with a JSON object; {instead}")
    })?;
    let client_id = answer
        .client_id
        .as_ref()
        .and_then(|c| c.as_str())
        .filter(|c| {
            !c.is_empty() && c.len() <= MAX_CLIENT_ID && c.chars().all(|c| c.is_ascii_graphic())
        })
        .ok_or_else(|| {
            anyhow!(
                "the client registration at {shown} gave no usable `client_id` (printable ASCII, \
                 at most {MAX_CLIENT_ID} characters); {instead}"
            )
        })?;
    let public = answer
        .token_endpoint_auth_method
        .as_ref()
        .is_none_or(|m| m == "none");
    if answer.client_secret.is_some() {
        bail!(
            "the client registration at {shown} registered a confidential client (with a \
             secret) instead of a public one; refused, nothing kept. {instead}"
        );
    }
    if !public {
        bail!(
            "the client registration at {shown} registered a client that must authenticate at \
             the token endpoint (`token_endpoint_auth_method` is not `none`) instead of a \
             public one; refused, nothing kept. {instead}"
        );
    }
    Ok(Registered {
        client_id: client_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::test_server::{Canned, Server};

    #[test]
    fn a_public_native_client_is_asked_for_and_its_id_kept() {
        let server = Server::start();
        server.route(
            "/reg",
            Canned::json(201, r#"{"client_id":"abc-123","client_id_issued_at":1}"#),
        );
        let http = Http::new(std::time::Duration::from_millis(1500)).unwrap();
        let got = register(
            &http,
            &server.url("/reg"),
            "https://l.example",
            true,
            true,
            Some("read"),
        )
        .unwrap();
        assert_eq!(got.client_id, "abc-123");
        let sent: serde_json::Value = serde_json::from_str(&server.bodies()[0]).unwrap();
        assert_eq!(sent["token_endpoint_auth_method"], "none");
        assert_eq!(sent["application_type"], "native");
        assert_eq!(sent["redirect_uris"][0], REDIRECT_URI);
        assert_eq!(
            sent["grant_types"],
            serde_json::json!(["authorization_code", "refresh_token", DEVICE_CODE_GRANT])
        );
        assert_eq!(sent["scope"], "read");
    }

    #[test]
    fn refused_or_odd_registrations_say_which_table_to_add() {
        let issuer = "https://l.example";
        for (status, body, needle) in [
            (401, r#"{"error":"invalid_token"}"#, "refused to register"),
            (
                400,
                r#"{"error":"invalid_redirect_uri","error_description":"no loopback"}"#,
                "invalid_redirect_uri (no loopback)",
            ),
            (403, "<html>", "HTTP 403"),
            (201, "<html>", "JSON object"),
            (201, r#"{"client_id":""}"#, "no usable `client_id`"),
            (201, r#"{"client_id":"a\nb"}"#, "no usable `client_id`"),
            (201, r#"{"client_id":7}"#, "no usable `client_id`"),
            (
                201,
                r#"{"client_id":"c","client_secret":"s3cr3t-value"}"#,
                "confidential",
            ),
            (
                201,
                r#"{"client_id":"c","token_endpoint_auth_method":"client_secret_basic"}"#,
                "must authenticate at the token endpoint",
            ),
            // review-18 F6c: no secret, but not public either.
            (
                201,
                r#"{"client_id":"c","token_endpoint_auth_method":"private_key_jwt"}"#,
                "must authenticate at the token endpoint",
            ),
        ] {
            let msg = parse(status, body.as_bytes(), issuer, "https://l.example/reg")
                .unwrap_err()
                .to_string();
            assert!(msg.contains(needle), "{body}: {msg}");
            assert!(msg.contains(r#"[issuers."https://l.example"]"#), "{msg}");
            assert!(!msg.contains("s3cr3t"), "{msg}");
        }
    }
}
