/* gateway/store.h -- the gateway's persistent store: people, credentials,
 * devices, invitations, issuer keys, readers, admin tokens, known PACS
 * values, links, cursors, outbox, run reports, audit log, leases, secrets
 * (ciphertext only), replay nonces and meta values.
 *
 * The store is written against the narrow driver interface of gateway/db.h
 * (SQLite today, PostgreSQL later); callers never see SQL.
 *
 * Conventions (the same for every function below):
 * - Functions return MID_OK (0) or a negative MID_E* code and fill `err`
 *   (which may be NULL). MID_ENOTFOUND when a get/find finds nothing,
 *   MID_ECONFLICT when a unique value is already taken, MID_EINVAL for an
 *   argument that does not fit (e.g. a string longer than its field).
 *   A busy database gives MID_EIO with err->retryable = 1.
 * - Times are int64_t milliseconds since the Unix epoch; 0 means "unset"
 *   (no validity bound, never used, ...).
 * - Ids of people, credentials, devices, invitations and readers are UUID
 *   text (MID_ID_LEN bytes with the NUL). Passing an empty id to a create
 *   function lets the store generate one and write it back into the struct.
 * - Structs hold fixed-size char arrays (copied in, NUL-terminated) and, where
 *   a value has no natural bound, owned heap pointers. Free owned members
 *   with the struct's *_clear() function; free arrays returned by *_list()
 *   with the matching *_list_free(). Input structs are only read.
 * - Hashes (content hashes, code and token hashes) are MID_HASH_LEN bytes
 *   (BLAKE2b-256).
 * - Every write outside an explicit transaction is its own transaction.
 *   mid_store_begin/commit/rollback nest: the outermost pair is a real
 *   transaction, inner pairs are savepoints. A store handle is used by one
 *   thread at a time; open one handle per thread or process.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "mobileid/connector.h"
#include "gateway/types.h" /* enum mid_cred_type */

#define MID_ID_LEN 37          /* UUID text + NUL */
#define MID_HASH_LEN 32        /* BLAKE2b-256 */
#define MID_PUBKEY_LEN 32      /* Ed25519 public key */
#define MID_NAME_LEN 64        /* binding names, key ids, platforms, ... */
#define MID_STORE_SCHEMA_VERSION 4

typedef struct mid_store mid_store_t;

/* ---- open / close ------------------------------------------------------ */

enum mid_store_flags {
	MID_STORE_CREATE = 1u << 0,   /* create (mode 0600) and migrate if absent */
	MID_STORE_READONLY = 1u << 1, /* no writes, no migrations */
};

/* Open the store at `path` (SQLite file). Without MID_STORE_CREATE a missing
 * file is an error (MID_ENOTFOUND). Applies pending migrations (unless
 * READONLY; a READONLY open of an old schema is MID_ECONFLICT). A store newer
 * than this code, a corrupt or non-SQLite file give a one-line error naming
 * the file and the fix. On success *out is a new handle the caller closes
 * with mid_store_close. */
int mid_store_open(const char *path, unsigned flags, mid_store_t **out,
                   mid_error_t *err);
/* Close a handle (NULL allowed); rolls back an open transaction. */
void mid_store_close(mid_store_t *st);
/* The schema version of the open store (MID_STORE_SCHEMA_VERSION after open). */
int mid_store_schema_version(mid_store_t *st);
/* Replace the clock used for created/updated times and lease/outbox checks
 * that take no explicit `now`. NULL restores the system clock. Borrowed. */
void mid_store_set_clock(mid_store_t *st, int64_t (*now_ms)(void *ctx), void *ctx);
/* The store's idea of now (ms since the epoch). */
int64_t mid_store_now(mid_store_t *st);

/* ---- transactions ------------------------------------------------------ */

/* Begin a transaction (outermost: BEGIN IMMEDIATE, i.e. takes the write
 * lock now; inner: a savepoint). Every begin needs a commit or rollback. */
int mid_store_begin(mid_store_t *st, mid_error_t *err);
int mid_store_commit(mid_store_t *st, mid_error_t *err);
/* Roll back the innermost level; never fails in a way the caller can fix. */
int mid_store_rollback(mid_store_t *st, mid_error_t *err);
/* Nesting depth, 0 when no transaction is open. */
int mid_store_txn_depth(const mid_store_t *st);
/* A number that changes when another connection (process) commits a change
 * to the store; the handle's own commits leave it alone (SQLite: PRAGMA
 * data_version). Lets a long run know that nobody else wrote between its
 * transactions. MID_ENOTSUP when the backend cannot tell. */
