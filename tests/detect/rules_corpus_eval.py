#!/usr/bin/python3
"""Rule quality over the labelled corpus (../shared/corpus).

Compiles the rule set into a bundle, scans every corpus message with
`backstopctl rules scan --tsv`, and sums rule weights per kind of evidence:

  bounce     null-sender + dsn-structure + legacy-bounce-text + bounce-header + delay + not-bounce
  autoreply  autoreply + not-bounce
  challenge  challenge-response
  list/mdn   list-response, mdn

A kind is "recognised" when its sum reaches the threshold (100, the rule
language's convention: one strong rule or several weaker ones; see
docs/rules.md). This is the rules' own figure, not the classifier's verdict
(which also has the envelope, the ledger and the DSN parser).

Prints recall per class and per source mail system, and every false
positive. Exit status: 0 when the acceptance bounds hold (--min-ndr-recall,
no ham/spam flagged as bounce/autoreply/challenge, --min-autoreply-recall,
--min-challenge-recall), 1 otherwise, 77 when the corpus is absent.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

BOUNCE_SIGS = {"null-sender", "dsn-structure", "legacy-bounce-text", "bounce-header", "delay", "not-bounce"}
AUTO_SIGS = {"autoreply", "not-bounce"}
THRESHOLD = 100


def source_system(hint):
    """Manifest hint -> short name of the mail system ("postfix", "exim"...)."""
    hint = hint.split(" also-sisimai")[0].split(";also-sisimai")[0]
    if ";" in hint:
        hint = hint.split(";")[-1]
    hint = re.sub(r"^(lhost|rhost)-", "", hint)
    hint = hint.replace("(guess)", "")
    return hint or "unknown"


def load_rules(ctl, bundle):
    out = subprocess.run([ctl, "rules", "dump", bundle], check=True, capture_output=True, text=True).stdout
    rules = {}
    for line in out.splitlines():
        m = re.match(r"^(\d+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s", line)
        if m:
            rules[int(m.group(1))] = (m.group(3), int(m.group(4)), m.group(2))
    return rules


def scan(ctl, bundle, files):
    res = {}
    for i in range(0, len(files), 400):
        chunk = files[i:i + 400]
        p = subprocess.run([ctl, "rules", "scan", "--tsv", bundle] + chunk, capture_output=True, text=True)
        if p.returncode not in (0,):
            sys.stderr.write(p.stderr)
            raise SystemExit("scan failed")
        for line in p.stdout.splitlines():
            path, _, ids = line.partition("\t")
            res[path] = [int(x) for x in ids.split(",") if x]
    return res


HEADER_SIGS = {"null-sender", "bounce-header"}
HEADER_CAP = 60


def kinds(ids, rules):
    """Evidence sums per kind. Envelope and header evidence (null-sender,
    bounce-header) counts at most HEADER_CAP towards a bounce: a forged
    subject and sender alone must not make one (design.md, seeds)."""
    sums = collections.Counter()
    header_ev = 0
    for i in ids:
        sig, w, _ = rules[i]
        if sig in HEADER_SIGS:
            header_ev += w
        elif sig in BOUNCE_SIGS:
            sums["bounce"] += w
        if sig in AUTO_SIGS:
            sums["autoreply"] += w
        if sig == "challenge-response":
            sums["challenge"] += w
        if sig == "list-response":
            sums["list"] += w
        if sig == "mdn":
            sums["mdn"] += w
    sums["bounce"] += min(header_ev, HEADER_CAP)
    return {k for k, v in sums.items() if v >= THRESHOLD}, sums


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backstopctl", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "../../../shared/corpus"))
    ap.add_argument("--min-ndr-recall", type=float, default=0.995)
    ap.add_argument("--min-autoreply-recall", type=float, default=0.95)
    ap.add_argument("--min-challenge-recall", type=float, default=1.0)
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the per-source table as markdown")
    a = ap.parse_args()
    manifest = os.path.join(a.corpus, "manifest.tsv")
    if not os.path.exists(manifest):
        print("corpus not found at %s: skipped" % a.corpus)
        return 77
    rows = []
    with open(manifest, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(header, line.rstrip("\n").split("\t")))
            rows.append(r)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "rules.bsr")
        subprocess.run([a.backstopctl, "rules", "compile", a.rules, "-o", bundle], check=True,
                       capture_output=True)
        rules = load_rules(a.backstopctl, bundle)
        paths = [os.path.join(a.corpus, r["file"]) for r in rows]
        res = scan(a.backstopctl, bundle, paths)

    per_class = collections.defaultdict(lambda: [0, 0])
    per_source = collections.defaultdict(lambda: [0, 0])
    fps, misses = [], []
    rule_hits = collections.Counter()
    for r, p in zip(rows, paths):
        ids = res.get(p, [])
        for i in ids:
            rule_hits[i] += 1
        k, sums = kinds(ids, rules)
        cls = r["class"]
        if cls == "ndr":
            # a list manager's rejection (fml, Google Groups) is an NDR
            # labelled as its own kind
            ok = bool(k & {"bounce", "list"})
            src = source_system(r["mta_or_source_hint"])
            per_source[src][0] += ok
            per_source[src][1] += 1
        elif cls == "autoreply":
            ok = "autoreply" in k and "bounce" not in k
        elif cls == "challenge":
            # challenge systems may dress as DSNs (Boxbe): challenge wins
            ok = "challenge" in k
        else:
            ok = not (k & {"bounce", "autoreply", "challenge"})
            if not ok:
                fps.append((r["file"], sorted(k), ids))
        per_class[cls][0] += ok
        per_class[cls][1] += 1
        if not ok and cls not in ("ham", "spam"):
            misses.append((r["file"], r["mta_or_source_hint"], dict(sums), ids))

    print("class       correct/total  rate   (ndr: bounce recognised; autoreply/challenge: own kind; ham/spam: not flagged)")
    for cls in ("ndr", "autoreply", "challenge", "ham", "spam"):
        c, t = per_class[cls]
        print("%-10s %6d/%-6d %7.2f%%" % (cls, c, t, 100.0 * c / t if t else 0))
    print()
    if a.markdown:
        print("| source mail system | recognised | total | recall |\n|---|---:|---:|---:|")
    else:
        print("ndr recall per source mail system:")
    for src, (c, t) in sorted(per_source.items(), key=lambda x: (-x[1][1], x[0])):
        if a.markdown:
            print("| %s | %d | %d | %.1f%% |" % (src, c, t, 100.0 * c / t))
        else:
            print("  %-28s %4d/%-4d %6.1f%%" % (src, c, t, 100.0 * c / t))
    print()
    for f, k, ids in fps:
        print("FALSE POSITIVE %s kinds=%s rules=%s" % (f, k, ids))
    if a.show_misses:
        for f, hint, sums, ids in misses:
            print("MISS %s (%s) sums=%s rules=%s" % (f, hint, sums, ids))
    unused = sorted(set(rules) - set(rule_hits))
    print("rules never matched on this corpus: %d of %d" % (len(unused), len(rules)))

    ndr_c, ndr_t = per_class["ndr"]
    ok = ndr_t and ndr_c / ndr_t >= a.min_ndr_recall and not fps
    for cls, bound in (("autoreply", a.min_autoreply_recall), ("challenge", a.min_challenge_recall)):
        c, t = per_class[cls]
        if t and c / t < bound:
            ok = False
    print("RESULT: %s" % ("pass" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
