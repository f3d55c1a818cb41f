/* Hostile input: nesting far beyond the bound, endless boundaries, huge
 * lines and fields, boundary-like garbage, random bytes and mutations of
 * a real-shaped bounce. The parser must stay within its fixed state, set
 * the right flags, keep strings terminated, and take linear time. */
#include "test_msgparse_util.h"
#include <time.h>

static struct bs_msgparse *mp;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct buf { char *p; size_t n, cap; };

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) { perror("realloc"); exit(1); }
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* every string of the facts is NUL-terminated inside its buffer */
static void check_terminated(const struct bs_msg_facts *f)
{
#define T(x) CHECK(memchr((x), 0, sizeof(x)) != NULL)
	T(f->subject); T(f->from); T(f->to); T(f->message_id); T(f->in_reply_to); T(f->references_last);
	T(f->list_id); T(f->x_failed_recipients); T(f->reporting_mta); T(f->arrival_date);
	T(f->orig_message_id); T(f->orig_from); T(f->orig_to); T(f->orig_subject); T(f->orig_date);
	T(f->orig_return_path);
	for (int i = 0; i < BS_FACTS_MAX_RCPT; i++) {
		T(f->rcpt[i].final_recipient); T(f->rcpt[i].original_recipient); T(f->rcpt[i].status);
		T(f->rcpt[i].diagnostic); T(f->rcpt[i].remote_mta);
	}
	for (int i = 0; i < BS_FACTS_MAX_RECEIVED; i++) {
		T(f->received[i].from_host); T(f->received[i].from_rdns); T(f->received[i].from_ip);
		T(f->received[i].by_host);
	}
#undef T
	CHECK(f->n_rcpt_kept <= BS_FACTS_MAX_RCPT && f->n_received_kept <= BS_FACTS_MAX_RECEIVED);
	CHECK(f->max_depth <= BS_MSGPARSE_MAX_DEPTH);
}

/* parse whole and in 1-byte and 977-byte chunks: same facts; bounded time */
static void parse3(const char *what, const struct buf *b, struct bs_msg_facts *f, double max_s)
{
	static struct bs_msg_facts g;
	struct t_sink k = { 0 }, k2 = { 0 };
	double t0 = now_s();
	t_parse(mp, f, &k, (const uint8_t *)b->p, b->n, 0);
	double dt = now_s() - t0;
	if (dt > max_s) {
		fprintf(stderr, "%s: %.2f s for %zu bytes (limit %.2f s)\n", what, dt, b->n, max_s);
		t_fail++;
	}
	check_terminated(f);
	size_t sizes[] = { 1, 977 };
	for (int i = 0; i < 2; i++) {
		if (sizes[i] == 1 && b->n > 4000000)
			continue;
		memset(&k2, 0, sizeof(k2));
		t_parse(mp, &g, &k2, (const uint8_t *)b->p, b->n, sizes[i]);
		if (memcmp(f, &g, sizeof(g)) || memcmp(&k, &k2, sizeof(k))) {
			fprintf(stderr, "%s: chunks of %zu change the result\n", what, sizes[i]);
			t_fail++;
		}
	}
}

