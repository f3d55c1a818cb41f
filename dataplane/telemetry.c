#include "telemetry.h"
#include <stdatomic.h>
#include <string.h>
#include <rte_telemetry.h>

/* The counters are plain uint64_t written by one lcore each: reading them
 * from the telemetry thread may see a value a few packets old, never a torn
 * one (aligned 64-bit loads). */
static struct {
	struct bs_worker **w;
	unsigned nw;
	struct bs_dispatcher *disp;
	struct bs_detect *det;
	struct bs_enforce_thread *et;
	atomic_bool live;
} tel;

static void put(void *ctx, const char *name, uint64_t v)
{
	rte_tel_data_add_dict_u64(ctx, name, v);
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct bs_worker_stats sum;
	if (!atomic_load(&tel.live))
		return -1;
	memset(&sum, 0, sizeof(sum));
	if (tel.disp)
		bs_stats_add(&sum, &tel.disp->st);
	for (unsigned i = 0; i < tel.nw; i++)
		bs_stats_add(&sum, &tel.w[i]->st);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "workers", tel.nw);
	bs_stats_each(&sum, put, d);
	return 0;
}

static int cmd_detect(const char *cmd, const char *params, struct rte_tel_data *d)
{
	if (!atomic_load(&tel.live) || !tel.det)
		return -1;
	rte_tel_data_start_dict(d);
	bs_detect_print_stats(tel.det, put, d);
	return 0;
}

static int cmd_enforcer(const char *cmd, const char *params, struct rte_tel_data *d)
{
	if (!atomic_load(&tel.live) || !tel.et)
		return -1;
	rte_tel_data_start_dict(d);
	bs_enforce_thread_stats(tel.et, put, d);
	return 0;
}

void bs_telemetry_register(struct bs_worker **workers, unsigned nworkers, struct bs_dispatcher *disp,
			   struct bs_detect *det, struct bs_enforce_thread *et)
{
	tel.w = workers;
	tel.nw = nworkers;
	tel.disp = disp;
	tel.det = det;
	tel.et = et;
	atomic_store(&tel.live, true);
	/* registration fails only when telemetry is off (--no-telemetry): fine */
	rte_telemetry_register_cmd("/backstop/stats", cmd_stats, "Pipeline counters summed over workers");
	rte_telemetry_register_cmd("/backstop/detect", cmd_detect, "Detection and classifier counters");
	rte_telemetry_register_cmd("/backstop/enforcer", cmd_enforcer,
				   "Verdict delivery counters and latency (p50/p99 ns)");
}

void bs_telemetry_unregister(void)
{
	atomic_store(&tel.live, false);
}
