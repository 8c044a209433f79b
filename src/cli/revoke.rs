//! `cargo-credential-corp revoke`: revokes the crates.io trusted publishing
//! tokens this provider minted (`grant = "crates-io-trusted-publishing"`)
//! and removes them from the cache. Meant as a CI job's last step: Cargo's
//! protocol has no "publish finished" request, so a token would otherwise
//! stay valid until crates.io expires it (30 minutes after it was issued).

use anyhow::anyhow;

use crate::cache::FileStore;
use crate::config::{Config, ConfigPaths};
use crate::env::ProcessEnv;
use crate::keychain::OsKeychain;
use crate::oidc::crates_io::{self, Which};
use crate::oidc::settings::Grant;
use crate::registry::{CRATES_IO, CRATES_IO_INDEXES, Registry};

/// Arguments of `revoke`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "In a GitHub Actions or GitLab CI job, only the tokens minted for this job's \
    identity are revoked (another job on the same runner keeps its own); elsewhere, every \
    recorded token. `cargo logout --registry crates-io` does the same."
)]
pub struct RevokeArgs {
    /// The registry whose `oidc` table has `grant = "crates-io-trusted-publishing"`.
    #[arg(long, default_value = CRATES_IO)]
    registry: String,
    /// Revoke every token recorded on this machine, not only this job's.
    #[arg(long)]
    all: bool,
}

/// Revokes the recorded tokens; says how many on standard error.
#[allow(clippy::print_stderr)]
pub fn run(args: &RevokeArgs) -> anyhow::Result<()> {
    let config = Config::load(&ConfigPaths::from_env(), &[])?;
    let crates_io = (args.registry == CRATES_IO).then_some(CRATES_IO_INDEXES[0]);
    let index_url = config
        .index_for(&args.registry)
        .or(crates_io)
        .ok_or_else(|| {
            anyhow!(
                "no [registries.{}] table with an `index` is configured",
                args.registry
            )
        })?;
    let registry = Registry {
        index_url,
        name: Some(&args.registry),
    };
    let settings = config.settings_for(&registry)?;
    let oidc = settings
        .as_ref()
        .and_then(|s| s.oidc.as_ref())
        .filter(|o| o.grant == Grant::CratesIoTrustedPublishing)
        .ok_or_else(|| {
            anyhow!(
                "[registries.{}.oidc] does not use grant \"crates-io-trusted-publishing\": only \
                 crates.io trusted publishing tokens are revoked (other short-lived tokens \
                 expire by themselves)",
                args.registry
            )
        })?;
    let keychain_timeout = settings
        .as_ref()
        .map_or(crate::config::DEFAULT_KEYCHAIN_TIMEOUT, |s| {
            s.keychain_timeout
        });
    let cx = crate::mint::Context {
        env: &ProcessEnv,
        keychain: &OsKeychain,
        keychain_timeout,
        files: &FileStore::user,
        now: &crate::source::unix_now,
        token_vars: &[],
        secret_vars: &[],
    };
    let which = if args.all { Which::All } else { Which::ThisJob };
    let revoked = crates_io::revoke(oidc, which, &cx)?;
    if revoked == 0 {
        eprintln!("no crates.io trusted publishing token to revoke");
    } else {
        eprintln!("revoked {revoked} crates.io trusted publishing token(s)");
    }
    Ok(())
}
