//! A real HTTPS proxy for the e2e tests: Debian's tinyproxy on 127.0.0.1,
//! logging every request; killed on drop.

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use super::process::KillOnDrop;

/// A running tinyproxy.
pub struct Tinyproxy {
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
    port: u16,
    log: PathBuf,
}

impl Tinyproxy {
    /// A proxy that opens CONNECT tunnels only to port 443: a tunnel a test
    /// asks for (to another port) is refused before any name is resolved, so
    /// nothing leaves this machine.
    pub fn start() -> Tinyproxy {
        Tinyproxy::start_with("ConnectPort 443\n")
    }

    /// A proxy that asks for `user` and `password` (HTTP Basic in
    /// `Proxy-Authorization`) and tunnels to any port. Without them it
    /// answers 407, with wrong ones 401.
    pub fn with_basic_auth(user: &str, password: &str) -> Tinyproxy {
        Tinyproxy::start_with(&format!("BasicAuth {user} {password}\n"))
    }

    /// A proxy with these extra lines of configuration.
    fn start_with(extra: &str) -> Tinyproxy {
        if !super::on_path("tinyproxy") {
            super::missing_component("tinyproxy (Debian package `tinyproxy`)");
        }
        let dir = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nLogFile \"{}\"\n\
                 LogLevel Info\n{extra}",
                log.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cannot start tinyproxy");
        let child = KillOnDrop(child);
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tinyproxy did not listen on port {port}"
            );
            thread::sleep(Duration::from_millis(20));
        }
        Tinyproxy {
            _child: child,
            _dir: dir,
            port,
            log,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
