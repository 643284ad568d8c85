/* reader/credfmt.c -- Mobile ID binary formats (layouts in
 * schemas/credential-format.md). No allocation anywhere in this file. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "reader/credfmt.h"

static const uint8_t CF_MAGIC_CRED[4] = { 'M', 'I', 'D', 'C' };
static const uint8_t CF_MAGIC_BUNDLE[4] = { 'M', 'I', 'D', 'B' };
static const uint8_t CF_MAGIC_CHAL[4] = { 'M', 'I', 'D', 'Q' };
static const uint8_t CF_MAGIC_PRES[4] = { 'M', 'I', 'D', 'P' };

/* ---- big-endian helpers ------------------------------------------------- */

static void cf_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void cf_put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void cf_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint16_t cf_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t cf_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t cf_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Common prefix check: magic then version. */
static int cf_prefix(const uint8_t *buf, size_t len, const uint8_t magic[4], uint8_t version)
{
	if (!buf)
		return MID_CERR_INVAL;
	if (len < 4)
		return MID_CERR_TRUNCATED;
	if (memcmp(buf, magic, 4) != 0)
		return MID_CERR_MAGIC;
	if (len < 5)
		return MID_CERR_TRUNCATED;
	if (buf[4] != version)
		return MID_CERR_VERSION;
	return 0;
}

static int cf_ids_ascending(const uint8_t *ids, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (memcmp(ids + (i - 1) * MID_ID_SIZE, ids + i * MID_ID_SIZE, MID_ID_SIZE) >= 0)
			return 0;
	return 1;
}

int mid_cred_init(void)
{
	return sodium_init() < 0 ? MID_CERR_CRYPTO : 0;
}

void mid_key_id(const uint8_t pk[MID_PK_SIZE], uint8_t out[MID_KEY_ID_SIZE])
{
	uint8_t h[MID_HASH_SIZE];
	crypto_generichash(h, sizeof h, pk, MID_PK_SIZE, NULL, 0);
	memcpy(out, h, MID_KEY_ID_SIZE);
}

/* ---- credential --------------------------------------------------------- */

static int cf_cred_fields_ok(const mid_wire_cred_t *c)
{
	uint32_t max_fc;
	uint64_t max_cn;
	if (mid_wiegand_limits(c->format, &max_fc, &max_cn) != 0)
		return 0;
	if (c->facility_code > max_fc || c->card_number > max_cn)
		return 0;
	return c->not_before <= c->not_after;
}

int mid_credential_sign(mid_wire_cred_t *c, const uint8_t issuer_sk[MID_SK_SIZE],
			uint8_t out[MID_CREDENTIAL_SIZE])
{
	uint8_t *p = out;
	if (!c || !issuer_sk || !out)
		return MID_CERR_INVAL;
	if (c->version != MID_CREDENTIAL_VERSION)
		return MID_CERR_VERSION;
	if (!mid_wformat_valid(c->format))
		return MID_CERR_INVAL;
	if (!cf_cred_fields_ok(c))
		return MID_CERR_RANGE;
	/* libsodium's secret key is seed || public key */
	mid_key_id(issuer_sk + 32, c->issuer_key_id);
	memcpy(p, CF_MAGIC_CRED, 4);
	p[4] = c->version;
	p[5] = c->format.kind;
	p[6] = c->format.bits;
	p[7] = 0;
	memcpy(p + 8, c->site_id, MID_ID_SIZE);
	memcpy(p + 24, c->credential_id, MID_ID_SIZE);
	cf_put32(p + 40, c->facility_code);
	cf_put64(p + 44, c->card_number);
	cf_put64(p + 52, (uint64_t)c->not_before);
	cf_put64(p + 60, (uint64_t)c->not_after);
	memcpy(p + 68, c->device_pk, MID_PK_SIZE);
	memcpy(p + 100, c->issuer_key_id, MID_KEY_ID_SIZE);
	if (crypto_sign_detached(c->signature, NULL, p, MID_CREDENTIAL_SIGNED_SIZE, issuer_sk) != 0)
		return MID_CERR_CRYPTO;
	memcpy(p + MID_CREDENTIAL_SIGNED_SIZE, c->signature, MID_SIG_SIZE);
	return 0;
}

