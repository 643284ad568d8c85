/* mobileid/connector.h -- the connector module ABI of mobileid-gateway.
 *
 * This is the only header a connector author needs. A connector is a
 * shared module loaded at run time with libltdl. It exports exactly one
 * symbol, MID_CONNECTOR_SYMBOL, a `const mid_connector_t` descriptor; every
 * other function in the module is static. Everything the module needs from
 * the daemon (logging, secrets, clock, HTTP defaults) reaches it through the
 * mid_host_t function table passed to open(); a module never calls daemon
 * symbols and links with -no-undefined.
 *
 * Versioning. The descriptor and the host table both begin with
 * (abi_major, abi_minor, struct_size). The host refuses a module whose
 * abi_major differs from MID_CONNECTOR_ABI_MAJOR or whose abi_minor is newer
 * than the host's, before calling anything in it. Fields that lie past
 * struct_size are treated as absent (NULL), so a minor version may append
 * fields at the end of either struct and nothing else.
 *
 * NULL means "not supported". A NULL callback must agree with the
 * capability bits: MID_CAP_PULL_* require pull, MID_CAP_PUSH_* require push,
 * MID_CAP_TEST requires test. The host checks this at load time.
 *
 * Errors are values. Every callback returns MID_OK (0) or a negative
 * MID_E* code and fills the caller's mid_error_t: the code, whether a retry
 * may succeed, and a one-line text for a person. Modules do not print.
 *
 * Threads. The host calls one instance from one thread at a time. Different
 * instances of the same module may run concurrently, so modules keep no
 * mutable global state.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MID_CONNECTOR_ABI_MAJOR 1
#define MID_CONNECTOR_ABI_MINOR 1
/* The one symbol a module exports. */
#define MID_CONNECTOR_SYMBOL "mid_connector"

/* ---- errors ---------------------------------------------------------- */

enum mid_rc {
	MID_OK = 0,
	MID_EINVAL = -1,   /* bad input: settings, record, argument */
	MID_ENOMEM = -2,
	MID_EIO = -3,      /* file or network I/O failed */
	MID_EAUTH = -4,    /* the peer refused our credentials */
	MID_ENOTFOUND = -5,
	MID_ECONFLICT = -6, /* already exists / version mismatch */
	MID_EPROTO = -7,   /* the peer answered something we cannot parse */
	MID_ELIMIT = -8,   /* a size or rate limit was hit */
	MID_EABORT = -9,   /* the host's sink asked to stop */
	MID_ENOTSUP = -10,
	MID_EINTERNAL = -11,
};

typedef struct mid_error {
	int code;        /* one of enum mid_rc, 0 when no error */
	int retryable;   /* 1: trying again later may succeed; 0: permanent */
	char text[512];  /* one line for a person, never a secret */
} mid_error_t;

/* ---- records --------------------------------------------------------- */

enum mid_op {
	MID_OP_UPSERT = 1, /* the record exists with these fields */
	MID_OP_DELETE = 2, /* the record with this external id is gone */
};

/* One source field: a name (a CSV header, an LDAP attribute, a flattened
 * JSON path such as "name.givenName" or "emails.0.value") and its values.
 * Single-valued sources give nvalues == 1. An empty value is "" and an
 * absent field is simply not listed. */
typedef struct mid_field {
	const char *name;
	const char *const *values;
	size_t nvalues;
} mid_field_t;

/* A vendor-shaped record. All pointers stay valid only during the call
 * that receives the record; the receiver copies what it keeps. */
typedef struct mid_record {
	int op;                    /* enum mid_op */
	const char *external_id;   /* the PACS's id of this user; never NULL */
	const mid_field_t *fields; /* NULL for MID_OP_DELETE */
	size_t nfields;
	uint64_t source_pos;       /* e.g. line number in a file; 0 if none */
	const char *etag;          /* version tag from the peer, or NULL */
} mid_record_t;

/* ---- pull ------------------------------------------------------------ */

enum mid_pull_mode {
	MID_PULL_FULL = 1,  /* every record the source holds */
	MID_PULL_SINCE = 2, /* changes since req->cursor */
};

typedef struct mid_pull_req {
	int mode;            /* enum mid_pull_mode */
	const char *cursor;  /* opaque, from an earlier checkpoint; NULL if none */
	int dry_run;         /* 1: leave the source as it is (no archiving) */
} mid_pull_req_t;

/* Where a pull delivers. Callbacks return MID_OK to go on or a negative
 * code (typically MID_EABORT) to stop; the connector then returns that code
 * from pull() without delivering more. */
typedef struct mid_pull_sink {
	void *ctx;
	/* One record. */
	int (*record)(void *ctx, const mid_record_t *rec, mid_error_t *err);
	/* A record the connector could not read (a malformed CSV line, an
	 * entry missing its id). The host reports it and goes on. */
	int (*reject)(void *ctx, uint64_t source_pos, const char *column,
	              const char *reason, const char *raw, mid_error_t *err);
	/* Everything delivered so far is consistent and, once the host has
	 * stored it, the source may be resumed from `cursor`. The host commits
	 * the records and the cursor in one transaction, but may group several
	 * checkpoints into one commit: a checkpoint that has returned is not
	 * yet durable (see commit). */
	int (*checkpoint)(void *ctx, const char *cursor, mid_error_t *err);
	/* Progress for a person: done and total units (total 0 if unknown). */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	/* (ABI 1.1) Store everything delivered up to the last checkpoint now:
	 * when this returns MID_OK, those records and that cursor are durable.
	 * A connector calls it before anything it cannot take back on the
	 * source (moving a file to the archive, acknowledging a queue); an
	 * error means the host could not store them, and the connector must
	 * leave the source as it is. NULL when the host has nothing pending
	 * (a host that commits every checkpoint). */
	int (*commit)(void *ctx, mid_error_t *err);
} mid_pull_sink_t;

