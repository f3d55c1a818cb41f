#!/usr/bin/python3
"""Capture from real software: a real SMTP server (aiosmtpd, smtp_sink.py)
and real clients (swaks; Python's smtplib for a session with two
transactions; one session upgraded with STARTTLS) exchange mail over a veth pair between two network namespaces
this test creates; tcpdump records it on the server's veth; the capture goes
through `backstop --pcap` and every event must agree with what the server
logged: client address and port, HELO, envelope sender, accepted and refused
recipients (with the code), Message-ID, Subject, message size, direction
inbound, no anomalies; the STARTTLS session is one TLS-only line (tls true,
no envelope). Event count must equal the server's transaction count.

  real_smtp.py BACKSTOP WORKDIR
Needs root (netns); exit 77 (skipped) otherwise. Namespaces, processes and
the veth pair are removed on every exit path.
"""
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import compare_events  # noqa: E402
import run_variant  # noqa: E402

PID = os.getpid()
NS_S, NS_C = "bs-e2e-s%d" % PID, "bs-e2e-c%d" % PID
VETH_S, VETH_C = "bse%ds" % (PID % 100000), "bse%dc" % (PID % 100000)
NET = 20 + PID % 200
IP_S, IP_C = "10.99.%d.1" % NET, "10.99.%d.2" % NET


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


