/* gateway/mapper.c -- declarative field mapping (see gateway/mapper.h). */
#include <config.h>
#include "gateway/mapper.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

static const char *const mp_names[MID_CF_N] = {
	"employee_id", "given_name", "family_name", "email", "mobile", "status",
	"valid_from", "valid_until", "access_groups", "facility_code", "card_number",
	"card_format",
};

const char *mid_cf_name(int f)
{
	return f >= 0 && f < MID_CF_N ? mp_names[f] : NULL;
}

int mid_cf_parse(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < MID_CF_N; i++)
		if (strcmp(name, mp_names[i]) == 0)
			return i;
	/* The names of schemas/person.schema.json, which profiles and the
	 * config validator use, are accepted as aliases. */
	if (strcmp(name, "mobile_phone") == 0)
		return MID_CF_MOBILE;
	if (strcmp(name, "credential.facility_code") == 0)
		return MID_CF_FACILITY_CODE;
	if (strcmp(name, "credential.card_number") == 0)
		return MID_CF_CARD_NUMBER;
	if (strcmp(name, "credential.format") == 0 || strcmp(name, "credential.card_format") == 0)
		return MID_CF_CARD_FORMAT;
	return -1;
}

const char *mid_canon_str(const mid_canon_t *c, int f)
{
	if (!(c->present & (1u << f)) || c->f[f].n == 0 || !c->f[f].v[0])
		return "";
	return c->f[f].v[0];
}

/* ---- arena ------------------------------------------------------------------ */

struct mid_arena_chunk {
	mid_arena_chunk_t *next;
	size_t size, used;
	_Alignas(max_align_t) unsigned char data[];
};

