//! `cargo-credential-corp setup`: Cargo's config edited in place, comments
//! and layout kept, idempotent, nothing written on a dry run or on an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::util::{Output, process, provider_bin, provider_env};

/// A `CARGO_HOME` and a project folder (the current directory of the runs),
/// each in its own temporary folder, and the provider's environment.
pub struct CargoHome {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
    _provider: tempfile::TempDir,
    env: HashMap<String, String>,
    secrets: Vec<String>,
}

impl CargoHome {
    /// Empty folders; no keychain (the harness's `NO_BUS`).
    pub fn new() -> Self {
        let provider = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut env = provider_env(provider.path(), "");
        env.insert("CARGO_HOME".into(), home.path().display().to_string());
        CargoHome {
            home,
            project: tempfile::tempdir().unwrap(),
            _provider: provider,
            env,
            secrets: Vec::new(),
        }
    }

    /// Sets an environment variable for the provider.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Declares a secret that must never appear in the output.
    pub fn secret(&mut self, value: &str) -> &mut Self {
        self.secrets.push(value.into());
        self
    }

    /// `$CARGO_HOME`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `$CARGO_HOME/config.toml`.
    pub fn global(&self) -> PathBuf {
        self.home.path().join("config.toml")
    }

    /// `.cargo/config.toml` of the project folder.
    pub fn project(&self) -> PathBuf {
        self.project.path().join(".cargo").join("config.toml")
    }

