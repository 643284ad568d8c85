/* gateway/api_test.c -- unit tests of the HTTP API: the route table against
 * schemas/openapi.yaml (both ways), the strict body parser, the signing
 * string, the transport rule (plain HTTP on loopback only), and a real
 * server on a loopback port driven with libcurl through admin, phone and
 * reader routes: auth failures, 404/405/413, enrollment, signed fetch with
 * replay / clock skew / wrong key refusals, bundles, revocation, metrics and
 * the enrollment rate limit. The end-to-end path with the simulators is
 * tests/integration/e2e_standalone.sh. */
#include <config.h>
#include "gateway/api.h"
#include "gateway/instance.h"
#include "gateway/invite.h"
#include "gateway/keys.h"
#include "gateway/log.h"
#include "gateway/secrets.h"
#include "tests/tap.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#ifndef MID_OPENAPI_FILE
#define MID_OPENAPI_FILE "schemas/openapi.yaml"
#endif

/* ---- OpenAPI <-> route table ------------------------------------------------ */

static void test_openapi(void)
{
	FILE *f = fopen(MID_OPENAPI_FILE, "r");
	char line[1024], path[512] = "", doc[128][600];
	size_t ndoc = 0, nr = 0, i, j;
	const mid_api_route_info_t *routes = mid_api_routes(&nr);
	int in_paths = 0, missing = 0, extra = 0;

	ok(f != NULL, "openapi.yaml readable (%s)", MID_OPENAPI_FILE);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (strcmp(line, "paths:") == 0) {
			in_paths = 1;
			continue;
		}
		if (!in_paths)
			continue;
		if (line[0] && line[0] != ' ')
			break; /* next top-level key */
		if (strncmp(line, "  /", 3) == 0 && line[strlen(line) - 1] == ':') {
			snprintf(path, sizeof path, "%.*s", (int)strlen(line) - 3, line + 2);
			continue;
		}
		static const char *const methods[] = { "get", "post", "put", "delete", "patch" };
		for (i = 0; i < 5; i++) {
			char want[32];
			snprintf(want, sizeof want, "    %s:", methods[i]);
			if (strcmp(line, want) == 0 && ndoc < 128) {
				char up[16];
				for (j = 0; methods[i][j]; j++)
					up[j] = (char)(methods[i][j] - 32);
				up[j] = 0;
				snprintf(doc[ndoc++], sizeof doc[0], "%s %s", up, path);
			}
		}
	}
	fclose(f);
	ok(ndoc > 10, "openapi.yaml lists %zu operations", ndoc);
	for (i = 0; i < nr; i++) {
		char k[600];
		snprintf(k, sizeof k, "%s %s", routes[i].method, routes[i].path);
		for (j = 0; j < ndoc; j++)
			if (strcmp(doc[j], k) == 0)
				break;
		if (j == ndoc) {
			diag("served but not documented: %s", k);
			missing++;
		}
	}
	for (j = 0; j < ndoc; j++) {
		for (i = 0; i < nr; i++) {
			char k[600];
			snprintf(k, sizeof k, "%s %s", routes[i].method, routes[i].path);
			if (strcmp(doc[j], k) == 0)
				break;
		}
		if (i == nr) {
			diag("documented but not served: %s", doc[j]);
			extra++;
		}
	}
	ok(missing == 0, "every served route (%zu) is in openapi.yaml", nr);
	ok(extra == 0, "every route in openapi.yaml (%zu) is served", ndoc);
}

/* ---- body parser and signing string -------------------------------------------- */

static int parse(const char *s, size_t max)
{
	json_t *j = NULL;
	mid_error_t err = { 0 };
	int rc = mid_api_parse_body(s, strlen(s), max, &j, &err);
	json_decref(j);
	return rc;
}

