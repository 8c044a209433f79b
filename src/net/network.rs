//! The corporate network, for `https` identity endpoints: which proxy a
//! call goes through and which CAs are trusted besides the OS store.
//!
//! Read when an [`Http`](super::http::Http) builds its first HTTPS client,
//! never before: a `get` answered from the cache, the environment or the
//! keychain reads none of it (no Cargo config file, no CA file, no OS trust
//! store).
//!
//! **The proxy** of an `https` endpoint that is not loopback (plain `http`
//! and loopback never use one), first found wins, in Cargo's own order so
//! that identity endpoints are reached the way Cargo reaches the registry:
//!
//! 1. `CARGO_HTTP_PROXY`;
//! 2. `http.proxy` in Cargo's config files: `.cargo/config.toml` (or the
//!    legacy `.cargo/config`) in the current folder and each one above it,
//!    nearest first, then `$CARGO_HOME/config.toml`;
//! 3. `HTTPS_PROXY` / `https_proxy`, else `ALL_PROXY` / `all_proxy` (read by
//!    reqwest). `HTTP_PROXY` is for plain http, which is never proxied.
//!
//! `NO_PROXY` / `no_proxy` applies whichever was chosen. An empty
//! `http.proxy` means "no proxy" (as in Cargo, whose curl reads it so). A
//! proxy URL may hold credentials (`http://user:password@proxy:3128`); they
//! go only into the CONNECT request's `Proxy-Authorization` and are never
//! shown: messages and traces name the proxy as `http://proxy:3128 (with
//! credentials)`.
//!
//! **Trusted CAs**: the OS trust store ([`super::tls`]), plus every PEM file
//! of `ca-file` (the provider's config) and the one of `CARGO_HTTP_CAINFO`,
//! else Cargo's `http.cainfo` (relative to the folder holding `.cargo`, as
//! in Cargo). They add to the OS store, they do not replace it. A CA file
//! decides who is trusted with the CI identity and the client secret, so it
//! must be a regular file owned by the user or root and not writable by
//! others (Unix), as the provider's own config files.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use reqwest::Url;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::trace::{self, Timer};

/// The variable Cargo reads for `http.proxy`.
pub const CARGO_HTTP_PROXY: &str = "CARGO_HTTP_PROXY";
/// The variable Cargo reads for `http.cainfo`.
pub const CARGO_HTTP_CAINFO: &str = "CARGO_HTTP_CAINFO";
/// The largest CA file read (a full public bundle is about 220 KiB).
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// The largest Cargo config file read.
const MAX_CARGO_CONFIG_BYTES: u64 = 1024 * 1024;

/// The network settings of one [`Http`](super::http::Http), resolved once.
#[derive(Clone)]
pub(crate) struct Network {
    /// The proxy of `https` endpoints that are not loopback.
    pub(crate) proxy: Proxy,
    /// The extra CA files, described for messages.
    pub(crate) cas: Vec<String>,
    /// The TLS configuration: the OS store and the extra CAs.
    pub(crate) tls: rustls::ClientConfig,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("proxy", &self.proxy)
            .field("cas", &self.cas)
            .finish_non_exhaustive()
    }
}

/// Where `https` calls that are not loopback go.
#[derive(Clone)]
pub(crate) enum Proxy {
    /// reqwest's reading of `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`.
    Environment {
        /// The proxy that reading gives for `https`, credentials included
        /// (never shown), and the variable that set it; `None` when no
        /// variable names one.
        effective: Option<(Url, &'static str)>,
    },
    /// Cargo's `http.proxy`.
    Cargo {
        /// The proxy, credentials included: never shown.
        url: Url,
        /// Where it was set, for messages.
        from: String,
    },
    /// Cargo's `http.proxy` is empty: no proxy at all.
    Off {
        /// Where it was set.
        from: String,
    },
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Proxy {
    /// What the proxy is and where it was set, for messages and traces (no
    /// credentials).
    pub(crate) fn describe(&self) -> String {
        match self {
            Proxy::Environment { effective: None } => {
                "the proxy variables (HTTPS_PROXY / ALL_PROXY / NO_PROXY)".to_owned()
            }
            Proxy::Environment {
                effective: Some((url, var)),
            } => format!("the proxy {} (from {var}; NO_PROXY)", shown(url)),
            Proxy::Cargo { url, from } => {
                format!(
                    "the proxy {} (Cargo's http.proxy, from {from}; NO_PROXY)",
                    shown(url)
                )
            }
            Proxy::Off { from } => format!("no proxy (Cargo's http.proxy is empty in {from})"),
        }
    }

    /// The proxy's password (and a long user name, which may be a token),
    /// as written and decoded: what must never appear in a message.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let urls: Vec<Url> = match self {
            Proxy::Cargo { url, .. } => vec![url.clone()],
            // What reqwest may have used: the same variables, as URLs.
            Proxy::Environment { .. } => ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                .into_iter()
                .filter_map(|k| std::env::var(k).ok())
                .filter_map(|v| parse_proxy(&v, "").ok())
                .filter_map(|p| match p {
                    Proxy::Cargo { url, .. } => Some(url),
                    _ => None,
                })
                .collect(),
            Proxy::Off { .. } => Vec::new(),
        };
        let mut secrets = Vec::new();
        for url in &urls {
            // A user name is not secret, unless it is a token (`TOKEN@proxy`).
            let user = Some(url.username()).filter(|u| u.len() >= 12);
            for raw in [url.password(), user].into_iter().flatten() {
                if !raw.is_empty() {
                    secrets.push(raw.to_owned());
                    let decoded = percent_decode(raw);
                    if decoded != raw {
                        secrets.push(decoded);
                    }
                }
            }
        }
        secrets
    }

