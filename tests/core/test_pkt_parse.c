/* Packet parser tests on hand-built frames: every layer's happy path, every
 * error status, and every truncation length of several frames (each copied
 * into a buffer of exactly that length so ASan sees any over-read). */
#include "pkt_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                              \
		}                                                                \
	} while (0)
#define CHECK_ST(got, want)                                                      \
	do {                                                                     \
		int g_ = (got), w_ = (want);                                     \
		if (g_ != w_) {                                                  \
			fprintf(stderr, "%s:%d: status %s, want %s\n", __FILE__, __LINE__, \
				bs_pkt_status_name[g_], bs_pkt_status_name[w_]);         \
			failures++;                                              \
		}                                                                \
	} while (0)

/* ---- frame builder ---- */
struct fb {
	uint8_t b[2048];
	uint32_t n;
	uint32_t ip_off, l4_off;
};

static void put8(struct fb *f, uint8_t v) { f->b[f->n++] = v; }
static void put16(struct fb *f, uint16_t v) { put8(f, v >> 8); put8(f, v & 0xff); }
static void put32(struct fb *f, uint32_t v) { put16(f, v >> 16); put16(f, v & 0xffff); }
static void putn(struct fb *f, const void *p, uint32_t n) { if (n) memcpy(f->b + f->n, p, n); f->n += n; }
static void set16(struct fb *f, uint32_t at, uint16_t v) { f->b[at] = v >> 8; f->b[at + 1] = v & 0xff; }

/* Ethernet header with optional tags: tpids[i]/vids[i] for i < ntags */
static void eth(struct fb *f, int ntags, const uint16_t *tpids, const uint16_t *vids, uint16_t type)
{
	f->n = 0;
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	putn(f, macs, 12);
	for (int i = 0; i < ntags; i++) {
		put16(f, tpids[i]);
		put16(f, vids[i]);
	}
	put16(f, type);
}

/* IPv4 header; total length fixed up by fin4(). opt: IHL*4-20 bytes */
static void ip4(struct fb *f, uint8_t proto, const uint8_t *opt, uint32_t optlen, uint16_t frag)
{
	f->ip_off = f->n;
	put8(f, 0x40 | (uint8_t)((20 + optlen) / 4));
	put8(f, 0);
	put16(f, 0); /* total length, later */
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0xc0000201); /* 192.0.2.1 */
	put32(f, 0xc6336402); /* 198.51.100.2 */
	putn(f, opt, optlen);
}

static void fin4(struct fb *f) { set16(f, f->ip_off + 2, (uint16_t)(f->n - f->ip_off)); }

static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static void ip6(struct fb *f, uint8_t nh)
{
	f->ip_off = f->n;
	put32(f, 0x60000000);
	put16(f, 0); /* payload length, later */
	put8(f, nh);
	put8(f, 64);
	putn(f, src6, 16);
	putn(f, dst6, 16);
}

static void fin6(struct fb *f) { set16(f, f->ip_off + 4, (uint16_t)(f->n - f->ip_off - 40)); }

/* generic 8*k-byte extension header (HBH, routing, dest opts) */
static void ext8(struct fb *f, uint8_t nh, uint8_t hlen_units)
{
	put8(f, nh);
	put8(f, hlen_units);
	for (uint32_t i = 2; i < (hlen_units + 1u) * 8; i++)
		put8(f, i == 2 ? 1 : 0); /* PadN-ish filler; content is not parsed */
}

static void tcp(struct fb *f, uint16_t sp, uint16_t dp, uint32_t seq, uint8_t flags,
		const uint8_t *opt, uint32_t optlen, const char *payload)
{
	f->l4_off = f->n;
	put16(f, sp);
	put16(f, dp);
	put32(f, seq);
	put32(f, 0xa0b0c0d0);
	put8(f, (uint8_t)(((20 + optlen) / 4) << 4));
	put8(f, flags);
	put16(f, 65000);
	put16(f, 0);
	put16(f, 0);
	putn(f, opt, optlen);
	if (payload)
		putn(f, payload, (uint32_t)strlen(payload));
}

