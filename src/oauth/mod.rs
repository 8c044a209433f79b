//! The OAuth protocol, below the grants that use it: an authorization
//! server's metadata ([`discovery`]), a token endpoint's answers and errors
//! ([`token`]), reading JWTs ([`jwt`]).

pub mod discovery;
pub mod jwt;
pub mod token;
