/* gateway/store_test.c -- unit tests of the store (TAP). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>

#include "tests/tap.h"
#include "gateway/store.h"
#include "gateway/store_int.h" /* statement texts for the plan check */

static char dir[] = "/tmp/mid_store_test.XXXXXX";
static int64_t fake_now = 1700000000000LL;

static int64_t test_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static char *path_in(const char *name)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

static void raw_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) == SQLITE_OK)
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
}

static void write_file(const char *path, const char *content, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, content, n) < 0)
			diag("write failed");
		close(fd);
	}
}

static void test_open(void)
{
	mid_store_t *st = NULL;
	mid_error_t err = { 0 };
	struct stat sb;
	char junk[4096];
	const char *p = path_in("a.db");

	is_int(mid_store_open(p, 0, &st, &err), MID_ENOTFOUND, "missing store without CREATE");
	ok(strstr(err.text, p) && strstr(err.text, "mobileidctl init"), "message names file and fix: %s", err.text);
	ok(access(p, F_OK) != 0, "nothing created without CREATE");

	is_int(mid_store_open(p, MID_STORE_CREATE, &st, &err), MID_OK, "create fresh store");
	is_int(mid_store_schema_version(st), MID_STORE_SCHEMA_VERSION, "fresh store at current version");
	mid_store_close(st);
	st = NULL;
	memset(&sb, 0, sizeof sb);
	if (stat(p, &sb) != 0)
		diag("stat %s failed", p);
	ok((sb.st_mode & 0777) == 0600, "store file mode 0600 (%o)", (unsigned)(sb.st_mode & 0777));

	is_int(mid_store_open(p, 0, &st, &err), MID_OK, "re-open existing store");
	is_int(mid_store_schema_version(st), MID_STORE_SCHEMA_VERSION, "version unchanged on re-open");
	mid_store_close(st);
	st = NULL;
	is_int(mid_store_open(p, MID_STORE_READONLY, &st, &err), MID_OK, "read-only open");
	mid_store_close(st);
	st = NULL;

	raw_sql(p, "INSERT INTO schema_version VALUES (99, 'future', 0)");
	is_int(mid_store_open(p, 0, &st, &err), MID_ECONFLICT, "newer store refused");
	snprintf(junk, sizeof junk, "knows versions up to %d", MID_STORE_SCHEMA_VERSION);
	ok(strstr(err.text, "99") && strstr(err.text, junk) && strstr(err.text, p),
	   "message names both versions: %s", err.text);
	ok(st == NULL, "no handle on refusal");

	p = path_in("corrupt.db");
	memset(junk, 'x', sizeof junk);
	write_file(p, junk, sizeof junk);
	is_int(mid_store_open(p, 0, &st, &err), MID_EIO, "non-SQLite file refused");
	ok(strstr(err.text, p) && strstr(err.text, "backup") && !strchr(err.text, '\n'),
	   "one line naming file and fix: %s", err.text);
	is_int(mid_store_open(p, MID_STORE_CREATE, &st, &err), MID_EIO, "... also with CREATE");

	/* a real SQLite file whose pages are damaged */
	p = path_in("damaged.db");
	{
		mid_store_t *t = NULL;
		mid_person_t pe = { .status = MID_PERSON_ACTIVE };
		int i, fd;
		mid_store_open(p, MID_STORE_CREATE, &t, &err);
		for (i = 0; i < 200; i++) {
			memset(pe.id, 0, sizeof pe.id);
			snprintf(pe.given_name, sizeof pe.given_name, "person %d", i);
			mid_store_person_create(t, &pe, &err);
		}
		mid_store_close(t);
		raw_sql(p, "PRAGMA wal_checkpoint(TRUNCATE)");
		fd = open(p, O_WRONLY);
		if (fd >= 0) {
			if (pwrite(fd, junk, sizeof junk, 4096) < 0 || pwrite(fd, junk, sizeof junk, 8192) < 0 ||
			    pwrite(fd, junk, 100, 0) < 0)
				diag("pwrite failed");
			close(fd);
		}
		is_int(mid_store_open(p, 0, &t, &err) < 0, 1, "damaged store refused");
		ok(strstr(err.text, p) != NULL, "message names the file: %s", err.text);
	}

	p = path_in("empty.db");
	write_file(p, "", 0);
	ok(mid_store_open(p, 0, &st, &err) < 0 && strstr(err.text, p), "empty file without CREATE: %s", err.text);
	is_int(mid_store_open(p, MID_STORE_CREATE, &st, &err), MID_OK, "empty file with CREATE becomes a store");
	mid_store_close(st);
	st = NULL;

	p = path_in("other.db");
	raw_sql(p, "CREATE TABLE foo (x)");
	is_int(mid_store_open(p, MID_STORE_CREATE, &st, &err), MID_EINVAL, "other SQLite database refused");
	ok(strstr(err.text, "not a mobileid store") != NULL, "says so: %s", err.text);
}

static mid_store_t *open_test(const char *name)
{
	mid_store_t *st = NULL;
	mid_error_t err;
	if (mid_store_open(path_in(name), MID_STORE_CREATE, &st, &err) != MID_OK) {
		diag("open %s: %s", name, err.text);
		exit(1);
	}
	mid_store_set_clock(st, test_clock, NULL);
	return st;
}

static void test_people(mid_store_t *st)
{
	mid_error_t err;
	mid_person_t p = { 0 }, g = { 0 }, *list = NULL;
	char ids[4][MID_ID_LEN];
	size_t n = 0;
	int64_t count = -1;
	int i;

	snprintf(p.employee_id, sizeof p.employee_id, "E100");
	snprintf(p.given_name, sizeof p.given_name, "Ada");
	snprintf(p.family_name, sizeof p.family_name, "Lovelace");
	snprintf(p.email, sizeof p.email, "  Ada.Lovelace@Example.COM ");
	p.status = MID_PERSON_ACTIVE;
	p.access_groups = strdup("[\"lab\"]");
	is_int(mid_store_person_create(st, &p, &err), MID_OK, "person create");
	is_int(strlen(p.id), 36, "uuid assigned");
	is_int(p.created, fake_now, "created from the store clock");
	is_int(mid_store_person_create(st, &p, &err), MID_ECONFLICT, "duplicate id refused");

	is_int(mid_store_person_get(st, p.id, &g, &err), MID_OK, "person get");
	is_str(g.family_name, "Lovelace", "family name round trip");
	is_str(g.access_groups, "[\"lab\"]", "access groups round trip");
	is_str(g.attributes, "{}", "attributes default {}");
	mid_person_clear(&g);

	is_int(mid_store_person_find_employee(st, "E100", ids, 4, &n, &err), MID_OK, "find by employee id");
	ok(n == 1 && strcmp(ids[0], p.id) == 0, "one match, the right one");
	mid_store_person_find_employee(st, "", ids, 4, &n, &err);
	is_int(n, 0, "empty employee id matches nothing");
	is_int(mid_store_person_find_email(st, "ada.lovelace@example.com", ids, 4, &n, &err), MID_OK, "find by email");
	is_int(n, 1, "email matched case-folded");

	snprintf(p.given_name, sizeof p.given_name, "Augusta Ada");
	fake_now += 1000;
	is_int(mid_store_person_update(st, &p, &err), MID_OK, "person update");
	mid_store_person_get(st, p.id, &g, &err);
	is_str(g.given_name, "Augusta Ada", "update stored");
	is_int(g.updated, fake_now, "updated time");
	mid_person_clear(&g);

	is_int(mid_store_person_set_status(st, p.id, MID_PERSON_SUSPENDED, &err), MID_OK, "set status");
	is_int(mid_store_person_set_status(st, "nope", MID_PERSON_SUSPENDED, &err), MID_ENOTFOUND, "set status on unknown id");
	is_int(mid_store_person_get(st, "nope", &g, &err), MID_ENOTFOUND, "get unknown person");

	for (i = 0; i < 5; i++) {
		mid_person_t q = { .status = MID_PERSON_ACTIVE };
		snprintf(q.email, sizeof q.email, "ADA.lovelace@example.com");
		mid_store_person_create(st, &q, &err);
		mid_person_clear(&q);
	}
	mid_store_person_find_email(st, "Ada.Lovelace@example.com", ids, 4, &n, &err);
	is_int(n, 6, "several matches counted beyond max (dispute)");
	mid_store_person_count(st, 0, &count, &err);
	is_int(count, 6, "count all");
	mid_store_person_count(st, MID_PERSON_SUSPENDED, &count, &err);
	is_int(count, 1, "count suspended");
	is_int(mid_store_person_list(st, 0, 2, 3, &list, &n, &err), MID_OK, "list with paging");
	is_int(n, 3, "page size");
	mid_person_list_free(list, n);
	mid_store_person_list(st, MID_PERSON_SUSPENDED, 0, 0, &list, &n, &err);
	ok(n == 1 && strcmp(list[0].id, p.id) == 0, "list by status");
	mid_person_list_free(list, n);

	{
		mid_person_t big = { .status = MID_PERSON_ACTIVE };
		memset(big.email, 'a', sizeof big.email - 1);
		ok(mid_store_person_create(st, &big, &err) == MID_OK, "email at full length accepted");
		big.status = 42;
		is_int(mid_store_person_update(st, &big, &err), MID_EINVAL, "bad status refused");
	}
	mid_person_clear(&p);
}

