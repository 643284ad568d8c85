/* gateway/issuer_test.c -- allocation, types, status changes, key rotation
 * and reader bundles (full and delta), checked with the reference reader. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "reader/credfmt.h"
#include "reader/reader.h"
#include "reader/phone.h"

#include "tests/tap.h"
#include "tests/instance_fixture.h"
#include "gateway/instance.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/people.h"
#include "gateway/secrets.h"


/* Load a bundle into a reader; returns the reader verdict for a fresh
 * presentation of `cred` by the phone with secret key sk. */
static int present(mid_rdr_t *r, const unsigned char *cred, const unsigned char sk[64])
{
	mid_challenge_t ch;
	unsigned char buf[MID_PRESENTATION_MAX_SIZE];
	size_t len = 0;
	mid_card_t card;
	if (mid_reader_challenge(r, &ch) != 0)
		return -100;
	if (mid_presentation_sign(&ch, cred, MID_CREDENTIAL_SIZE, sk, buf, sizeof buf, &len) != 0)
		return -101;
	return (int)mid_reader_verify(r, buf, len, &card);
}

static int64_t rclock(void *ctx) { (void)ctx; return tf_now / 1000; }

static int load_bundle(mid_instance_t *in, mid_rdr_t *r, uint64_t since, int *delta)
{
	unsigned char *b = NULL;
	size_t len = 0;
	uint64_t v = 0;
	mid_error_t err = { 0 };
	int rc = mid_issuer_bundle(in, since, &b, &len, &v, delta, &err);
	if (rc != MID_OK) {
		printf("# bundle: %s\n", err.text);
		return rc;
	}
	rc = mid_reader_load_bundle(r, b, len);
	if (rc)
		printf("# load: %s\n", mid_cerr_str(rc));
	free(b);
	return rc;
}

