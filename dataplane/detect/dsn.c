/* message/delivery-status field parser (RFC 3464). */
#include "dsn.h"
#include <string.h>
#include <strings.h>
#include "../textscan.h"

static bool name_is(const char *name, size_t nlen, const char *lit)
{
	size_t l = strlen(lit);
	return nlen == l && bs_ascii_ieq(name, lit, l);
}

static void trim(const char **v, size_t *n)
{
	while (*n && (**v == ' ' || **v == '\t')) { (*v)++; (*n)--; }
	while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t')) (*n)--;
}

/* copy with cut; returns true if cut */
static bool copy_str(char *dst, size_t cap, const char *v, size_t n)
{
	bool cut = false;
	if (n >= cap) {
		n = cap - 1;
		cut = true;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
	return cut;
}

bool bs_dsn_copy_typed(char *dst, size_t cap, const char *v, size_t n)
{
	trim(&v, &n);
	/* "rfc822; addr", "dns; host", "smtp; 550 ..." : drop the address type */
	const char *semi = memchr(v, ';', n);
	if (semi) {
		size_t tl = (size_t)(semi - v);
		bool atom = tl > 0 && tl < 20;
		for (size_t i = 0; atom && i < tl; i++)
			if (v[i] == ' ' || v[i] == '<' || v[i] == '@')
				atom = false;
		if (atom) {
			n -= tl + 1;
			v = semi + 1;
			trim(&v, &n);
		}
	}
	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		v++;
		n -= 2;
		trim(&v, &n);
	}
	return copy_str(dst, cap, v, n);
}

enum bs_dsn_action bs_dsn_action_parse(const char *v, size_t n)
{
	trim(&v, &n);
	size_t k = 0;
	while (k < n && v[k] != ' ' && v[k] != '\t' && v[k] != '(' && v[k] != ';')
		k++;
	static const struct { const char *w; enum bs_dsn_action a; } tab[] = {
		{ "failed", BS_DSN_ACT_FAILED }, { "delayed", BS_DSN_ACT_DELAYED },
		{ "delivered", BS_DSN_ACT_DELIVERED }, { "relayed", BS_DSN_ACT_RELAYED },
		{ "expanded", BS_DSN_ACT_EXPANDED },
		/* seen in the wild */
		{ "failure", BS_DSN_ACT_FAILED }, { "expired", BS_DSN_ACT_FAILED },
		{ "fail", BS_DSN_ACT_FAILED }, { "deliverable", BS_DSN_ACT_DELIVERED },
		{ "delay", BS_DSN_ACT_DELAYED },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strlen(tab[i].w) == k && !strncasecmp(v, tab[i].w, k))
			return tab[i].a;
	return k ? BS_DSN_ACT_OTHER : BS_DSN_ACT_NONE;
}

void bs_dsn_init(struct bs_dsn *d, struct bs_msg_facts *f, bs_dsn_event_fn ev, void *ev_ctx)
{
	d->f = f;
	d->ev = ev;
	d->ev_ctx = ev_ctx;
	d->cur_used = d->cur_has_final = d->cur_has_orig = d->cur_has_action = d->cur_has_status = false;
	d->failed_reported = false;
	memset(&d->cur, 0, sizeof(d->cur));
	bs_lines_init(&d->lines);
	bs_hdracc_init(&d->acc);
}

static void commit(struct bs_dsn *d)
{
	struct bs_msg_facts *f = d->f;
	if (!d->cur_used)
		return;
	/* a group with only Diagnostic-Code or Remote-MTA is noise, not a recipient */
	if (d->cur_has_final || d->cur_has_orig || d->cur_has_action || d->cur_has_status) {
		if (f->n_rcpt_kept < BS_FACTS_MAX_RCPT)
			f->rcpt[f->n_rcpt_kept++] = d->cur;
		if (f->n_rcpt < UINT16_MAX)
			f->n_rcpt++;
		if (f->n_action[d->cur.action] < UINT16_MAX)
			f->n_action[d->cur.action]++;
		unsigned n = f->n_rcpt;
		f->any_failed = f->n_action[BS_DSN_ACT_FAILED] > 0;
		f->all_delayed = n && f->n_action[BS_DSN_ACT_DELAYED] == n;
		f->all_success = n && (unsigned)f->n_action[BS_DSN_ACT_DELIVERED] +
			f->n_action[BS_DSN_ACT_RELAYED] + f->n_action[BS_DSN_ACT_EXPANDED] == n;
		if (d->ev) {
			d->ev(d->ev_ctx, BS_FACT_DSN_RCPT);
			if (d->cur.action == BS_DSN_ACT_FAILED && !d->failed_reported) {
				d->failed_reported = true;
				d->ev(d->ev_ctx, BS_FACT_DSN_FAILED);
			}
		}
	}
	memset(&d->cur, 0, sizeof(d->cur));
	d->cur_used = d->cur_has_final = d->cur_has_orig = d->cur_has_action = d->cur_has_status = false;
}

