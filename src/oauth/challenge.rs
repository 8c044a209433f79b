//! `WWW-Authenticate` as RFC 9110 §11.6.1 defines it, to find the RFC 9728
//! `resource_metadata` a registry names in its 401.
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param = token BWS "=" BWS ( token / quoted-string )
//! ```
//!
//! Several challenges may share one header (`Cargo login_url="…", Bearer
//! resource_metadata="…"`) and a response may carry several headers; each
//! header is parsed on its own (so a truncated quote in one cannot swallow
//! the next), the challenges of all are kept in order. Scheme and parameter
//! names are case-insensitive; quoted strings may hold `\`-escapes.
//!
//! The input comes from whoever answered Cargo's index request, so it is
//! bounded: at most [`MAX_HEADER_BYTES`] over all headers, [`MAX_CHALLENGES`]
//! challenges, [`MAX_PARAMS`] parameters per challenge, and a parameter named
//! twice in one challenge (which RFC 9110 forbids) is an error rather than a
//! guess. Errors never quote the header: it says what is wrong and where.

use std::fmt;

/// The most bytes read over all `WWW-Authenticate` headers of a response.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The most challenges accepted over all headers.
pub const MAX_CHALLENGES: usize = 16;
/// The most parameters accepted in one challenge.
pub const MAX_PARAMS: usize = 16;

/// One challenge: its scheme, and a token68 or parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare with [`Challenge::is`]).
    pub scheme: String,
    /// The token68, when the challenge carries one instead of parameters.
    pub token68: Option<String>,
    /// The parameters, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Whether the scheme is `scheme` (case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a `WWW-Authenticate` header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeError {
    /// Longer than [`MAX_HEADER_BYTES`] in all.
    TooLong,
    /// More than [`MAX_CHALLENGES`] challenges.
    TooManyChallenges,
    /// More than [`MAX_PARAMS`] parameters in one challenge.
    TooManyParams,
    /// A parameter named twice in one challenge.
    DuplicateParam(String),
    /// A quoted string without its closing quote (a truncated header).
    Unterminated,
    /// Anything else that is not the grammar, at this byte offset of the
    /// header.
    Malformed(usize),
    /// Two `Bearer` challenges naming different `resource_metadata`.
    Ambiguous,
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChallengeError::TooLong => write!(
                f,
                "the WWW-Authenticate headers are longer than {MAX_HEADER_BYTES} bytes"
            ),
            ChallengeError::TooManyChallenges => write!(
                f,
                "the WWW-Authenticate headers hold more than {MAX_CHALLENGES} challenges"
            ),
            ChallengeError::TooManyParams => write!(
                f,
                "a WWW-Authenticate challenge has more than {MAX_PARAMS} parameters"
            ),
            ChallengeError::DuplicateParam(name) => write!(
                f,
                "a WWW-Authenticate challenge names the parameter `{name}` twice"
            ),
            ChallengeError::Unterminated => write!(
                f,
                "a WWW-Authenticate header ends inside a quoted string (truncated?)"
            ),
            ChallengeError::Malformed(at) => write!(
                f,
                "a WWW-Authenticate header is malformed (at byte {at}; see RFC 9110 §11.6.1)"
            ),
            ChallengeError::Ambiguous => write!(
                f,
                "the Bearer challenges name different `resource_metadata` URLs"
            ),
        }
    }
}

impl std::error::Error for ChallengeError {}

/// The challenges of all `WWW-Authenticate` headers in `headers`, which are
/// `"name: value"` strings as Cargo passes them (`registry.headers`); other
/// headers are ignored.
pub fn from_headers<S: AsRef<str>>(headers: &[S]) -> Result<Vec<Challenge>, ChallengeError> {
    let values: Vec<&str> = headers
        .iter()
        .filter_map(|h| {
            let (name, value) = h.as_ref().split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("www-authenticate")
                .then_some(value)
        })
        .collect();
    parse_all(&values)
}

/// The challenges of several `WWW-Authenticate` header values.
pub fn parse_all(values: &[&str]) -> Result<Vec<Challenge>, ChallengeError> {
    if values.iter().map(|v| v.len()).sum::<usize>() > MAX_HEADER_BYTES {
        return Err(ChallengeError::TooLong);
    }
    let mut all = Vec::new();
    for value in values {
        all.extend(parse(value)?);
        if all.len() > MAX_CHALLENGES {
            return Err(ChallengeError::TooManyChallenges);
        }
    }
    Ok(all)
}

