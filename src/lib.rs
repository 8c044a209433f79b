//! `cargo-credential-corp`: a Cargo credential provider for private registries.
//!
//! Cargo starts the binary with `--cargo-plugin` and speaks its credential
//! protocol ([`protocol`], over the [`cargo_credential`] crate's types);
//! [`provider::Provider`] answers from the configured sources.
//!
//! The wings, bottom up (no module imports one above it):
//! - ground: [`secret`] (the token type), [`redact`], [`env`] (the
//!   environment seam), [`fs`] (trusted bounded reads), [`registry`],
//!   [`protocol`], [`diag`], [`prompt`], [`hardening`];
//! - [`keychain`] (the OS keychain, with deadlines), [`cargo_files`]
//!   (Cargo's own config files, read-only), [`child`] (bounded child
//!   processes), [`trace`];
//! - [`net`] (HTTP: deadlines, size caps, no redirects, the one place a
//!   token goes into a request) and [`cache`] (the cross-run token store);
//! - [`schema`] (checks every settings table shares), [`oauth`] (token
//!   answers, discovery, JWTs) and [`mint`] (the single-flight loop);
//! - [`oidc`] (CI exchanges) and [`sso`] (developer sign-in), side by side;
//! - [`config`] (layers, validated, resolved per registry);
//! - [`source`] (one thin adapter per source), [`provider`], [`cli`].
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
pub mod schema;
pub mod secret;
pub mod source;
pub mod sso;
pub mod trace;
