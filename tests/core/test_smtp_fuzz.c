/* Random sessions against the SMTP parser (built with ASan/UBSan): a mix
 * of valid commands and replies, pipelining, DATA and BDAT with random
 * sizes, garbage, binary bytes, over-long lines, gaps in both directions,
 * midstream starts, random segment sizes and session ends anywhere.
 * Invariants: no crash or sanitizer report; every record handed out by
 * txn_alloc comes back through txn_end exactly once, by session end at the
 * latest (else the pipeline's pool would leak); strings stay terminated;
 * sizes are consistent; every record formats to one event line.
 *
 * usage: test_smtp_fuzz [sessions] [seed] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtp.h"
#include "event_json.h"

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; if (failures < 20) \
	fprintf(stderr, "%s:%d: check failed: %s (session %d)\n", __FILE__, __LINE__, #c, cur_session); } } while (0)

#define POOL 16
static struct bs_txn pool[POOL];
static bool busy[POOL];
static int n_busy, cur_session;
static uint64_t n_txn, n_events, n_bytes, touched;
static char line[BS_EVENT_JSON_MAX];
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

static struct bs_txn *h_alloc(void *ctx)
{
	if (rnd(50) == 0)
		return NULL; /* pool exhausted now and then */
	for (int i = 0; i < POOL; i++)
		if (!busy[i]) {
			busy[i] = true;
			n_busy++;
			memset(&pool[i], 0, sizeof pool[i]);
			return &pool[i];
		}
	return NULL;
}

static void h_begin(void *ctx, struct bs_txn *t)
{
	CHECK(busy[t - pool]);
}

static int h_data(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off, const uint8_t *p,
		  uint32_t n)
{
	CHECK(busy[t - pool]);
	CHECK(n > 0);
	uint8_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + p[i]); /* touch every byte: ASan checks the range */
	touched += sum;
	return rnd(20) == 0 ? BS_HOOK_SKIP_BODY : BS_HOOK_CONTINUE;
}

static void h_end(void *ctx, struct bs_txn *t)
{
	int i = (int)(t - pool);
	CHECK(i >= 0 && i < POOL && busy[i]);
	if (i < 0 || i >= POOL || !busy[i])
		return;
	CHECK(memchr(t->helo, 0, sizeof t->helo) && memchr(t->mail_from, 0, sizeof t->mail_from));
	CHECK(memchr(t->subject, 0, sizeof t->subject) && memchr(t->message_id, 0, sizeof t->message_id));
	CHECK(t->n_rcpt <= BS_MAX_RCPT && t->n_rcpt <= t->n_rcpt_total);
	CHECK(t->header_size <= t->size);
	CHECK(!t->data_complete || t->data_started);
	size_t k = bs_event_json(t, line, sizeof line);
	CHECK(k > 0 && line[0] == '{' && line[k - 1] == '\n');
	n_events++;
	busy[i] = false;
	n_busy--;
}

static const struct bs_smtp_hooks hooks = { h_alloc, h_begin, h_data, h_end, NULL };

static const char *const client_lines[] = {
	"EHLO x.example\r\n", "HELO y\r\n", "MAIL FROM:<a@b.example>\r\n", "MAIL FROM:<>\r\n",
	"MAIL FROM: <c@d> SIZE=100 BODY=8BITMIME\r\n", "RCPT TO:<r@home.example>\r\n",
	"RCPT TO:<s@home.example> NOTIFY=NEVER\r\n", "DATA\r\n", "RSET\r\n", "QUIT\r\n", "NOOP\r\n",
	"STARTTLS\r\n", "AUTH LOGIN\r\n", "AUTH PLAIN AGEAYg==\r\n", "dXNlcg==\r\n", "VRFY x\r\n",
	"BDAT 10\r\n0123456789", "BDAT 3 LAST\r\nabc", "BDAT 0 LAST\r\n", "BDAT x\r\n", "BDAT 99999999\r\n",
	"Subject: s\r\n\r\nbody\r\n.\r\n", ".\r\n", "..x\r\n", "\r\n", "garbage \x01\x02\r\n",
	"Subject: =?utf-8?q?x?=\r\nFrom: a\r\n\tb\r\n\r\n", "\x16\x03\x01\x00\x10", "MAIL FROM:<x",
};
static const char *const server_lines[] = {
	"220 mx\r\n", "250 ok\r\n", "250-PIPELINING\r\n250-CHUNKING\r\n250 STARTTLS\r\n", "354 go\r\n",
	"550 no\r\n", "221 bye\r\n", "334 VXNlcm5hbWU6\r\n", "235 ok\r\n", "421 closing\r\n", "220 go TLS\r\n",
	"250-multi\r\n", "500 what\r\n", "not a reply\r\n", "25", "0 split\r\n",
};

