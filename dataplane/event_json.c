/* EVE-style JSON for one transaction; see event_json.h and docs/events.md. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include "event_json.h"
#include "rfc2047.h"

/* Output with a hard capacity; `over` once anything did not fit. The
 * `str_max`/`list_max` limits implement the shortened fallback forms. */
struct w {
	char *b;
	size_t cap, len;
	bool over;
	size_t str_max;
	unsigned list_max;
};

static void put(struct w *w, const char *s, size_t n)
{
	if (w->over || w->len + n >= w->cap) {
		w->over = true;
		return;
	}
	memcpy(w->b + w->len, s, n);
	w->len += n;
}

static void puts_(struct w *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct w *w, uint64_t v)
{
	char tmp[24];
	int k = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
	put(w, tmp, (size_t)k);
}

static const char hexd[] = "0123456789abcdef";

bool bs_json_string(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t o = *len;
	/* worst case 6 output bytes per input byte, plus quotes and NUL */
	if (o + 3 > cap)
		return false;
	buf[o++] = '"';
	size_t i = 0;
	while (i < n) {
		/* runs of plain printable ASCII go in one copy */
		size_t j = i;
		while (j < n && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '"' && p[j] != '\\')
			j++;
		if (j > i) {
			if (o + (j - i) + 2 > cap)
				return false;
			memcpy(buf + o, p + i, j - i);
			o += j - i;
			i = j;
			continue;
		}
		uint8_t c = p[i];
		char esc[6];
		size_t en = 0;
		unsigned k;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			en = 2;
		} else if (c < 0x20 || c == 0x7f) {
			const char *short_esc = NULL;
			switch (c) {
			case '\n': short_esc = "\\n"; break;
			case '\r': short_esc = "\\r"; break;
			case '\t': short_esc = "\\t"; break;
			case '\b': short_esc = "\\b"; break;
			case '\f': short_esc = "\\f"; break;
			}
			if (short_esc) {
				memcpy(esc, short_esc, 2);
				en = 2;
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hexd[c >> 4];
				esc[5] = hexd[c & 15];
				en = 6;
			}
		} else if ((k = bs_utf8_seq_len(p + i, n - i)) > 0) {
			if (o + k + 2 > cap)
				return false;
			memcpy(buf + o, p + i, k);
			o += k;
			i += k;
			continue;
		} else {
			/* not UTF-8: the Latin-1 character of this byte */
			memcpy(esc, "\\u00", 4);
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			en = 6;
		}
		if (o + en + 2 > cap)
			return false;
		memcpy(buf + o, esc, en);
		o += en;
		i++;
	}
	if (o + 2 > cap)
		return false;
	buf[o++] = '"';
	*len = o;
	return true;
}

/* Keep at most max bytes, cut at a character boundary. */
static size_t utf8_limit(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	size_t k = max;
	int back = 0;
	while (k > 0 && back < 3 && ((uint8_t)s[k] & 0xC0) == 0x80) {
		k--;
		back++;
	}
	return ((uint8_t)s[k] & 0xC0) == 0x80 ? max : k;
}

static void put_str(struct w *w, const char *s)
{
	if (w->over)
		return;
	size_t n = utf8_limit(s, strlen(s), w->str_max);
	if (!bs_json_string(w->b, w->cap, &w->len, s, n))
		w->over = true;
}

/* string, or null when empty (field absent) */
static void put_str_or_null(struct w *w, const char *s, bool present)
{
	if (present)
		put_str(w, s);
	else
		puts_(w, "null");
}

static void key(struct w *w, const char *k)
{
	puts_(w, "\"");
	puts_(w, k);
	puts_(w, "\":");
}

size_t bs_event_timestamp(uint64_t ts_ns, char *buf, size_t cap)
{
	time_t sec = (time_t)(ts_ns / 1000000000ull);
	unsigned usec = (unsigned)(ts_ns % 1000000000ull / 1000u);
	struct tm tm;
	gmtime_r(&sec, &tm);
	int k = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+0000", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	if (k < 0 || (size_t)k >= cap) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)k;
}

size_t bs_event_ip(const struct bs_endpoint *e, char *buf, size_t cap)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const char *r;
	if (e->ip_ver == 4 || memcmp(e->addr, v4mapped, 12) == 0)
		r = inet_ntop(AF_INET, e->addr + 12, buf, (socklen_t)cap);
	else
		r = inet_ntop(AF_INET6, e->addr, buf, (socklen_t)cap);
	if (!r) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	return strlen(buf);
}

static void put_ip(struct w *w, const struct bs_endpoint *e)
{
	char ip[64];
	bs_event_ip(e, ip, sizeof ip);
	put_str(w, ip);
}

