/* The outbound ledger: lookups, expiry, persistence round trip (and
 * corrupt files), capacity with eviction, and two threads recording and
 * looking up at once. */
#include <stdlib.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>
#include "../../dataplane/detect/ledger.h"
#include "test_util.h"

static void test_basic_and_expiry(void)
{
	char err[256];
	struct bs_ledger *l = bs_ledger_create(1024, 3600, err, sizeof err);
	CHECK(l != NULL);
	uint32_t t0 = 1700000000;
	CHECK(!bs_ledger_has_msgid(l, "<a@b>", t0));
	bs_ledger_record_msgid(l, "<abc@host.example>", t0);
	CHECK(bs_ledger_has_msgid(l, "<abc@host.example>", t0 + 10));
	CHECK(bs_ledger_has_msgid(l, "  abc@host.example ", t0 + 10));   /* brackets/blanks ignored */
	CHECK(bs_ledger_has_msgid(l, "&lt;abc@host.example&gt;", t0 + 10)); /* HTML-escaped copy */
	CHECK(!bs_ledger_has_msgid(l, "<ABC@host.example>", t0 + 10));   /* Message-ID is case-sensitive */
	CHECK(bs_ledger_has_msgid(l, "<abc@host.example>", t0 + 3600));  /* window edge */
	CHECK(!bs_ledger_has_msgid(l, "<abc@host.example>", t0 + 3601)); /* expired */
	bs_ledger_record_pair(l, "Alice@Home.example", "bob@remote.example", t0);
	CHECK(bs_ledger_has_pair(l, "alice@home.example", "BOB@remote.example", t0 + 5));
	CHECK(!bs_ledger_has_pair(l, "bob@remote.example", "alice@home.example", t0 + 5));  /* ordered */
	CHECK(!bs_ledger_has_pair(l, "alice@home.example", "carol@remote.example", t0 + 5));
	CHECK(!bs_ledger_has_sender(l, "alice@home.example", t0));
	bs_ledger_record_sender(l, "alice@home.example", t0);
	CHECK(bs_ledger_has_sender(l, "ALICE@home.example", t0));
	/* kinds do not collide: a sender is not a Message-ID */
	CHECK(!bs_ledger_has_msgid(l, "alice@home.example", t0));
	/* re-recording refreshes the time */
	bs_ledger_record_pair(l, "alice@home.example", "bob@remote.example", t0 + 3000);
	CHECK(bs_ledger_has_pair(l, "alice@home.example", "bob@remote.example", t0 + 6000));
	/* empty strings are never recorded or matched */
	bs_ledger_record_msgid(l, "<>", t0);
	CHECK(!bs_ledger_has_msgid(l, "<>", t0));
	CHECK(!bs_ledger_has_pair(l, "", "", t0));
	CHECK_INT(bs_ledger_since(l), t0);
	struct bs_ledger_stats st;
	bs_ledger_get_stats(l, &st);
	CHECK_INT(st.capacity, 1024);
	CHECK_INT(st.inserts, 3);
	CHECK(st.refreshes >= 1);
	CHECK(st.lookups > 5 && st.hits > 3);
	bs_ledger_destroy(l);
	/* invalid sizes */
	CHECK(bs_ledger_create(0xffffffffu, 10, err, sizeof err) == NULL);
	CHECK(strstr(err, "capacity") != NULL);
}

static void test_persistence(void)
{
	char err[256];
	char path[] = "/tmp/bs_ledger_testXXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	unlink(path);
	uint32_t t0 = 1700000000;
	struct bs_ledger *l = bs_ledger_create(4096, 7 * 86400, err, sizeof err);
	/* a missing file is an empty ledger, not an error */
	CHECK_INT(bs_ledger_load(l, path, err, sizeof err), 0);
	char buf[64];
	for (int i = 0; i < 500; i++) {
		snprintf(buf, sizeof buf, "<m%d@h.example>", i);
		bs_ledger_record_msgid(l, buf, t0 + (uint32_t)i);
	}
	bs_ledger_record_pair(l, "a@h.example", "b@r.example", t0);
	bs_ledger_record_msgid(l, "<old@h.example>", t0 - 8 * 86400);  /* already expired at save */
	long saved = bs_ledger_save(l, path, t0 + 1000, err, sizeof err);
	CHECK_INT(saved, 501);
	bs_ledger_destroy(l);

	l = bs_ledger_create(4096, 7 * 86400, err, sizeof err);
	CHECK_INT(bs_ledger_load(l, path, err, sizeof err), 501);
	for (int i = 0; i < 500; i++) {
		snprintf(buf, sizeof buf, "<m%d@h.example>", i);
		CHECK(bs_ledger_has_msgid(l, buf, t0 + 2000));
	}
	CHECK(bs_ledger_has_pair(l, "a@h.example", "b@r.example", t0 + 2000));
	CHECK(!bs_ledger_has_msgid(l, "<m500@h.example>", t0 + 2000));
	CHECK_INT(bs_ledger_since(l), t0);   /* the first record, kept across save/load */
	/* loading into a ledger that already has entries is refused */
	CHECK_INT(bs_ledger_load(l, path, err, sizeof err), -1);
	CHECK(strstr(err, "already has entries") != NULL);
	bs_ledger_destroy(l);

	/* truncated file */
	FILE *f = fopen(path, "r+b");
	CHECK(f != NULL);
	CHECK_INT(ftruncate(fileno(f), 100), 0);
	fclose(f);
	l = bs_ledger_create(4096, 7 * 86400, err, sizeof err);
	CHECK_INT(bs_ledger_load(l, path, err, sizeof err), -1);
	CHECK(strstr(err, path) == err);
	CHECK(strstr(err, "truncated") != NULL);
	/* not a ledger file at all */
	f = fopen(path, "wb");
	fputs("hello, this is not a ledger file at all, but long enough", f);
	fclose(f);
	CHECK_INT(bs_ledger_load(l, path, err, sizeof err), -1);
	CHECK(strstr(err, "not a Backstop ledger") != NULL);
	/* unwritable destination */
	CHECK_INT(bs_ledger_save(l, "/nonexistent-dir/ledger", t0, err, sizeof err), -1);
	CHECK(strstr(err, "/nonexistent-dir/ledger.tmp") != NULL);
	bs_ledger_destroy(l);
	unlink(path);
}

