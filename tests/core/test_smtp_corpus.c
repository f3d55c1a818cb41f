/* Corpus driver for test_smtp_corpus.py: sends each message file through a
 * real SMTP session of the parser (EHLO, MAIL FROM:<>, RCPT, then the
 * message by DATA with CRLF line ends and dot-stuffing, or by BDAT with the
 * file's bytes unchanged), cut into pseudo-random segment sizes, and prints
 * the event line of each transaction. flow_id = position of the file in the
 * argument list, transaction 0 = DATA, 1 = BDAT.
 *
 * usage: test_smtp_corpus FILE...   (or "-" to read file names from stdin) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtp.h"
#include "event_json.h"

static struct bs_txn pool[4];
static int pool_used;
static uint64_t cur_flow;
static char line[BS_EVENT_JSON_MAX];
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static struct bs_txn *h_alloc(void *ctx)
{
	struct bs_txn *t = &pool[pool_used++ % 4];
	memset(t, 0, sizeof *t);
	t->flow_id = cur_flow;
	t->ts_ns = 1;
	t->client.ip_ver = 4;
	t->server.ip_ver = 4;
	t->client.addr[10] = t->client.addr[11] = 0xff;
	t->server.addr[10] = t->server.addr[11] = 0xff;
	t->client.addr[12] = 192, t->client.addr[15] = 1;
	t->server.addr[12] = 198, t->server.addr[15] = 25;
	t->client.port = 40000;
	t->server.port = 25;
	return t;
}

static void h_end(void *ctx, struct bs_txn *t)
{
	size_t n = bs_event_json(t, line, sizeof line);
	fwrite(line, 1, n, stdout);
}

static const struct bs_smtp_hooks hooks = { h_alloc, NULL, NULL, h_end, NULL };

/* feed in segments of 1..1460 bytes (mostly large) */
static void feed(struct bs_smtp_session *s, bool client, const char *p, size_t n)
{
	while (n) {
		size_t k = rnd(8) == 0 ? 1 + rnd(16) : 1 + rnd(1460);
		if (k > n)
			k = n;
		bs_smtp_data(s, client, (const uint8_t *)p, (uint32_t)k, 1000);
		p += k;
		n -= k;
	}
}

static void feeds(struct bs_smtp_session *s, bool client, const char *text)
{
	feed(s, client, text, strlen(text));
}

/* CRLF line ends (LF, CR and CRLF in the file all count as one) and
 * dot-stuffing, as a sending MTA does */
static size_t to_smtp(const char *in, size_t n, char *out)
{
	size_t o = 0;
	bool bol = true;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
			out[o++] = '\r';
			out[o++] = '\n';
			bol = true;
			continue;
		}
		if (bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		bol = false;
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

int main(int argc, char **argv)
{
	struct bs_smtp_stats st;
	struct bs_smtp_session *s = malloc(bs_smtp_session_size());
	char name[4096];
	int from_stdin = argc == 2 && strcmp(argv[1], "-") == 0;
	memset(&st, 0, sizeof st);
	for (int a = 1;; a++) {
		const char *path;
		if (from_stdin) {
			if (!fgets(name, sizeof name, stdin))
				break;
			name[strcspn(name, "\n")] = '\0';
			path = name;
		} else {
			if (a >= argc)
				break;
			path = argv[a];
		}
		FILE *f = fopen(path, "rb");
		if (!f) {
			fprintf(stderr, "%s: cannot open\n", path);
			return 2;
		}
		fseek(f, 0, SEEK_END);
		long sz = ftell(f);
		fseek(f, 0, SEEK_SET);
		char *raw = malloc((size_t)sz + 1), *wire = malloc((size_t)sz * 3 + 8);
		if (fread(raw, 1, (size_t)sz, f) != (size_t)sz) {
			fprintf(stderr, "%s: read error\n", path);
			return 2;
		}
		fclose(f);
		cur_flow++;
		bs_smtp_session_init(s, &hooks, NULL, &st, false);
		feeds(s, false, "220 mx.home.example ESMTP\r\n");
		feeds(s, true, "EHLO mx.remote.example\r\n");
		feeds(s, false, "250-mx.home.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n");
		/* DATA */
		feeds(s, true, "MAIL FROM:<>\r\nRCPT TO:<user@home.example>\r\nDATA\r\n");
		feeds(s, false, "250 ok\r\n250 ok\r\n354 go\r\n");
		size_t wn = to_smtp(raw, (size_t)sz, wire);
		memcpy(wire + wn, ".\r\n", 3);
		feed(s, true, wire, wn + 3);
		feeds(s, false, "250 queued\r\n");
		/* BDAT, the bytes unchanged, in two chunks */
		char cmd[128];
		size_t half = (size_t)sz / 2;
		snprintf(cmd, sizeof cmd, "MAIL FROM:<>\r\nRCPT TO:<user@home.example>\r\nBDAT %zu\r\n", half);
		feeds(s, true, cmd);
		feed(s, true, raw, half);
		snprintf(cmd, sizeof cmd, "BDAT %zu LAST\r\n", (size_t)sz - half);
		feeds(s, true, cmd);
		feed(s, true, raw + half, (size_t)sz - half);
		feeds(s, true, "QUIT\r\n");
		feeds(s, false, "250 ok\r\n250 ok\r\n250 ok\r\n250 queued\r\n221 bye\r\n");
		bs_smtp_session_end(s, 0, 2000);
		free(raw);
		free(wire);
	}
	free(s);
	return 0;
}
