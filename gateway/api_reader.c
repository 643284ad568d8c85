/* gateway/api_reader.c -- the reader API: reader token authentication, the
 * signed bundle (full or delta) and online verification of a presentation
 * (against a bundle built now, so a revocation takes effect at once). */
#include <config.h>
#include "gateway/api_int.h"
#include "gateway/issuer.h"
#include "gateway/keys.h"
#include "gateway/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define VERIFY_CHALLENGE_TTL_S 30
#define VERIFY_CHAL_MAX 128     /* > MID_CHALLENGE_MAX_SIZE */
#define VERIFY_PRES_MAX 1024    /* > MID_PRESENTATION_MAX_SIZE */

/* "Authorization: Bearer TOKEN" -> TOKEN, or NULL. */
static const char *bearer(mid_api_req_t *r)
{
	const char *h = mid_api_header(r, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

int mid_api_reader_auth(mid_api_req_t *r)
{
	const char *tok = bearer(r);
	mid_reader_t rd;
	mid_error_t err = { 0 };
	int rc;

	if (!tok)
		return mid_api_problem(r, 401, "unauthenticated", "Unauthenticated",
		                       "a reader token is required (Authorization: Bearer ...)"), 1;
	rc = mid_readers_auth(&r->inst, tok, &rd, &err);
	if (rc == MID_EAUTH || rc == MID_ENOTFOUND)
		return mid_api_problem(r, 401, "unauthenticated", "Unauthenticated",
		                       "the reader token is not valid"), 1;
	if (rc != MID_OK)
		return mid_api_error(r, &err), 1;
	snprintf(r->auth.reader_id, sizeof r->auth.reader_id, "%s", rd.id);
	snprintf(r->inst.actor, sizeof r->inst.actor, "reader:%s", rd.id);
	return 0;
}

int mid_api_h_reader_bundle(mid_api_req_t *r)
{
	const char *since_s = mid_api_query(r, "since");
	unsigned long long since = 0;
	unsigned char *buf = NULL;
	size_t len = 0;
	uint64_t version = 0;
	int is_delta = 0, rc;
	mid_error_t err = { 0 };
	char vbuf[32];

	if (since_s) {
		char *end = NULL;
		errno = 0;
		since = strtoull(since_s, &end, 10);
		if (!*since_s || *end || errno || since_s[0] == '-')
			return mid_api_problem(r, 400, "invalid-request", "Invalid request",
			                       "since must be a bundle version (a non-negative integer)");
	}
	if (!r->inst.secrets)
		return mid_api_problem(r, 503, "unavailable", "Service unavailable",
		                       "the master key is not readable by the daemon: cannot sign bundles");
	rc = mid_issuer_bundle(&r->inst, since, &buf, &len, &version, &is_delta, &err);
	if (rc == MID_ECONFLICT) {
		/* up to date: 304 with no body */
		mid_api_bytes(r, 304, "application/octet-stream", "", 0);
		snprintf(vbuf, sizeof vbuf, "%llu", (unsigned long long)since);
		mid_api_resp_header(r, "X-Bundle-Version", vbuf);
		return 0;
	}
	if (rc != MID_OK)
		return mid_api_error(r, &err);
	mid_api_bytes(r, 200, "application/octet-stream", buf, len);
	free(buf);
	snprintf(vbuf, sizeof vbuf, "%llu", (unsigned long long)version);
	mid_api_resp_header(r, "X-Bundle-Version", vbuf);
	mid_api_resp_header(r, "X-Bundle-Kind", is_delta ? "delta" : "full");
	return 0;
}

static json_t *verdict_json(const mid_api_verdict_t *v, const char *cred_id)
{
	json_t *j;
	if (!v->allow) {
		j = json_pack("{s:s, s:s, s:s}", "result", "deny", "reason", v->reason, "detail", v->detail);
		if (j && cred_id && *cred_id)
			json_object_set_new(j, "credential_id", json_string(cred_id));
		return j;
	}
	j = json_pack("{s:s, s:s, s:I, s:I, s:s, s:i}", "result", "allow", "format", v->format,
	              "facility_code", (json_int_t)v->facility_code, "card_number",
	              (json_int_t)v->card_number, "bits", v->bits, "bit_count", v->bit_count);
	if (j && cred_id && *cred_id)
		json_object_set_new(j, "credential_id", json_string(cred_id));
	return j;
}

int mid_api_h_reader_verify(mid_api_req_t *r)
{
	json_t *body;
	const char *chal_b64 = NULL, *pres_b64 = NULL;
	uint8_t chal[VERIFY_CHAL_MAX], pres[VERIFY_PRES_MAX], rid[16], crid[16];
	long chal_len, pres_len;
	unsigned char *bundle = NULL;
	size_t bundle_len = 0;
	mid_api_verdict_t v;
	mid_credential_t cred;
	mid_error_t err = { 0 };
	json_error_t je;
	char nonce_hex[65], scope[MID_ID_LEN + 8], cred_id[MID_ID_LEN] = "";
	int64_t ts = 0, now = mid_api_now_ms();
	int rc;

	memset(&cred, 0, sizeof cred);
	memset(&v, 0, sizeof v);
	if (!(body = mid_api_body(r)))
		return 0;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s}", "challenge", &chal_b64,
	                   "presentation", &pres_b64) != 0) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body",
		                "expected {\"challenge\", \"presentation\"} (base64url): %s", je.text);
		goto out;
	}
	chal_len = mid_api_unb64url(chal_b64, chal, sizeof chal);
	pres_len = mid_api_unb64url(pres_b64, pres, sizeof pres);
	if (chal_len < 0 || pres_len < 0) {
		/* too long for any valid record, or not base64url */
		if (strlen(pres_b64) > (sizeof pres) * 4 / 3 || strlen(chal_b64) > (sizeof chal) * 4 / 3) {
			snprintf(v.reason, sizeof v.reason, "oversized");
			snprintf(v.detail, sizeof v.detail, "the challenge or presentation is longer than any valid one");
		} else {
			snprintf(v.reason, sizeof v.reason, "malformed");
			snprintf(v.detail, sizeof v.detail, "the challenge or presentation is not base64url");
		}
		mid_api_count_verify(r->api, v.reason);
		mid_api_json(r, 200, verdict_json(&v, NULL));
		goto out;
	}
	if (mid_api_uuid_parse(r->auth.reader_id, rid) != 0) {
		mid_api_problem(r, 500, "internal", "Internal error", "reader id is not a UUID");
		goto out;
	}
	if (!r->inst.secrets) {
		mid_api_problem(r, 503, "unavailable", "Service unavailable",
		                "the master key is not readable by the daemon: cannot build the bundle");
		goto out;
	}
	if ((rc = mid_issuer_bundle(&r->inst, 0, &bundle, &bundle_len, NULL, NULL, &err)) != MID_OK) {
		mid_api_error(r, &err);
		goto out;
	}
	if (mid_api_verify_presentation(bundle, bundle_len, rid, chal, (size_t)chal_len, pres,
	                                (size_t)pres_len, now / 1000, VERIFY_CHALLENGE_TTL_S, &v) != 0) {
		mid_api_problem(r, 500, "internal", "Internal error", "the current bundle does not load");
		goto out;
	}
	if (v.have_wire_id && mid_issuer_find_wire(&r->inst, v.wire_id, &cred, &err) == MID_OK)
		snprintf(cred_id, sizeof cred_id, "%s", cred.id);
	if (v.allow) {
		/* the store has the last word: status now, and one answer per challenge */
		if (!cred_id[0]) {
			v.allow = 0;
			snprintf(v.reason, sizeof v.reason, "unknown_credential");
			snprintf(v.detail, sizeof v.detail, "the gateway does not know this credential");
		} else if (cred.status != MID_CRED_ACTIVE) {
			v.allow = 0;
			snprintf(v.reason, sizeof v.reason, "%s",
			         cred.status == MID_CRED_REVOKED ? "revoked"
			         : cred.status == MID_CRED_EXPIRED ? "expired" : "suspended");
			snprintf(v.detail, sizeof v.detail, "the credential is %s",
			         mid_cred_status_name(cred.status));
		}
	}
	if (v.allow) {
		if (mid_api_challenge_info(chal, (size_t)chal_len, nonce_hex, crid, &ts) != 0) {
			mid_api_problem(r, 500, "internal", "Internal error", "challenge does not decode");
			goto out;
		}
		/* one answer per challenge, in memory (docs/api.md "Replay defence"):
		 * kept for twice the challenge lifetime; a challenge made before the
		 * gateway started is refused, whether or not it was answered then */
		snprintf(scope, sizeof scope, "reader:%s", r->auth.reader_id);
		switch (mid_replay_check(mid_api_replay(r->api), scope, nonce_hex, ts * 1000,
		                         now + 2 * VERIFY_CHALLENGE_TTL_S * 1000, now)) {
		case MID_REPLAY_FRESH:
			break;
		case MID_REPLAY_SEEN:
			v.allow = 0;
			snprintf(v.reason, sizeof v.reason, "replay");
			snprintf(v.detail, sizeof v.detail, "this challenge was already answered");
			break;
		case MID_REPLAY_STALE:
			v.allow = 0;
			snprintf(v.reason, sizeof v.reason, "challenge_expired");
			snprintf(v.detail, sizeof v.detail,
			         "the challenge was made before the gateway started: make a new one");
			break;
		default:
			mid_api_problem(r, 503, "unavailable", "Service unavailable",
			                "too many answered challenges within their window; try again later");
			mid_api_resp_header(r, "Retry-After", "30");
			goto out;
		}
	}
	mid_api_count_verify(r->api, v.reason);
	mid_log(MID_LOG_INFO, "api: reader %s verify %s%s%s", r->auth.reader_id, v.reason,
	        cred_id[0] ? " credential " : "", cred_id);
	mid_api_json(r, 200, verdict_json(&v, cred_id));
out:
	free(bundle);
	mid_credential_clear(&cred);
	json_decref(body);
	return 0;
}
