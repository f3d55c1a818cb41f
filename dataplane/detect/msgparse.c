/* Streaming MIME walker and bounce fact extractor.
 *
 * Two line layers. Layer 1 splits the raw message into lines: it parses
 * entity headers (top, MIME parts, an unencoded embedded message/rfc822),
 * recognises multipart boundaries (a stack of BS_MSGPARSE_MAX_DEPTH
 * frames), and hands the lines of a leaf part to its transfer decoder.
 * Layer 2 gets the decoded leaf content: text (BODY scope; legacy inline
 * originals are looked for here), delivery-status (DSN scope, dsn.c), or
 * an original's header block (text/rfc822-headers, or an encoded
 * message/rfc822). Identity-encoded leaves skip the second split: their
 * layer-1 lines go straight to the layer-2 line handlers.
 *
 * This file: layer 1 (MIME structure, boundaries, entity headers), the
 * batched scope output, facts and the API. Header field meaning is in
 * msgparse_fields.c, layer 2 in msgparse_leaf.c. */
#include "msgparse_int.h"

size_t bs_msgparse_size(void)
{
	return sizeof(struct bs_msgparse);
}

/* ---------------------------------------------------------------- output */

static uint64_t cur_off(const struct bs_msgparse *mp)
{
	return (uint64_t)((int64_t)mp->l1.pos + mp->off_adjust);
}

void mp_fact(struct bs_msgparse *mp, enum bs_fact id)
{
	struct bs_msg_facts *f = mp->f;
	uint64_t off = cur_off(mp);
	if (!(f->known & (1u << id))) {
		f->known |= 1u << id;
		f->offset[id] = off;
	} else if (id != BS_FACT_DSN_RCPT && id != BS_FACT_ORIG_BEGIN) {
		return;
	}
	if (mp->cb && mp->cb->fact) {
		mp_out_flush(mp);               /* the consumer sees the bytes before the fact */
		mp->cb->fact(mp->ctx, id, off);
	}
}

/* Scope bytes are batched: a Hyperscan stream call has a fixed cost, and
 * decoded text arrives a line (or less) at a time. The batch is handed
 * over when the scope changes, when it is full, before any field or fact
 * callback (order is kept), and at the end of every feed call. */
void mp_out_flush(struct bs_msgparse *mp)
{
	if (mp->out_len) {
		uint16_t n = mp->out_len;
		mp->out_len = 0;
		mp->cb->bytes(mp->ctx, (enum bs_scope)mp->out_scope, mp->out, n);
	}
}

void mp_emit(struct bs_msgparse *mp, enum bs_scope scope, const void *p, size_t n)
{
	if (!n || !mp->cb || !mp->cb->bytes)
		return;
	if (mp->out_len && (mp->out_scope != scope || mp->out_len + n > sizeof(mp->out)))
		mp_out_flush(mp);
	if (n >= sizeof(mp->out)) {
		mp->cb->bytes(mp->ctx, scope, p, n);   /* large spans go as they are */
		return;
	}
	memcpy(mp->out + mp->out_len, p, n);
	mp->out_len = (uint16_t)(mp->out_len + n);
	mp->out_scope = (uint8_t)scope;
}

void mp_emit_body(struct bs_msgparse *mp, const uint8_t *p, size_t n, bool eol)
{
	if (!n && !eol)
		return;
	if (mp->body_sep) {
		mp->body_sep = false;
		mp_emit(mp, BS_SCOPE_BODY, "\n", 1);
	}
	mp_emit(mp, BS_SCOPE_BODY, p, n);
	if (eol)
		mp_emit(mp, BS_SCOPE_BODY, "\n", 1);
	mp->body_any = true;
}

void mp_emit_line(struct bs_msgparse *mp, enum bs_scope scope, const uint8_t *p, size_t n, unsigned flags)
{
	mp_emit(mp, scope, p, n);
	if (flags & BS_LINE_END)
		mp_emit(mp, scope, "\n", 1);
}

static void ent_reset(struct bs_msgparse *mp, bool top, bool orig)
{
	struct mp_entity *e = &mp->ent;
	e->ctype = BS_CT_NONE;
	e->report_type = BS_RT_NONE;
	e->cte = BS_CTE_IDENTITY;
	e->blen = 0;
	e->digest = false;
	e->top = top;
	e->orig = orig;
	e->nfields = 0;
	bs_hdracc_init(&mp->h1);
	/* an attached message's header ends at its blank line only: broken
	 * folding (unindented continuation lines) is common there */
	mp->h1.lenient = orig;
}

