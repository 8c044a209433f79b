//! `cargo-credential-corp doctor`: Cargo's provider chain read from a real
//! Cargo home, each source asked for real, the registry probed (fake
//! servers for the answers real registries get wrong), and no token ever
//! in what it prints.

use crate::util::fake::{Behavior, Fake};
use crate::util::{Provider, provider_bin, write};

const INDEX: &str = "sparse+http://127.0.0.1:9/api/v1/crates/";
const TOKEN: &str = "doctor-secret-Zx81Qp";

/// A provider run whose `CARGO_HOME` has `cargo_config` (and, if given,
/// `credentials`), with the provider's own config naming `corp` at `index`.
/// The Cargo home is a folder of its own (returned, to keep it alive): a
/// `credentials.toml` there holds a token on purpose, so the provider's
/// folder (which the leak rule reads) must not contain it.
fn doctor_home(
    index: &str,
    cargo_config: &str,
    credentials: Option<&str>,
) -> (Provider, tempfile::TempDir) {
    let mut p = Provider::new();
    let cargo_dir = tempfile::tempdir().unwrap();
    let home = cargo_dir.path().join("cargo-home");
    write(&home.join("config.toml"), cargo_config);
    if let Some(c) = credentials {
        write(&home.join("credentials.toml"), c);
    }
    p.env("CARGO_HOME", &home.display().to_string())
        .user_config(&format!("[registries.corp]\nindex = {index:?}\n"))
        .secret(TOKEN);
    (p, cargo_dir)
}

fn global(index: &str, providers: &str) -> String {
    format!(
        "[registries.corp]\nindex = {index:?}\n\n[registry]\nglobal-credential-providers = [{providers}]\n"
    )
}

fn corp() -> String {
    format!("{:?}", provider_bin().display().to_string())
}

