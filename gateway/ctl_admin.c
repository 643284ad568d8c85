/* gateway/ctl_admin.c -- `init`, `secret set|list|rm`, `status`. */
#include <config.h>
#include "gateway/ctl.h"
#include "gateway/instance.h"
#include "gateway/keys.h"
#include "gateway/secrets.h"
#include "gateway/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <sodium.h>
#include <unistd.h>

/* ---- init ----------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* 1 when `dir` is absent, 0 when it exists and is empty, -1 otherwise. */
static int dir_state(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 1 : -1;
	struct dirent *de;
	int empty = 1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty ? 0 : -1;
}

static int ctl_init(ctl_t *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "site-name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *site_name = NULL;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+hn:", opts, NULL)) != -1) {
		if (ch == 'h')
			return ctl_help(c);
		if (ch == 'n') {
			site_name = optarg;
			continue;
		}
		return ctl_usage_err(c, "unknown option '%s'", argv[optind - 1]);
	}
	if (argc - optind != 1)
		return ctl_usage_err(c, argc - optind < 1 ? "missing DIR" : "too many arguments");
	const char *dir = argv[optind];

	int state = dir_state(dir);
	if (state < 0)
		return ctl_err("%s: exists and is not an empty folder; choose a new folder "
		               "(init never overwrites an instance)", dir);

	/* Build everything in a temporary sibling folder, then rename it into
	 * place: a failure at any step leaves nothing behind. */
	char *dcopy = strdup(dir), *bcopy = strdup(dir);
	char tmp[PATH_MAX], cfgpath[PATH_MAX + 32], final_abs[PATH_MAX];
	int rc = CTL_FAIL, made_tmp = 0;
	mid_error_t err = { 0 };
	mid_instance_t *in = NULL;
	char site_id[MID_ID_LEN];

	if (!dcopy || !bcopy)
		goto out;
	snprintf(tmp, sizeof tmp, "%s/.%s.init-XXXXXX", dirname(dcopy), basename(bcopy));
	if (!mkdtemp(tmp)) {
		ctl_err("%s: cannot create a folder beside it: %s", dir, strerror(errno));
		goto out;
	}
	made_tmp = 1;
	chmod(tmp, 0750);
	snprintf(cfgpath, sizeof cfgpath, "%s/mobileidd.json", tmp);
	mid_uuid_new(site_id);
	if (mid_config_write_default(cfgpath, site_id, site_name, &err) != MID_OK) {
		ctl_err("%s", err.text);
		goto out;
	}
	/* master key first, then the store and the issuer keys sealed under it. */
	char keypath[PATH_MAX + 32];
	snprintf(keypath, sizeof keypath, "%s/master.key", tmp);
	if (mid_master_key_create(keypath, &err) != MID_OK) {
		ctl_err("%s", err.text);
		goto out;
	}
	mid_config_t *cfg = NULL;
	mid_config_diag_t diag = { 0 };
	if (mid_config_load_diag(cfgpath, &cfg, &diag, &err) != MID_OK) {
		ctl_err("internal error: the new config does not load: %s", err.text);
		mid_config_diag_free(&diag);
		goto out;
	}
	if (mid_instance_from_config(cfg, MID_INST_SECRETS | MID_INST_CREATE, "cli:init", &in,
	                             &err) != MID_OK) {
		ctl_err("%s", err.text);
		goto out;
	}
	if (mid_store_meta_set(in->store, "site_id", site_id, &err) != MID_OK ||
	    mid_keys_create_initial(in, &err) != MID_OK ||
	    mid_store_audit_append(in->store, "cli:init", "instance.init", site_id, NULL, NULL,
	                           &err) != MID_OK) {
		ctl_err("%s", err.text);
		goto out;
	}
	mid_instance_close(in);
	in = NULL;
	if (state == 0 && rmdir(dir) != 0) {
		ctl_err("%s: %s", dir, strerror(errno));
		goto out;
	}
	if (rename(tmp, dir) != 0) {
		ctl_err("%s: cannot move the new instance into place: %s", dir, strerror(errno));
		goto out;
	}
	made_tmp = 0;
	if (!realpath(dir, final_abs))
		snprintf(final_abs, sizeof final_abs, "%s", dir);
	if (c->json) {
		ctl_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "dir", final_abs,
		    "site_id", site_id, "config", "mobileidd.json", "store", "store.db",
		    "master_key", "master.key"));
	} else {
		printf("Created a mobileid-gateway instance in %s\n"
		       "  site id     %s\n"
		       "  config      %s/mobileidd.json\n"
		       "  store       %s/store.db (SQLite)\n"
		       "  master key  %s/master.key (mode 0600: back it up; without it the\n"
		       "              secrets and issuer keys in the store cannot be read)\n"
		       "  issuer key  Ed25519, current and next, sealed in the store\n\n"
		       "Next: mobileidctl -c %s/mobileidd.json config check\n",
		       final_abs, site_id, final_abs, final_abs, final_abs, final_abs);
	}
	rc = CTL_OK;
