"""The ISP edge of the mail end-to-end tests: `backstop` capturing live on
the router's veth towards ours (DPDK net_af_packet), optionally pushing
verdicts into the XDP enforcer that `backstopctl` attached on our server's
interface, and the event log it writes.
"""
import json
import os
import shutil
import signal
import time

from topo import BPFFS, wait_for


class Backstop:
    def __init__(self, topo, exe, workdir, home_domain, enforce_pin=None):
        self.topo, self.exe, self.workdir = topo, exe, workdir
        self.events_path = os.path.join(workdir, "events.json")
        self.summary_path = os.path.join(workdir, "summary.json")
        self.home_domain = home_domain
        self.pin = enforce_pin
        self.proc = None

    def start(self):
        t = self.topo
        eal = ["-l", "0-1", "--no-pci", "--no-huge", "-m", "512", "--no-shconf", "--no-telemetry",
               "--file-prefix", t.tag, "--vdev=net_af_packet0,iface=%s" % t.dev["r_ours"]]
        opts = ["--home-net", t.home_net, "--home-domain", self.home_domain,
                "--events", self.events_path, "--summary-json", self.summary_path]
        if self.pin:
            opts += ["--enforce", "--bpf-pin", self.pin]
        for p in (self.events_path, self.summary_path):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = t.spawn("backstop", "router", [self.exe] + eal + ["--"] + opts)
        wait_for(lambda: os.path.exists(self.events_path) or self.proc.poll() is not None,
                 "backstop to open its event log", 30)
        if self.proc.poll() is not None:
            raise RuntimeError("backstop exited with %d at start: %s" % (self.proc.returncode, self.log()[-2000:]))

    def log(self):
        try:
            with open(os.path.join(self.workdir, "backstop.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def events(self):
        out = []
        try:
            with open(self.events_path) as f:
                for n, line in enumerate(f, 1):
                    if line.endswith("\n"):        # a line still being written waits
                        try:
                            out.append(json.loads(line))
                        except ValueError as e:
                            raise RuntimeError("%s:%d: not JSON: %s" % (self.events_path, n, e))
        except FileNotFoundError:
            pass
        return out

    def wait_event(self, pred, what, timeout=20):
        found = []
        wait_for(lambda: found.extend(e for e in self.events() if pred(e)) or found, what + " in the events", timeout)
        return found[0]

    def stop(self):
        """SIGINT: backstop flushes the open sessions' events and exits 0."""
        if self.proc is None:
            return None
        rc = self.topo.stop_proc("backstop", signal.SIGINT, timeout=30)
        self.proc = None
        return rc[-1] if rc else None

    def summary(self):
        with open(self.summary_path) as f:
            return json.load(f)


class Enforcer:
    """The XDP enforcer attached (generic mode) to our server's interface,
    its maps pinned in a directory of this run's own."""

    def __init__(self, topo, ctl):
        self.topo, self.ctl = topo, ctl
        self.pin = os.path.join(BPFFS, topo.tag)
        self.attached = False

    def run(self, *args, check=True):
        return self.topo.run("ours", self.ctl, *args, "--pin-dir", self.pin, check=check)

    def attach(self):
        self.topo.closers.append(self.close)
        self.run("xdp", "attach", self.topo.dev["ours"], "--mode", "generic")
        self.attached = True

    def sessions(self):
        return self.run("verdict", "list", "session", check=False).stdout.decode(errors="replace")

    def stats(self):
        return self.run("xdp", "stats", check=False).stdout.decode(errors="replace")

    def close(self):
        if self.attached:
            self.attached = False
            self.run("xdp", "detach", self.topo.dev["ours"], check=False)
        if os.path.isdir(self.pin):
            shutil.rmtree(self.pin, ignore_errors=True)   # unlinking pins frees the maps


class Tcpdump:
    """Full-packet capture on one interface of a namespace, for measuring."""

    def __init__(self, topo, role, dev, path):
        self.topo, self.role, self.dev, self.path = topo, role, dev, path
        self.name = "tcpdump-" + role

    def start(self):
        p = self.topo.spawn(self.name, self.role, ["tcpdump", "-i", self.dev, "-s", "0", "-U", "--immediate-mode", "-n",
                                                   "-w", self.path, "tcp port 25"])
        log = os.path.join(self.topo.workdir, self.name + ".log")
        wait_for(lambda: b"listening on" in open(log, "rb").read() or p.poll() is not None, "tcpdump", 15)
        if p.poll() is not None:
            raise RuntimeError("tcpdump on %s failed: %s" % (self.dev, open(log).read()))

    def stop(self):
        time.sleep(0.3)                  # let the last packets reach the file
        self.topo.stop_proc(self.name, signal.SIGINT)


def tool_missing(*paths):
    for p in paths:
        if not (os.path.isabs(p) and os.access(p, os.X_OK)) and not shutil.which(p):
            return p
    return None


