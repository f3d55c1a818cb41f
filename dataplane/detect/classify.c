/* The classifier; see classify.h for the reasoning it follows. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ctype.h>
#include "classify.h"

/* evidence points on the rules' scale: 100 is conclusive on its own */
#define CONCLUSIVE 100
#define NULL_SENDER_MAX 40    /* the null sender never decides alone */

static void count(uint64_t *c) { __atomic_fetch_add(c, 1, __ATOMIC_RELAXED); }

uint32_t bs_classify_now_s(const struct bs_txn *t)
{
	if (t->ts_ns)
		return (uint32_t)(t->ts_ns / 1000000000ull);
	struct timespec ts;   /* vDSO: no syscall, never blocks */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_sec;
}

/* ---------- set-up ---------- */

static bool looks_like_cidr(const char *s)
{
	if (strchr(s, ':'))
		return true;   /* IPv6 */
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '/'))
			return false;
	return true;
}

int bs_classifier_init(struct bs_classifier *c, const struct bs_detect_config *cfg,
		       const struct bs_ruleset *rs, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->rs = rs;
	char e[256];
	for (int i = 0; i < cfg->n_home_domains && i < BS_DETECT_MAX_LIST; i++)
		if (bs_domset_add(&c->home_domains, cfg->home_domains[i], e, sizeof e) < 0) {
			snprintf(err, errlen, "--home-domain: %s", e);
			return -1;
		}
	for (int i = 0; i < cfg->n_home_nets && i < BS_DETECT_MAX_LIST; i++)
		if (bs_netset_add(&c->home_nets, cfg->home_nets[i], e, sizeof e) < 0) {
			snprintf(err, errlen, "--home-net: %s", e);
			return -1;
		}
	for (int i = 0; i < cfg->n_home_relays && i < BS_DETECT_MAX_LIST; i++) {
		const char *r = cfg->home_relays[i];
		int rc = looks_like_cidr(r) ? bs_netset_add(&c->relay_nets, r, e, sizeof e)
					    : bs_domset_add(&c->relay_hosts, r, e, sizeof e);
		if (rc < 0) {
			snprintf(err, errlen, "--home-relay: %s", e);
			return -1;
		}
	}
	/* the reporting side's own hops (content filters re-injecting on
	 * loopback, internal mail stores): walked through, never the hop
	 * that handed the original over from outside */
	static const char *const internal[] = {
		"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
		"169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
	};
	for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
		if (bs_netset_add(&c->internal_nets, internal[i], e, sizeof e) < 0) {
			snprintf(err, errlen, "internal networks: %s", e);
			return -1;
		}
	bs_batv_init(&c->batv);
	for (int i = 0; i < cfg->n_batv_keys && i < BS_DETECT_MAX_LIST; i++)
		if (bs_batv_add_key(&c->batv, cfg->batv_keys[i], e, sizeof e) < 0) {
			snprintf(err, errlen, "--batv-key: %s", e);
			return -1;
		}
	if (cfg->policy_path) {
		if (bs_policy_load(&c->policy, cfg->policy_path, err, errlen) < 0)
			return -1;
	} else {
		bs_policy_default(&c->policy);
	}
	if (!cfg->ledger_disabled) {
		c->ledger = bs_ledger_create(cfg->ledger_capacity, cfg->ledger_window_s, err, errlen);
		if (!c->ledger)
			return -1;
		if (cfg->ledger_path && bs_ledger_load(c->ledger, cfg->ledger_path, err, errlen) < 0) {
			bs_classifier_fini(c);
			return -1;
		}
		c->ledger_warmup_s = cfg->ledger_warmup_s;
	}
	/* rate tables: 64 Ki keys each (1 MiB); the windows come from the policy */
	c->rate_rcpt = bs_rates_create(1u << 16, c->policy.rcpt_window_s, err, errlen);
	c->rate_mta = c->rate_rcpt ? bs_rates_create(1u << 16, c->policy.mta_window_s, err, errlen) : NULL;
	c->good_src = c->rate_mta ? bs_rates_create(1u << 16, c->policy.legit_source_window_s, err, errlen) : NULL;
	if (!c->good_src) {
		bs_classifier_fini(c);
		return -1;
	}
	return 0;
}

void bs_classifier_fini(struct bs_classifier *c)
{
	bs_ledger_destroy(c->ledger);
	bs_rates_destroy(c->rate_rcpt);
	bs_rates_destroy(c->rate_mta);
	bs_rates_destroy(c->good_src);
	c->ledger = NULL;
	c->rate_rcpt = c->rate_mta = c->good_src = NULL;
}

/* ---------- helpers ---------- */

static bool is_home_addr(const struct bs_classifier *c, const struct bs_txn *t, const char *addr)
{
	const char *d = bs_addr_domain(addr);
	if (c->home_domains.n > 0)
		return d && bs_domset_match(&c->home_domains, d, strlen(d));
	/* no home domains configured: every recipient of inbound mail is ours */
	return t->direction == BS_DIR_INBOUND;
}

/* prvs=TAG=user@dom -> user@dom (the ledger keys untagged senders: the tag
 * changes daily, the mailbox does not) */
static const char *untag(const char *addr, char *buf, size_t len)
{
	char tag[11];
	if (bs_prvs_parse(addr, tag, buf, len))
		return buf;
	return addr;
}

static void add_reason(struct bs_verdict *v, const char *fmt, const char *a, int n)
{
	if (v->n_reasons >= BS_MAX_REASONS)
		return;
	char *r = v->reasons[v->n_reasons];
	if (a)
		snprintf(r, BS_REASON_MAX, fmt, a, n);
	else
		snprintf(r, BS_REASON_MAX, "%s", fmt);
	for (int i = 0; i < v->n_reasons; i++)
		if (strcmp(v->reasons[i], r) == 0)
			return;
	v->n_reasons++;
}

