/* backstop: the dataplane. Sets up EAL, ports and lcores, runs the workers
 * (software dispatch from the main lcore when a port has one RX queue,
 * symmetric RSS when it has several), the event writer and the enforcer
 * thread, and prints the run summary. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_cycles.h>
#include <rte_random.h>
#include <rte_ring.h>
#include "config.h"
#include "dispatch.h"
#include "bench.h"
#include "enforce_thread.h"
#include "flow_key.h"
#include "event_writer.h"
#include "port.h"
#include "rfc2047.h"
#include "telemetry.h"
#include "stats.h"
#include "verdict_msg.h"
#include "worker.h"

#define MAX_EAL_ARGS 128

static void on_signal(int sig)
{
	(void)sig;
	bs_quit = true;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool has_arg(int argc, char **argv, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++)
			if (!strncmp(argv[i], *n, strlen(*n)))
				return true;
	return false;
}

static bool hugepages_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long total = 0;
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Total: %ld", &total) == 1)
			break;
	fclose(f);
	return total > 0;
}

/* Counts the frames of a capture, so replay knows when the PMD is done
 * (net_pcap just stops returning packets at end of file). */
static long pcap_count(const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, perr);
	struct pcap_pkthdr *h;
	const u_char *d;
	long n = 0;
	int r;
	if (!p) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return -1;
	}
	while ((r = pcap_next_ex(p, &h, &d)) == 1)
		n++;
	if (r == PCAP_ERROR)
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(p));
	pcap_close(p);
	return r == PCAP_ERROR ? -1 : n;
}

/* net_pcap in this DPDK does not pass the capture's timestamps on, and the
 * pipeline's clock (timeouts, event times) must be capture time. The PMD
 * delivers the file's frames in order, so a second libpcap reader walking
 * the same file in step stamps each mbuf with its frame's time. */
struct pcap_shadow {
	pcap_t *p;
	int dynfield;
	uint64_t dynflag;
};

static int shadow_open(struct pcap_shadow *sh, const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	sh->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!sh->p) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return -1;
	}
	if (rte_mbuf_dyn_rx_timestamp_register(&sh->dynfield, &sh->dynflag) != 0) {
		snprintf(err, errlen, "cannot register the mbuf timestamp field");
		return -1;
	}
	return 0;
}

static void shadow_stamp(struct pcap_shadow *sh, struct rte_mbuf **pkts, unsigned n)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	for (unsigned i = 0; i < n; i++) {
		if (pcap_next_ex(sh->p, &h, &d) != 1)
			return;
		*RTE_MBUF_DYNFIELD(pkts[i], sh->dynfield, rte_mbuf_timestamp_t *) =
			(uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
		pkts[i]->ol_flags |= sh->dynflag;
	}
}

/* Saves the outbound ledger now and then, off the packet path, so a crash
 * or power loss costs at most one interval of memory. */
struct ledger_saver {
	struct bs_detect *det;
	unsigned interval_s;
	pthread_t thread;
	volatile bool stop;
};

static void *ledger_saver_main(void *arg)
{
	struct ledger_saver *ls = arg;
	char err[512];
	for (unsigned t = 0; !ls->stop; t++) {
		sleep(1);
		if (t && t % ls->interval_s == 0 && bs_detect_save_ledger(ls->det, err, sizeof(err)) < 0)
			fprintf(stderr, "backstop: ledger: %s\n", err);
	}
	return NULL;
}

struct eal_args {
	int argc;
	char *argv[MAX_EAL_ARGS];
	char buf[8][PATH_MAX + 64];
	int nbuf;
};

static void eal_push(struct eal_args *e, const char *s)
{
	if (e->argc < MAX_EAL_ARGS - 1)
		e->argv[e->argc++] = (char *)s;
}

static void eal_pushf(struct eal_args *e, const char *fmt, const char *v)
{
	if (e->nbuf >= 8)
		return;
	snprintf(e->buf[e->nbuf], sizeof(e->buf[0]), fmt, v);
	eal_push(e, e->buf[e->nbuf++]);
}

/* The EAL arguments: the user's (before `--`), completed with what a
 * machine without hugepages and without a NIC for DPDK needs. */