int mid_credential_decode(const uint8_t *buf, size_t len, mid_wire_cred_t *out)
{
	mid_wire_cred_t c;
	int rc;
	if (!out)
		return MID_CERR_INVAL;
	if ((rc = cf_prefix(buf, len, CF_MAGIC_CRED, MID_CREDENTIAL_VERSION)) != 0)
		return rc;
	if (len < MID_CREDENTIAL_SIZE)
		return MID_CERR_TRUNCATED;
	if (len > MID_CREDENTIAL_SIZE)
		return MID_CERR_TRAILING;
	memset(&c, 0, sizeof c);
	c.version = buf[4];
	c.format.kind = buf[5];
	c.format.bits = buf[6];
	if (buf[7] != 0 || !mid_wformat_valid(c.format))
		return MID_CERR_MALFORMED;
	memcpy(c.site_id, buf + 8, MID_ID_SIZE);
	memcpy(c.credential_id, buf + 24, MID_ID_SIZE);
	c.facility_code = cf_get32(buf + 40);
	c.card_number = cf_get64(buf + 44);
	c.not_before = (int64_t)cf_get64(buf + 52);
	c.not_after = (int64_t)cf_get64(buf + 60);
	memcpy(c.device_pk, buf + 68, MID_PK_SIZE);
	memcpy(c.issuer_key_id, buf + 100, MID_KEY_ID_SIZE);
	memcpy(c.signature, buf + 108, MID_SIG_SIZE);
	if (!cf_cred_fields_ok(&c))
		return MID_CERR_MALFORMED;
	*out = c;
	return 0;
}

int mid_credential_verify(const uint8_t buf[MID_CREDENTIAL_SIZE], const uint8_t issuer_pk[MID_PK_SIZE])
{
	if (!buf || !issuer_pk)
		return MID_CERR_INVAL;
	if (crypto_sign_verify_detached(buf + MID_CREDENTIAL_SIGNED_SIZE, buf, MID_CREDENTIAL_SIGNED_SIZE,
					issuer_pk) != 0)
		return MID_CERR_SIGNATURE;
	return 0;
}

/* ---- bundle ------------------------------------------------------------- */

size_t mid_bundle_size(size_t nkeys, size_t nrevoked, size_t nremoved)
{
	return MID_BUNDLE_HEADER_SIZE + nkeys * MID_BUNDLE_KEY_SIZE + (nrevoked + nremoved) * MID_ID_SIZE +
	       MID_BUNDLE_TRAILER_SIZE;
}

static int cf_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MID_ID_SIZE);
}

size_t mid_ids_sort_unique(uint8_t *ids, size_t n)
{
	size_t w = 0;
	if (!ids || n == 0)
		return 0;
	qsort(ids, n, MID_ID_SIZE, cf_id_cmp);
	for (size_t i = 0; i < n; i++) {
		if (w > 0 && memcmp(ids + (w - 1) * MID_ID_SIZE, ids + i * MID_ID_SIZE, MID_ID_SIZE) == 0)
			continue;
		if (w != i)
			memmove(ids + w * MID_ID_SIZE, ids + i * MID_ID_SIZE, MID_ID_SIZE);
		w++;
	}
	return w;
}

static int cf_key_status_ok(uint8_t s)
{
	return s >= MID_WKEY_CURRENT && s <= MID_WKEY_REVOKED;
}

