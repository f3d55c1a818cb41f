/* Fuzz target: random bytes behind valid TCP headers, through the parser
 * and reassembly of both directions of one flow.
 *
 * The input is a script. Byte 0 picks the set-up (IPv4/IPv6, VLAN, pool
 * and per-direction caps, content mode); then each 4-byte op sends one
 * segment: direction, SYN/FIN, a flush (as on RST), a sequence offset
 * around the direction's front (so segments overlap, reorder and leave
 * holes), and a length. Payload bytes are the input's own bytes ("random"
 * mode), or a function of the sequence number ("consistent" mode, where
 * every copy of a byte is equal and the delivered stream can be checked
 * byte by byte).
 *
 * Checked after every segment: the frame parses back to the same segment;
 * delivered + skipped bytes account exactly for the advance of next_seq;
 * in consistent mode every delivered byte is right and there is no
 * overlap mismatch; the list and pool invariants hold (validate); blocks in
 * use never exceed the pool or the per-direction cap. At the end both
 * directions are flushed and the pool must be empty. */
#include "flow_key.h"
#include "fuzz.h"
#include "pkt_parse.h"
#include "reasm.h"

#include <string.h>

struct fz {
	uint32_t cur[2];     /* sequence number the next callback byte has */
	bool consistent;
	uint32_t mismatches;
};

static inline uint8_t content(uint32_t seq)
{
	uint32_t x = seq * 2654435761u;
	return (uint8_t)((x >> 24) ^ (x >> 11));
}

static void on_data(void *ctx, int dir, const uint8_t *p, uint32_t n)
{
	struct fz *z = ctx;
	FUZZ_ASSERT(n > 0, "empty data callback");
	if (z->consistent)
		for (uint32_t i = 0; i < n; i++)
			FUZZ_ASSERT(p[i] == content(z->cur[dir] + i), "dir %d byte at seq %u wrong", dir,
				    z->cur[dir] + i);
	/* read every byte: ASan checks the block or frame range */
	volatile uint8_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s ^= p[i];
	(void)s;
	z->cur[dir] += n;
}

static void on_gap(void *ctx, int dir, uint32_t n)
{
	struct fz *z = ctx;
	FUZZ_ASSERT(n > 0, "empty gap");
	z->cur[dir] += n;
}

static void on_anomaly(void *ctx, int dir, enum bs_reasm_anomaly a)
{
	struct fz *z = ctx;
	FUZZ_ASSERT(a < BS_REASM_ANOMALY_MAX, "anomaly %d", a);
	if (a == BS_REASM_OVERLAP_MISMATCH)
		z->mismatches++;
}

static const struct bs_reasm_cb fz_cb = {on_data, on_gap, on_anomaly};

static const uint8_t cli4[4] = {10, 0, 0, 1}, srv4[4] = {10, 0, 0, 2};

/* Builds Ethernet [+ VLAN] + IPv4/IPv6 + TCP around the payload. */
static uint32_t build_frame(uint8_t *f, bool v6, bool vlan, int dir, uint32_t seq, uint8_t flags,
			    const uint8_t *pl, uint32_t n)
{
	uint32_t o = 12;
	memset(f, 0x02, 12);
	if (vlan) {
		f[o++] = 0x81, f[o++] = 0x00, f[o++] = 0x00, f[o++] = 0x2a;
	}
	f[o++] = v6 ? 0x86 : 0x08;
	f[o++] = v6 ? 0xdd : 0x00;
	uint32_t l3 = o, tcplen = 20 + n;
	const uint8_t *sa = dir ? srv4 : cli4, *da = dir ? cli4 : srv4;
	if (v6) {
		memset(f + o, 0, 40);
		f[o] = 0x60;
		f[o + 4] = (uint8_t)(tcplen >> 8), f[o + 5] = (uint8_t)tcplen;
		f[o + 6] = 6, f[o + 7] = 64;
		f[o + 8] = 0x20, f[o + 9] = 0x01, f[o + 23] = sa[3];
		f[o + 24] = 0x20, f[o + 25] = 0x01, f[o + 39] = da[3];
		o += 40;
	} else {
		memset(f + o, 0, 20);
		f[o] = 0x45;
		f[o + 2] = (uint8_t)((20 + tcplen) >> 8), f[o + 3] = (uint8_t)(20 + tcplen);
		f[o + 8] = 64, f[o + 9] = 6;
		memcpy(f + o + 12, sa, 4);
		memcpy(f + o + 16, da, 4);
		o += 20;
	}
	(void)l3;
	uint16_t sp = dir ? 25 : 40000, dp = dir ? 40000 : 25;
	f[o] = (uint8_t)(sp >> 8), f[o + 1] = (uint8_t)sp;
	f[o + 2] = (uint8_t)(dp >> 8), f[o + 3] = (uint8_t)dp;
	f[o + 4] = (uint8_t)(seq >> 24), f[o + 5] = (uint8_t)(seq >> 16);
	f[o + 6] = (uint8_t)(seq >> 8), f[o + 7] = (uint8_t)seq;
	memset(f + o + 8, 0, 12);
	f[o + 12] = 5 << 4;
	f[o + 13] = flags;
	o += 20;
	if (n)
		memcpy(f + o, pl, n);
	return o + n;
}