/* ------------------------------------------------------- MIME structure */

static void body_begin(struct bs_msgparse *mp)
{
	struct mp_entity *e = &mp->ent;
	struct bs_msg_facts *f = mp->f;
	mp->state = L1_BODY;
	if ((e->top || e->orig) && f->n_parts < UINT16_MAX)
		f->n_parts++;                /* MIME parts are counted at their boundary */
	switch (e->ctype) {
	case BS_CT_MULTIPART_REPORT:
	case BS_CT_MULTIPART_MIXED:
	case BS_CT_MULTIPART_ALTERNATIVE:
	case BS_CT_MULTIPART_OTHER:
		/* a report inside an attached message (a forwarded bounce, a
		 * bounce of a bounce) says nothing about this message */
		if (e->ctype == BS_CT_MULTIPART_REPORT && mp->inside_orig) {
			if (e->report_type == BS_RT_DELIVERY_STATUS)
				f->report_in_orig = true;
		} else if (e->ctype == BS_CT_MULTIPART_REPORT) {
			if (e->report_type == BS_RT_DELIVERY_STATUS) {
				f->report_declared = true;
				f->is_dsn = true;
				mp_fact(mp, BS_FACT_REPORT);
			} else if (e->report_type == BS_RT_DISPOSITION_NOTIFICATION) {
				f->is_mdn = true;
				mp_fact(mp, BS_FACT_MDN);
			}
		}
		if (!e->blen) {
			f->flags |= BS_MF_NO_BOUNDARY;   /* read it as text: a legacy parse may still work */
			mp_leaf_begin(mp, LEAF_TEXT, e->cte);
			return;
		}
		if (mp->depth >= BS_MSGPARSE_MAX_DEPTH) {
			f->flags |= BS_MF_DEPTH_LIMIT;
			mp_leaf_begin(mp, LEAF_SKIP, e->cte);
			return;
		}
		{
			struct mp_frame *fr = &mp->fr[mp->depth++];
			memcpy(fr->boundary, e->boundary, e->blen);
			fr->blen = e->blen;
			fr->seen_part = false;
			fr->digest = e->digest;
			fr->cand_len = 0;
			if (mp->depth > f->max_depth)
				f->max_depth = mp->depth;
		}
		mp_leaf_begin(mp, LEAF_TEXT, BS_CTE_IDENTITY);    /* the preamble */
		return;
	case BS_CT_MESSAGE_RFC822:
	case BS_CT_MESSAGE_GLOBAL:
		mp_orig_begin(mp, e->ctype == BS_CT_MESSAGE_GLOBAL ? BS_ORIG_GLOBAL : BS_ORIG_RFC822);
		if (e->cte == BS_CTE_IDENTITY) {
			/* as RFC 2046 wants: walk the embedded message in layer 1;
			 * it lasts until a boundary of an enclosing multipart */
			if (!mp->inside_orig) {
				mp->inside_orig = true;
				mp->orig_depth = mp->depth;
			}
			mp->state = L1_PART_HDR;
			ent_reset(mp, false, true);
		} else {
			mp_leaf_begin(mp, LEAF_ORIG_HDRS, e->cte);
		}
		return;
	case BS_CT_TEXT_RFC822_HEADERS:
		mp_orig_begin(mp, BS_ORIG_RFC822_HEADERS);
		mp_leaf_begin(mp, LEAF_ORIG_HDRS, e->cte);
		return;
	case BS_CT_MESSAGE_DELIVERY_STATUS:
		if (mp->inside_orig) {
			f->report_in_orig = true;
			mp_leaf_begin(mp, LEAF_SKIP, e->cte);
			return;
		}
		f->ds_part_seen = true;
		f->is_dsn = true;
		mp_fact(mp, BS_FACT_DSN_PART);
		mp_leaf_begin(mp, LEAF_DSN, e->cte);
		return;
	case BS_CT_MESSAGE_DISPOSITION_NOTIFICATION:
		if (!mp->inside_orig) {
			f->is_mdn = true;
			mp_fact(mp, BS_FACT_MDN);
		}
		mp_leaf_begin(mp, LEAF_SKIP, e->cte);
		return;
	case BS_CT_NONE:
	case BS_CT_TEXT_PLAIN:
	case BS_CT_TEXT_HTML:
	case BS_CT_TEXT_OTHER:
		mp_leaf_begin(mp, LEAF_TEXT, e->cte);
		return;
	default:
		mp_leaf_begin(mp, LEAF_SKIP, e->cte);
		return;
	}
}

