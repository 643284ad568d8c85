/* gateway/keys.c -- issuer keys (create, rotate, load), reader tokens and
 * admin API tokens. See keys.h. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <jansson.h>

#include "gateway/keys.h"
#include "gateway/issuer.h"
#include "gateway/secrets.h"

/* ---- small helpers --------------------------------------------------------- */

static int ky_need(mid_instance_t *in, int secrets, mid_error_t *err)
{
	if (!in || !in->store)
		return mid_error_set(err, MID_EINVAL, 0, "the store is not open");
	if (secrets && !in->secrets)
		return mid_error_set(err, MID_EINVAL, 0, "the secret store is not open "
		                     "(the master key is needed for issuer keys)");
	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium failed to initialise");
	return MID_OK;
}

void mid_key_id_hex(const unsigned char pk[32], char out[MID_KEY_ID_HEX_LEN])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
	sodium_bin2hex(out, MID_KEY_ID_HEX_LEN, h, 8);
}

static void ky_meta_name(char *buf, size_t n, const char *kid, const char *what)
{
	snprintf(buf, n, "issuer_key.%s.%s", kid, what);
}

/* Read an int64 meta value; *v = dflt when unset. */
static int ky_meta_i64(mid_store_t *st, const char *key, int64_t dflt, int64_t *v,
                       mid_error_t *err)
{
	char *s = NULL;
	int rc = mid_store_meta_get(st, key, &s, err);
	if (rc == MID_ENOTFOUND) {
		*v = dflt;
		if (err)
			memset(err, 0, sizeof *err);
		return MID_OK;
	}
	if (rc != MID_OK)
		return rc;
	*v = strtoll(s, NULL, 10);
	free(s);
	return MID_OK;
}

static int ky_meta_set_i64(mid_store_t *st, const char *key, int64_t v, mid_error_t *err)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	return mid_store_meta_set(st, key, buf, err);
}

/* Make a new key pair in state `state`, seal and store it. */
static int ky_new(mid_instance_t *in, int state, char kid[MID_KEY_ID_HEX_LEN], mid_error_t *err)
{
	mid_issuer_key_t k;
	unsigned char *sk = NULL;
	int rc;

	memset(&k, 0, sizeof k);
	if (!(sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory for a secret key");
	crypto_sign_keypair(k.public_key, sk);
	mid_key_id_hex(k.public_key, kid);
	snprintf(k.key_id, sizeof k.key_id, "%s", kid);
	if ((rc = mid_issuer_sk_seal(in->secrets, kid, sk, &k.secret_enc, &k.secret_enc_len,
	                             err)) != MID_OK)
		goto out;
	k.state = state;
	if ((rc = mid_store_issuer_key_add(in->store, &k, err)) != MID_OK)
		goto out;
	rc = mid_instance_audit(in, "issuer_key.create", kid,
	                        json_pack("{s:s}", "state", mid_key_state_name(state)), err);
out:
	sodium_free(sk);
	mid_issuer_key_clear(&k);
	return rc;
}

/* ---- issuer keys ----------------------------------------------------------- */

int mid_keys_create_initial(mid_instance_t *in, mid_error_t *err)
{
	mid_issuer_key_t *list = NULL;
	size_t n = 0;
	char kid[MID_KEY_ID_HEX_LEN];
	int rc;

	if ((rc = ky_need(in, 1, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_issuer_key_list(in->store, &list, &n, err)) != MID_OK)
		goto fail;
	mid_issuer_key_list_free(list, n);
	if (n > 0) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "the instance already has issuer keys");
		goto fail;
	}
	if ((rc = ky_new(in, MID_KEY_CURRENT, kid, err)) != MID_OK ||
	    (rc = ky_new(in, MID_KEY_NEXT, kid, err)) != MID_OK ||
	    (rc = mid_issuer_bundle_touch(in, NULL, NULL, 0, NULL, 0, err)) != MID_OK)
		goto fail;
	return mid_store_commit(in->store, err);
fail:
	mid_store_rollback(in->store, NULL);
	return rc;
}

/* The latest valid_until of the credentials signed by `kid` (0: one of them
 * has no end). */
static int ky_last_expiry(mid_instance_t *in, const char *kid, int64_t *last, mid_error_t *err)
{
	const int64_t page = 2000;
	int64_t off = 0, max = 1;
	int rc = MID_OK;

	for (;;) {
		mid_credential_t *c = NULL;
		size_t n = 0;
		if ((rc = mid_store_credential_list(in->store, NULL, off, page, &c, &n, err)) != MID_OK)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(c[i].issuer_key_id, kid) != 0)
				continue;
			if (c[i].valid_until == 0)
				max = 0;
			else if (max != 0 && c[i].valid_until > max)
				max = c[i].valid_until;
		}
		mid_credential_list_free(c, n);
		if ((int64_t)n < page)
			break;
		off += page;
	}
	*last = max;
	return MID_OK;
}

