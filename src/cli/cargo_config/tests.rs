use std::fs;
use std::path::Path;

use toml_edit::DocumentMut;

use super::diff::*;
use super::edit::*;
use super::paths::*;
use super::read::*;
use crate::registry::CRATES_IO;

#[test]
fn the_legacy_file_wins_as_in_cargo() {
    let dir = tempfile::tempdir().unwrap();
    let (toml, legacy) = (dir.path().join("config.toml"), dir.path().join("config"));
    assert_eq!(in_dir(dir.path(), "config"), toml, "neither exists");
    fs::write(&toml, "").unwrap();
    assert_eq!(in_dir(dir.path(), "config"), toml, "only config.toml");
    fs::write(&legacy, "").unwrap();
    assert_eq!(
        in_dir(dir.path(), "config"),
        legacy,
        "both: Cargo uses `config`"
    );
    fs::remove_file(&toml).unwrap();
    assert_eq!(in_dir(dir.path(), "config"), legacy, "only config");
}

#[test]
fn diff_shows_changes_with_context_and_redacts_tokens() {
    let old = "a\nb\nc\nd\ne\nf\ng\nh\n[registry]\ntoken = \"s3cr3t\"\n";
    let new = "a\nb\nc\nd\ne\nf\ng\nh\n[registry]\ntoken = \"s3cr3t\"\nx = 1\n";
    let d = diff("f.toml", old, new, true);
    assert_eq!(
        d,
        "--- f.toml\n+++ f.toml\n@@ -8,3 +8,4 @@\n h\n [registry]\n token = [redacted]\n+x = 1\n"
    );
    assert_eq!(diff("f.toml", old, old, true), "");
    let d = diff("f.toml", "", "x = 1\n", false);
    assert_eq!(d, "--- /dev/null\n+++ f.toml\n@@ -0,0 +1,1 @@\n+x = 1\n");
    let d = diff("f.toml", "a\nb", "a\nc", true);
    assert_eq!(
        d,
        "--- f.toml\n+++ f.toml\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
    );
}

#[test]
fn diff_splits_distant_changes_into_hunks() {
    let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let new: String = (1..=20)
        .map(|i| match i {
            2 => "two\n".to_owned(),
            19 => "nineteen\n".to_owned(),
            i => format!("{i}\n"),
        })
        .collect();
    let d = diff("f", &old, &new, true);
    assert!(
        d.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"),
        "{d}"
    );
    assert!(
        d.contains("@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n"),
        "{d}"
    );
}

#[test]
fn removing_a_key_keeps_comments_and_drops_empty_tables() {
    let text = "# my credentials\n[registry]\ntoken = \"a\"\n\n# the private one\n[registries.p]\n# its token\ntoken = \"b\"\n\n[registries.q]\ntoken = \"c\"\nother = 1 # keep\n";
    let mut doc = parse(text, Path::new("c.toml")).unwrap();
    assert!(remove_key(&mut doc, &["registry"], "token"));
    assert!(remove_key(&mut doc, &["registries", "p"], "token"));
    assert!(remove_key(&mut doc, &["registries", "q"], "token"));
    assert!(!remove_key(&mut doc, &["registries", "q"], "token"));
    assert!(!remove_key(&mut doc, &["nope"], "token"));
    let out = doc.to_string();
    assert_eq!(
        out,
        "# my credentials\n\n# the private one\n# its token\n\n[registries.q]\nother = 1 # keep\n"
    );
    let mut doc = parse("[registries.p]\ntoken = \"b\"\n", Path::new("c")).unwrap();
    remove_key(&mut doc, &["registries", "p"], "token");
    assert_eq!(doc.to_string(), "");
}

#[test]
fn invalid_toml_names_the_place_but_not_the_text() {
    let err = parse(
        "[registry]\ntoken = \"abc\nx = 1\n",
        Path::new("creds.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("creds.toml") && err.contains("line 2"),
        "{err}"
    );
    assert!(!err.contains("abc"), "{err}");
}

#[test]
fn cargo_order_registry_provider_alone_else_global_from_the_end() {
    let mut c = CargoConfig::default();
    c.apply(
            &"[registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp --serve listed\"]\n\
              [registries.a]\nindex = \"sparse+https://a/\"\ncredential-provider = \"cargo:token\"\n"
                .parse()
                .unwrap(),
            Path::new("config.toml"),
        );
    let (chain, own) = c.chain(Some("a"));
    assert!(own);
    assert_eq!(chain, vec![vec!["cargo:token".to_owned()]]);
    let (chain, own) = c.chain(Some("b"));
    assert!(!own);
    assert!(is_this_entry(&chain[0]));
    assert_eq!(chain[0][1..], ["--serve", "listed"]);
    assert_eq!(chain[1], ["cargo:token"]);
    assert!(is_this_entry(&[
        "/usr/local/bin/cargo-credential-corp".to_owned()
    ]));
    assert!(is_this_entry(&[
        "/opt/my tools/cargo-credential-corp".to_owned(),
        "--x".to_owned()
    ]));
}

#[test]
fn unreadable_config_files_are_problems_and_missing_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    let anyone = crate::fs::Owner::Anyone;
    assert!(read_toml(&dir.path().join("absent.toml"), anyone, &mut problems).is_none());
    assert!(problems.is_empty());
    let binary = dir.path().join("binary.toml");
    fs::write(&binary, b"token = \"\xff\xfe secret\"\n").unwrap();
    assert!(read_toml(&binary, anyone, &mut problems).is_none());
    assert!(read_toml(dir.path(), anyone, &mut problems).is_none());
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].ends_with("is not UTF-8 text"), "{problems:?}");
    assert!(
        problems[1].contains("is not a regular file"),
        "{problems:?}"
    );
    assert!(!problems.iter().any(|p| p.contains("secret")));
}

