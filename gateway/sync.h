/* gateway/sync.h -- the sync engine: one run of one binding (DESIGN.md
 * section 3): pull through the connector, map, correlate, plan, apply in one
 * store transaction per batch, sweep deletes after a completed full pull
 * under the delete guard, push the binding's outbox, and keep a run report.
 *
 * A lease "sync:<binding>" in the store makes sure one binding never runs
 * twice at once, whoever runs it (the daemon, the CLI, another instance).
 */
#pragma once
#include <stdint.h>
#include <jansson.h>
#include "mobileid/connector.h"
#include "gateway/instance.h"

/* How long a run's lease lasts without renewal; a run renews it at every
 * batch. A holder on this host whose process is gone is taken over. */
#define MID_SYNC_LEASE_MS (5 * 60 * 1000)

typedef struct mid_sync_opts {
	int dry_run;            /* plan only: everything runs in one transaction
	                           that is rolled back; the connector leaves its
	                           source as it is; no run report is stored */
	int full;               /* pull everything, ignoring the cursor */
	int64_t allow_deletes;  /* accept up to this many deletes past the guard */
	int no_push;            /* do not push the outbox in this run */
	int64_t batch_size;     /* changed records per transaction when the
	                           connector does not checkpoint (default 1000) */
	size_t examples;        /* examples kept per kind of change (default 5) */
	/* Progress (may be NULL): done and total units of the connector. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
	int64_t (*now_ms)(void); /* clock for tests (NULL: the store's) */
} mid_sync_opts_t;

enum mid_sync_kind { MID_SYNC_CREATE = 0, MID_SYNC_UPDATE, MID_SYNC_SUSPEND,
                     MID_SYNC_PURGE, MID_SYNC_DISPUTE, MID_SYNC_REJECT,
                     MID_SYNC_CONFLICT, MID_SYNC_KINDS };
/* "create", "update", ... (static). */
const char *mid_sync_kind_name(int kind);

typedef struct mid_sync_example {
	int kind;                 /* enum mid_sync_kind */
	char external_id[128];
	char person_id[MID_ID_LEN];
	char detail[256];
} mid_sync_example_t;

/* What a run did. Owned arrays are freed by mid_sync_report_clear. */
typedef struct mid_sync_report {
	int64_t run_id;           /* 0 for a dry run */
	char binding[MID_NAME_LEN];
	int status;               /* enum mid_run_status */
	int dry_run;
	int64_t started, finished;
	mid_run_counts_t counts;
	int64_t purged;           /* persons purged (on_delete purge) */
	int64_t conflicts;        /* fields both sides changed */
	int64_t delete_candidates, delete_total; /* sweep: not seen / linked */
	int64_t outbox_pending;   /* after the run */
	char source[256];         /* what the connector read */
	char message[512];        /* one line for a person */
	mid_sync_example_t *examples;
	size_t nexamples;
} mid_sync_report_t;

void mid_sync_report_clear(mid_sync_report_t *r);
/* The report as a new JSON object (caller decrefs). */
json_t *mid_sync_report_json(const mid_sync_report_t *r);

/* Run binding `name` once. The report is filled in every case (caller
 * clears it). Returns MID_OK when the run finished (status ok), MID_ELIMIT
 * when the delete guard stopped it (status stopped, err says why and how to
 * go on), MID_ECONFLICT when another holder runs the binding (err names
 * it), MID_ENOTFOUND for an unknown binding, or the error that failed the
 * run (status failed; every batch already committed stays). Needs the
 * instance's store. */
int mid_sync_run(mid_instance_t *in, const char *name, const mid_sync_opts_t *opts,
                 mid_sync_report_t *rep, mid_error_t *err);

/* For the daemon: *due = 1 when binding `b` (enabled, with a schedule) is
 * due at `now` (its last run started at least schedule_seconds ago, or it
 * never ran); *next_at (may be NULL) gets the time it is due (0 for a
 * manual binding). */
int mid_sync_due(mid_instance_t *in, const mid_config_binding_t *b, int64_t now,
                 int *due, int64_t *next_at, mid_error_t *err);

/* Planner pieces, exposed for unit tests. */

/* Authority of each canonical field (MID_CF_N entries, plus one for
 * attributes at index MID_CF_N): 0 pacs, 1 gateway. */
enum { MID_AUTH_PACS = 0, MID_AUTH_GATEWAY = 1 };
int mid_sync_authority(const json_t *authority, int auth[], mid_error_t *err);

/* Delete guard: 1 when deleting `candidates` of `total` links exceeds
 * `ratio` and is more than `allowed`. */
int mid_sync_guard_trips(int64_t candidates, int64_t total, double ratio, int64_t allowed);

/* The planner. `np` starts as a copy of the current person (or a fresh one
 * for a create, with gateway_changed 0) and receives the fields of the
 * canonical record `c` (card fields aside). A field that differs is set in
 * *changed (bit 1u << field; MID_CF_N for attributes). When the gateway
 * changed the person since the last sync (gateway_changed) a differing
 * field is a conflict (bit set in *conflicts) and goes to its authority:
 * gateway-owned fields keep the person's value (bit set in *kept). A value
 * that does not fit (an unknown status, a bad date, too long) gives
 * MID_EINVAL with the reason in err. np's owned members are replaced with
 * new strings; the caller clears np. */
struct mid_canon;
int mid_sync_plan(const struct mid_canon *c, const mid_person_t *cur, int gateway_changed,
                  const int auth[], mid_person_t *np, unsigned *changed,
                  unsigned *conflicts, unsigned *kept, mid_error_t *err);

/* Parse an ISO 8601 date or date-time (UTC) to ms; "" gives 0. */
int mid_sync_parse_time(const char *s, int64_t *ms);
/* Format ms as "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ". */
void mid_sync_format_time(int64_t ms, char out[32]);
