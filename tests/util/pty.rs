//! A command on a pseudo-terminal (through util-linux's `script`), for the
//! sign-in flows that talk to a person: the provider only starts one when it
//! has a terminal. The test reads what appears on the terminal while the
//! command runs and types into it.

use std::io::{Read as _, Write as _};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::process::KillOnDrop;
use super::{missing_component, on_path};

/// A running command on a terminal; killed (with its terminal) when dropped.
pub struct Pty {
    child: KillOnDrop,
    input: Option<ChildStdin>,
    seen: Arc<Mutex<Vec<u8>>>,
    what: String,
}

impl Pty {
    /// Starts `argv` on a new terminal, in `cwd`, with exactly `env`.
    pub fn spawn(
        argv: &[&str],
        cwd: &std::path::Path,
        env: &std::collections::HashMap<String, String>,
    ) -> Pty {
        if !on_path("script") {
            missing_component("util-linux's `script` (package bsdutils)");
        }
        let quoted: Vec<String> = argv
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let what = argv.join(" ");
        let mut child = Command::new("script")
            .args(["-qfec", &quoted.join(" "), "/dev/null"])
            .current_dir(cwd)
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start script");
        let input = child.stdin.take();
        let mut output = child.stdout.take().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child: KillOnDrop(child),
            input,
            seen,
            what,
        }
    }

    /// Everything the terminal showed so far (lossily decoded).
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits (at most `timeout`) until the screen holds `needle`; the screen.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "`{}` did not show {needle:?} within {timeout:?}; the terminal showed:\n{}",
                self.what,
                screen
                    .lines()
                    .filter(|l| !l.contains("http"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) {
        let input = self.input.as_mut().unwrap();
        input.write_all(line.as_bytes()).unwrap();
        input.write_all(b"\r").unwrap();
        input.flush().unwrap();
    }

    /// Waits (at most `timeout`) for the command to end: whether it
    /// succeeded, and the screen.
    pub fn finish(mut self, timeout: Duration) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                // The reader thread drains what is left.
                thread::sleep(Duration::from_millis(100));
                drop(self.input.take());
                return (status.success(), self.screen());
            }
            assert!(
                Instant::now() < deadline,
                "`{}` did not finish within {timeout:?}",
                self.what
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}
