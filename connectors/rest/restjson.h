/* connectors/rest/restjson.h -- JSON helpers of the REST connector: strict
 * bounded parsing, dotted paths, flattening a record into mid_field_t
 * fields, and templates (text and JSON bodies).
 *
 * Pure functions over jansson values: no I/O, no host, no globals, so the
 * fuzz target and the unit tests reach them directly.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "mobileid/connector.h"

/* ---- a growable buffer ----------------------------------------------------- */

typedef struct rj_buf {
	char *p;
	size_t len, cap;
} rj_buf_t;

/* Append n bytes (always NUL-terminated); 0 or -1 (no memory). */
int rj_buf_add(rj_buf_t *b, const char *s, size_t n);
/* Append a NUL-terminated string. */
int rj_buf_adds(rj_buf_t *b, const char *s);
/* Release the buffer and zero it. */
void rj_buf_free(rj_buf_t *b);

/* ---- parsing ------------------------------------------------------------------ */

/* Parse a response body strictly: JSON_REJECT_DUPLICATES, at most max_depth
 * levels of nesting, any JSON value at the top. Returns the value (caller
 * decrefs) or NULL with err filled (MID_EPROTO, permanent). */
json_t *rj_parse(const char *body, size_t len, int max_depth, mid_error_t *err);

/* ---- paths ---------------------------------------------------------------------- */

/* The value at a dotted path ("Resources", "name.givenName", "emails.0.value",
 * "[urn:x:y:2.0:User].employeeNumber"); "" or NULL is doc itself. Array
 * elements are reached by decimal index. Borrowed reference or NULL. */
json_t *rj_path_get(json_t *doc, const char *path);

/* A scalar at a path as text into out (strings as they are, integers and
 * reals printed, true/false). Returns 1 when a non-empty scalar was found,
 * 0 otherwise (out is ""). */
int rj_path_text(json_t *doc, const char *path, char *out, size_t outsz);

/* ---- reconciling a collection ---------------------------------------------------- */

/* Which members of a collection inside a fetched document (a cardholder's
 * cards) are managed by us, and how they compare with the keys the pushed
 * record wants (its active card numbers). */
typedef struct rj_recon {
	const char *items;       /* path of the array in the document ("cards") */
	const char *sel_path;    /* NULL: every element is ours; else the element's text here ... */
	const char *sel_value;   /* ... must equal this (after the href rule below) */
	int sel_href;            /* compare as hrefs: the path only (scheme, host, port, query and
	                          * fragment dropped; a trailing '/' ignored) */
	const char *key;         /* path of an element's key ("number") */
	size_t max_items;        /* a longer array is an error (bounded work) */
} rj_recon_t;

/* Compare. want[0..nwant) are the wanted keys (duplicates and "" are
 * ignored). On MID_OK: missing[i] is 1 for each wanted key that no
 * selected element has (the first of equal wanted keys only); remove
 * (malloc'd, caller frees; NULL when *nremove is 0) lists the selected
 * elements (borrowed from doc) whose key is not wanted, has no key, or
 * repeats a key an earlier element kept. An absent or null array is
 * empty; a non-array, or more than max_items elements, is MID_EPROTO. */
int rj_reconcile(json_t *doc, const rj_recon_t *r, const char *const *want, size_t nwant,
                 unsigned char *missing, json_t ***remove, size_t *nremove, mid_error_t *err);

/* Whether two hrefs name the same path (see rj_recon_t.sel_href). */
int rj_href_same_path(const char *a, const char *b);

/* ---- flattening ------------------------------------------------------------------ */

/* Fields of one flattened record. Storage is owned here and reused by the
 * next rj_flatten call on the same struct. */
typedef struct rj_fields {
	mid_field_t *f;
	size_t n, cap;
	/* storage */
	char *pool;              /* names and values, NUL-terminated */
	size_t plen, pcap;
	const char **vals;       /* value pointers; fields point into it */
	size_t nvals, vcap;
	/* pool offsets, resolved into pointers when flattening ends */
	size_t *name_off;
	size_t *val_off;
	size_t *first_val;
	size_t vpcap;            /* capacity of vals */
} rj_fields_t;

/* Flatten `rec` (an object) into fields as connectors/rest/README.md
 * describes (dotted names, indexes, [type] aliases, scalar arrays as
 * multi-valued fields). `omit` lists path prefixes left out (may be NULL).
 * Nesting deeper than max_depth fails. Returns MID_OK or MID_EPROTO /
 * MID_ENOMEM with err filled. */
int rj_flatten(const json_t *rec, const char *const *omit, size_t nomit, int max_depth,
               rj_fields_t *out, mid_error_t *err);
/* Release the storage of a fields struct. */
void rj_fields_free(rj_fields_t *f);

