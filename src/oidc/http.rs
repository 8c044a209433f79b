//! HTTP to identity endpoints, with one policy for every call: HTTPS only
//! (plain HTTP to a loopback address is allowed), no redirects followed, one
//! wall-clock deadline over the whole call, a cap on the response size, no
//! proxy for plain HTTP or loopback, no blind retry (a 429 is reported with
//! its `Retry-After`), and errors that name the endpoint but never quote a
//! response body (it may hold a token).
//!
//! The deadline: each call (OIDC discovery, the CI identity fetch, the token
//! exchange) gets `timeout` from the moment it is sent until the last byte of
//! the body, connect and TLS included. It is kept twice: the request carries
//! reqwest's per-request timeout, which is total (it runs from connecting to
//! the end of the body and fails whatever read is pending when it fires), and
//! the body is read in chunks with the deadline checked before each one; a
//! single blocking read is also bounded by `timeout` on its own. A server
//! that trickles its answer therefore costs at most `timeout` (and, were
//! reqwest's total timer ever not to fire, still at most twice that: the
//! deadline check, then one bounded read).
//!
//! Proxies: `https` endpoints that are not loopback use the system's proxy
//! settings (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`); plain `http` (which
//! the policy allows only to loopback) and loopback `https` never use a
//! proxy, so a CI identity or client secret never travels in clear to one.

use std::io::Read as _;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{StatusCode, Url, redirect};

/// The largest response accepted from an identity endpoint.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// An HTTP client bound to the policy above.
#[derive(Debug, Clone)]
pub struct Http {
    timeout: Duration,
    /// For `https` endpoints that are not loopback: system proxy settings.
    proxied: OnceLock<Client>,
    /// For plain `http` and loopback: never through a proxy.
    direct: OnceLock<Client>,
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
    /// A client whose calls each take at most `timeout`, from sending the
    /// request to the end of the answer.
    pub fn new(timeout: Duration) -> anyhow::Result<Http> {
        Ok(Http {
            timeout,
            proxied: OnceLock::new(),
            direct: OnceLock::new(),
        })
    }

    /// The client for `url`, built on first use.
    fn client(&self, url: &Url) -> anyhow::Result<&Client> {
        let proxied = may_use_proxy(url);
        let cell = if proxied { &self.proxied } else { &self.direct };
        if let Some(client) = cell.get() {
            return Ok(client);
        }
        // rustls with ring: one crypto provider for the process, set before
        // the first client (a second call finds it set, which is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = Client::builder()
            .redirect(redirect::Policy::none())
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .timeout(self.timeout)
            .user_agent(concat!("cargo-credential-corp/", env!("CARGO_PKG_VERSION")));
        if !proxied {
            builder = builder.no_proxy();
        }
        let client = builder.build().context("cannot set up the HTTP client")?;
        Ok(cell.get_or_init(|| client))
    }

    /// A GET of `url` (checked against the policy).
    pub fn get(&self, url: &str) -> anyhow::Result<(Url, RequestBuilder)> {
        let url = checked_url(url)?;
        let request = self.client(&url)?.get(url.clone());
        Ok((url, request))
    }

    /// A POST to `url` (checked against the policy).
    pub fn post(&self, url: &str) -> anyhow::Result<(Url, RequestBuilder)> {
        let url = checked_url(url)?;
        let request = self.client(&url)?.post(url.clone());
        Ok((url, request))
    }

    /// Sends `request` and reads the body within the size limit, all within
    /// the deadline. Any status is returned, except: a redirect is an error
    /// that names where it pointed, and a 429 an error that says when to
    /// retry (the request is not repeated).
    pub fn send(&self, url: &Url, request: RequestBuilder) -> anyhow::Result<Response> {
        self.send_inner(url, request).map(|(response, _)| response)
    }

    /// [`Self::send`], also returning how long the answer may be reused
    /// across runs according to its `Cache-Control` (see [`max_age`]).
    pub fn send_cacheable(
        &self,
        url: &Url,
        request: RequestBuilder,
    ) -> anyhow::Result<(Response, Option<i64>)> {
        self.send_inner(url, request)
    }

