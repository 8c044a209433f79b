//! The OAuth protocol, below the grants that use it: an authorization
//! server's metadata ([`discovery`]), a token endpoint's answers and errors
//! ([`token`]), reading JWTs ([`jwt`]); what a registry says of its
//! authorization server ([`challenge`], [`resource`]) and registering a
//! client with it ([`registration`]).

pub mod challenge;
pub mod discovery;
pub mod jwt;
pub mod registration;
pub mod resource;
#[cfg(test)]
pub(crate) mod test_server;
pub mod token;
