/* Prints what bs_pkt_parse makes of every frame of a pcap file, one line of
 * key=value pairs per frame, for test_pkt_parse_scapy.py to compare with
 * Scapy's own dissection of the frames it built.
 *
 *   pkt_parse_dump FILE.pcap */
#include "pkt_parse.h"

#include <pcap/pcap.h>
#include <stdio.h>

static void hex(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
		return 2;
	}
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(argv[1], err);
	if (!pc) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "%s: link type %d is not Ethernet\n", argv[1], pcap_datalink(pc));
		pcap_close(pc);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		struct bs_pkt p;
		int st = bs_pkt_parse(data, h->caplen, &p);
		printf("status=%s", bs_pkt_status_name[st]);
		if (st == BS_PKT_TCP || st == BS_PKT_NOT_TCP || st == BS_PKT_FRAGMENT) {
			printf(" ip=%u vlan_depth=%u vlan_id=%u proto=%u src=", p.ip_ver, p.vlan_depth, p.vlan_id,
			       p.l4_proto);
			hex(p.src, 16);
			printf(" dst=");
			hex(p.dst, 16);
		}
		if (st == BS_PKT_TCP) {
			printf(" sport=%u dport=%u seq=%u ack=%u flags=%u window=%u opt_bad=%u payload=", p.sport,
			       p.dport, p.seq, p.ack, p.tcp_flags, p.window, p.tcp_opt_bad);
			hex(p.payload, p.payload_len);
		}
		if (st == BS_PKT_FRAGMENT)
			printf(" frag_id=%u frag_off=%u frag_more=%u", p.frag_id, p.frag_off, p.frag_more);
		printf("\n");
	}
	if (rc == -1) {
		fprintf(stderr, "%s: %s\n", argv[1], pcap_geterr(pc));
		pcap_close(pc);
		return 1;
	}
	pcap_close(pc);
	return 0;
}
