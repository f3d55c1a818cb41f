"""A TCP conversation as a list of segments, and the capture-level damage the
integration tests need (reordering, retransmission, overlaps, gaps, a capture
that starts midstream). Sequence numbers are computed from the byte streams,
so every transformation keeps them honest: a test that reassembles the
transformed segments with a first-copy-wins policy gets the original streams
back (except where a segment was removed: the gap variant).
"""
import random

from pcapwriter import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN

C2S, S2C = 0, 1   # segment directions: client -> server, server -> client


class Seg:
    __slots__ = ("dir", "flags", "seq", "ack", "payload", "tag", "options")

    def __init__(self, dir, flags, seq, ack, payload=b"", tag="", options=b""):
        self.dir, self.flags, self.seq, self.ack = dir, flags, seq, ack
        self.payload, self.tag, self.options = payload, tag, options

    def copy(self, **kw):
        s = Seg(self.dir, self.flags, self.seq, self.ack, self.payload, self.tag, self.options)
        for k, v in kw.items():
            setattr(s, k, v)
        return s

    def end(self):
        return self.seq + len(self.payload)


class Conversation:
    """Steps of application data, each sent by one side and cut into
    segments of at most `seg` bytes. `tag` labels the segments of a step so
    transformations can aim at, say, the message body."""

    MSS_OPT = b"\x02\x04\x05\xb4\x01\x03\x03\x07\x04\x02"  # MSS 1460, wscale 7, SACK ok

    def __init__(self, rng, seg=1460):
        self.rng = rng
        self.seg = seg
        self.steps = []
        self.isn = None          # (client ISN, server ISN) once segments() ran
        self.isn_fixed = None    # force ISNs (sequence wrap-around tests)

    def send(self, dir, data, tag="", seg=None):
        if data:
            self.steps.append((dir, bytes(data), tag, seg or self.seg))

    def offset(self, dir):
        """Bytes `dir` has sent so far (stream offset of its next byte)."""
        return sum(len(d) for sd, d, _t, _s in self.steps if sd == dir)

    def client(self, data, tag="", seg=None):
        self.send(C2S, data, tag, seg)

    def server(self, data, tag="", seg=None):
        self.send(S2C, data, tag, seg)

    def streams(self):
        """The two byte streams as the application wrote them."""
        out = [bytearray(), bytearray()]
        for dir, data, _tag, _seg in self.steps:
            out[dir] += data
        return bytes(out[0]), bytes(out[1])

    def segments(self, close="fin"):
        """Handshake, data with piggybacked ACKs, then FIN/FIN/ACK (or an RST
        from the client when close == "rst", or nothing when close is None)."""
        isn = [self.rng.randrange(1 << 32), self.rng.randrange(1 << 32)]
        if self.isn_fixed:
            isn = list(self.isn_fixed)
        self.isn = tuple(isn)
        nxt = [(isn[0] + 1) & 0xFFFFFFFF, (isn[1] + 1) & 0xFFFFFFFF]
        segs = [Seg(C2S, TCP_SYN, isn[0], 0, tag="syn", options=self.MSS_OPT),
                Seg(S2C, TCP_SYN | TCP_ACK, isn[1], nxt[0], tag="syn", options=self.MSS_OPT),
                Seg(C2S, TCP_ACK, nxt[0], nxt[1], tag="syn")]
        for dir, data, tag, seg in self.steps:
            for off in range(0, len(data), seg):
                chunk = data[off:off + seg]
                last = off + seg >= len(data)
                segs.append(Seg(dir, TCP_ACK | (TCP_PSH if last else 0), nxt[dir], nxt[1 - dir],
                                chunk, tag))
                nxt[dir] = (nxt[dir] + len(chunk)) & 0xFFFFFFFF
        if close == "fin":
            segs.append(Seg(C2S, TCP_FIN | TCP_ACK, nxt[0], nxt[1], tag="fin"))
            nxt[0] = (nxt[0] + 1) & 0xFFFFFFFF
            segs.append(Seg(S2C, TCP_FIN | TCP_ACK, nxt[1], nxt[0], tag="fin"))
            nxt[1] = (nxt[1] + 1) & 0xFFFFFFFF
            segs.append(Seg(C2S, TCP_ACK, nxt[0], nxt[1], tag="fin"))
        elif close == "rst":
            segs.append(Seg(C2S, TCP_RST | TCP_ACK, nxt[0], nxt[1], tag="fin"))
        return segs


