/* gateway/instance.c -- see instance.h. */
#include <config.h>
#include "gateway/instance.h"
#include "gateway/jsonschema.h"
#include "gateway/secrets.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *mid_default_config_path(void)
{
	const char *env = getenv("MOBILEID_CONFIG");
	if (env && *env)
		return env;
	return MID_SYSCONFDIR "/mobileid/mobileidd.json";
}

int mid_instance_modhost(const mid_config_t *cfg, mid_modhost_t **out,
                         mid_error_t *err)
{
	const char *dirs[64];
	size_t n = 0;
	char *envcopy = NULL;
	const char *env = getenv("MOBILEID_MODULE_PATH");
	if (env && *env) {
		envcopy = strdup(env);
		if (!envcopy)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		char *save = NULL;
		for (char *tok = strtok_r(envcopy, ":", &save); tok && n < 32;
		     tok = strtok_r(NULL, ":", &save))
			dirs[n++] = tok;
	}
	for (size_t i = 0; cfg && i < cfg->nmodule_path && n < 63; i++)
		dirs[n++] = cfg->module_path[i];
	dirs[n++] = MID_PKGLIBDIR;
	int rc = mid_modhost_new(dirs, n, out, err);
	free(envcopy);
	return rc;
}

int mid_diag_add(mid_config_diag_t *diag, const char *fmt, ...)
{
	va_list ap;
	char *line = NULL;
	if (!diag)
		return MID_OK;
	va_start(ap, fmt);
	int w = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (w < 0)
		return MID_ENOMEM;
	char **nl = realloc(diag->lines, (diag->n + 1) * sizeof *nl);
	if (!nl) {
		free(line);
		return MID_ENOMEM;
	}
	diag->lines = nl;
	diag->lines[diag->n++] = line;
	return MID_OK;
}

/* The secret store: the master key file bound to the store. */
static int inst_secrets_open(mid_instance_t *in, mid_error_t *err)
{
	return mid_secrets_open(in->cfg->master_key_file, in->store, &in->secrets, err);
}

static void inst_secrets_close(mid_instance_t *in)
{
	mid_secrets_close(in->secrets);
	in->secrets = NULL;
}

/* The host table's secret lookup: a malloc'd copy the module releases
 * through the host's secret_free (which wipes it). */
static int inst_secret_lookup(void *ctx, const char *name, char **value,
                              size_t *len, mid_error_t *err)
{
	mid_instance_t *in = ctx;
	char *v = NULL;
	size_t l = 0;
	*value = NULL;
	*len = 0;
	if (!in->secrets)
		return mid_error_set(err, MID_ENOTFOUND, 0,
		                     "secret \"%s\": the secret store is not open", name);
	int rc = mid_secret_get(in->secrets, name, &v, &l, err);
	if (rc == MID_ENOTFOUND)
		return mid_error_set(err, rc, 0, "secret \"%s\" is not set; store it with "
		                     "`mobileidctl secret set %s`", name, name);
	if (rc != MID_OK)
		return rc;
	char *copy = malloc(l + 1);
	if (!copy) {
		mid_secret_free(v, l);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	memcpy(copy, v, l);
	copy[l] = '\0';
	mid_secret_free(v, l);
	*value = copy;
	*len = l;
	return MID_OK;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}


int mid_plugin_find(const mid_config_t *cfg, const char *name, json_t **profile,
                    char **file, mid_error_t *err)
{
	const char *dirs[40];
	size_t n = 0;
	const char *env = getenv("MOBILEID_PLUGIN_DIR");
	char *envcopy = env && *env ? strdup(env) : NULL;
	char *save = NULL;
	int rc;

	*profile = NULL;
	if (file)
		*file = NULL;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return mid_error_set(err, MID_EINVAL, 0,
			    "plugin name \"%s\" may only use a-z, 0-9, - and _", name);
	for (char *tok = envcopy ? strtok_r(envcopy, ":", &save) : NULL; tok && n < 16;
	     tok = strtok_r(NULL, ":", &save))
		dirs[n++] = tok;
	for (size_t i = 0; cfg && i < cfg->nplugin_path && n < 38; i++)
		dirs[n++] = cfg->plugin_path[i];
	dirs[n++] = MID_PKGDATADIR "/plugins";
	rc = MID_ENOTFOUND;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		json_error_t jerr;
		snprintf(path, sizeof path, "%s/%s/profile.json", dirs[i], name);
		if (access(path, F_OK) != 0)
			continue;
		json_t *p = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
		if (!p) {
			rc = mid_error_set(err, MID_EINVAL, 0, "%s:%d:%d: %s; reinstall the plugin",
			                   path, jerr.line, jerr.column, jerr.text);
			break;
		}
		mid_config_diag_t diag = { 0 };
		mid_error_t verr = { 0 };
		if (mid_config_validate_named("profile", p, NULL, &diag, &verr) != MID_OK) {
			rc = mid_error_set(err, MID_EINVAL, 0, "%s: %s; reinstall the plugin",
			                   path, verr.text);
			mid_config_diag_free(&diag);
			json_decref(p);
			break;
		}
		*profile = p;
		if (file)
			*file = strdup(path);
		rc = MID_OK;
		break;
	}
	free(envcopy);
	if (rc == MID_ENOTFOUND)
		mid_error_set(err, MID_ENOTFOUND, 0,
		    "plugin \"%s\" not found: no %s/profile.json in the plugin path; "
		    "run `mobileidctl plugin list` to see the installed ones", name, name);
	return rc;
}

