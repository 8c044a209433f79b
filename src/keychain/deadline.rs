//! Deadlines on keychain calls.
//!
//! The keychain crates are synchronous and some platform stores wait forever
//! on a frozen daemon (a D-Bus peer that never replies). Each call runs on a
//! helper thread; when the deadline passes, the caller gets an error and the
//! thread is abandoned (it ends with the process, which answers Cargo and
//! exits right after).

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::KeychainError;

/// Runs `call` with a deadline of `timeout`. `what` says what was being done,
/// for the error message ("reading the token for my-private").
pub fn run<T, F>(timeout: Duration, what: &str, call: F) -> Result<T, KeychainError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, KeychainError> + Send + 'static,
{
    let timer = crate::trace::Timer::start();
    let result = run_inner(timeout, what, call);
    crate::trace::trace(|| {
        let how = match &result {
            Ok(_) => "done".to_owned(),
            Err(e) => format!("failed ({e})"),
        };
        format!("keychain: {what}: {how} in {}", timer.ms())
    });
    result
}

fn run_inner<T, F>(timeout: Duration, what: &str, call: F) -> Result<T, KeychainError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, KeychainError> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    thread::Builder::new()
        .name("keychain-call".into())
        .spawn(move || {
            // The receiver is gone only after the deadline passed.
            let _ = tx.send(call());
        })
        .map_err(|e| KeychainError::new(format!("cannot start a thread for {what}: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(KeychainError::timed_out(format!(
            "the OS keychain did not answer within {} ms while {what}; is the keyring daemon \
             frozen or waiting for an unlock prompt? (if it is only slow, raise \
             `keychain-timeout-ms`)",
            timeout.as_millis()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(KeychainError::new(format!(
            "the keychain call for {what} failed unexpectedly"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn returns_the_result_in_time() {
        assert_eq!(run(Duration::from_secs(5), "x", || Ok(7)), Ok(7));
        let err = run::<(), _>(Duration::from_secs(5), "x", || {
            Err(KeychainError::new("boom"))
        });
        assert_eq!(err.unwrap_err().to_string(), "boom");
    }

    #[test]
    fn a_call_that_never_returns_is_cut_off() {
        let (_keep, hang) = mpsc::channel::<()>();
        let start = Instant::now();
        let err = run(
            Duration::from_millis(100),
            "reading the token for r",
            move || {
                let _ = hang.recv(); // blocks until the test ends
                Ok(())
            },
        )
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(err.is_timeout());
        let msg = err.to_string();
        assert!(
            msg.contains("100 ms") && msg.contains("reading the token for r"),
            "{msg}"
        );
    }

    #[test]
    fn a_panicking_call_is_an_error() {
        let err = run::<(), _>(Duration::from_secs(5), "x", || panic!("inside")).unwrap_err();
        assert!(err.to_string().contains("failed unexpectedly"));
    }
}
