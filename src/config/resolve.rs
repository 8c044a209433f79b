//! The settings for one request: the tables that match it (by index, else
//! by Cargo's name), merged in precedence order, with the policy applied.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::policy::Policy;
use super::raw::{Layer, RawSettings};
use super::settings::{
    AuthScheme, DEFAULT_KEYCHAIN_TIMEOUT, IndexMismatch, Origin, Serve, Settings, SourceKind,
};
use crate::registry::{CRATES_IO, Registry, env_mangle, same_index};

/// The system-wide policy, and the file(s) it is in: the stricter of
/// the platform's file and `CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG`'s,
/// setting by setting, when both hold one.
pub(super) fn policy_of(layers: &[Layer]) -> Option<(Policy, String)> {
    let mut found = layers
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

/// Variables that hold a CI job's secrets whatever the configuration says:
/// GitLab's default ID token variable, GitHub's ID token request token, and
/// GitLab's job token and (older) job JWTs.
const CI_SECRET_VARS: [&str; 5] = [
    crate::oidc::identity::GITLAB_DEFAULT_VAR,
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V2",
];

/// The names of the variables that hold secrets the provider may read:
/// every `env` entry, `client-secret-env` and `identity-env` of the tables
/// of any layer, and [`CI_SECRET_VARS`].
pub(super) fn secret_vars(layers: &[Layer]) -> Vec<String> {
    let mut names: Vec<String> = CI_SECRET_VARS.iter().map(|v| (*v).to_owned()).collect();
    for layer in layers {
        for table in std::iter::once(&layer.file.defaults).chain(layer.file.registries.values()) {
            names.extend(table.env.iter().flatten().cloned());
            let Some(oidc) = table.oidc_valid.as_ref() else {
                continue;
            };
            if let Some(crate::oidc::settings::ClientSecretSource::Env(var)) = &oidc.client_secret {
                names.push(var.clone());
            }
            names.extend(oidc.identity_env.iter().cloned());
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The settings for `registry`, or `None` when this configuration does not
/// serve it (`serve = "listed"` and no table matches).
///
/// The routing rule: token-bearing settings (`env`, `oidc`) come only from
/// `[registries.NAME]` tables that match the request (by `index` when the
/// table has one, else by Cargo's name); `[defaults]` and the provider's
/// arguments only say how sources behave.
pub(super) fn settings_for(
    layers: &[Layer],
    registry: &Registry<'_>,
) -> Result<Option<Settings>, IndexMismatch> {
    let policy = policy_of(layers);
    let serve = policy
        .as_ref()
        .and_then(|(p, _)| p.serve)
        .or_else(|| layers.iter().find_map(|l| l.file.serve))
        .unwrap_or(Serve::All);
    let mut tables: Vec<(&str, &RawSettings, &Origin)> = Vec::new();
    for layer in layers {
        if let Some((name, table)) = find_table(&layer.file.registries, registry, &layer.origin)? {
            tables.push((name, table, &layer.origin));
        }
    }
    if tables.is_empty() && serve == Serve::Listed {
        return Ok(None);
    }
    // Most specific first: arguments, matched tables (user, system), defaults (user, system).
    let args = layers.iter().filter(|l| l.origin == Origin::ProviderArgs);
    let defaults = layers.iter().filter(|l| l.origin != Origin::ProviderArgs);
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
        secret_vars: secret_vars(layers),
        auth_scheme: pick(&order, |s| s.auth_scheme).unwrap_or(AuthScheme::None),
        basic_user: pick(&order, |s| s.basic_user.clone()).unwrap_or_default(),
        keychain_timeout: pick(&order, |s| s.keychain_timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_KEYCHAIN_TIMEOUT),
        oidc: pick(&matched, |s| s.oidc_valid.clone()).map(|mut o| {
            o.ca_files.clone_from(&ca_files);
            o
        }),
        sso: sso.clone().map(|mut s| {
            s.ca_files.clone_from(&ca_files);
            s
        }),
        discovery: crate::sso::discover::Discovery {
            enabled: registry.name.is_some_and(|n| n != CRATES_IO) && sso.is_none() && !own_sources,
            issuers: issuer_tables(layers),
            trusted: Vec::new(),
            never: false,
            ca_files: ca_files.clone(),
            registration: true,
        },
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

/// The first layer (in `order`) that sets a value.
pub(super) fn pick<T>(
    order: &[&RawSettings],
    get: impl Fn(&RawSettings) -> Option<T>,
) -> Option<T> {
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
pub(super) fn find_table<'a>(
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

/// Every `[issuers."…"]` table: the system-wide file's wins over the
/// user's for the same issuer.
fn issuer_tables(layers: &[Layer]) -> Vec<crate::sso::discover::IssuerTable> {
    let mut out: Vec<crate::sso::discover::IssuerTable> = Vec::new();
    let system_first = layers
        .iter()
        .filter(|l| l.system)
        .chain(layers.iter().filter(|l| !l.system));
    for layer in system_first {
        for (issuer, t) in &layer.file.issuers {
            if out.iter().any(|o| &o.issuer == issuer) {
                continue;
            }
            out.push(crate::sso::discover::IssuerTable {
                issuer: issuer.clone(),
                client_id: t.client_id.clone().unwrap_or_default(),
                flow: t.flow,
                scope: t.scope.clone(),
                resource: t.resource.clone(),
                registries: t.registries.clone(),
            });
        }
    }
    out
}
