#!/bin/bash
# tests/bench/bench_csv_import.sh -- CSV import benchmark (not part of make check).
#
#   tests/bench/bench_csv_import.sh [ROWS]     (default 1000000)
#
# In one run: sqlite3 importing the file into a plain table (.mode csv /
# .import), the first import through `mobileidctl sync run`, and the
# re-import of the unchanged file; wall times, ratios and peak RSS
# (/usr/bin/time -v). Targets (issue 3): first <= 2.0x sqlite3, re-import
# <= 1.0x, peak memory < 100 MB. Run from the top of a built tree.
set -eu
ROWS=${1:-1000000}
top=$(cd "$(dirname "$0")/../.." && pwd)
GEN=${GEN_PACS_CSV:-$top/../shared/bench/gen-pacs-csv}
[ -x "$GEN" ] || GEN=/work/shared/bench/gen-pacs-csv
export PATH="$top/gateway:$PATH"
export MOBILEID_MODULE_PATH="$top/connectors/csv/.libs:$top/connectors/null/.libs"
export MOBILEID_PLUGIN_DIR="$top/plugins"
W=$(mktemp -d "${TMPDIR:-/tmp}/mid-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

"$GEN" --rows "$ROWS" > "$W/users.csv"
mobileidctl init "$W/i" >/dev/null
mkdir -p "$W/i/in" "$W/i/arch"
python3 - "$W/i" <<'PY'
import json, sys
d = sys.argv[1]; p = d + "/mobileidd.json"; c = json.load(open(p))
c["bindings"] = [{"name": "pacs", "connector": "csv", "direction": "inbound",
  "match": ["employee_id", "email"],
  "settings": {"inbox_dir": d + "/in", "archive_dir": d + "/arch", "id_column": "employee_id"}}]
json.dump(c, open(p, "w"), indent=1)
PY

timed() { # LABEL CMD... -> "seconds rss_kb"
	local out=$W/time.$1; shift
	/usr/bin/time -v "$@" >/dev/null 2>"$out"
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
	echo "$wall $rss"
}
sync 2>/dev/null || true
read -r t_sql r_sql < <(timed sqlite sqlite3 "$W/ref.db" -cmd '.mode csv' ".import $W/users.csv users")
cp "$W/users.csv" "$W/i/in/.u.tmp" && mv "$W/i/in/.u.tmp" "$W/i/in/users.csv"
read -r t_first r_first < <(timed first mobileidctl -c "$W/i/mobileidd.json" sync run pacs)
cp "$W/users.csv" "$W/i/in/.u.tmp" && mv "$W/i/in/.u.tmp" "$W/i/in/users.csv"
read -r t_again r_again < <(timed again mobileidctl -c "$W/i/mobileidd.json" sync run pacs)
people=$(sqlite3 "$W/i/store.db" 'select count(*) from people')

printf 'rows               %s (people in the store: %s)\n' "$ROWS" "$people"
printf 'sqlite3 .import    %6.2f s  peak %6.1f MB\n' "$t_sql" "$(echo "$r_sql/1024" | bc -l)"
printf 'first import       %6.2f s  peak %6.1f MB  ratio %.2fx (target <= 2.0x)\n' "$t_first" \
	"$(echo "$r_first/1024" | bc -l)" "$(echo "$t_first/$t_sql" | bc -l)"
printf 're-import          %6.2f s  peak %6.1f MB  ratio %.2fx (target <= 1.0x)\n' "$t_again" \
	"$(echo "$r_again/1024" | bc -l)" "$(echo "$t_again/$t_sql" | bc -l)"
