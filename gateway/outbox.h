/* gateway/outbox.h -- the outbound half of a sync: queue local changes for
 * every outbound binding, and push them to the PACS with retry.
 *
 * Local changes (a person added or changed in the gateway, a Mobile ID
 * issued, suspended or revoked) are queued with mid_outbox_enqueue_person()
 * inside the caller's store transaction, so the change and its outbox
 * entries commit (or roll back) together. One entry is queued per binding
 * whose direction is outbound or both (and that is enabled).
 *
 * The pusher (mid_outbox_push) takes the due entries of one binding, maps
 * each back through the binding's outbound mapping, calls the connector's
 * push and finally flush, and classifies each result:
 *   - success: the entry is done; the link (binding, external id) gets the
 *     sent content hash (echo suppression) and, for a new record, the
 *     external id the PACS gave it;
 *   - retryable (err.retryable == 1): tried again later, at now + backoff
 *     (exponential with jitter, see mid_outbox_backoff_ms);
 *   - permanent: the entry moves to the dead-letter list, which
 *     `mobileidctl outbox list --dead` shows and `outbox retry` replays.
 * Nothing is dropped while a PACS is unreachable: entries stay pending.
 */
#pragma once
#include <stdint.h>
#include "mobileid/connector.h"
#include "gateway/instance.h"

/* Backoff schedule of retryable push failures. */
typedef struct mid_backoff {
	int64_t base_ms;  /* delay after the first failure; default 5000 */
	int64_t cap_ms;   /* the delay never exceeds this; default 3600000 */
	double jitter;    /* 0..1: the delay is drawn from [d*(1-jitter), d]; default 0.5 */
	int max_attempts; /* after this many retryable failures the entry is
	                     dead-lettered; 0 = never (default) */
} mid_backoff_t;

/* The defaults above. */
void mid_backoff_default(mid_backoff_t *b);

/* The delay before attempt number `attempts` + 1, after `attempts` (>= 1)
 * failed attempts: d = min(cap, base * 2^(attempts-1)), then jittered down
 * by up to jitter*d using `rnd` (a uniform value in [0, 1); pass a fixed
 * value in tests, randombytes-based mid_backoff_random() otherwise). Pure
 * function; owns nothing. */
int64_t mid_backoff_ms(const mid_backoff_t *b, int attempts, double rnd);

/* A uniform random double in [0, 1) from libsodium. */
double mid_backoff_random(void);

/* Queue the current canonical person `person_id` (and their active
 * credentials) for every enabled binding of `in` whose direction is
 * outbound or both. op is MID_OP_UPSERT or MID_OP_DELETE. Call inside the
 * caller's store transaction (mid_store_begin ... commit) so the change and
 * its outbox entries land together; outside a transaction each entry is its
 * own write. Returns MID_OK (also when there is no outbound binding),
 * MID_ENOTFOUND when the person does not exist (for UPSERT), or a store
 * error. Owns nothing; the caller keeps `in`. */
int mid_outbox_enqueue_person(mid_instance_t *in, const char *person_id, int op,
                              mid_error_t *err);

/* The same for one binding only (used by the sync engine). `b` is borrowed. */
int mid_outbox_enqueue_person_binding(mid_instance_t *in,
                                      const mid_config_binding_t *b,
                                      const char *person_id, int op,
                                      mid_error_t *err);

/* What one push pass did. */
typedef struct mid_push_stats {
	int64_t pushed;   /* entries the PACS accepted */
	int64_t retry;    /* retryable failures (rescheduled) */
	int64_t dead;     /* permanent failures (dead-lettered) */
	int64_t skipped;  /* echo-suppressed: the PACS already has this content */
} mid_push_stats_t;

/* Push every due pending entry of binding `b` through the already opened
 * connector `conn` (mid_conn_open), then flush. `max` bounds the entries
 * pushed (0 = all due). `bo` may be NULL (defaults). Stats are added to
 * *stats (may be NULL). Returns MID_OK when the pass ran (individual
 * entries may still have failed: see stats), or a store error. Owns
 * nothing. */
int mid_outbox_push(mid_instance_t *in, const mid_config_binding_t *b,
                    mid_conn_t *conn, const mid_backoff_t *bo, int64_t max,
                    mid_push_stats_t *stats, mid_error_t *err);

/* Open binding `b`'s connector and push (as mid_outbox_push); for callers
 * that have no connector open (the daemon, `outbox retry`). */
int mid_outbox_push_binding(mid_instance_t *in, const mid_config_binding_t *b,
                            const mid_backoff_t *bo, mid_push_stats_t *stats,
                            mid_error_t *err);
