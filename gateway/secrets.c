/* gateway/secrets.c -- master key file, sealed secrets, tokens
 * (see gateway/secrets.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "gateway/secrets.h"

#define KCV_META "master_key_check"

struct mid_secrets {
	mid_store_t *st;
	unsigned char *key; /* sodium_malloc'd, read-only when not in use */
	char *path;
};

int mid_master_key_create(const char *path, mid_error_t *err)
{
	unsigned char key[MID_MASTER_KEY_LEN];
	ssize_t w;
	int fd, rc = MID_OK;

	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium cannot start");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return mid_error_set(err, MID_ECONFLICT, 0,
			                     "%s: a master key already exists; refusing to "
			                     "overwrite it", path);
		return mid_error_set(err, MID_EIO, 0, "%s: cannot create the master key: %s",
		                     path, strerror(errno));
	}
	/* The umask cannot widen 0600, but make the mode exact anyway. */
	if (fchmod(fd, 0600) != 0) {
		rc = mid_error_set(err, MID_EIO, 0, "%s: chmod: %s", path, strerror(errno));
		goto out;
	}
	randombytes_buf(key, sizeof key);
	w = write(fd, key, sizeof key);
	if (w != (ssize_t)sizeof key || fsync(fd) != 0) {
		rc = mid_error_set(err, MID_EIO, 0, "%s: cannot write the master key: %s", path,
		                   w < 0 ? strerror(errno) : "short write");
		goto out;
	}
out:
	sodium_memzero(key, sizeof key);
	if (close(fd) != 0 && rc == MID_OK)
		rc = mid_error_set(err, MID_EIO, 0, "%s: %s", path, strerror(errno));
	if (rc != MID_OK)
		unlink(path);
	return rc;
}

/* Key check value: BLAKE2b keyed by the master key over a fixed label. */
static void kcv_hex(const unsigned char *key, char hex[2 * 16 + 1])
{
	unsigned char h[16];
	static const char label[] = "mobileid-gateway master key check v1";
	crypto_generichash(h, sizeof h, (const unsigned char *)label, sizeof label - 1, key,
	                   MID_MASTER_KEY_LEN);
	sodium_bin2hex(hex, 2 * 16 + 1, h, sizeof h);
}

static int check_kcv(mid_secrets_t *s, mid_error_t *err)
{
	char want[33], *have = NULL;
	mid_error_t e;
	int rc;

	kcv_hex(s->key, want);
	rc = mid_store_meta_get(s->st, KCV_META, &have, &e);
	if (rc == MID_ENOTFOUND)
		return mid_store_meta_set(s->st, KCV_META, want, err);
	if (rc != MID_OK) {
		if (err)
			*err = e;
		return rc;
	}
	rc = strlen(have) == 32 && sodium_memcmp(have, want, 32) == 0 ? MID_OK : MID_EAUTH;
	free(have);
	if (rc != MID_OK)
		return mid_error_set(err, MID_EAUTH, 0,
		                     "%s: this master key is not the one the store's secrets were "
		                     "sealed with; use the original key file (restore it from "
		                     "backup)", s->path);
	return MID_OK;
}

int mid_secrets_open(const char *key_path, mid_store_t *st, mid_secrets_t **out,
                     mid_error_t *err)
{
	mid_secrets_t *s = NULL;
	struct stat sb;
	ssize_t r;
	int fd = -1, rc;
	unsigned char extra;

	*out = NULL;
	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium cannot start");
	fd = open(key_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return mid_error_set(err, MID_ENOTFOUND, 0,
			                     "%s: no master key; create one with 'mobileidctl init' "
			                     "or restore it from backup", key_path);
		return mid_error_set(err, MID_EIO, 0, "%s: cannot read the master key: %s",
		                     key_path, strerror(errno));
	}
	if (fstat(fd, &sb) != 0) {
		rc = mid_error_set(err, MID_EIO, 0, "%s: %s", key_path, strerror(errno));
		goto error;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = mid_error_set(err, MID_EINVAL, 0, "%s: the master key is not a regular file",
		                   key_path);
		goto error;
	}
	if (sb.st_mode & 077) {
		rc = mid_error_set(err, MID_EAUTH, 0,
		                   "%s: the master key is accessible by group or others (mode "
		                   "%04o); run 'chmod 600 %s'", key_path,
		                   (unsigned)(sb.st_mode & 07777), key_path);
		goto error;
	}
	if (!(s = calloc(1, sizeof *s)) || !(s->path = strdup(key_path)) ||
	    !(s->key = sodium_malloc(MID_MASTER_KEY_LEN))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto error;
	}
	r = read(fd, s->key, MID_MASTER_KEY_LEN);
	if (r != MID_MASTER_KEY_LEN || read(fd, &extra, 1) != 0) {
		rc = mid_error_set(err, MID_EINVAL, 0,
		                   "%s: a master key is exactly %d bytes; this file is %lld bytes "
		                   "(restore the key file from backup)", key_path,
		                   MID_MASTER_KEY_LEN, (long long)sb.st_size);
		goto error;
	}
	close(fd);
	fd = -1;
	s->st = st;
	if ((rc = check_kcv(s, err)) != MID_OK)
		goto error;
	sodium_mprotect_readonly(s->key);
	*out = s;
	return MID_OK;
error:
	if (fd >= 0)
		close(fd);
	mid_secrets_close(s);
	return rc;
}