/* the entity header layer 1 was reading is complete */
static void header_end(struct bs_msgparse *mp)
{
	struct mp_entity *e = &mp->ent;
	bs_hdracc_flush(&mp->h1, mp_ent_field, mp);
	if (mp->h1.truncated)
		mp->f->flags |= BS_MF_TRUNCATED;
	if (e->top) {
		mp->f->top_ctype = e->ctype;
		mp->f->top_report_type = e->report_type;
		mp_fact(mp, BS_FACT_TOP_HEADER_END);
	}
	if (e->orig)
		mp_orig_header_done(mp);
	body_begin(mp);
}

static void body_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags);

static void part_hdr_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	if (mp->ent.orig && mp->ent.nfields == 0 && !mp->h1.active && n == 0 && flags == BS_LINE_END)
		return;                      /* blank lines before an attached message's header */
	enum bs_hdr_line k = bs_hdracc_line(&mp->h1, line, n, flags, mp_ent_field, mp);
	if (k == BS_HDR_END) {
		if (mp->ent.orig)
			mp_emit(mp, BS_SCOPE_ORIG_HEADERS, "\n", 1);
		header_end(mp);
		return;
	}
	if (k == BS_HDR_NOT_FIELD) {
		if (flags & BS_LINE_CONT)
			return;
		if (mp->ent.orig && mp->ent.nfields == 0 && n >= 5 && !memcmp(line, "From ", 5))
			return;              /* mbox separator at the start of an attached message */
		/* content without the blank line: the header is over */
		header_end(mp);
		body_line(mp, line, n, flags);
		return;
	}
	if (mp->ent.orig)
		mp_emit_line(mp, BS_SCOPE_ORIG_HEADERS, line, n, flags);
}

static void boundary_hit(struct bs_msgparse *mp, unsigned k, bool close)
{
	mp_leaf_end(mp);
	if (mp->state == L1_PART_HDR) {
		/* a part that was only a header (or an original cut after its header) */
		bs_hdracc_flush(&mp->h1, mp_ent_field, mp);
		if (mp->ent.orig)
			mp_orig_header_done(mp);
	}
	if (k + 1 < mp->depth)
		mp->f->flags |= BS_MF_UNCLOSED_PART;
	if (mp->inside_orig && k < mp->orig_depth)
		mp->inside_orig = false;         /* the attached message's part is over */
	if (close) {
		/* what follows up to the enclosing boundary is the epilogue */
		mp->depth = (uint8_t)k;
		mp->state = L1_BODY;
		mp_leaf_begin(mp, LEAF_TEXT, BS_CTE_IDENTITY);
	} else {
		if (mp->f->n_parts < UINT16_MAX)
			mp->f->n_parts++;
		mp->fr[k].seen_part = true;
		mp->depth = (uint8_t)(k + 1);
		mp->state = L1_PART_HDR;
		ent_reset(mp, false, false);
		if (mp->fr[k].digest)
			mp->ent.ctype = BS_CT_MESSAGE_RFC822;
	}
}

/* Is this line a delimiter of an open multipart? Handles it if so. */
static bool boundary_check(struct bs_msgparse *mp, const uint8_t *line, size_t n)
{
	size_t m = n;
	while (m > 2 && (line[m - 1] == ' ' || line[m - 1] == '\t'))
		m--;
	for (int k = mp->depth - 1; k >= 0; k--) {
		struct mp_frame *fr = &mp->fr[k];
		if (m < 2u + fr->blen || memcmp(line + 2, fr->boundary, fr->blen))
			continue;
		size_t rest = m - 2 - fr->blen;
		if (rest == 0) {
			boundary_hit(mp, (unsigned)k, false);
			return true;
		}
		if (line[2 + fr->blen] == '-' && line[3 + fr->blen] == '-' && rest == 2) {
			boundary_hit(mp, (unsigned)k, true);
			return true;
		}
	}
	/* Broken MIME (often anonymisation): the declared boundary never shows
	 * up. Remember a boundary-like line in the preamble; if a Content-*
	 * header follows it, it is adopted (see body_line). */
	struct mp_frame *top = &mp->fr[mp->depth - 1];
	if (!top->seen_part && mp->state == L1_BODY && m - 2 >= 1 && m - 2 < BS_MSGPARSE_BOUNDARY_MAX) {
		for (size_t i = 2; i < m; i++)
			if (line[i] == ' ' || line[i] == '\t')
				return false;
		memcpy(top->cand, line + 2, m - 2);
		top->cand_len = (uint8_t)(m - 2);
		mp->cand_fresh = true;
	}
	return false;
}

