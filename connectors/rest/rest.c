/* connectors/rest/rest.c -- the REST connector (HTTP/JSON PACS APIs).
 *
 * Everything vendor-specific is declared in the binding's settings (see
 * connectors/rest/README.md and schemas/connector-rest.schema.json): the
 * list request and its paging, a changes feed or a last-modified filter,
 * the write requests with JSON body templates, the auth scheme. This file
 * holds the machinery: one libcurl easy handle per instance (connections
 * and TLS sessions reused), auth headers from host secrets (wiped after
 * use), retries (Retry-After, exponential backoff with full jitter, a time
 * budget), paging with repeat/skip detection, cursors, and writes with
 * conflict handling. Only the descriptor is exported.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <curl/curl.h>
#include <jansson.h>

#include "mobileid/connector.h"
#include "connectors/rest/restjson.h"
#include "connectors/rest/rest-schema.h"

#define RS_VERSION "1.0.0"
#define RS_DEFAULT_MAX_BYTES (16u * 1024 * 1024)
#define RS_MAX_STATUS 16

enum rs_auth { RS_AUTH_NONE, RS_AUTH_BASIC, RS_AUTH_BEARER, RS_AUTH_APIKEY, RS_AUTH_OAUTH2 };
enum rs_style { RS_PG_NONE, RS_PG_INDEX, RS_PG_PAGE, RS_PG_LINK, RS_PG_CURSOR };

/* ---- configuration (read-only after open) ---------------------------------- */

typedef struct rs_retry {
	long max_attempts, push_max_attempts, base_ms, max_ms, max_total_ms;
	int rate[RS_MAX_STATUS], nrate;
	int retry[RS_MAX_STATUS], nretry;
} rs_retry_t;

typedef struct rs_conf {
	json_t *root;              /* the settings document (owned) */
	char *base;                /* base_url without a trailing '/' */
	char origin[512];          /* scheme://host:port of base */
	int auth;
	const char *auth_header, *auth_scheme, *token_url, *scope, *audience;
	int client_auth_body;
	long refresh_before_s;
	int tls_verify;
	long connect_ms, total_ms;
	size_t max_bytes;
	int max_depth;
	rs_retry_t retry;
	const char *rec_id, *rec_etag;
	const char **omit;
	size_t nomit;
	json_t *vars;              /* installer variables {{$vars.NAME}} (borrowed from root) */
	json_t *alias;             /* record.alias with $vars expanded: name -> path (owned) */
	json_t *list, *changes, *delta, *get, *create, *update, *disable, *del, *conflict,
	       *probe;
	long full_every_s;
} rs_conf_t;

/* ---- one HTTP exchange ---------------------------------------------------------- */

typedef struct rs_resp {
	long status;
	rj_buf_t body;
	int too_big;
	char etag[128];
	char location[1024];
	char retry_after[128];
	char link_next[2048];
	int curl_rc;               /* CURLE_OK when a response came */
	char curl_err[CURL_ERROR_SIZE];
} rs_resp_t;

typedef struct rs_http_req {
	const char *method;
	const char *url;
	struct curl_slist *headers;
	const char *body;          /* NULL: none */
	size_t body_len;
	int connect_only;
} rs_http_req_t;

typedef struct rs_inst rs_inst_t;
/* The transport: fills resp; returns 0 (resp->curl_rc tells about errors).
 * Unit tests replace it with a scripted server. */
typedef int (*rs_xfer_fn)(rs_inst_t *in, const rs_http_req_t *rq, rs_resp_t *resp);

struct rs_inst {
	const mid_host_t *host;
	rs_conf_t c;
	CURL *curl;
	rs_xfer_fn xfer;
	void (*sleep_ms)(rs_inst_t *in, int64_t ms);
	void *test_ctx;            /* for unit tests' transport */
	long fast_pages;           /* list pages the page parser read, all pulls (tests) */
	uint64_t rnd;              /* xorshift state for jitter */
	/* run state */
	char *token;               /* oauth2 access token (wiped on free) */
	size_t token_len;
	int64_t token_exp_ms;      /* wall clock */
	int64_t waited_ms;         /* sleep total, for tests and reports */
	/* during one list pull (rs_list) the auth line of a static credential
	 * (basic, bearer, api_key) is built once, not once per page: each build
	 * is a round trip through the host's secret store (a read and two
	 * guarded allocations). Wiped and freed when the pull ends. */
	int auth_keep;
	char *auth_line;
};

/* ---- small helpers ---------------------------------------------------------------- */

static void rs_log(const rs_inst_t *in, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void rs_log(const rs_inst_t *in, int level, const char *fmt, ...)
{
	va_list ap;
	if (!in->host || !in->host->log)
		return;
	va_start(ap, fmt);
	in->host->log(in->host->ctx, level, fmt, ap);
	va_end(ap);
}

static int64_t rs_now(const rs_inst_t *in)
{
	struct timespec ts;
	if (in->host && in->host->now_ms)
		return in->host->now_ms(in->host->ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t rs_mono(const rs_inst_t *in)
{
	struct timespec ts;
	if (in->host && in->host->monotonic_ms)
		return in->host->monotonic_ms(in->host->ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rs_sleep_real(rs_inst_t *in, int64_t ms)
{
	(void)in;
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void rs_sleep(rs_inst_t *in, int64_t ms)
{
	if (ms <= 0)
		return;
	in->waited_ms += ms;
	in->sleep_ms(in, ms);
}

static uint64_t rs_rand(rs_inst_t *in)
{
	uint64_t x = in->rnd ? in->rnd : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	in->rnd = x;
	return x;
}

static void rs_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

/* Copy a string into a fixed buffer, cut to fit. */
static void rs_copy(char *dst, size_t dsz, const char *src)
{
	size_t n = strlen(src);
	if (!dsz)
		return;
	if (n >= dsz)
		n = dsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *rs_str(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static long rs_int(const json_t *o, const char *k, long dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

static int rs_status_list(const json_t *a, int *out, int max, int *n, const int *dflt,
                          int ndflt)
{
	if (!json_is_array(a)) {
		for (int i = 0; i < ndflt && i < max; i++)
			out[i] = dflt[i];
		*n = ndflt < max ? ndflt : max;
		return 0;
	}
	*n = 0;
	for (size_t i = 0; i < json_array_size(a) && *n < max; i++)
		out[(*n)++] = (int)json_integer_value(json_array_get(a, i));
	return 0;
}

static int rs_in_list(const int *l, int n, long v)
{
	for (int i = 0; i < n; i++)
		if (l[i] == v)
			return 1;
	return 0;
}

/* Whether status is a success for request spec r (ok_status or any 2xx). */
static int rs_ok_status(const json_t *r, long status)
{
	json_t *ok = json_object_get(r, "ok_status");
	if (json_is_array(ok)) {
		for (size_t i = 0; i < json_array_size(ok); i++)
			if (json_integer_value(json_array_get(ok, i)) == status)
				return 1;
		return 0;
	}
	return status >= 200 && status < 300;
}

/* ---- Retry-After and backoff -------------------------------------------------------- */

/* Milliseconds a Retry-After value asks to wait: delta seconds or an HTTP
 * date (RFC 9110 10.2.3). -1 when unparsable. A date in the past gives 0. */
static int64_t rs_retry_after_ms(const char *v, int64_t now_ms)
{
	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!*v)
		return -1;
	if (*v >= '0' && *v <= '9') {
		char *end;
		errno = 0;
		unsigned long long s = strtoull(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end || errno)
			return -1;
		if (s > 86400ull * 365)
			s = 86400ull * 365;
		return (int64_t)s * 1000;
	}
	time_t t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	int64_t d = (int64_t)t * 1000 - now_ms;
	return d < 0 ? 0 : d;
}

/* Exponential backoff with full jitter for attempt (1-based). */
static int64_t rs_backoff_ms(rs_inst_t *in, int attempt)
{
	int64_t d = in->c.retry.base_ms;
	for (int i = 1; i < attempt && d < in->c.retry.max_ms; i++)
		d *= 2;
	if (d > in->c.retry.max_ms)
		d = in->c.retry.max_ms;
	if (d <= 0)
		return 0;
	/* full jitter, but never below a quarter of the step */
	return d / 4 + (int64_t)(rs_rand(in) % (uint64_t)(d - d / 4 + 1));
}

/* ---- secrets and auth ------------------------------------------------------------------ */

/* A credential setting: a plain string (where the schema allows one) or a
 * {"secret": NAME} reference resolved through the host. *v is malloc'd
 * (free with rs_cred_free). MID_ENOTFOUND when the setting is absent. */
static int rs_cred_get(rs_inst_t *in, const char *key, char **v, size_t *len, mid_error_t *err)
{
	json_t *s = json_object_get(in->c.root, key);
	*v = NULL;
	*len = 0;
	if (json_is_string(s)) {
		*v = strdup(json_string_value(s));
		*len = json_string_length(s);
		return *v ? MID_OK : mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	const char *name = json_string_value(json_object_get(s, "secret"));
	if (!name)
		return mid_error_set(err, MID_ENOTFOUND, 0, "setting \"%s\" is missing (a {\"secret\": "
		                     "NAME} reference)", key);
	if (!in->host->secret_get)
		return mid_error_set(err, MID_EINVAL, 0, "the host gives no secrets");
	char *hv = NULL;
	size_t hl = 0;
	mid_error_t e2 = { 0 };
	int rc = in->host->secret_get(in->host->ctx, name, &hv, &hl, &e2);
	if (rc) {
		*err = e2;
		if (!err->code)
			mid_error_set(err, rc, 0, "secret \"%s\" is not available", name);
		return rc;
	}
	/* our own copy, so one free path for both kinds */
	*v = malloc(hl + 1);
	if (*v) {
		memcpy(*v, hv, hl);
		(*v)[hl] = '\0';
		*len = hl;
	}
	if (in->host->secret_free)
		in->host->secret_free(in->host->ctx, hv, hl);
	return *v ? MID_OK : mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

static void rs_cred_free(char *v, size_t len)
{
	if (v) {
		rs_wipe(v, len);
		free(v);
	}
}

static const char rs_b64tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 (RFC 4648, padded) of n bytes into out (4*((n+2)/3)+1 bytes). */
static void rs_b64(const unsigned char *s, size_t n, char *out)
{
	size_t i, o = 0;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out[o++] = rs_b64tab[v >> 18];
		out[o++] = rs_b64tab[(v >> 12) & 63];
		out[o++] = rs_b64tab[(v >> 6) & 63];
		out[o++] = rs_b64tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		out[o++] = rs_b64tab[v >> 18];
		out[o++] = rs_b64tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? rs_b64tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

/* "Basic base64(user:pass)" into a malloc'd string (caller wipes). */
static char *rs_basic_value(const char *user, size_t ul, const char *pass, size_t pl)
{
	size_t n = ul + 1 + pl;
	unsigned char *raw = malloc(n + 1);
	char *out = malloc(6 + 4 * ((n + 2) / 3) + 1);
	if (!raw || !out) {
		free(raw);
		free(out);
		return NULL;
	}
	memcpy(raw, user, ul);
	raw[ul] = ':';
	memcpy(raw + ul + 1, pass, pl);
	memcpy(out, "Basic ", 6);
	rs_b64(raw, n, out + 6);
	rs_wipe(raw, n);
	free(raw);
	return out;
}

static int rs_header_ok(const char *v)
{
	for (; *v; v++)
		if (*v == '\r' || *v == '\n')
			return 0;
	return 1;
}

static int rs_oauth2_token(rs_inst_t *in, mid_error_t *err);

/* The authentication header line ("Name: value") for the next request, or
 * NULL with MID_OK when auth is none. Caller wipes and frees. */
static int rs_auth_line(rs_inst_t *in, char **line, mid_error_t *err)
{
	char *a = NULL, *b = NULL, *val = NULL;
	size_t al = 0, bl = 0;
	int rc = MID_OK;
	const char *hname = "Authorization";

	*line = NULL;
	if (in->auth_line) {
		if (!(*line = strdup(in->auth_line)))
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		return MID_OK;
	}
	switch (in->c.auth) {
	case RS_AUTH_NONE:
		return MID_OK;
	case RS_AUTH_BASIC:
		if ((rc = rs_cred_get(in, "username", &a, &al, err)) ||
		    (rc = rs_cred_get(in, "password", &b, &bl, err)))
			goto out;
		if (!(val = rs_basic_value(a, al, b, bl)))
			rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		break;
	case RS_AUTH_BEARER:
		if ((rc = rs_cred_get(in, "token", &a, &al, err)))
			goto out;
		if (asprintf(&val, "Bearer %s", a) < 0)
			val = NULL, rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		break;
	case RS_AUTH_APIKEY:
		if ((rc = rs_cred_get(in, "api_key", &a, &al, err)))
			goto out;
		hname = in->c.auth_header;
		if (asprintf(&val, "%s%s%s", in->c.auth_scheme, *in->c.auth_scheme ? " " : "", a) < 0)
			val = NULL, rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		break;
	case RS_AUTH_OAUTH2:
		if ((rc = rs_oauth2_token(in, err)))
			goto out;
		if (asprintf(&val, "Bearer %s", in->token) < 0)
			val = NULL, rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		break;
	}
	if (rc)
		goto out;
	if (!rs_header_ok(val)) {
		rc = mid_error_set(err, MID_EINVAL, 0, "the credential contains a line break");
		goto out;
	}
	if (asprintf(line, "%s: %s", hname, val) < 0) {
		*line = NULL;
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	} else if (in->auth_keep && in->c.auth != RS_AUTH_OAUTH2) {
		in->auth_line = strdup(*line);   /* none: built again next time */
	}
out:
	rs_cred_free(a, al);
	rs_cred_free(b, bl);
	if (val)
		rs_cred_free(val, strlen(val));
	return rc;
}

/* End of a list pull: the kept auth line is wiped. */
static void rs_auth_unkeep(rs_inst_t *in)
{
	if (in->auth_line)
		rs_cred_free(in->auth_line, strlen(in->auth_line));
	in->auth_line = NULL;
	in->auth_keep = 0;
}

static void rs_token_drop(rs_inst_t *in)
{
	rs_cred_free(in->token, in->token_len);
	in->token = NULL;
	in->token_len = 0;
	in->token_exp_ms = 0;
}

/* ---- the curl transport ----------------------------------------------------------------- */

typedef struct rs_cb {
	rs_resp_t *r;
	size_t max;
} rs_cb_t;

static size_t rs_write_cb(char *p, size_t sz, size_t nm, void *ud)
{
	rs_cb_t *cb = ud;
	size_t n = sz * nm;
	if (cb->r->body.len + n > cb->max) {
		cb->r->too_big = 1;
		return 0;
	}
	if (rj_buf_add(&cb->r->body, p, n))
		return 0;
	return n;
}

static void rs_hdr_value(const char *p, size_t n, char *out, size_t outsz)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
		n--;
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The rel="next" target of a Link header value, if any. */
static void rs_link_next(const char *v, char *out, size_t outsz)
{
	const char *p = v;
	while ((p = strchr(p, '<'))) {
		const char *e = strchr(p, '>');
		if (!e)
			return;
		const char *params = e + 1, *stop = strchr(params, ',');
		size_t pl = stop ? (size_t)(stop - params) : strlen(params);
		char tmp[256];
		snprintf(tmp, sizeof tmp, "%.*s", (int)(pl < 255 ? pl : 255), params);
		if (strstr(tmp, "rel=\"next\"") || strstr(tmp, "rel=next")) {
			size_t n = (size_t)(e - p - 1);
			if (n < outsz) {
				memcpy(out, p + 1, n);
				out[n] = '\0';
			}
			return;
		}
		p = e + 1;
	}
}

static size_t rs_header_cb(char *p, size_t sz, size_t nm, void *ud)
{
	rs_cb_t *cb = ud;
	size_t n = sz * nm;
	rs_resp_t *r = cb->r;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget earlier headers */
		r->etag[0] = r->location[0] = r->retry_after[0] = r->link_next[0] = '\0';
		return n;
	}
	const char *colon = memchr(p, ':', n);
	if (!colon)
		return n;
	size_t kl = (size_t)(colon - p), vl = n - kl - 1;
	if (kl == 4 && !strncasecmp(p, "ETag", 4))
		rs_hdr_value(colon + 1, vl, r->etag, sizeof r->etag);
	else if (kl == 8 && !strncasecmp(p, "Location", 8))
		rs_hdr_value(colon + 1, vl, r->location, sizeof r->location);
	else if (kl == 11 && !strncasecmp(p, "Retry-After", 11))
		rs_hdr_value(colon + 1, vl, r->retry_after, sizeof r->retry_after);
	else if (kl == 4 && !strncasecmp(p, "Link", 4)) {
		char v[4096];
		rs_hdr_value(colon + 1, vl, v, sizeof v);
		rs_link_next(v, r->link_next, sizeof r->link_next);
	}
	return n;
}

static int rs_xfer_curl(rs_inst_t *in, const rs_http_req_t *rq, rs_resp_t *resp)
{
	CURL *c = in->curl;
	const mid_http_defaults_t *hd = in->host->http;
	rs_cb_t cb = { resp, in->c.max_bytes };
	char *kp = NULL;
	size_t kpl = 0;
	CURLcode rc;

	curl_easy_reset(c);
	/* a list page is 100-200 KB: read it in a few large reads rather
	 * than 16 KB ones (a tenth of the receive calls of a pull) */
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	resp->curl_err[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->curl_err);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, in->c.connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, in->c.total_ms);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT,
	                 hd && hd->user_agent ? hd->user_agent : "mobileid-gateway-rest/" RS_VERSION);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, in->c.tls_verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, in->c.tls_verify ? 2L : 0L);
	const char *ca = rs_str(in->c.root, "ca_file", hd ? hd->ca_file : NULL);
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	const char *cert = rs_str(in->c.root, "client_cert", NULL);
	const char *key = rs_str(in->c.root, "client_key", NULL);
	if (cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
	if (key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	if (json_object_get(in->c.root, "client_key_password")) {
		mid_error_t e2 = { 0 };
		if (rs_cred_get(in, "client_key_password", &kp, &kpl, &e2) == MID_OK)
			curl_easy_setopt(c, CURLOPT_KEYPASSWD, kp);
	}
	const char *proxy = rs_str(in->c.root, "proxy", hd ? hd->proxy : NULL);
	if (proxy)
		curl_easy_setopt(c, CURLOPT_PROXY, proxy);
	if (rq->connect_only) {
		curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, rq->headers);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rs_write_cb);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &cb);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, rs_header_cb);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &cb);
		if (!strcmp(rq->method, "GET")) {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		} else if (!strcmp(rq->method, "POST")) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
		} else {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
		}
		if (!strcmp(rq->method, "DELETE") && !rq->body)
			curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
		if (rq->body) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		} else if (!strcmp(rq->method, "POST") || !strcmp(rq->method, "PUT") ||
		           !strcmp(rq->method, "PATCH")) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		}
	}
	rc = curl_easy_perform(c);
	rs_cred_free(kp, kpl);
	resp->curl_rc = (int)rc;
	if (rc == CURLE_OK && !rq->connect_only)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc != CURLE_OK && !resp->curl_err[0])
		rs_copy(resp->curl_err, sizeof resp->curl_err, curl_easy_strerror(rc));
	return 0;
}

