/* Message parser, layer 2: the content of leaf parts after transfer
 * decoding. Text goes to the BODY scope and is searched for a legacy
 * bounce's quoted original (after an MTA's marker line, or as a run of
 * header lines) and, in a declared report that lost its boundaries, for
 * DSN fields; delivery-status parts go to dsn.c; an original's header
 * block (text/rfc822-headers, encoded message/rfc822) to the fields. */
#include "msgparse_int.h"
#include "orig_fields.h"

/* ------------------------------------------------------------ leaf parts */

static bool text_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags);
static void tdsn_end(struct bs_msgparse *mp);

static void dsn_event(void *ctx, int id)
{
	mp_fact(ctx, (enum bs_fact)id);
}

void mp_leaf_begin(struct bs_msgparse *mp, enum leaf_mode mode, uint8_t cte)
{
	mp->leaf_open = true;
	mp->leaf_mode = (uint8_t)mode;
	mp->leaf_cte = cte;
	mp->leaf_hdr_done = false;
	mp->leaf_lines = 0;
	bs_b64_init(&mp->b64);
	bs_qp_init(&mp->qp);
	bs_lines_init(&mp->l2);
	bs_hdracc_init(&mp->h2);
	mp->h2.lenient = mode == LEAF_ORIG_HDRS;
	mp->orig_indent = 0;
	if (mode == LEAF_TEXT || mode == LEAF_ORIG_HDRS)
		mp->body_sep = mp->body_any;
	mp->tx = mp->f->orig_how == BS_ORIG_NONE ? TX_SCAN : TX_DONE;
	if (mode == LEAF_DSN)
		bs_dsn_init(&mp->dsn, mp->f, dsn_event, mp);
}

/* LEAF_ORIG_HDRS: an original's header block, then (message/rfc822) its body */
static bool orighdr_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	if (mp->leaf_hdr_done) {
		mp_emit_body(mp, line, n, flags & BS_LINE_END);
		return false;
	}
	if (mp->leaf_lines == 0 && n == 0 && flags == BS_LINE_END)
		return false;                /* blank lines before the header block */
	enum bs_hdr_line k = bs_hdracc_line(&mp->h2, line, n, flags, mp_orig_field_cb, mp);
	bool first = mp->leaf_lines++ == 0;
	if (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT) && first && n >= 5 && !memcmp(line, "From ", 5))
		return false;                /* mbox separator before the header */
	if (k == BS_HDR_END || (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT))) {
		mp->leaf_hdr_done = true;
		mp_orig_header_done(mp);
		if (k == BS_HDR_NOT_FIELD)
			mp_emit_body(mp, line, n, flags & BS_LINE_END);
		return false;
	}
	mp_emit_line(mp, BS_SCOPE_ORIG_HEADERS, line, n, flags);
	return false;
}

static bool l2_text_cb(void *ctx, const uint8_t *line, size_t n, unsigned flags)
{
	struct bs_msgparse *mp = ctx;
	mp_emit_body(mp, line, n, flags & BS_LINE_END);
	return text_line(mp, line, n, flags);
}

static bool l2_orighdr_cb(void *ctx, const uint8_t *line, size_t n, unsigned flags)
{
	return orighdr_line(ctx, line, n, flags);
}

/* decoded leaf content */
static void leaf_decoded(struct bs_msgparse *mp, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	switch (mp->leaf_mode) {
	case LEAF_TEXT:
		bs_lines_feed(&mp->l2, p, n, l2_text_cb, mp);
		break;
	case LEAF_ORIG_HDRS:
		bs_lines_feed(&mp->l2, p, n, l2_orighdr_cb, mp);
		break;
	case LEAF_DSN:
		mp_emit(mp, BS_SCOPE_DSN, p, n);
		bs_dsn_feed(&mp->dsn, p, n);
		break;
	default:
		break;
	}
}

/* one layer-1 line (or piece) of the current leaf */
void mp_leaf_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	if (mp->leaf_mode == LEAF_SKIP)
		return;
	size_t k;
	switch (mp->leaf_cte) {
	case BS_CTE_BASE64:
		k = bs_b64_decode(&mp->b64, line, n, mp->dec);
		leaf_decoded(mp, mp->dec, k);
		break;
	case BS_CTE_QP:
		k = bs_qp_decode(&mp->qp, line, n, mp->dec);
		if (flags & BS_LINE_END)
			k += bs_qp_decode(&mp->qp, (const uint8_t *)"\n", 1, mp->dec + k);
		leaf_decoded(mp, mp->dec, k);
		break;
	default:
		/* identity: layer-1 lines are already lines */
		if (mp->leaf_mode == LEAF_TEXT) {
			mp_emit_body(mp, line, n, flags & BS_LINE_END);
			text_line(mp, line, n, flags);
		} else if (mp->leaf_mode == LEAF_ORIG_HDRS) {
			orighdr_line(mp, line, n, flags);
		} else {
			mp_emit_line(mp, BS_SCOPE_DSN, line, n, flags);
			bs_dsn_feed(&mp->dsn, line, n);
			if (flags & BS_LINE_END)
				bs_dsn_feed(&mp->dsn, (const uint8_t *)"\n", 1);
		}
		break;
	}
}

