/* The policy: the built-in default parses and says what docs/detection.md
 * says, every error path of the file parser, and the fixed protections of
 * bs_policy_decide. */
#include <stdlib.h>
#include <unistd.h>
#include "../../dataplane/detect/policy.h"
#include "test_util.h"

static int parse(struct bs_policy *p, const char *text, char *err, size_t errlen)
{
	bs_policy_default(p);
	return bs_policy_parse(p, "t.policy", text, strlen(text), err, errlen);
}

static void expect_error(const char *text, const char *want)
{
	struct bs_policy p;
	char err[512] = "";
	int rc = parse(&p, text, err, sizeof err);
	CHECK_INT(rc, -1);
	if (!strstr(err, want)) {
		fprintf(stderr, "policy text %s: error '%s' lacks '%s'\n", text, err, want);
		t_failures++;
	}
}

static void decide(const struct bs_policy *p, int cls, bool flood, bool prot, bool legit, struct bs_verdict *v)
{
	struct bs_policy_input in = { .cls = (uint8_t)cls, .flood = flood, .protected_ndr = prot, .legit_source = legit };
	memset(v, 0, sizeof *v);
	bs_policy_decide(p, &in, v);
}

static void test_default(void)
{
	struct bs_policy p;
	struct bs_verdict v;
	bs_policy_default(&p);
	decide(&p, BS_CLASS_CLEAN, false, false, false, &v);
	CHECK_INT(v.action, BS_ACT_PASS);
	CHECK_INT(v.ttl_s, 0);
	decide(&p, BS_CLASS_LEGIT_BOUNCE, true, true, true, &v);
	CHECK_INT(v.action, BS_ACT_PASS);
	decide(&p, BS_CLASS_BACKSCATTER, false, false, false, &v);
	CHECK_INT(v.action, BS_ACT_DROP_SESSION);
	CHECK_INT(v.ttl_s, 600);
	/* flood escalates to the source */
	decide(&p, BS_CLASS_BACKSCATTER, true, false, false, &v);
	CHECK_INT(v.action, BS_ACT_DROP_SOURCE);
	CHECK_INT(v.ttl_s, 900);
	/* ... but a source that also sends legitimate mail is shaped, not dropped */
	decide(&p, BS_CLASS_BACKSCATTER, true, false, true, &v);
	CHECK_INT(v.action, BS_ACT_SHAPE_SOURCE);
	CHECK_INT(v.shape_rate, 20);
	CHECK_INT(v.shape_burst, 40);
	decide(&p, BS_CLASS_SUSPECT_BOUNCE, false, false, false, &v);
	CHECK_INT(v.action, BS_ACT_PASS);
	decide(&p, BS_CLASS_SUSPECT_BOUNCE, true, false, false, &v);
	CHECK_INT(v.action, BS_ACT_SHAPE_SOURCE);
	for (int c = BS_CLASS_AUTOREPLY; c < BS_CLASS_MAX; c++) {
		decide(&p, c, true, false, false, &v);
		CHECK_INT(v.action, BS_ACT_PASS);
	}
	CHECK_INT(p.rcpt_limit, 30);
	CHECK_INT(p.rcpt_window_s, 3600);
	CHECK_INT(p.mta_limit, 100);
	CHECK_INT(p.mta_window_s, 600);
	CHECK_INT(p.legit_source_window_s, 604800);
}

