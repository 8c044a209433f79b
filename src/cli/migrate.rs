//! `cargo-credential-corp migrate`: moves the plain-text tokens `cargo login`
//! left in `$CARGO_HOME/credentials.toml` (with `cargo:token`) into the OS
//! keychain, as this provider's items.
//!
//! Each token is stored under the item for its registry's index URL
//! (crates.io: `sparse+https://index.crates.io/`; a named registry: its
//! `index` in `$CARGO_HOME/config.toml`), then read back. Only when every
//! store and read-back succeeded are the `token` keys removed from
//! `credentials.toml` (everything else, comments included, stays; a table
//! left empty goes). A token whose registry has no known index stays where it
//! is. No token is ever printed.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;
use toml_edit::{DocumentMut, Item, Value};

use super::cargo_config::{self, TomlFile, credential_provider_program, is_this_provider};
use crate::keychain::{Keychain, OsKeychain, service_name};
use crate::registry::{CRATES_IO, CRATES_IO_INDEXES};
use crate::secret::Token;
use crate::source::INTERACTIVE_KEYCHAIN_TIMEOUT;

/// Arguments of `migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print what would move; change nothing (the keychain is not touched).
    #[arg(long)]
    dry_run: bool,
}

/// Migrates `$CARGO_HOME/credentials.toml` into the OS keychain and prints
/// the report to stdout.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let paths = Paths {
        credentials: cargo_config::credentials_file()?,
        config: cargo_config::global_config()?,
    };
    let mut out = std::io::stdout().lock();
    let result = migrate(&OsKeychain, &paths, args.dry_run, &mut out);
    out.flush()?;
    result
}

/// The files `migrate` reads.
#[derive(Debug)]
struct Paths {
    /// `credentials.toml`: the tokens.
    credentials: PathBuf,
    /// `config.toml`: the index URLs of named registries.
    config: PathBuf,
}

