//! `cargo login` for a registry with an `sso` table: the sign-in flow, then
//! the refresh token kept (see [`super::grant`]).

use std::time::Instant;

use anyhow::{anyhow, bail};
use zeroize::Zeroizing;

use super::grant::{Grants, StoredLogin};
use super::settings::{Flow, GrantStore, SsoSettings};
use super::token::{self, TokenSet};
use super::{
    account_name, all_stores, browser, device, endpoints, forget_tokens, grant_lock, interactive,
    label, login_scope, paste, pkce, target_params,
};
use crate::diag::{say, warn};
use crate::keychain::Budgeted;
use crate::mint::Context;
use crate::net::fields::Value;
use crate::net::http::Http;
use crate::registry::Registry;
use crate::secret::Token;

/// What `cargo login` runs for a registry with an `sso` table.
pub fn login(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    wanted: Option<Flow>,
    cx: &Context<'_>,
) -> anyhow::Result<()> {
    let name = registry.name.unwrap_or("NAME");
    if let Some(why) = interactive::blocker(settings, cx.env) {
        bail!(
            "cannot sign in to {} here: {why}, and a sign-in needs a person. Sign in with `cargo \
             login --registry {name}` in a terminal on your own machine; a CI job gets tokens \
             from its own identity instead: configure [registries.{name}.oidc] (see docs/ci/)",
            registry.display_name()
        );
    }
    let http = Http::new(settings.timeout)?.with_ca_files(&settings.ca_files);
    let files = (cx.files)().ok();
    let now = (cx.now)();
    let endpoints = endpoints(settings, &http, files.as_ref(), now)?;
    let (flow, why) = interactive::choose(
        wanted.unwrap_or(settings.flow),
        cx.env,
        endpoints.device.is_some(),
        endpoints.authorization.is_some(),
    )
    .ok_or_else(|| {
        anyhow!(
            "the identity provider offers neither a device authorization endpoint nor an \
             authorization endpoint; set one in the `sso` table"
        )
    })?;
    let deadline = Instant::now() + settings.login_timeout;
    let scope = login_scope(settings, endpoints.offline_access);
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(scope) = &scope {
        params.push(("scope", scope));
    }
    params.extend(target_params(settings));
    let flow_name = match flow {
        Flow::Device => "the device flow",
        Flow::Browser => "the browser",
        Flow::Paste => "paste mode",
        Flow::Auto => "auto",
    };
    say(&format!(
        "Signing in to {} with {flow_name} ({why}).",
        registry.display_name()
    ));
    let missing = |what: &str, key: &str| {
        anyhow!(
            "{flow_name} needs the IdP's {what}, which it does not advertise; set `{key}` in the \
             `sso` table or choose another flow"
        )
    };
    let (tokens, nonce) = match flow {
        Flow::Device => {
            let endpoint = endpoints.device.as_deref().ok_or_else(|| {
                missing(
                    "device authorization endpoint",
                    "device-authorization-endpoint",
                )
            })?;
            let tokens = device::run(
                &http,
                &device::Device {
                    endpoint,
                    token_endpoint: &endpoints.token,
                    client_id: &settings.client_id,
                    params: &params,
                    token_params: &target_params(settings),
                    registry: registry.display_name(),
                    deadline,
                },
            )?;
            (tokens, None)
        }
        Flow::Browser | Flow::Paste | Flow::Auto => {
            let endpoint = endpoints
                .authorization
                .as_deref()
                .ok_or_else(|| missing("authorization endpoint", "authorization-endpoint"))?;
            code_flow(
                settings,
                registry,
                &http,
                flow,
                endpoint,
                &endpoints.token,
                &params,
                deadline,
                cx,
            )?
        }
    };
    // An ID token is checked before anything is kept; a refused one (or
    // none where one was asked for) leaves no valid login behind at the IdP
    // either.
    let checked = token::checked_claims(
        tokens.id_token.as_ref(),
        &token::IdTokenCheck {
            issuer: settings.issuer.as_deref(),
            client_id: &settings.client_id,
            nonce: nonce.as_deref().map(|n| n.as_str()),
            now: (cx.now)(),
        },
    );
    let claims = match checked {
        Ok(claims) => claims,
        Err(e) => {
            if let (Some(endpoint), Some(refresh)) = (&endpoints.revocation, &tokens.refresh) {
                let _ = token::revoke(&http, endpoint, &settings.client_id, refresh);
            }
            return Err(e.context(format!(
                "the sign-in to {} was refused; nothing was stored",
                registry.display_name()
            )));
        }
    };
    // The access token of the sign-in itself is not used (each `get`
    // refreshes for its own scope), so only the refresh token matters here.
    let Some(refresh_token) = tokens.refresh else {
        bail!(
            "the identity provider signed you in but issued no refresh token, so cargo could not \
             get tokens later; nothing was stored. Its client `{}` must allow the refresh_token \
             grant (and the offline_access scope; see docs/sso.md)",
            settings.client_id
        );
    };
    let account = claims.as_ref().and_then(account_name);
    let subject = claims
        .as_ref()
        .and_then(|c| Some(c.get("sub")?.as_str()?.to_owned()));
    let keychain = Budgeted::new(cx.keychain, crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT);
    let grants = Grants::new(
        settings,
        registry,
        &keychain,
        crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT,
        files.clone(),
    );
    // A login as another account than the stored one is kept only once the
    // person said so on the terminal: anyone who can see the sign-in URL (the
    // state and the PKCE challenge) could have signed in as themselves with
    // it. Nothing is stored or revoked before the answer, and the question
    // is asked before the lock is taken (a person may take a while).
    let new_login = (subject.as_deref(), account.as_deref());
    let asked_about = match grants.load().ok().flatten() {
        Some(stored) => match another_account(&stored, new_login) {
            Some(names) => {
                let answer = ask_to_replace(&names, registry, settings);
                if !matches!(answer, Ok(true)) {
                    if let Some(endpoint) = &endpoints.revocation {
                        let _ = token::revoke(&http, endpoint, &settings.client_id, &refresh_token);
                    }
                    let why = match answer {
                        Err(_) => "there is no terminal to confirm it on",
                        _ => "it was not confirmed",
                    };
                    let (before, now_as) = names;
                    bail!(
                        "the login of {before} is kept for {}: the sign-in as {now_as} was not \
                         stored ({why}) and was revoked at the identity provider. To switch \
                         accounts, run `cargo logout --registry {name}` and sign in again",
                        registry.display_name()
                    );
                }
                Some((stored.subject, stored.account))
            }
            None => None,
        },
        None => None,
    };
    // The login's lock: no `get` is refreshing the login this one replaces
    // while it is replaced.
    let lock = grant_lock(files.as_ref(), settings, registry, cx.keychain_timeout);
    let _lock = match lock {
        Ok(lock) => lock,
        Err(e) => {
            if let Some(endpoint) = &endpoints.revocation {
                let _ = token::revoke(&http, endpoint, &settings.client_id, &refresh_token);
            }
            return Err(e.context(format!(
                "the sign-in to {} was not stored, and was revoked at the identity provider",
                registry.display_name()
            )));
        }
    };
    let previous = grants.load().ok().flatten();
    // Another account's login that was not asked about (stored meanwhile,
    // or unreadable before) is neither replaced nor revoked.
    if let Some(previous) = &previous
        && another_account(previous, new_login).is_some()
        && asked_about != Some((previous.subject.clone(), previous.account.clone()))
    {
        if let Some(endpoint) = &endpoints.revocation {
            let _ = token::revoke(&http, endpoint, &settings.client_id, &refresh_token);
        }
        bail!(
            "the login kept for {} changed while this sign-in ran; nothing was stored. Run the \
             login again",
            registry.display_name()
        );
    }
    let saved = grants.save(
        &StoredLogin {
            refresh_token: refresh_token.clone(),
            account: account.clone(),
            subject: subject.clone(),
        },
        now,
        &label(registry, account.as_deref()),
    );
    if let Err(e) = saved {
        // Nothing was stored: the new login is not left valid at the IdP.
        if let Some(endpoint) = &endpoints.revocation {
            let _ = token::revoke(&http, endpoint, &settings.client_id, &refresh_token);
        }
        return Err(e);
    }
    // Tokens of an earlier login (perhaps another account) are not served.
    let stores = all_stores(
        settings,
        &keychain,
        crate::keychain::INTERACTIVE_KEYCHAIN_TIMEOUT,
        files.as_ref(),
    );
    forget_tokens(settings, registry, &stores);
    // The login this one replaces is revoked when it was another account's.
    // For the same account it is left to expire: many IdPs give a second
    // sign-in the same grant (one browser session), and revoking the old
    // refresh token would revoke the new one with it.
    if let (Some(previous), Some(endpoint)) = (previous, &endpoints.revocation)
        && previous.refresh_token != refresh_token
        && previous.subject.is_some()
        && subject.is_some()
        && previous.subject != subject
    {
        let _ = token::revoke(
            &http,
            endpoint,
            &settings.client_id,
            &previous.refresh_token,
        );
    }
    if settings.store == GrantStore::File {
        warn(&format!(
            "the SSO login is kept in {} as configured; use the OS keychain where there is one",
            grants.describe()
        ));
    }
    say(&format!(
        "Signed in to {}{}. The login is kept in {}; cargo now gets short-lived tokens with it. \
         `cargo logout --registry {name}` signs out.",
        registry.display_name(),
        account.map(|a| format!(" as {a}")).unwrap_or_default(),
        grants.describe()
    ));
    Ok(())
}

