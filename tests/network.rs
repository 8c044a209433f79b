//! The corporate network against the real provider binary: a company CA
//! (made with the real `openssl` for each test) is refused until it is
//! trusted, then accepted from `ca-file`, `CARGO_HTTP_CAINFO` and Cargo's
//! `http.cainfo`; an authenticated proxy (the real tinyproxy with
//! `BasicAuth`) named by `CARGO_HTTP_PROXY` or Cargo's `http.proxy` tunnels
//! to the endpoint, and wrong or missing credentials fail with a message
//! that never holds the password. A `get` served from the cache reads none
//! of these settings.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use crate::util::ca::{CA_NAME, CA_ORG, TestCa, own_name};
use crate::util::fake::{Behavior, Fake};
use crate::util::tinyproxy::Tinyproxy;
use crate::util::{Output, Provider};

const REGISTRY: &str = "corp";
/// The CI identity the provider exchanges.
const SUBJECT: &str = "subject-token-Jf62kP";
/// The token the endpoint issues.
const GOOD: &str = "good-token-Vn35sQ";
const GOOD_ANSWER: &str = r#"{"access_token":"good-token-Vn35sQ","expires_in":300}"#;
const TIMEOUT_MS: u64 = 3000;
/// The proxy's user and password.
const USER: &str = "builder";
const PASSWORD: &str = "proxy-pw-Qk82";
const WRONG: &str = "wrong-pw-Hd57";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn get_read() -> String {
    format!(
        r#"{{"v":1,"registry":{{"index-url":"sparse+https://registry.corp.example/api/v1/crates/","name":"{REGISTRY}"}},"kind":"get","operation":"read"}}"#
    )
}

/// A provider exchanging `SUBJECT` at `endpoint`, with `extra` config
/// (after the registry's tables: e.g. a `[defaults]` table).
fn provider(endpoint: &str, cache: &str, extra: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.{REGISTRY}]\nsources = [\"oidc\"]\n[registries.{REGISTRY}.oidc]\n\
         token-endpoint = {endpoint:?}\nidentity = \"env\"\nidentity-env = \"SUBJECT\"\n\
         client-id = \"c\"\ntimeout-ms = {TIMEOUT_MS}\ncache = {cache:?}\n{extra}"
    ))
    .env("SUBJECT", SUBJECT)
    .secret(SUBJECT)
    .secret(GOOD)
    .secret(PASSWORD)
    .secret(WRONG);
    p
}

/// `[defaults] ca-file = PATH`.
fn ca_file(path: &Path) -> String {
    format!("[defaults]\nca-file = {:?}\n", path.display().to_string())
}

fn reply(out: &Output) -> serde_json::Value {
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

fn token(out: &Output) -> String {
    reply(out)["Ok"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token:\n{}", out.describe()))
        .to_owned()
}

fn error(out: &Output) -> String {
    let v = reply(out);
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    assert!(
        out.elapsed < std::time::Duration::from_millis(TIMEOUT_MS + 3000),
        "took {:?}",
        out.elapsed
    );
    v["Err"].to_string()
}

/// A Cargo home whose `config.toml` is `text`.
fn cargo_home(text: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), text).unwrap();
    home
}

