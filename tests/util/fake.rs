//! A fake HTTP server on 127.0.0.1 for fault injection: it answers every
//! request the same scripted way (the script can be changed while it runs).
//! Plain TCP, or TLS with a self-signed certificate nobody trusts. Stopped
//! (and its thread joined) on drop; connections still being answered end at
//! their next step once it is stopped.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine as _;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How the fake server answers.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// This status and body, as JSON.
    Json(u16, String),
    /// This status, one extra header line (`name: value`) and body, as JSON.
    JsonWith(u16, String, String),
    /// A body that is not JSON.
    Raw(u16, String),
    /// Waits this long before answering at all.
    Slow(Duration),
    /// A 200 whose body is this many bytes, announced by `content-length`.
    Huge(usize),
    /// A 200 whose body is this many bytes, with no `content-length`: the
    /// body ends when the connection closes.
    HugeUnsized(usize),
    /// A redirect to this location.
    Redirect(String),
    /// The status line and headers at once (`content-length` of the whole
    /// body), then the body one byte every `every`.
    Drip {
        /// The pause between two bytes.
        every: Duration,
        /// The body.
        body: String,
    },
    /// A `content-length` of `claimed`, then only `body`, then the
    /// connection is closed.
    Truncated {
        /// The announced length.
        claimed: usize,
        /// What is actually sent.
        body: String,
    },
    /// 429 Too Many Requests, with this `Retry-After` when given.
    RateLimited(Option<String>),
    /// Garbage bytes in answer to the first bytes received (to a TLS
    /// ClientHello, a broken TLS server).
    Garbage,
}

/// A running fake server.
pub struct Fake {
    ip: IpAddr,
    port: u16,
    tls: bool,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
    behavior: Arc<Mutex<Behavior>>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    /// Starts a plain HTTP server answering with `behavior`.
    pub fn start(behavior: Behavior) -> Fake {
        Fake::spawn(LOOPBACK, behavior, None)
    }

    /// Starts an HTTPS server answering with `behavior`, whose certificate
    /// (self-signed, for 127.0.0.1) no trust store holds.
    pub fn start_untrusted_tls(behavior: Behavior) -> Fake {
        Fake::spawn(LOOPBACK, behavior, Some(untrusted_tls_config()))
    }

    /// Starts an HTTPS server on `ip` answering with `behavior`, with the
    /// certificate of `tls` (e.g. one issued by a test CA).
    pub fn start_tls_on(ip: IpAddr, behavior: Behavior, tls: Arc<rustls::ServerConfig>) -> Fake {
        Fake::spawn(ip, behavior, Some(tls))
    }

