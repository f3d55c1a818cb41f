/* BATV prvs tags and SRS addresses; see batv.h. */
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <stdio.h>
#include "batv.h"
#include "sha1.h"

const char *const bs_batv_result_name[] = {
	"not-signing", "untagged", "valid", "bad-hash", "expired", "malformed",
};

void bs_batv_init(struct bs_batv *b)
{
	memset(b, 0, sizeof *b);
	b->max_days = BS_BATV_DEFAULT_MAX_DAYS;
}

int bs_batv_add_key(struct bs_batv *b, const char *spec, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	if (!colon || colon == spec || colon[1] == 0) {
		snprintf(err, errlen, "BATV key '%s': expected domain:secret", spec);
		return -1;
	}
	size_t dl = (size_t)(colon - spec), sl = strlen(colon + 1);
	if (dl >= BS_DOMAIN_MAX) {
		snprintf(err, errlen, "BATV key: domain longer than %d", BS_DOMAIN_MAX - 1);
		return -1;
	}
	if (sl > BS_BATV_SECRET_MAX) {
		snprintf(err, errlen, "BATV key for %.*s: secret longer than %d bytes", (int)dl, spec,
			 BS_BATV_SECRET_MAX);
		return -1;
	}
	if (b->n >= BS_BATV_MAX_KEYS) {
		snprintf(err, errlen, "BATV key for %.*s: more than %d keys", (int)dl, spec, BS_BATV_MAX_KEYS);
		return -1;
	}
	struct bs_batv_key *k = &b->keys[b->n];
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)spec[i];
		if (!(isalnum(c) || c == '-' || c == '.')) {
			snprintf(err, errlen, "BATV key: invalid character '%c' in domain", c);
			return -1;
		}
		k->domain[i] = (char)tolower(c);
	}
	k->domain[dl] = 0;
	memcpy(k->secret, colon + 1, sl);
	k->secret_len = (uint32_t)sl;
	b->n++;
	return 0;
}

bool bs_batv_signs(const struct bs_batv *b, const char *domain)
{
	for (int i = 0; i < b->n; i++)
		if (strcasecmp(b->keys[i].domain, domain) == 0)
			return true;
	return false;
}

bool bs_prvs_present(const char *addr)
{
	return strncasecmp(addr, "prvs=", 5) == 0;
}

bool bs_prvs_parse(const char *addr, char tag[11], char *orig, size_t origlen)
{
	if (!bs_prvs_present(addr))
		return false;
	const char *t = addr + 5;
	for (int i = 0; i < 10; i++) {
		unsigned char c = (unsigned char)t[i];
		bool ok = i < 4 ? isdigit(c) : isxdigit(c);
		if (!ok)
			return false;
	}
	if (t[10] != '=')
		return false;
	const char *rest = t + 11;
	const char *at = strrchr(rest, '@');
	if (!at || at == rest || at[1] == 0)
		return false;
	size_t rl = strlen(rest);
	if (rl + 1 > origlen)
		return false;
	memcpy(tag, t, 10);
	tag[10] = 0;
	memcpy(orig, rest, rl + 1);
	return true;
}

static void prvs_hash(const uint8_t *secret, size_t slen, const char kddd[4], const char *addr,
		      char hex[7])
{
	/* HMAC input: the four characters K DDD followed by the original address */
	char msg[4 + 512];
	size_t al = strlen(addr);
	if (al > sizeof msg - 4)
		al = sizeof msg - 4;
	memcpy(msg, kddd, 4);
	memcpy(msg + 4, addr, al);
	uint8_t mac[BS_SHA1_LEN];
	bs_hmac_sha1(secret, slen, msg, 4 + al, mac);
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 3; i++) {
		hex[2 * i] = hx[mac[i] >> 4];
		hex[2 * i + 1] = hx[mac[i] & 15];
	}
	hex[6] = 0;
}

int bs_batv_sign(const uint8_t *secret, size_t slen, unsigned keynum, uint32_t expiry_day,
		 const char *addr, char *out, size_t outlen)
{
	if (keynum > 9 || !strchr(addr, '@'))
		return -1;
	char kddd[5];
	snprintf(kddd, sizeof kddd, "%u%03u", keynum, expiry_day % 1000);
	char hex[7];
	prvs_hash(secret, slen, kddd, addr, hex);
	int n = snprintf(out, outlen, "prvs=%s%s=%s", kddd, hex, addr);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

enum bs_batv_result bs_batv_check(const struct bs_batv *b, const char *addr, uint32_t today)
{
	const char *dom = bs_addr_domain(addr);
	if (!dom || !bs_batv_signs(b, dom))
		return BS_BATV_NOT_SIGNING;
	if (!bs_prvs_present(addr))
		return BS_BATV_UNTAGGED;
	char tag[11], orig[512];
	if (!bs_prvs_parse(addr, tag, orig, sizeof orig))
		return BS_BATV_MALFORMED;
	char hex[7];
	bool hash_ok = false;
	for (int i = 0; i < b->n && !hash_ok; i++) {
		if (strcasecmp(b->keys[i].domain, dom) != 0)
			continue;
		prvs_hash(b->keys[i].secret, b->keys[i].secret_len, tag, orig, hex);
		hash_ok = strncasecmp(hex, tag + 4, 6) == 0;
	}
	if (!hash_ok)
		return BS_BATV_BAD_HASH;
	/* DDD is the expiry day modulo 1000: the tag is live from the day it
	 * was made (at most max_days before expiry) through the expiry day. */
	uint32_t ddd = (uint32_t)((tag[1] - '0') * 100 + (tag[2] - '0') * 10 + (tag[3] - '0'));
	uint32_t ahead = (ddd + 1000 - today % 1000) % 1000;
	return ahead <= b->max_days ? BS_BATV_VALID : BS_BATV_EXPIRED;
}

int bs_srs_parse(const char *addr, char *orig, size_t origlen)
{
	int type;
	if (strncasecmp(addr, "SRS0", 4) == 0)
		type = 1;
	else if (strncasecmp(addr, "SRS1", 4) == 0)
		type = 2;
	else
		return 0;
	char sep = addr[4];
	if (sep != '=' && sep != '+' && sep != '-')
		return -1;
	const char *at = strrchr(addr, '@');
	if (!at)
		return -1;
	const char *p = addr + 5;
	if (type == 2) {
		/* SRS1=HHH=first-forwarder==HHH=TT=domain=local: jump to the
		 * embedded SRS0 remainder after "==" */
		const char *dd = strstr(p, "==");
		if (!dd || dd > at)
			return -1;
		p = dd + 2;
	}
	/* HHH=TT=domain=local */
	const char *f[3];
	for (int i = 0; i < 3; i++) {
		const char *eq = memchr(p, '=', (size_t)(at - p));
		if (!eq)
			return -1;
		f[i] = eq;
		p = eq + 1;
	}
	const char *dom_b = f[1] + 1, *dom_e = f[2];
	const char *loc_b = f[2] + 1, *loc_e = at;
	if (dom_b == dom_e || loc_b == loc_e)
		return -1;
	size_t need = (size_t)(loc_e - loc_b) + 1 + (size_t)(dom_e - dom_b) + 1;
	if (need > origlen)
		return -1;
	size_t o = 0;
	memcpy(orig + o, loc_b, (size_t)(loc_e - loc_b));
	o += (size_t)(loc_e - loc_b);
	orig[o++] = '@';
	for (const char *c = dom_b; c < dom_e; c++)
		orig[o++] = (char)tolower((unsigned char)*c);
	orig[o] = 0;
	return type;
}
