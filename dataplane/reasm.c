/* TCP reassembly of one direction: in-order bytes go straight to the
 * consumer (zero copy); out-of-order bytes are copied into pool blocks kept
 * on a sorted, non-overlapping list per direction. See reasm.h for the
 * contract (overlap, gap, FIN and cap policies). */
#include "reasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bs_reasm_anomaly_name[BS_REASM_ANOMALY_MAX] = {
	[BS_REASM_RETRANSMIT] = "retransmit",
	[BS_REASM_OVERLAP] = "overlap",
	[BS_REASM_OVERLAP_MISMATCH] = "overlap_mismatch",
	[BS_REASM_OOO] = "out_of_order",
	[BS_REASM_GAP] = "gap",
	[BS_REASM_DIR_CAP] = "dir_cap",
	[BS_REASM_POOL_EXHAUSTED] = "pool_exhausted",
	[BS_REASM_MIDSTREAM] = "midstream",
	[BS_REASM_DATA_AFTER_FIN] = "data_after_fin",
	[BS_REASM_OUT_OF_WINDOW] = "out_of_window",
};

/* Block headers live apart from the data so walking a list touches only
 * 12-byte headers, not a cache line per 2 KiB block. */
struct blk_hdr {
	uint32_t next; /* next block of the same list (or of the free list) */
	uint32_t seq;  /* sequence number of data[0] */
	uint16_t len;  /* bytes used, 1..BS_REASM_BLOCK_DATA */
	uint16_t pad;
};

struct bs_reasm_pool {
	uint32_t nblocks;
	uint32_t nfree;
	uint32_t free_head;
	uint32_t dir_cap_blocks;
	struct blk_hdr *hdr;
	uint8_t *data;
	struct bs_reasm_alloc alloc; /* what the three allocations go back to */
};

_Static_assert(BS_REASM_BLOCK_DATA <= UINT16_MAX, "block length is kept in 16 bits");

static inline int32_t sdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static inline uint8_t *blk_data(const struct bs_reasm_pool *pool, uint32_t i)
{
	return pool->data + (size_t)i * BS_REASM_BLOCK_DATA;
}

static void *libc_zalloc(void *arg, size_t size, size_t align)
{
	void *p;
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0)
		return NULL;
	memset(p, 0, size);
	return p;
}

static void libc_free(void *arg, void *p)
{
	free(p);
}

static const struct bs_reasm_alloc libc_alloc = {libc_zalloc, libc_free, NULL};

struct bs_reasm_pool *bs_reasm_pool_create_with(uint32_t nblocks, uint32_t dir_cap_bytes,
						const struct bs_reasm_alloc *a)
{
	if (nblocks >= BS_REASM_NONE || !a || !a->zalloc || !a->free)
		return NULL;
	struct bs_reasm_pool *pool = a->zalloc(a->arg, sizeof(*pool), 64);
	if (!pool)
		return NULL;
	pool->alloc = *a;
	size_t n = nblocks ? nblocks : 1;
	pool->hdr = a->zalloc(a->arg, n * sizeof(*pool->hdr), 64);
	/* 64-byte alignment: blocks start on cache lines */
	pool->data = a->zalloc(a->arg, n * BS_REASM_BLOCK_DATA, 64);
	if (!pool->hdr || !pool->data) {
		bs_reasm_pool_free(pool);
		return NULL;
	}
	pool->nblocks = nblocks;
	pool->nfree = nblocks;
	for (uint32_t i = 0; i < nblocks; i++)
		pool->hdr[i].next = i + 1 < nblocks ? i + 1 : BS_REASM_NONE;
	pool->free_head = nblocks ? 0 : BS_REASM_NONE;
	uint32_t cap = dir_cap_bytes / BS_REASM_BLOCK_DATA;
	pool->dir_cap_blocks = cap > UINT16_MAX ? UINT16_MAX : cap;
	return pool;
}

struct bs_reasm_pool *bs_reasm_pool_create(uint32_t nblocks, uint32_t dir_cap_bytes)
{
	return bs_reasm_pool_create_with(nblocks, dir_cap_bytes, &libc_alloc);
}

