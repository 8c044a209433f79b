//! Hostile and broken identity endpoints against the real provider binary:
//! every HTTP call (OIDC discovery, the CI identity fetch, the token
//! exchange) ends within `timeout-ms` with an error that says what happened,
//! makes exactly the requests it should (no blind retry), leaks nothing, and
//! loses no cached token; plain-http (loopback) endpoints never go through a
//! proxy, https ones do.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::util::fake::{Behavior, Fake};
use crate::util::tinyproxy::Tinyproxy;
use crate::util::{Output, Provider};

const REGISTRY: &str = "corp";
/// The CI identity the provider exchanges.
const SUBJECT: &str = "subject-token-Hq83nV";
/// A token inside hostile bodies: never to be echoed.
const IN_BODY: &str = "issued-token-Pz71";
/// The token a good endpoint issues.
const GOOD: &str = "good-token-Rb40xQ";
const GOOD_ANSWER: &str = r#"{"access_token":"good-token-Rb40xQ","expires_in":300}"#;
/// The deadline of each HTTP call in these tests...
const TIMEOUT_MS: u64 = 1500;
/// ...and how long one provider run with one failing call may take, with
/// room for a slow, loaded machine.
const BOUND: Duration = Duration::from_secs(5);

fn get_read() -> String {
    format!(
        r#"{{"v":1,"registry":{{"index-url":"sparse+https://registry.corp.example/api/v1/crates/","name":"{REGISTRY}"}},"kind":"get","operation":"read"}}"#
    )
}

/// A provider exchanging the identity in `SUBJECT` with `endpoint` (a
/// `token-endpoint = …` or `issuer = …` line), with `cache` and `extra`
/// settings.
fn provider(endpoint: &str, cache: &str, extra: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n{endpoint}\n\
         identity = \"env\"\nidentity-env = \"SUBJECT\"\nclient-id = \"c\"\n\
         timeout-ms = {TIMEOUT_MS}\ncache = {cache:?}\n{extra}"
    ))
    .env("SUBJECT", SUBJECT)
    .secret(SUBJECT)
    .secret(IN_BODY)
    .secret(GOOD);
    p
}

fn token_endpoint(url: &str) -> String {
    format!("token-endpoint = {url:?}")
}

