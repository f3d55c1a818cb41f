#include "worker.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include "verdict_msg.h"
#include "rfc2047.h"
#include <sys/mman.h>

/* Large per-worker arrays come from anonymous mappings, not the DPDK heap:
 * they are zeroed lazily by the kernel, so RSS grows with use, and they do
 * not eat into the (small, non-hugepage) EAL memory. */
static void *big_zalloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void big_free(void *p, size_t n)
{
	if (p)
		munmap(p, n);
}

volatile bool bs_quit;

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- SMTP hooks: ctx is the session slot's struct bs_sess_ctx ---- */

static void endpoint_set(struct bs_endpoint *e, const uint8_t addr[16], uint16_t port)
{
	static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memcpy(e->addr, addr, 16);
	e->port = port;
	e->ip_ver = memcmp(addr, v4, 12) ? 6 : 4;
}

/* Replay back-pressure: the worker waits for the event writer thread
 * (live capture never waits). Not inlined, so that a profile can leave the
 * waits out (callgrind --toggle-collect=replay_wait_txn
 * --toggle-collect=replay_wait_enqueue): their cost is the writer
 * thread's scheduling, not per-packet work. */

/* The pool is empty: records the event writer still holds come back
 * soon; wait for one rather than lose the transaction, so that a replay's
 * events (and its cost) do not depend on how the writer was scheduled.
 * NULL when the writer holds none (all are in open transactions). */
static __attribute__((noinline)) struct bs_txn *replay_wait_txn(struct bs_worker *w)
{
	struct bs_txn *t;
	while (rte_ring_sc_dequeue(w->txn_free, (void **)&t) != 0) {
		if (bs_quit || w->txn_to_writer == __atomic_load_n(&w->txn_from_writer, __ATOMIC_ACQUIRE))
			/* a record given back since the failed dequeue is taken */
			return rte_ring_sc_dequeue(w->txn_free, (void **)&t) == 0 ? t : NULL;
		rte_pause();
	}
	return t;
}

/* The event ring is full: wait for the writer to make room. */
static __attribute__((noinline)) void replay_wait_enqueue(struct rte_ring *events, struct bs_txn *t)
{
	while (rte_ring_mp_enqueue(events, t) != 0)
		rte_pause();
}

/* A record from the pool starts as if all zero, without writing its 13 KB:
 * - the recipient array (8 KB) is left alone: the SMTP parser writes an
 *   entry whole (address and code) when it claims it, readers stop at
 *   n_rcpt;
 * - the string fields get a NUL first byte: every writer (bs_txn_set_str,
 *   bs_rfc2047_decode, bs_mail_param) NUL-terminates what it writes and
 *   every reader stops at the NUL;
 * - everything between them is zeroed, so a field added later anywhere is
 *   zeroed too. Entries in ascending offset order (checked at start-up). */
#define TXN_SKIP(field, is_str) { offsetof(struct bs_txn, field), sizeof(((struct bs_txn *)0)->field), is_str }
static const struct { uint32_t off, len; bool str; } txn_skip[] = {
	TXN_SKIP(helo, true), TXN_SKIP(mail_from, true), TXN_SKIP(mail_envid, true),
	TXN_SKIP(rcpt, false),
	TXN_SKIP(message_id, true), TXN_SKIP(from, true), TXN_SKIP(to, true), TXN_SKIP(subject, true),
	TXN_SKIP(date, true), TXN_SKIP(content_type, true), TXN_SKIP(boundary, true),
	TXN_SKIP(return_path, true), TXN_SKIP(received_first, true),
};
#undef TXN_SKIP

static bool txn_skip_ordered(void)
{
	for (size_t i = 1; i < sizeof txn_skip / sizeof txn_skip[0]; i++)
		if (txn_skip[i].off < txn_skip[i - 1].off + txn_skip[i - 1].len)
			return false;
	return true;
}

static void txn_clear(struct bs_txn *t)
{
	char *b = (char *)t;
	size_t at = 0;
	for (size_t i = 0; i < sizeof txn_skip / sizeof txn_skip[0]; i++) {
		memset(b + at, 0, txn_skip[i].off - at);
		if (txn_skip[i].str)
			b[txn_skip[i].off] = '\0';
		at = txn_skip[i].off + txn_skip[i].len;
	}
	memset(b + at, 0, sizeof *t - at);
}