static void build_eal_args(struct eal_args *e, int uargc, char **uargv, const struct bs_config *cfg)
{
	static const char *const mem_opts[] = {"--no-huge", "-m", "--socket-mem", "--huge-dir", NULL};
	static const char *const pci_opts[] = {"--no-pci", "-a", "--allow", "-b", "--block", NULL};
	static const char *const lcore_opts[] = {"-l", "-c", "--lcores", NULL};
	static const char *const prefix_opts[] = {"--file-prefix", NULL};
	static const char *const log_opts[] = {"--log-level", NULL};
	static const char *const tele_opts[] = {"--no-telemetry", "--telemetry", NULL};
	char pid[32];

	eal_push(e, uargv[0]);
	for (int i = 1; i < uargc; i++)
		eal_push(e, uargv[i]);
	if (!has_arg(uargc, uargv, mem_opts) && !hugepages_available()) {
		eal_push(e, "--no-huge");
		eal_push(e, "-m");
		eal_push(e, "512");
	}
	if (cfg->pcap && !has_arg(uargc, uargv, pci_opts))
		eal_push(e, "--no-pci");
	if (!has_arg(uargc, uargv, lcore_opts))
		eal_push(e, "-l0");
	if (!has_arg(uargc, uargv, prefix_opts)) {
		/* several replays may run side by side (tests): keep their files apart */
		snprintf(pid, sizeof(pid), "%d", getpid());
		eal_pushf(e, "--file-prefix=backstop%s", pid);
		eal_push(e, "--no-shconf");
	}
	if (!has_arg(uargc, uargv, log_opts))
		eal_push(e, "--log-level=warning");
	if (cfg->pcap && !has_arg(uargc, uargv, tele_opts))
		eal_push(e, "--no-telemetry");
	if (cfg->pcap && !cfg->bench_loops)
		eal_pushf(e, "--vdev=net_pcap_bs0,rx_pcap=%s", cfg->pcap);
	e->argv[e->argc] = NULL;
}

/* name/value pairs captured from a component before it is torn down */
struct kv_list {
	unsigned n;
	char name[48][48];
	uint64_t v[48];
};

static void kv_add(void *ctx, const char *name, uint64_t v)
{
	struct kv_list *l = ctx;
	if (l->n < 48) {
		snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
		l->v[l->n++] = v;
	}
}

struct summary_ctx {
	FILE *f;
	bool json;
	bool first;
};

static void summary_line(void *ctx, const char *name, uint64_t v)
{
	struct summary_ctx *s = ctx;
	if (s->json) {
		fprintf(s->f, "%s\"%s\":%" PRIu64, s->first ? "" : ",", name, v);
		s->first = false;
	} else if (v) {
		fprintf(s->f, "  %-32s %" PRIu64 "\n", name, v);
	}
}

static void print_summary(const struct bs_config *cfg, const struct bs_worker_stats *sum, unsigned nworkers,
			  double secs, struct bs_detect *det, const struct kv_list *enf, uint64_t events)
{
	if (!cfg->quiet) {
		struct summary_ctx s = {stderr, false, true};
		fprintf(stderr,
			"backstop: %s: %" PRIu64 " packets, %" PRIu64 " bytes, %" PRIu64 " flows, %" PRIu64
			" sessions, %" PRIu64 " transactions, %" PRIu64 " events, %u worker(s), %.3f s\n",
			cfg->pcap ? cfg->pcap : "live", sum->packets, sum->bytes, sum->flows_created, sum->sessions,
			sum->smtp.transactions, events, nworkers, secs);
		bs_stats_each(sum, summary_line, &s);
		if (det)
			bs_detect_print_stats(det, summary_line, &s);
		for (unsigned i = 0; i < enf->n; i++)
			summary_line(&s, enf->name[i], enf->v[i]);
	}
	if (cfg->summary_json) {
		FILE *f = fopen(cfg->summary_json, "w");
		if (!f) {
			fprintf(stderr, "backstop: %s: %s\n", cfg->summary_json, strerror(errno));
			return;
		}
		struct summary_ctx s = {f, true, true};
		fprintf(f, "{");
		summary_line(&s, "workers", nworkers);
		summary_line(&s, "events", events);
		bs_stats_each(sum, summary_line, &s);
		if (det)
			bs_detect_print_stats(det, summary_line, &s);
		for (unsigned i = 0; i < enf->n; i++)
			summary_line(&s, enf->name[i], enf->v[i]);
		fprintf(f, ",\"seconds\":%.6f}\n", secs);
		fclose(f);
	}
}

