//! Redaction of text that comes from outside (an IdP's `error_description`,
//! a program's standard error) before it is shown: anything shaped like a
//! token, and every secret in use, is replaced by `[redacted]`.

/// What replaces a redacted part.
pub const REDACTED: &str = "[redacted]";

/// `text` with every secret of `secrets` (those of at least 4 characters)
/// and everything token-shaped replaced by [`REDACTED`]:
/// - a JWT or JWS (`eyJ…` segments joined by `.`),
/// - a run of 20 or more letters and digits (no word of a message is that
///   long; hex secrets, API keys, opaque tokens are),
/// - a run of 32 or more characters of `A-Z a-z 0-9 _ -` (base64url
///   secrets, UUID-like tokens),
/// - a run of 20 or more characters of `A-Z a-z 0-9 _ - + / = . ~` that
///   mixes upper case, lower case and digits (base64, most API tokens).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.chars().count() >= 4) {
        text = text.replace(secret, REDACTED);
    }
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut out, &mut run);
            out.push(c);
        }
    }
    flush(&mut out, &mut run);
    out
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '=' | '.' | '~')
}

fn flush(out: &mut String, run: &mut String) {
    if token_shaped(run) {
        out.push_str(REDACTED);
    } else {
        out.push_str(run);
    }
    run.clear();
}

fn token_shaped(run: &str) -> bool {
    let longest_plain = run
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
        .map(str::len)
        .max()
        .unwrap_or(0);
    if run.contains("eyJ") || has_long_word(run) || longest_plain >= 32 {
        return true;
    }
    run.len() >= 20
        && run.chars().any(|c| c.is_ascii_uppercase())
        && run.chars().any(|c| c.is_ascii_lowercase())
        && run.chars().any(|c| c.is_ascii_digit())
}

/// Whether `text` holds a run of 20 or more ASCII letters and digits: no
/// word of a message or a name is that long; hex secrets, API keys and
/// opaque tokens are.
pub fn has_long_word(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word.len() >= 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_token_shapes_are_removed() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vciJ9.c2lnbmF0dXJl";
        let text = format!(
            "subject_token {jwt} rejected; client secret hunter2x was wrong; \
             token 0123456789abcdef0123456789abcdef; api key AbCdEf0123456789GhIjKl+/=="
        );
        let shown = redact(&text, &["hunter2x"]);
        for gone in [
            "eyJ",
            "hunter2x",
            "0123456789abcdef0123456789abcdef",
            "AbCdEf0123456789",
        ] {
            assert!(!shown.contains(gone), "{shown}");
        }
        assert!(
            shown.contains("rejected; client secret [redacted] was wrong"),
            "{shown}"
        );
    }

    #[test]
    fn ordinary_messages_are_kept() {
        for text in [
            "audience is not allowed for this client",
            "invalid_grant: the subject token has expired (exp 1764000000)",
            "no trusted publishing config for repository octo-org/octo-repo",
            "https://idp.example.com/oauth2/v1/token refused the client",
            "cannot open /usr/lib/x86_64-linux-gnu/libfoo.so: permission denied",
        ] {
            assert_eq!(redact(text, &[]), text);
        }
        // A UUID is as long as a hex secret: it goes too (some tokens are UUIDs).
        assert_eq!(
            redact("client 0f8fad5b-d9cb-469f-a165-70867728950e", &[]),
            "client [redacted]"
        );
    }

    #[test]
    fn a_mixed_case_run_with_digits_is_token_shaped_from_20_characters() {
        // Words of at most 4 letters or digits: only the length rule decides.
        let twenty = "Ab1.Cd2.Ef3.Gh4.Ij5x";
        assert_eq!(twenty.len(), 20);
        assert!(token_shaped(twenty));
        assert!(!token_shaped(&twenty[..19]));
        assert!(!token_shaped("ab1.cd2.ef3.gh4.ij5x"), "no upper case");
        assert!(!token_shaped("AB1.CD2.EF3.GH4.IJ5X"), "no lower case");
        assert!(!token_shaped("Abc.Cde.Efg.Ghi.Ijkx"), "no digit");
    }

    #[test]
    fn short_secrets_are_not_used_for_matching() {
        assert_eq!(redact("abc def", &["abc", ""]), "abc def");
    }
}
