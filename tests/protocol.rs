//! The binary driven over stdin/stdout with Cargo's exact requests.

use crate::util::Provider;

const HELLO: &str = r#"{"v":[1]}"#;
const IDX: &str = "sparse+https://registry.corp.example/api/v1/crates/";
const TOKEN: &str = "tok-Zq81mVx0protocol";

fn registry(name: &str) -> String {
    format!(
        r#"{{"index-url":"{IDX}","name":"{name}","headers":["www-authenticate: Basic, Bearer"]}}"#
    )
}

fn get(name: &str, operation: &str) -> String {
    format!(
        r#"{{"v":1,"registry":{},"kind":"get",{operation}}}"#,
        registry(name)
    )
}

fn with_env_token() -> Provider {
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", TOKEN)
        .secret(TOKEN);
    p
}

const TOKEN_REPLY: &str = r#"{"Ok":{"kind":"get","token":"tok-Zq81mVx0protocol","cache":"session","operation_independent":true}}"#;

#[test]
fn hello_then_one_reply_for_every_get_operation() {
    let p = with_env_token();
    for operation in [
        r#""operation":"read""#,
        r#""operation":"publish","name":"mylib","vers":"0.1.2","cksum":"c39c0b9e""#,
        r#""operation":"yank","name":"mylib","vers":"0.1.2""#,
        r#""operation":"unyank","name":"mylib","vers":"0.1.2""#,
        r#""operation":"owners","name":"mylib""#,
        r#""operation":"some-future-operation""#,
    ] {
        let out = p.request(&get("my-private", operation));
        out.assert_success();
        let lines: Vec<&str> = out.stdout.lines().collect();
        // The hello must not be read back as the token (the helper's reply()).
        assert_eq!(lines, [HELLO, TOKEN_REPLY], "{operation}");
        // The reply is the provider's only output: nothing on stderr.
        assert_eq!(out.stderr, "", "{operation}");
    }
}

#[test]
fn args_from_cargo_config_are_applied() {
    let p = with_env_token();
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"get","operation":"read","args":["--auth-scheme","bearer"]}}"#,
        registry("my-private")
    );
    let out = p.request(&req);
    assert_eq!(
        out.reply(),
        r#"{"Ok":{"kind":"get","token":"Bearer tok-Zq81mVx0protocol","cache":"session","operation_independent":true}}"#
    );
}

