//! The cross-run cache is keyed on what a token was really issued for: two
//! CI jobs on one runner (same user, same cache folder) with different
//! identities or client secrets never share a cached token.

use std::path::Path;

use base64::Engine as _;

use crate::util::Provider;
use crate::util::fake::{Behavior, Fake};

const ISSUED: &str = r#"{"access_token":"issued-token-Kq27","expires_in":300}"#;
const REQUEST: &str = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:1/api/v1/crates/","name":"corp"},"kind":"get","operation":"read"}"#;

fn provider(token: &Fake, oidc: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.corp]\nsources = [\"oidc\"]\n[registries.corp.oidc]\n\
         token-endpoint = {:?}\nclient-id = \"c\"\ncache = \"file\"\n{oidc}",
        token.url("/token")
    ))
    .secret("eyJ");
    p
}

/// An unsigned JWT with these claims (the fake endpoint checks nothing).
fn jwt(claims: serde_json::Value) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256","kid":"k1"}"#),
        b64(claims.to_string().as_bytes()),
        b64(b"not-a-real-signature")
    )
}

fn served(p: &Provider) -> serde_json::Value {
    let out = p.request(REQUEST);
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

#[test]
fn a_command_identity_is_cached_per_identity_it_prints() {
    let dir = tempfile::tempdir().unwrap();
    let id_file = dir.path().join("identity");
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let p = provider(
        &token,
        &format!(
            "identity = \"command\"\nidentity-command = [\"cat\", {:?}]\n",
            id_file.display().to_string()
        ),
    );
    let job = |sub: &str, iat: i64, jti: &str| {
        let claims = serde_json::json!({
            "iss": "https://ci.example", "sub": sub, "aud": "corp",
            "iat": iat, "nbf": iat, "exp": iat + 600, "jti": jti,
        });
        std::fs::write(&id_file, jwt(claims)).unwrap();
    };
    let get = |expected_hits: usize, what: &str| {
        let v = served(&p);
        assert_eq!(v["Ok"]["token"], "issued-token-Kq27", "{what}: {v}");
        assert_eq!(token.hits(), expected_hits, "{what}");
    };

    job("repo:a:job:1", 1_000, "a-1");
    get(1, "job A exchanges");
    job("repo:b:job:2", 1_000, "b-1");
    get(
        2,
        "job B (another identity) exchanges instead of getting A's token",
    );
    job("repo:a:job:1", 1_060, "a-2");
    get(
        2,
        "a fresh JWT for job A (new iat/nbf/exp/jti) reuses A's token",
    );
    job("repo:a:job:1", 1_060, "a-2");
    get(2, "and again");

    write(&id_file, "opaque-identity-one");
    get(3, "an opaque identity is keyed on its value");
    write(&id_file, "opaque-identity-two");
    get(4, "another opaque identity exchanges");
    write(&id_file, "opaque-identity-one");
    get(4, "the first opaque identity is served from the cache");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_client_secret_is_part_of_the_cache_key() {
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let mut p = provider(
        &token,
        "grant = \"client-credentials\"\nclient-auth = \"client-secret-basic\"\n\
         client-secret-env = \"SVC_SECRET\"\n",
    );
    p.secret("svc-secret-a-Jm4").secret("svc-secret-b-Wq8");

    p.env("SVC_SECRET", "svc-secret-a-Jm4");
    assert_eq!(served(&p)["Ok"]["token"], "issued-token-Kq27");
    assert_eq!(token.hits(), 1);

    p.env("SVC_SECRET", "svc-secret-b-Wq8");
    assert_eq!(served(&p)["Ok"]["token"], "issued-token-Kq27");
    assert_eq!(token.hits(), 2, "another secret is not served A's token");

    p.env("SVC_SECRET", "");
    let v = served(&p);
    assert_eq!(v["Err"]["kind"], "other", "no secret, no cached token: {v}");
    assert!(v["Err"].to_string().contains("SVC_SECRET"), "{v}");

    p.env("SVC_SECRET", "svc-secret-a-Jm4");
    assert_eq!(served(&p)["Ok"]["token"], "issued-token-Kq27");
    assert_eq!(token.hits(), 2, "the first secret's token is still cached");
}
