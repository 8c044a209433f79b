//! The bodies of the fuzz targets in `fuzz_targets/`, one function each, and
//! what they share. A target panics (which libFuzzer reports as a crash) when
//! the code under test panics or breaks one of the invariants checked here.
//!
//! Secrets are planted with a marker: every `0xFF` byte of the input (never
//! part of valid UTF-8, so it means nothing to a parser) is replaced by
//! [`MARKER`] before the input is parsed. Where a target says a secret must
//! not be shown, the marker must not appear in the message, compared without
//! regard to case (URL schemes and hosts are lower-cased when shown).

use base64::Engine as _;
use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, Error, RegistryInfo, Secret,
};
use cargo_credential_corp::config::Config;
use cargo_credential_corp::net::http::Response;
use cargo_credential_corp::oidc::exchange;
use cargo_credential_corp::oidc::identity;
use cargo_credential_corp::registry::Registry;

/// The planted secret: token-shaped, letters and digits only.
pub const MARKER: &str = "tok9Zq7SECRETm4rk3rXv2";

/// `data` with every `0xFF` byte replaced by [`MARKER`].
pub fn plant(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    for &b in data {
        if b == 0xFF {
            out.extend_from_slice(MARKER.as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// Whether `text` shows the marker (case-insensitive).
pub fn shows_marker(text: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&MARKER.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------
// protocol_request

/// An in-memory provider: a login is answered with the token it carried (as
/// if it had been stored and read back); a get with a fixed token; a logout
/// succeeds; anything else is not supported. Its own errors quote nothing.
pub struct Memory;

/// The token [`Memory`] answers a `get` with.
pub const FIXED_TOKEN: &str = "fixed-token";

impl Credential for Memory {
    fn perform(
        &self,
        registry: &RegistryInfo<'_>,
        action: &Action<'_>,
        _args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        if registry.name == Some("crates-io") {
            return Err(Error::UrlNotSupported);
        }
        match action {
            Action::Login(o) => match &o.token {
                Some(t) => Ok(CredentialResponse::Get {
                    token: t.to_owned().map(String::from),
                    cache: CacheControl::Never,
                    operation_independent: true,
                }),
                None => Err("login needs a token".into()),
            },
            Action::Get(_) => Ok(CredentialResponse::Get {
                token: Secret::from(FIXED_TOKEN.to_owned()),
                cache: CacheControl::Session,
                operation_independent: true,
            }),
            Action::Logout => Ok(CredentialResponse::Logout),
            _ => Err(Error::OperationNotSupported),
        }
    }
}

/// The input lines as the protocol reads them (a last line without `\n`
/// counts).
fn split_lines(input: &[u8]) -> Vec<&[u8]> {
    input.split_inclusive(|&b| b == b'\n').collect()
}

/// Bytes → request lines → `protocol::serve` with [`Memory`].
///
/// Invariants: the session ends only with the input, never with a panic; the
/// first output line is the hello; then exactly one reply per input line (one
/// that is not UTF-8 or too long included); every reply is a JSON object
/// `{"Ok": …}` or `{"Err": …}`; a reply token is the request's own token,
/// decoded; an `Err` reply never shows the marker.
pub fn protocol_request(data: &[u8]) {
    let input = plant(data);
    let mut out = Vec::new();
    cargo_credential_corp::protocol::serve(&Memory, &input[..], &mut out)
        .expect("only I/O errors end the session");
    let lines = split_lines(&input);
    let text = String::from_utf8(out).expect("the output is UTF-8");
    let mut replies = text.split_terminator('\n');
    assert_eq!(replies.next(), Some(r#"{"v":[1]}"#), "hello first");
    let replies: Vec<&str> = replies.collect();
    assert_eq!(replies.len(), lines.len(), "one reply per line");
    for (reply, line) in replies.iter().zip(&lines) {
        let value: serde_json::Value = serde_json::from_str(reply).expect("a reply is JSON");
        let obj = value.as_object().expect("a reply is an object");
        assert_eq!(obj.len(), 1, "{reply}");
        if let Some(err) = obj.get("Err") {
            assert!(err.get("kind").is_some_and(|k| k.is_string()), "{reply}");
            assert!(
                !shows_marker(reply),
                "an error reply shows the secret: {reply}"
            );
        } else {
            let ok = obj.get("Ok").expect("Ok or Err");
            if let Some(token) = ok.get("token").and_then(|t| t.as_str())
                && token != FIXED_TOKEN
            {
                // A login echoed: the token must be the request's, decoded.
                let request: serde_json::Value =
                    serde_json::from_slice(line).expect("an answered line is JSON");
                assert_eq!(request["token"].as_str(), Some(token), "{reply}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// config

/// Where [`config`] puts the marker: a table header and a line in which
/// `{}` becomes the value (text, marker, text).
const CONFIG_SLOTS: &[(&str, &str)] = &[
    ("", "serve = \"{}\""),
    ("[defaults]", "sources = [\"{}\"]"),
    ("[defaults]", "auth-scheme = \"{}\""),
    ("[defaults]", "env = [\"{}\"]"),
    ("[registries.r]", "index = \"{}\""),
    ("[registries.r]", "env = [\"OK\", \"{}\"]"),
    ("[registries.r]", "keychain-timeout-ms = {}"),
    ("[registries.r.oidc]", "token-endpoint = \"{}\""),
    ("[registries.r.oidc]", "issuer = \"{}\""),
    (
        "[registries.r.oidc]",
        "issuer = \"https://i.example\"\nclient-secret = \"{}\"",
    ),
    (
        "[registries.r.oidc]",
        "issuer = \"https://i.example\"\nclient-id = \"{}\"\nclient-auth = \"x\"",
    ),
    (
        "[registries.r.oidc]",
        "issuer = \"https://i.example\"\nidentity-env = \"{}\"\nidentity = \"nope\"",
    ),
    (
        "[registries.r.oidc]",
        "issuer = \"https://i.example\"\ngrant = \"{}\"",
    ),
    (
        "[registries.r.oidc]",
        "issuer = \"https://i.example\"\nidentity-command = [\"{}\"]\ntimeout-ms = 1",
    ),
    ("[registries.r.oidc]", "audience = \"{}\"\nscope = 1"),
];

/// Whether [`config`] checks that its error messages do not show the planted
/// value. On by default; `FUZZ_CONFIG_ALLOW_ECHO=1` turns it off, to look for
/// panics while config errors still quote values.
fn config_checks_echo() -> bool {
    static CHECK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CHECK.get_or_init(|| std::env::var_os("FUZZ_CONFIG_ALLOW_ECHO").is_none_or(|v| v != "1"))
}

/// Bytes → one or two config texts → `Config::from_texts`, then
/// `settings_for` on a few registries. The input is `selector, prefix \0 before
/// \0 after \0 second-layer`; the text is `prefix`, then a slot of
/// [`CONFIG_SLOTS`] whose value is `before MARKER after`.
///
/// Invariants: nothing panics; an error message never shows the marker (a
/// value); a loaded config answers `settings_for` and an index mismatch error
/// names the configured index only if it was configured.
pub fn config(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(4, |&b| b == 0);
    let mut part = || std::str::from_utf8(parts.next().unwrap_or_default()).ok();
    let (Some(prefix), Some(before), Some(after), Some(second)) = (part(), part(), part(), part())
    else {
        return;
    };
    let (header, line) = CONFIG_SLOTS[usize::from(selector) % CONFIG_SLOTS.len()];
    let value = format!("{before}{MARKER}{after}");
    let text = format!("{prefix}\n{header}\n{}\n", line.replace("{}", &value));
    let texts: Vec<(&str, &str)> = if selector & 0x80 != 0 {
        vec![("/home/u/config.toml", &text), ("/etc/system.toml", second)]
    } else {
        vec![("/home/u/config.toml", &text)]
    };
    let config = match Config::from_texts(&texts) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("{e:#} {e:?}");
            if config_checks_echo() {
                assert!(
                    !shows_marker(&msg),
                    "a config error shows the planted value:\n{msg}\n--- text:\n{text}"
                );
            }
            return;
        }
    };
    let _ = config.files().count();
    for (name, index) in [
        (Some("r"), "sparse+https://r.example/api/v1/crates/"),
        (Some("r"), "https://other.example/index"),
        (None, "sparse+https://r.example/api/v1/crates"),
        (Some("crates-io"), "sparse+https://index.crates.io/"),
        (None, ""),
        (Some(""), value.as_str()),
    ] {
        let _ = config.index_for(name.unwrap_or(""));
        match config.settings_for(&Registry {
            index_url: index,
            name,
        }) {
            Ok(Some(s)) => {
                assert!(!s.sources.is_empty());
                assert!(!s.keychain_timeout.is_zero());
            }
            Ok(None) => {}
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// token_response

/// An HTTP status from the input: mostly 200 and the usual refusals.
fn status(selector: u8, extra: &[u8]) -> u16 {
    match selector % 8 {
        0..=3 => 200,
        4 => 400,
        5 => 401,
        6 => 500,
        _ => match extra {
            [a, b, ..] => u16::from_le_bytes([*a, *b]),
            _ => 302,
        },
    }
}

/// A field of a JSON body read into a struct whose fields are `fields`, if
/// it is a string: by name from an object, by position from an array (serde's
/// derived `Deserialize` accepts both).
fn field(body: &serde_json::Value, fields: &[&str], name: &str) -> Option<String> {
    let value = match body {
        serde_json::Value::Array(items) => items.get(fields.iter().position(|f| *f == name)?)?,
        _ => body.get(name)?,
    };
    value.as_str().map(str::to_owned)
}

/// Bytes → `exchange::parse(status, body, endpoint)`.
///
/// Invariants: nothing panics; an issued token is non-empty, has no control
/// character or surrounding space, and a lifetime, when known, is within
/// `1..=MAX_LIFETIME_SECS` (so `now + lifetime` cannot overflow); an error
/// never shows the marker, wherever it is in the body: not from
/// `access_token`/`token`, and not from the IdP's own `error` or
/// `error_description` either (shown cleaned and with token-shaped text
/// redacted; the marker is token-shaped).
pub fn token_response(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let status = status(selector, rest);
    let body = plant(rest);
    const EP: &str = "https://idp.example/token";
    match exchange::parse(status, &body, EP) {
        Ok(issued) => {
            let t = issued.token.expose();
            assert!(!t.is_empty() && !t.contains(char::is_control));
            assert!(!t.starts_with(' ') && !t.ends_with(' '));
            assert!(
                issued
                    .expires_in
                    .is_none_or(|n| (1..=exchange::MAX_LIFETIME_SECS).contains(&n)),
                "{:?}",
                issued.expires_in
            );
        }
        Err(e) => {
            let msg = format!("{e:#} {e:?}");
            assert!(
                !shows_marker(&msg),
                "the error shows a planted secret: {msg}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// discovery

/// The fields of the discovery document `parse_discovery` reads, in order.
const DISCOVERY_FIELDS: &[&str] = &["issuer", "token_endpoint"];

/// Bytes → `exchange::parse_discovery(body, issuer, shown)`.
///
/// Invariants: nothing panics; an accepted document names the configured
/// issuer; an accepted token endpoint passes the HTTP policy (https, or http
/// to loopback; no credentials in it); an error shows
/// the marker only when it is in the advertised endpoint's scheme, host or
/// path (never from its user info, query or fragment, nor from any other
/// field of the document).
pub fn discovery(data: &[u8]) {
    let body = plant(data);
    let issuer = "https://idp.example";
    let shown = "https://idp.example/.well-known/openid-configuration";
    let result = exchange::parse_discovery(&body, issuer, shown);
    // serde_json's `Value` refuses some numbers (`1e999`) that a struct
    // ignores in fields it does not read: nothing to compare with then.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return;
    };
    match result {
        Ok(endpoint) => {
            let named = field(&value, DISCOVERY_FIELDS, "issuer").expect("accepted: an issuer");
            assert_eq!(
                named.trim_end_matches('/'),
                issuer,
                "another issuer accepted"
            );
            let url = url::Url::parse(&endpoint).expect("an accepted endpoint is a URL");
            assert!(matches!(url.scheme(), "https" | "http"), "{endpoint}");
            assert!(url.username().is_empty() && url.password().is_none());
        }
        Err(e) => {
            let msg = format!("{e:#} {e:?}");
            if !shows_marker(&msg) {
                return;
            }
            let advertised = field(&value, DISCOVERY_FIELDS, "token_endpoint").unwrap_or_default();
            let visible = url::Url::parse(&advertised).map(|mut u| {
                u.set_query(None);
                u.set_fragment(None);
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            });
            assert!(
                visible.is_ok_and(|v| shows_marker(&v)),
                "the error shows a planted secret: {msg}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// ci_identity

/// Bytes → `identity::ci_token` (the CI system's JSON answer).
///
/// Invariants: nothing panics; a token is the field's value without
/// surrounding spaces and without control characters; an error never shows
/// the marker (the answer is never quoted).
pub fn ci_identity(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let status = status(selector, rest);
    let body = plant(rest);
    let name = if selector & 0x80 != 0 {
        "oidcToken"
    } else {
        "value"
    };
    let answer = Response {
        status,
        body: body.clone(),
    };
    match identity::ci_token(answer, name, "GitHub Actions", "check the job") {
        Ok(token) => {
            let value: serde_json::Value = serde_json::from_slice(&body).expect("accepted: JSON");
            let raw = value[name]
                .as_str()
                .expect("accepted: the field is a string");
            assert_eq!(token.expose(), raw.trim_matches(' '));
            assert!(!token.expose().is_empty() && !token.expose().contains(char::is_control));
        }
        Err(e) => {
            let msg = format!("{e:#} {e:?}");
            assert!(!shows_marker(&msg), "the error quotes the answer: {msg}");
        }
    }
}

// ---------------------------------------------------------------------------
// jwt_claims

/// Bytes → a token → `exchange::jwt_lifetime`. The first byte picks how the
/// rest becomes a token: as it is; as the payload of `h.<payload>.s`
/// (base64url without or with padding, so that the fuzzer works on the
/// JSON); or `{"exp":N}` with `N` an offset (4 bytes) from a base the next
/// byte picks: `i64::MIN`, `i64::MAX`, zero or now (so that the ends of `i64`
/// are reached).
///
/// Invariants: nothing panics or overflows; for a payload whose `exp` is an
/// integer, the lifetime is `exp - now` (saturated at the ends of `i64`).
pub fn jwt_claims(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mode = selector % 5;
    let payload: Vec<u8> = match mode {
        4 => {
            // An integer near an end of i64, near zero or near now.
            let mut offset = [0u8; 4];
            let tail = rest.get(1..).unwrap_or_default();
            let len = tail.len().min(4);
            offset[..len].copy_from_slice(&tail[..len]);
            let base = match rest.first().map(|b| b % 4) {
                Some(0) => i64::MIN,
                Some(1) => i64::MAX,
                Some(2) => 0,
                _ => time::OffsetDateTime::now_utc().unix_timestamp(),
            };
            let exp = base.wrapping_add(i64::from(i32::from_le_bytes(offset)));
            format!(r#"{{"exp":{exp}}}"#).into_bytes()
        }
        _ => rest.to_vec(),
    };
    let token = match mode {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 | 4 => format!("h.{}.s", b64.encode(&payload)),
        2 => format!(
            "h.{}",
            base64::engine::general_purpose::URL_SAFE.encode(&payload)
        ),
        _ => format!("{}.{}", b64.encode(b"{}"), b64.encode(&payload)),
    };
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let lifetime = exchange::jwt_lifetime(&token);
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    if mode == 0 {
        return;
    }
    // serde_json's `Value` refuses some numbers (`1e999`) that a struct
    // ignores in fields it does not read: nothing to compare with then.
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&payload) else {
        return;
    };
    let exp = match &claims {
        serde_json::Value::Array(items) => items.first(),
        _ => claims.get("exp"),
    };
    let Some(n) = lifetime else {
        assert!(mode != 4, "no lifetime for {claims}");
        return;
    };
    let exp = exp.and_then(|e| e.as_i64()).expect("exp is an integer");
    assert!(
        (exp.saturating_sub(after)..=exp.saturating_sub(before)).contains(&n),
        "exp {exp}, lifetime {n}"
    );
}

// ---------------------------------------------------------------------------
// challenge

/// Bytes → `challenge::parse_all` over the `\n`-separated header values,
/// then `resource_metadata`.
///
/// Invariants: nothing panics; the caps hold (challenges, parameters per
/// challenge, no parameter named twice); parameter names are lower-case
/// tokens; an error message never shows the marker (the header is never
/// quoted); a `resource_metadata` found is the value of a Bearer
/// challenge's parameter.
pub fn challenge(data: &[u8]) {
    use cargo_credential_corp::oauth::challenge;
    let input = plant(data);
    let Ok(text) = std::str::from_utf8(&input) else {
        return;
    };
    let values: Vec<&str> = text.split('\n').collect();
    match challenge::parse_all(&values) {
        Ok(all) => {
            assert!(all.len() <= challenge::MAX_CHALLENGES);
            for c in &all {
                assert!(!c.scheme.is_empty());
                assert!(c.params.len() <= challenge::MAX_PARAMS);
                assert!(c.token68.is_none() || c.params.is_empty());
                for (i, (name, _)) in c.params.iter().enumerate() {
                    assert_eq!(name, &name.to_ascii_lowercase());
                    assert!(
                        !c.params[..i].iter().any(|(n, _)| n == name),
                        "{name} twice"
                    );
                }
            }
            match challenge::resource_metadata(&all) {
                Ok(Some(url)) => assert!(
                    all.iter()
                        .any(|c| c.is("bearer")
                            && c.param("resource_metadata") == Some(url.as_str()))
                ),
                Ok(None) => {}
                Err(e) => assert!(!shows_marker(&e.to_string())),
            }
        }
        Err(e) => assert!(
            !shows_marker(&e.to_string()),
            "the error quotes the header: {e}"
        ),
    }
}

// ---------------------------------------------------------------------------
// resource_metadata

/// Bytes → `resource::check` for an index on `https://r.example`, with and
/// without an expected resource (the first byte picks).
///
/// Invariants: nothing panics; an accepted document's resource contains the
/// index (same origin, path under it) and equals the expected one (a
/// trailing `/` aside) when given; its authorization servers pass the HTTP
/// policy and are at most the cap; its scopes are scope tokens; an error
/// shows the marker only where it is in the advertised resource or an
/// authorization server's URL (which messages name), never from elsewhere.
pub fn resource_metadata(data: &[u8]) {
    use cargo_credential_corp::oauth::resource;
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let body = plant(rest);
    let index = url::Url::parse("https://r.example/api/v1/crates/").expect("a URL");
    let expected = (selector & 1 == 1).then_some("https://r.example/api/v1/crates");
    match resource::check(&body, "https://r.example/m", expected, &index) {
        Ok(m) => {
            let r = url::Url::parse(&m.resource).expect("accepted: a URL");
            assert!(resource::under(&index, &r));
            if let Some(e) = expected {
                assert_eq!(m.resource.trim_end_matches('/'), e);
            }
            assert!(!m.authorization_servers.is_empty());
            assert!(m.authorization_servers.len() <= resource::MAX_AUTHORIZATION_SERVERS);
            for s in &m.authorization_servers {
                let u = url::Url::parse(s).expect("accepted: a URL");
                assert!(u.scheme() == "https" || u.scheme() == "http");
                assert!(u.query().is_none() && u.fragment().is_none());
            }
            assert!(m.scopes.iter().all(|s| resource::is_scope_token(s)));
        }
        Err(e) => {
            let msg = format!("{e:#} {e:?}");
            if shows_marker(&msg) {
                // serde_json's `Value` refuses some numbers (`1e999`) that a
                // struct ignores: nothing to compare with then.
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    return;
                };
                let named = value
                    .get("resource")
                    .map(ToString::to_string)
                    .unwrap_or_default()
                    + &value
                        .get("authorization_servers")
                        .map(ToString::to_string)
                        .unwrap_or_default();
                assert!(
                    shows_marker(&named),
                    "the error shows a planted secret: {msg}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// as_metadata

/// Bytes → `discovery::parse_authorization_server` for `https://l.example`.
///
/// Invariants: nothing panics; an accepted document states exactly the
/// issuer named; every endpoint kept passes the HTTP policy; it offers a
/// usable flow whose endpoint is kept; an error shows the marker only where
/// it is in an advertised endpoint URL (which messages name).
pub fn as_metadata(data: &[u8]) {
    use cargo_credential_corp::oauth::discovery;
    let body = plant(data);
    let issuer = "https://l.example";
    match discovery::parse_authorization_server(&body, issuer, "https://l.example/m") {
        Ok(s) => {
            let value: serde_json::Value = serde_json::from_slice(&body).expect("accepted: JSON");
            assert_eq!(value["issuer"].as_str(), Some(issuer));
            let m = &s.metadata;
            for u in [
                Some(&m.token_endpoint),
                m.authorization_endpoint.as_ref(),
                m.device_authorization_endpoint.as_ref(),
                m.revocation_endpoint.as_ref(),
                s.registration_endpoint.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(
                    cargo_credential_corp::net::url::checked_url(u).is_ok(),
                    "{u}"
                );
            }
            assert!(s.code_flow || s.device_flow);
            assert_eq!(s.code_flow, m.authorization_endpoint.is_some());
            assert_eq!(s.device_flow, m.device_authorization_endpoint.is_some());
        }
        Err(e) => {
            let msg = format!("{e:#} {e:?}");
            if shows_marker(&msg) {
                // serde_json's `Value` refuses some numbers (`1e999`) that a
                // struct ignores: nothing to compare with then.
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    return;
                };
                let endpoints = value
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, _)| k.ends_with("_endpoint"))
                            .map(|(_, v)| v.to_string())
                            .collect::<String>()
                    })
                    .unwrap_or_default();
                assert!(
                    shows_marker(&endpoints),
                    "the error shows a planted secret: {msg}"
                );
            }
        }
    }
}
