//! What `setup`'s diff hides in the lines of a TOML file it shows, the
//! context lines around a change included: `token` and `secret-key`
//! values (every line of one that spans lines), every value of Cargo's
//! `[env]` table, and what comes before the last `@` of any string value or
//! URL (a proxy's user-info and password, with a scheme or without).

/// How a line of a TOML text is shown by [`diff`](super::cargo_config::diff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Outside the `[env]` table.
    Other,
    /// A line of the `[env]` table (or a table below it), where Cargo's
    /// config keeps environment variables for builds, often secrets.
    Env,
    /// Inside a value of the `[env]` table that spans lines.
    EnvValue,
    /// Inside a `token` or `secret-key` value that spans lines (a
    /// multi-line string).
    SecretValue,
}

/// For each line of a TOML text: where it is ([`Place`]). A value that
/// spans lines (a multi-line string, an array) is followed to its end, so
/// that nothing in it is taken for a key or a table header.
pub fn env_lines(lines: &[&str]) -> Vec<Place> {
    let mut in_env = false;
    // Whether the value still open is a secret's (`token = """…`).
    let mut secret_open = false;
    let mut scan = Scan::default();
    lines
        .iter()
        .map(|line| {
            let continued = scan.open();
            scan.line(line);
            if continued {
                return if in_env {
                    Place::EnvValue
                } else if secret_open {
                    Place::SecretValue
                } else {
                    Place::Other
                };
            }
            secret_open = scan.open() && redact_value(line) != *line;
            if let Some(name) = table_header(line) {
                in_env = name == "env" || name.starts_with("env.");
                // The header itself holds no value.
                return Place::Other;
            }
            if in_env { Place::Env } else { Place::Other }
        })
        .collect()
}

/// What is still open at the end of the lines scanned so far: a multi-line
/// string, or brackets (an array or inline table spanning lines).
#[derive(Debug, Default)]
struct Scan {
    basic: bool,
    literal: bool,
    depth: u32,
}

impl Scan {
    fn open(&self) -> bool {
        self.basic || self.literal || self.depth > 0
    }

    fn line(&mut self, line: &str) {
        let mut rest = line;
        while !rest.is_empty() {
            if self.basic || self.literal {
                let close = if self.basic { "\"\"\"" } else { "'''" };
                match rest.find(close) {
                    Some(at) => {
                        (self.basic, self.literal) = (false, false);
                        rest = &rest[at + 3..];
                    }
                    None => return,
                }
                continue;
            }
            let Some(c) = rest.chars().next() else { return };
            if rest.starts_with("\"\"\"") {
                self.basic = true;
                rest = &rest[3..];
            } else if rest.starts_with("'''") {
                self.literal = true;
                rest = &rest[3..];
            } else if c == '"' || c == '\'' {
                // A one-line string: skip to its end (`\"` escapes in `"…"`).
                let body = &rest[1..];
                let mut end = body.len();
                let mut escaped = false;
                for (i, ch) in body.char_indices() {
                    if c == '"' && ch == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if ch == c && !escaped {
                        end = i + 1;
                        break;
                    }
                    escaped = false;
                }
                rest = body.get(end..).unwrap_or("");
            } else if c == '#' {
                return;
            } else {
                match c {
                    '[' | '{' => self.depth += 1,
                    ']' | '}' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                rest = &rest[c.len_utf8()..];
            }
        }
    }
}

/// The name of the table a `[header]` line opens (quotes and spaces
/// removed), `None` for any other line (an array of tables `[[…]]` opens
/// none of interest here: it is `Some` of its name too, which is never `env`).
fn table_header(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('[')?;
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    let end = rest.find(']')?;
    let name = &rest[..end];
    let key_like = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '"' | '\'' | ' ' | '\t'));
    let after = rest[end..].trim_start_matches(']').trim();
    (key_like && (after.is_empty() || after.starts_with('#'))).then(|| {
        name.chars()
            .filter(|c| !matches!(c, '"' | '\'' | ' ' | '\t'))
            .collect()
    })
}