#[test]
#[ignore = "e2e: needs tinyproxy; run scripts/test.sh"]
fn a_proxy_from_the_environment_is_named_in_errors_with_the_variable_that_set_it() {
    let proxy = Tinyproxy::with_basic_auth(USER, PASSWORD);
    let endpoint = "https://idp.invalid:8443/token";
    let shown = format!("{} (with credentials)", proxy.url());

    // A wrong password in HTTPS_PROXY: the message names that proxy and
    // variable, and asks to check the credentials that were given.
    let mut p = provider(endpoint, "off", "");
    p.env("HTTPS_PROXY", &proxy.url_with(USER, WRONG));
    let msg = error(&p.request(&get_read()));
    for needle in [
        shown.as_str(),
        "HTTPS_PROXY",
        "refused to open a tunnel to idp.invalid:8443",
        "the user and password given for it",
    ] {
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    }

    // Credentials in ALL_PROXY that the proxy asks for anyway (407): never
    // "put the user and password in" when they were put there.
    let mut p = provider(endpoint, "off", "");
    p.env("ALL_PROXY", &proxy.url_with(USER, WRONG));
    let msg = error(&p.request(&get_read()));
    assert!(msg.contains(&shown) && msg.contains("ALL_PROXY"), "{msg}");
    assert!(!msg.contains("put the user and password"), "{msg}");

    // No credentials in ALL_PROXY: 407, and the proxy and variable named.
    let mut p = provider(endpoint, "off", "");
    p.env("ALL_PROXY", &proxy.url());
    let msg = error(&p.request(&get_read()));
    assert!(
        msg.contains("407") && msg.contains(&proxy.url()) && msg.contains("ALL_PROXY"),
        "{msg}"
    );
}

#[test]
#[ignore = "e2e: needs openssl; run scripts/test.sh"]
fn a_company_ca_is_refused_until_trusted_then_accepted_from_each_setting() {
    let ca = TestCa::new(&[]);
    let server = Fake::start_tls_on(
        LOOPBACK,
        Behavior::Json(200, GOOD_ANSWER.into()),
        ca.server_config(),
    );
    let endpoint = server.https_url("/token");
    let pem = ca.ca_pem().display().to_string();

    // Not trusted: the host, the issuer it presented, what to set.
    let msg = error(&provider(&endpoint, "off", "").request(&get_read()));
    for needle in [
        endpoint.as_str(),
        "certificate 127.0.0.1 presented",
        CA_NAME,
        CA_ORG,
        "does not trust",
        "ca-file",
        "CARGO_HTTP_CAINFO",
        "http.cainfo",
        "OS trust store",
    ] {
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    }
    assert_eq!(server.hits(), 1);

    // `ca-file` in [defaults] of the provider's config.
    let p = provider(&endpoint, "off", &ca_file(&ca.ca_pem()));
    assert_eq!(token(&p.request(&get_read())), GOOD);

    // CARGO_HTTP_CAINFO.
    let mut p = provider(&endpoint, "off", "");
    p.env("CARGO_HTTP_CAINFO", &pem);
    assert_eq!(token(&p.request(&get_read())), GOOD);

    // Cargo's http.cainfo in $CARGO_HOME/config.toml.
    let home = cargo_home(&format!("[http]\ncainfo = {pem:?}\n"));
    let mut p = provider(&endpoint, "off", "");
    p.env("CARGO_HOME", &home.path().display().to_string());
    assert_eq!(token(&p.request(&get_read())), GOOD);

    // A project's .cargo/config.toml, with a path relative to the project
    // (Cargo's rule), seen from a folder inside it.
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join(".cargo")).unwrap();
    std::fs::create_dir_all(project.path().join("certs")).unwrap();
    std::fs::create_dir_all(project.path().join("crates/a")).unwrap();
    std::fs::copy(ca.ca_pem(), project.path().join("certs/corp.pem")).unwrap();
    std::fs::write(
        project.path().join(".cargo/config.toml"),
        "[http]\ncainfo = \"certs/corp.pem\"\n",
    )
    .unwrap();
    let p = provider(&endpoint, "off", "");
    let out = p.run_in(
        &project.path().join("crates/a"),
        &["--cargo-plugin"],
        &format!("{}\n", get_read()),
    );
    assert_eq!(token(&out), GOOD);
    assert_eq!(server.hits(), 5);

    // A CA file that is missing is an error that names it and the setting.
    let mut p = provider(&endpoint, "off", "");
    p.env("CARGO_HTTP_CAINFO", "/nonexistent/corp-ca.pem");
    let msg = error(&p.request(&get_read()));
    assert!(
        msg.contains("/nonexistent/corp-ca.pem")
            && msg.contains("CARGO_HTTP_CAINFO")
            && msg.contains("does not exist"),
        "{msg}"
    );
    assert_eq!(
        server.hits(),
        5,
        "no call without the CA it was told to trust"
    );
}

