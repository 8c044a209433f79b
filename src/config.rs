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

use crate::oidc::settings::{OidcSettings, RawOidc};
use crate::registry::{Registry, same_index};
use crate::source::SourceKind;

/// Environment variable naming the user's config file.
pub const USER_CONFIG_ENV: &str = "CARGO_CREDENTIAL_CORP_CONFIG";
/// Environment variable naming the system-wide config file.
pub const SYSTEM_CONFIG_ENV: &str = "CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG";

/// How long a keychain call may take when Cargo asks for a token.
pub const DEFAULT_KEYCHAIN_TIMEOUT: Duration = Duration::from_millis(2000);

/// How a token is written into the `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthScheme {
    /// The token is sent as it is (Cargo's default; crates.io, kellnr).
    None,
    /// The token is sent as `Bearer <token>` (Azure Artifacts, some gateways).
    Bearer,
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

/// One file's (or the arguments') settings, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFile {
    serve: Option<Serve>,
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
    keychain_timeout_ms: Option<u64>,
    oidc: Option<RawOidc>,
    /// `oidc`, validated (filled in by [`validate`]).
    #[serde(skip)]
    oidc_valid: Option<OidcSettings>,
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
    /// Extra environment variables to read a token from (repeatable).
    #[arg(long = "env", value_name = "VAR")]
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
}

/// Where the config files are looked for.
#[derive(Debug, Clone, Default)]
pub struct ConfigPaths {
    /// The user's file.
    pub user: Option<PathBuf>,
    /// The system-wide file.
    pub system: Option<PathBuf>,
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
        ConfigPaths {
            user: var(USER_CONFIG_ENV).or_else(|| {
                dirs::config_dir().map(|d| d.join("cargo-credential-corp").join("config.toml"))
            }),
            system: var(SYSTEM_CONFIG_ENV).or_else(system_config_path),
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
    /// How the token goes into the `Authorization` header.
    pub auth_scheme: AuthScheme,
    /// Deadline of each keychain call made for a `get`.
    pub keychain_timeout: Duration,
    /// The short-lived token exchange, when configured.
    pub oidc: Option<OidcSettings>,
    /// The `[registries.NAME]` tables that matched, as `(name, origin)`.
    pub matched: Vec<(String, Origin)>,
}

/// A configured registry whose index differs from the one Cargo asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMismatch {
    name: String,
    configured: String,
    requested: String,
    origin: Origin,
}

impl fmt::Display for IndexMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        }];
        for path in [&paths.user, &paths.system].into_iter().flatten() {
            if let Some(text) = read_optional(path)? {
                layers.push(Layer {
                    origin: Origin::File(path.clone()),
                    file: parse_file(&text, path)?,
                });
            }
        }
        Ok(Config { layers })
    }

    /// A configuration from TOML texts, highest precedence first (for tests).
    pub fn from_texts(texts: &[(&str, &str)]) -> anyhow::Result<Config> {
        let layers = texts
            .iter()
            .map(|(name, text)| {
                let path = Path::new(name);
                Ok(Layer {
                    origin: Origin::File(path.to_owned()),
                    file: parse_file(text, path)?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Config { layers })
    }

    /// The files this configuration was read from.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.layers.iter().filter_map(|l| match &l.origin {
            Origin::File(p) => Some(p.as_path()),
            Origin::ProviderArgs => None,
        })
    }

    /// The `index` configured for the registry called `name`, if any.
    pub fn index_for(&self, name: &str) -> Option<&str> {
        self.layers
            .iter()
            .find_map(|l| l.file.registries.get(name)?.index.as_deref())
    }

    /// The settings for `registry`, or `None` when this configuration does not
    /// serve it (`serve = "listed"` and no table matches).
    pub fn settings_for(&self, registry: &Registry<'_>) -> Result<Option<Settings>, IndexMismatch> {
        let serve = self
            .layers
            .iter()
            .find_map(|l| l.file.serve)
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
        Ok(Some(Settings {
            sources: pick(&order, |s| s.sources.clone())
                .unwrap_or_else(|| vec![SourceKind::Env, SourceKind::Keychain]),
            env: pick(&order, |s| s.env.clone()).unwrap_or_default(),
            auth_scheme: pick(&order, |s| s.auth_scheme).unwrap_or(AuthScheme::None),
            keychain_timeout: pick(&order, |s| s.keychain_timeout_ms)
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_KEYCHAIN_TIMEOUT),
            oidc: pick(&order, |s| s.oidc_valid.clone()),
            matched: tables
                .iter()
                .map(|(n, _, o)| ((*n).to_owned(), (*o).clone()))
                .collect(),
        }))
    }
}

/// The first layer (in `order`) that sets a value.
fn pick<T>(order: &[&RawSettings], get: impl Fn(&RawSettings) -> Option<T>) -> Option<T> {
    order.iter().find_map(|s| get(s))
}

