/* gateway/store_people.c -- people, credentials, known PACS values, devices,
 * invitations, issuer keys, readers and admin tokens (see gateway/store.h).
 */
#include <stdlib.h>
#include <string.h>

#include "gateway/store_int.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const person_status[] = { "active", "suspended", "deleted" };
static const char *const cred_type[] = { "reusable", "single-issue" };
static const char *const cred_status[] = { "pending", "active", "suspended", "revoked",
                                           "expired" };
static const char *const key_state[] = { "current", "next", "retired" };

const char *mid_person_status_name(int s) { return mid_store_name_of(person_status, NELEM(person_status), s); }
int mid_person_status_parse(const char *n) { return mid_store_parse_name(person_status, NELEM(person_status), n); }
const char *mid_cred_type_name(int t) { return mid_store_name_of(cred_type, NELEM(cred_type), t); }
int mid_cred_type_parse(const char *n) { return mid_store_parse_name(cred_type, NELEM(cred_type), n); }
const char *mid_cred_status_name(int s) { return mid_store_name_of(cred_status, NELEM(cred_status), s); }
int mid_cred_status_parse(const char *n) { return mid_store_parse_name(cred_status, NELEM(cred_status), n); }
const char *mid_key_state_name(int s) { return mid_store_name_of(key_state, NELEM(key_state), s); }
int mid_key_state_parse(const char *n) { return mid_store_parse_name(key_state, NELEM(key_state), n); }


/* ---- people ------------------------------------------------------------------ */

void mid_person_clear(mid_person_t *p)
{
	if (!p)
		return;
	free(p->access_groups);
	free(p->attributes);
	memset(p, 0, sizeof *p);
}

static int person_check(const mid_person_t *p, char *fold, size_t foldsz, mid_error_t *err)
{
	int rc;
	if (!mid_person_status_name(p->status))
		return mid_error_set(err, MID_EINVAL, 0, "person status %d is not valid", p->status);
	if ((rc = mid_store_chklen("id", p->id, sizeof p->id, err)) != MID_OK)
		return rc;
	if (mid_fold(p->email, fold, foldsz) != MID_OK)
		return mid_error_set(err, MID_EINVAL, 0, "email is too long");
	return MID_OK;
}

int mid_store_person_create(mid_store_t *st, mid_person_t *p, mid_error_t *err)
{
	char fold[sizeof p->email];
	mid_db_stmt_t *s;
	int rc;

	if (!p->id[0])
		mid_uuid_new(p->id);
	if ((rc = person_check(p, fold, sizeof fold, err)) != MID_OK)
		return rc;
	p->created = p->updated = mid_store_now(st);
	rc = Q(st, MID_SQ_PERSON_INSERT, &s, err, "ttttttittiittii", p->id, p->employee_id,
	       p->given_name, p->family_name, p->email, "", mid_email_key(fold), p->mobile,
	       mid_person_status_name(p->status), p->valid_from, p->valid_until,
	       p->access_groups ? p->access_groups : "[]",
	       p->attributes ? p->attributes : "{}", p->created, p->updated);
	if (rc != MID_OK)
		return rc;
	rc = mid_store_qdone(st, s, NULL, err);
	if (rc == MID_ECONFLICT)
		mid_error_set(err, rc, 0, "person %s already exists", p->id);
	return rc;
}

int mid_store_person_update(mid_store_t *st, mid_person_t *p, mid_error_t *err)
{
	char fold[sizeof p->email];
	mid_db_stmt_t *s;
	int rc;

	if ((rc = person_check(p, fold, sizeof fold, err)) != MID_OK)
		return rc;
	p->updated = mid_store_now(st);
	rc = Q(st, MID_SQ_PERSON_UPDATE, &s, err, "tttttittiittit", p->employee_id,
	       p->given_name, p->family_name, p->email, "", mid_email_key(fold), p->mobile,
	       mid_person_status_name(p->status), p->valid_from, p->valid_until,
	       p->access_groups ? p->access_groups : "[]",
	       p->attributes ? p->attributes : "{}", p->updated, p->id);
	if (rc != MID_OK)
		return rc;
	return write1(st, s, "person", p->id, err);
}

/* Bind text (NULL -> ""), int64 or blob parameters of a cached statement
 * without the format string of mid_store_q: the bulk import path. */
#define BT(s, i, v) st->drv->bind_text((s), (i), (v), err)
#define BI(s, i, v) st->drv->bind_int64((s), (i), (v), err)

/* Bind a person's 15 columns (PERSON_INSERT order) at parameter o + 1. */
static int bind_person(mid_store_t *st, mid_db_stmt_t *s, int o, const mid_person_t *p,
                       int64_t email_key, mid_error_t *err)
{
	int rc;
	if ((rc = BT(s, o + 1, p->id)) || (rc = BT(s, o + 2, p->employee_id)) ||
	    (rc = BT(s, o + 3, p->given_name)) || (rc = BT(s, o + 4, p->family_name)) ||
	    (rc = BT(s, o + 5, p->email)) || (rc = BT(s, o + 6, "")) ||
	    (rc = BI(s, o + 7, email_key)) || (rc = BT(s, o + 8, p->mobile)) ||
	    (rc = BT(s, o + 9, mid_person_status_name(p->status))) ||
	    (rc = BI(s, o + 10, p->valid_from)) || (rc = BI(s, o + 11, p->valid_until)) ||
	    (rc = BT(s, o + 12, p->access_groups ? p->access_groups : "[]")) ||
	    (rc = BT(s, o + 13, p->attributes ? p->attributes : "{}")) ||
	    (rc = BI(s, o + 14, p->created)) || (rc = BI(s, o + 15, p->updated)))
		return rc;
	return MID_OK;
}

