/* Fuzz target over the stages together, in one process: SMTP session parser
 * -> detection hook (Hyperscan streaming scan, message parser, classifier,
 * ledger) -> event formatter. The single-stage fuzzers (fuzz_pkt_parse,
 * fuzz_reasm, test_smtp_fuzz, test_msgparse_fuzz) cannot see a bug that
 * needs one stage's output shape (a record the SMTP parser half filled, a
 * message cut by a gap mid-MIME part) to reach another.
 *
 * One input = 8 bytes of mutation seed + a mail message. The seed drives
 * how the message is damaged (truncation, chunk duplication, an inserted
 * "\r\n.\r\n", giant lines, NULs, deep MIME nesting, bogus boundaries, huge
 * header folding), how it is framed in an SMTP session (DATA or BDAT with
 * right or wrong sizes, PIPELINING, garbage commands, several
 * transactions), how the byte stream is damaged (flips) and how it is fed
 * (random chunk sizes, directions interleaved, gaps via bs_smtp_gap).
 *
 * Checked for every input: each finished transaction formats with
 * bs_event_json into a full buffer and a small one, both strict JSON (own
 * validator below, independent of the formatter's UTF-8 code); every record
 * handed out by txn_alloc comes back through txn_end exactly once; no
 * detection pool slot stays in use once the session is over. The plain
 * driver (main, without -DBS_LIBFUZZER) also checks that RSS does not grow
 * between 10% and 100% of the run.
 *
 *   fuzz_session_driver RULES CORPUS_DIR [-n ITER] [-s SEED] [FILE...]
 * CORPUS_DIR may be absent (built-in synthetic bounces are used then);
 * FILEs are replayed inputs (crash files of the libFuzzer build). The
 * libFuzzer build finds the rules through $BS_FUZZ_RULES or the path
 * compiled in (BS_FUZZ_RULES_DEFAULT). */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect/detect.h"
#include "event_json.h"
#include "smtp.h"
#include "smtp_priv.h"
#include "txn.h"

/* ---------------- strict JSON validator (RFC 8259) ---------------- */

struct jv {
	const uint8_t *p, *end;
	int depth;
};

static bool jv_value(struct jv *j);

static void jv_ws(struct jv *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* one UTF-8 sequence at j->p (RFC 3629: no overlongs, no surrogates) */
static bool jv_utf8(struct jv *j)
{
	const uint8_t *p = j->p;
	size_t left = (size_t)(j->end - p);
	unsigned n;
	uint32_t cp;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return false;
	}
	if (left < n)
		return false;
	for (unsigned i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	j->p += n;
	return true;
}

static bool jv_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool jv_string(struct jv *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		uint8_t c = *j->p;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->p >= j->end)
				return false;
			if (*j->p == 'u') {
				if (j->end - j->p < 5)
					return false;
				for (int i = 1; i <= 4; i++)
					if (!jv_hex(j->p[i]))
						return false;
				j->p += 5;
			} else if (strchr("\"\\/bfnrt", *j->p) && *j->p) {
				j->p++;
			} else {
				return false;
			}
		} else if (c >= 0x80) {
			if (!jv_utf8(j))
				return false;
		} else {
			j->p++;
		}
	}
	if (j->p >= j->end)
		return false;
	j->p++;
	return true;
}

static bool jv_digits(struct jv *j)
{
	const uint8_t *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static bool jv_number(struct jv *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!jv_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!jv_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!jv_digits(j))
			return false;
	}
	return true;
}

static bool jv_lit(struct jv *j, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, s, n))
		return false;
	j->p += n;
	return true;
}

/* "[" or "{" already consumed; close is ']' or '}' */
static bool jv_members(struct jv *j, uint8_t close)
{
	jv_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		jv_ws(j);
		if (close == '}') {
			if (!jv_string(j))
				return false;
			jv_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return false;
			j->p++;
		}
		if (!jv_value(j))
			return false;
		jv_ws(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p != close)
			return false;
		j->p++;
		return true;
	}
}

static bool jv_value(struct jv *j)
{
	if (++j->depth > 32)
		return false;
	jv_ws(j);
	bool ok;
	if (j->p >= j->end)
		ok = false;
	else if (*j->p == '{' || *j->p == '[') {
		uint8_t close = *j->p == '{' ? '}' : ']';
		j->p++;
		ok = jv_members(j, close);
	} else if (*j->p == '"')
		ok = jv_string(j);
	else if (*j->p == 't')
		ok = jv_lit(j, "true");
	else if (*j->p == 'f')
		ok = jv_lit(j, "false");
	else if (*j->p == 'n')
		ok = jv_lit(j, "null");
	else
		ok = jv_number(j);
	j->depth--;
	return ok;
}

