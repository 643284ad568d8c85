/* reader/reader_test.c -- the reference reader: every denial, bundle
 * trust/rotation/delta rules, and a run of the verify path under a malloc
 * that fails (the reader must not allocate). */
#include <stdlib.h>

#include "tests/tap.h"
#include "reader/testutil.h"

/* ---- allocation guard --------------------------------------------------
 * The test binary defines malloc/calloc/realloc; while g_forbid is set
 * every call is counted and fails. Skipped under AddressSanitizer, whose
 * runtime owns malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define RT_ALLOC_GUARD 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RT_ALLOC_GUARD 0
#endif
#endif
#ifndef RT_ALLOC_GUARD
#define RT_ALLOC_GUARD 1
#endif

static volatile int g_forbid, g_allocs;
#if RT_ALLOC_GUARD
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n)
{
	if (g_forbid) {
		g_allocs++;
		return NULL;
	}
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	if (g_forbid) {
		g_allocs++;
		return NULL;
	}
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	if (g_forbid) {
		g_allocs++;
		return NULL;
	}
	return __libc_realloc(p, n);
}
#endif

static tu_site_t S;
static int64_t g_now = TU_NOW;
static mid_rdr_t R; /* 66 KiB: static, as on a reader */
static uint8_t BUNDLE[MID_BUNDLE_MAX_SIZE];

static size_t sign_bundle(mid_bundle_t *b, const uint8_t *sk, uint8_t *out)
{
	size_t len = 0;
	int rc = mid_bundle_sign(b, sk, out, MID_BUNDLE_MAX_SIZE, &len);
	if (rc != 0)
		diag("mid_bundle_sign: %s", mid_cerr_str(rc));
	return len;
}

/* Fresh reader (pinned to the issuer key) with bundle v1, revoking id 99. */
static void fresh_reader(void)
{
	mid_bundle_t b;
	uint8_t rev[MID_ID_SIZE];
	size_t len;
	mid_reader_init(&R, S.reader_id, S.issuer_pk);
	mid_reader_set_clock(&R, tu_clock, &g_now);
	g_now = TU_NOW;
	tu_bundle_template(&S, &b, 1);
	tu_id(rev, 99);
	b.nrevoked = 1;
	b.revoked = rev;
	len = sign_bundle(&b, S.issuer_sk, BUNDLE);
	if (mid_reader_load_bundle(&R, BUNDLE, len) != 0)
		diag("fresh_reader: bundle refused");
}

/* Issue a credential from template changes, and answer a new challenge of R. */
static size_t present(const mid_wire_cred_t *c, const uint8_t *issuer_sk, const uint8_t *device_sk, uint8_t *out)
{
	mid_wire_cred_t cc = *c;
	uint8_t cred[MID_CREDENTIAL_SIZE];
	mid_challenge_t ch;
	size_t len = 0;
	mid_credential_sign(&cc, issuer_sk, cred);
	mid_reader_challenge(&R, &ch);
	mid_presentation_sign(&ch, cred, sizeof cred, device_sk, out, MID_PRESENTATION_MAX_SIZE, &len);
	return len;
}

static mid_deny_t verify(const uint8_t *p, size_t len, mid_card_t *card)
{
	return mid_reader_verify(&R, p, len, card);
}

#define DENY(got, want, name) do { mid_deny_t g__ = (got); \
	if (!ok(g__ == (want), "%s -> %s", name, mid_deny_name(want))) \
		diag("got %s (%s)", mid_deny_name(g__), mid_deny_str(g__)); } while (0)

