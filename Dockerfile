# syntax=docker/dockerfile:1
# An image that holds only the static (musl) cargo-credential-corp binary,
# at /cargo-credential-corp, and the CA certificates it needs to run on its
# own. Meant to be copied into other images:
#
#   COPY --from=cargo-credential-corp:0.1.0 /cargo-credential-corp /usr/local/bin/
#
# Build: docker build -t cargo-credential-corp:0.1.0 .
# (docs/install.md; docs/bridge.md shows it in a BuildKit build that fetches
# from a private registry with a short-lived token.)

# Alpine's Rust builds for musl natively: the result is a static binary.
FROM rust:1-alpine AS build
# ring's C and assembly need a C compiler and musl's headers.
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked \
 && cp target/dist/cargo-credential-corp /cargo-credential-corp \
 && /cargo-credential-corp --version

# Nothing but the binary, the CA bundle (for the OIDC exchanges when the
# image is run by itself) and an unprivileged user.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /cargo-credential-corp /cargo-credential-corp
USER 65532:65532
ENTRYPOINT ["/cargo-credential-corp"]
