/* SMTP session parser: every command and reply path, pipelining,
 * multi-line replies, recipients with their codes, RSET, several
 * transactions, STARTTLS, AUTH, unknown commands, garbage, long lines,
 * gaps, midstream pickup, pool exhaustion and queue overflow. Message
 * content (DATA/BDAT) has its own file, test_smtp_data.c. */
#include <stdlib.h>
#include "test_smtp_rec.h"

static struct rec R;

static const char *ALL_CAPS = "250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
			      "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n"
			      "250-AUTH PLAIN LOGIN\r\n250-DSN\r\n";

static void test_basic_session(void)
{
	rec_init(&R, false);
	rec_hello(&R, ALL_CAPS);
	CHECK_EQ(bs_smtp_session_caps(R.s),
		 BS_SMTP_CAP_PIPELINING | BS_SMTP_CAP_SIZE | BS_SMTP_CAP_STARTTLS | BS_SMTP_CAP_8BITMIME |
		 BS_SMTP_CAP_SMTPUTF8 | BS_SMTP_CAP_CHUNKING | BS_SMTP_CAP_AUTH | BS_SMTP_CAP_DSN);
	C(&R, "MAIL FROM:<alice@example.org> SIZE=1234 BODY=8BITMIME\r\n");
	S(&R, "250 2.1.0 Ok\r\n");
	C(&R, "RCPT TO:<bob@example.net> NOTIFY=FAILURE ORCPT=rfc822;bob@example.net\r\n");
	S(&R, "250 2.1.5 Ok\r\n");
	C(&R, "RCPT TO:<nobody@example.net>\r\n");
	S(&R, "550 5.1.1 <nobody@example.net>: Recipient address rejected\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 End data with <CR><LF>.<CR><LF>\r\n");
	C(&R, "Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody line\r\n.\r\n");
	CHECK_EQ(R.n_ended, 0); /* waits for the reply to the end of data */
	CHECK_EQ(R.msg[0].data_ends, 1); /* but the message is in */
	CHECK_EQ(R.pool[0].data_complete, 1);
	CHECK_EQ(R.pool[0].data_code, 0);
	CHECK_STR(R.pool[0].subject, "hi");
	S(&R, "250 2.0.0 Ok: queued as ABC\r\n");
	CHECK_EQ(R.n_ended, 1);
	C(&R, "QUIT\r\n");
	S(&R, "221 2.0.0 Bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK_STR(t->helo, "client.example.org");
	CHECK_STR(t->mail_from, "alice@example.org");
	CHECK(t->has_mail_from && !t->null_sender);
	CHECK_EQ(t->mail_code, 250);
	CHECK_EQ(t->mail_size, 1234);
	CHECK_STR(t->mail_body, "8BITMIME");
	CHECK_EQ(t->n_rcpt, 2);
	CHECK_EQ(t->n_rcpt_total, 2);
	CHECK_STR(t->rcpt[0].addr, "bob@example.net");
	CHECK_EQ(t->rcpt[0].code, 250);
	CHECK_STR(t->rcpt[1].addr, "nobody@example.net");
	CHECK_EQ(t->rcpt[1].code, 550);
	CHECK_EQ(bs_txn_rcpt_accepted(t), 1);
	CHECK_EQ(t->data_code, 250);
	CHECK(t->data_started && t->data_complete);
	CHECK_STR(t->subject, "hi");
	CHECK_STR(t->message_id, "<1@x>");
	CHECK_EQ(t->size, strlen("Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody line\r\n"));
	CHECK_EQ(t->header_size, strlen("Subject: hi\r\nMessage-ID: <1@x>\r\n\r\n"));
	CHECK_EQ(t->index, 0);
	CHECK_EQ(t->pipelining, 1); /* offered by the server */
	CHECK_EQ(t->tls, 0);
	CHECK_EQ(t->bdat, 0);
	CHECK_EQ(t->anomalies, 0);
	CHECK_EQ(t->flow_id, 42);
	CHECK(t->ts_ns > 0 && t->ts_end_ns > t->ts_ns);
	struct rec_msg *m = rec_msg_of(&R, t);
	CHECK_EQ(m->data_begins, 1);
	CHECK_EQ(m->data_ends, 1);
	CHECK_EQ(m->ended_at_data_end, 0);
	CHECK_EQ(m->hdr_len, strlen("Subject: hi\r\nMessage-ID: <1@x>\r\n\r\n"));
	CHECK_EQ(m->body_len, strlen("body line\r\n"));
	CHECK(memcmp(m->body, "body line\r\n", m->body_len) == 0);
	CHECK_EQ(R.bad_offsets, 0);
	/* EHLO MAIL RCPT RCPT DATA end-of-data QUIT */
	CHECK_EQ(R.st.commands, 7);
	/* greeting, EHLO, MAIL, RCPT x2, 354, 250, 221 */
	CHECK_EQ(R.st.replies, 8);
	CHECK_EQ(R.st.transactions, 1);
	CHECK_EQ(R.st.messages, 1);
	CHECK_EQ(R.st.garbage + R.st.unpaired_replies + R.st.long_lines, 0);
	CHECK(!bs_smtp_session_encrypted(R.s));
	rec_free(&R);
}

/* One transaction per MAIL form, each ended by the next MAIL. */
static void test_mail_forms(void)
{
	static const struct { const char *cmd, *addr; bool null; } forms[] = {
		{ "MAIL FROM:<>\r\n", "", true },
		{ "mail from: <X.Y@Example.ORG>\r\n", "X.Y@Example.ORG", false },
		{ "MAIL FROM:x@y.example\r\n", "x@y.example", false },
		{ "MAIL FROM:<@relay1.example,@relay2.example:user@dom.example>\r\n", "user@dom.example", false },
		{ "MAIL FROM: <> RET=HDRS ENVID=QQ314159 SMTPUTF8 AUTH=<>\r\n", "", true },
		{ "MAIL FROM:<\"odd >name\"@x.example> SIZE=99\r\n", "\"odd >name\"@x.example", false },
		{ "MAIL FROM:<unclosed@x.example SIZE=5\r\n", "unclosed@x.example", false },
		{ "Mail From : <spaces@x.example>\r\n", "spaces@x.example", false },
	};
	const size_t n = sizeof forms / sizeof forms[0];
	rec_init(&R, false);
	rec_hello(&R, "");
	for (size_t i = 0; i < n; i++) {
		C(&R, forms[i].cmd);
		S(&R, "250 ok\r\n");
	}
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, n);
	for (size_t i = 0; i < n && i < (size_t)R.n_ended; i++) {
		struct bs_txn *t = R.ended[i];
		CHECK_STR(t->mail_from, forms[i].addr);
		CHECK_EQ(t->null_sender, forms[i].null);
		CHECK_EQ(t->mail_code, 250);
		CHECK_EQ(t->index, i);
		CHECK_EQ(t->data_started, 0);
		CHECK_EQ(t->anomalies, 0);
		CHECK_EQ(t->pipelining, 0);
	}
	CHECK_STR(R.ended[4]->mail_ret, "HDRS");
	CHECK_STR(R.ended[4]->mail_envid, "QQ314159");
	CHECK_EQ(R.ended[4]->smtputf8, 1);
	CHECK_EQ(R.ended[5]->mail_size, 99);
	rec_free(&R);
}

