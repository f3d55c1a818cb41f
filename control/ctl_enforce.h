/* Helpers shared by the backstopctl groups that work on the XDP enforcer's
 * pinned maps (xdp, verdict, allow). */
#ifndef BS_CTL_ENFORCE_H
#define BS_CTL_ENFORCE_H
#include <stdint.h>
#include "enforcer_user.h"

/* Removes "--pin-dir DIR" (or "--pin-dir=DIR") from argv wherever it is;
 * returns the new argc, or -1 when the option has no value. */
int ctl_take_pin_dir(int argc, char **argv, const char **pin_dir);
/* Finds "--NAME VALUE" / "--NAME=VALUE" and removes it; NULL if absent.
 * *missing is set when the option is given without a value. */
const char *ctl_take_opt(int *argc, char **argv, const char *name, int *missing);
/* Parses a decimal unsigned in [lo, hi]; 0 or -1. */
int ctl_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);
/* Opens the enforcer maps, printing the error for the group. */
struct bs_enforcer *ctl_open_enforcer(const char *group, const char *pin_dir);
/* Formats an expiry as the remaining time ("29s", "never", "expired"). */
void ctl_fmt_ttl(uint64_t expires_ns, uint64_t now_ns, char *buf, size_t len);
#endif
