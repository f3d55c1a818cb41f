/* Source shaping: with rate R and burst B a source gets B packets at once,
 * then about R per second, also when several CPUs take tokens at once.
 *
 * 1. Virtual time: the bucket's state (tat_ns) is moved back by 1 ms per
 *    step, 1000 steps, three packets per step: exactly B + R*1s pass, plus
 *    what the test's own real run time (measured) allows.
 * 2. Real time: BPF_PROG_TEST_RUN with repeat; the pass count lies between
 *    the bound from the kernel-measured run time and the bound from the
 *    wall-clock time around the call. Both bounds are rigorous, not tuned.
 * 3. Two threads on two CPUs run repeat loops at once: passes never exceed
 *    B + R * wall time (no token is handed out twice). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "enforcer_user.h"
#include "tpkt.h"
#include "tutil.h"

static struct bs_enforcer *e;
static int prog;
static uint8_t pkt[128];
static size_t pkt_len;

static void shape(uint32_t rate, uint32_t burst)
{
	struct bs_verdict_msg m;
	char err[256];

	bs_enforcer_flush(e, 0, err, sizeof(err));
	tu_source_msg(&m, BS_VK_SOURCE_SHAPE, "192.0.2.0/24", 600);
	m.rate_pps = rate;
	m.burst = burst;
	if (bs_enforcer_apply(e, &m, 1, err, sizeof(err)) != 1) {
		fprintf(stderr, "apply: %s\n", err);
		exit(1);
	}
}

static int shape_fd_key(struct bs_lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	bs_parse_addr("192.0.2.0", k->addr, &(uint8_t){0});
	k->prefixlen = 96 + 24;
	return bs_enforcer_map_fd(e, BS_MAPID_SRC_SHAPE);
}

static int run_once(void)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)pkt_len, .repeat = 1);
	if (bpf_prog_test_run_opts(prog, &o)) {
		fprintf(stderr, "test run: %s\n", strerror(errno));
		exit(1);
	}
	return (int)o.retval;
}

static uint64_t counter(enum bs_counter c)
{
	struct bs_enforcer_stats st;
	char err[256];

	bs_enforcer_stats(e, &st, err, sizeof(err));
	return st.cnt[c].packets;
}

static void virtual_time(void)
{
	const uint32_t R = 100, B = 8;            /* interval 10 ms */
	const uint64_t T = 1000000000ull / R, step = 1000000;
	struct bs_lpm_key k;
	struct bs_shape_val v;
	int fd = shape_fd_key(&k), passed = 0, burst_passed = 0;

	shape(R, B);
	uint64_t t0 = bs_mono_ns();
	for (int i = 0; i < 20; i++)
		burst_passed += run_once() == XDP_PASS;
	uint64_t t1 = bs_mono_ns();
	int extra = (int)((t1 - t0) / T) + 1;
	TU_CHECK(burst_passed >= (int)B && burst_passed <= (int)B + extra,
		 "burst: %d of 20 passed, want %u (+%d for %llu ns of real time)", burst_passed, B, extra - 1,
		 (unsigned long long)(t1 - t0));

	for (int s = 0; s < 1000; s++) {
		if (bpf_map_lookup_elem(fd, &k, &v)) {
			TU_CHECK(0, "lookup shaping entry: %s", strerror(errno));
			return;
		}
		v.tat_ns -= step;   /* 1 ms of virtual time passes */
		bpf_map_update_elem(fd, &k, &v, BPF_EXIST);
		for (int p = 0; p < 3; p++)
			passed += run_once() == XDP_PASS;
	}
	uint64_t t2 = bs_mono_ns();
	/* 1 s virtual = R tokens; real time adds at most (t2 - t1) / T */
	int lo = (int)R - 1, hi = (int)R + (int)((t2 - t1) / T) + 1;
	printf("virtual time: burst %d (B=%u), then %d in 1 s virtual + %.1f ms real (R=%u): bounds [%d, %d]\n",
	       burst_passed, B, passed, (double)(t2 - t1) / 1e6, R, lo, hi);
	TU_CHECK(passed >= lo && passed <= hi, "virtual second: %d passed, want %d..%d", passed, lo, hi);
}

