//! Short-lived tokens from the real OpenID provider, handed to the real
//! cargo, checked by a gateway that verifies them for real in front of the
//! real kellnr; and the exchange's faults against fake servers.

use std::thread;
use std::time::Duration;

use crate::util::Provider;
use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::fake::{Behavior, Fake};
use crate::util::idp::{Gateway, Idp};

/// Every JWT (CI identity or issued access token) starts with this.
const ANY_JWT: &str = "eyJ";

fn oidc_config(index_url: &str, idp: &Idp, extra: &str) -> String {
    format!(
        "[registries.{REGISTRY}]\nindex = {index_url:?}\nsources = [\"oidc\"]\n\n\
         [registries.{REGISTRY}.oidc]\nissuer = {:?}\nresource = \"https://registry.test\"\n\
         identity-audience = {:?}\n{extra}",
        idp.issuer(),
        idp.issuer()
    )
}

/// A Cargo home that looks like a GitHub Actions job with `id-token: write`.
fn github_job(gw: &Gateway, idp: &Idp, extra: &str) -> CargoHome {
    let mut home = CargoHome::new(&gw.index_url(), Providers::PerRegistry(vec![]));
    home.env("GITHUB_ACTIONS", "true")
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &idp.ci_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token")
        .env("CORP_CLIENT_SECRET", "ci-secret")
        .secret("ci-request-token")
        .secret("ci-secret")
        .secret(ANY_JWT)
        .secret(gw.kellnr.token());
    home.corp_config(&oidc_config(
        &gw.index_url(),
        idp,
        &format!(
            "client-id = \"ci\"\nclient-auth = \"client-secret-basic\"\n\
             client-secret-env = \"CORP_CLIENT_SECRET\"\n{extra}"
        ),
    ));
    home
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn a_ci_identity_is_exchanged_for_publish_and_fetch_through_a_verifying_gateway() {
    let idp = Idp::start(300);
    let gw = Gateway::start(&idp);
    let home = github_job(&gw, &idp, "scope = \"read\"\npublish-scope = \"publish\"\n");

    let lib = home.new_lib("oidc-lib", "0.3.0");
    let out = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    out.assert_success();
    out.assert_stderr_contains("Uploaded oidc-lib v0.3.0");
    // One read-scope token for the index, one publish-scope token for the upload.
    assert_eq!(idp.issued(), 2);

    let app = home.new_app("oidc-app", "oidc-lib", "0.3");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    let out = home.cargo(&app, &["build"], None);
    out.assert_success();
    out.assert_stderr_contains("Downloaded oidc-lib v0.3.0");
    // Later cargo runs reuse the cached read token: no new exchange.
    assert_eq!(idp.issued(), 2);

    let stats = gw.stats();
    assert_eq!(stats["rejected"], 0, "{stats}");
    assert!(stats["accepted"].as_u64().unwrap() >= 4, "{stats}");
    assert!(home.credential_files().is_empty());
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn a_read_scoped_token_cannot_publish() {
    // The gateway enforces scopes: with the publish scope misconfigured, the
    // publish is refused by the registry side, not silently widened.
    let idp = Idp::start(300);
    let gw = Gateway::start(&idp);
    let home = github_job(&gw, &idp, "scope = \"read\"\npublish-scope = \"read\"\n");
    let lib = home.new_lib("scoped-lib", "0.1.0");
    let out = home.cargo(
        &lib,
        &["publish", "--registry", REGISTRY, "--no-verify"],
        None,
    );
    out.assert_failure();
    out.assert_stderr_contains("missing-publish-scope");
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn short_lived_tokens_are_reused_then_refreshed_and_never_presented_expired() {
    let idp = Idp::start(12);
    let gw = Gateway::start(&idp);
    let home = github_job(&gw, &idp, "scope = \"publish read\"\n");
    let lib = home.new_lib("ttl-lib", "0.1.0");
    home.cargo(
        &lib,
        &["publish", "--registry", REGISTRY, "--no-verify"],
        None,
    )
    .assert_success();
    assert_eq!(idp.issued(), 1);
    let app = home.new_app("ttl-app", "ttl-lib", "0.1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    assert_eq!(
        idp.issued(),
        1,
        "a second cargo run within the lifetime exchanges nothing"
    );

    thread::sleep(Duration::from_secs(13)); // past the token's expiry
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    assert_eq!(idp.issued(), 2, "an expired token is replaced");
    let stats = gw.stats();
    assert_eq!(
        stats["rejected"], 0,
        "a token was presented expired or invalid: {stats}"
    );
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn the_gateway_refuses_forged_expired_and_wrong_audience_tokens() {
    let idp = Idp::start(2);
    let gw = Gateway::start(&idp);
    let path = "/api/v1/crates/config.json";
    let valid = idp.client_credentials_token();
    assert_eq!(gw.get_status(path, &valid), 200);
    let forged = idp.ci_token("/test/forged-ci-token");
    assert_eq!(gw.get_status(path, &forged), 401);
    thread::sleep(Duration::from_secs(3));
    assert_eq!(gw.get_status(path, &valid), 401, "expired");
    let stats = gw.stats();
    assert_eq!(stats["rejections"]["ERR_JWT_EXPIRED"], 1, "{stats}");

    // Wrong audience: a gateway for another registry refuses a valid token.
    let other = Gateway::start_for_audience(&idp, "https://other-registry.test");
    let fresh = idp.client_credentials_token();
    assert_eq!(other.get_status(path, &fresh), 401);
    assert_eq!(
        other.stats()["rejections"]["ERR_JWT_CLAIM_VALIDATION_FAILED"],
        1
    );
}

fn get_read() -> String {
    format!(
        r#"{{"v":1,"registry":{{"index-url":"{}","name":"{REGISTRY}"}},"kind":"get","operation":"read"}}"#,
        "sparse+http://127.0.0.1:1/api/v1/crates/"
    )
}

fn provider_with(idp: &Idp, oidc: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\nissuer = {:?}\n\
         resource = \"https://registry.test\"\n{oidc}",
        idp.issuer()
    ))
    .secret(ANY_JWT);
    p
}

fn reply_token(out: &crate::util::Output) -> String {
    let v: serde_json::Value =
        serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()));
    assert_eq!(v["Ok"]["cache"], "expires", "{}", out.describe());
    assert!(
        v["Ok"]["expiration"].as_i64().unwrap() > time_now(),
        "{}",
        out.describe()
    );
    v["Ok"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", out.describe()))
        .to_owned()
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn client_credentials_and_jwt_bearer_tokens_are_accepted_by_the_registry() {
    let idp = Idp::start(300);
    let gw = Gateway::start(&idp);
    let path = "/api/v1/crates/config.json";

    let mut p = provider_with(
        &idp,
        "grant = \"client-credentials\"\nclient-id = \"ci-post\"\nclient-auth = \"client-secret-post\"\n\
         client-secret-env = \"SVC_SECRET\"\nscope = \"read\"\ncache = \"off\"\n",
    );
    p.env("SVC_SECRET", "ci-post-secret")
        .secret("ci-post-secret");
    let token = reply_token(&p.request(&get_read()));
    assert_eq!(gw.get_status(path, &token), 200);

    let ci_jwt = idp.ci_token("/ci/token");
    let mut p = provider_with(
        &idp,
        "grant = \"jwt-bearer\"\nclient-id = \"cli\"\nidentity = \"env\"\nidentity-env = \"MY_CI_JWT\"\n\
         scope = \"read\"\ncache = \"off\"\n",
    );
    p.env("MY_CI_JWT", &ci_jwt);
    let token = reply_token(&p.request(&get_read()));
    assert_eq!(gw.get_status(path, &token), 200);
    assert_eq!(idp.issued(), 2);
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn forged_expired_and_wrong_audience_identities_are_refused_by_the_exchange() {
    let idp = Idp::start(300);
    let cases = [
        ("forged", idp.ci_token("/test/forged-ci-token")),
        (
            "expired",
            idp.ci_token(&format!("/ci/token?exp={}", time_now() - 120)),
        ),
        (
            "wrong audience",
            idp.ci_token("/ci/token?audience=https://elsewhere.test"),
        ),
    ];
    for (what, jwt) in cases {
        let mut p = provider_with(
            &idp,
            "client-id = \"cli\"\nidentity = \"env\"\nidentity-env = \"MY_CI_JWT\"\ncache = \"off\"\n",
        );
        p.env("MY_CI_JWT", &jwt);
        let out = p.request(&get_read());
        let v: serde_json::Value = serde_json::from_str(out.reply()).unwrap();
        assert_eq!(v["Err"]["kind"], "other", "{what}: {}", out.describe());
        let text = v["Err"].to_string();
        assert!(
            text.contains("invalid_grant") && text.contains(&idp.issuer()),
            "{what}: {text}"
        );
    }
    assert_eq!(idp.issued(), 0);
}

#[test]
#[ignore = "e2e: needs the test IdP; run scripts/test.sh"]
fn sixteen_processes_at_once_cause_one_exchange() {
    let idp = Idp::start(300);
    let mut p = provider_with(
        &idp,
        "grant = \"client-credentials\"\nclient-id = \"ci\"\nclient-auth = \"client-secret-basic\"\n\
         client-secret-env = \"SVC_SECRET\"\ncache = \"file\"\n",
    );
    p.env("SVC_SECRET", "ci-secret").secret("ci-secret");
    let request = get_read();
    let tokens: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| reply_token(&p.request(&request))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        idp.issued(),
        1,
        "16 concurrent providers made more than one exchange"
    );
    assert!(tokens.iter().all(|t| t == &tokens[0]));
}

/// A provider whose token endpoint is `endpoint`, exchanging a subject token
/// from the environment, with a 1.5 s deadline and no cache.
fn faulty(endpoint: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n\
         token-endpoint = {endpoint:?}\nidentity = \"env\"\nidentity-env = \"SUBJECT\"\n\
         client-id = \"c\"\ntimeout-ms = 1500\ncache = \"off\"\n"
    ))
    .env("SUBJECT", "subject-token-Hq83nV")
    .secret("subject-token-Hq83nV")
    .secret("issued-token-Pz71");
    p
}

