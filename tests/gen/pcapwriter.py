"""Classic pcap (libpcap 2.4, micro- or nanosecond, Ethernet) writer and frame
builder.

Frames are built with struct, not scapy: the stress captures hold millions of
packets and scapy needs ~100 us per packet. Checksums (IPv4 header, TCP over
the pseudo-header) are computed so that tcpdump, scapy and any parser that
checks them see valid packets.
"""
import array
import ipaddress
import struct
import sys

ETH_P_IPV4 = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

_PCAP_GLOBAL = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_PCAP_GLOBAL_NS = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1)
_REC = struct.Struct("<IIII")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_TCP = struct.Struct("!HHIIBBHHH")
_LITTLE = sys.byteorder == "little"


def checksum(data):
    """RFC 1071 Internet checksum of `data` (bytes)."""
    if len(data) & 1:
        data += b"\0"
    words = array.array("H", data)
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    s = ~s & 0xFFFF
    # array("H") read the words in host order; the sum is byte-order
    # independent (RFC 1071 1.2.B) but the result must be swapped back.
    if _LITTLE:
        s = ((s & 0xFF) << 8) | (s >> 8)
    return s


class Endpoint:
    """An (address, port) pair; the address may be IPv4 or IPv6."""

    __slots__ = ("ip", "port", "packed", "version")

    def __init__(self, ip, port):
        addr = ipaddress.ip_address(ip)
        self.ip = str(addr)          # RFC 5952 text form, as events print it
        self.port = port
        self.packed = addr.packed
        self.version = addr.version


def tcp_frame(src, dst, seq, ack, flags, payload=b"", vlans=(), options=b"",
              window=65535, ip_id=0, src_mac=b"\x02\0\0\0\0\x01", dst_mac=b"\x02\0\0\0\0\x02"):
    """One Ethernet frame carrying a TCP segment from `src` to `dst`
    (Endpoints of the same IP version). `vlans` lists VLAN ids outermost
    first: one id gives 802.1Q, two give QinQ (802.1ad outer tag)."""
    if len(options) % 4:
        options += b"\x01" * (4 - len(options) % 4)   # NOP padding
    doff = (20 + len(options)) // 4
    tcp_len = 20 + len(options) + len(payload)
    if src.version == 4:
        pseudo = struct.pack("!4s4sBBH", src.packed, dst.packed, 0, 6, tcp_len)
    else:
        pseudo = struct.pack("!16s16sIxxxB", src.packed, dst.packed, tcp_len, 6)
    hdr = _TCP.pack(src.port, dst.port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    doff << 4, flags, window, 0, 0)
    csum = checksum(pseudo + hdr + options + payload)
    tcp = hdr[:16] + struct.pack("!H", csum) + hdr[18:] + options + payload
    if src.version == 4:
        iph = _IPV4.pack(0x45, 0, 20 + tcp_len, ip_id & 0xFFFF, 0x4000, 64, 6, 0,
                         src.packed, dst.packed)
        iph = iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:]
        ethertype = ETH_P_IPV4
    else:
        iph = _IPV6.pack(6 << 28, tcp_len, 6, 64, src.packed, dst.packed)
        ethertype = ETH_P_IPV6
    l2 = dst_mac + src_mac
    for i, vid in enumerate(vlans):
        tpid = ETH_P_8021AD if (i == 0 and len(vlans) > 1) else ETH_P_8021Q
        l2 += struct.pack("!HH", tpid, vid & 0x0FFF)
    l2 += struct.pack("!H", ethertype)
    return l2 + iph + tcp


def _l2(vlans, ethertype, src_mac=b"\x02\0\0\0\0\x01", dst_mac=b"\x02\0\0\0\0\x02"):
    l2 = dst_mac + src_mac
    for i, vid in enumerate(vlans):
        tpid = ETH_P_8021AD if (i == 0 and len(vlans) > 1) else ETH_P_8021Q
        l2 += struct.pack("!HH", tpid, vid & 0x0FFF)
    return l2 + struct.pack("!H", ethertype)


