/* Verdict policy; see policy.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "policy.h"

/* The built-in default, in the policy file language (docs/detection.md
 * explains each choice). */
const char bs_policy_default_text[] =
	"# Backstop default policy\n"
	"class clean          pass\n"
	"class legit-bounce   pass\n"
	"class backscatter    drop-session ttl=600\n"
	"class suspect-bounce pass\n"
	"class autoreply      pass\n"
	"class challenge      pass\n"
	"class encrypted      pass\n"
	"class unparsed       pass\n"
	"# a backscatter flood: stop the reporting MTA for a while\n"
	"flood backscatter    drop-source ttl=900\n"
	"# a flood of bounces we could not tie to anything: slow it down\n"
	"flood suspect-bounce shape-source ttl=600 rate=20 burst=40\n"
	"rate recipient 30 3600\n"
	"rate mta 100 600\n"
	"# a reporting MTA that also sends us legitimate mail is shaped, never dropped\n"
	"legit-source shape-source ttl=900 rate=20 burst=40\n"
	"legit-source-window 604800\n";

static const char *const class_names[BS_CLASS_MAX] = {
	"unclassified", "clean", "legit-bounce", "backscatter", "suspect-bounce",
	"autoreply", "challenge", "encrypted", "unparsed",
};
static const char *const action_names[BS_ACT_MAX] = {
	"pass", "drop-session", "shape-source", "drop-source",
};

