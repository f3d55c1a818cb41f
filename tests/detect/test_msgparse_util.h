/* Helpers shared by the message-parser tests: file loading, a facts
 * printer, and a consumer that hashes each scope stream (to compare two
 * runs byte for byte without keeping the streams). */
#ifndef BS_TEST_MSGPARSE_UTIL_H
#define BS_TEST_MSGPARSE_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "dataplane/detect/msgparse.h"

static int t_fail __attribute__((unused));
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); t_fail++; } } while (0)
#define CHECK_STR(a, b) do { if (strcmp((a), (b))) { fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, (a), (b)); t_fail++; } } while (0)

/* FNV-1a per scope, plus counts: chunking must not change any of it */
struct t_sink {
	uint64_t hash[BS_SCOPE_MAX];
	uint64_t len[BS_SCOPE_MAX];
	uint64_t field_hash[2];
	uint32_t nfields[2];
	uint32_t nfacts;
	uint64_t fact_hash;
	/* optional capture of one scope into a buffer */
	int cap_scope;
	char *cap;
	size_t cap_len, cap_max;
};

static inline void t_fnv(uint64_t *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t x = *h ? *h : 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		x ^= b[i];
		x *= 1099511628211ull;
	}
	*h = x;
}

static inline void t_bytes(void *ctx, enum bs_scope s, const uint8_t *p, size_t n)
{
	struct t_sink *k = ctx;
	t_fnv(&k->hash[s], p, n);
	k->len[s] += n;
	if (k->cap && (int)s == k->cap_scope) {
		size_t m = n;
		if (k->cap_len + m > k->cap_max)
			m = k->cap_max - k->cap_len;
		memcpy(k->cap + k->cap_len, p, m);
		k->cap_len += m;
	}
}

static inline void t_field(void *ctx, bool orig, const char *name, size_t nl, const char *v, size_t vl)
{
	struct t_sink *k = ctx;
	t_fnv(&k->field_hash[orig], name, nl);
	t_fnv(&k->field_hash[orig], ":", 1);
	t_fnv(&k->field_hash[orig], v, vl);
	k->nfields[orig]++;
}

static inline void t_fact(void *ctx, int id, uint64_t off)
{
	struct t_sink *k = ctx;
	k->nfacts++;
	t_fnv(&k->fact_hash, &id, sizeof(id));
	t_fnv(&k->fact_hash, &off, sizeof(off));
}

static const struct bs_msgparse_cb t_cb = { t_bytes, t_field, t_fact };

static inline uint8_t *t_load(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)sz + 1);
	if (!b || fread(b, 1, (size_t)sz, fp) != (size_t)sz) {
		free(b);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*n = (size_t)sz;
	return b;
}

static inline struct bs_msgparse *t_parser(void)
{
	struct bs_msgparse *mp = malloc(bs_msgparse_size());
	if (!mp) {
		perror("malloc");
		exit(1);
	}
	return mp;
}

/* parse buf in chunks of `chunk` bytes (0: whole) */
static inline void t_parse(struct bs_msgparse *mp, struct bs_msg_facts *f, struct t_sink *k,
		    const uint8_t *buf, size_t n, size_t chunk)
{
	bs_msgparse_init(mp, f, &t_cb, k);
	if (!chunk)
		chunk = n ? n : 1;
	for (size_t o = 0; o < n; o += chunk) {
		size_t m = n - o < chunk ? n - o : chunk;
		bs_msgparse_feed(mp, BS_PART_BODY, o, buf + o, (uint32_t)m);
	}
	bs_msgparse_end(mp);
}

static inline void t_print_facts(FILE *o, const struct bs_msg_facts *f)
{
	fprintf(o, "top_ctype=%s report=%s is_dsn=%d is_mdn=%d ds_part=%d report_in_orig=%d parts=%u depth=%u flags=",
		bs_ctype_name[f->top_ctype], bs_report_type_name[f->top_report_type], f->is_dsn,
		f->is_mdn, f->ds_part_seen, f->report_in_orig, f->n_parts, f->max_depth);
	for (int i = 0; i < BS_MF_MAX_BIT; i++)
		if (f->flags & (1u << i))
			fprintf(o, "%s,", bs_mf_name[i]);
	fprintf(o, "\nsubject=\"%s\" from=\"%s\" auto_submitted=%s precedence=%s ar=%#x list=%d xfr=\"%s\"\n",
		f->subject, f->from, bs_auto_submitted_name[f->auto_submitted],
		bs_precedence_name[f->precedence], f->autoreply_marks, f->has_list_headers,
		f->x_failed_recipients);
	fprintf(o, "dsn: reporting_mta=\"%s\" arrival=\"%s\" n_rcpt=%u any_failed=%d all_delayed=%d all_success=%d\n",
		f->reporting_mta, f->arrival_date, f->n_rcpt, f->any_failed, f->all_delayed, f->all_success);
	for (int i = 0; i < f->n_rcpt_kept; i++)
		fprintf(o, "  rcpt final=\"%s\" orig=\"%s\" action=%s status=%s remote=\"%s\" diag=\"%.60s\"\n",
			f->rcpt[i].final_recipient, f->rcpt[i].original_recipient,
			bs_dsn_action_name[f->rcpt[i].action], f->rcpt[i].status, f->rcpt[i].remote_mta,
			f->rcpt[i].diagnostic);
	fprintf(o, "marker=%s orig=%s complete=%d msgid=\"%s\" from=\"%s\" to=\"%s\" subject=\"%s\" date=\"%s\" rp=\"%s\" received=%u\n",
		bs_inline_marker_name[f->inline_marker], bs_orig_how_name[f->orig_how],
		f->orig_headers_complete, f->orig_message_id, f->orig_from, f->orig_to, f->orig_subject,
		f->orig_date, f->orig_return_path, f->n_received);
	for (int i = 0; i < f->n_received_kept; i++)
		fprintf(o, "  hop from=\"%s\" rdns=\"%s\" ip=\"%s\" by=\"%s\"\n", f->received[i].from_host,
			f->received[i].from_rdns, f->received[i].from_ip, f->received[i].by_host);
	fprintf(o, "facts:");
	for (int i = 0; i < BS_FACT_MAX; i++)
		if (bs_fact_known(f, i))
			fprintf(o, " %s@%llu", bs_fact_name[i], (unsigned long long)f->offset[i]);
	fprintf(o, "\n");
}

#endif
