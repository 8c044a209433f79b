//! Values from config files, shown on a terminal. A project's
//! `.cargo/config.toml` comes with a cloned repository: an index URL or a
//! registry name in it may hold terminal escapes (retitle or clear the
//! terminal, forge an `[ok]` line), bidi controls that reorder what is read,
//! or zero-width characters that make two names look the same. Every value
//! `doctor`, `setup`, `migrate` and `config` print from a config file goes
//! through [`shown`] (text) or [`json_safe`] (JSON).

use std::borrow::Cow;
use std::fmt::Write as _;

pub use crate::diag::{hidden, shown};

/// Serialized JSON with every [`hidden`] character left as a JSON escape
/// (`\uXXXX`): the same value for a JSON reader, nothing a terminal acts on.
/// serde_json escapes C0 controls itself, but not DEL, C1, bidi or
/// zero-width characters.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(hidden) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if hidden(c) {
            // Outside strings JSON has only ASCII whitespace, which stays.
            if matches!(c, '\n' | '\r' | '\t') {
                out.push(c);
            } else {
                // Beyond U+FFFF (tag characters): a UTF-16 surrogate pair.
                for unit in c.encode_utf16(&mut [0; 2]) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_zero_width_characters_are_escaped() {
        assert_eq!(
            shown("sparse+https://r.example/"),
            "sparse+https://r.example/"
        );
        assert_eq!(
            shown("a\u{1b}]0;x\u{7}b\nc\td\u{7f}\u{85}\u{9b}"),
            "a\\u{1b}]0;x\\u{7}b\\nc\\td\\u{7f}\\u{85}\\u{9b}"
        );
        for c in [
            '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}',
            '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2060}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{FEFF}',
        ] {
            let s = format!("x{c}y");
            let out = shown(&s);
            assert!(!out.contains(c), "{c:?}");
            assert_eq!(out, format!("x\\u{{{:x}}}y", u32::from(c)));
        }
        // review-16 N-b: invisible characters beyond the zero-width ones.
        assert_eq!(
            shown("x\u{ad}\u{2028}\u{E0041}\u{115f}\u{3164}\u{fe0f}.example"),
            "x\\u{ad}\\u{2028}\\u{e0041}\\u{115f}\\u{3164}\\u{fe0f}.example"
        );
        // Other non-ASCII text is left alone.
        assert_eq!(shown("Zürich → 東京"), "Zürich → 東京");
    }

    #[test]
    fn json_keeps_the_value_and_loses_the_characters() {
        let value = "i\u{202e}x\u{200b}\u{7f}\u{85}\u{1b}\u{e0041}\u{2028}";
        let json = serde_json::to_string_pretty(&serde_json::json!({ "index": value })).unwrap();
        let safe = json_safe(&json);
        assert!(!safe.chars().any(|c| hidden(c) && c != '\n'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["index"], value);
    }
}
