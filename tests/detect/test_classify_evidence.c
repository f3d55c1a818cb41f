/* Which evidence may decide backscatter, through the detection hook:
 *  1. a Message-ID or To miss of an original found by heuristics (header
 *     lines quoted in a text bounce) counts only when that original is
 *     tied to the bounce (its sender is the bounced mailbox, or its
 *     recipient is one the bounce reports on); otherwise suspect-bounce,
 *     passed, reason untied-original. ledger-no-outbound still decides.
 *  2. the own-relay signal believes only the Received line the reporting
 *     side wrote when the original came in from outside (walked down
 *     through its own internal hops): a home relay named in a line below
 *     it, in a HELO name or in the Message-ID proves nothing (suspect,
 *     relay-unproven), and "never passed a home relay" needs an outside
 *     handoff and no line naming a home host.
 *  3. the list-notice summary marker end to end (ledger match by pair).
 * usage: test_classify_evidence DEFAULT_RULES */
#include <stdint.h>
#include "test_detect_feed.h"
#include "test_util.h"
#include "../../dataplane/detect/facts.h"

static const char *rules;
static int n_drops;

static void on_verdict(void *ctx, const struct bs_txn *t)
{
	(void)ctx;
	(void)t;
	n_drops++;
}

static bool has_reason(const struct bs_txn *t, const char *r)
{
	for (int i = 0; i < t->verdict.n_reasons; i++)
		if (!strcmp(t->verdict.reasons[i], r))
			return true;
	return false;
}

#define EXPECT(t, want, reason) do { \
	if ((t)->verdict.cls != (want) || ((reason) && !has_reason((t), (reason)))) { \
		fprintf(stderr, "%s:%d: got %s [", __FILE__, __LINE__, bs_class_name[(t)->verdict.cls]); \
		for (int _i = 0; _i < (t)->verdict.n_reasons; _i++) fprintf(stderr, " %s", (t)->verdict.reasons[_i]); \
		fprintf(stderr, " ], want %s %s\n", bs_class_name[want], (reason) ? (reason) : ""); \
		t_failures++; } } while (0)

static struct bs_detect *make(bool ledger, const char *const *relays)
{
	struct bs_detect_config cfg;
	bs_detect_config_defaults(&cfg);
	cfg.rules_path = rules;
	cfg.home_domains[cfg.n_home_domains++] = "home.example";
	cfg.home_nets[cfg.n_home_nets++] = "192.0.2.0/24";
	cfg.ledger_capacity = 1 << 12;
	cfg.ledger_disabled = !ledger;
	for (; relays && *relays; relays++)
		cfg.home_relays[cfg.n_home_relays++] = *relays;
	char err[512];
	struct bs_detect *d = bs_detect_create(&cfg, err, sizeof err);
	if (!d) {
		fprintf(stderr, "bs_detect_create: %s\n", err);
		exit(1);
	}
	return d;
}

static const uint64_t T0 = 1800000000;

static void outbound(struct bs_detect_worker *w, const char *from, const char *rcpt, const char *msgid)
{
	char msg[512];
	int n = snprintf(msg, sizeof msg, "From: <%s>\r\nTo: <%s>\r\nSubject: hi\r\nMessage-ID: %s\r\n\r\nHi.\r\n",
			 from, rcpt, msgid);
	struct bs_txn t;
	txn_init(&t, BS_DIR_OUTBOUND, "192.0.2.10", from, rcpt, T0);
	feed_message(w, &t, (const uint8_t *)msg, (size_t)n, 1460);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
}

static void inbound(struct bs_detect_worker *w, struct bs_txn *t, const char *to, const char *msg)
{
	txn_init(t, BS_DIR_INBOUND, "198.51.100.7", "", to, T0 + 60);
	feed_message(w, t, (const uint8_t *)msg, strlen(msg), 536);
}

/* ---------------------------------------------------------------- 1 */

/* A single-part text bounce in a wording no marker knows; it quotes a
 * header block (Received, Message-ID, From, To) found by heuristics. */
static const char *text_bounce(char *buf, size_t len, const char *to, const char *xfr, const char *qfrom,
			       const char *qto)
{
	char xf[300] = "";
	if (xfr)
		snprintf(xf, sizeof xf, "X-Failed-Recipients: %s\r\n", xfr);
	snprintf(buf, len,
		 "From: Mail Delivery Subsystem <MAILER-DAEMON@lists.remote.example>\r\n"
		 "To: %s\r\n"
		 "%s"
		 "Subject: Returned mail: notice could not be delivered\r\n"
		 "\r\n"
		 "We were unable to deliver the notice below to you.\r\n"
		 "\r\n"
		 "Your post was held by the moderator; it is quoted as received:\r\n"
		 "\r\n"
		 "Received: from bot.dialup.example (bot.dialup.example [203.0.113.66])\r\n"
		 "\tby lists.remote.example; Mon, 30 Nov 2026 09:00:00 +0000\r\n"
		 "Message-ID: <quoted-77@spam.example>\r\n"
		 "From: %s\r\n"
		 "To: %s\r\n"
		 "Subject: cheap watches\r\n"
		 "\r\n"
		 "Cheap watches.\r\n",
		 to, xf, qfrom, qto);
	return buf;
}

