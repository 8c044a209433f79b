#!/bin/sh
# Installs a pinned release of cargo-credential-corp, for CI jobs and
# machines without a Rust toolchain: downloads the archive for this platform,
# checks its SHA-256 and its minisign signature against the release key below,
# unpacks it in a temporary folder and moves the binary into place in one
# rename. Any refusal leaves nothing installed.
#
#   sh install.sh [OPTIONS] [--setup [SETUP-ARGS...]]
#
# Options (each also read from the environment variable shown):
#   --version X.Y.Z      the release to install ($CCC_VERSION; default below)
#   --to DIR             where the binary goes ($CCC_INSTALL_DIR;
#                        default ${CARGO_HOME:-$HOME/.cargo}/bin)
#   --base-url URL       the folder holding the release's archives, for a
#                        mirror ($CCC_BASE_URL; default the GitHub release)
#   --target TRIPLE      the Rust target to install (default: this machine's)
#   --pubkey KEY         the minisign public key to trust ($CCC_PUBKEY;
#                        default: the release key below)
#   --pubkey-file FILE   the same, read from a minisign .pub file
#   --verify-with TOOL   auto (default), minisign or openssl
#   --timeout SECONDS    the longest one download may take (default 120)
#   --insecure-skip-signature-check
#                        install without checking the signature when neither
#                        minisign nor OpenSSL >= 1.1.1 is available (the
#                        SHA-256 is still checked, but it comes from the same
#                        server as the archive)
#   --setup [ARGS...]    then run `cargo-credential-corp setup ARGS...`
#                        (e.g. `--setup --registry corp --index sparse+https://...`);
#                        every argument after it goes to `setup`
#
# POSIX sh; needs curl or wget, tar and gzip (unzip for Windows), and
# minisign or OpenSSL >= 1.1.1 to check the signature.
set -eu

NAME=cargo-credential-corp
# The crate's version this script installs by default (Cargo.toml's).
DEFAULT_VERSION=0.1.0
# Where releases are published (Cargo.toml's `repository`).
REPOSITORY=https://github.com/cargo-credential-corp/cargo-credential-corp
# The release signing key: the key line of minisign.pub.
RELEASE_PUBKEY=RWSQMmPHmlSyYYHAI6LdGg4xl8GWa6QKya7RDdO2a85ogPLFNqy8OVtR
# The targets releases are built for (.github/workflows/release.yml).
TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc"

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}
# A refusal: what was wrong, and that nothing was installed.
refuse() {
  printf 'install.sh: REFUSED: %s\n' "$*" >&2
  printf 'install.sh: nothing was installed.\n' >&2
  exit 1
}

usage() {
  sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//'
}

version=${CCC_VERSION:-$DEFAULT_VERSION}
dest=${CCC_INSTALL_DIR:-${CARGO_HOME:-${HOME:-}/.cargo}/bin}
base_url=${CCC_BASE_URL:-}
target=""
pubkey=${CCC_PUBKEY:-$RELEASE_PUBKEY}
verify_with=auto
timeout=120
skip_signature=0
run_setup=0

need_value() {
  [ $# -ge 2 ] || die "$1 needs a value (see --help)"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --version) need_value "$@"; version=$2; shift 2 ;;
    --to) need_value "$@"; dest=$2; shift 2 ;;
    --base-url) need_value "$@"; base_url=$2; shift 2 ;;
    --target) need_value "$@"; target=$2; shift 2 ;;
    --pubkey) need_value "$@"; pubkey=$2; shift 2 ;;
    --pubkey-file)
      need_value "$@"
      [ -f "$2" ] || die "no public key file at $2"
      pubkey=$(grep -v '^untrusted comment:' "$2" | grep -v '^[[:space:]]*$' | tail -n 1)
      shift 2 ;;
    --verify-with) need_value "$@"; verify_with=$2; shift 2 ;;
    --timeout) need_value "$@"; timeout=$2; shift 2 ;;
    --insecure-skip-signature-check) skip_signature=1; shift ;;
    --setup) run_setup=1; shift; break ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

