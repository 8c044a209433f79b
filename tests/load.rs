//! Load and endurance, bounded: many provider processes at once against one
//! keychain and one cache, and a long run of sequential `get`s. Correctness
//! under load (valid replies, one exchange, nothing corrupt or left behind),
//! not speed: speed is measured by `scripts/bench.sh`.

use std::time::{Duration, Instant};

use crate::util::Provider;
use crate::util::fake::{Behavior, Fake};
use crate::util::keyring::Keyring;

const KEYCHAIN_IDX: &str = "sparse+https://keychain.corp.example/index/";
const OIDC_IDX: &str = "sparse+https://oidc.corp.example/index/";
const STORED: &str = "stored-token-Ld62pW";
const ISSUED: &str = "issued-token-Ld17qX";
const CI_JWT: &str = "ci-identity-Ld40rY";

fn request(kind: &str, index_url: &str, name: &str) -> String {
    format!(r#"{{"v":1,"registry":{{"index-url":"{index_url}","name":"{name}"}},{kind}}}"#)
}

fn get(index_url: &str, name: &str) -> String {
    request(r#""kind":"get","operation":"read""#, index_url, name)
}

fn token_of(reply: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(reply).ok()?;
    v["Ok"]["token"].as_str().map(str::to_owned)
}

fn config(token: &Fake, cache: &str, keychain_timeout_ms: u64) -> String {
    format!(
        "[defaults]\nkeychain-timeout-ms = {keychain_timeout_ms}\n\
         [registries.stored]\nindex = {KEYCHAIN_IDX:?}\nsources = [\"keychain\"]\n\
         [registries.exchanged]\nindex = {OIDC_IDX:?}\nsources = [\"oidc\"]\n\
         [registries.exchanged.oidc]\ntoken-endpoint = {:?}\nidentity = \"env\"\n\
         identity-env = \"CI_JWT\"\ncache = {cache:?}\n",
        token.url("/token")
    )
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn sixty_four_processes_at_once_share_one_keychain_and_one_exchange() {
    let keyring = Keyring::start();
    let token = Fake::start(Behavior::Json(
        200,
        format!(r#"{{"access_token":"{ISSUED}","expires_in":300}}"#),
    ));
    let mut p = Provider::new();
    p.env("DBUS_SESSION_BUS_ADDRESS", keyring.address())
        .env("CI_JWT", CI_JWT)
        .secret(CI_JWT)
        .secret(STORED)
        .secret(ISSUED)
        // Correctness under load, not latency: a generous keychain deadline
        // so that 64 clients on a 2-core machine do not time out.
        .user_config(&config(&token, "keychain", 30_000));
    let login = request(
        &format!(r#""kind":"login","token":"{STORED}""#),
        KEYCHAIN_IDX,
        "stored",
    );
    p.request(&login).assert_success();

    let replies: Vec<(bool, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let p = &p;
                s.spawn(move || {
                    let keychain = i % 2 == 0;
                    let req = if keychain {
                        get(KEYCHAIN_IDX, "stored")
                    } else {
                        get(OIDC_IDX, "exchanged")
                    };
                    let out = p.request(&req);
                    (keychain, out.reply().to_owned())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (keychain, reply) in &replies {
        let want = if *keychain { STORED } else { ISSUED };
        assert_eq!(
            token_of(reply).as_deref(),
            Some(want),
            "an invalid or wrong reply under load (token redacted): {}",
            reply
                .replace(STORED, "[stored]")
                .replace(ISSUED, "[issued]")
        );
    }
    assert_eq!(token.hits(), 1, "32 processes at once made one exchange");
    // The stored token is intact afterwards, and the cache entry readable.
    assert_eq!(keyring.provider_item(KEYCHAIN_IDX).as_deref(), Some(STORED));
    assert_eq!(
        token_of(p.request(&get(OIDC_IDX, "exchanged")).reply()).as_deref(),
        Some(ISSUED)
    );
    assert_eq!(token.hits(), 1);
}

#[test]
#[ignore = "e2e: a 1000-process endurance run; run scripts/test.sh"]
fn a_thousand_sequential_gets_leave_nothing_behind_and_do_not_slow_down() {
    // Two-second tokens: the run refreshes (lock, temporary file, rename)
    // every second or so, besides serving from the cache.
    let token = Fake::start(Behavior::Json(
        200,
        format!(r#"{{"access_token":"{ISSUED}","expires_in":2}}"#),
    ));
    let mut p = Provider::new();
    p.env("CI_JWT", CI_JWT)
        .secret(CI_JWT)
        .secret(ISSUED)
        .user_config(&config(&token, "file", 2000));
    let req = get(OIDC_IDX, "exchanged");
    let mut times = Vec::with_capacity(1000);
    let start = Instant::now();
    for _ in 0..1000 {
        let out = p.request(&req);
        assert_eq!(token_of(out.reply()).as_deref(), Some(ISSUED));
        times.push(out.elapsed);
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "the run is bounded"
        );
    }
    let median = |slice: &[Duration]| {
        let mut v = slice.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let (first, last) = (median(&times[..100]), median(&times[900..]));
    // A generous factor: this catches growth (a file per call, a lock
    // queue), not noise; speed itself is measured by scripts/bench.sh.
    assert!(
        last < first * 3 + Duration::from_millis(20),
        "time per call grew: median {first:?} over the first 100, {last:?} over the last 100"
    );
    assert!(
        token.hits() >= 2,
        "the run refreshed ({} exchanges)",
        token.hits()
    );
    // What is left: one token entry and one lock, nothing else.
    let cache = p.dir().join("cache");
    let mut left: Vec<String> = Vec::new();
    for folder in ["tokens", "locks"] {
        for entry in std::fs::read_dir(cache.join(folder)).unwrap() {
            left.push(format!(
                "{folder}/{}",
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    left.sort();
    assert_eq!(left.len(), 2, "files left behind: {left:?}");
    assert!(
        left[0].starts_with("locks/") && left[0].ends_with(".lock"),
        "{left:?}"
    );
    assert!(
        left[1].starts_with("tokens/") && left[1].ends_with(".json"),
        "{left:?}"
    );
}
