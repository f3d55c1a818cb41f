#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void port_set(uint8_t *bm, uint16_t p) { bm[p >> 3] |= (uint8_t)(1u << (p & 7)); }

void bs_config_defaults(struct bs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->events = "-";
	port_set(c->smtp_port, 25);
	port_set(c->smtp_port, 587);
	port_set(c->tls_port, 465);
	c->flows_per_worker = 262144;
	c->sessions_per_worker = 8192;
	c->txn_per_worker = 4096;
	c->detect_slots = 4096;        /* x ~34 KiB of parser state and facts, touched only when used */
	c->ledger_save_s = 300;
	c->idle_sleep_us = 20;
	c->reasm_blocks = 32768;       /* x block size (2 KiB) = 64 MiB per worker */
	c->reasm_dir_cap = 256 * 1024;
	c->timeout_new_s = 30;
	c->timeout_est_s = 600;
	c->timeout_closed_s = 10;
	c->bpf_pin = "/sys/fs/bpf/backstop";
	bs_detect_config_defaults(&c->det);
}

void bs_config_usage(FILE *f)
{
	fprintf(f,
		"usage: backstop [EAL args --] [options]\n"
		"  --pcap FILE              replay a capture through the pipeline, then exit\n"
		"                           (without it: run on the EAL's ports until SIGINT/SIGTERM)\n"
		"  --home-net CIDR          our networks (repeatable; Suricata HOME_NET)\n"
		"  --home-domain DOMAIN     mail domains whose users we protect (repeatable)\n"
		"  --home-relay CIDR|HOST   our outbound relays (repeatable)\n"
		"  --batv-key DOMAIN:SECRET BATV signing key of a home domain (repeatable)\n"
		"  --events PATH|-          EVE-style JSON events (default: stdout)\n"
		"  --summary-json PATH      also write the run summary as JSON\n"
		"  --smtp-ports LIST        ports parsed as SMTP (default 25,587)\n"
		"  --tls-ports LIST         implicit-TLS ports, counted only (default 465)\n"
		"  --rules FILE|BUNDLE      rule set (default: the shipped rules/default.rules)\n"
		"  --policy FILE            verdict policy (default: built in, docs/detection.md)\n"
		"  --ledger FILE            save/reload the outbound ledger here\n"
		"  --ledger-window SECONDS  how long an outbound message vouches for its bounces (default 7 days)\n"
		"  --no-ledger              disable the outbound ledger\n"
		"  --ledger-warmup SECONDS  a young ledger's misses are not evidence (suspect-bounce, pass)\n"
		"  --ledger-save-interval S save the ledger this often while running (default 300)\n"
		"  --detect-slots N         transactions under detection at once per worker (default 4096)\n"
		"  --no-detect              pipeline only (no rules, no classifier)\n"
		"  --enforce                push verdicts into the XDP enforcer maps\n"
		"  --bpf-pin DIR            where the enforcer maps are pinned (default /sys/fs/bpf/backstop)\n"
		"  --flows N                flow table capacity per worker (default 262144)\n"
		"  --sessions N             SMTP session states per worker (default 8192)\n"
		"  --reasm-blocks N         out-of-order buffer blocks (2 KiB) per worker (default 32768)\n"
		"  --reasm-dir-cap BYTES    out-of-order bytes buffered per direction (default 262144)\n"
		"  --timeout-new S / --timeout-established S / --timeout-closed S   flow timeouts\n"
		"  --idle-sleep US          live: after ~1000 empty polls, sleep US microseconds per poll\n"
		"                           (default 20; 0 = pure busy polling)\n"
		"  --quiet                  no summary on stderr\n"
		"  --bench N                load --pcap into memory and replay it N times; print throughput\n"
		"  --version, --help\n"
		"Without EAL args, backstop uses: --no-huge --no-pci -m 512 --no-shconf --no-telemetry\n"
		"and a net_pcap port for --pcap.\n");
}

