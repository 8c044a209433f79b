//! The platform keychain through `keyring-core` and the per-platform stores:
//! Secret Service on Linux and the BSDs, Keychain on macOS, Credential
//! Manager on Windows.
//!
//! Items of Cargo's built-in providers that are read (and removed on logout):
//! - `cargo:libsecret`: attributes `xdg:schema=org.rust-lang.cargo.registry`,
//!   `url=<index-url>`;
//! - `cargo:wincred`: generic credential `cargo-registry:<index-url>`.
//!
//! `cargo:macos-keychain` items (empty account name) cannot be addressed
//! through `keyring-core`, which treats an empty account as a wildcard.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use super::{Keychain, KeychainError, USER, deadline, service_name};
use crate::secret::Token;

/// The OS keychain of this machine. Cheap to create: nothing is opened until
/// a call is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeychain;

impl Keychain for OsKeychain {
    fn read(&self, index_url: &str, timeout: Duration) -> Result<Option<Token>, KeychainError> {
        let url = index_url.to_owned();
        let what = format!("reading the token for {index_url}");
        deadline::run(timeout, &what, move || {
            let store = open_store()?;
            let secret = match own_entry(&store, &url, None)?.get_password() {
                Ok(secret) => Some(secret),
                Err(keyring_core::Error::NoEntry) => legacy::read(&store, &url)?,
                Err(e) => return Err(e.into()),
            };
            match secret {
                Some(secret) => Token::parse(secret, &format!("the OS keychain item for {url}"))
                    .map_err(|e| KeychainError::new(e.to_string())),
                None => Ok(None),
            }
        })
    }

    fn store(
        &self,
        index_url: &str,
        label: &str,
        token: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError> {
        let url = index_url.to_owned();
        let label = label.to_owned();
        let token = token.clone();
        let what = format!("storing the token for {index_url}");
        deadline::run(timeout, &what, move || {
            let store = open_store()?;
            own_entry(&store, &url, Some(&label))?.set_password(token.expose())?;
            Ok(())
        })
    }

    fn remove(&self, index_url: &str, timeout: Duration) -> Result<bool, KeychainError> {
        let url = index_url.to_owned();
        let what = format!("removing the token for {index_url}");
        deadline::run(timeout, &what, move || {
            let store = open_store()?;
            let own = match own_entry(&store, &url, None)?.delete_credential() {
                Ok(()) => true,
                Err(keyring_core::Error::NoEntry) => false,
                Err(e) => return Err(e.into()),
            };
            let legacy = legacy::remove(&store, &url)?;
            Ok(own || legacy)
        })
    }

    fn read_item(&self, service: &str, timeout: Duration) -> Result<Option<Token>, KeychainError> {
        let service = service.to_owned();
        let what = format!("reading the keychain item {service}");
        deadline::run(timeout, &what, move || {
            let store = open_store()?;
            match item_entry(&store, &service, None)?.get_password() {
                Ok(secret) => Token::parse(secret, &format!("the keychain item {service}"))
                    .map_err(|e| KeychainError::new(e.to_string())),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn store_item(
        &self,
        service: &str,
        label: &str,
        secret: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError> {
        let (service, label, secret) = (service.to_owned(), label.to_owned(), secret.clone());
        let what = format!("storing the keychain item {service}");
        deadline::run(timeout, &what, move || {
            let store = open_store()?;
            item_entry(&store, &service, Some(&label))?.set_password(secret.expose())?;
            Ok(())
        })
    }

    fn remove_item(&self, service: &str, timeout: Duration) -> Result<bool, KeychainError> {
        let service = service.to_owned();
        let what = format!("removing the keychain item {service}");
        deadline::run(timeout, &what, move || {
            let store = open_store()?;
            match item_entry(&store, &service, None)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
    }
}

fn own_entry(
    store: &Arc<CredentialStore>,
    index_url: &str,
    label: Option<&str>,
) -> Result<Entry, KeychainError> {
    item_entry(store, &service_name(index_url), label)
}

fn item_entry(
    store: &Arc<CredentialStore>,
    service: &str,
    label: Option<&str>,
) -> Result<Entry, KeychainError> {
    let mut modifiers = HashMap::new();
    if let Some(label) = label
        && cfg!(any(
            target_os = "linux",
            target_os = "freebsd",
            target_os = "openbsd"
        ))
    {
        modifiers.insert("label", label);
    }
    Ok(Entry::new_in_store_with_modifiers(
        store, service, USER, &modifiers,
    )?)
}

#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
fn open_store() -> Result<Arc<CredentialStore>, KeychainError> {
    let store: Arc<CredentialStore> =
        zbus_secret_service_keyring_store::Store::new().map_err(|e| {
            KeychainError::unavailable(format!(
                "cannot reach the Secret Service (gnome-keyring, KWallet, KeePassXC) on the \
                 D-Bus session bus: {}",
                KeychainError::from_keyring(&e)
            ))
        })?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn open_store() -> Result<Arc<CredentialStore>, KeychainError> {
    let store: Arc<CredentialStore> = apple_native_keyring_store::keychain::Store::new()?;
    Ok(store)
}

#[cfg(windows)]
fn open_store() -> Result<Arc<CredentialStore>, KeychainError> {
    let store: Arc<CredentialStore> = windows_native_keyring_store::Store::new()?;
    Ok(store)
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "macos",
    windows
)))]
fn open_store() -> Result<Arc<CredentialStore>, KeychainError> {
    Err(KeychainError::unavailable(
        "this platform has no OS keychain support; use the \"env\" source",
    ))
}

/// Items written by Cargo's built-in keychain providers.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
mod legacy {
    use super::*;

    fn find(store: &Arc<CredentialStore>, url: &str) -> Result<Vec<Entry>, KeychainError> {
        let spec = HashMap::from([("xdg:schema", "org.rust-lang.cargo.registry"), ("url", url)]);
        Ok(store.search(&spec)?)
    }

    pub(super) fn read(
        store: &Arc<CredentialStore>,
        url: &str,
    ) -> Result<Option<String>, KeychainError> {
        match find(store, url)?.first() {
            Some(entry) => Ok(Some(entry.get_password()?)),
            None => Ok(None),
        }
    }

    pub(super) fn remove(store: &Arc<CredentialStore>, url: &str) -> Result<bool, KeychainError> {
        let entries = find(store, url)?;
        for entry in &entries {
            entry.delete_credential()?;
        }
        Ok(!entries.is_empty())
    }
}

#[cfg(windows)]
mod legacy {
    use super::*;

    fn entry(store: &Arc<CredentialStore>, url: &str) -> Result<Entry, KeychainError> {
        let target = service_name(url);
        let modifiers = HashMap::from([("target", target.as_str())]);
        Ok(Entry::new_in_store_with_modifiers(
            store,
            "cargo-registry",
            url,
            &modifiers,
        )?)
    }

    pub(super) fn read(
        store: &Arc<CredentialStore>,
        url: &str,
    ) -> Result<Option<String>, KeychainError> {
        match entry(store, url)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn remove(store: &Arc<CredentialStore>, url: &str) -> Result<bool, KeychainError> {
        match entry(store, url)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "openbsd",
    windows
)))]
mod legacy {
    use super::*;

    pub(super) fn read(
        _store: &Arc<CredentialStore>,
        _url: &str,
    ) -> Result<Option<String>, KeychainError> {
        Ok(None)
    }

    pub(super) fn remove(_store: &Arc<CredentialStore>, _url: &str) -> Result<bool, KeychainError> {
        Ok(false)
    }
}
