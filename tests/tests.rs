//! Integration tests: one binary, modules mirror what they exercise.
//!
//! Plain `cargo test` runs the protocol and CLI tests, which need nothing but
//! the built provider. Tests that need real components (gnome-keyring on a
//! private D-Bus, the kellnr registry) are `#[ignore]`d with a reason naming
//! `scripts/test.sh`, which provisions them and runs everything with
//! `--include-ignored`; run without the components, they fail saying what to run.

#![allow(missing_docs)]

mod util;

mod bridge;
mod cache_files;
mod cache_key;
mod cargo_e2e;
mod ci_identities;
mod cli;
mod codeartifact;
mod discovery_cache;
mod discovery_e2e;
mod dist;
mod doctor;
mod hostile;
mod identity_command;
mod keychain;
mod load;
mod migrate;
mod network;
mod oidc_e2e;
mod properties;
mod protocol;
mod routing;
mod setup;
mod sso_e2e;
mod tracing;
mod trusted_publishing;
mod workload_identity;
