/* Private to the rules library: the parser's output before compilation,
 * shared by the parser (rules_parse/list/file.c), rules_compile.c,
 * rules_bundle.c and rules.c. */
#ifndef BS_RULES_INTERNAL_H
#define BS_RULES_INTERNAL_H
#include <stdarg.h>
#include "rules.h"

/* Bounds that keep memory finite whatever the input. */
#define BS_RULES_FILE_MAX     (16u << 20)  /* bytes per rule or list file */
#define BS_RULES_LINE_MAX     65536u       /* bytes per line */
#define BS_RULES_MAX_RULES    100000u
#define BS_RULES_MAX_EXPRS    1000000u     /* Hyperscan expressions (list entries included) */
#define BS_RULES_MAX_INCLUDE  16u          /* include nesting */
#define BS_RULES_MAX_FILES    256u         /* distinct files read */
#define BS_RULES_MAX_FIELDS   256u         /* distinct header fields named by rules */
#define BS_RULES_MAX_ERRORS   50u          /* reported per check; parsing stops after */

/* One Hyperscan expression: a rule's regex, its escaped literal, or one
 * entry of the list it references. */
struct bs_rexpr {
	uint32_t rule_idx;        /* Hyperscan id */
	char *pattern;            /* NUL-terminated, Hyperscan syntax */
	unsigned hs_flags;
	const char *file;         /* where it came from (list file for list entries) */
	int line;
};

/* Error collector: messages "FILE:LINE: what", newline-separated, in the
 * caller's buffer; the count tells whether anything went wrong. */
struct bs_errs {
	char *buf;
	size_t len, cap;
	unsigned n;
};
void bs_errs_add(struct bs_errs *e, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct bs_parsed {
	struct bs_ruleset *rs;    /* rules[], fields[] (no databases yet), files_ */
	struct bs_rexpr *exprs;
	uint32_t n_exprs, cap_exprs;
};

/* Parse PATH and its includes into *p (rs allocated). Returns the number of
 * errors (0: success). */
unsigned bs_rules_parse(const char *path, struct bs_parsed *p, struct bs_errs *e);
void bs_parsed_free_exprs(struct bs_parsed *p);

/* Compile the parsed expressions into rs->db[] and rs->fields[].db.
 * Returns the number of errors. */
unsigned bs_rules_compile(struct bs_parsed *p, bool native_cpu, struct bs_errs *e);

/* rs allocation helpers shared by parser and bundle loader */
struct bs_ruleset *bs_ruleset_new(void);
const char *bs_ruleset_intern_file(struct bs_ruleset *rs, const char *path);
void bs_ruleset_fill_sizes(struct bs_ruleset *rs);   /* also indexes the header fields */
void bs_ruleset_index_fields(struct bs_ruleset *rs);

#endif
