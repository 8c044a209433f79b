//! What Cargo makes of its files ([`CargoConfig`]): the config files from the
//! current directory up, then `$CARGO_HOME/config.toml`, and the `CARGO_*`
//! variables that override them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::paths::{cargo_home, in_dir, is_this_program};
use crate::cargo_files::MAX_CONFIG_BYTES;
use crate::env::{Environment, ProcessEnv};
use crate::fs::{Owner, ReadError};
use crate::registry::{CRATES_IO, env_mangle};

/// Where a setting Cargo uses came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CargoOrigin {
    /// A config file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
}

impl std::fmt::Display for CargoOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CargoOrigin::File(path) => write!(f, "{}", path.display()),
            CargoOrigin::Env(var) => f.write_str(var),
        }
    }
}

/// Cargo's view of the registries, read the way Cargo reads it: the config
/// files from the current directory up, then `$CARGO_HOME/config.toml`, and
/// the `CARGO_*` variables that override them; and `credentials.toml`. Only
/// registries, their credential providers and plaintext tokens (whose values
/// are never kept).
#[derive(Debug, Default)]
pub struct CargoConfig {
    /// Config files read, highest precedence first.
    pub files: Vec<PathBuf>,
    /// `[registries.NAME] index`, by name (highest precedence wins).
    pub indexes: BTreeMap<String, String>,
    /// Where each of [`indexes`](Self::indexes) came from.
    pub index_origins: BTreeMap<String, CargoOrigin>,
    /// `[registries.crates-io] protocol`, if set.
    pub crates_io_protocol: Option<String>,
    /// `[registries.NAME] credential-provider` (and `[registry]` for
    /// crates.io), by name, each as words.
    pub registry_providers: BTreeMap<String, Vec<String>>,
    /// `[registry] global-credential-providers`, merged as Cargo merges
    /// arrays (lower precedence first), each entry as words.
    pub global_providers: Option<Vec<Vec<String>>>,
    /// Registries with a `token` in `credentials.toml` (names only), and the
    /// file ([`load`](Self::load) only).
    pub plaintext_tokens: Vec<(String, PathBuf)>,
    /// Files that could not be parsed, with why (one that cannot be read is
    /// skipped).
    pub problems: Vec<String>,
}

pub(super) fn words(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        toml::Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// Why an index URL cannot be used as written: empty (Cargo refuses it), or
/// with spaces around it (Cargo trims them, so a token bound to it as
/// written would be asked for under another URL).
pub(super) fn unusable_index(index: &str) -> Option<&'static str> {
    if index.trim().is_empty() {
        Some("is empty")
    } else if index.trim() != index {
        Some("has spaces around it")
    } else {
        None
    }
}

/// The table of the config file `path`, read with [`crate::fs::read`]
/// (never blocking on a FIFO, at most [`MAX_CONFIG_BYTES`], owned as `owner`
/// says); `None` when it is missing, else with why in `problems` (the
/// reason only, never the contents).
pub(super) fn read_toml(
    path: &Path,
    owner: Owner,
    problems: &mut Vec<String>,
) -> Option<toml::Table> {
    let text = match crate::fs::read(path, MAX_CONFIG_BYTES, owner) {
        Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
            Ok(text) => text,
            Err(_) => {
                problems.push(format!("{} is not UTF-8 text", path.display()));
                return None;
            }
        },
        Err(ReadError::NotFound) => return None,
        Err(e @ (ReadError::ForeignOwner(_) | ReadError::Writable(_))) => {
            problems.push(format!(
                "{} {e}, so it is not read: it decides which index gets a token. Make it yours \
                 and `chmod go-w` it",
                path.display()
            ));
            return None;
        }
        Err(e) => {
            problems.push(format!("{} {e}", path.display()));
            return None;
        }
    };
    match text.parse::<toml::Table>() {
        Ok(table) => Some(table),
        Err(e) => {
            // The position only: a config file may hold a token.
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            problems.push(format!("{} is not valid TOML{at}", path.display()));
            None
        }
    }
}