static struct bs_txn *hook_txn_alloc(void *ctx)
{
	struct bs_sess_ctx *sc = ctx;
	struct bs_worker *w = sc->w;
	struct bs_flow *f = bs_flow_get(w->ft, sc->flow_slot);
	struct bs_txn *t;

	if (rte_ring_sc_dequeue(w->txn_free, (void **)&t) != 0) {
		/* live: never wait */
		t = w->offline ? replay_wait_txn(w) : NULL;
		if (!t) {
			w->st.txn_no_record++;
			return NULL;
		}
	}
	txn_clear(t);
	t->flow_id = f->flow_id;
	t->ts_ns = w->now_ns;
	t->direction = f->direction;
	const struct bs_flow_key *k = &f->key;
	if (f->client_is_lo) {
		endpoint_set(&t->client, k->lo_addr, k->lo_port);
		endpoint_set(&t->server, k->hi_addr, k->hi_port);
	} else {
		endpoint_set(&t->client, k->hi_addr, k->hi_port);
		endpoint_set(&t->server, k->lo_addr, k->lo_port);
	}
	return t;
}

static void hook_data_begin(void *ctx, struct bs_txn *t)
{
	struct bs_sess_ctx *sc = ctx;
	if (sc->w->det)
		bs_detect_txn_begin(sc->w->det, t);
}

static int hook_msg_data(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off,
			 const uint8_t *p, uint32_t n)
{
	struct bs_sess_ctx *sc = ctx;
	if (sc->w->det)
		return bs_detect_msg_data(sc->w->det, t, part, off, p, n);
	/* pipeline only: the header block is parsed by the SMTP stage itself */
	return part == BS_PART_BODY ? BS_HOOK_SKIP_BODY : BS_HOOK_CONTINUE;
}

static void hook_data_end(void *ctx, struct bs_txn *t)
{
	struct bs_sess_ctx *sc = ctx;
	if (sc->w->det)
		bs_detect_txn_data_end(sc->w->det, t);
}

/* back to the pool from the worker itself (not through the writer) */
static void txn_free_put(struct bs_worker *w, struct bs_txn *t)
{
	/* the free ring holds every record, so it cannot be full */
	rte_ring_mp_enqueue(w->txn_free, t);
}

static void hook_txn_end(void *ctx, struct bs_txn *t)
{
	struct bs_sess_ctx *sc = ctx;
	struct bs_worker *w = sc->w;

	t->ts_end_ns = w->now_ns;
	if (w->det)
		bs_detect_txn_end(w->det, t);
	if (!w->events) {
		txn_free_put(w, t);
		return;
	}
	if (rte_ring_mp_enqueue(w->events, t) != 0) {
		if (!w->offline) {
			/* live: never wait for the disk */
			w->st.events_dropped++;
			txn_free_put(w, t);
			return;
		}
		replay_wait_enqueue(w->events, t);
	}
	w->txn_to_writer++;
	w->st.txn_events++;
}

/* Detection reached a verdict that needs the enforcer (worker lcore). */
static void on_verdict(void *ctx, const struct bs_txn *t)
{
	struct bs_worker *w = ctx;
	struct bs_verdict_msg m;

	w->st.verdicts++;
	if (!w->verdicts)
		return;
	memset(&m, 0, sizeof(m));
	switch (t->verdict.action) {
	case BS_ACT_DROP_SESSION: m.kind = BS_VK_SESSION_DROP; break;
	case BS_ACT_DROP_SOURCE: m.kind = BS_VK_SOURCE_DROP; break;
	case BS_ACT_SHAPE_SOURCE: m.kind = BS_VK_SOURCE_SHAPE; break;
	default: return;
	}
	m.ip_ver = t->client.ip_ver;
	m.prefix_len = m.ip_ver == 4 ? 32 : 128;
	m.reason = t->verdict.cls;
	memcpy(m.src, t->client.addr, 16);
	memcpy(m.dst, t->server.addr, 16);
	m.sport = t->client.port;
	m.dport = t->server.port;
	m.ttl_s = t->verdict.ttl_s ? t->verdict.ttl_s : 600;
	m.rate_pps = t->verdict.shape_rate;
	m.burst = t->verdict.shape_burst;
	if (m.kind == BS_VK_SOURCE_SHAPE && m.rate_pps == 0) {
		/* the policy gave no rate: a trickle that keeps a real MTA's retries alive */
		m.rate_pps = 10;
		m.burst = 20;
	}
	m.t_detect_ns = mono_ns();
	if (rte_ring_mp_enqueue_elem(w->verdicts, &m, sizeof(m)) != 0)
		w->st.verdicts_dropped++;
}