def _data_runs(segs, tag=None):
    """Index runs of consecutive data segments of one direction (optionally
    with one tag): the places where reordering is a capture artefact rather
    than a change of the conversation."""
    runs, cur = [], []
    for i, s in enumerate(segs):
        ok = s.payload and (tag is None or s.tag == tag)
        if ok and cur and segs[cur[-1]].dir == s.dir and cur[-1] == i - 1:
            cur.append(i)
        else:
            if len(cur) > 1:
                runs.append(cur)
            cur = [i] if ok else []
    if len(cur) > 1:
        runs.append(cur)
    return runs


def reorder(segs, rng, share=0.5):
    """Swaps neighbouring data segments of the same direction."""
    out = list(segs)
    for run in _data_runs(out):
        i = 0
        while i + 1 < len(run):
            if rng.random() < share:
                a, b = run[i], run[i + 1]
                out[a], out[b] = out[b], out[a]
                i += 2
            else:
                i += 1
    return out


def retransmit(segs, rng, share=0.3):
    """Sends some data segments twice: the copy right after the next packet
    (or right away), as a sender whose ACK was lost would."""
    out = []
    pending = None
    for s in segs:
        out.append(s)
        if pending is not None:
            out.append(pending)
            pending = None
        if s.payload and rng.random() < share:
            if rng.random() < 0.5:
                out.append(s.copy())
            else:
                pending = s.copy()
    if pending is not None:
        out.append(pending)
    return out


def overlap_same(segs, rng, share=0.5):
    """After some data segment pairs A, B of one direction, adds a segment
    that covers the tail of A and the head of B with the same bytes (a
    repacketised retransmission)."""
    out = list(segs)
    inserts = []
    for run in _data_runs(segs):
        for a, b in zip(run, run[1:]):
            A, B = segs[a], segs[b]
            if len(A.payload) > 1 and len(B.payload) > 1 and rng.random() < share:
                ha, hb = len(A.payload) // 2, len(B.payload) // 2
                inserts.append((b + 1, A.copy(seq=(A.seq + ha) & 0xFFFFFFFF,
                                              payload=A.payload[ha:] + B.payload[:hb])))
    for pos, s in sorted(inserts, key=lambda x: -x[0]):
        out.insert(pos, s)
    return out


def overlap_mismatch(segs, rng, tag="body"):
    """For one pair A, B of consecutive data segments with `tag`: sends B,
    then B again with different bytes (same sequence range), then A. B is
    still buffered out of order when its altered copy arrives, so the
    reassembler sees overlapping bytes that differ; first copy wins, so the
    stream is unchanged. Returns (segments, done)."""
    runs = _data_runs(segs, tag)
    if not runs:
        return segs, False
    run = rng.choice(runs)
    k = rng.randrange(len(run) - 1)
    a, b = run[k], run[k + 1]
    A, B = segs[a], segs[b]
    # swap the case of letters: same length, different bytes, still text
    bad = bytes(c ^ 0x20 if (65 <= c <= 90 or 97 <= c <= 122) else c for c in B.payload)
    if bad == B.payload:
        bad = b"X" * len(B.payload)
    out = segs[:a] + [B, B.copy(payload=bad), A] + segs[b + 1:]
    return out, True


def drop_one(segs, rng, tag="body", min_off=0):
    """Removes one data segment with `tag` that is not the last of its
    direction's run and starts at least `min_off` bytes into the run (the
    capture lost it; the endpoints did not). Returns (segments, removed
    segment)."""
    cands = [i for run in _data_runs(segs, tag) for i in run[1:-1]
             if (segs[i].seq - segs[run[0]].seq) & 0xFFFFFFFF >= min_off]
    if not cands:
        return segs, None
    i = rng.choice(cands)
    return segs[:i] + segs[i + 1:], segs[i]


def start_at(segs, tag):
    """The capture starts at the first segment with `tag` (midstream pickup)."""
    for i, s in enumerate(segs):
        if s.tag == tag:
            return segs[i:]
    raise ValueError("no segment tagged %r" % tag)
