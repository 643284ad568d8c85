/* reader/credfmt.h -- the versioned binary formats of Mobile ID:
 * credential, reader bundle, challenge and presentation, with their
 * encode/sign and decode/verify functions, plus base64url helpers.
 *
 * Byte-by-byte layouts: schemas/credential-format.md. All integers are
 * big-endian; every record starts with a 4-byte magic and a version byte.
 * Decoders are bounded, reject trailing bytes, never allocate and never
 * read past `len`. Crypto is libsodium (Ed25519, BLAKE2b); call
 * sodium_init() (or mid_cred_init()) once before using these functions.
 *
 * Ownership: nothing here allocates. Decoded structs that point into the
 * input (mid_bundle_t's id lists) borrow it: the input must outlive them.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "reader/cerr.h"
#include "reader/wiegand.h"

#define MID_ID_SIZE 16          /* site, credential and reader ids */
#define MID_KEY_ID_SIZE 8       /* first 8 bytes of BLAKE2b-256(public key) */
#define MID_PK_SIZE 32          /* Ed25519 public key */
#define MID_SK_SIZE 64          /* libsodium Ed25519 secret key (seed || pk) */
#define MID_SIG_SIZE 64         /* Ed25519 signature */
#define MID_HASH_SIZE 32        /* BLAKE2b-256 */

/* ---- credential --------------------------------------------------------- */

#define MID_CREDENTIAL_VERSION 1
#define MID_CREDENTIAL_SIGNED_SIZE 108 /* bytes covered by the issuer signature */
#define MID_CREDENTIAL_SIZE 172        /* whole v1 record */

typedef struct mid_wire_cred {
	uint8_t version;                 /* MID_CREDENTIAL_VERSION */
	mid_wformat_t format;
	uint8_t site_id[MID_ID_SIZE];
	uint8_t credential_id[MID_ID_SIZE];
	uint32_t facility_code;          /* company id for C1000-35; 0 when none */
	uint64_t card_number;
	int64_t not_before;              /* unix seconds, inclusive */
	int64_t not_after;               /* unix seconds, inclusive */
	uint8_t device_pk[MID_PK_SIZE];
	uint8_t issuer_key_id[MID_KEY_ID_SIZE];
	uint8_t signature[MID_SIG_SIZE];
} mid_wire_cred_t;

/* sodium_init() wrapper: 0 or MID_CERR_CRYPTO. Safe to call many times. */
int mid_cred_init(void);

/* Key id of an Ed25519 public key: the first 8 bytes of BLAKE2b-256(pk). */
void mid_key_id(const uint8_t pk[MID_PK_SIZE], uint8_t out[MID_KEY_ID_SIZE]);

/* Encode and sign a credential with the issuer's libsodium secret key
 * (64 bytes; its public half gives issuer_key_id). Reads every field of
 * *c but issuer_key_id and signature, which it fills in (c is updated).
 * Writes MID_CREDENTIAL_SIZE bytes to out. Checks version, format and
 * ranges and not_before <= not_after. Returns 0 or a MID_CERR_*. */
int mid_credential_sign(mid_wire_cred_t *c, const uint8_t issuer_sk[MID_SK_SIZE],
			uint8_t out[MID_CREDENTIAL_SIZE]);

/* Parse a credential (no signature check). Returns 0, MID_CERR_TRUNCATED,
 * MID_CERR_TRAILING (len > MID_CREDENTIAL_SIZE), MID_CERR_MAGIC,
 * MID_CERR_VERSION or MID_CERR_MALFORMED (format, ranges, reserved byte,
 * window). */
int mid_credential_decode(const uint8_t *buf, size_t len, mid_wire_cred_t *out);

/* Verify the issuer signature of an encoded credential (exactly
 * MID_CREDENTIAL_SIZE bytes) with the issuer public key. Returns 0 or
 * MID_CERR_SIGNATURE. Does not parse: call mid_credential_decode too. */
