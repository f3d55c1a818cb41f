/* Line splitting and header-field unfolding for the message parser. */
#include "hdrline.h"
#include <string.h>
#include "../textscan.h"

void bs_lines_init(struct bs_lines *l)
{
	l->pos = 0;
	l->len = 0;
	l->cr = false;
	l->cont = false;
	l->any_long = false;
}

static inline bool deliver(struct bs_lines *l, const uint8_t *p, size_t n, unsigned flags,
			   bs_line_fn fn, void *ctx)
{
	if (l->cont)
		flags |= BS_LINE_CONT;
	l->cont = !(flags & BS_LINE_END);
	return fn(ctx, p, n, flags);
}

size_t bs_lines_feed(struct bs_lines *l, const uint8_t *p, size_t n, bs_line_fn fn, void *ctx)
{
	const uint64_t base = l->pos;
	size_t i = 0;
	if (n && l->cr) {
		l->cr = false;
		if (p[0] == '\n')
			i = 1;              /* second half of a CRLF split between calls */
	}
	while (i < n) {
		/* find the next terminator */
		const uint8_t *s = p + i;
		size_t rest = n - i;
		/* first CR or LF (CRLF, LF and old-Mac CR-only lines), one
		 * inline SIMD pass rather than a memchr call per terminator */
		size_t k = bs_find_eol(s, rest);
		bool term = k < rest;
		size_t take = k;
		/* a piece of a line that does not fit goes out in BS_LINE_MAX pieces */
		while (l->len + take > BS_LINE_MAX) {
			size_t room = BS_LINE_MAX - l->len;
			memcpy(l->buf + l->len, s, room);
			s += room;
			take -= room;
			i += room;
			l->len = 0;
			l->any_long = true;
			l->pos = base + i;
			if (deliver(l, l->buf, BS_LINE_MAX, 0, fn, ctx))
				return i;
		}
		if (!term) {
			memcpy(l->buf + l->len, s, take);
			l->len = (uint16_t)(l->len + take);
			l->pos = base + n;
			return n;
		}
		i += take + 1;
		/* a line's position is just past its first terminator byte, so
		 * that a CRLF split between calls gives the same positions */
		const uint64_t line_pos = base + i;
		if (s[take] == '\r') {
			if (i < n) {
				if (p[i] == '\n')
					i++;
			} else {
				l->cr = true;
			}
		}
		bool stop;
		l->pos = line_pos;
		if (l->len) {
			memcpy(l->buf + l->len, s, take);
			size_t len = l->len + take;
			l->len = 0;
			stop = deliver(l, l->buf, len, BS_LINE_END, fn, ctx);
		} else {
			stop = deliver(l, s, take, BS_LINE_END, fn, ctx);   /* whole line in the input: no copy */
		}
		if (stop) {
			l->pos = base + i;
			return i;
		}
	}
	l->pos = base + n;
	return n;
}

void bs_lines_flush(struct bs_lines *l, bs_line_fn fn, void *ctx)
{
	if (l->len || l->cont) {
		size_t len = l->len;
		l->len = 0;
		deliver(l, l->buf, len, BS_LINE_END, fn, ctx);
	}
	l->cr = false;
}

void bs_lines_abandon(struct bs_lines *l)
{
	l->len = 0;
	l->cr = false;
	l->cont = true;
}

void bs_hdracc_init(struct bs_hdracc *a)
{
	a->len = 0;
	a->colon = 0;
	a->active = false;
	a->truncated = false;
	a->in_piece_field = false;
	a->lenient = false;
}

bool bs_hdr_is_field(const uint8_t *line, size_t n, size_t *nlen)
{
	size_t i = 0;
	/* RFC 5322 ftext: printable ASCII except ':'; real names start with a letter */
	if (n == 0 || !((line[0] | 0x20) >= 'a' && (line[0] | 0x20) <= 'z'))
		return false;
	i = bs_ftext_span(line, n < 80 ? n : 80);
	size_t name = i;
	while (i < n && i < 84 && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= n || line[i] != ':')
		return false;
	if (nlen)
		*nlen = name;
	return true;
}

static void append(struct bs_hdracc *a, const uint8_t *p, size_t n)
{
	size_t room = sizeof(a->buf) - a->len;
	if (n > room) {
		n = room;
		a->truncated = true;
	}
	memcpy(a->buf + a->len, p, n);
	a->len = (uint16_t)(a->len + n);
}

void bs_hdracc_flush(struct bs_hdracc *a, bs_field_fn fn, void *ctx)
{
	if (!a->active)
		return;
	a->active = false;
	size_t nl = a->colon;
	while (nl && (a->buf[nl - 1] == ' ' || a->buf[nl - 1] == '\t'))
		nl--;
	size_t v = a->colon + 1, e = a->len;
	while (v < e && (a->buf[v] == ' ' || a->buf[v] == '\t'))
		v++;
	while (e > v && (a->buf[e - 1] == ' ' || a->buf[e - 1] == '\t'))
		e--;
	if (fn)
		fn(ctx, a->buf, nl, a->buf + v, e - v);
	a->len = 0;
}

static bool value_empty(const struct bs_hdracc *a)
{
	for (size_t i = a->colon + 1u; i < a->len; i++)
		if (a->buf[i] != ' ' && a->buf[i] != '\t')
			return false;
	return true;
}

enum bs_hdr_line bs_hdracc_line(struct bs_hdracc *a, const uint8_t *line, size_t n, unsigned flags,
				bs_field_fn fn, void *ctx)
{
	if (flags & BS_LINE_CONT) {
		/* rest of an over-long line: belongs to whatever its start was */
		if (a->in_piece_field && a->active) {
			append(a, line, n);
			return BS_HDR_CONTINUATION;
		}
		return BS_HDR_NOT_FIELD;
	}
	bool more = !(flags & BS_LINE_END);
	if (n && (line[0] == ' ' || line[0] == '\t')) {
		if (a->active) {
			append(a, line, n);   /* unfolding: the line break goes, the whitespace stays */
			a->in_piece_field = more;
			return BS_HDR_CONTINUATION;
		}
		/* continuation with nothing to continue: tolerated, ignored */
		a->in_piece_field = false;
		return BS_HDR_CONTINUATION;
	}
	size_t nl;
	bool is_field = n && bs_hdr_is_field(line, n, &nl);
	if (n && !is_field && a->active && (a->lenient || value_empty(a))) {
		/* "Name:" then its value on an unindented line (Exchange does
		 * this): fold it in rather than end the header */
		append(a, (const uint8_t *)" ", 1);
		append(a, line, n);
		a->in_piece_field = more;
		return BS_HDR_CONTINUATION;
	}
	bs_hdracc_flush(a, fn, ctx);
	if (n == 0) {
		a->in_piece_field = false;
		return BS_HDR_END;
	}
	if (!is_field) {
		a->in_piece_field = false;
		return BS_HDR_NOT_FIELD;
	}
	a->len = 0;
	a->active = true;
	append(a, line, n);
	a->colon = (uint16_t)(memchr(a->buf, ':', a->len) ? (char *)memchr(a->buf, ':', a->len) - a->buf : 0);
	a->in_piece_field = more;
	return BS_HDR_FIELD;
}