#define MAX_PAYLOAD 1600

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t cfg = data[0];
	static const uint32_t pool_sizes[4] = {0, 3, 16, 256};
	static const uint32_t dir_caps[4] = {1, 2, 4, 64};
	uint32_t nblocks = pool_sizes[(cfg >> 3) & 3];
	uint32_t dir_cap = dir_caps[(cfg >> 5) & 3];
	bool v6 = cfg & 2, vlan = cfg & 4;
	struct fz z = {.consistent = cfg & 1};
	/* pools are created once per configuration and reused: every input
	 * ends with both directions flushed and the pool checked empty, so a
	 * leak of blocks from one input is caught before the next */
	static struct bs_reasm_pool *pools[4][4];
	struct bs_reasm_pool **slot = &pools[(cfg >> 3) & 3][(cfg >> 5) & 3];
	if (!*slot)
		*slot = bs_reasm_pool_create(nblocks, dir_cap * BS_REASM_BLOCK_DATA);
	struct bs_reasm_pool *pool = *slot;
	FUZZ_ASSERT(pool != NULL, "pool");
	FUZZ_ASSERT(bs_reasm_pool_in_use(pool) == 0, "pool not empty at start");
	struct bs_reasm_dir d[2];
	bs_reasm_dir_init(&d[0]);
	bs_reasm_dir_init(&d[1]);
	/* ISNs near the wrap point half of the time */
	uint32_t front[2] = {cfg & 0x80 ? 0xfffff000u : 1000u, cfg & 0x80 ? 0x7ffff000u : 0xfffffe00u};
	static uint8_t frame[MAX_PAYLOAD + 128], pl[MAX_PAYLOAD];
	size_t i = 1;
	char err[200];
	while (i + 4 <= size) {
		uint8_t op = data[i];
		int dir = op & 1;
		bool syn = op & 2, fin = op & 4, flush = (op & 0x18) == 0x18;
		int16_t delta = (int16_t)((data[i + 1] << 8) | data[i + 2]);
		uint32_t n = data[i + 3] | ((uint32_t)(op >> 5) << 8); /* 0..2047 */
		if (n > MAX_PAYLOAD)
			n = MAX_PAYLOAD;
		i += 4;
		if (flush) {
			bs_reasm_flush(pool, &d[dir], dir, &fz_cb, &z);
			FUZZ_ASSERT(d[dir].ooo_blocks == 0 && d[dir].ooo_head == BS_REASM_NONE, "flush left blocks");
			if (d[dir].synced)
				FUZZ_ASSERT(z.cur[dir] == d[dir].next_seq, "flush accounting");
			continue;
		}
		/* sequence around the direction's front: small deltas make
		 * overlaps, retransmissions and holes; op bit 3 a far jump */
		uint32_t seq = front[dir] + (uint32_t)(int32_t)delta * ((op & 8) ? 65536 : 1);
		uint32_t dstart = seq + (syn ? 1 : 0);
		if (z.consistent) {
			for (uint32_t k = 0; k < n; k++)
				pl[k] = content(dstart + k);
		} else {
			size_t avail = size - i;
			if (n > avail)
				n = (uint32_t)avail;
			memcpy(pl, data + i, n);
			i += n;
		}
		uint8_t flags = BS_TCP_ACK | (syn ? BS_TCP_SYN : 0) | (fin ? BS_TCP_FIN : 0);
		uint32_t flen = build_frame(frame, v6, vlan, dir, seq, flags, pl, n);
		struct bs_pkt p;
		int st = bs_pkt_parse(frame, flen, &p);
		FUZZ_ASSERT(st == BS_PKT_TCP, "built frame parsed as %s", bs_pkt_status_name[st]);
		FUZZ_ASSERT(p.seq == seq && p.payload_len == n && p.tcp_flags == flags, "fields");
		FUZZ_ASSERT(n == 0 || memcmp(p.payload, pl, n) == 0, "payload");
		struct bs_flow_key k;
		bool src_lo = bs_flow_key_from_pkt(&p, &k);
		FUZZ_ASSERT(src_lo == (dir == 0), "client 10.0.0.1 is the lo side");
		if (!d[dir].synced)
			z.cur[dir] = dstart;
		bs_reasm_segment(pool, &d[dir], dir, p.seq, p.tcp_flags & BS_TCP_SYN, p.tcp_flags & BS_TCP_FIN,
				 p.payload, p.payload_len, &fz_cb, &z);
		if (seq - front[dir] < 0x80000000u && (int32_t)(seq + n - front[dir]) > 0)
			front[dir] = seq + n;
		FUZZ_ASSERT(z.cur[dir] == d[dir].next_seq, "dir %d: callbacks reached %u, next_seq %u", dir,
			    z.cur[dir], d[dir].next_seq);
		FUZZ_ASSERT(bs_reasm_dir_validate(pool, &d[dir], err, sizeof(err)) == 0, "%s", err);
		FUZZ_ASSERT(bs_reasm_pool_validate(pool, err, sizeof(err)) == 0, "%s", err);
		FUZZ_ASSERT(bs_reasm_pool_in_use(pool) <= nblocks, "pool over its size");
		FUZZ_ASSERT(d[dir].ooo_blocks <= dir_cap, "direction over its cap");
	}
	for (int dir = 0; dir < 2; dir++) {
		bs_reasm_flush(pool, &d[dir], dir, &fz_cb, &z);
		if (d[dir].synced)
			FUZZ_ASSERT(z.cur[dir] == d[dir].next_seq, "final accounting");
	}
	FUZZ_ASSERT(bs_reasm_pool_in_use(pool) == 0, "blocks leaked: %u", bs_reasm_pool_in_use(pool));
	if (z.consistent)
		FUZZ_ASSERT(z.mismatches == 0, "mismatch reported for identical copies");
	return 0;
}
