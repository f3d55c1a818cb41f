/* Header-block parser and RFC 2047 decoding: unfolding, the kept fields,
 * encoded-word variants and charsets, mbox "From " line, LF/CR-only line
 * ends, the header/body boundary, splits at every byte, over-long fields,
 * missing blank line, gaps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mail_hdr.h"
#include "rfc2047.h"

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { failures++; \
	fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); if (strcmp(_a, _b) != 0) { failures++; \
	fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, _a, _b); } } while (0)

static struct bs_mail_hdr H;
static struct bs_txn T;

/* Parse msg given as chunks split at the offsets in cuts[] (ascending);
 * returns the header size (bytes consumed). */
static size_t parse(const char *msg, size_t n, const size_t *cuts, int ncuts, bool end)
{
	memset(&T, 0, sizeof T);
	bs_mail_hdr_init(&H);
	size_t consumed = 0, pos = 0;
	for (int c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : n;
		size_t k = bs_mail_hdr_feed(&H, (const uint8_t *)msg + pos, to - pos, bs_mail_hdr_store_field, &T);
		consumed += k;
		if (!bs_mail_hdr_done(&H) && k != to - pos) {
			failures++;
			fprintf(stderr, "feed returned %zu of %zu while the header goes on\n", k, to - pos);
		}
		pos = to;
	}
	if (end)
		bs_mail_hdr_end(&H, bs_mail_hdr_store_field, &T);
	return consumed;
}

static size_t parse1(const char *msg)
{
	return parse(msg, strlen(msg), NULL, 0, true);
}

static const char *FULL =
	"From MAILER-DAEMON  Thu Jan  1 00:00:00 2026\r\n"
	"Received: from mx2.example.net (mx2.example.net [192.0.2.7])\r\n"
	"\tby mx1.example.org (Postfix) with ESMTP id 4F2A1;\r\n"
	"\tThu, 1 Jan 2026 00:00:00 +0000\r\n"
	"Received: from older.example by mx2.example.net\r\n"
	"Return-Path: <>\r\n"
	"Message-ID:\r\n <20260101.ABC@mx2.example.net>\r\n"
	"From: =?ISO-8859-1?Q?Mail_Delivery_Syst=E8me?= <MAILER-DAEMON@mx2.example.net>\r\n"
	"To: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>\r\n"
	"Subject: =?utf-8?q?Undeliverable:_caf=C3=A9?=\r\n"
	" =?utf-8?B?IOKAkyByZXR1cm5lZA==?=\r\n"
	"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	"Auto-Submitted: auto-replied\r\n"
	"Content-Type: multipart/report; report-type=delivery-status;\r\n"
	"\tboundary=\"=_bound ary;1\"\r\n"
	"Subject: second subject is ignored\r\n"
	"\r\n"
	"This is the body.\r\n";

static void check_full(const char *where)
{
	int before = failures;
	CHECK_STR(T.subject, "Undeliverable: café – returned");
	CHECK_STR(T.from, "Mail Delivery Système <MAILER-DAEMON@mx2.example.net>");
	CHECK_STR(T.to, "Jürgen <j@example.org>");
	CHECK_STR(T.message_id, "<20260101.ABC@mx2.example.net>");
	CHECK_STR(T.date, "Thu, 1 Jan 2026 00:00:00 +0000");
	CHECK_STR(T.auto_submitted, "auto-replied");
	CHECK_STR(T.return_path, "");
	CHECK_STR(T.content_type,
		  "multipart/report; report-type=delivery-status;\tboundary=\"=_bound ary;1\"");
	CHECK_STR(T.boundary, "=_bound ary;1");
	CHECK_EQ(T.n_received, 2);
	CHECK_STR(T.received_first, "from mx2.example.net (mx2.example.net [192.0.2.7])\tby mx1.example.org "
				    "(Postfix) with ESMTP id 4F2A1;\tThu, 1 Jan 2026 00:00:00 +0000");
	CHECK_EQ(T.anomalies, 0);
	CHECK_EQ(H.n_skipped, 1); /* the mbox line */
	if (failures != before)
		fprintf(stderr, "  (%s)\n", where);
}

