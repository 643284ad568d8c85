/* connectors/rest/rest_test.c -- unit tests of the REST connector with a
 * scripted transport in place of libcurl's: Retry-After parsing, backoff,
 * auth headers from secrets, paging with repeat/skip detection, cursors,
 * the changes feed, writes with 409 correlation. Includes rest.c to reach
 * its statics. */
#include "connectors/rest/rest.c"

#include "tests/tap.h"
#include "tests/mock_host.h"

/* ---- a scripted server ------------------------------------------------------ */

typedef struct tx_step {
	long status;
	const char *body;
	const char *retry_after;
	int curl_rc;
} tx_step_t;

typedef struct tx {
	const tx_step_t *steps;
	size_t n, at;
	char urls[32][512];
	char auth[32][256];
	char methods[32][8];
	char bodies[32][1024];
	mock_host_t *mh;
	char ifmatch[32][64];
} tx_t;

static int tx_xfer(rs_inst_t *in, const rs_http_req_t *rq, rs_resp_t *resp)
{
	tx_t *t = in->test_ctx;
	size_t i = t->at < 32 ? t->at : 31;
	snprintf(t->urls[i], sizeof t->urls[i], "%s", rq->url);
	snprintf(t->methods[i], sizeof t->methods[i], "%s", rq->method);
	snprintf(t->bodies[i], sizeof t->bodies[i], "%s", rq->body ? rq->body : "");
	t->auth[i][0] = '\0';
	t->ifmatch[i][0] = '\0';
	for (struct curl_slist *h = rq->headers; h; h = h->next)
		if (!strncasecmp(h->data, "If-Match:", 9))
			snprintf(t->ifmatch[i], sizeof t->ifmatch[i], "%s", h->data + 10);
	for (struct curl_slist *h = rq->headers; h; h = h->next)
		if (!strncasecmp(h->data, "Authorization:", 14) || !strncasecmp(h->data, "X-API-Key:", 10))
			snprintf(t->auth[i], sizeof t->auth[i], "%s", h->data);
	if (t->at >= t->n) {
		resp->curl_rc = CURLE_COULDNT_CONNECT;
		snprintf(resp->curl_err, sizeof resp->curl_err, "script ended");
		t->at++;
		return 0;
	}
	const tx_step_t *s = &t->steps[t->at++];
	resp->etag[0] = '\0';
	if (s->body && strstr(s->body, "\"etag-header\""))
		snprintf(resp->etag, sizeof resp->etag, "W/\"h%zu\"", t->at);
	resp->curl_rc = s->curl_rc;
	if (s->curl_rc) {
		snprintf(resp->curl_err, sizeof resp->curl_err, "scripted error");
		return 0;
	}
	resp->status = s->status;
	if (s->retry_after)
		snprintf(resp->retry_after, sizeof resp->retry_after, "%s", s->retry_after);
	if (s->body)
		rj_buf_adds(&resp->body, s->body);
	return 0;
}

static void tx_sleep(rs_inst_t *in, int64_t ms)
{
	tx_t *t = in->test_ctx;
	mock_host_advance(t->mh, ms);
}

static rs_inst_t *open_inst(mock_host_t *mh, tx_t *t, const char *settings)
{
	void *inst = NULL;
	mid_error_t err = { 0 };
	if (rs_open(&mh->host, settings, &inst, &err) != MID_OK) {
		printf("# open failed: %s\n", err.text);
		return NULL;
	}
	rs_inst_t *in = inst;
	in->xfer = tx_xfer;
	in->sleep_ms = tx_sleep;
	in->test_ctx = t;
	t->mh = mh;
	return in;
}

#define SCIM_SETTINGS(extra) \
	"{\"base_url\": \"http://pacs.test:8080/scim\", \"auth\": {\"type\": \"bearer\"}," \
	" \"token\": {\"secret\": \"tok\"}, \"retry\": {\"base_ms\": 100, \"max_ms\": 5000}," \
	" \"list\": {\"path\": \"/Users\", \"query\": {\"startIndex\": \"{{$start}}\", \"count\": \"{{$size}}\"}," \
	" \"records\": \"Resources\", \"paging\": {\"style\": \"index\", \"size\": 2, \"total\": \"totalResults\"}}" \
	extra "}"

/* ---- a SCIM list server that answers by the URL (startIndex, count), for
 * the prefetch pipeline, which sends requests ahead of the engine ---------- */

typedef struct ux {
	int total;                 /* users u1..uN */
	int cap, cap2, cap2_from;  /* pages by cap (0: as asked), by cap2 from startIndex cap2_from */
	int short_at;              /* this startIndex gets one record fewer (0: none) */
	int fail_at, fail_n;       /* this startIndex fails fail_n times... */
	long fail_status;          /* ...with this status (0: a connection reset) */
	int rich;                  /* records with nested values, and two bad ones */
	int nreq, nfail;
	char urls[64][128];
	mock_host_t *mh;
} ux_t;

static int ux_xfer(rs_inst_t *in, const rs_http_req_t *rq, rs_resp_t *resp)
{
	ux_t *u = in->test_ctx;
	const char *a = strstr(rq->url, "startIndex="), *c = strstr(rq->url, "count=");
	int st = a ? atoi(a + 11) : 1, cnt = c ? atoi(c + 6) : 100, k;
	snprintf(u->urls[u->nreq < 64 ? u->nreq : 63], sizeof u->urls[0], "%s", rq->url);
	u->nreq++;
	if (st == u->fail_at && u->nfail < u->fail_n) {
		u->nfail++;
		if (!u->fail_status) {
			resp->curl_rc = CURLE_RECV_ERROR;
			snprintf(resp->curl_err, sizeof resp->curl_err, "scripted reset");
			return 0;
		}
		resp->status = u->fail_status;
		snprintf(resp->retry_after, sizeof resp->retry_after, "1");
		rj_buf_adds(&resp->body, "{\"detail\": \"busy\"}");
		return 0;
	}
	k = cnt;
	if (u->cap && k > u->cap)
		k = u->cap;
	if (u->cap2_from && st >= u->cap2_from)
		k = u->cap2;
	if (st == u->short_at)
		k--;
	if (st + k - 1 > u->total)
		k = st > u->total ? 0 : u->total - st + 1;
	char b[128];
	resp->status = 200;
	snprintf(b, sizeof b, "{\"totalResults\": %d, \"itemsPerPage\": %d, \"Resources\": [", u->total, k);
	rj_buf_adds(&resp->body, b);
	for (int i = 0; i < k; i++) {
		char r[512];
		int n = st + i;
		if (!u->rich)
			snprintf(r, sizeof r, "{\"id\": \"u%d\"}", n);
		else if (n == 4)
			snprintf(r, sizeof r, "\"not an object\"");
		else if (n == 6)
			snprintf(r, sizeof r, "{\"userName\": \"no id %d\"}", n);
		else
			snprintf(r, sizeof r, "{\"schemas\": [\"s\"], \"id\": \"u%d\", \"name\": "
			         "{\"givenName\": \"G\\u00e9%d\", \"n\": null}, \"active\": %s, "
			         "\"emails\": [{\"value\": \"w%d@x\", \"type\": \"work\"}, "
			         "{\"value\": \"h%d@x\", \"type\": \"home\", \"primary\": true}], "
			         "\"groups\": [\"a\", \"b\"], \"meta\": {\"version\": \"W/\\\"%d\\\"\", "
			         "\"location\": \"/u%d\"}}", n, n, n % 2 ? "true" : "false", n, n, n, n);
		rj_buf_adds(&resp->body, i ? ", " : "");
		rj_buf_adds(&resp->body, r);
	}
	rj_buf_adds(&resp->body, "]}");
	return 0;
}

