/* gateway/instance.h -- one gateway instance as the daemon and the CLI see
 * it: the loaded config, the plugin host searching the right folders, and
 * (once opened) the store and the secret store.
 */
#pragma once
#include "gateway/config.h"
#include "gateway/modhost.h"
#include "gateway/store.h"

struct mid_secrets;

/* An open instance. Fields are read-only for callers. */
typedef struct mid_instance {
	mid_config_t *cfg;            /* owned */
	mid_store_t *store;           /* owned; NULL unless MID_INST_STORE */
	struct mid_secrets *secrets;  /* owned; NULL unless MID_INST_SECRETS */
	mid_modhost_t *mh;            /* owned; always set */
	char actor[128];              /* who acts, for the audit log ("cli:root") */
} mid_instance_t;

enum mid_instance_flags {
	MID_INST_STORE = 1u << 0,    /* open the store (must exist) */
	MID_INST_SECRETS = 1u << 1,  /* read the master key (implies STORE) */
	MID_INST_CREATE = 1u << 2,   /* create the store if absent (init only) */
};

/* Open the instance whose config is at `config_path`. Every config problem
 * is appended to diag (may be NULL) and err gets the first. `actor` names
 * the caller in the audit log. Free with mid_instance_close. */
int mid_instance_open(const char *config_path, unsigned flags, const char *actor,
                      mid_instance_t **out, mid_config_diag_t *diag,
                      mid_error_t *err);
/* The same from an already loaded config, which the instance takes over. */
int mid_instance_from_config(mid_config_t *cfg, unsigned flags, const char *actor,
                             mid_instance_t **out, mid_error_t *err);
void mid_instance_close(mid_instance_t *in);

/* Append one audit entry in the instance's store, by the instance's actor
 * ("unknown" when it has none). `detail` (may be NULL) is stolen: written
 * as compact JSON with sorted keys, then released. */
int mid_instance_audit(mid_instance_t *in, const char *action, const char *subject,
                       json_t *detail, mid_error_t *err);

/* A binding resolved against its plugin profile (if any): the connector to
 * load, the effective settings (profile defaults overlaid by the binding's
 * own), mapping and match rule. All json_t are new references owned by the
 * struct; free with mid_binding_eff_clear. */
typedef struct mid_binding_eff {
	const mid_config_binding_t *b; /* borrowed from the config */
	char connector[64];
	json_t *settings;
	json_t *mapping;   /* {"inbound": {...}, "outbound": {...}} (maybe empty) */
	json_t *match;     /* array of canonical field names */
	json_t *profile;   /* the plugin profile, or NULL */
} mid_binding_eff_t;

int mid_binding_resolve(const mid_instance_t *in, const mid_config_binding_t *b,
                        mid_binding_eff_t *out, mid_error_t *err);
void mid_binding_eff_clear(mid_binding_eff_t *e);

/* Find a plugin profile by name in the plugin path ($MOBILEID_PLUGIN_DIR,
 * the config's plugin_path, PKGDATADIR/plugins): PATH/NAME/profile.json.
 * *profile is a new reference; *file (may be NULL) a new string. */
int mid_plugin_find(const mid_config_t *cfg, const char *name, json_t **profile,
                    char **file, mid_error_t *err);

/* An opened connector instance for one binding. */
typedef struct mid_conn {
	const mid_module_t *mod;   /* borrowed from the instance's modhost */
	void *inst;                /* the module's instance */
	mid_hosttab_t tab;         /* the host table the module was given */
	mid_binding_eff_t eff;     /* the resolved binding */
} mid_conn_t;

/* Resolve binding `b`, load its module, validate the settings against the
 * module's schema and open it with a host table whose secret_get reads the
 * instance's secret store. Free with mid_conn_close. */
int mid_conn_open(mid_instance_t *in, const mid_config_binding_t *b,
                  mid_conn_t **out, mid_error_t *err);
void mid_conn_close(mid_conn_t *c);

/* The config file used when none is given: $MOBILEID_CONFIG, else
 * SYSCONFDIR/mobileid/mobileidd.json. Static string. */
const char *mid_default_config_path(void);

/* Build the connector module search path for `cfg` (may be NULL):
 * $MOBILEID_MODULE_PATH (colon-separated), then cfg->module_path, then
 * the installed PKGLIBDIR. Returns a new modhost (free with
 * mid_modhost_free). */
int mid_instance_modhost(const mid_config_t *cfg, mid_modhost_t **out,
                         mid_error_t *err);

/* Check one binding's settings against its connector's settings schema.
 * Problems are appended to diag (one line each, naming the config file and
 * bindings[i].settings.KEY); returns MID_OK or the first error. `mod` gets
 * the loaded module when it could be loaded. */
int mid_binding_check(const mid_config_t *cfg, size_t index, mid_modhost_t *mh,
                      const mid_module_t **mod, mid_config_diag_t *diag,
                      mid_error_t *err);

/* Append a formatted line to a diag list (for callers adding their own
 * problems). Returns MID_OK or MID_ENOMEM. */
int mid_diag_add(mid_config_diag_t *diag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