static uint64_t ports_received(void)
{
	uint64_t n = 0;
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		struct rte_eth_stats s;
		if (rte_eth_stats_get(pid, &s) == 0)
			n += s.ipackets + s.ierrors;
	}
	return n;
}

int main(int argc, char **argv)
{
	static struct bs_config cfg;
	static struct eal_args eal;
	static struct bs_dispatcher disp;
	struct bs_worker *workers[MAX_WORKERS];
	char err[1024];
	int uargc = 1, app_start = 1, rc = 1;
	long expect = -1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			uargc = i;
			app_start = i + 1;
			break;
		}
	/* app args: argv[0] + what follows `--` (or everything without `--`) */
	char **app_argv = calloc((size_t)(argc - app_start + 2), sizeof(char *));
	int app_argc = 0;
	app_argv[app_argc++] = argv[0];
	for (int i = app_start; i < argc; i++)
		app_argv[app_argc++] = argv[i];

	bs_config_defaults(&cfg);
	int pr = bs_config_parse(&cfg, app_argc, app_argv, err, sizeof(err));
	if (pr != 0) {
		if (pr < 0)
			fprintf(stderr, "backstop: %s\n", err);
		return pr > 0 ? 0 : 2;
	}
	if (cfg.pcap && (expect = pcap_count(cfg.pcap, err, sizeof(err))) < 0) {
		fprintf(stderr, "backstop: %s\n", err);
		return 2;
	}

	/* rules, policy and ledger first: a typo in a rule file is reported
	 * before any DPDK set-up, and nothing has to be torn down */
	struct bs_detect *det = NULL;
	if (!cfg.no_detect) {
		det = bs_detect_create(&cfg.det, err, sizeof(err));
		if (!det) {
			fprintf(stderr, "backstop: %s\n", err);
			return 2;
		}
	}

	build_eal_args(&eal, uargc, argv, &cfg);
	if (rte_eal_init(eal.argc, eal.argv) < 0) {
		fprintf(stderr, "backstop: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		if (det)
			bs_detect_destroy(det);
		return 2;
	}
	/* a per-run key keeps crafted 5-tuples from piling into one bucket or one worker */
	bs_flow_hash_seed(rte_rand());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct bs_enforce_thread *et = NULL;
	struct bs_event_writer *ew = NULL;
	struct rte_ring *events = NULL, *verdicts = NULL;
	struct rte_mempool *mp = NULL;
	unsigned nw = 0;
	uint64_t nevents = 0;

	struct pcap_shadow shadow = {NULL, -1, 0};
	struct bs_bench *bench = NULL;
	int bench_tsf = -1;
	uint64_t bench_tsflag = 0;
	if (cfg.bench_loops) {
		bench = bs_bench_load(cfg.pcap, cfg.bench_loops, &bench_tsf, &bench_tsflag, err, sizeof(err));
		if (!bench) {
			fprintf(stderr, "backstop: --bench: %s\n", err);
			goto out;
		}
	} else if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "backstop: no DPDK port (give --pcap FILE, or a --vdev/PCI device in the EAL args)\n");
		goto out;
	}

	/* lcores: the main lcore dispatches (or runs the only worker) */
	unsigned nlcores = rte_lcore_count();
	unsigned nworkers = nlcores > 1 ? nlcores - 1 : 1;
	uint16_t nports = rte_eth_dev_count_avail();
	bool inline_mode = nlcores == 1;
	bool rss_mode = !inline_mode && !cfg.pcap && nports == 1 && bs_port_max_rss_queues(0) >= nworkers;

	/* more mbufs than the worker rings and RX rings can hold together, so
	 * a full ring back-pressures the dispatcher instead of starving the PMD */
	unsigned nmbuf = rte_align32pow2(nports * 2048 + nworkers * (BS_WORKER_RING + 512) + 1024) - 1;
	mp = rte_pktmbuf_pool_create("bs_mbufs", nmbuf, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (!mp) {
		fprintf(stderr, "backstop: cannot create the mbuf pool (%u mbufs): %s\n", nmbuf, rte_strerror(rte_errno));
		goto out;
	}
	/* every transaction record fits in the ring, so enqueue never fails */
	events = rte_ring_create("bs_events", rte_align32pow2(cfg.txn_per_worker * nworkers + 1), rte_socket_id(),
				 RING_F_SC_DEQ);
	if (!events) {
		fprintf(stderr, "backstop: cannot create the event ring: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	if (cfg.enforce) {
		verdicts = rte_ring_create_elem("bs_verdicts", sizeof(struct bs_verdict_msg), 4096, rte_socket_id(),
						RING_F_SC_DEQ);
		if (!verdicts) {
			fprintf(stderr, "backstop: cannot create the verdict ring: %s\n", rte_strerror(rte_errno));
			goto out;
		}
		et = bs_enforce_thread_start(verdicts, cfg.bpf_pin, err, sizeof(err));
		if (!et) {
			fprintf(stderr, "backstop: enforcer: %s\n", err);
			goto out;
		}
	}
	for (nw = 0; nw < nworkers; nw++) {
		workers[nw] = bs_worker_create(nw, &cfg, det, events, verdicts, rte_socket_id(), err, sizeof(err));
		if (!workers[nw]) {
			fprintf(stderr, "backstop: %s\n", err);
			goto out;
		}
		workers[nw]->offline = cfg.pcap != NULL;
		workers[nw]->ts_dynfield = bench_tsf;
		workers[nw]->ts_dynflag = bench_tsflag;
	}
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		struct bs_port_info pi;
		if (bs_port_setup(pid, rss_mode ? (uint16_t)nworkers : 1, mp, !cfg.pcap, &pi, err, sizeof(err)) < 0) {
			fprintf(stderr, "backstop: %s\n", err);
			goto out;
		}
		if (cfg.pcap && pi.ts_dynfield < 0) {
			if (shadow_open(&shadow, cfg.pcap, err, sizeof(err)) < 0) {
				fprintf(stderr, "backstop: %s\n", err);
				goto out;
			}
			pi.ts_dynfield = shadow.dynfield;
			pi.ts_dynflag = shadow.dynflag;
		}
		for (unsigned i = 0; i < nworkers; i++) {
			workers[i]->ts_dynfield = pi.ts_dynfield;
			workers[i]->ts_dynflag = pi.ts_dynflag;
			workers[i]->port = pid;
			workers[i]->queue = (uint16_t)i;
		}
	}
	if (!inline_mode && !rss_mode)
		for (unsigned i = 0; i < nworkers; i++) {
			char name[RTE_RING_NAMESIZE];
			snprintf(name, sizeof(name), "bs_in%u", i);
			workers[i]->in = rte_ring_create(name, BS_WORKER_RING, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!workers[i]->in) {
				fprintf(stderr, "backstop: cannot create worker ring: %s\n", rte_strerror(rte_errno));
				goto out;
			}
		}
	ew = bs_event_writer_start(cfg.events, events, workers, nworkers, err, sizeof(err));
	if (!ew) {
		fprintf(stderr, "backstop: events: %s\n", err);
		goto out;
	}

	static struct ledger_saver saver;
	bool saver_running = false;
	if (det && cfg.det.ledger_path && !cfg.pcap) {
		saver.det = det;
		saver.interval_s = cfg.ledger_save_s;
		saver_running = rte_ctrl_thread_create(&saver.thread, "bs-ledger", NULL, ledger_saver_main, &saver) == 0;
	}
	disp.w = workers;
	disp.nw = nworkers;
	disp.offline = cfg.pcap != NULL;
	bs_telemetry_register(workers, nworkers, inline_mode || rss_mode ? NULL : &disp, det, et);
	if (inline_mode)
		bs_rfc2047_thread_init(); /* the main lcore is the worker: open its charset converters now */
	double t0 = now_s();
	uint64_t c0 = rte_rdtsc();
	if (!inline_mode) {
		unsigned lc, i = 0;
		RTE_LCORE_FOREACH_WORKER(lc) {
			if (i < nworkers)
				rte_eal_remote_launch(bs_worker_loop, workers[i++], lc);
		}
	}
	{
		struct rte_mbuf *pkts[BS_BURST];
		double last_progress = now_s();
		uint64_t last_seen = 0;
		unsigned main_idle = 0;
		while (!bs_quit) {
			unsigned got = 0;
			if (bench) {
				unsigned n = bs_bench_next(bench, pkts, BS_BURST);
				if (n == 0)
					break;
				if (inline_mode) {
					bs_worker_burst(workers[0], pkts, n);
					rte_pktmbuf_free_bulk(pkts, n);
					bs_worker_housekeeping(workers[0]);
				} else {
					bs_dispatch_burst(&disp, pkts, n);
				}
				continue;
			}
			if (!rss_mode) {
				RTE_ETH_FOREACH_DEV(pid) {
					unsigned n = rte_eth_rx_burst(pid, 0, pkts, BS_BURST);
					got += n;
					if (n == 0)
						continue;
					if (shadow.p)
						shadow_stamp(&shadow, pkts, n);
					if (inline_mode) {
						bs_worker_burst(workers[0], pkts, n);
						rte_pktmbuf_free_bulk(pkts, n);
					} else {
						bs_dispatch_burst(&disp, pkts, n);
					}
				}
				if (inline_mode) {
					bs_worker_tick(workers[0]);
					bs_worker_housekeeping(workers[0]);
				}
			} else {
				usleep(1000);
			}
			main_idle = got ? 0 : main_idle + 1;
			if (!cfg.pcap && cfg.idle_sleep_us && main_idle > 1024)
				rte_delay_us_sleep(cfg.idle_sleep_us);
			if (got == 0 && cfg.pcap) {
				/* replay ends when the PMD has handed over every frame of the file */
				uint64_t seen = ports_received();
				if (seen >= (uint64_t)expect)
					break;
				bool queued = false;
				for (unsigned i = 0; i < nworkers && !inline_mode; i++)
					queued |= !rte_ring_empty(workers[i]->in);
				if (seen != last_seen || queued) {
					/* progress, or workers still busy (they hold the mbufs
					 * the PMD needs): not a stalled port */
					last_seen = seen;
					last_progress = now_s();
				} else if (now_s() - last_progress > 5.0) {
					fprintf(stderr, "backstop: the capture port stopped after %" PRIu64 " of %ld frames\n",
						seen, expect);
					break;
				}
			}
		}
	}
	for (unsigned i = 0; i < nworkers; i++)
		atomic_store(&workers[i]->input_done, true);
	bs_telemetry_unregister();
	bs_quit = true; /* RSS-mode workers stop on it too */
	rte_eal_mp_wait_lcore();
	if (saver_running) {
		saver.stop = true;
		pthread_join(saver.thread, NULL);
	}
	for (unsigned i = 0; i < nworkers; i++)
		bs_worker_finish(workers[i]);
	double secs = now_s() - t0;
	uint64_t cycles = rte_rdtsc() - c0;
	if (bench) {
		double f = (double)bs_bench_frames(bench), by = (double)bs_bench_bytes(bench);
		fprintf(stderr, "bench: %u worker(s)%s, %.0f frames, %.0f bytes, %.3f s, %.3f Mpps, %.3f Gbit/s, "
		       "%.1f ns/frame, %.0f TSC cycles/frame (TSC %.2f GHz)\n",
		       nworkers, inline_mode ? " (inline)" : " + dispatcher", f, by, secs, f / secs / 1e6,
		       by * 8 / secs / 1e9, secs * 1e9 / f, (double)cycles / f, (double)rte_get_tsc_hz() / 1e9);
	}
	nevents = bs_event_writer_stop(ew);
	ew = NULL;

	struct bs_worker_stats sum;
	memset(&sum, 0, sizeof(sum));
	bs_stats_add(&sum, &disp.st);
	for (unsigned i = 0; i < nworkers; i++)
		bs_stats_add(&sum, &workers[i]->st);
	static struct kv_list enf;
	if (et) {
		/* let the thread apply what the workers queued, then read its figures */
		for (int i = 0; i < 1000 && !rte_ring_empty(verdicts); i++)
			usleep(1000);
		usleep(20000);
		bs_enforce_thread_stats(et, kv_add, &enf);
		bs_enforce_thread_stop(et);
		et = NULL;
	}
	print_summary(&cfg, &sum, nworkers, secs, det, &enf, nevents);
	rc = 0;
out:
	if (ew)
		bs_event_writer_stop(ew);
	if (et)
		bs_enforce_thread_stop(et);
	for (unsigned i = 0; i < nw; i++)
		bs_worker_free(workers[i]);
	if (det)
		bs_detect_destroy(det);
	bs_bench_free(bench);
	if (shadow.p)
		pcap_close(shadow.p);
	RTE_ETH_FOREACH_DEV(pid) {
		rte_eth_dev_stop(pid);
		rte_eth_dev_close(pid);
	}
	rte_ring_free(events);
	rte_ring_free(verdicts);
	rte_mempool_free(mp);
	free(app_argv);
	rte_eal_cleanup();
	return rc;
}
