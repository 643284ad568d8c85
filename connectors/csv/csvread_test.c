/* connectors/csv/csvread_test.c -- unit tests of the streaming CSV reader. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mobileid/connector.h"
#include "connectors/csv/csvread.h"
#include "tests/tap.h"

typedef struct mem {
	const char *p;
	size_t n, off, step;
	int fail_at;  /* fail the read that would start at this offset (+1) */
} mem_t;

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	mem_t *m = ctx;
	size_t k = m->n - m->off;

	if (m->fail_at && m->off + 1 >= (size_t)m->fail_at) {
		errno = EIO;
		return -1;
	}
	if (k > n)
		k = n;
	if (m->step && k > m->step)
		k = m->step;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

/* Render what the reader makes of `in`: records as L<line>[f1|f2] and
 * rejects as L<line>!<field>:<reason-start>, space separated. */
static char out[8192];

static const char *render_n(const char *in, size_t n, const csvr_opts_t *o, size_t step)
{
	mem_t m = { in, n, 0, step, 0 };
	csvr_t *r;
	csvr_row_t row;
	size_t len = 0;
	int rc;

	out[0] = '\0';
	if (csvr_new(&r, mem_read, &m, o) != MID_OK)
		return "(new failed)";
	while ((rc = csvr_next(r, &row)) > 0 && len < sizeof out - 512) {
		if (rc == CSVR_RECORD) {
			len += (size_t)snprintf(out + len, sizeof out - len, "%sL%llu[", len ? " " : "",
			                        (unsigned long long)row.line);
			for (size_t i = 0; i < row.nfields; i++)
				len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? "|" : "",
				                        row.fields[i]);
			len += (size_t)snprintf(out + len, sizeof out - len, "]");
		} else {
			len += (size_t)snprintf(out + len, sizeof out - len, "%sL%llu!%ld:%.12s",
			                        len ? " " : "", (unsigned long long)row.line, row.field,
			                        row.reason);
		}
	}
	if (rc < 0)
		len += (size_t)snprintf(out + len, sizeof out - len, " ERR%d", rc);
	csvr_free(r);
	return out;
}

static const char *render(const char *in, const csvr_opts_t *o)
{
	return render_n(in, strlen(in), o, 0);
}

static void t_dialects(void)
{
	csvr_opts_t o = {0};

	is_str(render("a,b,c\n1,2,3\n", NULL), "L1[a|b|c] L2[1|2|3]", "comma, LF");
	is_str(render("a,b\r\n1,2\r\n", NULL), "L1[a|b] L2[1|2]", "CRLF");
	is_str(render("a,b\r\n1,2\n3,4", NULL), "L1[a|b] L2[1|2] L3[3|4]",
	       "mixed line ends, last line without line end");
	is_str(render("a,b\r\n1,2\r", NULL), "L1[a|b] L2[1|2]", "last line ends in a bare CR");
	o.delim = ';';
	is_str(render("a;b,c\n\"x;y\";2\n", &o), "L1[a|b,c] L2[x;y|2]", "semicolon");
	o.delim = '\t';
	is_str(render("a\tb c\n1\t\"2\t3\"\n", &o), "L1[a|b c] L2[1|2\t3]", "tab");
	o.delim = '|';
	is_str(render("a|b\n\"1|1\"|2\n", &o), "L1[a|b] L2[1|1|2]", "pipe");
	o.delim = ':';
	{
		csvr_t *r;
		ok(csvr_new(&r, mem_read, NULL, &o) == MID_EINVAL, "other delimiters refused");
	}
}

static void t_quoting(void)
{
	is_str(render("\"a,b\",\"say \"\"hi\"\"\",c\n", NULL), "L1[a,b|say \"hi\"|c]",
	       "embedded delimiter and doubled quotes");
	is_str(render("id,note\n1,\"two\nlines\"\n2,x\n", NULL),
	       "L1[id|note] L2[1|two\nlines] L4[2|x]",
	       "embedded LF; the next record has its physical line number");
	is_str(render("1,\"a\r\nb\"\r\n2,c\r\n", NULL), "L1[1|a\r\nb] L3[2|c]",
	       "embedded CRLF kept, record CRLF stripped");
	is_str(render("\"\",x,\"\"\n", NULL), "L1[|x|]", "empty quoted fields");
	is_str(render("a,\"b\"\r\n", NULL), "L1[a|b]", "closing quote then CRLF");
	is_str(render("\"\"\"\"\n", NULL), "L1[\"]", "a field that is one quote");
	is_str(render("a,\"b\"x,c\n2,ok\n", NULL), "L1!1:text after t L2[2|ok]",
	       "text after a closing quote: rejected, next line read");
	is_str(render("a,b\"c,d\n2,ok\n", NULL), "L1!1:a double quo L2[2|ok]",
	       "quote inside an unquoted field: rejected");
	is_str(render("1,ok\n2,\"open\n", NULL), "L1[1|ok] L2!1:a quoted fie",
	       "unterminated quote at the end of the file");
	is_str(render("x,\"a\"z,\"multi\nline\"\n3,ok\n", NULL), "L1!1:text after t L3[3|ok]",
	       "resync after a reject skips a quoted line break");
}

