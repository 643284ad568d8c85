/* gateway/ctl_plugin.c -- `plugin list|show|enable|test`: how an installer
 * meets the gateway. A plugin is a profile (plugins/NAME/profile.json):
 * which connector, its default settings, the field mapping, and the
 * settings an installer must provide. `enable` asks for exactly those (or
 * takes them as flags), stores secrets in the secret store, validates the
 * result and only then writes the binding into the config. */
#include <config.h>
#include "gateway/ctl.h"
#include "gateway/instance.h"
#include "gateway/secrets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

/* The plugin path as mid_plugin_find searches it. */
static size_t plugin_dirs(const mid_config_t *cfg, char **dirs, size_t max, char **envcopy)
{
	size_t n = 0;
	const char *env = getenv("MOBILEID_PLUGIN_DIR");
	char *save = NULL;
	*envcopy = env && *env ? strdup(env) : NULL;
	for (char *tok = *envcopy ? strtok_r(*envcopy, ":", &save) : NULL; tok && n + 2 < max;
	     tok = strtok_r(NULL, ":", &save))
		dirs[n++] = tok;
	for (size_t i = 0; cfg && i < cfg->nplugin_path && n + 2 < max; i++)
		dirs[n++] = cfg->plugin_path[i];
	dirs[n++] = (char *)MID_PKGDATADIR "/plugins";
	return n;
}

static int ctl_plugin_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "NAME", "CONNECTOR", "VENDOR", "DESCRIPTION" };
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_config_t *cfg = NULL;
	if (access(c->config_path, F_OK) == 0 && !(cfg = ctl_config(c)))
		return CTL_FAIL;
	char *dirs[40], *envcopy = NULL;
	size_t n = plugin_dirs(cfg, dirs, 40, &envcopy);
	ctl_table_t t;
	ctl_table_init(&t, 4, heads);
	json_t *arr = json_array(), *seen = json_object();
	for (size_t i = 0; i < n; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || json_object_get(seen, de->d_name))
				continue;
			json_t *p = NULL;
			char *file = NULL;
			mid_error_t err = { 0 };
			char pf[PATH_MAX];
			snprintf(pf, sizeof pf, "%s/%s/profile.json", dirs[i], de->d_name);
			if (access(pf, F_OK) != 0)
				continue;
			json_object_set_new(seen, de->d_name, json_true());
			if (mid_plugin_find(cfg, de->d_name, &p, &file, &err) != MID_OK) {
				fprintf(stderr, "mobileidctl: %s\n", err.text);
				continue;
			}
			const char *conn = json_string_value(json_object_get(p, "connector"));
			const char *vendor = json_string_value(json_object_get(p, "vendor"));
			const char *desc = json_string_value(json_object_get(p, "description"));
			ctl_table_add(&t, de->d_name, conn, vendor, desc);
			json_array_append_new(arr, json_pack("{s:s, s:s?, s:s?, s:s?, s:s}", "name",
			    de->d_name, "connector", conn, "vendor", vendor, "description", desc,
			    "file", file));
			free(file);
			json_decref(p);
		}
		closedir(d);
	}
	if (c->json)
		ctl_print_json(json_incref(arr));
	else if (t.nrows == 0)
		printf("no plugins found in the plugin path\n");
	else
		ctl_table_print(&t, stdout);
	ctl_table_free(&t);
	json_decref(arr);
	json_decref(seen);
	free(envcopy);
	return CTL_OK;
}

/* The flag for a required setting: its "flag" or --KEY with _ . as -. */
static void setting_flag(json_t *rs, char *out, size_t size)
{
	const char *flag = json_string_value(json_object_get(rs, "flag"));
	if (flag) {
		snprintf(out, size, "%s", flag);
		return;
	}
	snprintf(out, size, "--%s", json_string_value(json_object_get(rs, "key")));
	for (char *p = out + 2; *p; p++)
		if (*p == '_' || *p == '.')
			*p = '-';
}

