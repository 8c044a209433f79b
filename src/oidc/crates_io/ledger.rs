//! The ledger of trusted publishing tokens this provider minted (where each
//! is cached and when, never the token), and their revocation: the one a
//! new token replaces at once, any other whose use is over at the next
//! exchange, and this job's (or every) one at `cargo logout` and `revoke`.

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};

use super::{TOKEN_LIFETIME_SECS, bound_index, check_index, endpoint, revoke_token};
use crate::cache::{self, Entry, FileStore, Store};
use crate::keychain::Budgeted;
use crate::mint::Context;
use crate::mint::flight::Minted;
use crate::net::http::Http;
use crate::oidc::identity;
use crate::oidc::settings::OidcSettings;
use crate::registry::{CRATES_IO, CRATES_IO_INDEXES, Registry};
use crate::secret::Token;

/// At most this many other tokens are revoked after one exchange.
const SWEEP_PER_GET: usize = 2;
/// At most this many tokens are recorded (the oldest are forgotten).
const MAX_RECORDS: usize = 64;
/// The ledger's format.
const LEDGER_FORMAT: u32 = 1;

/// Where a recorded token is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    File,
    Keychain,
}

/// A token this provider minted and has not revoked: where it is cached,
/// never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    key: String,
    store: Kind,
    obtained_at: i64,
    expires_at: i64,
}

impl Record {
    /// Whether crates.io has expired it by itself.
    fn dead(&self, now: i64) -> bool {
        now >= self.obtained_at.saturating_add(TOKEN_LIFETIME_SECS)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    v: u32,
    #[serde(default)]
    tokens: Vec<Record>,
}

/// The ledger of the tokens minted at one endpoint, in the cache folder.
struct LedgerFile<'f> {
    files: &'f FileStore,
    name: String,
    /// Held while the ledger is read, changed and written.
    _lock: Option<std::fs::File>,
}

