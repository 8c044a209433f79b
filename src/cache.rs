//! The cross-run cache of short-lived registry tokens.
//!
//! Cargo caches a token only inside one `cargo` process; this cache lets the
//! next `cargo` run reuse a still-valid token instead of exchanging again.
//! Entries live in the OS keychain when there is one, else in a private file
//! (`<cache dir>/cargo-credential-corp/tokens/<key>.json`, mode 0600, in a
//! 0700 folder, written atomically). Exchanges are single-flight: a lock file
//! per key makes N processes started together cause one exchange.
//!
//! Nothing read back is trusted beyond what this provider wrote for this
//! key: an entry names its key and is refused under another; an entry from
//! the future (beyond a minute of clock skew) or living longer than a day is
//! refused. On Unix the token and lock folders are opened without following
//! a symlink and must be owned by this user and private; entries and locks
//! are opened relative to them, without following a symlink and without
//! blocking (a planted FIFO is refused, not waited on), and must be regular
//! files (entries: owned by this user, private).

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
/// The entry format; entries of other versions are ignored (and replaced).
const FORMAT: u32 = 2;
/// An entry obtained later than now plus this much clock skew is refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;
/// An entry claiming a longer lifetime is refused.
pub const MAX_LIFETIME_SECS: i64 = 24 * 60 * 60;

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

    /// Whether an entry read back is plausible at `now`: not obtained in
    /// the future (beyond [`MAX_CLOCK_SKEW_SECS`]). The lifetime was checked
    /// when it was decoded.
    fn plausible(&self, now: i64) -> bool {
        self.obtained_at <= now.saturating_add(MAX_CLOCK_SKEW_SECS)
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    /// The key the entry was stored under: an entry moved or copied to
    /// another key's place is refused.
    #[serde(default)]
    key: String,
    token: String,
    obtained_at: i64,
    expires_at: i64,
}

fn encode(key: &str, entry: &Entry) -> Zeroizing<String> {
    let stored = Stored {
        v: FORMAT,
        key: key.to_owned(),
        token: entry.token.expose().to_owned(),
        obtained_at: entry.obtained_at,
        expires_at: entry.expires_at,
    };
    let text = Zeroizing::new(serde_json::to_string(&stored).expect("plain struct serializes"));
    let mut token = stored.token;
    zeroize::Zeroize::zeroize(&mut token);
    text
}

fn decode(text: &str, key: &str) -> Option<Entry> {
    let stored: Stored = serde_json::from_str(text).ok()?;
    let lifetime = stored.expires_at.checked_sub(stored.obtained_at)?;
    if stored.v != FORMAT || stored.key != key || !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
        let mut token = stored.token;
        zeroize::Zeroize::zeroize(&mut token);
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
    digest(parts, None)
}

/// [`key`] of `parts` followed by `secret`: a key covering a secret,
/// from which the secret cannot be had back.
pub fn secret_key(parts: &[&str], secret: &Token) -> String {
    digest(parts, Some(secret.expose()))
}

