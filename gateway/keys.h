/* gateway/keys.h -- the site's access keys: Ed25519 issuer keys (current,
 * next, retired), reader tokens and admin API bearer tokens.
 *
 * Issuer keys: `mobileidctl init` creates a current key and a next key that
 * is published in reader bundles ahead of use; a rotation makes next the
 * current key, the current key retired (still published for verification
 * until the last credential it signed expires) and creates a new next key.
 * Secret keys are stored sealed by gateway/secrets.h under the master key;
 * a loaded signing key lives in sodium_malloc'd memory and is wiped when
 * freed. Key id = hex of the first 8 bytes of BLAKE2b-256(public key), the
 * same id reader/credfmt.h puts into credentials and bundles.
 *
 * Tokens (reader and admin) are printed once to the administrator and
 * stored only as a hash (mid_secrets token hashing).
 *
 * Conventions: functions return MID_OK or a negative MID_E* code and fill
 * `err` (may be NULL); every change is one store transaction with an audit
 * entry (actor = in->actor). Library code never prints.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gateway/instance.h"

#define MID_KEY_ID_HEX_LEN 17      /* 16 hex digits + NUL */
#define MID_TOKEN_TEXT_LEN 64      /* a printed token with its NUL */

/* ---- issuer keys --------------------------------------------------------- */

/* Create the initial issuer keys of a new instance: a current key and a
 * next key. Needs in->store and in->secrets. MID_ECONFLICT when the store
 * already has issuer keys. Bumps the bundle version. */
int mid_keys_create_initial(mid_instance_t *in, mid_error_t *err);

/* Rotate: next -> current, current -> retired (published until the last
 * credential it signed expires), a new next key. The new current key id is
 * written to new_current (may be NULL). Bumps the bundle version. */
int mid_keys_rotate(mid_instance_t *in, char new_current[MID_KEY_ID_HEX_LEN],
                    mid_error_t *err);

/* A loaded signing key. `secret` is the 64-byte libsodium Ed25519 secret
 * key in sodium_malloc'd, read-only memory. */
typedef struct mid_signing_key {
	char key_id[MID_KEY_ID_HEX_LEN];
	unsigned char public_key[32];
	unsigned char *secret;
} mid_signing_key_t;

/* Load and unseal the current issuer key. *out is new; the caller frees it
 * with mid_signing_key_free (which wipes the secret). MID_ENOTFOUND when
 * the instance has no current key. */
int mid_keys_load_current(mid_instance_t *in, mid_signing_key_t **out,
                          mid_error_t *err);
/* Wipe and free a loaded key (NULL allowed). */
void mid_signing_key_free(mid_signing_key_t *k);

/* The key id (hex) of an Ed25519 public key. */
void mid_key_id_hex(const unsigned char pk[32], char out[MID_KEY_ID_HEX_LEN]);

/* One published key as readers see it. Times in ms since the epoch. */
typedef struct mid_published_key {
	char key_id[MID_KEY_ID_HEX_LEN];
	unsigned char public_key[32];
	int state;              /* enum mid_key_state (store.h) */
	int64_t not_before;     /* the key's creation */
	int64_t not_after;      /* 0: open; retired keys: last credential expiry */
	int64_t created;
	int published;          /* 1 when reader bundles carry it now */
} mid_published_key_t;

/* Every key (newest first) with its publication window; a retired key
 * whose not_after has passed has published = 0 and is left out of
 * bundles. *out is a new array (free()). */
int mid_keys_list(mid_instance_t *in, mid_published_key_t **out, size_t *n,
                  mid_error_t *err);

/* ---- reader tokens -------------------------------------------------------- */

/* Add a reader named `name` with a new token. The token text is written to
 * token_out (show it once; only its hash is stored); r_out (may be NULL)
 * gets the stored record. */
int mid_readers_add(mid_instance_t *in, const char *name,
                    char token_out[MID_TOKEN_TEXT_LEN], mid_reader_t *r_out,
                    mid_error_t *err);
/* Replace reader `id`'s token with a new one written to token_out. */
int mid_readers_new_token(mid_instance_t *in, const char *id,
                          char token_out[MID_TOKEN_TEXT_LEN], mid_error_t *err);
/* Find the reader holding `token` (hash lookup, constant-time compare).
 * MID_EAUTH when no reader has it. */
int mid_readers_auth(mid_instance_t *in, const char *token, mid_reader_t *out,
                     mid_error_t *err);

/* ---- admin API tokens ------------------------------------------------------ */

/* Add an admin bearer token named `name` (MID_ECONFLICT if the name is
 * taken); the token text goes to token_out, only its hash is stored. */
int mid_tokens_add(mid_instance_t *in, const char *name,
                   char token_out[MID_TOKEN_TEXT_LEN], mid_error_t *err);
/* Remove the token named `name` (MID_ENOTFOUND if absent). */
int mid_tokens_remove(mid_instance_t *in, const char *name, mid_error_t *err);
/* Check a bearer token: MID_OK and out (may be NULL) filled, or MID_EAUTH. */
int mid_tokens_auth(mid_instance_t *in, const char *token, mid_admin_token_t *out,
                    mid_error_t *err);