static void mkperson(mid_store_t *st, char id[MID_ID_LEN])
{
	mid_person_t p = { .status = MID_PERSON_ACTIVE };
	mid_error_t err;
	mid_store_person_create(st, &p, &err);
	memcpy(id, p.id, MID_ID_LEN);
}

static void test_credentials(mid_store_t *st)
{
	mid_error_t err;
	mid_credential_t c = { 0 }, g = { 0 }, *list = NULL;
	mid_device_t d = { 0 }, dg;
	char pid[MID_ID_LEN], (*rev)[MID_ID_LEN] = NULL;
	size_t n = 0;
	int taken = -1;
	int64_t next = 0;

	mkperson(st, pid);
	memcpy(c.person_id, pid, MID_ID_LEN);
	snprintf(c.format, sizeof c.format, "H10301");
	c.facility_code = 12;
	c.card_number = 100;
	c.type = MID_CRED_REUSABLE;
	c.status = MID_CRED_PENDING;
	is_int(mid_store_credential_create(st, &c, &err), MID_OK, "credential create");
	{
		mid_credential_t dup = c;
		dup.id[0] = '\0';
		dup.blob = NULL;
		is_int(mid_store_credential_create(st, &dup, &err), MID_ECONFLICT, "same value refused");
		ok(strstr(err.text, c.id) != NULL, "names the holder: %s", err.text);
	}
	is_int(mid_store_pacs_value_add(st, "acme", "H10301", 12, 101, &err), MID_OK, "known PACS value added");
	is_int(mid_store_pacs_value_add(st, "acme", "H10301", 12, 101, &err), MID_OK, "... idempotent");
	mid_store_pacs_value_add(st, "acme", "H10301", 12, 103, &err);
	{
		mid_credential_t dup = c;
		dup.id[0] = '\0';
		dup.card_number = 101;
		is_int(mid_store_credential_create(st, &dup, &err), MID_ECONFLICT, "PACS value refused");
		ok(strstr(err.text, "acme") != NULL, "names the binding: %s", err.text);
	}
	mid_store_value_taken(st, "H10301", 12, 100, &taken, &err);
	is_int(taken, 1, "credential value taken");
	mid_store_value_taken(st, "H10301", 12, 101, &taken, &err);
	is_int(taken, 1, "PACS value taken");
	mid_store_value_taken(st, "H10301", 12, 102, &taken, &err);
	is_int(taken, 0, "free value not taken");
	mid_store_value_taken(st, "H10301", 13, 100, &taken, &err);
	is_int(taken, 0, "other facility code free");
	is_int(mid_store_value_next_free(st, "H10301", 12, 100, 200, &next, &err), MID_OK, "next free");
	is_int(next, 102, "skips credential and PACS values");
	mid_store_value_next_free(st, "H10301", 12, 50, 200, &next, &err);
	is_int(next, 50, "start of range when free");
	is_int(mid_store_value_next_free(st, "H10301", 12, 100, 101, &next, &err), MID_ELIMIT, "full range");

	snprintf(d.platform, sizeof d.platform, "sim");
	memset(d.public_key, 7, sizeof d.public_key);
	is_int(mid_store_device_create(st, &d, &err), MID_OK, "device create");
	is_int(mid_store_device_create(st, &(mid_device_t){ .public_key = { 7, 7 } }, &err), MID_OK, "other key ok");
	{
		mid_device_t d2 = d;
		d2.id[0] = '\0';
		is_int(mid_store_device_create(st, &d2, &err), MID_ECONFLICT, "same public key refused");
	}
	is_int(mid_store_device_find_key(st, d.public_key, &dg, &err), MID_OK, "device by key");
	is_str(dg.id, d.id, "right device");
	mid_store_device_touch(st, d.id, 5, &err);
	mid_store_device_get(st, d.id, &dg, &err);
	is_int(dg.last_seen, 5, "device touched");

	memcpy(c.device_id, d.id, MID_ID_LEN);
	c.status = MID_CRED_ACTIVE;
	c.blob = malloc(3);
	memcpy(c.blob, "abc", 3);
	c.blob_len = 3;
	snprintf(c.issuer_key_id, sizeof c.issuer_key_id, "k1");
	is_int(mid_store_credential_update(st, &c, &err), MID_OK, "credential update");
	is_int(mid_store_credential_get(st, c.id, &g, &err), MID_OK, "credential get");
	ok(g.blob_len == 3 && memcmp(g.blob, "abc", 3) == 0, "blob round trip");
	is_str(g.device_id, d.id, "device bound");
	is_int(g.status, MID_CRED_ACTIVE, "status active");
	is_int(g.type, MID_CRED_REUSABLE, "type");
	mid_credential_clear(&g);
	mid_store_credential_list_device(st, d.id, &list, &n, &err);
	is_int(n, 1, "list by device");
	mid_credential_list_free(list, n);
	mid_store_credential_list(st, pid, 0, 0, &list, &n, &err);
	is_int(n, 1, "list by person");
	mid_credential_list_free(list, n);

	is_int(mid_store_credential_set_status(st, c.id, MID_CRED_REVOKED, &err), MID_OK, "revoke");
	mid_store_credential_revoked_ids(st, fake_now, &rev, &n, &err);
	ok(n == 1 && strcmp(rev[0], c.id) == 0, "revoked ids list");
	free(rev);

	/* purge keeps the credential for the revocation list */
	is_int(mid_store_person_purge(st, pid, &err), MID_OK, "purge person");
	mid_store_credential_get(st, c.id, &g, &err);
	is_str(g.person_id, "", "credential kept, person cleared");
	mid_credential_clear(&g);
	mid_credential_clear(&c);

	mid_store_pacs_value_remove(st, "acme", "H10301", 12, 101, &err);
	mid_store_value_taken(st, "H10301", 12, 101, &taken, &err);
	is_int(taken, 0, "PACS value removed");
	mid_store_pacs_value_clear(st, "acme", &err);
	mid_store_value_taken(st, "H10301", 12, 103, &taken, &err);
	is_int(taken, 0, "PACS values cleared");
}

