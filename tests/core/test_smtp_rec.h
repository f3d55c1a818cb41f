/* Test support for the SMTP parser tests: a hooks implementation that
 * records everything it receives (transactions in end order, message bytes
 * per part with offset checks), a session driver, and check macros that
 * report file:line. */
#ifndef TEST_SMTP_REC_H
#define TEST_SMTP_REC_H
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "smtp.h"

extern int t_failures;

#define CHECK(cond) do { if (!(cond)) { t_failures++; \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { \
	t_failures++; fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
	#a, _a, #b, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); if (strcmp(_a, _b) != 0) { \
	t_failures++; fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
	#a, _a, _b); } } while (0)

#define REC_POOL 16
#define REC_MSG_MAX (256 * 1024)

struct rec_msg {
	uint8_t hdr[REC_MSG_MAX], body[REC_MSG_MAX];
	uint32_t hdr_len, body_len;
	uint64_t next_off;     /* offset the next msg_data call must carry */
	int data_begins;
	int data_ends;         /* txn_data_end calls */
	int ended_at_data_end; /* txn_end had already happened at txn_data_end (must stay 0) */
};

struct rec {
	struct bs_txn pool[REC_POOL];
	struct rec_msg msg[REC_POOL];
	bool busy[REC_POOL];
	int n_alloc;
	int fail_alloc_after;        /* -1: never; else txn_alloc returns NULL after this many */
	uint64_t skip_body_after;    /* answer SKIP_BODY once this many body bytes were seen (0: never) */
	int msg_calls;
	int bad_offsets;             /* msg_data offsets not contiguous */
	int part_order_errors;       /* header bytes after body bytes */
	struct bs_txn *ended[64];    /* in txn_end order */
	int n_ended;
	struct bs_smtp_stats st;
	struct bs_smtp_session *s;
	uint64_t now;
};

void rec_init(struct rec *r, bool midstream);
void rec_free(struct rec *r);
/* client (c) or server (s) bytes */
void C(struct rec *r, const char *text);
void S(struct rec *r, const char *text);
void rec_bytes(struct rec *r, bool client, const void *p, size_t n);
void rec_end(struct rec *r, uint32_t anom);
struct rec_msg *rec_msg_of(struct rec *r, const struct bs_txn *t);
/* a standard session opening: greeting and EHLO with the given capability lines */
void rec_hello(struct rec *r, const char *caps);
int t_report(const char *name);

#endif
