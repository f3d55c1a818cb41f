/* Fuzz target: arbitrary bytes as an Ethernet frame. The parser must not
 * read outside the frame (ASan) and what it reports must be inside it.
 *
 * Byte 0 selects an overlay so that plain random inputs (the meson driver
 * has no coverage feedback) reach the deep layers: it can force a VLAN or
 * QinQ stack, an IPv4 or IPv6 header start with a consistent length, a
 * plausible next-header chain, cleared fragment bits. The rest of the bytes
 * stay random, so every length and header field is still exercised. */
#include "fuzz.h"
#include "pkt_parse.h"

#include <stdbool.h>
#include <string.h>

static void put16(uint8_t *f, size_t size, size_t at, uint16_t v)
{
	if (at + 2 <= size) {
		f[at] = (uint8_t)(v >> 8);
		f[at + 1] = (uint8_t)v;
	}
}

static void overlay(uint8_t *f, size_t size, uint8_t mode)
{
	if ((mode & 3) == 0)
		return; /* raw bytes */
	size_t o = 12;
	int tags = (mode >> 2) & 3; /* 0..3: 3 is beyond the supported depth */
	static const uint16_t tpids[3] = {0x88a8, 0x9100, 0x8100};
	for (int t = 0; t < tags; t++, o += 4)
		put16(f, size, o, t + 1 == tags ? 0x8100 : tpids[t % 3]);
	bool v6 = (mode & 3) == 2 || ((mode & 3) == 3 && (mode & 0x10));
	put16(f, size, o, v6 ? 0x86dd : 0x0800);
	o += 2;
	if (o >= size)
		return;
	size_t left = size - o;
	if (v6) {
		f[o] = (uint8_t)(0x60 | (f[o] & 0x0f));
		if (mode & 0x20) /* payload length consistent with the frame */
			put16(f, size, o + 4, (uint16_t)(left >= 40 ? left - 40 : 0));
		static const uint8_t nhs[8] = {6, 0, 43, 44, 51, 60, 6, 59};
		if (o + 6 < size)
			f[o + 6] = nhs[(mode >> 6) & 3 ? f[o + 6] & 7 : 0];
	} else {
		f[o] = (mode & 0x40) ? (uint8_t)(0x40 | (f[o] & 0x0f)) : 0x45;
		if (mode & 0x20)
			put16(f, size, o + 2, (uint16_t)left);
		if (o + 9 < size)
			f[o + 9] = 6;
		if ((mode & 0x80) && o + 7 < size)
			f[o + 6] = f[o + 7] = 0; /* not a fragment */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 0xffff)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	/* exact-size copy: any over-read hits the redzone */
	uint8_t *f = malloc(size ? size : 1);
	if (!f)
		return 0;
	memcpy(f, data, size);
	overlay(f, size, mode);
	struct bs_pkt p;
	int st = bs_pkt_parse(f, (uint32_t)size, &p);
	FUZZ_ASSERT(st >= 0 && st < BS_PKT_STATUS_MAX, "status %d", st);
	if (st == BS_PKT_TCP) {
		FUZZ_ASSERT(p.ip_ver == 4 || p.ip_ver == 6, "ip_ver %u", p.ip_ver);
		FUZZ_ASSERT(p.l3_off >= 14 && p.l4_off >= p.l3_off + 20, "offsets %u %u", p.l3_off, p.l4_off);
		FUZZ_ASSERT(p.payload >= f + p.l4_off + 20 && p.payload + p.payload_len <= f + size,
			    "payload outside the frame");
		FUZZ_ASSERT(p.l4_proto == 6, "l4_proto %u", p.l4_proto);
		/* touch every payload byte so ASan checks the range */
		volatile uint8_t sum = 0;
		for (uint32_t i = 0; i < p.payload_len; i++)
			sum ^= p.payload[i];
		(void)sum;
	}
	if (st == BS_PKT_FRAGMENT)
		FUZZ_ASSERT(p.payload == NULL && p.payload_len == 0, "fragment with a payload");
	free(f);
	return 0;
}