int mid_store_data_version(mid_store_t *st, int64_t *version, mid_error_t *err);

/* ---- small helpers ----------------------------------------------------- */

/* Write a new random (v4) UUID into out. */
void mid_uuid_new(char out[MID_ID_LEN]);
/* Case-fold `in` for matching (trim surrounding spaces, ASCII lower case;
 * other UTF-8 bytes are kept). Writes at most outsz bytes including the
 * NUL; returns MID_EINVAL if it does not fit. */
int mid_fold(const char *in, char *out, size_t outsz);
/* The email match key: a non-negative 63-bit hash of a folded email (as
 * mid_fold gives it), 0 for "". Stored in people.email_key and indexed; a
 * stored value, so the function never changes. Equal keys are verified
 * against the folded text. */
int64_t mid_email_key(const char *fold);

/* ---- people ------------------------------------------------------------ */

enum mid_person_status { MID_PERSON_ACTIVE = 1, MID_PERSON_SUSPENDED = 2,
                         MID_PERSON_DELETED = 3 };
/* "active" / "suspended" / "deleted"; NULL for an unknown value. */
const char *mid_person_status_name(int status);
/* The enum value for a name, or -1. */
int mid_person_status_parse(const char *name);

typedef struct mid_person {
	char id[MID_ID_LEN];
	char employee_id[128];   /* "" when none */
	char given_name[128];
	char family_name[128];
	char email[256];         /* as given; the store keeps a folded copy */
	char mobile[64];
	int status;              /* enum mid_person_status */
	int64_t valid_from;      /* 0: no bound */
	int64_t valid_until;
	char *access_groups;     /* owned JSON array text, or NULL (= "[]") */
	char *attributes;        /* owned JSON object text, or NULL (= "{}") */
	int64_t created;         /* set by the store */
	int64_t updated;
} mid_person_t;

/* Free the owned members and zero the struct (NULL allowed). */
void mid_person_clear(mid_person_t *p);
/* Insert a person. An empty p->id gets a new UUID written back; created and
 * updated are written back. MID_ECONFLICT if the id exists. */
int mid_store_person_create(mid_store_t *st, mid_person_t *p, mid_error_t *err);
/* Replace every field of the person with id p->id (not created); updated is
 * written back. MID_ENOTFOUND if absent. */
int mid_store_person_update(mid_store_t *st, mid_person_t *p, mid_error_t *err);
/* Fill *out (caller clears it with mid_person_clear). */
int mid_store_person_get(mid_store_t *st, const char *id, mid_person_t *out,
                         mid_error_t *err);
/* Find by employee id / by folded email (pass the raw email: the store folds
 * it). With several matches (*n > 1) the caller has a dispute. Fills up to
 * `max` ids into ids[] (in no particular order) and sets *n to the total
 * number of matches. */
int mid_store_person_find_employee(mid_store_t *st, const char *employee_id,
                                   char (*ids)[MID_ID_LEN], size_t max, size_t *n,
                                   mid_error_t *err);
int mid_store_person_find_email(mid_store_t *st, const char *email,
                                char (*ids)[MID_ID_LEN], size_t max, size_t *n,
                                mid_error_t *err);
int mid_store_person_set_status(mid_store_t *st, const char *id, int status,
                                mid_error_t *err);
/* Remove the person row (explicit purge). Links and invitations go with it;
 * credentials stay (person set to NULL) for the revocation list. */
int mid_store_person_purge(mid_store_t *st, const char *id, mid_error_t *err);
/* List people ordered by family name, given name, id. status 0 = all.
 * *out is a new array of *n people (free with mid_person_list_free). */
int mid_store_person_list(mid_store_t *st, int status, int64_t offset,
                          int64_t limit, mid_person_t **out, size_t *n,
                          mid_error_t *err);
void mid_person_list_free(mid_person_t *list, size_t n);
/* Count people with `status` (0 = all). */
int mid_store_person_count(mid_store_t *st, int status, int64_t *count,
                           mid_error_t *err);

/* ---- credentials ------------------------------------------------------- */

enum mid_cred_status { MID_CRED_PENDING = 1, MID_CRED_ACTIVE = 2,
                       MID_CRED_SUSPENDED = 3, MID_CRED_REVOKED = 4,
                       MID_CRED_EXPIRED = 5 };
