/* Minimal assertion helpers for the detection unit tests: report
 * file:line and the failed expression, count failures, exit non-zero. */
#ifndef BS_TEST_UTIL_H
#define BS_TEST_UTIL_H
#include <stdio.h>
#include <string.h>

static int t_failures;
#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); t_failures++; } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); if (strcmp(_a, _b) != 0) { \
	fprintf(stderr, "%s:%d: '%s' != '%s' (%s)\n", __FILE__, __LINE__, _a, _b, #a); t_failures++; } } while (0)
#define CHECK_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); if (_a != _b) { \
	fprintf(stderr, "%s:%d: %lld != %lld (%s == %s)\n", __FILE__, __LINE__, _a, _b, #a, #b); t_failures++; } } while (0)
#define TEST_DONE() do { if (t_failures) { fprintf(stderr, "%d check(s) failed\n", t_failures); return 1; } \
	printf("ok\n"); return 0; } while (0)

#endif
