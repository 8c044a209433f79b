//! The `cargo-credential-corp` binary: Cargo's credential protocol when
//! started with `--cargo-plugin`, a normal command line otherwise.

use std::process::ExitCode;

fn main() -> ExitCode {
    cargo_credential_corp::hardening::harden_process();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--cargo-plugin") {
        let provider = cargo_credential_corp::provider::Provider::from_process();
        let served = cargo_credential_corp::protocol::serve(
            &provider,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        );
        return match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE, // Cargo went away mid-conversation.
        };
    }
    cargo_credential_corp::cli::run(args)
}