static void t_blank(void)
{
	is_str(render("\n\na,b\n\n1,2\n\n\n", NULL), "L3[a|b] L5[1|2]", "blank lines skipped");
	is_str(render("a,b\r\n\r\n1,2\r\n\r\n", NULL), "L1[a|b] L3[1|2]", "blank CRLF lines");
	is_str(render("a,b\n,\n1,2\n,,\n", NULL), "L1[a|b] L3[1|2]",
	       "lines of empty fields skipped (spreadsheet padding)");
	is_str(render("a,b\n   \n1,2\n \t \n", NULL), "L1[a|b] L3[1|2]", "lines of blanks skipped");
	is_str(render("a\n\"\"\n", NULL), "L1[a] L2[]", "one quoted empty field is a record");
	is_str(render("", NULL), "", "empty input");
	is_str(render("\n\r\n\n", NULL), "", "only blank lines");
}

static void t_encodings(void)
{
	csvr_opts_t o = {0};

	is_str(render("\xEF\xBB\xBFid,n\n1,J\xC3\xBCrgen\n", NULL), "L1[id|n] L2[1|J\xC3\xBCrgen]",
	       "UTF-8 BOM skipped, UTF-8 kept");
	is_str(render("id\nJ\xFCrgen\n2\n", NULL), "L1[id] L2!0:not valid UT L3[2]",
	       "Latin-1 byte in UTF-8 mode: row rejected");
	is_str(render("\"\xE2\x82\"\n", NULL), "L1!0:not valid UT", "cut UTF-8 sequence");
	is_str(render("\xC0\xAF\n", NULL), "L1!0:not valid UT", "overlong form");
	is_str(render("\xED\xA0\x80\n", NULL), "L1!0:not valid UT", "surrogate");
	{
		static const char nul[] = "a\0b\n2\n";
		is_str(render_n(nul, sizeof nul - 1, NULL, 0), "L1!0:NUL byte L2[2]", "NUL byte rejected");
	}
	o.encoding = CSVR_ENC_CP1252;
	is_str(render("n\n\x80 \xE9t\xE9 \x9F\n", &o), "L1[n] L2[\xE2\x82\xAC \xC3\xA9t\xC3\xA9 \xC5\xB8]",
	       "Windows-1252 to UTF-8 (euro, e acute, Y diaeresis)");
	is_str(render("n\n\"\x93q\x94\"\n", &o), "L1[n] L2[\xE2\x80\x9Cq\xE2\x80\x9D]",
	       "Windows-1252 curly quotes inside quotes");
	is_str(render("n\na\x81\n", &o), "L1[n] L2!0:a byte that ", "undefined Windows-1252 byte");
	is_str(render("\xEF\xBB\xBFn\n", &o), "L1[\xC3\xAF\xC2\xBB\xC2\xBFn]",
	       "no BOM skipping outside UTF-8 (the module refuses such files)");
	o.encoding = CSVR_ENC_LATIN1;
	is_str(render("n\n\x80\xE9\xFF\n", &o), "L1[n] L2[\xC2\x80\xC3\xA9\xC3\xBF]", "ISO-8859-1");
}

