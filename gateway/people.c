/* gateway/people.c -- people managed by administrators: validation and
 * create/update/suspend/resume/delete with audit and outbox. See people.h. */
#include <config.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "gateway/people.h"
#include "gateway/issuer.h"
#include "gateway/outbox.h"

static int pp_need(mid_instance_t *in, mid_error_t *err)
{
	if (!in || !in->store)
		return mid_error_set(err, MID_EINVAL, 0, "the store is not open");
	return MID_OK;
}

static int pp_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int mid_people_validate(const mid_person_t *p, mid_error_t *err)
{
	const char *at;
	json_t *j;

	if (!p)
		return mid_error_set(err, MID_EINVAL, 0, "no person");
	if (!p->given_name[0] && !p->family_name[0])
		return mid_error_set(err, MID_EINVAL, 0, "a person needs a given or a family name");
	if (pp_has_ctl(p->given_name) || pp_has_ctl(p->family_name) || pp_has_ctl(p->employee_id))
		return mid_error_set(err, MID_EINVAL, 0, "names and employee id may not hold control "
		                     "characters");
	if (p->email[0]) {
		at = strchr(p->email, '@');
		if (!at || at == p->email || !at[1] || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
		    strpbrk(p->email, " \t<>,;\"") || pp_has_ctl(p->email))
			return mid_error_set(err, MID_EINVAL, 0, "email \"%s\" is not an address",
			                     p->email);
	}
	for (const char *m = p->mobile; *m; m++)
		if (!isdigit((unsigned char)*m) && !strchr("+ -()./", *m))
			return mid_error_set(err, MID_EINVAL, 0, "mobile \"%s\" holds a character "
			                     "that is not part of a phone number", p->mobile);
	if (p->valid_from && p->valid_until && p->valid_until < p->valid_from)
		return mid_error_set(err, MID_EINVAL, 0, "valid_until is before valid_from");
	if (p->status && !mid_person_status_name(p->status))
		return mid_error_set(err, MID_EINVAL, 0, "person status %d is not valid", p->status);
	if (p->access_groups) {
		size_t i;
		json_t *g;
		int ok = (j = json_loads(p->access_groups, 0, NULL)) && json_is_array(j);
		if (ok)
			json_array_foreach(j, i, g)
				ok = ok && json_is_string(g);
		json_decref(j);
		if (!ok)
			return mid_error_set(err, MID_EINVAL, 0, "access_groups must be a JSON array "
			                     "of strings");
	}
	if (p->attributes) {
		int ok = (j = json_loads(p->attributes, 0, NULL)) && json_is_object(j);
		json_decref(j);
		if (!ok)
			return mid_error_set(err, MID_EINVAL, 0, "attributes must be a JSON object");
	}
	return MID_OK;
}

/* MID_ECONFLICT when another person (not `self`) has the employee id or
 * the email of p. */
static int pp_unique(mid_instance_t *in, const mid_person_t *p, mid_error_t *err)
{
	char ids[2][MID_ID_LEN];
	size_t n = 0;
	int rc;

	if (p->employee_id[0]) {
		if ((rc = mid_store_person_find_employee(in->store, p->employee_id, ids, 2, &n, err)))
			return rc;
		for (size_t i = 0; i < n && i < 2; i++)
			if (strcmp(ids[i], p->id) != 0)
				return mid_error_set(err, MID_ECONFLICT, 0,
				                     "employee id \"%s\" belongs to person %s",
				                     p->employee_id, ids[i]);
	}
	if (p->email[0]) {
		if ((rc = mid_store_person_find_email(in->store, p->email, ids, 2, &n, err)))
			return rc;
		for (size_t i = 0; i < n && i < 2; i++)
			if (strcmp(ids[i], p->id) != 0)
				return mid_error_set(err, MID_ECONFLICT, 0, "email \"%s\" belongs to person %s",
				                     p->email, ids[i]);
	}
	return MID_OK;
}

