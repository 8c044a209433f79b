//! Single sign-on for developers, end to end: the real `cargo login` signs
//! in at the real OpenID provider (the test plays the person on the IdP's
//! real pages), the refresh token lands in the real Secret Service, and the
//! real `cargo` publishes and builds through the gateway that verifies every
//! short-lived token; refresh, rotation, single flight and logout are
//! checked at the IdP itself. Sign-ins run on a terminal (`script`): the
//! provider starts no flow without one.

use std::thread;
use std::time::{Duration, Instant};

use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::idp::{Gateway, Idp, browser_script, user_agent};
use crate::util::kellnr::Kellnr;
use crate::util::keyring::Keyring;
use crate::util::leak;

const TERMINAL: Duration = Duration::from_secs(90);

fn sso_config(index_url: &str, idp: &Idp, extra: &str) -> String {
    format!(
        "[registries.{REGISTRY}]\nindex = {index_url:?}\n\n[registries.{REGISTRY}.sso]\n\
         issuer = {:?}\nclient-id = \"sso\"\nscope = \"read\"\npublish-scope = \"publish\"\n\
         resource = \"https://registry.test\"\n{extra}",
        idp.issuer()
    )
}

/// A developer's machine: a Cargo home with the keychain, configured for SSO.
fn laptop(index_url: &str, idp: &Idp, keyring: &Keyring, extra: &str) -> CargoHome {
    let mut home = CargoHome::new(index_url, Providers::PerRegistry(vec![]));
    home.bus(keyring.address()).secret("eyJ");
    home.corp_config(&sso_config(index_url, idp, extra));
    home
}

/// The IdP (access tokens living `at_ttl` s), kellnr behind the verifying
/// gateway, a keyring, and a laptop configured for them (`extra` in the
/// `sso` table).
fn world(at_ttl: u32, extra: &str) -> (Idp, Gateway, Keyring, CargoHome, String) {
    let idp = Idp::start(at_ttl);
    let gw = Gateway::start(&idp);
    let keyring = Keyring::start();
    let index = gw.index_url();
    let mut home = laptop(&index, &idp, &keyring, extra);
    home.secret(gw.kellnr.token());
    (idp, gw, keyring, home, index)
}

/// The keychain item holding the SSO login of `index_url`.
fn stored_login(keyring: &Keyring, index_url: &str, idp: &Idp) -> Option<serde_json::Value> {
    let service = format!("cargo-credential-corp-sso:{index_url}|sso@{}", idp.issuer());
    keyring
        .lookup(&[("service", &service), ("username", "cargo-credential-corp")])
        .map(|json| serde_json::from_str(&json).expect("the stored login is JSON"))
}

fn refresh_token(keyring: &Keyring, index_url: &str, idp: &Idp) -> String {
    stored_login(keyring, index_url, idp).expect("a stored login")["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The text after `before` up to the next space or line end.
fn word_after<'a>(screen: &'a str, before: &str) -> &'a str {
    let at = screen
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} on the terminal"));
    screen[at + before.len()..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
}

/// `cargo login` with the device flow; the person approves (or `user_args`
/// say otherwise) on the IdP's pages. Whether it succeeded, and the screen.
fn device_login(home: &CargoHome, user_args: &[&str]) -> (bool, String) {
    let pty = home.cargo_on_terminal(
        home.root(),
        &["login", "--registry", REGISTRY, "--", "--device"],
    );
    let screen = pty.wait_for("and enter the code ", TERMINAL);
    let uri = word_after(&screen, ", open ").to_owned();
    let code = word_after(&screen, "enter the code ").to_owned();
    let mut args = vec!["device", uri.as_str(), code.as_str()];
    args.extend_from_slice(user_args);
    user_agent(&args).assert_success();
    pty.finish(TERMINAL)
}

