#!/usr/bin/python3
"""Enforcement cuts a backscatter NDR in flight (issue 4, acceptance point 4).

Topology: remote Postfix (remote.example) -- router -- our Postfix
(home.example), with a real one-way delay on the router (user-space TUN
delayer, default 15 ms each way: about 30 ms round trip). The XDP enforcer
is attached in generic mode to our server's interface; backstop captures
live on the router's veth towards ours and pushes its verdicts into the
enforcer's pinned maps (--enforce --bpf-pin).

  (a) A spammer gives the remote a 200 KB message with the forged sender
      victim@home.example; the remote returns all of it in its NDR (about
      200 KB, many round trips of DATA). The session must be cut before the
      end of DATA and the NDR never delivered (our server never logs it).
  (b) alice@home.example sends a 200 KB message out through the edge to an
      unknown remote user; its NDR (also about 200 KB) must be delivered
      whole.
Printed figures: how far into DATA the cut happened (bytes our server
received vs the NDR's size), how far the edge saw it, the verdict offset.

  test_enforce.py BACKSTOP BACKSTOPCTL WORKDIR [DELAY_MS [SIZE]]
Exit 0 pass, 1 fail, 77 skipped (not root, a tool missing, no bpffs).
"""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edge  # noqa: E402
import exim_inst  # noqa: E402
import scenario  # noqa: E402
import tcpstream  # noqa: E402
from scenario import HOME  # noqa: E402


