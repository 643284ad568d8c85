/* gateway/issuer.h -- Mobile ID issuance: value allocation, credential
 * life cycle (pending -> active -> suspended / revoked / expired), device
 * binding and signing, the phone fetch and the signed reader bundle.
 *
 * Values come from cfg->issuance.ranges: the next free card number of a
 * range is allocated automatically; an explicit one is accepted only when
 * it fits the Wiegand format and no credential or known PACS value holds
 * it. Types: reusable (may move to a new phone; the old phone's copy is
 * put on the revocation list) and single-issue (bound to the first phone;
 * another phone is refused).
 *
 * Wire format: reader/credfmt.h (MID_ISSUER_CRED_SIZE bytes). The wire
 * credential id is the 16 bytes of the credential's UUID for its first
 * binding; a reusable credential moved to another phone gets a fresh wire
 * id (mid_issuer_find_wire maps it back) and the previous one is revoked.
 *
 * Every change is one store transaction with an audit entry (actor =
 * in->actor) and an outbox entry for the person. Bundle changes (keys,
 * revocations) bump the bundle version kept in meta ("bundle.version").
 *
 * Conventions: MID_OK or a negative MID_E* code, `err` filled (may be
 * NULL); times in ms since the epoch; library code never prints.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gateway/instance.h"

#define MID_ISSUER_CRED_SIZE 172   /* == MID_CREDENTIAL_SIZE of reader/credfmt.h */
#define MID_ISSUER_WIRE_ID_SIZE 16

/* What to issue. Zeroed fields take the defaults given. */
typedef struct mid_issue_opts {
	const char *format;      /* "H10301", "H10302", "H10304", "C1000-35";
	                          * NULL: the format of the first configured range */
	int64_t facility_code;   /* -1: the facility code of the chosen range */
	int64_t card_number;     /* 0: allocate the next free value */
	int type;                /* enum mid_cred_type; 0: cfg default_type */
	int64_t valid_from;      /* 0: now */
	int64_t valid_until;     /* 0: valid_from + validity_days, capped by the
	                          * person's valid_until */
} mid_issue_opts_t;

/* A signed credential as handed to a phone, with what its bytes say (so
 * an API can describe it without reading the store again). */
typedef struct mid_signed_cred {
	char credential_id[MID_ID_LEN];
	char device_id[MID_ID_LEN];
	unsigned char bytes[MID_ISSUER_CRED_SIZE];
	size_t len;
	char format[32];          /* "H10301", ... */
	int64_t facility_code;
	int64_t card_number;
	int type;                 /* enum mid_cred_type */
	int64_t valid_from;       /* ms */
	int64_t valid_until;      /* ms */
} mid_signed_cred_t;

/* Issue a pending credential for person `person_id` (an id; see
 * mid_people_resolve for other references). The person must be active.
 * *out is filled (caller clears it with mid_credential_clear). Errors:
 * MID_ENOTFOUND (person), MID_EINVAL (format, value out of format or of
 * every range), MID_ECONFLICT (explicit value taken; the text says by
 * what), MID_ELIMIT (range full). */
int mid_issuer_issue(mid_instance_t *in, const char *person_id,
                     const mid_issue_opts_t *opts, mid_credential_t *out,
                     mid_error_t *err);

/* Issue `n` credentials, one per person id in person_ids[], in one
 * transaction with the same opts (card_number must be 0: values are
 * allocated in order). With device_pks (may be NULL: pending credentials)
 * credential i is also bound to the phone key device_pks[i] and signed
 * (bulk provisioning of managed phones; platform "managed"). ids_out (may
 * be NULL) gets n credential ids. Either all are issued or none. */
int mid_issuer_batch_issue(mid_instance_t *in, const char *const *person_ids,
                           const unsigned char (*device_pks)[32], size_t n,
                           const mid_issue_opts_t *opts,
                           char (*ids_out)[MID_ID_LEN], mid_error_t *err);