void mp_leaf_end(struct bs_msgparse *mp)
{
	if (!mp->leaf_open)
		return;
	uint8_t tail[4];
	size_t k = 0;
	if (mp->leaf_cte == BS_CTE_BASE64)
		k = bs_b64_finish(&mp->b64, tail);
	else if (mp->leaf_cte == BS_CTE_QP)
		k = bs_qp_finish(&mp->qp, tail);
	leaf_decoded(mp, tail, k);
	if (mp->b64.invalid)
		mp->f->flags |= BS_MF_BAD_BASE64;
	if (mp->qp.invalid)
		mp->f->flags |= BS_MF_BAD_QP;
	switch (mp->leaf_mode) {
	case LEAF_TEXT:
		bs_lines_flush(&mp->l2, l2_text_cb, mp);
		tdsn_end(mp);
		if (mp->tx == TX_ORIG_HDR) {
			/* the quoted header block ran to the end of the part */
			bs_hdracc_flush(&mp->h2, mp_orig_field_cb, mp);
			mp_orig_header_done(mp);
		}
		break;
	case LEAF_ORIG_HDRS:
		bs_lines_flush(&mp->l2, l2_orighdr_cb, mp);
		if (!mp->leaf_hdr_done) {
			bs_hdracc_flush(&mp->h2, mp_orig_field_cb, mp);
			mp_orig_header_done(mp);
		}
		break;
	case LEAF_DSN:
		bs_dsn_end(&mp->dsn);
		mp_fact(mp, BS_FACT_DSN_END);
		break;
	default:
		break;
	}
	if (mp->h2.truncated)
		mp->f->flags |= BS_MF_TRUNCATED;
	mp->tx = TX_DONE;
	mp->leaf_open = false;
}

/* ------------------------------------------- legacy inline originals */

static void tx_orig_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	/* a quoted block indented as a whole (Notes): strip the common indent */
	if (mp->orig_indent && !(flags & BS_LINE_CONT)) {
		size_t k = 0;
		while (k < n && k < mp->orig_indent && (line[k] == ' ' || line[k] == '\t'))
			k++;
		if (k == mp->orig_indent) {
			line += k;
			n -= k;
		}
	}
	enum bs_hdr_line k = bs_hdracc_line(&mp->h2, line, n, flags, mp_orig_field_cb, mp);
	if (k == BS_HDR_END || (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT))) {
		mp_orig_header_done(mp);
		mp->tx = TX_DONE;
		return;
	}
	mp_emit_line(mp, BS_SCOPE_ORIG_HEADERS, line, n, flags);
}

static bool tent_add(struct bs_msgparse *mp, const uint8_t *line, size_t n)
{
	if (mp->tent_len + n + 1 > TENT_MAX)
		return false;
	memcpy(mp->tent + mp->tent_len, line, n);
	mp->tent_len = (uint16_t)(mp->tent_len + n);
	mp->tent[mp->tent_len++] = '\n';
	return true;
}

static void tent_confirm(struct bs_msgparse *mp)
{
	if (mp->tent_after_marker) {
		mp->f->inline_marker = mp->armed_marker;
		mp_orig_begin(mp, BS_ORIG_INLINE_MARKER);
	} else {
		mp_orig_begin(mp, BS_ORIG_INLINE_HEADERS);
	}
	mp->tx = TX_ORIG_HDR;
	size_t s = 0;
	for (size_t i = 0; i < mp->tent_len && mp->tx == TX_ORIG_HDR; i++)
		if (mp->tent[i] == '\n') {
			tx_orig_line(mp, mp->tent + s, i - s, BS_LINE_END);
			s = i + 1;
		}
	mp->tent_len = 0;
}

/* A decoded text line: look for a legacy bounce's quoted original. */
/* ---------------------------- delivery-status fields in a text part */

static bool dsn_only_field(const uint8_t *line, size_t nl)
{
	const char *name = (const char *)line;
	return hn(name, nl, "Reporting-MTA") || hn(name, nl, "Final-Recipient") ||
	       hn(name, nl, "Original-Recipient");
}

static void tdsn_end(struct bs_msgparse *mp)
{
	if (!mp->tdsn)
		return;
	mp->tdsn = false;
	bs_dsn_end(&mp->dsn);
	mp_fact(mp, BS_FACT_DSN_END);
}

