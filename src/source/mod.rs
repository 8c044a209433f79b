//! Token sources: where a registry token can come from, one file each.

use std::fmt;

use serde::Deserialize;

pub mod env;
pub mod sso;

/// A place a token can come from, as named in `sources = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Environment variables: the configured names, then Cargo's own
    /// `CARGO_REGISTRY_TOKEN` / `CARGO_REGISTRIES_<NAME>_TOKEN`.
    Env,
    /// The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    Keychain,
    /// A short-lived token from the `[registries.NAME.oidc]` exchange.
    Oidc,
    /// A short-lived token from the developer's single sign-on
    /// (`[registries.NAME.sso]`, a refresh token from `cargo login`).
    Sso,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Env => "\"env\"",
            SourceKind::Keychain => "\"keychain\"",
            SourceKind::Oidc => "\"oidc\"",
            SourceKind::Sso => "\"sso\"",
        })
    }
}
