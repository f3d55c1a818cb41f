/* TCP reassembly, one direction of one flow at a time.
 *
 * Per-direction state (struct bs_reasm_dir) is small and lives inside the
 * flow entry. Out-of-order segments are copied into fixed-size blocks taken
 * from a per-worker pool (struct bs_reasm_pool) with a global cap; each
 * direction also has its own cap. Nothing is allocated after
 * bs_reasm_pool_create(). In-order bytes are handed to the consumer at once
 * and never retained.
 *
 * Buffered data: per direction, a singly linked list of blocks (pool indices,
 * so the per-direction state holds one 32-bit head) sorted by sequence and
 * never overlapping. A block holds up to BS_REASM_BLOCK_DATA contiguous bytes;
 * a segment contiguous with the tail of a buffered block is appended into it,
 * so trains of small segments do not each take a block. Inserting walks the
 * list: O(blocks buffered in that direction) per out-of-order segment, which
 * the per-direction cap bounds (256 KiB cap = 128 blocks). In-order segments
 * with nothing buffered, and out-of-order segments beyond everything
 * buffered (the rest of a window after one lost packet), cost no walk.
 *
 * Overlap policy: first copy wins (bytes already delivered or buffered are
 * kept; a retransmission carrying different bytes for the same sequence
 * range is counted as BS_REASM_OVERLAP_MISMATCH when the earlier copy is
 * still buffered). Bytes already delivered are not kept, so a differing copy
 * of them cannot be detected (counted as RETRANSMIT/OVERLAP only).
 *
 * Gaps: when the hole before buffered data cannot be filled, the consumer
 * gets a gap callback with the number of missing bytes and delivery skips
 * forward:
 *  - the per-direction cap or the pool is exhausted by a new out-of-order
 *    segment: the first hole is skipped and the buffered run after it
 *    delivered (freeing blocks), repeatedly, until the segment fits; if
 *    nothing of this direction is left buffered, the hole up to the segment
 *    is skipped and the segment delivered directly (never lost);
 *  - a FIN is seen and the hole before it cannot be completed: a FIN that
 *    arrives ahead of missing data waits for it (reordering is common and
 *    the data usually follows); once the FIN's direction is complete except
 *    for holes, the next segment of that direction that fills nothing (for
 *    instance the FIN retransmitted) or bs_reasm_flush() (RST, both FINs,
 *    timeout, eviction) skips the holes and delivers what is buffered.
 * Sequence numbers are compared modulo 2^32 (signed 32-bit differences). A
 * segment starting more than BS_REASM_MAX_AHEAD bytes beyond the next
 * expected byte cannot be inside any TCP window (RFC 7323 caps windows at
 * 2^30) and is dropped as BS_REASM_OUT_OF_WINDOW rather than buffered.
 *
 * Callbacks may be NULL. They must not call back into the same direction.
 * A pool belongs to one worker (no locking). */
#ifndef BS_REASM_H
#define BS_REASM_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

enum bs_reasm_anomaly {
	BS_REASM_RETRANSMIT = 0,       /* segment entirely before next_seq */
	BS_REASM_OVERLAP,              /* partial overlap with known data */
	BS_REASM_OVERLAP_MISMATCH,     /* overlapping bytes differ */
	BS_REASM_OOO,                  /* segment buffered out of order */
	BS_REASM_GAP,                  /* bytes skipped (also via gap cb) */
	BS_REASM_DIR_CAP,              /* per-direction buffer cap hit */
	BS_REASM_POOL_EXHAUSTED,       /* global pool empty */
	BS_REASM_MIDSTREAM,            /* direction picked up without SYN */
	BS_REASM_DATA_AFTER_FIN,
	BS_REASM_OUT_OF_WINDOW,        /* impossibly far ahead: dropped */
	BS_REASM_ANOMALY_MAX
};
extern const char *const bs_reasm_anomaly_name[BS_REASM_ANOMALY_MAX];

struct bs_reasm_cb {
	/* in-order bytes of direction `dir` (0 = client->server, 1 = reply) */
	void (*data)(void *ctx, int dir, const uint8_t *p, uint32_t n);
	/* `n` bytes are missing before the next data of `dir` */
	void (*gap)(void *ctx, int dir, uint32_t n);
	void (*anomaly)(void *ctx, int dir, enum bs_reasm_anomaly a);
};

#define BS_REASM_NONE UINT32_MAX
#define BS_REASM_BLOCK_DATA 2048u      /* payload bytes per pool block */
#define BS_REASM_MAX_AHEAD (1u << 30)

