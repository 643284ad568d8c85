/* connectors/rest/restpage_diff.c -- compare rj_page_parse with the jansson
 * path it stands for (rj_parse, rj_path_get, rj_path_text, rj_flatten) on
 * one body. Used by the unit tests and the fuzz target, not by the
 * connector. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/rest/restpage_diff.h"

static int why_set(char *why, size_t whysz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	return 1;
}

static int kind_of(const json_t *v, int want_int)
{
	if (!v)
		return RJ_PAGE_ABSENT;
	if (want_int)
		return json_is_integer(v) ? RJ_PAGE_INTEGER : RJ_PAGE_OTHER;
	return json_is_array(v) ? RJ_PAGE_ARRAY : RJ_PAGE_OTHER;
}

static int diff_record(const char *body, const rj_page_spec_t *sp, json_t *rec,
                       const rj_prec_t *r, size_t i, rj_fields_t *fl, char *why, size_t whysz)
{
	char *id = malloc(sp->id_max), *etag = malloc(sp->etag_max ? sp->etag_max : 1);
	mid_error_t err = { 0 };
	int d = 0;

	if (!id || !etag) {
		free(id);
		free(etag);
		return why_set(why, whysz, "out of memory");
	}
	/* the record's text parses to the record */
	json_t *again = json_loadb(body + r->off, r->len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	                           NULL);
	if (!again || !json_equal(again, rec)) {
		d = why_set(why, whysz, "record %zu: its text (%zu bytes at %zu) is not the record", i,
		            r->len, r->off);
		goto out;
	}
	int has_id = rj_path_text(rec, sp->rec_id, id, sp->id_max);
	int fast = json_is_object(rec) && has_id;
	if (fast != r->fast) {
		d = why_set(why, whysz, "record %zu: fast %d, expected %d", i, r->fast, fast);
		goto out;
	}
	if (!fast)
		goto out;
	if (strcmp(id, r->id)) {
		d = why_set(why, whysz, "record %zu: id \"%s\", expected \"%s\"", i, r->id, id);
		goto out;
	}
	int has_etag = sp->rec_etag && sp->etag_max &&
	               rj_path_text(rec, sp->rec_etag, etag, sp->etag_max);
	if (has_etag != (r->etag != NULL) || (has_etag && strcmp(etag, r->etag))) {
		d = why_set(why, whysz, "record %zu: etag %s, expected %s", i,
		            r->etag ? r->etag : "(none)", has_etag ? etag : "(none)");
		goto out;
	}
	if (rj_flatten(rec, sp->omit, sp->nomit, sp->max_depth, fl, &err) != MID_OK) {
		d = why_set(why, whysz, "record %zu: rj_flatten failed (%s) where the page did not",
		            i, err.text);
		goto out;
	}
	if (fl->n != r->nfields) {
		d = why_set(why, whysz, "record %zu: %zu fields, expected %zu", i, r->nfields, fl->n);
		goto out;
	}
	for (size_t k = 0; k < fl->n; k++) {
		const mid_field_t *a = &r->fields[k], *b = &fl->f[k];
		if (strcmp(a->name, b->name) || a->nvalues != b->nvalues) {
			d = why_set(why, whysz, "record %zu field %zu: \"%s\" (%zu values), expected "
			            "\"%s\" (%zu)", i, k, a->name, a->nvalues, b->name, b->nvalues);
			goto out;
		}
		for (size_t v = 0; v < a->nvalues; v++)
			if (strcmp(a->values[v], b->values[v])) {
				d = why_set(why, whysz, "record %zu field %s value %zu: \"%s\", expected "
				            "\"%s\"", i, a->name, v, a->values[v], b->values[v]);
				goto out;
			}
	}
out:
	json_decref(again);
	free(id);
	free(etag);
	return d;
}

int rj_page_diff(const char *body, size_t len, const rj_page_spec_t *sp, int *handled,
                 char *why, size_t whysz)
{
	rj_page_t pg;
	rj_fields_t fl;
	mid_error_t err = { 0 };
	int d = 0;

	memset(&pg, 0, sizeof pg);
	memset(&fl, 0, sizeof fl);
	why[0] = '\0';
	*handled = rj_page_parse(body, len, sp, &pg) == 1;
	json_t *doc = rj_parse(body, len, sp->max_depth, &err);
	if (!*handled)
		goto out;
	if (!doc) {
		d = why_set(why, whysz, "the page parser accepted what jansson refuses: %s", err.text);
		goto out;
	}
	json_t *arr = rj_path_get(doc, sp->records);
	if (kind_of(arr, 0) != pg.records) {
		d = why_set(why, whysz, "records: kind %d, expected %d", pg.records, kind_of(arr, 0));
		goto out;
	}
	if (sp->total) {
		json_t *tv = rj_path_get(doc, sp->total);
		if (kind_of(tv, 1) != pg.total ||
		    (pg.total == RJ_PAGE_INTEGER && json_integer_value(tv) != pg.total_value)) {
			d = why_set(why, whysz, "total: kind %d value %lld, expected kind %d", pg.total,
			            (long long)pg.total_value, kind_of(tv, 1));
			goto out;
		}
	}
	size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
	if (n != pg.nrec) {
		d = why_set(why, whysz, "%zu records, expected %zu", pg.nrec, n);
		goto out;
	}
	for (size_t i = 0; i < n && !d; i++)
		d = diff_record(body, sp, json_array_get(arr, i), &pg.rec[i], i, &fl, why, whysz);
out:
	json_decref(doc);
	rj_fields_free(&fl);
	rj_page_free(&pg);
	return d;
}
