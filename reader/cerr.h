/* reader/cerr.h -- error codes shared by the credential library
 * (Wiegand codec, binary formats, reader, phone helper).
 *
 * Every function of reader/ returns 0 on success or one of these negative
 * codes; mid_cerr_str() gives a one-line reason. Library code never logs.
 * Presentation *denials* are a separate enum (mid_deny_t in reader.h):
 * they are verdicts on a phone's answer, not programming errors.
 */
#pragma once

typedef enum mid_cerr {
	MID_CERR_OK = 0,
	MID_CERR_INVAL = -1,       /* bad argument (NULL, unknown enum, ...) */
	MID_CERR_RANGE = -2,       /* facility code or card number does not fit the format */
	MID_CERR_PARITY = -3,      /* Wiegand parity bit wrong */
	MID_CERR_TRUNCATED = -4,   /* input shorter than its format needs */
	MID_CERR_OVERSIZE = -5,    /* input longer than any valid record / a limit exceeded */
	MID_CERR_TRAILING = -6,    /* bytes left after a complete record */
	MID_CERR_VERSION = -7,     /* unsupported format version */
	MID_CERR_MAGIC = -8,       /* not this kind of record (wrong magic) */
	MID_CERR_MALFORMED = -9,   /* a field holds a value the format forbids */
	MID_CERR_ORDER = -10,      /* ids not strictly ascending */
	MID_CERR_SIGNATURE = -11,  /* signature does not verify */
	MID_CERR_UNKNOWN_KEY = -12,/* signer key id is not trusted */
	MID_CERR_NOSPACE = -13,    /* caller's output buffer too small */
	MID_CERR_BASE64 = -14,     /* not valid base64url */
	MID_CERR_STALE = -15,      /* bundle version not newer than the loaded one */
	MID_CERR_BASE = -16,       /* delta's base version is not the loaded version */
	MID_CERR_SITE = -17,       /* bundle is for another site */
	MID_CERR_KEY_MISMATCH = -18, /* secret key does not match the credential's device key */
	MID_CERR_CRYPTO = -19,     /* libsodium failed (sodium_init, signing) */
} mid_cerr_t;

/* Static, never NULL, for any int (unknown codes give a generic text). */
const char *mid_cerr_str(int code);
