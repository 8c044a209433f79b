//! Transport: every HTTP call of the provider (identity endpoints, CI
//! systems' token services, metadata servers) goes through [`http::Http`],
//! with one deadline per call, a size cap, no redirects, HTTPS except to
//! loopback, and the proxy and trust settings Cargo would use
//! ([`network`], [`tls`]). Nothing here knows of grants or registries.

mod failure;
pub mod fields;
pub mod http;
pub mod network;
pub mod sigv4;
pub(crate) mod tls;
pub mod url;

pub use failure::NoAnswer;