out:
	mid_instance_close(in);
	if (made_tmp)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dcopy);
	free(bcopy);
	return rc;
}

/* ---- secrets ---------------------------------------------------------------- */

#define SECRET_MAX (64 * 1024)

/* The same rule as $defs.secret in schemas/config.schema.json. */
static int secret_name_ok(const char *n)
{
	size_t l = strlen(n);
	if (l == 0 || l > 64 || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
	                          (n[0] >= '0' && n[0] <= '9')))
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

static int ctl_secret_set(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 1, 1);
	if (rc >= 0)
		return rc;
	const char *name = argv[optind];
	if (!secret_name_ok(name))
		return ctl_usage_err(c, "secret name \"%s\" must be 1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", name);
	mid_instance_t *in = ctl_instance(c, MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;

	int tty = isatty(STDIN_FILENO);
	struct termios old, noecho;
	if (tty) {
		fprintf(stderr, "Value for secret %s (input hidden, end with Enter): ", name);
		tcgetattr(STDIN_FILENO, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	unsigned char *buf = sodium_malloc(SECRET_MAX + 1);
	size_t len = 0;
	int too_big = 0;
	if (!buf) {
		if (tty)
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		return ctl_err("out of memory");
	}
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + len, SECRET_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (tty && memchr(buf, '\n', len))
			break;
		if (len > SECRET_MAX) {
			too_big = 1;
			break;
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (tty) {
		unsigned char *nl = memchr(buf, '\n', len);
		if (nl)
			len = (size_t)(nl - buf);
	} else if (len && buf[len - 1] == '\n') {
		len--; /* one trailing newline, as `echo` and here-strings add */
		if (len && buf[len - 1] == '\r')
			len--;
	}
	mid_error_t err = { 0 };
	if (too_big)
		rc = ctl_err("secret %s: the value is longer than %d bytes; nothing was stored", name, SECRET_MAX);
	else if (len == 0)
		rc = ctl_err("secret %s: the value on standard input is empty; nothing was stored", name);
	else if (mid_secret_set(in->secrets, name, buf, len, &err) != MID_OK)
		rc = ctl_err("%s", err.text);
	else {
		mid_store_audit_append(in->store, in->actor, "secret.set", name, NULL, NULL, NULL);
		if (c->json)
			ctl_print_json(json_pack("{s:s, s:b}", "name", name, "stored", 1));
		else if (!c->quiet)
			printf("secret %s stored (%zu bytes, encrypted)\n", name, len);
		rc = CTL_OK;
	}
	sodium_free(buf);
	return rc;
}

static int ctl_secret_list(ctl_t *c, int argc, char **argv)
{
	static const char *const heads[] = { "NAME" };
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_instance_t *in = ctl_instance(c, MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	char **names = NULL;
	size_t n = 0;
	mid_error_t err = { 0 };
	if (mid_secret_list(in->secrets, &names, &n, &err) != MID_OK)
		return ctl_err("%s", err.text);
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_string(names[i]));
		ctl_print_json(a);
	} else if (n == 0) {
		printf("no secrets stored\n");
	} else {
		ctl_table_t t;
		ctl_table_init(&t, 1, heads);
		for (size_t i = 0; i < n; i++)
			ctl_table_add(&t, names[i]);
		ctl_table_print(&t, stdout);
		ctl_table_free(&t);
	}
	mid_strv_free(names, n);
	return CTL_OK;
}

static int ctl_secret_rm(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 1, 1);
	if (rc >= 0)
		return rc;
	const char *name = argv[optind];
	mid_instance_t *in = ctl_instance(c, MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	mid_error_t err = { 0 };
	rc = mid_secret_remove(in->secrets, name, &err);
	if (rc == MID_ENOTFOUND)
		return ctl_err("secret %s does not exist; `mobileidctl secret list` shows the stored ones", name);
	if (rc != MID_OK)
		return ctl_err("%s", err.text);
	mid_store_audit_append(in->store, in->actor, "secret.remove", name, NULL, NULL, NULL);
	if (c->json)
		ctl_print_json(json_pack("{s:s, s:b}", "name", name, "removed", 1));
	else if (!c->quiet)
		printf("secret %s removed\n", name);
	return CTL_OK;
}

/* ---- status ------------------------------------------------------------------ */

static char *fmt_time(int64_t ms, char *buf, size_t size)
{
	if (ms <= 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static int ctl_status(ctl_t *c, int argc, char **argv)
{
	int rc = ctl_simple_args(c, argc, argv, 0, 0);
	if (rc >= 0)
		return rc;
	mid_instance_t *in = ctl_instance(c, MID_INST_SECRETS);
	if (!in)
		return CTL_FAIL;
	mid_error_t err = { 0 };
	int64_t people = 0, active = 0, suspended = 0, pending = 0, dead = 0;
	mid_store_person_count(in->store, 0, &people, &err);
	mid_store_person_count(in->store, MID_PERSON_ACTIVE, &active, &err);
	mid_store_person_count(in->store, MID_PERSON_SUSPENDED, &suspended, &err);
	mid_store_outbox_count(in->store, NULL, MID_OUTBOX_PENDING, &pending, &err);
	mid_store_outbox_count(in->store, NULL, MID_OUTBOX_DEAD, &dead, &err);
	mid_published_key_t *keys = NULL;
	size_t nkeys = 0;
	mid_keys_list(in, &keys, &nkeys, &err);
	char **secrets = NULL;
	size_t nsecrets = 0;
	mid_secret_list(in->secrets, &secrets, &nsecrets, &err);

	json_t *out = json_pack("{s:s, s:s, s:s, s:s?, s:i, s:{s:I, s:I, s:I}, s:{s:I, s:I}, s:i}",
	    "version", PACKAGE_VERSION, "config", in->cfg->path, "store", in->cfg->store_path,
	    "site_id", in->cfg->site_id, "store_schema", mid_store_schema_version(in->store),
	    "people", "total", (json_int_t)people, "active", (json_int_t)active,
	    "suspended", (json_int_t)suspended,
	    "outbox", "pending", (json_int_t)pending, "dead", (json_int_t)dead,
	    "secrets", (int)nsecrets);
	json_t *jk = json_array(), *jb = json_array();
	for (size_t i = 0; i < nkeys; i++)
		json_array_append_new(jk, json_pack("{s:s, s:s}", "key_id", keys[i].key_id,
		                                    "state", mid_key_state_name(keys[i].state)));
	json_object_set_new(out, "issuer_keys", jk);

	if (!c->json) {
		printf("mobileid-gateway %s\n", PACKAGE_VERSION);
		printf("  config        %s\n", in->cfg->path);
		printf("  site          %s%s%s%s\n", in->cfg->site_id,
		       in->cfg->site_name ? " (" : "", in->cfg->site_name ? in->cfg->site_name : "",
		       in->cfg->site_name ? ")" : "");
		printf("  store         %s (schema %d)\n", in->cfg->store_path,
		       mid_store_schema_version(in->store));
		printf("  people        %lld (%lld active, %lld suspended)\n", (long long)people,
		       (long long)active, (long long)suspended);
		printf("  outbox        %lld pending, %lld dead%s\n", (long long)pending, (long long)dead,
		       dead ? "  <- see `mobileidctl outbox list --dead`" : "");
		printf("  secrets       %zu stored\n", nsecrets);
		for (size_t i = 0; i < nkeys; i++)
			printf("  issuer key    %s (%s)\n", keys[i].key_id, mid_key_state_name(keys[i].state));
		if (in->cfg->nbindings == 0)
			printf("  bindings      none (standalone)\n");
	}
	for (size_t i = 0; i < in->cfg->nbindings; i++) {
		const mid_config_binding_t *b = &in->cfg->bindings[i];
		mid_run_t *runs = NULL;
		size_t nruns = 0;
		char when[32];
		mid_error_t berr = { 0 };
		const mid_module_t *m = NULL;
		mid_config_diag_t diag = { 0 };
		int ok = mid_binding_check(in->cfg, i, in->mh, &m, &diag, &berr) == MID_OK;
		mid_config_diag_free(&diag);
		mid_store_run_list(in->store, b->name, 1, &runs, &nruns, &berr);
		const char *st = nruns ? mid_run_status_name(runs[0].status) : "never run";
		json_array_append_new(jb, json_pack("{s:s, s:s?, s:s?, s:s, s:b, s:s, s:s?}",
		    "name", b->name, "connector", b->connector, "plugin", b->plugin,
		    "schedule", b->schedule ? b->schedule : "manual", "connector_ok", ok,
		    "last_run", st, "error", ok ? NULL : berr.text));
		if (!c->json)
			printf("  binding       %s: %s, %s, last run %s%s%s\n", b->name,
			       b->connector ? b->connector : b->plugin,
			       b->schedule ? b->schedule : "manual", st,
			       nruns ? " at " : "", nruns ? fmt_time(runs[0].finished ? runs[0].finished : runs[0].started, when, sizeof when) : "");
		if (!c->json && !ok)
			printf("                %s\n", berr.text);
		free(runs);
	}
	json_object_set_new(out, "bindings", jb);
	if (c->json)
		ctl_print_json(out);
	else
		json_decref(out);
	free(keys);
	mid_strv_free(secrets, nsecrets);
	return CTL_OK;
}

static const ctl_cmd_t admin_cmds[] = {
	{ "init", ctl_init, "create a new instance: config, master key, store, issuer key",
	  "init [-n|--site-name NAME] DIR\n\n"
	  "Create a ready gateway instance in DIR (which must not exist or be empty):\n"
	  "  DIR/mobileidd.json  the config (site id, SQLite store, defaults)\n"
	  "  DIR/master.key      32 random bytes, mode 0600: encrypts secrets and keys\n"
	  "  DIR/store.db        the SQLite store (WAL), migrated to the current schema\n"
	  "and an Ed25519 site issuer key (current and next), sealed in the store.\n"
	  "Everything is built in a temporary folder and moved into place at the end:\n"
	  "a failure leaves nothing behind. Back up master.key: without it the\n"
	  "secrets and issuer keys cannot be read.\n" },
	{ "secret set", ctl_secret_set, "store a secret read from standard input",
	  "secret set NAME\n\n"
	  "Read a value from standard input and store it encrypted under the master\n"
	  "key as NAME. On a terminal the input is hidden and ends at Enter;\n"
	  "otherwise it is read to the end, minus one trailing newline. At most\n"
	  "65536 bytes. Reference it from the config as {\"secret\": \"NAME\"}.\n"
	  "The value is never printed or logged.\n" },
	{ "secret list", ctl_secret_list, "list the names of stored secrets",
	  "secret list\n\nList the names of the stored secrets (never their values).\n" },
	{ "secret rm", ctl_secret_rm, "remove a stored secret",
	  "secret rm NAME\n\nRemove the secret NAME.\n" },
	{ "status", ctl_status, "show the instance: store, people, keys, bindings, outbox",
	  "status\n\n"
	  "Show the instance at a glance: config and store, people counts, issuer\n"
	  "keys, each binding with its connector check and last run, and the\n"
	  "outbox (pending and dead entries).\n" },
};
const ctl_group_t ctl_group_admin = { admin_cmds, sizeof admin_cmds / sizeof admin_cmds[0] };