static void rs_resp_clear(rs_resp_t *r)
{
	rj_buf_free(&r->body);
	memset(r, 0, sizeof *r);
}

/* A transport error that a later attempt may cure. */
static int rs_curl_transient(int rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE:
	case CURLE_COULDNT_RESOLVE_HOST: case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_SSL_CONNECT_ERROR:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

/* ---- building requests ------------------------------------------------------------------- */

/* Values a template can name: the pushed record's fields and $variables. */
typedef struct rs_vars {
	const json_t *cv;          /* settings "vars" ({{$vars.NAME}}), may be NULL */
	const mid_record_t *rec;
	const char *id, *etag, *start, *size, *page, *cursor, *since;
	char now[32];
	const char *one[1];
	/* reconcile (see rs_reconcile): JSON texts of the add and remove
	 * arrays (owned, NULL when empty), the wanted key and the element an
	 * add or remove template is expanded for */
	char *add, *remove;
	const char *key;
	json_t *item;
	char itembuf[1024];
} rs_vars_t;

static void rs_vars_recon_clear(rs_vars_t *v)
{
	free(v->add);
	free(v->remove);
	v->add = v->remove = NULL;
	v->key = NULL;
	v->item = NULL;
}

static int rs_lookup(void *ctx, const char *name, const char *const **values, size_t *n)
{
	rs_vars_t *v = ctx;
	if (!strncmp(name, "$vars.", 6)) {
		/* an installer setting: a constant of the binding */
		const char *s = json_string_value(json_object_get(v->cv, name + 6));
		if (!s || !*s)
			return 0;
		v->one[0] = s;
		*values = v->one;
		*n = 1;
		return 2;
	}
	if (!strncmp(name, "$item.", 6)) {
		/* reconcile: a value of the element being removed */
		if (!v->item || !rj_path_text(v->item, name + 6, v->itembuf, sizeof v->itembuf))
			return 0;
		v->one[0] = v->itembuf;
		*values = v->one;
		*n = 1;
		return 1;
	}
	if (name[0] == '$') {
		const char *s = NULL;
		const char *k = name + 1;
		if (!strcmp(k, "id")) s = v->id;
		else if (!strcmp(k, "add")) s = v->add;
		else if (!strcmp(k, "remove")) s = v->remove;
		else if (!strcmp(k, "key")) s = v->key;
		else if (!strcmp(k, "etag")) s = v->etag;
		else if (!strcmp(k, "start")) s = v->start;
		else if (!strcmp(k, "size")) s = v->size;
		else if (!strcmp(k, "page")) s = v->page;
		else if (!strcmp(k, "cursor")) s = v->cursor;
		else if (!strcmp(k, "since")) s = v->since;
		else if (!strcmp(k, "now")) s = v->now[0] ? v->now : NULL;
		if (!s || !*s)
			return 0;
		v->one[0] = s;
		*values = v->one;
		*n = 1;
		return 1;
	}
	if (!v->rec || !v->rec->fields)
		return 0;
	for (size_t i = 0; i < v->rec->nfields; i++)
		if (!strcmp(v->rec->fields[i].name, name)) {
			/* an empty single value is no value (the mapper gives "" for
			 * an unset canonical field) */
			if (!v->rec->fields[i].nvalues ||
			    (v->rec->fields[i].nvalues == 1 && !v->rec->fields[i].values[0][0]))
				return 0;
			*values = v->rec->fields[i].values;
			*n = v->rec->fields[i].nvalues;
			return 1;
		}
	return 0;
}

static void rs_iso8601(int64_t ms, int with_ms, char *out, size_t outsz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	if (with_ms)
		snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
		         (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
		         tm.tm_sec % 100, (int)(ms % 1000));
	else
		strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Percent-encode s (everything but RFC 3986 unreserved characters). */
static int rs_urlenc(rj_buf_t *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		           c == '-' || c == '_' || c == '.' || c == '~';
		char e[3] = { (char)c, 0, 0 };
		if (!keep) {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
		}
		if (rj_buf_add(o, e, keep ? 1 : 3))
			return -1;
	}
	return 0;
}

/* Query parameters of object q appended to url: each value is expanded,
 * then percent-encoded whole; a parameter naming an absent value is left
 * out. */
static int rs_add_query(const json_t *q, rs_vars_t *v, rj_buf_t *url, int *first,
                        mid_error_t *err)
{
	const char *k;
	json_t *x;
	int rc;
	json_object_foreach((json_t *)q, k, x) {
		rj_buf_t val = { NULL, 0, 0 };
		size_t absent = 0;
		if (!json_is_string(x))
			continue;
		if ((rc = rj_expand_text(json_string_value(x), rs_lookup, v, RJ_ENC_NONE, &val,
		                         &absent, err))) {
			rj_buf_free(&val);
			return rc;
		}
		rc = MID_OK;
		if (!absent) {
			if (rj_buf_adds(url, *first ? "?" : "&") || rs_urlenc(url, k) ||
			    rj_buf_adds(url, "=") || rs_urlenc(url, val.p ? val.p : ""))
				rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			*first = 0;
		}
		rj_buf_free(&val);
		if (rc)
			return rc;
	}
	return MID_OK;
}

static int rs_same_origin(rs_inst_t *in, const char *link, char *out, size_t outsz);

/* The URL of request spec r: base + path + query (+ extra query). A path
 * placeholder that is absent is an error (the request cannot be made). */
static int rs_url(rs_inst_t *in, const json_t *r, const json_t *extra, rs_vars_t *v,
                  rj_buf_t *url, mid_error_t *err)
{
	size_t absent = 0;
	int rc, first;
	const char *path = rs_str(r, "path", "");
	size_t pl = strlen(path);
	if (pl > 4 && !strncmp(path, "{{", 2) && !strcmp(path + pl - 2, "}}") &&
	    !strstr(path + 2, "{{") && strstr(path + 2, "}}") == path + pl - 2) {
		/* a path that is one value: an href (absolute, or a path from
		 * the server's root) is followed, but only on base_url's origin,
		 * so credentials never go anywhere else */
		rj_buf_t h = { NULL, 0, 0 };
		if ((rc = rj_expand_text(path, rs_lookup, v, RJ_ENC_NONE, &h, &absent, err))) {
			rj_buf_free(&h);
			return rc;
		}
		if (!absent && h.p && (!strncasecmp(h.p, "http://", 7) ||
		                       !strncasecmp(h.p, "https://", 8) || h.p[0] == '/')) {
			char abs[2048];
			int same = rs_same_origin(in, h.p, abs, sizeof abs);
			if (!same) {
				rc = mid_error_set(err, MID_EINVAL, 0, "request path %s: the href %.200s is "
				                   "not on %s: refused", path, h.p, in->c.origin);
				rj_buf_free(&h);
				return rc;
			}
			rj_buf_free(&h);
			if (rj_buf_adds(url, abs))
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			goto query;
		}
		rj_buf_free(&h);
		absent = 0;
	}
	if (rj_buf_adds(url, in->c.base))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if (path[0] != '/' && rj_buf_add(url, "/", 1))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if ((rc = rj_expand_text(path, rs_lookup, v, RJ_ENC_URL, url, &absent, err)))
		return rc;
	if (absent)
		return mid_error_set(err, MID_EINVAL, 0, "request path %s: a value it needs is "
		                     "missing from the record", path);
query:
	first = strchr(url->p, '?') == NULL;
	if (json_is_object(json_object_get(r, "query")) &&
	    (rc = rs_add_query(json_object_get(r, "query"), v, url, &first, err)))
		return rc;
	if (json_is_object(extra) && (rc = rs_add_query(extra, v, url, &first, err)))
		return rc;
	return MID_OK;
}

/* Whether url is on base_url's origin (scheme, host, port); the resolved
 * absolute URL goes to out. */
static int rs_same_origin(rs_inst_t *in, const char *link, char *out, size_t outsz)
{
	CURLU *u = curl_url();
	char *abs = NULL, *scheme = NULL, *host = NULL, *port = NULL;
	int ok = 0;
	if (!u)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, in->c.base, 0) ||
	    curl_url_set(u, CURLUPART_URL, link, 0) ||
	    curl_url_get(u, CURLUPART_URL, &abs, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT))
		goto out;
	char origin[512];
	snprintf(origin, sizeof origin, "%s://%s:%s", scheme, host, port);
	if (strcasecmp(origin, in->c.origin) == 0 && strlen(abs) < outsz) {
		snprintf(out, outsz, "%s", abs);
		ok = 1;
	}
out:
	curl_free(abs);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ok;
}

/* ---- sending with retries ------------------------------------------------------------------- */

typedef struct rs_send {
	const char *method;
	const char *url;
	const json_t *spec;        /* for headers and content_type; may be NULL */
	rs_vars_t *vars;
	const char *body;          /* NULL: none */
	const char *ctype;
	const char *if_match;
	int push;                  /* push budget (fewer attempts) */
	int want_json;             /* a 2xx body must parse; a parse failure is retried (GET) */
	json_t *doc;               /* out: parsed body of a success */
} rs_send_t;

