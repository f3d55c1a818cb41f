#!/usr/bin/python3
"""The topology and its user-space delay (delayer.py), on their own:

  - without a delay the round trip ours -> remote is well under a millisecond;
  - with D ms each way it is 2*D (within scheduling slack), in both
    directions, and a 1 MB TCP transfer through the router arrives intact;
  - with a tiny queue bound the delayer drops (and counts) instead of
    growing, and TCP still delivers every byte (it retransmits);
  - bad arguments and a missing TUN device give a clear error, exit 2.

  test_delayer.py WORKDIR
Exit 0 pass, 1 fail, 77 skipped (not root, no /dev/net/tun).
"""
import hashlib
import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenario  # noqa: E402
from topo import Topology  # noqa: E402

DELAYER = os.path.join(HERE, "delayer.py")
PY = "/usr/bin/python3"

SINK = """
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 2626)); s.listen(1); s.settimeout(60)
open(sys.argv[2], "w").close()
c, _ = s.accept(); c.settimeout(60); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d); n += len(d)
print(n, h.hexdigest())
"""
SOURCE = """
import socket, sys
data = bytes(range(256)) * (int(sys.argv[2]) // 256)
c = socket.create_connection((sys.argv[1], 2626), timeout=60); c.sendall(data); c.close()
"""


def transfer(topo, nbytes, work):
    """nbytes from remote to ours through the router; (received, sha ok)."""
    ready = os.path.join(work, "sink.ready")
    if os.path.exists(ready):
        os.unlink(ready)
    sink = subprocess.Popen(topo.nsenter("ours") + [PY, "-c", SINK, topo.ip["ours"], ready],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        scenario.wait_for(lambda: os.path.exists(ready) or sink.poll() is not None, "the sink", 10)
        topo.run("remote", PY, "-c", SOURCE, topo.ip["ours"], str(nbytes), timeout=120)
        out = sink.communicate(timeout=60)[0].decode().split()
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    want = hashlib.sha256(bytes(range(256)) * (nbytes // 256)).hexdigest()
    return int(out[0]), out[1] == want


def delayer_stats(topo):
    topo.stop_proc("delayer", signal.SIGTERM)
    with open(os.path.join(topo.workdir, "delayer.log")) as f:
        lines = [ln for ln in f if ln.startswith("{")]
    return json.loads(lines[-1])


def main(argv):
    if len(argv) != 2:
        print("usage: test_delayer.py WORKDIR", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        return scenario.SKIP
    if not os.path.exists("/dev/net/tun"):
        print("SKIP: /dev/net/tun missing")
        return scenario.SKIP
    work = scenario.fresh_workdir(os.path.abspath(argv[1]))
    check = scenario.Checks()

    # bad input: clear messages, exit 2, no traceback
    for args, want in ((["a", "b"], "usage"), (["a", "b", "-5", "/dev/null"], "DELAY_MS"),
                       (["a", "b", "10", "/dev/null", "--max-queue", "0"], "--max-queue"),
                       (["a", "b", "ten", "/dev/null"], "DELAY_MS")):
        p = subprocess.run([PY, DELAYER] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode()
        check(p.returncode == 2 and want in err and "Traceback" not in err,
              "delayer %s: exit 2 with a clear message (%d: %s)" % (" ".join(args), p.returncode, err.strip()))

    plain = Topology(os.path.join(work, "plain"))
    os.makedirs(plain.workdir)
    try:
        plain.create()
        base = plain.rtt_ms()
        check(base < 5, "no delay: round trip %.2f ms" % base)
        # a TUN name that does not exist in this namespace
        p = plain.run("router", PY, DELAYER, "nosuchtun0", "nosuchtun1", "10", os.path.join(work, "x.ready"),
                      check=False)
        out = p.stdout.decode()
        check(p.returncode == 2 and "nosuchtun0" in out and "Traceback" not in out,
              "missing TUN device: exit 2 naming it (%d: %s)" % (p.returncode, out.strip()))
    finally:
        plain.close()

    for delay in (10.0, 20.0):
        d = os.path.join(work, "delay-%d" % delay)
        os.makedirs(d)
        topo = Topology(d, delay)
        try:
            topo.create()
            rtt = topo.rtt_ms()
            check(2 * delay <= rtt <= 2 * delay + 10, "%.0f ms each way: round trip %.1f ms" % (delay, rtt))
            n, ok = transfer(topo, 1 << 20, d)
            check(n == 1 << 20 and ok, "1 MiB through the delayed router arrives intact (%d bytes)" % n)
            st = delayer_stats(topo)
            print("delayer: %s" % json.dumps(st))
            check(st["forwarded"] > 700 and st["dropped_queue_full"] == 0 and st["write_errors"] == 0,
                  "delayer forwarded every packet (%d, %d dropped)" % (st["forwarded"], st["dropped_queue_full"]))
        finally:
            topo.close()

    # bounded queue: 20 packets at most; the transfer still completes
    d = os.path.join(work, "bounded")
    os.makedirs(d)
    topo = Topology(d, 20.0)
    topo.delayer_max_queue = 20
    try:
        topo.create()
        n, ok = transfer(topo, 1 << 20, d)
        st = delayer_stats(topo)
        print("delayer (queue bound 20): %s" % json.dumps(st))
        check(st["max_held"] <= 20 and st["dropped_queue_full"] > 0,
              "queue bound holds: at most %d held, %d dropped" % (st["max_held"], st["dropped_queue_full"]))
        check(n == 1 << 20 and ok, "TCP recovers the drops: 1 MiB intact (%d bytes)" % n)
    finally:
        topo.close()

    if check.failures:
        print("FAILED: %d check(s); logs in %s" % (len(check.failures), work))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except RuntimeError as e:
        print("ERROR: %s" % e)
        sys.exit(1)
