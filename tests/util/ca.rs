//! A company CA made for one test with the real `openssl` command: a root
//! CA ("cargo-credential-corp Test CA", organisation "Corp Test Network")
//! and a server certificate it issued for 127.0.0.1, localhost and the
//! names asked for. Valid for two days, in a temporary folder removed on
//! drop; nothing is installed in any trust store.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// The CA's common name, as a certificate error should show it.
pub const CA_NAME: &str = "cargo-credential-corp Test CA";
/// The CA's organisation.
pub const CA_ORG: &str = "Corp Test Network";

/// A test CA and a server certificate it issued.
pub struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    /// Makes the CA and a server certificate for 127.0.0.1, localhost and
    /// `names` (DNS names).
    pub fn new(names: &[&str]) -> TestCa {
        if !super::on_path("openssl") {
            super::missing_component("openssl (Debian package `openssl`)");
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("ca.cnf"),
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n\
                 [dn]\nO = {CA_ORG}\nCN = {CA_NAME}\n\
                 [v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
                 keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
            ),
        )
        .unwrap();
        let mut san = String::from("IP:127.0.0.1,DNS:localhost");
        for name in names {
            san.push_str(&format!(",DNS:{name}"));
        }
        std::fs::write(
            d.join("server.cnf"),
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = test server\n\
                 [v3_server]\nbasicConstraints = critical,CA:FALSE\n\
                 keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n\
                 subjectAltName = {san}\nauthorityKeyIdentifier = keyid\n\
                 subjectKeyIdentifier = hash\n"
            ),
        )
        .unwrap();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(
            d,
            &format!("req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -config ca.cnf"),
        );
        openssl(
            d,
            &format!("req -new {ec} -keyout server.key -out server.csr -config server.cnf"),
        );
        openssl(
            d,
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 0x5eed \
             -out server.pem -days 2 -extfile server.cnf -extensions v3_server",
        );
        openssl(d, "x509 -in server.pem -outform DER -out server.der");
        openssl(
            d,
            "pkcs8 -topk8 -nocrypt -in server.key -outform DER -out server.key.der",
        );
        TestCa { dir }
    }

    /// The CA certificate (PEM): what `ca-file` names.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A rustls server configuration with the server certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let cert = std::fs::read(self.dir.path().join("server.der")).unwrap();
        let key = std::fs::read(self.dir.path().join("server.key.der")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            )
            .unwrap();
        Arc::new(config)
    }
}

/// Runs `openssl` in `dir` with `args` (split on spaces).
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("cannot run openssl");
    assert!(
        out.status.success(),
        "openssl {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A name of this machine other than `localhost` (so the provider treats
/// it as a remote host) that resolves to a loopback address, and that
/// address: the host name, as `/etc/hosts` maps it on most machines (to
/// 127.0.1.1 on Debian, 127.0.0.1 here). Test traffic stays on loopback: a
/// host name that resolves elsewhere is not used.
pub fn own_name() -> (String, std::net::IpAddr) {
    use std::net::ToSocketAddrs as _;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| {
            Command::new("hostname")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        })
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("localhost"));
    let found = name.and_then(|name| {
        let ip = (name.as_str(), 0)
            .to_socket_addrs()
            .ok()?
            .map(|a| a.ip())
            .find(|ip| {
                ip.is_ipv4() && ip.is_loopback() && std::net::TcpListener::bind((*ip, 0)).is_ok()
            })?;
        Some((name, ip))
    });
    found.unwrap_or_else(|| {
        super::missing_component(
            "a host name of this machine (other than localhost) that resolves to a loopback \
             address in /etc/hosts",
        )
    })
}
