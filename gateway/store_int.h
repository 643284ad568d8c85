/* gateway/store_int.h -- internals shared by the store's source files.
 * Not for callers outside the store: use gateway/store.h.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gateway/db.h"
#include "gateway/store.h"

typedef struct mid_migration {
	int version;
	const char *name;
	const char *sql;   /* portable SQL, several statements */
	/* Run after sql in the same transaction (NULL: none): data changes
	 * SQL cannot express, e.g. hashes computed in C. */
	int (*fixup)(mid_store_t *st, mid_error_t *err);
} mid_migration_t;

extern const mid_migration_t mid_migrations[];
extern const size_t mid_nmigrations;

/* Statement ids: one per SQL text in gateway/store_sql.h. */
enum mid_sq {
#define SQ(id, sql) MID_SQ_##id,
#include "gateway/store_sql.h"
#undef SQ
	MID_SQ_COUNT
};
extern const char *const mid_store_sql[MID_SQ_COUNT];

struct mid_store {
	const mid_db_driver_t *drv;
	mid_db_t *db;
	char *path;
	int depth;       /* transaction nesting */
	int version;     /* schema version */
	int64_t (*now)(void *ctx);
	void *now_ctx;
	unsigned nonce_uses; /* prune expired nonces now and then */
	mid_db_stmt_t *cache[MID_SQ_COUNT];
};

/* Get the cached statement `which` (prepared on first use) with its
 * parameters bound from fmt: t text (NULL -> NULL), e text (NULL or "" ->
 * NULL), i int64_t, b (const void *, size_t) blob, h hash pointer
 * (MID_HASH_LEN bytes, NULL -> NULL), n NULL. The caller steps it and ends
 * with mid_store_qend (or mid_store_qdone, which steps once and resets). */
int mid_store_q(mid_store_t *st, int which, mid_db_stmt_t **out, mid_error_t *err,
                const char *fmt, ...);
void mid_store_qend(mid_store_t *st, mid_db_stmt_t *s);
/* The cached statement `which` (prepared on first use), nothing bound: for
 * hot paths that bind with the driver directly. End as with mid_store_q. */
int mid_store_stmt(mid_store_t *st, int which, mid_db_stmt_t **out, mid_error_t *err);
int mid_store_qdone(mid_store_t *st, mid_db_stmt_t *s, int64_t *changes,
                    mid_error_t *err);
/* Column helpers: copy text into a fixed array (truncating), duplicate
 * text (NULL for SQL NULL), copy a blob of exactly dstsz bytes (returns 1,
 * else zeros and 0), duplicate a blob. */
void mid_store_coltext(mid_store_t *st, mid_db_stmt_t *s, int col, char *dst,
                       size_t dstsz);
int mid_store_coldup(mid_store_t *st, mid_db_stmt_t *s, int col, char **dst,
                     mid_error_t *err);
int mid_store_colblob(mid_store_t *st, mid_db_stmt_t *s, int col, void *dst,
                      size_t dstsz);
int mid_store_colblobdup(mid_store_t *st, mid_db_stmt_t *s, int col,
                         unsigned char **dst, size_t *len, mid_error_t *err);
/* MID_EINVAL naming `field` when v (may be NULL) does not fit `size`. */
int mid_store_chklen(const char *field, const char *v, size_t size, mid_error_t *err);
/* Make room for element n in *arr (capacity *cap, new slots zeroed). */
int mid_store_grow(void **arr, size_t *cap, size_t n, size_t elsz, mid_error_t *err);
/* Commit (rc == MID_OK) or roll back one level; returns the final code. */
int mid_store_tx_end(mid_store_t *st, int rc, mid_error_t *err);
/* Enum <-> name tables (values start at 1). */
const char *mid_store_name_of(const char *const *names, size_t n, int v);
int mid_store_parse_name(const char *const *names, size_t n, const char *s);

#define Q mid_store_q
#define COLI(s, c) (st->drv->column_int64((s), (c)))
#define COLT(s, c, dst) mid_store_coltext(st, (s), (c), (dst), sizeof(dst))
#define ROW(s, rc) (((rc) = st->drv->step((s), err)) == MID_DB_ROW)

/* MID_ENOTFOUND naming what was not found. */
static inline int notfound(mid_error_t *err, const char *what, const char *id)
{
	return mid_error_set(err, MID_ENOTFOUND, 0, "%s %s not found", what, id ? id : "");
}

/* Finish a single-row write: MID_ENOTFOUND when nothing changed. */
static inline int write1(mid_store_t *st, mid_db_stmt_t *s, const char *what, const char *id,
                         mid_error_t *err)
{
	int64_t n = 0;
	int rc = mid_store_qdone(st, s, &n, err);
	if (rc == MID_OK && n == 0)
		rc = notfound(err, what, id);
	return rc;
}
