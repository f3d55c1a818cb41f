"""What the mail end-to-end tests share: the topology with our Postfix
(home.example) and the remote server (remote.example: Postfix, or Exim)
running, backstop at the edge, the common messages, checks and skip rules.
"""
import os
import shutil
import signal
import sys

import edge
import exim_inst
import postfix_inst
import topo as topo_mod
from topo import Topology, wait_for

HOME, REMOTE = "home.example", "remote.example"
SKIP = 77


class Checks:
    def __init__(self):
        self.failures = []

    def __call__(self, ok, what):
        print("%s: %s" % ("ok  " if ok else "FAIL", what), flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def skip_reason(backstop_exe, extra_tools=()):
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    missing = postfix_inst.postfix_missing()
    if missing:
        return missing
    tool = edge.tool_missing(backstop_exe, "ip", "nsenter", "ss", *extra_tools)
    if tool:
        return tool + " not found"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun missing"
    return None


def netns_list():
    return os.listdir(topo_mod.NETNS_DIR) if os.path.isdir(topo_mod.NETNS_DIR) else []


def fresh_workdir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    os.chmod(path, 0o755)       # Postfix daemons (user postfix) walk below it
    return path


class MailNet:
    """ours (Postfix, home.example) -- router (backstop) -- remote (Postfix or Exim)."""

    def __init__(self, workdir, backstop_exe, delay_ms=0.0, enforcer_ctl=None, exim_exe=None):
        self.workdir = workdir
        self.exim_exe = exim_exe          # the remote runs Exim instead of Postfix
        self.topo = Topology(workdir, delay_ms)
        self.backstop_exe, self.enforcer_ctl = backstop_exe, enforcer_ctl
        self.ours = self.remote = self.edge = self.xdp = None

    def __enter__(self):
        def on_signal(sig, frame):
            raise KeyboardInterrupt("signal %d" % sig)
        signal.signal(signal.SIGTERM, on_signal)   # meson's timeout: still clean up
        return self

    def __exit__(self, *exc):
        errors = self.topo.close()
        for e in errors:
            print("cleanup: " + e, file=sys.stderr)
        return False

    def start(self):
        t = self.topo.create()
        # the path's own round trip, before backstop's poll loops take the CPUs
        self.rtt_idle = t.rtt_ms() if self.topo.delay_ms > 0 else None
        self.ours = postfix_inst.Postfix(t, "ours", "home", os.path.join(self.workdir, "postfix-ours"), HOME,
                                         "mail." + HOME, t.ip["ours"], t.home_net, REMOTE, t.ip["remote"])
        if self.exim_exe:
            self.remote = exim_inst.Exim(t, "remote", self.exim_exe, os.path.join(self.workdir, "exim-remote"),
                                         REMOTE, "mx." + REMOTE, t.ip["remote"], HOME, t.ip["ours"])
        else:
            # the remote relays nothing: only its own address counts as local
            self.remote = postfix_inst.Postfix(t, "remote", "remote", os.path.join(self.workdir, "postfix-remote"),
                                               REMOTE, "mx." + REMOTE, t.ip["remote"], t.ip["remote"] + "/32",
                                               HOME, t.ip["ours"])
        self.ours.start()
        self.remote.start()
        if self.enforcer_ctl:
            self.xdp = edge.Enforcer(t, self.enforcer_ctl)
            self.xdp.attach()
        self.edge = edge.Backstop(t, self.backstop_exe, self.workdir, HOME,
                                  enforce_pin=self.xdp.pin if self.xdp else None)
        self.edge.start()
        self.warm_up()

    def warm_up(self):
        """Ordinary inbound mail until backstop reports it: proves the capture
        runs before the scenarios start (the af_packet port takes a moment)."""
        t = self.topo
        for n in range(10):
            mid = "<warmup-%d-%d@%s>" % (os.getpid(), n, REMOTE)
            postfix_inst.swaks(t, "remote", t.ip["ours"], "carol@" + REMOTE, "dave@" + HOME,
                               headers=["Message-Id: " + mid, "Subject: lunch on Friday?"],
                               body="Shall we meet at noon?\n", helo="mx." + REMOTE)
            try:
                self.warm = self.edge.wait_event(lambda e: e["email"]["message_id"] == mid,
                                                 "the warm-up message", 3)
                return
            except RuntimeError:
                continue
        raise RuntimeError("backstop saw none of 10 warm-up messages: %s" % self.edge.log()[-2000:])

    # --- scenarios ---------------------------------------------------------
    def send_outbound(self, user, to_user, mid, subject, body_file=None):
        """A home user's message to an unknown remote user, through our
        server and the edge; returns the queue id of the remote's NDR."""
        t = self.topo
        postfix_inst.swaks(t, "ours", t.ip["ours"], "%s@%s" % (user, HOME), "%s@%s" % (to_user, REMOTE),
                           headers=["Message-Id: " + mid, "Subject: " + subject], body_file=body_file,
                           helo="workstation." + HOME, timeout=120)
        return self._remote_bounce(mid)

    def send_forged(self, victim, to_user, mid, subject, body_file=None):
        """A spammer hands the remote server a message with a forged
        home.example sender, never touching our network; returns the queue id
        of the NDR the remote sends to the victim."""
        t = self.topo
        postfix_inst.swaks(t, "remote", t.ip["remote"], "%s@%s" % (victim, HOME), "%s@%s" % (to_user, REMOTE),
                           headers=["Message-Id: " + mid, "Subject: " + subject], body_file=body_file,
                           helo="bulk-sender.invalid", timeout=120)
        return self._remote_bounce(mid)

    def _remote_bounce(self, mid):
        wait_for(lambda: self.remote.queue_id_of(mid), "the remote to queue %s" % mid, 60)
        qid = self.remote.queue_id_of(mid)
        return self.remote.bounce_of(qid, 60)

    def ndr_message_id(self, ndr_qid):
        return self.remote.ndr_message_id(ndr_qid)

    def delivered_to(self, address):
        """Our server's log lines that delivered mail to ADDRESS."""
        return [ln for ln in self.ours.log().splitlines()
                if "to=<%s>" % address in ln and "status=sent" in ln and "relay=virtual" in ln]


def write_body(path, size, label):
    """A plain text body of about SIZE bytes (readable lines, dot lines
    included so dot-stuffing is exercised); returns its last line."""
    lines, n, total = [], 0, 0
    while total < size:
        ln = "%s line %06d: the quick brown fox jumps over the lazy dog 0123456789\n" % (label, n)
        if n % 97 == 5:
            ln = "." + ln
        lines.append(ln)
        total += len(ln)
        n += 1
    with open(path, "w") as f:
        f.write("".join(lines))
    return lines[-1].strip().lstrip(".")


