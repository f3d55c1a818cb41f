#!/usr/bin/python3
"""Unit test of tcpstream.py, the measuring side of the enforce test (no
root, no network): pcap files written here with known contents.

  - in-order, out-of-order, retransmitted and re-cut segments rebuild the
    same contiguous stream; a hole stops it;
  - DATA and BDAT (several chunks, LAST) message spans, complete or cut;
  - message offset -> stream offset across BDAT chunk headers;
  - cut timing: deciding segment, slipped segments, first drop;
  - bad files are refused with the file name in the message.
"""
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tcpstream  # noqa: E402

CLIENT, SERVER = ("10.1.2.2", 40000), ("10.1.1.2", 25)
ISN = 0xFFFFFF00          # wraps around 2^32 within the first few hundred bytes
failures = []


def check(ok, what):
    print("%s: %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        failures.append(what)


def ip_bytes(a):
    return bytes(int(x) for x in a.split("."))


def frame(src, dst, seq, payload=b"", flags=0x18):
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, 0, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, ip_bytes(src[0]), ip_bytes(dst[0]))
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp


def write_pcap(path, frames):
    """frames: [(time, bytes)]"""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for ts, fr in frames:
            f.write(struct.pack("<IIII", int(ts), int(round((ts - int(ts)) * 1e6)), len(fr), len(fr)) + fr)


def segments_of(stream, mss):
    """(seq, payload) of STREAM cut into MSS-sized segments after the SYN."""
    return [(ISN + 1 + i, stream[i:i + mss]) for i in range(0, len(stream), mss)]


def main():
    tmp = tempfile.mkdtemp(prefix="bs-tcpstream-")
    smtp = (b"EHLO mx.remote.example\r\nMAIL FROM:<>\r\nRCPT TO:<victim@home.example>\r\nDATA\r\n"
            b"From: MAILER-DAEMON\r\nSubject: Undelivered\r\n\r\n" + b"x" * 3000 + b"\r\n.\r\nQUIT\r\n")
    syn = (0.0, frame(CLIENT, SERVER, ISN, flags=0x02))

    # reassembly: shuffled, duplicated and re-cut segments, plus the other direction
    segs = segments_of(smtp, 100)
    frames = [syn] + [(1.0 + k * 0.001, frame(CLIENT, SERVER, s, p)) for k, (s, p) in enumerate(reversed(segs))]
    frames += [(2.0, frame(CLIENT, SERVER, segs[3][0], segs[3][1])),                 # retransmission
               (2.1, frame(CLIENT, SERVER, segs[5][0] + 10, smtp[510:650])),        # re-cut overlap
               (2.2, frame(SERVER, CLIENT, 12345, b"250 ok\r\n"))]                   # other direction
    path = os.path.join(tmp, "full.pcap")
    write_pcap(path, frames)
    got = tcpstream.contiguous_stream(path, *CLIENT, *SERVER)
    check(got == smtp, "out of order, retransmitted and re-cut segments rebuild the stream (%d of %d bytes)"
          % (len(got), len(smtp)))
    n, complete = tcpstream.message_bytes_received(got)
    body_len = smtp.index(b"\r\n.\r\n") + 2 - (smtp.index(b"DATA\r\n") + 6)
    check((n, complete) == (body_len, True), "DATA: %d message bytes, complete (got %d, %s)" % (body_len, n, complete))

    # a hole: everything after it is invisible to the receiver
    path = os.path.join(tmp, "hole.pcap")
    write_pcap(path, [syn] + [(1.0, frame(CLIENT, SERVER, s, p)) for s, p in segs if s != segs[4][0]])
    got = tcpstream.contiguous_stream(path, *CLIENT, *SERVER)
    check(got == smtp[:400], "a missing segment ends the contiguous stream (%d bytes)" % len(got))
    n, complete = tcpstream.message_bytes_received(got)
    check(not complete and n == 400 - (smtp.index(b"DATA\r\n") + 6), "cut DATA: incomplete, %d bytes" % n)

    # BDAT: two chunks, LAST
    bdat = (b"EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a@home.example>\r\nBDAT 10\r\n0123456789"
            b"BDAT 5 LAST\r\nabcdeQUIT\r\n")
    spans, complete = tcpstream.message_spans(bdat)
    check(complete and [bdat[b:b + k] for b, k in spans] == [b"0123456789", b"abcde"], "BDAT chunks found: %s" % spans)
    off = tcpstream.stream_offset(bdat, 12)
    check(off is not None and bdat[off:off + 1] == b"c", "message offset 12 maps into the second chunk")
    check(tcpstream.message_bytes_received(bdat[:60]) == (60 - bdat.index(b"0123"), False),
          "BDAT cut inside the first chunk: incomplete")
    check(tcpstream.message_spans(b"EHLO x\r\nQUIT\r\n") == ([], False), "no message: no spans")
    check(tcpstream.message_spans(b"EHLO x\r\nBDAT zz\r\n") == ([], False), "malformed BDAT size: no spans")

    # cut timing: edge saw everything, the server got segments 0..6 only
    edge_frames = [syn] + [(1.0 + k * 0.001, frame(CLIENT, SERVER, s, p)) for k, (s, p) in enumerate(segs)]
    ours_frames = [syn] + edge_frames[1:8]
    edge_p, ours_p = os.path.join(tmp, "edge.pcap"), os.path.join(tmp, "ours.pcap")
    write_pcap(edge_p, edge_frames)
    write_pcap(ours_p, ours_frames)
    msg_start = smtp.index(b"DATA\r\n") + 6          # stream offset 73: in segment 0
    t = tcpstream.cut_timing(edge_p, ours_p, CLIENT + SERVER, 150 - msg_start)   # byte 150: segment 1
    check(t is not None and t["slipped_segments"] == 5 and t["slipped_bytes"] == 500
          and abs(t["first_drop_ms"] - 6.0) < 0.01,
          "cut timing: deciding segment 1, segments 2-6 slipped, first drop 6 ms later (%s)" % t)
    write_pcap(ours_p, edge_frames)
    check(tcpstream.cut_timing(edge_p, ours_p, CLIENT + SERVER, 0) is None, "nothing dropped: no cut timing")

    # bad files
    bad = os.path.join(tmp, "bad.pcap")
    with open(bad, "wb") as f:
        f.write(b"not a pcap file at all, no sir")
    for path, what in ((bad, "magic"), (os.path.join(tmp, "short.pcap"), "short")):
        if what == "short":
            with open(path, "wb") as f:
                f.write(b"\xd4\xc3")
        try:
            tcpstream.contiguous_stream(path, *CLIENT, *SERVER)
            check(False, "%s file refused" % what)
        except ValueError as e:
            check(path in str(e), "%s file refused with its name: %s" % (what, e))
    write_pcap(os.path.join(tmp, "nosyn.pcap"), edge_frames[1:])
    try:
        tcpstream.contiguous_stream(os.path.join(tmp, "nosyn.pcap"), *CLIENT, *SERVER)
        check(False, "a capture without the SYN is refused")
    except ValueError as e:
        check("no SYN" in str(e), "a capture without the SYN is refused: %s" % e)
    # truncated last record (tcpdump killed mid-write): earlier packets still count
    with open(edge_p, "ab") as f:
        f.write(struct.pack("<IIII", 5, 0, 100, 100) + b"\x00" * 10)
    check(len(tcpstream.contiguous_stream(edge_p, *CLIENT, *SERVER)) == len(smtp),
          "a truncated last record is ignored")

    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    print("FAILED: %d" % len(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
