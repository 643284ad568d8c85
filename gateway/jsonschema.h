/* gateway/jsonschema.h -- a small JSON Schema validator (draft 2020-12 subset).
 *
 * Supported keywords: type (a name or an array of names; "integer" accepts
 * only JSON integers), properties, required, additionalProperties (false or
 * a schema), items (one schema for every element), enum, const, minimum,
 * maximum, minLength, maxLength (in UTF-8 code points), minItems, maxItems,
 * pattern, $ref to "#/$defs/NAME" inside the same document, oneOf, anyOf,
 * allOf, default (filled in by mid_jsonschema_apply_defaults, never by
 * validation). "description", "title", "examples", "$schema", "$id",
 * "$comment" and "format" are accepted and ignored. Any other keyword makes
 * mid_jsonschema_new fail, so a schema never silently means less than it
 * says.
 *
 * pattern: POSIX extended regular expressions (regcomp with REG_EXTENDED |
 * REG_NOSUB), not ECMA-262. Write [0-9] rather than \d, [[:space:]] rather
 * than \s, no lookaround, no lazy quantifiers, no \b. As in JSON Schema the
 * pattern is not anchored: use ^ and $.
 *
 * Errors name the JSON path in a friendly form (bindings[2].settings.delimiter,
 * mapping["given name"]; the document itself is "(top level)") and say what
 * was expected. Every error is collected, up to a bound.
 */
#pragma once

#include <stddef.h>
#include <jansson.h>
#include "mobileid/connector.h"

typedef struct mid_jsonschema mid_jsonschema_t;

/* One problem found by validation. */
typedef struct mid_jsonschema_error {
	char *path;    /* friendly JSON path; owned by the result */
	char *message; /* what was expected; owned by the result */
} mid_jsonschema_error_t;

/* The outcome of a validation. Zero-initialise before the first use; it may
 * collect the errors of several validations. Free with
 * mid_jsonschema_result_free. */
typedef struct mid_jsonschema_result {
	mid_jsonschema_error_t *errors;
	size_t n;        /* errors kept */
	size_t dropped;  /* errors past `max` (counted, not kept) */
	size_t max;      /* bound; 0 means 100 */
} mid_jsonschema_result_t;

/* Compile a schema from JSON text. Returns MID_OK and a new schema (free
 * with mid_jsonschema_free) or MID_EINVAL with err naming the problem
 * (not JSON, unknown keyword, bad $ref, pattern that does not compile). */
int mid_jsonschema_new(const char *text, mid_jsonschema_t **out, mid_error_t *err);

/* Same from a parsed document; the schema takes its own reference to doc. */
int mid_jsonschema_new_json(json_t *doc, mid_jsonschema_t **out, mid_error_t *err);

/* Free a schema; NULL is allowed. */
void mid_jsonschema_free(mid_jsonschema_t *s);

/* The schema document (borrowed). */
const json_t *mid_jsonschema_doc(const mid_jsonschema_t *s);

/* Validate `inst` against `s`. `prefix` is the path of inst in messages
 * (NULL or "" for the top level). Errors are appended to res. Returns the
 * number of errors this call found (kept or dropped); 0 means valid. */
size_t mid_jsonschema_validate(const mid_jsonschema_t *s, const json_t *inst,
                               const char *prefix, mid_jsonschema_result_t *res);

/* Validate the subschema at "#/$defs/NAME" instead of the root. Returns as
 * mid_jsonschema_validate, or (size_t)-1 when there is no such definition. */
size_t mid_jsonschema_validate_def(const mid_jsonschema_t *s, const char *def,
                                   const json_t *inst, const char *prefix,
                                   mid_jsonschema_result_t *res);

/* Fill absent object members that have a "default" in the schema (deep
 * copies), walking properties, items and $ref (not oneOf/anyOf). Meant for an
 * instance that already validated. Returns MID_OK or MID_ENOMEM. */
int mid_jsonschema_apply_defaults(const mid_jsonschema_t *s, json_t *inst);

/* Free the errors in res and zero its counts (max is kept). */
void mid_jsonschema_result_free(mid_jsonschema_result_t *res);

/* Format one error as "PATH: MESSAGE" into a new string (caller frees). */
char *mid_jsonschema_error_line(const mid_jsonschema_error_t *e);

/* Friendly path of member `key` under `parent` ("a.b", "a[\"x y\"]");
 * a new string the caller frees. parent NULL or "" means the top level. */
char *mid_jsonschema_path_key(const char *parent, const char *key);

/* Friendly path of element `index` under `parent` ("a[2]"); caller frees. */
char *mid_jsonschema_path_index(const char *parent, size_t index);

/* ---- the schemas embedded at build time (gateway/schemas_embed.c) ---- */

/* The text of schemas/NAME.schema.json as it was at build time. NAME may
 * be given with or without the ".schema.json" suffix. Returns a static
 * string, or NULL when there is no such schema. */
const char *mid_schema_text(const char *name);

/* The names of all embedded schemas (static, NULL-terminated). */
const char *const *mid_schema_names(void);
