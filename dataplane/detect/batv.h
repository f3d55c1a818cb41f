/* BATV (draft-levine-smtp-batv-01) "prvs" tags and SRS (Sender Rewriting
 * Scheme) addresses.
 *
 * prvs:  prvs=KDDDSSSSSS=loc-core@domain
 *   K       key number, one digit (lets an operator rotate secrets)
 *   DDD     expiry day: days since 1970-01-01, modulo 1000
 *   SSSSSS  first 3 bytes, in hex, of HMAC-SHA1(secret, "KDDD" + "loc-core@domain")
 * A bounce (null sender) to a prvs address whose tag verifies and has not
 * expired answers mail the signing relay really sent.
 *
 * SRS:   SRS0=HHH=TT=orig-domain=orig-local@forwarder
 *        SRS1=HHH=first-forwarder==HHH=TT=orig-domain=orig-local@forwarder
 * Recognised and unwrapped to the original address (the SRS hash is the
 * forwarder's secret, not ours, so it is not verified). */
#ifndef BS_BATV_H
#define BS_BATV_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "addr.h"

#define BS_BATV_SECRET_MAX 128
#define BS_BATV_MAX_KEYS 64
#define BS_BATV_DEFAULT_MAX_DAYS 30   /* tags valid at most this many days ahead */

struct bs_batv_key {
	char domain[BS_DOMAIN_MAX];
	uint8_t secret[BS_BATV_SECRET_MAX];
	uint32_t secret_len;
};

struct bs_batv {
	int n;
	uint32_t max_days;
	struct bs_batv_key keys[BS_BATV_MAX_KEYS];
};

enum bs_batv_result {
	BS_BATV_NOT_SIGNING = 0,  /* domain has no key: BATV says nothing */
	BS_BATV_UNTAGGED,         /* signing domain, address carries no prvs tag */
	BS_BATV_VALID,            /* tag verifies and is within its lifetime */
	BS_BATV_BAD_HASH,         /* tag hash does not verify with any key */
	BS_BATV_EXPIRED,          /* hash verifies but the expiry day has passed */
	BS_BATV_MALFORMED,        /* "prvs=" present but not KDDDSSSSSS */
};
extern const char *const bs_batv_result_name[];

void bs_batv_init(struct bs_batv *b);
/* "domain:secret". Returns -1 and a message in err on malformed input. */
int bs_batv_add_key(struct bs_batv *b, const char *spec, char *err, size_t errlen);
bool bs_batv_signs(const struct bs_batv *b, const char *domain);

/* Verdict on one recipient address of a bounce; `today` = days since epoch. */
enum bs_batv_result bs_batv_check(const struct bs_batv *b, const char *addr, uint32_t today);

/* Writes the tagged address for `addr` (loc-core@domain). Returns its length,
 * or -1 when it does not fit / addr has no '@'. Used by tests and operators'
 * tooling; Backstop itself only verifies. */
int bs_batv_sign(const uint8_t *secret, size_t slen, unsigned keynum, uint32_t expiry_day,
		 const char *addr, char *out, size_t outlen);

/* Splits "prvs=KDDDSSSSSS=loc-core@domain": tag (10 chars + NUL) and the
 * untagged address. Returns false when addr is not a well-formed prvs address. */
bool bs_prvs_parse(const char *addr, char tag[11], char *orig, size_t origlen);
/* Does the local part start with prvs= (well-formed or not)? */
bool bs_prvs_present(const char *addr);

/* SRS0/SRS1 address -> original address. Returns 0 when not SRS, 1 or 2 for
 * SRS0 / SRS1 (orig filled), -1 for a malformed SRS address. */
int bs_srs_parse(const char *addr, char *orig, size_t origlen);

#endif
