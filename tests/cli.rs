//! The human command line.

use crate::util::Provider;

#[test]
fn version_and_help() {
    let p = Provider::new();
    let out = p.run(&["--version"], "");
    out.assert_success();
    assert_eq!(
        out.stdout.trim(),
        format!("cargo-credential-corp {}", env!("CARGO_PKG_VERSION"))
    );
    let out = p.run(&["--help"], "");
    out.assert_success();
    assert!(
        out.stdout.contains("global-credential-providers"),
        "{}",
        out.stdout
    );
}

#[test]
fn without_arguments_it_explains_itself_and_does_not_wait_for_stdin() {
    // The helper keeps stdin open only as long as it writes; a provider that
    // waited for a request would still be cut off by the 20 s limit.
    let out = Provider::new().run(&[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out.stderr.contains("Usage") || out.stdout.contains("Usage"),
        "{}",
        out.describe()
    );
}

#[test]
fn unknown_flags_are_usage_errors() {
    let out = Provider::new().run(&["--nope"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("--nope"));
}

#[test]
fn config_shows_where_tokens_are_looked_for() {
    let mut p = Provider::new();
    p.user_config(
        "[registries.my-private]\nindex = \"sparse+https://r.example/\"\nenv = [\"ACME_TOKEN\"]\nauth-scheme = \"bearer\"\n",
    );
    let out = p.run(&["config", "--registry", "my-private"], "");
    out.assert_success();
    for needle in [
        "user.toml",
        "system.toml (not present)",
        "registry: my-private (sparse+https://r.example/)",
        "env: ACME_TOKEN, CARGO_REGISTRIES_MY_PRIVATE_TOKEN",
        "keychain: item `cargo-registry:sparse+https://r.example/`",
        "auth-scheme: bearer",
    ] {
        assert!(out.stdout.contains(needle), "{needle}\n{}", out.stdout);
    }
}

#[test]
fn config_reports_a_broken_file() {
    let mut p = Provider::new();
    p.user_config("[defaults]\nsorces = []\n");
    let out = p.run(&["config"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("user.toml") && out.stderr.contains("sorces"),
        "{}",
        out.stderr
    );
}

#[test]
fn config_shows_config_values_escaped() {
    let mut p = Provider::new();
    p.user_config("[registries.mine]\nindex = \"sparse+https://r.example/\\u202e\\u200b\"\n");
    let out = p.run(&["config", "--registry", "mine"], "");
    out.assert_success();
    crate::doctor::assert_tame(&out.stdout);
    out.assert_stdout_contains("(sparse+https://r.example/\\u{202e}\\u{200b})");
}

#[test]
fn config_takes_the_provider_arguments_in_every_form() {
    let mut p = Provider::new();
    p.user_config("[registries.my-private]\nindex = \"sparse+https://r.example/\"\n");
    for args in [
        &[
            "config",
            "--registry",
            "my-private",
            "--provider-args=--auth-scheme bearer",
        ][..],
        &[
            "config",
            "--registry",
            "my-private",
            "--provider-args",
            "--auth-scheme bearer",
        ],
        &[
            "config",
            "--registry",
            "my-private",
            "--",
            "--auth-scheme",
            "bearer",
        ],
    ] {
        let out = p.run(args, "");
        out.assert_success();
        out.assert_stdout_contains("auth-scheme: bearer");
    }
}
