/* bs_enforce: the user side of the XDP enforcer, shared by the dataplane's
 * enforcer thread and backstopctl. It opens (creating on first use) the maps
 * pinned under a bpffs directory, writes verdicts into them, sweeps expired
 * entries, lists/deletes/flushes entries, sums the per-CPU counters, and
 * attaches/detaches the XDP program. Errors are returned (negative errno or
 * NULL) with a message in the caller's buffer; nothing is printed. */
#ifndef BS_ENFORCER_USER_H
#define BS_ENFORCER_USER_H
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "enforcer.h"
#include "dataplane/verdict_msg.h"

#define BS_PIN_DIR_DEFAULT "/sys/fs/bpf/backstop"
#define BS_PIN_DIR_ENV     "BACKSTOP_BPF_PIN"

struct bs_enforcer;

/* Pin directory to use: override if non-NULL, else $BACKSTOP_BPF_PIN, else
 * BS_PIN_DIR_DEFAULT. */
const char *bs_enforcer_pin_dir(const char *override);

/* Hard map sizes, fixed when the maps are first created; 0 = default. */
struct bs_enforcer_sizes {
	uint32_t sessions, src_drop, src_shape, allow;
};

/* Opens the maps pinned under pin_dir (NULL: bs_enforcer_pin_dir(NULL)),
 * mounting bpffs on /sys/fs/bpf if it is missing, and creating the maps
 * (by loading the object, without attaching it) if they do not exist yet. */
struct bs_enforcer *bs_enforcer_open(const char *pin_dir, char *err, size_t errlen);
/* Same, asking for sizes: an existing pinned map of another size is an error. */
struct bs_enforcer *bs_enforcer_open_sized(const char *pin_dir, const struct bs_enforcer_sizes *sizes,
					   char *err, size_t errlen);
void bs_enforcer_close(struct bs_enforcer *e);
const char *bs_enforcer_get_pin_dir(const struct bs_enforcer *e);

/* Writes n verdicts into the maps in order (session drops batched).
 * m->prefix_len counts per family (IPv4 0..32, IPv6 0..128); for IPv4 the
 * 128-bit form of the mapped address (96..128) is accepted too.
 * Returns how many from the front were applied: n on success; fewer means
 * m[ret] failed, errno tells why (EINVAL: the message itself is bad and a
 * retry cannot help; ENOSPC: its map is full even after sweeping expired
 * entries; other: the kernel refused, a retry may help) and err says so. */
int bs_enforcer_apply(struct bs_enforcer *e, const struct bs_verdict_msg *m, unsigned n,
		      char *err, size_t errlen);

/* Removes entries whose expiry is <= now_ns (CLOCK_MONOTONIC). Returns the
 * number removed or a negative errno. With expiry tracking on, only the
 * entries this handle wrote are visited (cheap); otherwise every map is
 * scanned (bs_enforcer_sweep_all). */
int bs_enforcer_sweep(struct bs_enforcer *e, uint64_t now_ns);
/* Full scan of the verdict maps (~90 ms for a 1M-entry session map, even
 * empty: the kernel walks every bucket). */
int bs_enforcer_sweep_all(struct bs_enforcer *e, uint64_t now_ns);
/* Tracked sweep that removes at most budget entries (bounds the pause). */
int bs_enforcer_sweep_some(struct bs_enforcer *e, uint64_t now_ns, unsigned budget);
/* Remember (expiry, key) of every entry apply writes from now on, in a
 * fixed queue of capacity items (~56 bytes each), so that sweeping need not
 * scan the maps. Entries beyond capacity are left to LRU eviction or to a
 * full sweep when a map fills (counted: bs_enforcer_expiry_overflow). */
int bs_enforcer_track_expiry(struct bs_enforcer *e, uint32_t capacity, char *err, size_t errlen);
uint64_t bs_enforcer_expiry_overflow(const struct bs_enforcer *e);
/* Tracked entries found gone when their expiry came: evicted by the
 * session map's LRU when full (the kernel does not count evictions), or
 * deleted by an operator first. */
uint64_t bs_enforcer_vanished(const struct bs_enforcer *e);

/* Entries, as the CLI lists them. */
enum bs_entry_kind {
	BS_ENTRY_SESSION = 1,
	BS_ENTRY_SOURCE_DROP,
	BS_ENTRY_SOURCE_SHAPE,
	BS_ENTRY_ALLOW,
};

struct bs_entry {
	enum bs_entry_kind kind;
	uint8_t ip_ver;          /* 4 or 6 */
	uint8_t prefix_len;      /* source/allow: per family (32/128 = host) */
	uint8_t src[16], dst[16];/* session: lo/hi ends; source/allow: the prefix */
	uint16_t sport, dport;
	uint32_t reason;
	uint32_t rate_pps, burst;
	uint64_t expires_ns;     /* 0 = never */
	uint64_t created_ns;
	uint64_t hits;           /* drops (session/source), non-conforming (shape) */
	uint64_t passed;         /* shape: conforming packets */
};

