/* gateway/store_sync.c -- links, cursors, outbox, run reports, audit log,
 * leases, secret rows, replay nonces and meta values (see gateway/store.h).
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "gateway/store_int.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const outbox_state[] = { "pending", "dead", "done" };
static const char *const run_status[] = { "running", "ok", "failed", "stopped" };

const char *mid_outbox_state_name(int s) { return mid_store_name_of(outbox_state, NELEM(outbox_state), s); }
int mid_outbox_state_parse(const char *n) { return mid_store_parse_name(outbox_state, NELEM(outbox_state), n); }
const char *mid_run_status_name(int s) { return mid_store_name_of(run_status, NELEM(run_status), s); }
int mid_run_status_parse(const char *n) { return mid_store_parse_name(run_status, NELEM(run_status), n); }


static int write1_id(mid_store_t *st, mid_db_stmt_t *s, const char *what, int64_t id,
                     mid_error_t *err)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)id);
	return write1(st, s, what, buf, err);
}

/* ---- links -------------------------------------------------------------------- */

static void link_row(mid_store_t *st, mid_db_stmt_t *s, mid_link_t *l)
{
	memset(l, 0, sizeof *l);
	l->id = COLI(s, 0);
	COLT(s, 1, l->binding);
	COLT(s, 2, l->external_id);
	COLT(s, 3, l->person_id);
	l->has_recv = mid_store_colblob(st, s, 4, l->recv_hash, MID_HASH_LEN);
	l->has_sent = mid_store_colblob(st, s, 5, l->sent_hash, MID_HASH_LEN);
	l->seen_run = COLI(s, 6);
	COLT(s, 7, l->etag);
	l->updated = COLI(s, 8);
	l->has_push = mid_store_colblob(st, s, 9, l->push_hash, MID_HASH_LEN);
}

int mid_store_link_get(mid_store_t *st, const char *binding, const char *external_id,
                       mid_link_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_GET, &s, err, "tt", binding, external_id);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc)) {
		link_row(st, s, out);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = mid_error_set(err, MID_ENOTFOUND, 0, "no link %s/%s", binding, external_id);
	}
	mid_store_qend(st, s);
	return rc;
}

int mid_store_link_lookup(mid_store_t *st, const char *binding, const char *external_id,
                          int *found, char person_id[MID_ID_LEN],
                          unsigned char recv_hash[MID_HASH_LEN], int64_t *link_id,
                          mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_LOOKUP, &s, err, "tt", binding, external_id);
	*found = 0;
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		*found = 1;
		if (link_id)
			*link_id = COLI(s, 0);
		if (person_id)
			mid_store_coltext(st, s, 1, person_id, MID_ID_LEN);
		if (recv_hash)
			mid_store_colblob(st, s, 2, recv_hash, MID_HASH_LEN);
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_link_upsert(mid_store_t *st, mid_link_t *l, mid_error_t *err)
{
	const void *rh, *sh, *ph;
	mid_db_stmt_t *s;
	int64_t n = 0;
	int rc, found = 0;

	if ((rc = mid_store_chklen("binding", l->binding, sizeof l->binding, err)) ||
	    (rc = mid_store_chklen("external_id", l->external_id, sizeof l->external_id, err)))
		return rc;
	l->updated = mid_store_now(st);
	/* a record received from the PACS that is not the echo of the last
	 * push: the PACS changed since, what it holds is no longer known */
	if (l->has_push && l->has_recv &&
	    (!l->has_sent || memcmp(l->recv_hash, l->sent_hash, MID_HASH_LEN) != 0))
		l->has_push = 0;
	rh = l->has_recv ? (const void *)l->recv_hash : NULL;
	sh = l->has_sent ? (const void *)l->sent_hash : NULL;
	ph = l->has_push ? (const void *)l->push_hash : NULL;
	/* UPDATE, then INSERT when nothing matched: no RETURNING on this hot
	 * path (see db.h last_insert_id). The caller's transaction, or the
	 * UNIQUE constraint, keeps two writers from inserting the same link. */
	rc = Q(st, MID_SQ_LINK_UPDATE, &s, err, "thhitihtt", l->person_id, rh, sh, l->seen_run,
	       l->etag, l->updated, ph, l->binding, l->external_id);
	if (rc || (rc = mid_store_qdone(st, s, &n, err)))
		return rc;
	if (n > 0)
		return mid_store_link_lookup(st, l->binding, l->external_id, &found, NULL, NULL,
		                             &l->id, err);
	rc = Q(st, MID_SQ_LINK_INSERT, &s, err, "ttthhiti", l->binding, l->external_id,
	       l->person_id, rh, sh, l->seen_run, l->etag, l->updated);
	if (rc || (rc = mid_store_qdone(st, s, NULL, err)))
		return rc;
	l->id = st->drv->last_insert_id(st->db);
	/* LINK_INSERT has no push_hash (its column list is the bulk import's):
	 * only the outbox makes a link with one, after the push that created
	 * the record */
	if (ph)
		return mid_store_link_set_push(st, l->binding, l->external_id, ph, err);
	return MID_OK;
}

