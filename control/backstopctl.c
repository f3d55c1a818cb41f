/* backstopctl: the operator's CLI. A small command table in the style of
 * xdp-tools; each group lives in its own file. */
#include <stdio.h>
#include <string.h>
#include "ctl.h"

struct ctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct ctl_cmd cmds[] = {
	{"rules", ctl_rules_main, "rules check FILE | rules compile FILE -o BUNDLE [--native] | rules dump BUNDLE | rules scan RULES MESSAGE..."},
	{"xdp", ctl_xdp_main, "xdp attach IFACE [--mode native|generic] | xdp detach IFACE | xdp status | xdp stats"},
	{"verdict", ctl_verdict_main, "verdict add|del|list|flush ... (see docs/enforcement.md)"},
	{"allow", ctl_allow_main, "allow add|del PREFIX | allow list"},
	{"stats", ctl_stats_main, "stats [pipeline|detect|enforcer] [--pid PID]   (live counters of a running backstop)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: backstopctl [--version] [--help] COMMAND ARGS...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("backstopctl %s\n", BS_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "backstopctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
