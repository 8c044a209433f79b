//! The provider against a real Secret Service (gnome-keyring on a private bus).

use std::time::Duration;

use crate::util::Provider;
use crate::util::keyring::{Bus, Keyring};

const IDX: &str = "sparse+http://127.0.0.1:1/api/v1/crates/";

fn request(kind: &str) -> String {
    format!(r#"{{"v":1,"registry":{{"index-url":"{IDX}","name":"my-private"}},{kind}}}"#)
}

fn get() -> String {
    request(r#""kind":"get","operation":"read""#)
}

fn provider_on(keyring: &Keyring) -> Provider {
    let mut p = Provider::new();
    p.env("DBUS_SESSION_BUS_ADDRESS", keyring.address());
    p
}

fn token_reply(token: &str) -> String {
    format!(
        r#"{{"Ok":{{"kind":"get","token":"{token}","cache":"session","operation_independent":true}}}}"#
    )
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn login_stores_get_reads_logout_removes() {
    let keyring = Keyring::start();
    let mut p = provider_on(&keyring);
    p.secret("kc-first-4Fq").secret("kc-second-9Wz");

    let out = p.request(&request(r#""kind":"login","token":"kc-first-4Fq""#));
    assert_eq!(
        out.reply(),
        r#"{"Ok":{"kind":"login"}}"#,
        "{}",
        out.describe()
    );
    assert_eq!(keyring.provider_item(IDX).as_deref(), Some("kc-first-4Fq"));
    assert_eq!(p.request(&get()).reply(), token_reply("kc-first-4Fq"));

    // A second login replaces the token.
    p.request(&request(r#""kind":"login","token":"kc-second-9Wz""#));
    assert_eq!(keyring.provider_item(IDX).as_deref(), Some("kc-second-9Wz"));
    assert_eq!(p.request(&get()).reply(), token_reply("kc-second-9Wz"));

    let out = p.request(&request(r#""kind":"logout""#));
    assert_eq!(out.reply(), r#"{"Ok":{"kind":"logout"}}"#);
    assert_eq!(keyring.provider_item(IDX), None);
    assert_eq!(
        p.request(&request(r#""kind":"logout""#)).reply(),
        r#"{"Err":{"kind":"not-found"}}"#
    );
    let out = p.request(&get());
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
    assert_eq!(
        out.stderr, "",
        "an empty keychain is not a problem to report"
    );
    // Nothing but the keychain was written.
    assert!(crate::util::find_files(p.dir(), "credentials.toml").is_empty());
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn tokens_stored_by_cargo_libsecret_are_read_and_logged_out() {
    let keyring = Keyring::start();
    keyring.store_like_cargo_libsecret(IDX, "legacy-libsecret-7Hd");
    let mut p = provider_on(&keyring);
    p.secret("legacy-libsecret-7Hd");
    assert_eq!(
        p.request(&get()).reply(),
        token_reply("legacy-libsecret-7Hd")
    );
    assert_eq!(
        p.request(&request(r#""kind":"logout""#)).reply(),
        r#"{"Ok":{"kind":"logout"}}"#
    );
    assert_eq!(
        keyring.lookup(&[("xdg:schema", "org.rust-lang.cargo.registry"), ("url", IDX)]),
        None
    );
    assert_eq!(p.request(&get()).reply(), r#"{"Err":{"kind":"not-found"}}"#);
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn a_frozen_keychain_does_not_hang_cargo() {
    let keyring = Keyring::start();
    let mut p = provider_on(&keyring);
    p.secret("frozen-env-2Kp");
    keyring.freeze();

    // Default order (env first): the keychain is never asked.
    p.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "frozen-env-2Kp");
    let out = p.request(&get());
    assert_eq!(out.reply(), token_reply("frozen-env-2Kp"));
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);

    // Keychain first: its deadline passes, then the env token is served.
    p.user_config("[defaults]\nsources = [\"keychain\", \"env\"]\n");
    let out = p.request(&get());
    assert_eq!(out.reply(), token_reply("frozen-env-2Kp"));
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);

    // Nothing anywhere: not-found in time, with the reason on stderr.
    p.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "");
    let out = p.request(&get());
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
    assert!(
        out.stderr.contains("did not answer within 2000 ms"),
        "{}",
        out.stderr
    );
    keyring.thaw();
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn a_slow_keychain_is_waited_for_within_its_deadline() {
    let keyring = Keyring::start();
    let mut p = provider_on(&keyring);
    p.secret("slow-stored-8Qw");
    p.run(
        &["--cargo-plugin"],
        &(request(r#""kind":"login","token":"slow-stored-8Qw""#) + "\n"),
    )
    .assert_success();
    // Frozen for 500 ms of a 2000 ms deadline: the stored token is served.
    keyring.freeze();
    let thaw = std::thread::scope(|s| {
        let t = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            keyring.thaw();
        });
        let out = p.request(&get());
        t.join().unwrap();
        out
    });
    assert_eq!(thaw.reply(), token_reply("slow-stored-8Qw"));
    assert!(
        thaw.elapsed >= Duration::from_millis(450),
        "{:?}",
        thaw.elapsed
    );
    assert!(thaw.elapsed < Duration::from_secs(3), "{:?}", thaw.elapsed);
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn a_locked_keychain_falls_through_in_time_and_keeps_its_item() {
    let keyring = Keyring::start();
    let mut p = provider_on(&keyring);
    p.secret("locked-stored-3Vn").secret("locked-env-7Yh");
    p.run(
        &["--cargo-plugin"],
        &(request(r#""kind":"login","token":"locked-stored-3Vn""#) + "\n"),
    )
    .assert_success();
    keyring.lock();
    let item = [
        ("service", &*format!("cargo-registry:{IDX}")),
        ("username", "cargo-credential-corp"),
    ];
    assert_eq!(keyring.count_locked(&item), 1);
    // Keychain first, then env: the env token, in time, with a warning.
    p.user_config("[defaults]\nsources = [\"keychain\", \"env\"]\n")
        .env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "locked-env-7Yh");
    let out = p.request(&get());
    assert_eq!(
        out.reply(),
        token_reply("locked-env-7Yh"),
        "{}",
        out.describe()
    );
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
    // Nothing else: not-found (Cargo tries the next provider), in time.
    p.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "");
    let out = p.request(&get());
    assert_eq!(
        out.reply(),
        r#"{"Err":{"kind":"not-found"}}"#,
        "{}",
        out.describe()
    );
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
    assert!(out.stderr.contains("keychain"), "{}", out.stderr);
    // The item is still there, locked.
    assert_eq!(keyring.count_locked(&item), 1);
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn no_keychain_daemon_answers_at_once() {
    // A live session bus with no Secret Service on it (a headless CI box).
    let bus = Bus::start();
    let mut p = Provider::new();
    p.env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .secret("nodaemon-env-5Tg");
    let out = p.request(&get());
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
    p.env("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "nodaemon-env-5Tg");
    assert_eq!(p.request(&get()).reply(), token_reply("nodaemon-env-5Tg"));
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn a_corrupt_keychain_item_is_reported_not_sent_and_not_deleted() {
    let keyring = Keyring::start();
    let service = format!("cargo-registry:{IDX}");
    let attrs = [
        ("service", service.as_str()),
        ("username", "cargo-credential-corp"),
    ];
    keyring.store("x", &attrs, "bad-item-3Rf\nsecond-line");
    let mut p = provider_on(&keyring);
    p.secret("bad-item-3Rf").secret("second-line");
    let out = p.request(&get());
    assert_eq!(out.reply(), r#"{"Err":{"kind":"not-found"}}"#);
    assert!(out.stderr.contains("control character"), "{}", out.stderr);
    assert!(
        keyring.lookup(&attrs).is_some(),
        "the stored item is left for the user to fix"
    );
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn login_without_a_token_asks_on_the_terminal_without_echo() {
    // `script` gives the provider a real terminal; the "person" types after
    // the prompt appeared, as a person would.
    let keyring = Keyring::start();
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("login.json");
    std::fs::write(&req, request(r#""kind":"login""#) + "\n").unwrap();
    let inner = format!(
        "env DBUS_SESSION_BUS_ADDRESS='{}' CARGO_CREDENTIAL_CORP_CONFIG=/nonexistent \
         CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG=/nonexistent '{}' --cargo-plugin < '{}'",
        keyring.address(),
        crate::util::provider_bin().display(),
        req.display()
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("(sleep 1; printf 'typed-at-prompt-8Kd\\n') | script -qec \"$0\" /dev/null")
        .arg(inner);
    let out = crate::util::process::run(cmd, None, Duration::from_secs(20));
    out.assert_success();
    assert!(
        out.stdout.contains("paste the token for my-private"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout.contains(r#"{"Ok":{"kind":"login"}}"#),
        "{}",
        out.describe()
    );
    out.assert_free_of(&["typed-at-prompt-8Kd".to_owned()]);
    assert_eq!(
        keyring.provider_item(IDX).as_deref(),
        Some("typed-at-prompt-8Kd")
    );
}
