#!/bin/bash
# tests/bench/bench_scim_pull.sh -- full pull of N SCIM users (default
# 100,000) through `mobileidctl sync run` with the scim2 plugin, compared
# in the same run with curl fetching the same pages one after another on
# one connection. Prints both times, the ratio (target <= 1.5) and the
# gateway's peak RSS. RUNS rounds (default 3) of curl, a first pull into
# a fresh instance and an unchanged re-pull; the medians are compared.
# Not part of `make check`.
#
#   tests/bench/bench_scim_pull.sh [USERS]     (from a build tree, or set
#                                               top_srcdir/top_builddir)
set -eu
N=${1:-100000}
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export PATH="$top_builddir/gateway:$PATH"
export MOBILEID_MODULE_PATH="${MOBILEID_MODULE_PATH:-$top_builddir/connectors/rest/.libs}"
export MOBILEID_PLUGIN_DIR="${MOBILEID_PLUGIN_DIR:-$top_srcdir/plugins}"
export MOBILEID_SCHEMA_DIR="${MOBILEID_SCHEMA_DIR:-$top_srcdir/schemas}"
T=$(mktemp -d /tmp/bench-scim.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
P=$(port); A=$(port); TOKEN=bench-token
node "$top_srcdir/tests/peers/scim-server.mjs" --port "$P" --admin-port "$A" --token "$TOKEN" --users "$N" >"$T/scim.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$P") 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$P/scim"
SIZE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["settings"]["list"]["paging"]["size"])' "$top_srcdir/plugins/scim2/profile.json")

# the same pages curl fetches: one config file, one connection
: >"$T/curl.cfg"
for ((s = 1; s <= N; s += SIZE)); do
	printf 'url = "%s/Users?startIndex=%d&count=%d&sortBy=id&sortOrder=ascending"\noutput = "/dev/null"\n' "$URL" "$s" "$SIZE" >>"$T/curl.cfg"
done
pages=$(grep -c '^url' "$T/curl.cfg")
curl -sf -H "Authorization: Bearer $TOKEN" -K "$T/curl.cfg"   # warm-up (the server's JIT)

# RUNS rounds (default 3), each: curl, then a first pull into a fresh
# instance and an unchanged re-pull; the medians are compared, as the
# 2-core VM's speed moves between rounds
RUNS=${RUNS:-3}
now() { date +%s.%N; }
: >"$T/t.curl"; : >"$T/t.first"; : >"$T/t.again"; : >"$T/rss1"; : >"$T/rss2"
for ((r = 1; r <= RUNS; r++)); do
	t0=$(now)
	curl -sf -H "Authorization: Bearer $TOKEN" -K "$T/curl.cfg"
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/t.curl"
	rm -rf "$T/inst"
	mobileidctl init "$T/inst" >/dev/null
	mobileidctl -c "$T/inst/mobileidd.json" plugin enable scim2 --base-url "$URL" --token "$TOKEN" >/dev/null </dev/null
	t0=$(now)
	/usr/bin/time -f '%M' -a -o "$T/rss1" mobileidctl -c "$T/inst/mobileidd.json" sync run scim2 --no-push >"$T/run.out"
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/t.first"
	grep -q "created *$N" "$T/run.out" || { echo "the pull did not create $N people:"; cat "$T/run.out"; exit 1; }
	t0=$(now)
	/usr/bin/time -f '%M' -a -o "$T/rss2" mobileidctl -c "$T/inst/mobileidd.json" sync run scim2 --full --no-push >"$T/run2.out"
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/t.again"
	grep -q "unchanged *$N" "$T/run2.out" || { echo "the re-pull did not see $N unchanged:"; cat "$T/run2.out"; exit 1; }
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
all() { sort -n "$1" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }'; }
curl_s=$(med "$T/t.curl"); gw_s=$(med "$T/t.first"); gw2_s=$(med "$T/t.again")
ratio=$(echo "scale=2; $gw_s / $curl_s" | bc)
ratio2=$(echo "scale=2; $gw2_s / $curl_s" | bc)
printf 'users %d, pages %d of %d, %d rounds (medians; all values sorted in brackets)\n' "$N" "$pages" "$SIZE" "$RUNS"
printf 'curl, same pages in sequence:   %.2f s [%s]\n' "$curl_s" "$(all "$T/t.curl")"
printf 'mobileidctl sync run (full, first: %d creates): %.2f s (%.2fx) [%s], peak RSS %d KiB\n' "$N" "$gw_s" "$ratio" "$(all "$T/t.first")" "$(sort -n "$T/rss1" | tail -1)"
printf 'mobileidctl sync run --full (all unchanged):     %.2f s (%.2fx) [%s], peak RSS %d KiB\n' "$gw2_s" "$ratio2" "$(all "$T/t.again")" "$(sort -n "$T/rss2" | tail -1)"