#[test]
#[ignore = "e2e: needs openssl; run scripts/test.sh"]
fn a_cached_token_is_served_without_reading_cargo_config_or_any_ca() {
    let ca = TestCa::new(&[]);
    let server = Fake::start_tls_on(
        LOOPBACK,
        Behavior::Json(200, GOOD_ANSWER.into()),
        ca.server_config(),
    );
    let mut p = provider(&server.https_url("/token"), "file", &ca_file(&ca.ca_pem()));
    p.env("CARGO_CREDENTIAL_CORP_LOG", "debug");
    let out = p.request(&get_read());
    assert_eq!(token(&out), GOOD);
    assert!(
        out.stderr.contains("network:") && out.stderr.contains("trust store loaded"),
        "{}",
        out.describe()
    );
    // Served from the cache: no network settings read, no trust store
    // loaded; a CA file that is now missing is not even looked at.
    p.env("CARGO_HTTP_CAINFO", "/nonexistent/corp-ca.pem");
    let out = p.request(&get_read());
    assert_eq!(token(&out), GOOD);
    assert!(!out.stderr.contains("network:"), "{}", out.describe());
    assert_eq!(server.hits(), 1);
}

/// A fake proxy that would answer with its own token.
fn forging_proxy() -> Fake {
    Fake::start(Behavior::Json(
        200,
        r#"{"access_token":"forged-by-proxy-Kx9","expires_in":300}"#.into(),
    ))
}

fn connects(proxy: &Tinyproxy, target: &str) -> usize {
    proxy.log().matches(&format!("CONNECT {target}")).count()
}

#[test]
#[ignore = "e2e: needs tinyproxy and openssl; run scripts/test.sh"]
fn an_authenticated_proxy_from_cargos_http_proxy_tunnels_to_the_endpoint() {
    // An endpoint the provider treats as remote (this machine's host name,
    // not loopback): reached through the proxy, a CONNECT tunnel, with the
    // company CA trusted through `ca-file`.
    let (name, ip) = own_name();
    let ca = TestCa::new(&[&name]);
    let server = Fake::start_tls_on(
        ip,
        Behavior::Json(200, GOOD_ANSWER.into()),
        ca.server_config(),
    );
    let target = format!("{name}:{}", server.port());
    let endpoint = format!("https://{target}/token");
    let proxy = Tinyproxy::with_basic_auth(USER, PASSWORD);
    let forging = forging_proxy();
    let trusted = ca_file(&ca.ca_pem());

    // CARGO_HTTP_PROXY with credentials; it wins over HTTPS_PROXY, as in Cargo.
    let mut p = provider(&endpoint, "off", &trusted);
    p.env("CARGO_HTTP_PROXY", &proxy.url_with(USER, PASSWORD))
        .env("HTTPS_PROXY", &forging.url(""))
        .env("CARGO_CREDENTIAL_CORP_LOG", "debug");
    let out = p.request(&get_read());
    assert_eq!(token(&out), GOOD, "{}", proxy.log());
    assert!(
        out.stderr
            .contains(&format!("{} (with credentials)", proxy.url())),
        "the trace names the proxy without its credentials:\n{}",
        out.describe()
    );
    assert_eq!(connects(&proxy, &target), 1, "{}", proxy.log());
    assert_eq!((server.hits(), forging.hits()), (1, 0));

    // Cargo's http.proxy in $CARGO_HOME/config.toml.
    let home = cargo_home(&format!(
        "[http]\nproxy = {:?}\n",
        proxy.url_with(USER, PASSWORD)
    ));
    let mut p = provider(&endpoint, "off", &trusted);
    p.env("CARGO_HOME", &home.path().display().to_string());
    assert_eq!(token(&p.request(&get_read())), GOOD);
    assert_eq!(connects(&proxy, &target), 2, "{}", proxy.log());

    // NO_PROXY still applies to Cargo's proxy: the host is reached directly.
    let mut p = provider(&endpoint, "off", &trusted);
    p.env("CARGO_HTTP_PROXY", &proxy.url_with(USER, PASSWORD))
        .env("NO_PROXY", &name);
    assert_eq!(token(&p.request(&get_read())), GOOD);
    assert_eq!(connects(&proxy, &target), 2, "{}", proxy.log());

    // An empty http.proxy means no proxy at all, as in Cargo.
    let mut p = provider(&endpoint, "off", &trusted);
    p.env("CARGO_HTTP_PROXY", "")
        .env("HTTPS_PROXY", &forging.url(""));
    assert_eq!(token(&p.request(&get_read())), GOOD);
    assert_eq!((server.hits(), forging.hits()), (4, 0));
}

