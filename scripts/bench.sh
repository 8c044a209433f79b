#!/usr/bin/env bash
# Benchmarks of the provider against what it replaces, pair by pair, in one
# run; writes docs/benchmarks.md (never edit that file by hand).
#
#   scripts/bench.sh            # 3 to 10 minutes on 2 cores, most of it `cargo install`
#
# Cargo starts one provider process per token request, so the unit measured
# is one process answering one `get` on stdin, as Cargo runs it. Each
# comparison alternates its two contenders A B A B ... (after a warm-up),
# takes the ratio of each pair and quotes the median ratio, so a machine
# that gets busier or quieter during the run moves both sides of a pair; the
# same for CPU time (wait4), which waiting for a CPU does not inflate:
#   1. `get` from the environment  vs  examples/floor.rs, a provider on the
#      `cargo-credential` crate that answers a constant (the floor of any
#      provider);
#   2. `get` from the keychain  vs  `secret-tool lookup` of the same item, on
#      the same gnome-keyring (a private D-Bus);
#   3. `get` of an OIDC token from the cross-run file cache  vs  `get` from
#      the environment, and  vs  a script that does the client-credentials
#      exchange with curl on every call (what `cargo:token-from-stdout` runs
#      today), against the same local IdP (tests/idp);
#   4. `cargo generate-lockfile` + `cargo fetch` of a crate with
#      $BENCH_DEPS dependencies from kellnr (auth required), from a fresh
#      CARGO_HOME each time, through this provider  vs  `cargo:token`, both
#      with the same token in the environment; and this provider  vs  the
#      floor provider answering that token (what any credential process
#      costs cargo);
#   5. peak RSS of every contender (GNU time), binary sizes, and one timed
#      `cargo install --locked --path .` on a clean target dir.
#
# Knobs (environment): BENCH_PAIRS (300), BENCH_WARMUP (20), BENCH_SCRIPT_PAIRS
# (100, the curl exchange), BENCH_CARGO_PAIRS (100), BENCH_DEPS (20),
# BENCH_INSTALL (1; 0 skips the install timing), BENCH_OUT (docs/benchmarks.md).
# Every sample is left in target/bench/ (JSON).
# Installs GNU time, gnome-keyring, libsecret-tools, dbus, curl and Node.js
# when root; the test IdP's npm packages (npm ci); kellnr via
# scripts/provision-kellnr.sh (built once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

pairs="${BENCH_PAIRS:-300}"
warmup="${BENCH_WARMUP:-20}"
script_pairs="${BENCH_SCRIPT_PAIRS:-100}"
cargo_pairs="${BENCH_CARGO_PAIRS:-100}"
deps="${BENCH_DEPS:-20}"
do_install="${BENCH_INSTALL:-1}"
doc="${BENCH_OUT:-$repo/docs/benchmarks.md}"

step() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench.sh: $*" >&2; exit 1; }
started_at="$(date +%s)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"

step "tools"
declare -A packages=(
  [/usr/bin/time]=time
  [gnome-keyring-daemon]=gnome-keyring
  [secret-tool]=libsecret-tools
  [dbus-daemon]=dbus-daemon
  [musl-gcc]=musl-tools
  [minisign]=minisign
  [dbus-send]=dbus-bin
  [curl]=curl
  [python3]=python3
  [node]=nodejs
)
missing=()
for program in "${!packages[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${packages[$program]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    die "missing packages: ${missing[*]} (sudo apt-get install ${missing[*]})"
  fi