void bs_reasm_pool_free(struct bs_reasm_pool *pool)
{
	if (!pool)
		return;
	struct bs_reasm_alloc a = pool->alloc;
	if (pool->hdr)
		a.free(a.arg, pool->hdr);
	if (pool->data)
		a.free(a.arg, pool->data);
	a.free(a.arg, pool);
}

uint32_t bs_reasm_pool_in_use(const struct bs_reasm_pool *pool)
{
	return pool->nblocks - pool->nfree;
}

size_t bs_reasm_pool_block_size(void)
{
	return BS_REASM_BLOCK_DATA + sizeof(struct blk_hdr);
}

void bs_reasm_dir_init(struct bs_reasm_dir *d)
{
	memset(d, 0, sizeof(*d));
	d->ooo_head = BS_REASM_NONE;
	d->ooo_tail = BS_REASM_NONE;
}

static inline uint32_t blk_alloc(struct bs_reasm_pool *pool)
{
	uint32_t i = pool->free_head;
	pool->free_head = pool->hdr[i].next;
	pool->nfree--;
	return i;
}

static inline void blk_release(struct bs_reasm_pool *pool, uint32_t i)
{
	pool->hdr[i].next = pool->free_head;
	pool->free_head = i;
	pool->nfree++;
}

/* Unlinks the head block of `d` and returns it to the pool. */
static void pop_head(struct bs_reasm_pool *pool, struct bs_reasm_dir *d)
{
	uint32_t h = d->ooo_head;
	d->ooo_head = pool->hdr[h].next;
	if (d->ooo_head == BS_REASM_NONE)
		d->ooo_tail = BS_REASM_NONE;
	d->ooo_bytes -= pool->hdr[h].len;
	d->ooo_blocks--;
	blk_release(pool, h);
}

/* Per-segment anomaly bits, reported once each when the segment is done so
 * counters count segments, not blocks. */
#define F(a) (1u << (a))

static void report_flags(const struct bs_reasm_cb *cb, void *ctx, int dir, unsigned flags)
{
	if (!flags || !cb->anomaly)
		return;
	for (unsigned a = 0; a < BS_REASM_ANOMALY_MAX; a++)
		if (flags & F(a))
			cb->anomaly(ctx, dir, (enum bs_reasm_anomaly)a);
}

static inline void emit(const struct bs_reasm_cb *cb, void *ctx, int dir, const uint8_t *p, uint32_t n)
{
	if (n && cb->data)
		cb->data(ctx, dir, p, n);
}

static void emit_gap(struct bs_reasm_dir *d, const struct bs_reasm_cb *cb, void *ctx, int dir, uint32_t n)
{
	if (!n)
		return;
	if (cb->gap)
		cb->gap(ctx, dir, n);
	if (cb->anomaly)
		cb->anomaly(ctx, dir, BS_REASM_GAP);
	d->next_seq += n;
}

/* Delivers in order from next_seq: the new segment [seg, seg+len) (whose
 * start is <= next_seq) interleaved with buffered blocks. Where both cover a
 * byte the buffered copy wins and the two are compared. Continues with any
 * buffered blocks that have become contiguous. */
static void merge_deliver(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir, uint32_t seg,
			  const uint8_t *p, uint32_t len, const struct bs_reasm_cb *cb, void *ctx,
			  unsigned *flags)
{
	uint32_t seg_end = seg + len;
	for (;;) {
		uint32_t h = d->ooo_head;
		if (h != BS_REASM_NONE && sdiff(pool->hdr[h].seq, d->next_seq) <= 0) {
			struct blk_hdr *b = &pool->hdr[h];
			uint32_t boff = d->next_seq - b->seq;
			if (boff < b->len) {
				uint32_t n = b->len - boff;
				const uint8_t *bp = blk_data(pool, h) + boff;
				if (sdiff(seg_end, d->next_seq) > 0) {
					uint32_t ov = min_u32(n, seg_end - d->next_seq);
					*flags |= F(BS_REASM_OVERLAP);
					if (memcmp(bp, p + (d->next_seq - seg), ov) != 0)
						*flags |= F(BS_REASM_OVERLAP_MISMATCH);
				}
				emit(cb, ctx, dir, bp, n);
				d->next_seq += n;
			}
			pop_head(pool, d);
			continue;
		}
		if (sdiff(seg_end, d->next_seq) <= 0)
			break;
		uint32_t lim = seg_end;
		if (h != BS_REASM_NONE && sdiff(pool->hdr[h].seq, seg_end) < 0)
			lim = pool->hdr[h].seq;
		emit(cb, ctx, dir, p + (d->next_seq - seg), lim - d->next_seq);
		d->next_seq = lim;
	}
}

