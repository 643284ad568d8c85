/* gateway/outbox_test.c -- unit tests of the outbox: the backoff schedule,
 * and the pusher against a fake connector (echo suppression, the push hash
 * of a binding whose outbound side sends card values). */
#include <config.h>
#include <stdlib.h>
#include "gateway/outbox.h"
#include "gateway/modhost.h"
#include "tests/instance_fixture.h"
#include "tests/tap.h"

/* ---- a fake connector: counts requests, keeps the last one ---------------- */

typedef struct fk {
	int upserts, deletes, created;
	char ext[256];
	char given[64];
	char cards[128];   /* the "cards" field's values, comma-joined */
} fk_t;

static int fk_push(void *inst, const mid_record_t *rec, mid_push_result_t *res,
                   mid_error_t *err)
{
	fk_t *f = inst;
	(void)err;
	snprintf(f->ext, sizeof f->ext, "%s", rec->external_id);
	if (rec->op == MID_OP_DELETE) {
		f->deletes++;
		return MID_OK;
	}
	f->upserts++;
	f->given[0] = f->cards[0] = 0;
	for (size_t i = 0; i < rec->nfields; i++) {
		const mid_field_t *x = &rec->fields[i];
		if (!strcmp(x->name, "first") && x->nvalues)
			snprintf(f->given, sizeof f->given, "%s", x->values[0]);
		if (!strcmp(x->name, "cards"))
			for (size_t k = 0; k < x->nvalues; k++) {
				size_t l = strlen(f->cards);
				snprintf(f->cards + l, sizeof f->cards - l, "%s%s", k ? "," : "", x->values[k]);
			}
	}
	if (!rec->external_id[0])
		snprintf(res->external_id, sizeof res->external_id, "ext-%d", ++f->created);
	return MID_OK;
}

typedef struct fx {
	mid_instance_t *in;
	mid_config_binding_t b;
	mid_module_t mod;
	mid_conn_t conn;
	fk_t fk;
	mid_push_stats_t st;
} fx_t;

static void fx_init(fx_t *x, mid_instance_t *in, const char *name, const char *mapping)
{
	memset(x, 0, sizeof *x);
	x->in = in;
	x->b.name = (char *)name;
	x->b.enabled = 1;
	x->b.direction = MID_DIRECTION_BOTH;
	x->mod.name = (char *)"fake";
	x->mod.desc.name = "fake";
	x->mod.desc.push = fk_push;
	x->conn.mod = &x->mod;
	x->conn.inst = &x->fk;
	snprintf(x->conn.eff.connector, sizeof x->conn.eff.connector, "fake");
	x->conn.eff.settings = json_pack("{s:s}", "base_url", "https://pacs.example");
	x->conn.eff.mapping = json_loads(mapping, 0, NULL);
}

static void fx_free(fx_t *x)
{
	json_decref(x->conn.eff.settings);
	json_decref(x->conn.eff.mapping);
}

static void fx_queue(fx_t *x, const char *pid, int op)
{
	mid_error_t err = { 0 };
	if (mid_outbox_enqueue_person_binding(x->in, &x->b, pid, op, &err) != MID_OK)
		diag("enqueue: %s", err.text);
}

/* One outbox pass; x->st holds this pass's counts. */
static int fx_push(fx_t *x)
{
	mid_error_t err = { 0 };
	int rc;
	memset(&x->st, 0, sizeof x->st);
	rc = mid_outbox_push(x->in, &x->b, &x->conn, NULL, 0, &x->st, &err);
	if (rc)
		diag("push: %s", err.text);
	return rc;
}

static int fx_link(fx_t *x, const char *ext, mid_link_t *l)
{
	mid_error_t err = { 0 };
	return mid_store_link_get(x->in->store, x->b.name, ext, l, &err);
}

