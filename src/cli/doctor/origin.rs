//! Where a token a source answered with comes from, in words: the variable,
//! the keychain item, the single sign-on account, the CI identity. Never
//! the token, nor any other secret (an identity's value, a client secret).

use crate::cache::FileStore;
use crate::keychain::{Keychain, OsKeychain, USER, service_name};
use crate::oidc::identity;
use crate::oidc::settings::{Grant, IdentityKind, OidcSettings};
use crate::source::{Request, SourceKind, env};
use crate::sso::grant::Grants;

/// Where the token `kind` just answered `request` with comes from. Asks
/// again where needed (the variable's name, which keychain item, the stored
/// login's account), each within the registry's keychain deadline.
pub fn origin(kind: SourceKind, request: &Request<'_>) -> String {
    let settings = request.settings;
    let index = request.registry.index_url;
    match kind {
        SourceKind::Env => {
            let names = env::candidate_names(request.registry, &settings.env);
            match env::lookup(request.env, &names) {
                Ok(Some((_, name))) => format!("environment variable {name}"),
                _ => "an environment variable".to_owned(),
            }
        }
        SourceKind::Keychain => {
            // The raw keychain: the doctor's own budget may be spent.
            let service = service_name(index);
            match OsKeychain.read_item(&service, settings.keychain_timeout) {
                Ok(Some(_)) => format!("keychain item `{service}` (user {USER})"),
                Ok(None) => format!("Cargo's own keychain item for {index} ({})", cargos_own()),
                Err(_) => format!("a keychain item for {index}"),
            }
        }
        SourceKind::Sso => {
            let Some((sso, _)) = crate::source::sso::applied(request) else {
                return "a single sign-on login".to_owned();
            };
            let grants = Grants::new(
                &sso,
                request.registry,
                &OsKeychain,
                settings.keychain_timeout,
                FileStore::user().ok(),
            );
            match grants.load() {
                Ok(Some(grant)) => match grant.account {
                    Some(account) => format!("single sign-on login of {account}"),
                    None => "single sign-on login (the IdP named no account)".to_owned(),
                },
                _ => "a single sign-on login".to_owned(),
            }
        }
        SourceKind::Oidc => match &settings.oidc {
            Some(oidc) => exchange(oidc, request.env),
            None => "a token exchange".to_owned(),
        },
    }
}

/// Cargo's keychain provider whose items are read on this platform.
fn cargos_own() -> &'static str {
    if cfg!(windows) {
        "cargo:wincred"
    } else {
        "cargo:libsecret"
    }
}

/// What an exchange starts from: the CI identity (and where it is read), or
/// the client's own credentials.
fn exchange(oidc: &OidcSettings, env: &dyn crate::env::Environment) -> String {
    if oidc.grant == Grant::AwsCodeartifact {
        return format!(
            "AWS CodeArtifact token from the AWS identity `{}`",
            identity_word(oidc.identity)
        );
    }
    if matches!(oidc.identity, IdentityKind::Aws | IdentityKind::AwsImds) {
        return format!("the AWS identity `{}`", identity_word(oidc.identity));
    }
    if !oidc.needs_identity() {
        return format!(
            "client credentials of client `{}`",
            oidc.client_id.as_deref().unwrap_or("")
        );
    }
    let Ok(Some(found)) = identity::locate(oidc, env) else {
        return "exchange of a CI identity".to_owned();
    };
    let kind = found.kind;
    let place = match kind {
        IdentityKind::Env | IdentityKind::Gitlab => Some(format!(
            "environment variable {}",
            oidc.identity_env
                .as_deref()
                .unwrap_or(identity::GITLAB_DEFAULT_VAR)
        )),
        IdentityKind::File => Some(match &oidc.identity_file {
            Some(path) => format!("file {}", path.display()),
            None => "the file AWS_WEB_IDENTITY_TOKEN_FILE names".to_owned(),
        }),
        IdentityKind::Command => Some("`identity-command`".to_owned()),
        _ => None,
    };
    format!(
        "exchange of the CI identity `{}`{}",
        identity_word(kind),
        place.map(|p| format!(" ({p})")).unwrap_or_default()
    )
}

/// An identity as the config names it (`identity = "…"`).
pub fn identity_word(kind: IdentityKind) -> &'static str {
    match kind {
        IdentityKind::Auto => "auto",
        IdentityKind::GithubActions => "github-actions",
        IdentityKind::Gitlab => "gitlab",
        IdentityKind::Circleci => "circleci",
        IdentityKind::AzurePipelines => "azure-pipelines",
        IdentityKind::Buildkite => "buildkite",
        IdentityKind::Bitbucket => "bitbucket",
        IdentityKind::Gcp => "gcp",
        IdentityKind::File => "file",
        IdentityKind::Env => "env",
        IdentityKind::Command => "command",
        IdentityKind::Aws => "aws",
        IdentityKind::AwsImds => "aws-imds",
    }
}