/* Walks the buffered list against the out-of-order segment [s, s+len).
 * Counting pass (store == false): returns the blocks the uncovered bytes
 * need (after filling the tail of a contiguous preceding block), compares
 * bytes already buffered and sets overlap flags. Store pass: copies the
 * uncovered bytes; the caller has checked that `need` blocks are free. */
static uint32_t ooo_walk(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, uint32_t s,
			 const uint8_t *p, uint32_t len, bool store, unsigned *flags)
{
	struct blk_hdr *H = pool->hdr;
	uint32_t need = 0, covered = 0;
	uint32_t prev = BS_REASM_NONE, cur = d->ooo_head;
	uint32_t a = 0;
	while (a < len) {
		uint32_t as = s + a;
		while (cur != BS_REASM_NONE && sdiff(H[cur].seq + H[cur].len, as) <= 0) {
			prev = cur;
			cur = H[cur].next;
		}
		if (cur != BS_REASM_NONE && sdiff(H[cur].seq, as) <= 0) {
			uint32_t boff = as - H[cur].seq;
			uint32_t n = min_u32(H[cur].len - boff, len - a);
			if (!store && memcmp(p + a, blk_data(pool, cur) + boff, n) != 0)
				*flags |= F(BS_REASM_OVERLAP_MISMATCH);
			covered += n;
			a += n;
			continue;
		}
		uint32_t b = len;
		if (cur != BS_REASM_NONE) {
			uint32_t dd = (uint32_t)sdiff(H[cur].seq, as); /* > 0 here */
			if (dd < len - a)
				b = a + dd;
		}
		uint32_t piece = b - a, into_prev = 0;
		if (prev != BS_REASM_NONE && H[prev].seq + H[prev].len == as)
			into_prev = min_u32(BS_REASM_BLOCK_DATA - H[prev].len, piece);
		if (store && into_prev) {
			memcpy(blk_data(pool, prev) + H[prev].len, p + a, into_prev);
			H[prev].len = (uint16_t)(H[prev].len + into_prev);
			d->ooo_bytes += into_prev;
		}
		for (uint32_t q = a + into_prev; q < b;) {
			uint32_t n = min_u32(b - q, BS_REASM_BLOCK_DATA);
			need++;
			if (store) {
				uint32_t i = blk_alloc(pool);
				H[i].seq = s + q;
				H[i].len = (uint16_t)n;
				memcpy(blk_data(pool, i), p + q, n);
				if (prev == BS_REASM_NONE) {
					H[i].next = d->ooo_head;
					d->ooo_head = i;
				} else {
					H[i].next = H[prev].next;
					H[prev].next = i;
				}
				if (H[i].next == BS_REASM_NONE)
					d->ooo_tail = i;
				prev = i;
				d->ooo_blocks++;
				d->ooo_bytes += n;
			}
			q += n;
		}
		a = b;
	}
	if (!store && covered)
		*flags |= covered == len ? F(BS_REASM_RETRANSMIT) : F(BS_REASM_OVERLAP);
	return need;
}

/* Fast path for a segment that starts at or after the end of everything
 * buffered (or nothing is): no walk, no overlap. Counting pass returns the
 * blocks needed after filling the tail block when contiguous; the store
 * pass copies (the caller has checked that they are free). */
