//! `cargo-credential-corp token`: prints a registry token for tools that
//! cannot run a Cargo credential provider, or for Cargo's own
//! `cargo:token-from-stdout`.
//!
//! The token is asked of the provider itself ([`Provider::from_process`]
//! and [`Credential::perform`] with a `get`), so the same sources, routing
//! rule, cache and single flight apply as when Cargo asks. The index URL is
//! `--index`, else the `index` of the provider config's `[registries.NAME]`
//! table, else the user's own Cargo settings (`CARGO_REGISTRIES_<NAME>_INDEX`,
//! `$CARGO_HOME/config.toml`; never a project's `.cargo/config.toml`), else
//! (under `cargo:token-from-stdout`) `CARGO_REGISTRY_INDEX_URL`, which must
//! otherwise name the same index.

use std::io::Write as _;

use anyhow::{Context as _, anyhow, bail};
use cargo_credential::{
    Action, Credential as _, CredentialResponse, Error, Operation, RegistryInfo,
};

use crate::cli::cargo_config::{self, CargoConfig};
use crate::config::{Config, ConfigPaths};
use crate::env::ProcessEnv;
use crate::provider::Provider;
use crate::registry::{CRATES_IO, CRATES_IO_INDEXES, Registry, is_crates_io_index, same_index};
use crate::secret::Token;

/// The index URL `cargo:token-from-stdout` passes to the program it runs.
pub const INDEX_URL_VAR: &str = "CARGO_REGISTRY_INDEX_URL";
/// The registry name `cargo:token-from-stdout` passes, when Cargo knows one.
pub const NAME_VAR: &str = "CARGO_REGISTRY_NAME_OPT";

/// Arguments of `token`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints exactly what Cargo would send (`Bearer <token>` with \
    `auth-scheme = \"bearer\"`), one line; exit status 1 and nothing on stdout when no token \
    is found. Under `cargo:token-from-stdout`, --registry and --index default to \
    CARGO_REGISTRY_NAME_OPT and CARGO_REGISTRY_INDEX_URL:\n\n    credential-provider = \
    [\"cargo:token-from-stdout\", \"cargo-credential-corp\", \"token\", \"--registry\", \"NAME\"]"
)]
pub struct TokenArgs {
    #[command(flatten)]
    target: TokenTarget,
}

/// Which registry a token is wanted for, and for what.
#[derive(Debug, clap::Args)]
pub struct TokenTarget {
    /// The registry's name in Cargo's config (e.g. `my-private`).
    #[arg(long)]
    registry: Option<String>,
    /// The registry's index URL (e.g. `sparse+https://…/`); default: the
    /// `index` of the provider config's `[registries.NAME]` table (crates.io's
    /// own index for `crates-io`), else `CARGO_REGISTRIES_<NAME>_INDEX`, else
    /// `$CARGO_HOME/config.toml` (a project's `.cargo/config.toml` is not read).
    #[arg(long)]
    index: Option<String>,
    /// What the token is for: `publish` also covers yank, unyank and owners.
    #[arg(long, value_enum, default_value_t = OperationArg::Read)]
    operation: OperationArg,
}

/// The operation a token is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OperationArg {
    /// Downloading crates and reading the index.
    Read,
    /// Publishing, yanking, unyanking, changing owners.
    Publish,
}

/// The registry a token was fetched for.
#[derive(Debug)]
pub struct Resolved {
    /// Its name, when known.
    pub name: Option<String>,
    /// Its index URL.
    pub index_url: String,
}

impl Resolved {
    /// The registry as the provider's types describe it.
    pub fn registry(&self) -> Registry<'_> {
        Registry {
            index_url: &self.index_url,
            name: self.name.as_deref(),
        }
    }
}

impl TokenTarget {
    /// The registry's name and index URL: the arguments, else (when
    /// `from_cargo_env`) the variables `cargo:token-from-stdout` sets; for
    /// the index, `--index`, else what the name is bound to (see
    /// [`bound_index`]), else Cargo's variable. When Cargo says which index
    /// it asks for (`CARGO_REGISTRY_INDEX_URL`), it must be that one: a
    /// project's Cargo config can point any registry's
    /// `credential-provider` at `token --index …` or `token --registry …`.
    pub fn resolve(&self, from_cargo_env: bool) -> anyhow::Result<Resolved> {
        let var = |key: &str| {
            from_cargo_env
                .then(|| std::env::var(key).ok())
                .flatten()
                .filter(|v| !v.is_empty())
        };
        let name = self.registry.clone().or_else(|| var(NAME_VAR));
        let asked = var(INDEX_URL_VAR);
        let own = match (&self.index, &name) {
            (Some(index), _) => Some(index.clone()),
            (None, Some(name)) => bound_index(name)?,
            (None, None) => None,
        };
        let index_url = match (own, asked) {
            (Some(own), Some(asked)) => {
                let both_crates_io = is_crates_io_index(&own) && is_crates_io_index(&asked);
                if !same_index(&own, &asked) && !both_crates_io {
                    let what = match (&self.index, &name) {
                        (Some(_), _) => "--index".to_owned(),
                        (None, Some(name)) => format!("the index of `{name}`"),
                        (None, None) => "the index".to_owned(),
                    };
                    bail!(
                        "Cargo asks for a token for index {asked} ({INDEX_URL_VAR}), but {what} \
                         is {own}; no token is handed to an index it does not belong to. Check \
                         the `credential-provider` of the registry with index {asked} in \
                         Cargo's config (a project's .cargo/config.toml may have set it)"
                    );
                }
                // What Cargo asks for (crates.io's git or sparse URL).
                asked
            }
            (Some(own), None) => own,
            (None, Some(asked)) => asked,
            (None, None) => {
                let Some(name) = &name else {
                    bail!(
                        "say which registry: pass --registry NAME (and --index URL if its table \
                         has no `index`)"
                    );
                };
                bail!(
                    "no index URL for registry `{name}`: pass --index URL, or set `index` in \
                     [registries.{name}] of the provider's config or of your own Cargo config \
                     ($CARGO_HOME/config.toml; a project's .cargo/config.toml is not read for \
                     this){}",
                    cargo_config_problems()
                )
            }
        };
        Ok(Resolved { name, index_url })
    }

