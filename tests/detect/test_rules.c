/* Rules library: the good test set's metadata and databases, matches per
 * scope (streaming byte by byte, block scans of envelope values), lists,
 * includes, depth, bundle round trip (same metadata, same matches),
 * generic vs native compilation, default path, error contract.
 *
 * usage: test_rules DATA_DIR   (tests/detect/test_rules_data) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "rules.h"
#include "rules_scan.h"

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #c); \
	fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

static char data_dir[1024];

static const char *path(const char *rel)
{
	static char buf[4][1400];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", data_dir, rel);
	return buf[k];
}

struct hits {
	uint32_t id[64];
	unsigned long long off[64];
	unsigned n;
};

static void on_hit(void *ctx, const struct bs_rule *r, enum bs_scope scope, unsigned long long off)
{
	struct hits *h = ctx;
	for (unsigned i = 0; i < h->n; i++)
		if (h->id[i] == r->id)
			return;
	if (h->n < 64) {
		h->id[h->n] = r->id;
		h->off[h->n++] = off;
	}
}

static bool has(const struct hits *h, uint32_t id)
{
	for (unsigned i = 0; i < h->n; i++)
		if (h->id[i] == id)
			return true;
	return false;
}

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void scan_file(const struct bs_ruleset *rs, const char *file, struct hits *h)
{
	hs_scratch_t *scratch = NULL;
	char err[512];
	memset(h, 0, sizeof(*h));
	CHECK(bs_rules_alloc_scratch(rs, &scratch, err, sizeof(err)) == 0, "%s", err);
	size_t len;
	uint8_t *msg = slurp(file, &len);
	CHECK(msg, "cannot read %s", file);
	if (msg)
		CHECK(bs_rules_scan_message(rs, scratch, msg, len, on_hit, h, err, sizeof(err)) == 0, "%s", err);
	free(msg);
	hs_free_scratch(scratch);
}

static void scan_text(const struct bs_ruleset *rs, const char *text, struct hits *h)
{
	hs_scratch_t *scratch = NULL;
	char err[512];
	memset(h, 0, sizeof(*h));
	bs_rules_alloc_scratch(rs, &scratch, err, sizeof(err));
	CHECK(bs_rules_scan_message(rs, scratch, (const uint8_t *)text, strlen(text), on_hit, h, err, sizeof(err)) == 0,
	      "%s", err);
	hs_free_scratch(scratch);
}

static const struct bs_rule *find(const struct bs_ruleset *rs, uint32_t id)
{
	for (uint32_t i = 0; i < rs->n_rules; i++)
		if (rs->rules[i].id == id)
			return &rs->rules[i];
	return NULL;
}

static const uint32_t expected_sample[] = { 101, 102, 201, 301, 401, 501, 802 };

static void check_sample_hits(const struct hits *h, const char *what)
{
	for (size_t i = 0; i < sizeof(expected_sample) / sizeof(expected_sample[0]); i++)
		CHECK(has(h, expected_sample[i]), "%s: rule %u did not match", what, expected_sample[i]);
	CHECK(h->n == sizeof(expected_sample) / sizeof(expected_sample[0]), "%s: %u rules matched, expected %zu", what,
	      h->n, sizeof(expected_sample) / sizeof(expected_sample[0]));
}

static void test_metadata(const struct bs_ruleset *rs)
{
	CHECK(rs->n_rules == 16, "n_rules %u", rs->n_rules);
	/* two list rules: spam_words has 2 entries, bad_domains 3 (two lines) */
	CHECK(rs->n_expressions == 14 + 2 + 3, "n_expressions %u", rs->n_expressions);
	const struct bs_rule *r = find(rs, 101);
	CHECK(r && r->scope == BS_SCOPE_HEADER_FIELD && !strcmp(r->field, "subject") && r->weight == 50 &&
	      r->signal == BS_SIG_BOUNCE_HEADER && (r->flags & BS_RULE_F_CASELESS) && (r->flags & BS_RULE_F_LITERAL) &&
	      r->line == 9 && strstr(r->file, "good/main.rules"), "rule 101 metadata");
	r = find(rs, 301);
	CHECK(r && r->scope == BS_SCOPE_DSN && r->line == 3 && strstr(r->file, "good/sub/more.rules") &&
	      (r->flags & BS_RULE_F_REGEX) && (r->flags & BS_RULE_F_MULTILINE), "rule 301 from the include");
	r = find(rs, 901);
	CHECK(r && strstr(r->file, "good/sub/common.rules") && r->line == 2, "diamond include read once");
	r = find(rs, 401);
	CHECK(r && (r->flags & BS_RULE_F_LIST) && (r->flags & BS_RULE_F_CASELESS), "rule 401 list nocase");
	r = find(rs, 801);
	CHECK(r && r->depth == 12, "rule 801 depth");
	r = find(rs, 702);
	CHECK(r && r->weight == -10 && r->signal == BS_SIG_NOT_BOUNCE, "rule 702 negative weight");
	/* match id == index: the id Hyperscan reports maps straight to rules[] */
	for (uint32_t i = 0; i < rs->n_rules; i++)
		CHECK(rs->rules[i].scope == BS_SCOPE_HEADER_FIELD ? rs->rules[i].field_idx >= 0 : rs->rules[i].field_idx == -1,
		      "field_idx of rule %u", rs->rules[i].id);
	CHECK(rs->db[BS_SCOPE_HEADER_FIELD] == NULL, "header field rules live in fields[]");
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (s == BS_SCOPE_HEADER_FIELD)
			continue;
		CHECK(rs->db[s] != NULL, "scope %s has a database", bs_scope_name(s));
		CHECK(bs_scope_is_stream(s) ? rs->stream_state_size[s] > 0 : rs->stream_state_size[s] == 0,
		      "stream state of %s", bs_scope_name(s));
		CHECK(rs->db_size[s] > 0, "db size of %s", bs_scope_name(s));
	}
	CHECK(bs_rules_txn_stream_state(rs) > 0, "txn stream state");
	int fi = -2;
	CHECK(bs_rules_field_db(rs, "SUBJECT", 7, &fi) != NULL && fi >= 0 && !strcmp(rs->fields[fi].name, "subject"),
	      "field lookup is case-insensitive");
	CHECK(bs_rules_field_db(rs, "Subject-X", 9, NULL) == NULL, "no db for an unnamed field");
	CHECK(bs_rules_field_db(rs, "Subj", 4, NULL) == NULL, "no prefix match");
	CHECK(rs->n_fields == 2, "fields: subject, from (%u)", rs->n_fields);
	/* streaming databases refuse block scans and vice versa: modes are right */
	size_t ss;
	CHECK(hs_stream_size(rs->db[BS_SCOPE_BODY], &ss) == HS_SUCCESS, "body is a streaming database");
	CHECK(hs_stream_size(rs->db[BS_SCOPE_HELO], &ss) != HS_SUCCESS, "helo is a block database");
}

