/* connectors/rest/restpage.c -- one pass over a list page: the records,
 * already flattened, without a JSON document in memory.
 *
 * A list page used to be parsed by jansson into a document (a malloc per
 * value, a hash table per object), its records then flattened one by one
 * (rj_flatten) and the document freed: at 100,000 SCIM users that was most
 * of the connector's time. rj_page_parse reads the body once and writes the
 * flattened fields of every record straight into a few arrays that are
 * reused from page to page.
 *
 * It gives exactly what the jansson path gives, or declines: it accepts a
 * body only when jansson (rj_parse: strict, duplicates rejected, bounded
 * depth) would, and then produces the fields rj_flatten would, the id and
 * etag rj_path_text would and the records array and total the list code
 * reads. Anything it does not handle (a real number, an integer of more
 * than 18 digits, an object of more than RJ_PAGE_MAX_MEMBERS members, any
 * syntax error, ...) makes it decline the whole page, and the caller parses
 * the page with jansson as before, errors included. A record that is not an
 * object or has no id is marked for the jansson path too (its raw text goes
 * into the reject). tests/fuzz/fuzz_rest_page.c compares both paths on
 * arbitrary input.
 *
 * Flattening while streaming (rj_flatten's rules, connectors/rest/README.md):
 * - fields are written unfiltered and `omit` is applied to the final names
 *   of a record at its end. That is the same as rj_flatten's check at every
 *   node: a node's name is a prefix of its descendants' names followed by
 *   '.' or '[', so a node matched by an omit prefix (at '.', '[' or the end)
 *   has every descendant field matched, and a matched field is a matched
 *   node itself. The one exception is a node with an empty name (a member
 *   "" at the top) and an empty omit prefix: the spec declines "" prefixes.
 * - an array's elements are written as indexed children; when all were
 *   scalars (and the array has a name) they fold into one field with all
 *   values (they are contiguous);
 * - the [type] aliases of an array are copies of an element's fields under
 *   the alias prefix, appended after the indexed children, as rj_flatten
 *   flattens the element a second time under that name.
 * rj_flatten's own depth error cannot happen for a page that passed
 * rj_parse's depth check with the same limit (a record is at least one
 * level down in the document).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/rest/restjson.h"

#define RJ_PAGE_MAX_MEMBERS 256          /* members of one object (duplicate check) */
#define RJ_PAGE_MAX_FIELDS  (1u << 16)   /* fields of one record */
#define RJ_PAGE_MAX_POOL    ((size_t)256 << 20)
#define RJ_PAGE_MAX_SEGS    16
#define RJ_PAGE_MAX_OMIT    64            /* omit prefixes served */

enum { K_NULL, K_SCALAR, K_STRING, K_OBJECT, K_ARRAY };

typedef struct ps_path {
	size_t nseg;
	const char *seg[RJ_PAGE_MAX_SEGS];   /* into segbuf */
	unsigned long long idx[RJ_PAGE_MAX_SEGS];   /* the segment as an array index, */
	int isidx[RJ_PAGE_MAX_SEGS];                /* when it is one */
	size_t m;                            /* leading segments the current node matches */
	int found;
	size_t off, len;                     /* the scalar's text in the pool */
	char segbuf[1024];
} ps_path_t;

typedef struct ps_elem {
	size_t f0, f1;        /* fields written for the element */
	int is_obj, has_type;
	size_t toff, tlen;    /* its "type" string in the pool */
} ps_elem_t;

typedef struct ps {
	const unsigned char *p, *end, *base;
	const rj_page_spec_t *sp;
	rj_page_t *pg;
	int max_depth;
	/* the current field name */
	char *name;
	size_t nlen, ncap;
	/* keys of the open objects, for the duplicate check */
	char *keys;
	size_t klen, kcap;
	size_t *koff;
	size_t nk, kocap;
	/* elements of the open arrays of a record */
	ps_elem_t *el;
	size_t nel, elcap;
	/* a scratch buffer for strings that are only checked */
	char *tmp;
	size_t tlen, tcap;
	/* the record paths */
	ps_path_t id, etag;
	size_t omitlen[RJ_PAGE_MAX_OMIT];   /* strlen of each omit prefix */
	int emit;             /* inside a record: write fields */
	size_t rec_f0;        /* the record's first field */
} ps_t;

/* ---- storage ------------------------------------------------------------- */

static int ps_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	if (nc > SIZE_MAX / elem)
		return -1;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

