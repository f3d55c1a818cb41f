/* Event JSON: the exact line for a known record, string escaping of any
 * byte, null for absent fields, IPv4-mapped and IPv6 addresses, the
 * timestamp form, worst-case size, and safe truncation at every capacity
 * (always valid JSON, never past the buffer) checked by a strict JSON
 * validator, also over records full of random bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "event_json.h"
#include "rfc2047.h"

static int failures;
#define CHECK(c) do { if (!(c)) { failures++; fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { failures++; \
	fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); if (strcmp(_a, _b) != 0) { failures++; \
	fprintf(stderr, "%s:%d: %s is\n  %s\nexpected\n  %s\n", __FILE__, __LINE__, #a, _a, _b); } } while (0)

/* ---- a strict JSON (RFC 8259) validator ---- */
struct jp {
	const char *p, *end;
	int depth;
};

static bool j_value(struct jp *j);

static void j_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool j_lit(struct jp *j, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, s, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool j_string(struct jp *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		uint8_t c = (uint8_t)*j->p;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return false;
			char e = *j->p;
			if (e == 'u') {
				for (int i = 1; i <= 4; i++)
					if (j->p + i >= j->end || !strchr("0123456789abcdefABCDEF", j->p[i]) || !j->p[i])
						return false;
				j->p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || !e)
				return false;
			j->p++;
			continue;
		}
		if (c >= 0x80) {
			unsigned k = bs_utf8_seq_len((const uint8_t *)j->p, (size_t)(j->end - j->p));
			if (k == 0)
				return false;
			j->p += k;
			continue;
		}
		j->p++;
	}
	if (j->p >= j->end)
		return false;
	j->p++;
	return true;
}

static bool j_number(struct jp *j)
{
	const char *s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return false;
	if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
		return false; /* leading zero */
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static bool j_value(struct jp *j)
{
	if (++j->depth > 32)
		return false;
	j_ws(j);
	bool ok = false;
	if (j->p >= j->end) {
		ok = false;
	} else if (*j->p == '{') {
		j->p++;
		j_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			ok = true;
		} else {
			for (;;) {
				j_ws(j);
				if (!j_string(j))
					break;
				j_ws(j);
				if (j->p >= j->end || *j->p != ':')
					break;
				j->p++;
				if (!j_value(j))
					break;
				j_ws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if (j->p < j->end && *j->p == '}') {
					j->p++;
					ok = true;
				}
				break;
			}
		}
	} else if (*j->p == '[') {
		j->p++;
		j_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			ok = true;
		} else {
			for (;;) {
				if (!j_value(j))
					break;
				j_ws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if (j->p < j->end && *j->p == ']') {
					j->p++;
					ok = true;
				}
				break;
			}
		}
	} else if (*j->p == '"') {
		ok = j_string(j);
	} else if (*j->p == 't') {
		ok = j_lit(j, "true");
	} else if (*j->p == 'f') {
		ok = j_lit(j, "false");
	} else if (*j->p == 'n') {
		ok = j_lit(j, "null");
	} else {
		ok = j_number(j);
	}
	j->depth--;
	return ok;
}

/* one JSON object followed by exactly one '\n' */
static bool json_line_ok(const char *s, size_t n)
{
	if (n < 3 || s[n - 1] != '\n' || s[0] != '{' || memchr(s, '\n', n - 1))
		return false;
	struct jp j = { s, s + n - 1, 0 };
	if (!j_value(&j))
		return false;
	j_ws(&j);
	return j.p == j.end;
}

/* ---- records ---- */

static void v4(struct bs_endpoint *e, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	memset(e, 0, sizeof *e);
	e->ip_ver = 4;
	e->addr[10] = e->addr[11] = 0xff;
	e->addr[12] = a;
	e->addr[13] = b;
	e->addr[14] = c;
	e->addr[15] = d;
	e->port = port;
}

