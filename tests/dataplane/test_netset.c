/* HOME_NET prefixes decide every transaction's direction: parse errors must
 * be reported, and lookups must honour prefix lengths in both families. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "netset.h"

static void addr(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out + 12) == 1) {
		out[10] = out[11] = 0xff;
		return;
	}
	assert(inet_pton(AF_INET6, s, out) == 1);
}

static bool in(const struct bs_netset *ns, const char *a)
{
	uint8_t b[16];
	addr(a, b);
	return bs_netset_contains(ns, b);
}

int main(void)
{
	struct bs_netset ns;
	char err[256];
	memset(&ns, 0, sizeof(ns));

	assert(bs_netset_add(&ns, "192.0.2.0/24", err, sizeof(err)) == 0);
	assert(bs_netset_add(&ns, "10.1.2.3", err, sizeof(err)) == 0);
	assert(bs_netset_add(&ns, "2001:db8:10::/48", err, sizeof(err)) == 0);
	assert(bs_netset_add(&ns, "172.16.0.0/12", err, sizeof(err)) == 0);
	assert(bs_netset_add(&ns, "198.51.100.77/25", err, sizeof(err)) == 0); /* host bits cleared */

	assert(in(&ns, "192.0.2.1") && in(&ns, "192.0.2.255"));
	assert(!in(&ns, "192.0.3.1"));
	assert(in(&ns, "10.1.2.3") && !in(&ns, "10.1.2.4"));
	assert(in(&ns, "172.31.255.1") && !in(&ns, "172.32.0.1"));
	assert(in(&ns, "198.51.100.1") && !in(&ns, "198.51.100.200"));
	assert(in(&ns, "2001:db8:10:ffff::1") && !in(&ns, "2001:db8:11::1"));
	/* an IPv6 address equal to the low bits of an IPv4 prefix is not inside it */
	assert(!in(&ns, "::c000:201"));

	static const char *bad[] = {"", "/24", "192.0.2.0/", "192.0.2.0/33", "192.0.2.0/x", "2001:db8::/129",
				    "example.com", "300.1.1.1", "192.0.2.0/-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert(bs_netset_add(&ns, bad[i], err, sizeof(err)) < 0);
		assert(err[0] != 0);
	}

	struct bs_netset all;
	memset(&all, 0, sizeof(all));
	assert(bs_netset_add(&all, "0.0.0.0/0", err, sizeof(err)) == 0);
	assert(in(&all, "203.0.113.9") && !in(&all, "2001:db8::1"));

	char buf[64];
	uint8_t a[16];
	addr("192.0.2.7", a);
	bs_addr_format(a, buf, sizeof(buf));
	assert(!strcmp(buf, "192.0.2.7"));
	addr("2001:db8::7", a);
	bs_addr_format(a, buf, sizeof(buf));
	assert(!strcmp(buf, "2001:db8::7"));
	printf("netset: ok\n");
	return 0;
}
