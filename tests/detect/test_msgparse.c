/* Message parser: MIME walking (multipart/report at depth, nesting,
 * tolerant boundaries, encoded parts), each form of embedded original,
 * legacy inline originals of several MTAs, top-level facts, scope streams,
 * line endings, and chunking invariance (whole vs 1..N-byte chunks). */
#include "test_msgparse_util.h"
#include "dataplane/detect/orig_fields.h"

static struct bs_msgparse *mp;

/* Convert "\n" line ends of a test message to CRLF or CR */
static char *with_eol(const char *m, const char *eol)
{
	size_t n = strlen(m), el = strlen(eol);
	char *o = malloc(n * el + 1), *q = o;
	for (size_t i = 0; i < n; i++) {
		if (m[i] == '\n') {
			memcpy(q, eol, el);
			q += el;
		} else {
			*q++ = m[i];
		}
	}
	*q = '\0';
	return o;
}

/* Parse whole, then in chunks of 1..64 bytes and a few odd sizes: the
 * facts and every scope stream must be identical. */
static void parse_checked(const char *msg, struct bs_msg_facts *f, struct t_sink *k)
{
	static struct bs_msg_facts g;
	size_t n = strlen(msg);
	memset(k, 0, sizeof(*k));
	t_parse(mp, f, k, (const uint8_t *)msg, n, 0);
	static const size_t sizes[] = { 1, 2, 3, 5, 7, 13, 64, 100, 1000 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct t_sink k2 = { 0 };
		t_parse(mp, &g, &k2, (const uint8_t *)msg, n, sizes[i]);
		if (memcmp(f, &g, sizeof(g)) || memcmp(k, &k2, sizeof(k2))) {
			fprintf(stderr, "chunks of %zu change the result\n", sizes[i]);
			t_print_facts(stderr, f);
			t_print_facts(stderr, &g);
			t_fail++;
			return;
		}
	}
}

/* capture one scope stream of a parse */
static char cap_buf[65536];
static const char *capture(const char *msg, enum bs_scope s)
{
	static struct bs_msg_facts f;
	struct t_sink k = { 0 };
	k.cap_scope = s;
	k.cap = cap_buf;
	k.cap_max = sizeof(cap_buf) - 1;
	t_parse(mp, &f, &k, (const uint8_t *)msg, strlen(msg), 3);
	cap_buf[k.cap_len] = '\0';
	return cap_buf;
}

/* ------------------------------------------------------------------ */

static const char postfix_bounce[] =
	"Return-Path: <>\n"
	"Received: by mx1.example.net (Postfix) id 4B2C31A0; Mon, 30 Nov 2026 10:00:01 +0000 (UTC)\n"
	"Date: Mon, 30 Nov 2026 10:00:01 +0000 (UTC)\n"
	"From: MAILER-DAEMON@mx1.example.net (Mail Delivery System)\n"
	"Subject: Undelivered Mail Returned to Sender\n"
	"To: alice@example.org\n"
	"Auto-Submitted: auto-replied\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	"\tboundary=\"4B2C31A0.1606730401/mx1.example.net\"\n"
	"Message-Id: <20261130100001.4B2C31A0@mx1.example.net>\n"
	"\n"
	"This is a MIME-encapsulated message.\n"
	"\n"
	"--4B2C31A0.1606730401/mx1.example.net\n"
	"Content-Description: Notification\n"
	"Content-Type: text/plain; charset=us-ascii\n"
	"\n"
	"This is the mail system at host mx1.example.net.\n"
	"\n"
	"I'm sorry to have to inform you that your message could not\n"
	"be delivered to one or more recipients.\n"
	"\n"
	"--4B2C31A0.1606730401/mx1.example.net\n"
	"Content-Description: Delivery report\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns; mx1.example.net\n"
	"Arrival-Date: Mon, 30 Nov 2026 10:00:00 +0000 (UTC)\n"
	"\n"
	"Final-Recipient: rfc822; nobody@example.net\n"
	"Action: failed\n"
	"Status: 5.1.1\n"
	"Diagnostic-Code: X-Postfix; unknown user: \"nobody\"\n"
	"\n"
	"--4B2C31A0.1606730401/mx1.example.net\n"
	"Content-Description: Undelivered Message\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"Return-Path: <alice@example.org>\n"
	"Received: from out.example.org (out.example.org [192.0.2.10])\n"
	"\tby mx1.example.net (Postfix) with ESMTPS id 4B2C31A0\n"
	"\tfor <nobody@example.net>; Mon, 30 Nov 2026 10:00:00 +0000 (UTC)\n"
	"Received: from [198.51.100.7] (helo=laptop)\n"
	"\tby out.example.org with esmtpsa (Exim 4.96) id 1kjXYZ; Mon, 30 Nov 2026 09:59:59 +0000\n"
	"Message-ID: <orig-1@example.org>\n"
	"From: Alice <alice@example.org>\n"
	"To: nobody@example.net\n"
	"Subject: =?utf-8?Q?Caf=C3=A9?= meeting\n"
	"Date: Mon, 30 Nov 2026 09:59:58 +0000\n"
	"\n"
	"Hello, see you at the cafe.\n"
	"\n"
	"--4B2C31A0.1606730401/mx1.example.net--\n";

