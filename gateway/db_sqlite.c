/* gateway/db_sqlite.c -- the SQLite driver of gateway/db.h.
 *
 * Session settings: WAL journal, synchronous=NORMAL (safe in WAL: a crash
 * loses at most the last transactions, never consistency), foreign keys on,
 * a busy timeout. A new file is created with mode 0600 before SQLite opens
 * it; SQLite gives its -wal and -shm files the same mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "gateway/db.h"

struct mid_db {
	sqlite3 *h;
	char *path;
};

struct mid_db_stmt {
	sqlite3_stmt *h;
	mid_db_t *db;
};

/* Map an SQLite result code to an MID code and fill err. */
static int sq_fail(mid_db_t *db, int rc, mid_error_t *err, const char *what)
{
	const char *msg = db && db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc);
	const char *path = db && db->path ? db->path : "store";
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return mid_error_set(err, MID_EIO, 1, "%s: the store is busy (%s); try again",
		                     path, msg);
	case SQLITE_CONSTRAINT:
		return mid_error_set(err, MID_ECONFLICT, 0, "%s: %s", what, msg);
	case SQLITE_NOMEM:
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return mid_error_set(err, MID_EIO, 0,
		                     "%s: not a mobileid store or corrupt (%s); restore it "
		                     "from a backup or move it away and run 'mobileidctl init'",
		                     path, msg);
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
		return mid_error_set(err, MID_EIO, 0, "%s: %s (check the file's owner and mode)",
		                     path, msg);
	case SQLITE_FULL:
	case SQLITE_IOERR:
		return mid_error_set(err, MID_EIO, 1, "%s: %s", path, msg);
	default:
		return mid_error_set(err, MID_EINTERNAL, 0, "%s: %s: %s", path, what, msg);
	}
}

static void sq_close(mid_db_t *db)
{
	if (!db)
		return;
	if (db->h)
		sqlite3_close_v2(db->h);
	free(db->path);
	free(db);
}

static int sq_exec(mid_db_t *db, const char *sql, mid_error_t *err)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(db, rc, err, "exec");
	return MID_OK;
}

/* Create the file with mode 0600 if it does not exist yet. */
static int sq_create_file(const char *path, mid_error_t *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return MID_OK;
		return mid_error_set(err, MID_EIO, 0, "%s: cannot create the store: %s",
		                     path, strerror(errno));
	}
	close(fd);
	return MID_OK;
}

static pthread_once_t sq_once = PTHREAD_ONCE_INIT;

/* Process-wide and only possible before SQLite initializes: skip the
 * allocator's statistics (a mutex per malloc). Harmless if the program
 * already used SQLite (the call is then refused). */
static void sq_global_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_open(const char *target, unsigned flags, int busy_timeout_ms,
                   mid_db_t **out, mid_error_t *err)
{
	mid_db_t *db = NULL;
	int rc, oflags, ret;
	sqlite3_stmt *s = NULL;

	*out = NULL;
	pthread_once(&sq_once, sq_global_init);
	db = calloc(1, sizeof *db);
	if (!db || !(db->path = strdup(target))) {
		ret = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto error;
	}
	if ((flags & MID_DB_CREATE) && !(flags & MID_DB_READONLY)) {
		if ((ret = sq_create_file(target, err)) != MID_OK)
			goto error;
	}
	oflags = (flags & MID_DB_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
	oflags |= SQLITE_OPEN_NOMUTEX;
	rc = sqlite3_open_v2(target, &db->h, oflags, NULL);
	if (rc != SQLITE_OK) {
		ret = sq_fail(db, rc, err, "open");
		goto error;
	}
	sqlite3_extended_result_codes(db->h, 0);
	sqlite3_busy_timeout(db->h, busy_timeout_ms > 0 ? busy_timeout_ms : 5000);
	/* Reading the journal mode touches the header: a file that is not a
	 * database fails here with SQLITE_NOTADB. */
	if (!(flags & MID_DB_READONLY)) {
		/* 8 KiB pages for a new file (a no-op on an existing one): fewer
		 * WAL frames per bulk batch. */
		sqlite3_exec(db->h, "PRAGMA page_size=8192", NULL, NULL, NULL);
		rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &s, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW) {
				const char *m = (const char *)sqlite3_column_text(s, 0);
				if (!m || strcmp(m, "wal") != 0) {
					ret = mid_error_set(err, MID_EIO, 0,
					                    "%s: cannot switch the store to WAL mode (%s)",
					                    target, m ? m : "?");
					goto error;
				}
				rc = SQLITE_OK;
			}
		}
		if (rc != SQLITE_OK) {
			ret = sq_fail(db, rc, err, "journal_mode");
			goto error;
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	/* Checkpoint every 5000 pages (40 MB) rather than SQLite's 1000: index
	 * pages a bulk import touches in many batches reach the database file
	 * fewer times. journal_size_limit trims the WAL file back afterwards.
	 * Statement and savepoint journals stay at SQLite's default (memory up
	 * to 64 KiB, then a temporary file): temp_store=MEMORY saved the bulk
	 * import's links statement its spills (0.8 s of 1M rows) but held a dry
	 * run's savepoint journals in memory (1M-row dry run 145 MB and 42 s
	 * instead of 95 MB and 13 s); a larger SQLITE_CONFIG_STMTJRNL_SPILL
	 * made SQLite 3.40 fail a dry run's savepoints with SQLITE_FULL.
	 * A 24 MiB page cache: it holds the one index a bulk import fills in
	 * random order (people_email_key, 17 MB at a million people) with the
	 * right edges of the others; 32 MiB was no faster and put a 1M-row
	 * first import at 94-101 MiB peak RSS, over the 100 MB budget. */
	if ((ret = sq_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; "
	                   "PRAGMA cache_size=-24576; PRAGMA wal_autocheckpoint=5000; "
	                   "PRAGMA journal_size_limit=67108864;", err)) != MID_OK)
		goto error;
	*out = db;
	return MID_OK;
error:
	sqlite3_finalize(s);
	sq_close(db);
	return ret;
}

