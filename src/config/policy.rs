//! The system-wide `[policy]`: what a platform team locks for every user
//! of the machine, and how it is applied to a registry's settings.

use serde::Deserialize;

use super::settings::{Serve, Settings, SourceKind};
use crate::cache::CacheMode;

/// The `[policy]` table of the system-wide file: what a platform team locks
/// for every user of the machine (the user's file and the provider's
/// arguments cannot loosen it).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// `serve`, whatever other layers say.
    pub serve: Option<Serve>,
    /// The only sources that may be used; others are dropped from every
    /// registry's `sources`.
    pub allowed_sources: Option<Vec<SourceKind>>,
    /// `"never"`: no SSO sign-in starts on this machine.
    pub interactive: Option<crate::sso::settings::Interactive>,
    /// `false`: no token or login in a file (SSO `store = "file"` and OIDC
    /// `cache = "file"`/`"auto"` fall back to the keychain only).
    pub file_store: Option<bool>,
    /// Issuers a registry may name for zero-config sign-in without the
    /// person confirming them at `cargo login`.
    pub trusted_issuers: Option<Vec<String>>,
    /// `false`: no client is registered (RFC 7591) at an identity provider
    /// a registry names; only `[issuers."…"]` tables name clients.
    pub dynamic_registration: Option<bool>,
}

impl Policy {
    /// Each setting as the stricter of `self` and `other` sets it: "listed"
    /// over "all", the sources both allow, "never" over "auto", no file
    /// store over one.
    pub(super) fn stricter(&self, other: &Policy) -> Policy {
        use crate::sso::settings::Interactive;
        Policy {
            serve: if self.serve == Some(Serve::Listed) || other.serve == Some(Serve::Listed) {
                Some(Serve::Listed)
            } else {
                self.serve.or(other.serve)
            },
            allowed_sources: match (&self.allowed_sources, &other.allowed_sources) {
                (Some(a), Some(b)) => Some(a.iter().filter(|s| b.contains(s)).copied().collect()),
                (a, b) => a.clone().or_else(|| b.clone()),
            },
            interactive: if self.interactive == Some(Interactive::Never)
                || other.interactive == Some(Interactive::Never)
            {
                Some(Interactive::Never)
            } else {
                self.interactive.or(other.interactive)
            },
            file_store: if self.file_store == Some(false) || other.file_store == Some(false) {
                Some(false)
            } else {
                self.file_store.or(other.file_store)
            },
            // Only what both trust.
            trusted_issuers: match (&self.trusted_issuers, &other.trusted_issuers) {
                (Some(a), Some(b)) => Some(a.iter().filter(|i| b.contains(i)).cloned().collect()),
                (a, b) => a.clone().or_else(|| b.clone()),
            },
            dynamic_registration: if self.dynamic_registration == Some(false)
                || other.dynamic_registration == Some(false)
            {
                Some(false)
            } else {
                self.dynamic_registration.or(other.dynamic_registration)
            },
        }
    }
}

impl Settings {
    /// Applies the system-wide policy (from `origin`), noting what it changed
    /// in [`Settings::locked`].
    pub(super) fn apply(&mut self, policy: &Policy, origin: &str) {
        if let Some(allowed) = &policy.allowed_sources {
            let before = self.sources.len();
            self.sources.retain(|s| allowed.contains(s));
            if self.sources.len() != before {
                self.locked.push(format!(
                    "sources limited to {} by [policy] in {origin}",
                    allowed
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        self.discovery.trusted = policy.trusted_issuers.clone().unwrap_or_default();
        if policy
            .allowed_sources
            .as_ref()
            .is_some_and(|a| !a.contains(&SourceKind::Sso))
        {
            self.discovery.enabled = false;
        }
        if policy.interactive == Some(crate::sso::settings::Interactive::Never) {
            self.discovery.never = true;
        }
        if policy.dynamic_registration == Some(false) {
            self.discovery.registration = false;
        }
        if let Some(sso) = &mut self.sso {
            use crate::sso::settings::{GrantStore, Interactive};
            if policy.interactive == Some(Interactive::Never) {
                sso.interactive = Interactive::Never;
                self.locked.push(format!(
                    "SSO sign-ins forbidden (interactive = \"never\") by [policy] in {origin}"
                ));
            }
            if policy.file_store == Some(false) && sso.store == GrantStore::File {
                sso.store = GrantStore::Keychain;
                self.locked.push(format!(
                    "the SSO login kept in the keychain only (file-store = false) by [policy] in {origin}"
                ));
            }
        }
        if let Some(oidc) = &mut self.oidc
            && policy.file_store == Some(false)
            && matches!(oidc.cache, CacheMode::File | CacheMode::Auto)
        {
            oidc.cache = CacheMode::Keychain;
            self.locked.push(format!(
                "the token cache kept in the keychain only (file-store = false) by [policy] in {origin}"
            ));
        }
    }
}
