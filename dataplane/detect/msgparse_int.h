/* Internals of the message parser, shared by its three files:
 * msgparse.c (layer 1: lines, MIME structure, boundaries, output, API),
 * msgparse_fields.c (what header fields mean: content types, top-level
 * and original's fields) and msgparse_leaf.c (layer 2: transfer decoding
 * of leaf parts, text, delivery-status, an original's header block, and
 * originals quoted inline in legacy bounces). Not for other users. */
#ifndef BS_MSGPARSE_INT_H
#define BS_MSGPARSE_INT_H
#include <string.h>
#include <strings.h>
#include "msgparse.h"
#include "mime_decode.h"
#include "hdrline.h"
#include "dsn.h"
#include "../textscan.h"

_Static_assert(BS_LINE_MAX == BS_MSGPARSE_LINE_MAX, "one line cap");
_Static_assert(BS_FACT_MAX <= 32, "fact bits fit in `known`");

enum l1_state { L1_TOP_HDR = 0, L1_PART_HDR, L1_BODY };
enum leaf_mode { LEAF_TEXT = 0, LEAF_DSN, LEAF_ORIG_HDRS, LEAF_SKIP };
/* legacy inline-original search in text leaves */
enum tx_state { TX_SCAN = 0, TX_ARMED, TX_TENT, TX_ORIG_HDR, TX_DONE };

#define TX_ARMED_LINES 40        /* a marker's header block must start within this many lines */
#define TENT_MAX 2048            /* header-looking lines held until the run is confirmed */

struct mp_frame {                /* an open multipart */
	uint8_t blen;
	uint8_t cand_len;            /* unmatched "--x" line in the preamble (broken MIME) */
	bool seen_part;
	bool digest;                 /* multipart/digest (RFC 2046 5.1.5) */
	char boundary[BS_MSGPARSE_BOUNDARY_MAX];
	char cand[BS_MSGPARSE_BOUNDARY_MAX];
};

struct mp_entity {               /* the entity whose header layer 1 is reading */
	uint8_t ctype;               /* enum bs_ctype */
	uint8_t report_type;
	uint8_t cte;                 /* enum bs_cte */
	uint8_t blen;
	bool top, orig;              /* top header / header of an embedded message */
	bool digest;                 /* multipart/digest: parts default to message/rfc822 */
	uint16_t nfields;
	char boundary[BS_MSGPARSE_BOUNDARY_MAX];
};

struct bs_msgparse {
	struct bs_msg_facts *f;
	const struct bs_msgparse_cb *cb;
	void *ctx;
	uint64_t next_off;           /* message offset expected next */
	int64_t off_adjust;          /* message offset - layer-1 position (gaps, first offset) */
	bool started, ended;
	bool hdr_lf_pending;         /* the top header ended on CR; its LF may open the next chunk */
	bool first_line;
	bool in_orig_hdr;            /* an embedded original's header block is open */
	bool orig_fill;              /* ... and it is the one whose fields go into the facts */
	bool body_any, body_sep;     /* BODY scope: bytes emitted / separator owed */
	bool cand_fresh;             /* the line being handled is a boundary candidate */
	uint8_t state;               /* enum l1_state */
	uint8_t depth;               /* open frames */
	/* current leaf */
	bool leaf_open;
	uint8_t leaf_mode;           /* enum leaf_mode */
	uint8_t leaf_cte;
	bool leaf_hdr_done;          /* LEAF_ORIG_HDRS: the header block ended */
	uint32_t leaf_lines;         /* LEAF_ORIG_HDRS: lines seen */
	uint8_t tx;                  /* enum tx_state */
	uint8_t armed_lines;
	uint8_t armed_marker;        /* enum bs_inline_marker that armed the search */
	uint8_t orig_indent;         /* indent stripped from an inline original's lines */
	bool armed_weak;             /* the marker needs a confirmed header run */
	bool tent_after_marker;      /* the held run follows a (weak) marker */
	bool inside_orig;            /* layer 1 is inside an attached message */
	bool tdsn, tdsn_done;        /* DSN fields being read from a text part / were read */
	uint8_t orig_depth;          /* open frames when it began */
	uint8_t tent_known;
	bool tent_strong;
	uint16_t tent_len;
	struct bs_b64 b64;
	struct bs_qp qp;
	struct mp_entity ent;
	struct mp_frame fr[BS_MSGPARSE_MAX_DEPTH];
	struct bs_lines l1, l2;
	struct bs_hdracc h1, h2;
	struct bs_dsn dsn;
	uint16_t out_len;            /* batched scope bytes (see mp_emit) */
	uint8_t out_scope;
	uint8_t out[2048];
	uint8_t tent[TENT_MAX];
	/* one layer-1 line piece decoded: QP may add the line's "\n" and a
	 * held "=X"; base64 yields less than its input */
	uint8_t dec[BS_QP_OUT_MAX(BS_LINE_MAX) + BS_QP_OUT_MAX(1)];
};
_Static_assert(BS_QP_OUT_MAX(BS_LINE_MAX) + BS_QP_OUT_MAX(1) >= BS_B64_OUT_MAX(BS_LINE_MAX),
	       "decode buffer fits both decoders");

/* name (nlen bytes) equals the literal, case-insensitively; the length is
 * compared first and known at compile time */
#define hn(name, nlen, lit) ((nlen) == sizeof(lit) - 1 && bs_ascii_ieq((name), (lit), sizeof(lit) - 1))

/* msgparse.c: facts and batched scope output */
void mp_fact(struct bs_msgparse *mp, enum bs_fact id);
void mp_out_flush(struct bs_msgparse *mp);
void mp_emit(struct bs_msgparse *mp, enum bs_scope scope, const void *p, size_t n);
void mp_emit_body(struct bs_msgparse *mp, const uint8_t *p, size_t n, bool eol);
void mp_emit_line(struct bs_msgparse *mp, enum bs_scope scope, const uint8_t *p, size_t n, unsigned flags);

/* msgparse_fields.c: header fields */
void mp_ent_field(void *ctx, const char *name, size_t nl, const char *v, size_t n);    /* bs_field_fn */
void mp_orig_field_cb(void *ctx, const char *name, size_t nl, const char *v, size_t n); /* bs_field_fn */
void mp_orig_begin(struct bs_msgparse *mp, enum bs_orig_how how);
void mp_orig_header_done(struct bs_msgparse *mp);

/* msgparse_leaf.c: leaf parts */
void mp_leaf_begin(struct bs_msgparse *mp, enum leaf_mode mode, uint8_t cte);
void mp_leaf_line(struct bs_msgparse *mp, const uint8_t *line, size_t n, unsigned flags);
void mp_leaf_end(struct bs_msgparse *mp);

#endif
