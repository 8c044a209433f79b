#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one:
#   1. installs the Debian packages the tests use (when root): gnome-keyring,
#      libsecret-tools, dbus, tinyproxy, openssl (the tests' company CA),
#      `script`/`setsid` (the SSO sign-ins run on a pseudo-terminal),
#      minisign, zip and unzip (the release archives and install.sh, in
#      tests/dist.rs), apache2 with libapache2-mod-auth-openidc (the
#      token-verifying proxy that advertises its IdP, RFC 9728), and nodejs
#      when Node.js is missing,
#   2. installs the test IdP's npm packages (npm ci, from the committed lockfile),
#   3. makes a Python venv with moto and botocore (tests/aws/requirements.txt)
#      and builds the kellnr registry once per machine (both cached outside the repo),
#   4. checks formatting and clippy, and clippy again for Windows
#      (x86_64-pc-windows-gnu: the library and the binary, with the
#      Credential Manager store; rustup's target and Debian's MinGW gcc,
#      which ring's build script needs, are installed when missing; skipped
#      with a warning where the target cannot be downloaded),
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
  [x86_64-w64-mingw32-gcc]=gcc-mingw-w64-x86-64-posix
  [minisign]=minisign
  [zip]=zip
  [unzip]=unzip
)
missing=()
for program in "${!packages[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${packages[$program]}")
done
# file -> Debian package (not programs on PATH)
declare -A files=(
  [/usr/sbin/apache2]=apache2
  [/usr/lib/apache2/modules/mod_auth_openidc.so]=libapache2-mod-auth-openidc
)
for file in "${!files[@]}"; do
  [ -e "$file" ] || missing+=("${files[$file]}")
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

step "AWS stand-ins (moto, botocore in a venv)"
CCC_TEST_CACHE="${CCC_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cargo-credential-corp-tests}"
CCC_AWS_VENV="$CCC_TEST_CACHE/venv"
command -v python3 >/dev/null 2>&1 || { echo "python3 (with venv) is needed for the AWS stand-ins" >&2; exit 1; }
if [ ! -x "$CCC_AWS_VENV/bin/python" ] || [ tests/aws/requirements.txt -nt "$CCC_AWS_VENV/.installed" ]; then
  python3 -m venv "$CCC_AWS_VENV" >&2
  "$CCC_AWS_VENV/bin/pip" install -q -r tests/aws/requirements.txt >&2
  touch "$CCC_AWS_VENV/.installed"
else
  echo "present" >&2
fi
export CCC_AWS_VENV

step "kellnr registry"
KELLNR_BIN="$(scripts/provision-kellnr.sh)"
export KELLNR_BIN
echo "$KELLNR_BIN" >&2

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

step "cargo clippy for Windows (library and binary)"
# The tests are Unix-only (they drive gnome-keyring, ptys, Unix sockets);
# this checks that the Windows build compiles, warning-free.
# The target's standard library comes from static.rust-lang.org, which a
# machine may not reach (it is not a package registry): then this check is
# skipped with a warning that says so, and everything else still runs. Once
# the target is there, the check is strict.
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
  timeout 300 rustup target add x86_64-pc-windows-gnu >&2 || true
fi
if rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
  cargo clippy --locked --target x86_64-pc-windows-gnu --lib --bins -- -D warnings
else
  echo "WARNING: the Windows check did NOT run: rustup could not add the x86_64-pc-windows-gnu" \
    "target here (run \`rustup target add x86_64-pc-windows-gnu\` where static.rust-lang.org is" \
    "reachable, then scripts/test.sh again)" >&2
fi

step "cargo test (all, e2e included)"
cargo test --locked -- --include-ignored
