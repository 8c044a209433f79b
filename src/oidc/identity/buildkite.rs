//! Buildkite: `buildkite-agent oidc request-token [--audience AUD]`, run on
//! a cache miss (through [`Runner`]: bounded, no secrets inherited). Keyed
//! on `BUILDKITE_JOB_ID` and the per-job agent access token.

use zeroize::Zeroizing;

use super::{CiSystem, Fetch, Identity, var};
use crate::cache;
use crate::child::Runner;
use crate::env::Environment;
use crate::net::http::Http;
use crate::oidc::settings::{IdentityKind, OidcSettings};
use crate::secret::Token;

/// Buildkite.
pub(super) struct Buildkite;

impl CiSystem for Buildkite {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Buildkite
    }

    fn detect(&self, _: &OidcSettings, env: &dyn Environment) -> bool {
        var(env, "BUILDKITE").is_some()
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let mut argv = vec![
            "buildkite-agent".to_owned(),
            "oidc".into(),
            "request-token".into(),
        ];
        if let Some(aud) = &settings.identity_audience {
            argv.extend(["--audience".to_owned(), aud.clone()]);
        }
        // The agent's access token is per job, like the job id.
        let job = var(env, "BUILDKITE_JOB_ID").unwrap_or_default();
        let agent = Zeroizing::new(var(env, "BUILDKITE_AGENT_ACCESS_TOKEN").unwrap_or_default());
        Ok(Identity {
            kind: self.kind(),
            fingerprint: cache::key(&["buildkite", &job, &agent, &argv.join(" ")]),
            how: Box::new(Agent(argv)),
        })
    }
}

/// The `buildkite-agent` command line.
struct Agent(Vec<String>);

impl Fetch for Agent {
    fn fetch(self: Box<Self>, _: &Http, runner: &Runner) -> anyhow::Result<Token> {
        runner.run(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::locate;
    use super::super::test_util::{env, settings};
    use super::*;

    #[test]
    fn buildkite_jobs_differ_by_their_agent_token() {
        let s = settings("");
        let job = |agent: &str| {
            locate(
                &s,
                &env(&[
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_JOB_ID", "job-1"),
                    ("BUILDKITE_AGENT_ACCESS_TOKEN", agent),
                ]),
            )
            .unwrap()
            .unwrap()
        };
        let a = job("agent-token-a");
        assert_eq!(a.kind, IdentityKind::Buildkite);
        assert_ne!(a.fingerprint, job("agent-token-b").fingerprint);
        assert_eq!(a.fingerprint, job("agent-token-a").fingerprint);
    }
}
