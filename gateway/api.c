/* gateway/api.c -- the HTTP server: libmicrohttpd setup (TLS, limits,
 * timeouts, logging), request bodies, routing, authentication dispatch,
 * responses, per-thread store handles, /healthz, /metrics, /v1/version.
 * The handlers live in api_phone.c, api_reader.c and api_admin.c. */
#include <config.h>
#include "gateway/api.h"
#include "gateway/api_int.h"
#include "gateway/log.h"
#include "gateway/replay.h"
#include "gateway/secrets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#define API_THREADS 4
#define API_CONN_LIMIT 1024
#define API_MAX_STATUS 600
#define API_MAX_REASONS 32
#define API_TLS_FILE_MAX (256 * 1024)
/* Replay cache bounds (docs/api.md "Replay defence"): live nonces per
 * device or reader within its window, and in all (80 to 160 bytes each
 * with table slack: at most about 42 MB). */
#define API_REPLAY_PER_SCOPE 4096
#define API_REPLAY_TOTAL (1u << 18)

enum api_authkind { AUTH_NONE = 0, AUTH_ADMIN, AUTH_READER, AUTH_DEVICE };

typedef struct api_route {
	const char *method;
	const char *path;
	mid_api_handler_fn fn;
	int auth;
} api_route_t;

static int h_healthz(mid_api_req_t *r);
static int h_metrics(mid_api_req_t *r);
static int h_version(mid_api_req_t *r);

/* The route table: the one list the server dispatches on and the OpenAPI
 * test compares with schemas/openapi.yaml. */
static const api_route_t api_routes[] = {
	{ "GET", "/healthz", h_healthz, AUTH_NONE },
	{ "GET", "/metrics", h_metrics, AUTH_NONE },
	{ "GET", "/v1/version", h_version, AUTH_NONE },
	{ "POST", "/v1/phone/enroll", mid_api_h_enroll, AUTH_NONE },
	{ "GET", "/v1/phone/credentials", mid_api_h_phone_credentials, AUTH_DEVICE },
	{ "GET", "/v1/reader/bundle", mid_api_h_reader_bundle, AUTH_READER },
	{ "POST", "/v1/reader/verify", mid_api_h_reader_verify, AUTH_READER },
	{ "GET", "/v1/admin/people", mid_api_h_people_list, AUTH_ADMIN },
	{ "POST", "/v1/admin/people", mid_api_h_people_create, AUTH_ADMIN },
	{ "GET", "/v1/admin/people/{id}", mid_api_h_people_get, AUTH_ADMIN },
	{ "PUT", "/v1/admin/people/{id}", mid_api_h_people_update, AUTH_ADMIN },
	{ "DELETE", "/v1/admin/people/{id}", mid_api_h_people_delete, AUTH_ADMIN },
	{ "POST", "/v1/admin/people/{id}/suspend", mid_api_h_people_suspend, AUTH_ADMIN },
	{ "POST", "/v1/admin/people/{id}/resume", mid_api_h_people_resume, AUTH_ADMIN },
	{ "GET", "/v1/admin/credentials", mid_api_h_cred_list, AUTH_ADMIN },
	{ "POST", "/v1/admin/credentials", mid_api_h_cred_issue, AUTH_ADMIN },
	{ "GET", "/v1/admin/credentials/{id}", mid_api_h_cred_get, AUTH_ADMIN },
	{ "POST", "/v1/admin/credentials/{id}/revoke", mid_api_h_cred_revoke, AUTH_ADMIN },
	{ "POST", "/v1/admin/credentials/{id}/suspend", mid_api_h_cred_suspend, AUTH_ADMIN },
	{ "POST", "/v1/admin/credentials/{id}/resume", mid_api_h_cred_resume, AUTH_ADMIN },
	{ "GET", "/v1/admin/invitations", mid_api_h_inv_list, AUTH_ADMIN },
	{ "POST", "/v1/admin/invitations", mid_api_h_inv_create, AUTH_ADMIN },
	{ "POST", "/v1/admin/invitations/{id}/resend", mid_api_h_inv_resend, AUTH_ADMIN },
	{ "GET", "/v1/admin/readers", mid_api_h_readers_list, AUTH_ADMIN },
	{ "POST", "/v1/admin/readers", mid_api_h_readers_add, AUTH_ADMIN },
	{ "GET", "/v1/admin/bindings", mid_api_h_bindings_status, AUTH_ADMIN },
	{ "GET", "/v1/admin/audit", mid_api_h_audit_list, AUTH_ADMIN },
};
#define API_NROUTES (sizeof api_routes / sizeof api_routes[0])

