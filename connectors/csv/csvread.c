/* connectors/csv/csvread.c -- a streaming CSV reader (see csvread.h).
 *
 * The input is read a chunk at a time into a sliding window. A record is
 * parsed from the window in one pass; when the window ends before the
 * record does, the unconsumed bytes move to the window's start, one more
 * chunk is read, and that record is parsed again from its start. Records
 * are bounded by max_record, so the window never grows past
 * max_record + chunk bytes. Field bytes are copied (quotes undone, input
 * converted to UTF-8) into one field buffer reused for every record.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mobileid/connector.h"
#include "connectors/csv/csvread.h"

enum { CL_PLAIN = 0, CL_DELIM, CL_LF, CL_QUOTE, CL_NUL, CL_HI };

struct csvr {
	csvr_read_fn read;
	void *ctx;
	char delim;
	int enc;
	size_t chunk, max_field, max_record, max_fields;

	unsigned char *buf;     /* the window */
	size_t cap, len, pos;   /* pos: first unconsumed byte */
	uint64_t base;          /* input offset of buf[0] */
	int eof;
	int started;            /* the BOM check is done */
	uint64_t line;          /* line of the next record */

	char *fb;               /* field bytes */
	size_t fbcap;
	size_t *foff, *flen;
	char **fptr;
	size_t fcap;

	char *rawbuf;           /* raw copy for a record cut short */
	size_t rawcap;

	unsigned char cls[256];  /* classes outside quotes */
	unsigned char qcls[256]; /* classes inside quotes */
};

/* Windows-1252 0x80..0x9F; 0 marks the five undefined bytes. */
static const uint16_t cp1252_c1[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
};

/* The code point of a high byte in a single-byte encoding, 0 if undefined. */
static unsigned sb_codepoint(int enc, unsigned char c)
{
	if (enc == CSVR_ENC_CP1252 && c < 0xA0)
		return cp1252_c1[c - 0x80];
	return c;
}

static char *put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xE0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	return o;
}

