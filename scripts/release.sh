#!/bin/sh
# The release archives, in one place for the release workflow
# (.github/workflows/release.yml) and the tests (tests/dist.rs), so that the
# names cargo-binstall, scripts/install.sh and action.yml look for are the
# names the workflow uploads.
#
#   scripts/release.sh archive TARGET VERSION BINARY OUTDIR
#       packs BINARY (a build for the Rust target TARGET) as
#       OUTDIR/cargo-credential-corp-TARGET-vVERSION.tar.gz (.zip for Windows):
#       one folder of the same name holding the binary, the README and the
#       licence files; prints the archive's path.
#   scripts/release.sh sign DIR
#       for each archive in DIR writes ARCHIVE.sha256 (`sha256sum` format)
#       and ARCHIVE.sig (a minisign signature, prehashed, whose trusted
#       comment names the archive). The secret key is read from the file
#       named by MINISIGN_KEY_FILE; its password, if it has one, from
#       MINISIGN_PASSWORD.
set -eu

NAME=cargo-credential-corp

die() {
  printf 'release.sh: %s\n' "$*" >&2
  exit 1
}

# The archive's extension for a target: Windows users get a zip.
extension() {
  case "$1" in
    *-windows-*) echo zip ;;
    *) echo tar.gz ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  fi
}

archive() {
  [ $# -eq 4 ] || die "usage: release.sh archive TARGET VERSION BINARY OUTDIR"
  target=$1 version=$2 binary=$3 outdir=$4
  case "$version" in
    v*) die "VERSION is the crate's version without a leading v: $version" ;;
  esac
  [ -f "$binary" ] || die "no binary at $binary"
  root=$(cd "$(dirname "$0")/.." && pwd)
  mkdir -p "$outdir"
  outdir=$(cd "$outdir" && pwd)
  stem="$NAME-$target-v$version"
  exe=""
  case "$target" in *-windows-*) exe=.exe ;; esac
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir "$work/$stem"
  cp "$binary" "$work/$stem/$NAME$exe"
  chmod 755 "$work/$stem/$NAME$exe"
  for f in README.md LICENSE LICENSE-MIT LICENSE-APACHE; do
    cp "$root/$f" "$work/$stem/"
  done
  ext=$(extension "$target")
  out="$outdir/$stem.$ext"
  rm -f "$out"
  if [ "$ext" = zip ]; then
    if command -v zip >/dev/null 2>&1; then
      (cd "$work" && zip -q -r -X "$out" "$stem")
    elif command -v 7z >/dev/null 2>&1; then
      (cd "$work" && 7z a -tzip -bd "$out" "$stem" >/dev/null)
    else
      die "neither zip nor 7z is installed to pack $out"
    fi
  else
    # Owner and group 0, no extended attributes (nor macOS's ._ files): what
    # is in the archive is the files, not the build machine. tar and gzip
    # run one after the other, so that a failure of either stops the
    # release (a pipe would report gzip's status only).
    if tar --version 2>/dev/null | grep -q 'GNU tar'; then
      owner="--owner=0 --group=0 --numeric-owner"
    else
      owner="--uid 0 --gid 0 --no-xattrs"
    fi
    # shellcheck disable=SC2086 # $owner is a list of flags
    (cd "$work" && COPYFILE_DISABLE=1 tar $owner -cf "$work/$stem.tar" "$stem") || die "cannot pack $out (tar)"
    gzip -n -c "$work/$stem.tar" >"$out" || die "cannot pack $out (gzip)"
    rm -f "$work/$stem.tar"
  fi
  echo "$out"
}

sign() {
  [ $# -eq 1 ] || die "usage: release.sh sign DIR"
  dir=$1
  [ -n "${MINISIGN_KEY_FILE:-}" ] || die "MINISIGN_KEY_FILE names no secret key file"
  [ -f "$MINISIGN_KEY_FILE" ] || die "no secret key file at MINISIGN_KEY_FILE"
  command -v minisign >/dev/null 2>&1 || die "minisign is not installed (Debian: apt-get install minisign)"
  found=0
  for archive in "$dir"/"$NAME"-*.tar.gz "$dir"/"$NAME"-*.zip; do
    [ -f "$archive" ] || continue
    found=1
    file=$(basename "$archive")
    printf '%s  %s\n' "$(sha256 "$archive")" "$file" >"$archive.sha256"
    # The trusted comment is signed with the archive: installers check that
    # it names the file they asked for, so a validly signed archive of
    # another version or platform cannot be passed off as this one.
    if [ -n "${MINISIGN_PASSWORD:-}" ]; then
      printf '%s\n' "$MINISIGN_PASSWORD" |
        minisign -S -s "$MINISIGN_KEY_FILE" -m "$archive" -x "$archive.sig" -t "file:$file" >/dev/null
    else
      minisign -S -W -s "$MINISIGN_KEY_FILE" -m "$archive" -x "$archive.sig" -t "file:$file" >/dev/null </dev/null
    fi || die "minisign could not sign $file"
  done
  [ "$found" = 1 ] || die "no $NAME-*.tar.gz or .zip archive in $dir"
}

[ $# -ge 1 ] || die "usage: release.sh archive|sign ..."
command=$1
shift
case "$command" in
  archive) archive "$@" ;;
  sign) sign "$@" ;;
  *) die "unknown command $command (archive or sign)" ;;
esac
