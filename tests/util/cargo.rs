//! The real `cargo`, in a temporary `CARGO_HOME` whose config uses this
//! provider, with crates to publish and to build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::{self, Output};
use super::{provider_bin, provider_env, write};

/// The registry name used in the e2e tests.
pub const REGISTRY: &str = "my-private";

/// How Cargo is told to use this provider.
pub enum Providers {
    /// `[registries.my-private] credential-provider = [<provider>, args...]`.
    PerRegistry(Vec<String>),
    /// `[registry] global-credential-providers = [...]`; the string
    /// `"corp"` stands for this provider's path.
    Global(Vec<String>),
}

/// A temporary Cargo home plus a folder for crates.
pub struct CargoHome {
    dir: tempfile::TempDir,
    /// The registry's name in Cargo's config ([`REGISTRY`] unless [`Self::named`]).
    registry: String,
    env: HashMap<String, String>,
    secrets: Vec<String>,
    /// Files the test itself wrote a token into (not scanned by the leak rule).
    seeded: Vec<PathBuf>,
}

impl CargoHome {
    /// A Cargo home whose config names the registry at `index_url` and the
    /// given providers. The provider sees no keychain until [`Self::bus`].
    pub fn new(index_url: &str, providers: Providers) -> CargoHome {
        CargoHome::named(REGISTRY, index_url, providers)
    }