struct bs_reasm_dir {
	uint32_t next_seq;     /* next byte expected in order */
	uint32_t fin_seq;      /* seq of FIN when fin seen */
	uint32_t ooo_head;     /* first buffered segment (block index) or NONE */
	uint32_t ooo_bytes;    /* bytes buffered for this direction */
	/* one-bit flags: the flow entry holds two of these in 2 cache lines */
	uint8_t synced : 1;    /* next_seq is valid */
	uint8_t fin_seen : 1;
	uint8_t closed : 1;    /* all bytes up to FIN delivered */
	uint8_t midstream : 1;
	uint8_t pad;
	uint16_t ooo_blocks;   /* pool blocks held (the per-direction cap counts
				  blocks, so 1-byte segments cannot hold 2 KiB
				  each beyond the cap) */
	uint32_t ooo_tail;     /* last buffered block or NONE: a segment beyond
				  all buffered data (the usual case after one
				  lost packet) is appended without a walk */
};
_Static_assert(sizeof(struct bs_reasm_dir) == 24, "per-direction state is 24 bytes");

struct bs_reasm_pool;

/* nblocks: global cap (blocks of BS_REASM_BLOCK_DATA bytes) for the worker;
 * dir_cap_bytes: per-direction cap, rounded down to whole blocks (at most
 * 65535 blocks). Returns NULL when memory cannot be had or nblocks is
 * >= BS_REASM_NONE. Memory: nblocks * (BS_REASM_BLOCK_DATA + 12) bytes. */
struct bs_reasm_pool *bs_reasm_pool_create(uint32_t nblocks, uint32_t dir_cap_bytes);

/* The same with the caller's memory: a DPDK worker passes rte_zmalloc_socket
 * (hugepages, its own NUMA node) and rte_free. zalloc returns zeroed memory
 * aligned to `align` or NULL; it is called three times, only here. */
struct bs_reasm_alloc {
	void *(*zalloc)(void *arg, size_t size, size_t align);
	void (*free)(void *arg, void *p);
	void *arg;
};
struct bs_reasm_pool *bs_reasm_pool_create_with(uint32_t nblocks, uint32_t dir_cap_bytes,
						const struct bs_reasm_alloc *alloc);
void bs_reasm_pool_free(struct bs_reasm_pool *pool);
uint32_t bs_reasm_pool_in_use(const struct bs_reasm_pool *pool); /* blocks */
size_t bs_reasm_pool_block_size(void); /* bytes per block incl. header */

void bs_reasm_dir_init(struct bs_reasm_dir *d);

/* Feed one segment of direction `dir`. `syn`/`fin` are the TCP flags; the
 * SYN consumes one sequence number (ISN+1 is the first data byte). A
 * direction first seen without SYN is synchronised on its first segment and
 * reported as BS_REASM_MIDSTREAM. */
void bs_reasm_segment(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir,
		      uint32_t seq, bool syn, bool fin, const uint8_t *payload, uint32_t len,
		      const struct bs_reasm_cb *cb, void *ctx);

/* The peer acknowledged every byte of this direction before `ack`: bytes in
 * [next_seq, ack) that never reached us were lost in the capture, not in
 * the network. They are reported as a gap at once (buffered data inside
 * the range is delivered), so the consumer does not wait for data that
 * will never come. Callers should use the ACK of segments that carry data:
 * those are causally after what they acknowledge even when the two
 * directions are captured on different ports, whereas a bare ACK can be
 * seen before the segment it acknowledges. */
void bs_reasm_ack(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir, uint32_t ack,
		  const struct bs_reasm_cb *cb, void *ctx);

/* Flow is closing (RST, timeout, eviction): deliver what can be delivered,
 * report remaining holes as gaps, and return all blocks to the pool. */
void bs_reasm_flush(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir,
		    const struct bs_reasm_cb *cb, void *ctx);

/* Consistency checks for tests and fuzzing (walk the lists; not for the
 * fast path). Return 0, or -1 with a message in err: the list of `d` is
 * sorted, non-overlapping, strictly after next_seq (and before the FIN),
 * and ooo_bytes/ooo_blocks match it; the pool's free list matches nfree. */
int bs_reasm_dir_validate(const struct bs_reasm_pool *pool, const struct bs_reasm_dir *d,
			  char *err, size_t errlen);
int bs_reasm_pool_validate(const struct bs_reasm_pool *pool, char *err, size_t errlen);

#endif