static void test_invitations_keys_readers(mid_store_t *st)
{
	mid_error_t err;
	mid_invitation_t inv = { 0 }, g, *list = NULL;
	mid_issuer_key_t k = { 0 }, kg, *keys = NULL;
	mid_reader_t r = { 0 }, rg, *readers = NULL;
	mid_admin_token_t t = { 0 }, tg, *tokens = NULL;
	char pid[MID_ID_LEN];
	size_t n;
	int attempts = 0;

	mkperson(st, pid);
	memcpy(inv.person_id, pid, MID_ID_LEN);
	memset(inv.code_hash, 1, MID_HASH_LEN);
	inv.expires = fake_now + 1000;
	is_int(mid_store_invitation_create(st, &inv, &err), MID_OK, "invitation create");
	is_int(mid_store_invitation_find_code(st, inv.code_hash, &g, &err), MID_OK, "find by code hash");
	is_str(g.id, inv.id, "right invitation");
	is_str(g.delivery, "shown", "default delivery");
	mid_store_invitation_attempt(st, inv.id, &attempts, &err);
	mid_store_invitation_attempt(st, inv.id, &attempts, &err);
	is_int(attempts, 2, "attempts counted");
	is_int(mid_store_invitation_use(st, inv.id, fake_now + 2000, &err), MID_ELIMIT, "expired code refused");
	is_int(mid_store_invitation_use(st, inv.id, fake_now, &err), MID_OK, "code used");
	is_int(mid_store_invitation_use(st, inv.id, fake_now, &err), MID_ECONFLICT, "second use refused");

	inv.id[0] = '\0';
	memset(inv.code_hash, 2, MID_HASH_LEN);
	mid_store_invitation_create(st, &inv, &err);
	is_int(mid_store_invitation_invalidate_person(st, pid, &err), MID_OK, "invalidate person's codes");
	is_int(mid_store_invitation_use(st, inv.id, fake_now, &err), MID_ECONFLICT, "invalidated code refused");
	is_int(mid_store_invitation_list(st, pid, &list, &n, &err), MID_OK, "invitation list");
	is_int(n, 2, "two invitations");
	free(list);

	snprintf(k.key_id, sizeof k.key_id, "k1");
	k.state = MID_KEY_CURRENT;
	k.secret_enc = malloc(4);
	memcpy(k.secret_enc, "sec!", 4);
	k.secret_enc_len = 4;
	memset(k.public_key, 9, MID_PUBKEY_LEN);
	is_int(mid_store_issuer_key_add(st, &k, &err), MID_OK, "issuer key add");
	is_int(mid_store_issuer_key_add(st, &k, &err), MID_ECONFLICT, "duplicate key id");
	mid_issuer_key_clear(&k);
	snprintf(k.key_id, sizeof k.key_id, "k2");
	k.state = MID_KEY_NEXT;
	mid_store_issuer_key_add(st, &k, &err);
	is_int(mid_store_issuer_key_get_state(st, MID_KEY_CURRENT, &kg, &err), MID_OK, "current key");
	ok(strcmp(kg.key_id, "k1") == 0 && kg.secret_enc_len == 4 && memcmp(kg.secret_enc, "sec!", 4) == 0,
	   "current key fields");
	mid_issuer_key_clear(&kg);
	mid_store_issuer_key_set_state(st, "k1", MID_KEY_RETIRED, &err);
	mid_store_issuer_key_set_state(st, "k2", MID_KEY_CURRENT, &err);
	mid_store_issuer_key_get_state(st, MID_KEY_CURRENT, &kg, &err);
	is_str(kg.key_id, "k2", "rotation");
	mid_issuer_key_clear(&kg);
	is_int(mid_store_issuer_key_get(st, "k1", &kg, &err), MID_OK, "get by id");
	is_int(kg.state, MID_KEY_RETIRED, "retired");
	mid_issuer_key_clear(&kg);
	mid_store_issuer_key_list(st, &keys, &n, &err);
	is_int(n, 2, "key list");
	mid_issuer_key_list_free(keys, n);

	snprintf(r.name, sizeof r.name, "front door");
	memset(r.token_hash, 3, MID_HASH_LEN);
	is_int(mid_store_reader_add(st, &r, &err), MID_OK, "reader add");
	is_int(mid_store_reader_find_token(st, r.token_hash, &rg, &err), MID_OK, "reader by token");
	is_str(rg.name, "front door", "reader name");
	memset(r.token_hash, 4, MID_HASH_LEN);
	mid_store_reader_set_token(st, r.id, r.token_hash, &err);
	is_int(mid_store_reader_find_token(st, r.token_hash, &rg, &err), MID_OK, "new token works");
	memset(r.token_hash, 3, MID_HASH_LEN);
	is_int(mid_store_reader_find_token(st, r.token_hash, &rg, &err), MID_ENOTFOUND, "old token gone");
	mid_store_reader_list(st, &readers, &n, &err);
	is_int(n, 1, "reader list");
	free(readers);
	is_int(mid_store_reader_remove(st, r.id, &err), MID_OK, "reader remove");
	is_int(mid_store_reader_get(st, r.id, &rg, &err), MID_ENOTFOUND, "reader gone");

	memset(t.hash, 5, MID_HASH_LEN);
	snprintf(t.name, sizeof t.name, "ops");
	is_int(mid_store_token_add(st, &t, &err), MID_OK, "token add");
	memset(t.hash, 6, MID_HASH_LEN);
	is_int(mid_store_token_add(st, &t, &err), MID_ECONFLICT, "token name unique");
	memset(t.hash, 5, MID_HASH_LEN);
	is_int(mid_store_token_find(st, t.hash, &tg, &err), MID_OK, "token find");
	is_str(tg.name, "ops", "token name");
	mid_store_token_list(st, &tokens, &n, &err);
	is_int(n, 1, "token list");
	free(tokens);
	is_int(mid_store_token_remove(st, "ops", &err), MID_OK, "token remove");
	is_int(mid_store_token_find(st, t.hash, &tg, &err), MID_ENOTFOUND, "token gone");
}

static int each_count(void *ctx, int64_t id, const char *ext, const char *person,
                      const unsigned char *hash)
{
	static char last[256];
	int *c = ctx;
	(void)id; (void)person; (void)hash;
	if (*c > 0 && strcmp(last, ext) >= 0)
		return -100;
	snprintf(last, sizeof last, "%s", ext);
	(*c)++;
	return 0;
}

