//! Cargo's own files, for `setup` and `migrate`: where they are, how they are
//! read and edited (with `toml_edit`, so comments and layout stay as they
//! were), written (atomically, keeping the file's permissions) and shown (a
//! small unified-style line diff, with secret values redacted).

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use toml_edit::{DocumentMut, Item, Table};

/// The name Cargo's config uses for this provider.
pub const PROVIDER: &str = "cargo-credential-corp";

/// Cargo's home: `$CARGO_HOME` if set (and not empty), else `~/.cargo`.
pub fn cargo_home() -> anyhow::Result<PathBuf> {
    match std::env::var_os("CARGO_HOME") {
        Some(home) if !home.is_empty() => Ok(PathBuf::from(home)),
        _ => dirs::home_dir()
            .map(|h| h.join(".cargo"))
            .ok_or_else(|| anyhow!("cannot find your home folder; set CARGO_HOME")),
    }
}

/// The file Cargo reads as `name.toml` in `dir`: `name.toml`, or the legacy
/// `name` (no extension) when only that one exists, as Cargo does.
pub fn in_dir(dir: &Path, name: &str) -> PathBuf {
    let toml = dir.join(format!("{name}.toml"));
    let legacy = dir.join(name);
    if !toml.exists() && legacy.is_file() {
        legacy
    } else {
        toml
    }
}

/// `$CARGO_HOME/config.toml`: the user's global Cargo config.
pub fn global_config() -> anyhow::Result<PathBuf> {
    Ok(in_dir(&cargo_home()?, "config"))
}

/// `$CARGO_HOME/credentials.toml`: where `cargo login` with `cargo:token`
/// keeps tokens in plain text.
pub fn credentials_file() -> anyhow::Result<PathBuf> {
    Ok(in_dir(&cargo_home()?, "credentials"))
}

/// `.cargo/config.toml` in `dir`: a project's Cargo config.
pub fn project_config(dir: &Path) -> PathBuf {
    in_dir(&dir.join(".cargo"), "config")
}

/// Every config file Cargo reads from `cwd`, highest precedence first: the
/// `.cargo/config.toml` of `cwd` and of each folder above it, then
/// `$CARGO_HOME/config.toml` (each once). Files that do not exist are listed
/// too.
pub fn config_chain(cwd: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut chain: Vec<PathBuf> = cwd.ancestors().map(project_config).collect();
    let global = global_config()?;
    if !chain.iter().any(|p| same_file(p, &global)) {
        chain.push(global);
    }
    Ok(chain)
}

/// Whether two paths name the same file (the same path, or both resolving
/// to one existing file).
pub fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

/// Whether a provider entry of Cargo's config (`"cargo-credential-corp"`,
/// `"cargo-credential-corp --arg"`, or a path to the program) names this
/// provider.
pub fn is_this_provider(entry: &str) -> bool {
    let program = provider_program(entry);
    let file = program.rsplit(['/', '\\']).next().unwrap_or(program);
    file == PROVIDER || file.strip_suffix(".exe") == Some(PROVIDER)
}

/// The program of a provider entry (its first word), for messages: the
/// arguments are not shown.
pub fn provider_program(entry: &str) -> &str {
    entry.split_whitespace().next().unwrap_or("")
}

/// The program a `credential-provider` value names: the first word of a
/// string, the first element of an array; `None` for anything else.
pub fn credential_provider_program(item: &Item) -> Option<&str> {
    match item.as_value()? {
        toml_edit::Value::String(s) => Some(provider_program(s.value())),
        toml_edit::Value::Array(a) => a.get(0)?.as_str().map(provider_program),
        _ => None,
    }
}

/// A TOML file as read, and its document for editing.
#[derive(Debug)]
pub struct TomlFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its text as read (empty when the file does not exist).
    pub text: String,
    /// Whether the file exists.
    pub exists: bool,
    /// The parsed document, to edit.
    pub doc: DocumentMut,
}

