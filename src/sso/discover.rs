//! Zero-config sign-in: for a registry that Cargo names and no `sso` table
//! covers, `cargo login` learns the identity provider from the registry
//! itself (RFC 9728 metadata, then the authorization server's own metadata,
//! see [`crate::oauth`]), and remembers the binding (index → issuer,
//! client) so that every later `get` uses the existing SSO machinery with
//! no discovery at all.
//!
//! Trust, so that discovery is no phishing channel:
//! - a nameless registry (a dependency's `registry-index`, `--index`) gets
//!   no discovery: no metadata fetch at all;
//! - an issuer that neither an `[issuers."…"]` table nor the system policy's
//!   `trusted-issuers` lists needs the person's confirmation on the terminal
//!   at `cargo login`, which shows the IdP's host; never in CI (an error
//!   naming the table to add);
//! - a `get` never starts a sign-in or a discovery: it answers from the
//!   binding, or says where to sign in;
//! - nobody to sign in (`interactive = "never"`, CI): no question, no
//!   request to the IdP, no registration;
//! - a client is registered only after the person confirmed, and kept at
//!   once (it holds no secret) so that a failed sign-in does not register
//!   another; the binding is kept only when the sign-in succeeded;
//! - an `sso` table always wins: this module is not consulted then.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::settings::{Endpoints, Flow, SsoSettings};
use crate::cache::FileStore;
use crate::mint::Context;
use crate::net::NoAnswer;
use crate::net::http::Http;
use crate::oauth::{challenge, discovery, registration, resource};
use crate::registry::Registry;

use super::issuers::registry_origin;
pub use super::issuers::{Discovery, IssuerTable, host_of, registry_host, registry_prefix};

/// The deadline of each HTTP call of a discovery.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long the trust question waits for an answer.
const CONFIRM_WAIT: Duration = Duration::from_secs(120);
const BINDINGS: &str = "sso-bindings";
const CLIENTS: &str = "sso-clients";
const FORMAT: u32 = 1;

/// How the client of a binding was configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// An `[issuers."…"]` table named it.
    IssuerTable,
    /// Registered with RFC 7591 at the first sign-in.
    Registration,
}

/// A remembered binding: this index signs in at this issuer, with this
/// client, for this resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    v: u32,
    /// The index URL as Cargo gave it.
    pub index: String,
    /// The issuer.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// How the client was configured.
    pub how: How,
    /// RFC 8707 resource identifier.
    pub resource: String,
    /// The scope asked for.
    pub scope: Option<String>,
    /// The issuer's endpoints.
    pub endpoints: discovery::Metadata,
    /// The metadata URL it was learnt from.
    pub metadata: String,
}

impl Binding {
    /// The IdP's host, for messages.
    pub fn host(&self) -> String {
        host_of(&self.issuer)
    }

    /// The SSO settings of this binding (an issuer table's `flow` and
    /// `scope` apply when one names the issuer).
    pub fn settings(&self, discovery: &Discovery) -> SsoSettings {
        let table = discovery.issuers.iter().find(|t| t.issuer == self.issuer);
        let mut s = SsoSettings::discovered(
            &self.issuer,
            Endpoints {
                device_authorization: self.endpoints.device_authorization_endpoint.clone(),
                authorization: self.endpoints.authorization_endpoint.clone(),
                token: Some(self.endpoints.token_endpoint.clone()),
                revocation: self.endpoints.revocation_endpoint.clone(),
                offline_access: self.endpoints.offline_access,
            },
            &self.client_id,
            table.and_then(|t| t.scope.clone()).or(self.scope.clone()),
            table
                .and_then(|t| t.resource.as_deref())
                .unwrap_or(&self.resource),
            self.endpoints.openid,
        );
        if let Some(flow) = table.and_then(|t| t.flow) {
            s.flow = flow;
        }
        if discovery.never {
            s.interactive = super::settings::Interactive::Never;
        }
        s.ca_files.clone_from(&discovery.ca_files);
        s
    }
}

