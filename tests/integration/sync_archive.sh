#!/bin/bash
# tests/integration/sync_archive.sh -- the CSV connector moves a file to
# its archive only once every row of it is stored. The engine groups
# checkpoints into one commit (up to 20,000 rows or 2 s), so the rows after
# the last grouped commit are still in an open transaction when the
# connector reaches the end of the file; the connector asks the host to
# commit them (sink commit, ABI 1.1) before it archives. Here the process
# is killed with SIGKILL the instant the file lands in the archive
# (tests/preload/kill_after_rename.so): every row must be in the store
# anyway, and the next run, with an empty inbox, must change nothing.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
SHIM="$top_builddir/tests/preload/.libs/kill_after_rename.so"
[ -f "$SHIM" ] || t_skip_all "$SHIM not built"
GEN=${GEN_PACS_CSV:-/work/shared/bench/gen-pacs-csv}
[ -x "$GEN" ] || GEN="$top_srcdir/tests/bench/gen-pacs-csv"
[ -x "$GEN" ] || t_skip_all "gen-pacs-csv not found"
ROWS=${SYNC_ARCHIVE_ROWS:-30000}

t_csv_instance "$T/i" || exit 1
"$GEN" --rows "$ROWS" > "$T/users.csv"
cp "$T/users.csv" "$T/i/in/.u.tmp" && mv "$T/i/in/.u.tmp" "$T/i/in/users.csv"
count() { sqlite3 "$T/i/store.db" "SELECT COUNT(*) FROM $1"; }

# An ASan runtime that must come first in the library list refuses a
# preloaded library: say so instead of a false failure.
LD_PRELOAD="$SHIM" MID_TEST_KILL_AFTER_RENAME_TO='*/arch/users.*Z.csv' \
	mobileidctl -c "$T/i/mobileidd.json" sync run pacs >"$T/run1.out" 2>&1
rc=$?
if grep -q "ASan runtime does not come first" "$T/run1.out"; then
	t_skip_all "the sanitizer runtime refuses LD_PRELOAD"
fi
t_eq "the run was killed by the shim" "$rc" 137
ls "$T/i/arch" | sed "s/^/# archive: /"
t_eq "the file is in the archive" "$(ls "$T/i/arch" | grep -c -E '^users\.[0-9]{8}T[0-9]{6}Z\.csv$')" 1
t_eq "the inbox is empty" "$(ls "$T/i/in" | wc -l)" 0
t_eq "every row of the archived file is stored" "$(count people)" "$ROWS"
t_eq "every row has its link" "$(count links)" "$ROWS"
t_ok "the next run (nothing in the inbox) succeeds" \
	mobileidctl -c "$T/i/mobileidd.json" sync run pacs
t_grep "... and says there was nothing to read" "nothing new" "$T/last.out"
t_eq "... and nothing changed" "$(count people)" "$ROWS"
# csv1:DEV:INODE:SIZE:MTIME:OFFSET:LINE:NAME -- the stored cursor is at the
# end of the file (offset = size), taken in the killed run (the second run
# had nothing to read)
size=$(stat -c %s "$T/users.csv")
t_eq "the cursor stored before the kill is at the end of the file" \
	"$(sqlite3 "$T/i/store.db" "SELECT cursor FROM cursors WHERE binding='pacs'" |
	   awk -F: '{ print $6 "/" $4 }')" "$size/$size"
t_done