const char *mid_cred_type_name(int type);        /* "reusable", "single-issue" */
int mid_cred_type_parse(const char *name);       /* -1 if unknown */
const char *mid_cred_status_name(int status);    /* "pending", "active", ... */
int mid_cred_status_parse(const char *name);     /* -1 if unknown */

typedef struct mid_credential {
	char id[MID_ID_LEN];
	char person_id[MID_ID_LEN];   /* "" once the person was purged */
	char format[32];              /* "H10301", "H10302", "H10304", "C1000-35", "RAW-N" */
	int64_t facility_code;        /* 0 when the format has none */
	int64_t card_number;
	int type;                     /* enum mid_cred_type */
	int status;                   /* enum mid_cred_status */
	int64_t valid_from;
	int64_t valid_until;
	char device_id[MID_ID_LEN];   /* "" when not bound to a phone */
	char issuer_key_id[MID_NAME_LEN]; /* "" until signed */
	unsigned char *blob;          /* owned signed credential, or NULL */
	size_t blob_len;
	int64_t created;
	int64_t updated;
} mid_credential_t;

void mid_credential_clear(mid_credential_t *c);
/* Insert; empty c->id gets a UUID. MID_ECONFLICT when (format,
 * facility_code, card_number) is held by another credential or is a known
 * PACS value of any binding (the message says which). */
int mid_store_credential_create(mid_store_t *st, mid_credential_t *c,
                                mid_error_t *err);
/* Bulk variant of mid_store_credential_create for values the caller has
 * just taken from mid_store_value_free_list (or _next_free) inside the
 * same open transaction: no holder look-up and no savepoint, one INSERT
 * (empty c->id gets a UUID). The UNIQUE (format, facility_code,
 * card_number) constraint still refuses a duplicate credential value
 * (MID_ECONFLICT). MID_EINVAL outside a transaction; on any error the
 * caller rolls its transaction back. */
int mid_store_credential_insert_allocated(mid_store_t *st, mid_credential_t *c,
                                          mid_error_t *err);
/* Replace status, validity, device, issuer key id and blob of c->id. */
int mid_store_credential_update(mid_store_t *st, mid_credential_t *c,
                                mid_error_t *err);
int mid_store_credential_get(mid_store_t *st, const char *id,
                             mid_credential_t *out, mid_error_t *err);
int mid_store_credential_set_status(mid_store_t *st, const char *id, int status,
                                    mid_error_t *err);
/* Credentials of one person (person_id != NULL) or all (NULL), by created. */
int mid_store_credential_list(mid_store_t *st, const char *person_id,
                              int64_t offset, int64_t limit,
                              mid_credential_t **out, size_t *n, mid_error_t *err);
void mid_credential_list_free(mid_credential_t *list, size_t n);
/* Credentials bound to a device (for the phone fetch API). */
int mid_store_credential_list_device(mid_store_t *st, const char *device_id,
                                     mid_credential_t **out, size_t *n,
                                     mid_error_t *err);
/* Ids of revoked credentials whose valid_until is 0 or after `now` (the
 * reader revocation list); *ids is a new array (free with free()). */
int mid_store_credential_revoked_ids(mid_store_t *st, int64_t now,
                                     char (**ids)[MID_ID_LEN], size_t *n,
                                     mid_error_t *err);
/* *taken = 1 if a credential or a known PACS value holds the value. */
int mid_store_value_taken(mid_store_t *st, const char *format,
                          int64_t facility_code, int64_t card_number,
                          int *taken, mid_error_t *err);
/* The smallest free card number in [from, to] for (format, facility code),
 * free meaning neither a credential nor a known PACS value holds it.
 * MID_ELIMIT when the range is full. */
int mid_store_value_next_free(mid_store_t *st, const char *format,
                              int64_t facility_code, int64_t from, int64_t to,
                              int64_t *card_number, mid_error_t *err);
/* Up to `max` free card numbers in from..to, ascending, from one pass over
 * the used values (free as for mid_store_value_next_free): out[] gets *n of
 * them (*n < max when the range has fewer). MID_ELIMIT when none is free. */
int mid_store_value_free_list(mid_store_t *st, const char *format,
                              int64_t facility_code, int64_t from, int64_t to,
                              size_t max, int64_t *out, size_t *n, mid_error_t *err);

