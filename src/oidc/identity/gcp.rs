//! The GCP metadata server's ID token (`identity = "gcp"`): the identity of
//! the service account attached to the VM, or of the workload (GKE Workload
//! Identity, Cloud Run, Cloud Build), for `identity-audience`.
//!
//! `GET http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/identity?audience=<identity-audience>&format=full`
//! with `Metadata-Flavor: Google`; the body is the JWT.
//!
//! **Never detected.** `identity = "auto"` does not pick it: there is no
//! variable that every Google Cloud environment sets, and a signal such as
//! the DMI product name would also be true on a developer's Cloud
//! Workstation or VM. Only `identity = "gcp"` makes a call to the metadata
//! server, so none is ever made on a developer's machine by surprise.
//!
//! **The one plain-http exception, and how narrow it is.** The HTTP policy
//! ([`crate::net::http`]) allows plain http only to loopback; the metadata
//! server speaks only plain http, on a link-local address. The exception
//! lives here and nowhere else, for exactly this request:
//!
//! - the URL is built here, from a fixed path: no setting can point it
//!   anywhere else;
//! - the host is the link-local address `169.254.169.254` (the address
//!   Google's Go client uses; no name lookup, and link-local traffic is never
//!   routed off the host's link), port 80. `GCE_METADATA_HOST`, the variable
//!   Google's client libraries honour (`host` or `host:port`), may name the
//!   same server (`169.254.169.254`, `metadata.google.internal`, port 80) or
//!   a loopback emulator (any port); anything else is refused;
//! - never through a proxy (a client built here with no proxy at all), no
//!   redirect followed (refused, as for every identity endpoint), and the
//!   deadline, size cap and error messages of [`Http::send`];
//! - the request carries no secret (only the audience); the answer, the ID
//!   token, is a secret from the moment it is read and is never quoted.
//!
//! Keyed on what the server answers: the token is obtained before the cache
//! lookup ([`super::Identity::resolve`], one local call per run) and the
//! fingerprint is a digest of its stable claims, so two workloads with
//! different service accounts never share a cached registry token, even
//! with a shared cache folder.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{anyhow, bail};
use reqwest::Url;
use zeroize::Zeroizing;

use super::{CiSystem, Fetch, Identity};
use crate::cache;
use crate::child::Runner;
use crate::env::Environment;
use crate::net::http::Http;
use crate::net::url::{checked_url, display_url};
use crate::oidc::settings::{IdentityKind, OidcSettings};
use crate::secret::Token;

/// The metadata server's link-local address.
const METADATA_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// Its name inside Google Cloud.
const METADATA_NAME: &str = "metadata.google.internal";
/// The variable naming another metadata server (`host` or `host:port`).
const HOST_VAR: &str = "GCE_METADATA_HOST";
/// The ID token of the default service account.
const IDENTITY_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/identity";

/// The GCP metadata server.
pub(super) struct Gcp;

impl CiSystem for Gcp {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Gcp
    }

    /// Never: see the module's documentation.
    fn detect(&self, _: &OidcSettings, _: &dyn Environment) -> bool {
        false
    }

    fn locate(&self, settings: &OidcSettings, env: &dyn Environment) -> anyhow::Result<Identity> {
        let audience = settings
            .identity_audience
            .as_deref()
            .ok_or_else(|| anyhow!("identity \"gcp\" needs `identity-audience`"))?;
        let host = env
            .var_os(HOST_VAR)
            .map(|v| v.into_string().map_err(|_| refused()))
            .transpose()?;
        let url = metadata_url(host.as_deref(), audience)?;
        Ok(Identity {
            kind: self.kind(),
            // Replaced by a digest of the ID token (`resolve`).
            fingerprint: cache::key(&["gcp", url.as_str()]),
            how: Box::new(Metadata {
                url,
                timeout: settings.timeout,
            }),
        })
    }
}

fn refused() -> anyhow::Error {
    anyhow!(
        "{HOST_VAR} must be the `host` or `host:port` of the GCP metadata server \
         ({METADATA_IP} or {METADATA_NAME}, port 80) or of an emulator on a loopback address; \
         the ID token is asked of nothing else over plain http"
    )
}

/// The ID token URL on `host` (default: the link-local address), checked.
fn metadata_url(host: Option<&str>, audience: &str) -> anyhow::Result<Url> {
    let host = match host.map(str::trim) {
        None | Some("") => METADATA_IP.to_string(),
        Some(h) if h.contains(['/', '\\', '@', '?', '#']) => return Err(refused()),
        Some(h) => h.to_owned(),
    };
    let mut url = Url::parse(&format!("http://{host}{IDENTITY_PATH}")).map_err(|_| refused())?;
    if url.path() != IDENTITY_PATH || !(metadata_server(&url) || checked_url(url.as_str()).is_ok())
    {
        return Err(refused());
    }
    url.query_pairs_mut()
        .append_pair("audience", audience)
        .append_pair("format", "full");
    Ok(url)
}

/// Whether `url` is the metadata server itself: its address or its name,
/// on port 80.
fn metadata_server(url: &Url) -> bool {
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == METADATA_IP,
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case(METADATA_NAME),
        _ => false,
    };
    host && url.port_or_known_default() == Some(80)
}

/// The request to the metadata server.
struct Metadata {
    url: Url,
    timeout: Duration,
}

