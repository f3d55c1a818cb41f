/* The enforcer thread with a real DPDK ring (EAL without hugepages): two
 * producer threads enqueue verdict values, the thread writes them into the
 * maps; checks that every valid verdict lands (and the program then drops
 * its packets), bad ones are counted as rejected, stop drains the ring,
 * expired entries are swept, and latency figures are reported. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include "enforce_thread.h"
#include "enforcer_user.h"
#include "tpkt.h"
#include "tutil.h"

#define PER_PRODUCER 3000

static struct rte_ring *ring;

struct stat_find {
	const char *name;
	uint64_t v;
};

static void find_line(void *ctx, const char *name, uint64_t v)
{
	struct stat_find *f = ctx;
	if (!strcmp(name, f->name))
		f->v = v;
}

static uint64_t stat(struct bs_enforce_thread *t, const char *name)
{
	struct stat_find f = {name, ~0ull};
	bs_enforce_thread_stats(t, find_line, &f);
	return f.v;
}

static void print_line(void *ctx, const char *name, uint64_t v)
{
	printf("  %-20s %llu\n", name, (unsigned long long)v);
}

static void enqueue(const struct bs_verdict_msg *m)
{
	while (rte_ring_mp_enqueue_elem(ring, (void *)m, sizeof(*m)) != 0)
		sched_yield(); /* ring full: the consumer catches up */
}

static void *producer(void *arg)
{
	int id = (int)(long)arg;

	for (int i = 0; i < PER_PRODUCER; i++) {
		struct bs_verdict_msg m;
		tu_session_msg(&m, "192.0.2.10", (uint16_t)(10000 + id * PER_PRODUCER + i), "198.51.100.25", 25, 300);
		m.t_detect_ns = bs_mono_ns();
		enqueue(&m);
	}
	return NULL;
}

static int count_cb_n;
static void count_cb(void *ctx, const struct bs_entry *x)
{
	count_cb_n++;
}

