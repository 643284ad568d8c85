/* connectors/csv/csv.c -- the CSV batch connector (legacy PACS file drops).
 *
 * Inbound: pull() takes the oldest complete file from inbox_dir, checks the
 * whole file's encoding and its header before it delivers anything, streams
 * its rows to the host's sink (fields keyed by header name, source_pos =
 * line number), checkpoints every batch_size rows with a cursor naming the
 * file and the byte offset, and after the final checkpoint moves the file
 * to archive_dir with a timestamp and writes a reject file and a JSON
 * report to report_dir. A file that cannot be read whole (wrong header,
 * invalid encoding, too large, empty) is never half applied: nothing is
 * delivered, it is moved aside as NAME.STAMP.failed.EXT with a report, and
 * pull() fails saying why. One file per pull() call.
 *
 * Outbound: push() appends one row per record to a hidden temporary file in
 * outbound_dir; flush() makes it durable and renames it to
 * PREFIX000042.csv, the sequence kept in outbound_dir/.csv-export-seq.
 *
 * Settings: schemas/connector-csv.schema.json (embedded at build time as
 * the descriptor's settings_schema). Every function but the descriptor is
 * static.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mobileid/connector.h"
#include "connectors/csv/csvread.h"
#include "connectors/csv/csv-schema.h"

#define CV_VERSION "1.0.0"
#define CV_RAW_MAX 4096          /* raw line bytes kept in a reject */
#define CV_SCAN_CHUNK (256 * 1024)
#define CV_MAX_CANDIDATES 100000 /* directory entries looked at per pull */
#define CV_SEQ_FILE ".csv-export-seq"

/* ---- configuration (read-only after open) ------------------------------ */

typedef struct cv_check {
	char *column;
	int required, digits, date;
	long width;                /* 0: none */
	long long max_length;      /* 0: none */
	char **values;             /* NULL: any */
	size_t nvalues;
} cv_check_t;

typedef struct cv_conf {
	char *inbox, *archive, *report, *pattern, *done_suffix;
	int done_marker;
	char **temp;
	size_t ntemp;
	long long settle_s;
	int delta;
	char *id_col, *op_col;
	char delim;
	int enc;
	int header;
	char **columns;
	size_t ncolumns;
	cv_check_t *checks;
	size_t nchecks;
	long long batch;
	long long max_field, max_line, max_file;

	char *outbound;
	int export_snapshot;
	char **ecols;
	size_t necols;
	char *eid_col, *eop_col, *eprefix, *mvsep;
	char edelim;
	int eenc, ebom, ecrlf;
	char **everbatim;
	size_t neverbatim;
} cv_conf_t;

/* A growable byte buffer. */
typedef struct cv_buf {
	char *p;
	size_t len, cap;
} cv_buf_t;

/* Export state (mutable). */
typedef struct cv_export {
	int fd;                    /* -1: no file open */
	char tmp[PATH_MAX];
	uint64_t rows;
	cv_buf_t line;
} cv_export_t;

typedef struct cv_inst {
	const mid_host_t *host;
	cv_conf_t c;
	cv_export_t ex;
} cv_inst_t;

/* ---- small helpers ------------------------------------------------------- */

static void cv_log(const cv_inst_t *in, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cv_log(const cv_inst_t *in, int level, const char *fmt, ...)
{
	va_list ap;

	if (!in->host || !in->host->log)
		return;
	va_start(ap, fmt);
	in->host->log(in->host->ctx, level, fmt, ap);
	va_end(ap);
}

static int64_t cv_now(const cv_inst_t *in)
{
	struct timespec ts;

	if (in->host && in->host->now_ms)
		return in->host->now_ms(in->host->ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cv_free_list(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int cv_buf_reserve(cv_buf_t *b, size_t more)
{
	size_t need = b->len + more + 1, nc;
	char *p;

	if (need <= b->cap)
		return 0;
	nc = b->cap ? b->cap : 256;
	while (nc < need)
		nc *= 2;
	p = realloc(b->p, nc);
	if (!p)
		return -1;
	b->p = p;
	b->cap = nc;
	return 0;
}

static int cv_buf_add(cv_buf_t *b, const char *s, size_t n)
{
	if (cv_buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int cv_buf_addc(cv_buf_t *b, char c)
{
	return cv_buf_add(b, &c, 1);
}

/* Write all of buf to fd. */
static int cv_write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cv_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int cv_join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* "2026-01-01T00:00:00.000Z" */
static void cv_iso(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(ms % 1000));
}

/* "20260101T000000Z" */
static void cv_stamp(int64_t ms, char *out, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- settings ------------------------------------------------------------ */

static const char *const cv_keys[] = {
	"inbox_dir", "archive_dir", "report_dir", "file_pattern", "completeness",
	"temp_patterns", "done_suffix", "settle_seconds", "mode", "id_column",
	"op_column", "delimiter", "encoding", "header", "columns", "checks",
	"batch_size", "max_field_bytes", "max_line_bytes", "max_file_bytes",
	"outbound_dir", "export_mode", "export_columns", "export_id_column",
	"export_op_column", "export_prefix", "export_delimiter", "export_encoding",
	"export_bom", "export_crlf", "multi_value_separator", "export_verbatim_columns",
	NULL,
};

static const char *const cv_encodings[] = { "utf-8", "windows-1252", "iso-8859-1", NULL };

static int cv_get_str(json_t *s, const char *key, const char *def, char **out, mid_error_t *err)
{
	json_t *v = json_object_get(s, key);
	const char *val = def;

	*out = NULL;
	if (v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.%s must be a non-empty string", key);
		val = json_string_value(v);
	}
	if (!val)
		return MID_OK;
	*out = strdup(val);
	if (!*out)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	return MID_OK;
}

static int cv_get_bool(json_t *s, const char *key, int def, int *out, mid_error_t *err)
{
	json_t *v = json_object_get(s, key);

	*out = def;
	if (!v)
		return MID_OK;
	if (!json_is_boolean(v))
		return mid_error_set(err, MID_EINVAL, 0, "csv: settings.%s must be true or false", key);
	*out = json_is_true(v);
	return MID_OK;
}

static int cv_get_int(json_t *s, const char *key, long long def, long long min, long long max,
                      long long *out, mid_error_t *err)
{
	json_t *v = json_object_get(s, key);

	*out = def;
	if (!v)
		return MID_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.%s must be an integer from %lld to %lld",
		                     key, min, max);
	*out = json_integer_value(v);
	return MID_OK;
}

static int cv_get_enum(json_t *s, const char *key, const char *const *names, int def,
                       int *out, mid_error_t *err)
{
	json_t *v = json_object_get(s, key);

	*out = def;
	if (!v)
		return MID_OK;
	if (json_is_string(v))
		for (int i = 0; names[i]; i++)
			if (strcmp(json_string_value(v), names[i]) == 0) {
				*out = i;
				return MID_OK;
			}
	return mid_error_set(err, MID_EINVAL, 0, "csv: settings.%s has an unknown value", key);
}

static int cv_get_delim(json_t *s, const char *key, char def, char *out, mid_error_t *err)
{
	json_t *v = json_object_get(s, key);
	const char *d;

	*out = def;
	if (!v)
		return MID_OK;
	d = json_is_string(v) ? json_string_value(v) : NULL;
	if (!d || strlen(d) != 1 || !strchr(",;\t|", d[0]))
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.%s must be one of \",\" \";\" \"\\t\" \"|\"", key);
	*out = d[0];
	return MID_OK;
}

static int cv_get_list(json_t *s, const char *key, const char *const *def, char ***out,
                       size_t *n, mid_error_t *err)
{
	json_t *v = json_object_get(s, key), *e;
	size_t i, cnt = 0;
	char **l;

	*out = NULL;
	*n = 0;
	if (!v) {
		if (!def)
			return MID_OK;
		while (def[cnt])
			cnt++;
	} else {
		if (!json_is_array(v) || json_array_size(v) > 1024)
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.%s must be a list of strings", key);
		cnt = json_array_size(v);
	}
	l = calloc(cnt + 1, sizeof *l);
	if (!l)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	for (i = 0; i < cnt; i++) {
		const char *str;
		if (v) {
			e = json_array_get(v, i);
			if (!json_is_string(e) || json_string_length(e) == 0) {
				cv_free_list(l, i);
				return mid_error_set(err, MID_EINVAL, 0,
				                     "csv: settings.%s[%zu] must be a non-empty string",
				                     key, i);
			}
			str = json_string_value(e);
		} else {
			str = def[i];
		}
		l[i] = strdup(str);
		if (!l[i]) {
			cv_free_list(l, i);
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		}
	}
	*out = l;
	*n = cnt;
	return MID_OK;
}

static int cv_has_dup(char **l, size_t n, const char **dup)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (strcmp(l[i], l[k]) == 0) {
				*dup = l[i];
				return 1;
			}
	return 0;
}

static int cv_in_list(char **l, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i], s) == 0)
			return 1;
	return 0;
}