/* Bind a link's 8 columns (LINK_INSERT order) at parameter o + 1. */
static int bind_link(mid_store_t *st, mid_db_stmt_t *s, int o, const mid_link_t *l,
                     mid_error_t *err)
{
	int rc;
	if ((rc = BT(s, o + 1, l->binding)) || (rc = BT(s, o + 2, l->external_id)) ||
	    (rc = BT(s, o + 3, l->person_id)) ||
	    (rc = st->drv->bind_blob(s, o + 4, l->has_recv ? l->recv_hash : NULL, MID_HASH_LEN,
	                             err)) ||
	    (rc = st->drv->bind_blob(s, o + 5, l->has_sent ? l->sent_hash : NULL, MID_HASH_LEN,
	                             err)) ||
	    (rc = BI(s, o + 6, l->seen_run)) || (rc = BT(s, o + 7, l->etag)) ||
	    (rc = BI(s, o + 8, l->updated)))
		return rc;
	return MID_OK;
}

/* Bind a PACS value's 4 columns (PACS_ADD order) at parameter o + 1. */
static int bind_pacs(mid_store_t *st, mid_db_stmt_t *s, int o, const mid_import_row_t *r,
                     mid_error_t *err)
{
	int rc;
	if ((rc = BT(s, o + 1, r->link->binding)) || (rc = BT(s, o + 2, r->card_format)) ||
	    (rc = BI(s, o + 3, r->facility_code)) || (rc = BI(s, o + 4, r->card_number)))
		return rc;
	return MID_OK;
}

/* Check and complete one import row (ids, times); *email_key for the index. */
static int import_row_check(mid_store_t *st, const mid_import_row_t *r, int64_t now,
                            int64_t *email_key, mid_error_t *err)
{
	char fold[sizeof r->person->email];
	mid_person_t *p = r->person;
	mid_link_t *l = r->link;
	int rc;

	if (!p->id[0])
		mid_uuid_new(p->id);
	if ((rc = person_check(p, fold, sizeof fold, err)) != MID_OK ||
	    (rc = mid_store_chklen("binding", l->binding, sizeof l->binding, err)) ||
	    (rc = mid_store_chklen("external_id", l->external_id, sizeof l->external_id, err)))
		return rc;
	p->created = p->updated = l->updated = now;
	memcpy(l->person_id, p->id, MID_ID_LEN);
	*email_key = mid_email_key(fold);
	return MID_OK;
}

int mid_store_import_person(mid_store_t *st, mid_person_t *p, mid_link_t *l,
                            const char *card_format, int64_t facility_code,
                            int64_t card_number, mid_error_t *err)
{
	mid_import_row_t r = { p, l, card_format, facility_code, card_number };
	mid_db_stmt_t *s;
	int64_t key;
	int rc;

	if ((rc = import_row_check(st, &r, mid_store_now(st), &key, err)))
		return rc;
	if ((rc = mid_store_stmt(st, MID_SQ_PERSON_INSERT, &s, err)))
		return rc;
	if ((rc = bind_person(st, s, 0, p, key, err))) {
		mid_store_qend(st, s);
		return rc;
	}
	if ((rc = mid_store_qdone(st, s, NULL, err))) {
		if (rc == MID_ECONFLICT)
			mid_error_set(err, rc, 0, "person %s already exists", p->id);
		return rc;
	}

	if ((rc = mid_store_stmt(st, MID_SQ_LINK_INSERT, &s, err)))
		return rc;
	if ((rc = bind_link(st, s, 0, l, err))) {
		mid_store_qend(st, s);
		return rc;
	}
	if ((rc = mid_store_qdone(st, s, NULL, err))) {
		if (rc == MID_ECONFLICT)
			mid_error_set(err, rc, 0, "link %s/%s already exists", l->binding,
			              l->external_id);
		return rc;
	}
	l->id = st->drv->last_insert_id(st->db);

	if (!card_format)
		return MID_OK;
	if ((rc = mid_store_stmt(st, MID_SQ_PACS_ADD, &s, err)))
		return rc;
	if ((rc = bind_pacs(st, s, 0, &r, err))) {
		mid_store_qend(st, s);
		return rc;
	}
	return mid_store_qdone(st, s, NULL, err);
}

/* Insert rows[i] for the n indexes idx[] (all rows when idx is NULL) into
 * one table (kind 0 people, 1 links, 2 PACS values), 32, 8 or 1 rows a
 * statement. */
static int import_table(mid_store_t *st, int kind, const mid_import_row_t *rows,
                        const int64_t *keys, const unsigned char *idx, size_t n,
                        mid_error_t *err)
{
	static const int sq[3][3] = {
		{ MID_SQ_PERSON_INSERT32, MID_SQ_PERSON_INSERT8, MID_SQ_PERSON_INSERT },
		{ MID_SQ_LINK_INSERT32, MID_SQ_LINK_INSERT8, MID_SQ_LINK_INSERT },
		{ MID_SQ_PACS_ADD32, MID_SQ_PACS_ADD8, MID_SQ_PACS_ADD },
	};
	static const int size[3] = { 32, 8, 1 }, ncol[3] = { 15, 8, 4 };
	size_t i = 0;
	int rc;

	while (i < n) {
		int z = n - i >= 32 ? 0 : n - i >= 8 ? 1 : 2;
		mid_db_stmt_t *s;
		if ((rc = mid_store_stmt(st, sq[kind][z], &s, err)))
			return rc;
		for (int j = 0; j < size[z]; j++, i++) {
			size_t k = idx ? idx[i] : i;
			int o = j * ncol[kind];
			rc = kind == 0 ? bind_person(st, s, o, rows[k].person, keys[k], err)
			   : kind == 1 ? bind_link(st, s, o, rows[k].link, err)
			   : bind_pacs(st, s, o, &rows[k], err);
			if (rc) {
				mid_store_qend(st, s);
				return rc;
			}
		}
		if ((rc = mid_store_qdone(st, s, NULL, err))) {
			if (rc == MID_ECONFLICT)
				mid_error_set(err, rc, 0, "%s of an imported person already exists",
				              kind == 0 ? "the person" : "the link");
			return rc;
		}
	}
	return MID_OK;
}

