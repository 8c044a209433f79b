//! Where Cargo's own config files are: Cargo's home and the chain of
//! `.cargo/config.toml` files Cargo reads, found once for the provider's
//! network settings and for the CLI (`doctor`, `setup`, `migrate`). Read-only:
//! what the files say is read by their users.

use std::path::{Path, PathBuf};

/// Cargo's home: `$CARGO_HOME` (a relative one from the current
/// The most bytes of one of Cargo's config files that is read: a config
/// file is a few KiB; one past this is refused, never read whole.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// directory, as in Cargo), else `~/.cargo`; `None` without either.
pub fn cargo_home() -> Option<PathBuf> {
    let cwd = || std::env::current_dir().unwrap_or_default();
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(|v| cwd().join(v))
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
}

/// The file Cargo reads as `name.toml` in `dir`: the legacy `name` (no
/// extension) when it exists, even next to a `name.toml` (Cargo then warns
/// "both … exist. Using `name`"), else `name.toml`; as Cargo's
/// `get_file_path` does.
pub fn in_dir(dir: &Path, name: &str) -> PathBuf {
    let legacy = dir.join(name);
    if legacy.is_file() {
        legacy
    } else {
        dir.join(format!("{name}.toml"))
    }
}

/// Every config file Cargo reads, highest precedence first, whether it
/// exists or not: `.cargo/config.toml` in `cwd` and each folder above it,
/// then Cargo's home (each once, also when the home is one of those
/// folders under another path).
pub fn config_chain(cwd: Option<&Path>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut chain = Vec::new();
    let mut home_seen = false;
    for dir in cwd.into_iter().flat_map(Path::ancestors) {
        let dot = dir.join(".cargo");
        home_seen |= home.is_some_and(|home| same_path(&dot, home));
        chain.push(in_dir(&dot, "config"));
    }
    if !home_seen && let Some(home) = home {
        chain.push(in_dir(home, "config"));
    }
    chain
}

/// The files of [`config_chain`] that exist.
pub fn config_files(cwd: Option<&Path>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut files = config_chain(cwd, home);
    files.retain(|f| f.is_file());
    files
}

/// Whether two paths name the same file or folder (equal, or equal once
/// resolved).
pub fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
