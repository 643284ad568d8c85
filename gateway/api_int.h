/* gateway/api_int.h -- internals shared by the HTTP API's source files
 * (api.c: server, routing, responses, metrics; api_phone.c, api_reader.c,
 * api_admin.c: the handlers). Not for callers outside gateway/api_*.c.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gateway/api.h"
#include "gateway/instance.h"
#include "gateway/replay.h"

struct MHD_Connection;

#define MID_API_MAX_PARAMS 2

/* Who a request was authenticated as. */
typedef struct mid_api_auth {
	char actor[128];              /* "api:<token name>", "reader:<id>", "device:<id>" */
	char reader_id[MID_ID_LEN];   /* reader routes */
	char device_id[MID_ID_LEN];   /* signed phone routes */
} mid_api_auth_t;

/* One request as the handlers see it. Everything is borrowed for the
 * duration of the handler call. */
typedef struct mid_api_req {
	mid_api_t *api;
	struct MHD_Connection *conn;
	const char *method;
	const char *url;                  /* path only */
	const char *path_query;           /* path with "?query" as the client sent it */
	const char *client;               /* client address text */
	const char *body;                 /* may be NULL when empty */
	size_t body_len;
	char params[MID_API_MAX_PARAMS][MID_ID_LEN * 2]; /* {id}-style captures */
	mid_instance_t inst;              /* per-thread copy: this thread's store/secrets */
	mid_api_auth_t auth;
	/* the response a handler sets (api.c sends it) */
	int status;
	char *resp_body;                  /* owned */
	size_t resp_len;
	const char *resp_type;            /* static string */
	char resp_hdr[2][2][64];          /* up to two extra headers: name, value */
} mid_api_req_t;

/* Add an extra response header (at most two per response). */
void mid_api_resp_header(mid_api_req_t *r, const char *name, const char *value);

typedef int (*mid_api_handler_fn)(mid_api_req_t *r);

/* ---- responses (api.c) ---------------------------------------------------- */

/* Set a JSON response; takes the reference `body` (json_decref'd here). */
int mid_api_json(mid_api_req_t *r, int status, json_t *body);
/* Set an application/problem+json response. `type` is a short slug
 * ("invalid-body") turned into "urn:mobileid:problem:<slug>". */
int mid_api_problem(mid_api_req_t *r, int status, const char *type, const char *title,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Map a store/library error to a problem (404 for MID_ENOTFOUND, 409 for
 * MID_ECONFLICT, 400 for MID_EINVAL, 429 for MID_ELIMIT, 401/403 for
 * MID_EAUTH, 503 for a retryable MID_EIO, 500 otherwise). */
int mid_api_error(mid_api_req_t *r, const mid_error_t *err);
/* Set a binary response; takes a copy of the bytes. */
int mid_api_bytes(mid_api_req_t *r, int status, const char *type, const void *buf, size_t len);
/* Parse the body as a JSON object (strict; 400/413 set on failure: the
 * caller returns when *out is NULL). */
json_t *mid_api_body(mid_api_req_t *r);
/* A request header or query argument, or NULL. */
const char *mid_api_header(mid_api_req_t *r, const char *name);
const char *mid_api_query(mid_api_req_t *r, const char *name);

/* The server's replay cache (gateway/replay.h): nonces of signed phone
 * requests and of answered reader challenges, kept in memory for their
 * window and shared by the worker threads (thread-safe). Its start time is
 * the server's start: earlier stamps are refused. */
mid_replay_t *mid_api_replay(mid_api_t *api);

/* ---- metrics (api.c) ------------------------------------------------------- */

void mid_api_count_enroll(mid_api_t *api, int ok);
/* reason: "allow" or a denial name. */
void mid_api_count_verify(mid_api_t *api, const char *reason);

/* ---- helpers ----------------------------------------------------------------- */

/* Base64url (no padding) with libsodium; *out is new (free()). */
char *mid_api_b64url(const void *buf, size_t len);
/* Decode base64url into out (cap bytes); returns the length or -1. */
long mid_api_unb64url(const char *in, void *out, size_t cap);
/* ms since the epoch. */
int64_t mid_api_now_ms(void);
/* UUID text <-> 16 bytes. Return 0 or -1. */
int mid_api_uuid_parse(const char *text, uint8_t out[16]);
void mid_api_uuid_format(const uint8_t in[16], char out[MID_ID_LEN]);

/* ---- handlers ------------------------------------------------------------------ */

int mid_api_h_enroll(mid_api_req_t *r);
int mid_api_h_phone_credentials(mid_api_req_t *r);
/* Check the device signature headers; on failure sets the problem and
 * returns non-zero. On success fills r->auth.device_id. */
int mid_api_phone_auth(mid_api_req_t *r);

int mid_api_reader_auth(mid_api_req_t *r);
int mid_api_h_reader_bundle(mid_api_req_t *r);
int mid_api_h_reader_verify(mid_api_req_t *r);

int mid_api_admin_auth(mid_api_req_t *r);
int mid_api_h_people_list(mid_api_req_t *r);
int mid_api_h_people_create(mid_api_req_t *r);
int mid_api_h_people_get(mid_api_req_t *r);
int mid_api_h_people_update(mid_api_req_t *r);
int mid_api_h_people_delete(mid_api_req_t *r);
int mid_api_h_people_suspend(mid_api_req_t *r);
int mid_api_h_people_resume(mid_api_req_t *r);
int mid_api_h_cred_list(mid_api_req_t *r);
int mid_api_h_cred_issue(mid_api_req_t *r);
int mid_api_h_cred_get(mid_api_req_t *r);
int mid_api_h_cred_revoke(mid_api_req_t *r);
int mid_api_h_cred_suspend(mid_api_req_t *r);
int mid_api_h_cred_resume(mid_api_req_t *r);
int mid_api_h_inv_list(mid_api_req_t *r);
int mid_api_h_inv_create(mid_api_req_t *r);
int mid_api_h_inv_resend(mid_api_req_t *r);
int mid_api_h_readers_list(mid_api_req_t *r);
int mid_api_h_readers_add(mid_api_req_t *r);
int mid_api_h_bindings_status(mid_api_req_t *r);
int mid_api_h_audit_list(mid_api_req_t *r);

#include "gateway/api_verify.h"