static int parse(const struct fb *f, struct bs_pkt *p) { return bs_pkt_parse(f->b, f->n, p); }

/* Every strict prefix of a frame that has no trailing padding must parse
 * without reading past its end, and must not come out as TCP. */
static void truncations(const struct fb *f, const char *what)
{
	for (uint32_t len = 0; len < f->n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, f->b, len);
		struct bs_pkt p;
		int st = bs_pkt_parse(copy, len, &p);
		if (st == BS_PKT_TCP || st < 0 || st >= BS_PKT_STATUS_MAX) {
			fprintf(stderr, "%s: prefix %u of %u parsed as %d\n", what, len, f->n, st);
			failures++;
		}
		free(copy);
	}
	uint8_t *copy = malloc(f->n);
	memcpy(copy, f->b, f->n);
	struct bs_pkt p;
	CHECK_ST(bs_pkt_parse(copy, f->n, &p), BS_PKT_TCP);
	free(copy);
}

static const uint8_t tcp_opts_ok[20] = {
	2, 4, 0x05, 0xb4,             /* MSS 1460 */
	4, 2,                          /* SACK permitted */
	8, 10, 0, 0, 0, 1, 0, 0, 0, 0, /* timestamps */
	1,                             /* NOP */
	3, 3, 7,                       /* window scale */
};

static void test_ipv4_basic(void)
{
	struct fb f;
	struct bs_pkt p;
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, NULL, 0, 0x4000 /* DF only: not a fragment */);
	tcp(&f, 40000, 25, 0x01020304, 0x18, NULL, 0, "EHLO x\r\n");
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.ip_ver == 4 && p.vlan_depth == 0 && p.vlan_id == 0);
	CHECK(p.sport == 40000 && p.dport == 25);
	CHECK(p.seq == 0x01020304 && p.ack == 0xa0b0c0d0 && p.window == 65000);
	CHECK(p.tcp_flags == (BS_TCP_PSH | BS_TCP_ACK));
	CHECK(p.l4_proto == 6 && p.l3_off == 14 && p.l4_off == 34);
	CHECK(p.payload_len == 8 && p.payload == f.b + 54 && memcmp(p.payload, "EHLO x\r\n", 8) == 0);
	static const uint8_t m1[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
	static const uint8_t m2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 2};
	CHECK(memcmp(p.src, m1, 16) == 0 && memcmp(p.dst, m2, 16) == 0);
	CHECK(p.ip_len == 20 + 20 + 8);
	CHECK(p.tcp_opt_bad == 0);
	truncations(&f, "ipv4");

	/* Ethernet padding: a bare ACK padded to the 60-byte minimum */
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, NULL, 0, 0);
	tcp(&f, 40000, 25, 1, BS_TCP_ACK, NULL, 0, NULL);
	fin4(&f);
	uint32_t unpadded = f.n;
	while (f.n < 60)
		put8(&f, 0xee);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.payload_len == 0);
	/* truncated inside the datagram is TRUNCATED, inside the padding fine */
	for (uint32_t len = unpadded; len <= f.n; len++)
		CHECK_ST(bs_pkt_parse(f.b, len, &p), BS_PKT_TCP);
	CHECK_ST(bs_pkt_parse(f.b, unpadded - 1, &p), BS_PKT_TRUNCATED);
}

