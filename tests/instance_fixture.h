/* tests/instance_fixture.h -- a throw-away gateway instance for unit tests
 * of the issuance code: a config with two issuance ranges (H10301 facility
 * 12 cards 100-104, so a range fills up quickly; H10304 facility 7), a new
 * master key, a created store and a clock the test controls.
 *
 *     mid_instance_t *in = tf_setup("issuer");   // /tmp/mid-issuer-test-XXXXXX
 *     tf_now = ...;                               // move the store's clock
 *     char id[MID_ID_LEN]; tf_person(in, "Anna", id);
 *
 * Header-only (static functions) so each test program includes it once.
 * The folder is left for the test to inspect; tests run in /tmp. */
#pragma once
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "gateway/instance.h"
#include "gateway/people.h"
#include "gateway/secrets.h"

static char tf_dir[128];
static int64_t tf_now;
static int64_t tf_clock(void *ctx) { (void)ctx; return tf_now; }

static inline mid_instance_t *tf_setup(const char *name)
{
	char path[512], key[512];
	const char *cfg =
	    "{\"site\": {\"id\": \"0f8fad5b-d9cb-469f-a165-70867728950e\", \"name\": \"Test\"},\n"
	    " \"issuance\": {\"ranges\": [\n"
	    "   {\"format\": \"H10301\", \"facility_code\": 12, \"first\": 100, \"last\": 104},\n"
	    "   {\"format\": \"H10304\", \"facility_code\": 7, \"first\": 1, \"last\": 500000}],\n"
	    "  \"validity_days\": 30}}\n";
	mid_error_t err = { 0 };
	mid_instance_t *in = NULL;
	FILE *f;

	snprintf(tf_dir, sizeof tf_dir, "/tmp/mid-%s-test-XXXXXX", name);
	if (!mkdtemp(tf_dir))
		return NULL;
	snprintf(path, sizeof path, "%s/mobileidd.json", tf_dir);
	snprintf(key, sizeof key, "%s/master.key", tf_dir);
	if (!(f = fopen(path, "w")))
		return NULL;
	fputs(cfg, f);
	fclose(f);
	if (mid_master_key_create(key, &err) != MID_OK ||
	    mid_instance_open(path, MID_INST_CREATE | MID_INST_STORE | MID_INST_SECRETS, "test", &in,
	                      NULL, &err) != MID_OK) {
		printf("# setup: %s\n", err.text);
		return NULL;
	}
	tf_now = 1767225600000LL; /* 2026-01-01 */
	mid_store_set_clock(in->store, tf_clock, NULL);
	return in;
}

/* Add an active person "GIVEN Tester"; its id goes to `id`. */
static inline void tf_person(mid_instance_t *in, const char *given, char id[MID_ID_LEN])
{
	mid_person_t p;
	mid_error_t err = { 0 };
	memset(&p, 0, sizeof p);
	snprintf(p.given_name, sizeof p.given_name, "%s", given);
	snprintf(p.family_name, sizeof p.family_name, "Tester");
	if (mid_people_create(in, &p, &err) != MID_OK)
		printf("# person: %s\n", err.text);
	memcpy(id, p.id, MID_ID_LEN);
	mid_person_clear(&p);
}
