//! `cargo-credential-corp exec`: runs a command with the registry's token in
//! Cargo's own variable (`CARGO_REGISTRIES_<NAME>_TOKEN`, or
//! `CARGO_REGISTRY_TOKEN` for crates.io), for tools that read that variable
//! but cannot run a credential provider. Beside it, the registry's index in
//! `CARGO_REGISTRIES_<NAME>_INDEX`: Cargo's variables outrank its config
//! files, so a project's `.cargo/config.toml` cannot re-point NAME at
//! another index and receive the token there.
//!
//! The token is fetched as by `token` (the same sources, routing rule and
//! cache) and handed to the command's environment on purpose; it never
//! appears in an argument list or a message. The provider's own helpers
//! (identity command, browser launcher) run before the variable is set, and
//! never inherit Cargo's token variables anyway.

use std::ffi::OsString;
use std::process::{Command, ExitCode, ExitStatus};

use anyhow::anyhow;

use super::token::TokenTarget;

/// Arguments of `exec`.
#[derive(Debug, clap::Args)]
#[command(after_help = "COMMAND gets the token (as Cargo would send it) in \
    CARGO_REGISTRIES_<NAME>_TOKEN and the registry's index in CARGO_REGISTRIES_<NAME>_INDEX \
    (only CARGO_REGISTRY_TOKEN for crates-io), and nothing else; its \
    standard streams are this process's, and its exit status is passed through. The token is \
    in COMMAND's environment on purpose: use exec only for the command that needs it.")]
pub struct ExecArgs {
    #[command(flatten)]
    target: TokenTarget,
    /// The command to run, and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Runs the command with the token set, and returns its exit status (a
/// signal `n` as `128 + n` on Unix). Without a token the command is not run
/// and the status is 1; a command that cannot be started gives 127 (not
/// found) or 126, as shells do.
pub fn run(args: &ExecArgs) -> ExitCode {
    match run_command(args) {
        Ok(code) => code,
        Err(e) => {
            super::report(&e);
            ExitCode::FAILURE
        }
    }
}

fn run_command(args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let Some((program, rest)) = args.command.split_first() else {
        anyhow::bail!("no command to run: give it after `--`");
    };
    // Named before the token is fetched: a registry without a variable
    // needs no token.
    let resolved = args.target.resolve(false)?;
    let variable = variable_for(&resolved.registry())?;
    let token = args.target.fetch(&resolved)?;
    let mut command = Command::new(program);
    command.args(rest).env(&variable, token.expose());
    // Cargo's variable for the index outranks every config file: a
    // project's .cargo/config.toml cannot point NAME (and so this token)
    // at another registry in the command's cargo.
    if let Some(index_variable) = index_variable_for(&variable) {
        command.env(index_variable, &resolved.index_url);
    }
    let spawned = command.spawn();
    drop(command); // its copy of the environment, with the token
    drop(token);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            super::report(
                &anyhow!(e).context(format!("could not run `{}`", program.to_string_lossy())),
            );
            return Ok(ExitCode::from(code));
        }
    };
    let status = child
        .wait()
        .map_err(|e| anyhow!(e).context("could not wait for the command"))?;
    Ok(ExitCode::from(exit_code(status)))
}

/// Cargo's variable for the registry's token, which the command gets.
fn variable_for(registry: &crate::registry::Registry<'_>) -> anyhow::Result<String> {
    let Some(name) = registry.name else {
        anyhow::bail!(
            "exec sets the registry's CARGO_REGISTRIES_<NAME>_TOKEN, so it needs the registry's \
             name: pass --registry NAME"
        );
    };
    let variable = registry.cargo_env_var().ok_or_else(|| {
        anyhow!(
            "`{name}` with index {} is not crates.io, and Cargo reads no token variable for it",
            registry.index_url
        )
    })?;
    if !variable
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        anyhow::bail!(
            "`{name}` is not a registry name Cargo accepts (letters, digits, `-` and `_`), so it \
             has no token variable"
        );
    }
    Ok(variable)
}

/// Cargo's variable for the index of the registry whose token variable is
/// `token_variable` (`CARGO_REGISTRIES_<NAME>_INDEX`); none for crates.io,
/// whose index is not a registry setting.
fn index_variable_for(token_variable: &str) -> Option<String> {
    let name = token_variable
        .strip_prefix("CARGO_REGISTRIES_")?
        .strip_suffix("_TOKEN")?;
    Some(format!("CARGO_REGISTRIES_{name}_INDEX"))
}

/// The child's exit status as ours: its code, or `128 + n` for signal `n`.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        // Unix codes are 0..=255; a larger Windows code stays a failure.
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn exit_codes_and_signals_pass_through() {
        // Raw wait statuses: the code in the second byte, a signal in the first.
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(255 << 8)), 255);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }

    #[test]
    fn variable_names_follow_cargo() {
        let reg = |name, index_url| crate::registry::Registry {
            index_url,
            name: Some(name),
        };
        let v = variable_for(&reg("my-private", "sparse+https://r.example/")).unwrap();
        assert_eq!(v, "CARGO_REGISTRIES_MY_PRIVATE_TOKEN");
        assert_eq!(
            index_variable_for(&v).as_deref(),
            Some("CARGO_REGISTRIES_MY_PRIVATE_INDEX")
        );
        let v = variable_for(&reg("crates-io", "sparse+https://index.crates.io/")).unwrap();
        assert_eq!(v, "CARGO_REGISTRY_TOKEN");
        assert_eq!(index_variable_for(&v), None);
        assert!(variable_for(&reg("crates-io", "sparse+https://evil.example/")).is_err());
        assert!(variable_for(&reg("a=b", "sparse+https://r.example/")).is_err());
        let nameless = crate::registry::Registry {
            index_url: "sparse+https://r.example/",
            name: None,
        };
        let msg = variable_for(&nameless).unwrap_err().to_string();
        assert!(msg.contains("--registry"), "{msg}");
    }
}
