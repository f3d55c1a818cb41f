"""Reads a pcap (tcpdump -w, Ethernet) and rebuilds one direction of one TCP
session as the receiver's stack got it: the bytes from the SYN on, as far
as they are contiguous. The tests use it to measure how much of a message
our server received before the enforcer cut the session.
"""
import socket
import struct

LINKTYPE_ETHERNET = 1


def _packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            raise ValueError("%s: not a pcap file (short header)" % path)
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise ValueError("%s: not a pcap file (magic %08x)" % (path, magic))
        # microsecond or nanosecond timestamps
        scale = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        if linktype != LINKTYPE_ETHERNET:
            raise ValueError("%s: link type %d, expected Ethernet" % (path, linktype))
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return            # capture cut mid-record (tcpdump killed): stop there
            yield sec + frac * scale, data


def _tcp4(frame):
    """(src, sport, dst, dport, seq, flags, payload) of an IPv4/TCP frame, or None."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6 or len(ip) < ihl + 20:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:total]
    off = (tcp[12] >> 4) * 4
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    return (socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport, seq, tcp[13], tcp[off:])


def segments(path, src, sport, dst, dport):
    """(time, seq, flags, payload) of each packet src:sport -> dst:dport."""
    out = []
    for ts, frame in _packets(path):
        t = _tcp4(frame)
        if t and t[:4] == (src, sport, dst, dport):
            out.append((ts, t[4], t[5], t[6]))
    return out


def isn_of(segs):
    for _, seq, flags, _ in segs:
        if flags & 0x02:
            return seq
    return None


def contiguous_stream(path, src, sport, dst, dport):
    """Bytes src:sport sent to dst:dport that arrived in order from the
    SYN on (what the receiving application could read)."""
    isn, segs = None, {}
    for _, seq, flags, payload in segments(path, src, sport, dst, dport):
        if flags & 0x02:                       # SYN: data starts at ISN + 1
            isn = seq
        elif payload:
            segs.setdefault(seq, payload)
    if isn is None:
        raise ValueError("%s: no SYN from %s:%d to %s:%d" % (path, src, sport, dst, dport))
    out, nxt = bytearray(), (isn + 1) & 0xFFFFFFFF
    while True:
        # the longest segment covering nxt (retransmissions may re-cut data)
        best = None
        for seq, payload in segs.items():
            rel = (nxt - seq) & 0xFFFFFFFF
            if rel < len(payload) and (best is None or len(payload) - rel > len(best)):
                best = payload[rel:]
        if not best:
            return bytes(out)
        out += best
        nxt = (nxt + len(best)) & 0xFFFFFFFF


def message_spans(stream):
    """Where the first message of STREAM (client to server) lies in it:
    ([(stream offset, length)], complete). One span after DATA up to the
    end-of-data marker (dot-stuffed, as on the wire), or one per BDAT chunk
    (RFC 3030) up to the LAST one; complete when the end arrived."""
    i = stream.find(b"\r\nDATA\r\n")
    j = stream.find(b"\r\nBDAT ")
    if i >= 0 and (j < 0 or i < j):
        begin = i + 8
        end = stream.find(b"\r\n.\r\n", begin - 2)
        if end < 0:
            return [(begin, len(stream) - begin)], False
        return [(begin, end + 2 - begin)], True
    if j < 0:
        return [], False
    spans, pos = [], j + 2
    while stream.startswith(b"BDAT ", pos):
        eol = stream.find(b"\r\n", pos)
        if eol < 0:
            break
        words = stream[pos + 5:eol].split()
        try:
            size = int(words[0])
        except (IndexError, ValueError):
            break
        last = len(words) > 1 and words[1].upper() == b"LAST"
        begin = eol + 2
        got = max(0, min(size, len(stream) - begin))
        spans.append((begin, got))
        if got < size:
            return spans, False
        if last:
            return spans, True
        pos = begin + size
    return spans, False


def message_bytes_received(stream):
    """Message bytes in STREAM (see message_spans) and whether all came."""
    spans, complete = message_spans(stream)
    return sum(n for _, n in spans), complete


def stream_offset(stream, message_offset):
    """Stream offset of byte MESSAGE_OFFSET of the first message, or None."""
    for begin, n in message_spans(stream)[0]:
        if message_offset < n:
            return begin + message_offset
        message_offset -= n
    return None


def cut_timing(edge_pcap, ours_pcap, flow, verdict_offset):
    """How the cut went on the wire, from a capture at the edge (before the
    enforcer) and one on our server's interface (after it):
    the time the segment carrying message byte VERDICT_OFFSET crossed the
    edge, the first segment of the session the enforcer dropped after it,
    and how many segments (and bytes) still got through in between.
    FLOW is (src, sport, dst, dport) of the SMTP client."""
    edge_segs = segments(edge_pcap, *flow)
    isn = isn_of(edge_segs)
    stream = contiguous_stream(edge_pcap, *flow)
    where = stream_offset(stream, verdict_offset)
    if isn is None or where is None:
        return None
    target = (isn + 1 + where) & 0xFFFFFFFF
    passed = {(seq, len(p)) for _, seq, _, p in segments(ours_pcap, *flow) if p}
    t_verdict = None
    slipped = slipped_bytes = 0
    for ts, seq, _, p in edge_segs:
        if not p:
            continue
        if t_verdict is None:
            if ((target - seq) & 0xFFFFFFFF) < len(p):
                t_verdict = ts
            continue
        if (seq, len(p)) in passed:
            slipped += 1
            slipped_bytes += len(p)
        else:
            return {"verdict_segment_time": t_verdict, "first_drop_ms": (ts - t_verdict) * 1000.0,
                    "slipped_segments": slipped, "slipped_bytes": slipped_bytes}
    return None
