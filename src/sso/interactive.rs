//! Whether a person can take part in a sign-in, whether this machine can
//! show them a browser, and opening it.
//!
//! A flow that waits for a person is started only when one can answer: no
//! `CI` variable or known CI system, `interactive` not `"never"` in the
//! config or in `CARGO_CREDENTIAL_CORP_INTERACTIVE`, and a terminal to talk
//! on. Otherwise the login fails at once with what to do instead, and no
//! URL that would wait for nobody is printed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::settings::{Flow, Interactive, SsoSettings};
use crate::env::Environment;

/// Set to `never` to forbid interactive sign-ins on this machine.
pub const INTERACTIVE_ENV: &str = "CARGO_CREDENTIAL_CORP_INTERACTIVE";

/// Variables that CI systems set (besides `CI`).
const CI_VARS: [(&str, &str); 12] = [
    ("GITHUB_ACTIONS", "GitHub Actions"),
    ("GITLAB_CI", "GitLab CI"),
    ("CIRCLECI", "CircleCI"),
    ("TF_BUILD", "Azure Pipelines"),
    ("BUILDKITE", "Buildkite"),
    ("JENKINS_URL", "Jenkins"),
    ("TEAMCITY_VERSION", "TeamCity"),
    ("BITBUCKET_BUILD_NUMBER", "Bitbucket Pipelines"),
    ("CODEBUILD_BUILD_ID", "AWS CodeBuild"),
    ("DRONE", "Drone"),
    ("TRAVIS", "Travis CI"),
    ("APPVEYOR", "AppVeyor"),
];

fn set(env: &dyn Environment, key: &str) -> Option<String> {
    env.var_os(key)
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.trim().is_empty())
}

/// Why no person can answer here, or `None` when one can.
pub fn blocker(settings: &SsoSettings, env: &dyn Environment) -> Option<String> {
    if settings.interactive == Interactive::Never {
        return Some("the `sso` table sets `interactive = \"never\"`".to_owned());
    }
    if let Some(why) = nobody(env) {
        return Some(why);
    }
    if !has_terminal() {
        return Some("there is no terminal to talk to a person on".to_owned());
    }
    None
}

/// Why no person takes part here whatever the terminal, by the
/// environment (`CARGO_CREDENTIAL_CORP_INTERACTIVE=never`, a CI job), or
/// `None`.
pub fn nobody(env: &dyn Environment) -> Option<String> {
    if set(env, INTERACTIVE_ENV).is_some_and(|v| v.eq_ignore_ascii_case("never")) {
        return Some(format!("{INTERACTIVE_ENV}=never is set"));
    }
    ci_name(env).map(|ci| format!("this looks like a CI job ({ci})"))
}

/// The CI system this runs in, if any is detected.
fn ci_name(env: &dyn Environment) -> Option<&'static str> {
    if set(env, "CI").is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "0")) {
        return Some("`CI` is set");
    }
    CI_VARS
        .iter()
        .find(|(var, _)| set(env, var).is_some())
        .map(|(_, name)| *name)
}

/// Whether this runs in a CI job.
pub fn in_ci(env: &dyn Environment) -> bool {
    ci_name(env).is_some()
}

/// Whether this process has a controlling terminal (where prompts go;
/// Cargo's pipes are stdin and stdout).
pub fn has_terminal() -> bool {
    #[cfg(unix)]
    let path = "/dev/tty";
    #[cfg(windows)]
    let path = "CONIN$";
    #[cfg(not(any(unix, windows)))]
    return false;
    #[cfg(any(unix, windows))]
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .is_ok()
}

