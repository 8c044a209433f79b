use std::path::PathBuf;
use std::time::Duration;

use super::load::*;
use super::raw::*;
use super::scrub::*;
use super::*;
use crate::schema::valid_var_name;

const IDX: &str = "sparse+https://r.example/api/v1/crates/";

fn reg(name: Option<&'static str>, index_url: &'static str) -> Registry<'static> {
    Registry { index_url, name }
}

#[test]
fn zero_config_serves_everything_with_env_then_keychain() {
    let c = Config::default();
    let s = c.settings_for(&reg(Some("x"), IDX)).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Env, SourceKind::Keychain]);
    assert_eq!(s.auth_scheme, AuthScheme::None);
    assert_eq!(s.keychain_timeout, DEFAULT_KEYCHAIN_TIMEOUT);
    assert!(s.env.is_empty() && s.matched.is_empty());
}

#[test]
fn unknown_keys_name_file_and_key() {
    let err =
        Config::from_texts(&[("/etc/x.toml", "[registries.a]\nsorces = [\"env\"]\n")]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("/etc/x.toml"), "{msg}");
    assert!(msg.contains("sorces"), "{msg}");
    let err = Config::from_texts(&[("u.toml", "colour = 1\n")]).unwrap_err();
    assert!(format!("{err:#}").contains("colour"));
    let err = Config::from_texts(&[("u.toml", "[defaults]\nsources = [\"vault\"]\n")]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("expected one of") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn invalid_values_are_rejected() {
    for (text, needle) in [
        ("[defaults]\nsources = []\n", "is empty"),
        ("[defaults]\nsources = [\"env\", \"env\"]\n", "twice"),
        (
            "[registries.a]\nenv = [\"A=B\"]\n",
            "not an environment variable",
        ),
        (
            "[registries.a]\nenv = [\"1A\"]\n",
            "not an environment variable",
        ),
        (
            "[defaults]\nkeychain-timeout-ms = 0\n",
            "keychain-timeout-ms",
        ),
        ("[defaults]\nindex = \"x\"\n", "[defaults]"),
        ("[registries.a]\nindex = \" \"\n", "empty"),
        ("not toml at all", "invalid config file"),
    ] {
        let err = Config::from_texts(&[("f.toml", text)]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains(needle) && msg.contains("f.toml"),
            "{text}: {msg}"
        );
    }
}

#[test]
fn precedence_specific_before_general_then_user_before_system() {
    let user = "[defaults]\nauth-scheme = \"bearer\"\nkeychain-timeout-ms = 50\n";
    let system = "serve = \"listed\"\n[defaults]\nsources = [\"keychain\"]\n\
                      [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates\"\n\
                      sources = [\"env\"]\nenv = [\"CORP_TOKEN\"]\nauth-scheme = \"none\"\n";
    let c = Config::from_texts(&[("user.toml", user), ("system.toml", system)]).unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Env]);
    assert_eq!(s.env, ["CORP_TOKEN"]);
    // The system's table is more specific than the user's defaults.
    assert_eq!(s.auth_scheme, AuthScheme::None);
    assert_eq!(s.keychain_timeout, Duration::from_millis(50));
    assert_eq!(s.matched.len(), 1);
    // Matched by index when Cargo sends no name (`--index URL`) or another name.
    assert!(c.settings_for(&reg(None, IDX)).unwrap().is_some());
    assert!(c.settings_for(&reg(Some("alias"), IDX)).unwrap().is_some());
    // `serve = "listed"`: other registries are not served.
    assert!(
        c.settings_for(&reg(Some("other"), "sparse+https://o/"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn provider_args_win() {
    let mut c =
        Config::from_texts(&[("u.toml", "[defaults]\nsources = [\"keychain\"]\n")]).unwrap();
    c.layers.insert(
        0,
        Layer {
            origin: Origin::ProviderArgs,
            file: parse_args(&["--source", "env", "--auth-scheme", "bearer"]).unwrap(),
            system: false,
        },
    );
    let s = c.settings_for(&reg(Some("a"), IDX)).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Env]);
    assert_eq!(s.auth_scheme, AuthScheme::Bearer);
}

#[test]
fn token_sources_in_defaults_or_args_are_refused_with_the_place() {
    let msg = format!(
        "{:#}",
        parse_args(&["--env", "ACME_REGISTRY_TOKEN"]).unwrap_err()
    );
    assert!(
        msg.contains("--env") && msg.contains("[registries.NAME]"),
        "{msg}"
    );
    for (text, key, line) in [
        (
            "[defaults]\nsources = [\"env\"]\nenv = [\"ACME\"]\n",
            "`env`",
            3,
        ),
        (
            "serve = \"all\"\n\n[defaults.oidc]\nissuer = \"https://i\"\n",
            "`oidc`",
            3,
        ),
    ] {
        let msg = format!("{:#}", Config::from_texts(&[("f.toml", text)]).unwrap_err());
        assert!(
            msg.contains(key)
                && msg.contains("[defaults]")
                && msg.contains("f.toml")
                && msg.contains(&format!("line {line}, column 1")),
            "{text}: {msg}"
        );
    }
}

#[test]
fn the_system_policy_locks_what_the_user_cannot_loosen() {
    let user = "serve = \"all\"\n[registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
                    sources = [\"keychain\", \"env\", \"sso\"]\n\
                    [registries.corp.sso]\nissuer = \"https://i\"\nclient-id = \"c\"\nstore = \"file\"\n";
    let system = "[policy]\nserve = \"listed\"\nallowed-sources = [\"env\", \"sso\"]\n\
                      interactive = \"never\"\nfile-store = false\n";
    let c = Config::from_texts(&[("user.toml", user), ("system.toml", system)]).unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Env, SourceKind::Sso]);
    let sso = s.sso.as_ref().unwrap();
    assert_eq!(sso.interactive, crate::sso::settings::Interactive::Never);
    assert_eq!(sso.store, crate::sso::settings::GrantStore::Keychain);
    assert_eq!(s.locked.len(), 3, "{:?}", s.locked);
    assert!(s.locked[0].contains("system.toml"), "{:?}", s.locked);
    // serve = "listed" wins over the user's "all".
    assert!(
        c.settings_for(&reg(Some("other"), "sparse+https://o/"))
            .unwrap()
            .is_none()
    );
    // A [policy] in a user's file is refused.
    let dir = tempfile::tempdir().unwrap();
    let user_path = dir.path().join("user.toml");
    std::fs::write(&user_path, system).unwrap();
    let paths = ConfigPaths {
        user: Some(user_path),
        system: None,
        platform: None,
    };
    let err = Config::load(&paths, &[]).unwrap_err();
    assert!(format!("{err:#}").contains("[policy] is read only from the system-wide file"));
}

#[test]
fn the_platform_files_policy_applies_whatever_the_variable_says() {
    let dir = tempfile::tempdir().unwrap();
    let platform = dir.path().join("platform.toml");
    std::fs::write(
        &platform,
        "[policy]\nserve = \"listed\"\nallowed-sources = [\"env\", \"keychain\"]\n\
             [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n",
    )
    .unwrap();
    let other = reg(Some("other"), "sparse+https://o/");
    // The variable pointing at a missing file does not drop the policy
    // (nor does it bring the platform file's other settings).
    let paths = ConfigPaths {
        user: None,
        system: Some(dir.path().join("missing.toml")),
        platform: Some(platform.clone()),
    };
    let c = Config::load(&paths, &[]).unwrap();
    assert!(c.settings_for(&other).unwrap().is_none());
    assert!(c.index_for("corp").is_none());
    // With a file of its own, the stricter of the two policies wins.
    let system = dir.path().join("system.toml");
    std::fs::write(
            &system,
            "[policy]\nserve = \"all\"\nallowed-sources = [\"env\", \"oidc\"]\nfile-store = false\n\
             [registries.other]\nindex = \"sparse+https://o/\"\nsources = [\"env\", \"keychain\", \"oidc\"]\n",
        )
        .unwrap();
    let paths = ConfigPaths {
        user: None,
        system: Some(system),
        platform: Some(platform),
    };
    let c = Config::load(&paths, &[]).unwrap();
    let s = c.settings_for(&other).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Env]);
    assert!(
        s.locked.iter().any(|l| l.contains("platform.toml")),
        "{:?}",
        s.locked
    );
    let (policy, _) = c.policy().unwrap();
    assert_eq!(policy.serve, Some(Serve::Listed));
    assert_eq!(policy.file_store, Some(false));
    assert!(
        c.settings_for(&reg(Some("x"), "sparse+https://x/"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_sso_table_applies_only_to_its_registry_and_joins_the_default_sources() {
    let c = Config::from_texts(&[(
        "u.toml",
        "[registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
             [registries.corp.sso]\nissuer = \"https://i\"\nclient-id = \"cargo\"\n\
             [registries.own]\nindex = \"sparse+https://o.example/\"\nsources = [\"keychain\"]\n\
             [registries.own.sso]\nissuer = \"https://i\"\nclient-id = \"cargo\"\n",
    )])
    .unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert!(s.sso.is_some());
    assert_eq!(
        s.sources,
        [SourceKind::Env, SourceKind::Sso, SourceKind::Keychain]
    );
    // A table's own `sources` is used as written.
    let own = reg(Some("own"), "sparse+https://o.example/");
    let s = c.settings_for(&own).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Keychain]);
    // A registry a dependency names gets no login.
    for r in [
        reg(None, "sparse+http://127.0.0.1:9/"),
        reg(Some("other"), "sparse+https://x.example/"),
    ] {
        let s = c.settings_for(&r).unwrap().unwrap();
        assert!(s.sso.is_none(), "{r:?}");
        assert_eq!(s.sources, [SourceKind::Env, SourceKind::Keychain]);
    }
    // Without `index`, or in [defaults], it is refused, naming the key.
    let err = Config::from_texts(&[(
        "u.toml",
        "[registries.corp.sso]\nissuer = \"https://i\"\nclient-id = \"c\"\n",
    )])
    .unwrap_err();
    assert!(format!("{err:#}").contains("needs `index`"), "{err:#}");
    let err = Config::from_texts(&[(
        "u.toml",
        "[defaults.sso]\nissuer = \"https://i\"\nclient-id = \"c\"\n",
    )])
    .unwrap_err();
    assert!(
        format!("{err:#}").contains("`sso` in [defaults]"),
        "{err:#}"
    );
}

#[test]
fn config_words_are_what_the_file_says() {
    use crate::diag::config_word;
    use crate::oidc::settings::{ClientAuth, Grant, IdentityKind};
    assert_eq!(config_word(&Grant::JfrogArtifactory), "jfrog-artifactory");
    assert_eq!(
        config_word(&Grant::CratesIoTrustedPublishing),
        "crates-io-trusted-publishing"
    );
    assert_eq!(config_word(&IdentityKind::GithubActions), "github-actions");
    assert_eq!(config_word(&IdentityKind::AwsImds), "aws-imds");
    assert_eq!(
        config_word(&ClientAuth::ClientSecretBasic),
        "client-secret-basic"
    );
    assert_eq!(config_word(&AuthScheme::Basic), "basic");
    // Each word is read back as the same value.
    for grant in [
        Grant::AwsCodeartifact,
        Grant::TokenExchange,
        Grant::Cloudsmith,
    ] {
        let word = format!("\"{}\"", config_word(&grant));
        assert_eq!(serde_json::from_str::<Grant>(&word).unwrap(), grant);
    }
}

#[test]
fn the_key_of_a_bad_value_is_found_never_a_value() {
    let text = "serve = 3\n[registries.\"a\"]\nenv = [\n  \"x=y\",\n  4,\n]\n[b]\nk = 1";
    let at = |needle: &str| text.find(needle).unwrap();
    assert_eq!(key_at(text, at("3")), Some((String::new(), "serve".into())));
    assert_eq!(
        key_at(text, at("4")),
        Some(("registries.a".into(), "env".into()))
    );
    assert_eq!(key_at(text, at("1")), Some(("b".into(), "k".into())));
    // A header with no key after it, and a key that looks like a value.
    assert_eq!(key_at(text, at("[b]") + 4), None);
    assert_eq!(key_at("\"Tok3n-Xy99\" = 1", 15), None);
}

#[test]
fn a_table_with_index_binds_every_name_sharing_its_variable() {
    let c = Config::from_texts(&[(
        "u.toml",
        "[registries.my-reg]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
             [registries.crates_io]\nindex = \"sparse+https://c.example/\"\n",
    )])
    .unwrap();
    let err = c
        .settings_for(&reg(Some("my_reg"), "sparse+https://evil.example/"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`my-reg`") && err.contains("CARGO_REGISTRIES_MY_REG_TOKEN"),
        "{err}"
    );
    assert!(
        c.settings_for(&reg(Some("my.reg"), "sparse+https://evil.example/"))
            .is_err()
    );
    // Its own index under either name; other names; crates.io's own
    // variable is not shared with a `crates_io` table.
    for r in [
        reg(Some("my_reg"), IDX),
        reg(Some("my-reg"), IDX),
        reg(Some("my_reg2"), "sparse+https://evil.example/"),
        reg(Some("crates-io"), "sparse+https://index.crates.io/"),
    ] {
        assert!(c.settings_for(&r).is_ok(), "{r:?}");
    }
}

#[test]
fn tokens_are_routed_only_to_matching_tables() {
    let c = Config::from_texts(&[(
        "u.toml",
        "[defaults]\nsources = [\"oidc\", \"env\", \"keychain\"]\n\
             [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
             env = [\"ACME_TOKEN\"]\n[registries.corp.oidc]\nissuer = \"https://i\"\n\
             [registries.byname]\nenv = [\"BYNAME_TOKEN\"]\n",
    )])
    .unwrap();
    // Matched by name and index, or by index alone.
    for r in [
        reg(Some("corp"), IDX),
        reg(None, IDX),
        reg(Some("alias"), IDX),
    ] {
        let s = c.settings_for(&r).unwrap().unwrap();
        assert_eq!(s.env, ["ACME_TOKEN"], "{r:?}");
        assert!(s.oidc.is_some(), "{r:?}");
    }
    // A registry a dependency names (no name, unknown index), crates.io,
    // and another named registry get no configured token source.
    for r in [
        reg(None, "sparse+http://127.0.0.1:9/"),
        reg(Some("crates-io"), "sparse+https://index.crates.io/"),
        reg(Some("other"), "sparse+https://o.example/"),
        reg(None, "sparse+https://r.example/api/v1/crates//"),
        reg(None, "sparse+https://R.example/api/v1/crates/"),
    ] {
        let s = c.settings_for(&r).unwrap().unwrap();
        assert!(s.env.is_empty() && s.oidc.is_none(), "{r:?}");
        assert!(s.matched.is_empty(), "{r:?}");
    }
    // A table without `index` matches by name only, never a nameless request.
    let s = c
        .settings_for(&reg(Some("byname"), "sparse+https://b/"))
        .unwrap()
        .unwrap();
    assert_eq!(s.env, ["BYNAME_TOKEN"]);
    let s = c
        .settings_for(&reg(None, "sparse+https://b/"))
        .unwrap()
        .unwrap();
    assert!(s.env.is_empty());
}

#[test]
fn config_errors_never_show_values() {
    const SECRET: &str = "ghp_SeCrEt0123456789abcdefABCDEF";
    for (text, line, key) in [
        (format!("token = \"{SECRET}\"\n"), 1, "token"),
        (
            format!("[registries.corp]\nindex = \"sparse+https://r/\"\ntoken = \"{SECRET}\"\n"),
            3,
            "token",
        ),
        (
            format!(
                "[registries.corp.oidc]\nissuer = \"https://i\"\nclient-secret-env = \"{SECRET}\"\n"
            ),
            3,
            "client-secret-env",
        ),
        (
            format!(
                "[registries.corp.oidc]\nissuer = \"https://i\"\nidentity-env = \"a-{SECRET}\"\n"
            ),
            3,
            "identity-env",
        ),
        (
            format!("[registries.corp.oidc]\ntoken-endpoint = \"http://r.example/{SECRET}\"\n"),
            2,
            "token-endpoint",
        ),
        (
            format!("[registries.corp]\nenv = [\"A\", \"{SECRET}-x\"]\n"),
            2,
            "env",
        ),
        (
            format!("[registries.corp]\nsources = [\"{SECRET}\"]\n"),
            2,
            "",
        ),
        (
            format!("[registries.corp]\nauth-scheme = \"{SECRET}\"\n"),
            2,
            "",
        ),
        (
            format!("[registries.corp]\nkeychain-timeout-ms = \"{SECRET}\"\n"),
            2,
            "",
        ),
        (
            format!("[registries.corp]\nindex = [\"{SECRET}\"]\n"),
            2,
            "",
        ),
        (format!("{SECRET} = 1\n"), 1, ""),
        (format!("serve = \"`, {SECRET}\"\n"), 1, ""),
        (format!("\"tok`, {SECRET}\" = 1\n"), 1, ""),
        (
            format!("[registries.corp]\n\"a`, expected {SECRET}`\" = 1\n"),
            2,
            "",
        ),
        (format!("x = \"{SECRET}\n"), 1, ""),
        (
            format!("[registries.corp]\nindex = \"{SECRET}\"\nindex = \"{SECRET}\"\n"),
            3,
            "",
        ),
    ] {
        let msg = format!(
            "{:#}",
            Config::from_texts(&[("f.toml", &text)]).unwrap_err()
        );
        assert!(!msg.contains(&SECRET[4..20]), "{text}: {msg}");
        assert!(
            msg.contains("f.toml") && msg.contains(&format!("line {line}")),
            "{text}: {msg}"
        );
        assert!(msg.contains(key), "{text}: {msg}");
    }
}

#[test]
fn names_that_look_like_tokens_are_refused_without_being_shown() {
    for name in [
        "deadbeefcafe0123456789abcdef0123456789ab",
        "ghp_abc",
        "SeCrEt0123456789abcdefAB",
    ] {
        assert!(!valid_var_name(name), "{name}");
        let text =
            format!("[registries.x.oidc]\nissuer = \"https://i\"\nclient-secret-env = {name:?}\n");
        let msg = format!(
            "{:#}",
            Config::from_texts(&[("f.toml", &text)]).unwrap_err()
        );
        assert!(!msg.contains(name), "{msg}");
        if name.len() < 20 {
            continue; // short names are valid registry names
        }
        let text = format!("[registries.{name:?}]\nsources = []\n");
        let msg = format!(
            "{:#}",
            Config::from_texts(&[("f.toml", &text)]).unwrap_err()
        );
        assert!(
            !msg.contains(name) && msg.contains("looks like a token"),
            "{msg}"
        );
    }
    for name in [
        "CARGO_REGISTRIES_MY_PRIVATE_TOKEN",
        "ACME_TOKEN",
        "corp_token2",
    ] {
        assert!(valid_var_name(name), "{name}");
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_at_a_config_path_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("config.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let paths = ConfigPaths {
        user: Some(fifo),
        system: None,
        platform: None,
    };
    let start = std::time::Instant::now();
    let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
    assert!(msg.contains("not a regular file"), "{msg}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn oidc_in_default_sources_is_skipped_unless_a_table_lists_it() {
    let c = Config::from_texts(&[(
            "u.toml",
            "[defaults]\nsources = [\"oidc\", \"env\"]\n\
             [registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\nenv = [\"A\"]\n\
             [registries.named]\nsources = [\"oidc\"]\n",
        )])
        .unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert!(!s.oidc_listed && s.oidc.is_none() && s.unbound.is_none());
    let s = c
        .settings_for(&reg(Some("named"), "sparse+https://n/"))
        .unwrap()
        .unwrap();
    assert!(s.oidc_listed);
}

#[test]
fn a_token_table_without_index_is_flagged() {
    let c = Config::from_texts(&[("u.toml", "[registries.corp]\nenv = [\"A\"]\n")]).unwrap();
    let s = c
        .settings_for(&reg(Some("corp"), "sparse+https://anything/"))
        .unwrap()
        .unwrap();
    assert_eq!(s.unbound.map(|(n, _)| n).as_deref(), Some("corp"));
}

#[cfg(unix)]
#[test]
fn config_files_writable_by_others_are_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    std::fs::write(&user, "[defaults]\nsources = [\"env\"]\n").unwrap();
    let paths = ConfigPaths {
        user: Some(user.clone()),
        system: None,
        platform: None,
    };
    for mode in [0o664, 0o666, 0o646] {
        std::fs::set_permissions(&user, std::fs::Permissions::from_mode(mode)).unwrap();
        let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
        assert!(
            msg.contains("chmod go-w") && msg.contains("user.toml"),
            "{msg}"
        );
    }
    std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(Config::load(&paths, &[]).is_ok());
    // Owned by another user (only root can set this up).
    if std::os::unix::fs::chown(&user, Some(65534), None).is_ok() {
        let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
        assert!(msg.contains("another user"), "{msg}");
    }
}

#[cfg(unix)]
#[test]
fn a_config_file_in_a_folder_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("etc");
    std::fs::create_dir(&folder).unwrap();
    let system = folder.join("config.toml");
    std::fs::write(&system, "[defaults]\nsources = [\"env\"]\n").unwrap();
    std::fs::set_permissions(&system, std::fs::Permissions::from_mode(0o644)).unwrap();
    let paths = ConfigPaths {
        user: None,
        system: Some(system.clone()),
        platform: None,
    };
    // Anyone in the group could replace the file.
    for mode in [0o775, 0o777, 0o757] {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).unwrap();
        let msg = format!("{:#}", Config::load(&paths, &[]).unwrap_err());
        assert!(
            msg.contains("chmod go-w") && msg.contains(&folder.display().to_string()),
            "{msg}"
        );
    }
    // Not with the sticky bit (only a file's owner may replace it), nor 0755.
    for mode in [0o1777, 0o755] {
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).unwrap();
        assert!(Config::load(&paths, &[]).is_ok(), "{mode:o}");
    }
}

#[test]
fn bad_provider_args_say_where_to_look() {
    let msg = format!("{:#}", parse_args(&["--sauce", "env"]).unwrap_err());
    assert!(
        msg.contains("--sauce") && msg.contains("credential-provider"),
        "{msg}"
    );
    let msg = format!("{:#}", parse_args(&["--source", "vault"]).unwrap_err());
    assert!(msg.contains("--source") && !msg.contains("vault"), "{msg}");
}

#[test]
fn a_name_bound_to_another_index_is_refused() {
    let c = Config::from_texts(&[(
        "u.toml",
        "[registries.corp]\nindex = \"sparse+https://good/\"\n",
    )])
    .unwrap();
    let err = c
        .settings_for(&reg(Some("corp"), "sparse+https://evil/"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("https://good/") && msg.contains("https://evil/") && msg.contains("u.toml"),
        "{msg}"
    );
}

#[test]
fn load_reads_files_and_ignores_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("user.toml");
    std::fs::write(&user, "[defaults]\nsources = [\"env\"]\n").unwrap();
    let paths = ConfigPaths {
        user: Some(user.clone()),
        system: Some(dir.path().join("missing.toml")),
        platform: None,
    };
    let c = Config::load(&paths, &[]).unwrap();
    assert_eq!(c.files().collect::<Vec<_>>(), [user.as_path()]);
    let s = c.settings_for(&reg(Some("a"), IDX)).unwrap().unwrap();
    assert_eq!(s.sources, [SourceKind::Env]);
}

#[test]
fn every_ca_file_found_is_trusted_and_reaches_oidc_and_sso() {
    let c = Config::from_texts(&[
        (
            "u.toml",
            &format!(
                "[defaults]\nca-file = \"/home/me/extra.pem\"\n[registries.corp]\n\
                     index = \"{IDX}\"\nca-file = \"/etc/corp/idp.pem\"\n\
                     [registries.corp.oidc]\ntoken-endpoint = \"https://idp/t\"\n\
                     [registries.corp.sso]\nissuer = \"https://idp\"\nclient-id = \"c\"\n"
            ),
        ),
        (
            "system.toml",
            "[defaults]\nca-file = \"/etc/corp/ca.pem\"\n",
        ),
    ])
    .unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    let expected: Vec<PathBuf> = [
        "/etc/corp/idp.pem",
        "/home/me/extra.pem",
        "/etc/corp/ca.pem",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(s.ca_files, expected);
    assert_eq!(s.oidc.unwrap().ca_files, expected);
    assert_eq!(s.sso.unwrap().ca_files, expected);
    let other = c
        .settings_for(&reg(Some("x"), "sparse+https://x/"))
        .unwrap()
        .unwrap();
    assert_eq!(other.ca_files.len(), 2);

    let err =
        Config::from_texts(&[("u.toml", "[defaults]\nca-file = \"~/ca.pem\"\n")]).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("ca-file") && msg.contains("absolute") && msg.contains("line 2"),
        "{msg}"
    );
    assert!(!msg.contains("~/ca.pem"), "{msg}");
}

const TP_INDEX: &str = "sparse+https://tp.example/index/";
const TP_ENDPOINT: &str = "https://tp.example/api/v1/trusted_publishing/tokens";

/// A `[registries.tp]` table (`index` line or none) with the crates.io
/// trusted publishing grant and `oidc` lines.
fn trusted_publishing(index: &str, oidc: &str) -> anyhow::Result<Config> {
    Config::from_texts(&[(
        "u.toml",
        &format!(
            "[registries.tp]\n{index}sources = [\"oidc\"]\n[registries.tp.oidc]\n\
                 grant = \"crates-io-trusted-publishing\"\n{oidc}"
        ),
    )])
}

#[test]
fn a_crates_io_compatible_registry_gets_trusted_publishing_with_its_own_index_endpoint_and_audience()
 {
    let index = format!("index = {TP_INDEX:?}\n");
    let endpoint = format!("token-endpoint = {TP_ENDPOINT:?}\n");
    let audience = "identity-audience = \"tp.example\"\n";
    let c = trusted_publishing(&index, &format!("{endpoint}{audience}")).unwrap();
    // Bound to its index, matched by name or by index.
    for r in [reg(Some("tp"), TP_INDEX), reg(None, TP_INDEX)] {
        let s = c.settings_for(&r).unwrap().unwrap();
        let oidc = s.oidc.unwrap();
        assert_eq!(oidc.table_index.as_deref(), Some(TP_INDEX));
        assert_eq!(oidc.identity_audience.as_deref(), Some("tp.example"));
        assert!(s.unbound.is_none());
    }
    // staging.crates.io is not crates.io.
    trusted_publishing(
        &index,
        "token-endpoint = \"https://staging.crates.io/api/v1/trusted_publishing/tokens\"\n\
             identity-audience = \"staging.crates.io\"\n",
    )
    .unwrap();
    // crates.io's own table is unchanged: no `index`, no endpoint or
    // audience needed (they default to crates.io's), and not bound.
    let c = Config::from_texts(&[(
        "u.toml",
        "[registries.crates-io]\n[registries.crates-io.oidc]\n\
             grant = \"crates-io-trusted-publishing\"\n",
    )])
    .unwrap();
    let s = c
        .settings_for(&reg(Some("crates-io"), "sparse+https://index.crates.io/"))
        .unwrap()
        .unwrap();
    assert_eq!(s.oidc.unwrap().table_index, None);
    // Nor is a table whose `index` is crates.io's.
    trusted_publishing("index = \"sparse+https://index.crates.io/\"\n", "").unwrap();
}

#[test]
fn crates_ios_own_table_sends_id_tokens_only_to_crates_io_or_loopback() {
    for (table, endpoint, ok) in [
        ("[registries.crates-io]\n", "https://evil.example/tp", false),
        (
            "[registries.x]\nindex = \"sparse+https://index.crates.io/\"\n",
            "https://evil.example/tp",
            false,
        ),
        ("[registries.crates-io]\n", "http://127.0.0.1:9/tp", true),
        ("[registries.crates-io]\n", "http://localhost:9/tp", true),
        (
            "[registries.crates-io]\n",
            "https://crates.io/api/v1/trusted_publishing/tokens",
            true,
        ),
    ] {
        let header = table.lines().next().unwrap().trim_end_matches(']');
        let text = format!(
            "{table}{header}.oidc]\ngrant = \"crates-io-trusted-publishing\"\n\
                 token-endpoint = {endpoint:?}\n"
        );
        let result = Config::from_texts(&[("u.toml", &text)]);
        match (result, ok) {
            (Ok(_), true) => {}
            (Err(e), false) => {
                let msg = format!("{e:#}");
                assert!(
                    msg.contains("`token-endpoint`") && !msg.contains("evil"),
                    "{msg}"
                );
            }
            (r, _) => panic!("{text}: {:?}", r.map(|_| ()).map_err(|e| e.to_string())),
        }
    }
}

#[test]
fn trusted_publishing_for_another_index_needs_each_of_index_endpoint_and_audience() {
    let index = format!("index = {TP_INDEX:?}\n");
    let endpoint = format!("token-endpoint = {TP_ENDPOINT:?}\n");
    let audience = "identity-audience = \"tp.example\"\n";
    for (index, oidc, key, needle) in [
        // No `index`: not bound to anything.
        (
            "",
            format!("{endpoint}{audience}"),
            "`grant` in [registries.tp.oidc]",
            "needs",
        ),
        ("", String::new(), "`grant`", "[registries.crates-io]"),
        // crates.io's endpoint (the default, or written out, in any case).
        (
            &index[..],
            audience.to_owned(),
            "`token-endpoint` in [registries.tp.oidc]",
            "never minted for another index",
        ),
        (
            &index,
            format!(
                "token-endpoint = \"https://crates.io/api/v1/trusted_publishing/tokens\"\n\
                     {audience}"
            ),
            "`token-endpoint`",
            "crates.io's own endpoint",
        ),
        (
            &index,
            format!(
                "token-endpoint = \"https://CRATES.IO./api/v1/trusted_publishing/tokens\"\n\
                     {audience}"
            ),
            "`token-endpoint`",
            "crates.io's own endpoint",
        ),
        (
            &index,
            format!(
                "token-endpoint = \"https://www.crates.io/api/v1/trusted_publishing/tokens\"\n\
                     {audience}"
            ),
            "`token-endpoint`",
            "crates.io's own endpoint",
        ),
        // crates.io's audience (the default, or written out).
        (
            &index,
            endpoint.clone(),
            "`identity-audience` in [registries.tp.oidc]",
            "never sent to another server",
        ),
        (
            &index,
            format!("{endpoint}identity-audience = \"crates.io\"\n"),
            "`identity-audience`",
            "not `crates.io`",
        ),
        (
            &index,
            format!("{endpoint}identity-audience = \" Crates.IO \"\n"),
            "`identity-audience`",
            "not `crates.io`",
        ),
        (
            &index,
            format!("{endpoint}identity-audience = \"https://crates.io/\"\n"),
            "`identity-audience`",
            "not `crates.io`",
        ),
    ] {
        let err = trusted_publishing(index, &oidc).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains(key) && msg.contains(needle) && msg.contains("u.toml"),
            "{index}{oidc}: {msg}"
        );
        // Says what to change, never the values.
        assert!(msg.contains("crates-io-trusted-publishing"), "{msg}");
        for value in [
            TP_INDEX,
            TP_ENDPOINT,
            "tp.example\"",
            "CRATES.IO.",
            "https://crates.io/",
        ] {
            assert!(!msg.contains(value), "{value} shown: {msg}");
        }
    }
}

