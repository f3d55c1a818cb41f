/* What a rule set costs: in-memory rounds over stored messages, timed in
 * the calling thread's CPU time (meaningful on a shared box). Three
 * figures: the whole offline path (split, decode, scan), Hyperscan alone
 * over all pre-split scoped bytes, and Hyperscan over the header block and
 * fields only (what every message costs before it is a bounce candidate).
 * Used by `backstopctl rules scan --bench`; allocates freely (a tool). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rules_scan.h"

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct seg {
	uint32_t msg;
	uint8_t scope;
	const hs_database_t *db;
	uint8_t *p;
	size_t n;
};

struct segs {
	struct seg *v;
	size_t n, cap;
	uint32_t msg;
	bool oom;
};

static void collect(void *ctx, enum bs_scope scope, const hs_database_t *db, const uint8_t *p, size_t n)
{
	struct segs *g = ctx;
	if (g->oom)
		return;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 4096;
		struct seg *v = realloc(g->v, cap * sizeof(*v));
		if (!v) {
			g->oom = true;
			return;
		}
		g->v = v;
		g->cap = cap;
	}
	uint8_t *copy = malloc(n);
	if (!copy) {
		g->oom = true;
		return;
	}
	memcpy(copy, p, n);
	g->v[g->n++] = (struct seg){ g->msg, (uint8_t)scope, db, copy, n };
}

static int count_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx)
{
	(*(unsigned long long *)ctx)++;
	return 0;
}

/* Hyperscan alone over pre-split scopes; headers_only: header block and
 * fields only (what every message costs before it is a bounce candidate). */
static double time_hs(const struct segs *g, hs_scratch_t *scratch, long rounds, bool headers_only,
		      size_t *scanned, unsigned long long *matches)
{
	*scanned = 0;
	double t0 = cpu_s();
	for (long r = 0; r < rounds; r++) {
		hs_stream_t *st[BS_SCOPE_MAX] = { 0 };
		uint32_t cur = UINT32_MAX;
		for (size_t i = 0; i <= g->n; i++) {
			if (i == g->n || g->v[i].msg != cur) {   /* message boundary: close its streams */
				for (int s = 0; s < BS_SCOPE_MAX; s++)
					if (st[s]) {
						hs_close_stream(st[s], scratch, count_match, matches);
						st[s] = NULL;
					}
				if (i == g->n)
					break;
				cur = g->v[i].msg;
			}
			const struct seg *sg = &g->v[i];
			if (headers_only && sg->scope != BS_SCOPE_HEADERS && sg->scope != BS_SCOPE_HEADER_FIELD)
				continue;
			if (r == 0)
				*scanned += sg->n;
			if (sg->scope == BS_SCOPE_HEADER_FIELD || !bs_scope_is_stream(sg->scope)) {
				hs_scan(sg->db, (const char *)sg->p, (unsigned)sg->n, 0, scratch, count_match, matches);
				continue;
			}
			if (!st[sg->scope] && hs_open_stream(sg->db, 0, &st[sg->scope]) != HS_SUCCESS)
				continue;
			hs_scan_stream(st[sg->scope], (const char *)sg->p, (unsigned)sg->n, 0, scratch, count_match, matches);
		}
	}
	return cpu_s() - t0;
}

static void count_hit(void *ctx, const struct bs_rule *r, enum bs_scope scope, unsigned long long off)
{
	(*(unsigned long long *)ctx)++;
}

int bs_rules_bench_run(const struct bs_ruleset *rs, hs_scratch_t *scratch, const uint8_t *const *msgs,
		       const size_t *lens, int n, long rounds, struct bs_rules_bench *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	for (int k = 0; k < n; k++)
		out->message_bytes += lens[k];
	double t0 = cpu_s();
	for (long r = 0; r < rounds; r++)
		for (int k = 0; k < n; k++)
			if (bs_rules_scan_message(rs, scratch, msgs[k], lens[k], count_hit, &out->offline_matches, err,
						  errlen) < 0)
				return -1;
	double dt = cpu_s() - t0;
	double moved = (double)out->message_bytes * (double)rounds / 1e6;
	out->offline_mbps = dt > 0 ? moved / dt : 0.0;

	struct segs g = { 0 };
	int rc = 0;
	for (int k = 0; k < n && !g.oom; k++) {
		g.msg = (uint32_t)k;
		if (bs_rules_split_message(rs, msgs[k], lens[k], collect, &g, err, errlen) < 0)
			rc = -1;
	}
	if (g.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0) {
		dt = time_hs(&g, scratch, rounds, false, &out->all_scanned_bytes, &out->all_matches);
		out->all_mbps_message = dt > 0 ? moved / dt : 0.0;
		out->all_mbps_scanned = dt > 0 ? (double)out->all_scanned_bytes * rounds / 1e6 / dt : 0.0;
		dt = time_hs(&g, scratch, rounds, true, &out->hdr_scanned_bytes, &out->hdr_matches);
		out->hdr_mbps_message = dt > 0 ? moved / dt : 0.0;
		out->hdr_mbps_scanned = dt > 0 ? (double)out->hdr_scanned_bytes * rounds / 1e6 / dt : 0.0;
	}
	for (size_t i = 0; i < g.n; i++)
		free(g.v[i].p);
	free(g.v);
	return rc;
}