    /// Whether the proxy URL carries credentials.
    pub(crate) fn has_credentials(&self) -> bool {
        let url = match self {
            Proxy::Cargo { url, .. }
            | Proxy::Environment {
                effective: Some((url, _)),
            } => url,
            _ => return false,
        };
        !url.username().is_empty() || url.password().is_some()
    }
}

/// The proxy that the proxy variables give `https` requests, as reqwest
/// (hyper-util's matcher) reads them: the first of `HTTPS_PROXY`,
/// `https_proxy` that is set, if it parses, else the first of `ALL_PROXY`,
/// `all_proxy` that is set. Only for messages: reqwest does the routing.
fn environment_proxy(var: &dyn Fn(&str) -> Option<String>) -> Option<(Url, &'static str)> {
    let first = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find_map(|name| var(name).map(|value| (value, name)))
    };
    let parsed = |(value, name): (String, &'static str)| match parse_proxy(&value, name) {
        Ok(Proxy::Cargo { url, .. }) => Some((url, name)),
        _ => None,
    };
    first(["HTTPS_PROXY", "https_proxy"])
        .and_then(parsed)
        .or_else(|| first(["ALL_PROXY", "all_proxy"]).and_then(parsed))
}

/// `scheme://host:port` of a proxy, and whether it has credentials.
fn shown(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    let port = url
        .port_or_known_default()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let creds = if url.username().is_empty() && url.password().is_none() {
        ""
    } else {
        " (with credentials)"
    };
    format!("{}://{host}{port}{creds}", url.scheme())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Network {
    /// Reads the proxy and CA settings (the process environment, Cargo's
    /// config files, the CA files) and loads the trust store. `ca_files`
    /// are the provider's `ca-file` settings.
    pub(crate) fn resolve(ca_files: &[PathBuf]) -> anyhow::Result<Network> {
        let timer = Timer::start();
        let cwd = std::env::current_dir().ok();
        let cargo = CargoHttp::read(
            &|k| std::env::var_os(k),
            cwd.as_deref(),
            crate::cargo_files::cargo_home().as_deref(),
        );
        let proxy = match &cargo.proxy {
            Some((value, from)) => parse_proxy(value, from)?,
            None => Proxy::Environment {
                effective: environment_proxy(&|k| std::env::var(k).ok()),
            },
        };
        let mut roots = Vec::new();
        let mut cas = Vec::new();
        for path in ca_files {
            roots.extend(read_ca_file(path, "`ca-file`")?);
            cas.push(format!("{} (`ca-file`)", path.display()));
        }
        if let Some((path, from)) = &cargo.cainfo
            && !ca_files.contains(path)
        {
            roots.extend(read_ca_file(path, from)?);
            cas.push(format!("{} ({from})", path.display()));
        }
        trace::debug(|| {
            format!(
                "network: {} Cargo config file(s) read in {}; https proxy: {}; extra CAs: {}",
                cargo.files_read,
                timer.ms(),
                proxy.describe(),
                if cas.is_empty() {
                    "none".to_owned()
                } else {
                    cas.join(", ")
                }
            )
        });
        let timer = Timer::start();
        let tls = super::tls::client_config(roots)?;
        trace::debug(|| format!("network: trust store loaded in {}", timer.ms()));
        Ok(Network { proxy, cas, tls })
    }

    /// The trusted CAs, for a message: `the OS trust store` and the extra
    /// files.
    pub(crate) fn trusted(&self) -> String {
        let mut all = vec!["the OS trust store".to_owned()];
        all.extend(self.cas.iter().cloned());
        all.join(", ")
    }
}

/// `proxy` (Cargo's `http.proxy` from `from`) as a proxy: curl's format,
/// `[scheme://][user:password@]host[:port]`, `http://` when no scheme is
/// given. The value is never quoted in an error (it may hold a password).
fn parse_proxy(value: &str, from: &str) -> anyhow::Result<Proxy> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(Proxy::Off {
            from: from.to_owned(),
        });
    }
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| {
        anyhow!(
            "Cargo's http.proxy (from {from}) is not a proxy URL (value not shown); write it as \
             `http://host:port` or `http://user:password@host:port`"
        )
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => bail!(
            "Cargo's http.proxy (from {from}) uses `{other}://`; the provider supports http:// \
             and https:// proxies only"
        ),
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("Cargo's http.proxy (from {from}) names no host (value not shown)");
    }
    Ok(Proxy::Cargo {
        url,
        from: from.to_owned(),
    })
}