static int rs_headers(rs_inst_t *in, rs_send_t *s, struct curl_slist **hl, mid_error_t *err)
{
	int rc;
	char *auth = NULL;
	const json_t *sets[2] = { json_object_get(in->c.root, "headers"),
	                          s->spec ? json_object_get(s->spec, "headers") : NULL };
	*hl = NULL;
	for (int i = 0; i < 2; i++) {
		const char *k;
		json_t *x;
		if (!json_is_object(sets[i]))
			continue;
		json_object_foreach((json_t *)sets[i], k, x) {
			rj_buf_t line = { NULL, 0, 0 };
			size_t absent = 0;
			if (rj_buf_adds(&line, k) || rj_buf_adds(&line, ": "))
				goto nomem;
			if ((rc = rj_expand_text(json_string_value(x) ? json_string_value(x) : "",
			                         rs_lookup, s->vars, RJ_ENC_NONE, &line, &absent, err))) {
				rj_buf_free(&line);
				return rc;
			}
			if (!absent && rs_header_ok(line.p)) {
				struct curl_slist *n = curl_slist_append(*hl, line.p);
				if (!n) {
					rj_buf_free(&line);
					goto nomem;
				}
				*hl = n;
			}
			rj_buf_free(&line);
		}
	}
	if (s->body) {
		char ct[256];
		snprintf(ct, sizeof ct, "Content-Type: %s", s->ctype ? s->ctype : "application/json");
		struct curl_slist *n = curl_slist_append(*hl, ct);
		if (!n)
			goto nomem;
		*hl = n;
	}
	if (s->if_match && s->if_match[0] && rs_header_ok(s->if_match)) {
		char im[200];
		snprintf(im, sizeof im, "If-Match: %s", s->if_match);
		struct curl_slist *n = curl_slist_append(*hl, im);
		if (!n)
			goto nomem;
		*hl = n;
	}
	*hl = curl_slist_append(*hl, "Expect:");
	if ((rc = rs_auth_line(in, &auth, err)))
		return rc;
	if (auth) {
		struct curl_slist *n = curl_slist_append(*hl, auth);
		rs_cred_free(auth, strlen(auth));
		if (!n)
			goto nomem;
		*hl = n;
	}
	return MID_OK;
nomem:
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

/* Free a header list, wiping every line (one carries the credential). */
static void rs_headers_free(struct curl_slist *hl)
{
	for (struct curl_slist *p = hl; p; p = p->next)
		if (p->data)
			rs_wipe(p->data, strlen(p->data));
	curl_slist_free_all(hl);
}

/* Short text of a response body for an error message (SCIM "detail",
 * "message", "error_description", else the start of the body). */
static void rs_body_hint(const rs_resp_t *r, char *out, size_t outsz)
{
	out[0] = '\0';
	if (!r->body.len)
		return;
	json_t *d = json_loadb(r->body.p, r->body.len, 0, NULL);
	const char *keys[] = { "detail", "message", "error_description", "error" };
	for (size_t i = 0; d && i < 4; i++) {
		const char *v = json_string_value(json_object_get(d, keys[i]));
		if (v) {
			snprintf(out, outsz, ": %.200s", v);
			json_decref(d);
			return;
		}
	}
	json_decref(d);
	size_t n = r->body.len < 120 ? r->body.len : 120;
	snprintf(out, outsz, ": %.*s", (int)n, r->body.p);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r' || (unsigned char)*p < 32)
			*p = ' ';
}

/* Send one logical request with retries. On MID_OK *resp holds the final
 * answer, whatever its status (the caller judges it), and s->doc the parsed
 * body when want_json and the status is 2xx. Errors: the transport failed,
 * or a retryable status outlived the attempts/time budget (both retryable). */
static int rs_do(rs_inst_t *in, rs_send_t *s, rs_resp_t *resp, mid_error_t *err)
{
	const rs_retry_t *rt = &in->c.retry;
	long max_att = s->push ? rt->push_max_attempts : rt->max_attempts;
	int64_t budget = rt->max_total_ms, waited = 0;
	int reauth = 0, rc = MID_OK;
	struct curl_slist *hl = NULL;

	s->doc = NULL;
	for (long att = 1;; att++) {
		rs_http_req_t rq = { s->method, s->url, NULL, s->body, s->body ? strlen(s->body) : 0, 0 };
		int64_t wait = -1;
		char why[300];

		rs_resp_clear(resp);
		if ((rc = rs_headers(in, s, &hl, err)))
			return rc;
		rq.headers = hl;
		in->xfer(in, &rq, resp);
		rs_headers_free(hl);
		hl = NULL;
		if (resp->curl_rc != CURLE_OK) {
			if (resp->too_big)
				return mid_error_set(err, MID_ELIMIT, 0, "%s %s: the response is larger than "
				                     "%zu bytes (max_response_bytes)", s->method, s->url,
				                     in->c.max_bytes);
			if (!rs_curl_transient(resp->curl_rc))
				return mid_error_set(err, MID_EIO, 0, "%s %s: %s", s->method, s->url,
				                     resp->curl_err);
			rs_copy(why, sizeof why, resp->curl_err);
		} else if (resp->status == 401 && in->c.auth == RS_AUTH_OAUTH2 && !reauth) {
			/* the token may have been revoked early: fetch a new one once */
			rs_token_drop(in);
			reauth = 1;
			att--;
			continue;
		} else if (rs_in_list(rt->rate, rt->nrate, resp->status) ||
		           rs_in_list(rt->retry, rt->nretry, resp->status)) {
			wait = rs_retry_after_ms(resp->retry_after[0] ? resp->retry_after : NULL,
			                         rs_now(in));
			if (wait > rt->max_ms)
				wait = rt->max_ms;
			snprintf(why, sizeof why, "HTTP %ld%s%s", resp->status,
			         resp->retry_after[0] ? ", Retry-After " : "", resp->retry_after);
		} else {
			if (s->want_json && resp->status >= 200 && resp->status < 300) {
				mid_error_t perr = { 0 };
				s->doc = rj_parse(resp->body.p, resp->body.len, in->c.max_depth, &perr);
				if (!s->doc) {
					if (strcmp(s->method, "GET") != 0)
						return mid_error_set(err, MID_EPROTO, 0, "%s %s: %s", s->method,
						                     s->url, perr.text);
					rs_copy(why, sizeof why, perr.text);
					goto retry;
				}
			}
			return MID_OK;
		}
	retry:
		if (att >= max_att)
			return mid_error_set(err, resp->curl_rc == CURLE_OK && resp->status == 0 ?
			                     MID_EPROTO : MID_EIO, 1,
			                     "%s %s: %s (gave up after %ld attempts)", s->method, s->url,
			                     why, att);
		if (wait < 0)
			wait = rs_backoff_ms(in, (int)att);
		if (waited + wait > budget)
			return mid_error_set(err, MID_EIO, 1, "%s %s: %s (waiting %" PRId64 " ms more "
			                     "would pass the %" PRId64 " ms retry budget)", s->method,
			                     s->url, why, wait, budget);
		rs_log(in, MID_LOG_INFO, "rest: %s %s: %s; attempt %ld of %ld in %" PRId64 " ms",
		       s->method, s->url, why, att + 1, max_att, wait);
		rs_sleep(in, wait);
		waited += wait;
	}
}

/* An error for a final non-success status. */
static int rs_status_error(const rs_send_t *s, const rs_resp_t *r, mid_error_t *err)
{
	char hint[256];
	long st = r->status;
	int code = MID_EPROTO, retry = 0;
	rs_body_hint(r, hint, sizeof hint);
	if (st == 401 || st == 403) {
		code = MID_EAUTH;
		retry = 1;   /* a credential or role problem, not this record's: keep it */
	} else if (st == 404 || st == 410) {
		code = MID_ENOTFOUND;
	} else if (st == 409 || st == 412) {
		code = MID_ECONFLICT;
		retry = st == 412;
	} else if (st == 408 || st == 425 || st == 429 || st >= 500) {
		code = st == 429 ? MID_ELIMIT : MID_EIO;
		retry = 1;
	} else if (st >= 400) {
		code = MID_EINVAL;
	}
	return mid_error_set(err, code, retry, "%s %s: HTTP %ld%s", s->method, s->url, st, hint);
}

/* ---- OAuth2 client credentials ------------------------------------------------------------- */

static int rs_form_add(rj_buf_t *b, const char *k, const char *v)
{
	rj_buf_t enc = { NULL, 0, 0 };
	if (b->len && rj_buf_add(b, "&", 1))
		return -1;
	if (rj_buf_adds(b, k) || rj_buf_add(b, "=", 1))
		return -1;
	/* percent-encode through the template encoder: a one-value lookup */
	static const char *const fmt = "{{v}}";
	const char *vals[1] = { v };
	mid_field_t f = { "v", vals, 1 };
	mid_record_t rec = { MID_OP_UPSERT, "", &f, 1, 0, NULL };
	rs_vars_t vv = { 0 };
	vv.rec = &rec;
	int rc = rj_expand_text(fmt, rs_lookup, &vv, RJ_ENC_URL, &enc, NULL, NULL);
	if (!rc)
		rc = rj_buf_adds(b, enc.p ? enc.p : "");
	if (enc.p)
		rs_wipe(enc.p, enc.len);
	rj_buf_free(&enc);
	return rc ? -1 : 0;
}

static int rs_oauth2_token(rs_inst_t *in, mid_error_t *err)
{
	int64_t now = rs_now(in);
	char *id = NULL, *sec = NULL, *basic = NULL, *hdr = NULL;
	size_t idl = 0, secl = 0;
	rj_buf_t form = { NULL, 0, 0 };
	rs_resp_t r;
	struct curl_slist *hl = NULL;
	json_t *doc = NULL;
	int rc;

	if (in->token && now < in->token_exp_ms - in->c.refresh_before_s * 1000)
		return MID_OK;
	rs_token_drop(in);
	memset(&r, 0, sizeof r);
	if ((rc = rs_cred_get(in, "client_id", &id, &idl, err)) ||
	    (rc = rs_cred_get(in, "client_secret", &sec, &secl, err)))
		goto out;
	if (rs_form_add(&form, "grant_type", "client_credentials") ||
	    (in->c.scope && rs_form_add(&form, "scope", in->c.scope)) ||
	    (in->c.audience && rs_form_add(&form, "audience", in->c.audience)) ||
	    (in->c.client_auth_body && (rs_form_add(&form, "client_id", id) ||
	                                rs_form_add(&form, "client_secret", sec)))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	hl = curl_slist_append(hl, "Content-Type: application/x-www-form-urlencoded");
	hl = curl_slist_append(hl, "Accept: application/json");
	if (!in->c.client_auth_body) {
		if (!(basic = rs_basic_value(id, idl, sec, secl)) ||
		    asprintf(&hdr, "Authorization: %s", basic) < 0) {
			hdr = NULL;
			rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			goto out;
		}
		hl = curl_slist_append(hl, hdr);
	}
	for (long att = 1;; att++) {
		rs_http_req_t rq = { "POST", in->c.token_url, hl, form.p, form.len, 0 };
		rs_resp_clear(&r);
		in->xfer(in, &rq, &r);
		int transient = r.curl_rc != CURLE_OK ? rs_curl_transient(r.curl_rc)
		              : (r.status == 429 || r.status >= 500);
		if (!transient || att >= in->c.retry.max_attempts)
			break;
		rs_sleep(in, rs_backoff_ms(in, (int)att));
	}
	if (r.curl_rc != CURLE_OK) {
		rc = mid_error_set(err, MID_EIO, rs_curl_transient(r.curl_rc), "token endpoint %s: %s",
		                   in->c.token_url, r.curl_err);
		goto out;
	}
	if (r.status != 200) {
		char hint[256];
		rs_body_hint(&r, hint, sizeof hint);
		rc = mid_error_set(err, r.status == 400 || r.status == 401 ? MID_EAUTH : MID_EIO,
		                   r.status >= 500 || r.status == 429, "token endpoint %s: HTTP %ld%s",
		                   in->c.token_url, r.status, hint);
		goto out;
	}
	mid_error_t perr = { 0 };
	doc = rj_parse(r.body.p, r.body.len, 8, &perr);
	const char *tok = json_string_value(json_object_get(doc, "access_token"));
	if (!tok || !*tok) {
		rc = mid_error_set(err, MID_EPROTO, 0, "token endpoint %s: no access_token in the "
		                   "answer", in->c.token_url);
		goto out;
	}
	in->token = strdup(tok);
	in->token_len = strlen(tok);
	long exp = rs_int(doc, "expires_in", 3600);
	if (exp <= 0)
		exp = 3600;
	in->token_exp_ms = now + (int64_t)exp * 1000;
	if (!in->token)
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	else
		rs_log(in, MID_LOG_DEBUG, "rest: new OAuth2 access token, valid %ld s", exp);
out:
	if (doc) {
		json_t *t = json_object_get(doc, "access_token");
		if (json_is_string(t))
			rs_wipe((void *)json_string_value(t), json_string_length(t));
		json_decref(doc);
	}
	if (r.body.p)
		rs_wipe(r.body.p, r.body.len);
	rs_resp_clear(&r);
	rs_headers_free(hl);
	rs_cred_free(id, idl);
	rs_cred_free(sec, secl);
	if (basic)
		rs_cred_free(basic, strlen(basic));
	if (hdr)
		rs_cred_free(hdr, strlen(hdr));
	if (form.p)
		rs_wipe(form.p, form.len);
	rj_buf_free(&form);
	return rc;
}

/* ---- ids seen in one pull (64-bit hashes) ---------------------------------------------------- */

typedef struct rs_idset {
	uint64_t *slots;           /* 0 = empty */
	size_t n, cap;             /* cap a power of two */
} rs_idset_t;

static uint64_t rs_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h ? h : 1;
}

/* Grow to hold n ids at most half full (a no-op when it does); 0 or -1. */
static int rs_idset_grow(rs_idset_t *s, size_t n)
{
	if (n * 2 <= s->cap)
		return 0;
	size_t nc = s->cap ? s->cap * 2 : 1024;
	while (nc < n * 2)
		nc *= 2;
	uint64_t *ns = calloc(nc, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i]) {
			size_t j = (size_t)s->slots[i] & (nc - 1);
			while (ns[j])
				j = (j + 1) & (nc - 1);
			ns[j] = s->slots[i];
		}
	free(s->slots);
	s->slots = ns;
	s->cap = nc;
	return 0;
}

