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
 * layer-1 lines go straight to the layer-2 line handlers. */
#include "msgparse.h"
#include "mime_decode.h"
#include "hdrline.h"
#include "dsn.h"
#include "orig_fields.h"
#include <string.h>
#include <strings.h>

_Static_assert(BS_LINE_MAX == BS_MSGPARSE_LINE_MAX, "one line cap");
_Static_assert(BS_FACT_MAX <= 32, "fact bits fit in `known`");

enum l1_state { L1_TOP_HDR = 0, L1_PART_HDR, L1_BODY };
enum leaf_mode { LEAF_TEXT = 0, LEAF_DSN, LEAF_ORIG_HDRS, LEAF_SKIP };
/* legacy inline-original search in text leaves */
enum tx_state { TX_SCAN = 0, TX_ARMED, TX_TENT, TX_ORIG_HDR, TX_DONE };

#define TX_ARMED_LINES 40        /* a marker's header block must start within this many lines */
#define TENT_MAX 2048            /* header-looking lines held until the run is confirmed */

struct mp_frame {                /* an open multipart */
	uint8_t blen;
	uint8_t cand_len;            /* unmatched "--x" line in the preamble (broken MIME) */
	bool seen_part;
	bool digest;                 /* multipart/digest (RFC 2046 5.1.5) */
	char boundary[BS_MSGPARSE_BOUNDARY_MAX];
	char cand[BS_MSGPARSE_BOUNDARY_MAX];
};

struct mp_entity {               /* the entity whose header layer 1 is reading */
	uint8_t ctype;               /* enum bs_ctype */
	uint8_t report_type;
	uint8_t cte;                 /* enum bs_cte */
	uint8_t blen;
	bool top, orig;              /* top header / header of an embedded message */
	bool digest;                 /* multipart/digest: parts default to message/rfc822 */
	uint16_t nfields;
	char boundary[BS_MSGPARSE_BOUNDARY_MAX];
};

struct bs_msgparse {
	struct bs_msg_facts *f;
	const struct bs_msgparse_cb *cb;
	void *ctx;
	uint64_t next_off;           /* message offset expected next */
	int64_t off_adjust;          /* message offset - layer-1 position (gaps, first offset) */
	bool started, ended;
	bool hdr_lf_pending;         /* the top header ended on CR; its LF may open the next chunk */
	bool first_line;
	bool in_orig_hdr;            /* an embedded original's header block is open */
	bool orig_fill;              /* ... and it is the one whose fields go into the facts */
	bool body_any, body_sep;     /* BODY scope: bytes emitted / separator owed */
	bool cand_fresh;             /* the line being handled is a boundary candidate */
	uint8_t state;               /* enum l1_state */
	uint8_t depth;               /* open frames */
	/* current leaf */
	bool leaf_open;
	uint8_t leaf_mode;           /* enum leaf_mode */
	uint8_t leaf_cte;
	bool leaf_hdr_done;          /* LEAF_ORIG_HDRS: the header block ended */
	uint32_t leaf_lines;         /* LEAF_ORIG_HDRS: lines seen */
	uint8_t tx;                  /* enum tx_state */
	uint8_t armed_lines;
	uint8_t armed_marker;        /* enum bs_inline_marker that armed the search */
	uint8_t orig_indent;         /* indent stripped from an inline original's lines */
	bool armed_weak;             /* the marker needs a confirmed header run */
	bool tent_after_marker;      /* the held run follows a (weak) marker */
	bool inside_orig;            /* layer 1 is inside an attached message */
	bool tdsn, tdsn_done;        /* DSN fields being read from a text part / were read */
	uint8_t orig_depth;          /* open frames when it began */
	uint8_t tent_known;
	bool tent_strong;
	uint16_t tent_len;
	struct bs_b64 b64;
	struct bs_qp qp;
	struct mp_entity ent;
	struct mp_frame fr[BS_MSGPARSE_MAX_DEPTH];
	struct bs_lines l1, l2;
	struct bs_hdracc h1, h2;
	struct bs_dsn dsn;
	uint16_t out_len;            /* batched scope bytes (see emit) */
	uint8_t out_scope;
	uint8_t out[2048];
	uint8_t tent[TENT_MAX];
	/* one layer-1 line piece decoded: QP may add the line's "\n" and a
	 * held "=X"; base64 yields less than its input */
	uint8_t dec[BS_QP_OUT_MAX(BS_LINE_MAX) + BS_QP_OUT_MAX(1)];
};
_Static_assert(BS_QP_OUT_MAX(BS_LINE_MAX) + BS_QP_OUT_MAX(1) >= BS_B64_OUT_MAX(BS_LINE_MAX),
	       "decode buffer fits both decoders");

