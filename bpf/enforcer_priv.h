/* Internals shared by the bs_enforce source files (not for callers). */
#ifndef BS_ENFORCER_PRIV_H
#define BS_ENFORCER_PRIV_H
#include <stddef.h>

/* Routes libbpf's diagnostics into a per-thread buffer instead of stderr. */
void bs_libbpf_quiet(void);
const char *bs_libbpf_last(void);
/* "what: strerror(e)" plus a privilege hint or libbpf's last word. */
void bs_errno_msg(char *err, size_t errlen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
