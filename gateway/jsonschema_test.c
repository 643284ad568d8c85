/* gateway/jsonschema_test.c -- unit tests of the JSON Schema validator. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "gateway/jsonschema.h"
#include "tests/tap.h"

/* Validate `inst` (JSON text) against `schema` (JSON text); return the
 * errors joined as "path: message\n" lines (caller frees) and the count. */
static char *check(const char *schema, const char *inst, size_t *count)
{
	mid_error_t err = { 0 };
	mid_jsonschema_t *s = NULL;
	mid_jsonschema_result_t r = { 0 };
	json_error_t je;
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	json_t *v;

	*count = (size_t)-1;
	if (mid_jsonschema_new(schema, &s, &err)) {
		diag("schema: %s", err.text);
		return strdup("<bad schema>");
	}
	v = json_loads(inst, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!v) {
		diag("instance: %s", je.text);
		mid_jsonschema_free(s);
		return strdup("<bad instance>");
	}
	*count = mid_jsonschema_validate(s, v, NULL, &r);
	f = open_memstream(&out, &len);
	for (size_t i = 0; i < r.n; i++)
		fprintf(f, "%s: %s\n", r.errors[i].path, r.errors[i].message);
	fclose(f);
	mid_jsonschema_result_free(&r);
	json_decref(v);
	mid_jsonschema_free(s);
	return out;
}

#define EXPECT(schema, inst, want_n, want_text, name) do { \
	size_t n_; char *t_ = check(schema, inst, &n_); \
	is_int(n_, want_n, name " (count)"); \
	is_str(t_, want_text, name); \
	free(t_); } while (0)

static void test_types(void)
{
	EXPECT("{\"type\":\"integer\"}", "10", 0, "", "integer ok");
	EXPECT("{\"type\":\"integer\"}", "\"10\"", 1,
	       "(top level): expected integer, got string \"10\"\n", "integer vs string");
	EXPECT("{\"type\":\"integer\"}", "1.5", 1,
	       "(top level): expected integer, got number 1.5\n", "integer vs real");
	EXPECT("{\"type\":\"number\"}", "3", 0, "", "number accepts integer");
	EXPECT("{\"type\":[\"string\",\"null\"]}", "null", 0, "", "type array ok");
	EXPECT("{\"type\":[\"string\",\"null\"]}", "true", 1,
	       "(top level): expected string or null, got boolean true\n", "type array mismatch");
	EXPECT("{\"type\":\"object\"}", "[]", 1,
	       "(top level): expected object, got an array\n", "object vs array");
	EXPECT("{\"type\":\"boolean\"}", "false", 0, "", "boolean");
}

static void test_objects(void)
{
	const char *s = "{\"type\":\"object\",\"additionalProperties\":false,"
	                "\"required\":[\"name\"],"
	                "\"properties\":{\"name\":{\"type\":\"string\"},\"delimiter\":{\"type\":\"string\"}}}";
	EXPECT(s, "{\"name\":\"a\"}", 0, "", "object ok");
	EXPECT(s, "{}", 1, "(top level): missing required key \"name\"\n", "required");
	EXPECT(s, "{\"name\":\"a\",\"delimter\":\";\"}", 1,
	       "(top level): unknown key \"delimter\" (did you mean \"delimiter\"? allowed: name, delimiter)\n",
	       "unknown key with suggestion");
	EXPECT(s, "{\"name\":\"a\",\"zzzzzz\":1}", 1,
	       "(top level): unknown key \"zzzzzz\" (allowed: name, delimiter)\n", "unknown key without suggestion");
	EXPECT("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"a\":1,\"b c\":\"x\"}", 1,
	       "[\"b c\"]: expected integer, got string \"x\"\n", "additionalProperties schema, quoted key path");
}

static void test_paths_and_collect(void)
{
	const char *s =
	    "{\"type\":\"object\",\"properties\":{\"bindings\":{\"type\":\"array\",\"items\":"
	    "{\"$ref\":\"#/$defs/b\"}}},"
	    "\"$defs\":{\"b\":{\"type\":\"object\",\"properties\":{\"settings\":{\"type\":\"object\","
	    "\"additionalProperties\":false,\"properties\":{\"delimiter\":{\"enum\":[\",\",\";\"]},"
	    "\"mode\":{\"enum\":[\"snapshot\",\"delta\"]}}}}}}}";
	EXPECT(s, "{\"bindings\":[{},{},{\"settings\":{\"delimiter\":\"x\",\"mode\":\"full\",\"extra\":1}}]}", 3,
	       "bindings[2].settings.delimiter: must be one of: ,, ; (got string \"x\")\n"
	       "bindings[2].settings.mode: must be one of: snapshot, delta (got string \"full\")\n"
	       "bindings[2].settings: unknown key \"extra\" (allowed: delimiter, mode)\n",
	       "nested path via $ref, all errors collected");
	char *p = mid_jsonschema_path_key("a", "x.y");
	is_str(p, "a[\"x.y\"]", "path of odd key is quoted");
	free(p);
	p = mid_jsonschema_path_key(NULL, "top");
	is_str(p, "top", "path at top level");
	free(p);
	p = mid_jsonschema_path_index("list", 3);
	is_str(p, "list[3]", "path of index");
	free(p);
}

