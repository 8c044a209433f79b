//! The real OpenID provider (`tests/idp/idp.mjs`, npm oidc-provider) and the
//! token-verifying gateway (`tests/idp/gateway.mjs`) in front of kellnr, each
//! on 127.0.0.1 and stopped when dropped.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::kellnr::Kellnr;
use super::process::{self, KillOnDrop, Output};
use super::{base_env, free_port, missing_component, on_path, reserve_port};

/// The registry's resource indicator: the audience of its access tokens.
pub const REGISTRY: &str = "https://registry.test";

/// The folder of the npm project.
pub fn idp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("idp")
}

/// Starts `node script` with `env`, waiting (at most 30 s) for its READY
/// line; `Err` when it exited first (its port was taken, say).
fn start_node(script: &str, env: &[(&str, String)]) -> Result<KillOnDrop, String> {
    if !on_path("node") {
        missing_component("Node.js (`node`, for the test IdP)");
    }
    if !idp_dir()
        .join("node_modules")
        .join("oidc-provider")
        .is_dir()
    {
        missing_component("the test IdP's npm packages (`npm ci` in tests/idp)");
    }
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(idp_dir())
        .env_clear()
        .envs(base_env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("READY") {
                let _ = tx.send(());
            }
        }
    });
    let mut guard = KillOnDrop(child);
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => Ok(guard),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{script} did not start within 30 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let status = guard.0.wait().unwrap();
            Err(format!("{script} exited before it was ready ({status})"))
        }
    }
}

/// A running OpenID provider.
pub struct Idp {
    _process: KillOnDrop,
    port: u16,
}

impl Idp {
    /// Starts the IdP; access tokens live `at_ttl` seconds.
    pub fn start(at_ttl: u32) -> Idp {
        Idp::start_with(&[("AT_TTL", at_ttl.to_string())])
    }

    /// Starts the IdP with `env` (the knobs listed in `idp.mjs`: `AT_TTL`,
    /// `AT_FORMAT`, `DEVICE_TTL`, `RT_TTL`, `SLOW_DOWN_ONCE`, `TOKEN_DELAY_MS`).
    pub fn start_with(env: &[(&str, String)]) -> Idp {
        // A port picked free can be taken before node binds it: try another.
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut env = env.to_vec();
            env.push(("PORT", port.to_string()));
            match start_node("idp.mjs", &env) {
                Ok(process) => {
                    return Idp {
                        _process: process,
                        port,
                    };
                }
                Err(why) => last = why,
            }
        }
        panic!("the test IdP did not start in 3 attempts: {last}")
    }

    /// The issuer URL.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request the IdP answered so far but the harness's `/test/`
    /// ones, as `METHOD /path`.
    pub fn requests(&self) -> Vec<String> {
        let stats: serde_json::Value = super::http()
            .get(format!("{}/test/stats", self.issuer()))
            .send()
            .unwrap()
            .text()
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        stats["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    }

    /// The GitHub-Actions-style `ACTIONS_ID_TOKEN_REQUEST_URL`.
    pub fn ci_token_url(&self) -> String {
        format!("{}/ci/token?api-version=2.0", self.issuer())
    }

    /// The issuer of its GitHub-style CI ID tokens (`/ci/token`).
    pub fn ci_issuer(&self) -> String {
        format!("{}/ci", self.issuer())
    }

    /// The issuer of its GitLab-style CI ID tokens (`/ci/token?flavor=gitlab`).
    pub fn gitlab_issuer(&self) -> String {
        format!("{}/gitlab", self.issuer())
    }

    /// The JWKS holding the CI issuers' public key.
    pub fn ci_jwks_url(&self) -> String {
        format!("{}/ci/jwks", self.issuer())
    }

    /// Tokens issued so far, all grants.
    pub fn issued(&self) -> u64 {
        get_json(&format!("{}/test/stats", self.issuer()))["total"]
            .as_u64()
            .unwrap()
    }

    /// Every secret the IdP issued or received so far (access, refresh and
    /// ID tokens, authorization and device codes, PKCE code verifiers, CI ID
    /// tokens): none may appear in any output.
    pub fn secrets_issued(&self) -> Vec<String> {
        serde_json::from_value(get_json(&format!("{}/test/secrets", self.issuer()))).unwrap()
    }

    /// Whether the IdP's introspection endpoint says `token` (a refresh
    /// token, or an opaque access token: JWTs cannot be introspected) is
    /// active, asked as the `introspector` client.
    pub fn introspect_active(&self, token: &str) -> bool {
        let body = super::http()
            .post(format!("{}/token/introspection", self.issuer()))
            .basic_auth("introspector", Some("introspector-secret"))
            .form(&[("token", token)])
            .send()
            .unwrap()
            .text()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["active"]
            .as_bool()
            .unwrap_or_else(|| panic!("introspection failed: {}", v["error"]))
    }

    /// A refresh as the public client `sso`, for `scope` at the registry:
    /// the status and the JSON answer. A success rotates `refresh_token`;
    /// presenting one already rotated fails with `invalid_grant` AND revokes
    /// the whole grant (every refresh token of that login), as it should.
    pub fn refresh_with(&self, refresh_token: &str, scope: &str) -> (u16, serde_json::Value) {
        let res = super::http()
            .post(format!("{}/token", self.issuer()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "sso"),
                ("refresh_token", refresh_token),
                ("scope", scope),
                ("resource", REGISTRY),
            ])
            .send()
            .unwrap();
        let status = res.status().as_u16();
        (status, serde_json::from_str(&res.text().unwrap()).unwrap())
    }

    /// A CI ID token from `path` (`/ci/token?…` or `/test/forged-ci-token?…`).
    pub fn ci_token(&self, path_and_query: &str) -> String {
        let body = super::http()
            .get(format!("{}{path_and_query}", self.issuer()))
            .bearer_auth("ci-request-token")
            .send()
            .unwrap()
            .text()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["value"].as_str().unwrap().to_owned()
    }

    /// A read-scoped access token for the `ci` client (client credentials).
    pub fn client_credentials_token(&self) -> String {
        let body = super::http()
            .post(format!("{}/token", self.issuer()))
            .basic_auth("ci", Some("ci-secret"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "read"),
                ("resource", "https://registry.test"),
            ])
            .send()
            .unwrap()
            .text()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }
}

