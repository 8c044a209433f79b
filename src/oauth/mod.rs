//! The OAuth protocol, below the grants that use it: reading JWTs
//! ([`jwt`]).

pub mod jwt;
