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

/// The registry's host and port, as messages show it.
fn registry_host(apache: &Apache) -> String {
    apache
        .index_url()
        .split("://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

const TERMINAL: std::time::Duration = std::time::Duration::from_secs(90);

/// The word after `before` on the terminal.
fn word_after(screen: &str, before: &str) -> String {
    let at = screen
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} on the terminal:\n{screen}"));
    screen[at + before.len()..]
        .split(char::is_whitespace)
        .next()
        .unwrap()
        .to_owned()
}

/// `cargo-credential-corp ARGS` with the home's environment, in its root.
fn corp(home: &crate::util::cargo::CargoHome, args: &[&str]) -> crate::util::process::Output {
    let mut cmd = std::process::Command::new(crate::util::provider_bin());
    cmd.args(args).current_dir(home.root());
    home.run_with_env(cmd)
}

/// Nothing kept by the provider: no binding, no registered client.
fn nothing_stored(home: &crate::util::cargo::CargoHome) {
    for folder in ["sso-bindings", "sso-clients", "sso"] {
        let dir = home.root().join("corp-cache").join(folder);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        assert!(files.is_empty(), "{}: {files:?}", dir.display());
    }
}

/// `cargo login` on a terminal with the device flow; `confirm`: the trust
/// question is expected and answered yes. The terminal's text.
fn device_login(home: &crate::util::cargo::CargoHome, confirm: bool, apache: &Apache) -> String {
    device_login_with(home, confirm, apache, &[])
}

/// [`device_login`] with more words for the provider (`--rebind`).
fn device_login_with(
    home: &crate::util::cargo::CargoHome,
    confirm: bool,
    apache: &Apache,
    more: &[&str],
) -> String {
    use crate::util::cargo::REGISTRY;
    use crate::util::idp::user_agent;
    let mut args = vec!["login", "--registry", REGISTRY, "--", "--device"];
    args.extend(more);
    let mut pty = home.cargo_on_terminal(home.root(), &args);
    if confirm {
        let asked = pty.wait_for("[y/N]", TERMINAL);
        assert!(asked.contains("signs in at 127.0.0.1:"), "{asked}");
        pty.type_line("y");
    }
    let screen = pty.wait_for("and enter the code ", TERMINAL);
    assert!(confirm || !screen.contains("[y/N]"), "{screen}");
    let uri = word_after(&screen, ", open ");
    let code = word_after(&screen, "enter the code ");
    user_agent(&["device", &uri, &code]).assert_success();
    let (ok, login) = pty.finish(TERMINAL);
    assert!(ok, "cargo login failed:\n{login}\n{}", apache.log());
    login
}

/// The whole zero-config path with real cargo: a Cargo home that names the
/// registry and nothing else (no provider table at all). `cargo fetch`
/// first says where to sign in (from the 401's challenge); `cargo login`
/// on a terminal asks before trusting the IdP the registry names, registers
/// a client, signs in with the device flow; then publish and build go
/// through the verifying proxy, `status` shows the account, and logout
/// signs out (`status` then shows nobody). The requests of a cold login
/// and of a `get` after it are counted from Apache's access log and the
/// IdP's; with `CCC_TRANSCRIPT=FILE` the session is written there.
#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr, the test IdP and gnome-keyring: run scripts/test.sh"]
fn zero_config_login_with_dynamic_registration_then_publish_build_and_logout() {
    use crate::util::cargo::{CargoHome, Providers, REGISTRY};
    use crate::util::keyring::Keyring;

    let (idp, apache) = start(true, &Options::default());
    let keyring = Keyring::start();
    let index = apache.index_url();
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    home.bus(keyring.address()).secret("eyJ");
    home.secret(apache.kellnr.token());
    let mut transcript = String::new();
    let mut log = |cmd: &str, out: &str| {
        transcript.push_str(&format!("$ {cmd}\n{out}\n"));
    };

    // Before any sign-in: the 401's challenge names the IdP's host.
    let app = home.new_app("zc-app", "zc-lib", "0.1");
    let first = home.cargo(&app, &["fetch"], None);
    first.assert_failure();
    let host = format!(
        "{REGISTRY} ({}) signs in at 127.0.0.1:{}",
        registry_host(&apache),
        idp.issuer().rsplit(':').next().unwrap()
    );
    assert!(
        first
            .stderr
            .contains(&format!("{host}: cargo login --registry {REGISTRY}")),
        "{}",
        first.describe()
    );
    log("cargo fetch", &first.stderr);
    nothing_stored(&home);

    let (apache_before, idp_before) = (apache.requests().len(), idp.requests().len());
    let login = device_login(&home, true, &apache);
    let login_apache = apache.requests()[apache_before..].to_vec();
    let login_idp = idp.requests()[idp_before..].to_vec();
    log(
        &format!("cargo login --registry {REGISTRY} -- --device"),
        &login,
    );

    let (apache_before, idp_before) = (apache.requests().len(), idp.requests().len());
    let get = home.provider_get(&index, "read");
    assert!(get.reply().contains("\"token\""), "{}", get.describe());
    let get_apache = apache.requests()[apache_before..].to_vec();
    let get_idp = idp.requests()[idp_before..].to_vec();

    let lib = home.new_lib("zc-lib", "0.1.0");
    let publish = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    publish.assert_success();
    log(
        &format!("cargo publish --registry {REGISTRY}"),
        &publish.stderr,
    );
    let status = corp(&home, &["status", "--registry", REGISTRY]);
    status.assert_success();
    assert!(
        status.stdout.contains("Signed in as ")
            && status.stdout.contains("a client registered at the IdP")
            && status.stdout.contains("A get is answered by: source sso"),
        "{}",
        status.describe()
    );
    log(
        &format!("cargo-credential-corp status --registry {REGISTRY}"),
        &status.stdout,
    );
    let json = corp(&home, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["registries"][0]["signed_in"], true);
    assert_eq!(v["registries"][0]["configured"], "registration");
    assert_eq!(v["registries"][0]["identity_provider"], idp.issuer());

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
    log(
        &format!("cargo logout --registry {REGISTRY}"),
        &logout.stderr,
    );
    let after_status = corp(&home, &["status", "--registry", REGISTRY]);
    after_status.assert_success();
    assert!(
        after_status.stdout.contains("Not signed in")
            && after_status
                .stdout
                .contains("no source (Cargo gets not-found)"),
        "{}",
        after_status.describe()
    );
    log(
        &format!("cargo-credential-corp status --registry {REGISTRY}"),
        &after_status.stdout,
    );
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let after = home.cargo(&app, &["generate-lockfile"], None);
    after.assert_failure();
    assert!(after.stderr.contains(&host), "{}", after.describe());

    let counts = format!(
        "cold login: {} requests to the registry (Apache) {:?}, {} to the IdP {:?}\n\
         a get after it: {} to the registry {:?}, {} to the IdP {:?}\n",
        login_apache.len(),
        login_apache,
        login_idp.len(),
        login_idp,
        get_apache.len(),
        get_apache,
        get_idp.len(),
        get_idp
    );
    transcript.push_str(&counts);
    if let Ok(path) = std::env::var("CCC_TRANSCRIPT") {
        std::fs::write(path, &transcript).unwrap();
    }
    let secrets = idp.secrets_issued();
    for (i, text) in [
        &first.stderr,
        &login,
        &publish.stderr,
        &status.stdout,
        &status.stderr,
        &json.stdout,
        &build.stderr,
        &logout.stderr,
        &after_status.stdout,
        &after.stderr,
        &transcript,
    ]
    .iter()
    .enumerate()
    {
        crate::util::leak::check_text(&format!("output #{i}"), text.as_bytes(), &secrets);
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    home.secrets(&refs);
}

/// A pre-registered client named by an `[issuers."…"]` table: no trust
/// question (the table lists the IdP), no registration; then the registry
/// names another IdP, and `cargo login` refuses until `-- --rebind`.
#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr, the test IdP and gnome-keyring: run scripts/test.sh"]
fn an_issuer_table_names_the_client_and_a_moved_registry_is_refused() {
    use crate::util::cargo::{CargoHome, Providers, REGISTRY};
    use crate::util::keyring::Keyring;

    let (idp, apache) = start(false, &Options::default());
    let keyring = Keyring::start();
    let index = apache.index_url();
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    home.bus(keyring.address()).secret("eyJ");
    home.secret(apache.kellnr.token());
    home.corp_config(&format!(
        "[issuers.\"{}\"]\nclient-id = \"sso\"\nregistries = [\"{}\"]\n",
        idp.issuer(),
        apache.index_url()
    ));
    let login = device_login(&home, false, &apache);
    assert!(
        !idp.requests().iter().any(|r| r.contains("/reg")),
        "{:?}",
        idp.requests()
    );
    let lib = home.new_lib("it-lib", "0.1.0");
    home.cargo(&lib, &["publish", "--registry", REGISTRY], None)
        .assert_success();
    let status = corp(&home, &["status"]);
    assert!(
        status.stdout.contains("Signed in as ")
            && status
                .stdout
                .contains(&format!("[issuers.\"{}\"] (client `sso`)", idp.issuer())),
        "{}",
        status.describe()
    );

    // The registry now names another IdP: refused, nothing changed.
    let binding = std::fs::read_dir(home.root().join("corp-cache").join("sso-bindings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bound = std::fs::read(&binding).unwrap();
    let elsewhere = "http://127.0.0.1:9/elsewhere";
    apache.set_metadata(&serde_json::json!({
        "resource": apache.resource(),
        "authorization_servers": [elsewhere],
    }));
    let moved = home.cargo(home.root(), &["login", "--registry", REGISTRY], None);
    moved.assert_failure();
    assert!(
        moved.stderr.contains("now names 127.0.0.1:9")
            && moved
                .stderr
                .contains(&format!("cargo login --registry {REGISTRY} -- --rebind")),
        "{}",
        moved.describe()
    );
    assert_eq!(std::fs::read(&binding).unwrap(), bound);
    corp(&home, &["status"]).assert_stdout_contains("Signed in as ");

    let secrets = idp.secrets_issued();
    for (i, text) in [&login, &status.stdout, &moved.stderr].iter().enumerate() {
        crate::util::leak::check_text(&format!("output #{i}"), text.as_bytes(), &secrets);
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    home.secrets(&refs);
}

/// Bad input through the real proxy, the real binary and real cargo: each
/// gives a clear error naming the registry and what is wrong, starts no
/// sign-in and stores nothing. Registration refused by the policy, an
/// issuer mismatch (at `cargo login`, which probes the well-known URL);
/// a 50-parameter challenge and metadata on another origin (at `cargo
/// fetch`, whose request carries the 401's headers).
#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr and the test IdP: run scripts/test.sh"]
fn hostile_registries_get_a_clear_error_and_nothing_is_stored() {
    use crate::util::cargo::{CargoHome, Providers, REGISTRY};

    // Registration refused: the system policy forbids it.
    let (idp, apache) = start(true, &Options::default());
    let mut home = CargoHome::new(&apache.index_url(), Providers::PerRegistry(vec![]));
    home.secret(apache.kellnr.token());
    crate::util::write(
        &home.root().join("corp-system.toml"),
        &format!(
            "[policy]\ntrusted-issuers = [\"{}\"]\ndynamic-registration = false\n",
            idp.issuer()
        ),
    );
    let refused = home.cargo(home.root(), &["login", "--registry", REGISTRY], None);
    refused.assert_failure();
    assert!(
        refused.stderr.contains("dynamic-registration = false")
            && refused
                .stderr
                .contains(&format!("[issuers.\"{}\"]", idp.issuer())),
        "{}",
        refused.describe()
    );
    // An issuer that its own metadata does not state exactly.
    let slash = format!("{}/", idp.issuer());
    apache.set_metadata(&serde_json::json!({
        "resource": apache.resource(),
        "authorization_servers": [slash],
    }));
    crate::util::write(
        &home.root().join("corp-system.toml"),
        &format!(
            "[issuers.\"{slash}\"]\nclient-id = \"sso\"\nregistries = [\"{}\"]\n",
            apache.index_url()
        ),
    );
    let mismatch = home.cargo(home.root(), &["login", "--registry", REGISTRY], None);
    mismatch.assert_failure();
    assert!(
        mismatch
            .stderr
            .contains(&format!("cannot sign in to {REGISTRY}"))
            && mismatch.stderr.contains("states another issuer"),
        "{}",
        mismatch.describe()
    );
    assert!(
        !idp.requests()
            .iter()
            .any(|r| r.contains("/reg") || r.contains("/device/auth")),
        "{:?}",
        idp.requests()
    );
    assert_eq!(idp.issued(), 0);
    nothing_stored(&home);
    drop((apache, idp));

    // The 401's challenges, read by a `get`.
    let params = (0..50)
        .map(|i| format!("p{i}=v"))
        .collect::<Vec<_>>()
        .join(", ");
    let other_origin = |idp: &Idp| {
        format!(
            "{}/.well-known/oauth-protected-resource/api/v1/crates",
            idp.issuer()
        )
    };
    let mut outputs = vec![refused.stderr.clone(), mismatch.stderr.clone()];
    for case in 0..2 {
        let port = reserve_port();
        let idp = Idp::start_with(&[("RESOURCE", Apache::resource_for(port.port()))]);
        let options = match case {
            0 => Options {
                challenge_value: Some(format!("Bearer {params}")),
                ..Options::default()
            },
            _ => Options {
                challenge_url: Some(other_origin(&idp)),
                ..Options::default()
            },
        };
        let apache = Apache::start(port, &idp, &options);
        let mut home = CargoHome::new(&apache.index_url(), Providers::PerRegistry(vec![]));
        home.secret(apache.kellnr.token());
        let app = home.new_app("h-app", "h-lib", "0.1");
        let fetch = home.cargo(&app, &["fetch"], None);
        fetch.assert_failure();
        let needle = match case {
            0 => "more than 16 parameters",
            _ => "not on the registry's own origin",
        };
        assert!(
            fetch.stderr.contains(&format!(
                "{REGISTRY} names its identity provider in its 401, but that is refused"
            )) && fetch.stderr.contains(needle),
            "{}",
            fetch.describe()
        );
        assert!(
            !idp.requests()
                .iter()
                .any(|r| r.contains("oauth-protected-resource")),
            "{:?}",
            idp.requests()
        );
        nothing_stored(&home);
        outputs.push(fetch.stderr.clone());
    }
    for (i, text) in outputs.iter().enumerate() {
        crate::util::leak::check_text(&format!("output #{i}"), text.as_bytes(), &[]);
    }
}

/// review-18 F3: `cargo login -- --rebind`, the command the refusal names,
/// with a cold Cargo index cache. Cargo then calls `get` (with the 401's
/// headers) before `login`; that `get` must answer not-found with the
/// refusal as a warning, not fail, or the login never runs. The rebind
/// then signs in at the new IdP, moves the binding, and signs out of the
/// old login.
#[test]
#[ignore = "needs Apache httpd + mod_auth_openidc, kellnr, the test IdP and gnome-keyring: run scripts/test.sh"]
fn rebind_works_with_a_cold_cargo_cache() {
    use crate::util::cargo::{CargoHome, Providers};
    use crate::util::keyring::Keyring;

    let (idp, apache) = start(false, &Options::default());
    let new_idp = Idp::start_with(&[("RESOURCE", apache.resource())]);
    let keyring = Keyring::start();
    let index = apache.index_url();
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    home.bus(keyring.address()).secret("eyJ");
    home.secret(apache.kellnr.token());
    home.corp_config(&format!(
        "[issuers.\"{}\"]\nclient-id = \"sso\"\nregistries = [\"{index}\"]\n\
         [issuers.\"{}\"]\nclient-id = \"sso\"\nregistries = [\"{index}\"]\n",
        idp.issuer(),
        new_idp.issuer()
    ));
    let first = device_login(&home, false, &apache);
    apache.set_metadata(&serde_json::json!({
        "resource": apache.resource(),
        "authorization_servers": [new_idp.issuer()],
    }));
    // A cold cache: Cargo knows nothing of the registry's auth-required.
    let _ = std::fs::remove_dir_all(home.home().join("registry"));
    let rebind = device_login_with(&home, false, &apache, &["--rebind"]);
    assert!(
        rebind.contains("now names") && !rebind.contains("failed action"),
        "{rebind}"
    );
    let binding = std::fs::read_dir(home.root().join("corp-cache").join("sso-bindings"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bound: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&binding).unwrap()).unwrap();
    assert_eq!(bound["issuer"], new_idp.issuer());
    let status = corp(&home, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["registries"][0]["identity_provider"], new_idp.issuer());

    let mut secrets = idp.secrets_issued();
    secrets.extend(new_idp.secrets_issued());
    for (i, text) in [&first, &rebind, &status.stdout].iter().enumerate() {
        crate::util::leak::check_text(&format!("output #{i}"), text.as_bytes(), &secrets);
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    home.secrets(&refs);
}