/* ---- templates ----------------------------------------------------------------------- */

/* Where template values come from: return 1 and set *values and *n when `name`
 * is known (names starting with '$' are variables), 0 when absent; 2 like 1
 * for a setting ($vars.NAME): in a JSON body it is a constant, which does
 * not keep an element whose record values are all absent. */
typedef int (*rj_lookup_fn)(void *ctx, const char *name, const char *const **values,
                            size_t *n);

enum rj_enc { RJ_ENC_NONE = 0, RJ_ENC_URL = 1 };

/* Expand a text template into out (appended). Absent placeholders expand to
 * nothing and are counted in *absent (may be NULL). enc: how values are
 * encoded (RJ_ENC_URL percent-encodes everything but unreserved
 * characters). Returns MID_OK, or MID_EINVAL with err (bad placeholder,
 * bad modifier, value not of the modifier's type). */
int rj_expand_text(const char *tmpl, rj_lookup_fn lookup, void *ctx, int enc, rj_buf_t *out,
                   size_t *absent, mid_error_t *err);

/* Expand a JSON body template (see README "Templates"); object keys are
 * templates too (a member whose key names an absent value is left out).
 * Returns a new
 * value in *out (caller decrefs) or an error; a top-level value whose
 * placeholders are all absent still gives an empty object/array. */
int rj_expand_json(const json_t *tmpl, rj_lookup_fn lookup, void *ctx, json_t **out,
                   mid_error_t *err);

/* Whether a template string contains a placeholder. */
int rj_has_placeholder(const char *s);

/* ---- list pages in one pass (restpage.c) ------------------------------------------ */

/* What a list page is read for. */
typedef struct rj_page_spec {
	const char *records;      /* "" (the document is the records array) or one member name */
	const char *total;        /* NULL, or one member name (records not "") */
	const char *rec_id;       /* paths inside a record, as rj_path_get reads them */
	const char *rec_etag;     /* NULL: none */
	const char *const *omit;  /* as rj_flatten's */
	size_t nomit;
	int max_depth;            /* as rj_parse's (and rj_flatten's) */
	size_t id_max, etag_max;  /* the buffer sizes the jansson path gives rj_path_text */
} rj_page_spec_t;

enum rj_page_kind { RJ_PAGE_ABSENT, RJ_PAGE_ARRAY, RJ_PAGE_OTHER, RJ_PAGE_INTEGER };

/* One record of a page. */
typedef struct rj_prec {
	size_t off, len;            /* its text in the body */
	int fast;                   /* 1: id, etag and fields hold what the jansson path
	                             * (rj_path_text, rj_flatten) gives; 0: deliver it
	                             * through jansson (not an object, or no id) */
	const char *id;             /* non-empty */
	const char *etag;           /* NULL when none */
	const mid_field_t *fields;
	size_t nfields;
} rj_prec_t;

typedef struct rj_prec_o {      /* (storage: offsets while parsing) */
	size_t off, len, f0, nf, id, etag;
	int fast, has_etag;
} rj_prec_o_t;

/* A parsed page. Zero it before the first use; rj_page_parse reuses the
 * storage of the previous page. */
typedef struct rj_page {
	int records;                /* RJ_PAGE_ABSENT, _ARRAY or _OTHER */
	int total;                  /* RJ_PAGE_ABSENT, _INTEGER or _OTHER */
	json_int_t total_value;
	rj_prec_t *rec;
	size_t nrec;
	/* storage */
	char *pool;
	size_t plen, pcap;
	struct { size_t name, v0, nv; } *fo;
	size_t nf, focap;
	size_t *voff;
	size_t nv, vcap;
	rj_prec_o_t *ro;
	size_t rocap;
	mid_field_t *f;
	size_t fcap;
	const char **vals;
	size_t valcap;
	size_t reccap;
} rj_page_t;

/* Whether rj_page_parse can serve this spec at all (one-member records and
 * total paths, no empty omit prefix, record paths it can follow). */
int rj_page_spec_ok(const rj_page_spec_t *sp);

/* Parse a list page in one pass. 1: *pg holds the page, exactly as the
 * jansson path (rj_parse, rj_path_get of the records and total,
 * rj_path_text of id and etag, rj_flatten) would see it. 0: declined (the
 * body is not valid JSON, or holds something this parser leaves to jansson,
 * or memory ran out): parse it with rj_parse, which gives the error if
 * there is one. Bounded: at most 65,536 fields a record, 256 MiB of
 * text a page. */
int rj_page_parse(const char *body, size_t len, const rj_page_spec_t *sp, rj_page_t *pg);
/* Empty the page, keeping its storage. */
void rj_page_reset(rj_page_t *pg);
/* Release the storage. */
void rj_page_free(rj_page_t *pg);