static void t_limits(void)
{
	csvr_opts_t o = {0};
	char big[600];

	o.max_field = 4;
	is_str(render("abcd,e\nabcde,f\n1,2\n", &o), "L1[abcd|e] L2!0:field longer L3[1|2]",
	       "field limit: at the limit ok, over it rejected");
	is_str(render("\xC3\xA9\xC3\xA9\xC3\xA9,1\n", &o), "L1!0:field longer",
	       "field limit counts UTF-8 bytes");
	o.max_field = 0;
	o.max_record = 64;
	o.chunk = 16;
	memset(big, 'x', sizeof big);
	memcpy(big, "a,b\n", 4);
	big[300] = '\n';
	memcpy(big + 301, "1,2\n", 5);
	is_str(render(big, &o), "L1[a|b] L2!-1:record longe L3[1|2]",
	       "record over the limit across chunks: rejected, the next one read");
	big[100] = '"';
	big[150] = '\n';
	big[200] = '"';
	is_str(render(big, &o), "L1[a|b] L2!-1:record longe L4[1|2]",
	       "too-long record with a quoted line break skipped whole");
	o.max_record = 64;
	o.chunk = 4096;
	memset(big, 'y', sizeof big);
	memcpy(big, "a,b\n", 4);
	big[100] = '\n';
	memcpy(big + 101, "1,2\n", 5);
	is_str(render(big, &o), "L1[a|b] L2!-1:record longe L3[1|2]",
	       "record over the limit inside one chunk: rejected too");
	o.max_record = 0;
	o.chunk = 0;
	o.max_fields = 3;
	is_str(render("a,b,c\na,b,c,d\n1\n", &o), "L1[a|b|c] L2!3:too many fie L3[1]", "field count limit");
}

static void t_positions(void)
{
	static const char in[] = "\xEF\xBB\xBFh1,h2\r\n\r\n1,\"x\ny\"\r\nbad\"q,2\n3,z";
	mem_t m = { in, sizeof in - 1, 0, 3, 0 };
	csvr_t *r;
	csvr_row_t row;

	if (csvr_new(&r, mem_read, &m, NULL) != MID_OK)
		return;
	is_int(csvr_next(r, &row), CSVR_RECORD, "header");
	is_int(row.offset, 3, "offset after the BOM");
	is_int(row.end_offset, 10, "end offset past CRLF");
	is_int(csvr_next(r, &row), CSVR_RECORD, "multi-line record");
	is_int(row.line, 3, "its line");
	is_int(row.lines, 2, "it spans two lines");
	is_int(row.offset, 12, "its offset");
	is_int(csvr_offset(r), row.end_offset, "csvr_offset agrees");
	is_int(csvr_next(r, &row), CSVR_REJECT, "a reject");
	is_int(row.line, 5, "its line");
	ok(row.raw_len == 7 && memcmp(row.raw, "bad\"q,2", 7) == 0, "raw line without line end");
	is_int(csvr_next(r, &row), CSVR_RECORD, "last record");
	is_int(row.line, 6, "line 6");
	is_int(row.end_offset, sizeof in - 1, "ends at the end of the input");
	is_int(csvr_next(r, &row), CSVR_EOF, "then EOF");
	is_int(csvr_next(r, &row), CSVR_EOF, "EOF again");
	csvr_free(r);
}

/* Every chunk size must give the same result. */
static void t_chunking(void)
{
	static const char in[] =
		"\xEF\xBB\xBFid,name,note\r\n"
		"1,\"O'Brien, Jr.\",\"multi\r\nline \"\"quoted\"\"\"\r\n"
		"\r\n"
		"2,J\xC3\xBCrgen,\r\n"
		"3,bad\"quote,x\r\n"
		"4,\"\",\"\"\r\n"
		",,\r\n"
		"5,\"a\"b,c\r\n"
		"6,last,\"\"\"\"";
	char ref[8192];
	int same = 1;

	snprintf(ref, sizeof ref, "%s", render_n(in, sizeof in - 1, NULL, 0));
	for (size_t step = 1; step <= 9; step++) {
		csvr_opts_t o = { .chunk = step };
		if (strcmp(render_n(in, sizeof in - 1, &o, step), ref) != 0) {
			diag("chunk %zu: %s", step, out);
			same = 0;
		}
	}
	ok(same, "chunk sizes 1..9 give the same records");
	is_str(ref, "L1[id|name|note] L2[1|O'Brien, Jr.|multi\r\nline \"quoted\"] "
	       "L5[2|J\xC3\xBCrgen|] L6!1:a double quo L7[4||] L9!1:text after t L10[6|last|\"]",
	       "the reference result");
}

static void t_read_error(void)
{
	static const char in[] = "a,b\n1,2\n3,4\n";
	mem_t m = { in, sizeof in - 1, 0, 4, 5 };
	csvr_opts_t o = { .chunk = 4 };
	csvr_t *r;
	csvr_row_t row;

	if (csvr_new(&r, mem_read, &m, &o) != MID_OK)
		return;
	is_int(csvr_next(r, &row), CSVR_RECORD, "first record before the error");
	is_int(csvr_next(r, &row), MID_EIO, "a failing read gives MID_EIO");
	csvr_free(r);
}

