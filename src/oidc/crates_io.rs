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

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::http::{Http, display_url};
use super::settings::{Endpoint, IdentityKind, OidcSettings};
use super::{Context, Minted, Obtained, OperationClass, exchange, identity};
use crate::cache::{self, Entry, FileStore, Store};
use crate::keychain::Budgeted;
use crate::registry::{CRATES_IO, CRATES_IO_INDEXES, Registry, is_crates_io_index, same_index};
use crate::secret::Token;

/// How long crates.io keeps a trusted publishing token valid.
pub const TOKEN_LIFETIME_SECS: i64 = 30 * 60;
/// Taken off [`TOKEN_LIFETIME_SECS`] for the expiry Cargo is told (clock
/// skew, the time the request took): Cargo stops using the token a minute
/// before that, 28 minutes after it was asked for.
pub const LIFETIME_MARGIN_SECS: i64 = 60;
/// At most this many other tokens are revoked after one exchange.
const SWEEP_PER_GET: usize = 2;
/// At most this many tokens are recorded (the oldest are forgotten).
const MAX_RECORDS: usize = 64;
/// The ledger's format.
const LEDGER_FORMAT: u32 = 1;

/// What a read gets in a job that can publish: [`READ_PLACEHOLDER`], not a
/// token. `cargo publish` asks for a read token before it packages the
/// crate, only to check that one can be had, and stops on `not-found`; the
/// upload itself asks again, as a publish.
pub const READ_PLACEHOLDER: &str = "cargo-credential-corp:trusted-publishing:no-read-token";

/// Whether `token` is [`READ_PLACEHOLDER`] (no token: the provider gives it
/// to Cargo only when no later source has a real one).
pub(crate) fn is_placeholder(token: &Token) -> bool {
    token.expose() == READ_PLACEHOLDER
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
    let obtained = super::get_with(settings, registry, class, cx, &mut |minted| {
        to_revoke = after_mint(settings, cx, &minted);
    })?;
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
            crate::config::config_word(&other)
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
    let allowed = url::Url::parse(endpoint(settings))
        .is_ok_and(|u| u.host_str().is_some_and(is_crates_io_host) || super::http::is_loopback(&u));
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
fn jwt_audiences(jwt: &str) -> Option<Vec<String>> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    #[derive(Deserialize)]
    struct Claims {
        aud: Option<Aud>,
    }
    match serde_json::from_slice::<Claims>(&bytes).ok()?.aud {
        Some(Aud::One(a)) => Some(vec![a]),
        Some(Aud::Many(v)) => Some(v),
        None => Some(Vec::new()),
    }
}

fn endpoint(settings: &OidcSettings) -> &str {
    match &settings.endpoint {
        Endpoint::Token(u) | Endpoint::Discover(u) => u,
    }
}

/// The exchange: POST `{"jwt": <CI ID token>}`, answer `{"token": …}`.
/// `secrets` (the ID token as sent and as it may be echoed) are redacted
/// from what crates.io says. For a registry other than crates.io, an ID
/// token whose `aud` is crates.io's is not sent (GitLab's `id_tokens` sets
/// the audience, not `identity-audience`).
pub(crate) fn request(
    http: &Http,
    endpoint: &str,
    settings: &OidcSettings,
    subject: Option<&Token>,
    secrets: &[Zeroizing<String>],
) -> anyhow::Result<exchange::Issued> {
    #[derive(Serialize)]
    struct Body<'a> {
        jwt: &'a str,
    }
    let jwt =
        subject.ok_or_else(|| anyhow!("crates.io trusted publishing needs a CI identity token"))?;
    match bound_index(settings) {
        // A crates.io-compatible registry: an ID token crates.io would take
        // (or one whose audience cannot be read) is not sent.
        Some(bound)
            if jwt_audiences(jwt.expose())
                .is_none_or(|auds| auds.iter().any(|a| is_crates_io_audience(a))) =>
        {
            bail!(
                "the CI ID token's audience is crates.io's (or cannot be read): it is not sent \
                 to the trusted publishing endpoint of the registry at `{bound}` (another server \
                 could exchange it at crates.io). Give the job's ID token the audience \
                 `identity-audience` names (GitLab: `aud:` under `id_tokens`)"
            );
        }
        Some(_) => {}
        // crates.io: only to crates.io (or a loopback test server).
        None => {
            if let Some((key, why)) = crates_io_endpoint_refusal(settings) {
                bail!("grant \"crates-io-trusted-publishing\": `{key}` {why}");
            }
        }
    }
    let body = Zeroizing::new(serde_json::to_vec(&Body { jwt: jwt.expose() })?);
    let (url, resp) = http.post_json(endpoint, &body)?;
    let secrets: Vec<&str> = secrets.iter().map(|s| s.as_str()).collect();
    parse(resp.status, &resp.body, &display_url(&url), &secrets)
}

