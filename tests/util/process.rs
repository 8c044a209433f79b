//! Running a child process with a deadline and capturing its output.

use std::io::Write as _;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What a finished child printed.
#[derive(Debug)]
pub struct Output {
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
    /// How long the child ran.
    pub elapsed: Duration,
    /// What was run, for failure messages.
    pub what: String,
}

impl Output {
    /// The leak rule on both streams: panics (without printing the secret)
    /// if a secret or a JWT appears in the output.
    pub fn assert_free_of(&self, secrets: &[String]) {
        for (stream, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            super::leak::check_text(
                &format!("the {stream} of `{}`", self.what),
                text.as_bytes(),
                secrets,
            );
        }
    }

    /// Like [`Self::assert_free_of`], except for the provider's `get` replies
    /// on stdout, whose job is to carry the token to Cargo.
    pub fn assert_free_of_except_replies(&self, secrets: &[String]) {
        let visible = Output {
            stdout: self
                .stdout
                .lines()
                .filter(|l| !l.starts_with(r#"{"Ok":{"kind":"get","token":"#))
                .collect::<Vec<_>>()
                .join("\n"),
            stderr: self.stderr.clone(),
            status: self.status,
            elapsed: self.elapsed,
            what: self.what.clone(),
        };
        visible.assert_free_of(secrets);
    }

    /// Panics with the output unless the child exited 0.
    /// Fails (showing the output, tokens redacted) unless standard error
    /// contains `needle`.
    pub fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "`{}`: stderr lacks {needle:?}:\n{}",
            self.what,
            self.describe()
        );
        self
    }

    /// Fails (showing the output, tokens redacted) unless standard output
    /// contains `needle`.
    pub fn assert_stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "`{}`: stdout lacks {needle:?}:\n{}",
            self.what,
            self.describe()
        );
        self
    }

    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "`{}` failed:\n{}",
            self.what,
            self.describe()
        );
        self
    }

    /// Panics with the output unless the child failed.
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.status.success(),
            "`{}` succeeded:\n{}",
            self.what,
            self.describe()
        );
        self
    }

    /// The output for a failure message, with the token of any `get` reply
    /// redacted: a failing test must not print a token either.
    pub fn describe(&self) -> String {
        let stdout: Vec<String> = self
            .stdout
            .lines()
            .map(
                |line| match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(mut v) if v["Ok"]["token"].is_string() => {
                        v["Ok"]["token"] = "[redacted]".into();
                        v.to_string()
                    }
                    _ => line.to_owned(),
                },
            )
            .collect();
        format!(
            "status: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            stdout.join("\n"),
            self.stderr
        )
    }

    /// The provider's reply: the second line of its output.
    pub fn reply(&self) -> &str {
        self.stdout
            .lines()
            .nth(1)
            .unwrap_or_else(|| panic!("`{}` gave no reply line:\n{}", self.what, self.describe()))
    }
}

/// Runs `cmd` to completion with `stdin` (or a closed stdin), killing it if
/// it runs longer than `timeout`.
pub fn run(mut cmd: Command, stdin: Option<&str>, timeout: Duration) -> Output {
    let what = describe(&cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.unwrap_or("").to_owned();
    let writer = thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    let out_reader = read_all(child.stdout.take().unwrap());
    let err_reader = read_all(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let _ = writer.join();
    // The streams end when every process holding them has exited: a child
    // that left something running with its output open is a bug to report,
    // not a reason to wait for ever.
    let grace = Instant::now() + Duration::from_secs(10);
    let collect = |reader: mpsc::Receiver<Vec<u8>>, stream: &str| {
        let left = grace.saturating_duration_since(Instant::now());
        let bytes = reader.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "`{what}` exited, but its {stream} stayed open 10 s later: something it started \
                 is still running"
            )
        });
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let stdout = collect(out_reader, "stdout");
    let stderr = collect(err_reader, "stderr");
    Output {
        status,
        stdout,
        stderr,
        elapsed,
        what,
    }
}

/// Reads `stream` to its end on a thread; the bytes arrive on the channel.
fn read_all(mut stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::sync_channel(1);
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stream.read_to_end(&mut v);
        let _ = tx.send(v);
    });
    rx
}

/// The program and its arguments, for messages. Not `Command`'s `Debug`,
/// which lists the environment set for the child: tokens live there.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A child process that is killed when this guard is dropped.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
