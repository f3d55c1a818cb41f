/* backstopctl rules check|compile|dump|scan: the operator's view of rule
 * files and bundles. Exit codes: 0 success, 1 bad input (rules, bundle or
 * message file), 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "rules.h"
#include "rules_scan.h"

#define ERRBUF 16384

static void usage(FILE *f)
{
	fprintf(f,
		"usage: backstopctl rules check FILE\n"
		"       backstopctl rules compile FILE -o BUNDLE [--native]\n"
		"       backstopctl rules dump FILE|BUNDLE\n"
		"       backstopctl rules scan [--tsv] [--bench N] [--helo H] [--mail-from A] [--rcpt-to A]\n"
		"                              FILE|BUNDLE MESSAGE...\n");
}

static void print_summary(FILE *f, const struct bs_ruleset *rs)
{
	fprintf(f, "%s: %u rules, %u patterns, %s x86-64", rs->source, rs->n_rules, rs->n_expressions,
		rs->native ? "native" : "generic");
	if (rs->compile_seconds > 0)
		fprintf(f, ", compiled in %.3f s", rs->compile_seconds);
	int w = 12;   /* widest scope name, for a straight table */
	for (uint32_t i = 0; i < rs->n_fields; i++)
		if ((int)strlen(rs->fields[i].name) + 7 > w)
			w = (int)strlen(rs->fields[i].name) + 7;
	fprintf(f, "\n%-*s %6s %10s %12s\n", w, "scope", "rules", "db bytes", "stream state");
	size_t total_db = 0;
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (s == BS_SCOPE_HEADER_FIELD || !rs->n_rules_scope[s])
			continue;
		fprintf(f, "%-*s %6u %10zu %12zu\n", w, bs_scope_name(s), rs->n_rules_scope[s], rs->db_size[s],
			rs->stream_state_size[s]);
		total_db += rs->db_size[s];
	}
	for (uint32_t i = 0; i < rs->n_fields; i++) {
		char name[80];
		snprintf(name, sizeof(name), "header:%s", rs->fields[i].name);
		fprintf(f, "%-*s %6u %10zu %12s\n", w, name, rs->fields[i].n_rules, rs->fields[i].db_size, "-");
		total_db += rs->fields[i].db_size;
	}
	fprintf(f, "total database bytes %zu, stream state per transaction %zu bytes\n", total_db,
		bs_rules_txn_stream_state(rs));
}

static int cmd_check(int argc, char **argv)
{
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	char *err = malloc(ERRBUF);
	struct bs_ruleset *rs;
	if (!err)
		return 1;
	if (bs_rules_load_file(argv[1], false, &rs, err, ERRBUF) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	print_summary(stdout, rs);
	bs_rules_free(rs);
	free(err);
	return 0;
}

static int cmd_compile(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	bool native = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--native"))
			native = true;
		else if (argv[i][0] != '-' && !in)
			in = argv[i];
		else {
			usage(stderr);
			return 2;
		}
	}
	if (!in || !out) {
		usage(stderr);
		return 2;
	}
	char *err = malloc(ERRBUF);
	struct bs_ruleset *rs;
	if (!err)
		return 1;
	if (bs_rules_load_file(in, native, &rs, err, ERRBUF) < 0 ||
	    (bs_rules_save_bundle(rs, out, err, ERRBUF) < 0 && (bs_rules_free(rs), 1))) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	print_summary(stdout, rs);
	printf("wrote %s\n", out);
	bs_rules_free(rs);
	free(err);
	return 0;
}

static void flags_str(uint32_t f, char *out)
{
	char *o = out;
	*o++ = (f & BS_RULE_F_LIST) ? '@' : (f & BS_RULE_F_REGEX) ? '/' : '"';
	if (f & BS_RULE_F_CASELESS)
		*o++ = 'i';
	if (f & BS_RULE_F_MULTILINE)
		*o++ = 'm';
	if (f & BS_RULE_F_DOTALL)
		*o++ = 's';
	*o = 0;
}

