//! The device authorization grant (RFC 8628): a code the person enters on
//! any device with a browser, and polling until they have.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

use super::token::{self, TokenSet};
use crate::diag::say;
use crate::net::fields::Value;
use crate::net::http::Http;

const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What a device sign-in needs.
pub struct Device<'a> {
    /// The device authorization endpoint.
    pub endpoint: &'a str,
    /// The token endpoint.
    pub token_endpoint: &'a str,
    /// The public client.
    pub client_id: &'a str,
    /// Parameters of the authorization request besides `client_id`
    /// (scope, resource, audience).
    pub params: &'a [(&'a str, &'a str)],
    /// Parameters of the token request besides the grant (RFC 8707
    /// `resource`, `audience`): the same target as the authorization
    /// request, so that a server that down-scopes only at the token
    /// endpoint does so.
    pub token_params: &'a [(&'a str, &'a str)],
    /// The registry, for the prompt.
    pub registry: &'a str,
    /// When to give up, whatever the codes' lifetime.
    pub deadline: Instant,
}

/// Runs the device flow: the tokens once the person approved.
pub fn run(http: &Http, d: &Device<'_>) -> anyhow::Result<TokenSet> {
    let mut form = vec![("client_id", Value::Plain(d.client_id))];
    form.extend(d.params.iter().map(|(k, v)| (*k, Value::Plain(v))));
    let auth = token::device_authorization(http, d.endpoint, &form)?
        .map_err(|e| anyhow!("the IdP refused to start a device sign-in: {e}; check `client-id` and that the client may use the device flow"))?;
    say(&format!(
        "To sign in to {}, open {} in a browser on any device and enter the code {}",
        d.registry, auth.verification_uri, auth.user_code
    ));
    if let Some(complete) = &auth.verification_uri_complete {
        say(&format!(
            "(or open {complete}, which has the code filled in)"
        ));
        if let Some(qr) = super::qr::render(complete) {
            say(&qr);
        }
    }
    let left = match auth.expires_in {
        s @ 0..120 => format!("{s} seconds"),
        s => format!("{} minutes", s / 60),
    };
    say(&format!(
        "Waiting for the sign-in to be approved (the code expires in {left})…"
    ));
    let expires = Instant::now() + Duration::from_secs(auth.expires_in);
    let deadline = expires.min(d.deadline);
    let mut interval = Duration::from_secs(auth.interval);
    let mut failures = 0;
    loop {
        if Instant::now() + interval > deadline {
            if deadline == expires {
                bail!(
                    "the sign-in code expired before it was approved; nothing was stored. Run the \
                     login again"
                );
            }
            bail!(
                "the sign-in was not approved within `login-timeout-secs`; nothing was stored. \
                 Run the login again"
            );
        }
        std::thread::sleep(interval);
        let mut form = vec![
            ("grant_type", Value::Plain(DEVICE_CODE)),
            ("device_code", Value::Secret(&auth.device_code)),
            ("client_id", Value::Plain(d.client_id)),
        ];
        form.extend(d.token_params.iter().map(|(k, v)| (*k, Value::Plain(v))));
        // A poll that does not get through (a dropped connection, a timeout)
        // is repeated at the next interval: polling with the device code is
        // safe to repeat. Three in a row end the sign-in.
        let answer = match token::request(http, d.token_endpoint, &form) {
            Ok(answer) => {
                failures = 0;
                answer
            }
            Err(e) if failures < 2 => {
                failures += 1;
                crate::diag::warn(&format!(
                    "polling the identity provider failed, retrying: {e:#}"
                ));
                continue;
            }
            Err(e) => {
                return Err(e.context("the device sign-in could not reach the identity provider"));
            }
        };
        match answer {
            Ok(tokens) => return Ok(tokens),
            Err(e) => match e.code.as_str() {
                "authorization_pending" => {}
                // RFC 8628 §3.5: add 5 seconds to the interval, for this and every later poll.
                "slow_down" => interval += Duration::from_secs(5),
                "expired_token" => bail!(
                    "the sign-in code expired before it was approved; nothing was stored. Run \
                     the login again"
                ),
                "access_denied" => {
                    bail!("the sign-in was denied at the identity provider; nothing was stored")
                }
                _ => bail!("the IdP ended the device sign-in: {e}; nothing was stored"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::test_server::{Canned, Server};

    #[test]
    fn the_token_request_names_the_resource_as_the_authorization_request_did() {
        let server = Server::start();
        server.route(
            "/device",
            Canned::json(
                200,
                &serde_json::json!({
                    "device_code": "DC",
                    "user_code": "ABCD-EFGH",
                    "verification_uri": server.url("/verify"),
                    "expires_in": 600,
                    "interval": 1,
                })
                .to_string(),
            ),
        );
        server.route(
            "/token",
            Canned::json(
                200,
                r#"{"access_token":"at-1","token_type":"Bearer","expires_in":300}"#,
            ),
        );
        let http = Http::new(Duration::from_secs(5)).unwrap();
        let target = [("resource", "https://r.example/api/v1/crates")];
        let mut params = vec![("scope", "read")];
        params.extend(target);
        run(
            &http,
            &Device {
                endpoint: &server.url("/device"),
                token_endpoint: &server.url("/token"),
                client_id: "cli",
                params: &params,
                token_params: &target,
                registry: "corp",
                deadline: Instant::now() + Duration::from_secs(30),
            },
        )
        .unwrap();
        let bodies = server.bodies();
        let token = &bodies[server.paths().iter().position(|p| p == "/token").unwrap()];
        assert!(token.contains("device_code=DC"), "{token}");
        assert!(
            token.contains("resource=https%3A%2F%2Fr.example%2Fapi%2Fv1%2Fcrates"),
            "{token}"
        );
    }
}
