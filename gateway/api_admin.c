/* gateway/api_admin.c -- the admin API: people, credentials, invitations,
 * readers, bindings status and the audit log, behind bearer tokens that
 * `mobileidctl tokens add` creates (stored hashed). Every write goes
 * through the issuance modules (people.h, issuer.h, invite.h, keys.h), so
 * the API and the CLI audit and queue changes the same way. */
#include <config.h>
#include "gateway/api_int.h"
#include "gateway/invite.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/people.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000

int mid_api_admin_auth(mid_api_req_t *r)
{
	const char *h = mid_api_header(r, "Authorization");
	mid_admin_token_t t;
	mid_error_t err = { 0 };
	int rc;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7])
		return mid_api_problem(r, 401, "unauthenticated", "Unauthenticated",
		                       "an admin token is required (Authorization: Bearer ...)"), 1;
	h += 7;
	while (*h == ' ')
		h++;
	rc = mid_tokens_auth(&r->inst, h, &t, &err);
	if (rc == MID_EAUTH || rc == MID_ENOTFOUND)
		return mid_api_problem(r, 401, "unauthenticated", "Unauthenticated",
		                       "the admin token is not valid"), 1;
	if (rc != MID_OK)
		return mid_api_error(r, &err), 1;
	snprintf(r->auth.actor, sizeof r->auth.actor, "api:%.100s", t.name);
	snprintf(r->inst.actor, sizeof r->inst.actor, "api:%.100s", t.name);
	return 0;
}

/* ---- small helpers ----------------------------------------------------------- */

/* A non-negative integer query argument (default when absent); -1 when bad. */
static int64_t q_int(mid_api_req_t *r, const char *name, int64_t def, int64_t max)
{
	const char *s = mid_api_query(r, name);
	char *end = NULL;
	long long v;
	if (!s)
		return def;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > max)
		return -1;
	return v;
}

/* An optional body: NULL and no response when empty, else as mid_api_body
 * (*bad = 1 when the response is already set). */
static json_t *opt_body(mid_api_req_t *r, int *bad)
{
	json_t *j;
	*bad = 0;
	if (r->body_len == 0)
		return NULL;
	j = mid_api_body(r);
	if (!j)
		*bad = 1;
	return j;
}

/* A time field: integer ms since the epoch or a date string. */
static int get_time(mid_api_req_t *r, json_t *obj, const char *key, int end_of_day, int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	mid_error_t err = { 0 };
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		if (mid_issuer_parse_date(json_string_value(v), end_of_day, out, &err) == MID_OK)
			return 0;
		return mid_api_problem(r, 400, "invalid-body", "Invalid body", "%s: %s", key, err.text), -1;
	}
	return mid_api_problem(r, 400, "invalid-body", "Invalid body",
	                       "%s must be ms since the epoch or \"YYYY-MM-DD\"", key), -1;
}

/* Refuse keys not in `allowed` (NULL-terminated). */
static int only_keys(mid_api_req_t *r, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (!allowed[i])
			return mid_api_problem(r, 400, "invalid-body", "Invalid body", "unknown key \"%s\"", k), -1;
	}
	return 0;
}

/* An optional body that may hold only the string member `key`: *body
 * (released by the caller, may be NULL) and *val (NULL when absent).
 * -1 when the response is already set (bad body, other key, not a string). */
static int opt_body_string(mid_api_req_t *r, const char *key, json_t **body, const char **val)
{
	const char *const keys[] = { key, NULL };
	int bad = 0;
	json_t *v;

	*val = NULL;
	if (!(*body = opt_body(r, &bad)))
		return bad ? -1 : 0;
	if (only_keys(r, *body, keys))
		return -1;
	v = json_object_get(*body, key);
	if (v && !json_is_string(v))
		return mid_api_problem(r, 400, "invalid-body", "Invalid body", "%s must be a string", key),
		       -1;
	*val = v ? json_string_value(v) : NULL;
	return 0;
}

