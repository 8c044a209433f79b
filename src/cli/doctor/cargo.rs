//! What Cargo itself is configured with, as Cargo reads it: the config files
//! from the current directory up, then `$CARGO_HOME/config.toml`, and the
//! `CARGO_*` variables that override them; and `credentials.toml`. Only what
//! the doctor needs: registries, their credential providers, plaintext tokens
//! (whose values are never kept).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Cargo's view of the registries.
#[derive(Debug, Default)]
pub struct CargoConfig {
    /// Config files read, highest precedence first.
    pub files: Vec<PathBuf>,
    /// `[registries.NAME] index`, by name (highest precedence wins).
    pub indexes: BTreeMap<String, String>,
    /// `[registries.NAME] credential-provider` (and `[registry]` for
    /// crates.io), by name, each as words.
    pub registry_providers: BTreeMap<String, Vec<String>>,
    /// `[registry] global-credential-providers`, merged as Cargo merges
    /// arrays (lower precedence first), each entry as words.
    pub global_providers: Option<Vec<Vec<String>>>,
    /// Registries with a `token` in `credentials.toml` (names only), and the file.
    pub plaintext_tokens: Vec<(String, PathBuf)>,
    /// Files that could not be read or parsed, with why.
    pub problems: Vec<String>,
}

/// `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
}

fn words(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        toml::Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

fn read_toml(path: &Path, problems: &mut Vec<String>) -> Option<toml::Table> {
    let text = std::fs::read_to_string(path).ok()?;
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

impl CargoConfig {
    /// Reads Cargo's configuration as seen from `cwd`.
    pub fn load(cwd: &Path) -> CargoConfig {
        let mut config = CargoConfig::default();
        let home = cargo_home();
        let mut files: Vec<PathBuf> = Vec::new();
        for dir in cwd.ancestors() {
            for name in ["config.toml", "config"] {
                let path = dir.join(".cargo").join(name);
                if path.is_file() {
                    files.push(path);
                    break;
                }
            }
        }
        if let Some(home) = &home {
            for name in ["config.toml", "config"] {
                let path = home.join(name);
                if path.is_file() && !files.contains(&path) {
                    files.push(path);
                    break;
                }
            }
        }
        // Lowest precedence first, so that later values win and arrays join
        // in Cargo's order.
        for path in files.iter().rev() {
            let Some(table) = read_toml(path, &mut config.problems) else {
                continue;
            };
            config.apply(&table);
        }
        config.apply_env();
        config.files = files;
        if let Some(home) = &home {
            config.read_credentials(home);
        }
        config
    }

    fn apply(&mut self, table: &toml::Table) {
        if let Some(registry) = table.get("registry").and_then(toml::Value::as_table) {
            if let Some(p) = registry.get("credential-provider").and_then(words) {
                self.registry_providers.insert("crates-io".to_owned(), p);
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
                    self.indexes.insert(name.clone(), index.to_owned());
                }
                if let Some(p) = r.get("credential-provider").and_then(words) {
                    self.registry_providers.insert(name.clone(), p);
                }
            }
        }
    }

    /// `CARGO_REGISTRIES_<NAME>_INDEX` and `_CREDENTIAL_PROVIDER` for the
    /// names known from the files, and the global list's variable.
    fn apply_env(&mut self) {
        let names: Vec<String> = self.indexes.keys().cloned().collect();
        for name in names {
            let key = crate::registry::env_mangle(&name);
            if let Ok(index) = std::env::var(format!("CARGO_REGISTRIES_{key}_INDEX")) {
                self.indexes.insert(name.clone(), index);
            }
            if let Ok(p) = std::env::var(format!("CARGO_REGISTRIES_{key}_CREDENTIAL_PROVIDER")) {
                self.registry_providers
                    .insert(name, p.split_whitespace().map(str::to_owned).collect());
            }
        }
        if let Ok(list) = std::env::var("CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS") {
            // A space-separated list in the variable: one word per provider.
            self.global_providers
                .get_or_insert_with(Vec::new)
                .extend(list.split_whitespace().map(|w| vec![w.to_owned()]));
        }
    }

    fn read_credentials(&mut self, home: &Path) {
        for name in ["credentials.toml", "credentials"] {
            let path = home.join(name);
            let Some(table) = read_toml(&path, &mut self.problems) else {
                continue;
            };
            if table.get("registry").and_then(|r| r.get("token")).is_some() {
                self.plaintext_tokens
                    .push(("crates-io".to_owned(), path.clone()));
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

/// Whether a provider entry (its words) is this provider.
pub fn is_this_provider(entry: &[String]) -> bool {
    entry.first().is_some_and(|program| {
        Path::new(program)
            .file_stem()
            .is_some_and(|s| s == "cargo-credential-corp")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_order_registry_provider_alone_else_global_from_the_end() {
        let mut c = CargoConfig::default();
        c.apply(
            &"[registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp --serve listed\"]\n\
              [registries.a]\nindex = \"sparse+https://a/\"\ncredential-provider = \"cargo:token\"\n"
                .parse()
                .unwrap(),
        );
        let (chain, own) = c.chain(Some("a"));
        assert!(own);
        assert_eq!(chain, vec![vec!["cargo:token".to_owned()]]);
        let (chain, own) = c.chain(Some("b"));
        assert!(!own);
        assert!(is_this_provider(&chain[0]));
        assert_eq!(chain[0][1..], ["--serve", "listed"]);
        assert_eq!(chain[1], ["cargo:token"]);
        assert!(is_this_provider(&[
            "/usr/local/bin/cargo-credential-corp".to_owned()
        ]));
    }
}
