/* gateway/api_body.c -- strict, bounded JSON body parsing (see api.h). */
#include <config.h>
#include "gateway/api.h"

#include <string.h>

#define BODY_MAX_DEPTH 16

int mid_api_parse_body(const char *buf, size_t len, size_t max_bytes, json_t **out,
                       mid_error_t *err)
{
	json_error_t je;
	json_t *j;
	size_t i;
	int depth = 0, in_str = 0, esc = 0;

	*out = NULL;
	if (len > max_bytes)
		return mid_error_set(err, MID_ELIMIT, 0, "body of %zu bytes exceeds the limit of %zu bytes",
		                     len, max_bytes);
	if (!buf || len == 0)
		return mid_error_set(err, MID_EINVAL, 0, "a JSON object body is required");
	/* Bound the nesting before jansson sees it (its own limit is 2048). */
	for (i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '\0')
			return mid_error_set(err, MID_EINVAL, 0, "NUL byte in body at offset %zu", i);
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > BODY_MAX_DEPTH)
				return mid_error_set(err, MID_EINVAL, 0,
				                     "JSON nested deeper than %d levels at offset %zu",
				                     BODY_MAX_DEPTH, i);
		} else if (c == '}' || c == ']')
			depth--;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return mid_error_set(err, MID_EINVAL, 0, "invalid JSON at line %d column %d: %s",
		                     je.line, je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return mid_error_set(err, MID_EINVAL, 0, "the body must be a JSON object");
	}
	*out = j;
	return MID_OK;
}