fi
command -v npm >/dev/null 2>&1 || die "npm is needed for the test IdP"
if [ ! -d tests/idp/node_modules/oidc-provider ] || [ tests/idp/package-lock.json -nt tests/idp/node_modules/.package-lock.json ]; then
  (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
kellnr_bin="$(scripts/provision-kellnr.sh)"
# The real cargo, not the rustup proxy in front of it (same for both sides).
cargo_bin="$(rustup which cargo 2>/dev/null || command -v cargo)"

step "build (release): the provider and the floor"
# Where cargo puts what it builds: CARGO_TARGET_DIR (relative to the
# repository, as cargo takes it from here), else target/.
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
nice cargo build --release --locked --bin cargo-credential-corp >&2
nice cargo build --release --locked --example floor >&2
bin="$target_dir/release/cargo-credential-corp"
floor="$target_dir/release/examples/floor"
# The static build (musl) that releases ship, and the floor built the same
# way; the static parts are skipped, and the page says so, where rustup
# cannot add the target.
musl=x86_64-unknown-linux-musl
static_bin="" static_floor=""
rustup target list --installed 2>/dev/null | grep -qx "$musl" || timeout 300 rustup target add "$musl" >&2 || true
if rustup target list --installed 2>/dev/null | grep -qx "$musl" && command -v musl-gcc >/dev/null 2>&1; then
  nice cargo build --profile dist --locked --target "$musl" --bin cargo-credential-corp >&2
  nice cargo build --profile dist --locked --target "$musl" --example floor >&2
  static_bin="$target_dir/$musl/dist/cargo-credential-corp"
  static_floor="$target_dir/$musl/dist/examples/floor"
else
  echo "WARNING: no static build: the $musl target or musl-gcc (Debian's musl-tools) is missing" >&2
fi

work="$(mktemp -d)"
case "$repo$work" in *[\"\\]*) die "paths with a quote or a backslash are not supported: $repo $work" ;; esac
out="$work/results"
mkdir -p "$out"
pids=()
cleanup() {
  local status=$? pid log
  if [ "$status" -ne 0 ]; then   # what the servers said, for the failure at hand
    for log in "$work/bus-dir/keyring.log" "$work/idp.log" "$work/kellnr/log"; do
      [ -s "$log" ] && { echo "--- tail of ${log#"$work"/}:" >&2; tail -n 20 "$log" >&2; }
    done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (at most $2 tenths of a second) for command $3... to succeed while
# process $1 lives.
wait_for() {
  local pid=$1 tenths=$2; shift 2
  for _ in $(seq "$tenths"); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# The pair runner: alternates two contenders A B A B ..., each run one
# process (or a few in sequence) spawned with posix_spawn and reaped with
# wait4, stdin from a file, stdout/stderr to files; checks every run's exit
# status and output. Then one more run of each under GNU time for peak RSS.
cat >"$work/pairs.py" <<'PY'
import json, os, random, shutil, signal, statistics, subprocess, sys, time

spec = json.load(open(sys.argv[1]))
scratch = os.path.abspath(sys.argv[3])
child = [None]

def on_alarm(_sig, _frame):
    if child[0]:
        os.kill(child[0], signal.SIGKILL)

signal.signal(signal.SIGALRM, on_alarm)

def prepared(c):
    steps = c.get("steps") or [c]
    env = dict(os.environ)
    for s in steps:
        e = dict(env); e.update(s.get("env", {}))
        for k in s.get("unset", []):
            e.pop(k, None)
        path = shutil.which(s["argv"][0]) or sys.exit(f"not found: {s['argv'][0]}")
        s["_path"], s["_env"] = path, e
    c["_steps"], c["runs"] = steps, 0
    return c

def fail(c, s, why):
    err = open(f"{scratch}/err").read()[-3000:]
    sys.exit(f"{spec['name']}: {c['label']}: {' '.join(s['argv'])}: {why}\n{err}")

def run(c, rss=None):
    for argv in c.get("prepare", []):
        subprocess.run(argv, check=True)
    total, cpu = 0, 0.0
    for s in c["_steps"]:
        path, argv = s["_path"], s["argv"]
        if rss:
            path, argv = "/usr/bin/time", ["/usr/bin/time", "-f", "%M", "-o", rss] + [s["_path"]] + argv[1:]
        fo = os.open(f"{scratch}/out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        fe = os.open(f"{scratch}/err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        actions = [(os.POSIX_SPAWN_OPEN, 0, s.get("stdin") or "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, fo, 1), (os.POSIX_SPAWN_DUP2, fe, 2)]
        here = os.getcwd()
        os.chdir(s.get("cwd") or here)
        signal.setitimer(signal.ITIMER_REAL, s.get("timeout", 60))
        t0 = time.perf_counter_ns()
        pid = child[0] = os.posix_spawn(path, argv, s["_env"], file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        t1 = time.perf_counter_ns()
        child[0] = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        os.chdir(here)
        os.close(fo); os.close(fe)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            fail(c, s, f"exit {code}" + (" (killed at its time limit)" if code == -9 else ""))
        if s.get("expect") and s["expect"] not in open(f"{scratch}/out", errors="replace").read():
            fail(c, s, f"output lacks {s['expect']!r}")
        if rss:
            c["rss_kib"] = max(c.get("rss_kib", 0), int(open(rss).read().split()[-1]))
        total += t1 - t0
        cpu += usage.ru_utime + usage.ru_stime
    c["runs"] += 1
    return total / 1e6, cpu * 1e3

def summary(xs, ci=False):
    q = statistics.quantiles(xs, n=4)
    s = {"median": statistics.median(xs), "p25": q[0], "p75": q[2], "min": min(xs)}
    if ci:  # a bootstrap 95 % interval of the median
        rng = random.Random(1)
        meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(2000))
        s["ci95"] = [meds[49], meds[1949]]
    return s

a, b = prepared(spec["a"]), prepared(spec["b"])
for _ in range(spec["warmup"]):
    run(a); run(b)
ta, tb, ca, cb = [], [], [], []
for _ in range(spec["pairs"]):
    (wa, xa), (wb, xb) = run(a), run(b)
    ta.append(wa); tb.append(wb); ca.append(xa); cb.append(xb)
for c in (a, b):
    run(c, rss=f"{scratch}/rss")
def ratios(xs, ys):
    return [x / y for x, y in zip(xs, ys)] if spec["ratio"] == "a/b" else [y / x for x, y in zip(xs, ys)]
result = {k: spec[k] for k in ("name", "pairs", "warmup", "ratio")}
result.update(ratio_summary=summary(ratios(ta, tb), ci=True), cpu_ratio_summary=summary(ratios(ca, cb), ci=True),
              a=dict(label=a["label"], runs=a["runs"], rss_kib=a["rss_kib"], ms=summary(ta), cpu_ms=summary(ca)),
              b=dict(label=b["label"], runs=b["runs"], rss_kib=b["rss_kib"], ms=summary(tb), cpu_ms=summary(cb)),
              samples_ms={"a": ta, "b": tb}, samples_cpu_ms={"a": ca, "b": cb})
json.dump(result, open(sys.argv[2], "w"), indent=1)
r = result["ratio_summary"]
print(f"  {spec['name']}: {a['label']} {result['a']['ms']['median']:.2f} ms, {b['label']} "
      f"{result['b']['ms']['median']:.2f} ms, median ratio {spec['ratio']} {r['median']:.3f} "
      f"(IQR {r['p25']:.3f}-{r['p75']:.3f}, 95 % CI {r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}); "
      f"CPU time ratio {result['cpu_ratio_summary']['median']:.3f}", file=sys.stderr)
PY
# run_pairs NAME: the spec (JSON) on stdin; the result in $out/NAME.json.
run_pairs() {
  local name=$1 scratch="$work/scratch-$1"
  mkdir -p "$scratch"
  cat >"$work/$name.spec.json"
  python3 "$work/pairs.py" "$work/$name.spec.json" "$out/$name.json" "$scratch"
}

# Every provider run: no config files, its cache in the work folder, and no
# keychain unless a part says so (a bus address where nothing listens).
export CARGO_CREDENTIAL_CORP_CONFIG="$work/none.toml" CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG="$work/none.toml"
export CARGO_CREDENTIAL_CORP_CACHE_DIR="$work/cache" DBUS_SESSION_BUS_ADDRESS="unix:path=$work/no-bus"
idx="sparse+http://127.0.0.1:1/api/v1/crates/"
printf '{"v":1,"registry":{"index-url":"%s","name":"bench"},"kind":"get","operation":"read"}\n' "$idx" >"$work/get.json"
printf '{"v":1,"registry":{"index-url":"%s","name":"bench"},"kind":"login","token":"bench-keychain-token"}\n' "$idx" >"$work/login.json"

step "1. env get vs the floor ($pairs pairs)"
run_pairs env-vs-floor <<JSON
{"name": "env-vs-floor", "pairs": $pairs, "warmup": $warmup, "ratio": "a/b",
 "a": {"label": "env get", "argv": ["$bin", "--cargo-plugin"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-env-token"},
 "b": {"label": "floor", "argv": ["$floor"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-floor-token"}}
JSON

if [ -n "$static_bin" ]; then
  step "1s. static env get vs the floor, built the ordinary way and static ($pairs pairs each)"
  run_pairs static-env-vs-floor <<JSON
{"name": "static-env-vs-floor", "pairs": $pairs, "warmup": $warmup, "ratio": "a/b",
 "a": {"label": "env get (static)", "argv": ["$static_bin", "--cargo-plugin"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-env-token"},
 "b": {"label": "floor", "argv": ["$floor"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-floor-token"}}
JSON
  run_pairs static-env-vs-static-floor <<JSON
{"name": "static-env-vs-static-floor", "pairs": $pairs, "warmup": $warmup, "ratio": "a/b",
 "a": {"label": "env get (static)", "argv": ["$static_bin", "--cargo-plugin"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-env-token"},
 "b": {"label": "floor (static)", "argv": ["$static_floor"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-floor-token"}}
JSON
fi

step "2. keychain get vs secret-tool lookup ($pairs pairs, gnome-keyring on a private D-Bus)"
# A fresh bus and keyring (folder $1) holding the provider's item.
start_keyring() {
  local dir=$1
  mkdir -p "$dir/data"
  bus="unix:path=$dir/bus"
  dbus-daemon --session --nofork --address="$bus" </dev/null >/dev/null 2>&1 &
  pids+=($!)
  wait_for "${pids[-1]}" 100 test -S "$dir/bus" || die "dbus-daemon did not start"
  printf bench-keyring-password | DBUS_SESSION_BUS_ADDRESS="$bus" XDG_DATA_HOME="$dir/data" \
    XDG_RUNTIME_DIR="$dir" gnome-keyring-daemon --foreground --unlock --components=secrets >"$dir/keyring.log" 2>&1 &
  keyring_pid=$!
  pids+=("$keyring_pid")
  wait_for "$keyring_pid" 100 owns_secrets || die "gnome-keyring did not take org.freedesktop.secrets"
  DBUS_SESSION_BUS_ADDRESS="$bus" dbus-send --session --print-reply --dest=org.freedesktop.secrets \
    /org/freedesktop/secrets/aliases/default org.freedesktop.DBus.Properties.Get \
    string:org.freedesktop.Secret.Collection string:Locked | grep -q 'boolean false' || die "the login keyring is locked"
  DBUS_SESSION_BUS_ADDRESS="$bus" "$bin" --cargo-plugin <"$work/login.json" | grep -q '"login"' || die "login into the keychain failed"
  [ "$(DBUS_SESSION_BUS_ADDRESS="$bus" timeout 10 secret-tool lookup service "cargo-registry:$idx" username cargo-credential-corp)" = bench-keychain-token ] \
    || die "secret-tool does not find the provider's item"
}
owns_secrets() {
  DBUS_SESSION_BUS_ADDRESS="$bus" dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'
}
# gnome-keyring 42 has been seen to die of a SIGTRAP (a GLib assertion) once
# in a few thousand calls on a loaded machine: then the part starts again on a
# new keyring, once, and the page says so.
echo 0 >"$out/keyring-restarts"
for attempt in 1 2; do
  start_keyring "$work/bus-dir"
  if run_pairs keychain-vs-secret-tool <<JSON
{"name": "keychain-vs-secret-tool", "pairs": $pairs, "warmup": $warmup, "ratio": "a/b",
 "a": {"label": "keychain get", "argv": ["$bin", "--cargo-plugin"], "stdin": "$work/get.json",
       "env": {"DBUS_SESSION_BUS_ADDRESS": "$bus"}, "expect": "bench-keychain-token"},
 "b": {"label": "secret-tool lookup", "argv": ["secret-tool", "lookup", "service", "cargo-registry:$idx", "username", "cargo-credential-corp"],
       "env": {"DBUS_SESSION_BUS_ADDRESS": "$bus"}, "expect": "bench-keychain-token"}}
JSON
  then break; fi
  if [ "$attempt" -eq 2 ] || kill -0 "$keyring_pid" 2>/dev/null; then die "the keychain part failed"; fi
  wait "$keyring_pid" || echo "gnome-keyring died (status $?); starting again on a new one" >&2
  tail -n 5 "$work/bus-dir/keyring.log" >&2 || true
  echo 1 >"$out/keyring-restarts"
  kill "${pids[-2]}" 2>/dev/null || true   # its bus
  rm -rf "$work/bus-dir"
done

if [ -n "$static_bin" ]; then
  step "2s. static keychain get vs secret-tool lookup ($pairs pairs, the same keyring)"
  run_pairs static-keychain-vs-secret-tool <<JSON || die "the static keychain part failed"
{"name": "static-keychain-vs-secret-tool", "pairs": $pairs, "warmup": $warmup, "ratio": "a/b",
 "a": {"label": "keychain get (static)", "argv": ["$static_bin", "--cargo-plugin"], "stdin": "$work/get.json",
       "env": {"DBUS_SESSION_BUS_ADDRESS": "$bus"}, "expect": "bench-keychain-token"},
 "b": {"label": "secret-tool lookup", "argv": ["secret-tool", "lookup", "service", "cargo-registry:$idx", "username", "cargo-credential-corp"],
       "env": {"DBUS_SESSION_BUS_ADDRESS": "$bus"}, "expect": "bench-keychain-token"}}
JSON
fi

step "3. cached OIDC get vs env get ($pairs pairs) and vs a curl exchange per call ($script_pairs pairs)"
for attempt in 1 2 3; do
  idp_port="$(free_port)"
  (cd tests/idp && PORT=$idp_port AT_TTL=3600 exec node idp.mjs >"$work/idp.log" 2>&1) &
  idp_pid=$!
  pids+=("$idp_pid")
  if wait_for "$idp_pid" 300 grep -q READY "$work/idp.log"; then break; fi
  [ "$attempt" -lt 3 ] || { cat "$work/idp.log" >&2; die "the test IdP did not start"; }
done
issuer="http://127.0.0.1:$idp_port"
issued() { curl -sf --max-time 10 "$issuer/test/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
cat >"$work/oidc.toml" <<TOML
[registries.bench]
index = "$idx"
sources = ["oidc"]
[registries.bench.oidc]
issuer = "$issuer"
resource = "https://registry.test"
scope = "read"
grant = "client-credentials"
client-id = "ci"
client-auth = "client-secret-basic"
client-secret-env = "BENCH_CLIENT_SECRET"
cache = "file"
TOML
# What `credential-provider = ["cargo:token-from-stdout", ".../exchange.sh"]`
# would run: the same exchange, on every call.
cat >"$work/exchange.sh" <<'SH'
#!/bin/sh
set -eu
curl -sSf --max-time 10 -u "ci:$BENCH_CLIENT_SECRET" -d grant_type=client_credentials \
  -d scope=read -d resource=https://registry.test "$BENCH_ISSUER/token" |
  sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
SH
chmod +x "$work/exchange.sh"
export BENCH_CLIENT_SECRET=ci-secret BENCH_ISSUER="$issuer"
issued_before="$(issued)"
CARGO_CREDENTIAL_CORP_CONFIG="$work/oidc.toml" "$bin" --cargo-plugin <"$work/get.json" | grep -q '"expires"' \
  || die "the OIDC get (priming the cache) failed"
oidc_spec() {
  printf '{"label": "cached OIDC get", "argv": ["%s", "--cargo-plugin"], "stdin": "%s/get.json", "env": {"CARGO_CREDENTIAL_CORP_CONFIG": "%s/oidc.toml"}, "expect": "\\"expires\\""}' "$bin" "$work" "$work"
}
run_pairs oidc-vs-env <<JSON
{"name": "oidc-vs-env", "pairs": $pairs, "warmup": $warmup, "ratio": "a/b",
 "a": $(oidc_spec),
 "b": {"label": "env get", "argv": ["$bin", "--cargo-plugin"], "stdin": "$work/get.json",
       "env": {"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}, "expect": "bench-env-token"}}
JSON
issued_mid="$(issued)"
run_pairs oidc-vs-exchange <<JSON
{"name": "oidc-vs-exchange", "pairs": $script_pairs, "warmup": $warmup, "ratio": "b/a",
 "a": $(oidc_spec),
 "b": {"label": "curl exchange per call", "argv": ["$work/exchange.sh"], "expect": "eyJ"}}
JSON
issued_after="$(issued)"
python3 - "$out" "$issued_before" "$issued_mid" "$issued_after" <<'PY'
import json, sys
out, before, mid, after = sys.argv[1], *map(int, sys.argv[2:])
r1, r2 = (json.load(open(f"{out}/{n}.json")) for n in ("oidc-vs-env", "oidc-vs-exchange"))
script_runs = r2["b"]["runs"]
json.dump({"provider_gets": 1 + r1["a"]["runs"] + r2["a"]["runs"],
           "provider_exchanges": (mid - before) + (after - mid - script_runs),
           "script_calls": script_runs, "script_exchanges": script_runs},
          open(f"{out}/exchanges.json", "w"))
PY
cat "$out/exchanges.json" >&2; echo >&2

step "3b. SSO get: one that refreshes vs one served from the cache (same IdP)"
python3 scripts/bench-sso.py "$bin" "$issuer" "$work/sso" "$out/sso.json" 30 "$pairs" >&2 \
  || die "the SSO timing failed"
kill "$idp_pid" 2>/dev/null || true
wait "$idp_pid" 2>/dev/null || true

step "4. cargo generate-lockfile + fetch of $deps dependencies from kellnr: cargo:token vs this provider ($cargo_pairs pairs)"
kellnr_token="benchAdmin$$x$RANDOM"
for attempt in 1 2 3; do
  kellnr_port="$(free_port)"
  rm -rf "$work/kellnr"; mkdir -p "$work/kellnr"
  env -i PATH="$PATH" HOME="$HOME" \
    KELLNR_REGISTRY__DATA_DIR="$work/kellnr/data" KELLNR_REGISTRY__AUTH_REQUIRED=true \
    KELLNR_LOCAL__IP=127.0.0.1 KELLNR_LOCAL__PORT="$kellnr_port" \
    KELLNR_ORIGIN__HOSTNAME=127.0.0.1 KELLNR_ORIGIN__PORT="$kellnr_port" \
    KELLNR_SETUP__ADMIN_TOKEN="$kellnr_token" KELLNR_SETUP__ADMIN_PWD="bench-admin-password" \
    "$kellnr_bin" start </dev/null >"$work/kellnr/log" 2>&1 &
  kellnr_pid=$!
  pids+=("$kellnr_pid")
  healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$kellnr_port/api/v1/health")" = 200 ]; }
  if wait_for "$kellnr_pid" 600 healthy; then break; fi
  [ "$attempt" -lt 3 ] || { tail -c 2000 "$work/kellnr/log" >&2; die "kellnr did not start"; }
done
kellnr_index="sparse+http://127.0.0.1:$kellnr_port/api/v1/crates/"
export CARGO_REGISTRIES_BENCH_TOKEN="$kellnr_token" CARGO_TERM_COLOR=never
mkdir -p "$work/publish-home" "$work/crates"
printf '[registries.bench]\nindex = "%s"\ncredential-provider = ["cargo:token"]\n' "$kellnr_index" >"$work/publish-home/config.toml"
app="$work/crates/bench-app"
mkdir -p "$app/src"
printf '[package]\nname = "bench-app"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n' >"$app/Cargo.toml"
echo 'fn main() {}' >"$app/src/main.rs"
for i in $(seq -w 1 "$deps"); do
  dir="$work/crates/bench-dep-$i"
  mkdir -p "$dir/src"
  printf '[package]\nname = "bench-dep-%s"\nversion = "0.1.0"\nedition = "2021"\ndescription = "bench crate"\nlicense = "MIT"\n' "$i" >"$dir/Cargo.toml"
  printf 'pub fn answer() -> u32 {\n    %d\n}\n' "$((10#$i))" >"$dir/src/lib.rs"
  (cd "$dir" && CARGO_HOME="$work/publish-home" CARGO_TARGET_DIR="$work/publish-target" \
    timeout 300 "$cargo_bin" publish --quiet --registry bench --no-verify) >&2 || die "publishing bench-dep-$i failed"
  printf 'bench-dep-%s = { version = "0.1", registry = "bench" }\n' "$i" >>"$app/Cargo.toml"
done
export BENCH_FLOOR_TOKEN="$kellnr_token"   # the floor answers it (examples/floor.rs)
sides="token corp floor"
[ -n "$static_bin" ] && sides="$sides static"
for side in $sides; do
  mkdir -p "$work/home-$side/home"
  case "$side" in
    token) provider='"cargo:token"' ;;
    corp) provider="\"$bin\"" ;;
    floor) provider="\"$floor\"" ;;
    static) provider="\"$static_bin\"" ;;
  esac
  printf '[registries.bench]\nindex = "%s"\n\n[registry]\nglobal-credential-providers = [%s]\n' \
    "$kellnr_index" "$provider" >"$work/home-$side/home/config.toml"
done
cargo_spec() {  # cargo_spec SIDE LABEL: fresh CARGO_HOME and target dir, then generate-lockfile and fetch
  local fresh="$work/fresh-$1"
  cat <<JSON
{"label": "$2",
 "prepare": [["rm", "-rf", "$fresh", "$app/Cargo.lock"], ["cp", "-a", "$work/home-$1", "$fresh"]],
 "steps": [
  {"argv": ["$cargo_bin", "generate-lockfile"], "cwd": "$app", "timeout": 300,
   "env": {"CARGO_HOME": "$fresh/home", "CARGO_TARGET_DIR": "$fresh/target"}},
  {"argv": ["$cargo_bin", "fetch"], "cwd": "$app", "timeout": 300,
   "env": {"CARGO_HOME": "$fresh/home", "CARGO_TARGET_DIR": "$fresh/target"}}]}
JSON
}
# Checks before timing: each side really downloads every crate (and how
# often cargo starts a credential process), and the provider side fails when
# the provider declines (so it is the one asked).
for side in $sides; do
  rm -rf "$work/check" "$app/Cargo.lock"; cp -a "$work/home-$side" "$work/check"
  (cd "$app" && export CARGO_LOG=cargo::util::credential::process=debug CARGO_HOME="$work/check/home" CARGO_TARGET_DIR="$work/check/target" &&
    timeout 300 "$cargo_bin" generate-lockfile -q && timeout 300 "$cargo_bin" fetch -q) 2>"$work/check-$side.log" \
    || { tail -c 3000 "$work/check-$side.log" >&2; die "cargo fetch with $side failed"; }
  got="$(find "$work/check/home/registry/cache" -name 'bench-dep-*.crate' | wc -l)"
  [ "$got" -eq "$((10#$deps))" ] || die "$side: $got of $deps crates downloaded"
  grep -c 'credential-process: ' "$work/check-$side.log" >"$out/cargo-calls-$side" || true
done
[ "$(cat "$out/cargo-calls-token")" -eq 0 ] && [ "$(cat "$out/cargo-calls-corp")" -ge 1 ] \
  && [ "$(cat "$out/cargo-calls-floor")" -eq "$(cat "$out/cargo-calls-corp")" ] \
  || die "cargo started $(cat "$out/cargo-calls-token") / $(cat "$out/cargo-calls-corp") credential processes with cargo:token / the provider"
printf 'serve = "listed"\n' >"$work/decline.toml"
rm -rf "$work/check" "$app/Cargo.lock"; cp -a "$work/home-corp" "$work/check"
if (cd "$app" && CARGO_CREDENTIAL_CORP_CONFIG="$work/decline.toml" CARGO_HOME="$work/check/home" \
    CARGO_TARGET_DIR="$work/check/target" timeout 300 "$cargo_bin" generate-lockfile -q) >/dev/null 2>&1; then
  die "cargo fetched with the provider declining: the provider is not what cargo asks"
fi
run_pairs cargo-fetch <<JSON
{"name": "cargo-fetch", "pairs": $cargo_pairs, "warmup": 1, "ratio": "b/a",
 "a": $(cargo_spec token "cargo:token"),
 "b": $(cargo_spec corp "cargo-credential-corp")}
JSON
# The same against the floor provider: what a credential process costs in
# a real cargo run at least, and what this one adds to that.
run_pairs cargo-fetch-floor <<JSON
{"name": "cargo-fetch-floor", "pairs": $cargo_pairs, "warmup": 1, "ratio": "b/a",
 "a": $(cargo_spec floor "floor provider"),
 "b": $(cargo_spec corp "cargo-credential-corp")}
JSON

if [ -n "$static_bin" ]; then
  [ "$(cat "$out/cargo-calls-static")" -eq "$(cat "$out/cargo-calls-corp")" ] || die "cargo started the static build a different number of times"
  run_pairs cargo-fetch-static-floor <<JSON
{"name": "cargo-fetch-static-floor", "pairs": $cargo_pairs, "warmup": 1, "ratio": "b/a",
 "a": $(cargo_spec floor "floor provider"),
 "b": $(cargo_spec static "cargo-credential-corp (static)")}
JSON
fi

step "5. sizes and cargo install on a clean target dir"
install_s=""
if [ "$do_install" = 1 ]; then
  t0="$(date +%s%N)"
  nice timeout 3600 cargo install --quiet --locked --path . --root "$work/install" --target-dir "$work/install-target" >&2 \
    || die "cargo install failed"
  t1="$(date +%s%N)"
  install_s="$(( (t1 - t0) / 1000000 ))"
  rm -rf "$work/install-target"
fi

install_archive_ms=""
if [ -n "$static_bin" ] && command -v minisign >/dev/null 2>&1; then
  step "6. install from a release archive: download from loopback, verify, unpack (scripts/install.sh)"
  rel="$work/release"
  mkdir -p "$rel/files" "$rel/key"
  minisign -G -W -p "$rel/key/bench.pub" -s "$rel/key/bench.key" >/dev/null
  version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
  scripts/release.sh archive "$musl" "$version" "$static_bin" "$rel/files" >/dev/null
  MINISIGN_KEY_FILE="$rel/key/bench.key" scripts/release.sh sign "$rel/files" >/dev/null
  rel_port="$(free_port)"
  (cd "$rel/files" && exec python3 -m http.server --bind 127.0.0.1 "$rel_port") >/dev/null 2>&1 &
  pids+=($!)
  wait_for "${pids[-1]}" 100 curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$rel_port/" || die "the release server did not start"
  samples=()
  for i in 1 2 3 4 5; do
    rm -rf "$rel/to"
    t0="$(date +%s%N)"
    sh scripts/install.sh --version "$version" --target "$musl" --base-url "http://127.0.0.1:$rel_port" \
      --to "$rel/to" --pubkey-file "$rel/key/bench.pub" >/dev/null 2>&1 || die "install.sh failed"
    t1="$(date +%s%N)"
    "$rel/to/cargo-credential-corp" --version >/dev/null || die "the installed binary does not run"
    samples+=("$(( (t1 - t0) / 1000000 ))")
  done
  install_archive_ms="$(printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p)"
  echo "install from the archive: ${samples[*]} ms (median $install_archive_ms)" >&2
fi

step "docs"
export BENCH_DOC="$doc" BENCH_OUT_DIR="$out" BENCH_BIN="$bin" BENCH_FLOOR="$floor" BENCH_INSTALL_MS="$install_s"
export BENCH_STATIC_BIN="$static_bin" BENCH_STATIC_FLOOR="$static_floor" BENCH_ARCHIVE_INSTALL_MS="$install_archive_ms"
export BENCH_LOAD_START="$load_start" BENCH_LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
export BENCH_SECONDS="$(( $(date +%s) - started_at ))" BENCH_NICE="$(nice)" BENCH_DEPS="$deps"
export BENCH_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" BENCH_NPROC="$(nproc)"
export BENCH_MEM="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
export BENCH_KERNEL="$(uname -sr)" BENCH_OS="$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")"
export BENCH_RUSTC="$(rustc --version)" BENCH_CARGO="$("$cargo_bin" --version)" BENCH_NODE="$(node --version)"
export BENCH_KEYRING="$(gnome-keyring-daemon --version 2>/dev/null | head -n1)"
export BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
export BENCH_DIRTY="$(git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock examples 2>/dev/null | wc -l)"
python3 - <<'PY'
import datetime, json, os, statistics

e = os.environ
out = e["BENCH_OUT_DIR"]
r = {n: json.load(open(f"{out}/{n}.json")) for n in
     ("env-vs-floor", "keychain-vs-secret-tool", "oidc-vs-env", "oidc-vs-exchange", "cargo-fetch",
      "cargo-fetch-floor")}
static = {n: json.load(open(f"{out}/{n}.json")) for n in
          ("static-env-vs-floor", "static-env-vs-static-floor", "static-keychain-vs-secret-tool",
           "cargo-fetch-static-floor") if os.path.exists(f"{out}/{n}.json")}
ex = json.load(open(f"{out}/exchanges.json"))
sso = json.load(open(f"{out}/sso.json"))

def ms(x): return f"{x:.2f} ms" if x < 100 else f"{x:.0f} ms"
def mib(n): return f"{n / 1048576:.1f} MiB ({n:,} bytes)"

def row(name, res, target, limit, at_most, scale=lambda v: f"{v:.3f}×"):
    """A row of the targets table: a verdict on the median ratio of wall
    times, and one on the median ratio of CPU times; "?" marks a 95 %
    interval of the median that crosses the target (the run cannot tell)."""
    def verdict(rs):
        if limit is None:
            return "(no target)"
        m, (lo, hi) = rs["median"], rs["ci95"]
        ok = m <= limit if at_most else m >= limit
        return ("met" if ok else "not met") + (" (?)" if lo <= limit <= hi else "")
    w, c = res["ratio_summary"], res["cpu_ratio_summary"]
    return (f"| {name} | {target} | {res['pairs']} | {scale(w['median'])} ({scale(w['ci95'][0])} – "
            f"{scale(w['ci95'][1])}) | {verdict(w)} | {scale(c['median'])} ({scale(c['ci95'][0])} – "
            f"{scale(c['ci95'][1])}) | {verdict(c)} |")

cargo = r["cargo-fetch"]
calls = int(open(f"{out}/cargo-calls-corp").read())
env_get = statistics.median(r["env-vs-floor"]["samples_ms"]["a"] + r["oidc-vs-env"]["samples_ms"]["b"])
cargo_a = cargo["a"]["ms"]["median"]
cargo_floor = r["cargo-fetch-floor"]
def pct(v): return f"{(v - 1) * 100:+.1f} %"
def ci_pct(rs): return f"{pct(rs['median'])} ({pct(rs['ci95'][0])} – {pct(rs['ci95'][1])})"
L = []
L += ["# Benchmarks", "",
      "Generated by `scripts/bench.sh` (do not edit by hand; rerun it to regenerate: "
      "`nice scripts/bench.sh`, 3 to 10 minutes on 2 cores).", "",
      "## Machine", "",
      f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
      f"- CPU: {e['BENCH_CPU']}, {e['BENCH_NPROC']} cores (`nproc`); memory {e['BENCH_MEM']}",
      f"- OS: {e['BENCH_OS']}, kernel {e['BENCH_KERNEL']}",
      f"- {e['BENCH_RUSTC']}; {e['BENCH_CARGO']}; Node.js {e['BENCH_NODE']}; {e['BENCH_KEYRING']}; kellnr 6.13.0",
      f"- commit {e['BENCH_COMMIT']}" + (" plus uncommitted changes in src/, Cargo.toml, Cargo.lock or examples/"
                                         if int(e['BENCH_DIRTY']) else ""),
      f"- load average (1, 5, 15 min) at the start {e['BENCH_LOAD_START']}, at the end {e['BENCH_LOAD_END']}; "
      f"the bench ran at nice {e['BENCH_NICE']}, for {int(e['BENCH_SECONDS']) // 60} min {int(e['BENCH_SECONDS']) % 60} s. "
      "On a busy machine a process of a millisecond often waits a scheduler slice (a few ms) for "
      "a CPU: that wait adds the same to both sides of a pair and pulls wall-time ratios towards 1, "
      "so read them with the CPU-time ratios.", "",
      "## Method", "",
      "Each comparison alternates its two contenders A B A B … (after a warm-up of "
      f"{r['env-vs-floor']['warmup']} runs each), each run one process started with `posix_spawn` and reaped "
      "with `wait4` by a small Python loop, the request on stdin as Cargo sends it, every run's exit "
      "status and output checked. The ratio is taken per pair; the tables quote the median ratio with "
      "a bootstrap 95 % interval of that median, and the median time of each side. The same is done "
      "with CPU time (user + system from `wait4`: the process and everything it ran, but not the "
      "servers it talked to, so it leaves out gnome-keyring's, the IdP's and kellnr's share); time "
      "spent waiting for a CPU is not CPU time. Peak RSS is GNU time's `%M` of one "
      "more run of each contender (for a script or cargo, the largest process it ran).", "",
      "- **floor**: `examples/floor.rs`, a provider built on the `cargo-credential` crate that answers "
      "every `get` with a constant: the least any provider process can cost.",
      "- **keychain**: gnome-keyring on a private D-Bus, unlocked; the provider reads its own item, "
      "`secret-tool lookup service cargo-registry:<index-url> username cargo-credential-corp` the same item.",
      "- **OIDC**: the test IdP (`tests/idp`, npm oidc-provider) on 127.0.0.1, client-credentials grant. "
      "The provider (`cache = \"file\"`) was primed with one exchange; the competitor is a `sh` script "
      "that runs `curl` to the token endpoint and `sed` on every call, what "
      "`cargo:token-from-stdout` would start (the lightest such script: no discovery, no `jq`).",
      f"- **cargo**: kellnr with `auth_required = true` on 127.0.0.1 holding {e['BENCH_DEPS']} tiny crates; "
      f"a crate depending on all of them; each run copies a fresh `CARGO_HOME` (config only) and target "
      "dir, then times `cargo generate-lockfile` + `cargo fetch` (index and every `.crate` really "
      "downloaded). A: `global-credential-providers = [\"cargo:token\"]`; B: `[\"<path>/cargo-credential-corp\"]`; "
      "both with `CARGO_REGISTRIES_BENCH_TOKEN` set; and, in a second pairing, A: the floor provider "
      "answering the same token. Checked before timing: every side downloads every "
      "crate, the floor and this provider are started as often, and B fails when the provider declines.", "",
      "## Targets", "",
      "Ratios are medians of per-pair ratios, with the bootstrap 95 % interval of that median in "
      "brackets; \"(?)\" marks an interval that crosses the target.", "",
      "| comparison | target | pairs | wall-time ratio | verdict | CPU-time ratio | verdict (CPU) |",
      "|---|---|---|---|---|---|---|",
      row("`get` from env / floor", r["env-vs-floor"], "≤ 1.10×", 1.10, True),
      row("`get` from keychain / `secret-tool lookup`", r["keychain-vs-secret-tool"], "≤ 0.80×", 0.80, True),
      row("cached OIDC `get` / `get` from env", r["oidc-vs-env"], "≤ 1.15×", 1.15, True),
      row("curl exchange per call / cached OIDC `get` (speed-up)", r["oidc-vs-exchange"], "≥ 3×", 3, False),
      row(f"`cargo generate-lockfile` + `cargo fetch` ({e['BENCH_DEPS']} deps): overhead (B−A)/A", cargo,
          "≤ 2 %", 1.02, True, scale=lambda v: f"{(v - 1) * 100:+.1f} %"),
      "",
      f"In each B run cargo started the provider {calls} times (counted with `CARGO_LOG` before timing: "
      "one `get` per cargo command, then cargo's session cache). At the median `get` from the environment "
      f"(both pairings above: {ms(env_get)}) that is {ms(calls * env_get)}, {calls * env_get / cargo_a * 100:.1f} % of "
      f"cargo's own median time ({ms(cargo_a)}): what the measured ratio should show; its spread is "
      "cargo's and kellnr's own run-to-run variation on this machine.", "",
      "What any credential process costs cargo, and what this one adds: the same cargo runs with the "
      "floor provider (`examples/floor.rs` answering the same token) as A and this provider as B, "
      f"{cargo_floor['pairs']} pairs: this provider over the floor {ci_pct(cargo_floor['ratio_summary'])} wall, "
      f"{ci_pct(cargo_floor['cpu_ratio_summary'])} CPU. So the floor provider itself costs about "
      f"{(cargo['ratio_summary']['median'] / cargo_floor['ratio_summary']['median'] - 1) * 100:+.1f} % over `cargo:token` "
      "(the ratio of the two medians): cargo's spawning, piping and waiting plus one process start-up "
      "per cargo command, which no external provider avoids."]
L += ["", "### The static release build", "",
      "The binary releases ship: `x86_64-unknown-linux-musl`, statically linked (no dynamic loader "
      "to run at start-up), built with the `dist` profile the archives use (fat LTO, one codegen unit; "
      "the dynamic build above is the `release` profile `cargo install` builds).", ""]
if static:
    L += ["| comparison | target | pairs | wall-time ratio | verdict | CPU-time ratio | verdict (CPU) |",
          "|---|---|---|---|---|---|---|",
          row("static `get` from env / floor (built the ordinary way)", static["static-env-vs-floor"], "≤ 0.70×", 0.70, True),
          row("static `get` from env / floor built static too", static["static-env-vs-static-floor"], "(none)", None, True),
          row("static `get` from keychain / `secret-tool lookup`", static["static-keychain-vs-secret-tool"], "≤ 0.60×", 0.60, True),
          row(f"cargo fetch ({e['BENCH_DEPS']} deps) with the static build over the floor provider",
              static["cargo-fetch-static-floor"], "≤ 0.5 %", 1.005, True, scale=lambda v: f"{(v - 1) * 100:+.1f} %")]
    if e.get("BENCH_ARCHIVE_INSTALL_MS"):
        L += ["", f"Install from a release archive (`scripts/install.sh`: download from a server on 127.0.0.1, "
              f"SHA-256 and minisign signature checked, unpacked, moved into place): median of 5 runs "
              f"{int(e['BENCH_ARCHIVE_INSTALL_MS']) / 1000:.2f} s (target ≤ 5 s)."]
else:
    L += ["Not measured in this run: the musl target or musl-gcc was missing (see the run's warnings)."]
if int(open(f"{out}/keyring-restarts").read()):
    L += ["", "gnome-keyring died during the keychain pairs (see the comment in scripts/bench.sh); "
          "that part was run again from the start on a new keyring."]
L += ["", f"OIDC exchanges counted at the IdP (`/test/stats`): the provider made {ex['provider_exchanges']} "
      f"for {ex['provider_gets']} `get`s (the priming one included); the script made {ex['script_exchanges']} "
      f"for {ex['script_calls']} calls.", "",
      "## Single sign-on", "",
      f"A `get` that refreshes the SSO login (the token cache emptied before each; one `refresh_token` "
      f"grant each, {sso['refresh_grants']} for {sso['refreshes']} runs, the IdP rotating the refresh token "
      f"and the provider storing it): median {ms(sso['refreshing_ms'])}. Served from the cross-run cache: "
      f"median {ms(sso['cached_ms'])} over {sso['cached_runs']} runs ({sso['cache_refresh_grants']} refreshes), "
      f"against {ms(sso['env_ms'])} for a `get` from the environment in the same loop "
      "(`scripts/bench-sso.py`: sequential runs, not pairs; the login and cache in files, `store = \"file\"`).", "",
      "## Times and memory", "",
      "| pairing | contender | median | IQR | median CPU time | peak RSS |", "|---|---|---|---|---|---|"]
for n, res in list(r.items()) + list(static.items()):
    for side in ("a", "b"):
        c = res[side]
        L.append(f"| {n} | {c['label']} | {ms(c['ms']['median'])} | {ms(c['ms']['p25'])} – {ms(c['ms']['p75'])} | "
                 f"{ms(c['cpu_ms']['median'])} | {c['rss_kib'] / 1024:.1f} MiB |")
size_bin, size_floor = os.stat(e["BENCH_BIN"]).st_size, os.stat(e["BENCH_FLOOR"]).st_size
L += ["", "## Size and install", "",
      f"- `target/release/cargo-credential-corp`: {mib(size_bin)}",
      f"- `target/release/examples/floor`: {mib(size_floor)}"]
if e.get("BENCH_STATIC_BIN"):
    L += [f"- `target/x86_64-unknown-linux-musl/dist/cargo-credential-corp` (static, profile dist): {mib(os.stat(e['BENCH_STATIC_BIN']).st_size)}",
          f"- `target/x86_64-unknown-linux-musl/dist/examples/floor` (static, profile dist): {mib(os.stat(e['BENCH_STATIC_FLOOR']).st_size)}"]
if e.get("BENCH_INSTALL_MS"):
    s = int(e["BENCH_INSTALL_MS"]) / 1000
    L.append(f"- `cargo install --locked --path .` on a clean target dir (dependencies already downloaded): "
             f"{int(s) // 60} min {s % 60:.0f} s (a single run, at the load above)")
else:
    L.append("- `cargo install` time: not measured in this run (`BENCH_INSTALL=0`)")
L.append("")
tmp = e["BENCH_DOC"] + ".tmp"
open(tmp, "w").write("\n".join(L))
os.replace(tmp, e["BENCH_DOC"])
PY
rm -rf "$target_dir/bench"; cp -r "$out" "$target_dir/bench"   # every sample, for a closer look
echo "wrote ${doc#"$repo"/}; samples in target/bench/" >&2
cat "$doc"
