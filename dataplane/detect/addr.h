/* Address, domain and network helpers shared by the classifier parts:
 * splitting and normalising mail addresses, home-domain and home-network
 * membership, and the keyed 64-bit hash used by the ledger and rate tables
 * (SipHash-2-4, so that an attacker who controls addresses cannot aim
 * collisions at a table whose key he does not know). */
#ifndef BS_ADDR_H
#define BS_ADDR_H
#include <stdint.h>
#include "../netset.h"
#include <stddef.h>
#include <stdbool.h>

#define BS_DOMAIN_MAX 256

/* SipHash-2-4 of p[0..n) under a 128-bit key. */
uint64_t bs_siphash(const uint64_t key[2], const void *p, size_t n);

/* Copies the bare address out of a header value or path: "Name <a@b>",
 * "<a@b>", "a@b (comment)", "a@b". Lower-cases the domain part. Returns
 * its length, 0 when no address is found (out = ""). */
size_t bs_addr_extract(const char *s, size_t n, char *out, size_t outlen);
/* Domain of an address (after the last '@'), or NULL. */
const char *bs_addr_domain(const char *addr);
/* Case-insensitive equality of two addresses (local part compared
 * case-insensitively too: what real mailbox providers do). */
bool bs_addr_eq(const char *a, const char *b);

/* A small set of domains: exact match or any subdomain of a listed domain. */
struct bs_domset {
	int n;
	char names[64][BS_DOMAIN_MAX];
};
/* Returns -1 and fills err on a malformed domain. */
int bs_domset_add(struct bs_domset *s, const char *domain, char *err, size_t errlen);
bool bs_domset_match(const struct bs_domset *s, const char *domain, size_t len);

/* CIDR sets: struct bs_netset from the pipeline (dataplane/netset.h). */
/* Parses a literal IPv4 or IPv6 address (no prefix) of length n. */
bool bs_ip_parse(const char *s, size_t n, uint8_t out[16]);

/* Case-insensitive search of a needle in a length-bounded haystack. */
const char *bs_memcasemem(const char *hay, size_t hn, const char *needle, size_t nn);

#endif
