#!/usr/bin/env python3
"""scripts/bench.sh's SSO step: the time of an SSO `get` that refreshes (one
refresh_token grant at the test IdP) against one served from the cross-run
cache, and a `get` from the environment, each a new provider process.

Usage: bench-sso.py BIN ISSUER WORKDIR OUT.json [REFRESHES] [CACHED]

Signs in once with the device flow at ISSUER (tests/idp, the headless user
of tests/idp/user.mjs approves), writes that login where the provider keeps
it with `store = "file"`, then times REFRESHES gets with the token cache
emptied before each (each refreshes, and the IdP rotates the refresh token,
which the provider stores), and CACHED gets served from the cache.
"""
import hashlib, json, os, statistics, subprocess, sys, time, urllib.error, urllib.parse, urllib.request

bin_, issuer, work, out = sys.argv[1:5]
refreshes = int(sys.argv[5]) if len(sys.argv) > 5 else 30
cached_n = int(sys.argv[6]) if len(sys.argv) > 6 else 100
idp_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "idp")


def post(path, form):
    req = urllib.request.Request(issuer + path, data=urllib.parse.urlencode(form).encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


d = post("/device/auth", {"client_id": "sso", "scope": "openid offline_access read publish"})
subprocess.run(["node", "user.mjs", "device", d["verification_uri"], d["user_code"]],
               cwd=idp_dir, check=True, stdout=subprocess.DEVNULL, timeout=60)
t = post("/token", {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "device_code": d["device_code"], "client_id": "sso"})
index = "sparse+http://127.0.0.1:1/bench-sso/"
os.makedirs(f"{work}/cache/sso", mode=0o700, exist_ok=True)
os.chmod(f"{work}/cache", 0o700)
# The file the provider keeps the login in (src/sso/grant.rs): named by
# cache::key of the item name (SHA-256 over length-prefixed parts, 20 bytes).
item = f"cargo-credential-corp-sso:{index}|sso@{issuer}".encode()
key = hashlib.sha256(len(item).to_bytes(8, "little") + item).digest()[:20].hex()
fd = os.open(f"{work}/cache/sso/{key}.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps({"v": 1, "refresh_token": t["refresh_token"], "stored_at": int(time.time())}).encode())
os.close(fd)
with open(f"{work}/sso.toml", "w") as f:
    f.write(f'[registries.bench]\nindex = "{index}"\n[registries.bench.sso]\nissuer = "{issuer}"\n'
            'client-id = "sso"\nscope = "read"\nresource = "https://registry.test"\nstore = "file"\n')
env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"],
       "CARGO_CREDENTIAL_CORP_CONFIG": f"{work}/sso.toml",
       "CARGO_CREDENTIAL_CORP_SYSTEM_CONFIG": f"{work}/no-system.toml",
       "CARGO_CREDENTIAL_CORP_CACHE_DIR": f"{work}/cache",
       "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bench"}
request = json.dumps({"v": 1, "registry": {"index-url": index, "name": "bench"},
                      "kind": "get", "operation": "read"}) + "\n"


def get(extra=None):
    t0 = time.perf_counter()
    r = subprocess.run([bin_, "--cargo-plugin"], input=request, env={**env, **(extra or {})},
                       capture_output=True, text=True, timeout=30)
    ms = (time.perf_counter() - t0) * 1000
    if '"kind":"get"' not in r.stdout:
        sys.exit(f"the SSO get failed: {r.stderr}")
    return ms


def empty_cache():
    tokens = f"{work}/cache/tokens"
    for name in os.listdir(tokens) if os.path.isdir(tokens) else []:
        os.remove(os.path.join(tokens, name))


def stats():
    with urllib.request.urlopen(issuer + "/test/stats", timeout=10) as r:
        return json.load(r)["byGrant"].get("refresh_token", 0)


get()  # the discovery document, cached like the tokens
before = stats()
refreshing = []
for _ in range(refreshes):
    empty_cache()
    refreshing.append(get())
after = stats()
cached = [get() for _ in range(cached_n)]
env_get = [get({"CARGO_REGISTRIES_BENCH_TOKEN": "bench-env-token"}) for _ in range(cached_n)]
result = {"refreshing_ms": statistics.median(refreshing), "refreshes": len(refreshing),
          "refresh_grants": after - before, "cached_ms": statistics.median(cached),
          "cached_runs": len(cached), "env_ms": statistics.median(env_get),
          "cache_refresh_grants": stats() - after}
json.dump(result, open(out, "w"))
print(json.dumps(result))
