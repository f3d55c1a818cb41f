/* Per-packet cost of the XDP enforcer for each decision path, measured
 * with BPF_PROG_TEST_RUN repeat (the kernel's own timing, ns/packet), with
 * the session, source-drop, shaping and allow maps each holding 1,000,000
 * entries (half IPv4 hosts, half IPv6 /64s for the tries). A benchmark,
 * not a test: it prints figures (see perf/README.md).
 *
 * usage: xdp_cost [--entries N] [--repeat N]     (root) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "enforcer_user.h"
#include "tpkt.h"
#include "tutil.h"

static uint32_t entries = 1000000, repeat = 1000000;

/* Deterministic spread of fill addresses, away from the probe addresses. */
static void fill_v4(uint8_t a[16], uint32_t i)
{
	uint32_t x = 0x64400000u + (i * 2654435761u >> 10); /* 100.64.0.0/10 */
	memset(a, 0, 10);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)(x >> 24); a[13] = (uint8_t)(x >> 16); a[14] = (uint8_t)(x >> 8); a[15] = (uint8_t)x;
}

static void fill_v6(uint8_t a[16], uint32_t i)
{
	uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;
	memset(a, 0, 16);
	a[0] = 0x2a; a[1] = 0x02;  /* 2a02::/16 */
	memcpy(a + 2, &x, 6);
}

