/* The detection hook: per-worker pools of transaction state, the message
 * parser feeding the Hyperscan streams, and the classifier deciding as the
 * evidence arrives. See detect.h for the call order and threading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include "detect.h"
#include "scan.h"
#include "classify.h"
#include "msgparse.h"
#include "control/rules.h"

#define MAX_WORKERS 128

struct det_slot {
	struct bs_txn *t;              /* NULL: slot free */
	struct bs_detect_worker *w;
	struct bs_scan_txn scan;
	struct bs_msg_facts facts;
	struct bs_cls_txn cls;
	struct bs_msgparse *mp;
	uint64_t off_end;              /* message bytes seen so far */
	bool decided, parse_ended, notified;
};

struct map_ent { struct bs_txn *t; uint32_t slot; };

struct bs_detect_worker {
	struct bs_detect *d;
	struct bs_scan_worker scan;
	bs_detect_verdict_fn fn;
	void *fn_ctx;
	uint32_t max_txn;
	struct det_slot *slots;
	uint32_t *free_list;
	uint32_t n_free;
	/* txn pointer -> slot: linear probing, backward-shift deletion, twice
	 * the pool size so probes stay short */
	struct map_ent *map;
	uint32_t map_mask;
	uint8_t *mp_mem;
	/* per-worker counters (one writer; read racily for stats) */
	uint64_t txns, unparsed, restarted, body_skipped, bytes_in, bytes_parsed;
};

struct bs_detect {
	struct bs_ruleset *rs;
	struct bs_classifier cls;
	char *ledger_path;
	/* registry for stats; changed only when workers are made or destroyed */
	pthread_mutex_t workers_lock;
	struct bs_detect_worker *workers[MAX_WORKERS];
	int n_workers;
};

void bs_detect_config_defaults(struct bs_detect_config *c)
{
	memset(c, 0, sizeof *c);
	c->ledger_window_s = BS_LEDGER_DEFAULT_WINDOW_S;
	c->ledger_capacity = BS_LEDGER_DEFAULT_CAPACITY;
}

struct bs_detect *bs_detect_create(const struct bs_detect_config *c, char *err, size_t errlen)
{
	struct bs_detect *d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "detect: out of memory");
		return NULL;
	}
	pthread_mutex_init(&d->workers_lock, NULL);
	const char *rules = c->rules_path ? c->rules_path : bs_rules_default_path();
	if (!rules) {
		snprintf(err, errlen, "no rules given and no default rule set found (set BACKSTOP_RULES)");
		free(d);
		return NULL;
	}
	if (bs_rules_load(rules, &d->rs, err, errlen) < 0) {
		free(d);
		return NULL;
	}
	if (bs_classifier_init(&d->cls, c, d->rs, err, errlen) < 0) {
		bs_rules_free(d->rs);
		free(d);
		return NULL;
	}
	if (c->ledger_path && !(d->ledger_path = strdup(c->ledger_path))) {
		snprintf(err, errlen, "detect: out of memory");
		bs_detect_destroy(d);
		return NULL;
	}
	return d;
}

long bs_detect_save_ledger(struct bs_detect *d, char *err, size_t errlen)
{
	if (!d->ledger_path || !d->cls.ledger)
		return 0;
	/* entries are judged live against the newest capture time seen, so a
	 * replay of an old capture saves what it recorded */
	uint32_t now = __atomic_load_n(&d->cls.last_ts, __ATOMIC_RELAXED);
	if (now == 0)
		now = (uint32_t)time(NULL);
	return bs_ledger_save(d->cls.ledger, d->ledger_path, now, err, errlen);
}

void bs_detect_destroy(struct bs_detect *d)
{
	if (!d)
		return;
	char err[512];
	/* saving at shutdown: the only place an error can go is stderr */
	if (bs_detect_save_ledger(d, err, sizeof err) < 0)
		fprintf(stderr, "backstop: ledger not saved: %s\n", err);
	bs_classifier_fini(&d->cls);
	bs_rules_free(d->rs);
	free(d->ledger_path);
	pthread_mutex_destroy(&d->workers_lock);
	free(d);
}

struct bs_classifier *bs_detect_classifier(struct bs_detect *d) { return &d->cls; }

size_t bs_detect_txn_bytes(const struct bs_detect *d)
{
	/* slot + parser state + Hyperscan stream state (allocated by Hyperscan) */
	return sizeof(struct det_slot) + ((bs_msgparse_size() + 63) & ~(size_t)63) +
	       bs_rules_txn_stream_state(d->rs);
}
const struct bs_ruleset *bs_detect_ruleset(const struct bs_detect *d) { return d->rs; }

