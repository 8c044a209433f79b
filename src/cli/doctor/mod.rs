//! `cargo-credential-corp doctor`: why Cargo does (not) get a token for a
//! registry. For each registry: the providers Cargo will try and this
//! provider's place among them, each configured source and what it answers
//! now (by asking it for real, as a `get` would), the token it would hand out
//! (source, scheme, expiry; never the token), and optionally (`--probe`) how
//! the registry answers with and without it. Every finding has a stable code
//! and a one-line fix (docs/troubleshooting.md); `--json` prints the report
//! in a versioned schema; the exit status says whether a token is obtainable.

use std::path::Path;

use anyhow::Context as _;

use crate::config::{AuthScheme, Config, ConfigPaths};
use crate::keychain::{Budgeted, OsKeychain};
use crate::registry::{CRATES_IO, Registry};
use crate::source::{Lifetime, Lookup, Note, SourceKind, process_request, source, unix_now};

mod origin;
mod probe;
mod report;

pub use origin::origin as origin_of;
pub use report::{Finding, RegistryReport, Report, Severity, TokenInfo};
use report::{finding, human};

use super::cargo_config::{CargoConfig, is_this_entry};
use super::shown;

/// The version of the `--json` schema.
pub const SCHEMA_VERSION: u32 = 1;

/// crates.io's sparse index.
const CRATES_IO_INDEX: &str = "sparse+https://index.crates.io/";

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Only this registry (every registry Cargo knows when neither is given).
    #[command(flatten)]
    target: super::target::Target,
    /// Print the report as JSON (schema version 1, docs/troubleshooting.md).
    #[arg(long)]
    json: bool,
    /// Also ask the registry: does it require auth the way Cargo expects,
    /// and does it accept the token.
    #[arg(long)]
    probe: bool,
}

/// Runs the doctor: prints the report, and fails when a registry this
/// provider serves gets no token.
#[allow(clippy::print_stdout)]
pub fn run(args: &DoctorArgs) -> anyhow::Result<bool> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let report = diagnose(args, &cwd)?;
    if args.json {
        let json = serde_json::to_string_pretty(&report)?;
        println!("{}", shown::json_safe(&json));
    } else {
        print!("{}", human(&report));
    }
    // One registry asked about: does Cargo get a token from this provider?
    // All of them: does every registry that uses this provider get one?
    let one = args.target.registry.is_some() || args.target.index.is_some();
    Ok(report
        .registries
        .iter()
        .filter(|r| one || r.uses_this_provider)
        .all(|r| r.uses_this_provider && r.token.is_some()))
}

/// Builds the report for the registries `args` selects.
pub fn diagnose(args: &DoctorArgs, cwd: &Path) -> anyhow::Result<Report> {
    // A registry asked about by name: its CARGO_REGISTRIES_<NAME>_* variables
    // count even when no file names it, as in Cargo.
    let names: Vec<&str> = args.target.registry.as_deref().into_iter().collect();
    let cargo = CargoConfig::load(cwd, &names);
    let paths = ConfigPaths::from_env();
    // A broken config is reported per registry (`provider-config-invalid`);
    // Cargo's side is still checked.
    let base = Config::load(&paths, &[]).ok();
    let mut targets: Vec<(Option<String>, String)> = Vec::new();
    match (&args.target.registry, &args.target.index) {
        (name, Some(index)) => targets.push((name.clone(), index.clone())),
        (Some(name), None) => {
            let index = if name == CRATES_IO {
                Some(CRATES_IO_INDEX.to_owned())
            } else {
                cargo
                    .indexes
                    .get(name)
                    .cloned()
                    .or_else(|| base.as_ref()?.index_for(name).map(str::to_owned))
            };
            let index = index.with_context(|| {
                format!(
                    "no index is known for registry `{name}`: it is not in Cargo's config \
                     ([registries.{name}] index) nor in the provider's; pass --index URL"
                )
            })?;
            targets.push((Some(name.clone()), index));
        }
        (None, None) => {
            targets.push((Some(CRATES_IO.to_owned()), CRATES_IO_INDEX.to_owned()));
            for (name, index) in &cargo.indexes {
                targets.push((Some(name.clone()), index.clone()));
            }
        }
    }
    let mut registries = Vec::new();
    for (name, index) in targets {
        registries.push(check_registry(
            name.as_deref(),
            &index,
            &cargo,
            &paths,
            args.probe,
        ));
    }
    Ok(Report {
        version: SCHEMA_VERSION,
        cargo_config_files: cargo
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        provider_config_files: match &base {
            Some(base) => base.files().map(|p| p.display().to_string()).collect(),
            // Unreadable: the files that are there.
            None => [&paths.user, &paths.system]
                .into_iter()
                .flatten()
                .filter(|p| p.exists())
                .map(|p| p.display().to_string())
                .collect(),
        },
        registries,
    })
}

