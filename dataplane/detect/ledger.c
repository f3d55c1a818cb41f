/* The outbound ledger; see ledger.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <errno.h>
#include <unistd.h>
#include <sys/random.h>
#include "ledger.h"
#include "addr.h"
#include "spin.h"

struct ledger_entry {
	uint64_t key;     /* 0 = empty */
	uint32_t ts;      /* capture seconds of the last record */
	uint32_t kind;    /* enum bs_ledger_kind, for stats and dumps */
};

struct ledger_bucket {
	struct ledger_entry e[BS_LEDGER_WAYS];
} __attribute__((aligned(64)));

#define LEDGER_STRIPES 4096u

struct bs_ledger {
	uint64_t hkey[2];
	uint32_t window_s;
	uint32_t since_s;   /* capture time of the first record ever (0: none yet) */
	uint32_t bucket_mask;
	struct ledger_bucket *b;
	bs_spin_t locks[LEDGER_STRIPES];
	/* statistics: relaxed atomics, summed by readers */
	uint64_t inserts, refreshes, evictions, lookups, hits, live;
};

#define FILE_MAGIC "BSLEDG01"
struct ledger_file_hdr {
	char magic[8];
	uint32_t version;
	uint32_t window_s;
	uint64_t hkey[2];
	uint32_t since_s;
	uint32_t reserved;
	uint64_t count;
};

struct bs_ledger *bs_ledger_create(uint32_t capacity, uint32_t window_s, char *err, size_t errlen)
{
	if (capacity == 0)
		capacity = BS_LEDGER_DEFAULT_CAPACITY;
	if (window_s == 0)
		window_s = BS_LEDGER_DEFAULT_WINDOW_S;
	if (capacity > (1u << 30)) {
		snprintf(err, errlen, "ledger capacity %u: more than 2^30 entries", capacity);
		return NULL;
	}
	uint32_t nb = 1;
	while ((uint64_t)nb * BS_LEDGER_WAYS < capacity)
		nb <<= 1;
	struct bs_ledger *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(err, errlen, "ledger: out of memory");
		return NULL;
	}
	l->b = aligned_alloc(64, (size_t)nb * sizeof(struct ledger_bucket));
	if (!l->b) {
		free(l);
		snprintf(err, errlen, "ledger: cannot allocate %zu bytes for %u entries",
			 (size_t)nb * sizeof(struct ledger_bucket), nb * BS_LEDGER_WAYS);
		return NULL;
	}
	memset(l->b, 0, (size_t)nb * sizeof(struct ledger_bucket));
	l->bucket_mask = nb - 1;
	l->window_s = window_s;
	if (getrandom(l->hkey, sizeof l->hkey, 0) != sizeof l->hkey) {
		/* no entropy source: still correct, only less collision-proof */
		l->hkey[0] = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
		l->hkey[1] = 0xc2b2ae3d27d4eb4fULL;
	}
	return l;
}

void bs_ledger_destroy(struct bs_ledger *l)
{
	if (!l)
		return;
	free(l->b);
	free(l);
}

uint32_t bs_ledger_window(const struct bs_ledger *l) { return l->window_s; }
uint32_t bs_ledger_since(const struct bs_ledger *l) { return __atomic_load_n(&l->since_s, __ATOMIC_RELAXED); }

static bool live(const struct bs_ledger *l, const struct ledger_entry *e, uint32_t now)
{
	/* ts ahead of now happens when workers' capture clocks differ a little */
	return e->key != 0 && (e->ts >= now || now - e->ts <= l->window_s);
}

/* Two candidate buckets per key ("two-choice" hashing): an insert goes to
 * the emptier one, so buckets fill evenly and the table stays usable up to
 * ~90% load before it has to evict, where one choice would start evicting
 * at about half load. */
static void buckets_of(const struct bs_ledger *l, uint64_t key, uint32_t *b1, uint32_t *b2)
{
	*b1 = (uint32_t)(key >> 32) & l->bucket_mask;
	*b2 = ((uint32_t)key * 0x9e3779b1u >> 7) & l->bucket_mask;
}