static int ps_reserve(char **p, size_t *cap, size_t len, size_t more)
{
	if (more > RJ_PAGE_MAX_POOL || len + more > RJ_PAGE_MAX_POOL)
		return -1;
	return ps_grow((void **)p, cap, len + more, 1);
}

/* Start a field named by the current name, with no values yet. */
static int ps_field(ps_t *ps)
{
	rj_page_t *pg = ps->pg;
	if (pg->nf - ps->rec_f0 >= RJ_PAGE_MAX_FIELDS ||
	    ps_grow((void **)&pg->fo, &pg->focap, pg->nf + 1, sizeof *pg->fo) ||
	    ps_reserve(&pg->pool, &pg->pcap, pg->plen, ps->nlen + 1))
		return -1;
	memcpy(pg->pool + pg->plen, ps->name, ps->nlen);
	pg->pool[pg->plen + ps->nlen] = '\0';
	pg->fo[pg->nf].name = pg->plen;
	pg->fo[pg->nf].v0 = pg->nv;
	pg->fo[pg->nf].nv = 0;
	pg->plen += ps->nlen + 1;
	pg->nf++;
	return 0;
}

/* Add the value at pool offset off (already there) to the last field. */
static int ps_value(ps_t *ps, size_t off)
{
	rj_page_t *pg = ps->pg;
	if (ps_grow((void **)&pg->voff, &pg->vcap, pg->nv + 1, sizeof *pg->voff))
		return -1;
	pg->voff[pg->nv++] = off;
	pg->fo[pg->nf - 1].nv++;
	return 0;
}

/* ---- lexing ------------------------------------------------------------------ */

static void ps_ws(ps_t *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
		ps->p++;
}

/* Length of the valid UTF-8 sequence of two or more bytes at p, 0 when
 * invalid (overlong, surrogate, above U+10FFFF, truncated), as jansson's
 * utf8_check_first / utf8_check_full judge it. */
static size_t ps_u8(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n, i;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	if (c == 0xE0 && p[1] < 0xA0)
		return 0;   /* overlong */
	if (c == 0xED && p[1] > 0x9F)
		return 0;   /* surrogate */
	if (c == 0xF0 && p[1] < 0x90)
		return 0;   /* overlong */
	if (c == 0xF4 && p[1] > 0x8F)
		return 0;   /* above U+10FFFF */
	return n;
}

static int ps_hex4(const unsigned char *p, const unsigned char *end, unsigned *v)
{
	unsigned x = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		x = x * 16 + d;
	}
	*v = x;
	return 0;
}

/* Decode the string at ps->p (its opening quote) onto the end of *buf
 * (*len grows; NUL-terminated, the NUL not counted). 0, or -1: not
 * handled (invalid, or too long). */
static int ps_string(ps_t *ps, char **buf, size_t *len, size_t *cap)
{
	const unsigned char *p = ps->p + 1, *end = ps->end;
	for (;;) {
		const unsigned char *q = p;
		while (q < end && *q >= 0x20 && *q < 0x80 && *q != '"' && *q != '\\')
			q++;
		if (q > p) {
			if (ps_reserve(buf, cap, *len, (size_t)(q - p) + 1))
				return -1;
			memcpy(*buf + *len, p, (size_t)(q - p));
			*len += (size_t)(q - p);
			p = q;
		}
		if (p >= end)
			return -1;
		if (*p == '"')
			break;
		if (ps_reserve(buf, cap, *len, 5))
			return -1;
		if (*p >= 0x80) {
			size_t n = ps_u8(p, end);
			if (!n)
				return -1;
			memcpy(*buf + *len, p, n);
			*len += n;
			p += n;
			continue;
		}
		if (*p < 0x20)
			return -1;   /* a control character */
		/* an escape */
		if (end - p < 2)
			return -1;
		unsigned c = p[1];
		char o;
		p += 2;
		switch (c) {
		case '"': o = '"'; break;
		case '\\': o = '\\'; break;
		case '/': o = '/'; break;
		case 'b': o = '\b'; break;
		case 'f': o = '\f'; break;
		case 'n': o = '\n'; break;
		case 'r': o = '\r'; break;
		case 't': o = '\t'; break;
		case 'u': {
			unsigned v, lo;
			if (ps_hex4(p, end, &v))
				return -1;
			p += 4;
			if (v >= 0xDC00 && v <= 0xDFFF)
				return -1;   /* a lone low surrogate */
			if (v >= 0xD800 && v <= 0xDBFF) {
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || ps_hex4(p + 2, end, &lo) ||
				    lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				p += 6;
				v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
			}
			if (v == 0)
				return -1;   /* \u0000: jansson refuses it without JSON_ALLOW_NUL */
			char *d = *buf + *len;
			if (v < 0x80) {
				d[0] = (char)v;
				*len += 1;
			} else if (v < 0x800) {
				d[0] = (char)(0xC0 | (v >> 6));
				d[1] = (char)(0x80 | (v & 0x3F));
				*len += 2;
			} else if (v < 0x10000) {
				d[0] = (char)(0xE0 | (v >> 12));
				d[1] = (char)(0x80 | ((v >> 6) & 0x3F));
				d[2] = (char)(0x80 | (v & 0x3F));
				*len += 3;
			} else {
				d[0] = (char)(0xF0 | (v >> 18));
				d[1] = (char)(0x80 | ((v >> 12) & 0x3F));
				d[2] = (char)(0x80 | ((v >> 6) & 0x3F));
				d[3] = (char)(0x80 | (v & 0x3F));
				*len += 4;
			}
			continue;
		}
		default:
			return -1;
		}
		(*buf)[(*len)++] = o;
	}
	ps->p = p + 1;
	if (ps_reserve(buf, cap, *len, 1))
		return -1;
	(*buf)[*len] = '\0';
	return 0;
}