static int ctl_plugin_show(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 1, 1);
	if (rc >= 0)
		return rc;
	mid_config_t *cfg = NULL;
	if (access(c->config_path, F_OK) == 0 && !(cfg = ctl_config(c)))
		return CTL_FAIL;
	json_t *p = NULL;
	char *file = NULL;
	mid_error_t err = { 0 };
	if (mid_plugin_find(cfg, argv[optind], &p, &file, &err) != MID_OK)
		return ctl_err("%s", err.text);
	if (c->json) {
		json_object_set_new(p, "file", json_string(file));
		ctl_print_json(p);
		free(file);
		return CTL_OK;
	}
	printf("%s: %s\n", argv[optind], json_string_value(json_object_get(p, "description")));
	const char *v;
	if ((v = json_string_value(json_object_get(p, "vendor"))))
		printf("  vendor      %s\n", v);
	printf("  connector   %s\n", json_string_value(json_object_get(p, "connector")));
	if ((v = json_string_value(json_object_get(p, "direction"))))
		printf("  direction   %s\n", v);
	if ((v = json_string_value(json_object_get(p, "schedule"))))
		printf("  schedule    %s\n", v);
	printf("  profile     %s\n", file);
	if ((v = json_string_value(json_object_get(p, "documentation"))))
		printf("  docs        %s\n", v);
	json_t *req = json_object_get(p, "required_settings");
	if (json_array_size(req)) {
		printf("\nSettings `mobileidctl plugin enable %s` asks for:\n", argv[optind]);
		size_t i;
		json_t *rs;
		json_array_foreach(req, i, rs) {
			char flag[96];
			setting_flag(rs, flag, sizeof flag);
			printf("  %-24s %s%s\n", flag, json_string_value(json_object_get(rs, "prompt")),
			       json_is_true(json_object_get(rs, "secret")) ? " (secret)" : "");
		}
	}
	json_t *map = json_object_get(json_object_get(p, "mapping"), "inbound");
	if (json_object_size(map)) {
		printf("\nInbound mapping (canonical field <- PACS field):\n");
		const char *k;
		json_t *m;
		json_object_foreach(map, k, m) {
			const char *from = json_string_value(json_object_get(m, "from"));
			printf("  %-24s <- %s\n", k, from ? from : "(constant)");
		}
	}
	free(file);
	json_decref(p);
	return CTL_OK;
}

/* Read one line from the terminal (hidden when secret). NULL at EOF. */
static char *prompt_line(const char *question, const char *example, int secret)
{
	char buf[4096];
	struct termios old, noecho;
	fprintf(stderr, "%s%s%s%s: ", question, example ? " (e.g. " : "", example ? example : "",
	        example ? ")" : "");
	fflush(stderr);
	if (secret) {
		tcgetattr(STDIN_FILENO, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	char *r = fgets(buf, sizeof buf, stdin);
	if (secret) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!r)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	char *s = strdup(buf);
	sodium_memzero(buf, sizeof buf);
	return s;
}

/* Set a dotted key in an object, creating intermediate objects. */
static int set_path(json_t *obj, const char *key, json_t *val)
{
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%s", key);
	char *save = NULL, *part = strtok_r(tmp, ".", &save), *next;
	while ((next = strtok_r(NULL, ".", &save))) {
		json_t *sub = json_object_get(obj, part);
		if (!json_is_object(sub)) {
			sub = json_object();
			json_object_set_new(obj, part, sub);
		}
		obj = sub;
		part = next;
	}
	return json_object_set_new(obj, part, val);
}

/* Convert an answer to the setting's type; NULL with `why` on failure. */
static json_t *typed_value(json_t *rs, const char *ans, char *why, size_t wsize)
{
	const char *type = json_string_value(json_object_get(rs, "type"));
	const char *pattern = json_string_value(json_object_get(rs, "pattern"));
	if (pattern) {
		regex_t re;
		if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0) {
			int m = regexec(&re, ans, 0, NULL, 0);
			regfree(&re);
			if (m != 0) {
				snprintf(why, wsize, "does not match the pattern %s", pattern);
				return NULL;
			}
		}
	}
	if (type && strcmp(type, "integer") == 0) {
		char *end;
		errno = 0;
		long long v = strtoll(ans, &end, 10);
		if (errno || end == ans || *end) {
			snprintf(why, wsize, "is not an integer");
			return NULL;
		}
		return json_integer(v);
	}
	if (type && strcmp(type, "boolean") == 0) {
		if (!strcmp(ans, "true") || !strcmp(ans, "yes"))
			return json_true();
		if (!strcmp(ans, "false") || !strcmp(ans, "no"))
			return json_false();
		snprintf(why, wsize, "must be true or false");
		return NULL;
	}
	if (type && strcmp(type, "path") == 0) {
		if (ans[0] != '/') {
			char abs[PATH_MAX];
			if (!realpath(ans, abs)) {
				snprintf(why, wsize, "must be an absolute path (or an existing relative one)");
				return NULL;
			}
			return json_string(abs);
		}
	}
	if (!*ans) {
		snprintf(why, wsize, "must not be empty");
		return NULL;
	}
	return json_string(ans);
}

