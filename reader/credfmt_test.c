/* reader/credfmt_test.c -- every codec: round trip, every truncation,
 * trailing bytes, oversize, bad version/magic, malformed fields, signature
 * checks, base64url. */
#include <stdlib.h>

#include "tests/tap.h"
#include "reader/testutil.h"

/* Every strict prefix of buf must fail with TRUNCATED. */
#define ALL_TRUNCATIONS(decodefn, outvar, buf, len, what) do { \
	int all_ = 1; \
	for (size_t l_ = 0; l_ < (len); l_++) \
		if (decodefn((buf), l_, &(outvar)) != MID_CERR_TRUNCATED) { all_ = 0; diag("len %zu", l_); break; } \
	ok(all_, "%s: every truncation (0..%zu bytes) is MID_CERR_TRUNCATED", what, (size_t)(len) - 1); \
} while (0)

static void test_credential(const tu_site_t *s)
{
	mid_wire_cred_t c, d;
	uint8_t buf[MID_CREDENTIAL_SIZE + 8], kid[MID_KEY_ID_SIZE];

	tu_cred_template(s, &c, 1);
	is_int(mid_credential_sign(&c, s->issuer_sk, buf), 0, "credential: sign");
	mid_key_id(s->issuer_pk, kid);
	ok(memcmp(c.issuer_key_id, kid, sizeof kid) == 0, "credential: issuer key id is derived from the key");
	ok(memcmp(buf, "MIDC\x01\x01\x1a\x00", 8) == 0, "credential: magic, version, format H10301/26");
	ok(buf[40] == 0 && buf[43] == 118 && buf[50] == 0x06 && buf[51] == 0x43, "credential: big-endian fc and cn");
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d), 0, "credential: decode");
	ok(memcmp(&c, &d, sizeof c) == 0, "credential: round trip keeps every field");
	is_int(mid_credential_verify(buf, s->issuer_pk), 0, "credential: issuer signature verifies");
	is_int(mid_credential_verify(buf, s->next_pk), MID_CERR_SIGNATURE, "credential: another key does not verify");
	ALL_TRUNCATIONS(mid_credential_decode, d, buf, MID_CREDENTIAL_SIZE, "credential");
	buf[MID_CREDENTIAL_SIZE] = 0;
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE + 1, &d), MID_CERR_TRAILING, "credential: trailing byte");
	{
		int all = 1;
		for (size_t i = 0; i < MID_CREDENTIAL_SIGNED_SIZE; i++) {
			buf[i] ^= 0x01;
			if (mid_credential_verify(buf, s->issuer_pk) != MID_CERR_SIGNATURE)
				all = 0;
			buf[i] ^= 0x01;
		}
		ok(all, "credential: flipping any signed bit breaks the signature");
	}
	buf[4] = 2;
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d), MID_CERR_VERSION, "credential: version 2 refused");
	buf[4] = 1;
	buf[0] = 'X';
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d), MID_CERR_MAGIC, "credential: bad magic");
	buf[0] = 'M';
	buf[6] = 27;
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d), MID_CERR_MALFORMED, "credential: H10301 with 27 bits");
	buf[6] = 26;
	buf[7] = 1;
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d), MID_CERR_MALFORMED, "credential: reserved byte set");
	buf[7] = 0;
	buf[42] = 1; /* fc 256+118 */
	is_int(mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d), MID_CERR_MALFORMED, "credential: fc out of range");
	buf[42] = 0;

	tu_cred_template(s, &c, 1);
	c.facility_code = 256;
	is_int(mid_credential_sign(&c, s->issuer_sk, buf), MID_CERR_RANGE, "credential: sign refuses fc 256 in H10301");
	tu_cred_template(s, &c, 1);
	c.not_after = c.not_before - 1;
	is_int(mid_credential_sign(&c, s->issuer_sk, buf), MID_CERR_RANGE, "credential: sign refuses an empty window");
	tu_cred_template(s, &c, 1);
	c.version = 9;
	is_int(mid_credential_sign(&c, s->issuer_sk, buf), MID_CERR_VERSION, "credential: sign refuses version 9");
	tu_cred_template(s, &c, 1);
	mid_wiegand_parse_format("raw:64", &c.format);
	c.facility_code = 0;
	c.card_number = UINT64_MAX;
	ok(mid_credential_sign(&c, s->issuer_sk, buf) == 0 && mid_credential_decode(buf, MID_CREDENTIAL_SIZE, &d) == 0 &&
		   d.card_number == UINT64_MAX && d.format.bits == 64,
	   "credential: raw:64 with the largest card number round-trips");
}

