/* gateway/sync_test.c -- unit tests of the planner (authority, conflicts),
 * the delete guard, time parsing and echo suppression by content hash. */
#include <config.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "gateway/sync.h"
#include "gateway/mapper.h"
#include "tests/tap.h"

/* Plan a new person with these attributes; its attributes text is want
 * (what json_dumps with JSON_COMPACT | JSON_SORT_KEYS writes). */
static int attrs_same(mid_attr_t *at, size_t n, const char *want)
{
	mid_canon_t c;
	mid_person_t np;
	int auth[MID_CF_N + 1] = { 0 };
	unsigned changed, conflicts, kept;
	mid_error_t err = { 0 };
	memset(&c, 0, sizeof c);
	memset(&np, 0, sizeof np);
	c.attrs = at;
	c.nattrs = n;
	int r = mid_sync_plan(&c, NULL, 0, auth, &np, &changed, &conflicts, &kept, &err) == MID_OK &&
	        np.attributes && !strcmp(np.attributes, want);
	if (!r)
		diag("attributes %s, want %s", np.attributes ? np.attributes : "(null)", want);
	mid_person_clear(&np);
	return r;
}

static mid_canon_t canon(const char *given, const char *email, const char *status)
{
	static const char *g[1], *e[1], *s[1];
	mid_canon_t c;
	memset(&c, 0, sizeof c);
	g[0] = given;
	e[0] = email;
	s[0] = status;
	c.present = (1u << MID_CF_GIVEN_NAME) | (1u << MID_CF_EMAIL) | (1u << MID_CF_STATUS);
	c.f[MID_CF_GIVEN_NAME] = (mid_vals_t){ g, 1 };
	c.f[MID_CF_EMAIL] = (mid_vals_t){ e, 1 };
	c.f[MID_CF_STATUS] = (mid_vals_t){ s, 1 };
	return c;
}

