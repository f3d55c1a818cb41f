/* Binary min-heap on expires_ns (see enforcer_expiry.h). */
#include <errno.h>
#include <stdlib.h>
#include "enforcer_expiry.h"

int bs_expiry_init(struct bs_expiry_heap *h, uint32_t cap)
{
	h->a = calloc(cap ? cap : 1, sizeof(*h->a));
	h->n = 0;
	h->cap = cap;
	h->overflow = 0;
	return h->a ? 0 : -ENOMEM;
}

void bs_expiry_free(struct bs_expiry_heap *h)
{
	free(h->a);
	h->a = NULL;
	h->n = h->cap = 0;
}

static void swap(struct bs_expiry_item *x, struct bs_expiry_item *y)
{
	struct bs_expiry_item t = *x;
	*x = *y;
	*y = t;
}

int bs_expiry_push(struct bs_expiry_heap *h, const struct bs_expiry_item *it)
{
	uint32_t i;

	if (h->n >= h->cap) {
		h->overflow++;
		return -ENOSPC;
	}
	i = h->n++;
	h->a[i] = *it;
	while (i && h->a[(i - 1) / 2].expires_ns > h->a[i].expires_ns) {
		swap(&h->a[(i - 1) / 2], &h->a[i]);
		i = (i - 1) / 2;
	}
	return 0;
}

const struct bs_expiry_item *bs_expiry_peek(const struct bs_expiry_heap *h)
{
	return h->n ? &h->a[0] : NULL;
}

void bs_expiry_pop(struct bs_expiry_heap *h)
{
	uint32_t i = 0;

	if (!h->n)
		return;
	h->a[0] = h->a[--h->n];
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->a[l].expires_ns < h->a[m].expires_ns)
			m = l;
		if (r < h->n && h->a[r].expires_ns < h->a[m].expires_ns)
			m = r;
		if (m == i)
			break;
		swap(&h->a[i], &h->a[m]);
		i = m;
	}
}
