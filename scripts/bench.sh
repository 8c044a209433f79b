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

if [ ! -d tests/idp/node_modules/oidc-provider ]; then (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error); fi
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

# The OIDC warm path: a token from the real test IdP, then served from the
# cross-run cache (file, keychain) by every later process.
idp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd tests/idp && PORT=$idp_port exec node idp.mjs >"$work/idp.log" 2>&1) &
idp_pid=$!
trap 'kill $idp_pid 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 100); do grep -q READY "$work/idp.log" 2>/dev/null && break; sleep 0.1; done
for mode in file keychain; do
  cat >"$work/oidc-$mode.toml" <<TOML
[registries.bench]
sources = ["oidc"]
[registries.bench.oidc]
issuer = "http://127.0.0.1:$idp_port"
resource = "https://registry.test"
grant = "client-credentials"
client-id = "ci"
client-auth = "client-secret-basic"
client-secret-env = "BENCH_CLIENT_SECRET"
cache = "$mode"
TOML
done
export BENCH_CLIENT_SECRET=ci-secret CARGO_CREDENTIAL_CORP_CACHE_DIR="$work/cache"

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
for mode in file keychain; do   # prime the caches: one exchange each
  CARGO_CREDENTIAL_CORP_CONFIG="$work/oidc-\$mode.toml" "$bin" --cargo-plugin <"$work/get.json" | grep -q '"expires"'
done
hyperfine --warmup 5 --runs 100 --export-markdown "$out/get.md" --export-json "$out/get.json" \
  -n "get from env" "env CARGO_REGISTRIES_BENCH_TOKEN=bench-env-token $bin --cargo-plugin <$work/get.json" \
  -n "get from keychain" "$bin --cargo-plugin <$work/get.json" \
  -n "get, nothing found (no keychain)" "env DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent $bin --cargo-plugin <$work/get.json" \
  -n "get, oidc token from the file cache" "env CARGO_CREDENTIAL_CORP_CONFIG=$work/oidc-file.toml $bin --cargo-plugin <$work/get.json" \
  -n "get, oidc token from the keychain cache" "env CARGO_CREDENTIAL_CORP_CONFIG=$work/oidc-keychain.toml $bin --cargo-plugin <$work/get.json"
curl -s "http://127.0.0.1:$idp_port/test/stats" | tee "$out/exchanges.json"; echo
for case in env keychain; do
  if [ \$case = env ]; then pre="env CARGO_REGISTRIES_BENCH_TOKEN=bench-env-token"; else pre=""; fi
  /usr/bin/time -f "%M" -o "$work/rss-\$case" \$pre "$bin" --cargo-plugin <"$work/get.json" >/dev/null
  echo "peak RSS, get from \$case: \$(cat "$work/rss-\$case") KiB" | tee -a "$out/rss.txt"
done
INNER
: >"$out/rss.txt"
XDG_DATA_HOME="$work/data" XDG_RUNTIME_DIR="$work" dbus-run-session -- sh "$work/inner.sh"
cat "$out/get.md"
