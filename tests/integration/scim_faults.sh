#!/bin/bash
# tests/integration/scim_faults.sh -- the rest connector against the SCIM
# server with faults injected between them: 500s, 429 and 503 with
# Retry-After (seconds and HTTP date), connection resets, slow and truncated
# responses, writes applied whose answer is lost, and the server down for a
# while. No change is lost, nobody is duplicated, the outbox drains.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/scim_lib.sh"
command -v sqlite3 >/dev/null || t_skip_all "sqlite3 not installed"
command -v curl >/dev/null || t_skip_all "curl not installed"

N=2000
t_ok "SCIM server starts with $N users" scim_start $N
I=$T/inst
t_ok "init + plugin enable scim2" scim_instance "$I"
C="mobileidctl -c $I/mobileidd.json"
q() { sqlite3 "$I/store.db" "$1"; }
# short timeouts and backoff so the test stays fast
python3 - "$I/mobileidd.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
for b in c["bindings"]:
    if b["name"] == "scim2":
        b["settings"]["timeout_ms"] = 1000
        b["settings"]["retry"] = {"base_ms": 50, "max_ms": 1500, "max_attempts": 8,
                                  "push_max_attempts": 2, "max_total_ms": 8000}
json.dump(c, open(p, "w"), indent=1)
PY

# 1. a full pull through every kind of read fault
t_ok "faults on every 3rd request" scim_admin POST /faults \
	'{"every": 3, "kinds": ["500", "truncate", "reset", "slow", "429", "503", "502"], "retry_after": "1", "slow_ms": 2500}'
$C --json sync run scim2 >"$T/r1.json" 2>"$T/r1.err"
t_eq "full pull through faults exits 0" $? 0
t_grep "created $N" "\"created\": $N" "$T/r1.json"
scim_admin GET /stats >"$T/s1.json"
t_grep "faults were injected (500)" '"500":[1-9]' "$T/s1.json"
t_grep "faults were injected (reset)" '"reset":[1-9]' "$T/s1.json"
t_grep "faults were injected (truncate)" '"truncate":[1-9]' "$T/s1.json"
t_grep "faults were injected (slow)" '"slow":[1-9]' "$T/s1.json"
t_eq "$N people" "$(q 'select count(*) from people')" $N

# 2. Retry-After as an HTTP date; server-side changes arrive through faults
t_ok "server: rename 10" scim_admin POST /mutate '{"ids": ["u000000011","u000000012","u000000013","u000000014","u000000015","u000000016","u000000017","u000000018","u000000019","u000000020"], "set": {"name.givenName": "Faulty"}}'
t_ok "429/503 with an HTTP-date Retry-After" scim_admin POST /faults '{"every": 2, "kinds": ["429", "503"], "retry_after": "date"}'
$C --json sync run scim2 >"$T/r2.json" 2>&1
t_eq "incremental pull through rate limits exits 0" $? 0
t_eq "the 10 server changes arrived" "$(q "select count(*) from people where given_name='Faulty'")" 10

# 3. writes through faults: lost answers, resets, 500s, 429s
for i in $(seq 1 20); do $C people add --given W$i --family Faults --email w$i@example.com --employee-id W$i >/dev/null || echo "add W$i failed"; done
for i in $(seq 21 30); do $C people update E0000$i --family Patched >/dev/null || echo "update E0000$i failed"; done
t_ok "write faults on every 2nd request" scim_admin POST /faults '{"every": 2, "kinds": ["reset_after", "500", "reset", "429"], "retry_after": "1", "methods": ["POST", "PATCH", "DELETE"]}'
$C sync run scim2 >"$T/r3.out" 2>&1
pending=$(q "select count(*) from outbox where binding='scim2' and state!='done'")
echo "# after the faulty push: $pending outbox entries still pending"

# 4. the server goes down for a while; more changes meanwhile
# (the changes are queued first, so the down window is not used up by the
# CLI starting five times, which under the sanitizers takes seconds)
for i in $(seq 21 25); do $C people add --given W$i --family Faults --email w$i@example.com --employee-id W$i >/dev/null; done
# The run's retries (max_attempts 8: backoff 50 ms doubling to max_ms 1.5 s,
# 4.5 s in all) must give up while the port is closed: with 4 s down a run
# that started late under load outlasted the window and succeeded (CI, once).
# 8 s leaves the CLI 3.5 s to start.
t_ok "server down for 8 s" scim_admin POST /down '{"ms": 8000}'
t_fails "a sync while the server is down fails" $C sync run scim2
t_eq "nothing was swept while it was down" "$(q "select count(*) from people where status!='active'")" 0
sleep 3
t_ok "the server is back" t_wait_port "$SCIM_PORT"
t_ok "no more faults" scim_admin POST /faults '{}'

# 5. the outbox drains once the server is back (entries wait out their backoff)
for round in $(seq 1 12); do
	$C sync run scim2 >"$T/r4.out" 2>&1
	left=$(q "select count(*) from outbox where binding='scim2' and state not in ('done')")
	[ "$left" -eq 0 ] && break
	sleep 2
done
t_eq "outbox drained" "$left" 0
t_eq "no dead letters" "$(q "select count(*) from outbox where binding='scim2' and state='dead'")" 0
scim_admin GET /dump >"$T/dump.json"
t_eq "SCIM: each of the 25 new people exactly once" "$(python3 -c '
import json,sys; u=json.load(open(sys.argv[1]))
n=[x["userName"] for x in u if x["userName"].startswith("w")]
print(len(n), len(set(n)))' "$T/dump.json")" "25 25"
t_eq "SCIM: the 10 patched people are patched" "$(python3 -c '
import json,sys; u=json.load(open(sys.argv[1]))
print(sum(1 for x in u if x["name"].get("familyName")=="Patched"))' "$T/dump.json")" 10
t_eq "SCIM: $N + 25 users" "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/dump.json")" $((N + 25))
t_eq "gateway: every new person linked once" "$(q "select count(*) from links l join people p on p.id=l.person_id where p.employee_id like 'W%' and l.binding='scim2'")" 25

# 6. a full pull after all that: nobody duplicated, nobody swept
$C --json sync run scim2 --full >"$T/r5.json" 2>&1
t_eq "final full pull exits 0" $? 0
t_grep "final full pull: no creates" '"created": 0' "$T/r5.json"
t_eq "gateway: $N + 25 people, all active" "$(q "select count(*) from people where status='active'")" $((N + 25))
t_eq "no duplicate person" "$(q 'select count(*) from (select email from people group by email having count(*) > 1)')" 0
t_done