static int cmd_dump(int argc, char **argv)
{
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	char *err = malloc(ERRBUF);
	struct bs_ruleset *rs;
	if (!err)
		return 1;
	if (bs_rules_load(argv[1], &rs, err, ERRBUF) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	if (bs_rules_is_bundle(argv[1]))
		printf("bundle %s (format 1, built from %s, %s)\n", argv[1], rs->source, hs_version());
	print_summary(stdout, rs);
	/* what each database was built for (a bundle's platform check) */
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		char *info = NULL;
		if (rs->db[s] && hs_database_info(rs->db[s], &info) == HS_SUCCESS) {
			printf("database %-12s %s\n", bs_scope_name(s), info);
			free(info);
		}
	}
	printf("%-10s %-18s %-20s %6s %-5s %s\n", "id", "scope", "signal", "weight", "kind", "name  [source]");
	for (uint32_t i = 0; i < rs->n_rules; i++) {
		const struct bs_rule *r = &rs->rules[i];
		char scope[80], fl[8];
		if (r->scope == BS_SCOPE_HEADER_FIELD)
			snprintf(scope, sizeof(scope), "header:%s", r->field);
		else
			snprintf(scope, sizeof(scope), "%s", bs_scope_name(r->scope));
		flags_str(r->flags, fl);
		printf("%-10u %-18s %-20s %6d %-5s %s  [%s:%d]", r->id, scope, bs_signal_name(r->signal), r->weight,
		       fl, r->name, r->file, r->line);
		if (r->depth)
			printf(" depth %u", r->depth);
		printf("\n");
	}
	bs_rules_free(rs);
	free(err);
	return 0;
}

/* ---- scan ---- */

struct scan_out {
	const char *file;
	bool tsv;
	uint32_t ids[512];
	unsigned n;
	unsigned long long matches;
};

static void on_match(void *ctx, const struct bs_rule *r, enum bs_scope scope, unsigned long long off)
{
	struct scan_out *o = ctx;
	o->matches++;
	for (unsigned i = 0; i < o->n; i++)
		if (o->ids[i] == r->id)
			return;
	if (o->n < sizeof(o->ids) / sizeof(o->ids[0]))
		o->ids[o->n++] = r->id;
	if (!o->tsv && o->file)
		printf("%s: rule %u \"%s\" %s %+d (%s%s%s at byte %llu)\n", o->file, r->id, r->name,
		       bs_signal_name(r->signal), r->weight, bs_scope_name(scope),
		       scope == BS_SCOPE_HEADER_FIELD ? ":" : "", scope == BS_SCOPE_HEADER_FIELD ? r->field : "",
		       off);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			if (cap >= (256u << 20)) {   /* a message file larger than this is not mail */
				free(buf);
				buf = NULL;
				break;
			}
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (!r)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return buf;
}

static int run_bench(const struct bs_ruleset *rs, hs_scratch_t *scratch, uint8_t **bufs, size_t *lens, int nfiles,
		     long rounds)
{
	char err[256];
	struct bs_rules_bench res;
	if (bs_rules_bench_run(rs, scratch, (const uint8_t *const *)bufs, lens, nfiles, rounds, &res, err,
			       sizeof(err)) < 0) {
		fprintf(stderr, "backstopctl rules scan --bench: %s\n", err);
		return 1;
	}
	printf("bench: %d messages, %.2f MB, %ld rounds (per CPU second of this thread)\n", nfiles,
	       res.message_bytes / 1e6, rounds);
	printf("  split+decode+scan  %8.1f MB/s of message bytes (%llu matches)\n", res.offline_mbps,
	       res.offline_matches);
	printf("  hyperscan all      %8.1f MB/s of message bytes, %8.1f MB/s of scanned bytes "
	       "(%.2f MB scanned per round, %llu matches)\n", res.all_mbps_message, res.all_mbps_scanned,
	       res.all_scanned_bytes / 1e6, res.all_matches);
	printf("  hyperscan headers  %8.1f MB/s of message bytes, %8.1f MB/s of scanned bytes "
	       "(%.2f MB scanned per round, %llu matches)\n", res.hdr_mbps_message, res.hdr_mbps_scanned,
	       res.hdr_scanned_bytes / 1e6, res.hdr_matches);
	return 0;
}