/* An RFC 3464 bounce returning a message/rfc822 original. */
static const char *dsn_bounce(char *buf, size_t len, const char *to, const char *received, const char *ofrom,
			      const char *orcpt, const char *msgid)
{
	snprintf(buf, len,
		 "From: MAILER-DAEMON@mx.remote.example\r\n"
		 "To: %s\r\n"
		 "Subject: Undelivered Mail Returned to Sender\r\n"
		 "MIME-Version: 1.0\r\n"
		 "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n"
		 "\r\n"
		 "--B1\r\n"
		 "Content-Type: text/plain\r\n"
		 "\r\n"
		 "Your message could not be delivered.\r\n"
		 "--B1\r\n"
		 "Content-Type: message/delivery-status\r\n"
		 "\r\n"
		 "Reporting-MTA: dns; mx.remote.example\r\n"
		 "\r\n"
		 "Final-Recipient: rfc822; %s\r\n"
		 "Action: failed\r\n"
		 "Status: 5.1.1\r\n"
		 "\r\n"
		 "--B1\r\n"
		 "Content-Type: message/rfc822\r\n"
		 "\r\n"
		 "%s"
		 "Message-ID: %s\r\n"
		 "From: %s\r\n"
		 "To: %s\r\n"
		 "Subject: hello\r\n"
		 "\r\n"
		 "Hello.\r\n"
		 "--B1--\r\n",
		 to, orcpt, received, msgid, ofrom, orcpt);
	return buf;
}

static void test_tied_originals(void)
{
	struct bs_detect *d = make(true, NULL);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 8, on_verdict, NULL);
	CHECK(w != NULL);
	/* alice and carol send mail, just not the quoted message */
	outbound(w, "alice@home.example", "friend@elsewhere.example", "<sent-1@home.example>");
	outbound(w, "carol@home.example", "friend@elsewhere.example", "<sent-2@home.example>");
	char m[8192];
	struct bs_txn t;

	/* the quoted block is someone else's mail to a list: its Message-ID
	 * and To say nothing about alice; not backscatter, not dropped */
	n_drops = 0;
	inbound(w, &t, "alice@home.example",
		text_bounce(m, sizeof m, "alice@home.example", NULL, "reilizavet@spam.example",
			    "wed_ride@lists.remote.example"));
	EXPECT(&t, BS_CLASS_SUSPECT_BOUNCE, "untied-original");
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	CHECK_INT(n_drops, 0);
	CHECK(!has_reason(&t, "ledger-miss-msgid") && !has_reason(&t, "ledger-miss-rcpt"));

	/* the same block claiming alice as its sender is this bounce's
	 * original: never sent from here, backscatter */
	inbound(w, &t, "alice@home.example",
		text_bounce(m, sizeof m, "alice@home.example", NULL, "Alice <alice@home.example>",
			    "wed_ride@lists.remote.example"));
	EXPECT(&t, BS_CLASS_BACKSCATTER, "ledger-miss-msgid");
	CHECK_INT(t.verdict.action, BS_ACT_DROP_SESSION);
	/* ... also under a prvs tag and a +detail, and in another case */
	inbound(w, &t, "alice@home.example",
		text_bounce(m, sizeof m, "alice@home.example", NULL, "prvs=1234567890=ALICE+lists@Home.Example",
			    "wed_ride@lists.remote.example"));
	EXPECT(&t, BS_CLASS_BACKSCATTER, "ledger-miss-msgid");
	/* tied through its recipient: the one X-Failed-Recipients reports */
	inbound(w, &t, "alice@home.example",
		text_bounce(m, sizeof m, "alice@home.example", "wed_ride@lists.remote.example",
			    "someone@spam.example", "Ride <wed_ride@lists.remote.example>, x@y.example"));
	EXPECT(&t, BS_CLASS_BACKSCATTER, "ledger-miss-msgid");
	/* a mailbox that sent nothing at all: decided whatever is quoted */
	inbound(w, &t, "bob@home.example",
		text_bounce(m, sizeof m, "bob@home.example", NULL, "reilizavet@spam.example",
			    "wed_ride@lists.remote.example"));
	EXPECT(&t, BS_CLASS_BACKSCATTER, "ledger-no-outbound");
	/* a declared message/rfc822 original is the returned message by
	 * construction, whoever it names as its sender (a bounce goes to the
	 * envelope sender, which the header From need not be) */
	inbound(w, &t, "carol@home.example",
		dsn_bounce(m, sizeof m, "carol@home.example", "", "Promo <news@shop.example>",
			   "x@remote.example", "<forged-3@shop.example>"));
	EXPECT(&t, BS_CLASS_BACKSCATTER, "ledger-miss-msgid");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