/* Add; returns 1 when new, 0 when seen before, -1 on no memory. */
static int rs_idset_add(rs_idset_t *s, const char *id)
{
	uint64_t h = rs_hash(id);
	if (rs_idset_grow(s, s->n + 1))
		return -1;
	size_t j = (size_t)h & (s->cap - 1);
	while (s->slots[j]) {
		if (s->slots[j] == h)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->slots[j] = h;
	s->n++;
	return 1;
}

/* Hint the cache about the slot id will probe (a delivered page's ids are
 * known ahead: the probe of a 2 MiB set was mostly a cache miss). */
static void rs_idset_prefetch(const rs_idset_t *s, const char *id)
{
	if (s->cap)
		__builtin_prefetch(&s->slots[(size_t)rs_hash(id) & (s->cap - 1)]);
}

static void rs_idset_free(rs_idset_t *s)
{
	free(s->slots);
	memset(s, 0, sizeof *s);
}

/* ---- cursor ------------------------------------------------------------------------------------ */

typedef struct rs_cursor {
	int64_t full_ms, since_ms;
	char link[2048];
} rs_cursor_t;

static int rs_cursor_parse(const char *s, rs_cursor_t *c)
{
	memset(c, 0, sizeof *c);
	if (!s || strncmp(s, "rest1;", 6) != 0)
		return -1;
	s += 6;
	while (*s) {
		if (!strncmp(s, "link=", 5)) {
			rs_copy(c->link, sizeof c->link, s + 5);
			return 0;
		}
		char *end;
		if (!strncmp(s, "full=", 5))
			c->full_ms = strtoll(s + 5, &end, 10);
		else if (!strncmp(s, "since=", 6))
			c->since_ms = strtoll(s + 6, &end, 10);
		else
			return -1;
		if (*end != ';' && *end)
			return -1;
		s = *end ? end + 1 : end;
	}
	return 0;
}

static void rs_cursor_fmt(const rs_cursor_t *c, char *out, size_t outsz)
{
	if (c->link[0])
		snprintf(out, outsz, "rest1;full=%" PRId64 ";link=%s", c->full_ms, c->link);
	else
		snprintf(out, outsz, "rest1;full=%" PRId64 ";since=%" PRId64, c->full_ms, c->since_ms);
}

/* ---- pull --------------------------------------------------------------------------------------- */

typedef struct rs_pull {
	rs_inst_t *in;
	const mid_pull_sink_t *sink;
	mid_error_t *err;
	rj_fields_t fields;
	rs_idset_t ids;
	uint64_t pos;              /* records delivered (source_pos) */
	int check_dups;
} rs_pull_t;

#define RS_ID_MAX 256     /* a record's id and etag as delivered, with the NUL */
#define RS_ETAG_MAX 128

/* The repeat check of a pull (check_dups): MID_OK, or the error that stops it. */
static int rs_dup_check(rs_pull_t *P, const char *id)
{
	if (!P->check_dups)
		return MID_OK;
	int r = rs_idset_add(&P->ids, id);
	if (r < 0)
		return mid_error_set(P->err, MID_ENOMEM, 0, "out of memory");
	if (r == 0)
		return mid_error_set(P->err, MID_EPROTO, 1, "record %.100s came twice in one "
		                     "pull (the list moved while it was paged): stopped, nothing "
		                     "will be deleted", id);
	return MID_OK;
}

/* Deliver one record object (or a delete when op is MID_OP_DELETE). The
 * id is `given`, or read at record.id. */
static int rs_deliver(rs_pull_t *P, json_t *rec, const char *given, int op)
{
	rs_inst_t *in = P->in;
	char id[RS_ID_MAX], etag[RS_ETAG_MAX];
	mid_error_t ferr = { 0 };
	int rc;

	P->pos++;
	if (given && *given && strlen(given) < sizeof id)
		rs_copy(id, sizeof id, given);
	else if (given || !rec || !rj_path_text(rec, in->c.rec_id, id, sizeof id)) {
		char *raw = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
		if (raw && strlen(raw) > 1024)
			raw[1024] = '\0';
		rc = P->sink->reject ? P->sink->reject(P->sink->ctx, P->pos, in->c.rec_id,
		                                       "the record has no id", raw, P->err)
		                     : MID_OK;
		free(raw);
		return rc;
	}
	if ((rc = rs_dup_check(P, id)))
		return rc;
	if (op == MID_OP_DELETE) {
		mid_record_t r = { MID_OP_DELETE, id, NULL, 0, P->pos, NULL };
		return P->sink->record(P->sink->ctx, &r, P->err);
	}
	if (in->c.alias && json_is_object(rec)) {
		/* record.alias: the value at a path also under a fixed name */
		const char *an;
		json_t *ap;
		json_object_foreach(in->c.alias, an, ap) {
			json_t *av = rj_path_get(rec, json_string_value(ap));
			if (av && json_object_set(rec, an, av))
				return mid_error_set(P->err, MID_ENOMEM, 0, "out of memory");
		}
	}
	if ((rc = rj_flatten(rec, in->c.omit, in->c.nomit, in->c.max_depth, &P->fields, &ferr))) {
		char *raw = json_dumps(rec, JSON_COMPACT);
		if (raw && strlen(raw) > 1024)
			raw[1024] = '\0';
		rc = P->sink->reject ? P->sink->reject(P->sink->ctx, P->pos, NULL, ferr.text, raw,
		                                       P->err) : MID_OK;
		free(raw);
		return rc;
	}
	int has_etag = in->c.rec_etag && rj_path_text(rec, in->c.rec_etag, etag, sizeof etag);
	mid_record_t r = { MID_OP_UPSERT, id, P->fields.f, P->fields.n, P->pos,
	                   has_etag ? etag : NULL };
	return P->sink->record(P->sink->ctx, &r, P->err);
}

/* Deliver record i of a page the page parser read (body: the page's
 * text): as rs_deliver would, from the fields it flattened already; a
 * record it left to jansson goes through rs_deliver. */
static int rs_deliver_page(rs_pull_t *P, const char *body, const rj_prec_t *pr)
{
	int rc;
	if (!pr->fast) {
		json_t *rec = json_loadb(body + pr->off, pr->len,
		                         JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		if (!rec)   /* it parsed as part of the page */
			return mid_error_set(P->err, MID_ENOMEM, 0, "out of memory");
		rc = rs_deliver(P, rec, NULL, MID_OP_UPSERT);
		json_decref(rec);
		return rc;
	}
	P->pos++;
	if ((rc = rs_dup_check(P, pr->id)))
		return rc;
	mid_record_t r = { MID_OP_UPSERT, pr->id, pr->fields, pr->nfields, P->pos, pr->etag };
	return P->sink->record(P->sink->ctx, &r, P->err);
}

static int rs_list_style(const json_t *list)
{
	const char *s = rs_str(json_object_get(list, "paging"), "style", "none");
	if (!strcmp(s, "index")) return RS_PG_INDEX;
	if (!strcmp(s, "page")) return RS_PG_PAGE;
	if (!strcmp(s, "next_link")) return RS_PG_LINK;
	if (!strcmp(s, "cursor")) return RS_PG_CURSOR;
	return RS_PG_NONE;
}

/* ---- prefetch: a pipeline of two threads runs ahead of the engine ----------------
 *
 * The fetch thread sends the queued requests one after another on the
 * instance's one handle (one connection, like curl fetching the pages in
 * sequence); the parse thread parses each 2xx body; the caller's thread
 * (rs_list) builds the requests, takes the parsed pages in order and applies
 * them. For paging styles whose next request is predictable before the
 * parse (index: $start + the page's records; page: $page + 1) the caller
 * queues up to RS_PIPE_SLOTS requests, so page N+2 is on the wire while
 * page N+1 is parsed and page N applied. A queued page is used only when
 * its URL is the one the normal path builds from the parsed previous page;
 * anything else (a wrong prediction, a transport error, a status that a
 * retry would follow) drops every queued page and the caller sends the
 * request itself with the usual retries. The workers never call the host
 * (headers, secrets and logs stay on the caller's thread), and the caller
 * uses the handle only while the pipeline is empty and both workers idle. */

#define RS_PIPE_SLOTS 3

typedef struct rs_pslot {
	char *url;                 /* owned */
	struct curl_slist *hl;     /* owned (wiped on free) */
	long start, page;          /* the paging values it was built with */
	rs_resp_t resp;
	json_t *doc;               /* the parsed body of a 2xx answer, or */
	int fast;                  /* ... 1: rs_pipe_t.pg[] of the slot holds the page */
	int fetched, parsed;
} rs_pslot_t;

typedef struct rs_pipe {
	rs_inst_t *in;
	int max_depth;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t fth, pth;
	int started;               /* threads running */
	int stop;                  /* workers: exit */
	int hold;                  /* workers: take nothing new (a flush) */
	int stall;                 /* fetcher: an answer was not a success; nothing more */
	int fetching, parsing;     /* a worker is busy with a slot */
	unsigned head, fnext, pnext, tail;   /* head <= pnext <= fnext <= tail */
	rs_pslot_t s[RS_PIPE_SLOTS];
	/* the one-pass page parser (restpage.c), when the list allows it: the
	 * parse thread fills pg[] of the slot instead of a jansson document */
	int fast;
	rj_page_spec_t spec;
	rj_page_t pg[RS_PIPE_SLOTS];
	/* the caller's own */
	unsigned misses;           /* flushes for a wrong prediction */
	long stat_used, stat_dropped, stat_fast;
	/* pages the caller is done with, freed by the parse thread: a document
	 * is freed in the thread that allocated it, so the two threads do not
	 * contend for one malloc arena (a cross-thread free locks the owner's
	 * arena; with the parse thread allocating at the same time that was
	 * 20-40% of a first pull in futex waits and arena work) */
	json_t *trash[RS_PIPE_SLOTS];
	unsigned ntrash;
} rs_pipe_t;

static void rs_pslot_clear(rs_pslot_t *sl)
{
	rs_headers_free(sl->hl);
	free(sl->url);
	json_decref(sl->doc);
	rs_resp_clear(&sl->resp);
	memset(sl, 0, sizeof *sl);
}

/* A transfer the caller may use without retrying: a response and a status
 * rs_do would not retry. */
static int rs_pipe_final(const rs_inst_t *in, const rs_resp_t *r)
{
	const rs_retry_t *rt = &in->c.retry;
	long st = r->status;
	return r->curl_rc == CURLE_OK && !rs_in_list(rt->rate, rt->nrate, st) &&
	       !rs_in_list(rt->retry, rt->nretry, st) &&
	       !(st == 401 && in->c.auth == RS_AUTH_OAUTH2);
}

static void *rs_pipe_fetch_main(void *arg)
{
	rs_pipe_t *pp = arg;
	pthread_mutex_lock(&pp->mu);
	for (;;) {
		while (!pp->stop && (pp->hold || pp->stall || pp->fnext == pp->tail))
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->stop)
			break;
		rs_pslot_t *sl = &pp->s[pp->fnext % RS_PIPE_SLOTS];
		rs_http_req_t rq = { "GET", sl->url, sl->hl, NULL, 0, 0 };
		pp->fetching = 1;
		pthread_mutex_unlock(&pp->mu);
		pp->in->xfer(pp->in, &rq, &sl->resp);
		pthread_mutex_lock(&pp->mu);
		pp->fetching = 0;
		sl->fetched = 1;
		if (sl->resp.curl_rc != CURLE_OK || sl->resp.status < 200 || sl->resp.status >= 300)
			pp->stall = 1;     /* the caller redoes it with retries; send nothing more */
		pp->fnext++;
		pthread_cond_broadcast(&pp->cv);
	}
	pthread_mutex_unlock(&pp->mu);
	return NULL;
}

static void *rs_pipe_parse_main(void *arg)
{
	rs_pipe_t *pp = arg;
	pthread_mutex_lock(&pp->mu);
	for (;;) {
		while (!pp->stop && !pp->ntrash && (pp->hold || pp->pnext == pp->fnext))
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->stop)
			break;
		if (pp->ntrash) {
			json_t *t[RS_PIPE_SLOTS];
			unsigned nt = pp->ntrash;
			memcpy(t, pp->trash, nt * sizeof t[0]);
			pp->ntrash = 0;
			pthread_mutex_unlock(&pp->mu);
			for (unsigned i = 0; i < nt; i++)
				json_decref(t[i]);
			pthread_mutex_lock(&pp->mu);
			continue;
		}
		rs_pslot_t *sl = &pp->s[pp->pnext % RS_PIPE_SLOTS];
		rj_page_t *pg = &pp->pg[pp->pnext % RS_PIPE_SLOTS];
		json_t *doc = NULL;
		int fast = 0;
		if (sl->resp.curl_rc == CURLE_OK && sl->resp.status >= 200 && sl->resp.status < 300) {
			mid_error_t perr = { 0 };
			pp->parsing = 1;
			pthread_mutex_unlock(&pp->mu);
			/* the page parser declines what it does not serve; jansson
			 * then parses it (and gives the error, if any) */
			if (pp->fast)
				fast = rj_page_parse(sl->resp.body.p, sl->resp.body.len, &pp->spec, pg) == 1;
			if (!fast)
				doc = rj_parse(sl->resp.body.p, sl->resp.body.len, pp->max_depth, &perr);
			pthread_mutex_lock(&pp->mu);
			pp->parsing = 0;
		}
		sl->doc = doc;
		sl->fast = fast;
		sl->parsed = 1;
		pp->pnext++;
		pthread_cond_broadcast(&pp->cv);
	}
	pthread_mutex_unlock(&pp->mu);
	return NULL;
}

static void rs_pipe_init(rs_pipe_t *pp, rs_inst_t *in)
{
	memset(pp, 0, sizeof *pp);
	pp->in = in;
	pp->max_depth = in->c.max_depth;
}

/* Queued and not taken yet (the caller's view; only the caller adds and
 * takes). */
static unsigned rs_pipe_len(const rs_pipe_t *pp)
{
	return pp->tail - pp->head;
}

/* Drop every queued page; on return both workers are idle and the pipeline
 * is empty, so the caller may use the handle. */
static void rs_pipe_flush(rs_pipe_t *pp)
{
	if (!pp->started || pp->head == pp->tail)
		return;
	pthread_mutex_lock(&pp->mu);
	pp->hold = 1;
	while (pp->fetching || pp->parsing)
		pthread_cond_wait(&pp->cv, &pp->mu);
	for (unsigned i = pp->head; i != pp->tail; i++)
		rs_pslot_clear(&pp->s[i % RS_PIPE_SLOTS]);
	pp->stat_dropped += (long)(pp->tail - pp->head);
	pp->head = pp->fnext = pp->pnext = pp->tail;
	pp->stall = 0;
	pp->hold = 0;
	pthread_mutex_unlock(&pp->mu);
}

/* Stop and join the workers, dropping what is queued. */
static void rs_pipe_fini(rs_pipe_t *pp)
{
	if (pp->started) {
		pthread_mutex_lock(&pp->mu);
		pp->stop = 1;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
		pthread_join(pp->fth, NULL);
		pthread_join(pp->pth, NULL);
		pthread_cond_destroy(&pp->cv);
		pthread_mutex_destroy(&pp->mu);
		pp->started = 0;
	}
	for (unsigned i = 0; i < pp->ntrash; i++)
		json_decref(pp->trash[i]);
	pp->ntrash = 0;
	for (unsigned i = 0; i < RS_PIPE_SLOTS; i++)
		rj_page_free(&pp->pg[i]);
	for (unsigned i = pp->head; i != pp->tail; i++)
		rs_pslot_clear(&pp->s[i % RS_PIPE_SLOTS]);
	pp->head = pp->fnext = pp->pnext = pp->tail;
}

/* The caller is done with doc: the parse thread frees it when the
 * pipeline runs (see rs_pipe_t.trash), else it is freed here. */
static void rs_pipe_discard(rs_pipe_t *pp, json_t *doc)
{
	if (!doc)
		return;
	if (pp->started) {
		pthread_mutex_lock(&pp->mu);
		if (pp->ntrash < RS_PIPE_SLOTS) {
			pp->trash[pp->ntrash++] = doc;
			doc = NULL;
			pthread_cond_broadcast(&pp->cv);
		}
		pthread_mutex_unlock(&pp->mu);
	}
	json_decref(doc);
}

/* Queue GET url (built with paging values start/page) behind the others;
 * the headers are built here, on the caller's thread. 0 when queued. */
static int rs_pipe_add(rs_pipe_t *pp, const json_t *spec, rs_vars_t *v, const char *url,
                       long start, long page)
{
	rs_inst_t *in = pp->in;
	rs_send_t s = { 0 };
	mid_error_t herr = { 0 };
	rs_pslot_t nsl;

	if (rs_pipe_len(pp) >= RS_PIPE_SLOTS)
		return -1;
	if (!pp->started) {
		if (pthread_mutex_init(&pp->mu, NULL))
			return -1;
		if (pthread_cond_init(&pp->cv, NULL)) {
			pthread_mutex_destroy(&pp->mu);
			return -1;
		}
		if (pthread_create(&pp->fth, NULL, rs_pipe_fetch_main, pp)) {
			pthread_cond_destroy(&pp->cv);
			pthread_mutex_destroy(&pp->mu);
			return -1;
		}
		if (pthread_create(&pp->pth, NULL, rs_pipe_parse_main, pp)) {
			pthread_mutex_lock(&pp->mu);
			pp->stop = 1;
			pthread_cond_broadcast(&pp->cv);
			pthread_mutex_unlock(&pp->mu);
			pthread_join(pp->fth, NULL);
			pthread_cond_destroy(&pp->cv);
			pthread_mutex_destroy(&pp->mu);
			pp->stop = 0;
			return -1;
		}
		pp->started = 1;
	}
	memset(&nsl, 0, sizeof nsl);
	s.method = "GET";
	s.url = url;
	s.spec = spec;
	s.vars = v;
	if (!(nsl.url = strdup(url)) || rs_headers(in, &s, &nsl.hl, &herr)) {
		rs_pslot_clear(&nsl);
		return -1;
	}
	nsl.start = start;
	nsl.page = page;
	pthread_mutex_lock(&pp->mu);
	pp->s[pp->tail % RS_PIPE_SLOTS] = nsl;
	pp->tail++;
	pthread_cond_broadcast(&pp->cv);
	pthread_mutex_unlock(&pp->mu);
	return 0;
}