static bool ledger_armed(const struct bs_classifier *c, uint32_t now)
{
	if (!c->ledger)
		return false;
	uint32_t since = bs_ledger_since(c->ledger);
	/* Without a home network nothing outbound can be recorded: a miss means
	 * nothing unless a saved ledger was loaded. */
	if (c->home_nets.n == 0 && since == 0)
		return false;
	if (c->ledger_warmup_s == 0)
		return true;
	return since != 0 && now >= since && now - since >= c->ledger_warmup_s;
}

static bool relay_signal_on(const struct bs_classifier *c)
{
	return c->relay_nets.n > 0 || c->relay_hosts.n > 0;
}

static bool host_is_relay(const struct bs_classifier *c, const char *h)
{
	size_t n = strlen(h);
	return n > 0 && bs_domset_match(&c->relay_hosts, h, n);
}

/* A textual IP that is a home relay or in the home network. */
static bool ip_text_is_home(const struct bs_classifier *c, const char *ip)
{
	size_t n = strlen(ip);
	uint8_t a[16];
	if (n == 0 || !bs_ip_parse(ip, n, a))
		return false;
	return bs_netset_contains(&c->relay_nets, a) || bs_netset_contains(&c->home_nets, a);
}

static bool is_localhost(const char *h)
{
	return !strcasecmp(h, "localhost") || !strncasecmp(h, "localhost.", 10);
}

/* A generic second level under a country code (co.uk, com.au, ne.jp) */
static bool generic_sld(const char *s, size_t n)
{
	static const char *const g[] = { "co", "com", "net", "org", "ac", "edu", "gov", "ne", "or",
					 "go", "ltd", "plc", "gob", "mil" };
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
		if (strlen(g[i]) == n && !strncasecmp(s, g[i], n))
			return true;
	return false;
}

/* The organisation part of a host name, roughly: its last two labels, or
 * three under a country code's generic second level (example.co.uk).
 * Enough to tell one mail provider's hosts from another's without a
 * public-suffix list. Returns its length (0 for a bare name or an
 * address literal) and sets *start. */
static size_t org_part(const char *h, const char **start)
{
	size_t n = strlen(h);
	while (n > 0 && h[n - 1] == '.')
		n--;
	size_t dot[3];
	int nd = 0;
	for (size_t i = n; i-- > 0 && nd < 3;)
		if (h[i] == '.')
			dot[nd++] = i;
	if (nd == 0)
		return 0;
	size_t tld = n - dot[0] - 1;
	bool alpha = false;
	for (size_t i = dot[0] + 1; i < n; i++)
		alpha |= (h[i] | 0x20) >= 'a' && (h[i] | 0x20) <= 'z';
	if (tld == 0 || !alpha)
		return 0;
	size_t sld0 = nd >= 2 ? dot[1] + 1 : 0;
	int labels = tld == 2 && generic_sld(h + sld0, dot[0] - sld0) ? 3 : 2;
	size_t b = nd >= labels ? dot[labels - 1] + 1 : 0;
	*start = h + b;
	return n - b;
}

static bool same_org(const char *a, const char *b)
{
	const char *sa = NULL, *sb = NULL;
	size_t la = org_part(a, &sa), lb = org_part(b, &sb);
	return la > 0 && la == lb && !strncasecmp(sa, sb, la);
}

/* Who handed the message to the MTA that wrote this Received line, as
 * that MTA recorded it: the connecting IP, and the host name it looked up
 * for that IP (from_rdns; the client's own HELO name is its claim and
 * never counts). */
enum hop_client {
	HOP_HOME,       /* a home relay or a home-network address */
	HOP_INTERNAL,   /* the recording MTA's own side: loopback or private
			 * address, a local injection with no client, or a
			 * client whose looked-up name is in the recording
			 * host's organisation */
	HOP_FOREIGN,    /* a recorded outside client */
	HOP_UNKNOWN,    /* only a HELO name: nothing recorded */
};

static enum hop_client hop_client(const struct bs_classifier *c, const struct bs_received_hop *r)
{
	uint8_t a[16];
	bool ip = r->from_ip[0] && bs_ip_parse(r->from_ip, strlen(r->from_ip), a);
	if (ip && (bs_netset_contains(&c->relay_nets, a) || bs_netset_contains(&c->home_nets, a)))
		return HOP_HOME;
	if (host_is_relay(c, r->from_rdns))
		return HOP_HOME;
	if (ip && bs_netset_contains(&c->internal_nets, a))
		return HOP_INTERNAL;
	/* "by host (Postfix, from userid 0)", "(qmail 1 invoked by uid 89)",
	 * Gmail's "by 2002:a05:...": written for a local submission */
	if (!ip && !r->from_host[0] && !r->from_rdns[0])
		return HOP_INTERNAL;
	/* Postfix's "by host (Postfix, from userid 1000)": the only "from" is
	 * in a comment, so no receiving host was found after it */
	if (!ip && !r->from_rdns[0] && !r->by_host[0])
		return HOP_INTERNAL;
	if (is_localhost(r->from_rdns) || (!ip && !r->from_rdns[0] && is_localhost(r->from_host)))
		return HOP_INTERNAL;
	if (r->from_rdns[0] && same_org(r->from_rdns, r->by_host))
		return HOP_INTERNAL;
	return ip || r->from_rdns[0] ? HOP_FOREIGN : HOP_UNKNOWN;
}

/* Does this line name a home host anywhere (client IP, HELO, looked-up
 * name, or receiving host)? Any line can be forged, so this only ever
 * keeps the relay signal from saying "never passed a home relay". */
