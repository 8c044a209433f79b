//! The OS keychain, behind a seam: where `cargo login` stores a token and
//! `cargo logout` removes it.
//!
//! Each registry's token is one item keyed by the index URL Cargo sends:
//! service `cargo-registry:<index-url>`, user `cargo-credential-corp`. Reads
//! fall back to the items Cargo's built-in keychain providers wrote (see
//! [`os`]), so switching to this provider does not force a new login.
//!
//! Every call runs under a deadline ([`deadline`]): a locked, absent or
//! frozen keychain daemon must never hang Cargo. All the calls made while
//! serving one `get` share one budget ([`budget`]).

use std::fmt;
use std::time::Duration;

use crate::secret::Token;

pub mod budget;
pub mod deadline;
pub mod os;

pub use budget::Budgeted;
pub use os::OsKeychain;

/// Deadline of the keychain calls made by `cargo login` / `cargo logout`: a
/// person is waiting, perhaps on an unlock prompt.
pub const INTERACTIVE_KEYCHAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The service name of the item holding the token for `index_url`.
pub fn service_name(index_url: &str) -> String {
    format!("cargo-registry:{index_url}")
}

/// The user name of this provider's items.
pub const USER: &str = "cargo-credential-corp";

/// A keychain that stores one token per registry index URL.
pub trait Keychain {
    /// The token stored for `index_url`, if any.
    fn read(&self, index_url: &str, timeout: Duration) -> Result<Option<Token>, KeychainError>;
    /// Stores `token` for `index_url`, replacing any earlier one. `label` is
    /// what a keychain UI shows.
    fn store(
        &self,
        index_url: &str,
        label: &str,
        token: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError>;
    /// Removes every token stored for `index_url` (also those of Cargo's
    /// built-in providers). `Ok(false)` when there was none.
    fn remove(&self, index_url: &str, timeout: Duration) -> Result<bool, KeychainError>;
    /// The secret of this provider's item named `service`, if any (no
    /// fallbacks; for the token cache and client secrets).
    fn read_item(&self, service: &str, timeout: Duration) -> Result<Option<Token>, KeychainError>;
    /// Stores `secret` as this provider's item named `service`.
    fn store_item(
        &self,
        service: &str,
        label: &str,
        secret: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError>;
    /// Removes this provider's item named `service`. `Ok(false)` when there
    /// was none.
    fn remove_item(&self, service: &str, timeout: Duration) -> Result<bool, KeychainError>;
    /// The keychain under this one's shared budget ([`Budgeted`]), if it is
    /// one: for the few calls that need a deadline of their own.
    fn unbudgeted(&self) -> Option<&dyn Keychain> {
        None
    }
}

/// `keychain` without the budget of the request it serves: its calls get
/// the deadline they are given, not what is left of `keychain-timeout-ms`,
/// and are made even after an earlier call timed out. Only for a write that
/// must not be lost (a rotated SSO refresh token).
pub fn with_own_deadline(keychain: &dyn Keychain) -> &dyn Keychain {
    keychain.unbudgeted().unwrap_or(keychain)
}

/// A keychain call that failed. Its message never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeychainError {
    message: String,
    unavailable: bool,
    timed_out: bool,
}

impl KeychainError {
    /// An error with this message (which must not contain a secret).
    pub fn new(message: impl Into<String>) -> Self {
        KeychainError {
            message: message.into(),
            unavailable: false,
            timed_out: false,
        }
    }

    /// The keychain did not answer in time (a frozen daemon, an unlock
    /// prompt nobody answers): it is not asked again for the same request.
    pub fn timed_out(message: impl Into<String>) -> Self {
        KeychainError {
            message: message.into(),
            unavailable: false,
            timed_out: true,
        }
    }

    /// This machine has no keychain service at all (a headless CI box): for
    /// reading, the same as an empty keychain.
    pub fn unavailable(message: impl Into<String>) -> Self {
        KeychainError {
            message: message.into(),
            unavailable: true,
            timed_out: false,
        }
    }

    /// Whether the error means "there is no keychain here" rather than "the
    /// keychain failed" (locked, frozen, broken).
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// Whether the keychain did not answer within its deadline.
    pub fn is_timeout(&self) -> bool {
        self.timed_out
    }

    /// Describes a `keyring-core` error without ever including stored bytes.
    pub fn from_keyring(err: &keyring_core::Error) -> Self {
        use keyring_core::Error as E;
        let message = match err {
            E::NoStorageAccess(e) => {
                format!("the keychain is locked or refused access ({e}); unlock it and retry")
            }
            E::PlatformFailure(e) => format!("the keychain failed: {e}"),
            E::NoEntry => "no such keychain item".to_owned(),
            E::BadEncoding(_) => "the stored token is not valid UTF-8".to_owned(),
            E::BadDataFormat(..) => "the stored item is malformed".to_owned(),
            E::BadStoreFormat(why) => format!("the keychain is malformed: {why}"),
            E::TooLong(attr, max) => format!("{attr} is longer than the keychain allows ({max})"),
            E::Invalid(attr, why) => format!("the keychain rejected {attr}: {why}"),
            E::Ambiguous(items) => format!(
                "{} keychain items match; remove the extra ones with your keychain tool",
                items.len()
            ),
            E::NoDefaultStore => "no keychain store is available".to_owned(),
            E::NotSupportedByStore(why) => format!("the keychain does not support this: {why}"),
            _ => "the keychain failed".to_owned(),
        };
        KeychainError::new(message)
    }
}

impl From<keyring_core::Error> for KeychainError {
    fn from(err: keyring_core::Error) -> Self {
        KeychainError::from_keyring(&err)
    }
}

impl fmt::Display for KeychainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KeychainError {}
