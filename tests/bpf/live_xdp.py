#!/usr/bin/python3
"""Live test of the XDP enforcer: two network namespaces joined by a veth
pair, the enforcer attached to both ends (native, then generic mode), TCP
echo connections over IPv4 and IPv6. `backstopctl verdict add session`
must cut one established connection at once while another keeps working,
and `verdict del` must restore it (TCP retransmits what was lost).

usage: live_xdp.py BACKSTOPCTL     (root; exits 77 to skip otherwise)
Everything it creates (namespaces, veths, pins) is removed on any exit."""
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
SFX = str(os.getpid() % 100000)
NS_A, NS_B = "bsla" + SFX, "bslb" + SFX
IF_A, IF_B = "bsa" + SFX, "bsb" + SFX
PIN = "/sys/fs/bpf/bs-test-live-" + SFX
ADDR = {4: ("10.77.0.1", "10.77.0.2"), 6: ("fd00:77::1", "fd00:77::2")}
PORT = 2525
failures = []


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r


def ctl(ns, *args):
    """backstopctl in the network namespace ns, seeing the host's bpffs
    (nsenter --net, not `ip netns exec`, which remounts /sys)."""
    env = dict(os.environ, BACKSTOP_BPF_PIN=PIN)
    return subprocess.run(["nsenter", "--net=/run/netns/" + ns, CTL] + list(args),
                          capture_output=True, text=True, env=env)


def cleanup():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    if os.path.isdir(PIN):
        for f in os.listdir(PIN):
            try:
                os.unlink(os.path.join(PIN, f))
            except OSError:
                pass
        try:
            os.rmdir(PIN)
        except OSError:
            pass


def on_signal(sig, frame):
    cleanup()
    os._exit(1)


class InNetns:
    """Moves this thread into a namespace for the with-block; sockets made
    there stay in it."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/" + self.ns, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns " + self.ns)
        finally:
            os.close(fd)

    def __exit__(self, *exc):
        libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def serve(lsock):
    def echo(c):
        with c:
            while True:
                try:
                    d = c.recv(4096)
                except OSError:
                    return
                if not d:
                    return
                c.sendall(d)
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=echo, args=(c,), daemon=True).start()


def echo(sock, token, timeout):
    """Sends token, waits until it comes back; True if it did in time."""
    sock.settimeout(timeout)
    buf = b""
    try:
        sock.sendall(token + b"\n")
        deadline = time.monotonic() + timeout
        while (token + b"\n") not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(left)
            d = sock.recv(4096)
            if not d:
                return False
            buf += d
        return True
    except (socket.timeout, OSError):
        return False


def setup():
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", IF_A, "netns", NS_A, "type", "veth", "peer", "name", IF_B, "netns", NS_B)
    for ns, ifn, i in ((NS_A, IF_A, 0), (NS_B, IF_B, 1)):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "addr", "add", ADDR[4][i] + "/24", "dev", ifn)
        sh("ip", "-n", ns, "addr", "add", ADDR[6][i] + "/64", "dev", ifn, "nodad")
        sh("ip", "-n", ns, "link", "set", ifn, "up")
    servers = []
    with InNetns(NS_A):
        for fam, af in ((4, socket.AF_INET), (6, socket.AF_INET6)):
            s = socket.socket(af, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ADDR[fam][0], PORT))
            s.listen(16)
            threading.Thread(target=serve, args=(s,), daemon=True).start()
            servers.append(s)
    return servers


def connect(fam):
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    with InNetns(NS_B):
        s = socket.socket(af, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(5)
        s.connect((ADDR[fam][0], PORT))
    return s


def stat(ns, name):
    r = ctl(ns, "xdp", "stats")
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == name:
            return int(f[1])
    return -1


def run_mode(mode):
    for ns, ifn in ((NS_A, IF_A), (NS_B, IF_B)):
        r = ctl(ns, "xdp", "attach", ifn, "--mode", mode)
        check(r.returncode == 0, "%s: attach to %s: %s" % (mode, ifn, (r.stdout + r.stderr).strip()))
    r = ctl(NS_B, "xdp", "status")
    check(IF_B in r.stdout and mode in r.stdout and "bs_xdp_enforce" in r.stdout,
          "%s: xdp status shows the enforcer on %s" % (mode, IF_B))
    for fam in (4, 6):
        cut, keep = connect(fam), connect(fam)
        if fam == 6:
            # reload in place while connections are open: same maps, no gap
            r = ctl(NS_B, "xdp", "attach", IF_B, "--mode", mode)
            check(r.returncode == 0 and echo(keep, b"after-reload", 5),
                  "%s: re-attach (reload) with connections open" % mode)
        check(echo(cut, b"hello", 5) and echo(keep, b"hello", 5), "%s IPv%d: both connections echo" % (mode, fam))
        client, cport = cut.getsockname()[:2]
        drops0 = stat(NS_B, "drop_session")
        t0 = time.monotonic()
        r = ctl(NS_B, "verdict", "add", "session", client, str(cport), ADDR[fam][0], str(PORT), "--ttl", "60")
        t1 = time.monotonic()
        check(r.returncode == 0, "%s IPv%d: verdict add session (%.1f ms): %s" % (mode, fam, (t1 - t0) * 1e3, r.stderr.strip()))
        check(not echo(cut, b"after-verdict", 0.5), "%s IPv%d: cut connection gets no echo after the verdict" % (mode, fam))
        check(echo(keep, b"still-here", 5), "%s IPv%d: other connection keeps working" % (mode, fam))
        drops = stat(NS_B, "drop_session") - drops0
        check(drops > 0, "%s IPv%d: drop_session counted %d packets" % (mode, fam, drops))
        r = ctl(NS_B, "verdict", "list", "session")
        check(str(cport) in r.stdout, "%s IPv%d: verdict list shows the session" % (mode, fam))
        # the verdict names the server as source: the same entry
        r = ctl(NS_B, "verdict", "del", "session", ADDR[fam][0], str(PORT), client, str(cport))
        check(r.returncode == 0, "%s IPv%d: verdict del (reversed ends): %s" % (mode, fam, r.stderr.strip()))
        t2 = time.monotonic()
        ok = echo(cut, b"restored", 10)
        check(ok, "%s IPv%d: connection restored after verdict del (%.2f s, TCP retransmission)" %
              (mode, fam, time.monotonic() - t2))
        cut.close()
        keep.close()
    for ns, ifn in ((NS_A, IF_A), (NS_B, IF_B)):
        r = ctl(ns, "xdp", "detach", ifn)
        check(r.returncode == 0, "%s: detach from %s" % (mode, ifn))
    r = ctl(NS_B, "xdp", "status")
    check(IF_B not in r.stdout, "%s: status no longer lists %s" % (mode, IF_B))


def main():
    global CTL
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    CTL = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, XDP)")
        return 77
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        try:
            setup()
        except RuntimeError as e:
            print("SKIP: cannot build the namespaces here: %s" % e)
            return 77
        for mode in ("native", "generic"):
            run_mode(mode)
    finally:
        cleanup()
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
