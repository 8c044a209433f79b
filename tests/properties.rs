//! Property tests (proptest) of the parsers that read untrusted input: Cargo's
//! request lines, config files, the token endpoint's answer, the OIDC
//! discovery document, a CI system's identity answer and JWT claims. The same
//! parsers are fuzzed by the targets in `fuzz/` (`scripts/fuzz.sh`); a crash
//! found there is kept here as a regression test.
//!
//! A secret is planted as [`MARKER`]; a property that says it is never shown
//! compares without regard to case (URL schemes and hosts are lower-cased).

use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, Error, RegistryInfo, Secret,
};
use cargo_credential_corp::config::Config;
use cargo_credential_corp::net::http::Response;
use cargo_credential_corp::oidc::exchange;
use cargo_credential_corp::oidc::identity;
use cargo_credential_corp::protocol;
use cargo_credential_corp::registry::Registry;
use proptest::prelude::*;
use serde_json::json;

const MARKER: &str = "tok9Zq7SECRETm4rk3rXv2";

fn shows_marker(text: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&MARKER.to_ascii_lowercase())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Failures are kept as named regression tests below, not in files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text around the marker: anything, the marker intact.
fn planted() -> impl Strategy<Value = String> {
    ("\\PC{0,12}", "\\PC{0,12}").prop_map(|(a, b)| format!("{a}{MARKER}{b}"))
}

/// Text around the marker made of what messages quote with: backticks,
/// quotes, commas, spaces and words.
fn planted_in_quotes() -> impl Strategy<Value = String> {
    let around = "(`, |`|'|\"|, | |key|expected|one of){0,4}";
    (around, around).prop_map(|(a, b)| format!("{a}{MARKER}{b}"))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------
// Cargo's request lines

/// Answers a login with the token it carried, a get with a fixed token.
struct Memory;

const FIXED: &str = "fixed-token";

impl Credential for Memory {
    fn perform(
        &self,
        _: &RegistryInfo<'_>,
        action: &Action<'_>,
        _: &[&str],
    ) -> Result<CredentialResponse, Error> {
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
                token: Secret::from(FIXED.to_owned()),
                cache: CacheControl::Session,
                operation_independent: true,
            }),
            Action::Logout => Ok(CredentialResponse::Logout),
            _ => Err(Error::OperationNotSupported),
        }
    }
}

