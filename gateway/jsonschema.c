/* gateway/jsonschema.c -- a small JSON Schema validator (draft 2020-12
 * subset); see jsonschema.h for the keywords and the pattern dialect. */
#include <config.h>

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jsonschema.h"

#define JS_MAX_DEPTH 64
#define JS_DEFAULT_MAX 100
#define JS_SCRATCH_MAX 1000

typedef struct js_rx {
	const char *pattern; /* borrowed from the schema document */
	regex_t re;
	struct js_rx *next;
} js_rx_t;

struct mid_jsonschema {
	json_t *doc;
	js_rx_t *rx;
};

/* ---- small helpers ------------------------------------------------------ */

static char *js_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *js_vasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static char *js_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *js_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	s = js_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static int js_is_ident(const char *k)
{
	if (!*k || !((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return 0;
	return 1;
}

char *mid_jsonschema_path_key(const char *parent, const char *key)
{
	int root = !parent || !*parent;
	if (js_is_ident(key))
		return root ? strdup(key) : js_asprintf("%s.%s", parent, key);
	json_t *s = json_string(key);
	char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	char *r = NULL;
	json_decref(s);
	if (q)
		r = js_asprintf("%s[%s]", root ? "" : parent, q);
	free(q);
	return r;
}

char *mid_jsonschema_path_index(const char *parent, size_t index)
{
	return js_asprintf("%s[%zu]", parent ? parent : "", index);
}

static const char *js_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "value";
}

/* A short description of a value for messages: string "10", integer 10,
 * an object, ... Caller frees. */
static char *js_describe(const json_t *v)
{
	if (json_is_object(v))
		return strdup("an object");
	if (json_is_array(v))
		return strdup("an array");
	if (json_is_null(v))
		return strdup("null");
	char *d = json_dumps(v, JSON_ENCODE_ANY);
	if (!d)
		return NULL;
	if (strlen(d) > 60) {
		strcpy(d + 56, json_is_string(v) ? "...\"" : "...");
	}
	char *r = js_asprintf("%s %s", js_type_name(v), d);
	free(d);
	return r;
}

/* A value as it would be written in a list: strings bare, others as JSON. */
static char *js_plain(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static void js_num_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_integer(v))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, n, "%g", json_number_value(v));
}

static size_t js_utf8_len(const char *s, size_t bytes)
{
	size_t n = 0;
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static size_t js_levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t c = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof prev);
	}
	return prev[lb];
}

/* ---- results ------------------------------------------------------------- */

static void js_add(mid_jsonschema_result_t *res, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void js_add(mid_jsonschema_result_t *res, const char *path, const char *fmt, ...)
{
	size_t max = res->max ? res->max : JS_DEFAULT_MAX;
	if (res->n >= max) {
		res->dropped++;
		return;
	}
	mid_jsonschema_error_t *e = realloc(res->errors, (res->n + 1) * sizeof *e);
	if (!e) {
		res->dropped++;
		return;
	}
	res->errors = e;
	va_list ap;
	va_start(ap, fmt);
	char *msg = js_vasprintf(fmt, ap);
	va_end(ap);
	char *p = strdup(path && *path ? path : "(top level)");
	if (!msg || !p) {
		free(msg);
		free(p);
		res->dropped++;
		return;
	}
	e[res->n].path = p;
	e[res->n].message = msg;
	res->n++;
}

void mid_jsonschema_result_free(mid_jsonschema_result_t *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n; i++) {
		free(res->errors[i].path);
		free(res->errors[i].message);
	}
	free(res->errors);
	res->errors = NULL;
	res->n = 0;
	res->dropped = 0;
}

char *mid_jsonschema_error_line(const mid_jsonschema_error_t *e)
{
	return js_asprintf("%s: %s", e->path, e->message);
}

/* Move every error of `from` into `to` (respecting to's bound). */
static void js_move(mid_jsonschema_result_t *to, mid_jsonschema_result_t *from)
{
	for (size_t i = 0; i < from->n; i++)
		js_add(to, from->errors[i].path, "%s", from->errors[i].message);
	to->dropped += from->dropped;
	mid_jsonschema_result_free(from);
}

/* ---- compiling ----------------------------------------------------------- */

static const char *const js_keywords[] = {
	"type", "properties", "required", "additionalProperties", "items",
	"enum", "const", "minimum", "maximum", "minLength", "maxLength",
	"minItems", "maxItems", "pattern", "$ref", "oneOf", "anyOf", "allOf",
	"default", "description", "title", "examples", "$schema", "$id",
	"$comment", "format", "$defs", "x-hint", NULL,
};