    /// [`Self::new`], with the registry called `registry` in Cargo's config
    /// (crates, `provider_get` and [`Providers::PerRegistry`] use that name).
    pub fn named(registry: &str, index_url: &str, providers: Providers) -> CargoHome {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("cargo-home");
        let corp = provider_bin().display().to_string();
        let quote = |v: &[String]| {
            v.iter()
                .map(|s| format!("{:?}", if s == "corp" { &corp } else { s }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let config = match &providers {
            Providers::PerRegistry(args) => format!(
                "[registries.{registry}]\nindex = {index_url:?}\ncredential-provider = [{:?}{}]\n",
                corp,
                args.iter().map(|a| format!(", {a:?}")).collect::<String>()
            ),
            Providers::Global(list) => format!(
                "[registries.{registry}]\nindex = {index_url:?}\n\n[registry]\nglobal-credential-providers = [{}]\n",
                quote(list)
            ),
        };
        write(&home.join("config.toml"), &config);
        let mut env = provider_env(dir.path(), "corp-");
        env.insert("CARGO_HOME".into(), home.display().to_string());
        env.insert("CARGO_TERM_COLOR".into(), "never".into());
        env.insert(
            "CARGO_TARGET_DIR".into(),
            dir.path().join("target").display().to_string(),
        );
        CargoHome {
            dir,
            registry: registry.to_owned(),
            env,
            secrets: Vec::new(),
            seeded: Vec::new(),
        }
    }

    /// Points the provider at a keyring's bus.
    pub fn bus(&mut self, address: &str) -> &mut Self {
        self.env
            .insert("DBUS_SESSION_BUS_ADDRESS".into(), address.into());
        self
    }

    /// Sets an environment variable for cargo (and so for the provider).
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Writes the provider's user config file.
    pub fn corp_config(&self, text: &str) -> &Self {
        write(&self.dir.path().join("corp-user.toml"), text);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: &str) -> &mut Self {
        self.env.remove(key);
        self
    }

    /// Declares a secret that must never appear in any output.
    pub fn secret(&mut self, value: &str) -> &mut Self {
        self.secrets.push(value.into());
        self
    }

    /// The Cargo home folder.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("cargo-home")
    }

    /// The whole temporary folder (Cargo home, crates, target).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Creates a library crate `name` at `version` with no dependencies.
    pub fn new_lib(&self, name: &str, version: &str) -> PathBuf {
        let path = self
            .dir
            .path()
            .join("crates")
            .join(format!("{name}-{version}"));
        write(
            &path.join("Cargo.toml"),
            &format!(
                "[package]\nname = {name:?}\nversion = {version:?}\nedition = \"2021\"\n\
                 description = \"e2e test crate\"\nlicense = \"MIT\"\npublish = [{:?}]\n",
                self.registry
            ),
        );
        write(
            &path.join("src/lib.rs"),
            "pub fn answer() -> u32 {\n    42\n}\n",
        );
        path
    }

    /// Creates a binary crate that depends on `dep` `req` from the registry.
    pub fn new_app(&self, name: &str, dep: &str, req: &str) -> PathBuf {
        let path = self.dir.path().join("crates").join(name);
        write(
            &path.join("Cargo.toml"),
            &format!(
                "[package]\nname = {name:?}\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\n{dep} = {{ version = {req:?}, registry = {:?} }}\n",
                self.registry
            ),
        );
        write(
            &path.join("src/main.rs"),
            &format!(
                "fn main() {{\n    assert_eq!({}::answer(), 42);\n}}\n",
                dep.replace('-', "_")
            ),
        );
        path
    }

    /// Runs `cargo args...` in `cwd` (within 5 min), with `stdin`, and checks
    /// that no declared secret appears in its output.
    pub fn cargo(&self, cwd: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("cargo");
        cmd.args(args).current_dir(cwd).env_clear().envs(&self.env);
        let out = process::run(cmd, stdin, Duration::from_secs(300));
        out.assert_free_of(&self.secrets);
        out
    }

    /// Runs `cmd` (within 5 min) with exactly this home's environment, and
    /// checks that no declared secret appears in its output.
    pub fn run_with_env(&self, mut cmd: Command) -> Output {
        cmd.env_clear().envs(&self.env);
        let out = process::run(cmd, None, Duration::from_secs(300));
        out.assert_free_of(&self.secrets);
        out
    }

    /// Starts `cargo args...` in `cwd` on a terminal (for sign-ins).
    pub fn cargo_on_terminal(&self, cwd: &Path, args: &[&str]) -> super::pty::Pty {
        let argv: Vec<&str> = std::iter::once("cargo")
            .chain(args.iter().copied())
            .collect();
        super::pty::Pty::spawn(&argv, cwd, &self.env)
    }

    /// A `get` of this provider for the registry at `index_url`, run
    /// directly (as Cargo would) with this home's environment: its output.
    pub fn provider_get(&self, index_url: &str, operation: &str) -> Output {
        let mut cmd = Command::new(super::provider_bin());
        cmd.arg("--cargo-plugin").env_clear().envs(&self.env);
        let request = format!(
            "{{\"v\":1,\"registry\":{{\"index-url\":{index_url:?},\"name\":{:?}}},\
             \"kind\":\"get\",\"operation\":{operation:?}{}}}\n",
            self.registry,
            if operation == "read" {
                ""
            } else {
                r#","name":"x","vers":"0.1.0","cksum":"00""#
            }
        );
        let out = process::run(cmd, Some(&request), Duration::from_secs(60));
        out.assert_free_of_except_replies(&self.secrets);
        out
    }

    /// Writes `contents` (holding a token on purpose, e.g. a `credentials.toml`
    /// for `cargo:token`) to `path`; the leak rule does not read that file.
    pub fn seed_file(&mut self, path: &Path, contents: &str) -> &mut Self {
        write(path, contents);
        self.seeded.push(path.to_path_buf());
        self
    }

    /// Declares secrets that must never appear in any output.
    pub fn secrets(&mut self, values: &[&str]) -> &mut Self {
        self.secrets.extend(values.iter().map(|v| (*v).to_owned()));
        self
    }

    /// Every `credentials.toml` (or legacy `credentials`) below the test folder.
    pub fn credential_files(&self) -> Vec<PathBuf> {
        let mut v = super::find_files(self.dir.path(), "credentials.toml");
        v.extend(super::find_files(self.dir.path(), "credentials"));
        v
    }
}

impl Drop for CargoHome {
    /// The leak rule on what cargo and the provider left in the test folder:
    /// Cargo's home (config, credentials, caches), the crates and their
    /// lockfiles. Not read: the build output, and the provider's token cache
    /// (private files that hold tokens by design).
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let root = self.dir.path().to_path_buf();
        let skip = |p: &Path| {
            p == root.join("target")
                || p == root.join("corp-cache").join("tokens")
                || p == root.join("corp-cache").join("sso")
                || p.file_name().is_some_and(|n| n == "target")
                || self.seeded.iter().any(|s| s == p)
        };
        super::leak::check_dir(&root, &self.secrets, &skip);
    }
}
