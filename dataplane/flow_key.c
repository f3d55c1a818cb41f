/* Normalised flow key and its keyed symmetric hash. */
#include "flow_key.h"

#include <string.h>

/* Secret words derived from the seed (splitmix64 steps, so related seeds
 * give unrelated secrets). Written once before workers start, then only
 * read. */
static uint64_t flow_secret[6];

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void bs_flow_hash_seed(uint64_t seed)
{
	uint64_t s = seed;
	for (int i = 0; i < 6; i++) {
		uint64_t v = splitmix64(&s);
		/* a zero secret word would let one key word cancel the multiply */
		flow_secret[i] = v ? v : 0x2d358dccaa6c78a5ull;
	}
}

__attribute__((constructor)) static void flow_hash_default_seed(void)
{
	bs_flow_hash_seed(0x6261636b73746f70ull); /* "backstop" */
}

/* 64x64 -> 128 multiply, folded: every output bit depends on every input bit
 * of both operands. */
static inline uint64_t mul_fold(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint32_t hash40(const struct bs_flow_key *k, uint64_t init)
{
	uint64_t w[5];
	memcpy(w, k, sizeof(w));
	const uint64_t *s = flow_secret;
	uint64_t a = mul_fold(w[0] ^ s[0], w[1] ^ s[1]);
	uint64_t b = mul_fold(w[2] ^ s[2], w[3] ^ s[3]);
	uint64_t c = mul_fold(w[4] ^ s[4] ^ init, a ^ s[5]);
	uint64_t h = mul_fold(b ^ s[0] ^ 40, c ^ s[1]);
	return (uint32_t)(h ^ (h >> 32));
}

uint32_t bs_flow_hash(const struct bs_flow_key *k)
{
	return hash40(k, 0);
}

uint32_t bs_flow_hash_fn(const void *key, uint32_t key_len, uint32_t init_val)
{
	(void)key_len;
	return hash40(key, init_val);
}

/* Orders endpoints by address bytes, then port. */
static inline int ep_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
	int c = memcmp(a, b, 16);
	if (c)
		return c;
	return (int)pa - (int)pb;
}

bool bs_flow_key_from_pkt(const struct bs_pkt *p, struct bs_flow_key *k)
{
	bool src_lo = ep_cmp(p->src, p->sport, p->dst, p->dport) <= 0;
	if (src_lo) {
		memcpy(k->lo_addr, p->src, 16);
		memcpy(k->hi_addr, p->dst, 16);
		k->lo_port = p->sport;
		k->hi_port = p->dport;
	} else {
		memcpy(k->lo_addr, p->dst, 16);
		memcpy(k->hi_addr, p->src, 16);
		k->lo_port = p->dport;
		k->hi_port = p->sport;
	}
	k->proto = p->l4_proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	return src_lo;
}