static void test_postfix_report(void)
{
	struct bs_msg_facts f;
	struct t_sink k;
	parse_checked(postfix_bounce, &f, &k);
	CHECK(f.top_ctype == BS_CT_MULTIPART_REPORT);
	CHECK(f.top_report_type == BS_RT_DELIVERY_STATUS);
	CHECK(f.is_dsn && f.report_declared && f.ds_part_seen && !f.is_mdn);
	CHECK(f.auto_submitted == BS_AS_AUTO_REPLIED);
	CHECK_STR(f.subject, "Undelivered Mail Returned to Sender");
	CHECK_STR(f.from, "MAILER-DAEMON@mx1.example.net (Mail Delivery System)");
	CHECK_STR(f.reporting_mta, "mx1.example.net");
	CHECK(f.n_rcpt == 1 && f.rcpt[0].action == BS_DSN_ACT_FAILED && f.any_failed);
	CHECK_STR(f.rcpt[0].final_recipient, "nobody@example.net");
	CHECK(f.orig_how == BS_ORIG_RFC822 && f.orig_headers_complete);
	CHECK_STR(f.orig_message_id, "<orig-1@example.org>");
	CHECK_STR(f.orig_from, "Alice <alice@example.org>");
	CHECK_STR(f.orig_to, "nobody@example.net");
	CHECK_STR(f.orig_subject, "Caf\xc3\xa9 meeting");
	CHECK_STR(f.orig_date, "Mon, 30 Nov 2026 09:59:58 +0000");
	CHECK_STR(f.orig_return_path, "<alice@example.org>");
	CHECK(f.n_received == 2 && f.n_received_kept == 2);
	CHECK_STR(f.received[0].from_host, "out.example.org");
	CHECK_STR(f.received[0].from_rdns, "out.example.org");
	CHECK_STR(f.received[0].from_ip, "192.0.2.10");
	CHECK_STR(f.received[0].by_host, "mx1.example.net");
	CHECK_STR(f.received[1].from_host, "");
	CHECK_STR(f.received[1].from_ip, "198.51.100.7");
	CHECK_STR(f.received[1].by_host, "out.example.org");
	CHECK(f.max_depth == 1 && f.n_parts == 5);
	CHECK(f.flags == 0);
	/* facts arrive in stream order, before the end */
	CHECK(bs_fact_known(&f, BS_FACT_REPORT) && bs_fact_known(&f, BS_FACT_DSN_FAILED));
	CHECK(f.offset[BS_FACT_TOP_HEADER_END] < f.offset[BS_FACT_DSN_PART]);
	CHECK(f.offset[BS_FACT_DSN_PART] < f.offset[BS_FACT_DSN_FAILED]);
	CHECK(f.offset[BS_FACT_DSN_FAILED] < f.offset[BS_FACT_ORIG_MSGID]);
	CHECK(f.offset[BS_FACT_ORIG_MSGID] < f.offset[BS_FACT_MSG_END]);
	const char *hdr_end = strstr(postfix_bounce, "\n\n") + 2;
	CHECK(f.offset[BS_FACT_TOP_HEADER_END] == (uint64_t)(hdr_end - postfix_bounce));
	const char *dsn_failed = strstr(postfix_bounce, "Action: failed\n") + strlen("Action: failed\n");
	CHECK(f.offset[BS_FACT_DSN_FAILED] > (uint64_t)(dsn_failed - postfix_bounce));   /* the group ends at its blank line */
	CHECK(f.offset[BS_FACT_DSN_FAILED] < (uint64_t)(strstr(postfix_bounce, "Content-Description: Undelivered") - postfix_bounce));
	/* scopes: raw top header, DSN, original header, text */
	CHECK(k.len[BS_SCOPE_HEADERS] == (uint64_t)(hdr_end - postfix_bounce));
	CHECK(k.nfields[0] == 10);
	CHECK(k.nfields[1] == 8);
	const char *dsn = capture(postfix_bounce, BS_SCOPE_DSN);
	CHECK(!strncmp(dsn, "Reporting-MTA: dns; mx1.example.net\n", 36));
	CHECK(strstr(dsn, "Action: failed\n") != NULL);
	const char *oh = capture(postfix_bounce, BS_SCOPE_ORIG_HEADERS);
	CHECK(!strncmp(oh, "Return-Path: <alice@example.org>\n", 33));
	CHECK(strstr(oh, "Message-ID: <orig-1@example.org>\n") != NULL);
	CHECK(strstr(oh, "Hello") == NULL);
	const char *body = capture(postfix_bounce, BS_SCOPE_BODY);
	CHECK(strstr(body, "This is the mail system at host mx1.example.net.\n") != NULL);
	CHECK(strstr(body, "Hello, see you at the cafe.\n") != NULL);
	CHECK(strstr(body, "Reporting-MTA") == NULL);
	/* the same message with CRLF and CR-only line ends: same facts (offsets aside) */
	const char *eols[] = { "\r\n", "\r" };
	for (int e = 0; e < 2; e++) {
		char *m = with_eol(postfix_bounce, eols[e]);
		struct bs_msg_facts g;
		struct t_sink k2;
		parse_checked(m, &g, &k2);
		CHECK(g.is_dsn && g.n_rcpt == 1 && g.any_failed);
		CHECK_STR(g.orig_message_id, "<orig-1@example.org>");
		CHECK(g.n_received == 2);
		CHECK(k2.len[BS_SCOPE_HEADERS] == (uint64_t)(strstr(m, eols[e][1] ? "\r\n\r\n" : "\r\r") - m) + 2 * strlen(eols[e]));
		CHECK(k2.hash[BS_SCOPE_DSN] == k.hash[BS_SCOPE_DSN]);          /* decoded scopes are "\n" lines */
		CHECK(k2.hash[BS_SCOPE_ORIG_HEADERS] == k.hash[BS_SCOPE_ORIG_HEADERS]);
		CHECK(k2.hash[BS_SCOPE_BODY] == k.hash[BS_SCOPE_BODY]);
		free(m);
	}
}

/* report nested in multipart/mixed (a relay wrapped it), parts base64 and
 * quoted-printable, headers-only original (text/rfc822-headers) */
