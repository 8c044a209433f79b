//! `cargo-credential-corp setup`: tells Cargo to use this provider, by
//! editing Cargo's own config file (comments and layout kept).
//!
//! Without `--registry`, `"cargo-credential-corp"` becomes the last entry of
//! `[registry] global-credential-providers` (Cargo tries the last entry
//! first; a new list starts with `"cargo:token"`). With `--registry NAME
//! --index URL`, `[registries.NAME]` gets that `index` and
//! `credential-provider = ["cargo-credential-corp"]`. A second run changes
//! nothing. The change is printed as a diff; `--dry-run` writes nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value, value};

use super::cargo_config::{
    self, PROVIDER, TomlFile, credential_provider_program, is_this_provider, same_file,
};
use super::shown::shown;
use crate::registry::{CRATES_IO, env_mangle, same_index};

/// Arguments of `setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Set the provider for this registry only (its name in Cargo's config);
    /// needs --index.
    #[arg(long, value_name = "NAME", requires = "index")]
    registry: Option<String>,
    /// The registry's index URL, e.g. `sparse+https://registry.example.com/index/`
    /// (with --registry).
    #[arg(long, value_name = "URL", requires = "registry")]
    index: Option<String>,
    /// Edit `$CARGO_HOME/config.toml` (the default).
    #[arg(long, conflicts_with_all = ["project", "system"])]
    global: bool,
    /// Edit the provider's system-wide file instead (for roll-outs; with
    /// --registry and --index): binds the registry's name to its index there,
    /// so that token sources set for it go to that index only.
    #[arg(long, conflicts_with = "project", requires = "registry")]
    system: bool,
    /// Edit `.cargo/config.toml` in the current directory instead.
    #[arg(long)]
    project: bool,
    /// Print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// What `setup` makes Cargo's config say.
#[derive(Debug, Clone, Copy)]
enum Change<'a> {
    /// This provider, tried first, for every registry.
    Global,
    /// This provider for one registry, at this index.
    Registry { name: &'a str, index: &'a str },
    /// In the provider's system-wide file: `[registries.NAME] index`.
    System { name: &'a str, index: &'a str },
}

/// Edits the config file (unless `--dry-run`) and prints the diff to stdout,
/// warnings to stderr.
pub fn run(args: &SetupArgs) -> anyhow::Result<()> {
    let change = match (&args.registry, &args.index) {
        (Some(name), Some(index)) => {
            check_name(name)?;
            check_index(index)?;
            if args.system {
                Change::System { name, index }
            } else {
                Change::Registry { name, index }
            }
        }
        _ => Change::Global,
    };
    let cwd = std::env::current_dir().context("cannot find the current directory")?;
    let path = if args.system {
        crate::config::ConfigPaths::from_env()
            .system
            .ok_or_else(|| {
                anyhow!(
                    "this platform has no system-wide config location; set {}",
                    crate::config::SYSTEM_CONFIG_ENV
                )
            })?
    } else if args.project {
        cargo_config::project_config(&cwd)
    } else {
        cargo_config::global_config()?
    };
    if args.system
        && let Some(dir) = path.parent()
        && !args.dry_run
    {
        create_folders(dir, SYSTEM_FOLDER_MODE)?;
    }
    // Read, edit and replace under the file's lock: a run at the same time
    // waits, then reads this run's edit.
    let _lock = match args.dry_run {
        true => None,
        false => Some(super::edit_lock::EditLock::acquire(&path)?),
    };
    let mut file = TomlFile::load(&path)?;
    let notes = apply(&mut file.doc, change, &path)?;
    let new = file.render();
    let mut out = std::io::stdout().lock();
    if new == file.text {
        writeln!(
            out,
            "{}",
            shown(&format!(
                "{} already uses {PROVIDER} {}: nothing changed",
                path.display(),
                what(change)
            ))
        )?;
    } else {
        let label = path.display().to_string();
        out.write_all(cargo_config::diff(&label, &file.text, &new, file.exists).as_bytes())?;
        if args.dry_run {
            writeln!(out, "dry run: {} was not written", shown(&label))?;
        } else {
            if args.system {
                // Every user's provider reads it, and refuses it if others
                // can write it: 0644 whatever the umask.
                file.save_new_with_mode(SYSTEM_FILE_MODE)?;
            } else {
                file.save()?;
            }
            writeln!(out, "wrote {}", shown(&label))?;
        }
    }
    for note in notes {
        writeln!(out, "note: {}", shown(&note))?;
    }
    out.flush()?;
    if matches!(change, Change::System { .. }) {
        return Ok(());
    }
    let chain = cargo_config::config_chain(&cwd)?;
    let mut err = std::io::stderr().lock();
    for warning in shadow_warnings(&file, &chain, change) {
        writeln!(err, "warning: {}", shown(&warning))?;
    }
    Ok(())
}

