/* Recording hooks and driver for the SMTP parser tests; see test_smtp_rec.h. */
#include <stdlib.h>
#include "test_smtp_rec.h"

int t_failures;

static struct bs_txn *h_alloc(void *ctx)
{
	struct rec *r = ctx;
	if (r->fail_alloc_after >= 0 && r->n_alloc >= r->fail_alloc_after)
		return NULL;
	for (int i = 0; i < REC_POOL; i++) {
		if (!r->busy[i]) {
			r->busy[i] = true;
			memset(&r->pool[i], 0, sizeof r->pool[i]);
			r->msg[i].hdr_len = r->msg[i].body_len = 0;
			r->msg[i].next_off = 0;
			r->msg[i].data_begins = 0;
			r->msg[i].data_ends = r->msg[i].ended_at_data_end = 0;
			r->pool[i].flow_id = 42;
			r->n_alloc++;
			return &r->pool[i];
		}
	}
	return NULL;
}

struct rec_msg *rec_msg_of(struct rec *r, const struct bs_txn *t)
{
	return &r->msg[t - r->pool];
}

static void h_begin(void *ctx, struct bs_txn *t)
{
	rec_msg_of(ctx, t)->data_begins++;
}

static int h_data(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off, const uint8_t *p,
		  uint32_t n)
{
	struct rec *r = ctx;
	struct rec_msg *m = rec_msg_of(r, t);
	r->msg_calls++;
	if (off != m->next_off)
		r->bad_offsets++;
	m->next_off = off + n;
	if (part == BS_PART_HEADER) {
		if (m->body_len)
			r->part_order_errors++;
		if (m->hdr_len + n <= REC_MSG_MAX) {
			memcpy(m->hdr + m->hdr_len, p, n);
			m->hdr_len += n;
		}
		return BS_HOOK_CONTINUE;
	}
	if (m->body_len + n <= REC_MSG_MAX) {
		memcpy(m->body + m->body_len, p, n);
		m->body_len += n;
	}
	if (r->skip_body_after && m->body_len >= r->skip_body_after)
		return BS_HOOK_SKIP_BODY;
	return BS_HOOK_CONTINUE;
}

static void h_end(void *ctx, struct bs_txn *t)
{
	struct rec *r = ctx;
	if (r->n_ended < 64)
		r->ended[r->n_ended++] = t;
	/* the record stays readable (pool slot kept busy) for the checks */
}

static void h_data_end(void *ctx, struct bs_txn *t)
{
	struct rec *r = ctx;
	struct rec_msg *m = rec_msg_of(r, t);
	m->data_ends++;
	for (int i = 0; i < r->n_ended; i++)
		if (r->ended[i] == t)
			m->ended_at_data_end++;
}

static const struct bs_smtp_hooks rec_hooks = { h_alloc, h_begin, h_data, h_end, h_data_end };

void rec_init(struct rec *r, bool midstream)
{
	/* the big pool and message buffers are reset per allocation */
	memset(r->busy, 0, sizeof r->busy);
	r->n_alloc = 0;
	r->skip_body_after = 0;
	r->msg_calls = r->bad_offsets = r->part_order_errors = 0;
	r->n_ended = 0;
	memset(&r->st, 0, sizeof r->st);
	r->fail_alloc_after = -1;
	r->s = malloc(bs_smtp_session_size());
	/* poison: the parser must not depend on zeroed memory */
	memset(r->s, 0xA5, bs_smtp_session_size());
	r->now = 1000000000ull;
	bs_smtp_session_init(r->s, &rec_hooks, r, &r->st, midstream);
}

void rec_free(struct rec *r)
{
	free(r->s);
	r->s = NULL;
}

void rec_bytes(struct rec *r, bool client, const void *p, size_t n)
{
	r->now += 1000;
	bs_smtp_data(r->s, client, p, (uint32_t)n, r->now);
}

void C(struct rec *r, const char *text)
{
	rec_bytes(r, true, text, strlen(text));
}

void S(struct rec *r, const char *text)
{
	rec_bytes(r, false, text, strlen(text));
}

void rec_end(struct rec *r, uint32_t anom)
{
	r->now += 1000;
	bs_smtp_session_end(r->s, anom, r->now);
}

void rec_hello(struct rec *r, const char *caps)
{
	S(r, "220 mx.example.net ESMTP\r\n");
	C(r, "EHLO client.example.org\r\n");
	char buf[1024];
	snprintf(buf, sizeof buf, "250-mx.example.net\r\n%s250 HELP\r\n", caps);
	S(r, buf);
}

int t_report(const char *name)
{
	if (t_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}
