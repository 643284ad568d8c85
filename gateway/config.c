/* gateway/config.c -- load, validate and show the gateway configuration. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/config.h"
#include "gateway/jsonschema.h"

/* ---- diagnostics ------------------------------------------------------------ */

typedef struct {
	const char *name;        /* file name used in messages */
	mid_config_diag_t list;  /* every line */
	size_t dropped;
	char **seen;             /* paths already reported as plain-text secrets */
	size_t nseen;
} cf_ctx_t;

static void cf_add(cf_ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void cf_add(cf_ctx_t *c, const char *path, const char *fmt, ...)
{
	char *msg = NULL, *line = NULL;
	va_list ap;
	if (c->list.n >= MID_CONFIG_MAX_ERRORS) {
		c->dropped++;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		goto fail;
	if (path && *path) {
		if (asprintf(&line, "%s: %s: %s", c->name, path, msg) < 0)
			line = NULL;
	} else if (asprintf(&line, "%s: %s", c->name, msg) < 0) {
		line = NULL;
	}
	if (!line)
		goto fail;
	char **l = realloc(c->list.lines, (c->list.n + 1) * sizeof *l);
	if (!l)
		goto fail;
	c->list.lines = l;
	l[c->list.n++] = line;
	free(msg);
	return;
fail:
	free(msg);
	free(line);
	c->dropped++;
}

static void cf_finish(cf_ctx_t *c, mid_config_diag_t *diag, mid_error_t *err, int code)
{
	if (c->dropped && c->list.n) {
		size_t d = c->dropped;
		c->dropped = 0;
		c->list.n--; /* make room: cf_add refuses past the bound */
		char *last = c->list.lines[c->list.n];
		cf_add(c, NULL, "... and %zu more problems", d + 1);
		free(last);
	}
	if (c->list.n)
		mid_error_set(err, code, 0, "%s", c->list.lines[0]);
	if (diag) {
		*diag = c->list;
	} else {
		mid_config_diag_free(&c->list);
	}
	memset(&c->list, 0, sizeof c->list);
	for (size_t i = 0; i < c->nseen; i++)
		free(c->seen[i]);
	free(c->seen);
	c->seen = NULL;
	c->nseen = 0;
}

void mid_config_diag_free(mid_config_diag_t *diag)
{
	if (!diag)
		return;
	for (size_t i = 0; i < diag->n; i++)
		free(diag->lines[i]);
	free(diag->lines);
	diag->lines = NULL;
	diag->n = 0;
}

/* ---- secret-like keys ---------------------------------------------------------- */

int mid_config_is_secret_key(const char *key)
{
	static const char *const exact[] = {
		"password", "passwd", "pass", "pwd", "token", "api_key", "apikey",
		"client_secret", "secret", "private_key", "passphrase", "secret_key",
		"shared_secret", "access_token", "refresh_token", "bearer_token",
		"auth_token", "api_token", "api_secret", "bind_password", "credentials",
		"pin", NULL,
	};
	static const char *const suffix[] = {
		"_password", "_passwd", "_token", "_secret", "_passphrase", "_apikey",
		"_api_key", NULL,
	};
	char k[128];
	size_t n = strlen(key);
	if (n == 0 || n >= sizeof k)
		return 0;
	for (size_t i = 0; i <= n; i++)
		k[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
	for (size_t i = 0; exact[i]; i++)
		if (strcmp(k, exact[i]) == 0)
			return 1;
	for (size_t i = 0; suffix[i]; i++) {
		size_t l = strlen(suffix[i]);
		if (n > l && strcmp(k + n - l, suffix[i]) == 0)
			return 1;
	}
	return 0;
}

/* 1 if v is {"secret": "NAME"}. */
static int cf_is_secret_ref(const json_t *v)
{
	return json_is_object(v) && json_object_size(v) == 1 &&
	       json_is_string(json_object_get(v, "secret"));
}

/* Report every plain value under a secret-like key, anywhere but inside
 * mapping and authority (whose keys are field names, not settings). */
static void cf_plain_secrets(cf_ctx_t *c, const json_t *v, const char *path, int depth)
{
	if (depth > 64)
		return;
	if (json_is_object(v)) {
		const char *k;
		const json_t *m;
		if (cf_is_secret_ref(v))
			return;
		json_object_foreach((json_t *)v, k, m) {
			if (strcmp(k, "mapping") == 0 || strcmp(k, "authority") == 0)
				continue;
			char *p = mid_jsonschema_path_key(path, k);
			if (!p)
				return;
			if (mid_config_is_secret_key(k) &&
			    (json_is_string(m) || json_is_number(m))) {
				cf_add(c, p, "plain-text secret not allowed: write {\"secret\": \"NAME\"} "
				       "and store the value with `mobileidctl secret set NAME`");
				char **s = realloc(c->seen, (c->nseen + 1) * sizeof *s);
				if (s) {
					c->seen = s;
					c->seen[c->nseen++] = p;
					p = NULL;
				}
			} else {
				cf_plain_secrets(c, m, p, depth + 1);
			}
			free(p);
		}
	} else if (json_is_array(v)) {
		size_t i;
		const json_t *e;
		json_array_foreach(v, i, e) {
			char *p = mid_jsonschema_path_index(path, i);
			if (!p)
				return;
			cf_plain_secrets(c, e, p, depth + 1);
			free(p);
		}
	}
}

static int cf_seen(const cf_ctx_t *c, const char *path)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (strcmp(c->seen[i], path) == 0)
			return 1;
	return 0;
}

/* ---- schema helpers -------------------------------------------------------------- */

static int cf_schema(const char *name, mid_jsonschema_t **out, mid_error_t *err)
{
	const char *text = mid_schema_text(name);
	if (!text)
		return mid_error_set(err, MID_ENOTFOUND, 0, "no embedded schema named \"%s\"", name);
	return mid_jsonschema_new(text, out, err);
}

static void cf_add_result(cf_ctx_t *c, mid_jsonschema_result_t *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (cf_seen(c, r->errors[i].path))
			continue;
		cf_add(c, r->errors[i].path, "%s", r->errors[i].message);
	}
	c->dropped += r->dropped;
}

int mid_config_validate_named(const char *schema_name, const json_t *value,
                              const char *prefix, mid_config_diag_t *diag,
                              mid_error_t *err)
{
	mid_jsonschema_t *s = NULL;
	mid_jsonschema_result_t r = { .max = MID_CONFIG_MAX_ERRORS };
	int rc = cf_schema(schema_name, &s, err);
	if (rc)
		return rc;
	mid_jsonschema_validate(s, value, prefix, &r);
	if (r.n) {
		char *first = mid_jsonschema_error_line(&r.errors[0]);
		mid_error_set(err, MID_EINVAL, 0, "%s", first ? first : "invalid");
		free(first);
		rc = MID_EINVAL;
	}
	for (size_t i = 0; diag && i < r.n; i++) {
		char *line = mid_jsonschema_error_line(&r.errors[i]);
		char **l = line ? realloc(diag->lines, (diag->n + 1) * sizeof *l) : NULL;
		if (!l) {
			free(line);
			break;
		}
		diag->lines = l;
		l[diag->n++] = line;
	}
	mid_jsonschema_result_free(&r);
	mid_jsonschema_free(s);
	return rc;
}

/* 1 if a problem was already listed for exactly `path`. */
static int cf_reported(const cf_ctx_t *c, const char *path)
{
	size_t nl = strlen(c->name), pl = strlen(path);
	for (size_t i = 0; i < c->list.n; i++) {
		const char *l = c->list.lines[i];
		if (strncmp(l, c->name, nl) == 0 && strncmp(l + nl, ": ", 2) == 0 &&
		    strncmp(l + nl + 2, path, pl) == 0 && strncmp(l + nl + 2 + pl, ": ", 2) == 0)
			return 1;
	}
	return 0;
}

/* ---- semantic checks ------------------------------------------------------------- */

/* Parse "manual" or "every N<s|m|h|d>" into seconds (0 = manual); -1 if bad. */
static int64_t cf_schedule(const char *s)
{
	if (strcmp(s, "manual") == 0)
		return 0;
	if (strncmp(s, "every ", 6) != 0)
		return -1;
	const char *p = s + 6;
	int64_t n = 0;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		n = n * 10 + (*p++ - '0');
		if (n > 100000000)
			return -1;
	}
	int64_t unit;
	switch (*p++) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (*p || n <= 0)
		return -1;
	n *= unit;
	if (n < 10 || n > 366 * 86400)
		return -1;
	return n;
}