/// When the new login (`sub`, account name) is another account's than
/// `stored`: how to show each (the stored one, the new one). Accounts are
/// told apart by `sub`, else by the account name exactly. A new login
/// without a `sub` is another account when the stored one has a `sub`;
/// when the stored one names neither, there is nothing to compare.
///
/// The names are the IdP's, often chosen by the person who signs in, so
/// each is shown with its `sub` ([`shown_account`]), and a new name that
/// looks like the stored one ([`alike`]) is said to be another account
/// with a name like it.
fn another_account(
    stored: &StoredLogin,
    (subject, account): (Option<&str>, Option<&str>),
) -> Option<(String, String)> {
    let differs = match (stored.subject.as_deref(), subject) {
        (Some(before), Some(now)) => before != now,
        // A login that does not say who it is cannot be taken for the one
        // that did.
        (Some(_), None) => true,
        (None, _) => {
            matches!((stored.account.as_deref(), account), (Some(before), Some(now)) if before != now)
        }
    };
    differs.then(|| {
        let before = shown_account(stored.account.as_deref(), stored.subject.as_deref());
        let mut now = shown_account(account, subject);
        if let (Some(a), Some(b)) = (stored.account.as_deref(), account)
            && alike(a, b)
        {
            now.push_str(if a == b {
                ", another account with the same name"
            } else {
                ", another account with a name that looks the same"
            });
        }
        (before, now)
    })
}

