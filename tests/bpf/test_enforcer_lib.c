/* The bs_enforce library without packets: prefixes, the expiry queue, map
 * sizes and layouts, entries round trip, tracked sweeping (refresh, early
 * disappearance = LRU eviction), full maps, shaping state kept across a
 * refresh, and a program reload that keeps the pinned maps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include "enforcer_user.h"
#include "enforcer_expiry.h"
#include "tpkt.h"
#include "tutil.h"

static void prefixes(void)
{
	static const struct { const char *in; int ok; int ver; int len; const char *shown; } t[] = {
		{"192.0.2.0/24", 1, 4, 24, "192.0.2.0"},
		{"192.0.2.7", 1, 4, 32, "192.0.2.7"},
		{"0.0.0.0/0", 1, 4, 0, "0.0.0.0"},
		{"2001:db8::/32", 1, 6, 32, "2001:db8::"},
		{"::/0", 1, 6, 0, "::"},
		{"::ffff:192.0.2.1", 1, 4, 32, "192.0.2.1"},
		{"2001:db8::1/128", 1, 6, 128, "2001:db8::1"},
		{"192.0.2.1/24", 0}, {"192.0.2.0/33", 0}, {"192.0.2.0/-1", 0}, {"192.0.2.0/+8", 0},
		{"192.0.2.0/8x", 0}, {"2001:db8::/129", 0}, {"2001:db8::1/64", 0}, {"", 0}, {"/", 0},
		{"300.1.1.1", 0}, {"1.2.3", 0}, {"example.com", 0}, {"192.0.2.0/24/8", 0},
		{"2001:db8:::1", 0}, {"192.0.2.0 /24", 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t a[16], v = 0, l = 0;
		char err[256] = "", shown[64];
		int r = bs_parse_prefix(t[i].in, a, &v, &l, err, sizeof(err));
		TU_CHECK((r == 0) == t[i].ok, "prefix '%s': r=%d (%s)", t[i].in, r, err);
		if (r == 0 && t[i].ok) {
			bs_format_addr(a, shown, sizeof(shown));
			TU_CHECK(v == t[i].ver && l == t[i].len && !strcmp(shown, t[i].shown),
				 "prefix '%s' -> v%u /%u %s", t[i].in, v, l, shown);
		}
		if (r)
			TU_CHECK(strstr(err, "malformed prefix") != NULL, "error for '%s' says: %s", t[i].in, err);
	}
}

static void heap(void)
{
	struct bs_expiry_heap h;
	struct bs_expiry_item it;
	uint64_t last = 0;
	int n = 0, ordered = 1;

	TU_CHECK(bs_expiry_init(&h, 1000) == 0, "heap init");
	memset(&it, 0, sizeof(it));
	srand(7);
	for (int i = 0; i < 1005; i++) {
		it.expires_ns = (uint64_t)rand() % 100000 + 1;
		it.map_id = (uint32_t)i;
		bs_expiry_push(&h, &it);
	}
	TU_CHECK(h.n == 1000 && h.overflow == 5, "heap holds %u, overflow %llu", h.n, (unsigned long long)h.overflow);
	for (const struct bs_expiry_item *p; (p = bs_expiry_peek(&h)); bs_expiry_pop(&h), n++) {
		if (p->expires_ns < last)
			ordered = 0;
		last = p->expires_ns;
	}
	TU_CHECK(ordered && n == 1000, "heap pops %d in order: %d", n, ordered);
	bs_expiry_free(&h);
}

static int count;
static struct bs_entry last_entry;
static void counter(void *ctx, const struct bs_entry *x)
{
	count++;
	last_entry = *x;
}

static int list_count(struct bs_enforcer *e, enum bs_entry_kind k)
{
	char err[256];
	count = 0;
	bs_enforcer_list(e, k, counter, NULL, err, sizeof(err));
	return count;
}

static void sizes_and_layouts(const char *dir)
{
	char err[512], sub[300];
	struct bs_enforcer_sizes sz = {64, 8, 8, 8};

	snprintf(sub, sizeof(sub), "%s-sized", dir);
	struct bs_enforcer *e = bs_enforcer_open_sized(sub, &sz, err, sizeof(err));
	TU_CHECK(e && bs_enforcer_map_size(e, BS_MAPID_SESSIONS) == 64 && bs_enforcer_map_size(e, BS_MAPID_SRC_DROP) == 8,
		 "sized open: %s", e ? "" : err);
	bs_enforcer_close(e);
	sz.sessions = 128;
	e = bs_enforcer_open_sized(sub, &sz, err, sizeof(err));
	TU_CHECK(!e && strstr(err, "holds 64 entries, 128 were asked"), "size mismatch: %s", err);
	bs_enforcer_close(e);
	e = bs_enforcer_open(sub, err, sizeof(err));   /* no sizes asked: takes what exists */
	TU_CHECK(e && bs_enforcer_map_size(e, BS_MAPID_SESSIONS) == 64, "reopen as is: %s", e ? "" : err);
	bs_enforcer_close(e);

	/* a pinned map of another layout (an older build) is refused */
	snprintf(sub, sizeof(sub), "%s-layout", dir);
	mkdir(sub, 0700);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, BS_MAP_SESSIONS, sizeof(struct bs_sess_key), 8, 16, NULL);
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", sub, BS_MAP_SESSIONS);
	TU_CHECK(fd >= 0 && bpf_obj_pin(fd, path) == 0, "pin odd map");
	close(fd);
	e = bs_enforcer_open(sub, err, sizeof(err));
	TU_CHECK(!e && strstr(err, "has another layout"), "layout mismatch: %s", err);
	bs_enforcer_close(e);
	unlink(path);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s-sized", dir);
	static const char *names[] = {BS_MAP_SESSIONS, BS_MAP_SRC_DROP, BS_MAP_SRC_SHAPE, BS_MAP_ALLOW,
				      BS_MAP_COUNTERS, BS_MAP_DROP_REASON};
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
		unlink(path);
	}
	rmdir(sub);
}

