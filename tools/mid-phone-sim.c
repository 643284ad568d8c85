/* tools/mid-phone-sim.c -- a phone simulator for the gateway's phone API.
 *
 *   mid-phone-sim enroll --url URL --code CODE --state FILE [--platform NAME]
 *   mid-phone-sim fetch  --url URL --state FILE
 *   mid-phone-sim answer --state FILE --challenge B64|- [--credential ID]
 *
 * The state file (JSON, mode 0600) holds the device's Ed25519 key pair, the
 * device id the gateway gave it and the credentials it holds. Requests after
 * enrollment are signed as docs/api.md describes (gateway/api_sign.c builds
 * the signed string, shared with the server).
 */
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "gateway/api.h"
#include "reader/credfmt.h"
#include "reader/phone.h"

#define SIM_MAX_RESPONSE (1024 * 1024)

static const char SIM_USAGE[] =
	"Usage:\n"
	"  mid-phone-sim enroll --url URL --code CODE --state FILE [--platform NAME]\n"
	"                       [--cacert FILE]\n"
	"  mid-phone-sim fetch  --url URL --state FILE [--nonce N] [--timestamp UNIX]\n"
	"                       [--cacert FILE]\n"
	"  mid-phone-sim answer --state FILE --challenge B64|- [--credential ID]\n"
	"  mid-phone-sim --help\n"
	"\n"
	"A Mobile ID phone simulator for the gateway's phone API.\n"
	"\n"
	"enroll   creates the device key pair (Ed25519) in the state FILE when it has\n"
	"         none (the file is written with mode 0600), then redeems the\n"
	"         invitation CODE at URL/v1/phone/enroll with the public key, and\n"
	"         stores the device id and the signed credential the gateway returns.\n"
	"fetch    asks URL/v1/phone/credentials for the device's current credentials\n"
	"         with a request signed by the device key (headers X-Device-Id,\n"
	"         X-Timestamp, X-Nonce, X-Signature) and replaces the credentials in\n"
	"         the state file with the answer (a revoked one disappears).\n"
	"answer   answers a reader's challenge (base64url as printed by\n"
	"         `mid-reader-sim challenge`; '-' reads standard input) with a held\n"
	"         credential and the device key, and prints the response in base64url\n"
	"         on one line, for `mid-reader-sim verify --response`.\n"
	"\n"
	"Options:\n"
	"  --url URL          the gateway's base URL, e.g. http://127.0.0.1:8080\n"
	"                     (required for enroll and fetch); https\n"
	"                     is verified against the system CAs or --cacert.\n"
	"  --cacert FILE      CA certificate for an https gateway.\n"
	"  --platform NAME    platform reported at enrollment (default \"sim\").\n"
	"  --credential ID    which credential answers (default: the first held).\n"
	"  --nonce N          use this request nonce instead of a random one, and\n"
	"  --timestamp UNIX   this timestamp instead of the clock (both for testing\n"
	"                     replay and clock-skew refusals).\n"
	"\n"
	"enroll prints the device id, then enroll and fetch print one line per\n"
	"credential held (id, format, facility code, card number), or \"no\n"
	"credentials\"; answer prints only the response.\n"
	"Exit status: 0 success; 1 the gateway refused the request (the problem\n"
	"detail is printed) or answer could not answer the challenge; 2 usage\n"
	"errors, unreadable state, or a gateway that cannot be reached.\n";

typedef struct sim_opts {
	const char *url, *code, *state, *platform, *challenge, *credential, *cacert;
	const char *nonce, *timestamp;
} sim_opts_t;

typedef struct sim_buf {
	char *data;
	size_t len;
	int too_big;
} sim_buf_t;

static size_t sim_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	sim_buf_t *b = ud;
	size_t n = size * nmemb;
	char *nd;
	if (b->len + n > SIM_MAX_RESPONSE) {
		b->too_big = 1;
		return 0;
	}
	nd = realloc(b->data, b->len + n + 1);
	if (!nd)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

/* ---- state file ------------------------------------------------------------ */