/// Starts `script` on a free port with `env` (three attempts, as for the IdP).
fn start_on_free_port(script: &str, env: &[(&str, String)]) -> (KillOnDrop, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let mut env = env.to_vec();
        env.push(("PORT", port.to_string()));
        match start_node(script, &env) {
            Ok(process) => return (process, port),
            Err(why) => last = why,
        }
    }
    panic!("{script} did not start in 3 attempts: {last}")
}

/// The stand-in for crates.io's trusted publishing endpoints
/// (`tests/idp/cratesio.mjs`), trusting the test IdP's CI issuers.
pub struct CratesIo {
    _process: KillOnDrop,
    port: u16,
}

impl CratesIo {
    /// Starts it trusting `idp`'s GitHub-style and GitLab-style CI issuers,
    /// with a trusted publishing config for the repository `acme/crate`.
    pub fn start(idp: &Idp) -> CratesIo {
        CratesIo::start_for_audience(idp, "crates.io")
    }

    /// [`Self::start`], for a crates.io-compatible registry that requires
    /// `audience` (not crates.io's) in the CI ID token.
    pub fn start_for_audience(idp: &Idp, audience: &str) -> CratesIo {
        let issuers = serde_json::json!({
            idp.ci_issuer(): {"jwks": idp.ci_jwks_url(), "kind": "github"},
            idp.gitlab_issuer(): {"jwks": idp.ci_jwks_url(), "kind": "gitlab"},
        });
        let (process, port) = start_on_free_port(
            "cratesio.mjs",
            &[
                ("ISSUERS", issuers.to_string()),
                ("CONFIGS", "acme/crate".to_owned()),
                ("AUDIENCE", audience.to_owned()),
            ],
        );
        CratesIo {
            _process: process,
            port,
        }
    }

    /// Its trusted publishing token endpoint (`token-endpoint`).
    pub fn token_endpoint(&self) -> String {
        format!(
            "http://127.0.0.1:{}/api/v1/trusted_publishing/tokens",
            self.port
        )
    }

    /// `{exchanged, revoked, revocations, rejected: {detail: n}}`.
    pub fn stats(&self) -> serde_json::Value {
        get_json(&format!("http://127.0.0.1:{}/test/stats", self.port))
    }

    /// Every JWT it received and token it issued.
    pub fn secrets(&self) -> Vec<String> {
        serde_json::from_value(get_json(&format!(
            "http://127.0.0.1:{}/test/secrets",
            self.port
        )))
        .unwrap()
    }

