/* tests/bench/bench_issue.c -- 100,000 credentials encoded and signed by
 * mid_credential_sign, against raw Ed25519 signing of as many messages of
 * the same length, in the same run. Aim: ratio >= 0.3.
 *
 * Usage: bench_issue [COUNT] (default 100000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "reader/credfmt.h"

static double bi_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? atol(argv[1]) : 100000;
	uint8_t pk[32], sk[64], out[MID_CREDENTIAL_SIZE], msg[MID_CREDENTIAL_SIGNED_SIZE], sig[64];
	mid_wire_cred_t c;
	double t0, t_issue, t_raw;
	unsigned acc = 0;

	if (sodium_init() < 0 || count <= 0)
		return 1;
	crypto_sign_keypair(pk, sk);
	memset(&c, 0, sizeof c);
	c.version = MID_CREDENTIAL_VERSION;
	mid_wiegand_parse_format("H10304", &c.format);
	memset(c.site_id, 0x51, 16);
	c.facility_code = 4242;
	c.not_before = 1767225600;
	c.not_after = c.not_before + 365 * 86400;
	randombytes_buf(c.device_pk, 32);

	/* Alternate batches of 1000 so that a busy machine slows both sides alike. */
	randombytes_buf(msg, sizeof msg);
	t_issue = t_raw = 0;
	for (long done = 0; done < count;) {
		long batch = count - done < 1000 ? count - done : 1000;
		t0 = bi_now();
		for (long i = done; i < done + batch; i++) {
			c.card_number = (uint64_t)i % 524288;
			c.credential_id[15] = (uint8_t)i;
			c.credential_id[14] = (uint8_t)(i >> 8);
			c.credential_id[13] = (uint8_t)(i >> 16);
			if (mid_credential_sign(&c, sk, out) != 0)
				return 1;
			acc += out[MID_CREDENTIAL_SIZE - 1];
		}
		t_issue += bi_now() - t0;
		t0 = bi_now();
		for (long i = done; i < done + batch; i++) {
			msg[0] = (uint8_t)i;
			msg[1] = (uint8_t)(i >> 8);
			crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
			acc += sig[63];
		}
		t_raw += bi_now() - t0;
		done += batch;
	}

	printf("credentials encoded+signed: %ld in %.3f s = %10.0f/s\n", count, t_issue, (double)count / t_issue);
	printf("raw Ed25519 signatures:     %ld in %.3f s = %10.0f/s\n", count, t_raw, (double)count / t_raw);
	printf("ratio:                      %10.3f (aim >= 0.3)  [checksum %u]\n", t_raw / t_issue, acc & 0xff);
	return 0;
}
