//! The cross-run cache of short-lived registry tokens.
//!
//! Cargo caches a token only inside one `cargo` process; this cache lets the
//! next `cargo` run reuse a still-valid token instead of exchanging again.
//! Entries live in the OS keychain when there is one, else in a private file
//! (`<cache dir>/cargo-credential-corp/tokens/<key>.json`, mode 0600, in a
//! 0700 folder, written atomically). A file that is corrupt, owned by another
//! user or readable by others is ignored, never trusted. Exchanges are
//! single-flight: a lock file per key makes N processes started together
//! cause one exchange.

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::keychain::{Keychain, KeychainError};
use crate::secret::Token;

/// Keychain items of the cache are named `cargo-credential-corp-cache:<key>`.
const KEYCHAIN_PREFIX: &str = "cargo-credential-corp-cache:";
const MAX_ENTRY_BYTES: u64 = 64 * 1024;

/// A cached token and its lifetime, in Unix seconds.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The token.
    pub token: Token,
    /// When it was obtained.
    pub obtained_at: i64,
    /// When it expires.
    pub expires_at: i64,
}

impl Entry {
    /// Whether the token may still be presented at `now` (with a margin so
    /// that it does not expire on the way).
    pub fn usable(&self, now: i64) -> bool {
        now + self.margin() < self.expires_at
    }

    /// Whether the token is fresh enough to use without refreshing: outside
    /// the refresh-ahead window (at most half of its lifetime).
    pub fn fresh(&self, now: i64, refresh_ahead: Duration) -> bool {
        let lifetime = (self.expires_at - self.obtained_at).max(0);
        let ahead = (refresh_ahead.as_secs() as i64).min(lifetime / 2);
        self.usable(now) && now < self.expires_at - ahead
    }

    fn margin(&self) -> i64 {
        ((self.expires_at - self.obtained_at) / 10).clamp(1, 10)
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    token: String,
    obtained_at: i64,
    expires_at: i64,
}

fn encode(entry: &Entry) -> Zeroizing<String> {
    let stored = Stored {
        v: 1,
        token: entry.token.expose().to_owned(),
        obtained_at: entry.obtained_at,
        expires_at: entry.expires_at,
    };
    let text = Zeroizing::new(serde_json::to_string(&stored).expect("plain struct serializes"));
    let mut token = stored.token;
    zeroize::Zeroize::zeroize(&mut token);
    text
}

fn decode(text: &str) -> Option<Entry> {
    let stored: Stored = serde_json::from_str(text).ok()?;
    if stored.v != 1 || stored.expires_at <= stored.obtained_at {
        return None;
    }
    let token = Token::parse(stored.token, "the token cache").ok()??;
    Some(Entry {
        token,
        obtained_at: stored.obtained_at,
        expires_at: stored.expires_at,
    })
}

/// A cache key: a digest of everything that makes two tokens different.
pub fn key(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where entries are kept.
pub enum Store<'k> {
    /// Private files in a folder.
    File(FileStore),
    /// The OS keychain.
    Keychain(&'k dyn Keychain, Duration),
}

impl Store<'_> {
    /// The entry for `key`, if one is stored and readable. Unreadable or
    /// untrusted entries are `None`; only a keychain failure is an error.
    pub fn load(&self, key: &str) -> Result<Option<Entry>, KeychainError> {
        match self {
            Store::File(f) => Ok(f.load(key)),
            Store::Keychain(k, timeout) => {
                let item = k.read_item(&format!("{KEYCHAIN_PREFIX}{key}"), *timeout)?;
                Ok(item.and_then(|t| decode(t.expose())))
            }
        }
    }

    /// Stores `entry` under `key`, replacing what was there.
    pub fn save(&self, key: &str, entry: &Entry) -> anyhow::Result<()> {
        match self {
            Store::File(f) => f.save(key, entry),
            Store::Keychain(k, timeout) => {
                let text = encode(entry);
                let item = Token::new(text.as_str().to_owned());
                k.store_item(
                    &format!("{KEYCHAIN_PREFIX}{key}"),
                    "cargo-credential-corp: short-lived registry token",
                    &item,
                    *timeout,
                )?;
                Ok(())
            }
        }
    }
}

/// Private files in one folder, plus the lock files of single flight.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// The store in the user's cache folder (`$CARGO_CREDENTIAL_CORP_CACHE_DIR`
    /// overrides it).
    pub fn user() -> anyhow::Result<FileStore> {
        let dir = match std::env::var_os("CARGO_CREDENTIAL_CORP_CACHE_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => dirs::cache_dir()
                .context("this system has no user cache folder; set `cache = \"off\"`")?
                .join("cargo-credential-corp"),
        };
        Ok(FileStore::at(dir))
    }

    /// A store in `dir`.
    pub fn at(dir: PathBuf) -> FileStore {
        FileStore { dir }
    }

    fn tokens(&self) -> PathBuf {
        self.dir.join("tokens")
    }

