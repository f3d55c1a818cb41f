/* The outbound ledger ("NewSender" at line rate): every outbound SMTP
 * transaction leaves keys here (its Message-ID, each (sender, accepted
 * recipient) pair, and the sender alone); an inbound bounce is checked
 * against them.
 *
 * Memory: a fixed-capacity set-associative table allocated once at start.
 * Entries are 16 bytes (64-bit keyed hash + time + kind), 8 per bucket, so
 * 1 GiB holds 67,108,864 entries (64 Mi). A full bucket evicts its oldest
 * entry (counted). Entries older than the window are dead and reused.
 * Keys are SipHash-2-4 under a random per-ledger key (stored with the saved
 * file), so remote parties cannot aim collisions at buckets.
 *
 * Concurrency: several worker lcores insert and look up at once (the
 * outbound message and its bounce may land on different lcores); each
 * bucket is guarded by one of a fixed set of striped spinlocks. No syscalls
 * and no allocation after create. */
#ifndef BS_LEDGER_H
#define BS_LEDGER_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define BS_LEDGER_WAYS 8
#define BS_LEDGER_DEFAULT_CAPACITY (1u << 22)   /* 4 Mi entries = 64 MiB */
#define BS_LEDGER_DEFAULT_WINDOW_S (7u * 86400)
#define BS_LEDGER_ENTRY_BYTES 16

enum bs_ledger_kind { BS_LK_MSGID = 1, BS_LK_PAIR = 2, BS_LK_SENDER = 3, BS_LK_DOMAIN = 4 };

struct bs_ledger_stats {
	uint64_t inserts, refreshes, evictions, lookups, hits;
	uint64_t live;          /* entries in the table (dead ones included until reused) */
	uint64_t capacity;
};

struct bs_ledger;

/* capacity is rounded up to a power-of-two number of buckets. */
struct bs_ledger *bs_ledger_create(uint32_t capacity, uint32_t window_s, char *err, size_t errlen);
void bs_ledger_destroy(struct bs_ledger *l);

/* Persistence: load returns the number of entries loaded (0 and no error
 * when the file does not exist yet), -1 with "path: what" in err otherwise.
 * Load only into an empty ledger (it adopts the file's hash key). Save
 * writes path.tmp then renames it over path (a crash leaves the old file). */
long bs_ledger_load(struct bs_ledger *l, const char *path, char *err, size_t errlen);
long bs_ledger_save(const struct bs_ledger *l, const char *path, uint32_t now_s, char *err, size_t errlen);

/* Recording (outbound transactions) and lookups (bounces); now_s is the
 * capture clock in seconds. Strings are compared case-insensitively except
 * the Message-ID, whose surrounding <> and blanks are ignored. */
void bs_ledger_record_msgid(struct bs_ledger *l, const char *msgid, uint32_t now_s);
void bs_ledger_record_pair(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s);
void bs_ledger_record_sender(struct bs_ledger *l, const char *sender, uint32_t now_s);
/* (sender, recipient's domain): lets a bounce be judged as soon as its
 * failed recipient is known, before the returned original arrives. */
void bs_ledger_record_domain(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s);
bool bs_ledger_has_msgid(struct bs_ledger *l, const char *msgid, uint32_t now_s);
bool bs_ledger_has_pair(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s);
bool bs_ledger_has_sender(struct bs_ledger *l, const char *sender, uint32_t now_s);
bool bs_ledger_has_domain(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s);

uint32_t bs_ledger_window(const struct bs_ledger *l);
/* Capture time of the first entry ever recorded (kept across save/load), 0
 * when empty: lets the classifier hold back "no match" evidence while the
 * ledger is younger than its warm-up period. */
uint32_t bs_ledger_since(const struct bs_ledger *l);
void bs_ledger_get_stats(const struct bs_ledger *l, struct bs_ledger_stats *st);

#endif
