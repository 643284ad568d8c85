/* gateway/config_test.c -- unit tests of the config loader. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "tests/tap.h"

static char tmpdir[256];

static char *write_file(const char *name, const char *text)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		return NULL;
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return p;
}

#define SITE "\"site\": {\"id\": \"0f8fad5b-d9cb-469f-a165-70867728950e\"}"

static const char *good_config =
    "{\n"
    "  \"site\": {\"id\": \"0f8fad5b-d9cb-469f-a165-70867728950e\", \"name\": \"HQ\"},\n"
    "  \"state_dir\": \"state\",\n"
    "  \"log\": {\"target\": \"syslog\", \"level\": \"debug\"},\n"
    "  \"module_path\": [\"modules\", \"/opt/mid/modules\"],\n"
    "  \"http\": {\"listen\": \"0.0.0.0:8443\", \"tls_cert\": \"tls/cert.pem\", \"tls_key\": \"tls/key.pem\","
    "             \"public_url\": \"https://gw.example.com\"},\n"
    "  \"issuance\": {\"ranges\": [\n"
    "     {\"format\": \"H10301\", \"facility_code\": 12, \"first\": 1, \"last\": 65535},\n"
    "     {\"format\": \"H10301\", \"facility_code\": 13, \"first\": 1, \"last\": 100},\n"
    "     {\"format\": \"H10302\", \"first\": 1, \"last\": 34359738367},\n"
    "     {\"format\": \"C1000-35\", \"facility_code\": 4095, \"first\": 0, \"last\": 1048575}],\n"
    "     \"default_type\": \"single-issue\", \"app_link\": \"https://example.com/app\"},\n"
    "  \"smtp\": {\"url\": \"smtp://127.0.0.1:2525\", \"from\": \"gw@example.com\", \"username\": \"gw\",\n"
    "           \"password\": {\"secret\": \"smtp-password\"}, \"starttls\": \"required\"},\n"
    "  \"bindings\": [\n"
    "    {\"name\": \"pacs-file\", \"connector\": \"csv\", \"direction\": \"inbound\", \"schedule\": \"every 15m\",\n"
    "     \"match\": [\"employee_id\", \"email\"], \"authority\": {\"given_name\": \"pacs\", \"email\": \"gateway\", \"*\": \"pacs\"},\n"
    "     \"mapping\": {\"inbound\": {\"given_name\": {\"from\": \"First Name\", \"transform\": [\"trim\", {\"date\": \"%d.%m.%Y\"}]},\n"
    "                               \"attributes.site\": {\"const\": \"HQ\"}},\n"
    "                 \"outbound\": {\"CardNo\": {\"from\": \"credential.card_number\"}}},\n"
    "     \"settings\": {\"folder\": \"/srv/drop\", \"anything\": {\"nested\": true}, \"api_key\": {\"secret\": \"k\"}}},\n"
    "    {\"name\": \"scim\", \"plugin\": \"scim2\", \"max_delete_ratio\": 0.25, \"on_delete\": \"purge\", \"enabled\": false}\n"
    "  ]\n"
    "}\n";

static void test_good(void)
{
	mid_config_t *cfg = NULL;
	mid_error_t err = { 0 };
	mid_config_diag_t d = { 0 };
	char *path = write_file("good.json", good_config), *want = NULL;
	int rc = mid_config_load_diag(path, &cfg, &d, &err);
	is_int(rc, MID_OK, "good config loads");
	for (size_t i = 0; i < d.n; i++)
		diag("%s", d.lines[i]);
	is_int(d.n, 0, "no problems listed");
	if (!cfg)
		goto out;
	is_str(cfg->path, path, "path is absolute");
	is_str(cfg->dir, tmpdir, "dir");
	is_str(cfg->site_id, "0f8fad5b-d9cb-469f-a165-70867728950e", "site id");
	is_str(cfg->site_name, "HQ", "site name");
	if (asprintf(&want, "%s/state", tmpdir) > 0)
		is_str(cfg->state_dir, want, "state_dir relative to the config folder");
	free(want);
	if (asprintf(&want, "%s/state/store.db", tmpdir) > 0)
		is_str(cfg->store_path, want, "store path default, relative to state_dir");
	free(want);
	if (asprintf(&want, "%s/state/master.key", tmpdir) > 0)
		is_str(cfg->master_key_file, want, "master key default");
	free(want);
	is_int(cfg->log_target, MID_CONFIG_LOG_SYSLOG, "log target");
	is_int(cfg->log_level, MID_LOG_DEBUG, "log level");
	is_int(cfg->nmodule_path, 2, "module paths");
	if (asprintf(&want, "%s/modules", tmpdir) > 0)
		is_str(cfg->module_path[0], want, "module path relative to config folder");
	free(want);
	is_str(cfg->module_path[1], "/opt/mid/modules", "absolute module path kept");
	is_int(cfg->nplugin_path, 0, "plugin path default empty");
	is_str(cfg->http.listen, "0.0.0.0:8443", "listen");
	is_int(cfg->http.max_body_bytes, 65536, "max body default");
	is_int(cfg->http.timeout_seconds, 15, "timeout default");
	is_int(cfg->issuance.nranges, 4, "ranges");
	is_int(cfg->issuance.ranges[2].format, MID_FORMAT_H10302, "range format");
	is_int(cfg->issuance.ranges[2].last, 34359738367LL, "35-bit card number");
	is_int(cfg->issuance.ranges[0].facility_code, 12, "facility code");
	is_int(cfg->issuance.default_type, MID_CRED_SINGLE_ISSUE, "default type");
	is_int(cfg->issuance.validity_days, 365, "validity default");
	is_int(cfg->issuance.invitation_ttl_hours, 72, "ttl default");
	is_int(cfg->smtp.enabled, 1, "smtp enabled");
	is_int(cfg->smtp.starttls, MID_STARTTLS_REQUIRED, "starttls");
	is_str(cfg->smtp.password_secret, "smtp-password", "smtp password secret name");
	is_int(cfg->runs_kept, 50, "runs_kept default");
	is_int(cfg->nbindings, 2, "bindings");
	const mid_config_binding_t *b = mid_config_binding(cfg, "pacs-file");
	ok(b == &cfg->bindings[0], "binding by name");
	is_str(b->connector, "csv", "connector");
	ok(b->plugin == NULL, "no plugin");
	is_int(b->direction, MID_DIRECTION_INBOUND, "direction");
	is_int(b->schedule_seconds, 900, "every 15m");
	is_int(b->nmatch, 2, "match keys");
	is_str(b->match[1], "email", "match key");
	ok(b->max_delete_ratio > 0.099 && b->max_delete_ratio < 0.101, "max_delete_ratio default 0.1");
	is_int(b->on_delete, MID_ON_DELETE_SUSPEND, "on_delete default");
	is_int(b->enabled, 1, "enabled default");
	ok(json_is_true(json_object_get(json_object_get(b->settings, "anything"), "nested")), "settings kept as is");
	ok(json_is_object(json_object_get(b->mapping, "inbound")), "mapping");
	is_str(json_string_value(json_object_get(b->authority, "email")), "gateway", "authority");
	b = &cfg->bindings[1];
	is_str(b->plugin, "scim2", "plugin binding");
	is_int(b->schedule_seconds, 0, "manual by default");
	is_int(b->direction, MID_DIRECTION_BOTH, "direction default both");
	is_int(b->on_delete, MID_ON_DELETE_PURGE, "purge");
	is_int(b->enabled, 0, "disabled");
	ok(json_is_object(b->settings) && json_object_size(b->settings) == 0, "settings default {}");

	char *shown = mid_config_show(cfg, 0);
	ok(shown && strstr(shown, "\"<secret smtp-password>\""), "show: secret reference shown by name");
	ok(shown && strstr(shown, "\"api_key\": \"<secret k>\""), "show: secret in settings shown by name");
	ok(shown && !strstr(shown, "\"secret\":"), "show: no raw secret object left");
	ok(shown && shown[0] == '#', "show: human form starts with a comment line");
	free(shown);
	shown = mid_config_show(cfg, 1);
	json_t *parsed = shown ? json_loads(shown, 0, NULL) : NULL;
	ok(parsed != NULL, "show --json is JSON");
	json_decref(parsed);
	free(shown);
out:
	mid_config_diag_free(&d);
	mid_config_free(cfg);
	unlink(path);
	free(path);
}

/* Parse `text`; expect failure and a problem line containing every
 * '|'-separated part of `want`. */
