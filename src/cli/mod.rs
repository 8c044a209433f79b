//! The human command line: `--help`, `--version` and subcommands, one file each.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cargo_config;
mod client_secret;
mod doctor;
mod edit_lock;
mod exec;
mod migrate;
mod redact_toml;
mod revoke;
mod setup;
mod show_config;
mod shown;
mod status;
mod target;
mod token;

const ABOUT: &str = "A Cargo credential provider for private registries.

Cargo starts it; you do not run it by hand. Configure Cargo with

    [registry]
    global-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]

then `cargo login --registry NAME` stores a token in the OS keychain and
`cargo logout --registry NAME` removes it. Tokens are also read from
CARGO_REGISTRY_TOKEN / CARGO_REGISTRIES_<NAME>_TOKEN.";

#[derive(Debug, Parser)]
#[command(name = "cargo-credential-corp", version, about = ABOUT, arg_required_else_help = true)]
struct Cli {
    /// Speak Cargo's credential protocol on stdin/stdout (Cargo passes this).
    #[arg(long, hide = true)]
    cargo_plugin: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the config files read and the settings that apply to a registry.
    Config(show_config::ShowConfigArgs),
    /// Store an OAuth client secret in the OS keychain (read from stdin).
    ClientSecret(client_secret::ClientSecretArgs),
    /// Tell Cargo to use this provider: edits Cargo's config.toml, shows the diff.
    Setup(setup::SetupArgs),
    /// Move the tokens in Cargo's credentials.toml into the OS keychain.
    Migrate(migrate::MigrateArgs),
    /// Print a registry token on stdout, for tools that cannot run a
    /// credential provider (and for `cargo:token-from-stdout`).
    Token(token::TokenArgs),
    /// Run a command with the registry's token in CARGO_REGISTRIES_<NAME>_TOKEN.
    Exec(exec::ExecArgs),
    /// Explain why Cargo does (not) get a token for each registry.
    Doctor(doctor::DoctorArgs),
    /// Who is signed in where: per registry the account, the identity
    /// provider, until when, and which source answers a get (never a token).
    Status(status::StatusArgs),
    /// Revoke the crates.io trusted publishing tokens minted here (a CI job's last step).
    Revoke(revoke::RevokeArgs),
}

/// Runs the command line with `args` (the program name first).
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout, errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Some(Command::Config(args)) => show_config::run(&args),
        Some(Command::ClientSecret(args)) => client_secret::run(&args),
        Some(Command::Setup(args)) => setup::run(&args),
        Some(Command::Migrate(args)) => migrate::run(&args),
        Some(Command::Token(args)) => token::run(&args),
        Some(Command::Exec(args)) => return exec::run(&args),
        Some(Command::Revoke(args)) => revoke::run(&args),
        Some(Command::Status(args)) => status::run(&args),
        Some(Command::Doctor(args)) => match doctor::run(&args) {
            Ok(true) => Ok(()),
            // The report says why; the status says that no token is had.
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        None => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stderr)]
fn report(err: &anyhow::Error) {
    // Messages may quote a config file's values: shown escaped.
    eprintln!("error: {}", shown::shown(&err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", shown::shown(&cause.to_string()));
    }
}