static void test_body(void)
{
	char deep[200];
	size_t i;
	is_int(parse("{\"a\":1}", 100), MID_OK, "body: an object parses");
	is_int(parse("{\"a\":1} x", 100), MID_EINVAL, "body: trailing data refused");
	is_int(parse("{\"a\":1,\"a\":2}", 100), MID_EINVAL, "body: duplicate keys refused");
	is_int(parse("[1,2]", 100), MID_EINVAL, "body: an array is not an object");
	is_int(parse("{\"a\":\"\\u0000\"}", 100), MID_EINVAL, "body: NUL escape refused");
	is_int(parse("", 100), MID_EINVAL, "body: empty refused");
	is_int(parse("{\"a\":\"0123456789\"}", 10), MID_ELIMIT, "body: over the limit is MID_ELIMIT");
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	deep[0] = '{';
	snprintf(deep + 1, sizeof deep - 1, "\"a\":");
	for (i = 5; i < 45; i++)
		deep[i] = '[';
	deep[45] = 0;
	is_int(parse(deep, 1000), MID_EINVAL, "body: nesting bounded");
	{
		json_t *j = NULL;
		mid_error_t err = { 0 };
		is_int(mid_api_parse_body("{\"a\":1}\0x", 9, 100, &j, &err), MID_EINVAL, "body: raw NUL refused");
	}
}

static void test_sign_string(void)
{
	char out[512];
	unsigned char h[32];
	char hex[65], want[512];
	crypto_generichash(h, 32, (const unsigned char *)"", 0, NULL, 0);
	sodium_bin2hex(hex, sizeof hex, h, 32);
	snprintf(want, sizeof want, "MID-DEVICE-SIG-1\nGET\n/v1/phone/credentials\n1700000000\nNONCE\nDEV\n%s", hex);
	is_int(mid_api_sign_string("GET", "/v1/phone/credentials", "1700000000", "NONCE", "DEV", NULL, 0,
	                           out, sizeof out), MID_OK, "sign string built");
	is_str(out, want, "sign string is the documented canonical form");
	is_int(mid_api_sign_string("GET", "/x", "1", "N", "D", NULL, 0, out, 20), MID_ELIMIT,
	       "sign string: too small a buffer is MID_ELIMIT");
}

/* ---- HTTP client ------------------------------------------------------------------ */

typedef struct resp {
	long status;
	char body[65536];
	size_t len;
	char ctype[128];
	char allow[128];
	char bver[32];
} resp_t;

static size_t wr(char *p, size_t s, size_t n, void *ud)
{
	resp_t *r = ud;
	size_t k = s * n;
	if (r->len + k >= sizeof r->body)
		k = sizeof r->body - 1 - r->len;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = 0;
	return s * n;
}

static size_t hdr(char *p, size_t s, size_t n, void *ud)
{
	resp_t *r = ud;
	size_t k = s * n;
	char line[256];
	snprintf(line, sizeof line, "%.*s", (int)(k < 255 ? k : 255), p);
	line[strcspn(line, "\r\n")] = 0;
	if (strncasecmp(line, "Allow: ", 7) == 0)
		snprintf(r->allow, sizeof r->allow, "%.100s", line + 7);
	if (strncasecmp(line, "X-Bundle-Version: ", 18) == 0)
		snprintf(r->bver, sizeof r->bver, "%.20s", line + 18);
	return k;
}

static uint16_t port;

static long req(const char *method, const char *path, const char *auth, const char *body,
                struct curl_slist *extra, resp_t *r)
{
	CURL *c = curl_easy_init();
	char url[512], ah[256];
	struct curl_slist *h = NULL, *e;
	char *ct = NULL;

	memset(r, 0, sizeof *r);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, wr);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (auth) {
		snprintf(ah, sizeof ah, "Authorization: Bearer %s", auth);
		h = curl_slist_append(h, ah);
	}
	for (e = extra; e; e = e->next)
		h = curl_slist_append(h, e->data);
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			snprintf(r->ctype, sizeof r->ctype, "%s", ct);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

static const char *jstr(const char *body, const char *key, char *out, size_t n)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *s = json_string_value(json_object_get(j, key));
	snprintf(out, n, "%s", s ? s : "");
	json_decref(j);
	return out;
}