/* ---------------------------------------------------------------- 3 */

static const char *SUMMARY_BOUNCE =
	"From: MAILER-DAEMON@lists.remote.example\r\n"
	"To: alice@home.example\r\n"
	"Subject: Returned mail: list rejection notice\r\n"
	"\r\n"
	"The notice below could not be delivered.\r\n"
	"\r\n"
	"A summary of the undelivered message you sent follows:\r\n"
	"\r\n"
	"Subject: party on wednesday\r\n"
	"From: alice@home.example\r\n"
	"To: wed_ride@lists.remote.example\r\n"
	"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
	"\r\n"
	"Your post was rejected by the list moderator. The list received:\r\n"
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

static void test_summary_marker(void)
{
	struct bs_detect *d = make(true, NULL);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 8, on_verdict, NULL);
	struct bs_txn t;
	/* alice did post to the list: the summary's (sender, To) pair matches */
	outbound(w, "alice@home.example", "wed_ride@lists.remote.example", "<post-1@home.example>");
	n_drops = 0;
	inbound(w, &t, "alice@home.example", SUMMARY_BOUNCE);
	EXPECT(&t, BS_CLASS_LEGIT_BOUNCE, "ledger-match-rcpt");
	CHECK(has_reason(&t, "inline-original"));
	CHECK_INT(t.verdict.action, BS_ACT_PASS);
	CHECK_INT(n_drops, 0);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);

	/* alice wrote elsewhere, never to the list: the summary is tied to the
	 * bounce (alice is its sender), its recipient misses: backscatter */
	d = make(true, NULL);
	w = bs_detect_worker_create(d, 8, on_verdict, NULL);
	outbound(w, "alice@home.example", "friend@elsewhere.example", "<sent-1@home.example>");
	inbound(w, &t, "alice@home.example", SUMMARY_BOUNCE);
	EXPECT(&t, BS_CLASS_BACKSCATTER, "ledger-miss-rcpt");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

/* ---------------------------------------------------------------- 2 */

#define RELAY_HOP "Received: from relay.home.example (relay.home.example [192.0.2.25])\r\n" \
		  "\tby mx.remote.example with ESMTPS id 1; Mon, 30 Nov 2026 10:00:01 +0000\r\n"
#define BOT_HOP "Received: from bot.dialup.example (bot.dialup.example [203.0.113.66])\r\n" \
		"\tby mx.remote.example with SMTP id 9; Mon, 30 Nov 2026 10:00:01 +0000\r\n"
#define SUBMIT_HOP "Received: from alice-pc (alice-pc [192.0.2.77])\r\n" \
		   "\tby relay.home.example with ESMTPSA id 0; Mon, 30 Nov 2026 10:00:00 +0000\r\n"

static void relay_case(struct bs_detect_worker *w, int line, const char *received, const char *msgid,
		       uint8_t want, const char *reason)
{
	char m[16384];
	struct bs_txn t;
	inbound(w, &t, "alice@home.example",
		dsn_bounce(m, sizeof m, "alice@home.example", received, "Alice <alice@home.example>",
			   "bob@remote.example", msgid));
	if (t.verdict.cls != want || (reason && !has_reason(&t, reason))) {
		fprintf(stderr, "%s:%d: got %s [", __FILE__, line, bs_class_name[t.verdict.cls]);
		for (int i = 0; i < t.verdict.n_reasons; i++)
			fprintf(stderr, " %s", t.verdict.reasons[i]);
		fprintf(stderr, " ], want %s %s\n", bs_class_name[want], reason ? reason : "");
		t_failures++;
	}
	if (want != BS_CLASS_BACKSCATTER && t.verdict.action != BS_ACT_PASS) {
		fprintf(stderr, "%s:%d: action %d, want pass\n", __FILE__, line, t.verdict.action);
		t_failures++;
	}
}

