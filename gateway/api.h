/* gateway/api.h -- the gateway's HTTP API (libmicrohttpd): phone
 * enrollment and fetch, reader bundle and online verification, admin,
 * /healthz and /metrics. Routes and bodies: schemas/openapi.yaml and
 * docs/api.md.
 *
 * Threading: libmicrohttpd runs a pool of worker threads. The store handle
 * is single-threaded, so every worker thread opens its own store handle
 * (and secret-store handle) on first use and keeps it for the life of the
 * server; mid_api_stop closes them all after the workers have stopped.
 * SQLite in WAL mode lets these handles read concurrently; writes take the
 * database lock in turn (busy timeout in the store).
 *
 * Transport: TLS (GnuTLS through libmicrohttpd) when http.tls_cert and
 * http.tls_key are set; plain HTTP is accepted only on a loopback listen
 * address (127.0.0.0/8, ::1, "localhost"). Anything else fails to start
 * with a message saying so.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "mobileid/connector.h"

struct mid_instance;

typedef struct mid_api mid_api_t;

/* Start the HTTP server for instance `in` (borrowed: it must outlive the
 * server; the API reads in->cfg and opens its own store handles on
 * cfg->store_path, so in->store may be NULL). Listens on cfg->http.listen
 * ("host:port"; port 0 picks a free port, see mid_api_port). *out: a new
 * server the caller stops and frees with mid_api_stop. */
int mid_api_start(struct mid_instance *in, mid_api_t **out, mid_error_t *err);

/* Stop the server, wait for its threads, close its store handles and free
 * it (NULL allowed). */
void mid_api_stop(mid_api_t *api);

/* The TCP port the server listens on (useful when the config said 0). */
uint16_t mid_api_port(const mid_api_t *api);

/* One entry of the route table: method and path template as written in
 * schemas/openapi.yaml ("/v1/admin/people/{id}"). */
typedef struct mid_api_route_info {
	const char *method; /* "GET", "POST", "PUT", "DELETE" */
	const char *path;
} mid_api_route_info_t;

/* The routes the server serves (static table; *n gets its length). The
 * OpenAPI test compares it with schemas/openapi.yaml. */
const mid_api_route_info_t *mid_api_routes(size_t *n);

/* Parse a request body as one JSON object, strictly: at most max_bytes,
 * no trailing data, no duplicate keys, no NUL bytes, nesting bounded.
 * *out: a new reference (json_decref) on MID_OK; MID_EINVAL with a
 * one-line reason (position included) otherwise, MID_ELIMIT when too long.
 * Used by every route that takes a body, and by the fuzz target. */
int mid_api_parse_body(const char *buf, size_t len, size_t max_bytes, json_t **out,
                       mid_error_t *err);

/* The canonical string a phone signs for a request after enrollment (see
 * docs/api.md "Signed phone requests"):
 *
 *   "MID-DEVICE-SIG-1\n" METHOD "\n" PATH_AND_QUERY "\n" TIMESTAMP "\n"
 *   NONCE "\n" DEVICE_ID "\n" hex(BLAKE2b-256(body))
 *
 * Writes it NUL-terminated to out (outsz bytes). Returns MID_OK or
 * MID_ELIMIT when it does not fit. Shared by the server and the phone
 * simulator so both sides build exactly the same bytes. */
int mid_api_sign_string(const char *method, const char *path, const char *timestamp,
                        const char *nonce, const char *device_id, const void *body,
                        size_t body_len, char *out, size_t outsz);