static void test_links(mid_store_t *st)
{
	mid_error_t err;
	mid_link_t l = { 0 }, g, *list = NULL;
	char pid[MID_ID_LEN], got[MID_ID_LEN];
	unsigned char h[MID_HASH_LEN];
	int found = -1, i, count = 0;
	int64_t cand = -1, total = -1, lid = 0;
	size_t n;

	mkperson(st, pid);
	for (i = 0; i < 10; i++) {
		memset(&l, 0, sizeof l);
		snprintf(l.binding, sizeof l.binding, "acme");
		snprintf(l.external_id, sizeof l.external_id, "x%02d", 9 - i);
		memcpy(l.person_id, pid, MID_ID_LEN);
		memset(l.recv_hash, i, MID_HASH_LEN);
		l.has_recv = 1;
		l.seen_run = 1;
		if (mid_store_link_upsert(st, &l, &err) != MID_OK)
			diag("upsert: %s", err.text);
	}
	ok(l.id > 0, "link id assigned");
	is_int(mid_store_link_lookup(st, "acme", "x05", &found, got, h, &lid, &err), MID_OK, "lookup");
	ok(found && strcmp(got, pid) == 0 && h[0] == 4 && lid > 0, "lookup gives person and hash");
	mid_store_link_lookup(st, "acme", "nope", &found, got, h, NULL, &err);
	is_int(found, 0, "lookup of unknown link");
	mid_store_link_lookup(st, "other", "x05", &found, NULL, NULL, NULL, &err);
	is_int(found, 0, "links are per binding");

	memset(l.recv_hash, 0x55, MID_HASH_LEN);
	lid = l.id;
	mid_store_link_upsert(st, &l, &err);
	is_int(l.id, lid, "upsert keeps the id");
	mid_store_link_get(st, "acme", l.external_id, &g, &err);
	ok(g.recv_hash[0] == 0x55 && g.has_recv && !g.has_sent, "upsert replaced the hash");

	memset(h, 0x66, sizeof h);
	{
		unsigned char ph[MID_HASH_LEN];
		memset(ph, 0x67, sizeof ph);
		is_int(mid_store_link_set_sent(st, "acme", "x00", h, ph, "v2", &err), MID_OK,
		       "set sent hash");
		mid_store_link_get(st, "acme", "x00", &g, &err);
		ok(g.has_sent && g.sent_hash[0] == 0x66 && strcmp(g.etag, "v2") == 0,
		   "sent hash and etag");
		ok(g.has_push && g.push_hash[0] == 0x67, "... and the push hash, in the same update");
		is_int(mid_store_link_set_sent(st, "acme", "x00", h, NULL, NULL, &err), MID_OK,
		       "set sent hash without a push hash");
		mid_store_link_get(st, "acme", "x00", &g, &err);
		ok(!g.has_push && strcmp(g.etag, "v2") == 0, "push hash cleared, etag kept");
	}

	for (i = 0; i < 7; i++) {
		char ext[8];
		snprintf(ext, sizeof ext, "x%02d", i);
		mid_store_link_mark_seen(st, "acme", ext, 2, &err);
	}
	mid_store_link_sweep_count(st, "acme", 2, &cand, &total, &err);
	ok(cand == 3 && total == 10, "sweep count (3 of 10)");
	{
		int64_t nl = -1;
		int64_t nb = -1;
		is_int(mid_store_link_count(st, "acme", &nl, &nb, &err), MID_OK, "link count");
		ok(nl == 10 && nb == 30, "... of the binding: 10, 30 bytes of ids");
		mid_store_link_count(st, "none", &nl, &nb, &err);
		ok(nl == 0 && nb == 0, "... 0 for a binding without links");
	}
	mid_store_link_sweep_list(st, "acme", 2, 0, 2, &list, &n, &err);
	is_int(n, 2, "sweep list paged");
	{
		int64_t after = list[1].id;
		free(list);
		mid_store_link_sweep_list(st, "acme", 2, after, 10, &list, &n, &err);
		is_int(n, 1, "sweep list next page");
		free(list);
	}
	mid_store_link_sweep_count(st, "none", 2, &cand, &total, &err);
	ok(cand == 0 && total == 0, "sweep count of empty binding");
	is_int(mid_store_link_each(st, "acme", each_count, &count, &err), MID_OK, "each");
	is_int(count, 10, "each saw every link in external_id order");
	mid_store_link_list_person(st, pid, &list, &n, &err);
	is_int(n, 10, "links of a person");
	free(list);
	is_int(mid_store_link_remove(st, "acme", "x09", &err), MID_OK, "link remove");
	is_int(mid_store_link_get(st, "acme", "x09", &g, &err), MID_ENOTFOUND, "link gone");
	mid_store_person_purge(st, pid, &err);
	mid_store_link_sweep_count(st, "acme", 2, &cand, &total, &err);
	is_int(total, 0, "purge removes links");
}

