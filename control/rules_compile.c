/* Hyperscan compilation of a parsed rule set: one database per scope and
 * one per named header field, so each byte is scanned only against the
 * patterns that can apply to it. Generic x86-64 by default so a bundle
 * built here loads on any x86-64 host with SSSE3 (Hyperscan's floor). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rules_internal.h"

struct group {
	const char **pats;
	unsigned *flags;
	unsigned *ids;
	hs_expr_ext_t *exts;
	const hs_expr_ext_t **extp;
	uint32_t *expr_idx;     /* back to p->exprs, for error lines */
	uint32_t n;
};

static void group_free(struct group *g)
{
	free(g->pats);
	free(g->flags);
	free(g->ids);
	free(g->exts);
	free(g->extp);
	free(g->expr_idx);
	memset(g, 0, sizeof(*g));
}

static int group_alloc(struct group *g, uint32_t n)
{
	g->pats = calloc(n ? n : 1, sizeof(*g->pats));
	g->flags = calloc(n ? n : 1, sizeof(*g->flags));
	g->ids = calloc(n ? n : 1, sizeof(*g->ids));
	g->exts = calloc(n ? n : 1, sizeof(*g->exts));
	g->extp = calloc(n ? n : 1, sizeof(*g->extp));
	g->expr_idx = calloc(n ? n : 1, sizeof(*g->expr_idx));
	if (!g->pats || !g->flags || !g->ids || !g->exts || !g->extp || !g->expr_idx) {
		group_free(g);
		return -1;
	}
	return 0;
}

/* Select the expressions of one scope (and field, for header fields). */
static void group_fill(struct group *g, const struct bs_parsed *p, int scope, int field_idx)
{
	g->n = 0;
	for (uint32_t i = 0; i < p->n_exprs; i++) {
		const struct bs_rexpr *x = &p->exprs[i];
		const struct bs_rule *r = &p->rs->rules[x->rule_idx];
		if (r->scope != scope || (scope == BS_SCOPE_HEADER_FIELD && r->field_idx != field_idx))
			continue;
		uint32_t k = g->n++;
		g->pats[k] = x->pattern;
		g->flags[k] = x->hs_flags;
		g->ids[k] = x->rule_idx;
		memset(&g->exts[k], 0, sizeof(g->exts[k]));
		if (r->depth) {
			g->exts[k].flags = HS_EXT_FLAG_MAX_OFFSET;
			g->exts[k].max_offset = r->depth;
			g->extp[k] = &g->exts[k];
		} else {
			g->extp[k] = NULL;
		}
		g->expr_idx[k] = i;
	}
}

static hs_database_t *compile_group(const struct group *g, const struct bs_parsed *p, unsigned mode,
				    const hs_platform_info_t *plat, const char *what, struct bs_errs *e)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	if (hs_compile_ext_multi(g->pats, g->flags, g->ids, g->extp, g->n, mode, plat, &db, &ce) == HS_SUCCESS)
		return db;
	if (ce && ce->expression >= 0 && (uint32_t)ce->expression < g->n) {
		const struct bs_rexpr *x = &p->exprs[g->expr_idx[ce->expression]];
		const struct bs_rule *r = &p->rs->rules[x->rule_idx];
		if (x->file == r->file && x->line == r->line)
			bs_errs_add(e, x->file, x->line, "rule %u: hyperscan: %s", r->id, ce->message);
		else
			bs_errs_add(e, x->file, x->line, "entry of the list used by rule %u (%s:%d): hyperscan: %s",
				    r->id, r->file, r->line, ce->message);
	} else {
		bs_errs_add(e, p->rs->source, 0, "hyperscan cannot compile the %s database: %s", what,
			    ce ? ce->message : "unknown error");
	}
	hs_free_compile_error(ce);
	return NULL;
}

unsigned bs_rules_compile(struct bs_parsed *p, bool native_cpu, struct bs_errs *e)
{
	struct bs_ruleset *rs = p->rs;
	unsigned before = e->n;
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	if (native_cpu) {
		if (hs_populate_platform(&plat) != HS_SUCCESS) {
			bs_errs_add(e, rs->source, 0, "hyperscan cannot describe this CPU (hs_populate_platform)");
			return e->n - before;
		}
	} else {
		plat.tune = HS_TUNE_FAMILY_GENERIC;
		plat.cpu_features = 0;
	}
	rs->native = native_cpu;
	struct group g;
	if (group_alloc(&g, p->n_exprs) < 0) {
		bs_errs_add(e, rs->source, 0, "out of memory");
		return e->n - before;
	}
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (s == BS_SCOPE_HEADER_FIELD)
			continue;
		group_fill(&g, p, s, -1);
		if (!g.n)
			continue;
		unsigned mode = bs_scope_is_stream(s) ? HS_MODE_STREAM : HS_MODE_BLOCK;
		rs->db[s] = compile_group(&g, p, mode, &plat, bs_scope_name(s), e);
	}
	for (uint32_t f = 0; f < rs->n_fields; f++) {
		group_fill(&g, p, BS_SCOPE_HEADER_FIELD, (int)f);
		if (!g.n)
			continue;
		char what[96];
		snprintf(what, sizeof(what), "header:%s", rs->fields[f].name);
		rs->fields[f].db = compile_group(&g, p, HS_MODE_BLOCK, &plat, what, e);
	}
	group_free(&g);
	bs_ruleset_fill_sizes(rs);
	return e->n - before;
}
