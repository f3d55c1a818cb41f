/* Micro-benchmark of the SMTP stage alone (no packets, no reassembly):
 * message bytes per second through DATA (body handed to the hook, and
 * skipped after the hook's BS_HOOK_SKIP_BODY), BDAT skipped by length, the
 * header parser on a real-looking header, and envelope-only transactions
 * (MAIL, RCPT, RSET with replies). Segments of 1448 bytes like a capture.
 * Prints one line per case; `meson test --benchmark` runs it.
 *
 * usage: test_smtp_bench [seconds-per-case] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "smtp.h"
#include "mail_hdr.h"

static struct bs_txn txn;
static int skip_body;

static struct bs_txn *h_alloc(void *ctx)
{
	/* the pool hands out zeroed records; only what the parser reads
	 * back is cleared here so the figure is the parser's own */
	txn.hdr_seen = 0;
	txn.n_rcpt = txn.n_rcpt_total = 0;
	txn.size = 0;
	txn.header_size = 0;
	txn.data_started = txn.data_complete = 0;
	txn.n_received = 0;
	return &txn;
}

static int h_data(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off, const uint8_t *p, uint32_t n)
{
	return skip_body ? BS_HOOK_SKIP_BODY : BS_HOOK_CONTINUE;
}

static void h_end(void *ctx, struct bs_txn *t)
{
}

static const struct bs_smtp_hooks hooks = { h_alloc, NULL, h_data, h_end, NULL };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char HEADER[] =
	"Return-Path: <bounces-main+user=example.net@lists.example.org>\r\n"
	"Received: from mx2.example.org (mx2.example.org [198.51.100.7])\r\n"
	"\tby mx1.example.net (Postfix) with ESMTPS id 3499D3A08C\r\n"
	"\tfor <user@example.net>; Tue, 10 Feb 2026 06:54:24 +0200 (EET)\r\n"
	"Received: by mx2.example.org (Postfix, from userid 501)\r\n"
	"\tid D9FB832925D; Tue, 10 Feb 2026 06:54:22 +0200 (EET)\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\r\n"
	"\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
	"\tb=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR\r\n"
	"Date: Tue, 10 Feb 2026 06:54:14 +0200\r\n"
	"From: =?utf-8?q?Mail_Delivery_Syst=C3=A8m?= <MAILER-DAEMON@example.org>\r\n"
	"To: user@example.net\r\n"
	"Subject: Undelivered Mail Returned to Sender\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/report; report-type=delivery-status;\r\n"
	"\tboundary=\"D9FB832925D.1234567890/mx2.example.org\"\r\n"
	"Message-Id: <20260210045423.D9FB832925D@mx2.example.org>\r\n"
	"Auto-Submitted: auto-replied\r\n"
	"\r\n";

static char msg[1 << 20];
static size_t stuffed; /* lines sent with a stuffing dot */

static size_t build_message(void)
{
	size_t o = 0;
	memcpy(msg, HEADER, sizeof HEADER - 1);
	o = sizeof HEADER - 1;
	for (int i = 0; o < sizeof msg - 200; i++, stuffed += i % 40 == 1)
		o += (size_t)sprintf(msg + o, "%sThe quick brown fox jumps over the lazy dog, line %08d of the body.\r\n",
				     i % 40 == 0 ? ".." : "", i);
	return o;
}

static void feed(struct bs_smtp_session *s, bool client, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 1448)
		bs_smtp_data(s, client, (const uint8_t *)p + i, (uint32_t)(n - i < 1448 ? n - i : 1448), 1);
}

static void feeds(struct bs_smtp_session *s, bool client, const char *text)
{
	feed(s, client, text, strlen(text));
}

/* one session carrying the message by DATA (mode 0, 1) or BDAT (mode 2) */
static void run_message(struct bs_smtp_session *s, struct bs_smtp_stats *st, int mode, size_t body)
{
	bs_smtp_session_init(s, &hooks, NULL, st, false);
	feeds(s, false, "220 mx ESMTP\r\n");
	if (mode == 2) {
		char cmd[96];
		snprintf(cmd, sizeof cmd, "MAIL FROM:<>\r\nRCPT TO:<user@example.net>\r\nBDAT %zu LAST\r\n", body);
		feeds(s, true, cmd);
		feed(s, true, msg, body);
		feeds(s, false, "250 ok\r\n250 ok\r\n250 ok\r\n");
	} else {
		feeds(s, true, "MAIL FROM:<>\r\nRCPT TO:<user@example.net>\r\nDATA\r\n");
		feeds(s, false, "250 ok\r\n250 ok\r\n354 go\r\n");
		feed(s, true, msg, body);
		feeds(s, true, ".\r\n");
		feeds(s, false, "250 ok\r\n");
	}
	bs_smtp_session_end(s, 0, 2);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	struct bs_smtp_stats st;
	memset(&st, 0, sizeof st);
	struct bs_smtp_session *s = malloc(bs_smtp_session_size());
	size_t body = build_message();
	static const char *const names[] = { "DATA, body to the hook", "DATA, body skipped", "BDAT, body skipped" };

	printf("SMTP stage, one core, %zu-byte messages in 1448-byte segments:\n", body);
	for (int mode = 0; mode < 3; mode++) {
		skip_body = mode > 0;
		uint64_t bytes = 0;
		double t0 = now(), t;
		do {
			run_message(s, &st, mode, body);
			bytes += body;
		} while ((t = now() - t0) < secs);
		size_t want = mode == 2 ? body : body - stuffed; /* DATA drops the stuffing dots */
		if (txn.size != want) {
			fprintf(stderr, "%s: message size %llu, expected %zu\n", names[mode],
				(unsigned long long)txn.size, want);
			return 1;
		}
		printf("  %-24s %7.2f Gbit/s  %6.3f ns/byte\n", names[mode], (double)bytes * 8 / t / 1e9,
		       t * 1e9 / (double)bytes);
	}

	/* the header parser alone */
	static struct bs_mail_hdr h;
	uint64_t n = 0;
	double t0 = now(), t;
	do {
		txn.hdr_seen = 0;
		txn.n_received = 0;
		bs_mail_hdr_init(&h);
		bs_mail_hdr_feed(&h, (const uint8_t *)HEADER, sizeof HEADER - 1, bs_mail_hdr_store_field, &txn);
		n++;
	} while ((t = now() - t0) < secs);
	printf("  %-24s %7.0f ns per %zu-byte header, %.2f ns/byte\n", "header block", t * 1e9 / (double)n,
	       sizeof HEADER - 1, t * 1e9 / (double)n / (double)(sizeof HEADER - 1));

	/* envelope-only transactions */
	const char *cmds = "MAIL FROM:<bounce-123@lists.example.org> SIZE=12345 BODY=8BITMIME\r\n"
			   "RCPT TO:<someone@example.net>\r\nRSET\r\n";
	const char *replies = "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n";
	bs_smtp_session_init(s, &hooks, NULL, &st, false);
	feeds(s, false, "220 mx\r\n");
	n = 0;
	t0 = now();
	do {
		for (int i = 0; i < 1000; i++) {
			feeds(s, true, cmds);
			feeds(s, false, replies);
		}
		n += 1000;
	} while ((t = now() - t0) < secs);
	bs_smtp_session_end(s, 0, 2);
	printf("  %-24s %7.0f ns per transaction (MAIL, RCPT, RSET and their replies)\n", "envelope",
	       t * 1e9 / (double)n);
	free(s);
	return 0;
}