static const char nested_encoded[] =
	"From: postmaster@relay.example\n"
	"To: bob@example.org\n"
	"Subject: Delivery Status Notification (Failure)\n"
	"Content-Type: multipart/mixed; boundary=outer\n"
	"\n"
	"--outer\n"
	"Content-Type: multipart/report; report-type=\"delivery-status\"; boundary=\"inner\"\n"
	"\n"
	"--inner\n"
	"Content-Type: text/plain\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Delivery to the following recipient failed perma=\n"
	"nently:=20\n"
	"     carol@example.com\n"
	"--inner\n"
	"Content-Type: message/delivery-status\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	/* "Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; carol@example.com\nAction: failed\nStatus: 5.1.1\n" */
	"UmVwb3J0aW5nLU1UQTogZG5zOyByZWxheS5leGFtcGxlCgpGaW5hbC1SZWNpcGllbnQ6IHJmYzgy\n"
	"MjsgY2Fyb2xAZXhhbXBsZS5jb20KQWN0aW9uOiBmYWlsZWQKU3RhdHVzOiA1LjEuMQo=\n"
	"--inner\n"
	"Content-Type: text/rfc822-headers\n"
	"\n"
	"Message-ID: <hdr-only@example.org>\n"
	"From: bob@example.org\n"
	"Subject: lunch\n"
	"--inner--\n"
	"\n"
	"--outer\n"
	"Content-Type: image/png\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\n"
	"--outer--\n";

static void test_nested_encoded(void)
{
	struct bs_msg_facts f;
	struct t_sink k;
	parse_checked(nested_encoded, &f, &k);
	CHECK(f.top_ctype == BS_CT_MULTIPART_MIXED);
	CHECK(f.top_report_type == BS_RT_NONE);
	CHECK(f.is_dsn && f.report_declared && f.max_depth == 2);
	CHECK_STR(f.reporting_mta, "relay.example");
	CHECK(f.n_rcpt == 1 && f.rcpt[0].action == BS_DSN_ACT_FAILED);
	CHECK_STR(f.rcpt[0].status, "5.1.1");
	CHECK(f.orig_how == BS_ORIG_RFC822_HEADERS && f.orig_headers_complete);
	CHECK_STR(f.orig_message_id, "<hdr-only@example.org>");
	CHECK_STR(f.orig_subject, "lunch");
	CHECK(f.flags == 0);
	const char *body = capture(nested_encoded, BS_SCOPE_BODY);
	CHECK(strstr(body, "failed permanently: \n     carol@example.com\n") != NULL);
	CHECK(strstr(body, "iVBOR") == NULL);         /* images are not text */
	const char *dsn = capture(nested_encoded, BS_SCOPE_DSN);
	CHECK(!strcmp(dsn, "Reporting-MTA: dns; relay.example\n\nFinal-Recipient: rfc822; carol@example.com\n"
		     "Action: failed\nStatus: 5.1.1\n"));
}

/* message/rfc822 sent base64 (non-conforming but seen), message/global,
 * a delivery-status part outside multipart/report */
static const char encoded_original[] =
	"From: MAILER-DAEMON@x.example\n"
	"Subject: failure notice\n"
	"Content-Type: multipart/mixed; boundary=\"b1\"\n"
	"\n"
	"--b1\n"
	"Content-Type: message/delivery-status\n"
	"\n"
	"Reporting-MTA: dns; x.example\n"
	"\n"
	"Final-Recipient: rfc822; d@example.com\n"
	"Action: delayed\n"
	"Status: 4.4.1\n"
	"\n"
	"--b1\n"
	"Content-Type: message/global\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	/* "Message-ID: <enc@example.org>\nFrom: eve@example.org\n\nbody text\n" */
	"TWVzc2FnZS1JRDogPGVuY0BleGFtcGxlLm9yZz4KRnJvbTogZXZlQGV4YW1wbGUub3JnCgpib2R5\n"
	"IHRleHQK\n"
	"--b1--\n";

static void test_encoded_original(void)
{
	struct bs_msg_facts f;
	struct t_sink k;
	parse_checked(encoded_original, &f, &k);
	CHECK(f.is_dsn && f.ds_part_seen && !f.report_declared);
	CHECK(f.n_rcpt == 1 && f.all_delayed && !f.any_failed);
	CHECK(f.orig_how == BS_ORIG_GLOBAL);
	CHECK_STR(f.orig_message_id, "<enc@example.org>");
	CHECK_STR(f.orig_from, "eve@example.org");
	const char *body = capture(encoded_original, BS_SCOPE_BODY);
	CHECK(strstr(body, "body text\n") != NULL);
	const char *oh = capture(encoded_original, BS_SCOPE_ORIG_HEADERS);
	CHECK(!strcmp(oh, "Message-ID: <enc@example.org>\nFrom: eve@example.org\n"));
}

/* ---------------------------------------------- legacy inline originals */

struct legacy_case {
	const char *name;
	const char *msg;
	int marker;               /* enum bs_inline_marker expected */
	int how;                  /* enum bs_orig_how expected */
	const char *msgid;
};