/* Write `doc` to `path` atomically, keeping the file's mode. */
static int write_config(const char *path, json_t *doc, mid_error_t *err)
{
	struct stat sb;
	mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0640;
	char tmp[PATH_MAX + 16];
	snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return mid_error_set(err, MID_EIO, 0, "%s: cannot write beside it: %s", path,
		                     strerror(errno));
	fchmod(fd, mode);
	char *text = json_dumps(doc, JSON_INDENT(2));
	size_t len = text ? strlen(text) : 0;
	int ok = text && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
	         fsync(fd) == 0;
	free(text);
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return mid_error_set(err, MID_EIO, 0, "%s: cannot write the new config: %s", path,
		                     strerror(errno));
	}
	return MID_OK;
}

static int ctl_plugin_enable(ctl_t *c, int argc, char **argv)
{
	const char *name = NULL, *binding = NULL;
	int dry = 0;
	/* NAME is the first word that is neither a flag nor a flag's value
	 * (every flag but --dry-run takes a value, as --flag VALUE or
	 * --flag=VALUE). */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return ctl_help(c);
		if (argv[i][0] == '-') {
			if (strcmp(argv[i], "--dry-run") != 0 && !strchr(argv[i], '='))
				i++;
			continue;
		}
		if (!name)
			name = argv[i];
	}
	if (!name)
		return ctl_usage_err(c, "missing plugin NAME; `mobileidctl plugin list` shows them");
	mid_instance_t *in = ctl_instance(c, MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	json_t *p = NULL, *doc = NULL, *settings = json_object(), *secrets = json_object();
	mid_error_t err = { 0 };
	int rc = CTL_FAIL;
	if (mid_plugin_find(in->cfg, name, &p, NULL, &err) != MID_OK) {
		ctl_err("%s", err.text);
		goto out;
	}
	json_t *req = json_object_get(p, "required_settings");
	/* Flags: --binding NAME, --dry-run, and one per required setting. */
	char **given = calloc((size_t)argc, sizeof *given);
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			continue;
		char flag[128];
		const char *eq = strchr(argv[i], '=');
		size_t fl = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
		snprintf(flag, sizeof flag, "%.*s", (int)fl, argv[i]);
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
		if (!strcmp(flag, "--dry-run")) {
			dry = 1;
			continue;
		}
		if (!strcmp(flag, "--binding")) {
			if (!val) {
				free(given);
				rc = ctl_usage_err(c, "--binding needs a NAME");
				goto out;
			}
			binding = val;
			if (!eq)
				i++;
			continue;
		}
		size_t k;
		json_t *rs;
		int found = 0;
		json_array_foreach(req, k, rs) {
			char f[96];
			setting_flag(rs, f, sizeof f);
			if (strcmp(f, flag) == 0) {
				if (!val) {
					free(given);
					rc = ctl_usage_err(c, "%s needs a value", flag);
					goto out;
				}
				given[k] = (char *)val;
				found = 1;
				if (!eq)
					i++;
				break;
			}
		}
		if (!found) {
			free(given);
			rc = ctl_usage_err(c, "plugin %s has no setting %s; `mobileidctl plugin show %s` "
			                   "lists its settings", name, flag, name);
			goto out;
		}
	}
	if (!binding)
		binding = name;
	if (mid_config_binding(in->cfg, binding)) {
		free(given);
		ctl_err("%s: a binding named \"%s\" exists already; choose another with --binding NAME",
		        in->cfg->path, binding);
		goto out;
	}
	int interactive = isatty(STDIN_FILENO);
	size_t k;
	json_t *rs;
	json_array_foreach(req, k, rs) {
		const char *key = json_string_value(json_object_get(rs, "key"));
		int secret = json_is_true(json_object_get(rs, "secret"));
		char flag[96], why[160], *ans = NULL;
		setting_flag(rs, flag, sizeof flag);
		json_t *dflt = json_object_get(rs, "default");
		for (int tries = 0; ; tries++) {
			if (given[k])
				ans = strdup(given[k]);
			else if (interactive && tries < 3)
				ans = prompt_line(json_string_value(json_object_get(rs, "prompt")),
				                  json_string_value(json_object_get(rs, "example")), secret);
			if (ans && !*ans && dflt) {
				free(ans);
				ans = json_is_string(dflt) ? strdup(json_string_value(dflt))
				                           : json_dumps(dflt, JSON_ENCODE_ANY);
			}
			if (!ans) {
				free(given);
				ctl_err("plugin %s needs %s (%s); give it as %s VALUE", name, key,
				        json_string_value(json_object_get(rs, "prompt")), flag);
				goto out;
			}
			if (secret) {
				char sname[128];
				snprintf(sname, sizeof sname, "%s-%s", binding, key);
				for (char *q = sname; *q; q++)
					if (*q == '_')
						*q = '-';
				json_object_set_new(secrets, sname, json_string(ans));
				set_path(settings, key, json_pack("{s:s}", "secret", sname));
				sodium_memzero(ans, strlen(ans));
				free(ans);
				break;
			}
			json_t *v = typed_value(rs, ans, why, sizeof why);
			if (v) {
				set_path(settings, key, v);
				free(ans);
				break;
			}
			fprintf(stderr, "mobileidctl: %s: \"%s\" %s\n", key, ans, why);
			free(ans);
			ans = NULL;
			if (given[k]) {
				free(given);
				goto out;
			}
		}
	}
	free(given);

	/* The new config: the file as it is, plus the binding. */
	json_error_t jerr;
	doc = json_load_file(in->cfg->path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		ctl_err("%s:%d: %s", in->cfg->path, jerr.line, jerr.text);
		goto out;
	}
	json_t *bindings = json_object_get(doc, "bindings");
	if (!json_is_array(bindings)) {
		bindings = json_array();
		json_object_set_new(doc, "bindings", bindings);
	}
	json_t *b = json_pack("{s:s, s:s}", "name", binding, "plugin", name);
	/* The profile's direction and schedule become the binding's, written
	 * out so the installer sees them and can change them. */
	if (json_is_string(json_object_get(p, "direction")))
		json_object_set(b, "direction", json_object_get(p, "direction"));
	if (json_is_string(json_object_get(p, "schedule")))
		json_object_set(b, "schedule", json_object_get(p, "schedule"));
	json_object_set(b, "settings", settings);
	json_array_append_new(bindings, b);
	char *text = json_dumps(doc, JSON_INDENT(2));
	mid_config_t *ncfg = NULL;
	mid_config_diag_t diag = { 0 };
	char *dir = strdup(in->cfg->dir);
	int vrc = mid_config_parse_buffer(text, strlen(text), in->cfg->path, dir, &ncfg, &diag, &err);
	free(text);
	free(dir);
	if (vrc == MID_OK) {
		mid_config_diag_free(&diag);
		vrc = mid_binding_check(ncfg, ncfg->nbindings - 1, in->mh, NULL, &diag, &err);
	}
	if (vrc != MID_OK) {
		for (size_t i = 0; i < diag.n; i++)
			ctl_err("%s", diag.lines[i]);
		if (!diag.n)
			ctl_err("%s", err.text);
		ctl_err("the binding was not added; nothing was changed");
		mid_config_diag_free(&diag);
		mid_config_free(ncfg);
		goto out;
	}
	mid_config_diag_free(&diag);
	mid_config_free(ncfg);
	if (dry) {
		if (c->json)
			ctl_print_json(json_incref(b));
		else {
			char *bt = json_dumps(b, JSON_INDENT(2));
			printf("would add this binding to %s (secrets not stored, nothing written):\n%s\n",
			       in->cfg->path, bt);
			free(bt);
		}
		rc = CTL_OK;
		goto out;
	}
	const char *sname;
	json_t *sval;
	json_object_foreach(secrets, sname, sval) {
		const char *sv = json_string_value(sval);
		if (mid_secret_set(in->secrets, sname, sv, strlen(sv), &err) != MID_OK) {
			ctl_err("%s", err.text);
			goto out;
		}
	}
	if (write_config(in->cfg->path, doc, &err) != MID_OK) {
		ctl_err("%s", err.text);
		goto out;
	}
	mid_store_audit_append(in->store, in->actor, "plugin.enable", binding, NULL, NULL, NULL);
	if (c->json)
		ctl_print_json(json_pack("{s:s, s:s, s:s}", "binding", binding, "plugin", name,
		                         "config", in->cfg->path));
	else
		printf("binding %s (plugin %s) added to %s\n"
		       "Next: mobileidctl plugin test %s\n"
		       "      mobileidctl sync run %s --dry-run\n"
		       "      then reload the daemon (systemctl reload mobileidd) to schedule it\n",
		       binding, name, in->cfg->path, binding, binding);
	rc = CTL_OK;
