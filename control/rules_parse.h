/* Private to the rule parser (rules_parse.c, rules_list.c, rules_file.c):
 * the parse state shared by directives, and the helpers each file offers. */
#ifndef BS_RULES_PARSE_H
#define BS_RULES_PARSE_H
#include "rules_internal.h"
#include "rules_lex.h"

struct bs_list {
	char name[64];
	bool nocase;
	char **items;      /* escaped for Hyperscan */
	const char **files;
	int *lines;
	uint32_t n, cap;
};

struct parse_ctx {
	struct bs_parsed *p;
	struct bs_errs *e;
	char *stack[BS_RULES_MAX_INCLUDE + 1];   /* real paths of the files being read */
	unsigned depth;
	char **done;                             /* real paths of the files read completely */
	uint32_t n_done;
	struct bs_list *lists;
	uint32_t n_lists, cap_lists;
	uint32_t *id_slots;                      /* open addressing: rule index + 1 */
	uint32_t id_cap;
	uint32_t cap_rules;
	struct bs_toks toks;
};

static inline bool bs_parse_too_many_errors(const struct parse_ctx *c)
{
	return c->e->n >= BS_RULES_MAX_ERRORS;
}

/* rules_file.c: reading files and lines, paths, literal escaping */
char *bs_slurp(const char *path, size_t *len, char *why, size_t whylen);
typedef void (*bs_line_fn)(struct parse_ctx *c, const char *file, int line, const char *s, size_t n, void *arg);
void bs_for_each_line(struct parse_ctx *c, const char *file, const char *buf, size_t len, bs_line_fn fn, void *arg);
char *bs_resolve_path(const char *base_file, const char *rel);
char *bs_escape_literal(const char *s, size_t n);

/* rules_list.c: named lists */
struct bs_list *bs_find_list(struct parse_ctx *c, const char *name);
void bs_do_list(struct parse_ctx *c, const char *file, int line, struct bs_toks *t);
void bs_lists_free(struct parse_ctx *c);

#endif
