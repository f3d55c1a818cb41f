/* Parser of the rule language (docs/rules.md):
 *
 *   include "other.rules"
 *   list NAME [nocase] file "path"          one literal per line
 *   list NAME [nocase] "lit" "lit" ...      inline; repeated lines append
 *   rule ID SCOPE SIGNAL WEIGHT PATTERN "NAME" [depth N]
 *
 * PATTERN is "literal"[i], /regex/[ims] or @LIST. It collects every error
 * (up to a bound) so `rules check` shows them all at once, each as
 * FILE:LINE: message. Regexes are validated here with Hyperscan's own
 * parser so its reason is reported against the rule's line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <sys/stat.h>
#include "rules_parse.h"

static int add_expr(struct parse_ctx *c, uint32_t rule_idx, char *pattern, unsigned flags,
		    const char *file, int line)
{
	struct bs_parsed *p = c->p;
	if (p->n_exprs >= BS_RULES_MAX_EXPRS) {
		free(pattern);
		bs_errs_add(c->e, file, line, "too many patterns (limit %u)", BS_RULES_MAX_EXPRS);
		return -1;
	}
	if (p->n_exprs == p->cap_exprs) {
		uint32_t cap = p->cap_exprs ? p->cap_exprs * 2 : 256;
		struct bs_rexpr *v = realloc(p->exprs, cap * sizeof(*v));
		if (!v) {
			free(pattern);
			bs_errs_add(c->e, file, line, "out of memory");
			return -1;
		}
		p->exprs = v;
		p->cap_exprs = cap;
	}
	p->exprs[p->n_exprs++] = (struct bs_rexpr){ rule_idx, pattern, flags, file, line };
	return 0;
}

/* ---- directives ---- */

static void parse_file(struct parse_ctx *c, const char *path, const char *from_file, int from_line);

static void do_include(struct parse_ctx *c, const char *file, int line, struct bs_toks *t)
{
	if (t->n != 2 || t->v[1].kind != BS_TOK_STRING || t->v[1].flags[0]) {
		bs_errs_add(c->e, file, line, "usage: include \"FILE\"");
		return;
	}
	char *path = bs_resolve_path(file, t->v[1].text);
	if (!path) {
		bs_errs_add(c->e, file, line, "out of memory");
		return;
	}
	parse_file(c, path, file, line);
	free(path);
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_weight(const char *s, int16_t *out)
{
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < -1000 || v > 1000)
		return false;
	*out = (int16_t)v;
	return true;
}

static int id_lookup_insert(struct parse_ctx *c, uint32_t id, uint32_t idx)
{
	/* returns the existing rule index, or -1 after inserting idx */
	if ((c->p->rs->n_rules + 1) * 2 > c->id_cap) {
		uint32_t cap = c->id_cap ? c->id_cap * 2 : 1024;
		uint32_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -2;
		for (uint32_t i = 0; i < c->id_cap; i++) {
			if (!c->id_slots[i])
				continue;
			uint32_t rid = c->p->rs->rules[c->id_slots[i] - 1].id;
			uint32_t h = (rid * 2654435761u) & (cap - 1);
			while (slots[h])
				h = (h + 1) & (cap - 1);
			slots[h] = c->id_slots[i];
		}
		free(c->id_slots);
		c->id_slots = slots;
		c->id_cap = cap;
	}
	uint32_t h = (id * 2654435761u) & (c->id_cap - 1);
	while (c->id_slots[h]) {
		uint32_t other = c->id_slots[h] - 1;
		if (c->p->rs->rules[other].id == id)
			return (int)other;
		h = (h + 1) & (c->id_cap - 1);
	}
	c->id_slots[h] = idx + 1;
	return -1;
}

static int field_index(struct parse_ctx *c, const char *field, const char *file, int line)
{
	struct bs_ruleset *rs = c->p->rs;
	for (uint32_t i = 0; i < rs->n_fields; i++)
		if (!strcmp(rs->fields[i].name, field))
			return (int)i;
	if (rs->n_fields >= BS_RULES_MAX_FIELDS) {
		bs_errs_add(c->e, file, line, "too many distinct header fields (limit %u)", BS_RULES_MAX_FIELDS);
		return -1;
	}
	struct bs_field_db *v = realloc(rs->fields, (rs->n_fields + 1) * sizeof(*v));
	if (!v) {
		bs_errs_add(c->e, file, line, "out of memory");
		return -1;
	}
	rs->fields = v;
	memset(&v[rs->n_fields], 0, sizeof(*v));
	snprintf(v[rs->n_fields].name, sizeof(v->name), "%s", field);
	return (int)rs->n_fields++;
}

