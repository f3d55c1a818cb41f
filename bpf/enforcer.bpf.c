// SPDX-License-Identifier: BSD-3-Clause
/* XDP enforcer: applies Backstop's verdicts at the edge.
 *
 * Decision order (first that applies wins):
 *   allow-list (either end of the packet)   -> pass
 *   session drop (TCP connection, both directions, not expired) -> drop
 *   source drop (longest prefix of the source, not expired)     -> drop
 *   source shaping (GCRA bucket of the longest prefix)          -> pass/drop
 *   -> pass
 * Verdicts concern TCP (the mail sessions Backstop judges): anything else,
 * non-first fragments, and packets we cannot parse pass (fail-open) and are
 * counted. Expired entries are ignored here and removed by user space. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "enforcer.h"

#define ETH_P_IP_BE     bpf_htons(0x0800)
#define ETH_P_IPV6_BE   bpf_htons(0x86DD)
#define ETH_P_8021Q_BE  bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define ETH_P_QINQ1_BE  bpf_htons(0x9100)   /* pre-802.1ad QinQ still seen in the wild */

#define IPV6_EXT_MAX    6     /* extension headers followed before giving up */
#define L3_OFF_MAX      1024  /* offset of L4 beyond which we stop parsing */
#define SHAPE_CAS_TRIES 4

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BS_DEF_SESSIONS);
	__type(key, struct bs_sess_key);
	__type(value, struct bs_drop_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bs_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BS_DEF_SRC_DROP);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bs_lpm_key);
	__type(value, struct bs_drop_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bs_src_drop SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BS_DEF_SRC_SHAPE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bs_lpm_key);
	__type(value, struct bs_shape_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bs_src_shape SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BS_DEF_ALLOW);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bs_lpm_key);
	__type(value, struct bs_allow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bs_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BS_CNT_MAX);
	__type(key, __u32);
	__type(value, struct bs_counter_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bs_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BS_REASON_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bs_drop_reason SEC(".maps");

struct bs_vlan {
	__be16 tci;
	__be16 proto;
};

struct bs_ip6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct bs_ip6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* What the decision needs from a parsed TCP/IP packet. */
struct bs_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
};

static __always_inline int count(struct xdp_md *ctx, __u32 idx, int action)
{
	struct bs_counter_val *c = bpf_map_lookup_elem(&bs_counters, &idx);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

static __always_inline void count_event(__u32 idx)
{
	struct bs_counter_val *c = bpf_map_lookup_elem(&bs_counters, &idx);

	if (c)
		c->packets++;
}

static __always_inline void count_reason(__u32 reason)
{
	__u32 slot = reason < BS_REASON_SLOTS ? reason : BS_REASON_SLOTS - 1;
	__u64 *c = bpf_map_lookup_elem(&bs_drop_reason, &slot);

	if (c)
		(*c)++;
}

static __always_inline void map_v4(__u8 *dst, const void *v4)
{
	__u64 zero = 0;
	__u32 ffff = bpf_htonl(0x0000ffff);

	__builtin_memcpy(dst, &zero, 8);
	__builtin_memcpy(dst + 8, &ffff, 4);
	__builtin_memcpy(dst + 12, v4, 4);
}

/* Parses L2..L4. Returns -1 when the packet is TCP/IP and t is filled,
 * otherwise the counter index of the pass reason. */
static __always_inline int parse(struct xdp_md *ctx, struct bs_tuple *t)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u32 l3_end;  /* end of the IP packet: Ethernet padding is not TCP */
	__be16 proto;
	__u8 l4;

	if ((void *)(eth + 1) > end)
		return BS_CNT_PASS_TRUNCATED;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != ETH_P_8021Q_BE && proto != ETH_P_8021AD_BE && proto != ETH_P_QINQ1_BE)
			break;
		struct bs_vlan *vh = data + off;
		if ((void *)(vh + 1) > end)
			return BS_CNT_PASS_TRUNCATED;
		proto = vh->proto;
		off += sizeof(*vh);
	}

	if (proto == ETH_P_IP_BE) {
		struct iphdr *ip = data + off;
		__u32 hlen;

		if ((void *)(ip + 1) > end)
			return BS_CNT_PASS_TRUNCATED;
		if (ip->version != 4 || ip->ihl < 5)
			return BS_CNT_PASS_MALFORMED;
		hlen = ip->ihl * 4;
		if (bpf_ntohs(ip->tot_len) < hlen)
			return BS_CNT_PASS_MALFORMED;
		if ((void *)ip + bpf_ntohs(ip->tot_len) > end)
			return BS_CNT_PASS_TRUNCATED;
		l3_end = off + bpf_ntohs(ip->tot_len);
		if (bpf_ntohs(ip->frag_off) & 0x1fff)
			return BS_CNT_PASS_FRAGMENT;
		map_v4(t->saddr, &ip->saddr);
		map_v4(t->daddr, &ip->daddr);
		l4 = ip->protocol;
		off += hlen;
	} else if (proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return BS_CNT_PASS_TRUNCATED;
		if (ip6->version != 6)
			return BS_CNT_PASS_MALFORMED;
		if ((void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > end)
			return BS_CNT_PASS_TRUNCATED;
		l3_end = off + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(t->saddr, &ip6->saddr, 16);
		__builtin_memcpy(t->daddr, &ip6->daddr, 16);
		l4 = ip6->nexthdr;
		off += sizeof(*ip6);

		for (int i = 0; i < IPV6_EXT_MAX; i++) {
			if (l4 == 0 || l4 == 43 || l4 == 60 || l4 == 135 || l4 == 139 || l4 == 140) {
				/* hop-by-hop, routing, destination options, mobility,
				 * HIP, shim6: length in 8-octet units after the first 8 */
				struct bs_ip6_ext *eh = data + (off & (L3_OFF_MAX - 1));
				if (off >= L3_OFF_MAX)
					return BS_CNT_PASS_MALFORMED;
				if ((void *)(eh + 1) > end)
					return BS_CNT_PASS_TRUNCATED;
				l4 = eh->nexthdr;
				off += (eh->hdrlen + 1) * 8;
			} else if (l4 == 51) {
				/* authentication header: length in 4-octet units minus 2 */
				struct bs_ip6_ext *eh = data + (off & (L3_OFF_MAX - 1));
				if (off >= L3_OFF_MAX)
					return BS_CNT_PASS_MALFORMED;
				if ((void *)(eh + 1) > end)
					return BS_CNT_PASS_TRUNCATED;
				l4 = eh->nexthdr;
				off += (eh->hdrlen + 2) * 4;
			} else if (l4 == 44) {
				struct bs_ip6_frag *fh = data + (off & (L3_OFF_MAX - 1));
				if (off >= L3_OFF_MAX)
					return BS_CNT_PASS_MALFORMED;
				if ((void *)(fh + 1) > end)
					return BS_CNT_PASS_TRUNCATED;
				if (bpf_ntohs(fh->frag_off) & 0xfff8)
					return BS_CNT_PASS_FRAGMENT;
				l4 = fh->nexthdr;
				off += sizeof(*fh);
			} else {
				break;
			}
		}
	} else {
		return BS_CNT_PASS_NON_IP;
	}

	if (l4 != BS_IPPROTO_TCP)
		return BS_CNT_PASS_NON_TCP;
	if (off >= L3_OFF_MAX)
		return BS_CNT_PASS_MALFORMED;
	struct tcphdr *th = data + (off & (L3_OFF_MAX - 1));
	if ((void *)(th + 1) > end || off + sizeof(*th) > l3_end)
		return BS_CNT_PASS_TRUNCATED;
	if (th->doff < 5)
		return BS_CNT_PASS_MALFORMED;
	t->sport = bpf_ntohs(th->source);
	t->dport = bpf_ntohs(th->dest);
	return -1;
}

