#include "netset.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int bs_prefix_parse(const char *s, struct bs_prefix *out, char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long plen = -1;

	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(err, errlen, "'%s': not an address", s);
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (slash) {
		char *end;
		plen = strtol(slash + 1, &end, 10);
		if (slash[1] == 0 || *end != 0 || plen < 0) {
			snprintf(err, errlen, "'%s': bad prefix length", s);
			return -1;
		}
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr + 12) == 1) {
		if (plen > 32) {
			snprintf(err, errlen, "'%s': IPv4 prefix length must be 0..32", s);
			return -1;
		}
		memcpy(out->addr, v4mapped, 12);
		out->len = (uint8_t)(96 + (plen < 0 ? 32 : plen));
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		if (plen > 128) {
			snprintf(err, errlen, "'%s': IPv6 prefix length must be 0..128", s);
			return -1;
		}
		out->len = (uint8_t)(plen < 0 ? 128 : plen);
	} else {
		snprintf(err, errlen, "'%s': not an IPv4 or IPv6 address", s);
		return -1;
	}
	/* clear host bits so lookups can compare whole bytes */
	for (unsigned i = out->len; i < 128; i++)
		out->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	return 0;
}

int bs_netset_add(struct bs_netset *ns, const char *cidr, char *err, size_t errlen)
{
	if (ns->n >= BS_NETSET_MAX) {
		snprintf(err, errlen, "too many prefixes (max %d)", BS_NETSET_MAX);
		return -1;
	}
	if (bs_prefix_parse(cidr, &ns->p[ns->n], err, errlen) < 0)
		return -1;
	ns->n++;
	return 0;
}

static bool prefix_match(const struct bs_prefix *p, const uint8_t a[16])
{
	unsigned full = p->len / 8, rem = p->len % 8;

	if (memcmp(p->addr, a, full))
		return false;
	if (rem == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rem);
	return (a[full] & mask) == p->addr[full];
}

bool bs_netset_contains(const struct bs_netset *ns, const uint8_t addr[16])
{
	for (uint32_t i = 0; i < ns->n; i++)
		if (prefix_match(&ns->p[i], addr))
			return true;
	return false;
}

void bs_addr_format(const uint8_t addr[16], char *buf, size_t len)
{
	if (!memcmp(addr, v4mapped, 12))
		inet_ntop(AF_INET, addr + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
}
