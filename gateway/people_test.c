/* gateway/people_test.c -- people: validation, uniqueness, suspend and
 * resume with their credentials, delete and purge, references. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

#include "tests/tap.h"
#include "tests/instance_fixture.h"
#include "gateway/instance.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/people.h"
#include "gateway/invite.h"
#include "gateway/secrets.h"



int main(void)
{
	mid_instance_t *in;
	mid_error_t err = { 0 };
	mid_person_t p, q;
	mid_issue_opts_t o;
	mid_credential_t c, g;
	char id[MID_ID_LEN], ref[MID_ID_LEN];
	int64_t n = 0;

	if (sodium_init() < 0 || !(in = tf_setup("people"))) {
		ok(0, "setup");
		return tap_done();
	}
	mid_keys_create_initial(in, &err);
	memset(&p, 0, sizeof p);
	ok(mid_people_validate(&p, &err) == MID_EINVAL, "a name is needed");
	snprintf(p.given_name, sizeof p.given_name, "Dana");
	snprintf(p.family_name, sizeof p.family_name, "Doe");
	snprintf(p.email, sizeof p.email, "not-an-address");
	ok(mid_people_validate(&p, &err) == MID_EINVAL && strstr(err.text, "email"), "bad email");
	snprintf(p.email, sizeof p.email, "Dana.Doe@example.com");
	snprintf(p.mobile, sizeof p.mobile, "+41 79 x");
	ok(mid_people_validate(&p, &err) == MID_EINVAL, "bad mobile");
	snprintf(p.mobile, sizeof p.mobile, "+41 79 000 00 00");
	snprintf(p.employee_id, sizeof p.employee_id, "E1");
	p.access_groups = strdup("[1]");
	ok(mid_people_validate(&p, &err) == MID_EINVAL, "access groups must be strings");
	free(p.access_groups);
	p.access_groups = NULL;
	ok(mid_people_create(in, &p, &err) == MID_OK, "create: %s", err.text);
	memcpy(id, p.id, MID_ID_LEN);
	memset(&q, 0, sizeof q);
	snprintf(q.given_name, sizeof q.given_name, "Eve");
	snprintf(q.email, sizeof q.email, "dana.doe@EXAMPLE.com");
	ok(mid_people_create(in, &q, &err) == MID_ECONFLICT, "email taken (case-folded): %s",
	   err.text);
	ok(mid_people_resolve(in, "E1", ref, &err) == MID_OK && !strcmp(ref, id), "by employee id");
	ok(mid_people_resolve(in, "DANA.DOE@example.com", ref, &err) == MID_OK && !strcmp(ref, id),
	   "by email");
	ok(mid_people_resolve(in, id, ref, &err) == MID_OK && !strcmp(ref, id), "by id");
	ok(mid_people_resolve(in, "nobody", ref, &err) == MID_ENOTFOUND, "unknown");

	memset(&o, 0, sizeof o);
	o.facility_code = -1;
	memset(&c, 0, sizeof c);
	ok(mid_issuer_issue(in, id, &o, &c, &err) == MID_OK, "issue");
	ok(mid_people_suspend(in, id, &err) == MID_OK, "suspend");
	memset(&g, 0, sizeof g);
	mid_store_credential_get(in->store, c.id, &g, &err);
	is_int(g.status, MID_CRED_SUSPENDED, "their credential is suspended too");
	mid_credential_clear(&g);
	ok(mid_issuer_issue(in, id, &o, &g, &err) == MID_ECONFLICT, "no issuance while suspended");
	ok(mid_issuer_resume(in, c.id, &err) == MID_ECONFLICT, "credential waits for the person");
	ok(mid_people_resume(in, id, &err) == MID_OK, "resume");
	mid_store_credential_get(in->store, c.id, &g, &err);
	is_int(g.status, MID_CRED_PENDING, "credential back to pending");
	mid_credential_clear(&g);

	mid_store_person_get(in->store, id, &q, &err);
	snprintf(q.mobile, sizeof q.mobile, "+41 79 111 11 11");
	ok(mid_people_update(in, &q, &err) == MID_OK, "update");
	mid_person_clear(&q);

	ok(mid_people_delete(in, id, 0, &err) == MID_OK, "delete");
	mid_store_credential_get(in->store, c.id, &g, &err);
	is_int(g.status, MID_CRED_REVOKED, "credentials revoked on delete");
	mid_credential_clear(&g);
	ok(mid_people_delete(in, id, 1, &err) == MID_OK, "purge: %s", err.text);
	ok(mid_store_person_get(in->store, id, &q, &err) == MID_ENOTFOUND, "row gone");
	mid_store_credential_get(in->store, c.id, &g, &err);
	ok(g.person_id[0] == 0 && g.status == MID_CRED_REVOKED, "credential stays, detached");
	mid_credential_clear(&g);
	{
		mid_audit_t *a = NULL;
		size_t na = 0;
		mid_store_audit_list(in->store, id, 0, 100, &a, &na, &err);
		ok(na >= 5, "audit entries for the person (%zu)", na);
		mid_audit_list_free(a, na);
	}
	(void)n;
	mid_credential_clear(&c);
	mid_person_clear(&p);
	mid_instance_close(in);
	{
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tf_dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tf_dir);
	}
	return tap_done();
}