static void ux_sleep(rs_inst_t *in, int64_t ms)
{
	ux_t *u = in->test_ctx;
	mock_host_advance(u->mh, ms);
}

static rs_inst_t *open_ux(mock_host_t *mh, ux_t *u, const char *settings)
{
	tx_t t = { 0 };
	rs_inst_t *in = open_inst(mh, &t, settings);
	if (in) {
		in->xfer = ux_xfer;
		in->sleep_ms = ux_sleep;
		in->test_ctx = u;
	}
	u->mh = mh;
	return in;
}

/* The records came as u1..uN in order, once each. */
static int ux_all(const mock_sink_t *ms, int n)
{
	char want[32];
	if ((int)ms->nrecords != n)
		return 0;
	for (int i = 0; i < n; i++) {
		snprintf(want, sizeof want, "u%d", i + 1);
		if (strcmp(ms->records[i].external_id, want))
			return 0;
	}
	return 1;
}

/* How many requests were for startIndex st. */
static int ux_sent(const ux_t *u, int st)
{
	char k[32];
	int n = 0;
	snprintf(k, sizeof k, "startIndex=%d&", st);
	for (int i = 0; i < u->nreq && i < 64; i++)
		n += strstr(u->urls[i], k) != NULL;
	return n;
}

#define UX_SETTINGS(size, extra) \
	"{\"base_url\": \"http://pacs.test:8080/scim\", \"auth\": {\"type\": \"bearer\"}," \
	" \"token\": {\"secret\": \"tok\"}, \"retry\": {\"base_ms\": 100, \"max_ms\": 5000}," \
	" \"list\": {\"path\": \"/Users\", \"query\": {\"startIndex\": \"{{$start}}\", \"count\": \"{{$size}}\"}," \
	" \"records\": \"Resources\", \"paging\": {\"style\": \"index\", \"size\": " #size ", \"total\": \"totalResults\"" \
	extra "}}}"

static int pull(rs_inst_t *in, int mode, const char *cursor, mock_sink_t *ms,
                mid_pull_result_t *res, mid_error_t *err)
{
	mid_pull_req_t req = { mode, cursor, 0 };
	memset(err, 0, sizeof *err);
	return rs_pull(in, &req, &ms->sink, res, err);
}