void *mid_arena_alloc(mid_arena_t *a, size_t n)
{
	mid_arena_chunk_t *c = a->head;
	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t sz = n > 65536 ? n : 65536;
		mid_arena_chunk_t *nc = malloc(sizeof *nc + sz);
		if (!nc)
			return NULL;
		nc->size = sz;
		nc->used = 0;
		nc->next = c;
		a->head = c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

char *mid_arena_strndup(mid_arena_t *a, const char *s, size_t n)
{
	char *p = mid_arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void mid_arena_reset(mid_arena_t *a)
{
	mid_arena_chunk_t *c = a->head;
	if (!c)
		return;
	/* keep the oldest (last in the list) chunk */
	while (c->next) {
		mid_arena_chunk_t *n = c->next;
		free(c);
		c = n;
	}
	c->used = 0;
	a->head = c;
}

void mid_arena_free(mid_arena_t *a)
{
	mid_arena_chunk_t *c = a->head;
	while (c) {
		mid_arena_chunk_t *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
}

/* ---- compiled mappings ---------------------------------------------------------- */

enum { MP_T_TRIM = 1, MP_T_LOWER, MP_T_UPPER, MP_T_DATE, MP_T_SPLIT, MP_T_JOIN,
       MP_T_DEFAULT, MP_T_LOOKUP };

typedef struct mp_lookup_ent {
	char *from, *to;
} mp_lookup_ent_t;

typedef struct mp_xform {
	int kind;
	char *arg;          /* date format, separator, default value */
	int date_time;      /* the date format has a time of day */
	mp_lookup_ent_t *lk; /* lookup table (sorted by from) */
	size_t nlk;
	char *lk_default;   /* "*" entry, or NULL */
} mp_xform_t;

typedef struct mp_rule {
	char *target;       /* target field name (outbound) or attribute key */
	int cf;             /* canonical field (inbound target / outbound source); -1 attr */
	char *src;          /* source field (inbound) or attribute key (outbound from) */
	char **cvals;       /* const values, or NULL */
	size_t ncvals;
	int is_const;
	mp_xform_t *x;
	size_t nx;
	size_t hint;        /* inbound: index where src was found last time */
} mp_rule_t;

struct mid_mapper {
	mp_rule_t *in, *out;
	size_t nin, nout;
	unsigned in_mask, out_mask;
	mid_arena_t arena;
	mid_field_t *ofields;
	size_t ocap;
	mid_attr_t *attrs;
	size_t attrcap;
	unsigned char *hbuf;
	size_t hcap;
};

static void mp_rule_free(mp_rule_t *r)
{
	free(r->target);
	free(r->src);
	for (size_t i = 0; i < r->ncvals; i++)
		free(r->cvals[i]);
	free(r->cvals);
	for (size_t i = 0; i < r->nx; i++) {
		free(r->x[i].arg);
		for (size_t k = 0; k < r->x[i].nlk; k++) {
			free(r->x[i].lk[k].from);
			free(r->x[i].lk[k].to);
		}
		free(r->x[i].lk);
		free(r->x[i].lk_default);
	}
	free(r->x);
}

void mid_mapper_free(mid_mapper_t *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nin; i++)
		mp_rule_free(&m->in[i]);
	for (size_t i = 0; i < m->nout; i++)
		mp_rule_free(&m->out[i]);
	free(m->in);
	free(m->out);
	mid_arena_free(&m->arena);
	free(m->ofields);
	free(m->attrs);
	free(m->hbuf);
	free(m);
}

unsigned mid_mapper_inbound_fields(const mid_mapper_t *m)
{
	return m->in_mask;
}

unsigned mid_mapper_outbound_fields(const mid_mapper_t *m)
{
	return m->out_mask;
}

static int mp_lk_cmp(const void *a, const void *b)
{
	return strcmp(((const mp_lookup_ent_t *)a)->from, ((const mp_lookup_ent_t *)b)->from);
}

static char *mp_scalar_text(const json_t *v)
{
	char buf[64];
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		return strdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
		return strdup(buf);
	}
	if (json_is_boolean(v))
		return strdup(json_is_true(v) ? "true" : "false");
	return NULL;
}

static int mp_date_has_time(const char *fmt)
{
	for (const char *p = fmt; *p; p++)
		if (*p == '%' && p[1]) {
			p++;
			if (strchr("HMSTRIprs", *p))
				return 1;
		}
	return 0;
}

static int mp_compile_xform(const json_t *t, const char *path, size_t idx, mp_xform_t *x,
                            mid_error_t *err)
{
	const char *key;
	json_t *v;
	memset(x, 0, sizeof *x);
	if (json_is_string(t)) {
		const char *s = json_string_value(t);
		if (strcmp(s, "trim") == 0)
			x->kind = MP_T_TRIM;
		else if (strcmp(s, "lower") == 0)
			x->kind = MP_T_LOWER;
		else if (strcmp(s, "upper") == 0)
			x->kind = MP_T_UPPER;
		else
			return mid_error_set(err, MID_EINVAL, 0,
			                     "%s.transform[%zu]: unknown transform \"%s\" (use trim, lower, "
			                     "upper, or an object: date, split, join, default, lookup)",
			                     path, idx, s);
		return MID_OK;
	}
	if (!json_is_object(t) || json_object_size(t) != 1)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "%s.transform[%zu]: a transform is a name or an object with "
		                     "one key", path, idx);
	json_object_foreach((json_t *)t, key, v) {
		if (strcmp(key, "lookup") == 0) {
			const char *k2;
			json_t *v2;
			if (!json_is_object(v))
				return mid_error_set(err, MID_EINVAL, 0,
				                     "%s.transform[%zu].lookup: must be an object of strings",
				                     path, idx);
			x->kind = MP_T_LOOKUP;
			x->lk = calloc(json_object_size(v) + 1, sizeof *x->lk);
			if (!x->lk)
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			json_object_foreach(v, k2, v2) {
				char *to = mp_scalar_text(v2);
				if (!to)
					return mid_error_set(err, MID_EINVAL, 0,
					                     "%s.transform[%zu].lookup.%s: must be a string",
					                     path, idx, k2);
				if (strcmp(k2, "*") == 0) {
					free(x->lk_default);
					x->lk_default = to;
					continue;
				}
				x->lk[x->nlk].from = strdup(k2);
				x->lk[x->nlk++].to = to;
			}
			qsort(x->lk, x->nlk, sizeof *x->lk, mp_lk_cmp);
			return MID_OK;
		}
		if (strcmp(key, "date") == 0)
			x->kind = MP_T_DATE;
		else if (strcmp(key, "split") == 0)
			x->kind = MP_T_SPLIT;
		else if (strcmp(key, "join") == 0)
			x->kind = MP_T_JOIN;
		else if (strcmp(key, "default") == 0)
			x->kind = MP_T_DEFAULT;
		else
			return mid_error_set(err, MID_EINVAL, 0,
			                     "%s.transform[%zu]: unknown transform \"%s\" (use date, split, "
			                     "join, default or lookup)", path, idx, key);
		x->arg = mp_scalar_text(v);
		if (!x->arg || ((x->kind == MP_T_SPLIT || x->kind == MP_T_DATE) && !x->arg[0]))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "%s.transform[%zu].%s: must be a non-empty string", path,
			                     idx, key);
		if (x->kind == MP_T_DATE)
			x->date_time = mp_date_has_time(x->arg);
	}
	return MID_OK;
}