static void lock2(struct bs_ledger *l, uint32_t b1, uint32_t b2)
{
	uint32_t s1 = b1 % LEDGER_STRIPES, s2 = b2 % LEDGER_STRIPES;
	if (s1 == s2) {
		bs_spin_lock(&l->locks[s1]);
	} else {   /* fixed order: no deadlock between two inserters */
		bs_spin_lock(&l->locks[s1 < s2 ? s1 : s2]);
		bs_spin_lock(&l->locks[s1 < s2 ? s2 : s1]);
	}
}

static void unlock2(struct bs_ledger *l, uint32_t b1, uint32_t b2)
{
	uint32_t s1 = b1 % LEDGER_STRIPES, s2 = b2 % LEDGER_STRIPES;
	bs_spin_unlock(&l->locks[s1]);
	if (s1 != s2)
		bs_spin_unlock(&l->locks[s2]);
}

static void put(struct bs_ledger *l, uint64_t key, uint32_t kind, uint32_t now)
{
	key |= 1;   /* 0 marks an empty slot; one bit of hash is a fair price */
	uint32_t zero = 0;
	if (now != 0 && __atomic_load_n(&l->since_s, __ATOMIC_RELAXED) == 0)
		__atomic_compare_exchange_n(&l->since_s, &zero, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	uint32_t b1, b2;
	buckets_of(l, key, &b1, &b2);
	struct ledger_bucket *bk[2] = { &l->b[b1], &l->b[b2] };
	int nb = b1 == b2 ? 1 : 2;
	lock2(l, b1, b2);
	struct ledger_entry *empty[2] = { NULL, NULL }, *dead[2] = { NULL, NULL }, *oldest = NULL;
	int n_free[2] = { 0, 0 };   /* empty or expired slots per bucket */
	int found = 0;
	for (int j = 0; j < nb && !found; j++) {
		for (int i = 0; i < BS_LEDGER_WAYS; i++) {
			struct ledger_entry *e = &bk[j]->e[i];
			if (e->key == key) {
				if (now > e->ts)
					e->ts = now;
				found = 1;
				break;
			}
			if (e->key == 0) {
				if (!empty[j])
					empty[j] = e;
				n_free[j]++;
			} else if (!live(l, e, now)) {
				if (!dead[j])
					dead[j] = e;
				n_free[j]++;
			} else if (!oldest || e->ts < oldest->ts) {
				oldest = e;
			}
		}
	}
	int evicted = 0, fresh = 0;
	if (!found) {
		/* the bucket with more free slots (never used first, then
		 * expired), else evict the oldest live entry of both buckets */
		int j = n_free[1] > n_free[0] ? 1 : 0;
		struct ledger_entry *victim = empty[j] ? empty[j] : dead[j];
		if (!victim)
			victim = oldest;
		fresh = victim == empty[j];
		evicted = victim == oldest;
		victim->key = key;
		victim->ts = now;
		victim->kind = kind;
	}
	unlock2(l, b1, b2);
	if (found)
		__atomic_fetch_add(&l->refreshes, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&l->inserts, 1, __ATOMIC_RELAXED);
	if (evicted)
		__atomic_fetch_add(&l->evictions, 1, __ATOMIC_RELAXED);
	if (fresh)
		__atomic_fetch_add(&l->live, 1, __ATOMIC_RELAXED);
}

static bool get(struct bs_ledger *l, uint64_t key, uint32_t now)
{
	key |= 1;
	uint32_t b1, b2;
	buckets_of(l, key, &b1, &b2);
	bool hit = false;
	/* both buckets under both locks: an insert moving between them is
	 * impossible (entries never move), but the pair lock keeps a lookup
	 * from racing an insert that is choosing between the two */
	lock2(l, b1, b2);
	for (int j = 0; j < (b1 == b2 ? 1 : 2) && !hit; j++) {
		const struct ledger_bucket *b = &l->b[j ? b2 : b1];
		for (int i = 0; i < BS_LEDGER_WAYS; i++)
			if (b->e[i].key == key) {
				hit = live(l, &b->e[i], now);
				break;
			}
	}
	unlock2(l, b1, b2);
	__atomic_fetch_add(&l->lookups, 1, __ATOMIC_RELAXED);
	if (hit)
		__atomic_fetch_add(&l->hits, 1, __ATOMIC_RELAXED);
	return hit;
}

/* Builds the hashed text "<tag><a>\0<b>" lower-cased (when fold) into a
 * bounded stack buffer; over-long inputs are cut (both sides cut alike). */
static uint64_t key_of(const struct bs_ledger *l, char tag, const char *a, const char *b, bool fold)
{
	char buf[2 * 512 + 4];
	size_t n = 0;
	buf[n++] = tag;
	for (const char *p = a; *p && n < 1 + 512; p++)
		buf[n++] = fold ? (char)tolower((unsigned char)*p) : *p;
	if (b) {
		buf[n++] = 0;
		for (const char *p = b; *p && n < sizeof buf - 1; p++)
			buf[n++] = (char)tolower((unsigned char)*p);
	}
	return bs_siphash(l->hkey, buf, n);
}

/* "<id@host>" -> "id@host": blanks and one pair of brackets removed, also
 * when HTML-escaped ("&lt;id@host&gt;": Exchange quotes the original's
 * headers in an HTML part, and that copy may be the first one parsed) */
static const char *msgid_core(const char *m, char *out, size_t outlen)
{
	for (;;) {
		if (*m == ' ' || *m == '\t' || *m == '<')
			m++;
		else if (strncasecmp(m, "&lt;", 4) == 0)
			m += 4;
		else
			break;
	}
	size_t n = strcspn(m, "> \t\r\n");
	const char *amp = memchr(m, '&', n);
	if (amp && strncasecmp(amp, "&gt;", 4) == 0)
		n = (size_t)(amp - m);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, m, n);
	out[n] = 0;
	return out;
}