static json_t *state_load(const char *path, int must_exist)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		if (!must_exist && access(path, F_OK) != 0)
			return json_object();
		fprintf(stderr, "mid-phone-sim: %s: %s\n", path, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		fprintf(stderr, "mid-phone-sim: %s: not a state file\n", path);
		json_decref(j);
		return NULL;
	}
	return j;
}

static int state_save(const char *path, json_t *st)
{
	char tmp[4096];
	char *text = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
	int fd, rc = -1;
	size_t len;
	if (!text)
		return -1;
	len = strlen(text);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "mid-phone-sim: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0) {
		fprintf(stderr, "mid-phone-sim: %s: %s\n", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "mid-phone-sim: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(text, len);
	free(text);
	return rc;
}

static int b64_field(json_t *st, const char *key, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *s = json_string_value(json_object_get(st, key));
	if (!s || mid_b64url_decode(s, out, n, &got) != 0 || got != n)
		return -1;
	return 0;
}

static int set_b64(json_t *st, const char *key, const uint8_t *in, size_t n)
{
	char buf[256];
	if (mid_b64url_encode(in, n, buf, sizeof buf) != 0)
		return -1;
	return json_object_set_new(st, key, json_string(buf));
}

/* Print one line per credential and return how many. */
static size_t print_creds(json_t *creds)
{
	size_t i;
	json_t *c;
	json_array_foreach(creds, i, c) {
		printf("credential %s format %s facility_code %lld card_number %lld\n",
		       json_string_value(json_object_get(c, "id")),
		       json_string_value(json_object_get(c, "format")) ? json_string_value(json_object_get(c, "format")) : "?",
		       (long long)json_integer_value(json_object_get(c, "facility_code")),
		       (long long)json_integer_value(json_object_get(c, "card_number")));
	}
	return json_array_size(creds);
}

/* ---- HTTP -------------------------------------------------------------------- */

/* Send a request; *status gets the HTTP status, *resp the parsed JSON body
 * (new reference) when there is one. Returns 0 or -1 (transport failure). */
static int http_call(const sim_opts_t *o, const char *method, const char *path,
                     const char *body, struct curl_slist *hdrs, long *status, json_t **resp)
{
	CURL *c = curl_easy_init();
	sim_buf_t b = { 0 };
	char url[2048];
	CURLcode cc;
	int rc = -1;
	size_t ul = strlen(o->url);

	*resp = NULL;
	if (!c)
		return -1;
	while (ul && o->url[ul - 1] == '/')
		ul--;
	snprintf(url, sizeof url, "%.*s%s", (int)ul, o->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sim_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		fprintf(stderr, "mid-phone-sim: %s %s: %s\n", method, url,
		        b.too_big ? "response too large" : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (b.len)
		*resp = json_loadb(b.data, b.len, 0, NULL);
	rc = 0;
out:
	free(b.data);
	curl_easy_cleanup(c);
	return rc;
}

static void print_problem(long status, json_t *resp)
{
	const char *t = json_string_value(json_object_get(resp, "title"));
	const char *d = json_string_value(json_object_get(resp, "detail"));
	fprintf(stderr, "mid-phone-sim: the gateway answered %ld: %s%s%s\n", status, t ? t : "error",
	        d ? ": " : "", d ? d : "");
}

/* ---- commands ------------------------------------------------------------------- */

static int cmd_enroll(const sim_opts_t *o)
{
	json_t *st = state_load(o->state, 0), *req = NULL, *resp = NULL;
	uint8_t pk[MID_PK_SIZE], sk[MID_SK_SIZE];
	char pkb[64], *body = NULL;
	struct curl_slist *h = NULL;
	long status = 0;
	int rc = 2;

	if (!st)
		return 2;
	if (b64_field(st, "public_key", pk, sizeof pk) != 0 || b64_field(st, "secret_key", sk, sizeof sk) != 0) {
		if (mid_phone_keygen(pk, sk) != 0) {
			fprintf(stderr, "mid-phone-sim: key generation failed\n");
			goto out;
		}
		set_b64(st, "public_key", pk, sizeof pk);
		set_b64(st, "secret_key", sk, sizeof sk);
		if (state_save(o->state, st) != 0)
			goto out;
	}
	mid_b64url_encode(pk, sizeof pk, pkb, sizeof pkb);
	req = json_pack("{s:s, s:s, s:s}", "code", o->code, "public_key", pkb, "platform",
	                o->platform ? o->platform : "sim");
	body = json_dumps(req, JSON_COMPACT);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (!body || http_call(o, "POST", "/v1/phone/enroll", body, h, &status, &resp) != 0)
		goto out;
	if (status != 201) {
		print_problem(status, resp);
		rc = 1;
		goto out;
	}
	json_object_set(st, "device_id", json_object_get(resp, "device_id"));
	json_object_set(st, "credentials", json_object_get(resp, "credentials"));
	if (state_save(o->state, st) != 0)
		goto out;
	printf("device %s\n", json_string_value(json_object_get(resp, "device_id")));
	print_creds(json_object_get(resp, "credentials"));
	rc = 0;
out:
	sodium_memzero(sk, sizeof sk);
	curl_slist_free_all(h);
	free(body);
	json_decref(req);
	json_decref(resp);
	json_decref(st);
	return rc;
}

static int cmd_fetch(const sim_opts_t *o)
{
	static const char path[] = "/v1/phone/credentials";
	json_t *st = state_load(o->state, 1), *resp = NULL;
	uint8_t sk[MID_SK_SIZE], sig[crypto_sign_BYTES], rnd[18];
	char msg[2048], ts[32], nonce[40], sigb[100], hdr[256];
	const char *dev;
	struct curl_slist *h = NULL;
	long status = 0;
	int rc = 2;

	if (!st)
		return 2;
	dev = json_string_value(json_object_get(st, "device_id"));
	if (!dev || b64_field(st, "secret_key", sk, sizeof sk) != 0) {
		fprintf(stderr, "mid-phone-sim: %s: not enrolled yet (run enroll first)\n", o->state);
		goto out;
	}
	if (o->timestamp)
		snprintf(ts, sizeof ts, "%s", o->timestamp);
	else
		snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
	if (o->nonce)
		snprintf(nonce, sizeof nonce, "%s", o->nonce);
	else {
		randombytes_buf(rnd, sizeof rnd);
		mid_b64url_encode(rnd, sizeof rnd, nonce, sizeof nonce);
	}
	if (mid_api_sign_string("GET", path, ts, nonce, dev, NULL, 0, msg, sizeof msg) != MID_OK)
		goto out;
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg), sk);
	mid_b64url_encode(sig, sizeof sig, sigb, sizeof sigb);
	snprintf(hdr, sizeof hdr, "X-Device-Id: %s", dev);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof hdr, "X-Timestamp: %s", ts);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof hdr, "X-Nonce: %s", nonce);
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof hdr, "X-Signature: %s", sigb);
	h = curl_slist_append(h, hdr);
	if (http_call(o, "GET", path, NULL, h, &status, &resp) != 0)
		goto out;
	if (status != 200) {
		print_problem(status, resp);
		rc = 1;
		goto out;
	}
	json_object_set(st, "credentials", json_object_get(resp, "credentials"));
	if (state_save(o->state, st) != 0)
		goto out;
	if (print_creds(json_object_get(resp, "credentials")) == 0)
		printf("no credentials\n");
	rc = 0;
