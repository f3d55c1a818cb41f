/* Table-driven BPF_PROG_TEST_RUN tests of the XDP enforcer (Katran style):
 * each row is map state + an input packet -> expected XDP action, the one
 * action counter that must move, and the event counter (if any). The
 * scenarios run for IPv4 and IPv6, untagged, 802.1Q and QinQ. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "enforcer_user.h"
#include "tpkt.h"
#include "tutil.h"

enum st_kind { ST_NONE = 0, ST_SESSION, ST_SESSION_EXPIRED, ST_SRC_DROP, ST_SRC_DROP_EXPIRED,
	       ST_SHAPE_FRESH, ST_SHAPE_EMPTY, ST_ALLOW };

/* Map state rows use roles instead of literal addresses so that one row
 * serves both families: C = client, S = server, O = other host. */
struct st {
	enum st_kind kind;
	const char *what;      /* "C:S" session of client port cport to server 25; or prefix role "C", "Cnet", "S", "Onet" */
	uint16_t cport;
};

struct row {
	const char *name;
	struct st state[3];
	int reverse;           /* packet goes server -> client */
	enum tpkt_l4 l4;
	enum tpkt_frag frag;
	int ip_opts, v6_ext;
	enum tpkt_defect defect;
	size_t cut_to;
	int want_action;
	enum bs_counter want;
	int want_event;        /* -1 none */
};

struct fam {
	int ver;
	const char *c, *s, *o, *cnet, *onet;
};

static const struct fam fams[] = {
	{4, "192.0.2.10", "198.51.100.25", "203.0.113.5", "192.0.2.0/24", "203.0.113.0/24"},
	{6, "2001:db8:1::10", "2001:db8:2::25", "2001:db8:3::5", "2001:db8:1::/48", "2001:db8:3::/48"},
};