static void test_relay_handoff(void)
{
	static const char *const relays[] = { "192.0.2.25", "relay.home.example", NULL };
	struct bs_detect *d = make(false, relays);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 8, on_verdict, NULL);
	const char *mid = "<m1@alice-pc>";
	const uint8_t L = BS_CLASS_LEGIT_BOUNCE, S = BS_CLASS_SUSPECT_BOUNCE, B = BS_CLASS_BACKSCATTER;

	/* the reporting MTA recorded our relay as its client */
	relay_case(w, __LINE__, RELAY_HOP SUBMIT_HOP, mid, L, "relay-legit");
	/* ... below its own content filter, internal relay (same
	 * organisation by looked-up name), and a local hop with no client */
	relay_case(w, __LINE__,
		   "Received: from localhost (localhost [127.0.0.1]) by mx.remote.example; date\r\n"
		   "Received: from mx1.remote.example (mx1.remote.example [203.0.113.5])\r\n"
		   "\tby store.remote.example; date\r\n"
		   "Received: by 2002:a05:6a10:1234:0:0:0:0 with SMTP id q; date\r\n"
		   "Received: from mx-in.remote.example ([10.1.2.3]) by mx1.remote.example; date\r\n"
		   RELAY_HOP SUBMIT_HOP, mid, L, "relay-legit");
	/* a customer's own server in the home network, not a listed relay */
	relay_case(w, __LINE__,
		   "Received: from mail.customer.example (mail.customer.example [192.0.2.140])\r\n"
		   "\tby mx.remote.example; date\r\n", mid, L, "relay-legit");

	/* a forger writes our relay's hop below the line the reporting MTA
	 * wrote for him: proves nothing, passed as suspect */
	relay_case(w, __LINE__, BOT_HOP RELAY_HOP SUBMIT_HOP, mid, S, "relay-unproven");
	/* ... or calls himself our relay in HELO: the recorded IP decides */
	relay_case(w, __LINE__,
		   "Received: from relay.home.example (unknown [203.0.113.66]) by mx.remote.example; date\r\n",
		   mid, S, "relay-unproven");
	/* ... or poses as the reporting side's internal host in HELO */
	relay_case(w, __LINE__,
		   "Received: from mx9.remote.example (unknown [203.0.113.66]) by mx.remote.example; date\r\n"
		   RELAY_HOP, mid, S, "relay-unproven");
	/* ... or names our relay in the Message-ID */
	relay_case(w, __LINE__, BOT_HOP, "<forged@relay.home.example>", S, "relay-unproven");
	/* an outside forwarder handed it over; our relay is named below:
	 * not provable either way (a forwarded original looks the same) */
	relay_case(w, __LINE__,
		   "Received: from fwd.university.example (fwd.university.example [198.51.100.20])\r\n"
		   "\tby mx.remote.example; date\r\n"
		   "Received: from relay.home.example (relay.home.example [192.0.2.25])\r\n"
		   "\tby fwd.university.example; date\r\n", mid, S, "relay-unproven");

	/* claims alice, handed over by an outside host, no home host named
	 * anywhere: never passed a home relay */
	relay_case(w, __LINE__, BOT_HOP, mid, B, "relay-never");
	/* only a HELO name recorded, no home host named: never passed one
	 * (had it, the relay's own line or its HELO would name it) */
	relay_case(w, __LINE__, "Received: from bot.dialup.example by mx.remote.example; date\r\n", mid, B,
		   "relay-never");
	/* submitted on an outside host (its local pickup line only) */
	relay_case(w, __LINE__, "Received: by mail.elsewhere.example (Postfix, from userid 1000); date\r\n", mid, B,
		   "relay-never");
	/* ... and such a line on top of the handoff is the reporter's own */
	relay_case(w, __LINE__, "Received: by mx.remote.example (Postfix, from userid 0); date\r\n" RELAY_HOP,
		   mid, L, "relay-legit");
	/* more Received lines than the parser keeps: a home hop may be among
	 * the dropped ones, so not "never" */
	char many[4096] = BOT_HOP;
	for (int i = 0; i < BS_FACTS_MAX_RECEIVED + 2; i++)
		strcat(many, "Received: from a.spam.example (a.spam.example [203.0.113.9]) by b.spam.example; date\r\n");
	relay_case(w, __LINE__, many, mid, S, NULL);
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);

	/* a relay configured by name only: the name the reporting MTA looked
	 * up for the client counts, the client's HELO does not */
	static const char *const by_name[] = { "smtp-out.home.example", NULL };
	d = make(false, by_name);
	w = bs_detect_worker_create(d, 8, on_verdict, NULL);
	relay_case(w, __LINE__,
		   "Received: from smtp-out.home.example (smtp-out.home.example. [203.0.113.9])\r\n"
		   "\tby mx.remote.example; date\r\n", mid, L, "relay-legit");
	relay_case(w, __LINE__,
		   "Received: from smtp-out.home.example (unknown [203.0.113.66]) by mx.remote.example; date\r\n",
		   mid, S, "relay-unproven");
	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DEFAULT_RULES\n", argv[0]);
		return 2;
	}
	rules = argv[1];
	test_tied_originals();
	test_summary_marker();
	test_relay_handoff();
	TEST_DONE();
}
