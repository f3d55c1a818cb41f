/* The enforcer thread (see enforce_thread.h). It runs on a control core:
 * it may sleep and make syscalls; the workers that feed it never do. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include "enforce_thread.h"
#include "enforcer_user.h"
#include "verdict_msg.h"

_Static_assert(sizeof(struct bs_verdict_msg) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

#define BURST          64                /* verdicts per dequeue and map batch */
#define MAX_TRIES      4                 /* per verdict, for transient kernel errors */
#define SWEEP_EVERY_NS 100000000ull      /* expired entries are removed within 100 ms */
#define SWEEP_BUDGET   256               /* entries per sweep step: bounds the pause */
#define TRACK_MAX      (1u << 21)        /* expiry queue items (~56 bytes each) */
#define IDLE_SLEEP_NS  20000             /* idle poll period: bounds the added latency */
#define LAT_BUCKETS    512               /* log-linear: 8 sub-buckets per power of two */

struct bs_enforce_thread {
	struct rte_ring *ring;
	struct bs_enforcer *enf;
	pthread_t tid;
	int stop;                            /* atomic */
	/* written by the thread only; read anywhere with relaxed atomics */
	uint64_t applied, rejected, failed, map_full, retries, batches, sweeps, swept, sweep_errors;
	uint64_t lat_max, lat_n;
	int sched;                           /* 2: SCHED_FIFO, 1: nice -10, 0: as created */
	uint64_t lat[LAT_BUCKETS];
};

#define BUMP(x, v) __atomic_store_n(&(x), (x) + (v), __ATOMIC_RELAXED)
#define READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static unsigned lat_bucket(uint64_t v)
{
	if (v < 8)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb - 2) * 8 + (unsigned)((v >> (msb - 3)) & 7);
}

/* Middle of a bucket's range. */
static uint64_t lat_value(unsigned b)
{
	if (b < 8)
		return b;
	unsigned msb = b / 8 + 2, sub = b % 8;
	uint64_t lo = (1ull << msb) | ((uint64_t)sub << (msb - 3));
	return lo + ((1ull << (msb - 3)) >> 1);
}

static void record_latency(struct bs_enforce_thread *t, const struct bs_verdict_msg *m, unsigned n, uint64_t done)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t d;
		if (!m[i].t_detect_ns || m[i].t_detect_ns > done)
			continue; /* no timestamp, or not from this clock */
		d = done - m[i].t_detect_ns;
		BUMP(t->lat[lat_bucket(d)], 1);
		BUMP(t->lat_n, 1);
		if (d > t->lat_max)
			__atomic_store_n(&t->lat_max, d, __ATOMIC_RELAXED);
	}
}

static void apply_burst(struct bs_enforce_thread *t, const struct bs_verdict_msg *m, unsigned n)
{
	char err[256];
	unsigned off = 0;
	int tries = 0;

	BUMP(t->batches, 1);
	while (off < n) {
		int r = bs_enforcer_apply(t->enf, m + off, n - off, err, sizeof(err));
		int why = errno;
		if (r > 0) {
			record_latency(t, m + off, (unsigned)r, bs_mono_ns());
			BUMP(t->applied, (uint64_t)r);
			off += (unsigned)r;
			tries = 0;
		}
		if (off >= n)
			break;
		/* m[off] failed */
		if (why == EINVAL) {
			BUMP(t->rejected, 1);   /* a bad message: retrying cannot help */
			off++;
		} else if (why == ENOSPC) {
			BUMP(t->map_full, 1);   /* full even after sweeping */
			BUMP(t->failed, 1);
			off++;
		} else if (++tries >= MAX_TRIES) {
			BUMP(t->failed, 1);
			off++;
			tries = 0;
		} else {
			struct timespec ts = {0, 50000L << tries};
			BUMP(t->retries, 1);
			nanosleep(&ts, NULL);
		}
	}
}

static unsigned drain_once(struct bs_enforce_thread *t)
{
	struct bs_verdict_msg m[BURST];
	unsigned n = rte_ring_dequeue_burst_elem(t->ring, m, sizeof(m[0]), BURST, NULL);

	if (n)
		apply_burst(t, m, n);
	return n;
}

