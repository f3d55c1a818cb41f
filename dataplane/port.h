/* DPDK port set-up: RX queues (with symmetric RSS when there are several),
 * capture timestamps when the PMD offers them (net_pcap does), promiscuous
 * mode for live mirror/TAP ports. */
#ifndef BS_PORT_H
#define BS_PORT_H
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <rte_mempool.h>

struct bs_port_info {
	int ts_dynfield;      /* mbuf timestamp field, -1 when the PMD gives none */
	uint64_t ts_dynflag;
	uint16_t nb_rxq;
};

/* Largest number of RX queues the port can spread with RSS (1 if no RSS). */
uint16_t bs_port_max_rss_queues(uint16_t port);
int bs_port_setup(uint16_t port, uint16_t nb_rxq, struct rte_mempool *mp, bool promisc,
		  struct bs_port_info *info, char *err, size_t errlen);

#endif
