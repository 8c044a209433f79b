//! The real `cargo` against the real kellnr registry (auth required), with
//! this provider configured in a temporary `CARGO_HOME`.
//!
//! Every cargo run goes through `CargoHome::cargo`, which fails the test if a
//! declared token appears anywhere in cargo's stdout or stderr (where the
//! provider's stderr ends up too).

use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::idp::Gateway;
use crate::util::kellnr::Kellnr;
use crate::util::keyring::Keyring;

fn per_registry(kellnr: &Kellnr) -> CargoHome {
    let mut home = CargoHome::new(&kellnr.index_url(), Providers::PerRegistry(vec![]));
    home.secret(kellnr.token());
    home
}

/// Publishes `corp-lib` 0.1.0 with the token in the environment.
fn publish_fixture(kellnr: &Kellnr) {
    let mut home = per_registry(kellnr);
    home.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", kellnr.token());
    let lib = home.new_lib("corp-lib", "0.1.0");
    home.cargo(&lib, &["publish", "--registry", REGISTRY], None)
        .assert_success();
}

#[test]
#[ignore = "e2e: needs kellnr and gnome-keyring; run scripts/test.sh"]
fn keychain_login_publish_fetch_yank_logout() {
    let kellnr = Kellnr::start();
    let keyring = Keyring::start();
    let mut home = per_registry(&kellnr);
    home.bus(keyring.address());
    let root = home.root().to_path_buf();

    let out = home.cargo(
        &root,
        &["login", "--registry", REGISTRY],
        Some(&format!("{}\n", kellnr.token())),
    );
    out.assert_success();
    assert_eq!(
        keyring.provider_item(&kellnr.index_url()).as_deref(),
        Some(kellnr.token())
    );
    assert_eq!(
        home.credential_files(),
        Vec::<std::path::PathBuf>::new(),
        "login wrote a credentials file"
    );

    let lib = home.new_lib("corp-lib", "0.1.0");
    let out = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    out.assert_success();
    out.assert_stderr_contains("Uploaded corp-lib v0.1.0");

    let app = home.new_app("corp-app", "corp-lib", "0.1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    let out = home.cargo(&app, &["build"], None);
    out.assert_success();
    let fetched = "Downloaded corp-lib v0.1.0 (registry `my-private`)";
    assert!(out.stderr.contains(fetched), "{}", out.describe());
    let lock = std::fs::read_to_string(app.join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"corp-lib\""), "{lock}");

    let yank = [
        "yank",
        "--registry",
        REGISTRY,
        "--version",
        "0.1.0",
        "corp-lib",
    ];
    home.cargo(&root, &yank, None).assert_success();
    let out = home.cargo(&root, &[&yank[..], &["--undo"]].concat(), None);
    out.assert_success();
    out.assert_stderr_contains("Unyank");

    let out = home.cargo(&root, &["logout", "--registry", REGISTRY], None);
    out.assert_success();
    assert_eq!(keyring.provider_item(&kellnr.index_url()), None);
    assert!(home.credential_files().is_empty());

    // With no token anywhere, the next fetch fails with Cargo's own message.
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let out = home.cargo(&app, &["generate-lockfile"], None);
    out.assert_failure();
    out.assert_stderr_contains("no token found");
}