int mid_store_import_people(mid_store_t *st, const mid_import_row_t *rows, size_t n,
                            mid_error_t *err)
{
	int64_t now = mid_store_now(st), keys[MID_IMPORT_CHUNK];
	unsigned char card[MID_IMPORT_CHUNK];
	int rc;

	for (size_t at = 0; at < n; at += MID_IMPORT_CHUNK) {
		const mid_import_row_t *r = rows + at;
		size_t m = n - at < MID_IMPORT_CHUNK ? n - at : MID_IMPORT_CHUNK, nc = 0;
		for (size_t i = 0; i < m; i++) {
			if ((rc = import_row_check(st, &r[i], now, &keys[i], err)))
				return rc;
			r[i].link->id = 0;
			if (r[i].card_format)
				card[nc++] = (unsigned char)i;
		}
		/* people first: the links refer to them */
		if ((rc = import_table(st, 0, r, keys, NULL, m, err)) ||
		    (rc = import_table(st, 1, r, keys, NULL, m, err)) ||
		    (rc = import_table(st, 2, r, keys, card, nc, err)))
			return rc;
	}
	return MID_OK;
}

int mid_store_people_empty(mid_store_t *st, int *empty, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_PEOPLE_EMPTY, &s, err, "");
	*empty = 0;
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		*empty = COLI(s, 0) == 0;
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

static int person_row(mid_store_t *st, mid_db_stmt_t *s, mid_person_t *p, mid_error_t *err)
{
	int rc;
	memset(p, 0, sizeof *p);
	COLT(s, 0, p->id);
	COLT(s, 1, p->employee_id);
	COLT(s, 2, p->given_name);
	COLT(s, 3, p->family_name);
	COLT(s, 4, p->email);
	COLT(s, 5, p->mobile);
	p->status = mid_person_status_parse(st->drv->column_text(s, 6));
	p->valid_from = COLI(s, 7);
	p->valid_until = COLI(s, 8);
	if ((rc = mid_store_coldup(st, s, 9, &p->access_groups, err)) != MID_OK ||
	    (rc = mid_store_coldup(st, s, 10, &p->attributes, err)) != MID_OK) {
		mid_person_clear(p);
		return rc;
	}
	p->created = COLI(s, 11);
	p->updated = COLI(s, 12);
	return MID_OK;
}

int mid_store_person_get(mid_store_t *st, const char *id, mid_person_t *out,
                         mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = Q(st, MID_SQ_PERSON_GET, &s, err, "t", id)) != MID_OK)
		return rc;
	if (ROW(s, rc))
		rc = person_row(st, s, out, err);
	else if (rc == MID_DB_DONE)
		rc = notfound(err, "person", id);
	mid_store_qend(st, s);
	return rc;
}

