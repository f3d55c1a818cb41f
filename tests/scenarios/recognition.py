#!/usr/bin/python3
"""Acceptance 2 of the detection issue, through the real `backstop`
binary: every message of ../shared/corpus in its own SMTP session
(tests/gen/corpus.py), replayed with
  backstop --pcap CAP --home-net 192.0.2.0/24 --home-domain home.example
and each event mapped back to its corpus file.

Two envelopes:
  normal   ndr with MAIL FROM:<>, everything else with an ordinary sender
           (corpus.generate itself);
  swapped  ndr with an ordinary sender, ham/spam/auto-replies/challenges
           with <> (bounces can come with a sender, ham with <>).

Asserted for both: >= 99.5% of ndr recognised as bounces (class
legit-bounce, backscatter or suspect-bounce), 0 ham and 0 spam flagged as
bounce, autoreply or challenge; every transaction has its event. For the
normal envelope also: every challenge recognised as challenge, >= 90% of
auto-replies as autoreply (the figures are printed). Prints the recall per
source mail system (manifest column mta_or_source_hint, the names of
dropped duplicates, "also-sisimai:...", left out).

The capture holds every session at once (packets interleaved), so up to
2,588 transactions are open together; --detect-slots 4096 gives each one
a detection slot (the default, 1024 per worker, would leave the rest
"unparsed" and is reported by the detect.unparsed_no_slot counter).

  recognition.py BACKSTOP CORPUS_DIR WORKDIR [--envelope normal|swapped]
                 [--write-doc docs/scenarios.md]
Exit 0 pass, 1 fail, 2 bad arguments, 77 corpus absent.
"""
import argparse
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scen_util as su  # noqa: E402
import bounce_scenarios  # noqa: E402
import corpus  # noqa: E402

SLOTS = ["--detect-slots", "4096"]
FLAGGED = ("legit-bounce", "backscatter", "suspect-bounce", "autoreply", "challenge")


