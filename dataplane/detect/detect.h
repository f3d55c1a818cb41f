/* Detection: the per-transaction hook of the pipeline. Hyperscan streaming
 * scan of envelope, header block and (while still a bounce candidate) body;
 * bounce understanding (DSN, embedded original, legacy formats); the
 * classifier (ledger, BATV, home relays, content, rates) and the policy that
 * turns a class into an action. Fills txn->verdict.
 *
 * Threading: struct bs_detect is created once and shared read-mostly by all
 * workers (the ledger and rate tables inside it are safe for concurrent
 * use); struct bs_detect_worker is per worker lcore (Hyperscan scratch,
 * per-transaction state pool) and used by that lcore only. */
#ifndef BS_DETECT_H
#define BS_DETECT_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "../txn.h"
#include "../smtp.h"

#define BS_DETECT_MAX_LIST 64

struct bs_detect_config {
	const char *rules_path;                 /* rules file or compiled bundle; NULL: default rules */
	const char *home_nets[BS_DETECT_MAX_LIST];    /* CIDR strings (also given to the pipeline) */
	int n_home_nets;
	const char *home_domains[BS_DETECT_MAX_LIST]; /* domains whose mailboxes we protect */
	int n_home_domains;
	const char *home_relays[BS_DETECT_MAX_LIST];  /* CIDR or host name of our outbound relays */
	int n_home_relays;
	const char *batv_keys[BS_DETECT_MAX_LIST];    /* "domain:secret" */
	int n_batv_keys;
	const char *ledger_path;                /* saved/reloaded ledger; NULL: in memory only */
	uint32_t ledger_window_s;               /* default 7 days */
	uint32_t ledger_capacity;               /* entries; 0: default */
	bool ledger_disabled;
	uint32_t ledger_warmup_s;               /* "no match" is not evidence until the ledger has
						 * recorded this long (0: at once; see docs/detection.md) */
	const char *policy_path;                /* NULL: built-in default policy */
};

struct bs_detect;
struct bs_detect_worker;

/* Called (on the worker lcore) as soon as a verdict with an action other
 * than pass is reached, possibly before the transaction ends; the pipeline
 * turns it into an enforcer update. */
typedef void (*bs_detect_verdict_fn)(void *ctx, const struct bs_txn *t);

void bs_detect_config_defaults(struct bs_detect_config *c);
/* Returns NULL and a message in err ("FILE:LINE: what") on bad input. */
struct bs_detect *bs_detect_create(const struct bs_detect_config *c, char *err, size_t errlen);
void bs_detect_destroy(struct bs_detect *d);   /* saves the ledger if a path is set */
/* Saves the ledger to ledger_path now (e.g. every few minutes from a
 * control thread, so a crash loses little). Safe while workers run; it
 * takes each bucket's lock briefly and does file I/O outside them.
 * Returns entries written, 0 when there is no ledger or path, -1 with
 * "PATH: what" in err. */
long bs_detect_save_ledger(struct bs_detect *d, char *err, size_t errlen);
struct bs_detect_worker *bs_detect_worker_create(struct bs_detect *d, uint32_t max_txn,
						  bs_detect_verdict_fn fn, void *fn_ctx);
void bs_detect_worker_destroy(struct bs_detect_worker *w);

/* The hook, called in this order for each transaction by the pipeline: */
void bs_detect_txn_begin(struct bs_detect_worker *w, struct bs_txn *t);   /* at txn_data_begin */
int bs_detect_msg_data(struct bs_detect_worker *w, struct bs_txn *t, enum bs_msg_part part,
		       uint64_t off, const uint8_t *p, uint32_t n);          /* BS_HOOK_* */
/* The message has left the client (end of data / last BDAT chunk), before
 * the server's reply: an outbound message enters the ledger now, because
 * the remote MTA may bounce it before it answers (Exim does). */
void bs_detect_txn_data_end(struct bs_detect_worker *w, struct bs_txn *t);
void bs_detect_txn_end(struct bs_detect_worker *w, struct bs_txn *t);     /* before the event */

/* For tests and tools: the shared classifier state (classify.h) and the
 * loaded rule set. */
struct bs_classifier;
struct bs_ruleset;
struct bs_classifier *bs_detect_classifier(struct bs_detect *d);
const struct bs_ruleset *bs_detect_ruleset(const struct bs_detect *d);
/* Memory of one pool slot (state of one open transaction), for sizing max_txn. */
size_t bs_detect_txn_bytes(const struct bs_detect *d);

/* Stats lines "name value" for the summary / control socket */
void bs_detect_print_stats(const struct bs_detect *d, void (*line)(void *ctx, const char *name, uint64_t v), void *ctx);

#endif