/* One worker thread's store and secret-store handles. */
typedef struct api_tls_ctx {
	mid_store_t *st;
	mid_secrets_t *sec;
	struct api_tls_ctx *next;
} api_tls_ctx_t;

struct mid_api {
	struct MHD_Daemon *d;
	mid_instance_t *in;
	uint16_t port;
	size_t max_body;
	pthread_key_t key;
	int key_made;
	pthread_mutex_t mu;          /* guards ctxs and reasons */
	mid_replay_t *replay;        /* nonces seen (phones, readers); thread-safe */
	api_tls_ctx_t *ctxs;
	char *tls_cert, *tls_key;    /* PEM text; the key is wiped on stop */
	size_t tls_key_len;
	/* metrics: [route][status]; route API_NROUTES = unmatched */
	uint64_t (*req_count)[API_MAX_STATUS];
	uint64_t enroll_ok, enroll_fail;
	char reason_name[API_MAX_REASONS][48];
	uint64_t reason_count[API_MAX_REASONS];
	int nreasons;
};

/* Per-connection state kept by libmicrohttpd between callback calls. */
typedef struct api_conn {
	char *buf;
	size_t len, cap;
	int too_big;
} api_conn_t;

/* ---- small helpers ---------------------------------------------------------- */

int64_t mid_api_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *mid_api_b64url(const void *buf, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(n);
	if (!out)
		return NULL;
	sodium_bin2base64(out, n, buf, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

long mid_api_unb64url(const char *in, void *out, size_t cap)
{
	size_t n = 0;
	if (!in)
		return -1;
	if (sodium_base642bin(out, cap, in, strlen(in), NULL, &n, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	return (long)n;
}

int mid_api_uuid_parse(const char *text, uint8_t out[16])
{
	size_t i, o = 0;
	if (!text || strlen(text) != 36)
		return -1;
	for (i = 0; i < 36;) {
		unsigned v;
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return -1;
			i++;
			continue;
		}
		if (sscanf(text + i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", text[i]) ||
		    !strchr("0123456789abcdefABCDEF", text[i + 1]))
			return -1;
		out[o++] = (uint8_t)v;
		i += 2;
	}
	return o == 16 ? 0 : -1;
}

void mid_api_uuid_format(const uint8_t in[16], char out[MID_ID_LEN])
{
	snprintf(out, MID_ID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], in[9], in[10],
	         in[11], in[12], in[13], in[14], in[15]);
}

/* ---- responses ---------------------------------------------------------------- */

static void resp_set(mid_api_req_t *r, int status, const char *type, char *body, size_t len)
{
	free(r->resp_body);
	r->status = status;
	r->resp_type = type;
	r->resp_body = body;
	r->resp_len = len;
}

int mid_api_json(mid_api_req_t *r, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!s)
		return mid_api_problem(r, 500, "internal", "Internal error", "out of memory");
	resp_set(r, status, "application/json", s, strlen(s));
	return 0;
}

int mid_api_problem(mid_api_req_t *r, int status, const char *type, const char *title,
                    const char *fmt, ...)
{
	char detail[512], typ[96];
	va_list ap;
	json_t *j;
	char *s;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	snprintf(typ, sizeof typ, "urn:mobileid:problem:%s", type);
	j = json_pack("{s:s, s:s, s:i, s:s}", "type", typ, "title", title, "status", status,
	              "detail", detail);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s) {
		static const char oom[] = "{\"type\":\"urn:mobileid:problem:internal\","
		                          "\"title\":\"Internal error\",\"status\":500,"
		                          "\"detail\":\"out of memory\"}";
		s = strdup(oom);
		status = 500;
	}
	resp_set(r, status, "application/problem+json", s, s ? strlen(s) : 0);
	return 0;
}

int mid_api_error(mid_api_req_t *r, const mid_error_t *err)
{
	const char *text = err && err->text[0] ? err->text : "error";
	switch (err ? err->code : MID_EINTERNAL) {
	case MID_ENOTFOUND:
		return mid_api_problem(r, 404, "not-found", "Not found", "%s", text);
	case MID_ECONFLICT:
		return mid_api_problem(r, 409, "conflict", "Conflict", "%s", text);
	case MID_EINVAL:
		return mid_api_problem(r, 400, "invalid-request", "Invalid request", "%s", text);
	case MID_ELIMIT:
		return mid_api_problem(r, 429, "rate-limited", "Too many requests", "%s", text);
	case MID_EAUTH:
		return mid_api_problem(r, 403, "forbidden", "Forbidden", "%s", text);
	case MID_ENOTSUP:
		return mid_api_problem(r, 501, "not-supported", "Not supported", "%s", text);
	case MID_EIO:
		if (err->retryable)
			return mid_api_problem(r, 503, "unavailable", "Service unavailable", "%s", text);
		/* fall through */
	default:
		mid_log(MID_LOG_ERR, "api: %s %s: %s", r->method, r->url, text);
		return mid_api_problem(r, 500, "internal", "Internal error", "%s", text);
	}
}

void mid_api_resp_header(mid_api_req_t *r, const char *name, const char *value)
{
	int h;
	for (h = 0; h < 2; h++)
		if (!r->resp_hdr[h][0][0]) {
			snprintf(r->resp_hdr[h][0], sizeof r->resp_hdr[h][0], "%s", name);
			snprintf(r->resp_hdr[h][1], sizeof r->resp_hdr[h][1], "%s", value);
			return;
		}
}

int mid_api_bytes(mid_api_req_t *r, int status, const char *type, const void *buf, size_t len)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return mid_api_problem(r, 500, "internal", "Internal error", "out of memory");
	if (len)
		memcpy(copy, buf, len);
	resp_set(r, status, type, copy, len);
	return 0;
}