static int resolve_person(mid_api_req_t *r, const char *ref, char id[MID_ID_LEN])
{
	mid_error_t err = { 0 };
	if (mid_people_resolve(&r->inst, ref, id, &err) != MID_OK)
		return mid_api_error(r, &err), -1;
	return 0;
}

/* ---- people ------------------------------------------------------------------- */

static json_t *person_json(const mid_person_t *p)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", p->id,
	                      "employee_id", p->employee_id, "given_name", p->given_name,
	                      "family_name", p->family_name, "email", p->email, "mobile", p->mobile,
	                      "status", mid_person_status_name(p->status) ? mid_person_status_name(p->status) : "unknown",
	                      "valid_from", (json_int_t)p->valid_from, "valid_until",
	                      (json_int_t)p->valid_until, "created", (json_int_t)p->created,
	                      "updated", (json_int_t)p->updated);
	json_t *g = p->access_groups ? json_loads(p->access_groups, 0, NULL) : NULL;
	json_t *a = p->attributes ? json_loads(p->attributes, 0, NULL) : NULL;
	if (!j) {
		json_decref(g);
		json_decref(a);
		return NULL;
	}
	json_object_set_new(j, "access_groups", g ? g : json_array());
	json_object_set_new(j, "attributes", a ? a : json_object());
	return j;
}

static const char *const person_keys[] = { "employee_id", "given_name", "family_name", "email",
	                                   "mobile", "status", "valid_from", "valid_until",
	                                   "access_groups", "attributes", NULL };

/* Apply the fields present in `b` to *p. */
static int person_apply(mid_api_req_t *r, json_t *b, mid_person_t *p)
{
	static const struct { const char *key; size_t off, size; } strs[] = {
		{ "employee_id", offsetof(mid_person_t, employee_id), sizeof ((mid_person_t *)0)->employee_id },
		{ "given_name", offsetof(mid_person_t, given_name), sizeof ((mid_person_t *)0)->given_name },
		{ "family_name", offsetof(mid_person_t, family_name), sizeof ((mid_person_t *)0)->family_name },
		{ "email", offsetof(mid_person_t, email), sizeof ((mid_person_t *)0)->email },
		{ "mobile", offsetof(mid_person_t, mobile), sizeof ((mid_person_t *)0)->mobile },
	};
	json_t *v;
	size_t i;

	if (only_keys(r, b, person_keys))
		return -1;
	for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		v = json_object_get(b, strs[i].key);
		if (!v)
			continue;
		if (!json_is_string(v) || json_string_length(v) >= strs[i].size)
			return mid_api_problem(r, 400, "invalid-body", "Invalid body",
			                       "%s must be a string of at most %zu bytes", strs[i].key,
			                       strs[i].size - 1), -1;
		memcpy((char *)p + strs[i].off, json_string_value(v), json_string_length(v) + 1);
	}
	if ((v = json_object_get(b, "status"))) {
		int s = json_is_string(v) ? mid_person_status_parse(json_string_value(v)) : -1;
		if (s < 0)
			return mid_api_problem(r, 400, "invalid-body", "Invalid body",
			                       "status must be \"active\", \"suspended\" or \"deleted\""), -1;
		p->status = s;
	}
	if (get_time(r, b, "valid_from", 0, &p->valid_from) || get_time(r, b, "valid_until", 1, &p->valid_until))
		return -1;
	if ((v = json_object_get(b, "access_groups"))) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			return mid_api_problem(r, 500, "internal", "Internal error", "out of memory"), -1;
		free(p->access_groups);
		p->access_groups = s;
	}
	if ((v = json_object_get(b, "attributes"))) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			return mid_api_problem(r, 500, "internal", "Internal error", "out of memory"), -1;
		free(p->attributes);
		p->attributes = s;
	}
	return 0;
}

