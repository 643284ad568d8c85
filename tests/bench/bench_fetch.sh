#!/bin/bash
# tests/bench/bench_fetch.sh -- the phone credential fetch under wrk against
# the same server answering a static route (/v1/version), in the same run.
# Not part of make check: run `make api-bench` or this script by hand.
#
#   top_builddir=. top_srcdir=. tests/bench/bench_fetch.sh [SECONDS] [CONNECTIONS] [THREADS]
#
# Every fetch is a real signed request (tests/bench/fetch.lua signs with
# libsodium through LuaJIT's FFI; a fresh nonce each time, so each request
# writes its nonce to the store for replay detection). Prints requests per
# second of both routes and the ratio (target: at least 0.5x).
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export PATH="$top_builddir/gateway:$top_builddir/tools:$PATH"
DUR=${1:-10}
CONN=${2:-32}
THR=${3:-4}
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

mobileidctl -c "$C" people add --given Bench --family Phone --employee-id B1 >/dev/null
CRED=$(mobileidctl -c "$C" --json credentials issue B1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
CODE=$(mobileidctl -c "$C" invitations create "$CRED" --show | grep -oE '\b[A-Z0-9]{5}-[A-Z0-9]{5}\b' | head -1)
mid-phone-sim enroll --url "$URL" --code "$CODE" --state "$T/phone.json" >/dev/null
DEV=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["device_id"])' "$T/phone.json")
SK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret_key"])' "$T/phone.json")
mid-phone-sim fetch --url "$URL" --state "$T/phone.json" >/dev/null

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
echo "# wrk -t$THR -c$CONN -d${DUR}s, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
wrk -t"$THR" -c"$CONN" -d"${DUR}s" "$URL/v1/version" >"$T/static.txt"
wrk -t"$THR" -c"$CONN" -d"${DUR}s" -s "$top_srcdir/tests/bench/fetch.lua" "$URL" -- "$DEV" "$SK" >"$T/fetch.txt" 2>"$T/fetch.err"
wrk -t"$THR" -c"$CONN" -d"${DUR}s" "$URL/v1/version" >"$T/static2.txt"
S1=$(rps "$T/static.txt"); S2=$(rps "$T/static2.txt"); F=$(rps "$T/fetch.txt")
grep -E 'Latency|Non-2xx' "$T/fetch.txt" | sed 's/^/# fetch: /'
[ -s "$T/fetch.err" ] && sed 's/^/# /' "$T/fetch.err" | head -5
python3 - "$S1" "$S2" "$F" <<'PY'
import sys
s1, s2, f = map(float, sys.argv[1:4])
s = (s1 + s2) / 2
print("static /v1/version:          %10.0f req/s (before %.0f, after %.0f)" % (s, s1, s2))
print("signed /v1/phone/credentials: %10.0f req/s" % f)
print("ratio fetch/static:           %10.2fx (target >= 0.5x)" % (f / s))
PY