fn fault_message(p: &Provider) -> String {
    let out = p.request(&get_read());
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    let v: serde_json::Value = serde_json::from_str(out.reply()).unwrap();
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    v["Err"].to_string()
}

#[test]
fn exchange_faults_give_clear_errors_in_time_and_leak_nothing() {
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}/token", l.local_addr().unwrap().port())
    };
    let msg = fault_message(&faulty(&down));
    assert!(
        msg.contains(&down) && msg.contains("cannot connect"),
        "{msg}"
    );

    let cases: Vec<(Behavior, &[&str])> = vec![
        (
            Behavior::Raw(500, "<h1>oops issued-token-Pz71</h1>".into()),
            &["HTTP 500", "failing"],
        ),
        (
            Behavior::Slow(Duration::from_secs(30)),
            &["did not answer within 1500 ms"],
        ),
        (
            Behavior::Raw(200, "{not json issued-token-Pz71".into()),
            &["not with a JSON token response"],
        ),
        (Behavior::Huge(1024 * 1024), &["larger than"]),
        (
            Behavior::Redirect("http://203.0.113.9/token".into()),
            &["redirect", "not followed"],
        ),
        (
            Behavior::Json(
                400,
                r#"{"error":"invalid_grant","error_description":"subject expired"}"#.into(),
            ),
            &["invalid_grant", "subject expired", "identity-audience"],
        ),
    ];
    for (behavior, needles) in cases {
        let fake = Fake::start(behavior.clone());
        let endpoint = fake.url("/token");
        let msg = fault_message(&faulty(&endpoint));
        assert!(msg.contains(&endpoint), "{behavior:?}: {msg}");
        for needle in needles {
            assert!(msg.contains(needle), "{behavior:?}: {needle}: {msg}");
        }
        assert_eq!(
            fake.hits(),
            1,
            "{behavior:?}: a token request is never retried blindly"
        );
    }
}

