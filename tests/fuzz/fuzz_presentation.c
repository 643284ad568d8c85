/* tests/fuzz/fuzz_presentation.c -- libFuzzer target: presentation and
 * challenge decoders, and the reader's whole verify path with a loaded
 * bundle (so the input can reach the signature checks). */
#include <stdint.h>
#include <string.h>
#include <sodium.h>
#include "reader/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mid_rdr_t fz_reader;

static int64_t fz_clock(void *ctx)
{
	(void)ctx;
	return 1767225600;
}

static int fz_setup(void)
{
	static uint8_t bundle[1024];
	uint8_t pk[32], sk[64], seed[32];
	uint8_t rid[MID_ID_SIZE];
	mid_bundle_t b;
	size_t len;
	if (sodium_init() < 0)
		return -1;
	memset(seed, 7, sizeof seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	memset(rid, 0x72, sizeof rid);
	memset(&b, 0, sizeof b);
	b.version = MID_BUNDLE_VERSION;
	memset(b.site_id, 0x51, MID_ID_SIZE);
	b.bundle_version = 1;
	b.nkeys = 1;
	memcpy(b.keys[0].pk, pk, 32);
	b.keys[0].status = MID_WKEY_CURRENT;
	if (mid_bundle_sign(&b, sk, bundle, sizeof bundle, &len) != 0)
		return -1;
	if (mid_reader_init(&fz_reader, rid, pk) != 0 || mid_reader_load_bundle(&fz_reader, bundle, len) != 0)
		return -1;
	mid_reader_set_clock(&fz_reader, fz_clock, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	mid_presentation_t p;
	mid_challenge_t c;
	mid_card_t card;
	if (!ready) {
		if (fz_setup() != 0)
			__builtin_trap();
		ready = 1;
	}
	(void)mid_challenge_decode(data, size, &c);
	if (mid_presentation_decode(data, size, &p) == 0) {
		/* accept the challenge the input claims to answer, so the
		 * fuzzer can get past the nonce checks */
		if (mid_reader_restore_challenge(&fz_reader, &p.challenge, 0) != 0)
			__builtin_trap();
	}
	if (mid_reader_verify(&fz_reader, data, size, &card) == MID_DENY_NONE)
		__builtin_trap(); /* nobody but the seed-7 issuer can mint a credential */
	return 0;
}
