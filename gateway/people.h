/* gateway/people.h -- people managed from the CLI and the admin API:
 * validation, create, update, suspend, resume, delete, with an audit entry
 * and an outbox entry (so bindings push the change) in the same store
 * transaction.
 *
 * Suspending a person suspends their pending and active credentials;
 * resuming resumes the ones suspended that way; deleting marks the person
 * deleted and revokes every credential (purge also removes the row).
 *
 * Conventions: MID_OK or a negative MID_E* code, `err` filled (may be
 * NULL); library code never prints.
 */
#pragma once
#include "gateway/instance.h"

/* Check a person before a write: a given or family name, lengths, email
 * shape, mobile characters, valid_from <= valid_until, JSON of
 * access_groups (array of strings) and attributes (object). MID_EINVAL
 * naming the field. */
int mid_people_validate(const mid_person_t *p, mid_error_t *err);

/* Create a person (status active unless set). MID_ECONFLICT when the
 * employee id or the email is already used by another person. p->id,
 * created and updated are written back. */
int mid_people_create(mid_instance_t *in, mid_person_t *p, mid_error_t *err);

/* Replace the person p->id (every field; read it first with
 * mid_store_person_get and change what you need). Same checks as create. */
int mid_people_update(mid_instance_t *in, mid_person_t *p, mid_error_t *err);

int mid_people_suspend(mid_instance_t *in, const char *id, mid_error_t *err);
int mid_people_resume(mid_instance_t *in, const char *id, mid_error_t *err);

/* Delete: status deleted and credentials revoked; purge = 1 also removes
 * the row (credentials stay, detached, for the revocation list). */
int mid_people_delete(mid_instance_t *in, const char *id, int purge,
                      mid_error_t *err);

/* Resolve a reference given by an administrator: a person id, an employee
 * id or an email (case-folded). MID_ENOTFOUND, or MID_ECONFLICT when it
 * matches more than one person. */
int mid_people_resolve(mid_instance_t *in, const char *ref, char id_out[MID_ID_LEN],
                       mid_error_t *err);
