/* tests/modules/broken.c -- deliberately broken connector modules for the
 * plugin host tests. One source, built several times with a BROKEN_*
 * macro, each giving one way a module can be wrong. */
#include <stdio.h>
#include "mobileid/connector.h"

static int bk_open(const mid_host_t *host, const char *settings, void **inst,
                   mid_error_t *err)
{
	(void)host; (void)settings;
#ifdef BROKEN_FAILOPEN
	*inst = NULL;
	return mid_error_set(err, MID_EAUTH, 0, "failopen: the PACS refused our key");
#else
	static int dummy;
	(void)err;
	*inst = &dummy;
	return MID_OK;
#endif
}

static void bk_close(void *inst) { (void)inst; }

static int bk_pull(void *inst, const mid_pull_req_t *req, const mid_pull_sink_t *sink,
                   mid_pull_result_t *res, mid_error_t *err)
{
	(void)inst; (void)req; (void)sink; (void)err;
	res->complete = 1;
	return MID_OK;
}

#ifdef BROKEN_NOSYM
const mid_connector_t not_the_descriptor = {
#else
const mid_connector_t mid_connector = {
#endif
#ifdef BROKEN_BADABI
	.abi_major = MID_CONNECTOR_ABI_MAJOR + 1,
#else
	.abi_major = MID_CONNECTOR_ABI_MAJOR,
#endif
#ifdef BROKEN_NEWMINOR
	.abi_minor = MID_CONNECTOR_ABI_MINOR + 7,
#else
	.abi_minor = MID_CONNECTOR_ABI_MINOR,
#endif
#ifdef BROKEN_SMALL
	.struct_size = 16,
#else
	.struct_size = sizeof(mid_connector_t),
#endif
	.name = BROKEN_NAME,
	.version = "0.0.1",
	.description = "a broken module for tests",
#ifdef BROKEN_CAPS
	.capabilities = MID_CAP_PULL_FULL | MID_CAP_PUSH_UPSERT, /* push is NULL */
#else
	.capabilities = MID_CAP_PULL_FULL,
#endif
	.settings_schema = "{\"type\":\"object\"}",
	.open = bk_open,
	.close = bk_close,
	.pull = bk_pull,
};