static void test_sync_tables(mid_store_t *st)
{
	mid_error_t err;
	mid_outbox_entry_t e, *list = NULL;
	mid_run_t r, *runs = NULL;
	mid_audit_t *audit = NULL;
	char *cur = NULL, *v = NULL;
	int64_t id1 = 0, id2 = 0, cnt = 0, rid = 0;
	mid_run_counts_t rc = { .seen = 10, .created = 3, .unchanged = 7, .rejected = 1 };
	size_t n;
	int i, fresh = -1;

	is_int(mid_store_cursor_get(st, "acme", &cur, &err), MID_OK, "no cursor yet");
	ok(cur == NULL, "cursor NULL");
	mid_store_cursor_set(st, "acme", "c1", &err);
	mid_store_cursor_set(st, "acme", "c2", &err);
	mid_store_cursor_get(st, "acme", &cur, &err);
	is_str(cur, "c2", "cursor set and replaced");
	free(cur);
	mid_store_cursor_set(st, "acme", NULL, &err);
	mid_store_cursor_get(st, "acme", &cur, &err);
	ok(cur == NULL, "cursor forgotten");

	is_int(mid_store_outbox_enqueue(st, "acme", "p1", MID_OP_UPSERT, "{\"a\":1}", &id1, &err), MID_OK, "enqueue");
	fake_now += 10;
	mid_store_outbox_enqueue(st, "acme", "p2", MID_OP_DELETE, NULL, &id2, &err);
	is_int(mid_store_outbox_enqueue(st, "acme", "p2", 99, NULL, NULL, &err), MID_EINVAL, "bad op refused");
	is_int(mid_store_outbox_next_due(st, "acme", fake_now, &e, &err), MID_OK, "next due");
	ok(e.id == id1 && strcmp(e.payload, "{\"a\":1}") == 0 && e.op == MID_OP_UPSERT, "oldest first");
	mid_outbox_entry_clear(&e);
	mid_store_outbox_retry_later(st, id1, fake_now + 5000, "timeout", &err);
	mid_store_outbox_next_due(st, "acme", fake_now, &e, &err);
	is_int(e.id, id2, "retried entry waits");
	mid_outbox_entry_clear(&e);
	mid_store_outbox_dead(st, id2, "400 bad request", &err);
	is_int(mid_store_outbox_next_due(st, "acme", fake_now, &e, &err), MID_ENOTFOUND, "nothing due");
	mid_store_outbox_next_due(st, "acme", fake_now + 5000, &e, &err);
	ok(e.id == id1 && e.attempts == 1 && strcmp(e.last_error, "timeout") == 0, "due after backoff");
	mid_outbox_entry_clear(&e);
	mid_store_outbox_count(st, "acme", MID_OUTBOX_DEAD, &cnt, &err);
	is_int(cnt, 1, "one dead");
	mid_store_outbox_list(st, NULL, MID_OUTBOX_DEAD, 0, 0, &list, &n, &err);
	ok(n == 1 && list[0].id == id2 && strcmp(list[0].last_error, "400 bad request") == 0, "dead list");
	mid_outbox_list_free(list, n);
	is_int(mid_store_outbox_replay(st, "acme", 0, &cnt, &err), MID_OK, "replay");
	is_int(cnt, 1, "one replayed");
	mid_store_outbox_get(st, id2, &e, &err);
	ok(e.state == MID_OUTBOX_PENDING && e.attempts == 0, "pending again");
	mid_outbox_entry_clear(&e);
	mid_store_outbox_done(st, id1, &err);
	mid_store_outbox_done(st, id2, &err);
	mid_store_outbox_count(st, NULL, MID_OUTBOX_PENDING, &cnt, &err);
	is_int(cnt, 0, "all done");
	mid_store_outbox_purge_done(st, fake_now + 1, &err);
	mid_store_outbox_count(st, NULL, 0, &cnt, &err);
	is_int(cnt, 0, "done purged");

	for (i = 0; i < 5; i++) {
		mid_store_run_start(st, "acme", fake_now + i, i == 4, &rid, &err);
		mid_store_run_finish(st, rid, fake_now + i + 1, MID_RUN_OK, &rc, "fine", 3, &err);
	}
	mid_store_run_start(st, "other", fake_now, 0, &rid, &err);
	mid_store_run_list(st, "acme", 10, &runs, &n, &err);
	is_int(n, 3, "only the last 3 runs kept");
	ok(n == 3 && runs[0].dry_run == 1 && runs[0].counts.seen == 10 && runs[0].counts.rejected == 1 &&
	   strcmp(runs[0].message, "fine") == 0, "newest first with counts");
	free(runs);
	is_int(mid_store_run_get(st, rid, &r, &err), MID_OK, "run get");
	ok(r.status == MID_RUN_RUNNING && r.finished == 0, "running run");
	is_int(mid_store_run_finish(st, 424242, 1, MID_RUN_OK, NULL, NULL, 3, &err), MID_ENOTFOUND, "finish unknown run");

	mid_store_audit_append(st, "cli:root", "person.create", "p1", "{\"x\":1}", &id1, &err);
	mid_store_audit_append(st, "sync:acme", "conflict", "p2", NULL, &id2, &err);
	mid_store_audit_append(st, "sync:acme", "conflict", "p1", NULL, NULL, &err);
	mid_store_audit_list(st, "p1", 0, 10, &audit, &n, &err);
	ok(n == 2 && strcmp(audit[1].detail, "{\"x\":1}") == 0 && audit[0].detail == NULL, "audit by subject, newest first");
	mid_audit_list_free(audit, n);
	mid_store_audit_list(st, NULL, id2, 10, &audit, &n, &err);
	ok(n == 1 && audit[0].id == id1, "audit paging");
	mid_audit_list_free(audit, n);

	is_int(mid_store_meta_get(st, "site_id", &v, &err), MID_ENOTFOUND, "meta unset");
	mid_store_meta_set(st, "site_id", "s1", &err);
	mid_store_meta_set(st, "site_id", "s2", &err);
	mid_store_meta_get(st, "site_id", &v, &err);
	is_str(v, "s2", "meta set/replace");
	free(v);

	mid_store_nonce_use(st, "dev1", "n1", fake_now + 100, &fresh, &err);
	is_int(fresh, 1, "nonce fresh");
	mid_store_nonce_use(st, "dev1", "n1", fake_now + 100, &fresh, &err);
	is_int(fresh, 0, "nonce replay detected");
	mid_store_nonce_use(st, "dev2", "n1", fake_now + 100, &fresh, &err);
	is_int(fresh, 1, "nonces scoped");
	fake_now += 200;
	mid_store_nonce_use(st, "dev1", "n1", fake_now + 100, &fresh, &err);
	is_int(fresh, 1, "expired nonce reusable");
}

static void test_txn(mid_store_t *st)
{
	mid_error_t err;
	mid_person_t p = { .status = MID_PERSON_ACTIVE }, g;
	mid_link_t l = { 0 };
	char *cur = NULL;
	int64_t before = 0, after = 0;

	mid_store_person_count(st, 0, &before, &err);
	is_int(mid_store_begin(st, &err), MID_OK, "begin");
	mid_store_person_create(st, &p, &err);
	snprintf(l.binding, sizeof l.binding, "tx");
	snprintf(l.external_id, sizeof l.external_id, "e1");
	memcpy(l.person_id, p.id, MID_ID_LEN);
	mid_store_link_upsert(st, &l, &err);
	mid_store_cursor_set(st, "tx", "cur", &err);
	mid_store_outbox_enqueue(st, "tx", p.id, MID_OP_UPSERT, "{}", NULL, &err);
	is_int(mid_store_txn_depth(st), 1, "depth 1");
	is_int(mid_store_rollback(st, &err), MID_OK, "rollback");
	mid_store_person_count(st, 0, &after, &err);
	is_int(after, before, "rollback left no person");
	is_int(mid_store_link_get(st, "tx", "e1", &l, &err), MID_ENOTFOUND, "... no link");
	mid_store_cursor_get(st, "tx", &cur, &err);
	ok(cur == NULL, "... no cursor");
	{
		int64_t c = -1;
		mid_store_outbox_count(st, "tx", 0, &c, &err);
		is_int(c, 0, "... no outbox entry");
	}

	mid_store_begin(st, &err);
	p.id[0] = '\0';
	mid_store_person_create(st, &p, &err);
	mid_store_begin(st, &err);
	is_int(mid_store_txn_depth(st), 2, "nested depth 2");
	mid_store_cursor_set(st, "tx", "inner", &err);
	mid_store_rollback(st, &err);
	is_int(mid_store_commit(st, &err), MID_OK, "outer commit");
	is_int(mid_store_person_get(st, p.id, &g, &err), MID_OK, "outer work kept");
	mid_person_clear(&g);
	mid_store_cursor_get(st, "tx", &cur, &err);
	ok(cur == NULL, "inner savepoint rolled back");
	is_int(mid_store_commit(st, &err), MID_EINVAL, "commit without begin");
}