int main(void)
{
	mid_instance_t *in;
	mid_error_t err = { 0 };
	mid_issue_opts_t o;
	mid_credential_t c, c2;
	mid_signed_cred_t sc, sc2;
	char alice[MID_ID_LEN], bob[MID_ID_LEN], carol[MID_ID_LEN];
	unsigned char pk1[32], sk1[64], pk2[32], sk2[64];
	mid_rdr_t rd;
	unsigned char rid[16] = { 1 };
	int rc, delta = -1;
	uint64_t v1 = 0, v2 = 0;

	if (sodium_init() < 0 || !(in = tf_setup("issuer"))) {
		ok(0, "setup");
		return tap_done();
	}
	ok(mid_keys_create_initial(in, &err) == MID_OK, "initial issuer keys: %s", err.text);
	ok(mid_keys_create_initial(in, &err) == MID_ECONFLICT, "a second init is refused");
	tf_person(in, "Alice", alice);
	tf_person(in, "Bob", bob);
	tf_person(in, "Carol", carol);

	/* ---- allocation ---- */
	memset(&o, 0, sizeof o);
	o.facility_code = -1;
	memset(&c, 0, sizeof c);
	ok(mid_store_pacs_value_add(in->store, "pacs", "H10301", 12, 100, &err) == MID_OK,
	   "known PACS value 100");
	ok(mid_issuer_issue(in, alice, &o, &c, &err) == MID_OK, "issue with defaults: %s", err.text);
	is_int(c.card_number, 101, "next free skips the PACS value");
	is_int(c.facility_code, 12, "facility code of the range");
	is_str(c.format, "H10301", "format of the first range");
	is_int(c.status, MID_CRED_PENDING, "new credential is pending");
	is_int(c.valid_until - c.valid_from, 30LL * 86400000, "validity_days");
	mid_credential_clear(&c);

	o.card_number = 103;
	ok(mid_issuer_issue(in, bob, &o, &c, &err) == MID_OK, "explicit free value accepted");
	mid_credential_clear(&c);
	o.card_number = 103;
	rc = mid_issuer_issue(in, carol, &o, &c, &err);
	ok(rc == MID_ECONFLICT && strstr(err.text, "already taken"),
	   "explicit value held by a credential: %s", err.text);
	o.card_number = 100;
	rc = mid_issuer_issue(in, carol, &o, &c, &err);
	ok(rc == MID_ECONFLICT && strstr(err.text, "pacs"), "explicit PACS value refused: %s",
	   err.text);
	o.card_number = 70000;
	ok(mid_issuer_issue(in, carol, &o, &c, &err) == MID_EINVAL, "value outside the format: %s",
	   err.text);
	o.card_number = 0;
	o.format = "H10304";
	o.facility_code = 70000;
	ok(mid_issuer_issue(in, carol, &o, &c, &err) == MID_EINVAL,
	   "facility code outside the format: %s", err.text);
	o.format = NULL;
	o.facility_code = -1;
	ok(mid_issuer_issue(in, carol, &o, &c, &err) == MID_OK, "next free after 101: %s", err.text);
	is_int(c.card_number, 102, "102 (103 is taken)");
	mid_credential_clear(&c);
	ok(mid_issuer_issue(in, carol, &o, &c, &err) == MID_OK, "then 104");
	is_int(c.card_number, 104, "104");
	mid_credential_clear(&c);
	rc = mid_issuer_issue(in, carol, &o, &c, &err);
	ok(rc == MID_ELIMIT, "range full: %s", err.text);
	o.format = "H10302";
	ok(mid_issuer_issue(in, carol, &o, &c, &err) == MID_EINVAL,
	   "no range for the format and no card number: %s", err.text);
	o.format = "raw:26";
	ok(mid_issuer_issue(in, carol, &o, &c, &err) == MID_EINVAL, "raw formats not issued");

	/* ---- binding, types ---- */
	crypto_sign_keypair(pk1, sk1);
	crypto_sign_keypair(pk2, sk2);
	memset(&o, 0, sizeof o);
	o.format = "H10304";
	o.facility_code = -1;
	o.type = MID_CRED_SINGLE_ISSUE;
	ok(mid_issuer_issue(in, alice, &o, &c, &err) == MID_OK, "single-issue credential");
	ok(mid_issuer_bind_device(in, c.id, pk1, "sim", &sc, &err) == MID_OK, "bind: %s", err.text);
	is_int(sc.len, MID_CREDENTIAL_SIZE, "signed credential size");
	rc = mid_issuer_bind_device(in, c.id, pk2, "sim", &sc2, &err);
	ok(rc == MID_ECONFLICT && strstr(err.text, "single-issue"), "second phone refused: %s",
	   err.text);
	mid_credential_clear(&c);

	o.type = MID_CRED_REUSABLE;
	ok(mid_issuer_issue(in, bob, &o, &c, &err) == MID_OK, "reusable credential");
	ok(mid_issuer_bind_device(in, c.id, pk1, "sim", &sc, &err) == MID_OK, "bind to phone 1");
	memset(&c2, 0, sizeof c2);
	ok(mid_store_credential_get(in->store, c.id, &c2, &err) == MID_OK &&
	   c2.status == MID_CRED_ACTIVE, "active after enrollment");
	mid_credential_clear(&c2);

	/* a reader with the first bundle accepts phone 1 */
	ok(mid_reader_init(&rd, rid, NULL) == 0, "reader init");
	mid_reader_set_clock(&rd, rclock, NULL);
	ok(load_bundle(in, &rd, 0, &delta) == 0 && delta == 0, "full bundle loads");
	is_int(present(&rd, sc.bytes, sk1), MID_DENY_NONE, "phone 1 accepted");
	mid_issuer_bundle_version(in, &v1, &err);

	/* move to phone 2: the old copy is revoked */
	ok(mid_issuer_bind_device(in, c.id, pk2, "sim", &sc2, &err) == MID_OK, "reusable moves: %s",
	   err.text);
	ok(memcmp(sc.bytes, sc2.bytes, 40) != 0, "the moved credential has a new wire id");
	ok(load_bundle(in, &rd, v1, &delta) == 0 && delta == 1, "delta bundle applies");
	is_int(present(&rd, sc.bytes, sk1), MID_DENY_REVOKED, "old phone's copy refused");
	is_int(present(&rd, sc2.bytes, sk2), MID_DENY_NONE, "new phone accepted");

	/* ---- status changes ---- */
	ok(mid_issuer_suspend(in, c.id, NULL, &err) == MID_OK, "suspend");
	ok(mid_issuer_suspend(in, c.id, NULL, &err) == MID_ECONFLICT, "suspend twice refused");
	mid_issuer_bundle_version(in, &v2, &err);
	ok(load_bundle(in, &rd, v2 - 1, &delta) == 0, "delta after suspend");
	is_int(present(&rd, sc2.bytes, sk2), MID_DENY_REVOKED, "suspended: refused");
	ok(mid_issuer_resume(in, c.id, &err) == MID_OK, "resume: %s", err.text);
	ok(load_bundle(in, &rd, v2, &delta) == 0 && delta == 1, "delta after resume");
	is_int(present(&rd, sc2.bytes, sk2), MID_DENY_NONE, "resumed: accepted (removed from list)");
	ok(mid_issuer_resume(in, c.id, &err) == MID_ECONFLICT, "resume of an active one refused");
	{
		size_t n = 0;
		mid_signed_cred_t *list = NULL;
		ok(mid_issuer_credentials_for_device(in, sc2.device_id, &list, &n, &err) == MID_OK &&
		   n == 1 && memcmp(list[0].bytes, sc2.bytes, MID_CREDENTIAL_SIZE) == 0,
		   "phone fetch returns the signed credential");
		free(list);
		ok(mid_issuer_credentials_for_device(in, sc.device_id, &list, &n, &err) == MID_OK,
		   "phone 1 fetch");
		ok(n == 1, "phone 1 keeps only its single-issue credential");
		free(list);
	}

	/* ---- key rotation ---- */
	{
		mid_published_key_t *keys = NULL;
		size_t nk = 0;
		char cur[MID_KEY_ID_HEX_LEN];
		unsigned char *b = NULL;
		size_t blen = 0;
		mid_bundle_t bd;
		ok(mid_keys_list(in, &keys, &nk, &err) == MID_OK && nk == 2, "two keys after init");
		free(keys);
		ok(mid_issuer_bundle(in, 0, &b, &blen, NULL, NULL, &err) == MID_OK &&
		   mid_bundle_decode(b, blen, &bd) == 0 && bd.nkeys == 2,
		   "bundle carries current and next");
		free(b);
		ok(mid_keys_rotate(in, cur, &err) == MID_OK, "rotate: %s", err.text);
		ok(mid_keys_list(in, &keys, &nk, &err) == MID_OK && nk == 3, "three keys after rotate");
		free(keys);
		ok(mid_issuer_bundle(in, 0, &b, &blen, NULL, NULL, &err) == MID_OK &&
		   mid_bundle_decode(b, blen, &bd) == 0 && bd.nkeys == 3,
		   "bundle carries current, next and the retired key");
		free(b);
		/* the reader follows the rotation (the new signer was announced as next) */
		ok(load_bundle(in, &rd, 0, &delta) == 0, "bundle signed by the new key loads");
		is_int(present(&rd, sc2.bytes, sk2), MID_DENY_NONE,
		       "credential signed by the retired key still verifies");
	}

	/* ---- revoke ---- */
	mid_issuer_bundle_version(in, &v1, &err);
	ok(mid_issuer_revoke(in, c.id, "lost", &err) == MID_OK, "revoke");
	ok(mid_issuer_resume(in, c.id, &err) == MID_ECONFLICT, "revoked cannot resume");
	ok(mid_issuer_bind_device(in, c.id, pk1, "sim", &sc, &err) == MID_ECONFLICT,
	   "revoked cannot enroll");
	{
		unsigned char *b = NULL;
		size_t blen = 0;
		ok(mid_issuer_bundle(in, v1 + 1, &b, &blen, NULL, NULL, &err) == MID_ECONFLICT,
		   "up to date: %s", err.text);
		free(b);
	}
	ok(load_bundle(in, &rd, v1, &delta) == 0 && delta == 1, "delta after revoke");
	is_int(present(&rd, sc2.bytes, sk2), MID_DENY_REVOKED, "revoked: refused");
	{
		mid_wire_cred_t w;
		ok(mid_credential_decode(sc2.bytes, MID_CREDENTIAL_SIZE, &w) == 0, "decode");
		memset(&c2, 0, sizeof c2);
		ok(mid_issuer_find_wire(in, w.credential_id, &c2, &err) == MID_OK &&
		   strcmp(c2.id, c.id) == 0, "moved wire id maps back to the credential");
		mid_credential_clear(&c2);
		is_int(mid_issuer_wire_revoked(in, w.credential_id, &err), 1, "online: revoked");
	}
	mid_credential_clear(&c);

	/* ---- batch ---- */
	{
		enum { N = 50 };
		char ids[N][MID_ID_LEN], (*out)[MID_ID_LEN] = malloc(N * MID_ID_LEN);
		const char *pids[N];
		unsigned char (*pks)[32] = malloc(N * 32);
		unsigned char skx[64];
		for (int i = 0; i < N; i++) {
			tf_person(in, "Batch", ids[i]);
			pids[i] = ids[i];
			crypto_sign_keypair(pks[i], skx);
		}
		memset(&o, 0, sizeof o);
		o.format = "H10304";
		o.facility_code = -1;
		ok(mid_issuer_batch_issue(in, pids, (const unsigned char (*)[32])pks, N, &o, out, &err) ==
		       MID_OK, "batch of %d with device keys: %s", N, err.text);
		memset(&c2, 0, sizeof c2);
		ok(mid_store_credential_get(in->store, out[N - 1], &c2, &err) == MID_OK &&
		   c2.status == MID_CRED_ACTIVE && c2.blob_len == MID_CREDENTIAL_SIZE,
		   "batch credentials are signed and active");
		mid_credential_clear(&c2);
		pids[N - 1] = "00000000-0000-0000-0000-000000000000";
		ok(mid_issuer_batch_issue(in, pids, NULL, N, &o, out, &err) == MID_ENOTFOUND,
		   "a batch with an unknown person fails as a whole");
		free(out);
		free(pks);
	}

	{
		int64_t ms = 0;
		ok(mid_issuer_parse_date("2026-02-28", 1, &ms, &err) == MID_OK &&
		   ms == 1772323199999LL, "end of day");
		ok(mid_issuer_parse_date("2026-02-30", 0, &ms, &err) == MID_EINVAL, "no Feb 30");
	}

	mid_instance_close(in);
	{
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tf_dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tf_dir);
	}
	return tap_done();
}
