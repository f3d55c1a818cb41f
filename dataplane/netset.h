/* A small set of IPv4/IPv6 prefixes (HOME_NET). Addresses are 16 bytes,
 * IPv4 mapped as ::ffff:a.b.c.d, so one lookup serves both families.
 * Lookups are a linear scan over a handful of prefixes: HOME_NET is short,
 * and the result is computed once per flow, not per packet. */
#ifndef BS_NETSET_H
#define BS_NETSET_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define BS_NETSET_MAX 256

struct bs_prefix {
	uint8_t addr[16];
	uint8_t len;          /* 0..128 in the mapped space */
};

struct bs_netset {
	uint32_t n;
	struct bs_prefix p[BS_NETSET_MAX];
};

/* Parses "a.b.c.d[/n]" or "x::y[/n]" (a missing length means a host).
 * Returns 0, or -1 with a reason in err. */
int bs_prefix_parse(const char *s, struct bs_prefix *out, char *err, size_t errlen);
int bs_netset_add(struct bs_netset *ns, const char *cidr, char *err, size_t errlen);
bool bs_netset_contains(const struct bs_netset *ns, const uint8_t addr[16]);
/* Formats a mapped address as dotted IPv4 or RFC 5952 IPv6. */
void bs_addr_format(const uint8_t addr[16], char *buf, size_t len);

#endif
