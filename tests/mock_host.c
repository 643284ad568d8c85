/* tests/mock_host.c -- mock host and recording sink (see mock_host.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/mock_host.h"

static char *mh_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void mh_log(void *ctx, int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void mh_log(void *ctx, int level, const char *fmt, va_list ap)
{
	mock_host_t *m = ctx;
	size_t room;
	int n;

	if (m->log_len + 1 >= sizeof m->log)
		return;
	room = sizeof m->log - m->log_len;
	n = snprintf(m->log + m->log_len, room, "%d ", level);
	if (n < 0 || (size_t)n >= room)
		goto full;
	m->log_len += (size_t)n;
	room -= (size_t)n;
	n = vsnprintf(m->log + m->log_len, room, fmt, ap);
	if (n < 0 || (size_t)n >= room)
		goto full;
	m->log_len += (size_t)n;
	if (m->log_len + 1 < sizeof m->log) {
		m->log[m->log_len++] = '\n';
		m->log[m->log_len] = '\0';
	}
	m->log_lines++;
	return;
full:
	m->log_len = sizeof m->log - 1;
	m->log[m->log_len] = '\0';
}

static int mh_secret_get(void *ctx, const char *name, char **value, size_t *len,
                         mid_error_t *err)
{
	mock_host_t *m = ctx;

	for (size_t i = 0; i < m->nsecrets; i++) {
		if (strcmp(m->secrets[i].name, name) == 0) {
			*value = strdup(m->secrets[i].value);
			if (!*value)
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			*len = strlen(*value);
			m->secrets_out++;
			return MID_OK;
		}
	}
	return mid_error_set(err, MID_ENOTFOUND, 0, "no secret named '%s'", name);
}

static void mh_secret_free(void *ctx, char *value, size_t len)
{
	mock_host_t *m = ctx;

	if (!value)
		return;
	memset(value, 0, len);
	free(value);
	m->secrets_out--;
}

static int64_t mh_now(void *ctx)
{
	mock_host_t *m = ctx;
	int64_t t = m->now_ms;
	m->now_ms += m->tick_ms;
	m->mono_ms += m->tick_ms;
	return t;
}

static int64_t mh_mono(void *ctx)
{
	mock_host_t *m = ctx;
	int64_t t = m->mono_ms;
	m->now_ms += m->tick_ms;
	m->mono_ms += m->tick_ms;
	return t;
}

void mock_host_init(mock_host_t *m)
{
	memset(m, 0, sizeof *m);
	m->host.abi_major = MID_CONNECTOR_ABI_MAJOR;
	m->host.abi_minor = MID_CONNECTOR_ABI_MINOR;
	m->host.struct_size = sizeof m->host;
	m->host.ctx = m;
	m->host.log = mh_log;
	m->host.secret_get = mh_secret_get;
	m->host.secret_free = mh_secret_free;
	m->host.now_ms = mh_now;
	m->host.monotonic_ms = mh_mono;
	m->host.http = &m->http;
	m->host.state_dir = m->state_dir;
	m->now_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
	m->mono_ms = 1000000;
	m->http.user_agent = "mobileid-gateway-test";
	m->http.connect_timeout_ms = 2000;
	m->http.total_timeout_ms = 10000;
	m->http.max_response_bytes = 16u << 20;
}

void mock_host_fini(mock_host_t *m)
{
	for (size_t i = 0; i < m->nsecrets; i++) {
		free(m->secrets[i].name);
		free(m->secrets[i].value);
	}
	m->nsecrets = 0;
}

int mock_host_set_secret(mock_host_t *m, const char *name, const char *value)
{
	char *v;

	for (size_t i = 0; i < m->nsecrets; i++) {
		if (strcmp(m->secrets[i].name, name) == 0) {
			v = strdup(value);
			if (!v)
				return -1;
			free(m->secrets[i].value);
			m->secrets[i].value = v;
			return 0;
		}
	}
	if (m->nsecrets == MOCK_HOST_SECRETS)
		return -1;
	m->secrets[m->nsecrets].name = strdup(name);
	m->secrets[m->nsecrets].value = strdup(value);
	if (!m->secrets[m->nsecrets].name || !m->secrets[m->nsecrets].value) {
		free(m->secrets[m->nsecrets].name);
		free(m->secrets[m->nsecrets].value);
		return -1;
	}
	m->nsecrets++;
	return 0;
}

void mock_host_set_time(mock_host_t *m, int64_t now_ms)
{
	m->now_ms = now_ms;
}

void mock_host_advance(mock_host_t *m, int64_t ms)
{
	m->now_ms += ms;
	m->mono_ms += ms;
}

void mock_host_set_state_dir(mock_host_t *m, const char *dir)
{
	snprintf(m->state_dir, sizeof m->state_dir, "%s", dir);
}

int mock_host_log_contains(const mock_host_t *m, const char *needle)
{
	return strstr(m->log, needle) != NULL;
}

void mock_host_log_clear(mock_host_t *m)
{
	m->log_len = 0;
	m->log_lines = 0;
	m->log[0] = '\0';
}

/* ---- sink ---------------------------------------------------------------- */

static int ms_fail(mock_sink_t *s, size_t calls, size_t at, mid_error_t *err)
{
	if (at && calls == at) {
		int code = s->fail_code ? s->fail_code : MID_EABORT;
		return mid_error_set(err, code, 0, "mock sink: injected failure");
	}
	return MID_OK;
}

static int ms_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	p = realloc(*arr, nc * size);
	if (!p)
		return -1;
	*arr = p;
	*cap = nc;
	return 0;
}

