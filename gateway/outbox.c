/* gateway/outbox.c -- queue local changes per outbound binding and push
 * them with retry (see gateway/outbox.h). */
#include <config.h>
#include "gateway/outbox.h"
#include "gateway/mapper.h"
#include "gateway/sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

void mid_backoff_default(mid_backoff_t *b)
{
	b->base_ms = 5000;
	b->cap_ms = 3600000;
	b->jitter = 0.5;
	b->max_attempts = 0;
}

int64_t mid_backoff_ms(const mid_backoff_t *b, int attempts, double rnd)
{
	mid_backoff_t d;
	if (!b) {
		mid_backoff_default(&d);
		b = &d;
	}
	if (attempts < 1)
		attempts = 1;
	double delay = (double)b->base_ms;
	for (int i = 1; i < attempts && delay < (double)b->cap_ms; i++)
		delay *= 2;
	if (delay > (double)b->cap_ms)
		delay = (double)b->cap_ms;
	double j = b->jitter < 0 ? 0 : b->jitter > 1 ? 1 : b->jitter;
	if (rnd < 0)
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999999;
	delay -= delay * j * rnd;
	return (int64_t)delay;
}

double mid_backoff_random(void)
{
	return (double)randombytes_uniform(1000000000u) / 1e9;
}

/* ---- enqueue ----------------------------------------------------------------- */

static json_t *ob_person_json(const mid_person_t *p)
{
	char vf[32], vu[32];
	json_t *o, *g, *a;
	mid_sync_format_time(p->valid_from, vf);
	mid_sync_format_time(p->valid_until, vu);
	g = json_loads(p->access_groups && *p->access_groups ? p->access_groups : "[]", 0, NULL);
	a = json_loads(p->attributes && *p->attributes ? p->attributes : "{}", 0, NULL);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id", p->id,
	              "employee_id", p->employee_id, "given_name", p->given_name,
	              "family_name", p->family_name, "email", p->email, "mobile", p->mobile,
	              "status", mid_person_status_name(p->status) ? mid_person_status_name(p->status)
	                                                         : "active",
	              "access_groups", g ? g : json_array(), "attributes", a ? a : json_object());
	if (o && vf[0])
		json_object_set_new(o, "valid_from", json_string(vf));
	if (o && vu[0])
		json_object_set_new(o, "valid_until", json_string(vu));
	return o;
}

/* The payload for (binding, person): the canonical person, the person's
 * live credentials and the external id of the binding's link. */
static int ob_payload(mid_store_t *st, const mid_config_binding_t *b, const char *person_id,
                      int op, char **out, mid_error_t *err)
{
	mid_person_t p;
	mid_credential_t *cs = NULL;
	mid_link_t *ls = NULL;
	size_t nc = 0, nl = 0;
	json_t *o = NULL, *creds;
	int rc;

	*out = NULL;
	memset(&p, 0, sizeof p);
	rc = mid_store_person_get(st, person_id, &p, err);
	if (rc == MID_ENOTFOUND && op == MID_OP_DELETE) {
		o = json_pack("{s:s}", "id", person_id);
		rc = MID_OK;
	} else if (rc) {
		return rc;
	} else {
		o = ob_person_json(&p);
		if ((rc = mid_store_credential_list(st, person_id, 0, 1000, &cs, &nc, err)))
			goto out;
		creds = json_array();
		for (size_t i = 0; i < nc; i++) {
			if (cs[i].status != MID_CRED_ACTIVE && cs[i].status != MID_CRED_PENDING)
				continue;
			json_array_append_new(creds, json_pack("{s:s, s:s, s:I, s:I, s:s}", "id", cs[i].id,
			    "format", cs[i].format, "facility_code", (json_int_t)cs[i].facility_code,
			    "card_number", (json_int_t)cs[i].card_number,
			    "status", mid_cred_status_name(cs[i].status)));
		}
		json_object_set_new(o, "credentials", creds);
	}
	if ((rc = mid_store_link_list_person(st, person_id, &ls, &nl, err)))
		goto out;
	for (size_t i = 0; i < nl; i++)
		if (strcmp(ls[i].binding, b->name) == 0)
			json_object_set_new(o, "external_id", json_string(ls[i].external_id));
	*out = json_dumps(o, JSON_COMPACT);
	if (!*out)
		rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
out:
	json_decref(o);
	mid_credential_list_free(cs, nc);
	free(ls);
	mid_person_clear(&p);
	return rc;
}