/// `line` as [`diff`](super::cargo_config::diff) shows it: [`redact_value`], URL user-info as `***`,
/// and every value of the `[env]` table (`place`: where the line is;
/// `env.NAME = …` and `env = { … }` are caught here) as `[redacted]`.
pub fn redact_line(line: &str, place: Place) -> String {
    let line = redact_userinfo(&redact_at_strings(&redact_value(line)));
    let trimmed = line.trim_start();
    if matches!(place, Place::EnvValue | Place::SecretValue) {
        let indent = &line[..line.len() - trimmed.len()];
        return format!("{indent}[redacted]");
    }
    let in_env = place == Place::Env;
    let dotted_env = ["env", "\"env\"", "'env'"].iter().any(|k| {
        trimmed
            .strip_prefix(k)
            .is_some_and(|r| r.trim_start().starts_with(['.', '=']))
    });
    if trimmed.is_empty() || trimmed.starts_with('#') || !(in_env || dotted_env) {
        return line;
    }
    let indent = &line[..line.len() - trimmed.len()];
    let key_like = |key: &str| {
        key.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '"' | '\'' | ' ' | '\t'))
    };
    match line.find('=') {
        Some(eq) if key_like(&line[..eq]) => format!("{} [redacted]", &line[..=eq]),
        // The rest of a value that spans lines.
        _ => format!("{indent}[redacted]"),
    }
}

/// `line` with every one-line string value that holds an `@` shown as
/// `***@` and what follows its last `@` (the scheme kept, if any): a
/// proxy's user-info in libcurl's form without a scheme (`user:pass@host`),
/// and passwords with `"`, `'` or `\` in them, which end a URL for
/// [`redact_userinfo`]. The string is read as TOML reads it (escapes in
/// `"…"`), so its end is found whatever it holds.
fn redact_at_strings(line: &str) -> String {
    let hide = |content: &str| -> String {
        let Some(at) = content.rfind('@') else {
            return content.to_owned();
        };
        match content[..at].find("://") {
            Some(s) => format!("{}***{}", &content[..s + 3], &content[at..]),
            None => format!("***{}", &content[at..]),
        }
    };
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '#' || rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            // A comment (URLs in it: redact_userinfo), or a multi-line
            // string (followed by env_lines).
            break;
        }
        if c != '"' && c != '\'' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let body = &rest[1..];
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in body.char_indices() {
            if c == '"' && ch == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if ch == c && !escaped {
                end = Some(i);
                break;
            }
            escaped = false;
        }
        let Some(end) = end else {
            // Not closed on this line: what is left is hidden if it may be
            // user-info.
            out.push(c);
            out.push_str(&hide(body));
            return out;
        };
        out.push(c);
        out.push_str(&hide(&body[..end]));
        out.push(c);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `line` with the user-info of every URL in it (`scheme://user:pass@host`)
/// replaced by `***`: a proxy's password in `[http] proxy`. Everything up
/// to the last `@` of the URL goes (a password with an unencoded `/` or `@`
/// is hidden whole; a path holding `@` hides more than needed, which is
/// the side to err on).
fn redact_userinfo(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let url_len = tail
            .find(|c: char| matches!(c, '"' | '\'' | '\\') || c.is_whitespace())
            .unwrap_or(tail.len());
        let url = &tail[..url_len];
        match url.rfind('@') {
            Some(user_end) => {
                out.push_str("***");
                out.push_str(&url[user_end..]);
            }
            None => out.push_str(url),
        }
        rest = &tail[url_len..];
    }
    out.push_str(rest);
    out
}

