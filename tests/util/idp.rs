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
use super::process::KillOnDrop;
use super::{base_env, free_port, missing_component, on_path, reserve_port};

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
        // A port picked free can be taken before node binds it: try another.
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let env = [("PORT", port.to_string()), ("AT_TTL", at_ttl.to_string())];
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

    /// The GitHub-Actions-style `ACTIONS_ID_TOKEN_REQUEST_URL`.
    pub fn ci_token_url(&self) -> String {
        format!("{}/ci/token?api-version=2.0", self.issuer())
    }

    /// Tokens issued so far, all grants.
    pub fn issued(&self) -> u64 {
        get_json(&format!("{}/test/stats", self.issuer()))["total"]
            .as_u64()
            .unwrap()
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
        // Held until kellnr is up, so kellnr cannot be given the same port.
        let reserved = reserve_port();
        let kellnr = Kellnr::start_with_origin(reserved.port());
        let port = reserved.release();
        let process = start_node(
            "gateway.mjs",
            &[
                ("PORT", port.to_string()),
                ("UPSTREAM_PORT", kellnr.port().to_string()),
                ("ISSUER", idp.issuer()),
                ("UPSTREAM_TOKEN", kellnr.token().to_owned()),
                ("AUDIENCE", audience.to_owned()),
            ],
        )
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

    /// `{accepted, rejected, rejections}` counted by the gateway.
    pub fn stats(&self) -> serde_json::Value {
        get_json(&format!("http://127.0.0.1:{}/gateway/stats", self.port))
    }
}

fn get_json(url: &str) -> serde_json::Value {
    let body = super::http().get(url).send().unwrap().text().unwrap();
    serde_json::from_str(&body).unwrap()
}