fn digest(parts: &[&str], secret: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for part in parts.iter().copied().chain(secret) {
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
    /// The entry for `key`, if one is stored, readable and plausible at
    /// `now`. Unreadable or untrusted entries are `None`; only a keychain
    /// failure is an error.
    pub fn load(&self, key: &str, now: i64) -> Result<Option<Entry>, KeychainError> {
        let entry = match self {
            Store::File(f) => f.load(key),
            Store::Keychain(k, timeout) => {
                let item = k.read_item(&format!("{KEYCHAIN_PREFIX}{key}"), *timeout)?;
                item.and_then(|t| decode(t.expose(), key))
            }
        };
        Ok(entry.filter(|e| e.plausible(now)))
    }

    /// Stores `entry` under `key`, replacing what was there.
    pub fn save(&self, key: &str, entry: &Entry) -> anyhow::Result<()> {
        match self {
            Store::File(f) => f.save(key, entry),
            Store::Keychain(k, timeout) => {
                let text = encode(key, entry);
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

/// After the single-flight lock is taken: the entry for `key` that another
/// process may have stored meanwhile. `Ok(entry)`: fresh, serve it at once;
/// `Err(best)`: refresh, and fall back on `best` (the newer of what is
/// stored now and `earlier`) if that fails.
pub fn look_again(
    store: Option<&Store<'_>>,
    key: &str,
    now: i64,
    refresh_ahead: Duration,
    earlier: Option<Entry>,
) -> Result<Entry, Option<Entry>> {
    match store.and_then(|s| s.load(key, now).ok().flatten()) {
        Some(hit) if hit.fresh(now, refresh_ahead) => Ok(hit),
        again => Err(again.or(earlier)),
    }
}

impl Store<'_> {
    /// Removes the entry for `key`, if there. `Ok(true)` when one was.
    pub fn remove(&self, key: &str) -> Result<bool, KeychainError> {
        match self {
            Store::File(f) => {
                let name = format!("{key}.json");
                let there = f.read_private("tokens", &name).is_some();
                // An access token: best effort (it expires by itself).
                let _ = f.remove_private("tokens", &name);
                Ok(there)
            }
            Store::Keychain(k, timeout) => {
                k.remove_item(&format!("{KEYCHAIN_PREFIX}{key}"), *timeout)
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

    /// This user's folder for locks (and what goes with them) that must
    /// hold whatever cache folder a process uses
    /// (`$CARGO_CREDENTIAL_CORP_CACHE_DIR`): on Unix
    /// `$XDG_RUNTIME_DIR/cargo-credential-corp` when that variable holds an
    /// absolute path and the folder can be had, else
    /// `<temp dir>/cargo-credential-corp-<uid>`; on other systems
    /// `<temp dir>/cargo-credential-corp` (a per-user temp dir). Created
    /// 0700. An error, naming the folder and what to do, when the last one
    /// cannot be had: a symlink, not a folder, or not this user's and
    /// private (another user may have made it first).
    pub fn user_locks() -> anyhow::Result<FileStore> {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| cfg!(unix) && d.is_absolute());
        FileStore::user_locks_in(
            runtime.map(|d| d.join("cargo-credential-corp")),
            std::env::temp_dir().join(per_user("cargo-credential-corp")),
        )
    }

    /// [`FileStore::user_locks`] with its two candidates.
    fn user_locks_in(runtime: Option<PathBuf>, temp: PathBuf) -> anyhow::Result<FileStore> {
        // The runtime folder itself is never created (a stale variable).
        if let Some(dir) = runtime.filter(|d| d.parent().is_some_and(Path::is_dir)) {
            match files::open_dir(&dir, true) {
                Ok(_) => return Ok(FileStore::at(dir)),
                Err(e) => crate::trace::debug(|| {
                    format!(
                        "the lock folder {} cannot be used ({e}); trying the temporary folder",
                        dir.display()
                    )
                }),
            }
        }
        match files::open_dir(&temp, true) {
            Ok(_) => Ok(FileStore::at(temp)),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(anyhow::anyhow!(
                "this user's lock folder {} is not this user's private folder (a symlink, or \
                 another user's, or open to others: another user may have created it first). It \
                 keeps two cargo processes from sending the same single sign-on at once, so \
                 nothing is sent without it: remove it, or set XDG_RUNTIME_DIR to a private \
                 folder of yours",
                temp.display()
            )),
            Err(e) => Err(anyhow::anyhow!(
                "this user's lock folder {} cannot be created ({e}); set XDG_RUNTIME_DIR to a \
                 private folder of yours",
                temp.display()
            )),
        }
    }

    /// A store in `dir`.
    pub fn at(dir: PathBuf) -> FileStore {
        FileStore { dir }
    }

    /// The path of the sub-folder `folder` (for messages).
    pub fn folder(&self, folder: &str) -> PathBuf {
        self.dir.join(folder)
    }

    fn load(&self, key: &str) -> Option<Entry> {
        let text = self.read_private("tokens", &format!("{key}.json"))?;
        decode(std::str::from_utf8(&text).ok()?, key)
    }

    fn save(&self, key: &str, entry: &Entry) -> anyhow::Result<()> {
        self.write_private(
            "tokens",
            &format!("{key}.json"),
            encode(key, entry).as_bytes(),
        )
    }

    /// The file `name` in the sub-folder `folder`, read with the cache's
    /// checks: the folder private to this user and not a symlink, the file a
    /// regular private file (not followed if a symlink, not blocked on if a
    /// FIFO), at most 64 KiB. `None` when any check fails.
    pub fn read_private(&self, folder: &str, name: &str) -> Option<Zeroizing<Vec<u8>>> {
        let dir = files::open_dir(&self.dir.join(folder), false).ok()?;
        let file = files::open_entry(&dir, name).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES || !private(&meta) {
            return None;
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Writes `bytes` as the file `name` in the sub-folder `folder`
    /// (created 0700), atomically: a new 0600 file, then a rename.
    pub fn write_private(&self, folder: &str, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.dir.join(folder);
        let dir = files::open_dir(&path, true).map_err(|e| not_private(&path, &e))?;
        let tmp = format!(".{name}.{}.tmp", std::process::id());
        let write = || -> std::io::Result<()> {
            let mut f = files::create_new(&dir, &tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            files::rename(&dir, &tmp, name)
        };
        write().map_err(|e| {
            let _ = files::remove(&dir, &tmp);
            anyhow::anyhow!("cannot write the cache in {}: {e}", path.display())
        })
    }

    /// Removes the file `name` in the sub-folder `folder`: `Ok(true)` when
    /// it was there and is gone, `Ok(false)` when it was not there, an error
    /// when it is still there (or may be). The folder is opened without
    /// following a symlink but also when it is no longer private: a file
    /// that must go (a spent login) goes even from a folder whose mode was
    /// changed, which is when it can no longer be replaced.
    pub fn remove_private(&self, folder: &str, name: &str) -> anyhow::Result<bool> {
        let path = self.dir.join(folder);
        let removed = files::open_dir_to_remove(&path).and_then(|dir| files::remove(&dir, name));
        match removed {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(anyhow::anyhow!(
                "cannot remove {}: {e}",
                path.join(name).display()
            )),
        }
    }

    /// Takes the single-flight lock for `key`, waiting at most `wait`. `None`
    /// when it could not be had in time, or the lock file is not a regular
    /// file of a private folder (the caller goes on without it).
    pub fn lock(&self, key: &str, wait: Duration) -> Option<File> {
        let timer = crate::trace::Timer::start();
        let lock = self.lock_inner(key, wait);
        crate::trace::debug(|| {
            format!(
                "single flight: lock {} in {}",
                if lock.is_some() { "taken" } else { "NOT taken" },
                timer.ms()
            )
        });
        lock
    }

    fn lock_inner(&self, key: &str, wait: Duration) -> Option<File> {
        let dir = files::open_dir(&self.dir.join("locks"), true).ok()?;
        let file = files::open_lock(&dir, &format!("{key}.lock")).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
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

fn not_private(dir: &Path, e: &std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow::anyhow!(
            "{} is not private to this user (a symlink, or its owner or permissions); the token \
             cache is not written there. Remove it or fix it with `chmod 700`",
            dir.display()
        )
    } else {
        anyhow::anyhow!("cannot open {}: {e}", dir.display())
    }
}

#[cfg(unix)]
fn per_user(name: &str) -> String {
    format!("{name}-{}", rustix::process::getuid().as_raw())
}

#[cfg(not(unix))]
fn per_user(name: &str) -> String {
    name.to_owned()
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

/// File operations relative to an opened folder: on Unix nothing is reached
/// through a symlink and nothing blocks on a FIFO.
/// Where the cross-run cache keeps issued tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheMode {
    /// The keychain when there is one, else a private file.
    Auto,
    /// The OS keychain only.
    Keychain,
    /// A private file (0600) in the user's cache folder.
    File,
    /// No cross-run cache: every Cargo process exchanges anew.
    Off,
}

#[cfg(unix)]
mod files {
    use std::fs::{self, File};
    use std::io;
    use std::path::Path;

    use rustix::fs::{AtFlags, Mode, OFlags};

    /// The folder `path`, created (0700) first when `create`. Refused
    /// (`PermissionDenied`) when it is a symlink, not a folder, or not owned
    /// by this user and private.
    pub(super) fn open_dir(path: &Path, create: bool) -> io::Result<File> {
        if create {
            use std::os::unix::fs::DirBuilderExt as _;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)?;
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir = match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            // ELOOP: the last component is a symlink; ENOTDIR: not a folder.
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                return Err(io::ErrorKind::PermissionDenied.into());
            }
            Err(e) => return Err(e.into()),
        };
        let meta = dir.metadata()?;
        if !meta.is_dir() || !super::private(&meta) {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        Ok(dir)
    }

    /// An entry, for reading.
    pub(super) fn open_entry(dir: &File, name: &str) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(dir, name, flags, Mode::empty())?.into())
    }

    /// A new private file (0600); fails if anything is there already.
    pub(super) fn create_new(dir: &File, name: &str) -> io::Result<File> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(dir, name, flags, Mode::RUSR | Mode::WUSR)?.into())
    }

    /// A lock file, created (0600) if missing.
    pub(super) fn open_lock(dir: &File, name: &str) -> io::Result<File> {
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        Ok(rustix::fs::openat(dir, name, flags, Mode::RUSR | Mode::WUSR)?.into())
    }

    pub(super) fn rename(dir: &File, from: &str, to: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(dir, from, dir, to)?)
    }

    /// The folder `path` to remove an entry of: not through a symlink, but
    /// whoever owns it (an unlink there is refused by the system if not
    /// allowed).
    pub(super) fn open_dir_to_remove(path: &Path) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(File::from(fd)),
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                Err(io::ErrorKind::PermissionDenied.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn remove(dir: &File, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
    }
}

#[cfg(not(unix))]
mod files {
    use std::fs::{self, File};
    use std::io;
    use std::path::{Path, PathBuf};

    pub(super) fn open_dir(path: &Path, create: bool) -> io::Result<PathBuf> {
        if create {
            fs::create_dir_all(path)?;
        }
        let meta = fs::symlink_metadata(path)?;
        if !meta.is_dir() {
            return Err(io::ErrorKind::PermissionDenied.into());
        }
        Ok(path.to_path_buf())
    }

    pub(super) fn open_entry(dir: &Path, name: &str) -> io::Result<File> {
        File::open(dir.join(name))
    }

    pub(super) fn create_new(dir: &Path, name: &str) -> io::Result<File> {
        File::options()
            .write(true)
            .create_new(true)
            .open(dir.join(name))
    }

    pub(super) fn open_lock(dir: &Path, name: &str) -> io::Result<File> {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(name))
    }

    pub(super) fn rename(dir: &Path, from: &str, to: &str) -> io::Result<()> {
        fs::rename(dir.join(from), dir.join(to))
    }

    pub(super) fn open_dir_to_remove(path: &Path) -> io::Result<PathBuf> {
        open_dir(path, false)
    }

    pub(super) fn remove(dir: &Path, name: &str) -> io::Result<()> {
        fs::remove_file(dir.join(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_lock_folder_that_is_not_this_users_is_refused_saying_so() {
        // issue 16 F6: no quiet fall back to the cache folder's lock.
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join("cargo-credential-corp-1000");
        // An unusable runtime folder: the temporary folder's is used.
        let gone = Some(dir.path().join("run-gone").join("cargo-credential-corp"));
        let store = FileStore::user_locks_in(gone.clone(), temp.clone()).unwrap();
        assert_eq!(store.dir, temp);
        // Made first by someone else (here: open to others): refused.
        fs::set_permissions(&temp, fs::Permissions::from_mode(0o777)).unwrap();
        let e = FileStore::user_locks_in(gone, temp.clone()).unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains(&temp.display().to_string()) && e.contains("remove it"),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_user_lock_folder_is_used_only_when_private_and_not_a_symlink() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh");
        assert!(FileStore::user_locks_in(None, fresh.clone()).is_ok());
        let mode = fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(FileStore::user_locks_in(None, open).is_err());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(FileStore::user_locks_in(None, link).is_err());
    }

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
        let sound = format!(r#"{{"v":2,"key":"{k}","token":"t","obtained_at":1,"expires_at":2}}"#);
        fs::write(&file, &sound).unwrap();
        assert!(store.load(&k).is_some(), "{sound}");
        for bad in [
            String::new(),
            "{".into(),
            // The format before entries named their key.
            r#"{"v":1,"token":"t","obtained_at":1,"expires_at":2}"#.into(),
            sound.replace(r#""v":2"#, r#""v":3"#),
            sound.replace(r#""token":"t""#, r#""token":"a\nb""#),
            sound.replace(r#""obtained_at":1"#, r#""obtained_at":5"#),
            sound.replace(r#""expires_at":2"#, r#""expires_at":1"#),
            sound.replace(&k, &key(&["y"])),
            // A lifetime over a day.
            sound.replace(r#""expires_at":2"#, r#""expires_at":86402"#),
        ] {
            fs::write(&file, &bad).unwrap();
            assert!(store.load(&k).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_entry_is_refused_under_another_key_and_from_the_future() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::File(FileStore::at(dir.path().to_path_buf()));
        let (a, b) = (key(&["a"]), key(&["b"]));
        store.save(&a, &entry("tok-a", 1000, 1300)).unwrap();
        let tokens = dir.path().join("tokens");
        fs::copy(
            tokens.join(format!("{a}.json")),
            tokens.join(format!("{b}.json")),
        )
        .unwrap();
        assert!(
            store.load(&b, 1000).unwrap().is_none(),
            "copied to another key"
        );
        assert!(store.load(&a, 1000).unwrap().is_some());
        // Obtained up to a minute "later" than now: clock skew, accepted.
        assert!(store.load(&a, 940).unwrap().is_some());
        assert!(store.load(&a, 939).unwrap().is_none(), "from the future");
    }

    #[cfg(unix)]
    #[test]
    fn links_fifos_and_open_folders_are_not_trusted() {
        use std::os::unix::fs::{PermissionsExt as _, symlink};
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at(dir.path().join("c"));
        let (a, b) = (key(&["a"]), key(&["b"]));
        store.save(&a, &entry("tok-a", 10, 20)).unwrap();
        let tokens = dir.path().join("c/tokens");
        let b_file = tokens.join(format!("{b}.json"));

        symlink(tokens.join(format!("{a}.json")), &b_file).unwrap();
        assert!(store.load(&b).is_none(), "a symlinked entry");
        fs::remove_file(&b_file).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&b_file)
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        assert!(store.load(&b).is_none(), "a FIFO");
        assert!(start.elapsed() < Duration::from_secs(2));
        // Saving replaces whatever was planted.
        store.save(&b, &entry("tok-b", 10, 20)).unwrap();
        assert_eq!(store.load(&b).unwrap().token.expose(), "tok-b");

        fs::set_permissions(&tokens, fs::Permissions::from_mode(0o750)).unwrap();
        assert!(store.load(&a).is_none(), "a group-readable folder");
        let msg = store.save(&a, &entry("t", 10, 20)).unwrap_err().to_string();
        assert!(msg.contains("not private"), "{msg}");
        fs::set_permissions(&tokens, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(store.load(&a).is_some());

        let moved = dir.path().join("elsewhere");
        fs::rename(&tokens, &moved).unwrap();
        symlink(&moved, &tokens).unwrap();
        assert!(store.load(&a).is_none(), "a symlinked folder");
        assert!(store.save(&a, &entry("t", 10, 20)).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_lock_file_is_neither_followed_nor_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::at(dir.path().to_path_buf());
        drop(store.lock("k", Duration::from_secs(1)).unwrap());
        let lock = dir.path().join("locks/k.lock");
        let victim = dir.path().join("victim");
        fs::remove_file(&lock).unwrap();
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        assert!(store.lock("k", Duration::from_millis(50)).is_none());
        assert!(!victim.exists());
        fs::remove_file(&lock).unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&lock)
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        assert!(store.lock("k", Duration::from_millis(50)).is_none());
        assert!(start.elapsed() < Duration::from_secs(2));
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
