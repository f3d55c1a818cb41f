"""Network namespaces for the mail end-to-end tests.

    ours (home net)  ---veth---  router  ---veth---  remote (the Internet)
    10.B.1.2/24            10.B.1.1  10.B.2.1            10.B.2.2/24

The router forwards between the two links; it is the ISP edge, where
backstop captures (on the router's veth towards ours). With a delay, every
forwarded packet goes through a TUN pair served by delayer.py (policy
routing: anything arriving on either router veth is routed into the TUN
device IN; what the delayer writes to OUT is forwarded by the main table).

Names are unique per run (bs-e2e-PID-*), everything is removed by
Topology.close(), which the tests call from `finally` and signal handlers.
"""
import os
import re
import shutil
import signal
import subprocess
import time

NETNS_DIR = "/var/run/netns"
BPFFS = "/sys/fs/bpf"


def sh(*args, check=True, **kw):
    """Run a command, capture its output; raise with that output on failure."""
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), p.returncode,
                                                 p.stdout.decode(errors="replace").strip()))
    return p


def wait_for(pred, what, timeout=15.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(step)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))


class Topology:
    def __init__(self, workdir, delay_ms=0.0):
        pid = os.getpid()
        self.workdir = workdir
        self.delay_ms = delay_ms
        self.delayer_max_queue = None     # delayer.py's default bound
        self.tag = "bs-e2e-%d" % pid
        self.ns = {r: "%s-%s" % (self.tag, r) for r in ("ours", "router", "remote")}
        short = pid % 100000
        # interface names: at most 15 characters
        self.dev = {"ours": "bs%do" % short, "r_ours": "bs%dr" % short,
                    "remote": "bs%dx" % short, "r_remote": "bs%dy" % short,
                    "tun_in": "bs%di" % short, "tun_out": "bs%dj" % short}
        b = 10 + pid % 200
        self.home_net = "10.%d.1.0/24" % b
        self.ip = {"ours": "10.%d.1.2" % b, "r_ours": "10.%d.1.1" % b,
                   "remote": "10.%d.2.2" % b, "r_remote": "10.%d.2.1" % b}
        self.procs = []          # (name, Popen) stopped in reverse order by close()
        self.closers = []        # callables run by close() before the namespaces go
        self.created = []

    # --- helpers ---------------------------------------------------------
    def nsenter(self, role):
        """Command prefix that runs in a namespace without hiding /sys/fs/bpf
        (ip netns exec remounts /sys)."""
        return ["nsenter", "--net=%s/%s" % (NETNS_DIR, self.ns[role])]

    def run(self, role, *args, check=True, **kw):
        return sh(*(self.nsenter(role) + list(args)), check=check, **kw)

    def spawn(self, name, role, args, **kw):
        log = open(os.path.join(self.workdir, name + ".log"), "wb")
        p = subprocess.Popen(self.nsenter(role) + list(args), stdout=log, stderr=subprocess.STDOUT, **kw)
        log.close()
        self.procs.append((name, p))
        return p

    # --- building --------------------------------------------------------
    @classmethod
    def sweep_stale(cls):
        """Remove what an earlier run of these tests left when it was killed
        outright (SIGKILL leaves no chance to clean up): namespaces and pin
        directories named after a test process that no longer exists.
        Returns what was removed."""
        removed = []
        names = os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []
        for ns in names:
            m = re.fullmatch(r"bs-e2e-(\d+)-(ours|router|remote)", ns)
            if m and not os.path.exists("/proc/" + m.group(1)):
                cls._kill_netns_procs(ns)
                sh("ip", "netns", "del", ns, check=False)
                removed.append(ns)
        pins = os.listdir(BPFFS) if os.path.isdir(BPFFS) else []
        for d in pins:
            m = re.fullmatch(r"bs-e2e-(\d+)", d)
            if m and not os.path.exists("/proc/" + m.group(1)):
                shutil.rmtree(os.path.join(BPFFS, d), ignore_errors=True)
                removed.append(os.path.join(BPFFS, d))
        return removed

    def create(self):
        for what in self.sweep_stale():
            print("removed the leftover %s of a killed run" % what, flush=True)
        for role in ("ours", "router", "remote"):
            sh("ip", "netns", "add", self.ns[role])
            self.created.append(self.ns[role])
            sh("ip", "-n", self.ns[role], "link", "set", "lo", "up")
        d, ip = self.dev, self.ip
        self._link("ours", d["ours"], ip["ours"], d["r_ours"], ip["r_ours"])
        self._link("remote", d["remote"], ip["remote"], d["r_remote"], ip["r_remote"])
        for role, gw in (("ours", ip["r_ours"]), ("remote", ip["r_remote"])):
            sh("ip", "-n", self.ns[role], "route", "add", "default", "via", gw)
        self.run("router", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        if self.delay_ms > 0:
            self._delay()
        return self

    def _link(self, end, dev, dev_ip, rdev, rdev_ip):
        r = self.ns["router"]
        sh("ip", "link", "add", dev, "netns", self.ns[end], "type", "veth", "peer", "name", rdev, "netns", r)
        for ns, name, addr in ((self.ns[end], dev, dev_ip), (r, rdev, rdev_ip)):
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", name)
            # One MSS per packet: capture sees wire-sized frames as a real
            # link would, not 64 KB GSO super-packets handed over by a veth.
            sh("ip", "-n", ns, "link", "set", name, "gso_max_segs", "1", "gso_max_size", "1500",
               "gro_max_size", "1500", "up")

    def _delay(self):
        d, r = self.dev, self.ns["router"]
        for t in (d["tun_in"], d["tun_out"]):
            sh("ip", "-n", r, "tuntap", "add", "dev", t, "mode", "tun")
            sh("ip", "-n", r, "link", "set", t, "up")
        # packets written to OUT come back in with OUT as input interface and
        # foreign addresses: no reverse-path filtering on the router
        for key in ("all", "default", d["tun_out"], d["tun_in"], d["r_ours"], d["r_remote"]):
            self.run("router", "sysctl", "-qw", "net.ipv4.conf.%s.rp_filter=0" % key)
        sh("ip", "-n", r, "route", "add", "default", "dev", d["tun_in"], "table", "100")
        for dev in (d["r_ours"], d["r_remote"]):
            sh("ip", "-n", r, "rule", "add", "iif", dev, "lookup", "100", "priority", "100")
        ready = os.path.join(self.workdir, "delayer.ready")
        p = self.spawn("delayer", "router", ["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "delayer.py"),
                                             d["tun_in"], d["tun_out"], str(self.delay_ms), ready]
                       + (["--max-queue", str(self.delayer_max_queue)] if self.delayer_max_queue else []))
        wait_for(lambda: os.path.exists(ready) or p.poll() is not None, "the delayer", 10)
        if p.poll() is not None:
            raise RuntimeError("delayer exited with %d: see %s/delayer.log" % (p.returncode, self.workdir))

    # --- measuring -------------------------------------------------------
    def rtt_ms(self, count=7, port=7):
        """Median round trip from ours to remote through the router, in ms,
        timed with UDP echoes (no ping binary on the CI box)."""
        echo = ("import socket\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                "s.bind((%r, %d))\n"
                "s.settimeout(30)\n"
                "for _ in range(%d):\n"
                "    d, a = s.recvfrom(2048)\n"
                "    s.sendto(d, a)\n") % (self.ip["remote"], port, count)
        probe = ("import socket, time\n"
                 "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 "s.settimeout(3)\n"
                 "for i in range(%d):\n"
                 "    t = time.monotonic()\n"
                 "    s.sendto(b'%%d' %% i, (%r, %d))\n"
                 "    s.recvfrom(2048)\n"
                 "    print((time.monotonic() - t) * 1000.0)\n"
                 "    time.sleep(0.05)\n") % (count, self.ip["remote"], port)
        server = subprocess.Popen(self.nsenter("remote") + ["/usr/bin/python3", "-c", echo],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            p = self.run("ours", "/usr/bin/python3", "-c", probe, check=False, timeout=30)
        finally:
            server.kill()
            server.wait()
        rtts = []
        for line in p.stdout.decode().split():
            try:
                rtts.append(float(line))
            except ValueError:
                pass
        if p.returncode != 0 or len(rtts) != count:
            raise RuntimeError("UDP echo ours -> remote failed: %s" % p.stdout.decode(errors="replace"))
        rtts.sort()
        return rtts[len(rtts) // 2]

    # --- tearing down ----------------------------------------------------
    def stop_proc(self, name, sig=signal.SIGTERM, timeout=10):
        for n, p in self.procs:
            if n == name and p.poll() is None:
                p.send_signal(sig)
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        return [p.returncode for n, p in self.procs if n == name]

    def close(self):
        errors = []
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception as e:   # keep tearing down whatever failed
                errors.append(str(e))
        self.closers = []
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        # whatever the daemons forked and left behind (Exim's delivery
        # processes outlive its daemon) still lives in our namespaces
        for ns in reversed(self.created):
            left = self._kill_netns_procs(ns)
            if left:
                errors.append("%s: processes %s would not die" % (ns, left))
            sh("ip", "netns", "del", ns, check=False)   # takes its veths and TUNs along
        self.created = []
        return errors

    @staticmethod
    def _kill_netns_procs(ns):
        """SIGTERM, then SIGKILL, every process in network namespace NS (all
        started by this test); returns the pids still alive."""
        def pids():
            p = sh("ip", "netns", "pids", ns, check=False)
            return [int(x) for x in p.stdout.split()] if p.returncode == 0 else []
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
            found = pids()
            if not found:
                return []
            for pid in found:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + grace
            while time.monotonic() < end and pids():
                time.sleep(0.05)
        return pids()
