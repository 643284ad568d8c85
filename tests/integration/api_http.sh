#!/bin/bash
# The HTTP transport of mobileidd: TLS through libmicrohttpd/GnuTLS with a
# certificate made here; plain HTTP to the TLS port gets no answer; a
# non-loopback listen address without TLS is refused with a clear message;
# problem+json errors, the body limit and Prometheus metrics over TLS.
. "$top_srcdir/tests/integration/lib.sh"

command -v openssl >/dev/null || t_skip_all "openssl is not installed"
command -v curl >/dev/null || t_skip_all "curl is not installed"

t_ok "init" mobileidctl init "$T/inst"
C="$T/inst/mobileidd.json"
PORT=$(t_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$T/key.pem" -out "$T/cert.pem" >"$T/last.out" 2>&1
t_result $? "self-signed certificate made"
chmod 600 "$T/key.pem"

setcfg() { # listen [tls]
	python3 - "$C" "$1" "${2:-}" "$T" <<'EOF'
import json, sys
path, listen, tls, t = sys.argv[1:5]
cfg = json.load(open(path))
cfg["http"]["listen"] = listen
cfg["http"]["max_body_bytes"] = 1024
cfg["http"].pop("tls_cert", None); cfg["http"].pop("tls_key", None)
if tls:
    cfg["http"]["tls_cert"] = t + "/cert.pem"
    cfg["http"]["tls_key"] = t + "/key.pem"
json.dump(cfg, open(path, "w"), indent=2)
EOF
}

# Plain HTTP on a non-loopback address is refused before anything listens.
setcfg "0.0.0.0:$PORT"
timeout 10 mobileidd --foreground -c "$C" >"$T/last.out" 2>&1
t_result $(( $? == 0 )) "mobileidd refuses 0.0.0.0 without TLS"
t_grep "the refusal says why" "loopback" "$T/last.out"

# TLS.
setcfg "127.0.0.1:$PORT" tls
mobileidd --foreground -c "$C" >"$T/daemon.log" 2>&1 &
PID=$!
t_on_exit "kill $PID"
t_wait_port "$PORT"
t_result $? "mobileidd listens with TLS"
U="https://127.0.0.1:$PORT"
t_ok "healthz over TLS, certificate verified" curl -sf --cacert "$T/cert.pem" "$U/healthz"
t_grep "healthz says ok" '"status":"ok"' "$T/last.out"
t_fails "plain HTTP to the TLS port gets no HTTP answer" curl -sf --max-time 5 "http://127.0.0.1:$PORT/healthz"
curl -s --cacert "$T/cert.pem" -D "$T/h" -o "$T/b" "$U/v1/nothing-here"
t_grep "unknown route: 404" "^HTTP/1.1 404" "$T/h"
t_grep "errors are application/problem+json" "^Content-Type: application/problem\+json" "$T/h"
t_grep "problem body has type, title, status, detail" '"type":"urn:mobileid:problem:not-found".*"status":404' "$T/b"
head -c 2000 /dev/zero | tr '\0' x >"$T/big"
t_eq "a body over max_body_bytes is 413" \
	"$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/big" "$U/v1/phone/enroll")" 413
t_eq "a broken JSON body is 400" \
	"$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{"code":' "$U/v1/phone/enroll")" 400
t_eq "admin routes need a token" \
	"$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' "$U/v1/admin/people")" 401
TOK=$(mobileidctl -c "$C" --json tokens add http-test | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
t_eq "an admin token made by mobileidctl works" \
	"$(curl -s --cacert "$T/cert.pem" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$U/v1/admin/people")" 200
curl -s --cacert "$T/cert.pem" -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
	-d '{"given_name":"Lin","family_name":"Ye","email":"lin@example.org"}' "$U/v1/admin/people" >"$T/p.json"
t_grep "admin creates a person" '"status":"active"' "$T/p.json"
curl -s --cacert "$T/cert.pem" "$U/metrics" >"$T/m"
t_grep "metrics count by route and status" 'mid_http_requests_total\{method="GET",route="/healthz",status="200"\} 1' "$T/m"
t_grep "metrics gauge people" 'mid_people\{status="active"\} 1' "$T/m"
t_nogrep "the admin token is not logged" "$TOK" "$T/daemon.log"
kill "$PID"
wait "$PID" 2>/dev/null
t_result $? "mobileidd stops cleanly"
t_done
