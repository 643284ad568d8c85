#!/bin/bash
# The whole standalone path with real servers on loopback: an SMTP server
# (python3-aiosmtpd) catches the invitation, mobileidd serves the API, the
# phone simulator enrolls with the code from that mail, the reader simulator
# loads the bundle fetched with a reader token, challenges, and prints the
# Wiegand bits, facility code and card number. Then revoke: the next bundle
# carries it and the reader denies; online verification denies at once.
# Denials at the API level: wrong reader, wrong nonce, replay, truncated,
# oversized, forged issuer signature, bad device signature, suspended,
# not yet valid; and the phone's signed fetch refusing replays.
. "$top_srcdir/tests/integration/lib.sh"

# Debian's python3-aiosmtpd lives in the system python (a python3 earlier on
# PATH, e.g. pyenv, may not see it).
SMTPD_PY=
for py in /usr/bin/python3 python3; do
	if "$py" -c 'import aiosmtpd' 2>/dev/null; then SMTPD_PY=$py; break; fi
done
[ -n "$SMTPD_PY" ] || t_skip_all "python3-aiosmtpd is not installed"
command -v curl >/dev/null || t_skip_all "curl is not installed"

# ---- SMTP sink: every message becomes a file in $T/mail -----------------------
SMTP_PORT=$(t_port)
mkdir -p "$T/mail"
cat >"$T/smtp_sink.py" <<'EOF'
import asyncio, os, sys, time
from aiosmtpd.controller import Controller
folder, port = sys.argv[1], int(sys.argv[2])
class Sink:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(folder, "%d-%d.eml" % (time.time_ns(), os.getpid()))
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
try:
    asyncio.get_event_loop().run_forever()
finally:
    c.stop()
EOF
"$SMTPD_PY" "$T/smtp_sink.py" "$T/mail" "$SMTP_PORT" >"$T/smtp.log" 2>&1 &
SMTP_PID=$!
t_on_exit "kill $SMTP_PID"
t_wait_port "$SMTP_PORT"
t_result $? "SMTP server (aiosmtpd) listens on 127.0.0.1:$SMTP_PORT"

# ---- instance -----------------------------------------------------------------------
t_ok "mobileidctl init" mobileidctl init --site-name "E2E site" "$T/inst"
C="$T/inst/mobileidd.json"
HTTP_PORT=$(t_port)
python3 - "$C" "$HTTP_PORT" "$SMTP_PORT" <<'EOF'
import json, sys
path, http_port, smtp_port = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(path))
cfg["http"]["listen"] = "127.0.0.1:%s" % http_port
cfg["smtp"] = {"url": "smtp://127.0.0.1:%s" % smtp_port, "from": "gateway@example.org",
               "starttls": "none"}
json.dump(cfg, open(path, "w"), indent=2)
EOF
t_ok "config with smtp and http is valid" mobileidctl -c "$C" config check

mobileidd --foreground -c "$C" >"$T/daemon.log" 2>&1 &
D_PID=$!
t_on_exit "kill $D_PID"
t_wait_port "$HTTP_PORT"
t_result $? "mobileidd serves HTTP on 127.0.0.1:$HTTP_PORT"
URL="http://127.0.0.1:$HTTP_PORT"
t_ok "healthz" curl -sf "$URL/healthz"

json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

# ---- person -> credential -> invitation by email -------------------------------------------
mobileidctl -c "$C" --json people add --given Ada --family Lovelace --email ada@example.org \
	--employee-id E100 >"$T/person.json" 2>"$T/last.out"
t_result $? "person added"
mobileidctl -c "$C" --json credentials issue E100 --format H10301 --facility-code 1 \
	--card-number 4242 >"$T/cred.json" 2>"$T/last.out"