static json_t *pp_detail(const mid_person_t *p)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "given_name", p->given_name, "family_name",
	                 p->family_name, "employee_id", p->employee_id, "email", p->email);
}

int mid_people_create(mid_instance_t *in, mid_person_t *p, mid_error_t *err)
{
	int rc;

	if ((rc = pp_need(in, err)) != MID_OK || (rc = mid_people_validate(p, err)) != MID_OK)
		return rc;
	if (!p->status)
		p->status = MID_PERSON_ACTIVE;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = pp_unique(in, p, err)) != MID_OK ||
	    (rc = mid_store_person_create(in->store, p, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "person.create", p->id, pp_detail(p), err)) != MID_OK ||
	    (rc = mid_outbox_enqueue_person(in, p->id, MID_OP_UPSERT, err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		return rc;
	}
	return mid_store_commit(in->store, err);
}

int mid_people_update(mid_instance_t *in, mid_person_t *p, mid_error_t *err)
{
	int rc;

	if ((rc = pp_need(in, err)) != MID_OK || (rc = mid_people_validate(p, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = pp_unique(in, p, err)) != MID_OK ||
	    (rc = mid_store_person_update(in->store, p, err)) != MID_OK ||
	    (rc = mid_instance_audit(in, "person.update", p->id, pp_detail(p), err)) != MID_OK ||
	    (rc = mid_outbox_enqueue_person(in, p->id, MID_OP_UPSERT, err)) != MID_OK) {
		mid_store_rollback(in->store, NULL);
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no person %s", p->id);
		return rc;
	}
	return mid_store_commit(in->store, err);
}

/* Apply `fn` to the credentials of person `id` in `from` states. */
static int pp_creds(mid_instance_t *in, const char *id, int action, mid_error_t *err)
{
	mid_credential_t *list = NULL;
	size_t n = 0;
	int rc;

	if ((rc = mid_store_credential_list(in->store, id, 0, 100000, &list, &n, err)) != MID_OK)
		return rc;
	for (size_t i = 0; i < n && rc == MID_OK; i++) {
		mid_credential_t *c = &list[i];
		if (action == 's' && (c->status == MID_CRED_PENDING || c->status == MID_CRED_ACTIVE)) {
			rc = mid_issuer_suspend(in, c->id, "person", err);
		} else if (action == 'r' && c->status == MID_CRED_SUSPENDED) {
			char key[MID_ID_LEN + 24], *why = NULL;
			snprintf(key, sizeof key, "cred.%s.suspended", c->id);
			if (mid_store_meta_get(in->store, key, &why, NULL) == MID_OK && why &&
			    strcmp(why, "person") == 0)
				rc = mid_issuer_resume(in, c->id, err);
			free(why);
		} else if (action == 'x' && c->status != MID_CRED_REVOKED) {
			rc = mid_issuer_revoke(in, c->id, "person deleted", err);
		}
	}
	mid_credential_list_free(list, n);
	return rc;
}

static int pp_status(mid_instance_t *in, const char *id, int to, mid_error_t *err)
{
	static const char *const actions[] = { NULL, "person.resume", "person.suspend",
		                               "person.delete" };
	mid_person_t p;
	int rc;

	memset(&p, 0, sizeof p);
	if ((rc = pp_need(in, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_person_get(in->store, id, &p, err)) != MID_OK) {
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no person %s", id);
		goto fail;
	}
	if (p.status == to) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "person %s is already %s", id,
		                   mid_person_status_name(to));
		goto fail;
	}
	if (to == MID_PERSON_ACTIVE && p.status == MID_PERSON_DELETED) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "person %s is deleted", id);
		goto fail;
	}
	if ((rc = mid_store_person_set_status(in->store, id, to, err)) != MID_OK)
		goto fail;
	if (to == MID_PERSON_SUSPENDED)
		rc = pp_creds(in, id, 's', err);
	else if (to == MID_PERSON_ACTIVE)
		rc = pp_creds(in, id, 'r', err);
	else
		rc = pp_creds(in, id, 'x', err);
	if (rc != MID_OK)
		goto fail;
	if ((rc = mid_instance_audit(in, actions[to], id,
	                             json_pack("{s:s,s:s}", "from", mid_person_status_name(p.status), "to",
	                                       mid_person_status_name(to)),
	                             err)) != MID_OK ||
	    (rc = mid_outbox_enqueue_person(in, id, MID_OP_UPSERT, err)) != MID_OK)
		goto fail;
	mid_person_clear(&p);
	return mid_store_commit(in->store, err);
