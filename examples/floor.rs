//! The floor for any Cargo credential provider, used by `scripts/bench.sh`:
//! the least a provider built on the `cargo-credential` crate can do. It
//! answers every `get` with a constant token (and nothing else), through the
//! crate's own `main` loop, so the time of one process answering one request
//! is process start-up, the hello, one JSON request and one JSON reply.
//! With `BENCH_FLOOR_TOKEN` set it answers that instead (one `getenv`), so
//! that the bench can put it in front of a real registry too.
//!
//! `cargo build --release --locked --example floor` (the crate's pinned
//! `cargo-credential` and lockfile); never use it as a real provider.

use cargo_credential::{
    Action, CacheControl, Credential, CredentialResponse, Error, RegistryInfo, Secret,
};

/// Answers every `get` with the same token.
struct Floor;

impl Credential for Floor {
    fn perform(
        &self,
        _registry: &RegistryInfo<'_>,
        action: &Action<'_>,
        _args: &[&str],
    ) -> Result<CredentialResponse, Error> {
        match action {
            Action::Get(_) => Ok(CredentialResponse::Get {
                token: Secret::from(
                    std::env::var("BENCH_FLOOR_TOKEN")
                        .unwrap_or_else(|_| "bench-floor-token".to_owned()),
                ),
                cache: CacheControl::Session,
                operation_independent: true,
            }),
            _ => Err(Error::OperationNotSupported),
        }
    }
}

fn main() {
    cargo_credential::main(Floor);
}
