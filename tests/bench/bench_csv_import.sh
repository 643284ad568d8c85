#!/bin/bash
# tests/bench/bench_csv_import.sh -- CSV import benchmark (not part of make check).
#
#   tests/bench/bench_csv_import.sh [ROWS]     (default 1000000)
#
# In one run: sqlite3 importing the file into a plain table (.mode csv /
# .import), the first import through `mobileidctl sync run`, and the
# re-import of the unchanged file; wall and CPU (user + system) times,
# ratios and peak RSS (/usr/bin/time -v). Targets (issue 3): first <= 2.0x
# sqlite3, re-import <= 1.0x, peak memory < 100 MB.
#
# Run it from the top of a built tree; a VPATH build works too: programs
# and modules are taken from the current directory when it holds
# gateway/mobileidctl (top_builddir), else from the script's tree, and the
# plugins from the script's tree (top_srcdir). Environment:
#   GEN_PACS_CSV  the generator (default ../shared/bench/gen-pacs-csv)
#   TOP_BUILDDIR  the build tree, when not the current directory
#   KEEP=DIR      keep the instance and the CSV in DIR (must not exist)
#   WRAP="CMD"    run the gateway's two imports under CMD (e.g. "perf record
#                 -g -o /tmp/p.data"); the re-import is skipped when WRAP
#                 is set and NOAGAIN=1
set -eu
ROWS=${1:-1000000}
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${TOP_BUILDDIR:-}" ]; then
	top_builddir=$(cd "$TOP_BUILDDIR" && pwd)
elif [ -x "$PWD/gateway/mobileidctl" ]; then
	top_builddir=$PWD
else
	top_builddir=$top_srcdir
fi
[ -x "$top_builddir/gateway/mobileidctl" ] || {
	echo "bench_csv_import: no gateway/mobileidctl in $top_builddir; build first" >&2
	exit 1
}
GEN=${GEN_PACS_CSV:-$top_srcdir/../shared/bench/gen-pacs-csv}
[ -x "$GEN" ] || GEN=/work/shared/bench/gen-pacs-csv
export PATH="$top_builddir/gateway:$PATH"
export MOBILEID_MODULE_PATH="$top_builddir/connectors/csv/.libs:$top_builddir/connectors/null/.libs"
export MOBILEID_PLUGIN_DIR="$top_srcdir/plugins"
if [ -n "${KEEP:-}" ]; then
	mkdir "$KEEP"
	W=$(cd "$KEEP" && pwd)
else
	W=$(mktemp -d "${TMPDIR:-/tmp}/mid-bench.XXXXXX")
	trap 'rm -rf "$W"' EXIT
fi

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

timed() { # LABEL CMD... -> "seconds rss_kb cpu_seconds"
	local out=$W/time.$1; shift
	/usr/bin/time -v "$@" >/dev/null 2>"$out"
	local wall rss cpu
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
	cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$out")
	echo "$wall $rss $cpu"
}
sync 2>/dev/null || true
# shellcheck disable=SC2086
read -r t_sql r_sql c_sql < <(timed sqlite sqlite3 "$W/ref.db" -cmd '.mode csv' ".import $W/users.csv users")
cp "$W/users.csv" "$W/i/in/.u.tmp" && mv "$W/i/in/.u.tmp" "$W/i/in/users.csv"
# shellcheck disable=SC2086
read -r t_first r_first c_first < <(timed first ${WRAP:-} mobileidctl -c "$W/i/mobileidd.json" sync run pacs)
t_again=0 r_again=0 c_again=0
if [ "${NOAGAIN:-0}" != 1 ]; then
	cp "$W/users.csv" "$W/i/in/.u.tmp" && mv "$W/i/in/.u.tmp" "$W/i/in/users.csv"
	# shellcheck disable=SC2086
	read -r t_again r_again c_again < <(timed again ${WRAP:-} mobileidctl -c "$W/i/mobileidd.json" sync run pacs)
fi
people=$(sqlite3 "$W/i/store.db" 'select count(*) from people')

printf 'rows               %s (people in the store: %s)\n' "$ROWS" "$people"
printf 'sqlite3 .import    %6.2f s  cpu %6.2f s  peak %6.1f MiB\n' "$t_sql" "$c_sql" \
	"$(echo "$r_sql/1024" | bc -l)"
printf 'first import       %6.2f s  cpu %6.2f s  peak %6.1f MiB  ratio %.2fx, cpu %.2fx (target <= 2.0x)\n' \
	"$t_first" "$c_first" "$(echo "$r_first/1024" | bc -l)" "$(echo "$t_first/$t_sql" | bc -l)" \
	"$(echo "$c_first/$c_sql" | bc -l)"
printf 're-import          %6.2f s  cpu %6.2f s  peak %6.1f MiB  ratio %.2fx, cpu %.2fx (target <= 1.0x)\n' \
	"$t_again" "$c_again" "$(echo "$r_again/1024" | bc -l)" "$(echo "$t_again/$t_sql" | bc -l)" \
	"$(echo "$c_again/$c_sql" | bc -l)"