static void entries(struct bs_enforcer *e)
{
	struct bs_verdict_msg m[4];
	char err[512];

	bs_enforcer_flush(e, 0, err, sizeof(err));
	tu_session_msg(&m[0], "2001:db8::10", 40000, "2001:db8::25", 25, 60);
	tu_source_msg(&m[1], BS_VK_SOURCE_DROP, "198.51.100.0/24", 60);
	tu_source_msg(&m[2], BS_VK_SOURCE_SHAPE, "2001:db8:5::/48", 0);
	m[2].rate_pps = 50;
	m[2].burst = 10;
	tu_source_msg(&m[3], BS_VK_SOURCE_DROP, "203.0.113.7", 60);
	TU_CHECK(bs_enforcer_apply(e, m, 4, err, sizeof(err)) == 4, "apply 4: %s", err);
	TU_CHECK(list_count(e, BS_ENTRY_SESSION) == 1, "one session");
	TU_CHECK(last_entry.ip_ver == 6 && last_entry.reason == 7 && last_entry.expires_ns > bs_mono_ns(),
		 "session entry fields");
	TU_CHECK(list_count(e, BS_ENTRY_SOURCE_DROP) == 2, "two source drops");
	TU_CHECK(list_count(e, BS_ENTRY_SOURCE_SHAPE) == 1 && last_entry.rate_pps == 50 && last_entry.burst == 10 &&
		 last_entry.prefix_len == 48 && last_entry.expires_ns == 0, "shape entry fields");
	TU_CHECK(list_count(e, 0) == 4, "all entries");

	/* delete names either direction of a session */
	struct bs_verdict_msg d;
	tu_session_msg(&d, "2001:db8::25", 25, "2001:db8::10", 40000, 0);
	TU_CHECK(bs_enforcer_del(e, &d, err, sizeof(err)) == 0, "del reversed session: %s", err);
	TU_CHECK(bs_enforcer_del(e, &d, err, sizeof(err)) == -ENOENT, "del twice: ENOENT");
	tu_source_msg(&d, BS_VK_SOURCE_DROP, "198.51.100.0/25", 0);
	TU_CHECK(bs_enforcer_del(e, &d, err, sizeof(err)) == -ENOENT, "del of a longer prefix than stored: ENOENT");
	TU_CHECK(bs_enforcer_flush(e, 0, err, sizeof(err)) == 3, "flush removes the 3 left");

	/* bad messages are refused with EINVAL and a reason */
	struct bs_verdict_msg bad;
	tu_source_msg(&bad, BS_VK_SOURCE_DROP, "198.51.100.0/24", 60);
	bad.prefix_len = 33;
	errno = 0;
	TU_CHECK(bs_enforcer_apply(e, &bad, 1, err, sizeof(err)) == 0 && errno == EINVAL && strstr(err, "longer than 32"),
		 "prefix 33: %s", err);
	tu_session_msg(&bad, "192.0.2.1", 1, "192.0.2.2", 2, 60);
	bad.ip_ver = 6;
	TU_CHECK(bs_enforcer_apply(e, &bad, 1, err, sizeof(err)) == 0 && errno == EINVAL, "family mismatch: %s", err);
	/* IPv4 prefix lengths in the 128-bit form (the dataplane sends 128 for a host) */
	tu_source_msg(&bad, BS_VK_SOURCE_DROP, "198.51.100.7", 60);
	bad.prefix_len = 128;
	TU_CHECK(bs_enforcer_apply(e, &bad, 1, err, sizeof(err)) == 1 && list_count(e, BS_ENTRY_SOURCE_DROP) == 1 &&
		 last_entry.prefix_len == 32, "IPv4 /128 form is the host /32: %s", err);
	tu_source_msg(&bad, BS_VK_SOURCE_DROP, "198.51.100.0/24", 60);
	bad.prefix_len = 120;
	TU_CHECK(bs_enforcer_apply(e, &bad, 1, err, sizeof(err)) == 1 && list_count(e, BS_ENTRY_SOURCE_DROP) == 2,
		 "IPv4 /120 form is /24: %s", err);
	bad.prefix_len = 95;
	TU_CHECK(bs_enforcer_apply(e, &bad, 1, err, sizeof(err)) == 0 && errno == EINVAL, "IPv4 length 95 refused");
	bs_enforcer_flush(e, 0, err, sizeof(err));
	struct bs_verdict_msg two[2];
	tu_session_msg(&two[0], "192.0.2.1", 1, "192.0.2.2", 2, 60);
	two[1] = two[0];
	two[1].kind = 42;
	TU_CHECK(bs_enforcer_apply(e, two, 2, err, sizeof(err)) == 1 && errno == EINVAL && strstr(err, "unknown"),
		 "apply stops at the bad one: %s", err);
	bs_enforcer_flush(e, 0, err, sizeof(err));
}