static int find_ids(mid_store_t *st, int which, const char *key, char (*ids)[MID_ID_LEN],
                    size_t max, size_t *n, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;

	*n = 0;
	if ((rc = Q(st, which, &s, err, "t", key)) != MID_OK)
		return rc;
	while (ROW(s, rc)) {
		if (*n < max && ids)
			mid_store_coltext(st, s, 0, ids[*n], MID_ID_LEN);
		(*n)++;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_person_find_employee(mid_store_t *st, const char *employee_id,
                                   char (*ids)[MID_ID_LEN], size_t max, size_t *n,
                                   mid_error_t *err)
{
	return find_ids(st, MID_SQ_PERSON_FIND_EMP, employee_id ? employee_id : "", ids, max,
	                n, err);
}

int mid_store_person_find_email(mid_store_t *st, const char *email,
                                char (*ids)[MID_ID_LEN], size_t max, size_t *n,
                                mid_error_t *err)
{
	char fold[256];
	mid_db_stmt_t *s;
	int rc;

	*n = 0;
	if (mid_fold(email, fold, sizeof fold) != MID_OK || !fold[0])
		return MID_OK; /* longer than any stored email, or empty: no match */
	if ((rc = Q(st, MID_SQ_PERSON_FIND_EMAIL, &s, err, "i", mid_email_key(fold))))
		return rc;
	while (ROW(s, rc)) {
		char f2[256];
		if (mid_fold(st->drv->column_text(s, 1), f2, sizeof f2) != MID_OK ||
		    strcmp(f2, fold) != 0)
			continue;   /* another email with the same key */
		if (*n < max && ids)
			mid_store_coltext(st, s, 0, ids[*n], MID_ID_LEN);
		(*n)++;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

int mid_store_person_set_status(mid_store_t *st, const char *id, int status,
                                mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!mid_person_status_name(status))
		return mid_error_set(err, MID_EINVAL, 0, "person status %d is not valid", status);
	rc = Q(st, MID_SQ_PERSON_SET_STATUS, &s, err, "tit", mid_person_status_name(status),
	       mid_store_now(st), id);
	return rc ? rc : write1(st, s, "person", id, err);
}

int mid_store_person_purge(mid_store_t *st, const char *id, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_PERSON_PURGE, &s, err, "t", id);
	return rc ? rc : write1(st, s, "person", id, err);
}

int mid_store_person_list(mid_store_t *st, int status, int64_t offset, int64_t limit,
                          mid_person_t **out, size_t *n, mid_error_t *err)
{
	const char *sn = status ? mid_person_status_name(status) : "";
	mid_person_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!sn)
		return mid_error_set(err, MID_EINVAL, 0, "person status %d is not valid", status);
	rc = Q(st, MID_SQ_PERSON_LIST, &s, err, "ttii", sn, sn, limit > 0 ? limit : -1,
	       offset > 0 ? offset : 0);
	if (rc != MID_OK)
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK ||
		    (rc = person_row(st, s, &arr[*n], err)) != MID_OK)
			break;
		(*n)++;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		mid_person_list_free(arr, *n);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

void mid_person_list_free(mid_person_t *list, size_t n)
{
	size_t i;
	if (!list)
		return;
	for (i = 0; i < n; i++)
		mid_person_clear(&list[i]);
	free(list);
}

int mid_store_person_count(mid_store_t *st, int status, int64_t *count, mid_error_t *err)
{
	const char *sn = status ? mid_person_status_name(status) : "";
	mid_db_stmt_t *s;
	int rc;

	*count = 0;
	if (!sn)
		return mid_error_set(err, MID_EINVAL, 0, "person status %d is not valid", status);
	if ((rc = Q(st, MID_SQ_PERSON_COUNT, &s, err, "tt", sn, sn)) != MID_OK)
		return rc;
	if (ROW(s, rc)) {
		*count = COLI(s, 0);
		rc = MID_OK;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : MID_OK;
}

/* ---- credentials --------------------------------------------------------------- */

void mid_credential_clear(mid_credential_t *c)
{
	if (!c)
		return;
	free(c->blob);
	memset(c, 0, sizeof *c);
}

static int cred_check(const mid_credential_t *c, mid_error_t *err)
{
	if (!mid_cred_type_name(c->type))
		return mid_error_set(err, MID_EINVAL, 0, "credential type %d is not valid", c->type);
	if (!mid_cred_status_name(c->status))
		return mid_error_set(err, MID_EINVAL, 0, "credential status %d is not valid",
		                     c->status);
	if (!c->format[0])
		return mid_error_set(err, MID_EINVAL, 0, "credential format is empty");
	return mid_store_chklen("format", c->format, sizeof c->format, err);
}

/* Who holds the value: fills holder with a text for a person, returns 1. */
static int value_holder(mid_store_t *st, const char *format, int64_t fc, int64_t card,
                        char *holder, size_t hsz, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc, found = 0;
	char buf[MID_NAME_LEN + 32];

	if ((rc = Q(st, MID_SQ_CRED_VALUE, &s, err, "tii", format, fc, card)) != MID_OK)
		return rc;
	if (ROW(s, rc)) {
		COLT(s, 0, buf);
		snprintf(holder, hsz, "credential %s", buf);
		found = 1;
	}
	mid_store_qend(st, s);
	if (rc < 0)
		return rc;
	if (found)
		return 1;
	if ((rc = Q(st, MID_SQ_PACS_VALUE, &s, err, "tii", format, fc, card)) != MID_OK)
		return rc;
	if (ROW(s, rc)) {
		COLT(s, 0, buf);
		snprintf(holder, hsz, "the PACS of binding %s", buf);
		found = 1;
	}
	mid_store_qend(st, s);
	return rc < 0 ? rc : found;
}

int mid_store_value_taken(mid_store_t *st, const char *format, int64_t facility_code,
                          int64_t card_number, int *taken, mid_error_t *err)
{
	char holder[160];
	int rc = value_holder(st, format, facility_code, card_number, holder, sizeof holder,
	                      err);
	*taken = rc == 1;
	return rc < 0 ? rc : MID_OK;
}

int mid_store_value_next_free(mid_store_t *st, const char *format, int64_t facility_code,
                              int64_t from, int64_t to, int64_t *card_number,
                              mid_error_t *err)
{
	size_t n = 0;

	*card_number = 0;
	return mid_store_value_free_list(st, format, facility_code, from, to, 1, card_number, &n,
	                                 err);
}

int mid_store_value_free_list(mid_store_t *st, const char *format, int64_t facility_code,
                              int64_t from, int64_t to, size_t max, int64_t *out, size_t *n,
                              mid_error_t *err)
{
	mid_db_stmt_t *a = NULL, *b = NULL;
	int rc, ra, rb;
	int64_t cand = from, va = 0, vb = 0;

	*n = 0;
	if (from > to || max == 0)
		return mid_error_set(err, MID_EINVAL, 0, "empty range %lld..%lld",
		                     (long long)from, (long long)to);
	if ((rc = Q(st, MID_SQ_CRED_RANGE, &a, err, "tiii", format, facility_code, from, to)))
		goto out;
	if ((rc = Q(st, MID_SQ_PACS_RANGE, &b, err, "tiii", format, facility_code, from, to)))
		goto out;
	/* Merge the two ordered streams of used numbers; every gap is free. */
	ra = st->drv->step(a, err);
	if (ra == MID_DB_ROW)
		va = COLI(a, 0);
	rb = st->drv->step(b, err);
	if (rb == MID_DB_ROW)
		vb = COLI(b, 0);
	while (cand <= to && *n < max) {
		if (ra < 0 || rb < 0) {
			rc = ra < 0 ? ra : rb;
			goto out;
		}
		if ((ra == MID_DB_ROW && va == cand) || (rb == MID_DB_ROW && vb == cand))
			cand++;
		else if ((ra != MID_DB_ROW || va > cand) && (rb != MID_DB_ROW || vb > cand))
			out[(*n)++] = cand++;
		if (ra == MID_DB_ROW && va < cand && (ra = st->drv->step(a, err)) == MID_DB_ROW)
			va = COLI(a, 0);
		if (rb == MID_DB_ROW && vb < cand && (rb = st->drv->step(b, err)) == MID_DB_ROW)
			vb = COLI(b, 0);
	}
	if (ra < 0 || rb < 0) {
		rc = ra < 0 ? ra : rb;
		goto out;
	}
	rc = *n ? MID_OK
	        : mid_error_set(err, MID_ELIMIT, 0,
	                        "no free card number left in %s facility %lld range %lld..%lld",
	                        format, (long long)facility_code, (long long)from, (long long)to);
out:
	mid_store_qend(st, a);
	mid_store_qend(st, b);
	return rc;
}

int mid_store_credential_insert_allocated(mid_store_t *st, mid_credential_t *c,
                                          mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;

	if (st->depth <= 0)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "mid_store_credential_insert_allocated needs a transaction");
	if ((rc = cred_check(c, err)) != MID_OK)
		return rc;
	if (!c->id[0])
		mid_uuid_new(c->id);
	c->created = c->updated = mid_store_now(st);
	rc = Q(st, MID_SQ_CRED_INSERT, &s, err, "eetiittiietbii", c->id, c->person_id,
	       c->format, c->facility_code, c->card_number, mid_cred_type_name(c->type),
	       mid_cred_status_name(c->status), c->valid_from, c->valid_until, c->device_id,
	       c->issuer_key_id[0] ? c->issuer_key_id : "", (const void *)c->blob, c->blob_len,
	       c->created, c->updated);
	if (rc == MID_OK)
		rc = mid_store_qdone(st, s, NULL, err);
	if (rc == MID_ECONFLICT && err) {
		char why[sizeof err->text];
		snprintf(why, sizeof why, "%s", err->text);
		mid_error_set(err, rc, 0, "credential %s (value %s %lld:%lld): %s", c->id, c->format,
		              (long long)c->facility_code, (long long)c->card_number, why);
	}
	return rc;
}

int mid_store_credential_create(mid_store_t *st, mid_credential_t *c, mid_error_t *err)
{
	char holder[160];
	mid_db_stmt_t *s;
	int rc;

	if ((rc = cred_check(c, err)) != MID_OK)
		return rc;
	if (!c->id[0])
		mid_uuid_new(c->id);
	if ((rc = mid_store_begin(st, err)) != MID_OK)
		return rc;
	rc = value_holder(st, c->format, c->facility_code, c->card_number, holder,
	                  sizeof holder, err);
	if (rc == 1) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "value %s %lld:%lld is already held by %s",
		                   c->format, (long long)c->facility_code,
		                   (long long)c->card_number, holder);
		goto out;
	}
	if (rc < 0)
		goto out;
	c->created = c->updated = mid_store_now(st);
	rc = Q(st, MID_SQ_CRED_INSERT, &s, err, "eetiittiietbii", c->id, c->person_id,
	       c->format, c->facility_code, c->card_number, mid_cred_type_name(c->type),
	       mid_cred_status_name(c->status), c->valid_from, c->valid_until, c->device_id,
	       c->issuer_key_id[0] ? c->issuer_key_id : "", (const void *)c->blob, c->blob_len,
	       c->created, c->updated);
	if (rc == MID_OK)
		rc = mid_store_qdone(st, s, NULL, err);
	if (rc == MID_ECONFLICT && err) {
		char why[sizeof err->text];
		snprintf(why, sizeof why, "%s", err->text);
		mid_error_set(err, rc, 0, "credential %s: %s", c->id, why);
	}
