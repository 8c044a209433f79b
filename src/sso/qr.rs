//! A QR code of the verification URL on the terminal, for signing in from
//! a phone: drawn with half-block characters, only when standard error is a
//! terminal wide enough for it.

use std::io::IsTerminal as _;

/// The code as text, or `None` when it would not fit or not be seen.
pub fn render(url: &str) -> Option<String> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let text = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .quiet_zone(true)
        .build();
    let width = text.lines().map(|l| l.chars().count()).max()?;
    (width <= columns()?).then_some(text)
}

#[cfg(unix)]
fn columns() -> Option<usize> {
    let size = rustix::termios::tcgetwinsize(std::io::stderr()).ok()?;
    (size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(not(unix))]
fn columns() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_code_is_drawn_with_half_blocks() {
        let code = qrcode::QrCode::new(b"https://idp.example/device?user_code=ABCD-EFGH").unwrap();
        let text = code
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        assert!(text.lines().count() > 10);
        assert!(text.contains('▀') || text.contains('▄') || text.contains('█'));
    }
}