class Cleanup:
    def __init__(self):
        self.procs, self.netns = [], []

    def run(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in self.netns:
            sh("ip", "netns", "del", ns, check=False)   # removes the veth pair too


def wait_for(pred, what, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def swaks(work, n, frm, to, subject, msgid, extra=()):
    body = "Hello from the end-to-end test, message %d.\n.a line that needs dot-stuffing\n..\nbye\n" % n
    args = ["ip", "netns", "exec", NS_C, "swaks", "--server", IP_S, "--port", "25",
            "--helo", "client%d.e2e.example" % n, "--from", frm, "--to", to,
            "--header", "Subject: " + subject, "--header", "Message-Id: " + msgid,
            "--body", body, "--timeout", "20"] + list(extra)
    p = sh(*args, check=False)
    with open(os.path.join(work, "swaks-%d.log" % n), "wb") as f:
        f.write(p.stdout)
    if p.returncode != 0:
        raise RuntimeError("swaks message %d failed (%d), see swaks-%d.log" % (n, p.returncode, n))


def smtplib_two_txns(work):
    """One session, two transactions (the client of the ip netns exec)."""
    code = r'''
import smtplib, sys
ip = sys.argv[1]
s = smtplib.SMTP(ip, 25, local_hostname="pyclient.e2e.example", timeout=20)
m1 = b"From: py@client.e2e.example\r\nTo: bob@mx.e2e.example\r\nSubject: first of two\r\nMessage-ID: <py-1@client.e2e.example>\r\n\r\nbody one\r\n"
m2 = b"From: py@client.e2e.example\r\nTo: carol@mx.e2e.example\r\nSubject: =?ISO-8859-1?Q?second_of_two_=E0_caf=E9?=\r\nMessage-ID: <py-2@client.e2e.example>\r\n\r\nbody two\r\n"
s.sendmail("py@client.e2e.example", ["bob@mx.e2e.example"], m1)
s.sendmail("py2@client.e2e.example", ["carol@mx.e2e.example", "nouser5@mx.e2e.example"], m2)
s.quit()
'''
    p = sh("ip", "netns", "exec", NS_C, "/usr/bin/python3", "-c", code, IP_S, check=False)
    with open(os.path.join(work, "smtplib.log"), "wb") as f:
        f.write(p.stdout)
    if p.returncode != 0:
        raise RuntimeError("smtplib client failed, see smtplib.log: " + p.stdout.decode()[-500:])


def smtplib_starttls(work):
    """A session that upgrades with STARTTLS before MAIL FROM (Python's ssl):
    the server sees the message, backstop only the TLS-only line."""
    code = r'''
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], 25, local_hostname="tls.e2e.example", timeout=20)
s.starttls(context=ctx)
m = b"From: t@client.e2e.example\r\nTo: bob@mx.e2e.example\r\nSubject: secret\r\nMessage-ID: <tls-1@client.e2e.example>\r\n\r\nhidden\r\n"
s.sendmail("t@client.e2e.example", ["bob@mx.e2e.example"], m)
s.quit()
'''
    p = sh("ip", "netns", "exec", NS_C, "/usr/bin/python3", "-c", code, IP_S, check=False)
    with open(os.path.join(work, "starttls.log"), "wb") as f:
        f.write(p.stdout)
    if p.returncode != 0:
        raise RuntimeError("STARTTLS client failed, see starttls.log: " + p.stdout.decode()[-500:])


def expected_events(log_path):
    """Truth entries from the server's log, in the events' layout. A
    transaction the server received over TLS is invisible to backstop: the
    session shows as one TLS-only line (docs/events.md)."""
    out, per_peer = [], {}
    for _, r in compare_events.load_jsonl(log_path, "server log entry"):
        peer = (r["client_ip"], r["client_port"])
        idx = per_peer.get(peer, 0)
        per_peer[peer] = idx + 1
        if r.get("tls"):
            out.append({"src_ip": r["client_ip"], "src_port": r["client_port"], "dest_ip": IP_S,
                        "dest_port": 25, "proto": "TCP", "direction": "inbound",
                        "smtp": {"helo": r["helo"], "mail_from": None, "rcpt_to": [], "rcpt_rejected": [],
                                 "tls": True, "transaction": idx},
                        "email": {"message_id": None, "subject": None, "size": None},
                        "anomalies": []})
            continue
        out.append({"src_ip": r["client_ip"], "src_port": r["client_port"], "dest_ip": IP_S,
                    "dest_port": 25, "proto": "TCP", "direction": "inbound",
                    "smtp": {"helo": r["helo"], "mail_from": r["mail_from"], "rcpt_to": r["rcpt_to"],
                             "rcpt_rejected": r["rcpt_rejected"], "tls": False, "transaction": idx},
                    "email": {"message_id": r["message_id"], "subject": r["subject"], "size": r["size"]},
                    "anomalies": []})
    return out


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        return 77
    for tool in ("ip", "swaks", "tcpdump"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed" % tool)
            return 77
    backstop, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    for f in ("server.jsonl", "capture.pcap", "events.jsonl", "ready"):
        if os.path.exists(os.path.join(work, f)):
            os.unlink(os.path.join(work, f))
    cl = Cleanup()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))   # meson timeout: clean up too
    try:
        cl.netns += [NS_S, NS_C]
        sh("ip", "netns", "add", NS_S)
        sh("ip", "netns", "add", NS_C)
        sh("ip", "link", "add", VETH_S, "netns", NS_S, "type", "veth", "peer", "name", VETH_C, "netns", NS_C)
        for ns, dev, ip in ((NS_S, VETH_S, IP_S), (NS_C, VETH_C, IP_C)):
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        log, ready = os.path.join(work, "server.jsonl"), os.path.join(work, "ready")
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        with_tls = shutil.which("openssl") is not None     # scripts/install-deps.sh installs it
        if with_tls:
            sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
               "-days", "2", "-subj", "/CN=mx.e2e.example")
        else:
            print("note: openssl missing, the STARTTLS session is left out")
        srv_out = open(os.path.join(work, "server.out"), "wb")
        cl.procs.append(subprocess.Popen(["ip", "netns", "exec", NS_S, "/usr/bin/python3",
                                          os.path.join(HERE, "smtp_sink.py"), IP_S, "25", log, ready]
                                         + ([cert, key] if with_tls else []),
                                         stdout=srv_out, stderr=subprocess.STDOUT))
        wait_for(lambda: os.path.exists(ready), "the SMTP server")
        pcap = os.path.join(work, "capture.pcap")
        td_err = open(os.path.join(work, "tcpdump.err"), "wb")
        td = subprocess.Popen(["ip", "netns", "exec", NS_S, "tcpdump", "-i", VETH_S, "-s", "0", "-U",
                               "--immediate-mode", "-Z", "root",
                               "-w", pcap, "tcp port 25"], stdout=subprocess.DEVNULL, stderr=td_err)
        cl.procs.insert(0, td)
        wait_for(lambda: b"listening on" in open(td_err.name, "rb").read(), "tcpdump")
        swaks(work, 1, "alice@client.e2e.example", "bob@mx.e2e.example", "e2e plain message",
              "<e2e-1.%d@client.e2e.example>" % PID)
        swaks(work, 2, "<>", "alice@mx.e2e.example", "Undelivered Mail Returned to Sender",
              "<e2e-2.%d@mailer-daemon.e2e.example>" % PID, ["--add-header", "Auto-Submitted: auto-replied"])
        swaks(work, 3, "news@client.e2e.example",
              "bob@mx.e2e.example,carol@mx.e2e.example,nouser1@mx.e2e.example,dave@mx.e2e.example",
              "several recipients, one refused", "<e2e-3.%d@client.e2e.example>" % PID)
        swaks(work, 4, "pipe@client.e2e.example", "bob@mx.e2e.example,erin@mx.e2e.example",
              "pipelined", "<e2e-4.%d@client.e2e.example>" % PID, ["--pipeline"])
        swaks(work, 5, "utf8@client.e2e.example", "bob@mx.e2e.example",
              "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "<e2e-5.%d@client.e2e.example>" % PID)
        smtplib_two_txns(work)
        if with_tls:
            smtplib_starttls(work)
        time.sleep(1.0)                 # let the last FIN/ACKs reach tcpdump
        cl.run()                        # stop tcpdump (flushes) and the server
        cl.procs = []
        truth = expected_events(log)
        if len(truth) != 7 + with_tls:
            print("FAIL: the server logged %d transactions, expected %d" % (len(truth), 7 + with_tls))
            return 1
        events_path = os.path.join(work, "events.jsonl")
        rc, err = run_variant.run_backstop(backstop, pcap, [IP_S + "/32"], events_path)
        sys.stdout.write(err[-3000:])
        if rc != 0:
            print("FAIL: backstop exited with %d" % rc)
            return 1
        events = [o for _, o in compare_events.load_jsonl(events_path, "event")]
        for e in events:
            if isinstance(e.get("email"), dict) and isinstance(e["email"].get("message_id"), str):
                e["email"]["message_id"] = " ".join(e["email"]["message_id"].split())
        matched, problems = compare_events.compare(truth, events)
        for p in problems:
            print(p)
        print("real software: %d/%d transactions match the server's log" % (matched, len(truth)))
        return 0 if not problems and matched == len(truth) else 1
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        out = getattr(e, "stdout", None)
        print("FAIL: %s%s" % (e, (": " + out.decode(errors="replace")) if out else ""))
        return 1
    finally:
        cl.run()


if __name__ == "__main__":
    sys.exit(main())