static int cmd_scan(int argc, char **argv)
{
	bool tsv = false;
	long bench = 0;
	const char *env[BS_SCOPE_MAX] = { 0 };   /* envelope values given on the command line */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--tsv"))
			tsv = true;
		else if (!strcmp(argv[i], "--helo") && i + 1 < argc)
			env[BS_SCOPE_HELO] = argv[++i];
		else if (!strcmp(argv[i], "--mail-from") && i + 1 < argc)
			env[BS_SCOPE_MAIL_FROM] = argv[++i];
		else if (!strcmp(argv[i], "--rcpt-to") && i + 1 < argc)
			env[BS_SCOPE_RCPT_TO] = argv[++i];
		else if (!strcmp(argv[i], "--bench") && i + 1 < argc && (bench = atol(argv[i + 1])) > 0)
			i++;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (argc - i < 2) {
		usage(stderr);
		return 2;
	}
	char *err = malloc(ERRBUF);
	struct bs_ruleset *rs;
	hs_scratch_t *scratch = NULL;
	if (!err)
		return 1;
	if (bs_rules_load(argv[i], &rs, err, ERRBUF) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	if (bs_rules_alloc_scratch(rs, &scratch, err, ERRBUF) < 0) {
		fprintf(stderr, "%s\n", err);
		bs_rules_free(rs);
		free(err);
		return 1;
	}
	int rc = 0;
	int nfiles = argc - i - 1;
	char **files = argv + i + 1;
	uint8_t **bufs = bench ? calloc((size_t)nfiles, sizeof(*bufs)) : NULL;
	size_t *lens = bench ? calloc((size_t)nfiles, sizeof(*lens)) : NULL;
	if (bench && (!bufs || !lens)) {
		fprintf(stderr, "backstopctl rules scan: out of memory\n");
		rc = 1;
		goto out;
	}
	for (int k = 0; k < nfiles; k++) {
		size_t len;
		uint8_t *buf = read_file(files[k], &len);
		if (!buf) {
			fprintf(stderr, "%s: cannot read message file\n", files[k]);
			rc = 1;
			continue;
		}
		struct scan_out o = { .file = bench ? NULL : files[k], .tsv = tsv };
		for (int sc = 0; sc < BS_SCOPE_MAX; sc++)
			if (env[sc])
				bs_rules_scan_block(rs, rs->db[sc], sc, scratch, (const uint8_t *)env[sc], strlen(env[sc]),
						    on_match, &o);
		if (bs_rules_scan_message(rs, scratch, buf, len, on_match, &o, err, ERRBUF) < 0) {
			fprintf(stderr, "%s: %s\n", files[k], err);
			rc = 1;
		} else if (tsv && !bench) {
			printf("%s\t", files[k]);
			for (unsigned j = 0; j < o.n; j++)
				printf("%s%u", j ? "," : "", o.ids[j]);
			printf("\n");
		}
		if (bench) {
			bufs[k] = buf;
			lens[k] = len;
		} else {
			free(buf);
		}
	}
	if (bench && rc == 0)
		rc = run_bench(rs, scratch, bufs, lens, nfiles, bench);
out:
	if (bufs)
		for (int k = 0; k < nfiles; k++)
			free(bufs[k]);
	free(bufs);
	free(lens);
	hs_free_scratch(scratch);
	bs_rules_free(rs);
	free(err);
	return rc;
}

int ctl_rules_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "compile"))
		return cmd_compile(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "scan"))
		return cmd_scan(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "backstopctl rules: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
