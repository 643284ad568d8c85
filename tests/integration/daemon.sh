#!/bin/bash
# mobileidd: refuses a bad config at start; tells systemd READY=1; SIGHUP
# with a bad config is refused and the daemon keeps serving; SIGHUP with a
# good config reloads; SIGTERM stops cleanly with status 0. And the
# instance made by `mobileidctl init` is private and consistent.
. "$top_srcdir/tests/integration/lib.sh"

t_ok "init creates an instance" mobileidctl init --site-name "Test site" "$T/inst"
C="$T/inst/mobileidd.json"
t_eq "master key is mode 0600" "$(stat -c %a "$T/inst/master.key")" 600
t_eq "store is mode 0600" "$(stat -c %a "$T/inst/store.db")" 600
t_eq "config is not world-readable" "$(stat -c %a "$C" | cut -c3)" 0
t_fails "init refuses an existing instance" mobileidctl init "$T/inst"
t_grep "init names the folder" "inst: exists and is not an empty folder" "$T/last.out"
t_eq "a refused init leaves no temporary folder" "$(ls -A "$T" | grep -c init-)" 0
t_ok "config check on the new instance" mobileidctl -c "$C" config check
t_ok "status on the new instance" mobileidctl -c "$C" status
t_grep "status shows the current issuer key" "issuer key +[0-9a-f]{16} \(current\)" "$T/last.out"

# Secrets: stored encrypted, never shown, not in the store as plain text.
printf 'correct horse battery staple\n' | mobileidctl -c "$C" secret set pacs-api-key >"$T/last.out" 2>&1
t_result $? "secret set reads standard input"
t_ok "secret list" mobileidctl -c "$C" secret list
t_grep "secret list shows the name" "^pacs-api-key$" "$T/last.out"
t_nogrep "secret list never shows the value" "horse" "$T/last.out"
t_nogrep "the value is not in the store file as plain text" "horse battery" "$T/inst/store.db"
t_fails "an empty secret is refused" bash -c "printf '' | mobileidctl -c '$C' secret set empty"
t_fails "a bad secret name is refused" bash -c "echo x | mobileidctl -c '$C' secret set 'bad name'"
chmod 644 "$T/inst/master.key"
t_fails "a world-readable master key is refused" mobileidctl -c "$C" secret list
t_grep "the refusal names the file and chmod 600" "master.key.*chmod 600" "$T/last.out"
chmod 600 "$T/inst/master.key"

# A corrupt store: one line naming the file; nothing written.
cp "$T/inst/store.db" "$T/store.good"
printf 'this is not a database at all, not even close...................' > "$T/bad.db"
sed "s|\"path\": \"store.db\"|\"path\": \"$T/bad.db\"|" "$C" > "$T/badstore.json"
sed -i "s|\"master_key_file\": \"master.key\"|\"master_key_file\": \"$T/inst/master.key\"|" "$T/badstore.json"
t_fails "a corrupt store is refused" mobileidctl -c "$T/badstore.json" status
t_grep "the corrupt store is named" "bad.db" "$T/last.out"
t_eq "the corrupt file is left as it was" "$(head -c 20 "$T/bad.db")" "this is not a databa"

port=$(t_port)
sed -i "s|127.0.0.1:8080|127.0.0.1:$port|" "$C"

# sd_notify: a datagram socket that records what the daemon sends.
sock="$T/notify.sock"
python3 - "$sock" > "$T/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
try:
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\n", " "), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
PY
npid=$!
t_on_exit "kill $npid"
for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET="$sock" mobileidd --foreground -c "$C" >"$T/daemon.log" 2>&1 &
dpid=$!
t_on_exit "kill $dpid"
t_wait_port "$port"
t_result $? "daemon listens on its port"
sleep 0.3
t_grep "daemon told systemd READY=1" "READY=1" "$T/notify.log"
t_ok "healthz answers" curl -sf "http://127.0.0.1:$port/healthz"

# A bad config on SIGHUP is refused; the daemon keeps running.
cp "$C" "$T/good.json"
echo '{ "site": {"id": "not-a-uuid"}, "nonsense": 1 }' > "$C"
kill -HUP $dpid
sleep 1
t_ok "daemon still alive after a bad reload" kill -0 $dpid
t_grep "bad reload is refused" "reload refused" "$T/daemon.log"
t_grep "bad reload names the unknown key" "nonsense" "$T/daemon.log"
t_ok "daemon still serves after a bad reload" curl -sf "http://127.0.0.1:$port/healthz"

# A good config on SIGHUP is taken.
cp "$T/good.json" "$C"
kill -HUP $dpid
sleep 1
t_grep "good reload is taken" "reloaded" "$T/daemon.log"
t_ok "daemon serves after a good reload" curl -sf "http://127.0.0.1:$port/healthz"

kill -TERM $dpid
wait $dpid
t_eq "SIGTERM stops with status 0" "$?" 0
t_grep "daemon logged its stop" "stopped" "$T/daemon.log"
wait $npid 2>/dev/null
t_grep "daemon told systemd STOPPING=1" "STOPPING=1" "$T/notify.log"

# A bad config at start: not started, exit 1, the problem named.
echo '{ "site": {"id": "6f1c2f8e-3c4b-4c3e-9a53-1b7f0c1d2e3f"}, "log": {"level": "loud"} }' > "$T/bad.json"
t_fails "daemon refuses a bad config at start" mobileidd --foreground -c "$T/bad.json"
t_grep "the bad value is named" "log.level" "$T/last.out"
t_ok "daemon --check on a good config" mobileidd --check -c "$C"

t_done
