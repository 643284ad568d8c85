/* gateway/replay.c -- the in-memory replay cache (see replay.h).
 *
 * Layout: RP_SHARDS shards chosen by the scope's hash, so all nonces of
 * one device live in one shard and the per-scope count needs no other
 * lock. Each shard holds
 *   - a set of nonce keys (open addressing, linear probing, backward-shift
 *     deletion, load <= 1/2) with each entry's expiry,
 *   - a min-heap of (expiry, key) giving the order in which entries leave,
 *   - a small table of scopes with their live count and last touch.
 * Every call on a shard first drops the entries whose window is over, so
 * a key found in the set is always live: found means replay.
 */
#include <config.h>
#include "gateway/replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define RP_SHARDS 32
#define RP_MIN_CAP 64

typedef struct rp_slot {
	uint64_t k0, k1;
	int64_t exp;              /* 0: empty */
} rp_slot_t;

typedef struct rp_scope {
	uint64_t k;
	uint32_t used;            /* 0: empty slot */
	uint32_t count;           /* live nonces of this scope */
	int64_t touched;          /* last time touch_due said yes (0: never) */
} rp_scope_t;

typedef struct rp_heap {
	int64_t exp;
	uint64_t k0, k1, sk;
} rp_heap_t;

typedef struct rp_shard {
	_Alignas(64) pthread_mutex_t mu;
	rp_slot_t *slots;
	size_t cap, used;
	rp_scope_t *scopes;
	size_t scap, sused;
	rp_heap_t *heap;
	size_t hlen, hcap;
} rp_shard_t;

struct mid_replay {
	int64_t start_ms;
	size_t per_scope_max, total_max;
	size_t total;             /* atomic: live entries in all shards */
	unsigned char key[crypto_generichash_KEYBYTES];
	rp_shard_t shards[RP_SHARDS];
};

/* ---- hashing ----------------------------------------------------------------- */

typedef struct rp_keys {
	unsigned char scope[16];  /* keyed BLAKE2b-128 of the scope */
	uint64_t sk;              /* its first 8 bytes: the scope table key */
	unsigned shard;
	uint64_t k0, k1;          /* keyed BLAKE2b-128 of (scope hash, nonce) */
} rp_keys_t;

static uint64_t rp_load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void rp_hash_scope(const mid_replay_t *rp, const char *scope, rp_keys_t *k)
{
	crypto_generichash(k->scope, sizeof k->scope, (const unsigned char *)scope, strlen(scope),
	                   rp->key, sizeof rp->key);
	k->sk = rp_load64(k->scope);
	k->shard = (unsigned)(rp_load64(k->scope + 8) % RP_SHARDS);
}

static void rp_hash_nonce(const mid_replay_t *rp, const char *nonce, rp_keys_t *k)
{
	crypto_generichash_state st;
	unsigned char h[16];
	crypto_generichash_init(&st, rp->key, sizeof rp->key, sizeof h);
	crypto_generichash_update(&st, k->scope, sizeof k->scope);
	crypto_generichash_update(&st, (const unsigned char *)nonce, strlen(nonce));
	crypto_generichash_final(&st, h, sizeof h);
	k->k0 = rp_load64(h);
	k->k1 = rp_load64(h + 8);
}

/* ---- nonce set ---------------------------------------------------------------- */

static rp_slot_t *rp_find(rp_shard_t *sh, uint64_t k0, uint64_t k1)
{
	size_t mask, i;
	if (!sh->cap)
		return NULL;
	mask = sh->cap - 1;
	for (i = k0 & mask; sh->slots[i].exp; i = (i + 1) & mask)
		if (sh->slots[i].k0 == k0 && sh->slots[i].k1 == k1)
			return &sh->slots[i];
	return NULL;
}

static void rp_put(rp_slot_t *slots, size_t cap, const rp_slot_t *e)
{
	size_t mask = cap - 1, i;
	for (i = e->k0 & mask; slots[i].exp; i = (i + 1) & mask)
		;
	slots[i] = *e;
}

/* Room for one more key (load stays <= 1/2). 0 or -1 (no memory). */
static int rp_reserve(rp_shard_t *sh)
{
	rp_slot_t *ns;
	size_t ncap, i;
	if ((sh->used + 1) * 2 <= sh->cap)
		return 0;
	ncap = sh->cap ? sh->cap * 2 : RP_MIN_CAP;
	if (!(ns = calloc(ncap, sizeof *ns)))
		return -1;
	for (i = 0; i < sh->cap; i++)
		if (sh->slots[i].exp)
			rp_put(ns, ncap, &sh->slots[i]);
	free(sh->slots);
	sh->slots = ns;
	sh->cap = ncap;
	return 0;
}

