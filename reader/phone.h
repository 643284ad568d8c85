/* reader/phone.h -- phone-side helpers: device key pair and the answer to
 * a reader's challenge. Used by the phone simulator and the tests. No
 * allocation; the caller owns every buffer. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "reader/credfmt.h"

/* Generate an Ed25519 device key pair (libsodium layout: sk is seed || pk).
 * Returns 0 or MID_CERR_CRYPTO. The caller should sodium_memzero sk. */
int mid_phone_keygen(uint8_t pk[MID_PK_SIZE], uint8_t sk[MID_SK_SIZE]);

/* Answer an encoded challenge (chal, chal_len bytes) with the encoded
 * credential and the device secret key: writes the encoded presentation
 * (at most MID_PRESENTATION_MAX_SIZE bytes) to out and its length to
 * *outlen. Refuses (MID_CERR_KEY_MISMATCH) when sk is not the key the
 * credential is bound to. Returns 0 or a MID_CERR_*. */
int mid_phone_answer(const uint8_t *chal, size_t chal_len, const uint8_t *cred, size_t cred_len,
		     const uint8_t device_sk[MID_SK_SIZE], uint8_t *out, size_t cap, size_t *outlen);