    /// The URL that answers 200 to a GET whose `Authorization` is a live
    /// token (as it is, or after `Bearer `): a gateway's `VERIFY_URL`.
    pub fn check_url(&self) -> String {
        format!("http://127.0.0.1:{}/test/check", self.port)
    }

    /// Whether `token` is live (a publish with it would be accepted).
    pub fn is_live(&self, token: &str) -> bool {
        let status = super::http()
            .get(self.check_url())
            .header("authorization", token)
            .send()
            .unwrap()
            .status()
            .as_u16();
        status == 200
    }

    /// POSTs `{"jwt": jwt}` itself: the status and the answer.
    pub fn exchange(&self, jwt: &str) -> (u16, serde_json::Value) {
        let res = super::http()
            .post(self.token_endpoint())
            .header("content-type", "application/json")
            .body(serde_json::json!({ "jwt": jwt }).to_string())
            .send()
            .unwrap();
        let status = res.status().as_u16();
        (status, serde_json::from_str(&res.text().unwrap()).unwrap())
    }

    /// DELETEs `token` itself (revocation): the status.
    pub fn revoke(&self, token: &str) -> u16 {
        super::http()
            .delete(self.token_endpoint())
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

/// The stand-in for Microsoft Entra ID's token endpoint with workload
/// identity federation (`tests/idp/entra.mjs`).
pub struct Entra {
    _process: KillOnDrop,
    port: u16,
}

impl Entra {
    /// The tenant in its URL.
    pub const TENANT: &'static str = "tenant-0";
    /// The application (client) ID it knows.
    pub const CLIENT_ID: &'static str = "00000000-0000-0000-0000-0000000000c1";
    /// The subject its federated credential trusts (the IdP's default CI `sub`).
    pub const SUBJECT: &'static str = "repo:acme/crate:ref:refs/heads/main";

    /// Starts it with one federated credential: `idp`'s GitHub-style CI
    /// issuer, subject [`Self::SUBJECT`], audience `api://AzureADTokenExchange`.
    pub fn start(idp: &Idp) -> Entra {
        let federated = serde_json::json!([{
            "issuer": idp.ci_issuer(),
            "subject": Self::SUBJECT,
            "audience": "api://AzureADTokenExchange",
            "jwks": idp.ci_jwks_url(),
        }]);
        let (process, port) = start_on_free_port(
            "entra.mjs",
            &[
                ("TENANT", Self::TENANT.to_owned()),
                ("CLIENT_ID", Self::CLIENT_ID.to_owned()),
                ("FEDERATED", federated.to_string()),
            ],
        );
        Entra {
            _process: process,
            port,
        }
    }

    /// Its token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!(
            "http://127.0.0.1:{}/{}/oauth2/v2.0/token",
            self.port,
            Self::TENANT
        )
    }

    /// `{issued, rejected: {code: n}}`.
    pub fn stats(&self) -> serde_json::Value {
        get_json(&format!("http://127.0.0.1:{}/test/stats", self.port))
    }

    /// The issuer of the access tokens it signs (Entra's v1 token issuer).
    pub fn token_issuer(&self) -> String {
        format!("https://sts.windows.net/{}/", Self::TENANT)
    }

    /// The JWKS of its access tokens.
    pub fn jwks_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/{}/discovery/v2.0/keys",
            self.port,
            Self::TENANT
        )
    }

    /// Every client assertion (or secret) it received and token it issued.
    pub fn secrets(&self) -> Vec<String> {
        serde_json::from_value(get_json(&format!(
            "http://127.0.0.1:{}/test/secrets",
            self.port
        )))
        .unwrap()
    }
}

/// kellnr behind the verifying gateway: kellnr's origin is the gateway, so
/// every URL Cargo learns from the index goes through it.
pub struct Gateway {
    _process: KillOnDrop,
    port: u16,
    /// The registry behind it.
    pub kellnr: Kellnr,
}

impl Gateway {
    /// Starts kellnr and the gateway trusting `idp`.
    pub fn start(idp: &Idp) -> Gateway {
        Gateway::start_for_audience(idp, "https://registry.test")
    }

    /// Like [`Self::start`], for tokens whose audience is `audience`.
    pub fn start_for_audience(idp: &Idp, audience: &str) -> Gateway {
        Gateway::start_env(&[("ISSUER", idp.issuer()), ("AUDIENCE", audience.to_owned())])
    }

