//! A family of grants: each is one [`Family`]; [`super::family_of`], the
//! one place where the grant is chosen, says which family serves a table's
//! `grant`.
//!
//! - [`super::OAuth`]: a POST to a token endpoint, as a form (RFC 8693 token
//!   exchange, RFC 7523 JWT bearer, client credentials, Entra's workload
//!   identity) or as a registry's own JSON (JFrog Artifactory, Cloudsmith);
//! - crates.io trusted publishing ([`super::crates_io`]): publish-class
//!   operations only, a placeholder for reads, revocation at logout;
//! - AWS CodeArtifact ([`super::codeartifact`]): SigV4-signed, from AWS
//!   credentials.

use super::settings::OidcSettings;
use crate::mint::{Context, Obtained};
use crate::protocol::OperationClass;
use crate::registry::Registry;
use crate::secret::Token;

/// How one family of grants gets a registry token.
pub(crate) trait Family: Sync {
    /// A token for `registry`, or `Ok(None)` when this environment has
    /// nothing to exchange (so the next source is tried).
    fn get(
        &self,
        settings: &OidcSettings,
        registry: &Registry<'_>,
        class: OperationClass,
        cx: &Context<'_>,
    ) -> anyhow::Result<Option<Obtained>>;

    /// `cargo logout`: `Some` when the family revokes the tokens it minted
    /// (whether any was), `None` when its tokens simply expire.
    fn logout(
        &self,
        _settings: &OidcSettings,
        _registry: &Registry<'_>,
        _cx: &Context<'_>,
    ) -> Option<anyhow::Result<bool>> {
        None
    }

    /// Whether `token` stands in for a token that is not needed (and must
    /// not hide a real one from a later source).
    fn is_placeholder(&self, _token: &Token) -> bool {
        false
    }
}
