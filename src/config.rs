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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::cache::CacheMode;
use crate::oidc::settings::{OidcSettings, RawOidc};
use crate::redact::has_long_word;
use crate::registry::{CRATES_IO, Registry, env_mangle, same_index};
use crate::schema::{KeyError, valid_var_name};
use crate::sso::settings::{RawSso, SsoSettings};

/// Environment variable naming the user's config file.
pub const USER_CONFIG_ENV: &str = "CARGO_CREDENTIAL_CORP_CONFIG";
/// Environment variable naming the system-wide config file.
pub const SYSTEM_CONFIG_ENV: &str = "CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG";

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

/// The `[policy]` table of the system-wide file: what a platform team locks
/// for every user of the machine (the user's file and the provider's
/// arguments cannot loosen it).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// `serve`, whatever other layers say.
    pub serve: Option<Serve>,
    /// The only sources that may be used; others are dropped from every
    /// registry's `sources`.
    pub allowed_sources: Option<Vec<SourceKind>>,
    /// `"never"`: no SSO sign-in starts on this machine.
    pub interactive: Option<crate::sso::settings::Interactive>,
    /// `false`: no token or login in a file (SSO `store = "file"` and OIDC
    /// `cache = "file"`/`"auto"` fall back to the keychain only).
    pub file_store: Option<bool>,
}

impl Policy {
    /// Each setting as the stricter of `self` and `other` sets it: "listed"
    /// over "all", the sources both allow, "never" over "auto", no file
    /// store over one.
    fn stricter(&self, other: &Policy) -> Policy {
        use crate::sso::settings::Interactive;
        Policy {
            serve: if self.serve == Some(Serve::Listed) || other.serve == Some(Serve::Listed) {
                Some(Serve::Listed)
            } else {
                self.serve.or(other.serve)
            },
            allowed_sources: match (&self.allowed_sources, &other.allowed_sources) {
                (Some(a), Some(b)) => Some(a.iter().filter(|s| b.contains(s)).copied().collect()),
                (a, b) => a.clone().or_else(|| b.clone()),
            },
            interactive: if self.interactive == Some(Interactive::Never)
                || other.interactive == Some(Interactive::Never)
            {
                Some(Interactive::Never)
            } else {
                self.interactive.or(other.interactive)
            },
            file_store: if self.file_store == Some(false) || other.file_store == Some(false) {
                Some(false)
            } else {
                self.file_store.or(other.file_store)
            },
        }
    }
}

/// One file's (or the arguments') settings, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFile {
    serve: Option<Serve>,
    policy: Option<Policy>,
    #[serde(default)]
    defaults: RawSettings,
    #[serde(default)]
    registries: BTreeMap<String, RawSettings>,
}

/// Settings of `[defaults]` or of one `[registries.NAME]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSettings {
    index: Option<String>,
    sources: Option<Vec<SourceKind>>,
    env: Option<Vec<String>>,
    auth_scheme: Option<AuthScheme>,
    /// The user part of `auth-scheme = "basic"`.
    basic_user: Option<String>,
    keychain_timeout_ms: Option<u64>,
    /// A PEM file of CAs to trust besides the OS store (identity endpoints).
    ca_file: Option<PathBuf>,
    oidc: Option<RawOidc>,
    /// `oidc`, validated (filled in by [`validate`]).
    #[serde(skip)]
    oidc_valid: Option<OidcSettings>,
    sso: Option<RawSso>,
    /// `sso`, validated (filled in by [`validate`]).
    #[serde(skip)]
    sso_valid: Option<SsoSettings>,
}

/// The provider's own arguments, as given in Cargo's config.
#[derive(Debug, clap::Parser)]
#[command(
    name = "cargo-credential-corp",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true
)]
struct ProviderArgs {
    /// Sources to try, in order (repeatable).
    #[arg(long = "source", value_enum)]
    sources: Vec<SourceKind>,
    /// Refused: a variable named here would be read for every registry
    /// Cargo asks about. Kept so that its use gets a clear error.
    #[arg(long = "env", value_name = "VAR", hide = true)]
    env: Vec<String>,
    #[arg(long, value_enum)]
    auth_scheme: Option<AuthScheme>,
    #[arg(long, value_name = "MS")]
    keychain_timeout_ms: Option<u64>,
    #[arg(long, value_enum)]
    serve: Option<Serve>,
}

#[derive(Debug, Clone)]
struct Layer {
    origin: Origin,
    file: RawFile,
    /// The system-wide file: the only one whose `[policy]` counts.
    system: bool,
}

/// Where the config files are looked for.
#[derive(Debug, Clone, Default)]
pub struct ConfigPaths {
    /// The user's file.
    pub user: Option<PathBuf>,
    /// The system-wide file.
    pub system: Option<PathBuf>,
    /// The platform's system-wide file, when [`Self::system`] is another
    /// (`CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG`): its `[policy]` still applies
    /// (the stricter of the two wins), so that a variable cannot undo what
    /// the machine's administrator locked. Its other settings do not.
    pub platform: Option<PathBuf>,
}

impl ConfigPaths {
    /// The paths for this process: the environment overrides, else the
    /// platform's config locations.
    pub fn from_env() -> Self {
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let system = var(SYSTEM_CONFIG_ENV);
        let platform = system_config_path();
        ConfigPaths {
            user: var(USER_CONFIG_ENV).or_else(|| {
                dirs::config_dir().map(|d| d.join("cargo-credential-corp").join("config.toml"))
            }),
            platform: platform
                .clone()
                .filter(|p| system.as_ref().is_some_and(|s| s != p)),
            system: system.or(platform),
        }
    }
}

fn system_config_path() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("ProgramData").map(|d| {
            PathBuf::from(d)
                .join("cargo-credential-corp")
                .join("config.toml")
        })
    } else if cfg!(target_os = "macos") {
        Some(PathBuf::from(
            "/Library/Application Support/cargo-credential-corp/config.toml",
        ))
    } else {
        Some(PathBuf::from("/etc/cargo-credential-corp/config.toml"))
    }
}

/// The validated configuration: all layers, highest precedence first.
#[derive(Debug, Clone, Default)]
pub struct Config {
    layers: Vec<Layer>,
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
    name: String,
    configured: String,
    requested: String,
    /// Boxed: an error kept small (a path is large on some platforms).
    origin: Box<Origin>,
    /// Set when Cargo asked under another name whose token variable is the
    /// table's (`my_reg` for the table `my-reg`): the variable.
    shared_variable: Option<String>,
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

impl Config {
    /// Reads the files at `paths` (a missing file is an empty layer) and
    /// parses the provider's `args` from Cargo's config.
    pub fn load(paths: &ConfigPaths, args: &[&str]) -> anyhow::Result<Config> {
        let mut layers = vec![Layer {
            origin: Origin::ProviderArgs,
            file: parse_args(args)?,
            system: false,
        }];
        crate::trace::debug(|| format!("config: {} provider argument(s) from Cargo", args.len()));
        let mut texts = vec![None];
        for path in [&paths.user, &paths.system, &paths.platform]
            .into_iter()
            .flatten()
        {
            let text = read_optional(path)?;
            crate::trace::debug(|| {
                format!(
                    "config: {} {}",
                    path.display(),
                    if text.is_some() {
                        "read"
                    } else {
                        "not present"
                    }
                )
            });
            if let Some(text) = text {
                let platform = Some(path) == paths.platform.as_ref();
                let system = platform || Some(path) == paths.system.as_ref();
                let mut file = parse_file(&text, path)?;
                if platform {
                    // Only its policy: the settings are the other file's.
                    file = RawFile {
                        policy: file.policy,
                        ..RawFile::default()
                    };
                }
                if file.policy.is_some() && !system {
                    bail!(
                        "invalid config file {}: [policy] is read only from the system-wide file \
                         (`{SYSTEM_CONFIG_ENV}` or the platform's path); a user's file cannot \
                         set it. Remove it there",
                        path.display()
                    );
                }
                layers.push(Layer {
                    origin: Origin::File(path.clone()),
                    file,
                    system,
                });
                texts.push(Some(text));
            }
        }
        let texts: Vec<Option<&str>> = texts.iter().map(Option::as_deref).collect();
        check_sso_bindings(&layers, &texts)?;
        Ok(Config { layers })
    }

