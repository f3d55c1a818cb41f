/* Streaming base64 / quoted-printable decoders and RFC 2047 word decoding. */
#include "mime_decode.h"
#include "../textscan.h"
#include <string.h>
#include <strings.h>

/* 0..63 for alphabet bytes, 64 for '=', 65 for whitespace, 255 invalid */
static const uint8_t b64_val[256] = {
	255, 255, 255, 255, 255, 255, 255, 255, 255,  65,  65,  65,  65,  65, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	 65, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255,  64, 255, 255,
	255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
	255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

enum bs_cte bs_cte_parse(const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t' || *v == '"')) { v++; n--; }
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '"' || v[n - 1] == ';')) n--;
	if (n == 6 && !strncasecmp(v, "base64", 6))
		return BS_CTE_BASE64;
	if (n == 16 && !strncasecmp(v, "quoted-printable", 16))
		return BS_CTE_QP;
	return BS_CTE_IDENTITY;
}

void bs_b64_init(struct bs_b64 *d)
{
	memset(d, 0, sizeof(*d));
}

size_t bs_b64_decode(struct bs_b64 *d, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t *o = out;
	uint32_t acc = d->acc;
	unsigned ns = d->nsext;
	for (size_t i = 0; i < n; i++) {
		uint8_t v = b64_val[in[i]];
		if (v < 64) {
			d->after_pad = 0;
			acc = (acc << 6) | v;
			if (++ns == 4) {
				*o++ = (uint8_t)(acc >> 16);
				*o++ = (uint8_t)(acc >> 8);
				*o++ = (uint8_t)acc;
				acc = 0;
				ns = 0;
			}
		} else if (v == 64) {
			/* padding: a quantum of 2 or 3 sextets ends here */
			if (ns == 2) {
				*o++ = (uint8_t)(acc >> 4);
			} else if (ns == 3) {
				*o++ = (uint8_t)(acc >> 10);
				*o++ = (uint8_t)(acc >> 2);
			} else if (ns == 1 || !d->after_pad) {
				d->invalid++;
			}
			acc = 0;
			ns = 0;
			d->after_pad = 1;
		} else if (v == 255) {
			d->invalid++;
		}
	}
	d->acc = acc;
	d->nsext = (uint8_t)ns;
	return (size_t)(o - out);
}

size_t bs_b64_finish(struct bs_b64 *d, uint8_t *out)
{
	size_t k = 0;
	if (d->nsext == 2) {
		out[k++] = (uint8_t)(d->acc >> 4);
	} else if (d->nsext == 3) {
		out[k++] = (uint8_t)(d->acc >> 10);
		out[k++] = (uint8_t)(d->acc >> 2);
	} else if (d->nsext == 1) {
		d->invalid++;
	}
	d->acc = 0;
	d->nsext = 0;
	return k;
}

enum { QP_TEXT = 0, QP_EQ, QP_HEX1, QP_EQ_CR, QP_EQ_WS };

void bs_qp_init(struct bs_qp *d)
{
	memset(d, 0, sizeof(*d));
}

size_t bs_qp_decode(struct bs_qp *d, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t *o = out;
	size_t i = 0;
	while (i < n) {
		uint8_t c = in[i];
		switch (d->state) {
		case QP_TEXT: {
			/* fast path: copy up to the next '=' */
			const uint8_t *eq = memchr(in + i, '=', n - i);
			size_t run = eq ? (size_t)(eq - (in + i)) : n - i;
			memcpy(o, in + i, run);
			o += run;
			i += run;
			if (eq) {
				d->state = QP_EQ;
				i++;
			}
			continue;
		}
		case QP_EQ:
			if (bs_hex_val(c) >= 0) {
				d->hex1 = c;
				d->state = QP_HEX1;
			} else if (c == '\n') {
				d->state = QP_TEXT;        /* soft line break */
			} else if (c == '\r') {
				d->state = QP_EQ_CR;
			} else if (c == ' ' || c == '\t') {
				d->state = QP_EQ_WS;       /* "=  \n": soft break with padding */
			} else {
				d->invalid++;
				*o++ = '=';
				d->state = QP_TEXT;
				continue;                  /* reprocess c as text */
			}
			i++;
			continue;
		case QP_HEX1: {
			int h = bs_hex_val(c);
			if (h >= 0) {
				*o++ = (uint8_t)(bs_hex_val(d->hex1) << 4 | h);
				i++;
			} else {
				d->invalid++;
				*o++ = '=';
				*o++ = d->hex1;
			}
			d->state = QP_TEXT;
			continue;
		}
		case QP_EQ_CR:
			d->state = QP_TEXT;
			if (c == '\n')
				i++;                       /* "=\r\n"; a bare "=\r" is an old-Mac soft break */
			continue;
		case QP_EQ_WS:
			if (c == ' ' || c == '\t') {
				i++;
			} else if (c == '\n') {
				d->state = QP_TEXT;
				i++;
			} else if (c == '\r') {
				d->state = QP_EQ_CR;
				i++;
			} else {
				/* '=' followed by spaces then text: not an escape; the
				 * spaces are dropped (bounded state) */
				d->invalid++;
				*o++ = '=';
				d->state = QP_TEXT;
			}
			continue;
		}
	}
	return (size_t)(o - out);
}

size_t bs_qp_finish(struct bs_qp *d, uint8_t *out)
{
	size_t k = 0;
	if (d->state == QP_EQ || d->state == QP_EQ_WS) {
		out[k++] = '=';
		d->invalid++;
	} else if (d->state == QP_HEX1) {
		out[k++] = '=';
		out[k++] = d->hex1;
		d->invalid++;
	}
	d->state = QP_TEXT;
	return k;
}

