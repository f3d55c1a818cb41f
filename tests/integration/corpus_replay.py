#!/usr/bin/python3
"""Real-corpus replay: every message of ../shared/corpus travels in its own
SMTP session (tests/gen/corpus.py says how: null sender for ndr, BDAT for
every 5th message), the capture goes through `backstop --pcap`, and each
transaction's envelope (helo, mail_from, rcpt_to, rcpt_rejected, bdat,
transaction index), flow fields, Message-ID, Subject and message size must
come out right.

Normalisation before comparing Message-ID and Subject (both sides): runs of
white space become one space, leading/trailing space is removed, and a run
of U+FFFD (bytes that are not UTF-8) counts as one. A Subject longer than
the event's field (BS_HDR_MAX - 1 bytes) must be a prefix of the truth and
the event must carry the "truncated" anomaly. Anomalies are reported as
counts, not compared: real mail has over-long lines and other oddities.

  corpus_replay.py BACKSTOP CORPUS_DIR WORKDIR [--eal ARGS] [--limit N]
Exit 0 all match, 1 mismatches, 77 corpus absent (meson: skipped).
"""
import argparse
import collections
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import compare_events  # noqa: E402
import corpus  # noqa: E402
import run_variant  # noqa: E402
import variants  # noqa: E402

HDR_MAX = 512   # BS_HDR_MAX of dataplane/txn.h: values keep at most 511 bytes


def norm(s):
    if not isinstance(s, str):
        return s
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub("\ufffd+", "\ufffd", s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backstop")
    ap.add_argument("corpus_dir")
    ap.add_argument("workdir")
    ap.add_argument("--eal", default="")
    ap.add_argument("--limit", type=int)
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.corpus_dir, "manifest.tsv")):
        print("SKIP: no corpus at %s (../shared is absent in a fresh clone)" % a.corpus_dir)
        return 77
    os.makedirs(a.workdir, exist_ok=True)
    pcap = os.path.join(a.workdir, "corpus.pcap")
    truth_path = os.path.join(a.workdir, "corpus.truth.jsonl")
    events_path = os.path.join(a.workdir, "corpus.events.jsonl")
    try:
        packets, ntx = corpus.generate(a.corpus_dir, pcap, truth_path, a.limit)
    except (OSError, ValueError) as e:
        print("FAIL: %s" % e)
        return 1
    print("corpus capture: %d packets, %d messages" % (packets, ntx))
    rc, err = run_variant.run_backstop(a.backstop, pcap, variants.HOME_NETS, events_path, a.eal)
    sys.stdout.write(err[-3000:])
    if rc != 0:
        print("FAIL: backstop exited with %d" % rc)
        return 1
    truth = [o for _, o in compare_events.load_jsonl(truth_path, "truth") if "_meta" not in o]
    events = [o for _, o in compare_events.load_jsonl(events_path, "event")]
    anomaly_counts = collections.Counter()
    by_key = {compare_events.key_of(e): e for e in events}
    for t in truth:
        t["_skip"] = ["anomalies"]
        for f in ("message_id", "subject"):
            t["email"][f] = norm(t["email"][f])
        e = by_key.get(compare_events.key_of(t))
        if not e or not isinstance(e.get("email"), dict):
            continue
        for f in ("message_id", "subject"):
            e["email"][f] = norm(e["email"].get(f))
        anomaly_counts.update(e.get("anomalies") or [])
        want, got = t["email"]["subject"], e["email"]["subject"]
        if (isinstance(want, str) and isinstance(got, str) and len(want.encode()) >= HDR_MAX
                and want.startswith(got)
                and "truncated" in (e.get("anomalies") or [])):
            e["email"]["subject"] = want
    matched, problems = compare_events.compare(truth, events)
    files = {compare_events.fmt_key(compare_events.key_of(t)): t["_corpus"] for t in truth}
    per_class = collections.Counter(t["_corpus"]["class"] for t in truth)
    bad_class = collections.Counter()
    bad_files = set()
    for p in problems:
        k = p.split(": ", 1)[0]
        info = files.get(k)
        if info and info["file"] not in bad_files:
            bad_files.add(info["file"])
            bad_class[info["class"]] += 1
        print("%s  [%s]" % (p, info["file"] if info else "?"))
    print("per class (messages, mismatching):")
    for c in sorted(per_class):
        print("  %-10s %5d %5d" % (c, per_class[c], bad_class[c]))
    print("anomalies seen:", dict(anomaly_counts))
    print("corpus: %d/%d messages match (envelope, Message-ID, Subject, size)" % (matched, len(truth)))
    return 0 if not problems and matched == len(truth) else 1


if __name__ == "__main__":
    sys.exit(main())
