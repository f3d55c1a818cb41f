#!/usr/bin/python3
"""Stress captures for acceptance point 3 (bounded memory, no crash).

  stress.py syn N OUT.pcap        N SYN-only flows (distinct 4-tuples) to port 25
  stress.py random N OUT.pcap     N flows to ports 25/587 with valid TCP/IP
                                  headers and random payloads: random bytes,
                                  SMTP-looking fragments, absurd BDAT sizes,
                                  random sequence jumps, SYN/FIN/RST mixed in
(1-byte segments: the generator's "onebyte-interleaved" variant.)
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapwriter import (TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, Endpoint,  # noqa: E402
                        PcapWriter, tcp_frame)

TS0_NS = 1_795_000_000 * 10**9


def syn_flood(path, n, spacing_ns=2_000, sessions=()):
    """n SYNs from distinct (address, port) pairs of 198.18.0.0/15 to
    192.0.2.25:25; 16 source ports per address. One packet per flow.
    `sessions` (variants.Built) are spread through the flood, their packets
    interleaved at random, each in a slot of its own between two SYNs: the
    SMTP sessions a SYN flood must not blind."""
    srv = Endpoint("192.0.2.25", 25)
    opts = b"\x02\x04\x05\xb4"    # MSS only: 74 bytes a record, 74 MB for 1M flows
    rng = random.Random(n)
    order = []
    pos = [0] * len(sessions)
    active = list(range(len(sessions)))
    while active:
        k = rng.randrange(len(active))
        i = active[k]
        order.append((sessions[i], sessions[i].segs[pos[i]]))
        pos[i] += 1
        if pos[i] == len(sessions[i].segs):
            active[k] = active[-1]
            active.pop()
    if len(order) > n:
        raise ValueError("more session packets (%d) than SYNs (%d)" % (len(order), n))
    nxt = 0
    with PcapWriter(path) as w:
        for i in range(n):
            a = (198 << 24) | (18 << 16) | (i >> 4)
            ip = "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)
            cl = Endpoint(ip, 40000 + (i & 15))
            ts = TS0_NS + i * spacing_ns
            w.write(ts, tcp_frame(cl, srv, i * 7919, 0, TCP_SYN, b"", (), opts, ip_id=i))
            while nxt < len(order) and nxt * n // len(order) <= i:
                b, sg = order[nxt]
                src, dst = (b.sess.client, b.sess.server) if sg.dir == 0 else (b.sess.server, b.sess.client)
                w.write(ts + 1000, tcp_frame(src, dst, sg.seq, sg.ack, sg.flags, sg.payload, b.vlans, sg.options))
                b.deliver(sg, ts + 1000)
                nxt += 1
        return w.packets


_TOKENS = [b"MAIL FROM:<", b"RCPT TO:<", b"DATA\r\n", b"BDAT ", b"BDAT 18446744073709551615 LAST\r\n",
           b"BDAT 4294967296\r\n", b"BDAT -1\r\n", b"\r\n.\r\n", b".\r\n", b"\r\n", b"\n", b"\r",
           b"EHLO ", b"STARTTLS\r\n", b"RSET\r\n", b"QUIT\r\n", b"AUTH PLAIN\r\n", b">", b"@",
           b"250-PIPELINING\r\n", b"354 go\r\n", b"220 ", b"250 ", b"550 ", b"221 bye\r\n",
           b"Subject: =?UTF-8?B?", b"=?x?Q?=FF=?=", b"Message-ID: <", b"Content-Type: multipart/report; boundary=\"",
           b"\r\n\t", b"\0", b"\xff\xfe", b"A" * 1100]


def _payload(rng):
    r = rng.random()
    if r < 0.3:
        return os.urandom(rng.randrange(1, 1460) if rng.random() < 0.2 else rng.randrange(1, 200))
    out = bytearray()
    want = rng.randrange(1, 1460) if rng.random() < 0.2 else rng.randrange(1, 200)
    while len(out) < want:
        out += rng.choice(_TOKENS) if rng.random() < 0.7 else os.urandom(rng.randrange(1, 40))
    return bytes(out[:1460])


def random_flows(path, n, seed=9, segs_per_flow=40):
    """Flows with valid headers and random content; flows interleave."""
    rng = random.Random(seed)
    flows = []
    for i in range(n):
        v6 = rng.random() < 0.2
        port = rng.choice([25, 587])
        if v6:
            cl, sv = Endpoint("2001:db8:99::%x" % (i + 1), 1024 + i % 60000), Endpoint("2001:db8:2::25", port)
        else:
            cl = Endpoint("203.0.113.%d" % (1 + i % 250), 1024 + (i * 13) % 60000)
            sv = Endpoint("192.0.2.%d" % (1 + (i // 250) % 250), port)
        flows.append([cl, sv, rng.randrange(1 << 32), rng.randrange(1 << 32), 0, rng.random() < 0.5])
    ts = TS0_NS
    with PcapWriter(path) as w:
        for _ in range(n * segs_per_flow):
            f = flows[rng.randrange(n)]
            cl, sv, cseq, sseq, k, handshake = f
            if handshake and k == 0:
                w.write(ts, tcp_frame(cl, sv, cseq, 0, TCP_SYN))
                w.write(ts + 1000, tcp_frame(sv, cl, sseq, cseq + 1, TCP_SYN | TCP_ACK))
                f[2], f[3] = cseq + 1, sseq + 1
                cseq, sseq = f[2], f[3]
            f[4] += 1
            from_client = rng.random() < 0.6
            p = _payload(rng)
            flags = TCP_ACK | TCP_PSH
            r = rng.random()
            if r < 0.02:
                flags |= TCP_FIN
            elif r < 0.03:
                flags = TCP_RST | TCP_ACK
            elif r < 0.04:
                flags = TCP_SYN
            if from_client:
                seq = cseq if rng.random() < 0.8 else rng.randrange(1 << 32)
                w.write(ts, tcp_frame(cl, sv, seq, sseq, flags, p))
                f[2] = (seq + len(p)) & 0xFFFFFFFF
            else:
                seq = sseq if rng.random() < 0.8 else (sseq + rng.randrange(-5000, 5000)) & 0xFFFFFFFF
                w.write(ts, tcp_frame(sv, cl, seq, cseq, flags, p))
                f[3] = (seq + len(p)) & 0xFFFFFFFF
            ts += 5_000
        return w.packets


def main(argv):
    if len(argv) != 4 or argv[1] not in ("syn", "random"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        n = int(argv[2])
    except ValueError:
        print("stress: N must be a number, not %r" % argv[2], file=sys.stderr)
        return 2
    fn = syn_flood if argv[1] == "syn" else random_flows
    try:
        print("%s: %d packets -> %s" % (argv[1], fn(argv[3], n), argv[3]))
    except OSError as e:
        print("stress: %s: %s" % (e.filename, e.strerror), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
