/* Expiry queue of the bs_enforce library: a binary min-heap of (expiry,
 * map, key) for the entries this process wrote, so that sweeping touches
 * only what has expired instead of scanning kernel maps (a scan of a
 * 1M-bucket hash costs ~90 ms whatever it holds). Fixed capacity, no
 * allocation after init. */
#ifndef BS_ENFORCER_EXPIRY_H
#define BS_ENFORCER_EXPIRY_H
#include <stdint.h>
#include "enforcer.h"

struct bs_expiry_item {
	uint64_t expires_ns;
	uint32_t map_id;                 /* enum bs_map_id */
	uint32_t pad;
	union {
		struct bs_sess_key s;
		struct bs_lpm_key l;
	} key;
};

struct bs_expiry_heap {
	struct bs_expiry_item *a;
	uint32_t n, cap;
	uint64_t overflow;               /* pushes refused because full */
};

int bs_expiry_init(struct bs_expiry_heap *h, uint32_t cap);   /* 0 or -ENOMEM */
void bs_expiry_free(struct bs_expiry_heap *h);
int bs_expiry_push(struct bs_expiry_heap *h, const struct bs_expiry_item *it); /* 0 or -ENOSPC */
/* The earliest item, or NULL when empty. */
const struct bs_expiry_item *bs_expiry_peek(const struct bs_expiry_heap *h);
void bs_expiry_pop(struct bs_expiry_heap *h);
#endif
