//! The CI identity from a program (`identity-command`) or a file
//! (`identity-file`): bounded by `timeout-ms` whatever the program or file
//! does, every process the program started stopped, none of the provider's
//! secrets in its environment, and its standard error never passed through.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::Provider;
use crate::util::fake::{Behavior, Fake};

const ISSUED: &str = r#"{"access_token":"issued-token-Kq27","expires_in":300}"#;
const IDENTITY: &str = "ci-identity-Q7zv";
const REQUEST: &str = r#"{"v":1,"registry":{"index-url":"sparse+http://127.0.0.1:1/api/v1/crates/","name":"corp"},"kind":"get","operation":"read"}"#;

/// A provider exchanging what `identity` (TOML keys) yields at `token`,
/// with a 1 s deadline and no cache. `registry` is added to `[registries.corp]`.
fn provider(token: &Fake, registry: &str, identity: &str) -> Provider {
    let mut p = Provider::new();
    p.user_config(&format!(
        "[registries.corp]\nsources = [\"oidc\"]\n{registry}\n[registries.corp.oidc]\n\
         token-endpoint = {:?}\nclient-id = \"c\"\ntimeout-ms = 1000\ncache = \"off\"\n{identity}",
        token.url("/token")
    ))
    .secret(IDENTITY)
    .secret("eyJ");
    p
}

/// Settings running `script`, written to a new file in `dir`: outside the
/// provider's folder, since it may hold what the test checks is never shown.
fn command(dir: &Path, script: &str) -> String {
    let path = dir.join(format!("identity-{}.sh", dir.read_dir().unwrap().count()));
    std::fs::write(&path, script).unwrap();
    format!(
        "identity = \"command\"\nidentity-command = [\"sh\", {:?}]\n",
        path.display().to_string()
    )
}

/// Runs one request, timing all of it: the harness's `elapsed` stops when the
/// provider exits, not when everything holding its output is gone.
fn timed(p: &Provider) -> (crate::util::Output, Duration) {
    let start = Instant::now();
    let out = p.request(REQUEST);
    (out, start.elapsed())
}

fn reply(out: &crate::util::Output) -> serde_json::Value {
    serde_json::from_str(out.reply()).unwrap_or_else(|_| panic!("{}", out.describe()))
}

/// A `sleep` a test command starts in the background, which writes its pid
/// to a file. Killed on drop if it is still running, so that a failing test
/// leaves nothing behind either.
struct Straggler(PathBuf);

