//! The loopback redirect of a browser sign-in (RFC 8252 §7.3): a listener
//! on 127.0.0.1 (any free port, or `redirect-port`) that waits, bounded,
//! for the one request the IdP redirects the browser to, checks it, and
//! shows a small page. Connections are served side by side (a bounded
//! number of threads, each with its own read deadline), so that no local
//! program can hold the redirect back by connecting and saying nothing.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

use super::pkce::{Callback, read_callback};

/// The largest request read from the browser.
const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

/// A listener for the redirect.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
    /// Whether the port was chosen (`redirect-port`), not any free one.
    pinned: bool,
}

impl Loopback {
    /// Listens on 127.0.0.1:`port` (0: any free port).
    pub fn bind(port: u16) -> anyhow::Result<Loopback> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).with_context(|| {
            if port == 0 {
                "cannot listen on 127.0.0.1 for the sign-in redirect".to_owned()
            } else {
                format!(
                    "cannot listen on 127.0.0.1:{port} (`redirect-port`) for the sign-in \
                     redirect; is another login running?"
                )
            }
        })?;
        let listener_port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        Ok(Loopback {
            listener,
            port: listener_port,
            pinned: port != 0,
        })
    }

    /// The redirect URI to send.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits until `deadline` for the redirect carrying `state`. Requests
    /// for other paths (a browser's favicon) get a 404; an answer with the
    /// wrong `state` (a stale tab, another local program) gets a 400 and is
    /// ignored, so that it cannot end the sign-in. Connections are served
    /// side by side, at most [`MAX_CONNECTIONS`] at once (more wait in the
    /// listen queue), each read for at most [`CONNECTION_SECS`] and never
    /// past the deadline: a local program that opens connections and says
    /// nothing cannot hold the redirect back.
    pub fn wait(
        &self,
        state: &str,
        issuer: Option<&str>,
        deadline: Instant,
    ) -> anyhow::Result<Callback> {
        let state = Arc::new(Zeroizing::new(state.to_owned()));
        let issuer: Option<Arc<str>> = issuer.map(Arc::from);
        let (tx, rx) = mpsc::channel::<Served>();
        let open = Arc::new(AtomicUsize::new(0));
        let mut refused = 0;
        loop {
            while let Ok(served) = rx.try_recv() {
                match served {
                    Served::Callback(callback) => return Ok(callback),
                    Served::Refused => refused += 1,
                    Served::Other => {}
                }
            }
            if Instant::now() >= deadline {
                bail!(self.timed_out(refused));
            }
            let accepted = if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                None
            } else {
                match self.listener.accept() {
                    Ok((stream, _)) => Some(stream),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::Interrupted
                        ) =>
                    {
                        None
                    }
                    Err(e) => return Err(e).context("waiting for the sign-in redirect failed"),
                }
            };
            let Some(stream) = accepted else {
                // Nothing to accept now, or every slot busy: a short wait
                // for what the connections being served bring.
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left.min(Duration::from_millis(50))) {
                    Ok(Served::Callback(callback)) => return Ok(callback),
                    Ok(Served::Refused) => refused += 1,
                    Ok(Served::Other) | Err(_) => {}
                }
                continue;
            };
            open.fetch_add(1, Ordering::SeqCst);
            let (tx, open, state, issuer) = (
                tx.clone(),
                Arc::clone(&open),
                Arc::clone(&state),
                issuer.clone(),
            );
            // Each connection on a thread of its own; it ends by its own
            // read deadline (after the sign-in, its answer is dropped).
            let spawned = std::thread::Builder::new()
                .name("sign-in redirect".into())
                .spawn(move || {
                    let served = serve(stream, state.as_str(), issuer.as_deref(), deadline);
                    open.fetch_sub(1, Ordering::SeqCst);
                    let _ = tx.send(served);
                });
            if spawned.is_err() {
                bail!(
                    "could not start a thread to answer the sign-in redirect; run the login again"
                );
            }
        }
    }
}

impl Loopback {
    /// Why the wait ended without a sign-in, and what to change. The likely
    /// cause, when the browser never came back, is an IdP that matches
    /// loopback redirect URIs exactly (port included, against RFC 8252
    /// §7.3): the person saw its "redirect URI" error page.
    fn timed_out(&self, refused: usize) -> String {
        let uri = self.redirect_uri();
        let refused = if refused > 0 {
            format!(" ({refused} answer(s) not carrying this login's `state` were refused)")
        } else {
            String::new()
        };
        let fix = if self.pinned {
            format!(
                "the client must have exactly `{uri}` as a redirect URI at the IdP (`redirect-port \
                 = {}` in the `sso` table)",
                self.port
            )
        } else {
            format!(
                "this login used `{uri}` (a free port, as RFC 8252 allows); such an IdP needs one \
                 fixed port: set `redirect-port = {}` (or another free port) in the `sso` table \
                 and register exactly `http://127.0.0.1:<that port>{CALLBACK_PATH}` for the client",
                self.port
            )
        };
        format!(
            "no sign-in arrived from the browser in time{refused}; nothing was stored. If the \
             browser showed the IdP's error about the redirect URI (`redirect_uri` not \
             registered or mismatched), the IdP matches loopback redirect URIs exactly: {fix}. \
             Otherwise run the login again (or use `-- --device` / `-- --paste` where the browser \
             cannot reach this machine)"
        )
    }
}

/// How long one connection is read at most.
pub const CONNECTION_SECS: u64 = 3;

/// How many connections are served at once at most.
pub const MAX_CONNECTIONS: usize = 16;

/// What one connection was.
enum Served {
    /// The redirect of this sign-in.
    Callback(Callback),
    /// An answer refused (wrong `state` or issuer).
    Refused,
    /// Something else (another path, a client that said nothing).
    Other,
}

