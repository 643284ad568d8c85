/* tests/fuzz/fuzz_http_body.c -- libFuzzer target for the HTTP API's JSON
 * body parser (gateway/api_body.c): any bytes, with the default 64 KiB
 * limit and a tiny one, must give an object or a clean error. */
#include <config.h>
#include <stddef.h>
#include <stdint.h>
#include "gateway/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = NULL;
	mid_error_t err = { 0 };
	if (mid_api_parse_body((const char *)data, size, 65536, &j, &err) == MID_OK) {
		if (!json_is_object(j))
			__builtin_trap();
		json_decref(j);
	} else if (j) {
		__builtin_trap();
	}
	if (mid_api_parse_body((const char *)data, size, 64, &j, &err) == MID_OK)
		json_decref(j);
	return 0;
}
