/* reader/testutil.h -- fixtures shared by the reader/ unit tests: a site
 * with an issuer key, a device, a credential and a bundle. Static
 * functions only (included by one test file each). */
#pragma once
#include <string.h>

#include <sodium.h>

#include "reader/credfmt.h"
#include "reader/phone.h"
#include "reader/reader.h"

#define TU_NOW ((int64_t)1767225600) /* 2026-01-01T00:00:00Z */

typedef struct tu_site {
	uint8_t site_id[MID_ID_SIZE];
	uint8_t issuer_pk[MID_PK_SIZE], issuer_sk[MID_SK_SIZE];
	uint8_t next_pk[MID_PK_SIZE], next_sk[MID_SK_SIZE];
	uint8_t device_pk[MID_PK_SIZE], device_sk[MID_SK_SIZE];
	uint8_t reader_id[MID_ID_SIZE];
} tu_site_t;

static inline void tu_site_init(tu_site_t *s)
{
	memset(s, 0, sizeof *s);
	memset(s->site_id, 0x51, sizeof s->site_id);
	memset(s->reader_id, 0x72, sizeof s->reader_id);
	crypto_sign_keypair(s->issuer_pk, s->issuer_sk);
	crypto_sign_keypair(s->next_pk, s->next_sk);
	crypto_sign_keypair(s->device_pk, s->device_sk);
}

static inline void tu_id(uint8_t id[MID_ID_SIZE], unsigned n)
{
	memset(id, 0, MID_ID_SIZE);
	id[0] = 0xC0;
	id[12] = (uint8_t)(n >> 24);
	id[13] = (uint8_t)(n >> 16);
	id[14] = (uint8_t)(n >> 8);
	id[15] = (uint8_t)n;
}

/* A credential template: H10301 fc 118 cn 1603, valid around TU_NOW. */
static inline void tu_cred_template(const tu_site_t *s, mid_wire_cred_t *c, unsigned idn)
{
	memset(c, 0, sizeof *c);
	c->version = MID_CREDENTIAL_VERSION;
	mid_wiegand_parse_format("H10301", &c->format);
	memcpy(c->site_id, s->site_id, MID_ID_SIZE);
	tu_id(c->credential_id, idn);
	c->facility_code = 118;
	c->card_number = 1603;
	c->not_before = TU_NOW - 86400;
	c->not_after = TU_NOW + 86400;
	memcpy(c->device_pk, s->device_pk, MID_PK_SIZE);
}

/* A full bundle header template with the issuer key current. */
static inline void tu_bundle_template(const tu_site_t *s, mid_bundle_t *b, uint64_t version)
{
	memset(b, 0, sizeof *b);
	b->version = MID_BUNDLE_VERSION;
	memcpy(b->site_id, s->site_id, MID_ID_SIZE);
	b->generated_at = TU_NOW;
	b->bundle_version = version;
	b->nkeys = 1;
	memcpy(b->keys[0].pk, s->issuer_pk, MID_PK_SIZE);
	b->keys[0].not_before = TU_NOW - 365 * 86400;
	b->keys[0].not_after = 0;
	b->keys[0].status = MID_WKEY_CURRENT;
}

static inline int64_t tu_clock(void *ctx)
{
	return *(const int64_t *)ctx;
}