static void t_enc_check(void)
{
	struct { const char *in; size_t n; int enc; int ok; uint64_t line; const char *why; } v[] = {
		{ "a,b\nJ\xC3\xBCrgen\n", 0, CSVR_ENC_UTF8, 1, 0, NULL },
		{ "a\nb\nJ\xE9rgen\n", 0, CSVR_ENC_UTF8, 0, 3, "not valid UTF-8 (a multi" },
		{ "a\n\xFF", 0, CSVR_ENC_UTF8, 0, 2, "not valid UTF-8 (a byte" },
		{ "\xE0\x80\x80", 0, CSVR_ENC_UTF8, 0, 1, "not valid UTF-8 (an overlong" },
		{ "\xED\xB0\x80", 0, CSVR_ENC_UTF8, 0, 1, "not valid UTF-8 (an overlong" },
		{ "\xF4\x90\x80\x80", 0, CSVR_ENC_UTF8, 0, 1, "not valid UTF-8 (an overlong" },
		{ "ok \xE2\x82", 0, CSVR_ENC_UTF8, 0, 1, "not valid UTF-8 (the file ends" },
		{ "\xFF\xFEi\0d\0", 6, CSVR_ENC_UTF8, 0, 1, "the file is UTF-16" },
		{ "a\0b", 3, CSVR_ENC_UTF8, 0, 1, "NUL byte" },
		{ "0123456789abcdef\n0123456789\0", 28, CSVR_ENC_UTF8, 0, 2, "NUL byte" },
		{ "caf\xE9 \x80", 0, CSVR_ENC_CP1252, 1, 0, NULL },
		{ "x\n\x81", 0, CSVR_ENC_CP1252, 0, 2, "a byte that is not defined" },
		{ "\x81\x8D\x8F", 0, CSVR_ENC_LATIN1, 1, 0, NULL },
		{ "\xF0\x9F\x98\x80 emoji", 0, CSVR_ENC_UTF8, 1, 0, NULL },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = v[i].n ? v[i].n : strlen(v[i].in);
		/* fed whole, and fed a byte at a time (the UTF-16 mark needs
		 * its two bytes in the first chunk) */
		for (int split = 0; split < (v[i].n == 6 ? 1 : 2); split++) {
			csvr_enc_check_t c = { .encoding = v[i].enc };
			int bad = 0;
			if (!split)
				bad = csvr_enc_feed(&c, v[i].in, n) < 0;
			else
				for (size_t k = 0; k < n && !bad; k++)
					bad = csvr_enc_feed(&c, v[i].in + k, 1) < 0;
			if (!bad)
				bad = csvr_enc_end(&c) < 0;
			if (v[i].ok) {
				ok(!bad, "encoding check %zu%s passes", i, split ? " (bytewise)" : "");
			} else {
				int good = bad && c.reason &&
				           strncmp(c.reason, v[i].why, strlen(v[i].why)) == 0 &&
				           c.bad_line == v[i].line;
				ok(good, "encoding check %zu%s: line %llu, %s", i, split ? " (bytewise)" : "",
				   (unsigned long long)v[i].line, v[i].why);
				if (!good && c.reason)
					diag("got line %llu: %s", (unsigned long long)c.bad_line, c.reason);
			}
		}
	}
}

static void t_to_utf8(void)
{
	char buf[32];

	csvr_to_utf8(CSVR_ENC_CP1252, "\x80x\x81", 3, buf, sizeof buf);
	is_str(buf, "\xE2\x82\xACx\xEF\xBF\xBD", "cp1252 raw to UTF-8, undefined as U+FFFD");
	csvr_to_utf8(CSVR_ENC_UTF8, "a\xFF\xC3\xA9", 4, buf, sizeof buf);
	is_str(buf, "a\xEF\xBF\xBD\xC3\xA9", "bad UTF-8 replaced, good kept");
	csvr_to_utf8(CSVR_ENC_UTF8, "abcdef", 6, buf, 4);
	is_str(buf, "abc", "output bounded");
	ok(csvr_utf8_valid((const unsigned char *)"\xF0\x9F\x98\x80", 4), "4-byte valid");
	ok(!csvr_utf8_valid((const unsigned char *)"\xF0\x9F\x98", 3), "cut 4-byte invalid");
}

int main(void)
{
	t_dialects();
	t_quoting();
	t_blank();
	t_encodings();
	t_limits();
	t_positions();
	t_chunking();
	t_read_error();
	t_enc_check();
	t_to_utf8();
	return tap_done();
}