def main(argv):
    exim_cache = None
    if len(argv) >= 4 and argv[-2] == "--exim":
        exim_cache = os.path.abspath(argv[-1])
        argv = argv[:-2]
    if len(argv) not in (4, 5, 6):
        print("usage: test_enforce.py BACKSTOP BACKSTOPCTL WORKDIR [DELAY_MS [SIZE]] [--exim CACHE_DIR]",
              file=sys.stderr)
        return 2
    backstop, ctl, work = (os.path.abspath(a) for a in argv[1:4])
    try:
        delay = float(argv[4]) if len(argv) > 4 else 15.0
        size = int(argv[5]) if len(argv) > 5 else 200 * 1024
    except ValueError:
        print("test_enforce.py: DELAY_MS must be a number (ms) and SIZE a whole number of bytes: %s"
              % " ".join(argv[4:]), file=sys.stderr)
        return 2
    if not (0 < delay <= 1000 and 20000 <= size <= 10 << 20):
        print("test_enforce.py: DELAY_MS must be in (0, 1000] and SIZE in [20000, 10 MiB] "
              "(a message of several round trips)", file=sys.stderr)
        return 2
    why = scenario.skip_reason(backstop, ("swaks", "tcpdump", ctl))
    if not why and not os.path.ismount(edge.BPFFS):
        why = "bpffs not mounted on " + edge.BPFFS
    exim = None
    if not why and exim_cache:
        try:
            exim = exim_inst.fetch(exim_cache)
            libs = exim_inst.missing_libraries(exim)
            if libs:
                why = "the unpacked Exim needs %s (scripts/install-deps.sh installs it)" % ", ".join(libs)
        except exim_inst.Unavailable as e:
            why = "Exim unavailable: %s" % e
    if why:
        print("SKIP: " + why)
        return scenario.SKIP
    check = scenario.Checks()
    scenario.fresh_workdir(work)
    pid = os.getpid()
    forged_mid = "<forged-%d@bulk-sender.invalid>" % pid
    legit_mid = "<legit-%d@%s>" % (pid, HOME)
    spam_body = os.path.join(work, "spam-body.txt")
    legit_body = os.path.join(work, "legit-body.txt")
    scenario.write_body(spam_body, size, "offer")
    legit_last = scenario.write_body(legit_body, size, "report").encode()

    with scenario.MailNet(work, backstop, delay_ms=delay, enforcer_ctl=ctl, exim_exe=exim) as net:
        net.start()
        t = net.topo
        rtt = net.rtt_idle
        rtt_busy = t.rtt_ms()
        print("topology up: %.1f ms one-way delay, measured round trip %.1f ms (%.1f ms with backstop polling); "
              "enforcer on %s (generic), backstop on %s" % (delay, rtt, rtt_busy, t.dev["ours"], t.dev["r_ours"]),
              flush=True)
        # the delay must really be there; the upper bound only catches a
        # broken delayer (the CI box is shared, so it is generous)
        check(2 * delay * 0.95 <= rtt <= 2 * delay + 40,
              "round trip %.1f ms matches the 2 x %.0f ms delay" % (rtt, delay))
        # what our server's stack got (after XDP) and what crossed the edge
        ours_cap = edge.Tcpdump(t, "ours", t.dev["ours"], os.path.join(work, "ours.pcap"))
        edge_cap = edge.Tcpdump(t, "router", t.dev["r_ours"], os.path.join(work, "edge.pcap"))
        ours_cap.start()
        edge_cap.start()

        # (a) the backscatter
        bs_ndr = net.send_forged("victim", "ghost-%d" % pid, forged_mid, "Exclusive offer", body_file=spam_body)
        bs_ndr_mid = net.ndr_message_id(bs_ndr)
        # the verdict lands in the enforcer's session map
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 and t.ip["remote"] not in net.xdp.sessions():
            time.sleep(0.05)
        sessions = net.xdp.sessions()
        check(t.ip["remote"] in sessions, "a session verdict for the remote's NDR is in the enforcer map:\n" + sessions)
        # give the NDR many round trips to (fail to) finish
        time.sleep(max(3.0, 100 * rtt / 1000.0))

        # (b) the legitimate bounce
        legit_ndr = net.send_outbound("alice", "no-such-user-%d" % pid, legit_mid, "Quarterly report",
                                      body_file=legit_body)
        legit_ndr_mid = net.ndr_message_id(legit_ndr)
        try:
            net.ours.wait_delivered(legit_ndr_mid, 60)
            legit_ok = True
        except RuntimeError:
            legit_ok = False
        check(legit_ok, "the legitimate NDR %s is delivered to alice@%s" % (legit_ndr_mid, HOME))

        # what each MTA made of the cut session, in its own log: our server
        # timed out waiting for the rest, the remote gave up and deferred
        try:
            net.ours.wait_log(r"timeout after (DATA|BDAT).*\[%s\]" % t.ip["remote"].replace(".", "\\."),
                              "our server's timeout on the cut session", 40)
        except RuntimeError:
            pass
        server_bytes = net.ours.timeout_bytes(t.ip["remote"])
        check(server_bytes is not None, "our server timed out on the cut session (its log: %s bytes of data)"
              % server_bytes)
        try:
            scenario.wait_for(lambda: net.remote.deferred(bs_ndr), "the remote to defer the cut NDR", 40)
        except RuntimeError:
            pass
        deferred = net.remote.deferred(bs_ndr)
        check(bool(deferred), "the remote deferred the cut NDR: %s" % deferred)

        # the remote retries at once: a new session, recognised and cut again
        net.remote.flush()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30 and net.xdp.sessions().count(t.ip["remote"] + ":") < 2:
            time.sleep(0.05)
        sessions = net.xdp.sessions()
        check(sessions.count(t.ip["remote"] + ":") >= 2, "the retry got its own session verdict:\n" + sessions)
        time.sleep(max(3.0, 100 * rtt / 1000.0))
        check(not net.ours.delivered(bs_ndr_mid), "the retried backscatter NDR is not delivered either")
        ours_cap.stop()
        edge_cap.stop()

        check(not net.delivered_to("victim@" + HOME) and not net.ours.delivered(bs_ndr_mid),
              "our server never delivered the backscatter NDR")
        boxes = net.ours.mailbox()
        check(not any(bs_ndr_mid.encode() in m for m in boxes), "the backscatter NDR is in no mailbox")
        legit_box = [m for m in boxes if legit_ndr_mid.encode() in m]
        check(len(legit_box) == 1 and legit_mid.encode() in legit_box[0] and
              legit_last in legit_box[0],
              "alice's mailbox holds the whole legitimate NDR with her original attached")
        stats = net.xdp.stats()
        rc = net.edge.stop()
        check(rc == 0, "backstop stops on SIGINT with exit 0 (got %s)" % rc)
        events = net.edge.events()
        with open(os.path.join(work, "events.json")) as f:
            print("events:\n" + f.read(), flush=True)
        print("enforcer stats:\n" + stats, flush=True)
        drops = [int(ln.split()[1]) for ln in stats.splitlines() if ln.startswith("drop_session ")]
        check(drops and drops[0] > 0, "the XDP program counted session drops (%s)" % drops)

        # every attempt of the backscatter NDR, first attempt first
        bs = sorted((e for e in events if e["email"]["message_id"] == bs_ndr_mid), key=lambda e: e["timestamp"])
        lg = [e for e in events if e["email"]["message_id"] == legit_ndr_mid]
        check(len(bs) >= 2, "an event for each attempt of the backscatter NDR %s (%d)" % (bs_ndr_mid, len(bs)))
        for n, e in enumerate(bs[1:], 2):
            v = e["verdict"]
            check(v["class"] == "backscatter" and v["action"] == "drop-session",
                  "attempt %d: backscatter, drop-session (got %s, %s)" % (n, v["class"], v["action"]))
        check(len(lg) == 1, "one event for the legitimate NDR %s" % legit_ndr_mid)
        if lg:
            v = lg[0]["verdict"]
            check(v["class"] == "legit-bounce" and v["action"] == "pass",
                  "legitimate NDR: legit-bounce, pass (got %s, %s, reasons %s)" % (v["class"], v["action"], v["reasons"]))
        if bs:
            e = bs[0]
            v = e["verdict"]
            check(v["class"] == "backscatter" and v["action"] == "drop-session",
                  "backscatter NDR: backscatter, drop-session (got %s, %s, reasons %s)"
                  % (v["class"], v["action"], v["reasons"]))
            ndr_size = net.remote.size_of(bs_ndr)
            stream = tcpstream.contiguous_stream(ours_cap.path, e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
            got, complete = tcpstream.message_bytes_received(stream)
            check(not complete, "our server never got the end of the message (DATA or BDAT LAST)")
            check(ndr_size and got < ndr_size, "cut before the end of the message data")
            edge_seen = e["email"]["size"]
            print("FIGURES: backscatter NDR of %s bytes (remote's queue size); our server received %d bytes of "
                  "its message data (%.1f%%; its own log: %s); the edge saw %s bytes; verdict at offset %s; "
                  "round trip %.1f ms (%.1f ms under load)"
                  % (ndr_size, got, 100.0 * got / ndr_size if ndr_size else 0, server_bytes, edge_seen, v["offset"],
                     rtt, rtt_busy), flush=True)
            check(v["offset"] is not None and v["offset"] < got,
                  "verdict offset %s is inside what was delivered before the cut" % v["offset"])
            flow = (e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
            timing = tcpstream.cut_timing(edge_cap.path, ours_cap.path, flow, v["offset"] or 0)
            check(timing is not None, "the edge capture shows a dropped segment after the deciding one")
            if timing:
                print("FIGURES: first segment dropped %.2f ms after the segment carrying the verdict offset crossed "
                      "the edge; %d segment(s) (%d bytes) got through in between"
                      % (timing["first_drop_ms"], timing["slipped_segments"], timing["slipped_bytes"]), flush=True)
            summ = net.edge.summary()
            if "latency_p50_ns" in summ:
                print("FIGURES: backstop's own verdict latency (packet in -> map updated): median %.1f us, "
                      "max %.1f us over %d verdict(s)" % (summ["latency_p50_ns"] / 1e3, summ["latency_max_ns"] / 1e3,
                                                          summ["latency_samples"]), flush=True)
            check(summ.get("verdicts_applied", 0) >= 1 and summ.get("verdicts_failed", 0) == 0,
                  "backstop applied the verdict to the enforcer maps (applied %s, failed %s)"
                  % (summ.get("verdicts_applied"), summ.get("verdicts_failed")))
            check("incomplete" in e["anomalies"], "the cut transaction is marked incomplete (%s)" % e["anomalies"])
    left = [ns for ns in scenario.netns_list() if ns.startswith(net.topo.tag)]
    check(not left and not os.path.exists(net.xdp.pin), "cleanup: namespaces and pinned maps removed (%s)" % left)
    if check.failures:
        print("FAILED: %d check(s); logs in %s" % (len(check.failures), work))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt as e:
        print("interrupted (%s); cleaned up" % e)
        sys.exit(1)
    except RuntimeError as e:
        print("ERROR: %s" % e)
        sys.exit(1)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