/* ---------- per-worker pool ---------- */

struct bs_detect_worker *bs_detect_worker_create(struct bs_detect *d, uint32_t max_txn,
						  bs_detect_verdict_fn fn, void *fn_ctx)
{
	if (max_txn == 0 || max_txn > (1u << 24))
		return NULL;
	struct bs_detect_worker *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->d = d;
	w->fn = fn;
	w->fn_ctx = fn_ctx;
	w->max_txn = max_txn;
	char err[256];
	if (bs_scan_worker_init(&w->scan, d->rs, err, sizeof err) < 0) {
		free(w);
		return NULL;
	}
	uint32_t msz = 2;
	while (msz < 2 * max_txn)
		msz <<= 1;
	size_t mpsz = (bs_msgparse_size() + 63) & ~(size_t)63;
	w->slots = calloc(max_txn, sizeof *w->slots);
	w->free_list = calloc(max_txn, sizeof *w->free_list);
	w->map = calloc(msz, sizeof *w->map);
	w->mp_mem = aligned_alloc(64, mpsz * max_txn);
	if (!w->slots || !w->free_list || !w->map || !w->mp_mem)
		goto fail;
	w->map_mask = msz - 1;
	for (uint32_t i = 0; i < max_txn; i++) {
		struct det_slot *s = &w->slots[i];
		s->w = w;
		s->mp = (struct bs_msgparse *)(w->mp_mem + (size_t)i * mpsz);
		if (bs_scan_txn_open(&w->scan, &s->scan, err, sizeof err) < 0)
			goto fail;
		w->free_list[w->n_free++] = max_txn - 1 - i;
	}
	pthread_mutex_lock(&d->workers_lock);
	if (d->n_workers >= MAX_WORKERS) {
		pthread_mutex_unlock(&d->workers_lock);
		goto fail;
	}
	d->workers[d->n_workers++] = w;
	pthread_mutex_unlock(&d->workers_lock);
	return w;
fail:
	bs_detect_worker_destroy(w);
	return NULL;
}

void bs_detect_worker_destroy(struct bs_detect_worker *w)
{
	if (!w)
		return;
	struct bs_detect *d = w->d;
	pthread_mutex_lock(&d->workers_lock);
	for (int i = 0; i < d->n_workers; i++)
		if (d->workers[i] == w) {
			d->workers[i] = d->workers[--d->n_workers];
			break;
		}
	pthread_mutex_unlock(&d->workers_lock);
	if (w->slots)
		for (uint32_t i = 0; i < w->max_txn; i++)
			bs_scan_txn_close(&w->scan, &w->slots[i].scan);
	bs_scan_worker_fini(&w->scan);
	free(w->slots);
	free(w->free_list);
	free(w->map);
	free(w->mp_mem);
	free(w);
}

static uint32_t ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

static struct det_slot *slot_of(struct bs_detect_worker *w, const struct bs_txn *t)
{
	for (uint32_t i = ptr_hash(t) & w->map_mask;; i = (i + 1) & w->map_mask) {
		if (!w->map[i].t)
			return NULL;
		if (w->map[i].t == t)
			return &w->slots[w->map[i].slot];
	}
}

static void map_put(struct bs_detect_worker *w, struct bs_txn *t, uint32_t slot)
{
	uint32_t i = ptr_hash(t) & w->map_mask;
	while (w->map[i].t && w->map[i].t != t)
		i = (i + 1) & w->map_mask;
	w->map[i].t = t;
	w->map[i].slot = slot;
}

