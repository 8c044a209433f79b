//! The CI job's own identity: the OIDC ID token the exchange starts from.
//!
//! Each CI system (or other identity source) is one file here implementing
//! [`CiSystem`], and one entry in [`SYSTEMS`]; adding the next one is a new
//! file, a line in [`SYSTEMS`] and an [`IdentityKind`] variant.
//!
//! Three phases, so that the cross-run cache is looked at before anything
//! costly: [`locate`] finds where the identity comes from without any
//! network call or program run, and computes a fingerprint of it for the
//! cache key (so two jobs on one machine never share a cached token);
//! [`Identity::resolve`] obtains right away the identities whose fingerprint
//! can only be a digest of the identity itself (an `identity-command`, the
//! GCP metadata server); [`Identity::fetch`] then obtains the token, on a
//! cache miss only for the other kinds.

use std::fmt;

use anyhow::{Context as _, anyhow, bail};

use super::settings::{IdentityKind, OidcSettings};
use crate::cache;
use crate::child::Runner;
use crate::env::Environment;
use crate::net::http::{Http, Response};
use crate::secret::Token;

mod azure_pipelines;
mod bitbucket;
mod buildkite;
mod circleci;
mod command;
mod env;
mod file;
mod gcp;
mod github_actions;
mod gitlab;

pub use gitlab::GITLAB_DEFAULT_VAR;

/// One CI system or identity source (one file each).
trait CiSystem: Sync {
    /// The `identity = "…"` that selects it.
    fn kind(&self) -> IdentityKind;

    /// Whether this environment is one of its jobs, for `identity = "auto"`.
    /// Reads variables and settings only: no file, network or program.
    fn detect(&self, settings: &OidcSettings, env: &dyn Environment) -> bool;

    /// Where this job's identity comes from, and its fingerprint, without
    /// any network call or program run (a file may be read). An error says
    /// what the job lacks and what to change.
    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity>;
}

/// How a located identity becomes the token.
trait Fetch {
    /// `Some(tag)` when the identity is obtained before the cache lookup and
    /// the fingerprint is `tag` with a digest of what was obtained
    /// ([`identity_digest`]): nothing cheaper tells two identities apart.
    fn resolve_early(&self) -> Option<&'static str> {
        None
    }

    /// Obtains the token (a network call or a program run for some kinds).
    fn fetch(self: Box<Self>, http: &Http, runner: &Runner) -> anyhow::Result<Token>;
}

/// The systems, in the order `identity = "auto"` tries them: the CI
/// systems, then the sources the settings name. The GCP metadata server is
/// last and never detected.
static SYSTEMS: &[&dyn CiSystem] = &[
    &github_actions::GithubActions,
    &gitlab::Gitlab,
    &circleci::Circleci,
    &azure_pipelines::AzurePipelines,
    &buildkite::Buildkite,
    &bitbucket::Bitbucket,
    &file::File,
    &env::EnvIdentity,
    &command::Command,
    &gcp::Gcp,
];

