/* bs_inline_marker_kind finds a legacy bounce's marker phrase wherever it
 * sits in a line: its word prefilter tests 16 window positions per step,
 * so a phrase is placed at every offset of lines of every length up to
 * the 160-byte cap, in random case, between random filler; and lines of
 * filler alone (no anchor word) must give no marker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "dataplane/detect/orig_fields.h"

static const char *const phrases[] = {
	"below this line is a copy of the message", "this is a copy of the message",
	"original message follows", "unsent message below", "transcript of session follows",
	"following header fields", "returned mail", "header of the original message",
	"copy of the original message", "your message reads",
};

int main(void)
{
	unsigned fails = 0, checked = 0;
	char line[161];
	srand(11);
	for (size_t p = 0; p < sizeof phrases / sizeof phrases[0]; p++) {
		size_t pl = strlen(phrases[p]);
		for (size_t n = pl < 10 ? 10 : pl; n <= 160; n += 7)
			for (size_t off = 0; off + pl <= n; off++) {
				for (size_t i = 0; i < n; i++)
					line[i] = "xz qbk-0"[rand() % 8];  /* filler: no anchor word can form */
				for (size_t i = 0; i < pl; i++)
					line[off + i] = rand() % 2 ? (char)toupper((unsigned char)phrases[p][i]) : phrases[p][i];
				/* the filler next to the phrase must not change a word
				 * match: put spaces around it */
				if (off > 0)
					line[off - 1] = ' ';
				if (off + pl < n)
					line[off + pl] = ' ';
				bool weak;
				checked++;
				if (bs_inline_marker_kind(line, n, &weak) == BS_MARK_NONE) {
					fprintf(stderr, "phrase \"%s\" at %zu of a %zu-byte line not found\n", phrases[p], off, n);
					fails++;
				}
			}
	}
	for (size_t n = 0; n <= 160; n++) {
		for (size_t i = 0; i < n; i++)
			line[i] = "xz qbk-0"[rand() % 8];
		bool weak;
		checked++;
		if (bs_inline_marker_kind(line, n, &weak) != BS_MARK_NONE) {
			fprintf(stderr, "filler line of %zu bytes taken for a marker\n", n);
			fails++;
		}
	}
	printf("%u lines checked, %u failed\n", checked, fails);
	return fails ? 1 : 0;
}
