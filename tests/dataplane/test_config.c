/* Option parsing: every bad value is an error with the option's name, and
 * good values land in the config. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "config.h"

static int parse(struct bs_config *c, char *err, size_t errlen, int argc, const char **argv)
{
	bs_config_defaults(c);
	return bs_config_parse(c, argc, (char **)argv, err, errlen);
}

#define ARGS(...) (const char *[]){"backstop", __VA_ARGS__}
#define N(...) (int)(sizeof((const char *[]){"backstop", __VA_ARGS__}) / sizeof(char *))

int main(void)
{
	static struct bs_config c;
	char err[512];

	assert(parse(&c, err, sizeof(err), N("--pcap", "x.pcap", "--home-net", "192.0.2.0/24", "--home-domain",
					     "example.net", "--smtp-ports", "25,2525", "--events", "e.json"),
		     ARGS("--pcap", "x.pcap", "--home-net", "192.0.2.0/24", "--home-domain", "example.net",
			  "--smtp-ports", "25,2525", "--events", "e.json")) == 0);
	assert(!strcmp(c.pcap, "x.pcap") && !strcmp(c.events, "e.json"));
	assert(c.home_net.n == 1 && c.det.n_home_nets == 1 && c.det.n_home_domains == 1);
	assert(bs_port_in(c.smtp_port, 25) && bs_port_in(c.smtp_port, 2525) && !bs_port_in(c.smtp_port, 587));

	struct { const char *opt, *val, *needle; } bad[] = {
		{"--home-net", "192.0.2.0/40", "192.0.2.0/40"},
		{"--smtp-ports", "25,x", "--smtp-ports"},
		{"--smtp-ports", "70000", "--smtp-ports"},
		{"--flows", "-3", "--flows"},
		{"--batv-key", "nocolon", "--batv-key"},
		{"--timeout-new", "0", "--timeout-new"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {"backstop", bad[i].opt, bad[i].val};
		err[0] = 0;
		assert(parse(&c, err, sizeof(err), 3, argv) < 0);
		if (!strstr(err, bad[i].needle)) {
			fprintf(stderr, "error for %s %s lacks '%s': %s\n", bad[i].opt, bad[i].val, bad[i].needle, err);
			return 1;
		}
	}
	const char *unk[] = {"backstop", "--frobnicate"};
	assert(parse(&c, err, sizeof(err), 2, unk) < 0 && strstr(err, "--frobnicate"));
	const char *miss[] = {"backstop", "--pcap"};
	assert(parse(&c, err, sizeof(err), 2, miss) < 0 && strstr(err, "--pcap"));
	const char *extra[] = {"backstop", "stray"};
	assert(parse(&c, err, sizeof(err), 2, extra) < 0 && strstr(err, "stray"));
	printf("config: ok\n");
	return 0;
}