#[test]
fn crates_io_uses_cargo_registry_token() {
    let mut p = Provider::new();
    p.env("CARGO_REGISTRY_TOKEN", TOKEN).secret(TOKEN);
    let req = r#"{"v":1,"registry":{"index-url":"https://github.com/rust-lang/crates.io-index","name":"crates-io"},"kind":"get","operation":"publish","name":"a","vers":"1.0.0","cksum":"00"}"#;
    assert_eq!(p.request(req).reply(), TOKEN_REPLY);
    // ... and not for another registry.
    let out = p.request(&get("my-private", r#""operation":"read""#));
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
}

#[test]
fn nothing_found_is_not_found_so_cargo_tries_the_next_provider() {
    let p = Provider::new();
    let out = p.request(&get("my-private", r#""operation":"read""#));
    out.assert_success();
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
    // No keychain on this machine (headless CI): nothing to warn about.
    assert_eq!(out.stderr, "");
}

#[test]
fn env_only_sources_do_not_touch_the_keychain() {
    let mut p = Provider::new();
    p.user_config("[defaults]\nsources = [\"env\"]\n");
    let out = p.request(&get("my-private", r#""operation":"read""#));
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
    assert_eq!(out.stderr, "");
}

#[test]
fn unknown_kind_is_operation_not_supported() {
    let p = with_env_token();
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"rotate","extra":true}}"#,
        registry("my-private")
    );
    assert_eq!(
        p.request(&req).reply(),
        r#"{"Err":{"kind":"operation-not-supported"}}"#
    );
}

#[test]
fn unlisted_registry_is_url_not_supported() {
    let mut p = with_env_token();
    p.user_config(
        "serve = \"listed\"\n[registries.corp]\nindex = \"sparse+https://other.example/\"\n",
    );
    let out = p.request(&get("my-private", r#""operation":"read""#));
    assert_eq!(out.reply(), r#"{"Err":{"kind":"url-not-supported"}}"#);
}

#[test]
fn a_token_is_not_given_to_an_index_it_does_not_belong_to() {
    let mut p = with_env_token();
    p.user_config("[registries.my-private]\nindex = \"sparse+https://the-real-one.example/\"\n");
    let out = p.request(&get("my-private", r#""operation":"read""#));
    let reply: serde_json::Value = serde_json::from_str(out.reply()).unwrap();
    assert_eq!(reply["Err"]["kind"], "other");
    let msg = reply["Err"]["message"].as_str().unwrap();
    assert!(
        msg.contains("the-real-one.example") && msg.contains(IDX),
        "{msg}"
    );
}

fn other_error(out: &crate::util::Output) -> String {
    let reply: serde_json::Value = serde_json::from_str(out.reply())
        .unwrap_or_else(|e| panic!("reply is not JSON ({e}):\n{}", out.describe()));
    assert_eq!(reply["Err"]["kind"], "other", "{}", out.describe());
    let mut text = reply["Err"]["message"].as_str().unwrap().to_owned();
    for cause in reply["Err"]["caused-by"].as_array().into_iter().flatten() {
        text.push_str(" / ");
        text.push_str(cause.as_str().unwrap());
    }
    text
}

#[test]
fn a_token_with_a_control_character_is_refused_without_showing_it() {
    let mut p = Provider::new();
    p.env(
        "CARGO_REGISTRIES_MY_PRIVATE_TOKEN",
        "first-half\nsecond-half",
    )
    .secret("first-half")
    .secret("second-half");
    let out = p.request(&get("my-private", r#""operation":"read""#));
    let msg = other_error(&out);
    assert!(
        msg.contains("CARGO_REGISTRIES_MY_PRIVATE_TOKEN") && msg.contains("control character"),
        "{msg}"
    );
}

#[test]
fn a_broken_config_file_names_the_file_and_the_key() {
    let mut p = with_env_token();
    p.system_config("[registries.my-private]\nauth_scheme = \"bearer\"\n");
    let msg = other_error(&p.request(&get("my-private", r#""operation":"read""#)));
    assert!(
        msg.contains("system.toml") && msg.contains("auth_scheme"),
        "{msg}"
    );
    assert!(
        p.dir().join("system.toml").is_file(),
        "the broken file is left as it was"
    );
}

#[test]
fn bad_provider_args_say_where_they_come_from() {
    let p = with_env_token();
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"get","operation":"read","args":["--frobnicate"]}}"#,
        registry("my-private")
    );
    let msg = other_error(&p.request(&req));
    assert!(
        msg.contains("--frobnicate") && msg.contains("credential-provider"),
        "{msg}"
    );
}

#[test]
fn malformed_json_is_a_clear_error() {
    let p = with_env_token();
    for bad in [r#"{"v":1,"registry":"#, "not json", r#"{"v":1}"#] {
        let out = p.request(bad);
        out.assert_success();
        let msg = other_error(&out);
        assert!(!msg.is_empty(), "{bad}");
    }
}

#[test]
fn an_unsupported_protocol_version_is_refused() {
    let p = with_env_token();
    let req = format!(
        r#"{{"v":2,"registry":{},"kind":"get","operation":"read"}}"#,
        registry("my-private")
    );
    assert!(other_error(&p.request(&req)).contains("unsupported protocol version 2"));
}

#[test]
fn login_needs_the_keychain_source() {
    let mut p = Provider::new();
    p.user_config("[defaults]\nsources = [\"env\"]\n")
        .secret(TOKEN);
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"login","token":"{TOKEN}"}}"#,
        registry("my-private")
    );
    let msg = other_error(&p.request(&req));
    assert!(
        msg.contains("\"keychain\" is not among the sources")
            && msg.contains("CARGO_REGISTRIES_MY_PRIVATE_TOKEN"),
        "{msg}"
    );
}

#[test]
fn login_without_a_keychain_fails_clearly_and_writes_nothing() {
    let mut p = Provider::new();
    p.secret(TOKEN);
    let before = std::fs::read_dir(p.dir()).unwrap().count();
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"login","token":"{TOKEN}"}}"#,
        registry("my-private")
    );
    let msg = other_error(&p.request(&req));
    assert!(
        msg.contains("could not store the token") && msg.contains("Secret Service"),
        "{msg}"
    );
    assert_eq!(std::fs::read_dir(p.dir()).unwrap().count(), before);
}

#[test]
fn login_with_a_blank_or_bad_token_is_refused() {
    let p = Provider::new();
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"login","token":"   "}}"#,
        registry("my-private")
    );
    assert!(other_error(&p.request(&req)).contains("no token was given"));
    let mut p = Provider::new();
    p.secret("esc-secret");
    // A JSON escape in the token must be decoded, then refused for the control
    // character without echoing the token (cargo-credential's own loop did).
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"login","token":"esc-secret\u001bb"}}"#,
        registry("my-private")
    );
    assert!(other_error(&p.request(&req)).contains("control character"));
}