int mid_api_h_people_list(mid_api_req_t *r)
{
	const char *st = mid_api_query(r, "status");
	int status = 0;
	int64_t off = q_int(r, "offset", 0, INT64_MAX), lim = q_int(r, "limit", LIST_DEFAULT, LIST_MAX);
	mid_person_t *list = NULL;
	size_t n = 0, i;
	mid_error_t err = { 0 };
	json_t *arr;

	if (st && (status = mid_person_status_parse(st)) < 0)
		return mid_api_problem(r, 400, "invalid-request", "Invalid request", "unknown status \"%s\"", st);
	if (off < 0 || lim < 0)
		return mid_api_problem(r, 400, "invalid-request", "Invalid request",
		                       "offset and limit must be integers (limit at most %d)", LIST_MAX);
	if (mid_store_person_list(r->inst.store, status, off, lim, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, person_json(&list[i]));
	mid_person_list_free(list, n);
	return mid_api_json(r, 200, json_pack("{s:o, s:I, s:I}", "people", arr, "offset", (json_int_t)off,
	                                      "limit", (json_int_t)lim));
}

int mid_api_h_people_create(mid_api_req_t *r)
{
	json_t *b = mid_api_body(r);
	mid_person_t p;
	mid_error_t err = { 0 };

	if (!b)
		return 0;
	memset(&p, 0, sizeof p);
	p.status = MID_PERSON_ACTIVE;
	if (person_apply(r, b, &p) == 0) {
		if (mid_people_create(&r->inst, &p, &err) != MID_OK)
			mid_api_error(r, &err);
		else
			mid_api_json(r, 201, person_json(&p));
	}
	mid_person_clear(&p);
	json_decref(b);
	return 0;
}

int mid_api_h_people_get(mid_api_req_t *r)
{
	char id[MID_ID_LEN];
	mid_person_t p;
	mid_error_t err = { 0 };
	if (resolve_person(r, r->params[0], id))
		return 0;
	memset(&p, 0, sizeof p);
	if (mid_store_person_get(r->inst.store, id, &p, &err) != MID_OK)
		return mid_api_error(r, &err);
	mid_api_json(r, 200, person_json(&p));
	mid_person_clear(&p);
	return 0;
}

int mid_api_h_people_update(mid_api_req_t *r)
{
	char id[MID_ID_LEN];
	json_t *b;
	mid_person_t p;
	mid_error_t err = { 0 };

	if (resolve_person(r, r->params[0], id))
		return 0;
	if (!(b = mid_api_body(r)))
		return 0;
	memset(&p, 0, sizeof p);
	if (mid_store_person_get(r->inst.store, id, &p, &err) != MID_OK)
		mid_api_error(r, &err);
	else if (person_apply(r, b, &p) == 0) {
		if (mid_people_update(&r->inst, &p, &err) != MID_OK)
			mid_api_error(r, &err);
		else
			mid_api_json(r, 200, person_json(&p));
	}
	mid_person_clear(&p);
	json_decref(b);
	return 0;
}

static int person_action(mid_api_req_t *r, int (*fn)(mid_instance_t *, const char *, mid_error_t *))
{
	char id[MID_ID_LEN];
	mid_person_t p;
	mid_error_t err = { 0 };
	if (resolve_person(r, r->params[0], id))
		return 0;
	if (fn(&r->inst, id, &err) != MID_OK)
		return mid_api_error(r, &err);
	memset(&p, 0, sizeof p);
	if (mid_store_person_get(r->inst.store, id, &p, &err) != MID_OK)
		return mid_api_error(r, &err);
	mid_api_json(r, 200, person_json(&p));
	mid_person_clear(&p);
	return 0;
}

int mid_api_h_people_suspend(mid_api_req_t *r)
{
	return person_action(r, mid_people_suspend);
}

int mid_api_h_people_resume(mid_api_req_t *r)
{
	return person_action(r, mid_people_resume);
}

int mid_api_h_people_delete(mid_api_req_t *r)
{
	char id[MID_ID_LEN];
	const char *purge = mid_api_query(r, "purge");
	mid_error_t err = { 0 };
	if (resolve_person(r, r->params[0], id))
		return 0;
	if (mid_people_delete(&r->inst, id, purge && strcmp(purge, "true") == 0, &err) != MID_OK)
		return mid_api_error(r, &err);
	return mid_api_json(r, 200, json_pack("{s:s, s:b}", "id", id, "purged",
	                                      purge && strcmp(purge, "true") == 0));
}

/* ---- credentials --------------------------------------------------------------- */

static json_t *cred_json(const mid_credential_t *c)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:I}", "id", c->id,
	                 "person_id", c->person_id, "format", c->format, "facility_code",
	                 (json_int_t)c->facility_code, "card_number", (json_int_t)c->card_number,
	                 "type", mid_cred_type_name(c->type) ? mid_cred_type_name(c->type) : "unknown",
	                 "status", mid_cred_status_name(c->status) ? mid_cred_status_name(c->status) : "unknown",
	                 "valid_from", (json_int_t)c->valid_from, "valid_until", (json_int_t)c->valid_until,
	                 "device_id", c->device_id, "issuer_key_id", c->issuer_key_id,
	                 "created", (json_int_t)c->created, "updated", (json_int_t)c->updated);
}

