//! `get` from a stored login, in-process: an in-memory keychain whose
//! writes can be slowed or refused, and a token endpoint on 127.0.0.1 that
//! answers from a script and records what it was sent.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::*;
use crate::keychain::{Keychain, KeychainError};
use crate::secret::Token;
use crate::sso::settings::RawSso;

/// Keychain items in memory. Reads answer at once; writes (store, remove)
/// take `write_ms` (cut off at their deadline with a timeout error, as
/// [`crate::keychain::deadline::run`] does), or fail when `refuse` is set.
#[derive(Default)]
struct Mem {
    items: Mutex<HashMap<String, String>>,
    write_ms: AtomicU64,
    refuse: AtomicBool,
}

impl Mem {
    fn write<T>(&self, timeout: Duration, call: impl FnOnce() -> T) -> Result<T, KeychainError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(KeychainError::new("the keychain refused the write"));
        }
        let delay = Duration::from_millis(self.write_ms.load(Ordering::SeqCst));
        if delay > timeout {
            thread::sleep(timeout);
            return Err(KeychainError::timed_out("no answer in time"));
        }
        thread::sleep(delay);
        Ok(call())
    }
}

impl Keychain for Mem {
    fn read(&self, _: &str, _: Duration) -> Result<Option<Token>, KeychainError> {
        Ok(None)
    }
    fn store(&self, _: &str, _: &str, _: &Token, _: Duration) -> Result<(), KeychainError> {
        Ok(())
    }
    fn remove(&self, _: &str, _: Duration) -> Result<bool, KeychainError> {
        Ok(false)
    }
    fn read_item(&self, service: &str, _: Duration) -> Result<Option<Token>, KeychainError> {
        let items = self.items.lock().unwrap();
        Ok(items.get(service).map(|s| Token::new(s.clone())))
    }
    fn store_item(
        &self,
        service: &str,
        _: &str,
        secret: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError> {
        self.write(timeout, || {
            let mut items = self.items.lock().unwrap();
            items.insert(service.to_owned(), secret.expose().to_owned());
        })
    }
    fn remove_item(&self, service: &str, timeout: Duration) -> Result<bool, KeychainError> {
        self.write(timeout, || {
            self.items.lock().unwrap().remove(service).is_some()
        })
    }
}

/// A token endpoint answering each request with the next `(status, body)`
/// of its script (the last one repeats); records each request's body.
struct TokenServer {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    fn start(script: Vec<(u16, String)>) -> TokenServer {
        Self::start_with(script, |_| {})
    }

