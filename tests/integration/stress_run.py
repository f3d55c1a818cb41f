#!/usr/bin/python3
"""Acceptance 3: stress captures run through backstop with bounded memory and
exit 0. Peak RSS is measured per run (wait4's ru_maxrss of the backstop
process) and printed with the run's summary.

  stress_run.py BACKSTOP WORKDIR syn [N]
      N SYN-only flows (default 1,000,000) and, as the reference, the first
      N*3/10 of them; 200 real SMTP sessions run through each flood and
      their events must match the truth (eviction keeps established flows). The flow table (default 262,144 per worker) is full in
      both runs, so with bounded memory peak RSS must not grow with N:
      RSS(N) - RSS(reference) must stay under 64 MiB (per-flow growth would
      add at least 128 bytes x 700,000 flows = 85 MiB).
  stress_run.py BACKSTOP WORKDIR random [FLOWS]
      random bytes behind valid TCP headers (default 2,000 flows): exit 0.
  stress_run.py BACKSTOP WORKDIR lossy
      1,000 interleaved sessions with 1 % of data segments lost: exit 0 and
      every undamaged session's events match the truth.
  stress_run.py BACKSTOP WORKDIR onebyte
      the onebyte-interleaved variant (every segment 1 byte): exit 0 and the
      events match the truth.
Every run must also stay under 2 GiB peak RSS.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import compare_events  # noqa: E402
import stress  # noqa: E402
import variants  # noqa: E402

RSS_LIMIT_KB = 2 * 1024 * 1024


def run(backstop, pcap, events, summary, home=("192.0.2.0/24", "2001:db8:2::/48"), timeout=1200):
    """Runs backstop; returns (exit code, peak RSS in KiB, seconds, stderr)."""
    args = [backstop, "--pcap", pcap]
    for h in home:
        args += ["--home-net", h]
    args += ["--events", events, "--summary-json", summary]
    print("+ " + " ".join(args), flush=True)
    err_path = events + ".stderr"
    for old in (events, summary):       # --events appends
        if os.path.isfile(old):
            os.unlink(old)
    t0 = time.monotonic()
    with open(err_path, "wb") as err:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
    secs = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    p.returncode = rc
    text = open(err_path, encoding="utf-8", errors="replace").read()
    return rc, ru.ru_maxrss, secs, text


def report(name, rc, rss, secs, text, summary):
    print("%s: exit %d, peak RSS %.1f MiB, %.2f s" % (name, rc, rss / 1024, secs))
    try:
        s = json.load(open(summary))
        flat = {}

        def walk(o, pre=""):
            for k, v in o.items():
                if isinstance(v, dict):
                    walk(v, pre + k + ".")
                elif v:
                    flat[pre + k] = v
        walk(s)
        print("  summary: " + ", ".join("%s=%s" % kv for kv in sorted(flat.items()) if not isinstance(kv[1], list))[:1500])
    except (OSError, ValueError):
        print("  (no summary JSON)")
    if rc != 0:
        print(text[-3000:])


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    backstop, work, mode = argv[1], argv[2], argv[3]
    os.makedirs(work, exist_ok=True)
    fails = []
    if mode == "syn":
        n = int(argv[4]) if len(argv) > 4 else 1_000_000
        rss = {}
        for tag, count in (("ref", n * 3 // 10), ("full", n)):
            # 200 real SMTP sessions run through the flood: the flow table's
            # eviction (new flows before established ones) must keep them
            g = variants.Gen(17, "synflood")
            built = [variants._random_session(g, i) for i in range(200)]
            pcap = os.path.join(work, "syn-%d.pcap" % count)
            truth = os.path.join(work, "syn-%s.truth.jsonl" % tag)
            packets = stress.syn_flood(pcap, count, sessions=built)
            variants.write_truth(truth, "synflood", built, packets)
            ev, sm = os.path.join(work, "syn-%s.events" % tag), os.path.join(work, "syn-%s.summary.json" % tag)
            rc, rss[tag], secs, text = run(backstop, pcap, ev, sm, variants.HOME_NETS)
            os.unlink(pcap)   # 74 MB: do not leave it in the build dir
            report("%d SYN-only flows + 200 SMTP sessions" % count, rc, rss[tag], secs, text, sm)
            if rc != 0:
                fails.append("backstop exited with %d on %d SYN flows" % (rc, count))
                continue
            t = [o for _, o in compare_events.load_jsonl(truth, "truth") if "_meta" not in o]
            matched, problems = compare_events.compare(t, [o for _, o in compare_events.load_jsonl(ev, "event")])
            for p in problems[:30]:
                print(p)
            print("SMTP sessions inside the flood: %d/%d transactions match" % (matched, len(t)))
            if problems or matched != len(t):
                fails.append("a SYN flood of %d flows changed the events of real sessions" % count)
        growth = (rss["full"] - rss["ref"]) / 1024
        print("peak RSS growth from %d to %d flows: %.1f MiB" % (n * 3 // 10, n, growth))
        if growth > 64:
            fails.append("peak RSS grew by %.1f MiB with the flow count: memory is not bounded" % growth)
        rss_all = rss.values()
    elif mode == "random":
        flows = int(argv[4]) if len(argv) > 4 else 2000
        pcap = os.path.join(work, "random.pcap")
        packets = stress.random_flows(pcap, flows)
        ev, sm = os.path.join(work, "random.events"), os.path.join(work, "random.summary.json")
        rc, r, secs, text = run(backstop, pcap, ev, sm)
        os.unlink(pcap)
        report("random payloads, %d flows, %d packets" % (flows, packets), rc, r, secs, text, sm)
        if rc != 0:
            fails.append("backstop exited with %d on random payloads" % rc)
        try:
            compare_events.load_jsonl(ev, "event")
        except compare_events.InputError as e:
            fails.append("events are not valid JSON lines: %s" % e)
        rss_all = [r]
    elif mode == "lossy":
        # 1,000 interleaved sessions; 1 % of all data segments never reach
        # the capture. Damaged sessions may come out any way (no crash);
        # every undamaged one must be exact: loss in one flow must not leak
        # into another.
        g = variants.Gen(23, "lossy")
        built = [variants._random_session(g, i) for i in range(1000)]
        damaged = set()
        for b in built:
            keep = []
            for sg in b.segs:
                if sg.payload and g.rng.random() < 0.01:
                    damaged.add((b.sess.client.ip, b.sess.client.port, b.sess.server.ip, b.sess.server.port))
                    continue
                keep.append(sg)
            b.segs = keep
        pcap, truth = os.path.join(work, "lossy.pcap"), os.path.join(work, "lossy.truth.jsonl")
        packets = variants.write_capture(pcap, built, g.rng, interleave=True)
        variants.write_truth(truth, "lossy", built, packets)
        ev, sm = os.path.join(work, "lossy.events"), os.path.join(work, "lossy.summary.json")
        rc, r, secs, text = run(backstop, pcap, ev, sm, variants.HOME_NETS)
        report("1%% segment loss, %d packets, %d of 1000 sessions damaged" % (packets, len(damaged)),
               rc, r, secs, text, sm)
        if rc != 0:
            fails.append("backstop exited with %d with segment loss" % rc)
        else:
            flow = lambda o: (o.get("src_ip"), o.get("src_port"), o.get("dest_ip"), o.get("dest_port"))
            t = [o for _, o in compare_events.load_jsonl(truth, "truth") if "_meta" not in o and flow(o) not in damaged]
            e = [o for _, o in compare_events.load_jsonl(ev, "event") if flow(o) not in damaged]
            matched, problems = compare_events.compare(t, e)
            for p in problems[:50]:
                print(p)
            print("undamaged sessions: %d/%d transactions match" % (matched, len(t)))
            # for the record (not a pass criterion): damaged sessions that still came out whole
            td = [o for _, o in compare_events.load_jsonl(truth, "truth") if "_meta" not in o and flow(o) in damaged]
            ed = [o for _, o in compare_events.load_jsonl(ev, "event") if flow(o) in damaged]
            dm, _ = compare_events.compare(td, ed)
            print("damaged sessions: %d/%d transactions still exact" % (dm, len(td)))
            if problems or matched != len(t):
                fails.append("loss in some flows changed the events of undamaged ones")
        os.unlink(pcap)
        rss_all = [r]
    elif mode == "onebyte":
        pcap, truth = os.path.join(work, "onebyte.pcap"), os.path.join(work, "onebyte.truth.jsonl")
        packets, ntx = variants.generate("onebyte-interleaved", pcap, truth)
        ev, sm = os.path.join(work, "onebyte.events"), os.path.join(work, "onebyte.summary.json")
        rc, r, secs, text = run(backstop, pcap, ev, sm, variants.HOME_NETS)
        report("1-byte segments, %d packets, %d transactions" % (packets, ntx), rc, r, secs, text, sm)
        if rc != 0:
            fails.append("backstop exited with %d on 1-byte segments" % rc)
        else:
            t = [o for _, o in compare_events.load_jsonl(truth, "truth") if "_meta" not in o]
            matched, problems = compare_events.compare(t, [o for _, o in compare_events.load_jsonl(ev, "event")])
            for p in problems[:50]:
                print(p)
            print("1-byte segments: %d/%d transactions match" % (matched, len(t)))
            if problems or matched != len(t):
                fails.append("events differ from the truth")
        os.unlink(pcap)
        rss_all = [r]
    else:
        print("unknown mode %r" % mode, file=sys.stderr)
        return 2
    for r in rss_all:
        if r > RSS_LIMIT_KB:
            fails.append("peak RSS %.0f MiB over the 2 GiB limit" % (r / 1024))
    for f in fails:
        print("FAIL: " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
