/* The operator's policy: which action each verdict class gets, when rate
 * floods escalate it, and the protections that no policy line overrides.
 *
 * File format (one statement a line, '#' starts a comment):
 *   class  CLASS  ACTION [ttl=S] [rate=PPS] [burst=N]
 *   flood  CLASS  ACTION [ttl=S] [rate=PPS] [burst=N]   action when the rate signal fired
 *   rate   recipient|mta  COUNT  WINDOW_S               flood thresholds (bounces per window)
 *   legit-source  ACTION [ttl=S] [rate=PPS] [burst=N]   replaces drop-source for a source
 *                                                      that recently sent legitimate mail
 *   legit-source-window  S                              how long "recently" is
 * CLASS: clean legit-bounce backscatter suspect-bounce autoreply challenge
 *        encrypted unparsed. ACTION: pass drop-session shape-source drop-source.
 * A file starts from the built-in default (bs_policy_default_text) and
 * overrides what it names.
 *
 * Fixed protections (not configurable, because a dropped legitimate NDR is
 * the one error users notice): a transaction whose bounce matched the
 * ledger or carried a valid BATV tag is never given a drop action. */
#ifndef BS_POLICY_H
#define BS_POLICY_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "../txn.h"

struct bs_policy_rule {
	uint8_t action;        /* enum bs_action */
	uint32_t ttl_s, rate_pps, burst;
};

struct bs_policy {
	struct bs_policy_rule cls[BS_CLASS_MAX];
	struct bs_policy_rule flood[BS_CLASS_MAX];
	uint8_t flood_set[BS_CLASS_MAX];
	uint32_t rcpt_limit, rcpt_window_s;   /* bounces per home recipient */
	uint32_t mta_limit, mta_window_s;     /* bounces per reporting MTA (client IP) */
	struct bs_policy_rule legit_source;
	uint32_t legit_source_window_s;
};

extern const char bs_policy_default_text[];

/* What the classifier knows when it asks for an action. */
struct bs_policy_input {
	uint8_t cls;            /* enum bs_class */
	bool flood;             /* rate signal fired */
	bool protected_ndr;     /* ledger match or valid BATV tag */
	bool legit_source;      /* the client recently sent legitimate mail */
};

void bs_policy_default(struct bs_policy *p);
/* Parse statements from text (name is used in messages). Returns 0, or -1
 * with "NAME:LINE: what" in err. */
int bs_policy_parse(struct bs_policy *p, const char *name, const char *text, size_t len,
		    char *err, size_t errlen);
/* Default, then the file's statements. */
int bs_policy_load(struct bs_policy *p, const char *path, char *err, size_t errlen);

/* Fills action, ttl_s, shape_rate, shape_burst of v. */
void bs_policy_decide(const struct bs_policy *p, const struct bs_policy_input *in, struct bs_verdict *v);

int bs_class_from_name(const char *s, size_t n);    /* -1 if unknown */
int bs_action_from_name(const char *s, size_t n);

#endif
