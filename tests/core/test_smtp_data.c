/* SMTP message content: DATA with dot-unstuffing and the end-of-data marker
 * split across segments at every position, bare LF line ends, the header /
 * body boundary the hook sees, BS_HOOK_SKIP_BODY (end marker still found,
 * size still exact), BDAT with pipelined chunks and LAST (split at every
 * position), BDAT errors. */
#include <stdlib.h>
#include "test_smtp_rec.h"

static struct rec R;

/* reference dot-unstuffing of the lines of a DATA body (up to the marker) */
static size_t unstuff(const char *in, char *out)
{
	size_t o = 0;
	bool bol = true;
	for (size_t i = 0; in[i]; i++) {
		if (bol && in[i] == '.') {
			bol = false; /* only the first dot of a line is stuffing */
			continue;    /* (the marker line is not part of `in`) */
		}
		out[o++] = in[i];
		bol = in[i] == '\n';
	}
	out[o] = '\0';
	return o;
}

static void open_data(struct rec *r)
{
	rec_hello(r, "250-PIPELINING\r\n250-CHUNKING\r\n");
	C(r, "MAIL FROM:<>\r\n");
	S(r, "250 ok\r\n");
	C(r, "RCPT TO:<victim@home.example>\r\n");
	S(r, "250 ok\r\n");
	C(r, "DATA\r\n");
	S(r, "354 go\r\n");
}

static const char *HDR = "Return-Path: <>\r\nSubject: split test\r\nFrom: MAILER-DAEMON@mx.example\r\n"
			 "Message-ID: <split.1@mx.example>\r\n\r\n";
static const char *BODY = "line one\r\n..dotted line\r\n.single\r\n...\r\n\r\nMAIL FROM:<not@cmd>\r\nend\r\n";

/* Session with the content given in two (or three) pieces. */
static void run_split(const char *wire, size_t n, size_t a, size_t b, uint64_t skip_after)
{
	rec_init(&R, false);
	R.skip_body_after = skip_after;
	open_data(&R);
	rec_bytes(&R, true, wire, a);
	rec_bytes(&R, true, wire + a, b - a);
	rec_bytes(&R, true, wire + b, n - b);
	S(&R, "250 2.0.0 queued\r\n221 bye\r\n");
	rec_end(&R, 0);
}

static void test_data_splits(void)
{
	char wire[1024], body[512], want_body[512];
	size_t hl = strlen(HDR);
	snprintf(body, sizeof body, "%s", BODY);
	int n = snprintf(wire, sizeof wire, "%s%s.\r\nQUIT\r\n", HDR, BODY);
	size_t wl = unstuff(body, want_body);
	int fails_before = t_failures;

	/* every split point, then every pair of split points */
	for (int a = 0; a <= n; a++) {
		for (int b = a; b <= n; b++) {
			if (a != 0 && b != a && b != n && (b - a) % 7 != 0 && b != a + 1)
				continue; /* pairs: a sample that still covers every b */
			run_split(wire, (size_t)n, (size_t)a, (size_t)b, 0);
			CHECK_EQ(R.n_ended, 1);
			if (R.n_ended != 1)
				goto out;
			struct bs_txn *t = R.ended[0];
			struct rec_msg *m = rec_msg_of(&R, t);
			CHECK_EQ(m->hdr_len, hl);
			CHECK(memcmp(m->hdr, HDR, hl) == 0);
			CHECK_EQ(m->body_len, wl);
			CHECK(memcmp(m->body, want_body, wl) == 0);
			CHECK_EQ(t->size, hl + wl);
			CHECK_EQ(t->header_size, hl);
			CHECK_STR(t->subject, "split test");
			CHECK_STR(t->message_id, "<split.1@mx.example>");
			CHECK_STR(t->return_path, "");
			CHECK_EQ(t->data_code, 250);
			CHECK_EQ(t->data_complete, 1);
			CHECK_EQ(t->anomalies, 0);
			CHECK_EQ(R.bad_offsets, 0);
			CHECK_EQ(R.part_order_errors, 0);
			CHECK_EQ(R.st.commands, 6); /* EHLO MAIL RCPT DATA eod QUIT */
			CHECK_EQ(R.st.unpaired_replies, 0);
			rec_free(&R);
			if (t_failures != fails_before) {
				fprintf(stderr, "  (split at %d/%d)\n", a, b);
				return;
			}
		}
	}
	return;
out:
	fprintf(stderr, "  (split failed)\n");
	rec_free(&R);
}

