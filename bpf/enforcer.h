/* Map keys and values shared by the XDP enforcer (enforcer.bpf.c) and its
 * user side (enforcer_user.c). The ONE definition of the layout: both sides
 * include this file, so a change here changes both.
 *
 * Addresses: IPv4 and IPv6 share one 16-byte format, IPv4 being the mapped
 * form ::ffff:a.b.c.d (as in dataplane/verdict_msg.h). Prefix lengths in LPM
 * keys therefore count over 128 bits: an IPv4 /24 is 96 + 24 = 120.
 *
 * Times are CLOCK_MONOTONIC nanoseconds: bpf_ktime_get_ns() in the kernel,
 * clock_gettime(CLOCK_MONOTONIC) in user space, the same clock. */
#ifndef BS_ENFORCER_H
#define BS_ENFORCER_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Map names: pinned by these names under the pin directory. */
#define BS_MAP_SESSIONS   "bs_sessions"
#define BS_MAP_SRC_DROP   "bs_src_drop"
#define BS_MAP_SRC_SHAPE  "bs_src_shape"
#define BS_MAP_ALLOW      "bs_allow"
#define BS_MAP_COUNTERS   "bs_counters"
#define BS_MAP_DROP_REASON "bs_drop_reason"

/* Program name as the kernel reports it: how `xdp status` and `xdp detach`
 * recognise our program on an interface. */
#define BS_PROG_NAME "bs_xdp_enforce"

/* Default sizes (hard limits; fixed when the pinned maps are created). */
#define BS_DEF_SESSIONS  262144
#define BS_DEF_SRC_DROP  65536
#define BS_DEF_SRC_SHAPE 65536
#define BS_DEF_ALLOW     16384

#define BS_IPPROTO_TCP 6

/* LPM trie key for allow, source drop and source shaping. */
struct bs_lpm_key {
	__u32 prefixlen;   /* 0..128 over the 16-byte (mapped) address */
	__u8 addr[16];
};

/* Session key: a TCP connection in canonical order, so that one entry
 * matches both directions. "lo" is the (addr, port) end that sorts first by
 * bs_sess_end_less(); the order is arbitrary but the same on both sides. */
struct bs_sess_key {
	__u8 lo_addr[16];
	__u8 hi_addr[16];
	__u16 lo_port;     /* host byte order */
	__u16 hi_port;
	__u8 proto;        /* BS_IPPROTO_TCP */
	__u8 pad[3];
};

/* Value of a drop entry (session or source). */
struct bs_drop_val {
	__u64 expires_ns;  /* 0: never expires */
	__u64 created_ns;
	__u64 hits;        /* packets dropped by this entry (atomic add) */
	__u32 reason;      /* verdict reason (enum bs_class of the detector) */
	__u32 pad;
};

/* Value of a source shaping entry: a GCRA token bucket (equivalent to a
 * token bucket of rate R and depth B) held in ONE 64-bit word, the
 * theoretical arrival time tat_ns, so that CPUs update it with a single
 * compare-and-swap and no lock (LPM tries accept no bpf_spin_lock).
 * A packet at time t conforms when max(tat, t) - t <= tolerance_ns, where
 * tolerance_ns = (burst - 1) * interval_ns; it then moves tat to
 * max(tat, t) + interval_ns. User space may set tat_ns (tests drive time
 * that way; a refresh of the same verdict keeps it). */
struct bs_shape_val {
	__u64 tat_ns;
	__u64 interval_ns;   /* 1e9 / rate */
	__u64 tolerance_ns;  /* (burst - 1) * interval_ns */
	__u64 expires_ns;    /* 0: never expires */
	__u64 created_ns;
	__u64 passed;        /* conforming packets (atomic add) */
	__u64 dropped;       /* non-conforming packets (atomic add) */
	__u32 rate_pps;
	__u32 burst;
	__u32 reason;
	__u32 key_plen;      /* prefixlen of its own key: tells user space an
			      * exact match from a covering prefix */
};

/* Allow-list value: present means pass. */
struct bs_allow_val {
	__u64 created_ns;
};

/* Per-CPU counters, index = enum bs_counter; user space sums over CPUs.
 * BS_CNT_PASS_* and BS_CNT_DROP_* are final actions (each packet counts in
 * exactly one of them); BS_CNT_EV_* count events along the way. */
enum bs_counter {
	BS_CNT_PASS_NO_MATCH = 0,  /* TCP/IP packet, no entry applies */
	BS_CNT_PASS_ALLOW,         /* allow-list hit */
	BS_CNT_PASS_SHAPE,         /* shaping entry, packet conformed */
	BS_CNT_PASS_SHAPE_BUSY,    /* shaping CAS contended too long: fail-open */
	BS_CNT_PASS_NON_IP,        /* not IPv4/IPv6 (ARP, LLDP, ...) */
	BS_CNT_PASS_NON_TCP,       /* IP but not TCP (UDP, ICMP, ESP, ...) */
	BS_CNT_PASS_FRAGMENT,      /* IP fragment other than the first */
	BS_CNT_PASS_TRUNCATED,     /* headers cut short: fail-open */
	BS_CNT_PASS_MALFORMED,     /* bad header fields: fail-open */
	BS_CNT_DROP_SESSION,
	BS_CNT_DROP_SOURCE,
	BS_CNT_DROP_SHAPE,
	BS_CNT_EV_SESSION_EXPIRED, /* an expired session entry was ignored */
	BS_CNT_EV_SOURCE_EXPIRED,
	BS_CNT_EV_SHAPE_EXPIRED,
	BS_CNT_MAX
};

struct bs_counter_val {
	__u64 packets;
	__u64 bytes;
};

/* Drops per verdict reason (bs_drop_val.reason, clamped). */
#define BS_REASON_SLOTS 64

/* Canonical ordering of session ends: compare (addr, port) as words. Pure
 * integer code so that the verifier and user space agree on it. */
static inline int bs_sess_end_less(const __u8 *a, __u16 ap, const __u8 *b, __u16 bp)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	if (a0 != b0)
		return a0 < b0;
	if (a1 != b1)
		return a1 < b1;
	return ap < bp;
}

/* Fills k from one direction of a connection (either direction gives the
 * same key). */
static inline void bs_sess_key_make(struct bs_sess_key *k, const __u8 *saddr, __u16 sport,
				    const __u8 *daddr, __u16 dport)
{
	if (bs_sess_end_less(saddr, sport, daddr, dport)) {
		__builtin_memcpy(k->lo_addr, saddr, 16);
		__builtin_memcpy(k->hi_addr, daddr, 16);
		k->lo_port = sport;
		k->hi_port = dport;
	} else {
		__builtin_memcpy(k->lo_addr, daddr, 16);
		__builtin_memcpy(k->hi_addr, saddr, 16);
		k->lo_port = dport;
		k->hi_port = sport;
	}
	k->proto = BS_IPPROTO_TCP;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

#endif