/* scope word: helo, mail_from, rcpt_to, headers, header:NAME, body,
 * orig_headers, dsn */
static int parse_scope(struct parse_ctx *c, const char *w, struct bs_rule *r, const char *file, int line)
{
	if (!strncasecmp(w, "header:", 7)) {
		const char *f = w + 7;
		size_t n = strlen(f);
		if (n == 0 || n >= BS_RULE_FIELD_MAX) {
			bs_errs_add(c->e, file, line, "bad header field name in scope '%s'", w);
			return -1;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)f[i];
			if (ch < 33 || ch > 126 || ch == ':') {
				bs_errs_add(c->e, file, line, "bad header field name in scope '%s'", w);
				return -1;
			}
			r->field[i] = (char)tolower(ch);
		}
		r->field[n] = 0;
		r->scope = BS_SCOPE_HEADER_FIELD;
		int fi = field_index(c, r->field, file, line);
		if (fi < 0)
			return -1;
		r->field_idx = (int16_t)fi;
		return 0;
	}
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (s == BS_SCOPE_HEADER_FIELD)
			continue;
		if (!strcmp(w, bs_scope_name(s))) {
			r->scope = (uint8_t)s;
			return 0;
		}
	}
	bs_errs_add(c->e, file, line,
		    "unknown scope '%s' (helo, mail_from, rcpt_to, headers, header:NAME, body, orig_headers, dsn)", w);
	return -1;
}

