/* bs_enforce core: opening/creating the pinned maps, writing verdicts,
 * sweeping, listing, deleting, counters. See enforcer_user.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "enforcer_user.h"
#include "enforcer_priv.h"
#include "enforcer_expiry.h"
#include "enforcer.skel.h"

#define SESS_BATCH 256

static const struct {
	const char *name;
	uint32_t type, key_size, value_size;
} map_spec[BS_MAPID_MAX] = {
	[BS_MAPID_SESSIONS] = {BS_MAP_SESSIONS, BPF_MAP_TYPE_LRU_HASH, sizeof(struct bs_sess_key), sizeof(struct bs_drop_val)},
	[BS_MAPID_SRC_DROP] = {BS_MAP_SRC_DROP, BPF_MAP_TYPE_LPM_TRIE, sizeof(struct bs_lpm_key), sizeof(struct bs_drop_val)},
	[BS_MAPID_SRC_SHAPE] = {BS_MAP_SRC_SHAPE, BPF_MAP_TYPE_LPM_TRIE, sizeof(struct bs_lpm_key), sizeof(struct bs_shape_val)},
	[BS_MAPID_ALLOW] = {BS_MAP_ALLOW, BPF_MAP_TYPE_LPM_TRIE, sizeof(struct bs_lpm_key), sizeof(struct bs_allow_val)},
	[BS_MAPID_COUNTERS] = {BS_MAP_COUNTERS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct bs_counter_val)},
	[BS_MAPID_DROP_REASON] = {BS_MAP_DROP_REASON, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64)},
};

struct bs_enforcer {
	char pin_dir[PATH_MAX];
	int fd[BS_MAPID_MAX];
	uint32_t size[BS_MAPID_MAX];
	struct bs_enforcer_bpf *skel;  /* loaded program, when asked for */
	int ncpu;
	int sess_batch;                /* 1: kernel takes batched updates */
	int tracking;                  /* expiry heap in use */
	uint64_t vanished;             /* tracked entries gone before their expiry */
	struct bs_expiry_heap exp;
};

/* libbpf's own diagnostics are kept (not printed) so that an error message
 * can quote the last one. */
static __thread char libbpf_last[256];

static int libbpf_keep(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(libbpf_last, sizeof(libbpf_last), fmt, ap);
	size_t l = strlen(libbpf_last);
	while (l && libbpf_last[l - 1] == '\n')
		libbpf_last[--l] = 0;
	return 0;
}

void bs_libbpf_quiet(void)
{
	libbpf_set_print(libbpf_keep);
	libbpf_last[0] = 0;
}

const char *bs_libbpf_last(void)
{
	return libbpf_last;
}

void bs_errno_msg(char *err, size_t errlen, int e, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (e == EPERM || e == EACCES)
		snprintf(err, errlen, "%s: %s (needs root: CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN for bpffs)",
			 what, strerror(e));
	else if (libbpf_last[0])
		snprintf(err, errlen, "%s: %s (libbpf: %s)", what, strerror(e), libbpf_last);
	else
		snprintf(err, errlen, "%s: %s", what, strerror(e));
}

const char *bs_enforcer_pin_dir(const char *override)
{
	const char *env;

	if (override && *override)
		return override;
	env = getenv(BS_PIN_DIR_ENV);
	if (env && *env)
		return env;
	return BS_PIN_DIR_DEFAULT;
}

const char *bs_enforcer_get_pin_dir(const struct bs_enforcer *e)
{
	return e->pin_dir;
}

int bs_enforcer_map_fd(const struct bs_enforcer *e, enum bs_map_id id)
{
	return id < BS_MAPID_MAX ? e->fd[id] : -1;
}

uint32_t bs_enforcer_map_size(const struct bs_enforcer *e, enum bs_map_id id)
{
	return id < BS_MAPID_MAX ? e->size[id] : 0;
}

/* The pin directory's parent must be on a bpffs. /sys/fs/bpf is mounted
 * when it is not (as bpftool does); elsewhere that is the operator's call. */
static int ensure_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	struct statfs sf;
	char *slash;

	if (pin_dir[0] != '/') {
		snprintf(err, errlen, "pin directory '%s' must be an absolute path", pin_dir);
		return -EINVAL;
	}
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	while ((slash = strrchr(parent, '/')) && slash[1] == 0 && slash != parent)
		*slash = 0; /* trailing slashes */
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	else
		*slash = 0;

	if (statfs(parent, &sf) == 0 && sf.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(parent, "/sys/fs/bpf") != 0) {
		snprintf(err, errlen, "pin directory '%s': '%s' is not on a bpffs (mount -t bpf bpf %s)",
			 pin_dir, parent, parent);
		return -ENOTDIR;
	}
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
		int e = errno;
		snprintf(err, errlen, "no bpffs on /sys/fs/bpf and mounting one failed: %s%s", strerror(e),
			 e == EPERM || e == EACCES ? " (needs root)" : "");
		return -e;
	}
	return 0;
}

