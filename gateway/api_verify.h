/* gateway/api_verify.h -- online verification with the reference reader
 * library, for the HTTP API. Kept apart from gateway/store.h (both it and
 * reader/credfmt.h name a mid_credential_t): api_verify.c includes reader/
 * and this header only. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* ---- online verification (api_verify.c; sees reader/, not the store) ------- */

/* Verdict of an online verification. */
typedef struct mid_api_verdict {
	int allow;
	char reason[48];         /* denial name (reader.h mid_deny_name) */
	char detail[160];        /* one line for people */
	uint8_t wire_id[16];     /* the credential id inside the presentation */
	int have_wire_id;
	char format[16];
	uint32_t facility_code;
	uint64_t card_number;
	char bits[80];           /* "0101..." with parity */
	int bit_count;
} mid_api_verdict_t;

/* Verify presentation `pres` answering `chal` made by reader `reader_id`
 * (16 bytes) against the encoded full bundle (freshly built: the current
 * revocation list), at time now_s. Challenges older than ttl_s are
 * refused. Returns 0 and fills *v (allow or a denial), or -1 on an
 * internal error (bundle does not load). */
int mid_api_verify_presentation(const uint8_t *bundle, size_t bundle_len,
                                const uint8_t reader_id[16], const uint8_t *chal,
                                size_t chal_len, const uint8_t *pres, size_t pres_len,
                                int64_t now_s, int64_t ttl_s, mid_api_verdict_t *v);
/* The nonce of an encoded challenge as hex (for the replay store), and its
 * reader id. Returns 0 or -1 when the challenge does not decode. */
int mid_api_challenge_info(const uint8_t *chal, size_t chal_len, char nonce_hex[65],
                           uint8_t reader_id[16], int64_t *timestamp);
