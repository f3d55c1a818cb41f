/* Original-message field names, inline markers and Received parsing. */
#include "orig_fields.h"
#include <string.h>
#include <strings.h>
#include <ctype.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "../textscan.h"

int bs_orig_field_kind(const char *name, size_t nlen)
{
	static const char *const strong[] = {
		"Received", "Return-Path", "Message-ID", "DKIM-Signature", "X-Received",
		"Authentication-Results", "Delivered-To", "Received-SPF", "X-Originating-IP",
		"ARC-Seal", "X-Google-DKIM-Signature",
	};
	static const char *const known[] = {
		"From", "To", "Cc", "Subject", "Date", "Reply-To", "Sender", "MIME-Version",
		"Content-Type", "Content-Transfer-Encoding", "X-Mailer", "References",
		"In-Reply-To", "User-Agent", "Envelope-To", "Delivery-Date", "Errors-To",
		"X-Sender", "X-Priority", "Importance", "Thread-Index",
	};
	for (size_t i = 0; i < sizeof(strong) / sizeof(strong[0]); i++)
		if (strlen(strong[i]) == nlen && bs_ascii_ieq(name, strong[i], nlen))
			return BS_OFK_STRONG;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == nlen && bs_ascii_ieq(name, known[i], nlen))
			return BS_OFK_KNOWN;
	return BS_OFK_NONE;
}

enum { A_MSG = 1, A_MAIL = 2, A_HDR = 4, A_COPY = 8, A_SCRIPT = 16 };

/* Which of the anchor words ("ssag", "mail", "ader", "copy", "ript",
 * case folded with |0x20) occur in line[0..n). Every text line of a bounce
 * candidate's body passes here, so 16 window positions are tested per
 * step (SSE2); the last windows, for which a 16-byte load would pass the
 * end of the line, go through a rolling 4-byte window. */
static unsigned marker_anchors(const char *line, size_t n)
{
	unsigned anchors = 0;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i fold = _mm_set1_epi8(0x20);
	for (; i + 19 <= n; i += 16) {
		__m128i b0 = _mm_or_si128(_mm_loadu_si128((const __m128i *)(line + i)), fold);
		__m128i b1 = _mm_or_si128(_mm_loadu_si128((const __m128i *)(line + i + 1)), fold);
		__m128i b2 = _mm_or_si128(_mm_loadu_si128((const __m128i *)(line + i + 2)), fold);
		__m128i b3 = _mm_or_si128(_mm_loadu_si128((const __m128i *)(line + i + 3)), fold);
#define WORD_AT(c0, c1, c2, c3)                                                                          \
	_mm_movemask_epi8(_mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(b0, _mm_set1_epi8(c0)),             \
						      _mm_cmpeq_epi8(b1, _mm_set1_epi8(c1))),            \
					_mm_and_si128(_mm_cmpeq_epi8(b2, _mm_set1_epi8(c2)),             \
						      _mm_cmpeq_epi8(b3, _mm_set1_epi8(c3)))))
		anchors |= (WORD_AT('s', 's', 'a', 'g') ? A_MSG : 0) | (WORD_AT('m', 'a', 'i', 'l') ? A_MAIL : 0) |
			   (WORD_AT('a', 'd', 'e', 'r') ? A_HDR : 0) | (WORD_AT('c', 'o', 'p', 'y') ? A_COPY : 0) |
			   (WORD_AT('r', 'i', 'p', 't') ? A_SCRIPT : 0);
#undef WORD_AT
	}
#endif
	/* windows starting at i and later (a window of fewer than 4 bytes
	 * has a zero top byte and matches no word) */
	uint32_t w = 0;
	for (; i < n; i++) {
		w = w << 8 | (uint8_t)(line[i] | 0x20);
		anchors |= (w == 0x73736167u ? A_MSG : 0) | (w == 0x6d61696cu ? A_MAIL : 0) |
			   (w == 0x61646572u ? A_HDR : 0) | (w == 0x636f7079u ? A_COPY : 0) |
			   (w == 0x72697074u ? A_SCRIPT : 0);
	}
	return anchors;
}

