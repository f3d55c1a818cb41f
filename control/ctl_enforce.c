/* Option handling shared by the enforcer's command groups. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl_enforce.h"

const char *ctl_take_opt(int *argc, char **argv, const char *name, int *missing)
{
	size_t nl = strlen(name);

	*missing = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		int used;

		if (strncmp(a, "--", 2) || strncmp(a + 2, name, nl))
			continue;
		if (a[2 + nl] == '=') {
			val = a + 3 + nl;
			used = 1;
		} else if (a[2 + nl] == 0) {
			if (i + 1 >= *argc) {
				*missing = 1;
				return NULL;
			}
			val = argv[i + 1];
			used = 2;
		} else {
			continue;
		}
		memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(char *));
		*argc -= used;
		if (!*val)
			*missing = 1;
		return *val ? val : NULL;
	}
	return NULL;
}

int ctl_take_pin_dir(int argc, char **argv, const char **pin_dir)
{
	int missing;
	const char *v = ctl_take_opt(&argc, argv, "pin-dir", &missing);

	if (missing)
		return -1;
	*pin_dir = v;
	return argc;
}

int ctl_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

struct bs_enforcer *ctl_open_enforcer(const char *group, const char *pin_dir)
{
	char err[512];
	struct bs_enforcer *e = bs_enforcer_open(pin_dir, err, sizeof(err));

	if (!e)
		fprintf(stderr, "backstopctl %s: %s\n", group, err);
	return e;
}

void ctl_fmt_ttl(uint64_t expires_ns, uint64_t now_ns, char *buf, size_t len)
{
	if (!expires_ns)
		snprintf(buf, len, "never");
	else if (expires_ns <= now_ns)
		snprintf(buf, len, "expired");
	else
		snprintf(buf, len, "%llus", (unsigned long long)((expires_ns - now_ns + 999999999ull) / 1000000000ull));
}
