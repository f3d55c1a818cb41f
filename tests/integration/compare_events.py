#!/usr/bin/python3
"""Compares backstop's JSON-lines events with a truth file, field by field.

  compare_events.py TRUTH EVENTS

Events and truth entries are matched by (src_ip, src_port, dest_ip,
dest_port, smtp.transaction): event order across sessions is not fixed when
several workers run. Every field present in a truth entry is compared:
timestamp, top-level flow fields, direction, every smtp.* and email.* field, the
anomalies list (as a set) and verdict.class when the truth gives one.
A truth entry may list field paths in "_skip" (documented by the variant
that sets them) and may say "_anomalies": "include" when the listed
anomalies must be present but others may be too, or give
"_anomalies_any": [[...], [...]] when one of several documented outcomes
is right.
Missing events, unexpected events and duplicates are errors.
Exit 0 when all match, 1 otherwise (each mismatch printed), 2 on bad input.
"""
import json
import sys

FLOW_FIELDS = ("timestamp", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "direction")
SMTP_FIELDS = ("helo", "mail_from", "rcpt_to", "rcpt_rejected", "tls", "bdat", "pipelining", "transaction")
EMAIL_FIELDS = ("message_id", "from", "to", "subject", "content_type", "size")


class InputError(Exception):
    pass


def load_jsonl(path, what):
    """Reads JSON lines; a bad line is an error naming file:line."""
    out = []
    try:
        f = open(path, encoding="utf-8", errors="surrogateescape")
    except OSError as e:
        raise InputError("%s: cannot open %s: %s" % (path, what, e.strerror))
    with f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise InputError("%s:%d: %s is not JSON: %s" % (path, n, what, e))
            if not isinstance(obj, dict):
                raise InputError("%s:%d: %s is not a JSON object" % (path, n, what))
            out.append((n, obj))
    return out


def key_of(o):
    smtp = o.get("smtp") if isinstance(o.get("smtp"), dict) else {}
    return (o.get("src_ip"), o.get("src_port"), o.get("dest_ip"), o.get("dest_port"), smtp.get("transaction"))


def fmt_key(k):
    return "%s:%s -> %s:%s txn %s" % k


def _get(o, path):
    cur = o
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return KeyError
        cur = cur[p]
    return cur


def compare_entry(truth, ev):
    """Returns a list of 'field: expected X, got Y' strings."""
    skip = set(truth.get("_skip", ()))
    paths = [f for f in FLOW_FIELDS if f in truth]
    paths += ["smtp." + f for f in SMTP_FIELDS if f in truth.get("smtp", {})]
    paths += ["email." + f for f in EMAIL_FIELDS if f in truth.get("email", {})]
    if "verdict" in truth and "class" in truth["verdict"]:
        paths.append("verdict.class")
    bad = []
    for p in paths:
        if p in skip:
            continue
        want, got = _get(truth, p), _get(ev, p)
        if got is KeyError:
            bad.append("%s: missing in event (expected %s)" % (p, json.dumps(want, ensure_ascii=False)))
        elif want != got:
            bad.append("%s: expected %s, got %s" % (p, json.dumps(want, ensure_ascii=False),
                                                   json.dumps(got, ensure_ascii=False)))
    if "anomalies" in truth and "anomalies" not in skip:
        got = ev.get("anomalies")
        if not isinstance(got, list):
            bad.append("anomalies: missing or not a list in event")
        else:
            want_s, got_s = set(truth["anomalies"]), set(got)
            ok = want_s <= got_s if truth.get("_anomalies") == "include" else want_s == got_s
            if "_anomalies_any" in truth:       # one of several documented outcomes
                ok = any(set(a) == got_s for a in truth["_anomalies_any"])
                want_s = " or ".join(str(sorted(a)) for a in truth["_anomalies_any"])
            if not ok:
                bad.append("anomalies: expected %s%s, got %s" % (
                    "at least " if truth.get("_anomalies") == "include" else "",
                    want_s if isinstance(want_s, str) else sorted(want_s), sorted(got_s)))
    return bad


def compare(truth_entries, events, max_report=50):
    """truth_entries and events: lists of dicts (truth without the _meta
    line; events may include non-smtp event types, which are ignored).
    Returns (matched_count, list of problem strings)."""
    problems = []
    by_key = {}
    for ev in events:
        if ev.get("event_type", "smtp") != "smtp":
            continue
        k = key_of(ev)
        if k in by_key:
            problems.append("%s: duplicate event" % fmt_key(k))
            continue
        by_key[k] = ev
    matched = 0
    seen = set()
    for t in truth_entries:
        k = key_of(t)
        seen.add(k)
        ev = by_key.get(k)
        if ev is None:
            problems.append("%s: no event (expected mail_from %s)" % (fmt_key(k), json.dumps(t["smtp"].get("mail_from"))))
            continue
        diffs = compare_entry(t, ev)
        if diffs:
            problems.extend("%s: %s" % (fmt_key(k), d) for d in diffs)
        else:
            matched += 1
    for k in sorted(set(by_key) - seen, key=lambda x: tuple(str(v) for v in x)):
        problems.append("%s: unexpected event" % fmt_key(k))
    return matched, problems


def main(argv):
    if len(argv) != 3:
        print("usage: compare_events.py TRUTH EVENTS", file=sys.stderr)
        return 2
    try:
        truth = [o for _, o in load_jsonl(argv[1], "truth entry") if "_meta" not in o]
        events = [o for _, o in load_jsonl(argv[2], "event")]
    except InputError as e:
        print(e, file=sys.stderr)
        return 2
    matched, problems = compare(truth, events)
    for p in problems[:200]:
        print(p)
    if len(problems) > 200:
        print("... %d more problems" % (len(problems) - 200))
    print("%d/%d transactions match, %d problems" % (matched, len(truth), len(problems)))
    return 0 if not problems and matched == len(truth) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
