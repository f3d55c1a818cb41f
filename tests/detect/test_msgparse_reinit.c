/* bs_msgparse_reinit clears only what a parse can have written (the pool
 * slot fast path): one facts struct reused through reinit for every
 * message in turn must end each message byte-identical to a struct that
 * bs_msgparse_init cleared whole. Messages: built-in cases (more DSN
 * groups than the next message has; an inline original whose Received
 * hops are dropped for an attached one) then every file of
 * ../shared/corpus (argv[1]) in manifest order, each followed by the
 * built-ins again so big messages precede small ones. */
#include <errno.h>
#include "test_msgparse_util.h"

static const char *const builtin[] = {
	/* three recipient groups */
	"From: MAILER-DAEMON@a.example\r\nSubject: failure\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
	"--b\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n"
	"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a.example\r\n\r\n"
	"Final-Recipient: rfc822; one@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
	"Diagnostic-Code: smtp; 550 no such user\r\n\r\n"
	"Final-Recipient: rfc822; two@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
	"Final-Recipient: rfc822; three@b.example\r\nAction: delayed\r\nStatus: 4.0.0\r\n\r\n"
	"--b\r\nContent-Type: message/rfc822\r\n\r\nReceived: from x.example (x.example [192.0.2.1]) by a.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Received: from y.example by x.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Message-ID: <m1@c.example>\r\nFrom: c@c.example\r\nSubject: hi\r\n\r\nbody\r\n--b--\r\n",
	/* an inline original (header run in a text part) with hops, then an
	 * attached message/rfc822 that replaces it */
	"From: postmaster@a.example\r\nSubject: Returned mail\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"q\"\r\n\r\n"
	"--q\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n\r\n"
	"----- Original message follows -----\r\n\r\n"
	"Received: from h1.example (h1.example [192.0.2.7]) by h2.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Received: from h0.example by h1.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Received: from hz.example by h0.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Message-ID: <inline@d.example>\r\nFrom: d@d.example\r\nTo: e@e.example\r\nSubject: quoted\r\n\r\ntext\r\n"
	"--q\r\nContent-Type: message/rfc822\r\n\r\n"
	"Received: from k.example by a.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Message-ID: <attached@d.example>\r\nFrom: d@d.example\r\nSubject: attached\r\n\r\nbody\r\n--q--\r\n",
	/* plain mail: nothing of the arrays is used */
	"From: a@a.example\r\nTo: b@b.example\r\nSubject: hello\r\n\r\nhi\r\n",
};
#define N_BUILTIN (sizeof builtin / sizeof builtin[0])

static struct bs_msgparse *mp;
static struct bs_msg_facts reused, fresh;
static unsigned compared, differed;

static void check(const char *what, const uint8_t *b, size_t n)
{
	struct t_sink k1 = { 0 }, k2 = { 0 };
	bs_msgparse_reinit(mp, &reused, &t_cb, &k1);
	bs_msgparse_feed(mp, BS_PART_BODY, 0, b, (uint32_t)n);
	bs_msgparse_end(mp);
	memset(&fresh, 0xA5, sizeof fresh); /* init must clear all of it */
	t_parse(mp, &fresh, &k2, b, n, 0);
	compared++;
	if (memcmp(&reused, &fresh, sizeof fresh) || memcmp(&k1, &k2, sizeof k1)) {
		fprintf(stderr, "%s: reinit leaves different facts than init\n", what);
		t_print_facts(stderr, &reused);
		t_print_facts(stderr, &fresh);
		differed++;
	}
}

static void builtins(void)
{
	for (size_t i = 0; i < N_BUILTIN; i++) {
		char what[32];
		snprintf(what, sizeof what, "built-in %zu", i);
		check(what, (const uint8_t *)builtin[i], strlen(builtin[i]));
	}
}

int main(int argc, char **argv)
{
	mp = t_parser();
	/* the pool's slots come from calloc: all zero before their first message */
	memset(&reused, 0, sizeof reused);
	builtins();
	/* the built-ins must have used the arrays, else they test nothing */
	bs_msgparse_init(mp, &fresh, NULL, NULL);
	bs_msgparse_feed(mp, BS_PART_BODY, 0, (const uint8_t *)builtin[0], (uint32_t)strlen(builtin[0]));
	bs_msgparse_end(mp);
	CHECK(fresh.n_rcpt_kept == 3 && fresh.n_received_kept == 2);
	bs_msgparse_init(mp, &fresh, NULL, NULL);
	bs_msgparse_feed(mp, BS_PART_BODY, 0, (const uint8_t *)builtin[1], (uint32_t)strlen(builtin[1]));
	bs_msgparse_end(mp);
	CHECK(fresh.orig_how == BS_ORIG_RFC822 && fresh.n_received_kept == 1);
	CHECK(strstr(fresh.orig_message_id, "attached") != NULL);

	if (argc > 1) {
		char path[4096];
		snprintf(path, sizeof path, "%s/manifest.tsv", argv[1]);
		FILE *m = fopen(path, "r");
		if (!m) {
			fprintf(stderr, "%s: %s (corpus absent: skipped)\n", path, strerror(errno));
			return t_fail || differed ? 1 : 77;
		}
		char line[2048];
		bool head = true;
		while (fgets(line, sizeof line, m)) {
			if (head) {
				head = false;
				continue;
			}
			char *tab = strchr(line, '\t');
			if (!tab)
				continue;
			*tab = '\0';
			snprintf(path, sizeof path, "%s/%s", argv[1], line);
			size_t n;
			uint8_t *b = t_load(path, &n);
			if (!b) {
				fprintf(stderr, "%s: %s\n", path, strerror(errno));
				t_fail++;
				continue;
			}
			check(path, b, n);
			free(b);
			builtins();
		}
		fclose(m);
	}
	printf("%u messages compared, %u differed\n", compared, differed);
	free(mp);
	return t_fail || differed ? 1 : 0;
}
