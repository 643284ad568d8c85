/* gateway/modhost_test.c -- the plugin host against good and broken modules. */
#include "config.h"
#include "gateway/modhost.h"
#include "gateway/log.h"
#include "tests/tap.h"

#include <stdlib.h>
#include <string.h>

static const char *bk_dir(void)
{
	static char dir[4096];
	const char *b = getenv("top_builddir");
	snprintf(dir, sizeof dir, "%s/tests/modules/.libs", b ? b : ".");
	return dir;
}

static void expect_refused(mid_modhost_t *mh, const char *name, const char *needle)
{
	char file[4200];
	const mid_module_t *m = NULL;
	mid_error_t err = { 0 };
	snprintf(file, sizeof file, "%s/bk_%s.so", bk_dir(), name);
	int rc = mid_modhost_load_file(mh, file, &m, &err);
	ok(rc < 0 && m == NULL, "%s module is refused", name);
	ok(strstr(err.text, needle) != NULL, "%s: message says \"%s\"", name, needle);
	ok(strstr(err.text, file) != NULL, "%s: message names the file", name);
	if (!strstr(err.text, needle))
		diag("message: %s", err.text);
}

static int records;
static int rec_cb(void *ctx, const mid_record_t *rec, mid_error_t *err)
{
	(void)ctx; (void)err;
	if (rec->op == MID_OP_UPSERT && rec->nfields == 4)
		records++;
	return MID_OK;
}

int main(void)
{
	mid_error_t err = { 0 };
	mid_modhost_t *mh = NULL;
	const char *nulldir_env = getenv("top_builddir");
	char nulldir[4096];
	snprintf(nulldir, sizeof nulldir, "%s/connectors/null/.libs", nulldir_env ? nulldir_env : ".");
	const char *dirs[] = { "/nonexistent-dir", nulldir };

	mid_log_init("modhost_test", MID_LOGT_STDERR, MID_LOG_ERR);
	ok(mid_modhost_new(dirs, 2, &mh, &err) == MID_OK, "host created");

	expect_refused(mh, "badabi", "ABI 2.1 is not supported by this gateway (ABI 1.1)");
	expect_refused(mh, "newminor", "ABI 1.8 is newer than this gateway's ABI 1.1");
	expect_refused(mh, "small", "descriptor size 16");
	expect_refused(mh, "nosym", "symbol \"mid_connector\" is missing");
	expect_refused(mh, "caps", "declares the push capability but its push function is missing");

	const mid_module_t *m = NULL;
	memset(&err, 0, sizeof err);
	int rc = mid_modhost_load(mh, "no-such-connector", &m, &err);
	is_int(rc, MID_ENOTFOUND, "unknown connector name is not found");
	ok(strstr(err.text, "no-such-connector.so") && strstr(err.text, "/nonexistent-dir"),
	   "message names the file looked for and the search path");
	rc = mid_modhost_load(mh, "../etc/passwd", &m, &err);
	is_int(rc, MID_EINVAL, "a name with a path is refused");

	/* failopen loads fine but its open fails with a value, not a crash. */
	char file[4200];
	snprintf(file, sizeof file, "%s/bk_failopen.so", bk_dir());
	rc = mid_modhost_load_file(mh, file, &m, &err);
	ok(rc == MID_OK && m && strcmp(m->name, "failopen") == 0, "failopen module loads");
	if (rc == MID_OK) {
		mid_hosttab_t tab;
		void *inst = NULL;
		mid_hosttab_init(&tab, m->name, "/tmp", NULL, NULL);
		memset(&err, 0, sizeof err);
		rc = m->desc.open(&tab.host, "{}", &inst, &err);
		ok(rc == MID_EAUTH && strstr(err.text, "refused"), "failing open is reported as an error value");
		mid_hosttab_clear(&tab);
	}

	/* The null connector: load by name, check, open, pull, push. */
	rc = mid_modhost_load(mh, "null", &m, &err);
	ok(rc == MID_OK, "null connector loads by name");
	if (rc != MID_OK) {
		diag("%s", err.text);
	} else {
		char caps[128];
		is_str(m->name, "null", "descriptor name");
		is_str(mid_caps_string(m->desc.capabilities, caps, sizeof caps),
		       "pull-full,push-upsert,push-remove,test", "capabilities");
		mid_hosttab_t tab;
		void *inst = NULL;
		mid_hosttab_init(&tab, m->name, "/tmp", NULL, NULL);
		rc = m->desc.open(&tab.host, "{\"count\": 5}", &inst, &err);
		ok(rc == MID_OK && inst, "null opens");
		mid_pull_sink_t sink = { .record = rec_cb };
		mid_pull_req_t req = { .mode = MID_PULL_FULL };
		mid_pull_result_t res = { 0 };
		rc = m->desc.pull(inst, &req, &sink, &res, &err);
		ok(rc == MID_OK && res.complete, "null pull completes");
		is_int(records, 5, "null pull gave five records");
		mid_push_result_t pres = { 0 };
		const char *v[] = { "x" };
		mid_field_t f = { "given_name", v, 1 };
		mid_record_t rec = { .op = MID_OP_UPSERT, .external_id = "", .fields = &f, .nfields = 1 };
		rc = m->desc.push(inst, &rec, &pres, &err);
		ok(rc == MID_OK && strcmp(pres.external_id, "null-pushed-1") == 0, "null push assigns an id");
		m->desc.close(inst);
		const mid_module_t *again = NULL;
		ok(mid_modhost_load(mh, "null", &again, &err) == MID_OK && again == m,
		   "loading the same name twice gives the same module");
		mid_hosttab_clear(&tab);
	}
	mid_modhost_free(mh);
	return tap_done();
}