fn reply(out: &Output) -> serde_json::Value {
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

/// Runs a `get` that must fail within [`BOUND`]; its error text.
fn error_within_bound(p: &Provider) -> String {
    let out = p.request(&get_read());
    assert!(
        out.elapsed < BOUND,
        "took {:?}:\n{}",
        out.elapsed,
        out.describe()
    );
    let v = reply(&out);
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    v["Err"].to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The one token cache file of a provider with `cache = "file"`.
fn cache_file(dir: &Path) -> PathBuf {
    let tokens = dir.join("cache").join("tokens");
    let files: Vec<PathBuf> = std::fs::read_dir(&tokens)
        .unwrap_or_else(|e| panic!("no token cache in {}: {e}", tokens.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

/// Makes the cached entry due for a refresh but still usable (expiring in
/// 30 s, obtained long ago); returns the file's new contents.
fn make_cached_token_due(dir: &Path) -> String {
    let file = cache_file(dir);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut entry: serde_json::Value =
        serde_json::from_str(&text).expect("the cache entry is JSON");
    assert!(
        entry["obtained_at"].is_i64() && entry["expires_at"].is_i64(),
        "the cache entry format changed: update make_cached_token_due"
    );
    entry["obtained_at"] = (now() - 1000).into();
    entry["expires_at"] = (now() + 30).into();
    let text = entry.to_string();
    // Rewriting in place keeps the file's private mode.
    std::fs::write(&file, &text).unwrap();
    text
}

/// One hostile behaviour of the token endpoint: with no cache, a clear error
/// holding every needle within the bound, after exactly one request; with a
/// cached token due for refresh, that token is still served (with a warning
/// holding the needles) and the cache entry is left as it was.
fn token_endpoint_fault(behavior: Behavior, needles: &[&str]) {
    let fake = Fake::start(behavior.clone());
    let endpoint = fake.url("/token");
    let msg = error_within_bound(&provider(&token_endpoint(&endpoint), "off", ""));
    assert!(msg.contains(&endpoint), "{behavior:?}: {msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{behavior:?}: {needle:?} in {msg}");
    }
    assert_eq!(
        fake.hits(),
        1,
        "{behavior:?}: exactly one request, no retry"
    );

    // A token obtained by a good run, now due for refresh.
    fake.set(Behavior::Json(200, GOOD_ANSWER.into()));
    let p = provider(&token_endpoint(&endpoint), "file", "");
    assert_eq!(reply(&p.request(&get_read()))["Ok"]["token"], GOOD);
    assert_eq!(fake.hits(), 2);
    let stored = make_cached_token_due(p.dir());

    fake.set(behavior.clone());
    let out = p.request(&get_read());
    assert!(
        out.elapsed < BOUND,
        "{behavior:?}: took {:?}:\n{}",
        out.elapsed,
        out.describe()
    );
    let v = reply(&out);
    assert_eq!(v["Ok"]["token"], GOOD, "{behavior:?}: {}", out.describe());
    assert!(
        out.stderr.contains("refreshing the registry token failed"),
        "{behavior:?}: {}",
        out.describe()
    );
    for needle in needles {
        assert!(
            out.stderr.contains(needle),
            "{behavior:?}: {needle:?}: {}",
            out.describe()
        );
    }
    assert_eq!(
        fake.hits(),
        3,
        "{behavior:?}: one refresh attempt, no retry"
    );
    assert_eq!(
        std::fs::read_to_string(cache_file(p.dir())).unwrap(),
        stored,
        "{behavior:?}: the cached token was changed by a failed refresh"
    );
}

/// A body long enough to drip for well over the provider's 20 s harness limit.
fn drip() -> Behavior {
    Behavior::Drip {
        every: Duration::from_millis(500),
        body: format!(
            r#"{{"access_token":"{IN_BODY}","expires_in":300,"pad":"{}"}}"#,
            "x".repeat(100)
        ),
    }
}

#[test]
fn a_token_endpoint_dripping_its_body_is_cut_off_at_the_deadline() {
    token_endpoint_fault(drip(), &["within 1500 ms"]);
}

#[test]
fn a_truncated_body_is_an_error() {
    token_endpoint_fault(
        Behavior::Truncated {
            claimed: 4000,
            body: format!(r#"{{"access_token":"{IN_BODY}""#),
        },
        &["broke off its answer"],
    );
}

#[test]
fn a_huge_body_is_refused_with_or_without_content_length() {
    token_endpoint_fault(Behavior::Huge(1024 * 1024), &["larger than 65536 bytes"]);
    token_endpoint_fault(
        Behavior::HugeUnsized(1024 * 1024),
        &["larger than 65536 bytes"],
    );
}

#[test]
fn an_html_page_with_200_is_not_a_token() {
    token_endpoint_fault(
        Behavior::Raw(200, format!("<html><body>Sign in {IN_BODY}</body></html>")),
        &["HTTP 200", "not with a JSON token response"],
    );
}

#[test]
fn a_redirect_is_not_followed() {
    token_endpoint_fault(
        Behavior::Redirect("https://203.0.113.9/elsewhere".into()),
        &["redirect", "not followed", "https://203.0.113.9/elsewhere"],
    );
}

#[test]
fn rate_limiting_says_when_to_retry_and_is_not_retried() {
    token_endpoint_fault(
        Behavior::RateLimited(Some("120".into())),
        &["rate limiting", "HTTP 429", "retry in 120 s"],
    );
    token_endpoint_fault(
        Behavior::RateLimited(Some("Wed, 21 Oct 2037 07:28:00 GMT".into())),
        &["rate limiting", "retry after Wed, 21 Oct 2037 07:28:00 GMT"],
    );
    token_endpoint_fault(
        Behavior::RateLimited(None),
        &["rate limiting", "retry later"],
    );
}

/// A fake proxy on 127.0.0.1 that would answer with its own token; the
/// environment variables that point every scheme at it.
fn forging_proxy() -> (Fake, Vec<(&'static str, String)>) {
    let proxy = Fake::start(Behavior::Json(
        200,
        r#"{"access_token":"forged-by-proxy-Kx9","expires_in":300,"value":"forged-identity","token_endpoint":"http://127.0.0.1:9/forged"}"#.into(),
    ));
    let url = proxy.url("");
    let vars = [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ]
    .into_iter()
    .map(|k| (k, url.clone()))
    .collect();
    (proxy, vars)
}

#[test]
fn an_untrusted_or_broken_tls_endpoint_fails_with_a_tls_error_at_once() {
    // Loopback https is never proxied either: the proxy sees nothing.
    let (proxy, vars) = forging_proxy();
    for (server, needles) in [
        (
            Fake::start_untrusted_tls(Behavior::Json(200, GOOD_ANSWER.into())),
            &["TLS", "certificate", "trust"][..],
        ),
        (Fake::start(Behavior::Garbage), &["TLS"][..]),
    ] {
        let endpoint = server.https_url("/token");
        let mut p = provider(&token_endpoint(&endpoint), "off", "");
        for (k, v) in &vars {
            p.env(k, v);
        }
        let msg = error_within_bound(&p);
        assert!(msg.contains(&endpoint), "{msg}");
        for needle in needles {
            assert!(msg.contains(needle), "{needle:?} in {msg}");
        }
        assert!(!msg.contains("cannot connect"), "{msg}");
        assert_eq!(server.hits(), 1, "{msg}");
    }
    assert_eq!(proxy.hits(), 0);
}

#[test]
fn oidc_discovery_and_the_ci_identity_fetch_have_the_same_deadline() {
    // Each of these endpoints drips; the three providers run at once.
    // Discovery: the issuer's configuration document.
    let issuer = Fake::start(drip());
    let mut cases = vec![(
        provider(&format!("issuer = {:?}", issuer.url("")), "off", ""),
        issuer.url("/.well-known/openid-configuration"),
    )];
    // The CI identity: GitHub's and Azure's ID token endpoints.
    let token = Fake::start(Behavior::Json(200, GOOD_ANSWER.into()));
    let github = Fake::start(drip());
    let azure = Fake::start(drip());
    for (identity, ci, vars) in [
        (
            "github-actions",
            &github,
            [
                ("ACTIONS_ID_TOKEN_REQUEST_URL", "/gh/idtoken"),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token-Yt6"),
            ],
        ),
        (
            "azure-pipelines",
            &azure,
            [
                ("SYSTEM_OIDCREQUESTURI", "/az/oidc"),
                ("SYSTEM_ACCESSTOKEN", "ci-request-token-Yt6"),
            ],
        ),
    ] {
        let mut p = Provider::new();
        p.user_config(&format!(
            "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n\
             token-endpoint = {:?}\nidentity = \"{identity}\"\nclient-id = \"c\"\n\
             azure-service-connection-id = \"sc-1\"\ntimeout-ms = {TIMEOUT_MS}\ncache = \"off\"\n",
            token.url("/token")
        ))
        .env(vars[0].0, &ci.url(vars[0].1))
        .env(vars[1].0, vars[1].1)
        .secret(vars[1].1)
        .secret(IN_BODY);
        cases.push((p, ci.url(vars[0].1)));
    }
    let messages: Vec<String> = thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(p, _)| s.spawn(|| error_within_bound(p)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((_, url), msg) in cases.iter().zip(&messages) {
        assert!(
            msg.contains(url.as_str()) && msg.contains("within 1500 ms"),
            "{url}: {msg}"
        );
    }
    assert_eq!((issuer.hits(), github.hits(), azure.hits()), (1, 1, 1));
    assert_eq!(token.hits(), 0, "no exchange without an identity");
}

#[test]
fn processes_waiting_for_the_single_flight_lock_are_bounded_too() {
    // Two processes of one machine (one cache folder) ask at once; the token
    // endpoint drips. The first holds the lock for at most one deadline; the
    // second waits for it (at most 3 × timeout-ms), finds no token, and makes
    // its own bounded attempt.
    let fake = Fake::start(drip());
    let p = provider(&token_endpoint(&fake.url("/token")), "file", "");
    let request = get_read();
    let outs: Vec<Output> = thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| p.request(&request))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        let v = reply(out);
        assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
        assert!(
            v["Err"].to_string().contains("within 1500 ms"),
            "{}",
            out.describe()
        );
        // Lock wait (≤ 3 × 1.5 s) plus one call (≤ 1.5 s), plus slack.
        assert!(
            out.elapsed < Duration::from_secs(8),
            "took {:?}",
            out.elapsed
        );
    }
    assert_eq!(fake.hits(), 2);
}

#[test]
fn plain_http_loopback_endpoints_never_go_through_a_proxy() {
    // Every proxy variable points at a "proxy" that would forge the answers.
    // Discovery, the CI identity fetch and the exchange are all plain http to
    // 127.0.0.1: each must go to the real endpoint, none to the proxy.
    let (proxy, vars) = forging_proxy();
    let token = Fake::start(Behavior::Json(200, GOOD_ANSWER.into()));
    let issuer = Fake::start(Behavior::Json(200, "{}".into()));
    issuer.set(Behavior::Json(
        200,
        format!(
            r#"{{"issuer":{:?},"token_endpoint":{:?}}}"#,
            issuer.url(""),
            token.url("/token")
        ),
    ));
    let github = Fake::start(Behavior::Json(
        200,
        r#"{"value":"ci-identity-Wm52"}"#.into(),
    ));
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n\
         issuer = {:?}\nidentity = \"github-actions\"\nclient-id = \"c\"\n\
         client-auth = \"client-secret-post\"\nclient-secret-env = \"CLIENT_SECRET\"\n\
         timeout-ms = {TIMEOUT_MS}\ncache = \"off\"\n",
        issuer.url("")
    ))
    .env("ACTIONS_ID_TOKEN_REQUEST_URL", &github.url("/idtoken"))
    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-request-token-Yt6")
    .env("CLIENT_SECRET", "client-secret-Vd3")
    .secret("ci-request-token-Yt6")
    .secret("client-secret-Vd3")
    .secret("ci-identity-Wm52")
    .secret(GOOD);
    for (k, v) in &vars {
        p.env(k, v);
    }
    let out = p.request(&get_read());
    assert_eq!(reply(&out)["Ok"]["token"], GOOD, "{}", out.describe());
    assert_eq!(
        proxy.hits(),
        0,
        "a plain-http loopback request went to the proxy"
    );
    assert_eq!(
        (issuer.hits(), github.hits(), token.hits()),
        (1, 1, 1),
        "each real endpoint answered once"
    );
    // The proxy never saw the identity or the client secret: the endpoint did.
    assert!(
        token
            .last_request()
            .contains("client_secret=client-secret-Vd3")
    );
    assert!(
        token
            .last_request()
            .contains("subject_token=ci-identity-Wm52")
    );
}

#[test]
#[ignore = "e2e: needs tinyproxy; run scripts/test.sh"]
fn https_endpoints_go_through_the_configured_proxy_and_loopback_http_does_not() {
    let tinyproxy = Tinyproxy::start();
    // An https endpoint that is not loopback: asked for through the proxy
    // (a CONNECT), which refuses this port.
    let endpoint = "https://idp.invalid:8443/token";
    let mut p = provider(&token_endpoint(endpoint), "off", "");
    p.env("HTTPS_PROXY", &tinyproxy.url());
    let msg = error_within_bound(&p);
    assert!(
        msg.contains(endpoint) && msg.contains("proxy"),
        "the error names the endpoint and the proxy: {msg}"
    );
    let log = tinyproxy.log();
    assert!(
        log.contains("CONNECT idp.invalid:8443"),
        "tinyproxy did not see the request:\n{log}"
    );
    // ALL_PROXY applies too.
    let mut p = provider(&token_endpoint(endpoint), "off", "");
    p.env("ALL_PROXY", &tinyproxy.url());
    error_within_bound(&p);
    assert_eq!(
        tinyproxy.log().matches("CONNECT idp.invalid:8443").count(),
        2,
        "{}",
        tinyproxy.log()
    );

    // The same proxy variables, a plain-http loopback endpoint: direct.
    let token = Fake::start(Behavior::Json(200, GOOD_ANSWER.into()));
    let mut p = provider(&token_endpoint(&token.url("/token")), "off", "");
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        p.env(var, &tinyproxy.url());
    }
    let before = tinyproxy.log();
    let out = p.request(&get_read());
    assert_eq!(reply(&out)["Ok"]["token"], GOOD, "{}", out.describe());
    assert_eq!(token.hits(), 1);
    let after = tinyproxy.log();
    assert!(
        !after[before.len()..].contains(&token.authority()),
        "the loopback endpoint went through the proxy:\n{after}"
    );
}