int mid_api_h_cred_list(mid_api_req_t *r)
{
	const char *person = mid_api_query(r, "person");
	char id[MID_ID_LEN];
	int64_t off = q_int(r, "offset", 0, INT64_MAX), lim = q_int(r, "limit", LIST_DEFAULT, LIST_MAX);
	mid_credential_t *list = NULL;
	size_t n = 0, i;
	mid_error_t err = { 0 };
	json_t *arr;

	if (off < 0 || lim < 0)
		return mid_api_problem(r, 400, "invalid-request", "Invalid request",
		                       "offset and limit must be integers (limit at most %d)", LIST_MAX);
	if (person && resolve_person(r, person, id))
		return 0;
	if (mid_store_credential_list(r->inst.store, person ? id : NULL, off, lim, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, cred_json(&list[i]));
	mid_credential_list_free(list, n);
	return mid_api_json(r, 200, json_pack("{s:o}", "credentials", arr));
}

int mid_api_h_cred_issue(mid_api_req_t *r)
{
	static const char *const keys[] = { "person", "format", "facility_code", "card_number", "type",
		                            "valid_from", "valid_until", "invite", NULL };
	json_t *b = mid_api_body(r), *v, *resp;
	mid_issue_opts_t o;
	mid_credential_t c;
	mid_error_t err = { 0 };
	char pid[MID_ID_LEN], code[MID_INVITE_CODE_BUF];
	const char *invite = NULL;

	if (!b)
		return 0;
	memset(&o, 0, sizeof o);
	memset(&c, 0, sizeof c);
	o.facility_code = -1;
	if (only_keys(r, b, keys))
		goto out;
	v = json_object_get(b, "person");
	if (!json_is_string(v)) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body",
		                "person (an id, employee id or email) is required");
		goto out;
	}
	if (resolve_person(r, json_string_value(v), pid))
		goto out;
	if ((v = json_object_get(b, "format"))) {
		if (!json_is_string(v)) {
			mid_api_problem(r, 400, "invalid-body", "Invalid body", "format must be a string");
			goto out;
		}
		o.format = json_string_value(v);
	}
	if ((v = json_object_get(b, "facility_code"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			mid_api_problem(r, 400, "invalid-body", "Invalid body", "facility_code must be a non-negative integer");
			goto out;
		}
		o.facility_code = json_integer_value(v);
	}
	if ((v = json_object_get(b, "card_number"))) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			mid_api_problem(r, 400, "invalid-body", "Invalid body", "card_number must be a positive integer");
			goto out;
		}
		o.card_number = json_integer_value(v);
	}
	if ((v = json_object_get(b, "type"))) {
		o.type = json_is_string(v) ? mid_cred_type_parse(json_string_value(v)) : -1;
		if (o.type < 0) {
			mid_api_problem(r, 400, "invalid-body", "Invalid body",
			                "type must be \"reusable\" or \"single-issue\"");
			goto out;
		}
	}
	if (get_time(r, b, "valid_from", 0, &o.valid_from) || get_time(r, b, "valid_until", 1, &o.valid_until))
		goto out;
	if ((v = json_object_get(b, "invite"))) {
		invite = json_is_string(v) ? json_string_value(v) : "";
		if (strcmp(invite, "email") != 0 && strcmp(invite, "shown") != 0) {
			mid_api_problem(r, 400, "invalid-body", "Invalid body", "invite must be \"email\" or \"shown\"");
			goto out;
		}
	}
	if (mid_issuer_issue(&r->inst, pid, &o, &c, &err) != MID_OK) {
		mid_api_error(r, &err);
		goto out;
	}
	resp = json_pack("{s:o}", "credential", cred_json(&c));
	if (invite) {
		mid_invitation_t inv;
		memset(&inv, 0, sizeof inv);
		if (mid_invite_create(&r->inst, pid, c.id, invite, code, &inv, &err) != MID_OK) {
			json_decref(resp);
			mid_api_error(r, &err);
			goto out;
		}
		json_object_set_new(resp, "invitation",
		                    json_pack("{s:s, s:s, s:I}", "id", inv.id, "delivery", inv.delivery,
		                              "expires", (json_int_t)inv.expires));
		if (strcmp(invite, "shown") == 0)
			json_object_set_new(json_object_get(resp, "invitation"), "code", json_string(code));
		memset(code, 0, sizeof code);
	}
	mid_api_json(r, 201, resp);
