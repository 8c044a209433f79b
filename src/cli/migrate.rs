//! `cargo-credential-corp migrate`: moves the plain-text tokens `cargo login`
//! left in `$CARGO_HOME/credentials.toml` (with `cargo:token`) into the OS
//! keychain, as this provider's items.
//!
//! Each token is stored under the item for its registry's index URL
//! (crates.io: `sparse+https://index.crates.io/`; a named registry: its
//! `index` in Cargo's config as Cargo reads it from the current directory:
//! `.cargo/config.toml` from here up, then `$CARGO_HOME/config.toml`, with
//! `CARGO_REGISTRIES_<NAME>_INDEX` over them), then read back. Only when
//! every store and read-back succeeded are the `token` keys removed from
//! `credentials.toml` (everything else, comments included, stays; a table
//! left empty goes). A token whose registry has no known index stays where it
//! is. No token is ever printed.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use toml_edit::{DocumentMut, Item};

use super::cargo_config::{self, CargoConfig, CargoOrigin, TomlFile, is_this_entry};
use super::shown::shown;
use crate::env::{Environment, ProcessEnv};
use crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT;
use crate::keychain::{Keychain, OsKeychain, service_name};
use crate::registry::{CRATES_IO, CRATES_IO_INDEXES, env_mangle};
use crate::secret::Token;

/// Arguments of `migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Print what would move; change nothing (the keychain is not touched).
    #[arg(long)]
    dry_run: bool,
}

/// Migrates `$CARGO_HOME/credentials.toml` into the OS keychain and prints
/// the report to stdout.
pub fn run(args: &MigrateArgs) -> anyhow::Result<()> {
    let paths = Paths {
        credentials: cargo_config::credentials_file()?,
        home: cargo_config::cargo_home()?,
        cwd: std::env::current_dir().context("cannot read the current directory")?,
    };
    let mut out = std::io::stdout().lock();
    let result = migrate(&OsKeychain, &paths, &ProcessEnv, args.dry_run, &mut out);
    out.flush()?;
    result
}

/// Where `migrate` reads from.
#[derive(Debug)]
struct Paths {
    /// `credentials.toml`: the tokens.
    credentials: PathBuf,
    /// Cargo's home, whose `config.toml` Cargo reads after the projects'.
    home: PathBuf,
    /// The directory Cargo's config is read from (its `.cargo/config.toml`,
    /// then its parents'): the index URLs of named registries.
    cwd: PathBuf,
}

/// One `token` found in `credentials.toml`.
struct Found {
    /// The table holding it: `["registry"]` or `["registries", NAME]`.
    table: Vec<String>,
    /// The registry's name, as Cargo calls it.
    name: String,
    /// Where its index URL came from (`None` for crates.io's own).
    from: Option<CargoOrigin>,
    /// What happens to it.
    state: State,
}

enum State {
    /// To be moved to the keychain item of this index URL.
    Movable { index: String, token: Token },
    /// Stays in the file, for this reason.
    Stays(String),
    /// Stored and read back (or already there).
    Moved { index: String, already: bool },
    /// The keychain failed on it.
    Failed { index: String, why: String },
    /// Not tried: an earlier one failed.
    NotTried,
}