static void send(struct bs_smtp_session *s, bool client, const char *p, size_t n, uint64_t ts)
{
	while (n) {
		size_t k = 1 + rnd(rnd(4) == 0 ? 8 : 600);
		if (k > n)
			k = n;
		bs_smtp_data(s, client, (const uint8_t *)p, (uint32_t)k, ts);
		n_bytes += k;
		p += k;
		n -= k;
	}
}

int main(int argc, char **argv)
{
	int sessions = argc > 1 ? atoi(argv[1]) : 20000;
	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x2545F4914F6CDD1Dull;
	struct bs_smtp_stats st;
	memset(&st, 0, sizeof st);
	struct bs_smtp_session *s = malloc(bs_smtp_session_size());
	static char buf[8192];
	for (cur_session = 0; cur_session < sessions; cur_session++) {
		memset(s, 0x5A, bs_smtp_session_size());
		bs_smtp_session_init(s, &hooks, NULL, &st, rnd(5) == 0);
		int steps = 1 + (int)rnd(60);
		uint64_t ts = 1000;
		for (int i = 0; i < steps; i++) {
			ts += 1000;
			uint32_t what = rnd(100);
			if (what < 45) {
				const char *l = client_lines[rnd(sizeof client_lines / sizeof client_lines[0])];
				send(s, true, l, strlen(l), ts);
			} else if (what < 85) {
				const char *l = server_lines[rnd(sizeof server_lines / sizeof server_lines[0])];
				send(s, false, l, strlen(l), ts);
			} else if (what < 92) {
				/* random bytes, sometimes with many line ends and dots */
				size_t n = 1 + rnd(sizeof buf);
				for (size_t k = 0; k < n; k++) {
					uint32_t r = rnd(16);
					buf[k] = r == 0 ? '\n' : r == 1 ? '\r' : r == 2 ? '.' : (char)rnd(256);
				}
				send(s, rnd(2), buf, n, ts);
			} else if (what < 95) {
				/* over-long line */
				size_t n = 1000 + rnd(4000);
				memset(buf, 'L', n);
				memcpy(buf, rnd(2) ? "MAIL FROM:<" : "250 ", 4);
				buf[n - 1] = '\n';
				send(s, rnd(2), buf, n, ts);
			} else if (what < 99) {
				uint32_t gap = 1 + rnd(5000); /* (one call per line: a fixed order) */
				bs_smtp_gap(s, rnd(2), gap);
			} else {
				bs_smtp_flag(s, BS_ANOM_OVERLAP_MISMATCH);
			}
		}
		bs_smtp_session_end(s, rnd(3) == 0 ? BS_ANOM_TIMEOUT : 0, ts + 1000);
		n_txn = st.transactions;
		CHECK(n_busy == 0); /* every record came back */
		if (n_busy) {
			for (int i = 0; i < POOL; i++)
				busy[i] = false;
			n_busy = 0;
		}
		if (failures >= 20)
			break;
	}
	free(s);
	printf("%d sessions, %llu bytes, %llu transactions (%llu unrecorded), %llu events, "
	       "%llu garbage, %llu long lines, %llu unpaired replies\n",
	       cur_session, (unsigned long long)n_bytes, (unsigned long long)n_txn,
	       (unsigned long long)st.txn_unrecorded, (unsigned long long)n_events,
	       (unsigned long long)st.garbage, (unsigned long long)st.long_lines,
	       (unsigned long long)st.unpaired_replies);
	if (failures) {
		fprintf(stderr, "test_smtp_fuzz: %d check(s) failed\n", failures);
		return 1;
	}
	CHECK(n_events > 1000 && st.messages > 100);
	printf("test_smtp_fuzz: all checks passed\n");
	return failures ? 1 : 0;
}
