/* Reassembly tests: a recording consumer rebuilds each direction's stream by
 * position (delivered bytes at their offset, gaps as holes), so each case can
 * compare against the bytes that were sent, count gaps and anomalies, and
 * check the pool is empty afterwards. */
#include "reasm.h"

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

#define STREAM_MAX (1u << 20)
#define HOLE 0xEE /* marker for bytes covered by a gap */

struct rec {
	uint8_t buf[2][STREAM_MAX];
	uint32_t pos[2];        /* delivered + gap bytes so far */
	uint32_t delivered[2];
	uint32_t gap_bytes[2];
	uint32_t gap_calls[2];
	uint32_t data_calls[2];
	unsigned anom[2][BS_REASM_ANOMALY_MAX];
	const uint8_t *last_ptr[2];
};

static void on_data(void *ctx, int dir, const uint8_t *p, uint32_t n)
{
	struct rec *r = ctx;
	if (r->pos[dir] + n <= STREAM_MAX)
		memcpy(r->buf[dir] + r->pos[dir], p, n);
	r->pos[dir] += n;
	r->delivered[dir] += n;
	r->data_calls[dir]++;
	r->last_ptr[dir] = p;
}

static void on_gap(void *ctx, int dir, uint32_t n)
{
	struct rec *r = ctx;
	if (r->pos[dir] + n <= STREAM_MAX)
		memset(r->buf[dir] + r->pos[dir], HOLE, n);
	else if (r->pos[dir] < STREAM_MAX)
		memset(r->buf[dir] + r->pos[dir], HOLE, STREAM_MAX - r->pos[dir]);
	r->pos[dir] += n;
	r->gap_bytes[dir] += n;
	r->gap_calls[dir]++;
}

static void on_anomaly(void *ctx, int dir, enum bs_reasm_anomaly a)
{
	struct rec *r = ctx;
	r->anom[dir][a]++;
}

static const struct bs_reasm_cb cb = {on_data, on_gap, on_anomaly};

static struct rec *rec_new(void)
{
	return calloc(1, sizeof(struct rec));
}

/* deterministic stream content: byte i of the stream */
static uint8_t sbyte(uint32_t i)
{
	uint32_t x = i * 2654435761u;
	return (uint8_t)(x >> 24) ^ (uint8_t)i;
}

static uint8_t stream[STREAM_MAX];

static void fill_stream(void)
{
	for (uint32_t i = 0; i < STREAM_MAX; i++)
		stream[i] = sbyte(i);
}

/* sends stream[off, off+n) with sequence isn+1+off (SYN already seen) */
static void seg(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, struct rec *r, uint32_t isn,
		uint32_t off, uint32_t n, bool fin)
{
	bs_reasm_segment(pool, d, 0, isn + 1 + off, false, fin, stream + off, n, &cb, r);
}

static void syn(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, struct rec *r, uint32_t isn)
{
	bs_reasm_segment(pool, d, 0, isn, true, false, NULL, 0, &cb, r);
}

/* delivered bytes equal the stream where not covered by gaps */
static bool matches(const struct rec *r, uint32_t from, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t got = r->buf[0][i];
		if (got != stream[from + i] && got != HOLE)
			return false;
	}
	return true;
}

