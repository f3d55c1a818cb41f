/* Test packets for the XDP enforcer, built byte by byte: Ethernet with 0-2
 * VLAN tags, IPv4 (options, fragments) or IPv6 (extension headers,
 * fragments), TCP/UDP/ICMP, and deliberate defects. Shared by the
 * BPF_PROG_TEST_RUN tests and the perf benchmarks. */
#ifndef BS_TPKT_H
#define BS_TPKT_H
#include <stddef.h>
#include <stdint.h>

enum tpkt_l3 { TPKT_IPV4 = 4, TPKT_IPV6 = 6, TPKT_ARP = 1 };
enum tpkt_l4 { TPKT_TCP = 6, TPKT_UDP = 17, TPKT_ICMP = 1 };
enum tpkt_frag { TPKT_NOFRAG = 0, TPKT_FRAG_FIRST, TPKT_FRAG_LATER };
enum tpkt_defect {
	TPKT_OK = 0,
	TPKT_CUT,          /* frame cut to cut_to bytes; IP lengths still claim more */
	TPKT_TCP_SHORT,    /* consistent IP lengths, only 10 bytes of TCP header */
	TPKT_BAD_IHL,      /* IPv4 ihl = 4 */
	TPKT_BAD_DOFF,     /* TCP data offset = 4 */
	TPKT_BAD_VERSION,  /* IP version nibble wrong for the ethertype */
};

struct tpkt_spec {
	int vlans;              /* 0, 1 (802.1Q) or 2 (QinQ: 802.1ad + 802.1Q) */
	enum tpkt_l3 l3;
	enum tpkt_l4 l4;
	const char *src, *dst;  /* addresses of the family of l3 */
	uint16_t sport, dport;
	enum tpkt_frag frag;
	int ip_opt_words;       /* IPv4 options, 4-byte words (0..10) */
	int v6_ext;             /* IPv6 hop-by-hop + destination options headers (0..4) */
	enum tpkt_defect defect;
	size_t cut_to;          /* TPKT_CUT */
	size_t payload;         /* L4 payload bytes */
};

/* Writes the packet into buf; returns its length, or 0 if it does not fit
 * or the spec is invalid. */
size_t tpkt_build(const struct tpkt_spec *s, uint8_t *buf, size_t cap);

#endif
