/* "The fast path allocates nothing": after set-up, thousands of
 * transactions (outbound mail into the ledger, bounces legitimate and
 * not, ordinary mail, auto-replies, random bytes) go through the hook
 * while malloc, calloc, realloc and aligned allocations are counted by
 * interposing them in this executable. The count must stay 0.
 * usage: test_detect_noalloc DEFAULT_RULES */
#include <stdint.h>
#include <stdlib.h>
#include <malloc.h>
#include "test_detect_feed.h"
#include "test_util.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static volatile int counting;
static volatile long allocations;

void *malloc(size_t n)
{
	if (counting)
		allocations++;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (counting)
		allocations++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (counting)
		allocations++;
	return __libc_realloc(p, n);
}

void *aligned_alloc(size_t al, size_t n)
{
	if (counting)
		allocations++;
	return __libc_memalign(al, n);
}

int posix_memalign(void **p, size_t al, size_t n)
{
	if (counting)
		allocations++;
	*p = __libc_memalign(al, n);
	return *p ? 0 : 12;
}

static int callbacks;
static void on_verdict(void *ctx, const struct bs_txn *t) { (void)ctx; (void)t; callbacks++; }

static const char DSN[] =
	"From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>\r\n"
	"To: %s\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
	"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
	"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.remote.example\r\n\r\n"
	"Final-Recipient: rfc822; %s\r\nOriginal-Recipient: rfc822;%s\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
	"--B\r\nContent-Type: message/rfc822\r\n\r\n"
	"Received: from relay.home.example ([192.0.2.10]) by mx.remote.example\r\n"
	"Message-ID: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: hi\r\n\r\nbody\r\n--B--\r\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DEFAULT_RULES\n", argv[0]);
		return 2;
	}
	struct bs_detect_config cfg;
	bs_detect_config_defaults(&cfg);
	cfg.rules_path = argv[1];
	cfg.home_domains[cfg.n_home_domains++] = "home.example";
	cfg.home_nets[cfg.n_home_nets++] = "192.0.2.0/24";
	cfg.batv_keys[cfg.n_batv_keys++] = "batv.home.example:k3y";
	cfg.ledger_capacity = 1 << 16;
	char err[512];
	struct bs_detect *d = bs_detect_create(&cfg, err, sizeof err);
	if (!d) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct bs_detect_worker *w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	CHECK(w != NULL);

	/* every message is built before counting starts */
	enum { N = 400 };
	static char out[N][512], bnc[N][2048], fake[N][2048], ham[N][512];
	static uint8_t junk[8192];
	static size_t out_n[N], bnc_n[N], fake_n[N], ham_n[N];
	static char user[N][64], peer[N][64], mid[N][64];
	for (int i = 0; i < N; i++) {
		snprintf(user[i], 64, "u%d@home.example", i);
		snprintf(peer[i], 64, "p%d@remote.example", i);
		snprintf(mid[i], 64, "<m%d@home.example>", i);
		out_n[i] = (size_t)snprintf(out[i], 512, "From: <%s>\r\nTo: <%s>\r\nMessage-ID: %s\r\nSubject: hi\r\n\r\nhello\r\n",
					    user[i], peer[i], mid[i]);
		bnc_n[i] = (size_t)snprintf(bnc[i], 2048, DSN, user[i], peer[i], peer[i], mid[i], user[i], peer[i]);
		fake_n[i] = (size_t)snprintf(fake[i], 2048, DSN, user[i], "x@else.example", "x@else.example",
					     "<forged@bot>", user[i], "x@else.example");
		ham_n[i] = (size_t)snprintf(ham[i], 512, "From: <news@list.example>\r\nTo: <%s>\r\nSubject: %s\r\n"
					    "Auto-Submitted: %s\r\n\r\nhello\r\n", user[i], i % 3 ? "news" : "Out of office",
					    i % 3 ? "no" : "auto-replied");
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < sizeof junk; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		junk[i] = (uint8_t)(x % 7 == 0 ? '\n' : x >> 16);
	}
	/* one warm-up round outside the count (first-touch of pool pages is
	 * not an allocation, but keep the measured loop steady-state) */
	struct bs_txn t;
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.1", "", "u0@home.example", 1800000000);
	feed_message(w, &t, (const uint8_t *)fake[0], fake_n[0], 100);

	/* the counter itself works (so a 0 below means something) */
	counting = 1;
	void *volatile probe = malloc(32);
	free(probe);
	counting = 0;
	CHECK_INT(allocations, 1);
	allocations = 0;

	counting = 1;
	int legit = 0, back = 0, clean = 0, autoreply = 0;
	for (int r = 0; r < 5; r++)
		for (int i = 0; i < N; i++) {
			uint64_t ts = 1800000000 + (uint64_t)(r * N + i);
			txn_init(&t, BS_DIR_OUTBOUND, "192.0.2.10", user[i], peer[i], ts);
			feed_message(w, &t, (const uint8_t *)out[i], out_n[i], 1460);
			txn_init(&t, BS_DIR_INBOUND, "198.51.100.7", "", user[i], ts);
			feed_message(w, &t, (const uint8_t *)bnc[i], bnc_n[i], 64);
			legit += t.verdict.cls == BS_CLASS_LEGIT_BOUNCE;
			txn_init(&t, BS_DIR_INBOUND, "198.51.100.8", "", user[i], ts);
			feed_message(w, &t, (const uint8_t *)fake[i], fake_n[i], 1460);
			back += t.verdict.cls == BS_CLASS_BACKSCATTER;
			txn_init(&t, BS_DIR_INBOUND, "198.51.100.9", "news@list.example", user[i], ts);
			feed_message(w, &t, (const uint8_t *)ham[i], ham_n[i], 1460);
			clean += t.verdict.cls == BS_CLASS_CLEAN;
			autoreply += t.verdict.cls == BS_CLASS_AUTOREPLY;
			txn_init(&t, BS_DIR_INBOUND, "198.51.100.9", "", "x@batv.home.example", ts);
			feed_message(w, &t, junk, (size_t)(i * 17) % sizeof junk, 1 + (size_t)i % 1460);
		}
	counting = 0;
	printf("allocations during %d transactions: %ld (legit %d, backscatter %d, clean %d, autoreply %d, callbacks %d)\n",
	       5 * N * 5, allocations, legit, back, clean, autoreply, callbacks);
	CHECK_INT(allocations, 0);
	/* and the transactions were really examined */
	CHECK_INT(legit, 5 * N);
	CHECK_INT(back, 5 * N);
	CHECK(clean > 0 && autoreply > 0);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
	TEST_DONE();
}