/// The `resource_metadata` of the `Bearer` challenges among `challenges`:
/// `None` when none names one; an error when two name different URLs.
pub fn resource_metadata(challenges: &[Challenge]) -> Result<Option<String>, ChallengeError> {
    let mut found: Option<&str> = None;
    for c in challenges.iter().filter(|c| c.is("Bearer")) {
        if let Some(url) = c.param("resource_metadata") {
            match found {
                Some(earlier) if earlier != url => return Err(ChallengeError::Ambiguous),
                _ => found = Some(url),
            }
        }
    }
    Ok(found.map(str::to_owned))
}

/// The challenges of one header value.
pub fn parse(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(ChallengeError::TooLong);
    }
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_list_separators();
        if p.at_end() {
            return Ok(out);
        }
        if out.len() == MAX_CHALLENGES {
            return Err(ChallengeError::TooManyChallenges);
        }
        let scheme = p.token().ok_or(ChallengeError::Malformed(p.i))?;
        let mut challenge = Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: Vec::new(),
        };
        let spaced = p.skip_spaces() > 0;
        if p.at_end() || p.peek() == Some(b',') {
            out.push(challenge);
            continue;
        }
        if !spaced {
            return Err(ChallengeError::Malformed(p.i));
        }
        if let Some(t68) = p.token68() {
            challenge.token68 = Some(t68.to_owned());
            out.push(challenge);
            p.skip_ows();
            if !p.at_end() && p.peek() != Some(b',') {
                return Err(ChallengeError::Malformed(p.i));
            }
            continue;
        }
        // auth-params, until the list ends or a new challenge starts.
        loop {
            let name = p.token().ok_or(ChallengeError::Malformed(p.i))?;
            p.skip_ows();
            if p.peek() != Some(b'=') {
                return Err(ChallengeError::Malformed(p.i));
            }
            p.i += 1;
            p.skip_ows();
            let val = if p.peek() == Some(b'"') {
                p.quoted()?
            } else {
                p.token().ok_or(ChallengeError::Malformed(p.i))?.to_owned()
            };
            let name = name.to_ascii_lowercase();
            if challenge.params.iter().any(|(n, _)| *n == name) {
                return Err(ChallengeError::DuplicateParam(name));
            }
            if challenge.params.len() == MAX_PARAMS {
                return Err(ChallengeError::TooManyParams);
            }
            challenge.params.push((name, val));
            p.skip_ows();
            if p.at_end() {
                break;
            }
            if p.peek() != Some(b',') {
                return Err(ChallengeError::Malformed(p.i));
            }
            p.skip_list_separators();
            if p.at_end() || !p.param_ahead() {
                break;
            }
        }
        out.push(challenge);
    }
}

