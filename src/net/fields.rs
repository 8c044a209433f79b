//! Where a secret's value goes into a request: a bearer or Basic
//! `Authorization` header, another header, a form field, a JSON field (a
//! SigV4 signature is [`super::sigv4`]'s). The grants hand [`Token`]s to these functions and never
//! read the value themselves; the bodies built here are zeroized when
//! dropped.

use base64::Engine as _;
use reqwest::blocking::RequestBuilder;
use zeroize::Zeroizing;

use crate::secret::Token;

/// A field's value: plain text, or a secret.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// Not secret (a grant type, a client id, a scope).
    Plain(&'a str),
    /// A secret (a CI identity token, a client secret, a refresh token).
    Secret(&'a Token),
}

impl Value<'_> {
    fn text(&self) -> &str {
        match self {
            Value::Plain(text) => text,
            Value::Secret(token) => token.expose(),
        }
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form_body(fields: &[(&str, Value<'_>)]) -> Zeroizing<String> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        form.append_pair(name, value.text());
    }
    Zeroizing::new(form.finish())
}

/// `req` with `fields` as its form body.
pub fn form(req: RequestBuilder, fields: &[(&str, Value<'_>)]) -> RequestBuilder {
    let body = form_body(fields);
    req.header(
        reqwest::header::CONTENT_TYPE,
        "application/x-www-form-urlencoded",
    )
    .body(body.as_bytes().to_vec())
}

/// A flat JSON object of `fields`, as bytes.
pub fn json(fields: &[(&str, Value<'_>)]) -> Zeroizing<Vec<u8>> {
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.text().into()))
        .collect();
    Zeroizing::new(serde_json::to_vec(&object).unwrap_or_default())
}

/// `req` with `Authorization: Bearer <token>`.
pub fn bearer(req: RequestBuilder, token: &Token) -> RequestBuilder {
    req.bearer_auth(token.expose())
}

/// `req` with `Authorization: Basic base64(<user>:<secret>)`, both parts
/// form-encoded first as OAuth's client authentication asks (RFC 6749
/// §2.3.1).
pub fn client_basic(req: RequestBuilder, user: &str, secret: &Token) -> RequestBuilder {
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let pair = Zeroizing::new(format!("{}:{}", enc(user), enc(secret.expose())));
    let header = Zeroizing::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
    ));
    sensitive_header(
        req,
        reqwest::header::AUTHORIZATION.as_str(),
        header.as_str(),
    )
}

/// `req` with the header `name` set to `secret`.
pub fn header(req: RequestBuilder, name: &'static str, secret: &Token) -> RequestBuilder {
    sensitive_header(req, name, secret.expose())
}

/// `req` with the header `name` set to `value`, marked sensitive (as
/// `bearer_auth` marks its own): HTTP/2 never indexes it (HPACK), and
/// `Debug` of the request shows `Sensitive`, not the value. A value that
/// cannot be a header is left to the request builder, which fails the
/// request at send without showing it.
fn sensitive_header(req: RequestBuilder, name: &'static str, value: &str) -> RequestBuilder {
    match reqwest::header::HeaderValue::from_str(value) {
        Ok(mut value) => {
            value.set_sensitive(true);
            req.header(name, value)
        }
        Err(_) => req.header(name, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_encoded_like_plain_values() {
        let t = Token::new("a b&c=d/é".into());
        let form = form_body(&[
            ("grant_type", Value::Plain("x y")),
            ("s", Value::Secret(&t)),
        ]);
        assert_eq!(form.as_str(), "grant_type=x+y&s=a+b%26c%3Dd%2F%C3%A9");
        let json = json(&[("jwt", Value::Secret(&t)), ("slug", Value::Plain("q\""))]);
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed["jwt"], "a b&c=d/é");
        assert_eq!(parsed["slug"], "q\"");
    }

    #[test]
    fn secret_headers_are_marked_sensitive() {
        // review-16 N-c: only `bearer` marked its header.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::new();
        let t = Token::new("s3cr3t-header-value".into());
        let sent = |req: RequestBuilder, name: &str| {
            let req = req.build().unwrap();
            req.headers()[name].is_sensitive()
        };
        let get = || client.get("http://127.0.0.1:9/");
        assert!(sent(bearer(get(), &t), "authorization"));
        assert!(sent(client_basic(get(), "id", &t), "authorization"));
        assert!(sent(header(get(), "authorization", &t), "authorization"));
        assert!(sent(header(get(), "x-api-key", &t), "x-api-key"));
    }
}
