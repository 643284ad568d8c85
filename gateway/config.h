/* gateway/config.h -- load, validate and show the gateway configuration.
 *
 * The config is one JSON file (default /etc/mobileid/mobileidd.json),
 * validated against schemas/config.schema.json (embedded in the binary:
 * mid_schema_text in gateway/jsonschema.h) plus semantic rules the schema
 * cannot express. Every problem becomes one line naming the file, the JSON path and the fix:
 *
 *     mobileidd.json: bindings[0].schedule: "every 15x" is not a schedule
 *         (use "manual" or "every N" with s, m, h or d, e.g. "every 15m")
 *
 * Note for files in gateway/: a quoted #include "config.h" there finds this
 * header, not autoconf's. Write #include <config.h> for autoconf's; this
 * header also pulls it in (when HAVE_CONFIG_H is defined) so either works.
 *
 * See docs/configuration.md for every key, its default and an example.
 */
#pragma once

#ifdef HAVE_CONFIG_H
#include <config.h> /* autoconf's, found through -I$(top_builddir) */
#endif

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "mobileid/connector.h"

/* Largest config file read (bytes). */
#define MID_CONFIG_MAX_BYTES (1024 * 1024)
/* At most this many problems are listed; one more line says how many
 * were left out. */
#define MID_CONFIG_MAX_ERRORS 50

typedef enum {
	MID_DIRECTION_INBOUND = 1,  /* PACS -> gateway */
	MID_DIRECTION_OUTBOUND = 2, /* gateway -> PACS */
	MID_DIRECTION_BOTH = 3,     /* INBOUND | OUTBOUND */
} mid_direction_t;

typedef enum {
	MID_ON_DELETE_SUSPEND = 0, /* suspend the person, revoke Mobile IDs */
	MID_ON_DELETE_PURGE = 1,   /* delete the person and their data */
} mid_on_delete_t;

#include "gateway/types.h" /* enum mid_cred_type */
typedef enum mid_cred_type mid_cred_type_t;

typedef enum {
	MID_STARTTLS_NONE = 0,
	MID_STARTTLS_TRY = 1,
	MID_STARTTLS_REQUIRED = 2,
} mid_starttls_t;

typedef enum {
	MID_CONFIG_LOG_STDERR = 0, /* same values as mid_log_target_t */
	MID_CONFIG_LOG_SYSLOG = 1,
} mid_config_log_target_t;

/* Wiegand formats a range can allocate from. */
typedef enum {
	MID_FORMAT_H10301 = 1,   /* 26-bit: FC 0-255, CN 0-65535 */
	MID_FORMAT_H10302 = 2,   /* 35-bit: no FC, CN 0-34359738367 */
	MID_FORMAT_H10304 = 3,   /* 37-bit: FC 0-65535, CN 0-524287 */
	MID_FORMAT_C1000_35 = 4, /* Corporate 1000 35-bit: company 0-4095, CN 0-1048575 */
} mid_wiegand_format_t;

/* One issuance range: card numbers first..last (inclusive) under one
 * facility code (company id for C1000-35; 0 for H10302). */
typedef struct mid_config_range {
	int format;              /* mid_wiegand_format_t */
	const char *format_name; /* "H10301", ... (static string) */
	uint32_t facility_code;
	uint64_t first;
	uint64_t last;
} mid_config_range_t;

/* One binding: a connector (or plugin profile) instance kept in sync. */
typedef struct mid_config_binding {
	char *name;        /* unique, [a-z][a-z0-9_-]*, at most 63 chars; owned */
	char *connector;   /* module name ("csv", "rest"), or NULL when plugin is set; owned */
	char *plugin;      /* profile name ("scim2"), or NULL when connector is set; owned */
	int direction;     /* mid_direction_t; default both */
	int64_t schedule_seconds; /* 0 = manual (runs only on request); default 0 */
	char *schedule;    /* the text as written ("every 15m", "manual"); owned */
	char **match;      /* canonical person fields tried in order; owned */
	size_t nmatch;
	double max_delete_ratio; /* 0..1, default 0.1 */
	int on_delete;     /* mid_on_delete_t; default suspend */
	int enabled;       /* 0 when "enabled": false; default 1 */
	/* Borrowed from mid_config_t.root (valid until mid_config_free). Never
	 * NULL: an absent key gives an empty object. */
	json_t *settings;  /* connector settings, validated later by the host */
	json_t *mapping;   /* {"inbound": {...}, "outbound": {...}} */
	json_t *authority; /* {"<canonical field>": "pacs"|"gateway", "*": ...} */
	json_t *json;      /* the whole binding object */
} mid_config_binding_t;

/* The parsed configuration. Every char * is owned by the struct and freed
 * by mid_config_free; paths are absolute after loading (relative ones are
 * resolved as docs/configuration.md says). Optional strings are NULL when
 * absent. The struct is read-only after load: on SIGHUP load a new one and
 * swap. */