static int cv_parse_checks(cv_conf_t *c, json_t *s, mid_error_t *err)
{
	json_t *checks = json_object_get(s, "checks"), *v;
	const char *col;
	size_t i = 0;
	int rc;

	if (!checks)
		return MID_OK;
	if (!json_is_object(checks) || json_object_size(checks) > 1024)
		return mid_error_set(err, MID_EINVAL, 0, "csv: settings.checks must be an object");
	c->checks = calloc(json_object_size(checks) + 1, sizeof *c->checks);
	if (!c->checks)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	json_object_foreach(checks, col, v) {
		cv_check_t *k = &c->checks[i];
		const char *key;
		json_t *x;
		long long ll;

		if (!json_is_object(v))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.checks[\"%s\"] must be an object", col);
		json_object_foreach(v, key, x) {
			if (strcmp(key, "required") && strcmp(key, "digits") && strcmp(key, "width") &&
			    strcmp(key, "max_length") && strcmp(key, "date") && strcmp(key, "values"))
				return mid_error_set(err, MID_EINVAL, 0,
				                     "csv: settings.checks[\"%s\"].%s is not a known check",
				                     col, key);
		}
		k->column = strdup(col);
		c->nchecks = ++i;
		if (!k->column)
			return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		if ((rc = cv_get_bool(v, "required", 0, &k->required, err)) < 0 ||
		    (rc = cv_get_bool(v, "digits", 0, &k->digits, err)) < 0 ||
		    (rc = cv_get_bool(v, "date", 0, &k->date, err)) < 0)
			return rc;
		if ((rc = cv_get_int(v, "width", 0, 1, 64, &ll, err)) < 0)
			return rc;
		k->width = (long)ll;
		if ((rc = cv_get_int(v, "max_length", 0, 1, 1 << 20, &k->max_length, err)) < 0)
			return rc;
		if ((rc = cv_get_list(v, "values", NULL, &k->values, &k->nvalues, err)) < 0)
			return rc;
	}
	return MID_OK;
}

static void cv_conf_free(cv_conf_t *c)
{
	free(c->inbox);
	free(c->archive);
	free(c->report);
	free(c->pattern);
	free(c->done_suffix);
	cv_free_list(c->temp, c->ntemp);
	free(c->id_col);
	free(c->op_col);
	cv_free_list(c->columns, c->ncolumns);
	for (size_t i = 0; i < c->nchecks; i++) {
		free(c->checks[i].column);
		cv_free_list(c->checks[i].values, c->checks[i].nvalues);
	}
	free(c->checks);
	free(c->outbound);
	cv_free_list(c->ecols, c->necols);
	free(c->eid_col);
	free(c->eop_col);
	free(c->eprefix);
	free(c->mvsep);
	cv_free_list(c->everbatim, c->neverbatim);
	memset(c, 0, sizeof *c);
}