static const struct legacy_case legacy[] = {
	{ "qmail",
	  "From: MAILER-DAEMON@mail.example.com\nSubject: failure notice\n\n"
	  "Hi. This is the qmail-send program at mail.example.com.\n"
	  "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
	  "<x@example.com>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
	  "--- Below this line is a copy of the message.\n\n"
	  "Return-Path: <a@example.org>\n"
	  "Received: (qmail 1234 invoked from network); 30 Nov 2026 10:00:00 -0000\n"
	  "Received: from unknown (HELO laptop) (203.0.113.5)\n  by mail.example.com with SMTP; 30 Nov 2026 10:00:00 -0000\n"
	  "Message-ID: <q1@example.org>\nFrom: a@example.org\nTo: x@example.com\nSubject: hi\n\nbody\n",
	  BS_MARK_QMAIL, BS_ORIG_INLINE_MARKER, "<q1@example.org>" },
	{ "exim",
	  "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
	  "Subject: Mail delivery failed: returning message to sender\n"
	  "X-Failed-Recipients: y@example.net\nAuto-Submitted: auto-replied\n\n"
	  "This message was created automatically by mail delivery software.\n\n"
	  "A message that you sent could not be delivered to one or more of its\n"
	  "recipients. This is a permanent error. The following address(es) failed:\n\n"
	  "  y@example.net\n    Unrouteable address\n\n"
	  "------ This is a copy of the message, including all the headers. ------\n\n"
	  "Return-path: <b@example.org>\n"
	  "Received: from [192.0.2.1] (helo=pc)\n\tby mx.example.net with esmtp (Exim 4.96)\n"
	  "\tid 1k; Mon, 30 Nov 2026 10:00:00 +0000\n"
	  "Message-Id: <e1@example.org>\nSubject: test\n\nbody\n",
	  BS_MARK_EXIM, BS_ORIG_INLINE_MARKER, "<e1@example.org>" },
	{ "sendmail",
	  "From: Mail Delivery Subsystem <MAILER-DAEMON@sm.example.com>\n"
	  "Subject: Returned mail: see transcript for details\n\n"
	  "The original message was received at Mon, 30 Nov 2026 10:00:00 GMT\n\n"
	  "   ----- The following addresses had permanent fatal errors -----\n<z@example.com>\n\n"
	  "   ----- Transcript of session follows -----\n"
	  "... while talking to mx.example.com.:\n>>> RCPT To:<z@example.com>\n<<< 550 5.1.1 User unknown\n"
	  "550 5.1.1 <z@example.com>... User unknown\n\n"
	  "   ----- Original message follows -----\n\n"
	  "Return-Path: <c@example.org>\nReceived: from pc (pc.example.org [198.51.100.2])\n"
	  "\tby sm.example.com (8.15.2/8.15.2) with ESMTP id x; Mon, 30 Nov 2026 10:00:00 GMT\n"
	  "Message-Id: <s1@example.org>\n\nbody\n",
	  BS_MARK_SENDMAIL, BS_ORIG_INLINE_MARKER, "<s1@example.org>" },
	{ "exchange",
	  "From: postmaster@corp.example\nSubject: Undeliverable: report\n\n"
	  "Delivery has failed to these recipients or groups:\n\nw@corp.example\n\n"
	  "Diagnostic information for administrators:\n\nGenerating server: EX1.corp.example\n\n"
	  "Original message headers:\n\n"
	  "Received: from EX2.corp.example (10.0.0.2) by EX1.corp.example (10.0.0.1) with Microsoft SMTP Server\n"
	  "MIME-Version: 1.0\nMessage-ID: <x1@corp.example>\nSubject: report\n",
	  BS_MARK_EXCHANGE, BS_ORIG_INLINE_MARKER, "<x1@corp.example>" },
	{ "notes",
	  "From: domino@notes.example\nSubject: DELIVERY FAILURE: User v not listed\n\n"
	  "Your message\n\n  Subject: hello\n\nwas not delivered to:\n\n  v@notes.example\n\n"
	  "because:\n\n  User v (v@notes.example) not listed in Domino Directory\n\n"
	  "This report relates to a message you sent with the following header fields:\n\n"
	  "  Message-id: <n1@example.org>\n  Received: from pc ([192.0.2.9]) by notes.example\n"
	  "  Subject: hello\n",
	  BS_MARK_NOTES, BS_ORIG_INLINE_MARKER, "<n1@example.org>" },
	{ "gmail",
	  "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
	  "Subject: Delivery Status Notification (Failure)\n\n"
	  "Delivery to the following recipient failed permanently:\n\n     u@example.com\n\n"
	  "----- Original message -----\n\n"
	  "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n        d=gmail.com; s=20230601\n"
	  "MIME-Version: 1.0\nReceived: by 10.0.0.1 with HTTP; Mon, 30 Nov 2026 10:00:00 -0800 (PST)\n"
	  "Date: Mon, 30 Nov 2026 10:00:00 -0800\nMessage-ID: <CAg1@mail.gmail.com>\n"
	  "Subject: hi\nFrom: g <g@gmail.com>\nTo: u@example.com\n\nbody\n",
	  BS_MARK_GENERIC, BS_ORIG_INLINE_MARKER, "<CAg1@mail.gmail.com>" },
	{ "yahoo",
	  "From: MAILER-DAEMON@yahoo.com\nSubject: Failure Notice\n\n"
	  "Sorry, we were unable to deliver your message to the following address.\n\n"
	  "<t@example.com>:\nRemote host said: 550 5.1.1 unknown user [RCPT_TO]\n\n"
	  "--- Below this line is a copy of the message.\n\n"
	  "Received: from [203.0.113.1] by web.mail.yahoo.com via HTTP; Mon, 30 Nov 2026 10:00:00 PST\n"
	  "Date: Mon, 30 Nov 2026 10:00:00 -0800 (PST)\nFrom: y <y@yahoo.com>\n"
	  "Message-ID: <y1@web.mail.yahoo.com>\n\nbody\n",
	  BS_MARK_QMAIL, BS_ORIG_INLINE_MARKER, "<y1@web.mail.yahoo.com>" },
	/* no marker at all: a run of header lines with a transport field */
	{ "header-run",
	  "From: postmaster@old.example\nSubject: Returned\n\n"
	  "Your mail could not be delivered. It follows.\n\n"
	  "From: d@example.org\nReceived: from a.example.org by old.example; Mon, 30 Nov 2026\n"
	  "Message-ID: <r1@example.org>\nSubject: x\n\nbody\n",
	  BS_MARK_NONE, BS_ORIG_INLINE_HEADERS, "<r1@example.org>" },
};

