/* gateway/api_phone.c -- the phone API: enrollment with an invitation code
 * and the signed credential fetch. Request signing: docs/api.md. */
#include <config.h>
#include "gateway/api_int.h"
#include "gateway/invite.h"
#include "gateway/issuer.h"
#include "gateway/log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define PHONE_SKEW_S 300          /* accepted clock difference, seconds */
#define PHONE_NONCE_MIN 16
#define PHONE_NONCE_MAX 64
#define PHONE_TOUCH_MS 60000      /* last_seen is written at most once a minute */
#define RETRY_AFTER "600"         /* seconds: MID_INVITE_ADDR_WINDOW_MS */

static int b64url_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;
	if (n < min || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

int mid_api_phone_auth(mid_api_req_t *r)
{
	const char *dev = mid_api_header(r, "X-Device-Id");
	const char *ts = mid_api_header(r, "X-Timestamp");
	const char *nonce = mid_api_header(r, "X-Nonce");
	const char *sig = mid_api_header(r, "X-Signature");
	unsigned char sigb[crypto_sign_BYTES];
	char msg[2048], scope[MID_ID_LEN + 8], *end = NULL;
	mid_device_t d;
	mid_error_t err = { 0 };
	long long t;
	int64_t now = mid_api_now_ms();
	int fresh = 0, rc;

	if (!dev || !ts || !nonce || !sig)
		return mid_api_problem(r, 401, "unauthenticated", "Unauthenticated",
		                       "signed request required: X-Device-Id, X-Timestamp, X-Nonce and "
		                       "X-Signature headers"), 1;
	t = strtoll(ts, &end, 10);
	if (!*ts || *end || t <= 0)
		return mid_api_problem(r, 401, "bad-signature", "Unauthenticated",
		                       "X-Timestamp must be unix seconds"), 1;
	if (t * 1000 < now - PHONE_SKEW_S * 1000LL || t * 1000 > now + PHONE_SKEW_S * 1000LL)
		return mid_api_problem(r, 401, "clock-skew", "Unauthenticated",
		                       "X-Timestamp is more than %d s away from the server clock",
		                       PHONE_SKEW_S), 1;
	if (!b64url_chars(nonce, PHONE_NONCE_MIN, PHONE_NONCE_MAX))
		return mid_api_problem(r, 401, "bad-signature", "Unauthenticated",
		                       "X-Nonce must be %d to %d base64url characters", PHONE_NONCE_MIN,
		                       PHONE_NONCE_MAX), 1;
	if (strlen(dev) >= MID_ID_LEN)
		return mid_api_problem(r, 401, "unknown-device", "Unauthenticated", "unknown device"), 1;
	if (mid_api_unb64url(sig, sigb, sizeof sigb) != (long)sizeof sigb)
		return mid_api_problem(r, 401, "bad-signature", "Unauthenticated",
		                       "X-Signature must be a base64url Ed25519 signature"), 1;
	rc = mid_store_device_get(r->inst.store, dev, &d, &err);
	if (rc == MID_ENOTFOUND)
		return mid_api_problem(r, 401, "unknown-device", "Unauthenticated", "unknown device"), 1;
	if (rc != MID_OK)
		return mid_api_error(r, &err), 1;
	if (mid_api_sign_string(r->method, r->path_query, ts, nonce, dev, r->body, r->body_len, msg,
	                        sizeof msg) != MID_OK)
		return mid_api_problem(r, 414, "uri-too-long", "URI too long", "request path too long"), 1;
	if (crypto_sign_verify_detached(sigb, (const unsigned char *)msg, strlen(msg), d.public_key) != 0)
		return mid_api_problem(r, 401, "bad-signature", "Unauthenticated",
		                       "the device signature does not verify"), 1;
	snprintf(scope, sizeof scope, "device:%s", d.id);
	mid_api_write_lock(r->api);
	rc = mid_store_nonce_use(r->inst.store, scope, nonce,
	                         (int64_t)(t + PHONE_SKEW_S + 1) * 1000, &fresh, &err);
	mid_api_write_unlock(r->api);
	if (rc != MID_OK)
		return mid_api_error(r, &err), 1;
	if (!fresh)
		return mid_api_problem(r, 401, "replay", "Unauthenticated",
		                       "this nonce was already used: the request is a replay"), 1;
	if (now - d.last_seen > PHONE_TOUCH_MS)
		(void)mid_store_device_touch(r->inst.store, d.id, now, NULL);
	snprintf(r->auth.device_id, sizeof r->auth.device_id, "%s", d.id);
	snprintf(r->inst.actor, sizeof r->inst.actor, "device:%s", d.id);
	return 0;
}

/* One credential as the phone gets it: the signed bytes and what they say. */
static json_t *cred_json(mid_api_req_t *r, const mid_signed_cred_t *sc)
{
	mid_credential_t c;
	mid_error_t err = { 0 };
	char *b64 = mid_api_b64url(sc->bytes, sc->len);
	json_t *j;

	if (!b64)
		return NULL;
	memset(&c, 0, sizeof c);
	j = json_pack("{s:s, s:s}", "id", sc->credential_id, "credential", b64);
	free(b64);
	if (j && mid_store_credential_get(r->inst.store, sc->credential_id, &c, &err) == MID_OK) {
		json_object_set_new(j, "format", json_string(c.format));
		json_object_set_new(j, "facility_code", json_integer(c.facility_code));
		json_object_set_new(j, "card_number", json_integer(c.card_number));
		json_object_set_new(j, "type", json_string(mid_cred_type_name(c.type)));
		json_object_set_new(j, "valid_from", json_integer(c.valid_from));
		json_object_set_new(j, "valid_until", json_integer(c.valid_until));
		mid_credential_clear(&c);
	}
	return j;
}

int mid_api_h_enroll(mid_api_req_t *r)
{
	json_t *body, *resp = NULL, *arr;
	const char *code = NULL, *pk_b64 = NULL, *platform = "unknown";
	unsigned char pk[32];
	mid_signed_cred_t sc;
	mid_error_t err = { 0 };
	json_error_t je;
	int64_t now = mid_api_now_ms();
	int rc;
	size_t i;

	if (!mid_invite_addr_allowed(r->client, now)) {
		mid_api_count_enroll(r->api, 0);
		mid_api_problem(r, 429, "rate-limited", "Too many requests",
		                "too many failed enrollments from this address; try again later");
		mid_api_resp_header(r, "Retry-After", RETRY_AFTER);
		return 0;
	}
	if (!(body = mid_api_body(r)))
		return 0;
	if (json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s, s?:s}", "code", &code, "public_key",
	                   &pk_b64, "platform", &platform) != 0) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body",
		                "expected {\"code\", \"public_key\", \"platform\"}: %s", je.text);
		goto out;
	}
	if (mid_api_unb64url(pk_b64, pk, sizeof pk) != (long)sizeof pk) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body",
		                "public_key must be a base64url Ed25519 public key (32 bytes)");
		goto out;
	}
	if (strlen(platform) == 0 || strlen(platform) > 31) {
		mid_api_problem(r, 400, "invalid-body", "Invalid body", "platform must be 1 to 31 characters");
		goto out;
	}
	for (i = 0; platform[i]; i++)
		if (!isalnum((unsigned char)platform[i]) && platform[i] != '-' && platform[i] != '_') {
			mid_api_problem(r, 400, "invalid-body", "Invalid body",
			                "platform may hold letters, digits, '-' and '_' only");
			goto out;
		}
	if (!r->inst.secrets) {
		mid_api_problem(r, 503, "unavailable", "Service unavailable",
		                "the master key is not readable by the daemon: cannot sign credentials");
		goto out;
	}
	memset(&sc, 0, sizeof sc);
	rc = mid_invite_redeem(&r->inst, code, r->client, pk, platform, &sc, &err);
	if (rc != MID_OK) {
		mid_api_count_enroll(r->api, 0);
		if (rc == MID_EAUTH)
			mid_api_problem(r, 403, "invalid-code", "Enrollment refused", "%s", err.text);
		else if (rc == MID_ELIMIT) {
			mid_api_problem(r, 429, "rate-limited", "Too many requests", "%s", err.text);
			mid_api_resp_header(r, "Retry-After", RETRY_AFTER);
		} else if (rc == MID_EINVAL)
			mid_api_problem(r, 400, "invalid-code", "Enrollment refused", "%s", err.text);
		else
			mid_api_error(r, &err);
		goto out;
	}
	mid_api_count_enroll(r->api, 1);
	arr = json_array();
	json_array_append_new(arr, cred_json(r, &sc));
	resp = json_pack("{s:s, s:o}", "device_id", sc.device_id, "credentials", arr);
	mid_log(MID_LOG_INFO, "api: device %s enrolled credential %s", sc.device_id, sc.credential_id);
	mid_api_json(r, 201, resp);
	sodium_memzero(&sc, sizeof sc);
out:
	json_decref(body);
	return 0;
}

int mid_api_h_phone_credentials(mid_api_req_t *r)
{
	mid_signed_cred_t *list = NULL;
	size_t n = 0, i;
	mid_error_t err = { 0 };
	json_t *arr;

	if (mid_issuer_credentials_for_device(&r->inst, r->auth.device_id, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, cred_json(r, &list[i]));
	free(list);
	return mid_api_json(r, 200, json_pack("{s:s, s:o}", "device_id", r->auth.device_id,
	                                      "credentials", arr));
}
