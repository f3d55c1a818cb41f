/* Rule sets: loading (rule file or bundle), lifetime, lookups shared by the
 * dataplane and backstopctl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "rules_internal.h"

#ifndef BS_RULES_SRCDIR
#define BS_RULES_SRCDIR "rules"
#endif
#ifndef BS_RULES_DATADIR
#define BS_RULES_DATADIR "/usr/local/share/backstop/rules"
#endif

void bs_errs_add(struct bs_errs *e, const char *file, int line, const char *fmt, ...)
{
	e->n++;
	if (!e->buf || e->cap == 0)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char one[1400];
	int n;
	if (line > 0)
		n = snprintf(one, sizeof(one), "%s%s:%d: %s", e->len ? "\n" : "", file ? file : "?", line, msg);
	else
		n = snprintf(one, sizeof(one), "%s%s: %s", e->len ? "\n" : "", file ? file : "?", msg);
	if (n < 0)
		return;
	if (e->len + 1 >= e->cap)
		return;
	snprintf(e->buf + e->len, e->cap - e->len, "%s", one);
	size_t added = strlen(e->buf + e->len);
	e->len += added;
}

struct bs_ruleset *bs_ruleset_new(void)
{
	struct bs_ruleset *rs = calloc(1, sizeof(*rs));
	return rs;
}

const char *bs_ruleset_intern_file(struct bs_ruleset *rs, const char *path)
{
	for (uint32_t i = 0; i < rs->n_files_; i++)
		if (!strcmp(rs->files_[i], path))
			return rs->files_[i];
	if (rs->n_files_ >= BS_RULES_MAX_FILES)
		return NULL;
	char **v = realloc(rs->files_, (rs->n_files_ + 1) * sizeof(*v));
	if (!v)
		return NULL;
	rs->files_ = v;
	char *d = strdup(path);
	if (!d)
		return NULL;
	rs->files_[rs->n_files_++] = d;
	return d;
}

void bs_ruleset_fill_sizes(struct bs_ruleset *rs)
{
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		rs->db_size[s] = 0;
		rs->stream_state_size[s] = 0;
		if (!rs->db[s])
			continue;
		hs_database_size(rs->db[s], &rs->db_size[s]);
		if (bs_scope_is_stream(s))
			hs_stream_size(rs->db[s], &rs->stream_state_size[s]);
	}
	for (uint32_t f = 0; f < rs->n_fields; f++) {
		rs->fields[f].db_size = 0;
		if (rs->fields[f].db)
			hs_database_size(rs->fields[f].db, &rs->fields[f].db_size);
	}
	bs_ruleset_index_fields(rs);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load_source(const char *path, bool compile, bool native_cpu, struct bs_ruleset **out,
		       char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	struct bs_errs e = { err, 0, errlen, 0 };
	double t0 = now_s();
	struct bs_parsed p;
	unsigned nerr = bs_rules_parse(path, &p, &e);
	if (!nerr && compile)
		nerr = bs_rules_compile(&p, native_cpu, &e);
	bs_parsed_free_exprs(&p);
	if (nerr) {
		bs_rules_free(p.rs);
		return -1;
	}
	p.rs->compile_seconds = now_s() - t0;
	*out = p.rs;
	return 0;
}

int bs_rules_load_file(const char *path, bool native_cpu, struct bs_ruleset **out, char *err, size_t errlen)
{
	return load_source(path, true, native_cpu, out, err, errlen);
}

int bs_rules_parse_only(const char *path, struct bs_ruleset **out, char *err, size_t errlen)
{
	return load_source(path, false, false, out, err, errlen);
}

int bs_rules_load(const char *path, struct bs_ruleset **out, char *err, size_t errlen)
{
	if (bs_rules_is_bundle(path))
		return bs_rules_load_bundle(path, out, err, errlen);
	/* compiled here to run here: tune for this CPU (a bundle is the
	 * portable form) */
	return bs_rules_load_file(path, true, out, err, errlen);
}