int mid_outbox_enqueue_person_binding(mid_instance_t *in, const mid_config_binding_t *b,
                                      const char *person_id, int op, mid_error_t *err)
{
	char *payload = NULL;
	int rc;
	if (op != MID_OP_UPSERT && op != MID_OP_DELETE)
		return mid_error_set(err, MID_EINVAL, 0, "outbox: op %d is not upsert or delete", op);
	if ((rc = ob_payload(in->store, b, person_id, op, &payload, err)))
		return rc;
	rc = mid_store_outbox_enqueue(in->store, b->name, person_id, op, payload, NULL, err);
	free(payload);
	return rc;
}

int mid_outbox_enqueue_person(mid_instance_t *in, const char *person_id, int op,
                              mid_error_t *err)
{
	int rc;
	if (!in || !in->store)
		return mid_error_set(err, MID_EINVAL, 0, "outbox: the instance has no store open");
	for (size_t i = 0; i < in->cfg->nbindings; i++) {
		const mid_config_binding_t *b = &in->cfg->bindings[i];
		if (!b->enabled || !(b->direction & MID_DIRECTION_OUTBOUND))
			continue;
		if ((rc = mid_outbox_enqueue_person_binding(in, b, person_id, op, err)))
			return rc;
	}
	return MID_OK;
}

/* ---- push ---------------------------------------------------------------------- */

typedef struct ob_done {
	int64_t id;
	int op;
	char person_id[MID_ID_LEN];
	char external_id[256];
	unsigned char hash[MID_HASH_LEN];   /* canon over the inbound fields: sent_hash */
	unsigned char push[MID_HASH_LEN];   /* the request (ob_push_hash): push_hash */
	char etag[128];
	int new_link;
} ob_done_t;

/* ---- the push hash ---------------------------------------------------------
 *
 * What a link's push_hash covers: exactly what the connector is given for
 * an upsert, i.e. the fields after the outbound mapping (target names, in
 * mapping order, and their values after transforms, constants included),
 * plus the connector's name and effective settings, whose templates and
 * vars shape the request (a Gallagher profile builds its PATCH from them).
 * Hashing the mapped fields rather than the canon over
 * mid_mapper_outbound_fields() makes the hash follow a changed mapping
 * (a constant, a transform, a new target) as well as changed values, and
 * it leaves out what the request never carries: the credentials' ids,
 * pending or revoked credentials, timestamps, canonical fields no rule
 * reads. The card numbers of the active Mobile IDs are in it (the payload's
 * credentials become card_number etc. in the canon, and the mapping sends
 * them). The external id is not: the hash is stored on the link of that
 * id. A change of the settings (even one that does not shape requests,
 * such as a timeout) makes every link's next push go out once: a cost
 * taken so that a changed template is never skipped. */
static int ob_settings_hash(const mid_conn_t *conn, unsigned char out[MID_HASH_LEN],
                            mid_error_t *err)
{
	crypto_generichash_state h;
	char *js = NULL;
	if (conn->eff.settings &&
	    !(js = json_dumps(conn->eff.settings, JSON_COMPACT | JSON_SORT_KEYS)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	crypto_generichash_init(&h, NULL, 0, MID_HASH_LEN);
	crypto_generichash_update(&h, (const unsigned char *)conn->eff.connector,
	                          strlen(conn->eff.connector) + 1);
	if (js)
		crypto_generichash_update(&h, (const unsigned char *)js, strlen(js));
	crypto_generichash_final(&h, out, MID_HASH_LEN);
	free(js);
	return MID_OK;
}

static void ob_h_str(crypto_generichash_state *h, const char *v)
{
	size_t l = v ? strlen(v) : 0;
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)l >> (8 * i));
	crypto_generichash_update(h, b, sizeof b);
	if (l)
		crypto_generichash_update(h, (const unsigned char *)v, l);
}