/* exactly one JSON object and one '\n', nothing else */
static bool json_line_ok(const char *s, size_t n)
{
	if (n < 3 || s[n - 1] != '\n' || s[0] != '{' || memchr(s, '\n', n - 1))
		return false;
	struct jv j = { (const uint8_t *)s, (const uint8_t *)s + n - 1, 0 };
	if (!jv_value(&j))
		return false;
	jv_ws(&j);
	return j.p == j.end;
}

/* ---------------- the pipeline under test ---------------- */

/* A session holds at most SLOTS records (transactions pipelined ahead of
 * their replies); asking for more means one was not given back. */
#define POOL SLOTS
#define SMALL_EVENT 700

static struct bs_detect *det;
static struct bs_detect_worker *dw;
static struct bs_smtp_session *sess;
static struct bs_smtp_stats sst;
static struct bs_txn pool[POOL];
static bool pool_out[POOL];      /* handed out and not yet back */
static unsigned pool_outstanding, pool_max;
static bool fail_alloc;          /* this session: the pool is "empty" */
static uint64_t n_txn_alloc, n_txn_end, n_events, n_small_cut, n_verdicts;
static uint64_t fz_rng;          /* per-input mutation generator */
static uint64_t fz_now;

static uint64_t rnd(void)
{
	/* xorshift64* */
	fz_rng ^= fz_rng >> 12;
	fz_rng ^= fz_rng << 25;
	fz_rng ^= fz_rng >> 27;
	return fz_rng * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned pct)
{
	return below(100) < pct;
}

static void on_verdict(void *ctx, const struct bs_txn *t)
{
	(void)ctx;
	FUZZ_ASSERT(t->verdict.cls < BS_CLASS_MAX && t->verdict.action < BS_ACT_MAX, "verdict %u/%u",
		    t->verdict.cls, t->verdict.action);
	n_verdicts++;
}