static void test_scalars(void)
{
	EXPECT("{\"minimum\":1,\"maximum\":10}", "0", 1, "(top level): must be at least 1 (got 0)\n", "minimum");
	EXPECT("{\"minimum\":1,\"maximum\":10}", "11", 1, "(top level): must be at most 10 (got 11)\n", "maximum");
	EXPECT("{\"maximum\":0.5}", "0.75", 1, "(top level): must be at most 0.5 (got 0.75)\n", "maximum real");
	EXPECT("{\"minLength\":2,\"maxLength\":3}", "\"a\"", 1,
	       "(top level): must be at least 2 characters long (got 1)\n", "minLength");
	EXPECT("{\"minLength\":1}", "\"\"", 1, "(top level): must not be empty\n", "minLength 1");
	EXPECT("{\"maxLength\":3}", "\"\\u00e4\\u00e4\\u00e4\"", 0, "", "maxLength counts characters not bytes");
	EXPECT("{\"maxLength\":3}", "\"abcd\"", 1,
	       "(top level): must be at most 3 characters long (got 4)\n", "maxLength");
	EXPECT("{\"enum\":[\"snapshot\",\"delta\"]}", "\"snap\"", 1,
	       "(top level): must be one of: snapshot, delta (got string \"snap\")\n", "enum");
	EXPECT("{\"enum\":[1,2]}", "2", 0, "", "enum of integers");
	EXPECT("{\"const\":\"x\"}", "\"y\"", 1, "(top level): must be \"x\" (got string \"y\")\n", "const");
	EXPECT("{\"pattern\":\"^[a-z]+$\"}", "\"abc\"", 0, "", "pattern ok");
	EXPECT("{\"pattern\":\"^[a-z]+$\"}", "\"ab1\"", 1,
	       "(top level): does not match the pattern ^[a-z]+$ (got string \"ab1\")\n", "pattern mismatch");
	EXPECT("{\"pattern\":\"^[a-z]+$\",\"x-hint\":\"lower-case letters\"}", "\"A\"", 1,
	       "(top level): must be lower-case letters (got string \"A\")\n", "pattern with hint");
	EXPECT("{\"pattern\":\"b\"}", "\"abc\"", 0, "", "pattern is not anchored");
	EXPECT("{\"pattern\":\"^a$\"}", "\"a\\u0000b\"", 1,
	       "(top level): does not match the pattern ^a$ (got string \"a\\u0000b\")\n", "embedded NUL never matches");
	EXPECT("{\"minimum\":5}", "\"x\"", 0, "", "minimum ignores strings");
}

static void test_arrays(void)
{
	EXPECT("{\"minItems\":2}", "[1]", 1, "(top level): must have at least 2 items (got 1)\n", "minItems");
	EXPECT("{\"maxItems\":1}", "[1,2]", 1, "(top level): must have at most 1 items (got 2)\n", "maxItems");
	EXPECT("{\"minItems\":1}", "[]", 1, "(top level): must not be empty\n", "minItems 1");
	EXPECT("{\"items\":{\"type\":\"string\"}}", "[\"a\",2,\"c\",false]", 2,
	       "[1]: expected string, got integer 2\n[3]: expected string, got boolean false\n", "items");
}