    /// A configuration from TOML texts, highest precedence first (for
    /// tests); a name starting with `system` is the system-wide file.
    pub fn from_texts(texts: &[(&str, &str)]) -> anyhow::Result<Config> {
        let layers = texts
            .iter()
            .map(|(name, text)| {
                let path = Path::new(name);
                Ok(Layer {
                    origin: Origin::File(path.to_owned()),
                    file: parse_file(text, path)?,
                    system: name.starts_with("system"),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let texts: Vec<Option<&str>> = texts.iter().map(|(_, text)| Some(*text)).collect();
        check_sso_bindings(&layers, &texts)?;
        Ok(Config { layers })
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
        let mut found = self
            .layers
            .iter()
            .filter(|l| l.system)
            .filter_map(|l| Some((l.file.policy.as_ref()?, &l.origin)));
        let (first, origin) = found.next()?;
        let (mut policy, mut origins) = (first.clone(), origin.to_string());
        for (other, origin) in found {
            policy = policy.stricter(other);
            origins = format!("{origins} and {origin}");
        }
        Some((policy, origins))
    }

    /// The names of the variables that tables of any layer read secrets
    /// from: every `env` entry and `client-secret-env`.
    fn secret_vars(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for layer in &self.layers {
            for table in std::iter::once(&layer.file.defaults).chain(layer.file.registries.values())
            {
                names.extend(table.env.iter().flatten().cloned());
                if let Some(crate::oidc::settings::ClientSecretSource::Env(var)) = table
                    .oidc_valid
                    .as_ref()
                    .and_then(|o| o.client_secret.as_ref())
                {
                    names.push(var.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        names
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
        let policy = self.policy();
        let serve = policy
            .as_ref()
            .and_then(|(p, _)| p.serve)
            .or_else(|| self.layers.iter().find_map(|l| l.file.serve))
            .unwrap_or(Serve::All);
        let mut tables: Vec<(&str, &RawSettings, &Origin)> = Vec::new();
        for layer in &self.layers {
            if let Some((name, table)) =
                find_table(&layer.file.registries, registry, &layer.origin)?
            {
                tables.push((name, table, &layer.origin));
            }
        }
        if tables.is_empty() && serve == Serve::Listed {
            return Ok(None);
        }
        // Most specific first: arguments, matched tables (user, system), defaults (user, system).
        let args = self
            .layers
            .iter()
            .filter(|l| l.origin == Origin::ProviderArgs);
        let defaults = self
            .layers
            .iter()
            .filter(|l| l.origin != Origin::ProviderArgs);
        let order: Vec<&RawSettings> = args
            .map(|l| &l.file.defaults)
            .chain(tables.iter().map(|(_, t, _)| *t))
            .chain(defaults.map(|l| &l.file.defaults))
            .collect();
        // Where tokens come from: the matched tables only.
        let matched: Vec<&RawSettings> = tables.iter().map(|(_, t, _)| *t).collect();
        let sso = pick(&matched, |s| s.sso_valid.clone());
        let listed = |kind: SourceKind| {
            tables
                .iter()
                .any(|(_, t, _)| t.sources.as_ref().is_some_and(|s| s.contains(&kind)))
        };
        // A matched table's own `sources` is used as written; otherwise an
        // `sso` table adds "sso" after "env" (its refresh token beats a
        // pasted token in the keychain).
        let own_sources = matched.iter().any(|t| t.sources.is_some());
        let mut sources = pick(&order, |s| s.sources.clone())
            .unwrap_or_else(|| vec![SourceKind::Env, SourceKind::Keychain]);
        if !own_sources && sso.is_some() && !sources.contains(&SourceKind::Sso) {
            let at = sources
                .iter()
                .position(|s| *s == SourceKind::Env)
                .map_or(0, |i| i + 1);
            sources.insert(at, SourceKind::Sso);
        }
        // Trust adds up: every `ca-file` found applies (a user's own does
        // not hide the company's from the system-wide file).
        let mut ca_files: Vec<PathBuf> = Vec::new();
        for file in order.iter().filter_map(|s| s.ca_file.as_ref()) {
            if !ca_files.contains(file) {
                ca_files.push(file.clone());
            }
        }
        let mut settings = Settings {
            sources,
            env: pick(&matched, |s| s.env.clone()).unwrap_or_default(),
            secret_vars: self.secret_vars(),
            auth_scheme: pick(&order, |s| s.auth_scheme).unwrap_or(AuthScheme::None),
            basic_user: pick(&order, |s| s.basic_user.clone()).unwrap_or_default(),
            keychain_timeout: pick(&order, |s| s.keychain_timeout_ms)
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_KEYCHAIN_TIMEOUT),
            oidc: pick(&matched, |s| s.oidc_valid.clone()).map(|mut o| {
                o.ca_files.clone_from(&ca_files);
                o
            }),
            sso: sso.map(|mut s| {
                s.ca_files.clone_from(&ca_files);
                s
            }),
            ca_files,
            matched: tables
                .iter()
                .map(|(n, _, o)| ((*n).to_owned(), (*o).clone()))
                .collect(),
            oidc_listed: listed(SourceKind::Oidc),
            sso_listed: listed(SourceKind::Sso),
            // Unbound only when no matched table has `index` (one that has
            // it is checked on every request).
            unbound: tables
                .iter()
                .filter(|_| tables.iter().all(|(_, t, _)| t.index.is_none()))
                .find(|(_, t, _)| {
                    // crates.io trusted publishing checks crates.io's index
                    // on every request itself.
                    let bound_oidc = t.oidc_valid.as_ref().is_some_and(|o| {
                        o.grant == crate::oidc::settings::Grant::CratesIoTrustedPublishing
                    });
                    t.index.is_none()
                        && (t.env.is_some() || (t.oidc.is_some() && !bound_oidc) || t.sso.is_some())
                })
                .map(|(n, _, o)| ((*n).to_owned(), (*o).clone())),
            locked: Vec::new(),
        };
        if let Some((policy, origin)) = &policy {
            settings.apply(policy, origin);
        }
        Ok(Some(settings))
    }
}

impl Settings {
    /// Applies the system-wide policy (from `origin`), noting what it changed
    /// in [`Settings::locked`].
    fn apply(&mut self, policy: &Policy, origin: &str) {
        if let Some(allowed) = &policy.allowed_sources {
            let before = self.sources.len();
            self.sources.retain(|s| allowed.contains(s));
            if self.sources.len() != before {
                self.locked.push(format!(
                    "sources limited to {} by [policy] in {origin}",
                    allowed
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if let Some(sso) = &mut self.sso {
            use crate::sso::settings::{GrantStore, Interactive};
            if policy.interactive == Some(Interactive::Never) {
                sso.interactive = Interactive::Never;
                self.locked.push(format!(
                    "SSO sign-ins forbidden (interactive = \"never\") by [policy] in {origin}"
                ));
            }
            if policy.file_store == Some(false) && sso.store == GrantStore::File {
                sso.store = GrantStore::Keychain;
                self.locked.push(format!(
                    "the SSO login kept in the keychain only (file-store = false) by [policy] in {origin}"
                ));
            }
        }
        if let Some(oidc) = &mut self.oidc
            && policy.file_store == Some(false)
            && matches!(oidc.cache, CacheMode::File | CacheMode::Auto)
        {
            oidc.cache = CacheMode::Keychain;
            self.locked.push(format!(
                "the token cache kept in the keychain only (file-store = false) by [policy] in {origin}"
            ));
        }
    }
}

/// The first layer (in `order`) that sets a value.
fn pick<T>(order: &[&RawSettings], get: impl Fn(&RawSettings) -> Option<T>) -> Option<T> {
    order.iter().find_map(|s| get(s))
}

/// The table for `registry`. A table with `index` matches only a request for
/// exactly that index URL (and, if Cargo names the registry, the same name:
/// a table found by name whose `index` differs is an error). A table without
/// `index` matches only by Cargo's name, so a request without a name (a
/// dependency's `registry-index`, `--index URL`) never matches it.
///
/// Cargo's token variable of a name is shared by every name that mangles to
/// it (`my-reg`, `my_reg`: `CARGO_REGISTRIES_MY_REG_TOKEN`), so a table with
/// `index` binds it for all of them: a request under another such name for
/// another index is an error too.
fn find_table<'a>(
    tables: &'a BTreeMap<String, RawSettings>,
    registry: &Registry<'_>,
    origin: &Origin,
) -> Result<Option<(&'a str, &'a RawSettings)>, IndexMismatch> {
    let mismatch = |name: &str, index: &str, shared_variable| IndexMismatch {
        name: name.to_owned(),
        configured: index.to_owned(),
        requested: registry.index_url.to_owned(),
        origin: Box::new(origin.clone()),
        shared_variable,
    };
    if let Some(asked) = registry.name.filter(|n| *n != CRATES_IO) {
        let variable = env_mangle(asked);
        for (name, table) in tables {
            if let Some(index) = &table.index
                && name != asked
                && name != CRATES_IO
                && env_mangle(name) == variable
                && !same_index(index, registry.index_url)
            {
                let shared = format!("CARGO_REGISTRIES_{variable}_TOKEN");
                return Err(mismatch(name, index, Some(shared)));
            }
        }
    }
    if let Some((name, table)) = registry.name.and_then(|n| tables.get_key_value(n)) {
        return match &table.index {
            Some(index) if !same_index(index, registry.index_url) => {
                Err(mismatch(name, index, None))
            }
            _ => Ok(Some((name, table))),
        };
    }
    Ok(tables.iter().find_map(|(name, table)| {
        let index = table.index.as_deref()?;
        same_index(index, registry.index_url).then_some((name.as_str(), table))
    }))
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    use crate::fs::{Owner, ReadError};
    let bytes = match crate::fs::read(path, MAX_CONFIG_BYTES, Owner::SelfOrRoot) {
        Ok(bytes) => bytes,
        Err(ReadError::NotFound) => return Ok(None),
        Err(ReadError::NotRegular) => {
            bail!("config file {} is not a regular file", path.display())
        }
        Err(ReadError::TooLarge(_)) => bail!(
            "config file {} is larger than {MAX_CONFIG_BYTES} bytes; refused",
            path.display()
        ),
        // A config file can make the provider run a program
        // (`identity-command`) and choose where tokens go: it must be
        // writable only by its owner, and owned by this user or by root.
        Err(ReadError::ForeignOwner(uid)) => bail!(
            "config file {} is owned by another user (uid {uid}); it is not read, because a \
             config file can run commands and route tokens. Remove it, or have it owned by you \
             or root",
            path.display()
        ),
        Err(ReadError::Writable(mode)) => bail!(
            "config file {} is writable by other users (mode {mode:o}); it is not read, because \
             a config file can run commands and route tokens. Fix it with `chmod go-w {}`",
            path.display(),
            path.display()
        ),
        Err(ReadError::Io(e)) => {
            return Err(e).with_context(|| format!("cannot read config file {}", path.display()));
        }
    };
    trusted_folder(path)?;
    String::from_utf8(bytes.to_vec())
        .map(Some)
        .map_err(|_| anyhow::anyhow!("config file {} is not valid UTF-8", path.display()))
}

/// A config file's folder: whoever can write there can replace the file
/// (unless the folder is sticky, as `/tmp` is: there only a file's owner
/// may), so it must be owned by this user or root and not writable by
/// others, as the file itself must be.
#[cfg(unix)]
fn trusted_folder(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let folder = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(dir) = std::fs::metadata(folder) {
        let me = rustix::process::getuid().as_raw();
        if dir.uid() != me && dir.uid() != 0 {
            bail!(
                "config file {} is in a folder owned by another user (uid {}), who can replace \
                 it; it is not read, because a config file can run commands and route tokens. \
                 Move it, or have {} owned by you or root",
                path.display(),
                dir.uid(),
                folder.display()
            );
        }
        if dir.mode() & 0o022 != 0 && dir.mode() & 0o1000 == 0 {
            bail!(
                "config file {} is in a folder writable by other users (mode {:o}), who can \
                 replace it; it is not read, because a config file can run commands and route \
                 tokens. Fix it with `chmod go-w {}`",
                path.display(),
                dir.mode() & 0o7777,
                folder.display()
            );
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted_folder(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

fn parse_file(text: &str, path: &Path) -> anyhow::Result<RawFile> {
    let mut file: RawFile = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|span| format!(" at {}", position(text, span.start)))
            .unwrap_or_default();
        // A value of the wrong type or kind: which key holds it.
        let value_error = [
            "invalid type: ",
            "invalid value: ",
            "unknown variant `",
            "invalid length ",
        ]
        .iter()
        .any(|p| e.message().starts_with(p));
        let key = e
            .span()
            .filter(|_| value_error)
            .and_then(|span| key_at(text, span.start))
            .map(|(table, key)| match table.as_str() {
                "" => format!("`{key}` at the top level: "),
                _ => format!("`{key}` in [{table}]: "),
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "invalid config file {}{at}: {key}{}",
            path.display(),
            scrub_message(e.message())
        )
    })?;
    validate(&mut file).map_err(|e| match e.downcast_ref::<KeyError>() {
        Some(k) => located(k, text, path),
        None => e.context(format!("invalid config file {}", path.display())),
    })?;
    Ok(file)
}

/// `k` in the file `path` (whose text is `text`), at the key's line and column.
fn located(k: &KeyError, text: &str, path: &Path) -> anyhow::Error {
    let at = locate_key(text, &k.table, k.key)
        .map(|(line, column)| format!(" at line {line}, column {column}"))
        .unwrap_or_default();
    anyhow::anyhow!("invalid config file {}{at}: {k}", path.display())
}

/// An `sso` table needs its registry's index: in its own table, or in the
/// system-wide file's table of the same name (then the login is served for
/// that index only, as the system table's `index` is checked on every
/// request). A name alone would let a project's .cargo/config.toml point the
/// registry, and so the developer's login, at another index. `texts` are
/// the layers' texts (`None` for the provider's arguments).
fn check_sso_bindings(layers: &[Layer], texts: &[Option<&str>]) -> anyhow::Result<()> {
    let bound = |name: &str| {
        layers.iter().filter(|l| l.system).any(|l| {
            l.file
                .registries
                .get(name)
                .is_some_and(|t| t.index.is_some())
        })
    };
    for (layer, text) in layers.iter().zip(texts) {
        for (name, table) in &layer.file.registries {
            if table.sso.is_none() || table.index.is_some() || bound(name) {
                continue;
            }
            let k = KeyError {
                table: format!("registries.{name}"),
                key: "sso",
                why: "needs `index` in the same table (the registry's index URL), or in the \
                      system-wide file's table of that name: a login is bound to one index, \
                      never to whatever a project's Cargo config calls this name"
                    .to_owned(),
            };
            return Err(match (&layer.origin, text) {
                (Origin::File(path), Some(text)) => located(&k, text, path),
                _ => anyhow::anyhow!("invalid configuration in {}: {k}", layer.origin),
            });
        }
    }
    Ok(())
}

/// `line L, column C` (1-based, columns in characters) of byte `offset`.
fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}")
}

/// Where `key` is set in `[table]` (1-based line and column), found by
/// reading the text: table headers and `key =` lines; dotted or inline
/// forms are not located.
fn locate_key(text: &str, table: &str, key: &str) -> Option<(usize, usize)> {
    let norm = |h: &str| -> String {
        h.chars()
            .filter(|c| !matches!(c, ' ' | '"' | '\''))
            .collect()
    };
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or("");
            current = norm(header);
            // A key that is itself a table: `[defaults.oidc]`.
            if current == format!("{table}.{key}") {
                return Some((i + 1, line.len() - trimmed.len() + 1));
            }
            continue;
        }
        if current == table
            && let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some((i + 1, line.len() - trimmed.len() + 1));
        }
    }
    None
}

/// The table and key whose value is at byte `offset`: the `key =` before it
/// on its line, else on the nearest line above that starts with one (a
/// value over several lines), within the same table. Only a key shaped like
/// ours (never a value) is returned.
fn key_at(text: &str, offset: usize) -> Option<(String, String)> {
    let before = text.get(..offset)?;
    let norm = |h: &str| -> String {
        h.chars()
            .filter(|c| !matches!(c, ' ' | '"' | '\''))
            .collect()
    };
    let mut table = String::new();
    let mut key = None;
    let lines: Vec<&str> = before.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[')
            && i + 1 < lines.len()
        {
            table = norm(header.split(']').next().unwrap_or(""));
            key = None;
            continue;
        }
        // `key =` with a bare key: not a string inside a value over several lines.
        if let Some((name, _)) = trimmed.split_once('=') {
            let name = name.trim_end();
            if key_like(name) {
                key = Some(name.to_owned());
            }
        }
    }
    Some((table, key?))
}

/// A TOML or serde message with any quoted value removed: serde quotes the
/// offending value ("invalid type: string \"…\"", "unknown variant `…`"),
/// and a value in a config file may be a pasted secret.
fn scrub_message(message: &str) -> String {
    let message = message.trim_end();
    // "unknown variant `VALUE`, expected …" / "unknown field `KEY`, expected
    // …": serde's list is after the LAST "`, expected " (the value itself
    // may hold that text, or backticks).
    for prefix in ["unknown variant `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (quoted, expected) = match rest.rsplit_once("`, expected ") {
                Some((quoted, expected)) => (quoted, Some(expected)),
                None => (rest.strip_suffix('`').unwrap_or(rest), None),
            };
            let what = if prefix.starts_with("unknown variant") {
                "unknown value".to_owned()
            } else if key_like(quoted) {
                format!("unknown field `{quoted}`")
            } else {
                "an unknown key (not shown: it looks like a value)".to_owned()
            };
            let expected = expected
                .map(|e| format!("; expected {}", scrub_quotes(e)))
                .unwrap_or_default();
            return format!("{what}{expected}");
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.rsplit_once(", expected ").map(|(_, e)| e);
        return match expected {
            Some(e) => format!("wrong type of value; expected {}", scrub_quotes(e)),
            None => "wrong type of value".to_owned(),
        };
    }
    if message.starts_with("invalid value: ") {
        let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
        return match expected {
            Some(e) => format!("invalid value; expected {}", scrub_quotes(e)),
            None => "invalid value".to_owned(),
        };
    }
    for prefix in ["duplicate key `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let key = rest.rsplit_once('`').map_or(rest, |(k, _)| k);
            let key = if key_like(key) {
                format!("`{key}`")
            } else {
                "(a key that looks like a value; not shown)".to_owned()
            };
            return format!("{}{key}", &prefix[..prefix.len() - 1]);
        }
    }
    scrub_quotes(message)
}

/// `text` with every quoted part that is not a plain key name replaced.
fn scrub_quotes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(['`', '"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find(quote) {
            Some(end) => {
                let inner = &after[..end];
                if key_like(inner) {
                    out.push(quote);
                    out.push_str(inner);
                    out.push(quote);
                } else {
                    out.push_str("(value not shown)");
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("(value not shown)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `s` looks like one of our key or enum names (lower-case words
/// joined by `-` or `_`, few digits) rather than a value or a secret.
fn key_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && s.chars().filter(char::is_ascii_digit).count() <= 2
}

fn parse_args(args: &[&str]) -> anyhow::Result<RawFile> {
    use clap::Parser as _;
    if args.is_empty() {
        // The usual case: building clap's parser is the costliest part of
        // reading the configuration, and there is nothing to parse.
        return Ok(RawFile::default());
    }
    let parsed = ProviderArgs::try_parse_from(args).map_err(|e| {
        let what = match e.kind() {
            clap::error::ErrorKind::UnknownArgument => "an unknown argument".to_owned(),
            clap::error::ErrorKind::InvalidValue => {
                "an invalid value for one of its flags".to_owned()
            }
            _ => "an argument it cannot read".to_owned(),
        };
        // Name the flag involved when clap knows it; never the value.
        let flag = e
            .get(clap::error::ContextKind::InvalidArg)
            .map(|v| v.to_string())
            .filter(|f| {
                f.starts_with("--")
                    && key_like(
                        f.trim_start_matches('-')
                            .split([' ', '='])
                            .next()
                            .unwrap_or(""),
                    )
            })
            .map(|f| format!(" ({})", f.split([' ', '=']).next().unwrap_or("")))
            .unwrap_or_default();
        anyhow::anyhow!(
            "the arguments of cargo-credential-corp in Cargo's `credential-provider` or \
             `global-credential-providers` setting hold {what}{flag}; accepted: --source \
             env|keychain|oidc|sso, --auth-scheme none|bearer|basic, --keychain-timeout-ms MS, --serve \
             all|listed"
        )
    })?;
    if !parsed.env.is_empty() {
        bail!(
            "`--env` is not accepted in the provider's arguments: Cargo passes them for every \
             registry that uses this provider entry, so the variable would be handed to any \
             registry a dependency names. Put `env = [\"VAR\"]` in a [registries.NAME] table of \
             the provider's config file instead (see docs/security.md)"
        );
    }
    let mut file = RawFile {
        serve: parsed.serve,
        policy: None,
        defaults: RawSettings {
            index: None,
            sources: (!parsed.sources.is_empty()).then_some(parsed.sources),
            env: None,
            auth_scheme: parsed.auth_scheme,
            basic_user: None,
            keychain_timeout_ms: parsed.keychain_timeout_ms,
            ca_file: None,
            oidc: None,
            oidc_valid: None,
            sso: None,
            sso_valid: None,
        },
        registries: BTreeMap::new(),
    };
    validate(&mut file).map_err(|e| match e.downcast_ref::<KeyError>() {
        // What [defaults] would be called in a file is a flag here.
        Some(k) => anyhow::anyhow!(
            "the arguments of cargo-credential-corp in Cargo's `credential-provider` or \
             `global-credential-providers` setting: `--{}` {}",
            if k.key == "sources" { "source" } else { k.key },
            k.why
        ),
        None => e.context("invalid arguments in Cargo's credential-provider setting"),
    })?;
    Ok(file)
}

fn validate(file: &mut RawFile) -> anyhow::Result<()> {
    let routing = |key: &'static str| KeyError {
        table: "defaults".to_owned(),
        key,
        why: "is not allowed: [defaults] applies to every registry Cargo asks about, so a token \
              source there would hand the token to any registry a dependency names. Move it \
              into the [registries.NAME] table (with `index`) of the registry it belongs to \
              (see docs/security.md)"
            .to_owned(),
    };
    if file.defaults.index.is_some() {
        return Err(KeyError {
            table: "defaults".to_owned(),
            key: "index",
            why: "belongs in a [registries.NAME] table, not in [defaults]".to_owned(),
        }
        .into());
    }
    if file.defaults.env.is_some() {
        return Err(routing("env").into());
    }
    if file.defaults.oidc.is_some() {
        return Err(routing("oidc").into());
    }
    if file.defaults.sso.is_some() {
        return Err(routing("sso").into());
    }
    validate_settings(&mut file.defaults, "defaults")?;
    for (name, table) in &mut file.registries {
        if name.is_empty() {
            bail!("a [registries] table has an empty name");
        }
        if has_long_word(name) || name.contains("eyJ") || name.chars().any(char::is_control) {
            // Not shown: a token pasted as a table name would be echoed.
            bail!(
                "a [registries] table name looks like a token, not a registry name (not shown); \
                 use the registry's name from Cargo's config"
            );
        }
        if let Some(index) = &table.index {
            if index.trim().is_empty() {
                return Err(KeyError {
                    table: format!("registries.{name}"),
                    key: "index",
                    why: "is empty".to_owned(),
                }
                .into());
            }
            if index.trim() != index || index.chars().any(char::is_control) {
                return Err(KeyError {
                    table: format!("registries.{name}"),
                    key: "index",
                    why: "has surrounding spaces or a control character; write the index URL \
                          exactly as in Cargo's config"
                        .to_owned(),
                }
                .into());
            }
        }
        validate_settings(table, &format!("registries.{name}"))?;
        if let Some(oidc) = &mut table.oidc_valid {
            oidc.table_index.clone_from(&table.index);
        }
        crates_io_only(name, table)?;
    }
    Ok(())
}

/// crates.io trusted publishing goes only to crates.io: in the table Cargo
/// calls `crates-io` (its index is then checked on every request), or a
/// table whose `index` is crates.io's own. Or to a crates.io-compatible
/// registry (staging, self-hosted), from a table with that registry's own
/// `index` (its tokens go there only), its own `token-endpoint` (not
/// crates.io's) and its own `identity-audience` (not `crates.io`).
fn crates_io_only(name: &str, table: &RawSettings) -> anyhow::Result<()> {
    let Some(oidc) = table
        .oidc_valid
        .as_ref()
        .filter(|o| o.grant == crate::oidc::settings::Grant::CratesIoTrustedPublishing)
    else {
        return Ok(());
    };
    let to_crates_io = match &table.index {
        Some(index) => crate::registry::is_crates_io_index(index),
        None => name == crate::registry::CRATES_IO,
    };
    if to_crates_io {
        return match crate::oidc::crates_io::crates_io_endpoint_refusal(oidc) {
            None => Ok(()),
            Some((key, why)) => Err(KeyError {
                table: format!("registries.{name}.oidc"),
                key,
                why: why.to_owned(),
            }
            .into()),
        };
    }
    if table.index.is_none() {
        return Err(KeyError {
            table: format!("registries.{name}.oidc"),
            key: "grant",
            why: "\"crates-io-trusted-publishing\" mints crates.io tokens: use it in \
                  [registries.crates-io] (no `index` needed), or in a table whose `index` is \
                  crates.io's (\"sparse+https://index.crates.io/\"). For a crates.io-compatible \
                  registry (staging, self-hosted), the table needs that registry's `index`, and \
                  this one its own `token-endpoint` and `identity-audience`"
                .to_owned(),
        }
        .into());
    }
    if let Some((key, why)) = crate::oidc::crates_io::foreign_registry_refusal(oidc) {
        return Err(KeyError {
            table: format!("registries.{name}.oidc"),
            key,
            why: format!(
                "{why}. With grant \"crates-io-trusted-publishing\" a table whose `index` is not \
                 crates.io's needs its own `token-endpoint` and `identity-audience`; for crates.io \
                 itself, use [registries.crates-io] without `index`"
            ),
        }
        .into());
    }
    Ok(())
}

fn validate_settings(s: &mut RawSettings, table: &str) -> anyhow::Result<()> {
    if let Some(oidc) = &s.oidc {
        s.oidc_valid = Some(oidc.validate(&format!("{table}.oidc"))?);
    }
    if let Some(sso) = &s.sso {
        s.sso_valid = Some(sso.validate(&format!("{table}.sso"))?);
    }
    if let Some(sources) = &s.sources {
        if sources.is_empty() {
            return Err(KeyError {
                table: table.to_owned(),
                key: "sources",
                why: "is empty: list at least one of \"env\", \"keychain\", \"oidc\", \"sso\""
                    .to_owned(),
            }
            .into());
        }
        for (i, kind) in sources.iter().enumerate() {
            if sources[..i].contains(kind) {
                return Err(KeyError {
                    table: table.to_owned(),
                    key: "sources",
                    why: format!("names {kind} twice"),
                }
                .into());
            }
        }
    }
    for (i, var) in s.env.iter().flatten().enumerate() {
        if !valid_var_name(var) {
            return Err(KeyError {
                table: table.to_owned(),
                key: "env",
                why: format!(
                    "entry {} is not an environment variable name (letters, digits and `_`); \
                     `env` lists variable names, never token values",
                    i + 1
                ),
            }
            .into());
        }
    }
    if let Some(user) = &s.basic_user
        && (user.contains(':') || user.chars().any(char::is_control))
    {
        // RFC 7617: the user-id ends at the first `:`.
        return Err(KeyError {
            table: table.to_owned(),
            key: "basic-user",
            why: "holds a `:` or a control character; it is the user name of HTTP Basic \
                  authentication (the token is the password), and cannot hold either"
                .to_owned(),
        }
        .into());
    }
    if let Some(ms) = s.keychain_timeout_ms
        && !(1..=600_000).contains(&ms)
    {
        return Err(KeyError {
            table: table.to_owned(),
            key: "keychain-timeout-ms",
            why: "is out of range; use 1 to 600000 (milliseconds)".to_owned(),
        }
        .into());
    }
    if let Some(ca_file) = &s.ca_file
        && !ca_file.is_absolute()
    {
        return Err(KeyError {
            table: table.to_owned(),
            key: "ca-file",
            why: "must be an absolute path (to a PEM file of CA certificates); `~` is not \
                  expanded"
                .to_owned(),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDX: &str = "sparse+https://r.example/api/v1/crates/";

    fn reg(name: Option<&'static str>, index_url: &'static str) -> Registry<'static> {
        Registry { index_url, name }
    }

    #[test]
    fn zero_config_serves_everything_with_env_then_keychain() {
        let c = Config::default();
        let s = c.settings_for(&reg(Some("x"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env, SourceKind::Keychain]);
        assert_eq!(s.auth_scheme, AuthScheme::None);
        assert_eq!(s.keychain_timeout, DEFAULT_KEYCHAIN_TIMEOUT);
        assert!(s.env.is_empty() && s.matched.is_empty());
    }

    #[test]
    fn unknown_keys_name_file_and_key() {
        let err = Config::from_texts(&[("/etc/x.toml", "[registries.a]\nsorces = [\"env\"]\n")])
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("/etc/x.toml"), "{msg}");
        assert!(msg.contains("sorces"), "{msg}");
        let err = Config::from_texts(&[("u.toml", "colour = 1\n")]).unwrap_err();
        assert!(format!("{err:#}").contains("colour"));
        let err =
            Config::from_texts(&[("u.toml", "[defaults]\nsources = [\"vault\"]\n")]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("expected one of") && msg.contains("line 2"),
            "{msg}"
        );
    }

    #[test]
    fn invalid_values_are_rejected() {
        for (text, needle) in [
            ("[defaults]\nsources = []\n", "is empty"),
            ("[defaults]\nsources = [\"env\", \"env\"]\n", "twice"),
            (
                "[registries.a]\nenv = [\"A=B\"]\n",
                "not an environment variable",
            ),
            (
                "[registries.a]\nenv = [\"1A\"]\n",
                "not an environment variable",
            ),
            (
                "[defaults]\nkeychain-timeout-ms = 0\n",
                "keychain-timeout-ms",
            ),
            ("[defaults]\nindex = \"x\"\n", "[defaults]"),
            ("[registries.a]\nindex = \" \"\n", "empty"),
            ("not toml at all", "invalid config file"),
        ] {
            let err = Config::from_texts(&[("f.toml", text)]).unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains(needle) && msg.contains("f.toml"),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn precedence_specific_before_general_then_user_before_system() {
        let user = "[defaults]\nauth-scheme = \"bearer\"\nkeychain-timeout-ms = 50\n";
        let system = "serve = \"listed\"\n[defaults]\nsources = [\"keychain\"]\n\
                      [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates\"\n\
                      sources = [\"env\"]\nenv = [\"CORP_TOKEN\"]\nauth-scheme = \"none\"\n";
        let c = Config::from_texts(&[("user.toml", user), ("system.toml", system)]).unwrap();
        let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env]);
        assert_eq!(s.env, ["CORP_TOKEN"]);
        // The system's table is more specific than the user's defaults.
        assert_eq!(s.auth_scheme, AuthScheme::None);
        assert_eq!(s.keychain_timeout, Duration::from_millis(50));
        assert_eq!(s.matched.len(), 1);
        // Matched by index when Cargo sends no name (`--index URL`) or another name.
        assert!(c.settings_for(&reg(None, IDX)).unwrap().is_some());
        assert!(c.settings_for(&reg(Some("alias"), IDX)).unwrap().is_some());
        // `serve = "listed"`: other registries are not served.
        assert!(
            c.settings_for(&reg(Some("other"), "sparse+https://o/"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn provider_args_win() {
        let mut c =
            Config::from_texts(&[("u.toml", "[defaults]\nsources = [\"keychain\"]\n")]).unwrap();
        c.layers.insert(
            0,
            Layer {
                origin: Origin::ProviderArgs,
                file: parse_args(&["--source", "env", "--auth-scheme", "bearer"]).unwrap(),
                system: false,
            },
        );
        let s = c.settings_for(&reg(Some("a"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env]);
        assert_eq!(s.auth_scheme, AuthScheme::Bearer);
    }

    #[test]
    fn token_sources_in_defaults_or_args_are_refused_with_the_place() {
        let msg = format!(
            "{:#}",
            parse_args(&["--env", "ACME_REGISTRY_TOKEN"]).unwrap_err()
        );
        assert!(
            msg.contains("--env") && msg.contains("[registries.NAME]"),
            "{msg}"
        );
        for (text, key, line) in [
            (
                "[defaults]\nsources = [\"env\"]\nenv = [\"ACME\"]\n",
                "`env`",
                3,
            ),
            (
                "serve = \"all\"\n\n[defaults.oidc]\nissuer = \"https://i\"\n",
                "`oidc`",
                3,
            ),
        ] {
            let msg = format!("{:#}", Config::from_texts(&[("f.toml", text)]).unwrap_err());
            assert!(
                msg.contains(key)
                    && msg.contains("[defaults]")
                    && msg.contains("f.toml")
                    && msg.contains(&format!("line {line}, column 1")),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn the_system_policy_locks_what_the_user_cannot_loosen() {
        let user = "serve = \"all\"\n[registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
                    sources = [\"keychain\", \"env\", \"sso\"]\n\
                    [registries.corp.sso]\nissuer = \"https://i\"\nclient-id = \"c\"\nstore = \"file\"\n";
        let system = "[policy]\nserve = \"listed\"\nallowed-sources = [\"env\", \"sso\"]\n\
                      interactive = \"never\"\nfile-store = false\n";
        let c = Config::from_texts(&[("user.toml", user), ("system.toml", system)]).unwrap();
        let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env, SourceKind::Sso]);
        let sso = s.sso.as_ref().unwrap();
        assert_eq!(sso.interactive, crate::sso::settings::Interactive::Never);
        assert_eq!(sso.store, crate::sso::settings::GrantStore::Keychain);
        assert_eq!(s.locked.len(), 3, "{:?}", s.locked);
        assert!(s.locked[0].contains("system.toml"), "{:?}", s.locked);
        // serve = "listed" wins over the user's "all".
        assert!(
            c.settings_for(&reg(Some("other"), "sparse+https://o/"))
                .unwrap()
                .is_none()
        );
        // A [policy] in a user's file is refused.
        let dir = tempfile::tempdir().unwrap();
        let user_path = dir.path().join("user.toml");
        std::fs::write(&user_path, system).unwrap();
        let paths = ConfigPaths {
            user: Some(user_path),
            system: None,
            platform: None,
        };
        let err = Config::load(&paths, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("[policy] is read only from the system-wide file"));
    }

    #[test]
    fn the_platform_files_policy_applies_whatever_the_variable_says() {
        let dir = tempfile::tempdir().unwrap();
        let platform = dir.path().join("platform.toml");
        std::fs::write(
            &platform,
            "[policy]\nserve = \"listed\"\nallowed-sources = [\"env\", \"keychain\"]\n\
             [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n",
        )
        .unwrap();
        let other = reg(Some("other"), "sparse+https://o/");
        // The variable pointing at a missing file does not drop the policy
        // (nor does it bring the platform file's other settings).
        let paths = ConfigPaths {
            user: None,
            system: Some(dir.path().join("missing.toml")),
            platform: Some(platform.clone()),
        };
        let c = Config::load(&paths, &[]).unwrap();
        assert!(c.settings_for(&other).unwrap().is_none());
        assert!(c.index_for("corp").is_none());
        // With a file of its own, the stricter of the two policies wins.
        let system = dir.path().join("system.toml");
        std::fs::write(
            &system,
            "[policy]\nserve = \"all\"\nallowed-sources = [\"env\", \"oidc\"]\nfile-store = false\n\
             [registries.other]\nindex = \"sparse+https://o/\"\nsources = [\"env\", \"keychain\", \"oidc\"]\n",
        )
        .unwrap();
        let paths = ConfigPaths {
            user: None,
            system: Some(system),
            platform: Some(platform),
        };
        let c = Config::load(&paths, &[]).unwrap();
        let s = c.settings_for(&other).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env]);
        assert!(
            s.locked.iter().any(|l| l.contains("platform.toml")),
            "{:?}",
            s.locked
        );
        let (policy, _) = c.policy().unwrap();
        assert_eq!(policy.serve, Some(Serve::Listed));
        assert_eq!(policy.file_store, Some(false));
        assert!(
            c.settings_for(&reg(Some("x"), "sparse+https://x/"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_sso_table_applies_only_to_its_registry_and_joins_the_default_sources() {
        let c = Config::from_texts(&[(
            "u.toml",
            "[registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
             [registries.corp.sso]\nissuer = \"https://i\"\nclient-id = \"cargo\"\n\
             [registries.own]\nindex = \"sparse+https://o.example/\"\nsources = [\"keychain\"]\n\
             [registries.own.sso]\nissuer = \"https://i\"\nclient-id = \"cargo\"\n",
        )])
        .unwrap();
        let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
        assert!(s.sso.is_some());
        assert_eq!(
            s.sources,
            [SourceKind::Env, SourceKind::Sso, SourceKind::Keychain]
        );
        // A table's own `sources` is used as written.
        let own = reg(Some("own"), "sparse+https://o.example/");
        let s = c.settings_for(&own).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Keychain]);
        // A registry a dependency names gets no login.
        for r in [
            reg(None, "sparse+http://127.0.0.1:9/"),
            reg(Some("other"), "sparse+https://x.example/"),
        ] {
            let s = c.settings_for(&r).unwrap().unwrap();
            assert!(s.sso.is_none(), "{r:?}");
            assert_eq!(s.sources, [SourceKind::Env, SourceKind::Keychain]);
        }
        // Without `index`, or in [defaults], it is refused, naming the key.
        let err = Config::from_texts(&[(
            "u.toml",
            "[registries.corp.sso]\nissuer = \"https://i\"\nclient-id = \"c\"\n",
        )])
        .unwrap_err();
        assert!(format!("{err:#}").contains("needs `index`"), "{err:#}");
        let err = Config::from_texts(&[(
            "u.toml",
            "[defaults.sso]\nissuer = \"https://i\"\nclient-id = \"c\"\n",
        )])
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("`sso` in [defaults]"),
            "{err:#}"
        );
    }

    #[test]
    fn config_words_are_what_the_file_says() {
        use crate::diag::config_word;
        use crate::oidc::settings::{ClientAuth, Grant, IdentityKind};
        assert_eq!(config_word(&Grant::JfrogArtifactory), "jfrog-artifactory");
        assert_eq!(
            config_word(&Grant::CratesIoTrustedPublishing),
            "crates-io-trusted-publishing"
        );
        assert_eq!(config_word(&IdentityKind::GithubActions), "github-actions");
        assert_eq!(config_word(&IdentityKind::AwsImds), "aws-imds");
        assert_eq!(
            config_word(&ClientAuth::ClientSecretBasic),
            "client-secret-basic"
        );
        assert_eq!(config_word(&AuthScheme::Basic), "basic");
        // Each word is read back as the same value.
        for grant in [
            Grant::AwsCodeartifact,
            Grant::TokenExchange,
            Grant::Cloudsmith,
        ] {
            let word = format!("\"{}\"", config_word(&grant));
            assert_eq!(serde_json::from_str::<Grant>(&word).unwrap(), grant);
        }
    }

    #[test]
    fn the_key_of_a_bad_value_is_found_never_a_value() {
        let text = "serve = 3\n[registries.\"a\"]\nenv = [\n  \"x=y\",\n  4,\n]\n[b]\nk = 1";
        let at = |needle: &str| text.find(needle).unwrap();
        assert_eq!(key_at(text, at("3")), Some((String::new(), "serve".into())));
        assert_eq!(
            key_at(text, at("4")),
            Some(("registries.a".into(), "env".into()))
        );
        assert_eq!(key_at(text, at("1")), Some(("b".into(), "k".into())));
        // A header with no key after it, and a key that looks like a value.
        assert_eq!(key_at(text, at("[b]") + 4), None);
        assert_eq!(key_at("\"Tok3n-Xy99\" = 1", 15), None);
    }

    #[test]
    fn a_table_with_index_binds_every_name_sharing_its_variable() {
        let c = Config::from_texts(&[(
            "u.toml",
            "[registries.my-reg]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
             [registries.crates_io]\nindex = \"sparse+https://c.example/\"\n",
        )])
        .unwrap();
        let err = c
            .settings_for(&reg(Some("my_reg"), "sparse+https://evil.example/"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`my-reg`") && err.contains("CARGO_REGISTRIES_MY_REG_TOKEN"),
            "{err}"
        );
        assert!(
            c.settings_for(&reg(Some("my.reg"), "sparse+https://evil.example/"))
                .is_err()
        );
        // Its own index under either name; other names; crates.io's own
        // variable is not shared with a `crates_io` table.
        for r in [
            reg(Some("my_reg"), IDX),
            reg(Some("my-reg"), IDX),
            reg(Some("my_reg2"), "sparse+https://evil.example/"),
            reg(Some("crates-io"), "sparse+https://index.crates.io/"),
        ] {
            assert!(c.settings_for(&r).is_ok(), "{r:?}");
        }
    }

    #[test]
    fn tokens_are_routed_only_to_matching_tables() {
        let c = Config::from_texts(&[(
            "u.toml",
            "[defaults]\nsources = [\"oidc\", \"env\", \"keychain\"]\n\
             [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
             env = [\"ACME_TOKEN\"]\n[registries.corp.oidc]\nissuer = \"https://i\"\n\
             [registries.byname]\nenv = [\"BYNAME_TOKEN\"]\n",
        )])
        .unwrap();
        // Matched by name and index, or by index alone.
        for r in [
            reg(Some("corp"), IDX),
            reg(None, IDX),
            reg(Some("alias"), IDX),
        ] {
            let s = c.settings_for(&r).unwrap().unwrap();
            assert_eq!(s.env, ["ACME_TOKEN"], "{r:?}");
            assert!(s.oidc.is_some(), "{r:?}");
        }
        // A registry a dependency names (no name, unknown index), crates.io,
        // and another named registry get no configured token source.
        for r in [
            reg(None, "sparse+http://127.0.0.1:9/"),
            reg(Some("crates-io"), "sparse+https://index.crates.io/"),
            reg(Some("other"), "sparse+https://o.example/"),
            reg(None, "sparse+https://r.example/api/v1/crates//"),
            reg(None, "sparse+https://R.example/api/v1/crates/"),
        ] {
            let s = c.settings_for(&r).unwrap().unwrap();
            assert!(s.env.is_empty() && s.oidc.is_none(), "{r:?}");
            assert!(s.matched.is_empty(), "{r:?}");
        }
        // A table without `index` matches by name only, never a nameless request.
        let s = c
            .settings_for(&reg(Some("byname"), "sparse+https://b/"))
            .unwrap()
            .unwrap();
        assert_eq!(s.env, ["BYNAME_TOKEN"]);
        let s = c
            .settings_for(&reg(None, "sparse+https://b/"))
            .unwrap()
            .unwrap();
        assert!(s.env.is_empty());
    }

    #[test]
    fn config_errors_never_show_values() {
        const SECRET: &str = "ghp_SeCrEt0123456789abcdefABCDEF";
        for (text, line, key) in [
            (format!("token = \"{SECRET}\"\n"), 1, "token"),
            (
                format!("[registries.corp]\nindex = \"sparse+https://r/\"\ntoken = \"{SECRET}\"\n"),
                3,
                "token",
            ),
            (
                format!(
                    "[registries.corp.oidc]\nissuer = \"https://i\"\nclient-secret-env = \"{SECRET}\"\n"
                ),
                3,
                "client-secret-env",
            ),
            (
                format!(
                    "[registries.corp.oidc]\nissuer = \"https://i\"\nidentity-env = \"a-{SECRET}\"\n"
                ),
                3,
                "identity-env",
            ),
            (
                format!("[registries.corp.oidc]\ntoken-endpoint = \"http://r.example/{SECRET}\"\n"),
                2,
                "token-endpoint",
            ),
            (
                format!("[registries.corp]\nenv = [\"A\", \"{SECRET}-x\"]\n"),
                2,
                "env",
            ),
            (
                format!("[registries.corp]\nsources = [\"{SECRET}\"]\n"),
                2,
                "",
            ),
            (
                format!("[registries.corp]\nauth-scheme = \"{SECRET}\"\n"),
                2,
                "",
            ),
            (
                format!("[registries.corp]\nkeychain-timeout-ms = \"{SECRET}\"\n"),
                2,
                "",
            ),
            (
                format!("[registries.corp]\nindex = [\"{SECRET}\"]\n"),
                2,
                "",
            ),
            (format!("{SECRET} = 1\n"), 1, ""),
            (format!("serve = \"`, {SECRET}\"\n"), 1, ""),
            (format!("\"tok`, {SECRET}\" = 1\n"), 1, ""),
            (
                format!("[registries.corp]\n\"a`, expected {SECRET}`\" = 1\n"),
                2,
                "",
            ),
            (format!("x = \"{SECRET}\n"), 1, ""),
            (
                format!("[registries.corp]\nindex = \"{SECRET}\"\nindex = \"{SECRET}\"\n"),
                3,
                "",
            ),
        ] {
            let msg = format!(
                "{:#}",
                Config::from_texts(&[("f.toml", &text)]).unwrap_err()
            );
            assert!(!msg.contains(&SECRET[4..20]), "{text}: {msg}");
            assert!(
                msg.contains("f.toml") && msg.contains(&format!("line {line}")),
                "{text}: {msg}"
            );
            assert!(msg.contains(key), "{text}: {msg}");
        }
    }

    #[test]
    fn names_that_look_like_tokens_are_refused_without_being_shown() {
        for name in [
            "deadbeefcafe0123456789abcdef0123456789ab",
            "ghp_abc",
            "SeCrEt0123456789abcdefAB",
        ] {
            assert!(!valid_var_name(name), "{name}");
            let text = format!(
                "[registries.x.oidc]\nissuer = \"https://i\"\nclient-secret-env = {name:?}\n"
            );
            let msg = format!(
                "{:#}",
                Config::from_texts(&[("f.toml", &text)]).unwrap_err()
            );
            assert!(!msg.contains(name), "{msg}");
            if name.len() < 20 {
                continue; // short names are valid registry names
            }
            let text = format!("[registries.{name:?}]\nsources = []\n");
            let msg = format!(
                "{:#}",
                Config::from_texts(&[("f.toml", &text)]).unwrap_err()
            );
            assert!(
                !msg.contains(name) && msg.contains("looks like a token"),
                "{msg}"
            );
        }
        for name in [
            "CARGO_REGISTRIES_MY_PRIVATE_TOKEN",
            "ACME_TOKEN",
            "corp_token2",
        ] {
            assert!(valid_var_name(name), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_at_a_config_path_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.toml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let paths = ConfigPaths {
            user: Some(fifo),
            system: None,
            platform: None,
        };
        let start = std::time::Instant::now();
        let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
        assert!(msg.contains("not a regular file"), "{msg}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn oidc_in_default_sources_is_skipped_unless_a_table_lists_it() {
        let c = Config::from_texts(&[(
            "u.toml",
            "[defaults]\nsources = [\"oidc\", \"env\"]\n\
             [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\nenv = [\"A\"]\n\
             [registries.named]\nsources = [\"oidc\"]\n",
        )])
        .unwrap();
        let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
        assert!(!s.oidc_listed && s.oidc.is_none() && s.unbound.is_none());
        let s = c
            .settings_for(&reg(Some("named"), "sparse+https://n/"))
            .unwrap()
            .unwrap();
        assert!(s.oidc_listed);
    }

    #[test]
    fn a_token_table_without_index_is_flagged() {
        let c = Config::from_texts(&[("u.toml", "[registries.corp]\nenv = [\"A\"]\n")]).unwrap();
        let s = c
            .settings_for(&reg(Some("corp"), "sparse+https://anything/"))
            .unwrap()
            .unwrap();
        assert_eq!(s.unbound.map(|(n, _)| n).as_deref(), Some("corp"));
    }

    #[cfg(unix)]
    #[test]
    fn config_files_writable_by_others_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[defaults]\nsources = [\"env\"]\n").unwrap();
        let paths = ConfigPaths {
            user: Some(user.clone()),
            system: None,
            platform: None,
        };
        for mode in [0o664, 0o666, 0o646] {
            std::fs::set_permissions(&user, std::fs::Permissions::from_mode(mode)).unwrap();
            let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
            assert!(
                msg.contains("chmod go-w") && msg.contains("user.toml"),
                "{msg}"
            );
        }
        std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Config::load(&paths, &[]).is_ok());
        // Owned by another user (only root can set this up).
        if std::os::unix::fs::chown(&user, Some(65534), None).is_ok() {
            let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
            assert!(msg.contains("another user"), "{msg}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_config_file_in_a_folder_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("etc");
        std::fs::create_dir(&folder).unwrap();
        let system = folder.join("config.toml");
        std::fs::write(&system, "[defaults]\nsources = [\"env\"]\n").unwrap();
        std::fs::set_permissions(&system, std::fs::Permissions::from_mode(0o644)).unwrap();
        let paths = ConfigPaths {
            user: None,
            system: Some(system.clone()),
            platform: None,
        };
        // Anyone in the group could replace the file.
        for mode in [0o775, 0o777, 0o757] {
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).unwrap();
            let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
            assert!(
                msg.contains("chmod go-w") && msg.contains(&folder.display().to_string()),
                "{msg}"
            );
        }
        // Not with the sticky bit (only a file's owner may replace it), nor 0755.
        for mode in [0o1777, 0o755] {
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(Config::load(&paths, &[]).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn bad_provider_args_say_where_to_look() {
        let msg = format!("{:#}", parse_args(&["--sauce", "env"]).unwrap_err());
        assert!(
            msg.contains("--sauce") && msg.contains("credential-provider"),
            "{msg}"
        );
        let msg = format!("{:#}", parse_args(&["--source", "vault"]).unwrap_err());
        assert!(msg.contains("--source") && !msg.contains("vault"), "{msg}");
    }

    #[test]
    fn a_name_bound_to_another_index_is_refused() {
        let c = Config::from_texts(&[(
            "u.toml",
            "[registries.corp]\nindex = \"sparse+https://good/\"\n",
        )])
        .unwrap();
        let err = c
            .settings_for(&reg(Some("corp"), "sparse+https://evil/"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("https://good/")
                && msg.contains("https://evil/")
                && msg.contains("u.toml"),
            "{msg}"
        );
    }

    #[test]
    fn load_reads_files_and_ignores_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[defaults]\nsources = [\"env\"]\n").unwrap();
        let paths = ConfigPaths {
            user: Some(user.clone()),
            system: Some(dir.path().join("missing.toml")),
            platform: None,
        };
        let c = Config::load(&paths, &[]).unwrap();
        assert_eq!(c.files().collect::<Vec<_>>(), [user.as_path()]);
        let s = c.settings_for(&reg(Some("a"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env]);
    }

    #[test]
    fn every_ca_file_found_is_trusted_and_reaches_oidc_and_sso() {
        let c = Config::from_texts(&[
            (
                "u.toml",
                &format!(
                    "[defaults]\nca-file = \"/home/me/extra.pem\"\n[registries.corp]\n\
                     index = \"{IDX}\"\nca-file = \"/etc/corp/idp.pem\"\n\
                     [registries.corp.oidc]\ntoken-endpoint = \"https://idp/t\"\n\
                     [registries.corp.sso]\nissuer = \"https://idp\"\nclient-id = \"c\"\n"
                ),
            ),
            (
                "system.toml",
                "[defaults]\nca-file = \"/etc/corp/ca.pem\"\n",
            ),
        ])
        .unwrap();
        let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
        let expected: Vec<PathBuf> = [
            "/etc/corp/idp.pem",
            "/home/me/extra.pem",
            "/etc/corp/ca.pem",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(s.ca_files, expected);
        assert_eq!(s.oidc.unwrap().ca_files, expected);
        assert_eq!(s.sso.unwrap().ca_files, expected);
        let other = c
            .settings_for(&reg(Some("x"), "sparse+https://x/"))
            .unwrap()
            .unwrap();
        assert_eq!(other.ca_files.len(), 2);

        let err =
            Config::from_texts(&[("u.toml", "[defaults]\nca-file = \"~/ca.pem\"\n")]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("ca-file") && msg.contains("absolute") && msg.contains("line 2"),
            "{msg}"
        );
        assert!(!msg.contains("~/ca.pem"), "{msg}");
    }

    const TP_INDEX: &str = "sparse+https://tp.example/index/";
    const TP_ENDPOINT: &str = "https://tp.example/api/v1/trusted_publishing/tokens";

    /// A `[registries.tp]` table (`index` line or none) with the crates.io
    /// trusted publishing grant and `oidc` lines.
    fn trusted_publishing(index: &str, oidc: &str) -> anyhow::Result<Config> {
        Config::from_texts(&[(
            "u.toml",
            &format!(
                "[registries.tp]\n{index}sources = [\"oidc\"]\n[registries.tp.oidc]\n\
                 grant = \"crates-io-trusted-publishing\"\n{oidc}"
            ),
        )])
    }

    #[test]
    fn a_crates_io_compatible_registry_gets_trusted_publishing_with_its_own_index_endpoint_and_audience()
     {
        let index = format!("index = {TP_INDEX:?}\n");
        let endpoint = format!("token-endpoint = {TP_ENDPOINT:?}\n");
        let audience = "identity-audience = \"tp.example\"\n";
        let c = trusted_publishing(&index, &format!("{endpoint}{audience}")).unwrap();
        // Bound to its index, matched by name or by index.
        for r in [reg(Some("tp"), TP_INDEX), reg(None, TP_INDEX)] {
            let s = c.settings_for(&r).unwrap().unwrap();
            let oidc = s.oidc.unwrap();
            assert_eq!(oidc.table_index.as_deref(), Some(TP_INDEX));
            assert_eq!(oidc.identity_audience.as_deref(), Some("tp.example"));
            assert!(s.unbound.is_none());
        }
        // staging.crates.io is not crates.io.
        trusted_publishing(
            &index,
            "token-endpoint = \"https://staging.crates.io/api/v1/trusted_publishing/tokens\"\n\
             identity-audience = \"staging.crates.io\"\n",
        )
        .unwrap();
        // crates.io's own table is unchanged: no `index`, no endpoint or
        // audience needed (they default to crates.io's), and not bound.
        let c = Config::from_texts(&[(
            "u.toml",
            "[registries.crates-io]\n[registries.crates-io.oidc]\n\
             grant = \"crates-io-trusted-publishing\"\n",
        )])
        .unwrap();
        let s = c
            .settings_for(&reg(Some("crates-io"), "sparse+https://index.crates.io/"))
            .unwrap()
            .unwrap();
        assert_eq!(s.oidc.unwrap().table_index, None);
        // Nor is a table whose `index` is crates.io's.
        trusted_publishing("index = \"sparse+https://index.crates.io/\"\n", "").unwrap();
    }

    #[test]
    fn crates_ios_own_table_sends_id_tokens_only_to_crates_io_or_loopback() {
        for (table, endpoint, ok) in [
            ("[registries.crates-io]\n", "https://evil.example/tp", false),
            (
                "[registries.x]\nindex = \"sparse+https://index.crates.io/\"\n",
                "https://evil.example/tp",
                false,
            ),
            ("[registries.crates-io]\n", "http://127.0.0.1:9/tp", true),
            ("[registries.crates-io]\n", "http://localhost:9/tp", true),
            (
                "[registries.crates-io]\n",
                "https://crates.io/api/v1/trusted_publishing/tokens",
                true,
            ),
        ] {
            let header = table.lines().next().unwrap().trim_end_matches(']');
            let text = format!(
                "{table}{header}.oidc]\ngrant = \"crates-io-trusted-publishing\"\n\
                 token-endpoint = {endpoint:?}\n"
            );
            let result = Config::from_texts(&[("u.toml", &text)]);
            match (result, ok) {
                (Ok(_), true) => {}
                (Err(e), false) => {
                    let msg = format!("{e:#}");
                    assert!(
                        msg.contains("`token-endpoint`") && !msg.contains("evil"),
                        "{msg}"
                    );
                }
                (r, _) => panic!("{text}: {:?}", r.map(|_| ()).map_err(|e| e.to_string())),
            }
        }
    }

    #[test]
    fn trusted_publishing_for_another_index_needs_each_of_index_endpoint_and_audience() {
        let index = format!("index = {TP_INDEX:?}\n");
        let endpoint = format!("token-endpoint = {TP_ENDPOINT:?}\n");
        let audience = "identity-audience = \"tp.example\"\n";
        for (index, oidc, key, needle) in [
            // No `index`: not bound to anything.
            (
                "",
                format!("{endpoint}{audience}"),
                "`grant` in [registries.tp.oidc]",
                "needs",
            ),
            ("", String::new(), "`grant`", "[registries.crates-io]"),
            // crates.io's endpoint (the default, or written out, in any case).
            (
                &index[..],
                audience.to_owned(),
                "`token-endpoint` in [registries.tp.oidc]",
                "never minted for another index",
            ),
            (
                &index,
                format!(
                    "token-endpoint = \"https://crates.io/api/v1/trusted_publishing/tokens\"\n\
                     {audience}"
                ),
                "`token-endpoint`",
                "crates.io's own endpoint",
            ),
            (
                &index,
                format!(
                    "token-endpoint = \"https://CRATES.IO./api/v1/trusted_publishing/tokens\"\n\
                     {audience}"
                ),
                "`token-endpoint`",
                "crates.io's own endpoint",
            ),
            (
                &index,
                format!(
                    "token-endpoint = \"https://www.crates.io/api/v1/trusted_publishing/tokens\"\n\
                     {audience}"
                ),
                "`token-endpoint`",
                "crates.io's own endpoint",
            ),
            // crates.io's audience (the default, or written out).
            (
                &index,
                endpoint.clone(),
                "`identity-audience` in [registries.tp.oidc]",
                "never sent to another server",
            ),
            (
                &index,
                format!("{endpoint}identity-audience = \"crates.io\"\n"),
                "`identity-audience`",
                "not `crates.io`",
            ),
            (
                &index,
                format!("{endpoint}identity-audience = \" Crates.IO \"\n"),
                "`identity-audience`",
                "not `crates.io`",
            ),
            (
                &index,
                format!("{endpoint}identity-audience = \"https://crates.io/\"\n"),
                "`identity-audience`",
                "not `crates.io`",
            ),
        ] {
            let err = trusted_publishing(index, &oidc).unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains(key) && msg.contains(needle) && msg.contains("u.toml"),
                "{index}{oidc}: {msg}"
            );
            // Says what to change, never the values.
            assert!(msg.contains("crates-io-trusted-publishing"), "{msg}");
            for value in [
                TP_INDEX,
                TP_ENDPOINT,
                "tp.example\"",
                "CRATES.IO.",
                "https://crates.io/",
            ] {
                assert!(!msg.contains(value), "{value} shown: {msg}");
            }
        }
    }
}