/// Scans every output of the test against every secret the IdP issued or
/// received (tokens, codes, device codes, PKCE verifiers), and declares them
/// to the Cargo home, whose drop scans the files left behind.
fn no_leaks(idp: &Idp, home: &mut CargoHome, outputs: &[&str]) {
    let secrets = idp.secrets_issued();
    for (i, text) in outputs.iter().enumerate() {
        leak::check_text(&format!("output #{i}"), text.as_bytes(), &secrets);
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    home.secrets(&refs);
}

/// A sign-in that failed, saying `needle`, within 20 s of `start`.
fn failed_with(ok: bool, screen: &str, needle: &str, start: Instant) {
    assert!(!ok, "the sign-in succeeded:\n{screen}");
    assert!(screen.contains(needle), "no {needle:?} in:\n{screen}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

fn grants(idp: &Idp, grant: &str) -> u64 {
    let body = crate::util::http()
        .get(format!("{}/test/stats", idp.issuer()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    stats["byGrant"][grant].as_u64().unwrap_or(0)
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP and gnome-keyring; run scripts/test.sh"]
fn device_flow_login_publish_build_and_logout_revokes_at_the_idp() {
    let (idp, gw, keyring, mut home, index) = world(300, "");

    let (ok, login) = device_login(&home, &[]);
    assert!(ok, "cargo login failed:\n{login}");
    assert!(
        login.contains("Signed in to my-private as alice"),
        "{login}"
    );
    assert!(login.contains("the OS keychain"), "{login}");
    let rt = refresh_token(&keyring, &index, &idp);
    assert!(idp.introspect_active(&rt));
    assert!(
        home.credential_files().is_empty(),
        "a credentials file was written"
    );

    let lib = home.new_lib("sso-lib", "0.1.0");
    let publish = home.cargo(&lib, &["publish", "--registry", REGISTRY], None);
    publish.assert_success();
    assert!(
        publish.stderr.contains("Uploaded sso-lib v0.1.0"),
        "{}",
        publish.describe()
    );
    let app = home.new_app("sso-app", "sso-lib", "0.1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();
    let build = home.cargo(&app, &["build"], None);
    build.assert_success();
    assert!(
        build.stderr.contains("Downloaded sso-lib v0.1.0"),
        "{}",
        build.describe()
    );
    // One refresh per scope (read, publish); later runs used the cache.
    assert_eq!(grants(&idp, "refresh_token"), 2);
    let stats = gw.stats();
    assert_eq!(stats["rejected"], 0, "{stats}");
    assert!(stats["accepted"].as_u64().unwrap() >= 3, "{stats}");

    let logout = home.cargo(home.root(), &["logout", "--registry", REGISTRY], None);
    logout.assert_success();
    assert!(
        logout.stderr.contains("revoked at the identity provider"),
        "{}",
        logout.describe()
    );
    let rotated = refresh_token_gone(&keyring, &index, &idp);
    assert!(rotated, "the login is still in the keychain");
    assert!(
        !idp.introspect_active(&rt),
        "the refresh token is still active at the IdP"
    );
    // Nothing cached is served after logout: the next fetch needs a login.
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let after = home.cargo(&app, &["generate-lockfile"], None);
    after.assert_failure();
    assert!(
        after.stderr.contains("not signed in to my-private"),
        "{}",
        after.describe()
    );

    no_leaks(
        &idp,
        &mut home,
        &[
            &login,
            &publish.stderr,
            &build.stderr,
            &logout.stderr,
            &after.stderr,
        ],
    );
}

fn refresh_token_gone(keyring: &Keyring, index: &str, idp: &Idp) -> bool {
    stored_login(keyring, index, idp).is_none()
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP and gnome-keyring; run scripts/test.sh"]
fn a_denied_or_expired_device_sign_in_stores_nothing() {
    let idp = Idp::start(300);
    let kellnr = Kellnr::start();
    let keyring = Keyring::start();
    let index = kellnr.index_url();
    let mut home = laptop(&index, &idp, &keyring, "");
    home.secret(kellnr.token());

    let (ok, denied) = device_login(&home, &["--deny"]);
    assert!(!ok, "a denied sign-in succeeded:\n{denied}");
    assert!(
        denied.contains("denied at the identity provider"),
        "{denied}"
    );
    assert!(stored_login(&keyring, &index, &idp).is_none());
    no_leaks(&idp, &mut home, &[&denied]);

    // Nobody approves: the 4 s code expires (after one `slow_down`).
    let idp = Idp::start_with(&[("DEVICE_TTL", "4".into()), ("SLOW_DOWN_ONCE", "1".into())]);
    home.corp_config(&sso_config(&index, &idp, ""));
    let pty = home.cargo_on_terminal(
        home.root(),
        &["login", "--registry", REGISTRY, "--", "--device"],
    );
    pty.wait_for("and enter the code ", TERMINAL);
    let start = Instant::now();
    let (ok, expired) = pty.finish(TERMINAL);
    failed_with(ok, &expired, "expired before it was approved", start);
    assert!(stored_login(&keyring, &index, &idp).is_none());
    assert!(home.credential_files().is_empty());
    no_leaks(&idp, &mut home, &[&expired]);
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP and gnome-keyring; run scripts/test.sh"]
fn browser_sign_in_with_pkce_and_a_forged_state_is_refused() {
    let (idp, gw, keyring, mut home, index) = world(300, "login-timeout-secs = 5\n");
    let log = home.root().join("browser.log");
    home.env("BROWSER", &browser_script().display().to_string())
        .env("BROWSER_LOG", &log.display().to_string());

    // A forged answer (wrong `state`) is refused and cannot end the
    // sign-in: it waits for the real one until `login-timeout-secs`.
    home.env("BROWSER_ARGS", "--tamper-state");
    let start = Instant::now();
    let (ok, forged) = home
        .cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY])
        .finish(TERMINAL);
    failed_with(
        ok,
        &forged,
        "1 answer(s) not carrying this login's `state` were refused",
        start,
    );
    assert!(stored_login(&keyring, &index, &idp).is_none());

    home.env_remove("BROWSER_ARGS");
    let (ok, login) = home
        .cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY])
        .finish(TERMINAL);
    assert!(ok, "{login}");
    assert!(
        login.contains("with the browser ($BROWSER is set)"),
        "{login}"
    );
    assert!(
        login.contains("Signed in to my-private as alice"),
        "{login}"
    );
    let opened = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        opened.lines().count(),
        2,
        "the browser was not opened once per login"
    );
    assert!(opened.contains("code_challenge_method=S256") && !opened.contains("code_verifier"));

    let app_lib = home.new_lib("pkce-lib", "1.0.0");
    home.cargo(&app_lib, &["publish", "--registry", REGISTRY], None)
        .assert_success();
    assert_eq!(gw.stats()["rejected"], 0);

    // Signing in again as another account (confirmed on the terminal)
    // revokes the first login; as the same account it does not (many IdPs
    // give both sign-ins one grant).
    let alice = refresh_token(&keyring, &index, &idp);
    home.env("BROWSER_ARGS", "--login bob");
    let mut pty = home.cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY]);
    pty.wait_for("[y/N]", TERMINAL);
    pty.type_line("y");
    let (ok, as_bob) = pty.finish(TERMINAL);
    assert!(ok && as_bob.contains("as bob"), "{as_bob}");
    assert!(
        !idp.introspect_active(&alice),
        "alice's login is still active"
    );
    // A `get` first: it refreshes and caches, so that the `get` Cargo makes
    // before the next login is served from the cache and rotates nothing.
    home.provider_get(&index, "read");
    let bob = refresh_token(&keyring, &index, &idp);
    let (ok, again) = home
        .cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY])
        .finish(TERMINAL);
    assert!(ok, "{again}");
    assert!(
        idp.introspect_active(&bob),
        "the same account's login was revoked"
    );
    let get = home.provider_get(&index, "read");
    assert!(
        get.reply().starts_with(r#"{"Ok":{"kind":"get","token":"#),
        "{}",
        get.describe()
    );
    no_leaks(
        &idp,
        &mut home,
        &[&forged, &login, &opened, &as_bob, &again, &get.stderr],
    );
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP and gnome-keyring; run scripts/test.sh"]
fn paste_mode_reads_the_redirected_address_on_the_terminal() {
    let idp = Idp::start(300);
    let kellnr = Kellnr::start();
    let keyring = Keyring::start();
    let index = kellnr.index_url();
    let mut home = laptop(&index, &idp, &keyring, "");
    home.secret(kellnr.token());

    let mut pty = home.cargo_on_terminal(
        home.root(),
        &["login", "--registry", REGISTRY, "--", "--paste"],
    );
    let screen = pty.wait_for("paste the address here", TERMINAL);
    let url = screen
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{}/auth?", idp.issuer())))
        .expect("the sign-in URL on the terminal")
        .to_owned();
    let redirect = user_agent(&["browse", &url, "--print-redirect", "--login", "bob"]);
    redirect.assert_success();
    let redirect = redirect.stdout.trim().to_owned();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.contains("code="));
    pty.type_line(&redirect);
    let (ok, screen) = pty.finish(TERMINAL);
    assert!(ok, "{screen}");
    assert!(
        screen.contains("Signed in to my-private as bob"),
        "{screen}"
    );
    assert!(stored_login(&keyring, &index, &idp).is_some());
    // What was pasted is not echoed.
    let secrets = idp.secrets_issued();
    leak::check_text("the paste-mode terminal", screen.as_bytes(), &secrets);
    no_leaks(&idp, &mut home, &[&screen]);
}

#[test]
#[ignore = "e2e: needs kellnr, the test IdP and gnome-keyring; run scripts/test.sh"]
fn expired_tokens_are_refreshed_silently_once_for_16_processes_with_rotation() {
    // Access tokens live 8 s: fresh for 4 s, then refreshed.
    let (idp, gw, keyring, mut home, index) = world(8, "");
    // Traced, to show that the trace holds no secret either.
    home.env("CARGO_CREDENTIAL_CORP_LOG", "trace");
    let (ok, login) = device_login(&home, &[]);
    assert!(ok, "{login}");
    let first = refresh_token(&keyring, &index, &idp);

    let lib = home.new_lib("fresh-lib", "0.2.0");
    home.cargo(&lib, &["publish", "--registry", REGISTRY], None)
        .assert_success();
    let app = home.new_app("fresh-app", "fresh-lib", "0.2");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_success();

    // After expiry, 16 processes at once: one refresh, every reply a token.
    thread::sleep(Duration::from_secs(9));
    let before = grants(&idp, "refresh_token");
    let outputs: Vec<(String, String)> = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| home.provider_get(&index, "read")))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let out = h.join().unwrap();
                out.assert_success();
                (out.reply().to_owned(), out.stderr)
            })
            .collect()
    });
    let replies: Vec<&String> = outputs.iter().map(|(r, _)| r).collect();
    assert_eq!(
        grants(&idp, "refresh_token") - before,
        1,
        "not single-flighted"
    );
    for reply in &replies {
        assert!(
            reply.starts_with(r#"{"Ok":{"kind":"get","token":"#),
            "not a token reply"
        );
    }
    let distinct: std::collections::HashSet<_> = replies.iter().collect();
    assert_eq!(distinct.len(), 1, "the 16 processes got different tokens");

    // Rotation: a new refresh token is stored; the first one is dead at the IdP.
    let second = refresh_token(&keyring, &index, &idp);
    assert_ne!(first, second);
    assert!(!idp.introspect_active(&first));
    assert!(idp.introspect_active(&second));

    // A real cargo run after expiry: refreshed without a prompt.
    thread::sleep(Duration::from_secs(9));
    std::fs::remove_file(app.join("Cargo.lock")).unwrap();
    let quiet = home.cargo(&app, &["build"], None);
    quiet.assert_success();
    assert!(!quiet.stderr.contains("sign in"), "{}", quiet.describe());
    assert_eq!(gw.stats()["rejected"], 0);

    // Someone replays a rotated refresh token: the IdP revokes the grant,
    // and the next refresh says plainly to sign in again, removing the dead login.
    let (status, _) = idp.refresh_with(&first, "read");
    assert_eq!(status, 400);
    thread::sleep(Duration::from_secs(9));
    let out = home.provider_get(&index, "read");
    assert!(
        out.reply().contains("cargo login --registry my-private"),
        "{}",
        out.describe()
    );
    assert!(stored_login(&keyring, &index, &idp).is_none());
    let mut all: Vec<&str> = vec![&login, &quiet.stderr, &out.stderr];
    all.extend(outputs.iter().map(|(_, stderr)| stderr.as_str()));
    assert!(
        outputs[0]
            .1
            .contains("cargo-credential-corp debug: source \"sso\""),
        "not traced: {}",
        outputs[0].1
    );
    no_leaks(&idp, &mut home, &all);
}