/// Answers one connection, reading it until a bounded deadline.
fn serve(mut stream: TcpStream, state: &str, issuer: Option<&str>, login: Instant) -> Served {
    let until = (Instant::now() + Duration::from_secs(CONNECTION_SECS)).min(login);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(CONNECTION_SECS)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < MAX_REQUEST_BYTES {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let line = buf.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = zeroize::Zeroizing::new(String::from_utf8_lossy(line).into_owned());
    zeroize::Zeroize::zeroize(&mut buf);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != CALLBACK_PATH {
        respond(&mut stream, "404 Not Found", "Not found", "");
        return Served::Other;
    }
    match read_callback(query, Some(state), issuer) {
        Ok(callback @ Callback::Code(_)) => {
            respond(
                &mut stream,
                "200 OK",
                "Sign-in received",
                "The sign-in reached cargo. You can close this tab and go back to the terminal.",
            );
            Served::Callback(callback)
        }
        Ok(callback @ Callback::Denied(..)) => {
            respond(
                &mut stream,
                "200 OK",
                "Sign-in cancelled",
                "The sign-in was not completed. Nothing was stored. You can close this tab.",
            );
            Served::Callback(callback)
        }
        Err(_) => {
            respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in refused",
                "This answer does not belong to the login that is waiting; it was refused.",
            );
            Served::Refused
        }
    }
}

fn respond(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p>\
         <p>cargo-credential-corp</p></body></html>"
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn the_redirect_with_the_right_state_is_taken_and_others_refused() {
        let lb = Loopback::bind(0).unwrap();
        let port = lb.port;
        let t = std::thread::spawn(move || {
            assert!(get(port, "/favicon.ico").starts_with("HTTP/1.1 404"));
            get(port, "/callback?code=abc&state=s1")
        });
        let got = lb
            .wait("s1", None, Instant::now() + Duration::from_secs(10))
            .unwrap();
        assert!(matches!(got, Callback::Code(c) if c.as_str() == "abc"));
        assert!(t.join().unwrap().starts_with("HTTP/1.1 200"));

        // A forged answer is refused and does not end the wait; the real
        // one still gets through.
        let lb = Loopback::bind(0).unwrap();
        let port = lb.port;
        let t = std::thread::spawn(move || {
            let forged = get(port, "/callback?code=abc&state=forged");
            (forged, get(port, "/callback?code=real&state=s1"))
        });
        let got = lb
            .wait("s1", None, Instant::now() + Duration::from_secs(10))
            .unwrap();
        assert!(matches!(got, Callback::Code(c) if c.as_str() == "real"));
        let (forged, real) = t.join().unwrap();
        assert!(forged.starts_with("HTTP/1.1 400") && real.starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn a_silent_or_trickling_client_cannot_hold_the_sign_in() {
        let lb = Loopback::bind(0).unwrap();
        let port = lb.port;
        // Connects, sends one byte, then nothing: cut off after a few seconds.
        let _idle = std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let _ = s.write_all(b"G");
            std::thread::sleep(Duration::from_secs(20));
        });
        let start = Instant::now();
        let e = lb
            .wait("s", None, Instant::now() + Duration::from_millis(1500))
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert!(e.to_string().contains("in time"), "{e}");
    }

    #[test]
    fn idle_connections_do_not_delay_the_redirect() {
        let lb = Loopback::bind(0).unwrap();
        let port = lb.port;
        // Connections that say nothing, each held open for 20 s, opened
        // before the browser's redirect arrives (issue 16 R12).
        let idle: Vec<TcpStream> = (0..6)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let browser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            get(port, "/callback?code=late&state=s1")
        });
        let start = Instant::now();
        let got = lb
            .wait("s1", None, Instant::now() + Duration::from_secs(30))
            .unwrap();
        assert!(matches!(got, Callback::Code(c) if c.as_str() == "late"));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the redirect waited {:?} behind idle connections",
            start.elapsed()
        );
        assert!(browser.join().unwrap().starts_with("HTTP/1.1 200"));
        drop(idle);

        // More idle connections than are served at once: the redirect
        // waits in the listen queue until the first ones are cut off.
        let lb = Loopback::bind(0).unwrap();
        let port = lb.port;
        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS + 4)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let browser = std::thread::spawn(move || get(port, "/callback?code=queued&state=s2"));
        let start = Instant::now();
        let got = lb
            .wait("s2", None, Instant::now() + Duration::from_secs(30))
            .unwrap();
        assert!(matches!(got, Callback::Code(c) if c.as_str() == "queued"));
        assert!(
            start.elapsed() < Duration::from_secs(CONNECTION_SECS * 2 + 2),
            "{:?}",
            start.elapsed()
        );
        assert!(browser.join().unwrap().starts_with("HTTP/1.1 200"));
        drop(idle);
    }

    #[test]
    fn waiting_is_bounded() {
        let lb = Loopback::bind(0).unwrap();
        let start = Instant::now();
        let e = lb
            .wait("s", None, Instant::now() + Duration::from_millis(200))
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(e.to_string().contains("in time"), "{e}");
    }

    #[test]
    fn the_timeout_names_the_redirect_uri_used_and_how_to_pin_it() {
        let lb = Loopback::bind(0).unwrap();
        let e = lb
            .wait("s", None, Instant::now() + Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        let uri = format!("`http://127.0.0.1:{}/callback`", lb.port);
        assert!(
            e.contains(&uri) && e.contains("set `redirect-port = "),
            "{e}"
        );
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pinned = Loopback::bind(free).unwrap();
        let e = pinned
            .wait("s", None, Instant::now() + Duration::from_millis(100))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("exactly `http://127.0.0.1:{free}/callback`")),
            "{e}"
        );
    }
}
