/* gateway/replay_test.c -- unit tests of the in-memory replay cache: fresh
 * and replayed nonces, scopes kept apart, expiry, the restart rule (stamps
 * before the start refused), the per-scope and total bounds (refuse, never
 * forget a live entry), the last-seen gate, and many threads at once.
 * Includes the .c to check the table internals after deletions. */
#include <config.h>
#include "gateway/replay.c"
#include "tests/tap.h"

#include <stdio.h>

#define T0 1700000000000LL /* the cache's start, ms */
#define WIN 301000LL       /* a phone's window: skew 300 s + 1 s */

static int check(mid_replay_t *rp, const char *scope, const char *nonce, int64_t stamp,
                 int64_t now)
{
	return mid_replay_check(rp, scope, nonce, stamp, stamp + WIN, now);
}

static void test_basic(void)
{
	mid_replay_t *rp = NULL;
	mid_error_t err = { 0 };

	is_int(mid_replay_new(T0, 0, 10, &rp, &err), MID_EINVAL, "per-scope bound 0 refused");
	ok(rp == NULL, "no cache on error");
	is_int(mid_replay_new(T0, 100, 1000, &rp, &err), MID_OK, "cache created");
	is_int(mid_replay_start(rp), T0, "start kept");
	is_int(check(rp, "device:a", "n1", T0, T0), MID_REPLAY_FRESH, "first use is fresh");
	is_int(check(rp, "device:a", "n1", T0, T0 + 5), MID_REPLAY_SEEN, "same nonce again is a replay");
	is_int(mid_replay_check(rp, "device:a", "n1", T0 + 1000, T0 + 1000 + WIN, T0 + 6), MID_REPLAY_SEEN,
	       "same nonce with another stamp is still refused within the window");
	is_int(check(rp, "device:b", "n1", T0, T0 + 7), MID_REPLAY_FRESH,
	       "the same nonce of another scope is fresh");
	is_int(check(rp, "device:a", "n2", T0, T0 + 8), MID_REPLAY_FRESH, "another nonce is fresh");
	is_int(mid_replay_count(rp), 3, "three live entries");
	/* a scope and nonce that concatenate to the same text stay apart */
	is_int(check(rp, "device:ab", "c", T0, T0 + 9), MID_REPLAY_FRESH, "scope/nonce split 1");
	is_int(check(rp, "device:a", "bc", T0, T0 + 9), MID_REPLAY_FRESH, "scope/nonce split 2");
	/* expiry: the window of the first entries ends at T0 + WIN */
	is_int(check(rp, "device:a", "n1", T0 + 10, T0 + WIN - 1), MID_REPLAY_SEEN,
	       "still a replay 1 ms before the window ends");
	is_int(check(rp, "device:a", "n1", T0 + 10, T0 + WIN), MID_REPLAY_FRESH,
	       "fresh again once its window is over (then the clock check refuses old stamps)");
	{
		/* the shards are picked by a per-process key: device:b and
		 * device:ab are dropped now only if they share device:a's shard */
		rp_keys_t ka, kb, kab;
		int expect = 1;

		rp_hash_scope(rp, "device:a", &ka);
		rp_hash_scope(rp, "device:b", &kb);
		rp_hash_scope(rp, "device:ab", &kab);
		expect += kb.shard != ka.shard;
		expect += kab.shard != ka.shard;
		is_int(mid_replay_count(rp), expect,
		       "device:a's shard dropped its expired entries (the others drop theirs when used)");
	}
	is_int(check(rp, "device:a", "n3", T0, T0 + 2 * WIN), MID_REPLAY_STALE,
	       "a request whose window is already over is refused");
	mid_replay_free(rp);
}