fn migrate(
    keychain: &dyn Keychain,
    paths: &Paths,
    env: &dyn Environment,
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let file_name = shown(&paths.credentials.display().to_string()).into_owned();
    if !paths.credentials.exists() {
        writeln!(
            out,
            "{file_name} does not exist: there are no plain-text tokens to migrate"
        )?;
        return Ok(());
    }
    // Read, edit and replace under the file's lock (see `setup`).
    let _lock = match dry_run {
        true => None,
        false => Some(super::edit_lock::EditLock::acquire(&paths.credentials)?),
    };
    let mut file = TomlFile::load(&paths.credentials)?;
    let names = registry_names(&file.doc);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let cargo = CargoConfig::read(&paths.cwd, Some(&paths.home), env, &names);
    // Every file Cargo reads must be read here too (the reader skips one it
    // cannot read; here that stops everything, as it stops Cargo): one left
    // out could set another index for a registry.
    for path in &cargo.files {
        TomlFile::load(path)?;
    }
    if !cargo.problems.is_empty() {
        bail!("{}; nothing was changed", cargo.problems.join("; "));
    }
    // What a token is bound to: the user's own config and environment only.
    let trusted = CargoConfig::read_trusted(&paths.home, env, &names);
    let mut found = find_tokens(&file.doc, &trusted, &cargo, paths);
    writeln!(out, "tokens in {file_name}:")?;
    if found.is_empty() {
        writeln!(out, "  none")?;
    }
    let mut failed = false;
    if !dry_run {
        for entry in &mut found {
            let state = std::mem::replace(&mut entry.state, State::NotTried);
            entry.state = match state {
                State::Movable { .. } if failed => State::NotTried,
                State::Movable { index, token } => {
                    let state = move_one(keychain, &entry.name, index, &token);
                    failed = matches!(state, State::Failed { .. });
                    state
                }
                other => other,
            };
        }
    }
    for entry in &found {
        let from = entry
            .from
            .as_ref()
            .map(|o| format!("index from {o}"))
            .unwrap_or_default();
        let (from_alone, from_first) = match from.is_empty() {
            true => (String::new(), String::new()),
            false => (format!(" ({from})"), format!("{from}; ")),
        };
        let line = match &entry.state {
            State::Movable { index, .. } => format!(
                "would move to the keychain item `{}`{from_alone}",
                service_name(index)
            ),
            State::Stays(why) => format!("stays: {why}"),
            State::Moved { index, already } => format!(
                "{} the keychain item `{}` ({from_first}read back: same token)",
                if *already { "already in" } else { "moved to" },
                service_name(index)
            ),
            State::Failed { index, why } => format!(
                "NOT moved: the keychain item `{}`{from_alone} could not be written and read \
                 back: {why}",
                service_name(index)
            ),
            State::NotTried => "not tried (an earlier token could not be moved)".to_owned(),
        };
        // Names, indexes and paths from Cargo's files: shown escaped.
        let line = format!("{} ({}): {line}", entry.name, table_name(&entry.table));
        writeln!(out, "  {}", shown(&line))?;
    }
    let moved: Vec<&Found> = found
        .iter()
        .filter(|f| matches!(f.state, State::Moved { .. }))
        .collect();
    if dry_run {
        writeln!(out, "dry run: nothing was changed")?;
    } else if failed {
        writeln!(
            out,
            "nothing was removed from {file_name}: every token stays there until all of them \
             are in the keychain (copies already stored in the keychain are harmless; running \
             `migrate` again replaces them)"
        )?;
    } else if moved.is_empty() {
        writeln!(out, "nothing was changed in {file_name}")?;
    } else {
        for entry in &moved {
            let table: Vec<&str> = entry.table.iter().map(String::as_str).collect();
            cargo_config::remove_key(&mut file.doc, &table, "token");
        }
        file.save()?;
        writeln!(
            out,
            "removed {} token{} from {file_name}; Cargo gets {} from {} now (run \
             `cargo-credential-corp setup` if Cargo is not set up to use it yet)",
            moved.len(),
            if moved.len() == 1 { "" } else { "s" },
            if moved.len() == 1 { "it" } else { "them" },
            cargo_config::PROVIDER
        )?;
        let missing = not_using_this_provider(&moved, &cargo);
        if !missing.is_empty() {
            let files = match cargo.files.is_empty() {
                true => "no config file".to_owned(),
                false => (cargo.files.iter())
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let warning = format!(
                "warning: Cargo's config as read from {} ({files}) and the environment does \
                 not make Cargo ask {} for {}: run `cargo-credential-corp setup`",
                paths.cwd.display(),
                cargo_config::PROVIDER,
                missing.join(", ")
            );
            writeln!(out, "{}", shown(&warning))?;
        }
    }
    if let Some(note) = legacy_note() {
        writeln!(out, "note: {note}")?;
    }
    if failed {
        bail!(
            "could not move every token into the OS keychain, so {file_name} was left as it \
             was; see the report above, fix the keychain (is it running and unlocked?) and run \
             `cargo-credential-corp migrate` again"
        );
    }
    Ok(())
}

/// Stores `token` for `index` and reads it back. A different token already
/// stored there is not replaced.
fn move_one(keychain: &dyn Keychain, name: &str, index: String, token: &Token) -> State {
    let item = service_name(&index);
    let timeout = INTERACTIVE_KEYCHAIN_TIMEOUT;
    match keychain.read_item(&item, timeout) {
        Ok(Some(stored)) if stored == *token => {
            return State::Moved {
                index,
                already: true,
            };
        }
        Ok(Some(_)) => {
            return State::Stays(format!(
                "the keychain item `{item}` already holds a different token (from an earlier \
                 `cargo login`?); nothing was replaced. Keep one: `cargo logout --registry \
                 {name}` clears the keychain, or delete the line from the file"
            ));
        }
        Ok(None) => {}
        Err(e) => {
            return State::Failed {
                index,
                why: e.to_string(),
            };
        }
    }
    let label = format!("Cargo registry token: {name}");
    if let Err(e) = keychain.store(&index, &label, token, timeout) {
        return State::Failed {
            index,
            why: e.to_string(),
        };
    }
    match keychain.read_item(&item, timeout) {
        Ok(Some(stored)) if stored == *token => State::Moved {
            index,
            already: false,
        },
        Ok(Some(_)) => State::Failed {
            index,
            why: "a different value was read back".to_owned(),
        },
        Ok(None) => State::Failed {
            index,
            why: "nothing was read back".to_owned(),
        },
        Err(e) => State::Failed {
            index,
            why: e.to_string(),
        },
    }
}

fn table_name(table: &[String]) -> String {
    format!("[{}]", table.join("."))
}

/// crates.io's index URL as Cargo sends it: the sparse one, unless Cargo's
/// config says `[registries.crates-io] protocol = "git"`.
fn crates_io_index(cargo: &CargoConfig) -> String {
    let git = cargo.crates_io_protocol.as_deref() == Some("git");
    CRATES_IO_INDEXES[usize::from(git)].to_owned()
}

/// The tables of `[registries]` in `doc` (Cargo's names of registries).
fn registry_names(doc: &DocumentMut) -> Vec<String> {
    doc.get("registries")
        .and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(name, _)| name.to_owned()).collect())
        .unwrap_or_default()
}

