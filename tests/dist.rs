//! Distribution: the release archives, the installers and the crate package.
//!
//! - scripts/install.sh and the steps of action.yml, against a release folder
//!   that the workflow's own script (scripts/release.sh) builds from this
//!   test run's binary, signed with a minisign key made in the test's folder
//!   and served on 127.0.0.1: the right binary is installed and runs; a
//!   tampered archive, a wrong checksum, a bad signature and an unknown
//!   platform are each refused, saying why, with nothing installed (an older
//!   binary already there is left as it was). The signature is checked by
//!   `minisign` and, without it, by `openssl` (both minisign forms).
//! - `[package.metadata.binstall]` rendered for every target the release
//!   workflow builds names exactly the archives (and `.sig` files) that
//!   scripts/release.sh makes, with the binary where `bin-dir` says.
//! - The release key, version and repository are the same in minisign.pub,
//!   Cargo.toml and install.sh.
//! - `cargo package --list` holds what the build needs and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

use crate::util::composite::{self, Runner};
use crate::util::release::{
    FileServer, Key, NAME, Release, VERSION, host_target, key_line, need, pack, root, run,
};
use crate::util::{Output, base_env};

/// A place to install into, and what it held before.
struct Dest {
    dir: tempfile::TempDir,
}

impl Dest {
    fn new() -> Dest {
        Dest {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The install folder (inside the temporary one, not created yet).
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// The installed binary's path.
    fn binary(&self) -> PathBuf {
        self.bin().join(NAME)
    }

    /// Puts an "old install" in place, for the refusals to leave alone.
    fn with_old_binary(self) -> Dest {
        std::fs::create_dir_all(self.bin()).unwrap();
        std::fs::write(self.binary(), OLD).unwrap();
        self
    }

    /// The names of what the install folder holds.
    fn listing(&self) -> Vec<String> {
        match std::fs::read_dir(self.bin()) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(_) => Vec::new(),
        }
    }

    /// Fails unless the folder holds exactly the old binary, unchanged (or
    /// nothing, when there was none).
    fn assert_untouched(&self, had_old: bool) {
        if had_old {
            assert_eq!(self.listing(), vec![NAME.to_owned()]);
            assert_eq!(std::fs::read(self.binary()).unwrap(), OLD.as_bytes());
        } else {
            assert_eq!(
                self.listing(),
                Vec::<String>::new(),
                "something was installed"
            );
        }
    }
}

/// The "binary" of an earlier install.
const OLD: &str = "#!/bin/sh\necho an older install\n";

/// `sh scripts/install.sh ARGS` with a clean environment (`path` as PATH).
fn install_sh(args: &[&str], path: &str, secrets: &[String]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("scripts/install.sh"))
        .args(args)
        .env_clear()
        .envs(base_env())
        .env("PATH", path)
        .env_remove("CARGO_HOME");
    run(cmd, 120, secrets)
}

fn system_path() -> String {
    std::env::var("PATH").unwrap()
}

