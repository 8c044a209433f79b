//! The AWS stand-ins (`tests/aws/codeartifact.py`): moto's real STS and a
//! fake CodeArtifact that verifies SigV4 with botocore's signer, in one
//! Python process on 127.0.0.1, stopped when dropped. The venv is made by
//! `scripts/test.sh` (`$CCC_AWS_VENV`, else `<test cache>/venv`).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::process::KillOnDrop;
use super::{base_env, missing_component};

pub const REGION: &str = "eu-west-1";
pub const DOMAIN: &str = "corp";
pub const OWNER: &str = "123456789012";

/// The venv's python.
pub fn python() -> PathBuf {
    let venv = std::env::var_os("CCC_AWS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            super::kellnr::binary()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("venv")
        });
    venv.join("bin").join("python")
}

/// The running stand-ins.
pub struct Aws {
    _process: KillOnDrop,
    pub sts_port: u16,
    pub codeartifact_port: u16,
}

impl Aws {
    /// Starts them (at most 60 s); `static_key` is `ACCESS_KEY:SECRET` accepted besides STS's keys.
    pub fn start(static_key: &str) -> Aws {
        let python = python();
        if !python.is_file() {
            missing_component(&format!(
                "the AWS stand-ins' Python venv with moto and botocore (expected {}; \
                 `scripts/test.sh` makes it from tests/aws/requirements.txt)",
                python.display()
            ));
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws/codeartifact.py");
        let mut child = Command::new(python)
            .arg(script)
            .args([
                "--region", REGION, "--domain", DOMAIN, "--owner", OWNER, "--static", static_key,
            ])
            .env_clear()
            .envs(base_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(ports) = line.strip_prefix("READY ") {
                    let _ = tx.send(ports.to_owned());
                }
            }
        });
        let guard = KillOnDrop(child);
        let ports = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the AWS stand-ins did not start within 60 s");
        let mut ports = ports.split(' ').map(|p| p.parse().unwrap());
        Aws {
            _process: guard,
            sts_port: ports.next().unwrap(),
            codeartifact_port: ports.next().unwrap(),
        }
    }

    pub fn sts_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/", self.sts_port)
    }

    pub fn codeartifact_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.codeartifact_port)
    }

    /// Where a gateway checks that an `Authorization` header is exactly a
    /// live token this fake issued (200, else 401).
    pub fn check_url(&self) -> String {
        format!("{}/test/check", self.codeartifact_endpoint())
    }

    pub fn stats(&self) -> serde_json::Value {
        super::http()
            .get(format!("{}/test/stats", self.codeartifact_endpoint()))
            .send()
            .unwrap()
            .text()
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap()
    }

    /// Tokens issued from now on live `secs` seconds.
    pub fn set_lifetime(&self, secs: u64) {
        super::http()
            .post(format!(
                "{}/test/lifetime?secs={secs}",
                self.codeartifact_endpoint()
            ))
            .send()
            .unwrap();
    }

    /// Every authorization token issued.
    pub fn issued(&self) -> Vec<String> {
        self.stats()["issued"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }
}