/* A signed GET of the phone fetch route. */
static long phone_fetch(const char *dev, const unsigned char *sk, const char *nonce, long long ts,
                        resp_t *r)
{
	char msg[1024], tsb[32], sigb[128], hbuf[4][160];
	unsigned char sig[64];
	struct curl_slist *h = NULL;
	long st;
	snprintf(tsb, sizeof tsb, "%lld", ts);
	mid_api_sign_string("GET", "/v1/phone/credentials", tsb, nonce, dev, NULL, 0, msg, sizeof msg);
	crypto_sign_detached(sig, NULL, (unsigned char *)msg, strlen(msg), sk);
	sodium_bin2base64(sigb, sizeof sigb, sig, 64, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(hbuf[0], sizeof hbuf[0], "X-Device-Id: %s", dev);
	snprintf(hbuf[1], sizeof hbuf[1], "X-Timestamp: %s", tsb);
	snprintf(hbuf[2], sizeof hbuf[2], "X-Nonce: %s", nonce);
	snprintf(hbuf[3], sizeof hbuf[3], "X-Signature: %s", sigb);
	for (int i = 0; i < 4; i++)
		h = curl_slist_append(h, hbuf[i]);
	st = req("GET", "/v1/phone/credentials", NULL, NULL, h, r);
	curl_slist_free_all(h);
	return st;
}

/* ---- the server ------------------------------------------------------------------------ */

static char tmpdir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* A free TCP port on loopback (bind to port 0, read it back, close). */
static unsigned free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned p = 0;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

static int make_instance(const char *listen, mid_instance_t **out, mid_secrets_t **sec)
{
	char cfgpath[512], keypath[512], uuid[MID_ID_LEN];
	char *text;
	json_t *j;
	mid_error_t err = { 0 };
	mid_config_t *cfg = NULL;

	snprintf(cfgpath, sizeof cfgpath, "%s/mobileidd.json", tmpdir);
	snprintf(keypath, sizeof keypath, "%s/master.key", tmpdir);
	mid_uuid_new(uuid);
	text = mid_config_default_text(uuid, "api test");
	j = json_loads(text, 0, NULL);
	free(text);
	json_object_set_new(json_object_get(j, "http"), "listen", json_string(listen));
	json_object_set_new(json_object_get(j, "http"), "max_body_bytes", json_integer(4096));
	json_dump_file(j, cfgpath, JSON_INDENT(2));
	json_decref(j);
	if (access(keypath, F_OK) != 0 && mid_master_key_create(keypath, &err) != MID_OK) {
		diag("master key: %s", err.text);
		return -1;
	}
	if (mid_config_load(cfgpath, &cfg, &err) != MID_OK) {
		diag("config: %s", err.text);
		return -1;
	}
	if (mid_instance_from_config(cfg, MID_INST_STORE | MID_INST_CREATE, "test", out, &err) != MID_OK) {
		diag("instance: %s", err.text);
		return -1;
	}
	if (mid_secrets_open(keypath, (*out)->store, sec, &err) != MID_OK) {
		diag("secrets: %s", err.text);
		return -1;
	}
	(*out)->secrets = *sec;
	return 0;
}

static void close_instance(mid_instance_t *in, mid_secrets_t *sec)
{
	if (in && in->secrets == sec)
		in->secrets = NULL;
	mid_secrets_close(sec);
	mid_instance_close(in);
}

static void test_transport(void)
{
	mid_instance_t *in = NULL;
	mid_secrets_t *sec = NULL;
	mid_api_t *api = NULL;
	mid_error_t err = { 0 };
	int rc;

	char listen[64];
	snprintf(listen, sizeof listen, "127.0.0.1:%u", free_port());
	if (make_instance(listen, &in, &sec) != 0) {
		ok(0, "test instance");
		close_instance(in, sec);
		return;
	}
	/* The config loader refuses this already; the server checks again
	 * (a config built another way must not slip through). */
	free(in->cfg->http.listen);
	snprintf(listen, sizeof listen, "0.0.0.0:%u", free_port());
	in->cfg->http.listen = strdup(listen);
	rc = mid_api_start(in, &api, &err);
	ok(rc != MID_OK && strstr(err.text, "loopback"), "non-loopback listen without TLS refused: %s",
	   err.text);
	mid_api_stop(api);
	close_instance(in, sec);
}

static void test_server(void)
{
	mid_instance_t *in = NULL;
	mid_secrets_t *sec = NULL;
	mid_api_t *api = NULL;
	mid_error_t err = { 0 };
	char admin[MID_TOKEN_TEXT_LEN], reader_tok[128], pid[64], cid[64], code[64], dev[64], bver[32];
	char body[8192], big[8192], path[256], nonce[64];
	unsigned char pk[32], sk[64], pk2[32], sk2[64];
	char pkb[64];
	resp_t *r = calloc(1, sizeof *r);
	long long before = (long long)time(NULL), now;
	int i, got429 = 0;

	char listen[64];
	snprintf(listen, sizeof listen, "127.0.0.1:%u", free_port());
	if (make_instance(listen, &in, &sec) != 0) {
		ok(0, "test instance");
		free(r);
		return;
	}
	ok(mid_keys_create_initial(in, &err) == MID_OK, "issuer keys created: %s", err.text);
	ok(mid_tokens_add(in, "api-test", admin, &err) == MID_OK, "admin token added: %s", err.text);
	ok(mid_api_start(in, &api, &err) == MID_OK, "server started: %s", err.text);
	port = mid_api_port(api);
	ok(port > 0, "server listens on port %u", (unsigned)port);
	now = (long long)time(NULL); /* signed requests must be stamped after the start */
	if (!api)
		goto out;

	/* basics */
	is_int(req("GET", "/healthz", NULL, NULL, NULL, r), 200, "GET /healthz 200");
	is_int(req("GET", "/v1/version", NULL, NULL, NULL, r), 200, "GET /v1/version 200");
	is_int(req("GET", "/v1/nope", NULL, NULL, NULL, r), 404, "unknown route 404");
	ok(strstr(r->ctype, "application/problem+json") != NULL, "404 is problem+json");
	ok(strstr(r->body, "\"status\":404") && strstr(r->body, "\"type\":") && strstr(r->body, "\"title\":") &&
	   strstr(r->body, "\"detail\":"), "problem has type, title, status, detail");
	is_int(req("DELETE", "/healthz", NULL, NULL, NULL, r), 405, "wrong method 405");
	is_str(r->allow, "GET", "405 carries Allow");

	/* admin auth */
	is_int(req("GET", "/v1/admin/people", NULL, NULL, NULL, r), 401, "admin without token 401");
	is_int(req("GET", "/v1/admin/people", "mid_wrong", NULL, NULL, r), 401, "admin with a wrong token 401");
	is_int(req("GET", "/v1/admin/people", admin, NULL, NULL, r), 200, "admin with token 200");

	/* bodies */
	is_int(req("POST", "/v1/admin/people", admin, "{\"given_name\":", NULL, r), 400, "broken JSON 400");
	is_int(req("POST", "/v1/admin/people", admin, "{\"given_name\":\"a\",\"given_name\":\"b\"}", NULL, r),
	       400, "duplicate keys 400");
	is_int(req("POST", "/v1/admin/people", admin, "{\"given_name\":\"a\",\"shoe_size\":4}", NULL, r), 400,
	       "unknown key 400");
	memset(big, 'x', 5000);
	big[5000] = 0;
	snprintf(body, sizeof body, "{\"given_name\":\"%.5000s\"}", big);
	is_int(req("POST", "/v1/admin/people", admin, body, NULL, r), 413, "body over max_body_bytes 413");

	/* person, credential with a shown invitation */
	is_int(req("POST", "/v1/admin/people", admin,
	           "{\"given_name\":\"Ada\",\"family_name\":\"Lovelace\",\"email\":\"ada@example.org\","
	           "\"employee_id\":\"E1\"}", NULL, r), 201, "person created 201");
	jstr(r->body, "id", pid, sizeof pid);
	is_int(req("GET", "/v1/admin/people/E1", admin, NULL, NULL, r), 200, "person by employee id");
	snprintf(body, sizeof body, "{\"person\":\"%s\",\"invite\":\"shown\"}", pid);
	is_int(req("POST", "/v1/admin/credentials", admin, body, NULL, r), 201, "credential issued 201");
	{
		json_t *j = json_loads(r->body, 0, NULL);
		snprintf(cid, sizeof cid, "%s", json_string_value(json_object_get(json_object_get(j, "credential"), "id")) ?: "");
		snprintf(code, sizeof code, "%s", json_string_value(json_object_get(json_object_get(j, "invitation"), "code")) ?: "");
		json_decref(j);
	}
	ok(cid[0] && code[0], "credential id and shown code returned");

	/* enrollment */
	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	sodium_bin2base64(pkb, sizeof pkb, pk, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(body, sizeof body, "{\"code\":\"AAAAA-AAAAA\",\"public_key\":\"%s\",\"platform\":\"sim\"}", pkb);
	is_int(req("POST", "/v1/phone/enroll", NULL, body, NULL, r), 403, "enroll with a wrong code 403");
	snprintf(body, sizeof body, "{\"code\":\"%s\",\"public_key\":\"short\",\"platform\":\"sim\"}", code);
	is_int(req("POST", "/v1/phone/enroll", NULL, body, NULL, r), 400, "enroll with a bad key 400");
	snprintf(body, sizeof body, "{\"code\":\"%s\",\"public_key\":\"%s\",\"platform\":\"sim\"}", code, pkb);
	is_int(req("POST", "/v1/phone/enroll", NULL, body, NULL, r), 201, "enroll 201");
	jstr(r->body, "device_id", dev, sizeof dev);
	ok(dev[0] && strstr(r->body, "\"credential\":\""), "enroll returns device id and credential");
	is_int(req("POST", "/v1/phone/enroll", NULL, body, NULL, r), 403, "the code is single use");

	/* signed fetch */
	is_int(req("GET", "/v1/phone/credentials", NULL, NULL, NULL, r), 401, "fetch unsigned 401");
	is_int(phone_fetch(dev, sk, "nonce-0000000001", now, r), 200, "signed fetch 200");
	ok(strstr(r->body, cid) != NULL, "fetch lists the credential");
	is_int(phone_fetch(dev, sk, "nonce-0000000001", now, r), 401, "replayed nonce 401");
	ok(strstr(r->body, "replay") != NULL, "replay named");
	is_int(phone_fetch(dev, sk, "nonce-0000000002", now - 3600, r), 401, "timestamp an hour old 401");
	ok(strstr(r->body, "clock-skew") != NULL, "clock skew named");
	is_int(phone_fetch(dev, sk, "nonce-0000000006", before - 1, r), 401,
	       "stamped before the server started (a request captured before a restart) 401");
	ok(strstr(r->body, "before the gateway's start") != NULL, "the start rule named: %s", r->body);
	is_int(phone_fetch(dev, sk2, "nonce-0000000003", now, r), 401, "signature by another key 401");
	ok(strstr(r->body, "bad-signature") != NULL, "bad signature named");
	is_int(phone_fetch("00000000-0000-4000-8000-000000000000", sk, "nonce-0000000004", now, r), 401,
	       "unknown device 401");

	/* reader */
	is_int(req("POST", "/v1/admin/readers", admin, "{\"name\":\"door 1\"}", NULL, r), 201, "reader added 201");
	jstr(r->body, "token", reader_tok, sizeof reader_tok);
	is_int(req("GET", "/v1/reader/bundle", NULL, NULL, NULL, r), 401, "bundle without token 401");
	is_int(req("GET", "/v1/reader/bundle", admin, NULL, NULL, r), 401, "bundle with an admin token 401");
	is_int(req("GET", "/v1/reader/bundle", reader_tok, NULL, NULL, r), 200, "bundle 200");
	ok(strstr(r->ctype, "application/octet-stream") && r->len > 58, "bundle is binary (%zu bytes)", r->len);
	snprintf(bver, sizeof bver, "%s", r->bver);
	ok(bver[0] != 0, "bundle version header %s", bver);
	snprintf(path, sizeof path, "/v1/reader/bundle?since=%s", bver);
	is_int(req("GET", path, reader_tok, NULL, NULL, r), 304, "bundle since the current version 304");
	is_int(req("GET", "/v1/reader/bundle?since=x", reader_tok, NULL, NULL, r), 400, "bad since 400");
	is_int(req("POST", "/v1/reader/verify", reader_tok, "{\"challenge\":\"AAAA\",\"presentation\":\"AAAA\"}",
	           NULL, r), 200, "verify of garbage answers 200");
	ok(strstr(r->body, "\"result\":\"deny\"") != NULL, "... with a denial: %s", r->body);

	/* revoke */
	snprintf(path, sizeof path, "/v1/admin/credentials/%s/revoke", cid);
	is_int(req("POST", path, admin, "{\"reason\":5}", NULL, r), 400,
	       "revoke: a reason that is not a string 400");
	ok(strstr(r->body, "reason must be a string") != NULL, "the problem names the member");
	is_int(req("POST", path, admin, "{\"why\":\"x\"}", NULL, r), 400, "revoke: an unknown member 400");
	ok(strstr(r->body, "unknown key \\\"why\\\"") != NULL, "the problem names the unknown key");
	is_int(req("POST", path, admin, "{\"reason\":\"lost phone\"}", NULL, r), 200, "revoke 200");
	ok(strstr(r->body, "\"status\":\"revoked\"") != NULL, "credential is revoked");
	is_int(phone_fetch(dev, sk, "nonce-0000000005", now, r), 200, "fetch after revoke 200");
	ok(strstr(r->body, cid) == NULL, "the revoked credential is gone from the fetch");
	snprintf(path, sizeof path, "/v1/reader/bundle?since=%s", bver);
	is_int(req("GET", path, reader_tok, NULL, NULL, r), 200, "bundle changed after the revoke");

	/* other admin routes */
	is_int(req("GET", "/v1/admin/credentials", admin, NULL, NULL, r), 200, "credentials list");
	is_int(req("GET", "/v1/admin/invitations", admin, NULL, NULL, r), 200, "invitations list");
	ok(strstr(r->body, code) == NULL, "invitation list never shows codes");
	is_int(req("GET", "/v1/admin/readers", admin, NULL, NULL, r), 200, "readers list");
	ok(strstr(r->body, reader_tok) == NULL, "reader list never shows tokens");
	is_int(req("GET", "/v1/admin/bindings", admin, NULL, NULL, r), 200, "bindings status");
	is_int(req("GET", "/v1/admin/audit?limit=5", admin, NULL, NULL, r), 200, "audit list");
	snprintf(path, sizeof path, "/v1/admin/people/%s/suspend", pid);
	is_int(req("POST", path, admin, NULL, NULL, r), 200, "person suspended");
	snprintf(path, sizeof path, "/v1/admin/people/%s/resume", pid);
	is_int(req("POST", path, admin, NULL, NULL, r), 200, "person resumed");
	snprintf(path, sizeof path, "/v1/admin/people/%s", pid);
	is_int(req("PUT", path, admin, "{\"mobile\":\"+15550100\"}", NULL, r), 200, "person updated");
	ok(strstr(r->body, "+15550100") && strstr(r->body, "Lovelace"), "update keeps other fields");

	/* metrics */
	is_int(req("GET", "/metrics", NULL, NULL, NULL, r), 200, "metrics 200");
	ok(strstr(r->body, "mid_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"),
	   "metrics count requests by route and status");
	ok(strstr(r->body, "mid_enrollments_total{result=\"ok\"} 1"), "metrics count enrollments");
	ok(strstr(r->body, "mid_people{status=\"active\"} 1"), "metrics gauge people");
	ok(strstr(r->body, "mid_credentials{status=\"revoked\"} 1"), "metrics gauge credentials");

	/* the enrollment rate limit per address */
	for (i = 0; i < 20 && !got429; i++) {
		snprintf(nonce, sizeof nonce, "BBBBB-BBBB%c", 'A' + i % 20);
		snprintf(body, sizeof body, "{\"code\":\"%s\",\"public_key\":\"%s\"}", nonce, pkb);
		if (req("POST", "/v1/phone/enroll", NULL, body, NULL, r) == 429)
			got429 = 1;
	}
	ok(got429, "repeated failed enrollments from one address get 429");
	mid_invite_addr_reset();
out:
	mid_api_stop(api);
	close_instance(in, sec);
	free(r);
}

int main(void)
{
	char tmpl[] = "/tmp/mid-api-test.XXXXXX";
	mid_log_init("api_test", MID_LOGT_STDERR, MID_LOG_WARNING);
	if (sodium_init() < 0)
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_openapi();
	test_body();
	test_sign_string();
	if (!mkdtemp(tmpl))
		return 1;
	snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
	test_transport();
	nftw(tmpdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	if (!mkdtemp(strcpy(tmpl, "/tmp/mid-api-test.XXXXXX")))
		return 1;
	snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
	test_server();
	nftw(tmpdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	curl_global_cleanup();
	return tap_done();
}
