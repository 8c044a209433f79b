#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one:
#   1. installs the Debian packages the tests use (when root): gnome-keyring,
#      libsecret-tools, dbus, tinyproxy, openssl (the tests' company CA),
#      `script`/`setsid` (the SSO sign-ins run on a pseudo-terminal), and
#      nodejs when Node.js is missing,
#   2. installs the test IdP's npm packages (npm ci, from the committed lockfile),
#   3. builds the kellnr registry once per machine (cached outside the repo),
#   4. checks formatting and clippy,
#   5. runs every test, the e2e ones included (`--include-ignored`).
# Plain `cargo test` runs only the tests that need nothing installed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "system packages"
# program -> Debian package
declare -A packages=(
  [gnome-keyring-daemon]=gnome-keyring
  [secret-tool]=libsecret-tools
  [dbus-daemon]=dbus-daemon
  [dbus-send]=dbus-bin
  [node]=nodejs
  [tinyproxy]=tinyproxy
  [openssl]=openssl
  [script]=bsdutils
  [setsid]=util-linux
)
missing=()
for program in "${!packages[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${packages[$program]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "missing packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]}) and rerun" >&2
    exit 1
  fi
else
  echo "present" >&2
fi

step "test IdP (npm ci in tests/idp)"
command -v npm >/dev/null 2>&1 || { echo "npm is needed for the test IdP; install Node.js with npm and rerun" >&2; exit 1; }
if [ ! -d tests/idp/node_modules/oidc-provider ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules/.package-lock.json ]; then
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error) >&2
else
  echo "present" >&2
fi

step "kellnr registry"
KELLNR_BIN="$(scripts/provision-kellnr.sh)"
export KELLNR_BIN
echo "$KELLNR_BIN" >&2

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test (all, e2e included)"
cargo test --locked -- --include-ignored
