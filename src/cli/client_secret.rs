//! `cargo-credential-corp client-secret`: store an OAuth client secret in the
//! OS keychain for a registry whose `[registries.NAME.oidc]` table says
//! `client-secret-keychain = true` (a secret never goes in a config file).

use std::io::BufRead as _;

use anyhow::{Context as _, anyhow, bail};

use crate::config::{Config, ConfigPaths};
use crate::keychain::{Keychain as _, OsKeychain};
use crate::oidc::client_secret_item;
use crate::oidc::settings::ClientSecretSource;
use crate::registry::Registry;
use crate::secret::Token;

/// Arguments of `client-secret`.
#[derive(Debug, clap::Args)]
pub struct ClientSecretArgs {
    /// The registry's name in the provider's config.
    #[arg(long)]
    registry: String,
}

/// Reads the secret from standard input (or asks on the terminal) and stores it.
#[allow(clippy::print_stderr)]
pub fn run(args: &ClientSecretArgs) -> anyhow::Result<()> {
    let config = Config::load(&ConfigPaths::from_env(), &[])?;
    let index_url = config.index_for(&args.registry).ok_or_else(|| {
        anyhow!(
            "no [registries.{}] table with an `index` is configured",
            args.registry
        )
    })?;
    let registry = Registry {
        index_url,
        name: Some(&args.registry),
    };
    let settings = config
        .settings_for(&registry)?
        .and_then(|s| s.oidc)
        .ok_or_else(|| anyhow!("[registries.{}.oidc] is not configured", args.registry))?;
    if settings.client_secret != Some(ClientSecretSource::Keychain) {
        bail!(
            "[registries.{}.oidc] does not read its client secret from the keychain; set \
             `client-secret-keychain = true` there first",
            args.registry
        );
    }
    let stdin = std::io::stdin();
    let line = if std::io::IsTerminal::is_terminal(&stdin) {
        crate::prompt::read_token("client secret")?
    } else {
        let mut line = zeroize::Zeroizing::new(String::new());
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the secret from standard input")?;
        line
    };
    let secret = Token::parse(
        line.trim_end_matches(['\n', '\r']).to_owned(),
        "standard input",
    )?
    .ok_or_else(|| anyhow!("no secret was given on standard input"))?;
    let item = client_secret_item(&settings);
    OsKeychain
        .store_item(
            &item,
            &format!("OAuth client secret for {}", args.registry),
            &secret,
            crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT,
        )
        .map_err(|e| anyhow!(e).context("could not store the client secret in the OS keychain"))?;
    eprintln!("stored the client secret in the OS keychain (item `{item}`)");
    Ok(())
}
