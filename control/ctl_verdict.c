/* backstopctl verdict add|del|list|flush and allow add|del|list: the
 * enforcer's entries, written straight into the pinned maps, so they work
 * whether or not the dataplane runs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl.h"
#include "ctl_enforce.h"

static const char verdict_usage[] =
	"usage: backstopctl verdict add session SRC SPORT DST DPORT --ttl S [--reason N]\n"
	"       backstopctl verdict add source-drop PREFIX --ttl S [--reason N]\n"
	"       backstopctl verdict add source-shape PREFIX --rate PPS --burst N --ttl S [--reason N]\n"
	"       backstopctl verdict del session SRC SPORT DST DPORT\n"
	"       backstopctl verdict del source-drop|source-shape PREFIX\n"
	"       backstopctl verdict list [session|source-drop|source-shape] [--json]\n"
	"       backstopctl verdict flush [session|source-drop|source-shape]\n"
	"  (--ttl 0: never expires; every command takes --pin-dir DIR)\n";

static const char allow_usage[] =
	"usage: backstopctl allow add PREFIX | allow del PREFIX | allow list  [--pin-dir DIR]\n";

static int kind_of(const char *w)
{
	if (!strcmp(w, "session"))
		return BS_VK_SESSION_DROP;
	if (!strcmp(w, "source-drop"))
		return BS_VK_SOURCE_DROP;
	if (!strcmp(w, "source-shape"))
		return BS_VK_SOURCE_SHAPE;
	return 0;
}

/* Parses the target words of add/del into m (after the kind word). */
static int parse_target(const char *cmd, int kind, int argc, char **argv, struct bs_verdict_msg *m)
{
	char err[256];
	uint32_t port;

	memset(m, 0, sizeof(*m));
	m->kind = (uint8_t)kind;
	if (kind == BS_VK_SESSION_DROP) {
		uint8_t v2;
		if (argc != 4) {
			fprintf(stderr, "backstopctl verdict %s session: needs SRC SPORT DST DPORT\n", cmd);
			return -1;
		}
		if (bs_parse_addr(argv[0], m->src, &m->ip_ver)) {
			fprintf(stderr, "backstopctl verdict %s: '%s' is not an IPv4 or IPv6 address\n", cmd, argv[0]);
			return -1;
		}
		if (bs_parse_addr(argv[2], m->dst, &v2)) {
			fprintf(stderr, "backstopctl verdict %s: '%s' is not an IPv4 or IPv6 address\n", cmd, argv[2]);
			return -1;
		}
		if (v2 != m->ip_ver) {
			fprintf(stderr, "backstopctl verdict %s: %s and %s are not of the same IP version\n", cmd,
				argv[0], argv[2]);
			return -1;
		}
		if (ctl_parse_u32(argv[1], 1, 65535, &port)) {
			fprintf(stderr, "backstopctl verdict %s: port '%s' is not 1..65535\n", cmd, argv[1]);
			return -1;
		}
		m->sport = (uint16_t)port;
		if (ctl_parse_u32(argv[3], 1, 65535, &port)) {
			fprintf(stderr, "backstopctl verdict %s: port '%s' is not 1..65535\n", cmd, argv[3]);
			return -1;
		}
		m->dport = (uint16_t)port;
		m->prefix_len = m->ip_ver == 4 ? 32 : 128;
		return 0;
	}
	if (argc != 1) {
		fprintf(stderr, "backstopctl verdict %s: needs one PREFIX\n", cmd);
		return -1;
	}
	if (bs_parse_prefix(argv[0], m->src, &m->ip_ver, &m->prefix_len, err, sizeof(err))) {
		fprintf(stderr, "backstopctl verdict %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

static int verdict_add(int argc, char **argv, const char *pin_dir)
{
	struct bs_verdict_msg m;
	char err[512];
	int kind, missing;
	const char *ttl, *rate = NULL, *burst = NULL, *reason;

	ttl = ctl_take_opt(&argc, argv, "ttl", &missing);
	if (missing || !ttl) {
		fprintf(stderr, "backstopctl verdict add: --ttl SECONDS is required (0: never expires)\n");
		return 2;
	}
	reason = ctl_take_opt(&argc, argv, "reason", &missing);
	if (missing) {
		fprintf(stderr, "backstopctl verdict add: --reason needs a number\n");
		return 2;
	}
	if (argc < 2 || !(kind = kind_of(argv[1]))) {
		fputs(verdict_usage, stderr);
		return 2;
	}
	if (kind == BS_VK_SOURCE_SHAPE) {
		int m1, m2;
		rate = ctl_take_opt(&argc, argv, "rate", &m1);
		burst = ctl_take_opt(&argc, argv, "burst", &m2);
		if (!rate || !burst) {
			fprintf(stderr, "backstopctl verdict add source-shape: --rate PPS and --burst N are required\n");
			return 2;
		}
	}
	if (parse_target("add", kind, argc - 2, argv + 2, &m))
		return 2;
	if (ctl_parse_u32(ttl, 0, 100000000, &m.ttl_s)) {
		fprintf(stderr, "backstopctl verdict add: --ttl '%s' is not a number of seconds (0..100000000)\n", ttl);
		return 2;
	}
	uint32_t rs = 0;
	if (reason && ctl_parse_u32(reason, 0, 255, &rs)) {
		fprintf(stderr, "backstopctl verdict add: --reason '%s' is not 0..255\n", reason);
		return 2;
	}
	m.reason = (uint8_t)rs;
	if (kind == BS_VK_SOURCE_SHAPE) {
		if (ctl_parse_u32(rate, 1, 1000000000, &m.rate_pps)) {
			fprintf(stderr, "backstopctl verdict add: --rate '%s' is not 1..1000000000 packets/s\n", rate);
			return 2;
		}
		if (ctl_parse_u32(burst, 1, 100000000, &m.burst)) {
			fprintf(stderr, "backstopctl verdict add: --burst '%s' is not 1..100000000 packets\n", burst);
			return 2;
		}
	}
	m.t_detect_ns = bs_mono_ns();
	struct bs_enforcer *e = ctl_open_enforcer("verdict add", pin_dir);
	if (!e)
		return 1;
	int r = bs_enforcer_apply(e, &m, 1, err, sizeof(err));
	bs_enforcer_close(e);
	if (r != 1) {
		fprintf(stderr, "backstopctl verdict add: %s\n", err);
		return 1;
	}
	return 0;
}

static int verdict_del(int argc, char **argv, const char *pin_dir)
{
	struct bs_verdict_msg m;
	char err[512];
	int kind;

	if (argc < 2 || !(kind = kind_of(argv[1]))) {
		fputs(verdict_usage, stderr);
		return 2;
	}
	if (parse_target("del", kind, argc - 2, argv + 2, &m))
		return 2;
	struct bs_enforcer *e = ctl_open_enforcer("verdict del", pin_dir);
	if (!e)
		return 1;
	int r = bs_enforcer_del(e, &m, err, sizeof(err));
	bs_enforcer_close(e);
	if (r) {
		fprintf(stderr, "backstopctl verdict del: %s\n", err);
		return 1;
	}
	return 0;
}

static void fmt_end(const uint8_t *a, uint16_t port, char *buf, size_t len)
{
	char s[64];

	bs_format_addr(a, s, sizeof(s));
	snprintf(buf, len, bs_addr_is_v4mapped(a) ? "%s:%u" : "[%s]:%u", s, port);
}

static void print_entry(void *ctx, const struct bs_entry *x)
{
	uint64_t now = *(const uint64_t *)ctx;
	char a[80], b[80], ttl[32];

	ctl_fmt_ttl(x->expires_ns, now, ttl, sizeof(ttl));
	switch (x->kind) {
	case BS_ENTRY_SESSION:
		fmt_end(x->src, x->sport, a, sizeof(a));
		fmt_end(x->dst, x->dport, b, sizeof(b));
		printf("session %s <-> %s ttl %s reason %u drops %llu\n", a, b, ttl, x->reason,
		       (unsigned long long)x->hits);
		break;
	case BS_ENTRY_SOURCE_DROP:
		bs_format_addr(x->src, a, sizeof(a));
		printf("source-drop %s/%u ttl %s reason %u drops %llu\n", a, x->prefix_len, ttl, x->reason,
		       (unsigned long long)x->hits);
		break;
	case BS_ENTRY_SOURCE_SHAPE:
		bs_format_addr(x->src, a, sizeof(a));
		printf("source-shape %s/%u rate %u burst %u ttl %s reason %u passed %llu drops %llu\n", a,
		       x->prefix_len, x->rate_pps, x->burst, ttl, x->reason, (unsigned long long)x->passed,
		       (unsigned long long)x->hits);
		break;
	case BS_ENTRY_ALLOW:
		bs_format_addr(x->src, a, sizeof(a));
		printf("allow %s/%u\n", a, x->prefix_len);
		break;
	}
}

static const char *const kind_word[] = {"", "session", "source-drop", "source-shape", "allow"};

/* One JSON object per line (JSON Lines), the same fields as the text form. */
static void print_entry_json(void *ctx, const struct bs_entry *x)
{
	uint64_t now = *(const uint64_t *)ctx;
	char a[64], b[64];
	long long ttl = !x->expires_ns ? -1 : x->expires_ns <= now ? 0 :
			(long long)((x->expires_ns - now + 999999999ull) / 1000000000ull);

	bs_format_addr(x->src, a, sizeof(a));
	printf("{\"kind\": \"%s\"", kind_word[x->kind]);
	if (x->kind == BS_ENTRY_SESSION) {
		bs_format_addr(x->dst, b, sizeof(b));
		/* stored in canonical order: the two ends, not client and server */
		printf(", \"a_ip\": \"%s\", \"a_port\": %u, \"b_ip\": \"%s\", \"b_port\": %u", a, x->sport, b,
		       x->dport);
	} else {
		printf(", \"prefix\": \"%s/%u\"", a, x->prefix_len);
	}
	if (x->kind != BS_ENTRY_ALLOW)
		printf(", \"ttl_s\": %lld, \"reason\": %u, \"drops\": %llu", ttl, x->reason, (unsigned long long)x->hits);
	if (x->kind == BS_ENTRY_SOURCE_SHAPE)
		printf(", \"rate_pps\": %u, \"burst\": %u, \"passed\": %llu", x->rate_pps, x->burst,
		       (unsigned long long)x->passed);
	printf("}\n");
}

static int list_or_flush(int argc, char **argv, const char *pin_dir, int flush)
{
	static const enum bs_entry_kind map_kind[] = {0, BS_ENTRY_SESSION, BS_ENTRY_SOURCE_DROP, BS_ENTRY_SOURCE_SHAPE};
	const char *what = flush ? "verdict flush" : "verdict list";
	enum bs_entry_kind kind = 0;
	bs_entry_cb out = print_entry;
	char err[512];
	int r;

	if (!flush && argc >= 2 && !strcmp(argv[argc - 1], "--json")) {
		out = print_entry_json;
		argc--;
	}
	if (argc > 2) {
		fputs(verdict_usage, stderr);
		return 2;
	}
	if (argc == 2) {
		int k = kind_of(argv[1]);
		if (!k) {
			fprintf(stderr, "backstopctl %s: '%s' is not session, source-drop or source-shape\n", what,
				argv[1]);
			return 2;
		}
		kind = map_kind[k];
	}
	struct bs_enforcer *e = ctl_open_enforcer(what, pin_dir);
	if (!e)
		return 1;
	if (flush) {
		r = bs_enforcer_flush(e, kind, err, sizeof(err));
		if (r >= 0)
			printf("removed %d entries\n", r);
	} else {
		uint64_t now = bs_mono_ns();
		if (kind)
			r = bs_enforcer_list(e, kind, out, &now, err, sizeof(err));
		else
			for (int k = BS_ENTRY_SESSION; k <= BS_ENTRY_SOURCE_SHAPE; k++)
				if ((r = bs_enforcer_list(e, k, out, &now, err, sizeof(err))) < 0)
					break;
	}
	bs_enforcer_close(e);
	if (r < 0) {
		fprintf(stderr, "backstopctl %s: %s\n", what, err);
		return 1;
	}
	return 0;
}

int ctl_verdict_main(int argc, char **argv)
{
	const char *pin_dir = NULL;

	argc = ctl_take_pin_dir(argc, argv, &pin_dir);
	if (argc < 0) {
		fprintf(stderr, "backstopctl verdict: --pin-dir needs a directory\n");
		return 2;
	}
	if (argc < 2) {
		fputs(verdict_usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "add"))
		return verdict_add(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "del"))
		return verdict_del(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "list"))
		return list_or_flush(argc - 1, argv + 1, pin_dir, 0);
	if (!strcmp(argv[1], "flush"))
		return list_or_flush(argc - 1, argv + 1, pin_dir, 1);
	fprintf(stderr, "backstopctl verdict: unknown subcommand '%s'\n", argv[1]);
	fputs(verdict_usage, stderr);
	return 2;
}

int ctl_allow_main(int argc, char **argv)
{
	const char *pin_dir = NULL;
	char err[512];
	uint8_t addr[16], ver, plen;
	int r;

	argc = ctl_take_pin_dir(argc, argv, &pin_dir);
	if (argc < 0) {
		fprintf(stderr, "backstopctl allow: --pin-dir needs a directory\n");
		return 2;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		struct bs_enforcer *e = ctl_open_enforcer("allow list", pin_dir);
		uint64_t now = bs_mono_ns();
		if (!e)
			return 1;
		r = bs_enforcer_list(e, BS_ENTRY_ALLOW, print_entry, &now, err, sizeof(err));
		bs_enforcer_close(e);
		if (r < 0) {
			fprintf(stderr, "backstopctl allow list: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "del"))) {
		fputs(allow_usage, stderr);
		return 2;
	}
	if (bs_parse_prefix(argv[2], addr, &ver, &plen, err, sizeof(err))) {
		fprintf(stderr, "backstopctl allow %s: %s\n", argv[1], err);
		return 2;
	}
	struct bs_enforcer *e = ctl_open_enforcer(argv[1][0] == 'a' ? "allow add" : "allow del", pin_dir);
	if (!e)
		return 1;
	if (argv[1][0] == 'a')
		r = bs_enforcer_allow_add(e, ver, addr, plen, err, sizeof(err));
	else
		r = bs_enforcer_allow_del(e, ver, addr, plen, err, sizeof(err));
	bs_enforcer_close(e);
	if (r) {
		fprintf(stderr, "backstopctl allow %s: %s\n", argv[1], err);
		return 1;
	}
	return 0;
}