static void test_pipelining(void)
{
	rec_init(&R, false);
	rec_hello(&R, "250-PIPELINING\r\n");
	C(&R, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example>\r\nDATA\r\n");
	S(&R, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n");
	C(&R, "Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n");
	S(&R, "250 queued\r\n221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK_EQ(t->mail_code, 250);
	CHECK_EQ(t->rcpt[0].code, 250);
	CHECK_EQ(t->rcpt[1].code, 550);
	CHECK_EQ(t->data_code, 250);
	CHECK_EQ(t->pipelining, 1);
	CHECK_STR(t->subject, "piped");
	CHECK_EQ(t->anomalies, 0);
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* client pipelining although the server did not offer it */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
	S(&R, "250 ok\r\n250 ok\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->pipelining, 1);
	rec_free(&R);

	/* neither: lock-step client, no PIPELINING offered */
	rec_init(&R, false);
	rec_hello(&R, "250-SIZE 1000\r\n");
	C(&R, "MAIL FROM:<a@b.example>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<c@d.example>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->pipelining, 0);
	rec_free(&R);

	/* a RSET pipelined before the RCPT reply: the code still lands */
	rec_init(&R, false);
	rec_hello(&R, "250-PIPELINING\r\n");
	C(&R, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRSET\r\nMAIL FROM:<>\r\n");
	CHECK_EQ(R.n_ended, 0);
	S(&R, "250 ok\r\n");
	CHECK_EQ(R.n_ended, 0);
	S(&R, "450 4.2.0 greylisted\r\n");
	CHECK_EQ(R.n_ended, 1);
	S(&R, "250 reset\r\n250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 2);
	CHECK_EQ(R.ended[0]->rcpt[0].code, 450);
	CHECK_EQ(R.ended[0]->anomalies, 0);
	CHECK_EQ(R.ended[1]->null_sender, 1);
	CHECK_EQ(R.ended[1]->mail_code, 250);
	CHECK_EQ(R.ended[1]->index, 1);
	CHECK_EQ(R.ended[1]->anomalies, BS_ANOM_INCOMPLETE); /* open at session end */
	rec_free(&R);
}

static void test_multiline_replies(void)
{
	rec_init(&R, false);
	S(&R, "220-mx.example.net ESMTP\r\n220-second greeting line\r\n220 ready\r\n");
	C(&R, "EHLO c\r\n");
	/* a capability reply split inside a keyword and between lines */
	S(&R, "250-mx.example.net\r\n250-PIPE");
	S(&R, "LINING\r\n250-CHUN");
	S(&R, "KING\r");
	S(&R, "\n250 8BITMIME\r\n");
	CHECK_EQ(bs_smtp_session_caps(R.s), BS_SMTP_CAP_PIPELINING | BS_SMTP_CAP_CHUNKING | BS_SMTP_CAP_8BITMIME);
	CHECK_EQ(R.st.replies, 2);
	C(&R, "MAIL FROM:<a@b>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<x@y>\r\n");
	S(&R, "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
	      "550-5.1.1 Please try double-checking the recipient's email address\r\n"
	      "550 5.1.1 https://support.example/?p=NoSuchUser\r\n");
	C(&R, "RCPT TO:<y@y>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.st.replies, 5);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->rcpt[0].code, 550);
	CHECK_EQ(R.ended[0]->rcpt[1].code, 250);
	CHECK_EQ(R.st.unpaired_replies + R.st.garbage, 0);
	rec_free(&R);
}

static void test_rset_and_transactions(void)
{
	rec_init(&R, false);
	S(&R, "220 mx ESMTP\r\n");
	C(&R, "HELO old.example\r\n");
	S(&R, "250 mx\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RSET\r\n");
	CHECK_EQ(R.n_ended, 1); /* all its replies are in: it ends at RSET */
	S(&R, "250 reset\r\n");
	for (int i = 0; i < 3; i++) {
		char subj[64];
		C(&R, "MAIL FROM:<>\r\n");
		S(&R, "250 ok\r\n");
		C(&R, "RCPT TO:<b@y>\r\n");
		S(&R, "250 ok\r\n");
		C(&R, "DATA\r\n");
		S(&R, "354 go\r\n");
		snprintf(subj, sizeof subj, "Subject: msg %d\r\n\r\nbody\r\n.\r\n", i);
		C(&R, subj);
		S(&R, i == 1 ? "554 5.7.1 rejected\r\n" : "250 ok\r\n");
	}
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 4);
	CHECK_EQ(R.ended[0]->index, 0);
	CHECK_EQ(R.ended[0]->data_started, 0);
	CHECK_EQ(R.ended[0]->anomalies, 0);
	for (int i = 0; i < 3 && i + 1 < R.n_ended; i++) {
		struct bs_txn *t = R.ended[i + 1];
		char want[32];
		snprintf(want, sizeof want, "msg %d", i);
		CHECK_EQ(t->index, i + 1);
		CHECK_STR(t->subject, want);
		CHECK_STR(t->helo, "old.example");
		CHECK_EQ(t->null_sender, 1);
		CHECK_EQ(t->data_code, i == 1 ? 554 : 250);
		CHECK_EQ(t->anomalies, 0);
	}
	CHECK_EQ(bs_smtp_session_transactions(R.s), 4);
	rec_free(&R);

	/* EHLO in the middle of a transaction resets it */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "EHLO again.example\r\n");
	CHECK_EQ(R.n_ended, 1);
	S(&R, "250 mx\r\n");
	C(&R, "MAIL FROM:<b@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 2);
	CHECK_STR(R.ended[1]->helo, "again.example");
	rec_free(&R);
}

static void test_data_rejected(void)
{
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "550 no\r\n");
	C(&R, "DATA\r\n");
	S(&R, "554 5.5.1 Error: no valid recipients\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK_EQ(t->data_code, 554);
	CHECK_EQ(t->data_started, 0);
	CHECK_EQ(t->anomalies, 0);
	CHECK_EQ(R.st.commands, 5); /* QUIT was read as a command, not content */
	CHECK_EQ(R.st.messages, 0);
	rec_free(&R);
}

static void test_starttls(void)
{
	/* before any MAIL: one record for the encrypted session */
	rec_init(&R, false);
	rec_hello(&R, "250-STARTTLS\r\n");
	C(&R, "STARTTLS\r\n");
	S(&R, "220 2.0.0 Ready to start TLS\r\n");
	rec_bytes(&R, true, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 MAIL FROM:<no@parse>\r\n", 40);
	rec_bytes(&R, false, "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03", 11);
	C(&R, "RCPT TO:<encrypted@really>\r\n");
	CHECK_EQ(R.n_ended, 0);
	CHECK(bs_smtp_session_encrypted(R.s));
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK_EQ(t->tls, 1);
	CHECK_EQ(t->index, 0);
	CHECK_EQ(t->has_mail_from, 0);
	CHECK_EQ(t->n_rcpt, 0);
	CHECK_STR(t->helo, "client.example.org");
	CHECK_EQ(t->anomalies, 0);
	CHECK_EQ(R.st.starttls, 1);
	CHECK_EQ(R.st.garbage, 0);
	rec_free(&R);

	/* after a finished transaction: it keeps tls false, the encrypted rest
	 * gets its own record with the next index */
	rec_init(&R, false);
	rec_hello(&R, "250-STARTTLS\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: clear\r\n\r\n.\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "STARTTLS\r\n");
	S(&R, "220 go\r\n");
	rec_bytes(&R, true, "\x16\x03\x01\x00\x05hello", 10);
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 2);
	CHECK_EQ(R.ended[0]->tls, 0);
	CHECK_STR(R.ended[0]->subject, "clear");
	CHECK_EQ(R.ended[1]->tls, 1);
	CHECK_EQ(R.ended[1]->index, 1);
	CHECK_EQ(R.ended[1]->has_mail_from, 0);
	rec_free(&R);

	/* inside an open transaction (after MAIL): that record says tls */
	rec_init(&R, false);
	rec_hello(&R, "250-STARTTLS\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "STARTTLS\r\n");
	S(&R, "220 go\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->tls, 1);
	CHECK_STR(R.ended[0]->mail_from, "a@x");
	CHECK_EQ(R.ended[0]->anomalies, 0);
	rec_free(&R);

	/* refused: the session stays in clear text */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "STARTTLS\r\n");
	S(&R, "454 4.7.0 TLS not available\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK(!bs_smtp_session_encrypted(R.s));
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->tls, 0);
	CHECK_EQ(R.ended[0]->mail_code, 250);
	rec_free(&R);

	/* the ClientHello shows up before we parsed the 220 */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "STARTTLS\r\n");
	rec_bytes(&R, true, "\x16\x03\x01\x00\x05hello", 10);
	S(&R, "220 go\r\n");
	rec_end(&R, 0);
	CHECK(bs_smtp_session_encrypted(R.s));
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->tls, 1);
	CHECK_EQ(R.st.garbage, 0);
	rec_free(&R);
}

static void test_auth(void)
{
	rec_init(&R, false);
	rec_hello(&R, "250-AUTH LOGIN PLAIN\r\n");
	C(&R, "AUTH LOGIN\r\n");
	S(&R, "334 VXNlcm5hbWU6\r\n");
	C(&R, "dXNlcg==\r\n");
	S(&R, "334 UGFzc3dvcmQ6\r\n");
	C(&R, "cGFzcw==\r\n");
	S(&R, "535 5.7.8 authentication failed\r\n");
	/* a SASL line that looks like a command is still SASL data */
	C(&R, "AUTH LOGIN\r\n");
	S(&R, "334 VXNlcm5hbWU6\r\n");
	C(&R, "MAIL FROM:<not@a.command>\r\n");
	S(&R, "334 UGFzc3dvcmQ6\r\n");
	C(&R, "*\r\n");
	S(&R, "501 5.7.0 cancelled\r\n");
	C(&R, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
	S(&R, "235 2.7.0 Authentication successful\r\n");
	C(&R, "MAIL FROM:<user@example.org> AUTH=user@example.org\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<r@example.net>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.st.auth, 3);
	CHECK_EQ(R.n_ended, 1);
	CHECK_STR(R.ended[0]->mail_from, "user@example.org");
	CHECK_EQ(R.ended[0]->mail_code, 250);
	CHECK_EQ(R.ended[0]->rcpt[0].code, 250);
	CHECK_EQ(R.ended[0]->index, 0);
	CHECK_EQ(R.st.unpaired_replies + R.st.garbage, 0);
	rec_free(&R);
}

static void test_other_commands(void)
{
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "NOOP\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "VRFY bob\r\n");
	S(&R, "252 2.0.0 bob\r\n");
	C(&R, "EXPN list\r\n");
	S(&R, "502 no\r\n");
	C(&R, "HELP\r\n");
	S(&R, "214-2.0.0 help\r\n214 2.0.0 end\r\n");
	C(&R, "XYZZY plugh\r\n");
	S(&R, "502 5.5.2 Error: command not recognized\r\n");
	C(&R, "ETRN example.org\r\n");
	S(&R, "250 queuing started\r\n");
	C(&R, "\r\n"); /* empty line: Postfix answers 500 */
	S(&R, "500 5.5.2 Error: bad syntax\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "251 forwarded\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->mail_code, 250);
	CHECK_EQ(R.ended[0]->rcpt[0].code, 251);
	CHECK_EQ(bs_txn_rcpt_accepted(R.ended[0]), 1);
	CHECK_EQ(R.st.unpaired_replies, 0);
	CHECK_EQ(R.st.garbage, 1); /* only the empty line */
	rec_free(&R);
}

static void test_garbage_and_unpaired(void)
{
	rec_init(&R, false);
	rec_hello(&R, "");
	rec_bytes(&R, true, "\x01\x02\xff\xfe garbage\r\n", 14);
	S(&R, "500 5.5.2 Error: bad syntax\r\n");
	S(&R, "250 surprise\r\n");          /* nothing pending */
	S(&R, "this is not a reply\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.st.garbage, 2);
	CHECK_EQ(R.st.unpaired_replies, 1);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	/* seen before the transaction: carried to it */
	CHECK(t->anomalies & BS_ANOM_GARBAGE);
	CHECK(t->anomalies & BS_ANOM_UNPAIRED_REPLY);
	CHECK_EQ(t->mail_code, 250);   /* still in sync */
	CHECK_EQ(t->rcpt[0].code, 250);
	rec_free(&R);

	/* MAIL without FROM: */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL TO:<a@x>\r\n");
	S(&R, "501 syntax\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->has_mail_from, 0);
	CHECK(R.ended[0]->anomalies & BS_ANOM_GARBAGE);
	CHECK_EQ(R.ended[0]->mail_code, 501);
	rec_free(&R);
}

static void test_long_lines(void)
{
	char line[4096];
	int k = snprintf(line, sizeof line, "MAIL FROM:<");
	memset(line + k, 'a', 2000);
	k += 2000;
	k += snprintf(line + k, sizeof line - (size_t)k, "@x.example>\r\n");

	for (int chunked = 0; chunked < 2; chunked++) {
		rec_init(&R, false);
		rec_hello(&R, "");
		if (chunked) {
			for (int i = 0; i < k; i += 100)
				rec_bytes(&R, true, line + i, (size_t)(k - i < 100 ? k - i : 100));
		} else {
			rec_bytes(&R, true, line, (size_t)k);
		}
		S(&R, "501 5.5.4 line too long\r\n");
		C(&R, "RCPT TO:<b@y>\r\n");
		S(&R, "503 need MAIL\r\n");
		/* an over-long reply line too */
		C(&R, "NOOP\r\n");
		char reply[3000];
		memset(reply, 'r', sizeof reply);
		memcpy(reply, "250 ", 4);
		memcpy(reply + sizeof reply - 2, "\r\n", 2);
		rec_bytes(&R, false, reply, sizeof reply);
		C(&R, "QUIT\r\n");
		S(&R, "221 bye\r\n");
		rec_end(&R, 0);
		CHECK_EQ(R.st.long_lines, 2);
		CHECK_EQ(R.n_ended, 1);
		struct bs_txn *t = R.ended[0];
		CHECK(t->anomalies & BS_ANOM_LONG_LINE);
		CHECK(t->anomalies & BS_ANOM_TRUNCATED);
		CHECK_EQ(strlen(t->mail_from), BS_ADDR_MAX - 1);
		CHECK_EQ(t->mail_code, 501);
		CHECK_EQ(t->rcpt[0].code, 503);
		CHECK_EQ(R.st.unpaired_replies, 0);
		rec_free(&R);
	}
}

static void test_gaps(void)
{
	/* client gap in command mode: the partial line is dropped */
	rec_init(&R, false);
	rec_hello(&R, "250-PIPELINING\r\n");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<c");
	bs_smtp_gap(R.s, true, 10);
	C(&R, "d@lost>\r\nRCPT TO:<e@f>\r\n");
	S(&R, "250 ok\r\n250 ok\r\n251 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK(t->anomalies & BS_ANOM_GAP);
	CHECK_EQ(t->n_rcpt, 1);         /* the cut one is not recorded ... */
	CHECK_EQ(t->n_rcpt_total, 2);   /* ... but counted and paired */
	CHECK_STR(t->rcpt[0].addr, "e@f");
	CHECK_EQ(t->rcpt[0].code, 251);
	CHECK_EQ(R.st.unpaired_replies, 0);
	CHECK_EQ(R.st.gaps, 1);
	rec_free(&R);

	/* a hole that ends at a line start: the next command is read at once */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	bs_smtp_gap(R.s, true, 22);
	C(&R, "RCPT TO:<e@f>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->n_rcpt, 1);
	CHECK_STR(R.ended[0]->rcpt[0].addr, "e@f");
	CHECK_EQ(R.ended[0]->rcpt[0].code, 250);
	rec_free(&R);

	/* server gap: the partial reply line is dropped, the next line pairs */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 o");
	bs_smtp_gap(R.s, false, 20);
	S(&R, "k\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "251 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK(R.ended[0]->anomalies & BS_ANOM_GAP);
	CHECK_EQ(R.ended[0]->mail_code, 250); /* the code made it before the gap */
	CHECK_EQ(R.ended[0]->rcpt[0].code, 251);
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* gap inside DATA: counted as message bytes, resync on the marker */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: gap\r\n\r\nline1\r\nli");
	bs_smtp_gap(R.s, true, 100);
	C(&R, "ne2\r\nline3\r\n.\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	t = R.ended[0];
	CHECK(t->anomalies & BS_ANOM_GAP);
	CHECK_EQ(t->data_complete, 1);
	CHECK_EQ(t->data_code, 250);
	CHECK_EQ(t->size, strlen("Subject: gap\r\n\r\nline1\r\nli") + 100 + strlen("ne2\r\nline3\r\n"));
	CHECK_STR(t->subject, "gap");
	CHECK_EQ(R.st.commands, 6); /* EHLO MAIL RCPT DATA end-of-data QUIT */
	rec_free(&R);

	/* the gap swallowed the end-of-data marker: the server's reply ends it */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: lost end\r\n\r\nbody\r\n");
	bs_smtp_gap(R.s, true, 5);
	S(&R, "250 2.0.0 queued\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	t = R.ended[0];
	CHECK_EQ(t->data_code, 250);
	CHECK(t->anomalies & BS_ANOM_GAP);
	CHECK(!(t->anomalies & BS_ANOM_INCOMPLETE));
	CHECK_EQ(R.st.unpaired_replies, 0);
	CHECK_EQ(R.st.commands, 5); /* EHLO MAIL RCPT DATA QUIT: back in sync */
	rec_free(&R);

	/* a hole in the client stream that reassembly gives up on only at
	 * the end: the server's replies to the bytes behind it come first */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: held\r\n\r\nline one\r\nline t");
	S(&R, "250 2.0.0 queued\r\n");
	S(&R, "221 bye\r\n");
	bs_smtp_gap(R.s, true, 120);
	C(&R, "hree\r\n.\r\nQUIT\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	t = R.ended[0];
	CHECK_EQ(t->data_code, 250);
	CHECK_EQ(t->data_complete, 1);
	CHECK_EQ(t->anomalies, BS_ANOM_GAP);
	CHECK_EQ(t->size, strlen("Subject: held\r\n\r\nline one\r\nline t") + 120 + strlen("hree\r\n"));
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* the same in command mode: replies to pipelined commands first */
	rec_init(&R, false);
	rec_hello(&R, "250-PIPELINING\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n550 no such user\r\n250 ok\r\n");
	bs_smtp_gap(R.s, true, 30);
	C(&R, "RCPT TO:<gone@y>\r\nRCPT TO:<b@y>\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	t = R.ended[0];
	CHECK_EQ(t->n_rcpt, 2);
	CHECK_EQ(t->rcpt[0].code, 550);
	CHECK_EQ(t->rcpt[1].code, 250);
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* the EHLO command held behind a hole: its reply (capabilities
	 * included) comes first */
	rec_init(&R, false);
	S(&R, "220 mx ESMTP\r\n");
	S(&R, "250-mx Hello\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
	bs_smtp_gap(R.s, true, 3);
	C(&R, "LO client.example\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(bs_smtp_session_caps(R.s), BS_SMTP_CAP_PIPELINING | BS_SMTP_CAP_CHUNKING);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->pipelining, 1);
	rec_free(&R);

	/* a command lost in the capture (EHLO), the gap known at once: every
	 * later reply arrives one step early; DATA still gets its 354 */
	rec_init(&R, false);
	S(&R, "220 mx ESMTP\r\n");
	bs_smtp_gap(R.s, true, 26);
	S(&R, "250-mx Hello\r\n250 SMTPUTF8\r\n");
	C(&R, "MAIL FROM:<alice@example.org>\r\n");
	S(&R, "250 2.1.0 Ok\r\n");
	C(&R, "RCPT TO:<bob@example.net>\r\n");
	S(&R, "250 2.1.5 Ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: after a lost EHLO\r\n\r\nbody\r\n.\r\n");
	S(&R, "250 queued\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	t = R.ended[0];
	CHECK_STR(t->helo, "");
	CHECK_EQ(t->data_code, 250);
	CHECK_STR(t->subject, "after a lost EHLO");
	CHECK_EQ(t->pipelining, 0);
	CHECK_EQ(t->anomalies, BS_ANOM_GAP | BS_ANOM_UNPAIRED_REPLY);
	CHECK_EQ(R.st.garbage, 0);
	CHECK_EQ(R.st.unpaired_replies, 1);
	rec_free(&R);

	/* the 354 was lost: the reply after the message is for its end */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	bs_smtp_gap(R.s, false, 20);
	C(&R, "Subject: no 354\r\n\r\nb\r\n.\r\n");
	S(&R, "250 queued\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	t = R.ended[0];
	CHECK_EQ(t->data_code, 250);
	CHECK_EQ(t->data_complete, 1);
	CHECK_STR(t->subject, "no 354");
	CHECK_EQ(t->anomalies, BS_ANOM_GAP);
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* gap in the header block: the partial field is dropped */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: par");
	bs_smtp_gap(R.s, true, 7);
	C(&R, "tial\r\nMessage-ID: <m@x>\r\n\r\nb\r\n.\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_STR(R.ended[0]->subject, "");
	CHECK_STR(R.ended[0]->message_id, "<m@x>");
	rec_free(&R);
}

static void test_flag(void)
{
	rec_init(&R, false);
	rec_hello(&R, "");
	bs_smtp_flag(R.s, BS_ANOM_OVERLAP_MISMATCH); /* between transactions: the next one */
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RSET\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "MAIL FROM:<b@x>\r\n");
	bs_smtp_flag(R.s, BS_ANOM_GAP);              /* inside: this one */
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 2);
	CHECK_EQ(R.ended[0]->anomalies, BS_ANOM_OVERLAP_MISMATCH);
	CHECK_EQ(R.ended[1]->anomalies, BS_ANOM_GAP | BS_ANOM_INCOMPLETE);
	rec_free(&R);
}

static void test_midstream(void)
{
	rec_init(&R, true);
	/* picked up inside a message body (lines that start like commands
	 * but are text do not count) */
	C(&R, "some body text\r\nMail from the chairman:\r\nData follows\r\nHelo everybody\r\n"
	      "MAIL FROM: the list\r\n.\r\n");
	S(&R, "250 2.0.0 Ok: queued as 1234\r\n");
	C(&R, "MAIL FROM:<x@y.example>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<z@w.example>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: after pickup\r\n\r\nb\r\n.\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "QUIT\r\n");
	S(&R, "221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK_EQ(t->anomalies, BS_ANOM_MIDSTREAM);
	CHECK_STR(t->mail_from, "x@y.example");
	CHECK_STR(t->helo, "");
	CHECK_EQ(t->rcpt[0].code, 250);
	CHECK_EQ(t->data_code, 250);
	CHECK_STR(t->subject, "after pickup");
	CHECK_EQ(R.st.midstream_skipped_lines, 6);
	CHECK_EQ(R.st.unpaired_replies + R.st.garbage, 0);
	rec_free(&R);

	/* picked up in a bounce that quotes a whole SMTP dialogue: those
	 * lines are text (the server never answers them) */
	rec_init(&R, true);
	C(&R, "MAIL FROM:<forged@victim.example>\r\n250 2.1.0 Ok\r\nRCPT TO:<nobody@example.com>\r\n"
	      "550 5.1.1 User unknown\r\nDATA\r\n354 go ahead\r\n\r\nquoted line\r\n");
	C(&R, "MAIL FROM:<last@quoted.example>\r\n.\r\n");
	S(&R, "250 2.0.0 Ok: queued\r\n");
	/* then a real pipelined transaction: held until the server answers */
	C(&R, "MAIL FROM:<carol@example.org>\r\nRCPT TO:<dave@example.net>\r\nDATA\r\n");
	uint64_t t_mail = R.now;
	S(&R, "250 ok\r\n250 ok\r\n354 go\r\n");
	C(&R, "Subject: real\r\n\r\nb\r\n.\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	if (R.n_ended == 1) {
		t = R.ended[0];
		CHECK_STR(t->mail_from, "carol@example.org");
		CHECK_EQ(t->index, 0);
		CHECK_EQ(t->n_rcpt, 1);
		CHECK_STR(t->rcpt[0].addr, "dave@example.net");
		CHECK_EQ(t->rcpt[0].code, 250);
		CHECK_EQ(t->data_code, 250);
		CHECK_STR(t->subject, "real");
		CHECK_EQ(t->ts_ns, t_mail); /* the time of the MAIL command, not of its reply */
		CHECK_EQ(t->anomalies, BS_ANOM_MIDSTREAM);
	}
	CHECK_EQ(R.st.unpaired_replies + R.st.garbage, 0);
	rec_free(&R);

	/* picked up in the middle of a reply and of a command line */
	rec_init(&R, true);
	S(&R, "-continued text\r\n250 ok\r\n");
	C(&R, "O:<half@line>\r\nRCPT TO:<r@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RSET\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 0); /* no MAIL seen: no transaction */
	CHECK_EQ(R.st.commands, 2);
	rec_free(&R);
}

static void test_unrecorded_and_limits(void)
{
	/* no record available: parsed all the same, counted */
	rec_init(&R, false);
	R.fail_alloc_after = 0;
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n");
	S(&R, "250 ok\r\n250 ok\r\n354 go\r\n");
	C(&R, "Subject: nobody sees me\r\n\r\nbody\r\n.\r\nMAIL FROM:<c@x>\r\n");
	S(&R, "250 ok\r\n250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 0);
	CHECK_EQ(R.st.transactions, 2);
	CHECK_EQ(R.st.txn_unrecorded, 2);
	CHECK_EQ(R.st.messages, 1);
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* more recipients than recorded: counted, flagged */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	for (int i = 0; i < BS_MAX_RCPT + 5; i++) {
		char l[64];
		snprintf(l, sizeof l, "RCPT TO:<r%d@y>\r\n", i);
		C(&R, l);
		S(&R, "250 ok\r\n");
	}
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->n_rcpt, BS_MAX_RCPT);
	CHECK_EQ(R.ended[0]->n_rcpt_total, BS_MAX_RCPT + 5);
	CHECK(R.ended[0]->anomalies & BS_ANOM_TRUNCATED);
	rec_free(&R);

	/* more pipelined commands than the queue holds */
	rec_init(&R, false);
	rec_hello(&R, "");
	for (int i = 0; i < BS_SMTP_PENDING_MAX + 36; i++)
		C(&R, "NOOP\r\n");
	for (int i = 0; i < BS_SMTP_PENDING_MAX + 36; i++)
		S(&R, "250 ok\r\n");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.st.unpaired_replies, 36);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->mail_code, 250);
	rec_free(&R);

	/* more pipelined transactions than slots, replies much later */
	rec_init(&R, false);
	rec_hello(&R, "250-PIPELINING\r\n");
	for (int i = 0; i < 10; i++)
		C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRSET\r\n");
	for (int i = 0; i < 10; i++)
		S(&R, "250 ok\r\n250 ok\r\n250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 10);
	for (int i = 0; i < R.n_ended; i++)
		CHECK_EQ(R.ended[i]->index, i);  /* the oldest are forced out first */
	/* the last ones (in slots to the end) got their codes */
	CHECK_EQ(R.ended[9]->rcpt[0].code, 250);
	CHECK_EQ(R.ended[0]->rcpt[0].code, 0);
	rec_free(&R);

	/* session end in the middle of DATA */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	S(&R, "354 go\r\n");
	C(&R, "Subject: cut\r\n\r\nhalf a bo");
	rec_end(&R, BS_ANOM_TIMEOUT);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->anomalies, BS_ANOM_TIMEOUT | BS_ANOM_INCOMPLETE);
	CHECK_EQ(R.ended[0]->data_complete, 0);
	CHECK_EQ(rec_msg_of(&R, R.ended[0])->data_ends, 0); /* the message never ended */
	CHECK_EQ(R.ended[0]->size, strlen("Subject: cut\r\n\r\nhalf a bo"));
	CHECK_STR(R.ended[0]->subject, "cut");
	/* nothing happens after the end */
	C(&R, "MAIL FROM:<late@x>\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	rec_free(&R);
}

int main(void)
{
	test_basic_session();
	test_mail_forms();
	test_pipelining();
	test_multiline_replies();
	test_rset_and_transactions();
	test_data_rejected();
	test_starttls();
	test_auth();
	test_other_commands();
	test_garbage_and_unpaired();
	test_long_lines();
	test_gaps();
	test_midstream();
	test_flag();
	test_unrecorded_and_limits();
	return t_report("test_smtp");
}
