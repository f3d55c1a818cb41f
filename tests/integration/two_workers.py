#!/usr/bin/python3
"""Acceptance 4: `backstop -l 0-1 -- --pcap ...` (two workers) writes the
same events, as a set, as the default single worker, on the interleaved
capture (2,000 sessions). Both runs are also checked against the truth.
Every field of every event is compared, timestamps included, except
flow_id: like Suricata's, it is an opaque per-run id (a randomly keyed hash
and a per-worker counter), different between any two runs.

  two_workers.py BACKSTOP WORKDIR
"""
import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import compare_events  # noqa: E402
import run_variant  # noqa: E402
import variants  # noqa: E402


def canon(path):
    out = collections.Counter()
    for _, o in compare_events.load_jsonl(path, "event"):
        if o.get("event_type", "smtp") == "smtp":
            o.pop("flow_id", None)
            out[json.dumps(o, sort_keys=True, ensure_ascii=False)] += 1
    return out


def main(argv):
    backstop, work = argv[1], argv[2]
    os.makedirs(work, exist_ok=True)
    pcap, truth_path = os.path.join(work, "interleaved.pcap"), os.path.join(work, "interleaved.truth.jsonl")
    variants.generate("interleaved", pcap, truth_path, seed=11)
    truth = [o for _, o in compare_events.load_jsonl(truth_path, "truth") if "_meta" not in o]
    runs = {}
    failed = False
    for name, eal in (("one", ""), ("two", "-l 0-1")):
        ev = os.path.join(work, "events-%s.jsonl" % name)
        rc, err = run_variant.run_backstop(backstop, pcap, variants.HOME_NETS, ev, eal)
        sys.stdout.write(err[-2000:])
        if rc != 0:
            print("FAIL: backstop (%s worker run) exited with %d" % (name, rc))
            return 1
        matched, problems = compare_events.compare(truth, [o for _, o in compare_events.load_jsonl(ev, "event")])
        for p in problems[:20]:
            print(p)
        print("%s worker run: %d/%d transactions match the truth" % (name, matched, len(truth)))
        failed |= bool(problems) or matched != len(truth)
        runs[name] = canon(ev)
    only1, only2 = runs["one"] - runs["two"], runs["two"] - runs["one"]
    for e in list(only1)[:5]:
        print("only with one worker:", e[:300])
    for e in list(only2)[:5]:
        print("only with two workers:", e[:300])
    print("events: %d with one worker, %d with two; %d differ" % (
        sum(runs["one"].values()), sum(runs["two"].values()), sum(only1.values()) + sum(only2.values())))
    return 1 if failed or only1 or only2 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