/* ---- sessions ---- */

static struct bs_smtp_session *sess_get(struct bs_worker *w, uint32_t i)
{
	return (struct bs_smtp_session *)(w->sess_mem + (size_t)i * w->sess_size);
}

static struct bs_smtp_session *flow_session(struct bs_worker *w, struct bs_flow *f, uint32_t slot)
{
	if (f->sess != BS_NONE)
		return sess_get(w, f->sess);
	if (f->state & BS_FL_NOPARSE)
		return NULL;
	if (w->sess_free_n == 0) {
		f->state |= BS_FL_NOPARSE;
		w->st.sessions_no_slot++;
		return NULL;
	}
	f->sess = w->sess_free[--w->sess_free_n];
	w->sess_ctx[f->sess].flow_slot = slot;
	struct bs_smtp_session *s = sess_get(w, f->sess);
	bs_smtp_session_init(s, &w->hooks, &w->sess_ctx[f->sess], &w->st.smtp, (f->state & BS_FL_MIDSTREAM) != 0);
	w->st.sessions++;
	return s;
}

/* ---- reassembly callbacks: ctx is the worker, the flow is cur_slot ---- */

static void ra_data(void *ctx, int dir, const uint8_t *p, uint32_t n)
{
	struct bs_worker *w = ctx;
	struct bs_flow *f = bs_flow_get(w->ft, w->cur_slot);
	struct bs_smtp_session *s = flow_session(w, f, w->cur_slot);
	w->st.smtp_payload_bytes += n;
	if (s)
		bs_smtp_data(s, dir == 0, p, n, w->now_ns);
}

static void ra_gap(void *ctx, int dir, uint32_t n)
{
	struct bs_worker *w = ctx;
	struct bs_flow *f = bs_flow_get(w->ft, w->cur_slot);
	w->st.reasm_gap_bytes += n;
	if (f->sess != BS_NONE)
		bs_smtp_gap(sess_get(w, f->sess), dir == 0, n);
}

static void ra_anomaly(void *ctx, int dir, enum bs_reasm_anomaly a)
{
	struct bs_worker *w = ctx;
	if ((unsigned)a < BS_REASM_ANOMALY_MAX)
		w->st.reasm[a]++;
	if (a == BS_REASM_OVERLAP_MISMATCH) {
		/* an evasion attempt or a broken stack: the event must say so */
		struct bs_flow *f = bs_flow_get(w->ft, w->cur_slot);
		if (f->sess != BS_NONE)
			bs_smtp_flag(sess_get(w, f->sess), BS_ANOM_OVERLAP_MISMATCH);
	}
	if (a == BS_REASM_OVERLAP_MISMATCH) {
		/* the event of the transaction says so too */
		struct bs_flow *f = bs_flow_get(w->ft, w->cur_slot);
		if (f->sess != BS_NONE)
			bs_smtp_flag(sess_get(w, f->sess), BS_ANOM_OVERLAP_MISMATCH);
	}
}

static const struct bs_reasm_cb ra_cb = {ra_data, ra_gap, ra_anomaly};

/* ---- flows ---- */

