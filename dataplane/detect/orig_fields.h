/* Recognising the embedded original message in bounce text: which header
 * field names an original's header block is made of, the marker lines with
 * which MTAs introduce a quoted original, and the parts of a Received
 * field (relay host names and IP) the classifier correlates with home
 * relays. Pure functions over bounded input. */
#ifndef BS_ORIG_FIELDS_H
#define BS_ORIG_FIELDS_H
#include <stddef.h>
#include <stdbool.h>
#include "facts.h"

/* Field names of an original message's header block. STRONG ones
 * (Received, Return-Path, Message-ID, ...) appear in a transported
 * message's header but hardly ever in prose or in a quoted reply. */
enum { BS_OFK_NONE = 0, BS_OFK_KNOWN = 1, BS_OFK_STRONG = 2 };
int bs_orig_field_kind(const char *name, size_t nlen);

/* enum bs_inline_marker for a text line that announces a quoted original
 * (qmail, Exim, Sendmail, Exchange, Notes, Gmail, Yahoo... wordings), or
 * BS_MARK_NONE. Case-insensitive; lines over 160 bytes are never markers.
 * *weak is set for wordings that also introduce quoted replies: what
 * follows them must look like a transported header (see msgparse.c). */
int bs_inline_marker_kind(const char *line, size_t n, bool *weak);

/* Parse an unfolded Received value ("from X (rdns [ip]) by Y ...; date"). */
void bs_received_parse(struct bs_received_hop *h, const char *v, size_t n);

#endif
