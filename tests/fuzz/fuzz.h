/* Shared by the fuzz targets and the plain driver: the libFuzzer entry
 * point, and a failure report that stops the run (a fuzz finding must be
 * loud under libFuzzer and under meson alike). */
#ifndef BS_FUZZ_H
#define BS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c, ...)                                                     \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			abort();                                                \
		}                                                               \
	} while (0)

#endif
