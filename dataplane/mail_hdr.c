/* Streaming header-block parser; see mail_hdr.h. */
#include <string.h>
#include <strings.h>
#include "mail_hdr.h"
#include "rfc2047.h"
#include "textscan.h"

enum {
	S_LINE_START = 0, /* at the first byte of a physical line */
	S_NAME,           /* reading a field name, up to ':' */
	S_VALUE,          /* in a field value (or its continuation) */
	S_SKIP,           /* skipping to the end of the line */
	S_BLANK_CR,       /* blank line ended by CR: an LF may follow */
	S_DONE,
};

void bs_mail_hdr_init(struct bs_mail_hdr *h)
{
	h->state = S_LINE_START;
	h->cr = 0;
	h->first_line = 1;
	h->field_open = 0;
	h->field_cut = 0;
	h->done = 0;
	h->len = 0;
	h->name_len = 0;
	h->n_fields = 0;
	h->n_truncated = 0;
	h->n_skipped = 0;
	h->size = 0;
}

static inline void field_append(struct bs_mail_hdr *h, const uint8_t *p, size_t n)
{
	size_t room = BS_MAIL_FIELD_MAX - h->len;
	if (n > room) {
		n = room;
		h->field_cut = 1;
	}
	memcpy(h->field + h->len, p, n);
	h->len += (uint32_t)n;
}

/* End of the physical line that starts at p: the first CR or LF before
 * end, or end (one inline SIMD pass: see textscan.h). */
static inline size_t line_end(const uint8_t *p, size_t n)
{
	return bs_find_eol(p, n);
}

static inline bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void flush_field(struct bs_mail_hdr *h, bs_mail_field_fn fn, void *ctx)
{
	if (!h->field_open)
		return;
	h->field_open = 0;
	const char *v = h->field + h->name_len + 1;
	size_t vn = h->len - h->name_len - 1;
	while (vn > 0 && is_wsp(*v)) {
		v++;
		vn--;
	}
	while (vn > 0 && is_wsp(v[vn - 1]))
		vn--;
	h->n_fields++;
	if (h->field_cut)
		h->n_truncated++;
	if (fn)
		fn(ctx, h->field, h->name_len, v, vn, h->field_cut);
	h->len = 0;
	h->field_cut = 0;
}

/* printable ASCII except ':' (RFC 5322 ftext) */
static inline bool is_ftext(uint8_t c)
{
	return c >= 33 && c <= 126 && c != ':';
}

/* A complete non-blank physical line l[0..n) (its line end not included),
 * given at a line start: a continuation, a new field, the mbox line, or
 * (returns -1) the first line of the body. Same outcome as the byte states
 * in bs_mail_hdr_feed. */
static int whole_line(struct bs_mail_hdr *h, const uint8_t *l, size_t n, bs_mail_field_fn fn, void *ctx)
{
	if (l[0] == ' ' || l[0] == '\t') {
		if (h->field_open)
			field_append(h, l, n); /* unfolding: keep the white space */
		else
			h->n_skipped++;        /* continuation of nothing */
		return 0;
	}
	flush_field(h, fn, ctx);
	size_t k = bs_ftext_span(l, n);
	if (k < n && l[k] == ':' && k > 0 && k < BS_MAIL_FIELD_MAX) {
		h->len = 0;
		h->field_cut = 0;
		field_append(h, l, n);
		h->name_len = (uint32_t)k;
		h->field_open = 1;
		return 0;
	}
	if (h->first_line && k == 4 && k < n && l[k] == ' ' && memcmp(l, "From", 4) == 0) {
		h->n_skipped++; /* mbox separator line "From sender date" */
		return 0;
	}
	return -1;
}