/* Strip trailing slashes (keeping "/") so folders compare. */
static void cv_trim_slash(char *p)
{
	size_t n = p ? strlen(p) : 0;
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

static int cv_conf_parse(cv_conf_t *c, json_t *s, mid_error_t *err)
{
	static const char *const def_temp[] = { "*.tmp", "*.part", ".*", "~*", NULL };
	static const char *const completeness[] = { "rename", "done-marker", NULL };
	static const char *const modes[] = { "snapshot", "delta", NULL };
	static const char *const emodes[] = { "changes", "snapshot", NULL };
	const char *key, *dup;
	json_t *v;
	int rc;

	json_object_foreach(s, key, v) {
		int known = 0;
		for (int i = 0; cv_keys[i]; i++)
			known |= strcmp(key, cv_keys[i]) == 0;
		if (!known)
			return mid_error_set(err, MID_EINVAL, 0, "csv: settings.%s is not a known setting",
			                     key);
	}
	if ((rc = cv_get_str(s, "inbox_dir", NULL, &c->inbox, err)) < 0 ||
	    (rc = cv_get_str(s, "archive_dir", NULL, &c->archive, err)) < 0 ||
	    (rc = cv_get_str(s, "report_dir", NULL, &c->report, err)) < 0 ||
	    (rc = cv_get_str(s, "file_pattern", "*.csv", &c->pattern, err)) < 0 ||
	    (rc = cv_get_enum(s, "completeness", completeness, 0, &c->done_marker, err)) < 0 ||
	    (rc = cv_get_list(s, "temp_patterns", def_temp, &c->temp, &c->ntemp, err)) < 0 ||
	    (rc = cv_get_str(s, "done_suffix", ".done", &c->done_suffix, err)) < 0 ||
	    (rc = cv_get_int(s, "settle_seconds", 0, 0, 86400, &c->settle_s, err)) < 0 ||
	    (rc = cv_get_enum(s, "mode", modes, 0, &c->delta, err)) < 0 ||
	    (rc = cv_get_str(s, "id_column", NULL, &c->id_col, err)) < 0 ||
	    (rc = cv_get_str(s, "op_column", "op", &c->op_col, err)) < 0 ||
	    (rc = cv_get_delim(s, "delimiter", ',', &c->delim, err)) < 0 ||
	    (rc = cv_get_enum(s, "encoding", cv_encodings, 0, &c->enc, err)) < 0 ||
	    (rc = cv_get_bool(s, "header", 1, &c->header, err)) < 0 ||
	    (rc = cv_get_list(s, "columns", NULL, &c->columns, &c->ncolumns, err)) < 0 ||
	    (rc = cv_parse_checks(c, s, err)) < 0 ||
	    (rc = cv_get_int(s, "batch_size", 1000, 1, 1000000, &c->batch, err)) < 0 ||
	    (rc = cv_get_int(s, "max_field_bytes", 4096, 16, 1 << 20, &c->max_field, err)) < 0 ||
	    (rc = cv_get_int(s, "max_line_bytes", 65536, 64, 1 << 24, &c->max_line, err)) < 0 ||
	    (rc = cv_get_int(s, "max_file_bytes", 4294967296LL, 1, 1LL << 40, &c->max_file, err)) < 0 ||
	    (rc = cv_get_str(s, "outbound_dir", NULL, &c->outbound, err)) < 0 ||
	    (rc = cv_get_enum(s, "export_mode", emodes, 0, &c->export_snapshot, err)) < 0 ||
	    (rc = cv_get_list(s, "export_columns", NULL, &c->ecols, &c->necols, err)) < 0 ||
	    (rc = cv_get_str(s, "export_id_column", NULL, &c->eid_col, err)) < 0 ||
	    (rc = cv_get_str(s, "export_op_column", "op", &c->eop_col, err)) < 0 ||
	    (rc = cv_get_str(s, "export_prefix", "export-", &c->eprefix, err)) < 0 ||
	    (rc = cv_get_delim(s, "export_delimiter", 0, &c->edelim, err)) < 0 ||
	    (rc = cv_get_enum(s, "export_encoding", cv_encodings, 0, &c->eenc, err)) < 0 ||
	    (rc = cv_get_bool(s, "export_bom", 0, &c->ebom, err)) < 0 ||
	    (rc = cv_get_bool(s, "export_crlf", 1, &c->ecrlf, err)) < 0 ||
	    (rc = cv_get_str(s, "multi_value_separator", ";", &c->mvsep, err)) < 0 ||
	    (rc = cv_get_list(s, "export_verbatim_columns", NULL, &c->everbatim, &c->neverbatim,
	                      err)) < 0)
		return rc;

	if (!c->inbox || !c->archive || !c->id_col)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.%s is required",
		                     !c->inbox ? "inbox_dir" : !c->archive ? "archive_dir" : "id_column");
	if (!c->report && !(c->report = strdup(c->archive)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if (!c->eid_col && !(c->eid_col = strdup(c->id_col)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	if (!c->edelim)
		c->edelim = c->delim;
	cv_trim_slash(c->inbox);
	cv_trim_slash(c->archive);
	cv_trim_slash(c->report);
	cv_trim_slash(c->outbound);
	if (strcmp(c->inbox, c->archive) == 0 || strcmp(c->inbox, c->report) == 0)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.%s must not be the inbox folder (processed files "
		                     "would be picked up again)",
		                     strcmp(c->inbox, c->archive) == 0 ? "archive_dir" : "report_dir");
	if (c->outbound && strcmp(c->outbound, c->inbox) == 0)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.outbound_dir must not be the inbox folder");
	if (strchr(c->pattern, '/'))
		return mid_error_set(err, MID_EINVAL, 0, "csv: settings.file_pattern must not contain '/'");
	if (!c->header && !c->columns)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.columns is required when settings.header is false");
	if (c->columns && cv_has_dup(c->columns, c->ncolumns, &dup))
		return mid_error_set(err, MID_EINVAL, 0, "csv: settings.columns lists '%s' twice", dup);
	if (!c->header) {
		if (!cv_in_list(c->columns, c->ncolumns, c->id_col))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.id_column '%s' is not in settings.columns",
			                     c->id_col);
		if (c->delta && !cv_in_list(c->columns, c->ncolumns, c->op_col))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.op_column '%s' is not in settings.columns",
			                     c->op_col);
		for (size_t i = 0; i < c->nchecks; i++)
			if (!cv_in_list(c->columns, c->ncolumns, c->checks[i].column))
				return mid_error_set(err, MID_EINVAL, 0,
				                     "csv: settings.checks names column '%s', which is not "
				                     "in settings.columns", c->checks[i].column);
	}
	if (c->outbound) {
		if (!c->ecols)
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.export_columns is required with outbound_dir");
		if (cv_has_dup(c->ecols, c->necols, &dup))
			return mid_error_set(err, MID_EINVAL, 0,
			                     "csv: settings.export_columns lists '%s' twice", dup);
	}
	if (c->ebom && c->eenc != CSVR_ENC_UTF8)
		return mid_error_set(err, MID_EINVAL, 0,
		                     "csv: settings.export_bom needs export_encoding utf-8");
	return MID_OK;
}

/* ---- open / close ------------------------------------------------------- */

static void cv_close(void *instance);

static int cv_open(const mid_host_t *host, const char *settings_json, void **instance,
                   mid_error_t *err)
{
	cv_inst_t *in = NULL;
	json_error_t jerr;
	json_t *s = NULL;
	int rc;

	*instance = NULL;
	in = calloc(1, sizeof *in);
	if (!in)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	in->host = host;
	in->ex.fd = -1;
	s = json_loads(settings_json ? settings_json : "{}", JSON_REJECT_DUPLICATES, &jerr);
	if (!s || !json_is_object(s)) {
		rc = mid_error_set(err, MID_EINVAL, 0, "csv: settings are not a JSON object%s%s",
		                   s ? "" : ": ", s ? "" : jerr.text);
		goto error;
	}
	if ((rc = cv_conf_parse(&in->c, s, err)) < 0)
		goto error;
	json_decref(s);
	*instance = in;
	return MID_OK;
error:
	json_decref(s);
	cv_close(in);
	return rc;
}

static void cv_close(void *instance)
{
	cv_inst_t *in = instance;

	if (!in)
		return;
	if (in->ex.fd >= 0) {
		/* pushes never flushed are not durable: drop them */
		close(in->ex.fd);
		unlink(in->ex.tmp);
	}
	free(in->ex.line.p);
	cv_conf_free(&in->c);
	free(in);
}

/* ---- picking a file ---------------------------------------------------- */

typedef struct cv_pick {
	char name[NAME_MAX + 1];
	struct stat st;
	size_t waiting;            /* complete files waiting, this one included */
} cv_pick_t;

static int cv_is_candidate(const cv_inst_t *in, int dfd, const char *name, struct stat *st,
                           int64_t now)
{
	const cv_conf_t *c = &in->c;
	size_t n = strlen(name), sl = strlen(c->done_suffix);

	if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
		return 0;
	if (fnmatch(c->pattern, name, FNM_PERIOD) != 0)
		return 0;
	for (size_t i = 0; i < c->ntemp; i++)
		if (fnmatch(c->temp[i], name, 0) == 0)
			return 0;
	if (n >= sl && strcmp(name + n - sl, c->done_suffix) == 0)
		return 0;
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st->st_mode))
		return 0;
	if (c->done_marker) {
		char marker[NAME_MAX + 64];
		struct stat mst;
		if ((size_t)snprintf(marker, sizeof marker, "%s%s", name, c->done_suffix) >= sizeof marker)
			return 0;
		if (fstatat(dfd, marker, &mst, 0) < 0)
			return 0;
	}
	if (c->settle_s > 0 &&
	    (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000 >
	    now - c->settle_s * 1000)
		return 0;
	return 1;
}

static int cv_older(const struct stat *a, const char *an, const struct stat *b, const char *bn)
{
	if (a->st_mtim.tv_sec != b->st_mtim.tv_sec)
		return a->st_mtim.tv_sec < b->st_mtim.tv_sec;
	if (a->st_mtim.tv_nsec != b->st_mtim.tv_nsec)
		return a->st_mtim.tv_nsec < b->st_mtim.tv_nsec;
	return strcmp(an, bn) < 0;
}

/* Find the oldest complete file. Returns 1 found, 0 none, <0 error. */
static int cv_pick_file(const cv_inst_t *in, cv_pick_t *pick, mid_error_t *err)
{
	DIR *d = opendir(in->c.inbox);
	struct dirent *de;
	int64_t now = cv_now(in);
	size_t seen = 0;
	int found = 0;

	pick->waiting = 0;
	if (!d)
		return mid_error_set(err, MID_EIO, errno != ENOENT && errno != EACCES,
		                     "csv: cannot open inbox folder %s: %s", in->c.inbox,
		                     strerror(errno));
	while ((de = readdir(d)) != NULL && seen++ < CV_MAX_CANDIDATES) {
		struct stat st;
		if (!cv_is_candidate(in, dirfd(d), de->d_name, &st, now))
			continue;
		pick->waiting++;
		if (!found || cv_older(&st, de->d_name, &pick->st, pick->name)) {
			snprintf(pick->name, sizeof pick->name, "%s", de->d_name);
			pick->st = st;
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/* ---- cursor ---------------------------------------------------------------- */

/* csv1:DEV:INO:SIZE:MTIME_NS:OFFSET:LINE:NAME */
static void cv_cursor(char *out, size_t cap, const struct stat *st, const char *name,
                      uint64_t offset, uint64_t line)
{
	snprintf(out, cap, "csv1:%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%s",
	         (uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_size,
	         (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec,
	         offset, line, name);
}

/* The resume offset a cursor gives for this file, 0 if it names another. */
static uint64_t cv_cursor_offset(const char *cursor, const struct stat *st, const char *name)
{
	uint64_t v[6];
	const char *p;
	char *end;

	if (!cursor || strncmp(cursor, "csv1:", 5) != 0)
		return 0;
	p = cursor + 5;
	for (int i = 0; i < 6; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno || end == p || *end != ':')
			return 0;
		p = end + 1;
	}
	if (v[0] != (uint64_t)st->st_dev || v[1] != (uint64_t)st->st_ino ||
	    v[2] != (uint64_t)st->st_size ||
	    v[3] != (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec ||
	    strcmp(p, name) != 0 || v[4] > (uint64_t)st->st_size)
		return 0;
	return v[4];
}

/* ---- value checks ---------------------------------------------------------- */

static int cv_all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/* 1.23457E+11, 1E5, -1.2e-3 */
static int cv_is_scientific(const char *s)
{
	const char *p = s;
	int mant = 0;

	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		mant = 1;
	}
	if (*p == '.' || *p == ',') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			mant = 1;
		}
	}
	if (!mant || (*p != 'e' && *p != 'E'))
		return 0;
	p++;
	if (*p == '+' || *p == '-')
		p++;
	if (!(*p >= '0' && *p <= '9'))
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

static int cv_iso_date_ok(const char *s, size_t n)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if (n != 10 || s[4] != '-' || s[7] != '-' || !cv_all_digits(s, 4) ||
	    !cv_all_digits(s + 5, 2) || !cv_all_digits(s + 8, 2))
		return 0;
	y = atoi(s);
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 0;
	return 1;
}

/* Check one value; on failure write the reason to `why` and return -1. */
static int cv_check_value(const cv_check_t *k, const char *v, size_t n, char *why, size_t cap)
{
	if (n == 0) {
		if (k->required) {
			snprintf(why, cap, "column '%s' is empty but required", k->column);
			return -1;
		}
		return 0;
	}
	if (k->digits) {
		if (cv_is_scientific(v)) {
			snprintf(why, cap, "column '%s' holds '%.64s', a number in scientific "
			         "notation: a spreadsheet converted it and digits were lost; export "
			         "the column as text", k->column, v);
			return -1;
		}
		if (n > 2 && (v[n - 2] == '.' || v[n - 2] == ',') && v[n - 1] == '0' &&
		    cv_all_digits(v, n - 2)) {
			snprintf(why, cap, "column '%s' holds '%.64s' with a decimal part: a "
			         "spreadsheet stored it as a number; export the column as text",
			         k->column, v);
			return -1;
		}
		if (!cv_all_digits(v, n)) {
			snprintf(why, cap, "column '%s' must hold digits only, not '%.64s'",
			         k->column, v);
			return -1;
		}
		if (k->width && n < (size_t)k->width) {
			snprintf(why, cap, "column '%s' holds %zu digits ('%.64s') but is declared "
			         "%ld wide: leading zeros were probably lost in a spreadsheet",
			         k->column, n, v, k->width);
			return -1;
		}
	}
	if (k->width && n != (size_t)k->width) {
		snprintf(why, cap, "column '%s' must be exactly %ld characters, not %zu",
		         k->column, k->width, n);
		return -1;
	}
	if (k->max_length && n > (size_t)k->max_length) {
		snprintf(why, cap, "column '%s' is longer than %lld bytes", k->column, k->max_length);
		return -1;
	}
	if (k->date && !cv_iso_date_ok(v, n)) {
		if (cv_all_digits(v, n) && n <= 6)
			snprintf(why, cap, "column '%s' holds '%.64s', a spreadsheet date serial "
			         "number; dates must be YYYY-MM-DD", k->column, v);
		else if (strchr(v, '/') || (strchr(v, '.') && n <= 10))
			snprintf(why, cap, "column '%s' holds '%.64s': dates must be YYYY-MM-DD (a "
			         "spreadsheet may have reformatted it)", k->column, v);
		else
			snprintf(why, cap, "column '%s' holds '%.64s', not a date YYYY-MM-DD",
			         k->column, v);
		return -1;
	}
	if (k->values) {
		size_t i;
		for (i = 0; i < k->nvalues && strcmp(k->values[i], v) != 0; i++)
			;
		if (i == k->nvalues) {
			snprintf(why, cap, "column '%s' holds '%.64s', not one of the allowed values",
			         k->column, v);
			return -1;
		}
	}
	return 0;
}

/* add/insert/new/create/update/modify/change -> UPSERT, delete/remove/del -> DELETE */
static int cv_parse_op(const char *v)
{
	static const char *const ups[] = { "add", "insert", "new", "create", "update",
	                                   "modify", "change", "upsert", "a", "u", "i", NULL };
	static const char *const dels[] = { "delete", "remove", "del", "d", NULL };
	while (*v == ' ')
		v++;
	for (int i = 0; ups[i]; i++)
		if (strcasecmp(v, ups[i]) == 0)
			return MID_OP_UPSERT;
	for (int i = 0; dels[i]; i++)
		if (strcasecmp(v, dels[i]) == 0)
			return MID_OP_DELETE;
	return 0;
}

/* ---- CSV output ------------------------------------------------------------ */

/* Encode the UTF-8 string s into `enc` and append it, RFC 4180 quoted when
 * needed and, unless verbatim, with a leading ' when it starts like a
 * formula. Returns 0, or -1 (why set) when a character cannot be written
 * in the encoding or memory ran out. */
static int cv_put_cell(cv_buf_t *b, const char *s, char delim, int enc, int verbatim,
                       const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	int quote = 0, formula = 0;

	if (!verbatim && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
	                  s[0] == '\t' || s[0] == '\r'))
		formula = 1;
	for (const char *q = s; *q; q++)
		if (*q == delim || *q == '"' || *q == '\n' || *q == '\r') {
			quote = 1;
			break;
		}
	if (s[0] == ' ' || (s[0] && s[strlen(s) - 1] == ' '))
		quote = 1;
	if ((quote && cv_buf_addc(b, '"') < 0) || (formula && cv_buf_addc(b, '\'') < 0))
		goto nomem;
	while (*p) {
		unsigned cp;
		size_t len;

		if (*p < 0x80) {
			if (*p == '"' && cv_buf_addc(b, '"') < 0)
				goto nomem;
			if (cv_buf_addc(b, (char)*p) < 0)
				goto nomem;
			p++;
			continue;
		}
		len = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 1;
		if (len == 1 || strnlen((const char *)p, len) < len ||
		    !csvr_utf8_valid(p, len)) {
			*why = "a value is not valid UTF-8";
			return -1;
		}
		if (enc == CSVR_ENC_UTF8) {
			if (cv_buf_add(b, (const char *)p, len) < 0)
				goto nomem;
			p += len;
			continue;
		}
		cp = len == 2 ? ((p[0] & 0x1Fu) << 6) | (p[1] & 0x3Fu)
		   : len == 3 ? ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu)
		   : 0x110000;
		{
			int byte = -1;
			if (cp >= 0xA0 && cp <= 0xFF)
				byte = (int)cp;
			else if (enc == CSVR_ENC_LATIN1 && cp >= 0x80 && cp < 0xA0)
				byte = (int)cp;
			else if (enc == CSVR_ENC_CP1252) {
				static const uint16_t hi[32] = {
					0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
					0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
					0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
					0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
				};
				for (int i = 0; i < 32; i++)
					if (hi[i] && hi[i] == cp)
						byte = 0x80 + i;
			}
			if (byte < 0) {
				*why = enc == CSVR_ENC_CP1252
				       ? "a character cannot be written in Windows-1252"
				       : "a character cannot be written in ISO-8859-1";
				return -1;
			}
			if (cv_buf_addc(b, (char)byte) < 0)
				goto nomem;
		}
		p += len;
	}
	if (quote && cv_buf_addc(b, '"') < 0)
		goto nomem;
	return 0;
nomem:
	*why = "out of memory";
	return -1;
}

static int cv_put_eol(cv_buf_t *b, int crlf)
{
	return cv_buf_add(b, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
}

/* ---- pull ----------------------------------------------------------------- */

typedef struct cv_run {
	cv_inst_t *in;
	const mid_pull_sink_t *sink;
	const mid_pull_req_t *req;
	mid_error_t *err;
	cv_pick_t pick;
	char path[PATH_MAX];
	int fd;
	int dirfd;
	csvr_t *r;

	char **hdr;                /* column names (copies) */
	size_t ncols;
	size_t id_idx, op_idx;
	long *check_idx;           /* column of each check */
	mid_field_t *fields;
	const char **vals;

	uint64_t resume_off;
	uint64_t rows, emitted, upserts, deletes, rejected, since_cp;
	int64_t started_ms;
	char stamp[32];
	char base[NAME_MAX + 1];   /* archive name without folder */
	char rej_tmp[PATH_MAX];
	int rej_fd;
	cv_buf_t rb;               /* reject line */
	char raw[CV_RAW_MAX * 3 + 4];
	char why[512];
	char cursor[PATH_MAX + 256];
} cv_run_t;

static ssize_t cv_fd_read(void *ctx, void *buf, size_t n)
{
	return read(*(int *)ctx, buf, n);
}

/* Split NAME.EXT into stem and ext (ext with its dot, "" if none). */
static void cv_split_ext(const char *name, char *stem, size_t cap, const char **ext)
{
	const char *dot = strrchr(name, '.');

	if (!dot || dot == name)
		dot = name + strlen(name);
	snprintf(stem, cap, "%.*s", (int)(dot - name), name);
	*ext = dot;
}

/* Choose NAME.STAMP[-k][.failed].EXT free in archive and report folders. */
static int cv_choose_base(cv_run_t *R, int failed)
{
	const cv_conf_t *c = &R->in->c;
	char stem[NAME_MAX + 1], p1[PATH_MAX], p2[PATH_MAX];
	const char *ext;

	cv_split_ext(R->pick.name, stem, sizeof stem, &ext);
	for (int k = 0; k < 1000; k++) {
		char sfx[16] = "";
		int n;
		if (k)
			snprintf(sfx, sizeof sfx, "-%d", k);
		n = snprintf(R->base, sizeof R->base, "%s.%s%s%s%s", stem, R->stamp, sfx,
		             failed ? ".failed" : "", ext);
		if (n < 0 || (size_t)n >= sizeof R->base - 32)
			return mid_error_set(R->err, MID_EINVAL, 0, "csv: file name too long: %s",
			                     R->pick.name);
		if (cv_join(p1, sizeof p1, c->archive, R->base) < 0 ||
		    snprintf(p2, sizeof p2, "%s/%s.report.json", c->report, R->base) >= (int)sizeof p2)
			return mid_error_set(R->err, MID_EINVAL, 0, "csv: path too long");
		if (access(p1, F_OK) != 0 && access(p2, F_OK) != 0)
			return MID_OK;
	}
	return mid_error_set(R->err, MID_EIO, 1, "csv: no free archive name for %s", R->pick.name);
}

/* Write `text` to DIR/NAME atomically (temporary file, fsync, rename). */
static int cv_write_atomic(const char *dir, const char *name, const char *text, size_t n)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd, e;

	if (snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name) >= (int)sizeof tmp ||
	    cv_join(dst, sizeof dst, dir, name) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0640) < 0 || cv_write_all(fd, text, n) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) < 0)
		goto fail;
	return cv_fsync_dir(dir);
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