static void real_time(void)
{
	const uint32_t R = 100000, B = 50;        /* interval 10 us */
	const uint64_t T = 1000000000ull / R;
	const __u32 repeat = 200000;

	shape(R, B);
	uint64_t p0 = counter(BS_CNT_PASS_SHAPE), d0 = counter(BS_CNT_DROP_SHAPE);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)pkt_len, .repeat = repeat);
	uint64_t t0 = bs_mono_ns();
	int r = bpf_prog_test_run_opts(prog, &o);
	uint64_t t1 = bs_mono_ns();
	TU_CHECK(r == 0, "test run: %s", strerror(errno));
	uint64_t passed = counter(BS_CNT_PASS_SHAPE) - p0, dropped = counter(BS_CNT_DROP_SHAPE) - d0;
	uint64_t kernel_ns = (uint64_t)o.duration * (repeat - 1);
	uint64_t lo = B + kernel_ns / T, hi = B + (t1 - t0) / T + 1;
	lo = lo > 2 ? lo - 2 : 0;
	printf("real time: %u packets in %.2f ms (%u ns each): %llu passed, %llu dropped; bounds [%llu, %llu]\n",
	       repeat, (double)(t1 - t0) / 1e6, o.duration, (unsigned long long)passed, (unsigned long long)dropped,
	       (unsigned long long)lo, (unsigned long long)hi);
	TU_CHECK(passed + dropped == repeat, "every packet counted once (%llu + %llu)", (unsigned long long)passed,
		 (unsigned long long)dropped);
	TU_CHECK(passed >= lo && passed <= hi, "real time: %llu passed, want %llu..%llu", (unsigned long long)passed,
		 (unsigned long long)lo, (unsigned long long)hi);
}

struct worker {
	int cpu;
	__u32 repeat;
	int rc;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)pkt_len, .repeat = w->repeat);
	w->rc = bpf_prog_test_run_opts(prog, &o);
	return NULL;
}

static void concurrent(void)
{
	const uint32_t R = 200000, B = 100;        /* interval 5 us */
	const uint64_t T = 1000000000ull / R;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = ncpu >= 2 ? 2 : 1;
	struct worker w[2] = {{0, 300000, 0}, {1, 300000, 0}};
	pthread_t th[2];

	shape(R, B);
	uint64_t p0 = counter(BS_CNT_PASS_SHAPE), d0 = counter(BS_CNT_DROP_SHAPE), b0 = counter(BS_CNT_PASS_SHAPE_BUSY);
	uint64_t t0 = bs_mono_ns();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, hammer, &w[i]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	uint64_t t1 = bs_mono_ns();
	uint64_t passed = counter(BS_CNT_PASS_SHAPE) - p0, dropped = counter(BS_CNT_DROP_SHAPE) - d0;
	uint64_t busy = counter(BS_CNT_PASS_SHAPE_BUSY) - b0, total = (uint64_t)nthreads * 300000;
	uint64_t hi = B + (t1 - t0) / T + 1;
	printf("%d CPUs at once: %llu packets in %.2f ms: %llu passed, %llu dropped, %llu busy; at most %llu may pass\n",
	       nthreads, (unsigned long long)total, (double)(t1 - t0) / 1e6, (unsigned long long)passed,
	       (unsigned long long)dropped, (unsigned long long)busy, (unsigned long long)hi);
	TU_CHECK(w[0].rc == 0 && w[1].rc == 0, "test runs failed");
	TU_CHECK(passed + dropped + busy == total, "every packet counted once");
	TU_CHECK(passed <= hi, "over-admission: %llu passed, at most %llu allowed", (unsigned long long)passed,
		 (unsigned long long)hi);
	TU_CHECK(passed >= B, "fewer than the burst passed (%llu)", (unsigned long long)passed);
	TU_CHECK(busy * 100 <= total, "CAS contention fail-open too frequent: %llu", (unsigned long long)busy);
}

int main(void)
{
	char err[512];
	const char *dir = tu_pin_dir("shape");
	struct tpkt_spec sp = {.l3 = TPKT_IPV4, .l4 = TPKT_TCP, .src = "192.0.2.10", .dst = "198.51.100.25",
			       .sport = 40000, .dport = 25, .payload = 20};

	e = bs_enforcer_open(dir, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	prog = bs_enforcer_prog_fd(e, err, sizeof(err));
	if (prog < 0) {
		fprintf(stderr, "program: %s\n", err);
		return 1;
	}
	pkt_len = tpkt_build(&sp, pkt, sizeof(pkt));
	virtual_time();
	real_time();
	concurrent();
	bs_enforcer_close(e);
	printf("%d failures\n", tu_failures);
	return tu_failures ? 1 : 0;
}
