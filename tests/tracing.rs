//! `CARGO_CREDENTIAL_CORP_LOG=debug|trace`: every step on standard error,
//! with every source active, and no secret in it.

use crate::util::Provider;
use crate::util::fake::{Behavior, Fake};

const INDEX: &str = "sparse+http://127.0.0.1:1/api/v1/crates/";
const REQUEST: &str = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:1/api/v1/crates/","name":"corp"},"kind":"get","operation":"read"}"#;
const ACCESS: &str = "at-Trace-9xQ7mLp2Vb";
const CLIENT_SECRET: &str = "cs-Trace-4kR8wNz1";
const ENV_TOKEN: &str = "env-Trace-7hJ3qPa5";

#[test]
fn every_step_is_traced_and_no_secret_is_printed() {
    let fake = Fake::start(Behavior::Json(
        200,
        format!(r#"{{"access_token":"{ACCESS}","token_type":"Bearer","expires_in":300}}"#),
    ));
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.corp]\nindex = {INDEX:?}\nsources = [\"keychain\", \"sso\", \"env\", \"oidc\"]\n\
         env = [\"CORP_TOKEN\"]\n\n[registries.corp.oidc]\ntoken-endpoint = {:?}\n\
         grant = \"client-credentials\"\nclient-id = \"ci\"\nclient-auth = \"client-secret-basic\"\n\
         client-secret-env = \"CORP_SECRET\"\ncache = \"file\"\n\n[registries.corp.sso]\n\
         token-endpoint = {:?}\ndevice-authorization-endpoint = {:?}\nclient-id = \"dev\"\n",
        fake.url("/token"),
        fake.url("/token"),
        fake.url("/device")
    ))
    .env("CORP_SECRET", CLIENT_SECRET)
    .env("CARGO_CREDENTIAL_CORP_LOG", "trace")
    .secrets_all(&[ACCESS, CLIENT_SECRET, ENV_TOKEN]);

    // The keychain (none here), no SSO login, the variable unset: the
    // exchange answers. (The leak rule reads all of stderr.)
    let out = p.request(REQUEST);
    assert!(
        out.reply().contains(r#""kind":"get""#),
        "{}",
        out.describe()
    );
    for step in [
        "config: ",
        "get for corp",
        "source \"keychain\": nothing",
        "keychain: ",
        "source \"sso\": nothing",
        "source \"env\": nothing",
        "single flight: lock taken",
        "http: http://127.0.0.1",
        "answered HTTP 200",
        "source \"oidc\": a token",
        "cache (file): nothing",
    ] {
        assert!(out.stderr.contains(step), "no {step:?} in:\n{}", out.stderr);
    }

    // Served from the cache the second time; then the variable answers.
    let out = p.request(REQUEST);
    assert!(
        out.stderr.contains("cache (file): a token expiring in"),
        "{}",
        out.stderr
    );
    p.env("CORP_TOKEN", ENV_TOKEN);
    let out = p.request(REQUEST);
    assert!(
        out.stderr.contains("source \"env\": a token"),
        "{}",
        out.stderr
    );

    // Off by default: not a line.
    p.env("CARGO_CREDENTIAL_CORP_LOG", "");
    let out = p.request(REQUEST);
    assert!(
        !out.stderr.contains("cargo-credential-corp debug"),
        "{}",
        out.stderr
    );
}