/// A variable of `env`, if set to valid Unicode.
pub(super) fn env_var(env: &dyn Environment, key: &str) -> Option<String> {
    env.var_os(key)?.into_string().ok()
}

impl CargoConfig {
    /// Reads Cargo's configuration as seen from `cwd` (with `$CARGO_HOME` and
    /// the variables of this process; `names`: registries whose variables
    /// are read even if no file names them), and which registries
    /// `credentials.toml` holds a token for.
    pub fn load(cwd: &Path, names: &[&str]) -> CargoConfig {
        let home = cargo_home().ok();
        let mut config = CargoConfig::read(cwd, home.as_deref(), &ProcessEnv, names);
        if let Some(home) = &home {
            config.read_credentials(home);
        }
        config
    }

    /// Reads Cargo's configuration as seen from `cwd`: the config files from
    /// `cwd` up, then the one in `home` (Cargo's home, when known), then the
    /// variables of `env`. The `CARGO_REGISTRIES_<NAME>_*` variables are read
    /// for the registries the files name and for `names` (Cargo reads them
    /// for any registry it is asked about, named in a file or not).
    pub fn read(
        cwd: &Path,
        home: Option<&Path>,
        env: &dyn Environment,
        names: &[&str],
    ) -> CargoConfig {
        let files = crate::cargo_files::config_files(Some(cwd), home);
        CargoConfig::from_files(files, Owner::Anyone, env, names)
    }

    /// Only the user's own settings: `$CARGO_HOME/config.toml` (of `home`)
    /// and the variables of `env`, no project's `.cargo/config.toml`. What
    /// a token may be bound to: a project's config may come from a cloned
    /// repository, and must not decide which index receives a login. As it
    /// routes tokens, the file is read only when this user or root owns it
    /// and nobody else may write it (Cargo itself does not check).
    pub fn read_trusted(home: &Path, env: &dyn Environment, names: &[&str]) -> CargoConfig {
        let file = in_dir(home, "config");
        let files = if file.is_file() {
            vec![file]
        } else {
            Vec::new()
        };
        CargoConfig::from_files(files, Owner::SelfOrRoot, env, names)
    }

    /// `files` (highest precedence first, each read if `owner` may have
    /// written it), then the variables of `env`.
    fn from_files(
        files: Vec<PathBuf>,
        owner: Owner,
        env: &dyn Environment,
        names: &[&str],
    ) -> CargoConfig {
        let mut config = CargoConfig::default();
        // Lowest precedence first, so that later values win and arrays join
        // in Cargo's order.
        for path in files.iter().rev() {
            let Some(table) = read_toml(path, owner, &mut config.problems) else {
                continue;
            };
            config.apply(&table, path);
        }
        config.apply_env(env, names);
        config.files = files;
        config
    }

    /// The values of one config file (`path`) over those read so far.
    pub(super) fn apply(&mut self, table: &toml::Table, path: &Path) {
        if let Some(registry) = table.get("registry").and_then(toml::Value::as_table) {
            if let Some(p) = registry.get("credential-provider").and_then(words) {
                self.registry_providers.insert(CRATES_IO.to_owned(), p);
            }
            if let Some(list) = registry
                .get("global-credential-providers")
                .and_then(toml::Value::as_array)
            {
                let entries = list
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
                self.global_providers
                    .get_or_insert_with(Vec::new)
                    .extend(entries);
            }
        }
        if let Some(registries) = table.get("registries").and_then(toml::Value::as_table) {
            for (name, r) in registries {
                let Some(r) = r.as_table() else { continue };
                if let Some(index) = r.get("index").and_then(toml::Value::as_str) {
                    if let Some(why) = unusable_index(index) {
                        self.problems.push(format!(
                            "{}: [registries.{}] index {why}",
                            path.display(),
                            name.escape_debug()
                        ));
                    } else {
                        self.indexes.insert(name.clone(), index.to_owned());
                        self.index_origins
                            .insert(name.clone(), CargoOrigin::File(path.to_owned()));
                    }
                }
                if let Some(p) = r.get("credential-provider").and_then(words) {
                    self.registry_providers.insert(name.clone(), p);
                }
                if name == CRATES_IO
                    && let Some(protocol) = r.get("protocol").and_then(toml::Value::as_str)
                {
                    self.crates_io_protocol = Some(protocol.to_owned());
                }
            }
        }
    }