int main(void)
{
	int auth[MID_CF_N + 1];
	mid_error_t err = { 0 };
	unsigned changed, conflicts, kept;
	mid_person_t cur, np;

	memset(&cur, 0, sizeof cur);
	snprintf(cur.id, sizeof cur.id, "p1");
	snprintf(cur.given_name, sizeof cur.given_name, "Anna");
	snprintf(cur.email, sizeof cur.email, "gw@example.com");
	cur.status = MID_PERSON_ACTIVE;

	/* authority parsing */
	json_t *a = json_loads("{\"email\": \"gateway\", \"*\": \"pacs\"}", 0, NULL);
	ok(mid_sync_authority(a, auth, &err) == MID_OK, "authority parses");
	is_int(auth[MID_CF_EMAIL], MID_AUTH_GATEWAY, "email is gateway-owned");
	is_int(auth[MID_CF_GIVEN_NAME], MID_AUTH_PACS, "default is pacs");
	json_decref(a);
	a = json_loads("{\"nosuch\": \"pacs\"}", 0, NULL);
	ok(mid_sync_authority(a, auth, &err) == MID_EINVAL, "unknown field in authority refused");
	json_decref(a);
	a = json_loads("{\"email\": \"gateway\"}", 0, NULL);
	mid_sync_authority(a, auth, &err);
	json_decref(a);

	/* only the PACS changed: its values apply, no conflict */
	mid_canon_t c = canon("Anne", "pacs@example.com", "active");
	memset(&np, 0, sizeof np);
	np = cur;
	ok(mid_sync_plan(&c, &cur, 0, auth, &np, &changed, &conflicts, &kept, &err) == MID_OK,
	   "plan without local change");
	ok(changed == ((1u << MID_CF_GIVEN_NAME) | (1u << MID_CF_EMAIL)), "two fields changed");
	is_int(conflicts, 0, "no conflict");
	is_str(np.email, "pacs@example.com", "PACS value applied (gateway-owned, but only the PACS changed)");
	mid_person_clear(&np);

	/* both sides changed: each differing field goes to its authority */
	memset(&np, 0, sizeof np);
	np = cur;
	ok(mid_sync_plan(&c, &cur, 1, auth, &np, &changed, &conflicts, &kept, &err) == MID_OK,
	   "plan with a local change");
	ok(conflicts == ((1u << MID_CF_GIVEN_NAME) | (1u << MID_CF_EMAIL)), "both fields in conflict");
	ok(kept == (1u << MID_CF_EMAIL), "the gateway keeps its email");
	is_str(np.email, "gw@example.com", "gateway-owned field kept");
	is_str(np.given_name, "Anne", "pacs-owned field taken from the PACS");
	ok(changed == (1u << MID_CF_GIVEN_NAME), "only the PACS-won field counts as changed");
	mid_person_clear(&np);

	/* equal values: nothing changes, no conflict even with a local change */
	mid_canon_t same = canon("Anna", "gw@example.com", "active");
	memset(&np, 0, sizeof np);
	np = cur;
	mid_sync_plan(&same, &cur, 1, auth, &np, &changed, &conflicts, &kept, &err);
	ok(changed == 0 && conflicts == 0, "equal record: no change, no conflict");
	mid_person_clear(&np);

	/* bad values are rejected with a reason */
	mid_canon_t bad = canon("Anna", "gw@example.com", "on leave");
	memset(&np, 0, sizeof np);
	np = cur;
	ok(mid_sync_plan(&bad, &cur, 0, auth, &np, &changed, &conflicts, &kept, &err) == MID_EINVAL &&
	   strstr(err.text, "on leave"), "unknown status rejected, naming the value");
	mid_person_clear(&np);

	/* delete guard */
	ok(!mid_sync_guard_trips(10, 100, 0.1, 0), "10 of 100 pass a 0.1 guard");
	ok(mid_sync_guard_trips(11, 100, 0.1, 0), "11 of 100 trip it");
	ok(!mid_sync_guard_trips(11, 100, 0.1, 11), "--allow-deletes 11 lets 11 through");
	ok(mid_sync_guard_trips(12, 100, 0.1, 11), "but not 12");
	ok(!mid_sync_guard_trips(0, 0, 0.1, 0), "nothing linked: nothing to guard");
	ok(mid_sync_guard_trips(1, 1, 0.5, 0), "the last linked person trips a 0.5 guard");

	/* times */
	int64_t ms;
	ok(mid_sync_parse_time("2027-12-31", &ms) == MID_OK && ms == 1830211200000LL, "ISO date");
	ok(mid_sync_parse_time("2027-12-31T08:30:00Z", &ms) == MID_OK && ms == 1830241800000LL,
	   "ISO date-time");
	ok(mid_sync_parse_time("31/12/2027", &ms) == MID_EINVAL, "a spreadsheet date is refused");
	{
		/* the plain-date fast path agrees with the general one (timegm) */
		static const char *const dates[] = { "1970-01-01", "1969-12-31", "2024-02-29",
		                                     "2027-02-31", "2000-03-01", "1900-03-01",
		                                     "2099-12-31", "0999-06-15" };
		int agree = 1;
		for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
			char full[32];
			int64_t fast = 1, slow = 2;
			snprintf(full, sizeof full, "%sT00:00:00Z", dates[i]);
			if (mid_sync_parse_time(dates[i], &fast) != MID_OK ||
			    mid_sync_parse_time(full, &slow) != MID_OK || fast != slow) {
				diag("%s: %lld vs %lld", dates[i], (long long)fast, (long long)slow);
				agree = 0;
			}
		}
		ok(agree, "plain dates parse as the same day at midnight");
		mid_sync_parse_time("1969-12-31", &ms);
		ok(ms == -86400000, "the day before the epoch");
		ok(mid_sync_parse_time("2027-13-01", &ms) == MID_EINVAL, "month 13 refused");
		ok(mid_sync_parse_time("2027-00-10", &ms) == MID_EINVAL, "month 0 refused");
		ok(mid_sync_parse_time("2027-01-32", &ms) == MID_EINVAL, "day 32 refused");
		ok(mid_sync_parse_time("2027-1-011", &ms) == MID_EINVAL, "misplaced dash refused");
	}
	char t[32];
	mid_sync_format_time(1830211200000LL, t);
	is_str(t, "2027-12-31", "midnight formats as a date");

	/* echo suppression: what we push hashes like what the PACS sends back */
	mid_mapper_t *m = NULL;
	mid_mapper_compile(NULL, &m, &err);
	const char *vid[] = { "E1" }, *vg[] = { "Anna" }, *ve[] = { "" }, *vs[] = { "active" };
	mid_field_t f[] = { { "employee_id", vid, 1 }, { "given_name", vg, 1 },
	                    { "email", ve, 1 }, { "status", vs, 1 } };
	mid_record_t rec = { MID_OP_UPSERT, "E1", f, 4, 1, NULL };
	mid_canon_t in;
	unsigned char h_in[MID_HASH_LEN], h_out[MID_HASH_LEN];
	mid_mapper_inbound(m, &rec, &in, &err);
	mid_canon_hash(&in, ~0u, h_in);
	mid_arena_t ar = { NULL };
	json_t *pj = json_loads("{\"id\": \"x\", \"employee_id\": \"E1\", \"given_name\": \"Anna\","
	                        "\"email\": \"\", \"status\": \"active\", \"credentials\": []}", 0, NULL);
	mid_canon_t out;
	mid_canon_from_json(pj, &ar, &out, &err);
	mid_canon_hash(&out, mid_mapper_inbound_fields(m), h_out);
	ok(memcmp(h_in, h_out, MID_HASH_LEN) == 0, "echo: the pushed person hashes like the record coming back");
	json_decref(pj);
	mid_arena_free(&ar);
	mid_mapper_free(m);

	/* a new person's attributes: the plain path writes what jansson writes */
	{
		const char *v1[] = { "x" }, *v2[] = { "a", "", "b" }, *v3[] = { "" }, *v4[] = { "y" };
		const char *q[] = { "say \"hi\"" }, *u[] = { "caf\xc3\xa9" }, *ctl[] = { "a\tb" };
		mid_attr_t plain[] = { { "zeta", { v1, 1 } }, { "alpha", { v2, 3 } }, { "empty", { v3, 1 } },
		                       { "Beta", { v4, 1 } }, { "none", { NULL, 0 } } };
		ok(attrs_same(plain, 5, "{\"Beta\":\"y\",\"alpha\":[\"a\",\"\",\"b\"],\"zeta\":\"x\"}"),
		   "attributes: plain keys and values sorted, empty ones left out, arrays kept whole");
		mid_attr_t rep[] = { { "k", { v1, 1 } }, { "k", { v4, 1 } } };
		ok(attrs_same(rep, 2, "{\"k\":\"y\"}"), "attributes: a repeated key keeps the last value");
		mid_attr_t esc[] = { { "q", { q, 1 } }, { "u", { u, 1 } }, { "c", { ctl, 1 } } };
		ok(attrs_same(esc, 3, "{\"c\":\"a\\tb\",\"q\":\"say \\\"hi\\\"\",\"u\":\"caf\xc3\xa9\"}"),
		   "attributes: quotes, non-ASCII and control characters as jansson escapes them");
	}
	return tap_done();
}
