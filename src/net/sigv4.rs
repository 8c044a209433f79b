//! AWS Signature Version 4 for the one request that needs it: CodeArtifact's
//! empty-bodied `POST /v1/authorization-token`.
//!
//! Written here rather than taken from the `aws-sigv4` crate, which brought
//! 12 crates (the smithy runtime and types, base64-simd, bytes-utils, ...)
//! into every build for about a hundred lines of hashing: about 22 s of CPU
//! and 13 s of a `cargo install` on 2 cores. The algorithm is
//! AWS's "Create a signed AWS API request"; the tests pin it to signatures
//! that botocore's signer computed, and the e2e tests send it to a stand-in
//! that verifies it with botocore.
//!
//! HMAC-SHA256 and SHA-256 are ring's (already here for TLS). The secret
//! key, the keys derived from it, the canonical request and the headers
//! returned (the session token is one) are in buffers zeroized when dropped;
//! ring's HMAC keeps padded copies of each key on its own stack, which it
//! does not clear.

use ring::{digest, hmac};
use zeroize::Zeroizing;

use crate::secret::Token;

/// The access key that signs: its id, its secret, and the session token of
/// temporary credentials.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// `AKIA…` / `ASIA…`: not secret, it is sent in the clear.
    pub key_id: &'a str,
    /// The secret access key.
    pub secret: &'a Token,
    /// The session token of temporary credentials, signed and sent as
    /// `x-amz-security-token`.
    pub session: Option<&'a Token>,
}

/// The headers (`authorization`, `x-amz-date`, and `x-amz-security-token`
/// for temporary credentials) that sign an empty-bodied POST of `url` to
/// AWS `service` in `region` at `unix_time` (seconds). The `host` header
/// signed is the URL's host and port, which is what an HTTP client sends.
/// Build the URL's query with [`query`], so that what is signed is what is
/// sent.
pub fn post_headers(
    url: &url::Url,
    region: &str,
    service: &str,
    signer: Signer<'_>,
    unix_time: i64,
) -> anyhow::Result<Vec<(&'static str, Zeroizing<String>)>> {
    let Some(host) = url.host_str() else {
        anyhow::bail!("cannot sign a request without a host");
    };
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let when = time::OffsetDateTime::from_unix_timestamp(unix_time)
        .map_err(|_| anyhow::anyhow!("cannot sign a request at an impossible time"))?;
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        when.year(),
        u8::from(when.month()),
        when.day(),
        when.hour(),
        when.minute(),
        when.second()
    );
    let day = &amz_date[..8];

    // Canonical headers, by name: host, x-amz-date, x-amz-security-token.
    let mut headers = vec![
        ("host", Zeroizing::new(host)),
        ("x-amz-date", Zeroizing::new(amz_date.clone())),
    ];
    if let Some(session) = signer.session {
        headers.push((
            "x-amz-security-token",
            Zeroizing::new(session.expose().to_owned()),
        ));
    }
    let signed_headers = headers
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = Zeroizing::new(format!(
        "POST\n{}\n{}\n",
        encode(&normalized_path(url.path()), true),
        canonical_query(url)
    ));
    for (name, value) in &headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value.trim());
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex(digest::digest(&digest::SHA256, b"").as_ref()));

    let scope = format!("{day}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );

    let first = Zeroizing::new(format!("AWS4{}", signer.secret.expose()));
    let mut key = Zeroizing::new(first.as_bytes().to_vec());
    for part in [day, region, service, "aws4_request"] {
        key = mac(&key, part.as_bytes());
    }
    let signature = hex(&mac(&key, string_to_sign.as_bytes()));

    let mut out = vec![
        (
            "authorization",
            Zeroizing::new(format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                signer.key_id
            )),
        ),
        ("x-amz-date", Zeroizing::new(amz_date)),
    ];
    if let Some(session) = signer.session {
        out.push((
            "x-amz-security-token",
            Zeroizing::new(session.expose().to_owned()),
        ));
    }
    Ok(out)
}

/// A query string of `pairs`, in their order, encoded the way SigV4
/// canonicalises them: a URL whose query is set to this is signed exactly as
/// it is sent (a form encoding would send `+` for a space and `%7E` for
/// `~`, and sign something else).
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `path` without empty segments (`//`), as AWS (and botocore) normalise
/// it for every service but S3; a trailing `/` is kept.
fn normalized_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = format!("/{}", segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// HMAC-SHA256 of `data` under `key`.
fn mac(key: &[u8], data: &[u8]) -> Zeroizing<Vec<u8>> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    Zeroizing::new(hmac::sign(&key, data).as_ref().to_vec())
}