static void test_accept(void)
{
	mid_wire_cred_t c;
	uint8_t p[MID_PRESENTATION_MAX_SIZE];
	mid_card_t card;
	char bits[80];
	size_t len;
	fresh_reader();
	tu_cred_template(&S, &c, 1);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_NONE, "valid presentation");
	mid_wiegand_to_string(&card.bits, bits, sizeof bits);
	ok(card.facility_code == 118 && card.card_number == 1603 && card.format.kind == MID_WIEGAND_H10301,
	   "card value fc 118 cn 1603 H10301");
	is_str(bits, "10111011000000110010000110", "Wiegand bits with parity");

	/* every format comes out with its own bits */
	{
		static const char *fmts[] = { "H10302", "H10304", "C1000-35", "raw:40" };
		for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
			mid_wiegand_bits_t want;
			tu_cred_template(&S, &c, 2);
			mid_wiegand_parse_format(fmts[i], &c.format);
			if (c.format.kind == MID_WIEGAND_H10302 || c.format.kind == MID_WIEGAND_RAW)
				c.facility_code = 0;
			mid_wiegand_encode(c.format, c.facility_code, c.card_number, &want);
			len = present(&c, S.issuer_sk, S.device_sk, p);
			ok(verify(p, len, &card) == MID_DENY_NONE && card.bits.nbits == want.nbits &&
				   card.bits.value == want.value,
			   "%s credential accepted with its bits", fmts[i]);
		}
	}
	/* 16-byte nonces work too */
	R.nonce_len = 16;
	tu_cred_template(&S, &c, 1);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_NONE, "16-byte nonce");
}

