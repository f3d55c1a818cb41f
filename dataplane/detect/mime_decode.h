/* Streaming MIME decoders: base64 and quoted-printable content transfer
 * encodings (RFC 2045) and RFC 2047 encoded words in header values.
 *
 * The transfer decoders keep a few bytes of state so that input may be cut
 * anywhere: decoding a stream whole or in pieces of any size gives the same
 * output. They never fail: invalid input is skipped (base64) or passed
 * through literally (quoted-printable) and counted, because a bounce with a
 * damaged part must still be understood. Charsets are not converted: the
 * bytes of the declared charset are kept (matching needs no more). */
#ifndef BS_MIME_DECODE_H
#define BS_MIME_DECODE_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

/* Content-Transfer-Encoding values */
enum bs_cte { BS_CTE_IDENTITY = 0 /* 7bit, 8bit, binary, none, unknown */, BS_CTE_BASE64, BS_CTE_QP };
/* Parse a Content-Transfer-Encoding value (case-insensitive, trimmed). */
enum bs_cte bs_cte_parse(const char *v, size_t n);

struct bs_b64 {
	uint32_t acc;      /* sextets not yet turned into bytes */
	uint8_t nsext;     /* how many (0..3) */
	uint8_t after_pad; /* '=' ended a quantum: further '=' are padding */
	uint32_t invalid;  /* bytes outside the alphabet (whitespace excluded) */
};
/* Largest output of bs_b64_decode for n input bytes (pending state included) */
#define BS_B64_OUT_MAX(n) ((((size_t)(n)) / 4 + 1) * 3)
void bs_b64_init(struct bs_b64 *d);
/* Decode n bytes into out (room for BS_B64_OUT_MAX(n)); returns bytes
 * written. Line breaks and spaces are skipped; '=' closes a quantum early
 * and decoding resumes at the next alphabet byte (concatenated blocks). */
size_t bs_b64_decode(struct bs_b64 *d, const uint8_t *in, size_t n, uint8_t *out);
/* End of input: a partial quantum without padding yields its 1 or 2 whole
 * bytes (a lone sextet counts as invalid). out needs room for 2. */
size_t bs_b64_finish(struct bs_b64 *d, uint8_t *out);

struct bs_qp {
	uint8_t state;     /* after '=', after '=' + hex digit, after "=\r", in "= \t" */
	uint8_t hex1;      /* the first hex digit's character */
	uint32_t invalid;  /* '=' sequences that were not escapes or soft breaks */
};
/* Largest output of bs_qp_decode for n input bytes */
#define BS_QP_OUT_MAX(n) (((size_t)(n)) + 2)
void bs_qp_init(struct bs_qp *d);
/* Decode n bytes into out (room for BS_QP_OUT_MAX(n)); returns bytes written.
 * "=XX" (either hex case) is a byte, "=" before a line break (optionally
 * after spaces) is a soft break; hard line breaks are kept as given. An
 * invalid '=' sequence is output literally. */
size_t bs_qp_decode(struct bs_qp *d, const uint8_t *in, size_t n, uint8_t *out);
/* End of input: a dangling '=' (and hex digit) is output literally; out needs room for 2. */
size_t bs_qp_finish(struct bs_qp *d, uint8_t *out);

/* RFC 2047 decoding of header values: bs_rfc2047_decode() in dataplane/rfc2047.h. */
#include "../rfc2047.h"

#endif