    /// Starts kellnr and the gateway accepting exactly the access tokens
    /// `entra` signs (its keys and issuer) for `audience`, with the app role
    /// `Packaging.ReadWrite` (Entra's tokens carry roles, not scopes).
    pub fn start_for_entra(entra: &Entra, audience: &str) -> Gateway {
        Gateway::start_env(&[
            ("ISSUER", entra.token_issuer()),
            ("JWKS_URL", entra.jwks_url()),
            ("AUDIENCE", audience.to_owned()),
            ("ROLE", "Packaging.ReadWrite".to_owned()),
        ])
    }

    /// Starts kellnr and the gateway accepting the opaque tokens that
    /// `verify_url` accepts (a GET with the `Authorization` header as Cargo
    /// sent it answers 200), e.g. the fake CodeArtifact's `/test/check`.
    pub fn start_verifying(verify_url: &str) -> Gateway {
        Gateway::start_env(&[("VERIFY_URL", verify_url.to_owned())])
    }

    /// [`Self::start_verifying`] for a registry anyone may read, like
    /// crates.io (`OPEN_READS`): a read without a token is forwarded with
    /// kellnr's, the index's `config.json` says `"auth-required": false`, a
    /// write needs a token `verify_url` accepts, and so does any request
    /// that carries one.
    pub fn start_verifying_open_reads(verify_url: &str) -> Gateway {
        Gateway::start_env(&[
            ("VERIFY_URL", verify_url.to_owned()),
            ("OPEN_READS", "1".to_owned()),
        ])
    }

    /// Starts kellnr and a front like Azure Artifacts': it accepts only
    /// `Authorization: Basic base64(user:password)`.
    pub fn start_basic(user: &str, password: &str) -> Gateway {
        Gateway::start_env(&[
            ("BASIC_USER", user.to_owned()),
            ("BASIC_PASSWORD", password.to_owned()),
        ])
    }

    fn start_env(env: &[(&str, String)]) -> Gateway {
        // Held until kellnr is up, so kellnr cannot be given the same port.
        let reserved = reserve_port();
        let kellnr = Kellnr::start_with_origin(reserved.port());
        let port = reserved.release();
        let mut env = env.to_vec();
        env.extend([
            ("PORT", port.to_string()),
            ("UPSTREAM_PORT", kellnr.port().to_string()),
            ("UPSTREAM_TOKEN", kellnr.token().to_owned()),
        ]);
        let process = start_node("gateway.mjs", &env)
            .unwrap_or_else(|why| panic!("{why}; is port {port} taken?"));
        Gateway {
            _process: process,
            port,
            kellnr,
        }
    }

    /// The index URL Cargo is configured with.
    pub fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/api/v1/crates/", self.port)
    }

    /// The status of a GET of `path` through the gateway with `authorization`.
    pub fn get_status(&self, path: &str, authorization: &str) -> u16 {
        super::http()
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .header("authorization", authorization)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    /// `{accepted, rejected, rejections, open_reads}` counted by the gateway.
    pub fn stats(&self) -> serde_json::Value {
        get_json(&format!("http://127.0.0.1:{}/gateway/stats", self.port))
    }
}

/// Runs the headless user (`node tests/idp/user.mjs ARGS`: `device
/// <verification_uri> <user_code>` or `browse <authorization_url>`, with
/// `--login NAME`, `--deny`, `--tamper-state`, `--print-redirect`), killed
/// (and the test failed) after 30 s. Its output holds no code or token,
/// except the redirect URL that `--print-redirect` prints.
pub fn user_agent(args: &[&str]) -> Output {
    if !on_path("node") {
        missing_component("Node.js (`node`, for the test IdP's user)");
    }
    let mut cmd = Command::new("node");
    cmd.arg(idp_dir().join("user.mjs"))
        .args(args)
        .current_dir(idp_dir())
        .env_clear()
        .envs(base_env());
    process::run(cmd, None, Duration::from_secs(30))
}

/// A `$BROWSER` for the provider: signs in as the headless user at the URL
/// it is given and delivers the redirect. Appends that URL to the file named
/// by `$BROWSER_LOG` when set; `$BROWSER_ARGS` adds `user.mjs` flags.
pub fn browser_script() -> PathBuf {
    idp_dir().join("browser.sh")
}

fn get_json(url: &str) -> serde_json::Value {
    let body = super::http().get(url).send().unwrap().text().unwrap();
    serde_json::from_str(&body).unwrap()
}