/// `cargo login` where nobody can answer: fails at once, prints no URL.
fn refused_login(home: &CargoHome, setsid: bool) -> crate::util::process::Output {
    let mut cmd = if setsid {
        let mut c = std::process::Command::new("setsid");
        c.args(["-w", "cargo"]);
        c
    } else {
        std::process::Command::new("cargo")
    };
    cmd.args(["login", "--registry", REGISTRY])
        .current_dir(home.root());
    home.run_with_env(cmd)
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn no_sign_in_starts_where_nobody_can_answer() {
    let idp = Idp::start(300);
    let kellnr = Kellnr::start();
    let index = kellnr.index_url();
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    home.corp_config(&sso_config(&index, &idp, ""));
    home.secret(kellnr.token());

    home.env("CI", "true");
    let ci = refused_login(&home, false);
    ci.assert_failure();
    assert!(
        ci.stderr.contains("this looks like a CI job"),
        "{}",
        ci.describe()
    );
    assert!(
        ci.stderr.contains("[registries.my-private.oidc]"),
        "{}",
        ci.describe()
    );
    home.env_remove("CI");
    // No terminal at all (a new session without one).
    let no_tty = refused_login(&home, true);
    no_tty.assert_failure();
    assert!(
        no_tty.stderr.contains("no terminal"),
        "{}",
        no_tty.describe()
    );
    home.env("CARGO_CREDENTIAL_CORP_INTERACTIVE", "never");
    let never = refused_login(&home, true);
    never.assert_failure();
    assert!(
        never.stderr.contains("=never is set"),
        "{}",
        never.describe()
    );
    for out in [&ci, &no_tty, &never] {
        assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
        assert!(!out.stderr.contains(&idp.issuer()), "{}", out.describe());
    }
    assert_eq!(
        grants(&idp, "urn:ietf:params:oauth:grant-type:device_code"),
        0
    );

    // A build before any sign-in says what to run.
    let app = home.new_app("early-app", "nothing", "1");
    let out = home.cargo(&app, &["generate-lockfile"], None);
    out.assert_failure();
    assert!(
        out.stderr.contains(
            "not signed in to my-private yet: `cargo login --registry my-private` signs in"
        ),
        "{}",
        out.describe()
    );
    // In CI the warning is not given: nobody there signs in.
    home.env("GITHUB_ACTIONS", "true");
    let in_ci = home.cargo(&app, &["generate-lockfile"], None);
    in_ci.assert_failure();
    assert!(
        !in_ci.stderr.contains("not signed in"),
        "{}",
        in_ci.describe()
    );
    no_leaks(
        &idp,
        &mut home,
        &[&ci.stderr, &no_tty.stderr, &never.stderr, &out.stderr],
    );
}

#[test]
#[ignore = "e2e: needs kellnr and the test IdP; run scripts/test.sh"]
fn without_a_keychain_a_login_is_kept_only_in_the_chosen_private_file() {
    let idp = Idp::start(300);
    let gw = Gateway::start(&idp);
    let index = gw.index_url();
    // No keychain on this machine (the provider's bus leads nowhere).
    let mut home = CargoHome::new(&index, Providers::PerRegistry(vec![]));
    home.secret("eyJ").secret(gw.kellnr.token());
    home.corp_config(&sso_config(&index, &idp, ""));
    let (ok, refused) = device_login(&home, &[]);
    assert!(!ok, "{refused}");
    assert!(
        refused.contains("could not store the SSO login in the OS keychain")
            && refused.contains("nothing was written anywhere else"),
        "{refused}"
    );
    let sso_dir = home.root().join("corp-cache").join("sso");
    assert!(
        !sso_dir.exists(),
        "a file was written without `store = \"file\"`"
    );

    home.corp_config(&sso_config(&index, &idp, "store = \"file\"\n"));
    let (ok, login) = device_login(&home, &[]);
    assert!(ok, "{login}");
    assert!(login.contains("a private file in"), "{login}");
    let files: Vec<_> = std::fs::read_dir(&sso_dir).unwrap().collect();
    assert_eq!(files.len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let file = files[0].as_ref().unwrap().path();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&sso_dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let get = home.provider_get(&index, "publish");
    assert!(
        get.reply().starts_with(r#"{"Ok":{"kind":"get","token":"#),
        "{}",
        get.describe()
    );
    let logout = home.cargo(home.root(), &["logout", "--registry", REGISTRY], None);
    logout.assert_success();
    assert!(logout.stderr.contains("revoked"), "{}", logout.describe());
    assert_eq!(std::fs::read_dir(&sso_dir).unwrap().count(), 0);
    no_leaks(
        &idp,
        &mut home,
        &[&refused, &login, &get.stderr, &logout.stderr],
    );
}

/// A laptop for sign-in tests that need no registry behind the index: the
/// IdP started with `idp_env`, a keyring, and a fake index that answers every
/// request with a `config.json` (all `cargo login` reads of the registry).
fn sign_in_world(
    idp_env: &[(&str, String)],
    extra: &str,
) -> (Idp, crate::util::fake::Fake, Keyring, CargoHome, String) {
    use crate::util::fake::{Behavior, Fake};
    let mut env = vec![("AT_TTL", "300".to_owned())];
    env.extend_from_slice(idp_env);
    let idp = Idp::start_with(&env);
    let index_server = Fake::start(Behavior::Json(200, String::new()));
    index_server.set(Behavior::Json(
        200,
        format!(
            r#"{{"dl":"{}","api":"{}"}}"#,
            index_server.url("/dl"),
            index_server.url("")
        ),
    ));
    let index = format!("sparse+{}", index_server.url("/index/"));
    let keyring = Keyring::start();
    let mut home = laptop(&index, &idp, &keyring, extra);
    home.env("BROWSER", &browser_script().display().to_string());
    (idp, index_server, keyring, home, index)
}

/// `cargo login` (the browser flow through `$BROWSER`) on a terminal, with
/// `user_args` for the headless user: whether it succeeded, and the screen.
fn browser_login(home: &mut CargoHome, user_args: &str) -> (bool, String) {
    if user_args.is_empty() {
        home.env_remove("BROWSER_ARGS");
    } else {
        home.env("BROWSER_ARGS", user_args);
    }
    home.cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY])
        .finish(TERMINAL)
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn a_browser_sign_in_sends_a_nonce_and_refuses_an_id_token_without_it() {
    // An IdP that refuses an OpenID request without `nonce` (issue 16 N1).
    let (idp, _index, keyring, mut home, index) = sign_in_world(
        &[("REQUIRE_NONCE", "1".into())],
        "login-timeout-secs = 30\n",
    );
    let log = home.root().join("browser.log");
    home.env("BROWSER_LOG", &log.display().to_string());

    // A sign-in whose ID token carries another nonce (one started elsewhere)
    // is refused and stores nothing.
    let start = Instant::now();
    let (ok, tampered) = browser_login(&mut home, "--tamper-nonce");
    failed_with(
        ok,
        &tampered,
        "does not carry the `nonce` this sign-in sent",
        start,
    );
    assert!(stored_login(&keyring, &index, &idp).is_none());

    let (ok, login) = browser_login(&mut home, "");
    assert!(ok, "{login}");
    assert!(
        login.contains("Signed in to my-private as alice"),
        "{login}"
    );
    assert!(stored_login(&keyring, &index, &idp).is_some());
    // Each authorization request carried its own nonce.
    let opened = std::fs::read_to_string(&log).unwrap();
    let nonces: Vec<&str> = opened
        .lines()
        .map(|url| word_after(url, "nonce=").split('&').next().unwrap())
        .collect();
    assert_eq!(nonces.len(), 2, "{opened}");
    assert!(
        nonces[0].len() >= 22 && nonces[0] != nonces[1],
        "{nonces:?}"
    );
    no_leaks(&idp, &mut home, &[&tampered, &login, &opened]);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn with_an_idp_that_matches_redirect_uris_exactly_the_timeout_says_to_pin_the_port() {
    // The IdP knows one redirect URI, port included (issue 16 N6).
    let port = crate::util::free_port();
    let registered = format!("http://127.0.0.1:{port}/callback");
    let (idp, _index, keyring, mut home, index) = sign_in_world(
        &[("EXACT_REDIRECT", registered.clone())],
        "login-timeout-secs = 5\n",
    );
    let start = Instant::now();
    let (ok, waited) = browser_login(&mut home, "");
    failed_with(ok, &waited, "set `redirect-port", start);
    // The URI this login used, exactly, to register or compare.
    let used = waited
        .split(|c: char| c.is_whitespace() || c == '`')
        .find(|w| w.starts_with("http://127.0.0.1:") && w.ends_with("/callback"))
        .unwrap_or_else(|| panic!("no redirect URI in:\n{waited}"));
    assert_ne!(used, registered);
    assert!(stored_login(&keyring, &index, &idp).is_none());

    // What the message says to do works.
    home.corp_config(&sso_config(
        &index,
        &idp,
        &format!("login-timeout-secs = 30\nredirect-port = {port}\n"),
    ));
    let (ok, pinned) = browser_login(&mut home, "");
    assert!(ok, "{pinned}");
    assert!(stored_login(&keyring, &index, &idp).is_some());
    no_leaks(&idp, &mut home, &[&waited, &pinned]);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn the_browser_launcher_gets_no_token_or_secret_variable_of_any_table() {
    // Another registry's `env`, another table's `client-secret-env` and
    // `identity-env`, the AWS secrets, and Cargo's token and secret key
    // variables (issue 16 R14, F5).
    let (idp, _index, _keyring, mut home, index) = sign_in_world(&[], "login-timeout-secs = 30\n");
    home.corp_config(&format!(
        "{}\n[registries.other]\nindex = \"sparse+https://other.example/index/\"\n\
         env = [\"OTHER_REGISTRY_TOKEN\"]\n\n\
         [registries.ci-only.oidc]\nissuer = \"https://idp.example\"\n\
         client-auth = \"client-secret-post\"\nclient-id = \"ci\"\n\
         client-secret-env = \"CI_CLIENT_SECRET\"\n\n\
         [registries.ci-env.oidc]\nissuer = \"https://idp.example\"\nclient-id = \"ci\"\n\
         identity = \"env\"\nidentity-env = \"MY_CI_ID_TOKEN\"\n",
        sso_config(&index, &idp, "login-timeout-secs = 30\n").replacen(
            "\n\n",
            "\nenv = [\"OWN_REGISTRY_TOKEN\"]\n\n",
            1
        )
    ));
    let secrets = [
        ("OWN_REGISTRY_TOKEN", "own-f1b2c3d4e5f6a7b8c9d0"),
        ("OTHER_REGISTRY_TOKEN", "other-9a8b7c6d5e4f3a2b1c0d"),
        ("CI_CLIENT_SECRET", "clientsecret-0a1b2c3d4e5f6a7b"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-key-6f5e4d3c2b1a0f9e"),
        ("AWS_SESSION_TOKEN", "aws-session-token-1a2b3c4d5e6f7a8b"),
        ("AWS_SECURITY_TOKEN", "aws-security-token-8b7a6f5e4d3c2b1a"),
        ("CARGO_REGISTRY_TOKEN", "cratesio-3c2b1a0f9e8d7c6b5a4f"),
        (
            "CARGO_REGISTRIES_OTHER_TOKEN",
            "cargo-other-5a4b3c2d1e0f9a8b",
        ),
        // issue 16 F5: a table's `identity-env`, GitLab's default ID token
        // variable, Cargo's asymmetric-token secret keys.
        ("MY_CI_ID_TOKEN", "ci-id-token-2b3c4d5e6f7a8b9c0d1e"),
        (
            "CARGO_REGISTRY_ID_TOKEN",
            "gitlab-id-token-7c6b5a4f3e2d1c0b",
        ),
        ("CARGO_REGISTRY_SECRET_KEY", "k3.secret.AbCdEf0123456789xyz"),
        (
            "CARGO_REGISTRIES_MY_PRIVATE_SECRET_KEY",
            "k3.secret.ZyXwVu9876543210abc",
        ),
    ];
    for (name, value) in secrets {
        home.env(name, value).secret(value);
    }
    let dump = home.root().join("browser.env");
    home.env("BROWSER_ENV_LOG", &dump.display().to_string())
        .env("KEPT_PLAIN_VARIABLE", "kept");
    let (ok, login) = browser_login(&mut home, "");
    assert!(ok, "{login}");
    let seen = std::fs::read_to_string(&dump).unwrap();
    assert!(seen.contains("KEPT_PLAIN_VARIABLE=kept"), "no env dump");
    for (name, value) in secrets {
        assert!(
            !seen.contains(&format!("{name}=")) && !seen.contains(value),
            "the browser launcher got {name}"
        );
    }
    std::fs::remove_file(&dump).unwrap();
    no_leaks(&idp, &mut home, &[&login]);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn a_sign_in_as_another_account_is_kept_only_when_confirmed_and_the_url_stays_out_of_argv() {
    // Another local user could open the sign-in URL and sign in as
    // themselves (issue 16 R2): a login as another account than the stored
    // one is asked about first, and the launcher's argv has no URL.
    let (idp, _index, keyring, mut home, index) = sign_in_world(&[], "login-timeout-secs = 30\n");
    let argv_log = home.root().join("browser.argv");
    home.env("BROWSER_ARGV_LOG", &argv_log.display().to_string());
    let (ok, as_alice) = browser_login(&mut home, "");
    assert!(ok, "{as_alice}");
    let account = |keyring: &Keyring| {
        stored_login(keyring, &index, &idp).expect("a stored login")["account"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(account(&keyring), "alice");

    // Bob's sign-in is asked about; "no" keeps alice's login, live.
    home.env("BROWSER_ARGS", "--login bob");
    let mut pty = home.cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY]);
    let question = pty.wait_for("[y/N]", TERMINAL);
    assert!(
        question.contains("as \"bob\" (sub \"bob\")") && question.contains("\"alice\""),
        "{question}"
    );
    pty.type_line("n");
    let (ok, refused) = pty.finish(TERMINAL);
    assert!(!ok, "{refused}");
    assert!(
        refused.contains("the login of \"alice\" (sub \"alice\") is kept"),
        "{refused}"
    );
    assert_eq!(account(&keyring), "alice");
    assert!(idp.introspect_active(&refresh_token(&keyring, &index, &idp)));

    // "yes" keeps bob's, and only then is alice's revoked.
    let alice = refresh_token(&keyring, &index, &idp);
    let mut pty = home.cargo_on_terminal(home.root(), &["login", "--registry", REGISTRY]);
    pty.wait_for("[y/N]", TERMINAL);
    pty.type_line("y");
    let (ok, as_bob) = pty.finish(TERMINAL);
    assert!(ok && as_bob.contains("as bob"), "{as_bob}");
    assert_eq!(account(&keyring), "bob");
    assert!(
        !idp.introspect_active(&alice),
        "alice's login is still active"
    );

    // The launcher got a private file, never the URL with `state` and the
    // PKCE challenge; the file is gone after the sign-in.
    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert!(
        !argv.contains("state=") && !argv.contains("code_challenge="),
        "the sign-in URL is in the launcher's argv:\n{argv}"
    );
    let pages: Vec<&str> = argv.lines().filter(|l| l.ends_with(".html")).collect();
    assert_eq!(pages.len(), 3, "{argv}");
    for page in pages {
        assert!(
            !std::path::Path::new(page).exists(),
            "{page} was left behind"
        );
    }
    no_leaks(&idp, &mut home, &[&as_alice, &question, &refused, &as_bob]);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn a_sign_in_whose_url_lost_openid_is_refused_and_the_stored_login_kept() {
    // issue 16 F1: someone who saw the sign-in URL strips `openid` and the
    // nonce from it and signs in as themselves; the IdP then answers with
    // no ID token, so there is no nonce to check and no account to compare.
    let (idp, _index, keyring, mut home, index) = sign_in_world(&[], "login-timeout-secs = 30\n");
    let (ok, as_alice) = browser_login(&mut home, "");
    assert!(ok, "{as_alice}");
    let alice = refresh_token(&keyring, &index, &idp);
    let start = Instant::now();
    let (ok, stripped) = browser_login(&mut home, "--drop-openid --login mallory");
    failed_with(ok, &stripped, "without an ID token", start);
    assert!(stripped.contains("nothing was stored"), "{stripped}");
    let kept = stored_login(&keyring, &index, &idp).expect("a stored login");
    assert_eq!(kept["subject"], "alice");
    assert!(refresh_token(&keyring, &index, &idp) == alice);
    assert!(idp.introspect_active(&alice), "alice's login was revoked");
    no_leaks(&idp, &mut home, &[&as_alice, &stripped]);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn with_an_unusable_runtime_folder_the_sign_in_url_still_stays_out_of_argv() {
    // issue 16 F2: `$XDG_RUNTIME_DIR` set but missing (inherited through
    // `su`, or stale): the private page goes to the temporary folder.
    let (idp, _index, keyring, mut home, index) = sign_in_world(&[], "login-timeout-secs = 30\n");
    let argv_log = home.root().join("browser.argv");
    let gone = home.root().join("run-user-4242-gone");
    home.env("BROWSER_ARGV_LOG", &argv_log.display().to_string())
        .env("XDG_RUNTIME_DIR", &gone.display().to_string());
    let (ok, login) = browser_login(&mut home, "");
    assert!(ok, "{login}");
    assert!(stored_login(&keyring, &index, &idp).is_some());
    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert!(
        !argv.contains("state=") && !argv.contains("code_challenge="),
        "the sign-in URL is in the launcher's argv:\n{argv}"
    );
    assert_eq!(
        argv.lines().filter(|l| l.ends_with(".html")).count(),
        1,
        "{argv}"
    );
    no_leaks(&idp, &mut home, &[&login, &argv]);
}

/// A login as `cargo login` leaves it, made without cargo or a registry:
/// the device flow at the IdP (the headless user approves), its refresh
/// token stored in the keychain item the provider reads. The refresh token.
fn seeded_login(idp: &Idp, keyring: &Keyring, index_url: &str) -> String {
    let http = crate::util::http();
    let form = |pairs: &[(&str, &str)]| {
        let res = http
            .post(format!("{}{}", idp.issuer(), pairs[0].1))
            .form(&pairs[1..])
            .send()
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&res.text().unwrap()).unwrap();
        json
    };
    let device = form(&[
        ("path", "/device/auth"),
        ("client_id", "sso"),
        ("scope", "openid offline_access read publish"),
    ]);
    let (uri, code) = (
        device["verification_uri"]
            .as_str()
            .expect("a verification URI"),
        device["user_code"].as_str().expect("a user code"),
    );
    user_agent(&["device", uri, code]).assert_success();
    let tokens = form(&[
        ("path", "/token"),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "sso"),
        ("device_code", device["device_code"].as_str().unwrap()),
    ]);
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    let stored = serde_json::json!({
        "v": 1, "refresh_token": refresh, "account": "alice", "subject": "alice", "stored_at": 0,
    });
    let service = format!("cargo-credential-corp-sso:{index_url}|sso@{}", idp.issuer());
    keyring.store(
        "seeded login",
        &[("service", &service), ("username", "cargo-credential-corp")],
        &stored.to_string(),
    );
    refresh
}

fn pending(idp: &Idp) -> u64 {
    let body = crate::util::http()
        .get(format!("{}/test/stats", idp.issuer()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    stats["pending"].as_u64().unwrap_or(0)
}

const NO_REGISTRY: &str = "sparse+http://127.0.0.1:9/api/v1/crates/";

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn a_rotated_refresh_token_is_kept_through_a_keychain_frozen_longer_than_the_budget() {
    // issue 16 R1: the IdP answers the refresh after 1.5 s; meanwhile the
    // keychain freezes for 4 s, longer than the get's 2 s keychain budget.
    let idp = Idp::start_with(&[("AT_TTL", "300".into()), ("TOKEN_DELAY_MS", "1500".into())]);
    let keyring = Keyring::start();
    let first = seeded_login(&idp, &keyring, NO_REGISTRY);
    let mut home = laptop(NO_REGISTRY, &idp, &keyring, "");
    let out = thread::scope(|s| {
        let get = s.spawn(|| home.provider_get(NO_REGISTRY, "read"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while pending(&idp) == 0 {
            assert!(Instant::now() < deadline, "no refresh reached the IdP");
            thread::sleep(Duration::from_millis(10));
        }
        keyring.freeze();
        thread::sleep(Duration::from_secs(4));
        keyring.thaw();
        get.join().unwrap()
    });
    assert!(
        out.reply().starts_with(r#"{"Ok":{"kind":"get","token":"#),
        "{}",
        out.describe()
    );
    assert!(
        !out.stderr.contains("could not be stored"),
        "{}",
        out.describe()
    );
    let kept = refresh_token(&keyring, NO_REGISTRY, &idp);
    assert!(kept != first, "the rotated refresh token was not stored");
    assert!(idp.introspect_active(&kept), "the login was revoked");
    no_leaks(&idp, &mut home, &[&out.stderr]);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn processes_with_different_cache_folders_refresh_one_keychain_login_once() {
    // issue 16 R3: an IDE's sandbox and a terminal (six here), each with its
    // own CARGO_CREDENTIAL_CORP_CACHE_DIR, after expiry at once; each
    // refresh takes the IdP 500 ms, and the refresh token rotates.
    let idp = Idp::start_with(&[("AT_TTL", "300".into()), ("TOKEN_DELAY_MS", "500".into())]);
    let keyring = Keyring::start();
    let first = seeded_login(&idp, &keyring, NO_REGISTRY);
    let mut homes: Vec<_> = (0..6)
        .map(|_| laptop(NO_REGISTRY, &idp, &keyring, ""))
        .collect();
    let before = grants(&idp, "refresh_token");
    let outputs: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = homes
            .iter()
            .map(|home| s.spawn(|| home.provider_get(NO_REGISTRY, "read")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outputs {
        assert!(
            out.reply().starts_with(r#"{"Ok":{"kind":"get","token":"#),
            "{}",
            out.describe()
        );
    }
    assert_eq!(
        grants(&idp, "refresh_token") - before,
        1,
        "not one refresh for one login"
    );
    let kept = refresh_token(&keyring, NO_REGISTRY, &idp);
    assert!(
        kept != first && idp.introspect_active(&kept),
        "the login was revoked"
    );
    let stderr: Vec<&str> = outputs.iter().map(|o| o.stderr.as_str()).collect();
    for home in &mut homes {
        no_leaks(&idp, home, &stderr);
    }
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn a_refresh_refused_twice_with_invalid_request_ends_the_login_saying_how_to_sign_in() {
    // issue 16 N5: an IdP that answers a refresh token it no longer knows
    // with 400 invalid_request, not invalid_grant.
    let idp = crate::util::fake::Fake::start(crate::util::fake::Behavior::Json(
        400,
        r#"{"error":"invalid_request","error_description":"unknown refresh token"}"#.into(),
    ));
    let keyring = Keyring::start();
    let refresh = "rt-unknown-to-the-idp-0123456789abcdef";
    let issuer = idp.url("/token");
    let service = format!("cargo-credential-corp-sso:{NO_REGISTRY}|sso@{issuer}");
    let stored = serde_json::json!({"v": 1, "refresh_token": refresh, "stored_at": 0});
    keyring.store(
        "seeded login",
        &[("service", &service), ("username", "cargo-credential-corp")],
        &stored.to_string(),
    );
    let mut home = CargoHome::new(NO_REGISTRY, Providers::PerRegistry(vec![]));
    home.bus(keyring.address()).secret(refresh);
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {NO_REGISTRY:?}\n\n[registries.{REGISTRY}.sso]\n\
         token-endpoint = {issuer:?}\ndevice-authorization-endpoint = {:?}\n\
         client-id = \"sso\"\nscope = \"read\"\n",
        idp.url("/device")
    ));
    let login = || keyring.lookup(&[("service", &service), ("username", "cargo-credential-corp")]);

    let first = home.provider_get(NO_REGISTRY, "read");
    let reply = first.reply();
    assert!(
        reply.contains("invalid_request") && reply.contains("`cargo login --registry my-private`"),
        "{}",
        first.describe()
    );
    assert!(
        login().is_some(),
        "the login was removed at the first refusal"
    );

    let second = home.provider_get(NO_REGISTRY, "read");
    let reply = second.reply();
    assert!(
        reply.contains("has ended") && reply.contains("the stored login was removed"),
        "{}",
        second.describe()
    );
    assert!(login().is_none(), "the login is still stored");
    assert_eq!(idp.hits(), 2);
    // Nothing more is sent: the next get says to sign in.
    let third = home.provider_get(NO_REGISTRY, "read");
    assert!(
        third.reply().contains("not-found") || third.stderr.contains("not signed in"),
        "{}",
        third.describe()
    );
    assert_eq!(idp.hits(), 2);
}

#[test]
#[ignore = "e2e: needs the test IdP and gnome-keyring; run scripts/test.sh"]
fn a_rotated_refresh_token_that_cannot_be_kept_leaves_the_spent_one_unsent() {
    // issue 16 R1: the keychain stays frozen past the store's and the
    // delete's own deadlines (5 s each): the spent refresh token is
    // recorded, the warning says so, and the next run does not send it.
    let idp = Idp::start_with(&[("AT_TTL", "300".into()), ("TOKEN_DELAY_MS", "1000".into())]);
    let keyring = Keyring::start();
    seeded_login(&idp, &keyring, NO_REGISTRY);
    let mut home = laptop(NO_REGISTRY, &idp, &keyring, "");
    let before = grants(&idp, "refresh_token");
    let out = thread::scope(|s| {
        let get = s.spawn(|| home.provider_get(NO_REGISTRY, "read"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while pending(&idp) == 0 {
            assert!(Instant::now() < deadline, "no refresh reached the IdP");
            thread::sleep(Duration::from_millis(10));
        }
        keyring.freeze();
        let out = get.join().unwrap();
        keyring.thaw();
        out
    });
    assert!(
        out.reply().starts_with(r#"{"Ok":{"kind":"get","token":"#),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr
            .contains("is recorded as spent: it will not be sent again")
            && !out.stderr.contains("the login was removed"),
        "{}",
        out.describe()
    );
    let next = home.provider_get(NO_REGISTRY, "read");
    assert!(
        next.reply()
            .contains("the stored one is spent and was not sent")
            && next.reply().contains("`cargo login --registry my-private`"),
        "{}",
        next.describe()
    );
    assert_eq!(grants(&idp, "refresh_token") - before, 1, "sent again");
    assert!(stored_login(&keyring, NO_REGISTRY, &idp).is_none());
    no_leaks(&idp, &mut home, &[&out.stderr, &next.stderr]);
}