/* v in decimal into out (no NUL); its length. */
static size_t ps_utoa(unsigned long long v, char out[24])
{
	char t[24];
	size_t n = 0, k = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out[k++] = t[--n];
	return k;
}

/* An integer at ps->p as jansson prints it (%lld of its value) onto the
 * pool; -1 for anything else (a real, more than 18 digits, bad syntax). */
static int ps_integer(ps_t *ps, size_t *off, size_t *olen)
{
	const unsigned char *p = ps->p, *end = ps->end;
	int neg = 0;
	long long v = 0;
	size_t nd = 0;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9')
		return -1;   /* a leading zero */
	while (p < end && *p >= '0' && *p <= '9') {
		if (++nd > 18)
			return -1;
		v = v * 10 + (*p - '0');
		p++;
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return -1;   /* a real: the jansson path prints it */
	ps->p = p;
	rj_page_t *pg = ps->pg;
	if (ps_reserve(&pg->pool, &pg->pcap, pg->plen, 24))
		return -1;
	char *d = pg->pool + pg->plen;
	size_t k = 0;
	if (neg && v != 0)
		d[k++] = '-';
	k += ps_utoa((unsigned long long)v, d + k);
	d[k] = '\0';
	*off = pg->plen;
	*olen = k;
	pg->plen += k + 1;
	return 0;
}

static int ps_lit(ps_t *ps, const char *w, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return -1;
	ps->p += n;
	return 0;
}

/* ---- record paths ---------------------------------------------------------------- */

/* Split a path into segments as rj_path_get reads it; -1 when it has more
 * segments than kept here or a malformed one (then the page is declined). */
static int ps_path_init(ps_path_t *t, const char *path)
{
	size_t used = 0;
	memset(t, 0, sizeof *t);
	if (!path)
		return 0;
	const char *p = path;
	while (p && *p) {
		const char *s = p;
		size_t n;
		if (*p == '[') {
			const char *e = strchr(p + 1, ']');
			if (!e || (size_t)(e - p - 1) >= 512)
				return -1;
			s = p + 1;
			n = (size_t)(e - p - 1);
			p = e + 1;
		} else {
			n = 0;
			while (p[n] && p[n] != '.' && p[n] != '[')
				n++;
			if (n >= 511)
				return -1;
			p += n;
		}
		if (*p == '.')
			p++;
		if (t->nseg >= RJ_PAGE_MAX_SEGS || used + n + 1 > sizeof t->segbuf)
			return -1;
		memcpy(t->segbuf + used, s, n);
		t->segbuf[used + n] = '\0';
		t->seg[t->nseg] = t->segbuf + used;
		/* an array index: decimal digits only, as rj_path_get's strtoull
		 * with its end and errno checks */
		const char *sg = t->seg[t->nseg];
		if (sg[0] >= '0' && sg[0] <= '9') {
			char *e;
			errno = 0;
			unsigned long long v = strtoull(sg, &e, 10);
			if (!*e && !errno) {
				t->isidx[t->nseg] = 1;
				t->idx[t->nseg] = v;
			}
		}
		used += n + 1;
		t->nseg++;
	}
	return 0;
}

static void ps_path_reset(ps_path_t *t)
{
	t->m = 0;
	t->found = 0;
}

/* Entering a child at depth d (the record is depth 0) by key or index. */
static void ps_path_enter(ps_path_t *t, size_t d, const char *key, size_t klen, int isarr,
                          unsigned long long i)
{
	if (t->m != d - 1 || d > t->nseg)
		return;
	size_t s = d - 1;
	int hit = isarr ? (t->isidx[s] && t->idx[s] == i)
	                : (strlen(t->seg[s]) == klen && !memcmp(t->seg[s], key, klen));
	if (hit)
		t->m = d;
}

static void ps_path_leave(ps_path_t *t, size_t d)
{
	if (t->m == d)
		t->m = d - 1;
}

static void ps_path_scalar(ps_path_t *t, size_t d, size_t off, size_t len)
{
	if (t->nseg && t->m == d && d == t->nseg) {
		t->found = 1;
		t->off = off;
		t->len = len;
	}
}

/* ---- values ---------------------------------------------------------------------- */

static int ps_val(ps_t *ps, int depth, size_t rd, int *kind, size_t *soff, size_t *slen);

static int ps_name_push(ps_t *ps, const char *seg, size_t n, int bracket, size_t *keep)
{
	*keep = ps->nlen;
	if (ps_reserve(&ps->name, &ps->ncap, ps->nlen, n + 3))
		return -1;
	if (bracket)
		ps->name[ps->nlen++] = '[';
	else if (ps->nlen)
		ps->name[ps->nlen++] = '.';
	memcpy(ps->name + ps->nlen, seg, n);
	ps->nlen += n;
	if (bracket)
		ps->name[ps->nlen++] = ']';
	return 0;
}

/* The opening bracket of a container at ps->p (depth: its depth in the
 * document): 1 when the container is empty (its close consumed), 0 when
 * members or elements follow, -1 when it nests too deep. */
static int ps_open(ps_t *ps, int depth, char close)
{
	if (depth >= ps->max_depth)
		return -1;
	ps->p++;
	ps_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 1;
	}
	return 0;
}

