/* RFC 2047 encoded-words ("=?charset?B|Q?text?=") in header values, decoded
 * to UTF-8, and the small UTF-8 helpers the header parser and the event
 * formatter share.
 *
 * Charsets: UTF-8 and US-ASCII (copied), ISO-8859-1, ISO-8859-15 and
 * windows-1252 (mapped by table, no library call). Any other charset goes
 * through glibc's iconv (big5, gb2312, iso-2022-jp, koi8-r, windows-125x,
 * ...): converters are opened once per thread and charset and kept (at
 * most 32 per thread). A charset iconv does not know: the decoded bytes are
 * kept when they are valid UTF-8, else the encoded-word is kept as it was.
 * A byte invalid in its charset becomes U+FFFD (a word mostly invalid is
 * kept as it was). A malformed encoded-word (bad encoding letter, bad
 * base64) is kept as it was. Whitespace between two adjacent encoded-words is dropped
 * (RFC 2047 section 6.2). Encoded-words are recognised also when not
 * separated from surrounding text by whitespace, as mail readers do. */
#ifndef BS_RFC2047_H
#define BS_RFC2047_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Decode in[0..n) into out (cap bytes, always NUL-terminated when cap > 0).
 * Returns the length written. *cut (may be NULL) is set when the result did
 * not fit; the cut is made at a UTF-8 character boundary. */
size_t bs_rfc2047_decode(const char *in, size_t n, char *out, size_t cap, bool *cut);

/* Open the iconv converters of the common mail charsets for the calling
 * thread now (a worker calls it at start so that its fast path never opens
 * one); bs_rfc2047_thread_cleanup() closes them. Both optional: a charset
 * not opened yet is opened on first use. */
void bs_rfc2047_thread_init(void);
void bs_rfc2047_thread_cleanup(void);

/* Length (1..4) of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF), 0 if p[0..n) does not
 * start with one. */
unsigned bs_utf8_seq_len(const uint8_t *p, size_t n);
bool bs_utf8_valid(const uint8_t *p, size_t n);

#endif
