/* Flow key normalised so both directions of a TCP connection meet in one
 * flow, and a symmetric hash over it (same value for both directions) used
 * for software dispatch to workers and as the rte_hash signature. */
#ifndef BS_FLOW_KEY_H
#define BS_FLOW_KEY_H
#include <stdint.h>
#include <stdbool.h>
#include "pkt_parse.h"

struct bs_flow_key {
	uint8_t lo_addr[16];   /* the (addr, port) endpoint that compares lower */
	uint8_t hi_addr[16];
	uint16_t lo_port, hi_port;
	uint8_t proto;
	uint8_t pad[3];        /* always zero: the key is hashed/compared as bytes */
} __attribute__((packed, aligned(4)));

/* Fills `k` from a parsed packet. Returns true when the packet's source is
 * the `lo` endpoint (so callers know which side sent it). */
bool bs_flow_key_from_pkt(const struct bs_pkt *p, struct bs_flow_key *k);

/* Symmetric hash: equal for both directions (the key is already normalised,
 * so this is a plain hash of the key bytes). Keyed: five 64-bit words of the
 * key are folded with 64x64->128-bit multiplies against a secret, so an
 * outsider who can choose ports and addresses cannot aim many flows at one
 * hash bucket without knowing the seed. About 15 cycles; no tables. */
uint32_t bs_flow_hash(const struct bs_flow_key *k);

/* Sets the hash secret (process-wide). Call once before workers start, e.g.
 * with getrandom(); the default is a fixed value so runs are reproducible.
 * All workers and the dispatcher must hash with the same seed. */
void bs_flow_hash_seed(uint64_t seed);

/* The same hash with rte_hash_function's signature (rte_hash_parameters
 * .hash_func), so the table's signature equals the dispatch hash. key_len
 * must be sizeof(struct bs_flow_key); init_val is mixed in. */
uint32_t bs_flow_hash_fn(const void *key, uint32_t key_len, uint32_t init_val);

_Static_assert(sizeof(struct bs_flow_key) == 40, "flow key is hashed as five 64-bit words");

#endif
