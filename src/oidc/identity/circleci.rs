//! CircleCI: jobs that use a context get an ID token in
//! `CIRCLE_OIDC_TOKEN_V2` (else the older `CIRCLE_OIDC_TOKEN`). Keyed on the
//! token itself.

use anyhow::anyhow;

use super::{CiSystem, Identity, ready, var};
use crate::env::Environment;
use crate::oidc::settings::{IdentityKind, OidcSettings};

/// CircleCI.
pub(super) struct Circleci;

impl CiSystem for Circleci {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Circleci
    }

    fn detect(&self, _: &OidcSettings, env: &dyn Environment) -> bool {
        var(env, "CIRCLECI").is_some()
    }

    fn locate(&self, _: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let (name, value) = ["CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN"]
            .into_iter()
            .find_map(|n| var(env, n).map(|v| (n, v)))
            .ok_or_else(|| {
                anyhow!(
                    "CircleCI gives this job no OIDC token (CIRCLE_OIDC_TOKEN_V2 is unset); \
                     it needs a context or project with OIDC enabled"
                )
            })?;
        ready(self.kind(), value, &format!("environment variable {name}"))
    }
}