static void known_record(struct bs_txn *t)
{
	memset(t, 0, sizeof *t);
	t->flow_id = 1234567890123ull;
	t->ts_ns = 1700000000123456789ull;
	v4(&t->client, 192, 0, 2, 1, 40000);
	t->server.ip_ver = 6;
	t->server.addr[0] = 0x20;
	t->server.addr[1] = 0x01;
	t->server.addr[2] = 0x0d;
	t->server.addr[3] = 0xb8;
	t->server.addr[15] = 0x25;
	t->server.port = 25;
	t->direction = BS_DIR_INBOUND;
	t->index = 2;
	strcpy(t->helo, "mx2.example.net");
	t->has_mail_from = 1;
	t->null_sender = 1;
	t->pipelining = 1;
	t->mail_code = 250;
	t->data_code = 250;
	t->data_started = 1;
	t->n_rcpt = 3;
	strcpy(t->rcpt[0].addr, "alice@home.example");
	t->rcpt[0].code = 250;
	strcpy(t->rcpt[1].addr, "nobody@home.example");
	t->rcpt[1].code = 550;
	strcpy(t->rcpt[2].addr, "late@home.example");
	strcpy(t->message_id, "<20260101.ABC@mx2.example.net>");
	strcpy(t->from, "Mail Delivery System <MAILER-DAEMON@mx2.example.net>");
	strcpy(t->to, "alice@home.example");
	strcpy(t->subject, "Undeliverable: \"caf\xc3\xa9\"\t\\ \x01\x7f \xe9t\xe9 \xe2\x82");
	strcpy(t->content_type, "multipart/report; report-type=delivery-status; boundary=\"b\"");
	t->size = 4321;
	t->anomalies = BS_ANOM_GAP | BS_ANOM_MIDSTREAM;
	t->verdict.cls = BS_CLASS_BACKSCATTER;
	t->verdict.action = BS_ACT_DROP_SESSION;
	t->verdict.decided = 1;
	t->verdict.offset = 812;
	bs_txn_add_reason(t, "null-sender");
	bs_txn_add_reason(t, "ledger-miss");
	bs_txn_add_reason(t, "null-sender"); /* once only */
}

static const char *KNOWN_JSON =
	"{\"timestamp\":\"2023-11-14T22:13:20.123456+0000\",\"flow_id\":1234567890123,"
	"\"event_type\":\"smtp\",\"src_ip\":\"192.0.2.1\",\"src_port\":40000,"
	"\"dest_ip\":\"2001:db8::25\",\"dest_port\":25,\"proto\":\"TCP\",\"direction\":\"inbound\","
	"\"smtp\":{\"helo\":\"mx2.example.net\",\"mail_from\":\"\",\"rcpt_to\":[\"alice@home.example\"],"
	"\"rcpt_rejected\":[{\"address\":\"nobody@home.example\",\"code\":550},"
	"{\"address\":\"late@home.example\",\"code\":null}],"
	"\"tls\":false,\"bdat\":false,\"pipelining\":true,\"transaction\":2,\"mail_code\":250,"
	"\"data_code\":250,\"null_sender\":true},"
	"\"email\":{\"message_id\":\"<20260101.ABC@mx2.example.net>\","
	"\"from\":\"Mail Delivery System <MAILER-DAEMON@mx2.example.net>\",\"to\":\"alice@home.example\","
	"\"subject\":\"Undeliverable: \\\"caf\xc3\xa9\\\"\\t\\\\ \\u0001\\u007f \\u00e9t\\u00e9 \\u00e2\\u0082\","
	"\"content_type\":\"multipart/report; report-type=delivery-status; boundary=\\\"b\\\"\",\"size\":4321},"
	"\"anomalies\":[\"gap\",\"midstream\"],"
	"\"verdict\":{\"class\":\"backscatter\",\"action\":\"drop-session\","
	"\"reasons\":[\"null-sender\",\"ledger-miss\"],\"offset\":812}}\n";

static char buf[BS_EVENT_JSON_MAX];

