/* Addresses and prefixes in the enforcer's 16-byte format (IPv4 mapped as
 * ::ffff:a.b.c.d), as operators type them and as the CLI prints them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "enforcer_user.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int bs_addr_is_v4mapped(const uint8_t addr[16])
{
	return !memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix));
}

int bs_parse_addr(const char *s, uint8_t addr[16], uint8_t *ip_ver)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(addr, v4mapped_prefix, 12);
		memcpy(addr + 12, &a4, 4);
		*ip_ver = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(addr, &a6, 16);
		/* an IPv4-mapped IPv6 literal is the IPv4 host it maps */
		*ip_ver = bs_addr_is_v4mapped(addr) ? 4 : 6;
		return 0;
	}
	return -EINVAL;
}

void bs_mask_addr(uint8_t addr[16], uint8_t ip_ver, uint8_t prefix_len)
{
	unsigned bits = (ip_ver == 4 ? 96u : 0u) + prefix_len;

	for (unsigned i = 0; i < 16; i++) {
		unsigned first = i * 8;
		if (bits <= first)
			addr[i] = 0;
		else if (bits < first + 8)
			addr[i] &= (uint8_t)(0xff00u >> (bits - first));
	}
}

int bs_parse_prefix(const char *s, uint8_t addr[16], uint8_t *ip_ver, uint8_t *prefix_len,
		    char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, len;
	uint8_t masked[16];

	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(err, errlen, "malformed prefix '%s': expected ADDRESS or ADDRESS/LENGTH", s);
		return -EINVAL;
	}
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (bs_parse_addr(buf, addr, ip_ver)) {
		snprintf(err, errlen, "malformed prefix '%s': '%s' is not an IPv4 or IPv6 address", s, buf);
		return -EINVAL;
	}
	max = *ip_ver == 4 ? 32 : 128;
	if (!slash) {
		*prefix_len = (uint8_t)max;
		return 0;
	}
	char *endp;
	errno = 0;
	unsigned long l = strtoul(slash + 1, &endp, 10);
	if (!slash[1] || *endp || errno || slash[1] == '-' || slash[1] == '+' || l > max) {
		snprintf(err, errlen, "malformed prefix '%s': length must be 0..%u", s, max);
		return -EINVAL;
	}
	len = (unsigned)l;
	memcpy(masked, addr, 16);
	bs_mask_addr(masked, *ip_ver, (uint8_t)len);
	if (memcmp(masked, addr, 16)) {
		char shown[INET6_ADDRSTRLEN];
		bs_format_addr(masked, shown, sizeof(shown));
		snprintf(err, errlen, "malformed prefix '%s': host bits set (did you mean %s/%u?)", s, shown, len);
		return -EINVAL;
	}
	*prefix_len = (uint8_t)len;
	return 0;
}

void bs_format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	if (bs_addr_is_v4mapped(addr))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}

uint64_t bs_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