static void test_denials(void)
{
	mid_wire_cred_t c;
	uint8_t p[MID_PRESENTATION_MAX_SIZE + 8], other_pk[32], other_sk[64];
	mid_card_t card;
	size_t len;

	crypto_sign_keypair(other_pk, other_sk);

	/* forged issuer signature: flip a signature byte, re-sign as the device */
	fresh_reader();
	{
		mid_wire_cred_t cc;
		uint8_t cred[MID_CREDENTIAL_SIZE];
		mid_challenge_t ch;
		tu_cred_template(&S, &cc, 1);
		mid_credential_sign(&cc, S.issuer_sk, cred);
		cred[MID_CREDENTIAL_SIGNED_SIZE + 5] ^= 0x20;
		mid_reader_challenge(&R, &ch);
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		DENY(verify(p, len, &card), MID_DENY_FORGED_SIGNATURE, "issuer signature altered");
		/* card number raised after signing */
		mid_credential_sign(&cc, S.issuer_sk, cred);
		cred[51] ^= 0x01;
		mid_reader_challenge(&R, &ch);
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		DENY(verify(p, len, &card), MID_DENY_FORGED_SIGNATURE, "card number changed after signing");
		/* self-signed with another key but claiming the site's key id */
		mid_credential_sign(&cc, other_sk, cred);
		mid_key_id(S.issuer_pk, cred + 100);
		crypto_sign_detached(cred + MID_CREDENTIAL_SIGNED_SIZE, NULL, cred, MID_CREDENTIAL_SIGNED_SIZE, other_sk);
		mid_reader_challenge(&R, &ch);
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		DENY(verify(p, len, &card), MID_DENY_FORGED_SIGNATURE, "signed by another key under the site's key id");
	}
	/* wrong issuer: a key the bundle does not list */
	tu_cred_template(&S, &c, 1);
	len = present(&c, other_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_UNKNOWN_ISSUER_KEY, "credential from an unknown issuer key");

	/* wrong device key: credential bound to S.device, answered with another key */
	len = present(&c, S.issuer_sk, other_sk, p);
	DENY(verify(p, len, &card), MID_DENY_DEVICE_SIGNATURE, "answered with another device key");
	len = present(&c, S.issuer_sk, S.device_sk, p);
	p[len - 1] ^= 0x40;
	DENY(verify(p, len, &card), MID_DENY_DEVICE_SIGNATURE, "device signature altered");

	/* validity window, with the reader's clock */
	tu_cred_template(&S, &c, 1);
	c.not_before = TU_NOW + 10;
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_NOT_YET_VALID, "not yet valid (10 s early)");
	R.clock_skew = 60;
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_NONE, "... accepted with 60 s clock skew tolerance");
	R.clock_skew = 0;
	tu_cred_template(&S, &c, 1);
	c.not_after = TU_NOW - 1;
	c.not_before = TU_NOW - 100;
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_EXPIRED, "expired (1 s ago)");
	c.not_after = TU_NOW;
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_NONE, "valid in its last second (not_after inclusive)");

	/* revoked */
	tu_cred_template(&S, &c, 99);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_REVOKED, "revoked credential");

	/* replay: the same answer twice; an old answer after a new challenge */
	tu_cred_template(&S, &c, 1);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_NONE, "first answer");
	DENY(verify(p, len, &card), MID_DENY_REPLAY, "the same answer again");
	{
		mid_challenge_t ch;
		mid_reader_challenge(&R, &ch);
		DENY(verify(p, len, &card), MID_DENY_REPLAY, "an answered nonce replayed after a new challenge");
	}
	/* a denied answer that passed the device check also spends the nonce */
	tu_cred_template(&S, &c, 99);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_REVOKED, "revoked...");
	DENY(verify(p, len, &card), MID_DENY_REPLAY, "... and its replay is a replay");
	/* a forged answer does not spend the nonce: the real one still works */
	{
		uint8_t good[MID_PRESENTATION_MAX_SIZE];
		tu_cred_template(&S, &c, 1);
		len = present(&c, S.issuer_sk, S.device_sk, good);
		memcpy(p, good, len);
		p[len - 3] ^= 1;
		DENY(verify(p, len, &card), MID_DENY_DEVICE_SIGNATURE, "forged answer first");
		DENY(verify(good, len, &card), MID_DENY_NONE, "the genuine answer to the same challenge still passes");
	}

	/* wrong reader: a challenge made by reader B */
	{
		mid_rdr_t *b = malloc(sizeof *b);
		uint8_t bid[MID_ID_SIZE], cred[MID_CREDENTIAL_SIZE];
		mid_challenge_t ch;
		mid_wire_cred_t cc;
		memset(bid, 0xBB, sizeof bid);
		mid_reader_init(b, bid, S.issuer_pk);
		mid_reader_set_clock(b, tu_clock, &g_now);
		mid_reader_challenge(b, &ch);
		tu_cred_template(&S, &cc, 1);
		mid_credential_sign(&cc, S.issuer_sk, cred);
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		mid_reader_challenge(&R, &ch);
		DENY(verify(p, len, &card), MID_DENY_WRONG_READER, "answer to another reader's challenge");
		/* same reader id, nonce it never issued */
		ch.nonce[0] ^= 0xFF;
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		DENY(verify(p, len, &card), MID_DENY_WRONG_NONCE, "answer to a nonce this reader never issued");
		/* right nonce, wrong timestamp */
		ch.nonce[0] ^= 0xFF;
		ch.timestamp++;
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		DENY(verify(p, len, &card), MID_DENY_WRONG_NONCE, "right nonce, another timestamp");
		/* an unanswered challenge replaced by a newer one */
		ch.timestamp--;
		mid_presentation_sign(&ch, cred, sizeof cred, S.device_sk, p, sizeof p, &len);
		mid_reader_challenge(&R, &ch);
		DENY(verify(p, len, &card), MID_DENY_WRONG_NONCE, "answer to a superseded challenge");
		/* no challenge at all */
		mid_reader_init(b, S.reader_id, S.issuer_pk);
		mid_reader_set_clock(b, tu_clock, &g_now);
		mid_reader_load_bundle(b, BUNDLE, mid_bundle_size(1, 1, 0));
		DENY(mid_reader_verify(b, p, len, &card), MID_DENY_WRONG_NONCE, "reader without an outstanding challenge");
		mid_reader_init(b, S.reader_id, S.issuer_pk);
		DENY(mid_reader_verify(b, p, len, &card), MID_DENY_NO_BUNDLE, "reader without a bundle");
		free(b);
	}
	/* challenge expired */
	tu_cred_template(&S, &c, 1);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	g_now += R.challenge_ttl + 1;
	DENY(verify(p, len, &card), MID_DENY_CHALLENGE_EXPIRED, "answer after the challenge TTL");
	g_now = TU_NOW;

	/* truncated, oversized, bad version, malformed */
	len = present(&c, S.issuer_sk, S.device_sk, p);
	{
		int all = 1;
		for (size_t l = 0; l < len; l++)
			if (verify(p, l, &card) != MID_DENY_TRUNCATED) {
				all = 0;
				diag("length %zu", l);
				break;
			}
		ok(all, "every truncation of a presentation (0..%zu bytes) -> truncated", len - 1);
	}
	p[len] = 0;
	DENY(verify(p, len + 1, &card), MID_DENY_OVERSIZED, "one trailing byte");
	{
		static uint8_t huge[65536];
		memcpy(huge, p, len);
		DENY(verify(huge, sizeof huge, &card), MID_DENY_OVERSIZED, "64 KiB presentation");
	}
	p[4] = 2;
	DENY(verify(p, len, &card), MID_DENY_BAD_VERSION, "presentation version 2");
	p[4] = 1;
	p[32 + 32 + 4] = 2; /* credential version byte */
	DENY(verify(p, len, &card), MID_DENY_BAD_VERSION, "credential version 2 inside");
	p[32 + 32 + 4] = 1;
	p[0] = 'Z';
	DENY(verify(p, len, &card), MID_DENY_MALFORMED, "not a presentation (magic)");
	p[0] = 'M';
	DENY(verify(p, len, &card), MID_DENY_NONE, "the restored bytes pass");

	/* wrong site, inactive issuer key, output format mismatch */
	tu_cred_template(&S, &c, 1);
	c.site_id[0] ^= 1;
	len = present(&c, S.issuer_sk, S.device_sk, p);
	DENY(verify(p, len, &card), MID_DENY_WRONG_SITE, "credential of another site");
	{
		mid_bundle_t b;
		size_t blen;
		tu_bundle_template(&S, &b, 2);
		b.nkeys = 2;
		b.keys[1] = b.keys[0];
		memcpy(b.keys[0].pk, S.next_pk, 32);
		b.keys[1].status = MID_WKEY_REVOKED;
		mid_wiegand_parse_format("H10304", &b.output_format);
		blen = sign_bundle(&b, S.next_sk, BUNDLE);
		/* v1 did not announce next_pk: refused */
		is_int(mid_reader_load_bundle(&R, BUNDLE, blen), MID_CERR_UNKNOWN_KEY, "bundle from an unannounced key refused");
		blen = sign_bundle(&b, S.issuer_sk, BUNDLE);
		is_int(mid_reader_load_bundle(&R, BUNDLE, blen), 0, "bundle v2 revoking the old issuer key loads");
		tu_cred_template(&S, &c, 1);
		len = present(&c, S.issuer_sk, S.device_sk, p);
		DENY(verify(p, len, &card), MID_DENY_ISSUER_KEY_INACTIVE, "credential signed by a revoked issuer key");
		len = present(&c, S.next_sk, S.device_sk, p);
		DENY(verify(p, len, &card), MID_DENY_FORMAT_MISMATCH, "H10301 credential on an H10304 reader");
		mid_wiegand_parse_format("H10304", &c.format);
		len = present(&c, S.next_sk, S.device_sk, p);
		DENY(verify(p, len, &card), MID_DENY_NONE, "H10304 credential from the new key");
	}

	/* every denial has its own name and text */
	{
		int distinct = 1;
		for (int i = 0; i < MID_DENY_COUNT_; i++)
			for (int j = i + 1; j < MID_DENY_COUNT_; j++)
				if (!strcmp(mid_deny_str(i), mid_deny_str(j)) || !strcmp(mid_deny_name(i), mid_deny_name(j)))
					distinct = 0;
		ok(distinct, "every denial reason has a distinct name and text");
		is_str(mid_deny_str(-1), "unknown denial", "out-of-range reason");
	}
}

