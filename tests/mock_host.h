/* tests/mock_host.h -- a mock mid_host_t and a recording pull sink for
 * connector unit tests.
 *
 *     mock_host_t mh;
 *     mock_host_init(&mh);                   // clock at 2026-01-01T00:00:00Z
 *     mock_host_set_secret(&mh, "token", "s3cret");
 *     desc->open(&mh.host, settings, &inst, &err);
 *     ...
 *     ok(mock_host_log_contains(&mh, "archived"), "logged");
 *     mock_host_fini(&mh);
 *
 *     mock_sink_t ms;
 *     mock_sink_init(&ms);                   // ms.sink is a mid_pull_sink_t
 *     desc->pull(inst, &req, &ms.sink, &res, &err);
 *     is_int(ms.nrecords, 3, "three records");
 *     is_str(mock_rec_get(&ms.records[0], "email"), "a@b.c", "email");
 *     mock_sink_fini(&ms);
 *
 * Everything is kept in memory and freed by the _fini functions.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "mobileid/connector.h"

#define MOCK_HOST_LOG_MAX 65536
#define MOCK_HOST_SECRETS 16

typedef struct mock_host {
	mid_host_t host;            /* hand &host to a connector's open() */
	char log[MOCK_HOST_LOG_MAX]; /* every line logged, "LEVEL text\n" */
	size_t log_len;
	size_t log_lines;
	int64_t now_ms;             /* what now_ms() answers */
	int64_t mono_ms;            /* what monotonic_ms() answers */
	int64_t tick_ms;            /* added to both clocks on every read */
	mid_http_defaults_t http;
	struct { char *name; char *value; } secrets[MOCK_HOST_SECRETS];
	size_t nsecrets;
	size_t secrets_out;         /* secrets handed out and not yet freed */
	char state_dir[512];
} mock_host_t;

/* Fill `m` with a working host: log to m->log, no secrets, clock at
 * 2026-01-01T00:00:00Z, monotonic at 1000 s, http defaults for tests,
 * state_dir "" (set it with mock_host_set_state_dir). */
void mock_host_init(mock_host_t *m);

/* Free what the host holds (secrets). */
void mock_host_fini(mock_host_t *m);

/* Add or replace a secret; returns 0, or -1 when the table is full. */
int mock_host_set_secret(mock_host_t *m, const char *name, const char *value);

/* Set the wall clock (ms since the epoch). */
void mock_host_set_time(mock_host_t *m, int64_t now_ms);

/* Advance both clocks by `ms`. */
void mock_host_advance(mock_host_t *m, int64_t ms);

/* Set the state folder passed to connectors (copied). */
void mock_host_set_state_dir(mock_host_t *m, const char *dir);

/* Whether the captured log contains `needle` (1) or not (0). */
int mock_host_log_contains(const mock_host_t *m, const char *needle);

/* Forget the captured log. */
void mock_host_log_clear(mock_host_t *m);

/* ---- recording pull sink ----------------------------------------------- */

typedef struct mock_rec {
	int op;
	char *external_id;
	uint64_t source_pos;
	char *etag;              /* NULL when the record had none */
	size_t nfields;
	char **names;            /* nfields names */
	char **values;           /* nfields values; multi-values joined by "\x1f" */
} mock_rec_t;

typedef struct mock_reject {
	uint64_t pos;
	char *column;            /* NULL when none was given */
	char *reason;
	char *raw;               /* NULL when none was given */
} mock_reject_t;

typedef struct mock_sink {
	mid_pull_sink_t sink;    /* hand &sink to pull() */
	int keep_records;        /* 1 (default): copy records; 0: count only */
	mock_rec_t *records;
	size_t nrecords, records_cap;
	size_t nupserts, ndeletes;
	mock_reject_t *rejects;
	size_t nrejects, rejects_cap;
	char **checkpoints;      /* every cursor, in order */
	size_t ncheckpoints, checkpoints_cap;
	size_t records_at_checkpoint; /* records seen when the last checkpoint came */
	uint64_t progress_done, progress_total;
	size_t nprogress;
	/* failure injection: return `fail_code` (MID_EABORT when 0) from the
	 * Nth call (1-based) of that callback; 0 disables */
	size_t fail_record_at, fail_reject_at, fail_checkpoint_at;
	int fail_code;
	size_t record_calls, reject_calls, checkpoint_calls;
} mock_sink_t;

/* Set up an empty recording sink that keeps records. */
void mock_sink_init(mock_sink_t *s);

/* Free everything recorded. */
void mock_sink_fini(mock_sink_t *s);

/* Free everything recorded and start again (keeps the settings). */
void mock_sink_reset(mock_sink_t *s);

/* The value of field `name` in a recorded record, or NULL. */
const char *mock_rec_get(const mock_rec_t *r, const char *name);

/* The last checkpoint cursor, or NULL. */
const char *mock_sink_last_cursor(const mock_sink_t *s);