int main(int argc, char **argv)
{
	char err[512];
	const char *dir = tu_pin_dir("thread");
	char *eal[] = {argv[0], "--no-huge", "--no-pci", "-m", "64", "--no-shconf", "--no-telemetry",
		       "--log-level=error", "-l", "0", NULL};
	pthread_t p[2];

	if (rte_eal_init(sizeof(eal) / sizeof(eal[0]) - 1, eal) < 0) {
		fprintf(stderr, "SKIP: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	ring = rte_ring_create_elem("bs_test_verdicts", sizeof(struct bs_verdict_msg), 1024, SOCKET_ID_ANY,
				    RING_F_MP_RTS_ENQ | RING_F_SC_DEQ);
	if (!ring) {
		fprintf(stderr, "ring: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	struct bs_enforce_thread *t = bs_enforce_thread_start(ring, dir, err, sizeof(err));
	if (!t) {
		fprintf(stderr, "start: %s\n", err);
		return 1;
	}
	TU_CHECK(bs_enforce_thread_latency(t, 0.5) == 0, "latency before any sample");

	for (long i = 0; i < 2; i++)
		pthread_create(&p[i], NULL, producer, (void *)i);
	/* invalid verdicts: unknown kind, IPv4 flag on an IPv6 address, shaping at rate 0 */
	struct bs_verdict_msg bad;
	tu_session_msg(&bad, "192.0.2.1", 1, "192.0.2.2", 2, 10);
	bad.kind = 99;
	enqueue(&bad);
	tu_session_msg(&bad, "2001:db8::1", 1, "2001:db8::2", 2, 10);
	bad.ip_ver = 4;
	enqueue(&bad);
	tu_source_msg(&bad, BS_VK_SOURCE_SHAPE, "203.0.113.0/24", 10);
	bad.rate_pps = 0;
	enqueue(&bad);
	/* a source drop that expires after 1 s, and one that stays */
	struct bs_verdict_msg src;
	tu_source_msg(&src, BS_VK_SOURCE_DROP, "203.0.113.0/24", 1);
	src.t_detect_ns = bs_mono_ns();
	enqueue(&src);
	tu_source_msg(&src, BS_VK_SOURCE_DROP, "2001:db8:99::/48", 600);
	src.t_detect_ns = bs_mono_ns();
	enqueue(&src);
	for (int i = 0; i < 2; i++)
		pthread_join(p[i], NULL);

	uint64_t want = 2 * PER_PRODUCER + 2;
	for (int i = 0; i < 500 && stat(t, "verdicts_applied") < want; i++)
		usleep(10000);
	TU_CHECK(stat(t, "verdicts_applied") == want, "applied %llu of %llu",
		 (unsigned long long)stat(t, "verdicts_applied"), (unsigned long long)want);
	TU_CHECK(stat(t, "verdicts_rejected") == 3, "rejected %llu, want 3", (unsigned long long)stat(t, "verdicts_rejected"));
	TU_CHECK(stat(t, "verdicts_failed") == 0, "failed %llu", (unsigned long long)stat(t, "verdicts_failed"));
	TU_CHECK(stat(t, "latency_samples") == want, "latency samples %llu", (unsigned long long)stat(t, "latency_samples"));
	uint64_t p50 = bs_enforce_thread_latency(t, 0.5), p99 = bs_enforce_thread_latency(t, 0.99);
	TU_CHECK(p50 > 0 && p99 >= p50 && stat(t, "latency_max_ns") >= p99 / 2, "latency p50 %llu p99 %llu",
		 (unsigned long long)p50, (unsigned long long)p99);

	/* what the thread wrote is what the program enforces */
	struct bs_enforcer *e = bs_enforcer_open(dir, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	count_cb_n = 0;
	bs_enforcer_list(e, BS_ENTRY_SESSION, count_cb, NULL, err, sizeof(err));
	TU_CHECK(count_cb_n == 2 * PER_PRODUCER, "%d sessions in the map, want %d", count_cb_n, 2 * PER_PRODUCER);
	int prog = bs_enforcer_prog_fd(e, err, sizeof(err));
	uint8_t pkt[128];
	struct tpkt_spec sp = {.l3 = TPKT_IPV4, .l4 = TPKT_TCP, .src = "198.51.100.25", .dst = "192.0.2.10",
			       .sport = 25, .dport = 10000 + PER_PRODUCER + 17};
	size_t len = tpkt_build(&sp, pkt, sizeof(pkt));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = 1);
	TU_CHECK(prog >= 0 && bpf_prog_test_run_opts(prog, &o) == 0 && o.retval == XDP_DROP,
		 "a session the thread wrote is dropped (action %u)", o.retval);

	/* the 1 s source drop is swept (sweeps run once a second when idle) */
	int gone = 0;
	for (int i = 0; i < 40 && !gone; i++) {
		usleep(100000);
		count_cb_n = 0;
		bs_enforcer_list(e, BS_ENTRY_SOURCE_DROP, count_cb, NULL, err, sizeof(err));
		gone = count_cb_n == 1;
	}
	TU_CHECK(gone, "expired source drop not swept (%d source entries)", count_cb_n);
	TU_CHECK(stat(t, "entries_swept") >= 1, "entries_swept %llu", (unsigned long long)stat(t, "entries_swept"));

	/* stop drains: what is enqueued just before stop is applied */
	uint64_t before = stat(t, "verdicts_applied");
	for (int i = 0; i < 200; i++) {
		struct bs_verdict_msg m;
		tu_session_msg(&m, "192.0.2.11", (uint16_t)(20000 + i), "198.51.100.25", 25, 300);
		enqueue(&m);
	}
	printf("enforcer thread figures (%llu verdicts from 2 producers):\n", (unsigned long long)want);
	bs_enforce_thread_stats(t, print_line, NULL);
	bs_enforce_thread_stop(t);
	count_cb_n = 0;
	bs_enforcer_list(e, BS_ENTRY_SESSION, count_cb, NULL, err, sizeof(err));
	TU_CHECK(count_cb_n == 2 * PER_PRODUCER + 200, "after stop: %d sessions, want %d (before %llu)", count_cb_n,
		 2 * PER_PRODUCER + 200, (unsigned long long)before);
	TU_CHECK(rte_ring_count(ring) == 0, "ring not drained");

	/* start errors are reported, not crashed on */
	TU_CHECK(bs_enforce_thread_start(NULL, dir, err, sizeof(err)) == NULL && strstr(err, "ring"),
		 "start without ring: %s", err);
	TU_CHECK(bs_enforce_thread_start(ring, "/tmp/not-bpffs/x", err, sizeof(err)) == NULL &&
		 strstr(err, "not on a bpffs"), "start with a bad pin dir: %s", err);

	bs_enforcer_close(e);
	rte_ring_free(ring);
	rte_eal_cleanup();
	printf("%d failures\n", tu_failures);
	return tu_failures ? 1 : 0;
}