static uint32_t ooo_append(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, uint32_t s,
			   const uint8_t *p, uint32_t len, bool store)
{
	struct blk_hdr *H = pool->hdr;
	uint32_t t = d->ooo_tail, into_tail = 0, need = 0;
	if (t != BS_REASM_NONE && H[t].seq + H[t].len == s)
		into_tail = min_u32(BS_REASM_BLOCK_DATA - H[t].len, len);
	if (store && into_tail) {
		memcpy(blk_data(pool, t) + H[t].len, p, into_tail);
		H[t].len = (uint16_t)(H[t].len + into_tail);
		d->ooo_bytes += into_tail;
	}
	for (uint32_t q = into_tail; q < len;) {
		uint32_t n = min_u32(len - q, BS_REASM_BLOCK_DATA);
		need++;
		if (store) {
			uint32_t i = blk_alloc(pool);
			H[i].seq = s + q;
			H[i].len = (uint16_t)n;
			H[i].next = BS_REASM_NONE;
			memcpy(blk_data(pool, i), p + q, n);
			if (d->ooo_tail == BS_REASM_NONE)
				d->ooo_head = i;
			else
				H[d->ooo_tail].next = i;
			d->ooo_tail = i;
			d->ooo_blocks++;
			d->ooo_bytes += n;
		}
		q += n;
	}
	return need;
}

/* Gives up on the first hole: reports it as a gap and delivers the buffered
 * run after it, freeing its blocks. */
static void skip_first_hole(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir,
			    const struct bs_reasm_cb *cb, void *ctx)
{
	uint32_t h = d->ooo_head;
	int32_t hole = sdiff(pool->hdr[h].seq, d->next_seq);
	if (hole > 0)
		emit_gap(d, cb, ctx, dir, (uint32_t)hole);
	unsigned unused = 0;
	merge_deliver(pool, d, dir, d->next_seq, NULL, 0, cb, ctx, &unused);
}

/* Everything before the FIN that is still missing will not come: skip all
 * holes, deliver what is buffered, and close the direction. */
static void finish_to_fin(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir,
			  const struct bs_reasm_cb *cb, void *ctx)
{
	while (d->ooo_head != BS_REASM_NONE)
		skip_first_hole(pool, d, dir, cb, ctx);
	int32_t rest = sdiff(d->fin_seq, d->next_seq);
	if (rest > 0)
		emit_gap(d, cb, ctx, dir, (uint32_t)rest);
	d->closed = 1;
}

/* A FIN fixes the end of the stream: buffered bytes at or beyond it are
 * dropped (they cannot be valid). */
static bool drop_beyond(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, uint32_t end)
{
	struct blk_hdr *H = pool->hdr;
	bool dropped = false;
	uint32_t prev = BS_REASM_NONE, cur = d->ooo_head;
	while (cur != BS_REASM_NONE) {
		uint32_t next = H[cur].next;
		int32_t keep = sdiff(end, H[cur].seq);
		if (keep <= 0) {
			if (prev == BS_REASM_NONE)
				d->ooo_head = next;
			else
				H[prev].next = next;
			d->ooo_bytes -= H[cur].len;
			d->ooo_blocks--;
			blk_release(pool, cur);
			dropped = true;
		} else {
			if ((uint32_t)keep < H[cur].len) {
				d->ooo_bytes -= H[cur].len - (uint32_t)keep;
				H[cur].len = (uint16_t)keep;
				dropped = true;
			}
			prev = cur;
		}
		cur = next;
	}
	d->ooo_tail = prev;
	return dropped;
}

/* Places the data of one segment: trims what is old, delivers what is in
 * order, buffers what is ahead, and makes room by skipping holes when a cap
 * is hit (the segment itself is never lost to a cap). */