    /// A token for the `resolved` registry, from the provider's configured
    /// sources, exactly as Cargo would send it (with the `auth-scheme` prefix).
    pub fn fetch(&self, resolved: &Resolved) -> anyhow::Result<Token> {
        let registry = resolved.registry();
        let info = RegistryInfo {
            index_url: registry.index_url,
            name: registry.name,
            headers: Vec::new(),
        };
        let operation = match self.operation {
            OperationArg::Read => Operation::Read,
            OperationArg::Publish => Operation::Publish {
                name: "",
                vers: "",
                cksum: "",
            },
        };
        let answer = Provider::from_process().perform(&info, &Action::Get(operation), &[]);
        let token = match answer {
            Ok(CredentialResponse::Get { token, .. }) => Token::new(token.expose()),
            Ok(_) => bail!("the provider gave an unexpected answer to a `get`"),
            Err(Error::NotFound) => return Err(not_found(&registry)),
            Err(Error::UrlNotSupported) => bail!(
                "{} ({}) is not served by the provider's configuration (`serve = \"listed\"` and \
                 no [registries.NAME] table matches it); add a table with its `index`",
                registry.display_name(),
                registry.index_url
            ),
            Err(Error::Other(e)) => {
                return Err(anyhow!(e).context(format!(
                    "could not get a token for {}",
                    registry.display_name()
                )));
            }
            Err(e) => bail!("could not get a token for {}: {e}", registry.display_name()),
        };
        // `cargo:token-from-stdout` takes one line, and an environment
        // variable cannot hold a NUL: refuse rather than send half a token.
        if token.expose().contains(char::is_control) {
            bail!(
                "the token for {} contains a control character; it was not handed out",
                registry.display_name()
            );
        }
        Ok(token)
    }
}

/// The index URL the registry `name` is bound to by configuration the user
/// trusts: the `index` of the provider config's `[registries.NAME]` table,
/// crates.io's own index for `crates-io`, else Cargo's
/// `CARGO_REGISTRIES_<NAME>_INDEX`, else `[registries.NAME] index` in
/// `$CARGO_HOME/config.toml`. Never a project's `.cargo/config.toml`: it may
/// come from a cloned repository.
fn bound_index(name: &str) -> anyhow::Result<Option<String>> {
    let config = Config::load(&ConfigPaths::from_env(), &[])?;
    if let Some(index) = config.index_for(name) {
        return Ok(Some(index.to_owned()));
    }
    if name == CRATES_IO {
        return Ok(Some(CRATES_IO_INDEXES[0].to_owned()));
    }
    let Ok(home) = cargo_config::cargo_home() else {
        return Ok(None);
    };
    let cargo = CargoConfig::read_trusted(&home, &ProcessEnv, &[name]);
    Ok(cargo.indexes.get(name).cloned())
}

/// What was wrong with the user's own Cargo config, for a message.
fn cargo_config_problems() -> String {
    let Ok(home) = cargo_config::cargo_home() else {
        return String::new();
    };
    let problems = CargoConfig::read_trusted(&home, &ProcessEnv, &[]).problems;
    if problems.is_empty() {
        String::new()
    } else {
        format!(" ({})", problems.join("; "))
    }
}

/// "No token", with what to do about it.
fn not_found(registry: &Registry<'_>) -> anyhow::Error {
    let name = registry.display_name();
    let variable = registry
        .cargo_env_var()
        .map(|v| format!("export {v} or "))
        .unwrap_or_default();
    let (login, show) = match registry.name {
        Some(n) => (
            format!("`cargo login --registry {n}`"),
            format!("--registry {n}"),
        ),
        None => (
            "`cargo login --registry NAME` (NAME: a registry with this index in Cargo's config)"
                .to_owned(),
            format!("--index {}", registry.index_url),
        ),
    };
    anyhow!(
        "no token found for {name} ({}) in its configured sources; run {login} to store one in \
         the OS keychain (or sign in, with an sso table), or {variable}set a variable named in \
         `env` of its [registries.NAME] table. `cargo-credential-corp config {show}` shows where \
         tokens are looked for",
        registry.index_url
    )
}

/// Prints the token, one line on standard output.
pub fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let resolved = args.target.resolve(true)?;
    let token = args.target.fetch(&resolved)?;
    let mut out = std::io::stdout().lock();
    out.write_all(token.expose().as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .context("could not write the token to standard output")
}