int mid_keys_rotate(mid_instance_t *in, char new_current[MID_KEY_ID_HEX_LEN], mid_error_t *err)
{
	mid_issuer_key_t cur, next;
	char kid[MID_KEY_ID_HEX_LEN], meta[128];
	int64_t last = 0, now;
	int rc;

	memset(&cur, 0, sizeof cur);
	memset(&next, 0, sizeof next);
	if ((rc = ky_need(in, 1, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	now = mid_store_now(in->store);
	rc = mid_store_issuer_key_get_state(in->store, MID_KEY_NEXT, &next, err);
	if (rc == MID_ENOTFOUND) {
		/* no key published ahead: make one now (it becomes current at once) */
		if ((rc = ky_new(in, MID_KEY_NEXT, kid, err)) != MID_OK ||
		    (rc = mid_store_issuer_key_get_state(in->store, MID_KEY_NEXT, &next, err)) != MID_OK)
			goto fail;
	} else if (rc != MID_OK) {
		goto fail;
	}
	rc = mid_store_issuer_key_get_state(in->store, MID_KEY_CURRENT, &cur, err);
	if (rc == MID_OK) {
		if ((rc = ky_last_expiry(in, cur.key_id, &last, err)) != MID_OK)
			goto fail;
		/* a key that signed nothing is published for one more day at most */
		if (last == 1)
			last = now + 86400000LL;
		ky_meta_name(meta, sizeof meta, cur.key_id, "not_after");
		if ((rc = ky_meta_set_i64(in->store, meta, last, err)) != MID_OK)
			goto fail;
		ky_meta_name(meta, sizeof meta, cur.key_id, "retired");
		if ((rc = ky_meta_set_i64(in->store, meta, now, err)) != MID_OK ||
		    (rc = mid_store_issuer_key_set_state(in->store, cur.key_id, MID_KEY_RETIRED,
		                                         err)) != MID_OK)
			goto fail;
	} else if (rc != MID_ENOTFOUND) {
		goto fail;
	}
	if ((rc = mid_store_issuer_key_set_state(in->store, next.key_id, MID_KEY_CURRENT,
	                                         err)) != MID_OK ||
	    (rc = ky_new(in, MID_KEY_NEXT, kid, err)) != MID_OK)
		goto fail;
	if ((rc = mid_instance_audit(in, "issuer_key.rotate", next.key_id,
	                             json_pack("{s:s,s:s,s:s}", "current", next.key_id,
	                                       "retired", cur.key_id, "next", kid), err)) != MID_OK ||
	    (rc = mid_issuer_bundle_touch(in, NULL, NULL, 0, NULL, 0, err)) != MID_OK)
		goto fail;
	if ((rc = mid_store_commit(in->store, err)) != MID_OK)
		goto out;
	if (new_current)
		snprintf(new_current, MID_KEY_ID_HEX_LEN, "%.16s", next.key_id);
	goto out;
fail:
	mid_store_rollback(in->store, NULL);
out:
	mid_issuer_key_clear(&cur);
	mid_issuer_key_clear(&next);
	return rc;
}

int mid_keys_load_current(mid_instance_t *in, mid_signing_key_t **out, mid_error_t *err)
{
	mid_issuer_key_t k;
	mid_signing_key_t *sk = NULL;
	unsigned char *secret = NULL;
	int rc;

	*out = NULL;
	memset(&k, 0, sizeof k);
	if ((rc = ky_need(in, 1, err)) != MID_OK)
		return rc;
	rc = mid_store_issuer_key_get_state(in->store, MID_KEY_CURRENT, &k, err);
	if (rc == MID_ENOTFOUND) {
		rc = mid_error_set(err, MID_ENOTFOUND, 0, "the instance has no current issuer key "
		                   "(was it created with `mobileidctl init`?)");
		goto out;
	}
	if (rc != MID_OK)
		goto out;
	if ((rc = mid_issuer_sk_unseal(in->secrets, k.key_id, k.secret_enc, k.secret_enc_len,
	                               &secret, err)) != MID_OK)
		goto out;
	/* the public half of the secret key must be the stored public key */
	if (sodium_memcmp(secret + 32, k.public_key, 32) != 0) {
		rc = mid_error_set(err, MID_EAUTH, 0, "issuer key %s: secret and public key differ",
		                   k.key_id);
		goto out;
	}
	if (!(sk = calloc(1, sizeof *sk)) ||
	    !(sk->secret = sodium_malloc(crypto_sign_SECRETKEYBYTES))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	memcpy(sk->secret, secret, crypto_sign_SECRETKEYBYTES);
	sodium_mprotect_readonly(sk->secret);
	memcpy(sk->public_key, k.public_key, 32);
	snprintf(sk->key_id, sizeof sk->key_id, "%.16s", k.key_id);
	*out = sk;
	sk = NULL;
	rc = MID_OK;
out:
	if (secret)
		mid_secret_free(secret, crypto_sign_SECRETKEYBYTES);
	mid_signing_key_free(sk);
	mid_issuer_key_clear(&k);
	return rc;
}

void mid_signing_key_free(mid_signing_key_t *k)
{
	if (!k)
		return;
	sodium_free(k->secret); /* wipes; NULL allowed */
	sodium_memzero(k, sizeof *k);
	free(k);
}

int mid_keys_list(mid_instance_t *in, mid_published_key_t **out, size_t *n, mid_error_t *err)
{
	mid_issuer_key_t *list = NULL;
	mid_published_key_t *res = NULL;
	size_t cnt = 0;
	char meta[128];
	int64_t now;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_issuer_key_list(in->store, &list, &cnt, err)) != MID_OK)
		return rc;
	now = mid_store_now(in->store);
	if (cnt && !(res = calloc(cnt, sizeof *res))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		mid_published_key_t *p = &res[i];
		snprintf(p->key_id, sizeof p->key_id, "%.16s", list[i].key_id);
		memcpy(p->public_key, list[i].public_key, 32);
		p->state = list[i].state;
		p->created = list[i].created;
		p->not_before = list[i].created;
		p->not_after = 0;
		p->published = 1;
		if (p->state == MID_KEY_RETIRED) {
			ky_meta_name(meta, sizeof meta, p->key_id, "not_after");
			if ((rc = ky_meta_i64(in->store, meta, 0, &p->not_after, err)) != MID_OK)
				goto out;
			p->published = p->not_after == 0 || p->not_after > now;
		}
	}
	*out = res;
	*n = cnt;
	res = NULL;
	rc = MID_OK;
out:
	free(res);
	mid_issuer_key_list_free(list, cnt);
	return rc;
}

/* ---- reader tokens ------------------------------------------------------------ */

int mid_readers_add(mid_instance_t *in, const char *name, char token_out[MID_TOKEN_TEXT_LEN],
                    mid_reader_t *r_out, mid_error_t *err)
{
	mid_reader_t r;
	int rc;

	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	if (!name || !name[0] || strlen(name) >= sizeof r.name)
		return mid_error_set(err, MID_EINVAL, 0, "a reader name of 1 to %zu characters is needed",
		                     sizeof r.name - 1);
	memset(&r, 0, sizeof r);
	snprintf(r.name, sizeof r.name, "%s", name);
	if ((rc = mid_token_new("midr_", token_out, MID_TOKEN_TEXT_LEN)) != MID_OK)
		return mid_error_set(err, rc, 0, "cannot make a token");
	mid_token_hash(token_out, r.token_hash);
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		goto wipe;
	if ((rc = mid_store_reader_add(in->store, &r, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "reader.add", r.id, json_pack("{s:s}", "name", r.name),
	                             err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		goto wipe;
	}
	if ((rc = mid_store_commit(in->store, err)) != MID_OK)
		goto wipe;
	if (r_out)
		*r_out = r;
	return MID_OK;
wipe:
	sodium_memzero(token_out, MID_TOKEN_TEXT_LEN);
	return rc;
}

int mid_readers_new_token(mid_instance_t *in, const char *id, char token_out[MID_TOKEN_TEXT_LEN],
                          mid_error_t *err)
{
	unsigned char h[MID_HASH_LEN];
	int rc;

	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	if ((rc = mid_token_new("midr_", token_out, MID_TOKEN_TEXT_LEN)) != MID_OK)
		return mid_error_set(err, rc, 0, "cannot make a token");
	mid_token_hash(token_out, h);
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		goto wipe;
	if ((rc = mid_store_reader_set_token(in->store, id, h, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "reader.token", id, NULL, err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		goto wipe;
	}
	if ((rc = mid_store_commit(in->store, err)) != MID_OK)
		goto wipe;
	return MID_OK;
wipe:
	sodium_memzero(token_out, MID_TOKEN_TEXT_LEN);
	return rc;
}

int mid_readers_auth(mid_instance_t *in, const char *token, mid_reader_t *out, mid_error_t *err)
{
	unsigned char h[MID_HASH_LEN];
	mid_reader_t r;
	int rc;

	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	if (!token || !token[0])
		return mid_error_set(err, MID_EAUTH, 0, "no reader token");
	mid_token_hash(token, h);
	rc = mid_store_reader_find_token(in->store, h, &r, err);
	if (rc == MID_ENOTFOUND || (rc == MID_OK && !mid_ct_equal(r.token_hash, h, sizeof h)))
		return mid_error_set(err, MID_EAUTH, 0, "unknown reader token");
	if (rc != MID_OK)
		return rc;
	if (out)
		*out = r;
	return MID_OK;
}

/* ---- admin tokens ---------------------------------------------------------------- */

int mid_tokens_add(mid_instance_t *in, const char *name, char token_out[MID_TOKEN_TEXT_LEN],
                   mid_error_t *err)
{
	mid_admin_token_t t;
	int rc;

	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	memset(&t, 0, sizeof t);
	if (!name || !name[0] || strlen(name) >= sizeof t.name)
		return mid_error_set(err, MID_EINVAL, 0, "a token name of 1 to %zu characters is needed",
		                     sizeof t.name - 1);
	snprintf(t.name, sizeof t.name, "%s", name);
	if ((rc = mid_token_new("mida_", token_out, MID_TOKEN_TEXT_LEN)) != MID_OK)
		return mid_error_set(err, rc, 0, "cannot make a token");
	mid_token_hash(token_out, t.hash);
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		goto wipe;
	if ((rc = mid_store_token_add(in->store, &t, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "token.add", t.name, NULL, err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		if (rc == MID_ECONFLICT)
			mid_error_set(err, rc, 0, "a token named \"%s\" exists already", name);
		goto wipe;
	}
	if ((rc = mid_store_commit(in->store, err)) != MID_OK)
		goto wipe;
	return MID_OK;
wipe:
	sodium_memzero(token_out, MID_TOKEN_TEXT_LEN);
	return rc;
}

int mid_tokens_remove(mid_instance_t *in, const char *name, mid_error_t *err)
{
	int rc;

	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_token_remove(in->store, name, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "token.remove", name, NULL, err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no token named \"%s\"", name);
		return rc;
	}
	return mid_store_commit(in->store, err);
}

int mid_tokens_auth(mid_instance_t *in, const char *token, mid_admin_token_t *out,
                    mid_error_t *err)
{
	unsigned char h[MID_HASH_LEN];
	mid_admin_token_t t;
	int rc;

	if ((rc = ky_need(in, 0, err)) != MID_OK)
		return rc;
	if (!token || !token[0])
		return mid_error_set(err, MID_EAUTH, 0, "no bearer token");
	mid_token_hash(token, h);
	rc = mid_store_token_find(in->store, h, &t, err);
	if (rc == MID_ENOTFOUND || (rc == MID_OK && !mid_ct_equal(t.hash, h, sizeof h)))
		return mid_error_set(err, MID_EAUTH, 0, "unknown bearer token");
	if (rc != MID_OK)
		return rc;
	if (out)
		*out = t;
	return MID_OK;
}