json_t *mid_api_body(mid_api_req_t *r)
{
	mid_error_t err = { 0 };
	json_t *j = NULL;
	int rc = mid_api_parse_body(r->body, r->body_len, r->api->max_body, &j, &err);
	if (rc == MID_ELIMIT) {
		mid_api_problem(r, 413, "body-too-large", "Body too large", "%s", err.text);
		return NULL;
	}
	if (rc != MID_OK) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body", "%s", err.text);
		return NULL;
	}
	return j;
}

const char *mid_api_header(mid_api_req_t *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *mid_api_query(mid_api_req_t *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

mid_replay_t *mid_api_replay(mid_api_t *api)
{
	return api->replay;
}

/* ---- metrics ---------------------------------------------------------------------- */

void mid_api_count_enroll(mid_api_t *api, int ok)
{
	__atomic_fetch_add(ok ? &api->enroll_ok : &api->enroll_fail, 1, __ATOMIC_RELAXED);
}

void mid_api_count_verify(mid_api_t *api, const char *reason)
{
	int i;
	pthread_mutex_lock(&api->mu);
	for (i = 0; i < api->nreasons; i++)
		if (strcmp(api->reason_name[i], reason) == 0)
			break;
	if (i == api->nreasons && i < API_MAX_REASONS) {
		snprintf(api->reason_name[i], sizeof api->reason_name[i], "%s", reason);
		api->nreasons++;
	}
	if (i < API_MAX_REASONS)
		api->reason_count[i]++;
	pthread_mutex_unlock(&api->mu);
}

static int buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return 0;
		}
		size_t ncap = *cap * 2 + (size_t)n;
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
}