/// What Cargo's configuration says about the network, each value with
/// where it was set.
#[derive(Debug, Default)]
struct CargoHttp {
    /// `http.proxy`.
    proxy: Option<(String, String)>,
    /// `http.cainfo`, as an absolute path.
    cainfo: Option<(PathBuf, String)>,
    /// How many config files were read.
    files_read: usize,
}

impl CargoHttp {
    /// Cargo's `http.proxy` and `http.cainfo`: from the environment
    /// (`var`), else from Cargo's config files seen from `cwd` with Cargo's
    /// home `home`. Files are read only for what the environment does not
    /// set; unreadable or invalid files are skipped (Cargo itself would have
    /// refused to run).
    fn read(
        var: &dyn Fn(&str) -> Option<OsString>,
        cwd: Option<&Path>,
        home: Option<&Path>,
    ) -> CargoHttp {
        let mut out = CargoHttp::default();
        if let Some(proxy) = var(CARGO_HTTP_PROXY).and_then(|v| v.into_string().ok()) {
            out.proxy = Some((proxy, CARGO_HTTP_PROXY.to_owned()));
        }
        if let Some(cainfo) = var(CARGO_HTTP_CAINFO).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(cainfo);
            let path = match cwd {
                Some(cwd) if path.is_relative() => cwd.join(path),
                _ => path,
            };
            out.cainfo = Some((path, CARGO_HTTP_CAINFO.to_owned()));
        }
        if out.proxy.is_some() && out.cainfo.is_some() {
            return out;
        }
        for file in crate::cargo_files::config_files(cwd, home) {
            let Some(table) = read_cargo_config(&file) else {
                continue;
            };
            out.files_read += 1;
            let http = table.get("http").and_then(toml::Value::as_table);
            let from = || format!("Cargo's config {}", file.display());
            if out.proxy.is_none()
                && let Some(proxy) = http.and_then(|h| h.get("proxy")?.as_str())
            {
                out.proxy = Some((proxy.to_owned(), from()));
            }
            if out.cainfo.is_none()
                && let Some(cainfo) = http.and_then(|h| h.get("cainfo")?.as_str())
                && !cainfo.is_empty()
            {
                // Relative to the folder that holds `.cargo` (Cargo's rule
                // for paths in config files).
                let base = file
                    .parent()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new(""));
                out.cainfo = Some((base.join(cainfo), from()));
            }
            if out.proxy.is_some() && out.cainfo.is_some() {
                break;
            }
        }
        out
    }
}

/// One of Cargo's config files as a TOML table, or `None` (with a trace)
/// when it cannot be read or parsed. Opened without blocking (a FIFO is
/// not waited on), 1 MiB at most.
fn read_cargo_config(path: &Path) -> Option<toml::Table> {
    let text = match crate::fs::read(path, MAX_CARGO_CONFIG_BYTES, crate::fs::Owner::Anyone) {
        Ok(bytes) => String::from_utf8(bytes.to_vec()).ok()?,
        Err(e) => {
            trace::debug(|| format!("network: Cargo's config {} skipped: {e:#}", path.display()));
            return None;
        }
    };
    match text.parse::<toml::Table>() {
        Ok(table) => Some(table),
        Err(_) => {
            trace::debug(|| {
                format!(
                    "network: Cargo's config {} skipped: not valid TOML",
                    path.display()
                )
            });
            None
        }
    }
}

