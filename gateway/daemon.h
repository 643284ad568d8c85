/* gateway/daemon.h -- what mobileidd runs between start and stop: the
 * binding scheduler and the HTTP API. The main loop in mobileidd.c owns
 * signals and the config; this part owns the work. */
#pragma once
#include "gateway/config.h"

typedef struct mid_daemon mid_daemon_t;

/* Start with `cfg` (borrowed until the next reload or stop). */
int mid_daemon_start(const mid_config_t *cfg, mid_daemon_t **out, mid_error_t *err);
/* Switch to a new, already validated config. On failure the daemon keeps
 * the old config and err says why. */
int mid_daemon_reload(mid_daemon_t *d, const mid_config_t *cfg, mid_error_t *err);
/* Milliseconds until the next scheduled work (-1: none). */
int mid_daemon_next_timeout_ms(mid_daemon_t *d);
/* Run whatever is due. */
void mid_daemon_tick(mid_daemon_t *d);
/* Stop everything and free the daemon; NULL is allowed. */
void mid_daemon_stop(mid_daemon_t *d);