static void *enforce_main(void *arg)
{
	struct bs_enforce_thread *t = arg;
	uint64_t next_sweep = bs_mono_ns() + SWEEP_EVERY_NS;
	struct timespec idle = {0, IDLE_SLEEP_NS};

	/* the idle sleep is short; without this the kernel may stretch it by
	 * its default 50 us timer slack */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* a verdict waits for this thread to be scheduled: on a busy box that
	 * is most of the latency. It sleeps most of the time and does bounded
	 * work per wake-up (one burst, one sweep step), so a low real-time
	 * priority is safe (and RT throttling still applies); without the
	 * privilege, a better nice value */
	struct sched_param sp = {.sched_priority = 1};
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0)
		t->sched = 2;
	else if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10) == 0)
		t->sched = 1;
	/* leftovers of a previous run are not in our expiry queue: one full
	 * scan now (verdicts wait in the ring meanwhile) */
	if (bs_enforcer_sweep_all(t->enf, bs_mono_ns()) >= 0)
		BUMP(t->sweeps, 1);
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		if (drain_once(t))
			continue;
		uint64_t now = bs_mono_ns();
		if (now >= next_sweep) {
			int r = bs_enforcer_sweep_some(t->enf, now, SWEEP_BUDGET);
			BUMP(t->sweeps, 1);
			if (r >= 0)
				BUMP(t->swept, (uint64_t)r);
			else
				BUMP(t->sweep_errors, 1);
			/* a full step means more may be due: go on after the ring */
			next_sweep = r == SWEEP_BUDGET ? now : now + SWEEP_EVERY_NS;
			continue;
		}
		nanosleep(&idle, NULL);
	}
	while (drain_once(t))
		;
	return NULL;
}

struct bs_enforce_thread *bs_enforce_thread_start(struct rte_ring *ring, const char *pin_dir, char *err,
						  size_t errlen)
{
	struct bs_enforce_thread *t;
	int r;

	if (!ring) {
		snprintf(err, errlen, "enforcer thread: no verdict ring");
		return NULL;
	}
	if (rte_ring_get_size(ring) == 0) {
		snprintf(err, errlen, "enforcer thread: verdict ring has no room");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "enforcer thread: out of memory");
		return NULL;
	}
	t->ring = ring;
	t->enf = bs_enforcer_open(pin_dir && *pin_dir ? pin_dir : NULL, err, errlen);
	if (!t->enf) {
		free(t);
		return NULL;
	}
	uint64_t cap = (uint64_t)bs_enforcer_map_size(t->enf, BS_MAPID_SESSIONS) +
		       bs_enforcer_map_size(t->enf, BS_MAPID_SRC_DROP) + bs_enforcer_map_size(t->enf, BS_MAPID_SRC_SHAPE);
	if (bs_enforcer_track_expiry(t->enf, cap < TRACK_MAX ? (uint32_t)cap : TRACK_MAX, err, errlen)) {
		bs_enforcer_close(t->enf);
		free(t);
		return NULL;
	}
	r = rte_ctrl_thread_create(&t->tid, "bs-enforce", NULL, enforce_main, t);
	if (r) {
		snprintf(err, errlen, "enforcer thread: cannot start: %s", strerror(r < 0 ? -r : r));
		bs_enforcer_close(t->enf);
		free(t);
		return NULL;
	}
	return t;
}

void bs_enforce_thread_stop(struct bs_enforce_thread *t)
{
	if (!t)
		return;
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	pthread_join(t->tid, NULL);
	bs_enforcer_close(t->enf);
	free(t);
}

uint64_t bs_enforce_thread_latency(struct bs_enforce_thread *t, double q)
{
	uint64_t n = READ(t->lat_n), want, seen = 0;

	if (!n)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	for (unsigned b = 0; b < LAT_BUCKETS; b++) {
		seen += READ(t->lat[b]);
		if (seen > want)
			return lat_value(b);
	}
	return READ(t->lat_max);
}

void bs_enforce_thread_stats(struct bs_enforce_thread *t, void (*line)(void *ctx, const char *name, uint64_t v),
			     void *ctx)
{
	line(ctx, "verdicts_applied", READ(t->applied));
	line(ctx, "verdicts_rejected", READ(t->rejected));
	line(ctx, "verdicts_failed", READ(t->failed));
	line(ctx, "map_full", READ(t->map_full));
	line(ctx, "apply_retries", READ(t->retries));
	line(ctx, "apply_batches", READ(t->batches));
	line(ctx, "sweeps", READ(t->sweeps));
	line(ctx, "entries_swept", READ(t->swept));
	line(ctx, "sweep_errors", READ(t->sweep_errors));
	line(ctx, "expiry_untracked", bs_enforcer_expiry_overflow(t->enf));
	line(ctx, "evicted_before_expiry", bs_enforcer_vanished(t->enf));
	line(ctx, "sched_priority", (uint64_t)t->sched);
	line(ctx, "latency_samples", READ(t->lat_n));
	line(ctx, "latency_p50_ns", bs_enforce_thread_latency(t, 0.50));
	line(ctx, "latency_p99_ns", bs_enforce_thread_latency(t, 0.99));
	line(ctx, "latency_max_ns", READ(t->lat_max));
}
