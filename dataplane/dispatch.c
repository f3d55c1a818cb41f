#include "dispatch.h"
#include <rte_ring.h>

static void dispatch_flush(struct bs_dispatcher *d, unsigned i)
{
	unsigned sent = 0, n = d->qn[i];
	while (sent < n) {
		sent += rte_ring_sp_enqueue_burst(d->w[i]->in, (void **)d->q[i] + sent, n - sent, NULL);
		if (sent < n && !d->offline) {
			d->st.dispatch_dropped += n - sent;
			rte_pktmbuf_free_bulk(d->q[i] + sent, n - sent);
			break;
		}
	}
	d->qn[i] = 0;
}

void bs_dispatch_burst(struct bs_dispatcher *d, struct rte_mbuf **pkts, unsigned n)
{
	const struct bs_config *cfg = d->w[0]->cfg;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct bs_pkt p;
		struct bs_flow_key k;
		uint32_t len = rte_pktmbuf_pkt_len(m);
		if (len > sizeof(d->scratch))
			len = sizeof(d->scratch);
		const uint8_t *data = rte_pktmbuf_read(m, 0, len, d->scratch);
		int s = data ? bs_pkt_parse(data, len, &p) : BS_PKT_TRUNCATED;
		if (s != BS_PKT_TCP || (!bs_port_in(cfg->smtp_port, p.dport) && !bs_port_in(cfg->smtp_port, p.sport))) {
			d->st.packets++;
			d->st.bytes += rte_pktmbuf_pkt_len(m);
			d->st.parse[s]++;
			if (s == BS_PKT_TCP) {
				if ((p.tcp_flags & (BS_TCP_SYN | BS_TCP_ACK)) == BS_TCP_SYN &&
				    bs_port_in(cfg->tls_port, p.dport))
					d->st.tls_port_sessions++;
				d->st.not_smtp_port++;
			}
			rte_pktmbuf_free(m);
			continue;
		}
		bs_flow_key_from_pkt(&p, &k);
		unsigned wi = (unsigned)(((uint64_t)bs_flow_hash(&k) * d->nw) >> 32);
		d->q[wi][d->qn[wi]++] = m;
		if (d->qn[wi] == BS_BURST)
			dispatch_flush(d, wi);
	}
	for (unsigned i = 0; i < d->nw; i++)
		if (d->qn[i])
			dispatch_flush(d, i);
}
