//! HTTP to identity endpoints, with one policy for every call: HTTPS only
//! (plain HTTP to a loopback address is allowed), no redirects followed,
//! connect and total timeouts, a cap on the response size, and errors that
//! name the endpoint but never quote a response body (it may hold a token).

use std::io::Read as _;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Url, redirect};

/// The largest response accepted from an identity endpoint.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// An HTTP client bound to the policy above.
#[derive(Debug, Clone)]
pub struct Http {
    client: Client,
    timeout: Duration,
}

/// A response whose body was read within the limits.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body (at most [`MAX_RESPONSE_BYTES`]).
    pub body: Vec<u8>,
}

impl Http {
    /// A client whose calls each take at most `timeout`.
    pub fn new(timeout: Duration) -> anyhow::Result<Http> {
        let client = Client::builder()
            .redirect(redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .user_agent(concat!("cargo-credential-corp/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Http { client, timeout })
    }

    /// A GET of `url` (checked against the policy).
    pub fn get(&self, url: &str) -> anyhow::Result<(Url, RequestBuilder)> {
        let url = checked_url(url)?;
        Ok((url.clone(), self.client.get(url)))
    }

    /// A POST to `url` (checked against the policy).
    pub fn post(&self, url: &str) -> anyhow::Result<(Url, RequestBuilder)> {
        let url = checked_url(url)?;
        Ok((url.clone(), self.client.post(url)))
    }

    /// Sends `request` and reads the body within the size limit. Any status
    /// is returned; a redirect is an error that names where it pointed.
    pub fn send(&self, url: &Url, request: RequestBuilder) -> anyhow::Result<Response> {
        let endpoint = display_url(url);
        let response = request.send().map_err(|e| {
            if e.is_timeout() {
                anyhow!(
                    "{endpoint} did not answer within {} ms; check that it is reachable from \
                     here (proxy settings: HTTPS_PROXY / NO_PROXY)",
                    self.timeout.as_millis()
                )
            } else if e.is_connect() {
                anyhow!("cannot connect to {endpoint}; check the URL and that the service is up")
            } else {
                anyhow!("request to {endpoint} failed: {}", without_url(&e))
            }
        })?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| format!(" to {}", display_str(l)))
                .unwrap_or_default();
            bail!(
                "{endpoint} answered with a redirect (HTTP {}){to}; redirects are not followed \
                 for identity endpoints: configure the final URL",
                status.as_u16()
            );
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES)
        {
            bail!("{endpoint} sent a response larger than {MAX_RESPONSE_BYTES} bytes; refused");
        }
        let mut body = Vec::new();
        response
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| {
                if is_timeout(&e) {
                    anyhow!(
                        "{endpoint} did not finish its answer within {} ms",
                        self.timeout.as_millis()
                    )
                } else {
                    anyhow!("reading the answer of {endpoint} failed: {e}")
                }
            })?;
        if body.len() as u64 > MAX_RESPONSE_BYTES {
            bail!("{endpoint} sent a response larger than {MAX_RESPONSE_BYTES} bytes; refused");
        }
        Ok(Response {
            status: status.as_u16(),
            body,
        })
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_timeout())
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// reqwest's message without the URL it appends (already named by the caller).
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url()
        && let Some(pos) = msg.find(&format!(" ({url})"))
    {
        msg.truncate(pos);
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// `url` parsed and checked: `https`, or `http` to a loopback host.
pub fn checked_url(url: &str) -> anyhow::Result<Url> {
    let parsed =
        Url::parse(url).with_context(|| format!("`{}` is not a valid URL", display_str(url)))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => bail!(
            "{} uses plain http; identity endpoints must use https (only loopback addresses may \
             use http)",
            display_url(&parsed)
        ),
        other => bail!("{} has scheme `{other}`; use https", display_url(&parsed)),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        bail!(
            "{} holds credentials in the URL; configure them separately",
            display_url(&parsed)
        );
    }
    Ok(parsed)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A URL for messages: scheme, host, port and path; no query (it may carry
/// parameters a CI system considers private), no user info.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

fn display_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => display_url(&u),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_only() {
        assert!(checked_url("https://idp.example/token").is_ok());
        assert!(checked_url("http://127.0.0.1:9/token").is_ok());
        assert!(checked_url("http://127.8.0.1/token").is_ok());
        assert!(checked_url("http://[::1]:9/token").is_ok());
        assert!(checked_url("http://localhost:9/token").is_ok());
        let msg = checked_url("http://idp.example/token")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("plain http") && msg.contains("idp.example"),
            "{msg}"
        );
        assert!(checked_url("http://10.0.0.1/token").is_err());
        assert!(checked_url("ftp://idp.example/").is_err());
        assert!(checked_url("https://user:pw@idp.example/").is_err());
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn displayed_urls_drop_query_and_credentials() {
        let u = Url::parse("https://a.example/x?api-version=2&sig=abc#f").unwrap();
        assert_eq!(display_url(&u), "https://a.example/x");
    }
}