int mid_store_link_mark_seen(mid_store_t *st, const char *binding, const char *external_id,
                             int64_t run, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_SEEN, &s, err, "itt", run, binding, external_id);
	return rc ? rc : write1(st, s, "link", external_id, err);
}

int mid_store_link_set_sent(mid_store_t *st, const char *binding, const char *external_id,
                            const unsigned char hash[MID_HASH_LEN],
                            const unsigned char *push, const char *etag, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_SET_SENT, &s, err, "hhtitt", (const void *)hash,
	           (const void *)push, etag, mid_store_now(st), binding, external_id);
	return rc ? rc : write1(st, s, "link", external_id, err);
}

int mid_store_link_set_push(mid_store_t *st, const char *binding, const char *external_id,
                            const unsigned char *hash, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_SET_PUSH, &s, err, "htt", (const void *)hash, binding,
	           external_id);
	return rc ? rc : write1(st, s, "link", external_id, err);
}

int mid_store_link_remove(mid_store_t *st, const char *binding, const char *external_id,
                          mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_REMOVE, &s, err, "tt", binding, external_id);
	return rc ? rc : write1(st, s, "link", external_id, err);
}

static int link_collect(mid_store_t *st, mid_db_stmt_t *s, mid_link_t **out, size_t *n,
                        mid_error_t *err)
{
	mid_link_t *arr = NULL;
	size_t cap = 0;
	int rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		link_row(st, s, &arr[(*n)++]);
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		free(arr);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

int mid_store_link_list_person(mid_store_t *st, const char *person_id, mid_link_t **out,
                               size_t *n, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	rc = Q(st, MID_SQ_LINK_LIST_PERSON, &s, err, "t", person_id);
	return rc ? rc : link_collect(st, s, out, n, err);
}

int mid_store_link_sweep_count(mid_store_t *st, const char *binding, int64_t run,
                               int64_t *candidates, int64_t *total, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_SWEEP_COUNT, &s, err, "it", run, binding);
	*candidates = 0;
	if (total)
		*total = 0;
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		if (total)
			*total = COLI(s, 0);
		*candidates = COLI(s, 1); /* SUM of no rows is NULL -> 0 */
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_link_sweep_list(mid_store_t *st, const char *binding, int64_t run,
                              int64_t after, int64_t limit, mid_link_t **out, size_t *n,
                              mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	rc = Q(st, MID_SQ_LINK_SWEEP_LIST, &s, err, "tiii", binding, run, after,
	       limit > 0 ? limit : -1);
	return rc ? rc : link_collect(st, s, out, n, err);
}

int mid_store_link_each(mid_store_t *st, const char *binding, mid_link_each_fn fn,
                        void *ctx, mid_error_t *err)
{
	unsigned char h[MID_HASH_LEN];
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_EACH, &s, err, "t", binding);
	if (rc)
		return rc;
	while (ROW(s, rc)) {
		int has = mid_store_colblob(st, s, 3, h, sizeof h);
		rc = fn(ctx, COLI(s, 0), st->drv->column_text(s, 1), st->drv->column_text(s, 2),
		        has ? h : NULL);
		if (rc < 0) {
			mid_store_qend(st, s);
			return rc;
		}
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_link_count(mid_store_t *st, const char *binding, int64_t *n,
                         int64_t *id_bytes, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LINK_COUNT, &s, err, "t", binding);
	*n = 0;
	if (id_bytes)
		*id_bytes = 0;
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		*n = COLI(s, 0);
		if (id_bytes)
			*id_bytes = COLI(s, 1);   /* SUM of no rows: NULL, read as 0 */
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

/* ---- cursors ------------------------------------------------------------------ */

int mid_store_cursor_get(mid_store_t *st, const char *binding, char **cursor,
                         mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_CURSOR_GET, &s, err, "t", binding);
	*cursor = NULL;
	if (rc)
		return rc;
	if (ROW(s, rc))
		rc = mid_store_coldup(st, s, 0, cursor, err);
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_cursor_set(mid_store_t *st, const char *binding, const char *cursor,
                         mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (cursor)
		rc = Q(st, MID_SQ_CURSOR_SET, &s, err, "tti", binding, cursor, mid_store_now(st));
	else
		rc = Q(st, MID_SQ_CURSOR_DEL, &s, err, "t", binding);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

/* ---- outbox -------------------------------------------------------------------- */

void mid_outbox_entry_clear(mid_outbox_entry_t *e)
{
	if (!e)
		return;
	free(e->payload);
	memset(e, 0, sizeof *e);
}

void mid_outbox_list_free(mid_outbox_entry_t *list, size_t n)
{
	size_t i;
	if (!list)
		return;
	for (i = 0; i < n; i++)
		mid_outbox_entry_clear(&list[i]);
	free(list);
}

static int outbox_row(mid_store_t *st, mid_db_stmt_t *s, mid_outbox_entry_t *e,
                      mid_error_t *err)
{
	memset(e, 0, sizeof *e);
	e->id = COLI(s, 0);
	COLT(s, 1, e->binding);
	COLT(s, 2, e->person_id);
	e->op = (int)COLI(s, 3);
	e->attempts = (int)COLI(s, 5);
	e->next_attempt_at = COLI(s, 6);
	e->state = mid_outbox_state_parse(st->drv->column_text(s, 7));
	COLT(s, 8, e->last_error);
	e->created = COLI(s, 9);
	e->updated = COLI(s, 10);
	return mid_store_coldup(st, s, 4, &e->payload, err);
}

int mid_store_outbox_enqueue(mid_store_t *st, const char *binding, const char *person_id,
                             int op, const char *payload, int64_t *id, mid_error_t *err)
{
	int64_t now = mid_store_now(st);
	mid_db_stmt_t *s;
	int rc;
	if (op != MID_OP_UPSERT && op != MID_OP_DELETE)
		return mid_error_set(err, MID_EINVAL, 0, "outbox op %d is not valid", op);
	rc = Q(st, MID_SQ_OUT_INSERT, &s, err, "ttitiii", binding, person_id ? person_id : "",
	       (int64_t)op, payload, now, now, now);
	if (rc || (rc = mid_store_qdone(st, s, NULL, err)))
		return rc;
	if (id)
		*id = st->drv->last_insert_id(st->db);
	return MID_OK;
}

static int outbox_one(mid_store_t *st, mid_db_stmt_t *s, const char *what,
                      mid_outbox_entry_t *out, mid_error_t *err)
{
	int rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc))
		rc = outbox_row(st, s, out, err);
	else if (rc == MID_DB_DONE)
		rc = notfound(err, "outbox entry", what);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_outbox_next_due(mid_store_t *st, const char *binding, int64_t now,
                              mid_outbox_entry_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_NEXT, &s, err, "ti", binding, now);
	if (rc)
		return rc;
	rc = outbox_one(st, s, "due", out, err);
	if (rc == MID_ENOTFOUND)
		mid_error_set(err, rc, 0, "no outbox entry of %s is due", binding);
	return rc;
}

int mid_store_outbox_get(mid_store_t *st, int64_t id, mid_outbox_entry_t *out,
                         mid_error_t *err)
{
	char buf[32];
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_GET, &s, err, "i", id);
	if (rc)
		return rc;
	snprintf(buf, sizeof buf, "%lld", (long long)id);
	return outbox_one(st, s, buf, out, err);
}