fn binding_file(index: &str) -> String {
    format!(
        "{}.json",
        crate::cache::key(&["sso-binding", index.trim_end_matches('/')])
    )
}

fn client_file(issuer: &str) -> String {
    format!("{}.json", crate::cache::key(&["sso-client", issuer]))
}

/// The binding remembered for `registry`, if any (and well-formed).
pub fn binding(files: Option<&FileStore>, registry: &Registry<'_>) -> Option<Binding> {
    let bytes = files?.read_private(BINDINGS, &binding_file(registry.index_url))?;
    let b: Binding = serde_json::from_slice(&bytes).ok()?;
    (b.v == FORMAT && crate::registry::same_index(&b.index, registry.index_url)).then_some(b)
}

fn registered(files: Option<&FileStore>, issuer: &str) -> Option<String> {
    let bytes = files?.read_private(CLIENTS, &client_file(issuer))?;
    let r: registration::Registered = serde_json::from_slice(&bytes).ok()?;
    Some(r.client_id)
}

/// Whether an issuer table for `issuer` lists the registry at `index`: the
/// only case where a first binding needs no question.
fn serves(discovery: &Discovery, issuer: &str, index: &str) -> bool {
    discovery
        .issuers
        .iter()
        .any(|t| t.issuer == issuer && t.serves(index))
}

/// Whether `issuer` is known (an issuer table or `trusted-issuers`): said
/// in the question; it does not say for which registries.
fn listed(discovery: &Discovery, issuer: &str) -> bool {
    discovery.issuers.iter().any(|t| t.issuer == issuer)
        || discovery.trusted.iter().any(|t| t == issuer)
}

/// The issuer to sign in at, among those the metadata names: the one the
/// registry is bound to while it still names it, else the first whose
/// issuer table lists this registry, else the first an issuer table or
/// `trusted-issuers` lists, else the first named.
fn choose(
    metadata: &resource::ResourceMetadata,
    discovery: &Discovery,
    bound: Option<&Binding>,
    index: &str,
) -> String {
    let servers = &metadata.authorization_servers;
    bound
        .map(|b| &b.issuer)
        .filter(|i| servers.contains(i))
        .or_else(|| servers.iter().find(|s| serves(discovery, s, index)))
        .or_else(|| servers.iter().find(|s| listed(discovery, s)))
        .unwrap_or(&servers[0])
        .clone()
}

/// The refusal when a registry names another identity provider than the
/// one it is bound to.
fn moved(shown: &str, name: &str, bound: &Binding, now: &str) -> String {
    let text = format!(
        "{shown} now names {} ({now}) as its identity provider, but this machine signed in to \
         it at {} ({}); nothing was sent or changed. If {shown}'s operators moved it, sign in \
         at the new one with `cargo login --registry {name} -- --rebind` (the old login is then \
         signed out); if not, tell them",
        host_of(now),
        bound.host(),
        bound.issuer,
    );
    // The issuers come from a registry (and a file): what a terminal acts
    // on is shown, not sent.
    crate::diag::shown(&text).into_owned()
}

/// The HTTP client of a discovery: [`TIMEOUT`] per call (not a setting).
fn client(discovery: &Discovery) -> anyhow::Result<Http> {
    Ok(Http::new(TIMEOUT)?
        .with_ca_files(&discovery.ca_files)
        .with_timeout_setting("discovery's fixed deadline"))
}

/// How the trust question is asked: the terminal in real use, a script in
/// tests.
pub trait Confirm {
    /// Whether a person can be asked (a controlling terminal).
    fn can_ask(&self) -> bool;
    /// Asks `question`; `true` for yes. Gives up at `deadline`.
    fn ask(&self, question: &str, deadline: Instant) -> std::io::Result<bool>;
}

/// The controlling terminal.
#[derive(Debug, Clone, Copy)]
pub struct Terminal;

impl Confirm for Terminal {
    fn can_ask(&self) -> bool {
        super::interactive::has_terminal()
    }
    fn ask(&self, question: &str, deadline: Instant) -> std::io::Result<bool> {
        super::interactive::confirm(question, deadline)
    }
}

