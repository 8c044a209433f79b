//! Running a child program with a deadline, such as the one that prints
//! the CI identity (`identity-command`, `buildkite-agent oidc request-token`).
//!
//! - **Bounded.** Everything, the reading of its output included, ends by
//!   `timeout-ms`: the output is received over a channel with a deadline, so
//!   a process that keeps the pipe open cannot hold the provider.
//! - **No stragglers.** On Unix the program runs in a process group of its
//!   own; the whole group is killed on timeout, and also once the program
//!   has exited, so nothing it left in the background keeps running or
//!   holds a pipe. (Only a process that left the group on purpose, with
//!   `setsid`, escapes; it then cannot delay the answer either.)
//! - **None of the provider's secrets in its environment.** It does not get
//!   `CARGO_REGISTRY_TOKEN`, any `CARGO_REGISTRIES_<NAME>_TOKEN`, the
//!   registry's configured token variables (`env = [...]`) or the client
//!   secret variable (`client-secret-env`).
//! - **Its standard error is not passed through** to Cargo's output. It is
//!   captured (the last 4 KiB); on failure, the error shows the last three
//!   lines, at most 300 characters, with control characters removed and
//!   anything token-shaped replaced by `[redacted]` ([`crate::redact`]: the
//!   secrets in use, JWT-like strings, long random-looking runs). Run the
//!   command yourself to see all it printed.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use zeroize::Zeroizing;

use crate::secret::Token;

/// The largest identity a program may print.
const MAX_OUTPUT: usize = 64 * 1024;
/// How much of the end of its standard error is kept.
const KEPT_STDERR: usize = 4 * 1024;
/// The longest excerpt of standard error shown.
const MAX_EXCERPT: usize = 300;

/// How identity programs are run for one request.
pub struct Runner {
    timeout: Duration,
    unset: Vec<OsString>,
    redact: Vec<Token>,
}

/// Whether an environment variable holds a token this provider serves or
/// uses: Cargo's own token variables.
fn cargo_token_var(name: &str) -> bool {
    name == "CARGO_REGISTRY_TOKEN"
        || name
            .strip_prefix("CARGO_REGISTRIES_")
            .is_some_and(|rest| rest.len() > "_TOKEN".len() && rest.ends_with("_TOKEN"))
}

impl Runner {
    /// A runner with deadline `timeout` whose programs do not inherit
    /// Cargo's token variables nor the variables named in `secret_vars`, and
    /// whose error excerpts never show their values nor those of `secrets`.
    pub fn new(timeout: Duration, secret_vars: &[&str], secrets: &[&Token]) -> Runner {
        let mut unset: Vec<OsString> = secret_vars.iter().map(OsString::from).collect();
        unset.push("CARGO_REGISTRY_TOKEN".into());
        unset.extend(
            std::env::vars_os()
                .map(|(name, _)| name)
                .filter(|name| name.to_str().is_some_and(cargo_token_var)),
        );
        unset.sort();
        unset.dedup();
        let mut redact: Vec<Token> = secrets.iter().map(|t| (*t).clone()).collect();
        redact.extend(
            unset
                .iter()
                .filter_map(std::env::var_os)
                .filter_map(|v| v.into_string().ok())
                .map(Token::new),
        );
        Runner {
            timeout,
            unset,
            redact,
        }
    }