int mid_bundle_sign(const mid_bundle_t *b, const uint8_t signer_sk[MID_SK_SIZE], uint8_t *out,
		    size_t cap, size_t *outlen)
{
	size_t need, off;
	uint8_t *p = out;
	if (!b || !signer_sk || !out || !outlen)
		return MID_CERR_INVAL;
	if (b->version != MID_BUNDLE_VERSION)
		return MID_CERR_VERSION;
	if (b->nkeys > MID_BUNDLE_MAX_KEYS || b->nrevoked > MID_BUNDLE_MAX_REVOKED ||
	    b->nremoved > MID_BUNDLE_MAX_REVOKED)
		return MID_CERR_OVERSIZE;
	if ((b->nrevoked && !b->revoked) || (b->nremoved && !b->removed))
		return MID_CERR_INVAL;
	if (b->output_format.kind != 0 && !mid_wformat_valid(b->output_format))
		return MID_CERR_INVAL;
	if (b->bundle_version == 0 || (b->base_version != 0 && b->base_version >= b->bundle_version))
		return MID_CERR_INVAL;
	if (b->base_version == 0 && b->nremoved != 0)
		return MID_CERR_INVAL;
	if (!cf_ids_ascending(b->revoked, b->nrevoked) || !cf_ids_ascending(b->removed, b->nremoved))
		return MID_CERR_ORDER;
	for (size_t i = 0; i < b->nkeys; i++)
		if (!cf_key_status_ok(b->keys[i].status))
			return MID_CERR_INVAL;
	need = mid_bundle_size(b->nkeys, b->nrevoked, b->nremoved);
	if (cap < need)
		return MID_CERR_NOSPACE;
	memcpy(p, CF_MAGIC_BUNDLE, 4);
	p[4] = b->version;
	p[5] = b->output_format.kind;
	p[6] = b->output_format.kind ? b->output_format.bits : 0;
	p[7] = 0;
	memcpy(p + 8, b->site_id, MID_ID_SIZE);
	cf_put64(p + 24, (uint64_t)b->generated_at);
	cf_put64(p + 32, b->bundle_version);
	cf_put64(p + 40, b->base_version);
	cf_put16(p + 48, b->nkeys);
	cf_put32(p + 50, b->nrevoked);
	cf_put32(p + 54, b->nremoved);
	off = MID_BUNDLE_HEADER_SIZE;
	for (size_t i = 0; i < b->nkeys; i++, off += MID_BUNDLE_KEY_SIZE) {
		const mid_bundle_key_t *k = &b->keys[i];
		mid_key_id(k->pk, p + off); /* the id is always derived, never trusted */
		memcpy(p + off + 8, k->pk, MID_PK_SIZE);
		cf_put64(p + off + 40, (uint64_t)k->not_before);
		cf_put64(p + off + 48, (uint64_t)k->not_after);
		p[off + 56] = k->status;
	}
	if (b->nrevoked)
		memcpy(p + off, b->revoked, (size_t)b->nrevoked * MID_ID_SIZE);
	off += (size_t)b->nrevoked * MID_ID_SIZE;
	if (b->nremoved)
		memcpy(p + off, b->removed, (size_t)b->nremoved * MID_ID_SIZE);
	off += (size_t)b->nremoved * MID_ID_SIZE;
	mid_key_id(signer_sk + 32, p + off);
	off += MID_KEY_ID_SIZE;
	if (crypto_sign_detached(p + off, NULL, p, off, signer_sk) != 0)
		return MID_CERR_CRYPTO;
	*outlen = off + MID_SIG_SIZE;
	return 0;
}

int mid_bundle_decode(const uint8_t *buf, size_t len, mid_bundle_t *out)
{
	mid_bundle_t b;
	size_t need, off;
	int rc;
	if (!out)
		return MID_CERR_INVAL;
	if ((rc = cf_prefix(buf, len, CF_MAGIC_BUNDLE, MID_BUNDLE_VERSION)) != 0)
		return rc;
	if (len > MID_BUNDLE_MAX_SIZE)
		return MID_CERR_OVERSIZE;
	if (len < MID_BUNDLE_HEADER_SIZE)
		return MID_CERR_TRUNCATED;
	memset(&b, 0, sizeof b);
	b.version = buf[4];
	b.output_format.kind = buf[5];
	b.output_format.bits = buf[6];
	if (buf[7] != 0)
		return MID_CERR_MALFORMED;
	if (b.output_format.kind == 0 ? b.output_format.bits != 0 : !mid_wformat_valid(b.output_format))
		return MID_CERR_MALFORMED;
	memcpy(b.site_id, buf + 8, MID_ID_SIZE);
	b.generated_at = (int64_t)cf_get64(buf + 24);
	b.bundle_version = cf_get64(buf + 32);
	b.base_version = cf_get64(buf + 40);
	b.nkeys = cf_get16(buf + 48);
	b.nrevoked = cf_get32(buf + 50);
	b.nremoved = cf_get32(buf + 54);
	if (b.nkeys > MID_BUNDLE_MAX_KEYS || b.nrevoked > MID_BUNDLE_MAX_REVOKED ||
	    b.nremoved > MID_BUNDLE_MAX_REVOKED)
		return MID_CERR_OVERSIZE;
	if (b.bundle_version == 0 || (b.base_version != 0 && b.base_version >= b.bundle_version) ||
	    (b.base_version == 0 && b.nremoved != 0))
		return MID_CERR_MALFORMED;
	need = mid_bundle_size(b.nkeys, b.nrevoked, b.nremoved);
	if (len < need)
		return MID_CERR_TRUNCATED;
	if (len > need)
		return MID_CERR_TRAILING;
	off = MID_BUNDLE_HEADER_SIZE;
	for (size_t i = 0; i < b.nkeys; i++, off += MID_BUNDLE_KEY_SIZE) {
		mid_bundle_key_t *k = &b.keys[i];
		uint8_t kid[MID_KEY_ID_SIZE];
		memcpy(k->key_id, buf + off, MID_KEY_ID_SIZE);
		memcpy(k->pk, buf + off + 8, MID_PK_SIZE);
		k->not_before = (int64_t)cf_get64(buf + off + 40);
		k->not_after = (int64_t)cf_get64(buf + off + 48);
		k->status = buf[off + 56];
		mid_key_id(k->pk, kid);
		if (!cf_key_status_ok(k->status) || memcmp(kid, k->key_id, MID_KEY_ID_SIZE) != 0)
			return MID_CERR_MALFORMED;
	}
	b.revoked = buf + off;
	off += (size_t)b.nrevoked * MID_ID_SIZE;
	b.removed = buf + off;
	off += (size_t)b.nremoved * MID_ID_SIZE;
	if (!cf_ids_ascending(b.revoked, b.nrevoked) || !cf_ids_ascending(b.removed, b.nremoved))
		return MID_CERR_ORDER;
	memcpy(b.signer_key_id, buf + off, MID_KEY_ID_SIZE);
	off += MID_KEY_ID_SIZE;
	b.signed_len = off;
	b.signature = buf + off;
	*out = b;
	return 0;
}