/* Compile one rule. `inbound`: key is a canonical field, "from" a source
 * field; else key is a target field and "from" a canonical field. */
static int mp_compile_rule(const char *key, const json_t *v, int inbound, const char *path,
                           mp_rule_t *r, mid_error_t *err)
{
	char rpath[256];
	const char *from = NULL;
	json_t *t, *c;
	int rc;

	memset(r, 0, sizeof *r);
	r->cf = -1;
	snprintf(rpath, sizeof rpath, "%s.%s", path, key);
	if (inbound) {
		r->cf = mid_cf_parse(key);
		if (r->cf < 0) {
			if (strncmp(key, "attributes.", 11) != 0 || !key[11])
				return mid_error_set(err, MID_EINVAL, 0,
				                     "%s: \"%s\" is not a canonical field (use employee_id, "
				                     "given_name, family_name, email, mobile, status, "
				                     "valid_from, valid_until, access_groups, facility_code, "
				                     "card_number, card_format or attributes.NAME)", rpath, key);
			r->target = strdup(key + 11);
		}
	} else {
		r->target = strdup(key);
	}
	if (json_is_string(v)) {
		from = json_string_value(v);
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x)
			if (strcmp(k, "from") && strcmp(k, "transform") && strcmp(k, "const"))
				return mid_error_set(err, MID_EINVAL, 0,
				                     "%s: unknown key \"%s\" (use from, transform, const)",
				                     rpath, k);
		t = json_object_get(v, "from");
		c = json_object_get(v, "const");
		if (t && c)
			return mid_error_set(err, MID_EINVAL, 0, "%s: give either from or const", rpath);
		if (t) {
			if (!json_is_string(t) || !json_string_length(t))
				return mid_error_set(err, MID_EINVAL, 0, "%s.from: must be a field name",
				                     rpath);
			from = json_string_value(t);
		} else if (c) {
			r->is_const = 1;
			if (json_is_array(c)) {
				r->cvals = calloc(json_array_size(c) + 1, sizeof *r->cvals);
				for (size_t i = 0; r->cvals && i < json_array_size(c); i++)
					if (!(r->cvals[r->ncvals++] = mp_scalar_text(json_array_get(c, i))))
						return mid_error_set(err, MID_EINVAL, 0,
						                     "%s.const[%zu]: must be a string or number",
						                     rpath, i);
			} else if (!json_is_null(c)) {
				r->cvals = calloc(1, sizeof *r->cvals);
				if (r->cvals && !(r->cvals[r->ncvals++] = mp_scalar_text(c)))
					return mid_error_set(err, MID_EINVAL, 0,
					                     "%s.const: must be a string, number or array",
					                     rpath);
			}
		} else {
			return mid_error_set(err, MID_EINVAL, 0, "%s: needs \"from\" or \"const\"", rpath);
		}
		t = json_object_get(v, "transform");
		if (t) {
			if (!json_is_array(t))
				return mid_error_set(err, MID_EINVAL, 0, "%s.transform: must be an array",
				                     rpath);
			r->x = calloc(json_array_size(t) + 1, sizeof *r->x);
			if (!r->x)
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			for (size_t i = 0; i < json_array_size(t); i++) {
				r->nx++;
				if ((rc = mp_compile_xform(json_array_get(t, i), rpath, i, &r->x[i], err)))
					return rc;
			}
		}
	} else {
		return mid_error_set(err, MID_EINVAL, 0,
		                     "%s: must be a field name or an object with from/const", rpath);
	}
	if (from) {
		if (inbound) {
			r->src = strdup(from);
		} else {
			r->cf = mid_cf_parse(from);
			if (r->cf < 0) {
				if (strncmp(from, "attributes.", 11) != 0 || !from[11])
					return mid_error_set(err, MID_EINVAL, 0,
					                     "%s.from: \"%s\" is not a canonical field", rpath,
					                     from);
				r->src = strdup(from + 11);
			}
		}
	}
	return MID_OK;
}

static int mp_attr_rule_cmp(const void *a, const void *b)
{
	const mp_rule_t *x = a, *y = b;
	if ((x->cf < 0) != (y->cf < 0))
		return x->cf < 0 ? 1 : -1;
	if (x->cf >= 0)
		return x->cf - y->cf;
	return strcmp(x->target, y->target);
}