size_t bs_msgparse_size(void)
{
	return sizeof(struct bs_msgparse);
}

/* ---------------------------------------------------------------- output */

static void out_flush(struct bs_msgparse *mp);

static uint64_t cur_off(const struct bs_msgparse *mp)
{
	return (uint64_t)((int64_t)mp->l1.pos + mp->off_adjust);
}

static void fact(struct bs_msgparse *mp, enum bs_fact id)
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
		out_flush(mp);               /* the consumer sees the bytes before the fact */
		mp->cb->fact(mp->ctx, id, off);
	}
}

/* Scope bytes are batched: a Hyperscan stream call has a fixed cost, and
 * decoded text arrives a line (or less) at a time. The batch is handed
 * over when the scope changes, when it is full, before any field or fact
 * callback (order is kept), and at the end of every feed call. */
static void out_flush(struct bs_msgparse *mp)
{
	if (mp->out_len) {
		uint16_t n = mp->out_len;
		mp->out_len = 0;
		mp->cb->bytes(mp->ctx, (enum bs_scope)mp->out_scope, mp->out, n);
	}
}

static void emit(struct bs_msgparse *mp, enum bs_scope scope, const void *p, size_t n)
{
	if (!n || !mp->cb || !mp->cb->bytes)
		return;
	if (mp->out_len && (mp->out_scope != scope || mp->out_len + n > sizeof(mp->out)))
		out_flush(mp);
	if (n >= sizeof(mp->out)) {
		mp->cb->bytes(mp->ctx, scope, p, n);   /* large spans go as they are */
		return;
	}
	memcpy(mp->out + mp->out_len, p, n);
	mp->out_len = (uint16_t)(mp->out_len + n);
	mp->out_scope = (uint8_t)scope;
}

static void emit_body(struct bs_msgparse *mp, const uint8_t *p, size_t n, bool eol)
{
	if (!n && !eol)
		return;
	if (mp->body_sep) {
		mp->body_sep = false;
		emit(mp, BS_SCOPE_BODY, "\n", 1);
	}
	emit(mp, BS_SCOPE_BODY, p, n);
	if (eol)
		emit(mp, BS_SCOPE_BODY, "\n", 1);
	mp->body_any = true;
}

static void emit_line(struct bs_msgparse *mp, enum bs_scope scope, const uint8_t *p, size_t n, unsigned flags)
{
	emit(mp, scope, p, n);
	if (flags & BS_LINE_END)
		emit(mp, scope, "\n", 1);
}

