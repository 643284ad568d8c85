/* gateway/replay.h -- the in-memory replay cache of the HTTP API: which
 * (scope, nonce) pairs were accepted within their replay window, shared by
 * the server's worker threads, with no store write per request.
 *
 * Rules (the reasoning is in docs/api.md, "Replay defence"):
 *  - a pair is remembered until its window ends (`expires_ms`, given by
 *    the caller: the request's timestamp plus the accepted clock skew);
 *    while it is remembered the same pair is a replay;
 *  - nothing survives a restart, so a request whose timestamp is before
 *    the cache's start (`start_ms`) is refused: anything captured before
 *    the restart carries such a timestamp;
 *  - memory is bounded: at most `per_scope_max` live pairs per scope (a
 *    device or a reader) and `total_max` in all; when a bound is reached
 *    the request is refused, never an entry forgotten early.
 *
 * Keys are SipHash-128 (libsodium crypto_shorthash_siphashx24) of the
 * scope and nonce under a random key drawn at creation, so a client can
 * neither pick colliding nonces nor guess the table layout. A collision
 * could only make a fresh nonce look used (a refusal), never let a replay
 * through.
 *
 * Thread safety: every function may be called from any thread at once on
 * the same cache except mid_replay_free. The cache is split into shards by
 * scope, each behind its own mutex; the total is an atomic counter.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "mobileid/connector.h"

typedef struct mid_replay mid_replay_t;

/* What mid_replay_check found. */
enum mid_replay_result {
	MID_REPLAY_FRESH = 0,   /* not seen: now remembered until expires_ms */
	MID_REPLAY_SEEN,        /* a replay: this scope used this nonce within its window */
	MID_REPLAY_STALE,       /* stamp before the cache's start, or the window already over */
	MID_REPLAY_SCOPE_FULL,  /* this scope holds per_scope_max live nonces: refused */
	MID_REPLAY_FULL,        /* the cache holds total_max live nonces (or no memory): refused */
};

/* A new empty cache that refuses stamps before start_ms. per_scope_max and
 * total_max bound the live entries (both >= 1). *out: new, freed with
 * mid_replay_free. MID_EINVAL for bad bounds, MID_ENOMEM. */
int mid_replay_new(int64_t start_ms, size_t per_scope_max, size_t total_max,
                   mid_replay_t **out, mid_error_t *err);

/* Free the cache (NULL allowed). No other call may be running on it. */
void mid_replay_free(mid_replay_t *rp);

/* Check and record nonce `nonce` of scope `scope` (both NUL-terminated,
 * borrowed) for a request stamped stamp_ms whose replay window ends at
 * expires_ms; now_ms is the current time (entries with expires <= now_ms
 * are dropped first). Returns an enum mid_replay_result; only
 * MID_REPLAY_FRESH records the pair. */
int mid_replay_check(mid_replay_t *rp, const char *scope, const char *nonce, int64_t stamp_ms,
                     int64_t expires_ms, int64_t now_ms);

/* Whether the caller should record "last seen" for `scope` now: returns 1
 * for one caller at most every every_ms per scope (the time is kept in
 * memory with the scope's entries), 0 otherwise. Only scopes holding live
 * nonces are tracked; for any other scope this returns 1. */
int mid_replay_touch_due(mid_replay_t *rp, const char *scope, int64_t now_ms, int64_t every_ms);

/* Live entries (all scopes; entries past their window that no call has
 * dropped yet included). */
size_t mid_replay_count(mid_replay_t *rp);

/* The start time given to mid_replay_new. */
int64_t mid_replay_start(const mid_replay_t *rp);