static void test_bundles(void)
{
	mid_bundle_t b;
	size_t len;
	uint8_t ids[8 * MID_ID_SIZE];

	fresh_reader();
	tu_bundle_template(&S, &b, 1);
	len = sign_bundle(&b, S.issuer_sk, BUNDLE);
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_STALE, "same version again is stale");
	b.bundle_version = 5;
	b.site_id[0] ^= 1;
	len = sign_bundle(&b, S.issuer_sk, BUNDLE);
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_SITE, "bundle of another site");
	b.site_id[0] ^= 1;
	len = sign_bundle(&b, S.issuer_sk, BUNDLE);
	BUNDLE[30] ^= 1;
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_SIGNATURE, "tampered bundle");
	BUNDLE[30] ^= 1;
	is_int(mid_reader_load_bundle(&R, BUNDLE, len - 1), MID_CERR_TRUNCATED, "truncated bundle");
	is_int(R.bundle_version, 1, "failed loads keep the old bundle");
	ok(mid_reader_is_revoked(&R, (tu_id(ids, 99), ids)), "... and its revocation list");

	/* rotation: v2 announces the next key, v3 is signed with it */
	b.bundle_version = 2;
	b.nkeys = 2;
	memcpy(b.keys[1].pk, S.next_pk, 32);
	b.keys[1].status = MID_WKEY_NEXT;
	len = sign_bundle(&b, S.issuer_sk, BUNDLE);
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), 0, "v2 announces the next key");
	b.bundle_version = 3;
	b.keys[0].status = MID_WKEY_RETIRED;
	b.keys[1].status = MID_WKEY_CURRENT;
	len = sign_bundle(&b, S.next_sk, BUNDLE);
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), 0, "v3 signed by the new key loads");

	/* deltas: v3 has no revocations. v4 = +{1,3,5}, v5 = +{2,5} -{3} */
	tu_id(ids, 1); tu_id(ids + 16, 3); tu_id(ids + 32, 5);
	b.bundle_version = 4;
	b.base_version = 3;
	b.revoked = ids;
	b.nrevoked = 3;
	len = sign_bundle(&b, S.next_sk, BUNDLE);
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), 0, "delta 3->4 applies");
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_BASE, "the same delta again does not apply");
	{
		uint8_t add[2 * MID_ID_SIZE], rem[MID_ID_SIZE], want[3 * MID_ID_SIZE];
		tu_id(add, 2); tu_id(add + 16, 5); tu_id(rem, 3);
		b.bundle_version = 5;
		b.base_version = 4;
		b.revoked = add;
		b.nrevoked = 2;
		b.removed = rem;
		b.nremoved = 1;
		len = sign_bundle(&b, S.next_sk, BUNDLE);
		is_int(mid_reader_load_bundle(&R, BUNDLE, len), 0, "delta 4->5 applies");
		tu_id(want, 1); tu_id(want + 16, 2); tu_id(want + 32, 5);
		ok(R.nrevoked == 3 && memcmp(R.revoked, want, sizeof want) == 0, "list is {1,2,5}, sorted, no duplicates");
	}

	/* random deltas against a naive model */
	{
		static uint8_t model[512];
		int good = 1;
		uint64_t v = R.bundle_version;
		memset(model, 0, sizeof model);
		model[1] = model[2] = model[5] = 1;
		srand(7);
		for (int round = 0; round < 200 && good; round++) {
			uint8_t add[64 * MID_ID_SIZE], rem[64 * MID_ID_SIZE];
			size_t na = 0, nr = 0;
			for (unsigned id = 0; id < 512; id++) {
				int r = rand() % 16;
				if (r == 0 && na < 64) tu_id(add + 16 * na++, id);
				else if (r == 1 && nr < 64) tu_id(rem + 16 * nr++, id);
			}
			b.base_version = v;
			b.bundle_version = ++v;
			b.revoked = add; b.nrevoked = (uint32_t)na;
			b.removed = rem; b.nremoved = (uint32_t)nr;
			len = sign_bundle(&b, S.next_sk, BUNDLE);
			if (mid_reader_load_bundle(&R, BUNDLE, len) != 0) { good = 0; break; }
			for (size_t i = 0; i < nr; i++) model[rem[16 * i + 14] << 8 | rem[16 * i + 15]] = 0;
			for (size_t i = 0; i < na; i++) model[add[16 * i + 14] << 8 | add[16 * i + 15]] = 1;
			{
				size_t k = 0;
				for (unsigned id = 0; id < 512; id++) {
					uint8_t x[16];
					if (!model[id]) continue;
					tu_id(x, id);
					if (k >= R.nrevoked || memcmp(R.revoked[k], x, 16) != 0) good = 0;
					k++;
				}
				if (k != R.nrevoked) good = 0;
			}
		}
		ok(good, "200 random deltas give the same list as a naive model");
	}
	/* a delta that would overflow the list is refused whole */
	{
		static uint8_t many[MID_BUNDLE_MAX_REVOKED * MID_ID_SIZE];
		uint32_t before = R.nrevoked;
		for (unsigned i = 0; i < MID_BUNDLE_MAX_REVOKED; i++)
			tu_id(many + (size_t)i * 16, 100000 + i);
		b.base_version = R.bundle_version;
		b.bundle_version = R.bundle_version + 1;
		b.revoked = many; b.nrevoked = MID_BUNDLE_MAX_REVOKED;
		b.removed = NULL; b.nremoved = 0;
		len = sign_bundle(&b, S.next_sk, BUNDLE);
		if (before == 0)
			diag("model list unexpectedly empty");
		is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_OVERSIZE, "delta overflowing 4096 entries refused");
		is_int(R.nrevoked, before, "... and the list is unchanged");
	}

	/* trust on first use */
	{
		mid_reader_init(&R, S.reader_id, NULL);
		tu_bundle_template(&S, &b, 1);
		b.keys[0].status = MID_WKEY_RETIRED;
		len = sign_bundle(&b, S.issuer_sk, BUNDLE);
		is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_UNKNOWN_KEY, "TOFU: signer must be a current/next key it lists");
		b.keys[0].status = MID_WKEY_CURRENT;
		len = sign_bundle(&b, S.issuer_sk, BUNDLE);
		is_int(mid_reader_load_bundle(&R, BUNDLE, len), 0, "TOFU: first bundle accepted");
		ok(R.have_anchor && memcmp(R.anchor_pk, S.issuer_pk, 32) == 0, "TOFU: its signer is now pinned");
		b.bundle_version = 2;
		memcpy(b.keys[0].pk, S.next_pk, 32);
		len = sign_bundle(&b, S.next_sk, BUNDLE);
		is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_UNKNOWN_KEY, "TOFU: later bundles need the chain of trust");
	}
	/* pinned anchor: a first bundle signed by another key is refused */
	mid_reader_init(&R, S.reader_id, S.issuer_pk);
	is_int(mid_reader_load_bundle(&R, BUNDLE, len), MID_CERR_UNKNOWN_KEY, "pinned reader refuses a foreign first bundle");
}

