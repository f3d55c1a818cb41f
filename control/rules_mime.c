/* Whole-buffer MIME helpers for the offline scanner (see rules_mime.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include "rules_mime.h"

int bs_mime_crlf(const uint8_t *in, size_t n, struct bs_bytes *out)
{
	out->p = malloc(n * 2 + 1);
	if (!out->p)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\r') {
			out->p[o++] = '\r';
			out->p[o++] = '\n';
			if (i + 1 < n && in[i + 1] == '\n')
				i++;
		} else if (in[i] == '\n') {
			out->p[o++] = '\r';
			out->p[o++] = '\n';
		} else {
			out->p[o++] = in[i];
		}
	}
	out->n = o;
	return 0;
}

size_t bs_mime_header_end(const uint8_t *p, size_t n, size_t *body)
{
	if (n >= 2 && p[0] == '\r' && p[1] == '\n') {  /* no header at all */
		*body = 2;
		return 2;
	}
	for (size_t i = 0; i + 3 < n; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
			*body = i + 4;
			return i + 4;
		}
	}
	*body = n;
	return n;
}

bool bs_mime_next_field(struct bs_hdr_iter *it, const uint8_t **name, size_t *name_len,
			const uint8_t **value, size_t *value_len)
{
	while (it->off < it->n) {
		size_t start = it->off;
		/* the field ends at a CRLF not followed by white space */
		size_t end = start;
		for (;;) {
			while (end < it->n && it->p[end] != '\r')
				end++;
			if (end + 2 < it->n && it->p[end + 1] == '\n' &&
			    (it->p[end + 2] == ' ' || it->p[end + 2] == '\t')) {
				end += 2;
				continue;
			}
			break;
		}
		it->off = end + 2 < it->n ? end + 2 : it->n;
		if (end == start)       /* empty line: end of block */
			return false;
		const uint8_t *colon = memchr(it->p + start, ':', end - start);
		if (!colon)
			continue;           /* not a field (garbage line): skip */
		size_t nl = (size_t)(colon - (it->p + start));
		while (nl && (it->p[start + nl - 1] == ' ' || it->p[start + nl - 1] == '\t'))
			nl--;
		if (!nl)
			continue;
		*name = it->p + start;
		*name_len = nl;
		*value = colon + 1;
		*value_len = end - (size_t)(colon + 1 - it->p);
		return true;
	}
	return false;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

static int hexv(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

static size_t b64_decode(const uint8_t *p, size_t n, uint8_t *o)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=')
			break;
		int v = b64val(p[i]);
		if (v < 0)
			continue;       /* line breaks and junk */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (uint8_t)(acc >> bits);
		}
	}
	return k;
}

static size_t qp_decode(const uint8_t *p, size_t n, uint8_t *o, bool underscore_space)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=' && i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
			i += 2;        /* soft line break */
			continue;
		}
		if (p[i] == '=' && i + 2 < n) {
			int h = hexv(p[i + 1]), l = hexv(p[i + 2]);
			if (h >= 0 && l >= 0) {
				o[k++] = (uint8_t)(h * 16 + l);
				i += 2;
				continue;
			}
		}
		o[k++] = (underscore_space && p[i] == '_') ? ' ' : p[i];
	}
	return k;
}

int bs_mime_decode(const char *cte, const uint8_t *p, size_t n, struct bs_bytes *out)
{
	out->p = malloc(n + 1);
	if (!out->p)
		return -1;
	if (cte && !strcasecmp(cte, "base64"))
		out->n = b64_decode(p, n, out->p);
	else if (cte && !strcasecmp(cte, "quoted-printable"))
		out->n = qp_decode(p, n, out->p, false);
	else {
		memcpy(out->p, p, n);
		out->n = n;
	}
	return 0;
}

/* =?charset?B|Q?text?= words are decoded to their bytes (no charset
 * conversion: rules match the words operators see in ASCII and UTF-8);
 * white space between adjacent encoded words is dropped (RFC 2047 6.2). */