int mid_store_outbox_done(mid_store_t *st, int64_t id, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_DONE, &s, err, "ii", mid_store_now(st), id);
	return rc ? rc : write1_id(st, s, "outbox entry", id, err);
}

int mid_store_outbox_retry_later(mid_store_t *st, int64_t id, int64_t when,
                                 const char *error, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_RETRY, &s, err, "itii", when, error ? error : "",
	           mid_store_now(st), id);
	return rc ? rc : write1_id(st, s, "outbox entry", id, err);
}

int mid_store_outbox_dead(mid_store_t *st, int64_t id, const char *error, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_DEAD, &s, err, "tii", error ? error : "", mid_store_now(st),
	           id);
	return rc ? rc : write1_id(st, s, "outbox entry", id, err);
}

int mid_store_outbox_list(mid_store_t *st, const char *binding, int state, int64_t offset,
                          int64_t limit, mid_outbox_entry_t **out, size_t *n,
                          mid_error_t *err)
{
	const char *b = binding ? binding : "";
	const char *sn = state ? mid_outbox_state_name(state) : "";
	mid_outbox_entry_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!sn)
		return mid_error_set(err, MID_EINVAL, 0, "outbox state %d is not valid", state);
	rc = Q(st, MID_SQ_OUT_LIST, &s, err, "ttttii", b, b, sn, sn, limit > 0 ? limit : -1,
	       offset > 0 ? offset : 0);
	if (rc)
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		rc = outbox_row(st, s, &arr[(*n)++], err);
		if (rc != MID_OK)
			break;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		mid_outbox_list_free(arr, *n);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

