#!/bin/bash
# tests/integration/gallagher.sh -- the gallagher-command-centre plugin on
# the rest connector against tests/peers/gallagher-sim.mjs, a SIMULATOR of
# the Command Centre REST API written from Gallagher's public documentation
# (it is not Command Centre). HTTPS with a test CA and a pinned client
# certificate made here with openssl; GGL-API-KEY keys; plugin test (good
# key, wrong key, wrong certificate, read-only operator); first sync with
# paging; changes-feed deltas; a Mobile ID written back as a card through
# PATCH, kept equal to the person's active Mobile IDs (read-modify-write of
# the cardholder's cards of the mobile credential type: no second card on a
# later update, the card of a revoked Mobile ID removed by its href); a push
# that would send the same request as the last one is skipped (no GET, no
# PATCH).
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
command -v node >/dev/null 2>&1 || t_skip_all "node not installed"
command -v openssl >/dev/null 2>&1 || t_skip_all "openssl not installed"
command -v curl >/dev/null 2>&1 || t_skip_all "curl not installed"
command -v sqlite3 >/dev/null 2>&1 || t_skip_all "sqlite3 not installed"

SIM="$top_srcdir/tests/peers/gallagher-sim.mjs"
PROFILE="$top_srcdir/plugins/gallagher-command-centre/profile.json"
B=gallagher-command-centre
N=2500
KEY=1A2B-3C4D-5E6F-7A8B-9C0D-1E2F-3A4B-5C6D
VIEWKEY=9999-AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-0000

# 1. a test CA, the simulator's server certificate, the gateway's client
#    certificate (pinned) and another one (not pinned)
P=$T/pki
mkdir -p "$P"
mkpki() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 -subj "/CN=Test CC CA" &&
	openssl req -newkey rsa:2048 -nodes -keyout "$P/server.key" -out "$P/server.csr" -subj "/CN=127.0.0.1" &&
	printf 'subjectAltName=IP:127.0.0.1\n' >"$P/san.ext" &&
	openssl x509 -req -in "$P/server.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
		-extfile "$P/san.ext" -out "$P/server.pem" &&
	for c in client other; do
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/$c.key" -out "$P/$c.pem" -days 2 -subj "/CN=mobileid-$c" || return 1
	done
} >"$T/pki.log" 2>&1
t_ok "test CA, server and client certificates (openssl)" mkpki
PIN=$(openssl x509 -in "$P/client.pem" -noout -fingerprint -sha1 | sed 's/.*=//')

# 2. the simulator, seeded: card types, PDFs, N cardholders
PORT=$(t_port)
URL="https://127.0.0.1:$PORT"
node "$SIM" --port "$PORT" --tls-cert "$P/server.pem" --tls-key "$P/server.key" --pin "$PIN" \
	--api-key "$KEY" --api-key "$VIEWKEY:view" >"$T/sim.log" 2>&1 &
SIM_PID=$!
t_on_exit "kill $SIM_PID"
t_ok "simulator listens on 127.0.0.1:$PORT" t_wait_port "$PORT"
sim() { # METHOD PATH [JSON]
	curl -sS -f --cacert "$P/ca.pem" -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "$URL$2"
}
node -e '
const n = Number(process.argv[1]), chs = [];
for (let i = 1; i <= n; i++) {
	const e = "E" + String(i).padStart(5, "0");
	chs.push({ id: 1000 + i, firstName: "Given" + i, lastName: "Family" + i, authorised: i % 50 !== 0,
		"@email": "person" + i + "@example.com", "@employeeId": e, "@mobile": "+6421" + String(i).padStart(6, "0") });
}
chs[0].cards = [{ type: { href: "/api/card_types/600" }, number: "101" }];
process.stdout.write(JSON.stringify({
	cardTypes: [{ id: 600, name: "Staff card", credentialClass: "card" }, { id: 654, name: "Mobile ID", credentialClass: "mobile" }],
	pdfs: [{ id: 5516, name: "email", type: "email" }, { id: 9998, name: "mobile", type: "mobile" }, { id: 2356, name: "employeeId", type: "string" }],
	cardholders: chs }));' "$N" >"$T/seed.json"
t_ok "simulator seeded with $N cardholders" sim POST /__sim/seed "@$T/seed.json"