/// Where the identity token comes from, and a fingerprint of it.
pub struct Identity {
    /// The system it comes from (never `Auto`).
    pub kind: IdentityKind,
    /// A digest that differs between jobs (for the cache key).
    pub fingerprint: String,
    how: Box<dyn Fetch>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("kind", &self.kind)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// An identity already read (environment, file, or resolved early).
struct Ready(Token);

impl Fetch for Ready {
    fn fetch(self: Box<Self>, _: &Http, _: &Runner) -> anyhow::Result<Token> {
        Ok(self.0)
    }
}

/// The value of `name`, unless unset, not UTF-8 or blank.
fn var(env: &dyn Environment, name: &str) -> Option<String> {
    env.var_os(name)?
        .into_string()
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// An identity read already; `what` names where from, for messages and the
/// fingerprint.
fn ready(kind: IdentityKind, token: String, what: &str) -> anyhow::Result<Identity> {
    let token = Token::parse(token, what)?.ok_or_else(|| anyhow!("{what} is empty"))?;
    Ok(Identity {
        kind,
        fingerprint: cache::secret_key(&[what], &token),
        how: Box::new(Ready(token)),
    })
}

/// Finds the identity for `settings` in this environment. `Ok(None)` when
/// `identity = "auto"` and no CI identity is present (e.g. on a laptop).
pub fn locate(settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Option<Identity>> {
    let system = match settings.identity {
        IdentityKind::Auto => match detect(settings, env) {
            Some(system) => system,
            None => return Ok(None),
        },
        kind => SYSTEMS
            .iter()
            .copied()
            .find(|s| s.kind() == kind)
            .expect("every kind but `auto` has a system"),
    };
    system.locate(settings, env).map(Some)
}

/// The first system in [`SYSTEMS`] that recognises this environment.
fn detect(settings: &OidcSettings, env: &dyn Environment) -> Option<&'static dyn CiSystem> {
    SYSTEMS.iter().copied().find(|s| s.detect(settings, env))
}

/// The ID token in a CI system's JSON answer (`{"<field>": "<jwt>"}`); `who`
/// and `hint` are for the error messages. Public for the fuzz targets and
/// property tests.
pub fn ci_token(answer: Response, field: &str, who: &str, hint: &str) -> anyhow::Result<Token> {
    if answer.status != 200 {
        bail!(
            "{who} refused an OIDC ID token (HTTP {}); {hint}",
            answer.status
        );
    }
    let mut value: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| anyhow!("{who}'s ID token answer is not JSON"))?;
    let Some(serde_json::Value::String(token)) = value.get_mut(field).map(serde_json::Value::take)
    else {
        bail!("{who}'s ID token answer has no `{field}`");
    };
    Token::parse(token, &format!("{who}'s ID token"))?
        .ok_or_else(|| anyhow!("{who} returned an empty ID token"))
}

impl Identity {
    /// Obtains now the identities keyed on what they are (an
    /// `identity-command`, the GCP metadata server) and keys them on it:
    /// the cache must tell apart two jobs whose command line or metadata
    /// server is the same but whose identities differ. Other kinds are
    /// returned as they are.
    pub fn resolve(self, runner: &Runner) -> anyhow::Result<Identity> {
        let Some(tag) = self.how.resolve_early() else {
            return Ok(self);
        };
        let kind = self.kind;
        let http = Http::new(runner.timeout())?;
        let token = self.fetch(&http, runner).with_context(|| {
            format!(
                "getting the CI identity token (identity \"{}\")",
                crate::diag::config_word(&kind)
            )
        })?;
        Ok(Identity {
            kind,
            fingerprint: cache::key(&[tag, &identity_digest(&token)]),
            how: Box::new(Ready(token)),
        })
    }

    /// Obtains the identity token (a network call or a program run for some
    /// kinds).
    pub fn fetch(self, http: &Http, runner: &Runner) -> anyhow::Result<Token> {
        self.how.fetch(http, runner)
    }
}

/// A digest of what an identity says, for the cache key. For a JWT: its
/// header and its claims without the ones that change with every token
/// issued for the same identity (`iat`, `exp`, `nbf`, `jti`), so that a
/// fresh token for the same job finds the cached registry token; the
/// signature is not part of it (it is not verified here: the IdP verifies
/// it at the exchange). Anything else: a digest of the whole value.
pub fn identity_digest(identity: &Token) -> String {
    match stable_claims(identity) {
        Some((header, claims)) => cache::key(&["jwt", &header, &claims]),
        None => cache::secret_key(&["opaque"], identity),
    }
}

/// The header and the non-volatile claims of a JWT, as canonical JSON
/// (sorted keys), or `None` when `token` is not a JWS compact JWT.
fn stable_claims(token: &Token) -> Option<(String, String)> {
    let (header, mut claims) = crate::oauth::jwt::header_and_claims_of(token)?;
    for volatile in ["iat", "exp", "nbf", "jti"] {
        claims.0.remove(volatile);
    }
    Some((
        serde_json::Value::Object(header.0).to_string(),
        serde_json::Value::Object(claims.0).to_string(),
    ))
}

/// What the tests of every system share.
#[cfg(test)]
mod test_util {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::super::settings::{OidcSettings, RawOidc};
    use crate::child::Runner;

    /// Validated settings with an issuer and `extra`.
    pub fn settings(extra: &str) -> OidcSettings {
        let raw: RawOidc =
            toml::from_str(&format!("issuer = \"https://idp.example\"\n{extra}")).unwrap();
        raw.validate("t").unwrap()
    }

    /// An environment holding exactly `pairs`.
    pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A runner with deadline `timeout` that hides nothing.
    pub fn runner(timeout: Duration) -> Runner {
        Runner::new(timeout, &[], &[])
    }