/// Every `token` of `[registry]` and `[registries.NAME]`, and where it goes.
/// The index comes from `trusted` (`$CARGO_HOME/config.toml` and the
/// environment), never from a project's `.cargo/config.toml`, which may come
/// with a cloned repository (`cargo`, Cargo's config as seen here, only
/// explains a token that stays). crates.io's tokens go to crates.io's own
/// index, whatever a config says `[registries.crates-io] index` is (Cargo
/// ignores that key too).
fn find_tokens(
    doc: &DocumentMut,
    trusted: &CargoConfig,
    cargo: &CargoConfig,
    paths: &Paths,
) -> Vec<Found> {
    let mut found = Vec::new();
    if let Some(item) = doc
        .get("registry")
        .and_then(Item::as_table_like)
        .and_then(|t| t.get("token"))
    {
        found.push(Found {
            table: vec!["registry".to_owned()],
            name: CRATES_IO.to_owned(),
            from: None,
            state: classify(item, Ok(crates_io_index(trusted))),
        });
    }
    let registries: Vec<(String, &Item)> = doc
        .get("registries")
        .and_then(Item::as_table_like)
        .map(|t| {
            t.iter()
                .filter_map(|(name, item)| {
                    Some((name.to_owned(), item.as_table_like()?.get("token")?))
                })
                .collect()
        })
        .unwrap_or_default();
    let home_config = cargo_config::in_dir(&paths.home, "config");
    for (name, item) in registries {
        let var = format!("CARGO_REGISTRIES_{}_INDEX", env_mangle(&name));
        let (index, from) = if name == CRATES_IO {
            (Ok(crates_io_index(trusted)), None)
        } else if let Some(index) = trusted.indexes.get(&name) {
            (Ok(index.clone()), trusted.index_origins.get(&name).cloned())
        } else if let Some(CargoOrigin::File(project)) = cargo.index_origins.get(&name) {
            (
                Err(format!(
                    "only {} (a project's Cargo config) names its index, and a project's config \
                     may come with a cloned repository: it does not decide where a token goes. \
                     If that registry is yours, add its index to {} (`cargo-credential-corp \
                     setup --registry {name} --index URL`) or set {var}, and run `migrate` again",
                    project.display(),
                    home_config.display()
                )),
                None,
            )
        } else {
            (
                Err(format!(
                    "no index is known for it: {} has no [registries.{name}] index and {var} is \
                     not set (add the index, e.g. with `cargo-credential-corp setup --registry \
                     {name} --index URL`, and run `migrate` again)",
                    home_config.display()
                )),
                None,
            )
        };
        found.push(Found {
            table: vec!["registries".to_owned(), name.clone()],
            name,
            from,
            state: classify(item, index),
        });
    }
    found
}

