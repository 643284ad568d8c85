#!/bin/bash
# tests/integration/scim_sync.sh -- the scim2 plugin on the rest connector
# against a real SCIM server (scimmy): 10,000 users pulled, changed on both
# sides, suspended, deleted, credentials pushed back; the end state checked
# in the gateway (mobileidctl, the store) and in the SCIM server (its API).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/scim_lib.sh"
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
command -v curl >/dev/null || t_skip_all "curl not installed"

N=10000
t_ok "SCIM server starts with $N users" scim_start $N
I=$T/inst
t_ok "init + plugin enable scim2" scim_instance "$I"
C="mobileidctl -c $I/mobileidd.json"
q() { sqlite3 "$I/store.db" "$1"; }
t_nogrep "the token is not in the config" "$SCIM_TOKEN" "$I/mobileidd.json"

$C plugin test scim2 >"$T/test.out" 2>&1
t_grep "plugin test: reachability ok" "OK +reachability" "$T/test.out"
t_grep "plugin test: authentication ok" "OK +authentication" "$T/test.out"
t_grep "plugin test: permissions ok (list + write probe)" "OK +permissions.*listed 1 of $N.*write probe" "$T/test.out"

# 1. first (full) pull
$C --json sync run scim2 >"$T/r1.json" 2>"$T/r1.err"
t_eq "first pull exits 0" $? 0
t_grep "first pull created $N" "\"created\": $N" "$T/r1.json"
t_eq "$N people" "$(q 'select count(*) from people')" $N
t_eq "$N links" "$(q "select count(*) from links where binding='scim2'")" $N
t_eq "employee id from the enterprise extension" "$($C --json people show E000123 | grep -o '"given_name": "[^"]*"' | head -1)" '"given_name": "Given000123"'

# 2. an incremental pull right after: nothing changes
$C --json sync run scim2 >"$T/r2.json" 2>&1
t_grep "second pull: no creates" '"created": 0' "$T/r2.json"
t_grep "second pull: no updates" '"updated": 0' "$T/r2.json"
t_grep "second pull is incremental (lastModified filter)" 'changed since' "$T/r2.json"

# 3. changes on the SCIM side: 20 renamed, 5 deactivated, 10 deleted
ids() { seq -f "u%09g" "$1" "$2" | sed 's/^/"/; s/$/"/' | paste -sd, ; }
t_ok "server: rename 20" scim_admin POST /mutate "{\"ids\": [$(ids 101 120)], \"set\": {\"name.givenName\": \"Renamed\"}}"
t_ok "server: deactivate 5" scim_admin POST /mutate "{\"ids\": [$(ids 201 205)], \"set\": {\"active\": false}}"
t_ok "server: delete 10" scim_admin POST /delete "{\"ids\": [$(ids 301 310)]}"

# 4. changes on the gateway side
for i in 1 2 3; do
	t_ok "gateway: add person $i" $C people add --given New$i --family Person --email new$i@example.com --employee-id N00$i
done
for i in 401 402 403 404 405; do
	t_ok "gateway: rename E000$i" $C people update E000$i --family Changed
done
for i in 501 502 503; do t_ok "gateway: suspend E000$i" $C people suspend E000$i; done
for i in 601 602 603 604 605; do
	t_ok "gateway: credential for E000$i" $C credentials issue E000$i --facility-code 77 --card-number $((1000 + i - 600))
done
# Only active Mobile IDs are pushed; a phone enrolling activates one (tested
# end to end in e2e_standalone.sh). Here the store stands in for the phone,
# and a change to each person queues the push.
q "update credentials set status='active' where facility_code=77"
for i in 601 602 603 604 605; do t_ok "gateway: touch E000$i" $C people update E000$i --mobile +44700009$i; done
t_ok "gateway: delete E000701" $C people delete E000701
t_ok "gateway: delete E000702" $C people delete E000702

# 5. incremental sync: pull the SCIM changes, push ours
$C --json sync run scim2 >"$T/r3.json" 2>&1
t_eq "incremental sync exits 0" $? 0
t_grep "incremental: 25 updated (renames + deactivations)" '"updated": 25' "$T/r3.json"
t_grep "incremental: pushed" '"pushed": 1[0-9]' "$T/r3.json"
t_eq "outbox drained" "$(q "select count(*) from outbox where binding='scim2' and state!='done'")" 0
t_eq "renamed on the SCIM side arrived" "$(q "select count(*) from people where given_name='Renamed'")" 20
t_eq "deactivated on the SCIM side: suspended here" "$(q "select count(*) from people where employee_id between 'E000201' and 'E000205' and status='suspended'")" 5

# 6. full reconciliation sweeps the SCIM deletes
$C --json sync run scim2 --full >"$T/r4.json" 2>&1
t_eq "full sync exits 0" $? 0
t_eq "deleted on the SCIM side: suspended here" "$(q "select count(*) from people where employee_id between 'E000301' and 'E000310' and status='suspended'")" 10
t_eq "no duplicate person" "$(q 'select count(*) from (select employee_id from people group by employee_id having count(*) > 1)')" 0

# 7. the SCIM side
scim_admin GET /dump >"$T/dump.json"
py() { python3 - "$T/dump.json" "$@"; }
t_eq "SCIM: users = $N - 10 deleted + 3 new - 2 deleted" "$(py <<'PY'
import json,sys; print(len(json.load(open(sys.argv[1]))))
PY
)" $((N - 10 + 3 - 2))
t_eq "SCIM: the 3 new people exist once each, active" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
print(sum(1 for x in u if x["userName"].startswith("new") and x.get("active") is True))
PY
)" 3
t_eq "SCIM: new people carry employeeNumber and names" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
x=[x for x in u if x["userName"]=="new2@example.com"][0]
print(x["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], x["name"]["givenName"], x["externalId"])
PY
)" "N002 New2 N002"
t_eq "SCIM: renamed by the gateway" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
print(sum(1 for x in u if x["name"].get("familyName")=="Changed"))
PY
)" 5
t_eq "SCIM: suspended by the gateway are active=false" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
e=lambda x:x.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",{}).get("employeeNumber")
print(sum(1 for x in u if e(x) in ("E000501","E000502","E000503") and x.get("active") is False))
PY
)" 3
t_eq "SCIM: credentials pushed back" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
c=[x["urn:ietf:params:scim:schemas:extension:mobileid:2.0:User"] for x in u if "urn:ietf:params:scim:schemas:extension:mobileid:2.0:User" in x]
print(len(c), sorted(x.get("cardNumber") for x in c)[0], c[0].get("facilityCode"))
PY
)" "5 1001 77"
t_eq "SCIM: deleted by the gateway are gone" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
e=lambda x:x.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",{}).get("employeeNumber")
print(sum(1 for x in u if e(x) in ("E000701","E000702")))
PY
)" 0
t_eq "SCIM: one emails entry per user (PATCH replaced, not appended)" "$(py <<'PY'
import json,sys; u=json.load(open(sys.argv[1]))
print(sum(1 for x in u if len(x.get("emails",[]))>1))
PY
)" 0

# 8. a 409 on create correlates: a gateway person whose userName exists already
t_ok "server: a user the gateway does not know yet" curl -sf -X POST -H "Authorization: Bearer $SCIM_TOKEN" \
	-H 'Content-Type: application/scim+json' -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"twin@example.com"}' "$SCIM_URL/Users"
t_ok "gateway: add the same person" $C people add --given Twin --family Person --email twin@example.com --employee-id T001
$C --json sync run scim2 --no-push >/dev/null 2>&1  # the pull alone does not link it (no employee id there)
$C --json sync run scim2 >"$T/r5.json" 2>&1
t_eq "SCIM: still one twin@example.com" "$(scim_admin GET /dump | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin) if x["userName"]=="twin@example.com"))')" 1
t_eq "SCIM: the existing twin was updated (employeeNumber)" "$(scim_get '/Users?filter=userName%20eq%20%22twin@example.com%22' | python3 -c 'import json,sys; print(json.load(sys.stdin)["Resources"][0]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"])')" T001
t_eq "gateway: twin linked once" "$(q "select count(*) from links l join people p on p.id=l.person_id where p.employee_id='T001' and l.binding='scim2'")" 1
t_done
