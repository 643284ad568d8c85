/* tests/fuzz/fuzz_config.c -- libFuzzer target: config parse + validate.
 *
 * Feeds arbitrary bytes to mid_config_parse_buffer (JSON parsing with
 * duplicate-key rejection, schema validation, semantic checks, defaults,
 * struct building), and renders every accepted config with
 * mid_config_show. Build: ./configure --enable-fuzzing CC=clang; run:
 * tests/fuzz/fuzz_config -max_total_time=60 CORPUS_DIR
 */
#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gateway/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mid_config_t *cfg = NULL;
	mid_config_diag_t diag = { 0 };
	mid_error_t err = { 0 };

	if (size > MID_CONFIG_MAX_BYTES)
		return 0;
	if (mid_config_parse_buffer((const char *)data, size, "fuzz.json", "/etc/mobileid",
	                            &cfg, &diag, &err) == MID_OK) {
		char *s = mid_config_show(cfg, 0);
		free(s);
		s = mid_config_show(cfg, 1);
		free(s);
	}
	mid_config_diag_free(&diag);
	mid_config_free(cfg);
	return 0;
}
