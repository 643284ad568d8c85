/* tests/bench/bench_verify.c -- presentations verified per second by the
 * reference reader, against the raw libsodium rate of two Ed25519
 * verifications, measured in the same run. Target ratio >= 0.8.
 *
 * Usage: bench_verify [SECONDS_PER_SIDE] (default 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "reader/phone.h"
#include "reader/reader.h"

static double bv_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static mid_rdr_t R;

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	uint8_t ipk[32], isk[64], dpk[32], dsk[64], rid[16], cred[MID_CREDENTIAL_SIZE];
	uint8_t pres[MID_PRESENTATION_MAX_SIZE], msg[128];
	size_t blen, plen, mlen;
	mid_wire_cred_t c;
	mid_bundle_t b;
	mid_challenge_t ch;
	mid_card_t card;
	double t0, t_reader, t_raw;
	long n_reader = 0, n_raw = 0;
	volatile int sink = 0;

	if (sodium_init() < 0)
		return 1;
	crypto_sign_keypair(ipk, isk);
	crypto_sign_keypair(dpk, dsk);
	memset(rid, 0x72, sizeof rid);
	memset(&b, 0, sizeof b);
	b.version = MID_BUNDLE_VERSION;
	memset(b.site_id, 0x51, 16);
	b.bundle_version = 1;
	b.nkeys = 1;
	memcpy(b.keys[0].pk, ipk, 32);
	b.keys[0].status = MID_WKEY_CURRENT;
	{
		/* a realistic revocation list: 4096 entries */
		static uint8_t ids[MID_BUNDLE_MAX_REVOKED * 16];
		randombytes_buf(ids, sizeof ids);
		b.nrevoked = (uint32_t)mid_ids_sort_unique(ids, MID_BUNDLE_MAX_REVOKED);
		b.revoked = ids;
		static uint8_t big[MID_BUNDLE_MAX_SIZE];
		if (mid_bundle_sign(&b, isk, big, sizeof big, &blen) != 0 || mid_reader_init(&R, rid, ipk) != 0 ||
		    mid_reader_load_bundle(&R, big, blen) != 0)
			return 1;
	}
	memset(&c, 0, sizeof c);
	c.version = MID_CREDENTIAL_VERSION;
	mid_wiegand_parse_format("H10301", &c.format);
	memset(c.site_id, 0x51, 16);
	c.facility_code = 118;
	c.card_number = 1603;
	c.not_before = 0;
	c.not_after = INT64_MAX / 2;
	memcpy(c.device_pk, dpk, 32);
	if (mid_credential_sign(&c, isk, cred) != 0)
		return 1;
	R.challenge_ttl = INT64_MAX / 4;
	mid_reader_challenge(&R, &ch);
	if (mid_presentation_sign(&ch, cred, sizeof cred, dsk, pres, sizeof pres, &plen) != 0)
		return 1;
	mid_presentation_message(&ch, cred, sizeof cred, msg, sizeof msg, &mlen);

	/* The two sides run in alternating slices of 0.05 s so that a busy
	 * machine slows both alike. Reader side: the same presentation, its
	 * challenge re-armed each time (a struct copy; a real reader makes a
	 * new challenge). Raw side: two libsodium Ed25519 verifications
	 * (issuer + device) of the same messages. */
	t_reader = t_raw = 0;
	while (t_reader < secs || t_raw < secs) {
		t0 = bv_now();
		do {
			for (int i = 0; i < 16; i++) {
				mid_reader_restore_challenge(&R, &ch, 0);
				if (mid_reader_verify(&R, pres, plen, &card) != MID_DENY_NONE) {
					fprintf(stderr, "bench_verify: presentation refused\n");
					return 1;
				}
			}
			n_reader += 16;
		} while (bv_now() - t0 < 0.05);
		t_reader += bv_now() - t0;
		t0 = bv_now();
		do {
			for (int i = 0; i < 16; i++) {
				sink += crypto_sign_verify_detached(cred + MID_CREDENTIAL_SIGNED_SIZE, cred,
								    MID_CREDENTIAL_SIGNED_SIZE, ipk);
				sink += crypto_sign_verify_detached(pres + plen - 64, msg, mlen, dpk);
			}
			n_raw += 16;
		} while (bv_now() - t0 < 0.05);
		t_raw += bv_now() - t0;
	}
	if (sink != 0)
		return 1;

	{
		double r_reader = (double)n_reader / t_reader, r_raw = (double)n_raw / t_raw;
		printf("reader verify:            %10.0f presentations/s (%ld in %.2f s)\n", r_reader, n_reader, t_reader);
		printf("raw 2x Ed25519 verify:    %10.0f pairs/s (%ld in %.2f s)\n", r_raw, n_raw, t_raw);
		printf("ratio:                    %10.3f (target >= 0.8)\n", r_reader / r_raw);
	}
	return 0;
}