def tcp_frames(src, dst, seq, ack, flags, payload=b"", vlans=(), options=b"", window=65535,
               ip_id=0, ip_opts=b"", v6_ext=(), frag=0):
    """Like tcp_frame, with IPv4 options (`ip_opts`, padded with EOL), IPv6
    extension headers before the TCP header (`v6_ext`: 0 hop-by-hop, 60
    destination options; each 8 bytes of PadN), and IP fragmentation into
    pieces of `frag` bytes (a multiple of 8; IPv6 uses a Fragment header).
    Returns a list of frames."""
    whole = tcp_frame(src, dst, seq, ack, flags, payload, (), options, window, ip_id)
    l3 = 20 if src.version == 4 else 40
    l4 = whole[14 + l3:]
    if src.version == 4:
        if len(ip_opts) % 4:
            ip_opts += b"\0" * (4 - len(ip_opts) % 4)
        pieces = [l4[i:i + frag] for i in range(0, len(l4), frag)] if frag else [l4]
        out = []
        for k, piece in enumerate(pieces):
            more = 0x2000 if k < len(pieces) - 1 else 0
            off = (k * frag // 8) if frag else 0
            fl = (0x4000 if not frag else 0) | more | off
            iph = _IPV4.pack(0x40 | (5 + len(ip_opts) // 4), 0, 20 + len(ip_opts) + len(piece),
                             ip_id & 0xFFFF, fl, 64, 6, 0, src.packed, dst.packed) + ip_opts
            iph = iph[:10] + struct.pack("!H", checksum(iph)) + iph[12:]
            out.append(_l2(vlans, ETH_P_IPV4) + iph + piece)
        return out
    chain = list(v6_ext)
    def ext_bytes(types, last_next):
        b = b""
        for i, t in enumerate(types):
            nxt = types[i + 1] if i + 1 < len(types) else last_next
            b += struct.pack("!BB", nxt, 0) + b"\x01\x04\0\0\0\0"    # PadN, 8 bytes in all
        return b
    if not frag:
        ext = ext_bytes(chain, 6)
        first = chain[0] if chain else 6
        iph = _IPV6.pack(6 << 28, len(ext) + len(l4), first, 64, src.packed, dst.packed)
        return [_l2(vlans, ETH_P_IPV6) + iph + ext + l4]
    ext = ext_bytes(chain, 44)
    first = chain[0] if chain else 44
    out = []
    pieces = [l4[i:i + frag] for i in range(0, len(l4), frag)]
    for k, piece in enumerate(pieces):
        more = 1 if k < len(pieces) - 1 else 0
        fh = struct.pack("!BBHI", 6, 0, ((k * frag // 8) << 3) | more, 0x10000 + ip_id)
        iph = _IPV6.pack(6 << 28, len(ext) + 8 + len(piece), first, 64, src.packed, dst.packed)
        out.append(_l2(vlans, ETH_P_IPV6) + iph + ext + fh + piece)
    return out


class PcapWriter:
    """Writes records to a pcap file; timestamps are nanoseconds. `nano`
    writes the nanosecond-resolution pcap variant (magic 0xa1b23c4d)."""

    def __init__(self, path, nano=False):
        self.f = open(path, "wb", buffering=1 << 20)
        self.nano = nano
        self.f.write(_PCAP_GLOBAL_NS if nano else _PCAP_GLOBAL)
        self.packets = 0
        self.bytes = 0

    def write(self, ts_ns, frame):
        if self.nano:
            self.f.write(_REC.pack(ts_ns // 10**9, ts_ns % 10**9, len(frame), len(frame)))
        else:
            us = ts_ns // 1000
            self.f.write(_REC.pack(us // 1000000, us % 1000000, len(frame), len(frame)))
        self.f.write(frame)
        self.packets += 1
        self.bytes += len(frame)

    def close(self):
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
