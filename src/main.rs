//! The `cargo-credential-corp` binary: Cargo's credential protocol when
//! started with `--cargo-plugin`, a normal command line otherwise.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--cargo-plugin") {
        cargo_credential::main(cargo_credential_corp::provider::Provider::from_process());
        return ExitCode::SUCCESS;
    }
    cargo_credential_corp::cli::run(args)
}
