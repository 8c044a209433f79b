//! A release folder as the release workflow makes it, built for a test by
//! the workflow's own script (scripts/release.sh) from the provider binary
//! this `cargo test` built, signed with a minisign key made in the test's
//! folder; and a static file server on 127.0.0.1 that serves it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::process::{self, Output};

/// The crate's name: the binary's and the archives' prefix.
pub const NAME: &str = "cargo-credential-corp";
/// The crate's version: what the release folders are built as.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd` within `secs` seconds; the leak rule (JWT shapes and the
/// `secrets`) on what it printed.
pub fn run(cmd: Command, secs: u64, secrets: &[String]) -> Output {
    let out = process::run(cmd, None, Duration::from_secs(secs));
    out.assert_free_of(secrets);
    out
}

/// Fails the test unless `program` is installed.
pub fn need(program: &str, package: &str) {
    if !super::on_path(program) {
        super::missing_component(&format!("{program} (Debian package `{package}`)"));
    }
}

/// A minisign key pair in a folder of its own.
pub struct Key {
    dir: tempfile::TempDir,
}

impl Key {
    /// A new password-less key pair.
    pub fn new() -> Key {
        need("minisign", "minisign");
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("minisign");
        cmd.args(["-G", "-W", "-p"])
            .arg(dir.path().join("key.pub"))
            .arg("-s")
            .arg(dir.path().join("key.sec"));
        run(cmd, 20, &[]).assert_success();
        let key = Key { dir };
        // From here on, the secret key's lines must appear in no output.
        assert!(!key.secrets().is_empty());
        key
    }

    /// The public key file (minisign's format).
    pub fn public_file(&self) -> PathBuf {
        self.dir.path().join("key.pub")
    }

    /// The public key line.
    pub fn public(&self) -> String {
        key_line(&std::fs::read_to_string(self.public_file()).unwrap())
    }

    /// The secret key file.
    pub fn secret_file(&self) -> PathBuf {
        self.dir.path().join("key.sec")
    }

    /// The secret key's lines, as secrets for the leak rule.
    pub fn secrets(&self) -> Vec<String> {
        std::fs::read_to_string(self.secret_file())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("untrusted comment:") && !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `scripts/release.sh sign DIR` with this key: a `.sha256` and a `.sig`
    /// beside every archive in `dir`.
    pub fn sign(&self, dir: &Path) {
        let mut cmd = Command::new("sh");
        cmd.arg(root().join("scripts/release.sh"))
            .arg("sign")
            .arg(dir)
            .env("MINISIGN_KEY_FILE", self.secret_file())
            .env_remove("MINISIGN_PASSWORD");
        run(cmd, 60, &self.secrets()).assert_success();
    }
}

/// The key line of a minisign public key file.
pub fn key_line(text: &str) -> String {
    text.lines()
        .rfind(|l| !l.starts_with("untrusted comment:") && !l.trim().is_empty())
        .unwrap_or_else(|| panic!("no key line in {text:?}"))
        .trim()
        .to_owned()
}

/// `scripts/release.sh archive TARGET VERSION BINARY OUTDIR`: the archive's path.
pub fn pack(target: &str, binary: &Path, outdir: &Path) -> PathBuf {
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("scripts/release.sh"))
        .args(["archive", target, VERSION])
        .arg(binary)
        .arg(outdir);
    let out = run(cmd, 120, &[]);
    out.assert_success();
    PathBuf::from(out.stdout.trim())
}

/// A signed release folder for one target, holding the provider binary.
pub struct Release {
    /// The folder served: archives, `.sha256` and `.sig` files.
    dir: tempfile::TempDir,
    /// The binary that was packed (a stripped copy of the test build).
    binary: PathBuf,
    _work: tempfile::TempDir,
    /// The key it was signed with.
    pub key: Key,
    /// The Rust target the archive is named for.
    pub target: String,
}

impl Release {
    /// The release folder for `target`, holding this test run's provider
    /// binary (stripped, when `strip` is installed, to keep packing quick).
    pub fn build(target: &str) -> Release {
        let key = Key::new();
        let work = tempfile::tempdir().unwrap();
        let binary = work.path().join(NAME);
        std::fs::copy(super::provider_bin(), &binary).unwrap();
        if super::on_path("strip") {
            let mut cmd = Command::new("strip");
            cmd.arg(&binary);
            run(cmd, 60, &[]).assert_success();
        }
        let dir = tempfile::tempdir().unwrap();
        pack(target, &binary, dir.path());
        key.sign(dir.path());
        Release {
            dir,
            binary,
            _work: work,
            key,
            target: target.to_owned(),
        }
    }

    /// The folder served.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary inside the archive.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The archive's file name.
    pub fn archive_name(&self) -> String {
        let ext = match self.target.contains("-windows-") {
            true => "zip",
            false => "tar.gz",
        };
        format!("{NAME}-{}-v{VERSION}.{ext}", self.target)
    }

    /// The archive's path.
    pub fn archive(&self) -> PathBuf {
        self.dir().join(self.archive_name())
    }

    /// The path of the archive's `suffix` file (`.sha256`, `.sig`).
    pub fn beside(&self, suffix: &str) -> PathBuf {
        self.dir().join(format!("{}{suffix}", self.archive_name()))
    }
}

/// The Rust target install.sh picks on this machine.
pub fn host_target() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("these tests run on Linux x86_64 or aarch64, not {other}"),
    }
}

/// A static file server on 127.0.0.1: `GET /NAME` answers the file `NAME`
/// of its folder, anything else 404. One connection at a time, each with
/// 5 s deadlines; stopped (and its thread joined) on drop.
pub struct FileServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Serves `dir`.
    pub fn start(dir: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let dir = dir.to_path_buf();
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &dir);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FileServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request on `stream` from the files of `dir`.
fn serve(stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let started = Instant::now();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if started.elapsed() > Duration::from_secs(5) {
            return Ok(());
        }
    }
    let path = request.split(' ').nth(1).unwrap_or("");
    let name = path.trim_start_matches('/');
    let file = (!name.is_empty() && !name.contains('/') && !name.contains(".."))
        .then(|| std::fs::read(dir.join(name)).ok())
        .flatten();
    let mut stream = stream;
    match file {
        Some(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        None => {
            stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\nconnection: close\r\n\r\nnot found\n",
            )?;
        }
    }
    stream.flush()
}