impl TomlFile {
    /// Reads and parses `path`; a missing file is an empty document. A file
    /// that is not valid TOML is an error naming the file, line and column,
    /// never quoting its text (it may hold a token).
    pub fn load(path: &Path) -> anyhow::Result<TomlFile> {
        let (text, exists) = match fs::read(path) {
            Ok(bytes) => (
                String::from_utf8(bytes)
                    .map_err(|_| anyhow!("{} is not valid UTF-8", path.display()))?,
                true,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let doc = parse(&text, path)?;
        Ok(TomlFile {
            path: path.to_owned(),
            text,
            exists,
            doc,
        })
    }

    /// The document as it would be written now.
    pub fn render(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the document back atomically, unless the file changed on disk
    /// since it was read (then nothing is written and it is an error).
    pub fn save(&self) -> anyhow::Result<()> {
        let now = match fs::read(&self.path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let unchanged = match &now {
            Some(bytes) => self.exists && bytes == self.text.as_bytes(),
            None => !self.exists,
        };
        if !unchanged {
            bail!(
                "{} changed while this command ran; nothing was written. Run it again",
                self.path.display()
            );
        }
        write_atomic(&self.path, &self.render())
    }
}

/// Parses `text` (read from `path`) as a TOML document.
pub fn parse(text: &str, path: &Path) -> anyhow::Result<DocumentMut> {
    text.parse::<DocumentMut>().map_err(|e| {
        let at = e
            .span()
            .map(|span| format!(" at {}", position(text, span.start)))
            .unwrap_or_default();
        // The parser's message, without the quoted source line `Display`
        // adds, and with anything token-shaped removed.
        let message = crate::redact::redact(e.message().trim_end(), &[]);
        anyhow!(
            "{} is not valid TOML{at}: {message}; nothing was changed",
            path.display()
        )
    })
}

/// `line L, column C` (1-based, columns in characters) of byte `offset`.
fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}")
}

/// Replaces `path` with `contents` atomically: a temporary file in the same
/// folder, given the old file's permissions before anything is written to it,
/// synced, then renamed over. A symbolic link is followed (the file it points
/// to is replaced, the link stays). A new file gets the usual permissions
/// (0666 less the umask); its folder is created.
pub fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path)
            .with_context(|| format!("cannot resolve the link {}", path.display()))?,
        _ => path.to_owned(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let existing = fs::metadata(&target).ok();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".to_owned());
    let (tmp, mut file) = create_temp(&dir, &name, existing.is_some())?;
    let result = (|| -> std::io::Result<()> {
        if let Some(meta) = &existing {
            fs::set_permissions(&tmp, meta.permissions())?;
        }
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", target.display()));
    }
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A new temporary file next to the target: private until the target's
/// permissions are copied onto it.
fn create_temp(dir: &Path, name: &str, private: bool) -> anyhow::Result<(PathBuf, fs::File)> {
    let mut last = None;
    for attempt in 0..100 {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(if private { 0o600 } else { 0o666 });
        }
        #[cfg(not(unix))]
        let _ = private;
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create a file in {}", dir.display()));
            }
        }
    }
    Err(last
        .map(anyhow::Error::from)
        .unwrap_or_else(|| anyhow!("no name left")))
    .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

/// Removes `key` from the table at `table_path` (e.g. `["registries",
/// "my-private"]`), and then that table, and its parents, if they are left
/// empty. Comment lines that stood before a removed line are kept where they
/// were (moved onto what follows). `false` when there was no such key.
pub fn remove_key(doc: &mut DocumentMut, table_path: &[&str], key: &str) -> bool {
    let Some(table) = table_at(doc.as_item_mut(), table_path) else {
        return false;
    };
    let carried = match table.as_table_like_mut() {
        Some(t) => {
            let prefix = t
                .key(key)
                .map(|k| comments(k.leaf_decor().prefix()))
                .unwrap_or_default();
            let Some(index) = t.iter().position(|(k, _)| k == key) else {
                return false;
            };
            t.remove(key);
            // Onto the next value of the same table, if there is one.
            let next = t
                .iter()
                .nth(index)
                .filter(|(_, item)| item.is_value())
                .map(|(k, _)| k.to_owned());
            match next {
                Some(next) => {
                    if let Some(mut k) = t.key_mut(&next) {
                        prepend_prefix(k.leaf_decor_mut(), &prefix);
                    }
                    String::new()
                }
                None => prefix,
            }
        }
        None => return false,
    };
    let mut carried = carried;
    let mut path = table_path.to_vec();
    let mut position = table_position(doc.as_table(), &path);
    // Remove the tables left empty, innermost first.
    while let Some((last, parent_path)) = path.split_last() {
        let parent_path = parent_path.to_vec();
        let Some(parent) = table_at(doc.as_item_mut(), &parent_path) else {
            break;
        };
        let Some(parent) = parent.as_table_like_mut() else {
            break;
        };
        let empty = parent
            .get(last)
            .and_then(Item::as_table_like)
            .is_some_and(|t| t.is_empty());
        if !empty {
            break;
        }
        if let Some(Item::Table(t)) = parent.get(last) {
            position = position.or(t.position());
            carried = comments(t.decor().prefix()) + &carried;
        }
        parent.remove(last);
        path = parent_path;
    }
    if !carried.is_empty() {
        place_after(doc, position, &carried);
    }
    true
}

/// The item at `path` below `root` (`root` itself for an empty path).
fn table_at<'a>(root: &'a mut Item, path: &[&str]) -> Option<&'a mut Item> {
    let mut item = root;
    for key in path {
        item = item.as_table_like_mut()?.get_mut(key)?;
    }
    Some(item)
}