int mid_bundle_verify(const mid_bundle_t *b, const uint8_t *buf, const uint8_t pk[MID_PK_SIZE])
{
	if (!b || !buf || !pk || !b->signature)
		return MID_CERR_INVAL;
	if (crypto_sign_verify_detached(b->signature, buf, b->signed_len, pk) != 0)
		return MID_CERR_SIGNATURE;
	return 0;
}

/* ---- challenge and presentation ---------------------------------------- */

static int cf_nonce_len_ok(unsigned n)
{
	return n == MID_NONCE_MIN || n == MID_NONCE_MAX;
}

int mid_challenge_encode(const mid_challenge_t *c, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t need;
	if (!c || !out || !outlen || !cf_nonce_len_ok(c->nonce_len))
		return MID_CERR_INVAL;
	need = 32 + (size_t)c->nonce_len;
	if (cap < need)
		return MID_CERR_NOSPACE;
	memcpy(out, CF_MAGIC_CHAL, 4);
	out[4] = MID_CHALLENGE_VERSION;
	out[5] = c->nonce_len;
	out[6] = out[7] = 0;
	memcpy(out + 8, c->reader_id, MID_ID_SIZE);
	cf_put64(out + 24, (uint64_t)c->timestamp);
	memcpy(out + 32, c->nonce, c->nonce_len);
	*outlen = need;
	return 0;
}

int mid_challenge_decode(const uint8_t *buf, size_t len, mid_challenge_t *out)
{
	mid_challenge_t c;
	int rc;
	if (!out)
		return MID_CERR_INVAL;
	if ((rc = cf_prefix(buf, len, CF_MAGIC_CHAL, MID_CHALLENGE_VERSION)) != 0)
		return rc;
	if (len > MID_CHALLENGE_MAX_SIZE)
		return MID_CERR_OVERSIZE;
	if (len < 32)
		return MID_CERR_TRUNCATED;
	if (!cf_nonce_len_ok(buf[5]) || buf[6] != 0 || buf[7] != 0)
		return MID_CERR_MALFORMED;
	if (len < 32 + (size_t)buf[5])
		return MID_CERR_TRUNCATED;
	if (len > 32 + (size_t)buf[5])
		return MID_CERR_TRAILING;
	memset(&c, 0, sizeof c);
	c.nonce_len = buf[5];
	memcpy(c.reader_id, buf + 8, MID_ID_SIZE);
	c.timestamp = (int64_t)cf_get64(buf + 24);
	memcpy(c.nonce, buf + 32, c.nonce_len);
	*out = c;
	return 0;
}

int mid_presentation_message(const mid_challenge_t *c, const uint8_t *cred, size_t cred_len,
			     uint8_t *out, size_t cap, size_t *outlen)
{
	const size_t ctxlen = sizeof MID_PRESENTATION_CONTEXT - 1;
	size_t need, off = 0;
	if (!c || !cred || !out || !outlen || !cf_nonce_len_ok(c->nonce_len))
		return MID_CERR_INVAL;
	need = ctxlen + MID_ID_SIZE + c->nonce_len + 8 + MID_HASH_SIZE;
	if (cap < need)
		return MID_CERR_NOSPACE;
	memcpy(out, MID_PRESENTATION_CONTEXT, ctxlen);
	off += ctxlen;
	memcpy(out + off, c->reader_id, MID_ID_SIZE);
	off += MID_ID_SIZE;
	memcpy(out + off, c->nonce, c->nonce_len);
	off += c->nonce_len;
	cf_put64(out + off, (uint64_t)c->timestamp);
	off += 8;
	crypto_generichash(out + off, MID_HASH_SIZE, cred, cred_len, NULL, 0);
	off += MID_HASH_SIZE;
	*outlen = off;
	return 0;
}