/// install.sh from `release` served on loopback into `dest`, trusting the
/// release's key, checked by `verifier`.
fn install(release: &Release, dest: &Dest, verifier: &str, extra: &[&str]) -> Output {
    let server = FileServer::start(release.dir());
    let to = dest.bin();
    let pubkey = release.key.public_file();
    let mut args = vec![
        "--base-url",
        &*server.url(),
        "--to",
        to.to_str().unwrap(),
        "--pubkey-file",
        pubkey.to_str().unwrap(),
        "--verify-with",
        verifier,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    install_sh(&args, &system_path(), &release.key.secrets())
}

/// Fails unless `out` is a refusal that says `why` and that nothing was
/// installed.
fn assert_refused(out: &Output, why: &str) {
    out.assert_failure()
        .assert_stderr_contains("REFUSED")
        .assert_stderr_contains(why)
        .assert_stderr_contains("nothing was installed");
}

fn assert_installed(release: &Release, dest: &Dest, out: &Output) {
    out.assert_success();
    assert_eq!(dest.listing(), vec![NAME.to_owned()], "{}", out.describe());
    assert_eq!(
        std::fs::read(dest.binary()).unwrap(),
        std::fs::read(release.binary()).unwrap(),
        "the installed binary is not the one in the archive"
    );
    let mut cmd = Command::new(dest.binary());
    cmd.arg("--version").env_clear().envs(base_env());
    run(cmd, 20, &[])
        .assert_success()
        .assert_stdout_contains(&format!("{NAME} {VERSION}"));
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn install_sh_installs_the_signed_binary_checked_by_minisign_or_openssl() {
    let release = Release::build(host_target());
    for verifier in ["minisign", "openssl", "auto"] {
        let dest = Dest::new().with_old_binary();
        let out = install(&release, &dest, verifier, &[]);
        assert_installed(&release, &dest, &out);
        let by = if verifier == "auto" {
            "minisign"
        } else {
            verifier
        };
        out.assert_stderr_contains(&format!("signature checked ({by})"))
            .assert_stderr_contains(&format!("file:{}", release.archive_name()));
    }
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn openssl_checks_a_legacy_minisign_signature_too() {
    let release = Release::build(host_target());
    // Re-sign in minisign's legacy form (the whole file signed, `Ed`).
    let mut cmd = Command::new("minisign");
    cmd.args(["-S", "-l", "-W", "-s"])
        .arg(release.key.secret_file())
        .arg("-m")
        .arg(release.archive())
        .arg("-x")
        .arg(release.beside(".sig"))
        .arg("-t")
        .arg(format!("file:{}", release.archive_name()))
        .stdin(std::process::Stdio::null());
    run(cmd, 60, &release.key.secrets()).assert_success();
    let sig = std::fs::read_to_string(release.beside(".sig")).unwrap();
    let line = base64::engine::general_purpose::STANDARD
        .decode(sig.lines().nth(1).unwrap())
        .unwrap();
    assert_eq!(
        &line[..2],
        b"Ed",
        "minisign -l did not make a legacy signature"
    );
    let dest = Dest::new();
    let out = install(&release, &dest, "openssl", &[]);
    assert_installed(&release, &dest, &out);
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn a_tampered_archive_is_refused_even_with_a_matching_checksum() {
    let release = Release::build(host_target());
    let mut bytes = std::fs::read(release.archive()).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(release.archive(), &bytes).unwrap();
    // The attacker controls the server: the checksum file matches.
    rehash(&release);
    for verifier in ["minisign", "openssl"] {
        let dest = Dest::new().with_old_binary();
        let out = install(&release, &dest, verifier, &[]);
        assert_refused(&out, "the signature of");
        out.assert_stderr_contains("was altered, or not signed with the release key");
        dest.assert_untouched(true);
    }
}

/// Writes the `.sha256` file for the release's archive as it now is.
fn rehash(release: &Release) {
    let mut cmd = Command::new("sha256sum");
    cmd.arg(release.archive_name()).current_dir(release.dir());
    let out = run(cmd, 30, &[]);
    out.assert_success();
    std::fs::write(release.beside(".sha256"), out.stdout).unwrap();
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn a_wrong_checksum_is_refused() {
    let release = Release::build(host_target());
    let name = release.archive_name();
    std::fs::write(
        release.beside(".sha256"),
        format!("{}  {name}\n", "0".repeat(64)),
    )
    .unwrap();
    let dest = Dest::new().with_old_binary();
    let out = install(&release, &dest, "auto", &[]);
    assert_refused(&out, &format!("the SHA-256 of {name} is"));
    dest.assert_untouched(true);
    // A checksum file for another file is refused too.
    rehash(&release);
    let text = std::fs::read_to_string(release.beside(".sha256")).unwrap();
    std::fs::write(
        release.beside(".sha256"),
        text.replace(&name, "other.tar.gz"),
    )
    .unwrap();
    let dest = Dest::new();
    let out = install(&release, &dest, "auto", &[]);
    assert_refused(&out, "is for another file");
    dest.assert_untouched(false);
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn a_bad_signature_is_refused() {
    let release = Release::build(host_target());
    let good_sig = std::fs::read_to_string(release.beside(".sig")).unwrap();

    // Signed by another key.
    let other = Key::new();
    other.sign(release.dir());
    for (verifier, why) in [
        ("minisign", "not signed with the release key"),
        ("openssl", "made with another key than the one trusted"),
    ] {
        let dest = Dest::new().with_old_binary();
        assert_refused(&install(&release, &dest, verifier, &[]), why);
        dest.assert_untouched(true);
    }

    // The right key, but the trusted comment changed after signing.
    let forged = good_sig.replace("trusted comment: file:", "trusted comment: file:x");
    std::fs::write(release.beside(".sig"), &forged).unwrap();
    rehash(&release);
    for (verifier, why) in [
        ("minisign", "not signed with the release key"),
        ("openssl", "the trusted comment of"),
    ] {
        let dest = Dest::new();
        assert_refused(&install(&release, &dest, verifier, &[]), why);
        dest.assert_untouched(false);
    }

    // Not a signature at all.
    std::fs::write(release.beside(".sig"), "untrusted comment: x\nnot base64\n").unwrap();
    for verifier in ["minisign", "openssl"] {
        let dest = Dest::new();
        assert_refused(&install(&release, &dest, verifier, &[]), "signature");
        dest.assert_untouched(false);
    }
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn a_signed_archive_of_another_platform_renamed_is_refused() {
    // A validly signed archive for another target, served under this
    // platform's name: the signed trusted comment names the other file.
    let release = Release::build(host_target());
    let other = Release::build("aarch64-apple-darwin");
    std::fs::copy(other.archive(), release.archive()).unwrap();
    // Signed by the key install.sh is told to trust.
    release.key.sign(other.dir());
    std::fs::copy(other.beside(".sig"), release.beside(".sig")).unwrap();
    rehash(&release);
    for verifier in ["minisign", "openssl"] {
        let dest = Dest::new().with_old_binary();
        let out = install(&release, &dest, verifier, &[]);
        assert_refused(&out, "is a valid signature of another file");
        out.assert_stderr_contains(&other.archive_name());
        dest.assert_untouched(true);
    }
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn an_unknown_platform_is_refused() {
    let release = Release::build(host_target());
    // `uname` says SunOS on SPARC.
    let fake = tempfile::tempdir().unwrap();
    let uname = fake.path().join("uname");
    std::fs::write(
        &uname,
        "#!/bin/sh\ncase \"$1\" in -s) echo SunOS ;; -m) echo sparc64 ;; *) echo SunOS ;; esac\n",
    )
    .unwrap();
    make_executable(&uname);
    let server = FileServer::start(release.dir());
    let url = server.url();
    let dest = Dest::new();
    let path = format!("{}:{}", fake.path().display(), system_path());
    let pubkey = release.key.public_file();
    let to = dest.bin();
    let base = [
        "--base-url",
        &url,
        "--to",
        to.to_str().unwrap(),
        "--pubkey-file",
        pubkey.to_str().unwrap(),
    ];
    let out = install_sh(&base, &path, &[]);
    assert_refused(&out, "no release binary for this platform (SunOS/sparc64)");
    out.assert_stderr_contains("x86_64-unknown-linux-musl")
        .assert_stderr_contains("cargo install --locked cargo-credential-corp");
    dest.assert_untouched(false);

    // A target no release is built for, named on purpose.
    let mut args = base.to_vec();
    args.extend(["--target", "sparc64-unknown-linux-gnu"]);
    let out = install_sh(&args, &system_path(), &[]);
    assert_refused(
        &out,
        "no release binary for the target sparc64-unknown-linux-gnu",
    );
    dest.assert_untouched(false);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn without_minisign_or_openssl_it_refuses_unless_told_loudly() {
    let release = Release::build(host_target());
    // A PATH with every program of this machine but those two.
    let bin = tempfile::tempdir().unwrap();
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let link = bin.path().join(&name);
            if name == "minisign" || name == "openssl" || link.exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), link);
        }
    }
    let path = bin.path().display().to_string();
    let server = FileServer::start(release.dir());
    let url = server.url();
    let pubkey = release.key.public_file();
    let dest = Dest::new().with_old_binary();
    let to = dest.bin();
    let mut args = vec![
        "--base-url",
        &url,
        "--to",
        to.to_str().unwrap(),
        "--pubkey-file",
        pubkey.to_str().unwrap(),
    ];
    let out = install_sh(&args, &path, &[]);
    assert_refused(&out, "neither minisign nor OpenSSL >= 1.1.1 is installed");
    out.assert_stderr_contains("--insecure-skip-signature-check");
    dest.assert_untouched(true);

    args.push("--insecure-skip-signature-check");
    let out = install_sh(&args, &path, &[]);
    out.assert_stderr_contains("WARNING: THE SIGNATURE OF")
        .assert_stderr_contains("WAS NOT CHECKED");
    assert_installed(&release, &dest, &out);
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn install_sh_runs_setup_for_the_registry_given() {
    let release = Release::build(host_target());
    let dest = Dest::new();
    let home = tempfile::tempdir().unwrap();
    let server = FileServer::start(release.dir());
    let pubkey = release.key.public_file();
    let to = dest.bin();
    let mut cmd = Command::new("sh");
    cmd.arg(root().join("scripts/install.sh"))
        .args(["--base-url", &server.url(), "--to"])
        .arg(&to)
        .arg("--pubkey-file")
        .arg(&pubkey)
        .args(["--setup", "--registry", "corp", "--index", INDEX])
        .env_clear()
        .envs(base_env())
        .env("CARGO_HOME", home.path());
    let out = run(cmd, 120, &release.key.secrets());
    assert_installed(&release, &dest, &out);
    assert_corp_set_up(home.path());
}

const INDEX: &str = "sparse+https://registry.corp.example/api/v1/crates/";

/// Fails unless Cargo's config in `cargo_home` has `corp` set up.
fn assert_corp_set_up(cargo_home: &Path) {
    let config = std::fs::read_to_string(cargo_home.join("config.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&config).unwrap();
    let corp = &doc["registries"]["corp"];
    assert_eq!(corp["index"].as_str(), Some(INDEX), "{config}");
    assert_eq!(
        corp["credential-provider"].as_array().unwrap()[0].as_str(),
        Some(NAME),
        "{config}"
    );
}

/// A runner for action.yml's steps with `inputs` set, in `temp`.
fn action_runner(temp: &Path, cargo_home: &Path, inputs: &[(&str, String)]) -> Runner {
    let action = composite::read(&root().join("action.yml"));
    let mut runner = Runner {
        inputs: action.inputs.clone(),
        temp: temp.to_path_buf(),
        env: base_env().into_iter().collect(),
        outputs: Default::default(),
        path: Vec::new(),
        secrets: Vec::new(),
    };
    runner
        .env
        .push(("CARGO_HOME".into(), cargo_home.display().to_string()));
    for (k, v) in inputs {
        assert!(
            runner.inputs.contains_key(*k),
            "action.yml has no input {k}"
        );
        runner.inputs.insert((*k).to_owned(), v.clone());
    }
    runner
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn the_action_installs_puts_on_path_and_sets_up_or_refuses() {
    let action = composite::read(&root().join("action.yml"));
    assert_eq!(action.using, "composite");
    assert_eq!(action.steps.len(), 2, "{action:?}");
    let release = Release::build(host_target());
    let server = FileServer::start(release.dir());
    let temp = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let inputs = [
        ("base-url", server.url()),
        ("pubkey", release.key.public()),
        ("registry", "corp".to_owned()),
        ("index", INDEX.to_owned()),
    ];
    let mut runner = action_runner(temp.path(), home.path(), &inputs);
    runner.secrets = release.key.secrets();
    for step in &action.steps {
        runner.run(step, &root()).assert_success();
    }
    let dir = temp.path().join("cargo-credential-corp/bin");
    assert_eq!(runner.path, vec![dir.display().to_string()]);
    let installed = runner.outputs["install.outputs.path"].clone();
    assert_eq!(Path::new(&installed), dir.join(NAME));
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(release.binary()).unwrap()
    );
    assert_corp_set_up(home.path());

    // A tampered archive: the install step fails, nothing is installed,
    // nothing is put on PATH, and setup is never reached.
    let mut bytes = std::fs::read(release.archive()).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x80;
    std::fs::write(release.archive(), &bytes).unwrap();
    rehash(&release);
    let temp = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut runner = action_runner(temp.path(), home.path(), &inputs);
    let out = runner.run(&action.steps[0], &root());
    assert_refused(&out, "the signature of");
    assert!(runner.path.is_empty());
    assert!(
        !temp
            .path()
            .join("cargo-credential-corp/bin")
            .join(NAME)
            .exists()
    );
    assert!(!home.path().join("config.toml").exists());
}

#[test]
fn action_inputs_are_passed_through_env_never_spliced_into_scripts() {
    // `${{ inputs.x }}` inside a `run` script would be pasted into the
    // script's text before bash reads it: an input could inject commands.
    let action = composite::read(&root().join("action.yml"));
    for step in &action.steps {
        assert!(
            !step.run.contains("${{"),
            "step {:?} splices an expression into its script",
            step.name
        );
    }
}

/// The targets the release workflow builds (its matrix).
fn workflow_targets() -> Vec<String> {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    let targets: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- target: "))
        .map(|t| t.trim().to_owned())
        .collect();
    assert!(targets.len() >= 5, "release.yml's matrix: {targets:?}");
    targets
}

fn cargo_toml() -> toml::Table {
    toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap()
}

/// A cargo-binstall template (`{ name }`, `{ target }`, …) filled in.
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .expect("an unclosed `{` in a template")
            + open;
        let var = rest[open + 1..close].trim();
        let value = vars
            .iter()
            .find(|(k, _)| *k == var)
            .unwrap_or_else(|| panic!("the template variable {var} is not known here"))
            .1;
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The binstall key `key` for `target`: its override, else the default.
fn binstall_key(meta: &toml::Value, target: &str, key: &str) -> String {
    meta.get("overrides")
        .and_then(|o| o.get(target))
        .and_then(|o| o.get(key))
        .or_else(|| meta.get(key))
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("binstall metadata has no {key} for {target}"))
        .to_owned()
}

/// The files in an archive.
fn archive_members(archive: &Path) -> BTreeSet<String> {
    let name = archive.to_str().unwrap();
    let (program, args): (&str, Vec<&str>) = if name.ends_with(".zip") {
        ("unzip", vec!["-Z1", name])
    } else {
        ("tar", vec!["-tzf", name])
    };
    need(program, program);
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = run(cmd, 60, &[]);
    out.assert_success();
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
#[ignore = "e2e: needs minisign; run scripts/test.sh"]
fn binstall_metadata_names_the_archives_the_workflow_makes() {
    need("zip", "zip");
    let manifest = cargo_toml();
    let package = &manifest["package"];
    let meta = &package["metadata"]["binstall"];
    let repo = package["repository"].as_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let fake = out.path().join("binary");
    std::fs::write(&fake, "not a real binary").unwrap();
    let folder = out.path().join("release");
    let mut expected = BTreeSet::new();
    let mut urls = Vec::new();
    for target in workflow_targets() {
        // What the workflow uploads for this target.
        let archive = pack(&target, &fake, &folder);
        let uploaded = archive.file_name().unwrap().to_str().unwrap().to_owned();
        // What cargo-binstall asks for.
        let exe = if target.contains("-windows-") {
            ".exe"
        } else {
            ""
        };
        let vars = [
            ("name", NAME),
            ("version", VERSION),
            ("repo", repo),
            ("target", target.as_str()),
            ("bin", NAME),
            ("binary-ext", exe),
        ];
        let url = render(&binstall_key(meta, &target, "pkg-url"), &vars);
        let prefix = format!("{repo}/releases/download/v{VERSION}/");
        let asked = url
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{url} is not in the GitHub release of v{VERSION}"));
        assert_eq!(asked, uploaded, "binstall's pkg-url for {target}");
        let fmt = binstall_key(meta, &target, "pkg-fmt");
        let fmt_ext = match fmt.as_str() {
            "tgz" => ".tar.gz",
            "zip" => ".zip",
            other => panic!("pkg-fmt {other} is not what the workflow packs"),
        };
        assert!(uploaded.ends_with(fmt_ext), "pkg-fmt {fmt} for {uploaded}");
        let bin_dir = render(&binstall_key(meta, &target, "bin-dir"), &vars);
        let members = archive_members(&archive);
        assert!(
            members.contains(&bin_dir),
            "{uploaded} has no {bin_dir}: {members:?}"
        );
        expected.insert(uploaded.clone());
        expected.insert(format!("{uploaded}.sha256"));
        urls.push(url);
    }
    // The signatures: binstall fetches `{ url }.sig` unless `file` says
    // otherwise; the workflow's signing step writes them.
    let signing = &meta["signing"];
    assert_eq!(signing["algorithm"].as_str(), Some("minisign"));
    assert!(
        signing.get("file").is_none(),
        "signing.file is not rendered here"
    );
    Key::new().sign(&folder);
    for url in &urls {
        expected.insert(format!("{}.sig", url.rsplit('/').next().unwrap()));
    }
    let made: BTreeSet<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(made, expected);
}

#[test]
fn one_release_key_version_repository_and_target_list_everywhere() {
    let manifest = cargo_toml();
    let package = &manifest["package"];
    let key = key_line(&std::fs::read_to_string(root().join("minisign.pub")).unwrap());
    let binstall_key = package["metadata"]["binstall"]["signing"]["pubkey"]
        .as_str()
        .unwrap();
    assert_eq!(
        binstall_key, key,
        "Cargo.toml's binstall pubkey vs minisign.pub"
    );
    let script = std::fs::read_to_string(root().join("scripts/install.sh")).unwrap();
    let var = |name: &str| {
        script
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("install.sh sets no {name}"))
            .trim_matches('"')
            .to_owned()
    };
    assert_eq!(
        var("RELEASE_PUBKEY"),
        key,
        "install.sh's key vs minisign.pub"
    );
    assert_eq!(var("DEFAULT_VERSION"), VERSION);
    assert_eq!(var("REPOSITORY"), package["repository"].as_str().unwrap());
    let targets: Vec<String> = var("TARGETS").split(' ').map(str::to_owned).collect();
    assert_eq!(
        targets,
        workflow_targets(),
        "install.sh's TARGETS vs release.yml"
    );
}

#[test]
fn the_crate_package_holds_the_sources_and_nothing_else() {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args([
        "package",
        "--list",
        "--allow-dirty",
        "--locked",
        "--offline",
    ])
    .current_dir(root());
    let out = run(cmd, 120, &[]);
    out.assert_success();
    let listed: BTreeSet<&str> = out.stdout.lines().collect();
    let top = [
        ".cargo_vcs_info.json",
        "Cargo.lock",
        "Cargo.toml",
        "Cargo.toml.orig",
        "LICENSE",
        "LICENSE-APACHE",
        "LICENSE-MIT",
        "README.md",
    ];
    for file in &listed {
        assert!(
            top.contains(file) || (file.starts_with("src/") && file.ends_with(".rs")),
            "`cargo package` ships {file}, which the build does not need"
        );
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        assert!(listed.contains(needed), "`cargo package` lacks {needed}");
    }
    // Every source file the build compiles.
    let sources = crate::util::leak::files_below(&root().join("src"), &|_| false);
    assert!(sources.len() > 20);
    for source in sources {
        let rel = source
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if rel.ends_with(".rs") {
            assert!(listed.contains(rel.as_str()), "`cargo package` lacks {rel}");
        }
    }
}
