/* connectors/rest/restjson_test.c -- unit tests of the REST connector's
 * JSON helpers: strict parsing, paths, flattening, templates. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "connectors/rest/restjson.h"
#include "connectors/rest/restpage_diff.h"
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


/* ---- the one-pass page parser against the jansson path ---------------------- */

static const char *const scim_omit[] = { "schemas", "meta.location", "emails[work]", "x.0" };
static const rj_page_spec_t scim_spec = { "Resources", "totalResults", "id", "meta.version",
                                          scim_omit, 4, 32, 256, 128 };

/* 1 when the page parser took the page and agrees with jansson */
static int page_same(const char *body, const rj_page_spec_t *sp, const char *name)
{
	char why[512];
	int handled;
	int d = rj_page_diff(body, strlen(body), sp, &handled, why, sizeof why);
	if (d)
		diag("%s: %s", name, why);
	return !d && handled;
}

/* 1 when the page parser declined the page (and so could not differ) */
static int page_declined(const char *body, const rj_page_spec_t *sp)
{
	char why[512];
	int handled;
	int d = rj_page_diff(body, strlen(body), sp, &handled, why, sizeof why);
	return !d && !handled;
}

static void test_page(void)
{
	static const char scim[] =
		"{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],"
		"\"totalResults\":4,\"itemsPerPage\":4,\"startIndex\":1,\"Resources\":["
		"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\","
		"\"userName\":\"bjensen\",\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"},"
		"\"emails\":[{\"value\":\"b@x.com\",\"type\":\"work\",\"primary\":true},"
		"{\"value\":\"b2@x.com\",\"type\":\"home\"},{\"value\":\"b3@x.com\",\"type\":\"work\"}],"
		"\"active\":true,\"groups\":[],\"x\":[1,2,3],\"n\":null,"
		"\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"employeeNumber\":\"E1\"},"
		"\"meta\":{\"version\":\"W/\\\"3\\\"\",\"location\":\"http://x/u1\"}},"
		"{\"id\":42,\"s\":\"a\\u00e9\\ud83d\\ude00\\n\\/\",\"arr\":[[1,2],{\"type\":\"t\"},null,\"x\"],"
		"\"meta\":{\"version\":7}}, \"str\", {\"noid\":1}]}";
	rj_page_t pg;
	memset(&pg, 0, sizeof pg);

	ok(page_same(scim, &scim_spec, "scim"), "page: a SCIM page comes out as jansson's");
	is_int(rj_page_parse(scim, strlen(scim), &scim_spec, &pg), 1, "page: parsed");
	is_int(pg.records, RJ_PAGE_ARRAY, "page: records array");
	is_int(pg.total, RJ_PAGE_INTEGER, "page: total");
	is_int(pg.total_value, 4, "page: total value");
	is_int(pg.nrec, 4, "page: four records");
	ok(pg.rec[0].fast && !strcmp(pg.rec[0].id, "u1"), "page: record 1 id");
	is_str(pg.rec[0].etag, "W/\"3\"", "page: record 1 etag (escapes decoded)");
	{
		const mid_field_t *f = pg.rec[0].fields;
		size_t n = pg.rec[0].nfields, i;
		int saw_alias = 0, saw_work = 0, saw_x = 0, saw_schemas = 0;
		for (i = 0; i < n; i++) {
			if (!strcmp(f[i].name, "emails[home].value"))
				saw_alias = !strcmp(f[i].values[0], "b2@x.com");
			if (!strncmp(f[i].name, "emails[work]", 12))
				saw_work = 1;
			if (!strcmp(f[i].name, "x"))
				saw_x = f[i].nvalues == 3 && !strcmp(f[i].values[2], "3");
			if (!strncmp(f[i].name, "schemas", 7))
				saw_schemas = 1;
		}
		ok(saw_alias, "page: [type] alias of the first home email");
		ok(!saw_work && !saw_schemas, "page: omitted prefixes left out (alias and plain)");
		ok(saw_x, "page: a scalar array is one field with three values");
	}
	ok(pg.rec[1].fast && !strcmp(pg.rec[1].id, "42") && !strcmp(pg.rec[1].etag, "7"),
	   "page: an integer id and etag printed as jansson prints them");
	ok(!pg.rec[2].fast && !pg.rec[3].fast, "page: a string record and one without id go to "
	   "the jansson path");
	ok(pg.rec[2].len == 5 && !memcmp(scim + pg.rec[2].off, "\"str\"", 5),
	   "page: a record's text span");

	/* the document is the array; ids at bracketed and indexed paths;
	 * truncation to the caller's buffer sizes */
	{
		static const char *const om[] = { "a" };
		const rj_page_spec_t sp = { "", NULL, "[urn:a.b].c.0", "v", om, 1, 8, 4, 3 };
		ok(page_same("[{\"urn:a.b\":{\"c\":[\"xyzzy\",\"y\"]},\"v\":\"abcdefgh\",\"a\":{\"b\":1},"
		             "\"ab\":1},{\"urn:a.b\":{\"c\":[{\"d\":1}]}},3,[],{}]", &sp, "array"),
		   "page: top-level array, bracketed id path, truncated id and etag");
		is_int(rj_page_parse("[{\"urn:a.b\":{\"c\":[\"xyzzy\"]},\"v\":\"abcdefgh\"}]", 44, &sp, &pg),
		       1, "page: parsed (array)");
		ok(pg.nrec == 1 && !strcmp(pg.rec[0].id, "xyz") && !strcmp(pg.rec[0].etag, "ab"),
		   "page: id and etag cut at the buffer sizes as snprintf cuts them");
	}
	/* edge cases that must agree */
	{
		static const char *const same[] = {
			"{\"Resources\":[]}",
			"{\"totalResults\":0}",
			"{\"Resources\":{},\"totalResults\":\"3\"}",
			"{\"Resources\":[{\"id\":\"a\",\"\":{\"\":[1,\"\"]},\"e\":[{},[],[[]]]}],\"x\":[{\"y\":[1]}]}",
			"{\"Resources\":[{\"id\":\"a\",\"l\":[{\"type\":\"a\"},{\"type\":\"a\",\"q\":1},"
			"{\"type\":\"\"},{\"type\":\"a.b\"},{\"type\":1},{\"type\":\"b\",\"m\":[{\"type\":\"c\"}]}]}]}",
			" \t\r\n{\"Resources\" : [ {\"id\" : \"a\" , \"t\" : false , \"u\" : -12 } ] }\n",
			"{\"Resources\":[{\"id\":\"\\u00e9\\u20ac\\ud800\\udc00\"},{\"id\":\"\"},{\"id\":null},"
			"{\"id\":{\"x\":1}},{\"id\":true}]}",
			"{\"Resources\":[{\"id\":\"a\",\"big\":999999999999999999,\"neg\":-999999999999999999}]}",
		};
		for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
			ok(page_same(same[i], &scim_spec, same[i]), "page: agrees on case %zu", i);
	}
	/* declined: jansson decides (errors, reals, big integers, duplicates) */
	{
		static const char *const declined[] = {
			"",
			"{\"Resources\":[{\"id\":\"a\",\"r\":1.5}]}",
			"{\"Resources\":[{\"id\":\"a\",\"r\":1e3}]}",
			"{\"Resources\":[{\"id\":\"a\",\"i\":1234567890123456789}]}",
			"{\"Resources\":[{\"id\":\"a\",\"id\":\"b\"}]}",
			"{\"Resources\":[],\"Resources\":[]}",
			"{\"Resources\":[{\"id\":\"a\\u0000\"}]}",
			"{\"Resources\":[{\"id\":\"\\ud800\"}]}",
			"{\"Resources\":[{\"id\":\"\\udc00\"}]}",
			"{\"Resources\":[{\"id\":\"a\"}]} x",
			"{\"Resources\":[{\"id\":\"a\",}]}",
			"{\"Resources\":[{\"id\":01}]}",
			"{\"Resources\":[{\"id\":\"\xc0\xaf\"}]}",
			"{\"Resources\":[{\"id\":\"\xed\xa0\x80\"}]}",
			"{\"Resources\":[{\"id\":\"a\tb\"}]}",
			"{\"Resources\":[{\"id\":tru}]}",
			"\xef\xbb\xbf{\"Resources\":[]}",
			"[]",
		};
		for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++)
			ok(page_declined(declined[i], &scim_spec), "page: declines case %zu", i);
	}
	/* depth: a page nesting deeper than max_depth is left to jansson's error */
	{
		const rj_page_spec_t sp = { "Resources", NULL, "id", NULL, NULL, 0, 4, 256, 128 };
		ok(page_same("{\"Resources\":[{\"id\":\"a\",\"b\":1}]}", &sp, "depth 3"),
		   "page: depth 3 with max 4");
		ok(page_declined("{\"Resources\":[{\"id\":\"a\",\"b\":{\"c\":[]}}]}", &sp),
		   "page: depth 4 with max 4 declined (jansson refuses it)");
	}
	/* specs it does not serve */
	{
		rj_page_spec_t sp = scim_spec;
		sp.records = "a.b";
		ok(!rj_page_spec_ok(&sp), "page: a dotted records path is not served");
		sp = scim_spec;
		static const char *const empty[] = { "" };
		sp.omit = empty;
		sp.nomit = 1;
		ok(!rj_page_spec_ok(&sp), "page: an empty omit prefix is not served");
		ok(rj_page_spec_ok(&scim_spec), "page: the scim2 spec is served");
	}
	rj_page_free(&pg);
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
	test_page();
	return tap_done();
}
