/* The message parser over the real bounce corpus (../shared/corpus):
 * how many RFC 3464 DSNs get a parsed DSN, how many returned originals get
 * their Message-ID extracted, per manifest label; every message parsed
 * whole and in 7-byte chunks must give identical facts and streams.
 * Exit 77 (skip) when the corpus is absent.
 * Usage: test_msgparse_corpus CORPUS_DIR | --dump FILE [CHUNK] */
#include "test_msgparse_util.h"
#include <time.h>
#include <errno.h>

#define MAX_COLS 20

static int split_tsv(char *line, char **cols)
{
	int n = 0;
	cols[n++] = line;
	for (char *p = line; *p; p++) {
		if (*p == '\t' && n < MAX_COLS) {
			*p = '\0';
			cols[n++] = p + 1;
		} else if (*p == '\n' || *p == '\r') {
			*p = '\0';
			break;
		}
	}
	return n;
}

static int col_index(char **hdr, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(hdr[i], name))
			return i;
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: robust to a busy box */
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--dump")) {
		size_t n;
		uint8_t *b = t_load(argv[2], &n);
		if (!b) {
			fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		struct bs_msgparse *mp = t_parser();
		struct bs_msg_facts f;
		struct t_sink k = { 0 };
		t_parse(mp, &f, &k, b, n, argc > 3 ? (size_t)atoi(argv[3]) : 0);
		t_print_facts(stdout, &f);
		printf("scopes: headers=%llu body=%llu orig_headers=%llu dsn=%llu fields=%u/%u\n",
		       (unsigned long long)k.len[BS_SCOPE_HEADERS], (unsigned long long)k.len[BS_SCOPE_BODY],
		       (unsigned long long)k.len[BS_SCOPE_ORIG_HEADERS], (unsigned long long)k.len[BS_SCOPE_DSN],
		       k.nfields[0], k.nfields[1]);
		free(b);
		free(mp);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR | --dump FILE [CHUNK]\n", argv[0]);
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/manifest.tsv", argv[1]);
	FILE *man = fopen(path, "r");
	if (!man) {
		printf("corpus not available (%s): skipping\n", path);
		return 77;
	}
	char line[8192], hdrline[8192];
	char *hdr[MAX_COLS], *cols[MAX_COLS];
	if (!fgets(hdrline, sizeof(hdrline), man)) {
		fprintf(stderr, "%s:1: empty manifest\n", path);
		return 1;
	}
	int nh = split_tsv(hdrline, hdr);
	int c_file = col_index(hdr, nh, "file"), c_class = col_index(hdr, nh, "class");
	int c_3464 = col_index(hdr, nh, "rfc3464"), c_orig = col_index(hdr, nh, "returned_original");
	if (c_file < 0 || c_class < 0 || c_3464 < 0 || c_orig < 0) {
		fprintf(stderr, "%s:1: missing column (file, class, rfc3464, returned_original)\n", path);
		return 1;
	}
	struct bs_msgparse *mp = t_parser();
	unsigned n_ndr = 0, dsn_yes = 0, dsn_yes_ok = 0, dsn_yes_rcpt = 0, dsn_no_but_found = 0, dsn_no_nested = 0;
	unsigned broken = 0, broken_found = 0;
	const char *orig_kinds[] = { "full-message", "headers-only", "inline-text", "none" };
	unsigned orig_n[4] = { 0 }, orig_found[4] = { 0 }, orig_msgid[4] = { 0 };
	unsigned other_n = 0, other_dsn = 0, other_orig = 0, chunk_mismatch = 0, lineno = 1;
	uint64_t bytes = 0;
	double t_parse_s = 0;
	FILE *miss = getenv("BS_CORPUS_MISSES") ? fopen(getenv("BS_CORPUS_MISSES"), "w") : NULL;
	while (fgets(line, sizeof(line), man)) {
		lineno++;
		int nc = split_tsv(line, cols);
		if (nc <= c_orig)
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], cols[c_file]);
		size_t n;
		uint8_t *b = t_load(path, &n);
		if (!b) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			chunk_mismatch++;
			continue;
		}
		static struct bs_msg_facts f1, f2;
		struct t_sink k1 = { 0 }, k2 = { 0 };
		double t0 = now_s();
		t_parse(mp, &f1, &k1, b, n, 0);
		t_parse_s += now_s() - t0;
		bytes += n;
		t_parse(mp, &f2, &k2, b, n, 7);
		if (memcmp(&f1, &f2, sizeof(f1)) || memcmp(&k1, &k2, sizeof(k1))) {
			fprintf(stderr, "%s: facts or streams differ between whole and 7-byte chunks\n", path);
			chunk_mismatch++;
		}
		free(b);
		bool ndr = !strcmp(cols[c_class], "ndr");
		if (!ndr) {
			other_n++;
			other_dsn += f1.is_dsn;
			other_orig += f1.orig_how != BS_ORIG_NONE;
			continue;
		}
		n_ndr++;
		bool ok = f1.is_dsn && f1.n_rcpt > 0;
		if (!strcmp(cols[c_3464], "yes")) {
			dsn_yes++;
			dsn_yes_ok += f1.is_dsn;
			dsn_yes_rcpt += ok;
			if (!ok && miss)
				fprintf(miss, "dsn-miss %s\n", cols[c_file]);
		} else if (!strcmp(cols[c_3464], "declared-but-broken")) {
			broken++;
			broken_found += ok;
		} else {
			dsn_no_but_found += ok;
			dsn_no_nested += !ok && f1.report_in_orig;
		}
		for (int i = 0; i < 4; i++)
			if (!strcmp(cols[c_orig], orig_kinds[i])) {
				orig_n[i]++;
				orig_found[i] += f1.orig_how != BS_ORIG_NONE;
				orig_msgid[i] += f1.orig_message_id[0] != '\0';
				if (miss && i < 3 && !f1.orig_message_id[0])
					fprintf(miss, "orig-miss %s %s how=%s\n", orig_kinds[i], cols[c_file],
						bs_orig_how_name[f1.orig_how]);
			}
	}
	fclose(man);
	if (miss)
		fclose(miss);
	free(mp);
	printf("ndr messages: %u\n", n_ndr);
	printf("rfc3464=yes: %u, is_dsn: %u (%.1f%%), with parsed recipient groups: %u (%.1f%%)\n", dsn_yes,
	       dsn_yes_ok, 100.0 * dsn_yes_ok / (dsn_yes ? dsn_yes : 1), dsn_yes_rcpt,
	       100.0 * dsn_yes_rcpt / (dsn_yes ? dsn_yes : 1));
	printf("rfc3464=declared-but-broken: %u, DSN recovered anyway: %u\n", broken, broken_found);
	printf("rfc3464=no but a DS part parsed: %u; a DSN inside the attached message only: %u\n",
	       dsn_no_but_found, dsn_no_nested);
	for (int i = 0; i < 4; i++)
		printf("returned_original=%-13s %4u  original found: %4u (%.1f%%)  Message-ID: %4u (%.1f%%)\n",
		       orig_kinds[i], orig_n[i], orig_found[i], 100.0 * orig_found[i] / (orig_n[i] ? orig_n[i] : 1),
		       orig_msgid[i], 100.0 * orig_msgid[i] / (orig_n[i] ? orig_n[i] : 1));
	printf("non-ndr messages: %u, is_dsn: %u, original found: %u\n", other_n, other_dsn, other_orig);
	printf("parse throughput (whole messages, all classes): %.1f MB/s over %.1f MB\n",
	       bytes / 1e6 / (t_parse_s > 0 ? t_parse_s : 1e-9), bytes / 1e6);
	printf("chunking mismatches: %u\n", chunk_mismatch);
	int rc = 0;
	if (chunk_mismatch)
		rc = 1;
	if (dsn_yes == 0 || dsn_yes_rcpt * 100 < dsn_yes * 95) {
		fprintf(stderr, "FAIL: fewer than 95%% of rfc3464=yes messages have a parsed DSN\n");
		rc = 1;
	}
	unsigned mime_n = orig_n[0] + orig_n[1], mime_id = orig_msgid[0] + orig_msgid[1];
	if (mime_n == 0 || mime_id * 100 < mime_n * 90) {
		fprintf(stderr, "FAIL: fewer than 90%% of MIME-returned originals have a Message-ID\n");
		rc = 1;
	}
	return rc;
}
