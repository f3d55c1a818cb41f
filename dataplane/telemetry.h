/* Live counters through DPDK telemetry: /backstop/stats (pipeline),
 * /backstop/detect (classifier), /backstop/enforcer (verdict delivery).
 * Read with `backstopctl stats` or DPDK's dpdk-telemetry.py against
 * /var/run/dpdk/<file-prefix>/dpdk_telemetry.v2. */
#ifndef BS_TELEMETRY_H
#define BS_TELEMETRY_H
#include "dispatch.h"
#include "enforce_thread.h"
#include "worker.h"

void bs_telemetry_register(struct bs_worker **workers, unsigned nworkers, struct bs_dispatcher *disp,
			   struct bs_detect *det, struct bs_enforce_thread *et);
/* Stops answering (before the objects behind the commands go away). */
void bs_telemetry_unregister(void);

#endif