out:
	mid_credential_clear(&c);
	json_decref(b);
	return 0;
}

int mid_api_h_cred_get(mid_api_req_t *r)
{
	mid_credential_t c;
	mid_error_t err = { 0 };
	memset(&c, 0, sizeof c);
	if (mid_store_credential_get(r->inst.store, r->params[0], &c, &err) != MID_OK)
		return mid_api_error(r, &err);
	mid_api_json(r, 200, cred_json(&c));
	mid_credential_clear(&c);
	return 0;
}

static int cred_action(mid_api_req_t *r, int which)
{
	int rc;
	json_t *b;
	const char *reason;
	mid_error_t err = { 0 };
	mid_credential_t c;

	if (opt_body_string(r, "reason", &b, &reason))
		goto out;
	if (which == 0)
		rc = mid_issuer_revoke(&r->inst, r->params[0], reason, &err);
	else if (which == 1)
		rc = mid_issuer_suspend(&r->inst, r->params[0], reason, &err);
	else
		rc = mid_issuer_resume(&r->inst, r->params[0], &err);
	if (rc != MID_OK) {
		mid_api_error(r, &err);
		goto out;
	}
	memset(&c, 0, sizeof c);
	if (mid_store_credential_get(r->inst.store, r->params[0], &c, &err) != MID_OK)
		mid_api_error(r, &err);
	else
		mid_api_json(r, 200, cred_json(&c));
	mid_credential_clear(&c);
out:
	json_decref(b);
	return 0;
}

int mid_api_h_cred_revoke(mid_api_req_t *r)
{
	return cred_action(r, 0);
}

int mid_api_h_cred_suspend(mid_api_req_t *r)
{
	return cred_action(r, 1);
}

int mid_api_h_cred_resume(mid_api_req_t *r)
{
	return cred_action(r, 2);
}

/* ---- invitations ------------------------------------------------------------------ */

static json_t *inv_json(const mid_invitation_t *i)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:i, s:s, s:I, s:s}", "id", i->id, "person_id",
	                 i->person_id, "credential_id", i->credential_id, "expires",
	                 (json_int_t)i->expires, "used", (json_int_t)(i->used > 0 ? i->used : 0),
	                 "attempts", i->attempts, "delivery", i->delivery, "created",
	                 (json_int_t)i->created, "state",
	                 i->used > 0 ? "used" : i->used < 0 ? "invalidated"
	                 : i->expires <= mid_api_now_ms() ? "expired" : "open");
}