static void do_rule(struct parse_ctx *c, const char *file, int line, struct bs_toks *t)
{
	struct bs_ruleset *rs = c->p->rs;
	if (t->n < 7) {
		bs_errs_add(c->e, file, line, "usage: rule ID SCOPE SIGNAL WEIGHT PATTERN \"NAME\" [depth N]");
		return;
	}
	struct bs_rule r;
	memset(&r, 0, sizeof(r));
	r.field_idx = -1;
	r.file = file;
	r.line = line;
	for (int k = 1; k <= 4; k++)
		if (t->v[k].kind != BS_TOK_WORD) {
			bs_errs_add(c->e, file, line, "usage: rule ID SCOPE SIGNAL WEIGHT PATTERN \"NAME\" [depth N]");
			return;
		}
	if (!parse_u32(t->v[1].text, 1, UINT32_MAX, &r.id)) {
		bs_errs_add(c->e, file, line, "bad rule id '%s' (1..4294967295)", t->v[1].text);
		return;
	}
	if (parse_scope(c, t->v[2].text, &r, file, line) < 0)
		return;
	int sig = bs_signal_from_name(t->v[3].text);
	if (sig < 0) {
		bs_errs_add(c->e, file, line, "unknown signal '%s' (see docs/rules.md for the classes)", t->v[3].text);
		return;
	}
	r.signal = (uint8_t)sig;
	if (!parse_weight(t->v[4].text, &r.weight)) {
		bs_errs_add(c->e, file, line, "bad weight '%s' (integer -1000..1000)", t->v[4].text);
		return;
	}
	const struct bs_tok *pat = &t->v[5];
	const struct bs_tok *name = &t->v[6];
	if (name->kind != BS_TOK_STRING || name->flags[0]) {
		bs_errs_add(c->e, file, line, "rule name must be a \"quoted string\" after the pattern");
		return;
	}
	if (name->len == 0 || name->len >= BS_RULE_NAME_MAX || memchr(name->text, 0, name->len) ||
	    strpbrk(name->text, "\r\n\t")) {
		bs_errs_add(c->e, file, line, "rule name must be 1..%d printable characters", BS_RULE_NAME_MAX - 1);
		return;
	}
	memcpy(r.name, name->text, name->len + 1);
	for (size_t k = 7; k < t->n; k++) {
		if (t->v[k].kind == BS_TOK_WORD && !strcmp(t->v[k].text, "depth")) {
			if (k + 1 >= t->n || t->v[k + 1].kind != BS_TOK_WORD ||
			    !parse_u32(t->v[k + 1].text, 1, 1u << 30, &r.depth)) {
				bs_errs_add(c->e, file, line, "depth needs a byte count 1..%u", 1u << 30);
				return;
			}
			k++;
			continue;
		}
		bs_errs_add(c->e, file, line, "unknown rule option '%s' (depth)", t->v[k].text);
		return;
	}

	/* the pattern, with its flags */
	unsigned hs_flags = HS_FLAG_SINGLEMATCH;
	struct bs_list *list = NULL;
	if (pat->kind == BS_TOK_STRING) {
		r.flags |= BS_RULE_F_LITERAL;
		for (const char *f = pat->flags; *f; f++) {
			if (*f == 'i')
				r.flags |= BS_RULE_F_CASELESS;
			else {
				bs_errs_add(c->e, file, line, "bad flag '%c' for a literal (only i)", *f);
				return;
			}
		}
		if (pat->len == 0) {
			bs_errs_add(c->e, file, line, "empty literal pattern");
			return;
		}
	} else if (pat->kind == BS_TOK_REGEX) {
		r.flags |= BS_RULE_F_REGEX;
		for (const char *f = pat->flags; *f; f++) {
			if (*f == 'i')
				r.flags |= BS_RULE_F_CASELESS;
			else if (*f == 'm')
				r.flags |= BS_RULE_F_MULTILINE;
			else if (*f == 's')
				r.flags |= BS_RULE_F_DOTALL;
			else {
				bs_errs_add(c->e, file, line, "bad regex flag '%c' (i, m, s)", *f);
				return;
			}
		}
		if (pat->len == 0) {
			bs_errs_add(c->e, file, line, "empty regex");
			return;
		}
	} else if (pat->text[0] == '@') {
		r.flags |= BS_RULE_F_LIST;
		list = bs_find_list(c, pat->text + 1);
		if (!list) {
			bs_errs_add(c->e, file, line, "unknown list '%s' (lists must be defined before use)", pat->text + 1);
			return;
		}
		if (list->nocase)
			r.flags |= BS_RULE_F_CASELESS;
	} else {
		bs_errs_add(c->e, file, line, "bad pattern '%s': expected \"literal\", /regex/ or @LIST", pat->text);
		return;
	}
	if (r.flags & BS_RULE_F_CASELESS)
		hs_flags |= HS_FLAG_CASELESS;
	if (r.flags & BS_RULE_F_MULTILINE)
		hs_flags |= HS_FLAG_MULTILINE;
	if (r.flags & BS_RULE_F_DOTALL)
		hs_flags |= HS_FLAG_DOTALL;

	char *expr = NULL;
	if (r.flags & BS_RULE_F_REGEX) {
		/* Hyperscan's own parser says what is wrong, against this line. */
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *ce = NULL;
		hs_expr_ext_t ext = { 0 };
		if (r.depth) {
			ext.flags = HS_EXT_FLAG_MAX_OFFSET;
			ext.max_offset = r.depth;
		}
		if (hs_expression_ext_info(pat->text, hs_flags, &ext, &info, &ce) != HS_SUCCESS) {
			bs_errs_add(c->e, file, line, "bad regex /%s/: %s", pat->text, ce ? ce->message : "rejected");
			hs_free_compile_error(ce);
			return;
		}
		free(info);
		expr = strdup(pat->text);
	} else if (r.flags & BS_RULE_F_LITERAL) {
		expr = bs_escape_literal(pat->text, pat->len);
	}
	if (!list && !expr) {
		bs_errs_add(c->e, file, line, "out of memory");
		return;
	}

	if (rs->n_rules >= BS_RULES_MAX_RULES) {
		free(expr);
		bs_errs_add(c->e, file, line, "too many rules (limit %u)", BS_RULES_MAX_RULES);
		return;
	}
	if (rs->n_rules == c->cap_rules) {
		uint32_t cap = c->cap_rules ? c->cap_rules * 2 : 128;
		struct bs_rule *v = realloc(rs->rules, cap * sizeof(*v));
		if (!v) {
			free(expr);
			bs_errs_add(c->e, file, line, "out of memory");
			return;
		}
		rs->rules = v;
		c->cap_rules = cap;
	}
	int prev = id_lookup_insert(c, r.id, rs->n_rules);
	if (prev >= 0) {
		free(expr);
		bs_errs_add(c->e, file, line, "duplicate rule id %u (first defined at %s:%d)", r.id,
			    rs->rules[prev].file, rs->rules[prev].line);
		return;
	}
	if (prev == -2) {
		free(expr);
		bs_errs_add(c->e, file, line, "out of memory");
		return;
	}
	uint32_t idx = rs->n_rules++;
	rs->rules[idx] = r;
	if (expr) {
		add_expr(c, idx, expr, hs_flags, file, line);
	} else {
		for (uint32_t i = 0; i < list->n; i++) {
			char *d = strdup(list->items[i]);
			if (!d || add_expr(c, idx, d, hs_flags, list->files[i], list->lines[i]) < 0) {
				if (!d)
					bs_errs_add(c->e, file, line, "out of memory");
				return;
			}
		}
	}
}

