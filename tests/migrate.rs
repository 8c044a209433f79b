//! `cargo-credential-corp migrate`: the tokens of `credentials.toml` moved
//! into the OS keychain, and removed from the file only when all of them
//! were stored and read back.

use crate::setup::CargoHome;
use crate::util::Provider;
use crate::util::keyring::Keyring;

const CRATES_IO: &str = "sparse+https://index.crates.io/";
const CORP: &str = "sparse+https://corp.example/index/";
const VENDOR: &str = "https://git.vendor.example/index";

const TOKENS: [&str; 4] = [
    "cio-mig-4Hq7",
    "corp-mig-8Zt2",
    "vendor-mig-3Lw9",
    "orphan-mig-6Pd1",
];

const CONFIG: &str = "\
[registries.corp]
index = \"sparse+https://corp.example/index/\"

[registries.vendor]
index = \"https://git.vendor.example/index\"
";

fn credentials() -> String {
    let [cio, corp, vendor, orphan] = TOKENS;
    format!(
        "\
# Written by cargo login; do not share.
[registry]
token = \"{cio}\"

# The company registry.
[registries.corp]
token = \"{corp}\"   # from the portal

[registries.vendor]
# rotated in March
token = \"{vendor}\"
secret-key-subject = \"vendor-ci\"

[registries.orphan]
token = \"{orphan}\"
"
    )
}