static void test_operator_file(void)
{
	struct bs_policy p;
	struct bs_verdict v;
	char err[512];
	const char *text =
		"# stricter\n"
		"class backscatter drop-source ttl=3600   # whole source\n"
		"\n"
		"class suspect-bounce shape-source rate=5\n"
		"rate recipient 5 60\r\n"
		"legit-source pass\n"
		"legit-source-window 100\n";
	CHECK_INT(parse(&p, text, err, sizeof err), 0);
	decide(&p, BS_CLASS_BACKSCATTER, false, false, false, &v);
	CHECK_INT(v.action, BS_ACT_DROP_SOURCE);
	CHECK_INT(v.ttl_s, 3600);
	decide(&p, BS_CLASS_BACKSCATTER, false, false, true, &v);
	CHECK_INT(v.action, BS_ACT_PASS);                 /* legit-source pass */
	decide(&p, BS_CLASS_SUSPECT_BOUNCE, false, false, false, &v);
	CHECK_INT(v.action, BS_ACT_SHAPE_SOURCE);
	CHECK_INT(v.shape_rate, 5);
	CHECK_INT(v.shape_burst, 10);                     /* default burst = 2 x rate */
	CHECK_INT(p.rcpt_limit, 5);
	CHECK_INT(p.mta_limit, 100);                      /* untouched: default kept */
	/* protection is not configurable: ledger/BATV matches are never dropped */
	CHECK_INT(parse(&p, "class legit-bounce drop-session\nclass backscatter drop-source\n", err, sizeof err), 0);
	decide(&p, BS_CLASS_LEGIT_BOUNCE, false, true, false, &v);
	CHECK_INT(v.action, BS_ACT_PASS);
	decide(&p, BS_CLASS_BACKSCATTER, false, true, false, &v);
	CHECK_INT(v.action, BS_ACT_PASS);
	decide(&p, BS_CLASS_BACKSCATTER, false, false, false, &v);
	CHECK_INT(v.action, BS_ACT_DROP_SOURCE);

	/* from a file */
	char path[] = "/tmp/bs_policy_testXXXXXX";
	int fd = mkstemp(path);
	CHECK(write(fd, "class clean drop-session\nbogus\n", 31) == 31);
	close(fd);
	CHECK_INT(bs_policy_load(&p, path, err, sizeof err), -1);
	char want[600];
	snprintf(want, sizeof want, "%s:2: unknown statement 'bogus'", path);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	unlink(path);
	CHECK_INT(bs_policy_load(&p, path, err, sizeof err), -1);
	CHECK(strstr(err, "cannot open") != NULL);
}

static void test_errors(void)
{
	expect_error("class\n", "t.policy:1: missing class");
	expect_error("\nclass nosuch pass\n", "t.policy:2: unknown class 'nosuch'");
	expect_error("class unclassified pass\n", "unknown class 'unclassified'");
	expect_error("class clean\n", "missing action");
	expect_error("class clean explode\n", "unknown action 'explode'");
	expect_error("class clean pass ttl\n", "expected ttl=, rate= or burst=");
	expect_error("class clean pass ttl=-1\n", "non-negative integer");
	expect_error("class clean pass ttl=99999999999\n", "non-negative integer");
	expect_error("class clean pass color=red\n", "unknown option 'color'");
	expect_error("class clean shape-source\n", "shape-source needs rate=PPS > 0");
	expect_error("class clean drop-session rate=5\n", "only apply to shape-source");
	expect_error("class clean drop-session ttl=0\n", "ttl must be > 0");
	expect_error("flood nosuch pass\n", "unknown class");
	expect_error("rate recipient 5\n", "expected: rate recipient|mta COUNT WINDOW_S");
	expect_error("rate recipient 0 10\n", "COUNT must be an integer > 0");
	expect_error("rate recipient 5 x\n", "WINDOW_S must be an integer > 0");
	expect_error("rate sender 5 10\n", "unknown rate key 'sender'");
	expect_error("legit-source drop-source ttl=5\n", "cannot be drop-source");
	expect_error("legit-source-window\n", "legit-source-window SECONDS");
	expect_error("legit-source-window 0\n", "legit-source-window SECONDS");
	expect_error("a b c d e f g h i j\n", "too many words");
	struct bs_policy p;
	char err[256];
	bs_policy_default(&p);
	CHECK_INT(bs_policy_parse(&p, "t", "\nclass clean pass\0x\n", 20, err, sizeof err), -1);
	CHECK_STR(err, "t:2: NUL byte in line");
	/* a failed parse leaves the policy as it was */
	bs_policy_default(&p);
	CHECK_INT(bs_policy_parse(&p, "t", "class clean drop-session\nclass clean nope\n", 43, err, sizeof err), -1);
	CHECK_INT(p.cls[BS_CLASS_CLEAN].action, BS_ACT_PASS);
	CHECK_INT(bs_class_from_name("backscatter", 11), BS_CLASS_BACKSCATTER);
	CHECK_INT(bs_action_from_name("drop-source", 11), BS_ACT_DROP_SOURCE);
	CHECK_INT(bs_action_from_name("drop", 4), -1);
}

int main(void)
{
	test_default();
	test_operator_file();
	test_errors();
	TEST_DONE();
}
