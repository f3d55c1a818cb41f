/* Building blocks of the message parser: a line splitter that accepts any
 * line ending (CRLF, LF, CR-only) and cuts over-long lines into pieces, and
 * a header-field accumulator that unfolds continuation lines into one
 * bounded field. Both are fixed-size and copy at most one line. */
#ifndef BS_HDRLINE_H
#define BS_HDRLINE_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#define BS_LINE_MAX 1024           /* longest line delivered whole */
#define BS_FIELD_MAX 2048          /* one unfolded header field (name + value) */

/* flags of a delivered line piece */
#define BS_LINE_END  1u            /* the piece ends its line (terminator seen, or flush) */
#define BS_LINE_CONT 2u            /* the piece continues an over-long line (not a line start) */

/* Called for each line (or piece); return true to stop bs_lines_feed right
 * after this line. */
typedef bool (*bs_line_fn)(void *ctx, const uint8_t *line, size_t n, unsigned flags);

struct bs_lines {
	uint64_t pos;                  /* bytes consumed so far; during a callback: just past the
					 * line and its first terminator byte (CR of CRLF) */
	uint16_t len;                  /* bytes in buf */
	bool cr;                       /* the last line ended with CR: a following LF belongs to it */
	bool cont;                     /* the current line already had a piece delivered */
	bool any_long;                 /* a line was cut into pieces */
	uint8_t buf[BS_LINE_MAX];
};

void bs_lines_init(struct bs_lines *l);
/* Split p[0..n) into lines; returns the bytes consumed (n unless fn asked
 * to stop). A line's terminator is consumed with it. */
size_t bs_lines_feed(struct bs_lines *l, const uint8_t *p, size_t n, bs_line_fn fn, void *ctx);
/* End of input: an unterminated last line is delivered (flag END). */
void bs_lines_flush(struct bs_lines *l, bs_line_fn fn, void *ctx);
/* Forget the current partial line; what follows up to the next line end is
 * delivered as a continuation piece (used after a gap). */
void bs_lines_abandon(struct bs_lines *l);

/* A complete unfolded field: name and value trimmed, value not decoded. */
typedef void (*bs_field_fn)(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen);

/* What a header line was */
enum bs_hdr_line { BS_HDR_FIELD = 0, BS_HDR_CONTINUATION, BS_HDR_END, BS_HDR_NOT_FIELD };

struct bs_hdracc {
	uint16_t len;                  /* bytes in buf */
	uint16_t colon;                /* index of ':' in buf */
	bool active;                   /* a field is being accumulated */
	bool truncated;                /* some field was cut (sticky until init) */
	bool in_piece_field;           /* the current long line belongs to the active field */
	bool lenient;                  /* a non-field line continues the active field (set by the
					* user for blocks that only a blank line ends) */
	char buf[BS_FIELD_MAX];
};

void bs_hdracc_init(struct bs_hdracc *a);
/* Feed one header line (or piece, flags as from bs_lines). A complete
 * previous field is handed to fn first when this line starts a new field
 * or ends the block. Returns what the line was; a NOT_FIELD line is not
 * consumed (the caller decides what it is). */
enum bs_hdr_line bs_hdracc_line(struct bs_hdracc *a, const uint8_t *line, size_t n, unsigned flags,
				bs_field_fn fn, void *ctx);
/* Hand over a pending field (end of block or of input). */
void bs_hdracc_flush(struct bs_hdracc *a, bs_field_fn fn, void *ctx);
/* Is line[0..n) syntactically "name: ..." (RFC 5322 field name, optional
 * spaces before the colon)? *nlen gets the name length. */
bool bs_hdr_is_field(const uint8_t *line, size_t n, size_t *nlen);

#endif
