//! crates.io trusted publishing (`grant = "crates-io-trusted-publishing"`).
//!
//! A GitHub Actions or GitLab CI job's ID token (audience `crates.io`) is
//! POSTed as `{"jwt": …}` to crates.io's token endpoint, which answers
//! `{"token": "cio_tp_…"}`: a publish token valid for 30 minutes. crates.io
//! accepts each ID token once (its `jti`), so every exchange fetches a fresh
//! one (GitHub Actions: the ID token is fetched on each cache miss).
//!
//! - Only for crates.io's own index, and only for publish-class operations
//!   (publish, yank, unyank, owners). A read gets no token, since crates.io
//!   needs none to read: outside a CI job Cargo's `not-found`; in a job that
//!   can publish, [`READ_PLACEHOLDER`], because `cargo publish` asks for a
//!   read token before it packages the crate and stops on `not-found`.
//! - A crates.io-compatible registry (staging.crates.io, a self-hosted one
//!   implementing the same API) is served only from a table with its own
//!   `index`, its own `token-endpoint` (not at crates.io: a crates.io token
//!   is never minted for another index) and its own `identity-audience`
//!   (not `crates.io`: an ID token crates.io would accept is never sent to
//!   another server, which could use it there first), and only for that
//!   `index` ([`check_index`]).
//! - The token is cached across runs like other OIDC tokens (keyed per
//!   identity) and Cargo is told it expires [`LIFETIME_MARGIN_SECS`] before
//!   crates.io's 30 minutes end.
//! - Revocation (`DELETE <endpoint>` with the token as bearer): the tokens
//!   this provider minted are recorded (keys and times only, no token) in a
//!   private ledger next to the cache, and revoked: the one a new token
//!   replaces, at once; any other whose use is over (Cargo was told it
//!   expired), at the next exchange; and this job's (or, outside a CI job,
//!   every) recorded token at `cargo logout --registry crates-io` and
//!   `cargo-credential-corp revoke`. See docs/oidc.md.

use anyhow::bail;

use crate::mint::{Context, Obtained};
use crate::net::http::Http;
use crate::oidc::identity;
use crate::oidc::settings::{Endpoint, IdentityKind, OidcSettings};
use crate::protocol::OperationClass;
use crate::registry::{CRATES_IO_INDEXES, Registry, is_crates_io_index, same_index};
use crate::secret::Token;

mod ledger;
mod request;

use ledger::after_mint;
pub use ledger::{Which, logout, revoke};
pub(crate) use request::request;
pub use request::{parse, revoke_token};

/// How long crates.io keeps a trusted publishing token valid.
pub const TOKEN_LIFETIME_SECS: i64 = 30 * 60;
/// Taken off [`TOKEN_LIFETIME_SECS`] for the expiry Cargo is told (clock
/// skew, the time the request took): Cargo stops using the token a minute
/// before that, 28 minutes after it was asked for.
pub const LIFETIME_MARGIN_SECS: i64 = 60;

/// What a read gets in a job that can publish: [`READ_PLACEHOLDER`], not a
/// token. `cargo publish` asks for a read token before it packages the
/// crate, only to check that one can be had, and stops on `not-found`; the
/// upload itself asks again, as a publish.
pub const READ_PLACEHOLDER: &str = "cargo-credential-corp:trusted-publishing:no-read-token";

/// Whether `token` is [`READ_PLACEHOLDER`] (no token: the provider gives it
/// to Cargo only when no later source has a real one).
pub(crate) fn is_placeholder(token: &Token) -> bool {
    *token == *READ_PLACEHOLDER
}

/// crates.io trusted publishing as a family of grants.
pub(crate) struct TrustedPublishing;

impl super::family::Family for TrustedPublishing {
    fn get(
        &self,
        settings: &OidcSettings,
        registry: &Registry<'_>,
        class: OperationClass,
        cx: &Context<'_>,
    ) -> anyhow::Result<Option<Obtained>> {
        get(settings, registry, class, cx)
    }

    fn logout(
        &self,
        settings: &OidcSettings,
        registry: &Registry<'_>,
        cx: &Context<'_>,
    ) -> Option<anyhow::Result<bool>> {
        Some(
            logout(settings, registry, cx)
                .map_err(|e| e.context("could not revoke the crates.io trusted publishing tokens")),
        )
    }

