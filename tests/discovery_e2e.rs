//! Zero-config sign-in against real parts: kellnr behind Apache httpd with
//! mod_auth_openidc (an OAuth 2.0 resource server that verifies the IdP's
//! JWT access tokens itself, serves the RFC 9728 metadata and names it in
//! its 401), with oidc-provider as the IdP (dynamic registration on).

use cargo_credential_corp::net::http::Http;
use cargo_credential_corp::oauth::{challenge, discovery, registration, resource};

use crate::util::apache::{Apache, Options};
use crate::util::idp::Idp;
use crate::util::reserve_port;

/// The IdP, accepting the Apache-fronted registry as a resource, and Apache
/// in front of kellnr.
fn start(registration: bool, options: &Options) -> (Idp, Apache) {
    let port = reserve_port();
    let mut env = vec![("RESOURCE", Apache::resource_for(port.port()))];
    if registration {
        env.push(("REGISTRATION", "1".to_owned()));
    }
    let idp = Idp::start_with(&env);
    let apache = Apache::start(port, &idp, options);
    (idp, apache)
}

fn http() -> Http {
    Http::new(std::time::Duration::from_secs(10)).unwrap()
}

/// A client-credentials access token of the IdP for `resource`.
fn token_for(idp: &Idp, resource: &str) -> String {
    let v: serde_json::Value = crate::util::http()
        .post(format!("{}/token", idp.issuer()))
        .basic_auth("ci", Some("ci-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("resource", resource),
        ])
        .send()
        .unwrap()
        .text()
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {v}"))
        .to_owned()
}

