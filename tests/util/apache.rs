//! A real token-verifying reverse proxy in front of kellnr: Debian's Apache
//! httpd with mod_auth_openidc as an OAuth 2.0 resource server, on
//! 127.0.0.1, stopped when dropped.
//!
//! It does what a registry operator would (docs/registries/advertise.md):
//! under `/api/` every request needs an access token that Apache verifies
//! itself (the IdP's JWT: signature with the IdP's key, `iss`, `aud` = the
//! registry's resource identifier, expiry); a request without one gets 401
//! with mod_auth_openidc's own `WWW-Authenticate: Bearer …` plus the RFC 9728
//! challenge `Bearer resource_metadata="…"`; the metadata JSON is served
//! from a file (so a test can change it while Apache runs) at the
//! path-inserted well-known URL; a verified request goes on to kellnr with
//! kellnr's own token. `/meta/redirect` redirects to the metadata (for the
//! negative case).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::idp::Idp;
use super::kellnr::Kellnr;
use super::process::KillOnDrop;
use super::{ReservedPort, base_env, missing_component};

/// Where Debian's packages put the server and its modules.
const APACHE: &str = "/usr/sbin/apache2";
const MODULES: &str = "/usr/lib/apache2/modules";

/// How the proxy is set up.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The URL the 401's challenge names (default: the metadata's own).
    pub challenge_url: Option<String>,
    /// No RFC 9728 challenge at all (only mod_auth_openidc's own).
    pub no_challenge: bool,
    /// The whole value of the added `WWW-Authenticate` header, instead of
    /// `Bearer resource_metadata="…"` (no `"` in it).
    pub challenge_value: Option<String>,
}

/// A running Apache in front of a running kellnr.
pub struct Apache {
    process: KillOnDrop,
    port: u16,
    dir: tempfile::TempDir,
    /// The registry behind it.
    pub kellnr: Kellnr,
}

/// The path of the metadata, `resource`'s path inserted (RFC 9728 §3.1).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/api/v1/crates";

impl Apache {
    /// The registry's resource identifier when Apache listens on `port`:
    /// what the IdP must accept as a resource indicator (its `RESOURCE`).
    pub fn resource_for(port: u16) -> String {
        format!("http://127.0.0.1:{port}/api/v1/crates")
    }