void bs_ledger_record_msgid(struct bs_ledger *l, const char *msgid, uint32_t now_s)
{
	char core[512];
	if (*msgid_core(msgid, core, sizeof core))
		put(l, key_of(l, 'm', core, NULL, false), BS_LK_MSGID, now_s);
}

void bs_ledger_record_pair(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s)
{
	if (*sender && *rcpt)
		put(l, key_of(l, 'p', sender, rcpt, true), BS_LK_PAIR, now_s);
}

void bs_ledger_record_sender(struct bs_ledger *l, const char *sender, uint32_t now_s)
{
	if (*sender)
		put(l, key_of(l, 's', sender, NULL, true), BS_LK_SENDER, now_s);
}

static const char *domain_of(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	return at ? at + 1 : rcpt;
}

void bs_ledger_record_domain(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s)
{
	if (*sender && *domain_of(rcpt))
		put(l, key_of(l, 'd', sender, domain_of(rcpt), true), BS_LK_DOMAIN, now_s);
}

bool bs_ledger_has_domain(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s)
{
	return *sender && *domain_of(rcpt) && get(l, key_of(l, 'd', sender, domain_of(rcpt), true), now_s);
}

bool bs_ledger_has_msgid(struct bs_ledger *l, const char *msgid, uint32_t now_s)
{
	char core[512];
	return *msgid_core(msgid, core, sizeof core) && get(l, key_of(l, 'm', core, NULL, false), now_s);
}

bool bs_ledger_has_pair(struct bs_ledger *l, const char *sender, const char *rcpt, uint32_t now_s)
{
	return *sender && *rcpt && get(l, key_of(l, 'p', sender, rcpt, true), now_s);
}

bool bs_ledger_has_sender(struct bs_ledger *l, const char *sender, uint32_t now_s)
{
	return *sender && get(l, key_of(l, 's', sender, NULL, true), now_s);
}

void bs_ledger_get_stats(const struct bs_ledger *l, struct bs_ledger_stats *st)
{
	st->inserts = __atomic_load_n(&l->inserts, __ATOMIC_RELAXED);
	st->refreshes = __atomic_load_n(&l->refreshes, __ATOMIC_RELAXED);
	st->evictions = __atomic_load_n(&l->evictions, __ATOMIC_RELAXED);
	st->lookups = __atomic_load_n(&l->lookups, __ATOMIC_RELAXED);
	st->hits = __atomic_load_n(&l->hits, __ATOMIC_RELAXED);
	st->live = __atomic_load_n(&l->live, __ATOMIC_RELAXED);
	st->capacity = (uint64_t)(l->bucket_mask + 1) * BS_LEDGER_WAYS;
}