static void set_given(mid_instance_t *in, const char *pid, const char *given, const char *mobile)
{
	mid_person_t p;
	mid_error_t err = { 0 };
	memset(&p, 0, sizeof p);
	if (mid_store_person_get(in->store, pid, &p, &err) == MID_OK) {
		if (given)
			snprintf(p.given_name, sizeof p.given_name, "%s", given);
		if (mobile)
			snprintf(p.mobile, sizeof p.mobile, "%s", mobile);
		tf_now += 1000;
		if (mid_store_person_update(in->store, &p, &err) != MID_OK)
			diag("person update: %s", err.text);
	}
	mid_person_clear(&p);
}

static void add_card(mid_instance_t *in, const char *pid, int64_t number, int status,
                     char id[MID_ID_LEN])
{
	mid_credential_t c;
	mid_error_t err = { 0 };
	memset(&c, 0, sizeof c);
	snprintf(c.person_id, sizeof c.person_id, "%s", pid);
	snprintf(c.format, sizeof c.format, "H10301");
	c.facility_code = 12;
	c.card_number = number;
	c.type = MID_CRED_REUSABLE;
	c.status = status;
	tf_now += 1000;   /* credentials are listed by creation time */
	if (mid_store_credential_create(in->store, &c, &err) != MID_OK)
		diag("credential: %s", err.text);
	memcpy(id, c.id, MID_ID_LEN);
	mid_credential_clear(&c);
}

static void set_card(mid_instance_t *in, const char *cid, int status)
{
	mid_error_t err = { 0 };
	if (mid_store_credential_set_status(in->store, cid, status, &err) != MID_OK)
		diag("credential status: %s", err.text);
}

/* A binding like the Gallagher profile: the inbound side reads the names,
 * the outbound side also sends the mobile number (outbound only) and the
 * card values of the person's active Mobile IDs, which no PACS record
 * brings back: echo suppression by the inbound hash is off, the push hash
 * decides. */