/* ---- known PACS values --------------------------------------------------- */

/* Record that `binding`'s PACS holds this value (idempotent). */
int mid_store_pacs_value_add(mid_store_t *st, const char *binding,
                             const char *format, int64_t facility_code,
                             int64_t card_number, mid_error_t *err);
int mid_store_pacs_value_remove(mid_store_t *st, const char *binding,
                                const char *format, int64_t facility_code,
                                int64_t card_number, mid_error_t *err);
/* Forget every value of a binding (before a full re-import). */
int mid_store_pacs_value_clear(mid_store_t *st, const char *binding,
                               mid_error_t *err);

/* ---- devices ------------------------------------------------------------ */

typedef struct mid_device {
	char id[MID_ID_LEN];
	unsigned char public_key[MID_PUBKEY_LEN];
	char platform[32];    /* "ios", "android", "sim" ... */
	int64_t enrolled;
	int64_t last_seen;
} mid_device_t;

/* Insert; empty d->id gets a UUID. MID_ECONFLICT if the key is known. */
int mid_store_device_create(mid_store_t *st, mid_device_t *d, mid_error_t *err);
int mid_store_device_get(mid_store_t *st, const char *id, mid_device_t *out,
                         mid_error_t *err);
int mid_store_device_find_key(mid_store_t *st,
                              const unsigned char key[MID_PUBKEY_LEN],
                              mid_device_t *out, mid_error_t *err);
int mid_store_device_touch(mid_store_t *st, const char *id, int64_t when,
                           mid_error_t *err);

/* ---- invitations --------------------------------------------------------- */

typedef struct mid_invitation {
	char id[MID_ID_LEN];
	char person_id[MID_ID_LEN];
	char credential_id[MID_ID_LEN];   /* "" when none yet */
	unsigned char code_hash[MID_HASH_LEN];
	int64_t expires;
	int64_t used;                     /* 0 until redeemed; -1 when invalidated */
	int attempts;
	char delivery[16];                /* "email" or "shown" */
	int64_t created;
} mid_invitation_t;

/* Insert; empty id gets a UUID. */
int mid_store_invitation_create(mid_store_t *st, mid_invitation_t *inv,
                                mid_error_t *err);
int mid_store_invitation_get(mid_store_t *st, const char *id,
                             mid_invitation_t *out, mid_error_t *err);
/* Find by code hash (the caller then compares in constant time). */
int mid_store_invitation_find_code(mid_store_t *st,
                                   const unsigned char hash[MID_HASH_LEN],
                                   mid_invitation_t *out, mid_error_t *err);
/* Redeem atomically: succeeds only if unused and expires > now.
 * MID_ECONFLICT if used/invalidated, MID_ELIMIT if expired. */
int mid_store_invitation_use(mid_store_t *st, const char *id, int64_t now,
                             mid_error_t *err);
/* Count a failed attempt; *attempts gets the new count. */
int mid_store_invitation_attempt(mid_store_t *st, const char *id, int *attempts,
                                 mid_error_t *err);
/* Invalidate every unused invitation of a person (resend). */
int mid_store_invitation_invalidate_person(mid_store_t *st, const char *person_id,
                                           mid_error_t *err);
int mid_store_invitation_list(mid_store_t *st, const char *person_id,
                              mid_invitation_t **out, size_t *n, mid_error_t *err);

/* ---- issuer keys --------------------------------------------------------- */

enum mid_key_state { MID_KEY_CURRENT = 1, MID_KEY_NEXT = 2, MID_KEY_RETIRED = 3 };
const char *mid_key_state_name(int state);
int mid_key_state_parse(const char *name);

typedef struct mid_issuer_key {
	char key_id[MID_NAME_LEN];
	unsigned char public_key[MID_PUBKEY_LEN];
	unsigned char *secret_enc;   /* owned: mid_secrets_seal output */
	size_t secret_enc_len;
	int state;                   /* enum mid_key_state */
	int64_t created;
} mid_issuer_key_t;

void mid_issuer_key_clear(mid_issuer_key_t *k);
int mid_store_issuer_key_add(mid_store_t *st, mid_issuer_key_t *k, mid_error_t *err);
int mid_store_issuer_key_get(mid_store_t *st, const char *key_id,
                             mid_issuer_key_t *out, mid_error_t *err);
