/* gateway/db.h -- the narrow database driver interface under the store.
 *
 * The store (gateway/store*.c) is written only against this table of
 * functions and portable SQL: `?` placeholders, INTEGER/TEXT/BLOB columns,
 * INSERT ... ON CONFLICT ... DO UPDATE, INSERT ... RETURNING (off the hot
 * paths), and one SQLite clause: INSERT OR FAIL on the bulk import's
 * multi-row inserts (spares SQLite a statement journal; a PostgreSQL
 * driver drops "OR FAIL", its statements being atomic). A driver maps
 * what its engine needs (PostgreSQL: `?` -> `$n`, BLOB -> BYTEA, INTEGER ->
 * BIGINT); see docs/store.md.
 *
 * Errors are values: functions return MID_OK or a negative MID_E* code and
 * fill `err` (may be NULL). Constraint violations are MID_ECONFLICT; a busy
 * or locked database is MID_EIO with retryable = 1; a corrupt file or one
 * that is not a database is MID_EIO with retryable = 0.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "mobileid/connector.h"

typedef struct mid_db mid_db_t;           /* one connection */
typedef struct mid_db_stmt mid_db_stmt_t; /* one prepared statement */

enum mid_db_step { MID_DB_DONE = 0, MID_DB_ROW = 1 };

enum mid_db_open_flags {
	MID_DB_CREATE = 1u << 0,   /* create the database if absent */
	MID_DB_READONLY = 1u << 1,
};

typedef struct mid_db_driver {
	const char *name; /* "sqlite" */

	/* Open a connection to `target` (a file path for SQLite, a conninfo
	 * string for PostgreSQL) and apply the session settings the store
	 * relies on. *out: a new connection the caller closes. */
	int (*open)(const char *target, unsigned flags, int busy_timeout_ms,
	            mid_db_t **out, mid_error_t *err);
	/* Close (NULL allowed); finalizes nothing: finalize statements first. */
	void (*close)(mid_db_t *db);
	/* Run one or more statements without parameters or results. */
	int (*exec)(mid_db_t *db, const char *sql, mid_error_t *err);
	/* Prepare one statement with `?` placeholders. *out is owned by the
	 * caller (mid_db_driver.finalize). */
	int (*prepare)(mid_db_t *db, const char *sql, mid_db_stmt_t **out,
	               mid_error_t *err);
	/* Bind parameter idx (1-based). Text and blob values are borrowed: they
	 * must stay valid until the statement is reset or finalized (the store
	 * binds, steps and resets within one function). bind_text/bind_blob
	 * with NULL bind SQL NULL. */
	int (*bind_text)(mid_db_stmt_t *s, int idx, const char *v, mid_error_t *err);
	int (*bind_int64)(mid_db_stmt_t *s, int idx, int64_t v, mid_error_t *err);
	int (*bind_blob)(mid_db_stmt_t *s, int idx, const void *p, size_t n,
	                 mid_error_t *err);
	int (*bind_null)(mid_db_stmt_t *s, int idx, mid_error_t *err);
	/* Advance: MID_DB_ROW, MID_DB_DONE or a negative code. */
	int (*step)(mid_db_stmt_t *s, mid_error_t *err);
	/* Column access (0-based) on the current row. Pointers stay valid
	 * until the next step, reset or finalize. column_text never returns
	 * NULL ("" for SQL NULL); column_blob sets *n (0 for NULL). */
	int (*column_is_null)(mid_db_stmt_t *s, int col);
	const char *(*column_text)(mid_db_stmt_t *s, int col);
	int64_t (*column_int64)(mid_db_stmt_t *s, int col);
	const void *(*column_blob)(mid_db_stmt_t *s, int col, size_t *n);
	/* Make the statement ready to run again and clear its bindings. */
	void (*reset)(mid_db_stmt_t *s);
	void (*finalize)(mid_db_stmt_t *s); /* NULL allowed */
	/* Transactions. begin takes the write lock at once (SQLite: BEGIN
	 * IMMEDIATE) so that two writers never deadlock on an upgrade. */
	int (*begin)(mid_db_t *db, mid_error_t *err);
	int (*commit)(mid_db_t *db, mid_error_t *err);
	int (*rollback)(mid_db_t *db, mid_error_t *err);
	/* Rows changed by the last completed INSERT/UPDATE/DELETE on db. */
	int64_t (*changes)(mid_db_t *db);
	/* The integer id of the row the last INSERT on db created (SQLite:
	 * last_insert_rowid; PostgreSQL: lastval()). The store uses it instead
	 * of INSERT ... RETURNING on hot paths: SQLite materializes RETURNING
	 * rows in a temporary b-tree, which cost a quarter of a bulk import. */
	int64_t (*last_insert_id)(mid_db_t *db);
	/* A counter that changes when another connection commits (SQLite:
	 * PRAGMA data_version); NULL when the engine has none. */
	int (*data_version)(mid_db_t *db, int64_t *version, mid_error_t *err);
	/* The engine's text for the last error on db (static or owned by db). */
	const char *(*last_error)(mid_db_t *db);
} mid_db_driver_t;

/* The SQLite driver (gateway/db_sqlite.c). */
extern const mid_db_driver_t mid_db_sqlite;