#[cfg(unix)]
#[test]
fn cargo_config_files_are_read_without_hanging_within_a_size_and_the_trusted_one_if_owned() {
    // review-16 N-a: a FIFO at a project's `.cargo/config.toml` hung
    // `setup --project`; a huge file was read whole; the home file, which
    // routes the bridge's tokens, was read whoever could write it.
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("config.toml");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
    let e = TomlFile::load(&fifo).unwrap_err();
    assert!(format!("{e:#}").contains("not a regular file"), "{e:#}");
    let mut problems = Vec::new();
    assert!(read_toml(&fifo, crate::fs::Owner::Anyone, &mut problems).is_none());
    let big = dir.path().join("big.toml");
    let file = fs::File::create(&big).unwrap();
    file.set_len(crate::cargo_files::MAX_CONFIG_BYTES + 1)
        .unwrap();
    assert!(TomlFile::load(&big).is_err());
    assert!(read_toml(&big, crate::fs::Owner::Anyone, &mut problems).is_none());
    assert_eq!(problems.len(), 2, "{problems:?}");

    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let config = home.join("config.toml");
    fs::write(
        &config,
        "[registries.corp]\nindex = \"sparse+https://r.example/\"\n",
    )
    .unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o666)).unwrap();
    let env: std::collections::HashMap<String, String> = Default::default();
    let c = CargoConfig::read_trusted(&home, &env, &[]);
    assert!(!c.indexes.contains_key("corp"));
    assert!(
        c.problems.iter().any(|p| p.contains("chmod go-w")),
        "{:?}",
        c.problems
    );
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let c = CargoConfig::read_trusted(&home, &env, &[]);
    assert!(c.indexes.contains_key("corp"), "{:?}", c.problems);
}

#[test]
fn an_empty_index_is_a_problem_not_an_index() {
    let mut c = CargoConfig::default();
    c.apply(
        &"[registries.a]\nindex = \"\"\ncredential-provider = \"cargo:token\"\n\
              [registries.b]\nindex = \"sparse+https://b/\"\n\
              [registries.\"c\\u001b[2J\"]\nindex = \" sparse+https://c/\"\n"
            .parse()
            .unwrap(),
        Path::new("config.toml"),
    );
    let env: std::collections::HashMap<String, String> =
        [("CARGO_REGISTRIES_B_INDEX".to_owned(), " ".to_owned())].into();
    c.apply_env(&env, &[]);
    assert!(!c.indexes.contains_key("a"));
    assert_eq!(
        c.indexes["b"], "sparse+https://b/",
        "the file's index stays"
    );
    assert_eq!(c.chain(Some("a")).0, vec![vec!["cargo:token".to_owned()]]);
    assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
    assert!(
        c.problems[1].contains("has spaces around it"),
        "{:?}",
        c.problems
    );
    // A table name is shown escaped (no terminal control characters).
    assert!(
        !c.problems.iter().any(|p| p.contains('\u{1b}')),
        "{:?}",
        c.problems
    );
    assert_eq!(c.indexes.len(), 1);
}

#[test]
fn an_array_provider_is_one_program_spaces_and_all() {
    let doc: DocumentMut =
            "p = [\"/opt/my tools/cargo-credential-corp\", \"--x\"]\nq = \"cargo-credential-corp --x\"\n"
                .parse()
                .unwrap();
    assert_eq!(
        credential_provider_program(&doc["p"]),
        Some("/opt/my tools/cargo-credential-corp")
    );
    assert_eq!(
        credential_provider_program(&doc["q"]),
        Some("cargo-credential-corp")
    );
}

#[test]
fn crates_ios_provider_variable_is_read() {
    let mut c = CargoConfig::default();
    c.apply(
        &"[registry]\nglobal-credential-providers = [\"cargo-credential-corp\"]\n"
            .parse()
            .unwrap(),
        Path::new("config.toml"),
    );
    let env: std::collections::HashMap<String, String> = [(
        "CARGO_REGISTRY_CREDENTIAL_PROVIDER".to_owned(),
        "cargo:token".to_owned(),
    )]
    .into();
    c.apply_env(&env, &[]);
    let (chain, own) = c.chain(Some(CRATES_IO));
    assert!(own);
    assert_eq!(chain, vec![vec!["cargo:token".to_owned()]]);
    let (chain, own) = c.chain(Some("other"));
    assert!(!own && is_this_entry(&chain[0]));
}

#[test]
fn provider_entries() {
    for yes in [
        "cargo-credential-corp",
        "cargo-credential-corp --source env",
        "/usr/local/bin/cargo-credential-corp",
        "C:\\bin\\cargo-credential-corp.exe",
    ] {
        assert!(is_this_provider(yes), "{yes}");
    }
    for no in [
        "cargo:token",
        "cargo-credential-corpx",
        "",
        "x cargo-credential-corp",
    ] {
        assert!(!is_this_provider(no), "{no}");
    }
}

#[cfg(unix)]
#[test]
fn atomic_writes_keep_permissions_and_links() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.toml");
    fs::write(&real, "a = 1\n").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    write_atomic(&link, "a = 2\n", None).unwrap();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&real).unwrap(), "a = 2\n");
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let fresh = dir.path().join("sub").join("new.toml");
    write_atomic(&fresh, "b = 1\n", None).unwrap();
    assert_eq!(fs::read_to_string(&fresh).unwrap(), "b = 1\n");
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}
