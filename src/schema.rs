//! Checks shared by every settings table (the `oidc` and `sso` tables, and
//! the provider's own config): the error that names a key but never its
//! value, environment variable names, and URLs. The tables' raw (serde)
//! types are validated into settings with these; the config layer then
//! places a [`KeyError`] at its file, line and column.

use std::fmt;

use crate::redact::has_long_word;

/// A config error about one key: shown with the file, line and column of the
/// key, never with its value.
#[derive(Debug)]
pub struct KeyError {
    /// The table, as in `registries.corp.oidc`.
    pub table: String,
    /// The key.
    pub key: &'static str,
    /// What is wrong, and what to do; never the value.
    pub why: String,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` in [{}] {}", self.key, self.table, self.why)
    }
}

impl std::error::Error for KeyError {}

/// Whether `name` is a portable environment variable name (ASCII letters,
/// digits and `_`, not starting with a digit, at most 255 characters) and
/// does not look like a token pasted where a name belongs (a well-known
/// token prefix, or a long mix of upper case, lower case and digits).
pub fn valid_var_name(name: &str) -> bool {
    let portable = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let token_prefix = [
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "eyJ",
        "cio",
        "AKIA",
    ]
    .iter()
    .any(|p| name.starts_with(p));
    let random = name.len() >= 16
        && name.chars().any(|c| c.is_ascii_lowercase())
        && name.chars().any(|c| c.is_ascii_uppercase())
        && name.chars().any(|c| c.is_ascii_digit());
    portable && !token_prefix && !random && !has_long_word(name)
}

/// Checks each URL `(key, value)` of `[table]` against the HTTP policy. An
/// error names the key, never the value (a secret may have been pasted
/// where a URL belongs).
pub fn check_urls(table: &str, urls: &[(&'static str, &Option<String>)]) -> anyhow::Result<()> {
    for (key, url) in urls {
        if let Some(url) = url
            && crate::net::url::checked_url(url).is_err()
        {
            return Err(KeyError {
                table: table.to_owned(),
                key,
                why: "is refused: it must be an https URL (plain http only to a loopback \
                      address such as 127.0.0.1), without user or password"
                    .to_owned(),
            }
            .into());
        }
    }
    Ok(())
}