int csvr_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char b = s[i];
		unsigned cp, min, need;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xC2 && b <= 0xDF) {
			need = 1; cp = b & 0x1F; min = 0x80;
		} else if (b >= 0xE0 && b <= 0xEF) {
			need = 2; cp = b & 0x0F; min = 0x800;
		} else if (b >= 0xF0 && b <= 0xF4) {
			need = 3; cp = b & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			unsigned char c = s[i + k];
			if ((c & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (c & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

size_t csvr_to_utf8(int encoding, const char *in, size_t n, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	if (cap == 0)
		return 0;
	while (i < n) {
		unsigned char b = s[i];
		char tmp[4], *e;
		size_t k = 1, w;

		if (b < 0x80) {
			tmp[0] = (char)b;
			e = tmp + 1;
		} else if (encoding != CSVR_ENC_UTF8) {
			unsigned cp = sb_codepoint(encoding, b);
			e = put_utf8(tmp, cp ? cp : 0xFFFD);
		} else {
			/* the longest valid sequence at i, else U+FFFD for one byte */
			size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
			if (len > 1 && len <= n - i && csvr_utf8_valid(s + i, len)) {
				memcpy(tmp, s + i, len);
				e = tmp + len;
				k = len;
			} else {
				e = put_utf8(tmp, 0xFFFD);
			}
		}
		w = (size_t)(e - tmp);
		if (o + w >= cap)
			break;
		memcpy(out + o, tmp, w);
		o += w;
		i += k;
	}
	out[o] = '\0';
	return o;
}

/* ---- encoding check ---------------------------------------------------- */

static size_t count_lf(const unsigned char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += s[i] == '\n';
	return c;
}

static int enc_fail(csvr_enc_check_t *c, const unsigned char *s, size_t i,
                    const char *reason)
{
	c->reason = reason;
	c->bad_offset = c->offset + i;
	c->bad_line = c->line + count_lf(s, i);
	return -1;
}

int csvr_enc_feed(csvr_enc_check_t *c, const void *buf, size_t n)
{
	const unsigned char *s = buf;
	size_t i = 0;

	if (c->line == 0)
		c->line = 1;
	if (c->offset == 0 && n >= 2 &&
	    ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
		return enc_fail(c, s, 0, "the file is UTF-16 (it starts with a UTF-16 byte order mark); "
		                "save it as UTF-8");
	if (c->encoding != CSVR_ENC_UTF8) {
		for (i = 0; i < n; i++) {
			if (s[i] == 0)
				return enc_fail(c, s, i, "NUL byte: this is not a text file");
			if (c->encoding == CSVR_ENC_CP1252 && s[i] >= 0x80 && s[i] < 0xA0 &&
			    cp1252_c1[s[i] - 0x80] == 0)
				return enc_fail(c, s, i, "a byte that is not defined in Windows-1252");
		}
		goto done;
	}
	while (i < n) {
		unsigned char b = s[i];

		if (c->need == 0) {
			/* ASCII fast path: eight bytes at a time */
			while (i + 8 <= n) {
				uint64_t w;
				memcpy(&w, s + i, 8);
				if ((w & 0x8080808080808080ull) ||
				    ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
					break;
				i += 8;
			}
			if (i >= n)
				break;
			b = s[i];
			if (b < 0x80) {
				if (b == 0)
					return enc_fail(c, s, i, "NUL byte: this is not a text file");
				i++;
				continue;
			}
			if (b >= 0xC2 && b <= 0xDF) {
				c->need = 1; c->cp = b & 0x1F; c->min = 0x80;
			} else if (b >= 0xE0 && b <= 0xEF) {
				c->need = 2; c->cp = b & 0x0F; c->min = 0x800;
			} else if (b >= 0xF0 && b <= 0xF4) {
				c->need = 3; c->cp = b & 0x07; c->min = 0x10000;
			} else {
				return enc_fail(c, s, i, "not valid UTF-8 (a byte that cannot start a "
				                "character; is the file Windows-1252 or ISO-8859-1?)");
			}
			i++;
			continue;
		}
		if ((b & 0xC0) != 0x80)
			return enc_fail(c, s, i, "not valid UTF-8 (a multi-byte character is cut "
			                "short; is the file Windows-1252 or ISO-8859-1?)");
		c->cp = (c->cp << 6) | (b & 0x3F);
		if (--c->need == 0 &&
		    (c->cp < c->min || c->cp > 0x10FFFF || (c->cp >= 0xD800 && c->cp <= 0xDFFF)))
			return enc_fail(c, s, i, "not valid UTF-8 (an overlong form, a surrogate "
			                "or a value past U+10FFFF)");
		i++;
	}
done:
	c->line += count_lf(s, n);
	c->offset += n;
	return 0;
}

int csvr_enc_end(csvr_enc_check_t *c)
{
	if (c->need) {
		c->reason = "not valid UTF-8 (the file ends inside a multi-byte character)";
		c->bad_offset = c->offset;
		c->bad_line = c->line;
		return -1;
	}
	return 0;
}

/* ---- the reader ------------------------------------------------------- */

int csvr_new(csvr_t **out, csvr_read_fn read, void *ctx, const csvr_opts_t *opts)
{
	csvr_opts_t o = {0};
	csvr_t *r;

	*out = NULL;
	if (opts)
		o = *opts;
	if (!o.delim)
		o.delim = ',';
	if (o.delim != ',' && o.delim != ';' && o.delim != '\t' && o.delim != '|')
		return MID_EINVAL;
	if (o.encoding != CSVR_ENC_UTF8 && o.encoding != CSVR_ENC_CP1252 &&
	    o.encoding != CSVR_ENC_LATIN1)
		return MID_EINVAL;
	if (!o.chunk)
		o.chunk = 64 * 1024;
	if (!o.max_field)
		o.max_field = 64 * 1024;
	if (!o.max_record)
		o.max_record = 1024 * 1024;
	if (!o.max_fields)
		o.max_fields = 4096;
	if (!read || o.chunk > ((size_t)1 << 30) || o.max_record > ((size_t)1 << 30))
		return MID_EINVAL;

	r = calloc(1, sizeof *r);
	if (!r)
		return MID_ENOMEM;
	r->read = read;
	r->ctx = ctx;
	r->delim = o.delim;
	r->enc = o.encoding;
	r->chunk = o.chunk;
	r->max_field = o.max_field;
	r->max_record = o.max_record;
	r->max_fields = o.max_fields;
	r->cap = o.max_record + o.chunk;
	r->buf = malloc(r->cap + 1);
	r->fcap = 64;
	r->foff = malloc(r->fcap * sizeof *r->foff);
	r->flen = malloc(r->fcap * sizeof *r->flen);
	r->fptr = malloc(r->fcap * sizeof *r->fptr);
	if (!r->buf || !r->foff || !r->flen || !r->fptr) {
		csvr_free(r);
		return MID_ENOMEM;
	}
	r->line = 1;

	r->cls[(unsigned char)r->delim] = CL_DELIM;
	r->cls['\n'] = CL_LF;
	r->cls['"'] = CL_QUOTE;
	r->cls[0] = CL_NUL;
	r->qcls['\n'] = CL_LF;
	r->qcls['"'] = CL_QUOTE;
	r->qcls[0] = CL_NUL;
	for (int c = 0x80; c < 0x100; c++)
		r->cls[c] = r->qcls[c] = CL_HI;
	*out = r;
	return MID_OK;
}

void csvr_free(csvr_t *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->fb);
	free(r->foff);
	free(r->flen);
	free(r->fptr);
	free(r->rawbuf);
	free(r);
}

uint64_t csvr_offset(const csvr_t *r)
{
	return r->base + r->pos;
}

/* Move the unconsumed bytes to the window's start and read one chunk. */
static int refill(csvr_t *r)
{
	size_t room;
	ssize_t n;

	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->base += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	room = r->cap - r->len;
	if (room > r->chunk)
		room = r->chunk;
	if (room == 0)
		return MID_EINTERNAL;
	for (;;) {
		n = r->read(r->ctx, r->buf + r->len, room);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return MID_EIO;
	}
	if (n == 0)
		r->eof = 1;
	else
		r->len += (size_t)n;
	return MID_OK;
}

static int grow_fields(csvr_t *r)
{
	size_t n = r->fcap * 2;
	size_t *a, *b;
	char **c;

	if (n > r->max_fields)
		n = r->max_fields;
	a = realloc(r->foff, n * sizeof *a);
	if (!a)
		return MID_ENOMEM;
	r->foff = a;
	b = realloc(r->flen, n * sizeof *b);
	if (!b)
		return MID_ENOMEM;
	r->flen = b;
	c = realloc(r->fptr, n * sizeof *c);
	if (!c)
		return MID_ENOMEM;
	r->fptr = c;
	r->fcap = n;
	return MID_OK;
}

enum { P_RECORD, P_NEED, P_REJECT, P_NOMEM };

typedef struct presult {
	size_t used;      /* bytes of the record incl. its line end */
	size_t nfields;
	uint64_t lines;   /* line ends inside and at the end */
	const char *reason;
	long field;
	size_t resume;    /* P_REJECT: where to look for the record's end */
	int blank;
} presult_t;

/* Parse one record from the window [s, e). */
static int parse(csvr_t *r, const unsigned char *s, const unsigned char *e, presult_t *pr)
{
	const unsigned char *p = s, *q;
	const unsigned char *cls = r->cls, *qcls = r->qcls;
	char *o, *fstart;
	size_t nf = 0;
	uint64_t nl = 0;
	int hi, eof = r->eof, allempty = 1;
	size_t flen;

	/* Room for the worst case: 3 output bytes per input byte plus a NUL
	 * per field (at most one field per input byte, plus one). */
	{
		size_t need = (size_t)(e - s) * (r->enc == CSVR_ENC_UTF8 ? 2 : 4) + 2;
		if (need > r->fbcap) {
			char *nb = realloc(r->fb, need);
			if (!nb)
				return P_NOMEM;
			r->fb = nb;
			r->fbcap = need;
		}
	}
	o = r->fb;

#define REJECT(why, fld, at) do { pr->reason = (why); pr->field = (long)(fld); \
		pr->resume = (size_t)((at) - s); return P_REJECT; } while (0)
	/* Close the current field; `at` is where the record's end is sought
	 * from if the field is rejected. */
#define END_FIELD(at) do { \
		flen = (size_t)(o - fstart); \
		*o++ = '\0'; \
		if (flen > r->max_field) \
			REJECT("field longer than the limit (max_field_bytes)", nf, at); \
		if (hi && r->enc == CSVR_ENC_UTF8 && \
		    !csvr_utf8_valid((const unsigned char *)fstart, flen)) \
			REJECT("not valid UTF-8", nf, at); \
		r->foff[nf] = (size_t)(fstart - r->fb); \
		r->flen[nf] = flen; \
		if (flen) allempty = 0; \
		nf++; \
	} while (0)

next_field:
	if (nf >= r->max_fields)
		REJECT("too many fields in one record (more than the limit)", nf, p);
	if (nf == r->fcap) {
		if (grow_fields(r) < 0)
			return P_NOMEM;
	}
	fstart = o;
	hi = 0;
	if (p < e && *p == '"')
		goto quoted;
	for (;;) {
		unsigned char c;

		q = p;
		while (q < e && !cls[*q])
			q++;
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q;
		if (p == e) {
			if (!eof)
				return P_NEED;
			if (o > fstart && o[-1] == '\r')
				o--;
			END_FIELD(p);
			goto done;
		}
		c = *p;
		switch (cls[c]) {
		case CL_DELIM:
			END_FIELD(p);
			p++;
			goto next_field;
		case CL_LF:
			if (o > fstart && o[-1] == '\r')
				o--;
			END_FIELD(p);
			p++;
			nl++;
			goto done;
		case CL_QUOTE:
			REJECT("a double quote inside a field that does not start with one "
			       "(such a field must be enclosed in double quotes)", nf, p + 1);
		case CL_NUL:
			REJECT("NUL byte", nf, p + 1);
		default: /* CL_HI */
			if (r->enc == CSVR_ENC_UTF8) {
				*o++ = (char)c;
				hi = 1;
			} else {
				unsigned cp = sb_codepoint(r->enc, c);
				if (!cp)
					REJECT("a byte that is not defined in Windows-1252", nf, p + 1);
				o = put_utf8(o, cp);
			}
			p++;
		}
	}

quoted:
	p++;
	for (;;) {
		unsigned char c;

		q = p;
		while (q < e && !qcls[*q])
			q++;
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		p = q;
		if (p == e) {
			if (!eof)
				return P_NEED;
			REJECT("a quoted field is not closed before the end of the file", nf, p);
		}
		c = *p;
		switch (qcls[c]) {
		case CL_QUOTE:
			if (p + 1 == e && !eof)
				return P_NEED;
			if (p + 1 < e && p[1] == '"') {
				*o++ = '"';
				p += 2;
				continue;
			}
			p++;
			goto after_quote;
		case CL_LF:
			*o++ = '\n';
			nl++;
			p++;
			continue;
		case CL_NUL:
			REJECT("NUL byte", nf, p + 1);
		default:
			if (r->enc == CSVR_ENC_UTF8) {
				*o++ = (char)c;
				hi = 1;
			} else {
				unsigned cp = sb_codepoint(r->enc, c);
				if (!cp)
					REJECT("a byte that is not defined in Windows-1252", nf, p + 1);
				o = put_utf8(o, cp);
			}
			p++;
		}
	}

after_quote:
	if (p == e) {
		if (!eof)
			return P_NEED;
		END_FIELD(p);
		goto done;
	}
	if (*p == (unsigned char)r->delim) {
		END_FIELD(p);
		p++;
		goto next_field;
	}
	if (*p == '\n' || (*p == '\r' && p + 1 < e && p[1] == '\n')) {
		END_FIELD(p);
		p += *p == '\r' ? 2 : 1;
		nl++;
		goto done;
	}
	if (*p == '\r' && p + 1 == e) {
		if (!eof)
			return P_NEED;
		END_FIELD(p);
		p++;
		goto done;
	}
	REJECT("text after the closing double quote of a field", nf, p);

done:
	pr->used = (size_t)(p - s);
	pr->nfields = nf;
	pr->lines = nl;
	pr->blank = allempty;
	if (allempty && nf == 1 && s[0] == '"')
		pr->blank = 0; /* "" alone is one empty value, not a blank line */
	if (!allempty && nf == 1) {
		/* a line of blanks only */
		const char *f = r->fb + r->foff[0];
		size_t i;
		for (i = 0; i < r->flen[0] && (f[i] == ' ' || f[i] == '\t'); i++)
			;
		if (i == r->flen[0] && s[0] != '"')
			pr->blank = 1;
	}
	return P_RECORD;
#undef REJECT
#undef END_FIELD
}

/* After a reject: find the end of the record, starting `from` bytes past
 * r->pos, outside quotes, treating quotes as toggles. Keeps the raw bytes
 * of the record in the window when they fit, else a cut copy. Sets
 * row->raw*, row->end_offset, row->lines and consumes the record. */
static int skip_rejected(csvr_t *r, size_t from, int inq, csvr_row_t *row)
{
	size_t i = r->pos + from;
	int rc;
	uint64_t nl;
	int cut = 0;
	size_t rawlen = 0;

	for (;;) {
		while (i < r->len) {
			unsigned char c = r->buf[i];
			if (c == '"')
				inq = !inq;
			else if (c == '\n' && !inq)
				goto found;
			i++;
		}
		if (r->eof)
			goto found;
		if (r->len - r->pos >= r->max_record) {
			/* too long to keep: copy the start, drop the rest as we go */
			if (!cut) {
				size_t keep = r->len - r->pos;
				if (keep > 4096)
					keep = 4096;
				if (!r->rawbuf) {
					r->rawcap = 4096;
					r->rawbuf = malloc(r->rawcap);
					if (!r->rawbuf)
						return MID_ENOMEM;
				}
				memcpy(r->rawbuf, r->buf + r->pos, keep);
				rawlen = keep;
				cut = 1;
				row->lines = 0;
			}
			row->lines += count_lf(r->buf + r->pos, i - r->pos);
			r->pos = i;
		}
		{
			size_t off = i - r->pos;
			rc = refill(r);
			if (rc < 0)
				return rc;
			i = r->pos + off;
		}
	}
found:
	nl = count_lf(r->buf + r->pos, i - r->pos);
	if (cut) {
		row->raw = r->rawbuf;
		row->raw_len = rawlen;
		row->lines += nl;
	} else {
		size_t end = i;
		if (end > r->pos && r->buf[end - 1] == '\r')
			end--;
		row->raw = (const char *)r->buf + r->pos;
		row->raw_len = end - r->pos;
		row->lines = nl;
	}
	row->raw_cut = cut;
	if (i < r->len) {
		i++; /* the line end */
		row->lines++;
	}
	r->pos = i;
	row->end_offset = r->base + r->pos;
	if (row->lines == 0)
		row->lines = 1;
	return MID_OK;
}

int csvr_next(csvr_t *r, csvr_row_t *row)
{
	presult_t pr;
	int rc;

	memset(row, 0, sizeof *row);
	row->field = -1;
	if (!r->started) {
		while (r->len - r->pos < 3 && !r->eof) {
			rc = refill(r);
			if (rc < 0)
				return rc;
		}
		if (r->enc == CSVR_ENC_UTF8 && r->len - r->pos >= 3 &&
		    memcmp(r->buf + r->pos, "\xEF\xBB\xBF", 3) == 0)
			r->pos += 3;
		r->started = 1;
	}
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				return CSVR_EOF;
			rc = refill(r);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = parse(r, r->buf + r->pos, r->buf + r->len, &pr);
		if (rc == P_NOMEM)
			return MID_ENOMEM;
		if (rc == P_NEED) {
			if (r->len - r->pos >= r->max_record) {
				row->line = r->line;
				row->offset = r->base + r->pos;
				row->reason = "record longer than the limit (max_line_bytes)";
				/* the quote state at the window's end decides */
				size_t quotes = 0;
				for (size_t i = r->pos; i < r->len; i++)
					quotes += r->buf[i] == '"';
				rc = skip_rejected(r, r->len - r->pos, (int)(quotes & 1), row);
				if (rc < 0)
					return rc;
				r->line += row->lines;
				return CSVR_REJECT;
			}
			rc = refill(r);
			if (rc < 0)
				return rc;
			continue;
		}
		row->line = r->line;
		row->offset = r->base + r->pos;
		if (rc == P_REJECT) {
			row->reason = pr.reason;
			row->field = pr.field;
			rc = skip_rejected(r, pr.resume, 0, row);
			if (rc < 0)
				return rc;
			r->line += row->lines;
			return CSVR_REJECT;
		}
		/* P_RECORD */
		if (pr.used > r->max_record) {
			size_t end = pr.used;
			while (end > 0 && (r->buf[r->pos + end - 1] == '\n' ||
			                   r->buf[r->pos + end - 1] == '\r'))
				end--;
			row->reason = "record longer than the limit (max_line_bytes)";
			row->raw = (const char *)r->buf + r->pos;
			row->raw_len = end;
			row->lines = pr.lines ? pr.lines : 1;
			r->pos += pr.used;
			r->line += row->lines;
			row->end_offset = r->base + r->pos;
			return CSVR_REJECT;
		}
		r->pos += pr.used;
		r->line += pr.lines ? pr.lines : 1;
		if (pr.blank)
			continue;
		for (size_t i = 0; i < pr.nfields; i++)
			r->fptr[i] = r->fb + r->foff[i];
		row->nfields = pr.nfields;
		row->fields = r->fptr;
		row->lens = r->flen;
		row->lines = pr.lines ? pr.lines : 1;
		row->end_offset = r->base + r->pos;
		row->raw = (const char *)r->buf + row->offset - r->base;
		row->raw_len = pr.used;
		return CSVR_RECORD;
	}
}