/* The first queued page, when it is the request for `url` and its answer is
 * final: moved into *resp and *doc, or, when the page parser read it, into
 * *page (swapped: the slot keeps the caller's old storage) with *doc NULL
 * and *fast 1; returns 1. Otherwise everything queued is dropped (the
 * caller sends the request itself, with the usual retries), 0. */
static int rs_pipe_take(rs_pipe_t *pp, const char *url, rs_resp_t *resp, json_t **doc,
                        rj_page_t *page, int *fast)
{
	if (!pp->started || pp->head == pp->tail)
		return 0;
	rs_pslot_t *sl = &pp->s[pp->head % RS_PIPE_SLOTS];
	if (url && strcmp(url, sl->url)) {
		pp->misses++;
		rs_pipe_flush(pp);
		return 0;
	}
	pthread_mutex_lock(&pp->mu);
	while (!sl->parsed)
		pthread_cond_wait(&pp->cv, &pp->mu);
	pthread_mutex_unlock(&pp->mu);
	long st = sl->resp.status;
	if (!url || !rs_pipe_final(pp->in, &sl->resp) ||
	    (st >= 200 && st < 300 && !sl->doc && !sl->fast)) {
		rs_pipe_flush(pp);
		return 0;
	}
	/* the slot is the caller's now: the workers are past it */
	rs_resp_clear(resp);
	*resp = sl->resp;
	*doc = sl->doc;
	*fast = sl->fast;
	if (sl->fast) {
		rj_page_t t = pp->pg[pp->head % RS_PIPE_SLOTS];
		pp->pg[pp->head % RS_PIPE_SLOTS] = *page;
		*page = t;
	}
	memset(&sl->resp, 0, sizeof sl->resp);
	sl->doc = NULL;
	rs_pslot_clear(sl);
	pthread_mutex_lock(&pp->mu);
	pp->head++;
	pthread_mutex_unlock(&pp->mu);
	pp->stat_used++;
	if (st < 200 || st >= 300)
		rs_pipe_flush(pp);   /* the fetcher stopped after it: nothing behind it comes */
	return 1;
}

/* Read every page of list request `list` (with `extra` query parameters
 * and `since` for {{$since}}), delivering records. one_page stops after one
 * page of one record (plugin test). *count gets the number delivered and
 * *total_out the server's total (-1 unknown). While the records of a page
 * are delivered, the next page is already being fetched (paging.prefetch,
 * default true; GET lists). */
static int rs_list(rs_pull_t *P, const json_t *list, const json_t *extra, const char *since,
                   int one_page, uint64_t *count, int64_t *total_out)
{
	rs_inst_t *in = P->in;
	const json_t *pg = json_object_get(list, "paging");
	int style = rs_list_style(list);
	long size = rs_int(pg, "size", 100), first = rs_int(pg, "first", 1);
	long max_pages = rs_int(pg, "max_pages", 1000000);
	const char *records = rs_str(list, "records", "");
	const char *total_p = rs_str(pg, "total", NULL);
	const char *next_p = rs_str(pg, "next", NULL);
	int link_header = json_is_true(json_object_get(pg, "link_header"));
	const char *method0 = rs_str(list, "method", "GET");
	/* the prefetch thread must not reach the host: no secret for the TLS
	 * key there */
	int prefetch = !one_page && style != RS_PG_NONE && !json_is_false(json_object_get(pg, "prefetch")) &&
	               !json_object_get(in->c.root, "client_key_password");
	long start = first, page = first, server_page = 0;
	int64_t total = -1;
	uint64_t got = 0;
	int short_seen = 0;
	char *cursor = NULL, next_url[2048] = "";
	rs_idset_t seen_links = { NULL, 0, 0 };
	rs_pipe_t pp;
	rj_page_t fpage;           /* the page parser's page being delivered */
	long q_pages = 0, q_start = 0, q_page = 0;   /* the next request to queue */
	uint64_t q_got = 0;
	rs_resp_t resp;
	int rc = MID_OK;
	char sstart[32], ssize[32], spage[32];

	memset(&resp, 0, sizeof resp);
	memset(&fpage, 0, sizeof fpage);
	rs_pipe_init(&pp, in);
	/* prefetched pages of index or page paging are read by the one-pass
	 * page parser when the list's paths allow it (see restpage.c) */
	if (prefetch && (style == RS_PG_INDEX || style == RS_PG_PAGE) && !in->c.alias) {
		rj_page_spec_t sp = { records, total_p, in->c.rec_id, in->c.rec_etag,
		                      (const char *const *)in->c.omit, in->c.nomit, in->c.max_depth,
		                      RS_ID_MAX, RS_ETAG_MAX };
		pp.spec = sp;
		pp.fast = rj_page_spec_ok(&sp);
	}
	if (one_page)
		size = 1;
	in->auth_keep = 1;
	for (long pages = 1;; pages++) {
		rs_vars_t v = { .cv = in->c.vars };
		rj_buf_t url = { NULL, 0, 0 };
		rs_send_t s = { 0 };
		json_t *body = NULL;
		char *bodytxt = NULL;
		const char *method = next_url[0] ? "GET" : method0;
		int fastpg = 0;

		if (pages > max_pages) {
			rc = mid_error_set(P->err, MID_ELIMIT, 0, "the list passed %ld pages "
			                   "(paging.max_pages): stopped", max_pages);
			break;
		}
		snprintf(sstart, sizeof sstart, "%ld", start);
		snprintf(ssize, sizeof ssize, "%ld", size);
		snprintf(spage, sizeof spage, "%ld", page);
		v.start = style == RS_PG_INDEX ? sstart : NULL;
		v.size = ssize;
		v.page = style == RS_PG_PAGE ? spage : NULL;
		v.cursor = cursor;
		v.since = since;
		rs_iso8601(rs_now(in), 0, v.now, sizeof v.now);
		if (next_url[0]) {
			if (rj_buf_adds(&url, next_url))
				rc = mid_error_set(P->err, MID_ENOMEM, 0, "out of memory");
		} else {
			rc = rs_url(in, list, extra, &v, &url, P->err);
		}
		if (!rc && json_object_get(list, "body") && strcmp(method, "GET")) {
			if ((rc = rj_expand_json(json_object_get(list, "body"), rs_lookup, &v, &body,
			                         P->err)) == MID_OK)
				bodytxt = json_dumps(body, JSON_COMPACT);
		}
		s.method = method;
		s.url = url.p;
		s.spec = list;
		s.vars = &v;
		s.body = bodytxt;
		s.ctype = rs_str(list, "content_type", NULL);
		s.want_json = 1;
		if (!rc && (bodytxt || !rs_pipe_take(&pp, url.p, &resp, &s.doc, &fpage, &fastpg))) {
			rs_pipe_flush(&pp);   /* the handle is ours only with the pipeline empty */
			rc = rs_do(in, &s, &resp, P->err);
		}
		json_decref(body);
		free(bodytxt);
		if (!rc && !rs_ok_status(list, resp.status)) {
			rc = rs_status_error(&s, &resp, P->err);
			P->err->retryable = P->err->retryable || resp.status >= 500;
		}
		if (rc) {
			rj_buf_free(&url);
			json_decref(s.doc);
			break;
		}
		/* the records array and the total, from the document or the page */
		json_t *doc = s.doc, *arr = NULL;
		int rkind, tkind = RJ_PAGE_ABSENT;
		json_int_t tval = 0;
		size_t n;
		if (fastpg) {
			pp.stat_fast++;
			rkind = fpage.records;
			tkind = fpage.total;
			tval = fpage.total_value;
			n = fpage.nrec;
		} else {
			arr = doc ? rj_path_get(doc, records) : NULL;
			rkind = !arr ? RJ_PAGE_ABSENT : json_is_array(arr) ? RJ_PAGE_ARRAY : RJ_PAGE_OTHER;
			n = json_array_size(arr);
			json_t *tv = total_p && doc ? rj_path_get(doc, total_p) : NULL;
			if (tv) {
				tkind = json_is_integer(tv) ? RJ_PAGE_INTEGER : RJ_PAGE_OTHER;
				tval = json_is_integer(tv) ? json_integer_value(tv) : 0;
			}
		}
		if (rkind != RJ_PAGE_ARRAY) {
			/* SCIM servers may leave Resources out of an empty answer */
			int64_t t = total_p && tkind == RJ_PAGE_INTEGER ? tval : -1;
			if (rkind != RJ_PAGE_ABSENT || t != 0 || (!doc && !fastpg)) {
				rc = mid_error_set(P->err, MID_EPROTO, 0, "GET %s: no array at \"%s\" in the "
				                   "answer (list.records)", url.p, records);
				rj_buf_free(&url);
				json_decref(doc);
				break;
			}
		}
		if (total_p) {
			if (tkind != RJ_PAGE_INTEGER) {
				rc = mid_error_set(P->err, MID_EPROTO, 0, "page %ld: no integer total at "
				                   "\"%s\"", pages, total_p);
			} else if (total < 0) {
				total = tval;
				/* the repeat check's set, sized once for the whole list
				 * (bounded: a total the server may lie about) */
				if (P->check_dups && total > 0 && total <= 4000000)
					rs_idset_grow(&P->ids, P->ids.n + (size_t)total);
			} else if (tval != total) {
				rc = mid_error_set(P->err, MID_EPROTO, 1, "page %ld: the total changed from "
				                   "%" PRId64 " to %" JSON_INTEGER_FORMAT " during the pull "
				                   "(records were added or removed meanwhile): stopped, "
				                   "nothing will be deleted; the next run reads again",
				                   pages, total, tval);
			}
		}
		/* where the next page is: judged before this page's records are
		 * delivered, so the next one can be fetched meanwhile; a paging
		 * error is reported after them, as before */
		int end = 0;
		char tok[2048] = "";
		mid_error_t perr = { 0 };
		int prc = MID_OK;
		if (!rc && !one_page) {
			switch (style) {
			case RS_PG_NONE:
				end = 1;
				break;
			case RS_PG_INDEX:
			case RS_PG_PAGE:
				if (pages == 1)
					server_page = (long)n;
				if (n == 0) {
					end = 1;
				} else if (short_seen) {
					prc = mid_error_set(&perr, MID_EPROTO, 1, "page %ld has records after a "
					                    "short page (the server pages by fewer than %ld: "
					                    "records were skipped): stopped, nothing will be "
					                    "deleted", pages, size);
				} else if (total >= 0) {
					if ((int64_t)(got + n) >= total)
						end = 1;
					else if ((long)n < server_page)
						prc = mid_error_set(&perr, MID_EPROTO, 1, "page %ld has %zu records, "
						                    "fewer than the %ld of the first page, before the "
						                    "total of %" PRId64 " was reached (records "
						                    "skipped): stopped, nothing will be deleted",
						                    pages, n, server_page, total);
				} else if (style == RS_PG_PAGE && (long)n < size) {
					short_seen = 1;   /* normally the last page: one more request proves it */
				}
				start += (long)n;
				page++;
				break;
			case RS_PG_LINK:
				if (!(next_p && rj_path_text(doc, next_p, tok, sizeof tok)) && link_header)
					rs_copy(tok, sizeof tok, resp.link_next);
				if (!tok[0]) {
					end = 1;
				} else if (!rs_same_origin(in, tok, next_url, sizeof next_url)) {
					prc = mid_error_set(&perr, MID_EPROTO, 0, "page %ld: the next link "
					                    "%.200s is not on %s: refused", pages, tok,
					                    in->c.origin);
				} else {
					int r = rs_idset_add(&seen_links, next_url);
					if (r == 0)
						prc = mid_error_set(&perr, MID_EPROTO, 1, "page %ld: the next link "
						                    "repeats an earlier one (a loop): stopped", pages);
					else if (r < 0)
						prc = mid_error_set(&perr, MID_ENOMEM, 0, "out of memory");
				}
				break;
			case RS_PG_CURSOR:
				if (!next_p || !rj_path_text(doc, next_p, tok, sizeof tok)) {
					end = 1;
				} else {
					int r = rs_idset_add(&seen_links, tok);
					if (r == 0)
						prc = mid_error_set(&perr, MID_EPROTO, 1, "page %ld: the cursor "
						                    "repeats an earlier one (a loop): stopped", pages);
					else if (r < 0)
						prc = mid_error_set(&perr, MID_ENOMEM, 0, "out of memory");
					free(cursor);
					cursor = strdup(tok);
					if (!cursor && !prc)
						prc = mid_error_set(&perr, MID_ENOMEM, 0, "out of memory");
				}
				break;
			}
			if (end && total >= 0 && (int64_t)(got + n) != total)
				prc = mid_error_set(&perr, MID_EPROTO, 1, "the list ended after %" PRIu64
				                    " records but announced %" PRId64 " (records skipped or "
				                    "repeated): stopped, nothing will be deleted", got + n, total);
			if (prefetch && !prc && !end && pages < max_pages &&
			    (next_url[0] || !strcmp(method0, "GET"))) {
				/* the next requests, as the next iterations build them: the
				 * next one is known; with index or page paging the ones after
				 * it are predicted (this page's records further on), never
				 * past a known total. OAuth2 may fetch a token while building
				 * headers, so it queues only with the pipeline empty. */
				int predict = (style == RS_PG_INDEX || style == RS_PG_PAGE) && n > 0 &&
				              !short_seen && pp.misses < 3 && in->c.auth != RS_AUTH_OAUTH2;
				unsigned depth = predict ? RS_PIPE_SLOTS : 1;
				if (rs_pipe_len(&pp)) {
					const rs_pslot_t *h = &pp.s[pp.head % RS_PIPE_SLOTS];
					if ((style == RS_PG_INDEX && h->start != start) ||
					    (style == RS_PG_PAGE && h->page != page)) {
						pp.misses++;   /* predicted from a page of another size */
						rs_pipe_flush(&pp);
					}
				}
				if (!rs_pipe_len(&pp)) {
					q_pages = pages + 1;
					q_start = start;
					q_page = page;
					q_got = got + n;
				}
				while (rs_pipe_len(&pp) < depth && q_pages <= max_pages &&
				       (total < 0 || (int64_t)q_got < total)) {
					rs_vars_t nv = { .cv = in->c.vars };
					rj_buf_t nurl = { NULL, 0, 0 };
					mid_error_t uerr = { 0 };
					int qrc;
					snprintf(sstart, sizeof sstart, "%ld", q_start);
					snprintf(spage, sizeof spage, "%ld", q_page);
					nv.start = style == RS_PG_INDEX ? sstart : NULL;
					nv.size = ssize;
					nv.page = style == RS_PG_PAGE ? spage : NULL;
					nv.cursor = cursor;
					nv.since = since;
					memcpy(nv.now, v.now, sizeof nv.now);
					qrc = (next_url[0] ? rj_buf_adds(&nurl, next_url)
					                   : rs_url(in, list, extra, &nv, &nurl, &uerr)) == 0
					          ? rs_pipe_add(&pp, list, &nv, nurl.p, q_start, q_page) : -1;
					rj_buf_free(&nurl);
					if (qrc)
						break;
					q_pages++;
					q_start += (long)n;
					q_page++;
					q_got += n;
				}
			}
		}
		for (size_t i = 0; !rc && i < n; i++) {
			if (fastpg && P->check_dups && i + 8 < n && fpage.rec[i + 8].fast)
				rs_idset_prefetch(&P->ids, fpage.rec[i + 8].id);
			rc = fastpg ? rs_deliver_page(P, resp.body.p, &fpage.rec[i])
			            : rs_deliver(P, json_array_get(arr, i), NULL, MID_OP_UPSERT);
		}
		got += n;
		if (!rc && !one_page) {
			if (P->sink->checkpoint)
				rc = P->sink->checkpoint(P->sink->ctx, NULL, P->err);
			if (P->sink->progress)
				P->sink->progress(P->sink->ctx, got, total > 0 ? (uint64_t)total : 0);
		}
		if (!rc && prc) {
			*P->err = perr;
			rc = prc;
		}
		rj_buf_free(&url);
		rs_pipe_discard(&pp, doc);
		if (rc || one_page || end)
			break;
	}
	rs_pipe_fini(&pp);
	rj_page_free(&fpage);
	in->fast_pages += pp.stat_fast;
	if (pp.stat_used || pp.stat_dropped)
		rs_log(in, MID_LOG_DEBUG, "rest: list prefetch: %ld pages used, %ld dropped "
		       "(%u wrong predictions), %ld read by the page parser", pp.stat_used,
		       pp.stat_dropped, pp.misses, pp.stat_fast);
	rs_resp_clear(&resp);
	rs_auth_unkeep(in);
	rs_idset_free(&seen_links);
	free(cursor);
	*count = got;
	if (total_out)
		*total_out = total;
	return rc;
}