static void test_legacy(void)
{
	for (size_t i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		const struct legacy_case *c = &legacy[i];
		struct bs_msg_facts f;
		struct t_sink k;
		parse_checked(c->msg, &f, &k);
		if (f.inline_marker != c->marker || f.orig_how != c->how || strcmp(f.orig_message_id, c->msgid)) {
			fprintf(stderr, "legacy %s: marker=%s how=%s msgid=\"%s\"\n", c->name,
				bs_inline_marker_name[f.inline_marker], bs_orig_how_name[f.orig_how], f.orig_message_id);
			t_fail++;
		}
		CHECK(!f.is_dsn);
		if (c->how != BS_ORIG_NONE) {
			CHECK(f.orig_headers_complete);
			CHECK(k.len[BS_SCOPE_ORIG_HEADERS] > 0);
		}
	}
	/* qmail details: Received parsing of qmail's form, top-level facts */
	struct bs_msg_facts f;
	struct t_sink k;
	parse_checked(legacy[0].msg, &f, &k);
	CHECK(f.n_received == 2);
	CHECK_STR(f.received[1].from_host, "unknown");
	CHECK_STR(f.received[1].from_ip, "203.0.113.5");
	CHECK_STR(f.received[1].from_rdns, "");          /* "HELO laptop" is a claim, not rdns */
	CHECK_STR(f.received[1].by_host, "mail.example.com");
	CHECK_STR(f.orig_return_path, "<a@example.org>");
	CHECK_STR(f.orig_to, "x@example.com");
	const char *oh = capture(legacy[0].msg, BS_SCOPE_ORIG_HEADERS);
	CHECK(!strncmp(oh, "Return-Path: <a@example.org>\nReceived: (qmail", 45));
	CHECK(strstr(oh, "body") == NULL);
	/* exim: X-Failed-Recipients and Auto-Submitted from the top header */
	parse_checked(legacy[1].msg, &f, &k);
	CHECK_STR(f.x_failed_recipients, "y@example.net");
	CHECK(bs_fact_known(&f, BS_FACT_X_FAILED_RCPT) && f.auto_submitted == BS_AS_AUTO_REPLIED);
	CHECK_STR(f.received[0].from_ip, "192.0.2.1");
	CHECK_STR(f.received[0].by_host, "mx.example.net");
	/* a text part's quoted headers give way to a MIME-declared original */
	static const char both[] =
		"Subject: Undeliverable\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\n"
		"Original message headers:\n\nReceived: from a by b\nMessage-ID: <inline@x>\n\n"
		"--zz\nContent-Type: message/rfc822\n\nMessage-ID: <real@x>\nReceived: from c by d\n\nbody\n--zz--\n";
	parse_checked(both, &f, &k);
	CHECK(f.orig_how == BS_ORIG_RFC822);
	CHECK_STR(f.orig_message_id, "<real@x>");
	CHECK(f.n_received == 1);
	CHECK_STR(f.received[0].from_host, "c");
}

/* ordinary mail with quoted prose does not grow an original */
static void test_not_bounce(void)
{
	static const char ham[] =
		"From: friend@example.org\nTo: me@example.com\nSubject: notes\nMessage-ID: <h@example.org>\n"
		"List-Id: <team.example.org>\nPrecedence: list\n\n"
		"From: the minutes of the meeting\nTo: everyone: we agreed on the plan.\n"
		"Subject: budget: approved\n\nDate: next week\n";
	struct bs_msg_facts f;
	struct t_sink k;
	parse_checked(ham, &f, &k);
	CHECK(f.orig_how == BS_ORIG_NONE && !f.is_dsn && f.inline_marker == BS_MARK_NONE);
	CHECK(f.has_list_headers && f.precedence == BS_PREC_LIST);
	CHECK_STR(f.list_id, "<team.example.org>");
	CHECK_STR(f.message_id, "<h@example.org>");
	CHECK(bs_fact_known(&f, BS_FACT_LIST_HEADER));
	/* a quoted reply after Outlook's "Original Message" line is not a returned original */
	static const char reply[] =
		"From: a@example.org\nSubject: RE: plan\n\nSounds good.\n\n-----Original Message-----\n"
		"From: Bob [mailto:bob@example.com]\nSent: Monday, 30 November 2026 10:00\nTo: a@example.org\n"
		"Subject: plan\n\nShall we?\n";
	parse_checked(reply, &f, &k);
	CHECK(f.orig_how == BS_ORIG_NONE);
	CHECK(f.inline_marker == BS_MARK_GENERIC);
}