/* byte by byte, and with the hook asking to skip the body */
static void test_data_byte_by_byte_and_skip(void)
{
	char wire[1024], want_body[512];
	int n = snprintf(wire, sizeof wire, "%s%s.\r\nQUIT\r\n", HDR, BODY);
	size_t wl = unstuff(BODY, want_body);
	size_t hl = strlen(HDR);

	rec_init(&R, false);
	open_data(&R);
	for (int i = 0; i < n; i++)
		rec_bytes(&R, true, wire + i, 1);
	S(&R, "250 ok\r\n221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->size, hl + wl);
	CHECK_EQ(rec_msg_of(&R, R.ended[0])->body_len, wl);
	CHECK_EQ(R.st.commands, 6);
	rec_free(&R);

	/* SKIP_BODY after the first body bytes: size stays exact, the
	 * marker is found at every split point, the hook gets no more */
	for (int a = 0; a <= n; a++) {
		run_split(wire, (size_t)n, (size_t)a, (size_t)a, 1);
		CHECK_EQ(R.n_ended, 1);
		if (R.n_ended != 1) {
			rec_free(&R);
			return;
		}
		struct bs_txn *t = R.ended[0];
		struct rec_msg *m = rec_msg_of(&R, t);
		CHECK_EQ(t->size, hl + wl);
		CHECK_EQ(m->hdr_len, hl);
		CHECK(m->body_len >= 1 && m->body_len < wl);
		CHECK_EQ(t->data_code, 250);
		CHECK_EQ(R.st.commands, 6);
		rec_free(&R);
	}

	/* a long body skipped in big chunks: memchr path, stuffed dots counted */
	static char big[200000];
	size_t o = 0, want = strlen("Subject: big\r\n\r\n");
	o += (size_t)sprintf(big, "Subject: big\r\n\r\n");
	for (int i = 0; o < sizeof big - 100; i++) {
		if (i % 5 == 0) {
			o += (size_t)sprintf(big + o, "..stuffed %d\r\n", i);
			want += strlen(".stuffed \r\n") + (size_t)snprintf(NULL, 0, "%d", i);
		} else {
			o += (size_t)sprintf(big + o, "plain line number %d\r\n", i);
			want += strlen("plain line number \r\n") + (size_t)snprintf(NULL, 0, "%d", i);
		}
	}
	o += (size_t)sprintf(big + o, ".\r\n");
	rec_init(&R, false);
	R.skip_body_after = 100;
	open_data(&R);
	for (size_t i = 0; i < o; i += 1448)
		rec_bytes(&R, true, big + i, o - i < 1448 ? o - i : 1448);
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->size, want);
	CHECK(rec_msg_of(&R, R.ended[0])->body_len < 2000);
	CHECK_EQ(R.ended[0]->data_complete, 1);
	rec_free(&R);
}