    fn is_placeholder(&self, token: &Token) -> bool {
        is_placeholder(token)
    }
}

/// The exchange as a token endpoint request of [`super::get_with`].
fn token_request(
    http: &Http,
    endpoint: &str,
    r: &super::exchange::ExchangeRequest<'_>,
) -> anyhow::Result<super::exchange::Issued> {
    request(http, endpoint, r.settings, r.subject, &r.secrets())
}

/// A `get` for crates.io: nothing outside a GitHub Actions or GitLab CI
/// job; for a read, [`READ_PLACEHOLDER`] (never a token: crates.io needs
/// none to read); else a cached or freshly minted publish token.
pub(crate) fn get(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    class: OperationClass,
    cx: &Context<'_>,
) -> anyhow::Result<Option<Obtained>> {
    check_index(settings, registry)?;
    if class == OperationClass::Read {
        return Ok(read(settings, cx));
    }
    match identity::locate(settings, cx.env)? {
        None => {
            crate::trace::debug(|| "oidc: no CI identity in this environment".to_owned());
            return Ok(None);
        }
        Some(id) => accepted(id.kind)?,
    }
    let mut to_revoke: Vec<Token> = Vec::new();
    let obtained = super::get_with(
        settings,
        registry,
        class,
        cx,
        token_request,
        &mut |minted| {
            to_revoke = after_mint(settings, cx, &minted);
        },
    )?;
    if !to_revoke.is_empty() {
        let http = Http::new(settings.timeout)?;
        let endpoint = endpoint(settings);
        for token in &to_revoke {
            match revoke_token(&http, endpoint, token) {
                Ok(()) => crate::trace::debug(|| {
                    "crates.io trusted publishing: revoked a token whose use is over".to_owned()
                }),
                Err(e) => crate::diag::warn(&format!(
                    "could not revoke a crates.io trusted publishing token whose use is over \
                     ({e:#}); it expires by itself within 30 minutes of being issued"
                )),
            }
        }
    }
    Ok(obtained)
}

/// A read: no ID token fetched, nothing exchanged. In a job whose CI
/// identity crates.io accepts (found without a request: GitHub's is only
/// fetched for an exchange), [`READ_PLACEHOLDER`], which Cargo may not keep
/// or use for a publish (`cache: never`, `operation_independent: false`);
/// elsewhere nothing (Cargo's `not-found`, so the next source is tried).
fn read(settings: &OidcSettings, cx: &Context<'_>) -> Option<Obtained> {
    let in_a_publishing_job = matches!(
        identity::locate(settings, cx.env),
        Ok(Some(id)) if accepted(id.kind).is_ok()
    );
    crate::trace::debug(|| {
        format!(
            "crates.io trusted publishing: no token for a read (none is needed to read){}",
            if in_a_publishing_job {
                "; the placeholder, for `cargo publish`'s check before it packages"
            } else {
                ""
            }
        )
    });
    in_a_publishing_job.then(|| Obtained {
        token: Token::new(READ_PLACEHOLDER.to_owned()),
        expires_at: None,
    })
}

/// The identity kinds crates.io accepts (its two trusted issuers).
fn accepted(kind: IdentityKind) -> anyhow::Result<()> {
    match kind {
        IdentityKind::GithubActions | IdentityKind::Gitlab => Ok(()),
        other => bail!(
            "this job's CI identity (identity \"{}\") is not supported by crates.io trusted \
             publishing: crates.io accepts ID tokens from GitHub Actions and GitLab CI only. \
             Publish from one of those, or use a crates.io API token (CARGO_REGISTRY_TOKEN)",
            crate::diag::config_word(&other)
        ),
    }
}

/// The index a crates.io-compatible registry's table is bound to: its own
/// `index` when that is not crates.io's, else `None` (crates.io itself).
fn bound_index(settings: &OidcSettings) -> Option<&str> {
    settings
        .table_index
        .as_deref()
        .filter(|index| !is_crates_io_index(index))
}

