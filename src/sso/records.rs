//! What the private cache folder remembers about a stored login between
//! runs, when the login's own store cannot say it: that its refresh token
//! is spent (the IdP rotated it and the new one could not be stored), and
//! the IdP's last refusal of a refresh (to tell a repeated refusal from a
//! passing one).
//!
//! One small file each, `sso-state/<login>.spent` and `.refused`, private
//! (0600 in a 0700 folder) and keyed to the login's store item. They hold a
//! digest of the refresh token, never the token: a record speaks only of
//! the refresh token it was made for, so a new sign-in is never mistaken
//! for the old one.

use serde::{Deserialize, Serialize};

use crate::cache::{self, FileStore};
use crate::secret::Token;

const FOLDER: &str = "sso-state";

/// The records of one stored login.
pub struct Records {
    files: Option<FileStore>,
    login: String,
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Refused {
    token: String,
    code: String,
}

impl Records {
    /// The records of the login stored as `item`, in `files` (none are kept
    /// without a private cache folder).
    pub fn new(files: Option<FileStore>, item: &str) -> Self {
        Records {
            files,
            login: cache::key(&["sso-login", item]),
        }
    }

    fn digest(token: &Token) -> String {
        cache::secret_key(&["sso-refresh-token"], token)
    }

    fn name(&self, what: &str) -> String {
        format!("{}.{what}", self.login)
    }

    fn files(&self) -> anyhow::Result<&FileStore> {
        self.files
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this system has no user cache folder"))
    }

    /// Records that `token` is spent: it is never to be sent again.
    pub fn mark_spent(&self, token: &Token) -> anyhow::Result<()> {
        let digest = Self::digest(token);
        self.files()?
            .write_private(FOLDER, &self.name("spent"), digest.as_bytes())
    }

    /// Whether `token` was recorded as spent.
    pub fn is_spent(&self, token: &Token) -> bool {
        let Some(files) = &self.files else {
            return false;
        };
        files
            .read_private(FOLDER, &self.name("spent"))
            .is_some_and(|b| *b == *Self::digest(token).as_bytes())
    }

    /// Records that a refresh with `token` was refused with `code`. `true`
    /// when the record before said the same: a repeated refusal.
    pub fn refused(&self, token: &Token, code: &str) -> bool {
        let Some(files) = &self.files else {
            return false;
        };
        let now = Refused {
            token: Self::digest(token),
            code: code.to_owned(),
        };
        let before = files
            .read_private(FOLDER, &self.name("refused"))
            .and_then(|b| serde_json::from_slice::<Refused>(&b).ok());
        if before.as_ref() == Some(&now) {
            return true;
        }
        let text = serde_json::to_string(&now).expect("plain struct");
        if let Err(e) = files.write_private(FOLDER, &self.name("refused"), text.as_bytes()) {
            crate::trace::debug(|| format!("sso: the refusal was not recorded: {e:#}"));
        }
        false
    }

    /// Forgets both records (the login was replaced, removed, or refreshed).
    pub fn clear(&self) {
        if let Some(files) = &self.files {
            let _ = files.remove_private(FOLDER, &self.name("spent"));
            let _ = files.remove_private(FOLDER, &self.name("refused"));
        }
    }

    /// Forgets the last refusal (a refresh succeeded).
    pub fn clear_refusal(&self) {
        if let Some(files) = &self.files {
            let _ = files.remove_private(FOLDER, &self.name("refused"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_speak_of_one_refresh_token_and_never_hold_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::at(dir.path().to_path_buf());
        let r = Records::new(Some(files), "item");
        let (a, b) = (
            Token::new("rt-a-0123456789".into()),
            Token::new("rt-b-0123456789".into()),
        );
        r.mark_spent(&a).unwrap();
        assert!(r.is_spent(&a) && !r.is_spent(&b));
        assert!(!Records::new(Some(FileStore::at(dir.path().into())), "other").is_spent(&a));
        assert!(!r.refused(&a, "invalid_request"));
        assert!(r.refused(&a, "invalid_request"));
        assert!(!r.refused(&a, "invalid_client"));
        assert!(!r.refused(&b, "invalid_client"));
        for entry in std::fs::read_dir(dir.path().join(FOLDER)).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("rt-a") && !text.contains("rt-b"));
        }
        r.clear();
        assert!(!r.is_spent(&a) && !r.refused(&b, "invalid_client"));
        assert!(!Records::new(None, "item").refused(&a, "x"));
    }
}
