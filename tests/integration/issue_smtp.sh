#!/bin/bash
# tests/integration/issue_smtp.sh -- standalone issuance end to end with a
# real SMTP server (python3-aiosmtpd on a loopback port): init, add a
# person, issue, mail the invitation, read the code from the received mail,
# check resend, readers, tokens, keys and bundle export.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"

# Debian's python3-aiosmtpd lives in the system interpreter (a pyenv
# python3 earlier on PATH does not see it).
PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import aiosmtpd' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || t_skip_all "python3-aiosmtpd is not installed"

PORT=$(t_port)
mkdir -p "$T/mail"
cat >"$T/sink.py" <<'PY'
import asyncio, os, sys, time
from aiosmtpd.controller import Controller
folder, port = sys.argv[1], int(sys.argv[2])
class Sink:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.n += 1
        path = os.path.join(folder, "%04d.eml" % Sink.n)
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Rcpt: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=port)
c.start()
try:
    while True:
        time.sleep(1)
finally:
    c.stop()
PY
"$PY" "$T/sink.py" "$T/mail" "$PORT" >"$T/sink.log" 2>&1 &
SINK=$!
t_on_exit "kill $SINK"
t_wait_port "$PORT" || { echo "Bail out! SMTP sink did not start"; exit 1; }

D="$T/inst"
t_ok "init" mobileidctl init "$D"
C="$D/mobileidd.json"
python3 - "$C" "$PORT" <<'PY'
import json, sys
p, port = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["issuance"] = {"ranges": [{"format": "H10301", "facility_code": 42, "first": 1000, "last": 1999}],
                 "app_link": "https://example.com/app", "invitation_ttl_hours": 48}
c["smtp"] = {"url": "smtp://127.0.0.1:%s" % port, "from": "gateway@example.com", "starttls": "none"}
json.dump(c, open(p, "w"), indent=2)
PY
m() { mobileidctl -c "$C" "$@"; }

t_ok "config check" m config check
t_ok "people add" m --json people add --given Zoë --family Muster --email zoe@example.com --employee-id E42
PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/last.out")
t_fails "duplicate email refused" m people add --given X --family Y --email ZOE@example.com
t_ok "credentials issue (by employee id)" m --json credentials issue E42
CID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/last.out")
t_grep "first value of the range" '"card_number": 1000' "$T/last.out"
t_fails "explicit value taken" m credentials issue "$PID" --card-number 1000
t_ok "credentials list" m credentials list zoe@example.com
t_grep "list shows the credential" "$CID" "$T/last.out"

t_ok "invitations create --email" m invitations create "$CID" --email
for i in $(seq 1 50); do [ -e "$T/mail/0001.eml" ] && break; sleep 0.1; done
MAIL="$T/mail/0001.eml"
t_grep "mail received for the person" "X-Rcpt: zoe@example.com" "$MAIL"
t_grep "Subject header" "^Subject: " "$MAIL"
t_grep "Message-ID header" "^Message-ID: <" "$MAIL"
t_grep "Date header" "^Date: " "$MAIL"
t_grep "UTF-8 text" "^Content-Type: text/plain; charset=utf-8" "$MAIL"
t_grep "app link in the mail" "https://example.com/app" "$MAIL"
CODE=$(grep -oE '[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}' "$MAIL" | head -1)
t_eq "a code in the mail" "$([ -n "$CODE" ] && echo yes)" yes
t_nogrep "code not printed by the CLI for email delivery" "$CODE" "$T/last.out"
t_ok "invitations list" m invitations list
t_grep "invitation open" "open" "$T/last.out"
t_nogrep "codes never listed" "$CODE" "$T/last.out"

t_ok "invitations resend" m invitations resend "$CID"
for i in $(seq 1 50); do [ -e "$T/mail/0002.eml" ] && break; sleep 0.1; done
CODE2=$(grep -oE '[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}' "$T/mail/0002.eml" | head -1)
t_eq "resend mails a new code" "$([ -n "$CODE2" ] && [ "$CODE2" != "$CODE" ] && echo yes)" yes
t_ok "invitations list after resend" m invitations list
t_grep "earlier code replaced" "replaced" "$T/last.out"
t_ok "invitations create --show" m --json invitations create "$CID" --show
t_grep "shown code printed" '"code": "' "$T/last.out"

t_ok "readers add" m --json readers add door-1
t_grep "reader token printed once" '"token": "midr_' "$T/last.out"
t_ok "readers list" m readers list
t_nogrep "reader token not listed" "midr_" "$T/last.out"
t_ok "tokens add" m tokens add ci
t_fails "tokens add twice" m tokens add ci
t_ok "tokens list" m tokens list
t_ok "tokens rm" m tokens rm ci

t_ok "bundle export" m --json readers bundle export -o "$T/bundle.bin"
V=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$T/last.out")
t_eq "bundle file written" "$([ -s "$T/bundle.bin" ] && echo yes)" yes
t_ok "credentials revoke" m credentials revoke "$CID"
# a pending credential no phone holds changes nothing for readers
t_fails "bundle up to date" m readers bundle export --since "$V" -o "$T/delta.bin"
t_ok "keys rotate" m keys rotate
t_ok "delta bundle export" m --json readers bundle export --since "$V" -o "$T/delta.bin"
t_grep "delta" '"delta": true' "$T/last.out"
t_ok "keys list" m --json keys list
t_grep "retired key listed" '"retired"' "$T/last.out"
t_ok "people suspend" m people suspend E42
t_ok "people resume" m people resume E42
t_ok "people delete --purge" m people delete E42 --purge
t_ok "credentials --help" m credentials issue --help
t_done
