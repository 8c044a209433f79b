//! Values from config files, shown on a terminal. A project's
//! `.cargo/config.toml` comes with a cloned repository: an index URL or a
//! registry name in it may hold terminal escapes (retitle or clear the
//! terminal, forge an `[ok]` line), bidi controls that reorder what is read,
//! or zero-width characters that make two names look the same. Every value
//! `doctor`, `setup`, `migrate` and `config` print from a config file goes
//! through [`shown`] (text) or [`json_safe`] (JSON).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself: C0 and C1 controls,
/// DEL, every format character (Unicode's `Cf`: bidi controls, zero-width
/// characters, the soft hyphen, tag characters U+E0000–U+E007F, …), the
/// line and paragraph separators U+2028 and U+2029, and characters drawn as
/// nothing (Hangul fillers, variation selectors, the combining grapheme
/// joiner).
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Format characters (Cf), as of Unicode 16.
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
                // Line and paragraph separators (Zl, Zp).
                | '\u{2028}'..='\u{2029}'
                // Drawn as nothing: Hangul fillers, the combining grapheme
                // joiner, variation selectors.
                | '\u{115F}'..='\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{034F}'
                | '\u{180B}'..='\u{180D}'
                | '\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// `value` with every [`hidden`] character escaped (`\n`, `\r`, `\t`,
/// else `\u{…}`), so that what a person reads is what the file says.
pub fn shown(value: &str) -> Cow<'_, str> {
    if !value.chars().any(hidden) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

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