static void format(struct w *w, const struct bs_txn *t)
{
	char ts[48];
	bs_event_timestamp(t->ts_ns, ts, sizeof ts);

	puts_(w, "{");
	key(w, "timestamp"); put_str(w, ts);
	puts_(w, ",");
	key(w, "flow_id"); put_u64(w, t->flow_id);
	puts_(w, ",\"event_type\":\"smtp\",");
	key(w, "src_ip"); put_ip(w, &t->client);
	puts_(w, ",");
	key(w, "src_port"); put_u64(w, t->client.port);
	puts_(w, ",");
	key(w, "dest_ip"); put_ip(w, &t->server);
	puts_(w, ",");
	key(w, "dest_port"); put_u64(w, t->server.port);
	puts_(w, ",\"proto\":\"TCP\",");
	key(w, "direction");
	put_str(w, t->direction < 4 ? bs_direction_name[t->direction] : "external");

	/* smtp */
	puts_(w, ",\"smtp\":{");
	key(w, "helo"); put_str_or_null(w, t->helo, t->helo[0] != '\0');
	puts_(w, ",");
	key(w, "mail_from"); put_str_or_null(w, t->mail_from, t->has_mail_from);
	puts_(w, ",");
	key(w, "rcpt_to"); puts_(w, "[");
	unsigned shown = 0;
	for (unsigned i = 0; i < t->n_rcpt && i < BS_MAX_RCPT; i++) {
		if (t->rcpt[i].code < 200 || t->rcpt[i].code >= 300)
			continue;
		if (shown >= w->list_max)
			break;
		if (shown++)
			puts_(w, ",");
		put_str(w, t->rcpt[i].addr);
	}
	puts_(w, "],");
	key(w, "rcpt_rejected"); puts_(w, "[");
	shown = 0;
	for (unsigned i = 0; i < t->n_rcpt && i < BS_MAX_RCPT; i++) {
		if (t->rcpt[i].code >= 200 && t->rcpt[i].code < 300)
			continue;
		if (shown >= w->list_max)
			break;
		if (shown++)
			puts_(w, ",");
		puts_(w, "{\"address\":");
		put_str(w, t->rcpt[i].addr);
		puts_(w, ",\"code\":");
		if (t->rcpt[i].code)
			put_u64(w, t->rcpt[i].code);
		else
			puts_(w, "null"); /* no reply seen */
		puts_(w, "}");
	}
	puts_(w, "],");
	key(w, "tls"); puts_(w, t->tls ? "true" : "false");
	puts_(w, ",");
	key(w, "bdat"); puts_(w, t->bdat ? "true" : "false");
	puts_(w, ",");
	key(w, "pipelining"); puts_(w, t->pipelining ? "true" : "false");
	puts_(w, ",");
	key(w, "transaction"); put_u64(w, t->index);
	puts_(w, ",");
	key(w, "mail_code");
	if (t->mail_code) put_u64(w, t->mail_code); else puts_(w, "null");
	puts_(w, ",");
	key(w, "data_code");
	if (t->data_code) put_u64(w, t->data_code); else puts_(w, "null");
	puts_(w, ",");
	key(w, "null_sender"); puts_(w, t->has_mail_from && t->null_sender ? "true" : "false");
	puts_(w, "}");

	/* email */
	puts_(w, ",\"email\":{");
	key(w, "message_id"); put_str_or_null(w, t->message_id, t->message_id[0] != '\0' || (t->hdr_seen & BS_HDR_SEEN_MSGID));
	puts_(w, ",");
	key(w, "from"); put_str_or_null(w, t->from, t->from[0] != '\0' || (t->hdr_seen & BS_HDR_SEEN_FROM));
	puts_(w, ",");
	key(w, "to"); put_str_or_null(w, t->to, t->to[0] != '\0' || (t->hdr_seen & BS_HDR_SEEN_TO));
	puts_(w, ",");
	key(w, "subject"); put_str_or_null(w, t->subject, t->subject[0] != '\0' || (t->hdr_seen & BS_HDR_SEEN_SUBJECT));
	puts_(w, ",");
	key(w, "content_type"); put_str_or_null(w, t->content_type, t->content_type[0] != '\0' || (t->hdr_seen & BS_HDR_SEEN_CTYPE));
	puts_(w, ",");
	key(w, "size");
	if (t->data_started) put_u64(w, t->size); else puts_(w, "null");
	puts_(w, "}");

	/* anomalies; "truncated" also when this line had to be shortened */
	uint32_t anom = t->anomalies;
	if (w->str_max != (size_t)-1)
		anom |= BS_ANOM_TRUNCATED;
	puts_(w, ",\"anomalies\":[");
	shown = 0;
	for (unsigned b = 0; b < BS_ANOM_MAX_BIT; b++) {
		if (!(anom & (1u << b)))
			continue;
		if (shown++)
			puts_(w, ",");
		puts_(w, "\"");
		puts_(w, bs_anom_name[b]);
		puts_(w, "\"");
	}
	puts_(w, "]");

	/* verdict */
	const struct bs_verdict *v = &t->verdict;
	puts_(w, ",\"verdict\":{");
	key(w, "class"); put_str(w, v->cls < BS_CLASS_MAX ? bs_class_name[v->cls] : "unclassified");
	puts_(w, ",");
	key(w, "action"); put_str(w, v->action < BS_ACT_MAX ? bs_action_name[v->action] : "pass");
	puts_(w, ",");
	key(w, "reasons"); puts_(w, "[");
	for (unsigned i = 0; i < v->n_reasons && i < BS_MAX_REASONS && i < w->list_max; i++) {
		char r[BS_REASON_MAX + 1];
		memcpy(r, v->reasons[i], BS_REASON_MAX);
		r[BS_REASON_MAX] = '\0';
		if (i)
			puts_(w, ",");
		put_str(w, r);
	}
	puts_(w, "],");
	key(w, "offset");
	if (v->decided) put_u64(w, v->offset); else puts_(w, "null");
	puts_(w, "}}\n");
}

size_t bs_event_json(const struct bs_txn *t, char *buf, size_t cap)
{
	/* full form, then shortened strings and lists, then bare skeleton */
	static const struct { size_t str_max; unsigned list_max; } forms[] = {
		{ (size_t)-1, BS_MAX_RCPT + BS_MAX_REASONS }, { 64, 4 }, { 0, 0 },
	};
	if (cap == 0)
		return 0;
	for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
		struct w w = { buf, cap, 0, false, forms[f].str_max, forms[f].list_max };
		format(&w, t);
		if (!w.over) {
			buf[w.len] = '\0';
			return w.len;
		}
	}
	buf[0] = '\0';
	return 0;
}
