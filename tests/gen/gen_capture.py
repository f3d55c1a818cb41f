#!/usr/bin/python3
"""Writes generated SMTP captures and their truth files.

  gen_capture.py VARIANT|all --out DIR [--seed N]
      DIR/VARIANT.pcap and DIR/VARIANT.truth.jsonl for each variant
  gen_capture.py --list
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import variants  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variant", nargs="?", help="variant name or 'all'")
    ap.add_argument("--out", default=".", help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pcap", help="exact pcap path (single variant)")
    ap.add_argument("--truth", help="exact truth path (single variant)")
    ap.add_argument("--list", action="store_true", help="list the variants")
    a = ap.parse_args()
    if a.list:
        print("\n".join(variants.VARIANTS))
        return 0
    if not a.variant:
        ap.error("a variant name or 'all' is required")
    names = list(variants.VARIANTS) if a.variant == "all" else [a.variant]
    for n in names:
        if n not in variants.VARIANTS:
            print("gen_capture: unknown variant %r (--list shows them)" % n, file=sys.stderr)
            return 2
    try:
        os.makedirs(a.out, exist_ok=True)
        for n in names:
            pcap = a.pcap if (a.pcap and len(names) == 1) else os.path.join(a.out, n + ".pcap")
            truth = a.truth if (a.truth and len(names) == 1) else os.path.join(a.out, n + ".truth.jsonl")
            pk, tx = variants.generate(n, pcap, truth, a.seed)
            print("%s: %d packets, %d transactions -> %s" % (n, pk, tx, pcap))
    except OSError as e:
        print("gen_capture: %s: %s" % (e.filename or a.out, e.strerror), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
