/* The detection hook end to end on synthetic transactions, one scenario
 * per signal: ledger (match, miss by Message-ID, user who sent nothing,
 * headers-only original, persistence, warm-up), BATV, own relays, content,
 * rates with the legitimate-source rule, auto-replies, clean mail, the
 * pool running dry, encrypted sessions, configuration errors.
 * usage: test_detect_scenarios DEFAULT_RULES */
#include <stdint.h>
#include <unistd.h>
#include <time.h>
#include <limits.h>
#include "test_detect_feed.h"
#include "test_util.h"
#include "../../dataplane/detect/batv.h"
#include <pthread.h>

static const char *default_rules;
static char test_rules[256];

static int n_callbacks;
static struct bs_txn last_cb;
static void on_verdict(void *ctx, const struct bs_txn *t)
{
	(void)ctx;
	n_callbacks++;
	last_cb = *t;
}

static struct bs_detect *make(struct bs_detect_config *cfg)
{
	char err[512];
	struct bs_detect *d = bs_detect_create(cfg, err, sizeof err);
	if (!d) {
		fprintf(stderr, "bs_detect_create: %s\n", err);
		exit(1);
	}
	return d;
}

static void base_config(struct bs_detect_config *cfg)
{
	bs_detect_config_defaults(cfg);
	cfg->rules_path = test_rules;
	cfg->home_domains[cfg->n_home_domains++] = "home.example";
	cfg->home_nets[cfg->n_home_nets++] = "192.0.2.0/24";
	cfg->ledger_capacity = 1 << 14;
}

static bool has_reason(const struct bs_txn *t, const char *r)
{
	for (int i = 0; i < t->verdict.n_reasons; i++)
		if (!strcmp(t->verdict.reasons[i], r))
			return true;
	return false;
}

#define CHECK_REASON(t, r) do { if (!has_reason(t, r)) { \
	fprintf(stderr, "%s:%d: reason '%s' missing; have:", __FILE__, __LINE__, r); \
	for (int _i = 0; _i < (t)->verdict.n_reasons; _i++) fprintf(stderr, " %s", (t)->verdict.reasons[_i]); \
	fprintf(stderr, "\n"); t_failures++; } } while (0)

static char filler[6000];

/* An RFC 3464 bounce of the message `orig_msgid` from `orig_from` to
 * `orig_rcpt`, sent back to `to`; the returned original passed `received`
 * and carries `extra` in its body. headers_only: text/rfc822-headers. */