static int sq_prepare(mid_db_t *db, const char *sql, mid_db_stmt_t **out,
                      mid_error_t *err)
{
	mid_db_stmt_t *s = calloc(1, sizeof *s);
	int rc;

	*out = NULL;
	if (!s)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->h, NULL);
	if (rc != SQLITE_OK) {
		free(s);
		return sq_fail(db, rc, err, "prepare");
	}
	s->db = db;
	*out = s;
	return MID_OK;
}

static int sq_bind_rc(mid_db_stmt_t *s, int rc, mid_error_t *err)
{
	if (rc == SQLITE_OK)
		return MID_OK;
	return sq_fail(s->db, rc, err, "bind");
}

static int sq_bind_text(mid_db_stmt_t *s, int idx, const char *v, mid_error_t *err)
{
	if (!v)
		return sq_bind_rc(s, sqlite3_bind_null(s->h, idx), err);
	return sq_bind_rc(s, sqlite3_bind_text(s->h, idx, v, -1, SQLITE_STATIC), err);
}

static int sq_bind_int64(mid_db_stmt_t *s, int idx, int64_t v, mid_error_t *err)
{
	return sq_bind_rc(s, sqlite3_bind_int64(s->h, idx, v), err);
}

static int sq_bind_blob(mid_db_stmt_t *s, int idx, const void *p, size_t n,
                        mid_error_t *err)
{
	if (!p)
		return sq_bind_rc(s, sqlite3_bind_null(s->h, idx), err);
	return sq_bind_rc(s, sqlite3_bind_blob64(s->h, idx, p, n, SQLITE_STATIC), err);
}

static int sq_bind_null(mid_db_stmt_t *s, int idx, mid_error_t *err)
{
	return sq_bind_rc(s, sqlite3_bind_null(s->h, idx), err);
}

static int sq_step(mid_db_stmt_t *s, mid_error_t *err)
{
	int rc = sqlite3_step(s->h);
	if (rc == SQLITE_ROW)
		return MID_DB_ROW;
	if (rc == SQLITE_DONE)
		return MID_DB_DONE;
	rc = sqlite3_reset(s->h); /* the precise code */
	return sq_fail(s->db, rc, err, "step");
}

static int sq_column_is_null(mid_db_stmt_t *s, int col)
{
	return sqlite3_column_type(s->h, col) == SQLITE_NULL;
}

static const char *sq_column_text(mid_db_stmt_t *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s->h, col);
	return t ? (const char *)t : "";
}

static int64_t sq_column_int64(mid_db_stmt_t *s, int col)
{
	return sqlite3_column_int64(s->h, col);
}

static const void *sq_column_blob(mid_db_stmt_t *s, int col, size_t *n)
{
	const void *p = sqlite3_column_blob(s->h, col);
	*n = p ? (size_t)sqlite3_column_bytes(s->h, col) : 0;
	return p;
}

static void sq_reset(mid_db_stmt_t *s)
{
	sqlite3_reset(s->h);
	sqlite3_clear_bindings(s->h);
}

static void sq_finalize(mid_db_stmt_t *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->h);
	free(s);
}

static int sq_begin(mid_db_t *db, mid_error_t *err)
{
	return sq_exec(db, "BEGIN IMMEDIATE", err);
}

static int sq_commit(mid_db_t *db, mid_error_t *err)
{
	return sq_exec(db, "COMMIT", err);
}

static int sq_rollback(mid_db_t *db, mid_error_t *err)
{
	if (sqlite3_get_autocommit(db->h))
		return MID_OK; /* SQLite already rolled back (e.g. after an I/O error) */
	return sq_exec(db, "ROLLBACK", err);
}

static int64_t sq_changes(mid_db_t *db)
{
	return sqlite3_changes64(db->h);
}

static int64_t sq_last_insert_id(mid_db_t *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

static int sq_data_version(mid_db_t *db, int64_t *version, mid_error_t *err)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db->h, "PRAGMA data_version", -1, &s, NULL);
	*version = 0;
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		*version = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_OK ? MID_OK : sq_fail(db, rc, err, "data_version");
}

static const char *sq_last_error(mid_db_t *db)
{
	return sqlite3_errmsg(db->h);
}

const mid_db_driver_t mid_db_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.bind_text = sq_bind_text,
	.bind_int64 = sq_bind_int64,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.column_is_null = sq_column_is_null,
	.column_text = sq_column_text,
	.column_int64 = sq_column_int64,
	.column_blob = sq_column_blob,
	.reset = sq_reset,
	.finalize = sq_finalize,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.changes = sq_changes,
	.last_insert_id = sq_last_insert_id,
	.data_version = sq_data_version,
	.last_error = sq_last_error,
};
