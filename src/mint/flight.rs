//! The single flight around one mint, with the cross-run cache: a fresh
//! cached token is served at once; otherwise, under the lock for its key,
//! the cache is looked at again (another process may just have minted),
//! then the mint runs, and its token is stored. When the mint fails, a
//! cached token that has not expired is still served, with a warning; an
//! expired one never is.

use std::fs::File;
use std::time::Duration;

use crate::cache::{self, CacheMode, Entry, FileStore, Store};
use crate::keychain::Keychain;
use crate::secret::Token;

use super::{Context, Obtained};

/// How a wing's settings use the cache.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// Where tokens are kept across runs.
    pub mode: CacheMode,
    /// How long before expiry a cached token is minted anew.
    pub refresh_ahead: Duration,
    /// How long to wait for another process's mint (its lock).
    pub lock_wait: Duration,
}

/// What a successful mint produced, for [`run`]'s caller.
pub(crate) struct Minted<'a> {
    /// The cache it was stored in and the entry stored (`None`: not stored).
    pub stored: Option<(&'a Store<'a>, &'a Entry)>,
    /// Its cache key.
    pub key: &'a str,
    /// The cached token it replaces, if there was one.
    pub superseded: Option<&'a Entry>,
}

/// The lock a mint runs under.
pub(crate) enum Guard<'a> {
    /// The cache key's own lock, waited for up to the policy's `lock_wait`.
    /// A mint runs without it when it cannot be had: only a second request
    /// is at stake.
    Key,
    /// A lock the mint must hold (an SSO login's: its refresh token may
    /// rotate, and sending a rotated one can make the IdP revoke the login).
    /// Without it no mint runs: a cached token that has not expired is
    /// served, else `busy()` is the error.
    Required {
        /// Takes the lock (with the private file store, when there is one).
        take: &'a dyn Fn(Option<&FileStore>) -> Option<File>,
        /// The error when the lock cannot be had and nothing cached serves.
        busy: &'a dyn Fn() -> anyhow::Error,
    },
}

/// Why a mint gave no token.
pub(crate) enum MintError {
    /// A passing failure: a cached token that has not expired is served
    /// instead, with a warning.
    Passing(anyhow::Error),
    /// The mint cannot succeed again (an ended login, whose cached tokens
    /// are gone with it): this error stands, whatever the cache held.
    Final(anyhow::Error),
}

impl From<anyhow::Error> for MintError {
    fn from(e: anyhow::Error) -> Self {
        MintError::Passing(e)
    }
}

/// A mint: the token and its expiry (Unix seconds; `None`: unknown, so not
/// cached), or `None` when there is nothing to mint from (nobody signed in).
pub(crate) type MintResult = Result<Option<(Token, Option<i64>)>, MintError>;

