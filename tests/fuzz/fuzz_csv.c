/* tests/fuzz/fuzz_csv.c -- libFuzzer target for the streaming CSV reader.
 *
 * The first input byte picks the dialect (delimiter, encoding), the read
 * size (1..16 bytes, so records cross chunk boundaries everywhere) and
 * small field/record limits; the rest is the CSV text. Every record must
 * have valid UTF-8, NUL-terminated fields within the limits, offsets that
 * only grow and lines that only grow; the encoding check must not crash.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "mobileid/connector.h"
#include "connectors/csv/csvread.h"

#define FUZZ_MAX_INPUT (256 * 1024)

typedef struct fz {
	const uint8_t *p;
	size_t n, off, step;
} fz_t;

static ssize_t fz_read(void *ctx, void *buf, size_t n)
{
	fz_t *f = ctx;
	size_t k = f->n - f->off;

	if (k > n)
		k = n;
	if (k > f->step)
		k = f->step;
	memcpy(buf, f->p + f->off, k);
	f->off += k;
	return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = { ',', ';', '\t', '|' };
	csvr_opts_t o = {0};
	csvr_enc_check_t ec = {0};
	csvr_t *r;
	csvr_row_t row;
	fz_t f;
	uint64_t last_off = 0, last_line = 0;
	int rc;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	o.delim = delims[data[0] & 3];
	o.encoding = (data[0] >> 2) % 3;
	o.chunk = 1 + ((data[0] >> 4) & 15);
	o.max_field = 64;
	o.max_record = 256;
	o.max_fields = 32;
	f.p = data + 1;
	f.n = size - 1;
	f.off = 0;
	f.step = o.chunk;

	ec.encoding = o.encoding;
	if (csvr_enc_feed(&ec, f.p, f.n) == 0)
		(void)csvr_enc_end(&ec);

	if (csvr_new(&r, fz_read, &f, &o) != MID_OK)
		return 0;
	while ((rc = csvr_next(r, &row)) > 0) {
		assert(row.offset >= last_off);
		assert(row.end_offset > row.offset);
		assert(row.end_offset <= f.n);
		assert(row.line > last_line || last_line == 0);
		last_off = row.end_offset;
		last_line = row.line;
		if (rc == CSVR_RECORD) {
			assert(row.nfields >= 1 && row.nfields <= o.max_fields);
			for (size_t i = 0; i < row.nfields; i++) {
				assert(row.lens[i] <= o.max_field);
				assert(strlen(row.fields[i]) == row.lens[i]);
				assert(csvr_utf8_valid((const unsigned char *)row.fields[i], row.lens[i]));
			}
		} else {
			char out[1024];
			assert(row.reason != NULL);
			assert(row.raw != NULL || row.raw_len == 0);
			csvr_to_utf8(o.encoding, row.raw, row.raw_len, out, sizeof out);
			assert(csvr_utf8_valid((const unsigned char *)out, strlen(out)));
		}
	}
	assert(rc == CSVR_EOF);
	assert(csvr_offset(r) == f.n);
	csvr_free(r);
	return 0;
}
