/* gateway/daemon.c -- see daemon.h.
 *
 * The daemon owns one instance (config, store, secrets, modules) and the
 * HTTP API built on it. The main loop calls mid_daemon_tick when the
 * timeout from mid_daemon_next_timeout_ms expires: every enabled binding
 * with a schedule that is due is run (mid_sync_run takes the binding's
 * lease, so a CLI run at the same moment is refused, not doubled), and
 * every outbound binding's due outbox entries are pushed.
 */
#include <config.h>
#include "gateway/daemon.h"
#include "gateway/api.h"
#include "gateway/instance.h"
#include "gateway/log.h"
#include "gateway/outbox.h"
#include "gateway/sync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The longest the loop sleeps, so outbox retries are picked up. */
#define DM_MAX_SLEEP_MS 30000

struct mid_daemon {
	mid_instance_t *in;
	mid_api_t *api;
	int64_t next_at;   /* wall clock ms of the next tick */
};

static int64_t dm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dm_open(const mid_config_t *cfg, mid_instance_t **in, mid_api_t **api,
                   mid_error_t *err)
{
	int rc = mid_instance_open(cfg->path, MID_INST_SECRETS, "daemon", in, NULL, err);
	if (rc != MID_OK)
		return rc;
	rc = mid_api_start(*in, api, err);
	if (rc != MID_OK) {
		mid_instance_close(*in);
		*in = NULL;
	}
	return rc;
}

int mid_daemon_start(const mid_config_t *cfg, mid_daemon_t **out, mid_error_t *err)
{
	mid_daemon_t *d = calloc(1, sizeof *d);
	if (!d)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	int rc = dm_open(cfg, &d->in, &d->api, err);
	if (rc != MID_OK) {
		free(d);
		return rc;
	}
	d->next_at = dm_now();
	*out = d;
	return MID_OK;
}

int mid_daemon_reload(mid_daemon_t *d, const mid_config_t *cfg, mid_error_t *err)
{
	mid_instance_t *nin = NULL;
	mid_api_t *napi = NULL;
	int rc = mid_instance_open(cfg->path, MID_INST_SECRETS, "daemon", &nin, NULL, err);
	if (rc != MID_OK)
		return rc;
	/* The listen address may be the same: stop the old server first, and
	 * bring it back if the new one cannot start. */
	mid_api_stop(d->api);
	d->api = NULL;
	rc = mid_api_start(nin, &napi, err);
	if (rc != MID_OK) {
		mid_error_t e2 = { 0 };
		mid_instance_close(nin);
		if (mid_api_start(d->in, &d->api, &e2) != MID_OK)
			mid_log(MID_LOG_ERR, "the HTTP API could not be restarted with the old config: %s",
			        e2.text);
		return rc;
	}
	mid_instance_close(d->in);
	d->in = nin;
	d->api = napi;
	d->next_at = dm_now();
	return MID_OK;
}

int mid_daemon_next_timeout_ms(mid_daemon_t *d)
{
	int64_t wait = d->next_at - dm_now();
	if (wait < 0)
		return 0;
	return wait > DM_MAX_SLEEP_MS ? DM_MAX_SLEEP_MS : (int)wait;
}

void mid_daemon_tick(mid_daemon_t *d)
{
	mid_instance_t *in = d->in;
	int64_t now = dm_now(), next = now + DM_MAX_SLEEP_MS;
	for (size_t i = 0; i < in->cfg->nbindings; i++) {
		const mid_config_binding_t *b = &in->cfg->bindings[i];
		mid_error_t err = { 0 };
		int due = 0;
		int64_t next_at = 0;
		if (!b->enabled)
			continue;
		if (b->schedule_seconds > 0 &&
		    mid_sync_due(in, b, now, &due, &next_at, &err) == MID_OK) {
			if (due) {
				mid_sync_opts_t opts = { 0 };
				mid_sync_report_t rep = { 0 };
				int rc = mid_sync_run(in, b->name, &opts, &rep, &err);
				if (rc == MID_OK)
					mid_log(MID_LOG_NOTICE, "binding %s: run %lld ok: %lld seen, %lld created, "
					        "%lld updated, %lld unchanged, %lld suspended, %lld pushed, "
					        "%lld failed, %lld disputed, %lld rejected", b->name,
					        (long long)rep.run_id, (long long)rep.counts.seen,
					        (long long)rep.counts.created, (long long)rep.counts.updated,
					        (long long)rep.counts.unchanged, (long long)rep.counts.suspended,
					        (long long)rep.counts.pushed, (long long)rep.counts.failed,
					        (long long)rep.counts.disputed, (long long)rep.counts.rejected);
				else if (rc == MID_ECONFLICT)
					mid_log(MID_LOG_INFO, "binding %s: skipped: %s", b->name, err.text);
				else
					mid_log(MID_LOG_ERR, "binding %s: run failed: %s", b->name, err.text);
				mid_sync_report_clear(&rep);
				next_at = dm_now() + b->schedule_seconds * 1000;
			}
			if (next_at > 0 && next_at < next)
				next = next_at;
		} else if (err.code) {
			mid_log(MID_LOG_ERR, "binding %s: %s", b->name, err.text);
		}
		if (b->direction & MID_DIRECTION_OUTBOUND) {
			int64_t pending = 0;
			mid_store_outbox_count(in->store, b->name, MID_OUTBOX_PENDING, &pending, &err);
			if (pending > 0) {
				mid_push_stats_t st = { 0 };
				if (mid_outbox_push_binding(in, b, NULL, &st, &err) != MID_OK)
					mid_log(MID_LOG_ERR, "binding %s: push failed: %s", b->name, err.text);
				else if (st.pushed || st.dead || st.retry)
					mid_log(MID_LOG_INFO, "binding %s: pushed %lld, retry later %lld, dead %lld",
					        b->name, (long long)st.pushed, (long long)st.retry,
					        (long long)st.dead);
			}
		}
	}
	d->next_at = next;
}

void mid_daemon_stop(mid_daemon_t *d)
{
	if (!d)
		return;
	mid_api_stop(d->api);
	mid_instance_close(d->in);
	free(d);
}