# The simulator's documented behaviour, seen with curl
curl -s --cacert "$P/ca.pem" -o "$T/401.json" -w '%{http_code}' -H "Authorization: GGL-API-KEY nope" "$URL/api/cardholders" >"$T/401.code"
t_eq "simulator: an unknown API key is answered 401" "$(cat "$T/401.code")" 401
t_grep "simulator: the 401 body says why" '"message":"A REST connection was attempted with an invalid API key"' "$T/401.json"
curl -s --cacert "$P/ca.pem" --cert "$P/client.pem" --key "$P/client.key" -H "Authorization: GGL-API-KEY $KEY" \
	"$URL/api/cardholders/changes" >"$T/bookmark.json"
t_grep "simulator: the first changes call gives no results and a next link" '^\{"results":\[\],"next":\{"href":"https://127.0.0.1:[0-9]+/api/cardholders/changes\?pos=[0-9]+"' "$T/bookmark.json"

# 3. init and plugin enable with flags
I=$T/inst
C="mobileidctl -c $I/mobileidd.json"
q() { sqlite3 "$I/store.db" "$1"; }
t_ok "mobileidctl init" mobileidctl init "$I"
enable() { # BINDING KEY CERT
	$C plugin enable $B --binding "$1" --base-url "$URL" --api-key "$2" --ca-file "$P/ca.pem" \
		--client-cert "$P/$3.pem" --client-key "$P/$3.key" \
		--card-type-href "$URL/api/card_types/654" --division-href "$URL/api/divisions/2" \
		--pdf-email email --pdf-mobile mobile --pdf-employee-id employeeId </dev/null
}
t_ok "plugin enable $B (flags: base URL, API key, CA, client certificate and key, card type, division, PDF names)" enable $B "$KEY" client
t_nogrep "the API key is not in the config" "$KEY" "$I/mobileidd.json"
t_eq "the API key is a secret reference" "$(grep -A1 '"api_key"' "$I/mobileidd.json" | grep -c '"secret": "gallagher-command-centre-api-key"')" 1

