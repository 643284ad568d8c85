/* connectors/csv/csv_test.c -- unit tests of the CSV connector module,
 * through its descriptor and a mock host. Includes csv.c to reach statics. */
#include "connectors/csv/csv.c"

#include <sys/time.h>

#include "tests/mock_host.h"
#include "tests/tap.h"

static char root[256], inbox[300], archive[300], reports[300], outdir[300];
static mock_host_t mh;
static const mid_connector_t *D = &mid_connector;

static void sh_rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[2 * PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			sh_rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void reset_dirs(void)
{
	sh_rm_rf(inbox);
	sh_rm_rf(archive);
	sh_rm_rf(reports);
	sh_rm_rf(outdir);
	mkdir(inbox, 0755);
	mkdir(archive, 0755);
	mkdir(reports, 0755);
	mkdir(outdir, 0755);
}

/* Write inbox/NAME with the given bytes and mtime (seconds since the epoch). */
static void drop_n(const char *name, const char *text, size_t n, time_t mtime)
{
	char p[1024];
	FILE *f;
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };

	snprintf(p, sizeof p, "%s/%s", inbox, name);
	f = fopen(p, "wb");
	if (!f)
		return;
	fwrite(text, 1, n, f);
	fclose(f);
	utimensat(AT_FDCWD, p, ts, 0);
}

