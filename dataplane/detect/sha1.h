/* SHA-1 and HMAC-SHA1 (RFC 3174, RFC 2104): only what BATV tag checking
 * needs. Small and dependency-free so the detection library does not pull
 * in a crypto library for one 20-byte hash. Not for new security designs:
 * BATV specifies HMAC-SHA1 and that is all this is used for. */
#ifndef BS_SHA1_H
#define BS_SHA1_H
#include <stdint.h>
#include <stddef.h>

#define BS_SHA1_LEN 20
#define BS_SHA1_BLOCK 64

struct bs_sha1 {
	uint32_t h[5];
	uint64_t total;               /* bytes hashed so far */
	uint8_t buf[BS_SHA1_BLOCK];
	uint32_t used;                /* bytes pending in buf */
};

void bs_sha1_init(struct bs_sha1 *s);
void bs_sha1_update(struct bs_sha1 *s, const void *p, size_t n);
void bs_sha1_final(struct bs_sha1 *s, uint8_t out[BS_SHA1_LEN]);

void bs_hmac_sha1(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[BS_SHA1_LEN]);

#endif