/// One `token` found in `credentials.toml`.
struct Found {
    /// The table holding it: `["registry"]` or `["registries", NAME]`.
    table: Vec<String>,
    /// The registry's name, as Cargo calls it.
    name: String,
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
    dry_run: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let file_name = paths.credentials.display().to_string();
    if !paths.credentials.exists() {
        writeln!(
            out,
            "{file_name} does not exist: there are no plain-text tokens to migrate"
        )?;
        return Ok(());
    }
    let mut file = TomlFile::load(&paths.credentials)?;
    let config = match paths.config.is_file() {
        true => Some(TomlFile::load(&paths.config)?.doc),
        false => None,
    };
    let mut found = find_tokens(&file.doc, config.as_ref(), &paths.config);
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
        let line = match &entry.state {
            State::Movable { index, .. } => {
                format!("would move to the keychain item `{}`", service_name(index))
            }
            State::Stays(why) => format!("stays: {why}"),
            State::Moved { index, already } => format!(
                "{} the keychain item `{}` (read back: same token)",
                if *already { "already in" } else { "moved to" },
                service_name(index)
            ),
            State::Failed { index, why } => format!(
                "NOT moved: the keychain item `{}` could not be written and read back: {why}",
                service_name(index)
            ),
            State::NotTried => "not tried (an earlier token could not be moved)".to_owned(),
        };
        writeln!(
            out,
            "  {} ({}): {line}",
            entry.name,
            table_name(&entry.table)
        )?;
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
        let missing = not_using_this_provider(&moved, config.as_ref());
        if !missing.is_empty() {
            writeln!(
                out,
                "warning: {} does not make Cargo ask {} for {}: run `cargo-credential-corp \
                 setup` (unless a project's .cargo/config.toml or the environment does)",
                paths.config.display(),
                cargo_config::PROVIDER,
                missing.join(", ")
            )?;
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
fn crates_io_index(config: Option<&DocumentMut>) -> String {
    let git = config
        .and_then(|c| c.get("registries"))
        .and_then(|r| r.get(CRATES_IO))
        .and_then(|r| r.get("protocol"))
        .and_then(Item::as_str)
        == Some("git");
    CRATES_IO_INDEXES[usize::from(git)].to_owned()
}

/// Every `token` of `[registry]` and `[registries.NAME]`, and where it goes
/// (index URLs from `config`, Cargo's config file at `config_path`).
fn find_tokens(doc: &DocumentMut, config: Option<&DocumentMut>, config_path: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    if let Some(item) = doc
        .get("registry")
        .and_then(Item::as_table_like)
        .and_then(|t| t.get("token"))
    {
        found.push(Found {
            table: vec!["registry".to_owned()],
            name: CRATES_IO.to_owned(),
            state: classify(item, Ok(crates_io_index(config))),
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
    for (name, item) in registries {
        let index = config
            .and_then(|c| c.get("registries"))
            .and_then(|r| r.get(&name))
            .and_then(|r| r.get("index"))
            .and_then(Item::as_str)
            .map(str::to_owned);
        let index = match index {
            Some(index) => Ok(index),
            None if name == CRATES_IO => Ok(crates_io_index(config)),
            None => Err(format!(
                "no index is known for it: {} has no [registries.{name}] index (add it there, \
                 e.g. with `cargo-credential-corp setup --registry {name} --index URL`, and run \
                 `migrate` again)",
                config_path.display()
            )),
        };
        found.push(Found {
            table: vec!["registries".to_owned(), name.clone()],
            name,
            state: classify(item, index),
        });
    }
    found
}

/// The moved registries for which Cargo's config file does not name this
/// provider (its own `credential-provider`, else the global list).
fn not_using_this_provider<'a>(moved: &[&'a Found], config: Option<&DocumentMut>) -> Vec<&'a str> {
    let global = config
        .and_then(|c| c.get("registry"))
        .and_then(|r| r.get("global-credential-providers"))
        .and_then(Item::as_array)
        .is_some_and(|a| a.iter().filter_map(Value::as_str).any(is_this_provider));
    moved
        .iter()
        .filter(|f| {
            let own = config
                .and_then(|c| c.get(f.table[0].as_str()))
                .and_then(|t| match f.table.get(1) {
                    Some(name) => t.get(name.as_str())?.get("credential-provider"),
                    None => t.get("credential-provider"),
                });
            match own.map(credential_provider_program) {
                Some(program) => !program.is_some_and(is_this_provider),
                None => !global,
            }
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

    fn setup(creds: &str) -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            credentials: dir.path().join("credentials.toml"),
            config: dir.path().join("config.toml"),
        };
        std::fs::write(&paths.credentials, creds).unwrap();
        std::fs::write(&paths.config, CONFIG).unwrap();
        (dir, paths)
    }

    fn report(keychain: &Fake, paths: &Paths, dry_run: bool) -> (anyhow::Result<()>, String) {
        let mut out = Vec::new();
        let result = migrate(keychain, paths, dry_run, &mut out);
        let out = String::from_utf8(out).unwrap();
        for token in ["cio-tok-1", "corp-tok-2", "lost-tok-3", "k3.secret.x"] {
            assert!(!out.contains(token), "{out}");
        }
        (result, out)
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

    #[test]
    fn crates_io_over_git_and_configured_providers() {
        let config: DocumentMut = "[registries.crates-io]\nprotocol = \"git\"\n\n[registries.a]\ncredential-provider = \"cargo-credential-corp\"\n[registries.b]\ncredential-provider = \"cargo:token\"\n".parse().unwrap();
        assert_eq!(
            crates_io_index(Some(&config)),
            "https://github.com/rust-lang/crates.io-index"
        );
        assert_eq!(crates_io_index(None), "sparse+https://index.crates.io/");
        let found = |name: &str| Found {
            table: vec!["registries".into(), name.into()],
            name: name.into(),
            state: State::NotTried,
        };
        let (a, b, c) = (found("a"), found("b"), found("c"));
        assert_eq!(
            not_using_this_provider(&[&a, &b, &c], Some(&config)),
            ["b", "c"]
        );
        let global: DocumentMut =
            "[registry]\nglobal-credential-providers = [\"cargo-credential-corp\"]\n"
                .parse()
                .unwrap();
        assert!(not_using_this_provider(&[&a, &c], Some(&global)).is_empty());
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
            config: dir.path().join("config.toml"),
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