/// The mode of the folders `setup --system` creates.
const SYSTEM_FOLDER_MODE: u32 = 0o755;

/// The mode of the file `setup --system` creates.
const SYSTEM_FILE_MODE: u32 = 0o644;

/// Creates `dir` and the folders above it that are missing, each with
/// `mode` set explicitly (not left to the umask). Existing ones are left as
/// they are.
fn create_folders(dir: &Path, mode: u32) -> anyhow::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .collect();
    for folder in missing.into_iter().rev() {
        std::fs::create_dir(folder)
            .or_else(|e| match e.kind() {
                // Created by another run meanwhile.
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .and_then(|()| set_mode(folder, mode))
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

fn what(change: Change<'_>) -> String {
    match change {
        Change::Global => "for every registry".to_owned(),
        Change::Registry { name, .. } => format!("for registry `{name}`"),
        Change::System { name, .. } => format!("bound to registry `{name}`'s index"),
    }
}

/// Registry names as Cargo allows them: letters, digits, `-` and `_`.
fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--registry takes a registry name of letters, digits, `-` and `_`");
    }
    if name == CRATES_IO {
        bail!(
            "crates.io has no [registries.crates-io] index to set; run `setup` without \
             --registry to use this provider for every registry, crates.io included"
        );
    }
    Ok(())
}

fn check_index(index: &str) -> anyhow::Result<()> {
    let url = index
        .strip_prefix("sparse+")
        .or_else(|| index.strip_prefix("registry+"))
        .unwrap_or(index);
    if index.chars().any(|c| c.is_whitespace() || c.is_control()) || url::Url::parse(url).is_err() {
        bail!(
            "--index takes the registry's index URL, e.g. \
             `sparse+https://registry.example.com/index/`"
        );
    }
    Ok(())
}

/// Makes the change in `doc` (the file at `path`); the notes say what was
/// done besides adding.
/// `[registries.NAME] index = INDEX` in `doc` (kept when it is there
/// already; another index is refused): the registry's table.
fn set_index<'d>(
    doc: &'d mut DocumentMut,
    name: &str,
    index: &str,
    path: &Path,
) -> anyhow::Result<&'d mut dyn toml_edit::TableLike> {
    let file = path.display();
    let registries = child(doc.as_item_mut(), "registries", true)
        .ok_or_else(|| anyhow!("`registries` in {file} is not a table"))?;
    let registry = child(registries, name, false)
        .ok_or_else(|| anyhow!("`registries.{name}` in {file} is not a table"))?;
    let registry = registry.as_table_like_mut().expect("a table");
    match registry.get("index") {
        None => {
            registry.insert("index", value(index));
        }
        Some(item) => match item.as_str() {
            Some(old) if same_index(old, index) => {}
            Some(old) => bail!(
                "[registries.{name}] in {file} already has index = \"{old}\", not \
                 \"{index}\"; refusing to point `{name}` at another registry. Nothing \
                 was changed: use another name, or fix the index there first"
            ),
            None => bail!("[registries.{name}] index in {file} is not a string"),
        },
    }
    Ok(registry)
}