/// The document position of the table at `path` (`None` for dotted,
/// implicit or inline tables).
fn table_position(root: &Table, path: &[&str]) -> Option<isize> {
    let (first, rest) = path.split_first()?;
    let mut item = root.get(first)?;
    for key in rest {
        item = item.as_table_like()?.get(key)?;
    }
    item.as_table().filter(|t| !t.is_implicit())?.position()
}

/// The text of `prefix` if it holds a comment, else nothing (blank lines
/// alone are not worth keeping).
fn comments(prefix: Option<&toml_edit::RawString>) -> String {
    let text = prefix.and_then(|p| p.as_str()).unwrap_or("");
    if text.contains('#') {
        text.to_owned()
    } else {
        String::new()
    }
}

fn prepend_prefix(decor: &mut toml_edit::Decor, text: &str) {
    // Blank lines at its end are dropped: what follows has its own.
    let text = text.trim_end_matches(['\n', '\r', ' ', '\t']);
    if text.is_empty() {
        return;
    }
    let old = decor
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    decor.set_prefix(format!("{text}\n{old}"));
}

/// Puts `text` (comment lines of something removed) before the first table
/// header after `position`, or at the end of the document.
fn place_after(doc: &mut DocumentMut, position: Option<isize>, text: &str) {
    let mut best: Option<(isize, Vec<String>)> = None;
    if let Some(after) = position {
        find_next(doc.as_table(), &mut Vec::new(), after, &mut best);
    }
    if let Some((_, path)) = best {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if let Some(Item::Table(t)) = table_at(doc.as_item_mut(), &path) {
            prepend_prefix(t.decor_mut(), text);
            return;
        }
    }
    let trailing = doc.trailing().as_str().unwrap_or("").to_owned();
    let mut text = text.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    doc.set_trailing(format!("{text}{trailing}"));
}

fn find_next(
    table: &Table,
    path: &mut Vec<String>,
    after: isize,
    best: &mut Option<(isize, Vec<String>)>,
) {
    for (key, item) in table.iter() {
        if let Item::Table(t) = item {
            path.push(key.to_owned());
            if !t.is_implicit()
                && let Some(p) = t.position()
                && p > after
                && best.as_ref().is_none_or(|(b, _)| p < *b)
            {
                *best = Some((p, path.clone()));
            }
            find_next(t, path, after, best);
            path.pop();
        }
    }
}

/// Lines of context around each change in [`diff`].
const CONTEXT: usize = 3;

