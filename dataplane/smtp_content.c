/* SMTP message content (see smtp_priv.h): DATA content with
 * dot-unstuffing and the end-of-data marker, BDAT bytes, the header block
 * parsed as it streams, and the hand-over to the msg_data hook. Only lines
 * that start with a dot need work in DATA content, so the scan jumps from
 * one LF-dot to the next; once the consumer answers BS_HOOK_SKIP_BODY the
 * body is only counted. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "smtp_priv.h"

void bs_smtp_msg_begin(struct bs_smtp_session *s, uint8_t k)
{
	if (s->msg_active) {
		/* DATA after BDAT chunks of the same transaction (the server
		 * refuses it): the message goes on; else the old one is over */
		if (s->msg == k)
			return;
		bs_smtp_msg_stop(s);
	}
	struct bs_txn *t = bs_smtp_slot_txn(s, k);
	if (t && t->data_started) {
		/* a second message for one transaction means we lost track
		 * (replies out of step after gaps): do not mix the two */
		k = NOSLOT;
		t = NULL;
	}
	s->msg = k;
	s->msg_active = 1;
	s->msg_skip = t == NULL; /* unrecorded: nobody consumes the bytes */
	s->msg_off = 0;
	s->msg_gap = 0;
	s->dstate = D_LINE_START;
	bs_mail_hdr_init(&s->hdr);
	s->st->messages++;
	if (t) {
		t->data_started = 1;
		if (s->h->txn_data_begin)
			s->h->txn_data_begin(s->ctx, t);
	}
}

/* Unstuffed message bytes, in order. */
void bs_smtp_msg_bytes(struct bs_smtp_session *s, const uint8_t *p, uint32_t n)
{
	struct bs_txn *t = bs_smtp_slot_txn(s, s->msg);
	s->st->message_bytes += n;
	if (!t) {
		s->msg_off += n;
		return;
	}
	if (!s->hdr.done) {
		size_t k = bs_mail_hdr_feed(&s->hdr, p, n, bs_mail_hdr_store_field, t);
		if (k) {
			if (s->h->msg_data)
				s->h->msg_data(s->ctx, t, BS_PART_HEADER, s->msg_off, p, (uint32_t)k);
			s->msg_off += k;
			t->header_size += (uint32_t)k;
			p += k;
			n -= (uint32_t)k;
		}
	}
	if (n) {
		if (!s->msg_skip && s->h->msg_data &&
		    s->h->msg_data(s->ctx, t, BS_PART_BODY, s->msg_off, p, n) == BS_HOOK_SKIP_BODY)
			s->msg_skip = 1;
		s->msg_off += n;
	}
	t->size = s->msg_off;
}

/* The message is over (end of data, BDAT LAST) or abandoned. */
void bs_smtp_msg_stop(struct bs_smtp_session *s)
{
	if (!s->msg_active)
		return;
	struct bs_txn *t = bs_smtp_slot_txn(s, s->msg);
	if (t) {
		bs_mail_hdr_end(&s->hdr, bs_mail_hdr_store_field, t);
		t->size = s->msg_off;
	}
	s->msg_active = 0;
	s->msg = NOSLOT;
}

void bs_smtp_msg_complete(struct bs_smtp_session *s)
{
	uint8_t k = s->msg;
	struct bs_txn *t = bs_smtp_slot_txn(s, k);
	bs_smtp_msg_stop(s);
	if (t) {
		t->data_complete = 1;
		if (s->h->txn_data_end)
			s->h->txn_data_end(s->ctx, t);
	}
	if (k != NOSLOT && s->slot[k].closed && s->slot[k].refs == 0)
		bs_smtp_slot_end(s, k);
}

/* Deliver p[a..b) of DATA content (already free of stuffing dots). */
void bs_smtp_data_run(struct bs_smtp_session *s, const uint8_t *p, uint32_t a, uint32_t b)
{
	if (b <= a)
		return;
	if (bs_smtp_msg_skipping(s)) {
		s->msg_off += b - a;
		s->st->message_bytes += b - a;
		struct bs_txn *t = bs_smtp_slot_txn(s, s->msg);
		if (t)
			t->size = s->msg_off;
	} else {
		bs_smtp_msg_bytes(s, p + a, b - a);
	}
}

/* The first LF in [p, end) that is followed by '.' inside [p, end) (the
 * only place where DATA content needs attention: a stuffed dot or the end
 * marker), or NULL. 32 bytes per step with SSE2 (baseline on x86-64). */
static const uint8_t *find_nl_dot(const uint8_t *p, const uint8_t *end)
{
#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n'), dot = _mm_set1_epi8('.');
	while (end - p >= 33) {
		__m128i a0 = _mm_loadu_si128((const __m128i *)p);
		__m128i b0 = _mm_loadu_si128((const __m128i *)(p + 1));
		__m128i a1 = _mm_loadu_si128((const __m128i *)(p + 16));
		__m128i b1 = _mm_loadu_si128((const __m128i *)(p + 17));
		unsigned m0 = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a0, nl), _mm_cmpeq_epi8(b0, dot)));
		unsigned m1 = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a1, nl), _mm_cmpeq_epi8(b1, dot)));
		if (m0 | m1) {
			uint32_t m = m0 | m1 << 16;
			return p + __builtin_ctz(m);
		}
		p += 32;
	}
#endif
	while (end - p >= 2) {
		const uint8_t *q = memchr(p, '\n', (size_t)(end - p - 1));
		if (!q)
			return NULL;
		if (q[1] == '.')
			return q;
		p = q + 1;
	}
	return NULL;
}

/* DATA content: dot-unstuffing and the end-of-data marker (CRLF.CRLF, also
 * LF.LF). Returns the bytes consumed; *eod when the marker ended. The CRLF
 * before the final dot belongs to the message (RFC 5321 4.1.1.4). */
uint32_t bs_smtp_data_scan(struct bs_smtp_session *s, const uint8_t *p, uint32_t n, bool *eod)
{
	static const uint8_t cr = '\r';
	uint32_t i = 0, run = 0;
	*eod = false;
	while (i < n) {
		switch (s->dstate) {
		case D_LINE_START:
			if (p[i] == '.') {
				bs_smtp_data_run(s, p, run, i);
				s->dstate = D_DOT;
				run = ++i;
				continue;
			}
			s->dstate = D_MID;
			/* fall through */
		case D_MID: {
			/* lines without a leading dot need nothing: jump to the next
			 * "\n." (runs stay whole for the consumer) */
			const uint8_t *nl = find_nl_dot(p + i, p + n);
			if (!nl) {
				/* a LF at the very end leaves us at a line start */
				s->dstate = p[n - 1] == '\n' ? D_LINE_START : D_MID;
				i = n;
				continue;
			}
			i = (uint32_t)(nl - p) + 1;
			s->dstate = D_LINE_START;
			continue;
		}
		case D_DOT:
			if (p[i] == '\n') {
				*eod = true;
				return i + 1;
			}
			if (p[i] == '\r') { /* held back until we know */
				s->dstate = D_DOT_CR;
				run = ++i;
				continue;
			}
			s->dstate = D_MID; /* the dot was stuffing: dropped */
			continue;
		case D_DOT_CR:
			if (p[i] == '\n') {
				*eod = true;
				return i + 1;
			}
			/* ".\r" then something else: the dot was stuffing, the CR is content */
			bs_smtp_data_run(s, &cr, 0, 1);
			s->dstate = D_MID;
			continue;
		}
	}
	bs_smtp_data_run(s, p, run, i);
	return i;
}