    /// An unsigned JWT with this header and these claims.
    pub fn jwt(header: &str, claims: &str) -> String {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.{}", b64(header), b64(claims), b64("sig"))
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{env, jwt, settings};
    use super::*;

    #[test]
    fn nothing_in_the_environment_is_no_identity() {
        assert!(locate(&settings(""), &env(&[])).unwrap().is_none());
    }

    #[test]
    fn every_kind_but_auto_has_exactly_one_system() {
        use IdentityKind::*;
        for kind in [
            GithubActions,
            Gitlab,
            Circleci,
            AzurePipelines,
            Buildkite,
            Bitbucket,
            Gcp,
            File,
            Env,
            Command,
        ] {
            assert_eq!(
                SYSTEMS.iter().filter(|s| s.kind() == kind).count(),
                1,
                "{kind:?}"
            );
        }
        assert!(SYSTEMS.iter().all(|s| s.kind() != Auto));
    }

    /// The kind `identity = "auto"` picks in `pairs` with `extra` settings.
    fn detected(extra: &str, pairs: &[(&str, &str)]) -> Option<IdentityKind> {
        detect(&settings(extra), &env(pairs)).map(|s| s.kind())
    }

    #[test]
    fn detection_follows_the_documented_order() {
        use IdentityKind::*;
        // Each signal, alone, selects its system.
        /// Settings, variables, and the kind they select.
        type Signal = (
            &'static str,
            &'static [(&'static str, &'static str)],
            IdentityKind,
        );
        let signals: [Signal; 11] = [
            ("", &[("ACTIONS_ID_TOKEN_REQUEST_URL", "u")], GithubActions),
            ("", &[("GITHUB_ACTIONS", "true")], GithubActions),
            ("", &[("GITLAB_CI", "true")], Gitlab),
            ("", &[("CIRCLECI", "true")], Circleci),
            ("", &[("SYSTEM_OIDCREQUESTURI", "u")], AzurePipelines),
            ("", &[("BUILDKITE", "true")], Buildkite),
            ("", &[("BITBUCKET_STEP_OIDC_TOKEN", "t")], Bitbucket),
            ("", &[("AWS_WEB_IDENTITY_TOKEN_FILE", "/f")], File),
            ("identity-file = \"/f\"\n", &[], File),
            ("identity-env = \"V\"\n", &[], Env),
            ("identity-command = [\"p\"]\n", &[], Command),
        ];
        for (extra, pairs, kind) in signals {
            assert_eq!(detected(extra, pairs), Some(kind), "{extra}{pairs:?}");
        }
        // All at once: the first in the list wins, and removing the winner's
        // signal hands over to the next one, down the whole list.
        let all_settings = "identity-file = \"/f\"\nidentity-env = \"V\"\n\
                            identity-command = [\"p\"]\n";
        let mut vars = vec![
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "u"),
            ("GITLAB_CI", "true"),
            ("CIRCLECI", "true"),
            ("SYSTEM_OIDCREQUESTURI", "u"),
            ("BUILDKITE", "true"),
            ("BITBUCKET_STEP_OIDC_TOKEN", "t"),
        ];
        for kind in [
            GithubActions,
            Gitlab,
            Circleci,
            AzurePipelines,
            Buildkite,
            Bitbucket,
        ] {
            assert_eq!(detected(all_settings, &vars), Some(kind));
            vars.remove(0);
        }
        assert_eq!(detected(all_settings, &[]), Some(File));
        assert_eq!(
            detected("identity-env = \"V\"\nidentity-command = [\"p\"]\n", &[]),
            Some(Env)
        );
        // Blank variables are no signal.
        assert_eq!(detected("", &[("GITLAB_CI", " ")]), None);
    }

    #[test]
    fn the_gcp_metadata_server_is_never_detected() {
        // Not even on what looks like Google Cloud: only `identity = "gcp"`
        // makes a call to the metadata server.
        let gce = [
            ("GCE_METADATA_HOST", "127.0.0.1:1"),
            ("GOOGLE_CLOUD_PROJECT", "p"),
            ("K_SERVICE", "s"),
        ];
        let s = settings("identity-audience = \"corp\"\n");
        assert!(locate(&s, &env(&gce)).unwrap().is_none());
    }

    #[test]
    fn identity_digests_tell_jwts_from_opaque_values() {
        let h = r#"{"alg":"none"}"#;
        assert_eq!(
            identity_digest(&Token::new(jwt(h, r#"{"sub":"a","iat":1}"#))),
            identity_digest(&Token::new(jwt(h, r#"{"sub":"a","iat":2}"#)))
        );
        for not_a_jwt in ["a.b.c", "x", "a.b.c.d.e", &jwt(h, "[1]")] {
            assert_eq!(
                identity_digest(&Token::new(not_a_jwt.to_owned())),
                cache::key(&["opaque", not_a_jwt])
            );
        }
    }
}
