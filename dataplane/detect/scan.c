/* Hyperscan glue; see scan.h. */
#include <stdio.h>
#include <string.h>
#include "scan.h"

int bs_scan_worker_init(struct bs_scan_worker *w, const struct bs_ruleset *rs, char *err, size_t errlen)
{
	memset(w, 0, sizeof *w);
	w->rs = rs;
	return bs_rules_alloc_scratch(rs, &w->scratch, err, errlen);
}

void bs_scan_worker_fini(struct bs_scan_worker *w)
{
	if (w->scratch)
		hs_free_scratch(w->scratch);
	w->scratch = NULL;
}

int bs_scan_txn_open(struct bs_scan_worker *w, struct bs_scan_txn *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof *t);
	t->rs = w->rs;
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (!bs_scope_is_stream((enum bs_scope)s) || !w->rs->db[s])
			continue;
		hs_error_t e = hs_open_stream(w->rs->db[s], 0, &t->st[s]);
		if (e != HS_SUCCESS) {
			snprintf(err, errlen, "cannot open Hyperscan stream for scope %s (error %d)",
				 bs_scope_name((enum bs_scope)s), e);
			bs_scan_txn_close(w, t);
			return -1;
		}
	}
	return 0;
}

void bs_scan_txn_close(struct bs_scan_worker *w, struct bs_scan_txn *t)
{
	for (int s = 0; s < BS_SCOPE_MAX; s++)
		if (t->st[s]) {
			/* no scratch: end-of-data matches of a dying stream are not wanted */
			hs_close_stream(t->st[s], NULL, NULL, NULL);
			t->st[s] = NULL;
		}
}

void bs_scan_txn_start(struct bs_scan_txn *t)
{
	/* a previous transaction that was never finished left state behind */
	for (int s = 0; s < BS_SCOPE_MAX; s++)
		if (t->dirty & (1u << s))
			hs_reset_stream(t->st[s], 0, NULL, NULL, NULL);
	t->dirty = 0;
	memset(&t->hits, 0, sizeof t->hits);
	memset(t->scope_off, 0, sizeof t->scope_off);
}

struct match_ctx {
	struct bs_scan_txn *t;
	uint64_t base;     /* scope offset of the scanned buffer (stream scopes) */
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	(void)from;
	(void)flags;
	struct match_ctx *m = ctx;
	struct bs_scan_txn *t = m->t;
	if (id >= t->rs->n_rules)
		return 0;
	const struct bs_rule *r = &t->rs->rules[id];
	/* Hyperscan reports `to` from the stream start; block scans start at 0 */
	if (r->depth && to > r->depth)
		return 0;
	struct bs_scan_hits *h = &t->hits;
	h->matches++;
	/* a header-field rule can fire once per field occurrence: count a rule once */
	for (uint16_t i = 0; i < h->n_hits; i++)
		if (h->rule[i] == id)
			return 0;
	if (r->signal < BS_SIG_MAX) {
		h->score[r->signal] += r->weight;
		if (h->count[r->signal] < UINT16_MAX)
			h->count[r->signal]++;
	}
	if (h->n_hits < BS_SCAN_MAX_HITS)
		h->rule[h->n_hits++] = id;
	return 0;
}

void bs_scan_stream(struct bs_scan_worker *w, struct bs_scan_txn *t, enum bs_scope scope,
		    const uint8_t *p, size_t n)
{
	if ((unsigned)scope >= BS_SCOPE_MAX || !t->st[scope] || n == 0)
		return;
	struct match_ctx m = { t, t->scope_off[scope] };
	/* hs_scan_stream takes an unsigned int length: feed huge chunks in pieces */
	while (n > 0) {
		unsigned int len = n > (1u << 30) ? (1u << 30) : (unsigned int)n;
		hs_error_t e = hs_scan_stream(t->st[scope], (const char *)p, len, 0, w->scratch, on_match, &m);
		if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
			w->scan_errors++;
		p += len;
		n -= len;
		t->scope_off[scope] += len;
		w->scanned_bytes[scope] += len;
	}
	t->dirty |= 1u << scope;
}

void bs_scan_block(struct bs_scan_worker *w, struct bs_scan_txn *t, enum bs_scope scope,
		   const uint8_t *p, size_t n)
{
	if ((unsigned)scope >= BS_SCOPE_MAX || !w->rs->db[scope] || n > (1u << 30))
		return;
	struct match_ctx m = { t, 0 };
	hs_error_t e = hs_scan(w->rs->db[scope], (const char *)p, (unsigned int)n, 0, w->scratch, on_match, &m);
	if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
		w->scan_errors++;
	w->scanned_bytes[scope] += n;
}

void bs_scan_field(struct bs_scan_worker *w, struct bs_scan_txn *t, const char *name, size_t nlen,
		   const char *value, size_t vlen)
{
	const hs_database_t *db = bs_rules_field_db(w->rs, name, nlen, NULL);
	if (!db || vlen > (1u << 30))
		return;
	struct match_ctx m = { t, 0 };
	hs_error_t e = hs_scan(db, value, (unsigned int)vlen, 0, w->scratch, on_match, &m);
	if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
		w->scan_errors++;
	w->scanned_bytes[BS_SCOPE_HEADER_FIELD] += vlen;
}

void bs_scan_txn_finish(struct bs_scan_worker *w, struct bs_scan_txn *t)
{
	/* Resetting with a scratch and callback reports matches that need the
	 * end of data ($-anchored patterns), then leaves the stream clean for
	 * the next transaction of this pool slot. */
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (!(t->dirty & (1u << s)))
			continue;
		struct match_ctx m = { t, t->scope_off[s] };
		hs_error_t e = hs_reset_stream(t->st[s], 0, w->scratch, on_match, &m);
		if (e != HS_SUCCESS && e != HS_SCAN_TERMINATED)
			w->scan_errors++;
	}
	t->dirty = 0;
}
