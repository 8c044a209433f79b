//! `cargo-credential-corp status [--registry NAME] [--json]`: who is signed
//! in where, as `gh auth status` shows it. Per registry: signed in or not
//! and as whom (the account the ID token named: `preferred_username`,
//! `email` or `sub`), at which identity provider and how that was
//! configured (an `sso` table, an `[issuers."…"]` table, a client
//! registered by zero-config sign-in), since and until when (the login,
//! the current access token), which scopes, and which source answers a
//! `get` now.
//!
//! Never a token: what is shown are names, URLs, times and scopes. The
//! sources are asked as a `get` asks them (a due refresh happens, as on the
//! next cargo command). Values that come from config files or an IdP are
//! shown escaped ([`super::shown`]); `--json` prints a versioned schema
//! (docs/sso.md#status).

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::cargo_config::{CargoConfig, is_this_entry};
use super::shown::{json_safe, shown};
use crate::cache::FileStore;
use crate::config::{Config, ConfigPaths, Settings};
use crate::keychain::{Budgeted, OsKeychain};
use crate::registry::{CRATES_IO, Registry};
use crate::source::{Lifetime, Lookup, process_request, source, unix_now};
use crate::sso::discover::{How, host_of};
use crate::sso::grant::Grants;

/// The version of the `--json` schema.
pub const SCHEMA_VERSION: u32 = 1;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only this registry (by default every registry Cargo's config names).
    #[arg(long)]
    registry: Option<String>,
    /// Print the status as JSON (schema version 1, docs/sso.md#status).
    #[arg(long)]
    json: bool,
}

/// What `status` prints.
#[derive(Debug, Serialize)]
pub struct Status {
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// One entry per registry.
    pub registries: Vec<RegistryStatus>,
}

/// How a registry's sign-in was configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Configured {
    /// A `[registries.NAME.sso]` table.
    SsoTable,
    /// Zero-config sign-in with the client an `[issuers."…"]` table names.
    IssuerTable,
    /// Zero-config sign-in with a client registered at the IdP (RFC 7591).
    Registration,
    /// Zero-config sign-in applies, but the registry is not bound to an
    /// identity provider yet (`cargo login` learns it).
    Discovery,
    /// No sign-in applies (tokens only).
    None,
}

/// One registry's status.
#[derive(Debug, Serialize)]
pub struct RegistryStatus {
    /// Its name in Cargo's config.
    pub name: String,
    /// Its index URL.
    pub index: String,
    /// How its sign-in is configured.
    pub configured: Configured,
    /// Where: the table (file and name), or the registered client's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configured_by: Option<String>,
    /// The identity provider (its issuer, else its token endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// Whether a login is stored.
    pub signed_in: bool,
    /// The account the login is of, when the IdP named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// When the login was stored (Unix seconds): the sign-in, or the last
    /// refresh that rotated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_stored_at: Option<i64>,
    /// When the login ends (Unix seconds), when the IdP says (a refresh
    /// token that is a JWT with `exp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_expires_at: Option<i64>,
    /// The scopes a read asks for, then a publish (if different).
    pub scopes: Vec<String>,
    /// The source that answers a `get` now, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<AnsweringSource>,
    /// What could not be read, and other notes.
    pub notes: Vec<String>,
}

/// The source that answers a `get` now.
#[derive(Debug, Serialize)]
pub struct AnsweringSource {
    /// `env`, `keychain`, `oidc` or `sso`.
    pub source: String,
    /// Where in it (the variable, the keychain item, the account).
    pub from: String,
    /// When the token it gives expires (Unix seconds), for a short-lived one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Runs `status`.
#[allow(clippy::print_stdout)]
pub fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let status = collect(args, &cwd)?;
    if args.json {
        let json = serde_json::to_string_pretty(&status)?;
        println!("{}", json_safe(&json));
    } else {
        print!("{}", human(&status, unix_now()));
    }
    Ok(())
}