/* Remove the entry at s (backward-shift deletion: no tombstones). */
static void rp_del(rp_shard_t *sh, rp_slot_t *s)
{
	size_t mask = sh->cap - 1, i = (size_t)(s - sh->slots), j = i;
	for (;;) {
		size_t home;
		j = (j + 1) & mask;
		if (!sh->slots[j].exp)
			break;
		home = sh->slots[j].k0 & mask;
		/* slot j may move to i unless its home lies cyclically in (i, j] */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		sh->slots[i] = sh->slots[j];
		i = j;
	}
	sh->slots[i].exp = 0;
	sh->used--;
}

/* ---- scopes ------------------------------------------------------------------- */

static rp_scope_t *rp_scope_find(rp_shard_t *sh, uint64_t k)
{
	size_t mask, i;
	if (!sh->scap)
		return NULL;
	mask = sh->scap - 1;
	for (i = k & mask; sh->scopes[i].used; i = (i + 1) & mask)
		if (sh->scopes[i].k == k)
			return &sh->scopes[i];
	return NULL;
}

static rp_scope_t *rp_scope_put(rp_scope_t *tab, size_t cap, const rp_scope_t *e)
{
	size_t mask = cap - 1, i;
	for (i = e->k & mask; tab[i].used; i = (i + 1) & mask)
		;
	tab[i] = *e;
	return &tab[i];
}

/* The scope record for k, created (count 0) when absent; NULL: no memory. */
static rp_scope_t *rp_scope_get(rp_shard_t *sh, uint64_t k)
{
	rp_scope_t *s = rp_scope_find(sh, k), e;
	if (s)
		return s;
	if ((sh->sused + 1) * 2 > sh->scap) {
		size_t ncap = sh->scap ? sh->scap * 2 : RP_MIN_CAP, i;
		rp_scope_t *nt = calloc(ncap, sizeof *nt);
		if (!nt)
			return NULL;
		for (i = 0; i < sh->scap; i++)
			if (sh->scopes[i].used)
				rp_scope_put(nt, ncap, &sh->scopes[i]);
		free(sh->scopes);
		sh->scopes = nt;
		sh->scap = ncap;
	}
	memset(&e, 0, sizeof e);
	e.k = k;
	e.used = 1;
	sh->sused++;
	return rp_scope_put(sh->scopes, sh->scap, &e);
}

static void rp_scope_del(rp_shard_t *sh, rp_scope_t *s)
{
	size_t mask = sh->scap - 1, i = (size_t)(s - sh->scopes), j = i;
	for (;;) {
		size_t home;
		j = (j + 1) & mask;
		if (!sh->scopes[j].used)
			break;
		home = sh->scopes[j].k & mask;
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		sh->scopes[i] = sh->scopes[j];
		i = j;
	}
	sh->scopes[i].used = 0;
	sh->sused--;
}

/* ---- expiry heap -------------------------------------------------------------- */

static int rp_heap_push(rp_shard_t *sh, const rp_heap_t *e)
{
	size_t i;
	if (sh->hlen == sh->hcap) {
		size_t ncap = sh->hcap ? sh->hcap * 2 : RP_MIN_CAP;
		rp_heap_t *nh = realloc(sh->heap, ncap * sizeof *nh);
		if (!nh)
			return -1;
		sh->heap = nh;
		sh->hcap = ncap;
	}
	for (i = sh->hlen++; i > 0; i = (i - 1) / 2) {
		size_t p = (i - 1) / 2;
		if (sh->heap[p].exp <= e->exp)
			break;
		sh->heap[i] = sh->heap[p];
	}
	sh->heap[i] = *e;
	return 0;
}

static void rp_heap_pop(rp_shard_t *sh)
{
	rp_heap_t last = sh->heap[--sh->hlen];
	size_t i = 0, n = sh->hlen;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && sh->heap[c + 1].exp < sh->heap[c].exp)
			c++;
		if (last.exp <= sh->heap[c].exp)
			break;
		sh->heap[i] = sh->heap[c];
		i = c;
	}
	if (n)
		sh->heap[i] = last;
}

/* Drop every entry of the shard whose window is over (caller holds mu). */
static void rp_evict(mid_replay_t *rp, rp_shard_t *sh, int64_t now_ms)
{
	size_t dropped = 0;
	while (sh->hlen && sh->heap[0].exp <= now_ms) {
		const rp_heap_t *h = &sh->heap[0];
		rp_slot_t *s = rp_find(sh, h->k0, h->k1);
		rp_scope_t *sc = rp_scope_find(sh, h->sk);
		if (s) {
			rp_del(sh, s);
			dropped++;
		}
		if (sc && sc->count && --sc->count == 0)
			rp_scope_del(sh, sc);
		rp_heap_pop(sh);
	}
	if (dropped)
		__atomic_fetch_sub(&rp->total, dropped, __ATOMIC_RELAXED);
}

/* ---- public ------------------------------------------------------------------- */

