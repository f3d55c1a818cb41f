/* message/delivery-status parser: real-shaped DSN bodies (Postfix, Exim,
 * Exchange, Sendmail, broken grouping), every split position giving the
 * same facts, summaries, field helpers. */
#include "test_msgparse_util.h"
#include "dataplane/detect/dsn.h"

static int n_events[BS_FACT_MAX];

static void ev(void *ctx, int id)
{
	(void)ctx;
	n_events[id]++;
}

static void parse(const char *body, size_t cut, struct bs_msg_facts *f)
{
	struct bs_dsn d;
	memset(f, 0, sizeof(*f));
	memset(n_events, 0, sizeof(n_events));
	bs_dsn_init(&d, f, ev, NULL);
	size_t n = strlen(body);
	if (cut > n)
		cut = n;
	bs_dsn_feed(&d, (const uint8_t *)body, cut);
	bs_dsn_feed(&d, (const uint8_t *)body + cut, n - cut);
	bs_dsn_end(&d);
}

/* every split position gives the same facts as the whole */
static void split_invariant(const char *body)
{
	static struct bs_msg_facts a, b;
	size_t n = strlen(body);
	parse(body, n, &a);
	for (size_t c = 0; c <= n; c++) {
		parse(body, c, &b);
		if (memcmp(&a, &b, sizeof(a))) {
			fprintf(stderr, "dsn: split at %zu changes the facts\n", c);
			t_fail++;
			return;
		}
	}
}

static const char postfix_dsn[] =
	"Reporting-MTA: dns; mx1.example.net\r\n"
	"X-Postfix-Queue-ID: 4B2C31A0\r\n"
	"X-Postfix-Sender: rfc822; alice@example.org\r\n"
	"Arrival-Date: Mon, 30 Nov 2026 10:00:00 +0000 (UTC)\r\n"
	"\r\n"
	"Final-Recipient: rfc822; nobody@example.net\r\n"
	"Original-Recipient: rfc822;Nobody@Example.NET\r\n"
	"Action: failed\r\n"
	"Status: 5.1.1\r\n"
	"Remote-MTA: dns; mail.example.net\r\n"
	"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address\r\n"
	"    rejected: User unknown in virtual mailbox table\r\n"
	"\r\n";

static void test_postfix(void)
{
	struct bs_msg_facts f;
	parse(postfix_dsn, 0, &f);
	CHECK_STR(f.reporting_mta, "mx1.example.net");
	CHECK_STR(f.arrival_date, "Mon, 30 Nov 2026 10:00:00 +0000 (UTC)");
	CHECK(f.n_rcpt == 1 && f.n_rcpt_kept == 1);
	CHECK_STR(f.rcpt[0].final_recipient, "nobody@example.net");
	CHECK_STR(f.rcpt[0].original_recipient, "Nobody@Example.NET");
	CHECK(f.rcpt[0].action == BS_DSN_ACT_FAILED);
	CHECK_STR(f.rcpt[0].status, "5.1.1");
	CHECK_STR(f.rcpt[0].remote_mta, "mail.example.net");
	CHECK_STR(f.rcpt[0].diagnostic, "smtp; 550 5.1.1 <nobody@example.net>: Recipient address"
		  "    rejected: User unknown in virtual mailbox table");
	CHECK(f.any_failed && !f.all_delayed && !f.all_success);
	CHECK(n_events[BS_FACT_DSN_RCPT] == 1 && n_events[BS_FACT_DSN_FAILED] == 1);
	split_invariant(postfix_dsn);
}

/* Exchange style: several recipients, LF only, <> around addresses,
 * the last group without a trailing blank line */
static const char exchange_dsn[] =
	"Reporting-MTA: dns;EXCH01.corp.example.com\n"
	"Received-From-MTA: dns;EXCH02.corp.example.com\n"
	"Arrival-Date: Tue, 1 Dec 2026 08:00:00 +0000\n"
	"\n"
	"Final-Recipient: rfc822;<a@corp.example.com>\n"
	"Action: failed\n"
	"Status: 5.2.2\n"
	"X-Display-Name: A\n"
	"\n"
	"Final-Recipient: RFC822; b@corp.example.com\n"
	"Action: delayed\n"
	"Status: 4.4.7\n"
	"Will-Retry-Until: Wed, 2 Dec 2026 08:00:00 +0000\n"
	"\n"
	"Final-Recipient: rfc822;c@corp.example.com\n"
	"Action: Failed (permanent)\n"
	"Status: 5.0.0 (undefined status)";

static void test_exchange(void)
{
	struct bs_msg_facts f;
	parse(exchange_dsn, 0, &f);
	CHECK_STR(f.reporting_mta, "EXCH01.corp.example.com");
	CHECK(f.n_rcpt == 3);
	CHECK_STR(f.rcpt[0].final_recipient, "a@corp.example.com");
	CHECK_STR(f.rcpt[1].final_recipient, "b@corp.example.com");
	CHECK(f.rcpt[1].action == BS_DSN_ACT_DELAYED);
	CHECK(f.rcpt[2].action == BS_DSN_ACT_FAILED);
	CHECK_STR(f.rcpt[2].status, "5.0.0");
	CHECK(f.n_action[BS_DSN_ACT_FAILED] == 2 && f.n_action[BS_DSN_ACT_DELAYED] == 1);
	CHECK(f.any_failed && !f.all_delayed && !f.all_success);
	CHECK(n_events[BS_FACT_DSN_RCPT] == 3 && n_events[BS_FACT_DSN_FAILED] == 1);
	split_invariant(exchange_dsn);
}

