//! What a request that got no answer is told as: a timeout, a certificate
//! this machine does not trust (who issued it, and the setting to use), a
//! proxy that refused (which proxy, set where), or a connection that failed;
//! never with the proxy's credentials.

use std::time::Duration;

use reqwest::Url;

use super::network::Network;
use super::tls::CertificateRefused;
use super::url::{Route, display_url, is_loopback, route};

/// The error for a request that got no answer. Never holds the
/// proxy's credentials.
pub(super) fn send_error(
    url: &Url,
    e: &reqwest::Error,
    network: Option<&Network>,
    (timeout, setting): (Duration, &str),
) -> anyhow::Error {
    let message = describe_send_error(url, e, network, (timeout, setting));
    // Belt and braces: whatever the layers below said, the proxy's
    // credentials are not repeated.
    let secrets = network.map(|n| n.proxy.secrets()).unwrap_or_default();
    let mut message = message;
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        message = message.replace(secret.as_str(), crate::redact::REDACTED);
    }
    anyhow::Error::new(NoAnswer(message))
}

/// A request that got no answer at all: no connection, a refused
/// certificate, a proxy failing, nothing within the deadline. Callers that
/// may go on without the service tell it from a bad answer with
/// `downcast_ref`; it reads as the message it carries.
#[derive(Debug)]
pub struct NoAnswer(String);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoAnswer {}

fn describe_send_error(
    url: &Url,
    e: &reqwest::Error,
    network: Option<&Network>,
    (timeout, setting): (Duration, &str),
) -> String {
    let endpoint = display_url(url);
    let proxied = route(url) == Route::Proxied;
    let proxy_hint = match network.filter(|_| proxied) {
        Some(n) => format!(" and {}", n.proxy.describe()),
        None if proxied => {
            " and the proxy settings (HTTPS_PROXY / ALL_PROXY / NO_PROXY)".to_owned()
        }
        None => String::new(),
    };
    if e.is_timeout() {
        format!(
            "{endpoint} did not answer within {} ms ({setting}); check that it is \
             reachable from here{proxy_hint}",
            timeout.as_millis()
        )
    } else if let Some(failure) = tls_failure(e).filter(|_| url.scheme() == "https") {
        let trusted = network.map_or_else(|| "the OS trust store".to_owned(), Network::trusted);
        match failure {
            TlsFailure::Certificate(refused) => {
                certificate_error(&endpoint, url, &refused, &trusted)
            }
            TlsFailure::Other(cause) => format!(
                "the TLS connection to {endpoint} failed ({cause}); check that it serves \
                 https on this port and that its certificate is issued by a CA this \
                 machine trusts (now: {trusted}). {CA_ADVICE}"
            ),
        }
    } else if e.is_connect() {
        let cause = innermost_cause(e);
        if proxied && cause.contains("proxy authorization required") {
            let proxy = network.map_or_else(|| "the proxy".to_owned(), |n| n.proxy.describe());
            let fix = if network.is_some_and(|n| n.proxy.has_credentials()) {
                "check the user and password in it"
            } else {
                "put the user and password in Cargo's http.proxy or CARGO_HTTP_PROXY as \
                 `http://USER:PASSWORD@host:port` (percent-encode special characters)"
            };
            return format!(
                "cannot connect to {endpoint}: {proxy} refused the request (HTTP 407 Proxy \
                 Authentication Required): {fix}"
            );
        }
        if proxied && cause.contains("tunnel error: unsuccessful") {
            let proxy = network.map_or_else(|| "the proxy".to_owned(), |n| n.proxy.describe());
            let target = format!(
                "{}:{}",
                url.host_str().unwrap_or("?"),
                url.port_or_known_default().unwrap_or(443)
            );
            let credentials = if network.is_some_and(|n| n.proxy.has_credentials()) {
                "the user and password given for it, and "
            } else {
                ""
            };
            return format!(
                "cannot connect to {endpoint}: {proxy} refused to open a tunnel to {target} \
                 (it did not answer the CONNECT with 200); check {credentials}that it lets \
                 this host and port through"
            );
        }
        format!(
            "cannot connect to {endpoint} ({cause}); check the URL, that the service is up{}",
            if proxy_hint.is_empty() {
                String::new()
            } else {
                format!(",{proxy_hint}")
            }
        )
    } else {
        format!("request to {endpoint} failed: {}", without_url(e))
    }
}

