/* Offline scan of stored messages with a rule set (see rules_scan.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rules_scan.h"
#include "rules_mime.h"

struct scan;
struct scope_cb {
	struct scan *s;
	enum bs_scope scope;
};

struct scan {
	const struct bs_ruleset *rs;
	hs_scratch_t *scratch;
	hs_stream_t *st[BS_SCOPE_MAX];
	struct scope_cb cb[BS_SCOPE_MAX];
	bs_rules_match_fn fn;
	void *ctx;
	bs_rules_part_fn part_fn;   /* split only: hand the pieces over, scan nothing */
	int failed;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		    void *arg)
{
	const struct scope_cb *cb = arg;
	const struct bs_ruleset *rs = cb->s->rs;
	if (id < rs->n_rules)
		cb->s->fn(cb->s->ctx, &rs->rules[id], cb->scope, to);
	return 0;
}

int bs_rules_scan_block(const struct bs_ruleset *rs, const hs_database_t *db, enum bs_scope scope,
			hs_scratch_t *scratch, const uint8_t *p, size_t n, bs_rules_match_fn fn, void *ctx)
{
	if (!db || n == 0)
		return 0;
	struct scan s = { .rs = rs, .fn = fn, .ctx = ctx };
	struct scope_cb cb = { &s, scope };
	if (n > UINT32_MAX)
		n = UINT32_MAX;
	return hs_scan(db, (const char *)p, (unsigned)n, 0, scratch, on_match, &cb) == HS_SUCCESS ? 0 : -1;
}

static void stream_write(struct scan *s, enum bs_scope scope, const uint8_t *p, size_t n)
{
	const hs_database_t *db = s->rs->db[scope];
	if (!db || n == 0 || s->failed)
		return;
	if (s->part_fn) {
		s->part_fn(s->ctx, scope, db, p, n);
		return;
	}
	if (!s->st[scope]) {
		s->cb[scope] = (struct scope_cb){ s, scope };
		if (hs_open_stream(db, 0, &s->st[scope]) != HS_SUCCESS) {
			s->failed = 1;
			return;
		}
	}
	while (n) {
		unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
		if (hs_scan_stream(s->st[scope], (const char *)p, chunk, 0, s->scratch, on_match, &s->cb[scope]) !=
		    HS_SUCCESS) {
			s->failed = 1;
			return;
		}
		p += chunk;
		n -= chunk;
	}
}

/* The dataplane's message parser hands body, dsn and orig_headers over
 * with "\n" line ends (dataplane/detect/msgparse.h); do the same so `$`
 * and multi-line patterns behave alike offline and on the wire. */
static void text_write(struct scan *s, enum bs_scope scope, const uint8_t *p, size_t n)
{
	if (!s->rs->db[scope] || n == 0)
		return;
	uint8_t *lf = malloc(n);
	if (!lf) {
		s->failed = 1;
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		lf[k++] = p[i];
	}
	stream_write(s, scope, lf, k);
	if (scope == BS_SCOPE_BODY)
		stream_write(s, scope, (const uint8_t *)"\n", 1);   /* parts are separated by a newline */
	free(lf);
}

static void decoded_write(struct scan *s, enum bs_scope scope, const char *cte, const uint8_t *p, size_t n)
{
	struct bs_bytes d;
	if (bs_mime_decode(cte, p, n, &d) < 0) {
		s->failed = 1;
		return;
	}
	text_write(s, scope, d.p, d.n);
	free(d.p);
}

static void walk(struct scan *s, const uint8_t *hdr, size_t hn, const uint8_t *body, size_t bn, int depth);

static bool starts_with_delim(const uint8_t *p, size_t n, const char *b, size_t bl)
{
	return n >= bl + 2 && p[0] == '-' && p[1] == '-' && !memcmp(p + 2, b, bl);
}

/* Parts of a multipart body; false when no delimiter was found. */
static bool walk_multipart(struct scan *s, const char *b, const uint8_t *body, size_t bn, int depth)
{
	size_t bl = strlen(b);
	size_t part_start = (size_t)-1;
	bool found = false;
	for (size_t i = 0; i < bn;) {
		if ((i == 0 || body[i - 1] == '\n') && starts_with_delim(body + i, bn - i, b, bl)) {
			if (!found && i > 0)
				text_write(s, BS_SCOPE_BODY, body, i);   /* the preamble is text too */
			found = true;
			if (part_start != (size_t)-1) {
				size_t end = i >= 2 ? i - 2 : i;   /* the CRLF belongs to the delimiter */
				if (end > part_start) {
					size_t pb;
					size_t ph = bs_mime_header_end(body + part_start, end - part_start, &pb);
					walk(s, body + part_start, ph, body + part_start + pb, end - part_start - pb,
					     depth + 1);
				}
			}
			bool closing = i + bl + 4 <= bn && body[i + bl + 2] == '-' && body[i + bl + 3] == '-';
			const uint8_t *eol = memchr(body + i, '\n', bn - i);
			if (closing || !eol)
				return true;
			part_start = (size_t)(eol - body) + 1;
			i = part_start;
			continue;
		}
		const uint8_t *eol = memchr(body + i, '\n', bn - i);
		if (!eol)
			break;
		i = (size_t)(eol - body) + 1;
	}
	if (part_start != (size_t)-1 && part_start < bn) {   /* unterminated last part */
		size_t pb;
		size_t ph = bs_mime_header_end(body + part_start, bn - part_start, &pb);
		walk(s, body + part_start, ph, body + part_start + pb, bn - part_start - pb, depth + 1);
	}
	return found;
}

