//! A token file: `identity-file`, else `AWS_WEB_IDENTITY_TOKEN_FILE`
//! (Kubernetes projected service account tokens, EKS IRSA and other AWS web
//! identity setups). Re-read on every use, since the kubelet rotates
//! projected tokens; keyed on the token itself.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use zeroize::Zeroizing;

use super::{CiSystem, Identity, ready, var};
use crate::env::Environment;
use crate::oidc::settings::{IdentityKind, OidcSettings};

/// `identity = "file"`.
pub(super) struct File;

impl CiSystem for File {
    fn kind(&self) -> IdentityKind {
        IdentityKind::File
    }

    fn detect(&self, settings: &OidcSettings, env: &dyn Environment) -> bool {
        settings.identity_file.is_some() || var(env, "AWS_WEB_IDENTITY_TOKEN_FILE").is_some()
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let path: PathBuf = match &settings.identity_file {
            Some(p) => p.clone(),
            None => var(env, "AWS_WEB_IDENTITY_TOKEN_FILE")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    anyhow!(
                        "identity \"file\" needs `identity-file` (or AWS_WEB_IDENTITY_TOKEN_FILE)"
                    )
                })?,
        };
        // Re-read on every use: the kubelet rotates projected tokens.
        let text = read_identity_file(&path)?;
        ready(
            self.kind(),
            text.trim_end_matches(['\n', '\r']).to_owned(),
            &format!("file {}", path.display()),
        )
    }
}

/// The largest identity file read.
const MAX_IDENTITY_FILE: u64 = 64 * 1024;

/// Reads an identity file without ever blocking: opened non-blocking (a
/// FIFO is refused, not waited on), following symlinks (Kubernetes projected
/// tokens are symlinks into `..data`) but only to a regular file, and at
/// most 64 KiB.
fn read_identity_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    use crate::fs::{Owner, ReadError};
    let bytes = crate::fs::read(path, MAX_IDENTITY_FILE, Owner::Anyone).map_err(|e| match e {
        ReadError::NotRegular => anyhow::anyhow!(
            "the identity token file {} is not a regular file; it was not read",
            path.display()
        ),
        ReadError::TooLarge(_) => anyhow::anyhow!(
            "the identity token file {} is larger than {} KiB; it was not read",
            path.display(),
            MAX_IDENTITY_FILE / 1024
        ),
        e => anyhow::Error::new(e).context(format!(
            "cannot read the identity token file {}",
            path.display()
        )),
    })?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => bail!(
            "cannot read the identity token file {}: it is not valid UTF-8",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::locate;
    use super::super::test_util::{env, runner, settings};
    use super::*;
    use crate::net::http::Http;

    #[test]
    fn a_token_file_is_read_fresh_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "jwt-one\n").unwrap();
        let s = settings(&format!(
            "identity = \"file\"\nidentity-file = {:?}\n",
            path
        ));
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let run = runner(Duration::from_secs(1));
        let one = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(one.fetch(&http, &run).unwrap().expose(), "jwt-one");
        std::fs::write(&path, "jwt-two").unwrap();
        let two = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(two.fetch(&http, &run).unwrap().expose(), "jwt-two");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_must_be_a_regular_file_of_bounded_size() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let s = |p: &Path| settings(&format!("identity = \"file\"\nidentity-file = {p:?}\n"));
        let start = std::time::Instant::now();
        let msg = locate(&s(&fifo), &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("not a regular file"), "{msg}");
        assert!(start.elapsed() < Duration::from_secs(2));
        let msg = locate(&s(dir.path()), &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("not a regular file"), "{msg}");
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(70 * 1024)).unwrap();
        let msg = locate(&s(&big), &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("larger than 64 KiB"), "{msg}");
        // A symlink to a regular file (Kubernetes' `..data`) is fine.
        let real = dir.path().join("real");
        std::fs::write(&real, "jwt-linked").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let id = locate(&s(&link), &env(&[])).unwrap().unwrap();
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let run = runner(Duration::from_secs(1));
        assert_eq!(id.fetch(&http, &run).unwrap().expose(), "jwt-linked");
    }
}