static void copy_val(struct bs_msgparse *mp, char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		mp->f->flags |= BS_MF_TRUNCATED;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* name (nlen bytes) equals the literal, case-insensitively; the length is
 * compared first and known at compile time */
#define hn(name, nlen, lit) ((nlen) == sizeof(lit) - 1 && !strncasecmp((name), (lit), sizeof(lit) - 1))

/* first token of a value, lower-case compared against lit */
static bool tok_is(const char *v, size_t n, const char *lit)
{
	size_t k = 0;
	while (k < n && v[k] != ' ' && v[k] != '\t' && v[k] != ';' && v[k] != '(')
		k++;
	return strlen(lit) == k && !strncasecmp(v, lit, k);
}

/* ------------------------------------------------------- header semantics */

static void parse_ctype(struct bs_msgparse *mp, struct mp_entity *e, const char *v, size_t n)
{
	size_t k = 0;
	while (k < n && v[k] != ';' && v[k] != ' ' && v[k] != '\t')
		k++;
	static const struct { const char *t; uint8_t ct; } tab[] = {
		{ "text/plain", BS_CT_TEXT_PLAIN }, { "text/html", BS_CT_TEXT_HTML },
		{ "text/rfc822-headers", BS_CT_TEXT_RFC822_HEADERS },
		{ "message/global-headers", BS_CT_TEXT_RFC822_HEADERS },
		{ "multipart/report", BS_CT_MULTIPART_REPORT }, { "multipart/mixed", BS_CT_MULTIPART_MIXED },
		{ "multipart/alternative", BS_CT_MULTIPART_ALTERNATIVE },
		{ "message/rfc822", BS_CT_MESSAGE_RFC822 }, { "message/global", BS_CT_MESSAGE_GLOBAL },
		{ "message/delivery-status", BS_CT_MESSAGE_DELIVERY_STATUS },
		{ "message/global-delivery-status", BS_CT_MESSAGE_DELIVERY_STATUS },
		{ "message/disposition-notification", BS_CT_MESSAGE_DISPOSITION_NOTIFICATION },
		{ "message/global-disposition-notification", BS_CT_MESSAGE_DISPOSITION_NOTIFICATION },
		/* seen in bounces: the first fragment of a partial message
		 * carries the original's header; misspelt types */
		{ "message/partial", BS_CT_MESSAGE_RFC822 },
		{ "message/rfc822-headers", BS_CT_TEXT_RFC822_HEADERS },
		{ "message/xdelivery-status", BS_CT_MESSAGE_DELIVERY_STATUS },
		{ "multipart/digest", BS_CT_MULTIPART_OTHER },
	};
	e->ctype = BS_CT_OTHER;
	e->digest = hn(v, k, "multipart/digest");
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].t) == k && !strncasecmp(v, tab[i].t, k)) {
			e->ctype = tab[i].ct;
			break;
		}
	if (e->ctype == BS_CT_OTHER) {
		if (k >= 5 && !strncasecmp(v, "text/", 5))
			e->ctype = BS_CT_TEXT_OTHER;
		else if (k >= 10 && !strncasecmp(v, "multipart/", 10))
			e->ctype = BS_CT_MULTIPART_OTHER;
		else if (k >= 8 && !strncasecmp(v, "message/", 8))
			e->ctype = BS_CT_MESSAGE_OTHER;
	}
	/* parameters: name=value or name="quoted value" */
	size_t i = k;
	while (i < n) {
		while (i < n && (v[i] == ';' || v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t ns = i;
		while (i < n && v[i] != '=' && v[i] != ';')
			i++;
		if (i >= n || v[i] != '=')
			continue;
		size_t ne = i;
		while (ne > ns && (v[ne - 1] == ' ' || v[ne - 1] == '\t'))
			ne--;
		i++;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		char val[BS_MSGPARSE_BOUNDARY_MAX + 1];
		size_t vl = 0;
		bool cut = false;
		if (i < n && v[i] == '"') {
			i++;
			while (i < n && v[i] != '"') {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				if (vl < BS_MSGPARSE_BOUNDARY_MAX) val[vl++] = v[i]; else cut = true;
				i++;
			}
			if (i < n)
				i++;
		} else {
			while (i < n && v[i] != ';' && v[i] != ' ' && v[i] != '\t') {
				if (vl < BS_MSGPARSE_BOUNDARY_MAX) val[vl++] = v[i]; else cut = true;
				i++;
			}
		}
		if (hn(v + ns, ne - ns, "boundary")) {
			if (cut) {
				mp->f->flags |= BS_MF_TRUNCATED;   /* unusable: such a boundary cannot be matched */
				e->blen = 0;
			} else {
				memcpy(e->boundary, val, vl);
				e->blen = (uint8_t)vl;
			}
		} else if (hn(v + ns, ne - ns, "report-type")) {
			if (hn(val, vl, "delivery-status") || hn(val, vl, "global-delivery-status"))
				e->report_type = BS_RT_DELIVERY_STATUS;
			else if (hn(val, vl, "disposition-notification") ||
				 hn(val, vl, "global-disposition-notification"))
				e->report_type = BS_RT_DISPOSITION_NOTIFICATION;
			else if (hn(val, vl, "feedback-report"))
				e->report_type = BS_RT_FEEDBACK;
			else
				e->report_type = BS_RT_OTHER;
		}
	}
}

static void mark_autoreply(struct bs_msgparse *mp, uint32_t bit)
{
	mp->f->autoreply_marks |= bit;
	fact(mp, BS_FACT_AUTOREPLY_MARK);
}

static void top_field(struct bs_msgparse *mp, const char *name, size_t nl, const char *v, size_t n)
{
	struct bs_msg_facts *f = mp->f;
	if (hn(name, nl, "Subject")) {
		bool cut = false;
		bs_rfc2047_decode(v, n, f->subject, sizeof(f->subject), &cut);
		if (cut)
			f->flags |= BS_MF_TRUNCATED;
	} else if (hn(name, nl, "From")) {
		copy_val(mp, f->from, sizeof(f->from), v, n);
	} else if (hn(name, nl, "To")) {
		copy_val(mp, f->to, sizeof(f->to), v, n);
	} else if (hn(name, nl, "Message-ID")) {
		copy_val(mp, f->message_id, sizeof(f->message_id), v, n);
	} else if (hn(name, nl, "In-Reply-To")) {
		copy_val(mp, f->in_reply_to, sizeof(f->in_reply_to), v, n);
	} else if (hn(name, nl, "References")) {
		/* the last msg-id is the message this one answers */
		const char *lt = NULL;
		for (size_t i = 0; i < n; i++)
			if (v[i] == '<')
				lt = v + i;
		if (lt) {
			const char *gt = memchr(lt, '>', (size_t)(v + n - lt));
			copy_val(mp, f->references_last, sizeof(f->references_last), lt,
				 gt ? (size_t)(gt - lt + 1) : (size_t)(v + n - lt));
		}
	} else if (hn(name, nl, "Auto-Submitted")) {
		if (tok_is(v, n, "no"))
			f->auto_submitted = BS_AS_NO;
		else if (tok_is(v, n, "auto-replied"))
			f->auto_submitted = BS_AS_AUTO_REPLIED;
		else if (tok_is(v, n, "auto-generated"))
			f->auto_submitted = BS_AS_AUTO_GENERATED;
		else if (tok_is(v, n, "auto-notified"))
			f->auto_submitted = BS_AS_AUTO_NOTIFIED;
		else
			f->auto_submitted = BS_AS_OTHER;
		if (f->auto_submitted != BS_AS_NO)
			fact(mp, BS_FACT_AUTO_SUBMITTED);
	} else if (hn(name, nl, "Precedence")) {
		if (tok_is(v, n, "bulk"))
			f->precedence = BS_PREC_BULK;
		else if (tok_is(v, n, "junk"))
			f->precedence = BS_PREC_JUNK;
		else if (tok_is(v, n, "list"))
			f->precedence = BS_PREC_LIST;
		else if (tok_is(v, n, "auto_reply") || tok_is(v, n, "auto-reply")) {
			f->precedence = BS_PREC_AUTO_REPLY;
			fact(mp, BS_FACT_AUTOREPLY_MARK);
		} else
			f->precedence = BS_PREC_OTHER;
	} else if (hn(name, nl, "X-Autoreply") || hn(name, nl, "X-Autoreply-From")) {
		mark_autoreply(mp, BS_AR_X_AUTOREPLY);
	} else if (hn(name, nl, "X-Autorespond")) {
		mark_autoreply(mp, BS_AR_X_AUTORESPOND);
	} else if (hn(name, nl, "X-Auto-Response-Suppress")) {
		mark_autoreply(mp, BS_AR_AUTO_RESPONSE_SUPPRESS);
	} else if (hn(name, nl, "X-Vacation") || hn(name, nl, "X-Mail-Autoreply") ||
		   (hn(name, nl, "X-Autogenerated") && tok_is(v, n, "reply"))) {
		mark_autoreply(mp, BS_AR_X_VACATION);
	} else if (hn(name, nl, "X-FC-MachineGenerated")) {
		mark_autoreply(mp, BS_AR_X_FC_MACHINEGENERATED);
	} else if (hn(name, nl, "X-Loop")) {
		mark_autoreply(mp, BS_AR_X_LOOP);
	} else if (hn(name, nl, "X-MS-Exchange-Inbox-Rules-Loop")) {
		mark_autoreply(mp, BS_AR_X_MS_AUTORESPONSE);
	} else if (hn(name, nl, "Delivered-To")) {
		if (tok_is(v, n, "autoresponder"))
			mark_autoreply(mp, BS_AR_DELIVERED_TO_AUTORESPONDER);
	} else if (hn(name, nl, "List-Id")) {
		copy_val(mp, f->list_id, sizeof(f->list_id), v, n);
		f->has_list_headers = true;
		fact(mp, BS_FACT_LIST_HEADER);
	} else if (hn(name, nl, "List-Unsubscribe") || hn(name, nl, "List-Post") ||
		   hn(name, nl, "List-Help") || hn(name, nl, "List-Subscribe") ||
		   hn(name, nl, "List-Owner") || hn(name, nl, "List-Archive") ||
		   hn(name, nl, "Mailing-List") || hn(name, nl, "X-Mailing-List")) {
		f->has_list_headers = true;
		fact(mp, BS_FACT_LIST_HEADER);
	} else if (hn(name, nl, "X-Failed-Recipients")) {
		if (!f->x_failed_recipients[0])
			copy_val(mp, f->x_failed_recipients, sizeof(f->x_failed_recipients), v, n);
		fact(mp, BS_FACT_X_FAILED_RCPT);
	}
}

/* A field of an embedded original (any form). */
static void orig_field(struct bs_msgparse *mp, const char *name, size_t nl, const char *v, size_t n)
{
	if (mp->cb && mp->cb->field) {
		out_flush(mp);
		mp->cb->field(mp->ctx, true, name, nl, v, n);
	}
	if (!mp->orig_fill)
		return;
	struct bs_msg_facts *f = mp->f;
	if (hn(name, nl, "Message-ID")) {
		if (!f->orig_message_id[0] && n) {
			copy_val(mp, f->orig_message_id, sizeof(f->orig_message_id), v, n);
			fact(mp, BS_FACT_ORIG_MSGID);
		}
	} else if (hn(name, nl, "From")) {
		if (!f->orig_from[0])
			copy_val(mp, f->orig_from, sizeof(f->orig_from), v, n);
	} else if (hn(name, nl, "To")) {
		if (!f->orig_to[0])
			copy_val(mp, f->orig_to, sizeof(f->orig_to), v, n);
	} else if (hn(name, nl, "Subject")) {
		if (!f->orig_subject[0]) {
			bool cut = false;
			bs_rfc2047_decode(v, n, f->orig_subject, sizeof(f->orig_subject), &cut);
			if (cut)
				f->flags |= BS_MF_TRUNCATED;
		}
	} else if (hn(name, nl, "Date")) {
		if (!f->orig_date[0])
			copy_val(mp, f->orig_date, sizeof(f->orig_date), v, n);
	} else if (hn(name, nl, "Return-Path")) {
		if (!f->orig_return_path[0])
			copy_val(mp, f->orig_return_path, sizeof(f->orig_return_path), v, n);
	} else if (hn(name, nl, "Received")) {
		if (f->n_received_kept < BS_FACTS_MAX_RECEIVED)
			bs_received_parse(&f->received[f->n_received_kept++], v, n);
		if (f->n_received < UINT16_MAX)
			f->n_received++;
	}
}

static void clear_orig(struct bs_msg_facts *f)
{
	f->orig_how = BS_ORIG_NONE;
	f->orig_headers_complete = false;
	f->orig_message_id[0] = f->orig_from[0] = f->orig_to[0] = '\0';
	f->orig_subject[0] = f->orig_date[0] = f->orig_return_path[0] = '\0';
	f->n_received = 0;
	f->n_received_kept = 0;
	f->known &= ~((1u << BS_FACT_ORIG_MSGID) | (1u << BS_FACT_ORIG_HEADER_END));
}

static void orig_begin(struct bs_msgparse *mp, enum bs_orig_how how)
{
	struct bs_msg_facts *f = mp->f;
	bool inline_found = f->orig_how == BS_ORIG_INLINE_MARKER || f->orig_how == BS_ORIG_INLINE_HEADERS;
	bool structural = how != BS_ORIG_INLINE_MARKER && how != BS_ORIG_INLINE_HEADERS;
	/* a MIME-declared original beats header lines quoted in a text part */
	if (inline_found && structural)
		clear_orig(f);
	mp->orig_fill = f->orig_how == BS_ORIG_NONE;
	if (mp->orig_fill)
		f->orig_how = (uint8_t)how;
	mp->in_orig_hdr = true;
	fact(mp, BS_FACT_ORIG_BEGIN);
}

static void orig_header_done(struct bs_msgparse *mp)
{
	if (!mp->in_orig_hdr)
		return;
	mp->in_orig_hdr = false;
	if (mp->orig_fill) {
		mp->f->orig_headers_complete = true;
		fact(mp, BS_FACT_ORIG_HEADER_END);
	}
	mp->orig_fill = false;
}

static void orig_field_cb(void *ctx, const char *name, size_t nl, const char *v, size_t n)
{
	orig_field(ctx, name, nl, v, n);
}

/* A field of the entity layer 1 is reading */
static void ent_field(void *ctx, const char *name, size_t nl, const char *v, size_t n)
{
	struct bs_msgparse *mp = ctx;
	struct mp_entity *e = &mp->ent;
	e->nfields++;
	if (e->top) {
		top_field(mp, name, nl, v, n);
		if (mp->cb && mp->cb->field) {
			out_flush(mp);
			mp->cb->field(mp->ctx, false, name, nl, v, n);
		}
	} else if (!e->orig && mp->f->orig_how == BS_ORIG_NONE &&
		   bs_orig_field_kind(name, nl) == BS_OFK_STRONG) {
		/* a "part" whose header is a transported message's (Received,
		 * Message-ID...): an original pasted right after a boundary */
		e->orig = true;
		mp->h1.lenient = true;
		orig_begin(mp, BS_ORIG_INLINE_HEADERS);
	}
	if (e->orig && !e->top)
		orig_field(mp, name, nl, v, n);
	if (hn(name, nl, "Content-Type"))
		parse_ctype(mp, e, v, n);
	else if (hn(name, nl, "Content-Transfer-Encoding"))
		e->cte = (uint8_t)bs_cte_parse(v, n);
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

/* ------------------------------------------------------------ leaf parts */

static bool text_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags);
static void tdsn_end(struct bs_msgparse *mp);

static void dsn_event(void *ctx, int id)
{
	fact(ctx, (enum bs_fact)id);
}

static void leaf_begin(struct bs_msgparse *mp, enum leaf_mode mode, uint8_t cte)
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
		emit_body(mp, line, n, flags & BS_LINE_END);
		return false;
	}
	if (mp->leaf_lines == 0 && n == 0 && flags == BS_LINE_END)
		return false;                /* blank lines before the header block */
	enum bs_hdr_line k = bs_hdracc_line(&mp->h2, line, n, flags, orig_field_cb, mp);
	bool first = mp->leaf_lines++ == 0;
	if (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT) && first && n >= 5 && !memcmp(line, "From ", 5))
		return false;                /* mbox separator before the header */
	if (k == BS_HDR_END || (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT))) {
		mp->leaf_hdr_done = true;
		orig_header_done(mp);
		if (k == BS_HDR_NOT_FIELD)
			emit_body(mp, line, n, flags & BS_LINE_END);
		return false;
	}
	emit_line(mp, BS_SCOPE_ORIG_HEADERS, line, n, flags);
	return false;
}