static void close_fds(struct bs_enforcer *e)
{
	for (int i = 0; i < BS_MAPID_MAX; i++) {
		if (e->fd[i] >= 0)
			close(e->fd[i]);
		e->fd[i] = -1;
	}
}

/* Opens the pinned maps that exist; returns how many are missing, or a
 * negative errno (with err set) when one exists but is unusable. */
static int open_pinned(struct bs_enforcer *e, char *err, size_t errlen)
{
	int missing = 0;

	for (int i = 0; i < BS_MAPID_MAX; i++) {
		char path[PATH_MAX + 32];
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int fd;

		snprintf(path, sizeof(path), "%s/%s", e->pin_dir, map_spec[i].name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			int x = errno;
			if (x == ENOENT) {
				missing++;
				continue;
			}
			bs_errno_msg(err, errlen, x, "cannot open pinned map %s", path);
			return -x;
		}
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			int x = errno;
			close(fd);
			bs_errno_msg(err, errlen, x, "cannot query pinned map %s", path);
			return -x;
		}
		if (info.type != map_spec[i].type || info.key_size != map_spec[i].key_size ||
		    info.value_size != map_spec[i].value_size) {
			close(fd);
			snprintf(err, errlen,
				 "pinned map %s has another layout (type %u key %u value %u, this build wants "
				 "type %u key %u value %u): it was made by another version; remove %s to recreate "
				 "(its entries are lost)", path, info.type, info.key_size, info.value_size,
				 map_spec[i].type, map_spec[i].key_size, map_spec[i].value_size, e->pin_dir);
			return -EPROTO;
		}
		e->fd[i] = fd;
		e->size[i] = info.max_entries;
	}
	return missing;
}

static struct bpf_map *skel_map(struct bs_enforcer_bpf *s, int id)
{
	switch (id) {
	case BS_MAPID_SESSIONS: return s->maps.bs_sessions;
	case BS_MAPID_SRC_DROP: return s->maps.bs_src_drop;
	case BS_MAPID_SRC_SHAPE: return s->maps.bs_src_shape;
	case BS_MAPID_ALLOW: return s->maps.bs_allow;
	case BS_MAPID_COUNTERS: return s->maps.bs_counters;
	default: return s->maps.bs_drop_reason;
	}
}

/* Loads the object with its maps pinned by name under pin_dir: existing
 * pins are reused (sized as they are), missing ones created and pinned. */
static int load_skel(struct bs_enforcer *e, const uint32_t *want, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = e->pin_dir);
	struct bs_enforcer_bpf *s;
	int r;

	bs_libbpf_quiet();
	s = bs_enforcer_bpf__open_opts(&opts);
	if (!s) {
		bs_errno_msg(err, errlen, errno, "cannot open the enforcer object");
		return -errno;
	}
	for (int i = 0; i < BS_MAPID_MAX; i++) {
		uint32_t n = e->fd[i] >= 0 ? e->size[i] : (want ? want[i] : 0);
		if (n)
			bpf_map__set_max_entries(skel_map(s, i), n);
	}
	r = bs_enforcer_bpf__load(s);
	if (r) {
		bs_errno_msg(err, errlen, -r, "cannot load the enforcer program and maps (pin dir %s)", e->pin_dir);
		bs_enforcer_bpf__destroy(s);
		return r;
	}
	for (int i = 0; i < BS_MAPID_MAX; i++) {
		if (e->fd[i] < 0) {
			e->fd[i] = dup(bpf_map__fd(skel_map(s, i)));
			e->size[i] = bpf_map__max_entries(skel_map(s, i));
		}
	}
	e->skel = s;
	return 0;
}