static bool hop_names_home(const struct bs_classifier *c, const struct bs_received_hop *r)
{
	return ip_text_is_home(c, r->from_ip) || host_is_relay(c, r->from_host) ||
	       host_is_relay(c, r->from_rdns) || host_is_relay(c, r->by_host);
}

/* ---------- question 1: what kind of message ---------- */

static inline int32_t max32(int32_t a, int32_t b) { return a > b ? a : b; }

static void score_kinds(struct bs_cls_txn *ct, const struct bs_txn *t, const struct bs_msg_facts *f,
			const struct bs_scan_hits *h)
{
	/* Parser facts score like rules, per signal; a fact and a rule that
	 * see the same thing (X-Failed-Recipients, say) count once: the larger
	 * of the two. So the classifier still works with a minimal rule set,
	 * and the default rules do not double-count. */
	int32_t fact[BS_SIG_MAX] = { 0 };
	if (t->null_sender)
		fact[BS_SIG_NULL_SENDER] = NULL_SENDER_MAX;
	if (f->report_declared || f->ds_part_seen || f->n_rcpt > 0)
		fact[BS_SIG_DSN_STRUCTURE] = CONCLUSIVE;
	if (f->orig_how == BS_ORIG_RFC822_HEADERS)
		fact[BS_SIG_DSN_STRUCTURE] += 50;     /* text/rfc822-headers: made for bounces */
	if (f->is_mdn)
		fact[BS_SIG_MDN] = CONCLUSIVE;
	if (f->x_failed_recipients[0])
		fact[BS_SIG_BOUNCE_HEADER] = 60;
	/* an MTA's own "copy of the message follows" line; the generic
	 * "original message" wording also starts forwards and replies, and a
	 * returned original as such is scored by the rules (orig_headers) */
	if (f->inline_marker != BS_MARK_NONE && f->inline_marker != BS_MARK_GENERIC)
		fact[BS_SIG_LEGACY_BOUNCE] = 60;
	static const uint8_t bounce_sigs[] = { BS_SIG_DSN_STRUCTURE, BS_SIG_LEGACY_BOUNCE, BS_SIG_BOUNCE_HEADER,
					       BS_SIG_DELAY, BS_SIG_MDN };
	int32_t b = h->score[BS_SIG_NOT_BOUNCE];
	/* the null sender never decides alone */
	int32_t ns = max32(h->score[BS_SIG_NULL_SENDER], fact[BS_SIG_NULL_SENDER]);
	b += ns > NULL_SENDER_MAX ? NULL_SENDER_MAX : ns;
	for (size_t i = 0; i < sizeof bounce_sigs; i++)
		b += max32(h->score[bounce_sigs[i]], fact[bounce_sigs[i]]);
	ct->bounce_score = b;

	int32_t a = h->score[BS_SIG_AUTOREPLY];
	if (f->auto_submitted == BS_AS_AUTO_REPLIED)
		a += CONCLUSIVE;
	if (f->precedence == BS_PREC_AUTO_REPLY)
		a += CONCLUSIVE;
	if (f->autoreply_marks & (BS_AR_X_AUTOREPLY | BS_AR_X_AUTORESPOND | BS_AR_X_VACATION |
				  BS_AR_DELIVERED_TO_AUTORESPONDER | BS_AR_X_MS_AUTORESPONSE))
		a += CONCLUSIVE;
	else if (f->autoreply_marks)
		a += 30;
	if (f->auto_submitted == BS_AS_AUTO_GENERATED || f->auto_submitted == BS_AS_AUTO_NOTIFIED)
		a += 30;
	ct->auto_score = a;
	ct->challenge_score = h->score[BS_SIG_CHALLENGE];
	ct->list_score = h->score[BS_SIG_LIST_RESPONSE];
}

/* How much body a reply-like message without other evidence gets scanned:
 * vacation programs and autoresponders say what they are in their first
 * lines. */
#define BODY_PROBE_BYTES 1024

/* "Re: ..." with neither In-Reply-To nor References: a person's mail
 * client threads its replies, an old vacation(1) or a home-made
 * autoresponder does not. */
static bool reply_without_thread(const struct bs_msg_facts *f)
{
	const char *s = f->subject;
	while (*s == ' ' || *s == '\t')
		s++;
	return (s[0] == 'R' || s[0] == 'r') && (s[1] == 'E' || s[1] == 'e') && s[2] == ':' && !f->in_reply_to[0] &&
	       !f->references_last[0];
}

/* Could the rest of the message still make this a bounce, auto-reply or
 * challenge? Decided once, at the end of the top header block. */
static bool candidate(struct bs_cls_txn *ct, const struct bs_txn *t, const struct bs_msg_facts *f,
		      const struct bs_scan_hits *h)
{
	if (t->null_sender || ct->bounce_score > 0 || ct->auto_score > 0 || ct->challenge_score > 0 ||
	    ct->list_score > 0)
		return true;
	if (f->top_ctype == BS_CT_MULTIPART_REPORT || f->auto_submitted > BS_AS_NO)
		return true;
	for (int s = 0; s < BS_SIG_MAX; s++)
		if (s != BS_SIG_NOT_BOUNCE && s != BS_SIG_SPAM_CONTENT && s != BS_SIG_URI_LIST && h->count[s])
			return true;
	if (reply_without_thread(f)) {
		ct->body_probe = true;
		return true;
	}
	return false;
}

/* ---------- question 2: legitimate or backscatter ---------- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* Did a home recipient of this bounce send to orig_rcpt? Returns 1 for
 * the exact pair, 0 when only its domain was written to, -1 for neither
 * (-2: no address in orig_rcpt). */
