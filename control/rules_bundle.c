/* Compiled rule bundles: what `backstopctl rules compile` writes and
 * `backstop --rules` loads without recompiling.
 *
 * Layout (little-endian):
 *   header  magic "BSRULES\x1a", u32 format version, u32 flags (bit 0:
 *           native), u32 n_files, n_fields, n_rules, n_dbs, n_expressions,
 *           u64 payload length, u64 FNV-1a 64 of the payload
 *   payload source path (u16 len + bytes); files (u16 len + bytes each);
 *           fields (u16 len + bytes); rules (fixed fields, then u16 name
 *           length + name); databases (u8 kind 0=scope 1=field, u16 index,
 *           u32 size, hs_serialize_database bytes)
 * Every read is bounds-checked; a bundle from another format version or a
 * Hyperscan database this host cannot run is refused with a clear reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include "rules_internal.h"

#define BUNDLE_MAGIC "BSRULES\x1a"
#define BUNDLE_VERSION 1u
#define BUNDLE_HDR_LEN (8 + 4 * 7 + 8 + 8)
#define BUNDLE_MAX (1u << 30)

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->oom)
		return;
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap < w->n + n)
			cap *= 2;
		uint8_t *np = realloc(w->p, cap);
		if (!np) {
			w->oom = true;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->n, src, n);
	w->n += n;
}
static void put_u8(struct wbuf *w, uint8_t v) { put(w, &v, 1); }
static void put_u16(struct wbuf *w, uint16_t v) { put(w, &v, 2); }
static void put_u32(struct wbuf *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(struct wbuf *w, uint64_t v) { put(w, &v, 8); }
static void put_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	if (n > 65535)
		n = 65535;
	put_u16(w, (uint16_t)n);
	put(w, s, n);
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint32_t file_index(const struct bs_ruleset *rs, const char *file)
{
	for (uint32_t i = 0; i < rs->n_files_; i++)
		if (rs->files_[i] == file || !strcmp(rs->files_[i], file ? file : ""))
			return i;
	return UINT32_MAX;
}

static int put_db(struct wbuf *w, uint8_t kind, uint16_t idx, const hs_database_t *db)
{
	char *bytes = NULL;
	size_t len = 0;
	if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return -1;
	put_u8(w, kind);
	put_u16(w, idx);
	put_u32(w, (uint32_t)len);
	put(w, bytes, len);
	free(bytes);
	return 0;
}

int bs_rules_save_bundle(const struct bs_ruleset *rs, const char *path, char *err, size_t errlen)
{
	struct wbuf w = { 0 };
	uint32_t n_dbs = 0;
	put_str(&w, rs->source);
	for (uint32_t i = 0; i < rs->n_files_; i++)
		put_str(&w, rs->files_[i]);
	for (uint32_t i = 0; i < rs->n_fields; i++)
		put_str(&w, rs->fields[i].name);
	for (uint32_t i = 0; i < rs->n_rules; i++) {
		const struct bs_rule *r = &rs->rules[i];
		put_u32(&w, r->id);
		put_u8(&w, r->scope);
		put_u8(&w, r->signal);
		put_u16(&w, (uint16_t)r->weight);
		put_u32(&w, r->flags);
		put_u32(&w, r->depth);
		put_u16(&w, (uint16_t)r->field_idx);
		put_u32(&w, file_index(rs, r->file));
		put_u32(&w, (uint32_t)r->line);
		put_str(&w, r->name);
	}
	for (int s = 0; s < BS_SCOPE_MAX; s++) {
		if (!rs->db[s])
			continue;
		if (put_db(&w, 0, (uint16_t)s, rs->db[s]) < 0)
			goto serr;
		n_dbs++;
	}
	for (uint32_t f = 0; f < rs->n_fields; f++) {
		if (!rs->fields[f].db)
			continue;
		if (put_db(&w, 1, (uint16_t)f, rs->fields[f].db) < 0)
			goto serr;
		n_dbs++;
	}
	if (w.oom) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(w.p);
		return -1;
	}

	struct wbuf h = { 0 };
	put(&h, BUNDLE_MAGIC, 8);
	put_u32(&h, BUNDLE_VERSION);
	put_u32(&h, rs->native ? 1u : 0u);
	put_u32(&h, rs->n_files_);
	put_u32(&h, rs->n_fields);
	put_u32(&h, rs->n_rules);
	put_u32(&h, n_dbs);
	put_u32(&h, rs->n_expressions);
	put_u64(&h, w.n);
	put_u64(&h, fnv1a64(w.p, w.n));
	if (h.oom) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(w.p);
		free(h.p);
		return -1;
	}

	/* write beside the target and rename, so a reader never sees half a bundle */
	char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(w.p);
		free(h.p);
		return -1;
	}
	FILE *f = fopen(tmp, "wb");
	int rc = -1;
	if (!f) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
	} else {
		bool ok = fwrite(h.p, 1, h.n, f) == h.n && fwrite(w.p, 1, w.n, f) == w.n;
		ok = (fclose(f) == 0) && ok;
		if (!ok)
			snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
		else if (rename(tmp, path) != 0)
			snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
		else
			rc = 0;
		if (rc)
			unlink(tmp);
	}
	free(tmp);
	free(w.p);
	free(h.p);
	return rc;
