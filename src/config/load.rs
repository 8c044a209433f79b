//! The layers of configuration: the provider's arguments, the user's file
//! and the system-wide file, each read with the trusted reader and
//! validated; errors name the file, line and column, never a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::raw::{Layer, ProviderArgs, RawFile, RawSettings};
use super::scrub::{key_at, key_like, locate_key, position, scrub_message};
use super::settings::Origin;
use super::validate::validate;
use crate::schema::KeyError;

/// Environment variable naming the user's config file.
pub const USER_CONFIG_ENV: &str = "CARGO_CREDENTIAL_CORP_CONFIG";
/// Environment variable naming the system-wide config file.
pub const SYSTEM_CONFIG_ENV: &str = "CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG";

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

/// The layers: reads the files at `paths` (a missing file is an empty layer) and
/// parses the provider's `args` from Cargo's config.
pub(super) fn read_layers(paths: &ConfigPaths, args: &[&str]) -> anyhow::Result<Vec<Layer>> {
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
    Ok(layers)
}

/// The layers of TOML texts, highest precedence first (for
/// tests); a name starting with `system` is the system-wide file.
pub(super) fn layers_from_texts(texts: &[(&str, &str)]) -> anyhow::Result<Vec<Layer>> {
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
    Ok(layers)
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

pub(super) fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
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

pub(super) fn parse_file(text: &str, path: &Path) -> anyhow::Result<RawFile> {
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
pub(super) fn located(k: &KeyError, text: &str, path: &Path) -> anyhow::Error {
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
pub(super) fn check_sso_bindings(layers: &[Layer], texts: &[Option<&str>]) -> anyhow::Result<()> {
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

pub(super) fn parse_args(args: &[&str]) -> anyhow::Result<RawFile> {
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
        issuers: Default::default(),
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
