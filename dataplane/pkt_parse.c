/* Packet parser: L2 (Ethernet, 802.1Q, QinQ) -> L3 (IPv4, IPv6 + extension
 * headers) -> TCP. Every read is preceded by a bounds check against the end
 * of the current layer (`end` shrinks from the frame length to the IP
 * datagram length once it is known, which also trims Ethernet padding).
 * TRUNCATED means the frame holds less than the Ethernet/IP headers claim
 * (snap length, capture cut); MALFORMED means the datagram is there but
 * inconsistent (bad version or lengths, headers running past the payload),
 * so operators can tell a capture problem from hostile or broken traffic.
 * Not checked: IPv4 header checksum (mirror ports and offloads make it
 * unreliable, and a passive monitor must see what the host accepts), IPv4
 * option contents.
 * There are no loops over bytes: only the VLAN stack, the IPv6 extension
 * chain and the TCP option list (at most 40 bytes) are walked, each bounded. */
#include "pkt_parse.h"

#include <string.h>

const char *const bs_pkt_status_name[BS_PKT_STATUS_MAX] = {
	[BS_PKT_TCP] = "tcp",
	[BS_PKT_NOT_IP] = "not_ip",
	[BS_PKT_NOT_TCP] = "not_tcp",
	[BS_PKT_FRAGMENT] = "fragment",
	[BS_PKT_TRUNCATED] = "truncated",
	[BS_PKT_MALFORMED] = "malformed",
};

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_QINQ_OLD 0x9100 /* pre-802.1ad outer tag still seen in the field */
#define VLAN_HLEN 4

#define IP4_HLEN 20
#define IP4_MF 0x2000
#define IP4_OFFMASK 0x1fff
#define IP6_HLEN 40
#define TCP_HLEN 20

/* IPPROTO_* numbers, spelled out so the file needs no OS headers */
#define P_HOPOPTS 0
#define P_TCP 6
#define P_ROUTING 43
#define P_FRAGMENT 44
#define P_AH 51
#define P_DSTOPTS 60

static inline uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline int is_vlan_tpid(uint16_t t)
{
	return t == ETH_P_8021Q || t == ETH_P_8021AD || t == ETH_P_QINQ_OLD;
}

static inline int is_ip6_ext(uint8_t nh)
{
	return nh == P_HOPOPTS || nh == P_ROUTING || nh == P_DSTOPTS || nh == P_AH || nh == P_FRAGMENT;
}

/* Walks the TCP option list. Returns 1 when a length byte is impossible
 * (< 2 or running past the header). Bounded: each step consumes >= 1 byte of
 * at most 40. */
static int tcp_opts_bad(const uint8_t *o, uint32_t n)
{
	uint32_t i = 0;
	while (i < n) {
		uint8_t kind = o[i];
		if (kind == 0) /* end of option list */
			return 0;
		if (kind == 1) { /* NOP */
			i++;
			continue;
		}
		if (i + 1 >= n)
			return 1;
		uint8_t olen = o[i + 1];
		if (olen < 2 || olen > n - i)
			return 1;
		i += olen;
	}
	return 0;
}

/* `end` is the end of the IP datagram, which the frame is known to hold:
 * a TCP header that does not fit in it is MALFORMED, not TRUNCATED. */
static int parse_tcp(const uint8_t *f, uint32_t off, uint32_t end, struct bs_pkt *p)
{
	if (end - off < TCP_HLEN)
		return BS_PKT_MALFORMED;
	const uint8_t *t = f + off;
	uint32_t doff = (uint32_t)(t[12] >> 4) * 4;
	if (doff < TCP_HLEN || doff > end - off)
		return BS_PKT_MALFORMED;
	p->l4_off = (uint16_t)off;
	p->sport = rd16(t);
	p->dport = rd16(t + 2);
	p->seq = rd32(t + 4);
	p->ack = rd32(t + 8);
	p->tcp_flags = t[13];
	p->window = rd16(t + 14);
	p->tcp_opt_bad = doff > TCP_HLEN ? (uint8_t)tcp_opts_bad(t + TCP_HLEN, doff - TCP_HLEN) : 0;
	p->payload = f + off + doff;
	p->payload_len = (uint16_t)(end - off - doff);
	return BS_PKT_TCP;
}

static int parse_ipv4(const uint8_t *f, uint32_t off, uint32_t len, struct bs_pkt *p)
{
	if (len - off < IP4_HLEN)
		return BS_PKT_TRUNCATED;
	const uint8_t *h = f + off;
	if ((h[0] >> 4) != 4)
		return BS_PKT_MALFORMED;
	uint32_t ihl = (uint32_t)(h[0] & 0x0f) * 4;
	if (ihl < IP4_HLEN)
		return BS_PKT_MALFORMED;
	uint32_t tot = rd16(h + 2);
	if (tot < ihl)
		return BS_PKT_MALFORMED;
	if (tot > len - off) /* also covers ihl > available */
		return BS_PKT_TRUNCATED;
	p->ip_ver = 4;
	p->ip_len = (uint16_t)tot;
	p->l3_off = (uint16_t)off;
	/* ::ffff:a.b.c.d */
	memset(p->src, 0, 10);
	p->src[10] = p->src[11] = 0xff;
	memcpy(p->src + 12, h + 12, 4);
	memset(p->dst, 0, 10);
	p->dst[10] = p->dst[11] = 0xff;
	memcpy(p->dst + 12, h + 16, 4);
	p->l4_proto = h[9];
	uint16_t fl = rd16(h + 6);
	if (fl & (IP4_MF | IP4_OFFMASK)) {
		/* Any fragment, first included: a first fragment's TCP header may
		 * be complete, but its payload is not the whole segment, so it is
		 * never handed to reassembly as one. */
		p->frag_id = rd16(h + 4);
		p->frag_off = (uint16_t)((fl & IP4_OFFMASK) * 8);
		p->frag_more = (fl & IP4_MF) != 0;
		return BS_PKT_FRAGMENT;
	}
	if (h[9] != P_TCP)
		return BS_PKT_NOT_TCP;
	/* end = off + tot: Ethernet padding after the datagram is ignored */
	return parse_tcp(f, off + ihl, off + tot, p);
}

