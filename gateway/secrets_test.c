/* gateway/secrets_test.c -- unit tests of the master key and secret store (TAP). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "tests/tap.h"
#include "gateway/secrets.h"

static char dir[] = "/tmp/mid_secrets_test.XXXXXX";

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

int main(void)
{
	mid_error_t err = { 0 };
	mid_store_t *st = NULL;
	mid_secrets_t *s = NULL, *s2 = NULL;
	struct stat sb;
	char *v = NULL, **names = NULL, cmd[600], tok1[64], tok2[64];
	size_t len = 0, n = 0;
	char *key = NULL, *key2 = NULL, *db = NULL;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	unsigned char *sealed = NULL, *sk2 = NULL, h1[MID_HASH_LEN], h2[MID_HASH_LEN];
	size_t sealed_len = 0;

	if (!mkdtemp(dir) || sodium_init() < 0) {
		printf("Bail out! setup\n");
		return 1;
	}
	key = strdup(path_in("master.key"));
	key2 = strdup(path_in("other.key"));
	db = strdup(path_in("store.db"));

	/* master key file */
	umask(022);
	is_int(mid_master_key_create(key, &err), MID_OK, "master key created");
	memset(&sb, 0, sizeof sb);
	if (stat(key, &sb) != 0)
		diag("stat failed");
	is_int(sb.st_mode & 0777, 0600, "mode 0600 despite umask 022");
	is_int(sb.st_size, 32, "32 bytes");
	is_int(mid_master_key_create(key, &err), MID_ECONFLICT, "never overwritten");
	ok(strstr(err.text, key) != NULL, "message names the file: %s", err.text);
	mid_master_key_create(key2, &err);

	mid_store_open(db, MID_STORE_CREATE, &st, &err);
	is_int(mid_secrets_open(path_in("absent.key"), st, &s, &err), MID_ENOTFOUND, "missing key file");
	chmod(key, 0640);
	is_int(mid_secrets_open(key, st, &s, &err), MID_EAUTH, "group-readable key refused");
	ok(strstr(err.text, key) && strstr(err.text, "chmod 600"), "names file and chmod 600: %s", err.text);
	ok(s == NULL, "no handle");
	chmod(key, 0604);
	is_int(mid_secrets_open(key, st, &s, &err), MID_EAUTH, "other-readable key refused");
	chmod(key, 0600);
	{
		int fd = open(path_in("short.key"), O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			if (write(fd, "short", 5) != 5)
				diag("write");
			close(fd);
		}
		is_int(mid_secrets_open(path_in("short.key"), st, &s, &err), MID_EINVAL, "short key file refused");
		ok(strstr(err.text, "exactly 32 bytes") != NULL, "says why: %s", err.text);
	}

	is_int(mid_secrets_open(key, st, &s, &err), MID_OK, "secrets open");
	if (!s) { diag("%s", err.text); return tap_done(); }

	/* round trip */
	is_int(mid_secret_set(s, "acme/password", "hunter2", 7, &err), MID_OK, "secret set");
	is_int(mid_secret_set(s, "api_token", "t0k3n", 5, &err), MID_OK, "second secret");
	is_int(mid_secret_set(s, "bad name!", "x", 1, &err), MID_EINVAL, "bad name refused");
	is_int(mid_secret_get(s, "acme/password", &v, &len, &err), MID_OK, "secret get");
	ok(len == 7 && memcmp(v, "hunter2", 8) == 0, "value and NUL terminator");
	mid_secret_free(v, len);
	mid_secret_set(s, "acme/password", "new", 3, &err);
	mid_secret_get(s, "acme/password", &v, &len, &err);
	is_str(v, "new", "secret replaced");
	mid_secret_free(v, len);
	is_int(mid_secret_list(s, &names, &n, &err), MID_OK, "list");
	ok(n == 2 && strcmp(names[0], "acme/password") == 0 && strcmp(names[1], "api_token") == 0, "names only, sorted");
	mid_strv_free(names, n);
	{
		sqlite3 *h = NULL;
		sqlite3_stmt *q = NULL;
		int plain = 0;
		sqlite3_open(db, &h);
		sqlite3_prepare_v2(h, "SELECT instr(ciphertext, 't0k3n') FROM secrets", -1, &q, NULL);
		while (sqlite3_step(q) == SQLITE_ROW)
			plain += sqlite3_column_int(q, 0) != 0;
		sqlite3_finalize(q);
		sqlite3_close(h);
		is_int(plain, 0, "no plaintext in the store");
	}
	is_int(mid_secret_remove(s, "api_token", &err), MID_OK, "remove");
	is_int(mid_secret_remove(s, "api_token", &err), MID_ENOTFOUND, "remove again");
	is_int(mid_secret_get(s, "api_token", &v, &len, &err), MID_ENOTFOUND, "removed secret gone");
	mid_secret_set(s, "empty", "", 0, &err);
	is_int(mid_secret_get(s, "empty", &v, &len, &err), MID_OK, "empty secret");
	ok(len == 0 && v && v[0] == '\0', "empty value");
	mid_secret_free(v, len);

	/* tampering and moved ciphertexts */
	raw_sql(db, "INSERT INTO secrets (name, nonce, ciphertext, created, updated) "
	            "SELECT 'copy', nonce, ciphertext, created, updated FROM secrets WHERE name='acme/password'");
	is_int(mid_secret_get(s, "copy", &v, &len, &err), MID_EAUTH, "ciphertext moved to another name does not open");
	raw_sql(db, "UPDATE secrets SET ciphertext = zeroblob(length(ciphertext)) WHERE name='empty'");
	is_int(mid_secret_get(s, "empty", &v, &len, &err), MID_EAUTH, "tampered ciphertext refused");

	/* issuer secret keys */
	crypto_sign_keypair(pk, sk);
	is_int(mid_issuer_sk_seal(s, "k1", sk, &sealed, &sealed_len, &err), MID_OK, "issuer key sealed");
	ok(sealed_len == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + strlen("issuer-key:k1") + 1 + sizeof sk,
	   "sealed length nonce+mac+context+key (%zu)", sealed_len);
	is_int(mid_issuer_sk_unseal(s, "k1", sealed, sealed_len, &sk2, &err), MID_OK, "issuer key unsealed");
	ok(sk2 && memcmp(sk, sk2, sizeof sk) == 0, "same secret key");
	mid_secret_free(sk2, sizeof sk);
	sk2 = NULL;
	is_int(mid_issuer_sk_unseal(s, "k2", sealed, sealed_len, &sk2, &err), MID_EAUTH, "bound to its key id");
	is_int(mid_issuer_sk_unseal(s, "k1", sealed, 10, &sk2, &err), MID_EAUTH, "truncated refused");

	/* wrong master key */
	is_int(mid_secrets_open(key2, st, &s2, &err), MID_EAUTH, "other master key refused at open");
	ok(strstr(err.text, key2) != NULL, "names the key file: %s", err.text);
	raw_sql(db, "DELETE FROM meta WHERE key='master_key_check'");
	is_int(mid_secrets_open(key2, st, &s2, &err), MID_OK, "without a check value it opens");
	is_int(mid_secret_get(s2, "acme/password", &v, &len, &err), MID_EAUTH, "but secrets do not decrypt");
	ok(strstr(err.text, "acme/password") && strstr(err.text, key2), "message: %s", err.text);
	is_int(mid_issuer_sk_unseal(s2, "k1", sealed, sealed_len, &sk2, &err), MID_EAUTH, "nor issuer keys");
	mid_secrets_close(s2);
	free(sealed);

	/* tokens */
	is_int(mid_token_new("mid_", tok1, sizeof tok1), MID_OK, "token new");
	is_int(strlen(tok1), 4 + 43, "prefix + 43 base64url characters");
	mid_token_new("mid_", tok2, sizeof tok2);
	ok(strcmp(tok1, tok2) != 0, "tokens differ");
	is_int(mid_token_new("mid_", tok2, 20), MID_EINVAL, "small buffer refused");
	mid_token_hash(tok1, h1);
	mid_token_hash(tok1, h2);
	ok(mid_ct_equal(h1, h2, sizeof h1), "hash deterministic, ct compare equal");
	h2[31] ^= 1;
	ok(!mid_ct_equal(h1, h2, sizeof h1), "ct compare detects a difference");

	mid_secrets_close(s);
	mid_store_close(st);
	free(key);
	free(key2);
	free(db);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cleanup failed");
	return tap_done();
}
