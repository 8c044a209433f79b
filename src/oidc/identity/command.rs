//! `identity-command`: a program that prints the identity, run through
//! [`Runner`] (bounded, no secrets inherited, standard error redacted).
//! It runs before the cache lookup ([`super::Identity::resolve`]) and is
//! keyed on a digest of what it printed.

use anyhow::anyhow;

use super::{CiSystem, Fetch, Identity};
use crate::cache;
use crate::child::Runner;
use crate::env::Environment;
use crate::net::http::Http;
use crate::oidc::settings::{IdentityKind, OidcSettings};
use crate::secret::Token;

/// `identity = "command"`.
pub(super) struct Command;

impl CiSystem for Command {
    fn kind(&self) -> IdentityKind {
        IdentityKind::Command
    }

    fn detect(&self, settings: &OidcSettings, _: &dyn Environment) -> bool {
        settings.identity_command.is_some()
    }

    fn locate(&self, settings: &OidcSettings, _: &dyn Environment) -> anyhow::Result<Identity> {
        let argv = settings
            .identity_command
            .clone()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| anyhow!("identity \"command\" needs `identity-command`"))?;
        Ok(Identity {
            kind: self.kind(),
            // Replaced by a digest of what it prints (`resolve`).
            fingerprint: cache::key(&["command", &argv.join("\0")]),
            how: Box::new(Program(argv)),
        })
    }
}

/// The command line.
struct Program(Vec<String>);

impl Fetch for Program {
    fn resolve_early(&self) -> Option<&'static str> {
        Some("command")
    }

    fn fetch(self: Box<Self>, _: &Http, runner: &Runner) -> anyhow::Result<Token> {
        runner.run(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::locate;
    use super::super::test_util::{env, jwt, runner, settings};
    use super::*;

    #[test]
    fn a_command_prints_the_token_within_its_deadline() {
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let s = settings(
            "identity = \"command\"\nidentity-command = [\"sh\", \"-c\", \"echo jwt-cmd\"]\n",
        );
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        assert_eq!(
            id.fetch(&http, &runner(Duration::from_secs(5)))
                .unwrap()
                .expose(),
            "jwt-cmd"
        );
        let s = settings("identity = \"command\"\nidentity-command = [\"sleep\", \"5\"]\n");
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        let msg = id
            .fetch(&http, &runner(Duration::from_millis(200)))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("within 200 ms"), "{msg}");
        let s = settings("identity = \"command\"\nidentity-command = [\"false\"]\n");
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        assert!(
            id.fetch(&http, &runner(Duration::from_secs(5)))
                .unwrap_err()
                .to_string()
                .contains("failed")
        );
    }

    #[test]
    fn a_command_identity_is_keyed_on_what_it_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("id");
        let s = settings(&format!(
            "identity = \"command\"\nidentity-command = [\"cat\", {:?}]\n",
            file.display().to_string()
        ));
        let run = runner(Duration::from_secs(5));
        let fingerprint = |printed: &str| {
            std::fs::write(&file, printed).unwrap();
            let id = locate(&s, &env(&[])).unwrap().unwrap();
            id.resolve(&run).unwrap().fingerprint
        };
        let h = r#"{"alg":"RS256","kid":"k1"}"#;
        let a1 = fingerprint(&jwt(h, r#"{"sub":"a","iat":1,"nbf":1,"exp":9,"jti":"x"}"#));
        let a2 = fingerprint(&jwt(
            h,
            r#"{"jti":"y","exp":99,"sub":"a","iat":50,"nbf":50}"#,
        ));
        let b = fingerprint(&jwt(h, r#"{"sub":"b","iat":1,"nbf":1,"exp":9,"jti":"x"}"#));
        let other_key = fingerprint(&jwt(
            r#"{"alg":"RS256","kid":"k2"}"#,
            r#"{"sub":"a","iat":1,"nbf":1,"exp":9,"jti":"x"}"#,
        ));
        assert_eq!(a1, a2, "volatile claims and claim order do not matter");
        assert_ne!(a1, b);
        assert_ne!(a1, other_key);
        let o1 = fingerprint("opaque-one");
        assert_ne!(o1, fingerprint("opaque-two"));
        assert_eq!(o1, fingerprint("opaque-one\n"));
        // A resolved identity is not run again by `fetch`.
        std::fs::write(&file, "changed").unwrap();
        let id = locate(&s, &env(&[])).unwrap().unwrap();
        std::fs::write(&file, "before-resolve").unwrap();
        let id = id.resolve(&run).unwrap();
        std::fs::write(&file, "after-resolve").unwrap();
        let http = Http::new(Duration::from_secs(1)).unwrap();
        assert_eq!(id.fetch(&http, &run).unwrap().expose(), "before-resolve");
    }
}