/// The query's parameters, decoded, encoded again the way SigV4 encodes
/// them and sorted by name, then value: what AWS computes from the query it
/// receives, however the client encoded it.
fn canonical_query(url: &url::Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (encode(&k, false), encode(&v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// SigV4's URI encoding: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` in
/// a path) as `%XX`, upper-case. A path arrives already percent-encoded
/// from the URL, so its `%` are encoded again: the double encoding that
/// every service but S3 expects.
fn encode(text: &str, path: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b'/' if path => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers for a POST of `url` at `time`, signed with AWS's
    /// example key (the secret of AWS's own SigV4 test suite).
    fn sign(
        url: &str,
        (region, service): (&str, &str),
        session: Option<&str>,
        time: i64,
    ) -> Vec<(&'static str, Zeroizing<String>)> {
        let secret = Token::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into());
        let session = session.map(|s| Token::new(s.into()));
        let signer = Signer {
            key_id: "AKIDEXAMPLE",
            secret: &secret,
            session: session.as_ref(),
        };
        post_headers(
            &url::Url::parse(url).unwrap(),
            region,
            service,
            signer,
            time,
        )
        .unwrap()
    }

    fn header<'a>(headers: &'a [(&'static str, Zeroizing<String>)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    // The expected signatures were computed by botocore 1.44.18's
    // `SigV4Auth` (the signer the CodeArtifact stand-in verifies with) for
    // the same requests; the first is also AWS's test-suite `post-vanilla`.

    #[test]
    fn aws_post_vanilla() {
        let h = sign(
            "https://example.amazonaws.com/",
            ("us-east-1", "service"),
            None,
            1_440_938_160,
        );
        assert_eq!(
            header(&h, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
            )
        );
        assert_eq!(header(&h, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(header(&h, "x-amz-security-token"), None);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn codeartifact_with_a_session_token_signs_the_token_and_the_query() {
        let h = sign(
            "https://codeartifact.eu-west-1.amazonaws.com/v1/authorization-token?domain=d&domain-owner=123456789012&duration=900",
            ("eu-west-1", "codeartifact"),
            Some("session-Rt55"),
            1_700_000_000,
        );
        assert_eq!(
            header(&h, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/eu-west-1/codeartifact/aws4_request, \
                 SignedHeaders=host;x-amz-date;x-amz-security-token, \
                 Signature=e56a996833b7358a97a7be26f657b364cd0e0640c9f5b5d1fa95b4b62557a5f9"
            )
        );
        assert_eq!(header(&h, "x-amz-date"), Some("20231114T221320Z"));
        assert_eq!(header(&h, "x-amz-security-token"), Some("session-Rt55"));
    }

    #[test]
    fn a_port_is_part_of_the_signed_host_and_the_query_is_sorted() {
        let h = sign(
            "http://127.0.0.1:8443/v1/authorization-token?duration=0&domain=my-domain&domain-owner=111122223333",
            ("us-east-1", "service"),
            Some("FwoG/ZXIvYXdzE+abc=="),
            1_700_000_123,
        );
        assert!(
            header(&h, "authorization").unwrap().ends_with(
                "Signature=79785f709ca823de575efa3b5ac34b3f50e5d55c976c2eff4a615ff1a2685595"
            ),
            "{h:?}"
        );
    }

    #[test]
    fn the_path_is_encoded_twice_and_repeated_parameters_sorted_by_value() {
        let h = sign(
            "https://example.amazonaws.com/a%20b/c~d?b=2&a=x~y&a=1",
            ("us-east-1", "service"),
            None,
            1_440_938_160,
        );
        assert!(
            header(&h, "authorization").unwrap().ends_with(
                "Signature=4a81f7646d4d9f24fbe51ffc06b4e5cd1f8a3f545366439a31e6c34b41451a03"
            ),
            "{h:?}"
        );
    }

    #[test]
    fn the_secret_is_in_no_header() {
        let h = sign(
            "https://example.amazonaws.com/",
            ("us-east-1", "service"),
            Some("tok"),
            1_440_938_160,
        );
        assert!(h.iter().all(|(_, v)| !v.contains("wJalrXUtnFEMI")), "{h:?}");
    }

    #[test]
    fn empty_path_segments_are_dropped_as_aws_normalises_them() {
        // review: `codeartifact-endpoint = "https://proxy.example//ca"`
        // was signed with `//` where AWS and botocore sign `/`.
        for (url, signature) in [
            (
                "https://proxy.example//ca/v1/authorization-token?domain=d",
                "a0f3468402b9be371f5b83d6ce4ba71df1db09a3aff32f81d95f6b88a891c447",
            ),
            (
                "https://proxy.example/ca//v1/x/",
                "d0ff8d9af798bf7d6245d40a09ecfbc002cf100a40752ed5b10bc0164ea3ae3c",
            ),
        ] {
            let h = sign(url, ("us-east-1", "service"), None, 1_440_938_160);
            let auth = header(&h, "authorization").unwrap();
            assert!(auth.ends_with(signature), "{url}: {auth}");
        }
        assert_eq!(normalized_path("/"), "/");
        assert_eq!(normalized_path("//"), "/");
        assert_eq!(normalized_path("/a//b/"), "/a/b/");
    }

    #[test]
    fn a_query_built_by_query_is_signed_as_it_is_sent() {
        let mut url = url::Url::parse("https://example.amazonaws.com/p").unwrap();
        url.set_query(Some(&query(&[
            ("domain", "my domain~*+"),
            ("domain-owner", "é/&="),
        ])));
        assert_eq!(
            url.query(),
            Some("domain=my%20domain~%2A%2B&domain-owner=%C3%A9%2F%26%3D")
        );
        // What is signed is the query as sent, sorted.
        assert_eq!(canonical_query(&url), url.query().unwrap());
    }
}
