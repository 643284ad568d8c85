/* gateway/api_sign.c -- the canonical string of a signed phone request
 * (see api.h). Needs only libsodium, so the phone simulator compiles it
 * in as well. */
#include <config.h>
#include "gateway/api.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

int mid_api_sign_string(const char *method, const char *path, const char *timestamp,
                        const char *nonce, const char *device_id, const void *body,
                        size_t body_len, char *out, size_t outsz)
{
	unsigned char h[32];
	char hex[65];
	int n;

	crypto_generichash(h, sizeof h, body_len ? body : (const void *)"", body_len, NULL, 0);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	n = snprintf(out, outsz, "MID-DEVICE-SIG-1\n%s\n%s\n%s\n%s\n%s\n%s", method, path,
	             timestamp, nonce, device_id, hex);
	if (n < 0 || (size_t)n >= outsz)
		return MID_ELIMIT;
	return MID_OK;
}
