# tests/integration/lib.sh -- TAP helpers for shell integration tests.
#
#   . "$top_srcdir/tests/integration/lib.sh"
#   t_ok "name" command args...        # passes when the command exits 0
#   t_fails "name" command args...     # passes when it exits non-zero
#   t_grep "name" PATTERN FILE         # passes when FILE matches
#   t_done                             # prints the plan, exits 0/1
#
# Every test gets a private folder $T (removed at exit) and the binaries of
# the build tree on PATH. Servers a test starts are stopped by t_cleanup
# handlers registered with t_on_exit.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export PATH="$top_builddir/gateway:$top_builddir/reader:$top_builddir/tools:$PATH"
export MOBILEID_MODULE_PATH="${MOBILEID_MODULE_PATH:-$top_builddir/connectors/null/.libs:$top_builddir/connectors/csv/.libs:$top_builddir/connectors/rest/.libs}"
export MOBILEID_PLUGIN_DIR="${MOBILEID_PLUGIN_DIR:-$top_srcdir/plugins}"
unset MOBILEID_CONFIG

T=$(mktemp -d "${TMPDIR:-/tmp}/mobileid-test.XXXXXX")
t_n=0
t_failed=0
t_exit_cmds=()

t_on_exit() { t_exit_cmds+=("$*"); }
t_cleanup() {
	local i
	for ((i = ${#t_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${t_exit_cmds[$i]}" >/dev/null 2>&1 || true; done
	[ -n "${KEEP_TEST_DIR:-}" ] || rm -rf "$T"
}
trap t_cleanup EXIT

t_result() { # cond name
	t_n=$((t_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $t_n - $2"
	else
		t_failed=$((t_failed + 1))
		echo "not ok $t_n - $2"
		if [ -s "$T/last.out" ]; then sed 's/^/#   /' "$T/last.out" | head -20; fi
	fi
}

t_ok() { local name=$1; shift; "$@" >"$T/last.out" 2>&1; t_result $? "$name"; }
t_fails() { local name=$1; shift; "$@" >"$T/last.out" 2>&1; local rc=$?; [ $rc -ne 0 ]; t_result $? "$name"; }
t_grep() { grep -q -E -- "$2" "$3" 2>/dev/null; t_result $? "$1"; }
t_nogrep() { ! grep -q -E -- "$2" "$3" 2>/dev/null; t_result $? "$1"; }
t_eq() { [ "$2" = "$3" ]; local rc=$?; [ $rc -eq 0 ] || echo "#   got '$2', want '$3'"; t_result $rc "$1"; }
t_skip_all() { echo "1..0 # SKIP $*"; exit 0; }
t_done() { echo "1..$t_n"; [ "$t_failed" -eq 0 ]; }

# A free TCP port on loopback.
t_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait until a TCP port on loopback accepts connections (max ~10 s).
t_wait_port() {
	local port=$1 i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# t_csv_instance DIR: `mobileidctl init DIR` with one inbound CSV binding
# "pacs" (drop folder DIR/in, archive DIR/arch, id column employee_id,
# match employee_id then email), as the sync and crash tests use it.
t_csv_instance() {
	mobileidctl init "$1" >/dev/null || return 1
	mkdir -p "$1/in" "$1/arch"
	python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
p = d + "/mobileidd.json"
c = json.load(open(p))
c["bindings"] = [{"name": "pacs", "connector": "csv", "direction": "inbound",
   "match": ["employee_id", "email"],
   "settings": {"inbox_dir": d + "/in", "archive_dir": d + "/arch", "id_column": "employee_id"}}]
json.dump(c, open(p, "w"), indent=1)
PY
}
