/* Mutation fuzzing of the message parser, seeded with real bounces when
 * ../shared/corpus is there (else with built-in seeds): bytes flipped,
 * MIME and bounce tokens inserted, slices deleted or duplicated, line
 * endings changed. Each input is parsed whole and in random chunkings;
 * the facts and scope streams must not depend on the chunking, and
 * sanitizers (ASan/UBSan in this test's build) must stay silent.
 * Also a libFuzzer entry point (LLVMFuzzerTestOneInput) when built with
 * -DBS_LIBFUZZER. Usage: test_msgparse_fuzz [CORPUS_DIR [ITERATIONS [SEED]]] */
#include "test_msgparse_util.h"
#include <dirent.h>
#include <time.h>

static struct bs_msgparse *mp;
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t xr(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* one input: whole vs chunked must agree */
static int one(const uint8_t *d, size_t n)
{
	static struct bs_msg_facts a, b;
	struct t_sink ka = { 0 }, kb = { 0 };
	t_parse(mp, &a, &ka, d, n, 0);
	/* random chunk sizes within one parse */
	bs_msgparse_init(mp, &b, &t_cb, &kb);
	for (size_t o = 0; o < n;) {
		size_t m = 1 + xr() % ((xr() & 3) ? 16 : 2000);
		if (m > n - o)
			m = n - o;
		bs_msgparse_feed(mp, BS_PART_BODY, o, d + o, (uint32_t)m);
		o += m;
	}
	bs_msgparse_end(mp);
	if (memcmp(&a, &b, sizeof(a)) || memcmp(&ka, &kb, sizeof(ka)))
		return -1;
	if (a.n_rcpt_kept > BS_FACTS_MAX_RCPT || a.n_received_kept > BS_FACTS_MAX_RECEIVED ||
	    a.max_depth > BS_MSGPARSE_MAX_DEPTH || a.bytes != n)
		return -1;
	if (!memchr(a.subject, 0, sizeof(a.subject)) || !memchr(a.orig_message_id, 0, sizeof(a.orig_message_id)))
		return -1;
	return 0;
}

#ifdef BS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (!mp)
		mp = t_parser();
	if (one(d, n))
		__builtin_trap();
	return 0;
}
#else

static const char *const tokens[] = {
	"\n", "\r", "\r\n", "\n\n", "--", "=", "=\n", "=4", ":", " ", "\t", "\"", ";", "\0",
	"\xff\xfe", "Content-Type: multipart/mixed; boundary=\"", "Content-Type: message/rfc822\n\n",
	"Content-Type: text/rfc822-headers\n\n", "Content-Type: message/delivery-status\n\n",
	"Content-Transfer-Encoding: base64\n", "Content-Transfer-Encoding: quoted-printable\n",
	"report-type=delivery-status; boundary=x\n", "\n--x\n", "\n--x--\n",
	"Final-Recipient: rfc822; a@b\n", "Action: failed\n", "Status: 5.1.1\n",
	"--- Below this line is a copy of the message.\n", "Original message headers:\n",
	"Received: from h (h [192.0.2.1]) by m;\n", "Message-ID: <fuzz@x>\n", "=?utf-8?B?",
	"?=", "From ",
};