out:
	/* Wipe secret answers held in memory. */
	json_object_foreach(secrets, sname, sval) {
		const char *sv = json_string_value(sval);
		if (sv)
			sodium_memzero((char *)sv, strlen(sv));
	}
	json_decref(secrets);
	json_decref(settings);
	json_decref(doc);
	json_decref(p);
	return rc;
}

static int ctl_plugin_test(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 1, 1);
	if (rc >= 0)
		return rc;
	const char *bname = argv[optind];
	mid_instance_t *in = ctl_instance(c, MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	const mid_config_binding_t *b = mid_config_binding(in->cfg, bname);
	if (!b)
		return ctl_err("%s: no binding named \"%s\"", in->cfg->path, bname);
	mid_conn_t *conn = NULL;
	mid_error_t err = { 0 };
	json_t *out = json_pack("{s:s, s:[]}", "binding", bname, "checks");
	json_t *checks = json_object_get(out, "checks");
	int failed = 0;
	if (mid_conn_open(in, b, &conn, &err) != MID_OK) {
		json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", "open",
		                                        "state", "fail", "detail", err.text));
		failed = 1;
	} else if (!conn->mod->desc.test) {
		json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", "open",
		    "state", "ok", "detail", "settings valid and connector opened; it has no further checks"));
	} else {
		mid_check_t cks[16];
		size_t n = 0;
		memset(cks, 0, sizeof cks);
		json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", "open",
		    "state", "ok", "detail", "settings valid and connector opened"));
		if (conn->mod->desc.test(conn->inst, cks, 16, &n, &err) != MID_OK) {
			json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name", "test",
			                                        "state", "fail", "detail", err.text));
			failed = 1;
		}
		for (size_t i = 0; i < n && i < 16; i++) {
			static const char *const st[] = { "ok", "fail", "skip" };
			json_array_append_new(checks, json_pack("{s:s, s:s, s:s}", "name",
			    cks[i].name ? cks[i].name : "check", "state",
			    st[cks[i].state >= 0 && cks[i].state <= 2 ? cks[i].state : 1], "detail",
			    cks[i].detail));
			if (cks[i].state == MID_CHECK_FAIL)
				failed = 1;
		}
	}
	mid_conn_close(conn);
	json_object_set_new(out, "ok", json_boolean(!failed));
	if (c->json) {
		ctl_print_json(out);
	} else {
		size_t i;
		json_t *ck;
		printf("binding %s:\n", bname);
		json_array_foreach(checks, i, ck) {
			const char *state = json_string_value(json_object_get(ck, "state"));
			printf("  %-4s %-15s %s\n", !strcmp(state, "ok") ? "OK" : !strcmp(state, "skip") ? "SKIP" : "FAIL",
			       json_string_value(json_object_get(ck, "name")),
			       json_string_value(json_object_get(ck, "detail")));
		}
		json_decref(out);
	}
	return failed ? CTL_FAIL : CTL_OK;
}

