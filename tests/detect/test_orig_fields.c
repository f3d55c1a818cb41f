/* orig_fields.c: the marker lines that introduce a returned original
 * (with the list-notice wording "A summary of the undelivered message you
 * sent follows:"), the parser settling on the summary rather than on a
 * message quoted further down, and the Received field split the own-relay
 * signal reads (client IP, looked-up name, HELO, receiving host). */
#include <stdio.h>
#include <string.h>
#include <stdbool.h>
#include <stdlib.h>
#include "test_util.h"
#include "dataplane/detect/orig_fields.h"
#include "dataplane/detect/msgparse.h"

static void test_markers(void)
{
	static const struct { const char *line; int kind; bool weak; } cases[] = {
		{ "A summary of the undelivered message you sent follows:", BS_MARK_GENERIC, false },
		{ "a SUMMARY of the Undelivered Message You Sent Follows:", BS_MARK_GENERIC, false },
		{ "--- Below this line is a copy of the message.", BS_MARK_QMAIL, false },
		{ "------ This is a copy of the message, including all the headers. ------", BS_MARK_EXIM, false },
		{ "   ----- Original message follows -----", BS_MARK_SENDMAIL, false },
		{ "-----Original Message-----", BS_MARK_GENERIC, true },
		/* prose that only shares words with the markers */
		{ "The message you sent was too large for the recipient.", BS_MARK_NONE, false },
		{ "Your message was undelivered.", BS_MARK_NONE, false },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool weak = !cases[i].weak;
		int k = bs_inline_marker_kind(cases[i].line, strlen(cases[i].line), &weak);
		if (k != cases[i].kind || (k != BS_MARK_NONE && weak != cases[i].weak)) {
			fprintf(stderr, "%s:%d: marker '%s': kind %d weak %d, want %d %d\n", __FILE__, __LINE__,
				cases[i].line, k, weak, cases[i].kind, cases[i].weak);
			t_failures++;
		}
	}
	/* a marker line over 160 bytes is prose */
	char longl[200];
	memset(longl, 'x', sizeof longl);
	memcpy(longl + 100, "undelivered message you sent follows", 36);
	bool weak;
	CHECK_INT(bs_inline_marker_kind(longl, sizeof longl, &weak), BS_MARK_NONE);
}

/* A list owner's rejection notice bounced back: the summary names the
 * post (no Message-ID, no Received line); the notice quotes the spam it
 * rejected, with Received, Message-ID, From and To, further down. */
static const char *SUMMARY_BOUNCE =
	"From: MAILER-DAEMON@lists.remote.example\r\n"
	"To: alice@home.example\r\n"
	"Subject: Returned mail: list rejection notice\r\n"
	"\r\n"
	"The notice below could not be delivered.\r\n"
	"\r\n"
	"A summary of the undelivered message you sent follows:\r\n"
	"\r\n"
	"Subject: Your post to wed_ride was rejected\r\n"
	"From: alice@home.example\r\n"
	"To: owner@lists.remote.example\r\n"
	"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
	"\r\n"
	"Your post was rejected by the list moderator. It read:\r\n"
	"\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Return-Path: <reilizavet@spam.example>\r\n"
	"Received: from bot.dialup.example (bot.dialup.example [203.0.113.66])\r\n"
	"\tby lists.remote.example; Mon, 30 Nov 2026 09:00:00 +0000\r\n"
	"Message-ID: <spam-42@spam.example>\r\n"
	"From: reilizavet@spam.example\r\n"
	"To: wed_ride@lists.remote.example\r\n"
	"\r\n"
	"Cheap watches.\r\n";

static void test_summary_original(void)
{
	struct bs_msgparse *mp = malloc(bs_msgparse_size());
	struct bs_msg_facts *f = malloc(sizeof *f);
	CHECK(mp && f);
	if (!mp || !f)
		return;
	/* whole, and in every chunk size that cuts the marker line */
	for (size_t chunk = 0; chunk <= 64; chunk += chunk < 8 ? 1 : 7) {
		const uint8_t *m = (const uint8_t *)SUMMARY_BOUNCE;
		size_t n = strlen(SUMMARY_BOUNCE);
		if (chunk == 0) {
			bs_msgparse_message(mp, f, NULL, NULL, m, n);
		} else {
			bs_msgparse_init(mp, f, NULL, NULL);
			size_t hend = (size_t)(strstr(SUMMARY_BOUNCE, "\r\n\r\n") - SUMMARY_BOUNCE) + 4;
			for (size_t off = 0; off < n;) {
				size_t len = n - off < chunk ? n - off : chunk;
				bs_msgparse_feed(mp, off < hend ? BS_PART_HEADER : BS_PART_BODY, off, m + off,
						 (uint32_t)len);
				off += len;
			}
			bs_msgparse_end(mp);
		}
		CHECK_INT(f->orig_how, BS_ORIG_INLINE_MARKER);
		CHECK_INT(f->inline_marker, BS_MARK_GENERIC);
		CHECK_STR(f->orig_from, "alice@home.example");
		CHECK_STR(f->orig_to, "owner@lists.remote.example");
		CHECK_STR(f->orig_subject, "Your post to wed_ride was rejected");
		/* the quoted spam is not taken for the original */
		CHECK_STR(f->orig_message_id, "");
		CHECK_INT(f->n_received, 0);
		CHECK(bs_fact_known(f, BS_FACT_ORIG_HEADER_END));
	}
	free(mp);
	free(f);
}

