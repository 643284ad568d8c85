#!/bin/bash
# tests/integration/sync_crash.sh -- kill `mobileidctl sync run` with SIGKILL
# at random points of a large CSV import several times, let it finish, and
# show the end state equals one clean import into a fresh instance: same
# people, no duplicates, one link per row with the same content hashes,
# every card value known, cursor at the end of the file.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
GEN=${GEN_PACS_CSV:-/work/shared/bench/gen-pacs-csv}
[ -x "$GEN" ] || GEN="$top_srcdir/tests/bench/gen-pacs-csv"
[ -x "$GEN" ] || t_skip_all "gen-pacs-csv not found"
ROWS=${SYNC_CRASH_ROWS:-200000}
KILLS=${SYNC_CRASH_KILLS:-5}

drop() { cp "$T/users.csv" "$1/in/.users.tmp" && mv "$1/in/.users.tmp" "$1/in/users.csv"; }

"$GEN" --rows "$ROWS" > "$T/users.csv"
t_ok "crash instance" t_csv_instance "$T/a"
t_ok "clean instance" t_csv_instance "$T/b"
drop "$T/a"
drop "$T/b"

# The clean import first: its duration scales the kill points, so the
# kills land mid-import on a fast machine and on a slow one alike.
t0=$(date +%s.%N)
t_ok "clean import" mobileidctl -c "$T/b/mobileidd.json" sync run pacs
clean_s=$(python3 -c "import time; print(max(0.2, time.time() - $t0))")
echo "# the clean import took $clean_s s"

# Kill the import at random points: each run is killed a random moment
# (0-0.4 s) after its next batch commits, so every kill lands mid-import
# however fast the machine is, and usually mid-batch. Each run takes over
# the lease of the killed one (same host, process gone) and skips what
# earlier runs committed.
count() { sqlite3 "$T/a/store.db" 'select count(*) from people' 2>/dev/null || echo 0; }
killed=0
for i in $(seq 1 "$KILLS"); do
	[ -e "$T/a/in/users.csv" ] || break
	before=$(count)
	mobileidctl -c "$T/a/mobileidd.json" sync run pacs >"$T/run$i.out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ "$(count)" -le "$before" ]; do sleep 0.02; done
	sleep "$(python3 -c 'import random; print(round(random.uniform(0, 0.4), 2))')"
	if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
	wait "$pid" 2>/dev/null
	echo "# kill $i: $(count) people committed"
done
t_ok "killed at least twice mid-import" test "$killed" -ge 2
t_ok "the run after the crashes finishes" mobileidctl -c "$T/a/mobileidd.json" sync run pacs
[ -e "$T/a/in/users.csv" ] && t_ok "and archives the file" false
qa() { sqlite3 "$T/a/store.db" "$1"; }
qb() { sqlite3 "$T/b/store.db" "$1"; }
t_eq "people count equals the clean import" "$(qa 'select count(*) from people')" "$(qb 'select count(*) from people')"
t_eq "people = rows" "$(qa 'select count(*) from people')" "$ROWS"
t_eq "no duplicate employee ids" "$(qa 'select count(*) from (select employee_id from people group by employee_id having count(*) > 1)')" 0
t_eq "links = rows" "$(qa "select count(*) from links where binding='pacs'")" "$ROWS"
t_eq "every link has a person" "$(qa 'select count(*) from links l left join people p on p.id = l.person_id where p.id is null')" 0
t_eq "same content hashes as the clean import" \
	"$(qa "select external_id, hex(recv_hash) from links order by external_id" | md5sum)" \
	"$(qb "select external_id, hex(recv_hash) from links order by external_id" | md5sum)"
P="select employee_id, given_name, family_name, email, mobile, status, valid_from, valid_until, access_groups, attributes from people order by employee_id"
t_eq "same people content as the clean import" "$(qa "$P" | md5sum)" "$(qb "$P" | md5sum)"
t_eq "same card values" "$(qa 'select format, facility_code, card_number from pacs_values order by 1,2,3' | md5sum)" \
	"$(qb 'select format, facility_code, card_number from pacs_values order by 1,2,3' | md5sum)"
size=$(stat -c %s "$T/users.csv")
t_eq "cursor at the end of the file" "$(qa "select cursor from cursors where binding='pacs'" | cut -d: -f6)" "$size"
t_eq "clean cursor at the end too" "$(qb "select cursor from cursors where binding='pacs'" | cut -d: -f6)" "$size"
t_eq "no lease left behind" "$(qa "select count(*) from leases where name='sync:pacs'")" 0
t_ok "store integrity" test "$(qa 'pragma integrity_check')" = ok
t_done