/* groups run together without blank lines, CR-only line ends */
static const char run_together[] =
	"Reporting-MTA: dns; relay.example.jp\r"
	"Final-Recipient: rfc822; x@example.jp\r"
	"Action: delayed\r"
	"Status: 4.0.0\r"
	"Final-Recipient: rfc822; y@example.jp\r"
	"Action: delayed\r"
	"Status: 4.4.1\r";

static void test_run_together(void)
{
	struct bs_msg_facts f;
	parse(run_together, 0, &f);
	CHECK(f.n_rcpt == 2);
	CHECK_STR(f.rcpt[0].final_recipient, "x@example.jp");
	CHECK_STR(f.rcpt[1].final_recipient, "y@example.jp");
	CHECK_STR(f.rcpt[1].status, "4.4.1");
	CHECK(f.all_delayed && !f.any_failed && !f.all_success);
	split_invariant(run_together);
}

static const char success[] =
	"Reporting-MTA: dns; mx.example.com\n\n"
	"Original-Recipient: rfc822;list@example.com\n"
	"Final-Recipient: rfc822;member@example.com\n"
	"Action: relayed\n"
	"Status: 2.0.0\n\n"
	"Final-Recipient: rfc822;other@example.com\n"
	"Action: delivered\n"
	"Status: 2.0.0\n\n"
	"Final-Recipient: rfc822;team@example.com\n"
	"Action: expanded\n"
	"Status: 2.0.0\n\n\n\n";

static void test_success(void)
{
	struct bs_msg_facts f;
	parse(success, 0, &f);
	CHECK(f.n_rcpt == 3);
	CHECK_STR(f.rcpt[0].original_recipient, "list@example.com");
	CHECK_STR(f.rcpt[0].final_recipient, "member@example.com");
	CHECK(f.all_success && !f.any_failed && !f.all_delayed);
	CHECK(n_events[BS_FACT_DSN_FAILED] == 0);
	split_invariant(success);
}

/* more recipients than kept: all counted, the first kept */
static void test_many(void)
{
	char buf[8192];
	size_t o = 0;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "Reporting-MTA: dns; big.example\n\n");
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
				      "Final-Recipient: rfc822; u%d@example.com\nAction: failed\nStatus: 5.1.1\n\n", i);
	struct bs_msg_facts f;
	parse(buf, 0, &f);
	CHECK(f.n_rcpt == 20);
	CHECK(f.n_rcpt_kept == BS_FACTS_MAX_RCPT);
	CHECK_STR(f.rcpt[BS_FACTS_MAX_RCPT - 1].final_recipient, "u7@example.com");
	CHECK(f.n_action[BS_DSN_ACT_FAILED] == 20);
}

/* garbage and over-long values stay bounded */
static void test_garbage(void)
{
	static char buf[20000];
	size_t o = 0;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "Final-Recipient: rfc822; ");
	for (int i = 0; i < 5000; i++)
		buf[o++] = 'a';
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "@example.com\nAction: exploded\n:::\n\x01\x02\n"
			      "Status: x.y\nDiagnostic-Code: ");
	for (int i = 0; i < 3000; i++)
		buf[o++] = 'd';
	buf[o] = '\0';
	struct bs_msg_facts f;
	parse(buf, 0, &f);
	CHECK(f.n_rcpt == 1);
	CHECK(strlen(f.rcpt[0].final_recipient) == BS_FACT_ADDR_MAX - 1);
	CHECK(f.rcpt[0].action == BS_DSN_ACT_OTHER);
	CHECK(strlen(f.rcpt[0].diagnostic) == BS_FACT_DIAG_MAX - 1);
	CHECK(f.flags & BS_MF_TRUNCATED);
	/* an empty part and a part of blank lines give nothing */
	parse("", 0, &f);
	CHECK(f.n_rcpt == 0 && !f.any_failed && !f.all_delayed && !f.all_success);
	parse("\n\n\r\n", 1, &f);
	CHECK(f.n_rcpt == 0);
	/* a group with only a diagnostic is not a recipient */
	parse("Diagnostic-Code: smtp; 550 no\n\n", 3, &f);
	CHECK(f.n_rcpt == 0);
}

static void test_helpers(void)
{
	CHECK(bs_dsn_action_parse(" failed ", 8) == BS_DSN_ACT_FAILED);
	CHECK(bs_dsn_action_parse("FAILURE", 7) == BS_DSN_ACT_FAILED);
	CHECK(bs_dsn_action_parse("expired", 7) == BS_DSN_ACT_FAILED);
	CHECK(bs_dsn_action_parse("Delayed", 7) == BS_DSN_ACT_DELAYED);
	CHECK(bs_dsn_action_parse("relayed", 7) == BS_DSN_ACT_RELAYED);
	CHECK(bs_dsn_action_parse("expanded;x", 10) == BS_DSN_ACT_EXPANDED);
	CHECK(bs_dsn_action_parse("", 0) == BS_DSN_ACT_NONE);
	CHECK(bs_dsn_action_parse("unknown", 7) == BS_DSN_ACT_OTHER);
	char buf[16];
	CHECK(!bs_dsn_copy_typed(buf, sizeof(buf), "rfc822; <a@b.c>", 15));
	CHECK_STR(buf, "a@b.c");
	CHECK(!bs_dsn_copy_typed(buf, sizeof(buf), "<x;y@b.c>", 9));   /* ';' inside the address is kept */
	CHECK_STR(buf, "x;y@b.c");
	CHECK(bs_dsn_copy_typed(buf, sizeof(buf), "dns; a.very.long.host.name", 26));
	CHECK_STR(buf, "a.very.long.hos");
}

int main(void)
{
	test_postfix();
	test_exchange();
	test_run_together();
	test_success();
	test_many();
	test_garbage();
	test_helpers();
	if (t_fail) {
		fprintf(stderr, "%d failure(s)\n", t_fail);
		return 1;
	}
	printf("dsn: all passed\n");
	return 0;
}