out:
	return mid_store_tx_end(st, rc, err);
}

int mid_store_credential_update(mid_store_t *st, mid_credential_t *c, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if ((rc = cred_check(c, err)) != MID_OK)
		return rc;
	c->updated = mid_store_now(st);
	rc = Q(st, MID_SQ_CRED_UPDATE, &s, err, "tiietbit", mid_cred_status_name(c->status),
	       c->valid_from, c->valid_until, c->device_id, c->issuer_key_id,
	       (const void *)c->blob, c->blob_len, c->updated, c->id);
	return rc ? rc : write1(st, s, "credential", c->id, err);
}

static int cred_row(mid_store_t *st, mid_db_stmt_t *s, mid_credential_t *c, mid_error_t *err)
{
	memset(c, 0, sizeof *c);
	COLT(s, 0, c->id);
	COLT(s, 1, c->person_id);
	COLT(s, 2, c->format);
	c->facility_code = COLI(s, 3);
	c->card_number = COLI(s, 4);
	c->type = mid_cred_type_parse(st->drv->column_text(s, 5));
	c->status = mid_cred_status_parse(st->drv->column_text(s, 6));
	c->valid_from = COLI(s, 7);
	c->valid_until = COLI(s, 8);
	COLT(s, 9, c->device_id);
	COLT(s, 10, c->issuer_key_id);
	c->created = COLI(s, 12);
	c->updated = COLI(s, 13);
	return mid_store_colblobdup(st, s, 11, &c->blob, &c->blob_len, err);
}

int mid_store_credential_get(mid_store_t *st, const char *id, mid_credential_t *out,
                             mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = Q(st, MID_SQ_CRED_GET, &s, err, "t", id)) != MID_OK)
		return rc;
	if (ROW(s, rc))
		rc = cred_row(st, s, out, err);
	else if (rc == MID_DB_DONE)
		rc = notfound(err, "credential", id);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_credential_set_status(mid_store_t *st, const char *id, int status,
                                    mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!mid_cred_status_name(status))
		return mid_error_set(err, MID_EINVAL, 0, "credential status %d is not valid", status);
	rc = Q(st, MID_SQ_CRED_SET_STATUS, &s, err, "tit", mid_cred_status_name(status),
	       mid_store_now(st), id);
	return rc ? rc : write1(st, s, "credential", id, err);
}