static void test_combinators(void)
{
	const char *t =
	    "{\"oneOf\":[{\"type\":\"string\",\"enum\":[\"trim\",\"lower\"]},"
	    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"split\"],"
	    "\"properties\":{\"split\":{\"type\":\"string\"}}},"
	    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"date\"],"
	    "\"properties\":{\"date\":{\"type\":\"string\"}}}]}";
	EXPECT(t, "\"trim\"", 0, "", "oneOf string branch");
	EXPECT(t, "{\"date\":\"%d\"}", 0, "", "oneOf object branch");
	EXPECT(t, "\"trm\"", 1, "(top level): must be one of: trim, lower (got string \"trm\")\n",
	       "oneOf reports the branch of the right type");
	EXPECT(t, "{\"date\":5}", 1, "date: expected string, got integer 5\n",
	       "oneOf reports the branch with the fewest errors");
	EXPECT(t, "7", 1, "(top level): expected string or object, got integer 7\n",
	       "oneOf with no branch of the right type lists the types");
	EXPECT("{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "3", 1,
	       "(top level): matches more than one of the allowed forms (1 and 2); make it match exactly one\n",
	       "oneOf matching two");
	EXPECT("{\"anyOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}", "3", 0, "", "anyOf matching two");
	EXPECT("{\"anyOf\":[{\"type\":\"integer\",\"minimum\":5},{\"type\":\"string\"}]}", "3", 1,
	       "(top level): must be at least 5 (got 3)\n", "anyOf best branch");
	EXPECT("{\"allOf\":[{\"minimum\":1},{\"maximum\":2}]}", "5", 1,
	       "(top level): must be at most 2 (got 5)\n", "allOf");
	EXPECT("{\"$ref\":\"#/$defs/x\",\"$defs\":{\"x\":{\"type\":\"string\"}}}", "1", 1,
	       "(top level): expected string, got integer 1\n", "$ref at the root");
	EXPECT("{\"properties\":{\"a\":false}}", "{\"a\":1}", 1, "a: is not allowed here\n", "false schema");
	EXPECT("{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"c\":{\"$ref\":\"#/$defs/n\"}}}},"
	       "\"$ref\":\"#/$defs/n\"}", "{\"c\":{\"c\":{\"c\":3}}}", 1,
	       "c.c.c: expected object, got integer 3\n", "recursive $ref");
}

static void test_bad_schemas(void)
{
	static const char *const bad[] = {
		"{\"typo\":1}",
		"{\"$ref\":\"#/$defs/missing\"}",
		"{\"$ref\":\"http://example.com/x\"}",
		"{\"pattern\":\"(\"}",
		"{\"type\":\"int\"}",
		"{\"oneOf\":[]}",
		"[1]",
		"{\"properties\":{\"a\":{\"minimum\":\"x\"}}}",
		"{\"a\":1,\"a\":2}",
		"not json",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mid_error_t err = { 0 };
		mid_jsonschema_t *s = NULL;
		int rc = mid_jsonschema_new(bad[i], &s, &err);
		ok(rc == MID_EINVAL && !s && err.text[0], "bad schema refused: %s (%s)", bad[i], err.text);
		mid_jsonschema_free(s);
	}
}

static void test_bound(void)
{
	mid_error_t err = { 0 };
	mid_jsonschema_t *s = NULL;
	mid_jsonschema_result_t r = { .max = 5 };
	json_t *arr = json_array();
	for (int i = 0; i < 12; i++)
		json_array_append_new(arr, json_integer(i));
	ok(mid_jsonschema_new("{\"items\":{\"type\":\"string\"}}", &s, &err) == 0, "compile");
	is_int(mid_jsonschema_validate(s, arr, "list", &r), 12, "all errors counted");
	is_int(r.n, 5, "kept up to the bound");
	is_int(r.dropped, 7, "the rest counted as dropped");
	is_str(r.errors[4].path, "list[4]", "prefix used in paths");
	mid_jsonschema_result_free(&r);
	json_decref(arr);
	mid_jsonschema_free(s);
}

static void test_defaults(void)
{
	mid_error_t err = { 0 };
	mid_jsonschema_t *s = NULL;
	const char *schema =
	    "{\"type\":\"object\",\"properties\":{"
	    "\"log\":{\"type\":\"object\",\"default\":{},\"properties\":{\"level\":{\"default\":\"notice\"}}},"
	    "\"keep\":{\"default\":1},"
	    "\"list\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/e\"}}},"
	    "\"$defs\":{\"e\":{\"properties\":{\"on\":{\"default\":true}}}}}";
	json_t *v = json_loads("{\"keep\":2,\"list\":[{},{\"on\":false}]}", 0, NULL);
	ok(mid_jsonschema_new(schema, &s, &err) == 0, "compile defaults schema");
	ok(mid_jsonschema_apply_defaults(s, v) == 0, "apply defaults");
	char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	is_str(d, "{\"keep\":2,\"list\":[{\"on\":true},{\"on\":false}],\"log\":{\"level\":\"notice\"}}",
	       "defaults filled, present values kept, nested and through $ref");
	free(d);
	json_decref(v);
	mid_jsonschema_free(s);
}