#[test]
fn identity_endpoints_must_be_https() {
    let p = faulty("http://idp.example/token");
    let out = p.request(&get_read());
    assert!(out.reply().contains("plain http"), "{}", out.describe());
}

#[test]
#[ignore = "e2e: needs gnome-keyring and the test IdP; run scripts/test.sh"]
fn client_secret_and_token_cache_live_in_the_keychain_when_there_is_one() {
    let idp = Idp::start(300);
    let keyring = crate::util::keyring::Keyring::start();
    let mut p = Provider::new();
    p.env("DBUS_SESSION_BUS_ADDRESS", keyring.address())
        .user_config(&format!(
            "[registries.{REGISTRY}]\nindex = \"sparse+http://127.0.0.1:1/api/v1/crates/\"\n\
             sources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\nissuer = {:?}\n\
             resource = \"https://registry.test\"\ngrant = \"client-credentials\"\nclient-id = \"ci\"\n\
             client-auth = \"client-secret-basic\"\nclient-secret-keychain = true\n",
            idp.issuer()
        ))
        .secret("ci-secret")
        .secret(ANY_JWT);

    // Before the secret is stored: a clear error naming the command.
    let out = p.request(&get_read());
    assert!(
        out.reply().contains("cargo-credential-corp client-secret"),
        "{}",
        out.describe()
    );

    let out = p.run(&["client-secret", "--registry", REGISTRY], "ci-secret\n");
    out.assert_success();
    let first = reply_token(&p.request(&get_read()));
    let second = reply_token(&p.request(&get_read()));
    assert_eq!(first, second);
    assert_eq!(idp.issued(), 1);
    // The cache entry is a keychain item, not a file.
    assert!(!p.dir().join("cache").join("tokens").exists());
    let listed = std::process::Command::new("secret-tool")
        .args(["search", "--all", "username", "cargo-credential-corp"])
        .env("DBUS_SESSION_BUS_ADDRESS", keyring.address())
        .output()
        .unwrap();
    // Only the attribute lines (on stderr): stdout shows the secrets.
    let listed: String = String::from_utf8_lossy(&listed.stderr)
        .lines()
        .filter(|l| l.starts_with("attribute."))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(listed.contains("cargo-credential-corp-cache:"), "{listed}");
    assert!(
        listed.contains("cargo-credential-corp-client:ci@"),
        "{listed}"
    );
}