typedef void (*bs_entry_cb)(void *ctx, const struct bs_entry *ent);

/* Calls cb for each entry of kind (0: every kind). Returns the count or a
 * negative errno. */
int bs_enforcer_list(struct bs_enforcer *e, enum bs_entry_kind kind, bs_entry_cb cb, void *ctx,
		     char *err, size_t errlen);
/* Deletes the entry a verdict message describes (kind, addresses, ports,
 * prefix). 0, -ENOENT when absent, or another negative errno. */
int bs_enforcer_del(struct bs_enforcer *e, const struct bs_verdict_msg *m, char *err, size_t errlen);
/* Removes every entry of kind (0: all verdicts, not the allow-list).
 * Returns the number removed or a negative errno. */
int bs_enforcer_flush(struct bs_enforcer *e, enum bs_entry_kind kind, char *err, size_t errlen);

/* Allow-list: ip_ver 4 or 6, addr in the 16-byte format, prefix_len per family. */
int bs_enforcer_allow_add(struct bs_enforcer *e, uint8_t ip_ver, const uint8_t addr[16],
			  uint8_t prefix_len, char *err, size_t errlen);
int bs_enforcer_allow_del(struct bs_enforcer *e, uint8_t ip_ver, const uint8_t addr[16],
			  uint8_t prefix_len, char *err, size_t errlen);

/* Counters summed over CPUs. */
struct bs_enforcer_stats {
	struct bs_counter_val cnt[BS_CNT_MAX];
	uint64_t drop_reason[BS_REASON_SLOTS];
};
int bs_enforcer_stats(struct bs_enforcer *e, struct bs_enforcer_stats *out, char *err, size_t errlen);
const char *bs_counter_name(enum bs_counter c); /* e.g. "drop_session" */

/* Map fds, for tests and tools that need direct access. */
enum bs_map_id { BS_MAPID_SESSIONS, BS_MAPID_SRC_DROP, BS_MAPID_SRC_SHAPE, BS_MAPID_ALLOW,
		 BS_MAPID_COUNTERS, BS_MAPID_DROP_REASON, BS_MAPID_MAX };
int bs_enforcer_map_fd(const struct bs_enforcer *e, enum bs_map_id id);
uint32_t bs_enforcer_map_size(const struct bs_enforcer *e, enum bs_map_id id);

/* The XDP program, loaded on first call (sharing the pinned maps); for
 * attaching and for BPF_PROG_TEST_RUN. Returns an fd owned by e. */
int bs_enforcer_prog_fd(struct bs_enforcer *e, char *err, size_t errlen);

/* Attach/detach through netlink: the attachment outlives the process. An
 * interface that runs another XDP program is refused (detach it first). */
enum bs_xdp_mode { BS_XDP_NATIVE = 1, BS_XDP_GENERIC };
int bs_enforcer_attach(struct bs_enforcer *e, const char *ifname, enum bs_xdp_mode mode,
		       char *err, size_t errlen);
int bs_xdp_detach(const char *ifname, char *err, size_t errlen); /* only our program */

struct bs_xdp_status {
	char ifname[IF_NAMESIZE];
	unsigned ifindex;
	uint32_t prog_id;
	const char *mode;        /* "native", "generic", "offload" */
	char prog_name[16];
	int ours;                /* prog_name is BS_PROG_NAME */
};
/* Calls cb for every interface (of this network namespace) that has an XDP
 * program. Returns how many, or a negative errno. */
int bs_xdp_status_each(void (*cb)(void *ctx, const struct bs_xdp_status *st), void *ctx,
		       char *err, size_t errlen);

/* Addresses and prefixes (enforcer_prefix.c). */
/* Parses an IPv4/IPv6 address into the 16-byte format; 0 or -EINVAL. */
int bs_parse_addr(const char *s, uint8_t addr[16], uint8_t *ip_ver);
/* Parses "ADDR" (a host) or "ADDR/LEN"; host bits must be zero. */
int bs_parse_prefix(const char *s, uint8_t addr[16], uint8_t *ip_ver, uint8_t *prefix_len,
		    char *err, size_t errlen);
/* Formats the 16-byte format (mapped IPv4 as dotted quad). */
void bs_format_addr(const uint8_t addr[16], char *buf, size_t len);
/* Zeroes the bits after prefix_len (per family). */
void bs_mask_addr(uint8_t addr[16], uint8_t ip_ver, uint8_t prefix_len);
int bs_addr_is_v4mapped(const uint8_t addr[16]);
uint64_t bs_mono_ns(void);

#endif
