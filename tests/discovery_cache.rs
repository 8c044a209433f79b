//! One round trip per cold exchange: the OIDC discovery document is cached
//! across runs, for as long as its `Cache-Control` allows, and rediscovered
//! when the token endpoint it named is gone.

use crate::util::Provider;
use crate::util::fake::{Behavior, Fake};

const IDX: &str = "sparse+https://registry.corp.example/api/v1/crates/";
const CI_JWT: &str = "ci-identity-Dc41xQ";
/// No `expires_in` and not a JWT: the token itself is not cached, so every
/// `get` is a cold exchange.
const ISSUED: &str = r#"{"access_token":"issued-token-Dc93vN"}"#;

fn get() -> String {
    format!(
        r#"{{"v":1,"registry":{{"index-url":"{IDX}","name":"corp"}},"kind":"get","operation":"read"}}"#
    )
}

fn discovery_doc(issuer: &str, token: &Fake) -> String {
    format!(
        r#"{{"issuer":"{issuer}","token_endpoint":"{}"}}"#,
        token.url("/token")
    )
}

fn provider(issuer: &str, cache: &str) -> Provider {
    let mut p = Provider::new();
    p.env("CI_JWT", CI_JWT).secret(CI_JWT).user_config(&format!(
        "[registries.corp]\nindex = {IDX:?}\nsources = [\"oidc\"]\n[registries.corp.oidc]\n\
         issuer = {issuer:?}\nidentity = \"env\"\nidentity-env = \"CI_JWT\"\ncache = {cache:?}\n"
    ));
    p
}

fn assert_issued(p: &Provider) {
    let out = p.request(&get());
    assert!(
        out.reply().contains("issued-token-Dc93vN"),
        "{}",
        out.describe()
    );
}

#[test]
fn a_cold_exchange_after_the_first_costs_one_request() {
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let idp = Fake::start(Behavior::Json(200, String::new()));
    let issuer = idp.url("");
    idp.set(Behavior::Json(200, discovery_doc(&issuer, &token)));
    let p = provider(&issuer, "file");
    for _ in 0..3 {
        assert_issued(&p);
    }
    assert_eq!(idp.hits(), 1, "discovery is fetched once, then cached");
    assert_eq!(token.hits(), 3, "every cold get makes its one exchange");

    // `cache = "off"` writes nothing and caches no discovery either.
    let p = provider(&issuer, "off");
    assert_issued(&p);
    assert_issued(&p);
    assert_eq!(idp.hits(), 3);
}

#[test]
fn no_store_is_honoured() {
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let idp = Fake::start(Behavior::Json(200, String::new()));
    let issuer = idp.url("");
    idp.set(Behavior::JsonWith(
        200,
        "cache-control: no-store".into(),
        discovery_doc(&issuer, &token),
    ));
    let p = provider(&issuer, "file");
    assert_issued(&p);
    assert_issued(&p);
    assert_eq!(idp.hits(), 2, "no-store: discovered on every cold get");
}

#[test]
fn a_token_endpoint_that_moved_is_rediscovered_once() {
    let old = Fake::start(Behavior::Json(200, ISSUED.into()));
    let idp = Fake::start(Behavior::Json(200, String::new()));
    let issuer = idp.url("");
    idp.set(Behavior::Json(200, discovery_doc(&issuer, &old)));
    let p = provider(&issuer, "file");
    assert_issued(&p);
    // The IdP moves its token endpoint; the old URL answers 404.
    let new = Fake::start(Behavior::Json(200, ISSUED.into()));
    old.set(Behavior::Raw(404, "not found".into()));
    idp.set(Behavior::Json(200, discovery_doc(&issuer, &new)));
    assert_issued(&p);
    assert_eq!((old.hits(), new.hits(), idp.hits()), (2, 1, 2));
    // And the new document is the cached one now.
    assert_issued(&p);
    assert_eq!((old.hits(), new.hits(), idp.hits()), (2, 2, 2));
}
