//! Cargo's own files, for `setup`, `migrate` and `doctor`: where they are,
//! what Cargo makes of them ([`CargoConfig`]: the config files from the
//! current directory up, then `$CARGO_HOME/config.toml`, and the `CARGO_*`
//! variables that override them), how they are read and edited (with
//! `toml_edit`, so comments and layout stay as they were), written
//! (atomically, keeping the file's permissions) and shown (a small
//! unified-style line diff, with secret values redacted).
//!
//! One file each: [`paths`] (where the files are, and which entries name
//! this provider), [`read`] (what Cargo makes of them), [`edit`] (reading
//! for editing, writing atomically), [`diff`] (showing a change).

pub mod diff;
pub mod edit;
pub mod paths;
pub mod read;

pub use diff::diff;
pub use edit::{TomlFile, remove_key};
pub use paths::*;
pub use read::{CargoConfig, CargoOrigin, is_this_entry};

#[cfg(test)]
mod tests;
