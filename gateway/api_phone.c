/* gateway/api_phone.c -- the phone API: enrollment with an invitation code
 * and the signed credential fetch. Request signing: docs/api.md. */
#include <config.h>
#include "gateway/api_int.h"
#include "gateway/invite.h"
#include "gateway/issuer.h"
#include "gateway/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define PHONE_SKEW_S 300          /* accepted clock difference, seconds */
#define PHONE_NONCE_MIN 16
#define PHONE_NONCE_MAX 64
#define PHONE_TOUCH_MS 60000      /* last_seen is written at most once a minute */
#define RETRY_AFTER "600"         /* seconds: MID_INVITE_ADDR_WINDOW_MS */
#define PHONE_RETRY_AFTER "60"    /* seconds: a device over its replay-cache bound */

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
	int rc;

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
	/* the replay check, in memory (docs/api.md "Replay defence") */
	snprintf(scope, sizeof scope, "device:%s", d.id);
	switch (mid_replay_check(mid_api_replay(r->api), scope, nonce, (int64_t)t * 1000,
	                         (int64_t)(t + PHONE_SKEW_S + 1) * 1000, now)) {
	case MID_REPLAY_FRESH:
		break;
	case MID_REPLAY_SEEN:
		return mid_api_problem(r, 401, "replay", "Unauthenticated",
		                       "this nonce was already used: the request is a replay"), 1;
	case MID_REPLAY_STALE:
		return mid_api_problem(r, 401, "clock-skew", "Unauthenticated",
		                       "X-Timestamp is before the gateway's start (%lld): sign the "
		                       "request again with the current time",
		                       (long long)(mid_replay_start(mid_api_replay(r->api)) / 1000)), 1;
	case MID_REPLAY_SCOPE_FULL:
		mid_api_problem(r, 429, "rate-limited", "Too many requests",
		                "this device sent more signed requests than the gateway keeps "
		                "within %d s; try again later", PHONE_SKEW_S);
		mid_api_resp_header(r, "Retry-After", PHONE_RETRY_AFTER);
		return 1;
	default:
		mid_api_problem(r, 503, "unavailable", "Service unavailable",
		                "too many signed requests within the replay window; try again later");
		mid_api_resp_header(r, "Retry-After", PHONE_RETRY_AFTER);
		return 1;
	}
	/* last_seen: written at most once per PHONE_TOUCH_MS per device, decided
	 * in memory so that concurrent requests do not all write */
	if (now - d.last_seen > PHONE_TOUCH_MS &&
	    mid_replay_touch_due(mid_api_replay(r->api), scope, now, PHONE_TOUCH_MS))
		(void)mid_store_device_touch(r->inst.store, d.id, now, NULL);
	snprintf(r->auth.device_id, sizeof r->auth.device_id, "%s", d.id);
	snprintf(r->inst.actor, sizeof r->inst.actor, "device:%s", d.id);
	return 0;
}

/* ---- the phone's credential answer ------------------------------------------- */

/* Append string v as a JSON string (quoted, escaped). 0, or -1 when it
 * does not fit in cap bytes. */
static int pj_str(char *b, size_t cap, size_t *n, const char *v)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = *n;
	if (o + 1 >= cap)
		return -1;
	b[o++] = '"';
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		if (o + 7 >= cap)
			return -1;
		if (ch == '"' || ch == '\\') {
			b[o++] = '\\';
			b[o++] = (char)ch;
		} else if (ch < 0x20) {
			memcpy(b + o, "\\u00", 4);
			b[o + 4] = hex[ch >> 4];
			b[o + 5] = hex[ch & 15];
			o += 6;
		} else {
			b[o++] = (char)ch;
		}
	}
	b[o++] = '"';
	*n = o;
	return 0;
}

/* Append printf output; 0 or -1 when it does not fit. */
static int pj_fmt(char *b, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int pj_fmt(char *b, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;
	va_start(ap, fmt);
	k = vsnprintf(b + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= cap - *n)
		return -1;
	*n += (size_t)k;
	return 0;
}

/* Set the answer {"device_id": ..., "credentials": [{"id", "credential"
 * (base64url of the signed bytes), "format", "facility_code",
 * "card_number", "type", "valid_from", "valid_until"}, ...]} (the shape of
 * schemas/openapi.yaml), written directly: no JSON tree per request. */
static int phone_answer(mid_api_req_t *r, int status, const char *device_id,
                        const mid_signed_cred_t *list, size_t n)
{
	/* per credential: escaped strings at most 6 bytes a character, base64
	 * of the bytes, six numbers and the keys */
	size_t per = 6 * (MID_ID_LEN + sizeof list->format + 16) +
	             sodium_base64_ENCODED_LEN(MID_ISSUER_CRED_SIZE,
	                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 256;
	size_t cap = 64 + 6 * MID_ID_LEN + n * per, len = 0, i;
	char *b = malloc(cap);
	int bad = 0;

	if (!b)
		return mid_api_problem(r, 500, "internal", "Internal error", "out of memory");
	bad |= pj_fmt(b, cap, &len, "{\"device_id\":");
	bad |= pj_str(b, cap, &len, device_id);
	bad |= pj_fmt(b, cap, &len, ",\"credentials\":[");
	for (i = 0; i < n && !bad; i++) {
		const mid_signed_cred_t *sc = &list[i];
		const char *type = mid_cred_type_name(sc->type);
		bad |= pj_fmt(b, cap, &len, "%s{\"id\":", i ? "," : "");
		bad |= pj_str(b, cap, &len, sc->credential_id);
		bad |= pj_fmt(b, cap, &len, ",\"credential\":\"");
		if (!bad && sc->len <= MID_ISSUER_CRED_SIZE) {
			sodium_bin2base64(b + len, cap - len, sc->bytes, sc->len,
			                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			len += strlen(b + len);
		}
		bad |= pj_fmt(b, cap, &len, "\",\"format\":");
		bad |= pj_str(b, cap, &len, sc->format);
		bad |= pj_fmt(b, cap, &len, ",\"facility_code\":%lld,\"card_number\":%lld,\"type\":",
		              (long long)sc->facility_code, (long long)sc->card_number);
		bad |= pj_str(b, cap, &len, type ? type : "");
		bad |= pj_fmt(b, cap, &len, ",\"valid_from\":%lld,\"valid_until\":%lld}",
		              (long long)sc->valid_from, (long long)sc->valid_until);
	}
	bad |= pj_fmt(b, cap, &len, "]}");
	if (bad) {
		free(b);
		return mid_api_problem(r, 500, "internal", "Internal error", "answer too long");
	}
	mid_api_bytes(r, status, "application/json", b, len);
	free(b);
	return 0;
}

int mid_api_h_enroll(mid_api_req_t *r)
{
	json_t *body;
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
	mid_log(MID_LOG_INFO, "api: device %s enrolled credential %s", sc.device_id, sc.credential_id);
	phone_answer(r, 201, sc.device_id, &sc, 1);
	sodium_memzero(&sc, sizeof sc);
out:
	json_decref(body);
	return 0;
}

int mid_api_h_phone_credentials(mid_api_req_t *r)
{
	mid_signed_cred_t *list = NULL;
	size_t n = 0;
	mid_error_t err = { 0 };

	if (mid_issuer_credentials_for_device(&r->inst, r->auth.device_id, &list, &n, &err) != MID_OK)
		return mid_api_error(r, &err);
	phone_answer(r, 200, r->auth.device_id, list, n);
	free(list);
	return 0;
}
