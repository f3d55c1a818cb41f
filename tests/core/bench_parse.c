/* Micro-benchmark of the per-packet stages owned here: parse, flow key +
 * hash, reassembly (in order, reordered, 1-byte segments). Run with
 * `meson test -C build --benchmark --suite parse` (not part of the normal
 * test run: timings on a shared CI box are not pass/fail material).
 * Prints ns and TSC cycles per operation: the best of many short trials,
 * so other load on the machine (CI, parallel builds) inflates the figures
 * as little as possible. */
#include "flow_key.h"
#include "pkt_parse.h"
#include "reasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t cycles(void)
{
#ifdef HAVE_TSC
	return __rdtsc();
#else
	return 0;
#endif
}

static volatile uint64_t sink;

static void report(const char *what, double secs, uint64_t cyc, uint64_t n)
{
	printf("%-44s %8.1f ns/op %8.1f cycles/op %8.2f M ops/s\n", what, secs * 1e9 / (double)n,
	       (double)cyc / (double)n, (double)n / secs / 1e6);
}

/* Runs `body` (which performs `per` operations) in trials for about 0.5 s
 * and reports the fastest trial. */
#define BENCH(what, per, body)                                                   \
	do {                                                                     \
		double best_s = 1e9, start = now_s();                            \
		uint64_t best_c = 0;                                             \
		while (now_s() - start < 0.5) {                                  \
			double t0 = now_s();                                     \
			uint64_t c0 = cycles();                                  \
			body;                                                    \
			uint64_t c1 = cycles();                                  \
			double dt = now_s() - t0;                                \
			if (dt < best_s) {                                       \
				best_s = dt;                                     \
				best_c = c1 - c0;                                \
			}                                                        \
		}                                                                \
		report(what, best_s, best_c, (per));                             \
	} while (0)

/* IPv4 TCP frame of `total` bytes with a timestamp option (as Linux sends) */
static uint32_t frame4(uint8_t *f, uint32_t total)
{
	memset(f, 0, total);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	uint32_t tot = total - 14;
	ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
	ip[12] = 192, ip[15] = 1, ip[16] = 198, ip[19] = 2;
	uint8_t *t = ip + 20;
	t[0] = 0x9c, t[1] = 0x40, t[3] = 25;
	t[12] = 8 << 4, t[13] = 0x18;
	t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
	return total;
}

/* QinQ + IPv6 + hop-by-hop + destination options + TCP */
static uint32_t frame6(uint8_t *f)
{
	uint32_t n = 0;
	memset(f, 0, 400);
	n = 12;
	f[n++] = 0x88, f[n++] = 0xa8, f[n++] = 0, f[n++] = 10;
	f[n++] = 0x81, f[n++] = 0x00, f[n++] = 0, f[n++] = 20;
	f[n++] = 0x86, f[n++] = 0xdd;
	uint8_t *ip = f + n;
	ip[0] = 0x60;
	uint32_t plen = 8 + 8 + 20 + 200;
	ip[4] = (uint8_t)(plen >> 8), ip[5] = (uint8_t)plen, ip[6] = 0, ip[7] = 64;
	n += 40;
	f[n] = 60, n += 8;
	f[n] = 6, n += 8;
	f[n + 12] = 5 << 4, f[n + 13] = 0x10;
	n += 20 + 200;
	return n;
}

static void nop_data(void *ctx, int dir, const uint8_t *p, uint32_t n)
{
	sink += n + p[0];
}
static void nop_gap(void *ctx, int dir, uint32_t n) { sink += n; }
static void nop_anom(void *ctx, int dir, enum bs_reasm_anomaly a) { sink++; }
static const struct bs_reasm_cb cb = {nop_data, nop_gap, nop_anom};