static void drop(const char *name, const char *text)
{
	drop_n(name, text, strlen(text), 1700000000);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char p[2 * PATH_MAX];
	FILE *f;
	char *buf;
	long n;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static int exists(const char *dir, const char *name)
{
	char p[2 * PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* Number of entries in dir (hidden ones included when `hidden`). */
static int count_dir(const char *dir, int hidden)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    (hidden || de->d_name[0] != '.'))
			n++;
	closedir(d);
	return n;
}

/* settings = base + extra JSON members (without braces) */
static void *open_with(const char *extra, mid_error_t *err)
{
	char s[8192];
	void *inst = NULL;

	snprintf(s, sizeof s, "{\"inbox_dir\":\"%s\",\"archive_dir\":\"%s\",\"report_dir\":\"%s\","
	         "%s%s%s\"id_column\":\"employee_id\"%s%s}",
	         inbox, archive, reports, extra && strstr(extra, "export_") ? "\"outbound_dir\":\"" : "",
	         extra && strstr(extra, "export_") ? outdir : "",
	         extra && strstr(extra, "export_") ? "\"," : "",
	         extra && *extra ? "," : "", extra ? extra : "");
	memset(err, 0, sizeof *err);
	if (D->open(&mh.host, s, &inst, err) != MID_OK)
		return NULL;
	return inst;
}

static int pull(void *inst, mock_sink_t *ms, const char *cursor, int dry,
                mid_pull_result_t *res, mid_error_t *err)
{
	mid_pull_req_t req = { .mode = MID_PULL_FULL, .cursor = cursor, .dry_run = dry };
	memset(err, 0, sizeof *err);
	return D->pull(inst, &req, &ms->sink, res, err);
}

#define HDR "employee_id,given_name,family_name,email,card_number\n"

static void t_descriptor(void)
{
	char p[PATH_MAX];
	const char *dir = getenv("MOBILEID_SCHEMA_DIR");
	char *text;
	json_error_t je;
	json_t *j;

	is_int(D->abi_major, MID_CONNECTOR_ABI_MAJOR, "abi major");
	is_int(D->struct_size, sizeof(mid_connector_t), "struct size");
	is_str(D->name, "csv", "name");
	ok(D->open && D->close && D->test && D->pull && D->push && D->flush, "every callback");
	ok((D->capabilities & (MID_CAP_PULL_FULL | MID_CAP_PUSH_UPSERT | MID_CAP_PUSH_REMOVE |
	                       MID_CAP_TEST)) == (MID_CAP_PULL_FULL | MID_CAP_PUSH_UPSERT |
	                                          MID_CAP_PUSH_REMOVE | MID_CAP_TEST), "capabilities");
	snprintf(p, sizeof p, "%s", dir ? dir : "schemas");
	text = slurp(p, "connector-csv.schema.json", NULL);
	if (!text) {
		snprintf(p, sizeof p, "%s/schemas", getenv("top_srcdir") ? getenv("top_srcdir") : "..");
		text = slurp(p, "connector-csv.schema.json", NULL);
	}
	ok(text && strcmp(text, D->settings_schema) == 0,
	   "settings_schema is schemas/connector-csv.schema.json, byte for byte");
	free(text);
	j = json_loads(D->settings_schema, 0, &je);
	ok(j && json_is_object(json_object_get(j, "properties")), "settings_schema is JSON");
	/* every key the module knows is in the schema and the other way round */
	{
		size_t n = 0, in_schema = 0;
		for (; cv_keys[n]; n++)
			in_schema += json_object_get(json_object_get(j, "properties"), cv_keys[n]) != NULL;
		is_int(in_schema, n, "the module's keys are all in the schema");
		is_int(json_object_size(json_object_get(j, "properties")), n,
		       "and the schema has no other key");
	}
	json_decref(j);
}

static void t_open_errors(void)
{
	mid_error_t err;
	void *inst;
	char s[2048];

	inst = open_with("\"bogus\":1", &err);
	ok(!inst && err.code == MID_EINVAL && strstr(err.text, "settings.bogus"),
	   "unknown key named: %s", err.text);
	inst = open_with("\"header\":false", &err);
	ok(!inst && strstr(err.text, "settings.columns is required"), "header false needs columns");
	inst = open_with("\"header\":false,\"columns\":[\"a\",\"b\"]", &err);
	ok(!inst && strstr(err.text, "id_column 'employee_id' is not in"), "id column must be listed");
	inst = open_with("\"delimiter\":\":\"", &err);
	ok(!inst && strstr(err.text, "settings.delimiter"), "bad delimiter");
	inst = open_with("\"checks\":{\"card_number\":{\"digitz\":true}}", &err);
	ok(!inst && strstr(err.text, "digitz"), "unknown check named: %s", err.text);
	snprintf(s, sizeof s, "{\"inbox_dir\":\"%s\",\"archive_dir\":\"%s/\",\"id_column\":\"x\"}",
	         inbox, inbox);
	memset(&err, 0, sizeof err);
	ok(D->open(&mh.host, s, &inst, &err) == MID_EINVAL && strstr(err.text, "archive_dir"),
	   "archive folder must not be the inbox");
	memset(&err, 0, sizeof err);
	ok(D->open(&mh.host, "[1]", &inst, &err) == MID_EINVAL, "settings must be an object");
	memset(&err, 0, sizeof err);
	ok(D->open(&mh.host, "{\"archive_dir\":\"/a\",\"id_column\":\"x\"}", &inst, &err) ==
	   MID_EINVAL && strstr(err.text, "inbox_dir"), "inbox_dir required");
	D->close(NULL);
	ok(1, "close(NULL) is fine");
}

static void t_snapshot(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;
	char *rep, *rej;
	json_t *j;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("", &err);
	ok(inst != NULL, "open: %s", err.text);
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "pull of an empty inbox");
	ok(res.nothing_new && !res.complete, "nothing_new");
	drop("users.csv.tmp", HDR "1,a,b,c,d\n");
	drop("users.part", HDR "1,a,b,c,d\n");
	drop(".hidden.csv", HDR "1,a,b,c,d\n");
	drop("notes.txt", "x\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "temporary names are not picked up");
	ok(res.nothing_new, "still nothing new");

	drop("users.csv", "\xEF\xBB\xBF" HDR "E001,Anna,Smith,anna@example.com,00012345\r\n"
	     "E002,\"Ben, Jr.\",\"O\"\"Brien\",ben@example.com,00012346\r\n"
	     "\r\n"
	     "E003,Chlo\xC3\xA9,\"Multi\nLine\",c@example.com,00012347\r\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "pull a snapshot file");
	ok(!res.nothing_new && res.complete, "complete, not nothing_new");
	is_str(res.source, "users.csv", "source names the file");
	is_int(ms.nrecords, 3, "three records");
	if (ms.nrecords == 3) {
		mock_rec_t *r = ms.records;
		is_int(r[0].op, MID_OP_UPSERT, "upsert");
		is_str(r[0].external_id, "E001", "external id from id_column");
		is_int(r[0].nfields, 5, "all columns as fields");
		is_str(mock_rec_get(&r[0], "card_number"), "00012345", "leading zeros kept");
		is_str(mock_rec_get(&r[1], "given_name"), "Ben, Jr.", "quoted delimiter");
		is_str(mock_rec_get(&r[1], "family_name"), "O\"Brien", "doubled quote");
		is_str(mock_rec_get(&r[2], "given_name"), "Chlo\xC3\xA9", "UTF-8 value");
		is_str(mock_rec_get(&r[2], "family_name"), "Multi\nLine", "embedded newline");
		is_int(r[0].source_pos, 2, "source_pos is the line");
		is_int(r[2].source_pos, 5, "line numbers count blank lines");
	}
	is_int(ms.ncheckpoints, 1, "one final checkpoint");
	ok(mock_sink_last_cursor(&ms) && strncmp(mock_sink_last_cursor(&ms), "csv1:", 5) == 0 &&
	   strstr(mock_sink_last_cursor(&ms), ":users.csv"), "cursor names the file");
	ok(ms.progress_total > 0 && ms.progress_done == ms.progress_total, "progress reached the end");
	ok(!exists(inbox, "users.csv"), "the file left the inbox");
	ok(exists(archive, "users.20231114T221320Z.csv") ||
	   exists(archive, "users.20260101T000000Z.csv"), "archived with a timestamp");
	rep = slurp(reports, "users.20260101T000000Z.csv.report.json", NULL);
	rej = slurp(reports, "users.20260101T000000Z.csv.rejects.csv", NULL);
	ok(rep != NULL, "report written");
	j = rep ? json_loads(rep, 0, NULL) : NULL;
	ok(j && json_integer_value(json_object_get(j, "rows_read")) == 3 &&
	   json_integer_value(json_object_get(j, "records_emitted")) == 3 &&
	   json_integer_value(json_object_get(j, "rejected")) == 0 &&
	   !strcmp(json_string_value(json_object_get(j, "status")), "ok") &&
	   !strcmp(json_string_value(json_object_get(j, "file")), "users.csv") &&
	   !strcmp(json_string_value(json_object_get(j, "started")), "2026-01-01T00:00:00.000Z"),
	   "report counts, status, file, start time");
	json_decref(j);
	is_str(rej, "line,column,reason,raw\r\n", "empty reject file has its header");
	is_int(count_dir(reports, 1), 2, "no temporary files left in the report folder");
	free(rep);
	free(rej);
	ok(mock_host_log_contains(&mh, "archived as"), "logged");

	/* the same second again: a distinct archive name */
	mock_sink_reset(&ms);
	drop("users.csv", HDR "E001,Anna,Smith,anna@example.com,00012345\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "second file in the same second");
	ok(exists(archive, "users.20260101T000000Z-1.csv"), "archive name gets a suffix");
	D->close(inst);
	mock_sink_fini(&ms);
}

static void t_oldest_and_marker(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("", &err);
	drop_n("b.csv", HDR "B,x,y,z,1\n", strlen(HDR) + 10, 1700000100);
	drop_n("a.csv", HDR "A,x,y,z,1\n", strlen(HDR) + 10, 1700000200);
	drop_n("c.csv", HDR "C,x,y,z,1\n", strlen(HDR) + 10, 1700000000);
	pull(inst, &ms, NULL, 0, &res, &err);
	is_str(res.source, "c.csv", "oldest first");
	pull(inst, &ms, NULL, 0, &res, &err);
	is_str(res.source, "b.csv", "then the next oldest");
	pull(inst, &ms, NULL, 0, &res, &err);
	is_str(res.source, "a.csv", "then the newest");
	pull(inst, &ms, NULL, 0, &res, &err);
	ok(res.nothing_new, "then nothing");
	D->close(inst);

	inst = open_with("\"completeness\":\"done-marker\"", &err);
	drop("d.csv", HDR "D,x,y,z,1\n");
	mock_sink_reset(&ms);
	pull(inst, &ms, NULL, 0, &res, &err);
	ok(res.nothing_new && ms.nrecords == 0, "no marker: not complete");
	drop("d.csv.done", "");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "with its marker");
	ok(!res.nothing_new && ms.nrecords == 1, "picked up");
	ok(!exists(inbox, "d.csv.done") && !exists(inbox, "d.csv"), "file and marker gone");
	D->close(inst);

	inst = open_with("\"settle_seconds\":60", &err);
	drop_n("e.csv", HDR "E,x,y,z,1\n", strlen(HDR) + 10, 1767225600 - 10);
	mock_sink_reset(&ms);
	pull(inst, &ms, NULL, 0, &res, &err);
	ok(res.nothing_new, "a file younger than settle_seconds waits");
	mock_host_advance(&mh, 60000);
	pull(inst, &ms, NULL, 0, &res, &err);
	ok(!res.nothing_new && ms.nrecords == 1, "and is taken once it settled");
	mock_host_set_time(&mh, 1767225600000LL);
	D->close(inst);
	mock_sink_fini(&ms);
}

static void t_rejects(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;
	char *rej;
	int rc;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("\"checks\":{\"card_number\":{\"digits\":true,\"width\":8},"
	                 "\"valid_until\":{\"date\":true},\"email\":{\"required\":true}},"
	                 "\"max_field_bytes\":32", &err);
	ok(inst != NULL, "open with checks: %s", err.text);
	drop("u.csv", "employee_id,given_name,family_name,email,card_number,valid_until\n"
	     "E1,A,B,a@x,00012345,2027-12-31\n"
	     "E2,A,B,a@x,1.23457E+11,2027-12-31\n"
	     "E3,A,B,a@x,12345,2027-12-31\n"
	     "E4,A,B,a@x,12345678.0,2027-12-31\n"
	     "E5,A,B,a@x,1234567X,2027-12-31\n"
	     "E6,A,B,a@x,00012346,31/12/2027\n"
	     "E7,A,B,a@x,00012347,46387\n"
	     ",A,B,a@x,00012348,2027-12-31\n"
	     "E9,A,B,a@x,00012349\n"
	     "E10,A,B,,00012350,2027-12-31\n"
	     "E11,A,\"B\"x,a@x,00012351,2027-12-31\n"
	     "E12,A,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,a@x,00012352,2027-12-31\n"
	     "E13,=cmd|' /C calc'!A0,B,a@x,00012353,2027-02-29\n"
	     "E14,A,B,a@x,00012354,2028-02-29,,\n"
	     "=1+2,A,B,a@x,1.2E+3,2027-12-31\n");
	rc = pull(inst, &ms, NULL, 0, &res, &err);
	ok(rc == MID_OK, "pull with bad rows: %s", err.text);
	is_int(ms.nrecords, 2, "two good rows (E1, E14 with trailing empty cells)");
	is_int(ms.nrejects, 13, "thirteen rejects");
	if (ms.nrejects == 13) {
		mock_reject_t *j = ms.rejects;
		ok(j[0].pos == 3 && !strcmp(j[0].column, "card_number") &&
		   strstr(j[0].reason, "scientific notation"), "scientific notation: %s", j[0].reason);
		ok(strstr(j[1].reason, "leading zeros were probably lost"), "lost zeros: %s", j[1].reason);
		ok(strstr(j[2].reason, "decimal part"), "decimal part: %s", j[2].reason);
		ok(strstr(j[3].reason, "digits only"), "non-digit: %s", j[3].reason);
		ok(!strcmp(j[4].column, "valid_until") && strstr(j[4].reason, "YYYY-MM-DD"),
		   "reformatted date: %s", j[4].reason);
		ok(strstr(j[5].reason, "serial number"), "date serial: %s", j[5].reason);
		ok(!strcmp(j[6].column, "employee_id") && strstr(j[6].reason, "id column is empty"),
		   "empty id");
		ok(j[7].column == NULL && strstr(j[7].reason, "expected 6 fields, found 5"),
		   "field count: %s", j[7].reason);
		ok(!strcmp(j[8].column, "email") && strstr(j[8].reason, "required"), "required");
		ok(!strcmp(j[9].column, "family_name") && strstr(j[9].reason, "closing double quote"),
		   "structural error names the column");
		ok(strstr(j[10].reason, "max_field_bytes"), "field too long");
		ok(!strcmp(j[11].column, "valid_until") && j[11].pos == 14,
		   "2027-02-29 is not a date");
		is_str(j[0].raw, "E2,A,B,a@x,1.23457E+11,2027-12-31", "raw line in the reject");
	}
	rej = slurp(reports, "u.20260101T000000Z.csv.rejects.csv", NULL);
	if (getenv("CSV_TEST_DEBUG"))
		diag("%s", rej);
	ok(rej && strstr(rej, "\r\n3,card_number,") && strstr(rej, ",\"E2,A,B,a@x,1.23457E+11,2027-12-31\"\r\n"),
	   "reject file: line, column, reason, raw");
	ok(rej && strstr(rej, "\r\n14,valid_until,"), "reject file has every reject");
	ok(rej && strstr(rej, ",\"'=1+2,A,B,a@x,1.2E+3,2027-12-31\"\r\n"),
	   "a raw line starting with = is neutralised in the reject file");
	free(rej);
	D->close(inst);

	/* a check on an optional column that a file lacks is skipped */
	inst = open_with("\"checks\":{\"valid_until\":{\"date\":true}}", &err);
	mock_sink_reset(&ms);
	drop("o.csv", "employee_id,email\nE1,a@x\n");
	ok(pull(inst, &ms, NULL, 0, &res, &err) == MID_OK && ms.nrecords == 1,
	   "check of an absent optional column skipped");
	D->close(inst);
	mock_sink_fini(&ms);
}

static void t_never_half_applied(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;
	char *rep, *big;
	size_t len = 0, cap = 1 << 20;
	json_t *j;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("\"columns\":[\"email\"],\"batch_size\":10", &err);

	drop("h.csv", "employee_id;given_name;email\nE1;a;b\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EINVAL, "wrong delimiter: refused");
	ok(strstr(err.text, "column 'email' is missing") && strstr(err.text, "nothing was applied"),
	   "message names the column: %s", err.text);
	is_int(ms.nrecords + ms.nrejects + ms.ncheckpoints, 0, "nothing delivered");
	ok(!exists(inbox, "h.csv") && exists(archive, "h.20260101T000000Z.failed.csv"),
	   "moved aside as .failed");
	rep = slurp(reports, "h.20260101T000000Z.failed.csv.report.json", NULL);
	j = rep ? json_loads(rep, 0, NULL) : NULL;
	ok(j && !strcmp(json_string_value(json_object_get(j, "status")), "failed") &&
	   strstr(json_string_value(json_object_get(j, "error")), "missing"), "failure report");
	json_decref(j);
	free(rep);

	/* invalid UTF-8 deep in the file: nothing of the file is delivered */
	big = malloc(cap);
	len = (size_t)snprintf(big, cap, "employee_id,email\n");
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(big + len, cap - len, "E%d,u%d@example.com\n", i, i);
	len += (size_t)snprintf(big + len, cap - len, "E9,J\xFCrgen@example.com\n");
	drop_n("late.csv", big, len, 1700000000);
	mock_sink_reset(&ms);
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EINVAL, "invalid UTF-8 on line 5002");
	ok(strstr(err.text, "line 5002") && strstr(err.text, "UTF-8"), "says where: %s", err.text);
	is_int(ms.nrecords + ms.ncheckpoints, 0, "not one record or checkpoint delivered");

	/* dry run of a bad file leaves it in place */
	drop("d.csv", "nothing,here\n1,2\n");
	mock_sink_reset(&ms);
	is_int(pull(inst, &ms, NULL, 1, &res, &err), MID_EINVAL, "dry run of a bad file fails");
	ok(exists(inbox, "d.csv") && strstr(err.text, "dry run"), "and leaves it in the inbox");
	unlink(strcat(strcpy(big, inbox), "/d.csv"));

	drop("e.csv", "");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EINVAL, "empty file refused");
	ok(strstr(err.text, "empty"), "%s", err.text);
	drop("u16.csv", "\xFF\xFEh\0");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EINVAL, "UTF-16 file refused");
	ok(strstr(err.text, "UTF-16"), "%s", err.text);
	drop("dup.csv", "employee_id,email,email\n1,2,3\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EINVAL, "duplicate header refused");
	ok(strstr(err.text, "appears twice"), "%s", err.text);
	D->close(inst);

	inst = open_with("\"max_file_bytes\":10", &err);
	drop("big.csv", "employee_id,email\n1,2\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_ELIMIT, "file over max_file_bytes refused");
	D->close(inst);

	inst = open_with("\"encoding\":\"windows-1252\"", &err);
	drop("bom.csv", "\xEF\xBB\xBF" "employee_id\n1\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EINVAL, "UTF-8 BOM in a cp1252 binding");
	D->close(inst);
	free(big);
	mock_sink_fini(&ms);
}

static void t_encodings_dialects(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("\"encoding\":\"windows-1252\",\"delimiter\":\";\"", &err);
	drop("w.csv", "employee_id;given_name\r\nE1;J\xFCrgen \x80\r\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "Windows-1252, semicolon");
	ok(ms.nrecords == 1 && !strcmp(mock_rec_get(&ms.records[0], "given_name"),
	                              "J\xC3\xBCrgen \xE2\x82\xAC"), "converted to UTF-8");
	D->close(inst);

	inst = open_with("\"header\":false,\"columns\":[\"employee_id\",\"name\"],"
	                 "\"delimiter\":\"\\t\",\"encoding\":\"iso-8859-1\"", &err);
	ok(inst != NULL, "fixed columns: %s", err.text);
	mock_sink_reset(&ms);
	drop("t.csv", "E1\tS\xF8ren\nE2\tx\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "no header, tab, ISO-8859-1");
	ok(ms.nrecords == 2 && !strcmp(ms.records[0].external_id, "E1") &&
	   !strcmp(mock_rec_get(&ms.records[0], "name"), "S\xC3\xB8ren") &&
	   ms.records[0].source_pos == 1, "first line is data");
	D->close(inst);
	mock_sink_fini(&ms);
}

static void t_delta_and_resume(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;
	char cursor[1024];
	char text[4096];
	size_t len;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("\"mode\":\"delta\",\"op_column\":\"action\",\"batch_size\":2", &err);
	ok(inst != NULL, "delta open: %s", err.text);
	drop("d.csv", "action,employee_id,email\nadd,E1,a@x\nUPDATE,E2,b@x\ndelete,E3,\n"
	     "frobnicate,E4,d@x\nDel,E5,\n");
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_OK, "delta pull");
	ok(!res.complete, "a delta file is not a complete view");
	is_int(ms.nupserts, 2, "add and update are upserts");
	is_int(ms.ndeletes, 2, "delete and Del are deletes");
	ok(ms.nrecords == 4 && ms.records[2].op == MID_OP_DELETE && ms.records[2].nfields == 0 &&
	   !strcmp(ms.records[2].external_id, "E3"), "a delete carries only the id");
	ok(ms.nrejects == 1 && strstr(ms.rejects[0].reason, "unknown operation"), "unknown op");
	is_int(ms.ncheckpoints, 3, "checkpoints every two rows and at the end");

	/* resume: a crash after the first checkpoint */
	mock_sink_reset(&ms);
	len = (size_t)snprintf(text, sizeof text, "action,employee_id,email\n");
	for (int i = 1; i <= 7; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "add,R%d,r%d@x\n", i, i);
	drop("r.csv", text);
	ms.fail_checkpoint_at = 2;
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EABORT, "sink stops at the 2nd checkpoint");
	ok(exists(inbox, "r.csv"), "the file stays in the inbox");
	is_int(count_dir(reports, 1), 2, "no new report, no temporary reject file");
	is_int(ms.ncheckpoints, 1, "one checkpoint stored");
	is_int(ms.records_at_checkpoint, 2, "covering two records");
	snprintf(cursor, sizeof cursor, "%s", mock_sink_last_cursor(&ms));
	mock_sink_reset(&ms);
	ms.fail_checkpoint_at = 0;
	is_int(pull(inst, &ms, cursor, 0, &res, &err), MID_OK, "resumed with the cursor");
	ok(ms.nrecords == 5 && !strcmp(ms.records[0].external_id, "R3") &&
	   !strcmp(ms.records[4].external_id, "R7"), "only the records after the checkpoint");
	ok(mock_host_log_contains(&mh, "resuming r.csv"), "resume logged");
	D->close(inst);

	/* a cursor of another file is ignored; snapshot always re-reads */
	inst = open_with("\"batch_size\":2", &err);
	drop("s.csv", "employee_id\nS1\nS2\nS3\n");
	mock_sink_reset(&ms);
	ms.fail_checkpoint_at = 2;
	pull(inst, &ms, NULL, 0, &res, &err);
	snprintf(cursor, sizeof cursor, "%s", mock_sink_last_cursor(&ms));
	mock_sink_reset(&ms);
	ms.fail_checkpoint_at = 0;
	is_int(pull(inst, &ms, cursor, 0, &res, &err), MID_OK, "snapshot after a crash");
	ok(ms.nrecords == 3 && res.complete, "re-read whole, complete");
	D->close(inst);
	mock_sink_fini(&ms);
}

static void t_sink_errors_and_dry_run(void)
{
	mid_error_t err;
	mid_pull_result_t res;
	mock_sink_t ms;
	void *inst;

	reset_dirs();
	mock_sink_init(&ms);
	inst = open_with("", &err);
	drop("x.csv", HDR "E1,a,b,c,1\nE2,a,b,c,2\nE3,a,b,c,3\nbad\"row\n");
	ms.fail_record_at = 2;
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EABORT, "record() error stops the pull");
	ok(ms.record_calls == 2 && ms.ncheckpoints == 0, "nothing after the error");
	ok(exists(inbox, "x.csv") && count_dir(archive, 1) == 0 && count_dir(reports, 1) == 0,
	   "no archive, no report, no temporary files");
	mock_sink_reset(&ms);
	ms.fail_record_at = 0;
	ms.fail_reject_at = 1;
	ms.fail_code = MID_EIO;
	is_int(pull(inst, &ms, NULL, 0, &res, &err), MID_EIO, "reject() error returned as is");
	mock_sink_reset(&ms);
	ms.fail_reject_at = 0;
	is_int(pull(inst, &ms, NULL, 1, &res, &err), MID_OK, "dry run");
	ok(ms.nrecords == 3 && ms.nrejects == 1, "dry run delivers records and rejects");
	ok(exists(inbox, "x.csv") && count_dir(archive, 1) == 0 && count_dir(reports, 1) == 0,
	   "dry run leaves the file and writes nothing");
	D->close(inst);
	mock_sink_fini(&ms);
}

static void push_rec(void *inst, int op, const char *ext, const char *const *kv, size_t n,
                     mid_push_result_t *pr, int *rc, mid_error_t *err)
{
	mid_field_t f[16];
	const char *vals[16];
	mid_record_t rec = { .op = op, .external_id = ext };

	for (size_t i = 0; i < n; i++) {
		vals[i] = kv[2 * i + 1];
		f[i].name = kv[2 * i];
		f[i].values = &vals[i];
		f[i].nvalues = 1;
	}
	rec.fields = op == MID_OP_DELETE ? NULL : f;
	rec.nfields = op == MID_OP_DELETE ? 0 : n;
	memset(err, 0, sizeof *err);
	*rc = D->push(inst, &rec, pr, err);
}

static void t_export(void)
{
	mid_error_t err;
	mid_push_result_t pr;
	void *inst;
	int rc;
	char *text;
	static const char *const anna[] = { "employee_id", "E1", "given_name", "=HYPERLINK(\"x\")",
		"family_name", "Smith, Jr.", "mobile", "+358 40 1", "email", "a@x" };
	static const char *const ben[] = { "employee_id", "E2", "given_name", "-1+1",
		"family_name", "@SUM(1)", "mobile", "+358 40 2", "email", "multi\nline" };
	static const char *const newp[] = { "employee_id", "N9", "given_name", "\tTab",
		"family_name", "\xE2\x82\xAC uro", "mobile", "", "email", "" };

	reset_dirs();
	inst = open_with("\"export_columns\":[\"employee_id\",\"given_name\",\"family_name\","
	                 "\"mobile\"],\"export_verbatim_columns\":[\"mobile\"]", &err);
	ok(inst != NULL, "open with export: %s", err.text);
	push_rec(inst, MID_OP_UPSERT, "E1", anna, 5, &pr, &rc, &err);
	is_int(rc, MID_OK, "push upsert");
	is_str(pr.external_id, "E1", "push result names the id");
	push_rec(inst, MID_OP_UPSERT, "E2", ben, 5, &pr, &rc, &err);
	push_rec(inst, MID_OP_UPSERT, "", newp, 5, &pr, &rc, &err);
	is_str(pr.external_id, "N9", "a new record's id comes from its id column");
	push_rec(inst, MID_OP_DELETE, "E7", NULL, 0, &pr, &rc, &err);
	is_int(rc, MID_OK, "push delete");
	is_int(count_dir(outdir, 0), 0, "before flush nothing is visible to the PACS");
	is_int(count_dir(outdir, 1), 1, "only a hidden temporary file");
	is_int(D->flush(inst, &err), MID_OK, "flush");
	text = slurp(outdir, "export-000001.csv", NULL);
	is_str(text, "op,employee_id,given_name,family_name,mobile\r\n"
	       "update,E1,\"'=HYPERLINK(\"\"x\"\")\",\"Smith, Jr.\",+358 40 1\r\n"
	       "update,E2,'-1+1,'@SUM(1),+358 40 2\r\n"
	       "add,N9,'\tTab,\xE2\x82\xAC uro,\r\n"
	       "delete,E7,,,\r\n",
	       "export file: op column, RFC 4180 quoting, formulas neutralised");
	free(text);
	text = slurp(outdir, CV_SEQ_FILE, NULL);
	is_str(text, "2\n", "sequence state stored");
	free(text);
	is_int(count_dir(outdir, 1), 2, "export file and state, no temporary file");
	is_int(D->flush(inst, &err), MID_OK, "flush with nothing pushed");
	is_int(count_dir(outdir, 0), 1, "writes no file");
	push_rec(inst, MID_OP_UPSERT, "E1", anna, 5, &pr, &rc, &err);
	D->flush(inst, &err);
	ok(exists(outdir, "export-000002.csv"), "next flush gets the next number");
	/* a number already taken (e.g. state restored from backup) is skipped */
	{
		char p[PATH_MAX];
		FILE *f;
		snprintf(p, sizeof p, "%s/%s", outdir, CV_SEQ_FILE);
		f = fopen(p, "w");
		fputs("2\n", f);
		fclose(f);
	}
	push_rec(inst, MID_OP_UPSERT, "E1", anna, 5, &pr, &rc, &err);
	D->flush(inst, &err);
	ok(exists(outdir, "export-000003.csv"), "an existing export is never overwritten");
	push_rec(inst, MID_OP_UPSERT, "E1", anna, 5, &pr, &rc, &err);
	D->close(inst);
	is_int(count_dir(outdir, 1), 4, "close without flush drops the temporary file");

	/* snapshot mode, Windows-1252, LF */
	reset_dirs();
	inst = open_with("\"export_mode\":\"snapshot\",\"export_columns\":[\"employee_id\","
	                 "\"family_name\"],\"export_encoding\":\"windows-1252\","
	                 "\"export_crlf\":false,\"export_delimiter\":\";\",\"export_prefix\":\"pacs_\"",
	                 &err);
	ok(inst != NULL, "snapshot export open: %s", err.text);
	push_rec(inst, MID_OP_UPSERT, "E1", newp, 5, &pr, &rc, &err);
	push_rec(inst, MID_OP_DELETE, "E7", NULL, 0, &pr, &rc, &err);
	is_int(rc, MID_OK, "a delete in snapshot mode is accepted");
	{
		static const char *const bad[] = { "employee_id", "E3", "family_name", "\xC5\x81ukasz" };
		push_rec(inst, MID_OP_UPSERT, "E3", bad, 2, &pr, &rc, &err);
		ok(rc == MID_EINVAL && strstr(err.text, "Windows-1252") && strstr(err.text, "family_name"),
		   "a character Windows-1252 lacks fails the push: %s", err.text);
	}
	D->flush(inst, &err);
	text = slurp(outdir, "pacs_000001.csv", NULL);
	is_str(text, "employee_id;family_name\nN9;\x80 uro\n",
	       "snapshot: no op column, no deletes, encoded, LF, own delimiter and prefix");
	free(text);
	D->close(inst);

	inst = open_with("", &err);
	push_rec(inst, MID_OP_UPSERT, "E1", anna, 5, &pr, &rc, &err);
	D->close(inst);
	{
		char s[1024];
		snprintf(s, sizeof s, "{\"inbox_dir\":\"%s\",\"archive_dir\":\"%s\",\"id_column\":\"e\"}",
		         inbox, archive);
		D->open(&mh.host, s, &inst, &err);
		push_rec(inst, MID_OP_UPSERT, "E1", anna, 5, &pr, &rc, &err);
		is_int(rc, MID_ENOTSUP, "push without outbound_dir is not supported");
		is_int(D->flush(inst, &err), MID_OK, "flush without outbound_dir is a no-op");
		D->close(inst);
	}
}

static void t_test_checks(void)
{
	mid_error_t err;
	mid_check_t ck[8];
	size_t n = 0;
	void *inst;
	char s[2048];

	reset_dirs();
	inst = open_with("\"export_columns\":[\"employee_id\"]", &err);
	drop("w.csv", HDR);
	is_int(D->test(inst, ck, 8, &n, &err), MID_OK, "test runs");
	{
		int all = n >= 5;
		for (size_t i = 0; i < n; i++)
			all &= ck[i].state == MID_CHECK_OK;
		ok(all, "all checks pass on good folders (%zu checks)", n);
	}
	ok(n >= 6 && strstr(ck[n - 1].detail, "w.csv"), "waiting file named: %s",
	   n ? ck[n - 1].detail : "");
	D->close(inst);
	snprintf(s, sizeof s, "{\"inbox_dir\":\"%s\",\"archive_dir\":\"%s/missing\","
	         "\"id_column\":\"e\"}", inbox, root);
	D->open(&mh.host, s, &inst, &err);
	D->test(inst, ck, 8, &n, &err);
	ok(ck[1].state == MID_CHECK_FAIL && strstr(ck[1].detail, "missing") &&
	   strstr(ck[1].detail, "No such file"), "missing archive: %s", ck[1].detail);
	ok(ck[n - 2].state == MID_CHECK_SKIP, "outbound skipped when not configured");
	D->test(inst, ck, 2, &n, &err);
	is_int(n, 2, "at most `max` checks");
	D->close(inst);
}

static void t_values(void)
{
	ok(cv_is_scientific("1.23457E+11") && cv_is_scientific("1E5") &&
	   cv_is_scientific("-2,5e-3") && !cv_is_scientific("E5") && !cv_is_scientific("1E") &&
	   !cv_is_scientific("12345") && !cv_is_scientific("1e5x"), "scientific notation detection");
	ok(cv_iso_date_ok("2024-02-29", 10) && !cv_iso_date_ok("2023-02-29", 10) &&
	   !cv_iso_date_ok("2023-13-01", 10) && !cv_iso_date_ok("2023-1-01", 9),
	   "ISO date check");
	is_int(cv_parse_op(" Insert"), MID_OP_UPSERT, "op insert");
	is_int(cv_parse_op("REMOVE"), MID_OP_DELETE, "op remove");
	is_int(cv_parse_op("x"), 0, "op unknown");
	{
		char c[200];
		struct stat st = {0};
		st.st_dev = 5;
		st.st_ino = 77;
		st.st_size = 1000;
		st.st_mtim.tv_sec = 10;
		cv_cursor(c, sizeof c, &st, "a:b.csv", 500, 9);
		is_int(cv_cursor_offset(c, &st, "a:b.csv"), 500, "cursor round trip (name with ':')");
		st.st_size = 1001;
		is_int(cv_cursor_offset(c, &st, "a:b.csv"), 0, "a changed file does not resume");
		is_int(cv_cursor_offset("garbage", &st, "a"), 0, "garbage cursor ignored");
	}
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(root, sizeof root, "%.200s/csv_test.XXXXXX", t ? t : "/tmp");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	snprintf(inbox, sizeof inbox, "%.256s/inbox", root);
	snprintf(archive, sizeof archive, "%.256s/archive", root);
	snprintf(reports, sizeof reports, "%.256s/reports", root);
	snprintf(outdir, sizeof outdir, "%.256s/out", root);
	mock_host_init(&mh);

	t_descriptor();
	t_open_errors();
	t_snapshot();
	t_oldest_and_marker();
	t_rejects();
	t_never_half_applied();
	t_encodings_dialects();
	t_delta_and_resume();
	t_sink_errors_and_dry_run();
	t_export();
	t_test_checks();
	t_values();

	mock_host_fini(&mh);
	sh_rm_rf(root);
	return tap_done();
}