/* The push hash of an upsert of `fields` (mapped) through a connector whose
 * settings hash is `sh`. Lengths prefix every name, value and list, so no
 * two different requests serialise alike. */
static void ob_push_hash(const unsigned char sh[MID_HASH_LEN], const mid_field_t *fields,
                         size_t nf, unsigned char out[MID_HASH_LEN])
{
	static const char tag[] = "mobileid push v1";
	crypto_generichash_state h;
	char n[24];
	crypto_generichash_init(&h, NULL, 0, MID_HASH_LEN);
	crypto_generichash_update(&h, (const unsigned char *)tag, sizeof tag);
	crypto_generichash_update(&h, sh, MID_HASH_LEN);
	snprintf(n, sizeof n, "%zu", nf);
	ob_h_str(&h, n);
	for (size_t i = 0; i < nf; i++) {
		ob_h_str(&h, fields[i].name);
		snprintf(n, sizeof n, "%zu", fields[i].nvalues);
		ob_h_str(&h, n);
		for (size_t k = 0; k < fields[i].nvalues; k++)
			ob_h_str(&h, fields[i].values[k]);
	}
	crypto_generichash_final(&h, out, MID_HASH_LEN);
}

/* The people this pass pushed (person id -> last index in done; a person
 * has at most one link per binding): the store's links change only when
 * the pass commits, so a later entry for the same person compares with
 * what this pass sent (a rename and its undo queued together must both go
 * out) and uses the external id a create in this pass returned (instead of
 * creating the record twice, or skipping a delete as "never pushed").
 * Open addressing, at most half full. */
typedef struct ob_seen {
	uint32_t *slots;   /* index in done + 1; 0 = empty */
	size_t nslots;     /* a power of two */
} ob_seen_t;

static size_t ob_strhash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static void ob_seen_put(ob_seen_t *t, const ob_done_t *done, size_t i)
{
	size_t k = ob_strhash(done[i].person_id) & (t->nslots - 1);
	while (t->slots[k] && strcmp(done[t->slots[k] - 1].person_id, done[i].person_id))
		k = (k + 1) & (t->nslots - 1);
	t->slots[k] = (uint32_t)(i + 1);
}

/* Record done[ndone - 1]; MID_ENOMEM when the table cannot grow. */
static int ob_seen_add(ob_seen_t *t, const ob_done_t *done, size_t ndone)
{
	if (!done[ndone - 1].person_id[0])
		return MID_OK;
	if (2 * ndone > t->nslots) {
		size_t ns = t->nslots ? 2 * t->nslots : 128;
		uint32_t *sl;
		while (2 * ndone > ns)
			ns *= 2;
		if (ndone >= UINT32_MAX || !(sl = calloc(ns, sizeof *sl)))
			return MID_ENOMEM;
		free(t->slots);
		t->slots = sl;
		t->nslots = ns;
		for (size_t i = 0; i + 1 < ndone; i++)
			if (done[i].person_id[0])
				ob_seen_put(t, done, i);
	}
	ob_seen_put(t, done, ndone - 1);
	return MID_OK;
}

static const ob_done_t *ob_seen_find(const ob_seen_t *t, const ob_done_t *done,
                                     const char *person_id)
{
	if (!t->nslots || !person_id[0])
		return NULL;
	size_t k = ob_strhash(person_id) & (t->nslots - 1);
	for (; t->slots[k]; k = (k + 1) & (t->nslots - 1))
		if (strcmp(done[t->slots[k] - 1].person_id, person_id) == 0)
			return &done[t->slots[k] - 1];
	return NULL;
}

/* Record successful pushes: entries done, links get the sent hash and the
 * push hash (and new links their external id). One transaction. */