#define NOEV -1
static const struct row rows[] = {
	{"no entries: pass", {{0}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NO_MATCH, NOEV},
	{"session drop, client to server", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SESSION, NOEV},
	{"session drop, server to client", {{ST_SESSION, "C:S", 40000}}, 1, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SESSION, NOEV},
	{"other session of same hosts passes", {{ST_SESSION, "C:S", 40001}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NO_MATCH, NOEV},
	{"expired session passes", {{ST_SESSION_EXPIRED, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NO_MATCH, BS_CNT_EV_SESSION_EXPIRED},
	{"source drop by prefix", {{ST_SRC_DROP, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SOURCE, NOEV},
	{"source drop by host", {{ST_SRC_DROP, "C"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SOURCE, NOEV},
	{"source drop matches the source only", {{ST_SRC_DROP, "Cnet"}}, 1, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NO_MATCH, NOEV},
	{"source drop of another prefix", {{ST_SRC_DROP, "Onet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NO_MATCH, NOEV},
	{"expired source drop passes", {{ST_SRC_DROP_EXPIRED, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NO_MATCH, BS_CNT_EV_SOURCE_EXPIRED},
	{"expired session falls through to source drop", {{ST_SESSION_EXPIRED, "C:S", 40000}, {ST_SRC_DROP, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SOURCE, BS_CNT_EV_SESSION_EXPIRED},
	{"shaping with tokens passes", {{ST_SHAPE_FRESH, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_SHAPE, NOEV},
	{"shaping without tokens drops", {{ST_SHAPE_EMPTY, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SHAPE, NOEV},
	{"session beats source drop", {{ST_SESSION, "C:S", 40000}, {ST_SRC_DROP, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SESSION, NOEV},
	{"source drop beats shaping", {{ST_SHAPE_FRESH, "Cnet"}, {ST_SRC_DROP, "C"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SOURCE, NOEV},
	{"allow (source) beats session", {{ST_SESSION, "C:S", 40000}, {ST_ALLOW, "Cnet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_ALLOW, NOEV},
	{"allow (destination) beats session", {{ST_SESSION, "C:S", 40000}, {ST_ALLOW, "S"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_ALLOW, NOEV},
	{"allow beats source drop and shaping", {{ST_SRC_DROP, "Cnet"}, {ST_SHAPE_EMPTY, "C"}, {ST_ALLOW, "C"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_ALLOW, NOEV},
	{"allow of another prefix does not help", {{ST_SRC_DROP, "Cnet"}, {ST_ALLOW, "Onet"}}, 0, TPKT_TCP, 0, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SOURCE, NOEV},
	{"UDP from dropped source passes", {{ST_SRC_DROP, "Cnet"}}, 0, TPKT_UDP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NON_TCP, NOEV},
	{"ICMP from dropped source passes", {{ST_SRC_DROP, "Cnet"}}, 0, TPKT_ICMP, 0, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_NON_TCP, NOEV},
	{"non-first fragment passes", {{ST_SRC_DROP, "Cnet"}}, 0, TPKT_TCP, TPKT_FRAG_LATER, 0, 0, 0, 0, XDP_PASS, BS_CNT_PASS_FRAGMENT, NOEV},
	{"first fragment is judged", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, TPKT_FRAG_FIRST, 0, 0, 0, 0, XDP_DROP, BS_CNT_DROP_SESSION, NOEV},
	{"IPv4 options / IPv6 extension headers", {{ST_SESSION, "C:S", 40000}}, 1, TPKT_TCP, 0, 3, 3, 0, 0, XDP_DROP, BS_CNT_DROP_SESSION, NOEV},
	{"max IPv4 options / IPv6 ext + fragment", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, TPKT_FRAG_FIRST, 10, 4, 0, 0, XDP_DROP, BS_CNT_DROP_SESSION, NOEV},
	{"frame cut inside TCP header", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, TPKT_CUT, 30, XDP_PASS, BS_CNT_PASS_TRUNCATED, NOEV},
	{"frame cut inside IP header", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, TPKT_CUT, 14 + 10, XDP_PASS, BS_CNT_PASS_TRUNCATED, NOEV},
	{"frame cut after Ethernet", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, TPKT_CUT, 14, XDP_PASS, BS_CNT_PASS_TRUNCATED, NOEV},
	{"TCP header short of 20 bytes", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, TPKT_TCP_SHORT, 0, XDP_PASS, BS_CNT_PASS_TRUNCATED, NOEV},
	{"IPv4 ihl 4 (IPv6: no such field, passes as no match)", {{ST_SRC_DROP, "Onet"}}, 0, TPKT_TCP, 0, 0, 0, TPKT_BAD_IHL, 0, XDP_PASS, BS_CNT_PASS_MALFORMED, NOEV},
	{"TCP data offset 4", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, TPKT_BAD_DOFF, 0, XDP_PASS, BS_CNT_PASS_MALFORMED, NOEV},
	{"IP version contradicts ethertype", {{ST_SESSION, "C:S", 40000}}, 0, TPKT_TCP, 0, 0, 0, TPKT_BAD_VERSION, 0, XDP_PASS, BS_CNT_PASS_MALFORMED, NOEV},
};

static const char *role(const struct fam *f, const char *r)
{
	if (!strcmp(r, "C")) return f->c;
	if (!strcmp(r, "S")) return f->s;
	if (!strcmp(r, "O")) return f->o;
	if (!strcmp(r, "Cnet")) return f->cnet;
	if (!strcmp(r, "Onet")) return f->onet;
	fprintf(stderr, "bad role %s\n", r);
	exit(1);
}

static void set_state(struct bs_enforcer *e, const struct fam *f, const struct st *s)
{
	struct bs_verdict_msg m;
	char err[256];
	int r = 0;

	switch (s->kind) {
	case ST_NONE:
		return;
	case ST_SESSION:
		tu_session_msg(&m, f->c, s->cport, f->s, 25, 600);
		r = bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 1 ? 0 : -1;
		break;
	case ST_SESSION_EXPIRED:
		r = tu_put_expired_session(e, f->c, s->cport, f->s, 25);
		break;
	case ST_SRC_DROP:
		tu_source_msg(&m, BS_VK_SOURCE_DROP, role(f, s->what), 600);
		r = bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 1 ? 0 : -1;
		break;
	case ST_SRC_DROP_EXPIRED:
		r = tu_put_expired_source(e, role(f, s->what));
		break;
	case ST_SHAPE_FRESH:
	case ST_SHAPE_EMPTY:
		tu_source_msg(&m, BS_VK_SOURCE_SHAPE, role(f, s->what), 600);
		m.rate_pps = 1;   /* one packet per second, burst 1 */
		r = bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 1 ? 0 : -1;
		if (!r && s->kind == ST_SHAPE_EMPTY) {
			/* bucket drained: the next slot is 10 s away */
			struct bs_lpm_key k = {.prefixlen = (m.ip_ver == 4 ? 96u : 0u) + m.prefix_len};
			struct bs_shape_val v;
			int fd = bs_enforcer_map_fd(e, BS_MAPID_SRC_SHAPE);
			memcpy(k.addr, m.src, 16);
			r = bpf_map_lookup_elem(fd, &k, &v);
			v.tat_ns = bs_mono_ns() + 10000000000ull;
			r = r ? r : bpf_map_update_elem(fd, &k, &v, BPF_ANY);
		}
		break;
	case ST_ALLOW: {
		uint8_t a[16], v, l;
		if (bs_parse_prefix(role(f, s->what), a, &v, &l, err, sizeof(err)))
			r = -1;
		else
			r = bs_enforcer_allow_add(e, v, a, l, err, sizeof(err));
		break;
	}
	}
	if (r) {
		fprintf(stderr, "setting map state failed: %s\n", err);
		exit(1);
	}
}

static void hits_sum(void *ctx, const struct bs_entry *x)
{
	*(uint64_t *)ctx += x->hits;
}

static void run_row(struct bs_enforcer *e, int prog, const struct row *rw, const struct fam *f, int vlans)
{
	struct tpkt_spec sp = {
		.vlans = vlans, .l3 = f->ver == 4 ? TPKT_IPV4 : TPKT_IPV6, .l4 = rw->l4,
		.src = rw->reverse ? f->s : f->c, .dst = rw->reverse ? f->c : f->s,
		.sport = rw->reverse ? 25 : 40000, .dport = rw->reverse ? 40000 : 25,
		.frag = rw->frag, .ip_opt_words = rw->ip_opts, .v6_ext = rw->v6_ext,
		.defect = rw->defect, .cut_to = rw->cut_to ? rw->cut_to + 4 * (size_t)vlans : 0, .payload = 64,
	};
	struct bs_enforcer_stats before, after;
	uint8_t pkt[2048];
	char err[256];
	size_t len;
	int want_action = rw->want_action;
	enum bs_counter want = rw->want;

	/* IPv6 has no header length to get wrong: a "bad ihl" packet is fine */
	if (f->ver == 6 && rw->defect == TPKT_BAD_IHL)
		want = BS_CNT_PASS_NO_MATCH;
	if (rw->defect == TPKT_CUT && rw->cut_to == 14)
		sp.cut_to = 14 + 4 * (size_t)vlans + 2; /* keep the tags whole, cut the L3 */

	bs_enforcer_flush(e, 0, err, sizeof(err));
	bs_enforcer_flush(e, BS_ENTRY_ALLOW, err, sizeof(err));
	for (int i = 0; i < 3; i++)
		set_state(e, f, &rw->state[i]);

	len = tpkt_build(&sp, pkt, sizeof(pkt));
	if (!len) {
		TU_CHECK(0, "[%s IPv%d vlans=%d] packet build failed", rw->name, f->ver, vlans);
		return;
	}
	if (bs_enforcer_stats(e, &before, err, sizeof(err))) {
		TU_CHECK(0, "stats: %s", err);
		return;
	}
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = 1);
	int r = bpf_prog_test_run_opts(prog, &o);
	TU_CHECK(r == 0, "[%s IPv%d vlans=%d] test run failed: %s", rw->name, f->ver, vlans, strerror(errno));
	TU_CHECK(o.retval == (__u32)want_action, "[%s IPv%d vlans=%d] action %u, want %d", rw->name, f->ver, vlans,
		 o.retval, want_action);
	bs_enforcer_stats(e, &after, err, sizeof(err));
	for (int c = 0; c < BS_CNT_MAX; c++) {
		uint64_t d = after.cnt[c].packets - before.cnt[c].packets;
		uint64_t w = (c == (int)want || c == rw->want_event) ? 1 : 0;
		TU_CHECK(d == w, "[%s IPv%d vlans=%d] counter %s moved by %llu, want %llu", rw->name, f->ver, vlans,
			 bs_counter_name(c), (unsigned long long)d, (unsigned long long)w);
		if (c == (int)want)
			TU_CHECK(after.cnt[c].bytes - before.cnt[c].bytes == len, "[%s] bytes of %s", rw->name,
				 bs_counter_name(c));
	}
	/* per-entry hit counts agree with the drop counters */
	uint64_t hits = 0;
	bs_enforcer_list(e, BS_ENTRY_SESSION, hits_sum, &hits, err, sizeof(err));
	bs_enforcer_list(e, BS_ENTRY_SOURCE_DROP, hits_sum, &hits, err, sizeof(err));
	bs_enforcer_list(e, BS_ENTRY_SOURCE_SHAPE, hits_sum, &hits, err, sizeof(err));
	uint64_t drops = after.cnt[BS_CNT_DROP_SESSION].packets - before.cnt[BS_CNT_DROP_SESSION].packets +
			 after.cnt[BS_CNT_DROP_SOURCE].packets - before.cnt[BS_CNT_DROP_SOURCE].packets +
			 after.cnt[BS_CNT_DROP_SHAPE].packets - before.cnt[BS_CNT_DROP_SHAPE].packets;
	TU_CHECK(hits == drops, "[%s IPv%d vlans=%d] entry hits %llu, drops %llu", rw->name, f->ver, vlans,
		 (unsigned long long)hits, (unsigned long long)drops);
}

static void run_extra(struct bs_enforcer *e, int prog)
{
	/* non-IP and a VLAN tag cut short, once each */
	struct { const char *name; struct tpkt_spec sp; enum bs_counter want; } x[] = {
		{"ARP", {.l3 = TPKT_ARP}, BS_CNT_PASS_NON_IP},
		{"ARP in QinQ", {.l3 = TPKT_ARP, .vlans = 2}, BS_CNT_PASS_NON_IP},
		{"cut inside 2nd VLAN tag", {.l3 = TPKT_IPV4, .l4 = TPKT_TCP, .vlans = 2, .src = "192.0.2.1",
					     .dst = "192.0.2.2", .sport = 1, .dport = 2, .defect = TPKT_CUT, .cut_to = 20},
		 BS_CNT_PASS_TRUNCATED},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++) {
		struct bs_enforcer_stats before, after;
		uint8_t pkt[256];
		size_t len = tpkt_build(&x[i].sp, pkt, sizeof(pkt));
		bs_enforcer_stats(e, &before, err, sizeof(err));
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = 1);
		int r = bpf_prog_test_run_opts(prog, &o);
		bs_enforcer_stats(e, &after, err, sizeof(err));
		TU_CHECK(r == 0 && o.retval == XDP_PASS, "[%s] action %u", x[i].name, o.retval);
		TU_CHECK(after.cnt[x[i].want].packets - before.cnt[x[i].want].packets == 1, "[%s] counter %s",
			 x[i].name, bs_counter_name(x[i].want));
	}
}

/* Random damage to valid packets (byte flips in the headers, random
 * lengths): the program must answer PASS or DROP, and each run must land
 * in exactly one action counter. */
static void run_random(struct bs_enforcer *e, int prog)
{
	const struct fam *f4 = &fams[0], *f6 = &fams[1];
	struct bs_enforcer_stats before, after;
	char err[256];
	int runs = 0;

	bs_enforcer_flush(e, 0, err, sizeof(err));
	bs_enforcer_flush(e, BS_ENTRY_ALLOW, err, sizeof(err));
	for (int i = 0; i < 2; i++) {
		const struct fam *f = i ? f6 : f4;
		struct st st[] = {{ST_SESSION, "C:S", 40000}, {ST_SRC_DROP, "Onet", 0}, {ST_SHAPE_FRESH, "Cnet", 0}};
		for (int j = 0; j < 3; j++)
			set_state(e, f, &st[j]);
	}
	bs_enforcer_stats(e, &before, err, sizeof(err));
	srand(12345);
	for (int base = 0; base < 12; base++) {
		const struct fam *f = base & 1 ? f6 : f4;
		struct tpkt_spec sp = {.vlans = (base >> 1) % 3, .l3 = base & 1 ? TPKT_IPV6 : TPKT_IPV4, .l4 = TPKT_TCP,
				       .src = base & 8 ? f->o : f->c, .dst = f->s, .sport = 40000, .dport = 25,
				       .ip_opt_words = base & 4 ? 2 : 0, .v6_ext = base & 4 ? 2 : 0, .payload = 40};
		uint8_t good[512], pkt[512];
		size_t len = tpkt_build(&sp, good, sizeof(good));
		for (int k = 0; k < 2000; k++, runs++) {
			size_t l = len;
			memcpy(pkt, good, len);
			int flips = 1 + rand() % 4;
			for (int x = 0; x < flips; x++)
				pkt[rand() % (len < 90 ? len : 90)] = (uint8_t)rand();
			if (rand() % 4 == 0)
				l = 14 + (size_t)rand() % (len - 13);
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)l, .repeat = 1);
			int r = bpf_prog_test_run_opts(prog, &o);
			TU_CHECK(r == 0 && (o.retval == XDP_PASS || o.retval == XDP_DROP), "random %d: r=%d action %u",
				 runs, r, o.retval);
		}
	}
	bs_enforcer_stats(e, &after, err, sizeof(err));
	uint64_t actions = 0;
	for (int c = 0; c < BS_CNT_EV_SESSION_EXPIRED; c++)
		actions += after.cnt[c].packets - before.cnt[c].packets;
	TU_CHECK(actions == (uint64_t)runs, "random: %d runs, %llu counted actions", runs, (unsigned long long)actions);
	printf("%d damaged packets: each passed or dropped and counted once\n", runs);
}

int main(void)
{
	char err[512];
	const char *dir = tu_pin_dir("table");
	struct bs_enforcer *e = bs_enforcer_open(dir, err, sizeof(err));
	int prog, n = 0;

	if (!e) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	prog = bs_enforcer_prog_fd(e, err, sizeof(err));
	if (prog < 0) {
		fprintf(stderr, "program: %s\n", err);
		return 1;
	}
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++)
		for (int vlans = 0; vlans <= 2; vlans++)
			for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++, n++)
				run_row(e, prog, &rows[i], &fams[f], vlans);
	run_extra(e, prog);
	run_random(e, prog);
	bs_enforcer_close(e);
	printf("%d table cases (+3 extra), %d failures\n", n, tu_failures);
	return tu_failures ? 1 : 0;
}
