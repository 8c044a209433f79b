//! Reading the small files the provider trusts (its config files, Cargo's,
//! CA files, identity token files, the AWS credentials file): one reader,
//! so that each of them gets the same guards.
//!
//! - Opened without blocking: a FIFO planted at such a path must not hang
//!   the provider (and Cargo) before it is refused as "not a regular file".
//! - A regular file only, and at most `max` bytes: a file that grows past
//!   the limit is refused, never cut short.
//! - With [`Owner::SelfOrRoot`], on Unix: owned by this user or root and not
//!   writable by group or others, for a file that decides where tokens go
//!   or which servers are trusted.
//! - The bytes come back in a [`Zeroizing`] buffer: some of these files
//!   hold secrets.
//!
//! The caller words the error: [`ReadError`] says what was wrong, the
//! caller says which file it was and why that matters.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use zeroize::Zeroizing;

/// Who must own a file for it to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Anyone.
    Anyone,
    /// This user or root, and not writable by group or others (Unix; no
    /// check elsewhere).
    SelfOrRoot,
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// It does not exist.
    NotFound,
    /// It could not be opened or read.
    Io(std::io::Error),
    /// It is not a regular file (a folder, a FIFO, a device).
    NotRegular,
    /// It is larger than the limit given.
    TooLarge(u64),
    /// It is owned by another user (this uid), not by this user or root.
    ForeignOwner(u32),
    /// Group or others may write to it (these permission bits).
    Writable(u32),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("does not exist"),
            ReadError::Io(e) => write!(f, "cannot be read ({e})"),
            ReadError::NotRegular => f.write_str("is not a regular file"),
            ReadError::TooLarge(max) => write!(f, "is larger than {max} bytes"),
            ReadError::ForeignOwner(uid) => write!(f, "is owned by another user (uid {uid})"),
            ReadError::Writable(mode) => write!(f, "is writable by other users (mode {mode:o})"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The bytes of the regular file `path`, at most `max` of them, if `owner`
/// may have written it.
pub fn read(path: &Path, max: u64, owner: Owner) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let file = open_nonblocking(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if owner == Owner::SelfOrRoot {
        owned_safely(&meta)?;
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}

/// Opens `path` for reading without blocking (see the module's text).
pub fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    options.open(path)
}

#[cfg(unix)]
fn owned_safely(meta: &std::fs::Metadata) -> Result<(), ReadError> {
    use std::os::unix::fs::MetadataExt as _;
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(ReadError::ForeignOwner(meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(ReadError::Writable(meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn owned_safely(_: &std::fs::Metadata) -> Result<(), ReadError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_whole_within_its_limit_and_refused_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(&*read(&path, 5, Owner::Anyone).unwrap(), b"12345");
        assert!(matches!(
            read(&path, 4, Owner::Anyone),
            Err(ReadError::TooLarge(4))
        ));
        assert!(matches!(
            read(&dir.path().join("none"), 5, Owner::Anyone),
            Err(ReadError::NotFound)
        ));
        assert!(matches!(
            read(dir.path(), 5, Owner::Anyone),
            Err(ReadError::NotRegular)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_and_a_writable_file_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
        assert!(matches!(
            read(&fifo, 5, Owner::Anyone),
            Err(ReadError::NotRegular)
        ));
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(read(&path, 5, Owner::Anyone).is_ok());
        assert!(matches!(
            read(&path, 5, Owner::SelfOrRoot),
            Err(ReadError::Writable(0o664))
        ));
    }
}