static int parse_ipv6(const uint8_t *f, uint32_t off, uint32_t len, struct bs_pkt *p)
{
	if (len - off < IP6_HLEN)
		return BS_PKT_TRUNCATED;
	const uint8_t *h = f + off;
	if ((h[0] >> 4) != 6)
		return BS_PKT_MALFORMED;
	uint32_t plen = rd16(h + 4);
	/* plen 0 means a jumbogram (RFC 2675), impossible on Ethernet; it is
	 * then only valid for an empty payload, which parses as NOT_TCP */
	if (plen > len - off - IP6_HLEN)
		return BS_PKT_TRUNCATED;
	uint32_t end = off + IP6_HLEN + plen;
	p->ip_ver = 6;
	p->ip_len = (uint16_t)(IP6_HLEN + plen > 0xffff ? 0xffff : IP6_HLEN + plen);
	p->l3_off = (uint16_t)off;
	memcpy(p->src, h + 8, 16);
	memcpy(p->dst, h + 24, 16);
	uint8_t nh = h[6];
	uint32_t o = off + IP6_HLEN;
	for (unsigned i = 0;; i++) {
		uint32_t hlen;
		if (i == BS_PKT_MAX_IP6_EXT && is_ip6_ext(nh))
			return BS_PKT_MALFORMED; /* chain longer than the bound */
		switch (nh) {
		case P_HOPOPTS:
			/* RFC 8200 4.3: only immediately after the fixed header */
			if (i != 0)
				return BS_PKT_MALFORMED;
			/* fall through */
		case P_ROUTING:
		case P_DSTOPTS:
			if (end - o < 8)
				return BS_PKT_MALFORMED;
			hlen = ((uint32_t)f[o + 1] + 1) * 8;
			break;
		case P_AH:
			if (end - o < 8)
				return BS_PKT_MALFORMED;
			hlen = ((uint32_t)f[o + 1] + 2) * 4;
			break;
		case P_FRAGMENT: {
			if (end - o < 8)
				return BS_PKT_MALFORMED;
			uint16_t fo = rd16(f + o + 2);
			if ((fo & 0xfff8) || (fo & 1)) {
				p->l4_proto = f[o];
				p->frag_id = rd32(f + o + 4);
				p->frag_off = (uint16_t)(fo & 0xfff8);
				p->frag_more = fo & 1;
				p->ip6_ext_count = (uint8_t)(i + 1);
				return BS_PKT_FRAGMENT;
			}
			/* atomic fragment (RFC 6946): processed as a whole packet */
			hlen = 8;
			break;
		}
		default:
			p->ip6_ext_count = (uint8_t)i;
			p->l4_proto = nh;
			if (nh != P_TCP)
				return BS_PKT_NOT_TCP; /* includes ESP, No Next Header */
			return parse_tcp(f, o, end, p);
		}
		if (hlen > end - o)
			return BS_PKT_MALFORMED; /* runs past the payload length */
		nh = f[o];
		o += hlen;
	}
}

int bs_pkt_parse(const uint8_t *frame, uint32_t len, struct bs_pkt *p)
{
	/* Only the fields every status relies on are reset here; the rest are
	 * written by the layer that owns them (the fast path pays for no
	 * memset of the 60-byte struct). */
	p->ip_ver = 0;
	p->vlan_depth = 0;
	p->vlan_id = 0;
	p->tcp_flags = 0;
	p->l4_proto = 0;
	p->payload = NULL;
	p->payload_len = 0;
	p->tcp_opt_bad = 0;
	p->ip6_ext_count = 0;
	p->frag_id = 0;
	p->frag_off = 0;
	p->frag_more = 0;
	p->sport = p->dport = 0;
	if (len < ETH_HLEN)
		return BS_PKT_TRUNCATED;
	uint32_t off = 12;
	uint16_t type = rd16(frame + off);
	while (is_vlan_tpid(type)) {
		if (p->vlan_depth == BS_PKT_MAX_VLAN)
			return BS_PKT_NOT_IP;
		if (len - off < 2 + VLAN_HLEN)
			return BS_PKT_TRUNCATED;
		p->vlan_id = rd16(frame + off + 2) & 0x0fff;
		p->vlan_depth++;
		off += VLAN_HLEN;
		type = rd16(frame + off);
	}
	off += 2;
	if (type == ETH_P_IPV4)
		return parse_ipv4(frame, off, len, p);
	if (type == ETH_P_IPV6)
		return parse_ipv6(frame, off, len, p);
	return BS_PKT_NOT_IP;
}
