/* Names printed in events for the enums of txn.h, and the small helpers
 * every stage uses to fill a transaction record without overflowing it. */
#include <string.h>
#include "txn.h"

const char *const bs_direction_name[4] = {
	[BS_DIR_EXTERNAL] = "external",
	[BS_DIR_INBOUND] = "inbound",
	[BS_DIR_OUTBOUND] = "outbound",
	[BS_DIR_INTERNAL] = "internal",
};

/* indexed by bit number */
const char *const bs_anom_name[BS_ANOM_MAX_BIT] = {
	"gap", "overlap-mismatch", "midstream", "truncated", "long-line",
	"garbage", "unpaired-reply", "incomplete", "bdat-size", "timeout",
};

const char *const bs_class_name[BS_CLASS_MAX] = {
	[BS_CLASS_UNCLASSIFIED] = "unclassified",
	[BS_CLASS_CLEAN] = "clean",
	[BS_CLASS_LEGIT_BOUNCE] = "legit-bounce",
	[BS_CLASS_BACKSCATTER] = "backscatter",
	[BS_CLASS_SUSPECT_BOUNCE] = "suspect-bounce",
	[BS_CLASS_AUTOREPLY] = "autoreply",
	[BS_CLASS_CHALLENGE] = "challenge",
	[BS_CLASS_ENCRYPTED] = "encrypted",
	[BS_CLASS_UNPARSED] = "unparsed",
};

const char *const bs_action_name[BS_ACT_MAX] = {
	[BS_ACT_PASS] = "pass",
	[BS_ACT_DROP_SESSION] = "drop-session",
	[BS_ACT_SHAPE_SOURCE] = "shape-source",
	[BS_ACT_DROP_SOURCE] = "drop-source",
};

/* Cut at a UTF-8 character boundary so a truncated field stays readable:
 * back off over continuation bytes (at most 3) of the cut character. */
static size_t utf8_cut(const char *s, size_t n)
{
	size_t k = n;
	for (int i = 0; i < 3 && k > 0 && ((uint8_t)s[k] & 0xC0) == 0x80; i++)
		k--;
	if (k > 0 && ((uint8_t)s[k] & 0xC0) == 0x80)
		return n; /* not UTF-8 anyway: plain byte cut */
	return k;
}

bool bs_txn_set_str(struct bs_txn *t, char *dst, size_t cap, const char *src, size_t n)
{
	bool cut = false;
	if (cap == 0)
		return n > 0;
	if (n >= cap) {
		n = utf8_cut(src, cap - 1);
		cut = true;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	if (cut && t)
		t->anomalies |= BS_ANOM_TRUNCATED;
	return cut;
}

bool bs_txn_add_reason(struct bs_txn *t, const char *reason)
{
	for (unsigned i = 0; i < t->verdict.n_reasons; i++)
		if (strncmp(t->verdict.reasons[i], reason, BS_REASON_MAX) == 0)
			return true;
	if (t->verdict.n_reasons >= BS_MAX_REASONS)
		return false;
	bs_txn_set_str(NULL, t->verdict.reasons[t->verdict.n_reasons], BS_REASON_MAX, reason,
		       strlen(reason));
	t->verdict.n_reasons++;
	return true;
}

uint32_t bs_txn_rcpt_accepted(const struct bs_txn *t)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < t->n_rcpt; i++)
		if (t->rcpt[i].code >= 200 && t->rcpt[i].code < 300)
			n++;
	return n;
}