/* auto-replies and read receipts are labelled by their headers / parts */
static void test_autoreply_mdn(void)
{
	static const char vac[] =
		"From: x@example.com\nSubject: Out of Office: =?ISO-8859-1?Q?R=E9union?=\n"
		"Auto-Submitted: auto-replied (vacation)\nX-Autoreply: yes\nPrecedence: junk\n"
		"X-Auto-Response-Suppress: All\nIn-Reply-To: <asked@example.org>\n"
		"References: <a@x> <asked@example.org>\n\nI am away.\n";
	struct bs_msg_facts f;
	struct t_sink k;
	parse_checked(vac, &f, &k);
	CHECK(f.auto_submitted == BS_AS_AUTO_REPLIED);
	CHECK(f.precedence == BS_PREC_JUNK);
	CHECK(f.autoreply_marks == (BS_AR_X_AUTOREPLY | BS_AR_AUTO_RESPONSE_SUPPRESS));
	CHECK_STR(f.subject, "Out of Office: R\xc3\xa9union");   /* Latin-1 mapped to UTF-8 by rfc2047.c */
	CHECK_STR(f.in_reply_to, "<asked@example.org>");
	CHECK_STR(f.references_last, "<asked@example.org>");
	CHECK(bs_fact_known(&f, BS_FACT_AUTOREPLY_MARK) && bs_fact_known(&f, BS_FACT_AUTO_SUBMITTED));
	static const char mdn[] =
		"Subject: Read: hello\nContent-Type: multipart/report; report-type=disposition-notification;\n"
		" boundary=\"m\"\n\n--m\nContent-Type: text/plain\n\nYour message was read.\n"
		"--m\nContent-Type: message/disposition-notification\n\n"
		"Reporting-UA: pc.example.com; Outlook\nFinal-Recipient: rfc822;r@example.com\n"
		"Original-Message-ID: <m1@example.org>\nDisposition: manual-action/MDN-sent-manually; displayed\n"
		"--m--\n";
	parse_checked(mdn, &f, &k);
	CHECK(f.is_mdn && !f.is_dsn && f.top_report_type == BS_RT_DISPOSITION_NOTIFICATION);
	CHECK(f.n_rcpt == 0);
	static const char as_no[] = "Auto-Submitted: no\nSubject: x\n\nbody\n";
	parse_checked(as_no, &f, &k);
	CHECK(f.auto_submitted == BS_AS_NO && !bs_fact_known(&f, BS_FACT_AUTO_SUBMITTED));
}

/* tolerant structure handling */
static void test_tolerance(void)
{
	struct bs_msg_facts f;
	struct t_sink k;
	/* boundary lines with trailing whitespace; an unclosed inner multipart
	 * closed by the outer boundary; parameters in odd case and spacing */
	static const char m1[] =
		"Content-Type: Multipart/Report ; Report-Type = Delivery-Status ; Boundary = \"o\"\n\n"
		"--o  \nContent-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/plain\n\nhello\n"
		"--o\t\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; q@x\nAction: failed\n"
		"--o--\n";
	parse_checked(m1, &f, &k);
	CHECK(f.is_dsn && f.report_declared && f.n_rcpt == 1);
	CHECK(f.flags & BS_MF_UNCLOSED_PART);
	/* declared boundary never appears (anonymised): one is adopted */
	static const char m2[] =
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"DECLARED\"\n\n"
		"preamble\n--ACTUAL\nContent-Type: text/plain\n\nfailed\n"
		"--ACTUAL\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; m.example\n\n"
		"Final-Recipient: rfc822; k@x\nAction: failed\nStatus: 5.0.0\n\n--ACTUAL--\n";
	parse_checked(m2, &f, &k);
	CHECK(f.flags & BS_MF_BOUNDARY_GUESSED);
	CHECK(f.n_rcpt == 1 && f.any_failed);
	CHECK_STR(f.reporting_mta, "m.example");
	/* boundary lines stripped: the DSN fields are read from the text, the
	 * quoted original after them still found */
	static const char stripped[] =
		"Content-Type: multipart/report; report-type=delivery-status;\n boundary=\"gone\"\n\n"
		"The original message was received at Thu, 29 Apr 1999\n\n"
		"Reporting-MTA: dns; mailx.example.edu\nArrival-Date: Thu, 29 Apr 1999 23:34:45 -0500\n\n"
		"Final-Recipient: RFC822; k@example.edu\nX-Actual-Recipient: RFC822; |procmail\nAction: failed\n"
		"Status: 5.5.0\n\nReturn-Path: <s@example.com>\nReceived: from mx4 ([192.0.2.68]) by mailx\n"
		"Message-Id: <0000.000@mx4.example.co.jp>\n\nNyaan\n";
	parse_checked(stripped, &f, &k);
	CHECK(f.n_rcpt == 1 && f.any_failed && !f.ds_part_seen);
	CHECK_STR(f.reporting_mta, "mailx.example.edu");
	CHECK_STR(f.rcpt[0].status, "5.5.0");
	CHECK_STR(f.orig_message_id, "<0000.000@mx4.example.co.jp>");
	CHECK(bs_fact_known(&f, BS_FACT_DSN_FAILED) && bs_fact_known(&f, BS_FACT_DSN_END));
	CHECK(!strcmp(capture(stripped, BS_SCOPE_DSN),
		      "Reporting-MTA: dns; mailx.example.edu\nArrival-Date: Thu, 29 Apr 1999 23:34:45 -0500\n\n"
		      "Final-Recipient: RFC822; k@example.edu\nX-Actual-Recipient: RFC822; |procmail\n"
		      "Action: failed\nStatus: 5.5.0\n\n"));
	/* the same fields in a plain text message are prose, not a DSN */
	parse_checked(strstr(stripped, "\n\n") + 2, &f, &k);
	CHECK(f.n_rcpt == 0);
	/* multipart without boundary: read as text */
	static const char m3[] = "Content-Type: multipart/mixed\n\n--- Below this line is a copy of the message.\n\n"
		"Message-ID: <nb@x>\nReceived: from a by b\n";
	parse_checked(m3, &f, &k);
	CHECK(f.flags & BS_MF_NO_BOUNDARY);
	CHECK_STR(f.orig_message_id, "<nb@x>");
	/* body without the blank line after the header; mbox From line first */
	static const char m4[] = "From MAILER-DAEMON Mon Nov 30 10:00:00 2026\nSubject: s\nthis is body text\n";
	parse_checked(m4, &f, &k);
	CHECK(f.flags & BS_MF_MBOX_FROM);
	CHECK_STR(f.subject, "s");
	CHECK(!strcmp(capture(m4, BS_SCOPE_BODY), "this is body text\n"));
	/* multipart/digest: a part without Content-Type is a message */
	static const char dig[] = "Content-Type: multipart/digest; boundary=d\n\n--d\n\n"
		"Message-ID: <dig@x>\nReceived: from a by b\n\nbody\n--d--\n";
	parse_checked(dig, &f, &k);
	CHECK(f.orig_how == BS_ORIG_RFC822);
	CHECK_STR(f.orig_message_id, "<dig@x>");
	/* message/partial (first fragment) carries the original's header */
	static const char part[] = "Content-Type: multipart/mixed; boundary=p\n\n--p\n"
		"Content-Type: message/partial; id=\"x\"; number=1\n\nMessage-ID: <frag@x>\nSubject: s\n\nbody\n--p--\n";
	parse_checked(part, &f, &k);
	CHECK_STR(f.orig_message_id, "<frag@x>");
	/* a bounce forwarded as an attachment is not a bounce; the DSN after it is */
	static const char fwd[] =
		"Subject: Fwd: what is this?\nContent-Type: multipart/mixed; boundary=f\n\n--f\n\nsee below\n"
		"--f\nContent-Type: message/rfc822\n\nMessage-ID: <bounce@mx>\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n--r\n"
		"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; x@y\nAction: failed\n\n--r--\n"
		"--f--\n";
	parse_checked(fwd, &f, &k);
	CHECK(!f.is_dsn && !f.report_declared && !f.ds_part_seen && f.n_rcpt == 0);
	CHECK(f.report_in_orig);
	CHECK(f.orig_how == BS_ORIG_RFC822);
	CHECK_STR(f.orig_message_id, "<bounce@mx>");
	static const char after[] =
		"Content-Type: multipart/mixed; boundary=f\n\n--f\nContent-Type: message/rfc822\n\n"
		"Message-ID: <inner@x>\nContent-Type: message/delivery-status\n\nAction: failed\n"
		"--f\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; z@y\nAction: delayed\n\n--f--\n";
	parse_checked(after, &f, &k);
	CHECK(f.is_dsn && f.ds_part_seen && f.n_rcpt == 1 && f.all_delayed && !f.any_failed);
	CHECK(f.report_in_orig);
	/* header only, no body, no final line end */
	static const char m5[] = "Subject: only header";
	parse_checked(m5, &f, &k);
	CHECK(f.flags & BS_MF_HEADER_ONLY);
	CHECK_STR(f.subject, "only header");
	CHECK(bs_fact_known(&f, BS_FACT_TOP_HEADER_END) && bs_fact_known(&f, BS_FACT_MSG_END));
	/* empty message */
	parse_checked("", &f, &k);
	CHECK(f.flags & BS_MF_HEADER_ONLY);
	/* a NUL byte and 8-bit bytes are data */
	static const uint8_t m6[] = "Subject: caf\xe9\n\nhello\0world\n--- Below this line is a copy of the message.\n\n"
		"Message-ID: <nul@x>\nReceived: from a by b\n";
	struct bs_msg_facts g;
	t_parse(mp, &g, &k, m6, sizeof(m6) - 1, 5);
	CHECK((g.flags & BS_MF_NUL) && (g.flags & BS_MF_8BIT_HEADER));
	CHECK_STR(g.orig_message_id, "<nul@x>");
}

