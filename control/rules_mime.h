/* Minimal MIME helpers for the offline message scanner (rules_scan.c):
 * line-end normalisation, header block splitting, Content-Type parameters,
 * base64 / quoted-printable / RFC 2047 decoding. Whole-buffer, allocating;
 * the dataplane has its own streaming decoders. */
#ifndef BS_RULES_MIME_H
#define BS_RULES_MIME_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct bs_bytes {
	uint8_t *p;
	size_t n;
};

/* Copy with every line ending (LF, CR, CRLF) made CRLF. */
int bs_mime_crlf(const uint8_t *in, size_t n, struct bs_bytes *out);

/* Header block length including its terminating empty line ("\r\n\r\n"),
 * or n when the block never ends. *body is where the body starts. */
size_t bs_mime_header_end(const uint8_t *p, size_t n, size_t *body);

/* Iterate fields of a CRLF header block: returns false at the end. name and
 * value point into the block; value is raw (folded). */
struct bs_hdr_iter {
	const uint8_t *p;
	size_t n, off;
};
bool bs_mime_next_field(struct bs_hdr_iter *it, const uint8_t **name, size_t *name_len,
			const uint8_t **value, size_t *value_len);

/* Unfold (drop CRLF before white space), trim, decode RFC 2047 words. */
int bs_mime_field_value(const uint8_t *v, size_t n, struct bs_bytes *out);

/* First field of that name (case-insensitive) in the block, unfolded. */
bool bs_mime_find_field(const uint8_t *hdr, size_t n, const char *name, struct bs_bytes *out);

/* "type/subtype" lower-cased into type (cap bytes); parameter value
 * (unquoted) into val; false when absent. */
void bs_mime_content_type(const uint8_t *v, size_t n, char *type, size_t cap);
bool bs_mime_param(const uint8_t *v, size_t n, const char *param, char *val, size_t cap);

/* Transfer decoding: "base64", "quoted-printable", else a copy. */
int bs_mime_decode(const char *cte, const uint8_t *p, size_t n, struct bs_bytes *out);

#endif