int mid_api_h_inv_list(mid_api_req_t *r)
{
	const char *person = mid_api_query(r, "person");
	char id[MID_ID_LEN];
	mid_invitation_t *list = NULL;
	size_t n = 0, i;
	mid_error_t err = { 0 };
	json_t *arr;

	if (person && resolve_person(r, person, id))
		return 0;
	if (mid_store_invitation_list(r->inst.store, person ? id : NULL, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, inv_json(&list[i]));
	free(list);
	return mid_api_json(r, 200, json_pack("{s:o}", "invitations", arr));
}

static int inv_answer(mid_api_req_t *r, int status, const mid_invitation_t *inv, const char *code)
{
	json_t *j = inv_json(inv);
	if (j && strcmp(inv->delivery, "shown") == 0)
		json_object_set_new(j, "code", json_string(code));
	return mid_api_json(r, status, j);
}

int mid_api_h_inv_create(mid_api_req_t *r)
{
	static const char *const keys[] = { "person", "credential", "delivery", NULL };
	const char *person = NULL, *cred = NULL, *delivery = "email";
	json_t *b = mid_api_body(r);
	json_error_t je;
	char pid[MID_ID_LEN], code[MID_INVITE_CODE_BUF];
	mid_invitation_t inv;
	mid_error_t err = { 0 };

	if (!b)
		return 0;
	if (only_keys(r, b, keys))
		goto out;
	if (json_unpack_ex(b, &je, 0, "{s:s, s?:s, s?:s}", "person", &person, "credential", &cred,
	                   "delivery", &delivery) != 0) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body", "%s", je.text);
		goto out;
	}
	if (resolve_person(r, person, pid))
		goto out;
	memset(&inv, 0, sizeof inv);
	if (mid_invite_create(&r->inst, pid, cred, delivery, code, &inv, &err) != MID_OK) {
		mid_api_error(r, &err);
		goto out;
	}
	inv_answer(r, 201, &inv, code);
	memset(code, 0, sizeof code);
out:
	json_decref(b);
	return 0;
}

int mid_api_h_inv_resend(mid_api_req_t *r)
{
	json_t *b;
	const char *delivery;
	char code[MID_INVITE_CODE_BUF];
	mid_invitation_t inv;
	mid_error_t err = { 0 };

	if (opt_body_string(r, "delivery", &b, &delivery))
		goto out;
	memset(&inv, 0, sizeof inv);
	if (mid_invite_resend(&r->inst, r->params[0], delivery, code, &inv, &err) != MID_OK) {
		mid_api_error(r, &err);
		goto out;
	}
	inv_answer(r, 201, &inv, code);
	memset(code, 0, sizeof code);
out:
	json_decref(b);
	return 0;
}

/* ---- readers ------------------------------------------------------------------------ */

int mid_api_h_readers_list(mid_api_req_t *r)
{
	mid_reader_t *list = NULL;
	size_t n = 0, i;
	mid_error_t err = { 0 };
	json_t *arr;

	if (mid_store_reader_list(r->inst.store, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "id", list[i].id, "name",
		                                     list[i].name, "created", (json_int_t)list[i].created));
	free(list);
	return mid_api_json(r, 200, json_pack("{s:o}", "readers", arr));
}

int mid_api_h_readers_add(mid_api_req_t *r)
{
	const char *name = NULL;
	json_t *b = mid_api_body(r);
	json_error_t je;
	char token[MID_TOKEN_TEXT_LEN];
	mid_reader_t rd;
	mid_error_t err = { 0 };

	if (!b)
		return 0;
	if (json_unpack_ex(b, &je, JSON_STRICT, "{s:s}", "name", &name) != 0) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body", "expected {\"name\"}: %s", je.text);
		goto out;
	}
	memset(&rd, 0, sizeof rd);
	if (mid_readers_add(&r->inst, name, token, &rd, &err) != MID_OK) {
		mid_api_error(r, &err);
		goto out;
	}
	mid_api_json(r, 201, json_pack("{s:s, s:s, s:s, s:I}", "id", rd.id, "name", rd.name, "token",
	                               token, "created", (json_int_t)rd.created));
	memset(token, 0, sizeof token);