static uint8_t g_ids[3 * MID_ID_SIZE];

static size_t make_bundle(const tu_site_t *s, uint8_t *out, size_t cap, uint64_t version, uint64_t base)
{
	mid_bundle_t b;
	size_t len = 0;
	tu_bundle_template(s, &b, version);
	b.base_version = base;
	b.nkeys = 2;
	memcpy(b.keys[1].pk, s->next_pk, MID_PK_SIZE);
	b.keys[1].not_before = TU_NOW + 86400;
	b.keys[1].status = MID_WKEY_NEXT;
	mid_wiegand_parse_format("H10301", &b.output_format);
	for (unsigned i = 0; i < 3; i++)
		tu_id(g_ids + i * MID_ID_SIZE, 10 + i);
	b.nrevoked = 3;
	b.revoked = g_ids;
	if (base) {
		b.nrevoked = 2;
		b.nremoved = 1;
		b.removed = g_ids + 2 * MID_ID_SIZE;
	}
	if (mid_bundle_sign(&b, s->issuer_sk, out, cap, &len) != 0)
		return 0;
	return len;
}

static void test_bundle(const tu_site_t *s)
{
	static uint8_t buf[MID_BUNDLE_MAX_SIZE + 16];
	mid_bundle_t b, d;
	size_t len, dlen;
	uint8_t kid[MID_KEY_ID_SIZE];

	len = make_bundle(s, buf, sizeof buf, 7, 0);
	is_int(len, mid_bundle_size(2, 3, 0), "bundle: full bundle has the computed size");
	is_int(mid_bundle_decode(buf, len, &d), 0, "bundle: decode");
	mid_key_id(s->issuer_pk, kid);
	ok(d.bundle_version == 7 && d.base_version == 0 && d.nkeys == 2 && d.nrevoked == 3 && d.nremoved == 0 &&
		   d.generated_at == TU_NOW && d.output_format.kind == MID_WIEGAND_H10301 &&
		   memcmp(d.site_id, s->site_id, MID_ID_SIZE) == 0 && memcmp(d.revoked, g_ids, 3 * MID_ID_SIZE) == 0 &&
		   d.keys[1].status == MID_WKEY_NEXT && memcmp(d.keys[1].pk, s->next_pk, 32) == 0 &&
		   memcmp(d.signer_key_id, kid, sizeof kid) == 0,
	   "bundle: round trip keeps every field");
	is_int(mid_bundle_verify(&d, buf, s->issuer_pk), 0, "bundle: signature verifies");
	is_int(mid_bundle_verify(&d, buf, s->next_pk), MID_CERR_SIGNATURE, "bundle: another key does not verify");
	ALL_TRUNCATIONS(mid_bundle_decode, d, buf, len, "bundle");
	buf[len] = 0;
	is_int(mid_bundle_decode(buf, len + 1, &d), MID_CERR_TRAILING, "bundle: trailing byte");
	is_int(mid_bundle_decode(buf, MID_BUNDLE_MAX_SIZE + 1, &d), MID_CERR_OVERSIZE, "bundle: longer than the maximum");
	buf[4] = 0;
	is_int(mid_bundle_decode(buf, len, &d), MID_CERR_VERSION, "bundle: version 0 refused");
	buf[4] = 1;
	buf[49] = 9; /* nkeys 9 > 8 */
	is_int(mid_bundle_decode(buf, len, &d), MID_CERR_OVERSIZE, "bundle: too many keys");
	buf[49] = 2;
	buf[51] = 0x01; /* nrevoked 65539 */
	is_int(mid_bundle_decode(buf, len, &d), MID_CERR_OVERSIZE, "bundle: too many revocations");
	buf[51] = 0;
	{
		size_t koff = MID_BUNDLE_HEADER_SIZE + 56;
		buf[koff] = 7;
		is_int(mid_bundle_decode(buf, len, &d), MID_CERR_MALFORMED, "bundle: unknown key status");
		buf[koff] = MID_WKEY_CURRENT;
		buf[MID_BUNDLE_HEADER_SIZE + 8] ^= 1; /* public key no longer matches its id */
		is_int(mid_bundle_decode(buf, len, &d), MID_CERR_MALFORMED, "bundle: key id not derived from the key");
		buf[MID_BUNDLE_HEADER_SIZE + 8] ^= 1;
	}
	{
		/* swap two revoked ids: no longer ascending */
		size_t roff = MID_BUNDLE_HEADER_SIZE + 2 * MID_BUNDLE_KEY_SIZE;
		uint8_t t[MID_ID_SIZE];
		memcpy(t, buf + roff, MID_ID_SIZE);
		memcpy(buf + roff, buf + roff + MID_ID_SIZE, MID_ID_SIZE);
		memcpy(buf + roff + MID_ID_SIZE, t, MID_ID_SIZE);
		is_int(mid_bundle_decode(buf, len, &d), MID_CERR_ORDER, "bundle: unsorted revocations refused");
		memcpy(buf + roff + MID_ID_SIZE, buf + roff, MID_ID_SIZE);
		is_int(mid_bundle_decode(buf, len, &d), MID_CERR_ORDER, "bundle: duplicate revocations refused");
	}

	dlen = make_bundle(s, buf, sizeof buf, 9, 7);
	ok(dlen == mid_bundle_size(2, 2, 1) && mid_bundle_decode(buf, dlen, &d) == 0 && d.base_version == 7 &&
		   d.nrevoked == 2 && d.nremoved == 1 && memcmp(d.removed, g_ids + 32, 16) == 0,
	   "bundle: delta round trip (2 added, 1 removed)");
	ALL_TRUNCATIONS(mid_bundle_decode, d, buf, dlen, "bundle delta");
	buf[47] = 9; /* base 9 = version 9 */
	is_int(mid_bundle_decode(buf, dlen, &d), MID_CERR_MALFORMED, "bundle: delta base not below its version");

	tu_bundle_template(s, &b, 1);
	b.nremoved = 1;
	b.removed = g_ids;
	is_int(mid_bundle_sign(&b, s->issuer_sk, buf, sizeof buf, &len), MID_CERR_INVAL, "bundle: full bundle cannot remove ids");
	tu_bundle_template(s, &b, 1);
	b.nrevoked = 2;
	b.revoked = g_ids + 16; /* ids 11, 12 then ... fine */
	is_int(mid_bundle_sign(&b, s->issuer_sk, buf, 10, &len), MID_CERR_NOSPACE, "bundle: sign checks the buffer size");
	{
		uint8_t ids[4 * MID_ID_SIZE];
		tu_id(ids, 5); tu_id(ids + 16, 3); tu_id(ids + 32, 5); tu_id(ids + 48, 1);
		b.revoked = ids;
		b.nrevoked = 4;
		is_int(mid_bundle_sign(&b, s->issuer_sk, buf, sizeof buf, &len), MID_CERR_ORDER, "bundle: sign refuses unsorted ids");
		b.nrevoked = (uint32_t)mid_ids_sort_unique(ids, 4);
		ok(b.nrevoked == 3 && ids[15] == 1 && ids[31] == 3 && ids[47] == 5, "bundle: mid_ids_sort_unique sorts and dedups");
		is_int(mid_bundle_sign(&b, s->issuer_sk, buf, sizeof buf, &len), 0, "bundle: sorted ids sign");
	}
	{
		/* the largest bundle: 8 keys, 4096 added + 4096 removed, exactly MAX_SIZE */
		static uint8_t big_ids[2 * MID_BUNDLE_MAX_REVOKED * MID_ID_SIZE];
		static uint8_t big[MID_BUNDLE_MAX_SIZE];
		tu_bundle_template(s, &b, 3);
		b.base_version = 2;
		b.nkeys = MID_BUNDLE_MAX_KEYS;
		for (unsigned i = 0; i < MID_BUNDLE_MAX_KEYS; i++) {
			b.keys[i] = b.keys[0];
			memset(b.keys[i].pk, (int)i, MID_PK_SIZE);
		}
		for (unsigned i = 0; i < 2 * MID_BUNDLE_MAX_REVOKED; i++)
			tu_id(big_ids + (size_t)i * MID_ID_SIZE, i);
		b.nrevoked = MID_BUNDLE_MAX_REVOKED;
		b.revoked = big_ids;
		b.nremoved = MID_BUNDLE_MAX_REVOKED;
		b.removed = big_ids + (size_t)MID_BUNDLE_MAX_REVOKED * MID_ID_SIZE;
		ok(mid_bundle_sign(&b, s->issuer_sk, big, sizeof big, &len) == 0 && len == MID_BUNDLE_MAX_SIZE &&
			   mid_bundle_decode(big, len, &d) == 0 && mid_bundle_verify(&d, big, s->issuer_pk) == 0,
		   "bundle: the largest allowed bundle (%zu bytes) round-trips", (size_t)MID_BUNDLE_MAX_SIZE);
	}
}

