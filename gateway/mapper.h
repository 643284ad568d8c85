/* gateway/mapper.h -- declarative field mapping between vendor-shaped records
 * and the canonical person, both directions (DESIGN.md section 3).
 *
 * A binding's mapping is
 *   {"inbound":  {"<canonical field>": RULE, ...},
 *    "outbound": {"<target field>":    RULE, ...}}
 * where RULE is {"from": "<field>", "transform": [T, ...]}, {"const": V}
 * or a plain string (the same as {"from": STRING}). Inbound rules read
 * source fields and write canonical fields; outbound rules read canonical
 * fields and write target fields. Transforms T, applied in order to the
 * field's list of values: "trim", "lower", "upper", {"date": "<strptime
 * format>"} (to ISO 8601), {"split": SEP}, {"join": SEP}, {"default": X},
 * {"lookup": {"from": "to", ..., "*": "fallback"}}.
 *
 * A direction that is absent or empty maps identically: every canonical
 * field from (to) the field of the same name; access_groups is split on
 * ";" inbound. Canonical fields: see enum mid_cf; "attributes.NAME"
 * addresses one free attribute.
 *
 * A mapping is compiled once per run (mid_mapper_compile); applying it
 * parses no JSON. Results live in buffers owned by the mapper and stay
 * valid until the next call on the same mapper.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "mobileid/connector.h"
#include "gateway/store.h"

/* Canonical person fields, in the fixed order the content hash uses. */
enum mid_cf {
	MID_CF_EMPLOYEE_ID = 0,
	MID_CF_GIVEN_NAME,
	MID_CF_FAMILY_NAME,
	MID_CF_EMAIL,
	MID_CF_MOBILE,
	MID_CF_STATUS,
	MID_CF_VALID_FROM,
	MID_CF_VALID_UNTIL,
	MID_CF_ACCESS_GROUPS,
	MID_CF_FACILITY_CODE,
	MID_CF_CARD_NUMBER,
	MID_CF_CARD_FORMAT,
	MID_CF_N
};

/* The field's canonical name (static string). */
const char *mid_cf_name(int f);
/* The field for a name ("mobile_phone" is an alias of "mobile"), or -1. */
int mid_cf_parse(const char *name);

/* A list of values. */
typedef struct mid_vals {
	const char **v;
	size_t n;
} mid_vals_t;

typedef struct mid_attr {
	const char *key;
	mid_vals_t vals;
} mid_attr_t;

typedef struct mid_arena_chunk mid_arena_chunk_t;
/* A bump allocator; memory lives until mid_arena_reset/free. */
typedef struct mid_arena {
	mid_arena_chunk_t *head;
} mid_arena_t;
void *mid_arena_alloc(mid_arena_t *a, size_t n);
char *mid_arena_strndup(mid_arena_t *a, const char *s, size_t n);
/* Keep the first chunk, forget everything allocated. */
void mid_arena_reset(mid_arena_t *a);
void mid_arena_free(mid_arena_t *a);

/* A canonical record. `present` has bit (1u << f) for each field the
 * source delivered (an empty value is present; an absent field is not:
 * the binding does not manage it). Attributes are sorted by key. Strings
 * are borrowed from the arena that built the record. */
typedef struct mid_canon {
	unsigned present;
	mid_vals_t f[MID_CF_N];
	mid_attr_t *attrs;
	size_t nattrs;
} mid_canon_t;

/* The first value of field f, or "" when absent or empty. */
const char *mid_canon_str(const mid_canon_t *c, int f);

typedef struct mid_mapper mid_mapper_t;

/* Compile `mapping` (may be NULL or an empty object: identity both ways).
 * On success *out is a new mapper (free with mid_mapper_free). Errors name
 * the JSON path ("mapping.inbound.email.transform[1]") and what is wrong. */
int mid_mapper_compile(const json_t *mapping, mid_mapper_t **out, mid_error_t *err);
void mid_mapper_free(mid_mapper_t *m);

/* Bit set of the canonical fields the inbound mapping writes (fields whose
 * source is absent from a record are still left out of that record). */
unsigned mid_mapper_inbound_fields(const mid_mapper_t *m);
/* Bit set of the canonical fields the outbound mapping reads. */
unsigned mid_mapper_outbound_fields(const mid_mapper_t *m);

/* Map a vendor record to a canonical one. *out borrows the mapper's
 * buffers until the next call. A value a transform cannot convert (a date
 * that does not match its format) gives MID_EINVAL with a reason that
 * names the field. */
int mid_mapper_inbound(mid_mapper_t *m, const mid_record_t *rec, mid_canon_t *out,
                       mid_error_t *err);

/* Map a canonical record to target fields. *fields (an array of *n) borrows
 * the mapper's buffers until the next call. */
int mid_mapper_outbound(mid_mapper_t *m, const mid_canon_t *in,
                        const mid_field_t **fields, size_t *n, mid_error_t *err);

/* Content hash (BLAKE2b-256) of the fields of `c` in `mask` (and of its
 * attributes when mask has MID_CF_ATTRS), in the fixed field order. */
#define MID_CF_ATTRS (1u << 31)
void mid_canon_hash(const mid_canon_t *c, unsigned mask, unsigned char out[MID_HASH_LEN]);

/* Build a canonical record from a canonical person JSON object (the outbox
 * payload: canonical field names, access_groups an array, attributes an
 * object, "credentials" an array whose first active entry gives the card
 * format and facility code, and whose active entries give the card numbers,
 * the first one first). Strings are allocated in `a`. */
int mid_canon_from_json(const json_t *person, mid_arena_t *a, mid_canon_t *out,
                        mid_error_t *err);

/* Apply one named transform list outside a mapping (tests). */
int mid_mapper_test_transform(const json_t *transforms, const char *const *in, size_t nin,
                              char ***out, size_t *nout, mid_error_t *err);
