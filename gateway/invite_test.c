/* gateway/invite_test.c -- invitation codes: only a keyed hash stored,
 * expiry, single use, attempt lock, per-address limit, resend. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "tests/tap.h"
#include "tests/instance_fixture.h"
#include "gateway/instance.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/people.h"
#include "gateway/invite.h"
#include "gateway/secrets.h"



static void cleanup(mid_instance_t *in)
{
	char cmd[600];
	mid_instance_close(in);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tf_dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tf_dir);
}

int main(void)
{
	mid_instance_t *in;
	mid_error_t err = { 0 };
	mid_issue_opts_t o;
	mid_credential_t c;
	mid_invitation_t inv, got;
	mid_signed_cred_t sc;
	char alice[MID_ID_LEN], code[MID_INVITE_CODE_BUF], code2[MID_INVITE_CODE_BUF];
	char norm[MID_INVITE_CODE_CHARS + 1];
	unsigned char pk[32], sk[64], h[MID_HASH_LEN], plain[MID_HASH_LEN];
	int rc;

	if (sodium_init() < 0 || !(in = tf_setup("invite"))) {
		ok(0, "setup");
		return tap_done();
	}
	mid_keys_create_initial(in, &err);
	tf_person(in, "Alice", alice);
	memset(&o, 0, sizeof o);
	o.facility_code = -1;
	memset(&c, 0, sizeof c);
	ok(mid_issuer_issue(in, alice, &o, &c, &err) == MID_OK, "issue");
	crypto_sign_keypair(pk, sk);

	ok(mid_invite_create(in, alice, c.id, "email", code, &inv, &err) == MID_EINVAL,
	   "email without smtp or address refused: %s", err.text);
	ok(mid_invite_create(in, alice, c.id, "shown", code, &inv, &err) == MID_OK, "create: %s",
	   err.text);
	ok(strlen(code) == 11 && code[5] == '-', "code reads XXXXX-XXXXX");
	ok(mid_invite_normalize(code, norm, &err) == MID_OK, "normalise");
	ok(mid_invite_normalize("abc", norm, &err) == MID_EINVAL, "short input is no code");
	mid_invite_normalize(code, norm, &err);
	mid_invite_hash(in, norm, h, &err);
	crypto_generichash(plain, sizeof plain, (const unsigned char *)norm, strlen(norm), NULL, 0);
	ok(mid_store_invitation_get(in->store, inv.id, &got, &err) == MID_OK &&
	   memcmp(got.code_hash, h, MID_HASH_LEN) == 0, "the store holds the keyed hash");
	ok(memcmp(got.code_hash, plain, MID_HASH_LEN) != 0, "... not an unkeyed hash of the code");
	ok(memmem(&got, sizeof got, norm, strlen(norm)) == NULL, "... and not the code");

	/* resend invalidates */
	ok(mid_invite_resend(in, c.id, NULL, code2, &inv, &err) == MID_OK, "resend: %s", err.text);
	rc = mid_invite_redeem(in, code, "10.0.0.1", pk, "sim", &sc, &err);
	ok(rc == MID_EAUTH && strstr(err.text, "replaced"), "the earlier code is dead: %s", err.text);

	/* wrong codes count per address */
	mid_invite_addr_reset();
	for (int i = 0; i < MID_INVITE_ADDR_FAILURES; i++)
		mid_invite_redeem(in, "AAAAA-AAAAA", "10.0.0.2", pk, "sim", &sc, &err);
	rc = mid_invite_redeem(in, code2, "10.0.0.2", pk, "sim", &sc, &err);
	ok(rc == MID_ELIMIT, "address over its budget is refused even with the right code");
	ok(mid_invite_addr_allowed("10.0.0.3", mid_store_now(in->store)), "another address is fine");
	tf_now += MID_INVITE_ADDR_WINDOW_MS + 1;
	ok(mid_invite_addr_allowed("10.0.0.2", mid_store_now(in->store)), "the window passes");

	/* lower case, no dash, O for 0 still match */
	{
		char typed[16];
		size_t k = 0;
		for (const char *p = code2; *p; p++)
			if (*p != '-')
				typed[k++] = (char)(*p == '0' ? 'o' : (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		typed[k] = '\0';
		ok(mid_invite_redeem(in, typed, "10.0.0.4", pk, "sim", &sc, &err) == MID_OK,
		   "redeem as typed: %s", err.text);
	}
	is_int(sc.len, MID_ISSUER_CRED_SIZE, "signed credential returned");
	rc = mid_invite_redeem(in, code2, "10.0.0.4", pk, "sim", &sc, &err);
	ok(rc == MID_EAUTH && strstr(err.text, "used"), "single use: %s", err.text);

	/* attempts lock the invitation */
	mid_invite_addr_reset();
	ok(mid_invite_create(in, alice, c.id, "shown", code, &inv, &err) == MID_OK, "new code");
	tf_now += 73LL * 3600000;
	rc = mid_invite_redeem(in, code, "10.0.0.5", pk, "sim", &sc, &err);
	ok(rc == MID_EAUTH && strstr(err.text, "expired"), "expiry: %s", err.text);
	for (int i = 1; i < MID_INVITE_MAX_ATTEMPTS; i++)
		mid_invite_redeem(in, code, "10.0.0.5", pk, "sim", &sc, &err);
	rc = mid_invite_redeem(in, code, "10.0.0.6", pk, "sim", &sc, &err);
	ok(rc == MID_ELIMIT && strstr(err.text, "locked"), "locked after %d attempts: %s",
	   MID_INVITE_MAX_ATTEMPTS, err.text);

	mid_credential_clear(&c);
	cleanup(in);
	return tap_done();
}