int mid_presentation_sign(const mid_challenge_t *c, const uint8_t *cred, size_t cred_len,
			  const uint8_t device_sk[MID_SK_SIZE], uint8_t *out, size_t cap,
			  size_t *outlen)
{
	uint8_t msg[128];
	size_t msglen, need, off;
	int rc;
	if (!c || !cred || !device_sk || !out || !outlen || !cf_nonce_len_ok(c->nonce_len))
		return MID_CERR_INVAL;
	if (cred_len > UINT16_MAX)
		return MID_CERR_OVERSIZE;
	need = 32 + (size_t)c->nonce_len + cred_len + MID_SIG_SIZE;
	if (cap < need)
		return MID_CERR_NOSPACE;
	if ((rc = mid_presentation_message(c, cred, cred_len, msg, sizeof msg, &msglen)) != 0)
		return rc;
	memcpy(out, CF_MAGIC_PRES, 4);
	out[4] = MID_PRESENTATION_VERSION;
	out[5] = c->nonce_len;
	cf_put16(out + 6, (uint16_t)cred_len);
	memcpy(out + 8, c->reader_id, MID_ID_SIZE);
	cf_put64(out + 24, (uint64_t)c->timestamp);
	memcpy(out + 32, c->nonce, c->nonce_len);
	off = 32 + (size_t)c->nonce_len;
	memmove(out + off, cred, cred_len);
	off += cred_len;
	if (crypto_sign_detached(out + off, NULL, msg, msglen, device_sk) != 0)
		return MID_CERR_CRYPTO;
	*outlen = off + MID_SIG_SIZE;
	return 0;
}

int mid_presentation_decode(const uint8_t *buf, size_t len, mid_presentation_t *out)
{
	mid_presentation_t pr;
	size_t nlen, clen, need;
	int rc;
	if (!out)
		return MID_CERR_INVAL;
	if ((rc = cf_prefix(buf, len, CF_MAGIC_PRES, MID_PRESENTATION_VERSION)) != 0)
		return rc;
	if (len > MID_PRESENTATION_MAX_SIZE)
		return MID_CERR_OVERSIZE;
	if (len < 32)
		return MID_CERR_TRUNCATED;
	nlen = buf[5];
	clen = cf_get16(buf + 6);
	if (!cf_nonce_len_ok((unsigned)nlen))
		return MID_CERR_MALFORMED;
	if (clen > MID_CREDENTIAL_SIZE)
		return MID_CERR_OVERSIZE;
	if (clen < MID_CREDENTIAL_SIZE)
		return MID_CERR_MALFORMED;
	need = 32 + nlen + clen + MID_SIG_SIZE;
	if (len < need)
		return MID_CERR_TRUNCATED;
	if (len > need)
		return MID_CERR_TRAILING;
	memset(&pr, 0, sizeof pr);
	pr.challenge.nonce_len = (uint8_t)nlen;
	memcpy(pr.challenge.reader_id, buf + 8, MID_ID_SIZE);
	pr.challenge.timestamp = (int64_t)cf_get64(buf + 24);
	memcpy(pr.challenge.nonce, buf + 32, nlen);
	pr.credential = buf + 32 + nlen;
	pr.credential_len = clen;
	memcpy(pr.device_sig, buf + 32 + nlen + clen, MID_SIG_SIZE);
	*out = pr;
	return 0;
}

/* ---- base64url ---------------------------------------------------------- */

size_t mid_b64url_len(size_t n)
{
	return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int mid_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (!out || (!in && n))
		return MID_CERR_INVAL;
	if (cap < mid_b64url_len(n))
		return MID_CERR_NOSPACE;
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

int mid_b64url_decode(const char *in, uint8_t *out, size_t cap, size_t *outlen)
{
	const char *end = NULL;
	size_t n = 0, inlen, sig = 0;
	if (!in || !out || !outlen)
		return MID_CERR_INVAL;
	inlen = strlen(in);
	for (size_t i = 0; i < inlen; i++)
		if (in[i] != ' ' && in[i] != '\t' && in[i] != '\r' && in[i] != '\n')
			sig++;
	if (sig % 4 == 1)
		return MID_CERR_BASE64;
	if (sig * 3 / 4 > cap)
		return MID_CERR_OVERSIZE;
	if (sodium_base642bin(out, cap, in, inlen, " \t\r\n", &n, &end,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != in + inlen)
		return MID_CERR_BASE64;
	*outlen = n;
	return 0;
}
