/* Offline scanning of whole message files with a rule set: what
 * `backstopctl rules scan` does, and what the rule tests and the corpus
 * evaluation use. The dataplane does not use this (it streams scopes as
 * packets arrive, see dataplane/detect/); this splits a stored message the
 * same way: header block (and named fields, unfolded, RFC 2047 decoded),
 * text parts transfer-decoded into body, message/delivery-status into dsn,
 * the returned original's header block into orig_headers. MIME nesting is
 * bounded (BS_SCAN_MIME_DEPTH). Allocates per message: not for the fast path. */
#ifndef BS_RULES_SCAN_H
#define BS_RULES_SCAN_H
#include "rules.h"

#define BS_SCAN_MIME_DEPTH 8

typedef void (*bs_rules_match_fn)(void *ctx, const struct bs_rule *r, enum bs_scope scope,
				  unsigned long long end_off);

/* Envelope-style values (helo, mail_from, rcpt_to) and header-field values:
 * one block scan of db. */
int bs_rules_scan_block(const struct bs_ruleset *rs, const hs_database_t *db, enum bs_scope scope,
			hs_scratch_t *scratch, const uint8_t *p, size_t n, bs_rules_match_fn fn, void *ctx);

/* A stored RFC 5322 message (LF, CRLF or CR line ends; an mbox "From "
 * line first is skipped). Returns 0 or -1 with a message in err. */
int bs_rules_scan_message(const struct bs_ruleset *rs, hs_scratch_t *scratch, const uint8_t *msg,
			  size_t len, bs_rules_match_fn fn, void *ctx, char *err, size_t errlen);

/* The same split without scanning: fn receives each piece with the
 * database it would be scanned against (stream databases: pieces of one
 * stream per scope, in order; header fields: one block each). Used by the
 * throughput benchmark to time Hyperscan alone. */
typedef void (*bs_rules_part_fn)(void *ctx, enum bs_scope scope, const hs_database_t *db,
				 const uint8_t *p, size_t n);
int bs_rules_split_message(const struct bs_ruleset *rs, const uint8_t *msg, size_t len, bs_rules_part_fn fn,
			   void *ctx, char *err, size_t errlen);

/* Throughput of a rule set over messages held in memory (rules_bench.c).
 * MB/s are per CPU second of the calling thread; *_scanned_bytes are per
 * round. Returns 0 or -1 with a message in err. */
struct bs_rules_bench {
	size_t message_bytes;
	double offline_mbps;                    /* split + decode + scan, of message bytes */
	unsigned long long offline_matches;
	double all_mbps_message, all_mbps_scanned;   /* Hyperscan alone, every scope */
	size_t all_scanned_bytes;
	unsigned long long all_matches;
	double hdr_mbps_message, hdr_mbps_scanned;   /* Hyperscan alone, header block and fields */
	size_t hdr_scanned_bytes;
	unsigned long long hdr_matches;
};
int bs_rules_bench_run(const struct bs_ruleset *rs, hs_scratch_t *scratch, const uint8_t *const *msgs,
		       const size_t *lens, int n, long rounds, struct bs_rules_bench *out, char *err, size_t errlen);

#endif
