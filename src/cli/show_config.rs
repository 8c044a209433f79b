//! `cargo-credential-corp config`: which files are read, and what applies to
//! one registry. Shows no token, only where tokens would be looked for.

use anyhow::bail;

use super::shown::shown;
use crate::config::{AuthScheme, Config, ConfigPaths, Serve};
use crate::diag::config_word;
use crate::registry::Registry;
use crate::source::{SourceKind, env};

/// Arguments of `config`.
#[derive(Debug, clap::Args)]
pub struct ShowConfigArgs {
    /// The registry to show the settings of.
    #[command(flatten)]
    target: super::target::Target,
    /// The provider's arguments from Cargo's config, as one string
    /// (`--provider-args "--auth-scheme bearer"`); or give them after `--`.
    #[arg(
        long,
        value_name = "ARGS",
        default_value = "",
        allow_hyphen_values = true
    )]
    provider_args: String,
    /// The provider's arguments, one per word (after `--`).
    #[arg(last = true, value_name = "PROVIDER_ARG")]
    rest: Vec<String>,
}

/// What the system-wide `[policy]` locks about which registries are
/// served, for `config` and `doctor` (`None`: the policy leaves it open).
pub fn serve_locked(config: &Config) -> Option<String> {
    let (policy, origin) = config.policy()?;
    Some(match policy.serve? {
        Serve::Listed => format!(
            "only the registries listed in the provider's config are served (serve = \
             \"listed\") by [policy] in {origin}"
        ),
        Serve::All => format!("every registry is served (serve = \"all\") by [policy] in {origin}"),
    })
}

/// Prints one line of the report, every value in it shown escaped.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", shown(&format!($($arg)*)))
    };
}

/// Prints the configuration report to stdout.
#[allow(clippy::print_stdout)]
pub fn run(args: &ShowConfigArgs) -> anyhow::Result<()> {
    let paths = ConfigPaths::from_env();
    let provider_args: Vec<&str> = args
        .provider_args
        .split_whitespace()
        .chain(args.rest.iter().map(String::as_str))
        .collect();
    let config = Config::load(&paths, &provider_args)?;
    for (what, path) in [("user", &paths.user), ("system", &paths.system)] {
        match path {
            Some(p) if config.files().any(|f| f == p) => say!("{what} config: {}", p.display()),
            Some(p) => say!("{what} config: {} (not present)", p.display()),
            None => say!("{what} config: (no location on this platform)"),
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
    say!("registry: {} ({index_url})", registry.display_name());
    let serve_lock = serve_locked(&config);
    let Some(settings) = config.settings_for(&registry)? else {
        say!("  not served: `serve = \"listed\"` and no [registries] table matches");
        if let Some(locked) = &serve_lock {
            say!("  locked: {locked}");
        }
        return Ok(());
    };
    for source in &settings.sources {
        match source {
            SourceKind::Env => say!(
                "  env: {}",
                env::candidate_names(&registry, &settings.env).join(", ")
            ),
            SourceKind::Oidc => match &settings.oidc {
                Some(oidc) => say!(
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
                None => {
                    say!("  oidc: listed in sources but no [registries.NAME.oidc] table applies")
                }
            },
            SourceKind::Sso => match &settings.sso {
                Some(sso) => say!(
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
                    say!("  sso: listed in sources but no [registries.NAME.sso] table applies")
                }
            },
            SourceKind::Keychain => say!(
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
    say!("  auth-scheme: {scheme}");
    for ca_file in &settings.ca_files {
        say!(
            "  ca-file: {} (trusted for identity endpoints besides the OS trust store)",
            ca_file.display()
        );
    }
    for locked in serve_lock.iter().chain(&settings.locked) {
        say!("  locked: {locked}");
    }
    for (name, origin) in &settings.matched {
        say!("  configured by [registries.{name}] in {origin}");
    }
    Ok(())
}
