//! The process environment behind a seam, [`Environment`], so that tests
//! can hand the sources, the CI identities and the CLI their own variables.

use std::collections::HashMap;
use std::ffi::OsString;

/// The process environment, behind a seam so tests can supply their own.
pub trait Environment {
    /// The variable's value, if set.
    fn var_os(&self, key: &str) -> Option<OsString>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var_os(&self, key: &str) -> Option<OsString> {
        std::env::var_os(key)
    }
}

impl Environment for HashMap<String, String> {
    fn var_os(&self, key: &str) -> Option<OsString> {
        self.get(key).map(OsString::from)
    }
}
