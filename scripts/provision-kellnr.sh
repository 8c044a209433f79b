#!/usr/bin/env bash
# Build (once per machine) the kellnr registry used by the e2e tests, into a cache
# folder outside the repository keyed by version. Prints the binary's path.
#
#   scripts/provision-kellnr.sh            # build if missing, print path
#
# Cache root: $CCC_TEST_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/cargo-credential-corp-tests.
set -euo pipefail

version="${KELLNR_VERSION:-6.13.0}"
cache="${CCC_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cargo-credential-corp-tests}"
root="$cache/kellnr-$version"
bin="$root/bin/kellnr"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
# One build at a time per machine, even if two test runs start together.
exec 9>"$cache/kellnr-$version.lock"
flock 9
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

echo "provision-kellnr: building kellnr $version into $root (first run on this machine: ~30 min on 2 cores)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# `cargo info` downloads and unpacks the published crate into the registry cache
# without naming any host; copy it out so the lockfile edit stays private.
(cd "$work" && cargo info "kellnr@$version" >/dev/null)
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
src="$(ls -d "$cargo_home"/registry/src/*/"kellnr-$version" | head -n 1)"
[ -d "$src" ] || { echo "provision-kellnr: kellnr-$version source not found under $cargo_home/registry/src" >&2; exit 1; }
cp -r "$src" "$work/kellnr"
cd "$work/kellnr"
# The published lockfile pins a webpki-roots version the registry here does not carry.
if grep -q 'name = "webpki-roots"' Cargo.lock && grep -A1 'name = "webpki-roots"' Cargo.lock | grep -q '"1.0.11"'; then
  cargo update -p webpki-roots@1.0.11 --precise 1.0.10 >&2
fi
CARGO_TARGET_DIR="$work/target" cargo install --path . --locked --root "$root.partial" >&2
rm -rf "$root"
mv "$root.partial" "$root"
echo "$bin"
