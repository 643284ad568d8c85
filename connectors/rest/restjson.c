/* connectors/rest/restjson.c -- JSON helpers of the REST connector (see
 * restjson.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connectors/rest/restjson.h"

/* ---- buffer ------------------------------------------------------------------ */

int rj_buf_add(rj_buf_t *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 128;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *p = realloc(b->p, nc);
		if (!p)
			return -1;
		b->p = p;
		b->cap = nc;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int rj_buf_adds(rj_buf_t *b, const char *s)
{
	return rj_buf_add(b, s, strlen(s));
}

void rj_buf_free(rj_buf_t *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* ---- parsing --------------------------------------------------------------------- */

static int rj_depth_ok(const json_t *v, int left)
{
	if (json_is_object(v) || json_is_array(v)) {
		if (left <= 0)
			return 0;
		if (json_is_object(v)) {
			const char *k;
			json_t *x;
			json_object_foreach((json_t *)v, k, x)
				if (!rj_depth_ok(x, left - 1))
					return 0;
		} else {
			size_t i;
			json_t *x;
			json_array_foreach(v, i, x)
				if (!rj_depth_ok(x, left - 1))
					return 0;
		}
	}
	return 1;
}

json_t *rj_parse(const char *body, size_t len, int max_depth, mid_error_t *err)
{
	json_error_t je;
	json_t *doc;

	if (!body || !len) {
		mid_error_set(err, MID_EPROTO, 0, "the response has no body (JSON expected)");
		return NULL;
	}
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!doc) {
		mid_error_set(err, MID_EPROTO, 0, "the response is not valid JSON: %s at byte %d",
		              je.text, je.position);
		return NULL;
	}
	if (!rj_depth_ok(doc, max_depth > 0 ? max_depth : 32)) {
		json_decref(doc);
		mid_error_set(err, MID_EPROTO, 0, "the response nests deeper than %d levels",
		              max_depth > 0 ? max_depth : 32);
		return NULL;
	}
	return doc;
}

/* ---- paths ------------------------------------------------------------------------- */

/* Next segment of a path into seg; returns the rest, or NULL at the end /
 * on a malformed path (*bad set). */
static const char *rj_seg(const char *p, char *seg, size_t segsz, int *bad)
{
	size_t n = 0;
	*bad = 0;
	if (!p || !*p)
		return NULL;
	if (*p == '[') {
		const char *e = strchr(p + 1, ']');
		if (!e || (size_t)(e - p - 1) >= segsz) {
			*bad = 1;
			return NULL;
		}
		n = (size_t)(e - p - 1);
		memcpy(seg, p + 1, n);
		seg[n] = '\0';
		p = e + 1;
		if (*p == '.')
			p++;
		return p;
	}
	while (*p && *p != '.' && *p != '[') {
		if (n + 1 >= segsz) {
			*bad = 1;
			return NULL;
		}
		seg[n++] = *p++;
	}
	seg[n] = '\0';
	if (*p == '.')
		p++;
	return p;
}

json_t *rj_path_get(json_t *doc, const char *path)
{
	char seg[512];
	int bad;
	const char *p = path;

	if (!path || !*path)
		return doc;
	while (doc && p && *p) {
		p = rj_seg(p, seg, sizeof seg, &bad);
		if (bad)
			return NULL;
		if (json_is_object(doc)) {
			doc = json_object_get(doc, seg);
		} else if (json_is_array(doc)) {
			char *end;
			if (!seg[0] || !isdigit((unsigned char)seg[0]))
				return NULL;
			errno = 0;
			unsigned long long i = strtoull(seg, &end, 10);
			if (*end || errno || i >= json_array_size(doc))
				return NULL;
			doc = json_array_get(doc, (size_t)i);
		} else {
			return NULL;
		}
	}
	return doc;
}

/* Scalar as text; 1 when written (a scalar), 0 for containers/null. */
static int rj_scalar(const json_t *v, char *out, size_t outsz)
{
	if (json_is_string(v))
		snprintf(out, outsz, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, outsz, "%.17g", json_real_value(v));
	else if (json_is_true(v))
		snprintf(out, outsz, "true");
	else if (json_is_false(v))
		snprintf(out, outsz, "false");
	else
		return 0;
	return 1;
}

int rj_path_text(json_t *doc, const char *path, char *out, size_t outsz)
{
	json_t *v = rj_path_get(doc, path);
	if (outsz)
		out[0] = '\0';
	if (!v || !rj_scalar(v, out, outsz))
		return 0;
	return out[0] != '\0';
}

/* ---- reconciling a collection ---------------------------------------------------- */

/* The path part of an href: after "scheme://authority" (when there is
 * one), up to '?' or '#', without trailing '/'. */
static void rj_href_path(const char *h, const char **p, size_t *n)
{
	const char *s = strstr(h, "://");
	if (s) {
		const char *slash = strchr(s + 3, '/');
		h = slash ? slash : s + strlen(s);
	}
	size_t l = strcspn(h, "?#");
	while (l && h[l - 1] == '/')
		l--;
	*p = h;
	*n = l;
}

int rj_href_same_path(const char *a, const char *b)
{
	const char *pa, *pb;
	size_t na, nb;
	if (!a || !b)
		return 0;
	rj_href_path(a, &pa, &na);
	rj_href_path(b, &pb, &nb);
	return na && na == nb && memcmp(pa, pb, na) == 0;
}

int rj_reconcile(json_t *doc, const rj_recon_t *r, const char *const *want, size_t nwant,
                 unsigned char *missing, json_t ***remove, size_t *nremove, mid_error_t *err)
{
	json_t *arr = r->items ? rj_path_get(doc, r->items) : NULL;
	size_t n = json_array_size(arr), i;
	unsigned char *kept = NULL;
	json_t *el;
	char sel[1024], key[1024];

	*remove = NULL;
	*nremove = 0;
	for (size_t w = 0; w < nwant; w++)
		missing[w] = 0;
	if (arr && !json_is_array(arr) && !json_is_null(arr))
		return mid_error_set(err, MID_EPROTO, 0, "reconcile: \"%.100s\" in the answer is not "
		                     "an array", r->items);
	if (n > r->max_items)
		return mid_error_set(err, MID_EPROTO, 0, "reconcile: \"%.100s\" has %zu elements, more "
		                     "than %zu (max_items)", r->items, n, r->max_items);
	if (nwant && !(kept = calloc(nwant, 1)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if (n && !(*remove = calloc(n, sizeof **remove))) {
		free(kept);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	json_array_foreach(arr, i, el) {
		if (r->sel_path) {
			if (!rj_path_text(el, r->sel_path, sel, sizeof sel))
				continue;
			if (r->sel_href ? !rj_href_same_path(sel, r->sel_value)
			                : strcmp(sel, r->sel_value ? r->sel_value : ""))
				continue;
		}
		int keep = 0;
		if (rj_path_text(el, r->key, key, sizeof key))
			for (size_t w = 0; w < nwant; w++)
				if (want[w] && !strcmp(want[w], key)) {
					/* the first wanted copy; an earlier element may hold it */
					keep = !kept[w];
					kept[w] = 1;
					break;
				}
		if (!keep)
			(*remove)[(*nremove)++] = el;
	}
	for (size_t w = 0; w < nwant; w++) {
		int dup = 0;
		if (!want[w] || !want[w][0] || kept[w])
			continue;
		for (size_t k = 0; k < w && !dup; k++)
			dup = want[k] && !strcmp(want[k], want[w]);
		missing[w] = !dup;
	}
	free(kept);
	if (!*nremove) {
		free(*remove);
		*remove = NULL;
	}
	return MID_OK;
}

/* ---- flattening --------------------------------------------------------------------- */

typedef struct rj_fl {
	rj_fields_t *o;
	rj_buf_t name;
	const char *const *omit;
	size_t nomit;
	int max_depth;
	mid_error_t *err;
} rj_fl_t;

static int rj_pool_add(rj_fields_t *o, const char *s, size_t n, size_t *off)
{
	if (o->plen + n + 1 > o->pcap) {
		size_t nc = o->pcap ? o->pcap : 1024;
		while (nc < o->plen + n + 1)
			nc *= 2;
		char *p = realloc(o->pool, nc);
		if (!p)
			return -1;
		o->pool = p;
		o->pcap = nc;
	}
	memcpy(o->pool + o->plen, s, n);
	o->pool[o->plen + n] = '\0';
	*off = o->plen;
	o->plen += n + 1;
	return 0;
}

static int rj_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 32;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

/* Start a field named by the current name; values follow with rj_val. */
static int rj_field_start(rj_fl_t *F)
{
	rj_fields_t *o = F->o;
	size_t cap = o->cap, off;
	if (rj_grow((void **)&o->f, &cap, o->n + 1, sizeof *o->f))
		return -1;
	size_t c2 = o->cap;
	if (rj_grow((void **)&o->name_off, &c2, o->n + 1, sizeof *o->name_off))
		return -1;
	c2 = o->cap;
	if (rj_grow((void **)&o->first_val, &c2, o->n + 1, sizeof *o->first_val))
		return -1;
	o->cap = cap;
	if (rj_pool_add(o, F->name.p ? F->name.p : "", F->name.len, &off))
		return -1;
	o->name_off[o->n] = off;
	o->first_val[o->n] = o->nvals;
	o->f[o->n].nvalues = 0;
	o->n++;
	return 0;
}

static int rj_val(rj_fl_t *F, const char *s)
{
	rj_fields_t *o = F->o;
	size_t off, cap = o->vcap;
	if (rj_grow((void **)&o->val_off, &cap, o->nvals + 1, sizeof *o->val_off))
		return -1;
	o->vcap = cap;
	if (rj_pool_add(o, s, strlen(s), &off))
		return -1;
	o->val_off[o->nvals++] = off;
	o->f[o->n - 1].nvalues++;
	return 0;
}

static int rj_omitted(const rj_fl_t *F)
{
	for (size_t i = 0; i < F->nomit; i++) {
		size_t l = strlen(F->omit[i]);
		if (F->name.len >= l && memcmp(F->name.p, F->omit[i], l) == 0 &&
		    (F->name.len == l || F->name.p[l] == '.' || F->name.p[l] == '['))
			return 1;
	}
	return 0;
}

static int rj_is_scalar(const json_t *v)
{
	return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int rj_fl_value(rj_fl_t *F, const json_t *v, int depth);

static int rj_fl_child(rj_fl_t *F, const char *seg, size_t seglen, int bracket,
                       const json_t *v, int depth)
{
	size_t keep = F->name.len;
	int rc = 0;
	if ((bracket ? rj_buf_add(&F->name, "[", 1)
	             : (keep ? rj_buf_add(&F->name, ".", 1) : 0)) ||
	    rj_buf_add(&F->name, seg, seglen) || (bracket && rj_buf_add(&F->name, "]", 1)))
		return mid_error_set(F->err, MID_ENOMEM, 0, "out of memory");
	if (!rj_omitted(F))
		rc = rj_fl_value(F, v, depth + 1);
	F->name.len = keep;
	if (F->name.p)
		F->name.p[keep] = '\0';
	return rc;
}

static int rj_fl_value(rj_fl_t *F, const json_t *v, int depth)
{
	char tmp[64];
	int rc;

	if (depth > F->max_depth)
		return mid_error_set(F->err, MID_EPROTO, 0, "a record nests deeper than %d levels",
		                     F->max_depth);
	if (json_is_null(v))
		return MID_OK;
	if (json_is_string(v)) {
		if (rj_field_start(F) || rj_val(F, json_string_value(v)))
			return mid_error_set(F->err, MID_ENOMEM, 0, "out of memory");
		return MID_OK;
	}
	if (rj_is_scalar(v)) {
		rj_scalar(v, tmp, sizeof tmp);
		if (rj_field_start(F) || rj_val(F, tmp))
			return mid_error_set(F->err, MID_ENOMEM, 0, "out of memory");
		return MID_OK;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
			if ((rc = rj_fl_child(F, k, strlen(k), 0, x, depth)))
				return rc;
		return MID_OK;
	}
	/* an array */
	size_t i, n = json_array_size(v), nscalar = 0;
	json_t *x;
	json_array_foreach(v, i, x)
		if (rj_is_scalar(x))
			nscalar++;
	if (n && nscalar == n && F->name.len) {
		if (rj_field_start(F))
			return mid_error_set(F->err, MID_ENOMEM, 0, "out of memory");
		json_array_foreach(v, i, x) {
			const char *s = tmp;
			if (json_is_string(x))
				s = json_string_value(x);
			else
				rj_scalar(x, tmp, sizeof tmp);
			if (rj_val(F, s))
				return mid_error_set(F->err, MID_ENOMEM, 0, "out of memory");
		}
		return MID_OK;
	}
	json_array_foreach(v, i, x) {
		int l = snprintf(tmp, sizeof tmp, "%zu", i);
		if ((rc = rj_fl_child(F, tmp, (size_t)l, 0, x, depth)))
			return rc;
	}
	/* [type] aliases: the first element of each type */
	json_array_foreach(v, i, x) {
		json_t *t = json_is_object(x) ? json_object_get(x, "type") : NULL;
		const char *ts = json_string_value(t);
		size_t j, dup = 0;
		if (!ts || !*ts || strlen(ts) > 64 || strpbrk(ts, "[]."))
			continue;
		for (j = 0; j < i && !dup; j++) {
			json_t *y = json_array_get(v, j);
			const char *ys = json_is_object(y) ? json_string_value(json_object_get(y, "type"))
			                                   : NULL;
			dup = ys && strcmp(ys, ts) == 0;
		}
		if (dup)
			continue;
		if ((rc = rj_fl_child(F, ts, strlen(ts), 1, x, depth)))
			return rc;
	}
	return MID_OK;
}

int rj_flatten(const json_t *rec, const char *const *omit, size_t nomit, int max_depth,
               rj_fields_t *out, mid_error_t *err)
{
	rj_fl_t F = { out, { NULL, 0, 0 }, omit, nomit, max_depth > 0 ? max_depth : 32, err };
	int rc;

	out->n = 0;
	out->plen = 0;
	out->nvals = 0;
	if (!json_is_object(rec))
		return mid_error_set(err, MID_EPROTO, 0, "a record is not a JSON object");
	rc = rj_fl_value(&F, rec, 0);
	rj_buf_free(&F.name);
	if (rc)
		return rc;
	if (rj_grow((void **)&out->vals, &out->vpcap, out->nvals + 1, sizeof *out->vals))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < out->nvals; i++)
		out->vals[i] = out->pool + out->val_off[i];
	for (size_t i = 0; i < out->n; i++) {
		out->f[i].name = out->pool + out->name_off[i];
		out->f[i].values = out->vals + out->first_val[i];
	}
	return MID_OK;
}

void rj_fields_free(rj_fields_t *f)
{
	free(f->f);
	free(f->pool);
	free(f->vals);
	free(f->name_off);
	free(f->val_off);
	free(f->first_val);
	memset(f, 0, sizeof *f);
}

/* ---- templates -------------------------------------------------------------------------- */

enum rj_mod { RJ_M_STR, RJ_M_INT, RJ_M_NUM, RJ_M_BOOL, RJ_M_ARRAY, RJ_M_JSON, RJ_M_ESC,
              RJ_M_LOWER };

int rj_has_placeholder(const char *s)
{
	const char *a = s ? strstr(s, "{{") : NULL;
	return a && strstr(a + 2, "}}") != NULL;
}

/* Parse "name|mod" (between the braces, spaces trimmed) into name and mod. */
static int rj_ph_parse(const char *s, size_t n, char *name, size_t namesz, int *mod,
                       mid_error_t *err)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	const char *bar = memchr(s, '|', n);
	size_t nl = bar ? (size_t)(bar - s) : n;
	while (nl && isspace((unsigned char)s[nl - 1]))
		nl--;
	if (!nl || nl >= namesz)
		return mid_error_set(err, MID_EINVAL, 0, "template: empty or too long placeholder "
		                     "\"{{%.*s}}\"", (int)(n > 60 ? 60 : n), s);
	memcpy(name, s, nl);
	name[nl] = '\0';
	*mod = RJ_M_STR;
	if (bar) {
		const char *m = bar + 1;
		size_t ml = n - (size_t)(m - s);
		while (ml && isspace((unsigned char)*m)) {
			m++;
			ml--;
		}
		static const struct { const char *n; int m; } mods[] = {
			{ "str", RJ_M_STR }, { "int", RJ_M_INT }, { "num", RJ_M_NUM },
			{ "bool", RJ_M_BOOL }, { "array", RJ_M_ARRAY }, { "json", RJ_M_JSON },
			{ "esc", RJ_M_ESC }, { "lower", RJ_M_LOWER },
		};
		size_t i;
		for (i = 0; i < sizeof mods / sizeof mods[0]; i++)
			if (strlen(mods[i].n) == ml && memcmp(mods[i].n, m, ml) == 0)
				break;
		if (i == sizeof mods / sizeof mods[0])
			return mid_error_set(err, MID_EINVAL, 0, "template: unknown modifier \"%.*s\" in "
			                     "{{%s|...}} (use str, int, num, bool, array, json, esc, lower)",
			                     (int)(ml > 20 ? 20 : ml), m, name);
		*mod = mods[i].m;
	}
	return MID_OK;
}

static int rj_urlenc(rj_buf_t *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			if (rj_buf_add(o, (const char *)&c, 1))
				return -1;
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			if (rj_buf_add(o, e, 3))
				return -1;
		}
	}
	return 0;
}

/* Append one value to a text expansion. */
static int rj_text_value(rj_buf_t *o, const char *v, int mod, int enc, mid_error_t *err)
{
	rj_buf_t t = { NULL, 0, 0 };
	const char *s = v;
	int rc = MID_OK;
	if (mod == RJ_M_ESC || mod == RJ_M_LOWER) {
		for (const char *p = v; *p; p++) {
			char c = *p;
			if (mod == RJ_M_ESC && (c == '"' || c == '\\') && rj_buf_add(&t, "\\", 1))
				goto nomem;
			if (mod == RJ_M_LOWER)
				c = (char)tolower((unsigned char)c);
			if (rj_buf_add(&t, &c, 1))
				goto nomem;
		}
		s = t.p ? t.p : "";
	}
	if (enc == RJ_ENC_URL ? rj_urlenc(o, s) : rj_buf_adds(o, s))
		goto nomem;
	rj_buf_free(&t);
	return rc;
nomem:
	rj_buf_free(&t);
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

/* rj_expand_text, also counting in *consts (may be NULL) the placeholders
 * whose lookup answered 2 (a setting, not a record value). */
static int rj_expand_text_c(const char *tmpl, rj_lookup_fn lookup, void *ctx, int enc,
                            rj_buf_t *out, size_t *absent, size_t *consts, mid_error_t *err)
{
	const char *p = tmpl;
	int rc;

	if (rj_buf_add(out, "", 0))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	while (*p) {
		const char *a = strstr(p, "{{"), *b;
		if (!a || !(b = strstr(a + 2, "}}"))) {
			if (rj_buf_adds(out, p))
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			break;
		}
		if (rj_buf_add(out, p, (size_t)(a - p)))
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		char name[256];
		int mod;
		if ((rc = rj_ph_parse(a + 2, (size_t)(b - a - 2), name, sizeof name, &mod, err)))
			return rc;
		const char *const *vals = NULL;
		size_t n = 0;
		int lr = lookup(ctx, name, &vals, &n);
		if (!lr || !n) {
			if (absent)
				(*absent)++;
		} else {
			if (lr == 2 && consts)
				(*consts)++;
			if ((rc = rj_text_value(out, vals[0], mod, enc, err)))
				return rc;
		}
		p = b + 2;
	}
	return MID_OK;
}

int rj_expand_text(const char *tmpl, rj_lookup_fn lookup, void *ctx, int enc, rj_buf_t *out,
                   size_t *absent, mid_error_t *err)
{
	return rj_expand_text_c(tmpl, lookup, ctx, enc, out, absent, NULL, err);
}

static int rj_bool(const char *s, int *b)
{
	if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
		*b = 1;
	else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no"))
		*b = 0;
	else
		return -1;
	return 0;
}

/* One scalar of a typed placeholder. */
static json_t *rj_typed(const char *name, const char *v, int mod, mid_error_t *err)
{
	char *end;
	json_t *r = NULL;
	switch (mod) {
	case RJ_M_INT: {
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (!*v || *end || errno)
			goto bad;
		r = json_integer(x);
		break;
	}
	case RJ_M_NUM: {
		errno = 0;
		double d = strtod(v, &end);
		if (!*v || *end || errno)
			goto bad;
		r = json_real(d);
		break;
	}
	case RJ_M_BOOL: {
		int b;
		if (rj_bool(v, &b))
			goto bad;
		r = json_boolean(b);
		break;
	}
	case RJ_M_JSON: {
		json_error_t je;
		r = json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
		if (!r)
			goto bad;
		break;
	}
	default:
		r = json_string(v);
		break;
	}
	if (!r)
		mid_error_set(err, MID_EINVAL, 0, "template: {{%s}}: the value is not valid UTF-8",
		              name);
	return r;
bad:
	mid_error_set(err, MID_EINVAL, 0, "template: {{%s}}: \"%.40s\" is not %s", name, v,
	              mod == RJ_M_INT ? "an integer" : mod == RJ_M_NUM ? "a number"
	              : mod == RJ_M_BOOL ? "a boolean" : "JSON");
	return NULL;
}

/* Expand: *out NULL with rc MID_OK means "absent" (leave out). ph/present
 * count the placeholders seen and resolved in the subtree. */
static int rj_ej(const json_t *t, rj_lookup_fn lookup, void *ctx, json_t **out, size_t *ph,
                 size_t *present, int depth, mid_error_t *err)
{
	int rc;
	*out = NULL;
	if (depth > 64)
		return mid_error_set(err, MID_EINVAL, 0, "template: nested too deeply");
	if (json_is_string(t)) {
		const char *s = json_string_value(t);
		size_t sl = json_string_length(t);
		if (!rj_has_placeholder(s)) {
			*out = json_incref((json_t *)t);
			return MID_OK;
		}
		/* exactly one placeholder: typed */
		if (sl >= 4 && s[0] == '{' && s[1] == '{' && s[sl - 1] == '}' && s[sl - 2] == '}' &&
		    !strstr(s + 2, "{{") && strstr(s + 2, "}}") == s + sl - 2) {
			char name[256];
			int mod;
			const char *const *vals = NULL;
			size_t n = 0;
			if ((rc = rj_ph_parse(s + 2, sl - 4, name, sizeof name, &mod, err)))
				return rc;
			int lr = lookup(ctx, name, &vals, &n);
			if (!lr || (!n && mod != RJ_M_ARRAY)) {
				(*ph)++;
				return MID_OK;
			}
			if (lr != 2) {
				/* a setting (lookup answered 2) is a constant: it
				 * does not keep an element whose record values are
				 * all absent */
				(*ph)++;
				(*present)++;
			}
			if (mod == RJ_M_ARRAY) {
				json_t *a = json_array();
				for (size_t i = 0; a && i < n; i++)
					if (json_array_append_new(a, json_string(vals[i]))) {
						json_decref(a);
						return mid_error_set(err, MID_EINVAL, 0,
						                     "template: {{%s}}: a value is not UTF-8", name);
					}
				*out = a;
				return a ? MID_OK : mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			}
			if (mod == RJ_M_ESC || mod == RJ_M_LOWER) {
				rj_buf_t b = { NULL, 0, 0 };
				if ((rc = rj_text_value(&b, vals[0], mod, RJ_ENC_NONE, err)))
					return rc;
				*out = json_string(b.p ? b.p : "");
				rj_buf_free(&b);
				return *out ? MID_OK : mid_error_set(err, MID_EINVAL, 0, "template: {{%s}}: "
				                                     "not UTF-8", name);
			}
			*out = rj_typed(name, vals[0], mod, err);
			return *out ? MID_OK : err->code;
		}
		/* text with placeholders */
		rj_buf_t b = { NULL, 0, 0 };
		size_t absent = 0, before = 0, consts = 0;
		for (const char *p = s; (p = strstr(p, "{{")) && strstr(p + 2, "}}"); p += 2)
			before++;
		if ((rc = rj_expand_text_c(s, lookup, ctx, RJ_ENC_NONE, &b, &absent, &consts, err))) {
			rj_buf_free(&b);
			return rc;
		}
		before -= consts < before ? consts : before;
		*ph += before;
		*present += before - (absent < before ? absent : before);
		if (before && absent >= before) {
			rj_buf_free(&b);
			return MID_OK;
		}
		*out = json_string(b.p ? b.p : "");
		rj_buf_free(&b);
		return *out ? MID_OK : mid_error_set(err, MID_EINVAL, 0, "template: not UTF-8");
	}
	if (json_is_object(t)) {
		json_t *o = json_object();
		const char *k;
		json_t *x;
		size_t ph0 = 0, pr0 = 0;
		if (!o)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		json_object_foreach((json_t *)t, k, x) {
			json_t *v;
			rj_buf_t kb = { NULL, 0, 0 };
			size_t kabsent = 0;
			if (rj_has_placeholder(k)) {
				/* a key template ("@{{$vars.pdf_email}}"): a member whose
				 * key names an absent value is left out */
				if ((rc = rj_expand_text(k, lookup, ctx, RJ_ENC_NONE, &kb, &kabsent, err))) {
					rj_buf_free(&kb);
					json_decref(o);
					return rc;
				}
				if (kabsent || !kb.p || !kb.p[0]) {
					rj_buf_free(&kb);
					continue;
				}
			}
			if ((rc = rj_ej(x, lookup, ctx, &v, &ph0, &pr0, depth + 1, err))) {
				rj_buf_free(&kb);
				json_decref(o);
				return rc;
			}
			if (v && json_object_set_new(o, kb.p ? kb.p : k, v)) {
				rj_buf_free(&kb);
				json_decref(o);
				return mid_error_set(err, MID_EINVAL, 0, "template: a key is not UTF-8");
			}
			rj_buf_free(&kb);
		}
		*ph += ph0;
		*present += pr0;
		if (ph0 && !pr0 && depth > 0) {
			json_decref(o);
			return MID_OK;
		}
		*out = o;
		return MID_OK;
	}
	if (json_is_array(t)) {
		json_t *a = json_array(), *x;
		size_t i, ph0 = 0, pr0 = 0;
		if (!a)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		json_array_foreach(t, i, x) {
			json_t *v;
			if ((rc = rj_ej(x, lookup, ctx, &v, &ph0, &pr0, depth + 1, err))) {
				json_decref(a);
				return rc;
			}
			if (v)
				json_array_append_new(a, v);
		}
		*ph += ph0;
		*present += pr0;
		if (ph0 && !pr0 && depth > 0) {
			json_decref(a);
			return MID_OK;
		}
		*out = a;
		return MID_OK;
	}
	*out = json_incref((json_t *)t);
	return MID_OK;
}

int rj_expand_json(const json_t *tmpl, rj_lookup_fn lookup, void *ctx, json_t **out,
                   mid_error_t *err)
{
	size_t ph = 0, pr = 0;
	int rc = rj_ej(tmpl, lookup, ctx, out, &ph, &pr, 0, err);
	if (rc)
		return rc;
	if (!*out)
		*out = json_is_array(tmpl) ? json_array() : json_object();
	return *out ? MID_OK : mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}