    /// As [`TokenServer::start`], running `before(n)` before it answers the
    /// `n`th request (0 first): what changes on the machine meanwhile.
    fn start_with(
        script: Vec<(u16, String)>,
        before: impl Fn(usize) + Send + 'static,
    ) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bodies.clone(), stop.clone());
        let thread = thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { return };
                let body = read_request(&mut conn);
                b.lock().unwrap().push(body);
                before(n);
                let (status, answer) = &script[n.min(script.len() - 1)];
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        TokenServer {
            port,
            bodies,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// How many requests carried `refresh_token=<token>`.
    fn sent(&self, token: &str) -> usize {
        let needle = format!("refresh_token={token}");
        let bodies = self.bodies.lock().unwrap();
        bodies.iter().filter(|b| b.contains(&needle)).count()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_request(conn: &mut TcpStream) -> String {
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text[end + 4..].to_owned();
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

const NOW: i64 = 1_000_000;
const FIRST: &str = "rt-first-0123456789abcdef";
const ROTATED: &str = "rt-rotated-0123456789abcdef";

fn rotating_answer() -> (u16, String) {
    (
        200,
        format!(
            r#"{{"access_token":"at-0123456789abcdef","token_type":"Bearer","expires_in":300,"refresh_token":"{ROTATED}"}}"#
        ),
    )
}

fn settings(server: &TokenServer) -> SsoSettings {
    settings_with(server, "")
}

fn settings_with(server: &TokenServer, extra: &str) -> SsoSettings {
    let raw: RawSso = toml::from_str(&format!(
        "token-endpoint = {:?}\ndevice-authorization-endpoint = \"http://127.0.0.1:9/device\"\n\
         client-id = \"cli\"\nscope = \"read\"\ntimeout-ms = 5000\n{extra}",
        server.url()
    ))
    .unwrap();
    raw.validate("t").unwrap()
}

/// One test's world: the keychain, the private cache folder, a registry
/// whose index is this test's own (locks are per login).
struct World {
    mem: Mem,
    dir: tempfile::TempDir,
    index: String,
}

impl World {
    fn new(server: &TokenServer) -> World {
        World {
            mem: Mem::default(),
            dir: tempfile::tempdir().unwrap(),
            index: format!("sparse+https://r{}.example/", server.port),
        }
    }

    fn registry(&self) -> Registry<'_> {
        Registry {
            index_url: &self.index,
            name: Some("r"),
        }
    }

    fn files(&self) -> FileStore {
        FileStore::at(self.dir.path().to_path_buf())
    }

    fn grants<'a>(&'a self, s: &'a SsoSettings) -> Grants<'a> {
        Grants::new(
            s,
            &self.registry(),
            &self.mem,
            Duration::from_secs(5),
            Some(self.files()),
        )
    }

    fn sign_in(&self, s: &SsoSettings, refresh_token: &str) {
        let grant = StoredLogin {
            refresh_token: Token::new(refresh_token.to_owned()),
            account: Some("alice".into()),
            subject: Some("alice".into()),
        };
        self.grants(s).save(&grant, NOW, "label").unwrap();
    }

    fn stored(&self, s: &SsoSettings) -> Option<String> {
        let grant = self.grants(s).load().unwrap()?;
        Some(grant.refresh_token.expose().to_owned())
    }

    /// A `get` as the provider makes it: the keychain under one budget of
    /// `budget` for the whole request.
    fn get(&self, s: &SsoSettings, budget: Duration) -> anyhow::Result<Option<Obtained>> {
        self.get_in(s, budget, self.files())
    }

    /// [`World::get`] by a process whose cache folder is `cache`.
    fn get_in(
        &self,
        s: &SsoSettings,
        budget: Duration,
        cache: FileStore,
    ) -> anyhow::Result<Option<Obtained>> {
        let env: HashMap<String, String> = HashMap::new();
        let files = || Ok(cache.clone());
        let now = || NOW;
        let keychain = crate::keychain::Budgeted::new(&self.mem, budget);
        let cx = Context {
            env: &env,
            keychain: &keychain,
            keychain_timeout: budget,
            files: &files,
            now: &now,
            token_vars: &[],
            secret_vars: &[],
        };
        get(s, &self.registry(), OperationClass::Read, &cx)
    }
}

#[test]
fn a_rotated_refresh_token_is_stored_with_a_keychain_deadline_of_its_own() {
    // issue 16 R1: keychain writes take 300 ms; the get's budget is 200 ms.
    let server = TokenServer::start(vec![rotating_answer()]);
    let s = settings(&server);
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    w.mem.write_ms.store(300, Ordering::SeqCst);
    let got = w.get(&s, Duration::from_millis(200)).unwrap();
    assert!(got.is_some());
    // (Compared, not printed: test output shows no token, not even these.)
    assert!(
        w.stored(&s).as_deref() == Some(ROTATED),
        "the rotated refresh token was not kept"
    );
}

#[test]
fn a_rotated_refresh_token_that_cannot_be_kept_is_never_replaced_by_the_spent_one() {
    // issue 16 R1: the keychain refuses both the store and the delete.
    let server = TokenServer::start(vec![rotating_answer()]);
    let s = settings(&server);
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    w.mem.refuse.store(true, Ordering::SeqCst);
    // This run goes on with the access token it got.
    assert!(w.get(&s, Duration::from_secs(2)).unwrap().is_some());
    assert!(w.stored(&s).as_deref() == Some(FIRST));
    // The next one never sends the spent refresh token: it says to sign in.
    let err = format!("{:#}", w.get(&s, Duration::from_secs(2)).unwrap_err());
    assert_eq!(
        server.sent(FIRST),
        1,
        "the spent refresh token was sent again"
    );
    assert!(err.contains("`cargo login --registry r`"), "{err}");
    // A new sign-in is used again.
    w.mem.refuse.store(false, Ordering::SeqCst);
    w.sign_in(&s, "rt-new-login-0123456789abcdef");
    let _ = w.get(&s, Duration::from_secs(2));
    assert_eq!(server.sent("rt-new-login-0123456789abcdef"), 1);
}

#[test]
fn a_spent_refresh_token_is_not_sent_by_a_process_with_another_cache_folder() {
    // issue 16 F6: the keychain refuses both the store and the delete of a
    // rotation in a process with one cache folder; a process with another
    // (an IDE's sandbox and a terminal) must see the spent record too.
    let server = TokenServer::start(vec![rotating_answer()]);
    let s = settings(&server);
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    w.mem.refuse.store(true, Ordering::SeqCst);
    assert!(w.get(&s, Duration::from_secs(2)).unwrap().is_some());
    let other = tempfile::tempdir().unwrap();
    let err = w
        .get_in(
            &s,
            Duration::from_secs(2),
            FileStore::at(other.path().to_path_buf()),
        )
        .unwrap_err();
    assert_eq!(
        server.sent(FIRST),
        1,
        "the spent refresh token was sent again"
    );
    assert!(format!("{err:#}").contains("`cargo login --registry r`"));
}

fn refused() -> (u16, String) {
    (
        400,
        r#"{"error":"invalid_request","error_description":"unknown refresh token"}"#.to_owned(),
    )
}

#[test]
fn a_refresh_refused_otherwise_than_invalid_grant_names_the_way_out_and_twice_ends_the_login() {
    // issue 16 N5: the IdP answers 400 invalid_request to a refresh token it
    // no longer knows.
    let server = TokenServer::start(vec![refused()]);
    let s = settings(&server);
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    let first = format!("{:#}", w.get(&s, Duration::from_secs(2)).unwrap_err());
    assert!(first.contains("invalid_request"), "{first}");
    assert!(first.contains("`cargo login --registry r`"), "{first}");
    assert!(w.stored(&s).as_deref() == Some(FIRST), "removed at once");
    // The same refusal on the next run: the login has ended.
    let second = format!("{:#}", w.get(&s, Duration::from_secs(2)).unwrap_err());
    assert!(second.contains("`cargo login --registry r`"), "{second}");
    assert!(second.contains("was removed"), "{second}");
    assert!(w.stored(&s).is_none(), "the login was not removed");
    assert_eq!(server.sent(FIRST), 2);
    // Nothing in the cache folder holds the refresh token.
    for path in files_below(w.dir.path()) {
        let text = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains(FIRST),
            "{} holds the refresh token",
            path.display()
        );
    }
}

#[test]
fn a_refused_scope_never_ends_the_login() {
    let server = TokenServer::start(vec![(400, r#"{"error":"invalid_scope"}"#.to_owned())]);
    let s = settings(&server);
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    for _ in 0..2 {
        let err = format!("{:#}", w.get(&s, Duration::from_secs(2)).unwrap_err());
        assert!(err.contains("`scope`, `publish-scope`"), "{err}");
        assert!(err.contains("`cargo login --registry r`"), "{err}");
    }
    assert!(
        w.stored(&s).as_deref() == Some(FIRST),
        "the login was removed"
    );
}

#[test]
fn a_refusal_of_another_login_is_not_a_repeat() {
    let server = TokenServer::start(vec![refused()]);
    let s = settings(&server);
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    assert!(w.get(&s, Duration::from_secs(2)).is_err());
    // Signed in again in between: the new login's first refusal keeps it.
    w.sign_in(&s, "rt-second-login-0123456789abcdef");
    assert!(w.get(&s, Duration::from_secs(2)).is_err());
    assert!(w.stored(&s).as_deref() == Some("rt-second-login-0123456789abcdef"));
}

#[test]
fn the_login_lock_is_the_same_from_every_cache_folder() {
    // issue 16 R3: two processes with different cache folders
    // (CARGO_CREDENTIAL_CORP_CACHE_DIR) refresh the same keychain login.
    let server = TokenServer::start(vec![refused()]);
    let s = settings(&server);
    let w = World::new(&server);
    let other = tempfile::tempdir().unwrap();
    let (a, b) = (w.files(), FileStore::at(other.path().to_path_buf()));
    let registry = w.registry();
    let keychain_timeout = Duration::from_millis(1);
    let held = grant_lock(Some(&a), &s, &registry, keychain_timeout)
        .unwrap()
        .expect("the lock");
    let start = std::time::Instant::now();
    thread::scope(|scope| {
        scope.spawn(move || {
            thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let second = grant_lock(Some(&b), &s, &registry, keychain_timeout).unwrap();
        assert!(second.is_some(), "not taken once released");
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "taken while a process with another cache folder held it"
        );
    });
}

#[cfg(unix)]
#[test]
fn a_file_login_whose_folder_stopped_being_private_is_removed_truly_after_a_rotation() {
    // issue 16 F3: the rotated token cannot be stored (the folder of the
    // login's file was made 0755 meanwhile); the spent one must not stay
    // there to be sent once the folder is private again.
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let sso = dir.path().join("sso");
    let at = sso.clone();
    let server = TokenServer::start_with(vec![rotating_answer()], move |_| {
        let _ = std::fs::set_permissions(&at, std::fs::Permissions::from_mode(0o755));
    });
    let s = settings_with(&server, "store = \"file\"\n");
    let mut w = World::new(&server);
    w.dir = dir;
    w.sign_in(&s, FIRST);
    assert!(w.get(&s, Duration::from_secs(2)).unwrap().is_some());
    std::fs::set_permissions(&sso, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _ = std::fs::remove_dir_all(w.dir.path().join("tokens"));
    let _ = w.get(&s, Duration::from_secs(2));
    assert_eq!(
        server.sent(FIRST),
        1,
        "the spent refresh token was sent again"
    );
}

#[test]
fn a_file_login_that_cannot_be_removed_is_recorded_as_spent_and_not_said_removed() {
    // issue 16 F3: neither the store nor the delete works (here the
    // login's folder became a file); the message must not say "removed",
    // and the spent refresh token is never sent again.
    let server = TokenServer::start(vec![rotating_answer()]);
    let s = settings_with(&server, "store = \"file\"\n");
    let w = World::new(&server);
    w.sign_in(&s, FIRST);
    let grant = w.grants(&s).load().unwrap().unwrap();
    let sso = w.dir.path().join("sso");
    let aside = w.dir.path().join("sso-aside");
    std::fs::rename(&sso, &aside).unwrap();
    std::fs::write(&sso, b"not a folder").unwrap();
    let env: HashMap<String, String> = HashMap::new();
    let files = || Ok(w.files());
    let now = || NOW;
    let cx = Context {
        env: &env,
        keychain: &w.mem,
        keychain_timeout: Duration::from_secs(2),
        files: &files,
        now: &now,
        token_vars: &[],
        secret_vars: &[],
    };
    let kept = keep_rotated(
        &s,
        &w.registry(),
        &grant,
        Token::new(ROTATED.to_owned()),
        Some(&w.files()),
        NOW,
        &cx,
    );
    assert_eq!(kept, Some(Kept::MarkedSpent));
    assert!(!kept_message(Kept::MarkedSpent).contains("was removed"));
    // The folder is put right; the spent token is still never sent.
    std::fs::remove_file(&sso).unwrap();
    std::fs::rename(&aside, &sso).unwrap();
    let err = format!("{:#}", w.get(&s, Duration::from_secs(2)).unwrap_err());
    assert!(err.contains("`cargo login --registry r`"), "{err}");
    assert_eq!(server.sent(FIRST), 0, "the spent refresh token was sent");
}

fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}
