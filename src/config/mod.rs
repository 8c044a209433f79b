//! Configuration: raw TOML layers, validated, then resolved per registry.
//!
//! Three layers, highest precedence first:
//! 1. the provider's arguments in Cargo's config
//!    (`credential-provider = ["cargo-credential-corp", "--source", "env"]`),
//! 2. the user's file (`$CARGO_CREDENTIAL_CORP_CONFIG`, else
//!    `<config dir>/cargo-credential-corp/config.toml`),
//! 3. the system-wide file for company roll-outs
//!    (`$CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG`, else a platform path).
//!
//! For one registry a setting is taken from, in order: the arguments, the
//! user's `[registries.NAME]`, the system's `[registries.NAME]`, the user's
//! `[defaults]`, the system's `[defaults]`, the built-in default. See
//! `docs/configuration.md`.
//!
//! One file per step, bottom up: [`settings`] (what a registry gets),
//! [`policy`] (the system-wide `[policy]`), `raw` (the files' serde
//! types), `scrub` (messages and key positions that never show a value),
//! `validate` (each table's checks), [`load`] (the layers: files and
//! arguments), `resolve` (the tables that match a request, merged).

mod load;
pub mod policy;
mod raw;
mod resolve;
mod scrub;
pub mod settings;
mod validate;

use std::path::Path;

pub use load::{ConfigPaths, SYSTEM_CONFIG_ENV, USER_CONFIG_ENV};
pub use policy::Policy;
use raw::Layer;
pub use settings::{
    AuthScheme, DEFAULT_KEYCHAIN_TIMEOUT, IndexMismatch, Origin, Serve, Settings, SourceKind,
};

use crate::registry::Registry;

/// The validated configuration: all layers, highest precedence first.
#[derive(Debug, Clone, Default)]
pub struct Config {
    layers: Vec<Layer>,
}

impl Config {
    /// Reads the files at `paths` (a missing file is an empty layer) and
    /// parses the provider's `args` from Cargo's config.
    pub fn load(paths: &ConfigPaths, args: &[&str]) -> anyhow::Result<Config> {
        load::read_layers(paths, args).map(|layers| Config { layers })
    }

    /// A configuration from TOML texts, highest precedence first (for
    /// tests); a name starting with `system` is the system-wide file.
    pub fn from_texts(texts: &[(&str, &str)]) -> anyhow::Result<Config> {
        load::layers_from_texts(texts).map(|layers| Config { layers })
    }

    /// The files this configuration was read from.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.layers.iter().filter_map(|l| match &l.origin {
            Origin::File(p) => Some(p.as_path()),
            Origin::ProviderArgs => None,
        })
    }

    /// The system-wide policy, and the file(s) it is in: the stricter of
    /// the platform's file and `CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG`'s,
    /// setting by setting, when both hold one.
    pub fn policy(&self) -> Option<(Policy, String)> {
        resolve::policy_of(&self.layers)
    }

    /// The `index` configured for the registry called `name`, if any.
    pub fn index_for(&self, name: &str) -> Option<&str> {
        self.layers
            .iter()
            .find_map(|l| l.file.registries.get(name)?.index.as_deref())
    }

    /// The settings for `registry`, or `None` when this configuration does not
    /// serve it (`serve = "listed"` and no table matches).
    ///
    /// The routing rule: token-bearing settings (`env`, `oidc`) come only from
    /// `[registries.NAME]` tables that match the request (by `index` when the
    /// table has one, else by Cargo's name); `[defaults]` and the provider's
    /// arguments only say how sources behave.
    pub fn settings_for(&self, registry: &Registry<'_>) -> Result<Option<Settings>, IndexMismatch> {
        resolve::settings_for(&self.layers, registry)
    }
}

#[cfg(test)]
mod tests;
