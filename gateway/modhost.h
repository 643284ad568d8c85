/* gateway/modhost.h -- the plugin host: finds, loads and checks connector
 * modules (libltdl), and builds the host function table they are given.
 *
 * A module is refused, with a message naming its file and the versions,
 * when its descriptor symbol is missing, its ABI major differs from ours,
 * its ABI minor is newer than ours, its struct_size is too small to hold
 * the fields of ABI 1.0, its name is missing, or its callbacks disagree
 * with its capability bits. Nothing in a module is called before these
 * checks pass.
 */
#pragma once
#include <stddef.h>
#include "mobileid/connector.h"

typedef struct mid_modhost mid_modhost_t;

/* A loaded and checked module. `desc` is the host's normalised copy of the
 * module's descriptor: fields past the module's struct_size are NULL/0. */
typedef struct mid_module {
	char *name;             /* connector name from the descriptor */
	char *file;             /* the file it was loaded from */
	mid_connector_t desc;
	void *handle_;          /* lt_dlhandle, private */
} mid_module_t;

/* Create a host searching `dirs` (n entries, copied) in order.
 * Returns MID_OK or a negative code with `err` filled. Free with
 * mid_modhost_free. */
int mid_modhost_new(const char *const *dirs, size_t n, mid_modhost_t **out,
                    mid_error_t *err);
/* Unload every module and free the host. NULL is allowed. */
void mid_modhost_free(mid_modhost_t *mh);

/* Load the module for connector `name` (the file NAME.so in the search
 * path). The module stays owned by the host; loading the same name twice
 * returns the same module. */
int mid_modhost_load(mid_modhost_t *mh, const char *name,
                     const mid_module_t **out, mid_error_t *err);

/* Load one module file by path and check it (used by `load` and tests). */
int mid_modhost_load_file(mid_modhost_t *mh, const char *file,
                          const mid_module_t **out, mid_error_t *err);

/* Visit every module file in the search path: `found` is called with the
 * module when it loaded and checked, or with NULL and the error otherwise.
 * A name found twice is reported once (the first in path order wins). */
typedef void (*mid_modhost_visit_fn)(void *ctx, const char *file,
                                     const mid_module_t *mod,
                                     const mid_error_t *err);
void mid_modhost_scan(mid_modhost_t *mh, mid_modhost_visit_fn found, void *ctx);

/* Render capability bits as "pull-full,pull-since,push-upsert,..." into buf. */
const char *mid_caps_string(uint32_t caps, char *buf, size_t size);

/* The host function table given to modules. Secrets are resolved by the
 * `secret_get` callback the caller provides (NULL: every lookup fails). */
typedef int (*mid_secret_lookup_fn)(void *ctx, const char *name, char **value,
                                    size_t *len, mid_error_t *err);
typedef struct mid_hosttab {
	mid_host_t host;               /* what modules see */
	mid_http_defaults_t http;
	char module_name[64];          /* prefix for module log lines */
	mid_secret_lookup_fn lookup;
	void *lookup_ctx;
	char *state_dir;
} mid_hosttab_t;

/* Fill `tab` for a module called `module_name`. The caller keeps `tab`
 * alive as long as any instance opened with &tab->host. state_dir is
 * copied; free with mid_hosttab_clear. */
void mid_hosttab_init(mid_hosttab_t *tab, const char *module_name,
                      const char *state_dir, mid_secret_lookup_fn lookup,
                      void *lookup_ctx);
void mid_hosttab_clear(mid_hosttab_t *tab);