void bs_rules_free(struct bs_ruleset *rs)
{
	if (!rs)
		return;
	for (int s = 0; s < BS_SCOPE_MAX; s++)
		hs_free_database(rs->db[s]);
	for (uint32_t f = 0; f < rs->n_fields; f++)
		hs_free_database(rs->fields[f].db);
	free(rs->fields);
	free(rs->field_slots_);
	free(rs->rules);
	for (uint32_t i = 0; i < rs->n_files_; i++)
		free(rs->files_[i]);
	free(rs->files_);
	free(rs);
}

const char *bs_rules_default_path(void)
{
	const char *env = getenv("BACKSTOP_RULES");
	if (env && *env)
		return env;
	if (access(BS_RULES_SRCDIR "/default.rules", R_OK) == 0)
		return BS_RULES_SRCDIR "/default.rules";
	return BS_RULES_DATADIR "/default.rules";
}

/* FNV-1a over the lower-cased name: the fast path looks up every header
 * field of every message, so this avoids a string compare per known field. */
static uint32_t field_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * 16777619u;
	}
	return h;
}

void bs_ruleset_index_fields(struct bs_ruleset *rs)
{
	free(rs->field_slots_);
	rs->field_slots_ = NULL;
	rs->field_mask_ = 0;
	if (!rs->n_fields)
		return;
	uint32_t cap = 16;
	while (cap < rs->n_fields * 4)
		cap *= 2;
	rs->field_slots_ = calloc(cap, sizeof(*rs->field_slots_));
	if (!rs->field_slots_)
		return;                 /* lookups fall back to the linear search */
	rs->field_mask_ = cap - 1;
	for (uint32_t f = 0; f < rs->n_fields; f++) {
		uint32_t h = field_hash(rs->fields[f].name, strlen(rs->fields[f].name)) & rs->field_mask_;
		while (rs->field_slots_[h])
			h = (h + 1) & rs->field_mask_;
		rs->field_slots_[h] = (uint16_t)(f + 1);
	}
}

const hs_database_t *bs_rules_field_db(const struct bs_ruleset *rs, const char *name, size_t len,
				       int *field_idx)
{
	if (field_idx)
		*field_idx = -1;
	if (len >= BS_RULE_FIELD_MAX || !rs->n_fields)
		return NULL;
	if (rs->field_slots_) {
		uint32_t h = field_hash(name, len) & rs->field_mask_;
		for (uint16_t slot; (slot = rs->field_slots_[h]); h = (h + 1) & rs->field_mask_) {
			const struct bs_field_db *fd = &rs->fields[slot - 1];
			if (!strncasecmp(fd->name, name, len) && !fd->name[len]) {
				if (field_idx)
					*field_idx = slot - 1;
				return fd->db;
			}
		}
		return NULL;
	}
	for (uint32_t f = 0; f < rs->n_fields; f++) {
		if (strncasecmp(rs->fields[f].name, name, len) || rs->fields[f].name[len])
			continue;
		if (field_idx)
			*field_idx = (int)f;
		return rs->fields[f].db;
	}
	return NULL;
}

int bs_rules_alloc_scratch(const struct bs_ruleset *rs, hs_scratch_t **scratch, char *err, size_t errlen)
{
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (rs->db[s] && hs_alloc_scratch(rs->db[s], scratch) != HS_SUCCESS) {
			snprintf(err, errlen, "%s: cannot allocate Hyperscan scratch for scope %s", rs->source,
				 bs_scope_name(s));
			return -1;
		}
	}
	for (uint32_t f = 0; f < rs->n_fields; f++) {
		if (rs->fields[f].db && hs_alloc_scratch(rs->fields[f].db, scratch) != HS_SUCCESS) {
			snprintf(err, errlen, "%s: cannot allocate Hyperscan scratch for header:%s", rs->source,
				 rs->fields[f].name);
			return -1;
		}
	}
	return 0;
}

size_t bs_rules_txn_stream_state(const struct bs_ruleset *rs)
{
	size_t sum = 0;
	for (int s = 0; s < BS_SCOPE_MAX; s++)
		sum += rs->stream_state_size[s];
	return sum;
}
