//! Token sources: where a registry token can come from, one module each,
//! behind one small trait. The provider walks the registry's `sources` in
//! order and asks each [`Source`] for a token; `cargo login` goes to the
//! first source that signs in or stores (an SSO login, else the keychain),
//! and `cargo logout` to every source that holds something.

use std::fmt;

use cargo_credential::LoginOptions;

use crate::cache::FileStore;
use crate::config::Settings;
pub use crate::config::SourceKind;
use crate::env::Environment;
use crate::keychain::Keychain;
use crate::protocol::OperationClass;
use crate::registry::Registry;
use crate::secret::Token;

pub mod env;
pub mod keychain;
pub mod oidc;
pub mod sso;

/// What a source is asked with: the request, the registry's settings and
/// the outside world.
pub struct Request<'a> {
    /// The registry Cargo asks about.
    pub registry: &'a Registry<'a>,
    /// Its settings (the matched tables).
    pub settings: &'a Settings,
    /// Read or publish (for `get`).
    pub operation: OperationClass,
    /// The environment.
    pub env: &'a dyn Environment,
    /// The keychain; for a `get`, every call shares one budget.
    pub keychain: &'a dyn Keychain,
    /// The file store (cache files, locks, opt-in SSO logins).
    pub files: &'a dyn Fn() -> anyhow::Result<FileStore>,
    /// The clock, in Unix seconds.
    pub now: &'a dyn Fn() -> i64,
    /// The headers of the 401 that made Cargo ask (`registry.headers`:
    /// `"name: value"` strings, only on a sparse index fetch's first
    /// contact); empty otherwise.
    pub headers: &'a [String],
}

/// The clock of a real run: the current time in Unix seconds.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A read request for `registry` over this process's environment, the
/// given `keychain` (the OS keychain within `keychain-timeout`), the user's
/// file store and the real clock: how `status` and `doctor` ask the sources
/// what a `get` would find.
pub fn process_request<'a>(
    registry: &'a Registry<'a>,
    settings: &'a Settings,
    keychain: &'a dyn Keychain,
) -> Request<'a> {
    Request {
        registry,
        settings,
        operation: OperationClass::Read,
        env: &crate::env::ProcessEnv,
        keychain,
        files: &FileStore::user,
        now: &unix_now,
        headers: &[],
    }
}

impl Request<'_> {
    /// The context of the token-issuing sources (`oidc`, `sso`).
    pub fn context(&self) -> crate::mint::Context<'_> {
        crate::mint::Context {
            env: self.env,
            keychain: self.keychain,
            keychain_timeout: self.settings.keychain_timeout,
            files: self.files,
            now: self.now,
            token_vars: &self.settings.env,
            secret_vars: &self.settings.secret_vars,
        }
    }

    /// Where the registry's settings come from, for messages.
    pub fn where_configured(&self) -> String {
        match self.settings.matched.first() {
            Some((name, origin)) => format!("[registries.{name}] in {origin}"),
            None => "no [registries.NAME] table matches this registry".to_owned(),
        }
    }
}

/// How long Cargo may keep a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// For the whole Cargo process (a long-lived token).
    Session,
    /// Until this Unix time (a short-lived token).
    Until(i64),
    /// A short-lived token of unknown lifetime: not kept at all.
    Unknown,
}

impl Lifetime {
    /// A short-lived token's lifetime from its expiry, if known.
    pub fn short(expires_at: Option<i64>) -> Lifetime {
        expires_at.map_or(Lifetime::Unknown, Lifetime::Until)
    }
}

/// A token a source has for Cargo.
#[derive(Debug)]
pub struct Found {
    /// The token (before any `auth-scheme` prefix).
    pub token: Token,
    /// How long Cargo may keep it.
    pub lifetime: Lifetime,
    /// Whether a publish may use the token a read got.
    pub operation_independent: bool,
}

impl Found {
    /// A long-lived token, good for every operation.
    pub fn long_lived(token: Token) -> Found {
        Found {
            token,
            lifetime: Lifetime::Session,
            operation_independent: true,
        }
    }
}

/// What a source answered to a `get`.
#[derive(Debug)]
pub enum Lookup {
    /// A token.
    Found(Found),
    /// No token, but an answer for Cargo when no later source has one:
    /// crates.io trusted publishing's read placeholder
    /// ([`crate::oidc::crates_io::READ_PLACEHOLDER`]), which must not hide a
    /// real token a later source holds.
    Fallback(Found),
    /// Nothing here; `note` is said only if no other source answers either
    /// (a keychain that failed, an SSO login still to be made).
    Missing {
        /// A warning for the person, if any.
        note: Option<Note>,
    },
}

/// A warning a source leaves for the person, said only if no source
/// answers: so one that costs work to make is made only then.
pub enum Note {
    /// Made already.
    Ready(String),
    /// Made when it is to be said: it may cost a request (the metadata that
    /// a 401 names), which a `get` some later source answers never pays.
    Deferred(Box<dyn FnOnce() -> Option<String>>),
}

impl Note {
    /// The warning's text (a deferred one is made now).
    pub fn text(self) -> Option<String> {
        match self {
            Note::Ready(text) => Some(text),
            Note::Deferred(make) => make(),
        }
    }
}

impl fmt::Debug for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Ready(text) => f.debug_tuple("Ready").field(text).finish(),
            Note::Deferred(_) => f.write_str("Deferred"),
        }
    }
}

impl Lookup {
    /// Nothing, and nothing to say.
    pub const NONE: Lookup = Lookup::Missing { note: None };
}

/// What `cargo login` asked for.
pub struct Login<'a> {
    /// Cargo's options (a token given on the command line or piped in).
    pub options: &'a LoginOptions<'a>,
    /// `-- --device`, `--browser` or `--paste`.
    pub flow: Option<crate::sso::settings::Flow>,
    /// `-- --rebind`: a registry that now names another identity provider
    /// than the one it was signed in at may be bound to the new one.
    pub rebind: bool,
}

/// A place a token can come from.
pub trait Source {
    /// A token for the request, or why there is none.
    fn get(&self, request: &Request<'_>) -> anyhow::Result<Lookup>;

    /// Handles `cargo login`, or `None` when this source does not take it
    /// (the next one in `sources` is asked).
    fn login(&self, _request: &Request<'_>, _login: &Login<'_>) -> Option<anyhow::Result<()>> {
        None
    }

    /// Handles `cargo logout`: `Some(Ok(true))` when something was removed,
    /// `None` when this source holds nothing to remove.
    fn logout(&self, _request: &Request<'_>) -> Option<anyhow::Result<bool>> {
        None
    }
}

/// The source of a kind.
pub fn source(kind: SourceKind) -> &'static dyn Source {
    match kind {
        SourceKind::Env => &env::Env,
        SourceKind::Keychain => &keychain::KeychainSource,
        SourceKind::Oidc => &oidc::Oidc,
        SourceKind::Sso => &sso::Sso,
    }
}
