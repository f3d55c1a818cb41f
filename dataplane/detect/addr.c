/* Address, domain and network helpers; see addr.h. */
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "addr.h"

static inline uint64_t rotl64(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

#define SIPROUND do { \
	v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
	v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
} while (0)

uint64_t bs_siphash(const uint64_t key[2], const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	size_t full = n & ~(size_t)7;
	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = 0;
		for (int j = 0; j < 8; j++)
			m |= (uint64_t)p[i + j] << (8 * j);
		v3 ^= m;
		SIPROUND; SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)n << 56;
	for (size_t j = 0; j < (n & 7); j++)
		b |= (uint64_t)p[full + j] << (8 * j);
	v3 ^= b;
	SIPROUND; SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static bool addr_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '<' && c != '>' && c != '(' && c != ')' &&
	       c != ',' && c != ';' && c != '"' && c != '[' && c != ']' && c != ':';
}

/* Copies [b, e) into out, lower-casing after the '@'. */
static size_t copy_addr(const char *b, const char *e, char *out, size_t outlen)
{
	size_t n = (size_t)(e - b), i;
	if (n == 0 || n + 1 > outlen) {
		if (outlen)
			out[0] = 0;
		return 0;
	}
	bool dom = false;
	for (i = 0; i < n; i++) {
		char c = b[i];
		if (c == '@')
			dom = true;
		out[i] = dom ? (char)tolower((unsigned char)c) : c;
	}
	out[n] = 0;
	return n;
}

size_t bs_addr_extract(const char *s, size_t n, char *out, size_t outlen)
{
	/* Prefer an angle-bracketed address: it is the addr-spec of a
	 * name-addr; what precedes it is a display name. */
	const char *lt = memchr(s, '<', n);
	if (lt) {
		const char *end = s + n;
		const char *gt = memchr(lt, '>', (size_t)(end - lt));
		if (gt) {
			const char *b = lt + 1, *e = gt;
			while (b < e && isspace((unsigned char)*b)) b++;
			while (e > b && isspace((unsigned char)e[-1])) e--;
			if (memchr(b, '@', (size_t)(e - b)))
				return copy_addr(b, e, out, outlen);
		}
	}
	/* Otherwise the first token that contains an '@'. */
	const char *at = memchr(s, '@', n);
	if (!at) {
		if (outlen)
			out[0] = 0;
		return 0;
	}
	const char *b = at, *e = at + 1;
	while (b > s && addr_char((unsigned char)b[-1])) b--;
	while (e < s + n && addr_char((unsigned char)*e)) e++;
	while (e > at + 1 && e[-1] == '.') e--;
	if (b == at || e == at + 1) {
		if (outlen)
			out[0] = 0;
		return 0;
	}
	return copy_addr(b, e, out, outlen);
}

const char *bs_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at && at[1] ? at + 1 : NULL;
}

bool bs_addr_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int bs_domset_add(struct bs_domset *s, const char *domain, char *err, size_t errlen)
{
	size_t n = strlen(domain);
	if (n == 0 || n >= BS_DOMAIN_MAX) {
		snprintf(err, errlen, "domain '%s': empty or longer than %d", domain, BS_DOMAIN_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_')) {
			snprintf(err, errlen, "domain '%s': invalid character '%c'", domain, c);
			return -1;
		}
	}
	if (s->n >= (int)(sizeof s->names / sizeof s->names[0])) {
		snprintf(err, errlen, "domain '%s': more than %zu domains", domain,
			 sizeof s->names / sizeof s->names[0]);
		return -1;
	}
	char *d = s->names[s->n++];
	for (size_t i = 0; i <= n; i++)
		d[i] = (char)tolower((unsigned char)domain[i]);
	return 0;
}

bool bs_domset_match(const struct bs_domset *s, const char *domain, size_t len)
{
	while (len > 0 && domain[len - 1] == '.')
		len--;
	for (int i = 0; i < s->n; i++) {
		size_t dl = strlen(s->names[i]);
		if (len == dl && strncasecmp(domain, s->names[i], len) == 0)
			return true;
		if (len > dl && domain[len - dl - 1] == '.' &&
		    strncasecmp(domain + len - dl, s->names[i], dl) == 0)
			return true;
	}
	return false;
}

bool bs_ip_parse(const char *s, size_t n, uint8_t out[16])
{
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	struct in_addr a4;
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return true;
	}
	if (strncasecmp(buf, "ipv6:", 5) == 0)   /* RFC 5321 address literal */
		memmove(buf, buf + 5, n - 4);
	return inet_pton(AF_INET6, buf, out) == 1;
}

const char *bs_memcasemem(const char *hay, size_t hn, const char *needle, size_t nn)
{
	if (nn == 0)
		return hay;
	if (hn < nn)
		return NULL;
	for (size_t i = 0; i + nn <= hn; i++)
		if (strncasecmp(hay + i, needle, nn) == 0)
			return hay + i;
	return NULL;
}
