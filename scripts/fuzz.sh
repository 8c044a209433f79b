#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers that read untrusted input (the
# targets in fuzz/: cargo-fuzz with libFuzzer). Runs each target for
# SECONDS_PER_TARGET (default 60), then prints a table: target, seconds run
# (fewer when it stopped at a crash), runs, crashes. Exits non-zero when a
# target crashed; the input is kept in fuzz/artifacts/TARGET/ and the log in
# fuzz/logs/TARGET.log. Reproduce one with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-…` and
# minimise it with `RUSTC_BOOTSTRAP=1 cargo fuzz tmin TARGET FILE`.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Not part of CI or scripts/test.sh (too slow); the property tests in
# tests/properties.rs check the same parsers in the normal suite.
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address); on a stable
# toolchain RUSTC_BOOTSTRAP=1 allows them. FUZZ_SANITIZER=none fuzzes without
# AddressSanitizer (faster, and the crate is safe Rust). The config target
# fails when an error message shows a planted value; FUZZ_CONFIG_ALLOW_ECHO=1
# turns that check off. Heavy: runs under `nice`.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
[ $# -gt 0 ] && shift
case "$secs" in
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
    ;;
esac
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install --locked cargo-fuzz)" >&2
  nice cargo install --locked cargo-fuzz >&2
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "building the fuzz targets (sanitizer: $sanitizer)" >&2
nice cargo fuzz build --sanitizer "$sanitizer" >&2

mkdir -p fuzz/logs
rows=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  log="fuzz/logs/$t.log"
  echo "fuzzing $t for ${secs}s" >&2
  rc=0
  start=$SECONDS
  nice cargo fuzz run --sanitizer "$sanitizer" "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    >"$log" 2>&1 || rc=$?
  took=$((SECONDS - start))
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  # Each crash, leak, timeout or out-of-memory input libFuzzer saved.
  crashes="$(grep -c "Test unit written to" "$log" || true)"
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes="error (exit $rc, see $log)"
  fi
  if [ "$rc" -ne 0 ] || [ "$crashes" != 0 ]; then
    failed=1
    grep -m1 -E "panicked at|ERROR: " "$log" >&2 || true
    grep -m1 "Test unit written to" "$log" >&2 || true
  fi
  rows+=("$t|$took|${runs:-?}|$crashes")
done

printf '\n%-18s %8s %12s  %s\n' target seconds runs crashes
for row in "${rows[@]}"; do
  IFS='|' read -r t s r c <<<"$row"
  printf '%-18s %8s %12s  %s\n' "$t" "$s" "$r" "$c"
done
exit "$failed"
