/* Sliding-window counters; see rates.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include "rates.h"
#include "addr.h"
#include "spin.h"

#define RATE_WAYS 8
#define RATE_STRIPES 1024u

struct rate_entry {
	uint64_t key;        /* 0 = empty */
	uint32_t win_start;  /* start of the current fixed window (seconds) */
	uint16_t prev, cur;  /* counts of the previous and current window, saturating */
};

struct rate_bucket { struct rate_entry e[RATE_WAYS]; } __attribute__((aligned(64)));

struct bs_rates {
	uint64_t hkey[2];
	uint32_t window_s;
	uint32_t bucket_mask;
	struct rate_bucket *b;
	uint64_t evictions;
	bs_spin_t locks[RATE_STRIPES];
};

struct bs_rates *bs_rates_create(uint32_t capacity, uint32_t window_s, char *err, size_t errlen)
{
	if (window_s == 0 || capacity == 0 || capacity > (1u << 28)) {
		snprintf(err, errlen, "rate table: window must be > 0 and capacity 1..2^28 (got %u s, %u)",
			 window_s, capacity);
		return NULL;
	}
	uint32_t nb = 1;
	while ((uint64_t)nb * RATE_WAYS < capacity)
		nb <<= 1;
	struct bs_rates *r = calloc(1, sizeof *r);
	if (!r || !(r->b = aligned_alloc(64, (size_t)nb * sizeof(struct rate_bucket)))) {
		free(r);
		snprintf(err, errlen, "rate table: out of memory");
		return NULL;
	}
	memset(r->b, 0, (size_t)nb * sizeof(struct rate_bucket));
	r->bucket_mask = nb - 1;
	r->window_s = window_s;
	if (getrandom(r->hkey, sizeof r->hkey, 0) != sizeof r->hkey) {
		r->hkey[0] = 0x243f6a8885a308d3ULL ^ (uint64_t)getpid();
		r->hkey[1] = 0x13198a2e03707344ULL;
	}
	return r;
}

void bs_rates_destroy(struct bs_rates *r)
{
	if (!r)
		return;
	free(r->b);
	free(r);
}

uint32_t bs_rates_window(const struct bs_rates *r) { return r->window_s; }
uint64_t bs_rates_evictions(const struct bs_rates *r) { return __atomic_load_n(&r->evictions, __ATOMIC_RELAXED); }

/* Moves e's fixed window forward to the one containing now. */
static void roll(const struct bs_rates *r, struct rate_entry *e, uint32_t now)
{
	if (now < e->win_start || now - e->win_start < r->window_s)
		return;
	uint32_t elapsed = now - e->win_start;
	e->prev = elapsed < 2 * r->window_s ? e->cur : 0;
	e->cur = 0;
	e->win_start = now - elapsed % r->window_s;
}

static uint32_t estimate(const struct bs_rates *r, const struct rate_entry *e, uint32_t now)
{
	uint32_t into = now > e->win_start ? now - e->win_start : 0;
	uint64_t prev_part = (uint64_t)e->prev * (r->window_s - into) / r->window_s;
	return (uint32_t)(prev_part + e->cur);
}

static uint32_t op(struct bs_rates *r, const void *key, size_t klen, uint32_t now, int add)
{
	uint64_t k = bs_siphash(r->hkey, key, klen) | 1;
	uint32_t bi = (uint32_t)(k >> 32) & r->bucket_mask;
	struct rate_bucket *b = &r->b[bi];
	bs_spin_t *lk = &r->locks[bi % RATE_STRIPES];
	uint32_t est = 0;
	int evicted = 0;
	bs_spin_lock(lk);
	struct rate_entry *hit = NULL, *victim = NULL;
	for (int i = 0; i < RATE_WAYS; i++) {
		struct rate_entry *e = &b->e[i];
		if (e->key == k) {
			hit = e;
			break;
		}
		/* empty slots first, else the least recently active */
		if (!victim || (victim->key != 0 && (e->key == 0 || e->win_start < victim->win_start)))
			victim = e;
	}
	if (!hit && add) {
		evicted = victim->key != 0 && now - victim->win_start < 2 * r->window_s;
		hit = victim;
		hit->key = k;
		hit->win_start = now;
		hit->prev = hit->cur = 0;
	}
	if (hit) {
		roll(r, hit, now);
		if (add && hit->cur < UINT16_MAX)
			hit->cur++;
		est = estimate(r, hit, now);
	}
	bs_spin_unlock(lk);
	if (evicted)
		__atomic_fetch_add(&r->evictions, 1, __ATOMIC_RELAXED);
	return est;
}

uint32_t bs_rates_hit(struct bs_rates *r, const void *key, size_t klen, uint32_t now_s)
{
	return op(r, key, klen, now_s, 1);
}

uint32_t bs_rates_peek(struct bs_rates *r, const void *key, size_t klen, uint32_t now_s)
{
	return op(r, key, klen, now_s, 0);
}
