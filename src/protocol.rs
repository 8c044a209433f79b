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
use zeroize::{Zeroize as _, Zeroizing};

/// The longest request line accepted. Cargo's requests are a few hundred
/// bytes (a login token included); anything longer is answered with an
/// error without being held in memory.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

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
    let mut line = Zeroizing::new(Vec::new());
    loop {
        line.clear();
        let reply = match read_line(&mut input, &mut line)? {
            Line::End => return Ok(()),
            Line::TooLong => Err(format!(
                "Cargo's credential request is longer than {MAX_REQUEST_BYTES} bytes; it was not \
                 read"
            )
            .into()),
            Line::Complete => match std::str::from_utf8(&line) {
                Ok(text) => answer(credential, text),
                Err(e) => Err(format!(
                    "Cargo's credential request is not valid UTF-8 (at byte {})",
                    e.valid_up_to()
                )
                .into()),
            },
        };
        // The line may hold a token: clear it before reading the next one.
        line.zeroize();
        write_line(&mut output, &reply)?;
    }
}

/// What [`read_line`] found.
enum Line {
    /// A whole line (without its length exceeding the limit) is in the buffer.
    Complete,
    /// The line was longer than [`MAX_REQUEST_BYTES`]; it was read and dropped.
    TooLong,
    /// The input ended.
    End,
}

/// Reads one line into `line` (newline included), never holding more than
/// [`MAX_REQUEST_BYTES`] of it; the rest of a longer line is skipped.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(match (read_any, too_long) {
                (false, _) => Line::End,
                (true, true) => Line::TooLong,
                (true, false) => Line::Complete,
            });
        }
        read_any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let used = chunk.len();
        if !too_long && line.len() + used <= MAX_REQUEST_BYTES {
            line.extend_from_slice(chunk);
        } else if !too_long {
            too_long = true;
            line.zeroize();
            line.clear();
        }
        input.consume(used);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

fn answer(credential: &impl Credential, line: &str) -> Result<CredentialResponse, Error> {
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(unreadable)?;
    let reply = answer_value(credential, &value);
    // The tree holds a copy of every string of the request (a login token).
    scrub(&mut value);
    reply
}

fn answer_value(
    credential: &impl Credential,
    value: &serde_json::Value,
) -> Result<CredentialResponse, Error> {
    let request = CredentialRequest::deserialize(value).map_err(unreadable)?;
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

/// Zeroizes every string in a JSON tree.
fn scrub(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
        serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
        _ => {}
    }
}

fn write_line(output: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *output, value)?;
    output.write_all(b"\n")?;
    output.flush()
}

/// Which scope a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationClass {
    /// Index and download reads.
    Read,
    /// Publish, yank, unyank, owners.
    Publish,
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
    fn invalid_utf8_and_overlong_lines_get_an_error_reply_each() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"v\":1,\"token\":\"\xff\xfe\"}\n");
        input.extend_from_slice(&vec![b'a'; MAX_REQUEST_BYTES + 10]);
        input.push(b'\n');
        input.extend_from_slice(
            br#"{"v":1,"registry":{"index-url":"x"},"kind":"login","token":"ok"}"#,
        );
        input.push(b'\n');
        // An overlong last line without a newline.
        input.extend_from_slice(&vec![b'b'; MAX_REQUEST_BYTES * 3]);
        let mut out = Vec::new();
        // A small buffer so that lines span many reads.
        let reader = io::BufReader::with_capacity(1000, input.as_slice());
        serve(&Echo, reader, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(lines[1].contains("not valid UTF-8"), "{}", lines[1]);
        assert!(lines[2].contains("longer than"), "{}", lines[2]);
        assert!(lines[3].contains(r#""token":"ok""#), "{}", lines[3]);
        assert!(lines[4].contains("longer than"), "{}", lines[4]);
    }

    #[test]
    fn a_line_at_the_limit_is_read() {
        let head = r#"{"v":1,"registry":{"index-url":"x"},"kind":"login","token":""#;
        let tail = "\"}\n";
        let fill = MAX_REQUEST_BYTES - head.len() - tail.len();
        let line = format!("{head}{}{tail}", "t".repeat(fill));
        assert_eq!(line.len(), MAX_REQUEST_BYTES);
        assert!(run(&line).contains(r#""kind":"get""#));
        let line = format!("{head}{}{tail}", "t".repeat(fill + 1));
        assert!(run(&line).contains("longer than"));
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