#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr and the test IdP: run scripts/test.sh"]
fn the_proxy_verifies_the_idps_tokens_and_names_its_metadata_in_the_401() {
    let (idp, apache) = start(true, &Options::default());
    let (status, headers) = apache.get("/api/v1/crates/config.json", None);
    assert_eq!(status, 401, "{}", apache.log());
    let named = challenge::resource_metadata(
        &challenge::parse_all(&headers.iter().map(String::as_str).collect::<Vec<_>>()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        named.as_deref(),
        Some(apache.metadata_url().as_str()),
        "{headers:?}"
    );
    // The IdP's token for this registry passes; one for another audience,
    // or garbage, does not.
    let good = token_for(&idp, &apache.resource());
    assert_eq!(
        apache
            .get(
                "/api/v1/crates/config.json",
                Some(&format!("Bearer {good}"))
            )
            .0,
        200
    );
    let other = token_for(&idp, crate::util::idp::REGISTRY);
    assert_eq!(
        apache
            .get(
                "/api/v1/crates/config.json",
                Some(&format!("Bearer {other}"))
            )
            .0,
        401
    );
    assert_eq!(
        apache
            .get("/api/v1/crates/config.json", Some("Bearer forged.jwt.x"))
            .0,
        401
    );
    // The parsers read what the real parts serve.
    let meta = resource::discover(&http(), &apache.index_url(), named.as_deref()).unwrap();
    assert_eq!(meta.authorization_servers, [idp.issuer()]);
    let meta = resource::discover(&http(), &apache.index_url(), None).unwrap();
    assert_eq!(meta.resource, apache.resource());
    let server = discovery::authorization_server(&http(), &idp.issuer()).unwrap();
    assert!(server.code_flow && server.device_flow);
    let registered = registration::register(
        &http(),
        server.registration_endpoint.as_deref().unwrap(),
        &idp.issuer(),
        true,
        true,
        Some("openid offline_access read publish"),
    )
    .unwrap();
    assert!(!registered.client_id.is_empty());
}

#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr and the test IdP: run scripts/test.sh"]
fn broken_metadata_behind_the_real_proxy_is_refused_saying_what_is_wrong() {
    let (idp, apache) = start(false, &Options::default());
    let index = apache.index_url();
    let good = serde_json::json!({
        "resource": apache.resource(),
        "authorization_servers": [idp.issuer()],
    });
    for (doc, needle) in [
        ("not json".to_owned(), "not a JSON object"),
        ("x".repeat(100 * 1024), "larger than"),
        (
            serde_json::json!({"resource": "http://127.0.0.1:1/api/v1/crates",
                "authorization_servers": [idp.issuer()]})
            .to_string(),
            "instead of",
        ),
    ] {
        apache.set_metadata_text(&doc);
        let msg = format!(
            "{:#}",
            resource::discover(&http(), &index, None).unwrap_err()
        );
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    apache.set_metadata(&good);
    let redirect = format!(
        "http://127.0.0.1:{}/meta/redirect",
        apache
            .metadata_url()
            .split(':')
            .nth(2)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
    );
    let msg = format!(
        "{:#}",
        resource::discover(&http(), &index, Some(&redirect)).unwrap_err()
    );
    assert!(msg.contains("redirect"), "{msg}");
    // No registration endpoint at this IdP: registering is refused.
    let server = discovery::authorization_server(&http(), &idp.issuer()).unwrap();
    assert_eq!(server.registration_endpoint, None);
}

/// The whole zero-config path with real cargo: a Cargo home that names the
/// registry and nothing else (no provider table at all), `cargo login` on a
/// terminal asks before trusting the IdP the registry names, registers a
/// client, signs in with the device flow; then publish and build go through
/// the verifying proxy, and logout signs out.
#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr, the test IdP and gnome-keyring: run scripts/test.sh"]
fn zero_config_login_with_dynamic_registration_then_publish_build_and_logout() {
    use crate::util::cargo::{CargoHome, Providers, REGISTRY};
    use crate::util::idp::user_agent;
    use crate::util::keyring::Keyring;
    use std::time::Duration;
    const TERMINAL: Duration = Duration::from_secs(90);

    let (idp, apache) = start(true, &Options::default());
    let keyring = Keyring::start();
    let index = apache.index_url();
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    home.bus(keyring.address()).secret("eyJ");
    home.secret(apache.kellnr.token());

    let word_after = |screen: &str, before: &str| -> String {
        let at = screen
            .find(before)
            .unwrap_or_else(|| panic!("no {before:?} on the terminal:\n{screen}"));
        screen[at + before.len()..]
            .split(char::is_whitespace)
            .next()
            .unwrap()
            .to_owned()
    };
    let mut pty = home.cargo_on_terminal(
        home.root(),
        &["login", "--registry", REGISTRY, "--", "--device"],
    );
    let asked = pty.wait_for("[y/N]", TERMINAL);
    assert!(asked.contains("signs in at 127.0.0.1:"), "{asked}");
    pty.type_line("y");
    let screen = pty.wait_for("and enter the code ", TERMINAL);
    let uri = word_after(&screen, ", open ");
    let code = word_after(&screen, "enter the code ");
    user_agent(&["device", &uri, &code]).assert_success();
    let (ok, login) = pty.finish(TERMINAL);
    assert!(ok, "cargo login failed:\n{login}\n{}", apache.log());

    let lib = home.new_lib("zc-lib", "0.1.0");
    let publish = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    publish.assert_success();
    let app = home.new_app("zc-app", "zc-lib", "0.1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    let build = home.cargo(&app, &["build"], None);
    build.assert_success();
    assert!(
        build.stderr.contains("Downloaded zc-lib v0.1.0"),
        "{}",
        build.describe()
    );

    let logout = home.cargo(home.root(), &["logout", "--registry", REGISTRY], None);
    logout.assert_success();
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let after = home.cargo(&app, &["generate-lockfile"], None);
    after.assert_failure();
    assert!(
        after
            .stderr
            .contains(&format!("{REGISTRY} signs in at 127.0.0.1:")),
        "{}",
        after.describe()
    );

    let secrets = idp.secrets_issued();
    for (i, text) in [
        &login,
        &publish.stderr,
        &build.stderr,
        &logout.stderr,
        &after.stderr,
    ]
    .iter()
    .enumerate()
    {
        crate::util::leak::check_text(&format!("output #{i}"), text.as_bytes(), &secrets);
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    home.secrets(&refs);
}
