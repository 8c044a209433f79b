//! The credential provider: Cargo's request → configured sources → Cargo's answer.
//!
//! Answers are chosen on purpose: `not-found` when no source has a token (so
//! Cargo tries the next provider), `url-not-supported` for a registry this
//! configuration does not serve, `operation-not-supported` for an action this
//! version does not know, and `other` (with its cause chain) only for real
//! failures that the user must fix.
//!
//! The sources themselves are in [`crate::source`], one module each behind
//! [`Source`]; this module walks them in the configured order.

use anyhow::anyhow;
use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, Error, LoginOptions, Operation,
    RegistryInfo,
};

use crate::cache::FileStore;
use crate::config::{AuthScheme, Config, ConfigPaths, Settings};
use crate::diag::warn;
use crate::env::{Environment, ProcessEnv};
use crate::keychain::{Budgeted, Keychain, KeychainError, OsKeychain};
use crate::protocol::OperationClass;
use crate::registry::Registry;
use crate::secret::Token;
use crate::source::{Found, Lifetime, Login, Lookup, Note, Request, SourceKind, source};
use crate::sso::settings::Flow;

pub use crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT;

/// The provider, generic over its environment and keychain seams.
#[derive(Debug)]
pub struct Provider<E, K> {
    env: E,
    keychain: K,
    paths: ConfigPaths,
}

impl Provider<ProcessEnv, OsKeychain> {
    /// The provider for this process: the real environment, keychain and
    /// config file locations.
    pub fn from_process() -> Self {
        Provider::new(ProcessEnv, OsKeychain, ConfigPaths::from_env())
    }
}

impl<E: Environment, K: Keychain> Provider<E, K> {
    /// A provider over the given seams.
    pub fn new(env: E, keychain: K, paths: ConfigPaths) -> Self {
        Provider {
            env,
            keychain,
            paths,
        }
    }

