//! The config files and the provider's arguments, as written (serde and
//! clap types), before they are merged per registry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::policy::Policy;
use super::settings::{AuthScheme, Origin, Serve, SourceKind};
use crate::oidc::settings::{OidcSettings, RawOidc};
use crate::sso::settings::{RawSso, SsoSettings};

/// One file's (or the arguments') settings, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawFile {
    pub(super) serve: Option<Serve>,
    pub(super) policy: Option<Policy>,
    #[serde(default)]
    pub(super) defaults: RawSettings,
    #[serde(default)]
    pub(super) registries: BTreeMap<String, RawSettings>,
    /// `[issuers."https://…"]`: the client to use at an identity provider
    /// that registries name (zero-config sign-in).
    #[serde(default)]
    pub(super) issuers: BTreeMap<String, RawIssuer>,
}

/// An `[issuers."https://…"]` table, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawIssuer {
    pub(super) client_id: Option<String>,
    pub(super) flow: Option<crate::sso::settings::Flow>,
    pub(super) scope: Option<String>,
    /// RFC 8707 `resource` asked for, instead of the one a registry names.
    pub(super) resource: Option<String>,
    /// The registries (index URLs or origins) this IdP signs in for
    /// without the person confirming it at the first `cargo login`.
    #[serde(default)]
    pub(super) registries: Vec<String>,
}

/// Settings of `[defaults]` or of one `[registries.NAME]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSettings {
    pub(super) index: Option<String>,
    pub(super) sources: Option<Vec<SourceKind>>,
    pub(super) env: Option<Vec<String>>,
    pub(super) auth_scheme: Option<AuthScheme>,
    /// The user part of `auth-scheme = "basic"`.
    pub(super) basic_user: Option<String>,
    pub(super) keychain_timeout_ms: Option<u64>,
    /// A PEM file of CAs to trust besides the OS store (identity endpoints).
    pub(super) ca_file: Option<PathBuf>,
    pub(super) oidc: Option<RawOidc>,
    /// `oidc`, validated (filled in by [`validate`]).
    #[serde(skip)]
    pub(super) oidc_valid: Option<OidcSettings>,
    pub(super) sso: Option<RawSso>,
    /// `sso`, validated (filled in by [`validate`]).
    #[serde(skip)]
    pub(super) sso_valid: Option<SsoSettings>,
}

/// The provider's own arguments, as given in Cargo's config.
#[derive(Debug, clap::Parser)]
#[command(
    name = "cargo-credential-corp",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
pub(super) struct ProviderArgs {
    /// Sources to try, in order (repeatable).
    #[arg(long = "source", value_enum)]
    pub(super) sources: Vec<SourceKind>,
    /// Refused: a variable named here would be read for every registry
    /// Cargo asks about. Kept so that its use gets a clear error.
    #[arg(long = "env", value_name = "VAR", hide = true)]
    pub(super) env: Vec<String>,
    #[arg(long, value_enum)]
    pub(super) auth_scheme: Option<AuthScheme>,
    #[arg(long, value_name = "MS")]
    pub(super) keychain_timeout_ms: Option<u64>,
    #[arg(long, value_enum)]
    pub(super) serve: Option<Serve>,
}

#[derive(Debug, Clone)]
pub(super) struct Layer {
    pub(super) origin: Origin,
    pub(super) file: RawFile,
    /// The system-wide file: the only one whose `[policy]` counts.
    pub(super) system: bool,
}