static void test_capacity(void)
{
	char err[256];
	/* 64 entries: 8 buckets of 8 */
	struct bs_ledger *l = bs_ledger_create(64, 86400, err, sizeof err);
	uint32_t t0 = 1000000;
	char buf[64];
	for (int i = 0; i < 10000; i++) {
		snprintf(buf, sizeof buf, "<flood%d@h>", i);
		bs_ledger_record_msgid(l, buf, t0 + (uint32_t)i);
	}
	struct bs_ledger_stats st;
	bs_ledger_get_stats(l, &st);
	CHECK_INT(st.capacity, 64);
	CHECK_INT(st.live, 64);                 /* never more than the capacity */
	CHECK_INT(st.evictions, 10000 - 64);
	/* the newest entries survive (oldest are evicted first) */
	int newest = 0, oldest = 0;
	for (int i = 9990; i < 10000; i++) {
		snprintf(buf, sizeof buf, "<flood%d@h>", i);
		newest += bs_ledger_has_msgid(l, buf, t0 + 10000);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof buf, "<flood%d@h>", i);
		oldest += bs_ledger_has_msgid(l, buf, t0 + 10000);
	}
	CHECK_INT(newest, 10);
	CHECK_INT(oldest, 0);
	/* expired entries are reused before anything live is evicted */
	uint64_t ev = st.evictions;
	for (int i = 0; i < 32; i++) {
		snprintf(buf, sizeof buf, "<late%d@h>", i);
		bs_ledger_record_msgid(l, buf, t0 + 10000 + 2 * 86400);
	}
	bs_ledger_get_stats(l, &st);
	CHECK_INT(st.evictions, ev);
	bs_ledger_destroy(l);
}

struct thr_arg { struct bs_ledger *l; int id; int n; int misses; };
static int writers_done;

static void *writer(void *p)
{
	struct thr_arg *a = p;
	char buf[64];
	for (int i = 0; i < a->n; i++) {
		snprintf(buf, sizeof buf, "<t%d-%d@h>", a->id, i);
		bs_ledger_record_msgid(a->l, buf, 5000);
		snprintf(buf, sizeof buf, "u%d@h", i);
		bs_ledger_record_pair(a->l, buf, "r@x", 5000);
	}
	return NULL;
}

static void *reader(void *p)
{
	/* looks up what the other thread records, while it records it: every
	 * key must be found once the writer is past it */
	struct thr_arg *a = p;
	char buf[64];
	for (int i = 0; i < a->n; i++) {
		snprintf(buf, sizeof buf, "<t%d-%d@h>", a->id, i);
		while (!bs_ledger_has_msgid(a->l, buf, 5000))
			if (__atomic_load_n(&writers_done, __ATOMIC_ACQUIRE)) {
				a->misses++;   /* the writer finished and it is not there */
				break;
			}
	}
	return NULL;
}

static void test_threads(void)
{
	char err[256];
	struct bs_ledger *l = bs_ledger_create(1 << 20, 86400, err, sizeof err);
	struct thr_arg w0 = { l, 0, 200000, 0 }, w1 = { l, 1, 200000, 0 }, r0 = { l, 0, 200000, 0 };
	pthread_t a, b, c;
	pthread_create(&a, NULL, writer, &w0);
	pthread_create(&b, NULL, writer, &w1);
	pthread_create(&c, NULL, reader, &r0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	__atomic_store_n(&writers_done, 1, __ATOMIC_RELEASE);
	pthread_join(c, NULL);
	CHECK_INT(r0.misses, 0);
	char buf[64];
	int missing = 0;
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 200000; i++) {
			snprintf(buf, sizeof buf, "<t%d-%d@h>", t, i);
			missing += !bs_ledger_has_msgid(l, buf, 5000);
		}
	struct bs_ledger_stats st;
	bs_ledger_get_stats(l, &st);
	/* 400,000 Message-IDs + 200,000 distinct pairs (each recorded twice) */
	CHECK_INT(st.inserts, 600000);
	CHECK_INT(st.refreshes, 200000);
	/* 600k keys in 1 Mi entries (57% load): two-choice buckets hold them all */
	CHECK_INT(missing, 0);
	CHECK_INT(st.evictions, 0);
	bs_ledger_destroy(l);
}

int main(void)
{
	test_basic_and_expiry();
	test_persistence();
	test_capacity();
	test_threads();
	TEST_DONE();
}