size_t bs_mail_hdr_feed(struct bs_mail_hdr *h, const uint8_t *p, size_t n,
			bs_mail_field_fn fn, void *ctx)
{
	size_t i = 0;
	size_t line0 = 0;   /* start of the current line in p (0 if it began earlier) */
	if (h->done)
		return 0;
	while (i < n) {
		uint8_t c = p[i];
		switch (h->state) {
		case S_LINE_START:
			if (h->cr) {
				h->cr = 0;
				if (c == '\n') { /* second half of CRLF */
					i++;
					continue;
				}
			}
			line0 = i;
			if (c == '\r' || c == '\n') {
				/* blank line: end of the header block */
				flush_field(h, fn, ctx);
				i++;
				if (c == '\r') {
					h->state = S_BLANK_CR;
					continue;
				}
				goto done;
			}
			{
				/* fast path: the whole line is in p, so it is taken in
				 * one step (the states below serve lines cut by the end
				 * of p) */
				size_t e = i + line_end(p + i, n - i);
				if (e < n) {
					int r = whole_line(h, p + i, e - i, fn, ctx);
					if (r < 0)
						goto body_starts;
					h->cr = p[e] == '\r';
					h->first_line = 0;
					i = e + 1;
					continue;
				}
			}
			if (c == ' ' || c == '\t') {
				if (h->field_open) {
					h->state = S_VALUE; /* unfolding: keep the white space */
				} else {
					h->n_skipped++; /* continuation of nothing */
					h->state = S_SKIP;
				}
				continue;
			}
			flush_field(h, fn, ctx);
			if (!is_ftext(c))
				goto body_starts;
			h->state = S_NAME;
			h->len = 0;
			h->field_cut = 0;
			continue;
		case S_NAME: {
			size_t j = i;
			while (j < n && is_ftext(p[j]))
				j++;
			field_append(h, p + i, j - i);
			i = j;
			if (i == n)
				break;
			if (p[i] == ':') {
				/* a name that does not fit, with its ':', is no name
				 * (as in whole_line: name shorter than the buffer) */
				if (h->field_cut || h->len >= BS_MAIL_FIELD_MAX)
					goto body_starts;
				h->name_len = h->len;
				field_append(h, p + i, 1);
				h->field_open = 1;
				h->state = S_VALUE;
				i++;
				continue;
			}
			if (h->first_line && p[i] == ' ' && h->len == 4 && memcmp(h->field, "From", 4) == 0) {
				/* mbox separator line "From sender date" */
				h->n_skipped++;
				h->len = 0;
				h->state = S_SKIP;
				continue;
			}
			goto body_starts;
		}
		case S_VALUE: {
			size_t j = i + line_end(p + i, n - i);
			field_append(h, p + i, j - i);
			i = j;
			if (i == n)
				break;
			h->cr = p[i] == '\r';
			h->first_line = 0;
			h->state = S_LINE_START;
			i++;
			continue;
		}
		case S_SKIP: {
			size_t j = i + line_end(p + i, n - i);
			i = j;
			if (i == n)
				break;
			h->cr = p[i] == '\r';
			h->first_line = 0;
			h->state = S_LINE_START;
			i++;
			continue;
		}
		case S_BLANK_CR:
			if (c == '\n')
				i++;
			goto done;
		default:
			return 0;
		}
	}
	h->size += i;
	return i;

body_starts:
	/* this line is not a header field: the body begins with it (from its
	 * first byte if that is in p, else from here) */
	i = line0;
	h->len = 0;
	h->field_open = 0;
done:
	h->state = S_DONE;
	h->done = 1;
	h->size += i;
	return i;
}

void bs_mail_hdr_end(struct bs_mail_hdr *h, bs_mail_field_fn fn, void *ctx)
{
	if (h->done)
		return;
	flush_field(h, fn, ctx);
	h->state = S_DONE;
	h->done = 1;
}

void bs_mail_hdr_gap(struct bs_mail_hdr *h)
{
	if (h->done)
		return;
	h->field_open = 0;
	h->len = 0;
	h->field_cut = 0;
	h->cr = 0;
	h->n_skipped++;
	h->state = S_SKIP;
}

/* ---- keeping the fields the event shows ---- */

/* a field name equals a literal (length known at compile time) */
#define name_eq(name, n, lit) ((n) == sizeof(lit) - 1 && bs_ascii_ieq((name), (lit), sizeof(lit) - 1))

/* Claim the first occurrence of a field; false for later ones. */
static bool first(struct bs_txn *t, uint16_t bit)
{
	if (t->hdr_seen & bit)
		return false;
	t->hdr_seen |= bit;
	return true;
}

static void keep_raw(struct bs_txn *t, char *dst, size_t cap, const char *v, size_t n, bool cut)
{
	bs_txn_set_str(t, dst, cap, v, n);
	if (cut)
		t->anomalies |= BS_ANOM_TRUNCATED;
}

