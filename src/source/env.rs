//! The environment source: what CI jobs that export secrets use.
//!
//! Cargo reads `CARGO_REGISTRY_TOKEN` / `CARGO_REGISTRIES_<NAME>_TOKEN` only when
//! `cargo:token` is among the providers; reading them here removes that trap.

use anyhow::bail;

use crate::env::Environment;
use crate::registry::Registry;
use crate::secret::Token;

/// The environment source.
#[derive(Debug, Clone, Copy)]
pub struct Env;

impl super::Source for Env {
    fn get(&self, request: &super::Request<'_>) -> anyhow::Result<super::Lookup> {
        let names = candidate_names(request.registry, &request.settings.env);
        Ok(match lookup(request.env, &names)? {
            Some((token, _)) => super::Lookup::Found(super::Found::long_lived(token)),
            None => super::Lookup::NONE,
        })
    }
}

/// The names tried for `registry`, in order: the configured ones, then Cargo's.
pub fn candidate_names(registry: &Registry<'_>, configured: &[String]) -> Vec<String> {
    let mut names = configured.to_vec();
    if let Some(cargo) = registry.cargo_env_var()
        && !names.contains(&cargo)
    {
        names.push(cargo);
    }
    names
}

/// The first non-blank token among `names`, with the variable it came from.
///
/// A set variable whose value holds a control character, or is not Unicode,
/// is an error: it is never sent, and silently skipping it would hide the
/// mistake behind a confusing 401.
pub fn lookup(env: &dyn Environment, names: &[String]) -> anyhow::Result<Option<(Token, String)>> {
    for name in names {
        let Some(value) = env.var_os(name) else {
            continue;
        };
        let Ok(value) = value.into_string() else {
            bail!("environment variable {name} is not valid Unicode; it was not sent as a token");
        };
        if let Some(token) = Token::parse(value, &format!("environment variable {name}"))? {
            return Ok(Some((token, name.clone())));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const REG: Registry<'static> = Registry {
        index_url: "sparse+https://r/",
        name: Some("my-private"),
    };

    #[test]
    fn configured_names_come_first_then_cargos() {
        let names = candidate_names(&REG, &["ACME".into()]);
        assert_eq!(names, ["ACME", "CARGO_REGISTRIES_MY_PRIVATE_TOKEN"]);
        let e = env(&[("ACME", "a"), ("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "b")]);
        let (t, from) = lookup(&e, &names).unwrap().unwrap();
        assert_eq!((t.expose(), from.as_str()), ("a", "ACME"));
    }

    #[test]
    fn blank_values_are_absent() {
        let names = candidate_names(&REG, &["ACME".into()]);
        let e = env(&[("ACME", "  "), ("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "")]);
        assert!(lookup(&e, &names).unwrap().is_none());
        let e = env(&[("ACME", ""), ("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "b")]);
        assert_eq!(lookup(&e, &names).unwrap().unwrap().0.expose(), "b");
    }

    #[test]
    fn control_characters_are_an_error_that_hides_the_value() {
        let names = candidate_names(&REG, &[]);
        let e = env(&[("CARGO_REGISTRIES_MY_PRIVATE_TOKEN", "secret-part\nrest")]);
        let msg = format!("{:#}", lookup(&e, &names).unwrap_err());
        assert!(msg.contains("CARGO_REGISTRIES_MY_PRIVATE_TOKEN"), "{msg}");
        assert!(!msg.contains("secret-part"), "{msg}");
    }

    #[test]
    fn nameless_registry_only_uses_configured_names() {
        let r = Registry {
            index_url: "sparse+https://r/",
            name: None,
        };
        assert_eq!(candidate_names(&r, &[]), Vec::<String>::new());
    }
}