    fn request<'a>(
        &'a self,
        registry: &'a Registry<'a>,
        settings: &'a Settings,
        operation: OperationClass,
        keychain: &'a dyn Keychain,
        headers: &'a [String],
    ) -> Request<'a> {
        Request {
            registry,
            settings,
            operation,
            env: &self.env,
            keychain,
            files: &FileStore::user,
            now: &crate::source::unix_now,
            headers,
        }
    }

    fn get(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
        operation: &Operation<'_>,
        headers: &[String],
    ) -> Result<CredentialResponse, Error> {
        if let Some((name, origin)) = &settings.unbound {
            warn(&format!(
                "[registries.{name}] in {origin} holds a token source but no `index`, so its \
                 token goes to whatever index URL Cargo calls `{name}` (a project's \
                 .cargo/config.toml can change it); add `index = \"<the registry's index URL>\"` \
                 to that table"
            ));
        }
        // One keychain-timeout-ms budget for every keychain call of this get.
        let keychain = Budgeted::new(&self.keychain, settings.keychain_timeout);
        let request = self.request(
            registry,
            settings,
            operation_class(operation),
            &keychain,
            headers,
        );
        crate::trace::debug(|| {
            format!(
                "get for {} ({}), {:?} operation; sources {}; matched {}",
                registry.display_name(),
                registry.index_url,
                request.operation,
                settings
                    .sources
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                request.where_configured()
            )
        });
        let mut notes = Vec::new();
        let mut fallback = None;
        for kind in &with_discovery(settings) {
            let timer = crate::trace::Timer::start();
            let lookup = source(*kind).get(&request);
            crate::trace::debug(|| {
                let what = match &lookup {
                    Ok(Lookup::Found(f)) => format!("a token ({:?})", f.lifetime),
                    Ok(Lookup::Fallback(_)) => {
                        "a placeholder, answered only if no later source has a token".to_owned()
                    }
                    Ok(Lookup::Missing { .. }) => "nothing".to_owned(),
                    Err(e) => format!("failed: {e:#}"),
                };
                format!("source {kind}: {what} in {}", timer.ms())
            });
            match lookup? {
                Lookup::Found(found) => return Ok(answer(found, settings, registry, *kind)),
                Lookup::Fallback(found) => {
                    fallback.get_or_insert((found, *kind));
                }
                Lookup::Missing { note } => notes.extend(note),
            }
        }
        if let Some((found, kind)) = fallback {
            return Ok(answer(found, settings, registry, kind));
        }
        for note in notes.into_iter().filter_map(Note::text) {
            warn(&note);
        }
        Err(Error::NotFound)
    }

    /// The first source in `sources` that takes the login (an SSO sign-in,
    /// else storing the token in the keychain).
    fn login(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
        options: &LoginOptions<'_>,
        (flow, rebind): (Option<Flow>, bool),
    ) -> Result<CredentialResponse, Error> {
        let request = self.request(
            registry,
            settings,
            OperationClass::Read,
            &self.keychain,
            &[],
        );
        let login = Login {
            options,
            flow,
            rebind,
        };
        for kind in &with_discovery(settings) {
            if let Some(result) = source(*kind).login(&request, &login) {
                result?;
                return Ok(CredentialResponse::Login);
            }
        }
        if rebind {
            return Err(anyhow!(
                "--rebind binds a registry to the identity provider it now names (zero-config \
                 sign-in), and {} names none, or has an [registries.NAME.sso] table ({})",
                registry.display_name(),
                request.where_configured()
            )
            .into());
        }
        if flow.is_some() {
            return Err(anyhow!(
                "--device, --browser and --paste choose how to sign in through single sign-on, \
                 and {} has no [registries.NAME.sso] table ({})",
                registry.display_name(),
                request.where_configured()
            )
            .into());
        }
        Err(anyhow!(
            "`cargo login` stores the token in the OS keychain, but \"keychain\" is not among \
             the sources for {} ({}); add it to `sources`, or export {} instead",
            registry.display_name(),
            request.where_configured(),
            registry
                .cargo_env_var()
                .unwrap_or_else(|| "a configured `env` variable".to_owned()),
        )
        .into())
    }

    /// Every source that holds something for the registry lets it go; the
    /// keychain is always asked (a token pasted earlier may be there), and
    /// an SSO login is signed out whenever an `sso` table applies.
    fn logout(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
    ) -> Result<CredentialResponse, Error> {
        let request = self.request(
            registry,
            settings,
            OperationClass::Read,
            &self.keychain,
            &[],
        );
        let mut kinds = settings.sources.clone();
        for always in [SourceKind::Sso, SourceKind::Keychain] {
            if !kinds.contains(&always) {
                kinds.push(always);
            }
        }
        let mut removed = false;
        let mut failed = Vec::new();
        for kind in kinds {
            match source(kind).logout(&request) {
                Some(Ok(r)) => removed |= r,
                Some(Err(e)) => failed.push(e),
                None => {}
            }
        }
        // No keychain on this machine is an error only when nothing else was
        // signed out: "logged out" must not be said of a token left behind.
        let no_keychain = |e: &anyhow::Error| {
            e.chain().any(|c| {
                c.downcast_ref::<KeychainError>()
                    .is_some_and(KeychainError::is_unavailable)
            })
        };
        failed.retain(|e| !(removed && no_keychain(e)));
        match failed.into_iter().next() {
            Some(e) => Err(e.into()),
            None if removed => Ok(CredentialResponse::Logout),
            None => Err(Error::NotFound),
        }
    }
}

impl<E: Environment, K: Keychain> Credential for Provider<E, K> {
    fn perform(
        &self,
        info: &RegistryInfo<'_>,
        action: &Action<'_>,
        args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        // Cargo shows the error as it is (escapes and all when its stderr
        // is a terminal): messages may quote what a registry or an IdP
        // sent.
        self.perform_raw(info, action, args).map_err(|e| match e {
            Error::Other(e) => Error::Other(Box::new(Tamed::of(e.as_ref()))),
            e => e,
        })
    }
}

/// An error chain with every message passed through
/// [`crate::diag::shown_lines`].
#[derive(Debug)]
struct Tamed {
    message: String,
    source: Option<Box<Tamed>>,
}