static void test_vlan(void)
{
	struct fb f;
	struct bs_pkt p;
	uint16_t tp1[] = {0x8100}, v1[] = {0x2000 | 100};
	eth(&f, 1, tp1, v1, 0x0800);
	ip4(&f, 6, NULL, 0, 0);
	tcp(&f, 1025, 587, 7, BS_TCP_SYN, tcp_opts_ok, sizeof(tcp_opts_ok), NULL);
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.vlan_depth == 1 && p.vlan_id == 100 && p.l3_off == 18);
	CHECK(p.dport == 587 && p.tcp_flags == BS_TCP_SYN && p.tcp_opt_bad == 0 && p.payload_len == 0);
	truncations(&f, "vlan");

	/* QinQ, both 802.1ad and the legacy 0x9100 outer tag */
	uint16_t outers[] = {0x88a8, 0x9100};
	for (int i = 0; i < 2; i++) {
		uint16_t tp2[] = {outers[i], 0x8100}, v2[] = {10, 0xf000 | 200};
		eth(&f, 2, tp2, v2, 0x86dd);
		ip6(&f, 6);
		tcp(&f, 1025, 25, 7, BS_TCP_ACK, NULL, 0, "QUIT\r\n");
		fin6(&f);
		CHECK_ST(parse(&f, &p), BS_PKT_TCP);
		CHECK(p.vlan_depth == 2 && p.vlan_id == 200 && p.l3_off == 22 && p.ip_ver == 6);
		CHECK(p.payload_len == 6);
		truncations(&f, "qinq");
	}
	/* a third tag is beyond what is walked */
	uint16_t tp3[] = {0x88a8, 0x8100, 0x8100}, v3[] = {1, 2, 3};
	eth(&f, 3, tp3, v3, 0x0800);
	ip4(&f, 6, NULL, 0, 0);
	tcp(&f, 1, 25, 0, 0, NULL, 0, NULL);
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_NOT_IP);
	/* ARP is not IP */
	eth(&f, 0, NULL, NULL, 0x0806);
	for (int i = 0; i < 28; i++)
		put8(&f, 0);
	CHECK_ST(parse(&f, &p), BS_PKT_NOT_IP);
}

static void test_ipv4_options_and_errors(void)
{
	struct fb f;
	struct bs_pkt p;
	/* 12 bytes of options: record route (11 bytes) + EOL */
	static const uint8_t rr[12] = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, rr, sizeof(rr), 0);
	tcp(&f, 5000, 25, 99, BS_TCP_ACK, NULL, 0, "DATA\r\n");
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.l4_off == 14 + 32 && p.payload_len == 6 && p.seq == 99);
	truncations(&f, "ipv4 options");

	struct fb g = f;
	g.b[14] = 0x44; /* IHL 4 < 5 */
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
	g = f;
	g.b[14] = 0x58; /* version 5 */
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
	g = f;
	set16(&g, 16, 31); /* total length shorter than the 32-byte header */
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
	g = f;
	set16(&g, 16, (uint16_t)(f.n - 14 + 1)); /* claims one byte more than present */
	CHECK_ST(parse(&g, &p), BS_PKT_TRUNCATED);
	g = f;
	g.b[14] = 0x4f; /* IHL 15 = 60 bytes: header runs into TCP, TCP then too short */
	CHECK(parse(&g, &p) != BS_PKT_TCP);
	/* total length cuts the TCP header: the datagram is complete but
	 * inconsistent (a capture cut would be TRUNCATED) */
	g = f;
	set16(&g, 16, 32 + 10);
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);

	/* UDP */
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 17, NULL, 0, 0);
	for (int i = 0; i < 8; i++)
		put8(&f, 0);
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_NOT_TCP);
	CHECK(p.l4_proto == 17 && p.ip_ver == 4 && p.src[15] == 1);
}

static void test_ipv4_fragments(void)
{
	struct fb f;
	struct bs_pkt p;
	/* first fragment: MF set, offset 0, carries a complete TCP header */
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, NULL, 0, 0x2000);
	tcp(&f, 40000, 25, 5, BS_TCP_ACK, NULL, 0, "MAIL FROM:<>\r\n");
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_FRAGMENT);
	CHECK(p.frag_id == 0x1234 && p.frag_off == 0 && p.frag_more == 1 && p.l4_proto == 6);
	CHECK(p.payload == NULL && p.payload_len == 0 && p.sport == 0);
	CHECK(p.src[15] == 1 && p.dst[15] == 2);
	/* a later fragment whose bytes happen to look like a TCP header */
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, NULL, 0, 185 /* offset 1480 */);
	tcp(&f, 40000, 25, 5, BS_TCP_ACK, NULL, 0, "looks like tcp");
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_FRAGMENT);
	CHECK(p.frag_off == 1480 && p.frag_more == 0 && p.payload == NULL && p.sport == 0);
	/* middle fragment */
	set16(&f, 14 + 6, 0x2000 | 10);
	CHECK_ST(parse(&f, &p), BS_PKT_FRAGMENT);
	CHECK(p.frag_off == 80 && p.frag_more == 1);
}

