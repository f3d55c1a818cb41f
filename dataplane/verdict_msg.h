/* What a worker hands to the enforcer thread when a verdict needs the XDP
 * maps updated. Plain data: it crosses an rte_ring by value. */
#ifndef BS_VERDICT_MSG_H
#define BS_VERDICT_MSG_H
#include <stdint.h>

enum bs_verdict_kind { BS_VK_SESSION_DROP = 1, BS_VK_SOURCE_DROP, BS_VK_SOURCE_SHAPE };

struct bs_verdict_msg {
	uint8_t kind;            /* enum bs_verdict_kind */
	uint8_t ip_ver;          /* 4 or 6 */
	uint8_t prefix_len;      /* source verdicts: prefix length of src (32/128 = host) */
	uint8_t reason;          /* enum bs_class of the verdict */
	uint8_t src[16], dst[16];/* session: client, server; source: the source. IPv4 mapped ::ffff:a.b.c.d */
	uint16_t sport, dport;   /* host order; session verdicts only */
	uint32_t ttl_s;
	uint32_t rate_pps, burst;/* SOURCE_SHAPE */
	uint64_t t_detect_ns;    /* CLOCK_MONOTONIC when the deciding packet was processed */
};

#endif
