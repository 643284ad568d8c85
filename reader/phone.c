/* reader/phone.c -- phone-side helpers (see phone.h). */
#include <string.h>

#include <sodium.h>

#include "reader/phone.h"

int mid_phone_keygen(uint8_t pk[MID_PK_SIZE], uint8_t sk[MID_SK_SIZE])
{
	if (!pk || !sk)
		return MID_CERR_INVAL;
	if (sodium_init() < 0 || crypto_sign_keypair(pk, sk) != 0)
		return MID_CERR_CRYPTO;
	return 0;
}

int mid_phone_answer(const uint8_t *chal, size_t chal_len, const uint8_t *cred, size_t cred_len,
		     const uint8_t device_sk[MID_SK_SIZE], uint8_t *out, size_t cap, size_t *outlen)
{
	mid_challenge_t c;
	mid_wire_cred_t cr;
	int rc;
	if (!chal || !cred || !device_sk || !out || !outlen)
		return MID_CERR_INVAL;
	if ((rc = mid_challenge_decode(chal, chal_len, &c)) != 0)
		return rc;
	if ((rc = mid_credential_decode(cred, cred_len, &cr)) != 0)
		return rc;
	/* libsodium's secret key ends with the public key */
	if (sodium_memcmp(cr.device_pk, device_sk + 32, MID_PK_SIZE) != 0)
		return MID_CERR_KEY_MISMATCH;
	return mid_presentation_sign(&c, cred, cred_len, device_sk, out, cap, outlen);
}
