//! Bitbucket Pipelines: a step with `oidc: true` gets an ID token in
//! `BITBUCKET_STEP_OIDC_TOKEN`. Its audience is fixed by Bitbucket per
//! workspace (`ari:cloud:bitbucket::workspace/<uuid>`), so
//! `identity-audience` does not apply. Keyed on the token itself.

use anyhow::anyhow;

use super::{CiSystem, Identity, ready, var};
use crate::env::Environment;
use crate::oidc::settings::{IdentityKind, OidcSettings};

/// The variable Bitbucket puts the step's ID token in.
const TOKEN_VAR: &str = "BITBUCKET_STEP_OIDC_TOKEN";

/// Bitbucket Pipelines.
pub(super) struct Bitbucket;

impl CiSystem for Bitbucket {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Bitbucket
    }

    fn detect(&self, _: &OidcSettings, env: &dyn Environment) -> bool {
        var(env, TOKEN_VAR).is_some()
    }

    fn locate(&self, _: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let value = var(env, TOKEN_VAR).ok_or_else(|| {
            anyhow!(
                "Bitbucket Pipelines gives this step no OIDC token: add `oidc: true` to the \
                 step in bitbucket-pipelines.yml ({TOKEN_VAR} is unset)"
            )
        })?;
        ready(
            self.kind(),
            value,
            &format!("environment variable {TOKEN_VAR}"),
        )
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
    fn the_step_token_is_the_identity() {
        let s = settings("");
        let id = locate(&s, &env(&[(TOKEN_VAR, "jwt-step-1")]))
            .unwrap()
            .unwrap();
        assert_eq!(id.kind, IdentityKind::Bitbucket);
        let other = locate(&s, &env(&[(TOKEN_VAR, "jwt-step-2")]))
            .unwrap()
            .unwrap();
        assert_ne!(id.fingerprint, other.fingerprint);
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let token = id.fetch(&http, &runner(Duration::from_secs(1))).unwrap();
        assert_eq!(token.expose(), "jwt-step-1");
    }

    #[test]
    fn a_step_without_oidc_is_told_what_to_add() {
        let s = settings("identity = \"bitbucket\"\n");
        for job in [env(&[]), env(&[(TOKEN_VAR, "  ")])] {
            let msg = locate(&s, &job).unwrap_err().to_string();
            assert!(
                msg.contains("oidc: true") && msg.contains(TOKEN_VAR),
                "{msg}"
            );
        }
        // Not a Bitbucket step with OIDC: `auto` finds nothing.
        let auto = settings("");
        assert!(
            locate(&auto, &env(&[("BITBUCKET_BUILD_NUMBER", "7")]))
                .unwrap()
                .is_none()
        );
        // A token with a control character is refused without being shown.
        let msg = locate(&s, &env(&[(TOKEN_VAR, "jwt\u{1b}[31m")]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains(TOKEN_VAR) && !msg.contains("jwt"), "{msg}");
    }
}