struct bs_enforcer *bs_enforcer_open_sized(const char *pin_dir, const struct bs_enforcer_sizes *sizes,
					   char *err, size_t errlen)
{
	struct bs_enforcer *e;
	uint32_t want[BS_MAPID_MAX] = {0};
	int r;

	bs_libbpf_quiet();
	pin_dir = bs_enforcer_pin_dir(pin_dir);
	if (strlen(pin_dir) >= PATH_MAX) {
		snprintf(err, errlen, "pin directory path too long");
		return NULL;
	}
	if (sizes) {
		want[BS_MAPID_SESSIONS] = sizes->sessions;
		want[BS_MAPID_SRC_DROP] = sizes->src_drop;
		want[BS_MAPID_SRC_SHAPE] = sizes->src_shape;
		want[BS_MAPID_ALLOW] = sizes->allow;
	}
	if (ensure_bpffs(pin_dir, err, errlen))
		return NULL;
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		bs_errno_msg(err, errlen, errno, "cannot create pin directory %s", pin_dir);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(e->pin_dir, sizeof(e->pin_dir), "%s", pin_dir);
	for (int i = 0; i < BS_MAPID_MAX; i++)
		e->fd[i] = -1;
	e->sess_batch = 1;
	e->ncpu = libbpf_num_possible_cpus();
	if (e->ncpu <= 0) {
		snprintf(err, errlen, "cannot count possible CPUs");
		goto fail;
	}

	r = open_pinned(e, err, errlen);
	if (r < 0)
		goto fail;
	if (r > 0 && load_skel(e, want, err, errlen)) {
		/* another process may have created them meanwhile: once more */
		close_fds(e);
		r = open_pinned(e, err, errlen);
		if (r != 0) {
			if (r > 0)
				snprintf(err + strlen(err), errlen - strlen(err), " (and %d maps still missing)", r);
			goto fail;
		}
	}
	for (int i = 0; i < BS_MAPID_MAX; i++) {
		if (want[i] && want[i] != e->size[i]) {
			snprintf(err, errlen, "pinned map %s/%s holds %u entries, %u were asked for; remove "
				 "the pin directory to recreate it", e->pin_dir, map_spec[i].name, e->size[i], want[i]);
			goto fail;
		}
	}
	return e;
fail:
	bs_enforcer_close(e);
	return NULL;
}

struct bs_enforcer *bs_enforcer_open(const char *pin_dir, char *err, size_t errlen)
{
	return bs_enforcer_open_sized(pin_dir, NULL, err, errlen);
}

void bs_enforcer_close(struct bs_enforcer *e)
{
	if (!e)
		return;
	close_fds(e);
	if (e->skel)
		bs_enforcer_bpf__destroy(e->skel);
	if (e->tracking)
		bs_expiry_free(&e->exp);
	free(e);
}

int bs_enforcer_prog_fd(struct bs_enforcer *e, char *err, size_t errlen)
{
	int r;

	if (!e->skel && (r = load_skel(e, NULL, err, errlen)))
		return r;
	return bpf_program__fd(e->skel->progs.bs_xdp_enforce);
}

/* ---- verdict messages to map entries ---- */

static int check_family(const uint8_t *addr, uint8_t ip_ver, const char *what, char *err, size_t errlen)
{
	if (ip_ver != 4 && ip_ver != 6) {
		snprintf(err, errlen, "%s: ip_ver %u is neither 4 nor 6", what, ip_ver);
		return -EINVAL;
	}
	if ((ip_ver == 4) != !!bs_addr_is_v4mapped(addr)) {
		snprintf(err, errlen, "%s: ip_ver %u does not match the address (IPv4 must be ::ffff:a.b.c.d)",
			 what, ip_ver);
		return -EINVAL;
	}
	return 0;
}

static int make_lpm_key(struct bs_lpm_key *k, uint8_t ip_ver, const uint8_t addr[16], uint8_t plen,
			char *err, size_t errlen)
{
	unsigned max = ip_ver == 4 ? 32 : 128;

	if (check_family(addr, ip_ver, "prefix", err, errlen))
		return -EINVAL;
	/* IPv4 lengths may also come in the 128-bit form of the mapped address
	 * (96..128, e.g. 128 for a host): the two ranges cannot be confused */
	if (ip_ver == 4 && plen >= 96 && plen <= 128)
		plen = (uint8_t)(plen - 96);
	if (plen > max) {
		snprintf(err, errlen, "prefix length %u is longer than %u", plen, max);
		return -EINVAL;
	}
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, addr, 16);
	bs_mask_addr(k->addr, ip_ver, plen);
	k->prefixlen = (ip_ver == 4 ? 96 : 0) + plen;
	return 0;
}

static int make_sess_key(struct bs_sess_key *k, const struct bs_verdict_msg *m, char *err, size_t errlen)
{
	if (check_family(m->src, m->ip_ver, "session source", err, errlen) ||
	    check_family(m->dst, m->ip_ver, "session destination", err, errlen))
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	bs_sess_key_make(k, m->src, m->sport, m->dst, m->dport);
	return 0;
}