static int mp_identity(mid_mapper_t *m, int inbound)
{
	mp_rule_t *rs = calloc(MID_CF_N, sizeof *rs);
	if (!rs)
		return MID_ENOMEM;
	for (int f = 0; f < MID_CF_N; f++) {
		rs[f].cf = f;
		if (inbound) {
			rs[f].src = strdup(mp_names[f]);
			if (f == MID_CF_ACCESS_GROUPS) {
				rs[f].x = calloc(1, sizeof *rs[f].x);
				if (rs[f].x) {
					rs[f].x->kind = MP_T_SPLIT;
					rs[f].x->arg = strdup(";");
					rs[f].nx = 1;
				}
			}
		} else {
			rs[f].target = strdup(mp_names[f]);
		}
	}
	if (inbound) {
		m->in = rs;
		m->nin = MID_CF_N;
	} else {
		m->out = rs;
		m->nout = MID_CF_N;
	}
	return MID_OK;
}

static int mp_compile_dir(mid_mapper_t *m, const json_t *dir, int inbound, mid_error_t *err)
{
	const char *path = inbound ? "mapping.inbound" : "mapping.outbound";
	const char *k;
	json_t *v;
	mp_rule_t *rs;
	size_t n = 0;
	int rc;

	if (!dir || (json_is_object(dir) && json_object_size(dir) == 0))
		return mp_identity(m, inbound) ? mid_error_set(err, MID_ENOMEM, 0, "out of memory")
		                               : MID_OK;
	if (!json_is_object(dir))
		return mid_error_set(err, MID_EINVAL, 0, "%s: must be an object", path);
	rs = calloc(json_object_size(dir), sizeof *rs);
	if (!rs)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if (inbound) {
		m->in = rs;
	} else {
		m->out = rs;
	}
	json_object_foreach((json_t *)dir, k, v) {
		rc = mp_compile_rule(k, v, inbound, path, &rs[n], err);
		n++;
		if (inbound)
			m->nin = n;
		else
			m->nout = n;
		if (rc)
			return rc;
	}
	if (inbound)
		qsort(rs, n, sizeof *rs, mp_attr_rule_cmp);
	return MID_OK;
}

int mid_mapper_compile(const json_t *mapping, mid_mapper_t **out, mid_error_t *err)
{
	mid_mapper_t *m;
	int rc;

	*out = NULL;
	if (mapping && !json_is_object(mapping))
		return mid_error_set(err, MID_EINVAL, 0, "mapping: must be an object");
	if (mapping) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)mapping, k, v)
			if (strcmp(k, "inbound") && strcmp(k, "outbound"))
				return mid_error_set(err, MID_EINVAL, 0,
				                     "mapping: unknown key \"%s\" (use inbound, outbound)", k);
	}
	m = calloc(1, sizeof *m);
	if (!m)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if ((rc = mp_compile_dir(m, mapping ? json_object_get(mapping, "inbound") : NULL, 1, err)) ||
	    (rc = mp_compile_dir(m, mapping ? json_object_get(mapping, "outbound") : NULL, 0, err))) {
		mid_mapper_free(m);
		return rc;
	}
	for (size_t i = 0; i < m->nin; i++)
		m->in_mask |= m->in[i].cf >= 0 ? 1u << m->in[i].cf : MID_CF_ATTRS;
	for (size_t i = 0; i < m->nout; i++)
		if (!m->out[i].is_const)
			m->out_mask |= m->out[i].cf >= 0 ? 1u << m->out[i].cf : MID_CF_ATTRS;
	*out = m;
	return MID_OK;
}

/* ---- transforms ----------------------------------------------------------------- */

