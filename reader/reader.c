/* reader/reader.c -- reference reader (see reader.h). Nothing in this file
 * allocates; the verify path uses only the stack and the caller's struct. */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "reader/reader.h"

static const struct {
	const char *name, *text;
} RD_DENY[MID_DENY_COUNT_] = {
	[MID_DENY_NONE] = { "accepted", "accepted" },
	[MID_DENY_TRUNCATED] = { "truncated", "presentation is truncated" },
	[MID_DENY_OVERSIZED] = { "oversized", "presentation is oversized or has trailing bytes" },
	[MID_DENY_BAD_VERSION] = { "bad_version", "unsupported presentation or credential version" },
	[MID_DENY_MALFORMED] = { "malformed", "presentation or credential is malformed" },
	[MID_DENY_NO_BUNDLE] = { "no_bundle", "reader has no configuration bundle" },
	[MID_DENY_WRONG_READER] = { "wrong_reader", "response was made for another reader" },
	[MID_DENY_WRONG_NONCE] = { "wrong_nonce", "response does not answer this reader's challenge" },
	[MID_DENY_REPLAY] = { "replay", "challenge was already answered (replayed response)" },
	[MID_DENY_CHALLENGE_EXPIRED] = { "challenge_expired", "challenge expired before it was answered" },
	[MID_DENY_WRONG_SITE] = { "wrong_site", "credential belongs to another site" },
	[MID_DENY_UNKNOWN_ISSUER_KEY] = { "unknown_issuer_key", "credential issuer key is not in the bundle" },
	[MID_DENY_ISSUER_KEY_INACTIVE] = { "issuer_key_inactive",
					   "credential issuer key is revoked or outside its validity" },
	[MID_DENY_FORGED_SIGNATURE] = { "forged_signature", "credential issuer signature is invalid (forged)" },
	[MID_DENY_DEVICE_SIGNATURE] = { "device_signature", "wrong device key or invalid device signature" },
	[MID_DENY_NOT_YET_VALID] = { "not_yet_valid", "credential is not yet valid" },
	[MID_DENY_EXPIRED] = { "expired", "credential has expired" },
	[MID_DENY_REVOKED] = { "revoked", "credential is revoked" },
	[MID_DENY_FORMAT_MISMATCH] = { "format_mismatch", "credential format differs from the reader's output format" },
	[MID_DENY_INTERNAL] = { "internal", "reader called with invalid arguments" },
};

const char *mid_deny_str(int reason)
{
	if (reason < 0 || reason >= MID_DENY_COUNT_)
		return "unknown denial";
	return RD_DENY[reason].text;
}

const char *mid_deny_name(int reason)
{
	if (reason < 0 || reason >= MID_DENY_COUNT_)
		return "unknown";
	return RD_DENY[reason].name;
}

static int64_t rd_default_clock(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static int64_t rd_now(const mid_rdr_t *r)
{
	return r->clock ? r->clock(r->clock_ctx) : rd_default_clock(NULL);
}

int mid_reader_init(mid_rdr_t *r, const uint8_t reader_id[MID_ID_SIZE], const uint8_t *anchor_pk)
{
	if (!r || !reader_id)
		return MID_CERR_INVAL;
	if (sodium_init() < 0)
		return MID_CERR_CRYPTO;
	memset(r, 0, sizeof *r);
	memcpy(r->reader_id, reader_id, MID_ID_SIZE);
	r->challenge_ttl = 30;
	r->clock_skew = 0;
	r->nonce_len = MID_NONCE_MAX;
	r->clock = rd_default_clock;
	if (anchor_pk) {
		r->have_anchor = 1;
		memcpy(r->anchor_pk, anchor_pk, MID_PK_SIZE);
		mid_key_id(anchor_pk, r->anchor_key_id);
	}
	return 0;
}

void mid_reader_set_clock(mid_rdr_t *r, mid_clock_fn fn, void *ctx)
{
	if (!r)
		return;
	r->clock = fn ? fn : rd_default_clock;
	r->clock_ctx = ctx;
}

/* Binary search of a sorted id list. */
static int rd_id_in(const uint8_t *ids, size_t n, const uint8_t id[MID_ID_SIZE])
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ids + mid * MID_ID_SIZE, id, MID_ID_SIZE);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int mid_reader_is_revoked(const mid_rdr_t *r, const uint8_t id[MID_ID_SIZE])
{
	return r && id && rd_id_in(&r->revoked[0][0], r->nrevoked, id);
}

