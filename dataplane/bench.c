#include "bench.h"
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_errno.h>
#include <rte_mbuf_dyn.h>

struct bs_bench {
	struct rte_mempool *mp;
	struct rte_mbuf **frames;
	uint64_t n, bytes;
	unsigned loops, loop;
	uint64_t pos;
};

struct bs_bench *bs_bench_load(const char *pcap, unsigned loops, int *ts_dynfield, uint64_t *ts_dynflag,
			       char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, cap = 0;
	int r;
	struct bs_bench *b = calloc(1, sizeof(*b));
	pcap_t *p = pcap_open_offline_with_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO, perr);

	if (!b || !p) {
		snprintf(err, errlen, "%s: %s", pcap, p ? "out of memory" : perr);
		goto fail;
	}
	uint32_t maxlen = 64;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		n++;
		if (h->caplen > maxlen)
			maxlen = h->caplen;
	}
	if (maxlen > 9216)
		maxlen = 9216;
	pcap_close(p);
	p = pcap_open_offline_with_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!p || n == 0) {
		snprintf(err, errlen, "%s: %s", pcap, p ? "no frames" : perr);
		goto fail;
	}
	if (rte_mbuf_dyn_rx_timestamp_register(ts_dynfield, ts_dynflag) != 0) {
		snprintf(err, errlen, "cannot register the mbuf timestamp field");
		goto fail;
	}
	b->mp = rte_pktmbuf_pool_create("bs_bench", (unsigned)n, 0, 0, (uint16_t)(maxlen + RTE_PKTMBUF_HEADROOM), rte_socket_id());
	b->frames = calloc(n, sizeof(*b->frames));
	if (!b->mp || !b->frames) {
		snprintf(err, errlen, "cannot hold %" PRIu64 " frames in memory (give the EAL more: -m or hugepages): %s",
			 n, rte_strerror(rte_errno));
		goto fail;
	}
	while (cap < n && pcap_next_ex(p, &h, &d) == 1) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(b->mp);
		uint32_t len = h->caplen > maxlen ? maxlen : h->caplen;
		if (!m) {
			snprintf(err, errlen, "mbuf pool exhausted while loading");
			goto fail;
		}
		memcpy(rte_pktmbuf_append(m, (uint16_t)len), d, len);
		*RTE_MBUF_DYNFIELD(m, *ts_dynfield, rte_mbuf_timestamp_t *) =
			(uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
		m->ol_flags |= *ts_dynflag;
		b->frames[cap++] = m;
		b->bytes += len;
	}
	pcap_close(p);
	b->n = cap;
	b->loops = loops;
	return b;
fail:
	if (p)
		pcap_close(p);
	bs_bench_free(b);
	return NULL;
}

unsigned bs_bench_next(struct bs_bench *b, struct rte_mbuf **pkts, unsigned max)
{
	unsigned k = 0;
	while (k < max && b->loop < b->loops) {
		struct rte_mbuf *m = b->frames[b->pos];
		rte_mbuf_refcnt_update(m, 1);
		pkts[k++] = m;
		if (++b->pos == b->n) {
			b->pos = 0;
			b->loop++;
		}
	}
	return k;
}

uint64_t bs_bench_frames(const struct bs_bench *b) { return b->n * b->loops; }
uint64_t bs_bench_bytes(const struct bs_bench *b) { return b->bytes * b->loops; }

void bs_bench_free(struct bs_bench *b)
{
	if (!b)
		return;
	if (b->frames) {
		for (uint64_t i = 0; i < b->n; i++)
			if (b->frames[i])
				rte_pktmbuf_free(b->frames[i]);
		free(b->frames);
	}
	rte_mempool_free(b->mp);
	free(b);
}