static uint64_t expiry(uint64_t now, uint32_t ttl_s)
{
	return ttl_s ? now + (uint64_t)ttl_s * 1000000000ull : 0;
}

static int sweep_lpm(struct bs_enforcer *e, enum bs_map_id id, uint64_t now, int all);

/* Updates an LPM entry; a full map is swept of expired entries once. */
static int lpm_update(struct bs_enforcer *e, enum bs_map_id id, const struct bs_lpm_key *k, const void *v,
		      char *err, size_t errlen)
{
	if (bpf_map_update_elem(e->fd[id], k, v, BPF_ANY) == 0)
		return 0;
	if (errno == ENOSPC || errno == E2BIG) {
		sweep_lpm(e, id, bs_mono_ns(), 0);
		if (bpf_map_update_elem(e->fd[id], k, v, BPF_ANY) == 0)
			return 0;
		if (errno == ENOSPC || errno == E2BIG) {
			snprintf(err, errlen, "map %s is full (%u entries, none expired)", map_spec[id].name,
				 e->size[id]);
			return -ENOSPC;
		}
	}
	int x = errno;
	bs_errno_msg(err, errlen, x, "cannot update map %s", map_spec[id].name);
	return -x;
}

static int apply_sessions(struct bs_enforcer *e, const struct bs_sess_key *k, const struct bs_drop_val *v,
			  unsigned n, char *err, size_t errlen)
{
	unsigned done = 0;

	if (e->sess_batch) {
		LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
		__u32 count = n;
		if (bpf_map_update_batch(e->fd[BS_MAPID_SESSIONS], k, v, &count, &bo) == 0)
			return (int)n;
		if (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)
			e->sess_batch = count ? 1 : 0; /* kernel without batch ops */
		done = count <= n ? count : 0;
	}
	for (; done < n; done++) {
		if (bpf_map_update_elem(e->fd[BS_MAPID_SESSIONS], &k[done], &v[done], BPF_ANY)) {
			int x = errno;
			bs_errno_msg(err, errlen, x, "cannot update map %s", BS_MAP_SESSIONS);
			errno = x;
			break;
		}
	}
	return (int)done;
}

static int shape_val(struct bs_enforcer *e, const struct bs_lpm_key *k, const struct bs_verdict_msg *m,
		     uint64_t now, struct bs_shape_val *v, char *err, size_t errlen)
{
	struct bs_shape_val old;

	if (m->rate_pps == 0 || m->rate_pps > 1000000000u || m->burst == 0) {
		snprintf(err, errlen, "shaping needs rate 1..1000000000 packets/s and burst >= 1 (got rate %u burst %u)",
			 m->rate_pps, m->burst);
		return -EINVAL;
	}
	memset(v, 0, sizeof(*v));
	v->interval_ns = 1000000000ull / m->rate_pps;
	v->tolerance_ns = (uint64_t)(m->burst - 1) * v->interval_ns;
	v->rate_pps = m->rate_pps;
	v->burst = m->burst;
	v->reason = m->reason;
	v->key_plen = k->prefixlen;
	v->created_ns = now;
	v->expires_ns = expiry(now, m->ttl_s);
	/* a refreshed verdict keeps its bucket: re-sending it must not hand
	 * the source a fresh burst */
	if (bpf_map_lookup_elem(e->fd[BS_MAPID_SRC_SHAPE], k, &old) == 0 && old.key_plen == k->prefixlen &&
	    old.interval_ns == v->interval_ns && old.tolerance_ns == v->tolerance_ns) {
		v->tat_ns = old.tat_ns;
		v->created_ns = old.created_ns;
		v->passed = old.passed;
		v->dropped = old.dropped;
	}
	return 0;
}

int bs_enforcer_track_expiry(struct bs_enforcer *e, uint32_t capacity, char *err, size_t errlen)
{
	if (e->tracking)
		return 0;
	if (bs_expiry_init(&e->exp, capacity)) {
		snprintf(err, errlen, "out of memory for an expiry queue of %u entries", capacity);
		return -ENOMEM;
	}
	e->tracking = 1;
	return 0;
}

uint64_t bs_enforcer_vanished(const struct bs_enforcer *e)
{
	return e->vanished;
}

uint64_t bs_enforcer_expiry_overflow(const struct bs_enforcer *e)
{
	return e->tracking ? e->exp.overflow : 0;
}

