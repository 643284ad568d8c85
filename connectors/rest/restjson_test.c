/* connectors/rest/restjson_test.c -- unit tests of the REST connector's
 * JSON helpers: strict parsing, paths, flattening, templates. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "connectors/rest/restjson.h"
#include "tests/tap.h"

typedef struct kv { const char *k; const char *v[3]; size_t n; } kv_t;

static int lookup(void *ctx, const char *name, const char *const **values, size_t *n)
{
	kv_t *t = ctx;
	for (; t->k; t++)
		if (!strcmp(t->k, name)) {
			*values = t->v;
			*n = t->n;
			return 1;
		}
	return 0;
}

static char *expand(const char *tmpl, kv_t *vars, int *rc)
{
	json_error_t je;
	json_t *t = json_loads(tmpl, 0, &je), *o = NULL;
	mid_error_t err = { 0 };
	*rc = rj_expand_json(t, lookup, vars, &o, &err);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(t);
	json_decref(o);
	return s;
}

int main(void)
{
	mid_error_t err = { 0 };
	json_t *d;
	int rc;

	ok(!rj_parse("{\"a\":1,\"a\":2}", 13, 8, &err) && err.code == MID_EPROTO, "duplicate keys refused");
	ok(!rj_parse("[[[[[1]]]]]", 11, 4, &err), "too deep refused");
	ok(!rj_parse("{\"a\":", 5, 8, &err), "truncated refused");
	const char *doc = "{\"Resources\":[{\"id\":\"x\",\"a.b\":{\"c\":3}}],\"n\":2}";
	d = rj_parse(doc, strlen(doc), 8, &err);
	ok(d != NULL, "valid parsed");
	char buf[64];
	ok(rj_path_text(d, "Resources.0.id", buf, sizeof buf) && !strcmp(buf, "x"), "path with index");
	ok(rj_path_text(d, "Resources.0.[a.b].c", buf, sizeof buf) && !strcmp(buf, "3"), "bracketed key");
	ok(!rj_path_get(d, "Resources.7"), "index out of range");
	ok(rj_path_get(d, "") == d, "empty path is the document");

	rj_fields_t f = { 0 };
	json_t *rec = json_loads("{\"id\":\"u1\",\"name\":{\"givenName\":\"Ann\"},\"active\":true,\"n\":null,"
	                         "\"emails\":[{\"value\":\"h@x\",\"type\":\"home\"},{\"value\":\"w@x\",\"type\":\"work\"}],"
	                         "\"groups\":[\"a\",\"b\"],\"urn:x:2.0:User\":{\"employeeNumber\":\"E1\"},\"meta\":{\"location\":\"/u\"}}", 0, NULL);
	const char *omit[] = { "meta" };
	rc = rj_flatten(rec, omit, 1, 8, &f, &err);
	is_int(rc, MID_OK, "flatten ok");
	int seen = 0;
	for (size_t i = 0; i < f.n; i++) {
		const char *nm = f.f[i].name, *v = f.f[i].values[0];
		if (!strcmp(nm, "name.givenName") && !strcmp(v, "Ann")) seen |= 1;
		if (!strcmp(nm, "active") && !strcmp(v, "true")) seen |= 2;
		if (!strcmp(nm, "emails.1.value") && !strcmp(v, "w@x")) seen |= 4;
		if (!strcmp(nm, "emails[work].value") && !strcmp(v, "w@x")) seen |= 8;
		if (!strcmp(nm, "groups") && f.f[i].nvalues == 2 && !strcmp(f.f[i].values[1], "b")) seen |= 16;
		if (!strcmp(nm, "urn:x:2.0:User.employeeNumber") && !strcmp(v, "E1")) seen |= 32;
		if (!strncmp(nm, "meta", 4) || !strcmp(nm, "n")) seen |= 64;
	}
	is_int(seen, 63, "dotted names, indexes, [type] aliases, multi-values, URN keys; omit and null left out");
	json_decref(rec);
	rj_fields_free(&f);
	json_decref(d);

	kv_t vars[] = { { "name", { "Ann \"Q\"" }, 1 }, { "n", { "42" }, 1 }, { "b", { "no" }, 1 },
	                { "g", { "x", "y" }, 2 }, { "bad", { "4x" }, 1 }, { NULL, { NULL }, 0 } };
	char *s = expand("{\"a\":\"{{name}}\",\"i\":\"{{n|int}}\",\"t\":\"{{b|bool}}\",\"g\":\"{{g|array}}\","
	                 "\"x\":\"hello {{name}}!\",\"f\":\"u eq \\\"{{name|esc}}\\\"\"}", vars, &rc);
	is_str(s, "{\"a\":\"Ann \\\"Q\\\"\",\"f\":\"u eq \\\"Ann \\\\\\\"Q\\\\\\\"\\\"\",\"g\":[\"x\",\"y\"],\"i\":42,\"t\":false,\"x\":\"hello Ann \\\"Q\\\"!\"}",
	       "typed values, arrays, text, escaping");
	free(s);
	s = expand("{\"keep\":1,\"gone\":\"{{missing}}\",\"ops\":[{\"op\":\"replace\",\"value\":\"{{missing}}\"},"
	           "{\"op\":\"replace\",\"value\":\"{{n}}\"}],\"e\":[{\"value\":\"{{missing}}\",\"type\":\"work\"}]}", vars, &rc);
	is_str(s, "{\"keep\":1,\"ops\":[{\"op\":\"replace\",\"value\":\"42\"}]}", "absent placeholders drop their member and element");
	free(s);
	s = expand("{\"i\":\"{{bad|int}}\"}", vars, &rc);
	ok(rc == MID_EINVAL && !s, "a value not of the modifier's type is an error");
	free(s);
	s = expand("{\"i\":\"{{n|nosuch}}\"}", vars, &rc);
	ok(rc == MID_EINVAL, "an unknown modifier is an error");
	free(s);

	rj_buf_t b = { 0 };
	size_t absent = 0;
	rc = rj_expand_text("/Users/{{name}}?x={{missing}}", lookup, vars, RJ_ENC_URL, &b, &absent, &err);
	is_str(b.p, "/Users/Ann%20%22Q%22?x=", "text template percent-encodes values");
	is_int(absent, 1, "absent counted");
	rj_buf_free(&b);
	return tap_done();
}