fn collect(args: &StatusArgs, cwd: &Path) -> anyhow::Result<Status> {
    let names: Vec<&str> = args.registry.as_deref().into_iter().collect();
    let cargo = CargoConfig::load(cwd, &names);
    let paths = ConfigPaths::from_env();
    let base = Config::load(&paths, &[])?;
    let mut targets: Vec<(String, String)> = Vec::new();
    match &args.registry {
        Some(name) => {
            let index = if name == CRATES_IO {
                Some("sparse+https://index.crates.io/".to_owned())
            } else {
                cargo
                    .indexes
                    .get(name)
                    .cloned()
                    .or_else(|| base.index_for(name).map(str::to_owned))
            };
            let index = index.with_context(|| {
                format!(
                    "no index is known for registry `{name}`: it is not in Cargo's config \
                     ([registries.{name}] index) nor in the provider's"
                )
            })?;
            targets.push((name.clone(), index));
        }
        None => targets.extend(cargo.indexes.iter().map(|(n, i)| (n.clone(), i.clone()))),
    }
    let mut registries = Vec::new();
    for (name, index) in targets {
        let (chain, _) = cargo.chain(Some(&name));
        let args: Vec<&str> = chain
            .iter()
            .find(|e| is_this_entry(e))
            .map(|e| e[1..].iter().map(String::as_str).collect())
            .unwrap_or_default();
        let registry = Registry {
            index_url: &index,
            name: Some(&name),
        };
        let config = Config::load(&paths, &args)?;
        let mut status = match config.settings_for(&registry) {
            Ok(Some(settings)) => registry_status(&registry, &settings),
            Ok(None) => blank(
                &registry,
                "this provider does not serve it (serve = \"listed\")",
            ),
            Err(mismatch) => blank(&registry, &mismatch.to_string()),
        };
        if !chain.iter().any(|e| is_this_entry(e)) {
            status.notes.push(
                "Cargo does not ask this provider for it (see `cargo-credential-corp doctor`)"
                    .to_owned(),
            );
        }
        registries.push(status);
    }
    Ok(Status {
        version: SCHEMA_VERSION,
        registries,
    })
}

fn blank(registry: &Registry<'_>, note: &str) -> RegistryStatus {
    RegistryStatus {
        name: registry.display_name().to_owned(),
        index: registry.index_url.to_owned(),
        configured: Configured::None,
        configured_by: None,
        identity_provider: None,
        signed_in: false,
        account: None,
        login_stored_at: None,
        login_expires_at: None,
        scopes: Vec::new(),
        answered_by: None,
        notes: vec![note.to_owned()],
    }
}