static void flow_end(struct bs_worker *w, uint32_t slot, uint32_t anom)
{
	struct bs_flow *f = bs_flow_get(w->ft, slot);

	w->cur_slot = slot;
	bs_reasm_flush(w->reasm, &f->rd[0], 0, &ra_cb, w);
	bs_reasm_flush(w->reasm, &f->rd[1], 1, &ra_cb, w);
	if (f->sess != BS_NONE) {
		struct bs_smtp_session *s = sess_get(w, f->sess);
		if (bs_smtp_session_encrypted(s))
			w->st.sessions_encrypted++;
		bs_smtp_session_end(s, anom, w->now_ns);
		w->sess_free[w->sess_free_n++] = f->sess;
		f->sess = BS_NONE;
	}
	bs_flow_remove(w->ft, slot);
}

static bool make_room(struct bs_worker *w)
{
	static const enum bs_flow_list order[] = {BS_LRU_CLOSED, BS_LRU_NEW, BS_LRU_EST};
	for (unsigned i = 0; i < 3; i++) {
		uint32_t slot = bs_flow_oldest(w->ft, order[i]);
		if (slot != BS_NONE) {
			flow_end(w, slot, BS_ANOM_TIMEOUT);
			w->st.flows_evicted++;
			return true;
		}
	}
	return false;
}

static uint8_t direction_of(const struct bs_config *cfg, const uint8_t *client, const uint8_t *server)
{
	bool c = bs_netset_contains(&cfg->home_net, client);
	bool s = bs_netset_contains(&cfg->home_net, server);
	if (c && s)
		return BS_DIR_INTERNAL;
	if (c)
		return BS_DIR_OUTBOUND;
	if (s)
		return BS_DIR_INBOUND;
	return BS_DIR_EXTERNAL;
}

static uint32_t flow_create(struct bs_worker *w, const struct bs_pkt *p, const struct bs_flow_key *k,
			    uint32_t hash, bool src_is_lo)
{
	if (bs_flow_full(w->ft) && !make_room(w))
		return BS_NONE;
	uint32_t slot = bs_flow_insert(w->ft, k, hash);
	if (slot == BS_NONE) {
		w->st.flows_insert_failed++;
		return BS_NONE;
	}
	struct bs_flow *f = bs_flow_get(w->ft, slot);
	bool src_is_client;
	if (p->tcp_flags & BS_TCP_SYN)
		src_is_client = !(p->tcp_flags & BS_TCP_ACK);
	else {
		/* picked up midstream: the side on an SMTP port is the server */
		bool d = bs_port_in(w->cfg->smtp_port, p->dport), s = bs_port_in(w->cfg->smtp_port, p->sport);
		src_is_client = d && !s ? true : s && !d ? false : p->sport > p->dport;
		f->state |= BS_FL_MIDSTREAM;
	}
	f->client_is_lo = src_is_client == src_is_lo;
	f->flow_id = (((uint64_t)hash << 20) ^ (w->flow_seq++ << 4) ^ w->id) & ((1ull << 52) - 1);
	f->first_ns = w->now_ns;
	f->direction = src_is_client ? direction_of(w->cfg, p->src, p->dst) : direction_of(w->cfg, p->dst, p->src);
	bs_reasm_dir_init(&f->rd[0]);
	bs_reasm_dir_init(&f->rd[1]);
	w->st.flows_created++;
	return slot;
}