static bool l2_text_cb(void *ctx, const uint8_t *line, size_t n, unsigned flags)
{
	struct bs_msgparse *mp = ctx;
	emit_body(mp, line, n, flags & BS_LINE_END);
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
		emit(mp, BS_SCOPE_DSN, p, n);
		bs_dsn_feed(&mp->dsn, p, n);
		break;
	default:
		break;
	}
}

/* one layer-1 line (or piece) of the current leaf */
static void leaf_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
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
			emit_body(mp, line, n, flags & BS_LINE_END);
			text_line(mp, line, n, flags);
		} else if (mp->leaf_mode == LEAF_ORIG_HDRS) {
			orighdr_line(mp, line, n, flags);
		} else {
			emit_line(mp, BS_SCOPE_DSN, line, n, flags);
			bs_dsn_feed(&mp->dsn, line, n);
			if (flags & BS_LINE_END)
				bs_dsn_feed(&mp->dsn, (const uint8_t *)"\n", 1);
		}
		break;
	}
}

static void leaf_end(struct bs_msgparse *mp)
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
			bs_hdracc_flush(&mp->h2, orig_field_cb, mp);
			orig_header_done(mp);
		}
		break;
	case LEAF_ORIG_HDRS:
		bs_lines_flush(&mp->l2, l2_orighdr_cb, mp);
		if (!mp->leaf_hdr_done) {
			bs_hdracc_flush(&mp->h2, orig_field_cb, mp);
			orig_header_done(mp);
		}
		break;
	case LEAF_DSN:
		bs_dsn_end(&mp->dsn);
		fact(mp, BS_FACT_DSN_END);
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
	enum bs_hdr_line k = bs_hdracc_line(&mp->h2, line, n, flags, orig_field_cb, mp);
	if (k == BS_HDR_END || (k == BS_HDR_NOT_FIELD && !(flags & BS_LINE_CONT))) {
		orig_header_done(mp);
		mp->tx = TX_DONE;
		return;
	}
	emit_line(mp, BS_SCOPE_ORIG_HEADERS, line, n, flags);
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
		orig_begin(mp, BS_ORIG_INLINE_MARKER);
	} else {
		orig_begin(mp, BS_ORIG_INLINE_HEADERS);
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
	fact(mp, BS_FACT_DSN_END);
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
		fact(mp, BS_FACT_DSN_PART);
	}
	bool blank = n == 0 && (flags & BS_LINE_END);
	bool cont = (flags & BS_LINE_CONT) || (n && (line[0] == ' ' || line[0] == '\t'));
	bool field = !cont && n && bs_hdr_is_field(line, n, &nl);
	if (!blank && !cont && (!field || bs_orig_field_kind((const char *)line, nl))) {
		tdsn_end(mp);                    /* prose, or the original's header */
		return false;
	}
	emit_line(mp, BS_SCOPE_DSN, line, n, flags);
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
				orig_begin(mp, BS_ORIG_INLINE_MARKER);
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
				fact(mp, BS_FACT_INLINE_MARKER);
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
				fact(mp, BS_FACT_REPORT);
			} else if (e->report_type == BS_RT_DISPOSITION_NOTIFICATION) {
				f->is_mdn = true;
				fact(mp, BS_FACT_MDN);
			}
		}
		if (!e->blen) {
			f->flags |= BS_MF_NO_BOUNDARY;   /* read it as text: a legacy parse may still work */
			leaf_begin(mp, LEAF_TEXT, e->cte);
			return;
		}
		if (mp->depth >= BS_MSGPARSE_MAX_DEPTH) {
			f->flags |= BS_MF_DEPTH_LIMIT;
			leaf_begin(mp, LEAF_SKIP, e->cte);
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
		leaf_begin(mp, LEAF_TEXT, BS_CTE_IDENTITY);    /* the preamble */
		return;
	case BS_CT_MESSAGE_RFC822:
	case BS_CT_MESSAGE_GLOBAL:
		orig_begin(mp, e->ctype == BS_CT_MESSAGE_GLOBAL ? BS_ORIG_GLOBAL : BS_ORIG_RFC822);
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
			leaf_begin(mp, LEAF_ORIG_HDRS, e->cte);
		}
		return;
	case BS_CT_TEXT_RFC822_HEADERS:
		orig_begin(mp, BS_ORIG_RFC822_HEADERS);
		leaf_begin(mp, LEAF_ORIG_HDRS, e->cte);
		return;
	case BS_CT_MESSAGE_DELIVERY_STATUS:
		if (mp->inside_orig) {
			f->report_in_orig = true;
			leaf_begin(mp, LEAF_SKIP, e->cte);
			return;
		}
		f->ds_part_seen = true;
		f->is_dsn = true;
		fact(mp, BS_FACT_DSN_PART);
		leaf_begin(mp, LEAF_DSN, e->cte);
		return;
	case BS_CT_MESSAGE_DISPOSITION_NOTIFICATION:
		if (!mp->inside_orig) {
			f->is_mdn = true;
			fact(mp, BS_FACT_MDN);
		}
		leaf_begin(mp, LEAF_SKIP, e->cte);
		return;
	case BS_CT_NONE:
	case BS_CT_TEXT_PLAIN:
	case BS_CT_TEXT_HTML:
	case BS_CT_TEXT_OTHER:
		leaf_begin(mp, LEAF_TEXT, e->cte);
		return;
	default:
		leaf_begin(mp, LEAF_SKIP, e->cte);
		return;
	}
}