void bs_dsn_group_end(struct bs_dsn *d)
{
	commit(d);
}

void bs_dsn_field(struct bs_dsn *d, const char *name, size_t nlen, const char *v, size_t n)
{
	struct bs_msg_facts *f = d->f;
	bool cut = false;
	if (name_is(name, nlen, "Reporting-MTA")) {
		if (!f->reporting_mta[0])
			cut = bs_dsn_copy_typed(f->reporting_mta, sizeof(f->reporting_mta), v, n);
	} else if (name_is(name, nlen, "Arrival-Date")) {
		if (!f->arrival_date[0]) {
			trim(&v, &n);
			cut = copy_str(f->arrival_date, sizeof(f->arrival_date), v, n);
		}
	} else if (name_is(name, nlen, "Final-Recipient")) {
		if (d->cur_has_final || d->cur_has_action)
			commit(d);
		cut = bs_dsn_copy_typed(d->cur.final_recipient, sizeof(d->cur.final_recipient), v, n);
		d->cur_has_final = d->cur_used = true;
	} else if (name_is(name, nlen, "Original-Recipient")) {
		if (d->cur_has_orig || d->cur_has_action)
			commit(d);
		cut = bs_dsn_copy_typed(d->cur.original_recipient, sizeof(d->cur.original_recipient), v, n);
		d->cur_has_orig = d->cur_used = true;
	} else if (name_is(name, nlen, "Action")) {
		if (d->cur_has_action)
			commit(d);
		d->cur.action = (uint8_t)bs_dsn_action_parse(v, n);
		d->cur_has_action = d->cur_used = true;
	} else if (name_is(name, nlen, "Status")) {
		if (d->cur_has_status && d->cur_has_action)
			commit(d);
		trim(&v, &n);
		size_t k = 0;
		while (k < n && ((v[k] >= '0' && v[k] <= '9') || v[k] == '.'))
			k++;
		cut = copy_str(d->cur.status, sizeof(d->cur.status), v, k);
		d->cur_has_status = d->cur_used = true;
	} else if (name_is(name, nlen, "Diagnostic-Code")) {
		if (!d->cur.diagnostic[0]) {
			trim(&v, &n);
			/* cutting the diagnostic is expected: not an anomaly */
			copy_str(d->cur.diagnostic, sizeof(d->cur.diagnostic), v, n);
		}
		d->cur_used = true;
	} else if (name_is(name, nlen, "Remote-MTA")) {
		if (!d->cur.remote_mta[0])
			cut = bs_dsn_copy_typed(d->cur.remote_mta, sizeof(d->cur.remote_mta), v, n);
		d->cur_used = true;
	}
	if (cut)
		f->flags |= BS_MF_TRUNCATED;
}

static void on_field(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
	bs_dsn_field(ctx, name, nlen, value, vlen);
}

static bool on_line(void *ctx, const uint8_t *line, size_t n, unsigned flags)
{
	struct bs_dsn *d = ctx;
	enum bs_hdr_line k = bs_hdracc_line(&d->acc, line, n, flags, on_field, d);
	if (k == BS_HDR_END)
		commit(d);
	if (d->acc.truncated) {
		d->f->flags |= BS_MF_TRUNCATED;
		d->acc.truncated = false;
	}
	return false;
}

void bs_dsn_feed(struct bs_dsn *d, const uint8_t *p, size_t n)
{
	bs_lines_feed(&d->lines, p, n, on_line, d);
}

void bs_dsn_end(struct bs_dsn *d)
{
	bs_lines_flush(&d->lines, on_line, d);
	bs_hdracc_flush(&d->acc, on_field, d);
	commit(d);
}