static void test_full_and_splits(void)
{
	size_t n = strlen(FULL);
	size_t hdr = (size_t)(strstr(FULL, "\r\n\r\n") - FULL) + 4;
	CHECK_EQ(parse1(FULL), hdr);
	check_full("one chunk");
	for (size_t a = 0; a <= n && failures < 20; a++) {
		size_t cuts[1] = { a };
		CHECK_EQ(parse(FULL, n, cuts, 1, true), hdr);
		char w[32];
		snprintf(w, sizeof w, "split at %zu", a);
		check_full(w);
	}
	/* every byte its own chunk */
	static size_t cuts[4096];
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	CHECK_EQ(parse(FULL, n, cuts, (int)n - 1, true), hdr);
	check_full("byte by byte");
	/* pairs of split points (a sample) */
	for (size_t a = 1; a < n && failures < 20; a += 3)
		for (size_t b = a; b < n; b += 11) {
			size_t c2[2] = { a, b };
			CHECK_EQ(parse(FULL, n, c2, 2, true), hdr);
			check_full("two splits");
		}
}

static void test_line_ends(void)
{
	/* LF only */
	const char *lf = "Subject: lf\n folded\nFrom: a@b\n\nbody\n";
	CHECK_EQ(parse1(lf), strlen("Subject: lf\n folded\nFrom: a@b\n\n"));
	CHECK_STR(T.subject, "lf folded");
	CHECK_STR(T.from, "a@b");
	/* CR only (old Mac), split after every CR */
	const char *cr = "Subject: mac\r folded\rFrom: c@d\r\rbody\r";
	size_t hcr = strlen("Subject: mac\r folded\rFrom: c@d\r\r");
	for (size_t a = 0; a <= strlen(cr); a++) {
		size_t cuts[1] = { a };
		CHECK_EQ(parse(cr, strlen(cr), cuts, 1, true), hcr);
		CHECK_STR(T.subject, "mac folded");
		CHECK_STR(T.from, "c@d");
	}
	/* mixed: CRLF, LF, CR */
	const char *mix = "Subject: m\r\nTo: x\nFrom: y\r\r\nbody";
	CHECK_EQ(parse1(mix), strlen("Subject: m\r\nTo: x\nFrom: y\r\r\n")); /* "y\r" ends a line, "\r\n" is the blank one */
	CHECK_STR(T.to, "x");
	CHECK_STR(T.from, "y");
	/* a blank line ended by CR then LF in the next chunk is one line end */
	const char *crlf = "Subject: s\r\n\r\nbody";
	size_t cuts[1] = { 13 };
	CHECK_EQ(parse(crlf, strlen(crlf), cuts, 1, true), 14);
}

static void test_boundaries_and_oddities(void)
{
	/* no blank line: the message ends inside the header */
	const char *nb = "Subject: no blank\r\nFrom: z@z";
	CHECK_EQ(parse(nb, strlen(nb), NULL, 0, false), strlen(nb));
	CHECK(!bs_mail_hdr_done(&H));
	CHECK_STR(T.from, ""); /* not complete yet */
	bs_mail_hdr_end(&H, bs_mail_hdr_store_field, &T);
	CHECK_STR(T.from, "z@z");
	CHECK_STR(T.subject, "no blank");

	/* a line that is no field starts the body */
	const char *bad = "Subject: a\r\nthis is body text\r\nFrom: not@header\r\n\r\n";
	CHECK_EQ(parse1(bad), strlen("Subject: a\r\n"));
	CHECK_STR(T.subject, "a");
	CHECK_STR(T.from, "");
	/* ... also when the decision falls in a later chunk */
	size_t cuts[1] = { 16 };
	CHECK_EQ(parse(bad, strlen(bad), cuts, 1, true), 16);

	/* a continuation with nothing to continue is skipped */
	CHECK_EQ(parse1(" orphan\r\nSubject: s\r\n\r\n"), strlen(" orphan\r\nSubject: s\r\n\r\n"));
	CHECK_STR(T.subject, "s");
	CHECK_EQ(H.n_skipped, 1);

	/* empty header block */
	CHECK_EQ(parse1("\r\nbody"), 2);
	CHECK_EQ(H.n_fields, 0);

	/* an mbox line is only skipped as the first line */
	CHECK_EQ(parse1("Subject: x\r\nFrom someone\r\n\r\n"), strlen("Subject: x\r\n"));

	/* first occurrence wins; names are case-insensitive; values trimmed */
	parse1("sUbJeCt:   first   \r\nSubject: second\r\nMESSAGE-ID: <a@b>\r\nmessage-id: <c@d>\r\n\r\n");
	CHECK_STR(T.subject, "first");
	CHECK_STR(T.message_id, "<a@b>");
	/* empty value still counts as the occurrence */
	parse1("Subject:\r\nSubject: later\r\n\r\n");
	CHECK_STR(T.subject, "");

	/* 8-bit raw header text is kept as it is */
	parse1("Subject: r\xc3\xa9sum\xc3\xa9 \xe9t\xe9\r\n\r\n");
	CHECK_STR(T.subject, "r\xc3\xa9sum\xc3\xa9 \xe9t\xe9");

	/* Return-Path with an address, Content-Type with a token boundary */
	parse1("Return-Path: <bounce+x=y@lists.example>\r\nContent-Type: multipart/mixed; boundary=abc123\r\n\r\n");
	CHECK_STR(T.return_path, "bounce+x=y@lists.example");
	CHECK_STR(T.boundary, "abc123");
}

