//! What is remembered about a stored login between runs, when the login's
//! own store cannot say it: that its refresh token is spent (the IdP
//! rotated it and the new one could not be stored), and the IdP's last
//! refusal of a refresh (to tell a repeated refusal from a passing one).
//!
//! One small file each, `sso-state/<login>.spent` and `.refused`, private
//! (0600 in a 0700 folder) and keyed like the login's lock. They are kept
//! beside that lock, in this user's lock folder
//! ([`FileStore::user_locks`]), so that every process that can take the
//! lock sees them whatever its cache folder; and a copy in the cache
//! folder, which outlives the lock folder's (often emptied at logout or
//! boot). A record is taken from either. They hold a digest of the refresh
//! token, never the token: a record speaks only of the refresh token it
//! was made for, so a new sign-in is never mistaken for the old one.

use serde::{Deserialize, Serialize};

use crate::cache::{self, FileStore};
use crate::secret::Token;

const FOLDER: &str = "sso-state";

/// The records of one stored login.
pub struct Records {
    /// Where they are kept: the lock folder first, then the cache folder.
    places: Vec<FileStore>,
    login: String,
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct Refused {
    token: String,
    code: String,
}

impl Records {
    /// The records of the login whose lock is named `login`, kept in
    /// `places` (this user's lock folder and the cache folder, those there
    /// are; none are kept without one).
    pub fn new(places: Vec<FileStore>, login: &str) -> Self {
        Records {
            places,
            login: cache::key(&["sso-login", login]),
        }
    }

    fn digest(token: &Token) -> String {
        cache::secret_key(&["sso-refresh-token"], token)
    }

    fn name(&self, what: &str) -> String {
        format!("{}.{what}", self.login)
    }

    /// Writes the record `what` in every place; `Ok` when one took it.
    fn write(&self, what: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let mut failed = anyhow::anyhow!("this system has no private folder to keep it in");
        let mut kept = false;
        for place in &self.places {
            match place.write_private(FOLDER, &self.name(what), bytes) {
                Ok(()) => kept = true,
                Err(e) => failed = e,
            }
        }
        if kept { Ok(()) } else { Err(failed) }
    }

    fn read(&self, what: &str) -> impl Iterator<Item = zeroize::Zeroizing<Vec<u8>>> + '_ {
        let name = self.name(what);
        self.places
            .iter()
            .filter_map(move |place| place.read_private(FOLDER, &name))
    }

    /// Records that `token` is spent: it is never to be sent again.
    pub fn mark_spent(&self, token: &Token) -> anyhow::Result<()> {
        self.write("spent", Self::digest(token).as_bytes())
    }

    /// Whether `token` was recorded as spent, in any place.
    pub fn is_spent(&self, token: &Token) -> bool {
        let digest = Self::digest(token);
        self.read("spent").any(|b| *b == *digest.as_bytes())
    }

    /// Records that a refresh with `token` was refused with `code`. `true`
    /// when a record before said the same: a repeated refusal.
    pub fn refused(&self, token: &Token, code: &str) -> bool {
        let now = Refused {
            token: Self::digest(token),
            code: code.to_owned(),
        };
        let repeated = self
            .read("refused")
            .filter_map(|b| serde_json::from_slice::<Refused>(&b).ok())
            .any(|before| before == now);
        if repeated {
            return true;
        }
        let text = serde_json::to_string(&now).expect("plain struct");
        if let Err(e) = self.write("refused", text.as_bytes()) {
            crate::trace::debug(|| format!("sso: the refusal was not recorded: {e:#}"));
        }
        false
    }

    /// Forgets both records (the login was replaced, removed, or refreshed).
    pub fn clear(&self) {
        self.clear_refusal();
        for place in &self.places {
            let _ = place.remove_private(FOLDER, &self.name("spent"));
        }
    }

    /// Forgets the last refusal (a refresh succeeded).
    pub fn clear_refusal(&self) {
        for place in &self.places {
            let _ = place.remove_private(FOLDER, &self.name("refused"));
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
        let r = Records::new(vec![files], "item");
        let (a, b) = (
            Token::new("rt-a-0123456789".into()),
            Token::new("rt-b-0123456789".into()),
        );
        r.mark_spent(&a).unwrap();
        assert!(r.is_spent(&a) && !r.is_spent(&b));
        assert!(!Records::new(vec![FileStore::at(dir.path().into())], "other").is_spent(&a));
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
        assert!(!Records::new(vec![], "item").refused(&a, "x"));
        assert!(Records::new(vec![], "item").mark_spent(&a).is_err());
    }
}