# The site values (card type href, division href, PDF names) are installer
# variables of the profile (settings.vars, {{$vars.NAME}} in its templates),
# given above as flags: the binding needs no copy of the mapping.
vars_of() { node -e '
const cfg = JSON.parse(require("fs").readFileSync(process.argv[1]));
const b = cfg.bindings.find((x) => x.name === process.argv[2]);
const v = (b.settings && b.settings.vars) || {};
console.log([v.card_type_href, v.division_href, v.pdf_email, v.pdf_mobile, v.pdf_employee_id, "mapping" in b].join(" "));' "$I/mobileidd.json" "$1"; }
t_eq "plugin enable takes the mobile credential card type, the division and the PDF names as flags" \
	"$(vars_of $B)" "$URL/api/card_types/654 $URL/api/divisions/2 email mobile employeeId false"
t_ok "config check" $C config check
t_fails "plugin enable refuses a PDF name given with its @" $C plugin enable $B --binding ggl-bad-pdf --base-url "$URL" \
	--api-key "$KEY" --ca-file "$P/ca.pem" --client-cert "$P/client.pem" --client-key "$P/client.key" \
	--card-type-href "$URL/api/card_types/654" --division-href "$URL/api/divisions/2" \
	--pdf-email @email --pdf-mobile mobile --pdf-employee-id employeeId

# 4. plugin test: good key; wrong key; certificate not pinned; read-only operator
$C plugin test $B >"$T/test.out" 2>&1
t_eq "plugin test passes" $? 0
t_grep "plugin test: reachability ok (TLS verified)" "OK +reachability.*TLS, certificate verified" "$T/test.out"
t_grep "plugin test: authentication ok" "OK +authentication.*API key accepted" "$T/test.out"
t_grep "plugin test: permissions ok (list + write probe)" "OK +permissions.*write probe answered 404" "$T/test.out"

t_ok "plugin enable a binding with a wrong key" enable ggl-wrong-key 0000-0000-0000-0000-0000-0000-0000-0000 client
$C plugin test ggl-wrong-key >"$T/test-wrong.out" 2>&1
t_eq "plugin test with a wrong key exits 1" $? 1
t_grep "wrong key: authentication FAIL says 401 and why" "FAIL +authentication.*401.*invalid API key" "$T/test-wrong.out"
t_grep "wrong key: permissions not tried" "SKIP +permissions" "$T/test-wrong.out"

t_ok "plugin enable a binding with a certificate that is not pinned" enable ggl-other-cert "$KEY" other
$C plugin test ggl-other-cert >"$T/test-cert.out" 2>&1
t_eq "plugin test with an unpinned certificate exits 1" $? 1
t_grep "unpinned certificate: authentication FAIL says why" "FAIL +authentication.*401.*invalid client certificate" "$T/test-cert.out"

t_ok "plugin enable a binding whose operator may only view" enable ggl-view-only "$VIEWKEY" client
$C plugin test ggl-view-only >"$T/test-view.out" 2>&1
t_eq "plugin test with a view-only operator exits 1" $? 1
t_grep "view-only: authentication ok" "OK +authentication" "$T/test-view.out"
t_grep "view-only: permissions FAIL (write probe 403)" "FAIL +permissions.*403.*no write permission" "$T/test-view.out"

# 5. dry run, then the first sync: every cardholder, pages followed by next.href
$C --json sync run $B --dry-run >"$T/dry.json" 2>"$T/dry.err"
t_eq "dry run exits 0" $? 0
t_grep "dry run would create $N" "\"created\": $N" "$T/dry.json"
t_eq "dry run wrote no people" "$(q 'select count(*) from people')" 0
$C --json sync run $B >"$T/r1.json" 2>"$T/r1.err"
t_eq "first sync exits 0" $? 0
t_grep "first sync created $N" "\"created\": $N" "$T/r1.json"
t_eq "$N links" "$(q "select count(*) from links where binding='$B'")" $N
sim GET /__sim/state >"$T/state1.json"
listreq() { node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1]));
console.log(s.requests.filter((r) => /^\/api\/cardholders\?.*skip=/.test(r.path)).map((r) => r.path.replace(/.*skip=([0-9]+).*/, "$1")).join(" "))' "$1"; }
t_eq "dry run and first sync each read the list in 3 pages by following next.href" "$(listreq "$T/state1.json")" "1000 2000 1000 2000"
t_eq "names, email, employee id from PDFs" "$(q "select given_name||' '||family_name||' '||email||' '||employee_id from people where employee_id='E00007'")" \
	"Given7 Family7 person7@example.com E00007"
t_eq "mobile from the @mobile PDF" "$(q "select mobile from people where employee_id='E00007'")" "+6421000007"
t_eq "authorised=false is suspended" "$(q "select count(*) from people where status='suspended'")" $((N / 50))

# 6. nothing changed: the next run reads the changes feed, finds nothing
$C --json sync run $B >"$T/r2.json" 2>&1
t_eq "second sync exits 0" $? 0
t_grep "second sync: nothing created" '"created": 0' "$T/r2.json"
t_grep "second sync: nothing updated" '"updated": 0' "$T/r2.json"

# 7. changes in Command Centre (an operator at a workstation): rename one,
#    de-authorise one, add one, remove one
t_ok "simulator: rename cardholder 1005" sim PATCH /__sim/cardholders/1005 '{"firstName": "Renamed", "@email": "renamed@example.com"}'
t_ok "simulator: de-authorise cardholder 1006" sim PATCH /__sim/cardholders/1006 '{"authorised": false}'
t_ok "simulator: add a cardholder" sim POST /__sim/cardholders \
	'{"firstName": "New", "lastName": "Starter", "authorised": true, "division": {"href": "/api/divisions/2"}, "@employeeId": "E99999", "@email": "new@example.com"}'
t_ok "simulator: remove cardholder 1008" sim DELETE /__sim/cardholders/1008
$C --json sync run $B >"$T/r3.json" 2>"$T/r3.err"
t_eq "delta sync exits 0" $? 0
t_grep "delta sync: 1 created" '"created": 1' "$T/r3.json"
t_grep "delta sync: 2 updated" '"updated": 2' "$T/r3.json"
t_eq "the rename arrived through the changes feed" "$(q "select given_name||' '||email from people where employee_id='E00005'")" "Renamed renamed@example.com"
t_eq "the de-authorisation arrived: suspended" "$(q "select status from people where employee_id='E00006'")" suspended
t_eq "the new cardholder arrived" "$(q "select given_name from people where employee_id='E99999'")" New
sim GET /__sim/state >"$T/state2.json"
t_grep "the delta followed the changes feed's next link" '"path":"/api/cardholders/changes\?[^"]*pos=' "$T/state2.json"
t_eq "the delta did not list all cardholders again" "$(listreq "$T/state2.json")" "1000 2000 1000 2000"
t_eq "the removal arrived through the changes feed (id from item.href): suspended" \
	"$(q "select status from people where employee_id='E00008'")" suspended
