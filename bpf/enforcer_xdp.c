/* Attaching the enforcer to interfaces through netlink (the attachment
 * stays after the process exits) and reporting what runs where. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "enforcer_user.h"
#include "enforcer_priv.h"

static int prog_name_by_id(uint32_t id, char name[16])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	name[0] = 0;
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		int x = errno;
		close(fd);
		return -x;
	}
	close(fd);
	snprintf(name, 16, "%s", info.name);
	return 0;
}

static int iface_index(const char *ifname, char *err, size_t errlen)
{
	unsigned idx;

	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE) {
		snprintf(err, errlen, "interface name '%s' is not valid", ifname ? ifname : "");
		return -EINVAL;
	}
	idx = if_nametoindex(ifname);
	if (!idx) {
		snprintf(err, errlen, "interface '%s' not found (in this network namespace)", ifname);
		return -ENODEV;
	}
	return (int)idx;
}

int bs_enforcer_attach(struct bs_enforcer *e, const char *ifname, enum bs_xdp_mode mode, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex, prog_fd, r;
	__u32 flags = mode == BS_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	char name[16];

	bs_libbpf_quiet();
	ifindex = iface_index(ifname, err, errlen);
	if (ifindex < 0)
		return ifindex;
	if (bpf_xdp_query(ifindex, 0, &q)) {
		bs_errno_msg(err, errlen, errno, "cannot query XDP on %s", ifname);
		return -errno;
	}
	/* never replace somebody else's program; move ours between modes */
	__u32 ids[2] = {q.drv_prog_id, q.skb_prog_id};
	__u32 mflags[2] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
	for (int i = 0; i < 2; i++) {
		if (!ids[i])
			continue;
		if (prog_name_by_id(ids[i], name) == 0 && strcmp(name, BS_PROG_NAME) != 0) {
			snprintf(err, errlen, "%s already runs another XDP program (id %u, name '%s'); detach it first",
				 ifname, ids[i], name);
			return -EBUSY;
		}
		if (mflags[i] != flags && bpf_xdp_detach(ifindex, mflags[i], NULL)) {
			bs_errno_msg(err, errlen, errno, "cannot remove the enforcer from %s in its other mode", ifname);
			return -errno;
		}
	}
	prog_fd = bs_enforcer_prog_fd(e, err, errlen);
	if (prog_fd < 0)
		return prog_fd;
	r = bpf_xdp_attach(ifindex, prog_fd, flags, NULL);
	if (r) {
		if (r == -EOPNOTSUPP && mode == BS_XDP_NATIVE)
			snprintf(err, errlen, "the driver of %s has no native XDP; use --mode generic", ifname);
		else
			bs_errno_msg(err, errlen, -r, "cannot attach XDP to %s (%s mode)", ifname,
				     mode == BS_XDP_GENERIC ? "generic" : "native");
		return r;
	}
	return 0;
}

int bs_xdp_detach(const char *ifname, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex, found = 0;
	char name[16];

	bs_libbpf_quiet();
	ifindex = iface_index(ifname, err, errlen);
	if (ifindex < 0)
		return ifindex;
	if (bpf_xdp_query(ifindex, 0, &q)) {
		bs_errno_msg(err, errlen, errno, "cannot query XDP on %s", ifname);
		return -errno;
	}
	__u32 ids[2] = {q.drv_prog_id, q.skb_prog_id};
	__u32 mflags[2] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
	for (int i = 0; i < 2; i++) {
		if (!ids[i])
			continue;
		if (prog_name_by_id(ids[i], name) == 0 && strcmp(name, BS_PROG_NAME) != 0) {
			snprintf(err, errlen, "%s runs another XDP program (id %u, name '%s'), not the enforcer; "
				 "left alone", ifname, ids[i], name);
			return -EBUSY;
		}
		int r = bpf_xdp_detach(ifindex, mflags[i], NULL);
		if (r) {
			bs_errno_msg(err, errlen, -r, "cannot detach XDP from %s", ifname);
			return r;
		}
		found++;
	}
	if (!found) {
		snprintf(err, errlen, "no XDP program is attached to %s", ifname);
		return -ENOENT;
	}
	return 0;
}

int bs_xdp_status_each(void (*cb)(void *ctx, const struct bs_xdp_status *st), void *ctx, char *err, size_t errlen)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	int n = 0;

	bs_libbpf_quiet();
	if (!ifs) {
		bs_errno_msg(err, errlen, errno, "cannot list interfaces");
		return -errno;
	}
	for (it = ifs; it->if_index; it++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		struct bs_xdp_status st;

		if (bpf_xdp_query((int)it->if_index, 0, &q)) {
			int x = errno;
			if (x == EPERM || x == EACCES) {
				bs_errno_msg(err, errlen, x, "cannot query XDP on %s", it->if_name);
				if_freenameindex(ifs);
				return -x;
			}
			continue;
		}
		__u32 ids[3] = {q.drv_prog_id, q.skb_prog_id, q.hw_prog_id};
		const char *modes[3] = {"native", "generic", "offload"};
		for (int i = 0; i < 3; i++) {
			if (!ids[i])
				continue;
			memset(&st, 0, sizeof(st));
			snprintf(st.ifname, sizeof(st.ifname), "%s", it->if_name);
			st.ifindex = it->if_index;
			st.prog_id = ids[i];
			st.mode = modes[i];
			prog_name_by_id(ids[i], st.prog_name);
			st.ours = !strcmp(st.prog_name, BS_PROG_NAME);
			if (cb)
				cb(ctx, &st);
			n++;
		}
	}
	if_freenameindex(ifs);
	return n;
}