static void bad(const char *text, const char *want, const char *name)
{
	mid_config_t *cfg = NULL;
	mid_error_t err = { 0 };
	mid_config_diag_t d = { 0 };
	int rc = mid_config_parse_buffer(text, strlen(text), "test.json", "/etc/mobileid", &cfg, &d, &err);
	int found = 0;
	for (size_t i = 0; i < d.n && !found; i++) {
		char buf[512];
		snprintf(buf, sizeof buf, "%s", want);
		found = 1;
		for (char *save = NULL, *part = strtok_r(buf, "|", &save); part; part = strtok_r(NULL, "|", &save))
			if (!strstr(d.lines[i], part))
				found = 0;
	}
	ok(rc == MID_EINVAL && !cfg && found && strncmp(err.text, "test.json: ", 11) == 0, "%s", name);
	if (!found || rc != MID_EINVAL)
		for (size_t i = 0; i < d.n; i++)
			diag("line: %s", d.lines[i]);
	mid_config_diag_free(&d);
	mid_config_free(cfg);
}

static void test_bad(void)
{
	bad("{" SITE ", \"bindings\": [{\"name\": \"a\", \"connector\": \"csv\"}, {\"name\": \"b\", \"connector\": \"csv\"},"
	    " {\"name\": \"c\", \"connector\": \"csv\", \"shedule\": \"manual\"}]}",
	    "test.json: bindings[2]: unknown key \"shedule\" (did you mean \"schedule\"?", "unknown key with its path");
	bad("{" SITE ", \"runs_kept\": \"10\"}", "test.json: runs_kept: expected integer, got string \"10\"", "wrong type");
	bad("{" SITE ", \"log\": {\"level\": \"verbose\"}}",
	    "log.level: must be one of: error, warning, notice, info, debug", "bad enum");
	bad("{\"site\": {}}", "site: missing required key \"id\"", "missing required key");
	bad("{\"site\": {\"id\": \"12\"}}", "site.id: must be a UUID", "bad uuid");
	bad("[]", "(top level): expected object, got an array", "not an object");
	bad("{" SITE ",\n  \"log\": {\"level\": \"info\",}\n}", "test.json: line 2, column|not valid JSON", "invalid JSON with line and column");
	bad("{" SITE ", \"runs_kept\": 1, \"runs_kept\": 2}", "line 1|duplicate object key", "duplicate keys");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\"}, {\"name\": \"x\", \"plugin\": \"scim2\"}]}",
	    "bindings[1].name: \"x\" is already the name of bindings[0]", "duplicate binding names");
	bad("{" SITE ", \"bindings\": [{\"name\": \"Bad Name\", \"connector\": \"csv\"}]}",
	    "bindings[0].name: must be a name of lower-case letters", "unsafe binding name");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"plugin\": \"scim2\"}]}",
	    "bindings[0]: has both \"connector\" and \"plugin\"", "connector and plugin");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\"}]}", "bindings[0]: needs \"connector\"", "neither connector nor plugin");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"schedule\": \"every 0m\"}]}",
	    "bindings[0].schedule: \"every 0m\" is not a schedule", "zero schedule");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"schedule\": \"hourly\"}]}",
	    "bindings[0].schedule: must be \"manual\" or \"every N\"", "schedule syntax");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"match\": [\"emial\"]}]}",
	    "bindings[0].match[0]: match key \"emial\" is not a canonical field", "unknown match field");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"direction\": \"in\"}]}",
	    "bindings[0].direction: must be one of: inbound, outbound, both", "bad direction");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"max_delete_ratio\": 2}]}",
	    "bindings[0].max_delete_ratio: must be at most 1", "ratio too big");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"mapping\": {\"inbound\":"
	    " {\"email\": {\"from\": \"mail\", \"transform\": [\"lowr\"]}}}}]}",
	    "bindings[0].mapping.inbound.email.transform[0]: must be one of: trim, lower, upper", "bad transform");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"csv\", \"mapping\": {\"inbound\":"
	    " {\"nickname\": {\"from\": \"nick\"}}}}]}",
	    "bindings[0].mapping.inbound: target \"nickname\" is not a canonical field", "bad mapping target");
	bad("{" SITE ", \"issuance\": {\"ranges\": [{\"format\": \"H10301\", \"facility_code\": 1, \"first\": 1, \"last\": 100},"
	    " {\"format\": \"H10301\", \"facility_code\": 1, \"first\": 50, \"last\": 200}]}}",
	    "issuance.ranges[1]: overlaps issuance.ranges[0]", "overlapping ranges");
	bad("{" SITE ", \"issuance\": {\"ranges\": [{\"format\": \"H10301\", \"facility_code\": 256, \"first\": 1, \"last\": 100}]}}",
	    "issuance.ranges[0]: facility_code 256 does not fit H10301 (0-255)", "facility code out of range");
	bad("{" SITE ", \"issuance\": {\"ranges\": [{\"format\": \"H10304\", \"facility_code\": 1, \"first\": 1, \"last\": 524288}]}}",
	    "issuance.ranges[0]: last 524288 does not fit H10304", "card number out of range");
	bad("{" SITE ", \"issuance\": {\"ranges\": [{\"format\": \"H10302\", \"facility_code\": 5, \"first\": 1, \"last\": 2}]}}",
	    "H10302 has no facility code", "H10302 with a facility code");
	bad("{" SITE ", \"issuance\": {\"ranges\": [{\"format\": \"C1000-35\", \"facility_code\": 1, \"first\": 9, \"last\": 2}]}}",
	    "first (9) is greater than last (2)", "first > last");
	bad("{" SITE ", \"issuance\": {\"ranges\": [{\"format\": \"H10301\", \"first\": 1, \"last\": 2}]}}",
	    "facility_code is required for H10301", "missing facility code");
	bad("{" SITE ", \"smtp\": {\"url\": \"smtp://h:25\", \"from\": \"a@b\", \"username\": \"u\", \"password\": \"hunter2\"}}",
	    "smtp.password: plain-text secret not allowed|mobileidctl secret set", "plaintext secret");
	bad("{" SITE ", \"bindings\": [{\"name\": \"x\", \"connector\": \"rest\", \"settings\": {\"auth\": {\"client_secret\": \"s3\"}}}]}",
	    "bindings[0].settings.auth.client_secret: plain-text secret not allowed", "plaintext secret inside settings");
	bad("{" SITE ", \"http\": {\"listen\": \"0.0.0.0:8080\"}}",
	    "http.listen: plain HTTP is allowed only on loopback", "plain HTTP off loopback");
	bad("{" SITE ", \"http\": {\"listen\": \"localhost\"}}", "http.listen: must be HOST:PORT", "listen without port");

	/* Several problems are all listed, in one pass. */
	const char *many = "{" SITE ", \"runs_kept\": \"x\", \"log\": {\"level\": 3}, \"nope\": 1}";
	mid_config_t *cfg = NULL;
	mid_error_t err = { 0 };
	mid_config_diag_t d = { 0 };
	mid_config_parse_buffer(many, strlen(many), "m.json", NULL, &cfg, &d, &err);
	is_int(d.n, 3, "three problems listed at once");
	ok(d.n && strcmp(err.text, d.lines[0]) == 0, "err->text is the first problem");
	mid_config_diag_free(&d);

	/* The list is bounded. */
	char *big = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&big, &len);
	fprintf(f, "{" SITE ", \"bindings\": [");
	for (int i = 0; i < 200; i++)
		fprintf(f, "%s{\"name\": \"b%d\", \"connector\": \"csv\", \"bad\": 1}", i ? "," : "", i);
	fprintf(f, "]}");
	fclose(f);
	mid_config_parse_buffer(big, len, "big.json", NULL, &cfg, &d, &err);
	is_int(d.n, MID_CONFIG_MAX_ERRORS, "problem list bounded");
	ok(d.n && strstr(d.lines[d.n - 1], "and 151 more problems"), "last line counts the rest (%s)",
	   d.n ? d.lines[d.n - 1] : "");
	mid_config_diag_free(&d);
	free(big);
}