out:
	json_decref(b);
	return 0;
}

/* ---- bindings status and audit --------------------------------------------------------- */

int mid_api_h_bindings_status(mid_api_req_t *r)
{
	const mid_config_t *cfg = r->inst.cfg;
	json_t *arr = json_array();
	mid_error_t err = { 0 };
	size_t i;

	for (i = 0; i < cfg->nbindings; i++) {
		const mid_config_binding_t *b = &cfg->bindings[i];
		mid_run_t *runs = NULL;
		size_t nr = 0;
		int64_t pending = 0, dead = 0;
		json_t *j, *last = json_null();

		if (mid_store_outbox_count(r->inst.store, b->name, MID_OUTBOX_PENDING, &pending, &err) != MID_OK ||
		    mid_store_outbox_count(r->inst.store, b->name, MID_OUTBOX_DEAD, &dead, &err) != MID_OK ||
		    mid_store_run_list(r->inst.store, b->name, 1, &runs, &nr, &err) != MID_OK) {
			json_decref(arr);
			return mid_api_error(r, &err);
		}
		if (nr) {
			const mid_run_t *x = &runs[0];
			last = json_pack("{s:I, s:s, s:I, s:I, s:b, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
			                 "id", (json_int_t)x->id,
			                 "status", mid_run_status_name(x->status) ? mid_run_status_name(x->status) : "unknown",
			                 "started", (json_int_t)x->started, "finished", (json_int_t)x->finished,
			                 "dry_run", x->dry_run, "message", x->message, "counts",
			                 "seen", (json_int_t)x->counts.seen, "created", (json_int_t)x->counts.created,
			                 "updated", (json_int_t)x->counts.updated,
			                 "unchanged", (json_int_t)x->counts.unchanged,
			                 "suspended", (json_int_t)x->counts.suspended,
			                 "pushed", (json_int_t)x->counts.pushed, "failed", (json_int_t)x->counts.failed,
			                 "disputed", (json_int_t)x->counts.disputed,
			                 "rejected", (json_int_t)x->counts.rejected);
		}
		free(runs);
		j = json_pack("{s:s, s:s, s:s, s:b, s:{s:I, s:I}, s:o}", "name", b->name, "connector",
		              b->connector ? b->connector : "", "plugin", b->plugin ? b->plugin : "",
		              "enabled", b->enabled, "outbox", "pending", (json_int_t)pending, "dead",
		              (json_int_t)dead, "last_run", last ? last : json_null());
		json_array_append_new(arr, j);
	}
	return mid_api_json(r, 200, json_pack("{s:o}", "bindings", arr));
}

int mid_api_h_audit_list(mid_api_req_t *r)
{
	const char *subject = mid_api_query(r, "subject");
	int64_t before = q_int(r, "before", 0, INT64_MAX), lim = q_int(r, "limit", LIST_DEFAULT, LIST_MAX);
	mid_audit_t *list = NULL;
	size_t n = 0, i;
	mid_error_t err = { 0 };
	json_t *arr;

	if (before < 0 || lim < 0)
		return mid_api_problem(r, 400, "invalid-request", "Invalid request",
		                       "before and limit must be integers (limit at most %d)", LIST_MAX);
	if (mid_store_audit_list(r->inst.store, subject, before, lim, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	arr = json_array();
	for (i = 0; i < n; i++) {
		json_t *d = list[i].detail ? json_loads(list[i].detail, 0, NULL) : NULL;
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:o}", "id",
		                                     (json_int_t)list[i].id, "time", (json_int_t)list[i].time,
		                                     "actor", list[i].actor, "action", list[i].action,
		                                     "subject", list[i].subject, "detail",
		                                     d ? d : json_null()));
	}
	mid_audit_list_free(list, n);
	return mid_api_json(r, 200, json_pack("{s:o}", "audit", arr));
}