fail:
	mid_store_rollback(in->store, NULL);
	mid_person_clear(&p);
	return rc;
}

int mid_people_suspend(mid_instance_t *in, const char *id, mid_error_t *err)
{
	return pp_status(in, id, MID_PERSON_SUSPENDED, err);
}

int mid_people_resume(mid_instance_t *in, const char *id, mid_error_t *err)
{
	return pp_status(in, id, MID_PERSON_ACTIVE, err);
}

int mid_people_delete(mid_instance_t *in, const char *id, int purge, mid_error_t *err)
{
	mid_person_t p;
	int rc;

	memset(&p, 0, sizeof p);
	if ((rc = pp_need(in, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_begin(in->store, err)) != MID_OK)
		return rc;
	if ((rc = mid_store_person_get(in->store, id, &p, err)) != MID_OK) {
		if (rc == MID_ENOTFOUND)
			mid_error_set(err, rc, 0, "no person %s", id);
		goto fail;
	}
	if (p.status != MID_PERSON_DELETED && (rc = pp_status(in, id, MID_PERSON_DELETED, err)) != MID_OK)
		goto fail;
	if (!purge && p.status == MID_PERSON_DELETED) {
		rc = mid_error_set(err, MID_ECONFLICT, 0, "person %s is already deleted (use purge "
		                   "to remove the record)", id);
		goto fail;
	}
	if (purge) {
		/* the PACS bindings learn of the delete before the row goes */
		if ((rc = mid_outbox_enqueue_person(in, id, MID_OP_DELETE, err)) != MID_OK ||
		    (rc = mid_store_person_purge(in->store, id, err)) != MID_OK ||
		    (rc = mid_instance_audit(in, "person.purge", id, pp_detail(&p), err)) != MID_OK)
			goto fail;
	}
	mid_person_clear(&p);
	return mid_store_commit(in->store, err);
fail:
	mid_store_rollback(in->store, NULL);
	mid_person_clear(&p);
	return rc;
}

int mid_people_resolve(mid_instance_t *in, const char *ref, char id_out[MID_ID_LEN],
                       mid_error_t *err)
{
	mid_person_t p;
	char ids[2][MID_ID_LEN];
	size_t n = 0;
	int rc;

	if ((rc = pp_need(in, err)) != MID_OK)
		return rc;
	if (!ref || !ref[0])
		return mid_error_set(err, MID_EINVAL, 0, "no person given");
	memset(&p, 0, sizeof p);
	if (strlen(ref) == MID_ID_LEN - 1 && mid_store_person_get(in->store, ref, &p, NULL) == MID_OK) {
		snprintf(id_out, MID_ID_LEN, "%s", p.id);
		mid_person_clear(&p);
		return MID_OK;
	}
	if ((rc = mid_store_person_find_employee(in->store, ref, ids, 2, &n, err)) != MID_OK)
		return rc;
	if (n == 0 && strchr(ref, '@') &&
	    (rc = mid_store_person_find_email(in->store, ref, ids, 2, &n, err)) != MID_OK)
		return rc;
	if (n == 0)
		return mid_error_set(err, MID_ENOTFOUND, 0,
		                     "no person with id, employee id or email \"%s\"", ref);
	if (n > 1)
		return mid_error_set(err, MID_ECONFLICT, 0, "\"%s\" matches %zu people: use the id",
		                     ref, n);
	memcpy(id_out, ids[0], MID_ID_LEN);
	return MID_OK;
}