static int cred_collect(mid_store_t *st, mid_db_stmt_t *s, mid_credential_t **out,
                        size_t *n, mid_error_t *err)
{
	mid_credential_t *arr = NULL;
	size_t cap = 0;
	int rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		rc = cred_row(st, s, &arr[*n], err);
		(*n)++;
		if (rc != MID_OK)
			break;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		mid_credential_list_free(arr, *n);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

int mid_store_credential_list(mid_store_t *st, const char *person_id, int64_t offset,
                              int64_t limit, mid_credential_t **out, size_t *n,
                              mid_error_t *err)
{
	const char *p = person_id ? person_id : "";
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	rc = Q(st, MID_SQ_CRED_LIST, &s, err, "ttii", p, p, limit > 0 ? limit : -1,
	       offset > 0 ? offset : 0);
	return rc ? rc : cred_collect(st, s, out, n, err);
}

int mid_store_credential_list_device(mid_store_t *st, const char *device_id,
                                     mid_credential_t **out, size_t *n, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	rc = Q(st, MID_SQ_CRED_LIST_DEVICE, &s, err, "t", device_id);
	return rc ? rc : cred_collect(st, s, out, n, err);
}

void mid_credential_list_free(mid_credential_t *list, size_t n)
{
	size_t i;
	if (!list)
		return;
	for (i = 0; i < n; i++)
		mid_credential_clear(&list[i]);
	free(list);
}

int mid_store_credential_revoked_ids(mid_store_t *st, int64_t now,
                                     char (**ids)[MID_ID_LEN], size_t *n, mid_error_t *err)
{
	char (*arr)[MID_ID_LEN] = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_CRED_REVOKED, &s, err, "i", now)) != MID_OK)
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		mid_store_coltext(st, s, 0, arr[*n], MID_ID_LEN);
		(*n)++;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		free(arr);
		*n = 0;
		return rc;
	}
	*ids = arr;
	return MID_OK;
}

/* ---- known PACS values ------------------------------------------------------------ */

int mid_store_pacs_value_add(mid_store_t *st, const char *binding, const char *format,
                             int64_t facility_code, int64_t card_number, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_PACS_ADD, &s, err, "ttii", binding, format, facility_code,
	           card_number);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

int mid_store_pacs_value_remove(mid_store_t *st, const char *binding, const char *format,
                                int64_t facility_code, int64_t card_number,
                                mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_PACS_REMOVE, &s, err, "ttii", binding, format, facility_code,
	           card_number);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

int mid_store_pacs_value_clear(mid_store_t *st, const char *binding, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_PACS_CLEAR, &s, err, "t", binding);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

/* ---- devices ------------------------------------------------------------------------ */

int mid_store_device_create(mid_store_t *st, mid_device_t *d, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!d->id[0])
		mid_uuid_new(d->id);
	if (!d->enrolled)
		d->enrolled = mid_store_now(st);
	rc = Q(st, MID_SQ_DEV_INSERT, &s, err, "tbtii", d->id, (const void *)d->public_key,
	       (size_t)MID_PUBKEY_LEN, d->platform, d->enrolled, d->last_seen);
	if (rc == MID_OK)
		rc = mid_store_qdone(st, s, NULL, err);
	if (rc == MID_ECONFLICT)
		mid_error_set(err, rc, 0, "device %s or its public key is already enrolled", d->id);
	return rc;
}

static int dev_get(mid_store_t *st, mid_db_stmt_t *s, const char *what, mid_device_t *out,
                   mid_error_t *err)
{
	int rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc)) {
		COLT(s, 0, out->id);
		mid_store_colblob(st, s, 1, out->public_key, MID_PUBKEY_LEN);
		COLT(s, 2, out->platform);
		out->enrolled = COLI(s, 3);
		out->last_seen = COLI(s, 4);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = notfound(err, "device", what);
	}
	mid_store_qend(st, s);
	return rc;
}

int mid_store_device_get(mid_store_t *st, const char *id, mid_device_t *out,
                         mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_DEV_GET, &s, err, "t", id);
	return rc ? rc : dev_get(st, s, id, out, err);
}

int mid_store_device_find_key(mid_store_t *st, const unsigned char key[MID_PUBKEY_LEN],
                              mid_device_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_DEV_FIND_KEY, &s, err, "b", (const void *)key,
	           (size_t)MID_PUBKEY_LEN);
	return rc ? rc : dev_get(st, s, "with this public key", out, err);
}

int mid_store_device_touch(mid_store_t *st, const char *id, int64_t when, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_DEV_TOUCH, &s, err, "it", when, id);
	return rc ? rc : write1(st, s, "device", id, err);
}

/* ---- invitations ---------------------------------------------------------------------- */

int mid_store_invitation_create(mid_store_t *st, mid_invitation_t *inv, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!inv->id[0])
		mid_uuid_new(inv->id);
	if (!inv->delivery[0])
		snprintf(inv->delivery, sizeof inv->delivery, "shown");
	inv->created = mid_store_now(st);
	rc = Q(st, MID_SQ_INV_INSERT, &s, err, "teehiiiti", inv->id, inv->person_id,
	       inv->credential_id, (const void *)inv->code_hash, inv->expires, inv->used,
	       (int64_t)inv->attempts, inv->delivery, inv->created);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

static int inv_get(mid_store_t *st, mid_db_stmt_t *s, const char *what, mid_invitation_t *o,
                   mid_error_t *err)
{
	int rc;
	memset(o, 0, sizeof *o);
	if (ROW(s, rc)) {
		COLT(s, 0, o->id);
		COLT(s, 1, o->person_id);
		COLT(s, 2, o->credential_id);
		mid_store_colblob(st, s, 3, o->code_hash, MID_HASH_LEN);
		o->expires = COLI(s, 4);
		o->used = COLI(s, 5);
		o->attempts = (int)COLI(s, 6);
		COLT(s, 7, o->delivery);
		o->created = COLI(s, 8);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = notfound(err, "invitation", what);
	}
	return rc;
}

