//! GitLab CI: an ID token in the variable the job declares under
//! `id_tokens` (`identity-env`, else [`GITLAB_DEFAULT_VAR`]). Keyed on the
//! token itself.

use super::{CiSystem, Identity, env::from_variable, var};
use crate::env::Environment;
use crate::oidc::settings::{IdentityKind, OidcSettings};

/// The default variable a GitLab job's `id_tokens` entry is named.
pub const GITLAB_DEFAULT_VAR: &str = "CARGO_REGISTRY_ID_TOKEN";

/// GitLab CI.
pub(super) struct Gitlab;

impl CiSystem for Gitlab {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Gitlab
    }

    fn detect(&self, _: &OidcSettings, env: &dyn Environment) -> bool {
        var(env, "GITLAB_CI").is_some()
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let name = settings
            .identity_env
            .as_deref()
            .unwrap_or(GITLAB_DEFAULT_VAR);
        from_variable(self.kind(), name, env)
    }
}

#[cfg(test)]
mod tests {
    use super::super::locate;
    use super::super::test_util::{env, settings};
    use super::*;

    #[test]
    fn env_based_systems_and_distinct_fingerprints() {
        let s = settings("");
        let a = locate(
            &s,
            &env(&[("GITLAB_CI", "true"), (GITLAB_DEFAULT_VAR, "jwt-a")]),
        )
        .unwrap()
        .unwrap();
        let b = locate(
            &s,
            &env(&[("GITLAB_CI", "true"), (GITLAB_DEFAULT_VAR, "jwt-b")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.kind, IdentityKind::Gitlab);
        assert_ne!(a.fingerprint, b.fingerprint);
        let msg = locate(&s, &env(&[("GITLAB_CI", "true")]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("id_tokens") && msg.contains(GITLAB_DEFAULT_VAR),
            "{msg}"
        );
        let c = locate(
            &s,
            &env(&[("CIRCLECI", "true"), ("CIRCLE_OIDC_TOKEN_V2", "jwt-c")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.kind, IdentityKind::Circleci);
    }
}