static void test_leases(void)
{
	mid_error_t err;
	mid_store_t *a = open_test("lease.db"), *b = open_test("lease.db");
	char other[128];
	int64_t exp = 0;
	int got = -1, i, winners = 0;

	is_int(mid_store_lease_acquire(a, "binding:acme", "A", 1000, &got, other, &exp, &err), MID_OK, "A acquires");
	is_int(got, 1, "A holds");
	mid_store_lease_acquire(b, "binding:acme", "B", 1000, &got, other, &exp, &err);
	ok(got == 0 && strcmp(other, "A") == 0 && exp == fake_now + 1000, "B refused, sees holder A");
	mid_store_lease_acquire(a, "binding:acme", "A", 1000, &got, NULL, NULL, &err);
	is_int(got, 1, "A re-acquires its own lease");
	is_int(mid_store_lease_renew(a, "binding:acme", "A", 2000, &err), MID_OK, "A renews");
	is_int(mid_store_lease_renew(b, "binding:acme", "B", 2000, &err), MID_ECONFLICT, "B cannot renew");
	fake_now += 2001;
	mid_store_lease_acquire(b, "binding:acme", "B", 1000, &got, NULL, NULL, &err);
	is_int(got, 1, "B takes an expired lease");
	is_int(mid_store_lease_renew(a, "binding:acme", "A", 2000, &err), MID_ECONFLICT, "A lost it");
	mid_store_lease_release(a, "binding:acme", "A", &err);
	mid_store_lease_acquire(a, "binding:acme", "A", 1000, &got, NULL, NULL, &err);
	is_int(got, 0, "A's release does not free B's lease");
	mid_store_lease_release(b, "binding:acme", "B", &err);
	mid_store_lease_acquire(a, "binding:acme", "A", 1000, &got, NULL, NULL, &err);
	is_int(got, 1, "free after release");
	mid_store_lease_release(a, "binding:acme", "A", &err);
	mid_store_close(a);
	mid_store_close(b);

	/* Across processes: 6 children race for one lease; exactly one wins.
	 * Results come back through a pipe (exit codes are not reliable under
	 * valgrind --error-exitcode). */
	{
		int pfd[2], rfd[2];
		pid_t pids[6];
		char go, res;
		if (pipe(pfd) != 0 || pipe(rfd) != 0)
			diag("pipe");
		for (i = 0; i < 6; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				mid_store_t *c = NULL;
				char holder[16];
				int won = 0;
				close(pfd[1]);
				close(rfd[0]);
				if (read(pfd[0], &go, 1) < 0)
					_exit(3);
				res = 'E';
				if (mid_store_open(path_in("lease.db"), 0, &c, &err) == MID_OK) {
					snprintf(holder, sizeof holder, "child%d", i);
					if (mid_store_lease_acquire(c, "race", holder, 60000, &won, NULL,
					                            NULL, &err) == MID_OK)
						res = won ? 'W' : 'L';
					mid_store_close(c);
				}
				if (write(rfd[1], &res, 1) != 1)
					_exit(3);
				_exit(0);
			}
		}
		close(pfd[0]);
		close(rfd[1]);
		close(pfd[1]); /* EOF releases every child at once */
		while (read(rfd[0], &res, 1) == 1) {
			if (res == 'W')
				winners++;
			else if (res != 'L')
				diag("a child failed: %s", err.text);
		}
		close(rfd[0]);
		for (i = 0; i < 6; i++)
			waitpid(pids[i], NULL, 0);
		is_int(winners, 1, "exactly one of 6 processes wins the lease");
		a = open_test("lease.db");
		fake_now = 1700000000000LL; /* children used the real clock */
		mid_store_set_clock(a, NULL, NULL);
		mid_store_lease_acquire(a, "race", "parent", 1000, &got, other, NULL, &err);
		ok(got == 0 && strncmp(other, "child", 5) == 0, "parent sees the child's lease (%s)", other);
		mid_store_close(a);
	}
}

/* Two processes creating the same new store at once: both succeed, the
 * schema is migrated once. UUIDs stay unique across fork (the random
 * buffer is dropped in the child). */
static void test_processes(void)
{
	char parent_next[MID_ID_LEN], child_id[MID_ID_LEN] = "", first[MID_ID_LEN];
	int pfd[2], status = 0, i, ok_open = 0;
	mid_store_t *st = NULL;
	mid_error_t err;
	pid_t pid;

	mid_uuid_new(first); /* fills the parent's buffer */
	if (pipe(pfd) != 0)
		diag("pipe");
	pid = fork();
	if (pid == 0) {
		char id[MID_ID_LEN];
		mid_store_t *c = NULL;
		close(pfd[0]);
		mid_uuid_new(id);
		if (write(pfd[1], id, sizeof id) != (ssize_t)sizeof id)
			_exit(3);
		for (i = 0; i < 5; i++) {
			if (mid_store_open(path_in("race.db"), MID_STORE_CREATE, &c, &err) == MID_OK) {
				mid_store_close(c);
				break;
			}
		}
		_exit(i < 5 ? 0 : 1);
	}
	close(pfd[1]);
	mid_uuid_new(parent_next);
	if (read(pfd[0], child_id, sizeof child_id) != (ssize_t)sizeof child_id)
		diag("read from child failed");
	close(pfd[0]);
	ok(strcmp(child_id, parent_next) != 0 && strcmp(child_id, first) != 0,
	   "child and parent draw different ids (%s / %s)", child_id, parent_next);
	mid_uuid_new(first);
	ok(strlen(first) == 36 && first[14] == '7' && first[8] == '-', "version 7 UUID");
	for (i = 0; i < 5 && !ok_open; i++) {
		if (mid_store_open(path_in("race.db"), MID_STORE_CREATE, &st, &err) == MID_OK)
			ok_open = 1;
	}
	waitpid(pid, &status, 0);
	ok(ok_open && WIFEXITED(status), "two processes create the same store at once");
	if (st) {
		is_int(mid_store_schema_version(st), MID_STORE_SCHEMA_VERSION, "... migrated");
		mid_store_close(st);
	}
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *q = NULL;
		int rows = -1;
		sqlite3_open(path_in("race.db"), &db);
		if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM schema_version", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			rows = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
		sqlite3_close(db);
		is_int(rows, (int)mid_nmigrations, "... once (one row per migration)");
	}
}

/* A store made by version 1 of the schema (built here with migration 1's
 * own SQL) is upgraded on open: existing people are found by email through
 * the new key, PACS values survive the table rebuild. */
static void test_upgrade_v1(void)
{
	const char *p = path_in("v1.db");
	sqlite3 *db = NULL;
	mid_store_t *st = NULL;
	mid_error_t err;
	char ids[4][MID_ID_LEN], *sql;
	size_t n = 0;
	int taken = 0, empty = 1;
	mid_person_t pe = { .status = MID_PERSON_ACTIVE };

	if (sqlite3_open(p, &db) != SQLITE_OK) {
		ok(0, "create a version 1 store");
		return;
	}
	sql = sqlite3_mprintf("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
	                      "name TEXT NOT NULL, applied INTEGER NOT NULL); %s "
	                      "INSERT INTO schema_version VALUES (1, 'initial schema', 0); "
	                      "INSERT INTO people (id, employee_id, email, email_fold, status, "
	                      "created, updated) VALUES ('p1', 'E1', 'Old.One@Example.com', "
	                      "'old.one@example.com', 'active', 1, 1), ('p2', 'E2', '', '', "
	                      "'active', 1, 1); INSERT INTO pacs_values VALUES "
	                      "('pacs', 'H10301', 7, 700), ('other', 'H10301', 7, 700), "
	                      "('pacs', 'H10301', 7, 701);", mid_migrations[0].sql);
	ok(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "a version 1 store with people "
	   "and PACS values");
	sqlite3_free(sql);
	sqlite3_close(db);

	is_int(mid_store_open(p, 0, &st, &err), MID_OK, "version 1 store opens");
	if (!st)
		return;
	is_int(mid_store_schema_version(st), MID_STORE_SCHEMA_VERSION, "... and migrated");
	mid_store_person_find_email(st, "old.one@EXAMPLE.com ", ids, 4, &n, &err);
	ok(n == 1 && strcmp(ids[0], "p1") == 0, "an existing person is found by email");
	mid_store_person_find_email(st, "", ids, 4, &n, &err);
	is_int((int)n, 0, "an empty email matches nobody");
	mid_store_value_taken(st, "H10301", 7, 701, &taken, &err);
	is_int(taken, 1, "PACS values kept");
	mid_store_value_taken(st, "H10301", 7, 702, &taken, &err);
	is_int(taken, 0, "... and no others");
	mid_store_people_empty(st, &empty, &err);
	is_int(empty, 0, "the store is not empty of people");
	snprintf(pe.email, sizeof pe.email, "OLD.one@example.com");
	is_int(mid_store_person_create(st, &pe, &err), MID_OK, "a new person with the same email");
	mid_store_person_find_email(st, "old.one@example.com", ids, 4, &n, &err);
	is_int((int)n, 2, "... both found");
	mid_store_close(st);

	if (sqlite3_open(p, &db) == SQLITE_OK) {
		sqlite3_stmt *q = NULL;
		int rows = -1;
		if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM pacs_values", -1, &q, NULL) ==
		    SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
			rows = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
		is_int(rows, 3, "all three PACS values rows kept");
		sqlite3_close(db);
	}
}