void mid_binding_eff_clear(mid_binding_eff_t *e)
{
	json_decref(e->settings);
	json_decref(e->mapping);
	json_decref(e->match);
	json_decref(e->profile);
	memset(e, 0, sizeof *e);
}

/* Resolve against the config only (shared by check and open). */
static int resolve_cfg(const mid_config_t *cfg, const mid_config_binding_t *b,
                       mid_binding_eff_t *e, mid_error_t *err)
{
	memset(e, 0, sizeof *e);
	e->b = b;
	if (b->plugin) {
		int rc = mid_plugin_find(cfg, b->plugin, &e->profile, NULL, err);
		if (rc != MID_OK)
			return rc;
		const char *conn = json_string_value(json_object_get(e->profile, "connector"));
		snprintf(e->connector, sizeof e->connector, "%s", conn ? conn : "");
		json_t *defs = json_object_get(e->profile, "settings");
		e->settings = json_is_object(defs) ? json_deep_copy(defs) : json_object();
		if (b->settings)
			json_object_update(e->settings, b->settings);
		json_t *pm = json_object_get(e->profile, "mapping");
		e->mapping = json_object_size(b->mapping) ? json_incref(b->mapping)
		           : json_is_object(pm) ? json_incref(pm) : json_object();
		json_t *pmatch = json_object_get(e->profile, "match");
		if (b->nmatch == 0 && json_is_array(pmatch)) {
			e->match = json_incref(pmatch);
		}
	} else {
		snprintf(e->connector, sizeof e->connector, "%s", b->connector ? b->connector : "");
		e->settings = b->settings ? json_incref(b->settings) : json_object();
		e->mapping = b->mapping ? json_incref(b->mapping) : json_object();
	}
	if (!e->match) {
		e->match = json_array();
		for (size_t i = 0; i < b->nmatch; i++)
			json_array_append_new(e->match, json_string(b->match[i]));
	}
	return MID_OK;
}

int mid_binding_resolve(const mid_instance_t *in, const mid_config_binding_t *b,
                        mid_binding_eff_t *out, mid_error_t *err)
{
	int rc = resolve_cfg(in->cfg, b, out, err);
	if (rc != MID_OK)
		mid_binding_eff_clear(out);
	return rc;
}

/* Validate effective settings against the module's schema. */
static int check_settings(const mid_config_t *cfg, size_t index, const mid_module_t *m,
                          const json_t *settings, mid_config_diag_t *diag, mid_error_t *err)
{
	mid_jsonschema_t *schema = NULL;
	mid_jsonschema_result_t res = { 0 };
	int rc = MID_OK;
	if (!m->desc.settings_schema)
		return MID_OK;
	rc = mid_jsonschema_new(m->desc.settings_schema, &schema, err);
	if (rc != MID_OK) {
		mid_diag_add(diag, "%s: connector %s ships a broken settings schema: %s",
		             base_name(cfg->path), m->name, err->text);
		return rc;
	}
	char prefix[96];
	snprintf(prefix, sizeof prefix, "bindings[%zu].settings", index);
	if (mid_jsonschema_validate(schema, settings, prefix, &res) != 0) {
		for (size_t i = 0; i < res.n; i++)
			mid_diag_add(diag, "%s: %s: %s", base_name(cfg->path),
			             res.errors[i].path, res.errors[i].message);
		if (res.dropped)
			mid_diag_add(diag, "%s: ... and %zu more problems", base_name(cfg->path),
			             res.dropped);
		rc = mid_error_set(err, MID_EINVAL, 0, "%s: %s: %s", base_name(cfg->path),
		                   res.n ? res.errors[0].path : prefix,
		                   res.n ? res.errors[0].message : "invalid");
	}
	mid_jsonschema_result_free(&res);
	mid_jsonschema_free(schema);
	return rc;
}

