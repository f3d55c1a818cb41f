/* Streaming parser of a message header block (RFC 5322 section 2.2): bytes
 * arrive in chunks of any size, fields are unfolded into a fixed buffer and
 * handed, complete, to a callback. It also decides where the header ends:
 * at the blank line (which belongs to the header), or at the first line
 * that cannot be a header field (which belongs to the body, as Postfix and
 * Python's email package decide).
 *
 * Tolerated: an mbox "From " line before the first field (skipped), CRLF,
 * LF-only and CR-only line ends (also mixed), fields longer than
 * BS_MAIL_FIELD_MAX (cut, reported as truncated), a message that ends
 * inside the header (bs_mail_hdr_end flushes the last field).
 *
 * One struct per message being parsed; nothing is allocated. The same
 * parser serves embedded originals (message/rfc822, text/rfc822-headers). */
#ifndef BS_MAIL_HDR_H
#define BS_MAIL_HDR_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "txn.h"

#define BS_MAIL_FIELD_MAX 2048  /* one unfolded field, name included */

/* A complete field. name is not NUL-terminated; value is unfolded (line
 * breaks removed, the folding white space kept) and trimmed of leading and
 * trailing white space. `truncated`: the field was longer than the buffer. */
typedef void (*bs_mail_field_fn)(void *ctx, const char *name, size_t name_len,
				 const char *value, size_t value_len, bool truncated);

struct bs_mail_hdr {
	uint8_t state;          /* internal: where in a line we are */
	uint8_t cr;             /* the last line ended with CR: swallow one LF */
	uint8_t first_line;     /* no line finished yet (mbox "From " check) */
	uint8_t field_open;     /* field[] holds a field that may continue */
	uint8_t field_cut;      /* field[] overflowed */
	uint8_t done;           /* header block finished */
	uint32_t len;           /* bytes in field[] */
	uint32_t name_len;      /* bytes of the field name in field[] */
	uint32_t n_fields;      /* fields seen */
	uint32_t n_truncated;   /* fields cut to BS_MAIL_FIELD_MAX */
	uint32_t n_skipped;     /* lines skipped (mbox From, orphan continuation, gap) */
	uint64_t size;          /* header bytes consumed, blank line included */
	char field[BS_MAIL_FIELD_MAX];
};

void bs_mail_hdr_init(struct bs_mail_hdr *h);
/* Feed the next bytes of the message. Returns how many of them belong to
 * the header block: n while the header goes on, less (possibly 0) when it
 * ended inside p; the rest is body. After that bs_mail_hdr_done() is true
 * and further calls return 0. When a non-field line is split across two
 * calls, the part given in the earlier call was already counted as header. */
size_t bs_mail_hdr_feed(struct bs_mail_hdr *h, const uint8_t *p, size_t n,
			bs_mail_field_fn fn, void *ctx);
/* The message ended (possibly inside the header): flush the last field. */
void bs_mail_hdr_end(struct bs_mail_hdr *h, bs_mail_field_fn fn, void *ctx);
/* Bytes are missing: drop the partial field, resynchronise on the next line. */
void bs_mail_hdr_gap(struct bs_mail_hdr *h);
static inline bool bs_mail_hdr_done(const struct bs_mail_hdr *h) { return h->done; }

/* A bs_mail_field_fn with ctx = struct bs_txn *: keeps the fields the event
 * shows (first occurrence of each): Message-ID, From, To, Subject (these
 * three RFC 2047 decoded), Date, Content-Type (and its boundary), Return-Path
 * (without <>), Auto-Submitted; counts Received and keeps the topmost. A
 * kept field that was cut sets BS_ANOM_TRUNCATED. */
void bs_mail_hdr_store_field(void *txn, const char *name, size_t name_len,
			     const char *value, size_t value_len, bool truncated);

/* Value of parameter `param` (e.g. "boundary") of a structured field value
 * such as Content-Type: quoted or token form; returns length written to out
 * (NUL-terminated), 0 when absent. */
size_t bs_mail_param(const char *value, size_t n, const char *param, char *out, size_t cap);

#endif