impl Tamed {
    fn of(e: &(dyn std::error::Error + 'static)) -> Tamed {
        Tamed {
            message: crate::diag::shown_lines(&e.to_string()).into_owned(),
            source: e.source().map(|s| Box::new(Tamed::of(s))),
        }
    }
}

impl std::fmt::Display for Tamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Tamed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as _)
    }
}

impl<E: Environment, K: Keychain> Provider<E, K> {
    fn perform_raw(
        &self,
        info: &RegistryInfo<'_>,
        action: &Action<'_>,
        args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        let registry = Registry::from_info(info);
        // `cargo login --registry NAME -- --device` (or --browser, --paste):
        // Cargo appends those words to the provider's configured arguments.
        let (flow, args) = match action {
            Action::Login(_) => login_flow(args)?,
            _ => ((None, false), args.to_vec()),
        };
        let config = Config::load(&self.paths, &args)?;
        let settings = match config.settings_for(&registry) {
            Ok(Some(settings)) => settings,
            Ok(None) => return Err(Error::UrlNotSupported),
            Err(mismatch) => return Err(anyhow!(mismatch).into()),
        };
        match action {
            Action::Get(operation) => self.get(&registry, &settings, operation, &info.headers),
            Action::Login(options) => self.login(&registry, &settings, options, flow),
            Action::Logout => self.logout(&registry, &settings),
            _ => Err(Error::OperationNotSupported),
        }
    }
}

fn answer(
    found: Found,
    settings: &Settings,
    registry: &Registry<'_>,
    kind: SourceKind,
) -> CredentialResponse {
    if settings.auth_scheme != AuthScheme::None
        && let Some(carried) = found.token.scheme()
    {
        let scheme = settings.auth_scheme.as_str();
        let done = if carried.eq_ignore_ascii_case(scheme) {
            "it was sent as it is".to_owned()
        } else {
            "so it was sent with two schemes, which the registry will refuse".to_owned()
        };
        warn(&format!(
            "the token for {} (source {kind}) already starts with `{carried} `, and \
             auth-scheme = \"{scheme}\" adds a scheme itself: {done}. Store the token without \
             its scheme, or set auth-scheme = \"none\"",
            registry.display_name()
        ));
    }
    let token = authorization(found.token, settings);
    let cache = match found.lifetime {
        Lifetime::Session => CacheControl::Session,
        Lifetime::Until(t) => match time::OffsetDateTime::from_unix_timestamp(t) {
            Ok(expiration) => CacheControl::Expires { expiration },
            Err(_) => CacheControl::Never,
        },
        Lifetime::Unknown => CacheControl::Never,
    };
    CredentialResponse::Get {
        token: token.into(),
        cache,
        operation_independent: found.operation_independent,
    }
}

/// The token as it goes into the `Authorization` header, with the
/// configured `auth-scheme`: as it is, `Bearer <token>` (unless it already
/// starts with `Bearer `), or `Basic base64(<basic-user>:<token>)` (unless it
/// already starts with `Basic `).
pub fn authorization(token: Token, settings: &Settings) -> Token {
    match settings.auth_scheme {
        AuthScheme::None => token,
        AuthScheme::Bearer => token.with_scheme("Bearer"),
        AuthScheme::Basic if token.scheme() == Some("Basic") => token,
        AuthScheme::Basic => token.basic(&settings.basic_user),
    }
}

/// The sources a `get` walks: `settings.sources`, with "sso" after "env"
/// when zero-config sign-in applies (a login remembered by discovery beats
/// a token pasted into the keychain, as an `sso` table's does).
pub fn with_discovery(settings: &Settings) -> Vec<SourceKind> {
    let mut sources = settings.sources.clone();
    if settings.discovery.enabled && !sources.contains(&SourceKind::Sso) {
        let at = sources
            .iter()
            .position(|s| *s == SourceKind::Env)
            .map_or(0, |i| i + 1);
        sources.insert(at, SourceKind::Sso);
    }
    sources
}

fn operation_class(operation: &Operation<'_>) -> OperationClass {
    match operation {
        Operation::Publish { .. }
        | Operation::Yank { .. }
        | Operation::Unyank { .. }
        | Operation::Owners { .. } => OperationClass::Publish,
        _ => OperationClass::Read,
    }
}

