//! An advisory lock on a config file that `setup` or `migrate` edits, held
//! across read, edit and rename, so that two runs editing one file at once
//! both keep their edit.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// How long an edit waits for another `setup`/`migrate` editing the same
/// file.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// An advisory lock on a config file, held across read, edit and rename, so
/// that two `setup`/`migrate` runs editing one file at once both keep their
/// edit: a sibling lock file (`.NAME.lock` next to the file a symlink
/// points to), locked with [`fs::File::try_lock`] and removed on release.
/// Read the file (again) once it is held.
#[derive(Debug)]
pub struct EditLock {
    path: PathBuf,
    _file: fs::File,
}

impl EditLock {
    /// Waits (at most [`LOCK_WAIT`]) for the lock on `target`; its folder is
    /// created if needed.
    pub fn acquire(target: &Path) -> anyhow::Result<EditLock> {
        let real = match fs::symlink_metadata(target) {
            Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(target)
                .with_context(|| format!("cannot resolve the link {}", target.display()))?,
            _ => target.to_owned(),
        };
        let dir = match real.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "config".to_owned());
        let path = dir.join(format!(".{name}.lock"));
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let mut options = fs::OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                // A lock file a cloned repository committed as a symlink is
                // not followed (no empty file created where it points), and
                // a FIFO there does not block.
                options.mode(0o600).custom_flags(
                    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
                );
            }
            let file = options
                .open(&path)
                .with_context(|| format!("cannot create the lock file {}", path.display()))?;
            match file.try_lock() {
                Ok(()) if still_there(&file, &path) => {
                    return Ok(EditLock { path, _file: file });
                }
                // Its holder removed it before letting go: lock the new one.
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        bail!(
                            "another `setup` or `migrate` has been editing {} for {} s (lock \
                             file {}); nothing was changed. Run it again when that one is done",
                            target.display(),
                            LOCK_WAIT.as_secs(),
                            path.display()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        }
    }
}

impl Drop for EditLock {
    /// Removes the lock file while still holding it (a process waiting on
    /// it then sees it gone and creates a new one), then lets go.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether the locked `file` is still the one at `path`.
#[cfg(unix)]
fn still_there(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
        _ => false,
    }
}

/// Whether the locked `file` is still the one at `path` (Windows does not
/// remove a file another process has open).
#[cfg(not(unix))]
fn still_there(_file: &fs::File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_lock_file_planted_as_a_symlink_is_not_followed() {
        // review-16 N-c: `.cargo/.config.toml.lock` committed as a link.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config.toml");
        let pointed = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&pointed, dir.path().join(".config.toml.lock")).unwrap();
        assert!(EditLock::acquire(&target).is_err());
        assert!(
            !pointed.exists(),
            "a file was created where the link points"
        );
    }

    #[test]
    fn an_edit_lock_waits_for_the_one_held_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config.toml");
        let first = EditLock::acquire(&target).unwrap();
        let lock_file = dir.path().join(".config.toml.lock");
        assert!(lock_file.exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let target = target.clone();
            std::thread::spawn(move || {
                let second = EditLock::acquire(&target).unwrap();
                tx.send(()).unwrap();
                drop(second);
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "a second lock was had while the first was held"
        );
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
        assert!(!lock_file.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