static int h_metrics(mid_api_req_t *r)
{
	mid_api_t *api = r->api;
	size_t cap = 8192, len = 0, i;
	char *b = malloc(cap);
	int s, rc = 0;
	mid_error_t err = { 0 };

	if (!b)
		return mid_api_problem(r, 500, "internal", "Internal error", "out of memory");
	b[0] = 0;
	rc |= buf_printf(&b, &len, &cap, "# HELP mid_http_requests_total HTTP requests by route and status.\n"
	                 "# TYPE mid_http_requests_total counter\n");
	for (i = 0; i <= API_NROUTES; i++) {
		for (s = 100; s < API_MAX_STATUS; s++) {
			uint64_t v = __atomic_load_n(&api->req_count[i][s], __ATOMIC_RELAXED);
			if (!v)
				continue;
			rc |= buf_printf(&b, &len, &cap,
			                 "mid_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
			                 i < API_NROUTES ? api_routes[i].method : "other",
			                 i < API_NROUTES ? api_routes[i].path : "unmatched", s,
			                 (unsigned long long)v);
		}
	}
	rc |= buf_printf(&b, &len, &cap,
	                 "# HELP mid_enrollments_total Phone enrollments by result.\n"
	                 "# TYPE mid_enrollments_total counter\n"
	                 "mid_enrollments_total{result=\"ok\"} %llu\n"
	                 "mid_enrollments_total{result=\"failed\"} %llu\n",
	                 (unsigned long long)__atomic_load_n(&api->enroll_ok, __ATOMIC_RELAXED),
	                 (unsigned long long)__atomic_load_n(&api->enroll_fail, __ATOMIC_RELAXED));
	rc |= buf_printf(&b, &len, &cap,
	                 "# HELP mid_verifications_total Online verifications by result and denial reason.\n"
	                 "# TYPE mid_verifications_total counter\n");
	pthread_mutex_lock(&api->mu);
	for (s = 0; s < api->nreasons; s++) {
		if (strcmp(api->reason_name[s], "allow") == 0)
			rc |= buf_printf(&b, &len, &cap, "mid_verifications_total{result=\"allow\"} %llu\n",
			                 (unsigned long long)api->reason_count[s]);
		else
			rc |= buf_printf(&b, &len, &cap,
			                 "mid_verifications_total{result=\"deny\",reason=\"%s\"} %llu\n",
			                 api->reason_name[s], (unsigned long long)api->reason_count[s]);
	}
	pthread_mutex_unlock(&api->mu);
	/* gauges from the store */
	rc |= buf_printf(&b, &len, &cap, "# HELP mid_people People in the store by status.\n"
	                 "# TYPE mid_people gauge\n");
	for (s = MID_PERSON_ACTIVE; s <= MID_PERSON_DELETED; s++) {
		int64_t n = 0;
		if (mid_store_person_count(r->inst.store, s, &n, &err) != MID_OK)
			goto store_fail;
		rc |= buf_printf(&b, &len, &cap, "mid_people{status=\"%s\"} %lld\n",
		                 mid_person_status_name(s), (long long)n);
	}
	{
		int64_t counts[MID_CRED_EXPIRED + 1] = { 0 }, off = 0;
		for (;;) {
			mid_credential_t *cl = NULL;
			size_t n = 0, k;
			if (mid_store_credential_list(r->inst.store, NULL, off, 1000, &cl, &n, &err) != MID_OK)
				goto store_fail;
			for (k = 0; k < n; k++)
				if (cl[k].status >= MID_CRED_PENDING && cl[k].status <= MID_CRED_EXPIRED)
					counts[cl[k].status]++;
			mid_credential_list_free(cl, n);
			if (n < 1000)
				break;
			off += (int64_t)n;
		}
		rc |= buf_printf(&b, &len, &cap, "# HELP mid_credentials Mobile IDs in the store by status.\n"
		                 "# TYPE mid_credentials gauge\n");
		for (s = MID_CRED_PENDING; s <= MID_CRED_EXPIRED; s++)
			rc |= buf_printf(&b, &len, &cap, "mid_credentials{status=\"%s\"} %lld\n",
			                 mid_cred_status_name(s), (long long)counts[s]);
	}
	if (rc) {
		free(b);
		return mid_api_problem(r, 500, "internal", "Internal error", "out of memory");
	}
	resp_set(r, 200, "text/plain; version=0.0.4", b, len);
	return 0;
store_fail:
	free(b);
	return mid_api_error(r, &err);
}