static void process(struct bs_worker *w, const uint8_t *data, uint32_t len)
{
	struct bs_pkt p;
	struct bs_flow_key k;

	w->st.packets++;
	w->st.bytes += len;
	int s = bs_pkt_parse(data, len, &p);
	w->st.parse[s]++;
	if (s != BS_PKT_TCP)
		return;
	const uint8_t *ports = w->cfg->smtp_port;
	if (!bs_port_in(ports, p.dport) && !bs_port_in(ports, p.sport)) {
		if ((p.tcp_flags & (BS_TCP_SYN | BS_TCP_ACK)) == BS_TCP_SYN && bs_port_in(w->cfg->tls_port, p.dport))
			w->st.tls_port_sessions++;
		w->st.not_smtp_port++;
		return;
	}
	w->st.smtp_packets++;
	bool src_is_lo = bs_flow_key_from_pkt(&p, &k);
	uint32_t hash = bs_flow_hash(&k);
	uint32_t slot = bs_flow_lookup(w->ft, &k, hash);
	if (slot != BS_NONE && (p.tcp_flags & (BS_TCP_SYN | BS_TCP_ACK)) == BS_TCP_SYN &&
	    (bs_flow_get(w->ft, slot)->state & (BS_FL_EST | BS_FL_FIN_C | BS_FL_FIN_S))) {
		/* a new connection reusing the 4-tuple of one we still hold: the
		 * old one is over (its FIN/RST was lost or not yet timed out) */
		w->st.flows_reused++;
		flow_end(w, slot, 0);
		slot = BS_NONE;
	}
	if (slot == BS_NONE) {
		/* bare ACKs, FINs and RSTs of flows we do not know create nothing */
		if ((p.tcp_flags & BS_TCP_RST) || (!(p.tcp_flags & BS_TCP_SYN) && p.payload_len == 0)) {
			w->st.no_flow_packets++;
			return;
		}
		slot = flow_create(w, &p, &k, hash, src_is_lo);
		if (slot == BS_NONE)
			return;
	}
	struct bs_flow *f = bs_flow_get(w->ft, slot);
	f->last_ns = w->now_ns;
	bool from_client = src_is_lo == (bool)f->client_is_lo;
	int dir = from_client ? 0 : 1;

	if (p.tcp_flags & BS_TCP_RST) {
		w->st.flows_reset++;
		flow_end(w, slot, 0);
		return;
	}
	if (p.tcp_flags & BS_TCP_SYN)
		f->state |= (p.tcp_flags & BS_TCP_ACK) ? BS_FL_SYNACK : BS_FL_SYN;
	w->cur_slot = slot;
	if (p.payload_len && (p.tcp_flags & BS_TCP_ACK))
		/* data that answers bytes we never saw: declare them lost now */
		bs_reasm_ack(w->reasm, &f->rd[dir ^ 1], dir ^ 1, p.ack, &ra_cb, w);
	bs_reasm_segment(w->reasm, &f->rd[dir], dir, p.seq, (p.tcp_flags & BS_TCP_SYN) != 0,
			 (p.tcp_flags & BS_TCP_FIN) != 0, p.payload, p.payload_len, &ra_cb, w);
	if (p.tcp_flags & BS_TCP_FIN)
		f->state |= from_client ? BS_FL_FIN_C : BS_FL_FIN_S;
	if ((f->state & (BS_FL_FIN_C | BS_FL_FIN_S)) == (BS_FL_FIN_C | BS_FL_FIN_S) && f->rd[0].closed &&
	    f->rd[1].closed) {
		w->st.flows_closed++;
		flow_end(w, slot, 0);
		return;
	}
	if (p.payload_len || (f->state & BS_FL_SYNACK))
		f->state |= BS_FL_EST;
	bs_flow_touch(w->ft, slot,
		      (f->state & (BS_FL_FIN_C | BS_FL_FIN_S)) ? BS_LRU_CLOSED
		      : (f->state & BS_FL_EST)                   ? BS_LRU_EST
								 : BS_LRU_NEW);
}

/* Every byte of a frame is read (headers by the parser, payload by the
 * SMTP stage's line and end-of-data searches), and frames arrive cold (in
 * DRAM, or in the LLC with DDIO): all of a frame's cache lines are
 * requested one frame ahead, its mbuf header two frames ahead (its data
 * address is needed to prefetch the data). At most 24 lines (1,536
 * bytes): the rest of a jumbo frame streams in behind the first. */
#define PREFETCH_LINES 24

static inline void prefetch_frame(const struct rte_mbuf *m)
{
	const char *p = rte_pktmbuf_mtod(m, const char *);
	uint32_t len = rte_pktmbuf_data_len(m);
	if (len > PREFETCH_LINES * RTE_CACHE_LINE_SIZE)
		len = PREFETCH_LINES * RTE_CACHE_LINE_SIZE;
	for (uint32_t o = 0; o < len; o += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p + o);
}