/* Bind credential `credential_id` to the phone with Ed25519 public key
 * device_pk (the device row is created on first sight) and sign it with
 * the current issuer key; the credential becomes active and *out gets the
 * signed bytes. A pending or active credential may be bound; for a
 * single-issue credential already bound to another phone this is
 * MID_ECONFLICT; a reusable one moves (old binding revoked). Suspended,
 * revoked or expired credentials give MID_ECONFLICT. */
int mid_issuer_bind_device(mid_instance_t *in, const char *credential_id,
                           const unsigned char device_pk[32], const char *platform,
                           mid_signed_cred_t *out, mid_error_t *err);

/* Status changes (audit, outbox, revocation list, bundle version):
 * revoke is final; suspend needs pending/active; resume needs suspended
 * (back to active when bound, else pending). `reason` may be NULL. */
int mid_issuer_revoke(mid_instance_t *in, const char *credential_id,
                      const char *reason, mid_error_t *err);
int mid_issuer_suspend(mid_instance_t *in, const char *credential_id,
                       const char *reason, mid_error_t *err);
int mid_issuer_resume(mid_instance_t *in, const char *credential_id,
                      mid_error_t *err);

/* The active credentials bound to device `device_id` (phone fetch): *out
 * is a new array of *n signed credentials (free()). Credentials whose
 * valid_until has passed are marked expired and left out. */
int mid_issuer_credentials_for_device(mid_instance_t *in, const char *device_id,
                                      mid_signed_cred_t **out, size_t *n,
                                      mid_error_t *err);

/* The store credential for a wire credential id (16 bytes from a decoded
 * credential or presentation). MID_ENOTFOUND when unknown. *out is filled
 * (caller clears it). */
int mid_issuer_find_wire(mid_instance_t *in,
                         const unsigned char wire_id[MID_ISSUER_WIRE_ID_SIZE],
                         mid_credential_t *out, mid_error_t *err);

/* 1 when the wire id is on the current revocation list, 0 when not (for
 * online verification); negative on error. */
int mid_issuer_wire_revoked(mid_instance_t *in,
                            const unsigned char wire_id[MID_ISSUER_WIRE_ID_SIZE],
                            mid_error_t *err);

/* The current bundle version (>= 1 once keys exist). */
int mid_issuer_bundle_version(mid_instance_t *in, uint64_t *version,
                              mid_error_t *err);

/* The signed reader bundle (reader/credfmt.h): site id, the published
 * issuer keys (current, next, retired still in use), output format (each
 * credential's own), the revocation list and the current version, signed
 * with the current issuer key. since_version 0 gives a full bundle; a
 * version below the current one gives a delta since it (ids added to and
 * removed from the list); when the history for that version is gone a
 * full bundle is returned. since_version equal to (or above) the current
 * version is MID_ECONFLICT ("up to date": an API answers 304). *out is
 * new (free()), *len its size, *version (may be NULL) the bundle version,
 * *is_delta (may be NULL) 1 for a delta. */
int mid_issuer_bundle(mid_instance_t *in, uint64_t since_version,
                      unsigned char **out, size_t *len, uint64_t *version,
                      int *is_delta, mid_error_t *err);

/* Record a change of what reader bundles carry (for keys.c, people.c and
 * this module): bumps the bundle version, logs the wire ids added to
 * (`add`, nadd * 16 bytes, each listed until add_until[i] ms, 0 = for
 * ever; add_until may be NULL) and removed from (`del`, ndel * 16 bytes)
 * the revocation list for deltas. Call inside the caller's transaction. */
int mid_issuer_bundle_touch(mid_instance_t *in, const unsigned char *add,
                            const int64_t *add_until, size_t nadd,
                            const unsigned char *del, size_t ndel, mid_error_t *err);

/* Parse "YYYY-MM-DD" (end of that day UTC when end_of_day) or
 * "YYYY-MM-DDTHH:MM:SSZ" into ms since the epoch. */
int mid_issuer_parse_date(const char *text, int end_of_day, int64_t *ms,
                          mid_error_t *err);
