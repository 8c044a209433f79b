//! The trust rules of zero-config sign-in, in-process against a scripted
//! registry and IdP on 127.0.0.1 (every request counted): what is asked,
//! what is refused without asking, what is fetched, and that a refusal
//! stores nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::keychain::{Keychain, KeychainError};
use crate::oauth::test_server::{Canned, Server};
use crate::secret::Token;

/// No keychain: every call fails as on a machine without one.
struct NoKeychain;

impl Keychain for NoKeychain {
    fn read(&self, _: &str, _: Duration) -> Result<Option<Token>, KeychainError> {
        Err(KeychainError::new("no keychain in this test"))
    }
    fn store(&self, _: &str, _: &str, _: &Token, _: Duration) -> Result<(), KeychainError> {
        Err(KeychainError::new("no keychain in this test"))
    }
    fn remove(&self, _: &str, _: Duration) -> Result<bool, KeychainError> {
        Err(KeychainError::new("no keychain in this test"))
    }
    fn read_item(&self, _: &str, _: Duration) -> Result<Option<Token>, KeychainError> {
        Err(KeychainError::new("no keychain in this test"))
    }
    fn store_item(&self, _: &str, _: &str, _: &Token, _: Duration) -> Result<(), KeychainError> {
        Err(KeychainError::new("no keychain in this test"))
    }
    fn remove_item(&self, _: &str, _: Duration) -> Result<bool, KeychainError> {
        Err(KeychainError::new("no keychain in this test"))
    }
}

/// A scripted person: whether there is a terminal, the answer, and every
/// question asked.
struct Person {
    terminal: bool,
    answer: bool,
    asked: RefCell<Vec<String>>,
}

impl Person {
    fn new(terminal: bool, answer: bool) -> Person {
        Person {
            terminal,
            answer,
            asked: RefCell::default(),
        }
    }
}

impl Confirm for Person {
    fn can_ask(&self) -> bool {
        self.terminal
    }
    fn ask(&self, question: &str, _: Instant) -> std::io::Result<bool> {
        self.asked.borrow_mut().push(question.to_owned());
        Ok(self.answer)
    }
}

const METADATA: &str = "/.well-known/oauth-protected-resource/api/v1/crates";
const AS_METADATA: &str = "/.well-known/oauth-authorization-server/idp";

/// A registry on `server` naming `issuers` as its authorization servers.
fn serve_metadata(server: &Server, issuers: &[String]) {
    server.route(
        METADATA,
        Canned::json(
            200,
            &serde_json::json!({
                "resource": server.url("/api/v1/crates"),
                "authorization_servers": issuers,
                "scopes_supported": ["read"],
            })
            .to_string(),
        ),
    );
}

/// The IdP at `{server}/idp`: the device flow and a registration endpoint.
fn serve_idp(server: &Server) {
    server.route(
        AS_METADATA,
        Canned::json(
            200,
            &serde_json::json!({
                "issuer": server.url("/idp"),
                "token_endpoint": server.url("/idp/token"),
                "device_authorization_endpoint": server.url("/idp/device"),
                "grant_types_supported": [discovery::DEVICE_CODE_GRANT, "refresh_token"],
                "registration_endpoint": server.url("/idp/reg"),
            })
            .to_string(),
        ),
    );
}

struct World {
    server: Server,
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
    index: String,
}

impl World {
    fn new() -> World {
        let server = Server::start();
        let index = format!("sparse+{}/api/v1/crates/", server.base());
        World {
            server,
            dir: tempfile::tempdir().unwrap(),
            env: HashMap::new(),
            index,
        }
    }

    fn issuer(&self) -> String {
        self.server.url("/idp")
    }