    fn spawn(ip: IpAddr, behavior: Behavior, tls: Option<Arc<rustls::ServerConfig>>) -> Fake {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let behavior = Arc::new(Mutex::new(behavior));
        let is_tls = tls.is_some();
        let (s, h, l, b) = (
            stop.clone(),
            hits.clone(),
            requests.clone(),
            behavior.clone(),
        );
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                let (b2, s2, l2) = (b.lock().unwrap().clone(), s.clone(), l.clone());
                let tls = tls.clone();
                thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
                    match tls {
                        None => answer(conn, &b2, &s2, &l2),
                        Some(config) => {
                            let Ok(session) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            answer(rustls::StreamOwned::new(session, conn), &b2, &s2, &l2);
                        }
                    }
                });
            }
        });
        Fake {
            ip,
            port,
            tls: is_tls,
            stop,
            hits,
            requests,
            behavior,
            thread: Some(thread),
        }
    }

    /// Answers the next requests with `behavior` instead.
    pub fn set(&self, behavior: Behavior) {
        *self.behavior.lock().unwrap() = behavior;
    }

    /// The last request received (request line, headers and body).
    pub fn last_request(&self) -> String {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The URL of `path` on this server (`https` for a TLS server).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.authority())
    }

    /// An `https` URL of `path` on this server, whatever it speaks.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.authority())
    }

    /// The `host:port` it listens on.
    pub fn authority(&self) -> String {
        std::net::SocketAddr::new(self.ip, self.port).to_string()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections it accepted.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((self.ip, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request: the head, then `content-length` bytes of body.
fn read_request(conn: &mut impl Read) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0usize);
            if data.len() >= end + 4 + length || data.len() > 1 << 20 {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// Sleeps `wait` in slices, so that a stopped server ends promptly. False
/// when the server was stopped meanwhile.
fn pause(wait: Duration, stop: &AtomicBool) -> bool {
    let mut left = wait;
    while !left.is_zero() {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let step = left.min(Duration::from_millis(50));
        thread::sleep(step);
        left -= step;
    }
    !stop.load(Ordering::SeqCst)
}

fn answer(
    mut conn: impl Read + Write,
    behavior: &Behavior,
    stop: &AtomicBool,
    requests: &Mutex<Vec<String>>,
) {
    if let Behavior::Garbage = behavior {
        let mut buf = [0u8; 512];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS\r\n");
        let _ = conn.flush();
        return;
    }
    let request = read_request(&mut conn);
    requests.lock().unwrap().push(request);
    let head = |status: u16, content_type: &str, length: Option<usize>, extra: &str| {
        let length = length
            .map(|n| format!("content-length: {n}\r\n"))
            .unwrap_or_default();
        format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n{length}{extra}connection: close\r\n\r\n"
        )
    };
    let mut extra = String::new();
    let (status, content_type, body) = match behavior {
        Behavior::Json(status, body) => (*status, "application/json", body.clone()),
        Behavior::JsonWith(status, header, body) => {
            extra = format!("{header}\r\n");
            (*status, "application/json", body.clone())
        }
        Behavior::Raw(status, body) => (*status, "text/html", body.clone()),
        Behavior::Huge(n) => (200, "application/json", "x".repeat(*n)),
        Behavior::HugeUnsized(n) => {
            let _ = conn.write_all(head(200, "application/json", None, "").as_bytes());
            let chunk = [b'x'; 4096];
            let mut left = *n;
            while left > 0 && !stop.load(Ordering::SeqCst) {
                let step = left.min(chunk.len());
                if conn.write_all(&chunk[..step]).is_err() {
                    return;
                }
                left -= step;
            }
            let _ = conn.flush();
            return;
        }
        Behavior::Redirect(to) => {
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
            let _ = conn.flush();
            return;
        }
        Behavior::Drip { every, body } => {
            let _ = conn.write_all(head(200, "application/json", Some(body.len()), "").as_bytes());
            let _ = conn.flush();
            for byte in body.as_bytes() {
                if !pause(*every, stop)
                    || conn.write_all(&[*byte]).is_err()
                    || conn.flush().is_err()
                {
                    return;
                }
            }
            return;
        }
        Behavior::Truncated { claimed, body } => {
            let _ = conn.write_all(head(200, "application/json", Some(*claimed), "").as_bytes());
            let _ = conn.write_all(body.as_bytes());
            let _ = conn.flush();
            return;
        }
        Behavior::RateLimited(retry_after) => {
            let extra = retry_after
                .as_ref()
                .map(|r| format!("retry-after: {r}\r\n"))
                .unwrap_or_default();
            let body = r#"{"error":"slow_down"}"#;
            let _ = conn.write_all(
                format!(
                    "{}{body}",
                    head(429, "application/json", Some(body.len()), &extra)
                )
                .as_bytes(),
            );
            let _ = conn.flush();
            return;
        }
        Behavior::Slow(wait) => {
            if !pause(*wait, stop) {
                return;
            }
            (
                200,
                "application/json",
                r#"{"access_token":"too-late","expires_in":60}"#.to_owned(),
            )
        }
        Behavior::Garbage => unreachable!("answered above"),
    };
    let _ = conn.write_all(head(status, content_type, Some(body.len()), &extra).as_bytes());
    let _ = conn.write_all(body.as_bytes());
    let _ = conn.flush();
}

/// A self-signed server certificate for 127.0.0.1 and localhost (not a CA,
/// valid until 2126) and its key: made for these tests, trusted by nothing,
/// deliberately public. A client that checks certificates must refuse it.
const UNTRUSTED_CERT: &str = "
MIIBxzCCAW6gAwIBAgITUnAs86dQ1f3X5FIGnunVvB/CZjAKBggqhkjOPQQDAjAZ
MRcwFQYDVQQDDA51bnRydXN0ZWQudGVzdDAgFw0yNjExMjUwNjI2MDFaGA8yMTI2
MTEwMTA2MjYwMVowGTEXMBUGA1UEAwwOdW50cnVzdGVkLnRlc3QwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAAR3fl97CyT6KLF2cxvktGNS2zdEhPEEg3WTGYAWGhwW
BxbdazJdwK8uCGIwBC6YJc+wTnT5XDbYS756tSlnqRNPo4GSMIGPMB0GA1UdDgQW
BBQAYtfMWGD+yhSSr1nU8J7Wh3rH7jAfBgNVHSMEGDAWgBQAYtfMWGD+yhSSr1nU
8J7Wh3rH7jAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDAYDVR0TAQH/BAIw
ADAOBgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwCgYIKoZIzj0E
AwIDRwAwRAIgFJWoEWlDn59DR2/gjl8y/sHW9tZZn01AzWF8C/W86FUCID7r3afB
E3G7S+gd5LP3Ahtbc+bFGJu7KRqwU98S1uar";
/// The PKCS#8 key of [`UNTRUSTED_CERT`].
const UNTRUSTED_KEY: &str = "
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgT3//nV0FmbEYhNPe
OllLq32iA8id+kzElRdp24l+mLqhRANCAAR3fl97CyT6KLF2cxvktGNS2zdEhPEE
g3WTGYAWGhwWBxbdazJdwK8uCGIwBC6YJc+wTnT5XDbYS756tSlnqRNP";

fn der(base64_text: &str) -> Vec<u8> {
    let text: String = base64_text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn untrusted_tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(der(UNTRUSTED_CERT))],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der(UNTRUSTED_KEY))),
        )
        .unwrap();
    Arc::new(config)
}