#[test]
#[ignore = "e2e: needs kellnr; run scripts/test.sh"]
fn env_token_alone_publishes_and_fetches_without_a_keychain() {
    let kellnr = Kellnr::start();
    let mut home = per_registry(&kellnr);
    // No keychain at all: the provider's bus address leads nowhere.
    home.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", kellnr.token());
    let lib = home.new_lib("env-lib", "1.2.3");
    let out = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    out.assert_success();
    assert!(
        !out.stderr.contains("warning: cargo-credential-corp"),
        "{}",
        out.describe()
    );
    let app = home.new_app("env-app", "env-lib", "1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    home.cargo(&app, &["build"], None).assert_success();
    assert!(home.credential_files().is_empty());
}

#[test]
#[ignore = "e2e: needs kellnr and gnome-keyring; run scripts/test.sh"]
fn a_wrong_token_shows_the_registrys_401_and_stores_nothing() {
    let kellnr = Kellnr::start();
    let keyring = Keyring::start();
    let wrong = "wrong-token-Vb7q2Lx9";
    let mut home = per_registry(&kellnr);
    home.bus(keyring.address())
        .env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", wrong)
        .secret(wrong);
    let lib = home.new_lib("nope-lib", "0.1.0");
    let out = home.cargo(
        &lib,
        &["publish", "--registry", REGISTRY, "--no-verify"],
        None,
    );
    out.assert_failure();
    out.assert_stderr_contains("401");
    assert_eq!(keyring.provider_item(&kellnr.index_url()), None);
    assert!(home.credential_files().is_empty());
    assert_eq!(
        kellnr.get_status("/api/v1/crates/ne/lo/nope-lib"),
        Some(401)
    );
}

#[test]
#[ignore = "e2e: needs kellnr and gnome-keyring; run scripts/test.sh"]
fn global_providers_fall_through_both_ways() {
    let kellnr = Kellnr::start();
    let keyring = Keyring::start();
    publish_fixture(&kellnr);

    // Cargo tries the LAST entry first. This provider has nothing (no env,
    // empty keychain): not-found, and cargo:token's credentials.toml serves.
    let mut home = CargoHome::new(
        &kellnr.index_url(),
        Providers::Global(vec!["cargo:token".into(), "corp".into()]),
    );
    home.bus(keyring.address()).secret(kellnr.token());
    let credentials = home.home().join("credentials.toml");
    home.seed_file(
        &credentials,
        &format!("[registries.{REGISTRY}]\ntoken = {:?}\n", kellnr.token()),
    );
    let app = home.new_app("fall-a", "corp-lib", "0.1");
    let out = home.cargo(&app, &["generate-lockfile"], None);
    out.assert_success();

    // The other way: cargo:token has nothing, this provider's keychain item serves.
    let mut home = CargoHome::new(
        &kellnr.index_url(),
        Providers::Global(vec!["corp".into(), "cargo:token".into()]),
    );
    home.bus(keyring.address()).secret(kellnr.token());
    keyring.store(
        "seeded",
        &[
            ("service", &format!("cargo-registry:{}", kellnr.index_url())),
            ("username", "cargo-credential-corp"),
        ],
        kellnr.token(),
    );
    let app = home.new_app("fall-b", "corp-lib", "0.1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    home.cargo(&app, &["build"], None).assert_success();
    assert!(home.credential_files().is_empty());
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP's Node.js packages; run scripts/test.sh"]
fn auth_scheme_basic_publishes_and_fetches_through_a_basic_only_front() {
    use base64::Engine as _;
    // An Azure Artifacts personal access token, sent as Basic base64(user:PAT).
    let pat = "azure-pat-Lm38vQ0e2ebasic";
    let gw = Gateway::start_basic("azure-user", pat);
    let index = gw.index_url();
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("azure-user:{pat}"));
    home.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", pat)
        .secret(pat)
        .secret(&encoded)
        .secret(gw.kellnr.token());
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {index:?}\nauth-scheme = \"basic\"\nbasic-user = \"azure-user\"\n"
    ));
    let lib = home.new_lib("basic-lib", "0.1.0");
    home.cargo(&lib, &["publish", "--registry", REGISTRY], None)
        .assert_success();
    let app = home.new_app("basic-app", "basic-lib", "0.1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    home.cargo(&app, &["build"], None).assert_success();
    let stats = gw.stats();
    assert_eq!(stats["rejected"], 0, "{stats}");
    assert!(stats["accepted"].as_u64().unwrap() >= 3, "{stats}");

    // The same PAT as a bearer token is refused by such a front.
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {index:?}\nauth-scheme = \"bearer\"\n"
    ));
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_failure();
    let stats = gw.stats();
    assert!(
        stats["rejections"]["not-basic"].as_u64() >= Some(1),
        "{stats}"
    );
}