static void test_push_hash(mid_instance_t *in)
{
	static const char mapping[] =
	    "{\"inbound\": {\"given_name\": \"first\", \"family_name\": \"last\"},"
	    " \"outbound\": {\"first\": \"given_name\", \"last\": \"family_name\", \"phone\": \"mobile\","
	    "  \"cards\": \"card_number\", \"fc\": \"facility_code\", \"kind\": {\"const\": \"mobile\"}}}";
	fx_t x;
	mid_link_t l;
	mid_error_t err = { 0 };
	char pid[MID_ID_LEN], c1[MID_ID_LEN], c2[MID_ID_LEN];
	unsigned char first_push[MID_HASH_LEN];

	fx_init(&x, in, "pacs", mapping);
	tf_person(in, "Anna", pid);
	add_card(in, pid, 100, MID_CRED_ACTIVE, c1);

	fx_queue(&x, pid, MID_OP_UPSERT);
	is_int(fx_push(&x), MID_OK, "first pass runs");
	ok(x.fk.upserts == 1 && x.st.pushed == 1 && !strcmp(x.fk.ext, ""), "a new person is created");
	is_str(x.fk.cards, "100", "... with the card of the active Mobile ID");
	ok(fx_link(&x, "ext-1", &l) == MID_OK && l.has_sent && l.has_push,
	   "the new link has the sent hash and the push hash");
	memcpy(first_push, l.push_hash, MID_HASH_LEN);

	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 1 && x.st.skipped == 1 && x.st.pushed == 0,
	   "a second identical push is skipped");
	{
		int64_t pending = -1;
		mid_store_outbox_count(in->store, "pacs", MID_OUTBOX_PENDING, &pending, &err);
		is_int(pending, 0, "... and its entry done");
	}

	add_card(in, pid, 101, MID_CRED_PENDING, c2);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 1 && x.st.skipped == 1,
	   "a pending Mobile ID changes nothing the PACS is sent: skipped");

	set_card(in, c2, MID_CRED_ACTIVE);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 2 && x.st.pushed == 1, "a second active Mobile ID is pushed");
	is_str(x.fk.cards, "100,101", "... both card numbers sent");

	set_card(in, c1, MID_CRED_REVOKED);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 3 && x.st.pushed == 1 && x.st.skipped == 0,
	   "a revoke that removes a card value is pushed (the inbound hash is unchanged)");
	is_str(x.fk.cards, "101", "... without the revoked card");
	ok(fx_link(&x, "ext-1", &l) == MID_OK && l.has_push &&
	   memcmp(l.push_hash, first_push, MID_HASH_LEN) != 0, "the push hash follows the request");

	set_given(in, pid, NULL, "+6421000001");
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 4 && x.st.pushed == 1, "a changed outbound-only field (mobile) is pushed");
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 4 && x.st.skipped == 1, "... and the same again is skipped");

	/* a rename and its undo queued before one pass: the store's push hash
	 * is Anna's until the pass commits, but the PACS has Bea by then */
	set_given(in, pid, "Bea", NULL);
	fx_queue(&x, pid, MID_OP_UPSERT);
	set_given(in, pid, "Anna", NULL);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 6 && x.st.pushed == 2 && x.st.skipped == 0,
	   "a rename and its undo in one pass: both pushed");
	is_str(x.fk.given, "Anna", "... the PACS ends with the undo");
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 6 && x.st.skipped == 2, "two identical entries in one pass: both skipped");

	/* a change made in the PACS (a received hash that is not the echo of
	 * the sent one) clears the push hash: the PACS no longer holds what
	 * was pushed, so the gateway's values go out again */
	fx_link(&x, "ext-1", &l);
	l.has_recv = 1;
	memcpy(l.recv_hash, l.sent_hash, MID_HASH_LEN);
	mid_store_link_upsert(in->store, &l, &err);
	ok(fx_link(&x, "ext-1", &l) == MID_OK && l.has_push,
	   "the echo of the last push (received = sent) keeps the push hash");
	memset(l.recv_hash, 0x77, MID_HASH_LEN);
	mid_store_link_upsert(in->store, &l, &err);
	ok(fx_link(&x, "ext-1", &l) == MID_OK && !l.has_push && l.has_sent,
	   "a record received from the PACS that differs from the sent one clears the push hash");
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 7 && x.st.pushed == 1, "... and the next push goes out");
	ok(fx_link(&x, "ext-1", &l) == MID_OK && l.has_push, "... and stores it again");

	is_int(mid_store_link_set_push(in->store, "pacs", "ext-1", NULL, &err), MID_OK,
	       "clear the push hash (a link of an older store)");
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 8 && x.st.pushed == 1, "a link without a push hash is pushed");

	json_object_set_new(x.conn.eff.settings, "vars", json_pack("{s:s}", "card_type", "654"));
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 9 && x.st.pushed == 1,
	   "changed connector settings (templates, vars) push again");

	fx_queue(&x, pid, MID_OP_DELETE);
	fx_push(&x);
	ok(x.fk.deletes == 1 && x.st.pushed == 1 && x.st.skipped == 0 && !strcmp(x.fk.ext, "ext-1"),
	   "a DELETE is never skipped");
	is_int(fx_link(&x, "ext-1", &l), MID_ENOTFOUND, "... and removes the link");
	fx_free(&x);
}

/* Entries of a person created by an earlier entry of the same pass: the
 * link exists only when the pass commits, so they use the external id the
 * create returned (one record, not two; a delete removes it). */
static void test_same_pass_create(mid_instance_t *in)
{
	static const char mapping[] =
	    "{\"inbound\": {\"given_name\": \"first\"},"
	    " \"outbound\": {\"first\": \"given_name\", \"cards\": \"card_number\"}}";
	fx_t x;
	mid_link_t l;
	char pid[MID_ID_LEN], c1[MID_ID_LEN];

	fx_init(&x, in, "fresh", mapping);
	tf_person(in, "Dora", pid);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_queue(&x, pid, MID_OP_UPSERT);
	add_card(in, pid, 102, MID_CRED_ACTIVE, c1);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.created == 1 && x.fk.upserts == 2 && x.st.pushed == 2 && x.st.skipped == 1,
	   "create, the same again, a new card in one pass: one create, one skipped, one update");
	ok(!strcmp(x.fk.ext, "ext-1") && !strcmp(x.fk.cards, "102"),
	   "... the update went to the record the create made");
	ok(fx_link(&x, "ext-1", &l) == MID_OK && l.has_push, "... one link, with the push hash");
	fx_free(&x);

	fx_init(&x, in, "fresh2", mapping);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_queue(&x, pid, MID_OP_DELETE);
	fx_push(&x);
	ok(x.fk.created == 1 && x.fk.deletes == 1 && !strcmp(x.fk.ext, "ext-1"),
	   "create and delete in one pass: the delete removes the created record");
	is_int(fx_link(&x, "ext-1", &l), MID_ENOTFOUND, "... and no link is left");
	fx_free(&x);
}

