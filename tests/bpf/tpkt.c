/* Builds the test packets described in tpkt.h. */
#include <arpa/inet.h>
#include <string.h>
#include "tpkt.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static size_t l4_header(const struct tpkt_spec *s, uint8_t *p)
{
	if (s->l4 == TPKT_TCP) {
		memset(p, 0, 20);
		put16(p, s->sport);
		put16(p + 2, s->dport);
		p[12] = (uint8_t)((s->defect == TPKT_BAD_DOFF ? 4 : 5) << 4);
		p[13] = 0x18; /* PSH|ACK */
		put16(p + 14, 65535);
		return s->defect == TPKT_TCP_SHORT ? 10 : 20;
	}
	memset(p, 0, 8);
	if (s->l4 == TPKT_UDP) {
		put16(p, s->sport);
		put16(p + 2, s->dport);
	} else {
		p[0] = 8; /* echo request */
	}
	return 8;
}

size_t tpkt_build(const struct tpkt_spec *s, uint8_t *buf, size_t cap)
{
	uint8_t tmp[2048];
	size_t off = 12, l3, l4len, l4off;

	if (cap > sizeof(tmp))
		cap = sizeof(tmp);
	size_t payload = s->defect == TPKT_TCP_SHORT ? 0 : s->payload;

	if (payload > 1200 || s->ip_opt_words > 10 || s->v6_ext > 4 || s->vlans > 2)
		return 0;
	memset(tmp, 0, sizeof(tmp));
	memcpy(tmp, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	for (int i = 0; i < s->vlans; i++) {
		put16(tmp + off, (s->vlans == 2 && i == 0) ? 0x88a8 : 0x8100);
		put16(tmp + off + 2, (uint16_t)(100 + i));
		off += 4;
	}
	if (s->l3 == TPKT_ARP) {
		put16(tmp + off, 0x0806);
		off += 2;
		memset(tmp + off, 0, 28);
		off += 28;
		goto done;
	}
	put16(tmp + off, s->l3 == TPKT_IPV4 ? 0x0800 : 0x86dd);
	off += 2;
	l3 = off;
	if (s->l3 == TPKT_IPV4) {
		size_t ihl = 5 + (size_t)s->ip_opt_words;
		uint8_t *ip = tmp + l3;
		if (inet_pton(AF_INET, s->src, ip + 12) != 1 || inet_pton(AF_INET, s->dst, ip + 16) != 1)
			return 0;
		ip[0] = (uint8_t)(((s->defect == TPKT_BAD_VERSION) ? 6 : 4) << 4 |
				  (s->defect == TPKT_BAD_IHL ? 4 : ihl));
		put16(ip + 4, 0x1234);
		if (s->frag == TPKT_FRAG_FIRST)
			put16(ip + 6, 0x2000);          /* MF, offset 0 */
		else if (s->frag == TPKT_FRAG_LATER)
			put16(ip + 6, 185);             /* offset 1480 */
		ip[8] = 64;
		ip[9] = (uint8_t)s->l4;
		memset(ip + 20, 1, ihl * 4 - 20);       /* NOP options */
		l4off = l3 + ihl * 4;
		l4len = l4_header(s, tmp + l4off) + payload;
		memset(tmp + l4off + l4len - payload, 'x', payload);
		put16(ip + 2, (uint16_t)(ihl * 4 + l4len));
		put16(ip + 10, csum(ip, ihl * 4));
		off = l4off + l4len;
	} else {
		uint8_t *ip = tmp + l3;
		uint8_t *nh = ip + 6;
		size_t p = l3 + 40;
		if (inet_pton(AF_INET6, s->src, ip + 8) != 1 || inet_pton(AF_INET6, s->dst, ip + 24) != 1)
			return 0;
		ip[0] = (uint8_t)(((s->defect == TPKT_BAD_VERSION) ? 4 : 6) << 4);
		ip[7] = 64;
		for (int i = 0; i < s->v6_ext; i++) {
			*nh = (uint8_t)(i == 0 ? 0 : 60); /* hop-by-hop first, then destination options */
			tmp[p + 1] = (uint8_t)(i & 1);    /* 8 or 16 bytes */
			tmp[p + 2] = 1;                   /* PadN */
			tmp[p + 3] = (uint8_t)(4 + 8 * (i & 1));
			nh = tmp + p;
			p += 8 + 8 * (size_t)(i & 1);
		}
		if (s->frag != TPKT_NOFRAG) {
			*nh = 44;
			put16(tmp + p + 2, s->frag == TPKT_FRAG_FIRST ? 1 : (uint16_t)(1480 | 1));
			tmp[p + 7] = 0x42;
			nh = tmp + p;
			p += 8;
		}
		*nh = (uint8_t)(s->l4 == TPKT_ICMP ? 58 : s->l4);
		if (s->l4 == TPKT_ICMP)
			tmp[p] = 128;
		l4off = p;
		l4len = l4_header(s, tmp + l4off) + payload;
		if (s->l4 == TPKT_ICMP)
			tmp[l4off] = 128;
		memset(tmp + l4off + l4len - payload, 'x', payload);
		put16(ip + 4, (uint16_t)(l4off + l4len - (l3 + 40)));
		off = l4off + l4len;
	}
done:
	if (off < 60)
		off = 60; /* Ethernet minimum frame (padding after IP) */
	if (s->defect == TPKT_CUT && s->cut_to < off)
		off = s->cut_to;
	if (off > cap)
		return 0;
	memcpy(buf, tmp, off);
	return off;
}
