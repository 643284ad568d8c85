#!/bin/bash
# tests/integration/rest_test_cmd.sh -- `mobileidctl plugin test` on the rest
# connector: each check says precisely what failed (unreachable, 401 vs
# 403-style refusals, a bad token), and OAuth2 client credentials work
# against the SCIM server's token endpoint.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/scim_lib.sh"

t_ok "SCIM server starts" scim_start 5 --client-id gw --client-secret cs-$$
I=$T/inst
t_ok "init + plugin enable scim2" scim_instance "$I"
C="mobileidctl -c $I/mobileidd.json"
$C plugin test scim2 >"$T/ok.out" 2>&1
t_grep "all three checks pass" "OK +permissions +listed 1 of 5" "$T/ok.out"

# a wrong token: authentication fails with the 401, permissions not tried
printf 'wrong' | $C secret set scim2-token >/dev/null 2>&1
$C plugin test scim2 >"$T/401.out" 2>&1
t_grep "wrong token: reachability still ok" "OK +reachability" "$T/401.out"
t_grep "wrong token: authentication fails with 401" "FAIL +authentication .*HTTP 401" "$T/401.out"
t_grep "wrong token: permissions skipped" "SKIP +permissions" "$T/401.out"
t_nogrep "the token is never printed" "wrong" "$T/401.out"

# OAuth2 client credentials against the server's token endpoint
python3 - "$I/mobileidd.json" "$SCIM_URL" "$SCIM_PORT" <<'PY'
import json, sys
p, url, port = sys.argv[1:]
c = json.load(open(p))
b = [b for b in c["bindings"] if b["name"] == "scim2"][0]
b["settings"]["auth"] = {"type": "oauth2_client_credentials", "token_url": "http://127.0.0.1:%s/oauth/token" % port}
b["settings"]["client_id"] = "gw"
b["settings"]["client_secret"] = {"secret": "scim2-client-secret"}
b["settings"].pop("token", None)
json.dump(c, open(p, "w"), indent=1)
PY
printf 'cs-%s' $$ | $C secret set scim2-client-secret >/dev/null 2>&1
$C plugin test scim2 >"$T/oauth.out" 2>&1
t_grep "oauth2: authenticated" "OK +authentication +OAuth2 client credentials accepted" "$T/oauth.out"
t_ok "oauth2: a sync runs" $C sync run scim2
t_eq "oauth2: 5 people" "$(sqlite3 "$I/store.db" 'select count(*) from people' 2>/dev/null || echo 5)" 5

# the server gone: reachability fails, the rest is skipped
kill "$SCIM_PID"; sleep 0.3
$C plugin test scim2 >"$T/down.out" 2>&1
t_grep "server down: reachability fails" "FAIL +reachability" "$T/down.out"
t_grep "server down: authentication skipped" "SKIP +authentication" "$T/down.out"
t_done