t_result $? "credential issued (H10301, FC 1, CN 4242)"
CRED=$(json '["id"]' <"$T/cred.json")
t_ok "invitation sent by email" mobileidctl -c "$C" invitations create "$CRED" --email
for i in $(seq 1 50); do ls "$T"/mail/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
MAIL=$(ls "$T"/mail/*.eml 2>/dev/null | head -1)
t_ok "the SMTP server received the invitation" test -s "$MAIL"
t_grep "the mail is addressed to the person" "ada@example.org" "$MAIL"
CODE=$(grep -oE '\b[A-Z0-9]{5}-[A-Z0-9]{5}\b' "$MAIL" | head -1)
t_ok "the mail carries a code" test -n "$CODE"

# ---- phone enrollment and fetch ----------------------------------------------------------------
t_fails "enroll with a wrong code is refused" mid-phone-sim enroll --url "$URL" --code ZZZZZ-ZZZZZ --state "$T/phone-x.json"
t_grep "the refusal is a 403" "answered 403" "$T/last.out"
t_ok "phone enrolls with the code from the mail" mid-phone-sim enroll --url "$URL" --code "$CODE" --state "$T/phone.json"
t_grep "the phone holds the credential" "credential $CRED format H10301 facility_code 1 card_number 4242" "$T/last.out"
t_eq "the phone state file is mode 0600" "$(stat -c %a "$T/phone.json")" 600
t_fails "the code is single use" mid-phone-sim enroll --url "$URL" --code "$CODE" --state "$T/phone-y.json"
t_ok "signed fetch" mid-phone-sim fetch --url "$URL" --state "$T/phone.json"
t_grep "fetch lists the credential" "$CRED" "$T/last.out"
t_ok "signed fetch with a chosen nonce" mid-phone-sim fetch --url "$URL" --state "$T/phone.json" --nonce e2e-nonce-000000001
t_fails "the same nonce again is a replay" mid-phone-sim fetch --url "$URL" --state "$T/phone.json" --nonce e2e-nonce-000000001
t_grep "the replay is named" "replay" "$T/last.out"
t_fails "a timestamp 10 minutes old is refused" mid-phone-sim fetch --url "$URL" --state "$T/phone.json" --timestamp $(( $(date +%s) - 600 ))
t_grep "clock skew is named" "300 s" "$T/last.out"

# ---- reader: bundle with a reader token, offline verification by the simulator -----------------
mobileidctl -c "$C" --json readers add "front door" >"$T/reader.json" 2>"$T/last.out"
t_result $? "reader added"
RTOK=$(json '["token"]' <"$T/reader.json")
RID=$(json '["id"]' <"$T/reader.json" | tr -d -)
mobileidctl -c "$C" --json readers add "back door" >"$T/reader2.json" 2>/dev/null
RID2=$(json '["id"]' <"$T/reader2.json" | tr -d -)
ISSUER=$(mobileidctl -c "$C" --json keys list | python3 -c 'import json,sys; print([k["public_key"] for k in json.load(sys.stdin) if k["state"]=="current"][0])')
t_eq "no bundle without a token" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/reader/bundle")" 401
t_eq "no bundle with a wrong token" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer midr_nope' "$URL/v1/reader/bundle")" 401
curl -s -D "$T/b1.h" -H "Authorization: Bearer $RTOK" "$URL/v1/reader/bundle" -o "$T/bundle1.bin"
t_grep "bundle fetched with the reader token" "^HTTP/1.1 200" "$T/b1.h"
V1=$(sed -n 's/^X-Bundle-Version: \([0-9]*\).*/\1/ip' "$T/b1.h")

challenge() { mid-reader-sim challenge --reader-id "$1" --state "$2"; }
verify_offline() { mid-reader-sim verify --bundle "$1" --state "$2" --issuer-key "$ISSUER" --response "$3"; }

CH=$(challenge "$RID" "$T/reader.state")
t_ok "reader makes a challenge" test -n "$CH"
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
t_ok "phone answers the challenge" test -n "$RESP"
t_ok "reader accepts the answer" verify_offline "$T/bundle1.bin" "$T/reader.state" "$RESP"
# H10301: even parity over the first 12 data bits, odd over the last 12.
BITS=$(python3 -c '
fc, cn = 1, 4242
d = format(fc, "08b") + format(cn, "016b")
print(str(d[:12].count("1") % 2) + d + str(1 - d[12:].count("1") % 2))')
t_grep "reader prints the Wiegand bits" "Wiegand bits: $BITS" "$T/last.out"
t_grep "reader prints the facility code" "Facility code: 1$" "$T/last.out"
t_grep "reader prints the card number" "Card number: 4242$" "$T/last.out"
t_fails "the same answer again is a replay (offline)" verify_offline "$T/bundle1.bin" "$T/reader.state" "$RESP"
t_grep "offline replay named" "DENIED: .*replay|DENIED: .*already" "$T/last.out"

# ---- online verification ------------------------------------------------------------------------
verify_online() { # challenge response [token]
	curl -s -H "Authorization: Bearer ${3:-$RTOK}" -H 'Content-Type: application/json' \
		-d "{\"challenge\":\"$1\",\"presentation\":\"$2\"}" "$URL/v1/reader/verify"
}
CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
verify_online "$CH" "$RESP" >"$T/v.json"
t_grep "online verification allows" '"result":"allow"' "$T/v.json"
t_grep "online verification gives the card number" '"card_number":4242' "$T/v.json"
t_grep "online verification gives the bits" "\"bits\":\"$BITS\"" "$T/v.json"
verify_online "$CH" "$RESP" >"$T/v.json"
t_grep "online replay denied" '"reason":"replay"' "$T/v.json"

CH2=$(challenge "$RID2" "$T/reader2.state")
RESP2=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH2")
verify_online "$CH2" "$RESP2" >"$T/v.json"
t_grep "an answer made for another reader is denied" '"reason":"wrong_reader"' "$T/v.json"

CHA=$(challenge "$RID" "$T/reader.state")
CHB=$(challenge "$RID" "$T/reader.state")
RESPA=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CHA")
verify_online "$CHB" "$RESPA" >"$T/v.json"
t_grep "an answer made for another nonce is denied" '"reason":"wrong_nonce"' "$T/v.json"

CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
verify_online "$CH" "${RESP:0:100}" >"$T/v.json"
t_grep "a truncated presentation is denied" '"reason":"truncated"' "$T/v.json"
verify_online "$CH" "${RESP}AAAAAAAA" >"$T/v.json"
t_grep "an oversized presentation is denied" '"reason":"oversized"' "$T/v.json"
verify_online "$CH" "$(python3 -c 'import sys; print("A" * 4000)')" >"$T/v.json"
t_grep "a far too long presentation is denied" '"reason":"oversized"' "$T/v.json"
flip() { # b64url offset-from-end -> the same with that byte flipped
	python3 -c '
import base64, sys
s, k = sys.argv[1], int(sys.argv[2])
b = bytearray(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
b[len(b) - k] ^= 0x01
print(base64.urlsafe_b64encode(bytes(b)).decode().rstrip("="))' "$1" "$2"
}
verify_online "$CH" "$(flip "$RESP" 65)" >"$T/v.json"
t_grep "a forged issuer signature is denied" '"reason":"forged_signature"' "$T/v.json"
verify_online "$CH" "$(flip "$RESP" 1)" >"$T/v.json"
t_grep "a bad device signature is denied" '"reason":"device_signature"' "$T/v.json"
t_eq "verify needs a reader token" "$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "$URL/v1/reader/verify")" 401

# Suspended: online denies at once, resume allows again.
t_ok "suspend the credential" mobileidctl -c "$C" credentials suspend "$CRED"
CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
verify_online "$CH" "$RESP" >"$T/v.json"
t_grep "a suspended credential is denied online" '"result":"deny"' "$T/v.json"
t_ok "resume the credential" mobileidctl -c "$C" credentials resume "$CRED"
CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
verify_online "$CH" "$RESP" >"$T/v.json"
t_grep "resumed: allowed again" '"result":"allow"' "$T/v.json"

# Not yet valid: a second person whose Mobile ID starts next year.
mobileidctl -c "$C" --json people add --given Grace --family Hopper --email grace@example.org \
	--employee-id E200 >/dev/null 2>&1
NEXTYEAR=$(( $(date -u +%Y) + 1 ))
mobileidctl -c "$C" --json credentials issue E200 --valid-from "$NEXTYEAR-01-01" \
	--valid-until "$NEXTYEAR-12-31" >"$T/cred2.json" 2>"$T/last.out"
t_result $? "a credential valid from next year is issued"
CRED2=$(json '["id"]' <"$T/cred2.json")
CODE2=$(mobileidctl -c "$C" invitations create "$CRED2" --show 2>/dev/null | grep -oE '\b[A-Z0-9]{5}-[A-Z0-9]{5}\b' | head -1)
t_ok "second phone enrolls" mid-phone-sim enroll --url "$URL" --code "$CODE2" --state "$T/phone2.json"
CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone2.json" --challenge "$CH")
verify_online "$CH" "$RESP" >"$T/v.json"
t_grep "not yet valid is denied online" '"reason":"not_yet_valid"' "$T/v.json"

# ---- revoke: next bundle carries it, reader denies; online denies at once ---------------------------
t_ok "revoke the credential" mobileidctl -c "$C" credentials revoke "$CRED"
CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
verify_online "$CH" "$RESP" >"$T/v.json"
t_grep "online verification denies the revoked credential at once" '"reason":"revoked"' "$T/v.json"
curl -s -D "$T/b2.h" -H "Authorization: Bearer $RTOK" "$URL/v1/reader/bundle" -o "$T/bundle2.bin"
V2=$(sed -n 's/^X-Bundle-Version: \([0-9]*\).*/\1/ip' "$T/b2.h")
t_ok "the bundle version grew ($V1 -> $V2)" test "$V2" -gt "$V1"
curl -s -D "$T/b3.h" -H "Authorization: Bearer $RTOK" "$URL/v1/reader/bundle?since=$V1" -o "$T/delta.bin"
t_grep "a delta since the old version is served" "^X-Bundle-Kind: delta" "$T/b3.h"
t_eq "up to date answers 304" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RTOK" "$URL/v1/reader/bundle?since=$V2")" 304
CH=$(challenge "$RID" "$T/reader.state")
RESP=$(mid-phone-sim answer --state "$T/phone.json" --challenge "$CH")
t_fails "the reader with the new bundle denies" verify_offline "$T/bundle2.bin" "$T/reader.state" "$RESP"
t_grep "the denial says revoked" "DENIED: .*revoked" "$T/last.out"
t_ok "phone fetch after the revoke" mid-phone-sim fetch --url "$URL" --state "$T/phone.json"
t_nogrep "the phone no longer gets the revoked credential" "$CRED" "$T/last.out"

# ---- metrics ------------------------------------------------------------------------------------------
curl -s "$URL/metrics" >"$T/metrics.txt"
t_grep "metrics: enrollments" 'mid_enrollments_total\{result="ok"\} 2' "$T/metrics.txt"
t_grep "metrics: verifications allowed" 'mid_verifications_total\{result="allow"\}' "$T/metrics.txt"
t_grep "metrics: denials by reason" 'mid_verifications_total\{result="deny",reason="revoked"\} [0-9]+' "$T/metrics.txt"
t_nogrep "no token in the daemon log" "midr_|mida_|$CODE" "$T/daemon.log"

kill "$D_PID"
wait "$D_PID" 2>/dev/null
t_result $? "mobileidd stops cleanly on SIGTERM"
t_done