static int h_healthz(mid_api_req_t *r)
{
	mid_error_t err = { 0 };
	char *v = NULL;
	int rc = mid_store_meta_get(r->inst.store, "healthz", &v, &err);
	free(v);
	if (rc != MID_OK && rc != MID_ENOTFOUND)
		return mid_api_problem(r, 503, "unavailable", "Store unreachable", "%s", err.text);
	return mid_api_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static int h_version(mid_api_req_t *r)
{
	return mid_api_json(r, 200, json_pack("{s:s, s:s}", "name", PACKAGE_NAME, "version",
	                                      PACKAGE_VERSION));
}

/* ---- per-thread store handles ----------------------------------------------------- */

static int api_thread_ctx(mid_api_t *api, api_tls_ctx_t **out, mid_error_t *err)
{
	api_tls_ctx_t *c = pthread_getspecific(api->key);
	const mid_config_t *cfg = api->in->cfg;
	int rc;

	if (c) {
		*out = c;
		return MID_OK;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if ((rc = mid_store_open(cfg->store_path, 0, &c->st, err)) != MID_OK) {
		free(c);
		return rc;
	}
	/* The secret store is needed for signing (issuer key); without a
	 * master key the signing routes answer 503. */
	if (cfg->master_key_file && access(cfg->master_key_file, R_OK) == 0) {
		mid_error_t e2 = { 0 };
		if (mid_secrets_open(cfg->master_key_file, c->st, &c->sec, &e2) != MID_OK) {
			mid_log(MID_LOG_WARNING, "api: %s", e2.text);
			c->sec = NULL;
		}
	}
	pthread_mutex_lock(&api->mu);
	c->next = api->ctxs;
	api->ctxs = c;
	pthread_mutex_unlock(&api->mu);
	pthread_setspecific(api->key, c);
	*out = c;
	return MID_OK;
}

/* ---- routing ------------------------------------------------------------------------ */

/* Match `url` against template `tpl`; captures go to params. */
static int route_match(const char *tpl, const char *url, char params[][MID_ID_LEN * 2])
{
	int np = 0;
	while (*tpl && *url) {
		if (*tpl == '{') {
			const char *te = strchr(tpl, '}');
			size_t n = strcspn(url, "/");
			if (!te || n == 0 || n >= MID_ID_LEN * 2 || np >= MID_API_MAX_PARAMS)
				return 0;
			memcpy(params[np], url, n);
			params[np][n] = 0;
			np++;
			tpl = te + 1;
			url += n;
			continue;
		}
		if (*tpl != *url)
			return 0;
		tpl++;
		url++;
	}
	return *tpl == 0 && *url == 0;
}

static const char *client_addr(struct MHD_Connection *conn, char *buf, size_t sz)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, sz, "unknown");
	if (!ci || !ci->client_addr)
		return buf;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr,
		          buf, (socklen_t)sz);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		          &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, buf,
		          (socklen_t)sz);
	return buf;
}

