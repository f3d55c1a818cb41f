#include "flow_table.h"
#include <rte_hash.h>
#include <rte_malloc.h>
#include <stdlib.h>
#include <string.h>

struct bs_flow_table {
	struct rte_hash *h;
	struct bs_flow *flows;
	uint32_t capacity, count;
	uint32_t head[BS_LRU_N], tail[BS_LRU_N];
};

_Static_assert(sizeof(struct bs_flow) <= 128, "flow entry grew past two cache lines");

struct bs_flow_table *bs_flow_table_create(const char *name, uint32_t capacity, int socket)
{
	struct bs_flow_table *ft = rte_zmalloc_socket("flow_table", sizeof(*ft), 64, socket);
	if (!ft)
		return NULL;
	struct rte_hash_parameters p = {
		.name = name,
		/* rte_hash needs some slack above the live count to insert reliably */
		.entries = capacity + capacity / 8 + 64,
		.key_len = sizeof(struct bs_flow_key),
		.hash_func = bs_flow_hash_fn, /* only used by rte_hash internals: the fast path passes the hash */
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	ft->h = rte_hash_create(&p);
	/* calloc of this size is an anonymous mapping: zeroed lazily, outside the EAL heap */
	ft->flows = calloc(p.entries, sizeof(struct bs_flow));
	if (!ft->h || !ft->flows) {
		bs_flow_table_free(ft);
		return NULL;
	}
	ft->capacity = capacity;
	for (int l = 0; l < BS_LRU_N; l++)
		ft->head[l] = ft->tail[l] = BS_NONE;
	return ft;
}

void bs_flow_table_free(struct bs_flow_table *ft)
{
	if (!ft)
		return;
	rte_hash_free(ft->h);
	free(ft->flows);
	rte_free(ft);
}

static void lru_unlink(struct bs_flow_table *ft, uint32_t slot)
{
	struct bs_flow *f = &ft->flows[slot];
	if (f->lru_prev != BS_NONE)
		ft->flows[f->lru_prev].lru_next = f->lru_next;
	else
		ft->head[f->lru] = f->lru_next;
	if (f->lru_next != BS_NONE)
		ft->flows[f->lru_next].lru_prev = f->lru_prev;
	else
		ft->tail[f->lru] = f->lru_prev;
}

static void lru_append(struct bs_flow_table *ft, uint32_t slot, enum bs_flow_list l)
{
	struct bs_flow *f = &ft->flows[slot];
	f->lru = (uint8_t)l;
	f->lru_next = BS_NONE;
	f->lru_prev = ft->tail[l];
	if (ft->tail[l] != BS_NONE)
		ft->flows[ft->tail[l]].lru_next = slot;
	else
		ft->head[l] = slot;
	ft->tail[l] = slot;
}

uint32_t bs_flow_lookup(struct bs_flow_table *ft, const struct bs_flow_key *k, uint32_t hash)
{
	int32_t r = rte_hash_lookup_with_hash(ft->h, k, hash);
	return r < 0 ? BS_NONE : (uint32_t)r;
}

uint32_t bs_flow_insert(struct bs_flow_table *ft, const struct bs_flow_key *k, uint32_t hash)
{
	if (ft->count >= ft->capacity)
		return BS_NONE;
	int32_t r = rte_hash_add_key_with_hash(ft->h, k, hash);
	if (r < 0)
		return BS_NONE;
	struct bs_flow *f = &ft->flows[r];
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->sess = BS_NONE;
	lru_append(ft, (uint32_t)r, BS_LRU_NEW);
	ft->count++;
	return (uint32_t)r;
}

void bs_flow_remove(struct bs_flow_table *ft, uint32_t slot)
{
	struct bs_flow *f = &ft->flows[slot];
	lru_unlink(ft, slot);
	rte_hash_del_key_with_hash(ft->h, &f->key, bs_flow_hash(&f->key));
	ft->count--;
}

struct bs_flow *bs_flow_get(struct bs_flow_table *ft, uint32_t slot)
{
	return &ft->flows[slot];
}

void bs_flow_touch(struct bs_flow_table *ft, uint32_t slot, enum bs_flow_list l)
{
	if (ft->tail[l] == slot)
		return;
	lru_unlink(ft, slot);
	lru_append(ft, slot, l);
}

uint32_t bs_flow_oldest(const struct bs_flow_table *ft, enum bs_flow_list l)
{
	return ft->head[l];
}

uint32_t bs_flow_count(const struct bs_flow_table *ft)
{
	return ft->count;
}

bool bs_flow_full(const struct bs_flow_table *ft)
{
	return ft->count >= ft->capacity;
}