/* A store made by version 2 of the schema (migrations 1 and 2's own SQL)
 * with a person and a link is upgraded on open: the link keeps its hashes
 * and gets the new push_hash column, empty (the next push goes out). */
static void test_upgrade_v2(void)
{
	const char *p = path_in("v2.db");
	sqlite3 *db = NULL;
	mid_store_t *st = NULL;
	mid_error_t err;
	mid_link_t l;
	unsigned char h[MID_HASH_LEN];
	char *sql;

	if (sqlite3_open(p, &db) != SQLITE_OK) {
		ok(0, "create a version 2 store");
		return;
	}
	sql = sqlite3_mprintf("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
	                      "name TEXT NOT NULL, applied INTEGER NOT NULL); %s %s "
	                      "INSERT INTO schema_version VALUES (1, 'initial schema', 0), "
	                      "(2, 'email hash index, pacs_values without rowid', 0); "
	                      "INSERT INTO people (id, employee_id, status, created, updated) "
	                      "VALUES ('p1', 'E1', 'active', 1, 1); "
	                      "INSERT INTO links (binding, external_id, person_id, recv_hash, "
	                      "sent_hash, seen_run, etag, updated) VALUES ('pacs', 'x1', 'p1', "
	                      "zeroblob(32), NULL, 4, 'v9', 1);",
	                      mid_migrations[0].sql, mid_migrations[1].sql);
	ok(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "a version 2 store with a link");
	sqlite3_free(sql);
	sqlite3_close(db);

	is_int(mid_store_open(p, 0, &st, &err), MID_OK, "version 2 store opens");
	if (!st)
		return;
	is_int(mid_store_schema_version(st), MID_STORE_SCHEMA_VERSION, "... and migrated");
	memset(&l, 0x5a, sizeof l);
	is_int(mid_store_link_get(st, "pacs", "x1", &l, &err), MID_OK, "the link is kept");
	ok(strcmp(l.person_id, "p1") == 0 && l.has_recv && !l.has_sent && l.seen_run == 4 &&
	   strcmp(l.etag, "v9") == 0, "... with its person, hashes, run and etag");
	ok(!l.has_push, "... and no push hash");
	memset(h, 0x42, sizeof h);
	is_int(mid_store_link_set_push(st, "pacs", "x1", h, &err), MID_OK, "set the push hash");
	mid_store_link_get(st, "pacs", "x1", &l, &err);
	ok(l.has_push && l.push_hash[0] == 0x42 && l.push_hash[31] == 0x42, "... read back");
	is_int(mid_store_link_set_push(st, "pacs", "nope", h, &err), MID_ENOTFOUND,
	       "set the push hash of no link: not found");
	mid_store_close(st);

	if (sqlite3_open(p, &db) == SQLITE_OK) {
		sqlite3_stmt *q = NULL;
		int rows = -1;
		if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM schema_version", -1, &q, NULL) ==
		    SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
			rows = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
		is_int(rows, (int)mid_nmigrations, "one schema_version row per migration");
		/* schema 4: the links' key to people is checked at COMMIT; the
		 * cascade still acts at once */
		sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
		ok(sqlite3_exec(db, "BEGIN; INSERT INTO links (binding, external_id, person_id, "
		                "updated) VALUES ('pacs', 'x2', 'nobody', 1)", NULL, NULL, NULL) ==
		   SQLITE_OK, "schema 4: a link to no person is taken inside the transaction");
		ok(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_CONSTRAINT,
		   "... and its COMMIT fails (foreign key)");
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		ok(sqlite3_exec(db, "DELETE FROM people WHERE id='p1'", NULL, NULL, NULL) == SQLITE_OK,
		   "schema 4: purge the person");
		rows = -1;
		if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM links", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			rows = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
		is_int(rows, 0, "... its link went with it (ON DELETE CASCADE), the orphan was rolled back");
		sqlite3_close(db);
	}
}

/* The bulk import path: person, link and card value in one call; a second
 * link with the same external id is refused. */
static void test_import_person(void)
{
	mid_store_t *st = open_test("import.db");
	mid_error_t err;
	mid_person_t p = { .status = MID_PERSON_ACTIVE }, q = { .status = MID_PERSON_ACTIVE };
	mid_link_t l, got;
	char ids[4][MID_ID_LEN];
	size_t n = 0;
	int empty = 0, taken = 0;
	int64_t v1 = 0, v2 = 0;

	mid_store_people_empty(st, &empty, &err);
	is_int(empty, 1, "a new store is empty of people");
	is_int(mid_store_data_version(st, &v1, &err), MID_OK, "data version");
	memset(&l, 0, sizeof l);
	snprintf(p.employee_id, sizeof p.employee_id, "E77");
	snprintf(p.email, sizeof p.email, "Bulk@Example.com");
	snprintf(l.binding, sizeof l.binding, "pacs");
	snprintf(l.external_id, sizeof l.external_id, "E77");
	memset(l.recv_hash, 0xab, MID_HASH_LEN);
	l.has_recv = 1;
	l.seen_run = 3;
	mid_store_begin(st, &err);
	is_int(mid_store_import_person(st, &p, &l, "H10301", 5, 55, &err), MID_OK,
	       "import person + link + card");
	mid_store_commit(st, &err);
	ok(p.id[0] && strcmp(l.person_id, p.id) == 0 && l.id > 0, "ids written back");
	mid_store_data_version(st, &v2, &err);
	ok(v1 == v2, "own commits leave the data version alone");
	is_int(mid_store_link_get(st, "pacs", "E77", &got, &err), MID_OK, "link stored");
	ok(strcmp(got.person_id, p.id) == 0 && got.has_recv && got.seen_run == 3, "... as given");
	mid_store_person_find_email(st, "bulk@example.com", ids, 4, &n, &err);
	ok(n == 1 && strcmp(ids[0], p.id) == 0, "found by email");
	mid_store_person_find_employee(st, "E77", ids, 4, &n, &err);
	is_int((int)n, 1, "found by employee id");
	mid_store_value_taken(st, "H10301", 5, 55, &taken, &err);
	is_int(taken, 1, "card value recorded");
	memset(&l.id, 0, sizeof l.id);
	is_int(mid_store_import_person(st, &q, &l, NULL, 0, 0, &err), MID_ECONFLICT,
	       "a second link for the same record is refused");
	mid_store_people_empty(st, &empty, &err);
	is_int(empty, 0, "no longer empty");
	{
		/* another connection's commit changes the data version */
		mid_store_t *o = open_test("import.db");
		mid_person_t r = { .status = MID_PERSON_ACTIVE };
		mid_store_person_create(o, &r, &err);
		mid_store_close(o);
		mid_store_data_version(st, &v2, &err);
		ok(v1 != v2, "another writer changes the data version");
	}
	mid_store_close(st);
}

