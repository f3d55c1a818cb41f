#!/usr/bin/python3
"""Differential test of the packet parser against Scapy as the encoder.

Scapy (an independent implementation) builds a few thousand frames from
random combinations of VLAN/QinQ tags, IPv4 with options, IPv6 with
extension-header chains, TCP with options, UDP, IPv4 and IPv6 fragments,
Ethernet padding and truncation. They are written to a pcap, the C tool
pkt_parse_dump prints what bs_pkt_parse makes of each, and every field is
compared with what the frame was built with.

usage: test_pkt_parse_scapy.py PATH/TO/pkt_parse_dump [SEED]
Exit 77 (skipped) when Scapy is not installed.
"""
import os
import random
import struct
import subprocess
import sys
import tempfile

try:
    from scapy.all import (Ether, Dot1Q, IP, IPv6, TCP, UDP, Raw,
                           IPOption_RR, IPOption_NOP, IPOption_Router_Alert, conf)
    from scapy.layers.inet6 import (IPv6ExtHdrHopByHop, IPv6ExtHdrRouting,
                                    IPv6ExtHdrDestOpt, IPv6ExtHdrFragment)
    from scapy.layers.ipsec import AH
except ImportError:
    print("scapy not available: skipped")
    sys.exit(77)

conf.verb = 0


def mapped4(a):
    return "00" * 10 + "ffff" + "".join("%02x" % int(x) for x in a.split("."))


def hex6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed.hex()


TCP_OPTS = [
    [],
    [("MSS", 1460)],
    [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None), ("WScale", 7)],
    [("NOP", None), ("NOP", None), ("Timestamp", (1, 2))],
    [("SAck", (1000, 2000)), ("EOL", None)],
]


def build(rng):
    """Returns (frame bytes, expected dict) for one random frame."""
    exp = {}
    # --- L2
    tags = rng.choice([0, 0, 1, 2, 2])
    outer_tpid = rng.choice([0x88a8, 0x9100, 0x8100])
    vids = [rng.randrange(1, 4095) for _ in range(tags)]
    # --- L3/L4 choices
    v6 = rng.random() < 0.5
    l4 = rng.choice(["tcp"] * 5 + ["udp"])
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 60, 200, 1000])))
    sport, dport = rng.randrange(1, 65536), rng.choice([25, 587, 465, rng.randrange(1, 65536)])
    seq, ack = rng.randrange(1 << 32), rng.randrange(1 << 32)
    flags = rng.choice([0x02, 0x12, 0x10, 0x18, 0x11, 0x19, 0x04, 0x14])
    window = rng.randrange(65536)
    opts = rng.choice(TCP_OPTS)
    if l4 == "tcp":
        l4pkt = TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, window=window, options=opts)
        proto = 6
    else:
        l4pkt = UDP(sport=sport, dport=dport)
        proto = 17
    frag = None
    if v6:
        src, dst = "2001:db8::%x" % rng.randrange(1, 65536), "2001:db8:1::%x" % rng.randrange(1, 65536)
        ip = IPv6(src=src, dst=dst, hlim=64)
        chain = []
        if rng.random() < 0.3:
            chain.append(IPv6ExtHdrHopByHop())
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            kind = rng.choice(["rt", "dst", "ah", "atomic"])
            if kind == "rt":
                chain.append(IPv6ExtHdrRouting(addresses=["2001:db8::99"] * rng.randrange(0, 3)))
            elif kind == "dst":
                chain.append(IPv6ExtHdrDestOpt())
            elif kind == "ah":
                chain.append(AH(spi=7, seq=1, icv=b"\x00" * 12))
            else:
                chain.append(IPv6ExtHdrFragment(offset=0, m=0, id=rng.randrange(1 << 32)))
        if rng.random() < 0.15:
            frag = (rng.choice([0, 0, 185, 1000]), rng.choice([0, 1]), rng.randrange(1 << 32))
            if frag[0] == 0 and frag[1] == 0:
                frag = (0, 1, frag[2])
            chain.append(IPv6ExtHdrFragment(offset=frag[0], m=frag[1], id=frag[2]))
        # Scapy fills in the next-header of the IPv6 extension headers but
        # not of AH (it expects a security association to): set it, and
        # the AH length (12 fixed bytes + 12 of ICV = 6 words, minus 2)
        codes = {IPv6ExtHdrHopByHop: 0, IPv6ExtHdrRouting: 43, IPv6ExtHdrDestOpt: 60,
                 IPv6ExtHdrFragment: 44, AH: 51}
        for k, h in enumerate(chain):
            if isinstance(h, AH):
                h.nh = codes[type(chain[k + 1])] if k + 1 < len(chain) else proto
                h.payloadlen = 4
        l3 = ip
        for h in chain:
            l3 = l3 / h
        exp.update(ip="6", src=hex6(src), dst=hex6(dst))
        n_ext = len(chain)
    else:
        src = "192.0.2.%d" % rng.randrange(1, 255)
        dst = "198.51.100.%d" % rng.randrange(1, 255)
        options = rng.choice([[], [IPOption_RR(routers=["10.0.0.1"])], [IPOption_NOP()] * 4,
                              [IPOption_Router_Alert()]])
        ipflags, ipfrag = rng.choice([(2, 0), (2, 0), (0, 0), (0, 0), (1, 0), (0, 185), (1, 10)])
        if ipflags & 1 or ipfrag:
            frag = (ipfrag * 8, ipflags & 1, None)
        ip = IP(src=src, dst=dst, ttl=64, options=options, flags=ipflags, frag=ipfrag, id=rng.randrange(65536))
        l3 = ip
        exp.update(ip="4", src=mapped4(src), dst=mapped4(dst))
        n_ext = 0
    pkt = l3 / l4pkt / Raw(payload) if payload else l3 / l4pkt
    # --- L2 on top
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    if tags == 0:
        frame = eth / pkt
    elif tags == 1:
        frame = eth / Dot1Q(vlan=vids[0]) / pkt
    else:
        eth.type = outer_tpid
        frame = eth / Dot1Q(vlan=vids[0], type=0x8100) / Dot1Q(vlan=vids[1]) / pkt
    raw = bytes(frame)
    exp.update(vlan_depth=str(tags), vlan_id=str(vids[-1] if tags else 0), proto=str(proto))
    if frag:
        exp["status"] = "fragment"
        exp.update(frag_off=str(frag[0] * (8 if v6 else 1)), frag_more=str(frag[1]))
        if v6:
            exp["frag_id"] = str(frag[2])
        else:
            exp["frag_id"] = str(ip.id)
    elif l4 == "udp":
        exp["status"] = "not_tcp"
    else:
        exp.update(status="tcp", sport=str(sport), dport=str(dport), seq=str(seq), ack=str(ack),
                   flags=str(flags), window=str(window), opt_bad="0", payload=payload.hex())
    # padding after the datagram (as a switch adds below 60 bytes)
    if rng.random() < 0.3:
        raw += b"\xee" * rng.randrange(1, 30)
    # truncation anywhere before the end of the datagram
    elif rng.random() < 0.15:
        cut = rng.randrange(0, len(raw))
        raw = raw[:cut]
        exp = {"status": "truncated"}
    return raw, exp, n_ext