case "$version" in
  v*) version=${version#v} ;;
esac
case "$version" in
  "" | *[!0-9A-Za-z.+-]*) die "--version: not a version: $version" ;;
esac
case "$timeout" in
  "" | *[!0-9]*) die "--timeout: not a number of seconds: $timeout" ;;
esac
case "$verify_with" in
  auto | minisign | openssl) ;;
  *) die "--verify-with: auto, minisign or openssl, not $verify_with" ;;
esac
[ -n "$dest" ] || die "no install folder: set --to DIR (HOME is not set)"
[ -n "$base_url" ] || base_url="$REPOSITORY/releases/download/v$version"
base_url=${base_url%/}

# Plain HTTP only to this machine (a local mirror or a test); anything else
# over HTTPS.
case "$base_url" in
  https://*) ;;
  http://127.* | http://localhost[:/]* | http://localhost | http://\[::1\]*) ;;
  *) die "--base-url must be an https:// URL (plain http only to 127.0.0.1 or localhost): $base_url" ;;
esac

# --- the platform
host_target() {
  os=$(uname -s 2>/dev/null || echo unknown)
  arch=$(uname -m 2>/dev/null || echo unknown)
  case "$arch" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
  esac
  case "$os/$arch" in
    Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/aarch64) echo aarch64-unknown-linux-musl ;;
    Darwin/x86_64) echo x86_64-apple-darwin ;;
    Darwin/aarch64) echo aarch64-apple-darwin ;;
    MINGW*/x86_64 | MSYS*/x86_64 | CYGWIN*/x86_64 | Windows_NT/x86_64) echo x86_64-pc-windows-msvc ;;
    *) echo "unknown:$os/$arch" ;;
  esac
}

host=$(host_target)
if [ -z "$target" ]; then
  case "$host" in
    unknown:*)
      refuse "no release binary for this platform (${host#unknown:}); releases exist for:" \
        "$TARGETS. Build from source instead: cargo install --locked $NAME" ;;
  esac
  target=$host
fi
case " $TARGETS " in
  *" $target "*) ;;
  *) refuse "no release binary for the target $target; releases exist for: $TARGETS" ;;
esac

exe=""
ext=tar.gz
case "$target" in
  *-windows-*) exe=.exe ext=zip ;;
esac
stem="$NAME-$target-v$version"
archive="$stem.$ext"

# --- tools
fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --proto '=https,http' --proto-redir '=https' \
      --connect-timeout 15 --max-time "$timeout" --retry 2 --output "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    if command -v timeout >/dev/null 2>&1; then
      timeout "$timeout" wget -q -T 15 -O "$2" "$1"
    else
      wget -q -T 15 -O "$2" "$1"
    fi
  else
    die "neither curl nor wget is installed: install one of them"
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else
    die "no SHA-256 tool (sha256sum, shasum or openssl) is installed"
  fi
}

# Whether `openssl` is OpenSSL 1.1.1 or later (Ed25519 with -rawin, BLAKE2b).
openssl_usable() {
  command -v openssl >/dev/null 2>&1 || return 1
  v=$(openssl version 2>/dev/null) || return 1
  case "$v" in
    "OpenSSL 1.1.1"* | "OpenSSL "[3-9].* | "OpenSSL "[1-9][0-9].*) return 0 ;;
    *) return 1 ;;
  esac
}

hex() { od -An -v -tx1 | tr -d ' \n'; }