/// crates.io tokens go to crates.io's own index only; a crates.io-compatible
/// registry's tokens only to the `index` of its table (which must also name
/// its own endpoint and audience, see [`foreign_registry_refusal`]).
fn check_index(settings: &OidcSettings, registry: &Registry<'_>) -> anyhow::Result<()> {
    let Some(bound) = bound_index(settings) else {
        if is_crates_io_index(registry.index_url) {
            return Ok(());
        }
        bail!(
            "grant \"crates-io-trusted-publishing\" mints crates.io publish tokens, handed only \
             to crates.io's own index ({}); Cargo asked about `{}` with index `{}`. Use this \
             grant in [registries.crates-io], or, for a crates.io-compatible registry, in a \
             table with that registry's `index`, `token-endpoint` and `identity-audience`",
            CRATES_IO_INDEXES[0],
            registry.display_name(),
            registry.index_url
        )
    };
    if let Some((key, why)) = foreign_registry_refusal(settings) {
        bail!(
            "grant \"crates-io-trusted-publishing\" for the registry at `{bound}`: `{key}` {why}"
        );
    }
    if same_index(bound, registry.index_url) {
        return Ok(());
    }
    bail!(
        "grant \"crates-io-trusted-publishing\" is configured for the registry at `{bound}` (its \
         table's `index`); its tokens are handed to that index only, and Cargo asked about `{}` \
         with index `{}`",
        registry.display_name(),
        registry.index_url
    )
}

/// Whether `host` serves crates.io's own trusted publishing endpoint.
fn is_crates_io_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "crates.io" || host == "www.crates.io"
}

/// Whether an ID token with `audience` could be exchanged at crates.io
/// (`crates.io`, in any case, or a URL of crates.io).
fn is_crates_io_audience(audience: &str) -> bool {
    let a = audience
        .trim()
        .trim_end_matches(['/', '.'])
        .to_ascii_lowercase();
    a == crate::oidc::settings::CRATES_IO_AUDIENCE
        || url::Url::parse(&a)
            .ok()
            .and_then(|u| u.host_str().map(is_crates_io_host))
            .unwrap_or(false)
}

/// Why a table with this grant cannot serve a registry other than crates.io:
/// the `oidc` key to change and what to write (never its value); `None`
/// when it names its own `token-endpoint` (not at crates.io) and its own
/// `identity-audience` (not crates.io's). Both default to crates.io's, so
/// a table that leaves either out is refused.
pub(crate) fn foreign_registry_refusal(
    settings: &OidcSettings,
) -> Option<(&'static str, &'static str)> {
    let at_crates_io = url::Url::parse(endpoint(settings))
        .ok()
        .and_then(|u| u.host_str().map(is_crates_io_host))
        .unwrap_or(true);
    if at_crates_io {
        return Some((
            "token-endpoint",
            "must be set to the trusted publishing token endpoint of the registry at `index` (a \
             crates.io-compatible registry: staging, self-hosted); crates.io's own endpoint (the \
             default) is refused, since a crates.io publish token is never minted for another \
             index",
        ));
    }
    match settings.identity_audience.as_deref() {
        Some(audience) if !is_crates_io_audience(audience) => None,
        _ => Some((
            "identity-audience",
            "must be set to the audience the registry at `index` requires in the CI ID token, \
             not `crates.io` (the default): an ID token crates.io would accept is never sent to \
             another server, which could exchange it at crates.io first (GitLab: give the \
             `id_tokens` entry that `aud`)",
        )),
    }
}

/// Why a table for crates.io itself (no `index` of its own, or crates.io's)
/// cannot use its `token-endpoint`: the `oidc` key and what to write, or
/// `None` when the endpoint is crates.io's (the default) or a loopback test
/// server. The CI ID token sent there has the audience crates.io accepts.
pub(crate) fn crates_io_endpoint_refusal(
    settings: &OidcSettings,
) -> Option<(&'static str, &'static str)> {
    let allowed = url::Url::parse(endpoint(settings)).is_ok_and(|u| {
        u.host_str().is_some_and(is_crates_io_host) || crate::net::url::is_loopback(&u)
    });
    (!allowed).then_some((
        "token-endpoint",
        "for crates.io itself must be crates.io's (leave it out) or a loopback test server: \
         the CI ID token sent there has the audience crates.io accepts, and is never sent to \
         another server. A crates.io-compatible registry needs a table of its own with its \
         `index`, `token-endpoint` and `identity-audience`",
    ))
}