/// Asks `question` on the terminal (never on Cargo's pipes; what a terminal
/// acts on in it shown escaped) and reads the answer, echoed, until `deadline`: `Ok(true)` for yes, `Ok(false)` for
/// anything else or no answer in time, `Err` when there is no terminal.
pub fn confirm(question: &str, deadline: Instant) -> std::io::Result<bool> {
    use std::io::{BufRead as _, Read as _, Write as _};
    #[cfg(unix)]
    let (input, mut output) = {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")?;
        (tty.try_clone()?, tty)
    };
    #[cfg(windows)]
    let (input, mut output) = (
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("CONIN$")?,
        std::fs::OpenOptions::new().write(true).open("CONOUT$")?,
    );
    #[cfg(not(any(unix, windows)))]
    return Err(std::io::Error::other("no terminal on this platform"));
    #[cfg(any(unix, windows))]
    {
        write!(output, "{} [y/N] ", crate::diag::shown(question))?;
        output.flush()?;
        // The read blocks; it runs on a thread so that the wait is bounded
        // (the thread ends with the process).
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = std::io::BufReader::new(input.take(256)).read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let wait = deadline.saturating_duration_since(Instant::now());
        Ok(match rx.recv_timeout(wait) {
            Ok(line) => matches!(line?.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
            Err(_) => {
                let _ = writeln!(output);
                false
            }
        })
    }
}

/// Whether a browser can be shown to the person on this machine, and why
/// (or why not).
pub fn display(env: &dyn Environment) -> (bool, &'static str) {
    if set(env, "BROWSER").is_some() {
        return (true, "$BROWSER is set");
    }
    if set(env, "SSH_CONNECTION").is_some() || set(env, "SSH_TTY").is_some() {
        return (false, "this is an SSH session");
    }
    if cfg!(any(target_os = "macos", windows)) {
        return (true, "this is a desktop system");
    }
    if set(env, "DISPLAY").is_some() || set(env, "WAYLAND_DISPLAY").is_some() {
        return (true, "a graphical display is available");
    }
    if set(env, "WSL_DISTRO_NAME").is_some() {
        return (false, "this is WSL without a graphical display or $BROWSER");
    }
    (
        false,
        "there is no graphical display (no DISPLAY or WAYLAND_DISPLAY)",
    )
}

/// The flow `auto` picks, and why; `None` when the IdP offers nothing usable.
pub fn choose(
    wanted: Flow,
    env: &dyn Environment,
    has_device: bool,
    has_authorization: bool,
) -> Option<(Flow, String)> {
    if wanted != Flow::Auto {
        return Some((wanted, "as asked".to_owned()));
    }
    let (shown, why) = display(env);
    match (shown, has_device, has_authorization) {
        (true, _, true) => Some((Flow::Browser, why.to_owned())),
        (_, true, _) => Some((
            Flow::Device,
            if shown {
                "the IdP offers no authorization endpoint".to_owned()
            } else {
                format!("{why}, and the IdP offers the device flow")
            },
        )),
        (false, false, true) => Some((
            Flow::Paste,
            format!("{why}, and the IdP offers no device flow"),
        )),
        (_, false, false) => None,
    }
}

/// A private page that sends the browser on to the sign-in URL, so that the
/// URL (with `state` and the PKCE challenge) is not in the launcher's argv,
/// which every local user can read: a 0600 file in a fresh 0700 folder of
/// the user's runtime folder, else (unset, missing, not this user's: an
/// `$XDG_RUNTIME_DIR` inherited through `su`) the temporary folder, removed
/// with its folder when dropped (after the sign-in).
pub struct LaunchPage {
    dir: std::path::PathBuf,
    file: std::path::PathBuf,
}

impl LaunchPage {
    /// Writes the page for `url`, in the first folder that takes it.
    pub fn write(url: &str) -> std::io::Result<LaunchPage> {
        Self::write_in(
            url,
            dirs::runtime_dir()
                .into_iter()
                .chain([std::env::temp_dir()]),
        )
    }

    /// Writes the page for `url` in the first of `bases` where it can be
    /// written privately; the last error when none can.
    fn write_in(
        url: &str,
        bases: impl IntoIterator<Item = std::path::PathBuf>,
    ) -> std::io::Result<LaunchPage> {
        let mut failed = std::io::Error::other("no folder to write it in");
        for base in bases {
            match Self::write_at(url, &base) {
                Ok(page) => return Ok(page),
                Err(e) => {
                    crate::trace::debug(|| {
                        format!("no private sign-in page in {}: {e}", base.display())
                    });
                    failed = std::io::Error::new(e.kind(), format!("{}: {e}", base.display()));
                }
            }
        }
        Err(failed)
    }

    fn write_at(url: &str, base: &std::path::Path) -> std::io::Result<LaunchPage> {
        use std::io::Write as _;
        // The base folder is this user's, or sticky (the temporary
        // folder): nobody else can rename the page's folder away.
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let meta = std::fs::metadata(base)?;
            let mine = meta.uid() == rustix::process::getuid().as_raw();
            if !meta.is_dir() || !(mine || meta.mode() & 0o1000 != 0) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "not this user's folder, nor a sticky one",
                ));
            }
        }
        let name = super::pkce::random(12).map_err(std::io::Error::other)?;
        let dir = base.join(format!("cargo-credential-corp-sign-in-{}", name.as_str()));
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(false);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        // A new folder (never one that exists: no one else's, no symlink).
        builder.create(&dir)?;
        let page = LaunchPage {
            file: dir.join("sign-in.html"),
            dir,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let escaped = url
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let mut file = options.open(&page.file)?;
        write!(
            file,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <meta http-equiv=\"refresh\" content=\"0;url={escaped}\">\n\
             <title>Signing in</title></head><body style=\"font-family:sans-serif;margin:3em\">\
             <p><a href=\"{escaped}\">Continue to the sign-in</a></p></body></html>\n"
        )?;
        file.flush()?;
        Ok(page)
    }

    /// The page's path, to give to the launcher.
    pub fn path(&self) -> &std::path::Path {
        &self.file
    }
}