static int pair_known(struct bs_classifier *c, struct bs_cls_txn *ct, const char *orig_rcpt, uint32_t now)
{
	char a[BS_ADDR_MAX];
	if (!bs_addr_extract(orig_rcpt, strlen(orig_rcpt), a, sizeof a))
		return -2;
	int best = -1;
	for (int i = 0; i < ct->n_home; i++) {
		if (bs_ledger_has_pair(c->ledger, ct->home[i], a, now))
			return 1;
		if (best < 0 && bs_ledger_has_domain(c->ledger, ct->home[i], a, now))
			best = 0;
	}
	return best;
}

/* One returned recipient looked up: a match ends the search; otherwise
 * remember whether its domain was ever written to. */
static bool note_rcpt(struct bs_classifier *c, struct bs_cls_txn *ct, const char *addr, bool orcpt, uint32_t now)
{
	int r = pair_known(c, ct, addr, now);
	if (r == 1)
		return true;
	if (r >= -1)
		ct->rcpts_checked++;
	if (orcpt) {
		if (r == 0)
			ct->domain_seen = true;
		if (r >= -1)
			ct->orcpts_checked++;
	}
	return false;
}

/* What the lookups of the original's identifiers found missing: only
 * identifiers of the original the parser currently holds count (a quoted
 * block it later replaced by a MIME-declared original is not one). */
struct ledger_misses {
	bool msgid;    /* the original's Message-ID */
	bool rcpt;     /* a DSN recipient or X-Failed-Recipients */
	bool orig_to;  /* the original's To */
};

/* Looks up every identifier of the original that became known since the
 * last call. Sets ct->ledger to MATCH, or records which lookups missed. */
static void ledger_lookups(struct bs_classifier *c, struct bs_cls_txn *ct, const struct bs_msg_facts *f,
			   uint32_t now, struct ledger_misses *miss, const char **how)
{
	if (!c->ledger || ct->ledger == BS_LS_MATCH)
		return;
	for (; ct->pairs_checked < f->n_rcpt_kept; ct->pairs_checked++) {
		const struct bs_dsn_rcpt *r = &f->rcpt[ct->pairs_checked];
		if (note_rcpt(c, ct, r->final_recipient, false, now) ||
		    (r->original_recipient[0] && note_rcpt(c, ct, r->original_recipient, true, now))) {
			ct->ledger = BS_LS_MATCH;
			*how = "ledger-match-rcpt";
			return;
		}
	}
	if (!ct->xfr_checked && f->x_failed_recipients[0] && bs_fact_known(f, BS_FACT_TOP_HEADER_END)) {
		ct->xfr_checked = true;
		if (note_rcpt(c, ct, f->x_failed_recipients, false, now)) {
			ct->ledger = BS_LS_MATCH;
			*how = "ledger-match-rcpt";
			return;
		}
	}
	/* The parser may find a weaker "original" first (a run of header
	 * lines in a text part) and a message/rfc822 part later: every
	 * distinct Message-ID it settles on is looked up. */
	bool msgid_known = f->orig_message_id[0] && bs_fact_known(f, BS_FACT_ORIG_MSGID);
	if (msgid_known) {
		uint64_t hk = fnv1a(f->orig_message_id);
		if (!ct->msgid_checked || hk != ct->msgid_hash) {
			ct->msgid_checked = true;
			ct->msgid_hash = hk;
			ct->msgid_how = f->orig_how;
			if (bs_ledger_has_msgid(c->ledger, f->orig_message_id, now)) {
				ct->ledger = BS_LS_MATCH;
				*how = "ledger-match-msgid";
				return;
			}
		}
	}
	/* the original's To, once its header block is complete; a later
	 * original's header block ends at another offset */
	bool hdr_end = bs_fact_known(f, BS_FACT_ORIG_HEADER_END);
	uint64_t at = f->offset[BS_FACT_ORIG_HEADER_END];
	if (hdr_end && f->orig_to[0] && (!ct->origto_checked || ct->origto_hash != at)) {
		ct->origto_checked = true;
		ct->origto_hash = at;
		int r = pair_known(c, ct, f->orig_to, now);
		if (r == 1) {
			ct->ledger = BS_LS_MATCH;
			*how = "ledger-match-rcpt";
			return;
		}
		ct->origto_miss = r >= -1;
	}
	miss->msgid = ct->msgid_checked && msgid_known;
	miss->rcpt = ct->rcpts_checked > 0;
	miss->orig_to = ct->origto_miss && hdr_end && ct->origto_hash == at;
}

/* Mailbox identity for the tie test: prvs tag removed, case folded, and
 * a "+detail" of the local part dropped (the same mailbox). */
static bool norm_mailbox(const char *s, size_t n, char *out, size_t len)
{
	char a[BS_ADDR_MAX], u[BS_ADDR_MAX];
	if (!bs_addr_extract(s, n, a, sizeof a))
		return false;
	const char *m = untag(a, u, sizeof u);
	const char *at = strrchr(m, '@');
	if (!at)
		return false;
	const char *plus = memchr(m, '+', (size_t)(at - m));
	size_t local = plus && plus > m ? (size_t)(plus - m) : (size_t)(at - m);
	size_t dom = strlen(at);
	if (local + dom + 1 > len)
		return false;
	for (size_t i = 0; i < local; i++)
		out[i] = (char)tolower((unsigned char)m[i]);
	for (size_t i = 0; i <= dom; i++)
		out[local + i] = (char)tolower((unsigned char)at[i]);
	return true;
}

