//! What the two wings that mint short-lived tokens (the CI exchanges in
//! [`crate::oidc`], the developer sign-in in [`crate::sso`]) share:
//! the outside world they mint in ([`Context`]), what they give Cargo
//! ([`Obtained`]), and the one single-flight loop around a mint ([`flight`]).

use std::time::Duration;

use crate::cache::FileStore;
use crate::env::Environment;
use crate::keychain::Keychain;
use crate::secret::Token;

pub mod flight;

/// A token for Cargo, with its expiry in Unix seconds when known.
#[derive(Debug)]
pub struct Obtained {
    /// The registry token.
    pub token: Token,
    /// When it expires.
    pub expires_at: Option<i64>,
}

/// The outside world a mint uses (the CI exchanges and the SSO refresh).
pub struct Context<'a> {
    /// The environment (CI variables, client secret variables).
    pub env: &'a dyn Environment,
    /// The keychain (cache, client secret).
    pub keychain: &'a dyn Keychain,
    /// The keychain budget of a `get`: all keychain calls made here share it.
    pub keychain_timeout: Duration,
    /// The file store (cache files and locks).
    pub files: &'a dyn Fn() -> anyhow::Result<FileStore>,
    /// The clock, in Unix seconds.
    pub now: &'a dyn Fn() -> i64,
    /// The registry's own token variables (`env = [...]`): an identity
    /// command does not get them.
    pub token_vars: &'a [String],
    /// Every variable any table of the configuration reads a secret from
    /// (each `env` entry and `client-secret-env`, of any registry): the
    /// browser launcher of a sign-in does not get them.
    pub secret_vars: &'a [String],
}
