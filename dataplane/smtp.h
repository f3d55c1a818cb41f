/* SMTP session parser: pairs commands and replies (also under PIPELINING),
 * follows the envelope, DATA (dot-unstuffing, end-of-data) and BDAT, stops
 * at STARTTLS, and parses the header block of each message as it streams.
 * Pure C, no DPDK: unit tests feed it byte strings.
 *
 * Memory: one struct bs_smtp_session per SMTP flow that carries data; its
 * size is fixed (line buffers, a bounded queue of pending commands, the
 * header-field accumulator). The transaction record (struct bs_txn) comes
 * from hooks->txn_alloc and is handed back through hooks->txn_end. */
#ifndef BS_SMTP_H
#define BS_SMTP_H
#include <stdint.h>
#include <stdbool.h>
#include "txn.h"

enum bs_msg_part { BS_PART_HEADER = 0, BS_PART_BODY = 1 };

/* Returned by hooks->msg_data: */
#define BS_HOOK_CONTINUE 0
#define BS_HOOK_SKIP_BODY 1   /* the consumer needs no more body bytes of this message */

/* txn_alloc and txn_end are required; the others may be NULL. */
struct bs_smtp_hooks {
	/* A new transaction starts (MAIL FROM seen). Return a zeroed record with
	 * flow fields (flow_id, endpoints, direction) already filled, or NULL
	 * when none is available (the transaction is then parsed but not
	 * reported; the caller counts it). */
	struct bs_txn *(*txn_alloc)(void *ctx);
	/* Envelope known up to the first byte of message data (called once,
	 * when DATA got 354 or the first BDAT starts). With BDAT under
	 * PIPELINING (MAIL, RCPT, BDAT in one write) the RCPT replies may not
	 * have been parsed yet: rcpt[].code can still be 0 here; it is final
	 * at txn_end. */
	void (*txn_data_begin)(void *ctx, struct bs_txn *t);
	/* Message bytes after dot-unstuffing, in order, header block first
	 * (part says which; the blank line ending the header belongs to the
	 * header part). `off` is the message offset of p[0]. */
	int (*msg_data)(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off,
			const uint8_t *p, uint32_t n);
	/* Transaction over (reply to end-of-data, RSET, new MAIL, QUIT, session
	 * end). Ownership of `t` passes to the callee. */
	void (*txn_end)(void *ctx, struct bs_txn *t);
	/* Optional (may be NULL): the whole message is in (end-of-data marker
	 * or the BDAT LAST chunk), before the server's reply to it, which can
	 * come much later (content scanning, synchronous delivery). The message
	 * has left the client: the moment to record an outbound transaction
	 * (a bounce for it may arrive before the reply). data_complete is set;
	 * data_code is not known yet. */
	void (*txn_data_end)(void *ctx, struct bs_txn *t);
};

/* counters a session adds to (per worker, plain integers: single thread) */
struct bs_smtp_stats {
	uint64_t commands, replies, transactions, txn_unrecorded;
	uint64_t long_lines, garbage, unpaired_replies, starttls, bdat_chunks;
	uint64_t messages, message_bytes;
	uint64_t auth, gaps, midstream_skipped_lines;
};

/* server capabilities seen in the EHLO reply (bs_smtp_session_caps) */
enum {
	BS_SMTP_CAP_PIPELINING = 1u << 0,
	BS_SMTP_CAP_CHUNKING = 1u << 1,
	BS_SMTP_CAP_STARTTLS = 1u << 2,
	BS_SMTP_CAP_SIZE = 1u << 3,
	BS_SMTP_CAP_8BITMIME = 1u << 4,
	BS_SMTP_CAP_SMTPUTF8 = 1u << 5,
	BS_SMTP_CAP_AUTH = 1u << 6,
	BS_SMTP_CAP_DSN = 1u << 7,
};

#define BS_SMTP_LINE_MAX 1024      /* command/reply line kept (RFC 5321: 512) */
#define BS_SMTP_PENDING_MAX 64     /* pipelined commands awaiting replies */
#define BS_SMTP_HDR_FIELD_MAX 2048 /* one unfolded header field */

struct bs_smtp_session;            /* opaque size: bs_smtp_session_size() */
size_t bs_smtp_session_size(void);

/* `midstream`: the handshake was not seen; parsing resynchronises on the
 * next recognisable command or reply line. */
void bs_smtp_session_init(struct bs_smtp_session *s, const struct bs_smtp_hooks *h, void *ctx,
			  struct bs_smtp_stats *st, bool midstream);
/* In-order bytes of one direction; `ts_ns` is the capture time. */
void bs_smtp_data(struct bs_smtp_session *s, bool from_client, const uint8_t *p, uint32_t n,
		  uint64_t ts_ns);
/* `n` bytes of one direction are missing (reassembly gap). */
void bs_smtp_gap(struct bs_smtp_session *s, bool from_client, uint32_t n);
/* Anomaly bits seen below the parser (e.g. BS_ANOM_OVERLAP_MISMATCH from
 * reassembly): added to the open transaction, else to the next one. */
void bs_smtp_flag(struct bs_smtp_session *s, uint32_t anom);
/* The session ends (FIN both ways, RST, timeout, eviction, shutdown): the
 * open transaction (if any) is finished and handed to txn_end. `anom` bits
 * (e.g. BS_ANOM_TIMEOUT) are added to it. */
void bs_smtp_session_end(struct bs_smtp_session *s, uint32_t anom, uint64_t ts_ns);
/* Session-level facts for the flow summary */
bool bs_smtp_session_encrypted(const struct bs_smtp_session *s);
uint32_t bs_smtp_session_caps(const struct bs_smtp_session *s);   /* BS_SMTP_CAP_* */
uint32_t bs_smtp_session_transactions(const struct bs_smtp_session *s); /* MAIL commands seen */

#endif
