//! CI identities that come from the environment or a local metadata server,
//! through the real provider binary: Bitbucket Pipelines' step token is
//! exchanged as it is, and the GCP metadata server (`identity = "gcp"`,
//! pointed at a fake by `GCE_METADATA_HOST`) is asked the way Google
//! documents, never followed through a redirect, and keyed on what it says.

use base64::Engine as _;

use crate::util::Provider;
use crate::util::fake::{Behavior, Fake};

const REQUEST: &str = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:1/api/v1/crates/","name":"corp"},"kind":"get","operation":"read"}"#;
/// The token the fake token endpoint issues.
const ISSUED: &str = "issued-token-Mw63";
const ISSUED_ANSWER: &str = r#"{"access_token":"issued-token-Mw63","expires_in":300}"#;
/// The audience asked of the metadata server.
const AUDIENCE: &str = "https://idp.corp.example";

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

/// A provider exchanging at `token` with `oidc` settings added.
fn provider(token: &Fake, cache: &str, oidc: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.corp]\nsources = [\"oidc\"]\n[registries.corp.oidc]\n\
         token-endpoint = {:?}\nclient-id = \"c\"\ntimeout-ms = 2000\ncache = {cache:?}\n{oidc}",
        token.url("/token")
    ))
    .secret(ISSUED)
    .secret("eyJ");
    p
}

fn reply(p: &Provider) -> serde_json::Value {
    let out = p.request(REQUEST);
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

/// Whether the form body of `request` has `name=value` (form-encoded).
fn has_param(request: &str, name: &str, value: &str) -> bool {
    let body = request.split("\r\n\r\n").nth(1).unwrap_or("");
    url::form_urlencoded::parse(body.as_bytes()).any(|(k, v)| k == name && v == value)
}

#[test]
fn a_bitbucket_step_token_is_exchanged_as_it_is() {
    let token = Fake::start(Behavior::Json(200, ISSUED_ANSWER.into()));
    let step = jwt(serde_json::json!({
        "iss": "https://api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
        "aud": "ari:cloud:bitbucket::workspace/0c8a1f6e",
        "sub": "{repo-uuid}:{step-uuid}", "iat": 1_000, "exp": 4_600,
    }));
    // `identity = "auto"`: detected by the variable alone.
    let mut p = provider(&token, "off", "");
    p.env("BITBUCKET_STEP_OIDC_TOKEN", &step).secret(&step);
    let v = reply(&p);
    assert_eq!(v["Ok"]["token"], ISSUED, "{v}");
    assert_eq!(token.hits(), 1);
    let sent = token.last_request();
    assert!(
        has_param(&sent, "subject_token", &step),
        "the step token was not sent as the subject token"
    );
    assert!(has_param(
        &sent,
        "subject_token_type",
        "urn:ietf:params:oauth:token-type:jwt"
    ));

    // Asked for explicitly in a step without `oidc: true`: what to add.
    let mut p = provider(&token, "off", "identity = \"bitbucket\"\n");
    p.env("BITBUCKET_BUILD_NUMBER", "7");
    let v = reply(&p);
    assert_eq!(v["Err"]["kind"], "other", "{v}");
    assert!(
        v["Err"].to_string().contains("oidc: true"),
        "the error says what to add: {v}"
    );
    assert_eq!(token.hits(), 1, "no exchange without an identity");
}

/// A provider with `identity = "gcp"` whose metadata server is `metadata`.
fn gcp(token: &Fake, metadata: &Fake, cache: &str) -> Provider {
    let mut p = provider(
        token,
        cache,
        &format!("identity = \"gcp\"\nidentity-audience = {AUDIENCE:?}\n"),
    );
    p.env("GCE_METADATA_HOST", &metadata.authority());
    p
}

#[test]
fn the_gcp_metadata_servers_id_token_is_exchanged() {
    let identity = |sub: &str, iat: i64| {
        jwt(serde_json::json!({
            "iss": "https://accounts.google.com", "aud": AUDIENCE, "sub": sub,
            "email": format!("{sub}@acme.iam.gserviceaccount.com"),
            "iat": iat, "exp": iat + 3600,
        }))
    };
    let first = identity("builder", 1_000);
    let token = Fake::start(Behavior::Json(200, ISSUED_ANSWER.into()));
    let metadata = Fake::start(Behavior::Raw(200, first.clone()));
    let mut p = gcp(&token, &metadata, "file");
    p.secret(&first);
    let v = reply(&p);
    assert_eq!(v["Ok"]["token"], ISSUED, "{v}");
    assert_eq!((metadata.hits(), token.hits()), (1, 1));

    let asked = metadata.last_request();
    let request_line = asked.lines().next().unwrap_or("");
    let expected = format!(
        "GET /computeMetadata/v1/instance/service-accounts/default/identity?audience={}&format=full HTTP/1.1",
        url::form_urlencoded::byte_serialize(AUDIENCE.as_bytes()).collect::<String>()
    );
    assert_eq!(request_line, expected);
    assert!(
        asked
            .lines()
            .any(|l| l.eq_ignore_ascii_case("metadata-flavor: Google")),
        "no `Metadata-Flavor: Google` header:\n{asked}"
    );
    assert!(
        has_param(&token.last_request(), "subject_token", &first),
        "the metadata server's JWT was not sent as the subject token"
    );

    // The next run asks the metadata server again (the identity is the
    // cache key) but finds the registry token in the cache, also for a
    // fresh JWT of the same service account.
    let refreshed = identity("builder", 2_000);
    metadata.set(Behavior::Raw(200, refreshed.clone()));
    p.secret(&refreshed);
    assert_eq!(reply(&p)["Ok"]["token"], ISSUED);
    assert_eq!((metadata.hits(), token.hits()), (2, 1));

    // Another service account on the same machine: its own exchange.
    let other = identity("deployer", 2_000);
    metadata.set(Behavior::Raw(200, other.clone()));
    p.secret(&other);
    assert_eq!(reply(&p)["Ok"]["token"], ISSUED);
    assert_eq!((metadata.hits(), token.hits()), (3, 2));
    assert!(has_param(&token.last_request(), "subject_token", &other));
}

#[test]
fn a_gcp_metadata_server_that_refuses_or_redirects_is_an_error() {
    let token = Fake::start(Behavior::Json(200, ISSUED_ANSWER.into()));
    let metadata = Fake::start(Behavior::Raw(404, "body-secret-Hn20".into()));
    let mut p = gcp(&token, &metadata, "off");
    p.secret("body-secret-Hn20");
    let v = reply(&p);
    let msg = v["Err"].to_string();
    assert!(
        msg.contains("metadata server") && msg.contains("HTTP 404"),
        "{msg}"
    );

    metadata.set(Behavior::Redirect("http://203.0.113.9/elsewhere".into()));
    let msg = reply(&p)["Err"].to_string();
    assert!(
        msg.contains("redirect") && msg.contains("not followed"),
        "{msg}"
    );
    assert_eq!(metadata.hits(), 2);
    assert_eq!(token.hits(), 0, "nothing to exchange");

    // Anything but the metadata server or a loopback emulator is refused
    // before any request.
    let mut p = gcp(&token, &metadata, "off");
    p.env("GCE_METADATA_HOST", "metadata.evil.example");
    let msg = reply(&p)["Err"].to_string();
    assert!(msg.contains("GCE_METADATA_HOST"), "{msg}");
    assert_eq!(metadata.hits(), 2);
}