#[test]
fn every_secret_variable_of_every_table_is_kept_from_launched_programs() {
    // issue 16 F5: another table's `identity-env` reached the browser.
    let c = Config::from_texts(&[(
        "u.toml",
        "[registries.corp]\nindex = \"sparse+https://r.example/api/v1/crates/\"\n\
         env = [\"CORP_TOKEN\"]\n\
         [registries.ci.oidc]\nissuer = \"https://i\"\nidentity = \"env\"\n\
         identity-env = \"MY_CI_ID_TOKEN\"\nclient-auth = \"client-secret-post\"\n\
         client-id = \"ci\"\nclient-secret-env = \"CI_CLIENT_SECRET\"\n",
    )])
    .unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    for name in [
        "CORP_TOKEN",
        "MY_CI_ID_TOKEN",
        "CI_CLIENT_SECRET",
        crate::oidc::identity::GITLAB_DEFAULT_VAR,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ] {
        assert!(s.secret_vars.iter().any(|v| v == name), "{name}");
    }
}

#[test]
fn zero_config_sign_in_applies_only_to_named_registries_without_an_sso_table() {
    let user = "[issuers.\"https://login.corp.example\"]\nclient-id = \"dev\"\nflow = \"device\"\n\
                [registries.tabled]\nindex = \"sparse+https://t.example/\"\n\
                [registries.tabled.sso]\nissuer = \"https://idp.example\"\nclient-id = \"cli\"\n";
    let c = Config::from_texts(&[("user.toml", user)]).unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert!(s.discovery.enabled && s.discovery.registration);
    assert_eq!(s.discovery.issuers.len(), 1);
    assert_eq!(s.discovery.issuers[0].client_id, "dev");
    assert!(s.discovery.issuers[0].registries.is_empty());
    // review-18 F1: the registries an issuer table serves, and its resource.
    let listed = "[issuers.\"https://login.corp.example\"]\nclient-id = \"dev\"\n\
                  resource = \"api://corp-registry\"\n\
                  registries = [\"https://crates.corp.example\", \"sparse+https://r.example/t/a/\"]\n";
    let lc = Config::from_texts(&[("user.toml", listed)]).unwrap();
    let it = &lc
        .settings_for(&reg(Some("corp"), IDX))
        .unwrap()
        .unwrap()
        .discovery
        .issuers[0];
    assert_eq!(it.resource.as_deref(), Some("api://corp-registry"));
    assert!(it.serves("sparse+https://crates.corp.example/api/v1/crates/"));
    assert!(it.serves("sparse+https://r.example/t/a/index/"));
    assert!(!it.serves("sparse+https://r.example/t/b/index/"));
    assert!(!it.serves("sparse+https://crates.corp.example.evil.example/"));
    assert!(!it.serves("sparse+https://crates.corp.example:444/"));
    // An sso table wins: discovery is not consulted.
    let t = c
        .settings_for(&reg(Some("tabled"), "sparse+https://t.example/"))
        .unwrap()
        .unwrap();
    assert!(t.sso.is_some() && !t.discovery.enabled);
    // Nameless (`--index`, a dependency's `registry-index`) and crates.io: none.
    assert!(
        !c.settings_for(&reg(None, IDX))
            .unwrap()
            .unwrap()
            .discovery
            .enabled
    );
    let crates = reg(Some("crates-io"), "sparse+https://index.crates.io/");
    assert!(!c.settings_for(&crates).unwrap().unwrap().discovery.enabled);
}

