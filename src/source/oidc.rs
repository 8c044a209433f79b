//! The `oidc` source: a short-lived token from the `[registries.NAME.oidc]`
//! exchange of a CI identity (the exchange itself is in [`crate::oidc`]).

use anyhow::anyhow;

use super::{Found, Lifetime, Lookup, Request, Source};

/// The OIDC exchange source.
#[derive(Debug, Clone, Copy)]
pub struct Oidc;

impl Source for Oidc {
    fn get(&self, request: &Request<'_>) -> anyhow::Result<Lookup> {
        let settings = request.settings;
        let registry = request.registry;
        let Some(oidc) = &settings.oidc else {
            if !settings.oidc_listed {
                // `"oidc"` among the default sources, and no `oidc` table
                // for this registry: skipped; an exchange is never made for
                // a registry nobody configured one for (docs/security.md).
                return Ok(Lookup::NONE);
            }
            return Err(anyhow!(
                "the sources for {} list \"oidc\" but no [registries.NAME.oidc] table applies \
                 ({}); add one (see docs/oidc.md)",
                registry.display_name(),
                request.where_configured()
            ));
        };
        let obtained = crate::oidc::get(oidc, registry, request.operation, &request.context())
            .map_err(|e| {
                e.context(format!(
                    "could not get a short-lived token for {} from the OIDC exchange",
                    registry.display_name()
                ))
            })?;
        Ok(match obtained {
            Some(o) => {
                let found = Found {
                    token: o.token,
                    lifetime: Lifetime::short(o.expires_at),
                    operation_independent: !oidc.operation_dependent(),
                };
                if crate::oidc::is_placeholder(oidc, &found.token) {
                    Lookup::Fallback(found)
                } else {
                    Lookup::Found(found)
                }
            }
            None => Lookup::NONE,
        })
    }

    /// `cargo logout`: crates.io trusted publishing tokens this provider
    /// minted are revoked (the other exchanges' tokens simply expire).
    fn logout(&self, request: &Request<'_>) -> Option<anyhow::Result<bool>> {
        let oidc = request.settings.oidc.as_ref()?;
        crate::oidc::logout(oidc, request.registry, &request.context())
    }
}
