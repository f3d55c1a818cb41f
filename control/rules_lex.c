/* Line tokenizer of the rule language (see rules_lex.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "rules_lex.h"

static int tok_push(struct bs_toks *t, enum bs_tok_kind kind, char *text, size_t len)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct bs_tok *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	struct bs_tok *k = &t->v[t->n++];
	k->kind = kind;
	k->text = text;
	k->len = len;
	k->flags[0] = 0;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Flag letters directly after a closing delimiter; they must end the token. */
static int read_flags(const char *s, size_t len, size_t *i, struct bs_tok *k, char *err, size_t errlen)
{
	size_t n = 0;
	while (*i < len && !isspace((unsigned char)s[*i]) && s[*i] != '#') {
		if (s[*i] == '"') {
			snprintf(err, errlen, "unexpected quote after a closing delimiter (write \\\" for a quote inside a string)");
			return -1;
		}
		if (!isalpha((unsigned char)s[*i])) {
			snprintf(err, errlen, "unexpected '%c' after closing delimiter", s[*i]);
			return -1;
		}
		if (n + 1 >= sizeof(k->flags)) {
			snprintf(err, errlen, "too many flag letters");
			return -1;
		}
		k->flags[n++] = s[(*i)++];
	}
	k->flags[n] = 0;
	return 0;
}

int bs_lex_line(const char *s, size_t len, struct bs_toks *toks, char *err, size_t errlen)
{
	toks->n = 0;
	/* Token texts live in one buffer owned by toks: an unescaped token is
	 * never longer than its source, and each ends with a NUL, so len + 1
	 * per token bounds it by 2 * len + 1. */
	if (2 * len + 1 > toks->bufcap) {
		char *nb = realloc(toks->buf, 2 * len + 1);
		if (!nb) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		toks->buf = nb;
		toks->bufcap = 2 * len + 1;
	}
	char *out = toks->buf;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c)) {
			i++;
			continue;
		}
		if (c == '#')
			break;
		if (c == '"') {
			char *start = out;
			i++;
			for (;;) {
				if (i >= len) {
					snprintf(err, errlen, "unterminated quoted string");
					return -1;
				}
				char ch = s[i++];
				if (ch == '"')
					break;
				if (ch != '\\') {
					*out++ = ch;
					continue;
				}
				if (i >= len) {
					snprintf(err, errlen, "unterminated quoted string");
					return -1;
				}
				char e = s[i++];
				switch (e) {
				case '\\': *out++ = '\\'; break;
				case '"': *out++ = '"'; break;
				case 'n': *out++ = '\n'; break;
				case 'r': *out++ = '\r'; break;
				case 't': *out++ = '\t'; break;
				case 'x': {
					int h = i < len ? hexval(s[i]) : -1;
					int l = i + 1 < len ? hexval(s[i + 1]) : -1;
					if (h < 0 || l < 0) {
						snprintf(err, errlen, "bad escape \\x: two hex digits expected");
						return -1;
					}
					*out++ = (char)(h * 16 + l);
					i += 2;
					break;
				}
				default:
					snprintf(err, errlen, "unknown escape \\%c in quoted string", e);
					return -1;
				}
			}
			size_t n = (size_t)(out - start);
			*out++ = 0;
			if (tok_push(toks, BS_TOK_STRING, start, n) < 0)
				goto oom;
			if (read_flags(s, len, &i, &toks->v[toks->n - 1], err, errlen) < 0)
				return -1;
			continue;
		}
		if (c == '/') {
			/* The regex is kept as written (escapes included) for
			 * Hyperscan; only the closing slash is found here. */
			char *start = out;
			i++;
			for (;;) {
				if (i >= len) {
					snprintf(err, errlen, "unterminated regex (no closing /)");
					return -1;
				}
				char ch = s[i++];
				if (ch == '/')
					break;
				*out++ = ch;
				if (ch == '\\') {
					if (i >= len) {
						snprintf(err, errlen, "unterminated regex (no closing /)");
						return -1;
					}
					*out++ = s[i++];
				}
			}
			size_t n = (size_t)(out - start);
			*out++ = 0;
			if (tok_push(toks, BS_TOK_REGEX, start, n) < 0)
				goto oom;
			if (read_flags(s, len, &i, &toks->v[toks->n - 1], err, errlen) < 0)
				return -1;
			continue;
		}
		char *start = out;
		while (i < len && !isspace((unsigned char)s[i])) {
			if (s[i] == '"') {
				snprintf(err, errlen, "unexpected quote inside a word");
				return -1;
			}
			*out++ = s[i++];
		}
		size_t n = (size_t)(out - start);
		*out++ = 0;
		if (tok_push(toks, BS_TOK_WORD, start, n) < 0)
			goto oom;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

void bs_toks_free(struct bs_toks *toks)
{
	free(toks->v);
	free(toks->buf);
	toks->v = NULL;
	toks->buf = NULL;
	toks->n = toks->cap = toks->bufcap = 0;
}
