//! Diagnostics for the person running Cargo: warnings on standard error,
//! which Cargo shows. The protocol owns standard output; nothing else writes
//! there.

/// A warning on standard error. Never a secret: callers pass messages built
/// from names, paths and error kinds only.
#[allow(clippy::print_stderr)]
pub fn warn(message: &str) {
    eprintln!("warning: cargo-credential-corp: {message}");
}

/// A line for the person at the terminal on standard error (prompts,
/// progress of a sign-in). Never a secret.
#[allow(clippy::print_stderr)]
pub fn say(message: &str) {
    eprintln!("{message}");
}