int main(void)
{
	mock_host_t mh;
	mock_sink_t ms;
	mid_pull_result_t res;
	mid_error_t err;
	rs_inst_t *in;
	int rc;

	mock_host_init(&mh);
	mock_host_set_secret(&mh, "tok", "s3cret-token");
	mock_host_set_secret(&mh, "pw", "pa:ss");
	mock_host_set_secret(&mh, "key", "K3Y");

	/* ---- Retry-After ---- */
	is_int(rs_retry_after_ms("5", 0), 5000, "Retry-After delta seconds");
	is_int(rs_retry_after_ms(" 0 ", 0), 0, "Retry-After 0 with spaces");
	is_int(rs_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470000LL), 10000,
	       "Retry-After HTTP date 10 s ahead");
	is_int(rs_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490000LL), 0,
	       "Retry-After date in the past: no wait");
	is_int(rs_retry_after_ms("soon", 0), -1, "Retry-After garbage refused");
	is_int(rs_retry_after_ms("12abc", 0), -1, "Retry-After trailing junk refused");
	is_int(rs_retry_after_ms(NULL, 0), -1, "no Retry-After");

	/* ---- open: plain secrets are refused ---- */
	{
		void *x = NULL;
		mid_error_t e = { 0 };
		rc = rs_open(&mh.host, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": \"bearer\"},"
		             " \"token\": \"plain\", \"list\": {\"path\": \"/u\"}}", &x, &e);
		ok(rc == MID_EINVAL && strstr(e.text, "never a plain value"), "a plain token is refused");
		rc = rs_open(&mh.host, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": \"basic\"},"
		             " \"username\": \"u\", \"list\": {\"path\": \"/u\"}}", &x, &e);
		ok(rc == MID_EINVAL && strstr(e.text, "password"), "basic without password is refused");
	}

	/* ---- auth headers ---- */
	{
		tx_t t = { 0 };
		char *line = NULL;
		in = open_inst(&mh, &t, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": \"basic\"},"
		               " \"username\": \"ann\", \"password\": {\"secret\": \"pw\"}, \"list\": {\"path\": \"/u\"}}");
		ok(in && rs_auth_line(in, &line, &err) == MID_OK, "basic header built");
		is_str(line, "Authorization: Basic YW5uOnBhOnNz", "basic = base64(ann:pa:ss)");
		free(line);
		is_int(mh.secrets_out, 0, "secrets released after use");
		rs_close(in);
		in = open_inst(&mh, &t, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": \"api_key\","
		               " \"scheme\": \"GGL-API-KEY\"}, \"api_key\": {\"secret\": \"key\"}, \"list\": {\"path\": \"/u\"}}");
		line = NULL;
		ok(in && rs_auth_line(in, &line, &err) == MID_OK, "api key header built");
		is_str(line, "Authorization: GGL-API-KEY K3Y", "Gallagher-style API key scheme");
		free(line);
		rs_close(in);
		in = open_inst(&mh, &t, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": \"api_key\","
		               " \"header\": \"X-API-Key\"}, \"api_key\": {\"secret\": \"key\"}, \"list\": {\"path\": \"/u\"}}");
		line = NULL;
		ok(in && rs_auth_line(in, &line, &err) == MID_OK, "header-only API key built");
		is_str(line, "X-API-Key: K3Y", "key alone in its own header");
		free(line);
		rs_close(in);
		in = open_inst(&mh, &t, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": \"bearer\"},"
		               " \"token\": {\"secret\": \"missing\"}, \"list\": {\"path\": \"/u\"}}");
		line = NULL;
		ok(in && rs_auth_line(in, &line, &err) != MID_OK && !line, "a missing secret is an error");
		ok(!strstr(err.text, "s3cret"), "no secret in the error text");
		rs_close(in);
	}

	/* ---- oauth2: token fetched once, cached, refreshed before expiry ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"access_token\": \"AT1\", \"expires_in\": 300}", NULL, 0 },
			{ 200, "{\"access_token\": \"AT2\", \"expires_in\": 300}", NULL, 0 },
		};
		tx_t t = { steps, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		char *l1 = NULL, *l2 = NULL, *l3 = NULL;
		mock_host_set_secret(&mh, "cs", "csecret");
		in = open_inst(&mh, &t, "{\"base_url\": \"https://a.test\", \"auth\": {\"type\": "
		               "\"oauth2_client_credentials\", \"token_url\": \"https://a.test/token\"},"
		               " \"client_id\": \"gw\", \"client_secret\": {\"secret\": \"cs\"}, \"list\": {\"path\": \"/u\"}}");
		ok(in && rs_auth_line(in, &l1, &err) == MID_OK, "oauth2 token fetched");
		is_str(l1, "Authorization: Bearer AT1", "bearer from the token endpoint");
		is_str(t.auth[0], "Authorization: Basic Z3c6Y3NlY3JldA==", "client credentials as basic auth");
		ok(strstr(t.bodies[0], "grant_type=client_credentials") != NULL, "client_credentials grant");
		mock_host_advance(&mh, 100000);
		rs_auth_line(in, &l2, &err);
		is_str(l2, "Authorization: Bearer AT1", "cached while valid");
		mock_host_advance(&mh, 150000);   /* 250 s: within 60 s of expiry */
		rs_auth_line(in, &l3, &err);
		is_str(l3, "Authorization: Bearer AT2", "refreshed before expiry");
		is_int(t.at, 2, "two token requests in all");
		free(l1);
		free(l2);
		free(l3);
		rs_close(in);
	}

	/* ---- paging: a clean index pull ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"totalResults\": 5, \"Resources\": [{\"id\": \"a\", \"name\": {\"givenName\": \"A\"}}, {\"id\": \"b\"}]}", NULL, 0 },
			{ 200, "{\"totalResults\": 5, \"Resources\": [{\"id\": \"c\"}, {\"id\": \"d\"}]}", NULL, 0 },
			{ 200, "{\"totalResults\": 5, \"Resources\": [{\"id\": \"e\", \"emails\": [{\"type\": \"work\", \"value\": \"e@x\"}]}]}", NULL, 0 },
		};
		tx_t t = { steps, 3, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		is_int(rc, MID_OK, "index pull ok");
		is_int(ms.nrecords, 5, "5 records");
		is_int(res.complete, 1, "complete");
		is_str(t.urls[1], "http://pacs.test:8080/scim/Users?startIndex=3&count=2", "second page from 3");
		is_str(t.auth[0], "Authorization: Bearer s3cret-token", "bearer header");
		is_str(t.auth[2], "Authorization: Bearer s3cret-token",
		       "the last page has the same header (the auth line is built once per pull)");
		is_str(mock_rec_get(&ms.records[0], "name.givenName"), "A", "flattened name.givenName");
		is_str(mock_rec_get(&ms.records[4], "emails[work].value"), "e@x", "typed alias emails[work].value");
		ok(mock_sink_last_cursor(&ms) && !strncmp(mock_sink_last_cursor(&ms), "rest1;full=", 11),
		   "a cursor after the full pull");
		mock_sink_fini(&ms);
		rs_close(in);
	}

	/* ---- paging: repeats and skips fail safely ---- */
	{
		static const tx_step_t rep[] = {
			{ 200, "{\"totalResults\": 4, \"Resources\": [{\"id\": \"a\"}, {\"id\": \"b\"}]}", NULL, 0 },
			{ 200, "{\"totalResults\": 4, \"Resources\": [{\"id\": \"b\"}, {\"id\": \"c\"}]}", NULL, 0 },
		};
		tx_t t = { rep, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && res.complete == 0, "a repeated id fails the pull, not complete");
		ok(strstr(err.text, "came twice") != NULL, "the error says so");
		mock_sink_fini(&ms);
		rs_close(in);

		static const tx_step_t tot[] = {
			{ 200, "{\"totalResults\": 4, \"Resources\": [{\"id\": \"a\"}, {\"id\": \"b\"}]}", NULL, 0 },
			{ 200, "{\"totalResults\": 3, \"Resources\": [{\"id\": \"d\"}]}", NULL, 0 },
		};
		tx_t t2 = { tot, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t2, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && res.complete == 0 && strstr(err.text, "total changed"),
		   "a total that changes mid-pull fails it");
		mock_sink_fini(&ms);
		rs_close(in);

		static const tx_step_t shrt[] = {
			{ 200, "{\"totalResults\": 6, \"Resources\": [{\"id\": \"a\"}, {\"id\": \"b\"}]}", NULL, 0 },
			{ 200, "{\"totalResults\": 6, \"Resources\": [{\"id\": \"c\"}]}", NULL, 0 },
		};
		tx_t t3 = { shrt, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t3, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && res.complete == 0 && strstr(err.text, "fewer than"),
		   "a short page before the total fails the pull");
		mock_sink_fini(&ms);
		rs_close(in);

		static const tx_step_t early[] = {
			{ 200, "{\"totalResults\": 3, \"Resources\": [{\"id\": \"a\"}, {\"id\": \"b\"}]}", NULL, 0 },
			{ 200, "{\"totalResults\": 3, \"Resources\": []}", NULL, 0 },
		};
		tx_t t4 = { early, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t4, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && res.complete == 0 && strstr(err.text, "announced 3"),
		   "an empty page before the total fails the pull");
		mock_sink_fini(&ms);
		rs_close(in);
	}

	/* ---- retries: 503 + Retry-After, reset, then success ---- */
	{
		static const tx_step_t steps[] = {
			{ 503, "{}", "2", 0 },
			{ 0, NULL, NULL, CURLE_RECV_ERROR },
			{ 429, "{}", "1", 0 },
			{ 200, "{\"totalResults\": 1, \"Resources\": [{\"id\": \"a\"}]}", NULL, 0 },
		};
		tx_t t = { steps, 4, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		is_int(rc, MID_OK, "pull survives 503, a reset and 429");
		ok(in->waited_ms >= 3000 && in->waited_ms <= 3300, "waited Retry-After 2 s + 1 s + a short backoff");
		mock_sink_fini(&ms);
		rs_close(in);

		static const tx_step_t bad[] = {
			{ 500, "{}", NULL, 0 }, { 500, "{}", NULL, 0 }, { 500, "{}", NULL, 0 },
			{ 500, "{}", NULL, 0 }, { 500, "{}", NULL, 0 }, { 500, "{}", NULL, 0 },
		};
		tx_t t2 = { bad, 6, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t2, SCIM_SETTINGS(""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && err.retryable == 1, "persistent 500s: a retryable error");
		is_int(t2.at, 6, "max_attempts (6) requests");
		mock_sink_fini(&ms);
		rs_close(in);
	}

	/* ---- delta pull: the since filter and an incomplete result ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"totalResults\": 1, \"Resources\": [{\"id\": \"a\"}]}", NULL, 0 },
		};
		tx_t t = { steps, 1, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		char cur[128];
		snprintf(cur, sizeof cur, "rest1;full=%" PRId64 ";since=%" PRId64, mh.now_ms - 1000,
		         mh.now_ms - 1000);
		mock_sink_init(&ms);
		in = open_inst(&mh, &t, SCIM_SETTINGS(", \"delta\": {\"query\": {\"filter\": \"meta.lastModified gt \\\"{{$since}}\\\"\"}}"));
		rc = pull(in, MID_PULL_SINCE, cur, &ms, &res, &err);
		is_int(rc, MID_OK, "delta pull ok");
		is_int(res.complete, 0, "a delta pull is never complete (no sweep)");
		{
			char iso[40], want[120];
			rs_iso8601(mh.now_ms - 1000 - 60000, 0, iso, sizeof iso);
			snprintf(want, sizeof want, "filter=meta.lastModified%%20gt%%20%%22%.13s%%3A%.2s%%3A%.3s%%22",
			         iso, iso + 14, iso + 17);
			ok(strstr(t.urls[0], want) != NULL, "since = previous start - 60 s, encoded");
		}
		mock_sink_fini(&ms);
		rs_close(in);
	}

	/* ---- changes feed: checkpoint per page, deletes ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"results\": [{\"operation\": \"update\", \"item\": {\"id\": \"7\"}, \"ch\": {\"firstName\": \"Z\"}},"
			       " {\"operation\": \"remove\", \"item\": {\"id\": \"8\"}}], \"next\": {\"href\": \"/api/changes?pos=2\"}}", NULL, 0 },
			{ 200, "{\"results\": [], \"next\": {\"href\": \"http://pacs.test:8080/api/changes?pos=3\"}}", NULL, 0 },
		};
		tx_t t = { steps, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		char cur[256];
		snprintf(cur, sizeof cur, "rest1;full=%" PRId64 ";link=http://pacs.test:8080/api/changes?pos=1",
		         mh.now_ms);
		mock_sink_init(&ms);
		in = open_inst(&mh, &t, SCIM_SETTINGS(", \"changes\": {\"path\": \"/api/changes\", \"next\": \"next.href\","
		               " \"op\": \"operation\", \"item_record\": \"ch\", \"item_id\": \"item.id\"}"));
		rc = pull(in, MID_PULL_SINCE, cur, &ms, &res, &err);
		is_int(rc, MID_OK, "changes feed pull ok");
		is_int(ms.nupserts, 1, "one update");
		is_int(ms.ndeletes, 1, "one delete");
		is_str(ms.records[0].external_id, "7", "id from item.id");
		is_int(ms.ncheckpoints, 2, "a checkpoint per page");
		ok(ms.ncheckpoints && strstr(ms.checkpoints[0], "pos=2"), "first checkpoint: the next link");
		ok(strstr(mock_sink_last_cursor(&ms), "pos=3") != NULL, "last cursor: the empty page's link");
		mock_sink_fini(&ms);
		rs_close(in);

		static const tx_step_t evil[] = {
			{ 200, "{\"results\": [], \"next\": {\"href\": \"http://evil.test/x\"}}", NULL, 0 },
		};
		tx_t t2 = { evil, 1, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		mock_sink_init(&ms);
		in = open_inst(&mh, &t2, SCIM_SETTINGS(", \"changes\": {\"path\": \"/api/changes\", \"next\": \"next.href\"}"));
		rc = pull(in, MID_PULL_SINCE, cur, &ms, &res, &err);
		ok(rc == MID_OK, "an empty page with a foreign link is delivered...");
		rc = pull(in, MID_PULL_SINCE, mock_sink_last_cursor(&ms), &ms, &res, &err);
		ok(rc != MID_OK && strstr(err.text, "refused"), "...but following it to another origin is refused");
		mock_sink_fini(&ms);
		rs_close(in);
	}

	/* ---- changes feed: ids from item hrefs (a remove has only the href) ---- */
	{
		static const struct { const char *in, *out; } hv[] = {
			{ "https://cc.test:8904/api/cardholders/1008", "1008" },
			{ "https://cc.test:8904/api/cardholders/1008/?x=1#f", "1008" },
			{ "/api/cardholders/a%2Fb", "a/b" },
			{ "1008", "1008" },
			{ "https://cc.test:8904", "" },
		};
		for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) {
			char b[128];
			snprintf(b, sizeof b, "%s", hv[i].in);
			rs_href_last(b);
			is_str(b, hv[i].out, hv[i].in);
		}
		static const tx_step_t steps[] = {
			{ 200, "{\"results\": [{\"type\": \"update\", \"item\": {\"href\": \"http://pacs.test:8080/api/cardholders/7\"},"
			       " \"cardholder\": {\"id\": \"7\", \"firstName\": \"Z\"}},"
			       " {\"type\": \"remove\", \"item\": {\"href\": \"http://pacs.test:8080/api/cardholders/8\"}},"
			       " {\"type\": \"remove\", \"item\": {}}], \"next\": {\"href\": \"/api/changes?pos=2\"}}", NULL, 0 },
			{ 200, "{\"results\": [], \"next\": {\"href\": \"/api/changes?pos=3\"}}", NULL, 0 },
		};
		tx_t t = { steps, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		char cur[256];
		snprintf(cur, sizeof cur, "rest1;full=%" PRId64 ";link=http://pacs.test:8080/api/changes?pos=1",
		         mh.now_ms);
		mock_sink_init(&ms);
		in = open_inst(&mh, &t, SCIM_SETTINGS(", \"changes\": {\"path\": \"/api/changes\", \"next\": \"next.href\","
		               " \"op\": \"type\", \"delete_ops\": [\"remove\"], \"item_record\": \"cardholder\","
		               " \"item_id\": \"item.href\", \"id_from_href\": true}"));
		rc = pull(in, MID_PULL_SINCE, cur, &ms, &res, &err);
		is_int(rc, MID_OK, "changes feed with id_from_href ok");
		is_int(ms.nupserts, 1, "id_from_href: one update");
		is_int(ms.ndeletes, 1, "id_from_href: one delete");
		is_str(ms.nrecords > 1 ? ms.records[1].external_id : "", "8", "the remove's id is its href's last segment");
		is_str(ms.records[0].external_id, "7", "the update's id too");
		is_int(ms.nrejects, 1, "a remove without an href is a reject");
		mock_sink_fini(&ms);
		rs_close(in);
	}

	/* ---- push: create, 409 -> lookup -> update, delete 404 ---- */
	{
		static const tx_step_t steps[] = {
			{ 409, "{\"detail\": \"exists\"}", NULL, 0 },
			{ 200, "{\"totalResults\": 1, \"Resources\": [{\"id\": \"u42\"}]}", NULL, 0 },
			{ 200, "{\"id\": \"u42\"}", NULL, 0 },
			{ 404, "{}", NULL, 0 },
		};
		tx_t t = { steps, 4, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		in = open_inst(&mh, &t, SCIM_SETTINGS(
		    ", \"create\": {\"path\": \"/Users\", \"body\": {\"userName\": \"{{userName}}\", \"active\": \"{{active|bool}}\","
		    " \"emails\": [{\"value\": \"{{email}}\", \"type\": \"work\"}]}},"
		    " \"update\": {\"path\": \"/Users/{{$id}}\", \"body\": {\"userName\": \"{{userName}}\"}},"
		    " \"delete\": {\"path\": \"/Users/{{$id}}\"},"
		    " \"conflict\": {\"lookup\": {\"path\": \"/Users\", \"query\": {\"filter\": \"userName eq \\\"{{userName|esc}}\\\"\"},"
		    " \"records\": \"Resources\"}}"));
		const char *un[] = { "a\"b@x" }, *ac[] = { "false" };
		mid_field_t f[] = { { "userName", un, 1 }, { "active", ac, 1 } };
		mid_record_t rec = { MID_OP_UPSERT, "", f, 2, 0, NULL };
		mid_push_result_t pr;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "409 on create becomes an update");
		is_str(pr.external_id, "u42", "the existing record's id is returned");
		is_str(t.bodies[0], "{\"userName\":\"a\\\"b@x\",\"active\":false}", "typed body; the empty emails entry left out");
		ok(strstr(t.urls[1], "filter=userName%20eq%20%22a%5C%22b%40x%22") != NULL, "lookup filter escaped and encoded");
		is_str(t.methods[2], "PATCH", "then PATCH");
		is_str(t.urls[2], "http://pacs.test:8080/scim/Users/u42", "of the found record");
		mid_record_t del = { MID_OP_DELETE, "gone/1", NULL, 0, 0, NULL };
		rc = rs_push(in, &del, &pr, &err);
		is_int(rc, MID_OK, "delete of a missing record is done");
		is_str(t.urls[3], "http://pacs.test:8080/scim/Users/gone%2F1", "id percent-encoded in the path");
		rs_close(in);
	}
	/* ---- push: If-Match with a fetched ETag; a 412 refetches once ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"id\": \"u1\", \"meta\": {\"version\": \"v1\"}}", NULL, 0 },
			{ 412, "{}", NULL, 0 },
			{ 200, "{\"id\": \"u1\", \"meta\": {\"version\": \"v2\"}}", NULL, 0 },
			{ 200, "{\"id\": \"u1\", \"meta\": {\"version\": \"v3\"}}", NULL, 0 },
		};
		tx_t t = { steps, 4, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		in = open_inst(&mh, &t, SCIM_SETTINGS(
		    ", \"record\": {\"etag\": \"meta.version\"}, \"get\": {\"path\": \"/Users/{{$id}}\"},"
		    " \"update\": {\"path\": \"/Users/{{$id}}\", \"if_match\": true, \"body\": {\"a\": \"{{a}}\"}}"));
		const char *av[] = { "1" };
		mid_field_t f[] = { { "a", av, 1 } };
		mid_record_t rec = { MID_OP_UPSERT, "u1", f, 1, 0, NULL };
		mid_push_result_t pr;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "update with If-Match after one 412");
		is_str(t.methods[0], "GET", "the ETag is fetched first");
		is_str(t.ifmatch[1], "v1", "If-Match: the fetched version");
		is_str(t.ifmatch[3], "v2", "after 412: the refetched version");
		is_str(pr.etag, "v3", "the new version is returned to the engine");
		rs_close(in);
	}
	/* ---- vars: installer settings in templates (path, query, body keys and
	 * values) and in record.alias paths ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"results\": [{\"id\": \"5\", \"@e-mail\": \"a@x\"}]}", NULL, 0 },
			{ 204, "", NULL, 0 },
			{ 204, "", NULL, 0 },
		};
		tx_t t = { steps, 3, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		in = open_inst(&mh, &t,
		    "{\"base_url\": \"http://pacs.test:8080\", \"vars\": {\"ct\": \"http://pacs.test:8080/api/card_types/6 54\","
		    " \"pdf\": \"e-mail\", \"div\": \"2\"},"
		    " \"record\": {\"alias\": {\"pdf.email\": \"[@{{$vars.pdf}}]\"}},"
		    " \"list\": {\"path\": \"/api/d/{{$vars.div}}/ch\", \"query\": {\"t\": \"{{$vars.pdf}}\"}, \"records\": \"results\"},"
		    " \"update\": {\"path\": \"/api/ch/{{$id}}\", \"body\": {\"@{{$vars.pdf}}\": \"{{pdf.email}}\", \"@{{$vars.nope}}\": \"x\","
		    " \"cards\": {\"add\": [{\"type\": {\"href\": \"{{$vars.ct}}\"}, \"number\": \"{{card}}\"}]}}}}");
		ok(in != NULL, "vars and record.alias open");
		mock_sink_init(&ms);
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		is_int(rc, MID_OK, "pull with $vars in path and query");
		is_str(t.urls[0], "http://pacs.test:8080/api/d/2/ch?t=e-mail", "{{$vars.div}} in the path, {{$vars.pdf}} in the query");
		is_str(mock_rec_get(&ms.records[0], "pdf.email"), "a@x", "record.alias: @<pdf name> delivered as pdf.email");
		is_str(mock_rec_get(&ms.records[0], "@e-mail"), "a@x", "...and under its own name");
		mock_sink_fini(&ms);
		const char *em[] = { "b@x" }, *cn[] = { "4242" };
		mid_field_t f[] = { { "pdf.email", em, 1 }, { "card", cn, 1 } };
		mid_record_t rec = { MID_OP_UPSERT, "5", f, 2, 0, NULL };
		mid_push_result_t pr;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "update with $vars in the body");
		is_str(t.bodies[1], "{\"@e-mail\":\"b@x\",\"cards\":{\"add\":[{\"type\":{\"href\":"
		       "\"http://pacs.test:8080/api/card_types/6 54\"},\"number\":\"4242\"}]}}",
		       "a key template names the PDF; a key with an unset var is left out; the var's value as it is");
		rec.nfields = 1;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "update without the card number");
		is_str(t.bodies[2], "{\"@e-mail\":\"b@x\"}", "a $vars value alone does not keep the card element (nor cards)");
		rs_close(in);

		void *x = NULL;
		mid_error_t e = { 0 };
		rc = rs_open(&mh.host, "{\"base_url\": \"https://a.test\", \"record\": {\"alias\": {\"a\": \"{{$vars.x}}\"}},"
		             " \"list\": {\"path\": \"/u\"}}", &x, &e);
		ok(rc == MID_EINVAL && strstr(e.text, "not set"), "record.alias naming an unset var is refused");
		rc = rs_open(&mh.host, "{\"base_url\": \"https://a.test\", \"vars\": {\"a\": 1}, \"list\": {\"path\": \"/u\"}}", &x, &e);
		ok(rc == MID_EINVAL && strstr(e.text, "string"), "a var that is not a string is refused");
	}
	/* ---- reconcile: a cardholder's cards of one type kept equal to the
	 * record's card numbers (read, compare, add the missing, remove by href) */
	{
#define RC_SETTINGS \
	"{\"base_url\": \"https://cc.test:8904\", \"auth\": {\"type\": \"api_key\", \"scheme\": \"GGL-API-KEY\"}," \
	" \"api_key\": {\"secret\": \"key\"}, \"vars\": {\"ct\": \"https://CC.other-name:8904/api/card_types/654\"}," \
	" \"list\": {\"path\": \"/api/ch\"}, \"get\": {\"path\": \"/api/ch/{{$id}}\"}," \
	" \"create\": {\"path\": \"/api/ch\", \"reconcile\": {\"items\": \"cards\", \"key\": \"number\", \"want\": \"card\"," \
	"   \"add\": {\"type\": {\"href\": \"{{$vars.ct}}\"}, \"number\": \"{{$key}}\"}}," \
	"   \"body\": {\"n\": \"{{n}}\", \"cards\": \"{{$add|json}}\"}}," \
	" \"update\": {\"path\": \"/api/ch/{{$id}}\", \"reconcile\": {" \
	"   \"get\": {\"path\": \"/api/ch/{{$id}}\", \"query\": {\"fields\": \"cards\"}}," \
	"   \"items\": \"cards\", \"select\": {\"path\": \"type.href\", \"href\": \"{{$vars.ct}}\"}," \
	"   \"key\": \"number\", \"want\": \"card\"," \
	"   \"add\": {\"type\": {\"href\": \"{{$vars.ct}}\"}, \"number\": \"{{$key}}\"}," \
	"   \"remove\": {\"href\": \"{{$item.href}}\"}}," \
	"   \"body\": {\"n\": \"{{n}}\", \"cards\": {\"add\": \"{{$add|json}}\", \"remove\": \"{{$remove|json}}\"}}}}"
#define CARD(id, type, num) "{\"href\": \"https://cc.test:8904/api/ch/7/cards/" id "\", \"number\": \"" num "\"," \
	" \"type\": {\"href\": \"https://cc.test:8904/api/card_types/" type "\"}}"
		static const tx_step_t steps[] = {
			/* 1: has 4242 (ours) and a staff card: nothing to do */
			{ 200, "{\"cards\": [" CARD("a1", "654", "4242") "," CARD("s1", "600", "101") "]}", NULL, 0 },
			{ 204, "", NULL, 0 },
			/* 2: wants 4242 and 4343; has 4242, a stale 1111 and a duplicate 4242 */
			{ 200, "{\"cards\": [" CARD("a1", "654", "4242") "," CARD("b1", "654", "1111") ","
			       CARD("s1", "600", "101") "," CARD("a2", "654", "4242") "]}", NULL, 0 },
			{ 204, "", NULL, 0 },
			/* 3: wants nothing (revoked): the card of our type goes */
			{ 200, "{\"cards\": [" CARD("a1", "654", "4242") "," CARD("s1", "600", "1111") "]}", NULL, 0 },
			{ 204, "", NULL, 0 },
			/* 4: no cards block at all, one wanted */
			{ 200, "{\"id\": \"7\"}", NULL, 0 },
			{ 204, "", NULL, 0 },
			/* 5: the cardholder is gone */
			{ 404, "{\"message\": \"no such cardholder\"}", NULL, 0 },
			/* 6: cards is not an array */
			{ 200, "{\"cards\": {\"a\": 1}}", NULL, 0 },
			/* 7: a card to remove without href */
			{ 200, "{\"cards\": [{\"number\": \"9\", \"type\": {\"href\": \"/api/card_types/654\"}}]}", NULL, 0 },
			/* 8: a create adds every wanted value */
			{ 201, "{\"id\": \"8\"}", NULL, 0 },
		};
		tx_t t = { steps, sizeof steps / sizeof steps[0], 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL,
		           { { 0 } } };
		in = open_inst(&mh, &t, RC_SETTINGS);
		ok(in != NULL, "reconcile: settings open");
		const char *nm[] = { "N" }, *c1[] = { "4242" }, *c2[] = { "4242", "4343", "4343" };
		mid_field_t f[] = { { "n", nm, 1 }, { "card", c1, 1 } };
		mid_record_t rec = { MID_OP_UPSERT, "7", f, 2, 0, NULL };
		mid_push_result_t pr;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "reconcile 1: push ok");
		is_str(t.methods[0], "GET", "reconcile 1: the cardholder is read first");
		is_str(t.urls[0], "https://cc.test:8904/api/ch/7?fields=cards", "reconcile 1: with reconcile.get");
		is_str(t.auth[0], "Authorization: GGL-API-KEY K3Y", "reconcile 1: the read is authenticated");
		is_str(t.bodies[1], "{\"n\":\"N\"}", "reconcile 1: the card is there (its type matched by path on "
		       "another host name): no add, no remove, no cards block; the staff card is not ours");
		f[1].values = c2;
		f[1].nvalues = 3;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "reconcile 2: push ok");
		is_str(t.bodies[3], "{\"n\":\"N\",\"cards\":{\"add\":[{\"type\":{\"href\":\"https://CC.other-name:8904"
		       "/api/card_types/654\"},\"number\":\"4343\"}],\"remove\":[{\"href\":\"https://cc.test:8904/api/ch/7/"
		       "cards/b1\"},{\"href\":\"https://cc.test:8904/api/ch/7/cards/a2\"}]}}",
		       "reconcile 2: the missing number added once; the stale card and the duplicate removed by href");
		f[1].nvalues = 0;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "reconcile 3: push ok");
		is_str(t.bodies[5], "{\"n\":\"N\",\"cards\":{\"remove\":[{\"href\":\"https://cc.test:8904/api/ch/7/cards/a1\"}]}}",
		       "reconcile 3: no wanted number: our card is removed, the other type's card with the same "
		       "number is not");
		f[1].values = c1;
		f[1].nvalues = 1;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "reconcile 4: push ok");
		ok(strstr(t.bodies[7], "\"add\":[{") && !strstr(t.bodies[7], "remove"),
		   "reconcile 4: a record without a cards block gets the card added");
		memset(&err, 0, sizeof err);
		rc = rs_push(in, &rec, &pr, &err);
		ok(rc == MID_ENOTFOUND && !err.retryable && t.at == 9, "reconcile 5: a 404 on the read fails the push "
		   "(permanent) and nothing is written");
		memset(&err, 0, sizeof err);
		rc = rs_push(in, &rec, &pr, &err);
		ok(rc == MID_EPROTO && strstr(err.text, "not an array") && t.at == 10,
		   "reconcile 6: a cards block that is not an array fails the push, nothing written");
		memset(&err, 0, sizeof err);
		rc = rs_push(in, &rec, &pr, &err);
		ok(rc == MID_EPROTO && strstr(err.text, "remove") && t.at == 11,
		   "reconcile 7: a card to remove without its href fails the push, nothing written");
		rec.external_id = "";
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "reconcile 8: create ok");
		is_str(t.bodies[11], "{\"n\":\"N\",\"cards\":[{\"type\":{\"href\":\"https://CC.other-name:8904/api/"
		       "card_types/654\"},\"number\":\"4242\"}]}", "reconcile 8: a create adds the wanted card, "
		       "without reading");
		rs_close(in);
	}

	/* ---- rj_reconcile bounds and selection ---- */
	{
		json_t *doc = json_loads("{\"c\": [{\"k\": \"1\", \"t\": \"x\"}, {\"k\": \"2\", \"t\": \"y\"},"
		                         " {\"t\": \"x\"}, 5, {\"k\": 3, \"t\": \"x\"}]}", 0, NULL);
		const char *w[] = { "3", "1", "", "9" };
		unsigned char miss[4];
		json_t **rem = NULL;
		size_t nrem = 0;
		mid_error_t e = { 0 };
		rj_recon_t r = { "c", "t", "x", 0, "k", 10 };
		rc = rj_reconcile(doc, &r, w, 4, miss, &rem, &nrem, &e);
		ok(rc == MID_OK && nrem == 1 && rem[0] == json_array_get(json_object_get(doc, "c"), 2) &&
		   !miss[0] && !miss[1] && !miss[2] && miss[3],
		   "rj_reconcile: integer keys compare as text, a selected element without key is removed, "
		   "non-objects and other selections are ignored, \"\" is never missing");
		free(rem);
		r.max_items = 4;
		rc = rj_reconcile(doc, &r, w, 4, miss, &rem, &nrem, &e);
		ok(rc == MID_EPROTO && !rem && strstr(e.text, "max_items"), "rj_reconcile: max_items bounds the work");
		json_decref(doc);
		ok(rj_href_same_path("https://a:1/api/t/6/?x=1", "/api/t/6") && !rj_href_same_path("https://a/api/t/6",
		   "https://a/api/t/65") && !rj_href_same_path("https://a", "https://b"),
		   "rj_href_same_path: path only, trailing / and query ignored, empty paths never equal");
	}

	/* ---- an href as the whole path is followed on base_url's origin only ---- */
	{
		static const tx_step_t steps[] = {
			{ 200, "{\"etag-header\": 1}", NULL, 0 },
			{ 204, "", NULL, 0 },
		};
		tx_t t = { steps, 2, 0, { { 0 } }, { { 0 } }, { { 0 } }, { { 0 } }, NULL, { { 0 } } };
		in = open_inst(&mh, &t,
		    "{\"base_url\": \"https://cc.test:8904/prefix\", \"auth\": {\"type\": \"bearer\"}, \"token\": {\"secret\": \"tok\"},"
		    " \"list\": {\"path\": \"/u\"}, \"get\": {\"path\": \"{{$id}}\"},"
		    " \"update\": {\"path\": \"{{href}}\", \"if_match\": true, \"body\": {\"a\": \"{{a}}\"}}}");
		ok(in != NULL, "href paths: settings open");
		const char *hv[] = { "https://cc.test:8904/api/ch/7" }, *av[] = { "1" };
		mid_field_t f[] = { { "href", hv, 1 }, { "a", av, 1 } };
		mid_record_t rec = { MID_OP_UPSERT, "/api/ch/7", f, 2, 0, NULL };
		mid_push_result_t pr;
		rc = rs_push(in, &rec, &pr, &err);
		is_int(rc, MID_OK, "href paths: push ok");
		is_str(t.urls[0], "https://cc.test:8904/api/ch/7", "href paths: a path from the server's root is resolved "
		       "against the origin (not appended to the prefix)");
		is_str(t.urls[1], "https://cc.test:8904/api/ch/7", "href paths: an absolute same-origin href is followed");
		const char *evil[] = { "https://evil.test:8904/api/ch/7" }, *port[] = { "https://cc.test:8905/x" },
		           *userinfo[] = { "https://cc.test:8904@evil.test/x" }, *scheme[] = { "http://cc.test:8904/x" };
		const char *const *bad[] = { evil, port, userinfo, scheme };
		for (size_t i = 0; i < 4; i++) {
			f[0].values = bad[i];
			rec.etag = "W/\"1\"";
			memset(&err, 0, sizeof err);
			rc = rs_push(in, &rec, &pr, &err);
			ok(rc == MID_EINVAL && strstr(err.text, "refused") && t.at == 2,
			   "href paths: %s is refused and nothing is sent (no credential leaves the origin)", bad[i][0]);
		}
		rs_close(in);
	}

	/* ---- prefetch pipeline: pages requested ahead (index paging) ---- */
	{
		/* a clean pull: every page once, in order, none past the total */
		ux_t u = { .total = 11 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u, UX_SETTINGS(2, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc == MID_OK && res.complete && ux_all(&ms, 11), "pipeline: 11 records in order, complete");
		is_int(u.nreq, 6, "pipeline: 6 requests for 6 pages, none past the total");
		is_str(u.urls[5], "http://pacs.test:8080/scim/Users?startIndex=11&count=2", "pipeline: the last page from 11");
		mock_sink_fini(&ms);
		rs_close(in);

		/* the server pages by fewer than asked (3 of 4): predicted from the
		 * first page's size, so nothing is wasted */
		ux_t u2 = { .total = 10, .cap = 3 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u2, UX_SETTINGS(4, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc == MID_OK && res.complete && ux_all(&ms, 10), "pipeline, server pages by 3 of 4: all 10 records");
		is_int(u2.nreq, 4, "pipeline, server pages by 3 of 4: 4 requests (1, 4, 7, 10)");
		mock_sink_fini(&ms);
		rs_close(in);

		/* prediction mismatch: the server's itemsPerPage changes from 2 to 3
		 * at startIndex 5, so the pages predicted at 7 and 9 are wrong:
		 * dropped, and the right ones (8, 11) requested */
		ux_t u3 = { .total = 12, .cap = 2, .cap2 = 3, .cap2_from = 5 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u3, UX_SETTINGS(4, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		is_int(rc, MID_OK, "pipeline, itemsPerPage 2 then 3: pull ok");
		ok(res.complete && ux_all(&ms, 12), "pipeline, itemsPerPage 2 then 3: u1..u12 once each, complete");
		ok(ux_sent(&u3, 8) == 1 && ux_sent(&u3, 11) == 1, "pipeline, itemsPerPage 2 then 3: pages 8 and 11 "
		   "fetched once each (the mispredicted ones dropped)");
		ok(ux_sent(&u3, 13) == 0 && ux_sent(&u3, 14) == 0, "pipeline: nothing asked past the total");
		mock_sink_fini(&ms);
		rs_close(in);

		/* prediction mismatch: a page with fewer records than asked before
		 * the total fails the pull, as without the pipeline; the pages in
		 * flight are dropped (valgrind: nothing leaks) */
		ux_t u4 = { .total = 12, .short_at = 5 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u4, UX_SETTINGS(2, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && !res.complete && strstr(err.text, "fewer than"),
		   "pipeline: a short page (1 of 2) before the total fails the pull");
		is_int((int)ms.nrecords, 5, "pipeline: the records up to the short page were delivered");
		mock_sink_fini(&ms);
		rs_close(in);

		/* an error on a speculative page: a 503 with Retry-After at 7 is
		 * dropped and sent again on the normal path (its first attempt),
		 * which gets a second 503, waits Retry-After and retries */
		ux_t u5 = { .total = 12, .fail_at = 7, .fail_n = 2, .fail_status = 503 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u5, UX_SETTINGS(2, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc == MID_OK && res.complete && ux_all(&ms, 12), "pipeline, 503 on a page sent ahead: all records");
		is_int(ux_sent(&u5, 7), 3, "pipeline, 503: sent ahead, then twice on the normal path");
		ok(in->waited_ms >= 1000 && in->waited_ms < 1300, "pipeline, 503: the retry waited Retry-After (1 s)");
		mock_sink_fini(&ms);
		rs_close(in);

		/* a connection reset on a page sent ahead */
		ux_t u6 = { .total = 9, .fail_at = 5, .fail_n = 1 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u6, UX_SETTINGS(2, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc == MID_OK && res.complete && ux_all(&ms, 9), "pipeline, a reset on a page sent ahead: all records");
		is_int(ux_sent(&u6, 5), 2, "pipeline, reset: that page is sent again once");
		mock_sink_fini(&ms);
		rs_close(in);

		/* a page that keeps failing: the usual retries, then a retryable error */
		ux_t u7 = { .total = 12, .fail_at = 5, .fail_n = 100, .fail_status = 500 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u7, UX_SETTINGS(2, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && err.retryable && !res.complete, "pipeline, persistent 500: a retryable error");
		is_int(u7.nfail, 7, "pipeline, persistent 500: the one sent ahead, then max_attempts (6)");
		ok(ux_sent(&u7, 7) <= 1, "pipeline, persistent 500: nothing sent after the failed page but what was "
		   "already queued");
		is_int((int)ms.nrecords, 4, "pipeline, persistent 500: the pages before it delivered");
		mock_sink_fini(&ms);
		rs_close(in);

		/* the engine stops the pull mid-page: the pipeline is shut down
		 * with pages in flight */
		ux_t u8 = { .total = 40 };
		mock_sink_init(&ms);
		ms.fail_record_at = 7;
		in = open_ux(&mh, &u8, UX_SETTINGS(4, ""));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc != MID_OK && !res.complete, "pipeline: an engine abort mid-pull stops it");
		ok(u8.nreq <= 2 + RS_PIPE_SLOTS, "pipeline: at most %d pages ahead of the applied one", RS_PIPE_SLOTS);
		mock_sink_fini(&ms);
		rs_close(in);

		/* the page parser (restpage.c) reads the pages sent ahead: the
		 * engine gets exactly what the jansson path gives (prefetch off):
		 * ids, positions, etags, fields, values and the two rejects */
		{
#define UXR_SETTINGS(pf) \
	"{\"base_url\": \"http://pacs.test:8080/scim\", \"auth\": {\"type\": \"bearer\"}," \
	" \"token\": {\"secret\": \"tok\"}, \"record\": {\"id\": \"id\", \"etag\": \"meta.version\"," \
	" \"omit\": [\"schemas\", \"meta.location\", \"emails[work]\"]}," \
	" \"list\": {\"path\": \"/Users\", \"query\": {\"startIndex\": \"{{$start}}\", \"count\": \"{{$size}}\"}," \
	" \"records\": \"Resources\", \"paging\": {\"style\": \"index\", \"size\": 3, \"total\": \"totalResults\"" \
	pf "}}}"
			ux_t ua = { .total = 14, .rich = 1 }, ub = { .total = 14, .rich = 1 };
			mock_sink_t ma, mb;
			mock_sink_init(&ma);
			mock_sink_init(&mb);
			in = open_ux(&mh, &ua, UXR_SETTINGS(""));
			rc = pull(in, MID_PULL_FULL, NULL, &ma, &res, &err);
			ok(rc == MID_OK && res.complete, "page parser: pull ok");
			ok(in->fast_pages >= 3, "page parser: read the pages sent ahead (%ld)", in->fast_pages);
			rs_close(in);
			in = open_ux(&mh, &ub, UXR_SETTINGS(", \"prefetch\": false"));
			rc = pull(in, MID_PULL_FULL, NULL, &mb, &res, &err);
			ok(rc == MID_OK && res.complete && in->fast_pages == 0, "jansson path: pull ok");
			rs_close(in);
			int same = ma.nrecords == mb.nrecords && ma.nrecords == 12 && ma.nrejects == 2 &&
			           mb.nrejects == 2;
			for (size_t i = 0; same && i < ma.nrecords; i++) {
				const mock_rec_t *a = &ma.records[i], *b = &mb.records[i];
				same = a->op == b->op && !strcmp(a->external_id, b->external_id) &&
				       a->source_pos == b->source_pos && a->nfields == b->nfields &&
				       !a->etag == !b->etag && (!a->etag || !strcmp(a->etag, b->etag));
				for (size_t k = 0; same && k < a->nfields; k++)
					same = !strcmp(a->names[k], b->names[k]) && !strcmp(a->values[k], b->values[k]);
				if (!same)
					diag("record %zu differs (%s)", i, a->external_id);
			}
			for (size_t i = 0; same && i < ma.nrejects; i++)
				same = ma.rejects[i].pos == mb.rejects[i].pos &&
				       !strcmp(ma.rejects[i].reason, mb.rejects[i].reason) &&
				       !ma.rejects[i].raw == !mb.rejects[i].raw &&
				       (!ma.rejects[i].raw || !strcmp(ma.rejects[i].raw, mb.rejects[i].raw));
			ok(same, "page parser: the same 12 records and 2 rejects as the jansson path");
			int saw = 0;
			for (size_t k = 0; ma.nrecords && k < ma.records[0].nfields; k++)
				saw += !strcmp(ma.records[0].names[k], "emails[home].value") ||
				       !strcmp(ma.records[0].names[k], "groups") ||
				       !strcmp(ma.records[0].names[k], "name.givenName");
			ok(saw == 3 && ma.records[0].etag && !strcmp(ma.records[0].etag, "W/\"1\""),
			   "page parser: aliases, multi-valued fields, decoded values and etag are there");
			mock_sink_fini(&ma);
			mock_sink_fini(&mb);
#undef UXR_SETTINGS
		}

		/* paging.prefetch false: one request at a time, the same pages */
		ux_t u9 = { .total = 11 };
		mock_sink_init(&ms);
		in = open_ux(&mh, &u9, UX_SETTINGS(2, ", \"prefetch\": false"));
		rc = pull(in, MID_PULL_FULL, NULL, &ms, &res, &err);
		ok(rc == MID_OK && res.complete && ux_all(&ms, 11) && u9.nreq == 6,
		   "prefetch off: the same 6 requests and records");
		mock_sink_fini(&ms);
		rs_close(in);
	}

	is_int(mh.secrets_out, 0, "every secret handed out was released");
	mock_host_fini(&mh);
	return tap_done();
}