/* GET a changes-feed URL (absolute, or the feed's start when NULL).
 * On MID_OK *doc is the parsed answer. */
static int rs_changes_get(rs_pull_t *P, const char *link, json_t **doc, char *urlbuf,
                          size_t urlsz)
{
	rs_inst_t *in = P->in;
	const json_t *ch = in->c.changes;
	rs_vars_t v = { .cv = in->c.vars };
	rj_buf_t url = { NULL, 0, 0 };
	rs_send_t s = { 0 };
	rs_resp_t resp;
	int rc;

	memset(&resp, 0, sizeof resp);
	*doc = NULL;
	if (link) {
		if (!rs_same_origin(in, link, urlbuf, urlsz))
			return mid_error_set(P->err, MID_EPROTO, 0, "the changes link %.200s is not on "
			                     "%s: refused", link, in->c.origin);
		if (rj_buf_adds(&url, urlbuf))
			return mid_error_set(P->err, MID_ENOMEM, 0, "out of memory");
	} else if ((rc = rs_url(in, ch, NULL, &v, &url, P->err))) {
		rj_buf_free(&url);
		return rc;
	}
	snprintf(urlbuf, urlsz, "%s", url.p);
	s.method = "GET";
	s.url = url.p;
	s.spec = ch;
	s.vars = &v;
	s.want_json = 1;
	rc = rs_do(in, &s, &resp, P->err);
	if (!rc && !rs_ok_status(ch, resp.status)) {
		rc = rs_status_error(&s, &resp, P->err);
		json_decref(s.doc);
		s.doc = NULL;
	}
	*doc = s.doc;
	rs_resp_clear(&resp);
	rj_buf_free(&url);
	return rc;
}

/* The feed's current position: GET the start and take its next link. */
static int rs_changes_start(rs_pull_t *P, char *link, size_t linksz)
{
	json_t *doc = NULL;
	char url[2048];
	const char *next_p = rs_str(P->in->c.changes, "next", "next.href");
	int rc = rs_changes_get(P, NULL, &doc, url, sizeof url);
	if (rc)
		return rc;
	if (!rj_path_text(doc, next_p, link, linksz))
		rc = mid_error_set(P->err, MID_EPROTO, 0, "GET %s: no link at \"%s\" (changes.next)",
		                   url, next_p);
	json_decref(doc);
	return rc;
}

/* The last path segment of an href (query and fragment dropped, a
 * trailing '/' ignored, %XX decoded), in place: "https://h/api/ch/1008?x"
 * -> "1008". An href without one gives "". */
static void rs_href_last(char *s)
{
	char *path = s, *q, *seg, *o;
	size_t n;
	if ((q = strstr(s, "://")))
		path = strchr(q + 3, '/') ? strchr(q + 3, '/') : q + strlen(q);
	if ((q = strpbrk(path, "?#")))
		*q = '\0';
	n = strlen(path);
	while (n && path[n - 1] == '/')
		path[--n] = '\0';
	seg = strrchr(path, '/');
	seg = seg ? seg + 1 : path;
	o = s;
	for (const char *p = seg; *p; p++) {
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char h[3] = { p[1], p[2], 0 };
			*o++ = (char)strtol(h, NULL, 16);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Follow the changes feed from cur->link; cur->link advances as pages are
 * delivered and checkpointed. */
static int rs_changes_follow(rs_pull_t *P, rs_cursor_t *cur, uint64_t *count)
{
	rs_inst_t *in = P->in;
	const json_t *ch = in->c.changes;
	const char *records = rs_str(ch, "records", "results");
	const char *next_p = rs_str(ch, "next", "next.href");
	const char *item_rec = rs_str(ch, "item_record", "");
	const char *item_id = rs_str(ch, "item_id", NULL);
	const char *op_p = rs_str(ch, "op", NULL);
	int from_href = json_is_true(json_object_get(ch, "id_from_href"));
	const json_t *dops = json_object_get(ch, "delete_ops");
	long max_pages = rs_int(ch, "max_pages", 10000);
	char url[2048], next[2048], cbuf[2300];
	int rc = MID_OK;

	*count = 0;
	for (long pages = 1; pages <= max_pages; pages++) {
		json_t *doc = NULL;
		if ((rc = rs_changes_get(P, cur->link, &doc, url, sizeof url)))
			return rc;
		json_t *arr = rj_path_get(doc, records);
		size_t n = json_array_size(arr), i;
		json_t *item;
		if (arr && !json_is_array(arr)) {
			json_decref(doc);
			return mid_error_set(P->err, MID_EPROTO, 0, "GET %s: \"%s\" is not an array "
			                     "(changes.records)", url, records);
		}
		if (!rj_path_text(doc, next_p, next, sizeof next)) {
			json_decref(doc);
			return mid_error_set(P->err, MID_EPROTO, 0, "GET %s: no link at \"%s\" "
			                     "(changes.next)", url, next_p);
		}
		json_array_foreach(arr, i, item) {
			char op[64] = "";
			int del = 0;
			if (op_p)
				rj_path_text(item, op_p, op, sizeof op);
			if (op[0]) {
				if (json_is_array(dops)) {
					for (size_t k = 0; k < json_array_size(dops); k++)
						if (!strcasecmp(op, json_string_value(json_array_get(dops, k)) ?
						                    json_string_value(json_array_get(dops, k)) : ""))
							del = 1;
				} else {
					del = !strcasecmp(op, "remove") || !strcasecmp(op, "delete") ||
					      !strcasecmp(op, "deleted");
				}
			}
			json_t *rec = rj_path_get(item, item_rec);
			char id[256] = "";
			if (item_id)
				rj_path_text(item, item_id, id, sizeof id);
			else if (json_is_object(rec))
				rj_path_text(rec, in->c.rec_id, id, sizeof id);
			if (from_href)
				rs_href_last(id);
			if (del) {
				rc = rs_deliver(P, NULL, id, MID_OP_DELETE);
			} else if (!json_is_object(rec)) {
				char *raw = json_dumps(item, JSON_COMPACT);
				if (raw && strlen(raw) > 1024)
					raw[1024] = '\0';
				rc = P->sink->reject ? P->sink->reject(P->sink->ctx, ++P->pos, item_rec,
				                                       "the change has no record", raw, P->err)
				                     : MID_OK;
				free(raw);
			} else {
				rc = rs_deliver(P, rec, id, MID_OP_UPSERT);
			}
			if (rc)
				break;
		}
		json_decref(doc);
		if (rc)
			return rc;
		*count += n;
		/* these items are delivered: the next link is a safe place to resume */
		rs_copy(cur->link, sizeof cur->link, next);
		rs_cursor_fmt(cur, cbuf, sizeof cbuf);
		if (P->sink->checkpoint && (rc = P->sink->checkpoint(P->sink->ctx, cbuf, P->err)))
			return rc;
		if (P->sink->progress)
			P->sink->progress(P->sink->ctx, *count, 0);
		if (n == 0)
			return MID_OK;
	}
	rs_log(in, MID_LOG_INFO, "rest: changes feed: %ld pages read, the rest comes next run",
	       max_pages);
	return MID_OK;
}

static int rs_pull(void *inst, const mid_pull_req_t *req, const mid_pull_sink_t *sink,
                   mid_pull_result_t *result, mid_error_t *err)
{
	rs_inst_t *in = inst;
	rs_pull_t P;
	rs_cursor_t old, cur;
	int64_t start = rs_now(in);
	uint64_t n = 0;
	int rc, full, have_old = 0;
	char cbuf[2300], since[40] = "";

	memset(&P, 0, sizeof P);
	memset(result, 0, sizeof *result);
	P.in = in;
	P.sink = sink;
	P.err = err;
	in->waited_ms = 0;
	rs_copy(result->source, sizeof result->source, in->c.base);
	if (req->mode == MID_PULL_SINCE && req->cursor) {
		if (rs_cursor_parse(req->cursor, &old) == 0)
			have_old = 1;
		else
			rs_log(in, MID_LOG_WARNING, "rest: the stored cursor is not ours; doing a full "
			       "pull");
	}
	full = req->mode == MID_PULL_FULL || !have_old || (!in->c.changes && !in->c.delta) ||
	       (in->c.changes && !old.link[0]) || (in->c.delta && !in->c.changes && !old.since_ms) ||
	       (in->c.full_every_s > 0 && start - old.full_ms > in->c.full_every_s * 1000);
	memset(&cur, 0, sizeof cur);
	if (full) {
		cur.full_ms = start;
		cur.since_ms = start;
		if (in->c.changes && (rc = rs_changes_start(&P, cur.link, sizeof cur.link)))
			goto out;
		P.check_dups = 1;
		rc = rs_list(&P, in->c.list, NULL, NULL, 0, &n, NULL);
		if (rc)
			goto out;
		rs_cursor_fmt(&cur, cbuf, sizeof cbuf);
		if (sink->checkpoint && (rc = sink->checkpoint(sink->ctx, cbuf, err)))
			goto out;
		result->complete = 1;
		snprintf(result->source, sizeof result->source, "%.200s (full, %" PRIu64 " records)",
		         in->c.base, n);
	} else if (in->c.changes) {
		cur = old;
		rc = rs_changes_follow(&P, &cur, &n);
		if (rc)
			goto out;
		snprintf(result->source, sizeof result->source, "%.200s (changes feed, %" PRIu64
		         " changes)", in->c.base, n);
		result->nothing_new = n == 0;
	} else {
		const char *fmt = rs_str(in->c.delta, "time_format", "iso8601");
		int64_t t = old.since_ms - rs_int(in->c.delta, "overlap_s", 60) * 1000;
		if (t < 0)
			t = 0;
		if (!strcmp(fmt, "epoch_ms"))
			snprintf(since, sizeof since, "%" PRId64, t);
		else if (!strcmp(fmt, "epoch_s"))
			snprintf(since, sizeof since, "%" PRId64, t / 1000);
		else
			rs_iso8601(t, !strcmp(fmt, "iso8601_ms"), since, sizeof since);
		P.check_dups = 1;
		rc = rs_list(&P, in->c.list, json_object_get(in->c.delta, "query"), since, 0, &n, NULL);
		if (rc)
			goto out;
		cur.full_ms = old.full_ms;
		cur.since_ms = start;
		rs_cursor_fmt(&cur, cbuf, sizeof cbuf);
		if (sink->checkpoint && (rc = sink->checkpoint(sink->ctx, cbuf, err)))
			goto out;
		snprintf(result->source, sizeof result->source, "%.200s (changed since %s, %" PRIu64
		         " records)", in->c.base, since, n);
	}
out:
	if (rc)
		result->complete = 0;
	rj_fields_free(&P.fields);
	rs_idset_free(&P.ids);
	return rc;
}

/* ---- push -------------------------------------------------------------------------------------- */

/* Send write request spec w for the record; on MID_OK *resp and *doc (the
 * parsed body when there is one) hold the answer, whatever its status. */
static int rs_write(rs_inst_t *in, const json_t *w, const char *dflt_method, rs_vars_t *v,
                    const char *if_match, rs_resp_t *resp, json_t **doc, char *urlout,
                    size_t urlsz, mid_error_t *err)
{
	rj_buf_t url = { NULL, 0, 0 };
	json_t *body = NULL;
	char *txt = NULL;
	rs_send_t s = { 0 };
	int rc;

	*doc = NULL;
	if ((rc = rs_url(in, w, NULL, v, &url, err)))
		goto out;
	snprintf(urlout, urlsz, "%s", url.p);
	if (json_object_get(w, "body")) {
		if ((rc = rj_expand_json(json_object_get(w, "body"), rs_lookup, v, &body, err)))
			goto out;
		if (!(txt = json_dumps(body, JSON_COMPACT))) {
			rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			goto out;
		}
	}
	s.method = rs_str(w, "method", dflt_method);
	s.url = url.p;
	s.spec = w;
	s.vars = v;
	s.body = txt;
	s.ctype = rs_str(w, "content_type", NULL);
	s.if_match = if_match;
	s.push = 1;
	rc = rs_do(in, &s, resp, err);
	if (!rc && resp->body.len && resp->status >= 200 && resp->status < 300)
		*doc = json_loadb(resp->body.p, resp->body.len, JSON_REJECT_DUPLICATES, NULL);
out:
	json_decref(body);
	free(txt);
	rj_buf_free(&url);
	return rc;
}

static int rs_write_check(const json_t *w, const char *method, const char *url,
                          const rs_resp_t *r, mid_error_t *err)
{
	rs_send_t s = { 0 };
	if (rs_ok_status(w, r->status))
		return MID_OK;
	s.method = method;
	s.url = url;
	return rs_status_error(&s, r, err);
}

/* The current ETag of record id, with the `get` request. */
static int rs_fetch_etag(rs_inst_t *in, const char *id, char *etag, size_t etagsz,
                         mid_error_t *err)
{
	rs_vars_t v = { .cv = in->c.vars };
	rs_resp_t r;
	json_t *doc = NULL;
	char url[2048];
	int rc;
	etag[0] = '\0';
	if (!in->c.get)
		return MID_OK;
	memset(&r, 0, sizeof r);
	v.id = id;
	rc = rs_write(in, in->c.get, "GET", &v, NULL, &r, &doc, url, sizeof url, err);
	if (!rc)
		rc = rs_write_check(in->c.get, "GET", url, &r, err);
	if (!rc) {
		if (r.etag[0])
			snprintf(etag, etagsz, "%s", r.etag);
		else if (in->c.rec_etag && doc)
			rj_path_text(doc, in->c.rec_etag, etag, etagsz);
	}
	json_decref(doc);
	rs_resp_clear(&r);
	return rc;
}

/* ---- reconcile: a collection of the remote record kept equal to a field ------------------ */

#define RS_RECON_MAX_WANT 256

/* Expand template t for each of n keys or elements into a JSON array text
 * (NULL when n is 0). */
static int rs_recon_array(const json_t *t, rs_vars_t *v, const char *const *keys,
                          json_t *const *items, size_t n, const char *what, char **out,
                          mid_error_t *err)
{
	json_t *a = json_array();
	int rc = MID_OK;
	*out = NULL;
	if (!a)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		json_t *x = NULL;
		v->key = keys ? keys[i] : NULL;
		v->item = items ? items[i] : NULL;
		if ((rc = rj_expand_json(t, rs_lookup, v, &x, err)))
			break;
		if ((json_is_object(x) && !json_object_size(x)) ||
		    (json_is_array(x) && !json_array_size(x)))
			rc = mid_error_set(err, MID_EPROTO, 0, "reconcile.%s: the template gives nothing "
			                   "for an element (a value it names is missing)", what);
		else if (json_array_append(a, x))
			rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		json_decref(x);
	}
	v->key = NULL;
	v->item = NULL;
	if (!rc && json_array_size(a) && !(*out = json_dumps(a, JSON_COMPACT)))
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	json_decref(a);
	return rc;
}

/* Write request w may declare `reconcile`: a collection inside the remote
 * record (a cardholder's cards) whose selected elements are kept equal to
 * the values of one field of the pushed record (the person's active card
 * numbers). With `fetch` the record is read first (reconcile.get, else
 * `get`); without (a create) every wanted value is missing. Sets v->add and
 * v->remove (JSON array texts for {{$add|json}} and {{$remove|json}}; unset
 * when empty). */
static int rs_reconcile(rs_inst_t *in, const json_t *w, rs_vars_t *v, int fetch,
                        mid_error_t *err)
{
	const json_t *R = json_object_get(w, "reconcile");
	const json_t *sel = json_object_get(R, "select");
	const char *want_f = rs_str(R, "want", NULL);
	const char *const *want = NULL;
	size_t nwant = 0, nrem = 0;
	rj_recon_t r = { rs_str(R, "items", ""), NULL, NULL, 0, rs_str(R, "key", ""),
	                 (size_t)rs_int(R, "max_items", 1000) };
	rj_buf_t selv = { NULL, 0, 0 };
	unsigned char missing[RS_RECON_MAX_WANT];
	const char *addk[RS_RECON_MAX_WANT];
	json_t **rem = NULL, *doc = NULL;
	rs_resp_t resp;
	int rc = MID_OK;

	rs_vars_recon_clear(v);
	if (!R)
		return MID_OK;
	memset(&resp, 0, sizeof resp);
	for (size_t i = 0; want_f && v->rec && i < v->rec->nfields; i++)
		if (!strcmp(v->rec->fields[i].name, want_f)) {
			want = v->rec->fields[i].values;
			nwant = v->rec->fields[i].nvalues;
		}
	if (nwant > RS_RECON_MAX_WANT)
		return mid_error_set(err, MID_EINVAL, 0, "reconcile: field %s has %zu values, more than "
		                     "%d", want_f, nwant, RS_RECON_MAX_WANT);
	if (sel) {
		size_t absent = 0;
		const char *t = rs_str(sel, "href", NULL);
		r.sel_href = t != NULL;
		if (!t)
			t = rs_str(sel, "equals", "");
		r.sel_path = rs_str(sel, "path", "");
		if ((rc = rj_expand_text(t, rs_lookup, v, RJ_ENC_NONE, &selv, &absent, err)))
			goto out;
		if (absent || !selv.p || !selv.p[0]) {
			rc = mid_error_set(err, MID_EINVAL, 0, "reconcile.select: %.200s names a value "
			                   "that is not set", t);
			goto out;
		}
		r.sel_value = selv.p;
	}
	if (fetch) {
		const json_t *g = json_object_get(R, "get") ? json_object_get(R, "get") : in->c.get;
		rj_buf_t url = { NULL, 0, 0 };
		rs_send_t s = { 0 };
		if (!g) {
			rc = mid_error_set(err, MID_EINVAL, 0, "reconcile needs reconcile.get or get");
			goto out;
		}
		if ((rc = rs_url(in, g, NULL, v, &url, err))) {
			rj_buf_free(&url);
			goto out;
		}
		s.method = "GET";
		s.url = url.p;
		s.spec = g;
		s.vars = v;
		s.push = 1;
		s.want_json = 1;
		rc = rs_do(in, &s, &resp, err);
		if (!rc && !rs_ok_status(g, resp.status))
			rc = rs_status_error(&s, &resp, err);
		doc = s.doc;
		rj_buf_free(&url);
		if (rc)
			goto out;
	}
	if (nwant)
		memset(missing, 1, nwant);
	if (doc && (rc = rj_reconcile(doc, &r, want, nwant, missing, &rem, &nrem, err)))
		goto out;
	size_t nadd = 0;
	for (size_t i = 0; i < nwant; i++) {
		int dup = !want[i][0];
		for (size_t k = 0; k < i && !dup; k++)
			dup = !strcmp(want[k], want[i]);
		if (missing[i] && !dup)
			addk[nadd++] = want[i];
	}
	char *add = NULL, *remove = NULL;
	if ((rc = rs_recon_array(json_object_get(R, "add"), v, addk, NULL,
	                         json_object_get(R, "add") ? nadd : 0, "add", &add, err)) ||
	    (rc = rs_recon_array(json_object_get(R, "remove"), v, NULL, rem,
	                         json_object_get(R, "remove") ? nrem : 0, "remove", &remove, err))) {
		free(add);
		goto out;
	}
	v->add = add;
	v->remove = remove;
	if (nadd || nrem)
		rs_log(in, MID_LOG_DEBUG, "rest: reconcile %s of %s: %zu to add, %zu to remove",
		       r.items, v->id && *v->id ? v->id : "a new record", nadd, nrem);
out:
	free(rem);
	json_decref(doc);
	rs_resp_clear(&resp);
	rj_buf_free(&selv);
	return rc;
}

/* The id and etag of a successful create/update answer. */
static void rs_result_from(rs_inst_t *in, const rs_resp_t *r, json_t *doc,
                           mid_push_result_t *res)
{
	char tmp[256];
	if (doc && rj_path_text(doc, in->c.rec_id, tmp, sizeof tmp))
		rs_copy(res->external_id, sizeof res->external_id, tmp);
	else if (r->location[0]) {
		const char *slash = strrchr(r->location, '/');
		rs_copy(res->external_id, sizeof res->external_id,
		        slash && slash[1] ? slash + 1 : r->location);
	}
	if (r->etag[0])
		rs_copy(res->etag, sizeof res->etag, r->etag);
	else if (doc && in->c.rec_etag && rj_path_text(doc, in->c.rec_etag, tmp, sizeof tmp))
		rs_copy(res->etag, sizeof res->etag, tmp);
}

static int rs_update(rs_inst_t *in, const json_t *w, rs_vars_t *v, mid_push_result_t *res,
                     mid_error_t *err)
{
	rs_resp_t r;
	json_t *doc = NULL;
	char url[2048], etag[128] = "";
	int rc;
	memset(&r, 0, sizeof r);
	int if_match = json_is_true(json_object_get(w, "if_match"));
	if (if_match) {
		if (v->etag && *v->etag)
			rs_copy(etag, sizeof etag, v->etag);
		else if ((rc = rs_fetch_etag(in, v->id, etag, sizeof etag, err)))
			return rc;
	}
	if ((rc = rs_reconcile(in, w, v, 1, err)))
		return rc;
	for (int tries = 0;; tries++) {
		rc = rs_write(in, w, "PATCH", v, etag[0] ? etag : NULL, &r, &doc, url, sizeof url, err);
		if (rc)
			break;
		if (r.status == 412 && if_match && tries == 0) {
			/* changed meanwhile: take the new version once */
			json_decref(doc);
			doc = NULL;
			if ((rc = rs_fetch_etag(in, v->id, etag, sizeof etag, err)))
				break;
			continue;
		}
		rc = rs_write_check(w, rs_str(w, "method", "PATCH"), url, &r, err);
		if (!rc) {
			rs_result_from(in, &r, doc, res);
			rs_copy(res->external_id, sizeof res->external_id, v->id);
		}
		break;
	}
	json_decref(doc);
	rs_resp_clear(&r);
	return rc;
}

/* 409 on create: find the existing record by conflict.lookup. */
static int rs_lookup_existing(rs_inst_t *in, rs_vars_t *v, char *id, size_t idsz,
                              char *etag, size_t etagsz, mid_error_t *err)
{
	const json_t *lk = json_object_get(in->c.conflict, "lookup");
	rj_buf_t url = { NULL, 0, 0 };
	rs_send_t s = { 0 };
	rs_resp_t r;
	int rc;
	memset(&r, 0, sizeof r);
	if ((rc = rs_url(in, lk, NULL, v, &url, err)))
		goto out;
	s.method = rs_str(lk, "method", "GET");
	s.url = url.p;
	s.spec = lk;
	s.vars = v;
	s.push = 1;
	s.want_json = 1;
	if ((rc = rs_do(in, &s, &r, err)))
		goto out;
	if (!rs_ok_status(lk, r.status)) {
		rc = rs_status_error(&s, &r, err);
		goto out;
	}
	json_t *arr = rj_path_get(s.doc, rs_str(lk, "records", ""));
	if (json_array_size(arr) != 1) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "the create was refused as existing, but the "
		                   "lookup %s found %zu records, not one", url.p, json_array_size(arr));
		goto out;
	}
	json_t *rec = json_array_get(arr, 0);
	if (!rj_path_text(rec, in->c.rec_id, id, idsz))
		rc = mid_error_set(err, MID_EPROTO, 0, "the lookup's record has no id");
	else if (in->c.rec_etag)
		rj_path_text(rec, in->c.rec_etag, etag, etagsz);
