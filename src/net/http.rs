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
//! Proxies: `https` endpoints that are not loopback use Cargo's
//! `http.proxy` (`CARGO_HTTP_PROXY`, Cargo's config files), else the
//! system's proxy variables (`HTTPS_PROXY`, `ALL_PROXY`), with `NO_PROXY`
//! honoured (see [`super::network`]); plain `http` (which the policy allows
//! only to loopback) and loopback `https` never use a proxy, so a CI
//! identity or client secret never travels in clear to one.
//!
//! Trust: the OS trust store plus the CA files of `ca-file` and Cargo's
//! `http.cainfo` ([`super::tls`]). The proxy and CA settings are read, and
//! the trust store loaded, when the first HTTPS client is built: a call to a
//! plain-http loopback endpoint, and a `get` that makes no call at all, pay
//! for none of it.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{StatusCode, Url, redirect};

use super::failure::{causes, is_timeout, send_error};
use super::network::{Network, Proxy};
use super::url::{Route, checked_url, display_str, display_url, route};

/// The largest response accepted from an identity endpoint.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// An HTTP client bound to the policy above.
#[derive(Debug, Clone)]
pub struct Http {
    timeout: Duration,
    /// What sets `timeout`, for messages.
    timeout_setting: &'static str,
    /// `ca-file` settings: CA files trusted besides the OS store.
    ca_files: Vec<PathBuf>,
    /// The proxy and trust settings, read when the first HTTPS client is
    /// built.
    network: OnceLock<Network>,
    /// For `https` endpoints that are not loopback: the configured proxy.
    proxied: OnceLock<Client>,
    /// For loopback `https`: never through a proxy.
    direct: OnceLock<Client>,
    /// For plain `http` (loopback only): no proxy, no trust store.
    plain: OnceLock<Client>,
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
            timeout_setting: "`timeout-ms`",
            ca_files: Vec::new(),
            network: OnceLock::new(),
            proxied: OnceLock::new(),
            direct: OnceLock::new(),
            plain: OnceLock::new(),
        })
    }

    /// Also trusts the CAs of these PEM files (the `ca-file` settings), for
    /// every `https` endpoint. Nothing is read until an HTTPS call is made.
    #[must_use]
    pub fn with_ca_files(mut self, ca_files: &[PathBuf]) -> Http {
        self.ca_files = ca_files.to_vec();
        self
    }

    /// Names what sets the deadline, for messages (default `timeout-ms`).
    #[must_use]
    pub fn with_timeout_setting(mut self, setting: &'static str) -> Http {
        self.timeout_setting = setting;
        self
    }

    /// The proxy and trust settings, resolved on first use.
    fn network(&self) -> anyhow::Result<&Network> {
        if let Some(network) = self.network.get() {
            return Ok(network);
        }
        let network = Network::resolve(&self.ca_files)
            .context("cannot set up HTTPS for identity endpoints")?;
        Ok(self.network.get_or_init(|| network))
    }

    /// The client for `url`, built on first use.
    fn client(&self, url: &Url) -> anyhow::Result<&Client> {
        let route = route(url);
        let cell = match route {
            Route::Proxied => &self.proxied,
            Route::Direct => &self.direct,
            Route::Plain => &self.plain,
        };
        if let Some(client) = cell.get() {
            return Ok(client);
        }
        // rustls with ring: one crypto provider for the process, set before
        // the first client (a second call finds it set, which is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = Client::builder()
            .redirect(redirect::Policy::none())
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .timeout(self.timeout)
            .user_agent(concat!("cargo-credential-corp/", env!("CARGO_PKG_VERSION")));
        let builder = match route {
            Route::Plain => builder
                .no_proxy()
                .tls_backend_preconfigured(super::tls::no_trust_config()),
            Route::Direct => builder
                .no_proxy()
                .tls_backend_preconfigured(self.network()?.tls.clone()),
            Route::Proxied => {
                let network = self.network()?;
                let builder = builder.tls_backend_preconfigured(network.tls.clone());
                match &network.proxy {
                    // reqwest reads HTTPS_PROXY, ALL_PROXY and NO_PROXY.
                    Proxy::Environment { .. } => builder,
                    Proxy::Cargo { url, from } => builder.proxy(
                        reqwest::Proxy::all(url.as_str())
                            .map_err(|_| {
                                anyhow!(
                                    "Cargo's http.proxy (from {from}) is not a usable proxy URL \
                                     (value not shown)"
                                )
                            })?
                            .no_proxy(reqwest::NoProxy::from_env()),
                    ),
                    Proxy::Off { .. } => builder.no_proxy(),
                }
            }
        };
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

    /// A client for a cloud metadata service (GCP's, EC2's IMDS): plain
    /// http to a host the general policy refuses, so checked by the caller.
    /// Never through a proxy, no redirects, each call within `timeout`; no
    /// trust store is loaded, since it never speaks TLS. Send with
    /// [`Self::send`] for the deadline, the size cap and the redirect error.
    pub(crate) fn metadata_client(
        timeout: Duration,
        connect_timeout: Duration,
    ) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .tls_backend_preconfigured(super::tls::no_trust_config())
            .connect_timeout(connect_timeout.min(timeout))
            .timeout(timeout)
            .user_agent(concat!("cargo-credential-corp/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")
    }

    /// POSTs `body` (JSON) to `url`, asking for JSON back; the answer as
    /// [`Self::send`] gives it, with the URL it went to.
    pub fn post_json(&self, url: &str, body: &[u8]) -> anyhow::Result<(Url, Response)> {
        let (url, req) = self.post(url)?;
        let req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.to_vec());
        let resp = self.send(&url, req)?;
        Ok((url, resp))
    }

    /// A DELETE of `url` (checked against the policy).
    pub fn delete(&self, url: &str) -> anyhow::Result<(Url, RequestBuilder)> {
        let url = checked_url(url)?;
        let request = self.client(&url)?.delete(url.clone());
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
        let response = self.send_request(url, request)?;
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().filter(|c| !c.is_control()).take(200).collect());
        Ok((response.status().as_u16(), challenge))
    }

    /// Sends `request` with the call's deadline (reqwest's per-request
    /// timeout is total: connect, headers and body); a request that got no
    /// answer becomes a [`super::NoAnswer`] naming what to check.
    fn send_request(
        &self,
        url: &Url,
        request: RequestBuilder,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        request.timeout(self.timeout).send().map_err(|e| {
            send_error(
                url,
                &e,
                self.network.get(),
                (self.timeout, self.timeout_setting),
            )
        })
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
        let mut response = self.send_request(url, request)?;
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
                "{endpoint} did not send its whole answer within {ms} ms ({}); it \
                 answers too slowly or stalls",
                self.timeout_setting
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

#[cfg(test)]
mod tests {
    use super::*;
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