$C --json sync run $B --full >"$T/r4.json" 2>&1
t_eq "a full sync (reconciliation) exits 0" $? 0
t_eq "after the full reconciliation the removed cardholder is still suspended" "$(q "select status from people where employee_id='E00008'")" suspended

# 8. a Mobile ID issued in the gateway goes back as a card of the mobile
#    credential card type through PATCH .../cards.add
t_ok "gateway: issue a Mobile ID to E00010" $C credentials issue E00010 --facility-code 77 --card-number 4242
CRED=$($C --json credentials list E00010 2>/dev/null | grep -o '"id": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
# The mapper pushes active Mobile IDs only; a phone enrolling makes it
# active (tests/e2e covers enrollment). Here the store is set as if a phone
# had enrolled, and a change of the person queues the push.
q "update credentials set status='active' where id='$CRED'" >/dev/null
t_ok "gateway: a change of E00010 queues the push" $C people update E00010 --family Enrolled
$C --json sync run $B >"$T/r5.json" 2>"$T/r5.err"
t_eq "sync with the active Mobile ID exits 0" $? 0
cards() { # CARDHOLDER-ID -> "type-id number state" per card of type 654
	sim GET /__sim/state | node -e '
	const s = JSON.parse(require("fs").readFileSync(0)), ch = s.cardholders.find((c) => c.id === process.argv[1]);
	for (const c of (ch && ch.cards) || []) if (c.type.href.endsWith("/api/card_types/654")) console.log(c.number, c.status.value);' "$1"
}
t_eq "simulator: cardholder 1010 has one card of the mobile credential type, number 4242" "$(cards 1010)" "4242 Active"
sim GET /__sim/state >"$T/state3.json"
t_grep "it was written with PATCH /api/cardholders/1010" '"method":"PATCH","path":"/api/cardholders/1010","status":204' "$T/state3.json"
t_eq "outbox drained" "$(q "select count(*) from outbox where binding='$B' and state!='done'")" 0

t_ok "gateway: rename E00010 again" $C people update E00010 --family Changed
$C --json sync run $B >"$T/r6.json" 2>"$T/r6.err"
t_eq "sync after the rename exits 0" $? 0
t_eq "the rename reached Command Centre" "$(sim GET /__sim/state | node -e '
const s = JSON.parse(require("fs").readFileSync(0)); console.log(s.cardholders.find((c) => c.id === "1010").lastName);')" Changed
t_eq "a later update of the person does not add a second card" "$(cards 1010)" "4242 Active"
sim GET /__sim/state >"$T/state4.json"
t_grep "the push read the cardholder's cards before the PATCH" '"method":"GET","path":"/api/cardholders/1010\?fields=cards","status":200' "$T/state4.json"

# 9. a second Mobile ID, then revoke the first: its card (found by number
#    among the cards of the mobile credential type, removed by the card's
#    href) goes, the second stays; the staff card of another type is
#    never touched
t_ok "simulator: cardholder 1010 also has a staff card (another card type)" \
	sim PATCH /__sim/cardholders/1010 '{"cards": {"add": [{"type": {"href": "/api/card_types/600"}, "number": "9001"}]}}'
t_ok "gateway: issue a second Mobile ID to E00010" $C credentials issue E00010 --facility-code 77 --card-number 4343
CRED2=$($C --json credentials list E00010 2>/dev/null | node -e '
const l = JSON.parse(require("fs").readFileSync(0)); const a = Array.isArray(l) ? l : l.credentials;
console.log(a.find((c) => String(c.card_number) === "4343").id);')
q "update credentials set status='active' where id='$CRED2'" >/dev/null
t_ok "gateway: a change of E00010 queues the push" $C people update E00010 --given Twice
$C --json sync run $B >"$T/r7.json" 2>"$T/r7.err"
t_eq "sync with two active Mobile IDs exits 0" $? 0
t_eq "both Mobile IDs are cards of the mobile credential type" "$(cards 1010 | sort)" "4242 Active
4343 Active"
t_ok "gateway: revoke the first Mobile ID" $C credentials revoke "$CRED" --reason test
t_eq "the revoke queued a push of the person" "$(q "select count(*) from outbox where binding='$B' and state!='done'")" 1
$C --json sync run $B >"$T/r8.json" 2>"$T/r8.err"
t_eq "sync after the revoke exits 0" $? 0
t_eq "the revoked Mobile ID's card is removed from the cardholder; the other stays" "$(cards 1010)" "4343 Active"
sim GET /__sim/state >"$T/state5.json"
t_eq "the staff card of another card type is untouched" "$(node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1])), ch = s.cardholders.find((c) => c.id === "1010");
console.log(ch.cards.filter((c) => c.type.href.endsWith("/api/card_types/600")).map((c) => c.number).join(" "));' "$T/state5.json")" 9001
t_eq "outbox drained after the revoke" "$(q "select count(*) from outbox where binding='$B' and state!='done'")" 0

# 9b. nothing changed: a queued push whose request would be the same as
#     the last successful one is skipped (links.push_hash), so it costs no
#     GET of the cards and no PATCH. The sync before it reads our own PATCH
#     back from the changes feed: an echo, which keeps the push hash.
mark() { curl -s -o /dev/null --cacert "$P/ca.pem" "$URL/api/__mark/$1"; }
since() { # MARK -> "METHOD PATH" of each API request after the mark
	sim GET /__sim/state | node -e '
	const s = JSON.parse(require("fs").readFileSync(0)), m = "/api/__mark/" + process.argv[1];
	const i = s.requests.map((r) => r.path).lastIndexOf(m);
	if (i < 0) console.log("MARK-LOST");
	for (const r of s.requests.slice(i + 1)) console.log(r.method, r.path);' "$1"
}
pending() { q "select count(*) from outbox where binding='$B' and state!='done'"; }
P10="(select id from people where employee_id='E00010')"
t_eq "the cardholder's link has a push hash" "$(q "select count(*) from links where binding='$B' and person_id=$P10 and push_hash is not null")" 1
mark nochange1
$C --json sync run $B >"$T/r8b.json" 2>"$T/r8b.err"
t_eq "a sync with nothing changed exits 0" $? 0
t_eq "... and sends no PATCH" "$(since nochange1 | grep -c -e '^PATCH' -e MARK-LOST)" 0
t_eq "... and keeps the push hash (the PATCH read back is an echo)" "$(q "select count(*) from links where binding='$B' and person_id=$P10 and push_hash is not null")" 1
t_ok "gateway: an update of E00010 that changes nothing queues a push" $C people update E00010 --given Twice
t_ok "gateway: a third Mobile ID, pending (no phone yet), queues a push" $C credentials issue E00010 --facility-code 77 --card-number 4444
t_eq "... two entries pending" "$(pending)" 2
mark nochange2
$C --json sync run $B >"$T/r8c.json" 2>"$T/r8c.err"
t_eq "sync with the unchanged pushes exits 0" $? 0
t_eq "the unchanged pushes send nothing for the cardholder (no GET of its cards, no PATCH)" \
	"$(since nochange2 | grep -c -e '^PATCH' -e '/api/cardholders/1010' -e MARK-LOST)" 0
t_grep "... the run pushed nothing" '"pushed": 0' "$T/r8c.json"
t_eq "... and the entries are done" "$(pending)" 0
t_eq "the cardholder's cards are as before" "$(cards 1010)" "4343 Active"

# 10. the person is suspended in the gateway: de-authorised, and a revoke
#     of the last Mobile ID goes through the disable request
t_ok "gateway: revoke the second Mobile ID" $C credentials revoke "$CRED2" --reason test
$C --json sync run $B >"$T/r9.json" 2>"$T/r9.err"
t_eq "sync after the second revoke exits 0" $? 0
t_eq "no card of the mobile credential type is left" "$(cards 1010)" ""
t_done
