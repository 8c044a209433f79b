//! Cargo's own files, for `setup`, `migrate` and `doctor`: where they are,
//! what Cargo makes of them ([`CargoConfig`]: the config files from the
//! current directory up, then `$CARGO_HOME/config.toml`, and the `CARGO_*`
//! variables that override them), how they are read and edited (with
//! `toml_edit`, so comments and layout stay as they were), written
//! (atomically, keeping the file's permissions) and shown (a small
//! unified-style line diff, with secret values redacted).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use toml_edit::{DocumentMut, Item, Table};

use super::redact_toml::{env_lines, redact_line};
use super::shown::shown;
use crate::env::{Environment, ProcessEnv};
use crate::registry::{CRATES_IO, env_mangle};

/// The name Cargo's config uses for this provider.
pub const PROVIDER: &str = "cargo-credential-corp";

/// Cargo's home: `$CARGO_HOME` if set (and not empty; a relative one is
/// taken from the current directory, as Cargo does), else `~/.cargo`.
pub fn cargo_home() -> anyhow::Result<PathBuf> {
    crate::cargo_files::cargo_home()
        .ok_or_else(|| anyhow!("cannot find your home folder; set CARGO_HOME"))
}

/// The file Cargo reads as `name.toml` in `dir`: the legacy `name` (no
/// extension) when it exists, even next to a `name.toml` (Cargo then warns
/// "both … exist. Using `name`"), else `name.toml`; as Cargo's
/// `get_file_path` does.
pub fn in_dir(dir: &Path, name: &str) -> PathBuf {
    let legacy = dir.join(name);
    if legacy.is_file() {
        legacy
    } else {
        dir.join(format!("{name}.toml"))
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
    Ok(chain_from(cwd, Some(&cargo_home()?)))
}

/// [`config_chain`] with Cargo's home given (`None`: unknown, so the project
/// files only).
fn chain_from(cwd: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    let mut chain: Vec<PathBuf> = cwd.ancestors().map(project_config).collect();
    if let Some(home) = home {
        let global = in_dir(home, "config");
        if !chain.iter().any(|p| same_file(p, &global)) {
            chain.push(global);
        }
    }
    chain
}

/// Whether two paths name the same file (the same path, or both resolving
/// to one existing file).
pub fn same_file(a: &Path, b: &Path) -> bool {
    crate::cargo_files::same_path(a, b)
}

/// Whether a provider entry of Cargo's config (`"cargo-credential-corp"`,
/// `"cargo-credential-corp --arg"`, or a path to the program) names this
/// provider.
pub fn is_this_provider(entry: &str) -> bool {
    is_this_program(provider_program(entry))
}

/// Whether a provider's program (a name, or a path; no arguments) is this
/// provider.
pub fn is_this_program(program: &str) -> bool {
    let file = program.rsplit(['/', '\\']).next().unwrap_or(program);
    file == PROVIDER || file.strip_suffix(".exe") == Some(PROVIDER)
}

/// The program of a provider entry (its first word), for messages: the
/// arguments are not shown.
pub fn provider_program(entry: &str) -> &str {
    entry.split_whitespace().next().unwrap_or("")
}

/// The program a `credential-provider` value names: the first word of a
/// string, the first element of an array (whole: a path may hold spaces);
/// `None` for anything else.
pub fn credential_provider_program(item: &Item) -> Option<&str> {
    match item.as_value()? {
        toml_edit::Value::String(s) => Some(provider_program(s.value())),
        // An array is argv already: its first element is the program, spaces
        // and all.
        toml_edit::Value::Array(a) => a.get(0)?.as_str(),
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
        self.check_unchanged()?;
        write_atomic(&self.path, &self.render(), None)
    }

    /// An error if the file changed on disk since it was read.
    fn check_unchanged(&self) -> anyhow::Result<()> {
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
        Ok(())
    }

    /// [`Self::save`], giving a new file the permissions `mode` (whatever
    /// the umask); an existing file keeps its own.
    pub fn save_new_with_mode(&self, mode: u32) -> anyhow::Result<()> {
        self.check_unchanged()?;
        write_atomic(&self.path, &self.render(), Some(mode))
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
/// to is replaced, the link stays). A new file gets `new_mode` if given, else
/// the usual permissions (0666 less the umask); its folder is created.
pub fn write_atomic(path: &Path, contents: &str, new_mode: Option<u32>) -> anyhow::Result<()> {
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
        } else if let Some(mode) = new_mode {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
            }
            #[cfg(not(unix))]
            let _ = mode;
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
/// they are equal). Values of `token` and `secret-key` keys and of the
/// `[env]` table are shown as `[redacted]`, and the user-info of URLs
/// (`http://user:pass@proxy`) as `***`, in changed and context lines alike
/// ([`redact_line`](super::redact_toml::redact_line)); control, bidi and zero-width characters escaped
/// ([`shown`]).
pub fn diff(label: &str, old: &str, new: &str, old_exists: bool) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let (a_env, b_env) = (env_lines(&a), env_lines(&b));
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
    let _ = writeln!(out, "--- {}\n+++ {}", shown(from), shown(label));
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
            let (mark, line, in_env) = match *op {
                Op::Same(i) => (' ', a[i], a_env[i]),
                Op::Del(i) => ('-', a[i], a_env[i]),
                Op::Add(j) => ('+', b[j], b_env[j]),
            };
            let text = line.strip_suffix('\n').unwrap_or(line);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let _ = writeln!(out, "{mark}{}", shown(&redact_line(text, in_env)));
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

/// Where a setting Cargo uses came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A config file.
    File(PathBuf),
    /// An environment variable (its name).
    Env(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(var) => f.write_str(var),
        }
    }
}

/// Cargo's view of the registries, read the way Cargo reads it: the config
/// files from the current directory up, then `$CARGO_HOME/config.toml`, and
/// the `CARGO_*` variables that override them; and `credentials.toml`. Only
/// registries, their credential providers and plaintext tokens (whose values
/// are never kept).
#[derive(Debug, Default)]
pub struct CargoConfig {
    /// Config files read, highest precedence first.
    pub files: Vec<PathBuf>,
    /// `[registries.NAME] index`, by name (highest precedence wins).
    pub indexes: BTreeMap<String, String>,
    /// Where each of [`indexes`](Self::indexes) came from.
    pub index_origins: BTreeMap<String, Origin>,
    /// `[registries.crates-io] protocol`, if set.
    pub crates_io_protocol: Option<String>,
    /// `[registries.NAME] credential-provider` (and `[registry]` for
    /// crates.io), by name, each as words.
    pub registry_providers: BTreeMap<String, Vec<String>>,
    /// `[registry] global-credential-providers`, merged as Cargo merges
    /// arrays (lower precedence first), each entry as words.
    pub global_providers: Option<Vec<Vec<String>>>,
    /// Registries with a `token` in `credentials.toml` (names only), and the
    /// file ([`load`](Self::load) only).
    pub plaintext_tokens: Vec<(String, PathBuf)>,
    /// Files that could not be parsed, with why (one that cannot be read is
    /// skipped).
    pub problems: Vec<String>,
}

fn words(value: &toml::Value) -> Option<Vec<String>> {
    match value {
        toml::Value::String(s) => Some(s.split_whitespace().map(str::to_owned).collect()),
        toml::Value::Array(a) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// Why an index URL cannot be used as written: empty (Cargo refuses it), or
/// with spaces around it (Cargo trims them, so a token bound to it as
/// written would be asked for under another URL).
fn unusable_index(index: &str) -> Option<&'static str> {
    if index.trim().is_empty() {
        Some("is empty")
    } else if index.trim() != index {
        Some("has spaces around it")
    } else {
        None
    }
}

fn read_toml(path: &Path, problems: &mut Vec<String>) -> Option<toml::Table> {
    let text = match fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                problems.push(format!("{} is not UTF-8 text", path.display()));
                return None;
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        // The error's kind only (never the contents).
        Err(e) => {
            problems.push(format!("{} cannot be read ({})", path.display(), e.kind()));
            return None;
        }
    };
    match text.parse::<toml::Table>() {
        Ok(table) => Some(table),
        Err(e) => {
            // The position only: a config file may hold a token.
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            problems.push(format!("{} is not valid TOML{at}", path.display()));
            None
        }
    }
}

/// A variable of `env`, if set to valid Unicode.
fn env_var(env: &dyn Environment, key: &str) -> Option<String> {
    env.var_os(key)?.into_string().ok()
}

impl CargoConfig {
    /// Reads Cargo's configuration as seen from `cwd` (with `$CARGO_HOME` and
    /// the variables of this process; `names`: registries whose variables
    /// are read even if no file names them), and which registries
    /// `credentials.toml` holds a token for.
    pub fn load(cwd: &Path, names: &[&str]) -> CargoConfig {
        let home = cargo_home().ok();
        let mut config = CargoConfig::read(cwd, home.as_deref(), &ProcessEnv, names);
        if let Some(home) = &home {
            config.read_credentials(home);
        }
        config
    }

    /// Reads Cargo's configuration as seen from `cwd`: the config files from
    /// `cwd` up, then the one in `home` (Cargo's home, when known), then the
    /// variables of `env`. The `CARGO_REGISTRIES_<NAME>_*` variables are read
    /// for the registries the files name and for `names` (Cargo reads them
    /// for any registry it is asked about, named in a file or not).
    pub fn read(
        cwd: &Path,
        home: Option<&Path>,
        env: &dyn Environment,
        names: &[&str],
    ) -> CargoConfig {
        let files = crate::cargo_files::config_files(Some(cwd), home);
        CargoConfig::from_files(files, env, names)
    }

    /// Only the user's own settings: `$CARGO_HOME/config.toml` (of `home`)
    /// and the variables of `env`, no project's `.cargo/config.toml`. What
    /// a token may be bound to: a project's config may come from a cloned
    /// repository, and must not decide which index receives a login.
    pub fn read_trusted(home: &Path, env: &dyn Environment, names: &[&str]) -> CargoConfig {
        let file = in_dir(home, "config");
        let files = if file.is_file() {
            vec![file]
        } else {
            Vec::new()
        };
        CargoConfig::from_files(files, env, names)
    }

    /// `files` (highest precedence first), then the variables of `env`.
    fn from_files(files: Vec<PathBuf>, env: &dyn Environment, names: &[&str]) -> CargoConfig {
        let mut config = CargoConfig::default();
        // Lowest precedence first, so that later values win and arrays join
        // in Cargo's order.
        for path in files.iter().rev() {
            let Some(table) = read_toml(path, &mut config.problems) else {
                continue;
            };
            config.apply(&table, path);
        }
        config.apply_env(env, names);
        config.files = files;
        config
    }

    /// The values of one config file (`path`) over those read so far.
    fn apply(&mut self, table: &toml::Table, path: &Path) {
        if let Some(registry) = table.get("registry").and_then(toml::Value::as_table) {
            if let Some(p) = registry.get("credential-provider").and_then(words) {
                self.registry_providers.insert(CRATES_IO.to_owned(), p);
            }
            if let Some(list) = registry
                .get("global-credential-providers")
                .and_then(toml::Value::as_array)
            {
                let entries = list
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
                self.global_providers
                    .get_or_insert_with(Vec::new)
                    .extend(entries);
            }
        }
        if let Some(registries) = table.get("registries").and_then(toml::Value::as_table) {
            for (name, r) in registries {
                let Some(r) = r.as_table() else { continue };
                if let Some(index) = r.get("index").and_then(toml::Value::as_str) {
                    if let Some(why) = unusable_index(index) {
                        self.problems.push(format!(
                            "{}: [registries.{}] index {why}",
                            path.display(),
                            name.escape_debug()
                        ));
                    } else {
                        self.indexes.insert(name.clone(), index.to_owned());
                        self.index_origins
                            .insert(name.clone(), Origin::File(path.to_owned()));
                    }
                }
                if let Some(p) = r.get("credential-provider").and_then(words) {
                    self.registry_providers.insert(name.clone(), p);
                }
                if name == CRATES_IO
                    && let Some(protocol) = r.get("protocol").and_then(toml::Value::as_str)
                {
                    self.crates_io_protocol = Some(protocol.to_owned());
                }
            }
        }
    }

    /// `CARGO_REGISTRIES_<NAME>_INDEX` and `_CREDENTIAL_PROVIDER` for the
    /// names known from the files and for `names`, crates.io's
    /// `_PROTOCOL`, and the global list's variable.
    fn apply_env(&mut self, env: &dyn Environment, names: &[&str]) {
        let mut all: Vec<String> = self.indexes.keys().cloned().collect();
        for name in names {
            if !all.iter().any(|n| n == name) {
                all.push((*name).to_owned());
            }
        }
        for name in all {
            let key = env_mangle(&name);
            let var = format!("CARGO_REGISTRIES_{key}_INDEX");
            if let Some(index) = env_var(env, &var) {
                if let Some(why) = unusable_index(&index) {
                    self.problems.push(format!("{var} {why}"));
                } else {
                    self.indexes.insert(name.clone(), index);
                    self.index_origins.insert(name.clone(), Origin::Env(var));
                }
            }
            if let Some(p) = env_var(env, &format!("CARGO_REGISTRIES_{key}_CREDENTIAL_PROVIDER")) {
                self.registry_providers
                    .insert(name, p.split_whitespace().map(str::to_owned).collect());
            }
        }
        // crates.io's own provider: `[registry] credential-provider`.
        if let Some(p) = env_var(env, "CARGO_REGISTRY_CREDENTIAL_PROVIDER") {
            self.registry_providers.insert(
                CRATES_IO.to_owned(),
                p.split_whitespace().map(str::to_owned).collect(),
            );
        }
        if let Some(protocol) = env_var(env, "CARGO_REGISTRIES_CRATES_IO_PROTOCOL") {
            self.crates_io_protocol = Some(protocol);
        }
        if let Some(list) = env_var(env, "CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS") {
            // A space-separated list in the variable: one word per provider.
            self.global_providers
                .get_or_insert_with(Vec::new)
                .extend(list.split_whitespace().map(|w| vec![w.to_owned()]));
        }
    }

    fn read_credentials(&mut self, home: &Path) {
        for name in ["credentials.toml", "credentials"] {
            let path = home.join(name);
            let Some(table) = read_toml(&path, &mut self.problems) else {
                continue;
            };
            if table.get("registry").and_then(|r| r.get("token")).is_some() {
                self.plaintext_tokens
                    .push((CRATES_IO.to_owned(), path.clone()));
            }
            if let Some(registries) = table.get("registries").and_then(toml::Value::as_table) {
                for (registry, r) in registries {
                    if r.get("token").is_some() {
                        self.plaintext_tokens.push((registry.clone(), path.clone()));
                    }
                }
            }
        }
    }

    /// The providers Cargo tries for the registry `name`, in the order it
    /// tries them: a registry's own `credential-provider` alone, else the
    /// global list from its last entry to its first (`cargo:token` when
    /// nothing is configured).
    pub fn chain(&self, name: Option<&str>) -> (Vec<Vec<String>>, bool) {
        if let Some(own) = name.and_then(|n| self.registry_providers.get(n)) {
            return (vec![own.clone()], true);
        }
        let global = self
            .global_providers
            .clone()
            .unwrap_or_else(|| vec![vec!["cargo:token".to_owned()]]);
        (global.into_iter().rev().collect(), false)
    }
}

/// Whether a provider entry given as words (its program, then its
/// arguments) is this provider.
pub fn is_this_entry(words: &[String]) -> bool {
    words
        .first()
        .is_some_and(|program| is_this_program(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_file_wins_as_in_cargo() {
        let dir = tempfile::tempdir().unwrap();
        let (toml, legacy) = (dir.path().join("config.toml"), dir.path().join("config"));
        assert_eq!(in_dir(dir.path(), "config"), toml, "neither exists");
        fs::write(&toml, "").unwrap();
        assert_eq!(in_dir(dir.path(), "config"), toml, "only config.toml");
        fs::write(&legacy, "").unwrap();
        assert_eq!(
            in_dir(dir.path(), "config"),
            legacy,
            "both: Cargo uses `config`"
        );
        fs::remove_file(&toml).unwrap();
        assert_eq!(in_dir(dir.path(), "config"), legacy, "only config");
    }

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
    fn cargo_order_registry_provider_alone_else_global_from_the_end() {
        let mut c = CargoConfig::default();
        c.apply(
            &"[registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp --serve listed\"]\n\
              [registries.a]\nindex = \"sparse+https://a/\"\ncredential-provider = \"cargo:token\"\n"
                .parse()
                .unwrap(),
            Path::new("config.toml"),
        );
        let (chain, own) = c.chain(Some("a"));
        assert!(own);
        assert_eq!(chain, vec![vec!["cargo:token".to_owned()]]);
        let (chain, own) = c.chain(Some("b"));
        assert!(!own);
        assert!(is_this_entry(&chain[0]));
        assert_eq!(chain[0][1..], ["--serve", "listed"]);
        assert_eq!(chain[1], ["cargo:token"]);
        assert!(is_this_entry(&[
            "/usr/local/bin/cargo-credential-corp".to_owned()
        ]));
        assert!(is_this_entry(&[
            "/opt/my tools/cargo-credential-corp".to_owned(),
            "--x".to_owned()
        ]));
    }

    #[test]
    fn unreadable_config_files_are_problems_and_missing_ones_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut problems = Vec::new();
        assert!(read_toml(&dir.path().join("absent.toml"), &mut problems).is_none());
        assert!(problems.is_empty());
        let binary = dir.path().join("binary.toml");
        fs::write(&binary, b"token = \"\xff\xfe secret\"\n").unwrap();
        assert!(read_toml(&binary, &mut problems).is_none());
        assert!(read_toml(dir.path(), &mut problems).is_none());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].ends_with("is not UTF-8 text"), "{problems:?}");
        assert!(problems[1].contains("cannot be read ("), "{problems:?}");
        assert!(!problems.iter().any(|p| p.contains("secret")));
    }

    #[test]
    fn an_empty_index_is_a_problem_not_an_index() {
        let mut c = CargoConfig::default();
        c.apply(
            &"[registries.a]\nindex = \"\"\ncredential-provider = \"cargo:token\"\n\
              [registries.b]\nindex = \"sparse+https://b/\"\n\
              [registries.\"c\\u001b[2J\"]\nindex = \" sparse+https://c/\"\n"
                .parse()
                .unwrap(),
            Path::new("config.toml"),
        );
        let env: std::collections::HashMap<String, String> =
            [("CARGO_REGISTRIES_B_INDEX".to_owned(), " ".to_owned())].into();
        c.apply_env(&env, &[]);
        assert!(!c.indexes.contains_key("a"));
        assert_eq!(
            c.indexes["b"], "sparse+https://b/",
            "the file's index stays"
        );
        assert_eq!(c.chain(Some("a")).0, vec![vec!["cargo:token".to_owned()]]);
        assert_eq!(c.problems.len(), 3, "{:?}", c.problems);
        assert!(
            c.problems[1].contains("has spaces around it"),
            "{:?}",
            c.problems
        );
        // A table name is shown escaped (no terminal control characters).
        assert!(
            !c.problems.iter().any(|p| p.contains('\u{1b}')),
            "{:?}",
            c.problems
        );
        assert_eq!(c.indexes.len(), 1);
    }

    #[test]
    fn an_array_provider_is_one_program_spaces_and_all() {
        let doc: DocumentMut =
            "p = [\"/opt/my tools/cargo-credential-corp\", \"--x\"]\nq = \"cargo-credential-corp --x\"\n"
                .parse()
                .unwrap();
        assert_eq!(
            credential_provider_program(&doc["p"]),
            Some("/opt/my tools/cargo-credential-corp")
        );
        assert_eq!(
            credential_provider_program(&doc["q"]),
            Some("cargo-credential-corp")
        );
    }

    #[test]
    fn crates_ios_provider_variable_is_read() {
        let mut c = CargoConfig::default();
        c.apply(
            &"[registry]\nglobal-credential-providers = [\"cargo-credential-corp\"]\n"
                .parse()
                .unwrap(),
            Path::new("config.toml"),
        );
        let env: std::collections::HashMap<String, String> = [(
            "CARGO_REGISTRY_CREDENTIAL_PROVIDER".to_owned(),
            "cargo:token".to_owned(),
        )]
        .into();
        c.apply_env(&env, &[]);
        let (chain, own) = c.chain(Some(CRATES_IO));
        assert!(own);
        assert_eq!(chain, vec![vec!["cargo:token".to_owned()]]);
        let (chain, own) = c.chain(Some("other"));
        assert!(!own && is_this_entry(&chain[0]));
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
        write_atomic(&link, "a = 2\n", None).unwrap();
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
        write_atomic(&fresh, "b = 1\n", None).unwrap();
        assert_eq!(fs::read_to_string(&fresh).unwrap(), "b = 1\n");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