def hint_of(row):
    return bounce_scenarios._hint(row)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("backstop")
    ap.add_argument("corpus_dir")
    ap.add_argument("workdir")
    ap.add_argument("--envelope", choices=["normal", "swapped"], default="normal")
    ap.add_argument("--write-doc")
    a = ap.parse_args()
    if not su.corpus_present(a.corpus_dir):
        return su.SKIP
    os.makedirs(a.workdir, exist_ok=True)
    pcap = os.path.join(a.workdir, "corpus-%s.pcap" % a.envelope)
    truth = os.path.join(a.workdir, "corpus-%s.truth.jsonl" % a.envelope)
    events_path = os.path.join(a.workdir, "corpus-%s.events.jsonl" % a.envelope)
    try:
        if a.envelope == "normal":
            packets, n = corpus.generate(a.corpus_dir, pcap, truth)
        else:
            packets, n = bounce_scenarios.corpus_generate(a.corpus_dir, pcap, truth, "swapped")
        hints = {r["file"]: hint_of(r) for r in corpus.load_manifest(a.corpus_dir)}
        events, counters = su.backstop_events(a.backstop, pcap, events_path, SLOTS)
        pairs, extra = su.joined(truth, events)
    except (OSError, ValueError, RuntimeError, su.compare_events.InputError) as e:
        print("FAIL: %s" % e)
        return 1
    print("corpus-%s: %d packets, %d transactions, %d events" % (a.envelope, packets, n, len(events)))
    fails = []
    missing = [t["_corpus"]["file"] for t, e in pairs if e is None]
    if missing or extra:
        fails.append("%d transactions without an event, %d unexpected events" % (len(missing), len(extra)))
    if counters.get("detect.unparsed_no_slot", "0") != "0":
        fails.append("detect.unparsed_no_slot = %s" % counters["detect.unparsed_no_slot"])

    per_class = collections.defaultdict(collections.Counter)   # class -> verdict class -> n
    groups = collections.defaultdict(lambda: [0, 0])
    for t, e in pairs:
        cls, vc = t["_corpus"]["class"], su.vclass(e)
        per_class[cls][vc] += 1
        if cls == "ndr":
            g = groups[hints.get(t["_corpus"]["file"], "(none)")]
            g[0] += 1
            g[1] += vc in su.BOUNCE_CLASSES
            if vc not in su.BOUNCE_CLASSES:
                print("MISSED ndr %s -> %s %s" % (t["_corpus"]["file"], vc, (e or {}).get("verdict")))
        elif cls in ("ham", "spam") and vc in FLAGGED:
            print("FLAGGED %s %s -> %s %s" % (cls, t["_corpus"]["file"], vc, e["verdict"]))
        elif cls == "autoreply" and vc != "autoreply":
            print("AUTOREPLY-AS %s -> %s" % (t["_corpus"]["file"], vc))
        elif cls == "challenge" and vc != "challenge":
            print("CHALLENGE-AS %s -> %s" % (t["_corpus"]["file"], vc))

    def n_of(cls, classes):
        return sum(per_class[cls][c] for c in classes)

    rows = []
    for cls in ("ndr", "autoreply", "challenge", "ham", "spam"):
        tot = sum(per_class[cls].values())
        rows.append("| %s | %d | %d | %d | %d |" % (cls, tot, n_of(cls, su.BOUNCE_CLASSES),
                                                      per_class[cls]["autoreply"], per_class[cls]["challenge"]))
    nd = sum(per_class["ndr"].values())
    rec = n_of("ndr", su.BOUNCE_CLASSES)
    flagged = n_of("ham", FLAGGED) + n_of("spam", FLAGGED)
    ndr_classes = ", ".join("%s %d" % kv for kv in sorted(per_class["ndr"].items()))
    text = ["Envelope **%s**: %s" % (a.envelope, "ndr with `MAIL FROM:<>`, everything else with an ordinary "
                                     "sender" if a.envelope == "normal" else
                                     "ndr with an ordinary sender, everything else with `<>`"),
            "", "| class | messages | as bounce | as autoreply | as challenge |", "|---|---:|---:|---:|---:|"]
    text += rows
    text += ["", "NDR recall **%.2f%%** (%d/%d); ham and spam flagged as bounce, autoreply or challenge: "
             "**%d**. NDR verdict classes: %s." % (su.pct(rec, nd), rec, nd, flagged, ndr_classes)]
    if a.envelope == "normal":
        text += ["", "| source mail system (manifest hint) | NDRs | recognised | recall |", "|---|---:|---:|---:|"]
        for name, (tot, hit) in sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0])):
            text.append("| %s | %d | %d | %.1f%% |" % (name, tot, hit, su.pct(hit, tot)))
        text.append("| **all** | %d | %d | %.2f%% |" % (nd, rec, su.pct(rec, nd)))
    print("\n".join(text))

    if rec * 1000 < nd * 995 or nd == 0:
        fails.append("ndr recall %.2f%% < 99.5%%" % su.pct(rec, nd))
    if flagged:
        fails.append("%d ham/spam flagged" % flagged)
    if a.envelope == "normal":
        nchal, nauto = sum(per_class["challenge"].values()), sum(per_class["autoreply"].values())
        if per_class["challenge"]["challenge"] != nchal:
            fails.append("challenges recognised %d/%d" % (per_class["challenge"]["challenge"], nchal))
        if per_class["autoreply"]["autoreply"] * 10 < nauto * 9:
            fails.append("auto-replies recognised %d/%d < 90%%" % (per_class["autoreply"]["autoreply"], nauto))
    if a.write_doc:
        # a failed threshold is written too, marked, so the page never
        # shows a better figure than the last run gave
        if fails:
            text += ["", "**Threshold failed:** %s." % "; ".join(fails)]
        try:
            su.write_section(a.write_doc, "recognition-" + a.envelope, "\n".join(text))
        except (OSError, ValueError) as e:
            fails.append(str(e))
    for f in fails:
        print("FAIL: %s" % f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
