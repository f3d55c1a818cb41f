/* SMTP session parser (RFC 5321, 2920 PIPELINING, 3030 CHUNKING, 3207
 * STARTTLS); see smtp.h for the contract with the pipeline.
 *
 * Shape: each direction is cut into lines (zero-copy when a line is whole
 * in the segment, else through a fixed line buffer). Client command lines
 * push an entry on a bounded queue of pending commands; each complete
 * server reply pops the oldest entry, which says what the reply answers.
 * That is all PIPELINING needs: replies come in command order.
 *
 * Transactions live in a few slots. A slot is "closed" when the client ends
 * the transaction (end of data, RSET, new MAIL, EHLO, QUIT) and is handed to
 * txn_end once every queued command that refers to it has its reply (so a
 * pipelined RCPT's code still lands in the right record). A slot whose
 * replies never come ends at session end.
 *
 * Message content is never split into lines unless its bytes go to a
 * consumer: the header block is parsed as it streams (mail_hdr), body bytes
 * are handed to the hook in runs, and once the hook answers
 * BS_HOOK_SKIP_BODY the rest of a DATA body is only searched for "\n." with
 * memchr, a BDAT body is skipped by length. */
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include "smtp_priv.h"
#include "textscan.h"

_Static_assert(BS_SMTP_HDR_FIELD_MAX == BS_MAIL_FIELD_MAX, "header field limit differs");

size_t bs_smtp_session_size(void)
{
	return sizeof(struct bs_smtp_session);
}

bool bs_smtp_session_encrypted(const struct bs_smtp_session *s)
{
	return s->tls;
}

uint32_t bs_smtp_session_caps(const struct bs_smtp_session *s)
{
	return s->caps;
}

uint32_t bs_smtp_session_transactions(const struct bs_smtp_session *s)
{
	return s->n_txn;
}

/* ------------------------------------------------------------------ */
/* transaction slots                                                   */

static inline struct bs_txn *cur_txn(struct bs_smtp_session *s)
{
	return bs_smtp_slot_txn(s, s->cur);
}

/* An anomaly seen now: on the open transaction, else on the next one. */
static void anomaly(struct bs_smtp_session *s, uint32_t bit)
{
	struct bs_txn *t = cur_txn(s);
	if (!t && s->msg != NOSLOT)
		t = bs_smtp_slot_txn(s, s->msg);
	if (t)
		t->anomalies |= bit;
	else
		s->next_anom |= bit;
}


/* An anomaly of the reply stream: on every transaction still waiting for
 * replies (or open), else as anomaly(). */
static void anomaly_waiting(struct bs_smtp_session *s, uint32_t bit)
{
	bool flagged = false;
	for (uint8_t k = 0; k < SLOTS; k++)
		if (s->slot[k].used && s->slot[k].t && (!s->slot[k].closed || s->slot[k].refs)) {
			s->slot[k].t->anomalies |= bit;
			flagged = true;
		}
	if (!flagged)
		anomaly(s, bit);
}

void bs_smtp_slot_end(struct bs_smtp_session *s, uint8_t k)
{
	struct slot *sl = &s->slot[k];
	if (s->msg == k)
		bs_smtp_msg_stop(s);
	if (sl->refs) {
		/* forced: forget the queued commands that pointed here */
		for (uint32_t i = 0; i < s->q_len; i++) {
			struct pending *e = &s->q[(s->q_head + i) % BS_SMTP_PENDING_MAX];
			if (e->slot == k)
				e->slot = NOSLOT;
		}
	}
	if (s->cur == k)
		s->cur = NOSLOT;
	if (s->data_slot == k)
		s->data_slot = NOSLOT;
	if (sl->t) {
		sl->t->ts_end_ns = s->now;
		s->h->txn_end(s->ctx, sl->t);
	}
	memset(sl, 0, sizeof *sl);
}

static void slot_close(struct bs_smtp_session *s, uint8_t k)
{
	if (k == NOSLOT)
		return;
	if (s->msg == k && s->cmode == M_CMD)
		bs_smtp_msg_stop(s); /* BDAT message abandoned between chunks (RSET, MAIL...) */
	s->slot[k].closed = 1;
	if (s->cur == k)
		s->cur = NOSLOT;
	if (s->slot[k].refs == 0 && s->msg != k)
		bs_smtp_slot_end(s, k);
}

static void slot_unref(struct bs_smtp_session *s, uint8_t k)
{
	if (k == NOSLOT)
		return;
	struct slot *sl = &s->slot[k];
	if (sl->refs)
		sl->refs--;
	if (sl->refs == 0 && sl->closed && s->msg != k)
		bs_smtp_slot_end(s, k);
}

static struct bs_txn *txn_new(struct bs_smtp_session *s)
{
	struct bs_txn *t = s->h->txn_alloc(s->ctx);
	s->st->transactions++;
	if (!t) {
		s->st->txn_unrecorded++;
		return NULL;
	}
	t->index = s->n_txn++;
	t->ts_ns = s->now;
	t->anomalies |= s->session_anom | s->next_anom;
	s->next_anom = 0;
	t->pipelining = s->pipelined || (s->caps & BS_SMTP_CAP_PIPELINING);
	bs_txn_set_str(t, t->helo, sizeof t->helo, s->helo, strlen(s->helo));
	return t;
}

/* A new transaction (MAIL): take a free slot, forcing out the oldest
 * closed one if a client pipelines more transactions than we have slots. */