static void test_no_alloc(void)
{
	mid_wire_cred_t c;
	uint8_t p[MID_PRESENTATION_MAX_SIZE];
	uint8_t bl[4096];
	mid_bundle_t b;
	mid_card_t card;
	mid_challenge_t ch;
	mid_deny_t d1, d2, d3;
	size_t len, blen;
	int rc1, rc2;

	if (!RT_ALLOC_GUARD) {
		printf("ok %d - # SKIP allocation guard not available under AddressSanitizer\n", ++tap_n_);
		return;
	}
	fresh_reader();
	tu_cred_template(&S, &c, 1);
	len = present(&c, S.issuer_sk, S.device_sk, p);
	tu_bundle_template(&S, &b, 2);
	blen = 0;
	mid_bundle_sign(&b, S.issuer_sk, bl, sizeof bl, &blen);
	g_allocs = 0;
	g_forbid = 1;
	d1 = mid_reader_verify(&R, p, len, &card);
	d2 = mid_reader_verify(&R, p, len, &card);
	rc1 = mid_reader_challenge(&R, &ch);
	rc2 = mid_reader_load_bundle(&R, bl, blen);
	d3 = mid_reader_verify(&R, p, 10, &card);
	g_forbid = 0;
	ok(d1 == MID_DENY_NONE && d2 == MID_DENY_REPLAY && rc1 == 0 && rc2 == 0 && d3 == MID_DENY_TRUNCATED,
	   "verify, replay, challenge, bundle load and a truncated input work under a failing malloc");
	is_int(g_allocs, 0, "the reader made no allocation attempt");
}

int main(void)
{
	if (mid_cred_init() != 0)
		return 1;
	tu_site_init(&S);
	test_accept();
	test_denials();
	test_bundles();
	test_no_alloc();
	return tap_done();
}
