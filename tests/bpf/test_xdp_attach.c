/* Attaching and detaching, in a private network namespace (unshare) with a
 * dummy interface, so nothing outside the test is touched and everything
 * goes when the process exits (a veth pair: this kernel has no dummy
 * device): attach/reattach (reload in place), status, detach, moving
 * between generic and native mode, and the rules about somebody else's XDP program
 * (never replaced, never detached). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "enforcer_user.h"
#include "tutil.h"

struct seen {
	int n, ours;
	uint32_t id;
	char mode[16];
};

static void on_status(void *ctx, const struct bs_xdp_status *st)
{
	struct seen *s = ctx;
	if (strcmp(st->ifname, "bsd0"))
		return;
	s->n++;
	s->ours = st->ours;
	s->id = st->prog_id;
	snprintf(s->mode, sizeof(s->mode), "%s", st->mode);
}

static struct seen status(void)
{
	struct seen s = {0};
	char err[256];
	bs_xdp_status_each(on_status, &s, err, sizeof(err));
	return s;
}

/* An XDP program that is not ours: "return XDP_PASS", named other_xdp. */
static int foreign_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	return bpf_prog_load(BPF_PROG_TYPE_XDP, "other_xdp", "GPL", insns, 2, NULL);
}

int main(void)
{
	char err[512];
	const char *dir = tu_pin_dir("attach");

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "SKIP: cannot make a network namespace: %s\n", strerror(errno));
		return 77;
	}
	if (system("ip link add bsd0 type veth peer name bsd1 && ip link set bsd0 up && ip link set bsd1 up") != 0) {
		fprintf(stderr, "SKIP: cannot create a veth pair\n");
		return 77;
	}
	struct bs_enforcer *e = bs_enforcer_open(dir, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	int ifindex = (int)if_nametoindex("bsd0");

	TU_CHECK(status().n == 0, "nothing attached at first");
	TU_CHECK(bs_xdp_detach("bsd0", err, sizeof(err)) == -ENOENT && strstr(err, "no XDP program"),
		 "detach with nothing attached: %s", err);
	TU_CHECK(bs_enforcer_attach(e, "bsd0", BS_XDP_GENERIC, err, sizeof(err)) == 0, "attach generic: %s", err);
	struct seen s1 = status();
	TU_CHECK(s1.n == 1 && s1.ours && !strcmp(s1.mode, "generic"), "status: %d %d %s", s1.n, s1.ours, s1.mode);

	/* a restarted loader attaches again: replaced in place, same maps */
	struct bs_enforcer *e2 = bs_enforcer_open(dir, err, sizeof(err));
	TU_CHECK(e2 && bs_enforcer_attach(e2, "bsd0", BS_XDP_GENERIC, err, sizeof(err)) == 0, "reattach: %s", err);
	struct seen s2 = status();
	TU_CHECK(s2.n == 1 && s2.ours && s2.id != s1.id, "reattach replaced program %u by %u", s1.id, s2.id);
	bs_enforcer_close(e2);

	/* moving to native mode takes the generic attachment away */
	int r = bs_enforcer_attach(e, "bsd0", BS_XDP_NATIVE, err, sizeof(err));
	struct seen s4 = status();
	TU_CHECK(r == 0 && s4.n == 1 && s4.ours && !strcmp(s4.mode, "native"), "generic -> native: %s (%d %s)",
		 r ? err : "", s4.n, s4.mode);

	TU_CHECK(bs_xdp_detach("bsd0", err, sizeof(err)) == 0, "detach: %s", err);
	TU_CHECK(status().n == 0, "detached");

	/* somebody else's program is never replaced nor detached */
	int other = foreign_prog();
	TU_CHECK(other >= 0, "load foreign program: %s", strerror(errno));
	TU_CHECK(bpf_xdp_attach(ifindex, other, XDP_FLAGS_SKB_MODE, NULL) == 0, "attach foreign program");
	r = bs_enforcer_attach(e, "bsd0", BS_XDP_GENERIC, err, sizeof(err));
	TU_CHECK(r == -EBUSY && strstr(err, "another XDP program") && strstr(err, "other_xdp"), "refused: %s", err);
	r = bs_xdp_detach("bsd0", err, sizeof(err));
	TU_CHECK(r == -EBUSY && strstr(err, "left alone"), "foreign not detached: %s", err);
	struct seen s3 = status();
	TU_CHECK(s3.n == 1 && !s3.ours, "foreign still there, not ours");
	bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	close(other);

	TU_CHECK(bs_enforcer_attach(e, "nosuch9", BS_XDP_GENERIC, err, sizeof(err)) == -ENODEV &&
		 strstr(err, "not found"), "missing interface: %s", err);
	TU_CHECK(bs_enforcer_attach(e, "a-name-that-is-far-too-long", BS_XDP_GENERIC, err, sizeof(err)) == -EINVAL,
		 "overlong name: %s", err);
	bs_enforcer_close(e);
	printf("%d failures\n", tu_failures);
	return tu_failures ? 1 : 0;
}