static int ob_commit(mid_store_t *st, const mid_config_binding_t *b, ob_done_t *d, size_t n,
                     mid_error_t *err)
{
	int rc;
	if (!n)
		return MID_OK;
	if ((rc = mid_store_begin(st, err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = mid_store_outbox_done(st, d[i].id, err)))
			goto fail;
		if (d[i].op == MID_OP_DELETE) {
			if (d[i].external_id[0] &&
			    (rc = mid_store_link_remove(st, b->name, d[i].external_id, err)) &&
			    rc != MID_ENOTFOUND)
				goto fail;
			continue;
		}
		if (!d[i].external_id[0])
			continue;
		if (d[i].new_link) {
			mid_link_t l;
			mid_person_t p;
			memset(&l, 0, sizeof l);
			memset(&p, 0, sizeof p);
			rc = mid_store_person_get(st, d[i].person_id, &p, err);
			mid_person_clear(&p);
			if (rc == MID_ENOTFOUND)
				continue;   /* purged meanwhile */
			if (rc)
				goto fail;
			snprintf(l.binding, sizeof l.binding, "%s", b->name);
			snprintf(l.external_id, sizeof l.external_id, "%s", d[i].external_id);
			memcpy(l.person_id, d[i].person_id, MID_ID_LEN);
			memcpy(l.sent_hash, d[i].hash, MID_HASH_LEN);
			l.has_sent = 1;
			memcpy(l.push_hash, d[i].push, MID_HASH_LEN);
			l.has_push = 1;
			snprintf(l.etag, sizeof l.etag, "%s", d[i].etag);
			if ((rc = mid_store_link_upsert(st, &l, err)))
				goto fail;
		} else if ((rc = mid_store_link_set_sent(st, b->name, d[i].external_id, d[i].hash,
		                                         d[i].push, d[i].etag[0] ? d[i].etag : NULL,
		                                         err)) &&
		           rc != MID_ENOTFOUND) {   /* ENOTFOUND: the link was removed meanwhile */
			goto fail;
		}
	}
	return mid_store_commit(st, err);
fail:
	mid_store_rollback(st, NULL);
	return rc;
}

/* A failed attempt: retry later or dead-letter. */
static int ob_failed(mid_store_t *st, const mid_backoff_t *bo, const mid_outbox_entry_t *e,
                     const mid_error_t *perr, int64_t now, mid_push_stats_t *stats,
                     mid_error_t *err)
{
	int attempts = e->attempts + 1;
	if (perr->retryable && (!bo->max_attempts || attempts < bo->max_attempts)) {
		stats->retry++;
		return mid_store_outbox_retry_later(st, e->id,
		                                    now + mid_backoff_ms(bo, attempts,
		                                                         mid_backoff_random()),
		                                    perr->text, err);
	}
	stats->dead++;
	return mid_store_outbox_dead(st, e->id, perr->text, err);
}

