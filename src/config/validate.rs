//! Each table's checks, run as a file is read: routing keys only where
//! they are safe, variable names, crates.io's trusted publishing rules, and
//! the `oidc` and `sso` tables validated.

use anyhow::bail;

use super::raw::{RawFile, RawSettings};
use crate::redact::has_long_word;
use crate::schema::{KeyError, valid_var_name};

pub(super) fn validate(file: &mut RawFile) -> anyhow::Result<()> {
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
    for (issuer, table) in &file.issuers {
        let name = format!("issuers.\"{}\"", crate::diag::config_word(issuer));
        crate::net::url::checked_url(issuer)
            .map_err(|e| anyhow::anyhow!("[issuers] table name is not a usable issuer URL: {e}"))?;
        match &table.client_id {
            Some(c) if !c.is_empty() && c.chars().all(|c| c.is_ascii_graphic()) => {}
            Some(_) => {
                return Err(KeyError {
                    table: name,
                    key: "client-id",
                    why: "is empty or has a space or control character".to_owned(),
                }
                .into());
            }
            None => bail!("[{name}] needs `client-id` (the IdP's public client for developers)"),
        }
        for registry in &table.registries {
            crate::sso::discover::registry_prefix(registry).map_err(|e| KeyError {
                table: name.clone(),
                key: "registries",
                why: format!(
                    "has an entry that is not a registry's index URL or origin ({e:#}); write \
                     each as https://host[:port][/path]"
                ),
            })?;
        }
        if let Some(resource) = &table.resource
            && (resource.is_empty()
                || !resource.bytes().all(|b| b.is_ascii_graphic())
                || reqwest::Url::parse(resource).is_err())
        {
            return Err(KeyError {
                table: name,
                key: "resource",
                why: "is not an absolute URI of printable ASCII (RFC 8707)".to_owned(),
            }
            .into());
        }
    }
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