/// The flow chosen on `cargo login`'s command line, whether `--rebind` was
/// given, and the other arguments.
type LoginWords<'a> = ((Option<Flow>, bool), Vec<&'a str>);

fn login_flow<'a>(args: &[&'a str]) -> Result<LoginWords<'a>, Error> {
    let mut flow = None;
    let mut rebind = false;
    let mut rest = Vec::new();
    for arg in args {
        let chosen = match *arg {
            "--rebind" => {
                rebind = true;
                continue;
            }
            "--device" => Flow::Device,
            "--browser" => Flow::Browser,
            "--paste" => Flow::Paste,
            _ => {
                rest.push(*arg);
                continue;
            }
        };
        if flow.is_some_and(|f| f != chosen) {
            return Err(anyhow!("choose one of --device, --browser and --paste").into());
        }
        flow = Some(chosen);
    }
    Ok(((flow, rebind), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(auth_scheme: AuthScheme, basic_user: &str) -> Settings {
        let mut s = Config::default()
            .settings_for(&Registry {
                index_url: "sparse+https://r.example/",
                name: Some("r"),
            })
            .unwrap()
            .unwrap();
        s.auth_scheme = auth_scheme;
        s.basic_user = basic_user.to_owned();
        s
    }

    fn header(token: &str, scheme: AuthScheme, user: &str) -> String {
        authorization(Token::new(token.into()), &settings(scheme, user))
            .expose()
            .to_owned()
    }

    #[test]
    fn basic_follows_rfc_7617_and_4648() {
        // RFC 7617's example.
        assert_eq!(
            header("open sesame", AuthScheme::Basic, "Aladdin"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // RFC 4648's test vectors, as `user:token` with padding of 0, 1, 2.
        for (user, token, encoded) in [
            ("", "", "Og=="),
            ("f", "", "Zjo="),
            ("fo", "o", "Zm86bw=="),
            ("", "foobar", "OmZvb2Jhcg=="),
            ("foo", "bar", "Zm9vOmJhcg=="),
            ("fooba", "r", "Zm9vYmE6cg=="),
        ] {
            assert_eq!(
                header(token, AuthScheme::Basic, user),
                format!("Basic {encoded}"),
                "{user}:{token}"
            );
        }
        // Multi-byte characters are sent as UTF-8.
        assert_eq!(header("€", AuthScheme::Basic, ""), "Basic OuKCrA==");
    }

    #[test]
    fn a_token_carrying_the_scheme_is_not_given_it_twice() {
        assert_eq!(header("Basic abc", AuthScheme::Basic, "u"), "Basic abc");
        assert_eq!(header("basic abc", AuthScheme::Basic, "u"), "basic abc");
        assert_eq!(header("Bearer abc", AuthScheme::Bearer, ""), "Bearer abc");
        assert_eq!(header("abc", AuthScheme::Bearer, ""), "Bearer abc");
        assert_eq!(header("Basic abc", AuthScheme::None, ""), "Basic abc");
        assert_eq!(
            header("Basicabc", AuthScheme::Basic, ""),
            "Basic OkJhc2ljYWJj"
        );
        assert_eq!(Token::new("Basic".into()).scheme(), None);
        assert_eq!(Token::new("bEaReR x".into()).scheme(), Some("Bearer"));
        assert_eq!(Token::new("Bear x".into()).scheme(), None);
    }

    #[test]
    fn errors_for_cargo_have_their_escapes_shown_not_acted_on() {
        let e = anyhow!("moved to http://i/\u{1b}]0;pwned\u{7}\r\u{1b}[2J")
            .context("corp now names \u{202e}evil");
        let tamed = Tamed::of(AsRef::<dyn std::error::Error>::as_ref(&e));
        let chain: Vec<String> =
            std::iter::successors(Some(&tamed as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            chain,
            [
                "corp now names \\u{202e}evil",
                "moved to http://i/\\u{1b}]0;pwned\\u{7}\\r\\u{1b}[2J"
            ]
        );
    }
}