typedef struct {
	const char *name;
	int format;
	json_int_t max_fc; /* -1: no facility code */
	json_int_t max_cn;
} cf_format_t;

static const cf_format_t cf_formats[] = {
	{ "H10301", MID_FORMAT_H10301, 255, 65535 },
	{ "H10302", MID_FORMAT_H10302, -1, 34359738367LL },
	{ "H10304", MID_FORMAT_H10304, 65535, 524287 },
	{ "C1000-35", MID_FORMAT_C1000_35, 4095, 1048575 },
	{ NULL, 0, 0, 0 },
};

static const cf_format_t *cf_format(const char *name)
{
	for (size_t i = 0; name && cf_formats[i].name; i++)
		if (strcmp(cf_formats[i].name, name) == 0)
			return &cf_formats[i];
	return NULL;
}

static void cf_check_ranges(cf_ctx_t *c, const json_t *ranges)
{
	size_t i, j;
	const json_t *r;
	json_array_foreach(ranges, i, r) {
		char path[64];
		snprintf(path, sizeof path, "issuance.ranges[%zu]", i);
		const cf_format_t *f = cf_format(json_string_value(json_object_get(r, "format")));
		const json_t *fc = json_object_get(r, "facility_code");
		const json_t *first = json_object_get(r, "first"), *last = json_object_get(r, "last");
		if (!f || !json_is_integer(first) || !json_is_integer(last))
			continue; /* the schema reported it */
		if (f->max_fc < 0 && fc && json_integer_value(fc) != 0)
			cf_add(c, path, "%s has no facility code: remove facility_code", f->name);
		if (f->max_fc >= 0 && !fc)
			cf_add(c, path, "facility_code is required for %s (0-%" JSON_INTEGER_FORMAT ")",
			       f->name, f->max_fc);
		if (f->max_fc >= 0 && json_is_integer(fc) && json_integer_value(fc) > f->max_fc)
			cf_add(c, path, "facility_code %" JSON_INTEGER_FORMAT " does not fit %s (0-%" JSON_INTEGER_FORMAT ")",
			       json_integer_value(fc), f->name, f->max_fc);
		if (json_integer_value(last) > f->max_cn)
			cf_add(c, path, "last %" JSON_INTEGER_FORMAT " does not fit %s (card numbers 0-%" JSON_INTEGER_FORMAT ")",
			       json_integer_value(last), f->name, f->max_cn);
		if (json_integer_value(first) > json_integer_value(last))
			cf_add(c, path, "first (%" JSON_INTEGER_FORMAT ") is greater than last (%" JSON_INTEGER_FORMAT "); swap them",
			       json_integer_value(first), json_integer_value(last));
		json_array_foreach(ranges, j, r) {
			if (j >= i)
				break;
			const json_t *o = json_array_get(ranges, j);
			const json_t *ofc = json_object_get(o, "facility_code");
			const json_t *of = json_object_get(o, "first"), *ol = json_object_get(o, "last");
			if (!json_is_string(json_object_get(o, "format")) ||
			    strcmp(json_string_value(json_object_get(o, "format")), f->name) != 0 ||
			    !json_is_integer(of) || !json_is_integer(ol))
				continue;
			json_int_t a = json_is_integer(fc) ? json_integer_value(fc) : 0;
			json_int_t b = json_is_integer(ofc) ? json_integer_value(ofc) : 0;
			if (a != b)
				continue;
			if (json_integer_value(first) <= json_integer_value(ol) &&
			    json_integer_value(of) <= json_integer_value(last))
				cf_add(c, path, "overlaps issuance.ranges[%zu] (%s facility %" JSON_INTEGER_FORMAT
				       ": %" JSON_INTEGER_FORMAT "-%" JSON_INTEGER_FORMAT " and %" JSON_INTEGER_FORMAT
				       "-%" JSON_INTEGER_FORMAT "); make the ranges disjoint",
				       j, f->name, a, json_integer_value(first), json_integer_value(last),
				       json_integer_value(of), json_integer_value(ol));
		}
	}
}