static void dispatch(mid_api_req_t *r, size_t *route_idx)
{
	size_t i;
	int path_seen = 0;
	char allow[64] = "";
	api_tls_ctx_t *ctx = NULL;
	mid_error_t err = { 0 };

	*route_idx = API_NROUTES;
	for (i = 0; i < API_NROUTES; i++) {
		if (!route_match(api_routes[i].path, r->url, r->params))
			continue;
		path_seen = 1;
		if (strlen(allow) + strlen(api_routes[i].method) + 3 < sizeof allow) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, api_routes[i].method);
		}
		if (strcmp(api_routes[i].method, r->method) == 0)
			break;
	}
	if (i == API_NROUTES) {
		if (path_seen) {
			mid_api_problem(r, 405, "method-not-allowed", "Method not allowed",
			                "%s is not served on %s (allowed: %s)", r->method, r->url, allow);
			mid_api_resp_header(r, "Allow", allow);
		} else
			mid_api_problem(r, 404, "not-found", "Not found", "no route for %s", r->url);
		return;
	}
	*route_idx = i;
	/* the matching route's own params (earlier candidates may have written others) */
	route_match(api_routes[i].path, r->url, r->params);

	if (api_routes[i].fn != h_version) {
		if (api_thread_ctx(r->api, &ctx, &err) != MID_OK) {
			mid_log(MID_LOG_ERR, "api: cannot open the store: %s", err.text);
			mid_api_problem(r, 503, "unavailable", "Store unreachable", "%s", err.text);
			return;
		}
		r->inst = *r->api->in;
		r->inst.store = ctx->st;
		r->inst.secrets = ctx->sec;
	}
	switch (api_routes[i].auth) {
	case AUTH_ADMIN:
		if (mid_api_admin_auth(r))
			return;
		break;
	case AUTH_READER:
		if (mid_api_reader_auth(r))
			return;
		break;
	case AUTH_DEVICE:
		if (mid_api_phone_auth(r))
			return;
		break;
	default:
		snprintf(r->inst.actor, sizeof r->inst.actor, "api:anonymous");
		break;
	}
	api_routes[i].fn(r);
	if (!r->status)
		mid_api_problem(r, 500, "internal", "Internal error", "the handler set no response");
}

static enum MHD_Result send_req(mid_api_req_t *r, size_t route_idx)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!r->resp_body)
		resp_set(r, r->status ? r->status : 500, "application/json", strdup("{}"), 2);
	resp = MHD_create_response_from_buffer(r->resp_len, r->resp_body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->resp_body);
		r->resp_body = NULL;
		return MHD_NO;
	}
	r->resp_body = NULL; /* MHD frees it now */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	for (int h = 0; h < 2; h++)
		if (r->resp_hdr[h][0][0])
			MHD_add_response_header(resp, r->resp_hdr[h][0], r->resp_hdr[h][1]);
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	if (r->status >= 100 && r->status < API_MAX_STATUS)
		__atomic_fetch_add(&r->api->req_count[route_idx][r->status], 1, __ATOMIC_RELAXED);
	mid_log(MID_LOG_DEBUG, "api: %s %s %s -> %d", r->client, r->method, r->url, r->status);
	return ret;
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	mid_api_t *api = cls;
	api_conn_t *c = *con_cls;
	mid_api_req_t r;
	char addr[64], pq[2048];
	size_t route_idx = API_NROUTES;
	enum MHD_Result ret;

	(void)version;
	if (!c) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		c = calloc(1, sizeof *c);
		if (!c)
			return MHD_NO;
		if (cl && strtoull(cl, NULL, 10) > api->max_body)
			c->too_big = 1;
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		if (!c->too_big && c->len + n > api->max_body)
			c->too_big = 1;
		if (!c->too_big) {
			if (c->len + n + 1 > c->cap) {
				size_t ncap = c->cap ? c->cap : 1024;
				char *nb;
				while (ncap < c->len + n + 1)
					ncap *= 2;
				if (!(nb = realloc(c->buf, ncap)))
					return MHD_NO;
				c->buf = nb;
				c->cap = ncap;
			}
			memcpy(c->buf + c->len, upload_data, n);
			c->len += n;
			c->buf[c->len] = 0;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	memset(&r, 0, sizeof r);
	r.api = api;
	r.conn = conn;
	r.method = method;
	r.url = url;
	r.client = client_addr(conn, addr, sizeof addr);
	r.body = c->buf;
	r.body_len = c->len;
	/* the signing string covers the path only (docs/api.md) */
	snprintf(pq, sizeof pq, "%s", url);
	r.path_query = pq;
	if (c->too_big)
		mid_api_problem(&r, 413, "body-too-large", "Body too large",
		                "the request body exceeds the limit of %zu bytes", api->max_body);
	else
		dispatch(&r, &route_idx);
	ret = send_req(&r, route_idx);
	free(r.resp_body);
	sodium_memzero(&r.inst, sizeof r.inst);
	return ret;
}