static __always_inline int expired(__u64 expires_ns, __u64 *now)
{
	if (!expires_ns)
		return 0;
	if (!*now)
		*now = bpf_ktime_get_ns();
	return *now >= expires_ns;
}

SEC("xdp")
int bs_xdp_enforce(struct xdp_md *ctx)
{
	struct bs_tuple t;
	struct bs_lpm_key lk;
	struct bs_sess_key sk;
	struct bs_drop_val *dv;
	struct bs_shape_val *sv;
	__u64 now = 0;
	int r;

	r = parse(ctx, &t);
	if (r >= 0)
		return count(ctx, r, XDP_PASS);

	/* allow-list: an allowed host's traffic is never touched, whichever
	 * end of the connection it is */
	lk.prefixlen = 128;
	__builtin_memcpy(lk.addr, t.saddr, 16);
	if (bpf_map_lookup_elem(&bs_allow, &lk))
		return count(ctx, BS_CNT_PASS_ALLOW, XDP_PASS);
	__builtin_memcpy(lk.addr, t.daddr, 16);
	if (bpf_map_lookup_elem(&bs_allow, &lk))
		return count(ctx, BS_CNT_PASS_ALLOW, XDP_PASS);

	bs_sess_key_make(&sk, t.saddr, t.sport, t.daddr, t.dport);
	dv = bpf_map_lookup_elem(&bs_sessions, &sk);
	if (dv) {
		if (!expired(dv->expires_ns, &now)) {
			__sync_fetch_and_add(&dv->hits, 1);
			count_reason(dv->reason);
			return count(ctx, BS_CNT_DROP_SESSION, XDP_DROP);
		}
		count_event(BS_CNT_EV_SESSION_EXPIRED);
	}

	__builtin_memcpy(lk.addr, t.saddr, 16);
	dv = bpf_map_lookup_elem(&bs_src_drop, &lk);
	if (dv) {
		if (!expired(dv->expires_ns, &now)) {
			__sync_fetch_and_add(&dv->hits, 1);
			count_reason(dv->reason);
			return count(ctx, BS_CNT_DROP_SOURCE, XDP_DROP);
		}
		count_event(BS_CNT_EV_SOURCE_EXPIRED);
	}

	sv = bpf_map_lookup_elem(&bs_src_shape, &lk);
	if (sv) {
		if (expired(sv->expires_ns, &now)) {
			count_event(BS_CNT_EV_SHAPE_EXPIRED);
			return count(ctx, BS_CNT_PASS_NO_MATCH, XDP_PASS);
		}
		if (!now)
			now = bpf_ktime_get_ns();
		/* GCRA: one CAS on tat_ns; a lost race means another CPU took
		 * a slot, so re-read and decide again */
		for (int i = 0; i < SHAPE_CAS_TRIES; i++) {
			__u64 tat = *(volatile __u64 *)&sv->tat_ns;
			__u64 base = tat > now ? tat : now;

			if (base - now > sv->tolerance_ns) {
				__sync_fetch_and_add(&sv->dropped, 1);
				count_reason(sv->reason);
				return count(ctx, BS_CNT_DROP_SHAPE, XDP_DROP);
			}
			if (__sync_val_compare_and_swap(&sv->tat_ns, tat, base + sv->interval_ns) == tat) {
				__sync_fetch_and_add(&sv->passed, 1);
				return count(ctx, BS_CNT_PASS_SHAPE, XDP_PASS);
			}
		}
		return count(ctx, BS_CNT_PASS_SHAPE_BUSY, XDP_PASS);
	}

	return count(ctx, BS_CNT_PASS_NO_MATCH, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