/// The replies to `input`, after checking the hello.
fn serve(input: impl AsRef<[u8]>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    protocol::serve(&Memory, input.as_ref(), &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(r#"{"v":[1]}"#));
    lines.map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A JSON value of any shape, small.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "\\PC{0,16}".prop_map(serde_json::Value::from),
        planted().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z-]{1,10}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request line: Cargo's shape with a few parts replaced by anything, maybe
/// cut short; or text that is hardly JSON at all.
fn request_line() -> impl Strategy<Value = String> {
    let field = |good: serde_json::Value| {
        prop_oneof![
            4 => Just(Some(good)),
            1 => Just(None),
            1 => any_json().prop_map(Some),
        ]
    };
    let request = (
        field(json!(1)),
        field(json!({"index-url": "sparse+https://r.example/", "name": "r"})),
        field(json!("login")),
        prop_oneof![planted().prop_map(serde_json::Value::from), any_json()],
        field(json!("read")),
        prop::option::of(any_json()),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(v, registry, kind, token, operation, extra, cut, whole)| {
            let mut m = serde_json::Map::new();
            for (k, val) in [
                ("v", v),
                ("registry", registry),
                ("kind", kind),
                ("token", Some(token)),
                ("operation", operation),
                ("args", extra),
            ] {
                if let Some(val) = val {
                    m.insert(k.to_owned(), val);
                }
            }
            let text = serde_json::Value::Object(m).to_string();
            if whole {
                text
            } else {
                let at = cut.index(text.len() + 1);
                let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap();
                text[..at].to_owned()
            }
        });
    prop_oneof![
        3 => request,
        1 => "[^\n]{0,60}",
        1 => "[{}\\[\\]\":,0-9a-z\\\\ -]{0,60}",
        1 => planted(),
    ]
    .prop_map(|l: String| l.replace('\n', " "))
}

proptest! {
    #![proptest_config(config())]

    /// Any lines: no panic, one JSON reply per line, no secret in an error.
    #[test]
    fn request_lines_get_one_reply_each_and_errors_never_quote_them(
        lines in prop::collection::vec(request_line(), 0..6),
        crlf in any::<bool>(),
    ) {
        let mut input = lines.join(if crlf { "\r\n" } else { "\n" });
        if crlf {
            input.push('\r');
        }
        let replies = serve(&input);
        prop_assert_eq!(replies.len(), input.split_terminator('\n').count());
        for reply in &replies {
            let obj = reply.as_object().unwrap();
            prop_assert_eq!(obj.len(), 1);
            if let Some(err) = obj.get("Err") {
                prop_assert!(err["kind"].is_string());
                prop_assert!(!shows_marker(&reply.to_string()), "{}", reply);
            } else {
                prop_assert!(obj.contains_key("Ok"));
            }
        }
    }

    /// Any bytes, UTF-8 or not, a line longer than the limit included: one
    /// reply per line, and the session goes on.
    #[test]
    fn byte_lines_get_one_reply_each(
        lines in prop::collection::vec(
            prop_oneof![
                8 => prop::collection::vec(any::<u8>(), 0..40),
                1 => Just(vec![b'a'; protocol::MAX_REQUEST_BYTES + 1]),
            ],
            0..5,
        ),
    ) {
        let mut input = Vec::new();
        for line in &lines {
            input.extend(line.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
            input.push(b'\n');
        }
        input.extend_from_slice(br#"{"v":1,"registry":{"index-url":"x"},"kind":"logout"}"#);
        let replies = serve(&input);
        prop_assert_eq!(replies.len(), lines.len() + 1);
        prop_assert_eq!(&replies[lines.len()], &json!({"Ok": {"kind": "logout"}}));
    }

    /// Any token, however it is escaped in JSON, reaches the provider as it was.
    #[test]
    fn login_tokens_round_trip_through_json_escapes(token in "\\PC*|.*|[\"\\\\\u{0}-\u{1f}\u{7f}]{1,8}", every in any::<bool>()) {
        let escaped = if every {
            // Every character as \uXXXX (surrogate pairs above the BMP).
            let mut s = String::from("\"");
            for unit in token.encode_utf16() {
                s.push_str(&format!("\\u{unit:04x}"));
            }
            s.push('"');
            s
        } else {
            serde_json::Value::from(token.as_str()).to_string()
        };
        let line = format!(
            r#"{{"v":1,"registry":{{"index-url":"sparse+https://r.example/"}},"kind":"login","token":{escaped}}}"#
        );
        let replies = serve(&line);
        prop_assert_eq!(replies.len(), 1);
        prop_assert_eq!(replies[0]["Ok"]["token"].as_str(), Some(token.as_str()));
    }
}

// ---------------------------------------------------------------------------
// config files

const KEYS: &[&str] = &[
    "serve",
    "sources",
    "env",
    "auth-scheme",
    "keychain-timeout-ms",
    "index",
    "issuer",
    "token-endpoint",
    "grant",
    "client-id",
    "client-auth",
    "client-secret-env",
    "client-secret-keychain",
    "identity",
    "identity-env",
    "identity-command",
    "scope",
    "publish-scope",
    "timeout-ms",
    "cache",
    "colour",
];

const VALUES: &[&str] = &[
    "\"env\"",
    "[\"env\", \"keychain\"]",
    "[\"oidc\"]",
    "[]",
    "\"listed\"",
    "\"all\"",
    "\"bearer\"",
    "0",
    "50",
    "600001",
    "-1",
    "true",
    "\"https://i.example\"",
    "\"http://i.example\"",
    "\"sparse+https://r.example/api/v1/crates/\"",
    "[\"A_TOKEN\"]",
    "[\"A=B\"]",
    "\"client-credentials\"",
    "\"client-secret-basic\"",
    "{ x = 1 }",
    "\"\"",
    "'''\nx'''",
];

/// Text that is mostly TOML of this config's shape, sometimes broken.
fn toml_ish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[defaults]".to_owned()),
        Just("[registries.a]".to_owned()),
        Just("[registries.a.oidc]".to_owned()),
        Just("[registries.\"\"]".to_owned()),
        (prop::sample::select(KEYS), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        (prop::sample::select(KEYS), planted())
            .prop_map(|(k, v)| format!("{k} = {}", toml_string(&v))),
        "[^\n]{0,20}",
        "[\\[\\]a-z=\". ,{}0-9#'-]{0,30}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What may follow a value on its line: nothing, or something that makes the
/// line (or the document) invalid.
fn tail() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "",
            "",
            " x",
            " = 1",
            ", 2",
            "\n[registries.r]",
            "\nbogus = 1",
        ][..],
    )
}

fn settings_for_some_registries(c: &Config) {
    for (name, index) in [
        (Some("a"), "sparse+https://r.example/api/v1/crates/"),
        (Some("a"), "https://elsewhere.example/"),
        (None, "sparse+https://r.example/api/v1/crates/"),
        (Some("crates-io"), "sparse+https://index.crates.io/"),
    ] {
        let _ = c.settings_for(&Registry {
            index_url: index,
            name,
        });
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any TOML-ish text, in one or two layers: no panic, whatever the answer.
    #[test]
    fn config_texts_never_panic(user in toml_ish(), system in toml_ish()) {
        for texts in [vec![("u.toml", user.as_str())], vec![("u.toml", user.as_str()), ("s.toml", system.as_str())]] {
            match Config::from_texts(&texts) {
                Ok(c) => settings_for_some_registries(&c),
                Err(e) => {
                    let msg = format!("{e:#}");
                    prop_assert!(msg.contains("u.toml") || msg.contains("s.toml"), "{}", msg);
                }
            }
        }
    }

    /// A value of `token-endpoint` is never shown by a config error.
    #[test]
    fn config_errors_never_show_a_token_endpoint_value(
        value in prop_oneof![planted(), planted_in_quotes()],
        scheme in prop::sample::select(&["", "https://", "http://", "ftp://", "https://u:p@"][..]),
        tail in tail(),
    ) {
        let text = format!(
            "[registries.r.oidc]\ntoken-endpoint = {}{tail}\n",
            toml_string(&format!("{scheme}{value}"))
        );
        if let Err(e) = Config::from_texts(&[("u.toml", &text)]) {
            let msg = format!("{e:#}");
            prop_assert!(!shows_marker(&msg), "{}\n--- from:\n{}", msg, text);
        }
    }

    /// A value of a key that takes one of a few words (an enum) is never
    /// shown by a config error, whatever quotes it holds.
    #[test]
    fn config_errors_never_show_an_enum_value(
        value in prop_oneof![planted(), planted_in_quotes()],
        (table, key, list) in prop::sample::select(&[
            ("", "serve", false),
            ("[defaults]", "sources", true),
            ("[defaults]", "auth-scheme", false),
            ("[registries.r]", "sources", true),
            ("[registries.r.oidc]", "grant", false),
            ("[registries.r.oidc]", "client-auth", false),
            ("[registries.r.oidc]", "identity", false),
            ("[registries.r.oidc]", "subject-token-type", false),
        ][..]),
    ) {
        let value = toml_string(&value);
        let value = if list { format!("[\"env\", {value}]") } else { value };
        let text = format!("{table}\n{key} = {value}\n");
        if let Err(e) = Config::from_texts(&[("u.toml", &text)]) {
            let msg = format!("{e:#}");
            prop_assert!(!shows_marker(&msg), "{}\n--- from:\n{}", msg, text);
        }
    }

    /// A value of `env` is never shown by a config error.
    #[test]
    fn config_errors_never_show_an_env_value(
        value in prop_oneof![planted(), planted_in_quotes()],
        table in prop::sample::select(&["[defaults]", "[registries.r]"][..]),
        tail in tail(),
    ) {
        let text = format!("{table}\nenv = [\"OK_TOKEN\", {}]{tail}\n", toml_string(&value));
        if let Err(e) = Config::from_texts(&[("u.toml", &text)]) {
            let msg = format!("{e:#}");
            prop_assert!(!shows_marker(&msg), "{}\n--- from:\n{}", msg, text);
        }
    }
}

// ---------------------------------------------------------------------------
// the token endpoint's answer

const EP: &str = "https://idp.example/token";

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(200u16), 1 => Just(400u16), 1 => Just(401u16), 1 => Just(500u16), 1 => any::<u16>()]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        any_json().prop_map(|v| v.to_string().into_bytes()),
        (
            prop::option::of(planted()),
            prop::option::of(any_json()),
            prop::option::of("[a-z_]{0,12}"),
        )
            .prop_map(|(token, expires_in, error)| {
                let mut m = serde_json::Map::new();
                if let Some(t) = token {
                    m.insert("access_token".into(), t.into());
                }
                if let Some(e) = expires_in {
                    m.insert("expires_in".into(), e);
                }
                if let Some(e) = error {
                    m.insert("error".into(), e.into());
                }
                serde_json::Value::Object(m).to_string().into_bytes()
            }),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any answer: no panic; a token is usable; a lifetime is positive and
    /// at most `MAX_LIFETIME_SECS`.
    #[test]
    fn token_responses_never_panic(status in status(), body in body()) {
        match exchange::parse(status, &body, EP) {
            Ok(issued) => {
                let t = issued.token.expose();
                prop_assert!(!t.is_empty() && !t.contains(char::is_control));
                prop_assert!(issued.expires_in.is_none_or(|n| (1..=exchange::MAX_LIFETIME_SECS).contains(&n)));
            }
            Err(e) => {
                let msg = format!("{e:#}");
                prop_assert!(msg.contains(EP), "{}", msg);
            }
        }
    }

    /// The `access_token` of an answer is never shown in an error, whatever
    /// else the answer holds and whatever the status.
    #[test]
    fn an_access_token_is_never_shown_in_an_error(
        status in status(),
        token in planted(),
        control in any::<bool>(),
        error in prop::option::of("[a-z_ ]{0,20}"),
        extra in any_json(),
    ) {
        let token = if control { format!("{token}\n") } else { token };
        let mut m = serde_json::Map::new();
        m.insert("access_token".into(), token.into());
        m.insert("extra".into(), extra);
        if let Some(e) = error {
            m.insert("error".into(), e.into());
        }
        let body = serde_json::Value::Object(m).to_string();
        if let Err(e) = exchange::parse(status, body.as_bytes(), EP) {
            let msg = format!("{e:#}");
            prop_assert!(!shows_marker(&msg), "{}", msg);
        }
    }

    /// A token-shaped secret in what the IdP says (`error`,
    /// `error_description`) is redacted: an IdP may echo the request.
    #[test]
    fn a_token_in_the_idp_error_text_is_never_shown(
        status in 400u16..600,
        error in prop_oneof![Just("invalid_grant".to_owned()), planted()],
        description in planted(),
    ) {
        let body = json!({"error": error, "error_description": description}).to_string();
        let msg = format!("{:#}", exchange::parse(status, body.as_bytes(), EP).unwrap_err());
        prop_assert!(!shows_marker(&msg), "{}", msg);
    }

    /// A lifetime can be added to the clock: `oidc::get` computes the expiry
    /// as `started + expires_in`.
    #[test]
    fn an_issued_lifetime_can_be_added_to_the_clock(
        n in prop_oneof![any::<i64>(), (i64::MAX - 1_000_000_000)..=i64::MAX],
        as_string in any::<bool>(),
    ) {
        let expires_in = if as_string { json!(n.to_string()) } else { json!(n) };
        let body = json!({"access_token": "at", "expires_in": expires_in}).to_string();
        let issued = exchange::parse(200, body.as_bytes(), EP).unwrap();
        if let Some(n) = issued.expires_in {
            prop_assert!((1..=exchange::MAX_LIFETIME_SECS).contains(&n), "{}", n);
            prop_assert!(now().checked_add(n).is_some(), "expires_in {} overflows the expiry", n);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// crates.io trusted publishing answers: no panic; a token is told to
    /// live 29 minutes; a token-shaped secret in crates.io's `detail` is
    /// never shown, whatever the status.
    #[test]
    fn crates_io_answers_never_panic_and_never_show_a_token(
        status in status(),
        body in body(),
        detail in planted(),
    ) {
        use cargo_credential_corp::oidc::crates_io;
        match crates_io::parse(status, &body, EP, &[]) {
            Ok(issued) => prop_assert_eq!(issued.expires_in, Some(29 * 60)),
            Err(e) => {
                let msg = format!("{e:#}");
                prop_assert!(msg.contains(EP), "{}", msg);
            }
        }
        let body = json!({"errors": [{"detail": detail}]}).to_string();
        if let Err(e) = crates_io::parse(status, body.as_bytes(), EP, &[]) {
            let msg = format!("{e:#}");
            prop_assert!(!shows_marker(&msg), "{}", msg);
        }
    }
}

// ---------------------------------------------------------------------------
// JWT claims

fn jwt(payload: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b64.encode(br#"{"alg":"none"}"#),
        b64.encode(payload)
    )
}

fn exp_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        i64::MIN..=(i64::MIN + 10_000_000_000),
        (i64::MAX - 10_000_000_000)..=i64::MAX,
        -10_000_000_000i64..=10_000_000_000,
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any payload, any token text: no panic, a lifetime is positive.
    #[test]
    fn jwt_payloads_never_panic(
        payload in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..48),
            any_json().prop_map(|v| v.to_string().into_bytes()),
        ],
        raw in ".{0,40}",
    ) {
        for token in [jwt(&payload), raw] {
            let _ = exchange::jwt_lifetime(&token);
        }
    }

    /// `exp` anywhere in i64, near both ends included: no overflow, and the
    /// lifetime is `exp - now` (saturated at the ends of i64).
    #[test]
    fn jwt_exp_at_the_ends_of_i64_never_overflows(exp in exp_value()) {
        let before = now();
        let got = exchange::jwt_lifetime(&jwt(format!(r#"{{"exp":{exp}}}"#).as_bytes()));
        let after = now();
        let n = got.expect("a JWT with an integer exp has a lifetime");
        prop_assert!((exp.saturating_sub(after)..=exp.saturating_sub(before)).contains(&n), "exp {}: {}", exp, n);
    }
}

// ---------------------------------------------------------------------------
// OIDC discovery and a CI system's identity answer

const SHOWN: &str = "https://idp.example/.well-known/openid-configuration";

proptest! {
    #![proptest_config(config())]

    /// Any document: no panic; an accepted endpoint obeys the HTTP policy; a
    /// secret in the advertised URL's user info or query, or in any other
    /// field, is never shown.
    #[test]
    fn discovery_documents_never_panic_nor_show_hidden_parts(
        body in body(),
        scheme in prop::sample::select(&["https", "http", "ftp", "HTTPS"][..]),
        host in prop::sample::select(&["idp.example", "127.0.0.1:9", "localhost", "[::1]", "10.0.0.1", ""][..]),
        secret_in in 0..3u8,
        other in any_json(),
    ) {
        let _ = exchange::parse_discovery(&body, "https://idp.example", SHOWN);
        let endpoint = match secret_in {
            0 => format!("{scheme}://user:{MARKER}@{host}/token"),
            1 => format!("{scheme}://{host}/token?sig={MARKER}"),
            _ => format!("{scheme}://{host}/token#{MARKER}"),
        };
        let doc = json!({
            "issuer": "https://idp.example",
            "token_endpoint": endpoint,
            "jwks_uri": MARKER,
            "other": other,
        });
        match exchange::parse_discovery(doc.to_string().as_bytes(), "https://idp.example", SHOWN) {
            Ok(url) => {
                prop_assert!(secret_in != 0, "credentials in the URL accepted: {}", url);
                let u = url::Url::parse(&url).unwrap();
                prop_assert!(u.scheme() == "https" || u.scheme() == "http");
            }
            Err(e) => {
                let msg = format!("{e:#}");
                prop_assert!(!shows_marker(&msg), "{}", msg);
            }
        }
    }

    /// A document for another issuer is refused, without showing it.
    #[test]
    fn discovery_for_another_issuer_is_refused(issuer in prop_oneof![planted(), planted().prop_map(|p| format!("https://{p}.example"))]) {
        let doc = json!({"issuer": issuer, "token_endpoint": "https://idp.example/token"});
        let msg = format!("{:#}", exchange::parse_discovery(doc.to_string().as_bytes(), "https://idp.example", SHOWN).unwrap_err());
        prop_assert!(!shows_marker(&msg), "{}", msg);
    }

    /// Any CI answer: no panic; the token is the field's value; the answer is
    /// never quoted in an error.
    #[test]
    fn ci_identity_answers_are_never_quoted(
        status in status(),
        body in body(),
        token in prop_oneof![planted(), planted().prop_map(|t| format!(" {t}\t"))],
        field in prop::sample::select(&["value", "oidcToken"][..]),
        other in any_json(),
    ) {
        let who = "GitHub Actions";
        for (status, body) in [
            (status, body),
            (status, json!({ field: token, "other": other }).to_string().into_bytes()),
            (status, json!({ "message": token }).to_string().into_bytes()),
        ] {
            match identity::ci_token(Response { status, body: body.clone() }, field, who, "hint") {
                Ok(t) => {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    prop_assert_eq!(Some(t.expose()), v[field].as_str().map(|s| s.trim_matches(' ')));
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    prop_assert!(msg.contains(who) && !shows_marker(&msg), "{}", msg);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Regression tests: inputs the fuzz targets or the properties above found.

/// `exp` near `i64::MIN`: `exp - now` overflowed (at d5cab5d: a panic in
/// debug builds, a wrapped, huge positive lifetime in release builds).
#[test]
fn regression_jwt_exp_near_i64_min() {
    for exp in [i64::MIN, i64::MIN + 1, i64::MIN + 1_000_000] {
        let token = jwt(format!(r#"{{"exp":{exp}}}"#).as_bytes());
        assert!(
            exchange::jwt_lifetime(&token).is_some_and(|n| n <= 0),
            "exp {exp}"
        );
        // The same JWT as a token endpoint's answer without `expires_in`.
        let body = format!(r#"{{"access_token":"{token}"}}"#);
        let msg = format!(
            "{:#}",
            exchange::parse(200, body.as_bytes(), EP).unwrap_err()
        );
        assert!(msg.contains("already expired"), "{msg}");
    }
}

/// `expires_in` near `i64::MAX` was passed on as it was, and `oidc::get`
/// computed `started + expires_in` (at d5cab5d: a panic in debug builds, a
/// negative expiry in release builds).
#[test]
fn regression_expires_in_near_i64_max() {
    for n in [i64::MAX, i64::MAX - 1_000] {
        let body = json!({"access_token": "at", "expires_in": n}).to_string();
        let issued = exchange::parse(200, body.as_bytes(), EP).unwrap();
        assert_eq!(issued.expires_in, Some(exchange::MAX_LIFETIME_SECS));
    }
}

/// Found by the `config` fuzz target: a value of an enum key holding
/// `` `, `` cut serde's "unknown variant `VALUE`, expected …" message inside
/// the value, and the rest of the value was shown as if it were the list of
/// expected words: "unknown value; key `tok9…`, expected `all` or `listed`".
#[test]
fn regression_config_enum_value_with_a_backtick_is_not_shown() {
    for text in [
        // Minimised by proptest; the fuzz target's input had "…`, key `SECRET,".
        format!("serve = \"`, {MARKER}\"\n"),
        format!("serve = \"x`, key `{MARKER},\"\n"),
        format!("[defaults]\nauth-scheme = \"`, {MARKER}\"\n"),
        format!("[defaults]\nsources = [\"env\", \"`, `{MARKER}`\"]\n"),
    ] {
        let msg = format!(
            "{:#}",
            Config::from_texts(&[("u.toml", &text)]).unwrap_err()
        );
        assert!(!shows_marker(&msg), "{msg}\n--- from:\n{text}");
    }
}

/// Found by the `token_response` fuzz target at d5cab5d (fixed since by
/// redacting token shapes): `error` text glued to a token was shown.
#[test]
fn regression_token_shaped_error_text_is_not_shown() {
    let body = format!(r#"{{"error":"invalidvalid_gran{MARKER}"}}"#);
    let msg = format!(
        "{:#}",
        exchange::parse(400, body.as_bytes(), EP).unwrap_err()
    );
    assert!(!shows_marker(&msg), "{msg}");
}

// ---------------------------------------------------------------------------
// WWW-Authenticate (RFC 9110 §11.6.1)

use cargo_credential_corp::oauth::challenge;

/// A token (RFC 9110 tchar).
fn http_token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}"
}

/// A parameter value: anything printable, with quotes and backslashes.
fn param_value() -> impl Strategy<Value = String> {
    "[ -~\t]{0,20}"
}

fn quote(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(config())]

    /// Any text: no panic, the caps hold, an error never quotes the header.
    #[test]
    fn challenge_parsing_never_panics_and_never_quotes(text in "\\PC{0,200}", planted in planted_in_quotes()) {
        for value in [text.as_str(), &format!("Bearer a={planted}, {text}")] {
            match challenge::parse(value) {
                Ok(all) => {
                    prop_assert!(all.len() <= challenge::MAX_CHALLENGES);
                    prop_assert!(all.iter().all(|c| c.params.len() <= challenge::MAX_PARAMS));
                }
                Err(e) => prop_assert!(!shows_marker(&e.to_string()), "{e}"),
            }
        }
    }

    /// Challenges written out (quoted or as tokens, in any case, with
    /// whitespace and empty list elements) read back as they were.
    #[test]
    fn challenges_written_out_read_back(
        challenges in prop::collection::vec(
            (http_token(), prop::collection::btree_map("[a-z][a-z0-9_]{0,8}", (param_value(), any::<bool>()), 0..5)),
            1..5),
        spaces in prop::collection::vec("[ \t]{0,2}", 8),
        upper in any::<bool>(),
    ) {
        let mut text = String::new();
        for (i, (scheme, params)) in challenges.iter().enumerate() {
            if i > 0 {
                text.push_str(&format!(",{} ,{}", spaces[i % 8], spaces[(i + 1) % 8]));
            }
            text.push_str(scheme);
            for (j, (name, (value, as_token))) in params.iter().enumerate() {
                text.push_str(if j == 0 { " " } else { ", " });
                let name = if upper { name.to_ascii_uppercase() } else { name.clone() };
                let is_token = !value.is_empty()
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+.^_`|~-".contains(c));
                let v = if *as_token && is_token { value.clone() } else { quote(value) };
                text.push_str(&format!("{name}{}={}{v}", spaces[j % 8], spaces[(j + 3) % 8]));
            }
        }
        let got = challenge::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(got.len(), challenges.len(), "{}", text);
        for (c, (scheme, params)) in got.iter().zip(&challenges) {
            prop_assert_eq!(&c.scheme, scheme);
            let want: Vec<(String, String)> =
                params.iter().map(|(n, (v, _))| (n.clone(), v.clone())).collect();
            prop_assert_eq!(&c.params, &want, "{}", text);
        }
    }
}
