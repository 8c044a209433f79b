//! One keychain budget per request.
//!
//! A `get` may make several keychain calls (the keychain source, the OIDC
//! token cache, a client secret). [`Budgeted`] wraps a keychain so that all
//! of them together wait at most `keychain-timeout-ms`: each call gets what
//! is left of the budget (time spent waiting on the keychain, not on the
//! network), and once a call timed out the keychain is not asked again for
//! this request: every later call fails at once with a timeout error, so
//! callers fall back (to the file cache) as they would for that call.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::{Keychain, KeychainError};
use crate::secret::Token;

/// A keychain whose calls share one time budget.
pub struct Budgeted<'a> {
    inner: &'a dyn Keychain,
    total: Duration,
    left: Cell<Duration>,
    stalled: Cell<bool>,
}

impl<'a> Budgeted<'a> {
    /// `inner`, with `total` to spend on all its calls.
    pub fn new(inner: &'a dyn Keychain, total: Duration) -> Self {
        Budgeted {
            inner,
            total,
            left: Cell::new(total),
            stalled: Cell::new(false),
        }
    }

    /// The budget not yet spent.
    pub fn left(&self) -> Duration {
        self.left.get()
    }

    fn call<T>(
        &self,
        timeout: Duration,
        call: impl FnOnce(Duration) -> Result<T, KeychainError>,
    ) -> Result<T, KeychainError> {
        let left = self.left.get();
        if self.stalled.get() || left.is_zero() {
            return Err(KeychainError::timed_out(format!(
                "the OS keychain did not answer earlier in this request, so it was not asked \
                 again (all keychain calls of one request share keychain-timeout-ms = {} ms)",
                self.total.as_millis()
            )));
        }
        let start = Instant::now();
        let result = call(timeout.min(left));
        self.left.set(left.saturating_sub(start.elapsed()));
        if matches!(&result, Err(e) if e.is_timeout()) {
            self.stalled.set(true);
        }
        result
    }
}

impl Keychain for Budgeted<'_> {
    fn read(&self, index_url: &str, timeout: Duration) -> Result<Option<Token>, KeychainError> {
        self.call(timeout, |t| self.inner.read(index_url, t))
    }

    fn store(
        &self,
        index_url: &str,
        label: &str,
        token: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError> {
        self.call(timeout, |t| self.inner.store(index_url, label, token, t))
    }

    fn remove(&self, index_url: &str, timeout: Duration) -> Result<bool, KeychainError> {
        self.call(timeout, |t| self.inner.remove(index_url, t))
    }

    fn read_item(&self, service: &str, timeout: Duration) -> Result<Option<Token>, KeychainError> {
        self.call(timeout, |t| self.inner.read_item(service, t))
    }

    fn store_item(
        &self,
        service: &str,
        label: &str,
        secret: &Token,
        timeout: Duration,
    ) -> Result<(), KeychainError> {
        self.call(timeout, |t| {
            self.inner.store_item(service, label, secret, t)
        })
    }

    fn remove_item(&self, service: &str, timeout: Duration) -> Result<bool, KeychainError> {
        self.call(timeout, |t| self.inner.remove_item(service, t))
    }

    fn unbudgeted(&self) -> Option<&dyn Keychain> {
        Some(super::with_own_deadline(self.inner))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A keychain whose calls each take `delay` (capped by their deadline,
    /// then a timeout error, as [`super::super::deadline::run`] gives), and
    /// which counts them.
    pub(crate) struct Slow {
        pub(crate) delay: Duration,
        pub(crate) calls: Mutex<Vec<Duration>>,
    }

    impl Slow {
        pub(crate) fn new(delay: Duration) -> Self {
            Slow {
                delay,
                calls: Mutex::new(Vec::new()),
            }
        }

        fn answer<T>(&self, timeout: Duration, value: T) -> Result<T, KeychainError> {
            self.calls.lock().unwrap().push(timeout);
            if self.delay > timeout {
                std::thread::sleep(timeout);
                return Err(KeychainError::timed_out(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                )));
            }
            std::thread::sleep(self.delay);
            Ok(value)
        }
    }

    impl Keychain for Slow {
        fn read(&self, _: &str, timeout: Duration) -> Result<Option<Token>, KeychainError> {
            self.answer(timeout, None)
        }
        fn store(
            &self,
            _: &str,
            _: &str,
            _: &Token,
            timeout: Duration,
        ) -> Result<(), KeychainError> {
            self.answer(timeout, ())
        }
        fn remove(&self, _: &str, timeout: Duration) -> Result<bool, KeychainError> {
            self.answer(timeout, false)
        }
        fn read_item(&self, _: &str, timeout: Duration) -> Result<Option<Token>, KeychainError> {
            self.answer(timeout, None)
        }
        fn store_item(
            &self,
            _: &str,
            _: &str,
            _: &Token,
            timeout: Duration,
        ) -> Result<(), KeychainError> {
            self.answer(timeout, ())
        }
        fn remove_item(&self, _: &str, timeout: Duration) -> Result<bool, KeychainError> {
            self.answer(timeout, false)
        }
    }

    #[test]
    fn calls_share_the_budget_and_a_timeout_ends_it() {
        let slow = Slow::new(Duration::from_millis(40));
        let kc = Budgeted::new(&slow, Duration::from_millis(100));
        assert!(kc.read("u", Duration::from_secs(5)).is_ok());
        assert!(kc.read_item("s", Duration::from_secs(5)).is_ok());
        // 20 ms or less left: the third call is cut off at what is left.
        let err = kc.read_item("s", Duration::from_secs(5)).unwrap_err();
        assert!(err.is_timeout());
        let calls = slow.calls.lock().unwrap().clone();
        assert_eq!(calls[0], Duration::from_millis(100));
        assert!(calls[2] <= Duration::from_millis(20), "{calls:?}");
        // Not asked again.
        let start = Instant::now();
        let err = kc.store_item("s", "l", &Token::new("x".into()), Duration::from_secs(5));
        assert!(err.unwrap_err().to_string().contains("not asked again"));
        assert!(start.elapsed() < Duration::from_millis(20));
        assert_eq!(slow.calls.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_call_with_its_own_deadline_is_outside_every_budget() {
        let slow = Slow::new(Duration::from_millis(50));
        let inner = Budgeted::new(&slow, Duration::from_millis(10));
        let outer = Budgeted::new(&inner, Duration::from_millis(10));
        assert!(outer.read_item("s", Duration::from_secs(5)).is_err());
        let own = super::super::with_own_deadline(&outer);
        assert!(own.read_item("s", Duration::from_secs(5)).is_ok());
        assert_eq!(
            slow.calls.lock().unwrap().last(),
            Some(&Duration::from_secs(5))
        );
    }

    #[test]
    fn a_frozen_keychain_costs_the_budget_once() {
        let frozen = Slow::new(Duration::from_secs(3600));
        let kc = Budgeted::new(&frozen, Duration::from_millis(150));
        let start = Instant::now();
        for _ in 0..5 {
            assert!(
                kc.read_item("s", Duration::from_secs(5))
                    .unwrap_err()
                    .is_timeout()
            );
        }
        assert!(
            start.elapsed() < Duration::from_millis(600),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(frozen.calls.lock().unwrap().len(), 1);
    }
}