static void test_received(void)
{
	static const struct {
		const char *v;
		const char *from_host, *rdns, *ip, *by;
	} cases[] = {
		/* Postfix: HELO, then (verified name [ip]) */
		{ "from relay.home.example (relay.home.example [192.0.2.25]) by mx.remote.example (Postfix) "
		  "with ESMTPS id 4Xk; Mon, 30 Nov 2026 10:00:01 +0000",
		  "relay.home.example", "relay.home.example", "192.0.2.25", "mx.remote.example" },
		/* Postfix, no reverse name: the HELO is only a claim */
		{ "from relay.home.example (unknown [203.0.113.66]) by mx.remote.example (Postfix) with SMTP id 1",
		  "relay.home.example", "", "203.0.113.66", "mx.remote.example" },
		/* content filter re-injection */
		{ "from localhost (localhost [127.0.0.1]) by mx.remote.example (Postfix) with ESMTP id 2; date",
		  "localhost", "", "127.0.0.1", "mx.remote.example" },
		/* Exim: "from [ip] (helo=...)" */
		{ "from [203.0.113.7] (helo=mgw.example) by mail.remote.example with esmtp (Exim 4.96) id 1; date",
		  "", "", "203.0.113.7", "mail.remote.example" },
		/* qmail */
		{ "from unknown (HELO relay.home.example) (192.0.2.25) by mx.remote.example with SMTP; date",
		  "unknown", "", "192.0.2.25", "mx.remote.example" },
		/* IPv6 literal, Gmail-style local hop without a client */
		{ "from mail-sor-f41.google.com (mail-sor-f41.google.com. [IPv6:2001:db8::41]) by mx.google.com "
		  "with SMTPS id x; date",
		  "mail-sor-f41.google.com", "mail-sor-f41.google.com.", "2001:db8::41", "mx.google.com" },
		{ "by 2002:a05:6a10:1234:0:0:0:0 with SMTP id q; Mon, 30 Nov 2026 10:00:02 -0800",
		  "", "", "", "2002:a05:6a10:1234:0:0:0:0" },
		/* Postfix's local pickup: the "from" is in a comment */
		{ "by mail.elsewhere.example (Postfix, from userid 1000) id 4X; Mon, 30 Nov 2026 10:00:00 +0000",
		  "", "", "", "mail.elsewhere.example" },
		/* Sendmail: a name whose forward lookup failed is no looked-up name */
		{ "from helo.example (ptr.spam.example [203.0.113.5] (may be forged)) by mx.remote.example "
		  "(8.14.4/8.14.4) with ESMTP id x; date",
		  "helo.example", "", "203.0.113.5", "mx.remote.example" },
		{ "from helo.example (ptr.good.example [203.0.113.5]) by mx.remote.example (8.14.4/8.14.4) with ESMTP",
		  "helo.example", "ptr.good.example", "203.0.113.5", "mx.remote.example" },
		/* qmail's local note: no clause at all */
		{ "(qmail 12345 invoked by uid 89); 30 Nov 2026 10:00:00 -0000", "", "", "", "" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct bs_received_hop h;
		bs_received_parse(&h, cases[i].v, strlen(cases[i].v));
		CHECK_STR(h.from_host, cases[i].from_host);
		CHECK_STR(h.from_rdns, cases[i].rdns);
		CHECK_STR(h.from_ip, cases[i].ip);
		CHECK_STR(h.by_host, cases[i].by);
	}
	/* hostile: unterminated brackets and parentheses, a huge token */
	static char big[5000];
	memset(big, 'a', sizeof big - 1);
	memcpy(big, "from (x [", 9);
	struct bs_received_hop h;
	bs_received_parse(&h, big, strlen(big));
	CHECK(strlen(h.from_host) < sizeof h.from_host && strlen(h.by_host) < sizeof h.by_host);
}

int main(void)
{
	test_markers();
	test_summary_original();
	test_received();
	TEST_DONE();
}