int bs_mime_field_value(const uint8_t *v, size_t n, struct bs_bytes *out)
{
	out->p = malloc(n + 1);
	if (!out->p)
		return -1;
	size_t k = 0;
	size_t i = 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	size_t last_word_end = (size_t)-1;  /* output position after the last encoded word */
	while (i < n) {
		if (v[i] == '\r' && i + 1 < n && v[i + 1] == '\n') {
			i += 2;
			continue;
		}
		if (v[i] == '=' && i + 1 < n && v[i + 1] == '?') {
			/* =?cs?E?txt?= */
			const uint8_t *q1 = memchr(v + i + 2, '?', n - i - 2);
			if (q1 && q1 + 3 < v + n && q1[2] == '?') {
				int enc = toupper(q1[1]);
				const uint8_t *txt = q1 + 3;
				const uint8_t *endw = NULL;
				for (const uint8_t *s = txt; s + 1 < v + n; s++)
					if (s[0] == '?' && s[1] == '=') {
						endw = s;
						break;
					}
				if (endw && (enc == 'B' || enc == 'Q')) {
					if (last_word_end != (size_t)-1) {
						/* only white space since the last word: drop it */
						bool ws = true;
						for (size_t j = last_word_end; j < k; j++)
							if (out->p[j] != ' ' && out->p[j] != '\t')
								ws = false;
						if (ws)
							k = last_word_end;
					}
					size_t tl = (size_t)(endw - txt);
					k += enc == 'B' ? b64_decode(txt, tl, out->p + k) : qp_decode(txt, tl, out->p + k, true);
					last_word_end = k;
					i = (size_t)(endw + 2 - v);
					continue;
				}
			}
		}
		out->p[k++] = v[i++];
	}
	while (k && (out->p[k - 1] == ' ' || out->p[k - 1] == '\t'))
		k--;
	out->n = k;
	return 0;
}

bool bs_mime_find_field(const uint8_t *hdr, size_t n, const char *name, struct bs_bytes *out)
{
	struct bs_hdr_iter it = { hdr, n, 0 };
	const uint8_t *fn, *fv;
	size_t fnl, fvl;
	size_t want = strlen(name);
	while (bs_mime_next_field(&it, &fn, &fnl, &fv, &fvl)) {
		if (fnl == want && !strncasecmp((const char *)fn, name, want))
			return bs_mime_field_value(fv, fvl, out) == 0;
	}
	return false;
}

void bs_mime_content_type(const uint8_t *v, size_t n, char *type, size_t cap)
{
	size_t i = 0, k = 0;
	while (i < n && isspace(v[i]))
		i++;
	while (i < n && v[i] != ';' && !isspace(v[i]) && k + 1 < cap)
		type[k++] = (char)tolower(v[i++]);
	type[k] = 0;
}

bool bs_mime_param(const uint8_t *v, size_t n, const char *param, char *val, size_t cap)
{
	size_t pl = strlen(param);
	for (size_t i = 0; i + pl < n; i++) {
		if (v[i] != ';')
			continue;
		size_t j = i + 1;
		while (j < n && isspace(v[j]))
			j++;
		if (j + pl >= n || strncasecmp((const char *)v + j, param, pl))
			continue;
		j += pl;
		while (j < n && isspace(v[j]))
			j++;
		if (j >= n || v[j] != '=')
			continue;
		j++;
		while (j < n && isspace(v[j]))
			j++;
		size_t k = 0;
		if (j < n && v[j] == '"') {
			j++;
			while (j < n && v[j] != '"' && k + 1 < cap)
				val[k++] = (char)v[j++];
		} else {
			while (j < n && v[j] != ';' && !isspace(v[j]) && k + 1 < cap)
				val[k++] = (char)v[j++];
		}
		val[k] = 0;
		return k > 0;
	}
	return false;
}