static int fill_lpm(struct bs_enforcer *e, enum bs_map_id id, uint32_t n)
{
	int fd = bs_enforcer_map_fd(e, id);
	union { struct bs_drop_val d; struct bs_shape_val s; struct bs_allow_val a; } v;

	memset(&v, 0, sizeof(v));
	if (id == BS_MAPID_SRC_SHAPE) {
		v.s.interval_ns = 1000;
		v.s.tolerance_ns = 100000;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct bs_lpm_key k;
		memset(&k, 0, sizeof(k));
		if (i & 1) {
			fill_v6(k.addr, i);
			k.prefixlen = 64;
			memset(k.addr + 8, 0, 8);
		} else {
			fill_v4(k.addr, i);
			k.prefixlen = 128;
		}
		if (id == BS_MAPID_SRC_SHAPE)
			v.s.key_plen = k.prefixlen;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) && errno != EEXIST) {
			fprintf(stderr, "fill %u: %s\n", i, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int fill_sessions(struct bs_enforcer *e, uint32_t n)
{
	enum { CH = 8192 };
	static struct bs_sess_key k[CH];
	static struct bs_drop_val v[CH];
	int fd = bs_enforcer_map_fd(e, BS_MAPID_SESSIONS);

	memset(v, 0, sizeof(v));
	for (uint32_t base = 0; base < n; base += CH) {
		uint32_t c = n - base < CH ? n - base : CH;
		for (uint32_t j = 0; j < c; j++) {
			uint8_t a[16], b[16];
			uint32_t i = base + j;
			if (i & 1) { fill_v6(a, i); fill_v6(b, i + 7); } else { fill_v4(a, i); fill_v4(b, i + 7); }
			memset(&k[j], 0, sizeof(k[j]));
			bs_sess_key_make(&k[j], a, (uint16_t)(1024 + i % 60000), b, 25);
		}
		LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
		__u32 cnt = c;
		if (bpf_map_update_batch(fd, k, v, &cnt, &bo)) {
			fprintf(stderr, "fill sessions: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct path {
	const char *name;
	int v6;
	enum tpkt_l4 l4;
	enum tpkt_frag frag;
	int vlans;
	const char *src, *dst;
	uint16_t sport;
};

static double measure(int prog, const uint8_t *pkt, size_t len, uint32_t *action)
{
	double best = 1e18;

	for (int t = 0; t < 3; t++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = repeat);
		if (bpf_prog_test_run_opts(prog, &o)) {
			fprintf(stderr, "test run: %s\n", strerror(errno));
			exit(1);
		}
		*action = o.retval;
		if (o.duration < best)
			best = o.duration;
	}
	return best;
}

int main(int argc, char **argv)
{
	char err[512];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--entries"))
			entries = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--repeat"))
			repeat = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	const char *dir = tu_pin_dir("perf");
	/* room for the probe entries on top of the fill */
	struct bs_enforcer_sizes sz = {entries + 64, entries + 64, entries + 64, entries + 64};
	struct bs_enforcer *e = bs_enforcer_open_sized(dir, &sz, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	int prog = bs_enforcer_prog_fd(e, err, sizeof(err));
	if (prog < 0) {
		fprintf(stderr, "program: %s\n", err);
		return 1;
	}
	uint64_t t0 = bs_mono_ns();
	if (fill_sessions(e, entries) || fill_lpm(e, BS_MAPID_SRC_DROP, entries) ||
	    fill_lpm(e, BS_MAPID_SRC_SHAPE, entries) || fill_lpm(e, BS_MAPID_ALLOW, entries))
		return 1;
	printf("filled 4 maps x %u entries in %.1f s; %u runs per figure, best of 3\n", entries,
	       (double)(bs_mono_ns() - t0) / 1e9, repeat);

	/* the probe entries, one per path */
	struct bs_verdict_msg m[8];
	int n = 0;
	tu_session_msg(&m[n++], "192.0.2.10", 40000, "198.51.100.25", 25, 0);
	tu_session_msg(&m[n++], "2001:db8:1::10", 40000, "2001:db8:2::25", 25, 0);
	tu_source_msg(&m[n++], BS_VK_SOURCE_DROP, "192.0.2.128/25", 0);
	tu_source_msg(&m[n++], BS_VK_SOURCE_DROP, "2001:db8:1:8000::/49", 0);
	tu_source_msg(&m[n], BS_VK_SOURCE_SHAPE, "192.0.2.64/26", 0);
	m[n].rate_pps = 1000000000; m[n++].burst = 1000000; /* always conforms: the CAS path */
	tu_source_msg(&m[n], BS_VK_SOURCE_SHAPE, "2001:db8:1:4000::/50", 0);
	m[n].rate_pps = 1000000000; m[n++].burst = 1000000;
	if (bs_enforcer_apply(e, m, (unsigned)n, err, sizeof(err)) != n) {
		fprintf(stderr, "probe entries: %s\n", err);
		return 1;
	}
	uint8_t a[16], ver, plen;
	bs_parse_prefix("192.0.2.32/27", a, &ver, &plen, err, sizeof(err));
	bs_enforcer_allow_add(e, ver, a, plen, err, sizeof(err));
	bs_parse_prefix("2001:db8:1:2000::/51", a, &ver, &plen, err, sizeof(err));
	bs_enforcer_allow_add(e, ver, a, plen, err, sizeof(err));

	static const struct path paths[] = {
		{"pass, no entry matches", 0, TPKT_TCP, 0, 0, "192.0.2.1", "198.51.100.25", 40000},
		{"pass, allow-list", 0, TPKT_TCP, 0, 0, "192.0.2.33", "198.51.100.25", 40000},
		{"drop, session", 0, TPKT_TCP, 0, 0, "192.0.2.10", "198.51.100.25", 40000},
		{"drop, session (reverse direction)", 0, TPKT_TCP, 0, 0, "198.51.100.25", "192.0.2.10", 25},
		{"drop, source", 0, TPKT_TCP, 0, 0, "192.0.2.200", "198.51.100.25", 40000},
		{"pass, shaping (conforms, CAS)", 0, TPKT_TCP, 0, 0, "192.0.2.70", "198.51.100.25", 40000},
		{"pass, non-TCP (UDP)", 0, TPKT_UDP, 0, 0, "192.0.2.200", "198.51.100.25", 40000},
		{"pass, non-first fragment", 0, TPKT_TCP, TPKT_FRAG_LATER, 0, "192.0.2.200", "198.51.100.25", 40000},
		{"pass, no entry matches, QinQ", 0, TPKT_TCP, 0, 2, "192.0.2.1", "198.51.100.25", 40000},
		{"pass, no entry matches", 1, TPKT_TCP, 0, 0, "2001:db8:1::1", "2001:db8:2::25", 40000},
		{"pass, allow-list", 1, TPKT_TCP, 0, 0, "2001:db8:1:2000::1", "2001:db8:2::25", 40000},
		{"drop, session", 1, TPKT_TCP, 0, 0, "2001:db8:1::10", "2001:db8:2::25", 40000},
		{"drop, source", 1, TPKT_TCP, 0, 0, "2001:db8:1:8000::1", "2001:db8:2::25", 40000},
		{"pass, shaping (conforms, CAS)", 1, TPKT_TCP, 0, 0, "2001:db8:1:4000::1", "2001:db8:2::25", 40000},
	};
	printf("%-38s %-5s %-7s %10s\n", "path", "IP", "action", "ns/packet");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct path *p = &paths[i];
		struct tpkt_spec sp = {.vlans = p->vlans, .l3 = p->v6 ? TPKT_IPV6 : TPKT_IPV4, .l4 = p->l4,
				       .src = p->src, .dst = p->dst, .sport = p->sport, .dport = p->sport == 25 ? 40000 : 25,
				       .frag = p->frag, .payload = 200};
		uint8_t pkt[512];
		uint32_t action;
		size_t len = tpkt_build(&sp, pkt, sizeof(pkt));
		double ns = measure(prog, pkt, len, &action);
		printf("%-38s %-5s %-7s %10.0f\n", p->name, p->v6 ? "IPv6" : "IPv4",
		       action == XDP_DROP ? "drop" : action == XDP_PASS ? "pass" : "?", ns);
	}
	bs_enforcer_close(e);
	return 0;
}