/* offsets: a gap abandons the current line and resynchronises; a repeat
 * of bytes already seen is ignored */
static void test_offsets(void)
{
	struct bs_msg_facts f, g;
	struct t_sink k = { 0 };
	const uint8_t *m = (const uint8_t *)postfix_bounce;
	size_t n = strlen(postfix_bounce);
	/* retransmitted overlap: same facts as a clean feed */
	bs_msgparse_init(mp, &f, &t_cb, &k);
	bs_msgparse_feed(mp, BS_PART_HEADER, 0, m, 300);
	bs_msgparse_feed(mp, BS_PART_HEADER, 200, m + 200, 300);
	bs_msgparse_feed(mp, BS_PART_BODY, 500, m + 500, (uint32_t)(n - 500));
	bs_msgparse_end(mp);
	struct t_sink k2 = { 0 };
	t_parse(mp, &g, &k2, m, n, 0);
	CHECK(!memcmp(&f, &g, sizeof(f)));
	/* a gap inside the delivery-status part: recipient data lost, the original still found, offsets true */
	const char *dsn = strstr(postfix_bounce, "Final-Recipient");
	size_t cut = (size_t)(dsn - postfix_bounce) + 5;
	size_t resume = cut + 20;
	bs_msgparse_init(mp, &f, &t_cb, &k);
	bs_msgparse_feed(mp, BS_PART_HEADER, 0, m, (uint32_t)cut);
	bs_msgparse_feed(mp, BS_PART_BODY, resume, m + resume, (uint32_t)(n - resume));
	bs_msgparse_end(mp);
	CHECK(f.flags & BS_MF_GAP);
	CHECK_STR(f.orig_message_id, "<orig-1@example.org>");
	CHECK(f.offset[BS_FACT_ORIG_MSGID] == g.offset[BS_FACT_ORIG_MSGID]);
	CHECK(f.bytes == n);
	/* feeding after the end is ignored; a non-zero start offset is honoured */
	bs_msgparse_feed(mp, BS_PART_BODY, n, m, 10);
	CHECK(f.bytes == n);
	bs_msgparse_init(mp, &f, NULL, NULL);
	bs_msgparse_feed(mp, BS_PART_HEADER, 1000, m, (uint32_t)n);
	bs_msgparse_end(mp);
	CHECK(f.offset[BS_FACT_TOP_HEADER_END] == g.offset[BS_FACT_TOP_HEADER_END] + 1000);
}