long bs_ledger_save(const struct bs_ledger *l, const char *path, uint32_t now_s, char *err, size_t errlen)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	struct ledger_file_hdr h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, FILE_MAGIC, 8);
	h.version = 1;
	h.window_s = l->window_s;
	h.hkey[0] = l->hkey[0];
	h.hkey[1] = l->hkey[1];
	h.since_s = __atomic_load_n(&l->since_s, __ATOMIC_RELAXED);
	h.count = 0;
	bool ok = fwrite(&h, sizeof h, 1, f) == 1;
	/* Saving runs at shutdown or from a control thread: entries are read
	 * bucket by bucket under their lock, the file is written unlocked. */
	struct bs_ledger *ml = (struct bs_ledger *)l;
	for (uint32_t bi = 0; ok && bi <= l->bucket_mask; bi++) {
		struct ledger_bucket copy;
		bs_spin_t *lk = &ml->locks[bi % LEDGER_STRIPES];
		bs_spin_lock(lk);
		copy = l->b[bi];
		bs_spin_unlock(lk);
		for (int i = 0; i < BS_LEDGER_WAYS && ok; i++) {
			if (!live(l, &copy.e[i], now_s))
				continue;
			ok = fwrite(&copy.e[i], sizeof copy.e[i], 1, f) == 1;
			h.count++;
		}
	}
	if (ok) {
		ok = fseek(f, 0, SEEK_SET) == 0 && fwrite(&h, sizeof h, 1, f) == 1 && fflush(f) == 0 &&
		     fsync(fileno(f)) == 0;
	}
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return (long)h.count;
}

long bs_ledger_load(struct bs_ledger *l, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (__atomic_load_n(&l->live, __ATOMIC_RELAXED) != 0) {
		fclose(f);
		snprintf(err, errlen, "%s: ledger already has entries; load before recording", path);
		return -1;
	}
	struct ledger_file_hdr h;
	if (fread(&h, sizeof h, 1, f) != 1) {
		fclose(f);
		snprintf(err, errlen, "%s: truncated header (not a Backstop ledger file)", path);
		return -1;
	}
	if (memcmp(h.magic, FILE_MAGIC, 8) != 0 || h.version != 1) {
		fclose(f);
		snprintf(err, errlen, "%s: not a Backstop ledger file (bad magic or version)", path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0) {
		fclose(f);
		snprintf(err, errlen, "%s: cannot seek: %s", path, strerror(errno));
		return -1;
	}
	long size = ftell(f);
	if (size < 0 || (uint64_t)size != sizeof h + h.count * sizeof(struct ledger_entry)) {
		fclose(f);
		snprintf(err, errlen, "%s: size %ld does not match its %llu entries (truncated or corrupt)",
			 path, size, (unsigned long long)h.count);
		return -1;
	}
	fseek(f, (long)sizeof h, SEEK_SET);
	l->hkey[0] = h.hkey[0];
	l->hkey[1] = h.hkey[1];
	l->since_s = h.since_s;
	long n = 0;
	struct ledger_entry e;
	for (uint64_t i = 0; i < h.count; i++) {
		if (fread(&e, sizeof e, 1, f) != 1) {
			fclose(f);
			snprintf(err, errlen, "%s: read error at entry %llu", path, (unsigned long long)i);
			return -1;
		}
		if (e.key == 0 || e.kind < BS_LK_MSGID || e.kind > BS_LK_DOMAIN) {
			fclose(f);
			snprintf(err, errlen, "%s: entry %llu is corrupt", path, (unsigned long long)i);
			return -1;
		}
		put(l, e.key, e.kind, e.ts);
		n++;
	}
	fclose(f);
	/* reloading is not new traffic */
	__atomic_store_n(&l->inserts, 0, __ATOMIC_RELAXED);
	return n;
}
