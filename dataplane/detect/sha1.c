/* SHA-1 per FIPS 180-4 / RFC 3174, HMAC per RFC 2104. */
#include <string.h>
#include "sha1.h"

static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
		else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
		else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
		else { f = b ^ c ^ d; k = 0xCA62C1D6; }
		uint32_t t = rol32(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol32(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void bs_sha1_init(struct bs_sha1 *s)
{
	s->h[0] = 0x67452301; s->h[1] = 0xEFCDAB89; s->h[2] = 0x98BADCFE;
	s->h[3] = 0x10325476; s->h[4] = 0xC3D2E1F0;
	s->total = 0;
	s->used = 0;
}

void bs_sha1_update(struct bs_sha1 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	s->total += n;
	while (n > 0) {
		if (s->used == 0 && n >= BS_SHA1_BLOCK) {
			sha1_block(s->h, p);
			p += BS_SHA1_BLOCK;
			n -= BS_SHA1_BLOCK;
			continue;
		}
		uint32_t take = BS_SHA1_BLOCK - s->used;
		if (take > n)
			take = (uint32_t)n;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used == BS_SHA1_BLOCK) {
			sha1_block(s->h, s->buf);
			s->used = 0;
		}
	}
}

void bs_sha1_final(struct bs_sha1 *s, uint8_t out[BS_SHA1_LEN])
{
	uint64_t bits = s->total * 8;
	uint8_t pad = 0x80;
	bs_sha1_update(s, &pad, 1);
	uint8_t zero = 0;
	while (s->used != 56)
		bs_sha1_update(s, &zero, 1);
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	bs_sha1_update(s, len, 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void bs_hmac_sha1(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[BS_SHA1_LEN])
{
	uint8_t k[BS_SHA1_BLOCK] = {0};
	struct bs_sha1 s;
	if (klen > BS_SHA1_BLOCK) {   /* RFC 2104: long keys are hashed first */
		bs_sha1_init(&s);
		bs_sha1_update(&s, key, klen);
		bs_sha1_final(&s, k);
	} else {
		memcpy(k, key, klen);
	}
	uint8_t ipad[BS_SHA1_BLOCK], opad[BS_SHA1_BLOCK], inner[BS_SHA1_LEN];
	for (int i = 0; i < BS_SHA1_BLOCK; i++) {
		ipad[i] = k[i] ^ 0x36;
		opad[i] = k[i] ^ 0x5c;
	}
	bs_sha1_init(&s);
	bs_sha1_update(&s, ipad, sizeof ipad);
	bs_sha1_update(&s, msg, mlen);
	bs_sha1_final(&s, inner);
	bs_sha1_init(&s);
	bs_sha1_update(&s, opad, sizeof opad);
	bs_sha1_update(&s, inner, sizeof inner);
	bs_sha1_final(&s, out);
}