/// The moved registries for which Cargo's config does not name this
/// provider (their own `credential-provider`, else the global list).
fn not_using_this_provider<'a>(moved: &[&'a Found], cargo: &CargoConfig) -> Vec<&'a str> {
    moved
        .iter()
        .filter(|f| {
            let (chain, _) = cargo.chain(Some(&f.name));
            !chain.iter().any(|e| is_this_entry(e))
        })
        .map(|f| f.name.as_str())
        .collect()
}

fn classify(item: &Item, index: Result<String, String>) -> State {
    let Some(text) = item.as_str() else {
        return State::Stays("its `token` is not a string".to_owned());
    };
    let token = match Token::parse(text.to_owned(), "credentials.toml") {
        Ok(Some(token)) => token,
        Ok(None) => return State::Stays("its `token` is empty".to_owned()),
        Err(_) => {
            return State::Stays(
                "its `token` contains a control character, so it cannot be sent anyway".to_owned(),
            );
        }
    };
    match index {
        Ok(index) => State::Movable { index, token },
        Err(why) => State::Stays(why),
    }
}

/// What to say about the keychain items of Cargo's own keychain provider.
fn legacy_note() -> Option<&'static str> {
    if cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) {
        Some(
            "tokens that Cargo's `cargo:libsecret` stored in the keychain need no migration: \
             this provider reads them where they are",
        )
    } else if cfg!(windows) {
        Some(
            "tokens that Cargo's `cargo:wincred` stored need no migration: this provider \
             reads them where they are",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::keychain::KeychainError;

    /// An in-memory keychain whose writes can be made to fail.
    #[derive(Default)]
    struct Fake {
        items: RefCell<HashMap<String, String>>,
        fail_store_for: Option<&'static str>,
    }

    impl Keychain for Fake {
        fn read(&self, index_url: &str, t: Duration) -> Result<Option<Token>, KeychainError> {
            self.read_item(&service_name(index_url), t)
        }
        fn store(
            &self,
            index_url: &str,
            label: &str,
            token: &Token,
            t: Duration,
        ) -> Result<(), KeychainError> {
            if self.fail_store_for == Some(index_url) {
                return Err(KeychainError::new("the keychain is locked"));
            }
            self.store_item(&service_name(index_url), label, token, t)
        }
        fn remove(&self, index_url: &str, _: Duration) -> Result<bool, KeychainError> {
            Ok(self
                .items
                .borrow_mut()
                .remove(&service_name(index_url))
                .is_some())
        }
        fn read_item(&self, service: &str, _: Duration) -> Result<Option<Token>, KeychainError> {
            Ok(self.items.borrow().get(service).cloned().map(Token::new))
        }
        fn store_item(
            &self,
            service: &str,
            _: &str,
            secret: &Token,
            _: Duration,
        ) -> Result<(), KeychainError> {
            self.items
                .borrow_mut()
                .insert(service.to_owned(), secret.expose().to_owned());
            Ok(())
        }
        fn remove_item(&self, service: &str, _: Duration) -> Result<bool, KeychainError> {
            Ok(self.items.borrow_mut().remove(service).is_some())
        }
    }

    const CREDS: &str = "# written by cargo login\n[registry]\ntoken = \"cio-tok-1\"\n\n[registries.corp]\ntoken = \"corp-tok-2\" # from the portal\n\n[registries.lost]\ntoken = \"lost-tok-3\"\n\n[registries.kept]\nsecret-key = \"k3.secret.x\"\n";
    const CONFIG: &str = "[registries.corp]\nindex = \"sparse+https://corp.example/\"\n";

    /// A Cargo home (`home/`, with `credentials.toml` and [`CONFIG`]) and
    /// a project folder (`project/`, no config) that is the current
    /// directory.
    fn setup(creds: &str) -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cwd = dir.path().join("project");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        let paths = Paths {
            credentials: home.join("credentials.toml"),
            home,
            cwd,
        };
        std::fs::write(&paths.credentials, creds).unwrap();
        std::fs::write(paths.home.join("config.toml"), CONFIG).unwrap();
        (dir, paths)
    }

    /// Writes `.cargo/config.toml` in `dir` (created); its path.
    fn project_config(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join(".cargo").join("config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn report(keychain: &Fake, paths: &Paths, dry_run: bool) -> (anyhow::Result<()>, String) {
        report_env(keychain, paths, &HashMap::new(), dry_run)
    }

    fn report_env(
        keychain: &Fake,
        paths: &Paths,
        env: &HashMap<String, String>,
        dry_run: bool,
    ) -> (anyhow::Result<()>, String) {
        let mut out = Vec::new();
        let result = migrate(keychain, paths, env, dry_run, &mut out);
        let out = String::from_utf8(out).unwrap();
        let err = match &result {
            Ok(()) => String::new(),
            Err(e) => format!("{e:#}"),
        };
        for token in ["cio-tok-1", "corp-tok-2", "lost-tok-3", "k3.secret.x"] {
            assert!(!out.contains(token), "{out}");
            assert!(!err.contains(token), "{err}");
        }
        (result, out)
    }

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn moves_what_has_an_index_and_keeps_the_rest() {
        let (_dir, paths) = setup(CREDS);
        let keychain = Fake::default();
        let (result, out) = report(&keychain, &paths, false);
        result.unwrap();
        let items = keychain.items.borrow();
        assert_eq!(
            items["cargo-registry:sparse+https://index.crates.io/"],
            "cio-tok-1"
        );
        assert_eq!(
            items["cargo-registry:sparse+https://corp.example/"],
            "corp-tok-2"
        );
        assert_eq!(items.len(), 2);
        assert!(
            out.contains("lost ([registries.lost]): stays: no index"),
            "{out}"
        );
        assert!(out.contains("removed 2 tokens"), "{out}");
        assert!(
            out.contains("does not make Cargo ask cargo-credential-corp for crates-io, corp"),
            "{out}"
        );
        assert!(out.contains("cargo:libsecret") || !cfg!(target_os = "linux"));
        assert_eq!(
            std::fs::read_to_string(&paths.credentials).unwrap(),
            "# written by cargo login\n\n[registries.lost]\ntoken = \"lost-tok-3\"\n\n[registries.kept]\nsecret-key = \"k3.secret.x\"\n"
        );
        drop(items);
        // Again: nothing left to move.
        let (result, out) = report(&keychain, &paths, false);
        result.unwrap();
        assert!(out.contains("nothing was changed"), "{out}");
    }

    /// Cargo's config with `text` as its only file (`$CARGO_HOME/config.toml`).
    fn cargo_config(text: &str, vars: &[(&str, &str)]) -> CargoConfig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        CargoConfig::read(dir.path(), Some(dir.path()), &env(vars), &["a", "b", "c"])
    }

    #[test]
    fn crates_io_over_git_and_configured_providers() {
        let text = "[registries.crates-io]\nprotocol = \"git\"\n\n[registries.a]\ncredential-provider = \"cargo-credential-corp\"\n[registries.b]\ncredential-provider = \"cargo:token\"\n";
        let config = cargo_config(text, &[]);
        assert_eq!(
            crates_io_index(&config),
            "https://github.com/rust-lang/crates.io-index"
        );
        assert_eq!(
            crates_io_index(&cargo_config("", &[])),
            "sparse+https://index.crates.io/"
        );
        assert_eq!(
            crates_io_index(&cargo_config(
                "",
                &[("CARGO_REGISTRIES_CRATES_IO_PROTOCOL", "git")]
            )),
            "https://github.com/rust-lang/crates.io-index"
        );
        let found = |name: &str| Found {
            table: vec!["registries".into(), name.into()],
            name: name.into(),
            from: None,
            state: State::NotTried,
        };
        let (a, b, c) = (found("a"), found("b"), found("c"));
        assert_eq!(not_using_this_provider(&[&a, &b, &c], &config), ["b", "c"]);
        let global = "[registry]\nglobal-credential-providers = [\"cargo-credential-corp\"]\n";
        assert!(not_using_this_provider(&[&a, &c], &cargo_config(global, &[])).is_empty());
        // The environment overrides a registry's own provider.
        let config = cargo_config(
            global,
            &[("CARGO_REGISTRIES_C_CREDENTIAL_PROVIDER", "cargo:token")],
        );
        assert_eq!(not_using_this_provider(&[&a, &c], &config), ["c"]);
    }

    #[test]
    fn a_projects_config_never_decides_where_a_token_goes() {
        let (_dir, paths) = setup(CREDS);
        // A cloned repository's config: names `lost`, moves `corp`
        // elsewhere, and names this provider so that Cargo would ask it.
        let project = project_config(
            &paths.cwd,
            "[registries.lost]\nindex = \"sparse+https://lost.example/\"\n\n\
             [registries.corp]\nindex = \"sparse+https://attacker.example/\"\n\n\
             [registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]\n",
        );
        // From a folder below the project's root, as Cargo reads it.
        let paths = Paths {
            cwd: paths.cwd.join("crates").join("app"),
            ..paths
        };
        std::fs::create_dir_all(&paths.cwd).unwrap();
        let keychain = Fake::default();
        let (result, out) = report(&keychain, &paths, false);
        result.unwrap();
        let home_config = paths.home.join("config.toml");
        for line in [
            // The user's own config decides, not the project's.
            format!(
                "corp ([registries.corp]): moved to the keychain item \
                 `cargo-registry:sparse+https://corp.example/` (index from {}; read back: same \
                 token)",
                home_config.display()
            ),
            format!(
                "lost ([registries.lost]): stays: only {} (a project's Cargo config) names its \
                 index",
                project.display()
            ),
            "crates-io ([registry]): moved to the keychain item \
             `cargo-registry:sparse+https://index.crates.io/` (read back: same token)"
                .to_owned(),
            "removed 2 tokens".to_owned(),
        ] {
            assert!(out.contains(&line), "{line}\n{out}");
        }
        assert!(!out.contains("attacker.example"), "{out}");
        // Cargo, run here, would ask this provider (the project's list).
        assert!(!out.contains("warning"), "{out}");
        let items = keychain.items.borrow();
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(
            items["cargo-registry:sparse+https://corp.example/"],
            "corp-tok-2"
        );
        assert!(
            std::fs::read_to_string(&paths.credentials)
                .unwrap()
                .contains("lost-tok-3")
        );
    }

    #[test]
    fn the_environment_decides_and_crates_io_stays_crates_io() {
        let creds = "[registries.crates-io]\ntoken = \"cio-tok-1\"\n\n\
                     [registries.corp]\ntoken = \"corp-tok-2\"\n";
        let (_dir, paths) = setup(creds);
        // `[registries.crates-io] index` is ignored by Cargo, and here: in
        // the user's own config, a project's, or the environment.
        std::fs::write(
            paths.home.join("config.toml"),
            format!("{CONFIG}[registries.crates-io]\nindex = \"sparse+https://evil.example/\"\n"),
        )
        .unwrap();
        project_config(
            &paths.cwd,
            "[registries.crates-io]\nindex = \"sparse+https://evil2.example/\"\n",
        );
        let vars = env(&[
            ("CARGO_REGISTRIES_CORP_INDEX", "sparse+https://env.example/"),
            (
                "CARGO_REGISTRIES_CRATES_IO_INDEX",
                "sparse+https://evil3.example/",
            ),
        ]);
        let keychain = Fake::default();
        let (result, out) = report_env(&keychain, &paths, &vars, false);
        result.unwrap();
        assert!(
            out.contains(
                "corp ([registries.corp]): moved to the keychain item \
                 `cargo-registry:sparse+https://env.example/` (index from \
                 CARGO_REGISTRIES_CORP_INDEX; read back: same token)"
            ),
            "{out}"
        );
        assert!(!out.contains("evil"), "{out}");
        let items = keychain.items.borrow();
        assert_eq!(
            items["cargo-registry:sparse+https://index.crates.io/"],
            "cio-tok-1"
        );
        assert_eq!(
            items["cargo-registry:sparse+https://env.example/"],
            "corp-tok-2"
        );
        assert_eq!(items.len(), 2, "{items:?}");
    }

    #[test]
    fn a_registry_only_in_the_environment_is_migrated() {
        let (_dir, paths) = setup(CREDS);
        let vars = env(&[
            (
                "CARGO_REGISTRIES_LOST_INDEX",
                "sparse+https://lost-env.example/",
            ),
            (
                "CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS",
                "cargo-credential-corp",
            ),
        ]);
        let keychain = Fake::default();
        let (result, out) = report_env(&keychain, &paths, &vars, false);
        result.unwrap();
        assert!(
            out.contains("(index from CARGO_REGISTRIES_LOST_INDEX; read back: same token)"),
            "{out}"
        );
        assert!(out.contains("removed 3 tokens"), "{out}");
        assert!(!out.contains("warning"), "{out}");
        assert_eq!(
            keychain.items.borrow()["cargo-registry:sparse+https://lost-env.example/"],
            "lost-tok-3"
        );
    }

    #[test]
    fn a_broken_project_config_changes_nothing() {
        let (_dir, paths) = setup(CREDS);
        let project = project_config(
            &paths.cwd,
            "[registries.lost]\nindex = \"sparse+https://lost.example/\nx = \"lost-tok-3\"\n",
        );
        for dry_run in [true, false] {
            let keychain = Fake::default();
            let (result, out) = report(&keychain, &paths, dry_run);
            let err = result.unwrap_err().to_string();
            assert!(
                err.contains(&project.display().to_string())
                    && err.contains("line 2")
                    && err.contains("nothing was changed"),
                "{err}"
            );
            assert!(keychain.items.borrow().is_empty(), "{out}");
            assert_eq!(std::fs::read_to_string(&paths.credentials).unwrap(), CREDS);
        }
    }

    #[test]
    fn one_failure_removes_nothing() {
        let (_dir, paths) = setup(CREDS);
        let keychain = Fake {
            fail_store_for: Some("sparse+https://corp.example/"),
            ..Fake::default()
        };
        let (result, out) = report(&keychain, &paths, false);
        let err = result.unwrap_err().to_string();
        assert!(err.contains("left as it was"), "{err}");
        assert!(out.contains("NOT moved") && out.contains("locked"), "{out}");
        assert!(out.contains("nothing was removed"), "{out}");
        assert_eq!(std::fs::read_to_string(&paths.credentials).unwrap(), CREDS);
    }

    #[test]
    fn a_different_token_in_the_keychain_is_not_replaced() {
        let (_dir, paths) = setup(CREDS);
        let keychain = Fake::default();
        keychain.items.borrow_mut().insert(
            "cargo-registry:sparse+https://corp.example/".into(),
            "newer".into(),
        );
        let (result, out) = report(&keychain, &paths, false);
        result.unwrap();
        assert!(out.contains("already holds a different token"), "{out}");
        let text = std::fs::read_to_string(&paths.credentials).unwrap();
        assert!(
            text.contains("corp-tok-2") && !text.contains("cio-tok-1"),
            "{text}"
        );
        assert_eq!(
            keychain.items.borrow()["cargo-registry:sparse+https://corp.example/"],
            "newer"
        );
    }

    #[test]
    fn dry_run_touches_nothing() {
        let (_dir, paths) = setup(CREDS);
        let keychain = Fake::default();
        let (result, out) = report(&keychain, &paths, true);
        result.unwrap();
        assert!(
            out.contains("would move") && out.contains("dry run"),
            "{out}"
        );
        assert!(keychain.items.borrow().is_empty());
        assert_eq!(std::fs::read_to_string(&paths.credentials).unwrap(), CREDS);
    }

    #[test]
    fn no_file_and_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            credentials: dir.path().join("credentials.toml"),
            home: dir.path().to_owned(),
            cwd: dir.path().to_owned(),
        };
        let (result, out) = report(&Fake::default(), &paths, false);
        result.unwrap();
        assert!(out.contains("does not exist"), "{out}");
        std::fs::write(&paths.credentials, "[registry]\ntoken = \"cio-tok-1\n").unwrap();
        let (result, _) = report(&Fake::default(), &paths, false);
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("line 2") && !err.contains("cio-tok-1"),
            "{err}"
        );
    }
}