impl Drop for LaunchPage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Opens `url` in the person's browser: each entry of `$BROWSER` (a
/// `:`-separated list; `%s` stands for the URL) in turn, else the platform's
/// opener. The URL goes to the browser as one argument; a sign-in passes
/// the path of a [`LaunchPage`] rather than its URL. `Ok(())` once a launcher started
/// and did not fail within a few seconds; it is never killed (it may be the
/// person's browser) and never waited for longer.
/// The launcher's environment has no secret variables: Cargo's token and
/// secret key variables, the AWS secrets, and those in `scrub` (every
/// `env`, `client-secret-env` and `identity-env` name of the configuration,
/// and CI systems' token variables); see [`scrubbed`].
pub fn open_browser(url: &str, env: &dyn Environment, scrub: &[String]) -> Result<(), String> {
    let mut tried = Vec::new();
    let commands: Vec<Vec<String>> = match set(env, "BROWSER") {
        Some(list) => list
            .split(':')
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                let words: Vec<String> = c.split_whitespace().map(str::to_owned).collect();
                if words.iter().any(|w| w.contains("%s")) {
                    words.iter().map(|w| w.replace("%s", url)).collect()
                } else {
                    words.into_iter().chain([url.to_owned()]).collect()
                }
            })
            .collect(),
        None if cfg!(target_os = "macos") => vec![vec!["open".into(), url.into()]],
        None if cfg!(windows) => vec![vec![
            "rundll32".into(),
            "url.dll,FileProtocolHandler".into(),
            url.into(),
        ]],
        None => vec![vec!["xdg-open".into(), url.into()]],
    };
    for argv in commands {
        let Some((program, args)) = argv.split_first() else {
            continue;
        };
        let mut command = Command::new(program);
        for (key, _) in std::env::vars_os() {
            if scrubbed(&key.to_string_lossy(), scrub) {
                command.env_remove(&key);
            }
        }
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                tried.push(format!("{program}: {e}"));
                continue;
            }
        };
        // A launcher that fails says so at once; one that stays is the browser.
        let until = Instant::now() + Duration::from_secs(3);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    tried.push(format!("{program}: {status}"));
                    break;
                }
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(25)),
                Ok(None) => {
                    // Reaped in the background, so it does not linger as a zombie.
                    std::thread::spawn(move || child.wait());
                    return Ok(());
                }
                Err(e) => {
                    tried.push(format!("{program}: {e}"));
                    break;
                }
            }
        }
    }
    Err(tried.join("; "))
}

/// AWS variables that hold secrets (the access key id alone is not one).
const AWS_SECRETS: [&str; 3] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
];

