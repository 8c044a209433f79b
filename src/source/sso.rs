//! The `sso` source: a short-lived token from the developer's single
//! sign-on in `[registries.NAME.sso]` (the sign-in itself is in
//! [`crate::sso`]).

use anyhow::bail;

use super::{Found, Lifetime, Login, Lookup, Note, Request, Source};
use crate::registry::Registry;
use crate::sso;

/// The SSO source.
#[derive(Debug, Clone, Copy)]
pub struct Sso;

impl Source for Sso {
    fn get(&self, request: &Request<'_>) -> anyhow::Result<Lookup> {
        let registry = request.registry;
        let Some(sso) = &request.settings.sso else {
            if request.settings.discovery.enabled {
                return discovered_get(request);
            }
            if !request.settings.sso_listed {
                // `"sso"` among the default sources and no `sso` table here.
                return Ok(Lookup::NONE);
            }
            bail!(
                "the sources for {} list \"sso\" but no [registries.NAME.sso] table applies \
                 ({}); add one (see docs/sso.md)",
                registry.display_name(),
                request.where_configured()
            );
        };
        Ok(
            match sso::get(sso, registry, request.operation, &request.context())? {
                Some(o) => Lookup::Found(Found {
                    token: o.token,
                    lifetime: Lifetime::short(o.expires_at),
                    operation_independent: !sso.operation_dependent(),
                }),
                // Not said in CI, where nobody signs in (a CI job uses `oidc`).
                None => Lookup::Missing {
                    note: (!sso::interactive::in_ci(request.env)).then(|| {
                        Note::Ready(format!(
                            "not signed in to {} yet: `cargo login --registry {}` signs in (single \
                         sign-on)",
                            registry.display_name(),
                            registry.name.unwrap_or("NAME")
                        ))
                    }),
                },
            },
        )
    }

    fn login(&self, request: &Request<'_>, login: &Login<'_>) -> Option<anyhow::Result<()>> {
        // A token given explicitly goes to the keychain as usual.
        if login.options.token.is_some() && login.flow.is_none() {
            return None;
        }
        let Some(sso) = request.settings.sso.as_ref() else {
            return sso::discover::login(
                &request.settings.discovery,
                request.registry,
                (login.flow, login.rebind),
                &request.context(),
                &sso::discover::Terminal,
            );
        };
        Some(sso::login(
            sso,
            request.registry,
            login.flow,
            &request.context(),
        ))
    }

    fn logout(&self, request: &Request<'_>) -> Option<anyhow::Result<bool>> {
        let discovered;
        let sso = match request.settings.sso.as_ref() {
            Some(sso) => sso,
            None => {
                let binding = discovery_binding(request)?;
                discovered = binding.settings(&request.settings.discovery);
                &discovered
            }
        };
        Some(
            sso::logout(sso, request.registry, &request.context())
                .map(|outcome| outcome != sso::LoggedOut::NotSignedIn),
        )
    }
}

/// The remembered binding of a registry that no `sso` table covers, when
/// discovery applies to it.
fn discovery_binding(request: &Request<'_>) -> Option<sso::discover::Binding> {
    if !request.settings.discovery.enabled {
        return None;
    }
    let files = (request.files)().ok();
    sso::discover::binding(files.as_ref(), request.registry)
}

/// A `get` for a registry that no `sso` table covers: from the login that
/// discovery bound it to, if any. Never a sign-in. With no binding, the
/// 401 Cargo saw (its headers) may name the registry's metadata: then the
/// warning says where it signs in (read only for a registry Cargo names).
/// With one, a 401 naming another identity provider is refused: not-found
/// with the refusal as the warning.
fn discovered_get(request: &Request<'_>) -> anyhow::Result<Lookup> {
    let registry = request.registry;
    let discovery = &request.settings.discovery;
    let in_ci = sso::interactive::in_ci(request.env);
    let Some(binding) = discovery_binding(request) else {
        // Not said (nor fetched) in CI, where nobody signs in; elsewhere
        // fetched only if no later source answers (a keychain token does).
        if in_ci || request.headers.is_empty() {
            return Ok(Lookup::NONE);
        }
        let (discovery, headers) = (discovery.clone(), request.headers.to_vec());
        let (index, name) = (
            registry.index_url.to_owned(),
            registry.name.map(str::to_owned),
        );
        return Ok(Lookup::Missing {
            note: Some(Note::Deferred(Box::new(move || {
                let registry = Registry {
                    index_url: &index,
                    name: name.as_deref(),
                };
                sso::discover::challenge_note(&discovery, &registry, &headers)
            }))),
        });
    };
    // A registry that now names another IdP: not-found, the refusal as the
    // warning (also in CI), no token sent; `cargo login -- --rebind` must
    // still reach the login when Cargo's cache is cold.
    if let Some(refused) =
        sso::discover::check_binding(&binding, discovery, registry, request.headers)
    {
        return Ok(Lookup::Missing {
            note: Some(Note::Ready(refused)),
        });
    }
    let settings = binding.settings(discovery);
    Ok(
        match sso::get(&settings, registry, request.operation, &request.context())? {
            // An RFC 9728 resource takes the token as RFC 6750 says:
            // `Authorization: Bearer <token>`.
            Some(o) => Lookup::Found(Found {
                token: o.token.with_scheme("Bearer"),
                lifetime: Lifetime::short(o.expires_at),
                operation_independent: !settings.operation_dependent(),
            }),
            None => Lookup::Missing {
                note: (!in_ci)
                    .then(|| sso::discover::sign_in_note(Some(&binding), registry))
                    .flatten()
                    .map(Note::Ready),
            },
        },
    )
}

/// The single sign-on that applies to the request's registry: the `sso`
/// table's, else the one discovery bound it to (with that binding). `None`
/// when neither applies. Reads no network.
pub fn applied(
    request: &Request<'_>,
) -> Option<(sso::settings::SsoSettings, Option<sso::discover::Binding>)> {
    match &request.settings.sso {
        Some(sso) => Some((sso.clone(), None)),
        None => {
            let binding = discovery_binding(request)?;
            Some((binding.settings(&request.settings.discovery), Some(binding)))
        }
    }
}