static int cv_write_report(cv_run_t *R, const char *status, const char *error)
{
	const cv_conf_t *c = &R->in->c;
	char started[80], finished[80], name[NAME_MAX + 32];
	json_t *j;
	char *text;
	int rc;

	cv_iso(R->started_ms, started, sizeof started);
	cv_iso(cv_now(R->in), finished, sizeof finished);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	              "file", R->pick.name, "archived_as", R->base, "status", status,
	              "mode", c->delta ? "delta" : "snapshot", "encoding", cv_encodings[c->enc],
	              "started", started, "finished", finished,
	              "bytes", (json_int_t)R->pick.st.st_size,
	              "rows_read", (json_int_t)R->rows, "records_emitted", (json_int_t)R->emitted,
	              "upserts", (json_int_t)R->upserts, "deletes", (json_int_t)R->deletes,
	              "rejected", (json_int_t)R->rejected,
	              "resumed_at_byte", (json_int_t)R->resume_off);
	if (!j)
		return mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
	if (error)
		json_object_set_new(j, "error", json_string(error));
	if (R->rej_fd >= 0 || strcmp(status, "ok") == 0) {
		snprintf(name, sizeof name, "%s.rejects.csv", R->base);
		json_object_set_new(j, "reject_file", json_string(name));
	}
	text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!text)
		return mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
	snprintf(name, sizeof name, "%s.report.json", R->base);
	rc = cv_write_atomic(c->report, name, text, strlen(text));
	free(text);
	if (rc < 0)
		return mid_error_set(R->err, MID_EIO, 1, "csv: cannot write report %s/%s: %s",
		                     c->report, name, strerror(errno));
	return MID_OK;
}