/// How to make this machine trust a company CA.
const CA_ADVICE: &str = "To trust a company CA (e.g. of a TLS-inspecting proxy): `ca-file = \
                         \"/path/to/ca.pem\"` in [defaults] of the provider's config, \
                         CARGO_HTTP_CAINFO or Cargo's http.cainfo, or install it in the OS trust \
                         store";

/// The message for a server certificate this machine refused: the host,
/// what was wrong, who issued it, and the setting to use.
fn certificate_error(
    endpoint: &str,
    url: &Url,
    refused: &CertificateRefused,
    trusted: &str,
) -> String {
    use rustls::CertificateError as E;
    let host = url.host_str().unwrap_or("?");
    let issuer = refused.issuer.as_deref().map_or_else(
        || "an issuer that could not be read".to_owned(),
        |i| format!("\"{i}\""),
    );
    // A TLS-inspecting proxy may be in the way without any proxy setting
    // (a transparent one): its CA is what the client sees.
    let seen = if is_loopback(url) {
        ""
    } else {
        " (if a TLS-inspecting proxy is in the way, this is its CA)"
    };
    let (what, advice) = match &refused.kind {
        E::UnknownIssuer => (
            format!(
                "the certificate {host} presented is issued by {issuer}{seen}, a CA this \
                 machine does not trust (now trusted: {trusted})"
            ),
            CA_ADVICE.to_owned(),
        ),
        E::NotValidForName | E::NotValidForNameContext { .. } => (
            format!(
                "the certificate {host} presented (issued by {issuer}) is not for this host: {}",
                refused.kind
            ),
            "check the host name in the URL".to_owned(),
        ),
        E::Expired | E::ExpiredContext { .. } => (
            format!("the certificate {host} presented (issued by {issuer}) has expired"),
            "the server must renew it; check this machine's clock".to_owned(),
        ),
        E::NotValidYet | E::NotValidYetContext { .. } => (
            format!("the certificate {host} presented (issued by {issuer}) is not valid yet"),
            "check this machine's clock".to_owned(),
        ),
        E::BadSignature => (
            format!(
                "the certificate {host} presented is not signed by its issuer {issuer} \
                 (BadSignature)"
            ),
            CA_ADVICE.to_owned(),
        ),
        other => (
            format!("the certificate {host} presented (issued by {issuer}) was refused ({other})"),
            CA_ADVICE.to_owned(),
        ),
    };
    format!("the TLS connection to {endpoint} failed: {what}. {advice}")
}

/// What went wrong in a TLS handshake.
enum TlsFailure {
    /// The server's certificate was refused.
    Certificate(CertificateRefused),
    /// Anything else (not TLS at all, an alert, the peer hanging up).
    Other(String),
}

/// The TLS layer's error, when a request failed in the TLS handshake (bad
/// certificate, not TLS at all, an alert, the peer hanging up mid-handshake).
/// It reports these as `InvalidData` (or `UnexpectedEof`) I/O errors, which a
/// TCP connect never gives; they may sit inside another I/O error, whose
/// `source()` skips them, so each one is opened with `get_ref()`. A refused
/// certificate is found as the rustls error inside.
fn tls_failure(e: &reqwest::Error) -> Option<TlsFailure> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let mut io = s.downcast_ref::<std::io::Error>();
        while let Some(err) = io {
            if let Some(refused) = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .and_then(CertificateRefused::from_rustls)
            {
                return Some(TlsFailure::Certificate(refused));
            }
            if matches!(
                err.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) {
                return Some(TlsFailure::Other(err.to_string()));
            }
            io = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>());
        }
        source = s.source();
    }
    None
}

/// The deepest cause of `e` (e.g. "Connection refused", "tunnel error:
/// unsuccessful"), or its own message without the URL.
fn innermost_cause(e: &reqwest::Error) -> String {
    let mut deepest = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        deepest = Some(s);
        source = s.source();
    }
    deepest.map_or_else(|| without_url(e), ToString::to_string)
}

/// An I/O error and what caused it, as one line.
pub(super) fn causes(e: &std::io::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

pub(super) fn is_timeout(e: &std::io::Error) -> bool {
    if e.kind() == std::io::ErrorKind::TimedOut {
        return true;
    }
    if e.get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
        .is_some_and(reqwest::Error::is_timeout)
    {
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