void mid_secrets_close(mid_secrets_t *s)
{
	if (!s)
		return;
	if (s->key)
		sodium_free(s->key); /* wipes */
	free(s->path);
	free(s);
}

void mid_secret_free(void *value, size_t len)
{
	(void)len;
	if (value)
		sodium_free(value); /* fills the region with zeros before unmapping */
}

/* Plaintext layout: context '\0' value. */
static int seal_raw(mid_secrets_t *s, const char *context, const void *pt, size_t len,
                    unsigned char *nonce, unsigned char **ct, size_t *ct_len,
                    mid_error_t *err)
{
	size_t cl = strlen(context) + 1, ml = cl + len;
	unsigned char *m = NULL;

	*ct = NULL;
	if (!(m = sodium_malloc(ml ? ml : 1)) ||
	    !(*ct = malloc(ml + crypto_secretbox_MACBYTES))) {
		if (m)
			sodium_free(m);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	memcpy(m, context, cl);
	if (len)
		memcpy(m + cl, pt, len);
	randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(*ct, m, ml, nonce, s->key);
	*ct_len = ml + crypto_secretbox_MACBYTES;
	sodium_free(m);
	return MID_OK;
}

static int open_raw(mid_secrets_t *s, const char *context, const unsigned char *nonce,
                    const unsigned char *ct, size_t ct_len, unsigned char **pt,
                    size_t *pt_len, mid_error_t *err)
{
	size_t cl = strlen(context) + 1, ml;
	unsigned char *m = NULL, *v = NULL;
	int rc;

	*pt = NULL;
	*pt_len = 0;
	if (ct_len < crypto_secretbox_MACBYTES + cl)
		return mid_error_set(err, MID_EAUTH, 0, "%s: the sealed value is truncated",
		                     context);
	ml = ct_len - crypto_secretbox_MACBYTES;
	if (!(m = sodium_malloc(ml)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if (crypto_secretbox_open_easy(m, ct, ct_len, nonce, s->key) != 0 ||
	    memcmp(m, context, cl) != 0) {
		rc = mid_error_set(err, MID_EAUTH, 0,
		                   "%s: cannot be decrypted with the master key %s (another key, "
		                   "or the value was altered)", context, s->path);
		goto out;
	}
	if (!(v = sodium_malloc(ml - cl + 1))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	memcpy(v, m + cl, ml - cl);
	v[ml - cl] = '\0';
	*pt = v;
	*pt_len = ml - cl;
	rc = MID_OK;
out:
	sodium_free(m);
	return rc;
}

static int name_ok(const char *name, mid_error_t *err)
{
	size_t i, n = name ? strlen(name) : 0;
	if (n == 0 || n > 128)
		return mid_error_set(err, MID_EINVAL, 0, "a secret name has 1 to 128 characters");
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '/'))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "secret name '%s': use letters, digits and _ - . / only",
			                     name);
	}
	return MID_OK;
}

int mid_secret_set(mid_secrets_t *s, const char *name, const void *value, size_t len,
                   mid_error_t *err)
{
	unsigned char nonce[crypto_secretbox_NONCEBYTES], *ct = NULL;
	size_t ct_len = 0;
	int rc;

	if ((rc = name_ok(name, err)) != MID_OK)
		return rc;
	if ((rc = seal_raw(s, name, value, len, nonce, &ct, &ct_len, err)) != MID_OK)
		return rc;
	rc = mid_store_secret_put(s->st, name, nonce, sizeof nonce, ct, ct_len, err);
	free(ct);
	return rc;
}

