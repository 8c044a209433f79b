//! The CI job's own identity: the OIDC ID token the exchange starts from.
//!
//! [`locate`] finds where the identity comes from without any network call
//! and computes a fingerprint of it (so two jobs on one machine never share
//! a cached token); [`Identity::fetch`] then obtains the token itself.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

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
    /// A program printing the token.
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
            let job = var(env, "BUILDKITE_JOB_ID").unwrap_or_default();
            Ok(Identity {
                kind,
                fingerprint: cache::key(&["buildkite", &job, &argv.join(" ")]),
                how: Fetch::Command(argv),
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
            let mut text = String::new();
            std::fs::File::open(&path)
                .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
                .with_context(|| {
                    format!("cannot read the identity token file {}", path.display())
                })?;
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
                fingerprint: cache::key(&["command", &argv.join("\0")]),
                how: Fetch::Command(argv),
            })
        }
    }
}

/// The ID token in a CI system's JSON answer (`{"<field>": "<jwt>"}`).
fn ci_token(answer: Response, field: &str, who: &str, hint: &str) -> anyhow::Result<Token> {
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
    /// Obtains the identity token (a network call or a command for some kinds).
    pub fn fetch(self, http: &Http, timeout: Duration) -> anyhow::Result<Token> {
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
            Fetch::Command(argv) => run_command(&argv, timeout),
        }
    }
}

/// Runs `argv` with a deadline; its trimmed standard output is the token.
fn run_command(argv: &[String], timeout: Duration) -> anyhow::Result<Token> {
    let shown = argv[0].clone();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run `{shown}` for the CI identity token"))?;
    let mut out = child.stdout.take().expect("piped");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = (&mut out).take(64 * 1024).read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`{shown}` did not print an identity token within {} ms",
                timeout.as_millis()
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        bail!("`{shown}` failed ({status}) instead of printing an identity token");
    }
    Token::parse(
        text.trim_end_matches(['\n', '\r']).to_owned(),
        &format!("the output of `{shown}`"),
    )?
    .ok_or_else(|| anyhow!("`{shown}` printed no identity token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

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
        let one = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(
            one.fetch(&http, Duration::from_secs(1)).unwrap().expose(),
            "jwt-one"
        );
        std::fs::write(&path, "jwt-two").unwrap();
        let two = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(
            two.fetch(&http, Duration::from_secs(1)).unwrap().expose(),
            "jwt-two"
        );
    }

    #[test]
    fn a_command_prints_the_token_within_its_deadline() {
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let s = settings(
            "identity = \"command\"\nidentity-command = [\"sh\", \"-c\", \"echo jwt-cmd\"]\n",
        );
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(
            id.fetch(&http, Duration::from_secs(5)).unwrap().expose(),
            "jwt-cmd"
        );
        let s = settings("identity = \"command\"\nidentity-command = [\"sleep\", \"5\"]\n");
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        let msg = id
            .fetch(&http, Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("within 200 ms"), "{msg}");
        let s = settings("identity = \"command\"\nidentity-command = [\"false\"]\n");
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        assert!(
            id.fetch(&http, Duration::from_secs(5))
                .unwrap_err()
                .to_string()
                .contains("failed")
        );
    }
}