static int lookup(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

int bs_class_from_name(const char *s, size_t n) { return lookup(class_names, BS_CLASS_MAX, s, n); }
int bs_action_from_name(const char *s, size_t n) { return lookup(action_names, BS_ACT_MAX, s, n); }

#define MAX_TOK 8
struct toks { int n; const char *s[MAX_TOK]; size_t len[MAX_TOK]; };

static int split(const char *b, const char *e, struct toks *t)
{
	t->n = 0;
	while (b < e) {
		while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
			b++;
		if (b >= e || *b == '#')
			break;
		const char *s = b;
		while (b < e && *b != ' ' && *b != '\t' && *b != '\r' && *b != '#')
			b++;
		if (t->n == MAX_TOK)
			return -1;
		t->s[t->n] = s;
		t->len[t->n++] = (size_t)(b - s);
	}
	return 0;
}

static bool parse_u32(const char *s, size_t n, uint32_t *out)
{
	if (n == 0 || n > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

#define FAIL(...) do { int _o = snprintf(err, errlen, "%s:%d: ", name, line); \
	if (_o >= 0 && (size_t)_o < errlen) snprintf(err + _o, errlen - (size_t)_o, __VA_ARGS__); \
	return -1; } while (0)

/* ACTION [ttl=S] [rate=PPS] [burst=N] starting at token i */
static int parse_rule(const struct toks *t, int i, struct bs_policy_rule *r, const char *name, int line,
		      char *err, size_t errlen)
{
	if (i >= t->n)
		FAIL("missing action (pass, drop-session, shape-source, drop-source)");
	int a = bs_action_from_name(t->s[i], t->len[i]);
	if (a < 0)
		FAIL("unknown action '%.*s' (pass, drop-session, shape-source, drop-source)", (int)t->len[i], t->s[i]);
	struct bs_policy_rule nr = { .action = (uint8_t)a, .ttl_s = 600, .rate_pps = 0, .burst = 0 };
	for (i++; i < t->n; i++) {
		const char *eq = memchr(t->s[i], '=', t->len[i]);
		if (!eq)
			FAIL("expected ttl=, rate= or burst=, got '%.*s'", (int)t->len[i], t->s[i]);
		size_t kl = (size_t)(eq - t->s[i]), vl = t->len[i] - kl - 1;
		uint32_t *dst;
		if (kl == 3 && !memcmp(t->s[i], "ttl", 3))
			dst = &nr.ttl_s;
		else if (kl == 4 && !memcmp(t->s[i], "rate", 4))
			dst = &nr.rate_pps;
		else if (kl == 5 && !memcmp(t->s[i], "burst", 5))
			dst = &nr.burst;
		else
			FAIL("unknown option '%.*s' (ttl, rate, burst)", (int)kl, t->s[i]);
		if (!parse_u32(eq + 1, vl, dst))
			FAIL("'%.*s': value must be a non-negative integer", (int)t->len[i], t->s[i]);
	}
	if (nr.action == BS_ACT_SHAPE_SOURCE) {
		if (nr.rate_pps == 0)
			FAIL("shape-source needs rate=PPS > 0");
		if (nr.burst == 0)
			nr.burst = nr.rate_pps * 2;
	} else if (nr.rate_pps || nr.burst) {
		FAIL("rate= and burst= only apply to shape-source");
	}
	if (nr.action != BS_ACT_PASS && nr.ttl_s == 0)
		FAIL("ttl must be > 0 for an action that installs a verdict");
	*r = nr;
	return 0;
}

static int parse_class(const struct toks *t, int i, const char *name, int line, char *err, size_t errlen)
{
	if (i >= t->n)
		FAIL("missing class");
	int c = bs_class_from_name(t->s[i], t->len[i]);
	if (c <= 0)
		FAIL("unknown class '%.*s' (clean, legit-bounce, backscatter, suspect-bounce, autoreply, "
		     "challenge, encrypted, unparsed)", (int)t->len[i], t->s[i]);
	return c;
}

int bs_policy_parse(struct bs_policy *p, const char *name, const char *text, size_t len,
		    char *err, size_t errlen)
{
	struct bs_policy np = *p;
	int line = 0;
	const char *b = text, *end = text + len;
	while (b < end) {
		const char *e = memchr(b, '\n', (size_t)(end - b));
		if (!e)
			e = end;
		line++;
		if (memchr(b, 0, (size_t)(e - b)))
			FAIL("NUL byte in line");
		struct toks t;
		if (split(b, e, &t) < 0)
			FAIL("too many words (at most %d)", MAX_TOK);
		b = e + 1;
		if (t.n == 0)
			continue;
#define IS(w) (t.len[0] == strlen(w) && !memcmp(t.s[0], w, t.len[0]))
		if (IS("class") || IS("flood")) {
			bool flood = IS("flood");
			int c = parse_class(&t, 1, name, line, err, errlen);
			if (c < 0)
				return -1;
			struct bs_policy_rule r;
			if (parse_rule(&t, 2, &r, name, line, err, errlen) < 0)
				return -1;
			if (flood) {
				np.flood[c] = r;
				np.flood_set[c] = 1;
			} else {
				np.cls[c] = r;
			}
		} else if (IS("rate")) {
			uint32_t cnt, win;
			if (t.n != 4)
				FAIL("expected: rate recipient|mta COUNT WINDOW_S");
			if (!parse_u32(t.s[2], t.len[2], &cnt) || cnt == 0)
				FAIL("rate COUNT must be an integer > 0");
			if (!parse_u32(t.s[3], t.len[3], &win) || win == 0)
				FAIL("rate WINDOW_S must be an integer > 0");
			if (t.len[1] == 9 && !memcmp(t.s[1], "recipient", 9)) {
				np.rcpt_limit = cnt;
				np.rcpt_window_s = win;
			} else if (t.len[1] == 3 && !memcmp(t.s[1], "mta", 3)) {
				np.mta_limit = cnt;
				np.mta_window_s = win;
			} else {
				FAIL("unknown rate key '%.*s' (recipient, mta)", (int)t.len[1], t.s[1]);
			}
		} else if (IS("legit-source")) {
			struct bs_policy_rule r;
			if (parse_rule(&t, 1, &r, name, line, err, errlen) < 0)
				return -1;
			if (r.action == BS_ACT_DROP_SOURCE)
				FAIL("legit-source cannot be drop-source: that is what it prevents");
			np.legit_source = r;
		} else if (IS("legit-source-window")) {
			uint32_t v;
			if (t.n != 2 || !parse_u32(t.s[1], t.len[1], &v) || v == 0)
				FAIL("expected: legit-source-window SECONDS (> 0)");
			np.legit_source_window_s = v;
		} else {
			FAIL("unknown statement '%.*s' (class, flood, rate, legit-source, legit-source-window)",
			     (int)t.len[0], t.s[0]);
		}
#undef IS
	}
	*p = np;
	return 0;
}

void bs_policy_default(struct bs_policy *p)
{
	memset(p, 0, sizeof *p);
	char err[256];
	/* The built-in text is valid by construction; a unit test parses it. */
	if (bs_policy_parse(p, "<built-in>", bs_policy_default_text, sizeof bs_policy_default_text - 1,
			    err, sizeof err) != 0)
		abort();
}

int bs_policy_load(struct bs_policy *p, const char *path, char *err, size_t errlen)
{
	bs_policy_default(p);
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	/* a policy is a handful of lines; refuse anything absurd */
	static const size_t max = 1 << 20;
	char *buf = malloc(max);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	size_t n = fread(buf, 1, max, f);
	bool toobig = n == max && fgetc(f) != EOF;
	bool rderr = ferror(f);
	fclose(f);
	if (toobig || rderr) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path, toobig ? "larger than 1 MiB" : "read error");
		return -1;
	}
	int rc = bs_policy_parse(p, path, buf, n, err, errlen);
	free(buf);
	return rc;
}

void bs_policy_decide(const struct bs_policy *p, const struct bs_policy_input *in, struct bs_verdict *v)
{
	uint8_t c = in->cls < BS_CLASS_MAX ? in->cls : BS_CLASS_UNCLASSIFIED;
	struct bs_policy_rule r = p->cls[c];
	if (in->flood && p->flood_set[c])
		r = p->flood[c];
	if (r.action == BS_ACT_DROP_SOURCE && in->legit_source)
		r = p->legit_source;
	if (in->protected_ndr && (r.action == BS_ACT_DROP_SESSION || r.action == BS_ACT_DROP_SOURCE))
		r = (struct bs_policy_rule){ .action = BS_ACT_PASS };
	v->action = r.action;
	v->ttl_s = r.action == BS_ACT_PASS ? 0 : r.ttl_s;
	v->shape_rate = r.action == BS_ACT_SHAPE_SOURCE ? r.rate_pps : 0;
	v->shape_burst = r.action == BS_ACT_SHAPE_SOURCE ? r.burst : 0;
}
