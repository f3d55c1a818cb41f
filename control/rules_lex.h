/* Tokens of one rule-file line: bare words, "quoted strings" with escapes
 * and optional flag letters after the closing quote, /regexes/ with flag
 * letters. '#' outside a token starts a comment. */
#ifndef BS_RULES_LEX_H
#define BS_RULES_LEX_H
#include <stddef.h>

enum bs_tok_kind { BS_TOK_WORD, BS_TOK_STRING, BS_TOK_REGEX };

struct bs_tok {
	enum bs_tok_kind kind;
	char *text;       /* NUL-terminated; strings are unescaped (may hold \0: use len) */
	size_t len;
	char flags[8];    /* letters after the closing quote or slash */
};

struct bs_toks {
	struct bs_tok *v;
	size_t n, cap;
	char *buf;        /* token texts */
	size_t bufcap;
};

/* Splits line (len bytes, no newline) into toks (reusing its storage).
 * Returns 0, or -1 with a message (no FILE:LINE prefix) in err. */
int bs_lex_line(const char *line, size_t len, struct bs_toks *toks, char *err, size_t errlen);
void bs_toks_free(struct bs_toks *toks);

#endif