typedef struct mid_config {
	char *path;        /* absolute path of the file read ("<buffer>" name for buffers) */
	char *dir;         /* folder of that file */

	char *site_id;     /* site.id, a UUID */
	char *site_name;   /* site.name, or NULL */

	char *state_dir;   /* default: dir */
	int log_target;    /* mid_config_log_target_t; default stderr */
	int log_level;     /* enum mid_log_level; default MID_LOG_NOTICE */

	char *store_backend; /* "sqlite" */
	char *store_path;    /* default <state_dir>/store.db */
	char *master_key_file; /* default <state_dir>/master.key */

	char **module_path;  /* folders searched for connector modules; may be empty */
	size_t nmodule_path;
	char **plugin_path;  /* folders searched for plugin profiles; may be empty */
	size_t nplugin_path;

	struct {
		char *listen;     /* "host:port"; default "127.0.0.1:8080" */
		char *tls_cert;   /* PEM file or NULL (then only loopback is allowed) */
		char *tls_key;    /* PEM file or NULL */
		char *public_url; /* base URL phones use, or NULL */
		size_t max_body_bytes;  /* default 65536 */
		int timeout_seconds;    /* default 15 */
	} http;

	struct {
		mid_config_range_t *ranges; /* owned array; may be empty */
		size_t nranges;
		int default_type;         /* enum mid_cred_type (gateway/types.h); default MID_CRED_REUSABLE */
		int validity_days;        /* default 365 */
		int invitation_ttl_hours; /* default 72 */
		char *app_link;           /* link put into invitations, or NULL */
	} issuance;

	struct {
		int enabled;            /* 1 when an "smtp" object is present */
		char *url;              /* "smtp://host:port" or "smtps://..." */
		char *from;             /* sender address */
		int starttls;           /* mid_starttls_t; default try */
		char *username;         /* or NULL */
		char *password_secret;  /* the secret's NAME (not its value), or NULL */
		char *template_path;    /* mail template file, or NULL (built-in) */
	} smtp;

	int runs_kept;     /* run reports kept per binding; default 50 */

	mid_config_binding_t *bindings; /* owned array */
	size_t nbindings;

	/* The validated document with defaults filled in. Owned by the config;
	 * callers borrow it (and the binding json_t pointers inside it) until
	 * mid_config_free. Do not modify. */
	json_t *root;
} mid_config_t;

/* A list of problems, one line each ("FILE: PATH: what is wrong (fix)"). */
typedef struct mid_config_diag {
	char **lines; /* owned; free with mid_config_diag_free */
	size_t n;
} mid_config_diag_t;

/* Load and validate the config file at `path`.
 * On success returns MID_OK and *out is a new config the caller frees with
 * mid_config_free. On failure returns a negative MID_E* code (MID_ENOTFOUND
 * missing file, MID_EIO unreadable, MID_ELIMIT too large, MID_EINVAL not JSON
 * or invalid), *out is NULL, err->text holds the first problem and, when
 * `diag` is not NULL, diag receives every problem (caller frees with
 * mid_config_diag_free; it is zeroed on success). */
int mid_config_load_diag(const char *path, mid_config_t **out,
                         mid_config_diag_t *diag, mid_error_t *err);

/* mid_config_load_diag without the list. */
int mid_config_load(const char *path, mid_config_t **out, mid_error_t *err);

/* Parse and validate a config held in memory (`len` bytes, need not be
 * NUL-terminated). `name` labels messages (e.g. the file name); relative
 * paths resolve against `base_dir` (NULL: the current folder). Ownership as
 * for mid_config_load_diag. Used by the loader and the fuzz target. */
int mid_config_parse_buffer(const char *buf, size_t len, const char *name,
                            const char *base_dir, mid_config_t **out,
                            mid_config_diag_t *diag, mid_error_t *err);

/* Free a config and everything it owns; NULL is allowed. */
void mid_config_free(mid_config_t *cfg);

/* Free the lines of a diag list and zero it; NULL is allowed. */
void mid_config_diag_free(mid_config_diag_t *diag);

/* Find a binding by name; NULL if none. The result is borrowed from cfg. */
const mid_config_binding_t *mid_config_binding(const mid_config_t *cfg,
                                               const char *name);

/* Render the config for a person (json == 0: indented JSON with a header
 * comment line naming the file; json == 1: plain JSON) with every secret
 * reference {"secret": "NAME"} shown as "<secret NAME>" and any other value
 * under a secret-like key (password, token, api_key, client_secret, ...)
 * shown as "********". Returns a new string the caller frees with free(),
 * or NULL when out of memory. */
char *mid_config_show(const mid_config_t *cfg, int json);

/* 1 if `key` names a value that must be a secret reference (password,
 * passwd, token, api_key, apikey, client_secret, secret, private_key,
 * passphrase and names ending in _password, _token, _secret, _key_pass...). */
int mid_config_is_secret_key(const char *key);

/* The text of the config `mobileidctl init` writes for a new site: site id
 * (a UUID; required) and name (NULL: "Mobile ID site"), relative paths so the
 * instance folder can move. Returns a new string the caller frees, or NULL
 * on bad arguments or no memory. */
char *mid_config_default_text(const char *site_id, const char *site_name);

/* Write mid_config_default_text() to `path` atomically: a temporary file in
 * the same folder, fsync, then link into place (refusing to replace an
 * existing file: MID_ECONFLICT), fsync of the folder; mode 0640. Nothing is
 * left behind on failure. Returns MID_OK or a negative code with err set. */
int mid_config_write_default(const char *path, const char *site_id,
                             const char *site_name, mid_error_t *err);

/* Validate a JSON value against one of the embedded schemas by name
 * ("person", "credential", "profile", "config", ...). `prefix` labels paths
 * in messages (e.g. "bindings[1].settings", or NULL). Problems are appended
 * to `diag` (may be NULL); returns MID_OK or MID_EINVAL with err set to the
 * first problem, MID_ENOTFOUND when there is no such schema. */
int mid_config_validate_named(const char *schema_name, const json_t *value,
                              const char *prefix, mid_config_diag_t *diag,
                              mid_error_t *err);
