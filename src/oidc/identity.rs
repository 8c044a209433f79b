//! The CI job's own identity: the OIDC ID token the exchange starts from.
//!
//! [`locate`] finds where the identity comes from without any network call
//! or program run, and computes a fingerprint of it for the cache key (so
//! two jobs on one machine never share a cached token); [`Identity::resolve`]
//! runs an `identity-command` right away, so that its fingerprint is a digest
//! of the identity it printed; [`Identity::fetch`] then obtains the token.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use zeroize::Zeroizing;

use super::command::Runner;
use super::http::{Http, Response};
use super::settings::{IdentityKind, OidcSettings};
use crate::cache;
use crate::secret::Token;
use crate::source::env::Environment;

/// The default variable a GitLab job's `id_tokens` entry is named.
pub const GITLAB_DEFAULT_VAR: &str = "CARGO_REGISTRY_ID_TOKEN";

/// Where the identity token comes from, and a fingerprint of it.
#[derive(Debug)]
pub struct Identity {
    /// The system it comes from (never `Auto`).
    pub kind: IdentityKind,
    /// A digest that differs between jobs (for the cache key).
    pub fingerprint: String,
    how: Fetch,
}

#[derive(Debug)]
enum Fetch {
    /// Already read (environment, file).
    Ready(Token),
    /// GitHub Actions' ID token endpoint.
    Github { url: String, bearer: Token },
    /// Azure Pipelines' OIDC endpoint.
    Azure { url: String, bearer: Token },
    /// `buildkite-agent oidc request-token`: run when a token is needed.
    Buildkite(Vec<String>),
    /// `identity-command`: run before the cache lookup ([`Identity::resolve`]).
    Command(Vec<String>),
}

