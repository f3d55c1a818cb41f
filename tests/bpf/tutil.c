/* Pin directory lifecycle and map-state helpers for the enforcer tests. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "tutil.h"

int tu_failures;
static char pin_dir[256];

void tu_cleanup(void)
{
	DIR *d;
	struct dirent *de;

	if (!pin_dir[0])
		return;
	d = opendir(pin_dir);
	if (d) {
		while ((de = readdir(d))) {
			char p[512];
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", pin_dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(pin_dir);
	pin_dir[0] = 0;
}

static void on_signal(int sig)
{
	tu_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

const char *tu_pin_dir(const char *name)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root (BPF maps and programs)\n");
		exit(77);
	}
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/bs-test-%s-%d", name, (int)getpid());
	atexit(tu_cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGABRT, on_signal);
	signal(SIGSEGV, on_signal);
	return pin_dir;
}

void tu_session_msg(struct bs_verdict_msg *m, const char *a, uint16_t ap, const char *b, uint16_t bp, uint32_t ttl)
{
	uint8_t v;

	memset(m, 0, sizeof(*m));
	m->kind = BS_VK_SESSION_DROP;
	if (bs_parse_addr(a, m->src, &m->ip_ver) || bs_parse_addr(b, m->dst, &v)) {
		fprintf(stderr, "bad test address %s or %s\n", a, b);
		exit(1);
	}
	m->sport = ap;
	m->dport = bp;
	m->prefix_len = m->ip_ver == 4 ? 32 : 128;
	m->ttl_s = ttl;
	m->reason = 7;
}

void tu_source_msg(struct bs_verdict_msg *m, int kind, const char *prefix, uint32_t ttl)
{
	char err[256];

	memset(m, 0, sizeof(*m));
	m->kind = (uint8_t)kind;
	if (bs_parse_prefix(prefix, m->src, &m->ip_ver, &m->prefix_len, err, sizeof(err))) {
		fprintf(stderr, "bad test prefix: %s\n", err);
		exit(1);
	}
	m->ttl_s = ttl;
	m->reason = 9;
	m->rate_pps = 10;
	m->burst = 1;
}

int tu_put_expired_session(struct bs_enforcer *e, const char *a, uint16_t ap, const char *b, uint16_t bp)
{
	struct bs_verdict_msg m;
	struct bs_sess_key k;
	struct bs_drop_val v = {.expires_ns = 1, .created_ns = 1, .reason = 7};

	tu_session_msg(&m, a, ap, b, bp, 0);
	memset(&k, 0, sizeof(k));
	bs_sess_key_make(&k, m.src, m.sport, m.dst, m.dport);
	return bpf_map_update_elem(bs_enforcer_map_fd(e, BS_MAPID_SESSIONS), &k, &v, BPF_ANY);
}

int tu_put_expired_source(struct bs_enforcer *e, const char *prefix)
{
	struct bs_verdict_msg m;
	struct bs_lpm_key k;
	struct bs_drop_val v = {.expires_ns = 1, .created_ns = 1, .reason = 9};

	tu_source_msg(&m, BS_VK_SOURCE_DROP, prefix, 0);
	memset(&k, 0, sizeof(k));
	memcpy(k.addr, m.src, 16);
	k.prefixlen = (m.ip_ver == 4 ? 96u : 0u) + m.prefix_len;
	return bpf_map_update_elem(bs_enforcer_map_fd(e, BS_MAPID_SRC_DROP), &k, &v, BPF_ANY);
}