static void sweeping(struct bs_enforcer *e)
{
	struct bs_verdict_msg m;
	char err[512];
	uint64_t now = bs_mono_ns(), later = now + 5000000000ull;

	bs_enforcer_flush(e, 0, err, sizeof(err));
	/* untracked: full scan */
	tu_session_msg(&m, "192.0.2.1", 1000, "192.0.2.2", 25, 1);
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	TU_CHECK(bs_enforcer_sweep(e, now) == 0, "nothing expired yet");
	TU_CHECK(bs_enforcer_sweep(e, later) == 1, "full sweep removes the expired session");

	TU_CHECK(bs_enforcer_track_expiry(e, 1000, err, sizeof(err)) == 0, "track");
	tu_session_msg(&m, "192.0.2.1", 1001, "192.0.2.2", 25, 1);
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	tu_source_msg(&m, BS_VK_SOURCE_DROP, "198.51.100.0/24", 1);
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	m.ttl_s = 100;                               /* refreshed before it expires */
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	tu_session_msg(&m, "192.0.2.1", 1002, "192.0.2.2", 25, 1);
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	bs_enforcer_del(e, &m, err, sizeof(err));    /* gone before its expiry */
	tu_source_msg(&m, BS_VK_SOURCE_DROP, "198.51.100.0/24", 0); /* never expires: not tracked */
	uint64_t v0 = bs_enforcer_vanished(e);
	int r = bs_enforcer_sweep(e, later);
	TU_CHECK(r == 1, "tracked sweep removed %d, want 1 (the session)", r);
	TU_CHECK(list_count(e, BS_ENTRY_SOURCE_DROP) == 1, "refreshed source drop stays");
	TU_CHECK(bs_enforcer_vanished(e) - v0 == 1, "one entry vanished before expiry");
	TU_CHECK(bs_enforcer_sweep(e, now + 200000000000ull) == 1, "refreshed entry goes at its own expiry");
	bs_enforcer_flush(e, 0, err, sizeof(err));
}

static void lru_and_full(const char *dir)
{
	char err[512], sub[300];
	struct bs_enforcer_sizes sz = {64, 8, 8, 8};
	struct bs_verdict_msg m;

	snprintf(sub, sizeof(sub), "%s-small", dir);
	struct bs_enforcer *e = bs_enforcer_open_sized(sub, &sz, err, sizeof(err));
	if (!e) {
		TU_CHECK(0, "open small: %s", err);
		return;
	}
	bs_enforcer_track_expiry(e, 4096, err, sizeof(err));
	for (int i = 0; i < 1000; i++) {
		tu_session_msg(&m, "192.0.2.1", (uint16_t)(2000 + i), "192.0.2.2", 25, 1);
		TU_CHECK(bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 1, "LRU map takes every insert: %s", err);
	}
	int live = list_count(e, BS_ENTRY_SESSION);
	int removed = bs_enforcer_sweep(e, bs_mono_ns() + 5000000000ull);
	uint64_t vanished = bs_enforcer_vanished(e);
	printf("LRU of 64: %d live after 1000 inserts; sweep removed %d, %llu evicted before expiry\n", live, removed,
	       (unsigned long long)vanished);
	TU_CHECK(live <= 64 + 8 && removed == live && (uint64_t)removed + vanished == 1000, "eviction accounting");

	/* LPM maps have no LRU: full is an error, unless expired entries can go */
	for (int i = 0; i < 8; i++) {
		char p[32];
		snprintf(p, sizeof(p), "203.0.113.%d", i);
		tu_source_msg(&m, BS_VK_SOURCE_DROP, p, 60);
		TU_CHECK(bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 1, "fill source drops: %s", err);
	}
	tu_source_msg(&m, BS_VK_SOURCE_DROP, "203.0.113.100", 60);
	errno = 0;
	TU_CHECK(bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 0 && errno == ENOSPC && strstr(err, "is full"),
		 "full source-drop map: %s", err);
	tu_source_msg(&m, BS_VK_SOURCE_DROP, "203.0.113.3", 0);
	bs_enforcer_del(e, &m, err, sizeof(err));
	tu_put_expired_source(e, "203.0.113.3");
	tu_source_msg(&m, BS_VK_SOURCE_DROP, "203.0.113.100", 60);
	TU_CHECK(bs_enforcer_apply(e, &m, 1, err, sizeof(err)) == 1, "full map with an expired entry makes room: %s", err);
	bs_enforcer_close(e);
	static const char *names[] = {BS_MAP_SESSIONS, BS_MAP_SRC_DROP, BS_MAP_SRC_SHAPE, BS_MAP_ALLOW,
				      BS_MAP_COUNTERS, BS_MAP_DROP_REASON};
	for (int i = 0; i < 6; i++) {
		char path[400];
		snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
		unlink(path);
	}
	rmdir(sub);
}

