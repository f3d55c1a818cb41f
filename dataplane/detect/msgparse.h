/* Streaming message parser: turns a message's bytes, as the SMTP parser's
 * hook delivers them (header block, then body, in any chunking), into
 * bounce facts (facts.h) and into scoped byte streams for the Hyperscan
 * scanner (enum bs_scope).
 *
 * It walks MIME (multiparts nested up to BS_MSGPARSE_MAX_DEPTH, boundary
 * matching tolerant of real-world breakage), decodes base64 and
 * quoted-printable parts as they stream, parses message/delivery-status
 * parts (RFC 3464), and finds the embedded original message whether it is a
 * message/rfc822 or message/global part, a text/rfc822-headers part, or
 * quoted inline in a legacy text bounce (after an MTA's marker line, or as a
 * run of header lines).
 *
 * Memory: struct bs_msgparse is fixed-size (bs_msgparse_size()), allocated
 * by the caller once (e.g. a per-worker pool) and re-initialised per
 * message with bs_msgparse_init. No allocation, no blocking, bounded work
 * per input byte. Line endings CRLF, LF and CR-only are accepted; NUL and
 * 8-bit bytes are data; lines longer than BS_MSGPARSE_LINE_MAX are
 * processed in pieces (flag BS_MF_LONG_LINE).
 *
 * Single-threaded: one parser per message, used by one lcore. */
#ifndef BS_MSGPARSE_H
#define BS_MSGPARSE_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "control/rule_scope.h"
#include "dataplane/smtp.h"
#include "facts.h"

#define BS_MSGPARSE_MAX_DEPTH 8      /* nested multiparts; deeper content is skipped */
#define BS_MSGPARSE_LINE_MAX 1024    /* longest line examined whole (RFC 5322: 998) */
#define BS_MSGPARSE_BOUNDARY_MAX 100 /* RFC 2046: 70; some MTAs exceed it */

/* Consumer callbacks; any may be NULL. Pointers are valid during the call
 * only. Called synchronously from bs_msgparse_feed / bs_msgparse_end.
 * Scope bytes are handed over in batches (up to 2 KiB, fewer scanner
 * calls), always before the next field or fact callback and before the
 * feed call returns: callbacks arrive in stream order. */
struct bs_msgparse_cb {
	/* Scoped byte streams, each a concatenation over the whole message:
	 *  BS_SCOPE_HEADERS       the top header block, raw bytes as received
	 *                         (including the blank line that ends it);
	 *  BS_SCOPE_BODY          text parts (text/plain, text/html, other text,
	 *                         preambles of multiparts) and the body of an
	 *                         embedded original, transfer-decoded, line
	 *                         endings normalised to "\n"; parts are
	 *                         separated by a "\n";
	 *  BS_SCOPE_ORIG_HEADERS  header block(s) of the embedded original(s),
	 *                         decoded, one "\n"-terminated line per input line;
	 *  BS_SCOPE_DSN           message/delivery-status parts, decoded, "\n" lines. */
	void (*bytes)(void *ctx, enum bs_scope scope, const uint8_t *p, size_t n);
	/* One unfolded header field (value trimmed, not RFC 2047 decoded) of
	 * the top header block (orig=false) or of the embedded original
	 * (orig=true), for BS_SCOPE_HEADER_FIELD rules. */
	void (*field)(void *ctx, bool orig, const char *name, size_t nlen,
		      const char *value, size_t vlen);
	/* A fact (enum bs_fact) became known at message offset `offset`; the
	 * facts struct is already updated. Lets the classifier decide early.
	 * BS_FACT_DSN_RCPT and BS_FACT_ORIG_BEGIN may be reported more than
	 * once; the others once per message. */
	void (*fact)(void *ctx, int fact_id, uint64_t offset);
};

struct bs_msgparse;                  /* opaque; size from bs_msgparse_size() */
size_t bs_msgparse_size(void);

/* Start a message: clears *facts, which the parser fills from then on.
 * `cb` (may be NULL) and `ctx` must stay valid until bs_msgparse_end. */
void bs_msgparse_init(struct bs_msgparse *mp, struct bs_msg_facts *facts,
		      const struct bs_msgparse_cb *cb, void *ctx);
/* The same for a facts struct that is all zero or was last filled by a
 * bs_msgparse parse (a per-transaction pool slot): clears only what a
 * parse can have written, about 4 KB instead of ~15 KB per message. */
void bs_msgparse_reinit(struct bs_msgparse *mp, struct bs_msg_facts *facts,
			const struct bs_msgparse_cb *cb, void *ctx);

/* Message bytes in order. `off` is the message offset of p[0] (as given by
 * the SMTP hook); a jump forward is a gap (BS_MF_GAP: the current line is
 * abandoned and parsing resynchronises at the next line). `part` is only a
 * hint: the header/body split is found in the bytes themselves. */
void bs_msgparse_feed(struct bs_msgparse *mp, enum bs_msg_part part, uint64_t off,
		      const uint8_t *p, uint32_t n);

/* The message ended (end of data, or the consumer stops feeding): pending
 * lines, fields and decoder states are flushed, summaries computed,
 * BS_FACT_MSG_END reported. Feeding after end is ignored. */
void bs_msgparse_end(struct bs_msgparse *mp);

/* Convenience for tests and tools: init + one feed + end. */
void bs_msgparse_message(struct bs_msgparse *mp, struct bs_msg_facts *facts,
			 const struct bs_msgparse_cb *cb, void *ctx,
			 const uint8_t *p, size_t n);

#endif
