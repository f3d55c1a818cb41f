/* File helpers of the rule parser: bounded whole-file reads, line
 * iteration (LF or CRLF, NUL and overlong lines refused), include-relative
 * paths, and literal escaping for Hyperscan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>
#include "rules_parse.h"

char *bs_escape_literal(const char *s, size_t n)
{
	/* Every byte that is not alphanumeric becomes \xHH, so no literal can
	 * be misread as regex syntax. */
	char *out = malloc(n * 4 + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (isalnum(ch))
			*o++ = (char)ch;
		else
			o += sprintf(o, "\\x%02x", ch);
	}
	*o = 0;
	return out;
}

/* Whole file into memory, bounded. NULL with errno-ish message in why. */
char *bs_slurp(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		snprintf(why, whylen, "is a directory");
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			if (cap >= BS_RULES_FILE_MAX) {
				free(buf);
				fclose(f);
				snprintf(why, whylen, "file larger than %u bytes", BS_RULES_FILE_MAX);
				return NULL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	bool failed = !buf || ferror(f);
	fclose(f);
	if (failed) {
		free(buf);
		snprintf(why, whylen, "read error");
		return NULL;
	}
	*len = n;
	return buf;
}

/* Calls fn for each line (without its CR/LF); stops early when fn < 0. */
void bs_for_each_line(struct parse_ctx *c, const char *file, const char *buf, size_t len, bs_line_fn fn, void *arg)
{
	size_t i = 0;
	int line = 0;
	while (i < len && !bs_parse_too_many_errors(c)) {
		size_t j = i;
		while (j < len && buf[j] != '\n')
			j++;
		line++;
		size_t n = j - i;
		if (n && buf[i + n - 1] == '\r')
			n--;
		if (line == 1 && n >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
			i += 3;         /* a UTF-8 byte order mark from a Windows editor */
			n -= 3;
		}
		if (memchr(buf + i, 0, n))
			bs_errs_add(c->e, file, line, "NUL byte in line");
		else if (n > BS_RULES_LINE_MAX)
			bs_errs_add(c->e, file, line, "line longer than %u bytes", BS_RULES_LINE_MAX);
		else
			fn(c, file, line, buf + i, n, arg);
		i = j + 1;
	}
}

char *bs_resolve_path(const char *base_file, const char *rel)
{
	if (rel[0] == '/')
		return strdup(rel);
	char *tmp = strdup(base_file);
	if (!tmp)
		return NULL;
	const char *dir = dirname(tmp);
	char *out = NULL;
	if (!strcmp(dir, "."))          /* keep "x.rules" rather than "./x.rules" in messages */
		out = strdup(rel);
	else if (asprintf(&out, "%s/%s", dir, rel) < 0)
		out = NULL;
	free(tmp);
	return out;
}
