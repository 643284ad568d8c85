/* connectors/csv/csvread.h -- a streaming CSV reader.
 *
 * Reads RFC 4180 CSV through a caller-supplied read function, a fixed-size
 * chunk at a time, never the whole input: quoted fields with embedded
 * delimiters, doubled quotes and line breaks; delimiter , ; TAB or |; CRLF
 * or LF line ends; UTF-8 (a leading BOM is skipped), Windows-1252 or
 * ISO-8859-1 input, always delivered as NUL-terminated UTF-8. Blank lines
 * (and lines of nothing but empty fields or blanks) are skipped.
 *
 * Every record carries the physical line it starts on. A record the reader
 * cannot accept (unterminated quote, text after a closing quote, a field or
 * record over its bound, bytes that are not valid in the declared encoding)
 * comes back as CSVR_REJECT with a reason, the field it concerns and the
 * raw line; reading goes on with the next record.
 *
 * Memory: one window buffer of max_record + chunk bytes and a field buffer
 * that grows to at most 4 x window; nothing is allocated per record.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum csvr_encoding {
	CSVR_ENC_UTF8 = 0,
	CSVR_ENC_CP1252 = 1,  /* Windows-1252 */
	CSVR_ENC_LATIN1 = 2,  /* ISO-8859-1 */
};

/* Return values of csvr_next(). */
enum csvr_status {
	CSVR_EOF = 0,
	CSVR_RECORD = 1,
	CSVR_REJECT = 2,
	/* negative: MID_EIO (the read function failed), MID_ENOMEM */
};

/* Reads up to n bytes into buf; returns the count, 0 at the end of the
 * input, or -1 with errno set. */
typedef ssize_t (*csvr_read_fn)(void *ctx, void *buf, size_t n);

typedef struct csvr_opts {
	char delim;          /* ',' ';' '\t' or '|'; 0 means ',' */
	int encoding;        /* enum csvr_encoding */
	size_t chunk;        /* bytes per read; 0 means 64 KiB */
	size_t max_field;    /* bytes of one field as UTF-8; 0 means 64 KiB */
	size_t max_record;   /* raw bytes of one record; 0 means 1 MiB */
	size_t max_fields;   /* fields in one record; 0 means 4096 */
} csvr_opts_t;

/* One record, valid until the next call on the reader. */
typedef struct csvr_row {
	size_t nfields;
	char **fields;          /* NUL-terminated UTF-8 */
	const size_t *lens;     /* byte length of each field */
	uint64_t line;          /* physical line the record starts on (1-based) */
	uint64_t lines;         /* physical lines it spans */
	uint64_t offset;        /* byte offset of its first byte */
	uint64_t end_offset;    /* byte offset just past its line end */
	/* CSVR_REJECT only: */
	const char *reason;     /* why, for a person */
	long field;             /* 0-based field the reason concerns, or -1 */
	const char *raw;        /* the raw bytes of the record (maybe cut) */
	size_t raw_len;
	int raw_cut;            /* 1: raw holds only the start of the record */
} csvr_row_t;

typedef struct csvr csvr_t;

/* Create a reader over `read`/`ctx` with the options (NULL for defaults).
 * Returns MID_OK and *out (free with csvr_free), MID_EINVAL for a bad
 * option, MID_ENOMEM. */
int csvr_new(csvr_t **out, csvr_read_fn read, void *ctx, const csvr_opts_t *opts);

/* Free a reader; NULL is allowed. */
void csvr_free(csvr_t *r);

/* The next record: CSVR_RECORD, CSVR_REJECT (row->reason says why),
 * CSVR_EOF, or a negative MID_E* code (MID_EIO with errno kept from the
 * read function). Fields point into the reader and stay valid until the
 * next call. */
int csvr_next(csvr_t *r, csvr_row_t *row);

/* Bytes consumed so far: the offset just past the last record returned. */
uint64_t csvr_offset(const csvr_t *r);

/* Convert `n` bytes of `in` in `encoding` to UTF-8 in `out` (capacity
 * `cap`, NUL-terminated, invalid or undefined bytes replaced by U+FFFD).
 * Returns the length written. For reject reports of non-UTF-8 input. */
size_t csvr_to_utf8(int encoding, const char *in, size_t n, char *out, size_t cap);

/* ---- whole-input encoding check -------------------------------------- */

/* An incremental check that a byte stream is valid in its encoding:
 * UTF-8 well-formed (no overlong forms, surrogates or values past
 * U+10FFFF), no byte undefined in Windows-1252, no NUL byte anywhere.
 * Zero-initialise, set `encoding`, feed every chunk to csvr_enc_feed and
 * call csvr_enc_end at the end. */
typedef struct csvr_enc_check {
	int encoding;
	uint64_t offset;     /* bytes seen */
	uint64_t line;       /* current physical line, 1-based once started */
	unsigned need;       /* UTF-8 continuation bytes still expected */
	unsigned cp;         /* code point being decoded */
	unsigned min;        /* smallest code point allowed for its length */
	const char *reason;  /* set on failure */
	uint64_t bad_offset; /* offset of the bad byte */
	uint64_t bad_line;   /* line of the bad byte */
} csvr_enc_check_t;

/* Feed n bytes. Returns 0, or -1 with c->reason, bad_offset, bad_line. */
int csvr_enc_feed(csvr_enc_check_t *c, const void *buf, size_t n);

/* End of input. Returns 0, or -1 when a UTF-8 sequence was cut short. */
int csvr_enc_end(csvr_enc_check_t *c);

/* Whether the n bytes at s are well-formed UTF-8 (1) or not (0). */
int csvr_utf8_valid(const unsigned char *s, size_t n);
