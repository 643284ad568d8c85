/* tests/fuzz/fuzz_rest_page.c -- libFuzzer target for the REST connector's
 * one-pass list page parser (connectors/rest/restpage.c): every input is
 * parsed by it and by the jansson path it replaces (rj_parse, paths,
 * rj_flatten), with three specs; any difference aborts. The page parser may
 * decline a page (the connector then uses jansson), but what it accepts must
 * come out exactly as jansson's. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "connectors/rest/restpage_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const omit1[] = { "schemas", "meta.location", "emails[work]", "x.0",
	                                     "phoneNumbers.1.value" };
	static const char *const omit2[] = { "a" };
	const rj_page_spec_t specs[] = {
		{ "Resources", "totalResults", "id", "meta.version", omit1, 5, 32, 256, 128 },
		{ "", NULL, "[urn:a.b].c.0", "v", omit2, 1, 8, 8, 4 },
		{ "results", "total", "a.1", NULL, NULL, 0, 4, 256, 128 },
	};
	char why[512];
	int handled;

	if (size > 1 << 20)
		return 0;
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
		if (rj_page_diff((const char *)data, size, &specs[i], &handled, why, sizeof why)) {
			fprintf(stderr, "fuzz_rest_page: spec %zu: %s\n", i, why);
			abort();
		}
	return 0;
}