static void test_restart(void)
{
	mid_replay_t *rp = NULL, *rp2 = NULL;
	mid_error_t err = { 0 };

	/* a request accepted by the first process ... */
	mid_replay_new(T0, 100, 1000, &rp, &err);
	is_int(check(rp, "device:a", "captured", T0 + 2000, T0 + 2000), MID_REPLAY_FRESH,
	       "first process accepts the request");
	mid_replay_free(rp);
	/* ... replayed to a restarted one: nothing in memory, refused by its stamp */
	mid_replay_new(T0 + 60000, 100, 1000, &rp2, &err);
	is_int(check(rp2, "device:a", "captured", T0 + 2000, T0 + 60500), MID_REPLAY_STALE,
	       "after a restart a stamp before the start is refused");
	is_int(check(rp2, "device:a", "new", T0 + 59999, T0 + 60500), MID_REPLAY_STALE,
	       "1 ms before the start is refused too");
	is_int(check(rp2, "device:a", "new", T0 + 60000, T0 + 60500), MID_REPLAY_FRESH,
	       "a stamp at the start is accepted");
	is_int(mid_replay_count(rp2), 1, "stale requests are not recorded");
	mid_replay_free(rp2);
}

static void test_bounds(void)
{
	mid_replay_t *rp = NULL;
	mid_error_t err = { 0 };
	char n[32], d[32];
	int i, fresh = 0;

	mid_replay_new(T0, 4, 10, &rp, &err);
	/* a scope whose shard holds none of a, b, c (the shards follow a
	 * per-process key), so only the full path's sweep can drop theirs */
	{
		rp_keys_t ka, kb, kc, kd;
		int j;

		rp_hash_scope(rp, "device:a", &ka);
		rp_hash_scope(rp, "device:b", &kb);
		rp_hash_scope(rp, "device:c", &kc);
		for (j = 0;; j++) {
			snprintf(d, sizeof d, "device:d%d", j);
			rp_hash_scope(rp, d, &kd);
			if (kd.shard != ka.shard && kd.shard != kb.shard && kd.shard != kc.shard)
				break;
		}
	}
	for (i = 0; i < 6; i++) {
		snprintf(n, sizeof n, "a%d", i);
		if (check(rp, "device:a", n, T0, T0 + i) == MID_REPLAY_FRESH)
			fresh++;
	}
	is_int(fresh, 4, "a scope gets at most per_scope_max live nonces");
	is_int(check(rp, "device:a", "a9", T0, T0 + 10), MID_REPLAY_SCOPE_FULL, "the next is refused");
	is_int(check(rp, "device:a", "a0", T0, T0 + 10), MID_REPLAY_SEEN,
	       "a remembered nonce is still a replay while the scope is full");
	is_int(check(rp, "device:b", "b0", T0, T0 + 10), MID_REPLAY_FRESH, "other scopes go on");
	for (i = 1; i < 4; i++) {
		snprintf(n, sizeof n, "b%d", i);
		check(rp, "device:b", n, T0, T0 + 10);
	}
	check(rp, "device:c", "c0", T0, T0 + 10);
	check(rp, "device:c", "c1", T0, T0 + 10);
	is_int(mid_replay_count(rp), 10, "the total bound is reached");
	is_int(check(rp, d, "d0", T0, T0 + 10), MID_REPLAY_FULL,
	       "over the total bound: refused, nothing forgotten");
	is_int(check(rp, "device:a", "a1", T0, T0 + 11), MID_REPLAY_SEEN, "earlier entries all kept");
	is_int(check(rp, "device:c", "c0", T0, T0 + 11), MID_REPLAY_SEEN, "earlier entries all kept (c)");
	/* windows over: room again (the full path sweeps every shard) */
	is_int(check(rp, d, "d0", T0 + WIN, T0 + WIN + 1), MID_REPLAY_FRESH,
	       "room once the old windows are over");
	is_int(mid_replay_count(rp), 1, "expired entries of every shard dropped");
	is_int(check(rp, "device:a", "a9", T0 + WIN, T0 + WIN + 2), MID_REPLAY_FRESH,
	       "the full scope has room again");
	mid_replay_free(rp);
}