static void test_ipv6_ext(void)
{
	struct fb f;
	struct bs_pkt p;
	/* plain */
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 6);
	tcp(&f, 2525, 25, 0xfffffff0, BS_TCP_ACK | BS_TCP_FIN, NULL, 0, "250 OK\r\n");
	fin6(&f);
	uint32_t unpadded = f.n;
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.ip_ver == 6 && memcmp(p.src, src6, 16) == 0 && memcmp(p.dst, dst6, 16) == 0);
	CHECK(p.l4_off == 54 && p.payload_len == 8 && p.seq == 0xfffffff0 && p.ip6_ext_count == 0);
	CHECK(p.ip_len == 40 + 28);
	truncations(&f, "ipv6");
	/* bytes after the datagram are padding */
	put32(&f, 0xdeadbeef);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.payload_len == 8);
	f.n = unpadded;

	/* HBH, routing, destination options, AH, then TCP */
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 0);
	ext8(&f, 43, 0);  /* HBH, 8 bytes -> routing */
	ext8(&f, 60, 2);  /* routing, 24 bytes -> dstopts */
	ext8(&f, 51, 1);  /* dstopts, 16 bytes -> AH */
	put8(&f, 6);      /* AH: next header TCP */
	put8(&f, 4);      /* (4+2)*4 = 24 bytes */
	for (int i = 0; i < 22; i++)
		put8(&f, 0);
	tcp(&f, 2525, 25, 1, BS_TCP_ACK, NULL, 0, "x");
	fin6(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.ip6_ext_count == 4 && p.l4_off == 14 + 40 + 8 + 24 + 16 + 24 && p.payload_len == 1);
	truncations(&f, "ipv6 ext chain");
	/* an extension header whose length runs past the payload */
	struct fb g = f;
	g.b[14 + 40 + 1] = 200;
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
	/* payload length too short for the chain: the same */
	g = f;
	set16(&g, 14 + 4, 20);
	CHECK_ST(bs_pkt_parse(g.b, 14 + 40 + 20, &p), BS_PKT_MALFORMED);

	/* HBH anywhere but first is malformed */
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 60);
	ext8(&f, 0, 0);
	ext8(&f, 6, 0);
	tcp(&f, 1, 2, 3, 0, NULL, 0, NULL);
	fin6(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_MALFORMED);

	/* chain bound: exactly BS_PKT_MAX_IP6_EXT headers is fine, one more is not */
	for (int n = BS_PKT_MAX_IP6_EXT; n <= BS_PKT_MAX_IP6_EXT + 1; n++) {
		eth(&f, 0, NULL, NULL, 0x86dd);
		ip6(&f, 60);
		for (int i = 0; i < n; i++)
			ext8(&f, i + 1 < n ? 60 : 6, 0);
		tcp(&f, 1, 2, 3, 0, NULL, 0, NULL);
		fin6(&f);
		CHECK_ST(parse(&f, &p), n == BS_PKT_MAX_IP6_EXT ? BS_PKT_TCP : BS_PKT_MALFORMED);
	}

	/* fragment header: first fragment (offset 0, M) */
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 44);
	put8(&f, 6);
	put8(&f, 0);
	put16(&f, 0x0001);
	put32(&f, 0xcafef00d);
	tcp(&f, 1, 25, 3, BS_TCP_ACK, NULL, 0, "abc");
	fin6(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_FRAGMENT);
	CHECK(p.frag_id == 0xcafef00d && p.frag_more == 1 && p.frag_off == 0 && p.l4_proto == 6);
	CHECK(p.payload == NULL && p.sport == 0);
	/* later fragment */
	set16(&f, 14 + 40 + 2, (uint16_t)(1448 | 0));
	CHECK_ST(parse(&f, &p), BS_PKT_FRAGMENT);
	CHECK(p.frag_off == 1448 && p.frag_more == 0);
	/* atomic fragment (offset 0, no M): a whole packet, RFC 6946 */
	set16(&f, 14 + 40 + 2, 0);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.payload_len == 3 && p.ip6_ext_count == 1);

	/* ESP and No Next Header are not TCP */
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 50);
	put32(&f, 1);
	put32(&f, 1);
	fin6(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_NOT_TCP);
	CHECK(p.l4_proto == 50);
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 59);
	fin6(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_NOT_TCP);
	/* payload length beyond the frame; bad version */
	eth(&f, 0, NULL, NULL, 0x86dd);
	ip6(&f, 6);
	tcp(&f, 1, 2, 3, 0, NULL, 0, NULL);
	fin6(&f);
	g = f;
	set16(&g, 14 + 4, 21);
	CHECK_ST(parse(&g, &p), BS_PKT_TRUNCATED);
	g = f;
	g.b[14] = 0x40;
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
}

