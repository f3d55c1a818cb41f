#!/usr/bin/python3
"""Self-test of the capture generator: every variant's capture is read back
with scapy (checksums verified), reassembled and parsed by the independent
oracle, and the result must equal the variant's truth file field by field
(with the same comparison the integration tests use). A generator bug that
makes the truth disagree with the capture fails here, before any backstop
run could be blamed for it.

  selftest.py WORKDIR [VARIANT...]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import compare_events  # noqa: E402
import oracle  # noqa: E402
import variants  # noqa: E402
from smtpgen import direction  # noqa: E402


def check_checksums(pcap, limit=5000):
    from scapy.all import IP, TCP, Ether, IPv6ExtHdrFragment, PcapReader, raw
    bad = 0
    with PcapReader(pcap) as rd:
        for i, p in enumerate(rd):
            if i >= limit:
                break
            if TCP not in p or (IP in p and (p[IP].flags.MF or p[IP].frag)) or IPv6ExtHdrFragment in p:
                continue                 # a fragment: no whole TCP segment to check
            q = p.copy()
            if IP in q:
                del q[IP].chksum
            del q[TCP].chksum
            if raw(Ether(raw(q))) != raw(p):
                bad += 1
    return bad


def event_limits(t):
    """The documented limits of an event (docs/events.md): decoded header
    values keep 511 bytes (cut at a character boundary), 32 recipients are
    listed. Applies them to an oracle transaction; returns ["truncated"]
    when something was cut."""
    cut = False
    for k in ("message_id", "from", "to", "subject", "content_type"):
        v = t["email"].get(k)
        if isinstance(v, str) and len(v.encode()) > 511:
            t["email"][k] = v.encode()[:511].decode("utf-8", "ignore")
            cut = True
    if len(t["smtp"]["rcpt_to"]) + len(t["smtp"]["rcpt_rejected"]) > 32:
        t["smtp"]["rcpt_to"] = t["smtp"]["rcpt_to"][:32]
        cut = True
    return ["truncated"] if cut else []


def oracle_events(pcap, home_nets):
    events = []
    for (cip, cport, sip, sport), (c2s, s2c) in oracle.read_flows(pcap).items():
        midstream = not any(f & 0x02 for _, f, _, _ in c2s + s2c)
        cs, cgap, cmis, cready = oracle.reassemble(c2s)
        ss, sgap, smis, sready = oracle.reassemble(s2c)
        ready = (cready, sready)
        txns, tls_mark, helo = oracle.smtp_transactions(cs, ss, midstream)
        anomalies = (["midstream"] if midstream else []) + (["gap"] if cgap or sgap else []) + \
            (["overlap-mismatch"] if cmis or smis else [])
        if tls_mark and not txns:
            txns = [{"smtp": {"helo": helo, "mail_from": None, "rcpt_to": [], "rcpt_rejected": [],
                              "tls": True, "bdat": False, "transaction": 0},
                     "email": {"message_id": None, "from": None, "to": None, "subject": None,
                               "content_type": None, "size": None},
                     "offered": False, "_mark": tls_mark}]
        for t in txns:
            t["smtp"]["pipelining"] = t.pop("offered")
            extra = ["incomplete"] if t.pop("_incomplete", False) else []
            extra += event_limits(t)
            d, off = t.pop("_mark")
            us = ready[d][off]
            t["timestamp"] = variants.eve_time(us * 1000)
            t.update({"src_ip": cip, "src_port": cport, "dest_ip": sip, "dest_port": sport,
                      "proto": "TCP", "direction": direction(cip, sip, home_nets),
                      "anomalies": anomalies + extra, "event_type": "smtp"})
            events.append(t)
    return events


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    work = argv[1]
    # onebyte-interleaved (455k packets) is too slow for scapy; its parts
    # are checked by "onebyte" and "interleaved". midstream-data starts
    # inside a body that quotes SMTP commands: the oracle's simple reader
    # cannot tell them from commands (that is the point of the variant).
    # timeout: the oracle has no idle timeouts.
    names = argv[2:] or [n for n in variants.VARIANTS
                         if n not in ("onebyte-interleaved", "midstream-data", "timeout")]
    os.makedirs(work, exist_ok=True)
    failed = 0
    for name in names:
        pcap = os.path.join(work, name + ".pcap")
        truth_path = os.path.join(work, name + ".truth.jsonl")
        variants.generate(name, pcap, truth_path, seed=7)
        truth = [o for _, o in compare_events.load_jsonl(truth_path, "truth") if "_meta" not in o]
        for t in truth:
            t.pop("verdict", None)      # detection's business, not the capture's
        bad_ck = check_checksums(pcap)
        matched, problems = compare_events.compare(truth, oracle_events(pcap, variants.HOME_NETS))
        if bad_ck:
            problems.append("%d packets with bad checksums" % bad_ck)
        # The truth must not be vacuous: every variant carries transactions.
        if not truth:
            problems.append("empty truth")
        status = "ok" if not problems else "FAIL"
        print("%-18s %s  %d/%d transactions" % (name, status, matched, len(truth)))
        for p in problems[:20]:
            print("   ", p)
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
