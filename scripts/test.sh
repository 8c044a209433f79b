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
#      which ring's build script needs, are installed when missing) and for
#      macOS (aarch64-apple-darwin, with the Keychain store; zig from PyPI's
#      `ziglang`, in a venv in the test cache, compiles ring's C); each
#      skipped with a loud warning where its target cannot be downloaded,
#   5. runs every test, the e2e ones included (`--include-ignored`),
#   6. builds the static release binary (x86_64-unknown-linux-musl, with
#      Debian's musl-tools) and runs a smoke set of the e2e tests against it:
#      the protocol, env and keychain sources on gnome-keyring, an HTTPS
#      exchange trusting a company CA and one through a proxy, and cargo
#      login / publish / fetch with kellnr (skipped loudly where the target
#      cannot be downloaded).
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
  [musl-gcc]=musl-tools
  [readelf]=binutils
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

step "the fuzz crate's lockfile is current (cargo metadata --locked)"
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

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

step "cargo clippy for macOS (library and binary)"
# The macOS keychain code is compiled nowhere else. ring's build script needs
# a C compiler for the target: zig, from PyPI (a package registry this
# machine reaches), wrapped by scripts/zig-cc.
ZIG_VERSION=0.17.1
CCC_ZIG_VENV="$CCC_TEST_CACHE/zig"
if [ ! -f "$CCC_ZIG_VENV/.installed-$ZIG_VERSION" ]; then
  { python3 -m venv "$CCC_ZIG_VENV" && "$CCC_ZIG_VENV/bin/pip" install -q "ziglang==$ZIG_VERSION" \
      && touch "$CCC_ZIG_VENV/.installed-$ZIG_VERSION"; } >&2 || true
fi
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-apple-darwin; then
  timeout 300 rustup target add aarch64-apple-darwin >&2 || true
fi
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-apple-darwin; then
  echo "WARNING: the macOS check did NOT run: rustup could not add the aarch64-apple-darwin" \
    "target here (run \`rustup target add aarch64-apple-darwin\` where static.rust-lang.org is" \
    "reachable, then scripts/test.sh again)" >&2
elif [ ! -f "$CCC_ZIG_VENV/.installed-$ZIG_VERSION" ]; then
  echo "WARNING: the macOS check did NOT run: pip could not install ziglang==$ZIG_VERSION into" \
    "$CCC_ZIG_VENV (rerun scripts/test.sh where PyPI is reachable)" >&2
else
  CCC_ZIG_PYTHON="$CCC_ZIG_VENV/bin/python" CC_aarch64_apple_darwin="$PWD/scripts/zig-cc" \
    cargo clippy --locked --target aarch64-apple-darwin --lib --bins -- -D warnings
fi

step "cargo test (all, e2e included)"
cargo test --locked -- --include-ignored

step "static release build (x86_64-unknown-linux-musl) and its smoke tests"
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  timeout 300 rustup target add x86_64-unknown-linux-musl >&2 || true
fi
if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  cargo build --profile dist --locked --target x86_64-unknown-linux-musl
  static_dir="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/dist"
  static_bin="$(cd "$static_dir" && pwd)/cargo-credential-corp"
  readelf -l "$static_bin" >"$static_dir/program-headers.txt"
  if grep -q INTERP "$static_dir/program-headers.txt"; then
    echo "$static_bin asks for a dynamic loader: the musl build is not static" >&2
    exit 1
  fi
  CCC_TEST_PROVIDER_BIN="$static_bin" cargo test --locked --test tests -- --include-ignored \
    protocol:: \
    keychain::login_stores_get_reads_logout_removes \
    network::a_company_ca_is_refused_until_trusted_then_accepted_from_each_setting \
    network::an_authenticated_proxy_from_cargos_http_proxy_tunnels_to_the_endpoint \
    cargo_e2e::keychain_login_publish_fetch_yank_logout \
    cargo_e2e::env_token_alone_publishes_and_fetches_without_a_keychain
else
  echo "WARNING: the static build and its smoke tests did NOT run: rustup could not add the" \
    "x86_64-unknown-linux-musl target here (run \`rustup target add x86_64-unknown-linux-musl\`" \
    "where static.rust-lang.org is reachable, then scripts/test.sh again)" >&2
fi
