/* gateway/store_sql.h -- every SQL statement the store runs, as an X-macro
 * list SQ(id, text). Included by store_int.h (the enum) and store_sql.c (the
 * texts). Portable SQL only: `?` placeholders, no engine-specific functions.
 * No include guard on purpose.
 */
#define PERSON_COLS "id, employee_id, given_name, family_name, email, mobile, status, " \
	"valid_from, valid_until, access_groups, attributes, created, updated"
#define CRED_COLS "id, person_id, format, facility_code, card_number, type, status, " \
	"valid_from, valid_until, device_id, issuer_key_id, blob, created, updated"
#define INV_COLS "id, person_id, credential_id, code_hash, expires, used, attempts, " \
	"delivery, created"
#define LINK_COLS "id, binding, external_id, person_id, recv_hash, sent_hash, seen_run, " \
	"etag, updated, push_hash"
#define OUTBOX_COLS "id, binding, person_id, op, payload, attempts, next_attempt_at, " \
	"state, last_error, created, updated"
#define RUN_COLS "id, binding, started, finished, status, dry_run, counts, message"

/* people */
SQ(PERSON_INSERT, "INSERT INTO people (id, employee_id, given_name, family_name, email, "
   "email_fold, email_key, mobile, status, valid_from, valid_until, access_groups, "
   "attributes, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
SQ(PERSON_UPDATE, "UPDATE people SET employee_id=?, given_name=?, family_name=?, email=?, "
   "email_fold=?, email_key=?, mobile=?, status=?, valid_from=?, valid_until=?, "
   "access_groups=?, attributes=?, updated=? WHERE id=?")
SQ(PERSON_GET, "SELECT " PERSON_COLS " FROM people WHERE id=?")
/* The find and link-of-person queries run per record in a sync: no ORDER BY,
 * which would open a sorter each time; rows come in index order. */
SQ(PERSON_FIND_EMP, "SELECT id FROM people WHERE employee_id=? AND employee_id <> ''")
/* Candidates by the email hash; the store compares the folded email. */
SQ(PERSON_FIND_EMAIL, "SELECT id, email FROM people WHERE email_key=? AND email_key <> 0")
SQ(PEOPLE_EMPTY, "SELECT EXISTS (SELECT 1 FROM people) + EXISTS (SELECT 1 FROM credentials) "
   "+ EXISTS (SELECT 1 FROM pacs_values)")
SQ(PERSON_SET_STATUS, "UPDATE people SET status=?, updated=? WHERE id=?")
SQ(PERSON_PURGE, "DELETE FROM people WHERE id=?")
SQ(PERSON_LIST, "SELECT " PERSON_COLS " FROM people WHERE (? = '' OR status = ?) "
   "ORDER BY id LIMIT ? OFFSET ?")
SQ(PERSON_COUNT, "SELECT COUNT(*) FROM people WHERE (? = '' OR status = ?)")

/* credentials and values */
SQ(CRED_INSERT, "INSERT INTO credentials (" CRED_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
SQ(CRED_UPDATE, "UPDATE credentials SET status=?, valid_from=?, valid_until=?, device_id=?, "
   "issuer_key_id=?, blob=?, updated=? WHERE id=?")
SQ(CRED_GET, "SELECT " CRED_COLS " FROM credentials WHERE id=?")
SQ(CRED_SET_STATUS, "UPDATE credentials SET status=?, updated=? WHERE id=?")
SQ(CRED_LIST, "SELECT " CRED_COLS " FROM credentials WHERE (? = '' OR person_id = ?) "
   "ORDER BY created, id LIMIT ? OFFSET ?")
SQ(CRED_LIST_DEVICE, "SELECT " CRED_COLS " FROM credentials WHERE device_id=? "
   "ORDER BY created, id")
SQ(CRED_REVOKED, "SELECT id FROM credentials WHERE status='revoked' AND "
   "(valid_until = 0 OR valid_until > ?) ORDER BY id")
SQ(CRED_VALUE, "SELECT id FROM credentials WHERE format=? AND facility_code=? AND "
   "card_number=?")
SQ(PACS_VALUE, "SELECT binding FROM pacs_values WHERE format=? AND facility_code=? AND "
   "card_number=? LIMIT 1")
SQ(CRED_RANGE, "SELECT card_number FROM credentials WHERE format=? AND facility_code=? "
   "AND card_number >= ? AND card_number <= ? ORDER BY card_number")
SQ(PACS_RANGE, "SELECT DISTINCT card_number FROM pacs_values WHERE format=? AND "
   "facility_code=? AND card_number >= ? AND card_number <= ? ORDER BY card_number")
SQ(PACS_ADD, "INSERT INTO pacs_values (binding, format, facility_code, card_number) "
   "VALUES (?,?,?,?) ON CONFLICT DO NOTHING")
SQ(PACS_REMOVE, "DELETE FROM pacs_values WHERE binding=? AND format=? AND facility_code=? "
   "AND card_number=?")
SQ(PACS_CLEAR, "DELETE FROM pacs_values WHERE binding=?")

/* devices */
SQ(DEV_INSERT, "INSERT INTO devices (id, public_key, platform, enrolled, last_seen) "
   "VALUES (?,?,?,?,?)")
SQ(DEV_GET, "SELECT id, public_key, platform, enrolled, last_seen FROM devices WHERE id=?")
SQ(DEV_FIND_KEY, "SELECT id, public_key, platform, enrolled, last_seen FROM devices "
   "WHERE public_key=?")
SQ(DEV_TOUCH, "UPDATE devices SET last_seen=? WHERE id=?")

/* invitations */
SQ(INV_INSERT, "INSERT INTO invitations (" INV_COLS ") VALUES (?,?,?,?,?,?,?,?,?)")
SQ(INV_GET, "SELECT " INV_COLS " FROM invitations WHERE id=?")
SQ(INV_FIND_CODE, "SELECT " INV_COLS " FROM invitations WHERE code_hash=?")
SQ(INV_USE, "UPDATE invitations SET used=? WHERE id=? AND used=0 AND expires > ?")
SQ(INV_ATTEMPT, "UPDATE invitations SET attempts=attempts+1 WHERE id=? RETURNING attempts")
SQ(INV_INVALIDATE, "UPDATE invitations SET used=-1 WHERE person_id=? AND used=0")
SQ(INV_LIST, "SELECT " INV_COLS " FROM invitations WHERE (? = '' OR person_id = ?) "
   "ORDER BY created, id")

/* issuer keys */
SQ(KEY_INSERT, "INSERT INTO issuer_keys (key_id, public_key, secret_enc, state, created) "
   "VALUES (?,?,?,?,?)")
SQ(KEY_GET, "SELECT key_id, public_key, secret_enc, state, created FROM issuer_keys "
   "WHERE key_id=?")
SQ(KEY_GET_STATE, "SELECT key_id, public_key, secret_enc, state, created FROM issuer_keys "
   "WHERE state=? ORDER BY created DESC, key_id DESC LIMIT 1")
SQ(KEY_SET_STATE, "UPDATE issuer_keys SET state=? WHERE key_id=?")
SQ(KEY_LIST, "SELECT key_id, public_key, secret_enc, state, created FROM issuer_keys "
   "ORDER BY created DESC, key_id DESC")

/* readers, admin tokens */
SQ(READER_INSERT, "INSERT INTO readers (id, name, token_hash, created) VALUES (?,?,?,?)")
SQ(READER_GET, "SELECT id, name, token_hash, created FROM readers WHERE id=?")
SQ(READER_FIND, "SELECT id, name, token_hash, created FROM readers WHERE token_hash=?")
SQ(READER_SET_TOKEN, "UPDATE readers SET token_hash=? WHERE id=?")
SQ(READER_REMOVE, "DELETE FROM readers WHERE id=?")
SQ(READER_LIST, "SELECT id, name, token_hash, created FROM readers ORDER BY name, id")
SQ(TOKEN_INSERT, "INSERT INTO admin_tokens (hash, name, created) VALUES (?,?,?)")
SQ(TOKEN_FIND, "SELECT hash, name, created FROM admin_tokens WHERE hash=?")
SQ(TOKEN_REMOVE, "DELETE FROM admin_tokens WHERE name=?")
SQ(TOKEN_LIST, "SELECT hash, name, created FROM admin_tokens ORDER BY name")

/* links */
SQ(LINK_GET, "SELECT " LINK_COLS " FROM links WHERE binding=? AND external_id=?")
SQ(LINK_LOOKUP, "SELECT id, person_id, recv_hash FROM links WHERE binding=? AND "
   "external_id=?")
SQ(LINK_UPDATE, "UPDATE links SET person_id=?, recv_hash=?, sent_hash=?, seen_run=?, "
   "etag=?, updated=?, push_hash=? WHERE binding=? AND external_id=?")
SQ(LINK_INSERT, "INSERT INTO links (binding, external_id, person_id, recv_hash, sent_hash, "
   "seen_run, etag, updated) VALUES (?,?,?,?,?,?,?,?)")
SQ(LINK_SEEN, "UPDATE links SET seen_run=? WHERE binding=? AND external_id=?")
/* The bulk import (mid_store_import_people) inserts 32 or 8 rows a statement:
 * SQLite then opens each b-tree once per statement and finds the insert
 * position from the page the cursor is on, which halves its cost per row.
 * "OR FAIL" (the one non-portable clause here; a PostgreSQL driver drops
 * it: its statements are atomic anyway) lets SQLite write these statements
 * without a statement journal: a failing row stops the statement with the
 * rows before it written, and the caller rolls the transaction back
 * (mid_store_import_people says so). The journal copied every page a
 * statement touched, one per row in the email index. The links statement
 * needs none since schema 4, whose foreign key to people is checked at
 * COMMIT (an immediate one makes SQLite keep a journal whatever the
 * conflict clause). */
#define PERSON_ROW "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define LINK_ROW "(?,?,?,?,?,?,?,?)"
#define PACS_ROW "(?,?,?,?)"
#define SQ_X2(r) r "," r
#define SQ_X8(r) SQ_X2(SQ_X2(SQ_X2(r)))
#define SQ_X32(r) SQ_X2(SQ_X2(SQ_X8(r)))
SQ(PERSON_INSERT8, "INSERT OR FAIL INTO people (id, employee_id, given_name, family_name, email, "
   "email_fold, email_key, mobile, status, valid_from, valid_until, access_groups, "
   "attributes, created, updated) VALUES " SQ_X8(PERSON_ROW))
SQ(PERSON_INSERT32, "INSERT OR FAIL INTO people (id, employee_id, given_name, family_name, email, "
   "email_fold, email_key, mobile, status, valid_from, valid_until, access_groups, "
   "attributes, created, updated) VALUES " SQ_X32(PERSON_ROW))
SQ(LINK_INSERT8, "INSERT OR FAIL INTO links (binding, external_id, person_id, recv_hash, sent_hash, "
   "seen_run, etag, updated) VALUES " SQ_X8(LINK_ROW))
SQ(LINK_INSERT32, "INSERT OR FAIL INTO links (binding, external_id, person_id, recv_hash, sent_hash, "
   "seen_run, etag, updated) VALUES " SQ_X32(LINK_ROW))
SQ(PACS_ADD8, "INSERT OR FAIL INTO pacs_values (binding, format, facility_code, card_number) "
   "VALUES " SQ_X8(PACS_ROW) " ON CONFLICT DO NOTHING")
SQ(PACS_ADD32, "INSERT OR FAIL INTO pacs_values (binding, format, facility_code, card_number) "
   "VALUES " SQ_X32(PACS_ROW) " ON CONFLICT DO NOTHING")
SQ(LINK_SET_SENT, "UPDATE links SET sent_hash=?, push_hash=?, etag=COALESCE(?, etag), "
   "updated=? WHERE binding=? AND external_id=?")
/* Separate from LINK_INSERT, whose column list the bulk import's
 * LINK_INSERT8/32 share (store_people.c bind_link): a new link has none. */
SQ(LINK_SET_PUSH, "UPDATE links SET push_hash=? WHERE binding=? AND external_id=?")
SQ(LINK_REMOVE, "DELETE FROM links WHERE binding=? AND external_id=?")
SQ(LINK_LIST_PERSON, "SELECT " LINK_COLS " FROM links WHERE person_id=?")
SQ(LINK_SWEEP_COUNT, "SELECT COUNT(*), SUM(CASE WHEN seen_run < ? THEN 1 ELSE 0 END) "
   "FROM links WHERE binding=?")
SQ(LINK_SWEEP_LIST, "SELECT " LINK_COLS " FROM links WHERE binding=? AND seen_run < ? "
   "AND id > ? ORDER BY id LIMIT ?")
SQ(LINK_COUNT, "SELECT COUNT(*), SUM(LENGTH(CAST(external_id AS BLOB))) FROM links "
   "WHERE binding=?")
SQ(LINK_EACH, "SELECT id, external_id, person_id, recv_hash FROM links WHERE binding=? "
   "ORDER BY external_id")

/* cursors */
SQ(CURSOR_GET, "SELECT cursor FROM cursors WHERE binding=?")
SQ(CURSOR_SET, "INSERT INTO cursors (binding, cursor, updated) VALUES (?,?,?) "
   "ON CONFLICT (binding) DO UPDATE SET cursor=excluded.cursor, updated=excluded.updated")
SQ(CURSOR_DEL, "DELETE FROM cursors WHERE binding=?")

/* outbox */
SQ(OUT_INSERT, "INSERT INTO outbox (binding, person_id, op, payload, attempts, "
   "next_attempt_at, state, last_error, created, updated) "
   "VALUES (?,?,?,?,0,?,'pending','',?,?)")
SQ(OUT_NEXT, "SELECT " OUTBOX_COLS " FROM outbox WHERE binding=? AND state='pending' "
   "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT 1")
SQ(OUT_GET, "SELECT " OUTBOX_COLS " FROM outbox WHERE id=?")
SQ(OUT_DONE, "UPDATE outbox SET state='done', updated=? WHERE id=?")
SQ(OUT_RETRY, "UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, last_error=?, "
   "updated=? WHERE id=?")
SQ(OUT_DEAD, "UPDATE outbox SET attempts=attempts+1, state='dead', last_error=?, "
   "updated=? WHERE id=?")
SQ(OUT_LIST, "SELECT " OUTBOX_COLS " FROM outbox WHERE (? = '' OR binding = ?) AND "
   "(? = '' OR state = ?) ORDER BY id LIMIT ? OFFSET ?")
SQ(OUT_COUNT, "SELECT COUNT(*) FROM outbox WHERE (? = '' OR binding = ?) AND "
   "(? = '' OR state = ?)")
SQ(OUT_REPLAY, "UPDATE outbox SET state='pending', attempts=0, next_attempt_at=?, "
   "updated=? WHERE state='dead' AND (? = '' OR binding = ?) AND (? = 0 OR id = ?)")
SQ(OUT_PURGE, "DELETE FROM outbox WHERE state='done' AND updated < ?")

/* runs */
SQ(RUN_INSERT, "INSERT INTO runs (binding, started, finished, status, dry_run, counts, "
   "message) VALUES (?,?,0,'running',?,'{}','') RETURNING id")
SQ(RUN_FINISH, "UPDATE runs SET finished=?, status=?, counts=?, message=? WHERE id=? "
   "RETURNING binding")
SQ(RUN_TRIM, "DELETE FROM runs WHERE binding=? AND id NOT IN (SELECT id FROM runs "
   "WHERE binding=? ORDER BY id DESC LIMIT ?)")
SQ(RUN_GET, "SELECT " RUN_COLS " FROM runs WHERE id=?")
SQ(RUN_LIST, "SELECT " RUN_COLS " FROM runs WHERE (? = '' OR binding = ?) "
   "ORDER BY id DESC LIMIT ?")

/* audit */
SQ(AUDIT_INSERT, "INSERT INTO audit (time, actor, action, subject, detail) "
   "VALUES (?,?,?,?,?)")
SQ(AUDIT_LIST, "SELECT id, time, actor, action, subject, detail FROM audit WHERE "
   "(? = '' OR subject = ?) AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?")

/* leases */
SQ(LEASE_ACQUIRE, "INSERT INTO leases (name, holder, expires) VALUES (?,?,?) "
   "ON CONFLICT (name) DO UPDATE SET holder=excluded.holder, expires=excluded.expires "
   "WHERE leases.expires <= ? OR leases.holder = excluded.holder")
SQ(LEASE_GET, "SELECT holder, expires FROM leases WHERE name=?")
SQ(LEASE_RENEW, "UPDATE leases SET expires=? WHERE name=? AND holder=? AND expires > ?")
SQ(LEASE_RELEASE, "DELETE FROM leases WHERE name=? AND holder=?")

/* secrets */
SQ(SECRET_PUT, "INSERT INTO secrets (name, nonce, ciphertext, created, updated) "
   "VALUES (?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET nonce=excluded.nonce, "
   "ciphertext=excluded.ciphertext, updated=excluded.updated")
SQ(SECRET_GET, "SELECT nonce, ciphertext FROM secrets WHERE name=?")
SQ(SECRET_NAMES, "SELECT name FROM secrets ORDER BY name")
SQ(SECRET_REMOVE, "DELETE FROM secrets WHERE name=?")

/* nonces */
SQ(NONCE_USE, "INSERT INTO nonces (scope, nonce, expires) VALUES (?,?,?) "
   "ON CONFLICT (scope, nonce) DO UPDATE SET expires=excluded.expires "
   "WHERE nonces.expires <= ?")
SQ(NONCE_PRUNE, "DELETE FROM nonces WHERE expires <= ?")

/* meta */
SQ(META_GET, "SELECT value FROM meta WHERE key=?")
SQ(META_SET, "INSERT INTO meta (key, value) VALUES (?,?) ON CONFLICT (key) "
   "DO UPDATE SET value=excluded.value")