static void api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	api_conn_t *c = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (c) {
		free(c->buf);
		free(c);
		*con_cls = NULL;
	}
}

static void api_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;
	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	mid_log(MID_LOG_WARNING, "api: libmicrohttpd: %s", line);
}

/* ---- start / stop ---------------------------------------------------------------------- */

static int read_file(const char *path, char **out, size_t *len, mid_error_t *err)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n;
	if (!f)
		return mid_error_set(err, MID_EIO, 0, "%s: %s", path, strerror(errno));
	b = malloc(API_TLS_FILE_MAX + 1);
	if (!b) {
		fclose(f);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	n = fread(b, 1, API_TLS_FILE_MAX + 1, f);
	fclose(f);
	if (n > API_TLS_FILE_MAX) {
		sodium_memzero(b, API_TLS_FILE_MAX + 1);
		free(b);
		return mid_error_set(err, MID_ELIMIT, 0, "%s: larger than %d bytes", path, API_TLS_FILE_MAX);
	}
	b[n] = 0;
	*out = b;
	*len = n;
	return MID_OK;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

/* Split "host:port" / "[v6]:port" and resolve it (numeric or a name). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                        mid_error_t *err)
{
	char host[256], port[16];
	const char *colon;
	struct addrinfo hints, *res = NULL;
	int g;

	if (!listen || !*listen)
		return mid_error_set(err, MID_EINVAL, 0, "http.listen is empty (use \"127.0.0.1:8080\")");
	if (listen[0] == '[') {
		const char *e = strchr(listen, ']');
		if (!e || e[1] != ':' || (size_t)(e - listen - 1) >= sizeof host)
			goto bad;
		memcpy(host, listen + 1, (size_t)(e - listen - 1));
		host[e - listen - 1] = 0;
		colon = e + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || (size_t)(colon - listen) >= sizeof host)
			goto bad;
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = 0;
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		goto bad;
	snprintf(port, sizeof port, "%s", colon + 1);
	if (strcmp(host, "*") == 0)
		host[0] = 0; /* every address */
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (g != 0 || !res)
		return mid_error_set(err, MID_EINVAL, 0, "http.listen \"%s\": cannot resolve \"%s\": %s",
		                     listen, host, gai_strerror(g));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return MID_OK;
bad:
	return mid_error_set(err, MID_EINVAL, 0,
	                     "http.listen \"%s\" is not HOST:PORT (e.g. \"127.0.0.1:8080\" or \"[::1]:8443\")",
	                     listen);
}

static void api_free(mid_api_t *api)
{
	api_tls_ctx_t *c, *n;
	if (!api)
		return;
	for (c = api->ctxs; c; c = n) {
		n = c->next;
		mid_secrets_close(c->sec);
		mid_store_close(c->st);
		free(c);
	}
	if (api->key_made)
		pthread_key_delete(api->key);
	pthread_mutex_destroy(&api->mu);
	mid_replay_free(api->replay);
	if (api->tls_key) {
		sodium_memzero(api->tls_key, api->tls_key_len);
		free(api->tls_key);
	}
	free(api->tls_cert);
	free(api->req_count);
	free(api);
}