static void test_long_fields_and_gap(void)
{
	static char msg[8192];
	int k = sprintf(msg, "Subject: ");
	for (int i = 0; i < 3000; i++)
		msg[k++] = (char)('a' + i % 26);
	k += sprintf(msg + k, "\r\nX-Long: ");
	for (int i = 0; i < 3000; i++)
		msg[k++] = 'x';
	k += sprintf(msg + k, "\r\nFrom: after@long\r\n\r\n");
	CHECK_EQ(parse1(msg), (size_t)k);
	CHECK_EQ(strlen(T.subject), BS_HDR_MAX - 1);
	CHECK(T.anomalies & BS_ANOM_TRUNCATED);
	CHECK_STR(T.from, "after@long");
	CHECK_EQ(H.n_truncated, 2);

	/* a long field that does not matter to the event sets no anomaly */
	k = sprintf(msg, "X-Long: ");
	for (int i = 0; i < 3000; i++)
		msg[k++] = 'x';
	k += sprintf(msg + k, "\r\nSubject: s\r\n\r\n");
	parse1(msg);
	CHECK_EQ(T.anomalies, 0);
	CHECK_STR(T.subject, "s");

	/* a field name longer than the buffer is no field */
	k = 0;
	for (int i = 0; i < BS_MAIL_FIELD_MAX + 10; i++)
		msg[k++] = 'N';
	k += sprintf(msg + k, ": v\r\n\r\n");
	CHECK_EQ(parse1(msg), 0);

	/* gap: the partial field is dropped, the next line parses */
	memset(&T, 0, sizeof T);
	bs_mail_hdr_init(&H);
	const char *a = "Subject: lost", *b = "rest\r\nTo: kept@x\r\n\r\n";
	bs_mail_hdr_feed(&H, (const uint8_t *)a, strlen(a), bs_mail_hdr_store_field, &T);
	bs_mail_hdr_gap(&H);
	CHECK_EQ(bs_mail_hdr_feed(&H, (const uint8_t *)b, strlen(b), bs_mail_hdr_store_field, &T), strlen(b));
	CHECK_STR(T.subject, "");
	CHECK_STR(T.to, "kept@x");
	CHECK(bs_mail_hdr_done(&H));
	CHECK_EQ(bs_mail_hdr_feed(&H, (const uint8_t *)b, strlen(b), bs_mail_hdr_store_field, &T), 0);
}

static void dec(const char *in, const char *want, int line)
{
	char out[512];
	bs_rfc2047_decode(in, strlen(in), out, sizeof out, NULL);
	if (strcmp(out, want) != 0) {
		failures++;
		fprintf(stderr, "%s:%d: decode(\"%s\") is \"%s\", expected \"%s\"\n", __FILE__, line, in, out, want);
	}
}
#define DEC(in, want) dec(in, want, __LINE__)