static void track(struct bs_enforcer *e, enum bs_map_id id, const void *key, size_t klen, uint64_t expires_ns)
{
	struct bs_expiry_item it;

	if (!e->tracking || !expires_ns)
		return;
	memset(&it, 0, sizeof(it));
	it.expires_ns = expires_ns;
	it.map_id = id;
	memcpy(&it.key, key, klen);
	bs_expiry_push(&e->exp, &it); /* full: the entry is left to LRU / a full sweep */
}

int bs_enforcer_apply(struct bs_enforcer *e, const struct bs_verdict_msg *m, unsigned n, char *err, size_t errlen)
{
	struct bs_sess_key sk[SESS_BATCH];
	struct bs_drop_val sv[SESS_BATCH];
	uint64_t now = bs_mono_ns();
	unsigned i = 0;
	int r;

	bs_libbpf_quiet();
	while (i < n) {
		const struct bs_verdict_msg *x = &m[i];
		struct bs_lpm_key lk;

		if (x->kind == BS_VK_SESSION_DROP) {
			unsigned c = 0;
			while (i + c < n && c < SESS_BATCH && m[i + c].kind == BS_VK_SESSION_DROP) {
				if (make_sess_key(&sk[c], &m[i + c], err, errlen))
					break;
				memset(&sv[c], 0, sizeof(sv[c]));
				sv[c].created_ns = now;
				sv[c].expires_ns = expiry(now, m[i + c].ttl_s);
				sv[c].reason = m[i + c].reason;
				c++;
			}
			if (c == 0) {
				errno = EINVAL;
				return (int)i;
			}
			r = apply_sessions(e, sk, sv, c, err, errlen);
			for (int j = 0; j < r; j++)
				track(e, BS_MAPID_SESSIONS, &sk[j], sizeof(sk[j]), sv[j].expires_ns);
			i += (unsigned)r;
			if ((unsigned)r < c)
				return (int)i;
			continue;
		}
		if (x->kind != BS_VK_SOURCE_DROP && x->kind != BS_VK_SOURCE_SHAPE) {
			snprintf(err, errlen, "verdict kind %u is unknown", x->kind);
			errno = EINVAL;
			return (int)i;
		}
		if (make_lpm_key(&lk, x->ip_ver, x->src, x->prefix_len, err, errlen)) {
			errno = EINVAL;
			return (int)i;
		}
		if (x->kind == BS_VK_SOURCE_DROP) {
			struct bs_drop_val v = {.created_ns = now, .expires_ns = expiry(now, x->ttl_s), .reason = x->reason};
			r = lpm_update(e, BS_MAPID_SRC_DROP, &lk, &v, err, errlen);
			if (!r)
				track(e, BS_MAPID_SRC_DROP, &lk, sizeof(lk), v.expires_ns);
		} else {
			struct bs_shape_val v;
			r = shape_val(e, &lk, x, now, &v, err, errlen);
			if (!r)
				r = lpm_update(e, BS_MAPID_SRC_SHAPE, &lk, &v, err, errlen);
			if (!r)
				track(e, BS_MAPID_SRC_SHAPE, &lk, sizeof(lk), v.expires_ns);
		}
		if (r) {
			errno = -r;
			return (int)i;
		}
		i++;
	}
	return (int)n;
}

/* ---- sweeping, listing, deleting ---- */

static int entry_expired(enum bs_map_id id, const void *val, uint64_t now)
{
	uint64_t exp;

	if (id == BS_MAPID_SRC_SHAPE)
		exp = ((const struct bs_shape_val *)val)->expires_ns;
	else if (id == BS_MAPID_ALLOW)
		return 0;
	else
		exp = ((const struct bs_drop_val *)val)->expires_ns;
	return exp && exp <= now;
}

/* Walks any map with get_next_key; deletes what is expired (or all). The
 * next key is fetched before the current one is deleted, so the walk does
 * not restart. */
static int sweep_walk(struct bs_enforcer *e, enum bs_map_id id, uint64_t now, int all)
{
	union { struct bs_sess_key s; struct bs_lpm_key l; } cur, next;
	union { struct bs_drop_val d; struct bs_shape_val s; struct bs_allow_val a; } val;
	int fd = e->fd[id], removed = 0, have;

	have = bpf_map_get_next_key(fd, NULL, &cur) == 0;
	while (have) {
		have = bpf_map_get_next_key(fd, &cur, &next) == 0;
		if (all || (bpf_map_lookup_elem(fd, &cur, &val) == 0 && entry_expired(id, &val, now))) {
			if (bpf_map_delete_elem(fd, &cur) == 0)
				removed++;
		}
		cur = next;
	}
	return removed;
}