int bs_inline_marker_kind(const char *line, size_t n, bool *weak)
{
	*weak = false;
	char low[161];
	/* marker lines are short; long lines are prose or encoded data */
	if (n < 10 || n > 160)
		return BS_MARK_NONE;
	/* cheap filter before any copying: every marker names a message
	 * ("ssag"), mail ("mail"), header ("ader"), copy ("copy") or
	 * transcript ("ript"); most text lines name none. |0x20 folds case
	 * (non-letters may alias, which only costs a closer look). */
	unsigned anchors = marker_anchors(line, n);
	if (!anchors)
		return BS_MARK_NONE;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)line[i]);
	low[n] = '\0';
#define M(s, kind, anchor) { s, sizeof(s) - 1, kind, anchor }
	static const struct { const char *s; uint8_t len, kind, anchor; } tab[] = {
		M("below this line is a copy of the message", BS_MARK_QMAIL, A_COPY),
		M("this is a copy of the message", BS_MARK_EXIM, A_COPY),
		M("this is a copy of your message", BS_MARK_EXIM, A_COPY),
		M("original message follows", BS_MARK_SENDMAIL, A_MSG),
		M("unsent message follows", BS_MARK_SENDMAIL, A_MSG),
		M("unsent message below", BS_MARK_SENDMAIL, A_MSG),
		M("transcript of session follows", BS_MARK_SENDMAIL, A_SCRIPT),
		M("original message headers", BS_MARK_EXCHANGE, A_MSG),
		M("following header fields", BS_MARK_NOTES, A_HDR),
		M("returned message", BS_MARK_GENERIC, A_MSG),
		M("returned mail", BS_MARK_GENERIC, A_MAIL),
		M("message headers follow", BS_MARK_GENERIC, A_MSG),
		M("message header follows", BS_MARK_GENERIC, A_MSG),
		M("header of the original message", BS_MARK_GENERIC, A_HDR),
		M("copy of the original message", BS_MARK_GENERIC, A_COPY),
		M("header of the source mail", BS_MARK_GENERIC, A_HDR),
		M("lines of the message follow", BS_MARK_GENERIC, A_MSG),
		M("message text follows", BS_MARK_GENERIC, A_MSG),
		M("your message reads", BS_MARK_GENERIC, A_MSG),
		M("undelivered message you sent follows", BS_MARK_GENERIC, A_MSG),
		M("original message", BS_MARK_GENERIC, A_MSG),   /* last: weak, see below */
	};
#undef M
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if ((anchors & tab[i].anchor) && memmem(low, n, tab[i].s, tab[i].len)) {
			/* a bare "original message" also introduces quoted replies
			 * (Outlook's "-----Original Message-----" From/Sent/To) */
			*weak = i == sizeof(tab) / sizeof(tab[0]) - 1;
			return tab[i].kind;
		}
	return BS_MARK_NONE;
}

static bool is_ip_text(const char *s, size_t n)
{
	size_t dots = 0, colons = 0;
	if (n < 3 || n >= BS_FACT_IP_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.')
			dots++;
		else if (c == ':')
			colons++;
		else if (!isxdigit((unsigned char)c))
			return false;
	}
	return dots == 3 || colons >= 2;
}

static bool is_host_text(const char *s, size_t n)
{
	bool dot = false, alpha = false;
	if (n == 0 || n >= BS_FACT_HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.')
			dot = true;
		else if (isalpha(c))
			alpha = true;
		else if (!isdigit(c) && c != '-' && c != '_')
			return false;
	}
	return dot && alpha;
}

