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

/// A config value (`Grant::JfrogArtifactory`, `IdentityKind::GithubActions`)
/// as the config file writes it (`jfrog-artifactory`, `github-actions`),
/// for messages: the kebab-case that `#[serde(rename_all = "kebab-case")]`
/// derives from the variant's name, never the Rust type name.
pub fn config_word(value: &impl std::fmt::Debug) -> String {
    let name = format!("{value:?}");
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