static void place_data(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir, uint32_t s,
		       const uint8_t *p, uint32_t len, const struct bs_reasm_cb *cb, void *ctx,
		       unsigned *flags)
{
	for (;;) {
		int32_t off = sdiff(s, d->next_seq);
		if (off < 0) {
			uint32_t old = (uint32_t)-(int64_t)off;
			if (old >= len) {
				*flags |= F(BS_REASM_RETRANSMIT);
				return;
			}
			*flags |= F(BS_REASM_OVERLAP);
			p += old;
			len -= old;
			s += old;
			off = 0;
		}
		if (off == 0) {
			merge_deliver(pool, d, dir, s, p, len, cb, ctx, flags);
			return;
		}
		if ((uint32_t)off > BS_REASM_MAX_AHEAD) {
			*flags |= F(BS_REASM_OUT_OF_WINDOW);
			return;
		}
		uint32_t t = d->ooo_tail;
		bool append = t == BS_REASM_NONE || sdiff(s, pool->hdr[t].seq + pool->hdr[t].len) >= 0;
		uint32_t need = append ? ooo_append(pool, d, s, p, len, false)
				       : ooo_walk(pool, d, s, p, len, false, flags);
		if (need == 0 && (*flags & F(BS_REASM_RETRANSMIT)))
			return; /* wholly buffered already */
		unsigned cap_flag = 0;
		if (d->ooo_blocks + need > pool->dir_cap_blocks)
			cap_flag = F(BS_REASM_DIR_CAP);
		else if (need > pool->nfree)
			cap_flag = F(BS_REASM_POOL_EXHAUSTED);
		if (!cap_flag) {
			if (append)
				ooo_append(pool, d, s, p, len, true);
			else
				ooo_walk(pool, d, s, p, len, true, flags);
			*flags |= F(BS_REASM_OOO);
			return;
		}
		*flags |= cap_flag;
		if (d->ooo_head != BS_REASM_NONE) {
			skip_first_hole(pool, d, dir, cb, ctx);
			continue; /* re-place: the segment may now be old or in order */
		}
		emit_gap(d, cb, ctx, dir, (uint32_t)off);
	}
}

void bs_reasm_segment(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir,
		      uint32_t seq, bool syn, bool fin, const uint8_t *payload, uint32_t len,
		      const struct bs_reasm_cb *cb, void *ctx)
{
	if (!d->synced) {
		d->next_seq = syn ? seq + 1 : seq;
		d->synced = 1;
		if (!syn) {
			d->midstream = 1;
			if (cb->anomaly)
				cb->anomaly(ctx, dir, BS_REASM_MIDSTREAM);
		}
	}
	uint32_t s = seq + (syn ? 1 : 0);
	unsigned flags = 0;
	bool fin_before = d->fin_seen;
	if (fin_before && len) {
		int32_t room = sdiff(d->fin_seq, s);
		if (room <= 0) {
			flags |= F(BS_REASM_DATA_AFTER_FIN);
			len = 0;
		} else if ((uint32_t)room < len) {
			flags |= F(BS_REASM_DATA_AFTER_FIN);
			len = (uint32_t)room;
		}
	}
	int32_t fin_off = sdiff(s + len, d->next_seq);
	if (fin && !fin_before && fin_off >= 0 && (uint32_t)fin_off <= BS_REASM_MAX_AHEAD) {
		/* a FIN behind bytes already delivered, or beyond any window, is
		 * impossible: ignored (it would fix a bogus end of stream) */
		d->fin_seen = 1;
		d->fin_seq = s + len;
		if (d->ooo_head != BS_REASM_NONE && drop_beyond(pool, d, d->fin_seq))
			flags |= F(BS_REASM_DATA_AFTER_FIN);
	}
	if (len && !d->closed)
		place_data(pool, d, dir, s, payload, len, cb, ctx, &flags);
	else if (len)
		flags |= F(BS_REASM_RETRANSMIT);
	if (d->fin_seen && !d->closed) {
		if (d->next_seq == d->fin_seq && d->ooo_head == BS_REASM_NONE)
			d->closed = 1;
		else if (fin_before && sdiff(s, d->fin_seq) >= 0)
			/* sent after the FIN (FIN retransmitted, ACK of the peer's
			 * data): the sender has nothing more before its FIN */
			finish_to_fin(pool, d, dir, cb, ctx);
	}
	report_flags(cb, ctx, dir, flags);
}