/// `line` with the value of a `token` or `secret-key` key replaced by
/// `[redacted]` (`token = "…"`, `registry.token = "…"`, `{ token = "…" }`).
fn redact_value(line: &str) -> String {
    for key in ["token", "secret-key"] {
        let mut from = 0;
        while let Some(pos) = line[from..].find(key) {
            let start = from + pos;
            let end = start + key.len();
            let before_ok = line[..start]
                .chars()
                .next_back()
                .is_none_or(|c| matches!(c, ' ' | '\t' | '.' | '{' | ',' | '"' | '\''));
            let rest = line[end..].trim_start_matches(['"', '\'']).trim_start();
            if before_ok && rest.starts_with('=') {
                let eq = line.len() - rest.len();
                return format!("{} [redacted]", &line[..=eq]);
            }
            from = end;
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_and_env_values_are_redacted() {
        for (line, want) in [
            (
                "proxy = \"http://alice:pw@proxy.example:3128\"",
                "proxy = \"http://***@proxy.example:3128\"",
            ),
            (
                "proxy = 'socks5://u@p' # x https://a:b@c/d",
                "proxy = 'socks5://***@p' # x https://***@c/d",
            ),
            (
                "proxy = \"http://u:pa/ss@w0rd@proxy:1\"",
                "proxy = \"http://***@proxy:1\"",
            ),
            (
                "index = \"sparse+https://r.example/\"",
                "index = \"sparse+https://r.example/\"",
            ),
            ("env.SECRET = \"s\"", "env.SECRET = [redacted]"),
            ("env = { A = \"s\" }", "env = [redacted]"),
            ("environment = 1", "environment = 1"),
            // issue 16 F4: no scheme (libcurl's form), `"` in a literal
            // string, an escaped backslash.
            (
                "proxy = \"alice:S3cretProxyPw@proxy.corp.example:3128\"",
                "proxy = \"***@proxy.corp.example:3128\"",
            ),
            (
                "proxy = 'http://alice:Pw\"Secret-Part2@proxy.corp.example:3128'",
                "proxy = 'http://***@proxy.corp.example:3128'",
            ),
            (
                "proxy = \"http://alice:pw\\\\Secret2@proxy.corp.example:3128\"",
                "proxy = \"http://***@proxy.corp.example:3128\"",
            ),
            (
                "proxy = \"http://alice:p\\\"w@proxy:1\" # x",
                "proxy = \"http://***@proxy:1\" # x",
            ),
        ] {
            assert_eq!(redact_line(line, Place::Other), want, "{line}");
        }
        let text = "[env]\nA = \"s1\"\nB = { value = \"s2\", force = true }\nC = \'\'\'\nmulti\npw=x\n\'\'\'\n\
                    D = [\n  \"a=b\", # ]\n]\n# note\n[ registry ] # x\nx = \'\'\'\n[env]\n\'\'\'\n\
                    default = \"corp\"\n[env.X]\nvalue = \"s3\"\n";
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let shown: Vec<String> = lines
            .iter()
            .zip(env_lines(&lines))
            .map(|(l, e)| redact_line(l.trim_end(), e))
            .collect();
        assert_eq!(
            shown,
            [
                "[env]",
                "A = [redacted]",
                "B = [redacted]",
                "C = [redacted]",
                "[redacted]",
                "[redacted]",
                "[redacted]",
                "D = [redacted]",
                "  [redacted]",
                "[redacted]",
                "# note",
                "[ registry ] # x",
                "x = \'\'\'",
                "[env]",
                "\'\'\'",
                "default = \"corp\"",
                "[env.X]",
                "value = [redacted]",
            ]
        );
    }

    #[test]
    fn every_line_of_a_multi_line_secret_is_redacted() {
        // issue 16 F4: only `[env]` values were followed across lines.
        let text = "[registry]\ntoken = \"\"\"\nline-two-secret\nline-three\"\"\"\n\
                    default = \"corp\"\n[registries.x]\nsecret-key = '''\nk4.secret.abc\n'''\n\
                    description = \"\"\"\nplain\n\"\"\"\n";
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let shown: Vec<String> = lines
            .iter()
            .zip(env_lines(&lines))
            .map(|(l, e)| redact_line(l.trim_end(), e))
            .collect();
        assert_eq!(
            shown,
            [
                "[registry]",
                "token = [redacted]",
                "[redacted]",
                "[redacted]",
                "default = \"corp\"",
                "[registries.x]",
                "secret-key = [redacted]",
                "[redacted]",
                "[redacted]",
                "description = \"\"\"",
                "plain",
                "\"\"\"",
            ]
        );
    }

    #[test]
    fn secret_values_are_redacted_but_provider_lists_are_not() {
        for (line, want) in [
            ("token = \"abc\"", "token = [redacted]"),
            ("  registry.token=\"abc\"", "  registry.token= [redacted]"),
            (
                "foo = { index = \"x\", token = \"abc\" }",
                "foo = { index = \"x\", token = [redacted]",
            ),
            ("\"token\" = 'abc'", "\"token\" = [redacted]"),
            ("secret-key = \"k4.secret\"", "secret-key = [redacted]"),
        ] {
            assert_eq!(redact_value(line), want, "{line}");
        }
        for line in [
            "global-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]",
            "# the token goes here",
            "secret-key-subject = \"x\"",
            "tokens = 1",
        ] {
            assert_eq!(redact_value(line), line);
        }
    }
}