fn check_registry(
    name: Option<&str>,
    index: &str,
    cargo: &CargoConfig,
    paths: &ConfigPaths,
    probe_it: bool,
) -> RegistryReport {
    let mut findings = Vec::new();
    for problem in &cargo.problems {
        findings.push(finding(
            "cargo-config-invalid",
            Severity::Error,
            problem.clone(),
            Some("fix the file (or its permissions): Cargo refuses it too".to_owned()),
        ));
    }
    let (chain, own) = cargo.chain(name);
    let position = chain.iter().position(|e| is_this_entry(e));
    let providers: Vec<String> = chain.iter().map(|e| e.join(" ")).collect();
    let registry = Registry {
        index_url: index,
        name,
    };
    let shown = registry.display_name().to_owned();
    match (position, own) {
        (None, true) => findings.push(finding(
            "shadowed-by-registry-provider",
            Severity::Error,
            format!(
                "`{shown}` has its own credential-provider ({}), which Cargo uses alone: this \
                 provider is never asked",
                providers.join(", ")
            ),
            Some(format!(
                "set `credential-provider = [\"cargo-credential-corp\"]` in [registries.{shown}] \
                 of Cargo's config, or remove that entry to use the global list"
            )),
        )),
        (None, false) => findings.push(finding(
            "not-in-chain",
            Severity::Error,
            format!(
                "Cargo tries {} for `{shown}`; this provider is not among them",
                providers.join(", then ")
            ),
            Some(
                "add \"cargo-credential-corp\" as the last entry of [registry] \
                 global-credential-providers (`cargo-credential-corp setup`)"
                    .to_owned(),
            ),
        )),
        (Some(0), _) => findings.push(finding(
            "chain-ok",
            Severity::Ok,
            format!("Cargo asks this provider first for `{shown}`"),
            None,
        )),
        (Some(n), _) => findings.push(finding(
            "chain-later",
            Severity::Info,
            format!(
                "Cargo asks {} first for `{shown}`; this provider is asked only if {} finds \
                 nothing (Cargo stops at any other error)",
                chain[..n]
                    .iter()
                    .map(|e| e.join(" "))
                    .collect::<Vec<_>>()
                    .join(", then "),
                if n == 1 { "it" } else { "they" }
            ),
            None,
        )),
    }
    for (registry_name, file) in &cargo.plaintext_tokens {
        if Some(registry_name.as_str()) == name {
            let used = chain
                .iter()
                .take(position.unwrap_or(chain.len()))
                .any(|e| e.first().is_some_and(|p| p == "cargo:token"));
            findings.push(finding(
                "plaintext-token",
                Severity::Warning,
                format!(
                    "{} holds a plaintext token for `{shown}`{}",
                    file.display(),
                    if used {
                        ", which cargo:token hands out before this provider is asked"
                    } else {
                        ""
                    }
                ),
                Some("move it into the OS keychain: `cargo-credential-corp migrate`".to_owned()),
            ));
        }
    }
    // Cargo reads the variable itself through `cargo:token`.
    let cargo_token = chain
        .iter()
        .any(|e| e.first().is_some_and(|p| p == "cargo:token"));
    if let Some(var) = registry.cargo_env_var()
        && std::env::var_os(&var).is_some()
        && position.is_none()
        && !cargo_token
    {
        findings.push(finding(
            "token-variable-unused",
            Severity::Warning,
            format!(
                "{var} is set, but Cargo reads it only through `cargo:token`, which is not \
                 among the providers for `{shown}`"
            ),
            Some(
                "add cargo-credential-corp (which reads it) or cargo:token to the providers"
                    .to_owned(),
            ),
        ));
    }
    // The provider's own view, with the arguments Cargo would pass it.
    let args: Vec<&str> = position
        .map(|p| chain[p][1..].iter().map(String::as_str).collect())
        .unwrap_or_default();
    let token = match Config::load(paths, &args) {
        Err(e) => {
            findings.push(finding(
                "provider-config-invalid",
                Severity::Error,
                format!("{e:#}"),
                Some("fix the file named above".to_owned()),
            ));
            None
        }
        Ok(config) => match config.settings_for(&registry).inspect(|_| {
            if let Some(locked) = super::show_config::serve_locked(&config) {
                findings.push(finding(
                    "policy-locked",
                    Severity::Info,
                    locked,
                    Some("set by the platform team; ask them to change it".to_owned()),
                ));
            }
        }) {
            Err(mismatch) => {
                findings.push(finding(
                    "index-mismatch",
                    Severity::Error,
                    mismatch.to_string(),
                    Some("make the two index URLs the same".to_owned()),
                ));
                None
            }
            Ok(None) => {
                findings.push(finding(
                    "not-served",
                    Severity::Info,
                    format!(
                        "`serve = \"listed\"` and no [registries.NAME] table matches `{shown}`: \
                         the provider answers url-not-supported"
                    ),
                    Some(format!(
                        "add a [registries.{}] table with `index` to the provider's config if it \
                         should serve it",
                        name.unwrap_or("NAME")
                    )),
                ));
                None
            }
            Ok(Some(settings)) => {
                for locked in &settings.locked {
                    findings.push(finding(
                        "policy-locked",
                        Severity::Info,
                        locked.clone(),
                        Some("set by the platform team; ask them to change it".to_owned()),
                    ));
                }
                sources(&registry, &settings, &mut findings)
            }
        },
    };
    if probe_it {
        probe::registry(index, token.as_ref().map(|(_, t)| t), &mut findings);
    }
    RegistryReport {
        name: name.map(str::to_owned),
        index: index.to_owned(),
        providers,
        uses_this_provider: position.is_some(),
        token: token.map(|(info, _)| info),
        findings,
    }
}

