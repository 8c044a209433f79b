//! TLS for identity endpoints: rustls (ring) with the platform verifier,
//! that is the OS trust store (on Linux and the BSDs the system CA bundle,
//! found where OpenSSL looks, `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured; the
//! Keychain on macOS; the certificate store on Windows), plus the extra CAs
//! of `ca-file` and Cargo's `http.cainfo` (see [`super::network`]).
//!
//! A certificate that does not verify is reported with what was wrong and
//! who issued it: the verifier is wrapped so that its error carries the
//! issuer's common name and organisation, read from the certificate the
//! server presented (a TLS-inspecting proxy shows up as its own CA).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};

/// The rustls configuration of HTTPS clients: the OS trust store and
/// `extra_roots`. This is what costs time at start-up (the OS store is read
/// and parsed), so it is built only when an HTTPS client is.
pub(crate) fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = platform_verifier(extra_roots, provider.clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Explaining(Arc::new(verifier))))
        .with_no_client_auth();
    // What reqwest sets for an HTTP/1.1-only client.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(not(target_os = "android"))]
fn platform_verifier(
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> anyhow::Result<rustls_platform_verifier::Verifier> {
    rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider).map_err(|e| {
        anyhow::anyhow!(
            "cannot load the trusted CA certificates ({e}); install the system's CA bundle \
             (e.g. the `ca-certificates` package) or set `ca-file`"
        )
    })
}

#[cfg(target_os = "android")]
fn platform_verifier(
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> anyhow::Result<rustls_platform_verifier::Verifier> {
    if !extra_roots.is_empty() {
        anyhow::bail!(
            "extra CA certificates (`ca-file`, http.cainfo) are not supported on Android"
        );
    }
    rustls_platform_verifier::Verifier::new(provider)
        .map_err(|e| anyhow::anyhow!("cannot load the trusted CA certificates ({e})"))
}

/// A rustls configuration that trusts nothing: for clients that only ever
/// speak plain http (to loopback), so that they do not pay for reading the
/// OS trust store.
pub(crate) fn no_trust_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// Why the server's certificate was refused, and who issued it.
#[derive(Debug, Clone)]
pub(crate) struct CertificateRefused {
    /// What the verifier found wrong.
    pub kind: CertificateError,
    /// The issuer named by the server's certificate (`CN=…, O=…`), when it
    /// could be read.
    pub issuer: Option<String>,
}

impl fmt::Display for CertificateRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(issuer) = &self.issuer {
            write!(f, " (issued by \"{issuer}\")")?;
        }
        Ok(())
    }
}

impl std::error::Error for CertificateRefused {}

impl CertificateRefused {
    /// The refusal inside a rustls error, if it is one.
    pub(crate) fn from_rustls(e: &rustls::Error) -> Option<CertificateRefused> {
        let rustls::Error::InvalidCertificate(kind) = e else {
            return None;
        };
        if let CertificateError::Other(OtherError(inner)) = kind
            && let Some(refused) = inner.downcast_ref::<CertificateRefused>()
        {
            return Some(refused.clone());
        }
        Some(CertificateRefused {
            kind: kind.clone(),
            issuer: None,
        })
    }
}

/// The platform verifier, whose certificate errors carry the issuer.
#[derive(Debug)]
struct Explaining(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for Explaining {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(kind) => rustls::Error::InvalidCertificate(
                    CertificateError::Other(OtherError(Arc::new(CertificateRefused {
                        kind,
                        issuer: issuer_of(end_entity),
                    }))),
                ),
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.0.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.0.root_hint_subjects()
    }
}

/// One DER element at the start of `input`: its tag, its contents and what
/// follows it. `None` for anything malformed (a multi-byte tag, an
/// indefinite or oversized length, a truncated element).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The issuer of the DER certificate `cert`, as `CN=…, O=…` (the common
/// name and organisation only; cleaned of control characters and cut to a
/// readable length). `None` when it cannot be read or names neither.
pub(crate) fn issuer_of(cert: &[u8]) -> Option<String> {
    let (0x30, certificate, _) = element(cert)? else {
        return None;
    };
    let (0x30, tbs, _) = element(certificate)? else {
        return None;
    };
    let (mut tag, _, mut rest) = element(tbs)?;
    if tag == 0xa0 {
        // [0] version
        (tag, _, rest) = element(rest)?;
    }
    if tag != 0x02 {
        // serialNumber
        return None;
    }
    let (0x30, _, rest) = element(rest)? else {
        // signature algorithm
        return None;
    };
    let (0x30, name, _) = element(rest)? else {
        return None;
    };
    describe_name(name)
}

