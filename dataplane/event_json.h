/* One EVE-style JSON line per SMTP transaction (docs/events.md lists every
 * field). Pure formatting: no allocation, no I/O; the event writer thread
 * calls it with its own buffer.
 *
 * Strings: valid UTF-8 is copied; control characters are escaped (\n, \t,
 * ... or \u00XX); a byte that is not part of valid UTF-8 is written as the
 * Latin-1 character of the same value (\u00XX), so no byte is lost and
 * 8-bit Latin-1 header text reads right. */
#ifndef BS_EVENT_JSON_H
#define BS_EVENT_JSON_H
#include <stddef.h>
#include "txn.h"

/* A buffer of this size always holds the full event of any record (every
 * string field full of bytes that need 6-character escapes). */
#define BS_EVENT_JSON_MAX (96 * 1024)

/* Format t as one JSON object followed by '\n' into buf (cap bytes) and
 * NUL-terminate. Returns the length (without the NUL). Never writes past
 * cap: when the full event does not fit, strings are shortened and lists
 * cut (the line stays valid JSON; "truncated" is then in anomalies); if not
 * even the fields' skeleton fits, returns 0 with buf = "". */
size_t bs_event_json(const struct bs_txn *t, char *buf, size_t cap);

/* Append n bytes as a JSON string (quotes included) at buf[*len], escaping
 * as described above; false (and *len unchanged) when it does not fit. */
bool bs_json_string(char *buf, size_t cap, size_t *len, const char *s, size_t n);

/* Suricata's timestamp form: 2026-11-30T22:39:20.123456+0000 (UTC). */
size_t bs_event_timestamp(uint64_t ts_ns, char *buf, size_t cap);

/* IP address as text: IPv4 (also IPv4-mapped IPv6) dotted, else RFC 5952. */
size_t bs_event_ip(const struct bs_endpoint *e, char *buf, size_t cap);

#endif