int mid_credential_verify(const uint8_t buf[MID_CREDENTIAL_SIZE], const uint8_t issuer_pk[MID_PK_SIZE]);

/* ---- reader bundle ------------------------------------------------------ */

#define MID_BUNDLE_VERSION 1
#define MID_BUNDLE_MAX_KEYS 8
#define MID_BUNDLE_MAX_REVOKED 4096   /* per list (full list, or added / removed) */
#define MID_BUNDLE_HEADER_SIZE 58
#define MID_BUNDLE_KEY_SIZE 57
#define MID_BUNDLE_TRAILER_SIZE (MID_KEY_ID_SIZE + MID_SIG_SIZE)
#define MID_BUNDLE_MAX_SIZE (MID_BUNDLE_HEADER_SIZE + MID_BUNDLE_MAX_KEYS * MID_BUNDLE_KEY_SIZE + \
			     2 * MID_BUNDLE_MAX_REVOKED * MID_ID_SIZE + MID_BUNDLE_TRAILER_SIZE)

typedef enum mid_key_status {
	MID_WKEY_CURRENT = 1, /* signs credentials and bundles now */
	MID_WKEY_NEXT = 2,    /* published ahead of a rotation; trusted already */
	MID_WKEY_RETIRED = 3, /* no longer signs; credentials it signed stay valid */
	MID_WKEY_REVOKED = 4, /* compromised: everything it signed is refused */
} mid_key_status_t;

typedef struct mid_bundle_key {
	uint8_t key_id[MID_KEY_ID_SIZE];
	uint8_t pk[MID_PK_SIZE];
	int64_t not_before; /* credentials are accepted from this key from then */
	int64_t not_after;  /* ... until then (0 = no end) */
	uint8_t status;     /* mid_key_status_t */
} mid_bundle_key_t;

/* A decoded bundle. `revoked` (full: the revocation list; delta: the ids
 * added) and `removed` (delta only) point into the decoded buffer:
 * n * MID_ID_SIZE bytes each, strictly ascending by memcmp. */
typedef struct mid_bundle {
	uint8_t version;                 /* MID_BUNDLE_VERSION */
	mid_wformat_t output_format;     /* kind 0 = output each credential's own format */
	uint8_t site_id[MID_ID_SIZE];
	int64_t generated_at;
	uint64_t bundle_version;         /* monotonic, >= 1 */
	uint64_t base_version;           /* 0 = full bundle; else a delta since that version */
	uint16_t nkeys;
	mid_bundle_key_t keys[MID_BUNDLE_MAX_KEYS];
	uint32_t nrevoked;
	const uint8_t *revoked;
	uint32_t nremoved;
	const uint8_t *removed;
	uint8_t signer_key_id[MID_KEY_ID_SIZE];
	const uint8_t *signature;        /* MID_SIG_SIZE bytes inside the buffer */
	size_t signed_len;               /* bytes covered by the signature (from offset 0) */
} mid_bundle_t;

/* Size of an encoded bundle with these counts. */
size_t mid_bundle_size(size_t nkeys, size_t nrevoked, size_t nremoved);

/* Sort n ids (n * 16 bytes) ascending in place and drop duplicates;
 * returns the new count. For the gateway, before mid_bundle_sign. */
size_t mid_ids_sort_unique(uint8_t *ids, size_t n);

/* Encode and sign a bundle. Reads b's header fields, keys[0..nkeys),
 * revoked/nrevoked and removed/nremoved (which must be strictly ascending,
 * else MID_CERR_ORDER; removed must be empty in a full bundle); ignores
 * signer_key_id/signature/signed_len. Signs with the 64-byte libsodium
 * secret key. Writes mid_bundle_size(...) bytes to out (cap bytes
 * available) and the length to *outlen. Returns 0 or a MID_CERR_*. */
int mid_bundle_sign(const mid_bundle_t *b, const uint8_t signer_sk[MID_SK_SIZE], uint8_t *out,
		    size_t cap, size_t *outlen);

