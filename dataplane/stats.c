#include "stats.h"
#include <stdio.h>

void bs_stats_add(struct bs_worker_stats *sum, const struct bs_worker_stats *w)
{
	/* every member is a uint64_t counter */
	const uint64_t *src = (const uint64_t *)w;
	uint64_t *dst = (uint64_t *)sum;
	_Static_assert(sizeof(*w) % sizeof(uint64_t) == 0, "stats must be all uint64_t");
	for (size_t i = 0; i < sizeof(*w) / sizeof(uint64_t); i++)
		dst[i] += src[i];
}

void bs_stats_each(const struct bs_worker_stats *s, void (*fn)(void *ctx, const char *name, uint64_t v), void *ctx)
{
	char name[64];
#define X(n) fn(ctx, #n, s->n);
	BS_WORKER_COUNTERS(X)
#undef X
	for (int i = 0; i < BS_PKT_STATUS_MAX; i++) {
		snprintf(name, sizeof(name), "parse.%s", bs_pkt_status_name[i]);
		fn(ctx, name, s->parse[i]);
	}
	for (int i = 0; i < BS_REASM_ANOMALY_MAX; i++) {
		snprintf(name, sizeof(name), "reassembly.%s", bs_reasm_anomaly_name[i]);
		fn(ctx, name, s->reasm[i]);
	}
	fn(ctx, "reassembly.gap_bytes", s->reasm_gap_bytes);
	const struct bs_smtp_stats *m = &s->smtp;
	fn(ctx, "smtp.commands", m->commands);
	fn(ctx, "smtp.replies", m->replies);
	fn(ctx, "smtp.transactions", m->transactions);
	fn(ctx, "smtp.txn_unrecorded", m->txn_unrecorded);
	fn(ctx, "smtp.messages", m->messages);
	fn(ctx, "smtp.message_bytes", m->message_bytes);
	fn(ctx, "smtp.long_lines", m->long_lines);
	fn(ctx, "smtp.garbage", m->garbage);
	fn(ctx, "smtp.unpaired_replies", m->unpaired_replies);
	fn(ctx, "smtp.starttls", m->starttls);
	fn(ctx, "smtp.bdat_chunks", m->bdat_chunks);
	fn(ctx, "smtp.auth", m->auth);
	fn(ctx, "smtp.gaps", m->gaps);
	fn(ctx, "smtp.midstream_skipped_lines", m->midstream_skipped_lines);
}
