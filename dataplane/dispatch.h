#ifndef BS_DISPATCH_H
#define BS_DISPATCH_H
#include <stdbool.h>
#include <rte_mbuf.h>
#include "worker.h"

#define MAX_WORKERS RTE_MAX_LCORE

/* Software dispatch: the main lcore reads every port and hands each SMTP
 * packet to the worker chosen by the symmetric flow hash. Anything else is
 * counted and freed here, after one parse. */
struct bs_dispatcher {
	struct bs_worker **w;
	unsigned nw;
	bool offline;
	struct bs_worker_stats st;   /* what the dispatcher itself consumed */
	uint8_t scratch[65536 + 64];
	struct rte_mbuf *q[MAX_WORKERS][BS_BURST];
	unsigned qn[MAX_WORKERS];
};

/* Hands a burst to the workers (takes ownership of the mbufs). */
void bs_dispatch_burst(struct bs_dispatcher *d, struct rte_mbuf **pkts, unsigned n);

#endif