int mid_store_invitation_get(mid_store_t *st, const char *id, mid_invitation_t *out,
                             mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_INV_GET, &s, err, "t", id);
	if (rc)
		return rc;
	rc = inv_get(st, s, id, out, err);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_invitation_find_code(mid_store_t *st, const unsigned char hash[MID_HASH_LEN],
                                   mid_invitation_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_INV_FIND_CODE, &s, err, "h", (const void *)hash);
	if (rc)
		return rc;
	rc = inv_get(st, s, "with this code", out, err);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_invitation_use(mid_store_t *st, const char *id, int64_t now, mid_error_t *err)
{
	mid_invitation_t inv;
	mid_db_stmt_t *s;
	int64_t n = 0;
	int rc;

	if ((rc = Q(st, MID_SQ_INV_USE, &s, err, "iti", now > 0 ? now : 1, id, now)) != MID_OK)
		return rc;
	if ((rc = mid_store_qdone(st, s, &n, err)) != MID_OK || n == 1)
		return rc;
	if ((rc = mid_store_invitation_get(st, id, &inv, err)) != MID_OK)
		return rc;
	if (inv.used != 0)
		return mid_error_set(err, MID_ECONFLICT, 0, "invitation %s was already used or "
		                     "replaced by a newer one", id);
	return mid_error_set(err, MID_ELIMIT, 0, "invitation %s has expired", id);
}

int mid_store_invitation_attempt(mid_store_t *st, const char *id, int *attempts,
                                 mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_INV_ATTEMPT, &s, err, "t", id);
	if (rc)
		return rc;
	if (ROW(s, rc)) {
		if (attempts)
			*attempts = (int)COLI(s, 0);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = notfound(err, "invitation", id);
	}
	mid_store_qend(st, s);
	return rc;
}

int mid_store_invitation_invalidate_person(mid_store_t *st, const char *person_id,
                                           mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_INV_INVALIDATE, &s, err, "t", person_id);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

int mid_store_invitation_list(mid_store_t *st, const char *person_id,
                              mid_invitation_t **out, size_t *n, mid_error_t *err)
{
	const char *p = person_id ? person_id : "";
	mid_invitation_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_INV_LIST, &s, err, "tt", p, p)) != MID_OK)
		return rc;
	for (;;) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		rc = inv_get(st, s, "", &arr[*n], err);
		if (rc != MID_OK)
			break;
		(*n)++;
	}
	mid_store_qend(st, s);
	if (rc != MID_ENOTFOUND) {
		free(arr);
		*n = 0;
		return rc;
	}
	if (err)
		memset(err, 0, sizeof *err);
	*out = arr;
	return MID_OK;
}

/* ---- issuer keys ---------------------------------------------------------------------- */

void mid_issuer_key_clear(mid_issuer_key_t *k)
{
	if (!k)
		return;
	free(k->secret_enc);
	memset(k, 0, sizeof *k);
}

int mid_store_issuer_key_add(mid_store_t *st, mid_issuer_key_t *k, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!k->key_id[0] || !mid_key_state_name(k->state))
		return mid_error_set(err, MID_EINVAL, 0, "issuer key needs a key id and a state");
	if (!k->created)
		k->created = mid_store_now(st);
	rc = Q(st, MID_SQ_KEY_INSERT, &s, err, "tbbti", k->key_id, (const void *)k->public_key,
	       (size_t)MID_PUBKEY_LEN, (const void *)k->secret_enc, k->secret_enc_len,
	       mid_key_state_name(k->state), k->created);
	if (rc == MID_OK)
		rc = mid_store_qdone(st, s, NULL, err);
	if (rc == MID_ECONFLICT)
		mid_error_set(err, rc, 0, "issuer key %s already exists", k->key_id);
	return rc;
}

static int key_row(mid_store_t *st, mid_db_stmt_t *s, mid_issuer_key_t *k, mid_error_t *err)
{
	memset(k, 0, sizeof *k);
	COLT(s, 0, k->key_id);
	mid_store_colblob(st, s, 1, k->public_key, MID_PUBKEY_LEN);
	k->state = mid_key_state_parse(st->drv->column_text(s, 3));
	k->created = COLI(s, 4);
	return mid_store_colblobdup(st, s, 2, &k->secret_enc, &k->secret_enc_len, err);
}

static int key_one(mid_store_t *st, mid_db_stmt_t *s, const char *what, mid_issuer_key_t *out,
                   mid_error_t *err)
{
	int rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc))
		rc = key_row(st, s, out, err);
	else if (rc == MID_DB_DONE)
		rc = notfound(err, "issuer key", what);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_issuer_key_get(mid_store_t *st, const char *key_id, mid_issuer_key_t *out,
                             mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_KEY_GET, &s, err, "t", key_id);
	return rc ? rc : key_one(st, s, key_id, out, err);
}

int mid_store_issuer_key_get_state(mid_store_t *st, int state, mid_issuer_key_t *out,
                                   mid_error_t *err)
{
	mid_db_stmt_t *s;
	const char *n = mid_key_state_name(state);
	int rc;
	if (!n)
		return mid_error_set(err, MID_EINVAL, 0, "key state %d is not valid", state);
	if ((rc = Q(st, MID_SQ_KEY_GET_STATE, &s, err, "t", n)) != MID_OK)
		return rc;
	return key_one(st, s, n, out, err);
}

