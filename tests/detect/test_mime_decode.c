/* Streaming base64 / quoted-printable decoders: known vectors,
 * the same output whatever the split point (every position, and every
 * chunk size), invalid input handled without overrun. */
#include "test_msgparse_util.h"
#include "dataplane/detect/mime_decode.h"

typedef size_t (*dec_fn)(void *st, const uint8_t *in, size_t n, uint8_t *out);
typedef size_t (*fin_fn)(void *st, uint8_t *out);

static size_t b64_dec(void *st, const uint8_t *in, size_t n, uint8_t *out) { return bs_b64_decode(st, in, n, out); }
static size_t b64_fin(void *st, uint8_t *out) { return bs_b64_finish(st, out); }
static size_t qp_dec(void *st, const uint8_t *in, size_t n, uint8_t *out) { return bs_qp_decode(st, in, n, out); }
static size_t qp_fin(void *st, uint8_t *out) { return bs_qp_finish(st, out); }

/* decode `in` cut at the given positions; out must be large */
static size_t run(bool b64, const char *in, const size_t *cuts, int ncuts, uint8_t *out, uint32_t *invalid)
{
	struct bs_b64 bd;
	struct bs_qp qd;
	void *st = b64 ? (void *)&bd : (void *)&qd;
	dec_fn dec = b64 ? b64_dec : qp_dec;
	fin_fn fin = b64 ? b64_fin : qp_fin;
	if (b64) bs_b64_init(&bd); else bs_qp_init(&qd);
	size_t n = strlen(in), o = 0, prev = 0;
	for (int i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		size_t m = end - prev;
		/* decode from a tight heap copy so that ASan/valgrind see any overread */
		uint8_t *piece = malloc(m ? m : 1);
		memcpy(piece, in + prev, m);
		size_t cap = b64 ? BS_B64_OUT_MAX(m) : BS_QP_OUT_MAX(m);
		uint8_t *tmp = malloc(cap + 1);
		size_t got = dec(st, piece, m, tmp);
		CHECK(got <= cap);
		memcpy(out + o, tmp, got);
		o += got;
		free(piece);
		free(tmp);
		prev = end;
	}
	o += fin(st, out + o);
	if (invalid)
		*invalid = b64 ? bd.invalid : qd.invalid;
	return o;
}

static void check_vector(bool b64, const char *in, const char *want, size_t wlen, bool want_invalid)
{
	uint8_t out[4096], out2[4096];
	uint32_t inv;
	size_t n = run(b64, in, NULL, 0, out, &inv);
	if (n != wlen || memcmp(out, want, wlen)) {
		fprintf(stderr, "%s decode of \"%s\": got %zu bytes \"%.*s\", want \"%.*s\"\n", b64 ? "base64" : "qp",
			in, n, (int)n, out, (int)wlen, want);
		t_fail++;
	}
	CHECK((inv != 0) == want_invalid);
	/* one cut at every position, and two cuts at every pair */
	size_t len = strlen(in);
	for (size_t c = 0; c <= len; c++) {
		size_t m = run(b64, in, &c, 1, out2, NULL);
		if (m != n || memcmp(out, out2, n)) {
			fprintf(stderr, "%s \"%s\": split at %zu changes output\n", b64 ? "base64" : "qp", in, c);
			t_fail++;
		}
	}
	for (size_t a = 0; a <= len && len <= 80; a++)
		for (size_t b = a; b <= len; b++) {
			size_t cuts[2] = { a, b };
			size_t m = run(b64, in, cuts, 2, out2, NULL);
			if (m != n || memcmp(out, out2, n)) {
				fprintf(stderr, "%s \"%s\": splits at %zu,%zu change output\n", b64 ? "base64" : "qp", in, a, b);
				t_fail++;
				return;
			}
		}
}

#define B64(in, want, bad) check_vector(true, in, want, sizeof(want) - 1, bad)
#define QP(in, want, bad) check_vector(false, in, want, sizeof(want) - 1, bad)

static void test_b64(void)
{
	B64("", "", false);
	B64("Zg==", "f", false);
	B64("Zm8=", "fo", false);
	B64("Zm9v", "foo", false);
	B64("Zm9vYg==", "foob", false);
	B64("Zm9vYmE=", "fooba", false);
	B64("Zm9vYmFy", "foobar", false);
	/* line breaks of every style and spaces are skipped */
	B64("Zm9v\r\nYmFy\r\n", "foobar", false);
	B64("Zm9v\nYm\rFy \t", "foobar", false);
	/* missing padding at the end still yields the whole bytes */
	B64("Zm9vYg", "foob", false);
	B64("Zm9vYmE", "fooba", false);
	/* concatenated padded blocks (seen when MTAs glue encoded pieces) */
	B64("Zg==Zm8=", "ffo", false);
	/* invalid characters are skipped and counted */
	B64("Zm9v*YmFy", "foobar", true);
	B64("Zm9v\x80YmFy", "foobar", true);
	B64("Z===", "", true);          /* a lone sextet before padding */
	B64("Zm9vY", "foo", true);      /* a lone sextet at the end */
	B64("=Zg==", "f", true);        /* padding with nothing before it */
	/* a real DSN body fragment */
	B64("UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldApBY3Rpb246IGZhaWxlZAo=",
	    "Reporting-MTA: dns; mx.example.net\nAction: failed\n", false);
}

static void test_qp(void)
{
	QP("", "", false);
	QP("plain text\n", "plain text\n", false);
	QP("caf=C3=A9 =e9\n", "caf\xc3\xa9 \xe9\n", false);
	QP("soft=\nbreak", "softbreak", false);
	QP("soft=\r\nbreak", "softbreak", false);
	QP("soft=\rbreak", "softbreak", false);          /* old-Mac line ending */
	QP("soft=  \nbreak", "softbreak", false);        /* padding after the '=' */
	QP("hard\r\nbreak", "hard\r\nbreak", false);
	QP("a==3D", "a==", true);                       /* "==" is invalid, then "=3D" */
	QP("bad=G1 ok", "bad=G1 ok", true);
	QP("bad=4", "bad=4", true);                     /* dangling at the end */
	QP("end=", "end=", true);
	QP("x= y", "x=y", true);                        /* '=' + space + text: '=' kept, spaces dropped */
	QP("=3D=3d", "==", false);
}

static void test_cte(void)
{
	CHECK(bs_cte_parse("base64", 6) == BS_CTE_BASE64);
	CHECK(bs_cte_parse(" BASE64 ", 8) == BS_CTE_BASE64);
	CHECK(bs_cte_parse("Quoted-Printable", 16) == BS_CTE_QP);
	CHECK(bs_cte_parse("\"quoted-printable\"", 18) == BS_CTE_QP);
	CHECK(bs_cte_parse("7bit", 4) == BS_CTE_IDENTITY);
	CHECK(bs_cte_parse("x-uuencode", 10) == BS_CTE_IDENTITY);
	CHECK(bs_cte_parse("", 0) == BS_CTE_IDENTITY);
}

int main(void)
{
	test_b64();
	test_qp();
	test_cte();
	if (t_fail) {
		fprintf(stderr, "%d failure(s)\n", t_fail);
		return 1;
	}
	printf("mime_decode: all passed\n");
	return 0;
}
