#!/usr/bin/python3
"""Self-test of the event comparison: a truth file compared with itself
matches; every single-field change, a missing event, an extra event and a
duplicate are each reported. Proves the replay tests can fail."""
import copy
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import compare_events  # noqa: E402
import variants  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as d:
        pcap, tpath = os.path.join(d, "m.pcap"), os.path.join(d, "m.truth.jsonl")
        variants.generate("multi-txn", pcap, tpath, seed=3)
        truth = [o for _, o in compare_events.load_jsonl(tpath, "truth") if "_meta" not in o]
        # bad input is an error naming file:line
        bad = os.path.join(d, "bad.jsonl")
        with open(bad, "w") as f:
            f.write('{"a": 1}\n{oops\n')
        try:
            compare_events.load_jsonl(bad, "event")
            print("FAIL: malformed JSON line accepted")
            return 1
        except compare_events.InputError as e:
            if ":2:" not in str(e):
                print("FAIL: error does not name the line: %s" % e)
                return 1
    fails = 0

    def expect(name, events, want_ok):
        nonlocal fails
        matched, problems = compare_events.compare(truth, events)
        ok = not problems and matched == len(truth)
        if ok != want_ok:
            fails += 1
            print("FAIL %s: ok=%s problems=%s" % (name, ok, problems[:3]))
        else:
            print("ok   %s%s" % (name, "" if ok else ": " + problems[0]))

    same = copy.deepcopy(truth)
    for e in same:
        e["event_type"] = "smtp"
        e["flow_id"] = 12345
    expect("identical", same, True)
    expect("reversed order", list(reversed(same)), True)
    expect("other event types ignored", same + [{"event_type": "stats"}], True)
    mutations = {
        "timestamp": lambda e: e.__setitem__("timestamp", "2026-11-18T00:00:00.000000+0000"),
        "src_port": lambda e: e.__setitem__("src_port", e["src_port"] + 1),
        "direction": lambda e: e.__setitem__("direction", "external"),
        "proto": lambda e: e.__setitem__("proto", "UDP"),
        "smtp.helo": lambda e: e["smtp"].__setitem__("helo", "x"),
        "smtp.mail_from": lambda e: e["smtp"].__setitem__("mail_from", "<" + e["smtp"]["mail_from"] + ">"),
        "smtp.rcpt_to order": lambda e: e["smtp"].__setitem__("rcpt_to", e["smtp"]["rcpt_to"] + ["z@z"]),
        "smtp.rcpt_rejected": lambda e: e["smtp"].__setitem__("rcpt_rejected", [{"address": "a", "code": 550}]),
        "smtp.tls": lambda e: e["smtp"].__setitem__("tls", True),
        "smtp.bdat": lambda e: e["smtp"].__setitem__("bdat", not e["smtp"]["bdat"]),
        "smtp.pipelining": lambda e: e["smtp"].__setitem__("pipelining", True),
        "email.message_id": lambda e: e["email"].__setitem__("message_id", "x"),
        "email.subject": lambda e: e["email"].__setitem__("subject", e["email"]["subject"] + " "),
        "email.size": lambda e: e["email"].__setitem__("size", e["email"]["size"] + 1),
        "email.content_type missing": lambda e: e["email"].pop("content_type"),
        "anomalies": lambda e: e.__setitem__("anomalies", ["gap"]),
    }
    for name, fn in mutations.items():
        ev = copy.deepcopy(same)
        fn(ev[0])
        expect("mutated " + name, ev, False)
    expect("missing event", same[1:], False)
    expect("extra event", same + [dict(same[0], src_port=1)], False)
    expect("duplicate event", same + [same[0]], False)
    print("%d failures" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
