/* reader/wiegand.h -- Wiegand card formats: encode, decode, parity, limits.
 *
 * Supported formats (bit 1 is the first bit on the wire, as in HID's
 * documents; see schemas/credential-format.md for the full tables):
 *   H10301    26 bits: P1 even over 2-13 | FC 2-9 (8) | CN 10-25 (16) | P26 odd over 14-25
 *   H10302    37 bits: P1 even over 2-19 | CN 2-36 (35)               | P37 odd over 19-36
 *   H10304    37 bits: P1 even over 2-19 | FC 2-17 (16) | CN 18-36 (19) | P37 odd over 19-36
 *   C1000-35  35 bits (HID Corporate 1000): P1 odd over 2-35 |
 *             P2 even over 3,4,6,7,...,33,34 | company 3-14 (12) | CN 15-34 (20) |
 *             P35 odd over 2,3,5,6,...,32,33
 *   raw:N     N bits (1..64), no facility code, no parity; CN is the whole value.
 *
 * The numeric kinds equal gateway/config.h's mid_wiegand_format_t values
 * (H10301 = 1 ... C1000_35 = 4); raw is 5. They are also the format byte
 * of the binary credential.
 *
 * Pure code: no allocation, no I/O, no global state.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum mid_wiegand_kind {
	MID_WIEGAND_NONE = 0,
	MID_WIEGAND_H10301 = 1,
	MID_WIEGAND_H10302 = 2,
	MID_WIEGAND_H10304 = 3,
	MID_WIEGAND_C1000_35 = 4,
	MID_WIEGAND_RAW = 5,
} mid_wiegand_kind_t;

#define MID_WIEGAND_MAX_BITS 64
/* Longest name mid_wiegand_format_name() writes, with its NUL ("raw:64"). */
#define MID_WIEGAND_NAME_MAX 12

/* A format: the kind and its bit count (fixed for the HID formats,
 * 1..64 for raw). */
typedef struct mid_wformat {
	uint8_t kind; /* mid_wiegand_kind_t */
	uint8_t bits;
} mid_wformat_t;

/* A Wiegand message: `nbits` bits, the first transmitted bit is the most
 * significant of the nbits low bits of `value`; higher bits are zero. */
typedef struct mid_wiegand_bits {
	uint8_t nbits;
	uint64_t value;
} mid_wiegand_bits_t;

/* Build a format from kind and, for raw, a bit count (ignored otherwise).
 * Returns 0, or MID_CERR_INVAL for an unknown kind or raw bits outside 1..64. */
int mid_wformat_make(int kind, unsigned raw_bits, mid_wformat_t *out);

/* Parse "H10301", "H10302", "H10304", "C1000-35" (case-insensitive) or
 * "raw:N" (N = 1..64). Returns 0 or MID_CERR_INVAL. */
int mid_wiegand_parse_format(const char *name, mid_wformat_t *out);

/* Write the canonical name of `f` into buf (at least MID_WIEGAND_NAME_MAX
 * bytes is always enough). Returns buf, or "?" (static) when f is invalid
 * or the buffer is too small. Nothing is allocated. */
const char *mid_wiegand_format_name(mid_wformat_t f, char *buf, size_t buflen);

/* 1 when f names a supported format with the right bit count, else 0. */
int mid_wformat_valid(mid_wformat_t f);

/* Largest facility code and card number `f` can carry (0 facility code for
 * formats without one). Returns 0 or MID_CERR_INVAL. The allocator uses
 * these to check configured ranges. */
int mid_wiegand_limits(mid_wformat_t f, uint32_t *max_fc, uint64_t *max_cn);

/* Encode fc/cn in format f with correct parity. Returns 0, MID_CERR_INVAL
 * (bad format) or MID_CERR_RANGE (a value does not fit). */
int mid_wiegand_encode(mid_wformat_t f, uint32_t fc, uint64_t cn, mid_wiegand_bits_t *out);

/* Check the length and every parity bit of `in` for format f and extract
 * the fields (fc/cn may be NULL). Returns 0, MID_CERR_INVAL (bad format
 * or a bit count that is not the format's) or MID_CERR_PARITY. */
int mid_wiegand_decode(mid_wformat_t f, const mid_wiegand_bits_t *in, uint32_t *fc, uint64_t *cn);

/* "0"/"1" text of the bits, first transmitted bit first, NUL-terminated;
 * buf needs nbits + 1 bytes. Returns 0 or MID_CERR_NOSPACE / MID_CERR_INVAL. */
int mid_wiegand_to_string(const mid_wiegand_bits_t *b, char *buf, size_t buflen);

/* Parse a "0"/"1" string of 1..64 characters. Returns 0 or MID_CERR_INVAL. */
int mid_wiegand_from_string(const char *s, mid_wiegand_bits_t *out);

/* The bits packed into bytes, first bit as the MSB of byte 0, the last
 * byte padded with zero bits; writes (nbits + 7) / 8 bytes and sets *len.
 * Returns 0 or MID_CERR_NOSPACE / MID_CERR_INVAL. */
int mid_wiegand_to_bytes(const mid_wiegand_bits_t *b, uint8_t *buf, size_t buflen, size_t *len);