    /// `CARGO_REGISTRIES_<NAME>_INDEX` and `_CREDENTIAL_PROVIDER` for the
    /// names known from the files and for `names`, crates.io's
    /// `_PROTOCOL`, and the global list's variable.
    pub(super) fn apply_env(&mut self, env: &dyn Environment, names: &[&str]) {
        let mut all: Vec<String> = self.indexes.keys().cloned().collect();
        for name in names {
            if !all.iter().any(|n| n == name) {
                all.push((*name).to_owned());
            }
        }
        for name in all {
            let key = env_mangle(&name);
            let var = format!("CARGO_REGISTRIES_{key}_INDEX");
            if let Some(index) = env_var(env, &var) {
                if let Some(why) = unusable_index(&index) {
                    self.problems.push(format!("{var} {why}"));
                } else {
                    self.indexes.insert(name.clone(), index);
                    self.index_origins
                        .insert(name.clone(), CargoOrigin::Env(var));
                }
            }
            if let Some(p) = env_var(env, &format!("CARGO_REGISTRIES_{key}_CREDENTIAL_PROVIDER")) {
                self.registry_providers
                    .insert(name, p.split_whitespace().map(str::to_owned).collect());
            }
        }
        // crates.io's own provider: `[registry] credential-provider`.
        if let Some(p) = env_var(env, "CARGO_REGISTRY_CREDENTIAL_PROVIDER") {
            self.registry_providers.insert(
                CRATES_IO.to_owned(),
                p.split_whitespace().map(str::to_owned).collect(),
            );
        }
        if let Some(protocol) = env_var(env, "CARGO_REGISTRIES_CRATES_IO_PROTOCOL") {
            self.crates_io_protocol = Some(protocol);
        }
        if let Some(list) = env_var(env, "CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS") {
            // A space-separated list in the variable: one word per provider.
            self.global_providers
                .get_or_insert_with(Vec::new)
                .extend(list.split_whitespace().map(|w| vec![w.to_owned()]));
        }
    }

    fn read_credentials(&mut self, home: &Path) {
        for name in ["credentials.toml", "credentials"] {
            let path = home.join(name);
            let Some(table) = read_toml(&path, Owner::Anyone, &mut self.problems) else {
                continue;
            };
            if table.get("registry").and_then(|r| r.get("token")).is_some() {
                self.plaintext_tokens
                    .push((CRATES_IO.to_owned(), path.clone()));
            }
            if let Some(registries) = table.get("registries").and_then(toml::Value::as_table) {
                for (registry, r) in registries {
                    if r.get("token").is_some() {
                        self.plaintext_tokens.push((registry.clone(), path.clone()));
                    }
                }
            }
        }
    }

    /// The providers Cargo tries for the registry `name`, in the order it
    /// tries them: a registry's own `credential-provider` alone, else the
    /// global list from its last entry to its first (`cargo:token` when
    /// nothing is configured).
    pub fn chain(&self, name: Option<&str>) -> (Vec<Vec<String>>, bool) {
        if let Some(own) = name.and_then(|n| self.registry_providers.get(n)) {
            return (vec![own.clone()], true);
        }
        let global = self
            .global_providers
            .clone()
            .unwrap_or_else(|| vec![vec!["cargo:token".to_owned()]]);
        (global.into_iter().rev().collect(), false)
    }
}

/// Whether a provider entry given as words (its program, then its
/// arguments) is this provider.
pub fn is_this_entry(words: &[String]) -> bool {
    words
        .first()
        .is_some_and(|program| is_this_program(program))
}
