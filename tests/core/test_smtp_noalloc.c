/* The SMTP stage allocates nothing per packet: after the session memory
 * exists and the thread's charset converters are open
 * (bs_rfc2047_thread_init), whole sessions (DATA, BDAT, pipelining, gaps,
 * encoded-words in many charsets, event formatting) run without a single
 * malloc/calloc/realloc. Counted by interposing the allocator (so this test
 * is built without sanitizers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "smtp.h"
#include "rfc2047.h"
#include "event_json.h"

static long allocs;
static int armed;
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

void *malloc(size_t n)
{
	allocs += armed;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	allocs += armed;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	allocs += armed;
	return __libc_realloc(p, n);
}

static struct bs_txn pool[8];
static int next;
static char line[BS_EVENT_JSON_MAX];
static size_t events;

static struct bs_txn *h_alloc(void *ctx)
{
	struct bs_txn *t = &pool[next++ % 8];
	memset(t, 0, sizeof *t);
	return t;
}

static int h_data(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off, const uint8_t *p, uint32_t n)
{
	return part == BS_PART_BODY && off > 200 ? BS_HOOK_SKIP_BODY : BS_HOOK_CONTINUE;
}

static void h_end(void *ctx, struct bs_txn *t)
{
	events += bs_event_json(t, line, sizeof line) > 0;
}

static const struct bs_smtp_hooks hooks = { h_alloc, NULL, h_data, h_end, NULL };

static void feeds(struct bs_smtp_session *s, bool client, const char *text)
{
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i += 7) /* small segments: lines cut everywhere */
		bs_smtp_data(s, client, (const uint8_t *)text + i, (uint32_t)(n - i < 7 ? n - i : 7), 1);
}

static const char *const SUBJECTS[] = {
	"=?big5?B?p0G3x7PGpm6kRrbcPw==?=", "=?ISO-2022-JP?B?GyRCRnxLXDhsJE43b0w+GyhC?=",
	"=?koi8-r?B?7/Q=?=", "=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "=?utf-8?q?caf=C3=A9?=",
	"=?iso-8859-2?Q?odpowied=BC?=", "=?x-unknown-charset?B?7/Q=?=", "plain text",
};

static void session(struct bs_smtp_session *s, struct bs_smtp_stats *st, int k)
{
	char msg[1024];
	bs_smtp_session_init(s, &hooks, NULL, st, k % 5 == 4);
	feeds(s, false, "220 mx.example ESMTP\r\n");
	feeds(s, true, "EHLO client.example\r\n");
	feeds(s, false, "250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
	snprintf(msg, sizeof msg,
		 "From: =?utf-8?q?Mail_Delivery?= <MAILER-DAEMON@x.example>\r\nSubject: %s\r\n"
		 "Message-ID: <%d@x.example>\r\nContent-Type: multipart/report; boundary=\"b%d\"\r\n\r\n"
		 "body line one\r\n..stuffed\r\nbody line three, long enough to pass the skip point of the hook\r\n",
		 SUBJECTS[k % 8], k, k);
	feeds(s, true, "MAIL FROM:<> SIZE=1000\r\nRCPT TO:<a@home.example>\r\nRCPT TO:<b@home.example>\r\nDATA\r\n");
	feeds(s, false, "250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n");
	feeds(s, true, msg);
	if (k % 3 == 0)
		bs_smtp_gap(s, true, 100);
	feeds(s, true, "more body\r\n.\r\n");
	feeds(s, false, "250 queued\r\n");
	char bdat[1200];
	snprintf(bdat, sizeof bdat, "MAIL FROM:<x@y.example>\r\nRCPT TO:<a@home.example>\r\nBDAT %zu LAST\r\n%s",
		 strlen(msg), msg);
	feeds(s, true, bdat);
	feeds(s, false, "250 ok\r\n250 ok\r\n250 ok\r\n");
	feeds(s, true, "QUIT\r\n");
	feeds(s, false, "221 bye\r\n");
	bs_smtp_session_end(s, 0, 2);
}

int main(void)
{
	struct bs_smtp_stats st;
	memset(&st, 0, sizeof st);
	struct bs_smtp_session *s = malloc(bs_smtp_session_size());
	bs_rfc2047_thread_init();
	for (int k = 0; k < 16; k++) /* warm-up: each charset once (unknown ones are remembered) */
		session(s, &st, k);
	size_t ev0 = events;
	armed = 1;
	for (int k = 0; k < 2000; k++)
		session(s, &st, k);
	armed = 0;
	printf("%zu events, %llu message bytes, %ld allocations\n", events - ev0,
	       (unsigned long long)st.message_bytes, allocs);
	free(s);
	bs_rfc2047_thread_cleanup();
	if (allocs != 0 || events - ev0 < 3000) {
		fprintf(stderr, "test_smtp_noalloc: %ld allocations after warm-up (expected 0)\n", allocs);
		return 1;
	}
	printf("test_smtp_noalloc: all checks passed\n");
	return 0;
}