/* After a member or an element: 1 when a ',' follows (consumed), 0 at the
 * container's close (consumed), -1 otherwise. */
static int ps_next(ps_t *ps, char close)
{
	ps_ws(ps);
	if (ps->p >= ps->end)
		return -1;
	if (*ps->p == ',') {
		ps->p++;
		return 1;
	}
	if (*ps->p != close)
		return -1;
	ps->p++;
	return 0;
}

/* A member name and its ':' at ps->p, kept with the names of the open
 * object (those from kbase on), none of which it may repeat (jansson
 * refuses the page). *k0, *kl: where it is in ps->keys. 0 or -1. */
static int ps_key(ps_t *ps, size_t kbase, size_t *k0, size_t *kl)
{
	ps_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"' || ps->nk - kbase >= RJ_PAGE_MAX_MEMBERS ||
	    ps_grow((void **)&ps->koff, &ps->kocap, ps->nk + 1, sizeof *ps->koff))
		return -1;
	*k0 = ps->klen;
	if (ps_string(ps, &ps->keys, &ps->klen, &ps->kcap))
		return -1;
	*kl = ps->klen - *k0;
	for (size_t i = kbase; i < ps->nk; i++) {
		size_t o = ps->koff[i], l = (i + 1 < ps->nk ? ps->koff[i + 1] : *k0) - o - 1;
		if (l == *kl && !memcmp(ps->keys + o, ps->keys + *k0, *kl))
			return -1;   /* a repeated name */
	}
	ps->klen++;   /* keep the NUL: names are separated */
	ps->koff[ps->nk++] = *k0;
	ps_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return -1;
	ps->p++;
	ps_ws(ps);
	return 0;
}

/* The object at ps->p. depth: its depth in the document (containers must
 * stay below max_depth); rd: its depth in the record (0 the record itself;
 * only meaningful when ps->emit). as_elem: it is an element of an array of
 * a record: its "type" member is noted there. */
