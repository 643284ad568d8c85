/* connectors/rest/restpage_diff.h -- compare the one-pass page parser with
 * the jansson path (tests and fuzzing only). */
#pragma once

#include <stddef.h>
#include "connectors/rest/restjson.h"

/* Parse body both ways. *handled: whether rj_page_parse took the page.
 * Returns 0 when the two agree (or the page parser declined), 1 with a
 * description in why when they differ. */
int rj_page_diff(const char *body, size_t len, const rj_page_spec_t *sp, int *handled,
                 char *why, size_t whysz);
