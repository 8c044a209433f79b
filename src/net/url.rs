//! Which URLs the provider calls, and how they are shown: `https`, or plain
//! `http` to loopback only; a proxy only for `https` that is not loopback;
//! in messages, no query and no user info.

use std::net::IpAddr;

use anyhow::{Context as _, bail};
use reqwest::Url;

/// Which client a URL is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// `https`, not loopback: through the configured proxy.
    Proxied,
    /// `https` to loopback: direct.
    Direct,
    /// Plain `http` (loopback): direct, no TLS.
    Plain,
}

/// Which client `url` is sent with.
pub(super) fn route(url: &Url) -> Route {
    if url.scheme() != "https" {
        Route::Plain
    } else if is_loopback(url) {
        Route::Direct
    } else {
        Route::Proxied
    }
}

/// `url` parsed and checked: `https`, or `http` to a loopback host.
pub fn checked_url(url: &str) -> anyhow::Result<Url> {
    let parsed =
        Url::parse(url).with_context(|| format!("`{}` is not a valid URL", display_str(url)))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => bail!(
            "{} uses plain http; identity endpoints must use https (only loopback addresses may \
             use http)",
            display_url(&parsed)
        ),
        other => bail!("{} has scheme `{other}`; use https", display_url(&parsed)),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        bail!(
            "{} holds credentials in the URL; configure them separately",
            display_url(&parsed)
        );
    }
    Ok(parsed)
}

/// Whether `url`'s host is a loopback address (or `localhost`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A URL for messages: scheme, host, port and path; no query (it may carry
/// parameters a CI system considers private), no user info.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

pub(super) fn display_str(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => display_url(&u),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_or_loopback_only() {
        assert!(checked_url("https://idp.example/token").is_ok());
        assert!(checked_url("http://127.0.0.1:9/token").is_ok());
        assert!(checked_url("http://127.8.0.1/token").is_ok());
        assert!(checked_url("http://[::1]:9/token").is_ok());
        assert!(checked_url("http://localhost:9/token").is_ok());
        let msg = checked_url("http://idp.example/token")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("plain http") && msg.contains("idp.example"),
            "{msg}"
        );
        assert!(checked_url("http://10.0.0.1/token").is_err());
        assert!(checked_url("ftp://idp.example/").is_err());
        assert!(checked_url("https://user:pw@idp.example/").is_err());
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn only_https_to_non_loopback_hosts_may_use_a_proxy() {
        let proxied = |u: &str| route(&Url::parse(u).unwrap()) == Route::Proxied;
        assert!(proxied("https://idp.example/token"));
        assert!(proxied("https://10.0.0.1/token"));
        for direct in [
            "http://127.0.0.1:9/token",
            "http://localhost:9/token",
            "http://[::1]:9/token",
            "https://127.0.0.1:9/token",
            "https://LOCALHOST/token",
            "https://[::1]/token",
        ] {
            assert!(!proxied(direct), "{direct}");
        }
    }

    #[test]
    fn international_domain_names_are_sent_in_their_ascii_form() {
        // url's IDNA tables (idna_adapter, pinned in Cargo.toml): a Unicode
        // host becomes its punycode, mapped and normalised; one that is
        // not a valid name is refused. Cargo hands the index URL over in
        // this form too.
        let host = |u: &str| checked_url(u).unwrap().host_str().unwrap().to_owned();
        assert_eq!(host("https://bücher.example/t"), "xn--bcher-kva.example");
        assert_eq!(host("https://BÜCHER.example/t"), "xn--bcher-kva.example");
        assert_eq!(host("https://ｉｄｐ.example/t"), "idp.example");
        assert_eq!(
            host("https://xn--bcher-kva.example/t"),
            "xn--bcher-kva.example"
        );
        assert_eq!(host("https://straße.example/t"), "xn--strae-oqa.example");
        assert!(checked_url("https://xn--a.example/t").is_err());
    }
}