static void test_files(void)
{
	mid_config_t *cfg = NULL;
	mid_error_t err = { 0 };
	mid_config_diag_t d = { 0 };
	char *missing = NULL;
	if (asprintf(&missing, "%s/missing.json", tmpdir) < 0)
		return;
	is_int(mid_config_load_diag(missing, &cfg, &d, &err), MID_ENOTFOUND, "missing file");
	ok(strstr(err.text, "missing.json: no such file") && strstr(err.text, "mobileidctl init"),
	   "missing file message names the file and the fix (%s)", err.text);
	is_int(d.n, 1, "one line for a missing file");
	mid_config_diag_free(&d);
	free(missing);

	char *p = write_file("unreadable.json", "{}");
	chmod(p, 0);
	if (geteuid() == 0) {
		ok(1, "# SKIP unreadable file: running as root");
	} else {
		is_int(mid_config_load(p, &cfg, &err), MID_EIO, "unreadable file");
		ok(strstr(err.text, "unreadable.json: cannot read: Permission denied") != NULL,
		   "unreadable file message (%s)", err.text);
	}
	unlink(p);
	free(p);

	is_int(mid_config_load(tmpdir, &cfg, &err), MID_EINVAL, "a folder is refused");

	p = write_file("syntax.json", "{\n  \"site\": {\n    \"id\": 'x'\n  }\n}\n");
	is_int(mid_config_load(p, &cfg, &err), MID_EINVAL, "invalid JSON file");
	ok(strstr(err.text, "syntax.json: line 3, column") != NULL, "line and column (%s)", err.text);
	unlink(p);
	free(p);

	char *huge = malloc(MID_CONFIG_MAX_BYTES + 10);
	memset(huge, ' ', MID_CONFIG_MAX_BYTES + 9);
	huge[MID_CONFIG_MAX_BYTES + 9] = 0;
	p = write_file("huge.json", huge);
	is_int(mid_config_load(p, &cfg, &err), MID_ELIMIT, "file over 1 MiB refused");
	unlink(p);
	free(p);
	free(huge);
}