static const mid_bundle_key_t *rd_find_key(const mid_bundle_key_t *keys, size_t n,
					   const uint8_t kid[MID_KEY_ID_SIZE])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(keys[i].key_id, kid, MID_KEY_ID_SIZE) == 0)
			return &keys[i];
	return NULL;
}

/* The public key the reader trusts for signer key id `kid`, or NULL. */
static const uint8_t *rd_trusted_signer(const mid_rdr_t *r, const mid_bundle_t *nb,
					const uint8_t kid[MID_KEY_ID_SIZE])
{
	const mid_bundle_key_t *k;
	if (r->have_bundle) {
		k = rd_find_key(r->keys, r->nkeys, kid);
		if (k && k->status == MID_WKEY_REVOKED)
			return NULL;
		if (k && (k->status == MID_WKEY_CURRENT || k->status == MID_WKEY_NEXT))
			return k->pk;
	}
	if (r->have_anchor && memcmp(r->anchor_key_id, kid, MID_KEY_ID_SIZE) == 0)
		return r->anchor_pk;
	if (!r->have_anchor && !r->have_bundle) {
		/* trust on first use: a current/next key the bundle lists itself */
		k = rd_find_key(nb->keys, nb->nkeys, kid);
		if (k && (k->status == MID_WKEY_CURRENT || k->status == MID_WKEY_NEXT))
			return k->pk;
	}
	return NULL;
}

int mid_reader_load_bundle(mid_rdr_t *r, const uint8_t *buf, size_t len)
{
	mid_bundle_t b;
	const uint8_t *pk;
	int rc;
	if (!r || !buf)
		return MID_CERR_INVAL;
	if ((rc = mid_bundle_decode(buf, len, &b)) != 0)
		return rc;
	if (!(pk = rd_trusted_signer(r, &b, b.signer_key_id)))
		return MID_CERR_UNKNOWN_KEY;
	if ((rc = mid_bundle_verify(&b, buf, pk)) != 0)
		return rc;
	if (r->have_bundle && memcmp(r->site_id, b.site_id, MID_ID_SIZE) != 0)
		return MID_CERR_SITE;
	if (b.base_version == 0) {
		if (r->have_bundle && b.bundle_version <= r->bundle_version)
			return MID_CERR_STALE;
		memcpy(r->revoked, b.revoked, (size_t)b.nrevoked * MID_ID_SIZE);
		r->nrevoked = b.nrevoked;
	} else {
		const uint8_t *cur = &r->revoked[0][0];
		size_t n = r->nrevoked, gone = 0, fresh = 0, w = 0;
		if (!r->have_bundle || b.base_version != r->bundle_version)
			return MID_CERR_BASE;
		/* count first, so that nothing changes when the result would not fit */
		for (size_t i = 0; i < b.nremoved; i++)
			gone += (size_t)rd_id_in(cur, n, b.removed + i * MID_ID_SIZE);
		for (size_t i = 0; i < b.nrevoked; i++) {
			const uint8_t *id = b.revoked + i * MID_ID_SIZE;
			if (!rd_id_in(cur, n, id) || rd_id_in(b.removed, b.nremoved, id))
				fresh++;
		}
		if (n - gone + fresh > MID_BUNDLE_MAX_REVOKED)
			return MID_CERR_OVERSIZE;
		/* remove, compacting in place */
		for (size_t i = 0; i < n; i++) {
			if (rd_id_in(b.removed, b.nremoved, r->revoked[i]))
				continue;
			if (w != i)
				memcpy(r->revoked[w], r->revoked[i], MID_ID_SIZE);
			w++;
		}
		n = w;
		/* merge the added ids from the back; equal ids are kept once */
		{
			size_t total = n + fresh, out = total;
			size_t i = n, j = b.nrevoked;
			while (j > 0) {
				const uint8_t *a = b.revoked + (j - 1) * MID_ID_SIZE;
				int c = i > 0 ? memcmp(r->revoked[i - 1], a, MID_ID_SIZE) : -1;
				if (c > 0) {
					memmove(r->revoked[--out], r->revoked[--i], MID_ID_SIZE);
				} else if (c == 0) {
					memmove(r->revoked[--out], r->revoked[--i], MID_ID_SIZE);
					j--;
				} else {
					memcpy(r->revoked[--out], a, MID_ID_SIZE);
					j--;
				}
			}
			r->nrevoked = (uint32_t)total;
		}
	}
	memcpy(r->site_id, b.site_id, MID_ID_SIZE);
	r->bundle_version = b.bundle_version;
	r->generated_at = b.generated_at;
	r->output_format = b.output_format;
	r->nkeys = b.nkeys;
	memcpy(r->keys, b.keys, sizeof b.keys);
	if (!r->have_anchor) {
		r->have_anchor = 1;
		memcpy(r->anchor_pk, pk, MID_PK_SIZE);
		memcpy(r->anchor_key_id, b.signer_key_id, MID_KEY_ID_SIZE);
	}
	r->have_bundle = 1;
	return 0;
}