/// `CN=…, O=…` from the contents of an X.501 `Name`.
fn describe_name(mut name: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    let (mut cn, mut o) = (None, None);
    while !name.is_empty() {
        let (0x31, mut set, rest) = element(name)? else {
            return None;
        };
        name = rest;
        while !set.is_empty() {
            let (0x30, pair, rest) = element(set)? else {
                return None;
            };
            set = rest;
            let (0x06, oid, value) = element(pair)? else {
                return None;
            };
            let (kind, text, _) = element(value)?;
            let slot = match oid {
                CN => &mut cn,
                O => &mut o,
                _ => continue,
            };
            if slot.is_none() {
                *slot = directory_string(kind, text);
            }
        }
    }
    let parts: Vec<String> = [("CN", cn), ("O", o)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A `DirectoryString` as text, for a message: control characters and
/// quotes dropped, at most 80 characters.
fn directory_string(kind: u8, bytes: &[u8]) -> Option<String> {
    let text: String = match kind {
        // UTF8String, PrintableString, IA5String
        0x0c | 0x13 | 0x16 => String::from_utf8_lossy(bytes).into_owned(),
        // TeletexString (in practice Latin-1)
        0x14 => bytes.iter().map(|b| char::from(*b)).collect(),
        // BMPString (UTF-16BE)
        0x1e => char::decode_utf16(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        _ => return None,
    };
    let clean: String = text
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(80)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element with `tag` around `contents`.
    fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = contents.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        out.extend_from_slice(contents);
        out
    }

    fn attribute(oid: &[u8], kind: u8, value: &[u8]) -> Vec<u8> {
        der(
            0x31,
            &der(0x30, &[der(0x06, oid), der(kind, value)].concat()),
        )
    }

    /// A certificate-shaped DER with this issuer `Name` contents (nothing
    /// after the issuer is needed).
    fn cert_with_issuer(name: &[u8], version: bool) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(der(0xa0, &der(0x02, &[2])));
        }
        tbs.extend(der(0x02, &[0x12, 0x34]));
        tbs.extend(der(0x30, &der(0x06, &[0x2a, 0x86, 0x48])));
        tbs.extend(der(0x30, name));
        tbs.extend(der(0x30, &[0u8; 200]));
        der(
            0x30,
            &[der(0x30, &tbs), der(0x30, &[]), der(0x03, &[0])].concat(),
        )
    }

    #[test]
    fn the_issuer_common_name_and_organisation_are_read() {
        let name = [
            attribute(&[0x55, 0x04, 0x06], 0x13, b"DE"),
            attribute(&[0x55, 0x04, 0x0a], 0x0c, b"Corp AG"),
            attribute(&[0x55, 0x04, 0x03], 0x13, b"Corp Inspection CA"),
        ]
        .concat();
        for version in [true, false] {
            assert_eq!(
                issuer_of(&cert_with_issuer(&name, version)).as_deref(),
                Some("CN=Corp Inspection CA, O=Corp AG")
            );
        }
        let bmp: Vec<u8> = "Zürich CA"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let name = attribute(&[0x55, 0x04, 0x03], 0x1e, &bmp);
        assert_eq!(
            issuer_of(&cert_with_issuer(&name, true)).as_deref(),
            Some("CN=Zürich CA")
        );
        let name = attribute(&[0x55, 0x04, 0x03], 0x0c, "a\u{1b}[31m\"b\nc".as_bytes());
        assert_eq!(
            issuer_of(&cert_with_issuer(&name, true)).as_deref(),
            Some("CN=a[31mbc")
        );
        let long = "x".repeat(500);
        let name = attribute(&[0x55, 0x04, 0x03], 0x0c, long.as_bytes());
        assert_eq!(
            issuer_of(&cert_with_issuer(&name, true)).map(|s| s.len()),
            Some(3 + 80)
        );
        let name = attribute(&[0x55, 0x04, 0x06], 0x13, b"DE");
        assert_eq!(issuer_of(&cert_with_issuer(&name, true)), None);
    }

    #[test]
    fn malformed_certificates_give_none_and_never_panic() {
        let name = attribute(&[0x55, 0x04, 0x03], 0x0c, b"Some CA");
        let good = cert_with_issuer(&name, true);
        assert!(issuer_of(&good).is_some());
        for cut in 0..good.len() {
            let _ = issuer_of(&good[..cut]);
        }
        let mut state = 0x2545_f491_u32;
        for _ in 0..20_000 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = state as usize % bytes.len();
                bytes[at] = (state >> 8) as u8;
            }
            let _ = issuer_of(&bytes);
        }
        assert_eq!(issuer_of(&[]), None);
        assert_eq!(issuer_of(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(issuer_of(&[0x30, 0x80, 0, 0]), None);
        assert_eq!(issuer_of(&[0x1f, 0x01, 0x00]), None);
    }

    #[test]
    fn a_refusal_is_found_in_the_rustls_error_and_shown_with_its_issuer() {
        let refused = CertificateRefused {
            kind: CertificateError::UnknownIssuer,
            issuer: Some("CN=Corp CA".into()),
        };
        let wrapped = rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
            Arc::new(refused.clone()),
        )));
        let found = CertificateRefused::from_rustls(&wrapped).unwrap();
        assert_eq!(found.kind, CertificateError::UnknownIssuer);
        assert_eq!(found.issuer.as_deref(), Some("CN=Corp CA"));
        assert!(found.to_string().contains("CN=Corp CA"), "{found}");
        let plain = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert_eq!(
            CertificateRefused::from_rustls(&plain).unwrap().kind,
            CertificateError::Expired
        );
        assert!(CertificateRefused::from_rustls(&rustls::Error::DecryptError).is_none());
    }
}