static void test_default(void)
{
	char *p = NULL;
	mid_error_t err = { 0 };
	mid_config_t *cfg = NULL;
	struct stat st;
	if (asprintf(&p, "%s/init.json", tmpdir) < 0)
		return;
	is_int(mid_config_write_default(p, "0f8fad5b-d9cb-469f-a165-70867728950e", "Test site", &err), MID_OK,
	       "write default config");
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640, "mode 0640");
	is_int(mid_config_write_default(p, "0f8fad5b-d9cb-469f-a165-70867728950e", NULL, &err), MID_ECONFLICT,
	       "an existing config is not replaced");
	is_int(mid_config_load(p, &cfg, &err), MID_OK, "the default config loads");
	if (cfg) {
		is_str(cfg->site_name, "Test site", "site name written");
		is_int(cfg->issuance.nranges, 1, "one default range");
		is_str(cfg->state_dir, tmpdir, "state_dir defaults to the config folder");
	}
	mid_config_free(cfg);
	unlink(p);
	is_int(mid_config_write_default(p, "not-a-uuid", NULL, &err), MID_EINVAL, "bad site id refused");
	ok(access(p, F_OK) != 0, "nothing written for a bad site id");
	free(p);
	if (asprintf(&p, "%s/no/such/dir/x.json", tmpdir) > 0) {
		is_int(mid_config_write_default(p, "0f8fad5b-d9cb-469f-a165-70867728950e", NULL, &err), MID_EIO,
		       "missing folder");
		free(p);
	}
}

