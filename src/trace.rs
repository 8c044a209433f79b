//! Redacted tracing for "why did this get (not) work": with
//! `CARGO_CREDENTIAL_CORP_LOG=debug` (or `trace`) each step goes to standard
//! error (which Cargo shows): config files read, each source tried and what
//! it answered, endpoints called with their timings, cache hits and misses,
//! keychain calls with their timings.
//!
//! Messages are built from names, paths, URLs without their query, and
//! durations; every line is also passed through [`crate::redact::redact`], so
//! that nothing token-shaped is printed even by mistake.
//!
//! Hand-written rather than the `tracing` crates: one variable read once per
//! process, and a closure that is never called when tracing is off, so a
//! `get` from the environment costs no more than before; `tracing` +
//! `tracing-subscriber` with an env filter
//! add a registry, dispatch and filter parsing at start-up for what is, here,
//! one line per step.

use std::sync::OnceLock;
use std::time::Instant;

/// The variable that turns tracing on: `debug` or `trace`.
pub const LOG_ENV: &str = "CARGO_CREDENTIAL_CORP_LOG";

/// How much is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing (the default).
    Off,
    /// Each step.
    Debug,
    /// Each step and each keychain and file call.
    Trace,
}

/// The level for this process, read once from [`LOG_ENV`].
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        match std::env::var_os(LOG_ENV)
            .map(|v| v.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("debug") => Level::Debug,
            Some("trace") => Level::Trace,
            _ => Level::Off,
        }
    })
}

#[allow(clippy::print_stderr)]
fn emit(level: &str, message: &str) {
    eprintln!(
        "cargo-credential-corp {level}: {}",
        crate::redact::redact(message, &[])
    );
}

/// Says `message()` at debug level (it is not built when tracing is off).
pub fn debug(message: impl FnOnce() -> String) {
    if level() >= Level::Debug {
        emit("debug", &message());
    }
}

/// Says `message()` at trace level.
pub fn trace(message: impl FnOnce() -> String) {
    if level() >= Level::Trace {
        emit("trace", &message());
    }
}

/// A stopwatch for "… in N ms".
#[derive(Debug, Clone, Copy)]
pub struct Timer(Instant);

impl Timer {
    /// Starts now.
    pub fn start() -> Timer {
        Timer(Instant::now())
    }

    /// Milliseconds since the start, with a tenth.
    pub fn ms(&self) -> String {
        format!("{:.1} ms", self.0.elapsed().as_secs_f64() * 1000.0)
    }
}