/// Reads crates.io's answer to an exchange. An error shows crates.io's
/// `detail`s (cleaned, shortened, with `secrets` and anything token-shaped
/// redacted) and what to change; never the body itself.
pub fn parse(
    status: u16,
    body: &[u8],
    endpoint: &str,
    secrets: &[&str],
) -> anyhow::Result<exchange::Issued> {
    if status == 200 {
        #[derive(Deserialize)]
        struct Answer {
            token: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(body).map_err(|_| {
            anyhow!(
                "{endpoint} answered HTTP 200 but not with crates.io's token answer \
                 (`{{\"token\": …}}`); check `token-endpoint`"
            )
        })?;
        let raw = answer
            .token
            .ok_or_else(|| anyhow!("{endpoint} answered without a `token`"))?;
        let token = Token::parse(raw, &format!("the answer of {endpoint}"))?
            .ok_or_else(|| anyhow!("{endpoint} answered with an empty token"))?;
        return Ok(exchange::Issued {
            token,
            expires_in: Some(TOKEN_LIFETIME_SECS - LIFETIME_MARGIN_SECS),
        });
    }
    let detail = details(body)
        .map(|d| exchange::clean(&d, secrets))
        .filter(|d| !d.is_empty());
    let message = match &detail {
        Some(d) => format!(
            "crates.io ({endpoint}) refused to issue a trusted publishing token: {d} (HTTP \
             {status}); {}",
            fix(d, status)
        ),
        None => format!(
            "crates.io ({endpoint}) refused to issue a trusted publishing token (HTTP {status}); {}",
            fix("", status)
        ),
    };
    Err(anyhow!(message))
}

/// crates.io's error `detail`s (`{"errors":[{"detail":…}, …]}`), joined.
fn details(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<Detail>,
    }
    #[derive(Deserialize)]
    struct Detail {
        detail: Option<String>,
    }
    let errors: Errors = serde_json::from_slice(body).ok()?;
    let all: Vec<String> = errors.errors.into_iter().filter_map(|d| d.detail).collect();
    (!all.is_empty()).then(|| all.join("; "))
}

/// What to change, from what crates.io said.
fn fix(detail: &str, status: u16) -> &'static str {
    let d = detail.to_ascii_lowercase();
    if d.contains("no trusted publishing config") {
        "add a trusted publisher for this repository on crates.io (the crate's Settings → \
         Trusted Publishing: owner, repository and workflow file, or GitLab namespace, project \
         and CI file); a crate's first version must be published with an API token"
    } else if d.contains("owner id") || d.contains("namespace id") {
        "the trusted publisher was set up for an earlier owner of this repository or namespace: \
         remove it on crates.io and add it again"
    } else if d.contains("workflow") {
        "the workflow file (GitHub) or CI config file (GitLab) running this job must be the one \
         the crate's trusted publisher on crates.io names"
    } else if d.contains("environment") {
        "run the job in the environment the crate's trusted publisher on crates.io names, or \
         remove the environment there"
    } else if d.contains("already been used") {
        "crates.io accepts each CI ID token once. GitHub Actions tokens are fetched anew for \
         every exchange; a GitLab `id_tokens` token can be exchanged once per job (the publish \
         token it gave is cached and reused for up to 28 minutes)"
    } else if d.contains("jwt") && (d.contains("issuer") || d.contains("unsupported")) {
        "crates.io accepts ID tokens from GitHub Actions and GitLab CI (gitlab.com) only"
    } else if d.contains("jwt") {
        "crates.io could not verify the CI ID token: its audience must be `crates.io` \
         (`identity-audience`; for GitLab, `aud: crates.io` under `id_tokens`) and it must not \
         have expired"
    } else if status >= 500 {
        "crates.io is failing; retry later"
    } else if status == 404 {
        "there is no trusted publishing endpoint at this URL: check `token-endpoint`"
    } else {
        "see https://crates.io/docs/trusted-publishing"
    }
}