/* The one key in state `state` (the newest when there are several). */
int mid_store_issuer_key_get_state(mid_store_t *st, int state,
                                   mid_issuer_key_t *out, mid_error_t *err);
int mid_store_issuer_key_set_state(mid_store_t *st, const char *key_id,
                                   int state, mid_error_t *err);
/* All keys, newest first (secret_enc filled too). */
int mid_store_issuer_key_list(mid_store_t *st, mid_issuer_key_t **out,
                              size_t *n, mid_error_t *err);
void mid_issuer_key_list_free(mid_issuer_key_t *list, size_t n);

/* ---- readers and admin tokens -------------------------------------------- */

typedef struct mid_reader {
	char id[MID_ID_LEN];
	char name[128];
	unsigned char token_hash[MID_HASH_LEN];
	int64_t created;
} mid_reader_t;

int mid_store_reader_add(mid_store_t *st, mid_reader_t *r, mid_error_t *err);
int mid_store_reader_get(mid_store_t *st, const char *id, mid_reader_t *out,
                         mid_error_t *err);
int mid_store_reader_find_token(mid_store_t *st,
                                const unsigned char hash[MID_HASH_LEN],
                                mid_reader_t *out, mid_error_t *err);
/* Replace the token hash (new token). */
int mid_store_reader_set_token(mid_store_t *st, const char *id,
                               const unsigned char hash[MID_HASH_LEN],
                               mid_error_t *err);
int mid_store_reader_remove(mid_store_t *st, const char *id, mid_error_t *err);
/* *out: new array (free with free()). */
int mid_store_reader_list(mid_store_t *st, mid_reader_t **out, size_t *n,
                          mid_error_t *err);

typedef struct mid_admin_token {
	unsigned char hash[MID_HASH_LEN];
	char name[128];
	int64_t created;
} mid_admin_token_t;

/* MID_ECONFLICT if the name exists. */
int mid_store_token_add(mid_store_t *st, mid_admin_token_t *t, mid_error_t *err);
int mid_store_token_find(mid_store_t *st, const unsigned char hash[MID_HASH_LEN],
                         mid_admin_token_t *out, mid_error_t *err);
int mid_store_token_remove(mid_store_t *st, const char *name, mid_error_t *err);
/* *out: new array (free with free()). */
int mid_store_token_list(mid_store_t *st, mid_admin_token_t **out, size_t *n,
                         mid_error_t *err);

/* ---- links (correlator) --------------------------------------------------- */

typedef struct mid_link {
	int64_t id;                       /* set by the store */
	char binding[MID_NAME_LEN];
	char external_id[256];
	char person_id[MID_ID_LEN];
	unsigned char recv_hash[MID_HASH_LEN]; /* content hash of the last record received */
	int has_recv;
	unsigned char sent_hash[MID_HASH_LEN]; /* ... and of the last one sent */
	int has_sent;
	/* hash of the whole request the outbox last pushed successfully (the
	 * mapped outbound fields and the connector settings, see outbox.c);
	 * sent_hash covers the inbound fields only */
	unsigned char push_hash[MID_HASH_LEN];
	int has_push;
	int64_t seen_run;                 /* run id that last saw it (mark and sweep) */
	char etag[128];
	int64_t updated;
} mid_link_t;

/* Fill *out for (binding, external_id); MID_ENOTFOUND if absent. */
int mid_store_link_get(mid_store_t *st, const char *binding,
                       const char *external_id, mid_link_t *out, mid_error_t *err);
/* The hot path: one indexed lookup. *found = 0 when there is no link;
 * else person_id (may be NULL) and recv_hash (may be NULL; zeros when the
 * link has none) are filled, and *link_id (may be NULL) is set. */
int mid_store_link_lookup(mid_store_t *st, const char *binding,
                          const char *external_id, int *found,
                          char person_id[MID_ID_LEN],
                          unsigned char recv_hash[MID_HASH_LEN],
                          int64_t *link_id, mid_error_t *err);
/* Insert or replace the link (binding, external_id); l->id and l->updated
 * are written back. The push hash is written as given (NULL when
 * !has_push), except that a received hash other than the sent hash clears
 * it (and l->has_push): the PACS then holds something other than what was
 * last pushed (a change made there), so the next push is not a repeat. */
int mid_store_link_upsert(mid_store_t *st, mid_link_t *l, mid_error_t *err);
/* Set seen_run = run for one link (unchanged record seen again). */
int mid_store_link_mark_seen(mid_store_t *st, const char *binding,
                             const char *external_id, int64_t run,
                             mid_error_t *err);