static void put(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static bool is_sp(char c)
{
	return c == ' ' || c == '\t';
}

/* token at s[i..): up to whitespace or one of the stop characters */
static size_t tok_end(const char *s, size_t i, size_t n)
{
	while (i < n && !is_sp(s[i]) && s[i] != '(' && s[i] != ')' && s[i] != ';' && s[i] != '[')
		i++;
	return i;
}

/* position of keyword kw as a word in s[from..to), outside comments
 * (Postfix's "by host (Postfix, from userid 1000)" has no from clause),
 * or to */
static size_t find_word(const char *s, size_t from, size_t to, const char *kw)
{
	size_t kl = strlen(kw);
	unsigned depth = 0;
	for (size_t i = from; i + kl <= to; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && depth > 0)
			depth--;
		if (depth > 0 || strncasecmp(s + i, kw, kl))
			continue;
		bool before = i == 0 || is_sp(s[i - 1]) || s[i - 1] == ')';
		bool after = i + kl == to || is_sp(s[i + kl]);
		if (before && after)
			return i;
	}
	return to;
}

void bs_received_parse(struct bs_received_hop *h, const char *v, size_t n)
{
	memset(h, 0, sizeof(*h));
	/* the date follows the last ';' */
	size_t end = n;
	for (size_t i = n; i > 0; i--)
		if (v[i - 1] == ';') {
			end = i - 1;
			break;
		}
	/* a leading comment is not a clause: "(qmail 1234 invoked from network)" */
	size_t start = 0;
	while (start < end && is_sp(v[start]))
		start++;
	if (start < end && v[start] == '(') {
		const char *close = memchr(v + start, ')', end - start);
		start = close ? (size_t)(close - v) + 1 : end;
	}
	size_t fromw = find_word(v, start, end, "from");
	size_t byw = find_word(v, fromw < end ? fromw : start, end, "by");
	if (byw < end) {
		size_t s = byw + 2;
		while (s < end && is_sp(v[s]))
			s++;
		size_t e = tok_end(v, s, end);
		put(h->by_host, sizeof(h->by_host), v + s, e - s);
	}
	if (fromw >= end)
		return;
	size_t s = fromw + 4;
	while (s < byw && is_sp(v[s]))
		s++;
	size_t e = tok_end(v, s, byw);
	put(h->from_host, sizeof(h->from_host), v + s, e - s);
	/* the "from" clause's comment: rdns and [ip] */
	bool helo = false;
	for (size_t i = e; i < byw; i++) {
		if (v[i] == '[') {
			size_t j = i + 1;
			while (j < byw && v[j] != ']')
				j++;
			size_t a = i + 1;
			if (j - a > 5 && !strncasecmp(v + a, "IPv6:", 5))
				a += 5;
			if (!h->from_ip[0] && j < byw && is_ip_text(v + a, j - a))
				put(h->from_ip, sizeof(h->from_ip), v + a, j - a);
			i = j;
			continue;
		}
		if (is_sp(v[i]) || v[i] == '(' || v[i] == ')')
			continue;
		size_t te = tok_end(v, i, byw);
		size_t tl = te - i;
		if (tl == 0) {
			continue;
		}
		if ((tl == 4 && (!strncasecmp(v + i, "HELO", 4) || !strncasecmp(v + i, "EHLO", 4)))) {
			helo = true;        /* the next token is the client's claim, not its rdns */
		} else if (helo) {
			helo = false;
		} else if (!h->from_ip[0] && is_ip_text(v + i, tl)) {
			put(h->from_ip, sizeof(h->from_ip), v + i, tl);
		} else if (!h->from_rdns[0] && is_host_text(v + i, tl) && !memchr(v + i, '=', tl)) {
			put(h->from_rdns, sizeof(h->from_rdns), v + i, tl);
		}
		i = te - 1;
	}
	/* Sendmail appends "(may be forged)" when the name's forward lookup
	 * did not confirm it: then it is no looked-up name */
	for (size_t i = e; i + 13 <= byw; i++)
		if (!strncasecmp(v + i, "may be forged", 13)) {
			h->from_rdns[0] = '\0';
			break;
		}
}
