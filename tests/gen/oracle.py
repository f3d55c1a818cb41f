"""An independent reading of captures: scapy parses the frames, a simple
reassembler (first copy wins, holes skipped) rebuilds both streams, and a
small SMTP reader derives the transactions. It shares no code with the
generator's writers, so the generator's self-test checks that each truth file
says what its capture really carries. The header rules (header_facts) are
also the truth definition of the corpus replay.
"""
import codecs
import re
from email.header import decode_header
from email.parser import BytesHeaderParser
from email import policy as email_policy

_UNFOLD = re.compile(r"\r?\n(?=[ \t])")


def unfold(v):
    """RFC 5322 unfolding: remove the CRLF of each fold, keep the blank."""
    return _UNFOLD.sub("", v).strip()


def _latin1_fallback(err):
    return "".join(chr(b) for b in err.object[err.start:err.end]), err.end


codecs.register_error("bs-latin1-fallback", _latin1_fallback)


def as_utf8(s):
    """Header text parsed from bytes keeps non-ASCII bytes as surrogate
    escapes; events are UTF-8 JSON. Bytes that form valid UTF-8 are that
    text; any other byte stands for its Latin-1 character, as the event
    writer (dataplane/event_json.c) prints it."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "bs-latin1-fallback")


def decode_subject(raw):
    """RFC 2047 decoding with Python's email.header.decode_header; the
    decoded parts are joined as they stand (make_header would add a blank
    between an encoded-word and the text right after it, "odpowiedź ]",
    which no mail reader shows). A field with an unknown charset is kept as
    it was."""
    try:
        out = []
        for part, charset in decode_header(raw):
            if isinstance(part, str):
                out.append(part)
            elif charset in (None, "unknown-8bit"):
                out.append(part.decode("raw-unicode-escape"))
            else:
                out.append(part.decode(charset, "replace"))
        return as_utf8("".join(out))
    except (LookupError, UnicodeError):
        return as_utf8(raw)


def header_block(msg):
    """The top-level header block of a message (bytes up to the first empty
    line, whatever the line ends)."""
    m = re.search(rb"\r\n\r\n|\n\n|\r\r", msg)
    return msg[:m.end()] if m else msg


def first_header(msg, name):
    """Raw value of the first `name` field of the top-level header block,
    unfolded (None when absent). compat32 keeps the raw bytes' text."""
    hdrs = BytesHeaderParser(policy=email_policy.compat32).parsebytes(header_block(msg))
    for k, v in hdrs.raw_items():
        if k.lower() == name.lower():
            if not isinstance(v, str):
                v = str(v)
            return unfold(v)
    return None


def header_facts(msg):
    """The email.* values the event must show for message bytes `msg`."""
    def g(name, conv=as_utf8):
        v = first_header(msg, name)
        return None if v is None else conv(v)      # absent field: null
    return {"message_id": g("Message-ID"), "from": g("From"), "to": g("To"),
            "subject": g("Subject", decode_subject), "content_type": g("Content-Type"), "size": len(msg)}


def read_flows(pcap_path):
    """{(client ip, client port, server ip, server port): [segments of c2s],
    [segments of s2c]} from a pcap, via scapy. The server is the side on
    port 25/587 (or the SYN's destination)."""
    from scapy.all import IP, IPv6, TCP, IPv6ExtHdrFragment, PcapReader
    flows = {}
    with PcapReader(pcap_path) as rd:
        for p in rd:
            if TCP not in p:
                continue
            if IP in p and (p[IP].flags.MF or p[IP].frag):
                continue                     # fragments: not reassembled here either
            if IPv6ExtHdrFragment in p:
                continue
            ip = p[IP] if IP in p else p[IPv6]
            t = p[TCP]
            raw = bytes(t.payload)
            a, b = (ip.src, t.sport), (ip.dst, t.dport)
            if t.dport in (25, 587):
                key, d = (a[0], a[1], b[0], b[1]), 0
            elif t.sport not in (25, 587):
                continue                     # not an SMTP port (465 is implicit TLS)
            else:
                key, d = (b[0], b[1], a[0], a[1]), 1
            f = flows.setdefault(key, ([], []))
            f[d].append((t.seq, int(t.flags), raw, int(p.time * 1000000)))
    return flows


def reassemble(segs):
    """First-copy-wins reassembly of one direction. Returns (stream bytes,
    gap bytes, overlapping bytes that differed, in-order delivery time in
    microseconds of each byte). Missing bytes become NULs:
    they still count as message bytes, as the pipeline counts them."""
    isn = None
    for seq, flags, _, _t in segs:
        if flags & 0x02:
            isn = (seq + 1) & 0xFFFFFFFF
            break
    if isn is None:
        if not any(p for _, _, p, _t in segs):
            return b"", 0, 0, []
        isn = next(seq for seq, _, p, _t in segs if p)
    have, first_us = {}, {}
    mismatch = 0
    for seq, _, p, us in segs:
        off = (seq - isn) & 0xFFFFFFFF
        if off > 1 << 31:
            continue
        for i, c in enumerate(p):
            o = off + i
            if o in have:
                if have[o] != c:
                    mismatch += 1
            else:
                have[o] = c
                first_us[o] = us
    out, gaps, o = bytearray(), 0, 0
    # in-order delivery time of each byte: when it and every byte before it
    # had arrived (a running maximum of first arrivals)
    ready, latest = [], 0
    end = max(have) + 1 if have else 0
    while o < end:
        if o in have:
            out.append(have[o])
            latest = max(latest, first_us[o])
        else:
            out.append(0)
            gaps += 1
        ready.append(latest)
        o += 1
    return bytes(out), gaps, mismatch, ready