impl Fetch for Metadata {
    fn resolve_early(&self) -> Option<&'static str> {
        Some("gcp")
    }

    fn fetch(self: Box<Self>, http: &Http, _: &Runner) -> anyhow::Result<Token> {
        // Its own client: plain http to a host the general policy refuses,
        // never through a proxy, no redirects. `Http::send` then applies the
        // deadline, the size cap and refuses a redirect with a clear error.
        let client = Http::metadata_client(self.timeout, Duration::from_secs(5))?;
        let request = client
            .get(self.url.clone())
            .header("Metadata-Flavor", "Google");
        let answer = http.send(&self.url, request)?;
        if answer.status != 200 {
            bail!(
                "the GCP metadata server {} refused an ID token (HTTP {}); check that this runs \
                 on Google Cloud with a service account attached to the VM or workload, and \
                 `identity-audience`",
                display_url(&self.url),
                answer.status
            );
        }
        let what = "the GCP metadata server's ID token";
        let text = Zeroizing::new(
            String::from_utf8(answer.body).map_err(|_| anyhow!("{what} is not text"))?,
        );
        Token::parse(text.trim_end_matches(['\n', '\r']).to_owned(), what)?
            .ok_or_else(|| anyhow!("the GCP metadata server returned an empty ID token"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::locate;
    use super::super::test_util::{env, settings};
    use super::*;

    #[test]
    fn the_url_is_the_link_local_address_unless_overridden() {
        let url = metadata_url(None, "https://idp.example").unwrap();
        assert_eq!(
            url.as_str(),
            "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/\
             identity?audience=https%3A%2F%2Fidp.example&format=full"
        );
        for allowed in [
            "metadata.google.internal",
            "METADATA.google.internal:80",
            "169.254.169.254:80",
            "127.0.0.1:8080",
            "localhost:1",
            "[::1]:9",
        ] {
            let url = metadata_url(Some(allowed), "a").unwrap();
            assert_eq!(url.path(), IDENTITY_PATH, "{allowed}");
        }
        assert_eq!(
            metadata_url(Some(" "), "a").unwrap().host_str(),
            Some("169.254.169.254")
        );
        for refused in [
            "evil.example",
            "10.0.0.1",
            "169.254.169.254:8080",
            "metadata.google.internal:8080",
            "metadata.google.internal.evil.example",
            "169.254.169.253",
            "user@127.0.0.1",
            "127.0.0.1/elsewhere",
            "127.0.0.1?x=1",
            "127.0.0.1#f",
            "http://127.0.0.1",
        ] {
            let msg = metadata_url(Some(refused), "a").unwrap_err().to_string();
            assert!(msg.contains(HOST_VAR), "{refused}: {msg}");
        }
    }

    #[test]
    fn only_asked_for_and_only_with_an_audience() {
        let id = locate(
            &settings("identity = \"gcp\"\nidentity-audience = \"corp\"\n"),
            &env(&[(HOST_VAR, "127.0.0.1:9")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(id.kind, IdentityKind::Gcp);
        let raw: crate::oidc::settings::RawOidc =
            toml::from_str("issuer = \"https://i\"\nidentity = \"gcp\"\n").unwrap();
        let msg = format!("{:#}", raw.validate("t").unwrap_err());
        assert!(msg.contains("identity-audience"), "{msg}");
    }

    /// A one-shot server on 127.0.0.1 answering `answer`; the request it got.
    fn serve_once(answer: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap();
            conn.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (port, thread)
    }

    #[test]
    fn the_answer_body_is_the_identity_and_a_refusal_is_not_quoted() {
        let s = settings("identity = \"gcp\"\nidentity-audience = \"corp\"\n");
        let run = super::super::test_util::runner(Duration::from_secs(5));
        let (port, request) = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-type: application/text\r\ncontent-length: 13\r\n\
             connection: close\r\n\r\ngcp-jwt-Tq41\n",
        );
        let host = format!("127.0.0.1:{port}");
        let id = locate(&s, &env(&[(HOST_VAR, &host)])).unwrap().unwrap();
        let id = id.resolve(&run).unwrap();
        let request = request.join().unwrap().to_ascii_lowercase();
        assert!(request.starts_with(
            "get /computemetadata/v1/instance/service-accounts/default/identity?\
             audience=corp&format=full "
        ));
        assert!(
            request.contains("\r\nmetadata-flavor: google\r\n"),
            "{request}"
        );
        assert_eq!(
            id.fingerprint,
            cache::key(&[
                "gcp",
                &super::super::identity_digest(&Token::new("gcp-jwt-Tq41".into()))
            ])
        );
        let http = Http::new(Duration::from_secs(5)).unwrap();
        assert_eq!(id.fetch(&http, &run).unwrap().expose(), "gcp-jwt-Tq41");

        let (port, _) = serve_once(
            "HTTP/1.1 404 Not Found\r\ncontent-length: 16\r\nconnection: close\r\n\r\n\
             secret-body-Vv28",
        );
        let host = format!("127.0.0.1:{port}");
        let id = locate(&s, &env(&[(HOST_VAR, &host)])).unwrap().unwrap();
        let msg = format!("{:#}", id.resolve(&run).unwrap_err());
        assert!(
            msg.contains("HTTP 404")
                && msg.contains("metadata server")
                && !msg.contains("secret-body"),
            "{msg}"
        );
    }
}
