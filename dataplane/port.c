#include "port.h"
#include <stdio.h>
#include <string.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#define RX_DESC 1024

/* A key with a repeating 16-bit pattern makes Toeplitz RSS symmetric: both
 * directions of a connection land on the same queue (Woo & Park, 2012). */
static uint8_t sym_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

uint16_t bs_port_max_rss_queues(uint16_t port)
{
	struct rte_eth_dev_info di;
	if (rte_eth_dev_info_get(port, &di) != 0)
		return 1;
	if (!(di.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV6_TCP)))
		return 1;
	return di.max_rx_queues ? di.max_rx_queues : 1;
}

int bs_port_setup(uint16_t port, uint16_t nb_rxq, struct rte_mempool *mp, bool promisc,
		  struct bs_port_info *info, char *err, size_t errlen)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	int r;

	memset(&conf, 0, sizeof(conf));
	memset(info, 0, sizeof(*info));
	info->ts_dynfield = -1;
	if ((r = rte_eth_dev_info_get(port, &di)) != 0) {
		snprintf(err, errlen, "port %u: cannot read device info: %s", port, rte_strerror(-r));
		return -1;
	}
	if (nb_rxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = sym_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(sym_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf =
			di.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP);
	}
	if (di.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) {
		int off;
		uint64_t flag;
		if (rte_mbuf_dyn_rx_timestamp_register(&off, &flag) == 0) {
			conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
			info->ts_dynfield = off;
			info->ts_dynflag = flag;
		}
	}
	/* a passive tap transmits nothing, but some PMDs insist on one TX queue */
	uint16_t nb_txq = di.max_tx_queues ? 1 : 0;
	if ((r = rte_eth_dev_configure(port, nb_rxq, nb_txq, &conf)) != 0) {
		snprintf(err, errlen, "port %u (%s): configure with %u RX queues failed: %s", port, di.driver_name,
			 nb_rxq, rte_strerror(-r));
		return -1;
	}
	uint16_t nrx = RX_DESC, ntx = 512;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	for (uint16_t q = 0; q < nb_rxq; q++) {
		r = rte_eth_rx_queue_setup(port, q, nrx, rte_eth_dev_socket_id(port), NULL, mp);
		if (r != 0) {
			snprintf(err, errlen, "port %u: RX queue %u set-up failed: %s", port, q, rte_strerror(-r));
			return -1;
		}
	}
	for (uint16_t q = 0; q < nb_txq; q++) {
		r = rte_eth_tx_queue_setup(port, q, ntx, rte_eth_dev_socket_id(port), NULL);
		if (r != 0) {
			snprintf(err, errlen, "port %u: TX queue set-up failed: %s", port, rte_strerror(-r));
			return -1;
		}
	}
	if ((r = rte_eth_dev_start(port)) != 0) {
		snprintf(err, errlen, "port %u: start failed: %s", port, rte_strerror(-r));
		return -1;
	}
	if (promisc)
		rte_eth_promiscuous_enable(port); /* not every PMD supports it; a tap port may already see all */
	info->nb_rxq = nb_rxq;
	return 0;
}
