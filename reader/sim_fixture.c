/* reader/sim_fixture.c -- test helper for sim_test.sh (not installed):
 *   sim_fixture site DIR          issuer and device keys, three credentials
 *                                 (ok: id 1, revoked: id 2, expired: id 3)
 *                                 and bundle.bin revoking id 2; issuer.pk
 *                                 holds the issuer public key in hex
 *   sim_fixture answer DIR CRED CHALLENGE_B64
 *                                 prints the phone's answer in base64url
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "reader/phone.h"

static int fx_write(const char *dir, const char *name, const void *b, size_t n)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "sim_fixture: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static long fx_read(const char *dir, const char *name, void *b, size_t n)
{
	char path[4096];
	FILE *f;
	size_t got;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return -1;
	got = fread(b, 1, n, f);
	fclose(f);
	return (long)got;
}

static void fx_id(uint8_t id[MID_ID_SIZE], unsigned n)
{
	memset(id, 0, MID_ID_SIZE);
	id[15] = (uint8_t)n;
}

static int fx_site(const char *dir)
{
	uint8_t ipk[32], isk[64], dpk[32], dsk[64], cred[MID_CREDENTIAL_SIZE], rev[MID_ID_SIZE];
	static uint8_t bundle[MID_BUNDLE_MAX_SIZE];
	char hex[65];
	mid_wire_cred_t c;
	mid_bundle_t b;
	size_t blen;
	int64_t now = (int64_t)time(NULL);
	crypto_sign_keypair(ipk, isk);
	mid_phone_keygen(dpk, dsk);
	memset(&c, 0, sizeof c);
	c.version = MID_CREDENTIAL_VERSION;
	mid_wiegand_parse_format("H10301", &c.format);
	memset(c.site_id, 0x5A, MID_ID_SIZE);
	c.facility_code = 118;
	c.card_number = 1603;
	c.not_before = now - 86400;
	c.not_after = now + 86400;
	memcpy(c.device_pk, dpk, 32);
	fx_id(c.credential_id, 1);
	if (mid_credential_sign(&c, isk, cred) || fx_write(dir, "cred-ok.bin", cred, sizeof cred))
		return 1;
	fx_id(c.credential_id, 2);
	if (mid_credential_sign(&c, isk, cred) || fx_write(dir, "cred-revoked.bin", cred, sizeof cred))
		return 1;
	fx_id(c.credential_id, 3);
	c.not_before = now - 2 * 86400;
	c.not_after = now - 86400;
	if (mid_credential_sign(&c, isk, cred) || fx_write(dir, "cred-expired.bin", cred, sizeof cred))
		return 1;
	memset(&b, 0, sizeof b);
	b.version = MID_BUNDLE_VERSION;
	memcpy(b.site_id, c.site_id, MID_ID_SIZE);
	b.generated_at = now;
	b.bundle_version = 1;
	b.nkeys = 1;
	memcpy(b.keys[0].pk, ipk, 32);
	b.keys[0].not_before = now - 86400;
	b.keys[0].status = MID_WKEY_CURRENT;
	fx_id(rev, 2);
	b.nrevoked = 1;
	b.revoked = rev;
	if (mid_bundle_sign(&b, isk, bundle, sizeof bundle, &blen) || fx_write(dir, "bundle.bin", bundle, blen))
		return 1;
	sodium_bin2hex(hex, sizeof hex, ipk, 32);
	if (fx_write(dir, "issuer.pk", hex, 64) || fx_write(dir, "device.sk", dsk, 64))
		return 1;
	return 0;
}

static int fx_answer(const char *dir, const char *credname, const char *chal_b64)
{
	uint8_t dsk[64], cred[MID_CREDENTIAL_SIZE + 1], chal[MID_CHALLENGE_MAX_SIZE + 1], out[MID_PRESENTATION_MAX_SIZE];
	char b64[1024];
	long clen;
	size_t chlen, olen;
	int rc;
	if (fx_read(dir, "device.sk", dsk, sizeof dsk) != 64 || (clen = fx_read(dir, credname, cred, sizeof cred)) < 0) {
		fprintf(stderr, "sim_fixture: run 'sim_fixture site %s' first\n", dir);
		return 1;
	}
	if (mid_b64url_decode(chal_b64, chal, sizeof chal, &chlen) != 0) {
		fprintf(stderr, "sim_fixture: challenge is not base64url\n");
		return 1;
	}
	rc = mid_phone_answer(chal, chlen, cred, (size_t)clen, dsk, out, sizeof out, &olen);
	if (rc != 0) {
		fprintf(stderr, "sim_fixture: %s\n", mid_cerr_str(rc));
		return 1;
	}
	mid_b64url_encode(out, olen, b64, sizeof b64);
	printf("%s\n", b64);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && !strcmp(argv[1], "site"))
		return fx_site(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "answer"))
		return fx_answer(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: sim_fixture site DIR | sim_fixture answer DIR CRED CHALLENGE_B64\n");
	return 2;
}
