/* BATV prvs tags, SRS parsing, and the SHA-1/HMAC underneath: published
 * vectors (FIPS 180 / RFC 2202), vectors made by our own signer, and one
 * tag computed independently by Python's hmac module. */
#include <stdlib.h>
#include <stdint.h>
#include "../../dataplane/detect/batv.h"
#include "../../dataplane/detect/sha1.h"
#include "test_util.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_sha1(void)
{
	uint8_t d[20];
	char h[41];
	struct bs_sha1 s;
	bs_sha1_init(&s);
	bs_sha1_update(&s, "abc", 3);
	bs_sha1_final(&s, d);
	hex(d, 20, h);
	CHECK_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	bs_sha1_init(&s);
	bs_sha1_final(&s, d);
	hex(d, 20, h);
	CHECK_STR(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	/* 56-byte message: padding spills into a second block */
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	bs_sha1_init(&s);
	for (const char *c = m; *c; c++)   /* byte-at-a-time updates */
		bs_sha1_update(&s, c, 1);
	bs_sha1_final(&s, d);
	hex(d, 20, h);
	CHECK_STR(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	/* RFC 2202 test cases 1, 2 and 6 (key longer than a block) */
	uint8_t k1[20];
	memset(k1, 0x0b, 20);
	bs_hmac_sha1(k1, 20, "Hi There", 8, d);
	hex(d, 20, h);
	CHECK_STR(h, "b617318655057264e28bc0b6fb378c8ef146be00");
	bs_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, d);
	hex(d, 20, h);
	CHECK_STR(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	uint8_t k6[80];
	memset(k6, 0xaa, 80);
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	bs_hmac_sha1(k6, 80, m6, strlen(m6), d);
	hex(d, 20, h);
	CHECK_STR(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

/* The same tag from Python's hmac module: an implementation we did not write. */
static void test_python_vector(void)
{
	const char *cmd = "/usr/bin/python3 -c \"import hmac,hashlib;"
			  "print(hmac.new(b'sekrit', b'0123' + b'alice@example.net', hashlib.sha1).hexdigest()[:6])\"";
	FILE *p = popen(cmd, "r");
	CHECK(p != NULL);
	if (!p)
		return;
	char py[16] = "";
	if (!fgets(py, sizeof py, p))
		py[0] = 0;
	int rc = pclose(p);
	CHECK_INT(rc, 0);
	py[strcspn(py, "\r\n")] = 0;
	CHECK_INT(strlen(py), 6);
	char tagged[256];
	CHECK(bs_batv_sign((const uint8_t *)"sekrit", 6, 0, 123, "alice@example.net", tagged, sizeof tagged) > 0);
	char want[256];
	snprintf(want, sizeof want, "prvs=0123%s=alice@example.net", py);
	CHECK_STR(tagged, want);
	/* and the verifier accepts the Python-made tag */
	struct bs_batv b;
	bs_batv_init(&b);
	char err[256];
	CHECK_INT(bs_batv_add_key(&b, "example.net:sekrit", err, sizeof err), 0);
	CHECK_INT(bs_batv_check(&b, want, 120), BS_BATV_VALID);
}

static void test_batv(void)
{
	struct bs_batv b;
	char err[256];
	bs_batv_init(&b);
	CHECK_INT(bs_batv_add_key(&b, "Example.COM:s3cret", err, sizeof err), 0);
	CHECK_INT(bs_batv_add_key(&b, "nocolon", err, sizeof err), -1);
	CHECK(strstr(err, "domain:secret") != NULL);
	CHECK_INT(bs_batv_add_key(&b, ":x", err, sizeof err), -1);
	CHECK_INT(bs_batv_add_key(&b, "a b:x", err, sizeof err), -1);
	CHECK_INT(bs_batv_add_key(&b, "example.org:", err, sizeof err), -1);

	uint32_t today = 20000;   /* days since epoch */
	char tagged[256];
	int n = bs_batv_sign((const uint8_t *)"s3cret", 6, 3, today + 7, "bob@example.com", tagged, sizeof tagged);
	CHECK(n > 0);
	CHECK(strncmp(tagged, "prvs=3007", 9) == 0);    /* (20000+7) % 1000 = 7 */
	CHECK_INT(bs_batv_check(&b, tagged, today), BS_BATV_VALID);
	CHECK_INT(bs_batv_check(&b, tagged, today + 7), BS_BATV_VALID);      /* last day */
	CHECK_INT(bs_batv_check(&b, tagged, today + 8), BS_BATV_EXPIRED);    /* day after expiry */
	CHECK_INT(bs_batv_check(&b, tagged, today - 40), BS_BATV_EXPIRED);   /* too far ahead */
	/* case of the hex digits does not matter */
	char upper[256];
	strcpy(upper, tagged);
	for (int i = 9; i < 15; i++)
		if (upper[i] >= 'a' && upper[i] <= 'f')
			upper[i] = (char)(upper[i] - 32);
	CHECK_INT(bs_batv_check(&b, upper, today), BS_BATV_VALID);
	/* one hex digit off */
	char bad[256];
	strcpy(bad, tagged);
	bad[14] = bad[14] == '0' ? '1' : '0';
	CHECK_INT(bs_batv_check(&b, bad, today), BS_BATV_BAD_HASH);
	/* wrong key */
	n = bs_batv_sign((const uint8_t *)"other", 5, 3, today + 7, "bob@example.com", tagged, sizeof tagged);
	CHECK_INT(bs_batv_check(&b, tagged, today), BS_BATV_BAD_HASH);
	/* tag made for another local part */
	bs_batv_sign((const uint8_t *)"s3cret", 6, 3, today + 7, "eve@example.com", tagged, sizeof tagged);
	char swapped[256];
	snprintf(swapped, sizeof swapped, "%.16sbob@example.com", tagged);
	CHECK_INT(bs_batv_check(&b, swapped, today), BS_BATV_BAD_HASH);
	CHECK_INT(bs_batv_check(&b, "bob@example.com", today), BS_BATV_UNTAGGED);
	CHECK_INT(bs_batv_check(&b, "prvs=12=bob@example.com", today), BS_BATV_MALFORMED);
	CHECK_INT(bs_batv_check(&b, "prvs=0123zzzzzz=bob@example.com", today), BS_BATV_MALFORMED);
	CHECK_INT(bs_batv_check(&b, "bob@example.org", today), BS_BATV_NOT_SIGNING);
	CHECK_INT(bs_batv_check(&b, "no-at-sign", today), BS_BATV_NOT_SIGNING);
	/* wrap-around of the 3-digit day: expiry day 2 of the next thousand */
	bs_batv_sign((const uint8_t *)"s3cret", 6, 0, 21002, "bob@example.com", tagged, sizeof tagged);
	CHECK_INT(bs_batv_check(&b, tagged, 20998), BS_BATV_VALID);
	CHECK_INT(bs_batv_check(&b, tagged, 21003), BS_BATV_EXPIRED);

	char tag[11], orig[256];
	CHECK(bs_prvs_parse("prvs=0123abcdef=x=y@d.org", tag, orig, sizeof orig));
	CHECK_STR(tag, "0123abcdef");
	CHECK_STR(orig, "x=y@d.org");
	CHECK(!bs_prvs_parse("prvs=0123abcdef=@d.org", tag, orig, sizeof orig));
	CHECK(!bs_prvs_parse("prvs=0123abcdef=a@", tag, orig, sizeof orig));
	CHECK(!bs_prvs_parse("bob@d.org", tag, orig, sizeof orig));
	CHECK_INT(bs_batv_sign((const uint8_t *)"k", 1, 10, 1, "a@b", tagged, sizeof tagged), -1);
	CHECK_INT(bs_batv_sign((const uint8_t *)"k", 1, 1, 1, "nodomain", tagged, sizeof tagged), -1);
	CHECK_INT(bs_batv_sign((const uint8_t *)"k", 1, 1, 1, "a@b", tagged, 10), -1);
}

static void test_srs(void)
{
	char orig[256];
	CHECK_INT(bs_srs_parse("SRS0=HHH=TT=Example.ORG=alice@forwarder.net", orig, sizeof orig), 1);
	CHECK_STR(orig, "alice@example.org");
	CHECK_INT(bs_srs_parse("srs0+hhh=tt=example.org=a=b@fw.net", orig, sizeof orig), 1);
	CHECK_STR(orig, "a=b@example.org");
	CHECK_INT(bs_srs_parse("SRS1=HHH=first.net==HHH=TT=example.org=alice@second.net", orig, sizeof orig), 2);
	CHECK_STR(orig, "alice@example.org");
	CHECK_INT(bs_srs_parse("alice@example.org", orig, sizeof orig), 0);
	CHECK_INT(bs_srs_parse("SRS0=HHH=TT@fw.net", orig, sizeof orig), -1);
	CHECK_INT(bs_srs_parse("SRS0=HHH=TT==alice@fw.net", orig, sizeof orig), -1);
	CHECK_INT(bs_srs_parse("SRS0=HHH=TT=example.org=@fw.net", orig, sizeof orig), -1);
	CHECK_INT(bs_srs_parse("SRS1=HHH=first.net=HHH=TT=example.org=alice@fw.net", orig, sizeof orig), -1);
	CHECK_INT(bs_srs_parse("SRS0xHHH=TT=d=a@fw.net", orig, sizeof orig), -1);
	CHECK_INT(bs_srs_parse("SRS0=HHH=TT=example.org=alice", orig, sizeof orig), -1);
	CHECK_INT(bs_srs_parse("SRS0=HHH=TT=example.org=alice@fw.net", orig, 8), -1);
}

int main(void)
{
	test_sha1();
	test_python_vector();
	test_batv();
	test_srs();
	TEST_DONE();
}