/* Field names of an embedded schema's top-level properties, or NULL. */
static const json_t *cf_fields(json_t *doc)
{
	return json_object_get(doc, "properties");
}

static void cf_list(const json_t *props, char *buf, size_t n)
{
	const char *k;
	const json_t *v;
	buf[0] = 0;
	json_object_foreach((json_t *)props, k, v) {
		size_t l = strlen(buf);
		snprintf(buf + l, n - l, "%s%s", l ? ", " : "", k);
	}
}

/* 1 if `f` is a canonical field: a person field, attributes.NAME or
 * credential.FIELD. */
static int cf_canonical(const json_t *person, const json_t *cred, const char *f)
{
	if (strncmp(f, "attributes.", 11) == 0)
		return f[11] != 0;
	if (strncmp(f, "credential.", 11) == 0)
		return json_object_get(cred, f + 11) != NULL;
	return json_object_get(person, f) != NULL;
}

static void cf_bad_field(cf_ctx_t *c, const char *path, const char *what,
                         const char *f, const json_t *person)
{
	char list[512];
	cf_list(person, list, sizeof list);
	cf_add(c, path, "%s \"%s\" is not a canonical field (person fields: %s; "
	       "or attributes.NAME, credential.FIELD)", what, f, list);
}

static void cf_check_binding(cf_ctx_t *c, const json_t *b, size_t i,
                             const json_t *person, const json_t *cred)
{
	char path[64], *p = NULL;
	snprintf(path, sizeof path, "bindings[%zu]", i);
	const json_t *conn = json_object_get(b, "connector"), *plug = json_object_get(b, "plugin");
	if (conn && plug)
		cf_add(c, path, "has both \"connector\" and \"plugin\"; keep exactly one");
	else if (!conn && !plug)
		cf_add(c, path, "needs \"connector\" (a module such as \"csv\") or \"plugin\" (a profile such as \"scim2\")");

	const json_t *sch = json_object_get(b, "schedule");
	p = mid_jsonschema_path_key(path, "schedule");
	if (p && json_is_string(sch) && cf_schedule(json_string_value(sch)) < 0 && !cf_reported(c, p))
		cf_add(c, p, "\"%s\" is not a schedule (use \"manual\" or \"every N\" with s, m, h or d, "
		       "between 10 seconds and 366 days, e.g. \"every 15m\")", json_string_value(sch));
	free(p);

	size_t k;
	const json_t *m;
	json_array_foreach(json_object_get(b, "match"), k, m) {
		if (!json_is_string(m))
			continue;
		const char *f = json_string_value(m);
		if (!cf_canonical(person, cred, f) || strncmp(f, "credential.", 11) == 0) {
			char mp[96];
			snprintf(mp, sizeof mp, "%s.match[%zu]", path, k);
			cf_bad_field(c, mp, "match key", f, person);
		}
	}

	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)json_object_get(b, "authority"), key, v) {
		if (strcmp(key, "*") == 0 || cf_canonical(person, cred, key))
			continue;
		char *ap = mid_jsonschema_path_key(path, "authority");
		cf_bad_field(c, ap, "authority key", key, person);
		free(ap);
	}

	const json_t *mapping = json_object_get(b, "mapping");
	json_object_foreach((json_t *)json_object_get(mapping, "inbound"), key, v) {
		if (cf_canonical(person, cred, key))
			continue;
		char mp[96];
		snprintf(mp, sizeof mp, "%s.mapping.inbound", path);
		cf_bad_field(c, mp, "target", key, person);
	}
	json_object_foreach((json_t *)json_object_get(mapping, "outbound"), key, v) {
		const json_t *from = json_object_get(v, "from");
		if (!json_is_string(from) || cf_canonical(person, cred, json_string_value(from)))
			continue;
		char mp[96];
		snprintf(mp, sizeof mp, "%s.mapping.outbound", path);
		char *fp = mid_jsonschema_path_key(mp, key);
		char *fp2 = fp ? mid_jsonschema_path_key(fp, "from") : NULL;
		cf_bad_field(c, fp2 ? fp2 : mp, "source", json_string_value(from), person);
		free(fp);
		free(fp2);
	}
}