    fn registry(&self, name: Option<&'static str>) -> Registry<'_> {
        Registry {
            index_url: &self.index,
            name,
        }
    }

    fn files(&self) -> FileStore {
        FileStore::at(self.dir.path().to_path_buf())
    }

    fn login(
        &self,
        discovery: &Discovery,
        name: Option<&'static str>,
        rebind: bool,
        person: &Person,
    ) -> Option<anyhow::Result<()>> {
        self.login_with(discovery, name, (Some(Flow::Device), rebind), person)
    }

    fn login_with(
        &self,
        discovery: &Discovery,
        name: Option<&'static str>,
        (flow, rebind): (Option<Flow>, bool),
        person: &Person,
    ) -> Option<anyhow::Result<()>> {
        let dir = self.dir.path().to_path_buf();
        let files = move || Ok(FileStore::at(dir.clone()));
        let now = || 1_000_000;
        let cx = Context {
            env: &self.env,
            keychain: &NoKeychain,
            keychain_timeout: Duration::from_millis(100),
            files: &files,
            now: &now,
            token_vars: &[],
            secret_vars: &[],
        };
        login(discovery, &self.registry(name), (flow, rebind), &cx, person)
    }

    /// Every file the provider's private folder holds.
    fn stored(&self) -> Vec<String> {
        let mut out = Vec::new();
        for folder in [BINDINGS, CLIENTS] {
            if let Ok(entries) = std::fs::read_dir(self.dir.path().join(folder)) {
                out.extend(entries.map(|e| e.unwrap().path().display().to_string()));
            }
        }
        out
    }

    fn challenge(&self, metadata_url: &str) -> Vec<String> {
        vec![
            "content-length: 0".to_owned(),
            format!(
                "WWW-Authenticate: Cargo login_url=\"x\", Bearer resource_metadata=\"{metadata_url}\""
            ),
        ]
    }
}

fn enabled() -> Discovery {
    Discovery {
        enabled: true,
        registration: true,
        ..Discovery::default()
    }
}

fn message(result: Option<anyhow::Result<()>>) -> String {
    format!("{:#}", result.expect("discovery applies").unwrap_err())
}

#[test]
fn no_to_the_trust_question_stores_nothing_and_fetches_nothing_more() {
    let w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    serve_idp(&w.server);
    let person = Person::new(true, false);
    let msg = message(w.login(&enabled(), Some("corp"), false, &person));
    assert!(
        msg.contains("not confirmed") && msg.contains("nothing was stored"),
        "{msg}"
    );
    let asked = person.asked.borrow();
    assert_eq!(asked.len(), 1);
    let host = host_of(&w.issuer());
    assert!(
        asked[0].contains(&format!("signs in at {host}")),
        "{}",
        asked[0]
    );
    assert!(
        msg.contains(&format!("[issuers.\"{}\"]", w.issuer())),
        "{msg}"
    );
    // Only the registry's metadata was read: not the IdP's, no registration.
    assert_eq!(w.server.paths(), [METADATA]);
    assert!(w.stored().is_empty(), "{:?}", w.stored());
}

#[test]
fn ci_interactive_never_and_no_terminal_refuse_without_asking() {
    let mut w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    serve_idp(&w.server);
    w.env.insert("CI".into(), "true".into());
    let person = Person::new(true, true);
    let msg = message(w.login(&enabled(), Some("corp"), false, &person));
    assert!(msg.contains("nobody can confirm it here"), "{msg}");
    w.env.clear();
    let never = Discovery {
        never: true,
        ..enabled()
    };
    let msg = message(w.login(&never, Some("corp"), false, &person));
    assert!(msg.contains("nobody can confirm it here"), "{msg}");
    let no_terminal = Person::new(false, true);
    let msg = message(w.login(&enabled(), Some("corp"), false, &no_terminal));
    assert!(msg.contains("needs a terminal"), "{msg}");
    assert!(person.asked.borrow().is_empty() && no_terminal.asked.borrow().is_empty());
    assert_eq!(w.server.paths(), [METADATA, METADATA, METADATA]);
    assert!(w.stored().is_empty());
}

#[test]
fn only_an_issuer_table_listing_the_registry_skips_the_question() {
    // review-18 F1: knowing an IdP says nothing about which registries may
    // send people there. An issuer table without this registry and
    // `trusted-issuers` get the question, which names the registry's host
    // as well as the IdP's; "No" sends nothing to the IdP.
    let w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    let table = |registries: Vec<String>| IssuerTable {
        issuer: w.issuer(),
        client_id: "dev".into(),
        flow: None,
        scope: None,
        resource: None,
        registries,
    };
    let at = registry_host(&w.registry(Some("corp")));
    for (discovery, known) in [
        (
            Discovery {
                trusted: vec![w.issuer()],
                ..enabled()
            },
            "policy lists",
        ),
        (
            Discovery {
                issuers: vec![table(Vec::new())],
                ..enabled()
            },
            "but not for this registry",
        ),
        (
            Discovery {
                issuers: vec![table(vec!["https://crates.corp.example".into()])],
                ..enabled()
            },
            "but not for this registry",
        ),
    ] {
        let person = Person::new(true, false);
        let msg = message(w.login(&discovery, Some("corp"), false, &person));
        assert!(msg.contains("not confirmed") && msg.contains(&at), "{msg}");
        assert!(msg.contains("registries = ["), "{msg}");
        let asked = person.asked.borrow();
        assert_eq!(asked.len(), 1);
        assert!(
            asked[0].contains(&format!(
                "at {at} says it signs in at {}",
                host_of(&w.issuer())
            )) && asked[0].contains(known)
                && asked[0].contains("scope `read`"),
            "{}",
            asked[0]
        );
    }
    assert!(w.server.paths().iter().all(|p| p == METADATA));
    // In CI the same is an error naming the table entry to add.
    let mut ci = World::new();
    serve_metadata(&ci.server, &[ci.issuer()]);
    ci.env.insert("CI".into(), "true".into());
    let msg = message(ci.login(
        &Discovery {
            trusted: vec![ci.issuer()],
            ..enabled()
        },
        Some("corp"),
        false,
        &Person::new(true, true),
    ));
    assert!(
        msg.contains("nobody can confirm it here")
            && msg.contains(&format!("registries = [\"{}\"]", ci.server.base())),
        "{msg}"
    );
    // Listed for this registry (by origin, or by an index prefix): no
    // question. No IdP metadata here: the sign-in stops right after.
    for entry in [w.server.base(), format!("sparse+{}/api/", w.server.base())] {
        let person = Person::new(true, false);
        let discovery = Discovery {
            issuers: vec![table(vec![entry.clone()])],
            ..enabled()
        };
        let msg = message(w.login(&discovery, Some("corp"), false, &person));
        assert!(msg.contains("its identity provider"), "{entry}: {msg}");
        assert!(person.asked.borrow().is_empty(), "{entry}");
    }
    assert!(w.server.paths().iter().any(|p| p == AS_METADATA));
    assert!(w.stored().is_empty());
}

#[test]
fn an_issuer_tables_scope_and_resource_win_over_the_registrys() {
    // review-18 F1: a registry names a listed IdP with scopes of its own
    // choosing; the table's scope and resource are asked for instead.
    let w = World::new();
    w.server.route(
        METADATA,
        Canned::json(
            200,
            &serde_json::json!({
                "resource": w.server.url("/api/v1/crates"),
                "authorization_servers": [w.issuer()],
                "scopes_supported": ["openid", "https://graph.microsoft.com/Mail.Read"],
            })
            .to_string(),
        ),
    );
    serve_idp(&w.server);
    let discovery = Discovery {
        issuers: vec![IssuerTable {
            issuer: w.issuer(),
            client_id: "dev".into(),
            flow: None,
            scope: Some("registry:read".into()),
            resource: Some("api://corp-registry".into()),
            registries: vec![w.server.base()],
        }],
        ..enabled()
    };
    let b = Binding {
        v: FORMAT,
        index: w.index.clone(),
        issuer: w.issuer(),
        client_id: "dev".into(),
        how: How::IssuerTable,
        resource: w.server.url("/api/v1/crates"),
        scope: Some("https://graph.microsoft.com/Mail.Read".into()),
        endpoints: discovery::Metadata::default(),
        metadata: w.server.url(METADATA),
    };
    let s = b.settings(&discovery);
    assert_eq!(
        (s.scope.as_deref(), s.resource.as_deref()),
        (Some("registry:read"), Some("api://corp-registry"))
    );
}
#[test]
fn a_nameless_registry_makes_no_request_at_all() {
    let w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    serve_idp(&w.server);
    let person = Person::new(true, true);
    assert!(w.login(&enabled(), None, false, &person).is_none());
    let headers = w.challenge(&w.server.url(METADATA));
    assert_eq!(
        challenge_note(&enabled(), &w.registry(None), &headers),
        None
    );
    assert!(
        named_in_challenge(&enabled(), &w.registry(None), &headers)
            .unwrap()
            .is_none()
    );
    assert_eq!(w.server.paths(), Vec::<String>::new());
    assert!(person.asked.borrow().is_empty());
    // The same 401 for a registry Cargo names: one request, and the note
    // names the IdP's host and the command.
    assert_eq!(
        challenge_note(&enabled(), &w.registry(Some("corp")), &headers).unwrap(),
        format!(
            "corp ({}) signs in at {}: cargo login --registry corp",
            registry_host(&w.registry(None)),
            host_of(&w.issuer())
        )
    );
    assert_eq!(w.server.paths(), [METADATA]);
}

#[test]
fn a_hostile_challenge_is_refused_saying_why_without_fetching() {
    let w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    let other = Server::start();
    serve_metadata(&other, &[w.issuer()]);
    let corp = w.registry(Some("corp"));
    let params = (0..50)
        .map(|i| format!("p{i}=\"v\""))
        .collect::<Vec<_>>()
        .join(", ");
    for (headers, needle) in [
        (
            vec![format!("www-authenticate: Bearer {params}")],
            "more than 16 parameters",
        ),
        (
            vec!["www-authenticate: Bearer resource_metadata=\"http://127.0.0.1:1/x".to_owned()],
            "quoted string",
        ),
        (
            w.challenge(&other.url(METADATA)),
            "not on the registry's own origin",
        ),
    ] {
        let note = challenge_note(&enabled(), &corp, &headers).unwrap();
        assert!(
            note.contains("is refused") && note.contains(needle),
            "{needle}: {note}"
        );
    }
    assert!(w.server.paths().is_empty() && other.paths().is_empty());
}

#[test]
fn registration_forbidden_by_policy_names_the_issuer_table() {
    let w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    serve_idp(&w.server);
    let discovery = Discovery {
        trusted: vec![w.issuer()],
        registration: false,
        ..enabled()
    };
    let msg = message(w.login(&discovery, Some("corp"), false, &Person::new(true, true)));
    assert!(
        msg.contains("dynamic-registration = false")
            && msg.contains(&format!("[issuers.\"{}\"]", w.issuer()))
            && msg.contains("nothing was stored"),
        "{msg}"
    );
    assert!(!w.server.paths().iter().any(|p| p == "/idp/reg"));
    // Allowed, but the IdP refuses: the same advice.
    w.server.route(
        "/idp/reg",
        Canned::json(400, r#"{"error":"invalid_client_metadata"}"#),
    );
    let msg = message(w.login(
        &Discovery {
            registration: true,
            ..discovery
        },
        Some("corp"),
        false,
        &Person::new(true, true),
    ));
    assert!(
        msg.contains("refused to register a client")
            && msg.contains(&format!("[issuers.\"{}\"]", w.issuer())),
        "{msg}"
    );
    assert!(w.stored().is_empty());
}

#[test]
fn a_registry_that_names_another_issuer_is_refused_until_rebind() {
    let w = World::new();
    let bound = Binding {
        v: FORMAT,
        index: w.index.clone(),
        issuer: "https://old-idp.example".into(),
        client_id: "c1".into(),
        how: How::Registration,
        resource: w.server.url("/api/v1/crates"),
        scope: None,
        endpoints: discovery::Metadata::default(),
        metadata: w.server.url(METADATA),
    };
    let bytes = serde_json::to_vec(&bound).unwrap();
    w.files()
        .write_private(BINDINGS, &binding_file(&w.index), &bytes)
        .unwrap();
    serve_metadata(&w.server, &[w.issuer()]);
    let discovery = Discovery {
        trusted: vec![w.issuer()],
        ..enabled()
    };
    let person = Person::new(true, true);
    let msg = message(w.login(&discovery, Some("corp"), false, &person));
    assert!(
        msg.contains("old-idp.example")
            && msg.contains(&host_of(&w.issuer()))
            && msg.contains("cargo login --registry corp -- --rebind"),
        "{msg}"
    );
    assert_eq!(w.server.paths(), [METADATA]);
    // A get that sees the 401 naming the new IdP refuses too.
    let headers = w.challenge(&w.server.url(METADATA));
    let corp = w.registry(Some("corp"));
    // review-18 F3: a note for a not-found, not an error (Cargo calls get
    // before login when its cache is cold, and --rebind must get there).
    let msg = check_binding(&bound, &discovery, &corp, &headers).expect("refused");
    assert!(
        msg.contains("--rebind") && msg.contains("nothing was sent"),
        "{msg}"
    );
    // --rebind goes on (here to the new IdP's metadata, which is missing).
    let msg = message(w.login(&discovery, Some("corp"), true, &person));
    assert!(msg.contains("its identity provider"), "{msg}");
    // Nothing changed: the binding is the old one.
    assert_eq!(binding(Some(&w.files()), &corp), Some(bound.clone()));
    // A registry still naming the bound IdP (among others) is fine.
    serve_metadata(&w.server, &[w.issuer(), bound.issuer.clone()]);
    assert_eq!(check_binding(&bound, &discovery, &corp, &headers), None);
    assert_eq!(
        choose(
            &resource::discover(&Http::new(TIMEOUT).unwrap(), &w.index, None).unwrap(),
            &discovery,
            Some(&bound),
            &w.index
        ),
        bound.issuer
    );
}

#[test]
fn an_issuer_with_terminal_escapes_is_refused_before_any_question_and_shown_escaped() {
    // review-18 F2.
    let w = World::new();
    let hostile = format!(
        "{}/\r\u{1b}[2K\u{1b}[1A\rcorp says it signs in at login.corp.example, OK \u{7}\u{1b}[8m",
        w.issuer()
    );
    serve_metadata(&w.server, std::slice::from_ref(&hostile));
    serve_idp(&w.server);
    let person = Person::new(true, true);
    let msg = message(w.login(&enabled(), Some("corp"), false, &person));
    assert!(msg.contains("refused"), "{msg}");
    assert!(!msg.chars().any(crate::diag::hidden), "{msg:?}");
    assert!(person.asked.borrow().is_empty());
    assert_eq!(w.server.paths(), [METADATA]);
    assert!(w.stored().is_empty());
    // At a get: the note says why, escaped.
    let headers = w.challenge(&w.server.url(METADATA));
    let note = challenge_note(&enabled(), &w.registry(Some("corp")), &headers).unwrap();
    assert!(note.contains("refused"), "{note}");
    assert!(!note.chars().any(crate::diag::hidden), "{note:?}");
    // What a binding holds (a file) is shown escaped too.
    let bound = Binding {
        v: FORMAT,
        index: w.index.clone(),
        issuer: "https://old.example/\u{1b}]0;pwned\u{7}".into(),
        client_id: "c1".into(),
        how: How::Registration,
        resource: w.server.url("/api/v1/crates"),
        scope: None,
        endpoints: discovery::Metadata::default(),
        metadata: w.server.url(METADATA),
    };
    let text = moved("corp", "corp", &bound, &hostile);
    assert!(!text.chars().any(crate::diag::hidden), "{text:?}");
    assert!(text.contains("\\u{1b}]0;pwned"), "{text}");
}

#[test]
fn interactive_never_in_the_environment_asks_nothing_and_registers_nothing() {
    // review-18 F4.
    let mut w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    serve_idp(&w.server);
    w.env.insert(
        super::super::interactive::INTERACTIVE_ENV.into(),
        "never".into(),
    );
    let person = Person::new(true, true);
    let msg = message(w.login(&enabled(), Some("corp"), false, &person));
    assert!(
        msg.contains("nobody can confirm it here") && msg.contains("=never"),
        "{msg}"
    );
    // Listed: no question needed, but no sign-in either, and not one
    // request to the IdP.
    let trusted = Discovery {
        issuers: vec![IssuerTable {
            issuer: w.issuer(),
            client_id: "dev".into(),
            flow: None,
            scope: None,
            resource: None,
            registries: vec![w.server.base()],
        }],
        ..enabled()
    };
    let msg = message(w.login(&trusted, Some("corp"), false, &person));
    assert!(msg.contains("needs a person"), "{msg}");
    assert!(person.asked.borrow().is_empty());
    assert_eq!(w.server.paths(), [METADATA, METADATA]);
    assert!(w.stored().is_empty());
}

#[test]
fn a_failed_sign_in_after_registration_registers_no_second_client() {
    // review-18 F4: the sign-in fails after the registration (here: the
    // test has no terminal); the next try reuses the client.
    let w = World::new();
    serve_metadata(&w.server, &[w.issuer()]);
    serve_idp(&w.server);
    w.server
        .route("/idp/reg", Canned::json(201, r#"{"client_id":"reg-1"}"#));
    for _ in 0..2 {
        let person = Person::new(true, true);
        let result = w.login(&enabled(), Some("corp"), false, &person);
        assert!(result.expect("discovery applies").is_err());
        assert_eq!(person.asked.borrow().len(), 1);
    }
    let paths = w.server.paths();
    assert_eq!(
        paths.iter().filter(|p| *p == "/idp/reg").count(),
        1,
        "{paths:?}"
    );
    // No binding: the sign-in did not succeed.
    assert!(binding(Some(&w.files()), &w.registry(Some("corp"))).is_none());
}

#[test]
fn a_registry_without_usable_metadata_still_takes_a_pasted_token() {
    // An auth proxy answering 401 at the well-known path, an HTML page, a
    // failing server: `cargo login` without a flow goes on to the keychain
    // (None), one that asks for a sign-in flow is refused; nothing stored.
    for answer in [
        Canned::json(401, "{}"),
        Canned::Answer(
            200,
            vec!["content-type: text/html".into()],
            "<html>the registry's web page</html>".into(),
        ),
        Canned::json(503, "{}"),
    ] {
        let w = World::new();
        w.server.route(METADATA, answer);
        let person = Person::new(true, true);
        assert!(
            w.login_with(&enabled(), Some("corp"), (None, false), &person)
                .is_none(),
            "a plain cargo login must go on without single sign-on"
        );
        let refused = message(w.login(&enabled(), Some("corp"), false, &person));
        assert!(refused.contains("protected-resource metadata"), "{refused}");
        assert!(person.asked.borrow().is_empty());
        assert_eq!(w.stored(), Vec::<String>::new());
    }
}