/* The batched bulk import: 45 rows go as 32 + 8 + 5 x 1 per table; every
 * person, link and card value is stored as mid_store_import_person would;
 * a taken external id fails the batch. */
static void test_import_people(void)
{
	enum { N = 45 };
	mid_store_t *st = open_test("import_n.db");
	mid_error_t err;
	static mid_person_t p[N + 1];
	static mid_link_t l[N + 1];
	mid_import_row_t r[N + 1];
	mid_link_t got;
	mid_person_t g;
	char ids[4][MID_ID_LEN];
	size_t n = 0;
	int taken = 0, bad = 0, i;
	int64_t cnt = 0;

	memset(p, 0, sizeof p);
	memset(l, 0, sizeof l);
	for (i = 0; i <= N; i++) {
		p[i].status = MID_PERSON_ACTIVE;
		snprintf(p[i].employee_id, sizeof p[i].employee_id, "B%03d", i);
		snprintf(p[i].email, sizeof p[i].email, "Row.%d@Example.com", i);
		snprintf(p[i].given_name, sizeof p[i].given_name, "Given %d", i);
		p[i].valid_from = 1000 + i;
		p[i].access_groups = strdup("[\"a\"]");
		snprintf(l[i].binding, sizeof l[i].binding, "pacs");
		snprintf(l[i].external_id, sizeof l[i].external_id, "X%d", i);
		memset(l[i].recv_hash, i, MID_HASH_LEN);
		l[i].has_recv = 1;
		l[i].seen_run = 7;
		r[i].person = &p[i];
		r[i].link = &l[i];
		r[i].card_format = i % 3 ? "H10301" : NULL;   /* some without a card */
		r[i].facility_code = 9;
		r[i].card_number = 1000 + i;
	}
	mid_store_begin(st, &err);
	is_int(mid_store_import_people(st, r, N, &err), MID_OK, "import 45 rows in one call");
	is_int(mid_store_commit(st, &err), MID_OK, "... committed");
	for (i = 0; i < N; i++) {
		memset(&g, 0, sizeof g);
		if (!p[i].id[0] || strcmp(l[i].person_id, p[i].id) != 0 ||
		    mid_store_person_get(st, p[i].id, &g, &err) != MID_OK ||
		    strcmp(g.employee_id, p[i].employee_id) != 0 || g.valid_from != 1000 + i ||
		    strcmp(g.given_name, p[i].given_name) != 0 || !g.access_groups ||
		    strcmp(g.access_groups, "[\"a\"]") != 0)
			bad++;
		mid_person_clear(&g);
		if (mid_store_link_get(st, "pacs", l[i].external_id, &got, &err) != MID_OK ||
		    strcmp(got.person_id, p[i].id) != 0 || got.seen_run != 7 || !got.has_recv ||
		    got.recv_hash[0] != (unsigned char)i)
			bad++;
		taken = -1;
		mid_store_value_taken(st, "H10301", 9, 1000 + i, &taken, &err);
		if (taken != (i % 3 != 0))
			bad++;
		mid_store_person_find_email(st, p[i].email, ids, 4, &n, &err);
		if (n != 1 || strcmp(ids[0], p[i].id) != 0)
			bad++;
	}
	is_int(bad, 0, "every person, link and card value as given, found by email");
	mid_store_link_count(st, "pacs", &cnt, NULL, &err);
	is_int((int)cnt, N, "45 links");
	/* a batch with a link that exists fails */
	l[0].person_id[0] = '\0';
	p[0].id[0] = '\0';
	mid_store_begin(st, &err);
	r[1] = r[N];
	is_int(mid_store_import_people(st, r, 2, &err), MID_ECONFLICT,
	       "a batch with a taken external id is refused");
	mid_store_rollback(st, NULL);
	for (i = 0; i <= N; i++)
		mid_person_clear(&p[i]);
	mid_store_close(st);
}

/* Statements run per record of a sync must not build a temporary b-tree
 * (OpenEphemeral) or a sorter: SQLite's IN lists, RETURNING and ORDER BY
 * without a matching index do, and cost a quarter of a bulk import. */
static void test_hot_plans(void)
{
	static const int hot[] = {
		MID_SQ_PERSON_INSERT, MID_SQ_PERSON_UPDATE, MID_SQ_PERSON_GET,
		MID_SQ_PERSON_FIND_EMP, MID_SQ_PERSON_FIND_EMAIL, MID_SQ_PERSON_SET_STATUS,
		MID_SQ_CRED_INSERT, MID_SQ_CRED_VALUE, MID_SQ_PACS_VALUE, MID_SQ_PACS_ADD,
		MID_SQ_PACS_REMOVE, MID_SQ_LINK_LOOKUP, MID_SQ_LINK_UPDATE, MID_SQ_LINK_INSERT,
		MID_SQ_LINK_SEEN, MID_SQ_LINK_SET_SENT, MID_SQ_LINK_LIST_PERSON, MID_SQ_LINK_EACH,
		MID_SQ_CURSOR_SET, MID_SQ_OUT_INSERT, MID_SQ_AUDIT_INSERT, MID_SQ_NONCE_USE,
		MID_SQ_PEOPLE_EMPTY, MID_SQ_PERSON_INSERT8, MID_SQ_PERSON_INSERT32,
		MID_SQ_LINK_INSERT8, MID_SQ_LINK_INSERT32, MID_SQ_PACS_ADD8, MID_SQ_PACS_ADD32,
	};
	sqlite3 *db = NULL;
	size_t i;
	int bad = 0;

	if (sqlite3_open(path_in("main.db"), &db) != SQLITE_OK) {
		ok(0, "open main.db for plans");
		return;
	}
	sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	for (i = 0; i < sizeof hot / sizeof hot[0]; i++) {
		char q[4096];
		sqlite3_stmt *s = NULL;
		snprintf(q, sizeof q, "EXPLAIN %s", mid_store_sql[hot[i]]);
		if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
			diag("prepare %d: %s", hot[i], sqlite3_errmsg(db));
			bad++;
			continue;
		}
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *op = (const char *)sqlite3_column_text(s, 1);
			if (op && (strstr(op, "Ephemeral") || strstr(op, "Sorter"))) {
				diag("%s uses %s", mid_store_sql[hot[i]], op);
				bad++;
				break;
			}
		}
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	is_int(bad, 0, "no temporary b-tree or sorter in per-record statements");
}

int main(void)
{
	mid_store_t *st;
	char cmd[600];

	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_open();
	st = open_test("main.db");
	test_people(st);
	test_credentials(st);
	test_invitations_keys_readers(st);
	test_links(st);
	test_sync_tables(st);
	test_txn(st);
	mid_store_close(st);
	test_hot_plans();
	test_upgrade_v1();
	test_upgrade_v2();
	test_import_person();
	test_import_people();
	test_leases();
	test_processes();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cleanup of %s failed", dir);
	return tap_done();
}