out:
	sodium_memzero(sk, sizeof sk);
	curl_slist_free_all(h);
	json_decref(resp);
	json_decref(st);
	return rc;
}

static int cmd_answer(const sim_opts_t *o)
{
	json_t *st = state_load(o->state, 1), *creds, *c;
	uint8_t sk[MID_SK_SIZE], chal[MID_CHALLENGE_MAX_SIZE + 1], cred[MID_CREDENTIAL_SIZE + 1];
	uint8_t out[MID_PRESENTATION_MAX_SIZE];
	char line[1024], b64[2 * MID_PRESENTATION_MAX_SIZE];
	const char *chal_text = o->challenge, *cb64 = NULL;
	size_t chal_len = 0, cred_len = 0, out_len = 0, i;
	int rc = 2, e;

	if (!st)
		return 2;
	if (b64_field(st, "secret_key", sk, sizeof sk) != 0) {
		fprintf(stderr, "mid-phone-sim: %s: no device key (run enroll first)\n", o->state);
		goto out;
	}
	if (strcmp(chal_text, "-") == 0) {
		if (!fgets(line, sizeof line, stdin)) {
			fprintf(stderr, "mid-phone-sim: no challenge on standard input\n");
			goto out;
		}
		line[strcspn(line, "\r\n")] = 0;
		chal_text = line;
	}
	if (mid_b64url_decode(chal_text, chal, sizeof chal, &chal_len) != 0) {
		fprintf(stderr, "mid-phone-sim: the challenge is not base64url or too long\n");
		goto out;
	}
	creds = json_object_get(st, "credentials");
	json_array_foreach(creds, i, c) {
		if (!o->credential || strcmp(o->credential, json_string_value(json_object_get(c, "id")) ? json_string_value(json_object_get(c, "id")) : "") == 0) {
			cb64 = json_string_value(json_object_get(c, "credential"));
			break;
		}
	}
	if (!cb64) {
		fprintf(stderr, "mid-phone-sim: %s: %s\n", o->state,
		        o->credential ? "no such credential" : "no credential held (enroll or fetch first)");
		goto out;
	}
	if (mid_b64url_decode(cb64, cred, sizeof cred, &cred_len) != 0) {
		fprintf(stderr, "mid-phone-sim: %s: a stored credential is not base64url\n", o->state);
		goto out;
	}
	e = mid_phone_answer(chal, chal_len, cred, cred_len, sk, out, sizeof out, &out_len);
	if (e != 0) {
		fprintf(stderr, "mid-phone-sim: cannot answer: %s\n", mid_cerr_str(e));
		rc = 1;
		goto out;
	}
	mid_b64url_encode(out, out_len, b64, sizeof b64);
	printf("%s\n", b64);
	rc = 0;
out:
	sodium_memzero(sk, sizeof sk);
	json_decref(st);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "url", required_argument, NULL, 'u' },     { "code", required_argument, NULL, 'c' },
		{ "state", required_argument, NULL, 's' },   { "platform", required_argument, NULL, 'p' },
		{ "challenge", required_argument, NULL, 'C' }, { "credential", required_argument, NULL, 'i' },
		{ "cacert", required_argument, NULL, 'A' },  { "nonce", required_argument, NULL, 'n' },
		{ "timestamp", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	sim_opts_t o = { 0 };
	const char *cmd;
	int ch, rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	                  strcmp(argv[1], "help") == 0)) {
		fputs(SIM_USAGE, stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		fputs(SIM_USAGE, stderr);
		return 2;
	}
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'u': o.url = optarg; break;
		case 'c': o.code = optarg; break;
		case 's': o.state = optarg; break;
		case 'p': o.platform = optarg; break;
		case 'C': o.challenge = optarg; break;
		case 'i': o.credential = optarg; break;
		case 'A': o.cacert = optarg; break;
		case 'n': o.nonce = optarg; break;
		case 't': o.timestamp = optarg; break;
		case 'h': fputs(SIM_USAGE, stdout); return 0;
		default: fputs(SIM_USAGE, stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mid-phone-sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "mid-phone-sim: libsodium failed to initialise\n");
		return 2;
	}
	if (strcmp(cmd, "enroll") == 0) {
		if (!o.url || !o.code || !o.state) {
			fprintf(stderr, "mid-phone-sim: enroll needs --url, --code and --state\n");
			return 2;
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = cmd_enroll(&o);
	} else if (strcmp(cmd, "fetch") == 0) {
		if (!o.url || !o.state) {
			fprintf(stderr, "mid-phone-sim: fetch needs --url and --state\n");
			return 2;
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = cmd_fetch(&o);
	} else if (strcmp(cmd, "answer") == 0) {
		if (!o.state || !o.challenge) {
			fprintf(stderr, "mid-phone-sim: answer needs --state and --challenge\n");
			return 2;
		}
		return cmd_answer(&o);
	} else {
		fprintf(stderr, "mid-phone-sim: unknown command '%s' (see --help)\n", cmd);
		return 2;
	}
	curl_global_cleanup();
	return rc;
}
