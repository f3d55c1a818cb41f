/* Named lists of the rule language: `list NAME [nocase] file "PATH"` and
 * `list NAME [nocase] "ENTRY"...`; a rule's @NAME pattern becomes one
 * Hyperscan literal per entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "rules_parse.h"

struct bs_list *bs_find_list(struct parse_ctx *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_lists; i++)
		if (!strcmp(c->lists[i].name, name))
			return &c->lists[i];
	return NULL;
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

static int list_add(struct parse_ctx *c, struct bs_list *l, const char *s, size_t n,
		    const char *file, int line)
{
	if (n == 0) {
		bs_errs_add(c->e, file, line, "empty entry in list '%s'", l->name);
		return -1;
	}
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 64;
		char **it = realloc(l->items, cap * sizeof(*it));
		if (it)
			l->items = it;
		const char **fi = realloc(l->files, cap * sizeof(*fi));
		if (fi)
			l->files = fi;
		int *li = realloc(l->lines, cap * sizeof(*li));
		if (li)
			l->lines = li;
		if (!it || !fi || !li) {
			bs_errs_add(c->e, file, line, "out of memory");
			return -1;
		}
		l->cap = cap;
	}
	char *esc = bs_escape_literal(s, n);
	if (!esc) {
		bs_errs_add(c->e, file, line, "out of memory");
		return -1;
	}
	l->items[l->n] = esc;
	l->files[l->n] = file;
	l->lines[l->n] = line;
	l->n++;
	return 0;
}

static void list_file_line(struct parse_ctx *c, const char *file, int line, const char *s, size_t n,
			   void *arg)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (!n || *s == '#')
		return;
	list_add(c, arg, s, n, file, line);
}

void bs_do_list(struct parse_ctx *c, const char *file, int line, struct bs_toks *t)
{
	if (t->n < 3 || t->v[1].kind != BS_TOK_WORD) {
		bs_errs_add(c->e, file, line, "usage: list NAME [nocase] file \"PATH\" | list NAME [nocase] \"ENTRY\"...");
		return;
	}
	const char *name = t->v[1].text;
	if (!valid_name(name)) {
		bs_errs_add(c->e, file, line, "bad list name '%s' (letters, digits, _ - . only)", name);
		return;
	}
	size_t k = 2;
	bool nocase = false;
	if (t->v[k].kind == BS_TOK_WORD && !strcmp(t->v[k].text, "nocase")) {
		nocase = true;
		k++;
	}
	if (k >= t->n) {
		bs_errs_add(c->e, file, line, "list '%s' has no entries", name);
		return;
	}
	struct bs_list *l = bs_find_list(c, name);
	if (l && l->nocase != nocase) {
		bs_errs_add(c->e, file, line, "list '%s' was declared %s before", name,
			    l->nocase ? "nocase" : "case-sensitive");
		return;
	}
	if (!l) {
		if (c->n_lists == c->cap_lists) {
			uint32_t cap = c->cap_lists ? c->cap_lists * 2 : 16;
			struct bs_list *v = realloc(c->lists, cap * sizeof(*v));
			if (!v) {
				bs_errs_add(c->e, file, line, "out of memory");
				return;
			}
			c->lists = v;
			c->cap_lists = cap;
		}
		l = &c->lists[c->n_lists++];
		memset(l, 0, sizeof(*l));
		snprintf(l->name, sizeof(l->name), "%s", name);
		l->nocase = nocase;
	}
	if (t->v[k].kind == BS_TOK_WORD && !strcmp(t->v[k].text, "file")) {
		if (k + 2 != t->n || t->v[k + 1].kind != BS_TOK_STRING || t->v[k + 1].flags[0]) {
			bs_errs_add(c->e, file, line, "usage: list NAME [nocase] file \"PATH\"");
			return;
		}
		char *path = bs_resolve_path(file, t->v[k + 1].text);
		char why[128];
		size_t len;
		char *buf = path ? bs_slurp(path, &len, why, sizeof(why)) : NULL;
		if (!buf) {
			bs_errs_add(c->e, file, line, "cannot read list file '%s': %s", t->v[k + 1].text,
				    path ? why : "out of memory");
			free(path);
			return;
		}
		const char *lfile = bs_ruleset_intern_file(c->p->rs, path);
		free(path);
		uint32_t before = l->n;
		if (lfile)
			bs_for_each_line(c, lfile, buf, len, list_file_line, l);
		free(buf);
		if (lfile && l->n == before)
			bs_errs_add(c->e, file, line, "list file '%s' has no entries", t->v[k + 1].text);
		return;
	}
	for (; k < t->n; k++) {
		if (t->v[k].kind != BS_TOK_STRING || t->v[k].flags[0]) {
			bs_errs_add(c->e, file, line, "list entries must be \"quoted\" (got '%s')", t->v[k].text);
			return;
		}
		if (list_add(c, l, t->v[k].text, t->v[k].len, file, line) < 0)
			return;
	}
}

void bs_lists_free(struct parse_ctx *c)
{
	for (uint32_t i = 0; i < c->n_lists; i++) {
		for (uint32_t j = 0; j < c->lists[i].n; j++)
			free(c->lists[i].items[j]);
		free(c->lists[i].items);
		free(c->lists[i].files);
		free(c->lists[i].lines);
	}
	free(c->lists);
	c->lists = NULL;
	c->n_lists = c->cap_lists = 0;
}
