#!/bin/bash
# The daemon runs bindings on their schedule: a CSV drop-folder binding
# enabled with `plugin enable` picks up a file dropped while the daemon
# runs, and a change made with mobileidctl reaches the PACS export folder
# through the outbox without anyone running `sync run`.
. "$top_srcdir/tests/integration/lib.sh"

t_ok "init" mobileidctl init "$T/inst"
C="$T/inst/mobileidd.json"
port=$(t_port)
sed -i "s|127.0.0.1:8080|127.0.0.1:$port|" "$C"
mkdir -p "$T/pacs/export" "$T/pacs/archive" "$T/pacs/import"
t_ok "plugin enable csv-generic" mobileidctl -c "$C" plugin enable csv-generic --binding pacs \
	--inbox-dir "$T/pacs/export" --archive-dir "$T/pacs/archive" --outbound-dir "$T/pacs/import"
# Run every 10 seconds (the shortest schedule) instead of the profile's 5 minutes.
sed -i 's|"schedule": "every 5m"|"schedule": "every 10s"|' "$C"
t_ok "config check" mobileidctl -c "$C" config check

mobileidd --foreground -c "$C" >"$T/daemon.log" 2>&1 &
dpid=$!
t_on_exit "kill $dpid"
t_wait_port "$port"
t_result $? "daemon is up"

cp "$top_srcdir/docs/examples/pacs-export.csv" "$T/pacs/export/.cardholders.csv.part"
mv "$T/pacs/export/.cardholders.csv.part" "$T/pacs/export/cardholders.csv"
n=0
for i in $(seq 1 250); do
	n=$(mobileidctl -c "$C" --json people count 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])' 2>/dev/null || echo 0)
	[ "$n" = 20 ] && break
	sleep 0.1
done
t_eq "the daemon imported the dropped file on schedule" "$n" 20
t_ok "the file was archived" test -n "$(ls "$T/pacs/archive" | grep -E '^cardholders\.[0-9TZ]+\.csv$')"
t_grep "the daemon logged the run" "binding pacs: run [0-9]+ ok: 20 seen, 20 created" "$T/daemon.log"

# A change in the gateway goes out through the outbox to the export folder.
t_ok "people update in the gateway" mobileidctl -c "$C" people update E0000003 --email new.address@example.com
found=""
for i in $(seq 1 250); do
	found=$(grep -l "new.address@example.com" "$T"/pacs/import/*.csv 2>/dev/null | head -1)
	[ -n "$found" ] && break
	sleep 0.1
done
t_ok "the change reached the PACS import folder" test -n "$found"

kill -TERM $dpid
wait $dpid
t_eq "daemon stops cleanly" "$?" 0
t_done