fn cargo_home() -> CargoHome {
    let mut c = CargoHome::new();
    for token in TOKENS {
        c.secret(token);
    }
    crate::util::write(&c.global(), CONFIG);
    crate::util::write(&c.home().join("credentials.toml"), &credentials());
    c
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn migrate_moves_tokens_into_the_keychain_and_out_of_the_file() {
    let keyring = Keyring::start();
    let mut c = cargo_home();
    c.env("DBUS_SESSION_BUS_ADDRESS", keyring.address());
    let creds = c.home().join("credentials.toml");

    // A dry run first: nothing anywhere changes.
    let out = c.run(&["migrate", "--dry-run"]);
    out.assert_success();
    assert!(
        out.stdout.contains("would move") && out.stdout.contains("dry run"),
        "{}",
        out.describe()
    );
    assert_eq!(keyring.provider_item(CORP), None);
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), credentials());

    let out = c.run(&["migrate"]);
    out.assert_success();
    let [cio, corp, vendor, orphan] = TOKENS;
    assert_eq!(keyring.provider_item(CRATES_IO).as_deref(), Some(cio));
    assert_eq!(keyring.provider_item(CORP).as_deref(), Some(corp));
    assert_eq!(keyring.provider_item(VENDOR).as_deref(), Some(vendor));
    for needle in [
        "crates-io ([registry]): moved to the keychain item `cargo-registry:sparse+https://index.crates.io/`",
        "corp ([registries.corp]): moved to the keychain item `cargo-registry:sparse+https://corp.example/index/`",
        "vendor ([registries.vendor]): moved to the keychain item `cargo-registry:https://git.vendor.example/index`",
        "orphan ([registries.orphan]): stays: no index is known for it",
        "removed 3 tokens from",
        "`cargo:libsecret` stored in the keychain need no migration",
    ] {
        assert!(out.stdout.contains(needle), "{needle}\n{}", out.describe());
    }
    // Comments and other keys stay; only the token lines (and the tables
    // they leave empty) go. The token with no known index stays.
    assert_eq!(
        std::fs::read_to_string(&creds).unwrap(),
        format!(
            "\
# Written by cargo login; do not share.

# The company registry.

[registries.vendor]
# rotated in March
secret-key-subject = \"vendor-ci\"

[registries.orphan]
token = \"{orphan}\"
"
        )
    );

    // The provider serves a moved token to Cargo.
    let mut p = Provider::new();
    p.env("DBUS_SESSION_BUS_ADDRESS", keyring.address());
    p.secret(corp);
    let reply = p
        .request(&format!(
            r#"{{"v":1,"registry":{{"index-url":"{CORP}","name":"corp"}},"kind":"get","operation":"read"}}"#
        ))
        .reply()
        .to_owned();
    assert!(
        reply.contains(&format!(r#""token":"{corp}""#)),
        "a get reply"
    );

    // Again: the moved ones are gone from the file, nothing else moves.
    let out = c.run(&["migrate"]);
    out.assert_success();
    assert!(
        out.stdout.contains("nothing was changed"),
        "{}",
        out.describe()
    );
}

#[test]
fn without_a_keychain_nothing_is_removed() {
    // The harness's default: a D-Bus address where nothing listens.
    let c = cargo_home();
    let out = c.run(&["migrate"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr
            .contains("could not move every token into the OS keychain")
            && out.stderr.contains("was left as it was"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("NOT moved") && out.stdout.contains("Secret Service"),
        "{}",
        out.describe()
    );
    assert!(
        out.stdout.contains("nothing was removed"),
        "{}",
        out.describe()
    );
    assert_eq!(
        std::fs::read_to_string(c.home().join("credentials.toml")).unwrap(),
        credentials()
    );
}

/// A project config (the current directory's `.cargo/config.toml`) that
/// gives `orphan` an index and `corp` another one than `$CARGO_HOME`'s.
const PROJECT: &str = "\
[registries.orphan]
index = \"sparse+https://orphan.example/index/\"

[registries.corp]
index = \"sparse+https://corp-project.example/index/\"
";

/// A project's `.cargo/config.toml` (which may come with a cloned
/// repository) never decides where a token goes: the user's own config and
/// environment do.
#[test]
fn a_projects_config_does_not_decide_the_index() {
    let mut c = cargo_home();
    crate::util::write(&c.project(), PROJECT);
    c.env(
        "CARGO_REGISTRIES_VENDOR_INDEX",
        "sparse+https://vendor-env.example/",
    );
    let out = c.run(&["migrate", "--dry-run"]);
    out.assert_success();
    let project = c.project().display().to_string();
    for needle in [
        format!(
            "orphan ([registries.orphan]): stays: only {project} (a project's Cargo config) \
             names its index"
        ),
        // The project names another index for `corp`: $CARGO_HOME's is used.
        format!(
            "corp ([registries.corp]): would move to the keychain item `cargo-registry:{CORP}`"
        ),
        // The user's environment wins over the user's file.
        "vendor ([registries.vendor]): would move to the keychain item \
         `cargo-registry:sparse+https://vendor-env.example/` (index from \
         CARGO_REGISTRIES_VENDOR_INDEX)"
            .to_owned(),
        "dry run: nothing was changed".to_owned(),
    ] {
        assert!(out.stdout.contains(&needle), "{needle}\n{}", out.describe());
    }
    assert!(
        !out.stdout.contains("corp-project.example"),
        "{}",
        out.describe()
    );
    assert_eq!(
        std::fs::read_to_string(c.home().join("credentials.toml")).unwrap(),
        credentials()
    );
}

#[test]
#[ignore = "e2e: needs gnome-keyring; run scripts/test.sh"]
fn migrate_in_a_project_binds_tokens_to_the_users_own_indexes() {
    let keyring = Keyring::start();
    let mut c = cargo_home();
    c.env("DBUS_SESSION_BUS_ADDRESS", keyring.address());
    crate::util::write(&c.project(), PROJECT);
    let out = c.run(&["migrate"]);
    out.assert_success();
    let [cio, corp, vendor, orphan] = TOKENS;
    assert_eq!(keyring.provider_item(CRATES_IO).as_deref(), Some(cio));
    assert_eq!(keyring.provider_item(CORP).as_deref(), Some(corp));
    assert_eq!(
        keyring.provider_item("sparse+https://corp-project.example/index/"),
        None
    );
    assert_eq!(keyring.provider_item(VENDOR).as_deref(), Some(vendor));
    assert_eq!(
        keyring.provider_item("sparse+https://orphan.example/index/"),
        None
    );
    out.assert_stdout_contains("removed 3 tokens from");
    let left = std::fs::read_to_string(c.home().join("credentials.toml")).unwrap();
    for token in [cio, corp, vendor] {
        assert!(!left.contains(token), "{left}");
    }
    assert!(left.contains(orphan), "the orphan's token stays");
    assert!(left.contains("# rotated in March"), "{left}");
}

#[test]
fn registry_names_are_shown_escaped() {
    let mut c = CargoHome::new();
    c.secret("evil-mig-2Rk5");
    crate::util::write(
        &c.home().join("credentials.toml"),
        "[registries.\"ev\\u001b[2Jil\\u202e\"]\ntoken = \"evil-mig-2Rk5\"\n",
    );
    let out = c.run(&["migrate", "--dry-run"]);
    out.assert_success();
    crate::doctor::assert_tame(&out.stdout);
    out.assert_stdout_contains("ev\\u{1b}[2Jil\\u{202e}");
}
