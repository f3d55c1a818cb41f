/* Backstop rules: the operator's rule language (docs/rules.md), its parser,
 * the Hyperscan compiler and versioned bundles.
 *
 * A rule set compiles into one Hyperscan database per scope (and one per
 * named header field), so each byte is only scanned against the patterns
 * that can apply to it. The id given to Hyperscan for every expression is
 * the index of its rule in rules[]: a match callback maps
 *     id -> &rs->rules[id]
 * directly. A list rule (@NAME) compiles into one expression per list entry,
 * all with the same id; every expression carries HS_FLAG_SINGLEMATCH, so a
 * rule reports at most once per stream (or per block scan).
 *
 * Modes: HEADERS, BODY, ORIG_HEADERS and DSN are HS_MODE_STREAM databases
 * (scanned as the bytes arrive, one stream per part per transaction);
 * HELO, MAIL_FROM, RCPT_TO and every header-field database are HS_MODE_BLOCK
 * (short, complete values).
 *
 * Errors are returned, never printed: functions taking (err, errlen) write
 * "FILE:LINE: message" (or "FILE: message" when no line applies) there.
 *
 * Thread safety: a loaded ruleset is immutable and may be shared by all
 * workers; each worker needs its own scratch (bs_rules_alloc_scratch). */
#ifndef BS_RULES_H
#define BS_RULES_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <hs/hs.h>
#include "rule_scope.h"

#define BS_RULE_NAME_MAX  96   /* rule name incl. NUL */
#define BS_RULE_FIELD_MAX 64   /* header field name incl. NUL */

/* bs_rule.flags: the pattern flags as written, for dump/diagnostics */
#define BS_RULE_F_CASELESS  0x01u  /* i */
#define BS_RULE_F_MULTILINE 0x02u  /* m */
#define BS_RULE_F_DOTALL    0x04u  /* s */
#define BS_RULE_F_LITERAL   0x08u  /* "..." pattern (escaped for Hyperscan) */
#define BS_RULE_F_LIST      0x10u  /* @NAME pattern: one literal per entry */
#define BS_RULE_F_REGEX     0x20u  /* /.../ pattern */

struct bs_rule {
	uint32_t id;                       /* operator's id, unique in the set */
	char name[BS_RULE_NAME_MAX];       /* shown in verdict reasons */
	uint8_t scope;                     /* enum bs_scope */
	uint8_t signal;                    /* enum bs_signal */
	int16_t weight;                    /* evidence strength, -1000..1000 */
	uint32_t flags;                    /* BS_RULE_F_* */
	char field[BS_RULE_FIELD_MAX];     /* BS_SCOPE_HEADER_FIELD: lower-case field name, else "" */
	int16_t field_idx;                 /* BS_SCOPE_HEADER_FIELD: index into ruleset fields[], else -1 */
	uint32_t depth;                    /* 0, or only match ending within the first N bytes of the scope */
	const char *file;                  /* source file (owned by the ruleset) */
	int line;                          /* source line */
};

/* One block-mode database per header field named by at least one rule. */
struct bs_field_db {
	char name[BS_RULE_FIELD_MAX];      /* lower-case field name, e.g. "subject" */
	hs_database_t *db;
	size_t db_size;
	uint32_t n_rules;
};

struct bs_ruleset {
	struct bs_rule *rules;
	uint32_t n_rules;
	/* NULL when a scope has no rules. db[BS_SCOPE_HEADER_FIELD] is always
	 * NULL: header-field rules live in fields[] (bs_rules_field_db). */
	hs_database_t *db[BS_SCOPE_MAX];
	size_t db_size[BS_SCOPE_MAX];           /* hs_database_size */
	size_t stream_state_size[BS_SCOPE_MAX]; /* hs_stream_size; 0 for block scopes */
	uint32_t n_rules_scope[BS_SCOPE_MAX];
	uint32_t n_expressions;                 /* Hyperscan expressions (list entries count one each) */
	struct bs_field_db *fields;
	uint32_t n_fields;
	bool native;                            /* compiled for the local CPU (else generic x86-64) */
	double compile_seconds;                 /* wall time of parse + compile (0 when loaded from a bundle) */
	char source[256];                       /* file the set was loaded from */
	/* private: string storage for rule file names; header field index
	 * (open addressing over a caseless hash of the name: index + 1) */
	char **files_;
	uint32_t n_files_;
	uint16_t *field_slots_;
	uint32_t field_mask_;
};

/* Parse and compile a rule file (with its includes). native: tune for this
 * CPU (hs_populate_platform); else generic x86-64 (tune 0, no features).
 * Returns 0, or -1 with "FILE:LINE: message" in err. */
int bs_rules_load_file(const char *path, bool native_cpu, struct bs_ruleset **out,
		       char *err, size_t errlen);

/* Parse a rule file without compiling (rules check needs both; this is for
 * tools that only want metadata). Same error contract. */
int bs_rules_parse_only(const char *path, struct bs_ruleset **out, char *err, size_t errlen);

/* Rule file or compiled bundle, told apart by the bundle magic. A rule file
 * is compiled for the local CPU (it never leaves this process); a bundle is
 * used as built (generic unless compiled with --native). */
int bs_rules_load(const char *path, struct bs_ruleset **out, char *err, size_t errlen);

/* Versioned bundle: magic, format version, rule metadata, serialized
 * databases (hs_serialize_database). */
int bs_rules_save_bundle(const struct bs_ruleset *rs, const char *path, char *err, size_t errlen);
int bs_rules_load_bundle(const char *path, struct bs_ruleset **out, char *err, size_t errlen);
bool bs_rules_is_bundle(const char *path);

void bs_rules_free(struct bs_ruleset *rs);

/* The default rule set: $BACKSTOP_RULES if set, else the source tree's
 * rules/default.rules (compile-time path) if it exists, else the installed
 * <datadir>/backstop/rules/default.rules. */
const char *bs_rules_default_path(void);

/* The database for header field NAME (any case, len bytes, no colon), or
 * NULL when no rule names that field: the caller then need not unfold or
 * scan it at all. *field_idx (optional) receives the fields[] index. */
const hs_database_t *bs_rules_field_db(const struct bs_ruleset *rs, const char *name, size_t len,
				       int *field_idx);

/* Allocate (or grow) one scratch usable with every database of the set.
 * *scratch may be NULL or an existing scratch. Returns 0 or -1 with err. */
int bs_rules_alloc_scratch(const struct bs_ruleset *rs, hs_scratch_t **scratch,
			   char *err, size_t errlen);

/* Largest total stream state of one transaction: sum over stream scopes. */
size_t bs_rules_txn_stream_state(const struct bs_ruleset *rs);

/* Names, for parsing, dump and events. NULL/-1 when unknown. */
const char *bs_scope_name(enum bs_scope s);
const char *bs_signal_name(enum bs_signal s);
int bs_signal_from_name(const char *name);
bool bs_scope_is_stream(enum bs_scope s);

#endif
