//! A fake HTTP server on 127.0.0.1 for fault injection: it answers every
//! request the same scripted way. Stopped (and its thread joined) on drop.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How the fake server answers.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// This status and body, as JSON.
    Json(u16, String),
    /// A body that is not JSON.
    Raw(u16, String),
    /// Waits this long before answering at all.
    Slow(Duration),
    /// A 200 whose body is this many bytes.
    Huge(usize),
    /// A redirect to this location.
    Redirect(String),
}

/// A running fake server.
pub struct Fake {
    port: u16,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    last: Arc<Mutex<String>>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    /// Starts a server answering with `behavior`.
    pub fn start(behavior: Behavior) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(Mutex::new(String::new()));
        let (s, h, l) = (stop.clone(), hits.clone(), last.clone());
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                let (b, s2, l2) = (behavior.clone(), s.clone(), l.clone());
                thread::spawn(move || answer(conn, &b, &s2, &l2));
            }
        });
        Fake {
            port,
            stop,
            hits,
            last,
            thread: Some(thread),
        }
    }

    /// The last request received (request line, headers and body).
    pub fn last_request(&self) -> String {
        self.last.lock().unwrap().clone()
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many connections it accepted.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request: the head, then `content-length` bytes of body.
fn read_request(conn: &mut TcpStream) -> String {
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

fn answer(mut conn: TcpStream, behavior: &Behavior, stop: &AtomicBool, last: &Mutex<String>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    *last.lock().unwrap() = read_request(&mut conn);
    let (status, content_type, body) = match behavior {
        Behavior::Json(status, body) => (*status, "application/json", body.clone()),
        Behavior::Raw(status, body) => (*status, "text/html", body.clone()),
        Behavior::Huge(n) => (200, "application/json", "x".repeat(*n)),
        Behavior::Redirect(to) => {
            let _ = write!(
                conn,
                "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            return;
        }
        Behavior::Slow(wait) => {
            // Sleep in slices so the server can stop promptly.
            let mut left = *wait;
            while !left.is_zero() && !stop.load(Ordering::SeqCst) {
                let step = left.min(Duration::from_millis(50));
                thread::sleep(step);
                left -= step;
            }
            (
                200,
                "application/json",
                r#"{"access_token":"too-late","expires_in":60}"#.to_owned(),
            )
        }
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(body.as_bytes());
}