/// Whether the variable `key` is kept from a program started for the
/// person: Cargo's token and asymmetric-token secret key variables
/// (`CARGO_REGISTRY_TOKEN`, `CARGO_REGISTRY_SECRET_KEY`,
/// `CARGO_REGISTRIES_<NAME>_TOKEN`, `CARGO_REGISTRIES_<NAME>_SECRET_KEY`),
/// the AWS secrets, and the names in `scrub`.
pub fn scrubbed(key: &str, scrub: &[String]) -> bool {
    matches!(key, "CARGO_REGISTRY_TOKEN" | "CARGO_REGISTRY_SECRET_KEY")
        || (key.starts_with("CARGO_REGISTRIES_")
            && (key.ends_with("_TOKEN") || key.ends_with("_SECRET_KEY")))
        || AWS_SECRETS.contains(&key)
        || scrub.iter().any(|s| s == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn settings(extra: &str) -> SsoSettings {
        let raw: super::super::settings::RawSso = toml::from_str(&format!(
            "issuer = \"https://i\"\nclient-id = \"c\"\n{extra}"
        ))
        .unwrap();
        raw.validate("t").unwrap()
    }

    #[test]
    fn the_launch_page_is_private_leads_to_the_url_and_is_removed() {
        let url = "https://idp.example/auth?a=1&state=s\"<x>";
        let page = LaunchPage::write(url).unwrap();
        let path = page.path().to_path_buf();
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(
            html.contains(
                "<meta http-equiv=\"refresh\" content=\"0;url=https://idp.example/auth?a=1&amp;state=s&quot;&lt;x&gt;\">"
            ),
            "{html}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode(&path) & 0o777, 0o600);
            assert_eq!(mode(path.parent().unwrap()) & 0o777, 0o700);
        }
        assert_ne!(
            path.parent(),
            LaunchPage::write(url).unwrap().path().parent()
        );
        drop(page);
        assert!(!path.exists() && !path.parent().unwrap().exists());
    }

    #[test]
    fn the_launch_page_falls_back_when_the_runtime_folder_cannot_take_it() {
        // issue 16 F2: an `$XDG_RUNTIME_DIR` that is set but missing (or
        // another user's, after `su`).
        let fallback = tempfile::tempdir().unwrap();
        let missing = fallback.path().join("run-user-4242-gone");
        let page = LaunchPage::write_in(
            "https://idp.example/auth?state=s",
            [missing.clone(), fallback.path().to_path_buf()],
        )
        .unwrap();
        assert!(
            page.path().starts_with(fallback.path()),
            "{:?}",
            page.path()
        );
        let e = LaunchPage::write_in("https://idp.example/", [missing.clone()]);
        assert!(e.is_err());
    }

    #[test]
    fn the_launcher_loses_every_secret_variable() {
        let scrub = ["OTHER_TOKEN".to_owned(), "CI_SECRET".to_owned()];
        for key in [
            "CARGO_REGISTRY_TOKEN",
            "CARGO_REGISTRIES_ANY_NAME_TOKEN",
            "CARGO_REGISTRY_SECRET_KEY",
            "CARGO_REGISTRIES_ANY_NAME_SECRET_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "OTHER_TOKEN",
            "CI_SECRET",
        ] {
            assert!(scrubbed(key, &scrub), "{key}");
        }
        for key in ["PATH", "DISPLAY", "AWS_REGION", "CARGO_REGISTRIES_X_INDEX"] {
            assert!(!scrubbed(key, &scrub), "{key}");
        }
    }

    #[test]
    fn nobody_answers_in_ci_or_when_told_never() {
        let s = settings("");
        for vars in [
            vec![("CI", "true")],
            vec![("GITLAB_CI", "true")],
            vec![("TF_BUILD", "True")],
            vec![(INTERACTIVE_ENV, "never")],
        ] {
            assert!(blocker(&s, &env(&vars)).is_some(), "{vars:?}");
        }
        let never = settings("interactive = \"never\"\n");
        assert!(blocker(&never, &env(&[])).unwrap().contains("interactive"));
    }

    #[test]
    fn auto_picks_the_browser_with_a_display_else_the_device_flow_else_paste() {
        let pick = |vars: &[(&str, &str)], device, authz| {
            choose(Flow::Auto, &env(vars), device, authz).map(|(f, _)| f)
        };
        if !cfg!(any(target_os = "macos", windows)) {
            assert_eq!(pick(&[("DISPLAY", ":0")], true, true), Some(Flow::Browser));
            assert_eq!(pick(&[], true, true), Some(Flow::Device));
            assert_eq!(pick(&[], false, true), Some(Flow::Paste));
        }
        assert_eq!(
            pick(&[("DISPLAY", ":0"), ("SSH_CONNECTION", "x")], true, true),
            Some(Flow::Device)
        );
        assert_eq!(pick(&[("BROWSER", "b")], true, true), Some(Flow::Browser));
        assert_eq!(pick(&[("BROWSER", "b")], true, false), Some(Flow::Device));
        assert_eq!(pick(&[], false, false), None);
        assert_eq!(
            choose(Flow::Paste, &env(&[]), true, true).map(|(f, _)| f),
            Some(Flow::Paste)
        );
    }
}