/* A declared multipart/report whose delivery-status part is lost (broken
 * or stripped boundaries) often still carries the DSN fields as text.
 * They are read from the first DS-only field name to the first line that
 * is neither a field nor blank, or a field of the original's header.
 * Returns true when the line was taken. */
static bool tdsn_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	size_t nl;
	if (!mp->tdsn) {
		if (flags != BS_LINE_END || !mp->f->report_declared || mp->f->ds_part_seen || mp->inside_orig ||
		    mp->tdsn_done || !bs_hdr_is_field(line, n, &nl) || !dsn_only_field(line, nl))
			return false;
		mp->tdsn = true;
		mp->tdsn_done = true;            /* once per message */
		bs_dsn_init(&mp->dsn, mp->f, dsn_event, mp);
		mp_fact(mp, BS_FACT_DSN_PART);
	}
	bool blank = n == 0 && (flags & BS_LINE_END);
	bool cont = (flags & BS_LINE_CONT) || (n && (line[0] == ' ' || line[0] == '\t'));
	bool field = !cont && n && bs_hdr_is_field(line, n, &nl);
	if (!blank && !cont && (!field || bs_orig_field_kind((const char *)line, nl))) {
		tdsn_end(mp);                    /* prose, or the original's header */
		return false;
	}
	mp_emit_line(mp, BS_SCOPE_DSN, line, n, flags);
	bs_dsn_feed(&mp->dsn, line, n);
	if (flags & BS_LINE_END)
		bs_dsn_feed(&mp->dsn, (const uint8_t *)"\n", 1);
	return true;
}

static bool text_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	size_t nl;
	int kind;
	if ((mp->tdsn || mp->f->report_declared) && tdsn_line(mp, line, n, flags))
		return false;
	switch (mp->tx) {
	case TX_DONE:
		return false;
	case TX_ORIG_HDR:
		tx_orig_line(mp, line, n, flags);
		return false;
	case TX_TENT:
		if (flags == BS_LINE_END && n && (line[0] == ' ' || line[0] == '\t')) {
			if (!tent_add(mp, line, n))
				mp->tx = TX_SCAN;
			return false;
		}
		if (flags == BS_LINE_END && bs_hdr_is_field(line, n, &nl)) {
			if (!tent_add(mp, line, n)) {
				mp->tx = TX_SCAN;
				return false;
			}
			kind = bs_orig_field_kind((const char *)line, nl);
			if (kind)
				mp->tent_known++;
			if (kind == BS_OFK_STRONG)
				mp->tent_strong = true;
			if (mp->tent_known >= 2 && mp->tent_strong)
				tent_confirm(mp);
			return false;
		}
		mp->tx = TX_SCAN;   /* the run broke off: look at this line afresh */
		/* fall through */
	case TX_SCAN:
	case TX_ARMED:
		if (flags != BS_LINE_END || n == 0)
			return false;    /* pieces of long lines and blank lines decide nothing */
		if (mp->tx == TX_ARMED && !mp->armed_weak) {
			size_t ind = 0;
			while (ind < n && ind < 16 && (line[ind] == ' ' || line[ind] == '\t'))
				ind++;
			if (bs_hdr_is_field(line + ind, n - ind, &nl) &&
			    bs_orig_field_kind((const char *)line + ind, nl)) {
				/* the marker that introduced the original names the MTA best */
				mp->f->inline_marker = mp->armed_marker;
				mp_orig_begin(mp, BS_ORIG_INLINE_MARKER);
				mp->tx = TX_ORIG_HDR;
				mp->orig_indent = (uint8_t)ind;
				/* announced by a marker, the block ends at its blank line:
				 * unindented continuation lines are tolerated */
				mp->h2.lenient = true;
				tx_orig_line(mp, line, n, flags);
				return false;
			}
		}
		if (bs_hdr_is_field(line, n, &nl) && (kind = bs_orig_field_kind((const char *)line, nl))) {
			mp->tent_after_marker = mp->tx == TX_ARMED;
			mp->tent_len = 0;
			mp->tent_known = 1;
			mp->tent_strong = kind == BS_OFK_STRONG;
			tent_add(mp, line, n);
			mp->tx = TX_TENT;
			return false;
		}
		bool weak;
		int m = bs_inline_marker_kind((const char *)line, n, &weak);
		if (m) {
			if (!mp->f->inline_marker) {
				mp->f->inline_marker = (uint8_t)m;
				mp_fact(mp, BS_FACT_INLINE_MARKER);
			}
			mp->tx = TX_ARMED;
			mp->armed_marker = (uint8_t)m;
			mp->armed_weak = weak;
			mp->armed_lines = TX_ARMED_LINES;
			return false;
		}
		if (mp->tx == TX_ARMED && --mp->armed_lines == 0)
			mp->tx = TX_SCAN;
		return false;
	}
	return false;
}

