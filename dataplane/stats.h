/* Per-worker counters (plain integers, written by one lcore) and the run
 * summary. The X-macro keeps names, fields and printing in one place. */
#ifndef BS_STATS_H
#define BS_STATS_H
#include <stdint.h>
#include <stdio.h>
#include "pkt_parse.h"
#include "reasm.h"
#include "smtp.h"

#define BS_WORKER_COUNTERS(X) \
	X(packets) X(bytes) X(smtp_packets) X(smtp_payload_bytes) \
	X(not_smtp_port) X(tls_port_sessions) \
	X(flows_created) X(flows_closed) X(flows_reset) X(flows_timed_out) X(flows_evicted) \
	X(flows_insert_failed) X(flows_reused) X(no_flow_packets) \
	X(sessions) X(sessions_encrypted) X(sessions_no_slot) \
	X(txn_events) X(txn_no_record) X(events_dropped) \
	X(verdicts) X(verdicts_dropped) X(dispatch_dropped) X(linearized)

struct bs_worker_stats {
#define X(n) uint64_t n;
	BS_WORKER_COUNTERS(X)
#undef X
	uint64_t parse[BS_PKT_STATUS_MAX];
	uint64_t reasm[BS_REASM_ANOMALY_MAX];
	uint64_t reasm_gap_bytes;
	struct bs_smtp_stats smtp;
};

void bs_stats_add(struct bs_worker_stats *sum, const struct bs_worker_stats *w);
/* "name value" pairs, for the text summary and the JSON summary */
void bs_stats_each(const struct bs_worker_stats *s, void (*fn)(void *ctx, const char *name, uint64_t v), void *ctx);

#endif
