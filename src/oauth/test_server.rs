//! A routed HTTP server on 127.0.0.1 for the unit tests of the discovery
//! parts: each path answers as scripted (404 otherwise), every request's
//! path and body is recorded. Stopped, its threads joined, on drop.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How one path answers.
#[derive(Debug, Clone)]
pub enum Canned {
    /// Status, extra header lines, body.
    Answer(u16, Vec<String>, String),
    /// A 200 announcing and sending this many bytes.
    Huge(usize),
    /// Waits, then answers 200 with the body.
    Slow(Duration, String),
}

impl Canned {
    /// A JSON answer.
    pub fn json(status: u16, body: &str) -> Canned {
        Canned::Answer(
            status,
            vec!["content-type: application/json".into()],
            body.into(),
        )
    }

    /// A 302 to `to`.
    pub fn redirect(to: &str) -> Canned {
        Canned::Answer(302, vec![format!("location: {to}")], String::new())
    }

    /// A huge 200.
    pub fn huge(bytes: usize) -> Canned {
        Canned::Huge(bytes)
    }

    /// A slow 200.
    pub fn slow(wait: Duration, body: &str) -> Canned {
        Canned::Slow(wait, body.into())
    }
}

type Routes = Arc<Mutex<HashMap<String, Canned>>>;
type Log = Arc<Mutex<Vec<(String, String)>>>;

/// The running server.
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    routes: Routes,
    log: Log,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server with no routes.
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let routes: Routes = Arc::default();
        let log: Log = Arc::default();
        let (s, r, l) = (stop.clone(), routes.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, r, l) = (s.clone(), r.clone(), l.clone());
                workers.push(std::thread::spawn(move || serve(conn, &r, &l, &s)));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        Server {
            port,
            stop,
            routes,
            log,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// Answers `path` with `route` from now on.
    pub fn route(&self, path: &str, route: Canned) {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    /// The paths requested, in order.
    pub fn paths(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The bodies received, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.clone())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut conn: TcpStream, routes: &Routes, log: &Log, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if data.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(64 * 1024);
    while data.len() < head_end + length {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_owned();
    log.lock().unwrap().push((path.clone(), body));
    let route = routes.lock().unwrap().get(&path).cloned();
    let (status, headers, body) = match route {
        None => (404, Vec::new(), String::new()),
        Some(Canned::Answer(s, h, b)) => (s, h, b),
        Some(Canned::Slow(wait, b)) => {
            let until = std::time::Instant::now() + wait;
            while std::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            (200, Vec::new(), b)
        }
        Some(Canned::Huge(n)) => {
            let _ = conn.write_all(
                format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let chunk = [b'x'; 8192];
            let mut left = n;
            while left > 0 && !stop.load(Ordering::SeqCst) {
                let k = left.min(chunk.len());
                if conn.write_all(&chunk[..k]).is_err() {
                    return;
                }
                left -= k;
            }
            return;
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for h in headers {
        out.push_str(&h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = conn.write_all(out.as_bytes());
}