/// A cursor over one header value.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips SP and HTAB; how many.
    fn skip_spaces(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    fn skip_ows(&mut self) {
        self.skip_spaces();
    }

    /// Skips commas and whitespace (empty list elements are allowed).
    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // tchars are ASCII, so the slice is UTF-8.
        (self.i > start).then(|| std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default())
    }

    /// A token68 that ends the challenge (end or `,` after optional
    /// whitespace); else nothing consumed.
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.i;
        let mut j = start;
        while self.s.get(j).copied().is_some_and(is_token68_char) {
            j += 1;
        }
        if j == start {
            return None;
        }
        while self.s.get(j) == Some(&b'=') {
            j += 1;
        }
        let mut k = j;
        while matches!(self.s.get(k), Some(b' ' | b'\t')) {
            k += 1;
        }
        if k < self.s.len() && self.s[k] != b',' {
            return None;
        }
        self.i = j;
        std::str::from_utf8(&self.s[start..j]).ok()
    }

    /// Whether a parameter (`token BWS "="`) starts here, rather than a new
    /// challenge. Consumes nothing.
    fn param_ahead(&mut self) -> bool {
        let start = self.i;
        let ahead = self.token().is_some() && {
            self.skip_ows();
            self.peek() == Some(b'=')
        };
        self.i = start;
        ahead
    }

    /// A quoted string, unescaped. Control characters other than HTAB are
    /// refused, inside or escaped.
    fn quoted(&mut self) -> Result<String, ChallengeError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(ChallengeError::Unterminated),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| ChallengeError::Malformed(self.i));
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        None => return Err(ChallengeError::Unterminated),
                        Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                            out.push(b);
                            self.i += 1;
                        }
                        Some(_) => return Err(ChallengeError::Malformed(self.i)),
                    }
                }
                Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                    out.push(b);
                    self.i += 1;
                }
                Some(_) => return Err(ChallengeError::Malformed(self.i)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Vec<Challenge> {
        parse(value).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    #[test]
    fn several_challenges_in_one_header_with_names_in_any_case() {
        let got = one(
            r#"Cargo login_url="https://r.example/me", BEARER Resource_Metadata="https://r.example/.well-known/oauth-protected-resource", realm="x""#,
        );
        assert_eq!(got.len(), 2);
        assert!(got[0].is("cargo") && got[1].is("Bearer"));
        assert_eq!(got[0].param("LOGIN_URL"), Some("https://r.example/me"));
        assert_eq!(got[1].params.len(), 2);
        assert_eq!(
            resource_metadata(&got).unwrap().as_deref(),
            Some("https://r.example/.well-known/oauth-protected-resource")
        );
    }

    #[test]
    fn token68_bare_schemes_tokens_and_empty_elements() {
        let got = one(r#" , Basic abc+/==, Negotiate,Bearer,  ,Newauth realm = apps , type=1"#);
        let schemes: Vec<&str> = got.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Negotiate", "Bearer", "Newauth"]);
        assert_eq!(got[0].token68.as_deref(), Some("abc+/=="));
        assert_eq!(
            got[3].params,
            [("realm".into(), "apps".into()), ("type".into(), "1".into())]
        );
        // `a=b` is a parameter, not a token68 `a=` followed by junk.
        assert_eq!(one("Bearer a=b")[0].param("a"), Some("b"));
        assert_eq!(one("Bearer a=")[0].token68.as_deref(), Some("a="));
    }

    #[test]
    fn quoted_strings_unescape_and_keep_commas() {
        let got =
            one(r#"Bearer error_description="a \"b\", c\\d", resource_metadata="https://h/x""#);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].param("error_description"), Some(r#"a "b", c\d"#));
        assert_eq!(got[0].param("resource_metadata"), Some("https://h/x"));
    }

    #[test]
    fn challenges_across_headers_as_cargo_passes_them() {
        let headers = [
            "content-type: text/plain".to_owned(),
            r#"WWW-Authenticate: Bearer error="invalid_request""#.to_owned(),
            r#"www-authenticate: Bearer resource_metadata="https://r.example/m""#.to_owned(),
        ];
        let got = from_headers(&headers).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            resource_metadata(&got).unwrap().as_deref(),
            Some("https://r.example/m")
        );
        // The same URL twice is fine, two different ones are not.
        let two = [
            r#"Bearer resource_metadata="https://r.example/m""#,
            r#"Bearer resource_metadata="https://r.example/m""#,
        ];
        assert!(resource_metadata(&parse_all(&two).unwrap()).is_ok());
        let two = [
            r#"Bearer resource_metadata="https://r.example/m""#,
            r#"Bearer resource_metadata="https://evil.example/m""#,
        ];
        assert_eq!(
            resource_metadata(&parse_all(&two).unwrap()),
            Err(ChallengeError::Ambiguous)
        );
        // Only Bearer's counts.
        let got = one(r#"Cargo resource_metadata="https://evil.example/m""#);
        assert_eq!(resource_metadata(&got), Ok(None));
    }

    #[test]
    fn malformed_truncated_and_oversized_headers_are_refused() {
        let fifty: Vec<String> = (0..50).map(|i| format!("p{i}=v")).collect();
        let fifty = format!("Bearer {}", fifty.join(", "));
        let many = vec!["Basic"; MAX_CHALLENGES + 1].join(", ");
        for (value, want) in [
            (
                r#"Bearer resource_metadata="https://r.example/m"#,
                ChallengeError::Unterminated,
            ),
            (r#"Bearer x="a\"#, ChallengeError::Unterminated),
            (fifty.as_str(), ChallengeError::TooManyParams),
            (many.as_str(), ChallengeError::TooManyChallenges),
            (
                r#"Bearer a=1, A=2"#,
                ChallengeError::DuplicateParam("a".into()),
            ),
        ] {
            assert_eq!(parse(value), Err(want), "{value}");
        }
        for value in [
            "Bearer=x",
            "Bearer a=1 b=2",
            "Bearer a=\"x\"y",
            "Bearer a=\"\u{1}\"",
            "(Bearer)",
            "Bearer a=1, \"x\"",
            "Bearer abc== def",
        ] {
            assert!(
                matches!(parse(value), Err(ChallengeError::Malformed(_))),
                "{value}: {:?}",
                parse(value)
            );
        }
        let huge = format!("Bearer a=\"{}\"", "x".repeat(MAX_HEADER_BYTES));
        assert_eq!(parse(&huge), Err(ChallengeError::TooLong));
        let halves = [
            "x".repeat(MAX_HEADER_BYTES / 2 + 1),
            "y".repeat(MAX_HEADER_BYTES / 2),
        ];
        let halves: Vec<&str> = halves.iter().map(String::as_str).collect();
        assert_eq!(parse_all(&halves), Err(ChallengeError::TooLong));
        // A message never quotes the header.
        let msg = parse(r#"Bearer secret-token-xyz ""#)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("secret-token-xyz"), "{msg}");
    }
}