int mid_binding_check(const mid_config_t *cfg, size_t index, mid_modhost_t *mh,
                      const mid_module_t **mod, mid_config_diag_t *diag,
                      mid_error_t *err)
{
	const mid_config_binding_t *b = &cfg->bindings[index];
	const mid_module_t *m = NULL;
	mid_binding_eff_t e;
	int rc;

	if (mod)
		*mod = NULL;
	rc = resolve_cfg(cfg, b, &e, err);
	if (rc != MID_OK) {
		mid_diag_add(diag, "%s: bindings[%zu].plugin: %s", base_name(cfg->path), index,
		             err->text);
		goto out;
	}
	rc = mid_modhost_load(mh, e.connector, &m, err);
	if (rc != MID_OK) {
		mid_diag_add(diag, "%s: bindings[%zu].%s: %s", base_name(cfg->path), index,
		             b->plugin ? "plugin" : "connector", err->text);
		goto out;
	}
	if (mod)
		*mod = m;
	rc = check_settings(cfg, index, m, e.settings, diag, err);
out:
	mid_binding_eff_clear(&e);
	return rc;
}

/* ---- instance ------------------------------------------------------------ */

int mid_instance_from_config(mid_config_t *cfg, unsigned flags, const char *actor,
                             mid_instance_t **out, mid_error_t *err)
{
	mid_instance_t *in = calloc(1, sizeof *in);
	int rc;
	if (!in) {
		mid_config_free(cfg);
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	}
	in->cfg = cfg;
	snprintf(in->actor, sizeof in->actor, "%s", actor ? actor : "gateway");
	if ((rc = mid_instance_modhost(cfg, &in->mh, err)) != MID_OK)
		goto fail;
	if (flags & MID_INST_SECRETS)
		flags |= MID_INST_STORE;
	if (flags & MID_INST_STORE) {
		rc = mid_store_open(cfg->store_path, (flags & MID_INST_CREATE) ? MID_STORE_CREATE : 0,
		                    &in->store, err);
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "%s: the store does not exist; create the instance "
			              "with `mobileidctl init DIR` or fix store.path in %s",
			              cfg->store_path, cfg->path);
		if (rc != MID_OK)
			goto fail;
	}
	if (flags & MID_INST_SECRETS) {
		if ((rc = inst_secrets_open(in, err)) != MID_OK)
			goto fail;
	}
	*out = in;
	return MID_OK;
fail:
	mid_instance_close(in);
	return rc;
}

int mid_instance_open(const char *config_path, unsigned flags, const char *actor,
                      mid_instance_t **out, mid_config_diag_t *diag,
                      mid_error_t *err)
{
	mid_config_t *cfg = NULL;
	int rc = mid_config_load_diag(config_path, &cfg, diag, err);
	if (rc != MID_OK)
		return rc;
	return mid_instance_from_config(cfg, flags, actor, out, err);
}

int mid_instance_audit(mid_instance_t *in, const char *action, const char *subject,
                       json_t *detail, mid_error_t *err)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = mid_store_audit_append(in->store, in->actor[0] ? in->actor : "unknown", action,
	                                subject, text, NULL, err);
	free(text);
	json_decref(detail);
	return rc;
}

void mid_instance_close(mid_instance_t *in)
{
	if (!in)
		return;
	inst_secrets_close(in);
	mid_store_close(in->store);
	mid_modhost_free(in->mh);
	mid_config_free(in->cfg);
	free(in);
}

int mid_conn_open(mid_instance_t *in, const mid_config_binding_t *b,
                  mid_conn_t **out, mid_error_t *err)
{
	mid_conn_t *c = calloc(1, sizeof *c);
	int rc;
	char *settings = NULL;
	if (!c)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if ((rc = mid_binding_resolve(in, b, &c->eff, err)) != MID_OK)
		goto fail;
	if ((rc = mid_modhost_load(in->mh, c->eff.connector, &c->mod, err)) != MID_OK)
		goto fail;
	size_t index = (size_t)(b - in->cfg->bindings);
	mid_config_diag_t diag = { 0 };
	rc = check_settings(in->cfg, index, c->mod, c->eff.settings, &diag, err);
	mid_config_diag_free(&diag);
	if (rc != MID_OK)
		goto fail;
	mid_hosttab_init(&c->tab, c->mod->name, in->cfg->state_dir, inst_secret_lookup, in);
	settings = json_dumps(c->eff.settings, JSON_COMPACT);
	if (!settings) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto fail;
	}
	rc = c->mod->desc.open(&c->tab.host, settings, &c->inst, err);
	free(settings);
	if (rc != MID_OK) {
		if (!err->text[0])
			mid_error_set(err, rc, 0, "connector %s failed to open without saying why",
			              c->mod->name);
		c->inst = NULL;
		goto fail;
	}
	*out = c;
	return MID_OK;
fail:
	mid_conn_close(c);
	return rc;
}

void mid_conn_close(mid_conn_t *c)
{
	if (!c)
		return;
	if (c->inst && c->mod->desc.close)
		c->mod->desc.close(c->inst);
	mid_hosttab_clear(&c->tab);
	mid_binding_eff_clear(&c->eff);
	free(c);
}