int mid_outbox_push(mid_instance_t *in, const mid_config_binding_t *b, mid_conn_t *conn,
                    const mid_backoff_t *bo, int64_t max, mid_push_stats_t *stats,
                    mid_error_t *err)
{
	mid_store_t *st = in->store;
	const mid_connector_t *d = &conn->mod->desc;
	mid_backoff_t dbo;
	mid_push_stats_t local = { 0 };
	mid_mapper_t *map = NULL;
	mid_arena_t arena = { NULL };
	ob_done_t *done = NULL;
	size_t ndone = 0, capdone = 0;
	ob_seen_t seen = { NULL, 0 };
	unsigned char shash[MID_HASH_LEN];
	int64_t count = 0, now = mid_store_now(st);
	int rc;

	if (!bo) {
		mid_backoff_default(&dbo);
		bo = &dbo;
	}
	if (!stats)
		stats = &local;
	if (!d->push)
		return mid_error_set(err, MID_ENOTSUP, 0, "binding %s: connector %s cannot push (set "
		                     "the binding's direction to inbound)", b->name, d->name);
	if ((rc = mid_mapper_compile(conn->eff.mapping, &map, err)))
		return rc;
	/* Echo suppression compares the canon over the inbound fields with the
	 * link's sent and received hashes. When the push sends card fields the
	 * inbound side does not cover (the card numbers of the person's active
	 * Mobile IDs, which a PACS keeps as cards but never sends back), an
	 * equal inbound hash proves nothing (e.g. after a revoke): such a
	 * binding skips a push only when its request would be the same as the
	 * last successful one (the link's push hash). */
	const int echo_ok = !(mid_mapper_outbound_fields(map) & ~mid_mapper_inbound_fields(map) &
	                      (1u << MID_CF_CARD_NUMBER | 1u << MID_CF_FACILITY_CODE |
	                       1u << MID_CF_CARD_FORMAT));
	if ((rc = ob_settings_hash(conn, shash, err))) {
		mid_mapper_free(map);
		return rc;
	}
	for (;;) {
		mid_outbox_entry_t e;
		mid_canon_t c;
		mid_link_t *ls = NULL;
		size_t nl = 0;
		json_t *pj = NULL;
		const mid_field_t *fields = NULL;
		size_t nf = 0;
		mid_push_result_t pres;
		mid_error_t perr = { 0 };
		ob_done_t od;
		const ob_done_t *prev;
		int has_sent = 0, has_recv = 0, has_push = 0;
		unsigned char sent[MID_HASH_LEN], recv[MID_HASH_LEN], push[MID_HASH_LEN];

		if (max > 0 && count >= max)
			break;
		memset(&e, 0, sizeof e);
		rc = mid_store_outbox_next_due(st, b->name, now, &e, err);
		if (rc == MID_ENOTFOUND) {
			rc = MID_OK;
			break;
		}
		if (rc)
			goto out;
		count++;
		memset(&od, 0, sizeof od);
		od.id = e.id;
		od.op = e.op;
		snprintf(od.person_id, sizeof od.person_id, "%s", e.person_id);
		pj = e.payload ? json_loads(e.payload, 0, NULL) : NULL;
		if (!pj) {
			mid_error_set(&perr, MID_EINVAL, 0, "the outbox payload is not JSON");
			rc = ob_failed(st, bo, &e, &perr, now, stats, err);
			goto next;
		}
		/* the binding's current link of the person, else the one at enqueue */
		if (e.person_id[0] &&
		    (rc = mid_store_link_list_person(st, e.person_id, &ls, &nl, err)))
			goto next;
		for (size_t i = 0; i < nl; i++)
			if (strcmp(ls[i].binding, b->name) == 0) {
				snprintf(od.external_id, sizeof od.external_id, "%s", ls[i].external_id);
				has_sent = ls[i].has_sent;
				has_recv = ls[i].has_recv;
				has_push = ls[i].has_push;
				memcpy(sent, ls[i].sent_hash, MID_HASH_LEN);
				memcpy(recv, ls[i].recv_hash, MID_HASH_LEN);
				memcpy(push, ls[i].push_hash, MID_HASH_LEN);
			}
		if (!od.external_id[0] && json_is_string(json_object_get(pj, "external_id")))
			snprintf(od.external_id, sizeof od.external_id, "%s",
			         json_string_value(json_object_get(pj, "external_id")));
		/* pushed earlier in this pass: the PACS has that now, whatever
		 * the store says until the pass commits */
		prev = ob_seen_find(&seen, done, od.person_id);
		if (prev && prev->external_id[0] &&
		    (!od.external_id[0] || !strcmp(prev->external_id, od.external_id))) {
			snprintf(od.external_id, sizeof od.external_id, "%s", prev->external_id);
			has_recv = 0;
			has_sent = has_push = prev->op == MID_OP_UPSERT;
			memcpy(sent, prev->hash, MID_HASH_LEN);
			memcpy(push, prev->push, MID_HASH_LEN);
		}
		if (e.op == MID_OP_DELETE && !od.external_id[0]) {
			/* the PACS never had this person: nothing to remove */
			stats->skipped++;
			rc = mid_store_outbox_done(st, e.id, err);
			goto next;
		}
		mid_arena_reset(&arena);
		if ((rc = mid_canon_from_json(pj, &arena, &c, err)))
			goto next;
		mid_canon_hash(&c, mid_mapper_inbound_fields(map), od.hash);
		/* the hash covers the inbound fields only: see echo_ok */
		if (e.op == MID_OP_UPSERT && echo_ok &&
		    ((has_sent && !memcmp(sent, od.hash, MID_HASH_LEN)) ||
		     (has_recv && !memcmp(recv, od.hash, MID_HASH_LEN)))) {
			/* echo suppression: the PACS has exactly this already */
			stats->skipped++;
			rc = mid_store_outbox_done(st, e.id, err);
			goto next;
		}
		if ((rc = mid_mapper_outbound(map, &c, &fields, &nf, &perr))) {
			rc = ob_failed(st, bo, &e, &perr, now, stats, err);
			goto next;
		}
		if (e.op == MID_OP_UPSERT) {
			ob_push_hash(shash, fields, nf, od.push);
			if (!echo_ok && has_push && !memcmp(push, od.push, MID_HASH_LEN)) {
				/* the same request as the last successful push:
				 * nothing the PACS would be told has changed */
				stats->skipped++;
				rc = mid_store_outbox_done(st, e.id, err);
				goto next;
			}
		}
		{
			mid_record_t rec = { e.op, od.external_id, e.op == MID_OP_DELETE ? NULL : fields,
			                     e.op == MID_OP_DELETE ? 0 : nf, 0, NULL };
			memset(&pres, 0, sizeof pres);
			rc = d->push(conn->inst, &rec, &pres, &perr);
		}
		if (rc) {
			if (!perr.code)
				mid_error_set(&perr, rc, 0, "push failed (%d)", rc);
			rc = ob_failed(st, bo, &e, &perr, now, stats, err);
			goto next;
		}
		if (!od.external_id[0] && pres.external_id[0]) {
			snprintf(od.external_id, sizeof od.external_id, "%s", pres.external_id);
			od.new_link = 1;
		}
		snprintf(od.etag, sizeof od.etag, "%s", pres.etag);
		if (ndone == capdone) {
			size_t nc = capdone ? capdone * 2 : 64;
			ob_done_t *nd = realloc(done, nc * sizeof *nd);
			if (!nd) {
				rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
				goto next;
			}
			done = nd;
			capdone = nc;
		}
		done[ndone++] = od;
		if (ob_seen_add(&seen, done, ndone)) {
			rc = mid_error_set(err, MID_ENOMEM, 0, "out of memory");
			goto next;
		}
		/* the entry stays pending until flush made it durable: keep it out
		 * of next_due by scheduling it a little later for now */
		rc = mid_store_outbox_retry_later(st, e.id, now + 1, NULL, err);
next:
		json_decref(pj);
		free(ls);
		mid_outbox_entry_clear(&e);
		if (rc)
			goto out;
	}
	if (ndone) {
		mid_error_t ferr = { 0 };
		if (d->flush && (rc = d->flush(conn->inst, &ferr)) != MID_OK) {
			/* nothing of this pass is durable: every entry tries again */
			for (size_t i = 0; i < ndone; i++) {
				mid_outbox_entry_t e;
				memset(&e, 0, sizeof e);
				if (mid_store_outbox_get(st, done[i].id, &e, err) == MID_OK) {
					rc = ob_failed(st, bo, &e, &ferr, now, stats, err);
					mid_outbox_entry_clear(&e);
					if (rc)
						goto out;
				}
			}
			ndone = 0;
			rc = MID_OK;
			goto out;
		}
		if ((rc = ob_commit(st, b, done, ndone, err)))
			goto out;
		stats->pushed += (int64_t)ndone;
	}
	rc = MID_OK;
out:
	free(done);
	free(seen.slots);
	mid_arena_free(&arena);
	mid_mapper_free(map);
	return rc;
}

int mid_outbox_push_binding(mid_instance_t *in, const mid_config_binding_t *b,
                            const mid_backoff_t *bo, mid_push_stats_t *stats, mid_error_t *err)
{
	mid_conn_t *conn = NULL;
	int rc = mid_conn_open(in, b, &conn, err);
	if (rc)
		return rc;
	rc = mid_outbox_push(in, b, conn, bo, 0, stats, err);
	mid_conn_close(conn);
	return rc;
}