fn apply(doc: &mut DocumentMut, change: Change<'_>, path: &Path) -> anyhow::Result<Vec<String>> {
    let file = path.display();
    match change {
        Change::Global => {
            let registry = child(doc.as_item_mut(), "registry", false)
                .ok_or_else(|| anyhow!("`registry` in {file} is not a table"))?;
            let registry = registry.as_table_like_mut().expect("a table");
            let Some(list) = registry.get_mut("global-credential-providers") else {
                let list = Array::from_iter(["cargo:token", PROVIDER]);
                registry.insert("global-credential-providers", value(list));
                return Ok(Vec::new());
            };
            let not_a_list = || {
                anyhow!(
                    "[registry] global-credential-providers in {file} is not a list of strings; \
                     nothing was changed"
                )
            };
            let list = list.as_array_mut().ok_or_else(not_a_list)?;
            if !list.iter().all(Value::is_str) {
                return Err(not_a_list());
            }
            let ours = list
                .iter()
                .position(|v| v.as_str().is_some_and(is_this_provider));
            match ours {
                Some(i) if i + 1 == list.len() => Ok(Vec::new()),
                Some(i) => {
                    move_to_end(list, i);
                    Ok(vec![format!(
                        "moved `{PROVIDER}` to the end of [registry] \
                         global-credential-providers: Cargo tries the last entry first"
                    )])
                }
                None => {
                    push_like_last(list, PROVIDER.into());
                    Ok(Vec::new())
                }
            }
        }
        Change::System { name, index } => {
            set_index(doc, name, index, path)?;
            Ok(Vec::new())
        }
        Change::Registry { name, index } => {
            let registry = set_index(doc, name, index, path)?;
            let mut notes = Vec::new();
            let ours = Value::Array(Array::from_iter([PROVIDER]));
            match registry.get_mut("credential-provider") {
                None => {
                    registry.insert("credential-provider", Item::Value(ours));
                }
                Some(item) => match credential_provider_program(item) {
                    Some(program) if is_this_provider(program) => {}
                    other => {
                        notes.push(format!(
                            "replaced [registries.{name}] credential-provider (it named `{}`)",
                            other.unwrap_or("something else")
                        ));
                        let mut ours = ours;
                        if let Some(old) = item.as_value() {
                            *ours.decor_mut() = old.decor().clone();
                        }
                        *item = Item::Value(ours);
                    }
                },
            }
            Ok(notes)
        }
    }
}

/// The table `key` in the table `parent`, created if absent (a `[header]`
/// table below a table, an inline table inside an inline one); `None` if
/// `key` holds something that is not a table.
fn child<'a>(parent: &'a mut Item, key: &str, implicit: bool) -> Option<&'a mut Item> {
    let header = parent.is_table();
    let table = parent.as_table_like_mut()?;
    if table.get(key).is_none() {
        let new = if header {
            let mut t = Table::new();
            t.set_implicit(implicit);
            Item::Table(t)
        } else {
            Item::Value(Value::InlineTable(InlineTable::new()))
        };
        table.insert(key, new);
    }
    let item = table.get_mut(key)?;
    item.is_table_like().then_some(item)
}

/// Appends `new` to `list` laid out like its last element: on its own line
/// with the same indentation in a multi-line list, after `, ` otherwise. A
/// comment that ended the last element's line stays on that line.
fn push_like_last(list: &mut Array, mut new: Value) {
    let n = list.len();
    if n == 0 {
        list.push_formatted(new);
        return;
    }
    let last = list.get_mut(n - 1).expect("not empty");
    let last_prefix = last
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    let mut prefix = match last_prefix.rfind('\n') {
        Some(nl) => last_prefix[nl..].to_owned(),
        None if n >= 2 => last_prefix,
        None => " ".to_owned(),
    };
    // Spaces before `]` (no trailing comma) go after the new last element.
    let suffix = last
        .decor()
        .suffix()
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_owned();
    last.decor_mut().set_suffix("");
    if list.trailing_comma() {
        let trailing = list.trailing().as_str().unwrap_or("").to_owned();
        if let Some(nl) = trailing.find('\n')
            && trailing[..nl].contains('#')
        {
            prefix = format!("{}{prefix}", &trailing[..nl]);
            list.set_trailing(&trailing[nl..]);
        }
    }
    new.decor_mut().set_prefix(prefix);
    new.decor_mut().set_suffix(suffix);
    list.push_formatted(new);
}