/// A unified-style diff of `old` to `new` for the file `label` (empty when
/// they are equal). Values of `token` and `secret-key` keys are shown as
/// `[redacted]`, in changed and context lines alike.
pub fn diff(label: &str, old: &str, new: &str, old_exists: bool) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = line_ops(&a, &b);
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if matches!(op, Op::Same(..)) {
            continue;
        }
        let (start, end) = (i.saturating_sub(CONTEXT), (i + 1 + CONTEXT).min(ops.len()));
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    if hunks.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let from = if old_exists { label } else { "/dev/null" };
    let _ = writeln!(out, "--- {from}\n+++ {label}");
    for (start, end) in hunks {
        let before = &ops[..start];
        let hunk = &ops[start..end];
        let count = |ops: &[Op], old_side: bool| {
            ops.iter()
                .filter(|o| match o {
                    Op::Same(..) => true,
                    Op::Del(_) => old_side,
                    Op::Add(_) => !old_side,
                })
                .count()
        };
        let (old_before, new_before) = (count(before, true), count(before, false));
        let (old_len, new_len) = (count(hunk, true), count(hunk, false));
        let _ = writeln!(
            out,
            "@@ -{},{old_len} +{},{new_len} @@",
            old_before + usize::from(old_len > 0),
            new_before + usize::from(new_len > 0)
        );
        for op in hunk {
            let (mark, line) = match *op {
                Op::Same(i) => (' ', a[i]),
                Op::Del(i) => ('-', a[i]),
                Op::Add(j) => ('+', b[j]),
            };
            let text = line.strip_suffix('\n').unwrap_or(line);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let _ = writeln!(out, "{mark}{}", redact_value(text));
            if !line.ends_with('\n') {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize),
    Del(usize),
    Add(usize),
}

/// The edit script from `a` to `b`: common ends first, then a longest
/// common subsequence of the rest (small: an edit touches a few lines).
fn line_ops(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops: Vec<Op> = (0..prefix).map(Op::Same).collect();
    if ma.len().saturating_mul(mb.len()) > 4_000_000 {
        // Too large to align: everything in between replaced.
        ops.extend((0..ma.len()).map(|i| Op::Del(prefix + i)));
        ops.extend((0..mb.len()).map(|j| Op::Add(prefix + j)));
    } else {
        // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
        let width = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * width];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * width + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                ops.push(Op::Same(prefix + i));
                i += 1;
                j += 1;
            } else if i < ma.len()
                && (j == mb.len() || lcs[(i + 1) * width + j] >= lcs[i * width + j + 1])
            {
                ops.push(Op::Del(prefix + i));
                i += 1;
            } else {
                ops.push(Op::Add(prefix + j));
                j += 1;
            }
        }
    }
    let sa = a.len() - suffix;
    ops.extend((0..suffix).map(|k| Op::Same(sa + k)));
    ops
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
    fn diff_shows_changes_with_context_and_redacts_tokens() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n[registry]\ntoken = \"s3cr3t\"\n";
        let new = "a\nb\nc\nd\ne\nf\ng\nh\n[registry]\ntoken = \"s3cr3t\"\nx = 1\n";
        let d = diff("f.toml", old, new, true);
        assert_eq!(
            d,
            "--- f.toml\n+++ f.toml\n@@ -8,3 +8,4 @@\n h\n [registry]\n token = [redacted]\n+x = 1\n"
        );
        assert_eq!(diff("f.toml", old, old, true), "");
        let d = diff("f.toml", "", "x = 1\n", false);
        assert_eq!(d, "--- /dev/null\n+++ f.toml\n@@ -0,0 +1,1 @@\n+x = 1\n");
        let d = diff("f.toml", "a\nb", "a\nc", true);
        assert_eq!(
            d,
            "--- f.toml\n+++ f.toml\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn diff_splits_distant_changes_into_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new: String = (1..=20)
            .map(|i| match i {
                2 => "two\n".to_owned(),
                19 => "nineteen\n".to_owned(),
                i => format!("{i}\n"),
            })
            .collect();
        let d = diff("f", &old, &new, true);
        assert!(
            d.contains("@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n"),
            "{d}"
        );
        assert!(
            d.contains("@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+nineteen\n 20\n"),
            "{d}"
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

    #[test]
    fn removing_a_key_keeps_comments_and_drops_empty_tables() {
        let text = "# my credentials\n[registry]\ntoken = \"a\"\n\n# the private one\n[registries.p]\n# its token\ntoken = \"b\"\n\n[registries.q]\ntoken = \"c\"\nother = 1 # keep\n";
        let mut doc = parse(text, Path::new("c.toml")).unwrap();
        assert!(remove_key(&mut doc, &["registry"], "token"));
        assert!(remove_key(&mut doc, &["registries", "p"], "token"));
        assert!(remove_key(&mut doc, &["registries", "q"], "token"));
        assert!(!remove_key(&mut doc, &["registries", "q"], "token"));
        assert!(!remove_key(&mut doc, &["nope"], "token"));
        let out = doc.to_string();
        assert_eq!(
            out,
            "# my credentials\n\n# the private one\n# its token\n\n[registries.q]\nother = 1 # keep\n"
        );
        let mut doc = parse("[registries.p]\ntoken = \"b\"\n", Path::new("c")).unwrap();
        remove_key(&mut doc, &["registries", "p"], "token");
        assert_eq!(doc.to_string(), "");
    }

    #[test]
    fn invalid_toml_names_the_place_but_not_the_text() {
        let err = parse(
            "[registry]\ntoken = \"abc\nx = 1\n",
            Path::new("creds.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("creds.toml") && err.contains("line 2"),
            "{err}"
        );
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn provider_entries() {
        for yes in [
            "cargo-credential-corp",
            "cargo-credential-corp --source env",
            "/usr/local/bin/cargo-credential-corp",
            "C:\\bin\\cargo-credential-corp.exe",
        ] {
            assert!(is_this_provider(yes), "{yes}");
        }
        for no in [
            "cargo:token",
            "cargo-credential-corpx",
            "",
            "x cargo-credential-corp",
        ] {
            assert!(!is_this_provider(no), "{no}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn atomic_writes_keep_permissions_and_links() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        fs::write(&real, "a = 1\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, "a = 2\n").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "a = 2\n");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let fresh = dir.path().join("sub").join("new.toml");
        write_atomic(&fresh, "b = 1\n").unwrap();
        assert_eq!(fs::read_to_string(&fresh).unwrap(), "b = 1\n");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