/* Apply transforms to vals (arrays allocated in a). */
static int mp_apply(mid_arena_t *a, const mp_xform_t *xs, size_t nx, mid_vals_t *vals,
                    const char *what, mid_error_t *err)
{
	for (size_t t = 0; t < nx; t++) {
		const mp_xform_t *x = &xs[t];
		switch (x->kind) {
		case MP_T_TRIM:
			for (size_t i = 0; i < vals->n; i++) {
				const char *s = vals->v[i], *e;
				while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
					s++;
				e = s + strlen(s);
				while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
				                 e[-1] == '\n'))
					e--;
				if (s != vals->v[i] || *e) {
					if (!(vals->v[i] = mid_arena_strndup(a, s, (size_t)(e - s))))
						goto nomem;
				}
			}
			break;
		case MP_T_LOWER:
		case MP_T_UPPER:
			for (size_t i = 0; i < vals->n; i++) {
				size_t l = strlen(vals->v[i]);
				char *d = mid_arena_strndup(a, vals->v[i], l);
				if (!d)
					goto nomem;
				for (size_t k = 0; k < l; k++)
					if ((unsigned char)d[k] < 0x80)
						d[k] = (char)(x->kind == MP_T_LOWER ? tolower((unsigned char)d[k])
						                                    : toupper((unsigned char)d[k]));
				vals->v[i] = d;
			}
			break;
		case MP_T_DATE:
			for (size_t i = 0; i < vals->n; i++) {
				struct tm tm;
				char buf[96];
				const char *end;
				if (!vals->v[i][0])
					continue;
				memset(&tm, 0, sizeof tm);
				end = strptime(vals->v[i], x->arg, &tm);
				while (end && (*end == ' ' || *end == '\t'))
					end++;
				if (!end || *end)
					return mid_error_set(err, MID_EINVAL, 0,
					                     "%s: \"%.64s\" does not match the date format \"%s\"",
					                     what, vals->v[i], x->arg);
				if (x->date_time)
					snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ",
					         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
					         tm.tm_min, tm.tm_sec);
				else
					snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900,
					         tm.tm_mon + 1, tm.tm_mday);
				if (!(vals->v[i] = mid_arena_strndup(a, buf, strlen(buf))))
					goto nomem;
			}
			break;
		case MP_T_SPLIT: {
			size_t cnt = 0, sl = strlen(x->arg);
			for (size_t i = 0; i < vals->n; i++) {
				const char *p = vals->v[i];
				cnt++;
				while ((p = strstr(p, x->arg))) {
					cnt++;
					p += sl;
				}
			}
			const char **nv = mid_arena_alloc(a, (cnt + 1) * sizeof *nv);
			size_t k = 0;
			if (!nv)
				goto nomem;
			for (size_t i = 0; i < vals->n; i++) {
				const char *p = vals->v[i], *q;
				for (;;) {
					q = strstr(p, x->arg);
					size_t l = q ? (size_t)(q - p) : strlen(p);
					if (l) {
						if (!(nv[k++] = mid_arena_strndup(a, p, l)))
							goto nomem;
					}
					if (!q)
						break;
					p = q + sl;
				}
			}
			vals->v = nv;
			vals->n = k;
			break;
		}
		case MP_T_JOIN: {
			size_t len = 0, sl = strlen(x->arg);
			if (vals->n <= 1)
				break;
			for (size_t i = 0; i < vals->n; i++)
				len += strlen(vals->v[i]) + sl;
			char *d = mid_arena_alloc(a, len + 1), *p = d;
			const char **nv = mid_arena_alloc(a, sizeof *nv);
			if (!d || !nv)
				goto nomem;
			for (size_t i = 0; i < vals->n; i++) {
				size_t l = strlen(vals->v[i]);
				if (i) {
					memcpy(p, x->arg, sl);
					p += sl;
				}
				memcpy(p, vals->v[i], l);
				p += l;
			}
			*p = '\0';
			nv[0] = d;
			vals->v = nv;
			vals->n = 1;
			break;
		}
		case MP_T_DEFAULT: {
			int empty = 1;
			for (size_t i = 0; i < vals->n && empty; i++)
				if (vals->v[i][0])
					empty = 0;
			if (empty) {
				const char **nv = mid_arena_alloc(a, sizeof *nv);
				if (!nv)
					goto nomem;
				nv[0] = x->arg;
				vals->v = nv;
				vals->n = 1;
			}
			break;
		}
		case MP_T_LOOKUP:
			for (size_t i = 0; i < vals->n; i++) {
				mp_lookup_ent_t key = { (char *)vals->v[i], NULL };
				mp_lookup_ent_t *e = x->nlk ? bsearch(&key, x->lk, x->nlk, sizeof *x->lk,
				                                      mp_lk_cmp) : NULL;
				if (e)
					vals->v[i] = e->to;
				else if (x->lk_default)
					vals->v[i] = x->lk_default;
			}
			break;
		}
	}
	return MID_OK;
nomem:
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

