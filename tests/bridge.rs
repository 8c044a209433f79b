//! The bridge for tools that cannot run a credential provider: `token`
//! (also as `cargo:token-from-stdout`) and `exec`.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::util::cargo::{CargoHome, Providers, REGISTRY};
use crate::util::fake::{Behavior, Fake};
use crate::util::{Output, Provider, leak, process, provider_bin, provider_env};

const INDEX: &str = "sparse+https://r.example/api/v1/crates/";
const TOKEN: &str = "bridge-test-token-4f2c9e";

fn corp(extra: &str) -> String {
    format!("[registries.corp]\nindex = \"{INDEX}\"\n{extra}")
}

/// `token` prints the token on stdout on purpose: the leak rule applies to
/// its stderr and to the files it left.
fn run_token(p: &Provider, args: &[&str]) -> Output {
    let mut argv = vec!["token"];
    argv.extend_from_slice(args);
    let out = p.run(&argv, "");
    let secrets = [TOKEN.to_owned()];
    leak::check_text(
        &format!("the stderr of `{}`", out.what),
        out.stderr.as_bytes(),
        &secrets,
    );
    leak::check_dir(p.dir(), &secrets, &|_| false);
    out
}

#[test]
fn token_prints_what_cargo_would_send() {
    let mut p = Provider::new();
    p.user_config(&corp("env = [\"ACME_TOKEN\"]\nauth-scheme = \"bearer\"\n"))
        .env("ACME_TOKEN", TOKEN);
    for args in [
        &["--registry", "corp"][..],
        &["--registry", "corp", "--operation", "publish"],
        &["--registry", "corp", "--index", INDEX],
    ] {
        let out = run_token(&p, args);
        assert!(out.status.success(), "{args:?}\n{}", out.stderr);
        assert_eq!(out.stdout, format!("Bearer {TOKEN}\n"), "{args:?}");
        assert_eq!(out.stderr, "", "{args:?}");
    }
    // Without a scheme, the token as is; Cargo's own variable is read too.
    let mut p = Provider::new();
    p.user_config(&corp(""))
        .env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = run_token(&p, &["--registry", "corp"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
    // crates.io needs no index: its own is the default.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRY_TOKEN", TOKEN);
    let out = run_token(&p, &["--registry", "crates-io"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
}

#[test]
fn token_from_stdout_variables_are_the_defaults() {
    // What `cargo:token-from-stdout` sets: no table needed for Cargo's own
    // variable, as with the provider.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRY_INDEX_URL", INDEX)
        .env("CARGO_REGISTRY_NAME_OPT", "corp")
        .env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = run_token(&p, &[]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));

    // A configured `env` variable goes only to the table's own index.
    let mut p = Provider::new();
    p.user_config(&corp("env = [\"ACME_TOKEN\"]\n"))
        .env("ACME_TOKEN", TOKEN)
        .env("CARGO_REGISTRY_NAME_OPT", "corp")
        .env("CARGO_REGISTRY_INDEX_URL", INDEX);
    let out = run_token(&p, &[]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
    p.env("CARGO_REGISTRY_INDEX_URL", "sparse+https://evil.example/");
    let out = run_token(&p, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("evil.example"), "{}", out.stderr);
}

#[test]
fn token_refuses_when_cargo_asks_for_another_index() {
    // A project's Cargo config can set any registry's credential-provider
    // to `token --index …` or `token --registry …`: the index Cargo is
    // asking for must be the one the token belongs to.
    let evil = "sparse+https://evil.example/";
    let mut p = Provider::new();
    p.user_config(&corp("env = [\"ACME_TOKEN\"]\n"))
        .env("ACME_TOKEN", TOKEN)
        .env("CARGO_REGISTRY_NAME_OPT", "corp")
        .env("CARGO_REGISTRY_INDEX_URL", evil);
    let out = run_token(&p, &["--index", INDEX]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    out.assert_stderr_contains("CARGO_REGISTRY_INDEX_URL")
        .assert_stderr_contains(evil);
    // A name bound only by the user's own Cargo config, and Cargo's variable.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN)
        .env("CARGO_REGISTRY_INDEX_URL", evil);
    cargo_home_config(&p, &format!("[registries.corp]\nindex = {INDEX:?}\n"));
    let out = run_token(&p, &["--registry", "corp"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    out.assert_stderr_contains(evil);
    // The same index (compared as everywhere: one trailing `/` aside) is fine.
    p.env("CARGO_REGISTRY_INDEX_URL", INDEX.trim_end_matches('/'));
    let out = run_token(&p, &["--registry", "corp"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
    let out = run_token(&p, &["--registry", "corp", "--index", INDEX]);
    assert!(out.status.success(), "{}", out.stderr);
    // crates.io by either of its index URLs.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRY_TOKEN", TOKEN).env(
        "CARGO_REGISTRY_INDEX_URL",
        "https://github.com/rust-lang/crates.io-index",
    );
    let out = run_token(&p, &["--registry", "crates-io"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
}

#[test]
fn real_cargo_sends_the_token_through_token_from_stdout() {
    // A registry that wants a token (401 to everything): Cargo asks again
    // with the token `cargo:token-from-stdout` got from `token`, which took
    // the registry from Cargo's variables (no --registry in the config).
    let registry = Fake::start(Behavior::Raw(401, "authentication required".into()));
    let index = format!("sparse+{}", registry.url("/"));
    let provider = format!("cargo:token-from-stdout {} token", provider_bin().display());
    let mut home = CargoHome::new(&index, Providers::Global(vec![provider]));
    home.env("ACME_TOKEN", TOKEN).secret(TOKEN);
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {index:?}\nenv = [\"ACME_TOKEN\"]\nauth-scheme = \"bearer\"\n"
    ));
    let app = home.new_app("app", "dep", "1");
    home.cargo(&app, &["generate-lockfile"], None)
        .assert_failure();
    let sent: Vec<String> = registry
        .requests()
        .iter()
        .filter_map(|r| {
            r.lines()
                .find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or(l.strip_prefix("Authorization: "))
                })
                .map(str::to_owned)
        })
        .collect();
    assert!(
        !sent.is_empty() && sent.iter().all(|a| *a == format!("Bearer {TOKEN}")),
        "{} requests, {} with an Authorization header, not all the expected one",
        registry.requests().len(),
        sent.len()
    );
}

#[test]
fn token_without_an_index_says_to_pass_one() {
    let mut p = Provider::new();
    p.user_config("[registries.corp]\nauth-scheme = \"bearer\"\n")
        .env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    let out = run_token(&p, &["--registry", "corp"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("--index") && out.stderr.contains("[registries.corp]"),
        "{}",
        out.stderr
    );
    // Nor any registry at all.
    let out = run_token(&Provider::new(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("--registry"), "{}", out.stderr);
}

#[test]
fn token_not_found_says_what_to_do_and_prints_nothing() {
    let mut p = Provider::new();
    p.user_config(&corp("env = [\"ACME_TOKEN\"]\n"));
    let out = run_token(&p, &["--registry", "corp"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    for needle in [
        "no token found for corp",
        "cargo login --registry corp",
        "CARGO_REGISTRIES_CORP_TOKEN",
    ] {
        assert!(out.stderr.contains(needle), "{needle}\n{}", out.stderr);
    }
    // A registry the configuration does not serve.
    let mut p = Provider::new();
    p.user_config("serve = \"listed\"\n");
    let out = run_token(&p, &["--registry", "other", "--index", INDEX]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("not served"), "{}", out.stderr);
}

#[test]
fn a_bad_token_is_an_error_that_does_not_show_it() {
    let mut p = Provider::new();
    p.user_config(&corp(""))
        .env("CARGO_REGISTRIES_CORP_TOKEN", &format!("{TOKEN}\nmore"));
    let out = run_token(&p, &["--registry", "corp"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("CARGO_REGISTRIES_CORP_TOKEN"),
        "{}",
        out.stderr
    );
}

fn exec_provider() -> Provider {
    let mut p = Provider::new();
    p.user_config(&corp("env = [\"ACME_TOKEN\"]\nauth-scheme = \"bearer\"\n"))
        .env("ACME_TOKEN", TOKEN)
        .env("EXPECTED", &format!("Bearer {TOKEN}"))
        .secret(TOKEN);
    p
}

fn exec(p: &Provider, script: &str, stdin: &str) -> Output {
    p.run(
        &["exec", "--registry", "corp", "--", "sh", "-c", script],
        stdin,
    )
}

#[test]
fn exec_gives_the_command_the_token_and_its_streams() {
    let p = exec_provider();
    let out = exec(
        &p,
        r#"test "$CARGO_REGISTRIES_CORP_TOKEN" = "$EXPECTED" || exit 9
           read line && echo "got $line" && echo err >&2"#,
        "hello\n",
    );
    out.assert_success();
    assert_eq!(out.stdout, "got hello\n");
    assert_eq!(out.stderr, "err\n");
}

#[test]
fn exec_adds_only_the_token_and_index_variables() {
    let p = exec_provider();
    let names = "env | cut -d= -f1 | sort";
    let through = exec(&p, names, "");
    through.assert_success();
    // The same shell started directly, with the same environment.
    let mut env = provider_env(p.dir(), "");
    env.insert("ACME_TOKEN".into(), TOKEN.into());
    env.insert("EXPECTED".into(), format!("Bearer {TOKEN}"));
    let mut direct = Command::new("sh");
    direct.args(["-c", names]).env_clear().envs(&env);
    let direct = process::run(direct, Some(""), Duration::from_secs(20));
    direct.assert_success();
    let set = |s: &str| s.lines().map(str::to_owned).collect::<BTreeSet<_>>();
    let added: Vec<_> = set(&through.stdout)
        .difference(&set(&direct.stdout))
        .cloned()
        .collect();
    let removed: Vec<_> = set(&direct.stdout)
        .difference(&set(&through.stdout))
        .cloned()
        .collect();
    assert_eq!(
        added,
        ["CARGO_REGISTRIES_CORP_INDEX", "CARGO_REGISTRIES_CORP_TOKEN"]
    );
    assert_eq!(removed, Vec::<String>::new());
}

#[test]
fn exec_passes_the_exit_status_through() {
    let p = exec_provider();
    assert_eq!(exec(&p, "exit 3", "").status.code(), Some(3));
    assert_eq!(exec(&p, "exit 0", "").status.code(), Some(0));
    #[cfg(unix)]
    assert_eq!(exec(&p, "kill -TERM $$", "").status.code(), Some(143));
    // A command that does not exist: 127, as a shell says, and no token.
    let out = p.run(
        &[
            "exec",
            "--registry",
            "corp",
            "--",
            "/nonexistent/tool",
            "--x",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(127), "{}", out.stderr);
    assert!(out.stderr.contains("/nonexistent/tool"), "{}", out.stderr);
}

#[test]
fn exec_without_a_token_does_not_run_the_command() {
    let mut p = Provider::new();
    p.user_config(&corp("env = [\"ACME_TOKEN\"]\n"));
    let marker = p.dir().join("ran");
    let script = format!("touch '{}'", marker.display());
    let out = exec(&p, &script, "");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("cargo login --registry corp"),
        "{}",
        out.stderr
    );
    assert!(!marker.exists());
    // Without an index, the same error as `token`.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN).secret(TOKEN);
    let out = exec(&p, "exit 0", "");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("--index"), "{}", out.stderr);
    // `cargo:token-from-stdout`'s variables are not read by `exec`.
    p.env("CARGO_REGISTRY_INDEX_URL", INDEX);
    let out = exec(&p, "exit 0", "");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    // And with an index it works from Cargo's variable alone.
    let out = p.run(
        &[
            "exec",
            "--registry",
            "corp",
            "--index",
            INDEX,
            "--",
            "sh",
            "-c",
            "exit 4",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(4), "{}", out.stderr);
}

#[test]
fn exec_needs_a_command() {
    let out = exec_provider().run(&["exec", "--registry", "corp"], "");
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
}

/// Cargo's home as the provider sees it in a [`Provider`] test.
fn cargo_home_config(p: &Provider, text: &str) {
    crate::util::write(&p.dir().join("cargo-home").join("config.toml"), text);
}

/// The leak rule for a run whose provider did not declare the token (its
/// `token` runs print it on purpose).
fn assert_no_token(out: &Output) {
    out.assert_free_of(&[TOKEN.to_owned()]);
}

#[test]
fn token_and_exec_take_the_index_from_the_users_own_cargo_config() {
    // No provider config at all: the index is in $CARGO_HOME/config.toml.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN);
    cargo_home_config(&p, &format!("[registries.corp]\nindex = {INDEX:?}\n"));
    let out = run_token(&p, &["--registry", "corp"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
    let out = exec(&p, "exit 5", "");
    assert_eq!(out.status.code(), Some(5), "{}", out.stderr);
    assert_no_token(&out);

    // Or in Cargo's variable, which wins over the file as in Cargo.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN)
        .env("CARGO_REGISTRIES_CORP_INDEX", INDEX);
    cargo_home_config(
        &p,
        "[registries.corp]\nindex = \"sparse+https://other.example/\"\n",
    );
    let out = run_token(&p, &["--registry", "corp"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, format!("{TOKEN}\n"));
    let out = exec(&p, "exit 6", "");
    assert_eq!(out.status.code(), Some(6), "{}", out.stderr);
    assert_no_token(&out);
}

#[test]
fn token_and_exec_never_take_the_index_from_a_projects_cargo_config() {
    let mut p = Provider::new();
    p.env("CARGO_REGISTRIES_CORP_TOKEN", TOKEN).secret(TOKEN);
    let project = p.dir().join("project");
    crate::util::write(
        &project.join(".cargo").join("config.toml"),
        "[registries.corp]\nindex = \"sparse+https://evil.example/\"\n",
    );
    let out = p.run_in(&project, &["token", "--registry", "corp"], "");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    out.assert_stderr_contains("no index URL for registry `corp`");
    assert!(!out.stderr.contains("evil.example"), "{}", out.stderr);
    let marker = p.dir().join("ran");
    let script = format!("touch '{}'", marker.display());
    let out = p.run_in(
        &project,
        &["exec", "--registry", "corp", "--", "sh", "-c", &script],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    out.assert_stderr_contains("no index URL for registry `corp`");
    assert!(!marker.exists());
}

/// The `Authorization` headers a fake registry received.
fn authorizations(registry: &Fake) -> Vec<String> {
    registry
        .requests()
        .iter()
        .filter_map(|r| {
            r.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .map(|l| l["authorization:".len()..].trim().to_owned())
        })
        .collect()
}

#[test]
fn exec_keeps_a_projects_cargo_config_from_re_pointing_the_registry() {
    // The registry the token is for, and one a project's config names
    // instead; both want a token (401), as an auth-required registry does.
    let good = Fake::start(Behavior::Raw(401, "authentication required".into()));
    let evil = Fake::start(Behavior::Raw(401, "authentication required".into()));
    let good_index = format!("sparse+{}", good.url("/"));
    let evil_index = format!("sparse+{}", evil.url("/"));
    let mut home = CargoHome::new(&good_index, Providers::Global(vec!["cargo:token".into()]));
    home.env("ACME_TOKEN", TOKEN).secret(TOKEN);
    home.corp_config(&format!(
        "[registries.{REGISTRY}]\nindex = {good_index:?}\nenv = [\"ACME_TOKEN\"]\n"
    ));
    let app = home.new_app("app", "dep", "1");
    crate::util::write(
        &app.join(".cargo").join("config.toml"),
        &format!("[registries.{REGISTRY}]\nindex = {evil_index:?}\n"),
    );
    let mut cmd = Command::new(provider_bin());
    cmd.args([
        "exec",
        "--registry",
        REGISTRY,
        "--",
        "cargo",
        "generate-lockfile",
    ])
    .current_dir(&app);
    home.run_with_env(cmd).assert_failure();
    assert_eq!(
        authorizations(&evil).len(),
        0,
        "the token went to the index a project's config chose ({} requests there)",
        evil.requests().len()
    );
    let sent = authorizations(&good);
    assert!(
        !sent.is_empty() && sent.iter().all(|a| a == TOKEN),
        "{} requests to the configured index, {} with an Authorization header, not all the token",
        good.requests().len(),
        sent.len()
    );
}

#[test]
fn exec_sets_the_registrys_index_beside_its_token() {
    let p = exec_provider();
    let out = exec(
        &p,
        &format!(r#"test "$CARGO_REGISTRIES_CORP_INDEX" = "{INDEX}" || exit 9"#),
        "",
    );
    out.assert_success();
    // crates.io has no index variable: only its token.
    let mut p = Provider::new();
    p.env("CARGO_REGISTRY_TOKEN", TOKEN).secret(TOKEN);
    let out = p.run(
        &[
            "exec",
            "--registry",
            "crates-io",
            "--",
            "sh",
            "-c",
            "env | cut -d= -f1 | grep -c '^CARGO_REGISTR' ; test -n \"$CARGO_REGISTRY_TOKEN\"",
        ],
        "",
    );
    out.assert_success();
    assert_eq!(out.stdout, "1\n");
}