impl<'f> LedgerFile<'f> {
    fn open(files: &'f FileStore, settings: &OidcSettings) -> LedgerFile<'f> {
        let id = cache::key(&["crates-io-minted", endpoint(settings)]);
        LedgerFile {
            files,
            _lock: files.lock(&format!("minted-{id}"), settings.timeout),
            name: format!("{id}.json"),
        }
    }

    fn read(&self) -> Vec<Record> {
        let Some(bytes) = self.files.read_private("minted", &self.name) else {
            return Vec::new();
        };
        let ledger: Ledger = serde_json::from_slice(&bytes).unwrap_or_default();
        if ledger.v != LEDGER_FORMAT {
            return Vec::new();
        }
        // A key becomes a file name: only the cache's own digests.
        ledger
            .tokens
            .into_iter()
            .filter(|r| r.key.len() == 40 && r.key.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect()
    }

    fn write(&self, mut tokens: Vec<Record>) {
        if tokens.is_empty() {
            let _ = self.files.remove_private("minted", &self.name);
            return;
        }
        tokens.sort_by_key(|r| r.obtained_at);
        let excess = tokens.len().saturating_sub(MAX_RECORDS);
        tokens.drain(..excess);
        let ledger = Ledger {
            v: LEDGER_FORMAT,
            tokens,
        };
        let bytes = serde_json::to_vec(&ledger).unwrap_or_default();
        if let Err(e) = self.files.write_private("minted", &self.name, &bytes) {
            crate::diag::warn(&format!(
                "could not record the crates.io token for revocation: {e:#}"
            ));
        }
    }
}

/// After an exchange (under the single-flight lock): record the new token,
/// and collect what to revoke once the lock is released: the token it
/// replaces, and up to [`SWEEP_PER_GET`] other recorded tokens whose use is
/// over (their cache entries are removed now).
pub(super) fn after_mint(
    settings: &OidcSettings,
    cx: &Context<'_>,
    minted: &Minted<'_>,
) -> Vec<Token> {
    let now = (cx.now)();
    let mut to_revoke = Vec::new();
    let store = minted.stored.map(|(store, _)| store);
    let new_entry = minted.stored.map(|(_, entry)| entry);
    // The replaced token, once the new one has taken its place in the
    // cache (if it could not be stored, the old one stays cached and
    // recorded, and is revoked when its use is over).
    if let (Some(old), Some(new)) = (minted.superseded, new_entry)
        && new.token != old.token
        && !dead(old, now)
    {
        to_revoke.push(old.token.clone());
    }
    let Ok(files) = (cx.files)() else {
        return to_revoke;
    };
    let ledger = LedgerFile::open(&files, settings);
    let mut records = ledger.read();
    records.retain(|r| !(r.dead(now) || (new_entry.is_some() && r.key == minted.key)));
    let current = match store {
        Some(Store::File(_)) => Some(Kind::File),
        Some(Store::Keychain(..)) => Some(Kind::Keychain),
        None => None,
    };
    let mut swept = 0;
    records.retain_mut(|r| {
        if swept >= SWEEP_PER_GET || now < r.expires_at {
            return true;
        }
        // Use is over: Cargo was told it expired. Its token is loaded from
        // the store it is in (the keychain only if this get uses it).
        let file_store;
        let store = match (r.store, current, store) {
            (Kind::Keychain, Some(Kind::Keychain), Some(s)) => s,
            (Kind::File, _, _) => {
                file_store = Store::File(files.clone());
                &file_store
            }
            _ => return true,
        };
        swept += 1;
        match store.load(&r.key, now) {
            Ok(Some(entry)) if entry.usable(now) => {
                // A newer token under that key (another process's): its times.
                (r.obtained_at, r.expires_at) = (entry.obtained_at, entry.expires_at);
                true
            }
            Ok(Some(entry)) => {
                if !dead(&entry, now) {
                    to_revoke.push(entry.token.clone());
                }
                let _ = store.remove(&r.key);
                false
            }
            Ok(None) => false,
            Err(_) => true,
        }
    });
    if let (Some(kind), Some(entry)) = (current, new_entry) {
        records.push(Record {
            key: minted.key.to_owned(),
            store: kind,
            obtained_at: entry.obtained_at,
            expires_at: entry.expires_at,
        });
    }
    ledger.write(records);
    to_revoke
}

/// Whether crates.io has expired the cached token by itself.
fn dead(entry: &Entry, now: i64) -> bool {
    now >= entry.obtained_at.saturating_add(TOKEN_LIFETIME_SECS)
}

/// Which recorded tokens `revoke` lets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// This CI job's (every one outside a CI job).
    ThisJob,
    /// Every token recorded on this machine for this endpoint.
    All,
}

/// Revokes recorded tokens and removes them from the cache (for `cargo
/// logout` and `cargo-credential-corp revoke`); how many were let go. In a
/// GitHub Actions or GitLab CI job, [`Which::ThisJob`] revokes only the
/// tokens minted for this job's identity, so that a job on a shared runner
/// never revokes another job's token while it publishes; outside a CI job,
/// every recorded token. Tokens that could not be revoked stay recorded.
pub fn revoke(settings: &OidcSettings, which: Which, cx: &Context<'_>) -> anyhow::Result<usize> {
    let files = (cx.files)().context("the list of minted tokens is kept in the cache folder")?;
    let now = (cx.now)();
    let keys = match which {
        Which::All => None,
        Which::ThisJob => this_jobs_keys(settings, cx),
    };
    let ledger = LedgerFile::open(&files, settings);
    let records = ledger.read();
    let keychain = Budgeted::new(cx.keychain, cx.keychain_timeout);
    let http = Http::new(settings.timeout)?;
    let mut kept = Vec::new();
    let mut revoked = 0;
    let mut failures = Vec::new();
    for record in records {
        if keys.as_ref().is_some_and(|k| !k.contains(&record.key)) {
            kept.push(record);
            continue;
        }
        let store = match record.store {
            Kind::File => Store::File(files.clone()),
            Kind::Keychain => Store::Keychain(&keychain, cx.keychain_timeout),
        };
        let entry = match store.load(&record.key, now) {
            Ok(entry) => entry,
            Err(e) => {
                failures.push(anyhow!(e).context("could not read a minted token"));
                kept.push(record);
                continue;
            }
        };
        let Some(entry) = entry else { continue };
        if dead(&entry, now) {
            let _ = store.remove(&record.key);
            continue;
        }
        match revoke_token(&http, endpoint(settings), &entry.token) {
            Ok(()) => {
                revoked += 1;
                let _ = store.remove(&record.key);
            }
            Err(e) => {
                failures.push(e);
                kept.push(record);
            }
        }
    }
    ledger.write(kept);
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(revoked),
        Some(e) => Err(e.context(format!(
            "revoked {revoked} crates.io trusted publishing token(s); {failed} could not be \
             revoked and stay recorded for the next attempt (each expires by itself within 30 \
             minutes of being issued)"
        ))),
    }
}

/// The cache keys of this CI job's crates.io tokens (both forms of
/// crates.io's index URL, or the table's own `index` for a crates.io-compatible
/// registry), `None` outside a CI job (every token), empty when the job's
/// identity cannot be read (nothing).
fn this_jobs_keys(settings: &OidcSettings, cx: &Context<'_>) -> Option<Vec<String>> {
    let identity = match identity::locate(settings, cx.env) {
        Ok(Some(id)) => id,
        Ok(None) => return None,
        Err(_) => return Some(Vec::new()),
    };
    // The index URL as Cargo sends it is in the key: crates.io's two forms,
    // or the bound index as written, with and without its final `/`.
    let indexes: Vec<String> = match bound_index(settings) {
        Some(index) => {
            let bare = index.trim_end_matches('/');
            vec![bare.to_owned(), format!("{bare}/")]
        }
        None => CRATES_IO_INDEXES.iter().map(|i| (*i).to_owned()).collect(),
    };
    Some(
        indexes
            .iter()
            .map(|index_url| {
                let registry = Registry {
                    index_url,
                    name: Some(CRATES_IO),
                };
                crate::oidc::cache_key(settings, &registry, None, Some(&identity.fingerprint), None)
            })
            .collect(),
    )
}

/// `cargo logout` for crates.io (or the crates.io-compatible registry the
/// table is bound to): revokes this job's tokens (every recorded token
/// outside a CI job). `Ok(true)` when one was revoked.
pub fn logout(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    cx: &Context<'_>,
) -> anyhow::Result<bool> {
    check_index(settings, registry)?;
    Ok(revoke(settings, Which::ThisJob, cx)? > 0)
}