static int sweep_lpm(struct bs_enforcer *e, enum bs_map_id id, uint64_t now, int all)
{
	return sweep_walk(e, id, now, all);
}

/* Sessions may be a million entries: read them in batches. */
static int sweep_sessions(struct bs_enforcer *e, uint64_t now)
{
	enum { CHUNK = 1024 };
	static __thread struct bs_sess_key keys[CHUNK], dead[CHUNK];
	static __thread struct bs_drop_val vals[CHUNK];
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u64 in_tok = 0, out_tok = 0;
	int fd = e->fd[BS_MAPID_SESSIONS], removed = 0, first = 1, done = 0;

	while (!done) {
		__u32 count = CHUNK, ndead = 0;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok, keys, vals, &count, &bo);
		if (r) {
			if (errno != ENOENT)
				return first ? sweep_walk(e, BS_MAPID_SESSIONS, now, 0) : -errno;
			done = 1; /* last chunk (count may still be > 0) */
		}
		first = 0;
		in_tok = out_tok;
		for (__u32 i = 0; i < count; i++)
			if (vals[i].expires_ns && vals[i].expires_ns <= now)
				dead[ndead++] = keys[i];
		for (__u32 i = 0; i < ndead; i++)
			if (bpf_map_delete_elem(fd, &dead[i]) == 0)
				removed++;
	}
	return removed;
}

/* Pops expired items; deletes an entry only if the map still holds it
 * with an expiry that has passed (a refreshed verdict has a later expiry
 * and its own item). */
int bs_enforcer_sweep_some(struct bs_enforcer *e, uint64_t now_ns, unsigned budget)
{
	const struct bs_expiry_item *it;
	union { struct bs_drop_val d; struct bs_shape_val s; } v;
	int removed = 0;

	if (!e->tracking)
		return bs_enforcer_sweep_all(e, now_ns);
	while (budget-- && (it = bs_expiry_peek(&e->exp)) && it->expires_ns <= now_ns) {
		int fd = e->fd[it->map_id];
		/* an LPM lookup may answer with a covering prefix: shaping
		 * values carry their own prefix length to tell */
		int found = bpf_map_lookup_elem(fd, &it->key, &v) == 0 &&
			    (it->map_id != BS_MAPID_SRC_SHAPE || v.s.key_plen == it->key.l.prefixlen);
		if (!found)
			e->vanished++; /* LRU eviction, or an operator's del/flush */
		else if (entry_expired(it->map_id, &v, now_ns) && bpf_map_delete_elem(fd, &it->key) == 0)
			removed++;
		bs_expiry_pop(&e->exp);
	}
	return removed;
}

int bs_enforcer_sweep(struct bs_enforcer *e, uint64_t now_ns)
{
	return e->tracking ? bs_enforcer_sweep_some(e, now_ns, ~0u) : bs_enforcer_sweep_all(e, now_ns);
}

int bs_enforcer_sweep_all(struct bs_enforcer *e, uint64_t now_ns)
{
	int a, b, c;

	a = sweep_sessions(e, now_ns);
	if (a < 0)
		return a;
	b = sweep_lpm(e, BS_MAPID_SRC_DROP, now_ns, 0);
	c = sweep_lpm(e, BS_MAPID_SRC_SHAPE, now_ns, 0);
	return a + b + c;
}

static void fill_lpm_entry(struct bs_entry *ent, const struct bs_lpm_key *k)
{
	memcpy(ent->src, k->addr, 16);
	if (k->prefixlen >= 96 && bs_addr_is_v4mapped(k->addr)) {
		ent->ip_ver = 4;
		ent->prefix_len = (uint8_t)(k->prefixlen - 96);
	} else {
		ent->ip_ver = 6;
		ent->prefix_len = (uint8_t)k->prefixlen;
	}
}

