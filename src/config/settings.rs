//! What the provider does for one registry ([`Settings`]), and the values
//! the config files name: sources, the `Authorization` scheme, which
//! registries are served, where a layer came from.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::oidc::settings::OidcSettings;
use crate::sso::settings::SsoSettings;

/// How long a keychain call may take when Cargo asks for a token.
pub const DEFAULT_KEYCHAIN_TIMEOUT: Duration = Duration::from_millis(2000);

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

/// How a token is written into the `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthScheme {
    /// The token is sent as it is (Cargo's default; crates.io, kellnr).
    None,
    /// The token is sent as `Bearer <token>` (Azure Artifacts, some gateways).
    Bearer,
    /// The token is the password of HTTP Basic authentication:
    /// `Basic base64(<basic-user>:<token>)` (Azure Artifacts' personal
    /// access tokens).
    Basic,
}

impl AuthScheme {
    /// The word the config uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::None => "none",
            AuthScheme::Bearer => "bearer",
            AuthScheme::Basic => "basic",
        }
    }
}

/// Which registries the provider answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Serve {
    /// Every registry Cargo asks about (zero-config).
    All,
    /// Only registries named in a `[registries.NAME]` table; others get
    /// `url-not-supported`, so Cargo moves on to the next provider.
    Listed,
}

/// Where a layer of configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The provider's arguments in Cargo's config.
    ProviderArgs,
    /// A config file.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::ProviderArgs => f.write_str("the provider's arguments in Cargo's config"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What the provider does for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Sources to try, in order.
    pub sources: Vec<SourceKind>,
    /// Environment variables to read before Cargo's own variable.
    pub env: Vec<String>,
    /// Every variable any table of the configuration reads a secret from
    /// (each `env` entry and `client-secret-env`, whichever registry it is
    /// for): the browser launcher of a sign-in does not get them.
    pub secret_vars: Vec<String>,
    /// How the token goes into the `Authorization` header.
    pub auth_scheme: AuthScheme,
    /// The user part of `auth-scheme = "basic"` (default empty).
    pub basic_user: String,
    /// Deadline of each keychain call made for a `get`.
    pub keychain_timeout: Duration,
    /// The short-lived token exchange, when configured.
    pub oidc: Option<OidcSettings>,
    /// Single sign-on for developers, when configured.
    pub sso: Option<SsoSettings>,
    /// What zero-config sign-in may use (issuer tables, trusted issuers),
    /// for a registry Cargo names that no `sso` table covers.
    pub discovery: crate::sso::discover::Discovery,
    /// CA files trusted besides the OS store for identity endpoints: every
    /// `ca-file` of the matched tables and of `[defaults]` (also copied into
    /// `oidc` and `sso`).
    pub ca_files: Vec<PathBuf>,
    /// The `[registries.NAME]` tables that matched, as `(name, origin)`.
    pub matched: Vec<(String, Origin)>,
    /// Whether a matching table lists `"oidc"` in its own `sources` (then a
    /// missing `oidc` table is an error, not a source to skip).
    pub oidc_listed: bool,
    /// Whether a matching table lists `"sso"` in its own `sources`.
    pub sso_listed: bool,
    /// What the system-wide `[policy]` changed, for `doctor`.
    pub locked: Vec<String>,
    /// A matching table that holds a token source (`env`, `oidc`) but no
    /// `index`: it follows whatever index URL Cargo gives its name.
    pub unbound: Option<(String, Origin)>,
}

/// A configured registry whose index differs from the one Cargo asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMismatch {
    pub(super) name: String,
    pub(super) configured: String,
    pub(super) requested: String,
    /// Boxed: an error kept small (a path is large on some platforms).
    pub(super) origin: Box<Origin>,
    /// Set when Cargo asked under another name whose token variable is the
    /// table's (`my_reg` for the table `my-reg`): the variable.
    pub(super) shared_variable: Option<String>,
}

impl fmt::Display for IndexMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(variable) = &self.shared_variable {
            return write!(
                f,
                "registry `{}` is configured in {} with index `{}`, and Cargo asked under another \
                 name with the same token variable, {variable}, for index `{}`; no token is \
                 handed to an index it does not belong to. Rename one of the two registries in \
                 Cargo's config (`-` and `_` give the same variable), or fix its `index`",
                self.name, self.origin, self.configured, self.requested
            );
        }
        write!(
            f,
            "registry `{}` is configured in {} with index `{}`, but Cargo asked for a token for \
             index `{}`; no token is handed to an index it does not belong to. Fix `index` in \
             [registries.{}] or the registry's `index` in Cargo's config",
            self.name, self.origin, self.configured, self.requested, self.name
        )
    }
}

impl std::error::Error for IndexMismatch {}