#[test]
#[ignore = "e2e: needs tinyproxy; run scripts/test.sh"]
fn wrong_or_missing_proxy_credentials_fail_without_showing_the_password() {
    // Refused by the proxy before any name is resolved: nothing leaves
    // this machine.
    let proxy = Tinyproxy::with_basic_auth(USER, PASSWORD);
    let endpoint = "https://idp.invalid:8443/token";
    let shown = format!("{} (with credentials)", proxy.url());

    // A wrong password in CARGO_HTTP_PROXY (tinyproxy answers 401), traced.
    let mut p = provider(endpoint, "off", "");
    p.env("CARGO_HTTP_PROXY", &proxy.url_with(USER, WRONG))
        .env("CARGO_CREDENTIAL_CORP_LOG", "debug");
    let msg = error(&p.request(&get_read()));
    for needle in [
        endpoint,
        shown.as_str(),
        "CARGO_HTTP_PROXY",
        "refused to open a tunnel to idp.invalid:8443",
        "user and password",
    ] {
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    }
    assert_eq!(connects(&proxy, "idp.invalid:8443"), 1, "{}", proxy.log());

    // The same from Cargo's config file, the password percent-encoded.
    let home = cargo_home(&format!(
        "[http]\nproxy = \"http://{USER}:wrong%2Dpw%2DHd57@127.0.0.1:{}\"\n",
        proxy.port()
    ));
    let mut p = provider(endpoint, "off", "");
    p.env("CARGO_HOME", &home.path().display().to_string())
        .secret("wrong%2Dpw%2DHd57");
    let msg = error(&p.request(&get_read()));
    assert!(
        msg.contains(&shown)
            && msg.contains(&home.path().join("config.toml").display().to_string()),
        "{msg}"
    );

    // No credentials at all: the proxy asks for them (407), and the
    // message says where they go.
    let mut p = provider(endpoint, "off", "");
    p.env("CARGO_HTTP_PROXY", &proxy.url());
    let msg = error(&p.request(&get_read()));
    assert!(
        msg.contains("407") && msg.contains("http.proxy") && msg.contains("USER:PASSWORD"),
        "{msg}"
    );
    assert_eq!(connects(&proxy, "idp.invalid:8443"), 3, "{}", proxy.log());
}

#[test]
#[ignore = "e2e: needs openssl; run scripts/test.sh"]
fn a_certificate_for_other_names_is_refused_with_the_names_it_is_for() {
    // Issued by a trusted CA, but not for this host name.
    let (name, ip) = own_name();
    let ca = TestCa::new(&[]);
    let server = Fake::start_tls_on(
        ip,
        Behavior::Json(200, GOOD_ANSWER.into()),
        ca.server_config(),
    );
    let endpoint = format!("https://{name}:{}/token", server.port());
    let msg = error(&provider(&endpoint, "off", &ca_file(&ca.ca_pem())).request(&get_read()));
    for needle in [
        endpoint.as_str(),
        "is not for this host",
        "localhost",
        CA_NAME,
        "check the host name in the URL",
    ] {
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    }
    assert_eq!(server.hits(), 1);
}