static int list_map(struct bs_enforcer *e, enum bs_entry_kind kind, bs_entry_cb cb, void *ctx,
		    char *err, size_t errlen)
{
	static const enum bs_map_id ids[] = {0, BS_MAPID_SESSIONS, BS_MAPID_SRC_DROP, BS_MAPID_SRC_SHAPE, BS_MAPID_ALLOW};
	enum bs_map_id id = ids[kind];
	union { struct bs_sess_key s; struct bs_lpm_key l; } cur, next;
	union { struct bs_drop_val d; struct bs_shape_val s; struct bs_allow_val a; } val;
	int fd = e->fd[id], n = 0, have;

	have = bpf_map_get_next_key(fd, NULL, &cur) == 0;
	while (have) {
		struct bs_entry ent;

		have = bpf_map_get_next_key(fd, &cur, &next) == 0;
		if (bpf_map_lookup_elem(fd, &cur, &val) == 0) {
			memset(&ent, 0, sizeof(ent));
			ent.kind = kind;
			if (kind == BS_ENTRY_SESSION) {
				memcpy(ent.src, cur.s.lo_addr, 16);
				memcpy(ent.dst, cur.s.hi_addr, 16);
				ent.sport = cur.s.lo_port;
				ent.dport = cur.s.hi_port;
				ent.ip_ver = bs_addr_is_v4mapped(cur.s.lo_addr) ? 4 : 6;
				ent.prefix_len = ent.ip_ver == 4 ? 32 : 128;
			} else {
				fill_lpm_entry(&ent, &cur.l);
			}
			if (kind == BS_ENTRY_SOURCE_SHAPE) {
				ent.reason = val.s.reason;
				ent.rate_pps = val.s.rate_pps;
				ent.burst = val.s.burst;
				ent.expires_ns = val.s.expires_ns;
				ent.created_ns = val.s.created_ns;
				ent.hits = val.s.dropped;
				ent.passed = val.s.passed;
			} else if (kind == BS_ENTRY_ALLOW) {
				ent.created_ns = val.a.created_ns;
			} else {
				ent.reason = val.d.reason;
				ent.expires_ns = val.d.expires_ns;
				ent.created_ns = val.d.created_ns;
				ent.hits = val.d.hits;
			}
			if (cb)
				cb(ctx, &ent);
			n++;
		}
		cur = next;
	}
	(void)err;
	(void)errlen;
	return n;
}

int bs_enforcer_list(struct bs_enforcer *e, enum bs_entry_kind kind, bs_entry_cb cb, void *ctx,
		     char *err, size_t errlen)
{
	int total = 0;

	if (kind > BS_ENTRY_ALLOW) {
		snprintf(err, errlen, "unknown entry kind %d", kind);
		return -EINVAL;
	}
	for (int k = BS_ENTRY_SESSION; k <= BS_ENTRY_ALLOW; k++) {
		if (kind && k != (int)kind)
			continue;
		int r = list_map(e, k, cb, ctx, err, errlen);
		if (r < 0)
			return r;
		total += r;
	}
	return total;
}

int bs_enforcer_del(struct bs_enforcer *e, const struct bs_verdict_msg *m, char *err, size_t errlen)
{
	enum bs_map_id id;
	union { struct bs_sess_key s; struct bs_lpm_key l; } k;

	bs_libbpf_quiet();
	if (m->kind == BS_VK_SESSION_DROP) {
		if (make_sess_key(&k.s, m, err, errlen))
			return -EINVAL;
		id = BS_MAPID_SESSIONS;
	} else if (m->kind == BS_VK_SOURCE_DROP || m->kind == BS_VK_SOURCE_SHAPE) {
		if (make_lpm_key(&k.l, m->ip_ver, m->src, m->prefix_len, err, errlen))
			return -EINVAL;
		id = m->kind == BS_VK_SOURCE_DROP ? BS_MAPID_SRC_DROP : BS_MAPID_SRC_SHAPE;
	} else {
		snprintf(err, errlen, "verdict kind %u is unknown", m->kind);
		return -EINVAL;
	}
	if (bpf_map_delete_elem(e->fd[id], &k)) {
		int x = errno;
		if (x == ENOENT)
			snprintf(err, errlen, "no such entry in %s", map_spec[id].name);
		else
			bs_errno_msg(err, errlen, x, "cannot delete from %s", map_spec[id].name);
		return -x;
	}
	return 0;
}

int bs_enforcer_flush(struct bs_enforcer *e, enum bs_entry_kind kind, char *err, size_t errlen)
{
	static const enum bs_map_id ids[] = {0, BS_MAPID_SESSIONS, BS_MAPID_SRC_DROP, BS_MAPID_SRC_SHAPE, BS_MAPID_ALLOW};
	int total = 0;

	if (kind > BS_ENTRY_ALLOW) {
		snprintf(err, errlen, "unknown entry kind %d", kind);
		return -EINVAL;
	}
	for (int k = BS_ENTRY_SESSION; k <= BS_ENTRY_ALLOW; k++) {
		if (kind ? k != (int)kind : k == BS_ENTRY_ALLOW)
			continue;
		total += sweep_walk(e, ids[k], 0, 1);
	}
	return total;
}