/* After a successful push: set the sent hash, the push hash (NULL: not
 * known) and the etag (NULL: keep it), in one UPDATE. */
int mid_store_link_set_sent(mid_store_t *st, const char *binding,
                            const char *external_id,
                            const unsigned char hash[MID_HASH_LEN],
                            const unsigned char *push /* MID_HASH_LEN or NULL */,
                            const char *etag, mid_error_t *err);
/* Set (hash) or clear (NULL) the push hash after a successful push. */
int mid_store_link_set_push(mid_store_t *st, const char *binding,
                            const char *external_id,
                            const unsigned char *hash /* MID_HASH_LEN or NULL */,
                            mid_error_t *err);
int mid_store_link_remove(mid_store_t *st, const char *binding,
                          const char *external_id, mid_error_t *err);
/* Links of a person (any binding; indexed; in no particular order). */
int mid_store_link_list_person(mid_store_t *st, const char *person_id,
                               mid_link_t **out, size_t *n, mid_error_t *err);
/* Count links of `binding` with seen_run < run (sweep candidates after a
 * completed full pull in run `run`), and the total number of its links. */
int mid_store_link_sweep_count(mid_store_t *st, const char *binding, int64_t run,
                               int64_t *candidates, int64_t *total,
                               mid_error_t *err);
/* Up to `limit` sweep candidates ordered by id, starting after id `after`
 * (0 first). *out: new array (free with free()). */
int mid_store_link_sweep_list(mid_store_t *st, const char *binding, int64_t run,
                              int64_t after, int64_t limit, mid_link_t **out,
                              size_t *n, mid_error_t *err);
/* Bulk streaming read of every link of a binding ordered by external_id:
 * calls fn for each (pointers valid during the call only); fn returns 0 to
 * go on or a negative code to stop (returned). */
typedef int (*mid_link_each_fn)(void *ctx, int64_t link_id, const char *external_id,
                                const char *person_id,
                                const unsigned char *recv_hash /* NULL if none */);
int mid_store_link_each(mid_store_t *st, const char *binding, mid_link_each_fn fn,
                        void *ctx, mid_error_t *err);
/* The number of links of a binding and the bytes of their external ids
 * (id_bytes may be NULL), read from the unique index alone: lets a caller
 * size its table exactly before mid_store_link_each. */
int mid_store_link_count(mid_store_t *st, const char *binding, int64_t *n,
                         int64_t *id_bytes, mid_error_t *err);

/* ---- bulk import --------------------------------------------------------- */

/* *empty = 1 when the store holds no people, no credentials and no PACS
 * card values: a sync run may then match within its own records only. */
int mid_store_people_empty(mid_store_t *st, int *empty, mid_error_t *err);
/* The first-import path of a sync: create person p (id filled when empty,
 * created/updated set), insert its link l (which must not exist: no upsert;
 * l->person_id is set to p->id, l->id and l->updated written back) and,
 * when card_format is not NULL, record the PACS value (card_format,
 * facility_code, card_number) for l->binding. Three prepared inserts, no
 * lookups; run it inside the caller's transaction. MID_ECONFLICT when the
 * person, the link or (never ignored here) nothing else is taken. */
int mid_store_import_person(mid_store_t *st, mid_person_t *p, mid_link_t *l,
                            const char *card_format, int64_t facility_code,
                            int64_t card_number, mid_error_t *err);
/* One row of mid_store_import_people: the arguments of
 * mid_store_import_person. */
typedef struct mid_import_row {
	mid_person_t *person;
	mid_link_t *link;
	const char *card_format;      /* NULL: no PACS value */
	int64_t facility_code, card_number;
} mid_import_row_t;
#define MID_IMPORT_CHUNK 32
/* mid_store_import_person for n rows at once, with the same checks and
 * write-backs except that link ids are not returned (l->id = 0): the people
 * of up to MID_IMPORT_CHUNK rows in multi-row INSERTs, then their links,
 * then their PACS values (SQLite opens each b-tree once per statement and
 * places each row from the page its cursor is on: about half the cost per
 * row of single-row inserts). Run it inside the caller's transaction; on
 * an error some rows may be written: roll back. */
int mid_store_import_people(mid_store_t *st, const mid_import_row_t *rows, size_t n,
                            mid_error_t *err);