static const ctl_cmd_t plugin_cmds[] = {
	{ "plugin list", ctl_plugin_list, "list the installed plugin profiles",
	  "plugin list\n\n"
	  "List the plugin profiles in the plugin path ($MOBILEID_PLUGIN_DIR, the\n"
	  "config's plugin_path, then " MID_PKGDATADIR "/plugins).\n" },
	{ "plugin show", ctl_plugin_show, "show a plugin: connector, settings it asks for, mapping",
	  "plugin show NAME\n\n"
	  "Show what plugin NAME connects to, the settings `plugin enable` asks for\n"
	  "(with their flags) and its field mapping.\n" },
	{ "plugin enable", ctl_plugin_enable, "add a binding for a plugin, asking for its settings",
	  "plugin enable NAME [--binding BINDING] [--dry-run] [--SETTING VALUE...]\n\n"
	  "Add a binding that uses plugin NAME to the config. Every setting the\n"
	  "profile declares is taken from its flag (see `plugin show NAME`) or asked\n"
	  "for on the terminal; secret settings are read without echo, stored in\n"
	  "the secret store and referenced from the config by name. The new config\n"
	  "is validated (schema and the connector's settings) before it is written,\n"
	  "atomically; on any problem nothing is changed. --binding names the\n"
	  "binding (default: the plugin name). --dry-run prints the binding and\n"
	  "writes nothing.\n" },
	{ "plugin test", ctl_plugin_test, "check a binding's connection: reachability, auth, permissions",
	  "plugin test BINDING\n\n"
	  "Open BINDING's connector with its settings and secrets and run its\n"
	  "checks (reachability, authentication, permissions for a PACS API;\n"
	  "folders for a file drop). Prints OK, FAIL or SKIP per check with the\n"
	  "reason; exits 1 when any check failed.\n" },
};
const ctl_group_t ctl_group_plugin = { plugin_cmds, sizeof plugin_cmds / sizeof plugin_cmds[0] };