/// What `cargo login` does for a registry without an `sso` table: `None`
/// when discovery does not apply (no name, or the registry publishes no
/// metadata: the token is then stored as usual), else the sign-in's result.
/// `rebind` (`-- --rebind`) lets a registry bound to one identity provider
/// be bound to the other it now names; `confirm` asks the person.
pub fn login(
    discovery: &Discovery,
    registry: &Registry<'_>,
    (wanted, rebind): (Option<Flow>, bool),
    cx: &Context<'_>,
    confirm: &dyn Confirm,
) -> Option<anyhow::Result<()>> {
    let name = registry.name.filter(|_| discovery.enabled)?;
    let http = match client(discovery) {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    let shown = registry.display_name();
    let metadata = match resource::probe(&http, registry.index_url) {
        Ok(None) => return None,
        Ok(Some(m)) => m,
        // No usable metadata: the registry does not answer, answers 401/403
        // or an error page at the well-known path (an auth proxy in front
        // of it), or its index URL is not one discovery can use (plain
        // http off loopback, a git index over ssh). Unless the person asked
        // for a sign-in flow, `cargo login` goes on as before discovery
        // existed (a token for the keychain), saying why.
        Err(e) if wanted.is_none() && !rebind => {
            let why = if e.chain().any(|c| c.downcast_ref::<NoAnswer>().is_some()) {
                "could not ask"
            } else {
                "found no usable answer when asking"
            };
            crate::diag::warn(&format!(
                "{why} {shown} whether it names an identity provider (RFC 9728): {e:#}; going on \
                 without single sign-on"
            ));
            return None;
        }
        Err(e) => {
            return Some(Err(e.context(format!(
                "cannot sign in to {shown}: its protected-resource metadata (RFC 9728) is refused; \
                 nothing was stored"
            ))));
        }
    };
    Some(sign_in(
        discovery,
        registry,
        name,
        &http,
        metadata,
        (wanted, rebind),
        cx,
        confirm,
    ))
}

#[allow(clippy::too_many_arguments)]
fn sign_in(
    discovery: &Discovery,
    registry: &Registry<'_>,
    name: &str,
    http: &Http,
    metadata: resource::ResourceMetadata,
    (wanted, rebind): (Option<Flow>, bool),
    cx: &Context<'_>,
    confirm: &dyn Confirm,
) -> anyhow::Result<()> {
    let shown = registry.display_name();
    let files = (cx.files)().ok();
    let bound = binding(files.as_ref(), registry);
    let issuer = choose(&metadata, discovery, bound.as_ref(), registry.index_url);
    let already = bound.as_ref().is_some_and(|b| b.issuer == issuer);
    // The registry names another IdP than the one it is bound to: only an
    // explicit `--rebind` moves it.
    let replaced = match bound {
        Some(b) if b.issuer != issuer => {
            if !rebind {
                bail!("{}", moved(shown, name, &b, &issuer));
            }
            Some(b)
        }
        _ => None,
    };
    let host = host_of(&issuer);
    let table = discovery.issuers.iter().find(|t| t.issuer == issuer);
    // Nobody to sign in (the policy, `CARGO_CREDENTIAL_CORP_INTERACTIVE`,
    // CI): stop before any question, request or registration.
    let nobody = if discovery.never {
        Some("the system policy sets `interactive = \"never\"`".to_owned())
    } else {
        super::interactive::nobody(cx.env)
    };
    let registered_id = registered(files.as_ref(), &issuer);
    if table.is_none() && registered_id.is_none() && !discovery.registration {
        bail!(
            "cannot sign in to {shown}: no issuer table names a client for {host}, and the system \
             policy forbids registering one (dynamic-registration = false); add an \
             [issuers.\"{issuer}\"] table with the `client-id` of its public client for \
             developers to the provider's config (see docs/sso.md); nothing was stored"
        );
    }
    // What is asked for: an issuer table's `scope` and `resource` win over
    // what the registry names.
    let scope = table
        .and_then(|t| t.scope.clone())
        .or_else(|| (!metadata.scopes.is_empty()).then(|| metadata.scopes.join(" ")));
    let target = table
        .and_then(|t| t.resource.clone())
        .unwrap_or_else(|| metadata.resource.clone());
    // The first binding of this index to this issuer is confirmed by the
    // person, showing the registry's host and the IdP's, unless an issuer
    // table lists this registry: knowing an IdP says nothing about which
    // registries may send people there (a project's .cargo/config.toml
    // can point a registry name anywhere).
    if !already && !serves(discovery, &issuer, registry.index_url) {
        let at = registry_host(registry);
        let add = format!(
            "list it in the issuer table: [issuers.\"{issuer}\"] with `client-id` and \
             `registries = [\"{}\"]` in the provider's config",
            registry_origin(registry)
        );
        let known = if discovery.issuers.iter().any(|t| t.issuer == issuer) {
            "which an issuer table of your configuration lists, but not for this registry"
        } else if discovery.trusted.contains(&issuer) {
            "which your company's policy lists as an identity provider, but not for this registry"
        } else {
            "which no issuer table and no `trusted-issuers` lists"
        };
        if let Some(why) = &nobody {
            bail!(
                "{shown} ({at}) names {host} as its identity provider, {known}, and nobody can \
                 confirm it here ({why}); nothing was stored. To trust it, {add}"
            );
        }
        if !confirm.can_ask() {
            bail!(
                "{shown} ({at}) names {host} as its identity provider, {known}; confirming it \
                 needs a terminal. Run `cargo login --registry {name}` in one, or {add}"
            );
        }
        let question = format!(
            "The registry {shown} at {at} says it signs in at {host} ({issuer}), {known}. Your \
             sign-in there (scope `{}`, resource {target}) will give {at} a token. Only continue \
             if you expect {at} to use {host}. Sign in at {host} for {at}?",
            scope.as_deref().unwrap_or("openid offline_access"),
        );
        let yes = confirm
            .ask(
                &crate::diag::shown(&question),
                Instant::now() + CONFIRM_WAIT,
            )
            .context("cannot ask for confirmation on the terminal")?;
        if !yes {
            bail!(
                "sign-in at {host} for {at} not confirmed; nothing was stored. To trust it, {add}"
            );
        }
    }
    if let Some(why) = nobody {
        bail!(
            "cannot sign in to {shown} here: {why}, and a sign-in needs a person; nothing was \
             stored. Sign in with `cargo login --registry {name}` in a terminal on your own \
             machine"
        );
    }
    let server = discovery::authorization_server(http, &issuer).with_context(|| {
        format!("cannot sign in to {shown}: its identity provider {host} is refused")
    })?;
    let (client_id, how) = match (table, registered_id) {
        (Some(t), _) => (t.client_id.clone(), How::IssuerTable),
        (None, Some(id)) => (id, How::Registration),
        (None, None) => {
            let add = format!(
                "add an [issuers.\"{issuer}\"] table with the `client-id` of its public client \
                 for developers to the provider's config (see docs/sso.md); nothing was stored"
            );
            let Some(endpoint) = &server.registration_endpoint else {
                bail!(
                    "cannot sign in to {shown}: {host} offers no client registration (RFC 7591) \
                     and no issuer table names a client for it; {add}"
                );
            };
            let r = registration::register(
                http,
                endpoint,
                &issuer,
                server.code_flow,
                server.device_flow,
                // No `scope`: a server may then limit the client to it,
                // and the sign-in also asks for `openid offline_access`.
                None,
            )
            .with_context(|| {
                format!("cannot sign in to {shown}: {host} refused to register a client; {add}")
            })?;
            // Kept at once (it holds no secret): a sign-in that fails or
            // is abandoned now does not leave a client at the IdP per try.
            if let Some(files) = &files
                && let Err(e) = files.write_private(
                    CLIENTS,
                    &client_file(&issuer),
                    &serde_json::to_vec(&r).expect("plain struct"),
                )
            {
                crate::diag::warn(&format!(
                    "the client registered at {host} could not be kept: {e:#}"
                ));
            }
            (r.client_id.clone(), How::Registration)
        }
    };
    let binding = Binding {
        v: FORMAT,
        index: registry.index_url.to_owned(),
        issuer: issuer.clone(),
        client_id,
        how,
        resource: target,
        scope,
        endpoints: server.metadata.clone(),
        metadata: metadata.fetched_from.clone(),
    };
    let settings = binding.settings(discovery);
    super::login(&settings, registry, wanted, cx)?;
    // Kept only now that the sign-in worked.
    let Some(files) = files else {
        bail!(
            "signed in, but the provider's private folder cannot be used to remember {shown}'s binding"
        );
    };
    files
        .write_private(
            BINDINGS,
            &binding_file(registry.index_url),
            &serde_json::to_vec(&binding).expect("plain struct"),
        )
        .map_err(|e| anyhow!("signed in, but {shown}'s binding could not be kept: {e:#}"))?;
    if let Some(old) = replaced {
        // The login at the IdP the registry left: signed out (revoked where
        // it can be), so that no refresh token is left behind for it.
        let settings = old.settings(discovery);
        if let Err(e) = super::logout(&settings, registry, cx) {
            crate::diag::warn(&format!(
                "{shown} is now bound to {host}; the old login at {} could not be signed out: \
                 {e:#}",
                old.host()
            ));
        }
    }
    Ok(())
}

/// The checked metadata that the 401 of a `get` names (`headers`, Cargo's
/// `registry.headers`): `Ok(None)` when discovery does not apply (a
/// nameless registry: nothing is fetched), there are no headers, or no
/// `Bearer` challenge names `resource_metadata`.
pub fn named_in_challenge(
    discovery: &Discovery,
    registry: &Registry<'_>,
    headers: &[String],
) -> anyhow::Result<Option<resource::ResourceMetadata>> {
    if registry.name.is_none() || !discovery.enabled || headers.is_empty() {
        return Ok(None);
    }
    let challenges =
        challenge::from_headers(headers).map_err(|e| anyhow!("its 401 is refused: {e}"))?;
    let Some(url) = challenge::resource_metadata(&challenges)
        .map_err(|e| anyhow!("its 401 is refused: {e}"))?
    else {
        return Ok(None);
    };
    let http = client(discovery)?;
    resource::discover(&http, registry.index_url, Some(&url)).map(Some)
}

/// The warning of a `get` for a registry with no login and no binding,
/// from its 401: where it signs in (the IdP's host) and the command. A
/// `get` never signs in. `None` when the 401 names no metadata.
pub fn challenge_note(
    discovery: &Discovery,
    registry: &Registry<'_>,
    headers: &[String],
) -> Option<String> {
    let name = registry.name?;
    match named_in_challenge(discovery, registry, headers) {
        Ok(None) => None,
        Ok(Some(metadata)) => {
            let issuer = choose(&metadata, discovery, None, registry.index_url);
            Some(
                crate::diag::shown(&format!(
                    "{name} ({}) signs in at {}: cargo login --registry {name}",
                    registry_host(registry),
                    host_of(&issuer)
                ))
                .into_owned(),
            )
        }
        Err(e) => Some(
            crate::diag::shown(&format!(
                "{name} names its identity provider in its 401, but that is refused, so nothing \
                 signs in: {e:#}"
            ))
            .into_owned(),
        ),
    }
}

/// Checks a `get`'s 401 against the binding: the refusal (for a warning)
/// when the registry now names identity providers other than the one it
/// is bound to; the `get` then answers not-found and sends nothing. Not an
/// error: with a cold index cache Cargo calls `get` before `login`, and
/// `cargo login -- --rebind`, the way out, must get there. A 401 that
/// names nothing, or metadata that cannot be read, leaves the binding as
/// it is (`cargo login` checks it again).
pub fn check_binding(
    bound: &Binding,
    discovery: &Discovery,
    registry: &Registry<'_>,
    headers: &[String],
) -> Option<String> {
    match named_in_challenge(discovery, registry, headers) {
        Ok(Some(m)) if !m.authorization_servers.contains(&bound.issuer) => {
            let now = choose(&m, discovery, None, registry.index_url);
            Some(moved(
                registry.display_name(),
                registry.name.unwrap_or("NAME"),
                bound,
                &now,
            ))
        }
        Ok(_) => None,
        Err(e) => {
            crate::trace::debug(|| format!("discovery: the 401's metadata is not read: {e:#}"));
            None
        }
    }
}

/// The note of a `get` that found no login for a registry without an `sso`
/// table: where to sign in.
pub fn sign_in_note(binding: Option<&Binding>, registry: &Registry<'_>) -> Option<String> {
    let name = registry.name?;
    Some(match binding {
        Some(b) => format!(
            "{name} ({}) signs in at {}: cargo login --registry {name}",
            registry_host(registry),
            b.host()
        ),
        None => format!(
            "not signed in to {name}: if it names its identity provider, `cargo login --registry \
             {name}` signs in"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding {
            v: FORMAT,
            index: "sparse+https://r.example/api/v1/crates/".into(),
            issuer: "https://login.example:8443".into(),
            client_id: "c1".into(),
            how: How::Registration,
            resource: "https://r.example/api/v1/crates".into(),
            scope: Some("read publish".into()),
            endpoints: discovery::Metadata {
                token_endpoint: "https://login.example:8443/token".into(),
                ..discovery::Metadata::default()
            },
            metadata: "https://r.example/.well-known/oauth-protected-resource/api/v1/crates".into(),
        }
    }

    #[test]
    fn a_binding_is_kept_per_index_and_read_back_only_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::at(dir.path().to_path_buf());
        let b = binding();
        files
            .write_private(
                BINDINGS,
                &binding_file(&b.index),
                &serde_json::to_vec(&b).unwrap(),
            )
            .unwrap();
        let same = Registry {
            index_url: "sparse+https://r.example/api/v1/crates",
            name: Some("corp"),
        };
        assert_eq!(super::binding(Some(&files), &same), Some(b.clone()));
        let other = Registry {
            index_url: "sparse+https://evil.example/api/v1/crates/",
            name: Some("corp"),
        };
        assert_eq!(super::binding(Some(&files), &other), None);
        assert_eq!(b.host(), "login.example:8443");
    }

    #[test]
    fn an_issuer_table_sets_flow_and_scope_and_the_policy_can_forbid_sign_ins() {
        let b = binding();
        let mut d = Discovery::default();
        let s = b.settings(&d);
        assert_eq!(s.issuer.as_deref(), Some("https://login.example:8443"));
        assert_eq!(
            s.resource.as_deref(),
            Some("https://r.example/api/v1/crates")
        );
        assert_eq!(s.scope.as_deref(), Some("read publish"));
        assert_eq!(
            s.endpoints.token.as_deref(),
            Some("https://login.example:8443/token")
        );
        d.issuers.push(IssuerTable {
            issuer: b.issuer.clone(),
            client_id: "c1".into(),
            flow: Some(Flow::Device),
            scope: Some("read".into()),
            resource: None,
            registries: Vec::new(),
        });
        d.never = true;
        let s = b.settings(&d);
        assert_eq!((s.flow, s.scope.as_deref()), (Flow::Device, Some("read")));
        assert_eq!(s.interactive, super::super::settings::Interactive::Never);
    }

    #[test]
    fn a_get_names_the_idp_host_and_the_command() {
        let r = Registry {
            index_url: "sparse+https://r.example/api/v1/crates/",
            name: Some("corp"),
        };
        assert_eq!(
            sign_in_note(Some(&binding()), &r).unwrap(),
            "corp (r.example) signs in at login.example:8443: cargo login --registry corp"
        );
        let nameless = Registry {
            index_url: r.index_url,
            name: None,
        };
        assert_eq!(sign_in_note(Some(&binding()), &nameless), None);
    }
}

#[cfg(test)]
#[path = "discover_tests.rs"]
mod trust_tests;
