//! Where Cargo's own config files are: Cargo's home and the chain of
//! `.cargo/config.toml` files Cargo reads, found once for the provider's
//! network settings and for the CLI (`doctor`, `setup`, `migrate`). Read-only:
//! what the files say is read by their users.

use std::path::{Path, PathBuf};

/// Cargo's home: `$CARGO_HOME` (a relative one from the current
/// directory, as in Cargo), else `~/.cargo`; `None` without either.
pub fn cargo_home() -> Option<PathBuf> {
    let cwd = || std::env::current_dir().unwrap_or_default();
    std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(|v| cwd().join(v))
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
}

/// Cargo's config files that exist, highest precedence first: `.cargo/`
/// in `cwd` and each folder above it, then Cargo's home (each once, also
/// when the home is one of those folders under another path). In a folder,
/// the legacy `config` wins over `config.toml`, as in Cargo.
pub fn config_files(cwd: Option<&Path>, home: Option<&Path>) -> Vec<PathBuf> {
    let in_dir = |dir: &Path| -> Option<PathBuf> {
        let legacy = dir.join("config");
        if legacy.is_file() {
            return Some(legacy);
        }
        let toml = dir.join("config.toml");
        toml.is_file().then_some(toml)
    };
    let mut files = Vec::new();
    let mut home_seen = false;
    for dir in cwd.into_iter().flat_map(Path::ancestors) {
        let dot = dir.join(".cargo");
        home_seen |= home.is_some_and(|home| same_path(&dot, home));
        files.extend(in_dir(&dot));
    }
    if !home_seen && let Some(home) = home {
        files.extend(in_dir(home));
    }
    files
}

/// Whether two paths name the same file or folder (equal, or equal once
/// resolved).
pub fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}