fn codes(json: &serde_json::Value) -> Vec<String> {
    json["registries"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_token_is_described_by_source_and_scheme_never_shown() {
    let (mut p, _home) = doctor_home(
        INDEX,
        &global(INDEX, &format!("\"cargo:token\", {}", corp())),
        None,
    );
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["version"], 1);
    let r = &json["registries"][0];
    assert_eq!(r["index"], INDEX);
    assert_eq!(r["uses_this_provider"], true);
    assert_eq!(r["token"]["source"], "env");
    assert_eq!(r["token"]["scheme"], "none");
    assert_eq!(r["token"]["lifetime"], "session");
    let codes = codes(&json);
    assert!(codes.contains(&"chain-ok".to_owned()), "{codes:?}");
    assert!(codes.contains(&"token-found".to_owned()), "{codes:?}");
    assert!(codes.contains(&"keychain-empty".to_owned()), "{codes:?}");
    assert!(!out.stdout.contains(TOKEN));

    // The same, for a person.
    let out = p.run(&["doctor", "--registry", "corp"], "");
    out.assert_success();
    assert!(out.stdout.contains("[ok] chain-ok"), "{}", out.stdout);
    assert!(
        out.stdout.contains("a token from env (scheme none"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_provider_cargo_never_asks_and_plaintext_tokens_are_named_with_their_fix() {
    // Not in the chain at all: no token, exit status 1.
    let (p, _home) = doctor_home(INDEX, &global(INDEX, "\"cargo:token\""), None);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let codes = codes(&json);
    assert!(codes.contains(&"not-in-chain".to_owned()), "{codes:?}");
    assert!(codes.contains(&"no-token".to_owned()), "{codes:?}");

    // The registry's own credential-provider shadows the global list.
    let config = format!(
        "{}\n",
        global(INDEX, &corp()).replace(
            "[registry]",
            "credential-provider = \"cargo:token\"\n\n[registry]"
        )
    );
    let (p, _home) = doctor_home(
        INDEX,
        &config,
        Some(&format!("# mine\n[registries.corp]\ntoken = {TOKEN:?}\n")),
    );
    let out = p.run(&["doctor", "--registry", "corp"], "");
    // Cargo gets a token (from cargo:token), but never from this provider.
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(
        out.stdout.contains("shadowed-by-registry-provider"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("plaintext-token"), "{}", out.stdout);
    assert!(
        out.stdout.contains("cargo-credential-corp migrate"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_probe_tells_a_registry_that_answers_403_from_one_cargo_can_use() {
    let fake = Fake::start(Behavior::Raw(403, "forbidden".into()));
    let index = format!("sparse+{}", fake.url("/api/v1/crates/"));
    let (mut p, _home) = doctor_home(&index, &global(&index, &corp()), None);
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = p.run(&["doctor", "--registry", "corp", "--probe", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let found = codes(&json);
    assert!(
        found.contains(&"registry-bad-auth-status".to_owned()),
        "{found:?}"
    );

    fake.set(Behavior::JsonWith(
        401,
        "www-authenticate: Cargo login_url=\"https://r.example/me\"".into(),
        "{}".into(),
    ));
    let out = p.run(&["doctor", "--registry", "corp", "--probe", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let found = codes(&json);
    assert!(found.contains(&"registry-auth-ok".to_owned()), "{found:?}");
    // The token was sent to the registry it belongs to, and only there.
    assert!(
        fake.last_request().contains(TOKEN),
        "the probe did not send the token"
    );
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/troubleshooting.md"),
    )
    .unwrap();
    let src = ["mod.rs", "probe.rs"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("src/cli/doctor")
                    .join(f),
            )
            .unwrap()
        })
        .collect::<String>();
    // Every code is the first argument of a `finding(` call (or returned
    // by `source_code`).
    let mut missing = Vec::new();
    let mut seen = 0;
    for (i, _) in src.match_indices("finding(") {
        let rest = &src[i..];
        let Some(start) = rest.find('"') else {
            continue;
        };
        let word: String = rest[start + 1..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        if !word.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            continue;
        }
        seen += 1;
        if !doc.contains(&format!("`{word}`")) && !missing.contains(&word) {
            missing.push(word);
        }
    }
    for code in ["env-failed", "keychain-failed", "oidc-failed", "sso-failed"] {
        if !doc.contains(&format!("`{code}`")) {
            missing.push(code.to_owned());
        }
    }
    assert!(seen > 20, "only {seen} codes found: the scan is broken");
    assert!(
        missing.is_empty(),
        "codes not in docs/troubleshooting.md: {missing:?}"
    );
}

#[test]
#[ignore = "e2e: needs kellnr; run scripts/test.sh"]
fn the_probe_against_a_real_registry_that_requires_auth() {
    let kellnr = crate::util::kellnr::Kellnr::start();
    let index = kellnr.index_url();
    let (mut p, _home) = doctor_home(&index, &global(&index, &corp()), None);
    p.env("CARGO_REGISTRIES_CORP_TOKEN", kellnr.token())
        .secret(kellnr.token());
    let out = p.run(&["doctor", "--registry", "corp", "--probe", "--json"], "");
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let found = codes(&json);
    assert!(
        found.contains(&"registry-auth-ok".to_owned())
            || found.contains(&"registry-401-without-cargo-challenge".to_owned()),
        "{found:?}"
    );
    assert!(found.contains(&"token-accepted".to_owned()), "{found:?}");
    // A wrong token is told apart.
    p.env("CARGO_REGISTRIES_CORP_TOKEN", "wrong-token-Qm3x");
    let out = p.run(&["doctor", "--registry", "corp", "--probe", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(codes(&json).contains(&"token-rejected".to_owned()));
}

#[test]
fn a_registry_named_only_by_cargos_index_variable_is_found() {
    const OTHER: &str = "sparse+http://127.0.0.1:9/other/";
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, &corp()), None);
    p.env("CARGO_REGISTRIES_OTHER_REG_INDEX", OTHER);
    let out = p.run(&["doctor", "--registry", "other-reg", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", out.describe()));
    assert_eq!(json["registries"][0]["index"], OTHER, "{json}");
    assert_eq!(json["registries"][0]["name"], "other-reg", "{json}");
}

/// The `token-found` finding's message.
fn found_message(json: &serde_json::Value) -> String {
    json["registries"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "token-found")
        .unwrap_or_else(|| panic!("no token-found in {json}"))["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_variable_that_answered_is_named_never_its_value() {
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, &corp()), None);
    p.user_config(&format!(
        "[registries.corp]\nindex = {INDEX:?}\nenv = [\"ACME_TOKEN\", \"ACME_OTHER\"]\n"
    ))
    .env("ACME_OTHER", TOKEN)
    .env("CARGO_REGISTRIES_CORP_TOKEN", "doctor-second-Wq72")
    .secret("doctor-second-Wq72");
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["registries"][0]["token"]["from"], "environment variable ACME_OTHER",
        "{json}"
    );
    assert!(
        found_message(&json).contains("environment variable ACME_OTHER"),
        "{json}"
    );
    let out = p.run(&["doctor", "--registry", "corp"], "");
    out.assert_success();
    out.assert_stdout_contains("environment variable ACME_OTHER");
}

#[test]
fn the_ci_identity_behind_an_exchanged_token_is_named() {
    let issued = Fake::start(Behavior::Json(
        200,
        r#"{"access_token":"doctor-issued-Pz41","expires_in":300}"#.into(),
    ));
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, &corp()), None);
    p.user_config(&format!(
        "[registries.corp]\nindex = {INDEX:?}\nsources = [\"oidc\"]\n\
         [registries.corp.oidc]\ntoken-endpoint = {:?}\nclient-id = \"c\"\nidentity = \"env\"\n\
         identity-env = \"CI_JWT\"\ncache = \"off\"\n",
        issued.url("/token")
    ))
    .env("CI_JWT", "doctor-ci-jwt-Lm28")
    .secrets_all(&["doctor-ci-jwt-Lm28", "doctor-issued-Pz41"]);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let from = json["registries"][0]["token"]["from"].as_str().unwrap();
    assert_eq!(
        from, "exchange of the CI identity `env` (environment variable CI_JWT)",
        "{json}"
    );
    assert!(found_message(&json).contains(from), "{json}");
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn the_keychain_item_and_the_sso_account_that_answered_are_named() {
    let keyring = crate::util::keyring::Keyring::start();
    // Cargo's own keychain item, then this provider's.
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, &corp()), None);
    p.env("DBUS_SESSION_BUS_ADDRESS", keyring.address());
    keyring.store_like_cargo_libsecret(INDEX, TOKEN);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    out.assert_success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        json["registries"][0]["token"]["from"],
        format!("Cargo's own keychain item for {INDEX} (cargo:libsecret)"),
        "{json}"
    );
    let service = format!("cargo-registry:{INDEX}");
    keyring.store(
        "x",
        &[("service", &service), ("username", "cargo-credential-corp")],
        TOKEN,
    );
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let from = format!("keychain item `{service}` (user cargo-credential-corp)");
    assert_eq!(json["registries"][0]["token"]["from"], from, "{json}");
    assert!(found_message(&json).contains(&from), "{json}");

    // A single sign-on login: the account it belongs to.
    let idp = Fake::start(Behavior::Json(
        200,
        r#"{"access_token":"doctor-access-Hy65","expires_in":300}"#.into(),
    ));
    let endpoint = idp.url("/token");
    const OTHER: &str = "sparse+http://127.0.0.1:9/sso/";
    p.user_config(&format!(
        "[registries.corp]\nindex = {OTHER:?}\nsources = [\"sso\"]\n\
         [registries.corp.sso]\ntoken-endpoint = {endpoint:?}\n\
         device-authorization-endpoint = {endpoint:?}\nclient-id = \"sso\"\n"
    ))
    .env("CARGO_REGISTRIES_CORP_INDEX", OTHER)
    .secrets_all(&["doctor-access-Hy65", "doctor-refresh-Ba19"]);
    let item = format!("cargo-credential-corp-sso:{OTHER}|sso@{endpoint}");
    keyring.store(
        "x",
        &[("service", &item), ("username", "cargo-credential-corp")],
        r#"{"v":1,"refresh_token":"doctor-refresh-Ba19","account":"alice@corp.example","stored_at":1}"#,
    );
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", out.describe()));
    assert_eq!(
        json["registries"][0]["token"]["from"], "single sign-on login of alice@corp.example",
        "{json}"
    );
}

/// Characters that must never reach a terminal from a config value: C0, C1,
/// DEL, bidi controls, zero-width characters (a line break is the output's own).
pub fn terminal_hostile(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Fails, showing them, when `text` holds [`terminal_hostile`] characters.
pub fn assert_tame(text: &str) {
    let bad: Vec<char> = text.chars().filter(|c| terminal_hostile(*c)).collect();
    assert!(bad.is_empty(), "{bad:?} in\n{text}");
}

#[test]
fn values_from_a_projects_cargo_config_are_shown_escaped() {
    // A hostile project: escapes that retitle and clear the terminal, a C1
    // CSI, DEL, a bidi override and a zero-width space, in a registry's
    // name, its index and a provider's name.
    let evil_index =
        "sparse+http://127.0.0.1:9/\\u001b]0;pwned\\u0007/\\u202e\\u200b\\u0085\\u009b2J\\u007f/";
    let cargo = format!(
        "[registries.\"ev\\u001b[2Jil\\u2066\"]\nindex = \"{evil_index}\"\n\n[registry]\n\
         global-credential-providers = [\"cargo:token\\u001b[1A[ok]\", {}]\n",
        corp()
    );
    let (p, _home) = doctor_home(INDEX, &cargo, None);
    let out = p.run(&["doctor"], "");
    assert_tame(&out.stdout);
    out.assert_stdout_contains("ev\\u{1b}[2Jil\\u{2066}");
    out.assert_stdout_contains("\\u{202e}\\u{200b}\\u{85}\\u{9b}2J\\u{7f}/");
    out.assert_stdout_contains("cargo:token\\u{1b}[1A[ok]");
    // JSON: the same values for a reader, nothing a terminal acts on.
    let out = p.run(&["doctor", "--json"], "");
    assert_tame(&out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let evil = json["registries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ev\u{1b}[2Jil\u{2066}")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(
        evil["index"],
        "sparse+http://127.0.0.1:9/\u{1b}]0;pwned\u{7}/\u{202e}\u{200b}\u{85}\u{9b}2J\u{7f}/"
    );
}

#[test]
fn the_probe_sends_the_token_only_where_cargo_would() {
    // A registry that serves reads without auth: Cargo never sends a token
    // for config.json, so neither does the probe.
    let fake = Fake::start(Behavior::Json(
        200,
        r#"{"dl":"http://127.0.0.1:9/dl","api":"http://127.0.0.1:9"}"#.into(),
    ));
    let index = format!("sparse+{}", fake.url("/api/v1/crates/"));
    let (mut p, _home) = doctor_home(&index, &global(&index, &corp()), None);
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let probe = |p: &Provider| {
        let out = p.run(&["doctor", "--registry", "corp", "--probe", "--json"], "");
        let json: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|_| panic!("not JSON: {}", out.describe()));
        codes(&json)
    };
    let sent = |fake: &Fake| fake.requests().iter().filter(|r| r.contains(TOKEN)).count();
    let found = probe(&p);
    assert!(found.contains(&"registry-no-auth".to_owned()), "{found:?}");
    assert!(
        found.contains(&"probe-token-not-sent".to_owned()),
        "{found:?}"
    );
    assert_eq!(sent(&fake), 0, "{:?}", fake.requests());

    // 403: Cargo does not learn that auth is required, and sends nothing.
    fake.set(Behavior::Raw(403, "forbidden".into()));
    let found = probe(&p);
    assert!(
        found.contains(&"probe-token-not-sent".to_owned()),
        "{found:?}"
    );
    assert_eq!(sent(&fake), 0, "{:?}", fake.requests());

    // `auth-required: true` in config.json: Cargo sends the token, and so
    // does the probe, once.
    fake.set(Behavior::Json(
        200,
        r#"{"dl":"http://127.0.0.1:9/dl","auth-required":true}"#.into(),
    ));
    let found = probe(&p);
    assert!(found.contains(&"token-accepted".to_owned()), "{found:?}");
    assert_eq!(sent(&fake), 1, "{:?}", fake.requests());
}

#[test]
fn a_token_variable_cargo_token_reads_is_not_called_unused() {
    // Only cargo:token: Cargo reads the variable through it.
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, "\"cargo:token\""), None);
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let found = codes(&json);
    assert!(found.contains(&"not-in-chain".to_owned()), "{found:?}");
    assert!(
        !found.contains(&"token-variable-unused".to_owned()),
        "{found:?}"
    );
    // Neither cargo:token nor this provider: then it is unused.
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, "\"cargo:libsecret\""), None);
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        codes(&json).contains(&"token-variable-unused".to_owned()),
        "{json}"
    );
}

#[test]
fn a_policy_that_serves_listed_registries_only_is_shown_locked() {
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, &corp()), None);
    p.system_config("[policy]\nserve = \"listed\"\n")
        .env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let locked: Vec<&str> = json["registries"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "policy-locked")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        locked
            .iter()
            .any(|m| m.contains("serve = \"listed\"") && m.contains("system.toml")),
        "{json}"
    );
    let out = p.run(&["config", "--registry", "corp"], "");
    out.assert_success();
    out.assert_stdout_contains("locked: only the registries listed in the provider's config");
}

#[test]
fn a_broken_provider_config_is_reported_and_the_rest_still_checked() {
    let (mut p, _home) = doctor_home(INDEX, &global(INDEX, &corp()), None);
    p.user_config(&format!(
        "[registries.corp]\nindex = {INDEX:?}\n[defaults]\nsorces = []\n"
    ));
    let out = p.run(&["doctor", "--registry", "corp", "--json"], "");
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", out.describe()));
    let found = codes(&json);
    assert!(found.contains(&"chain-ok".to_owned()), "{found:?}");
    assert!(
        found.contains(&"provider-config-invalid".to_owned()),
        "{found:?}"
    );
    assert!(json.to_string().contains("sorces"), "{json}");
    // For a person too, and for every registry.
    let out = p.run(&["doctor"], "");
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    out.assert_stdout_contains("[error] provider-config-invalid");
    out.assert_stdout_contains("corp (sparse+http://127.0.0.1:9/api/v1/crates/)");
}
