/* reader/cerr.c -- texts for mid_cerr_t. */
#include "reader/cerr.h"

const char *mid_cerr_str(int code)
{
	switch (code) {
	case MID_CERR_OK: return "success";
	case MID_CERR_INVAL: return "invalid argument";
	case MID_CERR_RANGE: return "facility code or card number out of range for the format";
	case MID_CERR_PARITY: return "Wiegand parity check failed";
	case MID_CERR_TRUNCATED: return "input is truncated";
	case MID_CERR_OVERSIZE: return "input is oversized or exceeds a limit";
	case MID_CERR_TRAILING: return "trailing bytes after the record";
	case MID_CERR_VERSION: return "unsupported format version";
	case MID_CERR_MAGIC: return "wrong record type (bad magic)";
	case MID_CERR_MALFORMED: return "malformed field";
	case MID_CERR_ORDER: return "credential ids are not strictly ascending";
	case MID_CERR_SIGNATURE: return "signature does not verify";
	case MID_CERR_UNKNOWN_KEY: return "signer key is not trusted";
	case MID_CERR_NOSPACE: return "output buffer too small";
	case MID_CERR_BASE64: return "invalid base64url";
	case MID_CERR_STALE: return "bundle version is not newer than the loaded bundle";
	case MID_CERR_BASE: return "delta bundle does not apply to the loaded version";
	case MID_CERR_SITE: return "bundle is for another site";
	case MID_CERR_KEY_MISMATCH: return "device secret key does not match the credential";
	case MID_CERR_CRYPTO: return "cryptographic library failure";
	default: return "unknown error";
	}
}
