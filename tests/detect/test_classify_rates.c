/* Sliding-window rate counters and the address/network helpers the
 * classifier builds on. */
#include <stdlib.h>
#include <pthread.h>
#include "../../dataplane/detect/rates.h"
#include "../../dataplane/detect/addr.h"
#include "test_util.h"

static void test_rates(void)
{
	char err[256];
	struct bs_rates *r = bs_rates_create(1024, 60, err, sizeof err);
	CHECK(r != NULL);
	uint32_t t = 100000;
	for (int i = 1; i <= 10; i++)
		CHECK_INT(bs_rates_hit(r, "a@x", 3, t), (uint32_t)i);
	CHECK_INT(bs_rates_peek(r, "a@x", 3, t), 10);
	CHECK_INT(bs_rates_peek(r, "b@x", 3, t), 0);
	/* half a window later the previous window still counts fully (same fixed window) */
	CHECK_INT(bs_rates_peek(r, "a@x", 3, t + 30), 10);
	/* next fixed window: the old count fades linearly */
	CHECK_INT(bs_rates_peek(r, "a@x", 3, t + 60), 10);
	CHECK_INT(bs_rates_peek(r, "a@x", 3, t + 90), 5);
	CHECK_INT(bs_rates_hit(r, "a@x", 3, t + 90), 6);
	/* two windows of silence forget everything */
	CHECK_INT(bs_rates_peek(r, "a@x", 3, t + 300), 0);
	bs_rates_destroy(r);

	/* bounded: many keys into a small table evict, the table never grows */
	r = bs_rates_create(16, 60, err, sizeof err);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(key, sizeof key, "k%d", i);
		bs_rates_hit(r, key, (size_t)n, t);
	}
	CHECK(bs_rates_evictions(r) >= 1000 - 16);
	/* a hot key survives eviction of cold ones (least recently active goes) */
	for (int i = 0; i < 5; i++)
		bs_rates_hit(r, "hot", 3, t + 10);
	for (int i = 0; i < 7; i++) {
		int n = snprintf(key, sizeof key, "c%d", i);
		bs_rates_hit(r, key, (size_t)n, t + 5);
	}
	CHECK_INT(bs_rates_peek(r, "hot", 3, t + 10), 5);
	bs_rates_destroy(r);
	CHECK(bs_rates_create(0, 60, err, sizeof err) == NULL);
	CHECK(bs_rates_create(16, 0, err, sizeof err) == NULL);
	CHECK(strstr(err, "window") != NULL);
}

static void test_addr(void)
{
	char out[256];
	CHECK_INT(bs_addr_extract("Alice <Alice@Example.COM>", 25, out, sizeof out), 17);
	CHECK_STR(out, "Alice@example.com");
	const char *s = "bob@x.org (Bob)";
	bs_addr_extract(s, strlen(s), out, sizeof out);
	CHECK_STR(out, "bob@x.org");
	s = "\"a, b\" <>, carol@y.net.";
	bs_addr_extract(s, strlen(s), out, sizeof out);
	CHECK_STR(out, "carol@y.net");
	CHECK_INT(bs_addr_extract("no address", 10, out, sizeof out), 0);
	CHECK_STR(out, "");
	CHECK_INT(bs_addr_extract("@", 1, out, sizeof out), 0);
	CHECK_INT(bs_addr_extract("a@b", 3, out, 3), 0);      /* does not fit */
	CHECK_STR(bs_addr_domain("a@b.c"), "b.c");
	CHECK(bs_addr_domain("ab") == NULL);
	CHECK(bs_addr_domain("ab@") == NULL);
	CHECK(bs_addr_eq("A@B", "a@b"));

	struct bs_domset d = { 0 };
	char err[256];
	CHECK_INT(bs_domset_add(&d, "Example.com", err, sizeof err), 0);
	CHECK_INT(bs_domset_add(&d, "bad domain", err, sizeof err), -1);
	CHECK(strstr(err, "invalid character") != NULL);
	CHECK_INT(bs_domset_add(&d, "", err, sizeof err), -1);
	CHECK(bs_domset_match(&d, "example.com", 11));
	CHECK(bs_domset_match(&d, "mail.EXAMPLE.com", 16));
	CHECK(bs_domset_match(&d, "example.com.", 12));
	CHECK(!bs_domset_match(&d, "badexample.com", 14));
	CHECK(!bs_domset_match(&d, "example.co", 10));

	struct bs_netset n = { 0 };
	CHECK_INT(bs_netset_add(&n, "192.0.2.0/24", err, sizeof err), 0);
	CHECK_INT(bs_netset_add(&n, "2001:db8::/32", err, sizeof err), 0);
	CHECK_INT(bs_netset_add(&n, "10.0.0.1", err, sizeof err), 0);
	CHECK_INT(bs_netset_add(&n, "10.0.0.0/33", err, sizeof err), -1);
	CHECK(strstr(err, "0..32") != NULL);
	CHECK_INT(bs_netset_add(&n, "10.0.0.0/", err, sizeof err), -1);
	CHECK_INT(bs_netset_add(&n, "300.1.1.1", err, sizeof err), -1);
	CHECK(strstr(err, "not an IPv4 or IPv6") != NULL);
	uint8_t a[16];
	CHECK(bs_ip_parse("192.0.2.77", 10, a));
	CHECK(bs_netset_contains(&n, a));
	CHECK(bs_ip_parse("192.0.3.1", 9, a));
	CHECK(!bs_netset_contains(&n, a));
	CHECK(bs_ip_parse("10.0.0.1", 8, a));
	CHECK(bs_netset_contains(&n, a));
	CHECK(bs_ip_parse("IPv6:2001:db8::1", 16, a));
	CHECK(bs_netset_contains(&n, a));
	CHECK(bs_ip_parse("2001:db9::1", 11, a));
	CHECK(!bs_netset_contains(&n, a));
	CHECK(!bs_ip_parse("example.com", 11, a));

	/* SipHash-2-4 reference vector (Aumasson & Bernstein, key 00..0f, 15-byte input 00..0e) */
	uint64_t k[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	uint8_t in[15];
	for (int i = 0; i < 15; i++)
		in[i] = (uint8_t)i;
	CHECK(bs_siphash(k, in, 15) == 0xa129ca6149be45e5ULL);
	CHECK(bs_siphash(k, in, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(bs_memcasemem("xxHeLLo", 7, "hello", 5) != NULL);
	CHECK(bs_memcasemem("hell", 4, "hello", 5) == NULL);
}

int main(void)
{
	test_rates();
	test_addr();
	TEST_DONE();
}
