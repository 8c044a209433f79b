//! The routing rule: a token is handed out only for the registry it was
//! configured for. Real cargo, a dependency that names another registry by
//! its index URL (a server answering 401, as an auth-required registry does),
//! and every way a token could be configured.

use crate::util::Provider;
use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::fake::{Behavior, Fake};
use crate::util::{provider_bin, write};

const ACME: &str = "acme-Hk29sLq0routing";
const EXCHANGED: &str = "exchanged-Jf83kDm1routing";
const CI_JWT: &str = "ci-identity-Pq02nZx7routing";
const CRATES_IO_TOKEN: &str = "cio-Wm41xTb8routing";
const CONFIGURED_INDEX: &str = "sparse+https://registry.corp.example/api/v1/crates/";

/// A server answering every request with 401, like a registry that wants a token.
fn hostile_registry() -> Fake {
    Fake::start(Behavior::Raw(401, "authentication required".into()))
}

/// A crate depending on `evil` from the index at `index_url`.
fn dependent(home: &CargoHome, index_url: &str) -> std::path::PathBuf {
    let path = home.root().join("crates").join("victim");
    write(
        &path.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"victim\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nevil = {{ version = \"1\", registry-index = {index_url:?} }}\n"
        ),
    );
    write(&path.join("src/lib.rs"), "");
    path
}

/// Runs `cargo generate-lockfile` for a crate depending on the hostile
/// registry and checks that no token reached it (nor the token endpoint).
fn no_token_reaches_the_hostile_registry(
    providers: Providers,
    corp_config: &str,
    token_endpoint: Option<&Fake>,
) {
    let evil = hostile_registry();
    let evil_index = format!("sparse+{}", evil.url("/"));
    let mut home = CargoHome::new(CONFIGURED_INDEX, providers);
    home.env("ACME_REGISTRY_TOKEN", ACME)
        .env("CI_JWT", CI_JWT)
        .secret(ACME)
        .secret(EXCHANGED)
        .secret(CI_JWT);
    home.corp_config(corp_config);
    let krate = dependent(&home, &evil_index);
    let out = home.cargo(&krate, &["generate-lockfile"], None);
    out.assert_failure();
    let requests = evil.requests();
    assert!(!requests.is_empty(), "cargo never asked the registry");
    for request in &requests {
        let auth = request
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization:"));
        assert!(
            auth.is_none(),
            "a token was sent to a registry nobody configured ({} requests); cargo said:\n{}",
            requests.len(),
            out.describe()
        );
    }
    if let Some(endpoint) = token_endpoint {
        assert_eq!(endpoint.hits(), 0, "an exchange was made for that registry");
    }
}

fn oidc_table(endpoint: &Fake) -> String {
    format!(
        "token-endpoint = {:?}\nidentity = \"env\"\nidentity-env = \"CI_JWT\"\ncache = \"off\"\n",
        endpoint.url("/token")
    )
}

