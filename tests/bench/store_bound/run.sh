#!/bin/sh
# tests/bench/store_bound/run.sh -- how close can SQLite's store writes get to
# `sqlite3 .import`? (a benchmark; not part of make check)
#
#   tests/bench/store_bound/run.sh [ROWS]     (default 1000000)
#
# Measures, with the sqlite3 shell only (no gateway build needed), the time to
# write ROWS already-mapped people rows into the gateway's store schema and
# narrower variants, against `sqlite3 .import` of the same CSV. The CSV comes
# from gen-pacs-csv; store_bound.py maps it once into a stage db (not timed)
# and writes one SQL script per variant (the current schema is read from
# gateway/migrations.c). Each variant runs as one sqlite3 process on a fresh
# db, timed whole by /usr/bin/time (final COMMIT, checkpoint and CREATE INDEX
# included), right after its own .import run:
#   Z   read the stage rows only (the read side every variant pays)
#   A   current schema, WAL, gateway pragmas, 20k-row transactions
#   A2  A with foreign keys off
#   C1  narrow schema (blob keys, WITHOUT ROWID), WAL, 20k, indexes after
#   D5  C1 with foreign keys off
#   C5  narrow, journal_mode=OFF, one transaction
#   F   floor: the people bytes only, no key, no index
#
# Reading it: "ratio" is variant / its paired .import (wall and CPU =
# user+sys), the median over ROUNDS. The store writes alone cost about the
# variant's ratio minus Z's (a slightly optimistic bound: the gateway binds
# parameters instead of reading a stage db). The issue's target is a first
# import <= 2.0x .import including the gateway's own parse and map, so a
# store-writes-alone ratio near or above 2 means the target is out of reach.
# Use the default 1,000,000 rows for figures: at 100,000 a run takes under a
# second and the ratios are noisy. Results of 2026-11-28 and the conclusion:
# README.md here.
#
# Environment:
#   GEN_PACS_CSV  the generator (default <repo>/../shared/bench/gen-pacs-csv,
#                 else /work/shared/bench/gen-pacs-csv)
#   ROUNDS        rounds of all variants (default 1)
#   TMPDIR        where the temp dir goes; 1M rows need about 1 GB
# Needs sqlite3, python3 and /usr/bin/time (GNU). Run nothing else meanwhile.
set -eu
ROWS=${1:-1000000}
ROUNDS=${ROUNDS:-1}
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../../.." && pwd)
GEN=${GEN_PACS_CSV:-$top_srcdir/../shared/bench/gen-pacs-csv}
[ -x "$GEN" ] || GEN=/work/shared/bench/gen-pacs-csv
PY="python3 $here/store_bound.py"
for t in sqlite3 python3 /usr/bin/time "$GEN"; do
	command -v "$t" >/dev/null || { echo "store_bound: $t not found" >&2; exit 1; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/store-bound.XXXXXX")
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

echo "store_bound: $ROWS rows, $ROUNDS round(s), in $W" >&2
"$GEN" --rows "$ROWS" > "$W/users.csv"
$PY stage "$W/users.csv" "$W/stage.db"
$PY sql "$top_srcdir/gateway/migrations.c" "$W/stage.db" "$W"

# run NAME CMD...: fresh db, time CMD (stdin: $W/NAME.sql unless ref), append
# "NAME wall= user= sys= size=" to $W/results
run() {
	name=$1; shift
	rm -f "$W/t.db" "$W/t.db-wal" "$W/t.db-shm" "$W/t.db-journal"
	sync; sleep 1
	if [ "$name" = ref ]; then in=/dev/null; else in=$W/$name.sql; fi
	if ! /usr/bin/time -f "wall=%e user=%U sys=%S" -o "$W/time" "$@" < "$in" > "$W/log" 2>&1; then
		echo "store_bound: $name failed:" >&2; tail -5 "$W/log" >&2; exit 1
	fi
	line="$name $(tail -1 "$W/time") size=$(stat -c %s "$W/t.db" 2>/dev/null || echo 0)"
	echo "$line" >> "$W/results"
	echo "  $line" >&2
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for v in Z A A2 C1 D5 C5 F; do
		run ref sqlite3 "$W/t.db" -cmd '.mode csv' ".import $W/users.csv users"
		run "$v" sqlite3 -bail "$W/t.db"
	done
	r=$((r + 1))
done
$PY summary "$W/results"