static void test_data_line_ends(void)
{
	/* bare LF everywhere, marker ".\n" */
	rec_init(&R, false);
	open_data(&R);
	C(&R, "Subject: lf only\nFrom: a@b\n\nbody\n..x\n.\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct bs_txn *t = R.ended[0];
	CHECK_STR(t->subject, "lf only");
	CHECK_EQ(t->header_size, strlen("Subject: lf only\nFrom: a@b\n\n"));
	CHECK_EQ(t->size, strlen("Subject: lf only\nFrom: a@b\n\nbody\n.x\n"));
	CHECK_EQ(t->data_code, 250);
	rec_free(&R);

	/* ".\r" not followed by LF: the dot goes, the CR stays */
	rec_init(&R, false);
	open_data(&R);
	C(&R, "Subject: cr\r\n\r\na\r\n.\rb\r\n.\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	struct rec_msg *m = rec_msg_of(&R, R.ended[0]);
	CHECK_EQ(m->body_len, 7);
	CHECK(memcmp(m->body, "a\r\n\rb\r\n", 7) == 0);
	rec_free(&R);

	/* empty message */
	rec_init(&R, false);
	open_data(&R);
	C(&R, ".\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->size, 0);
	CHECK_EQ(R.ended[0]->data_complete, 1);
	CHECK_EQ(R.ended[0]->data_started, 1);
	rec_free(&R);

	/* headers only, no blank line: all header, fields still kept */
	rec_init(&R, false);
	open_data(&R);
	C(&R, "Subject: only headers\r\nFrom: x@y\r\n.\r\n");
	S(&R, "250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_STR(R.ended[0]->subject, "only headers");
	CHECK_STR(R.ended[0]->from, "x@y");
	CHECK_EQ(rec_msg_of(&R, R.ended[0])->body_len, 0);
	rec_free(&R);

	/* content arriving before the 354 is parsed is content all the same */
	rec_init(&R, false);
	rec_hello(&R, "");
	C(&R, "MAIL FROM:<a@x>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "RCPT TO:<b@y>\r\n");
	S(&R, "250 ok\r\n");
	C(&R, "DATA\r\n");
	C(&R, "Subject: early\r\n\r\nx\r\n.\r\n");
	S(&R, "354 go\r\n250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_STR(R.ended[0]->subject, "early");
	CHECK_EQ(R.ended[0]->data_code, 250);
	CHECK_EQ(rec_msg_of(&R, R.ended[0])->data_begins, 1);
	rec_free(&R);
}

static const char *BDAT_WIRE =
	"MAIL FROM:<> BODY=BINARYMIME\r\nRCPT TO:<v@home.example>\r\n"
	"BDAT 39\r\nSubject: chunked\r\nMessage-ID: <c@x>\r\n\r\n"
	"BDAT 12\r\n..no unstuff"
	"BDAT 7 LAST\r\n\r\n.\r\nxy"
	"QUIT\r\n";

static void test_bdat(void)
{
	const char *content = "Subject: chunked\r\nMessage-ID: <c@x>\r\n\r\n..no unstuff\r\n.\r\nxy";
	size_t n = strlen(BDAT_WIRE);
	CHECK_EQ(strlen("Subject: chunked\r\nMessage-ID: <c@x>\r\n\r\n"), 39);
	for (size_t a = 0; a <= n; a++) {
		rec_init(&R, false);
		rec_hello(&R, "250-PIPELINING\r\n250-CHUNKING\r\n");
		rec_bytes(&R, true, BDAT_WIRE, a);
		rec_bytes(&R, true, BDAT_WIRE + a, n - a);
		CHECK_EQ(R.n_ended, 0);
		S(&R, "250 ok\r\n250 ok\r\n250 39 octets\r\n250 12 octets\r\n250 message accepted\r\n221 bye\r\n");
		rec_end(&R, 0);
		CHECK_EQ(R.n_ended, 1);
		if (R.n_ended != 1) {
			rec_free(&R);
			return;
		}
		struct bs_txn *t = R.ended[0];
		struct rec_msg *m = rec_msg_of(&R, t);
		CHECK_EQ(t->bdat, 1);
		CHECK_EQ(t->data_code, 250);
		CHECK_EQ(t->data_complete, 1);
		CHECK_EQ(t->size, strlen(content));
		CHECK_EQ(t->header_size, 39);
		CHECK_EQ(m->hdr_len + m->body_len, strlen(content));
		CHECK(memcmp(m->body, content + 39, m->body_len) == 0);
		CHECK_STR(t->subject, "chunked");
		CHECK_STR(t->mail_body, "BINARYMIME");
		CHECK_EQ(t->rcpt[0].code, 250);
		CHECK_EQ(t->anomalies, 0);
		CHECK_EQ(m->data_begins, 1);
		CHECK_EQ(m->data_ends, 1);
		CHECK_EQ(m->ended_at_data_end, 0);
		CHECK_EQ(R.st.bdat_chunks, 3);
		CHECK_EQ(R.st.commands, 7); /* EHLO MAIL RCPT BDAT x3 QUIT */
		CHECK_EQ(R.st.unpaired_replies, 0);
		CHECK_EQ(R.bad_offsets, 0);
		rec_free(&R);
	}

	/* BDAT 0 LAST, a rejected chunk, then a bad size */
	rec_init(&R, false);
	rec_hello(&R, "250-CHUNKING\r\n");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 5\r\nhelloBDAT 0 LAST\r\n");
	S(&R, "250 ok\r\n250 ok\r\n250 5 octets\r\n250 accepted\r\n");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde");
	S(&R, "250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n503 5.5.1 no transaction\r\n");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT -1\r\nBDAT 2 FIRST\r\nNOOP\r\n");
	S(&R, "250 ok\r\n250 ok\r\n501 bad\r\n501 bad\r\n250 ok\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 3);
	if (R.n_ended == 3) {
		CHECK_EQ(R.ended[0]->size, 5);
		CHECK_EQ(R.ended[0]->data_code, 250);
		CHECK_EQ(R.ended[0]->data_complete, 1);
		CHECK_EQ(R.ended[1]->data_code, 503);
		CHECK_EQ(R.ended[1]->size, 5);
		CHECK(R.ended[2]->anomalies & BS_ANOM_BDAT_SIZE);
		CHECK_EQ(R.ended[2]->data_started, 0);
	}
	CHECK_EQ(R.st.unpaired_replies, 0);
	rec_free(&R);

	/* gap inside a chunk and past its end */
	rec_init(&R, false);
	rec_hello(&R, "250-CHUNKING\r\n");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 100\r\nSubject: g\r\n\r\n0123");
	bs_smtp_gap(R.s, true, 50);
	C(&R, "01234567890123456789012345678901");
	C(&R, "BDAT 10 LAST\r\n01234");
	bs_smtp_gap(R.s, true, 20); /* 5 bytes of the chunk, 15 of the next command */
	C(&R, "ommand\r\nQUIT\r\n");
	S(&R, "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n250 whatever\r\n221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->size, 110);
	CHECK(R.ended[0]->anomalies & BS_ANOM_GAP);
	CHECK_STR(R.ended[0]->subject, "g");
	CHECK_EQ(R.ended[0]->data_code, 250);
	rec_free(&R);

	/* body skipped by length once the hook says so */
	rec_init(&R, false);
	R.skip_body_after = 1;
	rec_hello(&R, "250-CHUNKING\r\n");
	C(&R, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 1016 LAST\r\nSubject: s\r\n\r\n");
	static char chunk[1000];
	memset(chunk, 'z', sizeof chunk);
	rec_bytes(&R, true, chunk, 500);
	rec_bytes(&R, true, chunk, 500);
	C(&R, "QUIT\r\n");
	S(&R, "250 ok\r\n250 ok\r\n250 ok\r\n221 bye\r\n");
	rec_end(&R, 0);
	CHECK_EQ(R.n_ended, 1);
	CHECK_EQ(R.ended[0]->size, 1016);
	CHECK_EQ(rec_msg_of(&R, R.ended[0])->body_len, 500);
	CHECK_EQ(R.st.commands, 5);
	rec_free(&R);
}

int main(void)
{
	test_data_splits();
	test_data_byte_by_byte_and_skip();
	test_data_line_ends();
	test_bdat();
	return t_report("test_smtp_data");
}
