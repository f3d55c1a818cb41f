/* backstopctl xdp attach|detach|status|stats: the enforcer program on
 * interfaces, and its counters. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl.h"
#include "ctl_enforce.h"

static const char xdp_usage[] =
	"usage: backstopctl xdp attach IFACE [--mode native|generic] [--pin-dir DIR]\n"
	"       backstopctl xdp detach IFACE\n"
	"       backstopctl xdp status [--pin-dir DIR]\n"
	"       backstopctl xdp stats [--json] [--pin-dir DIR]\n";

static int xdp_attach(int argc, char **argv, const char *pin_dir)
{
	enum bs_xdp_mode mode = BS_XDP_NATIVE;
	char err[512];
	int missing, r;
	const char *m = ctl_take_opt(&argc, argv, "mode", &missing);

	if (missing || (m && strcmp(m, "native") && strcmp(m, "generic"))) {
		fprintf(stderr, "backstopctl xdp attach: --mode takes native or generic\n");
		return 2;
	}
	if (m && !strcmp(m, "generic"))
		mode = BS_XDP_GENERIC;
	if (argc != 2) {
		fputs(xdp_usage, stderr);
		return 2;
	}
	struct bs_enforcer *e = ctl_open_enforcer("xdp attach", pin_dir);
	if (!e)
		return 1;
	r = bs_enforcer_attach(e, argv[1], mode, err, sizeof(err));
	if (r)
		fprintf(stderr, "backstopctl xdp attach: %s\n", err);
	else
		printf("attached %s to %s (%s mode, maps in %s)\n", BS_PROG_NAME, argv[1],
		       mode == BS_XDP_GENERIC ? "generic" : "native", bs_enforcer_get_pin_dir(e));
	bs_enforcer_close(e);
	return r ? 1 : 0;
}

static int xdp_detach(int argc, char **argv)
{
	char err[512];

	if (argc != 2) {
		fputs(xdp_usage, stderr);
		return 2;
	}
	if (bs_xdp_detach(argv[1], err, sizeof(err))) {
		fprintf(stderr, "backstopctl xdp detach: %s\n", err);
		return 1;
	}
	printf("detached %s from %s\n", BS_PROG_NAME, argv[1]);
	return 0;
}

static void status_line(void *ctx, const struct bs_xdp_status *st)
{
	printf("  %-16s %-8s prog id %-6u %s%s\n", st->ifname, st->mode, st->prog_id, st->prog_name,
	       st->ours ? "" : " (not Backstop's)");
}

static int xdp_status(int argc, char **argv, const char *pin_dir)
{
	static const char *const names[BS_MAPID_MAX] = {"sessions", "source-drop", "source-shape", "allow",
							"counters", "drop-reasons"};
	static const enum bs_entry_kind kinds[BS_MAPID_MAX] = {BS_ENTRY_SESSION, BS_ENTRY_SOURCE_DROP,
								BS_ENTRY_SOURCE_SHAPE, BS_ENTRY_ALLOW, 0, 0};
	char err[512];
	int n;

	if (argc != 1) {
		fputs(xdp_usage, stderr);
		return 2;
	}
	printf("interfaces:\n");
	n = bs_xdp_status_each(status_line, NULL, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "backstopctl xdp status: %s\n", err);
		return 1;
	}
	if (n == 0)
		printf("  (no XDP program attached in this network namespace)\n");
	struct bs_enforcer *e = ctl_open_enforcer("xdp status", pin_dir);
	if (!e)
		return 1;
	printf("maps in %s:\n", bs_enforcer_get_pin_dir(e));
	for (int i = 0; i < BS_MAPID_MAX; i++) {
		if (kinds[i]) {
			int c = bs_enforcer_list(e, kinds[i], NULL, NULL, err, sizeof(err));
			printf("  %-13s %8d / %u entries\n", names[i], c, bs_enforcer_map_size(e, i));
		}
	}
	bs_enforcer_close(e);
	return 0;
}

static int xdp_stats(int argc, char **argv, const char *pin_dir)
{
	struct bs_enforcer_stats st;
	char err[512];
	int json = 0;

	if (argc == 2 && !strcmp(argv[1], "--json"))
		json = 1;
	else if (argc != 1) {
		fputs(xdp_usage, stderr);
		return 2;
	}
	struct bs_enforcer *e = ctl_open_enforcer("xdp stats", pin_dir);
	if (!e)
		return 1;
	if (bs_enforcer_stats(e, &st, err, sizeof(err))) {
		fprintf(stderr, "backstopctl xdp stats: %s\n", err);
		bs_enforcer_close(e);
		return 1;
	}
	if (json) {
		/* one object: {"counters": {name: {"packets": n, "bytes": n}}, "drops_by_reason": {reason: n}} */
		printf("{\"counters\": {");
		for (int i = 0; i < BS_CNT_MAX; i++)
			printf("%s\"%s\": {\"packets\": %llu, \"bytes\": %llu}", i ? ", " : "", bs_counter_name(i),
			       (unsigned long long)st.cnt[i].packets, (unsigned long long)st.cnt[i].bytes);
		printf("}, \"drops_by_reason\": {");
		for (int i = 0, first = 1; i < BS_REASON_SLOTS; i++)
			if (st.drop_reason[i]) {
				printf("%s\"%d\": %llu", first ? "" : ", ", i, (unsigned long long)st.drop_reason[i]);
				first = 0;
			}
		printf("}}\n");
	} else {
		printf("%-22s %14s %16s\n", "counter", "packets", "bytes");
		for (int i = 0; i < BS_CNT_MAX; i++)
			printf("%-22s %14llu %16llu\n", bs_counter_name(i), (unsigned long long)st.cnt[i].packets,
			       (unsigned long long)st.cnt[i].bytes);
		for (int i = 0; i < BS_REASON_SLOTS; i++)
			if (st.drop_reason[i])
				printf("drops_reason_%-9d %14llu\n", i, (unsigned long long)st.drop_reason[i]);
	}
	bs_enforcer_close(e);
	return 0;
}

int ctl_xdp_main(int argc, char **argv)
{
	const char *pin_dir = NULL;

	argc = ctl_take_pin_dir(argc, argv, &pin_dir);
	if (argc < 0) {
		fprintf(stderr, "backstopctl xdp: --pin-dir needs a directory\n");
		return 2;
	}
	if (argc < 2) {
		fputs(xdp_usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "attach"))
		return xdp_attach(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "detach"))
		return xdp_detach(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return xdp_status(argc - 1, argv + 1, pin_dir);
	if (!strcmp(argv[1], "stats"))
		return xdp_stats(argc - 1, argv + 1, pin_dir);
	fprintf(stderr, "backstopctl xdp: unknown subcommand '%s'\n", argv[1]);
	fputs(xdp_usage, stderr);
	return 2;
}
