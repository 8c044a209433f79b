//! Where Cargo's files are, and which entries of them name this provider.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use toml_edit::Item;

/// The name Cargo's config uses for this provider.
pub const PROVIDER: &str = "cargo-credential-corp";

/// Cargo's home: `$CARGO_HOME` if set (and not empty; a relative one is
/// taken from the current directory, as Cargo does), else `~/.cargo`.
pub fn cargo_home() -> anyhow::Result<PathBuf> {
    crate::cargo_files::cargo_home()
        .ok_or_else(|| anyhow!("cannot find your home folder; set CARGO_HOME"))
}

pub use crate::cargo_files::in_dir;

/// `$CARGO_HOME/config.toml`: the user's global Cargo config.
pub fn global_config() -> anyhow::Result<PathBuf> {
    Ok(in_dir(&cargo_home()?, "config"))
}

/// `$CARGO_HOME/credentials.toml`: where `cargo login` with `cargo:token`
/// keeps tokens in plain text.
pub fn credentials_file() -> anyhow::Result<PathBuf> {
    Ok(in_dir(&cargo_home()?, "credentials"))
}

/// `.cargo/config.toml` in `dir`: a project's Cargo config.
pub fn project_config(dir: &Path) -> PathBuf {
    in_dir(&dir.join(".cargo"), "config")
}

/// Every config file Cargo reads from `cwd`, highest precedence first: the
/// `.cargo/config.toml` of `cwd` and of each folder above it, then
/// `$CARGO_HOME/config.toml` (each once). Files that do not exist are listed
/// too.
pub fn config_chain(cwd: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(chain_from(cwd, Some(&cargo_home()?)))
}

/// [`config_chain`] with Cargo's home given (`None`: unknown, so the project
/// files only).
pub(super) fn chain_from(cwd: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    crate::cargo_files::config_chain(Some(cwd), home)
}

/// Whether two paths name the same file (the same path, or both resolving
/// to one existing file).
pub fn same_file(a: &Path, b: &Path) -> bool {
    crate::cargo_files::same_path(a, b)
}

/// Whether a provider entry of Cargo's config (`"cargo-credential-corp"`,
/// `"cargo-credential-corp --arg"`, or a path to the program) names this
/// provider.
pub fn is_this_provider(entry: &str) -> bool {
    is_this_program(provider_program(entry))
}

/// Whether a provider's program (a name, or a path; no arguments) is this
/// provider.
pub fn is_this_program(program: &str) -> bool {
    let file = program.rsplit(['/', '\\']).next().unwrap_or(program);
    file == PROVIDER || file.strip_suffix(".exe") == Some(PROVIDER)
}

/// The program of a provider entry (its first word), for messages: the
/// arguments are not shown.
pub fn provider_program(entry: &str) -> &str {
    entry.split_whitespace().next().unwrap_or("")
}

/// The program a `credential-provider` value names: the first word of a
/// string, the first element of an array (whole: a path may hold spaces);
/// `None` for anything else.
pub fn credential_provider_program(item: &Item) -> Option<&str> {
    match item.as_value()? {
        toml_edit::Value::String(s) => Some(provider_program(s.value())),
        // An array is argv already: its first element is the program, spaces
        // and all.
        toml_edit::Value::Array(a) => a.get(0)?.as_str(),
        _ => None,
    }
}
