/* gateway/ctl_config.c -- `config check`, `config show`, `connectors`. */
#include <config.h>
#include "gateway/ctl.h"
#include "gateway/instance.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int ctl_config_check(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_config_diag_t diag = { 0 };
	mid_error_t err = { 0 };
	mid_config_t *cfg = NULL;
	mid_modhost_t *mh = NULL;
	json_t *out = json_object(), *problems = json_array(), *bindings = json_array();

	if (mid_config_load_diag(c->config_path, &cfg, &diag, &err) != MID_OK) {
		if (diag.n == 0)
			mid_diag_add(&diag, "%s", err.text);
		goto report;
	}
	if (mid_instance_modhost(cfg, &mh, &err) != MID_OK) {
		mid_diag_add(&diag, "%s", err.text);
		goto report;
	}
	for (size_t i = 0; i < cfg->nbindings; i++) {
		const mid_module_t *m = NULL;
		mid_error_t berr = { 0 };
		int brc = mid_binding_check(cfg, i, mh, &m, &diag, &berr);
		if (brc == MID_ENOTSUP)
			mid_diag_add(&diag, "%s", berr.text);
		json_array_append_new(bindings, json_pack("{s:s, s:s?, s:s?, s:b}",
		    "name", cfg->bindings[i].name, "connector", cfg->bindings[i].connector,
		    "module", m ? m->file : NULL, "ok", brc == MID_OK));
	}
report:
	for (size_t i = 0; i < diag.n; i++)
		json_array_append_new(problems, json_string(diag.lines[i]));
	json_object_set_new(out, "config", json_string(c->config_path));
	json_object_set_new(out, "valid", json_boolean(diag.n == 0));
	json_object_set_new(out, "problems", problems);
	json_object_set_new(out, "bindings", bindings);
	if (c->json) {
		ctl_print_json(json_incref(out));
	} else if (diag.n == 0) {
		printf("%s: valid (%zu binding%s)\n", c->config_path, cfg->nbindings,
		       cfg->nbindings == 1 ? "" : "s");
	} else {
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.lines[i]);
		fprintf(stderr, "mobileidctl: %s: %zu problem%s found\n", c->config_path, diag.n,
		        diag.n == 1 ? "" : "s");
	}
	rc = diag.n == 0 ? CTL_OK : CTL_FAIL;
	json_decref(out);
	mid_config_diag_free(&diag);
	mid_modhost_free(mh);
	mid_config_free(cfg);
	return rc;
}

static int ctl_config_show(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_config_t *cfg = ctl_config(c);
	if (!cfg)
		return CTL_FAIL;
	char *text = mid_config_show(cfg, c->json);
	if (!text)
		return ctl_err("out of memory");
	fputs(text, stdout);
	if (text[0] && text[strlen(text) - 1] != '\n')
		fputc('\n', stdout);
	free(text);
	return CTL_OK;
}

typedef struct conn_scan {
	ctl_table_t tbl;
	json_t *arr;
	int bad;
} conn_scan_t;

static void conn_visit(void *ctx, const char *file, const mid_module_t *m,
                       const mid_error_t *err)
{
	conn_scan_t *s = ctx;
	char caps[128], abi[32];
	if (!m) {
		s->bad++;
		json_array_append_new(s->arr, json_pack("{s:s, s:b, s:s}", "file", file,
		                                        "ok", 0, "error", err->text));
		fprintf(stderr, "mobileidctl: refused %s\n", err->text);
		return;
	}
	snprintf(abi, sizeof abi, "%u.%u", m->desc.abi_major, m->desc.abi_minor);
	mid_caps_string(m->desc.capabilities, caps, sizeof caps);
	ctl_table_add(&s->tbl, m->name, m->desc.version, abi, caps, file);
	json_array_append_new(s->arr, json_pack("{s:s, s:b, s:s, s:s, s:s, s:s, s:s}",
	    "file", file, "ok", 1, "name", m->name, "version", m->desc.version,
	    "abi", abi, "capabilities", caps, "description", m->desc.description));
}

static int ctl_connectors(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "NAME", "VERSION", "ABI", "CAPABILITIES", "FILE" };
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_config_t *cfg = NULL;
	mid_error_t err = { 0 };
	/* The config is optional here: an installer may list modules first. */
	if (access(c->config_path, F_OK) == 0 && !(cfg = ctl_config(c)))
		return CTL_FAIL;
	mid_modhost_t *mh = NULL;
	if (mid_instance_modhost(cfg, &mh, &err) != MID_OK)
		return ctl_err("%s", err.text);
	conn_scan_t s = { .arr = json_array() };
	ctl_table_init(&s.tbl, 5, heads);
	mid_modhost_scan(mh, conn_visit, &s);
	if (c->json)
		ctl_print_json(json_incref(s.arr));
	else if (s.tbl.nrows == 0)
		printf("no connector modules found in the module path\n");
	else
		ctl_table_print(&s.tbl, stdout);
	/* Refused modules make the listing fail so scripts notice them; an
	 * empty module path is a failure too. */
	rc = (s.bad || s.tbl.nrows == 0) ? CTL_FAIL : CTL_OK;
	ctl_table_free(&s.tbl);
	json_decref(s.arr);
	mid_modhost_free(mh);
	return rc;
}

static const ctl_cmd_t core_cmds[] = {
	{ "config check", ctl_config_check, "validate the config file and every binding's settings",
	  "config check\n\n"
	  "Validate the configuration: JSON syntax, every key and type against the\n"
	  "config schema, and each binding's settings against its connector's\n"
	  "schema (and plugin profile). Prints every problem, one per line, naming\n"
	  "the file and the JSON path. Exits 0 when the config is valid, 1 otherwise.\n" },
	{ "config show", ctl_config_show, "print the effective config with secrets masked",
	  "config show\n\n"
	  "Print the configuration with defaults filled in. Secret references are\n"
	  "shown as <secret NAME>; values of secret-like keys are masked.\n" },
	{ "connectors", ctl_connectors, "list the connector modules found",
	  "connectors\n\n"
	  "List the connector modules in the module path with their name, version,\n"
	  "ABI and capabilities, and every module file that was refused and why.\n"
	  "The module path is $MOBILEID_MODULE_PATH, then the config's module_path,\n"
	  "then " MID_PKGLIBDIR ".\n" },
};
const ctl_group_t ctl_group_core = { core_cmds, sizeof core_cmds / sizeof core_cmds[0] };