static const json_t *js_resolve(const mid_jsonschema_t *s, const char *ref)
{
	if (strcmp(ref, "#") == 0)
		return s->doc;
	if (strncmp(ref, "#/$defs/", 8) != 0 || strchr(ref + 8, '/'))
		return NULL;
	return json_object_get(json_object_get(s->doc, "$defs"), ref + 8);
}

static const js_rx_t *js_find_rx(const mid_jsonschema_t *s, const char *pattern)
{
	for (const js_rx_t *r = s->rx; r; r = r->next)
		if (strcmp(r->pattern, pattern) == 0)
			return r;
	return NULL;
}

static int js_check(mid_jsonschema_t *s, const json_t *sch, const char *where,
                    int depth, mid_error_t *err);

static int js_check_map(mid_jsonschema_t *s, const json_t *map, const char *where,
                        const char *kw, int depth, mid_error_t *err)
{
	const char *k;
	const json_t *v;
	if (!json_is_object(map))
		return mid_error_set(err, MID_EINVAL, 0, "schema %s: \"%s\" must be an object", where, kw);
	json_object_foreach((json_t *)map, k, v) {
		char *w = js_asprintf("%s/%s/%s", where, kw, k);
		int rc = w ? js_check(s, v, w, depth + 1, err) : MID_ENOMEM;
		free(w);
		if (rc)
			return rc;
	}
	return MID_OK;
}

