/* reader/wiegand.c -- Wiegand formats (see wiegand.h for the layouts).
 *
 * Positions below are 0-based from the first transmitted bit (HID's
 * documents count from 1: their bit k is our position k-1). Position p of
 * an n-bit message is bit (n - 1 - p) of mid_wiegand_bits_t.value.
 */
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "reader/cerr.h"
#include "reader/wiegand.h"

/* Mask of positions from..to (inclusive) in an n-bit message. */
static uint64_t wg_range(unsigned n, unsigned from, unsigned to)
{
	uint64_t m = 0;
	for (unsigned p = from; p <= to; p++)
		m |= UINT64_C(1) << (n - 1 - p);
	return m;
}

static uint64_t wg_pos(unsigned n, unsigned p)
{
	return UINT64_C(1) << (n - 1 - p);
}

static unsigned wg_par(uint64_t v)
{
	return (unsigned)__builtin_popcountll(v) & 1u;
}

/* Corporate 1000 35-bit parity masks. P2 (pos 1): even over 1-based bits
 * 3,4,6,7,...,33,34 = positions 2..33 with p % 3 != 1. P35 (pos 34): odd
 * over 1-based bits 2,3,5,6,...,32,33 = positions 1..32 with p % 3 != 0. */
static uint64_t c1k_even_mask(void)
{
	uint64_t m = 0;
	for (unsigned p = 2; p <= 33; p++)
		if (p % 3 != 1)
			m |= wg_pos(35, p);
	return m;
}

static uint64_t c1k_odd_mask(void)
{
	uint64_t m = 0;
	for (unsigned p = 1; p <= 32; p++)
		if (p % 3 != 0)
			m |= wg_pos(35, p);
	return m;
}

int mid_wformat_valid(mid_wformat_t f)
{
	switch (f.kind) {
	case MID_WIEGAND_H10301: return f.bits == 26;
	case MID_WIEGAND_H10302: return f.bits == 37;
	case MID_WIEGAND_H10304: return f.bits == 37;
	case MID_WIEGAND_C1000_35: return f.bits == 35;
	case MID_WIEGAND_RAW: return f.bits >= 1 && f.bits <= MID_WIEGAND_MAX_BITS;
	default: return 0;
	}
}

int mid_wformat_make(int kind, unsigned raw_bits, mid_wformat_t *out)
{
	mid_wformat_t f = { 0, 0 };
	if (!out)
		return MID_CERR_INVAL;
	f.kind = (uint8_t)kind;
	switch (kind) {
	case MID_WIEGAND_H10301: f.bits = 26; break;
	case MID_WIEGAND_H10302: f.bits = 37; break;
	case MID_WIEGAND_H10304: f.bits = 37; break;
	case MID_WIEGAND_C1000_35: f.bits = 35; break;
	case MID_WIEGAND_RAW:
		if (raw_bits < 1 || raw_bits > MID_WIEGAND_MAX_BITS)
			return MID_CERR_INVAL;
		f.bits = (uint8_t)raw_bits;
		break;
	default:
		return MID_CERR_INVAL;
	}
	*out = f;
	return 0;
}

int mid_wiegand_parse_format(const char *name, mid_wformat_t *out)
{
	if (!name || !out)
		return MID_CERR_INVAL;
	if (strcasecmp(name, "H10301") == 0)
		return mid_wformat_make(MID_WIEGAND_H10301, 0, out);
	if (strcasecmp(name, "H10302") == 0)
		return mid_wformat_make(MID_WIEGAND_H10302, 0, out);
	if (strcasecmp(name, "H10304") == 0)
		return mid_wformat_make(MID_WIEGAND_H10304, 0, out);
	if (strcasecmp(name, "C1000-35") == 0)
		return mid_wformat_make(MID_WIEGAND_C1000_35, 0, out);
	if (strncasecmp(name, "raw:", 4) == 0) {
		const char *p = name + 4;
		unsigned n = 0;
		if (*p < '1' || *p > '9')
			return MID_CERR_INVAL;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || n > 64)
				return MID_CERR_INVAL;
			n = n * 10 + (unsigned)(*p - '0');
		}
		return mid_wformat_make(MID_WIEGAND_RAW, n, out);
	}
	return MID_CERR_INVAL;
}