fn var(env: &dyn Environment, name: &str) -> Option<String> {
    env.var_os(name)?
        .into_string()
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn ready(kind: IdentityKind, token: String, what: &str) -> anyhow::Result<Identity> {
    let token = Token::parse(token, what)?.ok_or_else(|| anyhow!("{what} is empty"))?;
    Ok(Identity {
        kind,
        fingerprint: cache::key(&[what, token.expose()]),
        how: Fetch::Ready(token),
    })
}

/// Finds the identity for `settings` in this environment. `Ok(None)` when
/// `identity = "auto"` and no CI identity is present (e.g. on a laptop).
pub fn locate(settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Option<Identity>> {
    let kind = match settings.identity {
        IdentityKind::Auto => match detect(settings, env) {
            Some(kind) => kind,
            None => return Ok(None),
        },
        kind => kind,
    };
    locate_kind(kind, settings, env).map(Some)
}

fn detect(settings: &OidcSettings, env: &dyn Environment) -> Option<IdentityKind> {
    let set = |k: &str| var(env, k).is_some();
    if set("ACTIONS_ID_TOKEN_REQUEST_URL") || set("GITHUB_ACTIONS") {
        Some(IdentityKind::GithubActions)
    } else if set("GITLAB_CI") {
        Some(IdentityKind::Gitlab)
    } else if set("CIRCLECI") {
        Some(IdentityKind::Circleci)
    } else if set("SYSTEM_OIDCREQUESTURI") {
        Some(IdentityKind::AzurePipelines)
    } else if set("BUILDKITE") {
        Some(IdentityKind::Buildkite)
    } else if settings.identity_file.is_some() || set("AWS_WEB_IDENTITY_TOKEN_FILE") {
        Some(IdentityKind::File)
    } else if settings.identity_env.is_some() {
        Some(IdentityKind::Env)
    } else if settings.identity_command.is_some() {
        Some(IdentityKind::Command)
    } else {
        None
    }
}

fn locate_kind(
    kind: IdentityKind,
    s: &OidcSettings,
    env: &dyn Environment,
) -> anyhow::Result<Identity> {
    match kind {
        IdentityKind::Auto => unreachable!("resolved by the caller"),
        IdentityKind::GithubActions => {
            let (Some(url), Some(bearer)) = (
                var(env, "ACTIONS_ID_TOKEN_REQUEST_URL"),
                var(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            ) else {
                bail!(
                    "GitHub Actions gives this job no OIDC token: add `permissions: id-token: \
                     write` to the workflow or job (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are unset)"
                );
            };
            let mut url = reqwest::Url::parse(&url)
                .context("ACTIONS_ID_TOKEN_REQUEST_URL is not a valid URL")?;
            if let Some(aud) = &s.identity_audience {
                url.query_pairs_mut().append_pair("audience", aud);
            }
            Ok(Identity {
                kind,
                fingerprint: cache::key(&["github", url.as_str(), &bearer]),
                how: Fetch::Github {
                    url: url.into(),
                    bearer: Token::new(bearer),
                },
            })
        }
        IdentityKind::Gitlab | IdentityKind::Env => {
            let name = match (&s.identity_env, kind) {
                (Some(n), _) => n.as_str(),
                (None, IdentityKind::Gitlab) => GITLAB_DEFAULT_VAR,
                (None, _) => bail!("identity \"env\" needs `identity-env`"),
            };
            let value = var(env, name).ok_or_else(|| {
                anyhow!(
                    "the CI identity variable {name} is not set; for GitLab, declare it in the \
                     job: `id_tokens: {{ {name}: {{ aud: <audience> }} }}`"
                )
            })?;
            ready(kind, value, &format!("environment variable {name}"))
        }
        IdentityKind::Circleci => {
            let name = ["CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN"]
                .into_iter()
                .find(|n| var(env, n).is_some())
                .ok_or_else(|| {
                    anyhow!(
                        "CircleCI gives this job no OIDC token (CIRCLE_OIDC_TOKEN_V2 is unset); \
                         it needs a context or project with OIDC enabled"
                    )
                })?;
            ready(
                kind,
                var(env, name).unwrap_or_default(),
                &format!("environment variable {name}"),
            )
        }
        IdentityKind::AzurePipelines => {
            let (Some(uri), Some(bearer)) = (
                var(env, "SYSTEM_OIDCREQUESTURI"),
                var(env, "SYSTEM_ACCESSTOKEN"),
            ) else {
                bail!(
                    "Azure Pipelines gives this step no OIDC token: map it in, e.g. `env: \
                     SYSTEM_ACCESSTOKEN: $(System.AccessToken)` (SYSTEM_OIDCREQUESTURI and \
                     SYSTEM_ACCESSTOKEN must be set)"
                );
            };
            let connection = s.azure_service_connection_id.as_deref().ok_or_else(|| {
                anyhow!("identity \"azure-pipelines\" needs `azure-service-connection-id`")
            })?;
            let mut url =
                reqwest::Url::parse(&uri).context("SYSTEM_OIDCREQUESTURI is not a valid URL")?;
            url.query_pairs_mut()
                .append_pair("api-version", "7.1")
                .append_pair("serviceConnectionId", connection);
            Ok(Identity {
                kind,
                fingerprint: cache::key(&["azure", url.as_str(), &bearer]),
                how: Fetch::Azure {
                    url: url.into(),
                    bearer: Token::new(bearer),
                },
            })
        }
        IdentityKind::Buildkite => {
            let mut argv = vec![
                "buildkite-agent".to_owned(),
                "oidc".into(),
                "request-token".into(),
            ];
            if let Some(aud) = &s.identity_audience {
                argv.extend(["--audience".to_owned(), aud.clone()]);
            }
            // The agent's access token is per job, like the job id.
            let job = var(env, "BUILDKITE_JOB_ID").unwrap_or_default();
            let agent =
                Zeroizing::new(var(env, "BUILDKITE_AGENT_ACCESS_TOKEN").unwrap_or_default());
            Ok(Identity {
                kind,
                fingerprint: cache::key(&["buildkite", &job, &agent, &argv.join(" ")]),
                how: Fetch::Buildkite(argv),
            })
        }
        IdentityKind::File => {
            let path: PathBuf = match &s.identity_file {
                Some(p) => p.clone(),
                None => var(env, "AWS_WEB_IDENTITY_TOKEN_FILE")
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow!("identity \"file\" needs `identity-file` (or AWS_WEB_IDENTITY_TOKEN_FILE)"))?,
            };
            // Re-read on every use: the kubelet rotates projected tokens.
            let text = read_identity_file(&path)?;
            ready(
                kind,
                text.trim_end_matches(['\n', '\r']).to_owned(),
                &format!("file {}", path.display()),
            )
        }
        IdentityKind::Command => {
            let argv = s
                .identity_command
                .clone()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| anyhow!("identity \"command\" needs `identity-command`"))?;
            Ok(Identity {
                kind,
                // Replaced by a digest of what it prints (`resolve`).
                fingerprint: cache::key(&["command", &argv.join("\0")]),
                how: Fetch::Command(argv),
            })
        }
    }
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
    /// Runs an `identity-command` now and keys the identity on what it
    /// printed: the cache must tell apart two jobs whose command line is the
    /// same but whose identities differ. Other kinds are returned as they are.
    pub fn resolve(self, runner: &Runner) -> anyhow::Result<Identity> {
        match self.how {
            Fetch::Command(argv) => {
                let token = runner
                    .run(&argv)
                    .with_context(|| format!("getting the CI identity token ({:?})", self.kind))?;
                Ok(Identity {
                    kind: self.kind,
                    fingerprint: cache::key(&["command", &identity_digest(token.expose())]),
                    how: Fetch::Ready(token),
                })
            }
            how => Ok(Identity { how, ..self }),
        }
    }

    /// Obtains the identity token (a network call or a program run for some
    /// kinds).
    pub fn fetch(self, http: &Http, runner: &Runner) -> anyhow::Result<Token> {
        match self.how {
            Fetch::Ready(token) => Ok(token),
            Fetch::Github { url, bearer } => {
                let (url, req) = http.get(&url)?;
                let answer = http.send(&url, req.bearer_auth(bearer.expose()))?;
                ci_token(
                    answer,
                    "value",
                    "GitHub Actions",
                    "check `permissions: id-token: write` and `identity-audience`",
                )
            }
            Fetch::Azure { url, bearer } => {
                let (url, req) = http.post(&url)?;
                let req = req
                    .bearer_auth(bearer.expose())
                    .header("content-length", "0");
                ci_token(
                    http.send(&url, req)?,
                    "oidcToken",
                    "Azure Pipelines",
                    "check `azure-service-connection-id` and that SYSTEM_ACCESSTOKEN is mapped",
                )
            }
            Fetch::Buildkite(argv) | Fetch::Command(argv) => runner.run(&argv),
        }
    }
}

/// A digest of what an identity says, for the cache key. For a JWT: its
/// header and its claims without the ones that change with every token
/// issued for the same identity (`iat`, `exp`, `nbf`, `jti`), so that a
/// fresh token for the same job finds the cached registry token; the
/// signature is not part of it (it is not verified here: the IdP verifies
/// it at the exchange). Anything else: a digest of the whole value.
pub fn identity_digest(identity: &str) -> String {
    match stable_claims(identity) {
        Some((header, claims)) => cache::key(&["jwt", &header, &claims]),
        None => cache::key(&["opaque", identity]),
    }
}

/// The header and the non-volatile claims of a JWT, as canonical JSON
/// (sorted keys), or `None` when `token` is not a JWS compact JWT.
fn stable_claims(token: &str) -> Option<(String, String)> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let object = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    let header = object(header)?;
    let mut claims = object(payload)?;
    for volatile in ["iat", "exp", "nbf", "jti"] {
        claims.remove(volatile);
    }
    Some((
        serde_json::Value::Object(header).to_string(),
        serde_json::Value::Object(claims).to_string(),
    ))
}