static void bench_parse(void)
{
	static uint8_t f4[335], f6[400];
	uint32_t n4 = frame4(f4, sizeof(f4)), n6 = frame6(f6);
	struct bs_pkt p;
	const uint64_t N = 20000;
	if (bs_pkt_parse(f4, n4, &p) != BS_PKT_TCP || bs_pkt_parse(f6, n6, &p) != BS_PKT_TCP) {
		fprintf(stderr, "bench frames do not parse\n");
		exit(1);
	}
	BENCH("parse ipv4/tcp 335 B", N, for (uint64_t i = 0; i < N; i++) {
		f4[14 + 20 + 7] = (uint8_t)i; /* defeat hoisting */
		sink += bs_pkt_parse(f4, n4, &p) + p.seq;
	});
	BENCH("parse qinq/ipv6+2 ext/tcp", N, for (uint64_t i = 0; i < N; i++) {
		f6[23] = (uint8_t)i;
		sink += bs_pkt_parse(f6, n6, &p) + p.payload_len;
	});

	struct bs_flow_key k;
	bs_pkt_parse(f4, n4, &p);
	BENCH("flow key + hash", N, for (uint64_t i = 0; i < N; i++) {
		p.sport = (uint16_t)i;
		sink += bs_flow_key_from_pkt(&p, &k);
		sink += bs_flow_hash(&k);
	});
}

static void bench_reasm(void)
{
	enum { SEG = 1448, NSEG = 1 << 12 };
	uint8_t *data = malloc((size_t)SEG * 4);
	memset(data, 'a', (size_t)SEG * 4);
	struct bs_reasm_pool *pool = bs_reasm_pool_create(32768, 256 * 1024);
	struct bs_reasm_dir d;

	/* in order */
	BENCH("reasm in order, 1448 B segments", NSEG, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t i = 0; i < NSEG; i++)
			bs_reasm_segment(pool, &d, 0, 1001 + i * SEG, false, false, data, SEG, &cb, NULL);
	});
	/* every pair swapped: half the segments are buffered (copied) */
	BENCH("reasm pairs swapped (50% buffered)", NSEG, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t i = 0; i < NSEG; i += 2) {
			bs_reasm_segment(pool, &d, 0, 1001 + (i + 1) * SEG, false, false, data, SEG, &cb, NULL);
			bs_reasm_segment(pool, &d, 0, 1001 + i * SEG, false, false, data, SEG, &cb, NULL);
		}
	});
	/* one segment lost, the rest of a 64-segment window arrives after it */
	BENCH("reasm hole + 63 segments behind it", NSEG, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t w = 0; w < NSEG; w += 64) {
			for (uint32_t i = 1; i < 64; i++)
				bs_reasm_segment(pool, &d, 0, 1001 + (w + i) * SEG, false, false, data, SEG, &cb, NULL);
			bs_reasm_segment(pool, &d, 0, 1001 + w * SEG, false, false, data, SEG, &cb, NULL);
		}
	});
	/* 1-byte segments in order */
	BENCH("reasm in order, 1 B segments", NSEG, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t i = 0; i < NSEG; i++)
			bs_reasm_segment(pool, &d, 0, 1001 + i, false, false, data, 1, &cb, NULL);
	});
	/* worst case the cap allows: a hole, then the direction's list full of
	 * non-contiguous 1-byte segments (each insert at the far end) */
	BENCH("reasm worst: 1 B holes, 128-block list", NSEG / 8, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t i = 0; i < NSEG / 8; i++)
			bs_reasm_segment(pool, &d, 0, 1002 + 2 * i, false, false, data, 1, &cb, NULL);
		bs_reasm_flush(pool, &d, 0, &cb, NULL);
	});
	/* random 1-byte segments within 512 bytes ahead of a hole: inserts in
	 * the middle of a list of up to 128 blocks (the real worst case) */
	uint32_t x = 12345;
	BENCH("reasm worst: random 1 B inserts, full list", NSEG / 8, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t i = 0; i < NSEG / 8; i++) {
			x = x * 1103515245u + 12345u;
			bs_reasm_segment(pool, &d, 0, d.next_seq + 1 + (x >> 16) % 512, false, false, data, 1,
					 &cb, NULL);
		}
		bs_reasm_flush(pool, &d, 0, &cb, NULL);
	});
	/* the same, inserted in descending order (each insert at the head) */
	BENCH("reasm worst: descending 1 B holes", NSEG / 8, {
		bs_reasm_dir_init(&d);
		bs_reasm_segment(pool, &d, 0, 1000, true, false, NULL, 0, &cb, NULL);
		for (uint32_t i = NSEG / 8; i > 0; i--)
			bs_reasm_segment(pool, &d, 0, 1002 + 2 * i, false, false, data, 1, &cb, NULL);
		bs_reasm_flush(pool, &d, 0, &cb, NULL);
	});
	bs_reasm_pool_free(pool);
	free(data);
}

int main(void)
{
	bench_parse();
	bench_reasm();
	printf("(sink %llu)\n", (unsigned long long)sink);
	return 0;
}