/// Revokes `token` at `endpoint` (`DELETE` with the token as bearer). A
/// token crates.io no longer knows (401, 403: expired or revoked already)
/// counts as revoked.
pub fn revoke_token(http: &Http, endpoint: &str, token: &Token) -> anyhow::Result<()> {
    let (url, req) = http.delete(endpoint)?;
    let req = req
        .header(reqwest::header::ACCEPT, "application/json")
        .bearer_auth(token.expose());
    let resp = http.send(&url, req)?;
    match resp.status {
        200..=299 | 401 | 403 => Ok(()),
        status => {
            let shown = display_url(&url);
            let detail = details(&resp.body)
                .map(|d| format!(": {}", exchange::clean(&d, &[token.expose()])))
                .unwrap_or_default();
            bail!("{shown} refused to revoke the token (HTTP {status}){detail}")
        }
    }
}

/// Where a recorded token is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    File,
    Keychain,
}

/// A token this provider minted and has not revoked: where it is cached,
/// never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    key: String,
    store: Kind,
    obtained_at: i64,
    expires_at: i64,
}

impl Record {
    /// Whether crates.io has expired it by itself.
    fn dead(&self, now: i64) -> bool {
        now >= self.obtained_at.saturating_add(TOKEN_LIFETIME_SECS)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    v: u32,
    #[serde(default)]
    tokens: Vec<Record>,
}

/// The ledger of the tokens minted at one endpoint, in the cache folder.
struct LedgerFile<'f> {
    files: &'f FileStore,
    name: String,
    /// Held while the ledger is read, changed and written.
    _lock: Option<std::fs::File>,
}

