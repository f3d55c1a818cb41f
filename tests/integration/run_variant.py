#!/usr/bin/python3
"""Generates one capture variant, replays it through `backstop --pcap` and
compares the events with the truth.

  run_variant.py BACKSTOP VARIANT WORKDIR [--eal ARGS] [--seed N]

--eal passes EAL arguments before `--` (e.g. "-l 0-1" for two workers).
Exit 0 when every event matches the truth, 1 otherwise.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
sys.path.insert(0, HERE)
import compare_events  # noqa: E402
import variants  # noqa: E402


def run_backstop(backstop, pcap, home_nets, events_path, eal="", extra=(), timeout=600):
    """Runs backstop on a capture; returns (exit code, stderr text).
    --events appends, so an old events file is removed first."""
    if events_path != "-" and os.path.isfile(events_path):
        os.unlink(events_path)
    args = [backstop]
    if eal:
        args += shlex.split(eal) + ["--"]
    args += ["--pcap", pcap]
    for n in home_nets:
        args += ["--home-net", n]
    args += list(extra) + ["--events", events_path]
    print("+ " + " ".join(shlex.quote(a) for a in args), flush=True)
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except OSError as e:
        return 127, "cannot run %s: %s\n" % (backstop, e.strerror)
    except subprocess.TimeoutExpired:
        return 124, "backstop did not finish within %d s\n" % timeout
    return p.returncode, p.stderr.decode("utf-8", "replace") + p.stdout.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backstop")
    ap.add_argument("variant")
    ap.add_argument("workdir")
    ap.add_argument("--eal", default="")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    tag = a.variant + ("-" + a.eal.replace(" ", "") if a.eal else "")
    pcap = os.path.join(a.workdir, a.variant + ".pcap")
    truth_path = os.path.join(a.workdir, a.variant + ".truth.jsonl")
    events_path = os.path.join(a.workdir, tag + ".events.jsonl")
    packets, ntx = variants.generate(a.variant, pcap, truth_path, a.seed)
    print("generated %s: %d packets, %d transactions" % (a.variant, packets, ntx))
    meta = json.loads(open(truth_path, encoding="utf-8").readline())["_meta"]
    rc, err = run_backstop(a.backstop, pcap, meta["home_net"], events_path, a.eal)
    sys.stdout.write(err[-4000:])
    if rc != 0:
        print("FAIL: backstop exited with %d" % rc)
        return 1
    try:
        truth = [o for _, o in compare_events.load_jsonl(truth_path, "truth entry") if "_meta" not in o]
        events = [o for _, o in compare_events.load_jsonl(events_path, "event")]
    except compare_events.InputError as e:
        print("FAIL: %s" % e)
        return 1
    matched, problems = compare_events.compare(truth, events)
    for p in problems[:100]:
        print(p)
    print("%s: %d/%d transactions match, %d problems" % (tag, matched, len(truth), len(problems)))
    return 0 if not problems and matched == len(truth) else 1


if __name__ == "__main__":
    sys.exit(main())
