#!/usr/bin/python3
"""Real mail servers, real bounces, classified at the edge (issue 3,
acceptance point 5).

Two Debian Postfix instances in network namespaces: ours (home.example)
and a remote one (remote.example) that accepts mail for unknown users and
bounces it afterwards. backstop runs live on the router between them
(net_af_packet on the router's veth towards ours).

  A, legitimate: alice@home.example writes, through our server and the
     edge, to an unknown remote user; the remote bounces; the NDR comes back
     through the edge: backstop must call it legit-bounce (pass), because it
     saw the original leave.
  B, backscatter: a spammer hands the remote server a message with the
     forged sender victim@home.example; the remote bounces it to us: backstop
     must call it backscatter (drop-session), its original never left.
Also: the warm-up message (ordinary inbound mail) and the outbound original
are clean, and each NDR event is the one the remote's log says it sent.

With --exim CACHE_DIR the remote is Exim instead of Postfix (Debian's
exim4-daemon-light, fetched into CACHE_DIR with apt-get download and
unpacked, see exim_inst.py): other bounce format (X-Failed-Recipients,
Exim's DSN), sent with BDAT, and Exim delivers the bounce before it answers
the original's DATA, so the NDR can cross the edge before the outbound
transaction has finished.

  test_classify.py BACKSTOP WORKDIR [DELAY_MS] [--exim CACHE_DIR]
Exit 0 pass, 1 fail, 77 skipped (not root, Postfix/swaks/tcpdump missing,
Exim cannot be fetched).
"""
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edge  # noqa: E402
import exim_inst  # noqa: E402
import scenario  # noqa: E402
from scenario import HOME  # noqa: E402


def event_by_mid(events, mid):
    found = [e for e in events if e["email"]["message_id"] == mid]
    return found[0] if len(found) == 1 else None


def main(argv):
    exim_cache = None
    if len(argv) >= 3 and argv[-2] == "--exim":
        exim_cache = os.path.abspath(argv[-1])
        argv = argv[:-2]
    if len(argv) not in (3, 4):
        print("usage: test_classify.py BACKSTOP WORKDIR [DELAY_MS] [--exim CACHE_DIR]", file=sys.stderr)
        return 2
    backstop, work = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    try:
        delay = float(argv[3]) if len(argv) == 4 else 0.0
    except ValueError:
        print("test_classify.py: DELAY_MS must be a number of milliseconds, got %r" % argv[3], file=sys.stderr)
        return 2
    why = scenario.skip_reason(backstop, ("swaks", "tcpdump"))
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
    legit_mid = "<legit-%d@%s>" % (pid, HOME)
    forged_mid = "<forged-%d@bulk-sender.invalid>" % pid
    with scenario.MailNet(work, backstop, delay_ms=delay, exim_exe=exim) as net:
        net.start()
        print("topology up, backstop capturing on %s (router), home net %s"
              % (net.topo.dev["r_ours"], net.topo.home_net), flush=True)

        # the edge's view, kept in WORKDIR for diagnosis
        cap = edge.Tcpdump(net.topo, "router", net.topo.dev["r_ours"], os.path.join(work, "edge.pcap"))
        cap.start()

        # A: a real outbound message and its real bounce
        legit_ndr = net.send_outbound("alice", "no-such-user-%d" % pid, legit_mid, "quarterly figures")
        legit_ndr_mid = net.ndr_message_id(legit_ndr)
        net.ours.wait_delivered(legit_ndr_mid)

        # B: forged sender, the remote backscatters at victim
        forged_ndr = net.send_forged("victim", "ghost-%d" % pid, forged_mid, "Cheap watches")
        forged_ndr_mid = net.ndr_message_id(forged_ndr)
        # no enforcement in this test: the backscatter reaches our server
        net.ours.wait_delivered(forged_ndr_mid)
        net.edge.wait_event(lambda e: e["email"]["message_id"] == forged_ndr_mid, "the backscatter NDR", 20)

        cap.stop()
        rc = net.edge.stop()
        check(rc == 0, "backstop stops on SIGINT with exit 0 (got %s)" % rc)
        events = net.edge.events()
        with open(os.path.join(work, "events.json")) as f:
            print("events:\n" + f.read(), flush=True)

        warm = event_by_mid(events, net.warm["email"]["message_id"])
        check(warm is not None and warm["verdict"]["class"] == "clean" and warm["direction"] == "inbound",
              "ordinary inbound mail is clean: %s" % (warm and warm["verdict"]))

        out = event_by_mid(events, legit_mid)
        check(out is not None, "the outbound original %s has one event" % legit_mid)
        if out:
            check(out["direction"] == "outbound" and out["smtp"]["mail_from"] == "alice@" + HOME,
                  "original: outbound from alice@%s (%s, %s)" % (HOME, out["direction"], out["smtp"]["mail_from"]))
            check(out["verdict"]["class"] == "clean", "original: clean (%s)" % out["verdict"]["class"])

        ndr = event_by_mid(events, legit_ndr_mid)
        check(ndr is not None, "the legitimate NDR %s (remote queue id %s) has one event" % (legit_ndr_mid, legit_ndr))
        if ndr:
            v = ndr["verdict"]
            check(ndr["direction"] == "inbound" and ndr["smtp"]["null_sender"]
                  and ndr["smtp"]["rcpt_to"] == ["alice@" + HOME],
                  "legitimate NDR: inbound, null sender, to alice@%s" % HOME)
            check(v["class"] == "legit-bounce", "legitimate NDR classified legit-bounce (got %s, reasons %s)"
                  % (v["class"], v["reasons"]))
            check(v["action"] == "pass", "legitimate NDR passes (action %s)" % v["action"])

        bs = event_by_mid(events, forged_ndr_mid)
        check(bs is not None, "the backscatter NDR %s (remote queue id %s) has one event" % (forged_ndr_mid, forged_ndr))
        if bs:
            v = bs["verdict"]
            check(bs["direction"] == "inbound" and bs["smtp"]["null_sender"]
                  and bs["smtp"]["rcpt_to"] == ["victim@" + HOME],
                  "backscatter NDR: inbound, null sender, to victim@%s" % HOME)
            check(v["class"] == "backscatter", "backscatter NDR classified backscatter (got %s, reasons %s)"
                  % (v["class"], v["reasons"]))
            check(v["action"] == "drop-session", "backscatter NDR action drop-session (got %s)" % v["action"])
            size = bs["email"]["size"]
            check(v["offset"] is not None and size and v["offset"] < size,
                  "backscatter verdict reached before the end of the message (offset %s of %s bytes)"
                  % (v["offset"], size))
        extra = [e for e in events if e["verdict"]["class"] in ("backscatter", "suspect-bounce")
                 and e["email"]["message_id"] != forged_ndr_mid]
        check(not extra, "no other message was called backscatter or suspect (%d)" % len(extra))
    left = [ns for ns in scenario.netns_list() if ns.startswith(net.topo.tag)]
    check(not left, "cleanup: namespaces removed (%s)" % left)
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