static void rd_remember(mid_rdr_t *r, const mid_challenge_t *c)
{
	unsigned slot = r->used_next % MID_READER_USED_NONCES;
	memcpy(r->used[slot], c->nonce, c->nonce_len);
	r->used_len[slot] = c->nonce_len;
	r->used_next = (slot + 1) % MID_READER_USED_NONCES;
}

int mid_reader_challenge(mid_rdr_t *r, mid_challenge_t *out)
{
	if (!r || !out || (r->nonce_len != MID_NONCE_MIN && r->nonce_len != MID_NONCE_MAX))
		return MID_CERR_INVAL;
	memset(&r->challenge, 0, sizeof r->challenge);
	memcpy(r->challenge.reader_id, r->reader_id, MID_ID_SIZE);
	r->challenge.timestamp = rd_now(r);
	r->challenge.nonce_len = r->nonce_len;
	randombytes_buf(r->challenge.nonce, r->nonce_len);
	r->have_challenge = 1;
	r->challenge_answered = 0;
	*out = r->challenge;
	return 0;
}

int mid_reader_restore_challenge(mid_rdr_t *r, const mid_challenge_t *c, int answered)
{
	if (!r || !c || (c->nonce_len != MID_NONCE_MIN && c->nonce_len != MID_NONCE_MAX))
		return MID_CERR_INVAL;
	r->challenge = *c;
	r->have_challenge = 1;
	r->challenge_answered = answered ? 1 : 0;
	if (answered)
		rd_remember(r, c);
	return 0;
}

static mid_deny_t rd_map(int rc)
{
	switch (rc) {
	case MID_CERR_TRUNCATED: return MID_DENY_TRUNCATED;
	case MID_CERR_OVERSIZE:
	case MID_CERR_TRAILING: return MID_DENY_OVERSIZED;
	case MID_CERR_VERSION: return MID_DENY_BAD_VERSION;
	case MID_CERR_INVAL: return MID_DENY_INTERNAL;
	default: return MID_DENY_MALFORMED;
	}
}

static int rd_nonce_eq(const mid_challenge_t *a, const mid_challenge_t *b)
{
	return a->nonce_len == b->nonce_len && sodium_memcmp(a->nonce, b->nonce, a->nonce_len) == 0;
}

