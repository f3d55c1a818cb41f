/* Streaming parser of a message/delivery-status body (RFC 3464 2.2-2.3):
 * the per-message fields (Reporting-MTA, Arrival-Date) and each
 * per-recipient group (Final-Recipient, Original-Recipient, Action, Status,
 * Diagnostic-Code, Remote-MTA) into struct bs_msg_facts.
 *
 * Real DSNs break the blank-line grouping (groups run together, stray blank
 * lines, fields in odd order), so a new recipient group also starts when a
 * Final-Recipient / Original-Recipient / Action field repeats within the
 * current one. Bytes are the decoded part content in any chunking. */
#ifndef BS_DSN_H
#define BS_DSN_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "facts.h"
#include "hdrline.h"

/* Told when a recipient group completed (BS_FACT_DSN_RCPT, and
 * BS_FACT_DSN_FAILED the first time an Action: failed is seen). */
typedef void (*bs_dsn_event_fn)(void *ctx, int fact_id);

struct bs_dsn {
	struct bs_msg_facts *f;
	bs_dsn_event_fn ev;
	void *ev_ctx;
	bool cur_used;                 /* cur holds at least one per-recipient field */
	bool cur_has_final, cur_has_orig, cur_has_action, cur_has_status;
	bool failed_reported;
	struct bs_dsn_rcpt cur;
	struct bs_lines lines;
	struct bs_hdracc acc;
};

void bs_dsn_init(struct bs_dsn *d, struct bs_msg_facts *f, bs_dsn_event_fn ev, void *ev_ctx);
void bs_dsn_feed(struct bs_dsn *d, const uint8_t *p, size_t n);
/* End of the part: the last group is completed. */
void bs_dsn_end(struct bs_dsn *d);

/* One field, for callers that already unfold fields (tests, other containers). */
void bs_dsn_field(struct bs_dsn *d, const char *name, size_t nlen, const char *value, size_t vlen);
/* A blank line (group separator). */
void bs_dsn_group_end(struct bs_dsn *d);

/* Helpers shared with the message parser */
enum bs_dsn_action bs_dsn_action_parse(const char *v, size_t n);
/* Copy value to dst (cap incl. NUL) with an RFC 3464 "type;" prefix and
 * surrounding spaces/<> removed; returns true if cut. */
bool bs_dsn_copy_typed(char *dst, size_t cap, const char *v, size_t n);

#endif
