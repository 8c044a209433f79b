//! Asking a person for a token on the terminal, never on Cargo's pipe.
//!
//! Cargo reads a piped token itself and sends it in the login request; the
//! provider prompts only when Cargo had a terminal and no token. The prompt
//! goes to the terminal directly: stdin/stdout belong to the protocol.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};

use anyhow::Context as _;
use zeroize::Zeroizing;

#[cfg(unix)]
const TERMINAL: (&str, &str) = ("/dev/tty", "/dev/tty");
#[cfg(windows)]
const TERMINAL: (&str, &str) = ("CONIN$", "CONOUT$");

/// Shows `message` on the terminal and reads one line back.
pub fn read_token(message: &str) -> anyhow::Result<Zeroizing<String>> {
    let (input, output) = TERMINAL;
    let open = || -> std::io::Result<(File, File)> {
        Ok((
            File::open(input)?,
            std::fs::OpenOptions::new().write(true).open(output)?,
        ))
    };
    let (input, mut output) = open().context(
        "no token was given and there is no terminal to ask on; pipe it in: \
         `echo \"$TOKEN\" | cargo login --registry NAME`",
    )?;
    write!(output, "{message}: ")?;
    output.flush()?;
    let mut line = Zeroizing::new(String::new());
    BufReader::new(input).read_line(&mut line)?;
    Ok(line)
}
