#!/bin/bash
# tests/integration/sync_csv.sh -- the sync engine with the CSV connector:
# import through a drop folder, re-import unchanged (no writes), modify,
# delete under the delete guard, dry run, lease, and both directions.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
GEN=${GEN_PACS_CSV:-/work/shared/bench/gen-pacs-csv}
[ -x "$GEN" ] || GEN="$top_srcdir/tests/bench/gen-pacs-csv"
[ -x "$GEN" ] || t_skip_all "gen-pacs-csv not found"

I=$T/inst
t_ok "init" mobileidctl init "$I"
mkdir -p "$I/in" "$I/arch" "$I/out"
python3 - "$I" <<'PY'
import json, sys
d = sys.argv[1]
p = d + "/mobileidd.json"
c = json.load(open(p))
c["bindings"] = [
  {"name": "pacs", "connector": "csv", "direction": "inbound", "match": ["employee_id", "email"],
   "settings": {"inbox_dir": d + "/in", "archive_dir": d + "/arch", "id_column": "employee_id"}},
  {"name": "export", "connector": "csv", "direction": "outbound",
   "settings": {"inbox_dir": d + "/in2", "archive_dir": d + "/arch", "id_column": "employee_id",
                "outbound_dir": d + "/out",
                "export_columns": ["employee_id", "given_name", "family_name", "email", "status"]}},
]
json.dump(c, open(p, "w"), indent=1)
PY
mkdir -p "$I/in2"
C="mobileidctl -c $I/mobileidd.json"
DB=$I/store.db
q() { sqlite3 "$DB" "$1"; }

drop() { "$GEN" "$@" > "$I/in/.users.tmp" && mv "$I/in/.users.tmp" "$I/in/users.csv"; }

# 1. first import
drop --rows 1000
t_ok "first import" $C sync run pacs
t_eq "1000 people" "$(q 'select count(*) from people')" 1000
t_eq "1000 links" "$(q "select count(*) from links where binding='pacs'")" 1000
t_eq "1000 PACS card values" "$(q "select count(*) from pacs_values where binding='pacs'")" 1000
t_eq "no duplicate employee ids" "$(q 'select count(*) from (select employee_id from people group by employee_id having count(*) > 1)')" 0
t_eq "file archived" "$(ls "$I/in" | wc -l)" 0
$C --json runs list pacs > "$T/runs.json"
t_grep "run report has created 1000" '"created": 1000' "$T/runs.json"
t_eq "outbox has one entry per person for the outbound binding" "$(q "select count(*) from outbox where binding='export' and state='pending'")" 1000

# 2. re-import unchanged: no writes to people or links
before=$(q 'select max(updated), count(*) from people; select max(updated), count(*) from links; select count(*) from outbox; select count(*) from audit')
drop --rows 1000
$C --json sync run pacs > "$T/r2.json"; rc=$?
t_eq "re-import exits 0" "$rc" 0
t_grep "re-import: 1000 unchanged" '"unchanged": 1000' "$T/r2.json"
t_grep "re-import: 0 updated" '"updated": 0' "$T/r2.json"
after=$(q 'select max(updated), count(*) from people; select max(updated), count(*) from links; select count(*) from outbox; select count(*) from audit')
t_eq "re-import wrote no people, links, outbox or audit rows" "$after" "$before"

# 3. modify some rows
drop --rows 1000 --change 5
$C --json sync run pacs > "$T/r3.json"
t_grep "modify: some updated" '"updated": [1-9][0-9]*' "$T/r3.json"
t_grep "modify: nothing created" '"created": 0' "$T/r3.json"
t_eq "still 1000 people" "$(q 'select count(*) from people')" 1000
t_ok "people show by employee id" $C people show E0000063
t_grep "people show lists the link" "pacs: E0000063" "$T/last.out"

# 4. delete a few rows (snapshot mode): suspended, within the guard
sus0=$(q "select count(*) from people where status='suspended'")
drop --rows 1000 --change 5 --delete 3
$C --json sync run pacs > "$T/r4.json"; rc=$?
t_eq "small delete passes the guard" "$rc" 0
gone=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["delete_candidates"])' "$T/r4.json")
t_ok "some rows were absent" test "$gone" -gt 0
t_eq "absent rows lost their link" "$(q "select count(*) from links where binding='pacs'")" $((1000 - gone))
sus1=$(q "select count(*) from people where status='suspended'")
t_ok "absent people are suspended" test "$sus1" -ge $((sus0 + gone - 1))
t_eq "nobody purged" "$(q 'select count(*) from people')" 1000

# 5. a large delete trips the guard
drop --rows 1000 --change 5 --delete 40
t_fails "large delete is stopped" $C sync run pacs
t_grep "message names the ratio" "max_delete_ratio" "$T/last.out"
t_grep "message says how to go on" "allow-deletes" "$T/last.out"
# (rows absent in step 4 may come back in this file: they are linked again)
t_ok "guard: no link swept" test "$(q "select count(*) from links where binding='pacs'")" -ge $((1000 - gone))
t_eq "run stored as stopped" "$(q "select status from runs order by id desc limit 1")" stopped