static void rule_file_line(struct parse_ctx *c, const char *file, int line, const char *s, size_t n,
			   void *arg)
{
	char why[160];
	if (bs_lex_line(s, n, &c->toks, why, sizeof(why)) < 0) {
		bs_errs_add(c->e, file, line, "%s", why);
		return;
	}
	struct bs_toks *t = &c->toks;
	if (t->n == 0)
		return;
	if (t->v[0].kind != BS_TOK_WORD) {
		bs_errs_add(c->e, file, line, "expected rule, list or include at the start of the line");
		return;
	}
	const char *w = t->v[0].text;
	if (!strcmp(w, "rule"))
		do_rule(c, file, line, t);
	else if (!strcmp(w, "list"))
		bs_do_list(c, file, line, t);
	else if (!strcmp(w, "include"))
		do_include(c, file, line, t);
	else
		bs_errs_add(c->e, file, line, "unknown directive '%s' (expected rule, list or include)", w);
}

static void parse_file(struct parse_ctx *c, const char *path, const char *from_file, int from_line)
{
	char *real = realpath(path, NULL);
	if (!real) {
		if (from_file)
			bs_errs_add(c->e, from_file, from_line, "cannot open '%s': %s", path, strerror(errno));
		else
			bs_errs_add(c->e, path, 0, "cannot open: %s", strerror(errno));
		return;
	}
	/* Include once: a file reached again through another include (a
	 * diamond, not a cycle) was read already; reading it twice would only
	 * report its rules as duplicates of themselves. */
	for (uint32_t i = 0; i < c->n_done; i++) {
		if (!strcmp(c->done[i], real)) {
			free(real);
			return;
		}
	}
	for (unsigned i = 0; i < c->depth; i++) {
		if (!strcmp(c->stack[i], real)) {
			bs_errs_add(c->e, from_file, from_line, "include cycle: '%s' is already being read", path);
			free(real);
			return;
		}
	}
	if (c->depth >= BS_RULES_MAX_INCLUDE) {
		bs_errs_add(c->e, from_file, from_line, "includes nested deeper than %u", BS_RULES_MAX_INCLUDE);
		free(real);
		return;
	}
	char why[128];
	size_t len;
	char *buf = bs_slurp(path, &len, why, sizeof(why));
	if (!buf) {
		if (from_file)
			bs_errs_add(c->e, from_file, from_line, "cannot read '%s': %s", path, why);
		else
			bs_errs_add(c->e, path, 0, "cannot read: %s", why);
		free(real);
		return;
	}
	const char *file = bs_ruleset_intern_file(c->p->rs, path);
	if (!file) {
		bs_errs_add(c->e, from_file ? from_file : path, from_line, "too many files (limit %u)",
			    BS_RULES_MAX_FILES);
		free(buf);
		free(real);
		return;
	}
	c->stack[c->depth++] = real;
	bs_for_each_line(c, file, buf, len, rule_file_line, NULL);
	c->depth--;
	free(buf);
	char **d = realloc(c->done, (c->n_done + 1) * sizeof(*d));
	if (d) {
		c->done = d;
		c->done[c->n_done++] = real;
	} else {
		free(real);
	}
}

unsigned bs_rules_parse(const char *path, struct bs_parsed *p, struct bs_errs *e)
{
	struct parse_ctx c;
	memset(&c, 0, sizeof(c));
	memset(p, 0, sizeof(*p));
	c.p = p;
	c.e = e;
	unsigned before = e->n;
	p->rs = bs_ruleset_new();
	if (!p->rs) {
		bs_errs_add(e, path, 0, "out of memory");
		return e->n - before;
	}
	snprintf(p->rs->source, sizeof(p->rs->source), "%s", path);
	parse_file(&c, path, NULL, 0);
	if (e->n == before && p->rs->n_rules == 0)
		bs_errs_add(e, path, 0, "no rules");
	bs_lists_free(&c);
	for (uint32_t i = 0; i < c.n_done; i++)
		free(c.done[i]);
	free(c.done);
	free(c.id_slots);
	bs_toks_free(&c.toks);
	for (uint32_t i = 0; i < p->rs->n_rules; i++)
		p->rs->n_rules_scope[p->rs->rules[i].scope]++;
	for (uint32_t i = 0; i < p->rs->n_rules; i++)
		if (p->rs->rules[i].field_idx >= 0)
			p->rs->fields[p->rs->rules[i].field_idx].n_rules++;
	p->rs->n_expressions = p->n_exprs;
	return e->n - before;
}

void bs_parsed_free_exprs(struct bs_parsed *p)
{
	for (uint32_t i = 0; i < p->n_exprs; i++)
		free(p->exprs[i].pattern);
	free(p->exprs);
	p->exprs = NULL;
	p->n_exprs = p->cap_exprs = 0;
}