static size_t make_dsn(char *buf, size_t len, const char *to, const char *orig_msgid, const char *orig_from,
		       const char *orig_rcpt, const char *received, const char *extra, const char *action,
		       bool headers_only)
{
	/* "fwd:ADDR": the remote side forwarded the message to ADDR, which
	 * failed: Final-Recipient ADDR, no Original-Recipient (no ORCPT) */
	bool fwd = !strncmp(orig_rcpt, "fwd:", 4);
	char orcpt[300] = "";
	if (fwd)
		orig_rcpt += 4;
	else
		snprintf(orcpt, sizeof orcpt, "Original-Recipient: rfc822;%s\r\n", orig_rcpt);
	int n = snprintf(buf, len,
		"Received: from mx.remote.example (mx.remote.example [198.51.100.7]) by mx.home.example\r\n"
		"From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>\r\n"
		"To: %s\r\n"
		"Subject: Undelivered Mail Returned to Sender\r\n"
		"Message-ID: <bounce-%p@mx.remote.example>\r\n"
		"Auto-Submitted: auto-replied\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status;\r\n"
		"\tboundary=\"BND42\"\r\n"
		"\r\n"
		"This is a MIME-encapsulated message.\r\n"
		"\r\n"
		"--BND42\r\n"
		"Content-Type: text/plain; charset=us-ascii\r\n"
		"\r\n"
		"This is the mail system at host mx.remote.example.\r\n"
		"I'm sorry to have to inform you that your message could not be delivered.\r\n"
		"\r\n"
		"--BND42\r\n"
		"Content-Type: message/delivery-status\r\n"
		"\r\n"
		"Reporting-MTA: dns; mx.remote.example\r\n"
		"\r\n"
		"Final-Recipient: rfc822; %s\r\n"
		"%s"
		"Action: %s\r\n"
		"Status: 5.1.1\r\n"
		"Diagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown\r\n"
		"\r\n"
		"--BND42\r\n"
		"Content-Type: %s\r\n"
		"\r\n"
		"%s"
		"Message-ID: %s\r\n"
		"From: Alice <%s>\r\n"
		"To: %s\r\n"
		"Subject: hello there\r\n"
		"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
		"\r\n"
		"%s%s\r\n"
		"--BND42--\r\n",
		to, (void *)buf, orig_rcpt, orcpt, action, orig_rcpt,
		headers_only ? "text/rfc822-headers" : "message/rfc822",
		received, orig_msgid, orig_from, orig_rcpt,
		headers_only ? "" : extra, headers_only ? "" : filler);
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static const char *RCV_RELAY =
	"Received: from relay.home.example (relay.home.example [192.0.2.10])\r\n"
	"\tby mx.remote.example with ESMTP id 1234; Mon, 30 Nov 2026 10:00:01 +0000\r\n";
static const char *RCV_BOT =
	"Received: from bot.dialup.example (bot.dialup.example [203.0.113.66])\r\n"
	"\tby mx.remote.example with SMTP id 99; Mon, 30 Nov 2026 10:00:01 +0000\r\n";

static void send_outbound(struct bs_detect_worker *w, const char *from, const char *rcpt, const char *msgid,
			  uint64_t ts)
{
	char msg[1024];
	int n = snprintf(msg, sizeof msg,
			 "From: <%s>\r\nTo: <%s>\r\nSubject: hello there\r\nMessage-ID: %s\r\n\r\nHi Bob.\r\n",
			 from, rcpt, msgid);
	struct bs_txn t;
	txn_init(&t, BS_DIR_OUTBOUND, "192.0.2.10", from, rcpt, ts);
	feed_message(w, &t, (const uint8_t *)msg, (size_t)n, 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
}

static struct feed_result bounce(struct bs_detect_worker *w, struct bs_txn *t, const char *client, const char *to,
				 const char *orig_msgid, const char *orig_rcpt, const char *received,
				 const char *extra, bool headers_only, uint64_t ts)
{
	static char msg[16384];
	char bare_to[256];
	snprintf(bare_to, sizeof bare_to, "%s", to);
	size_t n = make_dsn(msg, sizeof msg, bare_to, orig_msgid, "alice@home.example", orig_rcpt, received, extra,
			    "failed", headers_only);
	txn_init(t, BS_DIR_INBOUND, client, "", to, ts);
	return feed_message(w, t, (const uint8_t *)msg, n, 1460);
}

static void test_ledger_signal(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 8, on_verdict, NULL);
	CHECK(w != NULL);
	uint64_t ts = 1800000000;
	send_outbound(w, "alice@home.example", "bob@remote.example", "<orig-1@home.example>", ts);

	/* 1. the bounce of mail Alice really sent: legitimate, never dropped */
	struct bs_txn t;
	n_callbacks = 0;
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<orig-1@home.example>", "bob@remote.example",
	       RCV_RELAY, "", false, ts + 60);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	CHECK_REASON(&t, "ledger-match-rcpt");
	CHECK_REASON(&t, "dsn");
	CHECK_INT(n_callbacks, 0);
	/* Bob's server forwarded it elsewhere and that failed: the failed
	 * recipient is one Alice never wrote to; the Message-ID finds it */
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<orig-1@home.example>", "fwd:bob@mailbox.example",
	       RCV_RELAY, "", false, ts + 61);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	CHECK_REASON(&t, "ledger-match-msgid");
	/* headers-only bounce (the seed documents' hard case) */
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<orig-1@home.example>", "fwd:x@elsewhere.example",
	       RCV_RELAY, "", true, ts + 62);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	CHECK_REASON(&t, "ledger-match-msgid");

	/* 2. a bounce to Alice for mail she never sent: backscatter, decided
	 * when the original's Message-ID is read, before the end of data */
	n_callbacks = 0;
	struct feed_result fr = bounce(w, &t, "198.51.100.8", "alice@home.example", "<forged-9@home.example>",
				       "carol@remote.example", RCV_BOT, "", false, ts + 120);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_INT(t.verdict.action, BS_ACT_DROP_SESSION);
	CHECK_INT(t.verdict.ttl_s, 600);
	CHECK_REASON(&t, "ledger-miss-msgid");
	CHECK_INT(t.verdict.decided, 1);
	CHECK(t.verdict.offset < t.size);
	CHECK(fr.skipped);
	CHECK(fr.skip_at < t.size);          /* the rest of the body was never fed */
	CHECK_INT(n_callbacks, 1);           /* the enforcer heard of it at once */
	CHECK_INT(last_cb.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_INT(last_cb.verdict.offset, t.verdict.offset);

	/* 2b. the ORCPT names a domain Alice never wrote to: decided from the
	 * delivery-status part, before the returned original */
	fr = bounce(w, &t, "198.51.100.8", "alice@home.example", "<forged-10@home.example>",
		    "carol@never.example", RCV_BOT, "", false, ts + 125);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_REASON(&t, "ledger-miss-orcpt");
	{
		static char m2[16384];
		size_t n2 = make_dsn(m2, sizeof m2, "alice@home.example", "<forged-10@home.example>", "alice@home.example",
				     "carol@never.example", RCV_BOT, "", "failed", false);
		const char *orig = strstr(m2, "message/rfc822");
		CHECK(orig && t.verdict.offset < (uint64_t)(orig - m2) + 1460);
		(void)n2;
	}

	/* 3. a bounce to a user who sent nothing at all: known from the header */
	fr = bounce(w, &t, "198.51.100.9", "dave@home.example", "<x@y>", "z@remote.example", RCV_BOT, "", false, ts + 130);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_REASON(&t, "ledger-no-outbound");
	CHECK(t.verdict.offset <= 1460);      /* first segment: the header block */

	/* 4. the window: a week later Alice's original has expired */
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<orig-1@home.example>", "bob@remote.example",
	       RCV_RELAY, "", false, ts + 8 * 86400);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);

	/* 5. a delay notice for mail she sent is still legitimate */
	static char msg[16384];
	send_outbound(w, "alice@home.example", "slow@remote.example", "<orig-2@home.example>", ts + 9 * 86400);
	size_t n = make_dsn(msg, sizeof msg, "alice@home.example", "<orig-2@home.example>", "alice@home.example",
			    "slow@remote.example", RCV_RELAY, "", "delayed", false);
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.7", "", "alice@home.example", ts + 9 * 86400 + 5);
	feed_message(w, &t, (const uint8_t *)msg, n, 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	CHECK_REASON(&t, "delay");

	/* 6. a bounce not addressed to a home mailbox: not ours to judge */
	bounce(w, &t, "198.51.100.7", "someone@other.example", "<q@r>", "s@t.example", RCV_BOT, "", false, ts + 10 * 86400);
	CHECK_INT(t.verdict.cls, BS_CLASS_SUSPECT_BOUNCE);
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	CHECK_REASON(&t, "rcpt-not-home");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

static void test_ledger_persistence_and_warmup(void)
{
	char path[] = "/tmp/bs_detect_ledgerXXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	struct bs_detect_config cfg;
	base_config(&cfg);
	cfg.ledger_path = path;
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	uint64_t ts = (uint64_t)time(NULL);
	send_outbound(w, "alice@home.example", "bob@remote.example", "<persist-1@home.example>", ts);
	char serr[512];
	/* msgid, sender, pair and domain keys of the one message */
	CHECK_INT(bs_detect_save_ledger(d, serr, sizeof serr), 4);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);   /* saves the ledger */
	CHECK(access(path, F_OK) == 0);

	d = make(&cfg);         /* reloads it */
	w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	struct bs_txn t;
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<persist-1@home.example>", "bob@remote.example",
	       RCV_RELAY, "", false, ts + 100);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
	unlink(path);

	/* a corrupt ledger file is refused with its name */
	FILE *f = fopen(path, "w");
	fputs("garbage garbage garbage garbage garbage garbage garbage", f);
	fclose(f);
	char err[512];
	CHECK(bs_detect_create(&cfg, err, sizeof err) == NULL);
	CHECK(strstr(err, path) != NULL);
	unlink(path);

	/* warm-up: a young ledger's "no match" is not evidence yet */
	base_config(&cfg);
	cfg.ledger_warmup_s = 86400;
	d = make(&cfg);
	w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	send_outbound(w, "alice@home.example", "bob@remote.example", "<w-1@home.example>", 1800000000);
	bounce(w, &t, "198.51.100.7", "dave@home.example", "<x@y>", "z@remote.example", RCV_BOT, "", false, 1800000100);
	CHECK_INT(t.verdict.cls, BS_CLASS_SUSPECT_BOUNCE);
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	bounce(w, &t, "198.51.100.7", "dave@home.example", "<x@y>", "z@remote.example", RCV_BOT, "", false,
	       1800000000 + 86400 + 1);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