static int js_check(mid_jsonschema_t *s, const json_t *sch, const char *where,
                    int depth, mid_error_t *err)
{
	const char *k;
	const json_t *v;
	int rc;
	if (depth > JS_MAX_DEPTH)
		return mid_error_set(err, MID_EINVAL, 0, "schema %s: nested too deeply", where);
	if (json_is_boolean(sch))
		return MID_OK;
	if (!json_is_object(sch))
		return mid_error_set(err, MID_EINVAL, 0, "schema %s: a schema must be an object or a boolean", where);
	json_object_foreach((json_t *)sch, k, v) {
		int known = 0;
		for (size_t i = 0; js_keywords[i]; i++)
			if (strcmp(k, js_keywords[i]) == 0)
				known = 1;
		if (!known)
			return mid_error_set(err, MID_EINVAL, 0, "schema %s: unsupported keyword \"%s\"", where, k);
		if (strcmp(k, "properties") == 0 || strcmp(k, "$defs") == 0) {
			if ((rc = js_check_map(s, v, where, k, depth, err)))
				return rc;
		} else if (strcmp(k, "additionalProperties") == 0 || strcmp(k, "items") == 0) {
			char *w = js_asprintf("%s/%s", where, k);
			rc = w ? js_check(s, v, w, depth + 1, err) : MID_ENOMEM;
			free(w);
			if (rc)
				return rc;
		} else if (strcmp(k, "oneOf") == 0 || strcmp(k, "anyOf") == 0 || strcmp(k, "allOf") == 0) {
			size_t i;
			const json_t *b;
			if (!json_is_array(v) || json_array_size(v) == 0)
				return mid_error_set(err, MID_EINVAL, 0, "schema %s: \"%s\" must be a non-empty array", where, k);
			json_array_foreach(v, i, b) {
				char *w = js_asprintf("%s/%s/%zu", where, k, i);
				rc = w ? js_check(s, b, w, depth + 1, err) : MID_ENOMEM;
				free(w);
				if (rc)
					return rc;
			}
		} else if (strcmp(k, "$ref") == 0) {
			if (!json_is_string(v) || !js_resolve(s, json_string_value(v)))
				return mid_error_set(err, MID_EINVAL, 0, "schema %s: $ref must be \"#/$defs/NAME\" naming an existing definition", where);
		} else if (strcmp(k, "type") == 0) {
			static const char *const types[] = { "null", "boolean", "object", "array", "number", "integer", "string", NULL };
			size_t n = json_is_array(v) ? json_array_size(v) : 1;
			for (size_t i = 0; i < n; i++) {
				const json_t *t = json_is_array(v) ? json_array_get(v, i) : v;
				int ok = 0;
				for (size_t j = 0; types[j] && json_is_string(t); j++)
					if (strcmp(json_string_value(t), types[j]) == 0)
						ok = 1;
				if (!ok)
					return mid_error_set(err, MID_EINVAL, 0, "schema %s: bad type", where);
			}
		} else if (strcmp(k, "required") == 0 || strcmp(k, "enum") == 0) {
			if (!json_is_array(v))
				return mid_error_set(err, MID_EINVAL, 0, "schema %s: \"%s\" must be an array", where, k);
		} else if (strcmp(k, "pattern") == 0) {
			if (!json_is_string(v))
				return mid_error_set(err, MID_EINVAL, 0, "schema %s: pattern must be a string", where);
			if (js_find_rx(s, json_string_value(v)))
				continue;
			js_rx_t *r = calloc(1, sizeof *r);
			if (!r)
				return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			int e = regcomp(&r->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
			if (e) {
				char buf[128];
				regerror(e, &r->re, buf, sizeof buf);
				free(r);
				return mid_error_set(err, MID_EINVAL, 0, "schema %s: pattern %s: %s", where, json_string_value(v), buf);
			}
			r->pattern = json_string_value(v);
			r->next = s->rx;
			s->rx = r;
		} else if (strncmp(k, "min", 3) == 0 || strncmp(k, "max", 3) == 0) {
			if (!json_is_number(v))
				return mid_error_set(err, MID_EINVAL, 0, "schema %s: \"%s\" must be a number", where, k);
		}
	}
	return MID_OK;
}

int mid_jsonschema_new_json(json_t *doc, mid_jsonschema_t **out, mid_error_t *err)
{
	*out = NULL;
	mid_jsonschema_t *s = calloc(1, sizeof *s);
	if (!s)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	s->doc = json_incref(doc);
	int rc = js_check(s, doc, "#", 0, err);
	if (rc) {
		mid_jsonschema_free(s);
		return rc;
	}
	*out = s;
	return MID_OK;
}

int mid_jsonschema_new(const char *text, mid_jsonschema_t **out, mid_error_t *err)
{
	json_error_t je;
	*out = NULL;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return mid_error_set(err, MID_EINVAL, 0, "schema is not JSON: line %d column %d: %s",
		                     je.line, je.column, je.text);
	int rc = mid_jsonschema_new_json(doc, out, err);
	json_decref(doc);
	return rc;
}

void mid_jsonschema_free(mid_jsonschema_t *s)
{
	if (!s)
		return;
	while (s->rx) {
		js_rx_t *r = s->rx;
		s->rx = r->next;
		regfree(&r->re);
		free(r);
	}
	json_decref(s->doc);
	free(s);
}

const json_t *mid_jsonschema_doc(const mid_jsonschema_t *s)
{
	return s ? s->doc : NULL;
}

/* ---- validation ------------------------------------------------------------ */

typedef struct {
	const mid_jsonschema_t *s;
	int depth;
} js_ctx_t;

static size_t js_node(js_ctx_t *c, const json_t *sch, const json_t *inst,
                      const char *path, mid_jsonschema_result_t *res);

static int js_type_matches(const char *t, const json_t *inst)
{
	if (strcmp(t, "number") == 0)
		return json_is_number(inst);
	return strcmp(t, js_type_name(inst)) == 0;
}

/* 1 if `sch` (after $ref) has a "type" the instance does not have. */
static int js_type_mismatch(js_ctx_t *c, const json_t *sch, const json_t *inst)
{
	for (int hop = 0; hop < 8 && json_is_object(sch); hop++) {
		const json_t *t = json_object_get(sch, "type");
		if (t) {
			if (json_is_string(t))
				return !js_type_matches(json_string_value(t), inst);
			size_t i;
			const json_t *x;
			json_array_foreach(t, i, x)
				if (js_type_matches(json_string_value(x), inst))
					return 0;
			return 1;
		}
		const json_t *ref = json_object_get(sch, "$ref");
		if (!ref)
			return 0;
		sch = js_resolve(c->s, json_string_value(ref));
	}
	return 0;
}

/* Append the type names of `sch` (after $ref) to buf, without repeats. */
static void js_type_names(js_ctx_t *c, const json_t *sch, char *buf, size_t n)
{
	for (int hop = 0; hop < 8 && json_is_object(sch); hop++) {
		const json_t *t = json_object_get(sch, "type");
		if (t) {
			size_t cnt = json_is_array(t) ? json_array_size(t) : 1;
			for (size_t i = 0; i < cnt; i++) {
				const char *name = json_string_value(json_is_array(t) ? json_array_get(t, i) : t);
				char word[32];
				snprintf(word, sizeof word, "|%s|", name);
				char tmp[512];
				snprintf(tmp, sizeof tmp, "|%s|", buf);
				for (char *p = tmp; *p; p++)
					if (*p == ' ')
						*p = '|';
				if (strstr(tmp, word))
					continue;
				size_t l = strlen(buf);
				snprintf(buf + l, n - l, "%s%s", l ? " or " : "", name);
			}
			return;
		}
		const json_t *ref = json_object_get(sch, "$ref");
		if (!ref)
			return;
		sch = js_resolve(c->s, json_string_value(ref));
	}
}

static size_t js_branches(js_ctx_t *c, const json_t *list, int one_of,
                          const json_t *inst, const char *path,
                          mid_jsonschema_result_t *res)
{
	size_t i, nb = json_array_size(list);
	const json_t *b;
	size_t best = 0, best_score = (size_t)-1, passing = 0, first_pass = 0;
	mid_jsonschema_result_t best_res = { 0 };
	int all_type = 1;

	json_array_foreach(list, i, b) {
		mid_jsonschema_result_t r = { .max = JS_SCRATCH_MAX };
		size_t n = js_node(c, b, inst, path, &r);
		if (n == 0) {
			if (passing++ == 0)
				first_pass = i;
			mid_jsonschema_result_free(&r);
			if (!one_of)
				break;
			if (passing > 1) {
				mid_jsonschema_result_free(&best_res);
				js_add(res, path, "matches more than one of the allowed forms (%zu and %zu); make it match exactly one",
				       first_pass + 1, i + 1);
				return 1;
			}
			continue;
		}
		int tm = js_type_mismatch(c, b, inst);
		if (!tm)
			all_type = 0;
		size_t score = n + (tm ? 100000 : 0);
		if (score < best_score) {
			best_score = score;
			best = i;
			mid_jsonschema_result_free(&best_res);
			best_res = r;
		} else {
			mid_jsonschema_result_free(&r);
		}
	}
	(void)best;
	if (passing) {
		mid_jsonschema_result_free(&best_res);
		return 0;
	}
	if (all_type && nb > 1) {
		char names[256] = "";
		json_array_foreach(list, i, b)
			js_type_names(c, b, names, sizeof names);
		char *d = js_describe(inst);
		js_add(res, path, "expected %s, got %s", names[0] ? names : "another type", d ? d : "?");
		free(d);
		mid_jsonschema_result_free(&best_res);
		return 1;
	}
	size_t n = best_res.n + best_res.dropped;
	js_move(res, &best_res);
	return n ? n : 1;
}

static size_t js_node(js_ctx_t *c, const json_t *sch, const json_t *inst,
                      const char *path, mid_jsonschema_result_t *res)
{
	size_t before = res->n + res->dropped;
	const json_t *v;

	if (json_is_true(sch))
		return 0;
	if (json_is_false(sch)) {
		js_add(res, path, "is not allowed here");
		return 1;
	}
	if (!json_is_object(sch))
		return 0;
	if (c->depth > JS_MAX_DEPTH) {
		js_add(res, path, "nested too deeply");
		return 1;
	}
	c->depth++;

	/* type: when it fails nothing else is checked. */
	if ((v = json_object_get(sch, "type"))) {
		int match = 0;
		if (json_is_string(v))
			match = js_type_matches(json_string_value(v), inst);
		else {
			size_t i;
			const json_t *t;
			json_array_foreach(v, i, t)
				match |= js_type_matches(json_string_value(t), inst);
		}
		if (!match) {
			char names[256] = "";
			js_type_names(c, sch, names, sizeof names);
			char *d = js_describe(inst);
			js_add(res, path, "expected %s, got %s", names, d ? d : "?");
			free(d);
			goto out;
		}
	}

	if ((v = json_object_get(sch, "$ref"))) {
		const json_t *target = js_resolve(c->s, json_string_value(v));
		if (target)
			js_node(c, target, inst, path, res);
	}

	if ((v = json_object_get(sch, "enum"))) {
		size_t i;
		const json_t *e;
		int found = 0;
		json_array_foreach(v, i, e)
			if (json_equal((json_t *)e, (json_t *)inst))
				found = 1;
		if (!found) {
			char list[1024] = "";
			json_array_foreach(v, i, e) {
				char *p = js_plain(e);
				size_t l = strlen(list);
				snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", p ? p : "?");
				free(p);
			}
			char *d = js_describe(inst);
			js_add(res, path, "must be one of: %s (got %s)", list, d ? d : "?");
			free(d);
		}
	}
	if ((v = json_object_get(sch, "const")) && !json_equal((json_t *)v, (json_t *)inst)) {
		char *want = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		char *d = js_describe(inst);
		js_add(res, path, "must be %s (got %s)", want ? want : "?", d ? d : "?");
		free(want);
		free(d);
	}

	if (json_is_number(inst)) {
		double x = json_number_value(inst);
		char want[64], got[64];
		js_num_text(inst, got, sizeof got);
		if ((v = json_object_get(sch, "minimum")) && x < json_number_value(v)) {
			js_num_text(v, want, sizeof want);
			js_add(res, path, "must be at least %s (got %s)", want, got);
		}
		if ((v = json_object_get(sch, "maximum")) && x > json_number_value(v)) {
			js_num_text(v, want, sizeof want);
			js_add(res, path, "must be at most %s (got %s)", want, got);
		}
		/* Integers beyond 2^53 compare exactly. */
	}

	if (json_is_string(inst)) {
		size_t len = js_utf8_len(json_string_value(inst), json_string_length(inst));
		if ((v = json_object_get(sch, "minLength")) && (json_int_t)len < json_integer_value(v)) {
			if (json_integer_value(v) == 1)
				js_add(res, path, "must not be empty");
			else
				js_add(res, path, "must be at least %" JSON_INTEGER_FORMAT " characters long (got %zu)",
				       json_integer_value(v), len);
		}
		if ((v = json_object_get(sch, "maxLength")) && (json_int_t)len > json_integer_value(v))
			js_add(res, path, "must be at most %" JSON_INTEGER_FORMAT " characters long (got %zu)",
			       json_integer_value(v), len);
		if ((v = json_object_get(sch, "pattern"))) {
			const js_rx_t *rx = js_find_rx(c->s, json_string_value(v));
			int bad = strlen(json_string_value(inst)) != json_string_length(inst); /* embedded NUL */
			if (!bad && rx && regexec(&rx->re, json_string_value(inst), 0, NULL, 0) != 0)
				bad = 1;
			if (bad) {
				const json_t *hint = json_object_get(sch, "x-hint");
				char *d = js_describe(inst);
				if (json_is_string(hint))
					js_add(res, path, "must be %s (got %s)", json_string_value(hint), d ? d : "?");
				else
					js_add(res, path, "does not match the pattern %s (got %s)", json_string_value(v), d ? d : "?");
				free(d);
			}
		}
	}

	if (json_is_array(inst)) {
		size_t n = json_array_size(inst);
		if ((v = json_object_get(sch, "minItems")) && (json_int_t)n < json_integer_value(v)) {
			if (json_integer_value(v) == 1)
				js_add(res, path, "must not be empty");
			else
				js_add(res, path, "must have at least %" JSON_INTEGER_FORMAT " items (got %zu)", json_integer_value(v), n);
		}
		if ((v = json_object_get(sch, "maxItems")) && (json_int_t)n > json_integer_value(v))
			js_add(res, path, "must have at most %" JSON_INTEGER_FORMAT " items (got %zu)", json_integer_value(v), n);
		if ((v = json_object_get(sch, "items"))) {
			size_t i;
			const json_t *e;
			json_array_foreach(inst, i, e) {
				char *p = mid_jsonschema_path_index(path, i);
				if (!p) {
					js_add(res, path, "out of memory");
					break;
				}
				js_node(c, v, e, p, res);
				free(p);
			}
		}
	}

	if (json_is_object(inst)) {
		const json_t *props = json_object_get(sch, "properties");
		const json_t *addl = json_object_get(sch, "additionalProperties");
		size_t i;
		const json_t *r;
		const char *k;
		const json_t *m;
		json_array_foreach(json_object_get(sch, "required"), i, r)
			if (json_is_string(r) && !json_object_get(inst, json_string_value(r)))
				js_add(res, path, "missing required key \"%s\"", json_string_value(r));
		json_object_foreach((json_t *)inst, k, m) {
			const json_t *ps = props ? json_object_get(props, k) : NULL;
			if (!ps && json_is_false(addl)) {
				char allowed[1024] = "", near[128] = "";
				const char *pk;
				const json_t *pv;
				size_t bestd = 3;
				json_object_foreach((json_t *)props, pk, pv) {
					size_t l = strlen(allowed);
					snprintf(allowed + l, sizeof allowed - l, "%s%s", l ? ", " : "", pk);
					size_t d = js_levenshtein(k, pk);
					if (d < bestd || (d <= 3 && strlen(k) > 3 && strcasecmp(k, pk) == 0)) {
						bestd = d;
						snprintf(near, sizeof near, "did you mean \"%s\"? ", pk);
					}
				}
				json_t *ks = json_string(k);
				char *q = ks ? json_dumps(ks, JSON_ENCODE_ANY) : NULL;
				json_decref(ks);
				js_add(res, path, "unknown key %s (%sallowed: %s)", q ? q : "?", near,
				       allowed[0] ? allowed : "none");
				free(q);
				continue;
			}
			if (!ps)
				ps = addl;
			if (!ps)
				continue;
			char *p = mid_jsonschema_path_key(path, k);
			if (!p) {
				js_add(res, path, "out of memory");
				break;
			}
			js_node(c, ps, m, p, res);
			free(p);
		}
	}

	if ((v = json_object_get(sch, "allOf"))) {
		size_t i;
		const json_t *b;
		json_array_foreach(v, i, b)
			js_node(c, b, inst, path, res);
	}
	if ((v = json_object_get(sch, "anyOf")))
		js_branches(c, v, 0, inst, path, res);
	if ((v = json_object_get(sch, "oneOf")))
		js_branches(c, v, 1, inst, path, res);

out:
	c->depth--;
	return res->n + res->dropped - before;
}

size_t mid_jsonschema_validate(const mid_jsonschema_t *s, const json_t *inst,
                               const char *prefix, mid_jsonschema_result_t *res)
{
	js_ctx_t c = { .s = s, .depth = 0 };
	return js_node(&c, s->doc, inst, prefix ? prefix : "", res);
}

size_t mid_jsonschema_validate_def(const mid_jsonschema_t *s, const char *def,
                                   const json_t *inst, const char *prefix,
                                   mid_jsonschema_result_t *res)
{
	const json_t *d = json_object_get(json_object_get(s->doc, "$defs"), def);
	if (!d)
		return (size_t)-1;
	js_ctx_t c = { .s = s, .depth = 0 };
	return js_node(&c, d, inst, prefix ? prefix : "", res);
}

/* ---- defaults ------------------------------------------------------------ */

static int js_defaults(const mid_jsonschema_t *s, const json_t *sch, json_t *inst, int depth)
{
	const json_t *v;
	if (!json_is_object(sch) || depth > JS_MAX_DEPTH)
		return MID_OK;
	if ((v = json_object_get(sch, "$ref"))) {
		int rc = js_defaults(s, js_resolve(s, json_string_value(v)), inst, depth + 1);
		if (rc)
			return rc;
	}
	if ((v = json_object_get(sch, "allOf"))) {
		size_t i;
		const json_t *b;
		json_array_foreach(v, i, b) {
			int rc = js_defaults(s, b, inst, depth + 1);
			if (rc)
				return rc;
		}
	}
	if (json_is_object(inst) && (v = json_object_get(sch, "properties"))) {
		const char *k;
		const json_t *ps;
		json_object_foreach((json_t *)v, k, ps) {
			json_t *m = json_object_get(inst, k);
			if (!m) {
				const json_t *d = json_object_get(ps, "default");
				const json_t *ref = json_object_get(ps, "$ref");
				if (!d && json_is_string(ref))
					d = json_object_get(js_resolve(s, json_string_value(ref)), "default");
				if (!d)
					continue;
				m = json_deep_copy(d);
				if (!m || json_object_set_new(inst, k, m))
					return MID_ENOMEM;
			}
			int rc = js_defaults(s, ps, m, depth + 1);
			if (rc)
				return rc;
		}
	}
	if (json_is_object(inst) && json_is_object(v = json_object_get(sch, "additionalProperties"))) {
		const json_t *props = json_object_get(sch, "properties");
		const char *k;
		json_t *m;
		json_object_foreach(inst, k, m) {
			if (props && json_object_get(props, k))
				continue;
			int rc = js_defaults(s, v, m, depth + 1);
			if (rc)
				return rc;
		}
	}
	if (json_is_array(inst) && (v = json_object_get(sch, "items"))) {
		size_t i;
		json_t *e;
		json_array_foreach(inst, i, e) {
			int rc = js_defaults(s, v, e, depth + 1);
			if (rc)
				return rc;
		}
	}
	return MID_OK;
}

int mid_jsonschema_apply_defaults(const mid_jsonschema_t *s, json_t *inst)
{
	return js_defaults(s, s->doc, inst, 0);
}