int mid_replay_new(int64_t start_ms, size_t per_scope_max, size_t total_max,
                   mid_replay_t **out, mid_error_t *err)
{
	mid_replay_t *rp;
	*out = NULL;
	if (per_scope_max < 1 || total_max < 1 || per_scope_max > UINT32_MAX)
		return mid_error_set(err, MID_EINVAL, 0, "replay cache: bounds must be >= 1");
	if (sodium_init() < 0)
		return mid_error_set(err, MID_EINTERNAL, 0, "libsodium failed to initialise");
	if (!(rp = calloc(1, sizeof *rp)))
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	rp->start_ms = start_ms;
	rp->per_scope_max = per_scope_max;
	rp->total_max = total_max;
	randombytes_buf(rp->key, sizeof rp->key);
	for (int i = 0; i < RP_SHARDS; i++)
		pthread_mutex_init(&rp->shards[i].mu, NULL);
	*out = rp;
	return MID_OK;
}

void mid_replay_free(mid_replay_t *rp)
{
	if (!rp)
		return;
	for (int i = 0; i < RP_SHARDS; i++) {
		rp_shard_t *sh = &rp->shards[i];
		pthread_mutex_destroy(&sh->mu);
		free(sh->slots);
		free(sh->scopes);
		free(sh->heap);
	}
	sodium_memzero(rp->key, sizeof rp->key);
	free(rp);
}

int mid_replay_check(mid_replay_t *rp, const char *scope, const char *nonce, int64_t stamp_ms,
                     int64_t expires_ms, int64_t now_ms)
{
	rp_keys_t k;
	rp_shard_t *sh;
	rp_scope_t *sc;
	rp_slot_t e;
	rp_heap_t h;
	int swept = 0, res;

	if (stamp_ms < rp->start_ms || expires_ms <= now_ms)
		return MID_REPLAY_STALE;
	rp_hash_scope(rp, scope, &k);
	rp_hash_nonce(rp, nonce, &k);
	sh = &rp->shards[k.shard];
again:
	pthread_mutex_lock(&sh->mu);
	rp_evict(rp, sh, now_ms);
	if (rp_find(sh, k.k0, k.k1)) {
		res = MID_REPLAY_SEEN;
		goto out;
	}
	sc = rp_scope_find(sh, k.sk);
	if (sc && sc->count >= rp->per_scope_max) {
		res = MID_REPLAY_SCOPE_FULL;
		goto out;
	}
	if (__atomic_fetch_add(&rp->total, 1, __ATOMIC_RELAXED) >= rp->total_max) {
		__atomic_fetch_sub(&rp->total, 1, __ATOMIC_RELAXED);
		if (!swept) {
			/* other shards may hold entries past their window that no call
			 * has dropped yet: drop them (one shard lock at a time), retry */
			pthread_mutex_unlock(&sh->mu);
			for (int i = 0; i < RP_SHARDS; i++) {
				pthread_mutex_lock(&rp->shards[i].mu);
				rp_evict(rp, &rp->shards[i], now_ms);
				pthread_mutex_unlock(&rp->shards[i].mu);
			}
			swept = 1;
			goto again;
		}
		res = MID_REPLAY_FULL;
		goto out;
	}
	h.exp = expires_ms;
	h.k0 = k.k0;
	h.k1 = k.k1;
	h.sk = k.sk;
	if (rp_reserve(sh) != 0 || !(sc = rp_scope_get(sh, k.sk)) || rp_heap_push(sh, &h) != 0) {
		/* nothing was inserted yet; an empty scope record may stay: harmless */
		__atomic_fetch_sub(&rp->total, 1, __ATOMIC_RELAXED);
		res = MID_REPLAY_FULL;
		goto out;
	}
	e.k0 = k.k0;
	e.k1 = k.k1;
	e.exp = expires_ms;
	rp_put(sh->slots, sh->cap, &e);
	sh->used++;
	sc->count++;
	res = MID_REPLAY_FRESH;
out:
	pthread_mutex_unlock(&sh->mu);
	sodium_memzero(&k, sizeof k);
	return res;
}

int mid_replay_touch_due(mid_replay_t *rp, const char *scope, int64_t now_ms, int64_t every_ms)
{
	rp_keys_t k;
	rp_shard_t *sh;
	rp_scope_t *sc;
	int due = 1;

	rp_hash_scope(rp, scope, &k);
	sh = &rp->shards[k.shard];
	pthread_mutex_lock(&sh->mu);
	sc = rp_scope_find(sh, k.sk);
	if (sc) {
		if (sc->touched && now_ms - sc->touched < every_ms && now_ms >= sc->touched)
			due = 0;
		else
			sc->touched = now_ms;
	}
	pthread_mutex_unlock(&sh->mu);
	return due;
}

size_t mid_replay_count(mid_replay_t *rp)
{
	return __atomic_load_n(&rp->total, __ATOMIC_RELAXED);
}

int64_t mid_replay_start(const mid_replay_t *rp)
{
	return rp->start_ms;
}