static uint8_t *mutate(const uint8_t *src, size_t n, size_t *outn)
{
	size_t cap = n * 2 + 4096;
	uint8_t *o = malloc(cap);
	memcpy(o, src, n);
	size_t len = n;
	int muts = 1 + (int)(xr() % 12);
	for (int m = 0; m < muts; m++) {
		size_t pos = len ? xr() % len : 0;
		switch (xr() % 5) {
		case 0:                      /* flip a byte */
			if (len)
				o[pos] ^= (uint8_t)(1u << (xr() % 8));
			break;
		case 1: {                    /* insert a token */
			const char *t = tokens[xr() % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t tl = strlen(t) ? strlen(t) : 1;
			if (len + tl > cap)
				break;
			memmove(o + pos + tl, o + pos, len - pos);
			memcpy(o + pos, t, tl);
			len += tl;
			break;
		}
		case 2: {                    /* delete a slice */
			size_t k = xr() % 64;
			if (pos + k > len)
				k = len - pos;
			memmove(o + pos, o + pos + k, len - pos - k);
			len -= k;
			break;
		}
		case 3: {                    /* duplicate a slice */
			size_t k = xr() % 512;
			if (pos + k > len)
				k = len - pos;
			if (len + k > cap)
				break;
			memmove(o + pos + k, o + pos, len - pos);
			len += k;
			break;
		}
		default:                     /* change every LF into CR or CRLF from here */
			for (size_t i = pos; i < len; i++)
				if (o[i] == '\n')
					o[i] = '\r';
			break;
		}
	}
	*outn = len;
	return o;
}

static const char *const builtin[] = {
	"From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
	"--B\nContent-Type: text/plain\n\nfailed\n--B\nContent-Type: message/delivery-status\n\n"
	"Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@b\nAction: failed\nStatus: 5.1.1\n\n"
	"--B\nContent-Type: message/rfc822\n\nMessage-ID: <o@x>\nReceived: from h (h [1.2.3.4]) by m\n\nbody\n--B--\n",
	"Subject: failure notice\n\nSorry.\n--- Below this line is a copy of the message.\n\n"
	"Return-Path: <a@b>\nReceived: from x by y\nMessage-ID: <q@x>\n\nbody\n",
	"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: text/plain\n"
	"Content-Transfer-Encoding: base64\n\nRmFpbGVkLg==\n--o\nContent-Type: text/rfc822-headers\n"
	"Content-Transfer-Encoding: quoted-printable\n\nMessage-ID: <h=40x>\n--o--\n",
};

int main(int argc, char **argv)
{
	mp = t_parser();
	long iters = argc > 2 ? atol(argv[2]) : 20000;
	if (argc > 3)
		rng = strtoull(argv[3], NULL, 0) | 1;
	/* seeds: the ndr corpus if present, else the built-in messages */
	enum { MAX_SEEDS = 1000 };
	static uint8_t *seed[MAX_SEEDS];
	static size_t seedn[MAX_SEEDS];
	int ns = 0;
	if (argc > 1) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s/ndr", argv[1]);
		DIR *dp = opendir(dir);
		struct dirent *e;
		while (dp && (e = readdir(dp)) && ns < MAX_SEEDS) {
			if (e->d_name[0] == '.')
				continue;
			char path[8192];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if ((seed[ns] = t_load(path, &seedn[ns])) != NULL)
				ns++;
		}
		if (dp)
			closedir(dp);
	}
	int from_corpus = ns;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		seed[ns] = (uint8_t *)strdup(builtin[i]);
		seedn[ns++] = strlen(builtin[i]);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long bad = 0;
	for (long it = 0; it < iters; it++) {
		int s = (int)(xr() % (uint64_t)ns);
		size_t n;
		uint8_t *m = mutate(seed[s], seedn[s], &n);
		if (one(m, n)) {
			char name[64];
			snprintf(name, sizeof(name), "msgparse-fuzz-fail-%ld.eml", it);
			FILE *fp = fopen(name, "wb");
			if (fp) {
				fwrite(m, 1, n, fp);
				fclose(fp);
			}
			fprintf(stderr, "iteration %ld (seed %d): chunking changed the result or bounds broken; input saved to %s\n",
				it, s, name);
			if (++bad >= 5) {
				free(m);
				break;
			}
		}
		free(m);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("msgparse_fuzz: %ld mutated inputs from %d seeds (%d from the corpus) in %.1f s, %ld failures\n",
	       iters, ns, from_corpus, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, bad);
	for (int i = 0; i < ns; i++)
		free(seed[i]);
	free(mp);
	return bad ? 1 : 0;
}
#endif
