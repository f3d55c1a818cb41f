#!/usr/bin/python3
"""User-space link delay for the end-to-end topology (this kernel has no
netem qdisc). The router namespace routes every forwarded packet into the
TUN device IN (policy routing); this process reads each packet, holds it
for DELAY_MS and writes it to the TUN device OUT, where the kernel receives
it again and forwards it by the main routing table. Both directions share
the one queue, so order is kept and each direction gets the same one-way
delay.

  delayer.py IN OUT DELAY_MS READYFILE [--max-queue N]

Run it inside the router namespace (the TUN devices must exist there:
`ip tuntap add dev IN mode tun`). Memory is bounded: at most N packets are
held (default 20000, about 30 MB of MTU-sized packets); beyond that new
packets are dropped and counted, like a full router queue. On SIGTERM or
SIGINT it prints its counters as one JSON line on stdout and exits 0.
"""
import collections
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
READ_MAX = 65536


def open_tun(name):
    # TUNSETIFF would silently create a missing device: insist that the
    # topology made it (in this network namespace)
    try:
        socket.if_nametoindex(name)
    except OSError:
        raise OSError("%s: no such network device in this namespace (create it with "
                      "`ip tuntap add dev %s mode tun`)" % (name, name)) from None
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError as e:
        os.close(fd)
        raise OSError("%s: cannot attach to TUN device: %s" % (name, e.strerror)) from None
    return fd


def parse_args(argv):
    if len(argv) not in (5, 7) or (len(argv) == 7 and argv[5] != "--max-queue"):
        raise ValueError("usage: delayer.py IN OUT DELAY_MS READYFILE [--max-queue N]")
    try:
        delay_ms = float(argv[3])
    except ValueError:
        delay_ms = -1.0
    if not 0 <= delay_ms <= 10000:
        raise ValueError("DELAY_MS must be a number of milliseconds from 0 to 10000, got %r" % argv[3])
    try:
        max_queue = int(argv[6]) if len(argv) == 7 else 20000
    except ValueError:
        max_queue = 0
    if max_queue < 1:
        raise ValueError("--max-queue must be a whole number of packets, at least 1, got %r" % argv[6])
    return argv[1], argv[2], delay_ms / 1000.0, argv[4], max_queue


def main(argv):
    try:
        tun_in, tun_out, delay, ready, max_queue = parse_args(argv)
        fd_in, fd_out = open_tun(tun_in), open_tun(tun_out)
    except (ValueError, OSError) as e:
        print("delayer: %s" % e, file=sys.stderr)
        return 2
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    held = collections.deque()          # (due time, packet), due times ascending
    st = {"delay_ms": delay * 1000.0, "forwarded": 0, "bytes": 0, "dropped_queue_full": 0,
          "write_errors": 0, "max_held": 0}
    with open(ready, "w") as f:
        f.write("%d\n" % os.getpid())
    while not stop:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, pkt = held.popleft()
            try:
                os.write(fd_out, pkt)
                st["forwarded"] += 1
                st["bytes"] += len(pkt)
            except OSError:
                st["write_errors"] += 1
        # sleep until the next packet is due (select: microsecond grain);
        # idle, wake up now and then, since select() restarts after a signal
        timeout = 0.2 if not held else max(0.0, held[0][0] - time.monotonic())
        try:
            readable, _, _ = select.select([fd_in], [], [], timeout)
        except InterruptedError:
            continue
        if not readable:
            continue
        # drain what the kernel queued, stamping each packet on arrival
        while True:
            try:
                pkt = os.read(fd_in, READ_MAX)
            except BlockingIOError:
                break
            except InterruptedError:
                break
            if len(held) >= max_queue:
                st["dropped_queue_full"] += 1
                continue
            held.append((time.monotonic() + delay, pkt))
        st["max_held"] = max(st["max_held"], len(held))
    print(json.dumps(st), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