static void test_rfc2047(void)
{
	/* RFC 2047 section 8 examples */
	DEC("=?ISO-8859-1?Q?a?=", "a");
	DEC("=?ISO-8859-1?Q?a?= b", "a b");
	DEC("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab");
	DEC("=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=", "ab");
	DEC("=?ISO-8859-1?Q?a?=\r\n   \t=?ISO-8859-1?Q?b?=", "ab");
	DEC("=?ISO-8859-1?Q?a_b?=", "a b");
	DEC("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b");
	DEC("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	DEC("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>");
	DEC("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", "Keld Jørn Simonsen <keld@dkuug.dk>");
	DEC("=?ISO-8859-1?Q?Andr=E9?= Pirard", "André Pirard");
	DEC("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	    "If you can read this you understand the example.");
	/* case, padding, language suffix (RFC 2231) */
	DEC("=?utf-8?b?w6l0w6k=?=", "été");
	DEC("=?UTF-8?B?w6l0w6k?=", "été");
	DEC("=?utf-8?q?caf=c3=a9?=", "café");
	DEC("=?US-ASCII*EN?Q?Keith?=", "Keith");
	/* charsets mapped to UTF-8 */
	DEC("=?iso-8859-15?q?=A4_=BD?=", "€ œ");
	DEC("=?ISO-8859-1?Q?=A4?=", "¤");
	DEC("=?windows-1252?Q?=93quoted=94_=80?=", "“quoted” €");
	/* other charsets through iconv */
	DEC("=?koi8-r?B?7/Q=?=", "ОТ");
	DEC("=?big5?B?p0G3x7PGpm6kRrbcPw==?=", "你準備好了嗎?");
	DEC("=?ISO-2022-JP?B?GyRCRnxLXDhsJE43b0w+GyhC?=", "日本語の件名");
	DEC("=?gb2312?B?xvuztb27zag=?=", "汽车交通");
	DEC("=?WINDOWS-1257?B?TOJjaXM=?=", "Lācis");
	DEC("[Automatyczna =?iso-8859-2?Q?odpowied=BC?=] test", "[Automatyczna odpowiedź] test");
	DEC("=?shift_jis?B?g2qDg4Fbg5M=?=", "ニャーン");
	DEC("=?ks_c_5601-1987?B?vsiz5w==?=", "안녕");
	/* a character cut between two words of the same charset */
	DEC("=?iso-2022-jp?B?GyRCJUslYyE=?=\r\n =?iso-2022-jp?B?PCVzGyhC?=", "ニャーン");
	DEC("=?euc-kr?B?vsiz?= =?EUC-KR?B?58fPvLy/5A==?= ok", "안녕하세요 ok");
	/* a byte invalid in its charset: U+FFFD, the rest goes on; mostly
	 * invalid: the raw word */
	DEC("=?big5?Q?=A4@=B0_=A8=D3?=", "一\xEF\xBF\xBD 來");
	DEC("=?euc-kr?Q?=FF=FF?=", "=?euc-kr?Q?=FF=FF?=");
	/* charsets nobody knows: valid UTF-8 kept, else the raw word */
	DEC("=?x-unknown?B?w6k=?=", "é");
	DEC("=?x-nonexistent?B?7/Q=?=", "=?x-nonexistent?B?7/Q=?=");
	DEC("=?x-esc?Q?=1B$B?=", "=?x-esc?Q?=1B$B?=");
	/* more distinct charsets than the converter table holds */
	for (int i = 0; i < 40; i++) {
		char w[64];
		snprintf(w, sizeof w, "=?x-cs%d?Q?ok?=", i);
		DEC(w, "ok");
	}
	bs_rfc2047_thread_cleanup();
	bs_rfc2047_thread_init();
	DEC("=?koi8-r?B?7/Q=?=", "ОТ");
	/* malformed words stay as they were */
	DEC("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	DEC("=?utf-8?B?!!!?=", "=?utf-8?B?!!!?=");
	DEC("=?utf-8?Q?=Zz?=", "=?utf-8?Q?=Zz?=");
	DEC("=?utf-8?Q?bad=?=", "=?utf-8?Q?bad=?=");
	DEC("=?utf-8?q?no end", "=?utf-8?q?no end");
	DEC("=??q?x?=", "=??q?x?=");
	DEC("=?utf-8?q?has space?=", "=?utf-8?q?has space?=");
	DEC("plain = text ?= with =? marks", "plain = text ?= with =? marks");
	/* a bad word between good ones keeps its white space */
	DEC("=?utf-8?q?a?= =?utf-8?X?b?= c", "a =?utf-8?X?b?= c");
	/* no white space around the word (mail readers decode it anyway) */
	DEC("Re:=?utf-8?q?x?=y", "Re:xy");
	DEC("", "");

	/* output cut at a character boundary */
	char out[7];
	bool cut = false;
	size_t n = bs_rfc2047_decode("=?utf-8?q?abcde=C3=A9f?=", 24, out, sizeof out, &cut);
	CHECK(cut);
	CHECK_EQ(n, 5);
	CHECK_STR(out, "abcde");
	n = bs_rfc2047_decode("=?utf-8?q?abcd=C3=A9f?=", 23, out, sizeof out, &cut);
	CHECK(cut);
	CHECK_STR(out, "abcdé");
	n = bs_rfc2047_decode("short", 5, out, sizeof out, &cut);
	CHECK(!cut);
	CHECK_EQ(n, 5);
	CHECK_EQ(bs_rfc2047_decode("abc", 3, out, 0, &cut), 0);

	/* UTF-8 validation */
	CHECK(bs_utf8_valid((const uint8_t *)"h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	CHECK(!bs_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong */
	CHECK(!bs_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!bs_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!bs_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
	CHECK(!bs_utf8_valid((const uint8_t *)"\x80", 1));
}

static void test_params(void)
{
	char out[64];
	const char *ct = "multipart/report; report-type=\"delivery-status\"; BOUNDARY = \"a\\\"b;c\"";
	CHECK_EQ(bs_mail_param(ct, strlen(ct), "boundary", out, sizeof out), 5);
	CHECK_STR(out, "a\"b;c");
	CHECK_EQ(bs_mail_param(ct, strlen(ct), "report-type", out, sizeof out), 15);
	CHECK_STR(out, "delivery-status");
	CHECK_EQ(bs_mail_param(ct, strlen(ct), "charset", out, sizeof out), 0);
	CHECK_STR(out, "");
	/* a parameter name inside a quoted value is not a parameter */
	const char *q = "text/plain; name=\"x; boundary=no\"; boundary=yes";
	bs_mail_param(q, strlen(q), "boundary", out, sizeof out);
	CHECK_STR(out, "yes");
	/* too long: cut to the buffer */
	char small[4];
	bs_mail_param("a/b; boundary=abcdefgh", 22, "boundary", small, sizeof small);
	CHECK_STR(small, "abc");
}

static uint64_t rng = 0x853c49e6748fea9bull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Random header-ish bytes: parsing in one piece and in random pieces must
 * give the same fields and the same boundary; decoding random encoded-words
 * into small buffers stays inside them and terminated. */
static void test_random(void)
{
	static const char *atoms[] = { "Subject:", "From:", "To:", "Message-ID:", "Received:", "X-A:",
		"Content-Type: a/b; boundary=", "\r\n", "\n", "\r", " ", "\t", "=?utf-8?q?", "=?iso-8859-1?B?",
		"?=", "=C3=A9", "w6k=", "_", ":", "From ", "\xff", "\xc3", "<a@b>", "x", "\"", ";" };
	static char msg[4096];
	static struct bs_txn one;
	for (int r = 0; r < 3000; r++) {
		size_t n = 0;
		while (n < sizeof msg - 64) {
			const char *a = atoms[rnd(sizeof atoms / sizeof atoms[0])];
			size_t k = strlen(a);
			memcpy(msg + n, a, k);
			n += k;
			if (rnd(200) == 0)
				break;
		}
		size_t whole = parse(msg, n, NULL, 0, true);
		one = T;
		uint32_t fields = H.n_fields;
		size_t cuts[8];
		int nc = (int)rnd(8);
		for (int c = 0; c < nc; c++)
			cuts[c] = rnd((uint32_t)n + 1);
		for (int a = 0; a < nc; a++) /* ascending */
			for (int b = a + 1; b < nc; b++)
				if (cuts[b] < cuts[a]) {
					size_t x = cuts[a];
					cuts[a] = cuts[b];
					cuts[b] = x;
				}
		size_t pieces = parse(msg, n, cuts, nc, true);
		/* a non-field line split before its first bad byte shifts the
		 * boundary into that line (documented); fields stay the same */
		CHECK(pieces >= whole);
		CHECK_EQ(H.n_fields, fields);
		CHECK(memcmp(&one, &T, sizeof T) == 0);
		if (failures > 10)
			return;
	}
	for (int r = 0; r < 20000; r++) {
		char in[256], out[64];
		size_t n = 0;
		while (n < sizeof in - 20 && rnd(12)) {
			const char *a = atoms[8 + rnd(sizeof atoms / sizeof atoms[0] - 8)];
			size_t k = strlen(a);
			memcpy(in + n, a, k);
			n += k;
		}
		size_t cap = 1 + rnd(sizeof out);
		memset(out, 'Q', sizeof out);
		bool cut;
		size_t k = bs_rfc2047_decode(in, n, out, cap, &cut);
		CHECK(k < cap);
		CHECK_EQ(out[k], '\0');
		for (size_t i = cap; i < sizeof out; i++)
			CHECK(out[i] == 'Q');
		if (failures > 10)
			return;
	}
}

int main(void)
{
	test_full_and_splits();
	test_line_ends();
	test_boundaries_and_oddities();
	test_long_fields_and_gap();
	test_rfc2047();
	test_params();
	test_random();
	if (failures) {
		fprintf(stderr, "test_mail_hdr: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_mail_hdr: all checks passed\n");
	return 0;
}