void bs_worker_burst(struct bs_worker *w, struct rte_mbuf **pkts, unsigned n)
{
	for (unsigned i = 0; i < n && i < 2; i++)
		rte_prefetch0(pkts[i]);
	if (n > 0)
		prefetch_frame(pkts[0]);
	for (unsigned i = 0; i < n; i++) {
		if (i + 2 < n)
			rte_prefetch0(pkts[i + 2]);
		if (i + 1 < n)
			prefetch_frame(pkts[i + 1]);
		bs_worker_packet(w, pkts[i]);
	}
}

void bs_worker_packet(struct bs_worker *w, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *data;

	if (w->ts_dynfield >= 0 && (m->ol_flags & w->ts_dynflag)) {
		uint64_t ts = *RTE_MBUF_DYNFIELD(m, w->ts_dynfield, rte_mbuf_timestamp_t *);
		if (ts > w->now_ns)
			w->now_ns = ts;
	}
	if (len > sizeof(w->scratch))
		len = sizeof(w->scratch); /* larger than any IP packet: the parser sees it truncated */
	if (m->nb_segs > 1)
		w->st.linearized++;
	data = rte_pktmbuf_read(m, 0, len, w->scratch);
	if (data)
		process(w, data, len);
}

void bs_worker_tick(struct bs_worker *w)
{
	if (!w->offline)
		w->now_ns = wall_ns();
}

void bs_worker_housekeeping(struct bs_worker *w)
{
	unsigned budget = 256; /* bound the time spent here per call */
	for (int l = 0; l < BS_LRU_N; l++) {
		uint32_t slot;
		while (budget && (slot = bs_flow_oldest(w->ft, (enum bs_flow_list)l)) != BS_NONE) {
			struct bs_flow *f = bs_flow_get(w->ft, slot);
			if (f->last_ns + w->timeout_ns[l] > w->now_ns)
				break;
			flow_end(w, slot, l == BS_LRU_CLOSED ? 0 : BS_ANOM_TIMEOUT);
			w->st.flows_timed_out++;
			budget--;
		}
	}
}

int bs_worker_loop(void *arg)
{
	struct bs_worker *w = arg;
	struct rte_mbuf *pkts[BS_BURST];
	unsigned idle = 0;

	/* charset converters for RFC 2047 opened here, not on the fast path */
	bs_rfc2047_thread_init();
	for (;;) {
		unsigned n;
		if (w->in)
			n = rte_ring_sc_dequeue_burst(w->in, (void **)pkts, BS_BURST, NULL);
		else
			n = rte_eth_rx_burst(w->port, w->queue, pkts, BS_BURST);
		if (n || ++idle % 1024 == 0)
			bs_worker_tick(w);
		if (n == 0) {
			if (w->in ? atomic_load(&w->input_done) && rte_ring_empty(w->in) : bs_quit)
				break;
			if (idle % 64 == 0)
				bs_worker_housekeeping(w);
			if (!w->offline && w->cfg->idle_sleep_us && idle > 1024)
				/* an idle tap need not burn a core; at load the loop never gets here */
				rte_delay_us_sleep(w->cfg->idle_sleep_us);
			else
				rte_pause();
			continue;
		}
		bs_worker_burst(w, pkts, n);
		rte_pktmbuf_free_bulk(pkts, n);
		idle = 0;
		bs_worker_housekeeping(w);
	}
	return 0;
}

void bs_worker_finish(struct bs_worker *w)
{
	for (int l = 0; l < BS_LRU_N; l++) {
		uint32_t slot;
		while ((slot = bs_flow_oldest(w->ft, (enum bs_flow_list)l)) != BS_NONE)
			flow_end(w, slot, 0);
	}
}

bool bs_worker_owns_txn(const struct bs_worker *w, const struct bs_txn *t)
{
	return t >= w->txn_mem && t < w->txn_mem + w->ntxn;
}

void bs_worker_txn_release(struct bs_worker *w, struct bs_txn *t)
{
	txn_free_put(w, t);
	/* after the enqueue: a worker that sees the count sees the record */
	__atomic_fetch_add(&w->txn_from_writer, 1, __ATOMIC_RELEASE);
}

