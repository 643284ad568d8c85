/* gateway/secrets.h -- the master key and the encrypted secret store.
 *
 * The master key is a file of 32 random bytes, mode 0600, created once by
 * `mobileidctl init`. Secrets (connector passwords, API tokens) and issuer
 * secret keys are sealed with crypto_secretbox (XSalsa20-Poly1305, random
 * nonce) under it. A sealed value also binds its context (the secret's name,
 * or "issuer-key:<key id>"), so a ciphertext copied to another name does not
 * open. Decrypted values live in sodium_malloc'd (guarded, mlock'd) memory
 * that is wiped when freed. Errors are values; nothing here prints.
 */
#pragma once
#include <stddef.h>
#include "mobileid/connector.h"
#include "gateway/store.h"

#define MID_MASTER_KEY_LEN 32
#define MID_TOKEN_HASH_LEN MID_HASH_LEN

typedef struct mid_secrets mid_secrets_t;

/* Create a new master key file at `path`: 32 random bytes, created with
 * O_CREAT|O_EXCL and mode 0600, fsync'd. MID_ECONFLICT if it exists. */
int mid_master_key_create(const char *path, mid_error_t *err);

/* Load the master key from `key_path` and bind it to `st` (borrowed; it must
 * outlive the handle). Refuses a key file readable or writable by group or
 * others (the message names the file and `chmod 600`) and a file that is not
 * exactly 32 bytes. The first open records a key check value in the store's
 * meta table; later opens with another key fail with MID_EAUTH naming the
 * file. *out: new handle, free with mid_secrets_close. */
int mid_secrets_open(const char *key_path, mid_store_t *st, mid_secrets_t **out,
                     mid_error_t *err);
/* Wipe the key and free the handle (NULL allowed). */
void mid_secrets_close(mid_secrets_t *s);

/* Store (insert or replace) the secret `name` with `len` bytes of value. */
int mid_secret_set(mid_secrets_t *s, const char *name, const void *value, size_t len,
                   mid_error_t *err);
/* Decrypt the secret `name`. *value: a NUL-terminated copy in sodium_malloc'd
 * memory of *len bytes (plus the NUL) that the caller releases with
 * mid_secret_free. MID_ENOTFOUND when absent, MID_EAUTH when it does not
 * decrypt (another master key, or tampered). */
int mid_secret_get(mid_secrets_t *s, const char *name, char **value, size_t *len,
                   mid_error_t *err);
/* Wipe and free a value from mid_secret_get / mid_secrets_unseal (NULL ok). */
void mid_secret_free(void *value, size_t len);
/* The names of all secrets, sorted; free with mid_strv_free. */
int mid_secret_list(mid_secrets_t *s, char ***names, size_t *n, mid_error_t *err);
/* MID_ENOTFOUND when absent. */
int mid_secret_remove(mid_secrets_t *s, const char *name, mid_error_t *err);

/* Seal `len` bytes under the master key, bound to `context`. *out: new
 * malloc'd buffer nonce || ciphertext of *out_len bytes (free()). */
int mid_secrets_seal(mid_secrets_t *s, const char *context, const void *pt, size_t len,
                     unsigned char **out, size_t *out_len, mid_error_t *err);
/* Open a sealed buffer. *pt: sodium_malloc'd (free with mid_secret_free),
 * NUL-terminated, *pt_len bytes. MID_EAUTH when it does not open. */
int mid_secrets_unseal(mid_secrets_t *s, const char *context, const unsigned char *in,
                       size_t in_len, unsigned char **pt, size_t *pt_len,
                       mid_error_t *err);

/* Issuer keys: seal an Ed25519 secret key (crypto_sign_SECRETKEYBYTES) for
 * the issuer_keys table, bound to the key id; and open it again into
 * sodium_malloc'd memory of crypto_sign_SECRETKEYBYTES (mid_secret_free). */
int mid_issuer_sk_seal(mid_secrets_t *s, const char *key_id, const unsigned char *sk,
                       unsigned char **out, size_t *out_len, mid_error_t *err);
int mid_issuer_sk_unseal(mid_secrets_t *s, const char *key_id, const unsigned char *in,
                         size_t in_len, unsigned char **sk, mid_error_t *err);

/* Tokens (admin, reader, invitation codes): a new random token of 32 bytes
 * as base64url without padding (43 characters) prefixed with `prefix` (may
 * be NULL, e.g. "mid_"), written to out (outsz >= strlen(prefix) + 44).
 * Returns MID_OK or MID_EINVAL when out is too small. */
int mid_token_new(const char *prefix, char *out, size_t outsz);
/* BLAKE2b-256 of the token text, for storing and lookups. */
void mid_token_hash(const char *token, unsigned char out[MID_TOKEN_HASH_LEN]);
/* 1 when the n bytes at a and b are equal, compared in constant time. */
int mid_ct_equal(const void *a, const void *b, size_t n);