/* ---- cursors ------------------------------------------------------------- */

/* *cursor: new string (free()), or NULL when the binding has none (MID_OK). */
int mid_store_cursor_get(mid_store_t *st, const char *binding, char **cursor,
                         mid_error_t *err);
/* Set (cursor != NULL) or forget (NULL) the binding's cursor. */
int mid_store_cursor_set(mid_store_t *st, const char *binding, const char *cursor,
                         mid_error_t *err);

/* ---- outbox -------------------------------------------------------------- */

enum mid_outbox_state { MID_OUTBOX_PENDING = 1, MID_OUTBOX_DEAD = 2,
                        MID_OUTBOX_DONE = 3 };
const char *mid_outbox_state_name(int state);
int mid_outbox_state_parse(const char *name);

typedef struct mid_outbox_entry {
	int64_t id;
	char binding[MID_NAME_LEN];
	char person_id[MID_ID_LEN];    /* "" when none */
	int op;                        /* enum mid_op (connector.h) */
	char *payload;                 /* owned JSON text, or NULL */
	int attempts;
	int64_t next_attempt_at;
	int state;                     /* enum mid_outbox_state */
	char last_error[512];
	int64_t created;
	int64_t updated;
} mid_outbox_entry_t;

void mid_outbox_entry_clear(mid_outbox_entry_t *e);
/* Queue a change (state pending, due now); *id (may be NULL) gets its id. */
int mid_store_outbox_enqueue(mid_store_t *st, const char *binding,
                             const char *person_id, int op, const char *payload,
                             int64_t *id, mid_error_t *err);
/* The oldest pending entry of `binding` due at `now`; MID_ENOTFOUND when
 * none. Caller clears *out. */
int mid_store_outbox_next_due(mid_store_t *st, const char *binding, int64_t now,
                              mid_outbox_entry_t *out, mid_error_t *err);
int mid_store_outbox_get(mid_store_t *st, int64_t id, mid_outbox_entry_t *out,
                         mid_error_t *err);
int mid_store_outbox_done(mid_store_t *st, int64_t id, mid_error_t *err);
/* attempts + 1, next_attempt_at = when, last_error = error. */
int mid_store_outbox_retry_later(mid_store_t *st, int64_t id, int64_t when,
                                 const char *error, mid_error_t *err);
/* attempts + 1, state dead, last_error = error. */
int mid_store_outbox_dead(mid_store_t *st, int64_t id, const char *error,
                          mid_error_t *err);
/* List by binding (NULL = all) and state (0 = all), oldest first. */
int mid_store_outbox_list(mid_store_t *st, const char *binding, int state,
                          int64_t offset, int64_t limit,
                          mid_outbox_entry_t **out, size_t *n, mid_error_t *err);
void mid_outbox_list_free(mid_outbox_entry_t *list, size_t n);
int mid_store_outbox_count(mid_store_t *st, const char *binding, int state,
                           int64_t *count, mid_error_t *err);
/* Make dead entries of `binding` (NULL = all; id > 0: only that one) pending
 * again, attempts 0, due now. *count (may be NULL) gets how many. */
int mid_store_outbox_replay(mid_store_t *st, const char *binding, int64_t id,
                            int64_t *count, mid_error_t *err);
/* Delete done entries updated before `before`. */
int mid_store_outbox_purge_done(mid_store_t *st, int64_t before, mid_error_t *err);

/* ---- run reports ---------------------------------------------------------- */

enum mid_run_status { MID_RUN_RUNNING = 1, MID_RUN_OK = 2, MID_RUN_FAILED = 3,
                      MID_RUN_STOPPED = 4 /* e.g. delete guard */ };
const char *mid_run_status_name(int status);
int mid_run_status_parse(const char *name);

typedef struct mid_run_counts {
	int64_t seen, created, updated, unchanged, suspended, pushed, failed,
	        disputed, rejected;
} mid_run_counts_t;

typedef struct mid_run {
	int64_t id;
	char binding[MID_NAME_LEN];
	int64_t started;
	int64_t finished;          /* 0 while running */
	int status;                /* enum mid_run_status */
	int dry_run;
	mid_run_counts_t counts;
	char message[512];
} mid_run_t;

/* Insert a running run; *id gets its id (ids grow). */
int mid_store_run_start(mid_store_t *st, const char *binding, int64_t started,
                        int dry_run, int64_t *id, mid_error_t *err);