/* Move the inbox file (and its marker) to archive/R->base; fsync both. */
static int cv_archive_file(cv_run_t *R)
{
	const cv_conf_t *c = &R->in->c;
	char dst[PATH_MAX];

	if (cv_join(dst, sizeof dst, c->archive, R->base) < 0)
		return mid_error_set(R->err, MID_EINVAL, 0, "csv: path too long");
	if (renameat2(AT_FDCWD, R->path, AT_FDCWD, dst, RENAME_NOREPLACE) < 0) {
		if (errno == EINVAL || errno == ENOSYS) {
			if (link(R->path, dst) < 0 || unlink(R->path) < 0)
				goto fail;
		} else {
			goto fail;
		}
	}
	if (c->done_marker) {
		char marker[PATH_MAX];
		if (snprintf(marker, sizeof marker, "%s%s", R->path, c->done_suffix) < (int)sizeof marker)
			unlink(marker);
	}
	if (cv_fsync_dir(c->archive) < 0 || cv_fsync_dir(c->inbox) < 0)
		return mid_error_set(R->err, MID_EIO, 1, "csv: fsync of %s or %s failed: %s",
		                     c->archive, c->inbox, strerror(errno));
	return MID_OK;
fail:
	return mid_error_set(R->err, MID_EIO, errno != EXDEV,
	                     "csv: cannot move %s to %s: %s%s", R->path, dst, strerror(errno),
	                     errno == EXDEV ? " (archive_dir must be on the inbox's file system)" : "");
}