#[test]
fn the_system_policy_sets_trusted_issuers_and_can_forbid_registration() {
    let system = "[policy]\ntrusted-issuers = [\"https://login.corp.example\"]\n\
                  dynamic-registration = false\n";
    let c = Config::from_texts(&[("system.toml", system)]).unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert_eq!(s.discovery.trusted, ["https://login.corp.example"]);
    assert!(!s.discovery.registration);
    // Forbidding the sso source turns discovery off.
    let c = Config::from_texts(&[(
        "system.toml",
        "[policy]\nallowed-sources = [\"env\", \"keychain\"]\n",
    )])
    .unwrap();
    let s = c.settings_for(&reg(Some("corp"), IDX)).unwrap().unwrap();
    assert!(!s.discovery.enabled && s.discovery.registration);
    // The stricter of two policies: registration off if either says so,
    // trusted only what both trust.
    let a = Policy {
        dynamic_registration: Some(true),
        trusted_issuers: Some(vec!["https://a".into(), "https://b".into()]),
        ..Policy::default()
    };
    let b = Policy {
        dynamic_registration: Some(false),
        trusted_issuers: Some(vec!["https://b".into()]),
        ..Policy::default()
    };
    let both = a.stricter(&b);
    assert_eq!(both.dynamic_registration, Some(false));
    assert_eq!(both.trusted_issuers, Some(vec!["https://b".to_owned()]));
}

#[test]
fn issuer_tables_are_validated() {
    for (text, needle) in [
        ("[issuers.\"https://i.example\"]\n", "needs `client-id`"),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"a b\"\n",
            "client-id",
        ),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"\"\n",
            "client-id",
        ),
        (
            "[issuers.\"http://i.example\"]\nclient-id = \"a\"\n",
            "not a usable issuer URL",
        ),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"a\"\nclient-secret = \"s\"\n",
            "client-secret",
        ),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"a\"\nflow = \"telepathy\"\n",
            "flow",
        ),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"a\"\nregistries = [\"http://r.example/\"]\n",
            "registries",
        ),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"a\"\nregistries = [\"r.example\"]\n",
            "registries",
        ),
        (
            "[issuers.\"https://i.example\"]\nclient-id = \"a\"\nresource = \"a b\"\n",
            "resource",
        ),
    ] {
        let err = Config::from_texts(&[("user.toml", text)]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(needle), "{text}: {msg}");
    }
    Config::from_texts(&[(
        "user.toml",
        "[issuers.\"http://127.0.0.1:8080/idp\"]\nclient-id = \"a\"\nscope = \"read\"\n",
    )])
    .unwrap();
}
