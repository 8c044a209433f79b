//! A real kellnr registry with `auth_required = true` on 127.0.0.1, started
//! on a fresh data folder and stopped when the value is dropped.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::missing_component;
use super::process::KillOnDrop;
use super::{base_env, free_port};

/// The kellnr version `scripts/provision-kellnr.sh` builds.
pub const VERSION: &str = "6.13.0";

/// A running registry.
pub struct Kellnr {
    process: KillOnDrop,
    port: u16,
    admin_token: String,
    _dir: tempfile::TempDir,
}

/// Where `scripts/provision-kellnr.sh` leaves the binary (or `$KELLNR_BIN`).
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("KELLNR_BIN") {
        return bin.into();
    }
    let cache = std::env::var_os("CCC_TEST_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(|d| PathBuf::from(d).join("cargo-credential-corp-tests"))
        })
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache")
                .join("cargo-credential-corp-tests")
        });
    cache
        .join(format!("kellnr-{VERSION}"))
        .join("bin")
        .join("kellnr")
}

impl Kellnr {
    /// Starts kellnr and waits until it is healthy (at most 60 s).
    pub fn start() -> Kellnr {
        Kellnr::start_retrying(None)
    }

    /// Starts kellnr on its own port with URLs that name `origin_port` (a
    /// gateway in front of it).
    pub fn start_with_origin(origin_port: u16) -> Kellnr {
        Kellnr::start_retrying(Some(origin_port))
    }

    /// A port picked free can be taken by another test's server before
    /// kellnr binds it: then kellnr exits at once, and a new port is tried.
    fn start_retrying(origin_port: Option<u16>) -> Kellnr {
        let mut last = String::new();
        for _ in 0..3 {
            match Kellnr::start_on(free_port(), origin_port) {
                Ok(kellnr) => return kellnr,
                Err(why) => last = why,
            }
        }
        panic!("kellnr did not start in 3 attempts:\n{last}")
    }

    fn start_on(port: u16, origin_port: Option<u16>) -> Result<Kellnr, String> {
        let bin = binary();
        if !bin.is_file() {
            missing_component(&format!(
                "the kellnr {VERSION} registry (expected at {}; `scripts/provision-kellnr.sh` builds it)",
                bin.display()
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        let origin_port = origin_port.unwrap_or(port);
        // A fresh value per run: kellnr accepts it as the admin's token.
        let admin_token = format!("kellnrAdmin{}x{}", std::process::id(), port);
        let log = std::fs::File::create(dir.path().join("kellnr.log")).unwrap();
        let child = Command::new(&bin)
            .arg("start")
            .env_clear()
            .envs(base_env())
            .env("KELLNR_REGISTRY__DATA_DIR", dir.path().join("data"))
            .env("KELLNR_REGISTRY__AUTH_REQUIRED", "true")
            .env("KELLNR_LOCAL__IP", "127.0.0.1")
            .env("KELLNR_LOCAL__PORT", port.to_string())
            .env("KELLNR_ORIGIN__HOSTNAME", "127.0.0.1")
            .env("KELLNR_ORIGIN__PORT", origin_port.to_string())
            .env("KELLNR_SETUP__ADMIN_TOKEN", &admin_token)
            .env("KELLNR_SETUP__ADMIN_PWD", "admin-password-for-tests")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut kellnr = Kellnr {
            process: KillOnDrop(child),
            port,
            admin_token,
            _dir: dir,
        };
        kellnr.wait_until_healthy()?;
        Ok(kellnr)
    }

    fn wait_until_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                let log = std::fs::read_to_string(self._dir.path().join("kellnr.log"))
                    .unwrap_or_default();
                let tail = &log[log.len().saturating_sub(2000)..];
                return Err(format!("kellnr exited ({status}):\n{tail}"));
            }
            if http_status(self.port, "/api/v1/health") == Some(200) {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "kellnr did not become healthy in 60 s"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// The sparse index URL, as Cargo's config names it.
    pub fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/api/v1/crates/", self.port)
    }

    /// The port kellnr listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A token kellnr accepts (the admin's).
    pub fn token(&self) -> &str {
        &self.admin_token
    }

    /// The HTTP status of an unauthenticated GET of `path`.
    pub fn get_status(&self, path: &str) -> Option<u16> {
        http_status(self.port, path)
    }
}

/// A minimal HTTP/1.0 GET on loopback; the status code, if any answer came.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