static struct bs_txn *h_alloc(void *ctx)
{
	(void)ctx;
	if (fail_alloc)
		return NULL;
	for (int i = 0; i < POOL; i++) {
		if (pool_out[i])
			continue;
		struct bs_txn *t = &pool[i];
		memset(t, 0, sizeof *t);
		pool_out[i] = true;
		pool_outstanding++;
		if (pool_outstanding > pool_max)
			pool_max = pool_outstanding;
		n_txn_alloc++;
		t->flow_id = n_txn_alloc;
		t->ts_ns = fz_now;
		t->direction = (uint8_t)(n_txn_alloc % 3 == 0 ? BS_DIR_OUTBOUND : BS_DIR_INBOUND);
		t->client.ip_ver = t->server.ip_ver = 4;
		memcpy(t->client.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc6\x33\x64\x07", 16);
		memcpy(t->server.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x19", 16);
		t->client.port = 40000;
		t->server.port = 25;
		if (t->direction == BS_DIR_OUTBOUND) {
			struct bs_endpoint e = t->client;
			t->client = t->server;
			t->server = e;
		}
		return t;
	}
	FUZZ_ASSERT(0, "transaction pool of %d exhausted: records not given back", POOL);
	return NULL;
}

static void h_data_begin(void *ctx, struct bs_txn *t)
{
	(void)ctx;
	bs_detect_txn_begin(dw, t);
}

static int h_msg_data(void *ctx, struct bs_txn *t, enum bs_msg_part part, uint64_t off, const uint8_t *p,
		      uint32_t n)
{
	(void)ctx;
	return bs_detect_msg_data(dw, t, part, off, p, n);
}

static void h_data_end(void *ctx, struct bs_txn *t)
{
	(void)ctx;
	bs_detect_txn_data_end(dw, t);
}

static char ev_full[BS_EVENT_JSON_MAX];
static uint64_t n_class[BS_CLASS_MAX], n_complete;

static void h_txn_end(void *ctx, struct bs_txn *t)
{
	(void)ctx;
	ptrdiff_t i = t - pool;
	FUZZ_ASSERT(i >= 0 && i < POOL && &pool[i] == t, "txn_end with a record not from the pool");
	FUZZ_ASSERT(pool_out[i], "record %td given back twice", i);
	t->ts_end_ns = fz_now;
	bs_detect_txn_end(dw, t);

	size_t n = bs_event_json(t, ev_full, sizeof ev_full);
	FUZZ_ASSERT(n > 0 && n < sizeof ev_full && strlen(ev_full) == n, "full event length %zu", n);
	FUZZ_ASSERT(json_line_ok(ev_full, n), "invalid JSON event:\n%s", ev_full);
	FUZZ_ASSERT(!strstr(ev_full, "\"truncated\"") || (t->anomalies & BS_ANOM_TRUNCATED),
		    "full-size event was cut:\n%s", ev_full);
	/* guard bytes catch a write past cap */
	char small[SMALL_EVENT + 16];
	memset(small, 0x5a, sizeof small);
	size_t m = bs_event_json(t, small, SMALL_EVENT);
	for (size_t k = SMALL_EVENT; k < sizeof small; k++)
		FUZZ_ASSERT((uint8_t)small[k] == 0x5a, "bs_event_json wrote past cap %d", SMALL_EVENT);
	FUZZ_ASSERT(m < SMALL_EVENT && strlen(small) == m, "small event length %zu", m);
	if (m == 0)
		FUZZ_ASSERT(small[0] == '\0', "empty small event not \"\"");
	else
		FUZZ_ASSERT(json_line_ok(small, m), "invalid JSON in a %d-byte buffer:\n%s", SMALL_EVENT, small);
	if (m != n)
		n_small_cut++;
	n_events++;
	n_class[t->verdict.cls]++;
	n_complete += t->data_complete;

	pool_out[i] = false;
	pool_outstanding--;
	n_txn_end++;
}

static const struct bs_smtp_hooks hooks = {
	.txn_alloc = h_alloc, .txn_data_begin = h_data_begin, .msg_data = h_msg_data,
	.txn_end = h_txn_end, .txn_data_end = h_data_end,
};

static uint64_t slots_in_use;
static void stat_line(void *ctx, const char *name, uint64_t v)
{
	(void)ctx;
	if (!strcmp(name, "detect.slots_in_use"))
		slots_in_use = v;
}

static const char *rules_path;

static void setup(void)
{
	if (det)
		return;
	struct bs_detect_config cfg;
	bs_detect_config_defaults(&cfg);
	cfg.rules_path = rules_path;
	cfg.home_domains[cfg.n_home_domains++] = "home.example";
	cfg.home_nets[cfg.n_home_nets++] = "192.0.2.0/24";
	cfg.home_relays[cfg.n_home_relays++] = "192.0.2.10";
	cfg.batv_keys[cfg.n_batv_keys++] = "home.example:k3y";
	cfg.ledger_capacity = 1 << 12; /* small: eviction is exercised too */
	char err[512];
	det = bs_detect_create(&cfg, err, sizeof err);
	FUZZ_ASSERT(det != NULL, "bs_detect_create: %s", err);
	/* fewer slots than a session can pipeline: running out is exercised */
	dw = bs_detect_worker_create(det, 4, on_verdict, NULL);
	FUZZ_ASSERT(dw != NULL, "bs_detect_worker_create failed");
	sess = aligned_alloc(64, (bs_smtp_session_size() + 63) & ~(size_t)63);
	FUZZ_ASSERT(sess != NULL, "out of memory");
	fz_now = 1800000000ull * 1000000000ull;
}

/* ---------------- building the hostile message ---------------- */

#define MSG_CAP (512 * 1024)
#define STREAM_CAP (2 * 1024 * 1024)
#define MAX_SEGS 4096

static uint8_t msg[MSG_CAP];
static size_t msg_len;
static uint8_t tmp[MSG_CAP];

static void msg_insert(size_t at, const void *p, size_t n)
{
	if (at > msg_len)
		at = msg_len;
	if (msg_len + n > MSG_CAP)
		n = MSG_CAP - msg_len;
	memmove(msg + at + n, msg + at, msg_len - at);
	memcpy(msg + at, p, n);
	msg_len += n;
}

static size_t msg_header_end(void)
{
	for (size_t i = 0; i + 1 < msg_len; i++)
		if (msg[i] == '\n' && (msg[i + 1] == '\n' || (msg[i + 1] == '\r' && i + 2 < msg_len && msg[i + 2] == '\n')))
			return i + 1;
	return msg_len;
}

static void mut_message(void)
{
	unsigned rounds = (unsigned)below(5);
	for (unsigned r = 0; r < rounds; r++) {
		size_t at = below(msg_len + 1);
		switch (below(11)) {
		case 0: /* truncation */
			msg_len = at;
			break;
		case 1: { /* duplicate a chunk */
			size_t n = below(msg_len - at + 1);
			if (n > 65536)
				n = 65536;
			memcpy(tmp, msg + at, n);
			msg_insert(below(msg_len + 1), tmp, n);
			break;
		}
		case 2: /* a bare end-of-data marker inside the message */
			if (chance(50))
				msg_insert(at, "\r\n.\r\n", 5);
			else
				msg_insert(at, "\n.\n", 3);
			break;
		case 3: { /* giant line */
			size_t n = 1000 + below(chance(20) ? 200000 : 9000);
			uint8_t c = (uint8_t)(chance(50) ? 'A' + below(26) : rnd());
			memset(tmp, c, n);
			msg_insert(at, tmp, n);
			break;
		}
		case 4: { /* NULs */
			size_t n = 1 + below(64);
			memset(tmp, 0, n);
			msg_insert(at, tmp, n);
			break;
		}
		case 5: { /* deep MIME nesting in front of the body */
			unsigned depth = 1 + (unsigned)below(200);
			size_t n = 0;
			n += (size_t)snprintf((char *)tmp + n, MSG_CAP - n, "MIME-Version: 1.0\r\n");
			for (unsigned d = 0; d < depth && n + 200 < MSG_CAP; d++)
				n += (size_t)snprintf((char *)tmp + n, MSG_CAP - n,
						      "Content-Type: multipart/%s; boundary=\"b%u\"\r\n\r\n--b%u\r\n",
						      d % 3 ? "mixed" : "report", d, d);
			msg_insert(chance(50) ? 0 : msg_header_end(), tmp, n);
			break;
		}
		case 6: { /* bogus boundaries */
			static const char *const bb[] = {
				"\r\n--\r\n", "\r\n--B--\r\n", "\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n",
				"Content-Type: multipart/mixed; boundary=\"\"\r\n",
				"Content-Type: multipart/report; boundary=\r\n",
				"Content-Type: multipart/mixed; boundary=\"unterminated\r\n",
				"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n",
				("Content-Type: multipart/alternative; boundary=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\r\n"),
				"\r\n--B\r\nContent-Transfer-Encoding: base64\r\n\r\n====\r\n",
				"\r\n--B\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=ZZ=0\r\n",
			};
			const char *s = bb[below(sizeof bb / sizeof bb[0])];
			msg_insert(at, s, strlen(s));
			break;
		}
		case 7: { /* huge header folding */
			size_t n = (size_t)snprintf((char *)tmp, MSG_CAP, "%s:", chance(50) ? "Subject" : "X-Fold");
			size_t folds = 1 + below(chance(20) ? 20000 : 500);
			for (size_t f = 0; f < folds && n + 16 < MSG_CAP / 2; f++)
				n += (size_t)snprintf((char *)tmp + n, MSG_CAP - n, "\r\n%s=?utf-8?B?w6k=?=",
						      f % 2 ? " " : "\t");
			tmp[n++] = '\r';
			tmp[n++] = '\n';
			msg_insert(chance(70) ? 0 : at, tmp, n);
			break;
		}
		case 8: /* byte flips */
			for (unsigned k = 0, nk = 1 + (unsigned)below(16); k < nk && msg_len; k++)
				msg[below(msg_len)] ^= (uint8_t)(1u << below(8));
			break;
		case 9: { /* random bytes */
			size_t n = below(256);
			for (size_t k = 0; k < n; k++)
				tmp[k] = (uint8_t)rnd();
			msg_insert(at, tmp, n);
			break;
		}
		default: { /* bare CR / LF soup and over-long header names */
			static const char *const s[] = { "\r\r\r\n", "\n\n", "\r", ":\r\n", " \r\n", "From:\r\n\r\n",
				"Content-Type: message/rfc822\r\n\r\n", "Received: from [\r\n" };
			const char *x = s[below(sizeof s / sizeof s[0])];
			msg_insert(at, x, strlen(x));
			break;
		}
		}
	}
}

/* ---------------- the session stream ---------------- */

struct seg {
	uint32_t off, len;
	bool client;
};

static uint8_t stream[STREAM_CAP];
static size_t stream_len;
static struct seg segs[MAX_SEGS];
static unsigned n_segs;

/* hold_replies: the server's bytes wait in `held` and follow all of the
 * client's (a pipelining client far ahead of a slow server, or replies
 * stuck behind a capture hole): every transaction is open at once. */
static bool hold_replies;
static uint8_t held[64 * 1024];
static size_t held_len;

static void put(bool client, const void *p, size_t n)
{
	if (hold_replies && !client) {
		if (n > sizeof held - held_len)
			n = sizeof held - held_len;
		memcpy(held + held_len, p, n);
		held_len += n;
		return;
	}
	if (stream_len + n > STREAM_CAP)
		n = STREAM_CAP - stream_len;
	if (!n || n_segs == MAX_SEGS)
		return;
	memcpy(stream + stream_len, p, n);
	/* consecutive writes of one direction become one segment */
	if (n_segs && segs[n_segs - 1].client == client &&
	    segs[n_segs - 1].off + segs[n_segs - 1].len == stream_len)
		segs[n_segs - 1].len += (uint32_t)n;
	else
		segs[n_segs++] = (struct seg){ (uint32_t)stream_len, (uint32_t)n, client };
	stream_len += n;
}

static void putf(bool client, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(bool client, const char *fmt, ...)
{
	char b[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof b, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(client, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

static const char *const senders[] = { "", "", "u1@home.example", "prvs=1234abcd=u2@home.example",
				       "SRS0=abcd=XY=else.example=v@home.example", "x@remote.example",
				       "a@b", "<>", "@@@" };
static const char *const rcpts[] = { "u1@home.example", "u2@home.example", "postmaster@home.example",
				     "p@remote.example", "", "x" };

/* message with dot-stuffing (unless `raw`) and the end-of-data marker */
static void put_data(bool raw)
{
	size_t i = 0;
	bool bol = true;
	while (i < msg_len) {
		const uint8_t *nl = memchr(msg + i, '\n', msg_len - i);
		size_t end = nl ? (size_t)(nl - msg) + 1 : msg_len;
		if (bol && msg[i] == '.' && !raw)
			put(true, ".", 1);
		put(true, msg + i, end - i);
		bol = nl != NULL;
		i = end;
	}
	if (msg_len && msg[msg_len - 1] != '\n')
		put(true, "\r\n", 2);
	put(true, ".\r\n", 3);
}

static void put_bdat(void)
{
	size_t i = 0;
	bool wrong_done = false;
	do {
		size_t n = below(msg_len - i + 1);
		if (chance(30))
			n = msg_len - i;
		bool last = i + n == msg_len;
		size_t said = n;
		if (!wrong_done && chance(15)) { /* the size given is not what follows */
			said = chance(50) ? n + 1 + below(5000) : below(n + 1);
			wrong_done = true;
		}
		if (chance(3))
			putf(true, "BDAT %s%s\r\n", chance(50) ? "-1" : "99999999999999999999999", last ? " LAST" : "");
		else
			putf(true, "BDAT %zu%s\r\n", said, last ? " LAST" : "");
		put(true, msg + i, n);
		putf(false, "250 2.0.0 %zu octets\r\n", n);
		i += n;
		if (last)
			break;
	} while (i < msg_len);
	if (!msg_len)
		putf(true, "BDAT 0 LAST\r\n");
}

static void build_session(void)
{
	stream_len = 0;
	n_segs = 0;
	bool pipelining = chance(50);
	bool midstream_cut = chance(5);
	hold_replies = false;
	held_len = 0;
	if (!midstream_cut) {
		putf(false, "220 mx.home.example ESMTP\r\n");
		putf(true, "%s client.remote.example\r\n", chance(90) ? "EHLO" : "HELO");
		putf(false, "250-mx.home.example\r\n%s250-CHUNKING\r\n250-SIZE 10240000\r\n250-DSN\r\n250 8BITMIME\r\n",
		     pipelining ? "250-PIPELINING\r\n" : "");
	}
	hold_replies = pipelining && chance(10);
	unsigned ntx = 1 + (unsigned)below(hold_replies || chance(3) ? 12 : 3);
	for (unsigned x = 0; x < ntx; x++) {
		const char *from = senders[below(sizeof senders / sizeof senders[0])];
		unsigned nr = 1 + (unsigned)below(chance(5) ? 40 : 3);
		bool bdat = chance(25);
		if (pipelining && chance(60)) {
			/* all commands in one write, then all replies */
			putf(true, "MAIL FROM:<%s>%s\r\n", from, chance(30) ? " SIZE=123 BODY=8BITMIME RET=HDRS ENVID=x" : "");
			for (unsigned r = 0; r < nr; r++)
				putf(true, "RCPT TO:<%s>\r\n", rcpts[below(sizeof rcpts / sizeof rcpts[0])]);
			if (chance(20))
				putf(true, "XGARBAGE %016llx\r\n\x01\x02\r\n", (unsigned long long)rnd());
			if (!bdat)
				putf(true, "DATA\r\n");
			putf(false, "250 2.1.0 Ok\r\n");
			for (unsigned r = 0; r < nr; r++)
				putf(false, "%s\r\n", chance(80) ? "250 2.1.5 Ok" : "550 5.1.1 unknown");
			if (!bdat)
				putf(false, "354 go ahead\r\n");
		} else {
			putf(true, "MAIL FROM:<%s>\r\n", from);
			putf(false, "250 2.1.0 Ok\r\n");
			for (unsigned r = 0; r < nr; r++) {
				putf(true, "RCPT TO:<%s>\r\n", rcpts[below(sizeof rcpts / sizeof rcpts[0])]);
				putf(false, "%s\r\n", chance(80) ? "250 2.1.5 Ok" : "550 5.1.1 unknown");
			}
			if (!bdat) {
				putf(true, "DATA\r\n");
				putf(false, "%s\r\n", chance(95) ? "354 go ahead" : "554 no valid recipients");
			}
		}
		if (bdat)
			put_bdat();
		else {
			put_data(chance(5));
			putf(false, "%s\r\n", chance(80) ? "250 2.0.0 queued as ABC" : "550 5.7.1 rejected");
		}
		if (chance(10)) {
			putf(true, "RSET\r\n");
			putf(false, "250 ok\r\n");
		}
	}
	if (chance(70)) {
		putf(true, "QUIT\r\n");
		putf(false, "221 bye\r\n");
	}
	if (hold_replies) {
		hold_replies = false;
		put(false, held, held_len);
	}
	if (chance(10)) { /* pipelined garbage after everything */
		for (unsigned k = 0, nk = (unsigned)below(600); k < nk; k++) {
			uint8_t c = (uint8_t)rnd();
			put(chance(50), &c, 1);
		}
	}
	/* byte flips over the whole stream (commands and replies too) */
	if (chance(30))
		for (unsigned k = 0, nk = 1 + (unsigned)below(8); k < nk && stream_len; k++)
			stream[below(stream_len)] ^= (uint8_t)(1u << below(8));
}

static void feed_session(void)
{
	bs_smtp_session_init(sess, &hooks, NULL, &sst, chance(5));
	/* segments go in order, except that a server segment may be held back
	 * behind the next client one (replies arriving late) */
	for (unsigned i = 0; i < n_segs; i++) {
		unsigned order[2] = { i, i };
		unsigned cnt = 1;
		if (i + 1 < n_segs && !segs[i].client && segs[i + 1].client && chance(10)) {
			order[0] = i + 1;
			order[1] = i;
			cnt = 2;
			i++;
		}
		for (unsigned o = 0; o < cnt; o++) {
			const struct seg *s = &segs[order[o]];
			uint32_t at = 0;
			while (at < s->len) {
				uint32_t n = (uint32_t)(1 + below(chance(70) ? 64 : 4096));
				if (n > s->len - at)
					n = s->len - at;
				fz_now += 1000 + below(1000000);
				if (chance(1))
					bs_smtp_gap(sess, s->client, n);
				else
					bs_smtp_data(sess, s->client, stream + s->off + at, n, fz_now);
				if (chance(1))
					bs_smtp_flag(sess, BS_ANOM_OVERLAP_MISMATCH);
				at += n;
			}
		}
	}
	bs_smtp_session_end(sess, chance(20) ? BS_ANOM_TIMEOUT : 0, fz_now);
}


/* ---------------- the entry point ---------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t hdr = size < 8 ? size : 8;
	for (size_t i = 0; i < hdr; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	fz_rng = seed | 1;
	msg_len = size - hdr < MSG_CAP ? size - hdr : MSG_CAP;
	memcpy(msg, data + hdr, msg_len);
	mut_message();
	build_session();

	fail_alloc = chance(3);
	uint64_t alloc0 = n_txn_alloc;
	feed_session();
	FUZZ_ASSERT(pool_outstanding == 0, "%u transaction records not given back at session end", pool_outstanding);
	FUZZ_ASSERT(n_txn_alloc == n_txn_end, "records out %llu, back %llu", (unsigned long long)n_txn_alloc,
		    (unsigned long long)n_txn_end);
	FUZZ_ASSERT(!fail_alloc || n_txn_alloc == alloc0, "allocation happened while the pool was empty");
	bs_detect_print_stats(det, stat_line, NULL);
	FUZZ_ASSERT(slots_in_use == 0, "%llu detection slots still in use after the session",
		    (unsigned long long)slots_in_use);
	return 0;
}

#ifndef BS_LIBFUZZER
/* ---------------- plain driver ---------------- */

/* seeds when ../shared/corpus is absent */
static const char *const synthetic[] = {
	"Return-Path: <>\r\nReceived: from mx.remote.example ([198.51.100.7]) by mx.home.example\r\n"
	"From: Mail Delivery System <MAILER-DAEMON@mx.remote.example>\r\nTo: u1@home.example\r\n"
	"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.remote.example>\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
	"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
	"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.remote.example\r\n\r\n"
	"Final-Recipient: rfc822; p@remote.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
	"--B\r\nContent-Type: message/rfc822\r\n\r\n"
	"Received: from relay.home.example ([192.0.2.10]) by mx.remote.example\r\n"
	"Message-ID: <m1@home.example>\r\nFrom: u1@home.example\r\nTo: p@remote.example\r\nSubject: hi\r\n\r\n"
	"body\r\n--B--\r\n",
	"From: MAILER-DAEMON@remote.example\r\nTo: u2@home.example\r\nSubject: failure notice\r\n\r\n"
	"Hi. This is the qmail-send program at remote.example.\r\nI'm afraid I wasn't able to deliver your "
	"message to the following addresses.\r\nThis is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
	"<p@remote.example>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
	"--- Below this line is a copy of the message.\r\n\r\nReturn-Path: <u2@home.example>\r\n"
	"Message-ID: <forged@bot.example>\r\nFrom: u2@home.example\r\nSubject: cheap\r\n\r\nbuy\r\n",
	"From: u1@remote.example\r\nTo: u1@home.example\r\nSubject: Re: Out of office\r\nAuto-Submitted: auto-replied\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	"I am away =E9t=E9 until Monday.\r\n",
	"Subject: =?utf-8?B?w6nDqQ==?= =?iso-8859-1?Q?caf=E9?=\r\nFrom: \"x\" <a@b>\r\n\r\n.leading dot\r\n..two\r\n",
};


#define MAX_SEEDS 4096
static const uint8_t *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static unsigned n_seeds;

static void load_dir(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && n_seeds < MAX_SEEDS) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth < 2)
				load_dir(path, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MSG_CAP / 2 ||
		    !strcmp(e->d_name, "manifest.tsv") || !strcmp(e->d_name, "README.md"))
			continue;
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		uint8_t *b = malloc((size_t)st.st_size);
		if (b && fread(b, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
			seeds[n_seeds] = b;
			seed_len[n_seeds++] = (size_t)st.st_size;
		} else {
			free(b);
		}
		fclose(f);
	}
	closedir(d);
}

/* Findings, minimised, replayed before the random run. Each message goes
 * through a plain DATA session in fixed-size chunks (the chunk size puts a
 * chunk boundary where the bug needs it). */
struct regress {
	const char *what;
	size_t name_len;       /* > 0: message = name_len x 'X' ": v" CRLF CRLF "b" CRLF */
	uint32_t chunk;
};

static const struct regress regressions[] = {
	/* mail_hdr.c: a field name of exactly BS_MAIL_FIELD_MAX bytes, cut
	 * by the end of a chunk (byte-state path), then ':' -- the value
	 * length underflowed and flush_field read far past the buffer */
	{ "header name of 2048 bytes split across chunks", 2048, 100 },
	{ "header name of 2047 bytes split across chunks", 2047, 100 },
	{ "header name of 2049 bytes split across chunks", 2049, 100 },
	{ "header name of 2048 bytes in one chunk", 2048, 65536 },
};

static void run_regressions(void)
{
	for (size_t r = 0; r < sizeof regressions / sizeof regressions[0]; r++) {
		const struct regress *g = &regressions[r];
		stream_len = 0;
		n_segs = 0;
		hold_replies = false;
		putf(false, "220 mx.home.example ESMTP\r\n");
		putf(true, "EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<u1@home.example>\r\nDATA\r\n");
		putf(false, "250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n");
		for (size_t k = 0; k < g->name_len; k++)
			put(true, "X", 1);
		putf(true, ": v\r\n\r\nb\r\n.\r\n");
		putf(false, "250 queued\r\n");
		uint64_t events0 = n_events;
		bs_smtp_session_init(sess, &hooks, NULL, &sst, false);
		for (unsigned i = 0; i < n_segs; i++)
			for (uint32_t at = 0; at < segs[i].len; at += g->chunk) {
				uint32_t n = segs[i].len - at < g->chunk ? segs[i].len - at : g->chunk;
				bs_smtp_data(sess, segs[i].client, stream + segs[i].off + at, n, fz_now);
			}
		bs_smtp_session_end(sess, 0, fz_now);
		FUZZ_ASSERT(n_events == events0 + 1 && pool_outstanding == 0, "%s: %llu events", g->what,
			    (unsigned long long)(n_events - events0));
		printf("regression ok: %s\n", g->what);
	}
}

static long rss_pages(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss;
}

static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	static uint8_t buf[MSG_CAP + 8];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	printf("%s: %zu bytes ok\n", path, n);
	return 0;
}

static int num(const char *opt, const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end || !*s) {
		fprintf(stderr, "%s: not a number: '%s'\n", opt, s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s RULES CORPUS_DIR [-n ITERATIONS] [-s SEED] [FILE...]\n", argv[0]);
		return 2;
	}
	rules_path = argv[1];
	const char *corpus = argv[2];
	unsigned long long iters = 20000, seed = 1;
	int i = 3;
	while (i < argc && argv[i][0] == '-') {
		unsigned long long *dst = !strcmp(argv[i], "-n") ? &iters : !strcmp(argv[i], "-s") ? &seed : NULL;
		if (!dst || i + 1 >= argc || num(argv[i], argv[i + 1], dst))
			return 2;
		i += 2;
	}
	setup();
	if (i < argc) {
		int rc = 0;
		for (; i < argc; i++)
			rc |= replay(argv[i]);
		return rc;
	}
	run_regressions();
	load_dir(corpus, 0);
	bool from_corpus = n_seeds > 0;
	if (!from_corpus)
		for (size_t k = 0; k < sizeof synthetic / sizeof synthetic[0]; k++) {
			seeds[n_seeds] = (const uint8_t *)synthetic[k];
			seed_len[n_seeds++] = strlen(synthetic[k]);
		}
	printf("%s: %u seed messages from %s\n", argv[0], n_seeds, from_corpus ? corpus : "built-in synthetic bounces");
	/* touch every static buffer once so RSS measures growth, not first use */
	memset(msg, 0, sizeof msg);
	memset(tmp, 0, sizeof tmp);
	memset(stream, 0, sizeof stream);
	memset(ev_full, 0, sizeof ev_full);

	static uint8_t input[MSG_CAP + 8];
	uint64_t pick = seed * 0x9e3779b97f4a7c15ull + 1;
	long rss_warm = 0;
	unsigned long long warm_at = iters / 10;
	for (unsigned long long it = 0; it < iters; it++) {
		if (it == warm_at)
			rss_warm = rss_pages();
		if (it && it % 100000 == 0) /* long runs: what has been covered so far */
			fprintf(stderr, "%llu sessions, %llu transactions, RSS %ld pages\n", it,
				(unsigned long long)n_txn_alloc, rss_pages());
		pick ^= pick << 13;
		pick ^= pick >> 7;
		pick ^= pick << 17;
		unsigned s = (unsigned)(pick % n_seeds);
		uint64_t mseed = pick ^ it;
		memcpy(input, &mseed, 8);
		memcpy(input + 8, seeds[s], seed_len[s]);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "seed %llu iteration %llu message %u\n", seed, it, s);
		LLVMFuzzerTestOneInput(input, 8 + seed_len[s]);
	}
	long rss_end = rss_pages();
	long page_kb = sysconf(_SC_PAGESIZE) / 1024;
	long grow_kb = (rss_end - rss_warm) * page_kb;
	printf("%s: %llu sessions (seed %llu): %llu transactions, %llu events (%llu cut in %d bytes), "
	       "%llu early verdicts, %llu gaps, %llu garbage lines; RSS %ld KiB at 10%%, %ld KiB at end\n",
	       argv[0], iters, seed, (unsigned long long)n_txn_alloc, (unsigned long long)n_events,
	       (unsigned long long)n_small_cut, SMALL_EVENT, (unsigned long long)n_verdicts,
	       (unsigned long long)sst.gaps, (unsigned long long)sst.garbage, rss_warm * page_kb, rss_end * page_kb);
	/* slack: allocator and sanitizer bookkeeping (the code under test
	 * allocates nothing per transaction) */
	printf("%s: %llu messages complete, at most %u records open at once; classes:", argv[0],
	       (unsigned long long)n_complete, pool_max);
	for (int k = 0; k < BS_CLASS_MAX; k++)
		printf(" %s %llu", bs_class_name[k], (unsigned long long)n_class[k]);
	printf("\n");
	FUZZ_ASSERT(iters < 100 || grow_kb <= 4096, "RSS grew by %ld KiB after warm-up", grow_kb);
	FUZZ_ASSERT(iters == 0 || n_events > 0, "no transaction was ever finished: the harness is broken");
	bs_detect_worker_destroy(dw);
	bs_detect_destroy(det);
	free(sess);
	if (from_corpus)
		for (unsigned k = 0; k < n_seeds; k++)
			free((void *)seeds[k]);
	return 0;
}
#else
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rules_path = getenv("BS_FUZZ_RULES");
	if (!rules_path)
		rules_path = BS_FUZZ_RULES_DEFAULT;
	return 0;
}
#endif