static int ms_record(void *ctx, const mid_record_t *rec, mid_error_t *err)
{
	mock_sink_t *s = ctx;
	mock_rec_t *r;
	int rc;

	s->record_calls++;
	if ((rc = ms_fail(s, s->record_calls, s->fail_record_at, err)) < 0)
		return rc;
	if (rec->op == MID_OP_DELETE)
		s->ndeletes++;
	else
		s->nupserts++;
	if (!s->keep_records) {
		s->nrecords++;
		return MID_OK;
	}
	if (ms_grow((void **)&s->records, &s->records_cap, s->nrecords, sizeof *s->records) < 0)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	r = &s->records[s->nrecords];
	memset(r, 0, sizeof *r);
	r->op = rec->op;
	r->external_id = mh_strdup(rec->external_id);
	r->source_pos = rec->source_pos;
	r->etag = mh_strdup(rec->etag);
	r->nfields = rec->nfields;
	if (rec->nfields) {
		r->names = calloc(rec->nfields, sizeof *r->names);
		r->values = calloc(rec->nfields, sizeof *r->values);
		if (!r->names || !r->values)
			goto nomem;
	}
	for (size_t i = 0; i < rec->nfields; i++) {
		const mid_field_t *f = &rec->fields[i];
		size_t len = 1;
		char *v;

		for (size_t k = 0; k < f->nvalues; k++)
			len += strlen(f->values[k]) + 1;
		v = malloc(len);
		if (!v)
			goto nomem;
		v[0] = '\0';
		for (size_t k = 0; k < f->nvalues; k++) {
			if (k)
				strcat(v, "\x1f");
			strcat(v, f->values[k]);
		}
		r->values[i] = v;
		r->names[i] = mh_strdup(f->name);
		if (!r->names[i])
			goto nomem;
	}
	s->nrecords++;
	return MID_OK;
nomem:
	s->nrecords++; /* so fini frees the partial copy */
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

static int ms_reject(void *ctx, uint64_t pos, const char *column, const char *reason,
                     const char *raw, mid_error_t *err)
{
	mock_sink_t *s = ctx;
	mock_reject_t *j;
	int rc;

	s->reject_calls++;
	if ((rc = ms_fail(s, s->reject_calls, s->fail_reject_at, err)) < 0)
		return rc;
	if (ms_grow((void **)&s->rejects, &s->rejects_cap, s->nrejects, sizeof *s->rejects) < 0)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	j = &s->rejects[s->nrejects++];
	j->pos = pos;
	j->column = mh_strdup(column);
	j->reason = mh_strdup(reason);
	j->raw = mh_strdup(raw);
	return MID_OK;
}

static int ms_checkpoint(void *ctx, const char *cursor, mid_error_t *err)
{
	mock_sink_t *s = ctx;
	char *c;
	int rc;

	s->checkpoint_calls++;
	if ((rc = ms_fail(s, s->checkpoint_calls, s->fail_checkpoint_at, err)) < 0)
		return rc;
	if (ms_grow((void **)&s->checkpoints, &s->checkpoints_cap, s->ncheckpoints,
	            sizeof *s->checkpoints) < 0 || !(c = mh_strdup(cursor ? cursor : "")))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	s->checkpoints[s->ncheckpoints++] = c;
	s->records_at_checkpoint = s->nrecords;
	return MID_OK;
}

static void ms_progress(void *ctx, uint64_t done, uint64_t total)
{
	mock_sink_t *s = ctx;
	s->progress_done = done;
	s->progress_total = total;
	s->nprogress++;
}

void mock_sink_init(mock_sink_t *s)
{
	memset(s, 0, sizeof *s);
	s->keep_records = 1;
	s->sink.ctx = s;
	s->sink.record = ms_record;
	s->sink.reject = ms_reject;
	s->sink.checkpoint = ms_checkpoint;
	s->sink.progress = ms_progress;
}

static void ms_free_all(mock_sink_t *s)
{
	for (size_t i = 0; i < s->nrecords && s->keep_records; i++) {
		mock_rec_t *r = &s->records[i];
		free(r->external_id);
		free(r->etag);
		for (size_t k = 0; k < r->nfields; k++) {
			if (r->names)
				free(r->names[k]);
			if (r->values)
				free(r->values[k]);
		}
		free(r->names);
		free(r->values);
	}
	free(s->records);
	for (size_t i = 0; i < s->nrejects; i++) {
		free(s->rejects[i].column);
		free(s->rejects[i].reason);
		free(s->rejects[i].raw);
	}
	free(s->rejects);
	for (size_t i = 0; i < s->ncheckpoints; i++)
		free(s->checkpoints[i]);
	free(s->checkpoints);
}

void mock_sink_fini(mock_sink_t *s)
{
	ms_free_all(s);
	mock_sink_init(s);
}

void mock_sink_reset(mock_sink_t *s)
{
	int keep = s->keep_records, code = s->fail_code;
	size_t a = s->fail_record_at, b = s->fail_reject_at, c = s->fail_checkpoint_at;

	ms_free_all(s);
	mock_sink_init(s);
	s->keep_records = keep;
	s->fail_code = code;
	s->fail_record_at = a;
	s->fail_reject_at = b;
	s->fail_checkpoint_at = c;
}

const char *mock_rec_get(const mock_rec_t *r, const char *name)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (r->names && r->names[i] && strcmp(r->names[i], name) == 0)
			return r->values[i];
	return NULL;
}

const char *mock_sink_last_cursor(const mock_sink_t *s)
{
	return s->ncheckpoints ? s->checkpoints[s->ncheckpoints - 1] : NULL;
}