static uint8_t slot_open(struct bs_smtp_session *s)
{
	uint8_t k;
	for (k = 0; k < SLOTS; k++)
		if (!s->slot[k].used)
			break;
	if (k == SLOTS) {
		/* all busy: force out the oldest closed one (its replies are lost) */
		uint8_t best = NOSLOT;
		for (uint8_t j = 0; j < SLOTS; j++)
			if (s->slot[j].closed && s->msg != j &&
			    (best == NOSLOT || s->slot[j].seq < s->slot[best].seq))
				best = j;
		k = best == NOSLOT ? 0 : best;
		bs_smtp_slot_end(s, k);
	}
	struct slot *sl = &s->slot[k];
	sl->used = 1;
	sl->refs = 0;
	sl->closed = 0;
	sl->seq = s->n_txn;
	uint32_t before = s->n_txn;
	sl->t = txn_new(s);
	if (!sl->t)
		s->n_txn = before + 1;
	s->cur = k;
	return k;
}

/* ------------------------------------------------------------------ */
/* pending command queue                                               */

static void q_push(struct bs_smtp_session *s, uint8_t cmd, uint8_t slot, uint16_t rcpt, uint8_t last)
{
	if (s->q_len == BS_SMTP_PENDING_MAX) {
		/* more unanswered commands than any real client pipelines: the
		 * oldest is forgotten (its reply will pair with the next one) */
		struct pending *old = &s->q[s->q_head];
		s->q_head = (s->q_head + 1) % BS_SMTP_PENDING_MAX;
		s->q_len--;
		slot_unref(s, old->slot);
		anomaly(s, BS_ANOM_GARBAGE);
	}
	/* pipelining: several commands in one segment. ("A command sent while
	 * others still wait" would be fooled by replies held up behind a hole
	 * in the capture.) */
	if (cmd != C_CONNECT && cmd != C_AUTH_LINE && ++s->call_cmds >= 2 && !s->pipelined) {
		s->pipelined = 1;
		struct bs_txn *t = cur_txn(s);
		if (t)
			t->pipelining = 1;
	}
	struct pending *e = &s->q[(s->q_head + s->q_len) % BS_SMTP_PENDING_MAX];
	e->cmd = cmd;
	e->slot = slot;
	e->rcpt = rcpt;
	e->last = last;
	s->q_len++;
	if (slot != NOSLOT)
		s->slot[slot].refs++;
}

static struct pending *q_first(struct bs_smtp_session *s)
{
	return s->q_len ? &s->q[s->q_head] : NULL;
}

static void q_pop(struct bs_smtp_session *s)
{
	s->q_head = (s->q_head + 1) % BS_SMTP_PENDING_MAX;
	s->q_len--;
}

/* ------------------------------------------------------------------ */
/* command lines                                                       */

static inline bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/* a[0..n) equals the upper-case ASCII word w, ignoring case (inline: no
 * locale-aware library call per keyword) */
static inline bool ieq(const char *a, const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = a[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 32);
		if (c != w[i])
			return false;
	}
	return true;
}

