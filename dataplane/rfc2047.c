/* RFC 2047 decoding; see rfc2047.h for what is converted and what is kept. */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include "rfc2047.h"
#include "textscan.h"

unsigned bs_utf8_seq_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xC2)
		return 0; /* continuation byte or overlong 2-byte lead */
	if (c < 0xE0) {
		if (n >= 2 && (p[1] & 0xC0) == 0x80)
			return 2;
		return 0;
	}
	if (c < 0xF0) {
		if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0)
			return 0; /* overlong */
		if (c == 0xED && p[1] >= 0xA0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && p[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xF4 && p[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

bool bs_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		unsigned k = bs_utf8_seq_len(p + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

struct out {
	char *p;
	size_t cap, len;
	bool cut;
};

static inline void put(struct out *o, uint8_t c)
{
	if (o->len + 1 < o->cap)
		o->p[o->len++] = (char)c;
	else
		o->cut = true;
}

static void put_cp(struct out *o, uint32_t cp)
{
	if (cp < 0x80) {
		put(o, (uint8_t)cp);
	} else if (cp < 0x800) {
		put(o, (uint8_t)(0xC0 | (cp >> 6)));
		put(o, (uint8_t)(0x80 | (cp & 0x3F)));
	} else {
		put(o, (uint8_t)(0xE0 | (cp >> 12)));
		put(o, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
		put(o, (uint8_t)(0x80 | (cp & 0x3F)));
	}
}

enum cs { CS_UTF8, CS_LATIN1, CS_LATIN9, CS_CP1252, CS_OTHER };

/* windows-1252 0x80..0x9F; the five undefined positions map to the C1
 * control of the same value, as the WHATWG encoding standard does. */
static const uint16_t cp1252_80[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static uint32_t latin9_cp(uint8_t c)
{
	switch (c) {
	case 0xA4: return 0x20AC;
	case 0xA6: return 0x0160;
	case 0xA8: return 0x0161;
	case 0xB4: return 0x017D;
	case 0xB8: return 0x017E;
	case 0xBC: return 0x0152;
	case 0xBD: return 0x0153;
	case 0xBE: return 0x0178;
	default: return c;
	}
}

static void put_byte_cs(struct out *o, enum cs cs, uint8_t c)
{
	if (c < 0x80 || cs == CS_UTF8 || cs == CS_OTHER) {
		put(o, c);
		return;
	}
	if (cs == CS_LATIN9)
		put_cp(o, latin9_cp(c));
	else if (cs == CS_CP1252 && c < 0xA0)
		put_cp(o, cp1252_80[c - 0x80]);
	else
		put_cp(o, c);
}

static bool name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

static enum cs charset_of(const char *s, size_t n)
{
	const char *star = memchr(s, '*', n); /* RFC 2231 language suffix */
	if (star)
		n = (size_t)(star - s);
	if (name_is(s, n, "utf-8") || name_is(s, n, "utf8") || name_is(s, n, "us-ascii") ||
	    name_is(s, n, "ascii"))
		return CS_UTF8;
	if (name_is(s, n, "iso-8859-1") || name_is(s, n, "iso8859-1") || name_is(s, n, "latin1") ||
	    name_is(s, n, "iso_8859-1") || name_is(s, n, "l1"))
		return CS_LATIN1;
	if (name_is(s, n, "iso-8859-15") || name_is(s, n, "iso8859-15") || name_is(s, n, "latin-9") ||
	    name_is(s, n, "latin9") || name_is(s, n, "iso_8859-15"))
		return CS_LATIN9;
	if (name_is(s, n, "windows-1252") || name_is(s, n, "cp1252"))
		return CS_CP1252;
	return CS_OTHER;
}

static int b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* An encoded-word starting at in[0] ("=?"): its parts, or false. */
struct ew {
	const char *cs, *text;
	size_t cs_len, text_len, total;
	char enc;
};

static bool ew_parse(const char *in, size_t n, struct ew *w)
{
	if (n < 8 || in[0] != '=' || in[1] != '?')
		return false;
	size_t i = 2;
	while (i < n && in[i] != '?' && in[i] > ' ' && in[i] < 127)
		i++;
	if (i >= n || in[i] != '?' || i == 2)
		return false;
	w->cs = in + 2;
	w->cs_len = i - 2;
	if (i + 2 >= n || in[i + 2] != '?')
		return false;
	w->enc = in[i + 1];
	if (w->enc != 'B' && w->enc != 'b' && w->enc != 'Q' && w->enc != 'q')
		return false;
	i += 3;
	size_t t0 = i;
	while (i + 1 < n && !(in[i] == '?' && in[i + 1] == '=')) {
		if ((uint8_t)in[i] <= ' ' || in[i] == 127)
			return false; /* encoded text has no white space */
		i++;
	}
	if (i + 1 >= n)
		return false;
	w->text = in + t0;
	w->text_len = i - t0;
	w->total = i + 2;
	return true;
}

/* ---- other charsets through glibc's iconv ----
 * Converters are opened once per thread and charset (iconv_open loads a
 * gconv module and allocates: never per packet) and kept in a small
 * per-thread table; bs_rfc2047_thread_init() opens the common ones up
 * front so a worker pays nothing on its fast path. */
#define CONV_MAX 32        /* converters kept per thread */
#define CONV_FAIL_MAX 16   /* recent unknown names remembered (ring) */
#define CONV_TRIES_MAX 256 /* unknown names tried per thread, ever */
struct conv {
	char name[24];   /* charset as written, lower case */
	iconv_t cd;
};
static __thread struct conv conv_tab[CONV_MAX];
static __thread unsigned conv_n;
/* Names iconv did not know: kept apart so that made-up charsets cannot
 * crowd real ones out of conv_tab, and tried a bounded number of times. */
static __thread char conv_fail[CONV_FAIL_MAX][24];
static __thread unsigned conv_fail_next, conv_tries;

/* MIME names glibc spells differently */
static const char *iconv_name(const char *cs)
{
	static const struct { const char *mime, *glibc; } alias[] = {
		{ "ks_c_5601-1987", "CP949" }, { "ks_c_5601", "CP949" }, { "x-sjis", "SHIFT_JIS" },
		{ "shift-jis", "SHIFT_JIS" }, { "x-gbk", "GBK" }, { "gb_2312-80", "GB2312" },
		{ "x-euc-jp", "EUC-JP" }, { "x-mac-roman", "MACINTOSH" }, { "unicode-1-1-utf-7", "UTF-7" },
	};
	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (strcmp(cs, alias[i].mime) == 0)
			return alias[i].glibc;
	return cs;
}

static iconv_t conv_get(const char *cs, size_t n, bool open_new)
{
	char name[24];
	if (n == 0 || n >= sizeof name)
		return (iconv_t)-1;
	for (size_t i = 0; i < n; i++) {
		char c = cs[i];
		name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	name[n] = '\0';
	for (unsigned i = 0; i < conv_n; i++)
		if (strcmp(conv_tab[i].name, name) == 0)
			return conv_tab[i].cd;
	for (unsigned i = 0; i < CONV_FAIL_MAX; i++)
		if (strcmp(conv_fail[i], name) == 0)
			return (iconv_t)-1;
	if (!open_new || conv_n >= CONV_MAX || conv_tries >= CONV_TRIES_MAX)
		return (iconv_t)-1;
	iconv_t cd = iconv_open("UTF-8", iconv_name(name));
	if (cd == (iconv_t)-1) {
		conv_tries++;
		memcpy(conv_fail[conv_fail_next], name, n + 1);
		conv_fail_next = (conv_fail_next + 1) % CONV_FAIL_MAX;
		return cd;
	}
	memcpy(conv_tab[conv_n].name, name, n + 1);
	conv_tab[conv_n].cd = cd;
	conv_n++;
	return cd;
}

void bs_rfc2047_thread_init(void)
{
	static const char *const common[] = {
		"iso-8859-2", "iso-8859-5", "iso-8859-7", "iso-8859-9", "iso-8859-13", "windows-1250",
		"windows-1251", "windows-1257", "koi8-r", "koi8-u", "big5", "gb2312", "gbk", "gb18030",
		"iso-2022-jp", "shift_jis", "euc-jp", "euc-kr", "ks_c_5601-1987", "utf-7", "tis-620",
	};
	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		conv_get(common[i], strlen(common[i]), true);
}

void bs_rfc2047_thread_cleanup(void)
{
	for (unsigned i = 0; i < conv_n; i++)
		iconv_close(conv_tab[i].cd);
	conv_n = 0;
}

/* Convert raw[0..n) from the converter's charset to UTF-8 into o. A byte
 * that is not valid there becomes U+FFFD and conversion goes on with the
 * next byte (what mail readers and Python's "replace" show); false (nothing
 * kept) when more than half of the bytes are invalid: then the word is
 * more likely mislabelled than damaged. */
static bool conv_put(iconv_t cd, const uint8_t *raw, size_t n, struct out *o)
{
	static const char repl[] = "\xEF\xBF\xBD";
	char *in = (char *)raw, *outp = o->p + o->len;
	size_t inleft = n, room = o->cap > o->len + 1 ? o->cap - o->len - 1 : 0, outleft = room;
	size_t bad = 0;
	iconv(cd, NULL, NULL, NULL, NULL); /* initial shift state */
	while (inleft) {
		size_t r = iconv(cd, &in, &inleft, &outp, &outleft);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			break;
		/* EILSEQ or EINVAL (cut sequence at the end): replace one byte */
		if (++bad * 2 > n)
			return false;
		in++;
		inleft--;
		if (outleft < 3) {
			outleft = 0;
			break;
		}
		memcpy(outp, repl, 3);
		outp += 3;
		outleft -= 3;
	}
	if (!inleft && outleft) {
		/* back to the initial state (ISO-2022-*: may write bytes) */
		if (iconv(cd, NULL, NULL, &outp, &outleft) == (size_t)-1 && errno != E2BIG)
			return false;
	}
	o->len += room - outleft;
	if (inleft)
		o->cut = true;
	return true;
}

/* Decode the text of w into o; false (o unchanged in meaning, caller
 * rolls back) when the text is not valid for its encoding. */
static bool ew_decode(const struct ew *w, enum cs cs, struct out *o)
{
	const uint8_t *t = (const uint8_t *)w->text;
	if (w->enc == 'Q' || w->enc == 'q') {
		for (size_t i = 0; i < w->text_len; i++) {
			uint8_t c = t[i];
			if (c == '_') {
				put(o, ' ');
			} else if (c == '=') {
				if (i + 2 >= w->text_len)
					return false;
				int hi = bs_hex_val(t[i + 1]), lo = bs_hex_val(t[i + 2]);
				if (hi < 0 || lo < 0)
					return false;
				put_byte_cs(o, cs, (uint8_t)(hi << 4 | lo));
				i += 2;
			} else {
				put_byte_cs(o, cs, c);
			}
		}
		return true;
	}
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < w->text_len; i++) {
		if (t[i] == '=')
			break; /* padding: the rest must be padding too; tolerate */
		int v = b64_val(t[i]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			put_byte_cs(o, cs, (uint8_t)(acc >> bits));
		}
	}
	return true;
}

static inline bool is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* put() of each byte, in one copy: what fits before the byte kept for
 * the NUL goes out, the rest marks the output cut */
static void put_raw(struct out *o, const char *s, size_t n)
{
	size_t room = o->cap > o->len + 1 ? o->cap - o->len - 1 : 0;
	size_t k = n < room ? n : room;
	memcpy(o->p + o->len, s, k);
	o->len += k;
	if (k < n)
		o->cut = true;
}

size_t bs_rfc2047_decode(const char *in, size_t n, char *out, size_t cap, bool *cut)
{
	struct out o = { out, cap, 0, false };
	bool after_ew = false;
	size_t i = 0;
	while (i < n) {
		struct ew w;
		if (!after_ew && in[i] != '=') {
			/* plain text (most header values are all plain): up to the
			 * next '=' it is copied as it is, in one step */
			const char *eq = memchr(in + i, '=', n - i);
			size_t j = eq ? (size_t)(eq - in) : n;
			put_raw(&o, in + i, j - i);
			i = j;
			continue;
		}
		if (in[i] == '=' && i + 1 < n && in[i + 1] == '?' && ew_parse(in + i, n - i, &w)) {
			enum cs cs = charset_of(w.cs, w.cs_len);
			size_t mark = o.len;
			bool was_cut = o.cut;
			bool ok;
			iconv_t cd = cs == CS_OTHER ? conv_get(w.cs, w.cs_len, true) : (iconv_t)-1;
			if (cd != (iconv_t)-1) {
				/* the bytes of this word and of the adjacent words in the
				 * same charset (a multi-byte or escape-shifted character
				 * may be cut between two words), then one conversion */
				uint8_t raw[1024];
				struct out r = { (char *)raw, sizeof raw, 0, false };
				ok = ew_decode(&w, CS_OTHER, &r);
				size_t end = i + w.total;
				while (ok) {
					size_t j = end;
					struct ew nx;
					while (j < n && is_lwsp(in[j]))
						j++;
					if (j == end || j >= n || !ew_parse(in + j, n - j, &nx) || nx.cs_len != w.cs_len ||
					    strncasecmp(nx.cs, w.cs, w.cs_len) != 0)
						break;
					ok = ew_decode(&nx, CS_OTHER, &r);
					end = j + nx.total;
				}
				ok = ok && !r.cut && conv_put(cd, raw, r.len, &o);
				if (!ok) {
					o.len = mark;
					o.cut = was_cut;
					put_raw(&o, in + i, end - i);
				}
				i = end;
				after_ew = ok;
				continue;
			} else {
				ok = ew_decode(&w, cs, &o);
				/* no converter: decoded bytes are kept only if they are
				 * UTF-8 already (and not a 7-bit escape-shifted charset) */
				if (ok && cs == CS_OTHER &&
				    (!bs_utf8_valid((const uint8_t *)o.p + mark, o.len - mark) ||
				     memchr(o.p + mark, 0x1b, o.len - mark)))
					ok = false;
			}
			if (!ok) {
				o.len = mark;
				o.cut = was_cut;
				put_raw(&o, in + i, w.total);
			}
			i += w.total;
			after_ew = ok;
			continue;
		}
		if (after_ew && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n')) {
			size_t j = i;
			while (j < n && (in[j] == ' ' || in[j] == '\t' || in[j] == '\r' || in[j] == '\n'))
				j++;
			if (j < n && in[j] == '=' && j + 1 < n && in[j + 1] == '?' && ew_parse(in + j, n - j, &w)) {
				i = j; /* white space between two encoded-words disappears */
				continue;
			}
			put_raw(&o, in + i, j - i);
			i = j;
			after_ew = false;
			continue;
		}
		put(&o, (uint8_t)in[i]);
		after_ew = false;
		i++;
	}
	if (o.cut) {
		/* do not leave half a character at the end */
		size_t k = o.len, back = 0;
		while (k > 0 && back < 3 && ((uint8_t)o.p[k - 1] & 0xC0) == 0x80) {
			k--;
			back++;
		}
		if (k > 0 && (uint8_t)o.p[k - 1] >= 0xC0) {
			unsigned need = bs_utf8_seq_len((const uint8_t *)o.p + k - 1, o.len - (k - 1));
			if (need == 0)
				o.len = k - 1;
		}
	}
	if (cap > 0)
		out[o.len] = '\0';
	if (cut)
		*cut = o.cut;
	return o.len;
}