/// The largest identity file read.
const MAX_IDENTITY_FILE: u64 = 64 * 1024;

/// Reads an identity file without ever blocking: opened non-blocking (a
/// FIFO is refused, not waited on), following symlinks (Kubernetes projected
/// tokens are symlinks into `..data`) but only to a regular file, and at
/// most 64 KiB.
fn read_identity_file(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let cannot = || format!("cannot read the identity token file {}", path.display());
    let mut options = std::fs::File::options();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NONBLOCK.bits() as i32,
    );
    let file = options.open(path).with_context(cannot)?;
    let meta = file.metadata().with_context(cannot)?;
    if !meta.is_file() {
        bail!(
            "the identity token file {} is not a regular file; it was not read",
            path.display()
        );
    }
    if meta.len() > MAX_IDENTITY_FILE {
        bail!(
            "the identity token file {} is larger than {} KiB; it was not read",
            path.display(),
            MAX_IDENTITY_FILE / 1024
        );
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_IDENTITY_FILE)
        .read_to_string(&mut text)
        .with_context(cannot)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn settings(extra: &str) -> OidcSettings {
        let raw: super::super::settings::RawOidc =
            toml::from_str(&format!("issuer = \"https://idp.example\"\n{extra}")).unwrap();
        raw.validate("t").unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nothing_in_the_environment_is_no_identity() {
        assert!(locate(&settings(""), &env(&[])).unwrap().is_none());
    }

    #[test]
    fn github_is_detected_and_needs_the_permission() {
        let s = settings("identity-audience = \"corp-registry\"\n");
        let id = locate(
            &s,
            &env(&[
                (
                    "ACTIONS_ID_TOKEN_REQUEST_URL",
                    "https://gh.example/token?api-version=2.0",
                ),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req-secret"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(id.kind, IdentityKind::GithubActions);
        let Fetch::Github { url, .. } = &id.how else {
            panic!()
        };
        assert_eq!(
            url,
            "https://gh.example/token?api-version=2.0&audience=corp-registry"
        );
        let msg = locate(&s, &env(&[("GITHUB_ACTIONS", "true")]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("id-token: write"), "{msg}");
    }

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

    fn runner(timeout: Duration) -> Runner {
        Runner::new(timeout, &[], &[])
    }

    #[test]
    fn a_token_file_is_read_fresh_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "jwt-one\n").unwrap();
        let s = settings(&format!(
            "identity = \"file\"\nidentity-file = {:?}\n",
            path
        ));
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let run = runner(Duration::from_secs(1));
        let one = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(one.fetch(&http, &run).unwrap().expose(), "jwt-one");
        std::fs::write(&path, "jwt-two").unwrap();
        let two = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(two.fetch(&http, &run).unwrap().expose(), "jwt-two");
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_must_be_a_regular_file_of_bounded_size() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let s = |p: &Path| settings(&format!("identity = \"file\"\nidentity-file = {p:?}\n"));
        let start = std::time::Instant::now();
        let msg = locate(&s(&fifo), &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("not a regular file"), "{msg}");
        assert!(start.elapsed() < Duration::from_secs(2));
        let msg = locate(&s(dir.path()), &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("not a regular file"), "{msg}");
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(70 * 1024)).unwrap();
        let msg = locate(&s(&big), &env(&[])).unwrap_err().to_string();
        assert!(msg.contains("larger than 64 KiB"), "{msg}");
        // A symlink to a regular file (Kubernetes' `..data`) is fine.
        let real = dir.path().join("real");
        std::fs::write(&real, "jwt-linked").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let id = locate(&s(&link), &env(&[])).unwrap().unwrap();
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let run = runner(Duration::from_secs(1));
        assert_eq!(id.fetch(&http, &run).unwrap().expose(), "jwt-linked");
    }

    #[test]
    fn a_command_prints_the_token_within_its_deadline() {
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let s = settings(
            "identity = \"command\"\nidentity-command = [\"sh\", \"-c\", \"echo jwt-cmd\"]\n",
        );
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(
            id.fetch(&http, &runner(Duration::from_secs(5)))
                .unwrap()
                .expose(),
            "jwt-cmd"
        );
        let s = settings("identity = \"command\"\nidentity-command = [\"sleep\", \"5\"]\n");
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        let msg = id
            .fetch(&http, &runner(Duration::from_millis(200)))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("within 200 ms"), "{msg}");
        let s = settings("identity = \"command\"\nidentity-command = [\"false\"]\n");
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        assert!(
            id.fetch(&http, &runner(Duration::from_secs(5)))
                .unwrap_err()
                .to_string()
                .contains("failed")
        );
    }

    fn jwt(header: &str, claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.{}", b64(header), b64(claims), b64("sig"))
    }

    #[test]
    fn a_command_identity_is_keyed_on_what_it_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("id");
        let s = settings(&format!(
            "identity = \"command\"\nidentity-command = [\"cat\", {:?}]\n",
            file.display().to_string()
        ));
        let run = runner(Duration::from_secs(5));
        let fingerprint = |printed: &str| {
            std::fs::write(&file, printed).unwrap();
            let id = locate(&s, &env(&[])).unwrap().unwrap();
            id.resolve(&run).unwrap().fingerprint
        };
        let h = r#"{"alg":"RS256","kid":"k1"}"#;
        let a1 = fingerprint(&jwt(h, r#"{"sub":"a","iat":1,"nbf":1,"exp":9,"jti":"x"}"#));
        let a2 = fingerprint(&jwt(
            h,
            r#"{"jti":"y","exp":99,"sub":"a","iat":50,"nbf":50}"#,
        ));
        let b = fingerprint(&jwt(h, r#"{"sub":"b","iat":1,"nbf":1,"exp":9,"jti":"x"}"#));
        let other_key = fingerprint(&jwt(
            r#"{"alg":"RS256","kid":"k2"}"#,
            r#"{"sub":"a","iat":1,"nbf":1,"exp":9,"jti":"x"}"#,
        ));
        assert_eq!(a1, a2, "volatile claims and claim order do not matter");
        assert_ne!(a1, b);
        assert_ne!(a1, other_key);
        let o1 = fingerprint("opaque-one");
        assert_ne!(o1, fingerprint("opaque-two"));
        assert_eq!(o1, fingerprint("opaque-one\n"));
        // A resolved identity is not run again by `fetch`.
        std::fs::write(&file, "changed").unwrap();
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        std::fs::write(&file, "before-resolve").unwrap();
        let id = id.resolve(&run).unwrap();
        std::fs::write(&file, "after-resolve").unwrap();
        let http = Http::new(Duration::from_secs(1)).unwrap();
        assert_eq!(id.fetch(&http, &run).unwrap().expose(), "before-resolve");
    }

    #[test]
    fn identity_digests_tell_jwts_from_opaque_values() {
        let h = r#"{"alg":"none"}"#;
        assert_eq!(
            identity_digest(&jwt(h, r#"{"sub":"a","iat":1}"#)),
            identity_digest(&jwt(h, r#"{"sub":"a","iat":2}"#))
        );
        for not_a_jwt in ["a.b.c", "x", "a.b.c.d.e", &jwt(h, "[1]")] {
            assert_eq!(
                identity_digest(not_a_jwt),
                cache::key(&["opaque", not_a_jwt])
            );
        }
    }

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
