//! The token newtype: a registry token is a secret from the moment it is read.
//!
//! [`Token`] has a redacted `Debug`, no `Display`, zeroizes its bytes on drop,
//! and hands out its value only through [`Token::expose`], so every place that
//! sends or stores a token can be found with one grep.

use std::fmt;

use zeroize::Zeroizing;

/// A registry token (or any other credential) held in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Wraps `value` as a token. The `String`'s buffer is zeroized on drop.
    pub fn new(value: String) -> Self {
        Token(Zeroizing::new(value))
    }

    /// Validates a token read from somewhere a person typed or configured it.
    ///
    /// Surrounding spaces are trimmed; an empty or whitespace-only value is
    /// `Ok(None)` (absent). A value with a control character (a newline, a tab,
    /// an escape) is rejected: it would corrupt the `Authorization` header, and
    /// usually means the value was pasted or exported wrongly. `what` names the
    /// value's origin for the error message; the value itself is never shown.
    pub fn parse(value: String, what: &str) -> Result<Option<Token>, InvalidToken> {
        let value = Zeroizing::new(value);
        let trimmed = value.trim_matches(' ');
        if trimmed.trim().is_empty() {
            return Ok(None);
        }
        if let Some(pos) = trimmed.chars().position(char::is_control) {
            return Err(InvalidToken {
                what: what.to_owned(),
                position: pos + 1,
            });
        }
        Ok(Some(Token::new(trimmed.to_owned())))
    }

    /// The token's value, for the places that send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token with an authorization scheme in front (`Bearer …`), unless it
    /// already starts with that scheme.
    pub fn with_scheme(self, scheme: &str) -> Token {
        if starts_with_scheme(&self.0, scheme) {
            self
        } else {
            Token::new(format!("{scheme} {}", self.0.as_str()))
        }
    }

    /// The HTTP authentication scheme the token already starts with
    /// (`Bearer `, `Basic `, in any case), in its usual spelling.
    pub fn scheme(&self) -> Option<&'static str> {
        ["Bearer", "Basic"]
            .into_iter()
            .find(|scheme| starts_with_scheme(&self.0, scheme))
    }

    /// `Basic base64(user:token)` (RFC 7617), built in buffers sized up
    /// front so that no copy of the token is left behind by a reallocation;
    /// the plain `user:token` is zeroized on drop.
    pub fn basic(&self, user: &str) -> Token {
        use base64::Engine as _;
        let secret = self.0.as_str();
        let mut plain = Zeroizing::new(String::with_capacity(user.len() + 1 + secret.len()));
        plain.push_str(user);
        plain.push(':');
        plain.push_str(secret);
        let mut header = String::with_capacity("Basic ".len() + plain.len().div_ceil(3) * 4);
        header.push_str("Basic ");
        base64::engine::general_purpose::STANDARD.encode_string(plain.as_bytes(), &mut header);
        Token::new(header)
    }
}

/// Whether `value` starts with `scheme` (any case) and a space. Bytes, not
/// `str` slices: a token's multi-byte character at any offset must not make
/// this panic (a panic message could quote it).
fn starts_with_scheme(value: &str, scheme: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() > scheme.len()
        && bytes[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        && bytes[scheme.len()] == b' '
}

/// The token as Cargo's protocol carries it in a `get` reply.
impl From<Token> for cargo_credential::Secret<String> {
    fn from(token: Token) -> Self {
        cargo_credential::Secret::from(token.0.as_str().to_owned())
    }
}

impl Token {
    /// The forms in which a server could echo this secret back in an
    /// error (as sent, form-encoded, JSON-escaped): what to redact from
    /// what it says.
    pub fn echoes(&self) -> Vec<Zeroizing<String>> {
        let raw = self.0.as_str();
        let mut all = vec![Zeroizing::new(raw.to_owned())];
        let form: String = url::form_urlencoded::byte_serialize(raw.as_bytes()).collect();
        all.push(Zeroizing::new(form));
        let json = serde_json::to_string(raw).unwrap_or_default();
        all.push(Zeroizing::new(json.trim_matches('"').to_owned()));
        all.dedup();
        all
    }
}

/// Whether the token's value is `text` (a known placeholder, say); never
/// used to compare secrets with secrets from outside.
impl PartialEq<str> for Token {
    fn eq(&self, text: &str) -> bool {
        self.0.as_str() == text
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// A token value that may not be sent: it holds a control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidToken {
    what: String,
    position: usize,
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the token from {} contains a control character (a newline, tab or escape) at \
             character {}; it was not sent. Set it again without the stray character",
            self.what, self.position
        )
    }
}

impl std::error::Error for InvalidToken {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = Token::new("s3cr3t-value".into());
        assert_eq!(format!("{t:?}"), "Token([redacted])");
        assert_eq!(format!("{:?}", Some(&t)), "Some(Token([redacted]))");
    }

    #[test]
    fn parse_treats_blank_as_absent() {
        assert_eq!(Token::parse(String::new(), "x").unwrap(), None);
        assert_eq!(Token::parse("   ".into(), "x").unwrap(), None);
        assert_eq!(Token::parse(" \t ".into(), "x").unwrap(), None);
    }

    #[test]
    fn parse_trims_spaces_and_rejects_control_characters() {
        let t = Token::parse("  abc  ".into(), "x").unwrap().unwrap();
        assert_eq!(t.expose(), "abc");
        for bad in ["abc\n", "a\tb", "a\u{1b}[0m", "line1\nline2", "a\rb"] {
            let err = Token::parse(bad.into(), "CARGO_REGISTRY_TOKEN").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("CARGO_REGISTRY_TOKEN"), "{msg}");
            assert!(!msg.contains("abc") && !msg.contains("line1"), "{msg}");
        }
    }

    #[test]
    fn a_control_character_is_placed_by_its_one_based_character_number() {
        for (bad, at) in [("\nabc", 1), ("abc\u{1b}", 4), ("é\u{7f}x", 2)] {
            let msg = Token::parse(bad.into(), "X").unwrap_err().to_string();
            assert!(
                msg.contains(&format!("at character {at};")),
                "{bad:?}: {msg}"
            );
        }
    }

    #[test]
    fn a_token_that_is_just_the_scheme_gets_the_scheme_in_front() {
        assert_eq!(
            Token::new("Bearer".into()).with_scheme("Bearer").expose(),
            "Bearer Bearer"
        );
        assert_eq!(
            Token::new("Bearer ".into()).with_scheme("Bearer").expose(),
            "Bearer "
        );
    }

    #[test]
    fn scheme_is_added_once() {
        let t = Token::new("abc".into()).with_scheme("Bearer");
        assert_eq!(t.expose(), "Bearer abc");
        assert_eq!(t.with_scheme("Bearer").expose(), "Bearer abc");
        let t = Token::new("bearer abc".into()).with_scheme("Bearer");
        assert_eq!(t.expose(), "bearer abc");
        let t = Token::new("Bearerabc".into()).with_scheme("Bearer");
        assert_eq!(t.expose(), "Bearer Bearerabc");
        // A multi-byte character at or around the scheme's end.
        for odd in [
            "abcde\u{e9}fg",
            "Beare\u{e9}x",
            "Bearer\u{e9}",
            "\u{1f600}\u{1f600}",
            "é",
        ] {
            let t = Token::new(odd.into()).with_scheme("Bearer");
            assert_eq!(t.expose(), format!("Bearer {odd}"));
        }
    }
}
