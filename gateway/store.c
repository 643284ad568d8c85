/* gateway/store.c -- open, migrations, transactions, the statement cache
 * and helpers shared by the store's files (see gateway/store.h).
 *
 * Every statement the store runs has a fixed id (enum in store_sql.h) and is
 * prepared once per handle on first use, then reset and reused: the sync
 * engine's hot path never parses SQL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "gateway/store_int.h"

/* ---- clock, uuid, fold --------------------------------------------------- */

static int64_t sys_now_ms(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mid_store_set_clock(mid_store_t *st, int64_t (*now_ms)(void *ctx), void *ctx)
{
	st->now = now_ms ? now_ms : sys_now_ms;
	st->now_ctx = now_ms ? ctx : NULL;
}

int64_t mid_store_now(mid_store_t *st)
{
	return st->now(st->now_ctx);
}

static int sodium_ready = 0;

static void ensure_sodium(void)
{
	if (!sodium_ready) {
		if (sodium_init() < 0)
			abort(); /* no usable random source: nothing safe to do */
		sodium_ready = 1;
	}
}

/* Random bytes for ids, drawn from a buffer refilled 4 KiB at a time: one
 * getrandom() per UUID is a measurable share of a bulk import. The buffer
 * is per thread and dropped in the child after fork(), so two processes
 * never hand out the same bytes. */
static _Thread_local unsigned char rnd_buf[4096];
static _Thread_local size_t rnd_pos = sizeof rnd_buf;
static _Thread_local int rnd_init; /* 1 once the fork handler is registered */

static void rnd_atfork_child(void)
{
	rnd_pos = sizeof rnd_buf;
}

static void uuid_random(unsigned char *out, size_t n)
{
	if (!rnd_init) {
		static int registered;
		if (!__atomic_exchange_n(&registered, 1, __ATOMIC_SEQ_CST))
			pthread_atfork(NULL, NULL, rnd_atfork_child);
		rnd_init = 1;
	}
	if (rnd_pos + n > sizeof rnd_buf) {
		ensure_sodium();
		randombytes_buf(rnd_buf, sizeof rnd_buf);
		rnd_pos = 0;
	}
	memcpy(out, rnd_buf + rnd_pos, n);
	sodium_memzero(rnd_buf + rnd_pos, n);
	rnd_pos += n;
}

/* UUID version 7: 48-bit milliseconds, then random bits. Time-ordered ids
 * keep B-tree inserts at the right edge of the index (fast bulk imports). */
void mid_uuid_new(char out[MID_ID_LEN])
{
	unsigned char b[16];
	struct timespec ts;
	uint64_t ms;
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	uuid_random(b + 6, 10);
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

int mid_fold(const char *in, char *out, size_t outsz)
{
	size_t len, i;

	if (!in)
		in = "";
	while (*in == ' ' || *in == '\t')
		in++;
	len = strlen(in);
	while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
		len--;
	if (len + 1 > outsz)
		return MID_EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[len] = '\0';
	return MID_OK;
}

int64_t mid_email_key(const char *fold)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a 64, then a final mix */
	if (!fold || !*fold)
		return 0;
	for (; *fold; fold++) {
		h ^= (unsigned char)*fold;
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h &= INT64_MAX;
	return h ? (int64_t)h : 1;
}

/* ---- enum names ------------------------------------------------------------ */

const char *mid_store_name_of(const char *const *names, size_t n, int v)
{
	if (v < 1 || (size_t)v > n)
		return NULL;
	return names[v - 1];
}

int mid_store_parse_name(const char *const *names, size_t n, const char *s)
{
	size_t i;
	if (!s)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i + 1;
	return -1;
}

/* ---- statement cache --------------------------------------------------------- */

int mid_store_q(mid_store_t *st, int which, mid_db_stmt_t **out, mid_error_t *err,
                const char *fmt, ...)
{
	const mid_db_driver_t *D = st->drv;
	mid_db_stmt_t *s;
	va_list ap;
	int rc = MID_OK, idx = 1;

	*out = NULL;
	if (which < 0 || which >= MID_SQ_COUNT)
		return mid_error_set(err, MID_EINTERNAL, 0, "bad statement id %d", which);
	if (!st->cache[which]) {
		/* Once per statement: the bind format must match the placeholders. */
		const char *c;
		size_t nq = 0;
		for (c = mid_store_sql[which]; *c; c++)
			nq += *c == '?';
		if (nq != (fmt ? strlen(fmt) : 0))
			return mid_error_set(err, MID_EINTERNAL, 0,
			                     "statement %d has %zu parameters, %zu bound", which,
			                     nq, fmt ? strlen(fmt) : 0);
		rc = D->prepare(st->db, mid_store_sql[which], &st->cache[which], err);
		if (rc != MID_OK)
			return rc;
	}
	s = st->cache[which];
	va_start(ap, fmt);
	for (; fmt && *fmt && rc == MID_OK; fmt++, idx++) {
		switch (*fmt) {
		case 't': /* text, NULL binds NULL */
			rc = D->bind_text(s, idx, va_arg(ap, const char *), err);
			break;
		case 'e': { /* text, NULL or "" binds NULL */
			const char *v = va_arg(ap, const char *);
			rc = D->bind_text(s, idx, v && *v ? v : NULL, err);
			break;
		}
		case 'i':
			rc = D->bind_int64(s, idx, va_arg(ap, int64_t), err);
			break;
		case 'b': { /* blob: pointer, size_t length */
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = D->bind_blob(s, idx, p, n, err);
			break;
		}
		case 'h': { /* hash of MID_HASH_LEN bytes, NULL binds NULL */
			const void *p = va_arg(ap, const void *);
			rc = D->bind_blob(s, idx, p, MID_HASH_LEN, err);
			break;
		}
		case 'n':
			rc = D->bind_null(s, idx, err);
			break;
		default:
			rc = mid_error_set(err, MID_EINTERNAL, 0, "bad bind format %c", *fmt);
		}
	}
	va_end(ap);
	if (rc != MID_OK) {
		D->reset(s);
		return rc;
	}
	*out = s;
	return MID_OK;
}

int mid_store_stmt(mid_store_t *st, int which, mid_db_stmt_t **out, mid_error_t *err)
{
	int rc;
	*out = NULL;
	if (which < 0 || which >= MID_SQ_COUNT)
		return mid_error_set(err, MID_EINTERNAL, 0, "bad statement id %d", which);
	if (!st->cache[which] &&
	    (rc = st->drv->prepare(st->db, mid_store_sql[which], &st->cache[which], err)))
		return rc;
	*out = st->cache[which];
	return MID_OK;
}

void mid_store_qend(mid_store_t *st, mid_db_stmt_t *s)
{
	if (s)
		st->drv->reset(s);
}

int mid_store_qdone(mid_store_t *st, mid_db_stmt_t *s, int64_t *changes,
                    mid_error_t *err)
{
	int rc = st->drv->step(s, err);
	if (rc == MID_DB_ROW || rc == MID_DB_DONE) {
		if (changes)
			*changes = st->drv->changes(st->db);
		rc = MID_OK;
	}
	st->drv->reset(s);
	return rc;
}

void mid_store_coltext(mid_store_t *st, mid_db_stmt_t *s, int col, char *dst,
                       size_t dstsz)
{
	const char *t = st->drv->column_text(s, col);
	size_t n = strlen(t);
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, t, n);
	dst[n] = '\0';
}

int mid_store_coldup(mid_store_t *st, mid_db_stmt_t *s, int col, char **dst,
                     mid_error_t *err)
{
	*dst = NULL;
	if (st->drv->column_is_null(s, col))
		return MID_OK;
	if (!(*dst = strdup(st->drv->column_text(s, col))))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	return MID_OK;
}

int mid_store_colblob(mid_store_t *st, mid_db_stmt_t *s, int col, void *dst,
                      size_t dstsz)
{
	size_t n;
	const void *p = st->drv->column_blob(s, col, &n);
	memset(dst, 0, dstsz);
	if (!p || n != dstsz)
		return 0;
	memcpy(dst, p, n);
	return 1;
}

int mid_store_colblobdup(mid_store_t *st, mid_db_stmt_t *s, int col,
                         unsigned char **dst, size_t *len, mid_error_t *err)
{
	size_t n;
	const void *p = st->drv->column_blob(s, col, &n);
	*dst = NULL;
	*len = 0;
	if (!p)
		return MID_OK;
	if (!(*dst = malloc(n ? n : 1)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	memcpy(*dst, p, n);
	*len = n;
	return MID_OK;
}

int mid_store_chklen(const char *field, const char *v, size_t size, mid_error_t *err)
{
	if (v && strlen(v) >= size)
		return mid_error_set(err, MID_EINVAL, 0, "%s is longer than %zu bytes",
		                     field, size - 1);
	return MID_OK;
}

int mid_store_grow(void **arr, size_t *cap, size_t n, size_t elsz, mid_error_t *err)
{
	void *p;
	size_t ncap;
	if (n < *cap)
		return MID_OK;
	ncap = *cap ? *cap * 2 : 16;
	if (!(p = realloc(*arr, ncap * elsz)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	memset((char *)p + *cap * elsz, 0, (ncap - *cap) * elsz);
	*arr = p;
	*cap = ncap;
	return MID_OK;
}

void mid_strv_free(char **v, size_t n)
{
	size_t i;
	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- transactions ------------------------------------------------------------ */

int mid_store_begin(mid_store_t *st, mid_error_t *err)
{
	char sql[64];
	int rc;
	if (st->depth == 0) {
		rc = st->drv->begin(st->db, err);
	} else {
		snprintf(sql, sizeof sql, "SAVEPOINT mid_sp%d", st->depth);
		rc = st->drv->exec(st->db, sql, err);
	}
	if (rc == MID_OK)
		st->depth++;
	return rc;
}

int mid_store_commit(mid_store_t *st, mid_error_t *err)
{
	char sql[64];
	int rc;
	if (st->depth <= 0)
		return mid_error_set(err, MID_EINVAL, 0, "commit without a transaction");
	if (st->depth == 1) {
		rc = st->drv->commit(st->db, err);
	} else {
		snprintf(sql, sizeof sql, "RELEASE mid_sp%d", st->depth - 1);
		rc = st->drv->exec(st->db, sql, err);
	}
	if (rc == MID_OK)
		st->depth--;
	return rc; /* on failure the level stays open: the caller rolls back */
}

int mid_store_rollback(mid_store_t *st, mid_error_t *err)
{
	char sql[96];
	int rc;
	if (st->depth <= 0)
		return MID_OK;
	if (st->depth == 1) {
		rc = st->drv->rollback(st->db, err);
	} else {
		snprintf(sql, sizeof sql, "ROLLBACK TO mid_sp%d; RELEASE mid_sp%d",
		         st->depth - 1, st->depth - 1);
		rc = st->drv->exec(st->db, sql, err);
	}
	st->depth--;
	return rc;
}

int mid_store_data_version(mid_store_t *st, int64_t *version, mid_error_t *err)
{
	*version = 0;
	if (!st->drv->data_version)
		return mid_error_set(err, MID_ENOTSUP, 0, "the %s store cannot tell other "
		                     "writers' changes", st->drv->name);
	return st->drv->data_version(st->db, version, err);
}

int mid_store_txn_depth(const mid_store_t *st)
{
	return st->depth;
}

int mid_store_tx_end(mid_store_t *st, int rc, mid_error_t *err)
{
	if (rc == MID_OK) {
		rc = mid_store_commit(st, err);
		if (rc == MID_OK)
			return MID_OK;
	}
	mid_store_rollback(st, NULL);
	return rc;
}

/* ---- open, migrations ------------------------------------------------------- */

/* Read MAX(version) from schema_version; *missing = 1 when the table is
 * absent (any error reading it). */
static int read_version(mid_store_t *st, int *version, int *missing, mid_error_t *err)
{
	mid_db_stmt_t *s = NULL;
	mid_error_t e;
	int rc;

	*version = 0;
	*missing = 0;
	rc = st->drv->prepare(st->db, "SELECT MAX(version) FROM schema_version", &s, &e);
	if (rc != MID_OK) {
		if (e.code == MID_EIO || e.code == MID_ENOMEM) {
			if (err)
				*err = e;
			return rc;
		}
		*missing = 1;
		return MID_OK;
	}
	rc = st->drv->step(s, err);
	if (rc == MID_DB_ROW)
		*version = (int)st->drv->column_int64(s, 0);
	st->drv->finalize(s);
	return rc < 0 ? rc : MID_OK;
}

static int migrate(mid_store_t *st, int fresh, mid_error_t *err)
{
	size_t i;
	int rc, v, missing;
	mid_db_stmt_t *s = NULL;

	for (i = 0; i < mid_nmigrations; i++) {
		const mid_migration_t *m = &mid_migrations[i];
		if (m->version <= st->version)
			continue;
		if ((rc = mid_store_begin(st, err)) != MID_OK)
			return rc;
		/* Another process may have migrated while we waited for the lock. */
		if ((rc = read_version(st, &v, &missing, err)) != MID_OK)
			goto fail;
		if (missing && !fresh) {
			rc = mid_error_set(err, MID_EINVAL, 0,
			                   "%s: not a mobileid store (no schema_version table); "
			                   "check store.path in the config or move the file away",
			                   st->path);
			goto fail;
		}
		if (v >= m->version) {
			st->version = v;
			mid_store_rollback(st, NULL);
			continue;
		}
		if (missing) {
			rc = st->drv->exec(st->db,
			                   "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
			                   " name TEXT NOT NULL, applied INTEGER NOT NULL)", err);
			if (rc != MID_OK)
				goto fail;
		}
		if ((rc = st->drv->exec(st->db, m->sql, err)) != MID_OK) {
			mid_error_set(err, rc, 0, "%s: migration %d (%s) failed: %s", st->path,
			              m->version, m->name, st->drv->last_error(st->db));
			goto fail;
		}
		if (m->fixup && (rc = m->fixup(st, err)) != MID_OK)
			goto fail;
		rc = st->drv->prepare(st->db, "INSERT INTO schema_version (version, name, applied)"
		                      " VALUES (?, ?, ?)", &s, err);
		if (rc != MID_OK)
			goto fail;
		if ((rc = st->drv->bind_int64(s, 1, m->version, err)) != MID_OK ||
		    (rc = st->drv->bind_text(s, 2, m->name, err)) != MID_OK ||
		    (rc = st->drv->bind_int64(s, 3, mid_store_now(st), err)) != MID_OK)
			goto fail;
		rc = st->drv->step(s, err);
		st->drv->finalize(s);
		s = NULL;
		if (rc < 0)
			goto fail;
		if ((rc = mid_store_commit(st, err)) != MID_OK)
			goto fail;
		st->version = m->version;
	}
	return MID_OK;
fail:
	st->drv->finalize(s);
	mid_store_rollback(st, NULL);
	return rc;
}

int mid_store_open(const char *path, unsigned flags, mid_store_t **out,
                   mid_error_t *err)
{
	mid_store_t *st = NULL;
	struct stat sb;
	int rc, fresh = 0, missing = 0;
	unsigned dflags = 0;

	*out = NULL;
	if (!path || !*path)
		return mid_error_set(err, MID_EINVAL, 0, "no store path given");
	ensure_sodium();
	if (stat(path, &sb) != 0) {
		if (errno != ENOENT)
			return mid_error_set(err, MID_EIO, 0, "%s: %s", path, strerror(errno));
		if (!(flags & MID_STORE_CREATE) || (flags & MID_STORE_READONLY))
			return mid_error_set(err, MID_ENOTFOUND, 0,
			                     "%s: no store here; create one with 'mobileidctl init' "
			                     "or check store.path in the config", path);
		fresh = 1;
	} else if (!S_ISREG(sb.st_mode)) {
		return mid_error_set(err, MID_EINVAL, 0, "%s: not a regular file", path);
	} else if (sb.st_size == 0) {
		if (!(flags & MID_STORE_CREATE))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "%s: empty file, not a mobileid store; remove it and "
			                     "run 'mobileidctl init'", path);
		fresh = 1;
	}

	if (!(st = calloc(1, sizeof *st)) || !(st->path = strdup(path))) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto error;
	}
	st->drv = &mid_db_sqlite;
	mid_store_set_clock(st, NULL, NULL);
	if (flags & MID_STORE_CREATE)
		dflags |= MID_DB_CREATE;
	if (flags & MID_STORE_READONLY)
		dflags |= MID_DB_READONLY;
	if ((rc = st->drv->open(path, dflags, 5000, &st->db, err)) != MID_OK)
		goto error;

	if ((rc = read_version(st, &st->version, &missing, err)) != MID_OK)
		goto error;
	if (missing && !fresh) {
		rc = mid_error_set(err, MID_EINVAL, 0,
		                   "%s: an SQLite file but not a mobileid store (no "
		                   "schema_version table); check store.path in the config",
		                   path);
		goto error;
	}
	if (st->version > MID_STORE_SCHEMA_VERSION) {
		rc = mid_error_set(err, MID_ECONFLICT, 0,
		                   "%s: the store has schema version %d but this mobileid-gateway "
		                   "knows versions up to %d; upgrade mobileid-gateway or restore "
		                   "a backup made by this version", path, st->version,
		                   MID_STORE_SCHEMA_VERSION);
		goto error;
	}
	if (st->version < MID_STORE_SCHEMA_VERSION) {
		if (flags & MID_STORE_READONLY) {
			rc = mid_error_set(err, MID_ECONFLICT, 0,
			                   "%s: the store has schema version %d and needs migrating "
			                   "to %d; open it once read-write (e.g. run mobileidd)",
			                   path, st->version, MID_STORE_SCHEMA_VERSION);
			goto error;
		}
		if ((rc = migrate(st, fresh, err)) != MID_OK)
			goto error;
	}
	*out = st;
	return MID_OK;
error:
	mid_store_close(st);
	return rc;
}

void mid_store_close(mid_store_t *st)
{
	size_t i;
	if (!st)
		return;
	if (st->db) {
		while (st->depth > 0)
			mid_store_rollback(st, NULL);
		for (i = 0; i < MID_SQ_COUNT; i++)
			st->drv->finalize(st->cache[i]);
		st->drv->close(st->db);
	}
	free(st->path);
	free(st);
}

int mid_store_schema_version(mid_store_t *st)
{
	return st->version;
}
