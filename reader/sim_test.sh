#!/bin/sh
# reader/sim_test.sh -- mid-reader-sim end to end (TAP): challenge, phone
# answer, verify, and the denials a user sees at the command line.
B=${top_builddir:-.}
SIM="$B/reader/mid-reader-sim"
FIX="$B/reader/sim_fixture"
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
has() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }

RID=00112233445566778899aabbccddeeff
"$FIX" site "$T"; ok $? "fixture site created"
KEY=$(cat "$T/issuer.pk")

CH=$("$SIM" challenge --reader-id $RID --state "$T/state"); ok $? "challenge printed"
R=$("$FIX" answer "$T" cred-ok.bin "$CH")
OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "$R" --issuer-key "$KEY"); rc=$?
ok $rc "valid response accepted (exit 0)"
has "$OUT" "Wiegand bits: 10111011000000110010000110"; ok $? "Wiegand bits line"
has "$OUT" "Facility code: 118"; ok $? "facility code line"
has "$OUT" "Card number: 1603"; ok $? "card number line"

OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "$R"); rc=$?
[ $rc = 1 ] && has "$OUT" "DENIED: replay"; ok $? "the same response again: replay, exit 1 (key pinned in state)"

CH=$("$SIM" challenge --reader-id $RID --state "$T/state")
R=$("$FIX" answer "$T" cred-revoked.bin "$CH")
OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "$R"); rc=$?
[ $rc = 1 ] && has "$OUT" "DENIED: revoked"; ok $? "revoked credential denied"

CH=$("$SIM" challenge --reader-id $RID --state "$T/state")
R=$("$FIX" answer "$T" cred-expired.bin "$CH")
OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "$R"); rc=$?
[ $rc = 1 ] && has "$OUT" "DENIED: expired"; ok $? "expired credential denied"

CH=$("$SIM" challenge --reader-id $RID --state "$T/state" --nonce-bytes 16)
R=$("$FIX" answer "$T" cred-ok.bin "$CH")
OUT=$(echo "$R" | "$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response - --json); rc=$?
[ $rc = 0 ] && has "$OUT" '"facility_code":118' && has "$OUT" '"card_number":1603' && has "$OUT" '"wiegand_bits":"10111011000000110010000110"'
ok $? "--json and --response - (stdin), 16-byte nonce"

CH=$("$SIM" challenge --reader-id $RID --state "$T/state")
R=$("$FIX" answer "$T" cred-ok.bin "$CH")
NOW=$(( $(date +%s) + 3600 ))
OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "$R" --now $NOW --json); rc=$?
[ $rc = 1 ] && has "$OUT" '"reason":"challenge_expired"'; ok $? "an hour later the challenge has expired"

CH=$("$SIM" challenge --reader-id ffeeddccbbaa99887766554433221100 --state "$T/other")
R=$("$FIX" answer "$T" cred-ok.bin "$CH")
OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "$R"); rc=$?
[ $rc = 1 ] && has "$OUT" "DENIED: wrong_reader"; ok $? "response made for another reader"

OUT=$("$SIM" verify --bundle "$T/bundle.bin" --state "$T/state" --response "TUlEUAE"); rc=$?
[ $rc = 1 ] && has "$OUT" "DENIED: truncated"; ok $? "truncated response"

OTHER=0000000000000000000000000000000000000000000000000000000000000001
"$SIM" verify --bundle "$T/bundle.bin" --state "$T/other" --response "$R" --issuer-key $OTHER >/dev/null 2>&1
[ $? = 2 ]; ok $? "bundle not signed by the pinned key: exit 2"

"$SIM" verify --bundle "$T/bundle.bin" --state "$T/other" --response "$R" 2>"$T/err" >/dev/null
grep -q "trust on first use" "$T/err"; ok $? "no pinned key: trust-on-first-use warning"

"$SIM" --help | grep -q "mid-reader-sim verify"; ok $? "--help describes verify"
"$SIM" verify --state "$T/state" >/dev/null 2>&1; [ $? = 2 ]; ok $? "missing options: exit 2"
[ "$(stat -c %a "$T/state")" = 600 ]; ok $? "state file mode 0600"

echo "1..$n"
exit $fail