static void test_deep_nesting(void)
{
	struct buf b = { 0 };
	struct bs_msg_facts f;
	puts_(&b, "Subject: deep\nContent-Type: multipart/mixed; boundary=\"b0\"\n\n");
	char line[256];
	for (int d = 1; d < 200; d++) {
		snprintf(line, sizeof(line), "--b%d\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b%d\"\n\n", d - 1, d);
		puts_(&b, line);
	}
	puts_(&b, "--b199\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; deep@x\nAction: failed\n\n");
	/* back at the outermost level, a DS part that must be seen */
	puts_(&b, "--b0\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; shallow@x\nAction: failed\n\n--b0--\n");
	parse3("deep nesting", &b, &f, 2.0);
	CHECK(f.flags & BS_MF_DEPTH_LIMIT);
	CHECK(f.max_depth == BS_MSGPARSE_MAX_DEPTH);
	CHECK(f.n_rcpt == 1);
	CHECK_STR(f.rcpt[0].final_recipient, "shallow@x");
	CHECK(f.flags & BS_MF_UNCLOSED_PART);
	/* message/rfc822 inside message/rfc822 ... a thousand times: no state growth */
	b.n = 0;
	puts_(&b, "Subject: matryoshka\nContent-Type: message/rfc822\n\n");
	for (int d = 0; d < 1000; d++) {
		snprintf(line, sizeof(line), "Message-ID: <m%d@x>\nContent-Type: message/rfc822\n\n", d);
		puts_(&b, line);
	}
	puts_(&b, "Subject: innermost\n\nbody\n");
	parse3("rfc822 nesting", &b, &f, 2.0);
	CHECK_STR(f.orig_message_id, "<m0@x>");
	free(b.p);
}