/* Every property of the config schema (through $ref) has a description. */
static int described(const json_t *doc, const json_t *sch, const char *where, int depth)
{
	int good = 1;
	const char *k;
	const json_t *v;
	if (!json_is_object(sch) || depth > 20)
		return 1;
	json_object_foreach((json_t *)json_object_get(sch, "properties"), k, v) {
		const json_t *d = json_object_get(v, "description");
		const json_t *ref = json_object_get(v, "$ref");
		if (!d && json_is_string(ref))
			d = json_object_get(json_object_get(json_object_get(doc, "$defs"),
			                                    json_string_value(ref) + 8), "description");
		if (!json_is_string(d)) {
			diag("no description: %s.%s", where, k);
			good = 0;
		}
		good &= described(doc, v, k, depth + 1);
	}
	json_object_foreach((json_t *)json_object_get(sch, "$defs"), k, v)
		good &= described(doc, v, k, depth + 1);
	const json_t *arr = json_object_get(sch, "oneOf");
	size_t i;
	json_array_foreach(arr, i, v)
		good &= described(doc, v, where, depth + 1);
	return good;
}

static void test_embedded(void)
{
	static const char *const mine[] = { "config", "person", "credential", "profile" };
	for (size_t i = 0; i < 4; i++) {
		mid_error_t err = { 0 };
		mid_jsonschema_t *s = NULL;
		const char *text = mid_schema_text(mine[i]);
		ok(text != NULL, "embedded schema %s present", mine[i]);
		ok(text && mid_jsonschema_new(text, &s, &err) == 0, "schema %s compiles (%s)", mine[i], err.text);
		ok(s && described(mid_jsonschema_doc(s), mid_jsonschema_doc(s), mine[i], 0),
		   "every key of %s has a description", mine[i]);
		mid_jsonschema_free(s);
	}
	ok(mid_schema_text("config.schema.json") == mid_schema_text("config"), "name with suffix");
	ok(mid_schema_text("nope") == NULL, "unknown schema is NULL");
	size_t n = 0;
	for (const char *const *p = mid_schema_names(); *p; p++)
		n++;
	ok(n >= 4, "names listed (%zu)", n);

	/* The profile repeats the config's mapping definitions: keep them equal. */
	json_t *c = json_loads(mid_schema_text("config"), 0, NULL);
	json_t *p = json_loads(mid_schema_text("profile"), 0, NULL);
	static const char *const defs[] = { "mapping", "field_map", "transform" };
	for (size_t i = 0; i < 3; i++)
		ok(json_equal(json_object_get(json_object_get(c, "$defs"), defs[i]),
		              json_object_get(json_object_get(p, "$defs"), defs[i])),
		   "profile and config agree on $defs/%s", defs[i]);
	json_decref(c);
	json_decref(p);
}

static void test_person(void)
{
	mid_error_t err = { 0 };
	mid_jsonschema_t *s = NULL;
	mid_jsonschema_result_t r = { 0 };
	json_t *good = json_loads("{\"id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"employee_id\":\"E1\","
	                          "\"given_name\":\"Ada\",\"family_name\":\"Lovelace\",\"email\":\"ada@example.com\","
	                          "\"status\":\"active\",\"valid_until\":\"2030-12-31\",\"access_groups\":[\"staff\"],"
	                          "\"attributes\":{\"dept\":\"R&D\",\"tags\":[\"a\",\"b\"]}}", 0, NULL);
	json_t *bad = json_loads("{\"email\":\"nope\",\"status\":\"gone\",\"valid_from\":\"31.12.2030\"}", 0, NULL);
	ok(mid_jsonschema_new(mid_schema_text("person"), &s, &err) == 0, "person schema");
	is_int(mid_jsonschema_validate(s, good, NULL, &r), 0, "a good person validates");
	is_int(mid_jsonschema_validate(s, bad, "person", &r), 3, "a bad person has 3 errors");
	for (size_t i = 0; i < r.n; i++)
		diag("%s: %s", r.errors[i].path, r.errors[i].message);
	mid_jsonschema_result_free(&r);
	mid_jsonschema_free(s);
	json_decref(good);
	json_decref(bad);
}

int main(void)
{
	test_types();
	test_objects();
	test_paths_and_collect();
	test_scalars();
	test_arrays();
	test_combinators();
	test_bad_schemas();
	test_bound();
	test_defaults();
	test_embedded();
	test_person();
	return tap_done();
}