    /// Runs the provider with `args` in the project folder, within 60 s,
    /// and applies the leak rule to its output.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(provider_bin());
        cmd.args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(self.project.path());
        let out = process::run(cmd, None, Duration::from_secs(60));
        out.assert_free_of(&self.secrets);
        out
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

const GLOBAL: &str = "\
# My Cargo settings.
[net]
retry = 3   # flaky VPN

[registry]
default = \"corp\"   # publish here by default

# The company registry.
[registries.corp]
index = \"sparse+https://corp.example/index/\"

[alias]
b = \"build\"
";

const LINE: &str = "global-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]\n";

#[test]
fn setup_adds_the_provider_and_keeps_everything_else_byte_for_byte() {
    let c = CargoHome::new();
    crate::util::write(&c.global(), GLOBAL);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(c.global(), std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = c.run(&["setup"]);
    out.assert_success();
    let want = GLOBAL.replace(
        "default = \"corp\"   # publish here by default\n",
        &format!("default = \"corp\"   # publish here by default\n{LINE}"),
    );
    assert_eq!(read(&c.global()), want);
    let path = c.global().display().to_string();
    assert!(
        out.stdout
            .contains(&format!("--- {path}\n+++ {path}\n@@ -4,6 +4,7 @@\n"))
            && out.stdout.contains(&format!("\n+{LINE}"))
            && out.stdout.contains(&format!("wrote {path}")),
        "{}",
        out.describe()
    );
    assert_eq!(out.stderr, "", "nothing overrides it");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(c.global()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "the file's permissions are kept");
    }
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(c.home())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.toml"]);
}

#[test]
fn setup_twice_changes_nothing_and_says_so() {
    let c = CargoHome::new();
    crate::util::write(&c.global(), GLOBAL);
    c.run(&["setup"]).assert_success();
    let once = read(&c.global());
    let out = c.run(&["setup"]);
    out.assert_success();
    assert_eq!(read(&c.global()), once);
    assert!(out.stdout.contains("nothing changed"), "{}", out.describe());
    assert!(!out.stdout.contains("@@"), "{}", out.describe());

    // The same for one registry.
    let args = [
        "setup",
        "--registry",
        "corp",
        "--index",
        "sparse+https://corp.example/index/",
    ];
    let out = c.run(&args);
    out.assert_success();
    let twice = read(&c.global());
    assert_eq!(
        twice,
        once.replace(
            "index = \"sparse+https://corp.example/index/\"\n",
            "index = \"sparse+https://corp.example/index/\"\ncredential-provider = [\"cargo-credential-corp\"]\n"
        )
    );
    let out = c.run(&args);
    out.assert_success();
    assert!(out.stdout.contains("nothing changed"), "{}", out.describe());
    assert_eq!(read(&c.global()), twice);
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let c = CargoHome::new();
    // No file yet: it is not created.
    let out = c.run(&["setup", "--dry-run"]);
    out.assert_success();
    assert!(
        out.stdout
            .starts_with(&format!("--- /dev/null\n+++ {}\n", c.global().display())),
        "{}",
        out.describe()
    );
    assert!(out.stdout.contains("+[registry]\n") && out.stdout.contains("dry run"));
    assert!(!c.global().exists());
    // An existing file is left as it was.
    crate::util::write(&c.global(), GLOBAL);
    let out = c.run(&[
        "setup",
        "--dry-run",
        "--registry",
        "other",
        "--index",
        "https://git.example/index",
    ]);
    out.assert_success();
    assert!(
        out.stdout.contains("+[registries.other]\n")
            && out
                .stdout
                .contains("+credential-provider = [\"cargo-credential-corp\"]\n"),
        "{}",
        out.describe()
    );
    assert_eq!(read(&c.global()), GLOBAL);
}

#[test]
fn project_edits_the_project_config_only() {
    let c = CargoHome::new();
    crate::util::write(&c.global(), GLOBAL);
    let out = c.run(&["setup", "--project"]);
    out.assert_success();
    assert_eq!(read(&c.project()), format!("[registry]\n{LINE}"));
    assert_eq!(read(&c.global()), GLOBAL);
    let out = c.run(&["setup", "--project", "--global"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.describe());
}

#[test]
fn a_credential_provider_set_elsewhere_is_warned_about() {
    let c = CargoHome::new();
    crate::util::write(
        &c.global(),
        "[registries.corp]\nindex = \"sparse+https://corp.example/index/\"\ncredential-provider = \"cargo:token\"\n",
    );
    crate::util::write(
        &c.project(),
        "[registries.vendor]\nindex = \"sparse+https://vendor.example/\"\ncredential-provider = [\"cargo:libsecret\"]\n",
    );
    let out = c.run(&["setup"]);
    out.assert_success();
    for (file, table, program) in [
        (c.global(), "[registries.corp]", "cargo:token"),
        (c.project(), "[registries.vendor]", "cargo:libsecret"),
    ] {
        let needle = format!(
            "warning: {} sets {table} credential-provider = `{program}`: Cargo will not ask \
             cargo-credential-corp",
            file.display()
        );
        assert!(out.stderr.contains(&needle), "{needle}\n{}", out.describe());
    }
    assert!(
        out.stderr.contains(
            "a registry's own `credential-provider` overrides [registry] \
             global-credential-providers"
        ),
        "{}",
        out.describe()
    );

    // A registry's provider set in the project config wins over the global one.
    let out = c.run(&[
        "setup",
        "--registry",
        "vendor",
        "--index",
        "sparse+https://vendor.example/",
    ]);
    out.assert_success();
    out.assert_stderr_contains(&format!(
        "warning: {} sets [registries.vendor] credential-provider = `cargo:libsecret` and \
             takes precedence over {}",
        c.project().display(),
        c.global().display()
    ));

    // And one from the environment.
    let mut c = CargoHome::new();
    c.env("CARGO_REGISTRY_CREDENTIAL_PROVIDER", "cargo:token");
    let out = c.run(&["setup"]);
    out.assert_success();
    out.assert_stderr_contains("CARGO_REGISTRY_CREDENTIAL_PROVIDER");
}

#[test]
fn invalid_toml_is_refused_and_left_untouched() {
    let c = CargoHome::new();
    let broken = "[net]\nretry = 3\n[registry\ndefault = \"corp\"\n";
    crate::util::write(&c.global(), broken);
    let out = c.run(&["setup"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains(&c.global().display().to_string())
            && out.stderr.contains("is not valid TOML at line 3"),
        "{}",
        out.describe()
    );
    assert_eq!(out.stdout, "");
    assert_eq!(read(&c.global()), broken);
}

#[test]
fn another_index_under_the_same_name_is_refused() {
    let c = CargoHome::new();
    crate::util::write(&c.global(), GLOBAL);
    let out = c.run(&[
        "setup",
        "--registry",
        "corp",
        "--index",
        "sparse+https://elsewhere.example/",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out.describe());
    assert!(
        out.stderr.contains(
            "[registries.corp] in {} already has index = \"sparse+https://corp.example/index/\""
                .replace("{}", &c.global().display().to_string())
                .as_str()
        ) && out.stderr.contains("Nothing was changed"),
        "{}",
        out.describe()
    );
    assert_eq!(read(&c.global()), GLOBAL);
    // --registry and --index go together.
    let out = c.run(&["setup", "--registry", "corp"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.describe());
}

#[test]
fn system_binds_a_registry_name_to_its_index_in_the_providers_system_file() {
    let p = crate::util::Provider::new();
    let system = p.dir().join("system.toml");
    let index = "sparse+https://registry.corp.example/api/v1/crates/";
    let args = ["setup", "--system", "--registry", "corp", "--index", index];
    let out = p.run(
        &[
            "setup",
            "--system",
            "--registry",
            "corp",
            "--index",
            index,
            "--dry-run",
        ],
        "",
    );
    out.assert_success();
    assert!(!system.exists(), "--dry-run wrote the file");
    let out = p.run(&args, "");
    out.assert_success();
    assert!(out.stdout.contains("+index = "), "{}", out.stdout);
    let text = std::fs::read_to_string(&system).unwrap();
    assert_eq!(text, format!("[registries.corp]\nindex = {index:?}\n"));
    // The provider reads it: the name is bound to that index.
    let out = p.run(&["config", "--registry", "corp"], "");
    out.assert_success();
    assert!(out.stdout.contains(index), "{}", out.stdout);
    // Idempotent, and another index is refused.
    let out = p.run(&args, "");
    assert!(out.stdout.contains("nothing changed"), "{}", out.stdout);
    let out = p.run(
        &[
            "setup",
            "--system",
            "--registry",
            "corp",
            "--index",
            "sparse+https://evil.example/",
        ],
        "",
    );
    out.assert_failure();
    out.assert_stderr_contains("refusing");
    assert_eq!(std::fs::read_to_string(&system).unwrap(), text);
}

#[test]
fn the_diff_shows_hostile_characters_escaped() {
    let c = CargoHome::new();
    // TOML allows C1 controls, bidi and zero-width characters in comments
    // and strings: a CSI (U+009B) clears some terminals.
    crate::util::write(
        &c.global(),
        "[registry]\n# \u{9b}2J\u{202e} evil\u{200b}\ndefault = \"c\u{2067}orp\"\n",
    );
    let out = c.run(&["setup", "--dry-run"]);
    out.assert_success();
    crate::doctor::assert_tame(&out.stdout);
    out.assert_stdout_contains(" # \\u{9b}2J\\u{202e} evil\\u{200b}\n");
}

#[test]
fn the_diff_hides_a_proxy_password_and_env_values() {
    let mut c = CargoHome::new();
    c.secret("proxy-pass-Qx7").secret("env-secret-2-Lk8");
    crate::util::write(
        &c.global(),
        "[http]\nproxy = \"http://alice:proxy-pass-Qx7@proxy.example:3128\"\n[env]\n\
         B = { value = \"env-secret-2-Lk8\", force = true }\n",
    );
    let out = c.run(&[
        "setup",
        "--dry-run",
        "--registry",
        "corp",
        "--index",
        "sparse+https://corp.example/index/",
    ]);
    out.assert_success();
    out.assert_stdout_contains(" proxy = \"http://***@proxy.example:3128\"\n");
    out.assert_stdout_contains(" B = [redacted]\n");
}

#[test]
fn sixteen_setups_at_once_keep_every_edit() {
    let c = CargoHome::new();
    crate::util::write(&c.global(), GLOBAL);
    let outs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..16)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    c.run(&[
                        "setup",
                        "--registry",
                        &format!("r{i}"),
                        "--index",
                        &format!("sparse+https://r{i}.example/index/"),
                    ])
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outs {
        out.assert_success();
    }
    let text = read(&c.global());
    let missing: Vec<usize> = (0..16)
        .filter(|i| !text.contains(&format!("index = \"sparse+https://r{i}.example/index/\"")))
        .collect();
    assert!(missing.is_empty(), "lost: {missing:?}\n{text}");
    assert!(
        text.starts_with("# My Cargo settings.\n") && text.contains("[alias]\nb = \"build\"\n"),
        "{text}"
    );
    // Nothing is left next to it (no lock file, no temporary file).
    let names: Vec<_> = std::fs::read_dir(c.home())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["config.toml"]);
}

#[cfg(unix)]
#[test]
fn system_creates_its_folder_and_file_readable_by_all_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let system = dir
        .path()
        .join("etc")
        .join("cargo-credential-corp")
        .join("config.toml");
    let mut env = provider_env(dir.path(), "");
    env.insert(
        "CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG".into(),
        system.display().to_string(),
    );
    let index = "sparse+https://registry.corp.example/api/v1/crates/";
    // A root shell with umask 002 (group-writable by default).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 002; exec \"$0\" \"$@\""])
        .arg(provider_bin())
        .args(["setup", "--system", "--registry", "corp", "--index", index])
        .env_clear()
        .envs(&env)
        .current_dir(dir.path());
    let out = process::run(cmd, None, Duration::from_secs(20));
    out.assert_success();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let folder = system.parent().unwrap();
    assert_eq!(
        (mode(folder.parent().unwrap()), mode(folder), mode(&system)),
        (0o755, 0o755, 0o644),
        "{}",
        out.describe()
    );
    // Every user's provider reads it.
    let mut cmd = Command::new(provider_bin());
    cmd.args(["config", "--registry", "corp"])
        .env_clear()
        .envs(&env)
        .current_dir(dir.path());
    let out = process::run(cmd, None, Duration::from_secs(20));
    out.assert_success();
    out.assert_stdout_contains(index);
}
