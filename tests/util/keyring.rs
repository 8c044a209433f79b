//! A real Secret Service for one test: a private D-Bus session bus and an
//! unlocked gnome-keyring on it, both stopped when the value is dropped.

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::process::{self, KillOnDrop};
use super::{base_env, missing_component, on_path};

/// A private D-Bus session bus with nothing on it, stopped on drop.
pub struct Bus {
    _process: KillOnDrop,
    address: String,
    dir: tempfile::TempDir,
}

impl Bus {
    /// Starts `dbus-daemon` on a socket in a new temporary folder.
    pub fn start() -> Bus {
        for program in [
            "dbus-daemon",
            "gnome-keyring-daemon",
            "secret-tool",
            "dbus-send",
        ] {
            if !on_path(program) {
                missing_component(&format!("`{program}` (gnome-keyring on a private D-Bus)"));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let address = format!("unix:path={}", socket.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "dbus-daemon did not start");
            if let Some(status) = bus.try_wait().unwrap() {
                panic!("dbus-daemon exited: {status}");
            }
            thread::sleep(Duration::from_millis(10));
        }
        Bus {
            _process: KillOnDrop(bus),
            address,
            dir,
        }
    }

    /// The bus address.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// A running gnome-keyring on its own bus.
pub struct Keyring {
    // Dropped in this order: the keyring before its bus.
    daemon: KillOnDrop,
    bus: Bus,
}

impl Keyring {
    /// Starts a bus and the keyring, and waits until the login collection
    /// is served and unlocked (at most 10 s).
    pub fn start() -> Keyring {
        let bus = Bus::start();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (address, dir) = (&bus.address, bus.dir.path());
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env_clear()
            .envs(base_env())
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .env("XDG_DATA_HOME", &data)
            .env("XDG_RUNTIME_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        {
            use std::io::Write as _;
            let mut stdin = daemon.stdin.take().unwrap();
            stdin.write_all(b"test-keyring-password").unwrap();
        } // closing stdin ends the password
        let keyring = Keyring {
            daemon: KillOnDrop(daemon),
            bus,
        };
        keyring.wait_until_ready(deadline);
        keyring
    }

    fn wait_until_ready(&self, deadline: Instant) {
        loop {
            let owned = self.dbus_send(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]);
            if owned.contains("boolean true") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "gnome-keyring did not take its bus name"
            );
            thread::sleep(Duration::from_millis(20));
        }
        // The default collection appears a moment after the name is taken
        // (later on a busy machine): ask until it answers, within the deadline.
        let locked = loop {
            let locked = self.dbus_send(&[
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets/aliases/default",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.freedesktop.Secret.Collection",
                "string:Locked",
            ]);
            if locked.contains("boolean") || Instant::now() >= deadline {
                break locked;
            }
            thread::sleep(Duration::from_millis(20));
        };
        assert!(
            locked.contains("boolean false"),
            "login keyring is locked: {locked}"
        );
    }

    fn dbus_send(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("dbus-send");
        cmd.args(["--session", "--print-reply"]).args(args);
        let out = process::run(self.with_env(cmd), None, Duration::from_secs(10));
        out.stdout
    }

    fn with_env(&self, mut cmd: Command) -> Command {
        cmd.env_clear()
            .envs(base_env())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address);
        cmd
    }

    /// The bus address to give the provider.
    pub fn address(&self) -> &str {
        &self.bus.address
    }

    /// The secret stored under these attributes (`secret-tool lookup`).
    pub fn lookup(&self, attributes: &[(&str, &str)]) -> Option<String> {
        let mut cmd = Command::new("secret-tool");
        cmd.arg("lookup");
        for (k, v) in attributes {
            cmd.args([k, v]);
        }
        let out = process::run(self.with_env(cmd), None, Duration::from_secs(10));
        out.status.success().then_some(out.stdout)
    }

    /// The token this provider stored for `index_url`.
    pub fn provider_item(&self, index_url: &str) -> Option<String> {
        self.lookup(&[
            ("service", &format!("cargo-registry:{index_url}")),
            ("username", "cargo-credential-corp"),
        ])
    }

    /// Stores an item with these attributes (`secret-tool store`).
    pub fn store(&self, label: &str, attributes: &[(&str, &str)], secret: &str) {
        let mut cmd = Command::new("secret-tool");
        cmd.args(["store", "--label", label]);
        for (k, v) in attributes {
            cmd.args([k, v]);
        }
        process::run(self.with_env(cmd), Some(secret), Duration::from_secs(10)).assert_success();
    }

    /// Stores a token the way `cargo:libsecret` does.
    pub fn store_like_cargo_libsecret(&self, index_url: &str, token: &str) {
        self.store(
            &format!("cargo-registry:{index_url}"),
            &[
                ("xdg:schema", "org.rust-lang.cargo.registry"),
                ("url", index_url),
            ],
            token,
        );
    }

    /// Locks the login collection, as a screen lock or `Lock` from a keyring
    /// UI would: its items stay, their secrets cannot be read until unlocked.
    pub fn lock(&self) {
        let reply = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/aliases/default",
        ]);
        assert!(reply.contains("object path"), "Lock failed: {reply}");
    }

    /// How many items match `attributes` among the locked ones (SearchItems;
    /// works without unlocking: nothing is read but the attributes).
    pub fn count_locked(&self, attributes: &[(&str, &str)]) -> usize {
        let dict = attributes
            .iter()
            .map(|(k, v)| format!("{k},{v}"))
            .collect::<Vec<_>>()
            .join(",");
        let reply = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.SearchItems",
            &format!("dict:string:string:{dict}"),
        ]);
        // Two arrays of object paths: unlocked, then locked.
        let locked = reply.rsplit("array [").next().unwrap_or("");
        locked.matches("object path").count()
    }

    /// Freezes the keyring daemon (SIGSTOP): it keeps its bus name but never answers.
    pub fn freeze(&self) {
        signal(self.daemon.0.id(), "-STOP");
    }

    /// Lets a frozen daemon run again (SIGCONT).
    pub fn thaw(&self) {
        signal(self.daemon.0.id(), "-CONT");
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        // A stopped process cannot act on SIGKILL's cleanup until continued.
        self.thaw();
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}
