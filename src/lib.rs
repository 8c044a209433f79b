//! `cargo-credential-corp`: a Cargo credential provider for private registries.
//!
//! Cargo starts the binary with `--cargo-plugin` and speaks its credential
//! protocol ([`protocol`], over the [`cargo_credential`] crate's types); [`provider::Provider`]
//! answers from the configured sources: environment variables
//! ([`source::env`]), the OS keychain ([`keychain`]) and a short-lived token
//! exchange with a corporate OIDC endpoint ([`oidc`], cached across runs by
//! [`cache`]).
//!
//! The crate is a library too so that its parts can be tested in isolation;
//! its API is not stable.

pub mod cache;
pub mod cargo_files;
pub mod child;
pub mod cli;
pub mod config;
pub mod diag;
pub mod env;
pub mod fs;
pub mod hardening;
pub mod keychain;
pub mod mint;
pub mod net;
pub mod oauth;
pub mod oidc;
pub mod prompt;
pub mod protocol;
pub mod provider;
pub mod redact;
pub mod registry;
pub mod secret;
pub mod source;
pub mod trace;