/* the entity header layer 1 was reading is complete */
static void header_end(struct bs_msgparse *mp)
{
	struct mp_entity *e = &mp->ent;
	bs_hdracc_flush(&mp->h1, ent_field, mp);
	if (mp->h1.truncated)
		mp->f->flags |= BS_MF_TRUNCATED;
	if (e->top) {
		mp->f->top_ctype = e->ctype;
		mp->f->top_report_type = e->report_type;
		fact(mp, BS_FACT_TOP_HEADER_END);
	}
	if (e->orig)
		orig_header_done(mp);
	body_begin(mp);
}

static void body_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags);

static void part_hdr_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags)
{
	if (mp->ent.orig && mp->ent.nfields == 0 && !mp->h1.active && n == 0 && flags == BS_LINE_END)
		return;                      /* blank lines before an attached message's header */
	enum bs_hdr_line k = bs_hdracc_line(&mp->h1, line, n, flags, ent_field, mp);
	if (k == BS_HDR_END) {
		if (mp->ent.orig)
			emit(mp, BS_SCOPE_ORIG_HEADERS, "\n", 1);
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
		emit_line(mp, BS_SCOPE_ORIG_HEADERS, line, n, flags);
}

static void boundary_hit(struct bs_msgparse *mp, unsigned k, bool close)
{
	leaf_end(mp);
	if (mp->state == L1_PART_HDR) {
		/* a part that was only a header (or an original cut after its header) */
		bs_hdracc_flush(&mp->h1, ent_field, mp);
		if (mp->ent.orig)
			orig_header_done(mp);
	}
	if (k + 1 < mp->depth)
		mp->f->flags |= BS_MF_UNCLOSED_PART;
	if (mp->inside_orig && k < mp->orig_depth)
		mp->inside_orig = false;         /* the attached message's part is over */
	if (close) {
		/* what follows up to the enclosing boundary is the epilogue */
		mp->depth = (uint8_t)k;
		mp->state = L1_BODY;
		leaf_begin(mp, LEAF_TEXT, BS_CTE_IDENTITY);
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
	leaf_line(mp, line, n, flags);
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
	enum bs_hdr_line k = bs_hdracc_line(&mp->h1, line, n, flags, ent_field, mp);
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

void bs_msgparse_init(struct bs_msgparse *mp, struct bs_msg_facts *facts,
		      const struct bs_msgparse_cb *cb, void *ctx)
{
	memset(facts, 0, sizeof(*facts));
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
			emit(mp, BS_SCOPE_HEADERS, "\n", 1);
	}
	while (n) {
		if (mp->state != L1_TOP_HDR) {
			bs_lines_feed(&mp->l1, p, n, l1_line, mp);
			break;
		}
		size_t used = bs_lines_feed(&mp->l1, p, n, l1_line, mp);
		emit(mp, BS_SCOPE_HEADERS, p, used);
		if (mp->state != L1_TOP_HDR && used == n && mp->l1.cr)
			mp->hdr_lf_pending = true;
		p += used;
		n -= (uint32_t)used;
	}
	if (mp->l1.any_long)
		mp->f->flags |= BS_MF_LONG_LINE;
	if (mp->out_len)
		out_flush(mp);
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
		bs_hdracc_flush(&mp->h1, ent_field, mp);
		if (mp->ent.orig)
			orig_header_done(mp);
	}
	leaf_end(mp);
	if (mp->depth)
		mp->f->flags |= BS_MF_UNCLOSED_PART;
	if (mp->l1.any_long || mp->l2.any_long)
		mp->f->flags |= BS_MF_LONG_LINE;
	out_flush(mp);
	fact(mp, BS_FACT_MSG_END);
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