int mid_store_outbox_count(mid_store_t *st, const char *binding, int state, int64_t *count,
                           mid_error_t *err)
{
	const char *b = binding ? binding : "";
	const char *sn = state ? mid_outbox_state_name(state) : "";
	mid_db_stmt_t *s;
	int rc;
	*count = 0;
	if (!sn)
		return mid_error_set(err, MID_EINVAL, 0, "outbox state %d is not valid", state);
	if ((rc = Q(st, MID_SQ_OUT_COUNT, &s, err, "tttt", b, b, sn, sn)))
		return rc;
	if (ROW(s, rc)) {
		*count = COLI(s, 0);
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_outbox_replay(mid_store_t *st, const char *binding, int64_t id,
                            int64_t *count, mid_error_t *err)
{
	const char *b = binding ? binding : "";
	int64_t now = mid_store_now(st), n = 0;
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_REPLAY, &s, err, "iittii", now, now, b, b, id, id);
	if (rc)
		return rc;
	rc = mid_store_qdone(st, s, &n, err);
	if (count)
		*count = n;
	return rc;
}

int mid_store_outbox_purge_done(mid_store_t *st, int64_t before, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_OUT_PURGE, &s, err, "i", before);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

/* ---- runs --------------------------------------------------------------------------- */

int mid_store_run_start(mid_store_t *st, const char *binding, int64_t started, int dry_run,
                        int64_t *id, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_RUN_INSERT, &s, err, "tii", binding, started, (int64_t)!!dry_run);
	*id = 0;
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		*id = COLI(s, 0);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = mid_error_set(err, MID_EINTERNAL, 0, "run insert returned no id");
	}
	mid_store_qend(st, s);
	return rc;
}

