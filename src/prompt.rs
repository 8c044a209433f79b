//! Asking a person for a token on the terminal, never on Cargo's pipe.
//!
//! Cargo reads a piped token itself and sends it in the login request; the
//! provider prompts only when Cargo had a terminal and no token. The prompt
//! and the answer go through the terminal directly (stdin/stdout belong to
//! the protocol), and what is typed is not echoed: `rpassword` does that
//! portably (termios on Unix, the console API on Windows) without `unsafe`
//! here.

use anyhow::Context as _;
use zeroize::Zeroizing;

/// Shows `message` on the terminal and reads one line back, unechoed and
/// without its line ending.
pub fn read_token(message: &str) -> anyhow::Result<Zeroizing<String>> {
    read_secret(message).context(
        "no token was given and there is no terminal to ask on; pipe it in: \
             `echo \"$TOKEN\" | cargo login --registry NAME`",
    )
}

/// Shows `message` on the terminal and reads one line back, unechoed (for
/// anything secret: a token, an address holding an authorization code).
pub fn read_secret(message: &str) -> std::io::Result<Zeroizing<String>> {
    rpassword::prompt_password(format!("{message}: ")).map(Zeroizing::new)
}
