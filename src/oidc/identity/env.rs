//! An identity in an environment variable the settings name
//! (`identity-env`): any CI system that exports its ID token.

use anyhow::{anyhow, bail};

use super::{CiSystem, Identity, ready, var};
use crate::env::Environment;
use crate::oidc::settings::{IdentityKind, OidcSettings};

/// `identity = "env"`.
pub(super) struct EnvIdentity;

impl CiSystem for EnvIdentity {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Env
    }

    fn detect(&self, settings: &OidcSettings, _: &dyn Environment) -> bool {
        settings.identity_env.is_some()
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let Some(name) = &settings.identity_env else {
            bail!("identity \"env\" needs `identity-env`");
        };
        from_variable(self.kind(), name, env)
    }
}

/// The identity in the variable `name` (`env`, GitLab's `id_tokens`).
pub(super) fn from_variable(
    kind: IdentityKind,
    name: &str,
    env: &dyn Environment,
) -> anyhow::Result<Identity> {
    let value = var(env, name).ok_or_else(|| {
        anyhow!(
            "the CI identity variable {name} is not set; for GitLab, declare it in the \
             job: `id_tokens: {{ {name}: {{ aud: <audience> }} }}`"
        )
    })?;
    ready(kind, value, &format!("environment variable {name}"))
}