static void test_challenge_presentation(const tu_site_t *s)
{
	mid_challenge_t c, d;
	mid_presentation_t p;
	mid_wire_cred_t cr;
	uint8_t cbuf[MID_CHALLENGE_MAX_SIZE + 4], cred[MID_CREDENTIAL_SIZE], pbuf[MID_PRESENTATION_MAX_SIZE + 4];
	uint8_t msg[128];
	size_t clen, plen, mlen;

	memset(&c, 0, sizeof c);
	memcpy(c.reader_id, s->reader_id, MID_ID_SIZE);
	c.timestamp = TU_NOW;
	c.nonce_len = 32;
	randombytes_buf(c.nonce, 32);
	is_int(mid_challenge_encode(&c, cbuf, sizeof cbuf, &clen), 0, "challenge: encode");
	is_int(clen, 64, "challenge: 32-byte nonce gives 64 bytes");
	ok(mid_challenge_decode(cbuf, clen, &d) == 0 && memcmp(&c, &d, sizeof c) == 0, "challenge: round trip");
	ALL_TRUNCATIONS(mid_challenge_decode, d, cbuf, clen, "challenge");
	is_int(mid_challenge_decode(cbuf, clen + 1, &d), MID_CERR_OVERSIZE, "challenge: oversize");
	cbuf[5] = 16;
	is_int(mid_challenge_decode(cbuf, clen, &d), MID_CERR_TRAILING, "challenge: 16-byte nonce with 32 bytes after");
	cbuf[5] = 20;
	is_int(mid_challenge_decode(cbuf, clen, &d), MID_CERR_MALFORMED, "challenge: nonce length 20 refused");
	cbuf[5] = 32;
	cbuf[4] = 3;
	is_int(mid_challenge_decode(cbuf, clen, &d), MID_CERR_VERSION, "challenge: bad version");
	cbuf[4] = 1;
	c.nonce_len = 16;
	ok(mid_challenge_encode(&c, cbuf, sizeof cbuf, &clen) == 0 && clen == 48 && mid_challenge_decode(cbuf, clen, &d) == 0 &&
		   d.nonce_len == 16,
	   "challenge: 16-byte nonce round trip");
	c.nonce_len = 32;

	tu_cred_template(s, &cr, 1);
	mid_credential_sign(&cr, s->issuer_sk, cred);
	is_int(mid_presentation_sign(&c, cred, sizeof cred, s->device_sk, pbuf, sizeof pbuf, &plen), 0, "presentation: sign");
	is_int(plen, 32 + 32 + MID_CREDENTIAL_SIZE + 64, "presentation: size");
	ok(mid_presentation_decode(pbuf, plen, &p) == 0 && memcmp(&p.challenge, &c, sizeof c) == 0 &&
		   p.credential_len == MID_CREDENTIAL_SIZE && memcmp(p.credential, cred, sizeof cred) == 0,
	   "presentation: round trip");
	mid_presentation_message(&c, cred, sizeof cred, msg, sizeof msg, &mlen);
	ok(mlen == 24 + 16 + 32 + 8 + 32 && memcmp(msg, "mobileid-presentation-v1", 24) == 0 &&
		   crypto_sign_verify_detached(p.device_sig, msg, mlen, s->device_pk) == 0,
	   "presentation: device signature covers the domain-separated message");
	ALL_TRUNCATIONS(mid_presentation_decode, p, pbuf, plen, "presentation");
	is_int(mid_presentation_decode(pbuf, plen + 1, &p), MID_CERR_OVERSIZE, "presentation: one byte too many");
	is_int(mid_presentation_decode(pbuf, 100000, &p), MID_CERR_OVERSIZE, "presentation: 100 kB");
	pbuf[7] = MID_CREDENTIAL_SIZE + 1;
	is_int(mid_presentation_decode(pbuf, plen, &p), MID_CERR_OVERSIZE, "presentation: credential length too large");
	pbuf[7] = MID_CREDENTIAL_SIZE;
	pbuf[4] = 2;
	is_int(mid_presentation_decode(pbuf, plen, &p), MID_CERR_VERSION, "presentation: bad version");
	pbuf[4] = 1;
	c.nonce_len = 16;
	ok(mid_presentation_sign(&c, cred, sizeof cred, s->device_sk, pbuf, sizeof pbuf, &plen) == 0 &&
		   mid_presentation_decode(pbuf, plen - 16, &p) == MID_CERR_TRUNCATED,
	   "presentation: 16-byte nonce variant");
	{
		uint8_t ans[MID_PRESENTATION_MAX_SIZE];
		size_t alen;
		c.nonce_len = 32;
		mid_challenge_encode(&c, cbuf, sizeof cbuf, &clen);
		is_int(mid_phone_answer(cbuf, clen, cred, sizeof cred, s->device_sk, ans, sizeof ans, &alen), 0, "phone: answer");
		is_int(mid_phone_answer(cbuf, clen, cred, sizeof cred, s->issuer_sk, ans, sizeof ans, &alen),
		       MID_CERR_KEY_MISMATCH, "phone: refuses a key the credential is not bound to");
		is_int(mid_phone_answer(cbuf, clen - 1, cred, sizeof cred, s->device_sk, ans, sizeof ans, &alen),
		       MID_CERR_TRUNCATED, "phone: truncated challenge");
	}
}

