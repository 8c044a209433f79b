//! Diagnostics for the person running Cargo: warnings on standard error,
//! which Cargo shows. The protocol owns standard output; nothing else writes
//! there. What a registry or an identity provider sent (an issuer, a
//! host, an error description) may hold terminal escapes: every warning
//! and every error Cargo shows goes through [`shown`] first.

use std::borrow::Cow;
use std::fmt::Write as _;

/// A warning on standard error. Never a secret: callers pass messages built
/// from names, paths and error kinds only.
#[allow(clippy::print_stderr)]
pub fn warn(message: &str) {
    eprintln!("warning: cargo-credential-corp: {}", shown_lines(message));
}

/// A line for the person at the terminal on standard error (prompts,
/// progress of a sign-in). Never a secret.
#[allow(clippy::print_stderr)]
pub fn say(message: &str) {
    eprintln!("{message}");
}

/// A config value (`Grant::JfrogArtifactory`, `IdentityKind::GithubActions`)
/// as the config file writes it (`jfrog-artifactory`, `github-actions`),
/// for messages: the kebab-case that `#[serde(rename_all = "kebab-case")]`
/// derives from the variant's name, never the Rust type name.
pub fn config_word(value: &impl std::fmt::Debug) -> String {
    let name = format!("{value:?}");
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

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

/// [`shown`], except that line breaks (`\n`) stay: for multi-line text
/// this provider writes itself, with values from elsewhere in it.
pub fn shown_lines(value: &str) -> Cow<'_, str> {
    if !value.chars().any(|c| c != '\n' && hidden(c)) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(value.split('\n').map(shown).collect::<Vec<_>>().join("\n"))
}
