#!/usr/bin/env bash
# Benchmarks of one provider process answering one `get` (Cargo starts a new
# process for every request, so this is the number that matters), per source,
# plus peak memory. Uses hyperfine and GNU time (installed when root).
#
#   scripts/bench.sh            # prints a table; results also in target/bench/
#
# Targets: a `get` served from the environment well under 10 ms, from the
# keychain under 50 ms, and under 10 MiB of peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine:hyperfine /usr/bin/time:time dbus-run-session:dbus-bin gnome-keyring-daemon:gnome-keyring; do
  program=${tool%%:*} package=${tool#*:}
  if ! command -v "$program" >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >&2
    else
      echo "bench.sh needs $program (Debian package $package)" >&2; exit 1
    fi
  fi
done

cargo build --release --locked
bin="$PWD/target/release/cargo-credential-corp"
out="$PWD/target/bench"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

export CARGO_CREDENTIAL_CORP_CONFIG="$work/none.toml" CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG="$work/none.toml"
idx="sparse+http://127.0.0.1:1/api/v1/crates/"
get="{\"v\":1,\"registry\":{\"index-url\":\"$idx\",\"name\":\"bench\"},\"kind\":\"get\",\"operation\":\"read\"}"
login="{\"v\":1,\"registry\":{\"index-url\":\"$idx\",\"name\":\"bench\"},\"kind\":\"login\",\"token\":\"bench-keychain-token\"}"
printf '%s\n' "$get" >"$work/get.json"
printf '%s\n' "$login" >"$work/login.json"

# The keychain part runs under a private bus with an unlocked gnome-keyring.
cat >"$work/inner.sh" <<INNER
set -eu
printf bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; do
  i=\$((i+1)); [ \$i -lt 100 ] || { echo "no secret service" >&2; exit 1; }; sleep 0.05
done
"$bin" --cargo-plugin <"$work/login.json" | grep -q '"login"'
hyperfine --warmup 5 --runs 100 --export-markdown "$out/get.md" --export-json "$out/get.json" \
  -n "get from env" "env CARGO_REGISTRIES_BENCH_TOKEN=bench-env-token $bin --cargo-plugin <$work/get.json" \
  -n "get from keychain" "$bin --cargo-plugin <$work/get.json" \
  -n "get, nothing found (no keychain)" "env DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent $bin --cargo-plugin <$work/get.json"
for case in env keychain; do
  if [ \$case = env ]; then pre="env CARGO_REGISTRIES_BENCH_TOKEN=bench-env-token"; else pre=""; fi
  /usr/bin/time -f "%M" -o "$work/rss-\$case" \$pre "$bin" --cargo-plugin <"$work/get.json" >/dev/null
  echo "peak RSS, get from \$case: \$(cat "$work/rss-\$case") KiB" | tee -a "$out/rss.txt"
done
INNER
: >"$out/rss.txt"
XDG_DATA_HOME="$work/data" XDG_RUNTIME_DIR="$work" dbus-run-session -- sh "$work/inner.sh"
cat "$out/get.md"