static void test_in_order_zero_copy(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 1000);
	CHECK(d.synced && d.next_seq == 1001 && !d.midstream);
	seg(pool, &d, r, 1000, 0, 100, false);
	CHECK(r->last_ptr[0] == stream); /* handed over in place, not copied */
	seg(pool, &d, r, 1000, 100, 50, false);
	CHECK(r->last_ptr[0] == stream + 100);
	CHECK(r->delivered[0] == 150 && memcmp(r->buf[0], stream, 150) == 0);
	CHECK(bs_reasm_pool_in_use(pool) == 0 && r->anom[0][BS_REASM_OOO] == 0);
	CHECK(d.next_seq == 1151);
	/* SYN retransmitted: nothing */
	syn(pool, &d, r, 1000);
	CHECK(r->delivered[0] == 150 && r->anom[0][BS_REASM_RETRANSMIT] == 0);
	/* a segment starting one byte early: only its new byte is delivered */
	bs_reasm_segment(pool, &d, 0, 1150, false, false, stream + 149, 2, &cb, r);
	CHECK(r->delivered[0] == 151);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_syn_with_data(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(8, 16384);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	/* TCP Fast Open: data on the SYN starts at ISN+1 */
	bs_reasm_segment(pool, &d, 0, 500, true, false, stream, 10, &cb, r);
	seg(pool, &d, r, 500, 10, 10, false);
	CHECK(r->delivered[0] == 20 && memcmp(r->buf[0], stream, 20) == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_out_of_order(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 7);
	seg(pool, &d, r, 7, 200, 100, false);
	seg(pool, &d, r, 7, 100, 100, false);
	/* data is appended to a block, never prepended: two blocks */
	CHECK(r->delivered[0] == 0 && bs_reasm_pool_in_use(pool) == 2);
	CHECK(d.ooo_bytes == 200 && d.ooo_blocks == 2);
	seg(pool, &d, r, 7, 300, 100, false); /* appended to the [200,300) block */
	CHECK(d.ooo_bytes == 300 && d.ooo_blocks == 2);
	CHECK(r->anom[0][BS_REASM_OOO] == 3);
	seg(pool, &d, r, 7, 0, 100, false);
	CHECK(r->delivered[0] == 400 && memcmp(r->buf[0], stream, 400) == 0);
	CHECK(bs_reasm_pool_in_use(pool) == 0 && d.ooo_head == BS_REASM_NONE && d.ooo_bytes == 0);
	CHECK(d.ooo_blocks == 0 && r->gap_calls[0] == 0);
	/* a segment larger than a block spans blocks */
	seg(pool, &d, r, 7, 400 + 5000, 5000, false);
	CHECK(bs_reasm_pool_in_use(pool) == 3);
	seg(pool, &d, r, 7, 400, 5000, false);
	CHECK(r->delivered[0] == 10400 && memcmp(r->buf[0], stream, 10400) == 0);
	CHECK(bs_reasm_pool_in_use(pool) == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_retransmit_and_overlap(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 100, false);
	seg(pool, &d, r, 0, 0, 100, false); /* wholly old */
	CHECK(r->anom[0][BS_REASM_RETRANSMIT] == 1 && r->delivered[0] == 100);
	seg(pool, &d, r, 0, 50, 100, false); /* half old: only the new half is delivered */
	CHECK(r->anom[0][BS_REASM_OVERLAP] == 1 && r->delivered[0] == 150);
	CHECK(memcmp(r->buf[0], stream, 150) == 0);

	/* overlap with buffered data, same bytes: no mismatch */
	seg(pool, &d, r, 0, 200, 50, false);
	seg(pool, &d, r, 0, 225, 50, false);
	CHECK(r->anom[0][BS_REASM_OVERLAP] == 2 && r->anom[0][BS_REASM_OVERLAP_MISMATCH] == 0);
	/* wholly inside buffered data: a retransmission */
	seg(pool, &d, r, 0, 210, 10, false);
	CHECK(r->anom[0][BS_REASM_RETRANSMIT] == 2);
	/* one segment spanning two buffered runs and the hole between */
	seg(pool, &d, r, 0, 300, 20, false);
	seg(pool, &d, r, 0, 260, 70, false);
	CHECK(r->anom[0][BS_REASM_OVERLAP_MISMATCH] == 0);
	seg(pool, &d, r, 0, 150, 50, false);
	CHECK(r->delivered[0] == 330 && memcmp(r->buf[0], stream, 330) == 0);
	CHECK(bs_reasm_pool_in_use(pool) == 0 && r->gap_calls[0] == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_overlap_mismatch(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	uint8_t evil[64];
	memset(evil, 'X', sizeof(evil));
	syn(pool, &d, r, 100);
	/* buffered first copy [10,20) then a different copy of [10,20) */
	seg(pool, &d, r, 100, 10, 10, false);
	bs_reasm_segment(pool, &d, 0, 101 + 10, false, false, evil, 10, &cb, r);
	CHECK(r->anom[0][BS_REASM_OVERLAP_MISMATCH] == 1);
	/* an in-order segment [0,30) of different bytes over the buffered copy:
	 * its own bytes where nothing was buffered, the first copy elsewhere */
	bs_reasm_segment(pool, &d, 0, 101, false, false, evil, 30, &cb, r);
	CHECK(r->anom[0][BS_REASM_OVERLAP_MISMATCH] == 2);
	CHECK(r->delivered[0] == 30);
	CHECK(memcmp(r->buf[0], evil, 10) == 0);
	CHECK(memcmp(r->buf[0] + 10, stream + 10, 10) == 0); /* first copy won */
	CHECK(memcmp(r->buf[0] + 20, evil, 10) == 0);
	CHECK(bs_reasm_pool_in_use(pool) == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_wraparound(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	uint32_t isn = 0xffffff00u; /* data crosses 2^32 after 255 bytes */
	syn(pool, &d, r, isn);
	seg(pool, &d, r, isn, 0, 200, false);
	/* out of order across the wrap: [400,600) has seq below ISN numerically */
	seg(pool, &d, r, isn, 400, 200, false);
	CHECK(d.ooo_blocks == 1 && r->anom[0][BS_REASM_OOO] == 1);
	seg(pool, &d, r, isn, 250, 150, false); /* contiguous with nothing yet: buffered */
	seg(pool, &d, r, isn, 200, 50, false);  /* straddles 2^32: fills the hole */
	CHECK(r->delivered[0] == 600 && memcmp(r->buf[0], stream, 600) == 0);
	CHECK(d.next_seq == isn + 1 + 600 && d.next_seq < isn);
	/* old data from before the wrap is still old */
	seg(pool, &d, r, isn, 10, 100, false);
	CHECK(r->anom[0][BS_REASM_RETRANSMIT] == 1 && r->delivered[0] == 600);
	/* FIN after the wrap */
	seg(pool, &d, r, isn, 600, 10, true);
	CHECK(d.closed && d.fin_seq == isn + 1 + 610);
	CHECK(bs_reasm_pool_in_use(pool) == 0 && r->gap_calls[0] == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_midstream(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(8, 16384);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	bs_reasm_segment(pool, &d, 1, 123456, false, false, stream, 40, &cb, r);
	CHECK(d.midstream && d.synced && r->anom[1][BS_REASM_MIDSTREAM] == 1);
	CHECK(r->delivered[1] == 40 && memcmp(r->buf[1], stream, 40) == 0);
	bs_reasm_segment(pool, &d, 1, 123496, false, false, stream + 40, 40, &cb, r);
	CHECK(r->delivered[1] == 80 && r->anom[1][BS_REASM_MIDSTREAM] == 1);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_fin(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 100, true);
	CHECK(d.fin_seen && d.closed && d.fin_seq == 101);
	/* FIN retransmitted: fine, nothing happens */
	seg(pool, &d, r, 0, 100, 0, true);
	/* data after FIN: counted and not delivered */
	seg(pool, &d, r, 0, 101, 10, false);
	CHECK(r->anom[0][BS_REASM_DATA_AFTER_FIN] == 1 && r->delivered[0] == 100);
	CHECK(r->gap_calls[0] == 0);

	/* data straddling a known FIN is trimmed at it */
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 50, 0, true); /* pure FIN at offset 50, before data */
	CHECK(d.fin_seen && !d.closed);
	seg(pool, &d, r, 0, 0, 80, false);
	CHECK(r->anom[0][BS_REASM_DATA_AFTER_FIN] == 2 && d.closed);
	CHECK(r->delivered[0] == 150);

	/* FIN arriving after buffered data beyond it: the buffered tail goes */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 100, 50, false);
	seg(pool, &d, r, 0, 0, 20, true); /* FIN at 20: [100,150) is impossible */
	CHECK(r->anom[0][BS_REASM_DATA_AFTER_FIN] == 1);
	CHECK(bs_reasm_pool_in_use(pool) == 0 && d.closed && r->delivered[0] == 20);
	free(r);
	bs_reasm_pool_free(pool);
}

/* FIN ahead of missing data: wait for it (reordering), skip when the sender
 * shows it has moved past its FIN, or when the flow is flushed. */
static void test_fin_with_hole(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;

	/* reordered: the data arrives after the FIN */
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	seg(pool, &d, r, 0, 20, 10, true);
	CHECK(d.fin_seen && !d.closed && r->delivered[0] == 10 && r->gap_calls[0] == 0);
	seg(pool, &d, r, 0, 10, 10, false);
	CHECK(d.closed && r->delivered[0] == 30 && r->gap_calls[0] == 0);
	CHECK(memcmp(r->buf[0], stream, 30) == 0 && bs_reasm_pool_in_use(pool) == 0);

	/* lost: the sender ACKs the peer after its FIN; the hole is given up */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	seg(pool, &d, r, 0, 20, 10, true);
	seg(pool, &d, r, 0, 31, 0, false); /* pure ACK at fin_seq + 1 */
	CHECK(d.closed && r->gap_calls[0] == 1 && r->gap_bytes[0] == 10 && r->delivered[0] == 20);
	CHECK(r->anom[0][BS_REASM_GAP] == 1 && matches(r, 0, 30));
	CHECK(memcmp(r->buf[0] + 20, stream + 20, 10) == 0 && bs_reasm_pool_in_use(pool) == 0);

	/* lost: the FIN itself is retransmitted (same sequence number) */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	seg(pool, &d, r, 0, 20, 0, true);
	CHECK(!d.closed && r->gap_calls[0] == 0);
	seg(pool, &d, r, 0, 20, 0, true);
	CHECK(d.closed && r->gap_bytes[0] == 10 && r->delivered[0] == 10);

	/* lost, and the flow closes (RST/timeout): flush gives up the hole */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	seg(pool, &d, r, 0, 20, 10, false);
	seg(pool, &d, r, 0, 40, 10, true); /* two holes before the FIN */
	CHECK(bs_reasm_pool_in_use(pool) == 1 || bs_reasm_pool_in_use(pool) == 2);
	bs_reasm_flush(pool, &d, 0, &cb, r);
	CHECK(d.closed && r->gap_calls[0] == 2 && r->gap_bytes[0] == 20 && r->delivered[0] == 30);
	CHECK(matches(r, 0, 50) && bs_reasm_pool_in_use(pool) == 0);

	/* FIN with a hole in the FIN segment's own direction only: the data
	 * before FIN never came and nothing is buffered */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 30, 0, true);
	bs_reasm_flush(pool, &d, 0, &cb, r);
	CHECK(r->gap_bytes[0] == 30 && d.closed);
	free(r);
	bs_reasm_pool_free(pool);
}

/* The peer's ACK says bytes reached it that the capture never saw: they
 * are declared a gap at once, buffered data inside the range is delivered,
 * and ACKs behind or far beyond the stream change nothing. */
static void test_ack_declares_loss(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;

	/* a lost segment [10,20) with nothing after it: the ACK of 20 gives it up */
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 1000);
	seg(pool, &d, r, 1000, 0, 10, false);
	bs_reasm_ack(pool, &d, 0, 1000 + 1 + 10, &cb, r); /* behind: nothing */
	CHECK(r->gap_calls[0] == 0);
	bs_reasm_ack(pool, &d, 0, 1000 + 1 + 20, &cb, r);
	CHECK(r->gap_calls[0] == 1 && r->gap_bytes[0] == 10 && r->anom[0][BS_REASM_GAP] == 1);
	seg(pool, &d, r, 1000, 20, 10, false); /* the stream goes on in order */
	CHECK(r->delivered[0] == 20 && matches(r, 0, 30) && memcmp(r->buf[0] + 20, stream + 20, 10) == 0);

	/* a hole with buffered data after it: the ACK past both delivers it */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	seg(pool, &d, r, 0, 20, 10, false);
	seg(pool, &d, r, 0, 40, 10, false);
	bs_reasm_ack(pool, &d, 0, 1 + 35, &cb, r);
	CHECK(r->gap_bytes[0] == 15 && r->delivered[0] == 20 && bs_reasm_pool_in_use(pool) == 1);
	bs_reasm_ack(pool, &d, 0, 1 + 50, &cb, r);
	CHECK(r->gap_bytes[0] == 20 && r->delivered[0] == 30 && bs_reasm_pool_in_use(pool) == 0);
	CHECK(matches(r, 0, 50));

	/* the ACK of a FIN covers one sequence number that is not data */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	seg(pool, &d, r, 0, 20, 0, true);
	bs_reasm_ack(pool, &d, 0, 1 + 21, &cb, r);
	CHECK(r->gap_bytes[0] == 10 && d.closed);

	/* an ACK absurdly far ahead (forged, or not this stream) is ignored */
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	bs_reasm_ack(pool, &d, 0, 1 + 10 + BS_REASM_MAX_AHEAD + 1, &cb, r);
	CHECK(r->gap_calls[0] == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_dir_cap_gap(void)
{
	/* 4 blocks per direction */
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 4 * BS_REASM_BLOCK_DATA);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 1);
	seg(pool, &d, r, 1, 0, 100, false);
	/* [100,1000) lost; then 4 full blocks of data, non-contiguous so no
	 * coalescing, then one more segment */
	const uint32_t B = BS_REASM_BLOCK_DATA;
	for (uint32_t i = 0; i < 4; i++)
		seg(pool, &d, r, 1, 1000 + i * (B + 10), B, false);
	CHECK(d.ooo_blocks == 4 && r->anom[0][BS_REASM_DIR_CAP] == 0);
	seg(pool, &d, r, 1, 1000 + 4 * (B + 10), B, false);
	CHECK(r->anom[0][BS_REASM_DIR_CAP] == 1);
	/* the first hole was given up, the run after it delivered; the new
	 * segment then fit */
	CHECK(r->gap_calls[0] == 1 && r->gap_bytes[0] == 900);
	CHECK(r->delivered[0] == 100 + B && d.ooo_blocks == 4);
	CHECK(d.ooo_blocks <= 4 && matches(r, 0, r->pos[0]));
	/* flush: the remaining holes become gaps, everything delivered */
	bs_reasm_flush(pool, &d, 0, &cb, r);
	CHECK(r->delivered[0] == 100 + 5 * B && r->gap_bytes[0] == 900 + 4 * 10);
	CHECK(r->pos[0] == 1000 + 4 * (B + 10) + B && matches(r, 0, r->pos[0]));
	CHECK(bs_reasm_pool_in_use(pool) == 0 && d.ooo_bytes == 0);

	/* a segment larger than the whole per-direction cap: skipped to and
	 * delivered directly, never lost */
	struct bs_reasm_pool *tiny = bs_reasm_pool_create(64, 1 * B);
	bs_reasm_dir_init(&d);
	memset(r, 0, sizeof(*r));
	syn(tiny, &d, r, 1);
	bs_reasm_segment(tiny, &d, 0, 2 + 10, false, false, stream + 10, 3 * B, &cb, r);
	CHECK(r->anom[0][BS_REASM_DIR_CAP] == 1 && r->gap_bytes[0] == 10);
	CHECK(r->delivered[0] == 3 * B && matches(r, 0, 10 + 3 * B));
	CHECK(bs_reasm_pool_in_use(tiny) == 0);
	bs_reasm_pool_free(tiny);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_pool_exhaustion(void)
{
	const uint32_t B = BS_REASM_BLOCK_DATA;
	struct bs_reasm_pool *pool = bs_reasm_pool_create(4, 64 * B);
	struct rec *r = rec_new();
	struct bs_reasm_dir a, b;
	bs_reasm_dir_init(&a);
	bs_reasm_dir_init(&b);
	syn(pool, &a, r, 0);
	bs_reasm_segment(pool, &b, 1, 0, true, false, NULL, 0, &cb, r);
	/* flow a holds the whole pool */
	for (uint32_t i = 0; i < 4; i++)
		seg(pool, &a, r, 0, 100 + i * (B + 1), B, false);
	CHECK(bs_reasm_pool_in_use(pool) == 4);
	/* flow b cannot buffer: it holds nothing to give up, so its hole is
	 * skipped and the segment delivered directly */
	bs_reasm_segment(pool, &b, 1, 1 + 50, false, false, stream + 50, 100, &cb, r);
	CHECK(r->anom[1][BS_REASM_POOL_EXHAUSTED] == 1);
	CHECK(r->gap_bytes[1] == 50 && r->delivered[1] == 100 && bs_reasm_pool_in_use(pool) == 4);
	CHECK(memcmp(r->buf[1] + 50, stream + 50, 100) == 0);
	/* flow a itself needs one more block: it gives up its own first hole */
	seg(pool, &a, r, 0, 100 + 5 * (B + 1), 10, false);
	CHECK(r->anom[0][BS_REASM_POOL_EXHAUSTED] == 1 && r->gap_bytes[0] == 100);
	CHECK(bs_reasm_pool_in_use(pool) <= 4 && matches(r, 0, r->pos[0]));
	bs_reasm_flush(pool, &a, 0, &cb, r);
	bs_reasm_flush(pool, &b, 1, &cb, r);
	CHECK(bs_reasm_pool_in_use(pool) == 0);
	/* an empty pool: nothing can ever be buffered, nothing is lost */
	struct bs_reasm_pool *none = bs_reasm_pool_create(0, 64 * B);
	CHECK(none != NULL);
	bs_reasm_dir_init(&a);
	memset(r, 0, sizeof(*r));
	syn(none, &a, r, 0);
	seg(none, &a, r, 0, 10, 10, false);
	CHECK(r->gap_bytes[0] == 10 && r->delivered[0] == 10 && r->anom[0][BS_REASM_POOL_EXHAUSTED] == 1);
	bs_reasm_pool_free(none);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_flush(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 64 * 1024);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 9);
	seg(pool, &d, r, 9, 0, 10, false);
	seg(pool, &d, r, 9, 30, 10, false);
	seg(pool, &d, r, 9, 50, 3000, false);
	CHECK(bs_reasm_pool_in_use(pool) == 3);
	bs_reasm_flush(pool, &d, 0, &cb, r);
	CHECK(bs_reasm_pool_in_use(pool) == 0 && d.ooo_head == BS_REASM_NONE && d.ooo_bytes == 0);
	CHECK(r->gap_calls[0] == 2 && r->gap_bytes[0] == 30 && r->delivered[0] == 3020);
	CHECK(r->pos[0] == 3050 && matches(r, 0, 3050) && !d.closed);
	/* flushing again, or an unsynchronised direction, is harmless */
	bs_reasm_flush(pool, &d, 0, &cb, r);
	struct bs_reasm_dir e;
	bs_reasm_dir_init(&e);
	bs_reasm_flush(pool, &e, 0, &cb, r);
	CHECK(r->gap_calls[0] == 2);
	free(r);
	bs_reasm_pool_free(pool);
}

/* 1-byte segments after a hole are packed into blocks, not one block each */
static void test_small_segments(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(64, 8 * BS_REASM_BLOCK_DATA);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	for (uint32_t i = 1; i <= 3000; i++)
		seg(pool, &d, r, 0, i, 1, false);
	CHECK(d.ooo_blocks == 2 && d.ooo_bytes == 3000 && r->anom[0][BS_REASM_DIR_CAP] == 0);
	seg(pool, &d, r, 0, 0, 1, false);
	CHECK(r->delivered[0] == 3001 && memcmp(r->buf[0], stream, 3001) == 0);
	/* non-contiguous 1-byte segments: each needs a block, the cap bounds it */
	for (uint32_t i = 0; i < 1000; i++) {
		seg(pool, &d, r, 0, 3002 + 2 * i, 1, false);
		CHECK(d.ooo_blocks <= 8 && bs_reasm_pool_in_use(pool) <= 8);
	}
	CHECK(r->anom[0][BS_REASM_DIR_CAP] > 0 && matches(r, 0, r->pos[0]));
	bs_reasm_flush(pool, &d, 0, &cb, r);
	CHECK(bs_reasm_pool_in_use(pool) == 0);
	free(r);
	bs_reasm_pool_free(pool);
}

static void test_out_of_window(void)
{
	struct bs_reasm_pool *pool = bs_reasm_pool_create(8, 16384);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 0, 10, false);
	bs_reasm_segment(pool, &d, 0, 11 + BS_REASM_MAX_AHEAD + 1, false, false, stream, 10, &cb, r);
	CHECK(r->anom[0][BS_REASM_OUT_OF_WINDOW] == 1 && bs_reasm_pool_in_use(pool) == 0);
	/* nor does a FIN out there fix the end of the stream */
	bs_reasm_segment(pool, &d, 0, 11 + BS_REASM_MAX_AHEAD + 1, false, true, NULL, 0, &cb, r);
	CHECK(!d.fin_seen);
	/* 2^31 away is "behind" under serial arithmetic: old */
	bs_reasm_segment(pool, &d, 0, 11 + 0x80000000u, false, false, stream, 10, &cb, r);
	CHECK(r->anom[0][BS_REASM_RETRANSMIT] == 1 && r->delivered[0] == 10);
	free(r);
	bs_reasm_pool_free(pool);
}

/* xorshift for the randomized cases (deterministic) */
static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Random segmentation, reordering and duplication of a stream, with random
 * (consistent) overlaps. With room enough everything arrives exactly; with
 * tight caps every delivered byte is at its right place, gaps + delivered
 * add up to the stream, and the pool never exceeds its bound. */
static void test_random(void)
{
	enum { LEN = 200000, MAXSEG = 3000, NSEG = 8000 };
	static uint32_t offs[NSEG], lens[NSEG];
	for (int round = 0; round < 40; round++) {
		bool tight = round % 2;
		uint32_t nblocks = tight ? 6 : 4096;
		struct bs_reasm_pool *pool = bs_reasm_pool_create(nblocks, tight ? 4 * BS_REASM_BLOCK_DATA : 1u << 24);
		struct rec *r = rec_new();
		struct bs_reasm_dir d;
		bs_reasm_dir_init(&d);
		/* every third round: tiny segments (a 1-40 byte train) */
		const uint32_t maxseg = round % 3 == 0 ? 40 : MAXSEG;
		const uint32_t len = round % 3 == 0 ? 40000 : LEN;
		uint32_t isn = rnd(0xffffffffu);
		if (round % 4 == 0)
			isn = 0xffffffffu - rnd(len); /* make it wrap */
		int n = 0;
		for (uint32_t off = 0; off < len && n < NSEG;) {
			uint32_t l = 1 + rnd(maxseg);
			if (off + l > len)
				l = len - off;
			offs[n] = off;
			lens[n] = l;
			n++;
			/* sometimes an overlapping extra segment */
			if (rnd(4) == 0 && n < NSEG) {
				uint32_t o = off > 500 ? off - rnd(500) : 0;
				offs[n] = o;
				lens[n] = (uint32_t)(off + l - o);
				n++;
			}
			off += l;
		}
		/* local shuffles (reordering within a window) and duplicates */
		for (int i = 0; i < n; i++) {
			int j = i + (int)rnd(8);
			if (j < n) {
				uint32_t t = offs[i];
				offs[i] = offs[j];
				offs[j] = t;
				t = lens[i];
				lens[i] = lens[j];
				lens[j] = t;
			}
		}
		syn(pool, &d, r, isn);
		uint32_t fin_at = len;
		for (int i = 0; i < n; i++) {
			seg(pool, &d, r, isn, offs[i], lens[i], offs[i] + lens[i] == fin_at);
			if (rnd(10) == 0) /* duplicate */
				seg(pool, &d, r, isn, offs[i], lens[i], false);
			char err[160];
			if (bs_reasm_pool_in_use(pool) > nblocks || (tight && d.ooo_blocks > 4)) {
				fprintf(stderr, "round %d: memory bound broken\n", round);
				failures++;
				break;
			}
			if (bs_reasm_dir_validate(pool, &d, err, sizeof(err)) ||
			    bs_reasm_pool_validate(pool, err, sizeof(err))) {
				fprintf(stderr, "round %d segment %d: %s\n", round, i, err);
				failures++;
				break;
			}
		}
		bs_reasm_flush(pool, &d, 0, &cb, r);
		CHECK(bs_reasm_pool_in_use(pool) == 0);
		CHECK(r->pos[0] == len && d.closed);
		CHECK(matches(r, 0, len));
		CHECK(r->anom[0][BS_REASM_OVERLAP_MISMATCH] == 0);
		if (!tight)
			CHECK(r->gap_calls[0] == 0 && r->delivered[0] == len);
		else
			CHECK(r->delivered[0] + r->gap_bytes[0] == len);
		free(r);
		bs_reasm_pool_free(pool);
	}
}

/* caller-supplied allocator: every allocation returns through its free,
 * and a failing allocator gives NULL, not a crash */
struct acct {
	int allocs, frees, fail_at;
	size_t bytes;
};

static void *acct_zalloc(void *arg, size_t size, size_t align)
{
	struct acct *a = arg;
	if (++a->allocs == a->fail_at)
		return NULL;
	a->bytes += size;
	void *p = aligned_alloc(align, (size + align - 1) / align * align);
	if (p)
		memset(p, 0, size);
	return p;
}

static void acct_free(void *arg, void *p)
{
	struct acct *a = arg;
	a->frees++;
	free(p);
}

static void test_allocator(void)
{
	struct acct a = {0};
	struct bs_reasm_alloc al = {acct_zalloc, acct_free, &a};
	struct bs_reasm_pool *pool = bs_reasm_pool_create_with(100, 8192, &al);
	CHECK(pool != NULL && a.allocs == 3);
	CHECK(a.bytes >= 100 * (size_t)BS_REASM_BLOCK_DATA && a.bytes <= 100 * bs_reasm_pool_block_size() + 256);
	struct rec *r = rec_new();
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	syn(pool, &d, r, 0);
	seg(pool, &d, r, 0, 10, 100, false);
	seg(pool, &d, r, 0, 0, 10, false);
	CHECK(r->delivered[0] == 110 && a.allocs == 3); /* nothing allocated after creation */
	bs_reasm_pool_free(pool);
	CHECK(a.frees == 3);
	for (int fail = 1; fail <= 3; fail++) {
		struct acct b = {.fail_at = fail};
		struct bs_reasm_alloc bl = {acct_zalloc, acct_free, &b};
		CHECK(bs_reasm_pool_create_with(100, 8192, &bl) == NULL);
		CHECK(b.frees == b.allocs - 1); /* all but the failed one returned */
	}
	CHECK(bs_reasm_pool_create_with(100, 8192, NULL) == NULL);
	free(r);
}

static void test_misc(void)
{
	CHECK(bs_reasm_pool_block_size() >= BS_REASM_BLOCK_DATA && bs_reasm_pool_block_size() <= BS_REASM_BLOCK_DATA + 16);
	for (int i = 0; i < BS_REASM_ANOMALY_MAX; i++)
		CHECK(bs_reasm_anomaly_name[i] && bs_reasm_anomaly_name[i][0]);
	CHECK(sizeof(struct bs_reasm_dir) == 24);
	CHECK(bs_reasm_pool_create(BS_REASM_NONE, 0) == NULL);
	/* NULL callbacks are allowed */
	struct bs_reasm_pool *pool = bs_reasm_pool_create(4, 16384);
	struct bs_reasm_cb none = {0};
	struct bs_reasm_dir d;
	bs_reasm_dir_init(&d);
	bs_reasm_segment(pool, &d, 0, 5, false, false, stream, 10, &none, NULL);
	bs_reasm_segment(pool, &d, 0, 25, false, false, stream, 10, &none, NULL);
	bs_reasm_flush(pool, &d, 0, &none, NULL);
	CHECK(bs_reasm_pool_in_use(pool) == 0);
	bs_reasm_pool_free(pool);
	bs_reasm_pool_free(NULL);
}

int main(void)
{
	fill_stream();
	test_in_order_zero_copy();
	test_syn_with_data();
	test_out_of_order();
	test_retransmit_and_overlap();
	test_overlap_mismatch();
	test_wraparound();
	test_midstream();
	test_fin();
	test_fin_with_hole();
	test_ack_declares_loss();
	test_dir_cap_gap();
	test_pool_exhaustion();
	test_flush();
	test_small_segments();
	test_out_of_window();
	test_random();
	test_allocator();
	test_misc();
	if (failures) {
		fprintf(stderr, "test_reasm: %d failures\n", failures);
		return 1;
	}
	printf("test_reasm: all passed\n");
	return 0;
}
