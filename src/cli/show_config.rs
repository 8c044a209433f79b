//! `cargo-credential-corp config`: which files are read, and what applies to
//! one registry. Shows no token, only where tokens would be looked for.

use anyhow::bail;

use crate::config::{AuthScheme, Config, ConfigPaths, config_word};
use crate::registry::Registry;
use crate::source::{SourceKind, env};

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry to show the settings of.
    #[command(flatten)]
    target: super::target::Target,
    /// The provider's arguments from Cargo's config, as one string.
    #[arg(long, value_name = "ARGS", default_value = "")]
    provider_args: String,
}

/// Prints the configuration report to stdout.
#[allow(clippy::print_stdout)]
pub fn run(args: &Args) -> anyhow::Result<()> {
    let paths = ConfigPaths::from_env();
    let provider_args: Vec<&str> = args.provider_args.split_whitespace().collect();
    let config = Config::load(&paths, &provider_args)?;
    for (what, path) in [("user", &paths.user), ("system", &paths.system)] {
        match path {
            Some(p) if config.files().any(|f| f == p) => println!("{what} config: {}", p.display()),
            Some(p) => println!("{what} config: {} (not present)", p.display()),
            None => println!("{what} config: (no location on this platform)"),
        }
    }
    let Some(index_url) = args.target.index.as_deref().or_else(|| {
        args.target
            .registry
            .as_deref()
            .and_then(|n| config.index_for(n))
    }) else {
        if args.target.registry.is_some() {
            bail!("no `index` is configured for that registry here; pass --index URL as well");
        }
        return Ok(());
    };
    let registry = Registry {
        index_url,
        name: args.target.registry.as_deref(),
    };
    println!("registry: {} ({index_url})", registry.display_name());
    let Some(settings) = config.settings_for(&registry)? else {
        println!("  not served: `serve = \"listed\"` and no [registries] table matches");
        return Ok(());
    };
    for source in &settings.sources {
        match source {
            SourceKind::Env => println!(
                "  env: {}",
                env::candidate_names(&registry, &settings.env).join(", ")
            ),
            SourceKind::Oidc => match &settings.oidc {
                Some(oidc) => println!(
                    "  oidc: {} grant, identity {}, cache {}{}",
                    config_word(&oidc.grant),
                    config_word(&oidc.identity),
                    config_word(&oidc.cache),
                    if oidc.operation_dependent() {
                        ", separate publish scope"
                    } else {
                        ""
                    }
                ),
                None => println!(
                    "  oidc: listed in sources but no [registries.NAME.oidc] table applies"
                ),
            },
            SourceKind::Sso => match &settings.sso {
                Some(sso) => println!(
                    "  sso: client `{}` at {}, flow {}, login kept in {}{}",
                    sso.client_id,
                    sso.idp_id(),
                    config_word(&sso.flow),
                    config_word(&sso.store),
                    if sso.operation_dependent() {
                        ", separate publish scope"
                    } else {
                        ""
                    }
                ),
                None => {
                    println!("  sso: listed in sources but no [registries.NAME.sso] table applies")
                }
            },
            SourceKind::Keychain => println!(
                "  keychain: item `{}` (timeout {} ms)",
                crate::keychain::service_name(index_url),
                settings.keychain_timeout.as_millis()
            ),
        }
    }
    let scheme = match settings.auth_scheme {
        AuthScheme::None => "none (token sent as is)",
        AuthScheme::Bearer => "bearer (`Bearer <token>`)",
        AuthScheme::Basic => "basic (`Basic base64(<basic-user>:<token>)`)",
    };
    println!("  auth-scheme: {scheme}");
    for ca_file in &settings.ca_files {
        println!(
            "  ca-file: {} (trusted for identity endpoints besides the OS trust store)",
            ca_file.display()
        );
    }
    for locked in &settings.locked {
        println!("  locked: {locked}");
    }
    for (name, origin) in &settings.matched {
        println!("  configured by [registries.{name}] in {origin}");
    }
    Ok(())
}
