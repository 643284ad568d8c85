/* connectors/null/null.c -- the smallest complete connector.
 *
 * A worked example of the module ABI in <mobileid/connector.h>, also used
 * by the tests. It owns no external system: pull() makes `count` people
 * named from `prefix`, push() accepts every record (or fails, as the
 * settings say, so outbox retries can be tested), test() always passes.
 *
 * Settings (schemas/connector-null.schema.json):
 *   count        number of records a pull produces (default 3, max 10^7)
 *   prefix       external id prefix (default "null-")
 *   push_result  "ok" | "retryable" | "permanent" (default "ok")
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "mobileid/connector.h"

typedef struct nl_conf {      /* read-only after open */
	long long count;
	char prefix[64];
	int push_result;      /* 0 ok, 1 retryable, 2 permanent */
} nl_conf_t;

typedef struct nl_state {     /* mutable run state */
	unsigned long long pushed;
} nl_state_t;

typedef struct nl_inst {
	const mid_host_t *host;
	nl_conf_t conf;
	nl_state_t st;
} nl_inst_t;

static const char nl_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"count\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000000,"
	"\"description\":\"records a pull produces\"},"
	"\"prefix\":{\"type\":\"string\",\"maxLength\":32,"
	"\"description\":\"external id prefix\"},"
	"\"push_result\":{\"enum\":[\"ok\",\"retryable\",\"permanent\"],"
	"\"description\":\"what every push answers\"}}}";

static void nl_log(const nl_inst_t *in, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	in->host->log(in->host->ctx, level, fmt, ap);
	va_end(ap);
}

static int nl_open(const mid_host_t *host, const char *settings_json,
                   void **instance, mid_error_t *err)
{
	json_error_t jerr;
	json_t *s = NULL;
	nl_inst_t *in = calloc(1, sizeof *in);
	int rc;

	if (!in)
		return mid_error_set(err, MID_ENOMEM, 0, "out of memory");
	in->host = host;
	in->conf.count = 3;
	snprintf(in->conf.prefix, sizeof in->conf.prefix, "null-");
	s = json_loads(settings_json ? settings_json : "{}", 0, &jerr);
	if (!s || !json_is_object(s)) {
		rc = mid_error_set(err, MID_EINVAL, 0, "null: settings are not a JSON object");
		goto error;
	}
	json_t *v;
	if ((v = json_object_get(s, "count"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			rc = mid_error_set(err, MID_EINVAL, 0,
			                   "null: settings.count must be a non-negative integer");
			goto error;
		}
		in->conf.count = json_integer_value(v);
	}
	if ((v = json_object_get(s, "prefix")) && json_is_string(v))
		snprintf(in->conf.prefix, sizeof in->conf.prefix, "%s", json_string_value(v));
	if ((v = json_object_get(s, "push_result")) && json_is_string(v)) {
		const char *r = json_string_value(v);
		in->conf.push_result = strcmp(r, "retryable") == 0 ? 1
		                     : strcmp(r, "permanent") == 0 ? 2 : 0;
	}
	json_decref(s);
	*instance = in;
	return MID_OK;
error:
	json_decref(s);
	free(in);
	return rc;
}

static void nl_close(void *instance)
{
	free(instance);
}

static int nl_test(void *instance, mid_check_t *checks, size_t max, size_t *n,
                   mid_error_t *err)
{
	(void)instance;
	(void)err;
	*n = 0;
	if (max < 1)
		return MID_OK;
	checks[0].name = "reachability";
	checks[0].state = MID_CHECK_OK;
	snprintf(checks[0].detail, sizeof checks[0].detail, "the null connector is always reachable");
	*n = 1;
	return MID_OK;
}

static int nl_pull(void *instance, const mid_pull_req_t *req,
                   const mid_pull_sink_t *sink, mid_pull_result_t *result,
                   mid_error_t *err)
{
	nl_inst_t *in = instance;
	char id[96], emp[32], given[32], family[32], email[96];
	const char *vid[1] = { emp }, *vg[1] = { given }, *vf[1] = { family },
	           *ve[1] = { email };
	mid_field_t fields[4] = {
		{ "employee_id", vid, 1 }, { "given_name", vg, 1 },
		{ "family_name", vf, 1 }, { "email", ve, 1 },
	};
	(void)req;
	for (long long i = 0; i < in->conf.count; i++) {
		snprintf(id, sizeof id, "%s%lld", in->conf.prefix, i + 1);
		snprintf(emp, sizeof emp, "E%06lld", i + 1);
		snprintf(given, sizeof given, "Given%lld", i + 1);
		snprintf(family, sizeof family, "Family%lld", i + 1);
		snprintf(email, sizeof email, "given%lld.family@null.example", i + 1);
		mid_record_t rec = { .op = MID_OP_UPSERT, .external_id = id,
		                     .fields = fields, .nfields = 4,
		                     .source_pos = (uint64_t)i + 1 };
		int rc = sink->record(sink->ctx, &rec, err);
		if (rc != MID_OK)
			return rc;
		if (sink->progress && (i + 1) % 1000 == 0)
			sink->progress(sink->ctx, (uint64_t)i + 1, (uint64_t)in->conf.count);
	}
	if (sink->checkpoint) {
		int rc = sink->checkpoint(sink->ctx, "end", err);
		if (rc != MID_OK)
			return rc;
	}
	result->complete = 1;
	snprintf(result->source, sizeof result->source, "null:%lld", in->conf.count);
	return MID_OK;
}

static int nl_push(void *instance, const mid_record_t *rec,
                   mid_push_result_t *result, mid_error_t *err)
{
	nl_inst_t *in = instance;
	if (in->conf.push_result == 1)
		return mid_error_set(err, MID_EIO, 1, "null: push refused (retryable, as configured)");
	if (in->conf.push_result == 2)
		return mid_error_set(err, MID_EINVAL, 0, "null: push refused (permanent, as configured)");
	in->st.pushed++;
	if (rec->op == MID_OP_UPSERT && (!rec->external_id || !*rec->external_id))
		snprintf(result->external_id, sizeof result->external_id, "%spushed-%llu",
		         in->conf.prefix, in->st.pushed);
	nl_log(in, MID_LOG_DEBUG, "accepted %s of %s", rec->op == MID_OP_DELETE ? "remove" : "upsert",
	       rec->external_id && *rec->external_id ? rec->external_id : result->external_id);
	return MID_OK;
}

/* The one exported symbol. */
const mid_connector_t mid_connector = {
	.abi_major = MID_CONNECTOR_ABI_MAJOR,
	.abi_minor = MID_CONNECTOR_ABI_MINOR,
	.struct_size = sizeof(mid_connector_t),
	.name = "null",
	.version = "1.0.0",
	.description = "example connector: synthetic people, accepts every push",
	.capabilities = MID_CAP_PULL_FULL | MID_CAP_PUSH_UPSERT | MID_CAP_PUSH_REMOVE | MID_CAP_TEST,
	.settings_schema = nl_schema,
	.open = nl_open,
	.close = nl_close,
	.test = nl_test,
	.pull = nl_pull,
	.push = nl_push,
	.flush = NULL,
};
