/* The enforcer thread: the only place where the dataplane calls into the
 * kernel for verdicts. Workers enqueue struct bs_verdict_msg *values* on a
 * ring (rte_ring_create_elem with esize sizeof(struct bs_verdict_msg),
 * multi-producer, single consumer); this control thread (not an EAL lcore)
 * dequeues them in bursts, writes them into the XDP enforcer's pinned maps
 * in batches, retries and counts failures, sweeps expired entries
 * periodically, and measures verdict latency: CLOCK_MONOTONIC at the
 * completed map update minus m->t_detect_ns. */
#ifndef BS_ENFORCE_THREAD_H
#define BS_ENFORCE_THREAD_H
#include <stddef.h>
#include <stdint.h>

struct rte_ring;
struct bs_enforce_thread;

/* Opens the maps under pin_dir (NULL: $BACKSTOP_BPF_PIN or
 * /sys/fs/bpf/backstop, created if needed) and starts the thread. */
struct bs_enforce_thread *bs_enforce_thread_start(struct rte_ring *ring, const char *pin_dir, char *err,
						  size_t errlen);
/* Drains the ring (everything enqueued before the call is applied), joins
 * the thread, closes the maps and frees t. */
void bs_enforce_thread_stop(struct bs_enforce_thread *t);
/* Reports counters and latency figures as name/value lines: verdicts_applied,
 * verdicts_rejected, verdicts_failed, map_full, apply_retries, apply_batches,
 * sweeps, entries_swept, latency_samples, latency_p50_ns, latency_p99_ns,
 * latency_max_ns. Safe to call while the thread runs. */
void bs_enforce_thread_stats(struct bs_enforce_thread *t, void (*line)(void *ctx, const char *name, uint64_t v),
			     void *ctx);
/* Verdict latency quantile q (0..1) in ns from the histogram (about 6%
 * resolution); 0 before the first sample. */
uint64_t bs_enforce_thread_latency(struct bs_enforce_thread *t, double q);

#endif
