/* A worker lcore: parse -> flow table -> reassembly -> SMTP -> detection ->
 * events. Each worker owns its flow table, reassembly pool, session and
 * transaction pools and detection state; nothing is shared on the fast
 * path except the rings to the event writer and the enforcer thread. */
#ifndef BS_WORKER_H
#define BS_WORKER_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include "config.h"
#include "flow_table.h"
#include "reasm.h"
#include "smtp.h"
#include "stats.h"
#include "txn.h"
#include "detect/detect.h"

#define BS_BURST 32
#define BS_WORKER_RING 4096   /* packets queued from the dispatcher to one worker */

struct bs_worker;

struct bs_sess_ctx {               /* the SMTP hooks' ctx of one session slot */
	struct bs_worker *w;
	uint32_t flow_slot;
};

struct bs_worker {
	unsigned id;
	const struct bs_config *cfg;
	bool offline;                  /* replay: apply back-pressure instead of dropping */
	/* input: a ring fed by the dispatcher, or an RX queue polled directly */
	struct rte_ring *in;
	uint16_t port, queue;
	int ts_dynfield;               /* mbuf timestamp field offset, -1 if none */
	uint64_t ts_dynflag;
	atomic_bool input_done;        /* the dispatcher will enqueue nothing more */
	/* state */
	struct bs_flow_table *ft;
	struct bs_reasm_pool *reasm;
	uint8_t *sess_mem;
	size_t sess_size;
	struct bs_sess_ctx *sess_ctx;
	uint32_t *sess_free;
	uint32_t sess_free_n, nsess;
	struct bs_txn *txn_mem;
	uint32_t ntxn;
	struct rte_ring *txn_free;     /* records back from the event writer */
	uint64_t txn_to_writer;        /* records handed to the event writer (worker only) */
	uint64_t txn_from_writer;      /* ... and given back by it (writer side, atomic) */
	struct rte_ring *events;       /* to the event writer (shared, MP) */
	struct rte_ring *verdicts;     /* to the enforcer thread (shared, MP), or NULL */
	struct bs_detect_worker *det;
	struct bs_smtp_hooks hooks;
	uint64_t now_ns;               /* the capture clock: latest packet time */
	uint64_t flow_seq;
	uint64_t timeout_ns[BS_LRU_N];
	uint32_t cur_slot;             /* flow being processed (reassembly callbacks) */
	struct bs_worker_stats st;
	uint8_t scratch[65536 + 64];   /* chained mbufs are linearised here */
};

struct bs_worker *bs_worker_create(unsigned id, const struct bs_config *cfg, struct bs_detect *det,
				   struct rte_ring *events, struct rte_ring *verdicts, int socket,
				   char *err, size_t errlen);
void bs_worker_free(struct bs_worker *w);
/* lcore entry point (arg: struct bs_worker *) */
int bs_worker_loop(void *arg);
/* Processes one frame (used by the loop and by single-lcore mode). */
void bs_worker_packet(struct bs_worker *w, struct rte_mbuf *m);
/* Processes a burst of frames in order (bs_worker_packet on each), with
 * the next frames' mbufs and bytes prefetched; does not free them. */
void bs_worker_burst(struct bs_worker *w, struct rte_mbuf **pkts, unsigned n);
/* Live capture: advance the worker's clock to the wall clock. */
void bs_worker_tick(struct bs_worker *w);
/* Periodic work: timeouts. */
void bs_worker_housekeeping(struct bs_worker *w);
/* End every open flow (capture end or shutdown), after the loop stopped. */
void bs_worker_finish(struct bs_worker *w);
/* Returns a transaction record to its worker's pool (event writer side). */
bool bs_worker_owns_txn(const struct bs_worker *w, const struct bs_txn *t);
void bs_worker_txn_release(struct bs_worker *w, struct bs_txn *t);

extern volatile bool bs_quit;      /* SIGINT/SIGTERM */

#endif
