/* gateway/mapper_test.c -- unit tests of the mapper: every transform, the
 * identity mapping, const rules, outbound mapping and the content hash. */
#include <config.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "gateway/mapper.h"
#include "tests/tap.h"

static int xf(const char *transforms, const char *const *in, size_t nin, const char *want)
{
	json_t *t = json_loads(transforms, 0, NULL);
	char **out = NULL, buf[1024] = "";
	size_t n = 0, len = 0;
	mid_error_t err = { 0 };
	int rc = mid_mapper_test_transform(t, in, nin, &out, &n, &err);
	json_decref(t);
	if (rc) {
		snprintf(buf, sizeof buf, "ERR:%s", err.text);
	} else {
		for (size_t i = 0; i < n; i++) {
			len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "|" : "", out[i]);
			free(out[i]);
		}
	}
	free(out);
	int good = want[0] == '!' ? strncmp(buf, "ERR:", 4) == 0 : strcmp(buf, want) == 0;
	if (!good)
		printf("#   %s -> '%s', want '%s'\n", transforms, buf, want);
	return good;
}

int main(void)
{
	const char *one[] = { "  Hello World \t" }, *two[] = { "a;b", "c" };
	const char *d1[] = { "31/12/2027" }, *d2[] = { "12/31/2027 08:30" }, *e[] = { "" };
	const char *lk[] = { "A", "X" };

	ok(xf("[\"trim\"]", one, 1, "Hello World"), "trim");
	ok(xf("[\"trim\", \"lower\"]", one, 1, "hello world"), "lower");
	ok(xf("[\"trim\", \"upper\"]", one, 1, "HELLO WORLD"), "upper");
	ok(xf("[{\"date\": \"%d/%m/%Y\"}]", d1, 1, "2027-12-31"), "date to ISO 8601 date");
	ok(xf("[{\"date\": \"%m/%d/%Y %H:%M\"}]", d2, 1, "2027-12-31T08:30:00Z"), "date-time to ISO 8601");
	ok(xf("[{\"date\": \"%d/%m/%Y\"}]", d2, 1, "!"), "a date that does not match is an error");
	ok(xf("[{\"split\": \";\"}]", two, 2, "a|b|c"), "split");
	ok(xf("[{\"join\": \";\"}]", two, 2, "a;b;c"), "join");
	ok(xf("[{\"default\": \"x\"}]", e, 1, "x"), "default on empty");
	ok(xf("[{\"default\": \"x\"}]", one, 1, "  Hello World \t"), "default keeps a value");
	ok(xf("[{\"lookup\": {\"A\": \"active\", \"*\": \"suspended\"}}]", lk, 2, "active|suspended"),
	   "lookup with fallback");
	ok(xf("[{\"lookup\": {\"A\": \"active\"}}]", lk, 2, "active|X"), "lookup keeps unknown values");
	ok(xf("[\"nosuch\"]", one, 1, "!"), "unknown transform refused");

	/* compile errors name the path */
	mid_mapper_t *m = NULL;
	mid_error_t err = { 0 };
	json_t *bad = json_loads("{\"inbound\": {\"shoe_size\": \"x\"}}", 0, NULL);
	ok(mid_mapper_compile(bad, &m, &err) == MID_EINVAL && strstr(err.text, "mapping.inbound.shoe_size"),
	   "unknown canonical field refused with its path");
	json_decref(bad);

	/* identity inbound: canonical names, access_groups split on ';' */
	ok(mid_mapper_compile(NULL, &m, &err) == MID_OK, "identity mapping compiles");
	const char *v_id[] = { "E1" }, *v_mail[] = { "A@B.example" }, *v_g[] = { "Staff;Lab" },
	           *v_x[] = { "ignored" };
	mid_field_t f[] = { { "employee_id", v_id, 1 }, { "email", v_mail, 1 },
	                    { "access_groups", v_g, 1 }, { "shoe", v_x, 1 } };
	mid_record_t rec = { MID_OP_UPSERT, "E1", f, 4, 1, NULL };
	mid_canon_t c;
	ok(mid_mapper_inbound(m, &rec, &c, &err) == MID_OK, "identity maps a record");
	is_str(mid_canon_str(&c, MID_CF_EMAIL), "A@B.example", "email copied");
	is_int(c.f[MID_CF_ACCESS_GROUPS].n, 2, "access groups split");
	ok(!(c.present & (1u << MID_CF_GIVEN_NAME)), "absent source field is not present");
	unsigned char h1[MID_HASH_LEN], h2[MID_HASH_LEN];
	mid_canon_hash(&c, ~0u, h1);
	mid_canon_hash(&c, ~0u, h2);
	ok(memcmp(h1, h2, MID_HASH_LEN) == 0, "hash is stable");
	v_mail[0] = "a@b.example";
	mid_mapper_inbound(m, &rec, &c, &err);
	mid_canon_hash(&c, ~0u, h2);
	ok(memcmp(h1, h2, MID_HASH_LEN) != 0, "hash changes with a field");
	mid_mapper_free(m);

	/* explicit rules, const, attributes, outbound */
	json_t *map = json_loads("{\"inbound\": {"
	    "\"email\": {\"from\": \"Mail\", \"transform\": [\"trim\", \"lower\"]},"
	    "\"status\": {\"const\": \"active\"},"
	    "\"attributes.department\": \"Dept\"},"
	    "\"outbound\": {\"MAIL\": {\"from\": \"email\", \"transform\": [\"upper\"]},"
	    "\"Kind\": {\"const\": \"staff\"}, \"Dept\": \"attributes.department\"}}", 0, NULL);
	ok(mid_mapper_compile(map, &m, &err) == MID_OK, "explicit mapping compiles");
	json_decref(map);
	const char *v_m2[] = { " X@Y.Example " }, *v_d[] = { "R&D" };
	mid_field_t f2[] = { { "Dept", v_d, 1 }, { "Mail", v_m2, 1 } };
	mid_record_t rec2 = { MID_OP_UPSERT, "7", f2, 2, 1, NULL };
	ok(mid_mapper_inbound(m, &rec2, &c, &err) == MID_OK, "explicit mapping maps");
	is_str(mid_canon_str(&c, MID_CF_EMAIL), "x@y.example", "from + transforms");
	is_str(mid_canon_str(&c, MID_CF_STATUS), "active", "const");
	ok(c.nattrs == 1 && strcmp(c.attrs[0].key, "department") == 0, "attribute mapped");
	const mid_field_t *of = NULL;
	size_t on = 0;
	ok(mid_mapper_outbound(m, &c, &of, &on, &err) == MID_OK && on == 3, "outbound maps 3 fields");
	int seen = 0;
	for (size_t i = 0; i < on; i++) {
		if (!strcmp(of[i].name, "MAIL") && of[i].nvalues == 1 && !strcmp(of[i].values[0], "X@Y.EXAMPLE"))
			seen |= 1;
		if (!strcmp(of[i].name, "Kind") && of[i].nvalues == 1 && !strcmp(of[i].values[0], "staff"))
			seen |= 2;
		if (!strcmp(of[i].name, "Dept") && of[i].nvalues == 1 && !strcmp(of[i].values[0], "R&D"))
			seen |= 4;
	}
	is_int(seen, 7, "outbound values (transform, const, attribute)");
	mid_mapper_free(m);

	/* canonical JSON (outbox payload) to canon */
	mid_arena_t a = { NULL };
	json_t *pj = json_loads("{\"employee_id\": \"E9\", \"access_groups\": [\"A\", \"B\"],"
	    "\"credentials\": [{\"format\": \"H10301\", \"facility_code\": 1, \"card_number\": 42,"
	    " \"status\": \"active\"}], \"attributes\": {\"z\": \"1\", \"a\": \"2\"}}", 0, NULL);
	ok(mid_canon_from_json(pj, &a, &c, &err) == MID_OK, "canon from JSON");
	is_str(mid_canon_str(&c, MID_CF_CARD_NUMBER), "42", "card number from the active credential");
	ok(c.nattrs == 2 && !strcmp(c.attrs[0].key, "a"), "attributes sorted by key");
	json_decref(pj);
	pj = json_loads("{\"credentials\": [{\"format\": \"H10302\", \"facility_code\": 5, \"card_number\": 7,"
	    " \"status\": \"pending\"}, {\"format\": \"H10301\", \"facility_code\": 1, \"card_number\": 42,"
	    " \"status\": \"active\"}, {\"format\": \"H10302\", \"facility_code\": 2, \"card_number\": 43,"
	    " \"status\": \"active\"}]}", 0, NULL);
	ok(mid_canon_from_json(pj, &a, &c, &err) == MID_OK, "canon from JSON, two active credentials");
	ok(c.f[MID_CF_CARD_NUMBER].n == 2 && !strcmp(c.f[MID_CF_CARD_NUMBER].v[0], "42") &&
	   !strcmp(c.f[MID_CF_CARD_NUMBER].v[1], "43"),
	   "every active credential's card number, the first one first (a pending one is left out)");
	is_str(mid_canon_str(&c, MID_CF_FACILITY_CODE), "1", "format and facility code of the first active one");
	json_decref(pj);
	{
		json_t *mj = json_loads("{\"inbound\": {\"given_name\": \"g\"}, \"outbound\": {\"n\": "
		                        "{\"from\": \"credential.card_number\"}, \"k\": {\"const\": \"x\"}}}", 0, NULL);
		mid_mapper_t *mm = NULL;
		ok(mid_mapper_compile(mj, &mm, &err) == MID_OK &&
		   mid_mapper_outbound_fields(mm) == (1u << MID_CF_CARD_NUMBER) &&
		   mid_mapper_inbound_fields(mm) == (1u << MID_CF_GIVEN_NAME),
		   "outbound fields: the canonical fields the outbound mapping reads (a const reads none)");
		mid_mapper_free(mm);
		json_decref(mj);
	}
	mid_arena_free(&a);
	return tap_done();
}