static char *counts_json(const mid_run_counts_t *c)
{
	json_t *o = json_pack("{sI sI sI sI sI sI sI sI sI}",
	                      "seen", (json_int_t)c->seen, "created", (json_int_t)c->created,
	                      "updated", (json_int_t)c->updated,
	                      "unchanged", (json_int_t)c->unchanged,
	                      "suspended", (json_int_t)c->suspended,
	                      "pushed", (json_int_t)c->pushed, "failed", (json_int_t)c->failed,
	                      "disputed", (json_int_t)c->disputed,
	                      "rejected", (json_int_t)c->rejected);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return s;
}

static void counts_parse(const char *text, mid_run_counts_t *c)
{
	json_t *o = json_loads(text, 0, NULL);
	memset(c, 0, sizeof *c);
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
#define GETC(f) c->f = (int64_t)json_integer_value(json_object_get(o, #f))
	GETC(seen); GETC(created); GETC(updated); GETC(unchanged); GETC(suspended);
	GETC(pushed); GETC(failed); GETC(disputed); GETC(rejected);
#undef GETC
	json_decref(o);
}

int mid_store_run_finish(mid_store_t *st, int64_t id, int64_t finished, int status,
                         const mid_run_counts_t *counts, const char *message, int keep,
                         mid_error_t *err)
{
	mid_run_counts_t zero = { 0 };
	char binding[MID_NAME_LEN] = "", *cj = NULL;
	mid_db_stmt_t *s;
	int rc;

	if (!mid_run_status_name(status))
		return mid_error_set(err, MID_EINVAL, 0, "run status %d is not valid", status);
	if (!(cj = counts_json(counts ? counts : &zero)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if ((rc = mid_store_begin(st, err)) != MID_OK)
		goto out;
	rc = Q(st, MID_SQ_RUN_FINISH, &s, err, "ittti", finished, mid_run_status_name(status),
	       cj, message ? message : "", id);
	if (rc)
		goto tx;
	if (ROW(s, rc)) {
		COLT(s, 0, binding);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = mid_error_set(err, MID_ENOTFOUND, 0, "run %lld not found", (long long)id);
	}
	mid_store_qend(st, s);
	if (rc == MID_OK && keep > 0) {
		rc = Q(st, MID_SQ_RUN_TRIM, &s, err, "tti", binding, binding, (int64_t)keep);
		if (rc == MID_OK)
			rc = mid_store_qdone(st, s, NULL, err);
	}
tx:
	rc = mid_store_tx_end(st, rc, err);
out:
	free(cj);
	return rc;
}

static void run_row(mid_store_t *st, mid_db_stmt_t *s, mid_run_t *r)
{
	memset(r, 0, sizeof *r);
	r->id = COLI(s, 0);
	COLT(s, 1, r->binding);
	r->started = COLI(s, 2);
	r->finished = COLI(s, 3);
	r->status = mid_run_status_parse(st->drv->column_text(s, 4));
	r->dry_run = (int)COLI(s, 5);
	counts_parse(st->drv->column_text(s, 6), &r->counts);
	COLT(s, 7, r->message);
}

int mid_store_run_get(mid_store_t *st, int64_t id, mid_run_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_RUN_GET, &s, err, "i", id);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc)) {
		run_row(st, s, out);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = mid_error_set(err, MID_ENOTFOUND, 0, "run %lld not found", (long long)id);
	}
	mid_store_qend(st, s);
	return rc;
}

int mid_store_run_list(mid_store_t *st, const char *binding, int64_t limit, mid_run_t **out,
                       size_t *n, mid_error_t *err)
{
	const char *b = binding ? binding : "";
	mid_run_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_RUN_LIST, &s, err, "tti", b, b, limit > 0 ? limit : -1)))
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		run_row(st, s, &arr[(*n)++]);
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		free(arr);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