static void test_envelope(const struct bs_ruleset *rs)
{
	hs_scratch_t *scratch = NULL;
	char err[256];
	bs_rules_alloc_scratch(rs, &scratch, err, sizeof(err));
	struct {
		enum bs_scope s;
		const char *v;
		uint32_t id;
	} cases[] = {
		{ BS_SCOPE_HELO, "mx12.example.org", 601 },
		{ BS_SCOPE_HELO, "smtp.example.org", 0 },
		{ BS_SCOPE_MAIL_FROM, "MAILER-DAEMON@example.org", 602 },
		{ BS_SCOPE_MAIL_FROM, "alice@example.org", 0 },
		{ BS_SCOPE_RCPT_TO, "prvs=1234567890=alice@example.org", 603 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hits h = { 0 };
		CHECK(bs_rules_scan_block(rs, rs->db[cases[i].s], cases[i].s, scratch, (const uint8_t *)cases[i].v,
					  strlen(cases[i].v), on_hit, &h) == 0, "scan");
		CHECK(cases[i].id ? h.n == 1 && h.id[0] == cases[i].id : h.n == 0, "envelope %s '%s': %u hits",
		      bs_scope_name(cases[i].s), cases[i].v, h.n);
	}
	hs_free_scratch(scratch);
}

/* The body database in streaming mode, fed one byte per call: the match
 * must not depend on how the text is cut into packets. */
static int stream_hit(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx)
{
	const struct bs_ruleset *rs = ((void **)ctx)[0];
	struct hits *h = ((void **)ctx)[1];
	on_hit(h, &rs->rules[id], BS_SCOPE_BODY, to);
	return 0;
}

static void test_streaming(const struct bs_ruleset *rs)
{
	hs_scratch_t *scratch = NULL;
	char err[256];
	bs_rules_alloc_scratch(rs, &scratch, err, sizeof(err));
	const char *text = "preamble\nThis is the mail system at host mx.example.org.\nsee worst.example\n";
	struct hits h = { 0 };
	void *ctx[2] = { (void *)rs, &h };
	hs_stream_t *st = NULL;
	CHECK(hs_open_stream(rs->db[BS_SCOPE_BODY], 0, &st) == HS_SUCCESS, "open stream");
	for (size_t i = 0; st && text[i]; i++)
		hs_scan_stream(st, text + i, 1, 0, scratch, stream_hit, ctx);
	if (st)
		hs_close_stream(st, scratch, stream_hit, ctx);
	CHECK(has(&h, 201) && has(&h, 501), "byte-by-byte stream: 201 and 501 (%u hits)", h.n);
	/* depth: "This is" ends at byte 16 (<= 20), "mail system" at 31 (> 12) */
	CHECK(has(&h, 802) && !has(&h, 801), "depth in a stream");
	hs_free_scratch(scratch);
}

static void test_lists_and_scopes(const struct bs_ruleset *rs)
{
	struct hits h;
	/* caseless file list in a text/rfc822-headers part; inline list entry
	 * from the second "list bad_domains" line in the body */
	scan_text(rs,
		  "Subject: hello\nContent-Type: multipart/report; boundary=x\n\n--x\nContent-Type: text/plain\n\n"
		  "go to WORST.example or worst.example\n--x\nContent-Type: text/rfc822-headers\n\n"
		  "Subject: CHEAP PILLS today\n--x--\n",
		  &h);
	CHECK(has(&h, 401), "caseless list entry with surrounding spaces trimmed");
	CHECK(has(&h, 501), "inline list appended by a second line");
	CHECK(!has(&h, 101) && !has(&h, 201), "unrelated rules stay quiet");
	/* the bad_domains list is case-sensitive: only the lower-case copy matched */
	scan_text(rs, "Subject: x\n\nWORST.EXAMPLE\n", &h);
	CHECK(!has(&h, 501), "case-sensitive list");
	/* RFC 2047 subject decoded before the field scan */
	scan_text(rs, "Subject: =?utf-8?Q?Undelivered_Mail?= =?utf-8?B?IFJldHVybmVkIHRvIFNlbmRlcg==?=\n\nx\n", &h);
	CHECK(has(&h, 101), "encoded-word subject");
	/* quoted-printable body decoded */
	scan_text(rs, "Content-Transfer-Encoding: quoted-printable\n\nThis is the mail sys=\ntem at host x=2E\n", &h);
	CHECK(has(&h, 201), "quoted-printable soft line break");
	/* base64 body decoded */
	scan_text(rs, "Content-Transfer-Encoding: base64\n\nVGhpcyBpcyB0aGUgbWFpbCBzeXN0ZW0gYXQgaG9zdCB4Lg==\n", &h);
	CHECK(has(&h, 201), "base64 body");
	/* mbox From line and CR-only line ends */
	scan_text(rs, "From MAILER-DAEMON Thu Jan 1 00:00:00 2009\rSubject: Undelivered Mail Returned to Sender\r\rbody\r", &h);
	CHECK(has(&h, 101), "CR-only message with an mbox separator");
	/* no header block end at all: everything is headers, nothing crashes */
	scan_text(rs, "Subject: Undelivered Mail Returned to Sender", &h);
	CHECK(has(&h, 101), "header block without an end");
	scan_text(rs, "", &h);
	CHECK(h.n == 0, "empty message");
}

static void same_rules(const struct bs_ruleset *a, const struct bs_ruleset *b, const char *what)
{
	CHECK(a->n_rules == b->n_rules && a->n_fields == b->n_fields && a->n_expressions == b->n_expressions,
	      "%s: counts", what);
	for (uint32_t i = 0; i < a->n_rules && i < b->n_rules; i++) {
		const struct bs_rule *x = &a->rules[i], *y = &b->rules[i];
		CHECK(x->id == y->id && !strcmp(x->name, y->name) && x->scope == y->scope && x->signal == y->signal &&
		      x->weight == y->weight && x->flags == y->flags && !strcmp(x->field, y->field) &&
		      x->field_idx == y->field_idx && x->depth == y->depth && !strcmp(x->file, y->file) &&
		      x->line == y->line, "%s: rule %u differs", what, x->id);
	}
	for (int s = 0; s < BS_SCOPE_MAX; s++)
		CHECK(!a->db[s] == !b->db[s] && a->stream_state_size[s] == b->stream_state_size[s] &&
		      a->n_rules_scope[s] == b->n_rules_scope[s], "%s: scope %s", what, bs_scope_name(s));
	for (uint32_t f = 0; f < a->n_fields && f < b->n_fields; f++)
		CHECK(!strcmp(a->fields[f].name, b->fields[f].name) && !a->fields[f].db == !b->fields[f].db,
		      "%s: field %u", what, f);
}

static void test_bundle(const struct bs_ruleset *rs, bool native)
{
	char tmpl[] = "/tmp/bs-test-rules-XXXXXX";
	int fd = mkstemp(tmpl);
	close(fd);
	char err[1024];
	const char *what = native ? "native bundle" : "generic bundle";
	CHECK(!bs_rules_is_bundle(tmpl), "an empty file is no bundle");
	CHECK(bs_rules_save_bundle(rs, tmpl, err, sizeof(err)) == 0, "%s: save: %s", what, err);
	CHECK(bs_rules_is_bundle(tmpl), "%s: magic", what);
	struct bs_ruleset *back = NULL;
	CHECK(bs_rules_load(tmpl, &back, err, sizeof(err)) == 0, "%s: load: %s", what, err);
	if (back) {
		same_rules(rs, back, what);
		CHECK(back->native == native, "%s: native flag", what);
		struct hits h1, h2;
		scan_file(rs, path("msgs/postfix-bounce.eml"), &h1);
		scan_file(back, path("msgs/postfix-bounce.eml"), &h2);
		check_sample_hits(&h2, what);
		for (unsigned i = 0; i < h1.n; i++)
			CHECK(has(&h2, h1.id[i]) && h2.off[i] == h1.off[i], "%s: rule %u same match offset", what, h1.id[i]);
		/* the platform the databases were built for */
		char *info = NULL;
		hs_database_info(back->db[BS_SCOPE_BODY], &info);
		hs_platform_info_t plat;
		hs_populate_platform(&plat);
		if (!native)
			CHECK(info && strstr(info, "Features:  Mode"), "generic bundle uses no CPU features: %s", info);
		else if (plat.cpu_features)
			CHECK(info && !strstr(info, "Features:  Mode"), "native bundle uses this CPU's features: %s", info);
		free(info);
		bs_rules_free(back);
	}
	unlink(tmpl);
}

static void test_errors(void)
{
	char err[512];
	struct bs_ruleset *rs = (void *)1;
	const char *bad = path("bad/unknown_scope.rules");
	CHECK(bs_rules_load_file(bad, false, &rs, err, sizeof(err)) == -1 && rs == NULL, "bad file fails");
	char want[1400];
	snprintf(want, sizeof(want), "%s:2: unknown scope 'bogus'", bad);
	CHECK(!strncmp(err, want, strlen(want)), "message '%s'", err);
	/* a tiny buffer truncates, never overflows */
	char small[12];
	memset(small, 'Z', sizeof(small));
	CHECK(bs_rules_load_file(bad, false, &rs, small, 8) == -1 && small[7] == 0 && small[8] == 'Z', "truncation");
	/* parse_only does not need Hyperscan to accept the patterns' sizes */
	CHECK(bs_rules_parse_only(path("good/main.rules"), &rs, err, sizeof(err)) == 0 && rs->db[BS_SCOPE_BODY] == NULL,
	      "parse only: %s", err);
	bs_rules_free(rs);
	CHECK(bs_rules_load_bundle(path("good/main.rules"), &rs, err, sizeof(err)) == -1 && strstr(err, "not a backstop rule bundle"),
	      "rule file given as bundle: %s", err);
	bs_rules_free(NULL);
}

/* ---- hostile input: mutated rule files, bundles and messages ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static void write_file(const char *p, const void *b, size_t n)
{
	FILE *f = fopen(p, "wb");
	if (f) {
		fwrite(b, 1, n, f);
		fclose(f);
	}
}

static void mutate(uint8_t *b, size_t *n, size_t cap)
{
	int k = 1 + rnd() % 4;
	while (k--) {
		switch (rnd() % 4) {
		case 0:
			if (*n)
				b[rnd() % *n] = (uint8_t)rnd();
			break;
		case 1:
			if (*n)
				b[rnd() % *n] = "\"/\\#@ \n\r\0xi"[rnd() % 11];
			break;
		case 2:
			if (*n)
				*n = rnd() % *n;
			break;
		case 3:
			if (*n < cap) {
				size_t at = *n ? rnd() % *n : 0;
				memmove(b + at + 1, b + at, *n - at);
				b[at] = (uint8_t)rnd();
				(*n)++;
			}
			break;
		}
	}
}

static const char hostile_base[] =
	"list w nocase \"alpha\" \"beta\"\n"
	"rule 1 header:subject bounce-header 50 \"Undelivered\"i \"s\"\n"
	"rule 2 body legacy-bounce-text 100 /mail system at \\S+/i \"b\" depth 400\n"
	"rule 3 dsn dsn-structure 100 /^Action:\\s*failed/im \"d\"\n"
	"rule 4 orig_headers spam-content 30 @w \"o\"\n"
	"rule 5 helo not-bounce 0 \"mx\" \"h\"\n";

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void test_hostile(void)
{
	char dir[] = "/tmp/bs-test-rules-hostile-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char rp[256], bp[256];
	snprintf(rp, sizeof(rp), "%s/h.rules", dir);
	snprintf(bp, sizeof(bp), "%s/h.bsr", dir);
	char err[2048];
	uint8_t buf[4096];
	unsigned ok = 0, bad = 0;
	for (int it = 0; it < 400; it++) {
		size_t n = sizeof(hostile_base) - 1;
		memcpy(buf, hostile_base, n);
		mutate(buf, &n, sizeof(buf));
		write_file(rp, buf, n);
		struct bs_ruleset *rs = NULL;
		err[0] = 0;
		int rc = bs_rules_load_file(rp, false, &rs, err, sizeof(err));
		if (rc == 0) {
			ok++;
			CHECK(rs != NULL, "loaded set");
			bs_rules_free(rs);
		} else {
			bad++;
			CHECK(rs == NULL && !strncmp(err, rp, strlen(rp)) && err[strlen(rp)] == ':',
			      "error names the file: '%s'", err);
		}
	}
	CHECK(ok > 0 && bad > 0, "mutations gave both outcomes (%u ok, %u bad)", ok, bad);

	/* bundles with a byte changed and the checksum made to match, so the
	 * reader's own bounds checks and Hyperscan's checks are what stop it */
	struct bs_ruleset *rs = NULL;
	write_file(rp, hostile_base, sizeof(hostile_base) - 1);
	CHECK(bs_rules_load_file(rp, false, &rs, err, sizeof(err)) == 0, "%s", err);
	if (rs && bs_rules_save_bundle(rs, bp, err, sizeof(err)) == 0) {
		size_t len;
		uint8_t *orig = slurp(bp, &len);
		uint8_t *m = malloc(len + 1);
		const size_t hdr = 8 + 4 * 7 + 8 + 8;
		unsigned loaded = 0, refused = 0;
		for (int it = 0; orig && m && it < 600; it++) {
			memcpy(m, orig, len);
			size_t at = hdr + rnd() % (len - hdr);
			m[at] ^= (uint8_t)(1u << (rnd() % 8));
			if (it % 3 == 0)   /* sometimes a count or length field */
				m[8 + 4 * (1 + rnd() % 6)] ^= (uint8_t)(1u << (rnd() % 8));
			uint64_t h = fnv(m + hdr, len - hdr);
			memcpy(m + hdr - 8, &h, 8);
			write_file(bp, m, len);
			struct bs_ruleset *back = NULL;
			if (bs_rules_load_bundle(bp, &back, err, sizeof(err)) == 0) {
				loaded++;
				struct hits hh;
				scan_text(back, "Subject: Undelivered\n\nmail system at host\n", &hh);
				bs_rules_free(back);
			} else {
				refused++;
				CHECK(back == NULL && !strncmp(err, bp, strlen(bp)), "bundle error names the file: %s", err);
			}
		}
		CHECK(refused > 0, "corrupted bundles refused (%u loaded, %u refused)", loaded, refused);
		free(orig);
		free(m);
	}

	/* messages: garbage and mutations of the sample bounce */
	size_t slen;
	uint8_t *sample = slurp(path("msgs/postfix-bounce.eml"), &slen);
	uint8_t *mm = malloc(slen + 64);
	for (int it = 0; rs && sample && mm && it < 400; it++) {
		size_t n;
		if (it % 4 == 0) {
			n = rnd() % 3000;
			for (size_t i = 0; i < n && i < slen + 64; i++)
				mm[i] = (uint8_t)rnd();
			if (n > slen + 64)
				n = slen + 64;
		} else {
			n = slen;
			memcpy(mm, sample, slen);
			mutate(mm, &n, slen + 64);
		}
		hs_scratch_t *scratch = NULL;
		bs_rules_alloc_scratch(rs, &scratch, err, sizeof(err));
		struct hits hh = { 0 };
		CHECK(bs_rules_scan_message(rs, scratch, mm, n, on_hit, &hh, err, sizeof(err)) == 0, "scan: %s", err);
		hs_free_scratch(scratch);
	}
	free(mm);
	free(sample);
	bs_rules_free(rs);
	unlink(rp);
	unlink(bp);
	rmdir(dir);
}

