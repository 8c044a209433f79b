//! The credential provider: Cargo's request → configured sources → Cargo's answer.
//!
//! Answers are chosen on purpose: `not-found` when no source has a token (so
//! Cargo tries the next provider), `url-not-supported` for a registry this
//! configuration does not serve, `operation-not-supported` for an action this
//! version does not know, and `other` (with its cause chain) only for real
//! failures that the user must fix.

use std::time::Duration;

use anyhow::anyhow;
use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, Error, LoginOptions, Operation,
    RegistryInfo, Secret,
};

use crate::cache::FileStore;
use crate::config::{AuthScheme, Config, ConfigPaths, Settings};
use crate::diag::warn;
use crate::keychain::{Budgeted, Keychain, OsKeychain};
use crate::oidc::{self, OperationClass};
use crate::registry::Registry;
use crate::secret::Token;
use crate::source::SourceKind;
use crate::source::env::{self, Environment, ProcessEnv};
use crate::source::sso::{self, settings::Flow};

/// Deadline of the keychain call made by `cargo login` / `cargo logout`: a
/// person is waiting, perhaps on an unlock prompt.
pub const INTERACTIVE_KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(30);

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

    fn get(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
        operation: &Operation<'_>,
    ) -> Result<CredentialResponse, Error> {
        let mut keychain_problem = None;
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
        let mut not_signed_in = false;
        for source in &settings.sources {
            let token = match source {
                SourceKind::Oidc => {
                    if let Some(obtained) = self.oidc(registry, settings, operation, &keychain)? {
                        return Ok(obtained);
                    }
                    None
                }
                SourceKind::Sso => {
                    match self.sso(registry, settings, operation, &keychain)? {
                        Some(obtained) => return Ok(obtained),
                        None => not_signed_in = settings.sso.is_some(),
                    }
                    None
                }
                SourceKind::Env => {
                    let names = env::candidate_names(registry, &settings.env);
                    env::lookup(&self.env, &names)?.map(|(token, _)| token)
                }
                SourceKind::Keychain => {
                    match keychain.read(registry.index_url, settings.keychain_timeout) {
                        Ok(token) => token,
                        // No keychain on this machine: like an empty one.
                        Err(e) if e.is_unavailable() => None,
                        Err(e) => {
                            keychain_problem = Some(e);
                            None
                        }
                    }
                }
            };
            if let Some(token) = token {
                return Ok(answer(token, settings, CacheControl::Session, true));
            }
        }
        if let Some(problem) = keychain_problem {
            warn(&format!(
                "could not read the OS keychain for {}: {problem}",
                registry.display_name()
            ));
        }
        // Not said in CI, where nobody signs in (a CI job uses `oidc`).
        if not_signed_in && !sso::interactive::in_ci(&self.env) {
            warn(&format!(
                "not signed in to {} yet: `cargo login --registry {}` signs in (single sign-on)",
                registry.display_name(),
                registry.name.unwrap_or("NAME")
            ));
        }
        Err(Error::NotFound)
    }

    /// The context the token-issuing sources (`oidc`, `sso`) work in.
    fn context<'a>(
        &'a self,
        settings: &'a Settings,
        keychain: &'a dyn Keychain,
        now: &'a dyn Fn() -> i64,
    ) -> oidc::Context<'a> {
        oidc::Context {
            env: &self.env,
            keychain,
            keychain_timeout: settings.keychain_timeout,
            files: &FileStore::user,
            now,
            token_vars: &settings.env,
        }
    }

    fn sso(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
        operation: &Operation<'_>,
        keychain: &dyn Keychain,
    ) -> Result<Option<CredentialResponse>, Error> {
        let Some(sso) = &settings.sso else {
            if !settings.sso_listed {
                // `"sso"` among the default sources and no `sso` table here.
                return Ok(None);
            }
            return Err(anyhow!(
                "the sources for {} list \"sso\" but no [registries.NAME.sso] table applies \
                 ({}); add one (see docs/sso.md)",
                registry.display_name(),
                where_configured(settings)
            )
            .into());
        };
        let now = unix_now;
        let cx = self.context(settings, keychain, &now);
        let obtained = sso::get(sso, registry, operation_class(operation), &cx)?;
        Ok(obtained.map(|o| {
            answer(
                o.token,
                settings,
                cache_control(o.expires_at),
                !sso.operation_dependent(),
            )
        }))
    }

    fn oidc(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
        operation: &Operation<'_>,
        keychain: &dyn Keychain,
    ) -> Result<Option<CredentialResponse>, Error> {
        let Some(oidc) = &settings.oidc else {
            if !settings.oidc_listed {
                // `"oidc"` among the default sources, and no `oidc` table
                // for this registry: skipped; an exchange is never made for
                // a registry nobody configured one for (docs/security.md).
                return Ok(None);
            }
            return Err(anyhow!(
                "the sources for {} list \"oidc\" but no [registries.NAME.oidc] table applies \
                 ({}); add one (see docs/oidc.md)",
                registry.display_name(),
                where_configured(settings)
            )
            .into());
        };
        let class = operation_class(operation);
        let now = unix_now;
        let cx = self.context(settings, keychain, &now);
        let obtained = oidc::get(oidc, registry, class, &cx).map_err(|e| {
            e.context(format!(
                "could not get a short-lived token for {} from the OIDC exchange",
                registry.display_name()
            ))
        })?;
        Ok(obtained.map(|o| {
            answer(
                o.token,
                settings,
                cache_control(o.expires_at),
                !oidc.operation_dependent(),
            )
        }))
    }

    fn login(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
        options: &LoginOptions<'_>,
        flow: Option<Flow>,
    ) -> Result<CredentialResponse, Error> {
        // A registry with single sign-on signs the person in, unless a
        // token was given explicitly (that goes to the keychain as usual).
        if let Some(sso) = settings
            .sso
            .as_ref()
            .filter(|_| settings.sources.contains(&SourceKind::Sso))
            && (options.token.is_none() || flow.is_some())
        {
            let now = unix_now;
            let cx = self.context(settings, &self.keychain, &now);
            sso::login(sso, registry, flow, &cx)?;
            return Ok(CredentialResponse::Login);
        }
        if flow.is_some() {
            return Err(anyhow!(
                "--device, --browser and --paste choose how to sign in through single sign-on, \
                 and {} has no [registries.NAME.sso] table ({})",
                registry.display_name(),
                where_configured(settings)
            )
            .into());
        }
        if !settings.sources.contains(&SourceKind::Keychain) {
            return Err(anyhow!(
                "`cargo login` stores the token in the OS keychain, but \"keychain\" is not among \
                 the sources for {} ({}); add it to `sources`, or export {} instead",
                registry.display_name(),
                where_configured(settings),
                registry
                    .cargo_env_var()
                    .unwrap_or_else(|| "a configured `env` variable".to_owned()),
            )
            .into());
        }
        let given = match &options.token {
            Some(token) => token.to_owned().expose(),
            None => {
                let message = match options.login_url {
                    Some(url) => format!(
                        "paste the token for {} (from {url})",
                        registry.display_name()
                    ),
                    None => format!("paste the token for {}", registry.display_name()),
                };
                std::mem::take(&mut *crate::prompt::read_token(&message)?)
            }
        };
        let Some(token) = Token::parse(given, "`cargo login`").map_err(|e| anyhow!(e))? else {
            return Err(anyhow!(
                "no token was given; pass it on standard input (`cargo login --registry {}`, then \
                 paste it) or as an argument",
                registry.display_name()
            )
            .into());
        };
        let label = format!("Cargo registry token: {}", registry.display_name());
        self.keychain
            .store(
                registry.index_url,
                &label,
                &token,
                INTERACTIVE_KEYCHAIN_TIMEOUT,
            )
            .map_err(|e| {
                anyhow!(e).context(format!(
                    "could not store the token for {} in the OS keychain (nothing was written \
                     anywhere else)",
                    registry.display_name()
                ))
            })?;
        Ok(CredentialResponse::Login)
    }

    fn logout(
        &self,
        registry: &Registry<'_>,
        settings: &Settings,
    ) -> Result<CredentialResponse, Error> {
        let mut signed_out = false;
        if let Some(sso) = &settings.sso {
            let now = unix_now;
            let cx = self.context(settings, &self.keychain, &now);
            signed_out = sso::logout(sso, registry, &cx)? != sso::LoggedOut::NotSignedIn;
        }
        match self
            .keychain
            .remove(registry.index_url, INTERACTIVE_KEYCHAIN_TIMEOUT)
        {
            Ok(removed) if removed || signed_out => Ok(CredentialResponse::Logout),
            Ok(_) => Err(Error::NotFound),
            // The SSO login is gone; a keychain without pasted tokens is fine.
            Err(e) if signed_out && e.is_unavailable() => Ok(CredentialResponse::Logout),
            Err(e) => Err(anyhow!(e)
                .context(format!(
                    "could not remove the token for {} from the OS keychain",
                    registry.display_name()
                ))
                .into()),
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
        let registry = Registry::from_info(info);
        // `cargo login --registry NAME -- --device` (or --browser, --paste):
        // Cargo appends those words to the provider's configured arguments.
        let (flow, args) = match action {
            Action::Login(_) => login_flow(args)?,
            _ => (None, args.to_vec()),
        };
        let config = Config::load(&self.paths, &args)?;
        let settings = match config.settings_for(&registry) {
            Ok(Some(settings)) => settings,
            Ok(None) => return Err(Error::UrlNotSupported),
            Err(mismatch) => return Err(anyhow!(mismatch).into()),
        };
        match action {
            Action::Get(operation) => self.get(&registry, &settings, operation),
            Action::Login(options) => self.login(&registry, &settings, options, flow),
            Action::Logout => self.logout(&registry, &settings),
            _ => Err(Error::OperationNotSupported),
        }
    }
}

fn answer(
    token: Token,
    settings: &Settings,
    cache: CacheControl,
    operation_independent: bool,
) -> CredentialResponse {
    let token = match settings.auth_scheme {
        AuthScheme::None => token,
        AuthScheme::Bearer => token.with_scheme("Bearer"),
    };
    CredentialResponse::Get {
        token: Secret::from(token.expose().to_owned()),
        cache,
        operation_independent,
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
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

fn cache_control(expires_at: Option<i64>) -> CacheControl {
    match expires_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()) {
        Some(expiration) => CacheControl::Expires { expiration },
        None => CacheControl::Never,
    }
}

/// The flow chosen on `cargo login`'s command line, and the other arguments.
fn login_flow<'a>(args: &[&'a str]) -> Result<(Option<Flow>, Vec<&'a str>), Error> {
    let mut flow = None;
    let mut rest = Vec::new();
    for arg in args {
        let chosen = match *arg {
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
    Ok((flow, rest))
}

fn where_configured(settings: &Settings) -> String {
    match settings.matched.first() {
        Some((name, origin)) => format!("[registries.{name}] in {origin}"),
        None => "no [registries.NAME] table matches this registry".to_owned(),
    }
}
