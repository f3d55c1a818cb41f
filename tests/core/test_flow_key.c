/* Flow key tests: both directions give the same key bytes and hash, padding
 * is zero whatever the memory held before, the hash spreads flows evenly
 * over workers and buckets, and the seed changes it. */
#include "flow_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                              \
		}                                                                \
	} while (0)

static void pkt4(struct bs_pkt *p, uint32_t a, uint16_t ap, uint32_t b, uint16_t bp)
{
	memset(p, 0, sizeof(*p));
	p->ip_ver = 4;
	p->l4_proto = 6;
	p->src[10] = p->src[11] = 0xff;
	p->dst[10] = p->dst[11] = 0xff;
	for (int i = 0; i < 4; i++) {
		p->src[12 + i] = (uint8_t)(a >> (24 - 8 * i));
		p->dst[12 + i] = (uint8_t)(b >> (24 - 8 * i));
	}
	p->sport = ap;
	p->dport = bp;
}

static void reverse(const struct bs_pkt *p, struct bs_pkt *r)
{
	*r = *p;
	memcpy(r->src, p->dst, 16);
	memcpy(r->dst, p->src, 16);
	r->sport = p->dport;
	r->dport = p->sport;
}

static void test_symmetry(void)
{
	struct bs_pkt p, r;
	struct bs_flow_key k1, k2;
	/* fill with garbage first: padding must still come out zero */
	memset(&k1, 0xff, sizeof(k1));
	memset(&k2, 0xa5, sizeof(k2));
	pkt4(&p, 0xc0000201, 40000, 0xc6336402, 25);
	reverse(&p, &r);
	bool lo1 = bs_flow_key_from_pkt(&p, &k1);
	bool lo2 = bs_flow_key_from_pkt(&r, &k2);
	CHECK(lo1 != lo2);
	CHECK(lo1); /* 192.0.2.1 < 198.51.100.2 */
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	CHECK(k1.pad[0] == 0 && k1.pad[1] == 0 && k1.pad[2] == 0 && k1.proto == 6);
	CHECK(k1.lo_port == 40000 && k1.hi_port == 25);
	CHECK(bs_flow_hash(&k1) == bs_flow_hash(&k2));
	CHECK(bs_flow_hash_fn(&k1, sizeof(k1), 0) == bs_flow_hash(&k1));
	CHECK(bs_flow_hash_fn(&k1, sizeof(k1), 7) != bs_flow_hash_fn(&k1, sizeof(k1), 8));

	/* same address both sides: the port decides */
	pkt4(&p, 0x0a000001, 2000, 0x0a000001, 25);
	reverse(&p, &r);
	CHECK(!bs_flow_key_from_pkt(&p, &k1));
	CHECK(bs_flow_key_from_pkt(&r, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0 && k1.lo_port == 25);
	/* identical endpoints (a LAND packet): defined, source is lo */
	pkt4(&p, 0x0a000001, 25, 0x0a000001, 25);
	CHECK(bs_flow_key_from_pkt(&p, &k1));

	/* IPv6: address bytes compared as a whole, beyond the first byte */
	memset(&p, 0, sizeof(p));
	p.ip_ver = 6;
	p.l4_proto = 6;
	p.src[0] = p.dst[0] = 0x20;
	p.src[15] = 9;
	p.dst[15] = 3;
	p.sport = 25;
	p.dport = 50000;
	reverse(&p, &r);
	CHECK(!bs_flow_key_from_pkt(&p, &k1));
	CHECK(bs_flow_key_from_pkt(&r, &k2));
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0 && k1.lo_addr[15] == 3 && k1.lo_port == 50000);
	CHECK(bs_flow_hash(&k1) == bs_flow_hash(&k2));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Flows that differ only in the client port (the common case behind one
 * NAT or relay) must spread over workers and table buckets evenly. */
static void test_distribution(void)
{
	enum { N = 65536, W = 16, B = 4096 };
	static unsigned workers[W], buckets[B];
	uint32_t *hs = malloc(N * sizeof(*hs));
	struct bs_pkt p;
	struct bs_flow_key k;
	for (uint32_t i = 0; i < N; i++) {
		pkt4(&p, 0xc0000201, (uint16_t)(1024 + i), 0xc6336402, 25);
		bs_flow_key_from_pkt(&p, &k);
		uint32_t h = bs_flow_hash(&k);
		hs[i] = h;
		workers[h % W]++;
		buckets[h >> 20]++; /* top bits, as a bucketed table would use */
	}
	/* chi-square, W-1 = 15 degrees of freedom: 99.9% quantile is 37.7 */
	double chi = 0, e = (double)N / W;
	for (int i = 0; i < W; i++)
		chi += (workers[i] - e) * (workers[i] - e) / e;
	CHECK(chi < 37.7);
	/* 4095 degrees of freedom: mean 4095, sd ~90.5; allow 5 sd */
	chi = 0;
	e = (double)N / B;
	for (int i = 0; i < B; i++)
		chi += (buckets[i] - e) * (buckets[i] - e) / e;
	CHECK(chi < 4095 + 5 * 90.5);
	/* distinct values: expected collisions among 65536 random 32-bit values
	 * is about 0.5 */
	qsort(hs, N, sizeof(*hs), cmp_u32);
	int dups = 0;
	for (int i = 1; i < N; i++)
		dups += hs[i] == hs[i - 1];
	CHECK(dups <= 8);
	free(hs);
}

/* Flipping any one key bit flips about half of the output bits. */
static void test_avalanche(void)
{
	struct bs_pkt p;
	struct bs_flow_key k;
	pkt4(&p, 0xc0000201, 40000, 0xc6336402, 25);
	bs_flow_key_from_pkt(&p, &k);
	uint32_t h0 = bs_flow_hash(&k);
	double total = 0;
	int worst = 32, nbits = 0;
	for (int byte = 0; byte < 37; byte++) { /* all but the zero padding */
		for (int bit = 0; bit < 8; bit++) {
			struct bs_flow_key m = k;
			((uint8_t *)&m)[byte] ^= (uint8_t)(1u << bit);
			int d = __builtin_popcount(h0 ^ bs_flow_hash(&m));
			total += d;
			if (d < worst)
				worst = d;
			nbits++;
		}
	}
	double mean = total / nbits;
	CHECK(mean > 14.0 && mean < 18.0);
	CHECK(worst >= 4);
}

static void test_seed(void)
{
	struct bs_pkt p, r;
	struct bs_flow_key k, kr;
	pkt4(&p, 0xc0000201, 40000, 0xc6336402, 25);
	reverse(&p, &r);
	bs_flow_key_from_pkt(&p, &k);
	bs_flow_key_from_pkt(&r, &kr);
	uint32_t h_default = bs_flow_hash(&k);
	int same = 0;
	for (uint64_t s = 1; s <= 64; s++) {
		bs_flow_hash_seed(s);
		uint32_t h = bs_flow_hash(&k);
		same += h == h_default;
		CHECK(h == bs_flow_hash(&kr)); /* still symmetric */
	}
	CHECK(same <= 1);
	bs_flow_hash_seed(0x6261636b73746f70ull); /* the documented default */
	CHECK(bs_flow_hash(&k) == h_default);
}

int main(void)
{
	test_symmetry();
	test_distribution();
	test_avalanche();
	test_seed();
	if (failures) {
		fprintf(stderr, "test_flow_key: %d failures\n", failures);
		return 1;
	}
	printf("test_flow_key: all passed\n");
	return 0;
}
