# tests/integration/scim_lib.sh -- start the SCIM test server (tests/peers)
# for a shell test that sourced lib.sh. Skips the test when node or the
# pinned npm modules are absent (scripts/deps installs them).
#
#   . "$top_srcdir/tests/integration/scim_lib.sh"
#   scim_start USERS [extra server args...]   # sets SCIM_PORT, SCIM_ADMIN, SCIM_URL
#   scim_admin POST /faults '{"every": 3}'
#   scim_get /Users/ID                      # SCIM API with the test token
PEERS="$top_srcdir/tests/peers"
command -v node >/dev/null 2>&1 || t_skip_all "node not installed"
[ -d "$PEERS/node_modules/scimmy" ] && [ -d "$PEERS/node_modules/scimmy-routers" ] &&
	[ -d "$PEERS/node_modules/express" ] || t_skip_all "npm modules of tests/peers not installed (run scripts/deps or npm ci in tests/peers)"
SCIM_TOKEN=test-token-$$

scim_start() {
	local users=$1
	shift
	SCIM_PORT=$(t_port)
	SCIM_ADMIN=$(t_port)
	SCIM_URL="http://127.0.0.1:$SCIM_PORT/scim"
	node "$PEERS/scim-server.mjs" --port "$SCIM_PORT" --admin-port "$SCIM_ADMIN" \
		--token "$SCIM_TOKEN" --users "$users" "$@" >"$T/scim.log" 2>&1 &
	SCIM_PID=$!
	t_on_exit "kill $SCIM_PID"
	t_wait_port "$SCIM_PORT" && t_wait_port "$SCIM_ADMIN"
}

scim_admin() { # METHOD PATH [JSON]
	curl -sf -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "http://127.0.0.1:$SCIM_ADMIN$2"
}

scim_get() { # PATH
	curl -sf -H "Authorization: Bearer $SCIM_TOKEN" "$SCIM_URL$1"
}

# A new instance with the scim2 plugin enabled against the server.
scim_instance() { # DIR
	mobileidctl init "$1" >/dev/null &&
	mobileidctl -c "$1/mobileidd.json" plugin enable scim2 --base-url "$SCIM_URL" \
		--token "$SCIM_TOKEN" >/dev/null </dev/null
}