/* Many header fields: the caseless hash index finds each one, and only it. */
static void test_field_index(void)
{
	char p[] = "/tmp/bs-test-rules-fields-XXXXXX";
	int fd = mkstemp(p);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 60; i++)
		fprintf(f, "rule %d header:X-Field-%d bounce-header 10 \"v%d\" \"field %d\"\n", i + 1, i, i, i);
	fclose(f);
	struct bs_ruleset *rs = NULL;
	char err[512];
	CHECK(bs_rules_load_file(p, false, &rs, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; rs && i < 60; i++) {
		char name[32];
		int idx = -2;
		int n = snprintf(name, sizeof(name), "x-FIELD-%d", i);
		const hs_database_t *db = bs_rules_field_db(rs, name, (size_t)n, &idx);
		CHECK(db && idx >= 0 && !strcasecmp(rs->fields[idx].name, name), "field %s -> %d", name, idx);
		n = snprintf(name, sizeof(name), "X-Field-%d", i + 100);
		CHECK(!bs_rules_field_db(rs, name, (size_t)n, &idx) && idx == -1, "unknown field %s", name);
	}
	bs_rules_free(rs);
	unlink(p);
}

static void test_default(void)
{
	setenv("BACKSTOP_RULES", "/some/where.rules", 1);
	CHECK(!strcmp(bs_rules_default_path(), "/some/where.rules"), "env override");
	unsetenv("BACKSTOP_RULES");
	const char *p = bs_rules_default_path();
	CHECK(strstr(p, "rules/default.rules") && access(p, R_OK) == 0, "default path %s", p);
	struct bs_ruleset *rs = NULL;
	char err[4096];
	CHECK(bs_rules_load_file(p, false, &rs, err, sizeof(err)) == 0, "default rules: %s", err);
	if (rs) {
		CHECK(rs->compile_seconds < 5.0, "default set compiles in %.2f s", rs->compile_seconds);
		CHECK(rs->n_rules > 100, "default set has %u rules", rs->n_rules);
		struct hits h;
		scan_file(rs, path("msgs/postfix-bounce.eml"), &h);
		CHECK(h.n >= 5, "default rules see the sample bounce (%u rules)", h.n);
		bs_rules_free(rs);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_rules DATA_DIR\n");
		return 2;
	}
	snprintf(data_dir, sizeof(data_dir), "%s", argv[1]);
	char err[4096];
	struct bs_ruleset *rs = NULL, *native = NULL;
	if (bs_rules_load_file(path("good/main.rules"), false, &rs, err, sizeof(err)) < 0) {
		fprintf(stderr, "FAIL: good set: %s\n", err);
		return 1;
	}
	test_metadata(rs);
	struct hits h;
	scan_file(rs, path("msgs/postfix-bounce.eml"), &h);
	check_sample_hits(&h, "rule file");
	test_envelope(rs);
	test_streaming(rs);
	test_lists_and_scopes(rs);
	test_bundle(rs, false);
	CHECK(bs_rules_load_file(path("good/main.rules"), true, &native, err, sizeof(err)) == 0, "native: %s", err);
	if (native) {
		same_rules(rs, native, "native vs generic");
		scan_file(native, path("msgs/postfix-bounce.eml"), &h);
		check_sample_hits(&h, "native");
		test_bundle(native, true);
		bs_rules_free(native);
	}
	test_errors();
	test_hostile();
	test_field_index();
	test_default();
	bs_rules_free(rs);
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("test_rules: all passed\n");
	return 0;
}
