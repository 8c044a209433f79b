//! The suite's leak rule. Everything a test captures from the provider or
//! from cargo (stdout, stderr, the files left in its temporary folders) goes
//! through here, and the test fails if it holds a secret in use (a registry
//! token, a client secret, a CI identity, an issued token) or anything shaped
//! like a JWT. The failure message names the secret by its index and the
//! place, never by its value.

use std::path::{Path, PathBuf};

/// Panics if `text` holds any of `secrets` or a JWT. `place` says where the
/// text came from (a stream of a command, a file).
pub fn check_text(place: &str, text: &[u8], secrets: &[String]) {
    for (i, secret) in secrets.iter().enumerate() {
        assert!(!secret.is_empty(), "an empty secret was declared");
        assert!(
            !contains(text, secret.as_bytes()),
            "leak: secret #{i} appeared in {place}"
        );
    }
    if let Some(at) = jwt_at(text) {
        panic!("leak: something shaped like a JWT appeared in {place} at byte {at}");
    }
}

/// Panics if a file below `dir` (except those `skip` names) holds a secret or
/// a JWT.
pub fn check_dir(dir: &Path, secrets: &[String], skip: &dyn Fn(&Path) -> bool) {
    for file in files_below(dir, skip) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        check_text(&format!("the file {}", file.display()), &bytes, secrets);
    }
}

/// Every regular file below `dir`, not descending into what `skip` names
/// and not following links.
pub fn files_below(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if skip(&path) {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => found.push(path),
                _ => {} // symlinks, FIFOs, sockets: not followed, not read
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where a JWT starts in `text`: `eyJ` followed by base64url characters, a
/// `.`, and at least 8 more base64url characters.
pub fn jwt_at(text: &[u8]) -> Option<usize> {
    let b64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_';
    let mut from = 0;
    while let Some(pos) = text[from..].windows(3).position(|w| w == b"eyJ") {
        let start = from + pos;
        let rest = &text[start..];
        let head = rest.iter().take_while(|c| b64(c)).count();
        if head >= 10
            && rest.get(head) == Some(&b'.')
            && rest[head + 1..].iter().take_while(|c| b64(c)).count() >= 8
        {
            return Some(start);
        }
        from = start + 3;
    }
    None
}

#[test]
fn the_rule_finds_secrets_and_jwts_and_nothing_else() {
    let secrets = vec!["tok-123".to_owned()];
    let clean = b"warning: no token found for my-private; eyJ alone is not a JWT";
    check_text("test", clean, &secrets);
    let leaked = std::panic::catch_unwind(|| check_text("test", b"x tok-123 y", &secrets));
    assert!(leaked.is_err());
    let jwt = b"bad eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl end";
    assert_eq!(jwt_at(jwt), Some(4));
}