/* A file that cannot be applied at all: deliver nothing, move it aside. */
static int cv_bad_file(cv_run_t *R, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cv_bad_file(cv_run_t *R, int code, const char *fmt, ...)
{
	char reason[400];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (R->req->dry_run)
		return mid_error_set(R->err, code, 0, "csv: %s: %s (dry run: file left in place)",
		                     R->pick.name, reason);
	if ((rc = cv_choose_base(R, 1)) < 0 || (rc = cv_write_report(R, "failed", reason)) < 0 ||
	    (rc = cv_archive_file(R)) < 0)
		return rc;
	cv_log(R->in, MID_LOG_WARNING, "csv: %s refused: %s; moved to %s/%s", R->pick.name,
	       reason, R->in->c.archive, R->base);
	return mid_error_set(R->err, code, 0, "csv: %s: %s; nothing was applied, the file was "
	                     "moved to %s/%s (fix it and put it back into the inbox)",
	                     R->pick.name, reason, R->in->c.archive, R->base);
}

/* Check the whole file's size and encoding before anything is delivered. */
static int cv_prescan(cv_run_t *R)
{
	const cv_conf_t *c = &R->in->c;
	csvr_enc_check_t ec = { .encoding = c->enc };
	unsigned char *buf;
	ssize_t n;
	int first = 1, rc = MID_OK;

	if ((long long)R->pick.st.st_size > c->max_file)
		return cv_bad_file(R, MID_ELIMIT, "the file has %lld bytes, more than max_file_bytes "
		                   "(%lld)", (long long)R->pick.st.st_size, c->max_file);
	buf = malloc(CV_SCAN_CHUNK);
	if (!buf)
		return mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
	for (;;) {
		n = read(R->fd, buf, CV_SCAN_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mid_error_set(R->err, MID_EIO, 1, "csv: cannot read %s: %s", R->path,
			                   strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (first && c->enc != CSVR_ENC_UTF8 && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
			rc = cv_bad_file(R, MID_EINVAL, "the file starts with a UTF-8 byte order mark but "
			                 "the binding's encoding is %s", cv_encodings[c->enc]);
			goto out;
		}
		first = 0;
		if (csvr_enc_feed(&ec, buf, (size_t)n) < 0)
			break;
	}
	if (ec.reason || csvr_enc_end(&ec) < 0) {
		rc = cv_bad_file(R, MID_EINVAL, "line %" PRIu64 " (byte %" PRIu64 "): %s",
		                 ec.bad_line, ec.bad_offset, ec.reason);
		goto out;
	}
	if (lseek(R->fd, 0, SEEK_SET) < 0)
		rc = mid_error_set(R->err, MID_EIO, 1, "csv: cannot rewind %s: %s", R->path,
		                   strerror(errno));
out:
	free(buf);
	return rc;
}

static char *cv_trim_dup(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return strndup(s, n);
}

static long cv_col_index(const cv_run_t *R, const char *name)
{
	for (size_t i = 0; i < R->ncols; i++)
		if (strcmp(R->hdr[i], name) == 0)
			return (long)i;
	return -1;
}

/* Header: validate it (or take the fixed column list) and set up the
 * record layout. *have_row is set when a data row was read already. */
static int cv_setup_columns(cv_run_t *R, csvr_row_t *row, int *have_row)
{
	const cv_conf_t *c = &R->in->c;
	char found[300];
	int rc;

	*have_row = 0;
	if (c->header) {
		rc = csvr_next(R->r, row);
		if (rc < 0)
			return mid_error_set(R->err, rc, rc == MID_EIO, "csv: cannot read %s: %s",
			                     R->path, rc == MID_EIO ? strerror(errno) : "out of memory");
		if (rc == CSVR_EOF)
			return cv_bad_file(R, MID_EINVAL, "the file is empty (no header line)");
		if (rc == CSVR_REJECT)
			return cv_bad_file(R, MID_EINVAL, "the header line (line %" PRIu64 ") cannot be "
			                   "read: %s", row->line, row->reason);
		R->ncols = row->nfields;
	} else {
		R->ncols = c->ncolumns;
	}
	R->hdr = calloc(R->ncols, sizeof *R->hdr);
	R->fields = calloc(R->ncols, sizeof *R->fields);
	R->vals = calloc(R->ncols, sizeof *R->vals);
	R->check_idx = calloc(c->nchecks + 1, sizeof *R->check_idx);
	if (!R->hdr || !R->fields || !R->vals || !R->check_idx)
		return mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
	for (size_t i = 0; i < R->ncols; i++) {
		R->hdr[i] = c->header ? cv_trim_dup(row->fields[i]) : strdup(c->columns[i]);
		if (!R->hdr[i])
			return mid_error_set(R->err, MID_ENOMEM, 0, "out of memory");
		if (!R->hdr[i][0])
			return cv_bad_file(R, MID_EINVAL, "wrong header: column %zu has no name", i + 1);
		for (size_t k = 0; k < i; k++)
			if (strcmp(R->hdr[k], R->hdr[i]) == 0)
				return cv_bad_file(R, MID_EINVAL, "wrong header: column '%s' appears twice",
				                   R->hdr[i]);
		R->fields[i].name = R->hdr[i];
		R->fields[i].values = &R->vals[i];
		R->fields[i].nvalues = 1;
	}
	/* a short summary of what was found, for the messages below */
	found[0] = '\0';
	for (size_t i = 0, len = 0; i < R->ncols && len < sizeof found - 8; i++) {
		int n = snprintf(found + len, sizeof found - len, "%s%s", i ? ", " : "", R->hdr[i]);
		if (n < 0 || (size_t)n >= sizeof found - len) {
			snprintf(found + sizeof found - 5, 5, "...");
			break;
		}
		len += (size_t)n;
	}
	for (size_t i = 0; i < c->ncolumns && c->header; i++)
		if (cv_col_index(R, c->columns[i]) < 0)
			return cv_bad_file(R, MID_EINVAL, "wrong header: column '%s' is missing (the "
			                   "header has: %s; delimiter '%s')", c->columns[i], found,
			                   c->delim == '\t' ? "\\t" : (char[2]){ c->delim, 0 });
	if (cv_col_index(R, c->id_col) < 0)
		return cv_bad_file(R, MID_EINVAL, "wrong header: the id column '%s' is missing (the "
		                   "header has: %s)", c->id_col, found);
	R->id_idx = (size_t)cv_col_index(R, c->id_col);
	if (c->delta) {
		if (cv_col_index(R, c->op_col) < 0)
			return cv_bad_file(R, MID_EINVAL, "wrong header: the operation column '%s' is "
			                   "missing (the header has: %s)", c->op_col, found);
		R->op_idx = (size_t)cv_col_index(R, c->op_col);
	}
	/* a check applies when its column is there; optional columns may be
	 * absent (header false validated every check column at open) */
	for (size_t i = 0; i < c->nchecks; i++)
		R->check_idx[i] = cv_col_index(R, c->checks[i].column);
	return MID_OK;
}

/* Open the reject file (not in a dry run). */
static int cv_open_rejects(cv_run_t *R)
{
	static const char head[] = "line,column,reason,raw\r\n";

	if (R->req->dry_run)
		return MID_OK;
	if (snprintf(R->rej_tmp, sizeof R->rej_tmp, "%s/.csv-rejects.XXXXXX", R->in->c.report) >=
	    (int)sizeof R->rej_tmp)
		return mid_error_set(R->err, MID_EINVAL, 0, "csv: path too long");
	R->rej_fd = mkostemp(R->rej_tmp, O_CLOEXEC);
	if (R->rej_fd < 0 || fchmod(R->rej_fd, 0640) < 0 ||
	    cv_write_all(R->rej_fd, head, sizeof head - 1) < 0)
		return mid_error_set(R->err, MID_EIO, 1, "csv: cannot create a reject file in %s: %s",
		                     R->in->c.report, strerror(errno));
	return MID_OK;
}

/* One rejected row: tell the sink (unless before the resume point) and
 * write it to the reject file. */
static int cv_reject(cv_run_t *R, const csvr_row_t *row, const char *column, const char *reason)
{
	const cv_conf_t *c = &R->in->c;
	char num[32];
	const char *why = NULL;
	size_t rl = row->raw_len;
	int rc;

	R->rejected++;
	R->since_cp++;
	if (rl > CV_RAW_MAX)
		rl = CV_RAW_MAX;
	/* strip the line end of a raw record */
	while (rl && (row->raw[rl - 1] == '\n' || row->raw[rl - 1] == '\r'))
		rl--;
	csvr_to_utf8(c->enc, row->raw ? row->raw : "", row->raw ? rl : 0, R->raw, sizeof R->raw);
	if (row->end_offset > R->resume_off && R->sink->reject) {
		rc = R->sink->reject(R->sink->ctx, row->line, column, reason, R->raw, R->err);
		if (rc < 0)
			return rc;
	}
	if (R->rej_fd < 0)
		return MID_OK;
	R->rb.len = 0;
	snprintf(num, sizeof num, "%" PRIu64, row->line);
	if (cv_put_cell(&R->rb, num, ',', CSVR_ENC_UTF8, 1, &why) < 0 || cv_buf_addc(&R->rb, ',') < 0 ||
	    cv_put_cell(&R->rb, column ? column : "", ',', CSVR_ENC_UTF8, 0, &why) < 0 ||
	    cv_buf_addc(&R->rb, ',') < 0 ||
	    cv_put_cell(&R->rb, reason, ',', CSVR_ENC_UTF8, 0, &why) < 0 ||
	    cv_buf_addc(&R->rb, ',') < 0 ||
	    cv_put_cell(&R->rb, R->raw, ',', CSVR_ENC_UTF8, 0, &why) < 0 ||
	    cv_put_eol(&R->rb, 1) < 0)
		return mid_error_set(R->err, MID_ENOMEM, 0, "csv: reject line: %s",
		                     why ? why : "out of memory");
	if (cv_write_all(R->rej_fd, R->rb.p, R->rb.len) < 0)
		return mid_error_set(R->err, MID_EIO, 1, "csv: cannot write the reject file: %s",
		                     strerror(errno));
	return MID_OK;
}

/* One data row. */
static int cv_row(cv_run_t *R, const csvr_row_t *row)
{
	const cv_conf_t *c = &R->in->c;
	mid_record_t rec;
	int op = MID_OP_UPSERT, rc;

	R->rows++;
	if (row->nfields != R->ncols) {
		size_t extra = row->nfields > R->ncols;
		for (size_t i = R->ncols; extra && i < row->nfields; i++)
			if (row->lens[i])
				extra = 0;
		if (!extra) {   /* trailing empty fields (spreadsheet padding) are fine */
			snprintf(R->why, sizeof R->why, "expected %zu fields, found %zu", R->ncols,
			         row->nfields);
			return cv_reject(R, row, NULL, R->why);
		}
	}
	if (row->lens[R->id_idx] == 0)
		return cv_reject(R, row, R->hdr[R->id_idx], "the id column is empty");
	if (c->delta) {
		op = cv_parse_op(row->fields[R->op_idx]);
		if (!op) {
			snprintf(R->why, sizeof R->why, "unknown operation '%.64s' (expected add, update "
			         "or delete)", row->fields[R->op_idx]);
			return cv_reject(R, row, R->hdr[R->op_idx], R->why);
		}
	}
	if (op == MID_OP_UPSERT)
		for (size_t i = 0; i < c->nchecks; i++) {
			size_t k = (size_t)R->check_idx[i];
			if (R->check_idx[i] < 0)
				continue;
			if (cv_check_value(&c->checks[i], row->fields[k], row->lens[k], R->why,
			                   sizeof R->why) < 0)
				return cv_reject(R, row, R->hdr[k], R->why);
		}
	R->since_cp++;
	if (row->end_offset <= R->resume_off)
		return MID_OK;    /* delivered before the restart */
	for (size_t i = 0; i < R->ncols; i++)
		R->vals[i] = row->fields[i];
	memset(&rec, 0, sizeof rec);
	rec.op = op;
	rec.external_id = row->fields[R->id_idx];
	rec.fields = op == MID_OP_DELETE ? NULL : R->fields;
	rec.nfields = op == MID_OP_DELETE ? 0 : R->ncols;
	rec.source_pos = row->line;
	rc = R->sink->record(R->sink->ctx, &rec, R->err);
	if (rc < 0)
		return rc;
	R->emitted++;
	if (op == MID_OP_DELETE)
		R->deletes++;
	else
		R->upserts++;
	return MID_OK;
}

/* The file must not change under us (the writer broke the protocol). */
static int cv_unchanged(cv_run_t *R)
{
	struct stat st;

	if (fstat(R->fd, &st) < 0)
		return mid_error_set(R->err, MID_EIO, 1, "csv: cannot stat %s: %s", R->path,
		                     strerror(errno));
	if (st.st_size != R->pick.st.st_size || st.st_mtim.tv_sec != R->pick.st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != R->pick.st.st_mtim.tv_nsec)
		return mid_error_set(R->err, MID_ECONFLICT, 1,
		                     "csv: %s changed while it was read (the PACS must write under a "
		                     "temporary name and rename, or use a done marker); it will be "
		                     "read again", R->pick.name);
	return MID_OK;
}

static int cv_checkpoint(cv_run_t *R, uint64_t line)
{
	uint64_t off = csvr_offset(R->r);
	int rc;

	if ((rc = cv_unchanged(R)) < 0)
		return rc;
	cv_cursor(R->cursor, sizeof R->cursor, &R->pick.st, R->pick.name, off, line);
	if (R->sink->checkpoint && (rc = R->sink->checkpoint(R->sink->ctx, R->cursor, R->err)) < 0)
		return rc;
	if (R->sink->progress)
		R->sink->progress(R->sink->ctx, off, (uint64_t)R->pick.st.st_size);
	R->since_cp = 0;
	return MID_OK;
}

static int cv_finish_rejects(cv_run_t *R)
{
	char name[NAME_MAX + 32], dst[PATH_MAX];

	if (R->rej_fd < 0)
		return MID_OK;
	snprintf(name, sizeof name, "%s.rejects.csv", R->base);
	if (fsync(R->rej_fd) < 0 || close(R->rej_fd) < 0) {
		R->rej_fd = -1;
		return mid_error_set(R->err, MID_EIO, 1, "csv: cannot write the reject file: %s",
		                     strerror(errno));
	}
	R->rej_fd = -1;
	if (cv_join(dst, sizeof dst, R->in->c.report, name) < 0 || rename(R->rej_tmp, dst) < 0)
		return mid_error_set(R->err, MID_EIO, 1, "csv: cannot rename the reject file to %s: %s",
		                     dst, strerror(errno));
	R->rej_tmp[0] = '\0';
	return MID_OK;
}

static void cv_run_free(cv_run_t *R)
{
	if (R->fd >= 0)
		close(R->fd);
	if (R->rej_fd >= 0) {
		close(R->rej_fd);
		unlink(R->rej_tmp);
	} else if (R->rej_tmp[0]) {
		unlink(R->rej_tmp);
	}
	csvr_free(R->r);
	for (size_t i = 0; R->hdr && i < R->ncols; i++)
		free(R->hdr[i]);
	free(R->hdr);
	free(R->fields);
	free(R->vals);
	free(R->check_idx);
	free(R->rb.p);
}

static int cv_pull(void *instance, const mid_pull_req_t *req, const mid_pull_sink_t *sink,
                   mid_pull_result_t *result, mid_error_t *err)
{
	cv_inst_t *in = instance;
	const cv_conf_t *c = &in->c;
	cv_run_t *R;
	csvr_opts_t ro = {0};
	csvr_row_t row;
	int rc, have_row;
	uint64_t last_line = 0;

	memset(result, 0, sizeof *result);
	if (!sink || !sink->record)
		return mid_error_set(err, MID_EINVAL, 0, "csv: pull needs a sink with record()");
	R = calloc(1, sizeof *R);
	if (!R)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	R->in = in;
	R->sink = sink;
	R->req = req;
	R->err = err;
	R->fd = -1;
	R->rej_fd = -1;
	R->started_ms = cv_now(in);
	cv_stamp(R->started_ms, R->stamp, sizeof R->stamp);

	rc = cv_pick_file(in, &R->pick, err);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		result->nothing_new = 1;
		if (sink->progress)
			sink->progress(sink->ctx, 0, 0);
		rc = MID_OK;
		goto out;
	}
	snprintf(result->source, sizeof result->source, "%s", R->pick.name);
	if (cv_join(R->path, sizeof R->path, c->inbox, R->pick.name) < 0) {
		rc = mid_error_set(err, MID_EINVAL, 0, "csv: path too long");
		goto out;
	}
	R->fd = open(R->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (R->fd < 0) {
		rc = mid_error_set(err, MID_EIO, 1, "csv: cannot open %s: %s", R->path, strerror(errno));
		goto out;
	}
	{
		struct stat st;
		if (fstat(R->fd, &st) < 0 || st.st_ino != R->pick.st.st_ino) {
			rc = mid_error_set(err, MID_EIO, 1, "csv: %s was replaced while it was opened",
			                   R->path);
			goto out;
		}
		R->pick.st = st;
	}
	cv_log(in, MID_LOG_INFO, "csv: reading %s (%lld bytes, %zu file(s) waiting)", R->path,
	       (long long)R->pick.st.st_size, R->pick.waiting);
	if (c->delta)
		R->resume_off = cv_cursor_offset(req->cursor, &R->pick.st, R->pick.name);
	if ((rc = cv_prescan(R)) < 0)
		goto out;

	ro.delim = c->delim;
	ro.encoding = c->enc;
	ro.max_field = (size_t)c->max_field;
	ro.max_record = (size_t)c->max_line;
	if ((rc = csvr_new(&R->r, cv_fd_read, &R->fd, &ro)) < 0) {
		rc = mid_error_set(err, rc, 0, "csv: cannot create the reader");
		goto out;
	}
	if ((rc = cv_setup_columns(R, &row, &have_row)) < 0)
		goto out;
	if ((rc = cv_open_rejects(R)) < 0)
		goto out;
	if (R->resume_off)
		cv_log(in, MID_LOG_NOTICE, "csv: resuming %s after byte %" PRIu64, R->pick.name,
		       R->resume_off);

	for (;;) {
		if (!have_row) {
			rc = csvr_next(R->r, &row);
			if (rc == CSVR_EOF)
				break;
			if (rc < 0) {
				rc = mid_error_set(err, rc, rc == MID_EIO, "csv: cannot read %s: %s", R->path,
				                   rc == MID_EIO ? strerror(errno) : "out of memory");
				goto out;
			}
		} else {
			rc = CSVR_RECORD;
			have_row = 0;
		}
		last_line = row.line + row.lines;
		if (rc == CSVR_REJECT) {
			R->rows++;
			rc = cv_reject(R, &row, row.field >= 0 && (size_t)row.field < R->ncols
			                        ? R->hdr[row.field] : NULL, row.reason);
		} else {
			rc = cv_row(R, &row);
		}
		if (rc < 0)
			goto out;
		if (R->since_cp >= (uint64_t)c->batch && row.end_offset > R->resume_off &&
		    (rc = cv_checkpoint(R, last_line)) < 0)
			goto out;
	}
	if ((rc = cv_checkpoint(R, last_line)) < 0)
		goto out;
	if (!req->dry_run) {
		/* the host may still hold the last rows in an open transaction:
		 * they must be stored before the file leaves the inbox, or a
		 * crash or a failed commit now would archive rows never applied */
		if (sink->commit && (rc = sink->commit(sink->ctx, err)) < 0)
			goto out;
		if ((rc = cv_choose_base(R, 0)) < 0 || (rc = cv_finish_rejects(R)) < 0 ||
		    (rc = cv_write_report(R, "ok", NULL)) < 0 || (rc = cv_archive_file(R)) < 0)
			goto out;
		cv_log(in, MID_LOG_INFO, "csv: %s: %" PRIu64 " rows, %" PRIu64 " records, %" PRIu64
		       " rejected; archived as %s/%s", R->pick.name, R->rows, R->emitted, R->rejected,
		       c->archive, R->base);
	}
	result->complete = !c->delta;
	rc = MID_OK;
out:
	cv_run_free(R);
	free(R);
	return rc;
}

/* ---- push / flush ------------------------------------------------------------ */

static int cv_export_verbatim(const cv_conf_t *c, const char *col)
{
	return cv_in_list(c->everbatim, c->neverbatim, col);
}

static int cv_export_has_op(const cv_conf_t *c)
{
	return !c->export_snapshot;
}

static int cv_export_op_listed(const cv_conf_t *c)
{
	return cv_in_list(c->ecols, c->necols, c->eop_col);
}

/* Create the temporary export file and write its header. */
static int cv_export_begin(cv_inst_t *in, mid_error_t *err)
{
	const cv_conf_t *c = &in->c;
	cv_buf_t *b = &in->ex.line;
	const char *why = NULL;

	if (snprintf(in->ex.tmp, sizeof in->ex.tmp, "%s/.%s-XXXXXX.tmp", c->outbound, c->eprefix) >=
	    (int)sizeof in->ex.tmp)
		return mid_error_set(err, MID_EINVAL, 0, "csv: outbound path too long");
	in->ex.fd = mkostemps(in->ex.tmp, 4, O_CLOEXEC);
	if (in->ex.fd < 0)
		return mid_error_set(err, MID_EIO, 1, "csv: cannot create an export file in %s: %s",
		                     c->outbound, strerror(errno));
	in->ex.rows = 0;
	b->len = 0;
	if (c->ebom && cv_buf_add(b, "\xEF\xBB\xBF", 3) < 0)
		goto nomem;
	if (cv_export_has_op(c) && !cv_export_op_listed(c)) {
		if (cv_put_cell(b, c->eop_col, c->edelim, c->eenc, 0, &why) < 0 ||
		    cv_buf_addc(b, c->edelim) < 0)
			goto bad;
	}
	for (size_t i = 0; i < c->necols; i++)
		if ((i && cv_buf_addc(b, c->edelim) < 0) ||
		    cv_put_cell(b, c->ecols[i], c->edelim, c->eenc, 0, &why) < 0)
			goto bad;
	if (cv_put_eol(b, c->ecrlf) < 0)
		goto nomem;
	if (fchmod(in->ex.fd, 0640) < 0 || cv_write_all(in->ex.fd, b->p, b->len) < 0)
		return mid_error_set(err, MID_EIO, 1, "csv: cannot write %s: %s", in->ex.tmp,
		                     strerror(errno));
	return MID_OK;
bad:
	return mid_error_set(err, MID_EINVAL, 0, "csv: export header: %s", why ? why : "error");
nomem:
	return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
}

static const mid_field_t *cv_rec_field(const mid_record_t *rec, const char *name)
{
	for (size_t i = 0; rec->fields && i < rec->nfields; i++)
		if (rec->fields[i].name && strcmp(rec->fields[i].name, name) == 0)
			return &rec->fields[i];
	return NULL;
}

/* The cell text of column `col` (multi-values joined) into tmp. */
static int cv_cell_value(const cv_conf_t *c, const mid_record_t *rec, const char *col,
                         cv_buf_t *tmp)
{
	const mid_field_t *f = cv_rec_field(rec, col);

	tmp->len = 0;
	if (cv_buf_reserve(tmp, 0) < 0)
		return -1;
	tmp->p[0] = '\0';
	if (!f) {
		if (strcmp(col, c->eid_col) == 0 && rec->external_id)
			return cv_buf_add(tmp, rec->external_id, strlen(rec->external_id));
		return 0;
	}
	for (size_t k = 0; k < f->nvalues; k++) {
		if (k && cv_buf_add(tmp, c->mvsep, strlen(c->mvsep)) < 0)
			return -1;
		if (f->values[k] && cv_buf_add(tmp, f->values[k], strlen(f->values[k])) < 0)
			return -1;
	}
	return 0;
}

static int cv_push(void *instance, const mid_record_t *rec, mid_push_result_t *result,
                   mid_error_t *err)
{
	cv_inst_t *in = instance;
	const cv_conf_t *c = &in->c;
	cv_buf_t *b = &in->ex.line, val = {0};
	const char *why = NULL, *opname;
	int rc;

	if (result)
		memset(result, 0, sizeof *result);
	if (!c->outbound)
		return mid_error_set(err, MID_ENOTSUP, 0,
		                     "csv: this binding has no outbound_dir, so it cannot push");
	if (!rec || (rec->op != MID_OP_UPSERT && rec->op != MID_OP_DELETE))
		return mid_error_set(err, MID_EINVAL, 0, "csv: push of a record without a valid op");
	if (rec->op == MID_OP_DELETE && (!rec->external_id || !rec->external_id[0]))
		return mid_error_set(err, MID_EINVAL, 0, "csv: a delete needs the record's external id");
	if (rec->op == MID_OP_DELETE && c->export_snapshot)
		return MID_OK; /* a snapshot simply leaves the row out */
	if (in->ex.fd < 0 && (rc = cv_export_begin(in, err)) < 0)
		goto out;
	opname = rec->op == MID_OP_DELETE ? "delete"
	       : (rec->external_id && rec->external_id[0]) ? "update" : "add";
	b->len = 0;
	if (cv_export_has_op(c) && !cv_export_op_listed(c)) {
		if (cv_put_cell(b, opname, c->edelim, c->eenc, 0, &why) < 0 ||
		    cv_buf_addc(b, c->edelim) < 0)
			goto bad;
	}
	for (size_t i = 0; i < c->necols; i++) {
		const char *col = c->ecols[i];
		if (i && cv_buf_addc(b, c->edelim) < 0)
			goto nomem;
		if (cv_export_has_op(c) && strcmp(col, c->eop_col) == 0) {
			if (cv_put_cell(b, opname, c->edelim, c->eenc, 0, &why) < 0)
				goto bad;
			continue;
		}
		if (rec->op == MID_OP_DELETE && strcmp(col, c->eid_col) != 0)
			continue;
		if (cv_cell_value(c, rec, col, &val) < 0)
			goto nomem;
		if (strcmp(col, c->eid_col) == 0 && result)
			snprintf(result->external_id, sizeof result->external_id, "%s", val.p);
		if (cv_put_cell(b, val.p, c->edelim, c->eenc, cv_export_verbatim(c, col), &why) < 0) {
			rc = mid_error_set(err, MID_EINVAL, 0, "csv: column '%s': %s", col, why);
			goto out;
		}
	}
	if (cv_put_eol(b, c->ecrlf) < 0)
		goto nomem;
	if (cv_write_all(in->ex.fd, b->p, b->len) < 0) {
		rc = mid_error_set(err, MID_EIO, 1, "csv: cannot write %s: %s", in->ex.tmp,
		                   strerror(errno));
		goto out;
	}
	in->ex.rows++;
	rc = MID_OK;
	goto out;
bad:
	rc = mid_error_set(err, MID_EINVAL, 0, "csv: %s", why ? why : "cannot write the row");
	goto out;
nomem:
	rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
out:
	free(val.p);
	return rc;
}

static int cv_read_seq(const char *dir, uint64_t *seq)
{
	char path[PATH_MAX], buf[64];
	int fd;
	ssize_t n;

	*seq = 1;
	if (cv_join(path, sizeof path, dir, CV_SEQ_FILE) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	*seq = strtoull(buf, NULL, 10);
	if (*seq == 0)
		*seq = 1;
	return 0;
}

static int cv_flush(void *instance, mid_error_t *err)
{
	cv_inst_t *in = instance;
	const cv_conf_t *c = &in->c;
	char dst[PATH_MAX], num[32];
	uint64_t seq;
	int rc;

	if (!c->outbound || in->ex.fd < 0)
		return MID_OK;
	if (fsync(in->ex.fd) < 0) {
		rc = mid_error_set(err, MID_EIO, 1, "csv: fsync of %s failed: %s", in->ex.tmp,
		                   strerror(errno));
		goto fail;
	}
	if (close(in->ex.fd) < 0) {
		in->ex.fd = -1;
		rc = mid_error_set(err, MID_EIO, 1, "csv: closing %s failed: %s", in->ex.tmp,
		                   strerror(errno));
		goto fail;
	}
	in->ex.fd = -1;
	if (cv_read_seq(c->outbound, &seq) < 0) {
		rc = mid_error_set(err, MID_EIO, 1, "csv: cannot read %s/%s: %s", c->outbound,
		                   CV_SEQ_FILE, strerror(errno));
		goto fail;
	}
	for (int tries = 0;; tries++, seq++) {
		if (snprintf(dst, sizeof dst, "%s/%s%06" PRIu64 ".csv", c->outbound, c->eprefix, seq) >=
		    (int)sizeof dst) {
			rc = mid_error_set(err, MID_EINVAL, 0, "csv: outbound path too long");
			goto fail;
		}
		/* the next number is stored first: a crash leaves a gap, never a reuse */
		snprintf(num, sizeof num, "%" PRIu64 "\n", seq + 1);
		if (cv_write_atomic(c->outbound, CV_SEQ_FILE, num, strlen(num)) < 0) {
			rc = mid_error_set(err, MID_EIO, 1, "csv: cannot write %s/%s: %s", c->outbound,
			                   CV_SEQ_FILE, strerror(errno));
			goto fail;
		}
		if (renameat2(AT_FDCWD, in->ex.tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
			break;
		if ((errno == EINVAL || errno == ENOSYS) && link(in->ex.tmp, dst) == 0) {
			unlink(in->ex.tmp);
			break;
		}
		if (errno != EEXIST || tries > 1000) {
			rc = mid_error_set(err, MID_EIO, 1, "csv: cannot rename %s to %s: %s",
			                   in->ex.tmp, dst, strerror(errno));
			goto fail;
		}
	}
	if (cv_fsync_dir(c->outbound) < 0) {
		rc = mid_error_set(err, MID_EIO, 1, "csv: fsync of %s failed: %s", c->outbound,
		                   strerror(errno));
		goto fail;
	}
	cv_log(in, MID_LOG_INFO, "csv: wrote %s (%" PRIu64 " rows)", dst, in->ex.rows);
	in->ex.tmp[0] = '\0';
	in->ex.rows = 0;
	return MID_OK;
fail:
	/* the rows stay unconfirmed: the host pushes them again */
	if (in->ex.fd >= 0)
		close(in->ex.fd);
	in->ex.fd = -1;
	if (in->ex.tmp[0])
		unlink(in->ex.tmp);
	in->ex.tmp[0] = '\0';
	in->ex.rows = 0;
	return rc;
}

/* ---- test ------------------------------------------------------------------- */

static void cv_check_dir(mid_check_t *k, const char *name, const char *what, const char *dir,
                         int need_read)
{
	struct stat st;
	int mode = W_OK | X_OK | (need_read ? R_OK : 0);

	k->name = name;
	k->state = MID_CHECK_FAIL;
	if (stat(dir, &st) < 0)
		snprintf(k->detail, sizeof k->detail, "%s %s: %s", what, dir, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		snprintf(k->detail, sizeof k->detail, "%s %s is not a folder", what, dir);
	else if (faccessat(AT_FDCWD, dir, mode, AT_EACCESS) < 0)
		snprintf(k->detail, sizeof k->detail, "%s %s is not %s by this process (uid %u): %s",
		         what, dir, need_read ? "readable and writable" : "writable",
		         (unsigned)geteuid(), strerror(errno));
	else {
		k->state = MID_CHECK_OK;
		snprintf(k->detail, sizeof k->detail, "%s %s is %s", what, dir,
		         need_read ? "readable and writable" : "writable");
	}
}

static int cv_test(void *instance, mid_check_t *checks, size_t max, size_t *n, mid_error_t *err)
{
	cv_inst_t *in = instance;
	const cv_conf_t *c = &in->c;
	mid_check_t k[6];
	size_t cnt = 0;
	struct stat a, b;

	memset(k, 0, sizeof k);
	cv_check_dir(&k[cnt++], "inbox", "inbox folder", c->inbox, 1);
	cv_check_dir(&k[cnt++], "archive", "archive folder", c->archive, 0);
	if (strcmp(c->report, c->archive) != 0)
		cv_check_dir(&k[cnt++], "reports", "report folder", c->report, 0);
	k[cnt].name = "same file system";
	if (stat(c->inbox, &a) == 0 && stat(c->archive, &b) == 0) {
		k[cnt].state = a.st_dev == b.st_dev ? MID_CHECK_OK : MID_CHECK_FAIL;
		snprintf(k[cnt].detail, sizeof k[cnt].detail, a.st_dev == b.st_dev
		         ? "inbox and archive are on one file system (files move by rename)"
		         : "archive folder %s is on another file system than the inbox; files are "
		           "moved with rename(2), so put both on one", c->archive);
	} else {
		k[cnt].state = MID_CHECK_SKIP;
		snprintf(k[cnt].detail, sizeof k[cnt].detail, "a folder is missing");
	}
	cnt++;
	if (c->outbound) {
		cv_check_dir(&k[cnt++], "outbound", "outbound folder", c->outbound, 0);
	} else {
		k[cnt].name = "outbound";
		k[cnt].state = MID_CHECK_SKIP;
		snprintf(k[cnt].detail, sizeof k[cnt].detail, "no outbound_dir: this binding does not "
		         "write export files");
		cnt++;
	}
	{
		cv_pick_t pick;
		mid_error_t e2 = {0};
		int rc = k[0].state == MID_CHECK_OK ? cv_pick_file(in, &pick, &e2) : -1;
		k[cnt].name = "waiting files";
		k[cnt].state = rc < 0 ? MID_CHECK_SKIP : MID_CHECK_OK;
		if (rc > 0)
			snprintf(k[cnt].detail, sizeof k[cnt].detail, "%zu complete file(s) waiting; "
			         "the next is %.160s", pick.waiting, pick.name);
		else
			snprintf(k[cnt].detail, sizeof k[cnt].detail, rc == 0
			         ? "no complete file matching %s waits" : "inbox not readable",
			         c->pattern);
		cnt++;
	}
	if (cnt > max)
		cnt = max;
	memcpy(checks, k, cnt * sizeof *k);
	*n = cnt;
	(void)err;
	return MID_OK;
}

/* ---- descriptor -------------------------------------------------------------- */

/* The connector descriptor: the module's one exported symbol. */
const mid_connector_t mid_connector = {
	.abi_major = MID_CONNECTOR_ABI_MAJOR,
	.abi_minor = MID_CONNECTOR_ABI_MINOR,
	.struct_size = sizeof(mid_connector_t),
	.name = "csv",
	.version = CV_VERSION,
	.description = "CSV batch files: inbound drop folder (snapshot or delta) and outbound export files",
	.capabilities = MID_CAP_PULL_FULL | MID_CAP_PULL_SINCE | MID_CAP_PUSH_UPSERT |
	                MID_CAP_PUSH_REMOVE | MID_CAP_TEST,
	.settings_schema = cv_settings_schema,
	.open = cv_open,
	.close = cv_close,
	.test = cv_test,
	.pull = cv_pull,
	.push = cv_push,
	.flush = cv_flush,
};