static int ps_object(ps_t *ps, int depth, size_t rd, ps_elem_t *as_elem)
{
	size_t kbase = ps->nk, kl0 = ps->klen;
	int rc = -1, more;
	if ((more = ps_open(ps, depth, '}')))
		return more > 0 ? 0 : -1;
	do {
		size_t k0, kl;
		const char *key;
		if (ps_key(ps, kbase, &k0, &kl))
			goto out;
		size_t keep = 0;
		int kind;
		size_t soff = 0, slen = 0;
		if (ps->emit) {
			key = ps->keys + k0;
			if (ps_name_push(ps, key, kl, 0, &keep))
				goto out;
			ps_path_enter(&ps->id, rd + 1, key, kl, 0, 0);
			ps_path_enter(&ps->etag, rd + 1, key, kl, 0, 0);
		}
		int is_type = as_elem && kl == 4 && !memcmp(ps->keys + k0, "type", 4);
		if (ps_val(ps, depth + 1, rd + 1, &kind, &soff, &slen))
			goto out;
		if (ps->emit) {
			ps_path_leave(&ps->id, rd + 1);
			ps_path_leave(&ps->etag, rd + 1);
			ps->nlen = keep;
			if (is_type && kind == K_STRING) {
				as_elem->has_type = 1;
				as_elem->toff = soff;
				as_elem->tlen = slen;
			}
		}
	} while ((more = ps_next(ps, '}')) > 0);
	rc = more;
out:
	ps->nk = kbase;
	ps->klen = kl0;
	return rc;
}

