//! Where a key is in a config file's text, and messages with every value
//! taken out: a value in a config file may be a pasted secret.

/// `line L, column C` (1-based, columns in characters) of byte `offset`.
pub(super) fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}")
}

/// Where `key` is set in `[table]` (1-based line and column), found by
/// reading the text: table headers and `key =` lines; dotted or inline
/// forms are not located.
pub(super) fn locate_key(text: &str, table: &str, key: &str) -> Option<(usize, usize)> {
    let norm = |h: &str| -> String {
        h.chars()
            .filter(|c| !matches!(c, ' ' | '"' | '\''))
            .collect()
    };
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or("");
            current = norm(header);
            // A key that is itself a table: `[defaults.oidc]`.
            if current == format!("{table}.{key}") {
                return Some((i + 1, line.len() - trimmed.len() + 1));
            }
            continue;
        }
        if current == table
            && let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some((i + 1, line.len() - trimmed.len() + 1));
        }
    }
    None
}

/// The table and key whose value is at byte `offset`: the `key =` before it
/// on its line, else on the nearest line above that starts with one (a
/// value over several lines), within the same table. Only a key shaped like
/// ours (never a value) is returned.
pub(super) fn key_at(text: &str, offset: usize) -> Option<(String, String)> {
    let before = text.get(..offset)?;
    let norm = |h: &str| -> String {
        h.chars()
            .filter(|c| !matches!(c, ' ' | '"' | '\''))
            .collect()
    };
    let mut table = String::new();
    let mut key = None;
    let lines: Vec<&str> = before.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[')
            && i + 1 < lines.len()
        {
            table = norm(header.split(']').next().unwrap_or(""));
            key = None;
            continue;
        }
        // `key =` with a bare key: not a string inside a value over several lines.
        if let Some((name, _)) = trimmed.split_once('=') {
            let name = name.trim_end();
            if key_like(name) {
                key = Some(name.to_owned());
            }
        }
    }
    Some((table, key?))
}

/// A TOML or serde message with any quoted value removed: serde quotes the
/// offending value ("invalid type: string \"…\"", "unknown variant `…`"),
/// and a value in a config file may be a pasted secret.
pub(super) fn scrub_message(message: &str) -> String {
    let message = message.trim_end();
    // "unknown variant `VALUE`, expected …" / "unknown field `KEY`, expected
    // …": serde's list is after the LAST "`, expected " (the value itself
    // may hold that text, or backticks).
    for prefix in ["unknown variant `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (quoted, expected) = match rest.rsplit_once("`, expected ") {
                Some((quoted, expected)) => (quoted, Some(expected)),
                None => (rest.strip_suffix('`').unwrap_or(rest), None),
            };
            let what = if prefix.starts_with("unknown variant") {
                "unknown value".to_owned()
            } else if key_like(quoted) {
                format!("unknown field `{quoted}`")
            } else {
                "an unknown key (not shown: it looks like a value)".to_owned()
            };
            let expected = expected
                .map(|e| format!("; expected {}", scrub_quotes(e)))
                .unwrap_or_default();
            return format!("{what}{expected}");
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let expected = rest.rsplit_once(", expected ").map(|(_, e)| e);
        return match expected {
            Some(e) => format!("wrong type of value; expected {}", scrub_quotes(e)),
            None => "wrong type of value".to_owned(),
        };
    }
    if message.starts_with("invalid value: ") {
        let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
        return match expected {
            Some(e) => format!("invalid value; expected {}", scrub_quotes(e)),
            None => "invalid value".to_owned(),
        };
    }
    for prefix in ["duplicate key `", "missing field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let key = rest.rsplit_once('`').map_or(rest, |(k, _)| k);
            let key = if key_like(key) {
                format!("`{key}`")
            } else {
                "(a key that looks like a value; not shown)".to_owned()
            };
            return format!("{}{key}", &prefix[..prefix.len() - 1]);
        }
    }
    scrub_quotes(message)
}

/// `text` with every quoted part that is not a plain key name replaced.
pub(super) fn scrub_quotes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(['`', '"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find(quote) {
            Some(end) => {
                let inner = &after[..end];
                if key_like(inner) {
                    out.push(quote);
                    out.push_str(inner);
                    out.push(quote);
                } else {
                    out.push_str("(value not shown)");
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("(value not shown)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `s` looks like one of our key or enum names (lower-case words
/// joined by `-` or `_`, few digits) rather than a value or a secret.
pub(super) fn key_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && s.chars().filter(char::is_ascii_digit).count() <= 2
}