static int cf_is_loopback(const char *listen)
{
	size_t hl;
	const char *colon = strrchr(listen, ':');
	if (!colon)
		return 0;
	hl = (size_t)(colon - listen);
	if ((hl == 9 && strncmp(listen, "localhost", 9) == 0) ||
	    (hl == 5 && strncmp(listen, "[::1]", 5) == 0) ||
	    (hl >= 4 && strncmp(listen, "127.", 4) == 0))
		return 1;
	return 0;
}

static void cf_semantic(cf_ctx_t *c, const json_t *root)
{
	mid_error_t e = { 0 };
	mid_jsonschema_t *ps = NULL, *cs = NULL;
	if (cf_schema("person", &ps, &e) || cf_schema("credential", &cs, &e)) {
		cf_add(c, NULL, "internal error: %s", e.text);
		goto out;
	}
	const json_t *person = cf_fields((json_t *)mid_jsonschema_doc(ps));
	const json_t *cred = cf_fields((json_t *)mid_jsonschema_doc(cs));

	const json_t *http = json_object_get(root, "http");
	const json_t *cert = json_object_get(http, "tls_cert"), *key = json_object_get(http, "tls_key");
	const json_t *listen = json_object_get(http, "listen");
	if (cert && !key)
		cf_add(c, "http", "tls_cert is set but tls_key is not; set both or neither");
	if (key && !cert)
		cf_add(c, "http", "tls_key is set but tls_cert is not; set both or neither");
	if (json_is_string(listen) && !cf_reported(c, "http.listen")) {
		const char *colon = strrchr(json_string_value(listen), ':');
		long port = colon ? strtol(colon + 1, NULL, 10) : 0;
		if (colon && (port < 1 || port > 65535))
			cf_add(c, "http.listen", "port %ld is out of range (1-65535)", port);
		if (!cert && !key && !cf_is_loopback(json_string_value(listen)))
			cf_add(c, "http.listen", "plain HTTP is allowed only on loopback (\"%s\"): "
			       "set http.tls_cert and http.tls_key, or listen on 127.0.0.1",
			       json_string_value(listen));
	}

	const json_t *smtp = json_object_get(root, "smtp");
	if (json_object_get(smtp, "password") && !json_object_get(smtp, "username"))
		cf_add(c, "smtp", "password is set but username is not; set smtp.username");

	cf_check_ranges(c, json_object_get(json_object_get(root, "issuance"), "ranges"));

	size_t i, j;
	const json_t *b;
	const json_t *bindings = json_object_get(root, "bindings");
	json_array_foreach(bindings, i, b) {
		if (!json_is_object(b))
			continue;
		cf_check_binding(c, b, i, person, cred);
		const char *name = json_string_value(json_object_get(b, "name"));
		for (j = 0; name && j < i; j++) {
			const char *other = json_string_value(json_object_get(json_array_get(bindings, j), "name"));
			if (other && strcmp(name, other) == 0) {
				char path[64];
				snprintf(path, sizeof path, "bindings[%zu].name", i);
				cf_add(c, path, "\"%s\" is already the name of bindings[%zu]; binding names must be unique",
				       name, j);
				break;
			}
		}
	}
out:
	mid_jsonschema_free(ps);
	mid_jsonschema_free(cs);
}

/* ---- building the struct ---------------------------------------------------------- */

static char *cf_strdup_or_null(const json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static char *cf_join(const char *base, const char *p)
{
	char *r = NULL;
	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&r, "%s/%s", strcmp(base, "/") == 0 ? "" : base, p) < 0)
		return NULL;
	return r;
}

/* Resolve v (a string or absent) against base; *out NULL when absent. */
static int cf_path(const char *base, const json_t *v, char **out)
{
	*out = NULL;
	if (!json_is_string(v))
		return 0;
	*out = cf_join(base, json_string_value(v));
	return *out ? 0 : -1;
}

static int cf_paths(const char *base, const json_t *arr, char ***out, size_t *n)
{
	size_t i;
	const json_t *v;
	*n = 0;
	*out = calloc(json_array_size(arr) + 1, sizeof **out);
	if (!*out)
		return -1;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			continue;
		if (!((*out)[(*n)++] = cf_join(base, json_string_value(v))))
			return -1;
	}
	return 0;
}