static void test_tcp_header(void)
{
	struct fb f;
	struct bs_pkt p;
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, NULL, 0, 0);
	tcp(&f, 1, 25, 3, BS_TCP_ACK, tcp_opts_ok, sizeof(tcp_opts_ok), "hi");
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_TCP);
	CHECK(p.tcp_opt_bad == 0 && p.payload_len == 2 && p.l4_off == 34);
	CHECK(memcmp(p.payload, "hi", 2) == 0);
	truncations(&f, "tcp options");

	struct fb g = f;
	g.b[34 + 12] = 0x40; /* data offset 4 words < 5 */
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
	g = f;
	g.b[34 + 12] = 0xf0; /* 60 bytes: beyond the datagram */
	CHECK_ST(parse(&g, &p), BS_PKT_MALFORMED);
	/* no room for a TCP header at all */
	eth(&f, 0, NULL, NULL, 0x0800);
	ip4(&f, 6, NULL, 0, 0);
	put32(&f, 0);
	fin4(&f);
	CHECK_ST(parse(&f, &p), BS_PKT_MALFORMED);

	/* bad option lengths: flagged, segment still delivered */
	static const uint8_t bad_len1[4] = {2, 1, 0, 0};
	static const uint8_t bad_past[4] = {1, 8, 10, 0};
	static const uint8_t bad_tail[4] = {1, 1, 1, 2}; /* kind without length byte */
	static const uint8_t eol_then_junk[4] = {0, 0xff, 0xff, 0xff};
	const uint8_t *opts[] = {bad_len1, bad_past, bad_tail, eol_then_junk};
	const int want[] = {1, 1, 1, 0};
	for (int i = 0; i < 4; i++) {
		eth(&f, 0, NULL, NULL, 0x0800);
		ip4(&f, 6, NULL, 0, 0);
		tcp(&f, 1, 25, 3, BS_TCP_ACK, opts[i], 4, "yo");
		fin4(&f);
		CHECK_ST(parse(&f, &p), BS_PKT_TCP);
		CHECK(p.tcp_opt_bad == want[i] && p.payload_len == 2);
	}
}

static void test_names(void)
{
	for (int i = 0; i < BS_PKT_STATUS_MAX; i++)
		CHECK(bs_pkt_status_name[i] != NULL && bs_pkt_status_name[i][0]);
	CHECK(strcmp(bs_pkt_status_name[BS_PKT_FRAGMENT], "fragment") == 0);
}

int main(void)
{
	test_ipv4_basic();
	test_vlan();
	test_ipv4_options_and_errors();
	test_ipv4_fragments();
	test_ipv6_ext();
	test_tcp_header();
	test_names();
	if (failures) {
		fprintf(stderr, "test_pkt_parse: %d failures\n", failures);
		return 1;
	}
	printf("test_pkt_parse: all passed\n");
	return 0;
}