static void shape_refresh(struct bs_enforcer *e)
{
	struct bs_verdict_msg m;
	struct bs_lpm_key k;
	struct bs_shape_val v;
	char err[256];
	int fd = bs_enforcer_map_fd(e, BS_MAPID_SRC_SHAPE);

	tu_source_msg(&m, BS_VK_SOURCE_SHAPE, "192.0.2.0/24", 60);
	m.rate_pps = 10;
	m.burst = 5;
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	memset(&k, 0, sizeof(k));
	memcpy(k.addr, m.src, 16);
	k.prefixlen = 120;
	bpf_map_lookup_elem(fd, &k, &v);
	v.tat_ns = 123456789;
	bpf_map_update_elem(fd, &k, &v, BPF_EXIST);
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	bpf_map_lookup_elem(fd, &k, &v);
	TU_CHECK(v.tat_ns == 123456789, "refresh keeps the bucket state");
	m.rate_pps = 20;
	bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	bpf_map_lookup_elem(fd, &k, &v);
	TU_CHECK(v.tat_ns == 0 && v.interval_ns == 50000000 && v.tolerance_ns == 200000000,
		 "a new rate starts a new bucket (interval %llu tolerance %llu)", (unsigned long long)v.interval_ns,
		 (unsigned long long)v.tolerance_ns);
	bs_enforcer_flush(e, 0, err, sizeof(err));
}

static void reload(const char *dir)
{
	char err[512];
	struct bs_verdict_msg m;
	struct bs_enforcer *e1 = bs_enforcer_open(dir, err, sizeof(err));
	int p1 = e1 ? bs_enforcer_prog_fd(e1, err, sizeof(err)) : -1;

	tu_session_msg(&m, "192.0.2.50", 5555, "198.51.100.25", 25, 600);
	TU_CHECK(p1 >= 0 && bs_enforcer_apply(e1, &m, 1, err, sizeof(err)) == 1, "first load: %s", err);
	bs_enforcer_close(e1);
	/* a restarted loader: new program instance, same maps */
	struct bs_enforcer *e2 = bs_enforcer_open(dir, err, sizeof(err));
	int p2 = e2 ? bs_enforcer_prog_fd(e2, err, sizeof(err)) : -1;
	uint8_t pkt[128];
	struct tpkt_spec sp = {.l3 = TPKT_IPV4, .l4 = TPKT_TCP, .src = "192.0.2.50", .dst = "198.51.100.25",
			       .sport = 5555, .dport = 25};
	size_t len = tpkt_build(&sp, pkt, sizeof(pkt));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len, .repeat = 1);
	TU_CHECK(p2 >= 0 && bpf_prog_test_run_opts(p2, &o) == 0 && o.retval == XDP_DROP,
		 "reloaded program enforces the verdict from before (action %u)", o.retval);
	TU_CHECK(list_count(e2, BS_ENTRY_SESSION) == 1, "entry survived the reload");
	bs_enforcer_close(e2);
}

int main(void)
{
	char err[512];
	const char *dir = tu_pin_dir("lib");

	prefixes();
	heap();
	sizes_and_layouts(dir);
	struct bs_enforcer *e = bs_enforcer_open(dir, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	entries(e);
	shape_refresh(e);
	sweeping(e);
	bs_enforcer_close(e);
	lru_and_full(dir);
	reload(dir);
	printf("%d failures\n", tu_failures);
	return tu_failures ? 1 : 0;
}