    /// Starts kellnr and Apache on `port` (reserved by the caller, who
    /// started `idp` with `RESOURCE` = [`Self::resource_for`] it), trusting
    /// `idp`'s access tokens.
    pub fn start(port: ReservedPort, idp: &Idp, options: &Options) -> Apache {
        if !Path::new(APACHE).is_file() || !Path::new(MODULES).join("mod_auth_openidc.so").is_file()
        {
            missing_component(
                "Apache httpd with mod_auth_openidc (Debian: apache2, libapache2-mod-auth-openidc)",
            );
        }
        let kellnr = Kellnr::start_with_origin(port.port());
        let dir = tempfile::tempdir().unwrap();
        // Apache's workers run as www-data: what they serve must be readable.
        let www = dir.path().join("www");
        std::fs::create_dir_all(&www).unwrap();
        set_mode(dir.path(), 0o755);
        set_mode(&www, 0o755);
        let key: serde_json::Value = super::http()
            .get(format!("{}/test/signing-key", idp.issuer()))
            .send()
            .unwrap()
            .text()
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        let pem = dir.path().join("idp.pem");
        std::fs::write(&pem, key["pem"].as_str().unwrap()).unwrap();
        set_mode(&pem, 0o644);
        let port = port.release();
        let base = format!("http://127.0.0.1:{port}");
        let resource = Apache::resource_for(port);
        let metadata = format!("{base}{METADATA_PATH}");
        let apache = Apache {
            process: KillOnDrop(Command::new("true").spawn().unwrap()),
            port,
            dir,
            kellnr,
        };
        apache.set_metadata(&serde_json::json!({
            "resource": resource,
            "authorization_servers": [idp.issuer()],
            "scopes_supported": ["read", "publish"],
            "bearer_methods_supported": ["header"],
        }));
        let challenge = if options.no_challenge {
            String::new()
        } else if let Some(value) = &options.challenge_value {
            format!(
                "Header always add WWW-Authenticate \"{value}\" \"expr=%{{REQUEST_STATUS}} == 401\""
            )
        } else {
            let url = options.challenge_url.clone().unwrap_or(metadata.clone());
            format!(
                "Header always add WWW-Authenticate \"Bearer resource_metadata=\\\"{url}\\\"\" \
                 \"expr=%{{REQUEST_STATUS}} == 401\""
            )
        };
        let d = apache.dir.path().display().to_string();
        let modules = [
            ("mpm_event", "mpm_event"),
            ("authn_core", "authn_core"),
            ("authz_core", "authz_core"),
            ("authz_user", "authz_user"),
            ("auth_openidc", "auth_openidc"),
            ("headers", "headers"),
            ("proxy", "proxy"),
            ("proxy_http", "proxy_http"),
            ("alias", "alias"),
            ("mime", "mime"),
        ]
        .iter()
        .map(|(name, file)| format!("LoadModule {name}_module {MODULES}/mod_{file}.so\n"))
        .collect::<String>();
        let config = format!(
            r#"{modules}
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{d}/httpd.pid"
DefaultRuntimeDir "{d}"
Mutex file:{d}
ErrorLog "{d}/error.log"
LogFormat "%m %U %>s" short
CustomLog "{d}/access.log" short
LogLevel warn
User www-data
Group www-data
TypesConfig /etc/mime.types
Timeout 30

OIDCCryptoPassphrase "test-passphrase-{port}"
OIDCOAuthVerifyCertFiles "{kid}#{pem}"
OIDCOAuthRemoteUserClaim sub

Alias "{METADATA_PATH}" "{d}/www/metadata.json"
<Location "/.well-known/">
  Require all granted
  ForceType application/json
</Location>
Redirect 302 /meta/redirect {metadata}

<Location "/api/">
  AuthType oauth20
  <RequireAll>
    Require claim iss:{issuer}
    Require claim aud:{resource}
  </RequireAll>
  RequestHeader set Authorization "{kellnr_token}"
  ProxyPass "http://127.0.0.1:{kellnr_port}/api/"
  ProxyPassReverse "http://127.0.0.1:{kellnr_port}/api/"
</Location>
{challenge}
"#,
            kid = key["kid"].as_str().unwrap(),
            pem = pem.display(),
            issuer = idp.issuer(),
            kellnr_token = apache.kellnr.token(),
            kellnr_port = apache.kellnr.port(),
        );
        let conf = apache.dir.path().join("httpd.conf");
        std::fs::write(&conf, config).unwrap();
        let log = std::fs::File::create(apache.dir.path().join("stdout.log")).unwrap();
        // -X: one process (threads), so stopping it stops everything.
        let child = Command::new(APACHE)
            .args(["-X", "-f"])
            .arg(&conf)
            .env_clear()
            .envs(base_env())
            .env("APACHE_RUN_DIR", apache.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start apache2");
        let mut apache = apache;
        apache.process = KillOnDrop(child);
        apache.wait_until_up();
        apache
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.process.0.try_wait().unwrap() {
                panic!("apache2 exited ({status}):\n{}", self.log());
            }
            let up = super::http()
                .get(format!("http://127.0.0.1:{}{METADATA_PATH}", self.port))
                .timeout(Duration::from_secs(2))
                .send()
                .is_ok_and(|r| r.status().as_u16() == 200);
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "apache2 did not answer in 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Apache's logs.
    pub fn log(&self) -> String {
        ["stdout.log", "error.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every request Apache has answered so far, as `METHOD PATH STATUS`.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Serves `doc` as the metadata from now on.
    pub fn set_metadata(&self, doc: &serde_json::Value) {
        self.set_metadata_text(&doc.to_string());
    }

    /// Serves `text` as the metadata from now on.
    pub fn set_metadata_text(&self, text: &str) {
        let path = self.metadata_file();
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o644);
    }

    fn metadata_file(&self) -> PathBuf {
        self.dir.path().join("www").join("metadata.json")
    }

    /// The index URL Cargo is configured with.
    pub fn index_url(&self) -> String {
        format!("sparse+http://127.0.0.1:{}/api/v1/crates/", self.port)
    }

    /// The metadata URL.
    pub fn metadata_url(&self) -> String {
        format!("http://127.0.0.1:{}{METADATA_PATH}", self.port)
    }

    /// The registry's resource identifier.
    pub fn resource(&self) -> String {
        Apache::resource_for(self.port)
    }

    /// A GET of `path` with `authorization` (if any): the status and the
    /// `WWW-Authenticate` headers.
    pub fn get(&self, path: &str, authorization: Option<&str>) -> (u16, Vec<String>) {
        let mut req = super::http().get(format!("http://127.0.0.1:{}{path}", self.port));
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        let res = req.timeout(Duration::from_secs(10)).send().unwrap();
        let challenges = res
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect();
        (res.status().as_u16(), challenges)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
