#!/bin/bash
# tests/bench/bench_fetch.sh -- the phone credential fetch under wrk against
# the same server answering a static route (/v1/version), in the same run.
# Not part of make check: run `make api-bench` or this script by hand.
#
#   top_builddir=. top_srcdir=. tests/bench/bench_fetch.sh [SECONDS] [CONNECTIONS] [THREADS] [PHONES]
#
# Every fetch is a real signed request with its own fresh nonce, spread
# round-robin over PHONES enrolled phones, and the server verifies each one
# in full. tests/bench/fetch.lua signs them (libsodium through LuaJIT's FFI)
# before the measured run, in wrk's per-thread init(), so that wrk measures
# the server and not its own signing on the same CPUs: a pool of
# POOL = min(SECONDS x FETCH_RATE, 250000) requests (FETCH_RATE default
# 25000 req/s, well above what the server reaches here), all stamped with
# the time of signing (the server accepts 300 s of skew); a thread whose
# pool runs out signs the rest on the fly, and the count is printed. The
# cap: the gateway keeps at most 262,144 nonces in all within the 301 s
# replay window (503 beyond), and at most 4096 per device (429 beyond,
# docs/api.md "Replay defence"), so PHONES (default 100) is raised to at
# least POOL / 4000. FETCH_RATE=0 signs every request on the fly inside the
# run (the method before). Only 200 answers count: the fetch rate printed is
# (requests - answers not 200) / seconds, and any such answer is reported.
# Prints requests per second of both routes and the ratio (target: >= 0.5x).
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export PATH="$top_builddir/gateway:$top_builddir/tools:$PATH"
DUR=${1:-10}
CONN=${2:-32}
THR=${3:-4}
PHONES=${4:-100}
RATE=${FETCH_RATE:-25000}
POOL=$((DUR * RATE)); [ "$POOL" -gt 250000 ] && POOL=250000
MINPH=$(( (POOL + 3999) / 4000 ))
[ "$PHONES" -lt "$MINPH" ] && { echo "# PHONES $PHONES -> $MINPH: at most 4096 nonces per phone within the replay window" >&2; PHONES=$MINPH; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/mid-bench-fetch.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

mobileidctl init "$T/inst" >/dev/null
C="$T/inst/mobileidd.json"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/\"listen\": \"127.0.0.1:8080\"/\"listen\": \"127.0.0.1:$PORT\"/; s/\"level\": \"notice\"/\"level\": \"warning\"/" "$C"
mobileidd --foreground -c "$C" >"$T/daemon.log" 2>&1 &
PID=$!
for i in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT"

# PHONES people, each with a credential (admin API, invitation shown),
# each enrolled by its own simulated phone
TOK=$(mobileidctl -c "$C" --json tokens add bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
python3 - "$URL" "$TOK" "$PHONES" >"$T/codes.txt" <<'PY'
import json, sys, urllib.request
url, tok, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def post(path, body):
    rq = urllib.request.Request(url + path, json.dumps(body).encode(), method="POST",
                                headers={"Authorization": "Bearer " + tok,
                                         "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(rq))
for i in range(1, n + 1):
    p = post("/v1/admin/people", {"given_name": "Bench", "family_name": "Phone%d" % i,
                                   "employee_id": "B%d" % i})
    c = post("/v1/admin/credentials", {"person": p["id"], "invite": "shown"})
    print(c["invitation"]["code"])
PY
: >"$T/devices.txt"
i=0
while read -r CODE; do
	i=$((i + 1))
	mid-phone-sim enroll --url "$URL" --code "$CODE" --state "$T/phone$i.json" >/dev/null
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["device_id"], s["secret_key"])' "$T/phone$i.json" >>"$T/devices.txt"
done <"$T/codes.txt"
[ "$i" -eq "$PHONES" ] || { echo "enrolled $i phones of $PHONES"; exit 1; }
mid-phone-sim fetch --url "$URL" --state "$T/phone1.json" >/dev/null

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
# requests answered 2xx per second: (requests - non-2xx) / seconds
ok_rps() {
	python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", t)
n, d, u = int(m.group(1)), float(m.group(2)), m.group(3)
d = d / 1000 if u == "ms" else d * 60 if u == "m" else d
bad = re.search(r"(\d+) answers not 200", t) or re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%.1f" % ((n - (int(bad.group(1)) if bad else 0)) / d))
PY
}
echo "# wrk -t$THR -c$CONN -d${DUR}s, $PHONES phones, pool $POOL, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
wrk -t"$THR" -c"$CONN" -d"${DUR}s" "$URL/v1/version" >"$T/static.txt"
# BENCH_PERF=FILE: record a perf profile of the daemon during the fetch run
# (for the whole wrk command: the daemon is idle while wrk signs its pool;
# DWARF call graphs by default, since libsodium has no frame pointers:
# BENCH_PERF_OPTS replaces the options)
PERF=
[ -n "${BENCH_PERF:-}" ] && { perf record ${BENCH_PERF_OPTS:---call-graph dwarf -F 499} -p "$PID" -o "$BENCH_PERF" >"$T/perf.log" 2>&1 & PERF=$!; }
wrk -t"$THR" -c"$CONN" -d"${DUR}s" -s "$top_srcdir/tests/bench/fetch.lua" "$URL" -- "$T/devices.txt" "$THR" "$POOL" >"$T/fetch.txt" 2>"$T/fetch.err"
[ -n "$PERF" ] && { kill -INT "$PERF"; wait "$PERF" || true; }
wrk -t"$THR" -c"$CONN" -d"${DUR}s" "$URL/v1/version" >"$T/static2.txt"
S1=$(rps "$T/static.txt"); S2=$(rps "$T/static2.txt"); F=$(ok_rps "$T/fetch.txt")
grep -E 'Latency|Non-2xx|^fetch.lua' "$T/fetch.txt" | sed 's/^/# fetch: /'
[ -s "$T/fetch.err" ] && sed 's/^/# /' "$T/fetch.err" | head -5
python3 - "$S1" "$S2" "$F" <<'PY'
import sys
s1, s2, f = map(float, sys.argv[1:4])
s = (s1 + s2) / 2
print("static /v1/version:          %10.0f req/s (before %.0f, after %.0f)" % (s, s1, s2))
print("signed /v1/phone/credentials: %10.0f req/s (200 answers only)" % f)
print("ratio fetch/static:           %10.2fx (target >= 0.5x)" % (f / s))
PY