struct bs_worker *bs_worker_create(unsigned id, const struct bs_config *cfg, struct bs_detect *det,
				   struct rte_ring *events, struct rte_ring *verdicts, int socket,
				   char *err, size_t errlen)
{
	char name[RTE_RING_NAMESIZE];
	if (!txn_skip_ordered()) {
		snprintf(err, errlen, "worker %u: txn_skip[] (worker.c) is out of offset order", id);
		return NULL;
	}
	struct bs_worker *w = rte_zmalloc_socket("worker", sizeof(*w), 64, socket);
	if (!w) {
		snprintf(err, errlen, "worker %u: out of memory", id);
		return NULL;
	}
	w->id = id;
	w->cfg = cfg;
	w->ts_dynfield = -1;
	w->events = events;
	w->verdicts = verdicts;
	w->timeout_ns[BS_LRU_NEW] = (uint64_t)cfg->timeout_new_s * 1000000000ull;
	w->timeout_ns[BS_LRU_EST] = (uint64_t)cfg->timeout_est_s * 1000000000ull;
	w->timeout_ns[BS_LRU_CLOSED] = (uint64_t)cfg->timeout_closed_s * 1000000000ull;
	w->hooks = (struct bs_smtp_hooks){.txn_alloc = hook_txn_alloc, .txn_data_begin = hook_data_begin,
					  .msg_data = hook_msg_data, .txn_end = hook_txn_end,
					  .txn_data_end = hook_data_end};

	snprintf(name, sizeof(name), "bs_ft%u", id);
	w->ft = bs_flow_table_create(name, cfg->flows_per_worker, socket);
	w->reasm = bs_reasm_pool_create(cfg->reasm_blocks, cfg->reasm_dir_cap);
	w->nsess = cfg->sessions_per_worker;
	w->sess_size = (bs_smtp_session_size() + 63) & ~(size_t)63;
	w->sess_mem = big_zalloc(w->sess_size * w->nsess);
	w->sess_ctx = rte_zmalloc_socket("sess_ctx", sizeof(*w->sess_ctx) * w->nsess, 64, socket);
	w->sess_free = rte_zmalloc_socket("sess_free", sizeof(uint32_t) * w->nsess, 64, socket);
	w->ntxn = cfg->txn_per_worker;
	w->txn_mem = big_zalloc(sizeof(struct bs_txn) * w->ntxn);
	snprintf(name, sizeof(name), "bs_txnfree%u", id);
	w->txn_free = rte_ring_create(name, rte_align32pow2(w->ntxn + 1), socket, RING_F_SC_DEQ);
	if (!w->ft || !w->reasm || !w->sess_mem || !w->sess_ctx || !w->sess_free || !w->txn_mem || !w->txn_free) {
		snprintf(err, errlen, "worker %u: cannot allocate its tables (try smaller --flows/--sessions)", id);
		bs_worker_free(w);
		return NULL;
	}
	for (uint32_t i = 0; i < w->nsess; i++) {
		w->sess_ctx[i].w = w;
		w->sess_free[w->sess_free_n++] = w->nsess - 1 - i;
	}
	for (uint32_t i = 0; i < w->ntxn; i++)
		rte_ring_mp_enqueue(w->txn_free, &w->txn_mem[i]);
	if (det) {
		w->det = bs_detect_worker_create(det, cfg->detect_slots, on_verdict, w);
		if (!w->det) {
			snprintf(err, errlen, "worker %u: cannot create detection state", id);
			bs_worker_free(w);
			return NULL;
		}
	}
	return w;
}

void bs_worker_free(struct bs_worker *w)
{
	if (!w)
		return;
	if (w->det)
		bs_detect_worker_destroy(w->det);
	bs_flow_table_free(w->ft);
	if (w->reasm)
		bs_reasm_pool_free(w->reasm);
	big_free(w->sess_mem, w->sess_size * w->nsess);
	rte_free(w->sess_ctx);
	rte_free(w->sess_free);
	big_free(w->txn_mem, sizeof(struct bs_txn) * w->ntxn);
	rte_ring_free(w->txn_free);
	if (w->in)
		rte_ring_free(w->in);
	rte_free(w);
}