/* Is one of the addresses of a list ("a@x, Name <b@y>") the mailbox m? */
static bool list_has(const char *list, const char *m)
{
	char x[BS_ADDR_MAX];
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (norm_mailbox(p, n, x, sizeof x) && !strcmp(x, m))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* Is the returned original tied to this bounce? An original found by
 * heuristics (header lines quoted in a text part) may be anything the
 * bounce quotes: a list notice's quoted post, a forwarded message. It is
 * this bounce's original when it names the bounced mailbox as its sender
 * (Return-Path or From: the bounce went back to that sender), or names
 * among its recipients one the bounce reports on (DSN Final- or
 * Original-Recipient, X-Failed-Recipients). 1 tied, 0 not (its header
 * block is complete, or the message ended), -1 not known yet. */
static int orig_tied(const struct bs_cls_txn *ct, const struct bs_msg_facts *f, bool at_end)
{
	char m[BS_ADDR_MAX];
	for (int i = 0; i < ct->n_home; i++) {
		if (!norm_mailbox(ct->home[i], strlen(ct->home[i]), m, sizeof m))
			continue;
		if (list_has(f->orig_return_path, m) || list_has(f->orig_from, m))
			return 1;
	}
	for (int i = 0; i < f->n_rcpt_kept; i++) {
		const struct bs_dsn_rcpt *r = &f->rcpt[i];
		if ((norm_mailbox(r->final_recipient, strlen(r->final_recipient), m, sizeof m) &&
		     list_has(f->orig_to, m)) ||
		    (norm_mailbox(r->original_recipient, strlen(r->original_recipient), m, sizeof m) &&
		     list_has(f->orig_to, m)))
			return 1;
	}
	for (const char *p = f->x_failed_recipients; *p;) {
		size_t n = strcspn(p, ",");
		if (norm_mailbox(p, n, m, sizeof m) && list_has(f->orig_to, m))
			return 1;
		p += n + (p[n] == ',');
	}
	return bs_fact_known(f, BS_FACT_ORIG_HEADER_END) || at_end ? 0 : -1;
}

static bool home_users_sent_anything(struct bs_classifier *c, const struct bs_cls_txn *ct, uint32_t now)
{
	for (int i = 0; i < ct->n_home; i++)
		if (bs_ledger_has_sender(c->ledger, ct->home[i], now))
			return true;
	return false;
}

/* The own-relay signal. A forger writes whatever Received lines he likes
 * below the first one an honest MTA adds; that MTA records the real
 * connecting IP (and the name it looked up for it). So the topmost lines
 * of the returned original are walked down through the reporting side's
 * own hops (content filters, internal relays) to the hop where the
 * message came in from outside: if the client recorded there is a home
 * relay or in the home network, the original truly left through us.
 * A home relay named anywhere else proves nothing, but keeps the signal
 * from saying "never". Judged once per original (the parser may replace a
 * quoted original by a MIME-declared one). */
static void relay_check(struct bs_classifier *c, struct bs_cls_txn *ct, const struct bs_msg_facts *f)
{
	if (!relay_signal_on(c) || f->orig_how == BS_ORIG_NONE || ct->relay_how == f->orig_how)
		return;
	ct->relay_how = f->orig_how;
	ct->relay = BS_RS_UNKNOWN;
	for (int i = 0; i < f->n_received_kept; i++) {
		enum hop_client k = hop_client(c, &f->received[i]);
		if (k == HOP_HOME) {
			ct->relay = BS_RS_LEGIT;
			return;
		}
		if (k != HOP_INTERNAL)
			break;
	}
	bool named = false;
	for (int i = 0; i < f->n_received_kept && !named; i++)
		named = hop_names_home(c, &f->received[i]);
	const char *at = strrchr(f->orig_message_id, '@');
	if (at && !named) {
		char host[BS_DOMAIN_MAX];
		size_t n = strcspn(at + 1, "> \t");
		if (n < sizeof host) {
			memcpy(host, at + 1, n);
			host[n] = 0;
			named = host_is_relay(c, host);
		}
	}
	if (named) {
		ct->relay = BS_RS_UNPROVEN;
		return;
	}
	/* "never": no line names a home host (had the original passed one, its
	 * own line and the next hop's record of it would), none was left
	 * uncounted, and the original claims one of our senders. The top line
	 * is the reporting side's, so some line is honest. */
	if (f->n_received == 0 || f->n_received > f->n_received_kept)
		return;
	char a[BS_ADDR_MAX];
	const char *claim = f->orig_return_path[0] ? f->orig_return_path : f->orig_from;
	if (bs_addr_extract(claim, strlen(claim), a, sizeof a)) {
		const char *d = bs_addr_domain(a);
		if (d && bs_domset_match(&c->home_domains, d, strlen(d)))
			ct->relay = BS_RS_NEVER;
	}
}

static void count_rates(struct bs_classifier *c, struct bs_cls_txn *ct, const struct bs_txn *t, uint32_t now)
{
	if (ct->rates_counted)
		return;
	ct->rates_counted = true;
	const struct bs_policy *p = &c->policy;
	for (int i = 0; i < ct->n_home; i++)
		if (bs_rates_hit(c->rate_rcpt, ct->home[i], strlen(ct->home[i]), now) > p->rcpt_limit)
			ct->flood = true;
	if (bs_rates_hit(c->rate_mta, t->client.addr, 16, now) > p->mta_limit)
		ct->flood = true;
	if (ct->flood)
		count(&c->n_flood);
}

/* ---------- verdicts ---------- */

/* buf = "rule:<id>:<signal>" exactly as snprintf(buf, BS_REASON_MAX, ...)
 * writes it (cut to fit, NUL-terminated), without the printf machinery:
 * it runs for every rule hit at every verdict, on the worker lcore. */
static void rule_reason_fmt(char buf[BS_REASON_MAX], unsigned id, const char *sig)
{
	char tmp[5 + 10 + 1 + BS_REASON_MAX];
	char digits[10];
	size_t k = 5, nd = 0;
	memcpy(tmp, "rule:", 5);
	do {
		digits[nd++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	while (nd)
		tmp[k++] = digits[--nd];
	tmp[k++] = ':';
	if (!sig)
		sig = "(null)"; /* what glibc's printf writes */
	size_t sl = strnlen(sig, BS_REASON_MAX);
	memcpy(tmp + k, sig, sl);
	k += sl;
	if (k > BS_REASON_MAX - 1)
		k = BS_REASON_MAX - 1;
	memcpy(buf, tmp, k);
	buf[k] = '\0';
}

static void rule_reasons(const struct bs_classifier *c, const struct bs_scan_hits *h, struct bs_verdict *v,
			 bool content_only)
{
	for (uint16_t i = 0; i < h->n_hits && v->n_reasons < BS_MAX_REASONS; i++) {
		const struct bs_rule *r = &c->rs->rules[h->rule[i]];
		bool content_rule = r->signal == BS_SIG_SPAM_CONTENT || r->signal == BS_SIG_URI_LIST;
		if (r->weight <= 0 || (content_only && !content_rule))
			continue;
		char buf[BS_REASON_MAX];
		rule_reason_fmt(buf, r->id, bs_signal_name((enum bs_signal)r->signal));
		add_reason(v, buf, NULL, 0);
	}
}

/* Reasons after the deciding signal: for a content verdict its rules,
 * then the evidence that made the message a bounce, then other rules. */
static void kind_reasons(const struct bs_classifier *c, const struct bs_cls_txn *ct, const struct bs_txn *t,
			 const struct bs_msg_facts *f, const struct bs_scan_hits *h, struct bs_verdict *v)
{
	if (ct->content)
		rule_reasons(c, h, v, true);
	if (ct->kind == BS_KIND_BOUNCE) {
		if (t->null_sender)
			add_reason(v, "null-sender", NULL, 0);
		if (f->is_mdn)
			add_reason(v, "mdn", NULL, 0);
		else if (f->report_declared || f->ds_part_seen || f->n_rcpt > 0)
			add_reason(v, "dsn", NULL, 0);
		if (f->all_delayed || (h->count[BS_SIG_DELAY] && !f->any_failed))
			add_reason(v, "delay", NULL, 0);
		if (f->x_failed_recipients[0])
			add_reason(v, "x-failed-recipients", NULL, 0);
		if (f->inline_marker)
			add_reason(v, "inline-original", NULL, 0);
		if (ct->list_score >= CONCLUSIVE && ct->bounce_score < CONCLUSIVE)
			add_reason(v, "list-response", NULL, 0);
	}
	rule_reasons(c, h, v, false);
}

static bool finish(struct bs_classifier *c, struct bs_cls_txn *ct, struct bs_txn *t, const struct bs_msg_facts *f,
		   const struct bs_scan_hits *h, uint8_t cls, bool protected_ndr, bool at_end, uint64_t offset)
{
	struct bs_verdict *v = &t->verdict;
	v->cls = cls;
	kind_reasons(c, ct, t, f, h, v);
	uint32_t now = bs_classify_now_s(t);
	struct bs_policy_input in = {
		.cls = cls,
		.flood = ct->flood,
		.protected_ndr = protected_ndr,
	};
	/* the legitimate-source memory only matters for a drop-source */
	const struct bs_policy_rule *r = in.flood && c->policy.flood_set[cls] ? &c->policy.flood[cls]
									 : &c->policy.cls[cls];
	if (r->action == BS_ACT_DROP_SOURCE)
		in.legit_source = bs_rates_peek(c->good_src, t->client.addr, 16, now) > 0;
	if (in.flood && (cls == BS_CLASS_BACKSCATTER || cls == BS_CLASS_SUSPECT_BOUNCE))
		add_reason(v, "rate-flood", NULL, 0);
	bs_policy_decide(&c->policy, &in, v);
	if (in.legit_source && v->action == BS_ACT_SHAPE_SOURCE)
		add_reason(v, "legit-source", NULL, 0);
	v->decided = !at_end;
	v->offset = offset;
	ct->decided = true;
	if (protected_ndr)
		count(&c->n_protected);
	if (!at_end)
		count(&c->n_decided_early);
	return true;
}

bool bs_classify_eval(struct bs_classifier *c, struct bs_cls_txn *ct, struct bs_txn *t,
		      const struct bs_msg_facts *f, const struct bs_scan_hits *h, bool at_end, uint64_t offset)
{
	if (ct->decided)
		return true;
	struct bs_verdict *v = &t->verdict;
	if (t->tls)
		return finish(c, ct, t, f, h, BS_CLASS_ENCRYPTED, false, at_end, offset);
	score_kinds(ct, t, f, h);
	bool header_done = bs_fact_known(f, BS_FACT_TOP_HEADER_END) || at_end;
	if (header_done && !ct->header_done) {
		ct->header_done = true;
		if (!candidate(ct, t, f, h))
			return finish(c, ct, t, f, h, BS_CLASS_CLEAN, false, at_end, offset);
	}
	/* Challenge systems dress their requests up as DSNs (Boxbe sends
	 * multipart/report): conclusive challenge evidence wins, and a hint of
	 * it holds the bounce verdict until the body has had its say. */
	if (ct->challenge_score >= CONCLUSIVE) {
		ct->kind = BS_KIND_CHALLENGE;
		return finish(c, ct, t, f, h, BS_CLASS_CHALLENGE, false, at_end, offset);
	}
	if (ct->challenge_score > 0 && !at_end)
		return false;
	/* a list manager's rejection or hold notice answers a post the user
	 * supposedly sent: the same question as a bounce */
	if (ct->kind == BS_KIND_NONE && (ct->bounce_score >= CONCLUSIVE || ct->list_score >= CONCLUSIVE)) {
		ct->kind = BS_KIND_BOUNCE;
		count(&c->n_bounces);
	}
	if (ct->kind != BS_KIND_BOUNCE) {
		if (!at_end && ct->body_probe && ct->auto_score == 0 && ct->bounce_score == 0 &&
		    ct->challenge_score == 0 && ct->list_score == 0 &&
		    offset > f->offset[BS_FACT_TOP_HEADER_END] + BODY_PROBE_BYTES)
			/* the probe found nothing: ordinary mail, stop scanning */
			return finish(c, ct, t, f, h, BS_CLASS_CLEAN, false, at_end, offset);
		if (!at_end)
			return false;   /* keep scanning: a bounce may still show itself */
		if (ct->auto_score >= CONCLUSIVE) {
			ct->kind = BS_KIND_AUTOREPLY;
			return finish(c, ct, t, f, h, BS_CLASS_AUTOREPLY, false, true, offset);
		}
		return finish(c, ct, t, f, h, BS_CLASS_CLEAN, false, true, offset);
	}

	/* a bounce: legitimate or backscatter? */
	uint32_t now = bs_classify_now_s(t);
	if (!ct->home_rcpt) {
		add_reason(v, "rcpt-not-home", NULL, 0);
		return finish(c, ct, t, f, h, BS_CLASS_SUSPECT_BOUNCE, false, at_end, offset);
	}
	count_rates(c, ct, t, now);
	if (ct->batv_valid) {
		add_reason(v, "batv-valid", NULL, 0);
		return finish(c, ct, t, f, h, BS_CLASS_LEGIT_BOUNCE, true, at_end, offset);
	}
	struct ledger_misses miss = { false, false, false };
	const char *how = NULL;
	ledger_lookups(c, ct, f, now, &miss, &how);
	if (ct->ledger == BS_LS_MATCH) {
		add_reason(v, how ? how : "ledger-match", NULL, 0);
		return finish(c, ct, t, f, h, BS_CLASS_LEGIT_BOUNCE, true, at_end, offset);
	}
	bool armed = ledger_armed(c, now);
	bool orig_done = bs_fact_known(f, BS_FACT_ORIG_HEADER_END) || at_end;
	ct->content = h->score[BS_SIG_SPAM_CONTENT] + h->score[BS_SIG_URI_LIST] >= CONCLUSIVE;

	/* BATV is authoritative for a signing domain: its relays tag every
	 * outgoing sender, so a bounce to an untagged or badly tagged address
	 * answers mail they never sent. */
	if (ct->batv != BS_BATV_NOT_SIGNING && ct->batv != BS_BATV_VALID) {
		char r[BS_REASON_MAX];
		snprintf(r, sizeof r, "batv-%s", bs_batv_result_name[ct->batv]);
		add_reason(v, r, NULL, 0);
		return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
	}
	if (armed) {
		/* the bounced user sent nothing at all through this edge within
		 * the window: no bounce to them can be legitimate. Known as soon
		 * as the message is known to be a bounce, usually in its header. */
		if (!home_users_sent_anything(c, ct, now)) {
			ct->ledger = BS_LS_MISS;
			add_reason(v, "ledger-no-outbound", NULL, 0);
			return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
		}
		/* Original-Recipient (the ORCPT our user's MTA sent) names a
		 * domain the bounced user never wrote to: decided from the DSN
		 * fields, before the returned original. Final-Recipient and
		 * X-Failed-Recipients are not enough: a remote forward (no SRS)
		 * bounces from a domain the user never saw, legitimately. */
		if (ct->orcpts_checked > 0 && !ct->domain_seen) {
			ct->ledger = BS_LS_MISS;
			add_reason(v, "ledger-miss-orcpt", NULL, 0);
			return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
		}
		/* The original's identifiers were never sent from here. A
		 * MIME-declared original (message/rfc822, message/global,
		 * text/rfc822-headers) is the returned message by construction.
		 * One found by heuristics (header lines quoted in a text part)
		 * counts only when it is tied to this bounce (orig_tied): a
		 * bounce may quote other mail (a list notice's quoted post), and
		 * that mail's Message-ID says nothing about the bounced user.
		 * Early only for a declared original, or one quoted after an
		 * MTA's marker line in a single-part bounce: a multipart bounce
		 * may attach the true original after a quoted copy. */
		bool declared = f->orig_how == BS_ORIG_RFC822 || f->orig_how == BS_ORIG_GLOBAL ||
				f->orig_how == BS_ORIG_RFC822_HEADERS;
		bool multipart = f->top_ctype >= BS_CT_MULTIPART_REPORT && f->top_ctype <= BS_CT_MULTIPART_OTHER;
		bool early = declared || (f->orig_how == BS_ORIG_INLINE_MARKER && !multipart);
		int tied = declared ? 1 : miss.msgid || miss.orig_to ? orig_tied(ct, f, at_end) : -1;
		if (tied >= 0)   /* about the original the parser holds now */
			ct->untied_miss = tied == 0;
		if (miss.msgid && tied == 1 && (early || at_end)) {
			ct->ledger = BS_LS_MISS;
			add_reason(v, "ledger-miss-msgid", NULL, 0);
			return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
		}
		/* returned recipients were looked up, none was ever written to by
		 * the bounced user, and no Message-ID came to say otherwise */
		if ((miss.rcpt || (miss.orig_to && tied == 1)) && at_end) {
			ct->ledger = BS_LS_MISS;
			add_reason(v, "ledger-miss-rcpt", NULL, 0);
			return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
		}
	}
	if (orig_done) {
		relay_check(c, ct, f);
		if (ct->relay == BS_RS_LEGIT) {
			add_reason(v, "relay-legit", NULL, 0);
			return finish(c, ct, t, f, h, BS_CLASS_LEGIT_BOUNCE, false, at_end, offset);
		}
		if (ct->relay == BS_RS_NEVER) {
			add_reason(v, "relay-never", NULL, 0);
			return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
		}
	}
	/* spam inside the returned original: decisive once the ledger (if
	 * any) can no longer protect it */
	if (ct->content && (!armed || at_end)) {
		add_reason(v, "content", NULL, 0);
		return finish(c, ct, t, f, h, BS_CLASS_BACKSCATTER, false, at_end, offset);
	}
	if (!at_end)
		return false;
	/* why a bounce with misses is not backscatter */
	if (ct->untied_miss)
		add_reason(v, "untied-original", NULL, 0);
	if (ct->relay == BS_RS_UNPROVEN)
		add_reason(v, "relay-unproven", NULL, 0);
	if (ct->flood)
		add_reason(v, "unmatched", NULL, 0);
	return finish(c, ct, t, f, h, BS_CLASS_SUSPECT_BOUNCE, false, true, offset);
}

void bs_classify_begin(struct bs_classifier *c, struct bs_cls_txn *ct, const struct bs_txn *t)
{
	memset(ct, 0, sizeof *ct);
	uint32_t today = bs_classify_now_s(t) / 86400;
	ct->batv = BS_BATV_NOT_SIGNING;
	for (int i = 0; i < t->n_rcpt && i < BS_MAX_RCPT; i++) {
		const struct bs_rcpt *r = &t->rcpt[i];
		if (r->code >= 300 || !r->addr[0])   /* refused recipients get no message */
			continue;
		if (!is_home_addr(c, t, r->addr))
			continue;
		ct->home_rcpt = true;
		if (c->batv.n > 0) {
			/* one valid tag protects the bounce; otherwise remember the
			 * failure of a signing domain's recipient */
			enum bs_batv_result b = bs_batv_check(&c->batv, r->addr, today);
			if (b == BS_BATV_VALID)
				ct->batv_valid = true;
			else if (b != BS_BATV_NOT_SIGNING)
				ct->batv = (uint8_t)b;
		}
		if (ct->n_home < sizeof ct->home / sizeof ct->home[0]) {
			char buf[BS_ADDR_MAX];
			const char *a = untag(r->addr, buf, sizeof buf);
			snprintf(ct->home[ct->n_home++], BS_ADDR_MAX, "%s", a);
		}
	}
}

void bs_classify_no_message(struct bs_classifier *c, struct bs_txn *t, uint8_t cls)
{
	struct bs_verdict *v = &t->verdict;
	memset(v, 0, sizeof *v);
	v->cls = t->tls && cls == BS_CLASS_CLEAN ? BS_CLASS_ENCRYPTED : cls;
	struct bs_policy_input in = { .cls = v->cls };
	bs_policy_decide(&c->policy, &in, v);
	if (cls == BS_CLASS_UNPARSED)
		add_reason(v, "no-detection-slot", NULL, 0);
}

void bs_classify_record_outbound(struct bs_classifier *c, struct bs_txn *t, const struct bs_msg_facts *f)
{
	if (!c->ledger || t->ledger_recorded || t->direction != BS_DIR_OUTBOUND || !t->data_started ||
	    !t->has_mail_from || t->null_sender || !t->mail_from[0])
		return;
	uint32_t now = bs_classify_now_s(t);
	char buf[BS_ADDR_MAX];
	const char *sender = untag(t->mail_from, buf, sizeof buf);
	const char *mid = f && f->message_id[0] ? f->message_id : t->message_id;
	if (mid[0])
		bs_ledger_record_msgid(c->ledger, mid, now);
	bs_ledger_record_sender(c->ledger, sender, now);
	for (int i = 0; i < t->n_rcpt && i < BS_MAX_RCPT; i++)
		if (t->rcpt[i].code == 0 || (t->rcpt[i].code >= 200 && t->rcpt[i].code < 300)) {
			bs_ledger_record_pair(c->ledger, sender, t->rcpt[i].addr, now);
			bs_ledger_record_domain(c->ledger, sender, t->rcpt[i].addr, now);
		}
	t->ledger_recorded = 1;
	count(&c->n_ledger_recorded);
	if (now > __atomic_load_n(&c->last_ts, __ATOMIC_RELAXED))
		__atomic_store_n(&c->last_ts, now, __ATOMIC_RELAXED);
}

void bs_classify_end(struct bs_classifier *c, struct bs_cls_txn *ct, struct bs_txn *t,
		     const struct bs_msg_facts *f)
{
	uint32_t now = bs_classify_now_s(t);
	/* the outbound ledger: what our users really sent (normally recorded
	 * already at end of data: the bounce may arrive before the reply) */
	bs_classify_record_outbound(c, t, f);
	uint8_t cls = t->verdict.cls;
	/* a source of legitimate inbound mail: never dropped wholesale later */
	if (t->direction != BS_DIR_OUTBOUND && (cls == BS_CLASS_CLEAN || cls == BS_CLASS_LEGIT_BOUNCE))
		bs_rates_hit(c->good_src, t->client.addr, 16, now);
	if (cls < BS_CLASS_MAX)
		count(&c->n_class[cls]);
	if (t->verdict.action < BS_ACT_MAX)
		count(&c->n_action[t->verdict.action]);
	(void)ct;
}
