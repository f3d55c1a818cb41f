/* backstop's own options (after `--` when EAL arguments are given). */
#ifndef BS_CONFIG_H
#define BS_CONFIG_H
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include "netset.h"
#include "detect/detect.h"

struct bs_config {
	const char *pcap;              /* offline replay file, or NULL for live ports */
	const char *events;            /* path, "-" for stdout, NULL for none */
	const char *summary_json;      /* optional machine-readable summary */
	struct bs_netset home_net;
	uint8_t smtp_port[65536 / 8];  /* bitmap of ports parsed as SMTP */
	uint8_t tls_port[65536 / 8];   /* implicit TLS ports (465): counted only */
	uint32_t flows_per_worker;     /* flow table capacity */
	uint32_t sessions_per_worker;  /* SMTP session states */
	uint32_t txn_per_worker;       /* transaction records in flight */
	uint32_t detect_slots;         /* transactions under detection at once, per worker */
	uint32_t ledger_save_s;        /* save the ledger this often (live runs) */
	uint32_t idle_sleep_us;        /* live: nap this long when a poll loop has been idle a while */
	uint32_t reasm_blocks;         /* out-of-order buffer blocks per worker */
	uint32_t reasm_dir_cap;        /* out-of-order bytes per direction */
	uint32_t timeout_new_s, timeout_est_s, timeout_closed_s;
	bool enforce;                  /* push verdicts into the XDP maps */
	const char *bpf_pin;           /* pin dir of the enforcer maps */
	bool quiet;
	uint32_t bench_loops;          /* --bench N: replay --pcap from memory N times */
	bool no_detect;                /* pipeline only: no rules, no classifier */
	struct bs_detect_config det;
};

static inline bool bs_port_in(const uint8_t *bm, uint16_t port)
{
	return bm[port >> 3] & (1u << (port & 7));
}

void bs_config_defaults(struct bs_config *c);
/* Parses backstop options (argv[0] is the program name). Returns 0, 1 when
 * --help/--version was handled, or -1 with a message in err. */
int bs_config_parse(struct bs_config *c, int argc, char **argv, char *err, size_t errlen);
void bs_config_usage(FILE *f);

#endif