int bs_enforcer_allow_add(struct bs_enforcer *e, uint8_t ip_ver, const uint8_t addr[16], uint8_t prefix_len,
			  char *err, size_t errlen)
{
	struct bs_lpm_key k;
	struct bs_allow_val v = {.created_ns = bs_mono_ns()};

	bs_libbpf_quiet();
	if (make_lpm_key(&k, ip_ver, addr, prefix_len, err, errlen))
		return -EINVAL;
	if (bpf_map_update_elem(e->fd[BS_MAPID_ALLOW], &k, &v, BPF_ANY)) {
		int x = errno;
		if (x == ENOSPC || x == E2BIG)
			snprintf(err, errlen, "allow-list is full (%u entries)", e->size[BS_MAPID_ALLOW]);
		else
			bs_errno_msg(err, errlen, x, "cannot update %s", BS_MAP_ALLOW);
		return -x;
	}
	return 0;
}

int bs_enforcer_allow_del(struct bs_enforcer *e, uint8_t ip_ver, const uint8_t addr[16], uint8_t prefix_len,
			  char *err, size_t errlen)
{
	struct bs_lpm_key k;

	if (make_lpm_key(&k, ip_ver, addr, prefix_len, err, errlen))
		return -EINVAL;
	if (bpf_map_delete_elem(e->fd[BS_MAPID_ALLOW], &k)) {
		int x = errno;
		if (x == ENOENT)
			snprintf(err, errlen, "prefix is not on the allow-list");
		else
			bs_errno_msg(err, errlen, x, "cannot delete from %s", BS_MAP_ALLOW);
		return -x;
	}
	return 0;
}

/* ---- counters ---- */

static const char *const counter_names[BS_CNT_MAX] = {
	[BS_CNT_PASS_NO_MATCH] = "pass_no_match",
	[BS_CNT_PASS_ALLOW] = "pass_allow",
	[BS_CNT_PASS_SHAPE] = "pass_shape",
	[BS_CNT_PASS_SHAPE_BUSY] = "pass_shape_busy",
	[BS_CNT_PASS_NON_IP] = "pass_non_ip",
	[BS_CNT_PASS_NON_TCP] = "pass_non_tcp",
	[BS_CNT_PASS_FRAGMENT] = "pass_fragment",
	[BS_CNT_PASS_TRUNCATED] = "pass_truncated",
	[BS_CNT_PASS_MALFORMED] = "pass_malformed",
	[BS_CNT_DROP_SESSION] = "drop_session",
	[BS_CNT_DROP_SOURCE] = "drop_source",
	[BS_CNT_DROP_SHAPE] = "drop_shape",
	[BS_CNT_EV_SESSION_EXPIRED] = "expired_session_seen",
	[BS_CNT_EV_SOURCE_EXPIRED] = "expired_source_seen",
	[BS_CNT_EV_SHAPE_EXPIRED] = "expired_shape_seen",
};

const char *bs_counter_name(enum bs_counter c)
{
	return (unsigned)c < BS_CNT_MAX ? counter_names[c] : "?";
}

int bs_enforcer_stats(struct bs_enforcer *e, struct bs_enforcer_stats *out, char *err, size_t errlen)
{
	struct bs_counter_val *cv = calloc((size_t)e->ncpu, sizeof(*cv));
	__u64 *rv = calloc((size_t)e->ncpu, sizeof(*rv));
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!cv || !rv) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (__u32 i = 0; i < BS_CNT_MAX; i++) {
		if (bpf_map_lookup_elem(e->fd[BS_MAPID_COUNTERS], &i, cv)) {
			r = -errno;
			bs_errno_msg(err, errlen, errno, "cannot read %s", BS_MAP_COUNTERS);
			goto out;
		}
		for (int c = 0; c < e->ncpu; c++) {
			out->cnt[i].packets += cv[c].packets;
			out->cnt[i].bytes += cv[c].bytes;
		}
	}
	for (__u32 i = 0; i < BS_REASON_SLOTS; i++) {
		if (bpf_map_lookup_elem(e->fd[BS_MAPID_DROP_REASON], &i, rv)) {
			r = -errno;
			bs_errno_msg(err, errlen, errno, "cannot read %s", BS_MAP_DROP_REASON);
			goto out;
		}
		for (int c = 0; c < e->ncpu; c++)
			out->drop_reason[i] += rv[c];
	}
out:
	free(cv);
	free(rv);
	return r;
}