int mid_store_issuer_key_set_state(mid_store_t *st, const char *key_id, int state,
                                   mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!mid_key_state_name(state))
		return mid_error_set(err, MID_EINVAL, 0, "key state %d is not valid", state);
	rc = Q(st, MID_SQ_KEY_SET_STATE, &s, err, "tt", mid_key_state_name(state), key_id);
	return rc ? rc : write1(st, s, "issuer key", key_id, err);
}

int mid_store_issuer_key_list(mid_store_t *st, mid_issuer_key_t **out, size_t *n,
                              mid_error_t *err)
{
	mid_issuer_key_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_KEY_LIST, &s, err, "")) != MID_OK)
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		rc = key_row(st, s, &arr[*n], err);
		(*n)++;
		if (rc != MID_OK)
			break;
	}
	mid_store_qend(st, s);
	if (rc < 0) {
		mid_issuer_key_list_free(arr, *n);
		*n = 0;
		return rc;
	}
	*out = arr;
	return MID_OK;
}

void mid_issuer_key_list_free(mid_issuer_key_t *list, size_t n)
{
	size_t i;
	if (!list)
		return;
	for (i = 0; i < n; i++)
		mid_issuer_key_clear(&list[i]);
	free(list);
}

/* ---- readers, admin tokens ---------------------------------------------------------------- */

int mid_store_reader_add(mid_store_t *st, mid_reader_t *r, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	if (!r->id[0])
		mid_uuid_new(r->id);
	r->created = mid_store_now(st);
	rc = Q(st, MID_SQ_READER_INSERT, &s, err, "tthi", r->id, r->name,
	       (const void *)r->token_hash, r->created);
	return rc ? rc : mid_store_qdone(st, s, NULL, err);
}

static int reader_row(mid_store_t *st, mid_db_stmt_t *s, mid_reader_t *r)
{
	memset(r, 0, sizeof *r);
	COLT(s, 0, r->id);
	COLT(s, 1, r->name);
	mid_store_colblob(st, s, 2, r->token_hash, MID_HASH_LEN);
	r->created = COLI(s, 3);
	return MID_OK;
}

static int reader_one(mid_store_t *st, mid_db_stmt_t *s, const char *what, mid_reader_t *out,
                      mid_error_t *err)
{
	int rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc))
		rc = reader_row(st, s, out);
	else if (rc == MID_DB_DONE)
		rc = notfound(err, "reader", what);
	mid_store_qend(st, s);
	return rc;
}

int mid_store_reader_get(mid_store_t *st, const char *id, mid_reader_t *out,
                         mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_READER_GET, &s, err, "t", id);
	return rc ? rc : reader_one(st, s, id, out, err);
}

int mid_store_reader_find_token(mid_store_t *st, const unsigned char hash[MID_HASH_LEN],
                                mid_reader_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_READER_FIND, &s, err, "h", (const void *)hash);
	return rc ? rc : reader_one(st, s, "with this token", out, err);
}

int mid_store_reader_set_token(mid_store_t *st, const char *id,
                               const unsigned char hash[MID_HASH_LEN], mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_READER_SET_TOKEN, &s, err, "ht", (const void *)hash, id);
	return rc ? rc : write1(st, s, "reader", id, err);
}

int mid_store_reader_remove(mid_store_t *st, const char *id, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_READER_REMOVE, &s, err, "t", id);
	return rc ? rc : write1(st, s, "reader", id, err);
}

int mid_store_reader_list(mid_store_t *st, mid_reader_t **out, size_t *n, mid_error_t *err)
{
	mid_reader_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_READER_LIST, &s, err, "")) != MID_OK)
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		reader_row(st, s, &arr[(*n)++]);
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

int mid_store_token_add(mid_store_t *st, mid_admin_token_t *t, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc;
	t->created = mid_store_now(st);
	rc = Q(st, MID_SQ_TOKEN_INSERT, &s, err, "hti", (const void *)t->hash, t->name,
	       t->created);
	if (rc == MID_OK)
		rc = mid_store_qdone(st, s, NULL, err);
	if (rc == MID_ECONFLICT)
		mid_error_set(err, rc, 0, "an admin token named %s already exists", t->name);
	return rc;
}

static void token_row(mid_store_t *st, mid_db_stmt_t *s, mid_admin_token_t *t)
{
	memset(t, 0, sizeof *t);
	mid_store_colblob(st, s, 0, t->hash, MID_HASH_LEN);
	COLT(s, 1, t->name);
	t->created = COLI(s, 2);
}

int mid_store_token_find(mid_store_t *st, const unsigned char hash[MID_HASH_LEN],
                         mid_admin_token_t *out, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_TOKEN_FIND, &s, err, "h", (const void *)hash);
	if (rc)
		return rc;
	memset(out, 0, sizeof *out);
	if (ROW(s, rc)) {
		token_row(st, s, out);
		rc = MID_OK;
	} else if (rc == MID_DB_DONE) {
		rc = notfound(err, "admin token", "");
	}
	mid_store_qend(st, s);
	return rc;
}

int mid_store_token_remove(mid_store_t *st, const char *name, mid_error_t *err)
{
	mid_db_stmt_t *s;
	int rc = Q(st, MID_SQ_TOKEN_REMOVE, &s, err, "t", name);
	return rc ? rc : write1(st, s, "admin token", name, err);
}

int mid_store_token_list(mid_store_t *st, mid_admin_token_t **out, size_t *n,
                         mid_error_t *err)
{
	mid_admin_token_t *arr = NULL;
	size_t cap = 0;
	mid_db_stmt_t *s;
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = Q(st, MID_SQ_TOKEN_LIST, &s, err, "")) != MID_OK)
		return rc;
	while (ROW(s, rc)) {
		if ((rc = mid_store_grow((void **)&arr, &cap, *n, sizeof *arr, err)) != MID_OK)
			break;
		token_row(st, s, &arr[(*n)++]);
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