#[test]
fn logout_without_a_keychain_is_an_error_not_a_silent_success() {
    let p = Provider::new();
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"logout"}}"#,
        registry("my-private")
    );
    assert!(other_error(&p.request(&req)).contains("could not remove the token"));
}

/// The token in a `get` reply.
fn reply_token(out: &crate::util::Output) -> Option<String> {
    let reply: serde_json::Value = serde_json::from_str(out.reply()).unwrap();
    reply["Ok"]["token"].as_str().map(str::to_owned)
}

#[test]
fn basic_sends_the_token_as_a_password_with_the_configured_user() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut p = with_env_token();
    // The encoded value is a secret too.
    p.secret(&b64(&format!(":{TOKEN}")))
        .secret(&b64(&format!("azure:{TOKEN}")))
        .user_config(&format!(
            "[registries.my-private]\nindex = {IDX:?}\nauth-scheme = \"basic\"\n"
        ));
    let read = get("my-private", r#""operation":"read""#);
    let out = p.request(&read);
    let expected = format!("Basic {}", b64(&format!(":{TOKEN}")));
    assert!(
        reply_token(&out).as_deref() == Some(expected.as_str()),
        "not `Basic base64(:<token>)`"
    );
    assert_eq!(out.stderr, "");
    p.user_config(&format!(
        "[registries.my-private]\nindex = {IDX:?}\nauth-scheme = \"basic\"\nbasic-user = \"azure\"\n"
    ));
    let out = p.request(&read);
    let expected = format!("Basic {}", b64(&format!("azure:{TOKEN}")));
    assert!(
        reply_token(&out).as_deref() == Some(expected.as_str()),
        "not `Basic base64(azure:<token>)`"
    );
    // From the provider's arguments too.
    p.user_config(&format!("[registries.my-private]\nindex = {IDX:?}\n"));
    let req = format!(
        r#"{{"v":1,"registry":{},"kind":"get","operation":"read","args":["--auth-scheme","basic"]}}"#,
        registry("my-private")
    );
    let expected = format!("Basic {}", b64(&format!(":{TOKEN}")));
    assert!(reply_token(&p.request(&req)).as_deref() == Some(expected.as_str()));
}