int mid_api_start(mid_instance_t *in, mid_api_t **out, mid_error_t *err)
{
	const mid_config_t *cfg = in->cfg;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
	mid_api_t *api;
	const union MHD_DaemonInfo *di;
	int rc, tls;

	*out = NULL;
	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium failed to initialise");
	if ((rc = parse_listen(cfg->http.listen, &ss, &sslen, err)) != MID_OK)
		return rc;
	tls = cfg->http.tls_cert && cfg->http.tls_key;
	if ((cfg->http.tls_cert != NULL) != (cfg->http.tls_key != NULL))
		return mid_error_set(err, MID_EINVAL, 0,
		                     "%s: http.tls_cert and http.tls_key go together: set both or neither",
		                     cfg->path);
	if (!tls && !is_loopback((const struct sockaddr *)&ss))
		return mid_error_set(err, MID_EINVAL, 0,
		                     "%s: http.listen \"%s\" is not a loopback address and no TLS is "
		                     "configured: plain HTTP is only served on 127.0.0.0/8 or ::1; set "
		                     "http.tls_cert and http.tls_key, or listen on 127.0.0.1",
		                     cfg->path, cfg->http.listen);
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return mid_error_set(err, MID_ENOTSUP, 0, "this libmicrohttpd was built without TLS support");

	api = calloc(1, sizeof *api);
	if (!api)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	pthread_mutex_init(&api->mu, NULL);
	api->in = in;
	api->max_body = cfg->http.max_body_bytes ? cfg->http.max_body_bytes : 65536;
	api->req_count = calloc(API_NROUTES + 1, sizeof *api->req_count);
	if (!api->req_count) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto fail;
	}
	if (pthread_key_create(&api->key, NULL) != 0) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "pthread_key_create failed");
		goto fail;
	}
	api->key_made = 1;
	if (tls) {
		size_t n;
		if ((rc = read_file(cfg->http.tls_cert, &api->tls_cert, &n, err)) != MID_OK)
			goto fail;
		if ((rc = read_file(cfg->http.tls_key, &api->tls_key, &api->tls_key_len, err)) != MID_OK)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The replay cache starts empty, so signed requests stamped before this
	 * server's start are refused (docs/api.md "Replay defence"). Stamps are
	 * whole seconds: start on the next whole second and listen only from
	 * then, so a request signed with a correct clock is never refused and
	 * every request captured before the start is. */
	{
		int64_t start = (mid_api_now_ms() / 1000 + 1) * 1000, left;
		if ((rc = mid_replay_new(start, API_REPLAY_PER_SCOPE, API_REPLAY_TOTAL, &api->replay,
		                         err)) != MID_OK)
			goto fail;
		while ((left = start - mid_api_now_ms()) > 0) {
			struct timespec ts = { 0, (long)left * 1000000L };
			nanosleep(&ts, NULL);
		}
	}

	{
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)api_mhd_log, api },
			{ MHD_OPTION_SOCK_ADDR, 0, &ss },
			{ MHD_OPTION_THREAD_POOL_SIZE, API_THREADS, NULL },
			{ MHD_OPTION_CONNECTION_LIMIT, API_CONN_LIMIT, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT,
			  cfg->http.timeout_seconds > 0 ? cfg->http.timeout_seconds : 15, NULL },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)api_completed, api },
			{ tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, api->tls_cert },
			{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, api->tls_key },
			{ MHD_OPTION_END, 0, NULL },
		};
		api->d = MHD_start_daemon(flags, 0, NULL, NULL, api_access, api, MHD_OPTION_ARRAY, opts,
		                          MHD_OPTION_END);
	}
	if (!api->d) {
		rc = mid_error_set(err, MID_EIO, 0, "cannot listen on %s%s (address in use, or a bad "
		                   "TLS certificate or key; see the log)", cfg->http.listen,
		                   tls ? " with TLS" : "");
		goto fail;
	}
	di = MHD_get_daemon_info(api->d, MHD_DAEMON_INFO_BIND_PORT);
	api->port = di ? di->port : 0;
	mid_log(MID_LOG_NOTICE, "api: listening on %s (port %u, %s)", cfg->http.listen,
	        (unsigned)api->port, tls ? "TLS" : "plain HTTP, loopback only");
	*out = api;
	return MID_OK;
fail:
	api_free(api);
	return rc;
}

void mid_api_stop(mid_api_t *api)
{
	if (!api)
		return;
	if (api->d)
		MHD_stop_daemon(api->d);
	api_free(api);
}

uint16_t mid_api_port(const mid_api_t *api)
{
	return api ? api->port : 0;
}

const mid_api_route_info_t *mid_api_routes(size_t *n)
{
	static mid_api_route_info_t info[API_NROUTES];
	static int made;
	size_t i;
	if (!made) {
		for (i = 0; i < API_NROUTES; i++) {
			info[i].method = api_routes[i].method;
			info[i].path = api_routes[i].path;
		}
		made = 1;
	}
	*n = API_NROUTES;
	return info;
}