static void body_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	if (mp->depth) {
		struct mp_frame *fr = &mp->fr[mp->depth - 1];
		if (mp->cand_fresh) {
			mp->cand_fresh = false;          /* the candidate line itself */
		} else if (!fr->seen_part && fr->cand_len && !(flags & BS_LINE_CONT)) {
			if (n > 8 && !strncasecmp((const char *)line, "Content-", 8) && bs_hdr_is_field(line, n, NULL)) {
				memcpy(fr->boundary, fr->cand, fr->cand_len);
				fr->blen = fr->cand_len;
				fr->cand_len = 0;
				mp->f->flags |= BS_MF_BOUNDARY_GUESSED;
				boundary_hit(mp, mp->depth - 1u, false);
				part_hdr_line(mp, line, n, flags);
				return;
			}
			if (n)
				fr->cand_len = 0;
		}
	}
	mp_leaf_line(mp, line, n, flags);
}

static bool has_8bit(const uint8_t *p, size_t n)
{
	uint64_t acc = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	return acc & 0x8080808080808080ull;
}

static bool top_hdr_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	if (mp->first_line) {
		mp->first_line = false;
		if (n >= 5 && !memcmp(line, "From ", 5)) {
			mp->f->flags |= BS_MF_MBOX_FROM;
			mp->f->top_mbox_from = true;
			return false;
		}
	}
	if (!(mp->f->flags & BS_MF_8BIT_HEADER) && has_8bit(line, n))
		mp->f->flags |= BS_MF_8BIT_HEADER;
	enum bs_hdr_line k = bs_hdracc_line(&mp->h1, line, n, flags, mp_ent_field, mp);
	if (k == BS_HDR_END) {
		header_end(mp);
		return true;
	}
	if (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT)) {
		/* a body that starts without the blank line */
		header_end(mp);
		body_line(mp, line, n, flags);
		return true;
	}
	return false;
}

static bool l1_line(void *ctx, const uint8_t *line, size_t n, unsigned flags)
{
	struct bs_msgparse *mp = ctx;
	if (mp->state == L1_TOP_HDR)
		return top_hdr_line(mp, line, n, flags);
	if (mp->depth && flags == BS_LINE_END && n >= 3 && line[0] == '-' && line[1] == '-' &&
	    boundary_check(mp, line, n))
		return false;
	if (mp->state == L1_PART_HDR)
		part_hdr_line(mp, line, n, flags);
	else
		body_line(mp, line, n, flags);
	return false;
}

/* ---------------------------------------------------------------- API */

/* Clear *f except the two big arrays (DSN recipient groups and the
 * original's Received hops: 11 KB of ~15 KB), whose entries beyond the
 * kept counts are zero by the invariant of bs_msgparse_reinit; fields
 * added later anywhere else are cleared too. */
static void facts_clear_but_arrays(struct bs_msg_facts *f)
{
	const size_t r0 = offsetof(struct bs_msg_facts, rcpt), r1 = r0 + sizeof f->rcpt;
	const size_t h0 = offsetof(struct bs_msg_facts, received), h1 = h0 + sizeof f->received;
	_Static_assert(offsetof(struct bs_msg_facts, rcpt) < offsetof(struct bs_msg_facts, received),
		       "rcpt[] comes before received[]");
	memset(f, 0, r0);
	memset((char *)f + r1, 0, h0 - r1);
	memset((char *)f + h1, 0, sizeof *f - h1);
}

static void init_state(struct bs_msgparse *mp, struct bs_msg_facts *facts,
		       const struct bs_msgparse_cb *cb, void *ctx);

void bs_msgparse_init(struct bs_msgparse *mp, struct bs_msg_facts *facts,
		      const struct bs_msgparse_cb *cb, void *ctx)
{
	memset(facts, 0, sizeof(*facts));
	init_state(mp, facts, cb, ctx);
}

void bs_msgparse_reinit(struct bs_msgparse *mp, struct bs_msg_facts *facts,
			const struct bs_msgparse_cb *cb, void *ctx)
{
	/* only the kept entries can be non-zero (a dropped original's hops
	 * are cleared when it is dropped, see clear_orig) */
	uint8_t nr = facts->n_rcpt_kept, nh = facts->n_received_kept;
	if (nr > BS_FACTS_MAX_RCPT)
		nr = BS_FACTS_MAX_RCPT;
	if (nh > BS_FACTS_MAX_RECEIVED)
		nh = BS_FACTS_MAX_RECEIVED;
	memset(facts->rcpt, 0, nr * sizeof facts->rcpt[0]);
	memset(facts->received, 0, nh * sizeof facts->received[0]);
	facts_clear_but_arrays(facts);
	init_state(mp, facts, cb, ctx);
}