/// The `aud` of a JWT, read without verifying it: empty when it has none,
/// `None` when `jwt` is not a JWT or its claims or `aud` cannot be read.
fn jwt_audiences(jwt: &Token) -> Option<Vec<String>> {
    crate::oauth::jwt::claims_of(jwt)?.audiences()
}

fn endpoint(settings: &OidcSettings) -> &str {
    match &settings.endpoint {
        Endpoint::Token(u) | Endpoint::Discover(u) => u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::CRATES_IO;

    /// Validated settings of the grant with `oidc` lines, in a table whose
    /// `index` is `table_index`.
    fn tp(oidc: &str, table_index: Option<&str>) -> OidcSettings {
        let raw: crate::oidc::settings::RawOidc =
            toml::from_str(&format!("grant = \"crates-io-trusted-publishing\"\n{oidc}")).unwrap();
        let mut s = raw.validate("registries.x.oidc").unwrap();
        s.table_index = table_index.map(str::to_owned);
        s
    }

    const TP_INDEX: &str = "sparse+https://tp.example/index/";
    const TP_OIDC: &str = "token-endpoint = \"https://tp.example/api/v1/trusted_publishing/tokens\"\n\
                           identity-audience = \"tp.example\"\n";

    #[test]
    fn only_crates_io_indexes_get_a_token() {
        for settings in [
            tp("", None),
            tp("", Some(CRATES_IO_INDEXES[0])),
            tp(TP_OIDC, Some(CRATES_IO_INDEXES[1])),
        ] {
            for index_url in CRATES_IO_INDEXES {
                assert!(
                    check_index(
                        &settings,
                        &Registry {
                            index_url,
                            name: Some(CRATES_IO)
                        }
                    )
                    .is_ok()
                );
            }
            for index_url in [
                "sparse+https://index.crates.io.evil.example/",
                "sparse+http://index.crates.io/",
                "sparse+https://INDEX.crates.io/",
                TP_INDEX,
            ] {
                let msg = check_index(
                    &settings,
                    &Registry {
                        index_url,
                        name: Some(CRATES_IO),
                    },
                )
                .unwrap_err()
                .to_string();
                assert!(
                    msg.contains(index_url) && msg.contains("crates.io's own index"),
                    "{msg}"
                );
            }
        }
    }

    #[test]
    fn a_bound_table_serves_its_own_index_only() {
        let settings = tp(TP_OIDC, Some(TP_INDEX));
        for index_url in [TP_INDEX, "sparse+https://tp.example/index"] {
            for name in [Some("tp"), None] {
                assert!(check_index(&settings, &Registry { index_url, name }).is_ok());
            }
        }
        for index_url in [
            CRATES_IO_INDEXES[0],
            CRATES_IO_INDEXES[1],
            "sparse+https://tp.example/other/",
            "sparse+https://TP.example/index/",
            "sparse+http://tp.example/index/",
        ] {
            let msg = check_index(
                &settings,
                &Registry {
                    index_url,
                    name: Some("tp"),
                },
            )
            .unwrap_err()
            .to_string();
            assert!(
                msg.contains(index_url) && msg.contains("handed to that index only"),
                "{msg}"
            );
        }
    }

    #[test]
    fn a_bound_table_needs_its_own_endpoint_and_audience() {
        let endpoint = "token-endpoint = \"https://tp.example/api/v1/trusted_publishing/tokens\"\n";
        let audience = "identity-audience = \"tp.example\"\n";
        assert_eq!(foreign_registry_refusal(&tp(TP_OIDC, Some(TP_INDEX))), None);
        // staging.crates.io is a registry of its own.
        assert_eq!(
            foreign_registry_refusal(&tp(
                "token-endpoint = \"https://staging.crates.io/api/v1/trusted_publishing/tokens\"\n\
                 identity-audience = \"staging.crates.io\"\n",
                Some(TP_INDEX)
            )),
            None
        );
        for (oidc, key) in [
            (audience.to_owned(), "token-endpoint"),
            (
                format!(
                    "token-endpoint = \"https://crates.io/api/v1/trusted_publishing/tokens\"\n{audience}"
                ),
                "token-endpoint",
            ),
            (
                format!(
                    "token-endpoint = \"https://Www.Crates.io./api/v1/trusted_publishing/tokens\"\n{audience}"
                ),
                "token-endpoint",
            ),
            ("".to_owned(), "token-endpoint"),
            (endpoint.to_owned(), "identity-audience"),
            (
                format!("{endpoint}identity-audience = \"crates.io\"\n"),
                "identity-audience",
            ),
            (
                format!("{endpoint}identity-audience = \"CRATES.io/\"\n"),
                "identity-audience",
            ),
            (
                format!("{endpoint}identity-audience = \"https://crates.io\"\n"),
                "identity-audience",
            ),
        ] {
            let settings = tp(&oidc, Some(TP_INDEX));
            assert_eq!(
                foreign_registry_refusal(&settings).map(|(k, _)| k),
                Some(key),
                "{oidc}"
            );
            // And at run time, even for the bound index itself.
            let msg = check_index(
                &settings,
                &Registry {
                    index_url: TP_INDEX,
                    name: Some("tp"),
                },
            )
            .unwrap_err()
            .to_string();
            assert!(msg.contains(&format!("`{key}`")), "{msg}");
        }
    }

    #[test]
    fn an_id_token_for_crates_io_is_never_sent_to_another_registry() {
        let jwt = |header: &str, claims: &str| {
            use base64::Engine as _;
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!("{}.{}.{}", b64(header), b64(claims), b64("sig"))
        };
        let for_crates_io = [
            jwt(r#"{"alg":"RS256"}"#, r#"{"aud":"crates.io","jti":"1"}"#),
            jwt(
                r#"{"alg":"RS256"}"#,
                r#"{"aud":["x","crates.io"],"jti":"1"}"#,
            ),
        ];
        for token in &for_crates_io {
            assert!(
                jwt_audiences(&Token::new(token.clone()))
                    .unwrap()
                    .iter()
                    .any(|a| is_crates_io_audience(a))
            );
        }
        assert_eq!(
            jwt_audiences(&Token::new(jwt(
                r#"{"alg":"RS256"}"#,
                r#"{"aud":"tp.example"}"#
            )))
            .unwrap(),
            ["tp.example"]
        );
        assert_eq!(
            jwt_audiences(&Token::new(jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"x"}"#))).unwrap(),
            Vec::<String>::new()
        );
        // Unreadable: not a JWT, a duplicated `aud`, a mixed array. Each is
        // refused below like an ID token for crates.io.
        let unreadable = [
            "not-a-jwt".to_owned(),
            jwt(r#"{"alg":"RS256"}"#, r#"{"aud":"x","aud":"crates.io"}"#),
            jwt(r#"{"alg":"RS256"}"#, r#"{"aud":["x",1]}"#),
        ];
        for token in &unreadable {
            assert_eq!(jwt_audiences(&Token::new(token.clone())), None, "{token}");
        }
        let for_crates_io: Vec<String> = for_crates_io
            .into_iter()
            .chain(unreadable.into_iter().skip(1))
            .collect();
        // Nothing listens there: a refusal before any request says so.
        let http = Http::new(std::time::Duration::from_millis(500)).unwrap();
        let endpoint = "http://127.0.0.1:9/api/v1/trusted_publishing/tokens";
        let settings = tp(TP_OIDC, Some(TP_INDEX));
        for token in &for_crates_io {
            let subject = Token::parse(token.clone(), "test").unwrap().unwrap();
            let msg = request(&http, endpoint, &settings, Some(&subject), &[])
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("audience is crates.io's") && !msg.contains("eyJ"),
                "{msg}"
            );
        }
    }

    #[test]
    fn only_github_and_gitlab_identities_are_accepted() {
        assert!(accepted(IdentityKind::GithubActions).is_ok());
        assert!(accepted(IdentityKind::Gitlab).is_ok());
        let msg = accepted(IdentityKind::Circleci).unwrap_err().to_string();
        assert!(msg.contains("not supported by crates.io"), "{msg}");
    }
}
