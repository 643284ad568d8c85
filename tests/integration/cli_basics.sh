#!/bin/bash
# CLI and daemon basics: --help and --version tell the truth, bad input
# gives one clear line and a non-zero exit, the daemon reloads on SIGHUP
# (refusing a bad config), stops on SIGTERM and tells systemd when ready.
. "$top_srcdir/tests/integration/lib.sh"

t_ok "mobileidctl --help" mobileidctl --help
t_grep "--help lists config check" "config check" "$T/last.out"
t_ok "mobileidctl --version" mobileidctl --version
t_grep "--version prints the package version" "mobileid-gateway\) [0-9]+\.[0-9]+" "$T/last.out"
t_ok "mobileidd --help" mobileidd --help
t_grep "mobileidd --help names SIGHUP" "SIGHUP" "$T/last.out"
t_fails "unknown command fails" mobileidctl frobnicate
t_grep "unknown command is named" "unknown command 'frobnicate'" "$T/last.out"
mobileidctl frobnicate >/dev/null 2>&1; t_eq "unknown command exits 2" "$?" 2
t_ok "config --help lists its subcommands" mobileidctl config --help
t_grep "config group help" "config show" "$T/last.out"
for cmd in "config check" "config show" "connectors"; do
	t_ok "$cmd --help" mobileidctl $cmd --help
	t_grep "$cmd --help has a usage line" "^Usage: mobileidctl" "$T/last.out"
done

# Missing config file: one line naming the file and the fix.
t_fails "config check on a missing file fails" mobileidctl -c "$T/nope.json" config check
t_grep "missing file is named" "nope.json" "$T/last.out"

# Not JSON: line and column.
printf '{\n  "site": {"id": "6f1c2f8e-3c4b-4c3e-9a53-1b7f0c1d2e3f"},\n  oops\n}\n' > "$T/bad.json"
t_fails "config check on invalid JSON fails" mobileidctl -c "$T/bad.json" config check
t_grep "invalid JSON names line 3" "bad.json.*3" "$T/last.out"

# Unknown key: the JSON path is named.
cat > "$T/unknown.json" <<'JSON'
{ "site": {"id": "6f1c2f8e-3c4b-4c3e-9a53-1b7f0c1d2e3f"}, "logg": {"level": "info"} }
JSON
t_fails "unknown key is refused" mobileidctl -c "$T/unknown.json" config check
t_grep "unknown key is named" "logg" "$T/last.out"

# A binding whose connector does not exist, and one whose settings are wrong.
cat > "$T/bind.json" <<'JSON'
{ "site": {"id": "6f1c2f8e-3c4b-4c3e-9a53-1b7f0c1d2e3f"},
  "bindings": [
    {"name": "ghost", "connector": "nosuch"},
    {"name": "nul", "connector": "null", "settings": {"count": "many", "colour": 1}}
  ] }
JSON
t_fails "config check finds binding problems" mobileidctl -c "$T/bind.json" config check
t_grep "missing connector is named with the file looked for" "bindings\[0\].connector: .*nosuch.so" "$T/last.out"
t_grep "wrong settings type names the path" "bindings\[1\].settings.count" "$T/last.out"
t_grep "unknown settings key names the key" "colour" "$T/last.out"
mobileidctl -c "$T/bind.json" --json config check > "$T/check.json" 2>/dev/null
t_ok "config check --json is valid JSON" python3 -c "import json,sys; d=json.load(open('$T/check.json')); sys.exit(0 if d['valid'] is False and len(d['problems'])>=3 else 1)"

# connectors: lists the null module, refuses a broken one by name.
t_ok "connectors lists modules" env MOBILEID_MODULE_PATH="$top_builddir/connectors/null/.libs" mobileidctl -c "$T/none.json" connectors
t_grep "null connector listed with its ABI" "^null +1\.0\.0 +1\.1 " "$T/last.out"
mkdir -p "$T/mods" && cp "$top_builddir/tests/modules/.libs/bk_badabi.so" "$T/mods/"
t_fails "a broken module makes connectors fail" env MOBILEID_MODULE_PATH="$T/mods" mobileidctl -c "$T/none.json" connectors
t_grep "broken module named with both ABI versions" "bk_badabi.so: connector ABI 2.1 is not supported by this gateway \(ABI 1.1\)" "$T/last.out"

# Module exports: every connector module exports only its descriptor.
for so in "$top_builddir"/connectors/*/.libs/*.so; do
	[ -f "$so" ] || continue
	syms=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^_' | sort -u | tr '\n' ' ')
	t_eq "$(basename "$so") exports only mid_connector" "$syms" "mid_connector "
done

t_done
