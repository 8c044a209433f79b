//! What a zero-config sign-in may use, from the config: the
//! `[issuers."…"]` tables (the client at an IdP, and the registries it
//! signs in for without a question), the policy's say ([`Discovery`]), and
//! how registries and IdPs are named in messages (their hosts).
//! The sign-in itself is [`super::discover`].

use super::settings::Flow;
use crate::oauth::resource;
use crate::registry::Registry;

/// An `[issuers."https://…"]` table: the client to use at that IdP, for
/// every registry that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerTable {
    /// The issuer URL (the table's name), exactly.
    pub issuer: String,
    /// The public client's id.
    pub client_id: String,
    /// The login flow, if set.
    pub flow: Option<Flow>,
    /// The scope asked for, if set (instead of the registry's).
    pub scope: Option<String>,
    /// RFC 8707 `resource` asked for, if set (instead of the registry's).
    pub resource: Option<String>,
    /// The registries this IdP signs in for without a question at the
    /// first `cargo login`: index URLs or origins (`registries = [...]`).
    pub registries: Vec<String>,
}

impl IssuerTable {
    /// Whether the table lists the registry at `index` (an entry is its
    /// origin, or a path prefix of it segment by segment).
    pub fn serves(&self, index: &str) -> bool {
        let Ok(index) = resource::index_url(index) else {
            return false;
        };
        self.registries
            .iter()
            .filter_map(|r| registry_prefix(r).ok())
            .any(|prefix| resource::under(&index, &prefix))
    }
}

/// An issuer table's `registries` entry as a URL: an index URL (Cargo's
/// `sparse+` prefix allowed) or an origin; https, or http to loopback.
pub fn registry_prefix(entry: &str) -> anyhow::Result<reqwest::Url> {
    resource::index_url(entry)
}

/// What discovery may use, from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Whether discovery applies: a registry Cargo names (not crates.io),
    /// no `sso` table, no table's own `sources`, and a policy that allows
    /// the `sso` source.
    pub enabled: bool,
    /// The `[issuers."…"]` tables.
    pub issuers: Vec<IssuerTable>,
    /// The system policy's `trusted-issuers`.
    pub trusted: Vec<String>,
    /// `interactive = "never"` by the policy: no sign-in starts.
    pub never: bool,
    /// `ca-file` settings.
    pub ca_files: Vec<std::path::PathBuf>,
    /// Whether a client may be registered (RFC 7591) at an issuer no table
    /// names a client for: the system policy's `dynamic-registration`
    /// (default `true`).
    pub registration: bool,
}

/// The registry's host (and port), for messages.
pub fn registry_host(registry: &Registry<'_>) -> String {
    host_of(
        registry
            .index_url
            .strip_prefix("sparse+")
            .unwrap_or(registry.index_url),
    )
}

/// The registry's origin, as an issuer table's `registries` entry.
pub(super) fn registry_origin(registry: &Registry<'_>) -> String {
    resource::index_url(registry.index_url).map_or_else(
        |_| "https://<the registry's host>".to_owned(),
        |u| u.origin().ascii_serialization(),
    )
}

/// The host of a URL, for messages.
pub fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        })
        .unwrap_or_else(|| "(unparsable URL)".to_owned())
}