def _lines(buf, pos):
    i = buf.find(b"\r\n", pos)
    if i < 0:
        return None, len(buf)
    return buf[pos:i], i + 2


class _Replies:
    """Replies of the server stream in order. Bytes lost in the capture
    (NULs from reassemble) stand for one lost reply: it pairs with its
    command as code None, so later replies keep their commands (the
    generator loses whole reply segments)."""

    def __init__(self, s):
        self.s, self.pos = s, 0

    def next(self):
        """One (possibly multi-line) reply: (code, [texts])."""
        texts, code = [], None
        if self.pos < len(self.s) and self.s[self.pos] == 0:
            while self.pos < len(self.s) and self.s[self.pos] == 0:
                self.pos += 1
            return None, []
        while True:
            line, self.pos = _lines(self.s, self.pos)
            if line is None:
                return code, texts
            if len(line) >= 3 and line[:3].isdigit():
                code = int(line[:3])
                texts.append(line[4:].decode("latin-1"))
                if line[3:4] != b"-":
                    return code, texts


def smtp_transactions(c2s, s2c, midstream=False):
    """Reads both streams in command order and returns (transaction dicts
    with the smtp.* and email.* fields of the events, pipelining offered and
    "_mark": (direction, offset) of the byte whose delivery time is the
    event's timestamp; the STARTTLS mark or None; the HELO or None)."""
    rep = _Replies(s2c)
    if not midstream:
        rep.next()                                   # banner
    pos, helo, tls, offered, helo_seen = 0, "", False, False, False
    tls_mark = None
    txns, cur = [], None

    def close():
        nonlocal cur
        if cur is not None:
            txns.append(cur)
            cur = None
    while pos < len(c2s) and not tls:
        line, pos = _lines(c2s, pos)
        if line is None:
            break
        if line.startswith(b"\0"):
            # a command lost from the capture (the generator loses whole
            # command segments): its reply still comes
            line = line.lstrip(b"\0")
            rep.next()
        verb = line.split(b" ", 1)[0].upper()
        arg = as_utf8(line[len(verb) + 1:].decode("utf-8", "surrogateescape"))
        if verb in (b"EHLO", b"HELO"):
            code, texts = rep.next()
            helo = arg.strip()
            helo_seen = True
            offered = any(t.upper().startswith("PIPELINING") for t in texts)
        elif verb == b"MAIL":
            close()
            rep.next()
            mark = pos - 1                               # the LF ending MAIL FROM
            m = re.match(r"FROM:\s*<([^>]*)>", arg, re.I)
            rp = m.group(1) if m else ""
            if rp.startswith("@") and ":" in rp:         # source route: dropped
                rp = rp.split(":", 1)[1]
            cur = {"smtp": {"helo": helo if helo_seen else None, "mail_from": rp, "rcpt_to": [],
                            "rcpt_rejected": [], "tls": False, "bdat": False, "transaction": len(txns)},
                   "email": {"message_id": None, "from": None, "to": None, "subject": None,
                             "content_type": None, "size": None},
                   "offered": offered, "_msg": b"", "_mark": (0, mark)}
        elif verb == b"RCPT":
            code, _ = rep.next()
            addr = re.match(r"TO:\s*<([^>]*)>", arg, re.I).group(1)
            if code is not None and 200 <= code < 300:
                cur["smtp"]["rcpt_to"].append(addr)
            else:
                cur["smtp"]["rcpt_rejected"].append({"address": addr, "code": code})
        elif verb == b"DATA":
            code, _ = rep.next()
            if code == 354:
                end = c2s.find(b"\r\n.\r\n", pos - 2)
                if end < 0:                  # the session ends inside the data
                    end, cur["_incomplete"] = len(c2s), True
                body = c2s[pos:end + 2]
                pos = end + 5
                msg = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in body.split(b"\r\n"))
                cur["email"] = header_facts(msg)
                rep.next()
                close()
        elif verb == b"BDAT":
            parts = arg.split()
            n = int(parts[0])
            cur["_msg"] += c2s[pos:pos + n]
            cur["smtp"]["bdat"] = True
            pos += n
            rep.next()
            if len(parts) > 1 and parts[1].upper() == "LAST":
                cur["email"] = header_facts(cur["_msg"])
                close()
        elif verb == b"RSET":
            rep.next()
            close()
        elif verb == b"STARTTLS":
            code, _ = rep.next()
            if code == 220:
                tls = True
                tls_mark = (1, rep.pos - 1)                # end of the 220 reply
        elif verb == b"QUIT":
            rep.next()
            close()
        else:
            rep.next()
    close()
    for t in txns:
        t.pop("_msg", None)
    return txns, tls_mark, (helo if helo_seen else None)
