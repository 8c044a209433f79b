//! Cargo's files read for editing (with `toml_edit`, so comments and layout
//! stay as they were) and written atomically, keeping the file's permissions.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use toml_edit::{DocumentMut, Item, Table};

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
        let (text, exists) = match read_config(path)? {
            Some(bytes) => (
                String::from_utf8(bytes)
                    .map_err(|_| anyhow!("{} is not valid UTF-8", path.display()))?,
                true,
            ),
            None => (String::new(), false),
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
        let now = read_config(&self.path)?;
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

/// The bytes of the config file `path` (`None` when missing), read with
/// [`crate::fs::read`]: never blocking on a FIFO (a cloned repository may
/// plant one at `.cargo/config.toml`), at most
/// [`crate::cargo_files::MAX_CONFIG_BYTES`].
fn read_config(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    use crate::fs::{Owner, ReadError};
    match crate::fs::read(path, crate::cargo_files::MAX_CONFIG_BYTES, Owner::Anyone) {
        Ok(bytes) => Ok(Some(bytes.to_vec())),
        Err(ReadError::NotFound) => Ok(None),
        Err(e) => Err(anyhow!("{} {e}; nothing was written", path.display())),
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
pub(super) fn position(text: &str, offset: usize) -> String {
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
pub(super) fn create_temp(
    dir: &Path,
    name: &str,
    private: bool,
) -> anyhow::Result<(PathBuf, fs::File)> {
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
pub(super) fn table_at<'a>(root: &'a mut Item, path: &[&str]) -> Option<&'a mut Item> {
    let mut item = root;
    for key in path {
        item = item.as_table_like_mut()?.get_mut(key)?;
    }
    Some(item)
}

/// The document position of the table at `path` (`None` for dotted,
/// implicit or inline tables).
pub(super) fn table_position(root: &Table, path: &[&str]) -> Option<isize> {
    let (first, rest) = path.split_first()?;
    let mut item = root.get(first)?;
    for key in rest {
        item = item.as_table_like()?.get(key)?;
    }
    item.as_table().filter(|t| !t.is_implicit())?.position()
}

/// The text of `prefix` if it holds a comment, else nothing (blank lines
/// alone are not worth keeping).
pub(super) fn comments(prefix: Option<&toml_edit::RawString>) -> String {
    let text = prefix.and_then(|p| p.as_str()).unwrap_or("");
    if text.contains('#') {
        text.to_owned()
    } else {
        String::new()
    }
}

pub(super) fn prepend_prefix(decor: &mut toml_edit::Decor, text: &str) {
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
pub(super) fn place_after(doc: &mut DocumentMut, position: Option<isize>, text: &str) {
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

pub(super) fn find_next(
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