/// Moves element `i` to the end, laid out like an appended one; comment
/// lines that stood above it go with it.
fn move_to_end(list: &mut Array, i: usize) {
    let mut moved = list.remove(i);
    let prefix = moved
        .decor()
        .prefix()
        .and_then(|p| p.as_str())
        .unwrap_or("")
        .to_owned();
    if i == 0
        && !prefix.contains('#')
        && let Some(first) = list.get_mut(0)
    {
        // The new first element takes the old one's place after `[`.
        first.decor_mut().set_prefix(prefix.clone());
    }
    moved.decor_mut().clear();
    push_like_last(list, moved);
    if let Some(nl) = prefix.rfind('\n')
        && prefix[..nl].contains('#')
        && let Some(last) = list.get_mut(list.len() - 1)
    {
        let own = last
            .decor()
            .prefix()
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_owned();
        // Between what ends the line before and the new line's indentation.
        let at = own.rfind('\n').unwrap_or(0);
        let prefix = format!("{}{}{}", &own[..at], &prefix[..nl], &own[at..]);
        last.decor_mut().set_prefix(prefix);
    }
}

/// Settings elsewhere that keep Cargo from asking this provider. Cargo's
/// rule: a registry's own `credential-provider` (`[registries.NAME]`, or
/// `[registry]` for crates.io) is used instead of `[registry]
/// global-credential-providers`; of two files setting the same key, the one
/// nearer the current directory wins (`$CARGO_HOME` is the farthest), and
/// lists of several files are joined, the nearer file's entries last (so
/// tried first).
fn shadow_warnings(edited: &TomlFile, chain: &[PathBuf], change: Change<'_>) -> Vec<String> {
    const RULE: &str = "a registry's own `credential-provider` overrides [registry] \
                        global-credential-providers";
    let rank = chain
        .iter()
        .position(|p| same_file(p, &edited.path))
        .unwrap_or(chain.len());
    let mut warnings = Vec::new();
    let mut loaded = Vec::new();
    for (i, path) in chain.iter().enumerate() {
        if i == rank || !path.is_file() {
            continue;
        }
        match TomlFile::load(path) {
            Ok(f) => loaded.push((i, f)),
            Err(e) => warnings.push(format!(
                "could not check {} for settings that override this one: {e:#}",
                path.display()
            )),
        }
    }
    let files = loaded
        .iter()
        .map(|(i, f)| (*i, f))
        .chain(std::iter::once((rank, edited)));
    for (i, f) in files {
        let file = f.path.display();
        let registries = f
            .doc
            .get("registries")
            .and_then(Item::as_table_like)
            .into_iter()
            .flat_map(|t| t.iter());
        match change {
            Change::Global => {
                let crates_io = f
                    .doc
                    .get("registry")
                    .and_then(Item::as_table_like)
                    .map(|t| ("[registry]".to_owned(), "crates.io".to_owned(), t));
                let named = registries.filter_map(|(name, item)| {
                    let t = item.as_table_like()?;
                    Some((format!("[registries.{name}]"), format!("`{name}`"), t))
                });
                for (table, registry, t) in crates_io.into_iter().chain(named) {
                    if let Some(program) = t
                        .get("credential-provider")
                        .and_then(credential_provider_program)
                        .filter(|p| !is_this_provider(p))
                    {
                        warnings.push(format!(
                            "{file} sets {table} credential-provider = `{program}`: Cargo will \
                             not ask {PROVIDER} for {registry}, because {RULE}. Remove that \
                             line, or set it to [\"{PROVIDER}\"]"
                        ));
                    }
                }
                if i < rank
                    && let Some(last) = f
                        .doc
                        .get("registry")
                        .and_then(|r| r.get("global-credential-providers"))
                        .and_then(Item::as_array)
                        .and_then(|a| a.iter().last())
                        .and_then(Value::as_str)
                        .filter(|p| !is_this_provider(p))
                {
                    warnings.push(format!(
                        "{file} also sets [registry] global-credential-providers and takes \
                         precedence over {}: Cargo joins the lists with that file's entries \
                         last, so `{}` is tried before {PROVIDER}",
                        edited.path.display(),
                        cargo_config::provider_program(last)
                    ));
                }
            }
            Change::Registry { name, .. } if i < rank => {
                if let Some(program) = f
                    .doc
                    .get("registries")
                    .and_then(|r| r.get(name))
                    .and_then(|r| r.get("credential-provider"))
                    .and_then(credential_provider_program)
                    .filter(|p| !is_this_provider(p))
                {
                    warnings.push(format!(
                        "{file} sets [registries.{name}] credential-provider = `{program}` and \
                         takes precedence over {}: Cargo will use `{program}` for `{name}`",
                        edited.path.display()
                    ));
                }
            }
            Change::Registry { .. } | Change::System { .. } => {}
        }
    }
    for (var, value) in std::env::vars() {
        let applies = match change {
            Change::Global => {
                var == "CARGO_REGISTRY_CREDENTIAL_PROVIDER"
                    || (var.starts_with("CARGO_REGISTRIES_")
                        && var.ends_with("_CREDENTIAL_PROVIDER"))
            }
            Change::Registry { name, .. } => {
                var == format!("CARGO_REGISTRIES_{}_CREDENTIAL_PROVIDER", env_mangle(name))
            }
            Change::System { .. } => false,
        };
        let program = cargo_config::provider_program(&value);
        if applies && !is_this_provider(program) {
            warnings.push(format!(
                "the environment sets {var} = `{program}`, which Cargo uses instead of this \
                 config ({RULE}, and the environment overrides config files)"
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str, change: Change<'_>) -> anyhow::Result<(String, Vec<String>)> {
        let path = Path::new("config.toml");
        let mut doc = cargo_config::edit::parse(text, path)?;
        let notes = apply(&mut doc, change, path)?;
        Ok((doc.to_string(), notes))
    }

    fn global(text: &str) -> String {
        let (out, _) = edit(text, Change::Global).unwrap();
        // Idempotent: a second edit changes nothing.
        assert_eq!(edit(&out, Change::Global).unwrap().0, out);
        out
    }

    #[test]
    fn a_new_list_keeps_cargo_token_before_this_provider() {
        assert_eq!(
            global(""),
            "[registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]\n"
        );
        assert_eq!(
            global("# mine\n[registry]\ndefault = \"corp\" # yes\n\n[net]\nretry = 3\n"),
            "# mine\n[registry]\ndefault = \"corp\" # yes\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]\n\n[net]\nretry = 3\n"
        );
    }

    #[test]
    fn an_existing_list_gets_this_provider_last_in_its_own_layout() {
        for (text, want) in [
            (
                "[registry]\nglobal-credential-providers = [\"cargo:token\"]\n",
                "[registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]\n",
            ),
            (
                "[registry]\nglobal-credential-providers = [ \"cargo:token\" ]\n",
                "[registry]\nglobal-credential-providers = [ \"cargo:token\", \"cargo-credential-corp\" ]\n",
            ),
            (
                "[registry]\nglobal-credential-providers = []\n",
                "[registry]\nglobal-credential-providers = [\"cargo-credential-corp\"]\n",
            ),
            (
                "[registry]\nglobal-credential-providers = [\n    \"cargo:token\",\n    \"cargo:libsecret\", # old\n]\n",
                "[registry]\nglobal-credential-providers = [\n    \"cargo:token\",\n    \"cargo:libsecret\", # old\n    \"cargo-credential-corp\",\n]\n",
            ),
            (
                "[registry]\nglobal-credential-providers = [\n  # first\n  \"cargo:token\"\n]\n",
                "[registry]\nglobal-credential-providers = [\n  # first\n  \"cargo:token\",\n  \"cargo-credential-corp\"\n]\n",
            ),
            (
                "registry.global-credential-providers = [\"cargo:token\"]\n",
                "registry.global-credential-providers = [\"cargo:token\", \"cargo-credential-corp\"]\n",
            ),
        ] {
            assert_eq!(global(text), want, "{text}");
        }
    }

    #[test]
    fn this_provider_not_last_is_moved_last() {
        let (out, notes) = edit(
            "[registry]\nglobal-credential-providers = [\"cargo-credential-corp --x\", \"cargo:token\"]\n",
            Change::Global,
        )
        .unwrap();
        assert_eq!(
            out,
            "[registry]\nglobal-credential-providers = [\"cargo:token\", \"cargo-credential-corp --x\"]\n"
        );
        assert!(notes[0].contains("moved"), "{notes:?}");
        let (out, _) = edit(
            "[registry]\nglobal-credential-providers = [\n    # ours\n    \"cargo-credential-corp\",\n    \"cargo:token\", # fallback\n]\n",
            Change::Global,
        )
        .unwrap();
        assert_eq!(
            out,
            "[registry]\nglobal-credential-providers = [\n    \"cargo:token\", # fallback\n    # ours\n    \"cargo-credential-corp\",\n]\n"
        );
        let already = "[registry]\nglobal-credential-providers = [\"cargo:token\", \"/opt/bin/cargo-credential-corp\"]\n";
        assert_eq!(global(already), already);
    }

    #[test]
    fn a_registry_gets_its_index_and_this_provider() {
        let change = Change::Registry {
            name: "corp",
            index: "sparse+https://r.example/index/",
        };
        let text = "# top\n[registries.other]\nindex = \"sparse+https://o.example/\"\n";
        let (out, _) = edit(text, change).unwrap();
        assert_eq!(
            out,
            "# top\n[registries.other]\nindex = \"sparse+https://o.example/\"\n\n[registries.corp]\nindex = \"sparse+https://r.example/index/\"\ncredential-provider = [\"cargo-credential-corp\"]\n"
        );
        assert_eq!(edit(&out, change).unwrap().0, out);
        // The same index without its trailing slash is the same registry.
        let text = "[registries.corp]\nindex = \"sparse+https://r.example/index\" # ours\ncredential-provider = \"cargo:token\" # was\n";
        let (out, notes) = edit(text, change).unwrap();
        assert_eq!(
            out,
            "[registries.corp]\nindex = \"sparse+https://r.example/index\" # ours\ncredential-provider = [\"cargo-credential-corp\"] # was\n"
        );
        assert!(notes[0].contains("cargo:token"), "{notes:?}");
        let err = edit(
            "[registries.corp]\nindex = \"sparse+https://elsewhere.example/\"\n",
            change,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("already has index") && err.contains("elsewhere.example"),
            "{err}"
        );
    }

    #[test]
    fn names_and_urls_are_checked() {
        assert!(check_name("my-private_2").is_ok());
        for bad in ["", "a b", "a.b", "crates-io", "x]"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in [
            "sparse+https://r.example/index/",
            "https://github.com/o/index",
            "registry+https://r.example/git",
        ] {
            assert!(check_index(good).is_ok(), "{good}");
        }
        for bad in ["", "not a url", "sparse+", "r.example/index"] {
            assert!(check_index(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn something_else_where_a_table_belongs_is_refused() {
        assert!(edit("registry = 1\n", Change::Global).is_err());
        assert!(
            edit(
                "[registry]\nglobal-credential-providers = \"x\"\n",
                Change::Global
            )
            .is_err()
        );
    }
}
