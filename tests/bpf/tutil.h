/* Helpers for the enforcer tests: a private pin directory per test process
 * (so parallel tests never share maps), removed at exit and on signals. */
#ifndef BS_TUTIL_H
#define BS_TUTIL_H
#include <stdint.h>
#include "enforcer_user.h"

/* Exits 77 (skip) unless root; makes /sys/fs/bpf/bs-test-NAME-PID and
 * arranges its removal. Returns the path. */
const char *tu_pin_dir(const char *name);
/* Removes the pin directory now (also done at exit). */
void tu_cleanup(void);
/* Writes a session/source entry with an expiry in the past. */
int tu_put_expired_session(struct bs_enforcer *e, const char *a, uint16_t ap, const char *b, uint16_t bp);
int tu_put_expired_source(struct bs_enforcer *e, const char *prefix);
/* Fills a verdict message. */
void tu_session_msg(struct bs_verdict_msg *m, const char *a, uint16_t ap, const char *b, uint16_t bp, uint32_t ttl);
void tu_source_msg(struct bs_verdict_msg *m, int kind, const char *prefix, uint32_t ttl);

extern int tu_failures;
#define TU_CHECK(cond, ...) do { if (!(cond)) { tu_failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#endif