# 6. dry run writes nothing and leaves the file
# (the newest archived file: two files archived within one second are
# users.STAMP.csv and users.STAMP-1.csv, so pick by time, not by name)
cp "$I/arch/"$(ls -t "$I/arch" | grep -E '^users\.[0-9TZ]+(-[0-9]+)?\.csv$' | head -1) "$I/in/.x.tmp" && mv "$I/in/.x.tmp" "$I/in/users.csv"
before=$(q 'select max(updated), count(*) from people; select count(*) from links; select count(*) from runs; select count(*) from audit')
t_ok "dry run" $C sync run pacs --dry-run --allow-deletes 1000
t_grep "dry run shows examples of suspensions" "^  suspend " "$T/last.out"
t_grep "dry run says nothing was written" "nothing written" "$T/last.out"
after=$(q 'select max(updated), count(*) from people; select count(*) from links; select count(*) from runs; select count(*) from audit')
t_eq "dry run changed nothing" "$after" "$before"
t_eq "dry run left the file" "$(ls "$I/in")" users.csv
t_ok "allow-deletes lets the run through" $C sync run pacs --allow-deletes 1000
t_ok "fewer links now" test "$(q "select count(*) from links where binding='pacs'")" -lt $((1000 - gone))

# 7. lease: a second run while one holds the lease is refused, naming the holder
exp=$(( $(date +%s) * 1000 + 600000 ))
q "insert or replace into leases(name, holder, expires) values ('sync:pacs', 'cli:test pid 1 on otherhost', $exp)"
drop --rows 10
t_fails "second run refused" $C sync run pacs
t_grep "refusal names the holder" "otherhost" "$T/last.out"
q "delete from leases where name='sync:pacs'"
rm -f "$I/in/users.csv"

# 8. outbound: the export binding writes a file through the CSV connector
t_ok "outbox list" $C outbox list --binding export --limit 3
t_ok "sync run export pushes" $C --json sync run export
t_grep "pushed entries" '"pushed": [1-9]' "$T/last.out"
f=$(ls "$I/out" | grep -E '^export-[0-9]+\.csv$' | head -1)
t_ok "export file written" test -n "$f"
t_grep "export file holds a known person" "E0000001" "$I/out/$f"
t_eq "outbox drained" "$(q "select count(*) from outbox where binding='export' and state='pending'")" 0

# 10. a first import large enough to fill the bulk key filter's first layer
# (about 420,000 keys, 3 a row: employee id, email, card), with rows at the
# end that bring new employee ids but emails of rows from both layers: each
# must find its person (by email), none may create one
I2=$T/big
t_csv_instance "$I2"
"$GEN" --rows 150000 > "$T/big.csv"
python3 - "$T/big.csv" <<'PY'
import csv, sys
p = sys.argv[1]
rows = list(csv.reader(open(p, newline="", encoding="utf-8")))
h, body = rows[0], rows[1:]
ei, ci = h.index("employee_id"), h.index("card_number")
extra = []
for k, i in enumerate([3, 500, 70000, 139000, 141000, 149990]):
    r = list(body[i])
    r[ei] = "X%07d" % k
    r[ci] = str(9000000 + k)
    extra.append(r)
w = csv.writer(open(p, "a", newline="", encoding="utf-8"), lineterminator="\n")
w.writerows(extra)
PY
cp "$T/big.csv" "$I2/in/.u.tmp" && mv "$I2/in/.u.tmp" "$I2/in/users.csv"
mobileidctl -c "$I2/mobileidd.json" sync run pacs > "$T/big.out" 2>&1
t_eq "150,000-row first import: one person per email" \
	"$(sqlite3 "$I2/store.db" 'select count(*) from people')" 150000
t_eq "150,000-row first import: no email twice" \
	"$(sqlite3 "$I2/store.db" "select count(*) from (select email from people group by email having count(*) > 1)")" 0
t_grep "150,000-row first import: the six late rows matched by email are reported" \
	"disputed *6" "$T/big.out"

# 9. status, runs, people
t_ok "sync status" $C sync status
t_grep "status lists the binding" "^pacs" "$T/last.out"
t_ok "runs show" $C runs show 2
t_ok "people count" $C people count
t_ok "people list --status suspended" $C people list --status suspended --limit 5
t_ok "outbox retry --all" $C outbox retry --all
t_fails "unknown binding" $C sync run nosuch
t_grep "unknown binding named" "nosuch" "$T/last.out"
for cmd in "sync run" "sync status" "runs list" "runs show" "people list" "people show" "people count" "outbox list" "outbox retry"; do
	t_ok "$cmd --help" $C $cmd --help
done
t_done
