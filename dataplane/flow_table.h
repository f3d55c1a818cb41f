/* Per-worker flow table: an rte_hash from the normalised flow key to a slot
 * in a fixed array of flow entries, plus two LRU lists (not yet established
 * or closing; established) so idle timeouts and eviction are O(1): the
 * oldest flow of a list is always its head. Single-threaded (one worker). */
#ifndef BS_FLOW_TABLE_H
#define BS_FLOW_TABLE_H
#include <stdint.h>
#include <stdbool.h>
#include "flow_key.h"
#include "reasm.h"

#define BS_NONE UINT32_MAX

enum bs_flow_list { BS_LRU_NEW = 0, BS_LRU_EST = 1, BS_LRU_CLOSED = 2, BS_LRU_N = 3 };

/* flow state bits */
enum {
	BS_FL_SYN = 1, BS_FL_SYNACK = 2, BS_FL_EST = 4, BS_FL_FIN_C = 8, BS_FL_FIN_S = 16,
	BS_FL_RST = 32, BS_FL_MIDSTREAM = 64, BS_FL_NOPARSE = 128,
};

/* 128 bytes: two cache lines per tracked connection (plus the rte_hash
 * entry). The SMTP session state lives elsewhere and only for flows that
 * carry payload. */
struct bs_flow {
	struct bs_flow_key key;        /* 40 */
	uint64_t flow_id;
	uint64_t first_ns, last_ns;
	struct bs_reasm_dir rd[2];     /* [0] client->server, [1] server->client */
	uint32_t sess;                 /* SMTP session slot or BS_NONE */
	uint32_t lru_prev, lru_next;
	uint8_t lru;                   /* enum bs_flow_list */
	uint8_t client_is_lo;          /* key.lo is the client */
	uint8_t state;                 /* BS_FL_* */
	uint8_t direction;             /* enum bs_direction */
};

struct bs_flow_table;

struct bs_flow_table *bs_flow_table_create(const char *name, uint32_t capacity, int socket);
void bs_flow_table_free(struct bs_flow_table *ft);
/* Returns the flow slot or BS_NONE. */
uint32_t bs_flow_lookup(struct bs_flow_table *ft, const struct bs_flow_key *k, uint32_t hash);
/* Inserts a new flow; when the table is full, the caller must first evict
 * (bs_flow_oldest + bs_flow_remove). Returns the slot or BS_NONE. */
uint32_t bs_flow_insert(struct bs_flow_table *ft, const struct bs_flow_key *k, uint32_t hash);
void bs_flow_remove(struct bs_flow_table *ft, uint32_t slot);
struct bs_flow *bs_flow_get(struct bs_flow_table *ft, uint32_t slot);
/* Moves the flow to the tail of list `l` (most recently used). */
void bs_flow_touch(struct bs_flow_table *ft, uint32_t slot, enum bs_flow_list l);
uint32_t bs_flow_oldest(const struct bs_flow_table *ft, enum bs_flow_list l);
uint32_t bs_flow_count(const struct bs_flow_table *ft);
bool bs_flow_full(const struct bs_flow_table *ft);

#endif
