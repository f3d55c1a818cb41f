/* Verdict latency under load: time from the packet that produced a verdict
 * (t_detect_ns, set when the producer enqueues) to the completed map
 * update, through the real path: rte_ring (multi-producer) -> enforcer
 * thread -> bpf map batch update. Load: a producer at a fixed verdict rate
 * and, at the same time, a thread running the XDP program on packets
 * continuously (BPF_PROG_TEST_RUN), both competing with the enforcer
 * thread for this machine's cores.
 *
 * usage: xdp_verdict_latency [--seconds S] [--rates R1,R2,...] [--no-load]   (root) */
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

static int load_stop;
static int prog_fd;
static uint64_t load_packets;

static void *packet_load(void *arg)
{
	uint8_t pkt[256];
	struct tpkt_spec sp = {.l3 = TPKT_IPV4, .l4 = TPKT_TCP, .src = "192.0.2.1", .dst = "198.51.100.25",
			       .sport = 40000, .dport = 25, .payload = 200};
	size_t len = tpkt_build(&sp, pkt, sizeof(pkt));

	while (!__atomic_load_n(&load_stop, __ATOMIC_RELAXED)) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = 100000);
		if (bpf_prog_test_run_opts(prog_fd, &o))
			break;
		__atomic_add_fetch(&load_packets, 100000, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void print_line(void *ctx, const char *name, uint64_t v)
{
	uint64_t *out = ctx;
	if (!strcmp(name, "verdicts_applied")) out[0] = v;
	if (!strcmp(name, "verdicts_failed")) out[1] = v;
	if (!strcmp(name, "apply_batches")) out[2] = v;
	if (!strcmp(name, "latency_max_ns")) out[3] = v;
}

int main(int argc, char **argv)
{
	char err[512];
	double seconds = 2;
	const char *rates = "1000,10000,100000";
	char *eal[] = {argv[0], "--no-huge", "--no-pci", "-m", "64", "--no-shconf", "--no-telemetry",
		       "--log-level=error", "-l", "0", NULL};

	int with_load = 1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--no-load")) {
			with_load = 0;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(char *));
			argc--;
		}
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--rates"))
			rates = argv[i + 1];
	}
	const char *dir = tu_pin_dir("perf-lat");
	if (rte_eal_init(sizeof(eal) / sizeof(eal[0]) - 1, eal) < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	struct rte_ring *ring = rte_ring_create_elem("bs_perf_verdicts", sizeof(struct bs_verdict_msg), 4096,
						     SOCKET_ID_ANY, RING_F_MP_RTS_ENQ | RING_F_SC_DEQ);
	struct bs_enforcer_sizes sz = {1 << 20, 0, 0, 0};
	struct bs_enforcer *e = bs_enforcer_open_sized(dir, &sz, err, sizeof(err));
	if (!ring || !e || (prog_fd = bs_enforcer_prog_fd(e, err, sizeof(err))) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	printf("%-10s %9s %9s %8s %10s %10s %10s %12s\n", "rate/s", "verdicts", "failed", "batches", "p50_us",
	       "p99_us", "max_us", "xdp_pkts/s");
	uint32_t seq = 0;
	for (char *rs = strdup(rates), *tok = strtok(rs, ","); tok; tok = strtok(NULL, ",")) {
		double rate = atof(tok);
		pthread_t load;
		struct bs_enforce_thread *t = bs_enforce_thread_start(ring, dir, err, sizeof(err));
		if (!t) {
			fprintf(stderr, "start: %s\n", err);
			return 1;
		}
		__atomic_store_n(&load_stop, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&load_packets, 0, __ATOMIC_RELAXED);
		if (with_load)
			pthread_create(&load, NULL, packet_load, NULL);
		uint64_t start = bs_mono_ns(), end = start + (uint64_t)(seconds * 1e9), sent = 0;
		for (uint64_t now = start; now < end; now = bs_mono_ns()) {
			uint64_t due = (uint64_t)((double)(now - start) * rate / 1e9);
			for (; sent < due; sent++, seq++) {
				struct bs_verdict_msg m;
				char a[32];
				snprintf(a, sizeof(a), "10.%u.%u.%u", (seq >> 16) & 255, (seq >> 8) & 255, seq & 255);
				tu_session_msg(&m, a, (uint16_t)(1024 + seq % 60000), "198.51.100.25", 25, 60);
				m.t_detect_ns = bs_mono_ns();
				while (rte_ring_mp_enqueue_elem(ring, &m, sizeof(m)))
					;
			}
			struct timespec ts = {0, 20000};
			nanosleep(&ts, NULL);
		}
		uint64_t wall = bs_mono_ns() - start;
		__atomic_store_n(&load_stop, 1, __ATOMIC_RELAXED);
		if (with_load)
			pthread_join(load, NULL);
		uint64_t f[4] = {0};
		uint64_t p50 = bs_enforce_thread_latency(t, 0.5), p99 = bs_enforce_thread_latency(t, 0.99);
		bs_enforce_thread_stats(t, print_line, f);
		bs_enforce_thread_stop(t);
		printf("%-10.0f %9llu %9llu %8llu %10.1f %10.1f %10.1f %12.0f\n", rate, (unsigned long long)f[0],
		       (unsigned long long)f[1], (unsigned long long)f[2], (double)p50 / 1e3, (double)p99 / 1e3,
		       (double)f[3] / 1e3, (double)load_packets / ((double)wall / 1e9));
	}
	bs_enforcer_close(e);
	rte_ring_free(ring);
	rte_eal_cleanup();
	return 0;
}