    /// Sends `request` and returns only the status and the
    /// `WWW-Authenticate` header (the body is not read): for probing a
    /// registry, never for a token.
    pub fn send_for_status(
        &self,
        url: &Url,
        request: RequestBuilder,
    ) -> anyhow::Result<(u16, Option<String>)> {
        let response = request
            .timeout(self.timeout)
            .send()
            .map_err(|e| self.send_error(url, &e))?;
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().filter(|c| !c.is_control()).take(200).collect());
        Ok((response.status().as_u16(), challenge))
    }

    fn send_inner(
        &self,
        url: &Url,
        request: RequestBuilder,
    ) -> anyhow::Result<(Response, Option<i64>)> {
        let timer = crate::trace::Timer::start();
        let result = self.send_checked(url, request);
        crate::trace::debug(|| match &result {
            Ok((r, _)) => format!(
                "http: {} answered HTTP {} ({} bytes) in {}",
                display_url(url),
                r.status,
                r.body.len(),
                timer.ms()
            ),
            Err(e) => format!("http: {} failed in {}: {e:#}", display_url(url), timer.ms()),
        });
        result
    }

    fn send_checked(
        &self,
        url: &Url,
        request: RequestBuilder,
    ) -> anyhow::Result<(Response, Option<i64>)> {
        let endpoint = display_url(url);
        let ms = self.timeout.as_millis();
        let deadline = Instant::now() + self.timeout;
        // reqwest's per-request timeout is total: connect, headers and body.
        let mut response = request
            .timeout(self.timeout)
            .send()
            .map_err(|e| self.send_error(url, &e))?;
        let status = response.status();
        let reuse = max_age(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
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
        if status == StatusCode::TOO_MANY_REQUESTS {
            let when = retry_after(
                response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            );
            bail!(
                "{endpoint} is rate limiting requests (HTTP 429); {when}. The request was not \
                 repeated"
            );
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES)
        {
            bail!("{endpoint} sent a response larger than {MAX_RESPONSE_BYTES} bytes; refused");
        }
        let too_slow = || {
            anyhow!(
                "{endpoint} did not send its whole answer within {ms} ms (`timeout-ms`); it \
                 answers too slowly or stalls"
            )
        };
        let mut body = Vec::new();
        let mut chunk = [0u8; 8 * 1024];
        loop {
            if Instant::now() >= deadline {
                return Err(too_slow());
            }
            match response.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    body.extend_from_slice(&chunk[..n]);
                    if body.len() as u64 > MAX_RESPONSE_BYTES {
                        bail!(
                            "{endpoint} sent a response larger than {MAX_RESPONSE_BYTES} bytes; \
                             refused"
                        );
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(too_slow()),
                Err(e) => bail!(
                    "{endpoint} broke off its answer before the end ({})",
                    causes(&e)
                ),
            }
        }
        Ok((
            Response {
                status: status.as_u16(),
                body,
            },
            reuse,
        ))
    }

    /// The error for a request that got no answer.
    fn send_error(&self, url: &Url, e: &reqwest::Error) -> anyhow::Error {
        let endpoint = display_url(url);
        let proxy_hint = if may_use_proxy(url) {
            " and the proxy settings (HTTPS_PROXY / ALL_PROXY / NO_PROXY)"
        } else {
            ""
        };
        if e.is_timeout() {
            anyhow!(
                "{endpoint} did not answer within {} ms (`timeout-ms`); check that it is \
                 reachable from here{proxy_hint}",
                self.timeout.as_millis()
            )
        } else if let Some(cause) = tls_failure(e).filter(|_| url.scheme() == "https") {
            anyhow!(
                "the TLS connection to {endpoint} failed ({cause}); check that it serves https \
                 on this port and that its certificate is issued by a CA this machine trusts \
                 (the system trust store; behind a TLS-inspecting proxy, its CA must be \
                 installed there)"
            )
        } else if e.is_connect() {
            anyhow!(
                "cannot connect to {endpoint} ({}); check the URL, that the service is up{}",
                innermost_cause(e),
                if proxy_hint.is_empty() {
                    String::new()
                } else {
                    format!(",{proxy_hint}")
                }
            )
        } else {
            anyhow!("request to {endpoint} failed: {}", without_url(e))
        }
    }
}

/// How many seconds an answer may be reused according to `Cache-Control`:
/// `Some(0)` for `no-store` and `no-cache`, `Some(n)` for `max-age=n`
/// (`private` is fine: this is a private cache), `None` when the header says
/// nothing (the caller's default applies).
pub fn max_age(cache_control: Option<&str>) -> Option<i64> {
    let mut age = None;
    for directive in cache_control?.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Some(0);
        }
        if let Some(n) = directive.strip_prefix("max-age=") {
            age = Some(n.trim_matches('"').parse::<i64>().unwrap_or(0).max(0));
        }
    }
    age
}