static void test_endless_boundaries(void)
{
	struct buf b = { 0 };
	struct bs_msg_facts f;
	puts_(&b, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\n\n");
	for (int i = 0; i < 200000; i++)
		puts_(&b, "--x\n");
	puts_(&b, "--x\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; end@x\nAction: delayed\n");
	parse3("endless boundaries", &b, &f, 3.0);
	CHECK(f.n_parts == UINT16_MAX);         /* saturated, not wrapped */
	CHECK(f.n_rcpt == 1 && f.all_delayed);
	CHECK(f.flags & BS_MF_UNCLOSED_PART);   /* never closed */
	/* many recipients and Received fields: counted, bounded storage */
	b.n = 0;
	puts_(&b, "Content-Type: multipart/report; report-type=delivery-status; boundary=\"y\"\n\n--y\n"
		  "Content-Type: message/delivery-status\n\n");
	for (int i = 0; i < 70000; i++)
		puts_(&b, "Final-Recipient: rfc822; r@x\nAction: failed\n\n");
	puts_(&b, "--y\nContent-Type: text/rfc822-headers\n\n");
	for (int i = 0; i < 5000; i++)
		puts_(&b, "Received: from a.example ([192.0.2.1]) by b.example; Mon, 30 Nov 2026\n");
	puts_(&b, "Message-ID: <many@x>\n--y--\n");
	parse3("many groups", &b, &f, 3.0);
	CHECK(f.n_rcpt == UINT16_MAX && f.n_rcpt_kept == BS_FACTS_MAX_RCPT && f.any_failed);
	CHECK(f.n_received == 5000 && f.n_received_kept == BS_FACTS_MAX_RECEIVED);
	CHECK_STR(f.received[7].from_ip, "192.0.2.1");
	CHECK_STR(f.orig_message_id, "<many@x>");
	free(b.p);
}

static void test_huge_lines(void)
{
	struct buf b = { 0 };
	struct bs_msg_facts f;
	char *big = malloc(3 << 20);
	memset(big, 'A', 3 << 20);
	/* a 3 MB header field, a 3 MB body line, a 3 MB base64 line, a 3 MB boundary-like line */
	puts_(&b, "Subject: ");
	put(&b, big, 3 << 20);
	puts_(&b, "\nContent-Type: multipart/mixed; boundary=\"q\"\n\n--q\nContent-Type: text/plain\n\n");
	put(&b, big, 3 << 20);
	puts_(&b, "\n--q\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n");
	put(&b, big, 3 << 20);
	/* quoted-printable: a line of exactly the line cap, then longer ones
	 * (the decoder's output for a piece is larger than the piece) */
	puts_(&b, "\n--q\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n");
	put(&b, big, BS_MSGPARSE_LINE_MAX - 1);
	puts_(&b, "=\n");
	put(&b, big, BS_MSGPARSE_LINE_MAX);
	puts_(&b, "\n");
	put(&b, big, BS_MSGPARSE_LINE_MAX - 1);
	puts_(&b, "=4\n=");
	put(&b, big, 5000);
	puts_(&b, "\n--");
	put(&b, big, 3 << 20);
	puts_(&b, "\n--q\nContent-Type: message/rfc822\n\nMessage-ID: <after-huge@x>\nX-Long: ");
	put(&b, big, 3 << 20);
	puts_(&b, "\nSubject: still parsed\n\n--q--\n");
	parse3("huge lines", &b, &f, 5.0);
	CHECK(f.flags & BS_MF_LONG_LINE);
	CHECK(f.flags & BS_MF_TRUNCATED);
	CHECK(strlen(f.subject) == BS_FACT_SUBJECT_MAX - 1);
	CHECK_STR(f.orig_message_id, "<after-huge@x>");
	CHECK_STR(f.orig_subject, "still parsed");
	CHECK(f.top_ctype == BS_CT_MULTIPART_MIXED);
	free(big);
	free(b.p);
}

/* random bytes and random mutations: no crash (ASan/UBSan in CI builds),
 * bounded results */
static const char seed_msg[] =
	"From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
	"--B\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
	"failed=20here=\n--- Below this line is a copy of the message.\nReceived: from a by b\nMessage-ID: <z@x>\n\n"
	"--B\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
	"RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGFAYgpBY3Rpb246IGZhaWxlZAo=\n"
	"--B\nContent-Type: message/rfc822\n\nMessage-ID: <o@x>\nReceived: from h (h [1.2.3.4]) by m\n\nbody\n--B--\n";

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_fuzz(void)
{
	struct bs_msg_facts f;
	struct buf b = { 0 };
	static const char *const tokens[] = { "--B", "--B--", "\n", "\r", "\r\n", "=", "=\n", ":", " ", "\t",
		"Content-Type: message/rfc822\n\n", "Content-Type: multipart/mixed; boundary=B\n\n",
		"Content-Transfer-Encoding: base64\n", "Final-Recipient: rfc822; x\n", "Action: failed\n",
		"--- Below this line is a copy of the message.\n", "Received: from a by b\n", "\0", "\xff" };
	double t0 = now_s();
	for (int iter = 0; iter < 3000; iter++) {
		b.n = 0;
		if (iter % 3 == 0) {
			size_t n = xr() % 4096;
			for (size_t i = 0; i < n; i++) {
				char c = (char)(xr() & 0xff);
				put(&b, &c, 1);
			}
		} else {
			puts_(&b, seed_msg);
			int muts = 1 + (int)(xr() % 8);
			for (int m = 0; m < muts; m++) {
				size_t pos = xr() % (b.n + 1);
				const char *t = tokens[xr() % (sizeof(tokens) / sizeof(tokens[0]))];
				size_t tl = strlen(t) ? strlen(t) : 1;
				struct buf nb = { 0 };
				put(&nb, b.p, pos);
				if (xr() & 1)
					put(&nb, t, tl);                      /* insert */
				size_t skip = (xr() & 1) ? xr() % 8 : 0;      /* and/or delete */
				if (pos + skip > b.n)
					skip = b.n - pos;
				put(&nb, b.p + pos + skip, b.n - pos - skip);
				free(b.p);
				b = nb;
			}
		}
		struct t_sink k = { 0 };
		size_t chunk = 1 + xr() % 64;
		t_parse(mp, &f, &k, (const uint8_t *)b.p, b.n, chunk);
		check_terminated(&f);
		CHECK(f.bytes == b.n);
		if (t_fail)
			break;
	}
	printf("fuzz: 3000 inputs in %.2f s\n", now_s() - t0);
	free(b.p);
}

int main(void)
{
	mp = t_parser();
	test_deep_nesting();
	test_endless_boundaries();
	test_huge_lines();
	test_fuzz();
	free(mp);
	if (t_fail) {
		fprintf(stderr, "%d failure(s)\n", t_fail);
		return 1;
	}
	printf("msgparse_hostile: all passed (state %zu bytes whatever the input)\n", bs_msgparse_size());
	return 0;
}