out:
	json_decref(s.doc);
	rs_resp_clear(&r);
	rj_buf_free(&url);
	return rc;
}

static int rs_field_is(const mid_record_t *rec, const json_t *when)
{
	const char *f = rs_str(when, "field", NULL);
	const json_t *vals = json_object_get(when, "values");
	if (!f || !rec->fields)
		return 0;
	for (size_t i = 0; i < rec->nfields; i++) {
		if (strcmp(rec->fields[i].name, f) || !rec->fields[i].nvalues)
			continue;
		for (size_t k = 0; k < json_array_size(vals); k++) {
			const char *w = json_string_value(json_array_get(vals, k));
			if (w && !strcasecmp(w, rec->fields[i].values[0]))
				return 1;
		}
	}
	return 0;
}

static int rs_push(void *inst, const mid_record_t *rec, mid_push_result_t *res, mid_error_t *err)
{
	rs_inst_t *in = inst;
	rs_vars_t v = { .cv = in->c.vars };
	rs_resp_t r;
	json_t *doc = NULL;
	char url[2048];
	int rc;

	memset(&r, 0, sizeof r);
	memset(res, 0, sizeof *res);
	v.rec = rec;
	v.id = rec->external_id;
	v.etag = rec->etag;
	rs_iso8601(rs_now(in), 0, v.now, sizeof v.now);

	if (rec->op == MID_OP_DELETE) {
		const json_t *w = in->c.del ? in->c.del : in->c.disable;
		if (!w)
			return mid_error_set(err, MID_ENOTSUP, 0, "the profile declares no delete or "
			                     "disable request");
		if (!rec->external_id || !*rec->external_id)
			return MID_OK;
		rc = rs_write(in, w, w == in->c.del ? "DELETE" : "PATCH", &v, NULL, &r, &doc, url,
		              sizeof url, err);
		if (!rc && !(r.status == 404 || r.status == 410))
			rc = rs_write_check(w, rs_str(w, "method", w == in->c.del ? "DELETE" : "PATCH"),
			                    url, &r, err);
		goto out;
	}
	if (!rec->external_id || !*rec->external_id) {
		if (!in->c.create)
			return mid_error_set(err, MID_ENOTSUP, 0, "the profile declares no create "
			                     "request");
		if ((rc = rs_reconcile(in, in->c.create, &v, 0, err)))
			goto out;
		rc = rs_write(in, in->c.create, "POST", &v, NULL, &r, &doc, url, sizeof url, err);
		if (rc)
			goto out;
		int cst[8], ncst;
		static const int d409[] = { 409 };
		rs_status_list(in->c.conflict ? json_object_get(in->c.conflict, "status") : NULL, cst,
		               8, &ncst, d409, 1);
		if (in->c.conflict && rs_in_list(cst, ncst, r.status)) {
			char id[256] = "", etag[128] = "";
			if ((rc = rs_lookup_existing(in, &v, id, sizeof id, etag, sizeof etag, err)))
				goto out;
			rs_log(in, MID_LOG_INFO, "rest: create answered %ld: updating the existing record "
			       "%s instead", r.status, id);
			v.id = id;
			v.etag = etag[0] ? etag : NULL;
			if (in->c.update)
				rc = rs_update(in, in->c.update, &v, res, err);
			rs_copy(res->external_id, sizeof res->external_id, id);
			goto out;
		}
		if ((rc = rs_write_check(in->c.create, rs_str(in->c.create, "method", "POST"), url, &r,
		                         err)))
			goto out;
		rs_result_from(in, &r, doc, res);
		if (!res->external_id[0])
			rc = mid_error_set(err, MID_EPROTO, 0, "POST %s: created, but the answer names no "
			                   "id (record.id or Location)", url);
		goto out;
	}
	if (in->c.del && json_object_get(in->c.del, "when") &&
	    rs_field_is(rec, json_object_get(in->c.del, "when"))) {
		/* e.g. status "deleted": remove the record (a 404 is done) */
		rc = rs_write(in, in->c.del, "DELETE", &v, NULL, &r, &doc, url, sizeof url, err);
		if (!rc && !(r.status == 404 || r.status == 410))
			rc = rs_write_check(in->c.del, rs_str(in->c.del, "method", "DELETE"), url, &r, err);
		if (!rc)
			rs_copy(res->external_id, sizeof res->external_id, rec->external_id);
	} else if (in->c.disable && json_object_get(in->c.disable, "when") &&
	           rs_field_is(rec, json_object_get(in->c.disable, "when")))
		rc = rs_update(in, in->c.disable, &v, res, err);
	else if (in->c.update)
		rc = rs_update(in, in->c.update, &v, res, err);
	else
		rc = mid_error_set(err, MID_ENOTSUP, 0, "the profile declares no update request");
out:
	rs_vars_recon_clear(&v);
	json_decref(doc);
	rs_resp_clear(&r);
	return rc;
}

/* ---- test --------------------------------------------------------------------------------------- */