/// An account as the other-account question shows it: its name in quotes,
/// every character but printable ASCII (and a space at either end) as its
/// code point (`"\u{430}lice"`: a Cyrillic `а`), then its `sub` likewise;
/// a `sub` that is long or token-shaped is shown as a short digest.
fn shown_account(account: Option<&str>, subject: Option<&str>) -> String {
    let quoted = |text: &str| {
        let count = text.chars().count();
        let mut out = String::from("\"");
        for (i, c) in text.chars().enumerate() {
            let at_end = i == 0 || i + 1 == count;
            if c.is_ascii_graphic() && c != '"' && c != '\\' || (c == ' ' && !at_end) {
                out.push(c);
            } else {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
        }
        out.push('"');
        out
    };
    let name = account.map_or_else(|| "another account".to_owned(), quoted);
    match subject {
        Some(sub) if sub.len() <= 64 && !crate::redact::has_long_word(sub) => {
            format!("{name} (sub {})", quoted(sub))
        }
        Some(sub) => format!(
            "{name} (sub digest {})",
            &crate::cache::key(&["sso-sub", sub])[..12]
        ),
        None => format!("{name} (no sub)"),
    }
}

/// Whether two account names look alike: equal once trimmed, lower-cased,
/// with whitespace and invisible characters dropped, and with full-width
/// forms and the Cyrillic and Greek letters that are drawn like Latin ones
/// read as those. A small rule, not Unicode's whole confusables table:
/// every name is also shown with its code points ([`shown_account`]).
fn alike(a: &str, b: &str) -> bool {
    fn skeleton(name: &str) -> String {
        name.chars()
            .flat_map(char::to_lowercase)
            .filter(|c| !c.is_whitespace() && !c.is_control() && !invisible(*c))
            .map(|c| match c {
                // Full-width ASCII.
                '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c),
                'а' | 'α' => 'a',
                'в' | 'β' => 'b',
                'с' | 'ϲ' => 'c',
                'ԁ' => 'd',
                'е' | 'ε' => 'e',
                'ɡ' => 'g',
                'һ' => 'h',
                'і' | 'ι' | 'ı' => 'i',
                'ј' => 'j',
                'к' | 'κ' => 'k',
                'ӏ' => 'l',
                'м' => 'm',
                'п' | 'η' => 'n',
                'о' | 'ο' | 'σ' => 'o',
                'р' | 'ρ' => 'p',
                'ԛ' => 'q',
                'ѕ' => 's',
                'т' | 'τ' => 't',
                'υ' => 'u',
                'ν' => 'v',
                'ԝ' | 'ω' => 'w',
                'х' | 'χ' => 'x',
                'у' | 'γ' => 'y',
                c => c,
            })
            .collect()
    }
    fn invisible(c: char) -> bool {
        matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{e0000}'..='\u{e007f}')
    }
    skeleton(a) == skeleton(b)
}

/// Asks on the terminal whether the login of `names.1` replaces the one of
/// `names.0`; waits at most `login-timeout-secs`.
fn ask_to_replace(
    (before, now_as): &(String, String),
    registry: &Registry<'_>,
    settings: &SsoSettings,
) -> std::io::Result<bool> {
    let question = format!(
        "The sign-in came back as {now_as}, but the login kept for {} is the one of {before}. \
         If you did not just sign in as {now_as} yourself, someone else may have completed this \
         sign-in. Replace the login of {before} with this one (and revoke the one of {before})?",
        registry.display_name()
    );
    interactive::confirm(&question, Instant::now() + settings.login_timeout)
}

#[allow(clippy::too_many_arguments)]
fn code_flow(
    settings: &SsoSettings,
    registry: &Registry<'_>,
    http: &Http,
    flow: Flow,
    endpoint: &str,
    token_endpoint: &str,
    params: &[(&str, &str)],
    deadline: Instant,
    cx: &Context<'_>,
) -> anyhow::Result<(TokenSet, Option<Zeroizing<String>>)> {
    let pkce = pkce::Pkce::new()?;
    let issuer = settings.issuer.as_deref();
    let (callback, redirect_uri) = if flow == Flow::Browser {
        let loopback = browser::Loopback::bind(settings.redirect_port)?;
        let redirect_uri = loopback.redirect_uri();
        let url =
            pkce::authorization_url(endpoint, &settings.client_id, &redirect_uri, &pkce, params)?;
        say(&format!(
            "Opening a browser to sign in to {}. If none opens, visit:\n\n  {url}\n",
            registry.display_name()
        ));
        // The launcher gets a private page that leads to the URL, never the
        // URL itself (argv is readable by every local user). Where no such
        // page can be written, no launcher is started: the person opens the
        // URL shown above.
        let page = interactive::LaunchPage::write(&url);
        match &page {
            Ok(page) => {
                let target = page.path().to_string_lossy();
                if let Err(why) = interactive::open_browser(&target, cx.env, cx.secret_vars) {
                    warn(&format!(
                        "could not open a browser ({why}); open the URL above yourself"
                    ));
                }
            }
            Err(e) => warn(&format!(
                "no browser was started: the private page that keeps the sign-in URL out of \
                 other users' sight could not be written ({e}); open the URL above yourself"
            )),
        }
        let callback = loopback.wait(&pkce.state, issuer, deadline);
        drop(page);
        (callback?, redirect_uri)
    } else {
        let port = match settings.redirect_port {
            0 => browser::Loopback::bind(0)?
                .redirect_uri()
                .rsplit_once(':')
                .and_then(|(_, rest)| rest.split('/').next()?.parse::<u16>().ok())
                .unwrap_or(8400),
            port => port,
        };
        let redirect_uri = format!("http://127.0.0.1:{port}{}", browser::CALLBACK_PATH);
        let url =
            pkce::authorization_url(endpoint, &settings.client_id, &redirect_uri, &pkce, params)?;
        (
            paste::run(&url, registry.display_name(), &pkce.state, issuer, deadline)?,
            redirect_uri,
        )
    };
    let code = match callback {
        pkce::Callback::Code(code) => code,
        pkce::Callback::Denied(error, description) => bail!(
            "the sign-in was not completed at the identity provider: {error}{}; nothing was \
             stored",
            description.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
    };
    // The code and the verifier are secrets: redacted from what the IdP says.
    let code = Token::new(code.to_string());
    let verifier = Token::new(pkce.verifier.to_string());
    let mut form = vec![
        ("grant_type", Value::Plain("authorization_code")),
        ("code", Value::Secret(&code)),
        ("redirect_uri", Value::Plain(&redirect_uri)),
        ("client_id", Value::Plain(&settings.client_id)),
        ("code_verifier", Value::Secret(&verifier)),
    ];
    let target = target_params(settings);
    form.extend(target.iter().map(|(k, v)| (*k, Value::Plain(v))));
    let tokens = token::request(http, token_endpoint, &form)?.map_err(|e| {
        anyhow!("the identity provider refused the sign-in code: {e}; nothing was stored")
    })?;
    // The nonce the ID token must carry, when the request sent one.
    Ok((tokens, pkce::asks_openid(params).then_some(pkce.nonce)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_told_apart_by_sub_else_by_name() {
        let grant = |subject: Option<&str>, account: Option<&str>| StoredLogin {
            refresh_token: crate::secret::Token::new("rt".to_owned()),
            account: account.map(str::to_owned),
            subject: subject.map(str::to_owned),
        };
        let alice = grant(Some("s-alice"), Some("alice"));
        assert_eq!(
            another_account(&alice, (Some("s-alice"), Some("alice"))),
            None
        );
        assert_eq!(
            another_account(&alice, (Some("s-bob"), Some("bob"))),
            Some((
                "\"alice\" (sub \"s-alice\")".into(),
                "\"bob\" (sub \"s-bob\")".into()
            ))
        );
        // The same name for another `sub` is said to be another account.
        let (_, now) = another_account(&alice, (Some("s-mallory"), Some("alice"))).unwrap();
        assert!(now.contains("another account with the same name"), "{now}");
        // issue 16 F7: names made to look alike (a trailing space, a
        // Cyrillic `а`, another case, full-width letters) are flagged and
        // shown with their code points, and the `sub` is shown.
        for (lookalike, shown) in [
            ("alice ", "\"alice\\u{20}\""),
            ("\u{430}lice", "\"\\u{430}lice\""),
            ("Alice", "\"Alice\""),
            ("\u{ff41}lice", "\"\\u{ff41}lice\""),
            ("al\u{ad}ice", "\"al\\u{ad}ice\""),
        ] {
            let (before, now) =
                another_account(&alice, (Some("s-mallory"), Some(lookalike))).unwrap();
            assert_eq!(before, "\"alice\" (sub \"s-alice\")");
            assert!(
                now.starts_with(shown)
                    && now.contains("(sub \"s-mallory\")")
                    && now.contains("another account with a name that looks the same"),
                "{now}"
            );
        }
        assert!(!alike("alice", "alicia") && !alike("bob", "b0b2"));
        // A token-shaped `sub` is shown as a digest.
        let (_, now) =
            another_account(&alice, (Some("00u1abcd2EFGH3ijk4x7yz"), Some("bob"))).unwrap();
        assert!(
            now.contains("sub digest ") && !now.contains("00u1abcd"),
            "{now}"
        );
        // A new login that names no `sub` is not taken for one that did
        // (issue 16 F1: the ID token was stripped from the answer).
        assert!(another_account(&alice, (None, None)).is_some());
        assert!(another_account(&alice, (None, Some("alice"))).is_some());
        // Without `sub`, the names; with neither, nothing to compare.
        assert!(another_account(&grant(None, Some("alice")), (None, Some("bob"))).is_some());
        assert!(another_account(&grant(None, Some("alice")), (None, Some("alice "))).is_some());
        assert_eq!(
            another_account(&grant(None, None), (Some("s-bob"), None)),
            None
        );
    }
}