impl Straggler {
    fn new(dir: &Path) -> Straggler {
        Straggler(dir.join("straggler.pid"))
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.0).ok()?.trim().parse().ok()
    }

    /// Whether the process is a live `sleep` (a zombie has no command line).
    fn alive(pid: u32) -> bool {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep"))
    }

    fn assert_gone(&self) {
        let pid = self
            .pid()
            .expect("the command wrote its background child's pid");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Self::alive(pid) {
            assert!(
                Instant::now() < deadline,
                "the background `sleep` (pid {pid}) the identity command started is still running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Straggler {
    fn drop(&mut self) {
        if let Some(pid) = self.pid().filter(|p| Self::alive(*p)) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn a_background_child_holding_the_output_neither_delays_the_answer_nor_survives() {
    let dir = tempfile::tempdir().unwrap();
    let straggler = Straggler::new(dir.path());
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let script = format!(
        "sleep 30 & echo $! > '{}'; echo {IDENTITY}",
        straggler.0.display()
    );
    let (out, took) = timed(&provider(&token, "", &command(dir.path(), &script)));
    assert_eq!(
        reply(&out)["Ok"]["token"],
        "issued-token-Kq27",
        "{}",
        out.describe()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    straggler.assert_gone();
    assert!(
        token
            .last_request()
            .contains(&format!("subject_token={IDENTITY}"))
    );
}

#[test]
fn a_command_that_never_answers_is_stopped_with_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let straggler = Straggler::new(dir.path());
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let script = format!("sleep 30 & echo $! > '{}'; wait", straggler.0.display());
    let (out, took) = timed(&provider(&token, "", &command(dir.path(), &script)));
    let v = reply(&out);
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    assert!(
        v["Err"].to_string().contains("within 1000 ms"),
        "{}",
        out.describe()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    straggler.assert_gone();
    assert_eq!(token.hits(), 0);
}

#[test]
fn the_command_gets_none_of_the_providers_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let names = dir.path().join("names");
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let script = format!("env | cut -d= -f1 > '{}'; echo {IDENTITY}", names.display());
    let mut p = provider(
        &token,
        "env = [\"ACME_TOKEN\"]\n",
        &format!(
            "client-auth = \"client-secret-post\"\nclient-secret-env = \"CORP_SECRET\"\n{}",
            command(dir.path(), &script)
        ),
    );
    let secrets = [
        ("CARGO_REGISTRY_TOKEN", "crates-io-token-Vb58"),
        ("CARGO_REGISTRIES_CORP_TOKEN", "corp-token-Hn02"),
        ("CARGO_REGISTRIES_OTHER_REG_TOKEN", "other-token-Xw39"),
        ("ACME_TOKEN", "acme-token-Ud71"),
        ("CORP_SECRET", "client-secret-Rk44"),
    ];
    for (name, value) in secrets {
        p.env(name, value).secret(value);
    }
    p.env("HARMLESS_SETTING", "kept");
    let out = p.request(REQUEST);
    assert_eq!(
        reply(&out)["Ok"]["token"],
        "issued-token-Kq27",
        "{}",
        out.describe()
    );
    let seen = std::fs::read_to_string(&names).unwrap();
    let seen: Vec<&str> = seen.lines().collect();
    for (name, _) in secrets {
        assert!(!seen.contains(&name), "{name} reached the identity command");
    }
    for kept in [
        "HARMLESS_SETTING",
        "PATH",
        "CARGO_CREDENTIAL_CORP_CACHE_DIR",
    ] {
        assert!(seen.contains(&kept), "{kept} was removed: {seen:?}");
    }
}

#[test]
fn the_commands_standard_error_is_never_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    // Success: its chatter is not Cargo's business.
    let script = format!("echo progress-chatter-Lp3 >&2; echo {IDENTITY}");
    let mut p = provider(&token, "", &command(dir.path(), &script));
    p.secret("progress-chatter-Lp3");
    let out = p.request(REQUEST);
    assert_eq!(
        reply(&out)["Ok"]["token"],
        "issued-token-Kq27",
        "{}",
        out.describe()
    );

    // Failure: a short, cleaned excerpt, with what looks like a token and
    // the secrets in use redacted.
    let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl";
    let hex = "0123456789abcdef0123456789abcdef01234567";
    let script = format!(
        "echo 'first line of noise' >&2; \
         echo 'login failed for svc-ci: secret client-secret-Rk44 refused (id {jwt}, \
         session {hex})' >&2; exit 4"
    );
    let mut p = provider(
        &token,
        "",
        &format!(
            "client-auth = \"client-secret-post\"\nclient-secret-env = \"CORP_SECRET\"\n{}",
            command(dir.path(), &script)
        ),
    );
    p.env("CORP_SECRET", "client-secret-Rk44")
        .secret("client-secret-Rk44")
        .secret(hex);
    let out = p.request(REQUEST);
    let v = reply(&out);
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    let message = v["Err"].to_string();
    for needle in ["login failed for svc-ci", "[redacted]", "exit status: 4"] {
        assert!(message.contains(needle), "{needle}: {}", out.describe());
    }
    assert_eq!(token.hits(), 1, "only the successful run exchanged");
}

#[test]
fn an_identity_file_that_is_a_fifo_fails_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("token");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let token = Fake::start(Behavior::Json(200, ISSUED.into()));
    let file = |path: &Path| format!("identity = \"file\"\nidentity-file = {path:?}\n");
    let (out, took) = timed(&provider(&token, "", &file(&fifo)));
    let v = reply(&out);
    assert_eq!(v["Err"]["kind"], "other", "{}", out.describe());
    assert!(
        v["Err"].to_string().contains("not a regular file"),
        "{}",
        out.describe()
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // Kubernetes projected tokens: a symlink into `..data`, to a regular file.
    let data = dir.path().join("..data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("token"), format!("{IDENTITY}\n")).unwrap();
    let link = dir.path().join("projected");
    std::os::unix::fs::symlink(data.join("token"), &link).unwrap();
    let out = provider(&token, "", &file(&link)).request(REQUEST);
    assert_eq!(
        reply(&out)["Ok"]["token"],
        "issued-token-Kq27",
        "{}",
        out.describe()
    );
}