static void test_base64(void)
{
	uint8_t in[200], out[200];
	char txt[300];
	size_t n;
	int all = 1;
	for (size_t len = 0; len < 64; len++) {
		randombytes_buf(in, len);
		if (mid_b64url_encode(in, len, txt, sizeof txt) != 0 || strchr(txt, '=') || strchr(txt, '+') ||
		    strchr(txt, '/') || mid_b64url_decode(txt, out, sizeof out, &n) != 0 || n != len ||
		    memcmp(in, out, len) != 0)
			all = 0;
	}
	ok(all, "b64url: round trip 0..63 bytes, url-safe alphabet, no padding");
	is_int(mid_b64url_decode("TWlE Qw\n", out, sizeof out, &n), 0, "b64url: whitespace is ignored");
	ok(n == 4 && memcmp(out, "MiDC", 4) == 0, "b64url: decoded value");
	is_int(mid_b64url_decode("TWlEQw==", out, sizeof out, &n), MID_CERR_BASE64, "b64url: padding refused");
	is_int(mid_b64url_decode("TW+E", out, sizeof out, &n), MID_CERR_BASE64, "b64url: '+' refused");
	is_int(mid_b64url_decode("TWlEQ", out, sizeof out, &n), MID_CERR_BASE64, "b64url: impossible length refused");
	is_int(mid_b64url_decode("TWlEQwTWlEQw", out, 4, &n), MID_CERR_OVERSIZE, "b64url: too long for the buffer");
	is_int(mid_b64url_encode(in, 10, txt, 5), MID_CERR_NOSPACE, "b64url: encode checks its buffer");
}

int main(void)
{
	tu_site_t s;
	if (mid_cred_init() != 0)
		return 1;
	tu_site_init(&s);
	test_credential(&s);
	test_bundle(&s);
	test_challenge_presentation(&s);
	test_base64();
	is_str(mid_cerr_str(MID_CERR_TRAILING), "trailing bytes after the record", "error texts");
	return tap_done();
}