# Checks a minisign signature with OpenSSL: the Ed25519 signature of the file
# (legacy "Ed") or of its BLAKE2b-512 hash (prehashed "ED"), then the global
# signature over that signature and the trusted comment.
verify_openssl() { # FILE SIGFILE
  file=$1 sigfile=$2 w=$tmp/openssl
  mkdir "$w"
  printf '%s' "$pubkey" | openssl base64 -d -A >"$w/pk" 2>/dev/null || true
  if [ "$(wc -c <"$w/pk" | tr -d ' ')" != 42 ] || [ "$(dd if="$w/pk" bs=1 count=2 2>/dev/null)" != Ed ]; then
    die "the public key is not a minisign Ed25519 key: $pubkey"
  fi
  [ "$(sed -n 1p "$sigfile" | cut -c1-18)" = "untrusted comment:" ] ||
    refuse "$archive.sig is not a minisign signature"
  sed -n 2p "$sigfile" | openssl base64 -d -A >"$w/sig" 2>/dev/null || true
  sed -n 4p "$sigfile" | openssl base64 -d -A >"$w/global" 2>/dev/null || true
  if [ "$(wc -c <"$w/sig" | tr -d ' ')" != 74 ] || [ "$(wc -c <"$w/global" | tr -d ' ')" != 64 ]; then
    refuse "$archive.sig is not a minisign signature"
  fi
  [ "$(dd if="$w/pk" bs=1 skip=2 count=8 2>/dev/null | hex)" = \
    "$(dd if="$w/sig" bs=1 skip=2 count=8 2>/dev/null | hex)" ] ||
    refuse "$archive.sig was made with another key than the one trusted (key id)"
  # SubjectPublicKeyInfo of an Ed25519 key: a fixed 12-byte prefix, then the key.
  { printf '\060\052\060\005\006\003\053\145\160\003\041\000'
    dd if="$w/pk" bs=1 skip=10 count=32 2>/dev/null; } >"$w/pub.der"
  dd if="$w/sig" of="$w/ed" bs=1 skip=10 count=64 2>/dev/null
  case "$(dd if="$w/sig" bs=1 count=2 2>/dev/null)" in
    ED) openssl dgst -blake2b512 -binary "$file" >"$w/message" ;;
    Ed) cp "$file" "$w/message" ;;
    *) refuse "$archive.sig uses a signature algorithm this script does not know" ;;
  esac
  openssl pkeyutl -verify -pubin -inkey "$w/pub.der" -keyform DER -rawin \
    -in "$w/message" -sigfile "$w/ed" >/dev/null 2>&1 ||
    refuse "the signature of $archive does not match: the archive was altered, or not signed with the release key"
  comment=$(sed -n 3p "$sigfile")
  case "$comment" in
    "trusted comment: "*) comment=${comment#trusted comment: } ;;
    *) refuse "$archive.sig has no trusted comment" ;;
  esac
  { cat "$w/ed"; printf '%s' "$comment"; } >"$w/global-message"
  openssl pkeyutl -verify -pubin -inkey "$w/pub.der" -keyform DER -rawin \
    -in "$w/global-message" -sigfile "$w/global" >/dev/null 2>&1 ||
    refuse "the trusted comment of $archive.sig was altered"
}

verify_minisign() { # FILE SIGFILE
  minisign -V -q -P "$pubkey" -m "$1" -x "$2" >/dev/null 2>&1 ||
    refuse "the signature of $archive does not match: the archive was altered, or not signed with the release key"
}

# --- download, check, unpack, install
tmp=$(mktemp -d 2>/dev/null || mktemp -d -t ccc-install)
staged=""
cleanup() {
  [ -z "$staged" ] || rm -f "$staged"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "installing $NAME $version for $target from $base_url"
for f in "$archive" "$archive.sha256" "$archive.sig"; do
  fetch "$base_url/$f" "$tmp/$f" || refuse "could not download $base_url/$f"
done

line=$(sed -n 1p "$tmp/$archive.sha256")
expected=$(printf '%s' "$line" | cut -d' ' -f1 | tr 'A-F' 'a-f')
case "$line" in
  *" "*) named=$(printf '%s' "$line" | sed 's/^[^ ]* [ *]*//') ;;
  *) named="" ;;
