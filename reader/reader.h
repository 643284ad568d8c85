/* reader/reader.h -- the reference reader: bundle, challenge, verification.
 *
 * Small and allocation-free: a mid_rdr_t holds everything (about 66 KiB
 * with the full revocation list) and is provided by the caller (static
 * storage on an embedded reader). Needs only libsodium and libc's string
 * functions; no I/O, no logging, no malloc (reader_test proves the verify
 * path with a malloc that fails).
 *
 * Trust: the reader is provisioned with the site issuer's public key (the
 * trust anchor) and accepts a bundle signed by that key, or by a key the
 * bundle it already holds lists as current or next (so a key rotation
 * announced in bundle N is followed by bundle N+1 signed with the new key).
 * A key listed as revoked is never accepted. When initialised without an
 * anchor the reader trusts on first use: the first bundle must be signed by
 * a current/next key it lists itself, and that key becomes the anchor.
 * Trust on first use is for demos and the simulator; real readers should be
 * provisioned with the anchor.
 *
 * Not thread-safe: one mid_rdr_t per thread, or a lock around it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "reader/cerr.h"
#include "reader/credfmt.h"
#include "reader/wiegand.h"

#define MID_READER_USED_NONCES 16 /* answered nonces remembered for replay detection */

/* Why a presentation was refused. MID_DENY_NONE means accepted. */
typedef enum mid_deny {
	MID_DENY_NONE = 0,
	MID_DENY_TRUNCATED,          /* presentation or credential cut short */
	MID_DENY_OVERSIZED,          /* longer than a valid presentation / trailing bytes */
	MID_DENY_BAD_VERSION,        /* unsupported presentation or credential version */
	MID_DENY_MALFORMED,          /* wrong magic or a forbidden field value */
	MID_DENY_NO_BUNDLE,          /* the reader has no bundle loaded */
	MID_DENY_WRONG_READER,       /* answer made for another reader */
	MID_DENY_WRONG_NONCE,        /* answer made for another (or no) challenge */
	MID_DENY_REPLAY,             /* this challenge was already answered */
	MID_DENY_CHALLENGE_EXPIRED,  /* the challenge is older than the reader's TTL */
	MID_DENY_WRONG_SITE,         /* credential of another site */
	MID_DENY_UNKNOWN_ISSUER_KEY, /* issuer key id not in the bundle */
	MID_DENY_ISSUER_KEY_INACTIVE,/* issuer key revoked or outside its window */
	MID_DENY_FORGED_SIGNATURE,   /* issuer signature does not verify */
	MID_DENY_DEVICE_SIGNATURE,   /* wrong device key or bad device signature */
	MID_DENY_NOT_YET_VALID,
	MID_DENY_EXPIRED,
	MID_DENY_REVOKED,
	MID_DENY_FORMAT_MISMATCH,    /* credential format differs from the bundle's output format */
	MID_DENY_INTERNAL,           /* bad arguments */
	MID_DENY_COUNT_
} mid_deny_t;

/* One-line human text of a denial; static, never NULL. */
const char *mid_deny_str(int reason);
/* Short machine token ("revoked", "wrong_nonce", ...); static, never NULL. */
const char *mid_deny_name(int reason);

/* The card value a successful presentation yields. */
typedef struct mid_card {
	mid_wformat_t format;
	uint32_t facility_code;
	uint64_t card_number;
	mid_wiegand_bits_t bits;               /* with parity, ready for the wire */
	uint8_t credential_id[MID_ID_SIZE];
	int64_t not_after;
} mid_card_t;

/* Clock: unix seconds. */
typedef int64_t (*mid_clock_fn)(void *ctx);

typedef struct mid_rdr {
	/* configuration (set by init; the public knobs may be changed after) */
	uint8_t reader_id[MID_ID_SIZE];
	int64_t challenge_ttl;   /* seconds a challenge may be answered; default 30 */
	int64_t clock_skew;      /* seconds of tolerance on credential windows; default 0 */
	uint8_t nonce_len;       /* 16 or 32; default 32 */
	mid_clock_fn clock;      /* default: time(NULL) */
	void *clock_ctx;
	/* trust */
	int have_anchor;
	uint8_t anchor_pk[MID_PK_SIZE];
	uint8_t anchor_key_id[MID_KEY_ID_SIZE];
	/* bundle state */
	int have_bundle;
	uint8_t site_id[MID_ID_SIZE];
	uint64_t bundle_version;
	int64_t generated_at;
	mid_wformat_t output_format;
	uint16_t nkeys;
	mid_bundle_key_t keys[MID_BUNDLE_MAX_KEYS];
	uint32_t nrevoked;
	uint8_t revoked[MID_BUNDLE_MAX_REVOKED][MID_ID_SIZE];
	/* challenge state */
	int have_challenge;
	int challenge_answered;
	mid_challenge_t challenge;
	uint8_t used[MID_READER_USED_NONCES][MID_NONCE_MAX];
	uint8_t used_len[MID_READER_USED_NONCES];
	unsigned used_next;
} mid_rdr_t;

/* Initialise *r (caller-owned storage, nothing allocated). anchor_pk may
 * be NULL for trust on first use. Returns 0, or MID_CERR_INVAL /
 * MID_CERR_CRYPTO (sodium_init failed). */
int mid_reader_init(mid_rdr_t *r, const uint8_t reader_id[MID_ID_SIZE], const uint8_t *anchor_pk);

/* Replace the clock (fn NULL restores time(NULL)). */
void mid_reader_set_clock(mid_rdr_t *r, mid_clock_fn fn, void *ctx);

/* Load a full bundle or apply a delta. All checks happen before any state
 * changes: on error the reader keeps its previous bundle. Returns 0 or
 * MID_CERR_* (decode errors, UNKNOWN_KEY, SIGNATURE, SITE, STALE for a
 * version not newer than the loaded one, BASE for a delta that does not
 * apply to the loaded version, OVERSIZE when the merged list would exceed
 * MID_BUNDLE_MAX_REVOKED). buf is not kept. */
int mid_reader_load_bundle(mid_rdr_t *r, const uint8_t *buf, size_t len);

/* Make a fresh challenge (random nonce, reader clock) and remember it as
 * the outstanding one; the previous challenge, if unanswered, is dropped.
 * Returns 0 or MID_CERR_INVAL. */
int mid_reader_challenge(mid_rdr_t *r, mid_challenge_t *out);

/* Restore an outstanding challenge saved earlier (the simulator keeps it
 * in a file between runs); `answered` non-zero marks it already used. */
int mid_reader_restore_challenge(mid_rdr_t *r, const mid_challenge_t *c, int answered);

/* Verify a phone's presentation against the outstanding challenge and the
 * loaded bundle. On MID_DENY_NONE fills *card. Once the device signature
 * has been checked the challenge counts as answered, whatever the verdict
 * that follows, so a second answer to it is MID_DENY_REPLAY. No allocation. */
mid_deny_t mid_reader_verify(mid_rdr_t *r, const uint8_t *buf, size_t len, mid_card_t *card);

/* 1 when credential_id is on the loaded revocation list (binary search). */
int mid_reader_is_revoked(const mid_rdr_t *r, const uint8_t id[MID_ID_SIZE]);
