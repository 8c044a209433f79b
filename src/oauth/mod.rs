//! The OAuth protocol, below the grants that use it: an authorization
//! server's metadata ([`discovery`]), reading JWTs ([`jwt`]).

pub mod discovery;
pub mod jwt;