int mid_secret_get(mid_secrets_t *s, const char *name, char **value, size_t *len,
                   mid_error_t *err)
{
	unsigned char *nonce = NULL, *ct = NULL, *pt = NULL;
	size_t nl = 0, cl = 0, pl = 0;
	int rc;

	*value = NULL;
	*len = 0;
	if ((rc = mid_store_secret_get(s->st, name, &nonce, &nl, &ct, &cl, err)) != MID_OK)
		return rc;
	if (nl != crypto_secretbox_NONCEBYTES) {
		rc = mid_error_set(err, MID_EAUTH, 0, "secret %s: bad nonce in the store", name);
		goto out;
	}
	if ((rc = open_raw(s, name, nonce, ct, cl, &pt, &pl, err)) != MID_OK)
		goto out;
	*value = (char *)pt;
	*len = pl;
out:
	free(nonce);
	free(ct);
	return rc;
}

int mid_secret_list(mid_secrets_t *s, char ***names, size_t *n, mid_error_t *err)
{
	return mid_store_secret_names(s->st, names, n, err);
}

int mid_secret_remove(mid_secrets_t *s, const char *name, mid_error_t *err)
{
	return mid_store_secret_remove(s->st, name, err);
}

int mid_secrets_seal(mid_secrets_t *s, const char *context, const void *pt, size_t len,
                     unsigned char **out, size_t *out_len, mid_error_t *err)
{
	unsigned char nonce[crypto_secretbox_NONCEBYTES], *ct = NULL, *buf;
	size_t ct_len = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((rc = seal_raw(s, context, pt, len, nonce, &ct, &ct_len, err)) != MID_OK)
		return rc;
	if (!(buf = malloc(sizeof nonce + ct_len))) {
		free(ct);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	memcpy(buf, nonce, sizeof nonce);
	memcpy(buf + sizeof nonce, ct, ct_len);
	free(ct);
	*out = buf;
	*out_len = sizeof nonce + ct_len;
	return MID_OK;
}

int mid_secrets_unseal(mid_secrets_t *s, const char *context, const unsigned char *in,
                       size_t in_len, unsigned char **pt, size_t *pt_len, mid_error_t *err)
{
	*pt = NULL;
	*pt_len = 0;
	if (!in || in_len < crypto_secretbox_NONCEBYTES)
		return mid_error_set(err, MID_EAUTH, 0, "%s: the sealed value is truncated", context);
	return open_raw(s, context, in, in + crypto_secretbox_NONCEBYTES,
	                in_len - crypto_secretbox_NONCEBYTES, pt, pt_len, err);
}

static void sk_context(const char *key_id, char *buf, size_t n)
{
	snprintf(buf, n, "issuer-key:%s", key_id ? key_id : "");
}

int mid_issuer_sk_seal(mid_secrets_t *s, const char *key_id, const unsigned char *sk,
                       unsigned char **out, size_t *out_len, mid_error_t *err)
{
	char ctx[MID_NAME_LEN + 16];
	sk_context(key_id, ctx, sizeof ctx);
	return mid_secrets_seal(s, ctx, sk, crypto_sign_SECRETKEYBYTES, out, out_len, err);
}

int mid_issuer_sk_unseal(mid_secrets_t *s, const char *key_id, const unsigned char *in,
                         size_t in_len, unsigned char **sk, mid_error_t *err)
{
	char ctx[MID_NAME_LEN + 16];
	size_t n = 0;
	int rc;

	sk_context(key_id, ctx, sizeof ctx);
	*sk = NULL;
	if ((rc = mid_secrets_unseal(s, ctx, in, in_len, sk, &n, err)) != MID_OK)
		return rc;
	if (n != crypto_sign_SECRETKEYBYTES) {
		mid_secret_free(*sk, n);
		*sk = NULL;
		return mid_error_set(err, MID_EAUTH, 0, "issuer key %s: the sealed secret key has "
		                     "the wrong size", key_id);
	}
	return MID_OK;
}

int mid_token_new(const char *prefix, char *out, size_t outsz)
{
	unsigned char raw[32];
	size_t pl = prefix ? strlen(prefix) : 0;
	size_t need = sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);

	if (outsz < pl + need)
		return MID_EINVAL;
	if (sodium_init() < 0)
		return MID_EINTERNAL;
	randombytes_buf(raw, sizeof raw);
	memcpy(out, prefix ? prefix : "", pl);
	sodium_bin2base64(out + pl, outsz - pl, raw, sizeof raw,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	return MID_OK;
}

void mid_token_hash(const char *token, unsigned char out[MID_TOKEN_HASH_LEN])
{
	crypto_generichash(out, MID_TOKEN_HASH_LEN, (const unsigned char *)token,
	                   token ? strlen(token) : 0, NULL, 0);
}

int mid_ct_equal(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) == 0;
}