void bs_reasm_ack(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir, uint32_t ack,
		  const struct bs_reasm_cb *cb, void *ctx)
{
	if (!d->synced || d->closed)
		return;
	int32_t ahead = sdiff(ack, d->next_seq);
	if (ahead <= 0 || (uint32_t)ahead > BS_REASM_MAX_AHEAD)
		return;
	uint32_t target = ack;
	if (d->fin_seen && sdiff(target, d->fin_seq) > 0)
		target = d->fin_seq; /* the FIN's own sequence number is no data */
	while (sdiff(target, d->next_seq) > 0) {
		uint32_t h = d->ooo_head;
		if (h != BS_REASM_NONE && sdiff(pool->hdr[h].seq, target) < 0)
			skip_first_hole(pool, d, dir, cb, ctx);
		else
			emit_gap(d, cb, ctx, dir, target - d->next_seq);
	}
	if (d->fin_seen && d->next_seq == d->fin_seq && d->ooo_head == BS_REASM_NONE)
		d->closed = 1;
}

void bs_reasm_flush(struct bs_reasm_pool *pool, struct bs_reasm_dir *d, int dir,
		    const struct bs_reasm_cb *cb, void *ctx)
{
	if (d->fin_seen && !d->closed) {
		finish_to_fin(pool, d, dir, cb, ctx);
		return;
	}
	while (d->ooo_head != BS_REASM_NONE)
		skip_first_hole(pool, d, dir, cb, ctx);
}

int bs_reasm_dir_validate(const struct bs_reasm_pool *pool, const struct bs_reasm_dir *d,
			  char *err, size_t errlen)
{
	const struct blk_hdr *H = pool->hdr;
	uint32_t bytes = 0, blocks = 0;
	uint32_t expect_after = d->next_seq; /* each block starts strictly after this */
	bool first = true;
	for (uint32_t i = d->ooo_head; i != BS_REASM_NONE; i = H[i].next) {
		if (i >= pool->nblocks) {
			snprintf(err, errlen, "block index %u out of range (%u blocks)", i, pool->nblocks);
			return -1;
		}
		if (++blocks > pool->nblocks) {
			snprintf(err, errlen, "list longer than the pool (cycle?)");
			return -1;
		}
		if (H[i].len == 0 || H[i].len > BS_REASM_BLOCK_DATA) {
			snprintf(err, errlen, "block %u has length %u", i, H[i].len);
			return -1;
		}
		int32_t dist = sdiff(H[i].seq, expect_after);
		if (first ? dist <= 0 : dist < 0) {
			snprintf(err, errlen, "block %u at seq %u not after %u (next_seq %u)", i, H[i].seq,
				 expect_after, d->next_seq);
			return -1;
		}
		if (d->fin_seen && sdiff(H[i].seq + H[i].len, d->fin_seq) > 0) {
			snprintf(err, errlen, "block %u ends beyond the FIN at %u", i, d->fin_seq);
			return -1;
		}
		first = false;
		expect_after = H[i].seq + H[i].len;
		bytes += H[i].len;
	}
	uint32_t last = BS_REASM_NONE;
	for (uint32_t i = d->ooo_head; i != BS_REASM_NONE; i = H[i].next)
		last = i;
	if (last != d->ooo_tail) {
		snprintf(err, errlen, "tail is %u, last block is %u", d->ooo_tail, last);
		return -1;
	}
	if (bytes != d->ooo_bytes || blocks != d->ooo_blocks) {
		snprintf(err, errlen, "list holds %u bytes in %u blocks, state says %u in %u", bytes, blocks,
			 d->ooo_bytes, d->ooo_blocks);
		return -1;
	}
	if (blocks > pool->dir_cap_blocks) {
		snprintf(err, errlen, "%u blocks over the per-direction cap %u", blocks, pool->dir_cap_blocks);
		return -1;
	}
	return 0;
}

int bs_reasm_pool_validate(const struct bs_reasm_pool *pool, char *err, size_t errlen)
{
	uint32_t n = 0;
	for (uint32_t i = pool->free_head; i != BS_REASM_NONE; i = pool->hdr[i].next) {
		if (i >= pool->nblocks || ++n > pool->nblocks) {
			snprintf(err, errlen, "free list broken at index %u", i);
			return -1;
		}
	}
	if (n != pool->nfree) {
		snprintf(err, errlen, "free list holds %u blocks, nfree says %u", n, pool->nfree);
		return -1;
	}
	return 0;
}