/* A binding whose outbound side sends nothing the inbound hash does not
 * cover keeps echo suppression by the sent and received hashes. */
static void test_echo(mid_instance_t *in)
{
	static const char mapping[] =
	    "{\"inbound\": {\"given_name\": \"first\", \"family_name\": \"last\"},"
	    " \"outbound\": {\"first\": \"given_name\", \"last\": \"family_name\"}}";
	fx_t x;
	char pid[MID_ID_LEN];

	fx_init(&x, in, "plain", mapping);
	tf_person(in, "Carl", pid);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	is_int(x.fk.upserts, 1, "echo binding: first push");
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 1 && x.st.skipped == 1, "echo binding: equal to the sent hash, skipped");
	set_given(in, pid, "Cora", NULL);
	fx_queue(&x, pid, MID_OP_UPSERT);
	set_given(in, pid, "Carl", NULL);
	fx_queue(&x, pid, MID_OP_UPSERT);
	fx_push(&x);
	ok(x.fk.upserts == 3 && x.st.pushed == 2 && !strcmp(x.fk.given, "Carl"),
	   "echo binding: a rename and its undo in one pass are both pushed");
	fx_free(&x);
}

static void test_backoff(void)
{
	mid_backoff_t b;
	mid_backoff_default(&b);
	is_int(b.base_ms, 5000, "default base 5 s");
	is_int(b.cap_ms, 3600000, "default cap 1 h");
	b.jitter = 0;
	is_int(mid_backoff_ms(&b, 1, 0.7), 5000, "attempt 1: base");
	is_int(mid_backoff_ms(&b, 2, 0.7), 10000, "attempt 2: doubled");
	is_int(mid_backoff_ms(&b, 5, 0.7), 80000, "attempt 5: base * 16");
	is_int(mid_backoff_ms(&b, 30, 0.7), 3600000, "capped");
	is_int(mid_backoff_ms(&b, 100000, 0.7), 3600000, "no overflow for many attempts");
	b.jitter = 0.5;
	is_int(mid_backoff_ms(&b, 3, 0.0), 20000, "jitter 0.5, rnd 0: full delay");
	is_int(mid_backoff_ms(&b, 3, 0.5), 15000, "jitter 0.5, rnd 0.5: three quarters");
	ok(mid_backoff_ms(&b, 3, 0.999999) >= 10000, "never below (1 - jitter) * delay");
	b.base_ms = 100;
	b.cap_ms = 250;
	b.jitter = 0;
	is_int(mid_backoff_ms(&b, 3, 0), 250, "custom cap");
	int64_t lo = 1 << 30, hi = 0;
	mid_backoff_default(&b);
	for (int i = 0; i < 1000; i++) {
		int64_t d = mid_backoff_ms(&b, 4, mid_backoff_random());
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	ok(lo >= 20000 && hi <= 40000 && hi > lo, "random jitter stays in [d/2, d] and varies");
	is_int(mid_backoff_ms(NULL, 1, 0), 5000, "NULL means the defaults");
}

int main(void)
{
	mid_instance_t *in;

	test_backoff();
	if (!(in = tf_setup("outbox"))) {
		ok(0, "a test instance");
		return tap_done();
	}
	test_push_hash(in);
	test_echo(in);
	test_same_pass_create(in);
	mid_instance_close(in);
	{
		char cmd[600];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tf_dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tf_dir);
	}
	return tap_done();
}
