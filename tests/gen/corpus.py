#!/usr/bin/python3
"""SMTP sessions that carry the real messages of ../shared/corpus, as a
capture plus truth file (library and CLI).

Each message becomes one inbound session (outside client -> home server
192.0.2.0/24 / port 25): the envelope sender is "" for class ndr (bounces
travel with the null reverse-path) and sender<N>@corpus.example otherwise;
one recipient. Every 5th message goes with BDAT (in 1-3 chunks cut at
arbitrary offsets, header block included), the others with DATA and
dot-stuffing.

Wire form of a message: a leading mbox "From " line is removed; CRLF, LF
and lone CR line ends all become CRLF (the SMTP wire format); a final CRLF
is added when missing. The truth describes exactly those bytes:
  email.message_id / email.subject: the first Message-ID / Subject field of
  the top-level header block (case-insensitive name), unfolded; Subject
  RFC 2047-decoded with email.header.decode_header/make_header;
  email.size: the wire-form length.
Truth entries carry "_corpus": {"file", "class"} for reports.

  corpus.py CORPUS_DIR OUT.pcap OUT.truth.jsonl [--limit N] [--class C]
"""
import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oracle  # noqa: E402
import variants  # noqa: E402
from smtpgen import Message, SmtpSession, Txn  # noqa: E402


def wire_form(raw):
    """Line ends of a message (mbox line already removed) as on the wire."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return raw


def _strip_mbox(raw):
    if not raw.startswith(b"From "):
        return raw
    ends = [i for i in (raw.find(b"\n"), raw.find(b"\r")) if i >= 0]
    if not ends:
        return b""
    i = min(ends)
    if raw[i:i + 2] == b"\r\n":
        return raw[i + 2:]
    return raw[i + 1:]


def load_manifest(corpus_dir):
    path = os.path.join(corpus_dir, "manifest.tsv")
    rows = []
    with open(path, encoding="utf-8") as f:
        cols = f.readline().rstrip("\n").split("\t")
        for n, line in enumerate(f, 2):
            vals = line.rstrip("\n").split("\t")
            if len(vals) < 2:
                raise ValueError("%s:%d: expected %d tab-separated columns" % (path, n, len(cols)))
            rows.append(dict(zip(cols, vals)))
    return rows


class _Raw(Message):
    """A message given as wire-form bytes; truth from oracle.header_facts."""

    def __init__(self, raw):
        self.raw = raw
        f = oracle.header_facts(raw)
        # what the corpus replay checks (see the module doc)
        self.truth = {k: f[k] for k in ("message_id", "subject", "size")}


def build(corpus_dir, limit=None, only_class=None, seed=5):
    g = variants.Gen(seed, "corpus")
    rng = g.rng
    rows = load_manifest(corpus_dir)
    if only_class:
        rows = [r for r in rows if r["class"] == only_class]
    if limit:
        rows = rows[:limit]
    built = []
    for i, r in enumerate(rows):
        with open(os.path.join(corpus_dir, r["file"]), "rb") as f:
            raw = wire_form(_strip_mbox(f.read()))
        msg = _Raw(raw)
        sender = "" if r["class"] == "ndr" else "sender%d@corpus.example" % i
        if i % 5 == 4:
            n = len(raw)
            cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randrange(0, 3))))
            chunks = [b - a for a, b in zip([0] + cuts, cuts + [n])]
            txn = Txn(sender, [("rcpt%d@home.example" % i, 250)], msg, mode="bdat", chunks=chunks)
        else:
            txn = Txn(sender, [("rcpt%d@home.example" % i, 250)], msg)
        s = g.plain_session("inbound", txns=[txn], body_seg=rng.choice([1460, 1460, 536]))
        for t in s.truth:
            t["_corpus"] = {"file": r["file"], "class": r["class"]}
        built.append(variants.Built(s, s.conv.segments()))
    return g, built


def generate(corpus_dir, pcap, truth, limit=None, only_class=None):
    g, built = build(corpus_dir, limit, only_class)
    packets = variants.write_capture(pcap, built, g.rng, interleave=True)
    n = variants.write_truth(truth, "corpus", built, packets)
    return packets, n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus_dir")
    ap.add_argument("pcap")
    ap.add_argument("truth")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--class", dest="cls")
    a = ap.parse_args()
    try:
        p, n = generate(a.corpus_dir, a.pcap, a.truth, a.limit, a.cls)
    except (OSError, ValueError) as e:
        print("corpus: %s" % e, file=sys.stderr)
        return 2
    print("corpus: %d packets, %d transactions -> %s" % (p, n, a.pcap))
    return 0


if __name__ == "__main__":
    sys.exit(main())