/* ---- audit ------------------------------------------------------------------------- */

void mid_audit_clear(mid_audit_t *a)
{
	if (!a)
		return;
	free(a->detail);
	memset(a, 0, sizeof *a);
}

void mid_audit_list_free(mid_audit_t *list, size_t n)
{
	size_t i;
	if (!list)
		return;
	for (i = 0; i < n; i++)
		mid_audit_clear(&list[i]);
	free(list);
}

int mid_store_audit_append(mid_store_t *st, const char *actor, const char *action,
                           const char *subject, const char *detail_json, int64_t *id,
                           mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if ((rc = mid_store_chklen("actor", actor, sizeof ((mid_audit_t *)0)->actor, err)) ||
	    (rc = mid_store_chklen("action", action, sizeof ((mid_audit_t *)0)->action, err)) ||
	    (rc = mid_store_chklen("subject", subject, sizeof ((mid_audit_t *)0)->subject, err)))
		return rc;
	rc = Q(st, MID_SQ_AUDIT_INSERT, &s, err, "itttt", mid_store_now(st), actor ? actor : "",
	       action ? action : "", subject ? subject : "", detail_json);
	if (rc || (rc = mid_store_qdone(st, s, NULL, err)))
		return rc;
	if (id)
		*id = st->drv->last_insert_id(st->db);
	return MID_OK;
}

int mid_store_audit_list(mid_store_t *st, const char *subject, int64_t before, int64_t limit,
                         mid_audit_t **out, size_t *n, mid_error_t *err)
{
	const char *sub = subject ? subject : "";
	mid_audit_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*out = NULL;
	*n = 0;
	rc = Q(st, MID_SQ_AUDIT_LIST, &s, err, "ttiii", sub, sub, before, before,
	       limit > 0 ? limit : -1);
	if (rc)
		return rc;
	while (ROW(s, rc)) {
		mid_audit_t *a;
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		a = &arr[(*n)++];
		a->id = COLI(s, 0);
		a->time = COLI(s, 1);
		COLT(s, 2, a->actor);
		COLT(s, 3, a->action);
		COLT(s, 4, a->subject);
		if ((rc = mid_store_coldup(st, s, 5, &a->detail, err)) != MID_OK)
			break;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		mid_audit_list_free(arr, *n);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

/* ---- leases ---------------------------------------------------------------------------- */

int mid_store_lease_acquire(mid_store_t *st, const char *name, const char *holder,
                            int64_t ttl_ms, int *acquired, char *other_holder,
                            int64_t *other_expires, mid_error_t *err)
{
	int64_t now = mid_store_now(st), n = 0;
	mid_db_stmt_t *s;
	int rc;

	*acquired = 0;
	if (other_holder)
		other_holder[0] = '\0';
	if (other_expires)
		*other_expires = 0;
	/* One statement: SQLite's write lock (PostgreSQL's row lock) makes
	 * the check and the take atomic across processes. */
	rc = Q(st, MID_SQ_LEASE_ACQUIRE, &s, err, "ttii", name, holder, now + ttl_ms, now);
	if (rc || (rc = mid_store_qdone(st, s, &n, err)) != MID_OK)
		return rc;
	if (n == 1) {
		*acquired = 1;
		return MID_OK;
	}
	if ((rc = Q(st, MID_SQ_LEASE_GET, &s, err, "t", name)) != MID_OK)
		return rc;
	if (ROW(s, rc)) {
		if (other_holder)
			mid_store_coltext(st, s, 0, other_holder, 128);
		if (other_expires)
			*other_expires = COLI(s, 1);
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_lease_renew(mid_store_t *st, const char *name, const char *holder,
                          int64_t ttl_ms, mid_error_t *err)
{
	int64_t now = mid_store_now(st), n = 0;
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LEASE_RENEW, &s, err, "itti", now + ttl_ms, name, holder, now);
	if (rc || (rc = mid_store_qdone(st, s, &n, err)))
		return rc;
	if (n == 0)
		return mid_error_set(err, MID_ECONFLICT, 0,
		                     "lease %s is no longer held by %s (expired or taken over)",
		                     name, holder);
	return MID_OK;
}

int mid_store_lease_release(mid_store_t *st, const char *name, const char *holder,
                            mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_LEASE_RELEASE, &s, err, "tt", name, holder);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

/* ---- secret rows ---------------------------------------------------------------------- */

int mid_store_secret_put(mid_store_t *st, const char *name, const unsigned char *nonce,
                         size_t nonce_len, const unsigned char *ct, size_t ct_len,
                         mid_error_t *err)
{
	int64_t now = mid_store_now(st);
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_SECRET_PUT, &s, err, "tbbii", name, (const void *)nonce, nonce_len,
	           (const void *)ct, ct_len, now, now);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

int mid_store_secret_get(mid_store_t *st, const char *name, unsigned char **nonce,
                         size_t *nonce_len, unsigned char **ct, size_t *ct_len,
                         mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_SECRET_GET, &s, err, "t", name);
	*nonce = *ct = NULL;
	*nonce_len = *ct_len = 0;
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		rc = mid_store_colblobdup(st, s, 0, nonce, nonce_len, err);
		if (rc == MID_OK)
			rc = mid_store_colblobdup(st, s, 1, ct, ct_len, err);
		if (rc != MID_OK) {
			free(*nonce);
			free(*ct);
			*nonce = *ct = NULL;
		}
	} else if (rc == MID_DB_DONE) {
		rc = mid_error_set(err, MID_ENOTFOUND, 0, "no secret named %s", name);
	}
	mid_store_qend(st, s);
	return rc;
}

int mid_store_secret_names(mid_store_t *st, char ***names, size_t *n, mid_error_t *err)
{
	char **arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*names = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_SECRET_NAMES, &s, err, "")))
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK ||
		    (rc = mid_store_coldup(st, s, 0, &arr[*n], err)) != MID_OK)
			break;
		(*n)++;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		mid_strv_free(arr, *n);
		*n = 0;
		return rc;
	}
	*names = arr;
	return MID_OK;
}