def write_pcap(path, frames):
    """Classic pcap, Ethernet link type, frames exactly as built."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, r in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(r), len(r)))
            f.write(r)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    dump = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2024
    rng = random.Random(seed)
    exps = []
    depth_max = 0
    for _ in range(3000):
        raw, exp, n_ext = build(rng)
        depth_max = max(depth_max, n_ext)
        exps.append((raw, exp))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "frames.pcap")
        write_pcap(path, [r for r, _ in exps])
        out = subprocess.run([dump, path], capture_output=True, text=True)
    if out.returncode != 0:
        print("pkt_parse_dump failed: %s" % out.stderr, file=sys.stderr)
        return 1
    lines = out.stdout.splitlines()
    if len(lines) != len(exps):
        print("%d lines for %d frames" % (len(lines), len(exps)), file=sys.stderr)
        return 1
    bad = 0
    counts = {}
    for i, (line, (raw, exp)) in enumerate(zip(lines, exps)):
        got = dict(kv.split("=", 1) for kv in line.split())
        counts[got.get("status")] = counts.get(got.get("status"), 0) + 1
        for k, v in exp.items():
            if got.get(k) != v:
                bad += 1
                if bad <= 10:
                    print("frame %d (%s): %s=%r, expected %r\n  frame %s" %
                          (i, Ether(raw).summary() if len(raw) >= 14 else "short", k, got.get(k), v,
                           raw.hex()), file=sys.stderr)
                break
    print("frames: %d, by status: %s, longest extension chain: %d" % (len(exps), counts, depth_max))
    if bad:
        print("%d frames parsed differently from how Scapy built them" % bad, file=sys.stderr)
        return 1
    for need in ("tcp", "not_tcp", "fragment", "truncated"):
        if counts.get(need, 0) < 20:
            print("too few %s frames generated: %s" % (need, counts), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