/* Values of a rule's source into writable arrays in the arena. */
static int mp_copy_vals(mid_arena_t *a, const char *const *v, size_t n, mid_vals_t *out)
{
	out->v = mid_arena_alloc(a, (n + 1) * sizeof *out->v);
	if (!out->v)
		return MID_ENOMEM;
	if (n)
		memcpy(out->v, v, n * sizeof *v); /* v may be NULL when n is 0 */
	out->n = n;
	return MID_OK;
}

int mid_mapper_inbound(mid_mapper_t *m, const mid_record_t *rec, mid_canon_t *out,
                       mid_error_t *err)
{
	size_t na = 0;
	int rc;

	mid_arena_reset(&m->arena);
	memset(out, 0, sizeof *out);
	if (m->attrcap < m->nin) {
		free(m->attrs);
		m->attrs = calloc(m->nin, sizeof *m->attrs);
		if (!m->attrs) {
			m->attrcap = 0;
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		}
		m->attrcap = m->nin;
	}
	for (size_t i = 0; i < m->nin; i++) {
		mp_rule_t *r = &m->in[i];
		mid_vals_t vals = { NULL, 0 };
		const char *what = r->cf >= 0 ? mp_names[r->cf] : r->target;

		if (r->is_const) {
			if (mp_copy_vals(&m->arena, (const char *const *)r->cvals, r->ncvals, &vals))
				goto nomem;
		} else {
			const mid_field_t *fl = NULL;
			if (r->hint < rec->nfields && strcmp(rec->fields[r->hint].name, r->src) == 0) {
				fl = &rec->fields[r->hint];
			} else {
				for (size_t k = 0; k < rec->nfields; k++)
					if (strcmp(rec->fields[k].name, r->src) == 0) {
						fl = &rec->fields[k];
						r->hint = k;
						break;
					}
			}
			if (!fl) {
				/* absent source: only a default transform can make a value */
				int has_default = 0;
				for (size_t k = 0; k < r->nx; k++)
					if (r->x[k].kind == MP_T_DEFAULT)
						has_default = 1;
				if (!has_default)
					continue;
			} else if (r->nx) {
				if (mp_copy_vals(&m->arena, fl->values, fl->nvalues, &vals))
					goto nomem;
			} else {
				vals.v = (const char **)fl->values;
				vals.n = fl->nvalues;
			}
		}
		if (r->nx && (rc = mp_apply(&m->arena, r->x, r->nx, &vals, what, err)))
			return rc;
		if (r->cf >= 0) {
			out->present |= 1u << r->cf;
			out->f[r->cf] = vals;
		} else {
			m->attrs[na].key = r->target;
			m->attrs[na++].vals = vals;
		}
	}
	out->attrs = m->attrs;
	out->nattrs = na;
	return MID_OK;
nomem:
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

int mid_mapper_outbound(mid_mapper_t *m, const mid_canon_t *in, const mid_field_t **fields,
                        size_t *n, mid_error_t *err)
{
	size_t k = 0;
	int rc;

	mid_arena_reset(&m->arena);
	if (m->ocap < m->nout) {
		free(m->ofields);
		m->ofields = calloc(m->nout, sizeof *m->ofields);
		if (!m->ofields) {
			m->ocap = 0;
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		}
		m->ocap = m->nout;
	}
	for (size_t i = 0; i < m->nout; i++) {
		mp_rule_t *r = &m->out[i];
		mid_vals_t vals = { NULL, 0 };
		if (r->is_const) {
			if (mp_copy_vals(&m->arena, (const char *const *)r->cvals, r->ncvals, &vals))
				goto nomem;
		} else if (r->cf >= 0) {
			if (!(in->present & (1u << r->cf)))
				goto maybe_default;
			if (mp_copy_vals(&m->arena, in->f[r->cf].v, in->f[r->cf].n, &vals))
				goto nomem;
		} else {
			size_t a;
			for (a = 0; a < in->nattrs; a++)
				if (strcmp(in->attrs[a].key, r->src) == 0)
					break;
			if (a == in->nattrs)
				goto maybe_default;
			if (mp_copy_vals(&m->arena, in->attrs[a].vals.v, in->attrs[a].vals.n, &vals))
				goto nomem;
		}
		goto apply;
maybe_default:
		if (mp_copy_vals(&m->arena, NULL, 0, &vals))
			goto nomem;
apply:
		if (r->nx && (rc = mp_apply(&m->arena, r->x, r->nx, &vals, r->target, err)))
			return rc;
		m->ofields[k].name = r->target;
		m->ofields[k].values = vals.v;
		m->ofields[k].nvalues = vals.n;
		k++;
	}
	*fields = m->ofields;
	*n = k;
	return MID_OK;
nomem:
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

/* ---- content hash --------------------------------------------------------------- */

static void mp_h_u32(crypto_generichash_state *s, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
	                       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	crypto_generichash_update(s, b, 4);
}

static void mp_h_str(crypto_generichash_state *s, const char *v)
{
	size_t l = v ? strlen(v) : 0;
	mp_h_u32(s, (uint32_t)l);
	if (l)
		crypto_generichash_update(s, (const unsigned char *)v, l);
}

void mid_canon_hash(const mid_canon_t *c, unsigned mask, unsigned char out[MID_HASH_LEN])
{
	/* Serialize into one buffer and hash it once: many tiny updates cost
	 * more than the copy. */
	unsigned char stackbuf[2048], *buf = stackbuf;
	size_t need = 16, len = 0;
	for (int f = 0; f < MID_CF_N; f++)
		if (mask & c->present & (1u << f)) {
			need += 8;
			for (size_t i = 0; i < c->f[f].n; i++)
				need += 4 + strlen(c->f[f].v[i]);
		}
	if (need > sizeof stackbuf) {
		crypto_generichash_state s;
		crypto_generichash_init(&s, NULL, 0, MID_HASH_LEN);
		for (int f = 0; f < MID_CF_N; f++) {
			if (!(mask & c->present & (1u << f)))
				continue;
			mp_h_u32(&s, (uint32_t)f);
			mp_h_u32(&s, (uint32_t)c->f[f].n);
			for (size_t i = 0; i < c->f[f].n; i++)
				mp_h_str(&s, c->f[f].v[i]);
		}
		if (mask & MID_CF_ATTRS)
			for (size_t a = 0; a < c->nattrs; a++) {
				mp_h_u32(&s, 0xFFFFFFFFu);
				mp_h_str(&s, c->attrs[a].key);
				mp_h_u32(&s, (uint32_t)c->attrs[a].vals.n);
				for (size_t i = 0; i < c->attrs[a].vals.n; i++)
					mp_h_str(&s, c->attrs[a].vals.v[i]);
			}
		crypto_generichash_final(&s, out, MID_HASH_LEN);
		return;
	}
#define PUT32(v) do { uint32_t v_ = (uint32_t)(v); buf[len++] = (unsigned char)v_; \
	buf[len++] = (unsigned char)(v_ >> 8); buf[len++] = (unsigned char)(v_ >> 16); \
	buf[len++] = (unsigned char)(v_ >> 24); } while (0)
	for (int f = 0; f < MID_CF_N; f++) {
		if (!(mask & c->present & (1u << f)))
			continue;
		PUT32(f);
		PUT32(c->f[f].n);
		for (size_t i = 0; i < c->f[f].n; i++) {
			size_t l = strlen(c->f[f].v[i]);
			PUT32(l);
			memcpy(buf + len, c->f[f].v[i], l);
			len += l;
		}
	}
#undef PUT32
	if ((mask & MID_CF_ATTRS) && c->nattrs) {
		/* attributes are rare: hash the prefix, then stream them */
		crypto_generichash_state s;
		crypto_generichash_init(&s, NULL, 0, MID_HASH_LEN);
		crypto_generichash_update(&s, buf, len);
		for (size_t a = 0; a < c->nattrs; a++) {
			mp_h_u32(&s, 0xFFFFFFFFu);
			mp_h_str(&s, c->attrs[a].key);
			mp_h_u32(&s, (uint32_t)c->attrs[a].vals.n);
			for (size_t i = 0; i < c->attrs[a].vals.n; i++)
				mp_h_str(&s, c->attrs[a].vals.v[i]);
		}
		crypto_generichash_final(&s, out, MID_HASH_LEN);
		return;
	}
	crypto_generichash(out, MID_HASH_LEN, buf, len, NULL, 0);
}

/* ---- canonical JSON -> canon ------------------------------------------------------ */

static int mp_json_vals(mid_arena_t *a, const json_t *v, mid_vals_t *out)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	out->v = mid_arena_alloc(a, (n + 1) * sizeof *out->v);
	out->n = 0;
	if (!out->v)
		return MID_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		char *t = mp_scalar_text(e);
		if (!t)
			continue;
		out->v[out->n] = mid_arena_strndup(a, t, strlen(t));
		free(t);
		if (!out->v[out->n])
			return MID_ENOMEM;
		out->n++;
	}
	return MID_OK;
}

