/* The classifier: from rule evidence (scan.h) and parser facts (facts.h)
 * to a verdict class, and from there (policy.h) to an action.
 *
 * Two questions, in order:
 *  1. What kind of message is this? bounce (NDR, delay notice, MDN),
 *     auto-reply (incl. list-server responses), challenge, or ordinary mail.
 *     Evidence is scored per kind on the rules' scale (100 = conclusive);
 *     parser facts (a parsed delivery-status part, X-Failed-Recipients, a
 *     legacy "copy of the message follows" marker, an embedded original)
 *     score like rules. The null sender counts 50 at most: alone it never
 *     makes a bounce (ham can come with <>, bounces can come without).
 *  2. For a bounce to a home address: legitimate or backscatter? Signals:
 *     ledger (the original left through this edge), BATV tag, own relays in
 *     the original's Received chain, spam content in the original, rates.
 *     A ledger match or a valid BATV tag is decisive and protected (never
 *     dropped); otherwise any backscatter evidence decides backscatter;
 *     with no evidence either way the bounce is "suspect-bounce".
 *     Evidence is only taken from what a forger cannot write: the
 *     identifiers of an original found heuristically (header lines quoted
 *     in text) count against the bounce only when that original is tied to
 *     it (its sender is the bounced mailbox, or its recipient is one the
 *     DSN reports on); a home relay counts only in the Received line the
 *     reporting side wrote when the original was handed to it.
 *
 * bs_classify_eval is called whenever new evidence may have arrived (after
 * the envelope, on each parser fact, after each chunk, at the end) and
 * decides as soon as the evidence allows: the enforcer can only stop what
 * follows the verdict. */
#ifndef BS_CLASSIFY_H
#define BS_CLASSIFY_H
#include <stdint.h>
#include <stdbool.h>
#include "addr.h"
#include "batv.h"
#include "ledger.h"
#include "rates.h"
#include "policy.h"
#include "scan.h"
#include "facts.h"
#include "detect.h"

/* Shared by all workers; read-only after init except the ledger, the rate
 * tables (internally synchronised) and the counters (atomics). */
struct bs_classifier {
	struct bs_domset home_domains;
	struct bs_netset home_nets;
	struct bs_netset relay_nets;       /* home_relays given as CIDRs */
	struct bs_domset relay_hosts;      /* home_relays given as host names */
	struct bs_netset internal_nets;    /* loopback, private, shared and link-local
					    * ranges: a Received hop whose client is in
					    * one of them is the reporting side's own
					    * internal hop (content filter, mail store) */
	struct bs_batv batv;
	struct bs_ledger *ledger;          /* NULL when disabled */
	uint32_t ledger_warmup_s;
	struct bs_rates *rate_rcpt, *rate_mta, *good_src;
	struct bs_policy policy;
	const struct bs_ruleset *rs;
	/* counters */
	uint64_t n_class[BS_CLASS_MAX];
	uint64_t n_action[BS_ACT_MAX];
	uint64_t n_bounces, n_decided_early, n_protected, n_flood;
	uint64_t n_ledger_recorded;
	uint32_t last_ts;                  /* newest capture time recorded (seconds) */
};

/* Ledger/BATV/relay/content outcome for the event reasons and tests */
enum bs_ledger_state { BS_LS_UNKNOWN = 0, BS_LS_MATCH, BS_LS_MISS, BS_LS_OFF };
/* UNPROVEN: a home relay is named only in Received lines a forger could
 * have written (below the hop that handed the original to the reporting
 * side): evidence neither way. */
enum bs_relay_state { BS_RS_UNKNOWN = 0, BS_RS_LEGIT, BS_RS_NEVER, BS_RS_UNPROVEN };

/* Message kinds (question 1) */
enum bs_kind { BS_KIND_NONE = 0, BS_KIND_BOUNCE, BS_KIND_AUTOREPLY, BS_KIND_CHALLENGE };

/* Per-transaction classifier memory (part of the worker's pool slot). */
struct bs_cls_txn {
	uint8_t kind;                /* enum bs_kind once known */
	uint8_t ledger;              /* enum bs_ledger_state */
	uint8_t relay;               /* enum bs_relay_state */
	uint8_t relay_how;           /* enum bs_orig_how of the original the relay check judged */
	uint8_t batv;                /* worst enum bs_batv_result over home recipients */
	bool batv_valid;             /* some home recipient carried a valid tag */
	bool home_rcpt;              /* a recipient is a home address */
	bool rates_counted, flood;
	bool content;                /* spam-content / uri-list evidence in the original */
	bool header_done;            /* top header block complete */
	bool body_probe;             /* only a reply-like header: look at the body's first lines */
	bool decided;
	uint8_t pairs_checked;       /* DSN recipients already looked up */
	uint8_t rcpts_checked;       /* returned recipients looked up (all sources) */
	uint8_t orcpts_checked;      /* of which Original-Recipient fields */
	bool domain_seen;            /* the user wrote to an Original-Recipient's domain */
	bool msgid_checked, xfr_checked, origto_checked;
	bool origto_miss;            /* the original's To was looked up and missed (counted
					* only when that original is tied to the bounce) */
	bool untied_miss;            /* a heuristically found original's Message-ID or To
					* missed, but the original is not tied to the bounce */
	uint8_t msgid_how;           /* enum bs_orig_how of the original whose Message-ID was looked up */
	uint64_t msgid_hash;         /* which Message-ID that was */
	uint64_t origto_hash;        /* which original To was looked up */
	int32_t bounce_score, auto_score, challenge_score, list_score;
	char home[BS_MAX_RCPT > 8 ? 8 : BS_MAX_RCPT][BS_ADDR_MAX]; /* home recipients, prvs/SRS unwrapped */
	uint8_t n_home;
};

int bs_classifier_init(struct bs_classifier *c, const struct bs_detect_config *cfg,
		       const struct bs_ruleset *rs, char *err, size_t errlen);
void bs_classifier_fini(struct bs_classifier *c);

/* Start of a transaction (envelope known). */
void bs_classify_begin(struct bs_classifier *c, struct bs_cls_txn *ct, const struct bs_txn *t);
/* Re-evaluate. Returns true when the verdict is final (t->verdict filled,
 * decided/offset set): no more bytes are needed. at_end: the message is
 * over, decide with what is known. */
bool bs_classify_eval(struct bs_classifier *c, struct bs_cls_txn *ct, struct bs_txn *t,
		      const struct bs_msg_facts *f, const struct bs_scan_hits *h,
		      bool at_end, uint64_t offset);
/* A transaction with no message (or no pool slot): fills the verdict. */
void bs_classify_no_message(struct bs_classifier *c, struct bs_txn *t, uint8_t cls);
/* End of transaction bookkeeping: ledger recording of outbound mail, the
 * legitimate-source memory, counters. */
/* Records an outbound transaction in the ledger (once per transaction). */
void bs_classify_record_outbound(struct bs_classifier *c, struct bs_txn *t, const struct bs_msg_facts *f);
void bs_classify_end(struct bs_classifier *c, struct bs_cls_txn *ct, struct bs_txn *t,
		     const struct bs_msg_facts *f);

uint32_t bs_classify_now_s(const struct bs_txn *t);

#endif