/// The cross-run cache and single flight around one mint, the one loop both
/// minting wings use: a fresh cached token for `key` is served at once;
/// otherwise, under the lock that `guard` names, the cache is looked at
/// again (another process may just have minted), then `mint(started,
/// files)` runs; its token is stored (when it has an expiry) and `on_mint`
/// told. When the mint fails in passing, a cached token that has not expired
/// is served instead, with a warning naming `what`; an expired one never is.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    policy: CachePolicy,
    key: &str,
    keychain: &dyn Keychain,
    cx: &Context<'_>,
    what: &str,
    guard: Guard<'_>,
    mint: impl FnOnce(i64, Option<&FileStore>) -> MintResult,
    on_mint: &mut dyn FnMut(Minted<'_>),
) -> anyhow::Result<Option<Obtained>> {
    let (store, cached) = open_cache(policy.mode, keychain, cx, key);
    if let Some(hit) = cached
        .as_ref()
        .filter(|e| e.fresh((cx.now)(), policy.refresh_ahead))
    {
        return Ok(Some(served(hit)));
    }
    // Single flight: wait for a process that is already minting, then look
    // again: it may have stored a fresh token meanwhile.
    let files = (cx.files)().ok();
    let _lock = match guard {
        Guard::Key => match (&store, &files) {
            (Some(_), Some(files)) => files.lock(key, policy.lock_wait),
            _ => None,
        },
        Guard::Required { take, busy } => match take(files.as_ref()) {
            Some(lock) => Some(lock),
            None => {
                return match cached.filter(|c| c.usable((cx.now)())) {
                    Some(still_valid) => Ok(Some(served(&still_valid))),
                    None => Err(busy()),
                };
            }
        },
    };
    let cached = match cache::look_again(
        store.as_ref(),
        key,
        (cx.now)(),
        policy.refresh_ahead,
        cached,
    ) {
        Ok(hit) => return Ok(Some(served(&hit))),
        Err(best) => best,
    };
    let started = (cx.now)();
    match mint(started, files.as_ref()) {
        Ok(None) => Ok(None),
        Ok(Some((token, expires_at))) => {
            let mut stored = None;
            if let (Some(store), Some(expires_at)) = (&store, expires_at) {
                let entry = Entry {
                    token: token.clone(),
                    obtained_at: started,
                    expires_at,
                };
                match store.save(key, &entry) {
                    Ok(()) => stored = Some((store, entry)),
                    Err(e) => {
                        crate::diag::warn(&format!("could not cache the registry token: {e:#}"))
                    }
                }
            }
            on_mint(Minted {
                stored: stored.as_ref().map(|(store, entry)| (*store, entry)),
                key,
                superseded: cached.as_ref(),
            });
            Ok(Some(Obtained { token, expires_at }))
        }
        Err(MintError::Final(e)) => Err(e),
        Err(MintError::Passing(e)) => match cached.filter(|c| c.usable((cx.now)())) {
            Some(still_valid) => {
                crate::diag::warn(&format!(
                    "refreshing the {what} failed, using the cached one until it expires: {e:#}"
                ));
                Ok(Some(served(&still_valid)))
            }
            None => Err(e),
        },
    }
}

pub(crate) fn served(entry: &Entry) -> Obtained {
    Obtained {
        token: entry.token.clone(),
        expires_at: Some(entry.expires_at),
    }
}

/// The cache for this run, and its entry for `key`. In `auto` mode the
/// keychain is used when it answers, else the private file.
pub(crate) fn open_cache<'k>(
    mode: CacheMode,
    keychain: &'k dyn Keychain,
    cx: &Context<'_>,
    key: &str,
) -> (Option<Store<'k>>, Option<Entry>) {
    let files = || (cx.files)().ok().map(Store::File);
    let store = match mode {
        CacheMode::Off => return (None, None),
        CacheMode::File => files(),
        CacheMode::Keychain | CacheMode::Auto => {
            Some(Store::Keychain(keychain, cx.keychain_timeout))
        }
    };
    let Some(store) = store else {
        return (None, None);
    };
    let loaded = store.load(key, (cx.now)());
    crate::trace::debug(|| {
        let kind = match store {
            Store::File(_) => "file",
            Store::Keychain(..) => "keychain",
        };
        let what = match &loaded {
            Ok(Some(e)) if e.usable((cx.now)()) => {
                format!("a token expiring in {} s", e.expires_at - (cx.now)())
            }
            Ok(Some(_)) => "an expired token".to_owned(),
            Ok(None) => "nothing".to_owned(),
            Err(e) => format!("unavailable ({e})"),
        };
        format!("cache ({kind}): {what}")
    });
    match loaded {
        Ok(entry) => (Some(store), entry),
        Err(_) if mode == CacheMode::Auto => {
            let files = files();
            let entry = files
                .as_ref()
                .and_then(|s| s.load(key, (cx.now)()).ok().flatten());
            (files, entry)
        }
        Err(e) => {
            crate::diag::warn(&format!(
                "the token cache in the OS keychain is unavailable: {e}"
            ));
            (None, None)
        }
    }
}
