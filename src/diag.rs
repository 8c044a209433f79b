//! Diagnostics for the person running Cargo: warnings on standard error,
//! which Cargo shows. The protocol owns standard output; nothing else writes
//! there.

/// A warning on standard error. Never a secret: callers pass messages built
/// from names, paths and error kinds only.
#[allow(clippy::print_stderr)]
pub fn warn(message: &str) {
    eprintln!("warning: cargo-credential-corp: {message}");
}