impl<'f> LedgerFile<'f> {
    fn open(files: &'f FileStore, settings: &OidcSettings) -> LedgerFile<'f> {
        let id = cache::key(&["crates-io-minted", endpoint(settings)]);
        LedgerFile {
            files,
            _lock: files.lock(&format!("minted-{id}"), settings.timeout),
            name: format!("{id}.json"),
        }
    }

    fn read(&self) -> Vec<Record> {
        let Some(bytes) = self.files.read_private("minted", &self.name) else {
            return Vec::new();
        };
        let ledger: Ledger = serde_json::from_slice(&bytes).unwrap_or_default();
        if ledger.v != LEDGER_FORMAT {
            return Vec::new();
        }
        // A key becomes a file name: only the cache's own digests.
        ledger
            .tokens
            .into_iter()
            .filter(|r| r.key.len() == 40 && r.key.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect()
    }

    fn write(&self, mut tokens: Vec<Record>) {
        if tokens.is_empty() {
            self.files.remove_private("minted", &self.name);
            return;
        }
        tokens.sort_by_key(|r| r.obtained_at);
        let excess = tokens.len().saturating_sub(MAX_RECORDS);
        tokens.drain(..excess);
        let ledger = Ledger {
            v: LEDGER_FORMAT,
            tokens,
        };
        let bytes = serde_json::to_vec(&ledger).unwrap_or_default();
        if let Err(e) = self.files.write_private("minted", &self.name, &bytes) {
            crate::diag::warn(&format!(
                "could not record the crates.io token for revocation: {e:#}"
            ));
        }
    }
}

/// After an exchange (under the single-flight lock): record the new token,
/// and collect what to revoke once the lock is released: the token it
/// replaces, and up to [`SWEEP_PER_GET`] other recorded tokens whose use is
/// over (their cache entries are removed now).
fn after_mint(settings: &OidcSettings, cx: &Context<'_>, minted: &Minted<'_>) -> Vec<Token> {
    let now = (cx.now)();
    let mut to_revoke = Vec::new();
    let store = minted.stored.map(|(store, _)| store);
    let new_entry = minted.stored.map(|(_, entry)| entry);
    // The replaced token, once the new one has taken its place in the
    // cache (if it could not be stored, the old one stays cached and
    // recorded, and is revoked when its use is over).
    if let (Some(old), Some(new)) = (minted.superseded, new_entry)
        && new.token.expose() != old.token.expose()
        && !dead(old, now)
    {
        to_revoke.push(old.token.clone());
    }
    let Ok(files) = (cx.files)() else {
        return to_revoke;
    };
    let ledger = LedgerFile::open(&files, settings);
    let mut records = ledger.read();
    records.retain(|r| !(r.dead(now) || (new_entry.is_some() && r.key == minted.key)));
    let current = match store {
        Some(Store::File(_)) => Some(Kind::File),
        Some(Store::Keychain(..)) => Some(Kind::Keychain),
        None => None,
    };
    let mut swept = 0;
    records.retain_mut(|r| {
        if swept >= SWEEP_PER_GET || now < r.expires_at {
            return true;
        }
        // Use is over: Cargo was told it expired. Its token is loaded from
        // the store it is in (the keychain only if this get uses it).
        let file_store;
        let store = match (r.store, current, store) {
            (Kind::Keychain, Some(Kind::Keychain), Some(s)) => s,
            (Kind::File, _, _) => {
                file_store = Store::File(files.clone());
                &file_store
            }
            _ => return true,
        };
        swept += 1;
        match store.load(&r.key, now) {
            Ok(Some(entry)) if entry.usable(now) => {
                // A newer token under that key (another process's): its times.
                (r.obtained_at, r.expires_at) = (entry.obtained_at, entry.expires_at);
                true
            }
            Ok(Some(entry)) => {
                if !dead(&entry, now) {
                    to_revoke.push(entry.token.clone());
                }
                let _ = store.remove(&r.key);
                false
            }
            Ok(None) => false,
            Err(_) => true,
        }
    });
    if let (Some(kind), Some(entry)) = (current, new_entry) {
        records.push(Record {
            key: minted.key.to_owned(),
            store: kind,
            obtained_at: entry.obtained_at,
            expires_at: entry.expires_at,
        });
    }
    ledger.write(records);
    to_revoke
}

/// Whether crates.io has expired the cached token by itself.
fn dead(entry: &Entry, now: i64) -> bool {
    now >= entry.obtained_at.saturating_add(TOKEN_LIFETIME_SECS)
}

/// Which recorded tokens `revoke` lets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// This CI job's (every one outside a CI job).
    ThisJob,
    /// Every token recorded on this machine for this endpoint.
    All,
}

/// Revokes recorded tokens and removes them from the cache (for `cargo
/// logout` and `cargo-credential-corp revoke`); how many were let go. In a
/// GitHub Actions or GitLab CI job, [`Which::ThisJob`] revokes only the
/// tokens minted for this job's identity, so that a job on a shared runner
/// never revokes another job's token while it publishes; outside a CI job,
/// every recorded token. Tokens that could not be revoked stay recorded.
pub fn revoke(settings: &OidcSettings, which: Which, cx: &Context<'_>) -> anyhow::Result<usize> {
    let files = (cx.files)().context("the list of minted tokens is kept in the cache folder")?;
    let now = (cx.now)();
    let keys = match which {
        Which::All => None,
        Which::ThisJob => this_jobs_keys(settings, cx),
    };
    let ledger = LedgerFile::open(&files, settings);
    let records = ledger.read();
    let keychain = Budgeted::new(cx.keychain, cx.keychain_timeout);
    let http = Http::new(settings.timeout)?;
    let mut kept = Vec::new();
    let mut revoked = 0;
    let mut failures = Vec::new();
    for record in records {
        if keys.as_ref().is_some_and(|k| !k.contains(&record.key)) {
            kept.push(record);
            continue;
        }
        let store = match record.store {
            Kind::File => Store::File(files.clone()),
            Kind::Keychain => Store::Keychain(&keychain, cx.keychain_timeout),
        };
        let entry = match store.load(&record.key, now) {
            Ok(entry) => entry,
            Err(e) => {
                failures.push(anyhow!(e).context("could not read a minted token"));
                kept.push(record);
                continue;
            }
        };
        let Some(entry) = entry else { continue };
        if dead(&entry, now) {
            let _ = store.remove(&record.key);
            continue;
        }
        match revoke_token(&http, endpoint(settings), &entry.token) {
            Ok(()) => {
                revoked += 1;
                let _ = store.remove(&record.key);
            }
            Err(e) => {
                failures.push(e);
                kept.push(record);
            }
        }
    }
    ledger.write(kept);
    let failed = failures.len();
    match failures.into_iter().next() {
        None => Ok(revoked),
        Some(e) => Err(e.context(format!(
            "revoked {revoked} crates.io trusted publishing token(s); {failed} could not be \
             revoked and stay recorded for the next attempt (each expires by itself within 30 \
             minutes of being issued)"
        ))),
    }
}

/// The cache keys of this CI job's crates.io tokens (both forms of
/// crates.io's index URL, or the table's own `index` for a crates.io-compatible
/// registry), `None` outside a CI job (every token), empty when the job's
/// identity cannot be read (nothing).
fn this_jobs_keys(settings: &OidcSettings, cx: &Context<'_>) -> Option<Vec<String>> {
    let identity = match identity::locate(settings, cx.env) {
        Ok(Some(id)) => id,
        Ok(None) => return None,
        Err(_) => return Some(Vec::new()),
    };
    // The index URL as Cargo sends it is in the key: crates.io's two forms,
    // or the bound index as written, with and without its final `/`.
    let indexes: Vec<String> = match bound_index(settings) {
        Some(index) => {
            let bare = index.trim_end_matches('/');
            vec![bare.to_owned(), format!("{bare}/")]
        }
        None => CRATES_IO_INDEXES.iter().map(|i| (*i).to_owned()).collect(),
    };
    Some(
        indexes
            .iter()
            .map(|index_url| {
                let registry = Registry {
                    index_url,
                    name: Some(CRATES_IO),
                };
                super::cache_key(settings, &registry, None, Some(&identity.fingerprint), None)
            })
            .collect(),
    )
}

/// `cargo logout` for crates.io (or the crates.io-compatible registry the
/// table is bound to): revokes this job's tokens (every recorded token
/// outside a CI job). `Ok(true)` when one was revoked.
pub fn logout(
    settings: &OidcSettings,
    registry: &Registry<'_>,
    cx: &Context<'_>,
) -> anyhow::Result<bool> {
    check_index(settings, registry)?;
    Ok(revoke(settings, Which::ThisJob, cx)? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "https://crates.io/api/v1/trusted_publishing/tokens";

    #[test]
    fn a_token_lives_thirty_minutes_less_the_margin() {
        let issued = parse(200, br#"{"token":"cio_tp_abc"}"#, EP, &[]).unwrap();
        assert_eq!(issued.token.expose(), "cio_tp_abc");
        assert_eq!(issued.expires_in, Some(30 * 60 - 60));
        for bad in [&b"{}"[..], b"<html>", br#"{"token":""}"#] {
            assert!(parse(200, bad, EP, &[]).is_err());
        }
    }

    #[test]
    fn crates_io_errors_are_shown_cleaned_and_redacted_with_a_fix() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiIxIn0.c2lnbmF0dXJlLXNpZw";
        for (body, needles) in [
            (
                r#"{"errors":[{"detail":"No Trusted Publishing config found for repository `o/r`."}]}"#
                    .to_owned(),
                &["No Trusted Publishing config found for repository `o/r`", "HTTP 400",
                  "add a trusted publisher"][..],
            ),
            (
                r#"{"errors":[{"detail":"JWT has already been used"}]}"#.to_owned(),
                &["JWT has already been used", "once"][..],
            ),
            (
                r#"{"errors":[{"detail":"Failed to decode JWT"}]}"#.to_owned(),
                &["Failed to decode JWT", "audience must be `crates.io`"][..],
            ),
            (
                format!(r#"{{"errors":[{{"detail":"bad token {jwt}\u001b[31m"}}]}}"#),
                &["[redacted]", "trusted-publishing"][..],
            ),
        ] {
            let msg = format!("{:#}", parse(400, body.as_bytes(), EP, &[jwt]).unwrap_err());
            for needle in needles {
                assert!(msg.contains(needle), "{needle:?} in {msg}");
            }
            assert!(!msg.contains("eyJ") && !msg.contains('\u{1b}'), "{msg}");
            assert!(msg.contains(EP), "{msg}");
        }
        let msg = format!(
            "{:#}",
            parse(502, b"<html>SECRET</html>", EP, &[]).unwrap_err()
        );
        assert!(
            msg.contains("retry later") && !msg.contains("SECRET"),
            "{msg}"
        );
    }

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
                jwt_audiences(token)
                    .unwrap()
                    .iter()
                    .any(|a| is_crates_io_audience(a))
            );
        }
        assert_eq!(
            jwt_audiences(&jwt(r#"{"alg":"RS256"}"#, r#"{"aud":"tp.example"}"#)).unwrap(),
            ["tp.example"]
        );
        assert_eq!(
            jwt_audiences(&jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"x"}"#)).unwrap(),
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
            assert_eq!(jwt_audiences(token), None, "{token}");
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