    /// The deadline of one program.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `argv`; its trimmed standard output is the identity.
    pub fn run(&self, argv: &[String]) -> anyhow::Result<Token> {
        let Some(program) = argv.first() else {
            bail!("the identity command is empty");
        };
        let shown = program.as_str();
        let mut cmd = Command::new(program);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in &self.unset {
            cmd.env_remove(name);
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let deadline = Instant::now() + self.timeout;
        let mut group = Group {
            child: cmd
                .spawn()
                .with_context(|| format!("cannot run `{shown}` for the CI identity token"))?,
            reaped: false,
        };
        let stdout = read_head(group.child.stdout.take().expect("piped"), MAX_OUTPUT);
        let stderr = read_tail(group.child.stderr.take().expect("piped"), KEPT_STDERR);
        let status = loop {
            if let Some(status) = group.child.try_wait()? {
                group.reaped = true;
                break status;
            }
            if Instant::now() >= deadline {
                group.stop();
                bail!(
                    "`{shown}` did not print an identity token within {} ms; it was stopped, with \
                     everything it started{}",
                    self.timeout.as_millis(),
                    self.excerpt(&stderr, None)
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        // Whatever it left running in the background goes too.
        group.kill_group();
        // The group is gone, so the pipe is at its end: what it holds is read
        // at once (a short grace if the program exited right at the deadline).
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let output = match stdout.recv_timeout(wait) {
            Ok(output) => output,
            Err(RecvTimeoutError::Timeout) => bail!(
                "`{shown}` exited, but its standard output was still held open {} ms after it \
                 started (by a process that left its process group); nothing was read",
                self.timeout.as_millis()
            ),
            Err(RecvTimeoutError::Disconnected) => bail!("cannot read the output of `{shown}`"),
        };
        self.identity(shown, status, output, &stderr)
    }

    fn identity(
        &self,
        shown: &str,
        status: ExitStatus,
        output: Output,
        stderr: &Receiver<Vec<u8>>,
    ) -> anyhow::Result<Token> {
        let Output { bytes, overflow } = output;
        if overflow {
            bail!("`{shown}` printed more than {} KiB", MAX_OUTPUT / 1024);
        }
        let text = Zeroizing::new(
            String::from_utf8(bytes.to_vec())
                .map_err(|_| anyhow!("the output of `{shown}` is not UTF-8"))?,
        );
        let printed = text.trim_end_matches(['\n', '\r']);
        if !status.success() {
            bail!(
                "`{shown}` failed ({status}) instead of printing an identity token{}",
                self.excerpt(stderr, Some(printed))
            );
        }
        Token::parse(printed.to_owned(), &format!("the output of `{shown}`"))?.ok_or_else(|| {
            anyhow!(
                "`{shown}` printed no identity token{}",
                self.excerpt(stderr, None)
            )
        })
    }

    /// `; its standard error ended with: "…"`, cleaned, or nothing.
    fn excerpt(&self, stderr: &Receiver<Vec<u8>>, printed: Option<&str>) -> String {
        // The group is gone: the pipe closes at once, unless a process that
        // left the group holds it.
        let Ok(bytes) = stderr.recv_timeout(Duration::from_millis(200)) else {
            return String::new();
        };
        let echoes: Vec<_> = self.redact.iter().flat_map(Token::echoes).collect();
        let mut secrets: Vec<&str> = echoes.iter().map(|s| s.as_str()).collect();
        secrets.extend(printed);
        match clean(&String::from_utf8_lossy(&bytes), &secrets) {
            Some(text) => format!("; its standard error ended with: \"{text}\""),
            None => String::new(),
        }
    }
}

/// The child and its process group, stopped when dropped unless reaped.
struct Group {
    child: Child,
    reaped: bool,
}

impl Group {
    /// Kills the whole process group (on Unix). After the leader is reaped
    /// its id stays reserved as long as any member lives, so this never
    /// reaches an unrelated process group.
    fn kill_group(&self) {
        #[cfg(unix)]
        if let Some(pid) = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }

    /// Kills the group and the child, and reaps the child.
    fn stop(&mut self) {
        if !self.reaped {
            self.kill_group();
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a program printed on standard output.
struct Output {
    bytes: Zeroizing<Vec<u8>>,
    overflow: bool,
}

/// Reads up to `limit` bytes on a thread; more is an overflow (and reading
/// stops, so a program printing without end gets a broken pipe).
fn read_head(mut pipe: impl Read + Send + 'static, limit: usize) -> Receiver<Output> {
    let (tx, rx) = mpsc::sync_channel(1);
    thread::spawn(move || {
        let mut bytes = Zeroizing::new(Vec::new());
        let result = (&mut pipe).take(limit as u64 + 1).read_to_end(&mut bytes);
        let overflow = bytes.len() > limit;
        if result.is_ok() || overflow {
            let _ = tx.send(Output { bytes, overflow });
        }
    });
    rx
}

/// Reads to the end on a thread, keeping the last `keep` bytes.
fn read_tail(mut pipe: impl Read + Send + 'static, keep: usize) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::sync_channel(1);
    thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * keep {
                kept.drain(..kept.len() - keep);
            }
        }
        if kept.len() > keep {
            kept.drain(..kept.len() - keep);
        }
        let _ = tx.send(kept);
    });
    rx
}

/// The last lines of `text`, cleaned for an error message: `secrets` and
/// anything token-shaped redacted, control characters removed, at most
/// [`MAX_EXCERPT`] characters. `None` when nothing is left.
pub fn clean(text: &str, secrets: &[&str]) -> Option<String> {
    let secrets: Vec<&str> = secrets.iter().map(|s| s.trim()).collect();
    let text = crate::redact::redact(text, &secrets);
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line: String = line
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            line.trim().to_owned()
        })
        .filter(|line| !line.is_empty())
        .collect();
    let last = lines[lines.len().saturating_sub(3)..].join(" | ");
    if last.is_empty() {
        return None;
    }
    let mut chars = last.chars();
    let mut shown: String = chars.by_ref().take(MAX_EXCERPT).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(timeout_ms: u64) -> Runner {
        Runner::new(Duration::from_millis(timeout_ms), &[], &[])
    }

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn cargo_token_variables_are_recognised() {
        for yes in ["CARGO_REGISTRY_TOKEN", "CARGO_REGISTRIES_MY_REG_TOKEN"] {
            assert!(cargo_token_var(yes), "{yes}");
        }
        for no in [
            "CARGO_REGISTRIES_TOKEN",
            "CARGO_REGISTRIES__TOKEN",
            "CARGO_REGISTRIES_X_INDEX",
            "CARGO_HOME",
            "CARGO_CREDENTIAL_CORP_CACHE_DIR",
        ] {
            assert!(!cargo_token_var(no), "{no}");
        }
    }

    #[test]
    fn the_output_is_the_identity() {
        let token = runner(5000).run(&sh("printf 'id-value\\r\\n'")).unwrap();
        assert_eq!(token.expose(), "id-value");
        let msg = runner(5000).run(&sh("true")).unwrap_err().to_string();
        assert!(msg.contains("printed no identity token"), "{msg}");
        let msg = runner(5000)
            .run(&sh("head -c 70000 /dev/zero | tr '\\0' x"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("more than 64 KiB"), "{msg}");
        let msg = runner(5000)
            .run(&["/nonexistent/identity-program".into()])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("cannot run"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn a_background_child_neither_delays_nor_survives() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let start = Instant::now();
        let token = runner(3000)
            .run(&sh(&format!(
                "sleep 30 & echo $! > '{}'; echo id-value",
                pid_file.display()
            )))
            .unwrap();
        assert_eq!(token.expose(), "id-value");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep")) {
            assert!(Instant::now() < deadline, "the background sleep survived");
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_that_left_the_group_cannot_hold_the_answer() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let start = Instant::now();
        let msg = runner(500)
            .run(&sh(&format!(
                "setsid sleep 30 & echo $! > '{}'; sleep 0.2; echo id-value",
                pid_file.display()
            )))
            .unwrap_err()
            .to_string();
        let took = start.elapsed();
        // It escaped the group on purpose: this test stops it.
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid.trim()])
                .status();
        }
        assert!(msg.contains("still held open"), "{msg}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn a_program_that_hangs_is_stopped_at_the_deadline() {
        let start = Instant::now();
        let msg = runner(300)
            .run(&sh(
                "echo 'waiting for eyJhbGciOi.eyJzdWIi.c2ln' >&2; sleep 30 & wait",
            ))
            .unwrap_err()
            .to_string();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert!(msg.contains("within 300 ms"), "{msg}");
        assert!(msg.contains("waiting for [redacted]"), "{msg}");
    }

    #[test]
    fn failures_show_a_cleaned_excerpt() {
        let secret = Token::new("client-secret-Rk44".into());
        let r = Runner::new(Duration::from_secs(5), &[], &[&secret]);
        let msg = r
            .run(&sh("echo one >&2; echo two >&2; echo three >&2; \
                 printf 'bad secret client-secret-Rk44 \\033[31mred\\033[0m at idp.example.com, \
                 session 0123456789abcdef0123456789abcdef\\n' >&2; echo partial-id; exit 3"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(
            msg.contains(
                "\"two | three | bad secret [redacted]  [31mred [0m at idp.example.com, session \
                 [redacted]\""
            ),
            "{msg}"
        );
        assert!(!msg.contains("one |"), "{msg}");
    }

    #[test]
    fn clean_redacts_token_shaped_words() {
        let text =
            "a eyJ.x.y b AKIAABCDEFGHIJKLMNOPQR c /usr/lib/x86_64-linux-gnu/libfoo.so d short-word";
        assert_eq!(
            clean(text, &[]).unwrap(),
            "a [redacted] b [redacted] c /usr/lib/x86_64-linux-gnu/libfoo.so d short-word"
        );
        assert_eq!(clean("\n \n", &[]), None);
        let long = "word ".repeat(100);
        let shown = clean(&long, &[]).unwrap();
        assert_eq!(shown.chars().count(), MAX_EXCERPT + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn the_environment_is_scrubbed() {
        let r = Runner::new(Duration::from_secs(5), &["SOME_SECRET_VAR"], &[]);
        assert!(r.unset.contains(&OsString::from("SOME_SECRET_VAR")));
        assert!(r.unset.contains(&OsString::from("CARGO_REGISTRY_TOKEN")));
    }
}
