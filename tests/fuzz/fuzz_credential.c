/* tests/fuzz/fuzz_credential.c -- libFuzzer target: credential decoder
 * (and, for inputs that parse, signature check and re-encoding). */
#include <stdint.h>
#include <string.h>
#include <sodium.h>
#include "reader/credfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pk[32];
	mid_wire_cred_t c;
	mid_wiegand_bits_t b;
	if (sodium_init() < 0)
		return 0;
	if (mid_credential_decode(data, size, &c) != 0)
		return 0;
	(void)mid_credential_verify(data, pk);
	if (mid_wiegand_encode(c.format, c.facility_code, c.card_number, &b) != 0)
		__builtin_trap(); /* decode promised the value fits the format */
	return 0;
}