static void test_known(void)
{
	struct bs_txn t;
	known_record(&t);
	size_t n = bs_event_json(&t, buf, sizeof buf);
	CHECK_STR(buf, KNOWN_JSON);
	CHECK_EQ(n, strlen(KNOWN_JSON));
	CHECK(json_line_ok(buf, n));

	/* the same record with nothing known: nulls, empty lists, defaults */
	struct bs_txn e;
	memset(&e, 0, sizeof e);
	v4(&e.client, 10, 0, 0, 1, 1025);
	v4(&e.server, 10, 0, 0, 2, 25);
	e.tls = 1;
	n = bs_event_json(&e, buf, sizeof buf);
	CHECK_STR(buf,
		  "{\"timestamp\":\"1970-01-01T00:00:00.000000+0000\",\"flow_id\":0,\"event_type\":\"smtp\","
		  "\"src_ip\":\"10.0.0.1\",\"src_port\":1025,\"dest_ip\":\"10.0.0.2\",\"dest_port\":25,"
		  "\"proto\":\"TCP\",\"direction\":\"external\",\"smtp\":{\"helo\":null,\"mail_from\":null,"
		  "\"rcpt_to\":[],\"rcpt_rejected\":[],\"tls\":true,\"bdat\":false,\"pipelining\":false,"
		  "\"transaction\":0,\"mail_code\":null,\"data_code\":null,\"null_sender\":false},"
		  "\"email\":{\"message_id\":null,\"from\":null,\"to\":null,\"subject\":null,"
		  "\"content_type\":null,\"size\":null},\"anomalies\":[],"
		  "\"verdict\":{\"class\":\"unclassified\",\"action\":\"pass\",\"reasons\":[],\"offset\":null}}\n");
	CHECK(json_line_ok(buf, n));

	/* a header field that is present but empty is "", not null */
	e.hdr_seen = BS_HDR_SEEN_SUBJECT | BS_HDR_SEEN_MSGID;
	bs_event_json(&e, buf, sizeof buf);
	CHECK(strstr(buf, "\"message_id\":\"\",\"from\":null,\"to\":null,\"subject\":\"\",") != NULL);
}

static void test_helpers(void)
{
	char ts[64];
	CHECK_EQ(bs_event_timestamp(0, ts, sizeof ts), 31);
	CHECK_STR(ts, "1970-01-01T00:00:00.000000+0000");
	bs_event_timestamp(1767225599999999999ull, ts, sizeof ts);
	CHECK_STR(ts, "2025-12-31T23:59:59.999999+0000");
	CHECK_EQ(bs_event_timestamp(0, ts, 10), 0);
	CHECK_STR(ts, "");

	struct bs_endpoint e;
	char ip[64];
	v4(&e, 203, 0, 113, 9, 1);
	e.ip_ver = 6; /* still an IPv4-mapped address: printed dotted */
	bs_event_ip(&e, ip, sizeof ip);
	CHECK_STR(ip, "203.0.113.9");
	memset(&e, 0, sizeof e);
	e.ip_ver = 6;
	e.addr[15] = 1;
	bs_event_ip(&e, ip, sizeof ip);
	CHECK_STR(ip, "::1");

	/* every byte value alone in a string */
	for (int c = 0; c < 256; c++) {
		char in[1] = { (char)c };
		char out[16];
		size_t len = 0;
		CHECK(bs_json_string(out, sizeof out, &len, in, 1));
		out[len] = '\0';
		struct jp j = { out, out + len, 0 };
		CHECK(j_string(&j) && j.p == out + len);
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			CHECK_EQ(len, 3);
	}
	/* does not fit: refused, length untouched */
	size_t len = 0;
	char small[5];
	CHECK(!bs_json_string(small, sizeof small, &len, "abcdef", 6));
	CHECK_EQ(len, 0);
}

static uint64_t rng = 88172645463325252ull;
static uint8_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)rng;
}