static void keep_decoded(struct bs_txn *t, char *dst, size_t cap, const char *v, size_t n, bool cut)
{
	bool dcut = false;
	bs_rfc2047_decode(v, n, dst, cap, &dcut);
	if (cut || dcut)
		t->anomalies |= BS_ANOM_TRUNCATED;
}

size_t bs_mail_param(const char *v, size_t n, const char *param, char *out, size_t cap)
{
	size_t plen = strlen(param);
	size_t i = 0;
	if (cap == 0)
		return 0;
	out[0] = '\0';
	while (i < n) {
		/* find the next ';' outside quotes */
		bool q = false;
		while (i < n && (q || v[i] != ';')) {
			if (v[i] == '"')
				q = !q;
			else if (v[i] == '\\' && q && i + 1 < n)
				i++;
			i++;
		}
		if (i >= n)
			break;
		i++;
		while (i < n && is_wsp(v[i]))
			i++;
		if (n - i <= plen || strncasecmp(v + i, param, plen) != 0)
			continue;
		size_t j = i + plen;
		while (j < n && is_wsp(v[j]))
			j++;
		if (j >= n || v[j] != '=')
			continue;
		j++;
		while (j < n && is_wsp(v[j]))
			j++;
		size_t o = 0;
		if (j < n && v[j] == '"') {
			j++;
			while (j < n && v[j] != '"') {
				if (v[j] == '\\' && j + 1 < n)
					j++;
				if (o + 1 < cap)
					out[o++] = v[j];
				j++;
			}
		} else {
			while (j < n && v[j] != ';' && !is_wsp(v[j])) {
				if (o + 1 < cap)
					out[o++] = v[j];
				j++;
			}
		}
		out[o] = '\0';
		return o;
	}
	return 0;
}

void bs_mail_hdr_store_field(void *txn, const char *name, size_t nl, const char *v, size_t vn,
			     bool cut)
{
	struct bs_txn *t = txn;
	if (!t)
		return;
	switch (name[0] | 0x20) {
	case 'm':
		if (name_eq(name, nl, "message-id") && first(t, BS_HDR_SEEN_MSGID))
			keep_raw(t, t->message_id, sizeof t->message_id, v, vn, cut);
		break;
	case 'f':
		if (name_eq(name, nl, "from") && first(t, BS_HDR_SEEN_FROM))
			keep_decoded(t, t->from, sizeof t->from, v, vn, cut);
		break;
	case 't':
		if (name_eq(name, nl, "to") && first(t, BS_HDR_SEEN_TO))
			keep_decoded(t, t->to, sizeof t->to, v, vn, cut);
		break;
	case 's':
		if (name_eq(name, nl, "subject") && first(t, BS_HDR_SEEN_SUBJECT))
			keep_decoded(t, t->subject, sizeof t->subject, v, vn, cut);
		break;
	case 'd':
		if (name_eq(name, nl, "date") && first(t, BS_HDR_SEEN_DATE))
			keep_raw(t, t->date, sizeof t->date, v, vn, cut);
		break;
	case 'c':
		if (name_eq(name, nl, "content-type") && first(t, BS_HDR_SEEN_CTYPE)) {
			keep_raw(t, t->content_type, sizeof t->content_type, v, vn, cut);
			if (bs_mail_param(v, vn, "boundary", t->boundary, sizeof t->boundary) + 1 >=
			    sizeof t->boundary)
				t->anomalies |= BS_ANOM_TRUNCATED;
		}
		break;
	case 'r':
		if (name_eq(name, nl, "received")) {
			if (t->n_received == 0)
				keep_raw(t, t->received_first, sizeof t->received_first, v, vn, cut);
			if (t->n_received < UINT16_MAX)
				t->n_received++;
		} else if (name_eq(name, nl, "return-path") && first(t, BS_HDR_SEEN_RPATH)) {
			if (vn >= 2 && v[0] == '<') {
				const char *gt = memchr(v, '>', vn);
				v++;
				vn = gt ? (size_t)(gt - v) : vn - 1;
			}
			keep_raw(t, t->return_path, sizeof t->return_path, v, vn, cut);
		}
		break;
	case 'a':
		if (name_eq(name, nl, "auto-submitted") && first(t, BS_HDR_SEEN_AUTOSUB))
			keep_raw(t, t->auto_submitted, sizeof t->auto_submitted, v, vn, cut);
		break;
	}
}
