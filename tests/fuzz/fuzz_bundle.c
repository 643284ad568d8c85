/* tests/fuzz/fuzz_bundle.c -- libFuzzer target: bundle decoder, and the
 * reader's bundle loading (trust on first use, then as a delta). */
#include <stdint.h>
#include <string.h>
#include <sodium.h>
#include "reader/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static mid_rdr_t r;
	static const uint8_t rid[MID_ID_SIZE];
	mid_bundle_t b;
	if (mid_bundle_decode(data, size, &b) == 0) {
		/* every id list the decoder hands out lies inside the input */
		if (b.signed_len + MID_SIG_SIZE != size ||
		    (b.nrevoked && (b.revoked < data || b.revoked + (size_t)b.nrevoked * MID_ID_SIZE > data + size)))
			__builtin_trap();
	}
	if (mid_reader_init(&r, rid, NULL) != 0)
		return 0;
	(void)mid_reader_load_bundle(&r, data, size);
	(void)mid_reader_load_bundle(&r, data, size);
	return 0;
}