static void rs_check(mid_check_t *c, const char *name, int state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rs_check(mid_check_t *c, const char *name, int state, const char *fmt, ...)
{
	va_list ap;
	c->name = name;
	c->state = state;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
}

static int rs_test_sink_record(void *ctx, const mid_record_t *rec, mid_error_t *err)
{
	(void)rec;
	(void)err;
	(*(uint64_t *)ctx)++;
	return MID_OK;
}

static int rs_test(void *inst, mid_check_t *checks, size_t max, size_t *n, mid_error_t *err)
{
	rs_inst_t *in = inst;
	rs_resp_t r;
	rs_http_req_t rq = { "GET", in->c.base, NULL, NULL, 0, 1 };
	uint64_t seen = 0, cnt = 0;
	int64_t total = -1;
	mid_error_t lerr = { 0 };
	(void)err;

	*n = 0;
	if (max < 3)
		return mid_error_set(err, MID_EINVAL, 0, "test needs room for 3 checks");
	memset(&r, 0, sizeof r);
	in->xfer(in, &rq, &r);
	if (r.curl_rc != CURLE_OK) {
		rs_check(&checks[0], "reachability", MID_CHECK_FAIL, "%s: %s", in->c.origin, r.curl_err);
		rs_check(&checks[1], "authentication", MID_CHECK_SKIP, "not tried: unreachable");
		rs_check(&checks[2], "permissions", MID_CHECK_SKIP, "not tried: unreachable");
		*n = 3;
		rs_resp_clear(&r);
		return MID_OK;
	}
	rs_check(&checks[0], "reachability", MID_CHECK_OK, "connected to %s%s", in->c.origin,
	         strncmp(in->c.base, "https:", 6) ? "" : in->c.tls_verify ? " (TLS, certificate "
	         "verified)" : " (TLS, certificate NOT verified: tls_verify is false)");
	rs_resp_clear(&r);

	/* one record of the list: needs authentication and read permission */
	mid_pull_sink_t sink = { &seen, rs_test_sink_record, NULL, NULL, NULL, NULL };
	rs_pull_t P;
	memset(&P, 0, sizeof P);
	P.in = in;
	P.sink = &sink;
	P.err = &lerr;
	int rc = rs_list(&P, in->c.list, NULL, NULL, 1, &cnt, &total);
	rj_fields_free(&P.fields);
	rs_idset_free(&P.ids);
	if (rc == MID_EAUTH && strstr(lerr.text, "HTTP 401")) {
		rs_check(&checks[1], "authentication", MID_CHECK_FAIL, "%s", lerr.text);
		rs_check(&checks[2], "permissions", MID_CHECK_SKIP, "not tried: not authenticated");
	} else if (rc == MID_EAUTH) {
		rs_check(&checks[1], "authentication", MID_CHECK_OK, "credentials accepted (the server "
		         "answered 403, not 401)");
		rs_check(&checks[2], "permissions", MID_CHECK_FAIL, "may not list records: %s",
		         lerr.text);
	} else if (rc) {
		rs_check(&checks[1], "authentication", MID_CHECK_FAIL, "the list request failed: %s",
		         lerr.text);
		rs_check(&checks[2], "permissions", MID_CHECK_SKIP, "not tried");
	} else {
		rs_check(&checks[1], "authentication", MID_CHECK_OK, "%s accepted",
		         in->c.auth == RS_AUTH_NONE ? "no credentials configured; requests" :
		         in->c.auth == RS_AUTH_BASIC ? "basic credentials" :
		         in->c.auth == RS_AUTH_BEARER ? "bearer token" :
		         in->c.auth == RS_AUTH_APIKEY ? "API key" : "OAuth2 client credentials");
		char tot[48] = "";
		if (total >= 0)
			snprintf(tot, sizeof tot, " of %" PRId64, total);
		if (in->c.probe) {
			rs_vars_t v = { .cv = in->c.vars };
			json_t *doc = NULL;
			char url[2048];
			mid_error_t perr = { 0 };
			rs_iso8601(rs_now(in), 0, v.now, sizeof v.now);
			v.id = "mobileid-gateway-permission-probe";
			rc = rs_write(in, in->c.probe, "PATCH", &v, NULL, &r, &doc, url, sizeof url, &perr);
			json_decref(doc);
			if (rc)
				rs_check(&checks[2], "permissions", MID_CHECK_FAIL, "listed %" PRIu64 "%s "
				         "records; write probe failed: %s", cnt, tot, perr.text);
			else if (rs_ok_status(in->c.probe, r.status))
				rs_check(&checks[2], "permissions", MID_CHECK_OK, "listed %" PRIu64 "%s records;"
				         " write probe answered %ld (allowed)", cnt, tot, r.status);
			else
				rs_check(&checks[2], "permissions", MID_CHECK_FAIL, "listed %" PRIu64 "%s "
				         "records; write probe %s answered %ld: %s", cnt, tot, url, r.status,
				         r.status == 401 || r.status == 403 ? "no write permission"
				                                             : "unexpected status");
			rs_resp_clear(&r);
		} else {
			rs_check(&checks[2], "permissions", MID_CHECK_OK, "listed %" PRIu64 "%s records "
			         "(no write probe declared)", cnt, tot);
		}
	}
	*n = 3;
	return MID_OK;
}

/* ---- open / close ------------------------------------------------------------------------------- */

static void rs_close(void *inst)
{
	rs_inst_t *in = inst;
	if (!in)
		return;
	rs_token_drop(in);
	if (in->curl)
		curl_easy_cleanup(in->curl);
	free(in->c.base);
	free(in->c.omit);
	json_decref(in->c.alias);
	json_decref(in->c.root);
	if (in->curl)
		curl_global_cleanup();
	free(in);
}

static int rs_conf_load(rs_inst_t *in, const char *settings, mid_error_t *err)
{
	rs_conf_t *c = &in->c;
	json_error_t je;
	const mid_http_defaults_t *hd = in->host->http;

	c->root = json_loads(settings, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(c->root))
		return mid_error_set(err, MID_EINVAL, 0, "rest settings: not a JSON object: %s",
		                     je.text);
	const json_t *R = c->root;
	const char *base = rs_str(R, "base_url", NULL);
	if (!base || (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)))
		return mid_error_set(err, MID_EINVAL, 0, "rest settings: base_url must be an http(s) "
		                     "URL");
	c->base = strdup(base);
	if (!c->base)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	size_t bl = strlen(c->base);
	while (bl && c->base[bl - 1] == '/')
		c->base[--bl] = '\0';
	{
		CURLU *u = curl_url();
		char *sc = NULL, *h = NULL, *p = NULL;
		int bad = !u || curl_url_set(u, CURLUPART_URL, c->base, 0) ||
		          curl_url_get(u, CURLUPART_SCHEME, &sc, 0) ||
		          curl_url_get(u, CURLUPART_HOST, &h, 0) ||
		          curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT);
		if (!bad)
			snprintf(c->origin, sizeof c->origin, "%s://%s:%s", sc, h, p);
		curl_free(sc);
		curl_free(h);
		curl_free(p);
		curl_url_cleanup(u);
		if (bad)
			return mid_error_set(err, MID_EINVAL, 0, "rest settings: base_url %s cannot be "
			                     "parsed", c->base);
	}
	const json_t *A = json_object_get(R, "auth");
	const char *at = rs_str(A, "type", "none");
	c->auth = !strcmp(at, "basic") ? RS_AUTH_BASIC : !strcmp(at, "bearer") ? RS_AUTH_BEARER
	        : !strcmp(at, "api_key") ? RS_AUTH_APIKEY
	        : !strcmp(at, "oauth2_client_credentials") ? RS_AUTH_OAUTH2 : RS_AUTH_NONE;
	c->auth_header = rs_str(A, "header", "Authorization");
	c->auth_scheme = rs_str(A, "scheme", "");
	c->token_url = rs_str(A, "token_url", NULL);
	c->scope = rs_str(A, "scope", NULL);
	c->audience = rs_str(A, "audience", NULL);
	c->client_auth_body = !strcmp(rs_str(A, "client_auth", "basic"), "body");
	c->refresh_before_s = rs_int(A, "refresh_before_s", 60);
	static const char *const need[][2] = {
		{ "basic", "password" }, { "bearer", "token" }, { "api_key", "api_key" },
		{ "oauth2_client_credentials", "client_secret" },
	};
	for (size_t i = 0; i < 4; i++)
		if (!strcmp(at, need[i][0]) && !json_object_get(R, need[i][1]))
			return mid_error_set(err, MID_EINVAL, 0, "rest settings: auth %s needs \"%s\": "
			                     "{\"secret\": NAME}", at, need[i][1]);
	if (c->auth == RS_AUTH_BASIC && !json_object_get(R, "username"))
		return mid_error_set(err, MID_EINVAL, 0, "rest settings: auth basic needs \"username\"");
	if (c->auth == RS_AUTH_OAUTH2 && (!c->token_url || !json_object_get(R, "client_id")))
		return mid_error_set(err, MID_EINVAL, 0, "rest settings: auth "
		                     "oauth2_client_credentials needs auth.token_url and client_id");
	/* secrets must be references, never plain text */
	static const char *const secret_keys[] = { "password", "token", "api_key", "client_secret",
	                                           "client_key_password" };
	for (size_t i = 0; i < 5; i++) {
		json_t *s = json_object_get(R, secret_keys[i]);
		if (s && !json_is_string(json_object_get(s, "secret")))
			return mid_error_set(err, MID_EINVAL, 0, "rest settings: \"%s\" must be "
			                     "{\"secret\": NAME}, never a plain value", secret_keys[i]);
	}
	c->tls_verify = !json_is_false(json_object_get(R, "tls_verify"));
	c->connect_ms = rs_int(R, "connect_timeout_ms", hd && hd->connect_timeout_ms > 0 ?
	                       hd->connect_timeout_ms : 10000);
	c->total_ms = rs_int(R, "timeout_ms", hd && hd->total_timeout_ms > 0 ?
	                     hd->total_timeout_ms : 60000);
	c->max_bytes = (size_t)rs_int(R, "max_response_bytes", hd && hd->max_response_bytes ?
	                              (long)hd->max_response_bytes : (long)RS_DEFAULT_MAX_BYTES);
	c->max_depth = (int)rs_int(R, "max_json_depth", 32);
	const json_t *rt = json_object_get(R, "retry");
	c->retry.max_attempts = rs_int(rt, "max_attempts", 6);
	c->retry.push_max_attempts = rs_int(rt, "push_max_attempts", 3);
	c->retry.base_ms = rs_int(rt, "base_ms", 500);
	c->retry.max_ms = rs_int(rt, "max_ms", 30000);
	c->retry.max_total_ms = rs_int(rt, "max_total_ms", 120000);
	static const int drate[] = { 429, 503 }, dretry[] = { 500, 502, 503, 504 };
	rs_status_list(json_object_get(rt, "rate_limit_status"), c->retry.rate, RS_MAX_STATUS,
	               &c->retry.nrate, drate, 2);
	rs_status_list(json_object_get(rt, "retry_status"), c->retry.retry, RS_MAX_STATUS,
	               &c->retry.nretry, dretry, 4);
	const json_t *rec = json_object_get(R, "record");
	c->rec_id = rs_str(rec, "id", "id");
	c->rec_etag = rs_str(rec, "etag", NULL);
	const json_t *om = json_object_get(rec, "omit");
	if (json_array_size(om)) {
		c->omit = calloc(json_array_size(om), sizeof *c->omit);
		if (!c->omit)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		for (size_t i = 0; i < json_array_size(om); i++)
			if (json_string_value(json_array_get(om, i)))
				c->omit[c->nomit++] = json_string_value(json_array_get(om, i));
	}
	c->vars = json_object_get(R, "vars");
	if (c->vars) {
		const char *vk;
		json_t *vv;
		if (!json_is_object(c->vars))
			return mid_error_set(err, MID_EINVAL, 0, "rest settings: \"vars\" must be an "
			                     "object of strings");
		json_object_foreach(c->vars, vk, vv)
			if (!json_is_string(vv))
				return mid_error_set(err, MID_EINVAL, 0, "rest settings: vars.%.100s must be "
				                     "a string", vk);
	}
	const json_t *al = json_object_get(rec, "alias");
	if (json_object_size(al)) {
		const char *ak;
		json_t *ap;
		c->alias = json_object();
		if (!c->alias)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		json_object_foreach((json_t *)al, ak, ap) {
			rs_vars_t av = { .cv = c->vars };
			rj_buf_t b = { NULL, 0, 0 };
			size_t absent = 0;
			int rc;
			if (!json_is_string(ap))
				return mid_error_set(err, MID_EINVAL, 0, "rest settings: record.alias.%.100s "
				                     "must be a path", ak);
			if ((rc = rj_expand_text(json_string_value(ap), rs_lookup, &av, RJ_ENC_NONE, &b,
			                         &absent, err))) {
				rj_buf_free(&b);
				return rc;
			}
			if (absent) {
				rj_buf_free(&b);
				return mid_error_set(err, MID_EINVAL, 0, "rest settings: record.alias.%.100s: "
				                     "%.200s names a value that is not set (only {{$vars.NAME}} "
				                     "can be used here)", ak, json_string_value(ap));
			}
			rc = json_object_set_new(c->alias, ak, json_string(b.p ? b.p : ""));
			rj_buf_free(&b);
			if (rc)
				return mid_error_set(err, MID_EINVAL, 0, "rest settings: record.alias.%.100s: "
				                     "not UTF-8", ak);
		}
	}
	c->list = json_object_get(R, "list");
	if (!json_is_object(c->list) || !json_is_string(json_object_get(c->list, "path")))
		return mid_error_set(err, MID_EINVAL, 0, "rest settings: \"list\" with a \"path\" is "
		                     "required");
	c->changes = json_object_get(R, "changes");
	c->delta = json_object_get(R, "delta");
	c->get = json_object_get(R, "get");
	c->create = json_object_get(R, "create");
	c->update = json_object_get(R, "update");
	c->disable = json_object_get(R, "disable");
	c->del = json_object_get(R, "delete");
	c->conflict = json_object_get(R, "conflict");
	c->probe = json_object_get(json_object_get(R, "test"), "write_probe");
	c->full_every_s = rs_int(R, "full_every_s", 86400);
	return MID_OK;
}

static int rs_open(const mid_host_t *host, const char *settings, void **instance,
                   mid_error_t *err)
{
	rs_inst_t *in = calloc(1, sizeof *in);
	int rc;
	*instance = NULL;
	if (!in)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	in->host = host;
	in->xfer = rs_xfer_curl;
	in->sleep_ms = rs_sleep_real;
	in->rnd = (uint64_t)rs_mono(in) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)in ^
	          (uint64_t)getpid();
	if ((rc = rs_conf_load(in, settings, err)))
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = mid_error_set(err, MID_EINTERNAL, 0, "libcurl could not be initialised");
		goto fail;
	}
	in->curl = curl_easy_init();
	if (!in->curl) {
		curl_global_cleanup();
		rc = mid_error_set(err, MID_ENOMEM, 0, "libcurl: no handle");
		goto fail;
	}
	if (!in->c.tls_verify && !strncmp(in->c.base, "https:", 6))
		rs_log(in, MID_LOG_WARNING, "rest: tls_verify is false: the server certificate of %s "
		       "is NOT checked", in->c.origin);
	*instance = in;
	return MID_OK;
fail:
	rs_close(in);
	return rc;
}

const mid_connector_t mid_connector = {
	.abi_major = MID_CONNECTOR_ABI_MAJOR,
	.abi_minor = MID_CONNECTOR_ABI_MINOR,
	.struct_size = sizeof(mid_connector_t),
	.name = "rest",
	.version = RS_VERSION,
	.description = "HTTP/JSON APIs described declaratively (SCIM 2.0, vendor REST APIs)",
	.capabilities = MID_CAP_PULL_FULL | MID_CAP_PULL_SINCE | MID_CAP_PUSH_UPSERT |
	                MID_CAP_PUSH_REMOVE | MID_CAP_TEST,
	.settings_schema = rs_settings_schema,
	.open = rs_open,
	.close = rs_close,
	.test = rs_test,
	.pull = rs_pull,
	.push = rs_push,
	.flush = NULL,
};
