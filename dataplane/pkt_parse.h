/* Packet parser: Ethernet (802.1Q, QinQ), IPv4 (options, fragments), IPv6
 * (extension headers), TCP (options). Pure C, no DPDK, so it is unit-tested
 * on byte arrays and shared with the fuzz targets. Never reads past `len`. */
#ifndef BS_PKT_PARSE_H
#define BS_PKT_PARSE_H
#include <stdint.h>

enum bs_pkt_status {
	BS_PKT_TCP = 0,       /* parsed TCP segment, fields valid */
	BS_PKT_NOT_IP,        /* ARP, LLDP, ... */
	BS_PKT_NOT_TCP,       /* UDP, ICMP, ... */
	BS_PKT_FRAGMENT,      /* IPv4/IPv6 fragment, first one included: l3 and
				 frag fields valid, TCP never parsed from it */
	BS_PKT_TRUNCATED,     /* frame shorter than its Ethernet/IP headers claim
				 (capture snap length, cut frame) */
	BS_PKT_MALFORMED,     /* datagram present but inconsistent: bad version,
				 header lengths, TCP header or IPv6 extension
				 chain past the datagram, chain too long */
	BS_PKT_STATUS_MAX
};

extern const char *const bs_pkt_status_name[BS_PKT_STATUS_MAX];

/* TCP flag bits as on the wire */
#define BS_TCP_FIN 0x01
#define BS_TCP_SYN 0x02
#define BS_TCP_RST 0x04
#define BS_TCP_PSH 0x08
#define BS_TCP_ACK 0x10

struct bs_pkt {
	uint8_t ip_ver;          /* 4 or 6 */
	uint8_t vlan_depth;      /* 0, 1 (802.1Q) or 2 (QinQ) */
	uint8_t tcp_flags;
	uint8_t l4_proto;        /* IPPROTO_* of the transport (after ext headers) */
	uint16_t vlan_id;        /* innermost VLAN id, 0 if none */
	uint16_t sport, dport;   /* host byte order */
	uint32_t seq, ack;       /* host byte order */
	uint16_t window;
	uint16_t payload_len;    /* TCP payload bytes present in the frame */
	uint8_t src[16], dst[16];/* IPv4 as ::ffff:a.b.c.d (RFC 4291 mapped) */
	const uint8_t *payload;  /* points into the frame */
	uint16_t l3_off, l4_off; /* offsets in the frame */
	/* fragments (status BS_PKT_FRAGMENT): */
	uint32_t frag_id;
	uint16_t frag_off;       /* in bytes */
	uint8_t frag_more;
	/* TCP options area malformed (bad length byte). The segment is still
	 * BS_PKT_TCP: receivers (Linux tcp_parse_options) stop parsing options
	 * and accept the payload, so dropping it here would open a gap an
	 * endpoint never sees. Callers count it. */
	uint8_t tcp_opt_bad;
	uint8_t ip6_ext_count;   /* IPv6 extension headers walked */
	uint16_t ip_len;         /* IPv4 total length / IPv6 40 + payload length */
};

/* At most this many 802.1Q/802.1ad tags are walked; a deeper stack is
 * reported as BS_PKT_NOT_IP (counted, not parsed). */
#define BS_PKT_MAX_VLAN 2
/* At most this many IPv6 extension headers are walked (bounded loop); a
 * longer chain is BS_PKT_MALFORMED. */
#define BS_PKT_MAX_IP6_EXT 8

/* Parses one frame. Returns a bs_pkt_status; fields of `p` are valid as far
 * as the status says (addresses for TCP/NOT_TCP/FRAGMENT). */
int bs_pkt_parse(const uint8_t *frame, uint32_t len, struct bs_pkt *p);

#endif
