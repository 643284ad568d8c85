/* gateway/api_verify.c -- online verification with the reference reader
 * library. This file sees reader/ and not the store (the two headers both
 * name a mid_wire_cred_t); api_reader.c passes the bundle bytes in. */
#include <config.h>
#include "reader/credfmt.h"
#include "reader/reader.h"
#include "reader/wiegand.h"
#include "gateway/api_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

static int64_t fixed_clock(void *ctx)
{
	return *(const int64_t *)ctx;
}

static void deny(mid_api_verdict_t *v, int reason)
{
	v->allow = 0;
	snprintf(v->reason, sizeof v->reason, "%s", mid_deny_name(reason));
	snprintf(v->detail, sizeof v->detail, "%s", mid_deny_str(reason));
}

/* See api_int.h. */
int mid_api_verify_presentation(const uint8_t *bundle, size_t bundle_len,
                                const uint8_t reader_id[16], const uint8_t *chal,
                                size_t chal_len, const uint8_t *pres, size_t pres_len,
                                int64_t now_s, int64_t ttl_s, mid_api_verdict_t *v)
{
	mid_rdr_t *rd = NULL;
	mid_challenge_t c;
	mid_presentation_t p;
	mid_card_t card;
	mid_deny_t d;
	int rc, ret = -1;
	int64_t clk = now_s;

	memset(v, 0, sizeof *v);
	/* the wire id, for the caller's store check (a presentation that does
	 * not decode has none) */
	if (mid_presentation_decode(pres, pres_len, &p) == 0 && p.credential_len >= 1 + 4 + 1) {
		mid_wire_cred_t cr;
		if (mid_credential_decode(p.credential, p.credential_len, &cr) == 0) {
			memcpy(v->wire_id, cr.credential_id, 16);
			v->have_wire_id = 1;
		}
	}
	rc = mid_challenge_decode(chal, chal_len, &c);
	if (rc != 0) {
		deny(v, rc == MID_CERR_TRUNCATED ? MID_DENY_TRUNCATED
		        : rc == MID_CERR_TRAILING || rc == MID_CERR_OVERSIZE ? MID_DENY_OVERSIZED
		                                                              : MID_DENY_MALFORMED);
		snprintf(v->detail, sizeof v->detail, "challenge: %s", mid_cerr_str(rc));
		return 0;
	}
	rd = malloc(sizeof *rd);
	if (!rd)
		return -1;
	if (mid_reader_init(rd, reader_id, NULL) != 0)
		goto out;
	mid_reader_set_clock(rd, fixed_clock, &clk);
	rd->challenge_ttl = ttl_s;
	if (mid_reader_load_bundle(rd, bundle, bundle_len) != 0)
		goto out;
	if (mid_reader_restore_challenge(rd, &c, 0) != 0) {
		deny(v, MID_DENY_MALFORMED);
		ret = 0;
		goto out;
	}
	d = mid_reader_verify(rd, pres, pres_len, &card);
	if (d != MID_DENY_NONE) {
		deny(v, d);
		ret = 0;
		goto out;
	}
	v->allow = 1;
	snprintf(v->reason, sizeof v->reason, "allow");
	memcpy(v->wire_id, card.credential_id, 16);
	v->have_wire_id = 1;
	mid_wiegand_format_name(card.format, v->format, sizeof v->format);
	v->facility_code = card.facility_code;
	v->card_number = card.card_number;
	v->bit_count = card.bits.nbits;
	mid_wiegand_to_string(&card.bits, v->bits, sizeof v->bits);
	ret = 0;
out:
	if (rd) {
		sodium_memzero(rd, sizeof *rd);
		free(rd);
	}
	return ret;
}

/* See api_int.h. */
int mid_api_challenge_info(const uint8_t *chal, size_t chal_len, char nonce_hex[65],
                           uint8_t reader_id[16], int64_t *timestamp)
{
	mid_challenge_t c;
	if (mid_challenge_decode(chal, chal_len, &c) != 0)
		return -1;
	sodium_bin2hex(nonce_hex, 65, c.nonce, c.nonce_len);
	memcpy(reader_id, c.reader_id, 16);
	*timestamp = c.timestamp;
	return 0;
}