/* After a pull returns MID_OK the connector says what it delivered. */
typedef struct mid_pull_result {
	int complete;        /* 1: a full pull saw every record (deletes may be swept) */
	int nothing_new;     /* 1: no input was waiting (e.g. empty drop folder) */
	char source[256];    /* what was read, for the run report (file name, URL) */
} mid_pull_result_t;

/* ---- push ------------------------------------------------------------ */

typedef struct mid_push_result {
	char external_id[256]; /* the id the PACS gave a new record ("" if none) */
	char etag[128];        /* new version tag, or "" */
} mid_push_result_t;

/* ---- test ------------------------------------------------------------ */

enum mid_check_state { MID_CHECK_OK = 0, MID_CHECK_FAIL = 1, MID_CHECK_SKIP = 2 };

typedef struct mid_check {
	const char *name;    /* "reachability", "authentication", "permissions" */
	int state;           /* enum mid_check_state */
	char detail[256];
} mid_check_t;

/* ---- the host function table ----------------------------------------- */

enum mid_log_level { MID_LOG_ERR = 3, MID_LOG_WARNING = 4, MID_LOG_NOTICE = 5,
                     MID_LOG_INFO = 6, MID_LOG_DEBUG = 7 };

typedef struct mid_http_defaults {
	const char *ca_file;       /* NULL: system default */
	const char *proxy;         /* NULL: none / environment */
	const char *user_agent;
	long connect_timeout_ms;
	long total_timeout_ms;
	size_t max_response_bytes;
} mid_http_defaults_t;

typedef struct mid_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t struct_size;
	void *ctx; /* passed back to every function below */

	/* Log one line. Never pass a secret. */
	void (*log)(void *ctx, int level, const char *fmt, va_list ap);
	/* Look up a secret by the name the config references. On success
	 * *value points to a NUL-terminated copy the caller must release with
	 * secret_free (which wipes it). */
	int (*secret_get)(void *ctx, const char *name, char **value, size_t *len,
	                  mid_error_t *err);
	void (*secret_free)(void *ctx, char *value, size_t len);
	/* Wall clock in milliseconds since the epoch, and a monotonic clock.
	 * Tests replace these to control time. */
	int64_t (*now_ms)(void *ctx);
	int64_t (*monotonic_ms)(void *ctx);
	/* Defaults for outgoing HTTP; never NULL. */
	const mid_http_defaults_t *http;
	/* The folder holding the instance's state (for files a connector keeps). */
	const char *state_dir;
} mid_host_t;

/* ---- the descriptor -------------------------------------------------- */

enum mid_capability {
	MID_CAP_PULL_FULL = 1u << 0,
	MID_CAP_PULL_SINCE = 1u << 1,
	MID_CAP_PUSH_UPSERT = 1u << 2,
	MID_CAP_PUSH_REMOVE = 1u << 3,
	MID_CAP_TEST = 1u << 4,
};

typedef struct mid_connector {
	uint32_t abi_major;   /* MID_CONNECTOR_ABI_MAJOR */
	uint32_t abi_minor;   /* MID_CONNECTOR_ABI_MINOR */
	uint32_t struct_size; /* sizeof(mid_connector_t) as the module saw it */
	const char *name;     /* short, lower case: "csv", "rest" */
	const char *version;
	const char *description;
	uint32_t capabilities; /* enum mid_capability bits */
	/* JSON Schema (draft 2020-12 subset) of the binding's "settings"
	 * object. The host validates settings against it before open(). */
	const char *settings_schema;

	/* Create an instance from the binding's settings (JSON text, already
	 * validated). The module keeps `host`; it outlives the instance. */
	int (*open)(const mid_host_t *host, const char *settings_json,
	            void **instance, mid_error_t *err);
	/* Release an instance; NULL is allowed. */
	void (*close)(void *instance);
	/* Check reachability, authentication and permissions. Fill up to
	 * `max` checks and set *n. Returns MID_OK when the checks ran (each may
	 * still have failed). */
	int (*test)(void *instance, mid_check_t *checks, size_t max, size_t *n,
	            mid_error_t *err);
	/* Stream records to `sink`. */
	int (*pull)(void *instance, const mid_pull_req_t *req,
	            const mid_pull_sink_t *sink, mid_pull_result_t *result,
	            mid_error_t *err);
	/* Create or update (rec->op == MID_OP_UPSERT) or remove
	 * (MID_OP_DELETE) one record in the PACS. For an upsert of a record the
	 * PACS does not know yet, rec->external_id is "". */
	int (*push)(void *instance, const mid_record_t *rec,
	            mid_push_result_t *result, mid_error_t *err);
	/* Make every push since the last flush durable (a batch file is
	 * written and renamed here). NULL when push is durable by itself. */
	int (*flush)(void *instance, mid_error_t *err);
} mid_connector_t;

/* Helper for modules: fill an error. */
static inline int mid_error_set(mid_error_t *err, int code, int retryable,
                                const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdio.h>
static inline int mid_error_set(mid_error_t *err, int code, int retryable,
                                const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		err->retryable = retryable;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof err->text, fmt, ap);
		va_end(ap);
	}
	return code;
}

#ifdef __cplusplus
}
#endif