static void test_misc(void)
{
	ok(mid_config_is_secret_key("password"), "password is secret-like");
	ok(mid_config_is_secret_key("Client-Secret"), "Client-Secret is secret-like");
	ok(mid_config_is_secret_key("bind_password"), "bind_password is secret-like");
	ok(!mid_config_is_secret_key("tls_key"), "tls_key (a path) is not");
	ok(!mid_config_is_secret_key("username"), "username is not");

	mid_config_diag_t d = { 0 };
	mid_error_t err = { 0 };
	json_t *p = json_pack("{s:s}", "email", "x");
	is_int(mid_config_validate_named("person", p, "record", &d, &err), MID_EINVAL, "validate a person by name");
	ok(d.n == 1 && strstr(d.lines[0], "record.email:"), "path with prefix");
	mid_config_diag_free(&d);
	is_int(mid_config_validate_named("nope", p, NULL, NULL, &err), MID_ENOTFOUND, "unknown schema name");
	json_decref(p);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/mid-config-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	char *real = realpath(tmpdir, NULL);
	if (real) {
		snprintf(tmpdir, sizeof tmpdir, "%s", real);
		free(real);
	}
	test_good();
	test_bad();
	test_files();
	test_default();
	test_misc();
	rmdir(tmpdir);
	return tap_done();
}
