/* gateway/invite.h -- enrollment invitations: one-time codes, delivery by
 * email (gateway/smtp.h) or shown to the administrator, redemption by a
 * phone, and rate limiting.
 *
 * A code is 10 characters from a 32-letter alphabet without look-alikes
 * (50 bits), shown as "XXXXX-XXXXX"; input is accepted in any case, with
 * or without the dash and spaces. Only BLAKE2b-256(code) keyed with a
 * per-instance key (the sealed secret "invite.hash-key") is stored, so a
 * stolen store alone does not let anyone test codes offline. A code
 * expires after cfg->issuance.invitation_ttl_hours, is single use, locks
 * after MID_INVITE_MAX_ATTEMPTS failed attempts against its invitation,
 * and is compared in constant time. Per client address, at most
 * MID_INVITE_ADDR_FAILURES failures in MID_INVITE_ADDR_WINDOW_MS are
 * allowed (an in-process table shared by all threads).
 *
 * Conventions: MID_OK or a negative MID_E* code, `err` filled (may be
 * NULL); library code never prints; codes are never logged.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gateway/instance.h"
#include "gateway/issuer.h"

#define MID_INVITE_CODE_CHARS 10
#define MID_INVITE_CODE_BUF 16          /* "XXXXX-XXXXX" + NUL fits */
#define MID_INVITE_MAX_ATTEMPTS 5       /* failed redemptions per invitation */
#define MID_INVITE_ADDR_FAILURES 10     /* failed redemptions per address ... */
#define MID_INVITE_ADDR_WINDOW_MS (10 * 60 * 1000) /* ... in this window */

/* Create an invitation for person `person_id` and its credential
 * `credential_id` (may be NULL or "" for none yet). delivery "email" sends
 * the code to the person's email through cfg->smtp (MID_EINVAL when the
 * person has no email or smtp is not configured; a failed send
 * invalidates the new invitation and returns the SMTP error); "shown"
 * only returns it. The formatted code is written to code_out (for
 * "email" too, but callers should not show it then); inv_out (may be NULL)
 * gets the stored invitation. Earlier unused invitations of the person are
 * invalidated. */
int mid_invite_create(mid_instance_t *in, const char *person_id,
                      const char *credential_id, const char *delivery,
                      char code_out[MID_INVITE_CODE_BUF],
                      mid_invitation_t *inv_out, mid_error_t *err);

/* Resend: `ref` is an invitation id or a credential id (its newest
 * invitation). Invalidates the earlier code and creates a new invitation
 * with the same person, credential and delivery (or `delivery` when not
 * NULL). Output as mid_invite_create. */
int mid_invite_resend(mid_instance_t *in, const char *ref, const char *delivery,
                      char code_out[MID_INVITE_CODE_BUF],
                      mid_invitation_t *inv_out, mid_error_t *err);

/* Redeem a code from a phone at client address `client_addr` (text, may
 * be NULL): checks the per-address limit, the code (constant time),
 * expiry, use and the attempt lock, marks it used and binds the device
 * through mid_issuer_bind_device (in the same transaction). Errors:
 * MID_ELIMIT (address or code locked: retryable later), MID_EAUTH (no such
 * code, expired, used: the text does not tell an attacker which),
 * MID_ECONFLICT (the invitation has no credential / the credential refuses
 * the device). */
int mid_invite_redeem(mid_instance_t *in, const char *code, const char *client_addr,
                      const unsigned char device_pk[32], const char *platform,
                      mid_signed_cred_t *out, mid_error_t *err);

/* 1 when `client_addr` may try a redemption now, 0 when it is over its
 * failure budget (the API answers 429 without touching the store). */
int mid_invite_addr_allowed(const char *client_addr, int64_t now_ms);
/* Count a failure for `client_addr` (done by mid_invite_redeem itself). */
void mid_invite_addr_failed(const char *client_addr, int64_t now_ms);
/* Forget every address (tests). */
void mid_invite_addr_reset(void);

/* Normalise a code as typed (case, dashes, spaces, look-alikes 0/O, 1/I/L)
 * into its MID_INVITE_CODE_CHARS letters. MID_EINVAL when it cannot be a
 * code. */
int mid_invite_normalize(const char *code, char out[MID_INVITE_CODE_CHARS + 1],
                         mid_error_t *err);

/* The keyed hash stored for a normalised code. */
int mid_invite_hash(mid_instance_t *in, const char *normalized,
                    unsigned char hash[MID_HASH_LEN], mid_error_t *err);