    fn load(&self, key: &str) -> Option<Entry> {
        let path = self.tokens().join(format!("{key}.json"));
        let file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES || !private(&meta) {
            return None;
        }
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_ENTRY_BYTES).read_to_string(&mut text).ok()?;
        decode(&text)
    }

    fn save(&self, key: &str, entry: &Entry) -> anyhow::Result<()> {
        let dir = self.tokens();
        private_dir(&dir)?;
        let path = dir.join(format!("{key}.json"));
        let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = create_private(&tmp)?;
            f.write_all(encode(entry).as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            anyhow::anyhow!("cannot write the token cache in {}: {e}", dir.display())
        })
    }

    /// Takes the single-flight lock for `key`, waiting at most `wait`. `None`
    /// when it could not be had in time (the caller goes on without it).
    pub fn lock(&self, key: &str, wait: Duration) -> Option<File> {
        let dir = self.dir.join("locks");
        private_dir(&dir).ok()?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{key}.lock")))
            .ok()?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(10));
                }
                Err(_) => return None,
            }
        }
    }
}

#[cfg(unix)]
fn private(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    meta.uid() == rustix::process::getuid().as_raw() && meta.mode() & 0o077 == 0
}

#[cfg(not(unix))]
fn private(_meta: &fs::Metadata) -> bool {
    // The folder is in the user's own profile.
    true
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = fs::metadata(dir)?;
    if meta.uid() != rustix::process::getuid().as_raw() || meta.mode() & 0o077 != 0 {
        anyhow::bail!(
            "{} is not private to this user (owner or permissions); the token cache is not \
             written there. Remove it or fix it with `chmod 700`",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<File> {
    File::options().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token: &str, obtained_at: i64, expires_at: i64) -> Entry {
        Entry {
            token: Token::new(token.into()),
            obtained_at,
            expires_at,
        }
    }

    #[test]
    fn freshness_and_usability() {
        let e = entry("t", 1000, 1300); // 5 minutes
        let ahead = Duration::from_secs(60);
        assert!(e.fresh(1000, ahead) && e.fresh(1239, ahead));
        assert!(!e.fresh(1240, ahead) && e.usable(1240));
        assert!(e.usable(1289) && !e.usable(1290) && !e.usable(1300) && !e.usable(2000));
        // A 10 s token: refresh ahead is capped at half its life.
        let e = entry("t", 1000, 1010);
        assert!(e.fresh(1004, ahead) && !e.fresh(1005, ahead));
        assert!(e.usable(1008) && !e.usable(1009));
    }

    #[test]
    fn file_store_round_trip_is_private_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at(dir.path().join("c"));
        let k = key(&["a", "b"]);
        assert!(store.load(&k).is_none());
        store.save(&k, &entry("tok-1", 10, 20)).unwrap();
        let got = store.load(&k).unwrap();
        assert_eq!(
            (got.token.expose(), got.obtained_at, got.expires_at),
            ("tok-1", 10, 20)
        );
        store.save(&k, &entry("tok-2", 11, 21)).unwrap();
        assert_eq!(store.load(&k).unwrap().token.expose(), "tok-2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let file = dir.path().join("c/tokens").join(format!("{k}.json"));
            assert_eq!(
                fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(dir.path().join("c/tokens"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
            // Loosened permissions: the entry is no longer trusted.
            fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(store.load(&k).is_none());
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("c/tokens")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left behind");
    }

    #[cfg(unix)]
    #[test]
    fn an_entry_owned_by_another_user_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at(dir.path().to_path_buf());
        let k = key(&["foreign"]);
        store.save(&k, &entry("tok", 10, 20)).unwrap();
        let file = dir.path().join("tokens").join(format!("{k}.json"));
        // Only root may give a file away; elsewhere this case cannot be set up.
        if std::os::unix::fs::chown(&file, Some(65534), None).is_ok() {
            assert!(store.load(&k).is_none());
        }
    }

    #[test]
    fn corrupt_entries_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at(dir.path().to_path_buf());
        let k = key(&["x"]);
        store.save(&k, &entry("tok", 10, 20)).unwrap();
        let file = dir.path().join("tokens").join(format!("{k}.json"));
        for bad in [
            "",
            "{",
            "{\"v\":2,\"token\":\"t\",\"obtained_at\":1,\"expires_at\":2}",
            "{\"v\":1,\"token\":\"a\\nb\",\"obtained_at\":1,\"expires_at\":2}",
            "{\"v\":1,\"token\":\"t\",\"obtained_at\":5,\"expires_at\":2}",
        ] {
            fs::write(&file, bad).unwrap();
            assert!(store.load(&k).is_none(), "{bad}");
        }
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        assert_eq!(key(&["a"]).len(), 40);
    }

    #[test]
    fn the_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at(dir.path().to_path_buf());
        let held = store.lock("k", Duration::from_secs(1)).unwrap();
        assert!(store.lock("k", Duration::from_millis(50)).is_none());
        drop(held);
        assert!(store.lock("k", Duration::from_millis(50)).is_some());
    }
}