/// Whether a request to `url` may go through a proxy: only `https` to a
/// host that is not loopback.
fn may_use_proxy(url: &Url) -> bool {
    url.scheme() == "https" && !is_loopback(url)
}

/// What a 429's `Retry-After` says, for a message: seconds or an HTTP date
/// (shown as sent, if short and printable), else "retry later".
fn retry_after(value: Option<&str>) -> String {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return "retry later".to_owned();
    };
    if let Ok(secs) = value.parse::<u64>() {
        return format!("retry in {secs} s (Retry-After), not before");
    }
    if value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | ':' | '-'))
    {
        return format!("retry after {value} (Retry-After), not before");
    }
    "retry later".to_owned()
}

/// The TLS layer's error, when a request failed in the TLS handshake (bad
/// certificate, not TLS at all, an alert, the peer hanging up mid-handshake).
/// It reports these as `InvalidData` (or `UnexpectedEof`) I/O errors, which a
/// TCP connect never gives; they may sit inside another I/O error, whose
/// `source()` skips them, so each one is opened with `get_ref()`.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let mut io = s.downcast_ref::<std::io::Error>();
        while let Some(err) = io {
            if matches!(
                err.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) {
                return Some(err.to_string());
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
fn causes(e: &std::io::Error) -> String {
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

fn is_timeout(e: &std::io::Error) -> bool {
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
    fn only_https_to_non_loopback_hosts_may_use_a_proxy() {
        let proxied = |u: &str| may_use_proxy(&Url::parse(u).unwrap());
        assert!(proxied("https://idp.example/token"));
        assert!(proxied("https://10.0.0.1/token"));
        for direct in [
            "http://127.0.0.1:9/token",
            "http://localhost:9/token",
            "http://[::1]:9/token",
            "https://127.0.0.1:9/token",
            "https://LOCALHOST/token",
            "https://[::1]/token",
        ] {
            assert!(!proxied(direct), "{direct}");
        }
    }

    #[test]
    fn retry_after_is_shown_as_seconds_or_a_date_never_as_junk() {
        assert_eq!(retry_after(None), "retry later");
        assert_eq!(retry_after(Some(" ")), "retry later");
        assert!(retry_after(Some("120")).starts_with("retry in 120 s"));
        assert!(
            retry_after(Some("Wed, 21 Oct 2037 07:28:00 GMT"))
                .starts_with("retry after Wed, 21 Oct 2037 07:28:00 GMT")
        );
        assert_eq!(retry_after(Some("\u{1b}[31mred")), "retry later");
        assert_eq!(retry_after(Some(&"a".repeat(65))), "retry later");
    }

    /// A server on 127.0.0.1 that sends its headers at once, then one body
    /// byte every `every` until the client goes away; stopped on drop.
    struct Drip {
        port: u16,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drip {
        fn start(every: Duration) -> Drip {
            use std::io::Write as _;
            use std::sync::atomic::Ordering;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let s = stop.clone();
            let thread = std::thread::spawn(move || {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut head = [0u8; 4096];
                let _ = conn.read(&mut head);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                      content-length: 1000\r\n\r\n",
                );
                for _ in 0..1000 {
                    std::thread::sleep(every);
                    if s.load(Ordering::SeqCst) || conn.write_all(b" ").is_err() {
                        return;
                    }
                }
            });
            Drip {
                port,
                stop,
                thread: Some(thread),
            }
        }
    }

    impl Drop for Drip {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    #[test]
    fn a_body_trickling_in_is_cut_off_at_the_deadline_of_the_whole_call() {
        // A byte every 20 ms never lets a single read wait 300 ms: only a
        // deadline over the whole call ends this (else it takes 20 s).
        let drip = Drip::start(Duration::from_millis(20));
        let http = Http::new(Duration::from_millis(300)).unwrap();
        let (url, req) = http
            .get(&format!("http://127.0.0.1:{}/token", drip.port))
            .unwrap();
        let started = Instant::now();
        let msg = http.send(&url, req).unwrap_err().to_string();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert!(
            msg.contains(&format!("http://127.0.0.1:{}/token", drip.port))
                && msg.contains("within 300 ms"),
            "{msg}"
        );
    }

    #[test]
    fn displayed_urls_drop_query_and_credentials() {
        let u = Url::parse("https://a.example/x?api-version=2&sig=abc#f").unwrap();
        assert_eq!(display_url(&u), "https://a.example/x");
    }
}