static void trim(const char **p, size_t *n)
{
	while (*n && is_sp(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_sp((*p)[*n - 1]))
		(*n)--;
}

/* The verb as 4 upper-case letters packed in an int (plus length check). */
#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static enum cmd verb_of(const char *l, size_t n, size_t *vlen, bool *plausible)
{
	size_t v = 0;
	while (v < n && !is_sp(l[v]))
		v++;
	*vlen = v;
	*plausible = true;
	if (v == 8 && ieq(l, "STARTTLS", 8))
		return C_STARTTLS;
	if (v == 8 && ieq(l, "XFORWARD", 8))
		return C_OTHER;
	if (v == 7 && ieq(l, "XCLIENT", 7))
		return C_OTHER;
	if (v != 4)
		goto unknown;
	uint32_t w = V4(l[0] & ~0x20, l[1] & ~0x20, l[2] & ~0x20, l[3] & ~0x20);
	switch (w) {
	case V4('E', 'H', 'L', 'O'): return C_EHLO;
	case V4('H', 'E', 'L', 'O'): return C_HELO;
	case V4('L', 'H', 'L', 'O'): return C_EHLO;
	case V4('M', 'A', 'I', 'L'): return C_MAIL;
	case V4('R', 'C', 'P', 'T'): return C_RCPT;
	case V4('D', 'A', 'T', 'A'): return C_DATA;
	case V4('B', 'D', 'A', 'T'): return C_BDAT;
	case V4('R', 'S', 'E', 'T'): return C_RSET;
	case V4('Q', 'U', 'I', 'T'): return C_QUIT;
	case V4('A', 'U', 'T', 'H'): return C_AUTH;
	case V4('N', 'O', 'O', 'P'): return C_NOOP;
	case V4('V', 'R', 'F', 'Y'): return C_VRFY;
	case V4('E', 'X', 'P', 'N'): return C_EXPN;
	case V4('H', 'E', 'L', 'P'): return C_HELP;
	case V4('E', 'T', 'R', 'N'):
	case V4('T', 'U', 'R', 'N'):
	case V4('A', 'T', 'R', 'N'):
	case V4('S', 'E', 'N', 'D'):
	case V4('S', 'O', 'M', 'L'):
	case V4('S', 'A', 'M', 'L'):
		return C_OTHER;
	}
unknown:
	/* an extension verb looks like a word; anything else is garbage */
	*plausible = v >= 1 && v <= 16;
	for (size_t i = 0; i < v && *plausible; i++) {
		char c = l[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			*plausible = false;
	}
	return C_UNKNOWN;
}

/* "FROM:" / "TO:" after the verb, tolerating "FROM: <a>", "FROM:a" and
 * "FROM <a>". Returns the offset just after it, or 0 if absent. */
static size_t keyword_colon(const char *a, size_t n, const char *kw)
{
	size_t i = 0, k = strlen(kw);
	while (i < n && is_sp(a[i]))
		i++;
	if (n - i < k || !ieq(a + i, kw, k))
		return 0;
	i += k;
	while (i < n && is_sp(a[i]))
		i++;
	if (i < n && a[i] == ':')
		i++;
	while (i < n && is_sp(a[i]))
		i++;
	return i;
}

/* A reverse- or forward-path at a[0..n): the address without <> and
 * without an RFC 5321 source route ("@a,@b:"), and where the parameters
 * start. */
static void parse_path(const char *a, size_t n, const char **addr, size_t *alen, size_t *rest)
{
	size_t i = 0;
	if (n && a[0] == '<') {
		const char *gt = memchr(a + 1, '>', n - 1);
		i = gt ? (size_t)(gt - a) : n;
		if (memchr(a + 1, '"', i - 1)) {
			/* quoted local part: a '>' inside quotes does not count */
			bool q = false;
			i = 1;
			while (i < n && (q || a[i] != '>')) {
				if (a[i] == '"')
					q = !q;
				else if (a[i] == '\\' && q && i + 1 < n)
					i++;
				i++;
			}
		}
		*addr = a + 1;
		*alen = i - 1;
		*rest = i < n ? i + 1 : n;
		if (i >= n) { /* no closing '>': up to white space */
			size_t j = 1;
			while (j < n && !is_sp(a[j]))
				j++;
			*alen = j - 1;
			*rest = j;
		}
	} else {
		while (i < n && !is_sp(a[i]))
			i++;
		*addr = a;
		*alen = i;
		*rest = i;
	}
	if (*alen && (*addr)[0] == '@') {
		const char *colon = memchr(*addr, ':', *alen);
		if (colon) {
			*alen -= (size_t)(colon + 1 - *addr);
			*addr = colon + 1;
		}
	}
}

static uint64_t parse_u64(const char *p, size_t n, bool *ok)
{
	uint64_t v = 0;
	*ok = n > 0 && n <= 19;
	for (size_t i = 0; i < n && *ok; i++) {
		if (p[i] < '0' || p[i] > '9')
			*ok = false;
		else
			v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return *ok ? v : 0;
}

/* ESMTP parameters of MAIL FROM: SIZE, BODY, RET, ENVID, SMTPUTF8 kept;
 * anything else (AUTH=, MT-PRIORITY=...) tolerated. */
static void mail_params(struct bs_txn *t, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && is_sp(p[i]))
			i++;
		size_t k0 = i;
		while (i < n && !is_sp(p[i]))
			i++;
		const char *kw = p + k0;
		size_t kn = i - k0;
		if (!kn)
			break;
		const char *eq = memchr(kw, '=', kn);
		size_t name_n = eq ? (size_t)(eq - kw) : kn;
		const char *val = eq ? eq + 1 : kw + kn;
		size_t vn = eq ? kn - name_n - 1 : 0;
		bool ok;
		if (name_n == 4 && ieq(kw, "SIZE", 4)) {
			uint64_t v = parse_u64(val, vn, &ok);
			if (ok)
				t->mail_size = v;
		} else if (name_n == 4 && ieq(kw, "BODY", 4)) {
			bs_txn_set_str(t, t->mail_body, sizeof t->mail_body, val, vn);
		} else if (name_n == 3 && ieq(kw, "RET", 3)) {
			bs_txn_set_str(t, t->mail_ret, sizeof t->mail_ret, val, vn);
		} else if (name_n == 5 && ieq(kw, "ENVID", 5)) {
			bs_txn_set_str(t, t->mail_envid, sizeof t->mail_envid, val, vn);
		} else if (name_n == 8 && ieq(kw, "SMTPUTF8", 8)) {
			t->smtputf8 = 1;
		}
	}
}

static void cmd_mail(struct bs_smtp_session *s, const char *a, size_t n, bool partial)
{
	if (s->cur != NOSLOT)
		slot_close(s, s->cur);
	uint8_t k = slot_open(s);
	struct bs_txn *t = s->slot[k].t;
	if (t) {
		size_t i = keyword_colon(a, n, "FROM");
		if (i == 0) {
			t->anomalies |= BS_ANOM_GARBAGE;
			s->st->garbage++;
		} else {
			const char *addr;
			size_t alen, rest;
			parse_path(a + i, n - i, &addr, &alen, &rest);
			t->has_mail_from = 1;
			t->null_sender = alen == 0;
			if (partial) /* the rest of the line was lost in a gap */
				t->anomalies |= BS_ANOM_TRUNCATED;
			bs_txn_set_str(t, t->mail_from, sizeof t->mail_from, addr, alen);
			mail_params(t, a + i + rest, n - i - rest);
		}
	}
	q_push(s, C_MAIL, k, NO_RCPT, 0);
}

static void cmd_rcpt(struct bs_smtp_session *s, const char *a, size_t n, bool partial)
{
	struct bs_txn *t = cur_txn(s);
	uint16_t idx = NO_RCPT;
	if (t) {
		size_t i = keyword_colon(a, n, "TO");
		if (t->n_rcpt_total < UINT16_MAX)
			t->n_rcpt_total++;
		if (partial) {
			/* address cut by a gap: only the pairing is kept */
		} else if (i == 0) {
			t->anomalies |= BS_ANOM_GARBAGE;
			s->st->garbage++;
		} else if (t->n_rcpt < BS_MAX_RCPT) {
			const char *addr;
			size_t alen, rest;
			parse_path(a + i, n - i, &addr, &alen, &rest);
			idx = t->n_rcpt++;
			bs_txn_set_str(t, t->rcpt[idx].addr, sizeof t->rcpt[idx].addr, addr, alen);
			t->rcpt[idx].code = 0;
		} else {
			t->anomalies |= BS_ANOM_TRUNCATED;
		}
	}
	q_push(s, C_RCPT, s->cur, idx, 0);
}

/* The current BDAT chunk is all in. */
static void bdat_chunk_done(struct bs_smtp_session *s)
{
	s->cmode = M_CMD;
	if (s->bdat_last)
		bs_smtp_msg_complete(s);
}

static void cmd_bdat(struct bs_smtp_session *s, const char *a, size_t n)
{
	trim(&a, &n);
	size_t i = 0;
	while (i < n && !is_sp(a[i]))
		i++;
	bool ok;
	uint64_t size = parse_u64(a, i, &ok);
	const char *r = a + i;
	size_t rn = n - i;
	trim(&r, &rn);
	bool last = rn == 4 && ieq(r, "LAST", 4);
	if (!ok || (rn && !last)) {
		/* the server answers 501; no chunk follows */
		s->st->garbage++;
		anomaly(s, BS_ANOM_BDAT_SIZE);
		q_push(s, C_UNKNOWN, s->cur, NO_RCPT, 0);
		return;
	}
	s->st->bdat_chunks++;
	if (!s->msg_active) {
		bs_smtp_msg_begin(s, s->cur);
		struct bs_txn *t = bs_smtp_slot_txn(s, s->msg);
		if (t)
			t->bdat = 1;
	}
	uint8_t k = s->msg;
	q_push(s, C_BDAT, k, NO_RCPT, last);
	s->bdat_left = size;
	s->bdat_last = last;
	if (last && s->cur == k)
		s->cur = NOSLOT; /* the client ended the transaction */
	if (last && k != NOSLOT)
		s->slot[k].closed = 1;
	s->cmode = M_BDAT;
	if (size == 0)
		bdat_chunk_done(s);
}

/* Picked up midstream, we may be inside a message body, where "Mail from
 * the chairman" or "Data follows" are text: only a line with the full
 * syntax of a command counts as one. */
static bool sync_line(enum cmd c, const char *l, size_t n, size_t vlen)
{
	const char *a = l + vlen;
	size_t an = n - vlen;
	switch (c) {
	case C_MAIL:
		return keyword_colon(a, an, "FROM") && an > 0 && a[0] == ' ' && memchr(a, ':', an) &&
		       (memchr(a, '<', an) != NULL);
	case C_RCPT:
		return keyword_colon(a, an, "TO") && an > 0 && a[0] == ' ' && memchr(a, '<', an) != NULL;
	case C_DATA:
	case C_RSET:
	case C_QUIT:
	case C_NOOP:
	case C_STARTTLS:
		return an == 0;
	case C_EHLO:
	case C_HELO: {
		/* a domain or an address literal */
		trim(&a, &an);
		return an > 0 && !memchr(a, ' ', an) && (memchr(a, '.', an) || a[0] == '[');
	}
	case C_BDAT:
		return an > 1 && a[0] == ' ' && a[1] >= '0' && a[1] <= '9';
	case C_AUTH:
		return an > 1 && a[0] == ' ';
	default:
		return false;
	}
}

/* `partial`: the line's end was lost in a gap (bs_smtp_gap) */
static void client_line(struct bs_smtp_session *s, const char *l, size_t n, bool cut, bool partial)
{
	if (n && l[n - 1] == '\r')
		n--;
	if (cut) {
		s->st->long_lines++;
		anomaly(s, BS_ANOM_LONG_LINE);
	}
	if (s->auth_expect) {
		/* SASL response to a 334 challenge: data, not a command */
		s->auth_expect = 0;
		s->st->commands++;
		q_push(s, C_AUTH_LINE, s->cur, NO_RCPT, 0);
		return;
	}
	size_t vlen;
	bool plausible;
	enum cmd c = verb_of(l, n, &vlen, &plausible);
	if (s->midstream && !s->cl_synced) {
		if (!sync_line(c, l, n, vlen) || s->tent_n == TENT_LINES ||
		    s->tent_len + n + 1 > TENT_BYTES) {
			/* text: what was held was text too */
			s->st->midstream_skipped_lines += 1u + s->tent_n;
			s->tent_n = 0;
			s->tent_len = 0;
			return;
		}
		s->tent_ts[s->tent_n++] = s->now;
		memcpy(s->tent + s->tent_len, l, n);
		s->tent_len = (uint16_t)(s->tent_len + n);
		s->tent[s->tent_len++] = '\n';
		return;
	}
	s->st->commands++;
	const char *a = l + vlen;
	size_t an = n - vlen;
	switch (c) {
	case C_EHLO:
	case C_HELO: {
		/* EHLO/HELO also reset any transaction (RFC 5321 4.1.4) */
		if (s->cur != NOSLOT)
			slot_close(s, s->cur);
		trim(&a, &an);
		bs_txn_set_str(NULL, s->helo, sizeof s->helo, a, an);
		q_push(s, c, NOSLOT, NO_RCPT, 0);
		break;
	}
	case C_MAIL:
		cmd_mail(s, a, an, partial);
		break;
	case C_RCPT:
		cmd_rcpt(s, a, an, partial);
		break;
	case C_DATA:
		q_push(s, C_DATA, s->cur, NO_RCPT, 0);
		s->data_slot = s->cur;
		/* the client sends content only after 354; if content shows up
		 * before we parsed that reply, it is content all the same */
		s->cmode = M_DATA_WAIT;
		break;
	case C_BDAT:
		cmd_bdat(s, a, an);
		break;
	case C_RSET:
	case C_QUIT:
		if (s->cur != NOSLOT)
			slot_close(s, s->cur);
		q_push(s, c, NOSLOT, NO_RCPT, 0);
		break;
	case C_STARTTLS:
		s->starttls_sent = 1;
		q_push(s, c, NOSLOT, NO_RCPT, 0);
		break;
	case C_AUTH:
		s->st->auth++;
		q_push(s, c, NOSLOT, NO_RCPT, 0);
		break;
	case C_UNKNOWN:
		if (!plausible) {
			s->st->garbage++;
			anomaly(s, BS_ANOM_GARBAGE);
		}
		q_push(s, c, NOSLOT, NO_RCPT, 0); /* the server answers it (500) */
		break;
	default:
		q_push(s, c, NOSLOT, NO_RCPT, 0);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* replies                                                             */

static void ehlo_keyword(struct bs_smtp_session *s, const char *k, size_t n)
{
	size_t v = 0;
	while (v < n && !is_sp(k[v]) && k[v] != '=')
		v++;
#define CAP(name, bit) { name, sizeof(name) - 1, bit }
	static const struct { const char *name; uint8_t len; uint32_t bit; } caps[] = {
		CAP("PIPELINING", BS_SMTP_CAP_PIPELINING), CAP("CHUNKING", BS_SMTP_CAP_CHUNKING),
		CAP("STARTTLS", BS_SMTP_CAP_STARTTLS),     CAP("SIZE", BS_SMTP_CAP_SIZE),
		CAP("8BITMIME", BS_SMTP_CAP_8BITMIME),     CAP("SMTPUTF8", BS_SMTP_CAP_SMTPUTF8),
		CAP("AUTH", BS_SMTP_CAP_AUTH),             CAP("DSN", BS_SMTP_CAP_DSN),
	};
#undef CAP
	/* lengths first, then an inline compare: one reply line per capability */
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		if (caps[i].len == v && bs_ascii_ieq(k, caps[i].name, v))
			s->caps |= caps[i].bit;
}

static void start_tls(struct bs_smtp_session *s)
{
	s->tls = 1;
	s->tls_ts = s->now;
	s->st->starttls++;
	s->cmode = M_TLS;
	struct bs_txn *t = cur_txn(s);
	if (t)
		t->tls = 1;
	else
		s->tls_record = 1;
}

/* A complete reply (last line seen) answers the oldest pending command. */
static void reply_done(struct bs_smtp_session *s, uint16_t code)
{
	struct pending *e = q_first(s);
	if (!e && s->cmode == M_DATA && s->msg_gap) {
		/* the server answers the end of data we lost in the gap */
		uint8_t m = s->msg;
		struct bs_txn *t = bs_smtp_slot_txn(s, m);
		if (t)
			t->data_code = code;
		s->cmode = M_CMD;
		if (s->cur == m)
			s->cur = NOSLOT;
		if (m != NOSLOT)
			s->slot[m].closed = 1;
		bs_smtp_msg_stop(s);
		if (m != NOSLOT && s->slot[m].refs == 0)
			bs_smtp_slot_end(s, m);
		return;
	}
	if (!e) {
		if (s->midstream && !s->cl_synced)
			return; /* the command was before our pick-up */
		if (s->early_n < EARLY_MAX) {
			s->early[(s->early_head + s->early_n++) % EARLY_MAX] = code;
			return;
		}
		s->st->unpaired_replies++;
		anomaly(s, BS_ANOM_UNPAIRED_REPLY);
		return;
	}
	if (code == 354 && e->cmd != C_DATA) {
		/* replies were lost (gap): skip to the DATA this one answers */
		uint32_t i;
		for (i = 1; i < s->q_len; i++)
			if (s->q[(s->q_head + i) % BS_SMTP_PENDING_MAX].cmd == C_DATA)
				break;
		if (i < s->q_len) {
			while (s->q[s->q_head].cmd != C_DATA) {
				uint8_t k = s->q[s->q_head].slot;
				q_pop(s);
				slot_unref(s, k);
			}
			e = q_first(s);
			anomaly(s, BS_ANOM_UNPAIRED_REPLY);
		}
	}
	if (e->cmd == C_DATA && code != 354 && s->q_len >= 2 &&
	    s->q[(s->q_head + 1) % BS_SMTP_PENDING_MAX].cmd == C_EOD) {
		/* the client sent the whole message, so the 354 came and was
		 * lost (gap): this reply is for the end of data */
		uint8_t k = e->slot;
		q_pop(s);
		slot_unref(s, k);
		e = q_first(s);
	}
	if (e->cmd == C_DATA && code < 400 && code != 354) {
		/* DATA is answered 354 or refused (4xx/5xx), never 2xx: this
		 * reply answers a command we did not see (lost in a hole) */
		s->st->unpaired_replies++;
		anomaly(s, BS_ANOM_UNPAIRED_REPLY);
		return;
	}
	struct pending ent = *e;
	q_pop(s);
	struct bs_txn *t = bs_smtp_slot_txn(s, ent.slot);
	switch (ent.cmd) {
	case C_MAIL:
		if (t)
			t->mail_code = code;
		break;
	case C_RCPT:
		if (t && ent.rcpt != NO_RCPT)
			t->rcpt[ent.rcpt].code = code;
		break;
	case C_DATA:
		if (code == 354) {
			if (s->cmode == M_DATA_WAIT) {
				bs_smtp_msg_begin(s, s->data_slot);
				s->cmode = M_DATA;
			}
		} else {
			if (t)
				t->data_code = code;
			if (s->cmode == M_DATA_WAIT)
				s->cmode = M_CMD;
		}
		break;
	case C_EOD:
		if (t)
			t->data_code = code;
		break;
	case C_BDAT:
		if (t && (ent.last || code >= 400))
			t->data_code = code;
		break;
	case C_STARTTLS:
		s->starttls_sent = 0;
		if (code == 220)
			start_tls(s);
		break;
	case C_AUTH:
	case C_AUTH_LINE:
		if (code == 334)
			s->auth_expect = 1;
		break;
	default:
		break;
	}
	slot_unref(s, ent.slot);
}

/* Commands arrived for replies that came first: pair them now (after the
 * command's own state change, so e.g. a refused DATA returns to commands). */
static void early_drain(struct bs_smtp_session *s)
{
	while (s->early_n && s->q_len && s->cmode != M_TLS) {
		if (q_first(s)->cmd == C_DATA && s->early[s->early_head] != 354) {
			/* a 354 only answers DATA: replies held before it answered
			 * commands we never saw (lost in the hole) */
			uint8_t j;
			for (j = 1; j < s->early_n; j++)
				if (s->early[(s->early_head + j) % EARLY_MAX] == 354)
					break;
			if (j < s->early_n) {
				s->early_head = (uint8_t)((s->early_head + j) % EARLY_MAX);
				s->early_n = (uint8_t)(s->early_n - j);
				s->st->unpaired_replies += j;
				anomaly(s, BS_ANOM_UNPAIRED_REPLY);
			}
		}
		uint16_t code = s->early[s->early_head];
		s->early_head = (uint8_t)((s->early_head + 1) % EARLY_MAX);
		s->early_n--;
		reply_done(s, code);
	}
}

/* The server answered: the held lines were commands. Replay them, each
 * with the time it was seen. */
static void tent_confirm(struct bs_smtp_session *s)
{
	uint64_t now = s->now;
	const char *p = s->tent;
	uint8_t k = s->tent_n;
	s->cl_synced = 1;
	s->tent_n = 0;
	s->tent_len = 0;
	for (uint8_t i = 0; i < k; i++) {
		const char *e = memchr(p, '\n', TENT_BYTES - (size_t)(p - s->tent));
		s->now = s->tent_ts[i];
		s->call_cmds = 0; /* segment boundaries of held lines are not known */
		client_line(s, p, (size_t)(e - p), false, false);
		p = e + 1;
	}
	s->now = now;
}

static void server_line(struct bs_smtp_session *s, const char *l, size_t n, bool cut)
{
	if (n && l[n - 1] == '\r')
		n--;
	if (cut) {
		s->st->long_lines++;
		anomaly(s, BS_ANOM_LONG_LINE);
	}
	bool ok = n >= 3 && l[0] >= '1' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
		  l[2] >= '0' && l[2] <= '9' && (n == 3 || l[3] == ' ' || l[3] == '-');
	if (!ok) {
		if (s->midstream && !s->sv_synced) {
			s->st->midstream_skipped_lines++;
			return;
		}
		s->st->garbage++;
		anomaly(s, BS_ANOM_GARBAGE);
		return;
	}
	s->sv_synced = 1;
	uint16_t code = (uint16_t)((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0'));
	bool more = n > 3 && l[3] == '-';
	if (!s->reply_cont) {
		s->reply_lines = 0;
		s->reply_code = code;
	}
	s->reply_lines++;
	/* capabilities: lines after the first of a 250 reply to EHLO (or of a
	 * multi-line 250 that came before its command: held behind a hole) */
	struct pending *e = q_first(s);
	if ((e ? e->cmd == C_EHLO && !s->early_n : !s->midstream || s->cl_synced) && code == 250 &&
	    s->reply_lines > 1 && n > 4)
		ehlo_keyword(s, l + 4, n - 4);
	if (more) {
		s->reply_cont = 1;
		return;
	}
	s->reply_cont = 0;
	s->st->replies++;
	if (s->midstream && !s->cl_synced && s->tent_n)
		tent_confirm(s);
	reply_done(s, s->reply_code);
}

/* ------------------------------------------------------------------ */
/* line assembly                                                       */

/* Take bytes up to and including the next LF. Returns bytes consumed;
 * *line and *len are set when a line is complete (*line NULL otherwise). */
static uint32_t take_line(struct line *ln, const uint8_t *p, uint32_t n, const char **line,
			  size_t *len, bool *cut)
{
	const uint8_t *nl = memchr(p, '\n', n);
	uint32_t k = nl ? (uint32_t)(nl - p) : n;  /* bytes before the LF */
	*line = NULL;
	if (ln->discard) {
		if (nl)
			ln->discard = 0;
		return nl ? k + 1 : n;
	}
	if (nl && ln->len == 0 && !ln->overflow) {
		/* whole line in this segment: no copy */
		if (k > BS_SMTP_LINE_MAX) {
			*line = (const char *)p;
			*len = BS_SMTP_LINE_MAX;
			*cut = true;
		} else {
			*line = (const char *)p;
			*len = k;
			*cut = false;
		}
		return k + 1;
	}
	uint32_t room = BS_SMTP_LINE_MAX - ln->len;
	uint32_t c = k < room ? k : room;
	memcpy(ln->buf + ln->len, p, c);
	ln->len += c;
	if (k > room)
		ln->overflow = 1;
	if (!nl)
		return n;
	*line = ln->buf;
	*len = ln->len;
	*cut = ln->overflow;
	ln->len = 0;
	ln->overflow = 0;
	return k + 1;
}

/* ------------------------------------------------------------------ */
/* entry points                                                        */

void bs_smtp_session_init(struct bs_smtp_session *s, const struct bs_smtp_hooks *h, void *ctx,
			  struct bs_smtp_stats *st, bool midstream)
{
	/* only the fixed part is cleared; the big buffers are written before read */
	memset(s, 0, offsetof(struct bs_smtp_session, hdr));
	s->h = h;
	s->ctx = ctx;
	s->st = st;
	s->cur = NOSLOT;
	s->msg = NOSLOT;
	s->data_slot = NOSLOT;
	s->early_head = s->early_n = 0;
	s->tent_len = 0;
	s->tent_n = 0;
	s->q_head = s->q_len = 0;
	s->helo[0] = '\0';
	s->cl.len = s->sv.len = 0;
	s->cl.overflow = s->sv.overflow = 0;
	s->cl.discard = s->sv.discard = 0;
	s->midstream = midstream;
	if (midstream)
		s->session_anom = BS_ANOM_MIDSTREAM;
	else
		q_push(s, C_CONNECT, NOSLOT, NO_RCPT, 0);
}

/* After a gap we drop bytes up to the next line end, unless the first bytes
 * after the hole plainly start a line (segments usually end at line ends). */
static bool looks_like_reply(const uint8_t *p, uint32_t n)
{
	return n >= 4 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
	       p[2] <= '9' && (p[3] == ' ' || p[3] == '-' || p[3] == '\r' || p[3] == '\n');
}

static bool looks_like_command(const uint8_t *p, uint32_t n)
{
	const uint8_t *e = memchr(p, '\n', n);
	size_t len = e ? (size_t)(e - p) : n, vlen;
	bool plausible;
	if (!e && n < 10)
		return false; /* too little to tell */
	return verb_of((const char *)p, len, &vlen, &plausible) != C_UNKNOWN &&
	       (vlen == len || p[vlen] == ' ' || p[vlen] == '\r');
}

static void client_data(struct bs_smtp_session *s, const uint8_t *p, uint32_t n)
{
	while (n) {
		switch (s->cmode) {
		case M_DATA_WAIT:
			bs_smtp_msg_begin(s, s->data_slot);
			s->cmode = M_DATA;
			/* fall through */
		case M_DATA: {
			bool eod;
			uint32_t k = bs_smtp_data_scan(s, p, n, &eod);
			p += k;
			n -= k;
			if (eod) {
				uint8_t m = s->msg;
				s->cmode = M_CMD;
				s->st->commands++;
				q_push(s, C_EOD, m, NO_RCPT, 0);
				if (s->cur == m)
					s->cur = NOSLOT;
				if (m != NOSLOT)
					s->slot[m].closed = 1;
				bs_smtp_msg_complete(s);
				early_drain(s);
			}
			break;
		}
		case M_BDAT: {
			uint32_t k = s->bdat_left < n ? (uint32_t)s->bdat_left : n;
			if (k) {
				if (bs_smtp_msg_skipping(s))
					bs_smtp_data_run(s, p, 0, k); /* counts only */
				else
					bs_smtp_msg_bytes(s, p, k);
			}
			s->bdat_left -= k;
			p += k;
			n -= k;
			if (s->bdat_left == 0)
				bdat_chunk_done(s);
			break;
		}
		case M_CMD: {
			if (s->cl.discard && looks_like_command(p, n))
				s->cl.discard = 0;
			if (s->starttls_sent && p[0] == 0x16 && s->cl.len == 0) {
				/* a TLS record right after STARTTLS: the 220 was not
				 * parsed yet (or lost); the session is encrypted now */
				start_tls(s);
				return;
			}
			const char *l;
			size_t len;
			bool cut;
			uint32_t k = take_line(&s->cl, p, n, &l, &len, &cut);
			p += k;
			n -= k;
			if (l) {
				client_line(s, l, len, cut, false);
				early_drain(s);
			}
			break;
		}
		default: /* M_TLS, M_DEAD */
			return;
		}
	}
}

static void server_data(struct bs_smtp_session *s, const uint8_t *p, uint32_t n)
{
	if (s->sv.discard && looks_like_reply(p, n))
		s->sv.discard = 0;
	while (n && s->cmode != M_TLS && s->cmode != M_DEAD) {
		const char *l;
		size_t len;
		bool cut;
		uint32_t k = take_line(&s->sv, p, n, &l, &len, &cut);
		p += k;
		n -= k;
		if (l)
			server_line(s, l, len, cut);
	}
}

void bs_smtp_data(struct bs_smtp_session *s, bool from_client, const uint8_t *p, uint32_t n,
		  uint64_t ts_ns)
{
	if (s->ended || n == 0)
		return;
	s->now = ts_ns;
	s->call_cmds = 0;
	if (from_client)
		client_data(s, p, n);
	else
		server_data(s, p, n);
}

void bs_smtp_gap(struct bs_smtp_session *s, bool from_client, uint32_t n)
{
	if (s->ended || s->cmode == M_TLS || n == 0)
		return;
	s->st->gaps++;
	if (!from_client) {
		/* a reply line cut by the gap still answers a command when its
		 * code made it (the text is lost); then resync on the next line */
		if (s->sv.len >= 4 && !s->sv.overflow)
			server_line(s, s->sv.buf, s->sv.len, false);
		s->sv.len = 0;
		s->sv.overflow = 0;
		s->sv.discard = 1;
		s->reply_cont = 0;
		anomaly_waiting(s, BS_ANOM_GAP);
		return;
	}
	if (s->cmode == M_DATA_WAIT) {
		bs_smtp_msg_begin(s, s->data_slot);
		s->cmode = M_DATA;
	}
	if (s->cmode == M_DATA || s->cmode == M_BDAT) {
		struct bs_txn *t = bs_smtp_slot_txn(s, s->msg);
		if (t)
			t->anomalies |= BS_ANOM_GAP;
		else
			anomaly(s, BS_ANOM_GAP);
		uint32_t in_msg = n;
		if (s->cmode == M_BDAT && n > s->bdat_left)
			in_msg = (uint32_t)s->bdat_left;
		bs_mail_hdr_gap(&s->hdr);
		/* the missing bytes count as message bytes of unknown content */
		s->msg_off += in_msg;
		if (t)
			t->size = s->msg_off;
		if (s->cmode == M_DATA) {
			/* TCP segments mostly end at line ends: assume the bytes after
			 * the hole start a line, so a lone ".\r\n" still ends the data
			 * (and a lost marker is recovered from the server's reply) */
			s->dstate = D_LINE_START;
			s->msg_gap = 1;
			return;
		}
		s->bdat_left -= in_msg;
		n -= in_msg;
		if (s->bdat_left == 0)
			bdat_chunk_done(s);
		if (n == 0)
			return;
	}
	if (s->cl.len && !s->cl.overflow && !s->auth_expect) {
		/* a command cut by the gap is still answered by the server: keep
		 * it in the queue when its verb is whole (not DATA/BDAT: what
		 * follows them is content we could not delimit) */
		size_t vlen;
		bool plausible;
		enum cmd c = verb_of(s->cl.buf, s->cl.len, &vlen, &plausible);
		if (c != C_UNKNOWN && c != C_DATA && c != C_BDAT && c != C_STARTTLS && vlen < s->cl.len) {
			client_line(s, s->cl.buf, s->cl.len, false, true);
			early_drain(s);
		}
	}
	anomaly(s, BS_ANOM_GAP);
	s->cl.len = 0;
	s->cl.overflow = 0;
	s->cl.discard = 1;
}

void bs_smtp_flag(struct bs_smtp_session *s, uint32_t anom)
{
	if (!s->ended && s->cmode != M_TLS)
		anomaly(s, anom);
}

void bs_smtp_session_end(struct bs_smtp_session *s, uint32_t anom, uint64_t ts_ns)
{
	if (s->ended)
		return;
	if (ts_ns)
		s->now = ts_ns;
	if (s->early_n) {
		/* replies whose commands never came */
		s->st->unpaired_replies += s->early_n;
		anomaly_waiting(s, BS_ANOM_UNPAIRED_REPLY);
		s->early_n = 0;
	}
	/* the message in progress is cut short */
	if (s->msg_active) {
		struct bs_txn *t = bs_smtp_slot_txn(s, s->msg);
		if (t && !s->tls)
			t->anomalies |= BS_ANOM_INCOMPLETE;
		bs_smtp_msg_stop(s);
	}
	for (uint8_t k = 0; k < SLOTS; k++) {
		struct slot *sl = &s->slot[k];
		if (!sl->used)
			continue;
		if (sl->t) {
			sl->t->anomalies |= anom;
			/* still open, or its replies never came */
			if (!s->tls && (!sl->closed || sl->refs))
				sl->t->anomalies |= BS_ANOM_INCOMPLETE;
		}
		sl->refs = 0;
		bs_smtp_slot_end(s, k);
	}
	if (s->tls && s->tls_record) {
		/* the encrypted rest of the session gets a record of its own so
		 * the event log shows it (index = next transaction, no envelope) */
		uint64_t end = s->now;
		s->now = s->tls_ts;
		struct bs_txn *t = txn_new(s);
		s->now = end;
		if (t) {
			t->tls = 1;
			t->anomalies |= anom;
			t->ts_end_ns = end;
			s->h->txn_end(s->ctx, t);
		}
	}
	s->q_len = 0;
	s->cmode = M_DEAD;
	s->ended = 1;
}
