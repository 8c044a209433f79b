//! Where a table's token endpoint is: configured (`token-endpoint`), or
//! found by OpenID discovery of its `issuer` ([`crate::oauth::discovery`]).

use super::settings::{Endpoint, OidcSettings};
use crate::cache::FileStore;
use crate::net::http::Http;
use crate::oauth::discovery::{self, EndpointOrigin, metadata};

/// The token endpoint for `settings`: configured, cached, or discovered now
/// (and cached in `files` when given).
pub fn token_endpoint(
    http: &Http,
    settings: &OidcSettings,
    files: Option<&FileStore>,
    now: i64,
) -> anyhow::Result<(String, EndpointOrigin)> {
    let issuer = match &settings.endpoint {
        Endpoint::Token(url) => return Ok((url.clone(), EndpointOrigin::Configured)),
        Endpoint::Discover(issuer) => issuer,
    };
    metadata(http, issuer, files, now).map(|(m, source)| (m.token_endpoint, source))
}

/// Drops the cached document of `settings`' issuer, if any.
pub fn forget(settings: &OidcSettings, files: Option<&FileStore>) {
    if let Endpoint::Discover(issuer) = &settings.endpoint {
        discovery::forget_issuer(issuer, files);
    }
}