/// Asks each source for a token, as a `get` would, and says what it answered.
fn sources(
    registry: &Registry<'_>,
    settings: &crate::config::Settings,
    findings: &mut Vec<Finding>,
) -> Option<(TokenInfo, crate::secret::Token)> {
    let keychain = Budgeted::new(&OsKeychain, settings.keychain_timeout);
    let request = process_request(registry, settings, &keychain);
    let shown = registry.display_name();
    let scheme = match settings.auth_scheme {
        AuthScheme::None => "none",
        AuthScheme::Bearer => "bearer",
        AuthScheme::Basic => "basic",
    };
    let mut found = None;
    for kind in &crate::provider::with_discovery(settings) {
        let what = kind.to_string();
        let result = source(*kind).get(&request);
        match (result, found.is_some()) {
            // crates.io trusted publishing's read placeholder is no token
            // (Cargo gets it only when no source has one).
            (Ok(Lookup::Fallback(_)), _) => findings.push(missing(*kind, registry, settings, None)),
            (Ok(Lookup::Found(f)), false) => {
                let (lifetime, expires_at) = match f.lifetime {
                    Lifetime::Session => ("session", None),
                    Lifetime::Until(t) => ("until", Some(t)),
                    Lifetime::Unknown => ("unknown", None),
                };
                let from = origin::origin(*kind, &request);
                findings.push(finding(
                    "token-found",
                    Severity::Ok,
                    format!(
                        "source {what} has a token for `{shown}` from {from} (sent with scheme \
                         {scheme}{})",
                        expires_at
                            .map(|t| format!(", expires in {} s", t - unix_now()))
                            .unwrap_or_default()
                    ),
                    None,
                ));
                let token = match settings.auth_scheme {
                    AuthScheme::None => f.token,
                    AuthScheme::Bearer => f.token.with_scheme("Bearer"),
                    AuthScheme::Basic => crate::provider::authorization(f.token, settings),
                };
                found = Some((
                    TokenInfo {
                        source: kind_name(*kind).to_owned(),
                        from,
                        scheme,
                        lifetime,
                        expires_at,
                    },
                    token,
                ));
            }
            (Ok(Lookup::Found(_)), true) => findings.push(finding(
                "token-also-in",
                Severity::Info,
                format!(
                    "source {what} has a token too, from {} (not used: an earlier source \
                     answers)",
                    origin::origin(*kind, &request)
                ),
                None,
            )),
            (Ok(Lookup::Missing { note }), _) => findings.push(missing(
                *kind,
                registry,
                settings,
                note.and_then(Note::text),
            )),
            (Err(e), _) => findings.push(finding(
                source_code(*kind),
                Severity::Error,
                format!("source {what} failed: {e:#}"),
                Some("see the message; docs/troubleshooting.md has each case".to_owned()),
            )),
        }
    }
    if found.is_none() {
        findings.push(finding(
            "no-token",
            Severity::Error,
            format!("no source has a token for `{shown}`: Cargo gets not-found from this provider"),
            None,
        ));
    }
    found
}

fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Env => "env",
        SourceKind::Keychain => "keychain",
        SourceKind::Oidc => "oidc",
        SourceKind::Sso => "sso",
    }
}

fn source_code(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Env => "env-failed",
        SourceKind::Keychain => "keychain-failed",
        SourceKind::Oidc => "oidc-failed",
        SourceKind::Sso => "sso-failed",
    }
}

/// The finding for a source that has nothing.
fn missing(
    kind: SourceKind,
    registry: &Registry<'_>,
    settings: &crate::config::Settings,
    note: Option<String>,
) -> Finding {
    let name = registry.name.unwrap_or("NAME");
    match kind {
        SourceKind::Env => {
            let names = crate::source::env::candidate_names(registry, &settings.env);
            finding(
                "env-unset",
                Severity::Info,
                if names.is_empty() {
                    "no variable applies (the request has no registry name)".to_owned()
                } else {
                    format!("none of {} is set", names.join(", "))
                },
                None,
            )
        }
        SourceKind::Keychain => match note {
            Some(note) => finding(
                "keychain-failed",
                Severity::Warning,
                note,
                Some("unlock the keychain, or check that its daemon runs".to_owned()),
            ),
            None => finding(
                "keychain-empty",
                Severity::Info,
                "no token in the OS keychain for this index URL (or no keychain here)".to_owned(),
                Some(format!("`cargo login --registry {name}` stores one")),
            ),
        },
        SourceKind::Oidc if settings.oidc.is_none() => finding(
            "oidc-not-configured",
            Severity::Info,
            "\"oidc\" is among the default sources, but no [registries.NAME.oidc] table applies"
                .to_owned(),
            None,
        ),
        SourceKind::Oidc
            if settings.oidc.as_ref().is_some_and(|o| {
                o.grant == crate::oidc::settings::Grant::CratesIoTrustedPublishing
            }) =>
        {
            finding(
                "oidc-publish-only",
                Severity::Info,
                "crates.io trusted publishing mints a token for publish, yank, unyank and owners \
                 only, in a GitHub Actions or GitLab CI job; a read needs none"
                    .to_owned(),
                Some("see docs/oidc.md#cratesio-trusted-publishing".to_owned()),
            )
        }
        SourceKind::Oidc => finding(
            "oidc-no-identity",
            Severity::Info,
            "no CI identity in this environment (not a CI job, or its OIDC token is not \
             available: on GitHub Actions the job needs `permissions: id-token: write`)"
                .to_owned(),
            Some("see docs/ci/ for the CI system".to_owned()),
        ),
        SourceKind::Sso if settings.sso.is_none() && !settings.discovery.enabled => finding(
            "sso-not-configured",
            Severity::Info,
            "\"sso\" is among the default sources, but no [registries.NAME.sso] table applies"
                .to_owned(),
            None,
        ),
        SourceKind::Sso => finding(
            "sso-not-signed-in",
            Severity::Warning,
            note.unwrap_or_else(|| "no single sign-on login for this registry yet".to_owned()),
            Some(format!("`cargo login --registry {name}`")),
        ),
    }
}