int mid_canon_from_json(const json_t *person, mid_arena_t *a, mid_canon_t *out,
                        mid_error_t *err)
{
	const char *k;
	json_t *v;
	memset(out, 0, sizeof *out);
	if (!json_is_object(person))
		return mid_error_set(err, MID_EINVAL, 0, "the person is not a JSON object");
	json_object_foreach((json_t *)person, k, v) {
		int f = mid_cf_parse(k);
		if (f < 0 || json_is_null(v))
			continue;
		if (mp_json_vals(a, v, &out->f[f]))
			goto nomem;
		out->present |= 1u << f;
	}
	v = json_object_get(person, "credentials");
	if (json_is_array(v)) {
		/* the first active credential gives format and facility code;
		 * every active one its card number (a PACS that keeps one card per
		 * Mobile ID reconciles them), the first one first */
		json_t *cards = json_array();
		int first = 1, bad = !cards;
		for (size_t i = 0; !bad && i < json_array_size(v); i++) {
			json_t *c = json_array_get(v, i), *s = json_object_get(c, "status");
			if (s && json_is_string(s) && strcmp(json_string_value(s), "active") != 0)
				continue;
			static const struct { const char *key; int f; } cm[] = {
				{ "format", MID_CF_CARD_FORMAT }, { "facility_code", MID_CF_FACILITY_CODE },
			};
			for (size_t m = 0; first && !bad && m < 2; m++) {
				json_t *x = json_object_get(c, cm[m].key);
				if (!x || (out->present & (1u << cm[m].f)))
					continue;
				bad = mp_json_vals(a, x, &out->f[cm[m].f]) != MID_OK;
				out->present |= 1u << cm[m].f;
			}
			first = 0;
			if (json_object_get(c, "card_number"))
				bad = bad || json_array_append(cards, json_object_get(c, "card_number"));
		}
		if (!bad && json_array_size(cards) && !(out->present & (1u << MID_CF_CARD_NUMBER))) {
			bad = mp_json_vals(a, cards, &out->f[MID_CF_CARD_NUMBER]) != MID_OK;
			out->present |= 1u << MID_CF_CARD_NUMBER;
		}
		json_decref(cards);
		if (bad)
			goto nomem;
	}
	v = json_object_get(person, "attributes");
	if (json_is_object(v) && json_object_size(v)) {
		size_t n = 0;
		out->attrs = mid_arena_alloc(a, json_object_size(v) * sizeof *out->attrs);
		if (!out->attrs)
			goto nomem;
		/* jansson keeps insertion order; sort by key for a stable hash */
		const char **keys = mid_arena_alloc(a, json_object_size(v) * sizeof *keys);
		if (!keys)
			goto nomem;
		json_t *av;
		json_object_foreach(v, k, av) {
			(void)av;
			keys[n++] = k;
		}
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
				const char *t = keys[j];
				keys[j] = keys[j - 1];
				keys[j - 1] = t;
			}
		json_t *attrs = json_object_get(person, "attributes");
		for (size_t i = 0; i < n; i++) {
			out->attrs[i].key = mid_arena_strndup(a, keys[i], strlen(keys[i]));
			if (!out->attrs[i].key ||
			    mp_json_vals(a, json_object_get(attrs, keys[i]), &out->attrs[i].vals))
				goto nomem;
		}
		out->nattrs = n;
	}
	return MID_OK;
nomem:
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

int mid_mapper_test_transform(const json_t *transforms, const char *const *in, size_t nin,
                              char ***out, size_t *nout, mid_error_t *err)
{
	mp_rule_t r;
	mid_arena_t a = { NULL };
	mid_vals_t vals = { NULL, 0 };
	int rc;

	*out = NULL;
	*nout = 0;
	memset(&r, 0, sizeof r);
	json_t *rule = json_pack("{s:s, s:O}", "from", "x", "transform", transforms);
	rc = mp_compile_rule("given_name", rule, 1, "test", &r, err);
	json_decref(rule);
	if (rc)
		goto out;
	if (mp_copy_vals(&a, in, nin, &vals)) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	if ((rc = mp_apply(&a, r.x, r.nx, &vals, "test", err)))
		goto out;
	*out = calloc(vals.n + 1, sizeof **out);
	if (!*out) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < vals.n; i++)
		(*out)[i] = strdup(vals.v[i]);
	*nout = vals.n;
out:
	mp_rule_free(&r);
	mid_arena_free(&a);
	return rc;
}