static int rd_nonce_used(const mid_rdr_t *r, const mid_challenge_t *c)
{
	for (unsigned i = 0; i < MID_READER_USED_NONCES; i++)
		if (r->used_len[i] == c->nonce_len && sodium_memcmp(r->used[i], c->nonce, c->nonce_len) == 0)
			return 1;
	return 0;
}

mid_deny_t mid_reader_verify(mid_rdr_t *r, const uint8_t *buf, size_t len, mid_card_t *card)
{
	mid_presentation_t pr;
	mid_wire_cred_t c;
	const mid_bundle_key_t *k;
	uint8_t msg[128];
	size_t msglen;
	int64_t now;
	int rc;

	if (!r || !buf || !card)
		return MID_DENY_INTERNAL;
	if ((rc = mid_presentation_decode(buf, len, &pr)) != 0)
		return rd_map(rc);
	if ((rc = mid_credential_decode(pr.credential, pr.credential_len, &c)) != 0)
		return rd_map(rc);
	if (!r->have_bundle)
		return MID_DENY_NO_BUNDLE;

	/* 1. is it an answer to this reader's outstanding challenge? */
	if (sodium_memcmp(pr.challenge.reader_id, r->reader_id, MID_ID_SIZE) != 0)
		return MID_DENY_WRONG_READER;
	if (!r->have_challenge || !rd_nonce_eq(&pr.challenge, &r->challenge))
		return rd_nonce_used(r, &pr.challenge) ? MID_DENY_REPLAY : MID_DENY_WRONG_NONCE;
	if (r->challenge_answered)
		return MID_DENY_REPLAY;
	if (pr.challenge.timestamp != r->challenge.timestamp)
		return MID_DENY_WRONG_NONCE;
	now = rd_now(r);
	if (now - r->challenge.timestamp > r->challenge_ttl || now < r->challenge.timestamp - r->clock_skew)
		return MID_DENY_CHALLENGE_EXPIRED;

	/* 2. issuer: site, key, signature */
	if (sodium_memcmp(c.site_id, r->site_id, MID_ID_SIZE) != 0)
		return MID_DENY_WRONG_SITE;
	if (!(k = rd_find_key(r->keys, r->nkeys, c.issuer_key_id)))
		return MID_DENY_UNKNOWN_ISSUER_KEY;
	if (k->status == MID_WKEY_REVOKED || now < k->not_before || (k->not_after != 0 && now > k->not_after))
		return MID_DENY_ISSUER_KEY_INACTIVE;
	if (mid_credential_verify(pr.credential, k->pk) != 0)
		return MID_DENY_FORGED_SIGNATURE;

	/* 3. device: signature over the reader's own challenge */
	if (mid_presentation_message(&r->challenge, pr.credential, pr.credential_len, msg, sizeof msg,
				     &msglen) != 0)
		return MID_DENY_INTERNAL;
	if (crypto_sign_verify_detached(pr.device_sig, msg, msglen, c.device_pk) != 0)
		return MID_DENY_DEVICE_SIGNATURE;
	r->challenge_answered = 1; /* the phone really answered: the nonce is spent */
	rd_remember(r, &r->challenge);

	/* 4. validity, revocation, output */
	if (now < c.not_before - r->clock_skew)
		return MID_DENY_NOT_YET_VALID;
	if (now > c.not_after + r->clock_skew)
		return MID_DENY_EXPIRED;
	if (mid_reader_is_revoked(r, c.credential_id))
		return MID_DENY_REVOKED;
	if (r->output_format.kind != 0 &&
	    (r->output_format.kind != c.format.kind || r->output_format.bits != c.format.bits))
		return MID_DENY_FORMAT_MISMATCH;
	memset(card, 0, sizeof *card);
	if (mid_wiegand_encode(c.format, c.facility_code, c.card_number, &card->bits) != 0)
		return MID_DENY_MALFORMED;
	card->format = c.format;
	card->facility_code = c.facility_code;
	card->card_number = c.card_number;
	memcpy(card->credential_id, c.credential_id, MID_ID_SIZE);
	card->not_after = c.not_after;
	return MID_DENY_NONE;
}
