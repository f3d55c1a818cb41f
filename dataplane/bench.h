/* Replay from memory (--bench N): the capture is loaded into mbufs once,
 * then fed through the same dispatch/worker path N times, so the figures
 * measure the pipeline, not libpcap or the disk. Used by perf/. */
#ifndef BS_BENCH_H
#define BS_BENCH_H
#include <stdint.h>
#include <stddef.h>
#include <rte_mbuf.h>

struct bs_bench;

struct bs_bench *bs_bench_load(const char *pcap, unsigned loops, int *ts_dynfield, uint64_t *ts_dynflag,
			       char *err, size_t errlen);
/* Next frames (their refcount is raised so the workers' free keeps them);
 * returns 0 when every loop has been fed. */
unsigned bs_bench_next(struct bs_bench *b, struct rte_mbuf **pkts, unsigned max);
uint64_t bs_bench_frames(const struct bs_bench *b);
uint64_t bs_bench_bytes(const struct bs_bench *b);
void bs_bench_free(struct bs_bench *b);

#endif