#[test]
fn a_token_that_already_carries_a_scheme_gets_a_warning_without_its_value() {
    for (scheme, stored, sent) in [
        (
            "basic",
            "Basic dXNlcjpwYXQtWDk4Nw==",
            "Basic dXNlcjpwYXQtWDk4Nw==",
        ),
        (
            "bearer",
            "Basic dXNlcjpwYXQtWDk4Nw==",
            "Bearer Basic dXNlcjpwYXQtWDk4Nw==",
        ),
        ("bearer", "Bearer pat-Q8w7e6r5t4", "Bearer pat-Q8w7e6r5t4"),
    ] {
        let mut p = Provider::new();
        p.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", stored)
            .secret(stored.split_once(' ').unwrap().1)
            .user_config(&format!(
                "[registries.my-private]\nindex = {IDX:?}\nauth-scheme = {scheme:?}\n"
            ));
        let out = p.request(&get("my-private", r#""operation":"read""#));
        assert!(
            reply_token(&out).as_deref() == Some(sent),
            "{scheme}: not the expected header value"
        );
        out.assert_stderr_contains("already starts with")
            .assert_stderr_contains("(source \"env\")")
            .assert_stderr_contains(&format!("auth-scheme = \"{scheme}\""));
    }
}

#[test]
fn basic_user_must_be_a_user_name() {
    let mut p = with_env_token();
    p.user_config(&format!(
        "[registries.my-private]\nindex = {IDX:?}\nauth-scheme = \"basic\"\nbasic-user = \"a:b\"\n"
    ));
    let out = p.request(&get("my-private", r#""operation":"read""#));
    let msg = other_error(&out);
    assert!(
        msg.contains("basic-user") && msg.contains("line 4"),
        "{msg}"
    );
    assert!(!msg.contains("a:b"), "{msg}");
}

#[test]
fn config_errors_name_the_key_and_where_it_is_never_the_value() {
    let read = get("my-private", r#""operation":"read""#);
    let table = format!("[registries.my-private]\nindex = {IDX:?}\n");
    for (text, key, at, value) in [
        // A wrong type: the key too, not only the position.
        (
            format!("{table}keychain-timeout-ms = \"fast-Xk92\"\n"),
            "`keychain-timeout-ms` in [registries.my-private]",
            "line 3, column 23",
            "fast-Xk92",
        ),
        (
            format!("{table}env = [\n  \"A_TOKEN\",\n  7319,\n]\n"),
            "`env` in [registries.my-private]",
            "line 5, column 3",
            "7319",
        ),
        // Out of range: where, and not the number.
        (
            format!("{table}keychain-timeout-ms = 700001\n"),
            "`keychain-timeout-ms` in [registries.my-private]",
            "line 3, column 1",
            "700001",
        ),
        (
            format!(
                "{table}[registries.my-private.oidc]\ntoken-endpoint = \"https://i.example/t\"\n\
                 client-id = \"c\"\nidentity = \"env\"\nidentity-env = \"J\"\ntimeout-ms = 120001\n"
            ),
            "`timeout-ms` in [registries.my-private.oidc]",
            "line 8, column 1",
            "120001",
        ),
    ] {
        let mut p = with_env_token();
        p.user_config(&text);
        let msg = other_error(&p.request(&read));
        assert!(
            msg.contains("user.toml") && msg.contains(key) && msg.contains(at),
            "{key} {at}: {msg}"
        );
        assert!(!msg.contains(value), "{msg}");
    }
}

#[test]
fn a_bad_value_in_the_providers_arguments_is_reported_as_an_argument() {
    let p = with_env_token();
    for (args, flag) in [
        (r#"["--keychain-timeout-ms","0"]"#, "--keychain-timeout-ms"),
        (r#"["--source","env","--source","env"]"#, "--source"),
    ] {
        let req = format!(
            r#"{{"v":1,"registry":{},"kind":"get","operation":"read","args":{args}}}"#,
            registry("my-private")
        );
        let msg = other_error(&p.request(&req));
        assert!(
            msg.contains(flag) && msg.contains("credential-provider"),
            "{args}: {msg}"
        );
        assert!(!msg.contains("[defaults]"), "{args}: {msg}");
    }
}

#[test]
#[cfg(target_os = "linux")]
fn the_platforms_system_file_is_read_even_when_the_variable_names_another() {
    // The harness points CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG at its own
    // file; the platform's file is still read, for its [policy]. (Writing
    // /etc in a test is not acceptable: the trace shows that it is looked
    // at; config::tests shows that its policy then applies.)
    let mut p = with_env_token();
    p.env("CARGO_CREDENTIAL_CORP_LOG", "debug");
    let out = p.request(&get("my-private", r#""operation":"read""#));
    assert_eq!(out.reply(), TOKEN_REPLY);
    out.assert_stderr_contains("config: /etc/cargo-credential-corp/config.toml not present");
}

#[test]
fn messages_use_the_configs_own_words_not_rust_type_names() {
    let table = format!(
        "[registries.my-private]\nindex = {IDX:?}\nsources = [\"oidc\", \"sso\"]\n\
         [registries.my-private.sso]\nissuer = \"https://idp.example\"\nclient-id = \"cargo\"\n\
         [registries.my-private.oidc]\ngrant = \"jfrog-artifactory\"\nidentity = \"github-actions\"\n\
         token-endpoint = \"https://r.example/access/api/v1/oidc/token\"\n"
    );
    // A config error about the grant.
    let mut p = Provider::new();
    p.user_config(&table);
    let msg = other_error(&p.request(&get("my-private", r#""operation":"read""#)));
    assert!(
        msg.contains("grant \"jfrog-artifactory\" needs `provider-name`"),
        "{msg}"
    );
    // `config`'s report of the tables.
    p.user_config(&format!("{table}provider-name = \"ci\"\n"));
    let out = p.run(&["config", "--registry", "my-private"], "");
    out.assert_success();
    for word in [
        "jfrog-artifactory grant",
        "identity github-actions",
        "cache auto",
        "login kept in keychain",
    ] {
        assert!(out.stdout.contains(word), "{word}:\n{}", out.stdout);
    }
    for rust in ["JfrogArtifactory", "GithubActions", "Auto", "Keychain"] {
        assert!(!out.stdout.contains(rust), "{rust}:\n{}", out.stdout);
    }
}