/* Finish a run and keep only the newest `keep` runs of its binding
 * (keep <= 0: keep all). */
int mid_store_run_finish(mid_store_t *st, int64_t id, int64_t finished,
                         int status, const mid_run_counts_t *counts,
                         const char *message, int keep, mid_error_t *err);
int mid_store_run_get(mid_store_t *st, int64_t id, mid_run_t *out, mid_error_t *err);
/* Newest first; binding NULL = all. *out: new array (free with free()). */
int mid_store_run_list(mid_store_t *st, const char *binding, int64_t limit,
                       mid_run_t **out, size_t *n, mid_error_t *err);

/* ---- audit log ------------------------------------------------------------ */

typedef struct mid_audit {
	int64_t id;
	int64_t time;
	char actor[128];      /* "cli:root", "sync:binding", "api:token-name" */
	char action[64];      /* "person.create", "conflict", ... */
	char subject[256];    /* usually an id */
	char *detail;         /* owned JSON text, or NULL */
} mid_audit_t;

void mid_audit_clear(mid_audit_t *a);
/* Append; detail_json may be NULL. *id (may be NULL) gets the id. */
int mid_store_audit_append(mid_store_t *st, const char *actor, const char *action,
                           const char *subject, const char *detail_json,
                           int64_t *id, mid_error_t *err);
/* Newest first, ids < before (0 = from the newest), subject NULL = all. */
int mid_store_audit_list(mid_store_t *st, const char *subject, int64_t before,
                         int64_t limit, mid_audit_t **out, size_t *n,
                         mid_error_t *err);
void mid_audit_list_free(mid_audit_t *list, size_t n);

/* ---- leases ---------------------------------------------------------------- */

/* Take the lease `name` for `holder` until now + ttl_ms, atomically across
 * processes: *acquired = 1 when it was free, expired or already ours (then
 * renewed), 0 when someone else holds it (their holder string and expiry
 * are written to other_holder (may be NULL, 128 bytes) / *other_expires
 * (may be NULL)). */
int mid_store_lease_acquire(mid_store_t *st, const char *name, const char *holder,
                            int64_t ttl_ms, int *acquired, char *other_holder,
                            int64_t *other_expires, mid_error_t *err);
/* Extend a lease we hold; MID_ECONFLICT when it is no longer ours. */
int mid_store_lease_renew(mid_store_t *st, const char *name, const char *holder,
                          int64_t ttl_ms, mid_error_t *err);
/* Release a lease we hold (MID_OK also when not held). */
int mid_store_lease_release(mid_store_t *st, const char *name, const char *holder,
                            mid_error_t *err);

/* ---- secrets (ciphertext rows; see gateway/secrets.h) --------------------- */

int mid_store_secret_put(mid_store_t *st, const char *name,
                         const unsigned char *nonce, size_t nonce_len,
                         const unsigned char *ct, size_t ct_len, mid_error_t *err);
/* *nonce and *ct: new buffers (free()). */
int mid_store_secret_get(mid_store_t *st, const char *name,
                         unsigned char **nonce, size_t *nonce_len,
                         unsigned char **ct, size_t *ct_len, mid_error_t *err);
/* Names in order; *names: new array of new strings (mid_strv_free). */
int mid_store_secret_names(mid_store_t *st, char ***names, size_t *n,
                           mid_error_t *err);
/* MID_ENOTFOUND when absent. */
int mid_store_secret_remove(mid_store_t *st, const char *name, mid_error_t *err);
void mid_strv_free(char **v, size_t n);

/* ---- replay nonces --------------------------------------------------------- */

/* Record nonce `nonce` of `scope` (e.g. a device id) until `expires`.
 * *fresh = 0 when it was seen before (a replay). Expired nonces are pruned
 * now and then. */
int mid_store_nonce_use(mid_store_t *st, const char *scope, const char *nonce,
                        int64_t expires, int *fresh, mid_error_t *err);
int mid_store_nonce_prune(mid_store_t *st, int64_t now, mid_error_t *err);

/* ---- meta ------------------------------------------------------------------ */

/* *value: new string (free()); MID_ENOTFOUND when unset. */
int mid_store_meta_get(mid_store_t *st, const char *key, char **value,
                       mid_error_t *err);
int mid_store_meta_set(mid_store_t *st, const char *key, const char *value,
                       mid_error_t *err);