/* Parse a bundle (no signature check), bounded by the MAX_* limits and
 * MID_BUNDLE_MAX_SIZE; rejects trailing bytes, unsorted or duplicate ids,
 * bad key status, a delta whose base is not below its version. *out
 * borrows buf. Returns 0 or a MID_CERR_*. */
int mid_bundle_decode(const uint8_t *buf, size_t len, mid_bundle_t *out);

/* Verify a decoded bundle's signature with pk (buf is what was decoded).
 * Returns 0 or MID_CERR_SIGNATURE. */
int mid_bundle_verify(const mid_bundle_t *b, const uint8_t *buf, const uint8_t pk[MID_PK_SIZE]);

/* ---- challenge and presentation ---------------------------------------- */

#define MID_CHALLENGE_VERSION 1
#define MID_NONCE_MIN 16
#define MID_NONCE_MAX 32
#define MID_CHALLENGE_MAX_SIZE (32 + MID_NONCE_MAX)
#define MID_PRESENTATION_VERSION 1
#define MID_PRESENTATION_MAX_SIZE (32 + MID_NONCE_MAX + MID_CREDENTIAL_SIZE + MID_SIG_SIZE)
#define MID_PRESENTATION_CONTEXT "mobileid-presentation-v1"

typedef struct mid_challenge {
	uint8_t reader_id[MID_ID_SIZE];
	int64_t timestamp;
	uint8_t nonce_len; /* 16 or 32 */
	uint8_t nonce[MID_NONCE_MAX];
} mid_challenge_t;

/* A decoded presentation. `credential` points into the decoded buffer. */
typedef struct mid_presentation {
	mid_challenge_t challenge;      /* the challenge the phone says it answers */
	const uint8_t *credential;      /* credential_len bytes inside the buffer */
	size_t credential_len;
	uint8_t device_sig[MID_SIG_SIZE];
} mid_presentation_t;

/* Encode a challenge: 32 + nonce_len bytes. Returns 0 or a MID_CERR_*. */
int mid_challenge_encode(const mid_challenge_t *c, uint8_t *out, size_t cap, size_t *outlen);
/* Parse a challenge. Returns 0 or a MID_CERR_*. */
int mid_challenge_decode(const uint8_t *buf, size_t len, mid_challenge_t *out);

/* The device signature's message digest input: writes the message
 * CONTEXT || reader_id || nonce || timestamp (8, BE) || BLAKE2b-256(cred)
 * to out (cap >= 24 + 16 + 32 + 8 + 32 = 112) and sets *outlen. */
int mid_presentation_message(const mid_challenge_t *c, const uint8_t *cred, size_t cred_len,
			     uint8_t *out, size_t cap, size_t *outlen);

/* Build a presentation answering challenge c with the credential bytes,
 * signed by the device secret key (no check that it matches the
 * credential: see mid_phone_answer for that). Returns 0 or a MID_CERR_*. */
int mid_presentation_sign(const mid_challenge_t *c, const uint8_t *cred, size_t cred_len,
			  const uint8_t device_sk[MID_SK_SIZE], uint8_t *out, size_t cap,
			  size_t *outlen);

/* Parse a presentation (no crypto). The embedded credential must be
 * MID_CREDENTIAL_SIZE bytes (v1). Returns 0 or a MID_CERR_*. */
int mid_presentation_decode(const uint8_t *buf, size_t len, mid_presentation_t *out);

/* ---- base64url (RFC 4648 section 5, no padding) ------------------------- */

/* Characters (with NUL) needed to encode n bytes. */
size_t mid_b64url_len(size_t n);
/* Encode n bytes; out needs mid_b64url_len(n). Returns 0 or MID_CERR_NOSPACE. */
int mid_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Decode, ignoring spaces, tabs and newlines. Returns 0, MID_CERR_BASE64,
 * or MID_CERR_OVERSIZE when the result does not fit in cap bytes. */
int mid_b64url_decode(const char *in, uint8_t *out, size_t cap, size_t *outlen);
