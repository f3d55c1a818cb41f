/* Hyperscan glue: per-transaction streams for the streaming scopes
 * (headers, body, embedded original's headers, DSN), block scans for the
 * envelope and named header fields, and the per-transaction record of
 * which rules matched (evidence for the classifier).
 *
 * No allocation per transaction: every pool slot opens its streams once,
 * when the worker is created, and reuses them with hs_reset_stream. One
 * Hyperscan scratch per worker. */
#ifndef BS_SCAN_H
#define BS_SCAN_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <hs/hs.h>
#include "control/rules.h"

#define BS_SCAN_MAX_HITS 32   /* rule matches remembered per transaction (more are only scored) */

/* Evidence: summed rule weights per signal, and the rules behind them. */
struct bs_scan_hits {
	int32_t score[BS_SIG_MAX];
	uint16_t count[BS_SIG_MAX];
	uint16_t n_hits;          /* entries in rule[] */
	uint32_t rule[BS_SCAN_MAX_HITS];   /* indexes into ruleset->rules */
	uint32_t matches;         /* all matches, counted */
};

struct bs_scan_worker {
	const struct bs_ruleset *rs;
	hs_scratch_t *scratch;
	uint64_t scanned_bytes[BS_SCOPE_MAX];
	uint64_t scan_errors;
};

struct bs_scan_txn {
	hs_stream_t *st[BS_SCOPE_MAX];   /* NULL for block scopes / scopes without rules */
	uint32_t dirty;                  /* bit per scope: stream holds state of this txn */
	uint64_t scope_off[BS_SCOPE_MAX];/* bytes fed per scope (for rule depth) */
	struct bs_scan_hits hits;
	const struct bs_ruleset *rs;
};

int bs_scan_worker_init(struct bs_scan_worker *w, const struct bs_ruleset *rs, char *err, size_t errlen);
void bs_scan_worker_fini(struct bs_scan_worker *w);
/* Opens the streams of one pool slot (at worker creation, not per txn). */
int bs_scan_txn_open(struct bs_scan_worker *w, struct bs_scan_txn *t, char *err, size_t errlen);
void bs_scan_txn_close(struct bs_scan_worker *w, struct bs_scan_txn *t);

/* Per transaction: start (clears evidence), feed, finish (flushes
 * end-of-data matches and leaves the streams reset for the next txn). */
void bs_scan_txn_start(struct bs_scan_txn *t);
void bs_scan_stream(struct bs_scan_worker *w, struct bs_scan_txn *t, enum bs_scope scope,
		    const uint8_t *p, size_t n);
void bs_scan_block(struct bs_scan_worker *w, struct bs_scan_txn *t, enum bs_scope scope,
		   const uint8_t *p, size_t n);
/* A header field: scanned only when some rule names it. */
void bs_scan_field(struct bs_scan_worker *w, struct bs_scan_txn *t, const char *name, size_t nlen,
		   const char *value, size_t vlen);
void bs_scan_txn_finish(struct bs_scan_worker *w, struct bs_scan_txn *t);

#endif
