/* Test helpers: build a transaction record as the pipeline would and
 * stream a message through the detection hook in TCP-sized chunks. */
#ifndef BS_TEST_DETECT_FEED_H
#define BS_TEST_DETECT_FEED_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../dataplane/detect/detect.h"

static inline void txn_init(struct bs_txn *t, int direction, const char *client_ip4, const char *mail_from,
		     const char *rcpt, uint64_t ts_s)
{
	memset(t, 0, sizeof *t);
	t->direction = (uint8_t)direction;
	t->ts_ns = ts_s * 1000000000ull;
	t->client.ip_ver = 4;
	t->client.addr[10] = t->client.addr[11] = 0xff;
	unsigned a, b, c, d;
	if (sscanf(client_ip4, "%u.%u.%u.%u", &a, &b, &c, &d) == 4) {
		t->client.addr[12] = (uint8_t)a;
		t->client.addr[13] = (uint8_t)b;
		t->client.addr[14] = (uint8_t)c;
		t->client.addr[15] = (uint8_t)d;
	}
	t->client.port = 40000;
	t->server.ip_ver = 4;
	t->server.port = 25;
	snprintf(t->helo, sizeof t->helo, "mx.sender.example");
	snprintf(t->mail_from, sizeof t->mail_from, "%.255s", mail_from);
	t->has_mail_from = 1;
	t->null_sender = mail_from[0] == 0;
	t->mail_code = 250;
	if (rcpt) {
		snprintf(t->rcpt[0].addr, sizeof t->rcpt[0].addr, "%.255s", rcpt);
		t->rcpt[0].code = 250;
		t->n_rcpt = t->n_rcpt_total = 1;
	}
	t->data_started = 1;
}

/* offset just past the blank line that ends the header block (or n) */
static inline size_t header_end(const uint8_t *m, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n')
			return i + 2;
		if (m[i] == '\n' && m[i + 1] == '\r' && i + 2 < n && m[i + 2] == '\n')
			return i + 3;
		if (m[i] == '\r' && m[i + 1] == '\r')
			return i + 2;
	}
	return n;
}

struct feed_result {
	int skipped;          /* the hook said SKIP_BODY */
	uint64_t skip_at;     /* message offset after which no more bytes were fed */
};

/* Feeds msg as the SMTP parser would (header part, then body part) and
 * ends the transaction. Stops feeding the body once the hook says so. */
static inline struct feed_result feed_message(struct bs_detect_worker *w, struct bs_txn *t, const uint8_t *msg,
				       size_t n, size_t chunk)
{
	struct feed_result r = { 0, n };
	bs_detect_txn_begin(w, t);
	size_t hend = header_end(msg, n);
	size_t off = 0;
	while (off < n) {
		enum bs_msg_part part = off < hend ? BS_PART_HEADER : BS_PART_BODY;
		if (part == BS_PART_BODY && r.skipped)
			break;
		size_t lim = off < hend ? hend : n;
		size_t len = lim - off < chunk ? lim - off : chunk;
		int rc = bs_detect_msg_data(w, t, part, off, msg + off, (uint32_t)len);
		off += len;
		if (rc == BS_HOOK_SKIP_BODY && !r.skipped) {
			r.skipped = 1;
			r.skip_at = off > hend ? off : hend;
		}
	}
	t->data_complete = 1;
	t->data_code = 250;
	t->size = n;
	bs_detect_txn_end(w, t);
	return r;
}

static inline uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
	if (b && sz > 0 && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*n = sz > 0 ? (size_t)sz : 0;
	return b;
}

static inline bool is_bounce_class(int c)
{
	return c == BS_CLASS_LEGIT_BOUNCE || c == BS_CLASS_BACKSCATTER || c == BS_CLASS_SUSPECT_BOUNCE;
}

#endif
