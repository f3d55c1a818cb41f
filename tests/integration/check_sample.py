#!/usr/bin/python3
"""The bundled sample capture (tests/data/sample.pcap) is exactly what the
generator writes for the "sample" variant (so it can be rebuilt and its truth
file is right), and backstop's events on it match that truth: with one
worker, with two (-l 0-1), and from the same packets written as nanosecond
pcap and as pcapng.

  check_sample.py BACKSTOP DATADIR WORKDIR
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gen"))
import compare_events  # noqa: E402
import run_variant  # noqa: E402
import variants  # noqa: E402


def main(argv):
    backstop, data, work = argv[1:4]
    os.makedirs(work, exist_ok=True)
    pcap, truth = os.path.join(work, "sample.pcap"), os.path.join(work, "sample.truth.jsonl")
    variants.generate("sample", pcap, truth, seed=1)
    for name in ("sample.pcap", "sample.truth.jsonl"):
        if open(os.path.join(data, name), "rb").read() != open(os.path.join(work, name), "rb").read():
            print("FAIL: %s/%s differs from the generator's output; regenerate with\n"
                  "  tests/gen/gen_capture.py sample --pcap tests/data/sample.pcap "
                  "--truth tests/data/sample.truth.jsonl" % (data, name))
            return 1
    if os.path.getsize(os.path.join(data, "sample.pcap")) >= 100 * 1024:
        print("FAIL: sample.pcap is over 100 KB")
        return 1
    t = [o for _, o in compare_events.load_jsonl(truth, "truth") if "_meta" not in o]
    failed = False
    # The same packets as nanosecond pcap and as pcapng (tcpdump and
    # Wireshark write both): same events, timestamps included.
    from scapy.utils import PcapNgWriter, rdpcap
    import pcapwriter
    pkts = rdpcap(os.path.join(data, "sample.pcap"))
    nano, ng = os.path.join(work, "sample-ns.pcap"), os.path.join(work, "sample.pcapng")
    with pcapwriter.PcapWriter(nano, nano=True) as w:
        for p in pkts:
            w.write(int(p.time * 1000000) * 1000, bytes(p))
    with PcapNgWriter(ng) as w:
        for p in pkts:
            w.write(p)
    # one worker, then two: the bounce and the outbound message it answers
    # may land on different workers, the verdicts must not change
    runs = [("", os.path.join(data, "sample.pcap"), ""), ("-2w", os.path.join(data, "sample.pcap"), "-l 0-1"),
            ("-ns", nano, ""), ("-pcapng", ng, "")]
    for tag, cap, eal in runs:
        events = os.path.join(work, "sample%s.events.jsonl" % tag)
        rc, err = run_variant.run_backstop(backstop, cap, ["192.0.2.0/24"], events, eal)
        sys.stdout.write(err[-1500:])
        if rc != 0:
            print("FAIL: backstop exited with %d" % rc)
            return 1
        e = [o for _, o in compare_events.load_jsonl(events, "event")]
        matched, problems = compare_events.compare(t, e)
        for p in problems:
            print(p)
        print("sample%s: %d/%d transactions match" % (tag, matched, len(t)))
        failed |= bool(problems) or matched != len(t)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
