/* Sliding-window event counters keyed by a string (a home recipient, a
 * reporting MTA's address): bounces per key over the last window, to spot
 * floods (the seed documents' "DDoS" case), and the "legitimate source"
 * memory (a source that recently sent us legitimate mail).
 *
 * The estimate is the usual two-bucket sliding window: the previous fixed
 * window's count weighted by how much of it still overlaps the sliding
 * window, plus the current window's count. Memory: fixed set-associative
 * table (16-byte entries, 8 per bucket, oldest evicted), striped
 * spinlocks, safe from several lcores; nothing allocated after create. */
#ifndef BS_RATES_H
#define BS_RATES_H
#include <stdint.h>
#include <stddef.h>

struct bs_rates;

struct bs_rates *bs_rates_create(uint32_t capacity, uint32_t window_s, char *err, size_t errlen);
void bs_rates_destroy(struct bs_rates *r);
/* Counts one event for key at now_s; returns the windowed count including it. */
uint32_t bs_rates_hit(struct bs_rates *r, const void *key, size_t klen, uint32_t now_s);
/* The windowed count without adding an event. */
uint32_t bs_rates_peek(struct bs_rates *r, const void *key, size_t klen, uint32_t now_s);
uint32_t bs_rates_window(const struct bs_rates *r);
uint64_t bs_rates_evictions(const struct bs_rates *r);

#endif
