#!/usr/bin/python3
"""Live capture: backstop on a veth (DPDK net_af_packet) inside a network
namespace the test creates, a real SMTP server (aiosmtpd) and client
(smtplib). While it runs, `backstopctl stats` reads its counters through
DPDK telemetry; on SIGTERM it must end the open session, write the half-sent
transaction (anomaly "incomplete") and exit 0.

  test_live.py BACKSTOP BACKSTOPCTL SMTP_SINK WORKDIR
Exit 77 when not root or a tool is missing.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("nsenter"):
    print("needs root, ip and nsenter")
    sys.exit(77)
try:
    import aiosmtpd  # noqa: F401
except ImportError:
    print("needs python3-aiosmtpd")
    sys.exit(77)

backstop, ctl, sink, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
tag = "bslive%d" % (os.getpid() % 100000)
ns_s, ns_c = tag + "s", tag + "c"
net = "10.%d.%d" % (200 + os.getpid() % 50, os.getpid() % 250)
srv_ip, cli_ip = net + ".1", net + ".2"
events = os.path.join(work, "events.jsonl")
procs = []


def sh(*a, check=True):
    return subprocess.run(a, check=check, capture_output=True, text=True)


def in_ns(ns, *a):
    return ["nsenter", "--net=/var/run/netns/" + ns] + list(a)


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in (ns_s, ns_c):
        sh("ip", "netns", "del", ns, check=False)


failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


try:
    for ns in (ns_s, ns_c):
        sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", tag + "a", "type", "veth", "peer", "name", tag + "b")
    sh("ip", "link", "set", tag + "a", "netns", ns_s)
    sh("ip", "link", "set", tag + "b", "netns", ns_c)
    for ns, dev, ip in ((ns_s, tag + "a", srv_ip), (ns_c, tag + "b", cli_ip)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        # one frame per segment, as a mirror port delivers them (no GSO super-frames)
        sh("ip", "-n", ns, "link", "set", dev, "gso_max_size", "1500", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    ready = os.path.join(work, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    if os.path.exists(events):
        os.unlink(events)
    procs.append(subprocess.Popen(in_ns(ns_s, "/usr/bin/python3", sink, srv_ip, "25",
                                        os.path.join(work, "server.jsonl"), ready)))
    bs = subprocess.Popen(in_ns(ns_c, backstop, "-l", "0", "--no-pci",
                                "--vdev=net_af_packet0,iface=%s" % (tag + "b"), "--",
                                "--home-net", net + ".0/24", "--events", events),
                          stderr=open(os.path.join(work, "backstop.err"), "w"))
    procs.append(bs)
    for _ in range(100):
        if os.path.exists(ready):
            break
        time.sleep(0.1)
    time.sleep(2.0)  # the af_packet port needs a moment before it sees frames

    client = r'''
import smtplib, socket, sys, time
srv = sys.argv[1]
s = smtplib.SMTP(srv, 25, local_hostname="live.client.example")
s.sendmail("alice@example.org", ["bob@example.net"],
           b"Message-ID: <live.1@example.org>\r\nSubject: live one\r\n\r\nhello\r\n")
s.quit()
# a second session that stops in the middle of DATA and stays open
c = socket.create_connection((srv, 25))
f = c.makefile("rb")
def cmd(x):
    c.sendall(x)
    while True:
        l = f.readline()
        if l[3:4] != b"-":
            return l
f.readline()
cmd(b"EHLO live.client.example\r\n")
cmd(b"MAIL FROM:<carol@example.org>\r\n")
cmd(b"RCPT TO:<dave@example.net>\r\n")
cmd(b"DATA\r\n")
c.sendall(b"Message-ID: <live.2@example.org>\r\nSubject: never finished\r\n\r\npart of a body\r\n")
print("open", flush=True)
time.sleep(30)
'''
    cl = subprocess.Popen(in_ns(ns_c, "/usr/bin/python3", "-c", client, srv_ip), stdout=subprocess.PIPE, text=True)
    procs.append(cl)
    check(cl.stdout.readline().strip() == "open", "client sent one message and left a second one open")
    time.sleep(1.0)

    st = subprocess.run([ctl, "stats", "pipeline", "--pid", str(bs.pid)], capture_output=True, text=True)
    ok = st.returncode == 0
    stats = json.loads(st.stdout.splitlines()[0])["/backstop/stats"] if ok else {}
    check(ok and stats.get("packets", 0) > 10 and stats.get("sessions", 0) >= 2,
          "backstopctl stats reads live counters (%s)" % (st.stderr.strip() or
                                                         {k: stats.get(k) for k in ("packets", "sessions")}))

    bs.send_signal(signal.SIGTERM)
    try:
        rc = bs.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    check(rc == 0, "backstop exits 0 on SIGTERM (got %s)" % rc)
    evs = [json.loads(l) for l in open(events)] if os.path.exists(events) else []
    by_mid = {e["email"]["message_id"]: e for e in evs}
    e1, e2 = by_mid.get("<live.1@example.org>"), by_mid.get("<live.2@example.org>")
    check(e1 is not None and e1["smtp"]["mail_from"] == "alice@example.org"
          and e1["smtp"]["rcpt_to"] == ["bob@example.net"] and e1["direction"] == "internal",
          "the finished message is reported")
    check(e2 is not None and "incomplete" in e2["anomalies"] and e2["smtp"]["mail_from"] == "carol@example.org",
          "the open transaction is flushed at shutdown with the incomplete anomaly")
finally:
    cleanup()
    with open(os.path.join(work, "backstop.err")) as f:
        sys.stdout.write(f.read()[-1500:])
sys.exit(1 if failures else 0)
