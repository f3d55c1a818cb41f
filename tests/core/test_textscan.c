/* dataplane/textscan.h against plain references: bs_ascii_ieq against
 * strncasecmp (C locale) for every byte pair and random strings with case
 * flips; bs_find_eol against a byte loop for random buffers of every
 * length up to 100 with CR/LF/8-bit bytes at every position; bs_ftext_span
 * likewise against the RFC 5322 ftext definition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "dataplane/textscan.h"

static int fails;
#define FAIL(...) do { fprintf(stderr, __VA_ARGS__); fails++; } while (0)

static size_t eol_ref(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return i;
	return n;
}

int main(void)
{
	for (int c = 1; c < 256; c++)
		for (int d = 1; d < 256; d++)
			for (size_t pos = 0; pos < 12; pos += 5) { /* in the 8-byte step and in the tail */
				char a[13] = "Content-Type", b[13] = "content-type";
				a[pos] = (char)c;
				b[pos] = (char)d;
				bool want = strncasecmp(a, b, 12) == 0;
				if (bs_ascii_ieq(a, b, 12) != want)
					FAIL("ieq: bytes %d/%d at %zu: got %d\n", c, d, pos, !want);
			}
	srand(7);
	for (int k = 0; k < 2000000; k++) {
		char a[40], b[40];
		size_t n = (size_t)(rand() % 40);
		for (size_t i = 0; i < n; i++) {
			a[i] = (char)(1 + rand() % 255);
			b[i] = rand() % 4 ? (char)(a[i] ^ (rand() % 2 ? 0x20 : 0)) : (char)(1 + rand() % 255);
			if (!b[i])
				b[i] = 1;
		}
		if (bs_ascii_ieq(a, b, n) != (strncasecmp(a, b, n) == 0))
			FAIL("ieq: random strings of %zu bytes disagree\n", n);
	}
	uint8_t buf[128];
	for (size_t n = 0; n <= 100; n++)
		for (int k = 0; k < 2000; k++) {
			for (size_t i = 0; i < n; i++) {
				int r = rand() % 64;
				buf[i] = r == 0 ? '\r' : r == 1 ? '\n' : r == 2 ? 0x8d : r == 3 ? 0x8a : (uint8_t)(' ' + rand() % 95);
			}
			buf[n] = '\n'; /* past the end: must not be seen */
			if (bs_find_eol(buf, n) != eol_ref(buf, n))
				FAIL("eol: %zu-byte buffer: got %zu, want %zu\n", n, bs_find_eol(buf, n), eol_ref(buf, n));
		}
	for (size_t n = 0; n <= 100; n++)
		for (int k = 0; k < 2000; k++) {
			for (size_t i = 0; i < n; i++) {
				int r = rand() % 40;
				buf[i] = r == 0 ? ':' : r == 1 ? ' ' : r == 2 ? (uint8_t)(128 + rand() % 128) : r == 3 ? 127
					: r == 4 ? (uint8_t)(rand() % 33) : (uint8_t)(33 + rand() % 94);
			}
			size_t want = 0;
			while (want < n && buf[want] >= 33 && buf[want] <= 126 && buf[want] != ':')
				want++;
			if (bs_ftext_span(buf, n) != want)
				FAIL("ftext: %zu-byte buffer: got %zu, want %zu\n", n, bs_ftext_span(buf, n), want);
		}
	if (fails)
		return 1;
	printf("textscan: ok\n");
	return 0;
}
