/* Message parser, header fields: what Content-Type says (type,
 * boundary, report-type), the top header's bounce and auto-reply markers,
 * and the embedded original's fields (Message-ID, From, To, Subject,
 * Date, Return-Path, Received chain). */
#include "msgparse_int.h"
#include "orig_fields.h"

static void copy_val(struct bs_msgparse *mp, char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		mp->f->flags |= BS_MF_TRUNCATED;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
}

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
	mp_fact(mp, BS_FACT_AUTOREPLY_MARK);
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
			mp_fact(mp, BS_FACT_AUTO_SUBMITTED);
	} else if (hn(name, nl, "Precedence")) {
		if (tok_is(v, n, "bulk"))
			f->precedence = BS_PREC_BULK;
		else if (tok_is(v, n, "junk"))
			f->precedence = BS_PREC_JUNK;
		else if (tok_is(v, n, "list"))
			f->precedence = BS_PREC_LIST;
		else if (tok_is(v, n, "auto_reply") || tok_is(v, n, "auto-reply")) {
			f->precedence = BS_PREC_AUTO_REPLY;
			mp_fact(mp, BS_FACT_AUTOREPLY_MARK);
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
		mp_fact(mp, BS_FACT_LIST_HEADER);
	} else if (hn(name, nl, "List-Unsubscribe") || hn(name, nl, "List-Post") ||
		   hn(name, nl, "List-Help") || hn(name, nl, "List-Subscribe") ||
		   hn(name, nl, "List-Owner") || hn(name, nl, "List-Archive") ||
		   hn(name, nl, "Mailing-List") || hn(name, nl, "X-Mailing-List")) {
		f->has_list_headers = true;
		mp_fact(mp, BS_FACT_LIST_HEADER);
	} else if (hn(name, nl, "X-Failed-Recipients")) {
		if (!f->x_failed_recipients[0])
			copy_val(mp, f->x_failed_recipients, sizeof(f->x_failed_recipients), v, n);
		mp_fact(mp, BS_FACT_X_FAILED_RCPT);
	}
}

/* A field of an embedded original (any form). */
static void orig_field(struct bs_msgparse *mp, const char *name, size_t nl, const char *v, size_t n)
{
	if (mp->cb && mp->cb->field) {
		mp_out_flush(mp);
		mp->cb->field(mp->ctx, true, name, nl, v, n);
	}
	if (!mp->orig_fill)
		return;
	struct bs_msg_facts *f = mp->f;
	if (hn(name, nl, "Message-ID")) {
		if (!f->orig_message_id[0] && n) {
			copy_val(mp, f->orig_message_id, sizeof(f->orig_message_id), v, n);
			mp_fact(mp, BS_FACT_ORIG_MSGID);
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
	/* dropped hops are cleared: beyond n_received_kept the array stays
	 * zero, which bs_msgparse_reinit relies on */
	memset(f->received, 0, f->n_received_kept * sizeof f->received[0]);
	f->n_received_kept = 0;
	f->known &= ~((1u << BS_FACT_ORIG_MSGID) | (1u << BS_FACT_ORIG_HEADER_END));
}

void mp_orig_begin(struct bs_msgparse *mp, enum bs_orig_how how)
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
	mp_fact(mp, BS_FACT_ORIG_BEGIN);
}

void mp_orig_header_done(struct bs_msgparse *mp)
{
	if (!mp->in_orig_hdr)
		return;
	mp->in_orig_hdr = false;
	if (mp->orig_fill) {
		mp->f->orig_headers_complete = true;
		mp_fact(mp, BS_FACT_ORIG_HEADER_END);
	}
	mp->orig_fill = false;
}

void mp_orig_field_cb(void *ctx, const char *name, size_t nl, const char *v, size_t n)
{
	orig_field(ctx, name, nl, v, n);
}

/* A field of the entity layer 1 is reading */
void mp_ent_field(void *ctx, const char *name, size_t nl, const char *v, size_t n)
{
	struct bs_msgparse *mp = ctx;
	struct mp_entity *e = &mp->ent;
	e->nfields++;
	if (e->top) {
		top_field(mp, name, nl, v, n);
		if (mp->cb && mp->cb->field) {
			mp_out_flush(mp);
			mp->cb->field(mp->ctx, false, name, nl, v, n);
		}
	} else if (!e->orig && mp->f->orig_how == BS_ORIG_NONE &&
		   bs_orig_field_kind(name, nl) == BS_OFK_STRONG) {
		/* a "part" whose header is a transported message's (Received,
		 * Message-ID...): an original pasted right after a boundary */
		e->orig = true;
		mp->h1.lenient = true;
		mp_orig_begin(mp, BS_ORIG_INLINE_HEADERS);
	}
	if (e->orig && !e->top)
		orig_field(mp, name, nl, v, n);
	if (hn(name, nl, "Content-Type"))
		parse_ctype(mp, e, v, n);
	else if (hn(name, nl, "Content-Transfer-Encoding"))
		e->cte = (uint8_t)bs_cte_parse(v, n);
}