static void test_touch(void)
{
	mid_replay_t *rp = NULL;
	mid_error_t err = { 0 };

	mid_replay_new(T0, 10, 100, &rp, &err);
	ok(mid_replay_touch_due(rp, "device:x", T0, 60000), "an untracked scope: touch");
	check(rp, "device:x", "n", T0, T0);
	ok(mid_replay_touch_due(rp, "device:x", T0 + 1, 60000), "first touch of a tracked scope");
	ok(!mid_replay_touch_due(rp, "device:x", T0 + 2, 60000), "not again within the interval");
	ok(!mid_replay_touch_due(rp, "device:x", T0 + 60000, 60000), "not at 59.999 s");
	ok(mid_replay_touch_due(rp, "device:x", T0 + 60001, 60000), "again after the interval");
	mid_replay_free(rp);
}

/* Many keys in one shard with deletions out of insertion order: every
 * live key must still be found (backward-shift deletion correct). */
static void test_table(void)
{
	mid_replay_t *rp = NULL;
	mid_error_t err = { 0 };
	char n[32];
	int i, bad = 0;

	mid_replay_new(T0, 100000, 100000, &rp, &err);
	for (i = 0; i < 5000; i++) {
		snprintf(n, sizeof n, "k%d", i);
		/* odd ones expire early, even ones late */
		mid_replay_check(rp, "device:t", n, T0, (i & 1) ? T0 + 1000 + i : T0 + WIN, T0);
	}
	is_int(mid_replay_count(rp), 5000, "5000 entries");
	for (i = 0; i < 5000; i += 2) {
		snprintf(n, sizeof n, "k%d", i);
		if (mid_replay_check(rp, "device:t", n, T0, T0 + WIN, T0 + 7000) != MID_REPLAY_SEEN)
			bad++;
	}
	is_int(bad, 0, "every live entry found after the early ones left");
	is_int(mid_replay_count(rp), 2500, "the early half dropped");
	{
		size_t used = 0;
		for (i = 0; i < RP_SHARDS; i++)
			used += rp->shards[i].used;
		is_int(used, 2500, "table slots match the count");
	}
	mid_replay_free(rp);
}

typedef struct th_arg {
	mid_replay_t *rp;
	int id, fresh, seen;
} th_arg_t;

static void *th_run(void *p)
{
	th_arg_t *a = p;
	char scope[32], n[32];
	for (int i = 0; i < 20000; i++) {
		/* all threads use the same 40 scopes and the same nonces */
		snprintf(scope, sizeof scope, "device:%d", i % 40);
		snprintf(n, sizeof n, "n%d", i);
		int rc = mid_replay_check(a->rp, scope, n, T0, T0 + WIN, T0 + 1);
		if (rc == MID_REPLAY_FRESH)
			a->fresh++;
		else if (rc == MID_REPLAY_SEEN)
			a->seen++;
	}
	return NULL;
}

static void test_threads(void)
{
	mid_replay_t *rp = NULL;
	mid_error_t err = { 0 };
	pthread_t th[4];
	th_arg_t a[4];
	int fresh = 0, seen = 0;

	mid_replay_new(T0, 100000, 1000000, &rp, &err);
	for (int i = 0; i < 4; i++) {
		a[i] = (th_arg_t){ rp, i, 0, 0 };
		pthread_create(&th[i], NULL, th_run, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		fresh += a[i].fresh;
		seen += a[i].seen;
	}
	is_int(fresh, 20000, "4 threads racing on the same nonces: each accepted exactly once");
	is_int(seen, 60000, "... and refused three times");
	is_int(mid_replay_count(rp), 20000, "count agrees");
	mid_replay_free(rp);
}

int main(void)
{
	test_basic();
	test_restart();
	test_bounds();
	test_touch();
	test_table();
	test_threads();
	return tap_done();
}
