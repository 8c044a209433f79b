//! The one reader of JWTs (JWS compact: `header.claims.signature`), for the
//! places that look inside a token without verifying it: how long an access
//! token lives (`exp`), whom a CI ID token is for (`aud`), what stays the
//! same across a job's ID tokens (the cache key).
//!
//! Nothing read here is trusted: the signature is never checked. A claim
//! is used only to decide when to stop using a token, or to refuse to send
//! one, never to grant anything. A part that is not base64url JSON, or a
//! JSON object that names a key twice (where two readers could disagree
//! on which one counts), reads as no JWT at all.

use std::fmt;

use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::secret::Token;

/// A JSON object in which no key appears twice.
#[derive(Debug, Clone, PartialEq)]
pub struct Object(pub Map<String, Value>);

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Object, D::Error> {
        struct Strict;
        impl<'de> Visitor<'de> for Strict {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object without duplicate keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Object, A::Error> {
                let mut map = Map::new();
                while let Some((key, value)) = access.next_entry::<String, Value>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format_args!(
                            "the key `{key}` appears twice"
                        )));
                    }
                    map.insert(key, value);
                }
                Ok(Object(map))
            }
        }
        deserializer.deserialize_map(Strict)
    }
}

/// The claims of `token` (its second part), read without verifying
/// anything; `None` when that part is not base64url (padded or not) of a
/// JSON object without duplicate keys.
pub fn claims(token: &str) -> Option<Object> {
    part(token.split('.').nth(1)?)
}

/// The header and the claims of `token`, when it has exactly three parts
/// and both are JSON objects (see [`claims`]).
pub fn header_and_claims(token: &str) -> Option<(Object, Object)> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    Some((part(header)?, part(claims)?))
}

/// [`claims`] of a token held as a secret.
pub fn claims_of(token: &Token) -> Option<Object> {
    claims(token.expose())
}

/// [`header_and_claims`] of a token held as a secret.
pub fn header_and_claims_of(token: &Token) -> Option<(Object, Object)> {
    header_and_claims(token.expose())
}

fn part(text: &str) -> Option<Object> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Object {
    /// `exp` (or any integer claim `name`), when it is an integer.
    pub fn integer(&self, name: &str) -> Option<i64> {
        self.0.get(name)?.as_i64()
    }

    /// A string claim.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.as_str()
    }

    /// `aud`: one string or an array of strings. Empty when there is none;
    /// `None` when it is anything else (unreadable).
    pub fn audiences(&self) -> Option<Vec<String>> {
        match self.0.get("aud") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::String(one)) => Some(vec![one.clone()]),
            Some(Value::Array(many)) => {
                many.iter().map(|v| v.as_str().map(str::to_owned)).collect()
            }
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn claims_are_read_from_the_second_part_padded_or_not() {
        let t = format!("{}.{}.sig", b64(r#"{"alg":"none"}"#), b64(r#"{"exp":5}"#));
        assert_eq!(claims(&t).unwrap().integer("exp"), Some(5));
        let padded = format!(
            "h.{}",
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"exp":77}"#)
        );
        assert_eq!(claims(&padded).unwrap().integer("exp"), Some(77));
        assert!(claims("no-dots").is_none());
        assert!(claims("h.%%%.s").is_none());
        assert!(claims(&format!("h.{}.s", b64("[1]"))).is_none());
        assert!(header_and_claims(&format!("h.{}.s", b64("{}"))).is_none());
        assert!(header_and_claims(&format!("{}.{}.s.x", b64("{}"), b64("{}"))).is_none());
    }

    #[test]
    fn a_claim_named_twice_makes_the_token_unreadable() {
        let t = format!("h.{}.s", b64(r#"{"aud":"x","aud":"crates.io"}"#));
        assert!(claims(&t).is_none());
        let t = format!("h.{}.s", b64(r#"{"aud":"x","sub":{"a":1,"a":2}}"#));
        assert!(claims(&t).is_some(), "only the top level is strict");
    }

    #[test]
    fn audiences_are_one_string_or_an_array_of_strings() {
        let aud = |c: &str| claims(&format!("h.{}.s", b64(c))).unwrap().audiences();
        assert_eq!(aud(r#"{"aud":"a"}"#), Some(vec!["a".to_owned()]));
        assert_eq!(
            aud(r#"{"aud":["a","b"]}"#),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(aud("{}"), Some(vec![]));
        assert_eq!(aud(r#"{"aud":null}"#), Some(vec![]));
        assert_eq!(aud(r#"{"aud":["a",1]}"#), None);
        assert_eq!(aud(r#"{"aud":7}"#), None);
    }
}