static void map_del(struct bs_detect_worker *w, const struct bs_txn *t)
{
	uint32_t i = ptr_hash(t) & w->map_mask;
	while (w->map[i].t != t) {
		if (!w->map[i].t)
			return;
		i = (i + 1) & w->map_mask;
	}
	/* backward-shift deletion keeps every probe chain unbroken */
	uint32_t j = i;
	for (;;) {
		w->map[i].t = NULL;
		for (;;) {
			j = (j + 1) & w->map_mask;
			if (!w->map[j].t)
				return;
			uint32_t home = ptr_hash(w->map[j].t) & w->map_mask;
			/* can entry j move to the hole at i? only if its home is not in (i, j] */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		w->map[i] = w->map[j];
		i = j;
	}
}

/* ---------- parser callbacks ---------- */

static void decided(struct det_slot *s)
{
	s->decided = true;
	struct bs_txn *t = s->t;
	if (t->verdict.action != BS_ACT_PASS && s->w->fn && !s->notified) {
		s->notified = true;
		s->w->fn(s->w->fn_ctx, t);
	}
}

static void on_bytes(void *ctx, enum bs_scope scope, const uint8_t *p, size_t n)
{
	struct det_slot *s = ctx;
	if (!s->decided)
		bs_scan_stream(&s->w->scan, &s->scan, scope, p, n);
}

static void on_field(void *ctx, bool orig, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct det_slot *s = ctx;
	if (!s->decided && !orig)
		bs_scan_field(&s->w->scan, &s->scan, name, nlen, value, vlen);
}

static void on_fact(void *ctx, int fact_id, uint64_t offset)
{
	struct det_slot *s = ctx;
	if (s->decided || fact_id == BS_FACT_MSG_END)
		return;
	if (bs_classify_eval(&s->w->d->cls, &s->cls, s->t, &s->facts, &s->scan.hits, false, offset))
		decided(s);
}

static const struct bs_msgparse_cb parse_cb = { on_bytes, on_field, on_fact };

/* ---------- the hook ---------- */

void bs_detect_txn_begin(struct bs_detect_worker *w, struct bs_txn *t)
{
	w->txns++;
	struct det_slot *s = slot_of(w, t);
	if (s) {
		/* begun again without an end: the record was reused for a new
		 * transaction, so the old state is dropped, not mixed in */
		if (!s->parse_ended)
			bs_msgparse_end(s->mp);
		bs_scan_txn_finish(&w->scan, &s->scan);
		w->restarted++;
	} else {
		if (w->n_free == 0) {
			/* pool exhausted: the transaction goes unexamined and says so */
			w->unparsed++;
			return;
		}
		uint32_t si = w->free_list[--w->n_free];
		s = &w->slots[si];
		map_put(w, t, si);
	}
	s->t = t;
	s->decided = s->parse_ended = s->notified = false;
	s->off_end = 0;
	memset(&t->verdict, 0, sizeof t->verdict);
	bs_scan_txn_start(&s->scan);
	/* the slot's facts are zero (calloc) or from its previous message */
	bs_msgparse_reinit(s->mp, &s->facts, &parse_cb, s);
	struct bs_classifier *c = &w->d->cls;
	bs_classify_begin(c, &s->cls, t);
	/* envelope: block scans of the command arguments */
	bs_scan_block(&w->scan, &s->scan, BS_SCOPE_HELO, (const uint8_t *)t->helo, strlen(t->helo));
	bs_scan_block(&w->scan, &s->scan, BS_SCOPE_MAIL_FROM, (const uint8_t *)t->mail_from, strlen(t->mail_from));
	for (int i = 0; i < t->n_rcpt && i < BS_MAX_RCPT; i++)
		if (t->rcpt[i].code < 300)
			bs_scan_block(&w->scan, &s->scan, BS_SCOPE_RCPT_TO, (const uint8_t *)t->rcpt[i].addr,
				      strlen(t->rcpt[i].addr));
	if (bs_classify_eval(c, &s->cls, t, &s->facts, &s->scan.hits, false, 0))
		decided(s);
}

int bs_detect_msg_data(struct bs_detect_worker *w, struct bs_txn *t, enum bs_msg_part part,
		       uint64_t off, const uint8_t *p, uint32_t n)
{
	w->bytes_in += n;
	struct det_slot *s = slot_of(w, t);
	if (!s || s->decided)
		return BS_HOOK_SKIP_BODY;
	w->bytes_parsed += n;
	bs_msgparse_feed(s->mp, part, off, p, n);
	if (off + n > s->off_end)
		s->off_end = off + n;
	if (!s->decided &&
	    bs_classify_eval(&w->d->cls, &s->cls, t, &s->facts, &s->scan.hits, false, s->off_end))
		decided(s);
	return s->decided ? BS_HOOK_SKIP_BODY : BS_HOOK_CONTINUE;
}

void bs_detect_txn_data_end(struct bs_detect_worker *w, struct bs_txn *t)
{
	struct det_slot *s = slot_of(w, t);
	bs_classify_record_outbound(&w->d->cls, t, s ? &s->facts : NULL);
}

void bs_detect_txn_end(struct bs_detect_worker *w, struct bs_txn *t)
{
	struct bs_classifier *c = &w->d->cls;
	struct det_slot *s = slot_of(w, t);
	if (!s) {
		/* no slot: either the pool was empty, or no message data came */
		bs_classify_no_message(c, t, t->data_started ? BS_CLASS_UNPARSED : BS_CLASS_CLEAN);
		bs_classify_end(c, NULL, t, NULL);
		if (t->verdict.action != BS_ACT_PASS && w->fn)
			w->fn(w->fn_ctx, t);
		return;
	}
	if (!s->parse_ended) {
		s->parse_ended = true;
		/* flushing may still report facts: they are not "early" any more */
		bs_msgparse_end(s->mp);
	}
	bs_scan_txn_finish(&w->scan, &s->scan);
	if (!s->decided) {
		bs_classify_eval(c, &s->cls, t, &s->facts, &s->scan.hits, true, s->off_end);
		decided(s);
	}
	bs_classify_end(c, &s->cls, t, &s->facts);
	/* message bytes the pipeline did not have to hand us */
	if (t->size > s->off_end)
		w->body_skipped += t->size - s->off_end;
	map_del(w, t);
	s->t = NULL;
	w->free_list[w->n_free++] = (uint32_t)(s - w->slots);
}

void bs_detect_print_stats(const struct bs_detect *d, void (*line)(void *ctx, const char *name, uint64_t v), void *ctx)
{
	const struct bs_classifier *c = &d->cls;
	uint64_t txns = 0, unparsed = 0, restarted = 0, skipped = 0, in = 0, parsed = 0, scan_err = 0;
	uint64_t in_use = 0;
	uint64_t scanned[BS_SCOPE_MAX] = { 0 };
	for (int i = 0; i < d->n_workers; i++) {
		const struct bs_detect_worker *w = d->workers[i];
		txns += w->txns;
		unparsed += w->unparsed;
		restarted += w->restarted;
		in_use += w->max_txn - __atomic_load_n(&w->n_free, __ATOMIC_RELAXED);
		skipped += w->body_skipped;
		in += w->bytes_in;
		parsed += w->bytes_parsed;
		scan_err += w->scan.scan_errors;
		for (int s = 0; s < BS_SCOPE_MAX; s++)
			scanned[s] += w->scan.scanned_bytes[s];
	}
	line(ctx, "detect.transactions", txns);
	line(ctx, "detect.unparsed_no_slot", unparsed);
	line(ctx, "detect.restarted", restarted);
	line(ctx, "detect.slots_in_use", in_use);
	line(ctx, "detect.bytes_in", in);
	line(ctx, "detect.bytes_parsed", parsed);
	line(ctx, "detect.bytes_skipped", skipped);   /* message bytes after the verdict, never parsed */
	line(ctx, "detect.scan_errors", scan_err);
	char name[64];
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		snprintf(name, sizeof name, "detect.scanned_bytes.%s", bs_scope_name((enum bs_scope)s));
		line(ctx, name, scanned[s]);
	}
	line(ctx, "detect.stream_state_bytes_per_txn", bs_rules_txn_stream_state(d->rs));
	line(ctx, "detect.pool_bytes_per_txn", bs_detect_txn_bytes(d));
	for (int k = 1; k < BS_CLASS_MAX; k++) {
		snprintf(name, sizeof name, "detect.class.%s", bs_class_name[k]);
		line(ctx, name, __atomic_load_n(&c->n_class[k], __ATOMIC_RELAXED));
	}
	for (int a = 0; a < BS_ACT_MAX; a++) {
		snprintf(name, sizeof name, "detect.action.%s", bs_action_name[a]);
		line(ctx, name, __atomic_load_n(&c->n_action[a], __ATOMIC_RELAXED));
	}
	line(ctx, "detect.bounces", __atomic_load_n(&c->n_bounces, __ATOMIC_RELAXED));
	line(ctx, "detect.decided_early", __atomic_load_n(&c->n_decided_early, __ATOMIC_RELAXED));
	line(ctx, "detect.protected_ndr", __atomic_load_n(&c->n_protected, __ATOMIC_RELAXED));
	line(ctx, "detect.rate_floods", __atomic_load_n(&c->n_flood, __ATOMIC_RELAXED));
	line(ctx, "detect.ledger_recorded", __atomic_load_n(&c->n_ledger_recorded, __ATOMIC_RELAXED));
	if (c->ledger) {
		struct bs_ledger_stats st;
		bs_ledger_get_stats(c->ledger, &st);
		line(ctx, "detect.ledger.capacity", st.capacity);
		line(ctx, "detect.ledger.entries", st.live);
		line(ctx, "detect.ledger.inserts", st.inserts);
		line(ctx, "detect.ledger.evictions", st.evictions);
		line(ctx, "detect.ledger.lookups", st.lookups);
		line(ctx, "detect.ledger.hits", st.hits);
	}
}