/* callbacks arrive in stream order: the bytes before a fact were handed
 * over before the fact; bytes are batched (far fewer calls than lines) */
struct order_sink {
	char dsn[4096];
	size_t dsn_len;
	unsigned calls, lines;
	bool failed_seen_text;
};

static void ord_bytes(void *ctx, enum bs_scope s, const uint8_t *p, size_t n)
{
	struct order_sink *o = ctx;
	o->calls++;
	for (size_t i = 0; i < n; i++)
		o->lines += p[i] == '\n';
	if (s == BS_SCOPE_DSN && o->dsn_len + n < sizeof(o->dsn)) {
		memcpy(o->dsn + o->dsn_len, p, n);
		o->dsn_len += n;
		o->dsn[o->dsn_len] = '\0';
	}
}

static void ord_fact(void *ctx, int id, uint64_t off)
{
	struct order_sink *o = ctx;
	(void)off;
	if (id == BS_FACT_DSN_FAILED)
		o->failed_seen_text = strstr(o->dsn, "Action: failed\n") != NULL;
}

static void test_order(void)
{
	static const struct bs_msgparse_cb cb = { ord_bytes, NULL, ord_fact };
	struct order_sink o = { 0 };
	struct bs_msg_facts f;
	const uint8_t *m = (const uint8_t *)postfix_bounce;
	size_t n = strlen(postfix_bounce);
	bs_msgparse_init(mp, &f, &cb, &o);
	for (size_t i = 0; i < n; i += 700)
		bs_msgparse_feed(mp, BS_PART_BODY, i, m + i, (uint32_t)(n - i < 700 ? n - i : 700));
	bs_msgparse_end(mp);
	CHECK(o.failed_seen_text);
	CHECK(o.calls * 3 < o.lines);
}

/* Received parsing over the forms of the common MTAs */
static void test_received(void)
{
	static const struct { const char *v, *from, *rdns, *ip, *by; } cases[] = {
		{ "from out.example.org (out.example.org [192.0.2.10]) by mx1.example.net (Postfix) with ESMTPS id X; Mon, 30 Nov 2026",
		  "out.example.org", "out.example.org", "192.0.2.10", "mx1.example.net" },
		{ "from [198.51.100.7] (helo=laptop) by out.example.org with esmtpsa (Exim 4.96) id 1k; Mon",
		  "", "", "198.51.100.7", "out.example.org" },
		{ "from pc (pc.example.org [198.51.100.2]) by sm.example.com (8.15.2/8.15.2) with ESMTP id x",
		  "pc", "pc.example.org", "198.51.100.2", "sm.example.com" },
		{ "from unknown (HELO laptop.example) (203.0.113.5) by mail.example.com with SMTP; 30 Nov 2026",
		  "unknown", "", "203.0.113.5", "mail.example.com" },
		{ "from EX2.corp.example (10.0.0.2) by EX1.corp.example (10.0.0.1) with Microsoft SMTP Server id 15.1",
		  "EX2.corp.example", "", "10.0.0.2", "EX1.corp.example" },
		{ "from mail-wr1.google.com (mail-wr1.google.com. [IPv6:2a00:1450:4864:20::42c]) by mx.example.com",
		  "mail-wr1.google.com", "mail-wr1.google.com.", "2a00:1450:4864:20::42c", "mx.example.com" },
		{ "(qmail 1234 invoked from network); 30 Nov 2026 10:00:00 -0000", "", "", "", "" },
		{ "by 10.0.0.1 with HTTP; Mon, 30 Nov 2026 10:00:00 -0800 (PST)", "", "", "", "10.0.0.1" },
		{ "", "", "", "", "" },
		{ "from", "", "", "", "" },
		{ "from x by", "x", "", "", "" },
		{ "from [999.1.2.3 by y", "", "", "", "y" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bs_received_hop h;
		bs_received_parse(&h, cases[i].v, strlen(cases[i].v));
		if (strcmp(h.from_host, cases[i].from) || strcmp(h.from_rdns, cases[i].rdns) ||
		    strcmp(h.from_ip, cases[i].ip) || strcmp(h.by_host, cases[i].by)) {
			fprintf(stderr, "received \"%s\": from=\"%s\" rdns=\"%s\" ip=\"%s\" by=\"%s\"\n", cases[i].v,
				h.from_host, h.from_rdns, h.from_ip, h.by_host);
			t_fail++;
		}
	}
	/* a 3000-byte value: bounded copies */
	char big[3000];
	memset(big, 'a', sizeof(big));
	memcpy(big, "from ", 5);
	memcpy(big + 1500, " by ", 4);
	struct bs_received_hop h;
	bs_received_parse(&h, big, sizeof(big));
	CHECK(strlen(h.from_host) == BS_FACT_HOST_MAX - 1 && strlen(h.by_host) == BS_FACT_HOST_MAX - 1);
}

int main(void)
{
	mp = t_parser();
	test_postfix_report();
	test_nested_encoded();
	test_encoded_original();
	test_legacy();
	test_not_bounce();
	test_autoreply_mdn();
	test_tolerance();
	test_offsets();
	test_order();
	test_received();
	free(mp);
	if (t_fail) {
		fprintf(stderr, "%d failure(s)\n", t_fail);
		return 1;
	}
	printf("msgparse: all passed (parser state %zu bytes, facts %zu bytes)\n", bs_msgparse_size(),
	       sizeof(struct bs_msg_facts));
	return 0;
}