static void init_state(struct bs_msgparse *mp, struct bs_msg_facts *facts,
		       const struct bs_msgparse_cb *cb, void *ctx)
{
	mp->f = facts;
	mp->cb = cb;
	mp->ctx = ctx;
	mp->next_off = 0;
	mp->off_adjust = 0;
	mp->started = mp->ended = false;
	mp->hdr_lf_pending = false;
	mp->first_line = true;
	mp->in_orig_hdr = mp->orig_fill = false;
	mp->body_any = mp->body_sep = false;
	mp->cand_fresh = false;
	mp->inside_orig = false;
	mp->orig_depth = 0;
	mp->tdsn = mp->tdsn_done = false;
	mp->out_len = 0;
	mp->state = L1_TOP_HDR;
	mp->depth = 0;
	mp->leaf_open = false;
	mp->tx = TX_DONE;
	mp->tent_len = 0;
	bs_lines_init(&mp->l1);
	bs_lines_init(&mp->l2);
	bs_hdracc_init(&mp->h2);
	ent_reset(mp, true, false);
}

void bs_msgparse_feed(struct bs_msgparse *mp, enum bs_msg_part part, uint64_t off,
		      const uint8_t *p, uint32_t n)
{
	(void)part;
	if (mp->ended || !n)
		return;
	if (!mp->started) {
		mp->started = true;
		mp->next_off = off;
		mp->off_adjust = (int64_t)off;
	}
	if (off > mp->next_off) {
		/* bytes missing: drop the broken line, resume at the next one */
		mp->f->flags |= BS_MF_GAP;
		mp->off_adjust += (int64_t)(off - mp->next_off);
		bs_lines_abandon(&mp->l1);
		mp->hdr_lf_pending = false;
	} else if (off < mp->next_off) {
		uint64_t dup = mp->next_off - off;   /* already seen */
		if (dup >= n)
			return;
		p += dup;
		n -= (uint32_t)dup;
		off = mp->next_off;
	}
	mp->next_off = off + n;
	mp->f->bytes = mp->next_off;
	if (memchr(p, 0, n))
		mp->f->flags |= BS_MF_NUL;
	if (mp->hdr_lf_pending) {
		mp->hdr_lf_pending = false;
		if (p[0] == '\n')
			mp_emit(mp, BS_SCOPE_HEADERS, "\n", 1);
	}
	while (n) {
		if (mp->state != L1_TOP_HDR) {
			bs_lines_feed(&mp->l1, p, n, l1_line, mp);
			break;
		}
		size_t used = bs_lines_feed(&mp->l1, p, n, l1_line, mp);
		mp_emit(mp, BS_SCOPE_HEADERS, p, used);
		if (mp->state != L1_TOP_HDR && used == n && mp->l1.cr)
			mp->hdr_lf_pending = true;
		p += used;
		n -= (uint32_t)used;
	}
	if (mp->l1.any_long)
		mp->f->flags |= BS_MF_LONG_LINE;
	if (mp->out_len)
		mp_out_flush(mp);
}

void bs_msgparse_end(struct bs_msgparse *mp)
{
	if (mp->ended)
		return;
	bs_lines_flush(&mp->l1, l1_line, mp);
	if (mp->state == L1_TOP_HDR) {
		mp->f->flags |= BS_MF_HEADER_ONLY;
		header_end(mp);
	} else if (mp->state == L1_PART_HDR) {
		bs_hdracc_flush(&mp->h1, mp_ent_field, mp);
		if (mp->ent.orig)
			mp_orig_header_done(mp);
	}
	mp_leaf_end(mp);
	if (mp->depth)
		mp->f->flags |= BS_MF_UNCLOSED_PART;
	if (mp->l1.any_long || mp->l2.any_long)
		mp->f->flags |= BS_MF_LONG_LINE;
	mp_out_flush(mp);
	mp_fact(mp, BS_FACT_MSG_END);
	mp->ended = true;
}

void bs_msgparse_message(struct bs_msgparse *mp, struct bs_msg_facts *facts,
			 const struct bs_msgparse_cb *cb, void *ctx,
			 const uint8_t *p, size_t n)
{
	bs_msgparse_init(mp, facts, cb, ctx);
	uint64_t off = 0;
	while (n) {
		uint32_t k = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		bs_msgparse_feed(mp, BS_PART_HEADER, off, p, k);
		p += k;
		n -= k;
		off += k;
	}
	bs_msgparse_end(mp);
}