static int cf_enum(const json_t *v, const char *const *names, const int *values, int dflt)
{
	const char *s = json_string_value(v);
	for (size_t i = 0; s && names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return values[i];
	return dflt;
}

static int cf_build(mid_config_t *cfg, json_t *root)
{
	static const char *const targets[] = { "stderr", "syslog", NULL };
	static const int target_v[] = { MID_CONFIG_LOG_STDERR, MID_CONFIG_LOG_SYSLOG };
	static const char *const levels[] = { "error", "warning", "notice", "info", "debug", NULL };
	static const int level_v[] = { MID_LOG_ERR, MID_LOG_WARNING, MID_LOG_NOTICE, MID_LOG_INFO, MID_LOG_DEBUG };
	static const char *const types[] = { "reusable", "single-issue", NULL };
	static const int type_v[] = { MID_CRED_REUSABLE, MID_CRED_SINGLE_ISSUE };
	static const char *const tls[] = { "none", "try", "required", NULL };
	static const int tls_v[] = { MID_STARTTLS_NONE, MID_STARTTLS_TRY, MID_STARTTLS_REQUIRED };
	static const char *const dirs[] = { "inbound", "outbound", "both", NULL };
	static const int dir_v[] = { MID_DIRECTION_INBOUND, MID_DIRECTION_OUTBOUND, MID_DIRECTION_BOTH };
	static const char *const dels[] = { "suspend", "purge", NULL };
	static const int del_v[] = { MID_ON_DELETE_SUSPEND, MID_ON_DELETE_PURGE };

	const json_t *site = json_object_get(root, "site");
	const json_t *log = json_object_get(root, "log");
	const json_t *store = json_object_get(root, "store");
	const json_t *http = json_object_get(root, "http");
	const json_t *iss = json_object_get(root, "issuance");
	const json_t *smtp = json_object_get(root, "smtp");

	cfg->root = root;
	if (!(cfg->site_id = cf_strdup_or_null(json_object_get(site, "id"))))
		return -1;
	cfg->site_name = cf_strdup_or_null(json_object_get(site, "name"));
	if (json_is_string(json_object_get(root, "state_dir"))) {
		if (cf_path(cfg->dir, json_object_get(root, "state_dir"), &cfg->state_dir))
			return -1;
	} else if (!(cfg->state_dir = strdup(cfg->dir))) {
		return -1;
	}
	cfg->log_target = cf_enum(json_object_get(log, "target"), targets, target_v, MID_CONFIG_LOG_STDERR);
	cfg->log_level = cf_enum(json_object_get(log, "level"), levels, level_v, MID_LOG_NOTICE);
	if (!(cfg->store_backend = cf_strdup_or_null(json_object_get(store, "backend"))) ||
	    cf_path(cfg->state_dir, json_object_get(store, "path"), &cfg->store_path) ||
	    cf_path(cfg->state_dir, json_object_get(root, "master_key_file"), &cfg->master_key_file) ||
	    cf_paths(cfg->dir, json_object_get(root, "module_path"), &cfg->module_path, &cfg->nmodule_path) ||
	    cf_paths(cfg->dir, json_object_get(root, "plugin_path"), &cfg->plugin_path, &cfg->nplugin_path))
		return -1;

	if (!(cfg->http.listen = cf_strdup_or_null(json_object_get(http, "listen"))) ||
	    cf_path(cfg->dir, json_object_get(http, "tls_cert"), &cfg->http.tls_cert) ||
	    cf_path(cfg->dir, json_object_get(http, "tls_key"), &cfg->http.tls_key))
		return -1;
	cfg->http.public_url = cf_strdup_or_null(json_object_get(http, "public_url"));
	cfg->http.max_body_bytes = (size_t)json_integer_value(json_object_get(http, "max_body_bytes"));
	cfg->http.timeout_seconds = (int)json_integer_value(json_object_get(http, "timeout_seconds"));

	const json_t *ranges = json_object_get(iss, "ranges");
	cfg->issuance.ranges = calloc(json_array_size(ranges) + 1, sizeof *cfg->issuance.ranges);
	if (!cfg->issuance.ranges)
		return -1;
	size_t i;
	const json_t *r;
	json_array_foreach(ranges, i, r) {
		const cf_format_t *f = cf_format(json_string_value(json_object_get(r, "format")));
		mid_config_range_t *cr = &cfg->issuance.ranges[cfg->issuance.nranges++];
		cr->format = f ? f->format : 0;
		cr->format_name = f ? f->name : "?";
		cr->facility_code = (uint32_t)json_integer_value(json_object_get(r, "facility_code"));
		cr->first = (uint64_t)json_integer_value(json_object_get(r, "first"));
		cr->last = (uint64_t)json_integer_value(json_object_get(r, "last"));
	}
	cfg->issuance.default_type = cf_enum(json_object_get(iss, "default_type"), types, type_v, MID_CRED_REUSABLE);
	cfg->issuance.validity_days = (int)json_integer_value(json_object_get(iss, "validity_days"));
	cfg->issuance.invitation_ttl_hours = (int)json_integer_value(json_object_get(iss, "invitation_ttl_hours"));
	cfg->issuance.app_link = cf_strdup_or_null(json_object_get(iss, "app_link"));

	if (json_is_object(smtp)) {
		cfg->smtp.enabled = 1;
		cfg->smtp.url = cf_strdup_or_null(json_object_get(smtp, "url"));
		cfg->smtp.from = cf_strdup_or_null(json_object_get(smtp, "from"));
		cfg->smtp.starttls = cf_enum(json_object_get(smtp, "starttls"), tls, tls_v, MID_STARTTLS_TRY);
		cfg->smtp.username = cf_strdup_or_null(json_object_get(smtp, "username"));
		cfg->smtp.password_secret = cf_strdup_or_null(json_object_get(json_object_get(smtp, "password"), "secret"));
		if (!cfg->smtp.url || !cfg->smtp.from ||
		    cf_path(cfg->dir, json_object_get(smtp, "template"), &cfg->smtp.template_path))
			return -1;
	}
	cfg->runs_kept = (int)json_integer_value(json_object_get(root, "runs_kept"));

	const json_t *bindings = json_object_get(root, "bindings");
	cfg->bindings = calloc(json_array_size(bindings) + 1, sizeof *cfg->bindings);
	if (!cfg->bindings)
		return -1;
	const json_t *b;
	json_array_foreach(bindings, i, b) {
		mid_config_binding_t *cb = &cfg->bindings[cfg->nbindings++];
		cb->json = (json_t *)b;
		if (!(cb->name = cf_strdup_or_null(json_object_get(b, "name"))) ||
		    !(cb->schedule = cf_strdup_or_null(json_object_get(b, "schedule"))))
			return -1;
		cb->connector = cf_strdup_or_null(json_object_get(b, "connector"));
		cb->plugin = cf_strdup_or_null(json_object_get(b, "plugin"));
		if (!cb->connector && !cb->plugin)
			return -1;
		cb->enabled = json_is_true(json_object_get(b, "enabled"));
		cb->direction = cf_enum(json_object_get(b, "direction"), dirs, dir_v, MID_DIRECTION_BOTH);
		cb->schedule_seconds = cf_schedule(cb->schedule);
		cb->max_delete_ratio = json_number_value(json_object_get(b, "max_delete_ratio"));
		cb->on_delete = cf_enum(json_object_get(b, "on_delete"), dels, del_v, MID_ON_DELETE_SUSPEND);
		cb->settings = json_object_get(b, "settings");
		cb->mapping = json_object_get(b, "mapping");
		cb->authority = json_object_get(b, "authority");
		const json_t *match = json_object_get(b, "match");
		cb->match = calloc(json_array_size(match) + 1, sizeof *cb->match);
		if (!cb->match || !cb->settings || !cb->mapping || !cb->authority)
			return -1;
		size_t k;
		const json_t *m;
		json_array_foreach(match, k, m)
			if (!(cb->match[cb->nmatch++] = strdup(json_string_value(m))))
				return -1;
	}
	return 0;
}

/* ---- loading ----------------------------------------------------------------------- */

static char *cf_cwd(void)
{
	char *d = getcwd(NULL, 0);
	return d ? d : strdup("/");
}

/* An absolute, canonical folder for base_dir (NULL: the current folder). */
static char *cf_abs_dir(const char *base_dir)
{
	if (!base_dir || !*base_dir)
		return cf_cwd();
	char *r = realpath(base_dir, NULL);
	if (r)
		return r;
	if (base_dir[0] == '/')
		return strdup(base_dir);
	char *cwd = cf_cwd(), *j = cwd ? cf_join(cwd, base_dir) : NULL;
	free(cwd);
	return j;
}

static int cf_parse(const char *buf, size_t len, const char *name,
                    const char *abs_path, const char *base_dir,
                    mid_config_t **out, mid_config_diag_t *diag, mid_error_t *err)
{
	cf_ctx_t c = { .name = name ? name : "config" };
	mid_jsonschema_t *schema = NULL;
	mid_jsonschema_result_t res = { .max = MID_CONFIG_MAX_ERRORS };
	mid_config_t *cfg = NULL;
	json_error_t je;
	json_t *root = NULL;
	int rc = MID_EINVAL;

	*out = NULL;
	if (diag)
		memset(diag, 0, sizeof *diag);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (je.line <= 0)
			cf_add(&c, NULL, "not valid JSON: %s", je.text);
		else
			cf_add(&c, NULL, "line %d, column %d: not valid JSON: %s (fix the syntax there)",
			       je.line, je.column, je.text);
		goto out;
	}
	cf_plain_secrets(&c, root, "", 0);
	if ((rc = cf_schema("config", &schema, err))) {
		cf_add(&c, NULL, "internal error: %s", err->text);
		goto out;
	}
	mid_jsonschema_validate(schema, root, "", &res);
	cf_add_result(&c, &res);
	if (json_is_object(root))
		cf_semantic(&c, root);
	if (c.list.n || c.dropped) {
		rc = MID_EINVAL;
		goto out;
	}
	if (mid_jsonschema_apply_defaults(schema, root)) {
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	rc = MID_ENOMEM;
	if (!(cfg = calloc(1, sizeof *cfg)))
		goto nomem;
	if (!(cfg->dir = cf_abs_dir(base_dir)))
		goto nomem;
	if (abs_path)
		cfg->path = strdup(abs_path);
	else
		cfg->path = cf_join(cfg->dir, c.name);
	if (!cfg->path)
		goto nomem;
	if (cf_build(cfg, root)) {
		root = NULL; /* cfg owns it now */
		goto nomem;
	}
	root = NULL;
	*out = cfg;
	cfg = NULL;
	rc = MID_OK;
	goto out;
nomem:
	mid_error_set(err, MID_ENOMEM, 0, "%s: out of memory", c.name);
out:
	if (rc == MID_EINVAL && !c.list.n)
		cf_add(&c, NULL, "invalid");
	cf_finish(&c, diag, err, rc);
	mid_jsonschema_result_free(&res);
	mid_jsonschema_free(schema);
	mid_config_free(cfg);
	json_decref(root);
	if (rc == MID_OK && err)
		memset(err, 0, sizeof *err);
	return rc;
}

int mid_config_parse_buffer(const char *buf, size_t len, const char *name,
                            const char *base_dir, mid_config_t **out,
                            mid_config_diag_t *diag, mid_error_t *err)
{
	return cf_parse(buf, len, name, NULL, base_dir, out, diag, err);
}

static int cf_one(mid_config_diag_t *diag, mid_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cf_one(mid_config_diag_t *diag, mid_error_t *err, int code, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	mid_error_set(err, code, 0, "%s", line ? line : "out of memory");
	if (diag && line) {
		diag->lines = malloc(sizeof *diag->lines);
		if (diag->lines) {
			diag->lines[0] = line;
			diag->n = 1;
			line = NULL;
		}
	}
	free(line);
	return code;
}

int mid_config_load_diag(const char *path, mid_config_t **out,
                         mid_config_diag_t *diag, mid_error_t *err)
{
	char *buf = NULL, *dir = NULL, *abs = NULL;
	int fd = -1, rc;
	struct stat st;
	size_t len = 0;

	*out = NULL;
	if (diag)
		memset(diag, 0, sizeof *diag);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = cf_one(diag, err, MID_ENOTFOUND, "%s: no such file (create one with "
			            "`mobileidctl init DIR`, or give another with -c FILE)", path);
		else if (errno == EACCES)
			rc = cf_one(diag, err, MID_EIO, "%s: cannot read: %s (check the file's owner "
			            "and mode; the daemon's user needs read access)", path, strerror(errno));
		else
			rc = cf_one(diag, err, MID_EIO, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = cf_one(diag, err, MID_EIO, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cf_one(diag, err, MID_EINVAL, "%s: not a regular file (give the path of the JSON config file)", path);
		goto out;
	}
	if (st.st_size > MID_CONFIG_MAX_BYTES) {
		rc = cf_one(diag, err, MID_ELIMIT, "%s: too large (%lld bytes; at most %d)", path,
		            (long long)st.st_size, MID_CONFIG_MAX_BYTES);
		goto out;
	}
	buf = malloc(MID_CONFIG_MAX_BYTES + 1);
	if (!buf) {
		rc = cf_one(diag, err, MID_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, MID_CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cf_one(diag, err, MID_EIO, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MID_CONFIG_MAX_BYTES) {
			rc = cf_one(diag, err, MID_ELIMIT, "%s: too large (at most %d bytes)", path, MID_CONFIG_MAX_BYTES);
			goto out;
		}
	}
	/* The folder of the file, absolute. */
	{
		const char *slash = strrchr(path, '/');
		if (!slash)
			dir = cf_abs_dir(NULL);
		else if (slash == path)
			dir = strdup("/");
		else {
			char *d = strndup(path, (size_t)(slash - path));
			dir = d ? cf_abs_dir(d) : NULL;
			free(d);
		}
	}
	rc = MID_ENOMEM;
	if (!dir) {
		rc = cf_one(diag, err, MID_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	{
		const char *slash = strrchr(path, '/');
		abs = cf_join(dir, slash ? slash + 1 : path);
	}
	if (!abs) {
		rc = cf_one(diag, err, MID_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	rc = cf_parse(buf, len, path, abs, dir, out, diag, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(dir);
	free(abs);
	return rc;
}

int mid_config_load(const char *path, mid_config_t **out, mid_error_t *err)
{
	return mid_config_load_diag(path, out, NULL, err);
}

static void cf_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void mid_config_free(mid_config_t *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->site_id);
	free(cfg->site_name);
	free(cfg->state_dir);
	free(cfg->store_backend);
	free(cfg->store_path);
	free(cfg->master_key_file);
	cf_strv_free(cfg->module_path, cfg->nmodule_path);
	cf_strv_free(cfg->plugin_path, cfg->nplugin_path);
	free(cfg->http.listen);
	free(cfg->http.tls_cert);
	free(cfg->http.tls_key);
	free(cfg->http.public_url);
	free(cfg->issuance.ranges);
	free(cfg->issuance.app_link);
	free(cfg->smtp.url);
	free(cfg->smtp.from);
	free(cfg->smtp.username);
	free(cfg->smtp.password_secret);
	free(cfg->smtp.template_path);
	for (size_t i = 0; cfg->bindings && i < cfg->nbindings; i++) {
		mid_config_binding_t *b = &cfg->bindings[i];
		free(b->name);
		free(b->connector);
		free(b->plugin);
		free(b->schedule);
		cf_strv_free(b->match, b->nmatch);
	}
	free(cfg->bindings);
	json_decref(cfg->root);
	free(cfg);
}

const mid_config_binding_t *mid_config_binding(const mid_config_t *cfg, const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->nbindings; i++)
		if (strcmp(cfg->bindings[i].name, name) == 0)
			return &cfg->bindings[i];
	return NULL;
}

/* ---- show ------------------------------------------------------------------------------ */

/* Replace secrets in place: returns the replacement for v (a new reference)
 * or NULL to keep v. */
static int cf_mask(json_t *v, int depth)
{
	if (depth > 64)
		return 0;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, m) {
			json_t *rep = NULL;
			if (cf_is_secret_ref(m)) {
				char *s = NULL;
				if (asprintf(&s, "<secret %s>", json_string_value(json_object_get(m, "secret"))) < 0)
					return -1;
				rep = json_string(s);
				free(s);
			} else if (mid_config_is_secret_key(k) && !json_is_object(m) && !json_is_array(m) &&
			           !json_is_null(m)) {
				rep = json_string("********");
			} else if (cf_mask(m, depth + 1)) {
				return -1;
			}
			if (rep && json_object_set_new(v, k, rep))
				return -1;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			if (cf_is_secret_ref(e)) {
				char *s = NULL;
				if (asprintf(&s, "<secret %s>", json_string_value(json_object_get(e, "secret"))) < 0)
					return -1;
				json_array_set_new(v, i, json_string(s));
				free(s);
			} else if (cf_mask(e, depth + 1)) {
				return -1;
			}
		}
	}
	return 0;
}

char *mid_config_show(const mid_config_t *cfg, int json)
{
	json_t *copy = NULL;
	char *text = NULL, *r = NULL;
	if (!cfg || !cfg->root)
		return NULL;
	if (!(copy = json_deep_copy(cfg->root)))
		goto out;
	if (cf_is_secret_ref(copy) || cf_mask(copy, 0))
		goto out;
	text = json_dumps(copy, JSON_INDENT(2));
	if (!text)
		goto out;
	if (json) {
		if (asprintf(&r, "%s\n", text) < 0)
			r = NULL;
	} else if (asprintf(&r, "# %s (defaults filled in, secrets masked)\n%s\n", cfg->path, text) < 0) {
		r = NULL;
	}
out:
	free(text);
	json_decref(copy);
	return r;
}

/* ---- the default config -------------------------------------------------------------- */

static int cf_uuid_ok(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (!s || strlen(s) != sizeof shape - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

char *mid_config_default_text(const char *site_id, const char *site_name)
{
	if (!cf_uuid_ok(site_id))
		return NULL;
	json_t *doc = json_pack(
	    "{s:{s:s,s:s}, s:{s:s,s:s}, s:{s:s,s:s}, s:s, s:{s:s,s:I,s:I},"
	    " s:{s:[{s:s,s:I,s:I,s:I}],s:s,s:I,s:I}, s:I, s:[]}",
	    "site", "id", site_id, "name", site_name ? site_name : "Mobile ID site",
	    "log", "target", "stderr", "level", "notice",
	    "store", "backend", "sqlite", "path", "store.db",
	    "master_key_file", "master.key",
	    "http", "listen", "127.0.0.1:8080", "max_body_bytes", (json_int_t)65536,
	    "timeout_seconds", (json_int_t)15,
	    "issuance", "ranges", "format", "H10301", "facility_code", (json_int_t)1,
	    "first", (json_int_t)1, "last", (json_int_t)65535,
	    "default_type", "reusable", "validity_days", (json_int_t)365,
	    "invitation_ttl_hours", (json_int_t)72,
	    "runs_kept", (json_int_t)50,
	    "bindings");
	if (!doc)
		return NULL;
	char *text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	char *r = NULL;
	if (text && asprintf(&r, "%s\n", text) < 0)
		r = NULL;
	free(text);
	return r;
}

int mid_config_write_default(const char *path, const char *site_id,
                             const char *site_name, mid_error_t *err)
{
	char *text = NULL, *tmp = NULL, *dir = NULL;
	int fd = -1, rc = MID_OK, linked = 0;

	if (!path || !*path)
		return mid_error_set(err, MID_EINVAL, 0, "no config path given");
	if (!(text = mid_config_default_text(site_id, site_name))) {
		rc = mid_error_set(err, MID_EINVAL, 0, "site id \"%s\" is not a UUID", site_id ? site_id : "");
		goto out;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = mid_error_set(err, MID_EIO, 0, "%s: cannot create a file in its folder: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0640) < 0) {
		rc = mid_error_set(err, MID_EIO, 0, "%s: chmod: %s", tmp, strerror(errno));
		goto out;
	}
	for (size_t off = 0, len = strlen(text); off < len;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mid_error_set(err, MID_EIO, 0, "%s: write: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		rc = mid_error_set(err, MID_EIO, 0, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			rc = mid_error_set(err, MID_ECONFLICT, 0, "%s: already exists (remove it first, or choose another folder)", path);
		else
			rc = mid_error_set(err, MID_EIO, 0, "%s: %s", path, strerror(errno));
		goto out;
	}
	linked = 1;
	{
		const char *slash = strrchr(path, '/');
		dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
		int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
out:
	(void)linked;
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	free(text);
	return rc;
}