#[test]
fn registry_json_exchanges_send_what_the_registry_expects() {
    for (grant, extra, reply, needles) in [
        (
            "jfrog-artifactory",
            "provider-name = \"github-corp\"\n",
            r#"{"access_token":"issued-token-Pz71","expires_in":300}"#,
            &[
                "POST /access/api/v1/oidc/token ",
                r#""grant_type":"urn:ietf:params:oauth:grant-type:token-exchange""#,
                r#""subject_token_type":"urn:ietf:params:oauth:token-type:id_token""#,
                r#""subject_token":"subject-token-Hq83nV""#,
                r#""provider_name":"github-corp""#,
            ][..],
        ),
        (
            "cloudsmith",
            "service-slug = \"ci-bot\"\n",
            r#"{"token":"issued-token-Pz71"}"#,
            &[
                "POST /access/api/v1/oidc/token ",
                r#""oidc_token":"subject-token-Hq83nV""#,
                r#""service_slug":"ci-bot""#,
            ][..],
        ),
    ] {
        let fake = Fake::start(Behavior::Json(200, reply.into()));
        let mut p = Provider::new();
        p.user_config(&format!(
            "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n\
             token-endpoint = {:?}\ngrant = \"{grant}\"\n{extra}identity = \"env\"\n\
             identity-env = \"SUBJECT\"\ncache = \"off\"\n",
            fake.url("/access/api/v1/oidc/token")
        ))
        .env("SUBJECT", "subject-token-Hq83nV")
        .secret("subject-token-Hq83nV");
        let out = p.request(&get_read());
        let v: serde_json::Value = serde_json::from_str(out.reply()).unwrap();
        assert_eq!(v["Ok"]["token"], "issued-token-Pz71", "{grant}");
        let request = fake.last_request();
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{grant}"
        );
        for needle in needles {
            // Not printing the request: it holds the subject token.
            assert!(
                request.contains(needle),
                "{grant}: the request lacks {needle:?}"
            );
        }
    }
}

/// A provider exchanging at the fake `token` endpoint with `identity` settings.
fn exchanging_at(token: &Fake, identity: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n\
         token-endpoint = {:?}\nclient-id = \"c\"\ncache = \"off\"\n{identity}",
        token.url("/token")
    ))
    .secret("ci-identity-Wm52")
    .secret("azure-access-Jt4");
    p
}

const ISSUED: &str = r#"{"access_token":"issued-token-Pz71","expires_in":300}"#;

#[test]
fn azure_pipelines_identity_is_requested_for_the_service_connection() {
    let azure = Fake::start(Behavior::Json(
        200,
        r#"{"oidcToken":"ci-identity-Wm52"}"#.into(),
    ));
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let mut p = exchanging_at(&token, "azure-service-connection-id = \"sc-123\"\n");
    p.env("SYSTEM_OIDCREQUESTURI", &azure.url("/oidc/request"))
        .env("SYSTEM_ACCESSTOKEN", "azure-access-Jt4");
    let out = p.request(&get_read());
    assert!(
        out.reply().contains("issued-token-Pz71"),
        "{}",
        out.describe()
    );
    let asked = azure.last_request();
    assert!(asked.starts_with("POST /oidc/request?api-version=7.1&serviceConnectionId=sc-123 "));
    assert!(
        asked
            .to_ascii_lowercase()
            .contains("authorization: bearer azure-access-jt4")
    );
    assert!(
        token
            .last_request()
            .contains("subject_token=ci-identity-Wm52")
    );
}

#[test]
fn buildkite_identity_comes_from_the_agent_command() {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("buildkite-agent");
    std::fs::write(
        &agent,
        "#!/bin/sh\n[ \"$*\" = \"oidc request-token --audience https://idp.test\" ] || exit 3\necho ci-identity-Wm52\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let mut p = exchanging_at(&token, "identity-audience = \"https://idp.test\"\n");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    p.env("BUILDKITE", "true")
        .env("BUILDKITE_JOB_ID", "job-1")
        .env("PATH", &path);
    let out = p.request(&get_read());
    assert!(
        out.reply().contains("issued-token-Pz71"),
        "{}",
        out.describe()
    );
    assert!(
        token
            .last_request()
            .contains("subject_token=ci-identity-Wm52")
    );
}
