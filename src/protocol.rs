//! Cargo's credential protocol v1 on a reader and a writer.
//!
//! The request and response types, the [`Credential`] trait and the error
//! kinds are the `cargo-credential` crate's. The loop is ours because the
//! crate's `main` has two flaws for a provider that handles secrets:
//! - a request is deserialized by borrowing strings from the input line, so a
//!   token holding a JSON escape (`\"`, `\\`, `\u001b`) cannot be read at all,
//!   and the resulting error message quotes the token back to Cargo's output;
//! - it takes the process's stdin/stdout, so tests cannot drive it in-process.
//!
//! Here the line is parsed into a [`serde_json::Value`] first (escapes are
//! decoded) and the request borrows from that; an unreadable request gets an
//! error that says where and what kind, never the input's text.

use std::io::{self, BufRead, Write};

use cargo_credential::{
    Credential, CredentialHello, CredentialRequest, CredentialResponse, Error, PROTOCOL_VERSION_1,
};
use serde::Deserialize as _;

/// Speaks the protocol: writes the hello, then answers each request line
/// until `input` ends. Only I/O errors on `input`/`output` end it early.
pub fn serve(
    credential: &impl Credential,
    mut input: impl BufRead,
    mut output: impl Write,
) -> io::Result<()> {
    let hello = CredentialHello {
        v: vec![PROTOCOL_VERSION_1],
    };
    write_line(&mut output, &hello)?;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let reply = answer(credential, &line);
        // The line may hold a token: clear it before reading the next one.
        zeroize::Zeroize::zeroize(&mut line);
        write_line(&mut output, &reply)?;
    }
}

fn answer(credential: &impl Credential, line: &str) -> Result<CredentialResponse, Error> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(unreadable)?;
    let request = CredentialRequest::deserialize(&value).map_err(unreadable)?;
    if request.v != PROTOCOL_VERSION_1 {
        return Err(format!(
            "unsupported protocol version {} (this provider speaks version {PROTOCOL_VERSION_1}); \
             update cargo-credential-corp",
            request.v
        )
        .into());
    }
    credential.perform(&request.registry, &request.action, &request.args)
}

/// Describes an unreadable request without quoting any of it.
fn unreadable(e: serde_json::Error) -> Error {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "it could not be read".to_owned(),
        Category::Eof => "it ends too early".to_owned(),
        Category::Syntax => format!(
            "it is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
        // serde's data errors can quote values ("invalid type: string \"…\""):
        // keep only the ones that name a field.
        Category::Data => match e.to_string() {
            m if m.starts_with("missing field") => m,
            _ => "a field has an unexpected type or value".to_owned(),
        },
    };
    format!("cannot read Cargo's credential request: {what}; is this Cargo too new or too old for cargo-credential-corp?").into()
}

fn write_line(output: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *output, value)?;
    output.write_all(b"\n")?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cargo_credential::{Action, CacheControl, RegistryInfo, Secret};

    /// Answers a login with the token it was given, to prove decoding.
    struct Echo;

    impl Credential for Echo {
        fn perform(
            &self,
            _: &RegistryInfo<'_>,
            action: &Action<'_>,
            _: &[&str],
        ) -> Result<CredentialResponse, Error> {
            match action {
                Action::Login(o) => Ok(CredentialResponse::Get {
                    token: o.token.as_ref().unwrap().to_owned().map(String::from),
                    cache: CacheControl::Never,
                    operation_independent: true,
                }),
                _ => Err(Error::NotFound),
            }
        }
    }

    fn run(input: &str) -> String {
        let mut out = Vec::new();
        serve(&Echo, input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escaped_tokens_are_decoded() {
        let out = run(r#"{"v":1,"registry":{"index-url":"x"},"kind":"login","token":"a\"b\\c"}"#);
        assert_eq!(
            out,
            "{\"v\":[1]}\n{\"Ok\":{\"kind\":\"get\",\"token\":\"a\\\"b\\\\c\",\"cache\":\"never\",\"operation_independent\":true}}\n"
        );
    }

    #[test]
    fn errors_never_quote_the_request() {
        for bad in [
            r#"{"v":1,"registry":{"index-url":"x"},"kind":"login","token":17}"#,
            r#"{"v":1,"registry":{"index-url":"x"},"kind":"login","token":["SECRETVALUE"]}"#,
            r#"{"v":1,"registry":{"index-url":"SECRETVALUE"},"kind":"login","token":{"SECRETVALUE":1}}"#,
            r#"{"v":1,"registry":{"index-url":"x"},"kind":"login","token":"SECRETVALUE"#,
            r#"SECRETVALUE"#,
        ] {
            let out = run(bad);
            assert!(!out.contains("SECRETVALUE") && !out.contains("17"), "{out}");
            assert!(out.contains(r#""kind":"other""#), "{out}");
        }
        assert!(run(r#"{"v":1}"#).contains("missing field `registry`"));
    }

    #[test]
    fn one_reply_per_line_and_nothing_after_eof() {
        let out = run("{\"v\":1,\"registry\":{\"index-url\":\"x\"},\"kind\":\"logout\"}\n\n");
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(lines[1], r#"{"Err":{"kind":"not-found"}}"#);
        let _ = Secret::from("unused");
    }
}