static int parse_u32(const char *opt, const char *s, uint32_t min, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v < min || v > UINT32_MAX) {
		snprintf(err, errlen, "%s: '%s' is not a number >= %u", opt, s, min);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_ports(const char *opt, const char *s, uint8_t *bm, char *err, size_t errlen)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", s);
	memset(bm, 0, 65536 / 8);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint32_t p;
		if (parse_u32(opt, t, 1, &p, err, errlen) < 0 || p > 65535) {
			snprintf(err, errlen, "%s: '%s' is not a port", opt, t);
			return -1;
		}
		port_set(bm, (uint16_t)p);
	}
	return 0;
}

static int push_list(const char *opt, const char **list, int *n, const char *v, char *err, size_t errlen)
{
	if (*n >= BS_DETECT_MAX_LIST) {
		snprintf(err, errlen, "%s: more than %d given", opt, BS_DETECT_MAX_LIST);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

enum { O_PCAP = 256, O_HOME_NET, O_HOME_DOMAIN, O_HOME_RELAY, O_BATV, O_EVENTS, O_SUMMARY, O_PORTS,
       O_TLS_PORTS, O_RULES, O_POLICY, O_LEDGER, O_LEDGER_WIN, O_NO_LEDGER, O_NO_DETECT, O_ENFORCE,
       O_PIN, O_FLOWS, O_SESSIONS, O_RBLOCKS, O_RDIRCAP, O_TO_NEW, O_TO_EST, O_TO_CLOSED, O_QUIET,
       O_VERSION, O_HELP, O_BENCH, O_WARMUP, O_LSAVE, O_DSLOTS, O_IDLE };

static const struct option opts[] = {
	{"pcap", required_argument, 0, O_PCAP},
	{"home-net", required_argument, 0, O_HOME_NET},
	{"home-domain", required_argument, 0, O_HOME_DOMAIN},
	{"home-relay", required_argument, 0, O_HOME_RELAY},
	{"batv-key", required_argument, 0, O_BATV},
	{"events", required_argument, 0, O_EVENTS},
	{"summary-json", required_argument, 0, O_SUMMARY},
	{"smtp-ports", required_argument, 0, O_PORTS},
	{"tls-ports", required_argument, 0, O_TLS_PORTS},
	{"rules", required_argument, 0, O_RULES},
	{"policy", required_argument, 0, O_POLICY},
	{"ledger", required_argument, 0, O_LEDGER},
	{"ledger-window", required_argument, 0, O_LEDGER_WIN},
	{"no-ledger", no_argument, 0, O_NO_LEDGER},
	{"ledger-warmup", required_argument, 0, O_WARMUP},
	{"ledger-save-interval", required_argument, 0, O_LSAVE},
	{"detect-slots", required_argument, 0, O_DSLOTS},
	{"idle-sleep", required_argument, 0, O_IDLE},
	{"no-detect", no_argument, 0, O_NO_DETECT},
	{"enforce", no_argument, 0, O_ENFORCE},
	{"bpf-pin", required_argument, 0, O_PIN},
	{"flows", required_argument, 0, O_FLOWS},
	{"sessions", required_argument, 0, O_SESSIONS},
	{"reasm-blocks", required_argument, 0, O_RBLOCKS},
	{"reasm-dir-cap", required_argument, 0, O_RDIRCAP},
	{"timeout-new", required_argument, 0, O_TO_NEW},
	{"timeout-established", required_argument, 0, O_TO_EST},
	{"timeout-closed", required_argument, 0, O_TO_CLOSED},
	{"quiet", no_argument, 0, O_QUIET},
	{"bench", required_argument, 0, O_BENCH},
	{"version", no_argument, 0, O_VERSION},
	{"help", no_argument, 0, O_HELP},
	{0, 0, 0, 0},
};

int bs_config_parse(struct bs_config *c, int argc, char **argv, char *err, size_t errlen)
{
	struct bs_detect_config *d = &c->det;
	int o;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
		int r = 0;
		switch (o) {
		case O_PCAP: c->pcap = optarg; break;
		case O_HOME_NET:
			r = bs_netset_add(&c->home_net, optarg, err, errlen);
			if (!r)
				r = push_list("--home-net", d->home_nets, &d->n_home_nets, optarg, err, errlen);
			break;
		case O_HOME_DOMAIN: r = push_list("--home-domain", d->home_domains, &d->n_home_domains, optarg, err, errlen); break;
		case O_HOME_RELAY: r = push_list("--home-relay", d->home_relays, &d->n_home_relays, optarg, err, errlen); break;
		case O_BATV:
			if (!strchr(optarg, ':')) {
				snprintf(err, errlen, "--batv-key: expected DOMAIN:SECRET, got '%s'", optarg);
				return -1;
			}
			r = push_list("--batv-key", d->batv_keys, &d->n_batv_keys, optarg, err, errlen);
			break;
		case O_EVENTS: c->events = optarg; break;
		case O_SUMMARY: c->summary_json = optarg; break;
		case O_PORTS: r = parse_ports("--smtp-ports", optarg, c->smtp_port, err, errlen); break;
		case O_TLS_PORTS: r = parse_ports("--tls-ports", optarg, c->tls_port, err, errlen); break;
		case O_RULES: d->rules_path = optarg; break;
		case O_POLICY: d->policy_path = optarg; break;
		case O_LEDGER: d->ledger_path = optarg; break;
		case O_LEDGER_WIN: r = parse_u32("--ledger-window", optarg, 1, &d->ledger_window_s, err, errlen); break;
		case O_NO_LEDGER: d->ledger_disabled = true; break;
		case O_WARMUP: r = parse_u32("--ledger-warmup", optarg, 0, &d->ledger_warmup_s, err, errlen); break;
		case O_LSAVE: r = parse_u32("--ledger-save-interval", optarg, 1, &c->ledger_save_s, err, errlen); break;
		case O_IDLE: r = parse_u32("--idle-sleep", optarg, 0, &c->idle_sleep_us, err, errlen); break;
		case O_DSLOTS: r = parse_u32("--detect-slots", optarg, 1, &c->detect_slots, err, errlen); break;
		case O_NO_DETECT: c->no_detect = true; break;
		case O_ENFORCE: c->enforce = true; break;
		case O_PIN: c->bpf_pin = optarg; break;
		case O_FLOWS: r = parse_u32("--flows", optarg, 16, &c->flows_per_worker, err, errlen); break;
		case O_SESSIONS: r = parse_u32("--sessions", optarg, 1, &c->sessions_per_worker, err, errlen); break;
		case O_RBLOCKS: r = parse_u32("--reasm-blocks", optarg, 16, &c->reasm_blocks, err, errlen); break;
		case O_RDIRCAP: r = parse_u32("--reasm-dir-cap", optarg, 1024, &c->reasm_dir_cap, err, errlen); break;
		case O_TO_NEW: r = parse_u32("--timeout-new", optarg, 1, &c->timeout_new_s, err, errlen); break;
		case O_TO_EST: r = parse_u32("--timeout-established", optarg, 1, &c->timeout_est_s, err, errlen); break;
		case O_TO_CLOSED: r = parse_u32("--timeout-closed", optarg, 1, &c->timeout_closed_s, err, errlen); break;
		case O_QUIET: c->quiet = true; break;
		case O_BENCH: r = parse_u32("--bench", optarg, 1, &c->bench_loops, err, errlen); break;
		case O_VERSION: printf("backstop %s\n", BS_VERSION); return 1;
		case O_HELP: bs_config_usage(stdout); return 1;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", name);
			return -1;
		default:
			snprintf(err, errlen, "unknown option '%s' (see --help)", name);
			return -1;
		}
		if (r < 0)
			return -1;
	}
	if (c->bench_loops && !c->pcap) {
		snprintf(err, errlen, "--bench needs --pcap");
		return -1;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return -1;
	}
	return 0;
}
