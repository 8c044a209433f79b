//! Where a developer's SSO grant (the refresh token) is kept: the OS
//! keychain, or, only when the `sso` table says `store = "file"`, a private
//! file for machines without one. Never anywhere else: a keychain that
//! fails is an error, not a reason to write a file.
//!
//! One item per registry index URL, IdP and client:
//! `cargo-credential-corp-sso:<index-url>|<client-id>@<issuer>`, holding a
//! small JSON record (the refresh token, the account name shown in
//! messages, when it was stored).

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::records::Records;
use super::settings::{GrantStore, SsoSettings};
use crate::cache::FileStore;
use crate::keychain::Keychain;
use crate::registry::Registry;
use crate::secret::Token;

const PREFIX: &str = "cargo-credential-corp-sso:";
const FOLDER: &str = "sso";
const FORMAT: u32 = 1;

/// A stored grant.
#[derive(Debug)]
pub struct StoredLogin {
    /// The refresh token.
    pub refresh_token: Token,
    /// Who signed in (from the ID token), for messages.
    pub account: Option<String>,
    /// The ID token's `sub`: tells a second sign-in of the same account
    /// from one of another.
    pub subject: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    refresh_token: String,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    stored_at: i64,
}

/// The name of the keychain item that holds `registry`'s login (also what
/// the login's file, lock and records are named from).
pub fn item(settings: &SsoSettings, registry: &Registry<'_>) -> String {
    format!(
        "{PREFIX}{}|{}@{}",
        registry.index_url,
        settings.client_id,
        settings.idp_id()
    )
}

/// The grant store of one registry.
pub struct Grants<'a> {
    settings: &'a SsoSettings,
    keychain: &'a dyn Keychain,
    timeout: Duration,
    files: Option<FileStore>,
    item: String,
    /// The login's lock name, which its records are named by.
    lock_key: String,
}

impl<'a> Grants<'a> {
    /// The store for `registry` under `settings`.
    pub fn new(
        settings: &'a SsoSettings,
        registry: &Registry<'_>,
        keychain: &'a dyn Keychain,
        timeout: Duration,
        files: Option<FileStore>,
    ) -> Self {
        let item = item(settings, registry);
        let lock_key = super::grant_key(settings, registry, files.as_ref());
        Grants {
            settings,
            keychain,
            timeout,
            files,
            item,
            lock_key,
        }
    }

    /// Where grants are kept, for messages.
    pub fn describe(&self) -> String {
        match self.settings.store {
            GrantStore::Keychain => "the OS keychain".to_owned(),
            GrantStore::File => format!(
                "a private file in {} (store = \"file\": anyone who can read your files can use \
                 it)",
                self.files
                    .as_ref()
                    .map(|f| f.folder(FOLDER).display().to_string())
                    .unwrap_or_else(|| "the cache folder".to_owned())
            ),
        }
    }

    /// What is remembered about this login ([`Records`]): beside its lock
    /// in this user's lock folder, and in the cache folder.
    pub fn records(&self) -> Records {
        let places = FileStore::user_locks().ok().into_iter();
        Records::new(places.chain(self.files.clone()).collect(), &self.lock_key)
    }

    fn file_name(&self) -> String {
        format!("{}.json", crate::cache::key(&[&self.item]))
    }

    fn files(&self) -> anyhow::Result<&FileStore> {
        self.files
            .as_ref()
            .ok_or_else(|| anyhow!("this system has no user cache folder for `store = \"file\"`"))
    }

    /// The stored grant, if any. A record that cannot be read is `None`.
    pub fn load(&self) -> anyhow::Result<Option<StoredLogin>> {
        Ok(self.load_dated()?.map(|(grant, _)| grant))
    }

    /// The stored grant and when it was stored (Unix seconds): the sign-in,
    /// or the last refresh that rotated its refresh token.
    pub fn load_dated(&self) -> anyhow::Result<Option<(StoredLogin, i64)>> {
        let text: Option<Zeroizing<String>> = match self.settings.store {
            GrantStore::Keychain => match self.keychain.read_item(&self.item, self.timeout) {
                Ok(item) => item.map(|t| Zeroizing::new(t.expose().to_owned())),
                // No keychain on this machine: nobody signed in here.
                Err(e) if e.is_unavailable() => None,
                Err(e) => {
                    return Err(anyhow!(e)).with_context(|| {
                        format!("could not read the SSO login from {}", self.describe())
                    });
                }
            },
            GrantStore::File => self
                .files()?
                .read_private(FOLDER, &self.file_name())
                .and_then(|b| String::from_utf8(b.to_vec()).ok())
                .map(Zeroizing::new),
        };
        Ok(text.and_then(|t| decode(&t)))
    }

    /// Stores `grant`, replacing the one before.
    pub fn save(&self, grant: &StoredLogin, now: i64, label: &str) -> anyhow::Result<()> {
        let stored = Stored {
            v: FORMAT,
            refresh_token: grant.refresh_token.expose().to_owned(),
            account: grant.account.clone(),
            subject: grant.subject.clone(),
            stored_at: now,
        };
        let text = Zeroizing::new(serde_json::to_string(&stored).expect("plain struct"));
        let mut rt = stored.refresh_token;
        zeroize::Zeroize::zeroize(&mut rt);
        let saved = match self.settings.store {
            GrantStore::Keychain => self
                .keychain
                .store_item(
                    &self.item,
                    label,
                    &Token::new(text.to_string()),
                    self.timeout,
                )
                .map_err(|e| anyhow!(e))
                .with_context(|| {
                    "could not store the SSO login in the OS keychain (nothing was written \
                     anywhere else; on a machine without a keychain, see `store` in docs/sso.md)"
                        .to_owned()
                }),
            GrantStore::File => {
                self.files()?
                    .write_private(FOLDER, &self.file_name(), text.as_bytes())
            }
        };
        if saved.is_ok() {
            self.records().clear();
        }
        saved
    }

    /// Removes the stored grant. `Ok(true)` when there was one.
    pub fn remove(&self) -> anyhow::Result<bool> {
        let removed = self.remove_inner();
        if removed.is_ok() {
            self.records().clear();
        }
        removed
    }

    fn remove_inner(&self) -> anyhow::Result<bool> {
        match self.settings.store {
            GrantStore::Keychain => match self.keychain.remove_item(&self.item, self.timeout) {
                Ok(removed) => Ok(removed),
                // No keychain on this machine: nothing to remove.
                Err(e) if e.is_unavailable() => Ok(false),
                Err(e) => {
                    Err(anyhow!(e)).context("could not remove the SSO login from the OS keychain")
                }
            },
            // Whether the file is gone, truly: a login said to be removed
            // is never sent again, so a failed unlink is an error.
            GrantStore::File => self
                .files()?
                .remove_private(FOLDER, &self.file_name())
                .context("could not remove the SSO login's file"),
        }
    }
}

fn decode(text: &str) -> Option<(StoredLogin, i64)> {
    let stored: Stored = serde_json::from_str(text).ok()?;
    let stored_at = stored.stored_at;
    if stored.v != FORMAT {
        let mut rt = stored.refresh_token;
        zeroize::Zeroize::zeroize(&mut rt);
        return None;
    }
    let refresh_token = Token::parse(stored.refresh_token, "the stored SSO login").ok()??;
    Some((
        StoredLogin {
            refresh_token,
            account: stored.account,
            subject: stored.subject,
        },
        stored_at,
    ))
}
