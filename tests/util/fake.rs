//! A fake HTTP server on 127.0.0.1 for fault injection: it answers every
//! request the same scripted way. Stopped (and its thread joined) on drop.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    /// Starts a server answering with `behavior`.
    pub fn start(behavior: Behavior) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (stop.clone(), hits.clone());
        let thread = thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                let (b, s2) = (behavior.clone(), s.clone());
                thread::spawn(move || answer(conn, &b, &s2));
            }
        });
        Fake {
            port,
            stop,
            hits,
            thread: Some(thread),
        }
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

fn answer(mut conn: TcpStream, behavior: &Behavior, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 16 * 1024];
    let _ = conn.read(&mut buf); // the request (small): not inspected
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
