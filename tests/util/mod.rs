//! The shared harness: run the real provider binary, real cargo, and the real
//! components (keyring, registry), capturing every output and checking that
//! no secret appears in any of it.

#![allow(dead_code)]

pub mod apache;
pub mod aws;
pub mod ca;
pub mod cargo;
pub mod composite;
pub mod fake;
pub mod idp;
pub mod kellnr;
pub mod keyring;
pub mod leak;
pub mod process;
pub mod pty;
pub mod release;
pub mod tinyproxy;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use process::Output;

/// The provider binary the tests drive: the one built by this `cargo test`,
/// or the one `CCC_TEST_PROVIDER_BIN` names (scripts/test.sh's smoke run of
/// the static release build).
pub fn provider_bin() -> PathBuf {
    match std::env::var_os("CCC_TEST_PROVIDER_BIN").filter(|v| !v.is_empty()) {
        Some(bin) => {
            let bin = PathBuf::from(bin);
            assert!(
                bin.is_file(),
                "CCC_TEST_PROVIDER_BIN names {}, which is not a file; unset it or build it (scripts/test.sh)",
                bin.display()
            );
            bin
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_cargo-credential-corp")),
    }
}

/// A D-Bus address where nothing listens: "no keychain on this machine".
pub const NO_BUS: &str = "unix:path=/nonexistent/cargo-credential-corp-test-bus";

/// How the provider is started for a protocol test: a clean environment, the
/// config files in a temporary folder, and a D-Bus address of our choosing.
pub struct Provider {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
    secrets: Vec<String>,
}

impl Provider {
    /// A provider with no config files and no keychain.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = provider_env(dir.path(), "");
        Provider {
            dir,
            env,
            secrets: Vec::new(),
        }
    }

    /// Sets an environment variable for the provider.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Declares a secret that must never appear in any output.
    pub fn secret(&mut self, value: &str) -> &mut Self {
        self.secrets.push(value.into());
        self
    }

    /// Declares secrets that must never appear in any output.
    pub fn secrets_all(&mut self, values: &[&str]) -> &mut Self {
        self.secrets.extend(values.iter().map(|v| (*v).to_owned()));
        self
    }

    /// Writes the user's config file.
    pub fn user_config(&mut self, text: &str) -> &mut Self {
        std::fs::write(self.dir.path().join("user.toml"), text).unwrap();
        self
    }

    /// Writes the system-wide config file.
    pub fn system_config(&mut self, text: &str) -> &mut Self {
        std::fs::write(self.dir.path().join("system.toml"), text).unwrap();
        self
    }

    /// The temporary folder holding the config files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `cargo-credential-corp --cargo-plugin` with `request` as its one
    /// line of input, and checks its output holds no secret.
    pub fn request(&self, request: &str) -> Output {
        self.run(&["--cargo-plugin"], &format!("{request}\n"))
    }

    /// Runs the provider with `args` and `stdin`, within 20 s, and applies
    /// the leak rule to its output.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.run_in(self.dir.path(), args, stdin)
    }

    /// [`Self::run`] in the folder `cwd`.
    pub fn run_in(&self, cwd: &Path, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(provider_bin());
        cmd.args(args).current_dir(cwd).env_clear().envs(&self.env);
        let out = process::run(cmd, Some(stdin), Duration::from_secs(20));
        out.assert_free_of_except_replies(&self.secrets);
        out
    }
}

impl Drop for Provider {
    /// The leak rule on what the provider left in its folder; the token
    /// cache (`cache/tokens`, private files that hold tokens by design) is
    /// not read.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let cache = self.dir.path().join("cache").join("tokens");
            leak::check_dir(self.dir.path(), &self.secrets, &|p| p == cache);
        }
    }
}

/// The environment every child starts from: enough to find programs and the
/// Rust toolchain, nothing that names a token or a bus.
pub fn base_env() -> HashMap<String, String> {
    let mut env = HashMap::new();
    for key in [
        "PATH",
        "HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "TMPDIR",
        "LANG",
    ] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.to_owned(), v);
        }
    }
    env
}

/// `base_env` plus what isolates the provider: its user and system config
/// files, its token cache and Cargo's home inside `dir` (names prefixed with
/// `prefix`), and a D-Bus address where nothing listens.
pub fn provider_env(dir: &Path, prefix: &str) -> HashMap<String, String> {
    let mut env = base_env();
    let path = |name: &str| dir.join(format!("{prefix}{name}")).display().to_string();
    env.insert("CARGO_CREDENTIAL_CORP_CONFIG".into(), path("user.toml"));
    env.insert(
        "CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG".into(),
        path("system.toml"),
    );
    env.insert("CARGO_CREDENTIAL_CORP_CACHE_DIR".into(), path("cache"));
    env.insert("DBUS_SESSION_BUS_ADDRESS".into(), NO_BUS.into());
    // Cargo's own config (`http.proxy`, `http.cainfo`) from an empty home,
    // not the developer's `~/.cargo`.
    env.insert("CARGO_HOME".into(), path("cargo-home"));
    env
}

/// An HTTP client for the harness's own calls (to the test IdP, the
/// gateway), with the crypto provider the provider itself installs.
pub fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::new()
}

/// Fails the test with a message that names the command to run, for a
/// component of the e2e suite that is not installed.
pub fn missing_component(what: &str) -> ! {
    panic!(
        "{what} is not available, so this e2e test cannot run. Run `scripts/test.sh` \
         (it installs and builds every component, then runs all tests)"
    )
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    reserve_port().release()
}

/// A port on 127.0.0.1 held bound until released, so that no other
/// [`free_port`] call (another server of the same test) can be handed it.
pub struct ReservedPort(std::net::TcpListener);

/// Binds a free port and keeps it until [`ReservedPort::release`].
pub fn reserve_port() -> ReservedPort {
    ReservedPort(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
}

impl ReservedPort {
    /// The port number.
    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    /// Frees the port for the server about to bind it.
    pub fn release(self) -> u16 {
        self.port()
    }
}

/// Whether `program` can be found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Writes `contents` to a new file `path`, creating parent folders.
pub fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(contents.as_bytes()).unwrap();
}

/// Every file below `dir` whose name is `name`.
pub fn find_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    leak::files_below(dir, &|_| false)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == name))
        .collect()
}