static void fill(char *dst, size_t cap, uint8_t fixed)
{
	size_t n = cap - 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = fixed ? fixed : rnd();
		dst[i] = (char)(c ? c : 1);
	}
	dst[n] = '\0';
}

/* every string field full, with byte `fixed` (0: random bytes) */
static void full_record(struct bs_txn *t, uint8_t fixed)
{
	known_record(t);
	fill(t->helo, sizeof t->helo, fixed);
	fill(t->mail_from, sizeof t->mail_from, fixed);
	t->n_rcpt = BS_MAX_RCPT;
	for (int i = 0; i < BS_MAX_RCPT; i++) {
		fill(t->rcpt[i].addr, sizeof t->rcpt[i].addr, fixed);
		t->rcpt[i].code = i % 2 ? 250 : 550;
	}
	fill(t->message_id, sizeof t->message_id, fixed);
	fill(t->from, sizeof t->from, fixed);
	fill(t->to, sizeof t->to, fixed);
	fill(t->subject, sizeof t->subject, fixed);
	fill(t->content_type, sizeof t->content_type, fixed);
	t->verdict.n_reasons = BS_MAX_REASONS;
	for (int i = 0; i < BS_MAX_REASONS; i++)
		memset(t->verdict.reasons[i], fixed ? fixed : 'r', BS_REASON_MAX); /* not terminated */
	t->anomalies = (1u << BS_ANOM_MAX_BIT) - 1;
	t->flow_id = UINT64_MAX;
	t->index = UINT32_MAX;
	t->size = UINT64_MAX;
	t->verdict.offset = UINT64_MAX;
}

static void test_worst_case_and_truncation(void)
{
	static struct bs_txn t;
	full_record(&t, 0x01);
	t.anomalies &= ~BS_ANOM_TRUNCATED;
	size_t n = bs_event_json(&t, buf, sizeof buf);
	CHECK(n > 60000);
	CHECK(n < BS_EVENT_JSON_MAX);
	CHECK(json_line_ok(buf, n));
	CHECK(strstr(buf, "\"truncated\"") == NULL); /* the full form fit */
	printf("worst-case event: %zu bytes (limit %d)\n", n, BS_EVENT_JSON_MAX);

	/* every capacity: valid JSON or nothing, never past the buffer */
	static char out[BS_EVENT_JSON_MAX + 16];
	size_t full = n;
	size_t first_fit = 0;
	for (size_t cap = 0; cap <= full + 1; cap += (cap < 4096 ? 1 : 97)) {
		memset(out, 'Z', cap + 16);
		size_t k = bs_event_json(&t, out, cap);
		CHECK(k < cap || (cap == 0 && k == 0));
		for (size_t i = cap; i < cap + 16; i++)
			if (out[i] != 'Z') {
				failures++;
				fprintf(stderr, "cap %zu: write past the buffer\n", cap);
				break;
			}
		if (k) {
			CHECK(json_line_ok(out, k));
			CHECK_EQ(out[k], '\0');
			if (!first_fit)
				first_fit = cap;
			if (k != full)
				CHECK(strstr(out, "\"truncated\"") != NULL);
		} else if (cap) {
			CHECK_EQ(out[0], '\0');
		}
		if (failures > 10)
			return;
	}
	CHECK(first_fit > 0 && first_fit < 1500);
	printf("smallest buffer that holds a (shortened) event: %zu bytes\n", first_fit);

	/* random bytes in every field: always valid JSON */
	for (int r = 0; r < 300; r++) {
		full_record(&t, 0);
		size_t cap = r % 3 == 0 ? sizeof buf : 600 + (size_t)rnd() * 40;
		size_t k = bs_event_json(&t, buf, cap);
		if (k)
			CHECK(json_line_ok(buf, k));
		else
			CHECK(cap < 4096);
		if (failures > 10)
			return;
	}
}

int main(void)
{
	test_known();
	test_helpers();
	test_worst_case_and_truncation();
	if (failures) {
		fprintf(stderr, "test_event_json: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_event_json: all checks passed\n");
	return 0;
}