fn exchange_endpoint() -> Fake {
    Fake::start(Behavior::Json(
        200,
        format!(r#"{{"access_token":"{EXCHANGED}","expires_in":300}}"#),
    ))
}

#[test]
fn a_token_variable_in_defaults_goes_to_no_registry() {
    no_token_reaches_the_hostile_registry(
        Providers::Global(vec!["cargo:token".into(), "corp".into()]),
        "[defaults]\nenv = [\"ACME_REGISTRY_TOKEN\"]\n",
        None,
    );
}

#[test]
fn a_token_variable_in_the_providers_arguments_goes_to_no_registry() {
    let corp_with_args = format!("{} --env ACME_REGISTRY_TOKEN", provider_bin().display());
    no_token_reaches_the_hostile_registry(
        Providers::Global(vec!["cargo:token".into(), corp_with_args]),
        "",
        None,
    );
}

#[test]
fn an_exchange_in_defaults_is_never_made_for_another_registry() {
    let endpoint = exchange_endpoint();
    no_token_reaches_the_hostile_registry(
        Providers::Global(vec!["cargo:token".into(), "corp".into()]),
        &format!(
            "[defaults]\nsources = [\"oidc\", \"env\", \"keychain\"]\n\n[defaults.oidc]\n{}",
            oidc_table(&endpoint)
        ),
        Some(&endpoint),
    );
}

#[test]
fn the_documented_setup_keeps_tokens_to_their_registry() {
    // Everything configured the right way, for the registry it belongs to;
    // a dependency naming another index still gets nothing.
    let endpoint = exchange_endpoint();
    no_token_reaches_the_hostile_registry(
        Providers::Global(vec!["cargo:token".into(), "corp".into()]),
        &format!(
            "[defaults]\nsources = [\"oidc\", \"env\", \"keychain\"]\n\n\
             [registries.{REGISTRY}]\nindex = {CONFIGURED_INDEX:?}\nenv = [\"ACME_REGISTRY_TOKEN\"]\n\n\
             [registries.{REGISTRY}.oidc]\n{}",
            oidc_table(&endpoint)
        ),
        Some(&endpoint),
    );
}

fn request(name: Option<&str>, index_url: &str) -> String {
    let name = name
        .map(|n| format!(r#","name":"{n}""#))
        .unwrap_or_default();
    format!(
        r#"{{"v":1,"registry":{{"index-url":"{index_url}"{name}}},"kind":"get","operation":"publish","name":"a","vers":"1.0.0","cksum":"00"}}"#
    )
}

fn token_in(out: &crate::util::Output) -> Option<String> {
    let reply: serde_json::Value = serde_json::from_str(out.reply()).unwrap();
    reply["Ok"]["token"].as_str().map(str::to_owned)
}

#[test]
fn crates_io_gets_only_its_own_token() {
    let mut p = Provider::new();
    p.env("ACME_REGISTRY_TOKEN", ACME)
        .env("CARGO_REGISTRY_TOKEN", CRATES_IO_TOKEN)
        .secret(ACME)
        .secret(CRATES_IO_TOKEN)
        .user_config(&format!(
            "[registries.corp]\nindex = {CONFIGURED_INDEX:?}\nenv = [\"ACME_REGISTRY_TOKEN\"]\n"
        ));
    let crates_io = "sparse+https://index.crates.io/";
    let out = p.request(&request(Some("crates-io"), crates_io));
    assert_eq!(token_in(&out).as_deref(), Some(CRATES_IO_TOKEN));
    // The corporate registry gets its configured variable.
    let out = p.request(&request(Some("corp"), CONFIGURED_INDEX));
    assert_eq!(token_in(&out).as_deref(), Some(ACME));
    // `crates-io` with another index, or no name at all, gets nothing.
    for (name, index) in [
        (
            Some("crates-io"),
            "sparse+https://index.crates.io.evil.example/",
        ),
        (None, crates_io),
        (None, "sparse+https://registry.corp.example/api/v1/crates//"),
        (None, "sparse+https://registry.corp.example/api/v1/crates/?"),
    ] {
        let out = p.request(&request(name, index));
        assert_eq!(
            out.reply(),
            r#"{"Err":{"kind":"not-found"}}"#,
            "{name:?} {index}"
        );
    }
}

#[test]
fn a_token_source_in_defaults_is_a_clear_error() {
    let mut p = Provider::new();
    p.env("ACME_REGISTRY_TOKEN", ACME)
        .secret(ACME)
        .user_config("[defaults]\nenv = [\"ACME_REGISTRY_TOKEN\"]\n");
    let out = p.request(&request(
        Some("crates-io"),
        "sparse+https://index.crates.io/",
    ));
    let reply = out.reply();
    assert!(
        reply.contains(r#""kind":"other""#)
            && reply.contains("[registries.NAME]")
            && reply.contains("line 2"),
        "{reply}"
    );
}

#[test]
fn oidc_among_the_default_sources_is_skipped_for_a_registry_without_an_oidc_table() {
    let mut p = Provider::new();
    p.env("ACME_REGISTRY_TOKEN", ACME)
        .secret(ACME)
        .user_config(&format!(
            "[defaults]\nsources = [\"oidc\", \"env\"]\n\
         [registries.corp]\nindex = {CONFIGURED_INDEX:?}\nenv = [\"ACME_REGISTRY_TOKEN\"]\n"
        ));
    let out = p.request(&request(Some("corp"), CONFIGURED_INDEX));
    assert_eq!(token_in(&out).as_deref(), Some(ACME), "{}", out.describe());
    assert_eq!(out.stderr, "");
}

#[test]
fn a_token_table_without_index_is_served_by_name_with_a_warning() {
    let mut p = Provider::new();
    p.env("ACME_REGISTRY_TOKEN", ACME)
        .secret(ACME)
        .user_config("[registries.corp]\nenv = [\"ACME_REGISTRY_TOKEN\"]\n");
    let out = p.request(&request(Some("corp"), "sparse+https://wherever.example/"));
    assert_eq!(token_in(&out).as_deref(), Some(ACME));
    assert!(
        out.stderr.contains("no `index`") && out.stderr.contains("[registries.corp]"),
        "{}",
        out.stderr
    );
    // Never for a request without a name.
    let out = p.request(&request(None, "sparse+https://wherever.example/"));
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
}

#[test]
fn cargos_variable_is_bound_to_every_table_whose_name_mangles_to_it() {
    // CARGO_REGISTRIES_MY_REG_TOKEN belongs to `my-reg`, bound to its index;
    // a project's Cargo config naming `my_reg` (same variable) elsewhere
    // must not get it.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_MY_REG_TOKEN", ACME)
        .secret(ACME)
        .user_config(&format!(
            "[registries.my-reg]\nindex = {CONFIGURED_INDEX:?}\n"
        ));
    let evil = "sparse+https://evil.example/";
    let out = p.request(&request(Some("my_reg"), evil));
    let reply = out.reply();
    assert!(!reply.contains(ACME), "the token was handed to {evil}");
    assert!(
        reply.contains(r#""kind":"other""#)
            && reply.contains("my-reg")
            && reply.contains("CARGO_REGISTRIES_MY_REG_TOKEN")
            && reply.contains(evil),
        "{reply}"
    );
    // Its own index, by either name, gets the token.
    for name in ["my-reg", "my_reg"] {
        let out = p.request(&request(Some(name), CONFIGURED_INDEX));
        assert_eq!(token_in(&out).as_deref(), Some(ACME), "{name}");
    }
    // A name that mangles to another variable is not concerned.
    let out = p.request(&request(Some("my_reg2"), evil));
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
}

#[test]
fn an_sso_table_without_index_is_served_only_when_the_system_file_binds_its_name() {
    let sso = "[registries.corp.sso]\nissuer = \"https://idp.example\"\nclient-id = \"cargo\"\n";
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_CORP_TOKEN", ACME)
        .secret(ACME)
        .user_config(sso)
        .system_config(&format!(
            "[registries.corp]\nindex = {CONFIGURED_INDEX:?}\n"
        ));
    let out = p.request(&request(Some("corp"), CONFIGURED_INDEX));
    assert_eq!(token_in(&out).as_deref(), Some(ACME), "{}", out.describe());
    // Bound: no "add `index`" warning, and another index is refused.
    assert!(!out.stderr.contains("no `index`"), "{}", out.stderr);
    let evil = "sparse+https://evil.example/";
    let out = p.request(&request(Some("corp"), evil));
    let reply = out.reply();
    assert!(!reply.contains(ACME), "the token was handed to {evil}");
    assert!(
        reply.contains(r#""kind":"other""#) && reply.contains(evil),
        "{reply}"
    );
    // Not bound: the config error that says to add `index`.
    let mut p = Provider::new();
    p.user_config(sso)
        .system_config("[registries.other]\nindex = \"sparse+https://o.example/\"\n");
    let out = p.request(&request(Some("corp"), CONFIGURED_INDEX));
    let reply = out.reply();
    assert!(
        reply.contains(r#""kind":"other""#) && reply.contains("needs `index`"),
        "{reply}"
    );
}