int mid_store_secret_remove(mid_store_t *st, const char *name, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_SECRET_REMOVE, &s, err, "t", name);
	return rc ? rc : write1(st, s, "secret", name, err);
}

/* ---- nonces ---------------------------------------------------------------------------- */

int mid_store_nonce_use(mid_store_t *st, const char *scope, const char *nonce,
                        int64_t expires, int *fresh, mid_error_t *err)
{
	int64_t now = mid_store_now(st), n = 0;
	mid_db_stmt_t *s;
	int rc;

	*fresh = 0;
	if ((++st->nonce_uses & 1023) == 0 && (rc = mid_store_nonce_prune(st, now, err)))
		return rc;
	rc = Q(st, MID_SQ_NONCE_USE, &s, err, "ttii", scope, nonce, expires, now);
	if (rc || (rc = mid_store_qdone(st, s, &n, err)))
		return rc;
	*fresh = n == 1;
	return MID_OK;
}

int mid_store_nonce_prune(mid_store_t *st, int64_t now, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_NONCE_PRUNE, &s, err, "i", now);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

/* ---- meta ------------------------------------------------------------------------------ */

int mid_store_meta_get(mid_store_t *st, const char *key, char **value, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_META_GET, &s, err, "t", key);
	*value = NULL;
	if (rc)
		return rc;
	if (ROW(s, rc))
		rc = mid_store_coldup(st, s, 0, value, err);
	else if (rc == MID_DB_DONE)
		rc = mid_error_set(err, MID_ENOTFOUND, 0, "meta value %s is not set", key);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_meta_set(mid_store_t *st, const char *key, const char *value,
                       mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_META_SET, &s, err, "tt", key, value ? value : "");
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}
