/* Plain driver for the fuzz targets, so they run as ordinary tests with any
 * compiler: feeds N pseudo-random inputs (seeded, so a failure is
 * reproducible from the printed seed and iteration), or replays the files
 * given on the command line (crash files saved by libFuzzer).
 *
 *   fuzz_X_driver [-n ITERATIONS] [-s SEED] [-m MAXLEN] [FILE...]
 *
 * Random inputs are shaped to reach deep: lengths spread over the whole
 * range, and with some probability a valid-looking frame prefix is kept
 * from the previous input and only the tail is re-rolled. */
#include "fuzz.h"

#include <errno.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), f);
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		fprintf(stderr, "%s: read error\n", path);
		return 1;
	}
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	printf("%s: %zu bytes ok\n", path, n);
	return 0;
}

static int parse_num(const char *opt, const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 0);
	if (errno || *end || !*s) {
		fprintf(stderr, "%s: not a number: '%s'\n", opt, s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long iters = 10000, seed = 1, maxlen = 4096;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		unsigned long long *dst = NULL;
		if (!strcmp(argv[i], "-n"))
			dst = &iters;
		else if (!strcmp(argv[i], "-s"))
			dst = &seed;
		else if (!strcmp(argv[i], "-m"))
			dst = &maxlen;
		else {
			fprintf(stderr, "usage: %s [-n ITERATIONS] [-s SEED] [-m MAXLEN] [FILE...]\n", argv[0]);
			return 2;
		}
		if (i + 1 >= argc || parse_num(argv[i], argv[i + 1], dst))
			return 2;
		i++;
	}
	if (i < argc) {
		int rc = 0;
		for (; i < argc; i++)
			rc |= replay(argv[i]);
		return rc;
	}
	if (maxlen == 0 || maxlen > (1u << 20)) {
		fprintf(stderr, "-m: length must be 1..%u\n", 1u << 20);
		return 2;
	}
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	uint8_t *prev = calloc(1, maxlen);
	size_t prev_len = 0;
	for (unsigned long long it = 0; it < iters; it++) {
		/* lengths: mostly short, sometimes up to maxlen */
		size_t len = (rng() % 4 == 0) ? rng() % (maxlen + 1) : rng() % (maxlen / 16 + 2);
		if (len > maxlen)
			len = maxlen;
		uint8_t *buf = malloc(len ? len : 1);
		size_t keep = 0;
		if (prev_len && rng() % 2)
			keep = rng() % (prev_len + 1) < len ? rng() % (prev_len + 1) : 0;
		if (keep > len)
			keep = len;
		memcpy(buf, prev, keep);
		for (size_t k = keep; k < len; k++)
			buf[k] = (uint8_t)rng();
		/* a few flipped bits in the kept part */
		if (keep && rng() % 2)
			buf[rng() % keep] ^= (uint8_t)(1u << (rng() % 8));
		memcpy(prev, buf, len);
		prev_len = len;
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "seed %llu iteration %llu length %zu\n", seed, it, len);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	free(prev);
	printf("%s: %llu inputs (seed %llu, max length %llu) ok\n", argv[0], iters, seed, maxlen);
	return 0;
}