const char *mid_wiegand_format_name(mid_wformat_t f, char *buf, size_t buflen)
{
	const char *s = NULL;
	if (!buf || !mid_wformat_valid(f))
		return "?";
	switch (f.kind) {
	case MID_WIEGAND_H10301: s = "H10301"; break;
	case MID_WIEGAND_H10302: s = "H10302"; break;
	case MID_WIEGAND_H10304: s = "H10304"; break;
	case MID_WIEGAND_C1000_35: s = "C1000-35"; break;
	default: break;
	}
	if (s) {
		if (strlen(s) + 1 > buflen)
			return "?";
		memcpy(buf, s, strlen(s) + 1);
		return buf;
	}
	if (snprintf(buf, buflen, "raw:%u", (unsigned)f.bits) >= (int)buflen)
		return "?";
	return buf;
}

int mid_wiegand_limits(mid_wformat_t f, uint32_t *max_fc, uint64_t *max_cn)
{
	uint32_t fc = 0;
	uint64_t cn = 0;
	if (!mid_wformat_valid(f))
		return MID_CERR_INVAL;
	switch (f.kind) {
	case MID_WIEGAND_H10301: fc = 0xFF; cn = 0xFFFF; break;
	case MID_WIEGAND_H10302: fc = 0; cn = (UINT64_C(1) << 35) - 1; break;
	case MID_WIEGAND_H10304: fc = 0xFFFF; cn = (UINT64_C(1) << 19) - 1; break;
	case MID_WIEGAND_C1000_35: fc = 0xFFF; cn = (UINT64_C(1) << 20) - 1; break;
	case MID_WIEGAND_RAW:
		fc = 0;
		cn = f.bits == 64 ? UINT64_MAX : (UINT64_C(1) << f.bits) - 1;
		break;
	default: return MID_CERR_INVAL;
	}
	if (max_fc)
		*max_fc = fc;
	if (max_cn)
		*max_cn = cn;
	return 0;
}

/* Field placement: fc at positions [fc_pos, fc_pos + fc_len), cn right
 * after its own start; both most significant bit first. */
typedef struct wg_layout {
	unsigned fc_pos, fc_len, cn_pos, cn_len;
} wg_layout_t;

static int wg_layout(mid_wformat_t f, wg_layout_t *l)
{
	switch (f.kind) {
	case MID_WIEGAND_H10301: *l = (wg_layout_t){ 1, 8, 9, 16 }; return 0;
	case MID_WIEGAND_H10302: *l = (wg_layout_t){ 0, 0, 1, 35 }; return 0;
	case MID_WIEGAND_H10304: *l = (wg_layout_t){ 1, 16, 17, 19 }; return 0;
	case MID_WIEGAND_C1000_35: *l = (wg_layout_t){ 2, 12, 14, 20 }; return 0;
	case MID_WIEGAND_RAW: *l = (wg_layout_t){ 0, 0, 0, f.bits }; return 0;
	default: return MID_CERR_INVAL;
	}
}

/* Value with the data fields placed and every parity bit set right. */
static uint64_t wg_with_parity(mid_wformat_t f, uint64_t v)
{
	unsigned n = f.bits;
	switch (f.kind) {
	case MID_WIEGAND_H10301:
		/* P1 even over bits 2-13, P26 odd over bits 14-25 */
		if (wg_par(v & wg_range(n, 1, 12)))
			v |= wg_pos(n, 0);
		if (!wg_par(v & wg_range(n, 13, 24)))
			v |= wg_pos(n, 25);
		break;
	case MID_WIEGAND_H10302:
	case MID_WIEGAND_H10304:
		/* P1 even over bits 2-19, P37 odd over bits 19-36 (bit 19 shared) */
		if (wg_par(v & wg_range(n, 1, 18)))
			v |= wg_pos(n, 0);
		if (!wg_par(v & wg_range(n, 18, 35)))
			v |= wg_pos(n, 36);
		break;
	case MID_WIEGAND_C1000_35:
		/* P2 first (P35 covers it), then P35, then P1 over all of 2-35 */
		if (wg_par(v & c1k_even_mask()))
			v |= wg_pos(n, 1);
		if (!wg_par(v & c1k_odd_mask()))
			v |= wg_pos(n, 34);
		if (!wg_par(v & wg_range(n, 1, 34)))
			v |= wg_pos(n, 0);
		break;
	default:
		break;
	}
	return v;
}