/* Whether an element's type may name an alias (rj_fl_value's rule). */
static int ps_type_ok(const char *t, size_t n)
{
	if (!n || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (t[i] == '[' || t[i] == ']' || t[i] == '.')
			return 0;
	return 1;
}

static int ps_array(ps_t *ps, int depth, size_t rd)
{
	rj_page_t *pg = ps->pg;
	size_t keep = ps->nlen, ebase = ps->nel, fstart = pg->nf, i = 0;
	int all_scalar = 1, rc = -1, more;
	char ix[24];

	if ((more = ps_open(ps, depth, ']')))
		return more > 0 ? 0 : -1;
	for (;; i++) {
		ps_elem_t e = { 0, 0, 0, 0, 0, 0 };
		int kind;
		size_t soff, slen, k2;
		ps_ws(ps);
		if (ps->emit) {
			if (ps_name_push(ps, ix, ps_utoa(i, ix), 0, &k2))
				goto out;
			ps_path_enter(&ps->id, rd + 1, NULL, 0, 1, i);
			ps_path_enter(&ps->etag, rd + 1, NULL, 0, 1, i);
			e.f0 = pg->nf;
			e.is_obj = ps->p < ps->end && *ps->p == '{';
		}
		if (e.is_obj) {
			kind = K_OBJECT;
			if (ps_object(ps, depth + 1, rd + 1, &e))
				goto out;
		} else if (ps_val(ps, depth + 1, rd + 1, &kind, &soff, &slen)) {
			goto out;
		}
		if (kind != K_SCALAR && kind != K_STRING)
			all_scalar = 0;
		if (ps->emit) {
			ps_path_leave(&ps->id, rd + 1);
			ps_path_leave(&ps->etag, rd + 1);
			ps->nlen = keep;
			e.f1 = pg->nf;
			if (ps_grow((void **)&ps->el, &ps->elcap, ps->nel + 1, sizeof *ps->el))
				goto out;
			ps->el[ps->nel++] = e;
		}
		if ((more = ps_next(ps, ']')) < 0)
			goto out;
		if (!more)
			break;
	}
	if (!ps->emit) {
		rc = 0;
		goto out;
	}
	if (all_scalar && keep) {
		/* one field with every value: the elements' values are contiguous */
		size_t v0 = pg->fo[fstart].v0, nv = pg->nf - fstart;
		pg->nf = fstart;
		if (ps_field(ps))
			goto out;
		pg->fo[pg->nf - 1].v0 = v0;
		pg->fo[pg->nf - 1].nv = nv;
		rc = 0;
		goto out;
	}
	/* [type] aliases: the first element of each type, flattened again */
	for (size_t a = ebase; a < ps->nel; a++) {
		ps_elem_t *e = &ps->el[a];
		if (!e->is_obj || !e->has_type || !ps_type_ok(pg->pool + e->toff, e->tlen))
			continue;
		int dup = 0;
		for (size_t b = ebase; b < a && !dup; b++)
			dup = ps->el[b].is_obj && ps->el[b].has_type && ps->el[b].tlen == e->tlen &&
			      !memcmp(pg->pool + ps->el[b].toff, pg->pool + e->toff, e->tlen);
		if (dup)
			continue;
		/* the index prefix of the element's fields, and the alias prefix */
		size_t k2, iplen;
		if (ps_name_push(ps, ix, ps_utoa(a - ebase, ix), 0, &k2))
			goto out;
		iplen = ps->nlen;
		ps->nlen = keep;
		/* the type text may move with the pool: copy it into the name */
		if (ps_reserve(&ps->name, &ps->ncap, ps->nlen, e->tlen + 3))
			goto out;
		ps->name[ps->nlen++] = '[';
		memcpy(ps->name + ps->nlen, pg->pool + e->toff, e->tlen);
		ps->nlen += e->tlen;
		ps->name[ps->nlen++] = ']';
		size_t aplen = ps->nlen;
		for (size_t f = e->f0; f < e->f1; f++) {
			const char *on = pg->pool + pg->fo[f].name;
			size_t onl = strlen(on);
			if (onl < iplen)
				goto out;   /* cannot happen: every field of the element has its prefix */
			if (ps_reserve(&ps->name, &ps->ncap, aplen, onl - iplen + 1))
				goto out;
			on = pg->pool + pg->fo[f].name;
			memcpy(ps->name + aplen, on + iplen, onl - iplen);
			ps->nlen = aplen + (onl - iplen);
			size_t v0 = pg->fo[f].v0, nv = pg->fo[f].nv;
			if (ps_field(ps))
				goto out;
			pg->fo[pg->nf - 1].v0 = v0;
			pg->fo[pg->nf - 1].nv = nv;
		}
		ps->nlen = keep;
	}
	rc = 0;
out:
	ps->nlen = keep;
	ps->nel = ebase;
	return rc;
}

/* The value at ps->p (depth and rd as for ps_object); *kind gets what it
 * was. In a record a scalar's text is in the pool at soff (slen bytes). */
static int ps_val(ps_t *ps, int depth, size_t rd, int *kind, size_t *soff, size_t *slen)
{
	rj_page_t *pg = ps->pg;
	*soff = *slen = 0;
	if (ps->p >= ps->end)
		return -1;
	switch (*ps->p) {
	case '{':
		*kind = K_OBJECT;
		return ps_object(ps, depth, rd, NULL);
	case '[':
		*kind = K_ARRAY;
		return ps_array(ps, depth, rd);
	case 'n':
		*kind = K_NULL;
		return ps_lit(ps, "null", 4);
	case '"':
		*kind = K_STRING;
		if (!ps->emit) {
			ps->tlen = 0;
			return ps_string(ps, &ps->tmp, &ps->tlen, &ps->tcap);
		}
		*soff = pg->plen;
		if (ps_string(ps, &pg->pool, &pg->plen, &pg->pcap))
			return -1;
		*slen = pg->plen - *soff;
		pg->plen++;   /* the NUL */
		break;
	case 't':
	case 'f': {
		int t = *ps->p == 't';
		*kind = K_SCALAR;
		if (ps_lit(ps, t ? "true" : "false", t ? 4 : 5))
			return -1;
		if (!ps->emit)
			return 0;
		if (ps_reserve(&pg->pool, &pg->pcap, pg->plen, 6))
			return -1;
		*soff = pg->plen;
		*slen = t ? 4 : 5;
		memcpy(pg->pool + pg->plen, t ? "true" : "false", *slen + 1);
		pg->plen += *slen + 1;
		break;
	}
	default:
		*kind = K_SCALAR;
		if (!ps->emit) {
			size_t o, l, keep = pg->plen;
			int r = ps_integer(ps, &o, &l);
			pg->plen = keep;
			return r;
		}
		if (ps_integer(ps, soff, slen))
			return -1;
		break;
	}
	/* a scalar in a record: its field, and the paths */
	if (ps_field(ps) || ps_value(ps, *soff))
		return -1;
	ps_path_scalar(&ps->id, rd, *soff, *slen);
	ps_path_scalar(&ps->etag, rd, *soff, *slen);
	return 0;
}

/* ---- records -------------------------------------------------------------------------- */

static int ps_omitted(const ps_t *ps, const char *n)
{
	const rj_page_spec_t *sp = ps->sp;
	for (size_t i = 0; i < sp->nomit; i++) {
		size_t l = ps->omitlen[i];
		if (n[0] == sp->omit[i][0] && !strncmp(n, sp->omit[i], l) &&
		    (n[l] == '\0' || n[l] == '.' || n[l] == '['))
			return 1;
	}
	return 0;
}

/* Copy at most max-1 bytes of the pool text at off/len onto the pool
 * (snprintf's truncation in rj_scalar); its offset. */
static int ps_copy_trunc(rj_page_t *pg, size_t off, size_t len, size_t max, size_t *out)
{
	if (len > max - 1)
		len = max - 1;
	if (ps_reserve(&pg->pool, &pg->pcap, pg->plen, len + 1))
		return -1;
	memmove(pg->pool + pg->plen, pg->pool + off, len);
	pg->pool[pg->plen + len] = '\0';
	*out = pg->plen;
	pg->plen += len + 1;
	return 0;
}

static int ps_record(ps_t *ps, int depth)
{
	rj_page_t *pg = ps->pg;
	rj_prec_o_t r;
	int kind;
	size_t soff, slen;

	memset(&r, 0, sizeof r);
	r.off = (size_t)(ps->p - ps->base);
	r.f0 = pg->nf;
	if (ps->p < ps->end && *ps->p == '{') {
		ps->emit = 1;
		ps->rec_f0 = pg->nf;
		ps->nlen = 0;
		ps_path_reset(&ps->id);
		ps_path_reset(&ps->etag);
		if (ps_object(ps, depth, 0, NULL))
			return -1;
		ps->emit = 0;
		/* omit, on the final names */
		if (ps->sp->nomit) {
			size_t w = r.f0;
			for (size_t f = r.f0; f < pg->nf; f++)
				if (!ps_omitted(ps, pg->pool + pg->fo[f].name))
					pg->fo[w++] = pg->fo[f];
			pg->nf = w;
		}
		if (ps->id.found && ps->id.len) {
			r.fast = 1;
			if (ps_copy_trunc(pg, ps->id.off, ps->id.len, ps->sp->id_max, &r.id))
				return -1;
			if (ps->etag.found && ps->etag.len && ps->sp->etag_max > 1) {
				r.has_etag = 1;
				if (ps_copy_trunc(pg, ps->etag.off, ps->etag.len, ps->sp->etag_max, &r.etag))
					return -1;
			}
		} else {
			pg->nf = r.f0;   /* the jansson path rejects it, with the raw record */
		}
	} else {
		if (ps_val(ps, depth, 0, &kind, &soff, &slen))
			return -1;
	}
	r.nf = pg->nf - r.f0;
	r.len = (size_t)(ps->p - ps->base) - r.off;
	if (ps_grow((void **)&pg->ro, &pg->rocap, pg->nrec + 1, sizeof *pg->ro))
		return -1;
	pg->ro[pg->nrec++] = r;
	return 0;
}

static int ps_records(ps_t *ps, int depth)
{
	int more;
	if ((more = ps_open(ps, depth, ']')))
		return more > 0 ? 0 : -1;
	do {
		ps_ws(ps);
		if (ps_record(ps, depth + 1))
			return -1;
	} while ((more = ps_next(ps, ']')) > 0);
	return more;
}

/* The top-level object: the records member, the total member, the rest
 * checked and skipped. */
static int ps_top(ps_t *ps)
{
	const rj_page_spec_t *sp = ps->sp;
	rj_page_t *pg = ps->pg;
	int more;
	if ((more = ps_open(ps, 0, '}')))
		return more > 0 ? 0 : -1;
	do {
		size_t k0, kl;
		if (ps_key(ps, 0, &k0, &kl))
			return -1;
		const char *key = ps->keys + k0;
		int is_rec = strlen(sp->records) == kl && !memcmp(sp->records, key, kl);
		int is_tot = sp->total && strlen(sp->total) == kl && !memcmp(sp->total, key, kl);
		if (ps->p >= ps->end)
			return -1;
		if (is_rec && *ps->p == '[') {
			pg->records = RJ_PAGE_ARRAY;
			if (ps_records(ps, 1))
				return -1;
		} else {
			int kind;
			size_t soff, slen;
			const unsigned char *v0 = ps->p;
			if (is_rec)
				pg->records = RJ_PAGE_OTHER;
			if (ps_val(ps, 1, 0, &kind, &soff, &slen))
				return -1;
			if (is_tot) {
				pg->total = RJ_PAGE_OTHER;
				if (*v0 == '-' || (*v0 >= '0' && *v0 <= '9')) {
					/* an integer (ps_val declined anything else) */
					char tmp[24];
					size_t n = (size_t)(ps->p - v0);
					memcpy(tmp, v0, n);
					tmp[n] = '\0';
					pg->total = RJ_PAGE_INTEGER;
					pg->total_value = strtoll(tmp, NULL, 10);
				}
			}
		}
	} while ((more = ps_next(ps, '}')) > 0);
	return more;
}

/* ---- the entry points ---------------------------------------------------------------------- */

int rj_page_spec_ok(const rj_page_spec_t *sp)
{
	ps_path_t t;
	if (!sp->records || strpbrk(sp->records, ".[]") ||
	    (sp->total && (!*sp->total || strpbrk(sp->total, ".[]") ||
	                   (*sp->records && !strcmp(sp->total, sp->records)))) ||
	    (!*sp->records && sp->total) || !sp->rec_id || sp->id_max < 2 ||
	    sp->max_depth > 1024)
		return 0;
	if (sp->nomit > RJ_PAGE_MAX_OMIT)
		return 0;
	for (size_t i = 0; i < sp->nomit; i++)
		if (!sp->omit[i] || !*sp->omit[i])
			return 0;
	if (ps_path_init(&t, sp->rec_id) || ps_path_init(&t, sp->rec_etag))
		return 0;
	return 1;
}

void rj_page_reset(rj_page_t *pg)
{
	pg->records = RJ_PAGE_ABSENT;
	pg->total = RJ_PAGE_ABSENT;
	pg->total_value = 0;
	pg->nrec = pg->nf = pg->nv = pg->plen = 0;
}

int rj_page_parse(const char *body, size_t len, const rj_page_spec_t *sp, rj_page_t *pg)
{
	ps_t ps;
	int rc = 0;

	rj_page_reset(pg);
	if (!body || !len || !rj_page_spec_ok(sp))
		return 0;
	memset(&ps, 0, sizeof ps);
	ps.base = ps.p = (const unsigned char *)body;
	ps.end = ps.p + len;
	ps.sp = sp;
	ps.pg = pg;
	ps.max_depth = sp->max_depth > 0 ? sp->max_depth : 32;
	for (size_t i = 0; i < sp->nomit; i++)
		ps.omitlen[i] = strlen(sp->omit[i]);
	if (ps_path_init(&ps.id, sp->rec_id) || ps_path_init(&ps.etag, sp->rec_etag))
		goto out;
	ps_ws(&ps);
	if (ps.p >= ps.end)
		goto out;
	if (*sp->records) {
		if (*ps.p != '{' || ps_top(&ps))
			goto out;
	} else {
		if (*ps.p != '[')
			goto out;
		pg->records = RJ_PAGE_ARRAY;
		if (ps_records(&ps, 0))
			goto out;
	}
	ps_ws(&ps);
	if (ps.p != ps.end)
		goto out;   /* something after the value */
	/* offsets into pointers */
	if (ps_grow((void **)&pg->f, &pg->fcap, pg->nf + 1, sizeof *pg->f) ||
	    ps_grow((void **)&pg->vals, &pg->valcap, pg->nv + 1, sizeof *pg->vals) ||
	    ps_grow((void **)&pg->rec, &pg->reccap, pg->nrec + 1, sizeof *pg->rec))
		goto out;
	for (size_t i = 0; i < pg->nv; i++)
		pg->vals[i] = pg->pool + pg->voff[i];
	for (size_t i = 0; i < pg->nf; i++) {
		pg->f[i].name = pg->pool + pg->fo[i].name;
		pg->f[i].values = pg->vals + pg->fo[i].v0;
		pg->f[i].nvalues = pg->fo[i].nv;
	}
	for (size_t i = 0; i < pg->nrec; i++) {
		const rj_prec_o_t *o = &pg->ro[i];
		rj_prec_t *r = &pg->rec[i];
		r->off = o->off;
		r->len = o->len;
		r->fast = o->fast;
		r->id = o->fast ? pg->pool + o->id : NULL;
		r->etag = o->has_etag ? pg->pool + o->etag : NULL;
		r->fields = pg->f + o->f0;
		r->nfields = o->nf;
	}
	rc = 1;
out:
	free(ps.name);
	free(ps.keys);
	free(ps.koff);
	free(ps.el);
	free(ps.tmp);
	if (rc != 1)
		rj_page_reset(pg);
	return rc;
}

void rj_page_free(rj_page_t *pg)
{
	free(pg->pool);
	free(pg->fo);
	free(pg->voff);
	free(pg->ro);
	free(pg->f);
	free(pg->vals);
	free(pg->rec);
	memset(pg, 0, sizeof *pg);
}