static void walk(struct scan *s, const uint8_t *hdr, size_t hn, const uint8_t *body, size_t bn, int depth)
{
	char type[96] = "", cte[48] = "", boundary[200] = "";
	struct bs_bytes v;
	if (bs_mime_find_field(hdr, hn, "content-type", &v)) {
		bs_mime_content_type(v.p, v.n, type, sizeof(type));
		bs_mime_param(v.p, v.n, "boundary", boundary, sizeof(boundary));
		free(v.p);
	}
	if (bs_mime_find_field(hdr, hn, "content-transfer-encoding", &v)) {
		bs_mime_content_type(v.p, v.n, cte, sizeof(cte));
		free(v.p);
	}
	if (depth >= BS_SCAN_MIME_DEPTH) {
		text_write(s, BS_SCOPE_BODY, body, bn);
		return;
	}
	if (!strncmp(type, "multipart/", 10)) {
		if (!boundary[0] || !walk_multipart(s, boundary, body, bn, depth))
			text_write(s, BS_SCOPE_BODY, body, bn);   /* broken MIME: text as it is */
		return;
	}
	if (!strcmp(type, "message/rfc822") || !strcmp(type, "message/global")) {
		struct bs_bytes d;
		if (bs_mime_decode(cte, body, bn, &d) < 0) {
			s->failed = 1;
			return;
		}
		size_t ib;
		size_t ih = bs_mime_header_end(d.p, d.n, &ib);
		text_write(s, BS_SCOPE_ORIG_HEADERS, d.p, ih);
		walk(s, d.p, ih, d.p + ib, d.n - ib, depth + 1);
		free(d.p);
		return;
	}
	if (!strcmp(type, "text/rfc822-headers") || !strcmp(type, "message/rfc822-headers") ||
	    !strcmp(type, "message/global-headers")) {
		decoded_write(s, BS_SCOPE_ORIG_HEADERS, cte, body, bn);
		return;
	}
	if (!strcmp(type, "message/delivery-status") || !strcmp(type, "message/global-delivery-status")) {
		decoded_write(s, BS_SCOPE_DSN, cte, body, bn);
		return;
	}
	if (!type[0] || !strncmp(type, "text/", 5))
		decoded_write(s, BS_SCOPE_BODY, cte, body, bn);
	/* other types (images, applications) carry no bounce wording */
}

static void scan_fields(struct scan *s, const uint8_t *hdr, size_t hn)
{
	struct bs_hdr_iter it = { hdr, hn, 0 };
	const uint8_t *fn, *fv;
	size_t fnl, fvl;
	while (bs_mime_next_field(&it, &fn, &fnl, &fv, &fvl)) {
		const hs_database_t *db = bs_rules_field_db(s->rs, (const char *)fn, fnl, NULL);
		if (!db)
			continue;
		struct bs_bytes v;
		if (bs_mime_field_value(fv, fvl, &v) < 0) {
			s->failed = 1;
			return;
		}
		if (s->part_fn)
			s->part_fn(s->ctx, BS_SCOPE_HEADER_FIELD, db, v.p, v.n);
		else if (bs_rules_scan_block(s->rs, db, BS_SCOPE_HEADER_FIELD, s->scratch, v.p, v.n, s->fn, s->ctx) < 0)
			s->failed = 1;
		free(v.p);
	}
}

static int scan_or_split(const struct bs_ruleset *rs, hs_scratch_t *scratch, const uint8_t *msg, size_t len,
			 bs_rules_match_fn fn, bs_rules_part_fn part_fn, void *ctx, char *err, size_t errlen)
{
	struct bs_bytes m;
	if (bs_mime_crlf(msg, len, &m) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t start = 0;
	if (m.n >= 5 && !memcmp(m.p, "From ", 5)) {      /* mbox separator line */
		const uint8_t *eol = memchr(m.p, '\n', m.n);
		start = eol ? (size_t)(eol - m.p) + 1 : m.n;
	}
	struct scan s = { .rs = rs, .scratch = scratch, .fn = fn, .ctx = ctx, .part_fn = part_fn };
	const uint8_t *p = m.p + start;
	size_t n = m.n - start, body;
	size_t hn = bs_mime_header_end(p, n, &body);
	stream_write(&s, BS_SCOPE_HEADERS, p, hn);
	scan_fields(&s, p, hn);
	walk(&s, p, hn, p + body, n - body, 0);
	for (int sc = 0; sc < BS_SCOPE_MAX; sc++) {
		/* closing with the scratch reports end-anchored matches */
		if (s.st[sc] && hs_close_stream(s.st[sc], scratch, on_match, &s.cb[sc]) != HS_SUCCESS)
			s.failed = 1;
	}
	free(m.p);
	if (s.failed) {
		snprintf(err, errlen, "hyperscan scan failed");
		return -1;
	}
	return 0;
}

int bs_rules_scan_message(const struct bs_ruleset *rs, hs_scratch_t *scratch, const uint8_t *msg,
			  size_t len, bs_rules_match_fn fn, void *ctx, char *err, size_t errlen)
{
	return scan_or_split(rs, scratch, msg, len, fn, NULL, ctx, err, errlen);
}

int bs_rules_split_message(const struct bs_ruleset *rs, const uint8_t *msg, size_t len, bs_rules_part_fn fn,
			   void *ctx, char *err, size_t errlen)
{
	return scan_or_split(rs, NULL, msg, len, NULL, fn, ctx, err, errlen);
}
