/* A reply with no threading headers ("Re: ..." and neither In-Reply-To nor
 * References: what vacation(1) and home-made autoresponders send) gets its
 * first body bytes scanned, so an auto-reply whose only evidence is its
 * wording is recognised; a threaded reply and ordinary mail are decided at
 * the end of the header block and their bodies are skipped; a probe that
 * finds nothing stops after a bounded number of bytes.
 * usage: test_body_probe DEFAULT_RULES */
#include <stdint.h>
#include "test_detect_feed.h"
#include "test_util.h"

static struct bs_detect *make(const char *rules)
{
	struct bs_detect_config cfg;
	bs_detect_config_defaults(&cfg);
	cfg.rules_path = rules;
	cfg.home_domains[cfg.n_home_domains++] = "home.example";
	cfg.home_nets[cfg.n_home_nets++] = "192.0.2.0/24";
	cfg.ledger_capacity = 1 << 12;
	char err[512];
	struct bs_detect *d = bs_detect_create(&cfg, err, sizeof err);
	if (!d) {
		fprintf(stderr, "bs_detect_create: %s\n", err);
		exit(1);
	}
	return d;
}

static struct feed_result run(struct bs_detect_worker *w, struct bs_txn *t, const char *hdr, const char *body)
{
	static uint8_t msg[16384];
	size_t n = (size_t)snprintf((char *)msg, sizeof msg, "%s\n%s", hdr, body);
	txn_init(t, BS_DIR_INBOUND, "198.51.100.7", "someone@remote.example", "user@home.example", 1800000000);
	return feed_message(w, t, msg, n, 536);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_body_probe DEFAULT_RULES\n");
		return 2;
	}
	struct bs_detect *d = make(argv[1]);
	struct bs_detect_worker *w = bs_detect_worker_create(d, 8, NULL, NULL);
	static struct bs_txn t;
	static char filler[8192];
	for (size_t i = 0; i + 1 < sizeof filler; i++)
		filler[i] = (i % 64 == 63) ? '\n' : 'a' + (char)(i % 23);

	const char *vacation_hdr = "From: someone@remote.example\nTo: user@home.example\n"
				   "Subject: Re: your message\nMessage-ID: <v1@remote.example>\n";
	const char *vacation_body = "This is an automated response to a message you have sent.\n"
				    "I will be out of the office until Monday.\n";
	struct feed_result r = run(w, &t, vacation_hdr, vacation_body);
	CHECK_INT(t.verdict.cls, BS_CLASS_AUTOREPLY);
	(void)r;

	/* the same words in a threaded reply: a person wrote it, the body is skipped */
	char threaded[512];
	snprintf(threaded, sizeof threaded, "%sIn-Reply-To: <orig@home.example>\n", vacation_hdr);
	r = run(w, &t, threaded, vacation_body);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	CHECK(r.skipped);

	/* an unthreaded "Re:" whose first KiB says nothing: the probe gives up early */
	r = run(w, &t, vacation_hdr, filler);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	CHECK(r.skipped && r.skip_at < strlen(vacation_hdr) + 1 + 1024 + 2 * 536);

	/* ordinary mail: decided at the end of the header block */
	r = run(w, &t, "From: a@remote.example\nTo: user@home.example\nSubject: lunch\n", vacation_body);
	CHECK_INT(t.verdict.cls, BS_CLASS_CLEAN);
	CHECK(r.skipped);

	bs_detect_worker_destroy(w);
	bs_detect_destroy(d);
	TEST_DONE();
}
