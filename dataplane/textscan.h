/* Inline text primitives for the per-packet path, where a libc call per
 * line or per header field costs more than the work itself: header lines
 * are ~40-80 bytes, so the set-up of two memchr calls (LF, then CR before
 * it) or of a strncasecmp dominates. */
#ifndef BS_TEXTSCAN_H
#define BS_TEXTSCAN_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Index of the first CR or LF in p[0..n), or n: the end of a physical
 * line whatever its terminator (CRLF, LF, CR). 16 bytes per step. */
static inline size_t bs_find_eol(const uint8_t *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return n;
}

/* Length of the leading run of RFC 5322 ftext bytes in p[0..n) (printable
 * ASCII 33..126 except ':'): a header field name. 16 bytes per step. */
static inline size_t bs_ftext_span(const uint8_t *p, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i colon = _mm_set1_epi8(':'), lo = _mm_set1_epi8(33), del = _mm_set1_epi8(127);
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		/* signed compare: bytes of 0x80 and above are negative, so
		 * they count as below 33 */
		__m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, colon), _mm_cmplt_epi8(v, lo)),
					   _mm_cmpeq_epi8(v, del));
		unsigned m = (unsigned)_mm_movemask_epi8(bad);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && p[i] >= 33 && p[i] <= 126 && p[i] != ':')
		i++;
	return i;
}

/* Value of a hex digit, -1 for anything else (quoted-printable, RFC 2047 Q). */
static inline int bs_hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static inline unsigned char bs_ascii_lower(unsigned char c)
{
	return (unsigned char)((unsigned)c - 'A' < 26u ? c | 0x20 : c);
}

/* ASCII lower case of 8 bytes at once (SWAR): bit 5 is set in every byte
 * that is 'A'..'Z'; other bytes (8-bit ones included) are unchanged. */
static inline uint64_t bs_ascii_lower8(uint64_t x)
{
	const uint64_t h = 0x8080808080808080ull, low7 = 0x7f7f7f7f7f7f7f7full;
	uint64_t b = x & low7;
	uint64_t ge_a = b + 0x3f3f3f3f3f3f3f3full;  /* high bit: b >= 'A' (0x41) */
	uint64_t gt_z = b + 0x2525252525252525ull;  /* high bit: b >  'Z' (0x5a) */
	uint64_t upper = ge_a & ~gt_z & ~x & h;     /* and x itself is 7-bit */
	return x | (upper >> 2);
}

/* a[0..n) equals b[0..n) ignoring ASCII case: strncasecmp(a, b, n) == 0
 * in the C locale for strings without NUL in the first n bytes (field
 * names and keywords compared once their lengths match), inlined and 8
 * bytes per step. */
static inline bool bs_ascii_ieq(const char *a, const char *b, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		__builtin_memcpy(&x, a + i, 8);
		__builtin_memcpy(&y, b + i, 8);
		if (x != y && bs_ascii_lower8(x) != bs_ascii_lower8(y))
			return false;
	}
	for (; i < n; i++)
		if (bs_ascii_lower((unsigned char)a[i]) != bs_ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

#endif