esac
case "$expected" in
  *[!0-9a-f]* | "") refuse "$archive.sha256 holds no SHA-256" ;;
esac
[ "${#expected}" = 64 ] || refuse "$archive.sha256 holds no SHA-256"
[ -z "$named" ] || [ "$named" = "$archive" ] || refuse "$archive.sha256 is for another file ($named)"
actual=$(sha256_of "$tmp/$archive")
[ "$actual" = "$expected" ] ||
  refuse "the SHA-256 of $archive is $actual, but $archive.sha256 says $expected"

if [ "$verify_with" = auto ]; then
  if command -v minisign >/dev/null 2>&1; then
    verify_with=minisign
  elif openssl_usable; then
    verify_with=openssl
  else
    verify_with=none
  fi
fi
case "$verify_with" in
  minisign)
    command -v minisign >/dev/null 2>&1 || die "--verify-with minisign: minisign is not installed"
    verify_minisign "$tmp/$archive" "$tmp/$archive.sig" ;;
  openssl)
    openssl_usable || die "--verify-with openssl: no OpenSSL 1.1.1 or later here"
    verify_openssl "$tmp/$archive" "$tmp/$archive.sig" ;;
  none)
    if [ "$skip_signature" = 1 ]; then
      say "WARNING: THE SIGNATURE OF $archive WAS NOT CHECKED (--insecure-skip-signature-check):"
      say "WARNING: neither minisign nor OpenSSL >= 1.1.1 is installed; only the SHA-256 was checked."
    else
      refuse "cannot check the signature of $archive: neither minisign nor OpenSSL >= 1.1.1 is" \
        "installed. Install one (Debian/Ubuntu: apt-get install minisign; Alpine: apk add minisign)," \
        "or pass --insecure-skip-signature-check to install without it"
    fi ;;
esac
if [ "$verify_with" != none ]; then
  # The signed trusted comment names the archive: a signed archive of another
  # version or platform, renamed, is refused.
  comment=$(sed -n 3p "$tmp/$archive.sig")
  comment=${comment#trusted comment: }
  case " $(printf '%s' "$comment" | tr '\t' ' ') " in
    *" file:$archive "*) ;;
    *) refuse "$archive.sig is a valid signature of another file ($comment)" ;;
  esac
  say "signature checked ($verify_with): $comment"
fi

mkdir "$tmp/unpacked"
if [ "$ext" = zip ]; then
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$tmp/$archive" -d "$tmp/unpacked" || refuse "cannot unpack $archive"
  else
    tar -xf "$tmp/$archive" -C "$tmp/unpacked" || refuse "cannot unpack $archive"
  fi
else
  gzip -dc "$tmp/$archive" | tar -xf - -C "$tmp/unpacked" || refuse "cannot unpack $archive"
fi
binary="$tmp/unpacked/$stem/$NAME$exe"
if [ ! -f "$binary" ] || [ -L "$binary" ]; then
  refuse "$archive holds no $stem/$NAME$exe"
fi
chmod 755 "$binary"
if [ "$target" = "$host" ]; then
  "$binary" --version >/dev/null 2>&1 || refuse "the unpacked $NAME$exe does not run on this machine"
fi

mkdir -p "$dest" || die "cannot create $dest"
# Staged next to its final name (the same file system), then renamed over
# it: a reader sees the old binary or the new one, never half of one.
staged="$dest/.$NAME$exe.$$.new"
cp "$binary" "$staged" || die "cannot write into $dest"
chmod 755 "$staged"
mv -f "$staged" "$dest/$NAME$exe" || die "cannot move the binary into $dest"
staged=""
say "installed $dest/$NAME$exe ($NAME $version, $target)"

case ":${PATH:-}:" in
  *":$dest:"*) ;;
  *) say "note: $dest is not on PATH; add it (e.g. export PATH=\"$dest:\$PATH\")" ;;
esac

if [ "$run_setup" = 1 ]; then
  "$dest/$NAME$exe" setup "$@"
fi