fn registry_status(registry: &Registry<'_>, settings: &Settings) -> RegistryStatus {
    let keychain = Budgeted::new(&OsKeychain, settings.keychain_timeout);
    let request = process_request(registry, settings, &keychain);
    let mut status = blank(registry, "");
    status.notes.clear();
    let applied = crate::source::sso::applied(&request);
    if let Some((sso, binding)) = &applied {
        status.identity_provider = sso.issuer.clone().or(sso.endpoints.token.clone());
        (status.configured, status.configured_by) = match binding {
            None => (Configured::SsoTable, Some(request.where_configured())),
            Some(b) if b.how == How::IssuerTable => (
                Configured::IssuerTable,
                Some(format!(
                    "[issuers.\"{}\"] (client `{}`)",
                    b.issuer, b.client_id
                )),
            ),
            Some(b) => (
                Configured::Registration,
                Some(format!(
                    "client `{}` registered at {} by `cargo login`",
                    b.client_id,
                    b.host()
                )),
            ),
        };
        status.scopes = [&sso.scope, &sso.publish_scope]
            .into_iter()
            .flatten()
            .flat_map(|s| s.split_whitespace())
            .fold(Vec::new(), |mut all, s| {
                if !all.iter().any(|a: &String| a == s) {
                    all.push(s.to_owned());
                }
                all
            });
        let grants = Grants::new(
            sso,
            registry,
            &keychain,
            settings.keychain_timeout,
            FileStore::user().ok(),
        );
        match grants.load_dated() {
            Ok(Some((grant, stored_at))) => {
                status.signed_in = true;
                status.account = grant.account;
                status.login_stored_at = Some(stored_at);
                status.login_expires_at = crate::oauth::jwt::claims_of(&grant.refresh_token)
                    .and_then(|c| c.integer("exp"));
            }
            Ok(None) => {}
            Err(e) => status.notes.push(format!("{e:#}")),
        }
    } else if settings.discovery.enabled {
        status.configured = Configured::Discovery;
    }
    for kind in &crate::provider::with_discovery(settings) {
        match source(*kind).get(&request) {
            Ok(Lookup::Found(f)) => {
                status.answered_by = Some(AnsweringSource {
                    source: crate::diag::config_word(kind),
                    from: super::doctor::origin_of(*kind, &request),
                    expires_at: match f.lifetime {
                        Lifetime::Until(t) => Some(t),
                        _ => None,
                    },
                });
                break;
            }
            Ok(_) => {}
            Err(e) => status.notes.push(format!("source {kind}: {e:#}")),
        }
    }
    status
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`, with how far from `now`.
fn when(t: i64, now: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(t)
        .map(|d| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute()
            )
        })
        .unwrap_or_else(|_| format!("{t} (Unix seconds)"));
    let d = t - now;
    let span = |s: i64| match s {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    };
    if d == 0 {
        format!("{at} (now)")
    } else if d > 0 {
        format!("{at} (in {})", span(d))
    } else {
        format!("{at} ({} ago)", span(-d))
    }
}

/// The status for a person; every value from a file or an IdP escaped.
pub fn human(status: &Status, now: i64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if status.registries.is_empty() {
        out.push_str(
            "No registries: Cargo's config names none here (pass --registry NAME for one the \
             provider's config names).\n",
        );
    }
    for r in &status.registries {
        let _ = writeln!(out, "{} ({})", shown(&r.name), shown(&r.index));
        let idp = r
            .identity_provider
            .as_deref()
            .map(|i| format!("{} ({})", shown(&host_of(i)), shown(i)));
        match (&r.configured, r.signed_in) {
            (Configured::None | Configured::Discovery, _) | (_, false) => {
                let _ = writeln!(out, "  Not signed in");
            }
            (_, true) => {
                let _ = writeln!(
                    out,
                    "  Signed in{} at {}",
                    r.account
                        .as_deref()
                        .map(|a| format!(" as {}", shown(a)))
                        .unwrap_or_default(),
                    idp.as_deref().unwrap_or("the identity provider")
                );
            }
        }
        let how = match r.configured {
            Configured::SsoTable => "an sso table",
            Configured::IssuerTable => "zero-config sign-in, the client an issuer table names",
            Configured::Registration => "zero-config sign-in, a client registered at the IdP",
            Configured::Discovery => {
                "zero-config sign-in: `cargo login` learns the identity provider from the registry"
            }
            Configured::None => "no single sign-on (tokens only)",
        };
        let _ = writeln!(
            out,
            "  - Configured by: {how}{}",
            r.configured_by
                .as_deref()
                .map(|c| format!(": {}", shown(c)))
                .unwrap_or_default()
        );
        if let (Some(idp), false) = (&idp, r.signed_in) {
            let _ = writeln!(out, "  - Identity provider: {idp}");
        }
        if r.signed_in {
            let _ = writeln!(
                out,
                "  - Login: stored {}; {}",
                r.login_stored_at
                    .map_or("(unknown)".to_owned(), |t| when(t, now)),
                r.login_expires_at.map_or(
                    "ends when the identity provider ends it (it does not say when)".to_owned(),
                    |t| format!("ends {}", when(t, now))
                )
            );
        }
        if !r.scopes.is_empty() {
            let _ = writeln!(out, "  - Scopes: {}", shown(&r.scopes.join(" ")));
        }
        match &r.answered_by {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "  - A get is answered by: source {} ({}){}",
                    a.source,
                    shown(&a.from),
                    a.expires_at
                        .map(|t| format!(", token valid until {}", when(t, now)))
                        .unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  - A get is answered by: no source (Cargo gets not-found){}",
                    if matches!(r.configured, Configured::None) {
                        String::new()
                    } else {
                        format!("; sign in with `cargo login --registry {}`", shown(&r.name))
                    }
                );
            }
        }
        for note in &r.notes {
            let _ = writeln!(out, "  - Note: {}", shown(note));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in() -> RegistryStatus {
        RegistryStatus {
            name: "corp".into(),
            index: "sparse+https://r.example/api/v1/crates/".into(),
            configured: Configured::Registration,
            configured_by: Some("client `c1` registered at login.example by `cargo login`".into()),
            identity_provider: Some("https://login.example".into()),
            signed_in: true,
            account: Some("alice\u{1b}[2J".into()),
            login_stored_at: Some(1_000),
            login_expires_at: None,
            scopes: vec!["read".into(), "publish".into()],
            answered_by: Some(AnsweringSource {
                source: "sso".into(),
                from: "single sign-on login of alice".into(),
                expires_at: Some(1_300),
            }),
            notes: vec![],
        }
    }

    #[test]
    fn the_status_says_who_where_how_until_when_and_which_source() {
        let text = human(
            &Status {
                version: SCHEMA_VERSION,
                registries: vec![signed_in()],
            },
            1_060,
        );
        assert!(
            text.contains("Signed in as alice\\u{1b}[2J at login.example (https://login.example)"),
            "{text}"
        );
        assert!(text.contains("a client registered at the IdP"), "{text}");
        assert!(
            text.contains("stored 1970-01-01 00:16 UTC (60 s ago)"),
            "{text}"
        );
        assert!(text.contains("Scopes: read publish"), "{text}");
        assert!(
            text.contains("source sso (single sign-on login of alice), token valid until 1970-01-01 00:21 UTC (in 4 min)"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn not_signed_in_names_the_command_and_the_json_has_a_version() {
        let mut r = signed_in();
        r.signed_in = false;
        r.account = None;
        r.answered_by = None;
        let status = Status {
            version: SCHEMA_VERSION,
            registries: vec![r],
        };
        let text = human(&status, 0);
        assert!(text.contains("Not signed in"), "{text}");
        assert!(text.contains("cargo login --registry corp"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&status).unwrap()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["registries"][0]["configured"], "registration");
        assert_eq!(json["registries"][0]["signed_in"], false);
    }
}