/// The table for `registry`: by name, else by index URL. A table found by
/// name whose `index` differs from the requested one is an error.
fn find_table<'a>(
    tables: &'a BTreeMap<String, RawSettings>,
    registry: &Registry<'_>,
    origin: &Origin,
) -> Result<Option<(&'a str, &'a RawSettings)>, IndexMismatch> {
    if let Some((name, table)) = registry.name.and_then(|n| tables.get_key_value(n)) {
        return match &table.index {
            Some(index) if !same_index(index, registry.index_url) => Err(IndexMismatch {
                name: name.clone(),
                configured: index.clone(),
                requested: registry.index_url.to_owned(),
                origin: origin.clone(),
            }),
            _ => Ok(Some((name, table))),
        };
    }
    Ok(tables.iter().find_map(|(name, table)| {
        let index = table.index.as_deref()?;
        same_index(index, registry.index_url).then_some((name.as_str(), table))
    }))
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .with_context(|| format!("config file {} is not valid UTF-8", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    }
}

fn parse_file(text: &str, path: &Path) -> anyhow::Result<RawFile> {
    let mut file: RawFile = toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))
        .with_context(|| format!("invalid config file {}", path.display()))?;
    validate(&mut file).with_context(|| format!("invalid config file {}", path.display()))?;
    Ok(file)
}

fn parse_args(args: &[&str]) -> anyhow::Result<RawFile> {
    use clap::Parser as _;
    let parsed = ProviderArgs::try_parse_from(args).map_err(|e| {
        let text = e.to_string();
        let first = text.split("\n\n").next().unwrap_or(&text).trim();
        anyhow::anyhow!(
            "{} (in the arguments of cargo-credential-corp in Cargo's `credential-provider` or \
             `global-credential-providers` setting; accepted: --source env|keychain, --env VAR, \
             --auth-scheme none|bearer, --keychain-timeout-ms MS, --serve all|listed)",
            first.strip_prefix("error: ").unwrap_or(first)
        )
    })?;
    let mut file = RawFile {
        serve: parsed.serve,
        defaults: RawSettings {
            index: None,
            sources: (!parsed.sources.is_empty()).then_some(parsed.sources),
            env: (!parsed.env.is_empty()).then_some(parsed.env),
            auth_scheme: parsed.auth_scheme,
            keychain_timeout_ms: parsed.keychain_timeout_ms,
            oidc: None,
            oidc_valid: None,
        },
        registries: BTreeMap::new(),
    };
    validate(&mut file).context("invalid arguments in Cargo's credential-provider setting")?;
    Ok(file)
}

fn validate(file: &mut RawFile) -> anyhow::Result<()> {
    if file.defaults.index.is_some() {
        bail!("`index` belongs in a [registries.NAME] table, not in [defaults]");
    }
    validate_settings(&mut file.defaults, "defaults")?;
    for (name, table) in &mut file.registries {
        if name.is_empty() {
            bail!("a [registries] table has an empty name");
        }
        if table.index.as_deref().is_some_and(|i| i.trim().is_empty()) {
            bail!("`index` in [registries.{name}] is empty");
        }
        validate_settings(table, &format!("registries.{name}"))?;
    }
    Ok(())
}

fn validate_settings(s: &mut RawSettings, table: &str) -> anyhow::Result<()> {
    if let Some(oidc) = &s.oidc {
        s.oidc_valid = Some(oidc.validate(&format!("{table}.oidc"))?);
    }
    if let Some(sources) = &s.sources {
        if sources.is_empty() {
            bail!(
                "`sources` in [{table}] is empty: list at least one of \"env\", \"keychain\", \"oidc\""
            );
        }
        for (i, kind) in sources.iter().enumerate() {
            if sources[..i].contains(kind) {
                bail!("`sources` in [{table}] names {kind} twice");
            }
        }
    }
    for var in s.env.iter().flatten() {
        if var.is_empty() || var.contains(['=', '\0']) {
            bail!("`env` in [{table}] holds {var:?}, which is not an environment variable name");
        }
    }
    if let Some(ms) = s.keychain_timeout_ms
        && !(1..=600_000).contains(&ms)
    {
        bail!("`keychain-timeout-ms` in [{table}] is {ms}; use 1 to 600000");
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
        assert!(format!("{err:#}").contains("vault"));
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
                file: parse_args(&[
                    "--source",
                    "env",
                    "--env",
                    "X_TOKEN",
                    "--auth-scheme",
                    "bearer",
                ])
                .unwrap(),
            },
        );
        let s = c.settings_for(&reg(Some("a"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env]);
        assert_eq!(s.env, ["X_TOKEN"]);
        assert_eq!(s.auth_scheme, AuthScheme::Bearer);
    }

    #[test]
    fn bad_provider_args_say_where_to_look() {
        let msg = format!("{:#}", parse_args(&["--sauce", "env"]).unwrap_err());
        assert!(
            msg.contains("--sauce") && msg.contains("credential-provider"),
            "{msg}"
        );
        let msg = format!("{:#}", parse_args(&["--source", "vault"]).unwrap_err());
        assert!(msg.contains("vault"), "{msg}");
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
        };
        let c = Config::load(&paths, &[]).unwrap();
        assert_eq!(c.files().collect::<Vec<_>>(), [user.as_path()]);
        let s = c.settings_for(&reg(Some("a"), IDX)).unwrap().unwrap();
        assert_eq!(s.sources, [SourceKind::Env]);
    }
}