static uint64_t wg_field_mask(unsigned len)
{
	return len >= 64 ? UINT64_MAX : (UINT64_C(1) << len) - 1;
}

int mid_wiegand_encode(mid_wformat_t f, uint32_t fc, uint64_t cn, mid_wiegand_bits_t *out)
{
	uint32_t max_fc;
	uint64_t max_cn, v = 0;
	wg_layout_t l;
	if (!out || mid_wiegand_limits(f, &max_fc, &max_cn) != 0 || wg_layout(f, &l) != 0)
		return MID_CERR_INVAL;
	if (fc > max_fc || cn > max_cn)
		return MID_CERR_RANGE;
	if (l.fc_len)
		v |= (uint64_t)fc << (f.bits - l.fc_pos - l.fc_len);
	v |= cn << (f.bits - l.cn_pos - l.cn_len);
	out->nbits = f.bits;
	out->value = wg_with_parity(f, v);
	return 0;
}

int mid_wiegand_decode(mid_wformat_t f, const mid_wiegand_bits_t *in, uint32_t *fc, uint64_t *cn)
{
	wg_layout_t l;
	uint64_t data_mask, data;
	if (!in || !mid_wformat_valid(f) || wg_layout(f, &l) != 0 || in->nbits != f.bits)
		return MID_CERR_INVAL;
	if (f.bits < 64 && (in->value >> f.bits) != 0)
		return MID_CERR_INVAL;
	/* Recompute parity over the data fields alone and compare. */
	data_mask = wg_field_mask(l.cn_len) << (f.bits - l.cn_pos - l.cn_len);
	if (l.fc_len)
		data_mask |= wg_field_mask(l.fc_len) << (f.bits - l.fc_pos - l.fc_len);
	data = in->value & data_mask;
	if (wg_with_parity(f, data) != in->value)
		return MID_CERR_PARITY;
	if (fc)
		*fc = l.fc_len ? (uint32_t)((data >> (f.bits - l.fc_pos - l.fc_len)) & wg_field_mask(l.fc_len)) : 0;
	if (cn)
		*cn = (data >> (f.bits - l.cn_pos - l.cn_len)) & wg_field_mask(l.cn_len);
	return 0;
}

int mid_wiegand_to_string(const mid_wiegand_bits_t *b, char *buf, size_t buflen)
{
	if (!b || !buf || b->nbits < 1 || b->nbits > 64)
		return MID_CERR_INVAL;
	if (buflen < (size_t)b->nbits + 1)
		return MID_CERR_NOSPACE;
	for (unsigned p = 0; p < b->nbits; p++)
		buf[p] = (b->value & wg_pos(b->nbits, p)) ? '1' : '0';
	buf[b->nbits] = '\0';
	return 0;
}

int mid_wiegand_from_string(const char *s, mid_wiegand_bits_t *out)
{
	size_t n;
	uint64_t v = 0;
	if (!s || !out)
		return MID_CERR_INVAL;
	n = strlen(s);
	if (n < 1 || n > 64)
		return MID_CERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '0' && s[i] != '1')
			return MID_CERR_INVAL;
		v = (v << 1) | (uint64_t)(s[i] - '0');
	}
	out->nbits = (uint8_t)n;
	out->value = v;
	return 0;
}

int mid_wiegand_to_bytes(const mid_wiegand_bits_t *b, uint8_t *buf, size_t buflen, size_t *len)
{
	size_t nbytes;
	if (!b || !buf || b->nbits < 1 || b->nbits > 64)
		return MID_CERR_INVAL;
	nbytes = ((size_t)b->nbits + 7) / 8;
	if (buflen < nbytes)
		return MID_CERR_NOSPACE;
	memset(buf, 0, nbytes);
	for (unsigned p = 0; p < b->nbits; p++)
		if (b->value & wg_pos(b->nbits, p))
			buf[p / 8] |= (uint8_t)(0x80u >> (p % 8));
	if (len)
		*len = nbytes;
	return 0;
}
