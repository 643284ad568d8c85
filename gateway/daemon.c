/* gateway/daemon.c -- see daemon.h. */
#include <config.h>
#include "gateway/daemon.h"
#include "gateway/log.h"

#include <stdlib.h>

struct mid_daemon {
	const mid_config_t *cfg;
};

int mid_daemon_start(const mid_config_t *cfg, mid_daemon_t **out, mid_error_t *err)
{
	mid_daemon_t *d = calloc(1, sizeof *d);
	if (!d)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	d->cfg = cfg;
	*out = d;
	return MID_OK;
}

int mid_daemon_reload(mid_daemon_t *d, const mid_config_t *cfg, mid_error_t *err)
{
	(void)err;
	d->cfg = cfg;
	return MID_OK;
}

int mid_daemon_next_timeout_ms(mid_daemon_t *d)
{
	(void)d;
	return -1;
}

void mid_daemon_tick(mid_daemon_t *d)
{
	(void)d;
}

void mid_daemon_stop(mid_daemon_t *d)
{
	free(d);
}