static void test_batv_signal(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	cfg.ledger_disabled = true;
	cfg.batv_keys[cfg.n_batv_keys++] = "home.example:s3cret";
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	uint64_t ts = 1800000000;
	char tagged[256];
	CHECK(bs_batv_sign((const uint8_t *)"s3cret", 6, 0, (uint32_t)(ts / 86400 + 7), "alice@home.example",
			   tagged, sizeof tagged) > 0);
	struct bs_txn t;
	bounce(w, &t, "198.51.100.7", tagged, "<o@home.example>", "bob@remote.example", RCV_BOT, "", false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	CHECK_REASON(&t, "batv-valid");
	n_callbacks = 0;
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<o@home.example>", "bob@remote.example", RCV_RELAY, "",
	       false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_REASON(&t, "batv-untagged");
	CHECK(t.verdict.decided && t.verdict.offset <= 1460);
	CHECK_INT(n_callbacks, 1);
	tagged[12] = tagged[12] == 'a' ? 'b' : 'a';   /* one hash digit off */
	bounce(w, &t, "198.51.100.7", tagged, "<o@home.example>", "bob@remote.example", RCV_RELAY, "", false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_REASON(&t, "batv-bad-hash");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

static void test_relay_and_content_signals(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	cfg.ledger_disabled = true;
	cfg.home_relays[cfg.n_home_relays++] = "192.0.2.0/28";
	cfg.home_relays[cfg.n_home_relays++] = "smtp-out.home.example";
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	struct bs_txn t;
	uint64_t ts = 1800000000;
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<o1@home.example>", "bob@remote.example", RCV_RELAY, "",
	       false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	CHECK_REASON(&t, "relay-legit");
	/* relay named by host name: the name the remote MTA looked up for
	 * its client (a HELO name alone is the client's claim) */
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<o1@home.example>", "bob@remote.example",
	       "Received: from smtp-out.home.example (smtp-out.home.example [203.0.113.9]) by mx.remote.example\r\n",
	       "", false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_LEGIT_BOUNCE);
	/* claims a home sender, never passed a home relay */
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<o2@bot>", "bob@remote.example", RCV_BOT, "", false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_REASON(&t, "relay-never");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);

	/* content only (no ledger, no relays): spam inside the original */
	base_config(&cfg);
	cfg.ledger_disabled = true;
	d = make(&cfg);
	w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<o3@bot>", "bob@remote.example", RCV_BOT,
	       "Buy now: BACKSTOP-TEST-SPAM-MARKER at a discount\r\n", false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_REASON(&t, "content");
	CHECK_REASON(&t, "rule:99001:spam-content");
	/* nothing either way: suspect, passed */
	bounce(w, &t, "198.51.100.7", "alice@home.example", "<o4@bot>", "bob@remote.example", RCV_BOT, "", false, ts);
	CHECK_INT(t.verdict.cls, BS_CLASS_SUSPECT_BOUNCE);
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

static void test_rates_signal(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 4, on_verdict, NULL);
	struct bs_txn t;
	uint64_t ts = 1800000000;
	/* default policy: more than 30 bounces an hour to one recipient is a flood */
	int drop_session = 0, drop_source = 0;
	for (int i = 0; i < 40; i++) {
		bounce(w, &t, "198.51.100.50", "eve@home.example", "<x@y>", "z@remote.example", RCV_BOT, "", false,
		       ts + (uint64_t)i);
		CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
		drop_session += t.verdict.action == BS_ACT_DROP_SESSION;
		drop_source += t.verdict.action == BS_ACT_DROP_SOURCE;
	}
	CHECK_INT(drop_session, 30);
	CHECK_INT(drop_source, 10);
	CHECK_REASON(&t, "rate-flood");
	CHECK_INT(t.verdict.ttl_s, 900);
	/* a reporting MTA that also delivers legitimate mail is shaped, not dropped */
	const char *ham = "From: <news@other.example>\r\nTo: <frank@home.example>\r\nSubject: minutes\r\n\r\nHi.\r\n";
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.60", "news@other.example", "frank@home.example", ts + 50);
	feed_message(w, &t, (const uint8_t *)ham, strlen(ham), 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	bounce(w, &t, "198.51.100.60", "eve@home.example", "<x@y>", "z@remote.example", RCV_BOT, "", false, ts + 60);
	CHECK_INT(t.verdict.cls, BS_CLASS_BACKSCATTER);
	CHECK_INT(t.verdict.action, BS_ACT_SHAPE_SOURCE);
	CHECK_INT(t.verdict.shape_rate, 20);
	CHECK_REASON(&t, "legit-source");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

struct stat_pick { const char *name; uint64_t v; int found; };
static void pick_stat(void *ctx, const char *name, uint64_t v)
{
	struct stat_pick *p = ctx;
	for (; p->name; p++)
		if (!strcmp(p->name, name)) {
			p->v = v;
			p->found = 1;
		}
}

static void test_kinds_and_limits(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 1, on_verdict, NULL);
	struct bs_txn t;
	uint64_t ts = 1800000000;
	/* ordinary mail: decided clean at the end of the header, body skipped */
	static char msg[8192];
	int n = snprintf(msg, sizeof msg, "From: <a@b.example>\r\nTo: <frank@home.example>\r\nSubject: lunch?\r\n"
			 "Message-ID: <l@b.example>\r\n\r\n%s\r\n", filler);
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.70", "a@b.example", "frank@home.example", ts);
	struct feed_result fr = feed_message(w, &t, (const uint8_t *)msg, (size_t)n, 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	CHECK(fr.skipped);
	CHECK_INT(fr.skip_at, header_end((const uint8_t *)msg, (size_t)n));
	/* the null sender alone does not make a bounce */
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.70", "", "frank@home.example", ts);
	feed_message(w, &t, (const uint8_t *)msg, (size_t)n, 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	/* auto-reply */
	const char *ooo = "From: <g@b.example>\r\nTo: <frank@home.example>\r\nSubject: Out of Office: lunch?\r\n"
			  "Auto-Submitted: auto-replied\r\n\r\nI am away until Monday.\r\n";
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.70", "g@b.example", "frank@home.example", ts);
	feed_message(w, &t, (const uint8_t *)ooo, strlen(ooo), 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_AUTOREPLY);
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	/* encrypted session */
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.70", "g@b.example", "frank@home.example", ts);
	t.tls = 1;
	feed_message(w, &t, (const uint8_t *)ooo, strlen(ooo), 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_ENCRYPTED);
	/* a transaction that never reached DATA */
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.70", "g@b.example", "frank@home.example", ts);
	t.data_started = 0;
	bs_detect_txn_end(w, &t);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	/* the pool runs dry (max_txn 1): the second open transaction is unparsed */
	struct bs_txn t1, t2;
	txn_init(&t1, BS_DIR_INBOUND, "198.51.100.70", "", "frank@home.example", ts);
	txn_init(&t2, BS_DIR_INBOUND, "198.51.100.71", "", "frank@home.example", ts);
	bs_detect_txn_begin(w, &t1);
	bs_detect_txn_begin(w, &t2);
	CHECK_INT(bs_detect_msg_data(w, &t2, BS_PART_HEADER, 0, (const uint8_t *)ooo, 10), BS_HOOK_SKIP_BODY);
	bs_detect_txn_end(w, &t2);
	CHECK_INT(t2.verdict.cls, BS_CLASS_UNPARSED);
	CHECK_REASON(&t2, "no-detection-slot");
	bs_detect_txn_end(w, &t1);
	/* a record begun twice (reused without an end) starts afresh */
	txn_init(&t1, BS_DIR_INBOUND, "198.51.100.70", "g@b.example", "frank@home.example", ts);
	bs_detect_txn_begin(w, &t1);
	bs_detect_msg_data(w, &t1, BS_PART_HEADER, 0, (const uint8_t *)ooo, 40);
	feed_message(w, &t1, (const uint8_t *)ooo, strlen(ooo), 7);
	CHECK_INT(t1.verdict.cls, BS_CLASS_AUTOREPLY);
	/* the slot is back: the next transaction is examined again */
	txn_init(&t, BS_DIR_INBOUND, "198.51.100.70", "g@b.example", "frank@home.example", ts);
	feed_message(w, &t, (const uint8_t *)ooo, strlen(ooo), 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_AUTOREPLY);
	struct stat_pick st[] = { { "detect.unparsed_no_slot", 0, 0 }, { "detect.restarted", 0, 0 },
				  { "detect.slots_in_use", 0, 0 }, { "detect.class.autoreply", 0, 0 },
				  { "detect.bytes_skipped", 0, 0 }, { NULL, 0, 0 } };
	bs_detect_print_stats(d, pick_stat, st);
	CHECK(st[0].found && st[1].found && st[2].found && st[3].found && st[4].found);
	CHECK_INT(st[0].v, 1);
	CHECK_INT(st[1].v, 1);
	CHECK_INT(st[2].v, 0);      /* every slot went back to the pool */
	CHECK_INT(st[3].v, 3);
	CHECK(st[4].v > 0);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

/* Two workers on two threads share one bs_detect: one records outbound
 * mail while the other judges bounces (the outbound message and its bounce
 * can land on different lcores). */
struct thr { struct bs_detect *d; int kind; int n; int legit, back, other; };

static void *worker_thread(void *p)
{
	struct thr *a = p;
	struct bs_detect_worker *w = bs_detect_worker_create(a->d, 8, NULL, NULL);
	char from[64], id[64], rcpt[64];
	for (int i = 0; i < a->n; i++) {
		struct bs_txn t;
		if (a->kind == 0) {
			snprintf(from, sizeof from, "u%d@home.example", i);
			snprintf(id, sizeof id, "<t-%d@home.example>", i);
			send_outbound(w, from, "peer@remote.example", id, 1800000000);
		} else {
			/* bounces to users the other thread never records */
			snprintf(rcpt, sizeof rcpt, "x%d@home.example", i);
			bounce(w, &t, "198.51.100.90", rcpt, "<f@bot>", "peer@remote.example", RCV_BOT, "", false, 1800000001);
			a->back += t.verdict.cls == BS_CLASS_BACKSCATTER;
		}
	}
	bs_detect_worker_destroy(w);
	return NULL;
}

static void test_two_workers(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	struct bs_detect *d = make(&cfg);
	struct thr a = { d, 0, 3000, 0, 0, 0 }, b = { d, 1, 300, 0, 0, 0 };
	pthread_t ta, tb;
	pthread_create(&ta, NULL, worker_thread, &a);
	pthread_create(&tb, NULL, worker_thread, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_INT(b.back, 300);
	/* every outbound message recorded by thread A is known to a new worker */
	struct bs_detect_worker *w = bs_detect_worker_create(d, 8, NULL, NULL);
	int legit = 0;
	char rcpt[64], id[64];
	for (int i = 0; i < 3000; i += 97) {
		struct bs_txn t;
		snprintf(rcpt, sizeof rcpt, "u%d@home.example", i);
		snprintf(id, sizeof id, "<t-%d@home.example>", i);
		bounce(w, &t, "198.51.100.7", rcpt, id, "peer@remote.example", RCV_RELAY, "", false, 1800000100);
		legit += t.verdict.cls == BS_CLASS_LEGIT_BOUNCE;
	}
	CHECK_INT(legit, (3000 + 96) / 97);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

/* Random bytes in random chunks: no crash, a verdict for every transaction,
 * and the pool never leaks a slot. */
static void test_garbage(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	struct bs_detect *d = make(&cfg);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 2, NULL, NULL);
	static uint8_t buf[20000];
	uint64_t x = 88172645463325252ull;
	for (int round = 0; round < 300; round++) {
		size_t n = 0;
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		size_t len = x % sizeof buf;
		/* mostly printable with line breaks and MIME-ish tokens, some raw bytes */
		static const char *tok[] = { "\r\n", "\n", "--", "Content-Type: multipart/report; boundary=", "\r\n\r\n",
					     "Action: failed\n", "message/rfc822", "Message-ID: <", "=?utf-8?b?", "prvs=" };
		while (n < len) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			if (x % 5 == 0) {
				const char *k = tok[(x >> 8) % 10];
				size_t kl = strlen(k);
				if (n + kl > len)
					break;
				memcpy(buf + n, k, kl);
				n += kl;
			} else {
				buf[n++] = (uint8_t)(x >> 24);
			}
		}
		struct bs_txn t;
		txn_init(&t, BS_DIR_INBOUND, "198.51.100.99", round % 2 ? "" : "a@b.example", "user@home.example",
			 1800000000 + (uint64_t)round);
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		feed_message(w, &t, buf, n, 1 + x % 3000);
		CHECK(t.verdict.cls != BS_CLASS_UNCLASSIFIED && t.verdict.cls != BS_CLASS_UNPARSED);
	}
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

static void expect_create_error(struct bs_detect_config *cfg, const char *want)
{
	char err[512] = "";
	struct bs_detect *d = bs_detect_create(cfg, err, sizeof err);
	CHECK(d == NULL);
	if (d)
		bs_detect_destroy(d);
	if (!strstr(err, want)) {
		fprintf(stderr, "%s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__, err, want);
		t_failures++;
	}
}

static void test_config_errors(void)
{
	struct bs_detect_config cfg;
	base_config(&cfg);
	cfg.home_nets[cfg.n_home_nets++] = "10.0.0.0/40";
	expect_create_error(&cfg, "--home-net: '10.0.0.0/40'");
	base_config(&cfg);
	cfg.home_domains[cfg.n_home_domains++] = "bad domain";
	expect_create_error(&cfg, "--home-domain");
	base_config(&cfg);
	cfg.batv_keys[cfg.n_batv_keys++] = "nosecret";
	expect_create_error(&cfg, "--batv-key");
	base_config(&cfg);
	cfg.home_relays[cfg.n_home_relays++] = "10.1.1.1/99";
	expect_create_error(&cfg, "--home-relay");
	base_config(&cfg);
	cfg.rules_path = "/nonexistent/rules.file";
	expect_create_error(&cfg, "/nonexistent/rules.file");
	char path[] = "/tmp/bs_detect_policyXXXXXX";
	int fd = mkstemp(path);
	CHECK(write(fd, "class backscatter drop-everything\n", 34) == 34);
	close(fd);
	base_config(&cfg);
	cfg.policy_path = path;
	char want[128];
	snprintf(want, sizeof want, "%s:1: unknown action 'drop-everything'", path);
	expect_create_error(&cfg, want);
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DEFAULT_RULES\n", argv[0]);
		return 2;
	}
	static char abs_rules[PATH_MAX];
	if (!realpath(argv[1], abs_rules)) {
		fprintf(stderr, "%s: cannot resolve\n", argv[1]);
		return 1;
	}
	default_rules = abs_rules;
	/* the default rules plus one content rule whose marker cannot occur by chance */
	snprintf(test_rules, sizeof test_rules, "/tmp/bs_detect_rules_%d.rules", (int)getpid());
	FILE *f = fopen(test_rules, "w");
	if (!f)
		return 1;
	fprintf(f, "include \"%s\"\n"
		   "rule 99001 body spam-content 100 \"BACKSTOP-TEST-SPAM-MARKER\" \"test spam marker\"\n",
		default_rules);
	fclose(f);
	for (size_t i = 0; i + 80 < sizeof filler; i += 80)
		memcpy(filler + i, "The quick brown fox jumps over the lazy dog and keeps on running far away.\r\n", 76),
		memcpy(filler + i + 76, "    ", 4);
	filler[sizeof filler - 1] = 0;
	test_ledger_signal();
	test_ledger_persistence_and_warmup();
	test_batv_signal();
	test_relay_and_content_signals();
	test_rates_signal();
	test_kinds_and_limits();
	test_config_errors();
	test_two_workers();
	test_garbage();
	unlink(test_rules);
	TEST_DONE();
}