serr:
	snprintf(err, errlen, "%s: hyperscan cannot serialize a database", path);
	free(w.p);
	return -1;
}

bool bs_rules_is_bundle(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char m[8];
	bool yes = fread(m, 1, 8, f) == 8 && !memcmp(m, BUNDLE_MAGIC, 8);
	fclose(f);
	return yes;
}

/* ---- reading ---- */

struct rbuf {
	const uint8_t *p;
	size_t n, off;
	bool bad;
};

static const void *get(struct rbuf *r, size_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return NULL;
	}
	const void *p = r->p + r->off;
	r->off += n;
	return p;
}
static uint8_t get_u8(struct rbuf *r) { const uint8_t *p = get(r, 1); return p ? *p : 0; }
static uint16_t get_u16(struct rbuf *r) { uint16_t v = 0; const void *p = get(r, 2); if (p) memcpy(&v, p, 2); return v; }
static uint32_t get_u32(struct rbuf *r) { uint32_t v = 0; const void *p = get(r, 4); if (p) memcpy(&v, p, 4); return v; }
static uint64_t get_u64(struct rbuf *r) { uint64_t v = 0; const void *p = get(r, 8); if (p) memcpy(&v, p, 8); return v; }
/* copies a u16-length string into dst (NUL-terminated); false if too long */
static bool get_str(struct rbuf *r, char *dst, size_t cap)
{
	uint16_t n = get_u16(r);
	const char *s = get(r, n);
	if (!s || n >= cap || memchr(s, 0, n)) {
		r->bad = true;
		return false;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
	return true;
}

static uint8_t *read_all(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0) {
		snprintf(err, errlen, "%s: cannot seek: %s", path, strerror(errno));
		fclose(f);
		return NULL;
	}
	long sz = ftell(f);
	if (sz < 0 || (unsigned long)sz > BUNDLE_MAX) {
		snprintf(err, errlen, "%s: bundle size out of range", path);
		fclose(f);
		return NULL;
	}
	rewind(f);
	uint8_t *buf = malloc(sz ? (size_t)sz : 1);
	if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

static hs_database_t *load_db(const char *path, const uint8_t *bytes, size_t n, const char *what,
			      bool stream, char *err, size_t errlen)
{
	char *info = NULL;
	if (hs_serialized_database_info((const char *)bytes, n, &info) != HS_SUCCESS) {
		snprintf(err, errlen, "%s: database for %s is corrupt (hyperscan cannot read its header)", path, what);
		return NULL;
	}
	hs_database_t *db = NULL;
	hs_error_t rc = hs_deserialize_database((const char *)bytes, n, &db);
	if (rc != HS_SUCCESS) {
		const char *why = rc == HS_DB_VERSION_ERROR ? "built by another Hyperscan version"
				: rc == HS_DB_PLATFORM_ERROR ? "built for CPU features this host lacks"
				: rc == HS_NOMEM ? "out of memory"
				: "rejected by hyperscan";
		snprintf(err, errlen, "%s: database for %s cannot be used here: %s (bundle: %s; this library: %s); "
			 "recompile with `backstopctl rules compile` without --native", path, what, why, info,
			 hs_version());
		free(info);
		return NULL;
	}
	free(info);
	size_t ss;
	bool is_stream = hs_stream_size(db, &ss) == HS_SUCCESS;
	if (is_stream != stream) {
		snprintf(err, errlen, "%s: database for %s has the wrong mode (%s expected)", path, what,
			 stream ? "streaming" : "block");
		hs_free_database(db);
		return NULL;
	}
	return db;
}

int bs_rules_load_bundle(const char *path, struct bs_ruleset **out, char *err, size_t errlen)
{
	*out = NULL;
	size_t len;
	uint8_t *buf = read_all(path, &len, err, errlen);
	if (!buf)
		return -1;
	struct bs_ruleset *rs = NULL;
	struct rbuf r = { buf, len, 0, false };
	const void *magic = get(&r, 8);
	if (!magic || memcmp(magic, BUNDLE_MAGIC, 8)) {
		snprintf(err, errlen, "%s: not a backstop rule bundle (bad magic)", path);
		goto fail;
	}
	uint32_t version = get_u32(&r);
	if (r.bad || version != BUNDLE_VERSION) {
		snprintf(err, errlen, "%s: bundle format version %u, this build reads version %u: "
			 "recompile the rules with this backstopctl", path, version, BUNDLE_VERSION);
		goto fail;
	}
	uint32_t flags = get_u32(&r), n_files = get_u32(&r), n_fields = get_u32(&r);
	uint32_t n_rules = get_u32(&r), n_dbs = get_u32(&r), n_expr = get_u32(&r);
	uint64_t plen = get_u64(&r), sum = get_u64(&r);
	if (r.bad || plen != len - BUNDLE_HDR_LEN) {
		snprintf(err, errlen, "%s: truncated bundle (%zu bytes, header says %llu)", path, len,
			 (unsigned long long)plen + BUNDLE_HDR_LEN);
		goto fail;
	}
	if (fnv1a64(buf + BUNDLE_HDR_LEN, plen) != sum) {
		snprintf(err, errlen, "%s: corrupt bundle (checksum mismatch)", path);
		goto fail;
	}
	if (n_files > BS_RULES_MAX_FILES || n_fields > BS_RULES_MAX_FIELDS || n_rules > BS_RULES_MAX_RULES ||
	    n_dbs > BS_SCOPE_MAX + n_fields) {
		snprintf(err, errlen, "%s: corrupt bundle (counts out of range)", path);
		goto fail;
	}
	rs = bs_ruleset_new();
	if (!rs)
		goto oom;
	rs->native = flags & 1u;
	rs->n_expressions = n_expr;
	char s[4096];
	if (!get_str(&r, s, sizeof(s)))
		goto corrupt;
	size_t sl = strnlen(s, sizeof(rs->source) - 1);
	memcpy(rs->source, s, sl);
	rs->source[sl] = 0;
	for (uint32_t i = 0; i < n_files; i++) {
		if (!get_str(&r, s, sizeof(s)))
			goto corrupt;
		/* keep the index order: duplicates are impossible in a valid bundle */
		char **v = realloc(rs->files_, (rs->n_files_ + 1) * sizeof(*v));
		if (!v)
			goto oom;
		rs->files_ = v;
		if (!(v[rs->n_files_] = strdup(s)))
			goto oom;
		rs->n_files_++;
	}
	if (n_fields) {
		rs->fields = calloc(n_fields, sizeof(*rs->fields));
		if (!rs->fields)
			goto oom;
	}
	rs->n_fields = n_fields;
	for (uint32_t i = 0; i < n_fields; i++)
		if (!get_str(&r, rs->fields[i].name, sizeof(rs->fields[i].name)))
			goto corrupt;
	rs->rules = calloc(n_rules ? n_rules : 1, sizeof(*rs->rules));
	if (!rs->rules)
		goto oom;
	for (uint32_t i = 0; i < n_rules; i++) {
		struct bs_rule *ru = &rs->rules[i];
		ru->id = get_u32(&r);
		ru->scope = get_u8(&r);
		ru->signal = get_u8(&r);
		ru->weight = (int16_t)get_u16(&r);
		ru->flags = get_u32(&r);
		ru->depth = get_u32(&r);
		ru->field_idx = (int16_t)get_u16(&r);
		uint32_t fi = get_u32(&r);
		ru->line = (int)get_u32(&r);
		if (!get_str(&r, ru->name, sizeof(ru->name)))
			goto corrupt;
		if (ru->scope >= BS_SCOPE_MAX || ru->signal >= BS_SIG_MAX || fi >= n_files ||
		    (ru->scope == BS_SCOPE_HEADER_FIELD) != (ru->field_idx >= 0) ||
		    (ru->field_idx >= 0 && (uint32_t)ru->field_idx >= n_fields))
			goto corrupt;
		ru->file = rs->files_[fi];
		if (ru->field_idx >= 0) {
			snprintf(ru->field, sizeof(ru->field), "%s", rs->fields[ru->field_idx].name);
			rs->fields[ru->field_idx].n_rules++;
		}
		rs->n_rules_scope[ru->scope]++;
		rs->n_rules++;
	}
	for (uint32_t i = 0; i < n_dbs; i++) {
		uint8_t kind = get_u8(&r);
		uint16_t idx = get_u16(&r);
		uint32_t n = get_u32(&r);
		const uint8_t *bytes = get(&r, n);
		if (!bytes || kind > 1 || (kind == 0 && (idx >= BS_SCOPE_MAX || idx == BS_SCOPE_HEADER_FIELD ||
							   rs->db[idx])) ||
		    (kind == 1 && (idx >= n_fields || rs->fields[idx].db)))
			goto corrupt;
		char what[96];
		snprintf(what, sizeof(what), kind ? "header:%s" : "%s",
			 kind ? rs->fields[idx].name : bs_scope_name(idx));
		hs_database_t *db = load_db(path, bytes, n, what, kind == 0 && bs_scope_is_stream(idx), err, errlen);
		if (!db)
			goto fail;
		if (kind == 0)
			rs->db[idx] = db;
		else
			rs->fields[idx].db = db;
	}
	if (r.off != r.n)
		goto corrupt;
	/* every rule must have the database it belongs to */
	for (uint32_t i = 0; i < rs->n_rules; i++) {
		const struct bs_rule *ru = &rs->rules[i];
		if (ru->scope == BS_SCOPE_HEADER_FIELD ? !rs->fields[ru->field_idx].db : !rs->db[ru->scope])
			goto corrupt;
	}
	bs_ruleset_fill_sizes(rs);
	free(buf);
	*out = rs;
	return 0;
corrupt:
	snprintf(err, errlen, "%s: corrupt bundle (inconsistent content at byte %zu)", path, r.off);
	goto fail;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
fail:
	bs_rules_free(rs);
	free(buf);
	return -1;
}