/// The certificates of the PEM file `path` (`what` says where it was set),
/// each checked to be usable as a trust anchor.
fn read_ca_file(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use crate::fs::{Owner, ReadError};
    let named = || format!("the CA file {} ({what})", path.display());
    // A CA file decides which servers get the CI identity and client
    // secret: owned by this user or root, and not writable by others.
    let bytes = match crate::fs::read(path, MAX_CA_FILE_BYTES, Owner::SelfOrRoot) {
        Ok(bytes) => bytes,
        Err(ReadError::NotFound) => bail!("{} does not exist", named()),
        Err(ReadError::NotRegular) => bail!("{} is not a regular file", named()),
        Err(ReadError::TooLarge(_)) => {
            bail!("{} is larger than {MAX_CA_FILE_BYTES} bytes", named())
        }
        Err(ReadError::ForeignOwner(uid)) => bail!(
            "{} is owned by another user (uid {uid}); it is not used, because a CA file decides \
             which servers are trusted with the CI identity and tokens. Have it owned by you or \
             root",
            named()
        ),
        Err(ReadError::Writable(mode)) => bail!(
            "{} is writable by other users (mode {mode:o}); it is not used, because a CA file \
             decides which servers are trusted with the CI identity and tokens. Fix it with \
             `chmod go-w {}`",
            named(),
            path.display()
        ),
        Err(ReadError::Io(e)) => return Err(e).with_context(|| format!("cannot read {}", named())),
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{} is not a valid PEM file ({e})", named()))?;
    if certs.is_empty() {
        bail!(
            "{} holds no certificate (a PEM file with `-----BEGIN CERTIFICATE-----` blocks)",
            named()
        );
    }
    for (i, cert) in certs.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| anyhow!("certificate {} of {} cannot be a CA ({e})", i + 1, named()))?;
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn cargo_http_settings_follow_cargos_precedence() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home/.cargo");
        let project = root.path().join("work/project");
        let deep = project.join("crates/a");
        std::fs::create_dir_all(&deep).unwrap();
        write(
            &home.join("config.toml"),
            "[http]\nproxy = \"home-proxy:1\"\ncainfo = \"ca/home.pem\"\n",
        );
        write(
            &root.path().join("work/.cargo/config.toml"),
            "http.proxy = \"http://u:p%40ss@work-proxy:3128\"\n[build]\njobs = 2\n",
        );
        write(
            &project.join(".cargo/config.toml"),
            "[http]\ncainfo = \"certs/corp.pem\"\n",
        );
        let none = vars(&[]);

        // Nearest first for each key; cainfo relative to the folder holding `.cargo`.
        let c = CargoHttp::read(&none, Some(&deep), Some(&home));
        let (proxy, from) = c.proxy.unwrap();
        assert_eq!(proxy, "http://u:p%40ss@work-proxy:3128");
        assert!(from.contains("work/.cargo/config.toml"), "{from}");
        let (cainfo, from) = c.cainfo.unwrap();
        assert_eq!(cainfo, project.join("certs/corp.pem"));
        assert!(from.contains("project/.cargo/config.toml"), "{from}");

        // Cargo's home last; its relative paths from the folder holding it.
        let c = CargoHttp::read(&none, Some(root.path()), Some(&home));
        assert_eq!(c.proxy.unwrap().0, "home-proxy:1");
        assert_eq!(c.cainfo.unwrap().0, root.path().join("home/ca/home.pem"));

        // The environment wins, and then no file is read at all.
        let env = vars(&[
            (CARGO_HTTP_PROXY, "http://env-proxy:8080"),
            (CARGO_HTTP_CAINFO, "rel/ca.pem"),
        ]);
        let c = CargoHttp::read(&env, Some(&deep), Some(&home));
        assert_eq!(c.files_read, 0);
        assert_eq!(
            c.proxy.unwrap(),
            (
                "http://env-proxy:8080".to_owned(),
                CARGO_HTTP_PROXY.to_owned()
            )
        );
        assert_eq!(c.cainfo.unwrap().0, deep.join("rel/ca.pem"));

        // The legacy `config` wins over `config.toml` in one folder; a
        // file that is not TOML is skipped.
        write(
            &project.join(".cargo/config"),
            "[http]\nproxy = \"legacy:2\"\n",
        );
        write(&deep.join(".cargo/config.toml"), "[http\nproxy = ");
        let c = CargoHttp::read(&none, Some(&deep), Some(&home));
        assert_eq!(c.proxy.unwrap().0, "legacy:2");
        assert!(c.cainfo.unwrap().0.ends_with("home/ca/home.pem"));

        // Cargo's home inside the walk is read once, in its place.
        let files = crate::cargo_files::config_files(Some(&root.path().join("home")), Some(&home));
        assert_eq!(files, [home.join("config.toml")]);
    }

    #[test]
    fn the_environment_proxy_is_read_in_reqwests_order_for_messages() {
        let read = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            environment_proxy(&move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .map(|(url, var)| {
                    let p = Proxy::Environment {
                        effective: Some((url, var)),
                    };
                    (p.describe(), p.has_credentials())
                })
        };
        assert_eq!(read(&[]), None);
        assert_eq!(
            read(&[
                ("ALL_PROXY", "all:1"),
                ("https_proxy", "http://u:pw-Zq8@low:2")
            ]),
            Some((
                "the proxy http://low:2 (with credentials) (from https_proxy; NO_PROXY)".to_owned(),
                true
            ))
        );
        // HTTPS_PROXY is looked at before https_proxy; one that does not
        // parse gives way to ALL_PROXY, as in reqwest.
        assert_eq!(
            read(&[
                ("HTTPS_PROXY", "ftp://x:1"),
                ("https_proxy", "h:2"),
                ("all_proxy", "a:3")
            ]),
            Some((
                "the proxy http://a:3 (from all_proxy; NO_PROXY)".to_owned(),
                false
            ))
        );
    }

    #[test]
    fn proxy_urls_are_parsed_as_curl_does_and_never_shown_with_credentials() {
        let from = "CARGO_HTTP_PROXY";
        let p = parse_proxy("proxy.corp:3128", from).unwrap();
        assert_eq!(
            p.describe(),
            "the proxy http://proxy.corp:3128 (Cargo's http.proxy, from CARGO_HTTP_PROXY; NO_PROXY)"
        );
        assert!(!p.has_credentials());
        let p = parse_proxy("http://alice:s%3Acret-Pw9@proxy.corp:3128", from).unwrap();
        let shown = p.describe();
        assert!(
            shown.contains("http://proxy.corp:3128 (with credentials)")
                && !shown.contains("alice")
                && !shown.contains("cret"),
            "{shown}"
        );
        assert!(!format!("{p:?}").contains("cret"));
        assert!(p.has_credentials());
        let secrets = p.secrets();
        assert!(secrets.contains(&"s%3Acret-Pw9".to_owned()));
        assert!(secrets.contains(&"s:cret-Pw9".to_owned()));
        assert!(!secrets.contains(&"alice".to_owned()));
        let p = parse_proxy("http://ghp_0123456789abcdef@proxy.corp", from).unwrap();
        assert_eq!(p.secrets(), ["ghp_0123456789abcdef"]);
        assert!(matches!(parse_proxy(" ", from).unwrap(), Proxy::Off { .. }));
        let msg = parse_proxy("socks5://u:hunter2@p:1080", from)
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("socks5") && !msg.contains("hunter2"), "{msg}");
        let msg = parse_proxy("http://u:hunter2@[bad", from)
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains(from) && !msg.contains("hunter2"), "{msg}");
    }

    #[cfg(unix)]
    #[test]
    fn ca_files_must_be_pem_certificates_that_only_their_owner_can_change() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.pem");
        let msg = read_ca_file(&missing, "`ca-file`").unwrap_err().to_string();
        assert!(
            msg.contains("none.pem") && msg.contains("`ca-file`") && msg.contains("does not exist"),
            "{msg}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let msg = read_ca_file(&empty, "CARGO_HTTP_CAINFO")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("holds no certificate"), "{msg}");
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let msg = format!("{:#}", read_ca_file(&bad, "x").unwrap_err());
        assert!(msg.contains("cannot be a CA"), "{msg}");
        std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o666)).unwrap();
        let msg = read_ca_file(&bad, "x").unwrap_err().to_string();
        assert!(msg.contains("writable by other users"), "{msg}");
        let msg = read_ca_file(dir.path(), "x").unwrap_err().to_string();
        assert!(msg.contains("not a regular file"), "{msg}");
    }
}
